#!/usr/bin/env python3
"""Checks one rendered overlay (kustomize build output): schemas, then Playlog's operational rules.

usage: k8s_manifests.py OVERLAY RENDERED.yaml ENV_OUT.json [--external-secret NAME]...
Prints PASS/FAIL lines. Writes ENV_OUT.json: each app container's resolved environment, for
ops/lib/app-env.mjs to check against the apps' own config loaders.
"""
import argparse
import base64
import json
import pathlib
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
}
APPS = {  # container name -> (command, probe port env var, port)
    "ingest": (["node", "apps/ingest/dist/main.js"], "PORT", 8080),
    "loader": (["node", "apps/loader/dist/main.js"], "LOADER_PORT", 9091),
    "reporter": (["node", "apps/reporter/dist/main.js", "run"], None, None),
    "migrate": (["node", "libs/db/dist/migrate-cli.js"], None, None),
}
PARTITIONS = 6  # play-logs partitions (tools/stack/stack.sh, docker/compose.yaml, local topics Job)

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

    # --- schemas
    probs, skipped = [], []
    for d in docs:
        ident = f'{d["kind"]}/{d["metadata"]["name"]}'
        crd = CRD_SCHEMAS.get((d["apiVersion"], d["kind"]))
        if crd:
            schema = json.loads((REPO / "ops/schemas" / crd).read_text())
            errs = sorted(jsonschema.Draft202012Validator(schema).iter_errors(d), key=str)
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
          f"{len(skipped)} CRD objects ({', '.join(sorted(set(skipped))) or 'none'}) against ops/schemas", probs)

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
            if c.get("command", []) + c.get("args", []) != cmd:
                probs.append(f"{cid}: command {c.get('command')} {c.get('args', '')} is not {cmd}")
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
    missing = set(APPS) - seen
    if missing:
        probs.append(f"no container for {sorted(missing)}")
    check(f"k8s/{ov}: app commands are the real ones, probes on /healthz and /readyz at the apps' ports, "
          f"every ConfigMap/Secret reference resolves", probs)
    pathlib.Path(a.env_out).write_text(json.dumps(envs, indent=1))

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
    for want in ("ingest", "loader"):
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
    for dep in ("ingest", "loader"):
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
        common = next((v for k, v in cms.items() if k.startswith("playlog-common")), {})
        for key, var in (("bootstrapServers", "KAFKA_BROKERS"), ("consumerGroup", "KAFKA_GROUP_ID"), ("topic", "KAFKA_TOPIC")):
            if md.get(key) != common.get(var):
                probs.append(f"ScaledObject/{so['metadata']['name']}: {key}={md.get(key)} but the apps' {var}={common.get(var)}")
    ing = by.get("HorizontalPodAutoscaler", {}).get("ingest")
    if ing:
        types = {(m["type"], (m.get("resource") or m.get("pods") or {}).get("name") or (m.get("pods") or {}).get("metric", {}).get("name")) for m in ing["spec"]["metrics"]}
        if ("Resource", "cpu") not in types or ("Pods", "playlog_http_requests_per_second") not in types:
            probs.append(f"HPA/ingest: metrics {sorted(types)} lack CPU or the request-rate Pods metric")
    check(f"k8s/{ov}: one autoscaler each for ingest and loader; loader at most {PARTITIONS} replicas; KEDA trigger matches the apps' Kafka settings", probs)

    # --- reporter CronJob and migration Job
    probs = []
    cj = by.get("CronJob", {}).get("reporter")
    if not cj:
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
        pod = js["template"]["spec"]
        c = pod["containers"][0]
        rdir = envs.get("reporter", {}).get("REPORT_DIR")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        vol = next((v for v in pod.get("volumes", []) if v["name"] == mounts.get(rdir)), None)
        if not vol or "persistentVolumeClaim" not in vol:
            probs.append(f"REPORT_DIR {rdir} is not on a PersistentVolumeClaim")
        elif vol["persistentVolumeClaim"]["claimName"] not in by.get("PersistentVolumeClaim", {}):
            probs.append(f"PVC {vol['persistentVolumeClaim']['claimName']} is not in the overlay")
    if "migrate" not in by.get("Job", {}):
        probs.append("no Job/migrate")
    check(f"k8s/{ov}: reporter CronJob (Forbid, history limits, backoffLimit, REPORT_DIR on a PVC) and migration Job", probs)

    # --- network policies: default deny; only ingest open to the world; data stores only for the apps
    probs = []
    nps = list(by.get("NetworkPolicy", {}).values())
    deny = [n for n in nps if n["spec"]["podSelector"] == {} and set(n["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
            and not n["spec"].get("ingress") and not n["spec"].get("egress")]
    if not deny:
        probs.append("no default-deny NetworkPolicy (Ingress and Egress)")
    open_to = set()
    for d, _, labels in pods:
        for n in nps:
            if matches(n["spec"]["podSelector"].get("matchLabels", {}), labels):
                for rule in n["spec"].get("ingress", []):
                    if not rule.get("from"):
                        open_to.add(labels.get("app.kubernetes.io/name"))
    if open_to != {"ingest"}:
        probs.append(f"pods reachable from anywhere: {sorted(open_to)}; expected only ingest")
    clients = {l.get("app.kubernetes.io/name") for _, _, l in pods if l.get("playlog.io/data-client") == "true"}
    for app in APPS:
        if app not in clients:
            probs.append(f"{app} pods lack the playlog.io/data-client label that lets them reach Kafka/Postgres")
    for n in nps:
        sel = n["spec"]["podSelector"].get("matchLabels", {})
        if sel.get("app.kubernetes.io/name") in ("kafka", "postgres"):
            for rule in n["spec"].get("ingress", []):
                for peer in rule.get("from", []):
                    ok = (peer.get("podSelector", {}).get("matchLabels") in ({"playlog.io/data-client": "true"}, {"app.kubernetes.io/name": sel["app.kubernetes.io/name"]})
                          and "namespaceSelector" not in peer) or peer.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": "keda"}
                    if not ok:
                        probs.append(f"NetworkPolicy/{n['metadata']['name']}: admits {peer}")
    check(f"k8s/{ov}: NetworkPolicies: default deny, only ingest reachable from outside, Kafka/Postgres only from the apps", probs)

    for name, problems in results:
        print(("PASS " if not problems else "FAIL ") + name)
        for p in problems:
            print(f"    - {p}")
    return 0 if all(not p for _, p in results) else 1


if __name__ == "__main__":
    sys.exit(main())
