#!/usr/bin/env bash
# `npm test [-- TIER...]`: every test tier CI runs, on a real local Kafka and PostgreSQL that it starts.
# Tiers: lint (eslint + prettier + type-check of the tests + knip's unused exports, also with tests not counted as users + no import cycles + the OpenAPI lint), unit (no services), integration (real broker and database),
# e2e (the built apps as processes, and broker outages), faults (fault and fuzz suite: load under broker,
# database and process faults with an oracle, on one site and on two sites joined by MirrorMaker; bad
# requests at scale), security (each part tried as an attacker would: Kafka listeners, ACLs, the signed
# key feed, gate markers, Postgres roles; one site and two), ops (docker/k8s/Prometheus checks).
# Default: all of them, in that order.
# The last line is "N passed, N failed" (assertions, summed over the tiers).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false

tiers=("$@")
[[ ${#tiers[@]} -gt 0 ]] || tiers=(lint unit integration e2e faults security ops)

bash tools/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

needs_stack=false
two_site_last="" # the last tier that needs the two-site stack: it is stopped after that one
for t in "${tiers[@]}"; do
  [[ $t == integration || $t == e2e || $t == faults || $t == security || $t == ops ]] && needs_stack=true
  [[ $t == faults || $t == security ]] && two_site_last=$t
done
if $needs_stack; then
  bash tools/stack/stack.sh up || { echo "0 passed, 1 failed"; exit 1; }
  eval "$(bash tools/stack/stack.sh env)" # tests and apps use the stack this run started
  npm run -s migrate >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
fi

files() { # tier -> test files
  local all
  all=$(find apps libs tools e2e faults -path '*/node_modules' -prune -o -path '*/test/*' -name '*.test.ts' -print | sort)
  case $1 in
    unit) grep -vE '\.(int|e2e|fault|security)\.test\.ts$' <<<"$all" ;;
    integration) grep -E '\.int\.test\.ts$' <<<"$all" ;;
    e2e) grep -E '\.e2e\.test\.ts$' <<<"$all" ;;
    faults) grep -E '\.fault\.test\.ts$' <<<"$all" ;;
    security) grep -E '\.security\.test\.ts$' <<<"$all" ;;
  esac
}

passed=0
failed=0
mkdir -p .tap
for tier in "${tiers[@]}"; do
  echo "== $tier"
  case $tier in
    lint)
      npx nx show projects >/dev/null # the project graph that the module-boundary rule reads
      # knip (knip.json): no export that no other file, test or bench uses, lib entry points included.
      # openapi: docs/openapi.json is what the routes describe, and Redocly's strict rules pass on it.
      if npx eslint . && npx prettier --check . >/dev/null && npx tsc -p tsconfig.json && npx knip && npx knip --production --workspace '!libs/testing' && node tools/lint/import-cycles.mjs && node tools/openapi/openapi.mjs --check; then passed=$((passed + 1)); echo "lint: ok"
      else failed=$((failed + 1)); npx prettier --check . 2>&1 | tail -20; echo "lint: FAILED"; fi
      ;;
    unit | integration | e2e | faults | security)
      mapfile -t list < <(files "$tier")
      if [[ ${#list[@]} -eq 0 ]]; then echo "$tier: no tests"; continue; fi
      log=.tap/$tier.tap
      timeout=120; [[ $tier == unit ]] || timeout=600
      # The faults and security tiers also run on two sites: the edge and core joined by MirrorMaker.
      if [[ $tier == faults || $tier == security ]] && ! PLAYLOG_TOPOLOGY=two-site bash tools/stack/stack.sh up; then
        echo "$tier: the two-site stack did not start"; failed=$((failed + 1)); continue
      fi
      npx tap --reporter=tap --timeout="$timeout" "${list[@]}" 2>&1 | tee "$log" | grep -E '^(not ok|ok|# \{)' || true
      # Its five JVMs are not needed by the tiers after the last that uses them.
      [[ $tier == "$two_site_last" ]] && PLAYLOG_TOPOLOGY=two-site bash tools/stack/stack.sh down >/dev/null
      summary=$(grep -E '^# \{ total: ' "$log" | tail -1)
      p=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary"); f=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
      if [[ -z $summary ]]; then f=1; p=0; echo "$tier: tap printed no summary (crashed?)"; fi
      passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
      ;;
    ops)
      # docker/, k8s/, Prometheus rules and dashboard, checked offline plus a live scrape (ops/check.sh).
      bash ops/check.sh 2>&1 | tee .tap/ops.log | grep -E '^(FAIL|PASS)' || true
      summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' .tap/ops.log | tail -1)
      if [[ -z $summary ]]; then failed=$((failed + 1)); echo "ops: no summary"; tail -20 .tap/ops.log
      else passed=$((passed + ${summary%% *})); f=${summary#*, }; failed=$((failed + ${f%% *})); fi
      ;;
    *) echo "unknown tier $tier (lint, unit, integration, e2e, faults, security, ops)"; failed=$((failed + 1)) ;;
  esac
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
