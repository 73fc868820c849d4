#!/usr/bin/env bash
# CPU profiles of the built ingest under load, one per route: bash bench/ingest/profile.sh
# Writes bench/ingest/out/profile.md (and the .cpuprofile files under bench/ingest/out/prof-*).
exec bash "$(dirname "${BASH_SOURCE[0]}")/../lib/run-bench.sh" ingest/profile
