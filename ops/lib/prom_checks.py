#!/usr/bin/env python3
"""Queries a running Prometheus that scrapes the real apps with Playlog's rules loaded.

usage: prom_checks.py PROMETHEUS_URL
Checks: both targets up; every rule evaluates without error; the recording rules and one alert
expression return data; every dashboard query is valid PromQL. Prints PASS/FAIL lines.
"""
import json
import pathlib
import sys
import urllib.parse
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
BASE = sys.argv[1].rstrip("/")


def api(path, **params):
    url = f"{BASE}/api/v1/{path}" + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


results = []


def check(name, problems):
    results.append((name, [p for p in problems if p]))


targets = api("targets")["data"]["activeTargets"]
health = {t["labels"]["job"]: t["health"] for t in targets}
check("prometheus: scrapes ingest and loader (targets up)",
      [f"{j}: {health.get(j, 'missing')}" for j in ("ingest", "loader") if health.get(j) != "up"])

groups = api("rules")["data"]["groups"]
rules = [r for g in groups for r in g["rules"]]
bad = [f"{r['name']}: {r.get('lastError')}" for r in rules if r.get("health") != "ok"]
check(f"prometheus: all {len(rules)} rules from ops/prometheus/playlog.rules.yaml evaluate without error", bad)

probs = []
for expr in ("playlog:http_requests:rate5m", "playlog:loader_consumer_lag:sum", "playlog:loader_consumer_lag:max_by_partition",
             'time() - max by (namespace, pod) (playlog_loader_last_tick_timestamp_seconds{job="loader"})'):
    r = api("query", query=expr)
    if r["status"] != "success":
        probs.append(f"{expr}: {r.get('error')}")
    elif not r["data"]["result"]:
        probs.append(f"{expr}: no data")
stall = api("query", query='time() - max(playlog_loader_last_tick_timestamp_seconds{job="loader"})')["data"]["result"]
if stall and float(stall[0]["value"][1]) > 120:
    probs.append(f"loader looks stalled: last tick {stall[0]['value'][1]} s ago")
check("prometheus: recording rules and the PlaylogLoaderStalled expression return data from the live apps", probs)

dash = json.loads((REPO / "ops/grafana/playlog.json").read_text())
exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", []) if t.get("expr")]
probs, with_data = [], 0
for e in exprs:
    q = e.replace("$__rate_interval", "1m").replace("$__range", "1h").replace("$namespace", ".*")
    r = api("query", query=q)
    if r["status"] != "success":
        probs.append(f"{e}: {r.get('error')}")
    elif r["data"]["result"]:
        with_data += 1
check(f"prometheus: all {len(exprs)} dashboard queries are valid PromQL ({with_data} return data here; "
      f"kube-state-metrics ones cannot)", probs)

for name, problems in results:
    print(("PASS " if not problems else "FAIL ") + name)
    for p in problems:
        print(f"    - {p}")
sys.exit(0 if all(not p for _, p in results) else 1)
