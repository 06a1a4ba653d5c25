#!/usr/bin/env bash
# The whole test suite: format/lint, type check, then every test file with
# node's test runner (its TAP summary is the last thing printed). With
# arguments (test files, e.g. `npm test -- libs/bus/src/bus.test.ts`), only
# those files run, after the same dependency check, without lint and tsc.
set -euo pipefail
cd "$(dirname "$0")/.."
# Tools only the tests use, installed with the rest (or named when missing):
# kubectl renders the Kubernetes manifests, openssl makes test certificates,
# promtool checks the Prometheus example's config and rules.
for tool in kubectl:kubernetes-client openssl:openssl promtool:prometheus; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || VICINAL_EXTRA_DEBS="${VICINAL_EXTRA_DEBS:-} ${tool##*:}"
done
export VICINAL_EXTRA_DEBS="${VICINAL_EXTRA_DEBS:-}"
source scripts/ensure-deps.sh
if [ "$#" -gt 0 ]; then
  for file in "$@"; do
    case "$file" in
      *.test.ts) ;;
      *) echo "npm test: $file is not a test file (expected a path ending in .test.ts, like libs/bus/src/bus.test.ts)" >&2; exit 2 ;;
    esac
    [ -f "$file" ] || { echo "npm test: no test file $file (expected a path like libs/bus/src/bus.test.ts)" >&2; exit 2; }
  done
  exec node --import tsx --test --test-concurrency=1 --test-timeout=1800000 "$@"
fi
echo "== lint and format (biome)"
npx biome ci .
echo "== type check (tsc over the whole workspace; per project: npx nx run-many -t typecheck)"
npx tsc -p tsconfig.json --noEmit
echo "== tests"
mapfile -t files < <(find libs apps test bench -name '*.test.ts' -not -path '*/node_modules/*' | sort)
# A test file that hangs fails after 30 minutes (a whole run takes about 6;
# the slowest single test allows itself 15) instead of holding CI until its limit.
exec node --import tsx --test --test-concurrency=1 --test-timeout=1800000 "${files[@]}"
