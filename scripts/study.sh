#!/usr/bin/env bash
# The main job: the distillation study on real Fashion-MNIST, all local.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh
exec node apps/cli/bin/vicinal.mjs study "$@"
