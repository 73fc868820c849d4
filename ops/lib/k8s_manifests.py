#!/usr/bin/env python3
"""Checks one rendered overlay (kustomize build output): schemas, then Playlog's operational rules.

usage: k8s_manifests.py OVERLAY RENDERED.yaml ENV_OUT.json [--external-secret NAME]...
OVERLAY names a directory under k8s/overlays (local, production/edge, production/core): it says which
apps the overlay must run and which site's rules apply (OVERLAYS below).
Prints PASS/FAIL lines. Writes ENV_OUT.json: each app container's resolved environment, for
ops/lib/app-env.mjs to check against the apps' own config loaders.
"""
import argparse
import base64
import math
import functools
import json
import pathlib
import re
import subprocess
import sys

import jsonschema
import kubernetes_validate
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
K8S_VERSIONS = ["1.31.0", "1.37.0"]  # oldest supported (podFailurePolicy GA) and newest bundled
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject.json",
    # KEDA 2.20.2's own CRD schema, unchanged ($comment: its source and commit).
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication.json",
    # Strimzi 1.2.0's own CRD schemas, unchanged (each file's $comment names its source and commit).
    ("kafka.strimzi.io/v1", "Kafka"): "strimzi/kafka.json",
    ("kafka.strimzi.io/v1", "KafkaNodePool"): "strimzi/kafkanodepool.json",
    ("kafka.strimzi.io/v1", "KafkaTopic"): "strimzi/kafkatopic.json",
    ("kafka.strimzi.io/v1", "KafkaMirrorMaker2"): "strimzi/kafkamirrormaker2.json",
    ("kafka.strimzi.io/v1", "KafkaUser"): "strimzi/kafkauser.json",
}
def cpu_quantity(q) -> float | None:
    """A Kubernetes CPU quantity ("2", "1500m", 0.5) in CPUs."""
    q = str(q)
    try:
        return float(q[:-1]) / 1000 if q.endswith("m") else float(q)
    except ValueError:
        return None


def resource_field(pod: dict, container: dict, ref: dict) -> str | None:
    """What the downward API puts in an env var for a resourceFieldRef on CPU: the quantity divided by
    the divisor, rounded up (Kubernetes never rounds a CPU field down to 0)."""
    name = ref.get("containerName", container["name"])
    target = next((c for c in pod["containers"] if c["name"] == name), None)
    sect, _, key = ref.get("resource", "").partition(".")
    if target is None or key != "cpu" or sect not in ("limits", "requests"):
        return None
    cpus = cpu_quantity(target.get("resources", {}).get(sect, {}).get("cpu", ""))
    divisor = cpu_quantity(ref.get("divisor", "1"))
    if cpus is None or not divisor:
        return None
    return str(max(1, math.ceil(cpus / divisor - 1e-9)))


APPS = {  # container name -> (command, probe port env var, port)
    "ingest": (["node", "apps/ingest/dist/main.js"], "PORT", 8080),
    "loader": (["node", "apps/loader/dist/bundle/main.js"], "LOADER_PORT", 9091),
    # The nightly CronJob runs `run`; the hourly one renders closed hours ahead (`segments`).
    "reporter": ([["node", "apps/reporter/dist/main.js", "run"], ["node", "apps/reporter/dist/main.js", "segments"]], None, None),
    "migrate": (["node", "libs/db/dist/migrate-cli.js"], None, None),
}
PARTITIONS = 6  # play-logs partitions (tools/stack/stack.sh, docker/compose.yaml, local topics Job)
# What each overlay runs. A site is one of two (tools/stack/two-site.sh): the edge, where ingest writes
# plays, and the core, where they are loaded into Postgres and reported; local is both in one.
OVERLAYS = {
    "local": {"site": None, "apps": {"ingest", "loader", "reporter", "migrate"}},
    "production/edge": {"site": "edge", "apps": {"ingest"}},
    "production/core": {"site": "core", "apps": {"loader", "reporter", "migrate"}},
}
# Settings that name a file of credentials (libs/config credentials.ts; the apps' configs).
CREDENTIAL_FILES = ["KAFKA_SSL_CA_LOCATION", "KAFKA_SSL_CERTIFICATE_LOCATION", "KAFKA_SSL_KEY_LOCATION", "EDGE_KAFKA_SSL_CA_LOCATION",
                    "EDGE_KAFKA_SSL_CERTIFICATE_LOCATION", "EDGE_KAFKA_SSL_KEY_LOCATION", "KEY_FEED_PUBLIC_KEY_FILE",
                    "KEY_FEED_SIGNING_KEY_FILE", "GATE_SECRET_FILE"]
DB_APPS = {"loader", "reporter", "migrate"}  # ingest's keys come from the key feed, never Postgres
EDGE_TOPIC = "play-logs"  # where ingest writes, at the edge
KEYS_TOPIC = "playlog-keys"  # the API-key feed at the core (loader, keys CLI)
# MirrorMaker's cluster aliases; with DefaultReplicationPolicy a mirrored topic is "<source alias>.<topic>".
EDGE_ALIAS, CORE_ALIAS = "edge", "core"
DEFAULT_POLICY = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"
MIN_REPLICAS, MIN_ISR = 3, 2  # acknowledged plays survive a broker lost (ingest's KAFKA_REQUIRE_REPLICATION)
ANYWHERE = {"0.0.0.0/0", "::/0"}

results = []


def check(name, problems):
    problems = [p for p in problems if p]
    results.append((name, problems))


def workloads(docs):
    """(doc, pod spec, pod labels) for every pod-creating object."""
    for d in docs:
        k = d["kind"]
        if k in ("Deployment", "StatefulSet", "Job"):
            t = d["spec"]["template"]
        elif k == "CronJob":
            t = d["spec"]["jobTemplate"]["spec"]["template"]
        else:
            continue
        yield d, t["spec"], t.get("metadata", {}).get("labels", {})


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def strict(schema):
    """The schema as kubectl --validate=strict applies it: an unknown field is an error. Every object
    schema that lists properties, and neither says what else it allows (additionalProperties) nor keeps
    unknown fields (x-kubernetes-preserve-unknown-fields), gets additionalProperties: false. Nodes
    without type object (oneOf/anyOf branches that only constrain) are left alone. A copy: the vendored
    file stays as its upstream wrote it."""
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if (out.get("type") == "object" and isinstance(out.get("properties"), dict) and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


@functools.cache
def crd_validator(name):
    return jsonschema.Draft202012Validator(strict(json.loads((REPO / "ops/schemas" / name).read_text())))


def env_true(value):
    return bool(re.fullmatch(r"1|true|yes|on", str(value or "").strip(), re.I))  # libs/config env.bool


def brokers(value):
    """[(host, port)] of a KAFKA_BROKERS-style list."""
    out = []
    for part in filter(None, (p.strip() for p in str(value or "").split(","))):
        host, _, port = part.rpartition(":")
        out.append((host, int(port) if port.isdigit() else None))
    return out


def covers(pattern, topic):
    """Whether a MirrorMaker topics list (comma-separated regular expressions, whole-name) takes topic."""
    return any(re.fullmatch(p.strip(), topic) for p in str(pattern or "").split(",") if p.strip())


def peer_open(peer):
    return (peer.get("ipBlock") or {}).get("cidr") in ANYWHERE


def egress_allows(nps, labels, port, ipblock):
    """Whether some Egress NetworkPolicy selecting a pod with these labels lets it reach port (on an
    ipBlock if ipblock, else in-cluster)."""
    for n in nps:
        if "Egress" not in n["spec"].get("policyTypes", []) or not matches(n["spec"]["podSelector"].get("matchLabels"), labels):
            continue
        for rule in n["spec"].get("egress", []):
            ports = {p.get("port") for p in rule.get("ports", [])}
            if ports and port not in ports:
                continue
            to = rule.get("to", [])
            if not to or any(("ipBlock" in t) == ipblock for t in to):
                return True
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("overlay")
    ap.add_argument("rendered")
    ap.add_argument("env_out")
    ap.add_argument("--external-secret", action="append", default=[])
    a = ap.parse_args()
    docs = [d for d in yaml.safe_load_all(open(a.rendered)) if d]
    by = {}
    for d in docs:
        by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    ov = a.overlay
    if ov not in OVERLAYS:
        print(f"FAIL k8s/{ov}: unknown overlay; say in OVERLAYS ({__file__}) which apps it runs")
        return 1
    site, want_apps = OVERLAYS[ov]["site"], OVERLAYS[ov]["apps"]

    # --- schemas
    probs, skipped = [], []
    for d in docs:
        ident = f'{d["kind"]}/{d["metadata"]["name"]}'
        crd = CRD_SCHEMAS.get((d["apiVersion"], d["kind"]))
        if crd:
            errs = sorted(crd_validator(crd).iter_errors(d), key=str)
            probs += [f"{ident}: {e.json_path}: {e.message}" for e in errs]
            skipped.append(d["kind"])
            continue
        for v in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(d, v, strict=True)
            except kubernetes_validate.ValidationError as e:
                probs.append(f"{ident} (k8s {v}): {'.'.join(map(str, e.path))}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                probs.append(f"{ident}: no schema for k8s {v}: {e}")
    n = len(docs) - len(skipped)
    check(f"k8s/{ov}: {n} objects valid against Kubernetes {' and '.join(K8S_VERSIONS)} schemas (strict); "
          f"{len(skipped)} CRD objects ({', '.join(sorted(set(skipped))) or 'none'}) against ops/schemas (strict: unknown fields rejected)", probs)

    # --- pod security, resources
    probs = []
    for d, pod, _ in workloads(docs):
        ident = f'{d["kind"]}/{d["metadata"]["name"]}'
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            probs.append(f"{ident}: pod securityContext.runAsNonRoot is not true")
        if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            probs.append(f"{ident}: pod seccompProfile is not RuntimeDefault")
        if pod.get("automountServiceAccountToken") is not False:
            probs.append(f"{ident}: service account token is mounted")
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            sc, cid = c.get("securityContext", {}), f'{ident}/{c["name"]}'
            if sc.get("allowPrivilegeEscalation") is not False:
                probs.append(f"{cid}: allowPrivilegeEscalation is not false")
            if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                probs.append(f"{cid}: capabilities do not drop ALL")
            if c["name"] in APPS and sc.get("readOnlyRootFilesystem") is not True:
                probs.append(f"{cid}: readOnlyRootFilesystem is not true")
            r = c.get("resources", {})
            for need in ("requests.cpu", "requests.memory", "limits.memory"):
                sect, key = need.split(".")
                if key not in r.get(sect, {}):
                    probs.append(f"{cid}: no resources.{need}")
    check(f"k8s/{ov}: every pod non-root, seccomp RuntimeDefault, no privilege escalation, ALL caps dropped, "
          f"read-only root (apps), resources set", probs)

    # --- app containers: commands, env sources, probes on the real ports
    cms = {n: d.get("data", {}) for n, d in by.get("ConfigMap", {}).items()}
    secrets = {n: {k: base64.b64decode(v).decode() for k, v in d.get("data", {}).items()} for n, d in by.get("Secret", {}).items()}
    envs, probs, seen = {}, [], set()
    for d, pod, _ in workloads(docs):
        for c in pod["containers"]:
            if c["name"] not in APPS:
                continue
            cmd, port_var, port = APPS[c["name"]]
            cid = f'{d["kind"]}/{d["metadata"]["name"]}/{c["name"]}'
            seen.add(c["name"])
            allowed = cmd if isinstance(cmd[0], list) else [cmd]
            if c.get("command", []) + c.get("args", []) not in allowed:
                probs.append(f"{cid}: command {c.get('command')} {c.get('args', '')} is not one of {allowed}")
            env = {}
            for src in c.get("envFrom", []):
                if "configMapRef" in src:
                    name = src["configMapRef"]["name"]
                    if name not in cms:
                        probs.append(f"{cid}: envFrom ConfigMap {name} is not in the overlay")
                    env.update(cms.get(name, {}))
                elif "secretRef" in src:
                    probs.append(f"{cid}: envFrom secretRef exposes a whole Secret; use secretKeyRef")
            for e in c.get("env", []):
                if "value" in e:
                    env[e["name"]] = e["value"]
                    continue
                rf = e.get("valueFrom", {}).get("resourceFieldRef")
                if rf:  # the downward API: a container's resource, as Kubernetes renders it
                    value = resource_field(pod, c, rf)
                    if value is None:
                        probs.append(f"{cid}: env {e['name']}: resourceFieldRef {rf} does not resolve to a CPU limit or request")
                    else:
                        env[e["name"]] = value
                    continue
                ref = e.get("valueFrom", {}).get("secretKeyRef") or e.get("valueFrom", {}).get("configMapKeyRef")
                if not ref:
                    probs.append(f"{cid}: env {e['name']} has no value or key ref")
                    continue
                store = secrets if "secretKeyRef" in e["valueFrom"] else cms
                if ref["name"] in store and ref["key"] in store[ref["name"]]:
                    env[e["name"]] = store[ref["name"]][ref["key"]]
                elif ref["name"] in a.external_secret:
                    # Provided by the cluster's secret store; stand in a well-formed value for the config check.
                    env[e["name"]] = "postgres://external:secret@db.invalid:5432/playlog"
                else:
                    probs.append(f"{cid}: env {e['name']} refers to {ref['name']}/{ref['key']}, which is not in the overlay")
            envs[c["name"]] = env
            if port_var:
                ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
                if str(port) != env.get(port_var):
                    probs.append(f"{cid}: {port_var}={env.get(port_var)} but the probes expect {port}")
                for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                    g = c.get(probe, {}).get("httpGet", {})
                    p = ports.get(g.get("port"), g.get("port"))
                    if g.get("path") != path or p != port:
                        probs.append(f"{cid}: {probe} is {g.get('path')}:{p}, expected {path}:{port}")
    missing, extra = want_apps - seen, seen - want_apps
    if missing:
        probs.append(f"no container for {sorted(missing)}")
    if extra:
        probs.append(f"runs {sorted(extra)}, which this overlay must not ({ov} runs {sorted(want_apps)})")
    for app, env in envs.items():
        if app not in DB_APPS and "DATABASE_URL" in env:
            probs.append(f"{app} is given DATABASE_URL; it must not reach Postgres (its keys come from the key feed)")
    check(f"k8s/{ov}: runs {', '.join(sorted(want_apps))}; app commands are the real ones, probes on /healthz and "
          f"/readyz at the apps' ports, every ConfigMap/Secret reference resolves", probs)
    pathlib.Path(a.env_out).write_text(json.dumps(envs, indent=1))

    # --- credentials: every file an app's settings name is a key of a Secret or ConfigMap mounted there
    probs = []
    kafka_names = set(by.get("Kafka", {}))
    users = {n: u for n, u in by.get("KafkaUser", {}).items()}
    made_by_strimzi = set(users) | {f"{k}-cluster-ca-cert" for k in kafka_names}
    for d, pod, _ in workloads(docs):
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        for c in pod["containers"]:
            if c["name"] not in APPS:
                continue
            cid = f'{d["kind"]}/{d["metadata"]["name"]}/{c["name"]}'
            env = envs.get(c["name"], {})
            for var in CREDENTIAL_FILES:
                path = env.get(var)
                if not path:
                    continue
                mount = next((m for m in c.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")), None)
                vol = vols.get(mount["name"]) if mount else None
                src = (vol or {}).get("secret") or (vol or {}).get("configMap")
                if not src:
                    probs.append(f"{cid}: {var}={path} is in no Secret or ConfigMap volume mounted in the container")
                    continue
                name = src.get("secretName") or src.get("name")
                file = path[len(mount["mountPath"].rstrip("/")) + 1:]
                items = {i["path"]: i["key"] for i in src.get("items", [])}
                key = items.get(file, None if items else file)
                if key is None:
                    probs.append(f"{cid}: {var}={path}: the volume {mount['name']} projects no file {file}")
                    continue
                store = secrets if "secretName" in src else cms
                if name in store:
                    if key not in store[name]:
                        probs.append(f"{cid}: {var}: {name} has no key {key}")
                elif "secretName" in src and name in made_by_strimzi:
                    if key not in ("user.crt", "user.key", "ca.crt"):
                        probs.append(f"{cid}: {var}: Strimzi's Secret {name} has no key {key}")
                elif name not in a.external_secret:
                    probs.append(f"{cid}: {var}: {name} is neither in the overlay, nor made by Strimzi here, nor named an external secret")
            # An app connects to Kafka as its own KafkaUser where the overlay makes them.
            user = next((v.get("secret", {}).get("secretName") for m in c.get("volumeMounts", []) for v in [vols.get(m["name"], {})]
                         if m["mountPath"] == "/var/run/playlog/kafka-user"), None)
            principal = {"ingest": "ingest", "loader": "loader", "reporter": "reporter"}.get(c["name"])
            if principal and users and user != principal:
                probs.append(f"{cid}: connects to Kafka with the Secret {user}, not its own KafkaUser {principal}")
    check(f"k8s/{ov}: every credential file an app reads (certificates, keys, the gate secret) is a key of a mounted "
          f"Secret or ConfigMap: in the overlay, made by Strimzi, or from the secret store; each app is its own KafkaUser", probs)

    # --- Services, ServiceMonitors, PDBs select something real
    probs = []
    pods = list(workloads(docs))
    svc_ports = {}
    for s in by.get("Service", {}).values():
        sel = s["spec"].get("selector", {})
        hit = [(d, p) for d, p, l in pods if matches(sel, l)]
        if not hit:
            probs.append(f"Service/{s['metadata']['name']}: selector {sel} matches no pod")
        names = {cp.get("name") for _, p in hit for c in p["containers"] for cp in c.get("ports", [])}
        for sp in s["spec"]["ports"]:
            if isinstance(sp.get("targetPort"), str) and sp["targetPort"] not in names:
                probs.append(f"Service/{s['metadata']['name']}: targetPort {sp['targetPort']} is no container port")
        svc_ports[s["metadata"]["name"]] = (s["metadata"].get("labels", {}), {sp.get("name") for sp in s["spec"]["ports"]})
    for sm in by.get("ServiceMonitor", {}).values():
        sel = sm["spec"]["selector"].get("matchLabels", {})
        hit = [ports for labels, ports in svc_ports.values() if matches(sel, labels)]
        if not hit:
            probs.append(f"ServiceMonitor/{sm['metadata']['name']}: selects no Service")
        for ep in sm["spec"]["endpoints"]:
            if hit and not any(ep.get("port") in ports for ports in hit):
                probs.append(f"ServiceMonitor/{sm['metadata']['name']}: port {ep.get('port')} is not a port of the Service")
    for pdb in by.get("PodDisruptionBudget", {}).values():
        if not any(matches(pdb["spec"]["selector"]["matchLabels"], l) for _, _, l in pods):
            probs.append(f"PodDisruptionBudget/{pdb['metadata']['name']}: selects no pod")
    for want in sorted({"ingest", "loader"} & want_apps):
        if want not in by.get("PodDisruptionBudget", {}):
            probs.append(f"no PodDisruptionBudget for {want}")
    check(f"k8s/{ov}: Services, ServiceMonitors and PodDisruptionBudgets select real pods and ports", probs)

    # --- autoscaling: one autoscaler per Deployment, loader capped at the partition count
    probs = []
    scalers = {}
    for h in by.get("HorizontalPodAutoscaler", {}).values():
        scalers.setdefault(h["spec"]["scaleTargetRef"]["name"], []).append(("HPA", h["spec"]["maxReplicas"], h))
    for so in by.get("ScaledObject", {}).values():
        scalers.setdefault(so["spec"]["scaleTargetRef"]["name"], []).append(("ScaledObject", so["spec"].get("maxReplicaCount", 100), so))
    deps = sorted({"ingest", "loader"} & want_apps)
    for dep in deps:
        got = scalers.get(dep, [])
        if len(got) != 1:
            probs.append(f"Deployment/{dep}: {len(got)} autoscalers ({[g[0] for g in got]}), expected exactly one")
        if dep not in by.get("Deployment", {}):
            probs.append(f"Deployment/{dep} missing")
        elif "replicas" in by["Deployment"][dep]["spec"]:
            probs.append(f"Deployment/{dep}: sets replicas, which fights its autoscaler on every apply")
    for kind, mx, _ in scalers.get("loader", []):
        if mx > PARTITIONS:
            probs.append(f"loader {kind}: max replicas {mx} > {PARTITIONS} partitions")
    for so in by.get("ScaledObject", {}).values():
        md = so["spec"]["triggers"][0]["metadata"]
        loader = envs.get("loader", {})
        for key, var in (("bootstrapServers", "KAFKA_BROKERS"), ("consumerGroup", "KAFKA_GROUP_ID"), ("topic", "KAFKA_TOPIC")):
            if md.get(key) != loader.get(var):
                probs.append(f"ScaledObject/{so['metadata']['name']}: {key}={md.get(key)} but the loader's {var}={loader.get(var)}")
    ing = by.get("HorizontalPodAutoscaler", {}).get("ingest")
    if ing:
        types = {(m["type"], (m.get("resource") or m.get("pods") or {}).get("name") or (m.get("pods") or {}).get("metric", {}).get("name")) for m in ing["spec"]["metrics"]}
        if ("Resource", "cpu") not in types or ("Pods", "playlog_http_requests_per_second") not in types:
            probs.append(f"HPA/ingest: metrics {sorted(types)} lack CPU or the request-rate Pods metric")
    check(f"k8s/{ov}: one autoscaler {'each ' if len(deps) > 1 else ''}for {' and '.join(deps)}"
          + (f"; loader at most {PARTITIONS} replicas; KEDA trigger matches the loader's Kafka settings" if "loader" in deps else ""), probs)

    # --- reporter CronJob and migration Job (where they run)
    probs = []
    cj = by.get("CronJob", {}).get("reporter")
    if "reporter" not in want_apps:
        pass
    elif not cj:
        probs.append("no CronJob/reporter")
    else:
        s = cj["spec"]
        js = s["jobTemplate"]["spec"]
        if s.get("concurrencyPolicy") != "Forbid":
            probs.append("concurrencyPolicy is not Forbid")
        for k in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit", "startingDeadlineSeconds", "timeZone"):
            if k not in s:
                probs.append(f"no {k}")
        if "backoffLimit" not in js:
            probs.append("no backoffLimit")
        tz = envs.get("reporter", {}).get("REPORT_TIMEZONE")
        for name, job in by.get("CronJob", {}).items():
            if job["spec"].get("timeZone") != tz:
                probs.append(f"CronJob/{name}: timeZone {job['spec'].get('timeZone')} is not the reporter's REPORT_TIMEZONE {tz} (components/report-timezone copies it)")
        if "loader" in want_apps and envs.get("loader", {}).get("REPORT_TIMEZONE") != tz:
            probs.append(f"the loader's REPORT_TIMEZONE {envs.get('loader', {}).get('REPORT_TIMEZONE')} is not the reporter's {tz}")
        pod = js["template"]["spec"]
        c = pod["containers"][0]
        rdir = envs.get("reporter", {}).get("REPORT_DIR")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        vol = next((v for v in pod.get("volumes", []) if v["name"] == mounts.get(rdir)), None)
        if not vol or "persistentVolumeClaim" not in vol:
            probs.append(f"REPORT_DIR {rdir} is not on a PersistentVolumeClaim")
        elif vol["persistentVolumeClaim"]["claimName"] not in by.get("PersistentVolumeClaim", {}):
            probs.append(f"PVC {vol['persistentVolumeClaim']['claimName']} is not in the overlay")
    if "migrate" in want_apps and "migrate" not in by.get("Job", {}):
        probs.append("no Job/migrate")
    if {"reporter", "migrate"} & want_apps:
        check(f"k8s/{ov}: reporter CronJob (Forbid, history limits, backoffLimit, REPORT_DIR on a PVC, timeZone = REPORT_TIMEZONE) and migration Job", probs)

    # --- network policies: default deny; only ingest open to the world; data stores only for the apps
    # Strimzi's pods are not in the rendered overlay: stand in their labels (as the operator sets them)
    # to see which policies select them.
    kafkas, mm2s = by.get("Kafka", {}), by.get("KafkaMirrorMaker2", {})
    strimzi_brokers = {name: {"strimzi.io/cluster": name, "strimzi.io/kind": "Kafka", "strimzi.io/name": f"{name}-kafka",
                              "strimzi.io/broker-role": "true", "app.kubernetes.io/name": "kafka"} for name in kafkas}
    strimzi_mm2 = {name: {"strimzi.io/cluster": name, "strimzi.io/kind": "KafkaMirrorMaker2",
                          "app.kubernetes.io/name": "kafka-mirror-maker-2"} for name in mm2s}
    link_ports = {p["port"] for k in kafkas.values() for p in k["spec"]["kafka"]["listeners"] if p["type"] not in ("internal", "cluster-ip")}
    probs = []
    nps = list(by.get("NetworkPolicy", {}).values())
    deny = [n for n in nps if n["spec"]["podSelector"] == {} and set(n["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
            and not n["spec"].get("ingress") and not n["spec"].get("egress")]
    if not deny:
        probs.append("no default-deny NetworkPolicy (Ingress and Egress)")
    everyone = [(l.get("app.kubernetes.io/name"), l) for _, _, l in pods]
    everyone += [(f"Kafka/{n} brokers", l) for n, l in strimzi_brokers.items()] + [(f"KafkaMirrorMaker2/{n}", l) for n, l in strimzi_mm2.items()]
    open_to = set()
    for who, labels in everyone:
        for n in nps:
            if matches(n["spec"]["podSelector"].get("matchLabels", {}), labels):
                for rule in n["spec"].get("ingress", []):
                    if not rule.get("from") or any(peer_open(p) for p in rule["from"]):
                        open_to.add(who)
    # A listener without networkPolicyPeers: Strimzi's generated policy admits everyone to it.
    for name, k in kafkas.items():
        for lis in k["spec"]["kafka"]["listeners"]:
            peers = lis.get("networkPolicyPeers")
            if not peers or any(peer_open(p) for p in peers):
                open_to.add(f"Kafka/{name} listener {lis['name']}")
    want_open = {"ingest"} & want_apps
    if open_to != want_open:
        probs.append(f"reachable from anywhere: {sorted(open_to)}; expected {sorted(want_open) or 'nothing'}")
    clients = {l.get("app.kubernetes.io/name") for _, _, l in pods if l.get("playlog.io/data-client") == "true"}
    for app in sorted(want_apps):
        if app not in clients:
            probs.append(f"{app} pods lack the playlog.io/data-client label that lets them reach Kafka/Postgres")

    def peer_ok(peer, store, port):
        """Who may reach a data store: the apps, the store's own pods, KEDA (lag), MirrorMaker (its
        target), and on a Kafka link listener the other site's range (ipBlock), nothing else."""
        if "ipBlock" in peer:
            return store == "kafka" and port in link_ports and not peer_open(peer)
        if "namespaceSelector" in peer:
            return peer["namespaceSelector"].get("matchLabels") == {"kubernetes.io/metadata.name": "keda"} and "podSelector" not in peer
        own = [{"app.kubernetes.io/name": store}] + ([{"strimzi.io/kind": "KafkaMirrorMaker2"}] if store == "kafka" else [])
        return peer.get("podSelector", {}).get("matchLabels") in [{"playlog.io/data-client": "true"}] + own

    stores = [(l["app.kubernetes.io/name"], l) for _, _, l in pods if l.get("app.kubernetes.io/name") in ("kafka", "postgres")]
    stores += [("kafka", l) for l in strimzi_brokers.values()]
    for n in nps:
        hit = {store for store, l in stores if matches(n["spec"]["podSelector"].get("matchLabels", {}), l)}
        for store in hit:
            for rule in n["spec"].get("ingress", []):
                ports = [p.get("port") for p in rule.get("ports", [])] or [None]
                for peer in rule.get("from", []):
                    if not all(peer_ok(peer, store, port) for port in ports):
                        probs.append(f"NetworkPolicy/{n['metadata']['name']}: admits {peer} to {store} on {ports}")
    for name, k in kafkas.items():
        for lis in k["spec"]["kafka"]["listeners"]:
            for peer in lis.get("networkPolicyPeers", []):
                internal = lis["type"] in ("internal", "cluster-ip")
                if not peer_ok(peer, "kafka", lis["port"]) or internal == ("ipBlock" in peer):
                    probs.append(f"Kafka/{name} listener {lis['name']} ({lis['type']}): admits {peer}")
    check(f"k8s/{ov}: NetworkPolicies: default deny, "
          + ("only ingest reachable from outside" if want_open else "nothing reachable from outside")
          + ", Kafka/Postgres only from the apps" + (" (and the other site, on the link listener only)" if link_ports else ""), probs)

    kafka_trust_checks(ov, site, by, envs)
    if site:
        strimzi_checks(ov, site, by, envs, nps, pods, strimzi_brokers, strimzi_mm2)

    for name, problems in results:
        print(("PASS " if not problems else "FAIL ") + name)
        for p in problems:
            print(f"    - {p}")
    return 0 if all(not p for _, p in results) else 1


def kafka_trust_checks(ov, site, by, envs):
    """Every Kafka listener mutual TLS, the authorizer on, and the KafkaUsers exactly docs/security.md's
    table for the site (tools/stack/acls.mjs reads it); every app connects over TLS."""
    probs = []
    kafkas = by.get("Kafka", {})
    for name, k in kafkas.items():
        for lis in k["spec"]["kafka"]["listeners"]:
            if lis.get("tls") is not True or lis.get("authentication", {}).get("type") != "tls":
                probs.append(f"Kafka/{name} listener {lis['name']}: not mutual TLS (tls: true, authentication: tls)")
        if k["spec"]["kafka"].get("authorization", {}).get("type") != "simple":
            probs.append(f"Kafka/{name}: no authorization (type simple): every authenticated client could do everything")
        if "userOperator" not in k["spec"].get("entityOperator", {}):
            probs.append(f"Kafka/{name}: no user operator, so its KafkaUsers are never made")
    cluster = site or "single"
    table = json.loads(subprocess.run(["node", str(REPO / "tools/stack/acls.mjs"), "table", "--cluster", cluster],
                                      check=True, capture_output=True, text=True).stdout)
    want = {(b["principal"], b["resource"], b["name"], "prefix" if b["pattern"] == "prefixed" else "literal", b["operation"]) for b in table}
    got = set()
    for name, u in by.get("KafkaUser", {}).items():
        sp = u["spec"]
        if sp.get("authentication", {}).get("type") != "tls":
            probs.append(f"KafkaUser/{name}: authentication is not tls")
        if sp.get("authorization", {}).get("type") != "simple":
            probs.append(f"KafkaUser/{name}: authorization is not simple")
        if u["metadata"].get("labels", {}).get("strimzi.io/cluster") not in kafkas:
            probs.append(f"KafkaUser/{name}: label strimzi.io/cluster names no Kafka in the overlay")
        for acl in sp.get("authorization", {}).get("acls", []):
            r = acl["resource"]
            if acl.get("type", "allow") != "allow" or acl.get("host", "*") != "*":
                probs.append(f"KafkaUser/{name}: an ACL that is not a plain allow from any host: {acl}")
            for op in acl["operations"]:
                got.add((name, r["type"], r.get("name", ""), r.get("patternType", "literal"), op))
    for b in sorted(want - got):
        probs.append(f"KafkaUser {b[0]} lacks {b[4]} on {b[1]} {b[2]} ({b[3]}), which docs/security.md's table grants")
    for b in sorted(got - want):
        probs.append(f"KafkaUser {b[0]} has {b[4]} on {b[1]} {b[2]} ({b[3]}), which docs/security.md's table does not grant")
    for app, env in sorted(envs.items()):
        if app != "migrate" and env.get("KAFKA_SECURITY_PROTOCOL") != "ssl":
            probs.append(f"{app}: KAFKA_SECURITY_PROTOCOL={env.get('KAFKA_SECURITY_PROTOCOL')!r}, not ssl (mutual TLS as its KafkaUser)")
    check(f"k8s/{ov}: every Kafka listener mutual TLS, authorization simple, a user operator; the KafkaUsers are exactly "
          f"docs/security.md's table for {cluster}; every app connects over TLS", probs)


def edge_retention_seconds(topic, kafka):
    """How long a Strimzi KafkaTopic keeps messages: its retention.ms, else its Kafka's log.retention.*, else Kafka's 7 days."""
    t = (topic or {}).get("spec", {}).get("config", {})
    k = (kafka or {}).get("spec", {}).get("kafka", {}).get("config", {})
    for cfg, key, unit in ((t, "retention.ms", 0.001), (k, "log.retention.ms", 0.001), (k, "log.retention.minutes", 60),
                           (k, "log.retention.hours", 3600)):
        if key in cfg:
            return int(int(cfg[key]) * unit)
    return 7 * 86400


def strimzi_checks(ov, site, by, envs, nps, pods, strimzi_brokers, strimzi_mm2):
    """A site's Kafka (Strimzi), its topics, and its end of the link (MirrorMaker 2, network)."""
    kafkas, pools, mm2s = by.get("Kafka", {}), by.get("KafkaNodePool", {}), by.get("KafkaMirrorMaker2", {})
    topics = {t["spec"].get("topicName", n): t for n, t in by.get("KafkaTopic", {}).items()}

    # --- the site's Kafka and topics
    probs = []
    if len(kafkas) != 1:
        probs.append(f"{len(kafkas)} Kafka clusters; a site has exactly one")
    kafka = next(iter(kafkas), None)
    for kind, objs in (("KafkaNodePool", pools), ("KafkaTopic", by.get("KafkaTopic", {}))):
        for n, o in objs.items():
            c = o["metadata"].get("labels", {}).get("strimzi.io/cluster")
            if c not in kafkas:
                probs.append(f"{kind}/{n}: label strimzi.io/cluster={c} names no Kafka in the overlay (the operator ignores it)")
    internal_port = None
    for name, k in kafkas.items():
        cfg = k["spec"]["kafka"].get("config", {})
        if "topicOperator" not in k["spec"].get("entityOperator", {}):
            probs.append(f"Kafka/{name}: no topic operator, so its KafkaTopics are never created")
        if str(cfg.get("auto.create.topics.enable")).lower() != "false":
            probs.append(f"Kafka/{name}: auto.create.topics.enable is not false (a mistyped topic would be made with defaults)")
        if str(cfg.get("unclean.leader.election.enable", "false")).lower() != "false":
            probs.append(f"Kafka/{name}: unclean.leader.election.enable is not false")
        mine = [p["spec"] for p in pools.values() if p["metadata"].get("labels", {}).get("strimzi.io/cluster") == name]
        brokers_n = sum(p["replicas"] for p in mine if "broker" in p["roles"])
        controllers_n = sum(p["replicas"] for p in mine if "controller" in p["roles"])
        if controllers_n < 3 or controllers_n % 2 == 0:
            probs.append(f"Kafka/{name}: {controllers_n} KRaft controllers; an odd number of at least 3 keeps a quorum with one lost")
        for tname, t in topics.items():
            if t["metadata"].get("labels", {}).get("strimzi.io/cluster") == name and t["spec"].get("replicas", 0) > brokers_n:
                probs.append(f"KafkaTopic {tname}: {t['spec'].get('replicas')} replicas but Kafka/{name} has {brokers_n} brokers")
        internal_port = next((p["port"] for p in k["spec"]["kafka"]["listeners"] if p["type"] == "internal"), None)
    for app, env in sorted(envs.items()):
        for host, port in brokers(env.get("KAFKA_BROKERS")):
            if not host.startswith(f"{kafka}-kafka-bootstrap") or port != internal_port:
                probs.append(f"{app}: KAFKA_BROKERS has {host}:{port}, not Kafka/{kafka}'s bootstrap on its internal listener ({internal_port})")

    def topic_rules(name, partitions=None, durable=True, compact=False, who=""):
        t = topics.get(name)
        if not t:
            probs.append(f"no KafkaTopic {name}{who}")
            return
        sp, cfg = t["spec"], t["spec"].get("config", {})
        if partitions is not None and sp.get("partitions") != partitions:
            probs.append(f"KafkaTopic {name}: {sp.get('partitions')} partitions, expected {partitions} (the loader's replica ceiling)")
        if durable:
            isr = int(cfg.get("min.insync.replicas", 1)) if str(cfg.get("min.insync.replicas", 1)).isdigit() else 0
            if sp.get("replicas", 0) < MIN_REPLICAS or isr < MIN_ISR or isr >= sp.get("replicas", 0):
                probs.append(f"KafkaTopic {name}: replicas {sp.get('replicas')}, min.insync.replicas {isr}; expected >= {MIN_REPLICAS} "
                             f"and >= {MIN_ISR} (and below the replicas, or one broker down stops writes)")
            if str(cfg.get("unclean.leader.election.enable", "false")).lower() != "false":
                probs.append(f"KafkaTopic {name}: unclean.leader.election.enable is not false (acknowledged plays could be lost)")
        if compact and cfg.get("cleanup.policy") != "compact":
            probs.append(f"KafkaTopic {name}: cleanup.policy is {cfg.get('cleanup.policy')}, not compact (the key feed keeps each key's latest)")

    if site == "edge":
        ing = envs.get("ingest", {})
        if ing.get("KAFKA_TOPIC") != EDGE_TOPIC:
            probs.append(f"ingest: KAFKA_TOPIC={ing.get('KAFKA_TOPIC')}, expected {EDGE_TOPIC} (the core mirrors and the reporter marks that)")
        topic_rules(EDGE_TOPIC, PARTITIONS, who=" (ingest's KAFKA_TOPIC)")
        if not env_true(ing.get("KAFKA_REQUIRE_REPLICATION")):
            probs.append(f"ingest: KAFKA_REQUIRE_REPLICATION={ing.get('KAFKA_REQUIRE_REPLICATION')}, expected true at the edge")
        keys = f"{CORE_ALIAS}.{KEYS_TOPIC}"
        if ing.get("KAFKA_KEYS_TOPIC") != keys:
            probs.append(f"ingest: KAFKA_KEYS_TOPIC={ing.get('KAFKA_KEYS_TOPIC')}, expected {keys} (the core's {KEYS_TOPIC} as mirrored here)")
        topic_rules(keys, compact=True, who=" (ingest's KAFKA_KEYS_TOPIC)")
        # A link outage must not stop intake before the edge runs out of room to hold it: ingest keeps
        # its keys at least as long as the plays topic keeps plays (else every key gets 503 first).
        retention_s = edge_retention_seconds(topics.get(EDGE_TOPIC), kafkas.get(kafka))
        stale = ing.get("KEY_STALE_SECONDS", "")
        if not stale.isdigit() or int(stale) < retention_s:
            probs.append(f"ingest: KEY_STALE_SECONDS={stale!r} at the edge, below {EDGE_TOPIC}'s retention ({retention_s} s): "
                         "a link outage would stop intake (503 for every key) while the edge could still hold the plays")
    else:
        mirrored = f"{EDGE_ALIAS}.{EDGE_TOPIC}"
        for app in ("loader", "reporter"):
            if envs.get(app, {}).get("KAFKA_TOPIC") != mirrored:
                probs.append(f"{app}: KAFKA_TOPIC={envs.get(app, {}).get('KAFKA_TOPIC')}, expected {mirrored} (the edge's {EDGE_TOPIC} as mirrored here)")
        topic_rules(mirrored, PARTITIONS, who=" (the loader's KAFKA_TOPIC)")
        dlq = envs.get("loader", {}).get("KAFKA_DLQ_TOPIC") or f"{mirrored}-dlq"
        topic_rules(dlq, who=" (the loader's KAFKA_DLQ_TOPIC)")
        if envs.get("loader", {}).get("KAFKA_KEYS_TOPIC") != KEYS_TOPIC:
            probs.append(f"loader: KAFKA_KEYS_TOPIC={envs.get('loader', {}).get('KAFKA_KEYS_TOPIC')}, expected {KEYS_TOPIC} (mirrored to the edge)")
        topic_rules(KEYS_TOPIC, compact=True, who=" (the loader's KAFKA_KEYS_TOPIC)")
        rep = envs.get("reporter", {})
        if rep.get("EDGE_KAFKA_TOPIC") != EDGE_TOPIC:
            probs.append(f"reporter: EDGE_KAFKA_TOPIC={rep.get('EDGE_KAFKA_TOPIC')!r}, expected {EDGE_TOPIC} (the gate marks where ingest writes)")
    check(f"k8s/{ov}: Strimzi: one Kafka with a KRaft quorum, topic operator, no auto-created topics; every KafkaTopic on it; "
          + (f"{EDGE_TOPIC}: {PARTITIONS} partitions, replicas >= {MIN_REPLICAS}, min.insync.replicas >= {MIN_ISR}, unclean election off; "
             f"ingest KAFKA_REQUIRE_REPLICATION=true, keys from {CORE_ALIAS}.{KEYS_TOPIC}, trusted for the plays' retention" if site == "edge" else
             f"loader/reporter KAFKA_TOPIC = {EDGE_ALIAS}.{EDGE_TOPIC} ({PARTITIONS} partitions, replicated), DLQ and compacted "
             f"{KEYS_TOPIC} exist, reporter EDGE_KAFKA_TOPIC = {EDGE_TOPIC}"), probs)

    # --- the link: MirrorMaker 2 flows, and the network between the sites
    probs = []
    flows = {"edge": (CORE_ALIAS, KEYS_TOPIC), "core": (EDGE_ALIAS, EDGE_TOPIC)}  # what flows into each site
    source_alias, topic = flows[site]
    found = []
    for name, m in mm2s.items():
        sp = m["spec"]
        if sp["target"]["alias"] != site:
            probs.append(f"KafkaMirrorMaker2/{name}: target alias {sp['target']['alias']}, expected {site} (it runs at its target)")
        host, port = (brokers(sp["target"]["bootstrapServers"]) or [(None, None)])[0]
        if not str(host).startswith(f"{kafka}-kafka-bootstrap"):
            probs.append(f"KafkaMirrorMaker2/{name}: target {sp['target']['bootstrapServers']} is not this site's Kafka/{kafka}")
        for mirror in sp["mirrors"]:
            cfg = mirror.get("sourceConnector", {}).get("config", {})
            mid = f"KafkaMirrorMaker2/{name} {mirror['source']['alias']}->{sp['target']['alias']}"
            if cfg.get("replication.policy.class", DEFAULT_POLICY) != DEFAULT_POLICY or cfg.get("replication.policy.separator", ".") != ".":
                probs.append(f"{mid}: not DefaultReplicationPolicy with '.': the apps' topic names assume <source alias>.<topic>")
            if str(cfg.get("producer.override.acks")) not in ("all", "-1") or not env_true(cfg.get("producer.override.enable.idempotence")):
                probs.append(f"{mid}: writes are not acks=all and idempotent (a copied play could be lost or reordered)")
            if mirror["source"]["alias"] == source_alias and covers(mirror.get("topicsPattern"), topic):
                found.append(mirror)
            # The source is across the link: the workers must be let out to it.
            for shost, sport in brokers(mirror["source"]["bootstrapServers"]):
                if not egress_allows(nps, strimzi_mm2[name], sport, ipblock=True):
                    probs.append(f"{mid}: no NetworkPolicy lets its pods out to {shost}:{sport} (the other site)")
            if not egress_allows(nps, strimzi_mm2[name], port, ipblock=False):
                probs.append(f"{mid}: no NetworkPolicy lets its pods reach the target {host}:{port}")
    if len(found) != 1:
        probs.append(f"{len(found)} MirrorMaker flows {source_alias}->{site} whose topicsPattern covers {topic}; expected one")
    if site == "core" and found:
        rep = envs.get("reporter", {})
        if rep.get("EDGE_KAFKA_BROKERS") != found[0]["source"]["bootstrapServers"]:
            probs.append(f"reporter: EDGE_KAFKA_BROKERS={rep.get('EDGE_KAFKA_BROKERS')!r}, not the edge's link bootstrap "
                         f"{found[0]['source']['bootstrapServers']} that MirrorMaker reads from")
        rlabels = next((l for _, _, l in pods if l.get("app.kubernetes.io/name") == "reporter"), {})
        for host, port in brokers(rep.get("EDGE_KAFKA_BROKERS")):
            if not egress_allows(nps, rlabels, port, ipblock=True):
                probs.append(f"reporter: no NetworkPolicy lets it out to the edge's {host}:{port} (gate markers)")
    for name, k in kafkas.items():
        links = [l for l in k["spec"]["kafka"]["listeners"] if l["type"] not in ("internal", "cluster-ip")]
        if len(links) != 1:
            probs.append(f"Kafka/{name}: {len(links)} listeners for the other site; expected one (the link)")
        for lis in links:
            cidrs = {p["ipBlock"]["cidr"] for p in lis.get("networkPolicyPeers", []) if "ipBlock" in p}
            ranges = set(lis.get("configuration", {}).get("loadBalancerSourceRanges", []))
            if lis["type"] == "loadbalancer" and ranges != cidrs:
                probs.append(f"Kafka/{name} listener {lis['name']}: loadBalancerSourceRanges {sorted(ranges)} are not its peers {sorted(cidrs)}")
            if lis["type"] in ("loadbalancer", "nodeport") and lis.get("configuration", {}).get("externalTrafficPolicy") != "Local":
                probs.append(f"Kafka/{name} listener {lis['name']}: externalTrafficPolicy is not Local; the brokers would see node "
                             f"addresses, not the other site's, and the ipBlock rules would not match")
            admitted = set()
            for n in nps:
                if matches(n["spec"]["podSelector"].get("matchLabels", {}), strimzi_brokers[name]):
                    for rule in n["spec"].get("ingress", []):
                        if lis["port"] in {p.get("port") for p in rule.get("ports", [])}:
                            admitted |= {p["ipBlock"]["cidr"] for p in rule.get("from", []) if "ipBlock" in p}
            if not cidrs or admitted != cidrs:
                probs.append(f"Kafka/{name} listener {lis['name']}: NetworkPolicies admit {sorted(admitted)} on {lis['port']}, its peers are {sorted(cidrs)}")
    check(f"k8s/{ov}: the link: MirrorMaker {source_alias}->{site} copies {topic} (DefaultReplicationPolicy, acks=all, idempotent) into "
          f"this site's Kafka, its pods may reach both ends; the link listener admits only the other site's range"
          + ("; the reporter's EDGE_KAFKA_BROKERS is the edge's link bootstrap and reachable" if site == "core" else ""), probs)


if __name__ == "__main__":
    sys.exit(main())
