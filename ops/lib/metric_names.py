#!/usr/bin/env python3
"""Every metric named in the alert rules, the dashboard and the prometheus-adapter rules must exist.

usage: metric_names.py INGEST_METRICS.txt LOADER_METRICS.txt
The two files are real /metrics output of the built apps. Names from other exporters are allowed only
if listed in EXTERNAL; recording-rule names (with ':') must be recorded in the rules file.
Prints PASS/FAIL lines.
"""
import json
import pathlib
import re
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
EXTERNAL = {  # name -> who exports it
    "up": "Prometheus (scrape health)",
    "ALERTS": "Prometheus (alert state)",
    "kube_job_status_failed": "kube-state-metrics",
    "kube_job_status_succeeded": "kube-state-metrics",
    "kube_job_status_active": "kube-state-metrics",
    "kube_job_status_start_time": "kube-state-metrics",
    "kube_cronjob_status_last_successful_time": "kube-state-metrics",
}
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    "inf", "nan", "atan2", "le", "start", "end",
}
SUFFIXES = {"histogram": ["_bucket", "_count", "_sum"], "summary": ["", "_count", "_sum"], "counter": [""], "gauge": [""], "untyped": [""]}


def exported(*files):
    names = set()
    for f in files:
        for m in re.finditer(r"^# TYPE (\S+) (\w+)", pathlib.Path(f).read_text(), re.M):
            names |= {m.group(1) + s for s in SUFFIXES.get(m.group(2), [""])}
    return names


def metric_names(expr):
    """Metric names in a PromQL (or Grafana-templated PromQL) expression."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    e = re.sub(r"\{[^}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)  # ranges, subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)  # label lists
    e = re.sub(r"<<[^>]*>>", " x ", e)  # prometheus-adapter templates
    e = re.sub(r"label_values\(([^,()]+),[^)]*\)", r" \1 ", e)  # Grafana's label_values(metric, label)
    e = re.sub(r"\$\{?\w+\}?", " ", e)  # Grafana variables
    found = set()
    for m in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", e):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in KEYWORDS or re.fullmatch(r"\d+[smhdwy]", name):
            continue
        found.add(name)
    return found


def main():
    have = exported(sys.argv[1], sys.argv[2])
    rules = yaml.safe_load((REPO / "ops/prometheus/playlog.rules.yaml").read_text())
    recorded = {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    sources = {
        "ops/prometheus/playlog.rules.yaml": [r["expr"] for g in rules["groups"] for r in g["rules"]],
        "ops/grafana/playlog.json": [],
        "ops/prometheus/adapter-rules.yaml": [],
    }
    dash = json.loads((REPO / "ops/grafana/playlog.json").read_text())

    def walk(panels):
        for p in panels:
            yield p
            yield from walk(p.get("panels", []))

    sources["ops/grafana/playlog.json"] = [t["expr"] for p in walk(dash["panels"]) for t in p.get("targets", []) if t.get("expr")]
    sources["ops/grafana/playlog.json"] += [v["definition"] for v in dash["templating"]["list"] if v.get("definition")]
    adapter = yaml.safe_load((REPO / "ops/prometheus/adapter-rules.yaml").read_text())
    sources["ops/prometheus/adapter-rules.yaml"] = [r["seriesQuery"] for sect in adapter.values() for r in sect]
    failed = 0
    for src, exprs in sources.items():
        used = set().union(*map(metric_names, exprs)) if exprs else set()
        unknown = sorted(n for n in used if n not in have and n not in EXTERNAL and not (":" in n and n in recorded))
        ext = sorted(n for n in used if n in EXTERNAL)
        ok = not unknown and exprs
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} metrics: {len(used)} metric names in {src} ({len(exprs)} expressions) exist in the apps' "
              f"/metrics{' or come from ' + ', '.join(sorted({EXTERNAL[n] for n in ext})) if ext else ''}")
        for n in unknown:
            print(f"    - {n}: not exported by ingest or loader, not recorded by the rules, not a known external metric")
        if not exprs:
            print("    - no expressions found")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
