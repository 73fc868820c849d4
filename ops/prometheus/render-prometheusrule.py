#!/usr/bin/env python3
"""Renders k8s/components/monitoring/prometheusrule.yaml (a Prometheus Operator PrometheusRule) from
ops/prometheus/playlog.rules.yaml, the rules promtool checks and tests. ops/check.sh fails when the two
differ; after editing the rules run:
    .stack/tools/venv/bin/python ops/prometheus/render-prometheusrule.py && npx prettier --write k8s/components/monitoring
"""
import pathlib
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
SOURCE = REPO / "ops/prometheus/playlog.rules.yaml"
TARGET = REPO / "k8s/components/monitoring/prometheusrule.yaml"
HEADER = "# Generated from ops/prometheus/playlog.rules.yaml by ops/prometheus/render-prometheusrule.py: do not edit.\n"


def prometheus_rule(groups):
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "playlog", "labels": {"app.kubernetes.io/name": "playlog"}},
        "spec": {"groups": groups},
    }


class Dumper(yaml.SafeDumper):
    pass


def _str(dumper, s):
    # Multi-line expressions stay readable as block scalars.
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)


Dumper.add_representer(str, _str)


def render():
    groups = yaml.safe_load(SOURCE.read_text())["groups"]
    return HEADER + yaml.dump(prometheus_rule(groups), Dumper=Dumper, sort_keys=False, width=1000)


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET.relative_to(REPO)}", file=sys.stderr)
