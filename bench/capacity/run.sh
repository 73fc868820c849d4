#!/usr/bin/env bash
# Reproduces bench/capacity/RESULTS.md: bash bench/capacity/run.sh
# Needs the two-site stack (PLAYLOG_TOPOLOGY=two-site npm run stack -- up) and a built workspace; it
# uses fresh topics (MirrorMaker's flows take the -t- test topics) and a fresh database at the core, and
# takes the link down and up once. Prints the figures; also writes bench/capacity/out/results.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
PLAYLOG_TOPOLOGY=two-site bash tools/stack/stack.sh status >/dev/null || {
  echo "bench/capacity: the two-site stack is not (all) up: PLAYLOG_TOPOLOGY=two-site npm run stack -- up" >&2; exit 1; }
export KAFKA_BROKERS=127.0.0.1:49092 DATABASE_URL=postgres://playlog:playlog@127.0.0.1:45432/playlog
exec node bench/capacity/measure.mjs
