#!/usr/bin/env bash
# `npm run demo`: the whole pipeline on the local stack with a realistic demo day of plays.
# Installs what is missing, starts Kafka + PostgreSQL, builds, migrates, starts ingest and loader,
# sends yesterday's plays (UTC) through the HTTP API, waits for the loader, runs the reporter for that
# day, prints where the reports are, and stops the two services. Safe to run twice: the demo plays are
# seeded, so a second run sends the same plays, they are deduplicated, and the report is unchanged.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PLAYS=${DEMO_PLAYS:-20000}
INGEST_PORT=${PORT:-8080}
LOADER_PORT=${LOADER_PORT:-9091}
DEMO_DIR=.stack/demo
say() { echo "demo: $*"; }

bash tools/setup.sh
bash tools/stack/stack.sh up
eval "$(bash tools/stack/stack.sh env)"
npm run -s migrate

mkdir -p "$DEMO_DIR"
stop_services() {
  for svc in ingest loader; do
    local pidfile="$DEMO_DIR/$svc.pid"
    if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      kill -TERM "$(cat "$pidfile")" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.2; done
    fi
    rm -f "$pidfile"
  done
}
stop_services # left over from an interrupted run
trap 'stop_services' EXIT

wait_ready() { # url name log
  for _ in $(seq 1 150); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "demo: $2 did not become ready; last lines of $3:" >&2
  tail -n 30 "$3" >&2
  return 1
}

PORT=$INGEST_PORT LOG_LEVEL=warn node apps/ingest/dist/main.js >"$DEMO_DIR/ingest.log" 2>&1 &
echo $! >"$DEMO_DIR/ingest.pid"
LOADER_PORT=$LOADER_PORT LOG_LEVEL=warn node apps/loader/dist/main.js >"$DEMO_DIR/loader.log" 2>&1 &
echo $! >"$DEMO_DIR/loader.pid"
wait_ready "http://127.0.0.1:$INGEST_PORT/readyz" ingest "$DEMO_DIR/ingest.log"
wait_ready "http://127.0.0.1:$LOADER_PORT/readyz" loader "$DEMO_DIR/loader.log"
say "ingest on http://127.0.0.1:$INGEST_PORT (API docs at /docs, metrics on :${METRICS_PORT:-9464}), loader probes and metrics on :$LOADER_PORT"

# One demo key, kept under .stack/ (the database stores only its hash).
KEY_FILE="$DEMO_DIR/api-key"
if [[ ! -s $KEY_FILE ]] || [[ $(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$INGEST_PORT/v1/play-logs" \
  -H "Authorization: Bearer $(cat "$KEY_FILE")" -H 'content-type: application/json' -d '{"plays":[{}]}') == 401 ]]; then
  npm run -s keys -- create --client demo --name demo | tail -n 1 >"$KEY_FILE"
fi

DAY=$(date -u -d yesterday +%F)
say "sending $PLAYS plays for $DAY through POST /v1/play-logs (and a few through the 7digital route)"
npm run -s loadgen -- --url "http://127.0.0.1:$INGEST_PORT" --key "$(cat "$KEY_FILE")" --day "$DAY" --plays "$PLAYS" \
  --rate 0 --batch 500 --concurrency 4 --seed 42
npm run -s loadgen -- --url "http://127.0.0.1:$INGEST_PORT" --key "$(cat "$KEY_FILE")" --day "$DAY" --plays 200 \
  --rate 0 --batch 20 --route v12 --seed 43

say "running the reporter for $DAY (it waits until the loader has caught up with the topic)"
REPORT_DIR=${REPORT_DIR:-./reports} npm run -s reporter -- run --date "$DAY" --wait 300

latest=$(ls -d "${REPORT_DIR:-./reports}/demo/$DAY"/v* | sort -V | tail -n 1)
echo
say "reports for $DAY are in $latest:"
ls -l "$latest"
echo
say "daily-usage.csv, first lines:"
head -n 6 "$latest/daily-usage.csv"
echo
say "totals: $(awk -F, 'NR>1 {s+=$8; r+=$9; sec+=$11} END {printf "%d streams, %d royalty-bearing, %d seconds played", s, r, sec}' "$latest/daily-usage.csv")"
say "done. The stack keeps running (npm run stack -- down to stop it); npm run ingest / npm run loader start the services again."
