#!/usr/bin/env bash
# A real Prometheus (Debian's prometheus package) on loopback scrapes the running apps with Playlog's
# rules loaded, then ops/lib/prom_checks.py queries it. Used by ops/check.sh; standalone:
#   bash ops/scrape-test.sh http://127.0.0.1:INGEST_PORT http://127.0.0.1:LOADER_PORT http://127.0.0.1:INGEST_METRICS_PORT
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ingest="${1:?ingest URL}" loader="${2:?loader URL}" ingest_metrics="${3:?ingest metrics URL (METRICS_PORT)}"
py="${PY:-$REPO/.stack/tools/venv/bin/python}"
dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
prom_pid=""
cleanup() { [[ -n $prom_pid ]] && kill "$prom_pid" 2>/dev/null && wait "$prom_pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

cat >"$dir/prometheus.yml" <<YAML
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: ['$REPO/ops/prometheus/playlog.rules.yaml']
scrape_configs:
  - job_name: ingest
    static_configs: [{ targets: ['${ingest_metrics#http://}'] }]
  - job_name: loader
    static_configs: [{ targets: ['${loader#http://}'] }]
YAML
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
  --web.listen-address="127.0.0.1:$port" >"$dir/prometheus.log" 2>&1 &
prom_pid=$!

deadline=$((SECONDS + 30))
until curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; do
  if ((SECONDS > deadline)) || ! kill -0 "$prom_pid" 2>/dev/null; then
    echo "FAIL prometheus: did not start"; tail -20 "$dir/prometheus.log" | sed 's/^/    /'; exit 1
  fi
  sleep 0.5
done
# API traffic for the request-rate rules (unauthenticated: 401s, which count as requests), then a few
# scrapes and rule evaluations.
for _ in 1 2 3 4 5; do curl -s -o /dev/null -X POST "$ingest/v1/play-logs"; sleep 1; done
# The loader publishes lag every 10 s: wait for its first figures to be scraped.
deadline=$((SECONDS + 30))
until curl -fsS "$loader/metrics" | grep -q '^playlog_loader_consumer_lag_messages{'; do
  ((SECONDS < deadline)) || break
  sleep 1
done
sleep 3
"$py" "$REPO/ops/lib/prom_checks.py" "http://127.0.0.1:$port"
