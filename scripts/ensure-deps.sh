#!/usr/bin/env bash
# Installs what vicinal needs on a Debian machine with Node 20, or says exactly
# what is missing. Sourced by scripts/study.sh and scripts/test.sh.
set -euo pipefail

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "vicinal needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

missing_debs=()
[ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null 2>&1 || missing_debs+=(nats-server)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing_debs+=(dataset-fashion-mnist)
for extra in ${VICINAL_EXTRA_DEBS:-}; do
  dpkg -s "$extra" >/dev/null 2>&1 || missing_debs+=("$extra")
done
if [ ${#missing_debs[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing_debs[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing_debs[@]}" >/dev/null
  else
    echo "missing Debian packages: ${missing_debs[*]}" >&2
    echo "install them with: sudo apt-get install ${missing_debs[*]}" >&2
    exit 1
  fi
fi

# npm dependencies exactly as locked; reinstalled when the lockfile changed
# (npm ci and npm install write the stamp too: the postinstall script).
stamp=node_modules/.vicinal-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "installing npm dependencies from package-lock.json" >&2
  npm ci --no-audit --no-fund >&2
  cp package-lock.json "$stamp"
fi

# vicinal's native CPU kernels (optional): built once per source change;
# when they cannot be built this says why and libs/backend uses wasm kernels.
bash "$(dirname "${BASH_SOURCE[0]}")/../libs/backend/native/build.sh"
