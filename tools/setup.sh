#!/usr/bin/env bash
# Installs what Playlog needs on a fresh machine (Debian/Ubuntu, run as root or with sudo for apt):
# a JDK and Maven for the local Kafka broker, PostgreSQL 15, build tools for node-rdkafka; then the npm
# packages (only when package-lock.json changed) and the TypeScript build. Safe to run any number of times.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { echo "setup: $*"; }

need_apt=()
command -v java >/dev/null || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || need_apt+=(maven)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need_apt+=(postgresql)
command -v make >/dev/null || need_apt+=(build-essential)
command -v python3 >/dev/null || need_apt+=(python3)
# librdkafka's zstd (KAFKA_COMPRESSION=zstd, the default): its build finds libzstd only if the headers are there.
[[ -f /usr/include/zstd.h ]] || need_apt+=(libzstd-dev)
if [[ ${#need_apt[@]} -gt 0 ]]; then
  say "installing ${need_apt[*]} with apt-get"
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' \
  || { echo "setup: Node.js >= 20.19 is required (found $(node -v))" >&2; exit 1; }

# npm ci only when the lockfile changed since the last install (node-rdkafka's native build takes minutes).
# One install at a time: a demo and a test run started together must not both rewrite node_modules.
mkdir -p .stack
exec 8>.stack/setup.lock
command -v flock >/dev/null && flock -w 900 8
stamp=node_modules/.playlog-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" || ! -f node_modules/node-rdkafka/build/Release/node-librdkafka.node ]]; then
  say "installing npm packages (first time: node-rdkafka compiles librdkafka, a few minutes)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
# A node-rdkafka built before libzstd-dev was installed has no zstd: build it again (a few minutes, once).
if ! node -e 'process.exit(require("node-rdkafka").features.includes("zstd") ? 0 : 1)' 2>/dev/null; then
  say "rebuilding node-rdkafka with zstd (a few minutes, once)"
  npm rebuild node-rdkafka --loglevel=error
fi

say "building"
npx tsc -b tsconfig.build.json
node tools/build/bundle.mjs
