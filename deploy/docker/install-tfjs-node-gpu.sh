#!/bin/sh
# Installs @tensorflow/tfjs-node-gpu into /app/node_modules with a libtensorflow
# supplied by the builder (Dockerfile.gpu's build stage runs this).
#   $1  directory that may hold libtensorflow-gpu-linux-x86_64-<version>.tar.gz
# Environment: TFJS_NODE_GPU_VERSION (required), TFJS_NODE_BASE_URI (a mirror
# prefix; used when no tarball is given).
set -eu
tarballs="$1"
: "${TFJS_NODE_GPU_VERSION:?set TFJS_NODE_GPU_VERSION}"
libtf_version=2.9.1
tarball="$tarballs/libtensorflow-gpu-linux-x86_64-$libtf_version.tar.gz"

if [ ! -f "$tarball" ] && [ -z "${TFJS_NODE_BASE_URI:-}" ]; then
  echo "no libtensorflow $libtf_version: put $(basename "$tarball") in" \
    "deploy/docker/libtensorflow/ or pass --build-arg TFJS_NODE_BASE_URI=<mirror prefix>" >&2
  exit 1
fi

# The package's own install script always downloads libtensorflow, so install
# without scripts and run that script below once the library is in place.
npm install --omit=dev --no-save --no-audit --no-fund --ignore-scripts \
  "@tensorflow/tfjs-node-gpu@$TFJS_NODE_GPU_VERSION"

# What an npm lifecycle script would have: node-pre-gyp on PATH, npm's own
# node-gyp and Node's headers from the image (nothing fetched for them).
PATH="/app/node_modules/.bin:$PATH"
npm_config_node_gyp=/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js
npm_config_nodedir=/usr/local
export PATH npm_config_node_gyp npm_config_nodedir

cd /app/node_modules/@tensorflow/tfjs-node-gpu
if [ -f "$tarball" ]; then
  mkdir -p deps
  tar -xzf "$tarball" -C deps
  # Finds deps/lib in place: fetches the prebuilt binding, or compiles it.
  node scripts/install.js gpu
else
  node scripts/install.js gpu download
fi

test -f "deps/lib/libtensorflow.so.$libtf_version" || {
  echo "libtensorflow.so.$libtf_version missing after install" >&2
  exit 1
}
ls lib/napi-v*/tfjs_binding.node >/dev/null 2>&1 || {
  echo "tfjs_binding.node was neither downloaded nor built" >&2
  exit 1
}
echo "tfjs-node-gpu $TFJS_NODE_GPU_VERSION installed with libtensorflow $libtf_version"
