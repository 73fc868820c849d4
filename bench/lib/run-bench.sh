#!/usr/bin/env bash
# Runs one benchmark: bash bench/lib/run-bench.sh ingest|loader|reporter|ingest/profile (the run.sh files call this).
#
# By default the benchmark gets its own Kafka + Postgres, started with tools/stack/stack.sh on other
# ports (39092/39093, 35432; under the git-ignored bench/out/stack), stopped and wiped at the end: the
# shared stack on 19092/15432 is stopped and restarted by other engineers' fault tests, which would
# break a run half-way. BENCH_STACK=shared uses the shared stack instead (it must be up);
# BENCH_KEEP_STACK=1 leaves the private one running. Installs only what is missing and is not shared:
# autocannon in bench/node_modules, psql and /usr/bin/time (the workspace itself: bash tools/setup.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
name=$1

# The workspace's packages and build are shared with other engineers: never install over an install in
# progress (two `npm ci` at once break each other): wait for one that is running.
installing() { pgrep -f -x 'npm (ci|install)( .*)?' >/dev/null || pgrep -f 'tools/setup.sh' >/dev/null; }
ready() {
  [[ -f node_modules/node-rdkafka/build/Release/node-librdkafka.node ]] && for f in apps/{ingest,loader,reporter}/dist/main.js tools/loadgen/dist/plays.js; do
    [[ -f $f ]] || return 1
  done
}
for _ in $(seq 1 180); do
  installing || break
  echo "bench: waiting for an npm install in progress to finish" >&2
  sleep 5
done
# Never installs by itself (a second `npm ci` racing someone else's breaks both): says what to run.
ready || { echo "bench: the workspace is not installed and built: run bash tools/setup.sh (or npm run setup), then again" >&2; exit 1; }
[[ -d bench/node_modules/autocannon ]] || npm ci --prefix bench --no-audit --no-fund --loglevel=error
command -v psql >/dev/null || { apt-get update -qq && apt-get install -y -qq postgresql-client; }
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time; }

if [[ ${BENCH_STACK:-private} == private ]]; then
  export PLAYLOG_STACK_DIR="$PWD/bench/out/stack"
  export PLAYLOG_KAFKA_PORT=${BENCH_KAFKA_PORT:-39092} PLAYLOG_KAFKA_CONTROLLER_PORT=${BENCH_KAFKA_CONTROLLER_PORT:-39093}
  export PLAYLOG_PG_PORT=${BENCH_PG_PORT:-35432}
  # The private stack also takes plaintext without authentication (Kafka on this extra port, Postgres on its
  # own): the baseline the benches measure what TLS and authentication cost against (issue 27). The
  # shared stack never does (tools/stack/lib.sh refuses it there).
  export PLAYLOG_BENCH_PLAINTEXT_PORT=${BENCH_PLAINTEXT_PORT:-39094} BENCH_PLAINTEXT_PORT=${BENCH_PLAINTEXT_PORT:-39094}
  # Reuse the Kafka jars the shared stack already fetched, if any (else stack.sh fetches them via Maven).
  if [[ ! -d $PLAYLOG_STACK_DIR/kafka/libs && -f .stack/kafka/libs/.pom.cksum ]]; then
    mkdir -p "$PLAYLOG_STACK_DIR/kafka" && cp -a .stack/kafka/libs "$PLAYLOG_STACK_DIR/kafka/"
  fi
  # At the end: stop it and delete its data (~1 GB after a reporter run), keeping only the Kafka jars.
  if [[ ${BENCH_KEEP_STACK:-0} != 1 ]]; then
    trap 'bash tools/stack/stack.sh down >/dev/null 2>&1 || true; rm -rf "$PLAYLOG_STACK_DIR/pg" "$PLAYLOG_STACK_DIR/kafka/data" "$PLAYLOG_STACK_DIR/kafka/logs"' EXIT
  fi
  bash tools/stack/stack.sh up >/dev/null
else
  bash tools/stack/stack.sh status >/dev/null || { echo "bench: the shared stack is not up (npm run stack -- up)" >&2; exit 1; }
fi
eval "$(bash tools/stack/stack.sh env)"
export KAFKA_BROKERS DATABASE_URL PLAYLOG_CREDENTIALS_DIR
echo "bench: $name against Kafka $KAFKA_BROKERS and Postgres ${DATABASE_URL%%/playlog}/…"
script="bench/$name/bench.mjs"; [[ $name == */* ]] && script="bench/$name.mjs" # e.g. ingest/profile
timeout --kill-after=30 "${BENCH_TIMEOUT_SECONDS:-1900}" node "$script"
