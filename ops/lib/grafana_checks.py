#!/usr/bin/env python3
"""Structural checks of ops/grafana/playlog.json and its provisioning (docker/grafana, docker/compose.yaml).
Prints PASS/FAIL lines. (Queries are checked against a live Prometheus by prom_checks.py.)"""
import json
import pathlib
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
probs = []
try:
    dash = json.loads((REPO / "ops/grafana/playlog.json").read_text())
except ValueError as e:
    print(f"FAIL grafana: ops/grafana/playlog.json is not JSON: {e}")
    sys.exit(1)
for k in ("uid", "title", "panels", "schemaVersion"):
    if k not in dash:
        probs.append(f"no {k}")
ids = [p["id"] for p in dash.get("panels", [])]
if len(ids) != len(set(ids)):
    probs.append("panel ids are not unique")
variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
if variables.get("datasource", {}).get("type") != "datasource" or variables["datasource"].get("query") != "prometheus":
    probs.append("no Prometheus datasource variable `datasource`")
for p in dash.get("panels", []):
    if p["type"] == "row":
        continue
    if p.get("datasource", {}).get("uid") != "${datasource}":
        probs.append(f"panel {p['title']!r} does not use the datasource variable")
    if not p.get("targets") or any(not t.get("expr") for t in p["targets"]):
        probs.append(f"panel {p['title']!r} has a target without a query")
    g = p.get("gridPos", {})
    if g.get("x", 0) + g.get("w", 0) > 24:
        probs.append(f"panel {p['title']!r} is wider than the grid")
# Provisioning: compose mounts ops/grafana under the dashboards provider's path.
prov = yaml.safe_load((REPO / "docker/grafana/provisioning/dashboards/playlog.yaml").read_text())
path = prov["providers"][0]["options"]["path"]
compose = yaml.safe_load((REPO / "docker/compose.yaml").read_text())
mounts = compose["services"]["grafana"]["volumes"]
if not any(m.startswith("../ops/grafana:") and m.split(":")[1].startswith(path) for m in mounts):
    probs.append(f"docker/compose.yaml does not mount ../ops/grafana under the provider path {path}")
print(("PASS" if not probs else "FAIL") + f" grafana: ops/grafana/playlog.json ({len(ids)} panels) is well-formed and provisioned by docker/compose.yaml")
for p in probs:
    print(f"    - {p}")
sys.exit(1 if probs else 0)
