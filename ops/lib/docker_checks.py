#!/usr/bin/env python3
"""Checks docker/Dockerfile and docker/compose.yaml without a Docker engine.

usage: docker_checks.py COMPOSE_CONFIG_OUTPUT.yaml ENV_OUT.json
COMPOSE_CONFIG_OUTPUT is the normalised model printed by compose-config (docker compose config).
Prints PASS/FAIL lines; writes the app services' environments to ENV_OUT.json for ops/lib/app-env.mjs.
"""
import glob
import json
import pathlib
import re
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
CMDS = {  # Dockerfile target -> the command the app really runs with (package.json scripts, CONTRACT)
    "ingest": ["node", "apps/ingest/dist/main.js"],
    "loader": ["node", "apps/loader/dist/bundle/main.js"],
    "reporter": ["node", "apps/reporter/dist/main.js", "run"],
    "migrate": ["node", "libs/db/dist/migrate-cli.js"],
}
results = []


def check(name, problems):
    results.append((name, [p for p in problems if p]))


def dockerfile_stages(text):
    """[(name, base, [(instruction, args)])], continuation lines joined, comments dropped."""
    lines, cur = [], ""
    for raw in text.splitlines():
        if raw.strip().startswith("#") or not raw.strip():
            continue
        cur += raw.rstrip()
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        lines.append(cur.strip())
        cur = ""
    args, stages = {}, []
    for line in lines:
        ins, _, rest = line.partition(" ")
        ins = ins.upper()
        if ins == "ARG" and not stages:
            k, _, v = rest.partition("=")
            args[k] = v
        elif ins == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            base = re.sub(r"\$\{(\w+)\}", lambda x: args.get(x.group(1), x.group(0)), m.group(1))
            stages.append((m.group(2), base, []))
        else:
            stages[-1][2].append((ins, rest))
    return stages


def main():
    compose_out, env_out = sys.argv[1], sys.argv[2]
    stages = dockerfile_stages((REPO / "docker/Dockerfile").read_text())
    names = {n: (b, body) for n, b, body in stages}

    # --- Dockerfile
    probs = []
    base_of = lambda n: names[n][0] if n in names else None  # noqa: E731
    def chain(n):
        seen = [n]
        while base_of(seen[-1]) in names:
            seen.append(base_of(seen[-1]))
        return seen
    build = names.get("build")
    if not build:
        probs.append("no stage named build")
    else:
        runs = " ".join(a for i, a in build[1] if i == "RUN")
        for pkg in ("python3", "make", "g++"):
            if not re.search(rf"apt-get install[^&]*\s{re.escape(pkg)}(\s|$)", runs):
                probs.append(f"build stage does not apt-get install {pkg} (node-rdkafka's native build)")
        if "npm ci" not in runs:
            probs.append("build stage does not use npm ci")
        if not re.search(r"npm (prune|ci)[^&]*--omit=dev", runs):
            probs.append("no npm prune/ci --omit=dev: dev dependencies would ship")
        # npm ci needs every workspace's package.json in place.
        pkg = json.loads((REPO / "package.json").read_text())
        wanted = sorted({str(pathlib.Path(p).relative_to(REPO)) for w in pkg["workspaces"] for p in glob.glob(str(REPO / w / "package.json"))})
        copied = {a.split()[0] for i, a in build[1] if i == "COPY" and not a.startswith("--")}
        missing = [w for w in wanted if w not in copied]
        if missing:
            probs.append(f"build stage does not COPY {missing} before npm ci (every workspace in package.json)")
    for target, cmd in CMDS.items():
        if target not in names:
            probs.append(f"no target {target}")
            continue
        ch = chain(target)
        root_base = base_of(ch[-1])
        if not root_base.startswith("node:20-bookworm-slim"):
            probs.append(f"target {target} runs on {root_base}, not node:20-bookworm-slim")
        if "build" in ch:
            probs.append(f"target {target} derives from the build stage (compilers would ship)")
        body = [x for n in reversed(ch) for x in names[n][1]]
        cmds = [a for i, a in body if i == "CMD"]
        if not cmds or json.loads(cmds[-1]) != cmd:
            probs.append(f"target {target}: CMD {cmds[-1] if cmds else None} is not {json.dumps(cmd)}")
        users = [a for i, a in body if i == "USER"]
        if not users or users[-1].split(":")[0] in ("root", "0"):
            probs.append(f"target {target}: runs as root (no USER)")
        elif not users[-1].split(":")[0].isdigit():
            probs.append(f"target {target}: USER {users[-1]} is not numeric (runAsNonRoot cannot verify a name)")
    check("docker/Dockerfile: build stage compiles with python3/make/g++ via npm ci, runtime targets on "
          "node:20-bookworm-slim, production deps only, non-root numeric USER, CMDs are the apps' real commands", probs)

    # --- compose (normalised by compose-go)
    probs = []
    model = yaml.safe_load(open(compose_out))
    svcs = model.get("services", {})
    want = {"kafka", "kafka-init", "postgres", "migrate", "ingest", "loader", "reporter", "prometheus", "grafana"}
    if want - set(svcs):
        probs.append(f"missing services {sorted(want - set(svcs))}")
    envs = {}
    for name, s in svcs.items():
        for p in s.get("ports", []):
            if p.get("host_ip") != "127.0.0.1":
                probs.append(f"{name}: port {p.get('published')} published on {p.get('host_ip') or 'all interfaces'}, not 127.0.0.1")
        for v in s.get("volumes", []):
            if v["type"] == "bind" and not pathlib.Path(v["source"]).exists():
                probs.append(f"{name}: bind mount {v['source']} does not exist")
        b = s.get("build")
        if b:
            t = b.get("target")
            if pathlib.Path(b["context"]).resolve() != REPO or b.get("dockerfile") != "docker/Dockerfile":
                probs.append(f"{name}: builds from {b['context']} {b.get('dockerfile')}, not the repo root with docker/Dockerfile")
            if t not in CMDS:
                probs.append(f"{name}: build target {t} is not one of {sorted(CMDS)}")
            elif s.get("command") != CMDS[t]:
                probs.append(f"{name}: command {s.get('command')} differs from the image's CMD {CMDS[t]}")
            if s.get("user") in ("root", "0"):
                probs.append(f"{name}: runs as root")
            envs[t] = s.get("environment", {})
    if not str(svcs.get("kafka", {}).get("image", "")).startswith("apache/kafka:"):
        probs.append("kafka is not the apache/kafka image")
    if "KAFKA_PROCESS_ROLES" not in svcs.get("kafka", {}).get("environment", {}):
        probs.append("kafka is not configured for KRaft (KAFKA_PROCESS_ROLES)")
    if not str(svcs.get("postgres", {}).get("image", "")).startswith("postgres:15"):
        probs.append("postgres is not PostgreSQL 15")
    for app in ("ingest", "loader"):
        dep = svcs.get(app, {}).get("depends_on", {})
        if dep.get("migrate", {}).get("condition") != "service_completed_successfully":
            probs.append(f"{app} does not wait for migrate to complete")
    if "reporter" in svcs and not svcs["reporter"].get("profiles"):
        probs.append("reporter is not behind a profile (it would run at every `up`)")
    for oneshot in ("migrate", "kafka-init", "reporter"):
        if svcs.get(oneshot, {}).get("restart", "no") != "no":
            probs.append(f"{oneshot} is a one-shot but restarts")
    prom = yaml.safe_load((REPO / "docker/prometheus/prometheus.yml").read_text())
    jobs = {j["job_name"]: j["static_configs"][0]["targets"] for j in prom["scrape_configs"]}
    if jobs != {"ingest": ["ingest:9464"], "loader": ["loader:9091"]}:
        probs.append(
            f"prometheus scrape jobs {jobs}: the alert rules expect job=ingest at ingest:9464 (its METRICS_PORT) and job=loader at loader:9091"
        )
    check("docker/compose.yaml: services, images, commands = Dockerfile CMDs, loopback-only ports, bind mounts exist, "
          "migrate before apps, reporter one-shot profile, Prometheus jobs as the rules expect", probs)
    pathlib.Path(env_out).write_text(json.dumps(envs, indent=1))

    for name, problems in results:
        print(("PASS " if not problems else "FAIL ") + name)
        for p in problems:
            print(f"    - {p}")
    return 0 if all(not p for _, p in results) else 1


if __name__ == "__main__":
    sys.exit(main())
