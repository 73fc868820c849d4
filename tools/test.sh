#!/usr/bin/env bash
# `npm test [-- TIER...]`: every test tier CI runs, on a real local Kafka and PostgreSQL that it starts.
# Tiers: lint (eslint + prettier), unit (no services), integration (real broker and database),
# e2e (the built apps as processes, and broker outages). Default: all of them, in that order.
# The last line is "N passed, N failed" (assertions, summed over the tiers).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false

tiers=("$@")
[[ ${#tiers[@]} -gt 0 ]] || tiers=(lint unit integration e2e)

bash tools/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

needs_stack=false
for t in "${tiers[@]}"; do [[ $t == integration || $t == e2e ]] && needs_stack=true; done
if $needs_stack; then
  bash tools/stack/stack.sh up || { echo "0 passed, 1 failed"; exit 1; }
  eval "$(bash tools/stack/stack.sh env)" # tests and apps use the stack this run started
  npm run -s migrate >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
fi

files() { # tier -> test files
  local all
  all=$(find apps libs tools e2e -path '*/node_modules' -prune -o -path '*/test/*' -name '*.test.ts' -print | sort)
  case $1 in
    unit) grep -vE '\.(int|e2e)\.test\.ts$' <<<"$all" ;;
    integration) grep -E '\.int\.test\.ts$' <<<"$all" ;;
    e2e) grep -E '\.e2e\.test\.ts$' <<<"$all" ;;
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
      if npx eslint . && npx prettier --check . >/dev/null; then passed=$((passed + 1)); echo "lint: ok"
      else failed=$((failed + 1)); npx prettier --check . 2>&1 | tail -20; echo "lint: FAILED"; fi
      ;;
    unit | integration | e2e)
      mapfile -t list < <(files "$tier")
      if [[ ${#list[@]} -eq 0 ]]; then echo "$tier: no tests"; continue; fi
      log=.tap/$tier.tap
      timeout=120; [[ $tier == unit ]] || timeout=600
      npx tap --reporter=tap --timeout="$timeout" "${list[@]}" 2>&1 | tee "$log" | grep -E '^(not ok|ok|# \{)' || true
      summary=$(grep -E '^# \{ total: ' "$log" | tail -1)
      p=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary"); f=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
      if [[ -z $summary ]]; then f=1; p=0; echo "$tier: tap printed no summary (crashed?)"; fi
      passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
      ;;
    *) echo "unknown tier $tier (lint, unit, integration, e2e)"; failed=$((failed + 1)) ;;
  esac
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
