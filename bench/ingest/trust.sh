#!/usr/bin/env bash
# Reproduces bench/ingest/RESULTS.md's issue-27 section: what TLS and authentication cost ingest (~6 min).
# Settings: BENCH_* environment variables (the cfg block of bench/ingest/trust.mjs).
exec bash "$(dirname "${BASH_SOURCE[0]}")/../lib/run-bench.sh" ingest/trust
