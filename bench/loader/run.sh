#!/usr/bin/env bash
# Reproduces bench/loader/RESULTS.md (no npm needed to start it): bash bench/loader/run.sh
# Settings are BENCH_* environment variables (see the cfg block of bench/loader/bench.mjs, and
# bench/lib/run-bench.sh for BENCH_STACK). Prints progress, then the tables; also writes
# bench/loader/out/results.{md,json}.
exec bash "$(dirname "${BASH_SOURCE[0]}")/../lib/run-bench.sh" loader
