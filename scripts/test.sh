#!/usr/bin/env bash
# The whole test suite: format/lint, type check, then every test file with
# node's test runner (its TAP summary is the last thing printed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
echo "== lint and format (biome)"
npx biome ci .
echo "== type check (tsc over the whole workspace; per project: npx nx run-many -t typecheck)"
npx tsc -p tsconfig.json --noEmit
echo "== tests"
mapfile -t files < <(find libs apps test bench -name '*.test.ts' -not -path '*/node_modules/*' | sort)
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
