#!/usr/bin/env bash
# Reproduces bench/ingest/RESULTS.md (no npm needed to start it): bash bench/ingest/run.sh
# Settings are BENCH_* environment variables (see the cfg block of bench/ingest/bench.mjs, and
# bench/lib/run-bench.sh for BENCH_STACK). Prints progress, then the tables; also writes
# bench/ingest/out/results.{md,json}.
exec bash "$(dirname "${BASH_SOURCE[0]}")/../lib/run-bench.sh" ingest
