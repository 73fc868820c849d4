#!/usr/bin/env bash
# `npm run demo`: the whole pipeline on the local stack with a realistic demo day of plays.
# Installs what is missing, starts the stack, builds, migrates, starts ingest and loader, sends
# yesterday's plays (UTC) through the HTTP API, runs the reporter for that day (it waits until every
# play acknowledged before it started is in Postgres), prints where the reports are, and stops the two
# services. Safe to run twice: the demo plays are seeded, so a second run sends the same plays, they
# are deduplicated, and the report is unchanged.
# PLAYLOG_TOPOLOGY=two-site runs it across the sites: ingest at the edge (3 brokers), the loader and
# reporter at the core, MirrorMaker 2 carrying the plays over and the API keys back.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOPOLOGY=${PLAYLOG_TOPOLOGY:-single}
PLAYS=${DEMO_PLAYS:-20000}
INGEST_PORT=${PORT:-8080}
METRICS_PORT=${METRICS_PORT:-9464}
LOADER_PORT=${LOADER_PORT:-9091}
DEMO_DIR=.stack/demo/$TOPOLOGY
say() { echo "demo: $*"; }
stack() { bash tools/stack/stack.sh "$@"; }

bash tools/setup.sh
stack up
# The settings of each site's apps: one site, both from `env`; two sites, ingest at the edge, the rest at the core.
# (VAR=value words for env(1): a service started with `env … node … &` is the process $! names.)
# `env` quotes a value with shell characters (DATABASE_URL's query): one word each, quotes dropped.
words() { sed -e 's/^export //' -e "s/='\(.*\)'$/=\1/"; }
if [[ $TOPOLOGY == two-site ]]; then
  mapfile -t CORE_VARS < <(stack env core | words)
  mapfile -t EDGE_VARS < <(stack env edge | words)
else
  mapfile -t CORE_VARS < <(stack env | words)
  EDGE_VARS=("${CORE_VARS[@]}")
fi
core() { env "${CORE_VARS[@]}" "$@"; }
core npm run -s migrate

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
  for _ in $(seq 1 300); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "demo: $2 did not become ready; it says: $(curl -sS "$1" 2>&1); last lines of $3:" >&2
  tail -n 30 "$3" >&2
  return 1
}

# One demo key, kept under .stack/ (the database stores only its hash). The keys CLI publishes it to the
# key feed, which ingest reads (in two sites, through MirrorMaker).
KEY_FILE="$DEMO_DIR/api-key"
new_key() { core npm run -s keys -- create --client demo --name demo | tail -n 1 >"$KEY_FILE"; }
# A key file from before `npm run stack -- reset` names a key the new database has never had.
active_demo_keys() { core npm run -s keys -- list | awk -F'\t' 'NR > 1 && $2 == "demo" && $6 == ""' | wc -l; }
if [[ ! -s $KEY_FILE ]]; then
  new_key
elif [[ $(active_demo_keys) -eq 0 ]]; then
  say "the database has no demo key (the stack was reset?): creating a new one"
  new_key
fi

# The loader first: it publishes the key feed's heartbeat, which ingest waits for to be ready.
env "${CORE_VARS[@]}" LOADER_PORT="$LOADER_PORT" LOG_LEVEL=warn node apps/loader/dist/bundle/main.js >"$DEMO_DIR/loader.log" 2>&1 &
echo $! >"$DEMO_DIR/loader.pid"
env "${EDGE_VARS[@]}" PORT="$INGEST_PORT" METRICS_PORT="$METRICS_PORT" LOG_LEVEL=warn node apps/ingest/dist/main.js >"$DEMO_DIR/ingest.log" 2>&1 &
echo $! >"$DEMO_DIR/ingest.pid"
wait_ready "http://127.0.0.1:$LOADER_PORT/readyz" loader "$DEMO_DIR/loader.log"
wait_ready "http://127.0.0.1:$INGEST_PORT/readyz" ingest "$DEMO_DIR/ingest.log"
say "ingest on http://127.0.0.1:$INGEST_PORT (API docs at /docs, metrics on :$METRICS_PORT), loader probes and metrics on :$LOADER_PORT"
[[ $TOPOLOGY == two-site ]] && say "two sites: ingest writes to the edge cluster; MirrorMaker carries the plays to the core, where the loader and reporter run"

# A key that the feed has not carried yet answers 401 for a moment: wait until ingest knows it.
key_known() {
  for _ in $(seq 1 150); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$KEY_FILE")" "http://127.0.0.1:$INGEST_PORT/v1/key") == 200 ]] && return 0
    sleep 0.2
  done
  return 1
}
say "waiting for ingest to learn the demo key from the key feed"
if ! key_known; then
  # Not ours any more (revoked, or another database's): a new one, once.
  say "ingest still answers 401 for the key in $KEY_FILE after 30 s: creating a new demo key"
  new_key
  key_known || {
    echo "demo: ingest does not accept the new demo key either; see $DEMO_DIR/ingest.log and $DEMO_DIR/loader.log" >&2
    exit 1
  }
fi

DAY=$(date -u -d yesterday +%F)
say "sending $PLAYS plays for $DAY through POST /v1/play-logs (and a few through the 7digital route)"
npm run -s loadgen -- --url "http://127.0.0.1:$INGEST_PORT" --key "$(cat "$KEY_FILE")" --day "$DAY" --plays "$PLAYS" \
  --rate 0 --batch 500 --concurrency 4 --seed 42
npm run -s loadgen -- --url "http://127.0.0.1:$INGEST_PORT" --key "$(cat "$KEY_FILE")" --day "$DAY" --plays 200 \
  --rate 0 --batch 20 --route v12 --seed 43

say "running the reporter for $DAY (it waits until every play acknowledged before it started is in Postgres)"
# Each topology has its own database, so its own reports folder.
[[ $TOPOLOGY == two-site ]] && REPORT_DIR=${REPORT_DIR:-./reports-two-site} || REPORT_DIR=${REPORT_DIR:-./reports}
# Yesterday has closed from midnight on: no clock-skew wait for a demo run in the first minutes of a day.
core REPORT_DIR="$REPORT_DIR" CLOCK_SKEW_SECONDS=0 npm run -s reporter -- run --date "$DAY" --wait 300

latest=$(ls -d "$REPORT_DIR/demo/$DAY"/v* | sort -V | tail -n 1)
echo
say "reports for $DAY are in $latest:"
ls -l "$latest"
echo
say "daily-usage.csv, first lines:"
head -n 6 "$latest/daily-usage.csv"
echo
say "totals: $(awk -F, 'NR>1 {s+=$8; r+=$9; sec+=$11} END {printf "%d streams, %d royalty-bearing, %d seconds played", s, r, sec}' "$latest/daily-usage.csv")"
if [[ $TOPOLOGY == two-site ]]; then
  t="PLAYLOG_TOPOLOGY=two-site "
  again="eval \"\$(${t}npm run -s stack -- env edge)\" && PORT=$INGEST_PORT METRICS_PORT=$METRICS_PORT npm run ingest; in another shell eval \"\$(${t}npm run -s stack -- env core)\" && LOADER_PORT=$LOADER_PORT npm run loader"
else
  t=""
  again="eval \"\$(npm run -s stack -- env)\" && PORT=$INGEST_PORT METRICS_PORT=$METRICS_PORT npm run ingest; in another shell the same eval && LOADER_PORT=$LOADER_PORT npm run loader"
fi
say "done ($TOPOLOGY topology). The stack keeps running (${t}npm run stack -- down stops it)."
say "to start the services again: $again"
