#!/usr/bin/env bash
# Reproduces bench/reporter/RESULTS.md (no npm needed to start it): bash bench/reporter/run.sh
# Settings are BENCH_* environment variables (see the cfg block of bench/reporter/bench.mjs, and
# bench/lib/run-bench.sh for BENCH_STACK). Prints progress, then the tables; also writes
# bench/reporter/out/results.{md,json}.
exec bash "$(dirname "${BASH_SOURCE[0]}")/../lib/run-bench.sh" reporter
