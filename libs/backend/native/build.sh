#!/usr/bin/env bash
# Builds vicinal's optional native CPU kernels (a Node addon over Debian's
# oneDNN) into libs/backend/native/build. Installs libdnnl-dev, g++ and make
# with apt-get when run as root; rebuilds only when the sources, Node's ABI or
# the oneDNN package changed (stamp file). Never fails: when the addon cannot
# be built it says why and vicinal runs on its wasm kernels.
# Usage: bash libs/backend/native/build.sh [--force]
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out="$here/build"
stamp="$out/.vicinal-stamp"
addon="$out/Release/vicinal_native.node"
say() { echo "native kernels: $*" >&2; }

if [ "${VICINAL_NATIVE_KERNELS:-1}" = 0 ]; then
  say "VICINAL_NATIVE_KERNELS=0, not building"
  exit 0
fi

missing=()
dpkg -s libdnnl-dev >/dev/null 2>&1 || [ -f /usr/include/oneapi/dnnl/dnnl.hpp ] || missing+=(libdnnl-dev)
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: ${missing[*]}"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
      say "apt-get could not install ${missing[*]}; not built, using the wasm kernels"
      exit 0
    fi
  else
    say "missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]}); not built, using the wasm kernels"
    exit 0
  fi
fi

# node-gyp as shipped with npm, against this Node's own headers (no download).
gyp=""
for candidate in "$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js" \
  /usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js \
  /usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js; do
  if [ -f "$candidate" ]; then gyp=$candidate; break; fi
done
if [ -z "$gyp" ]; then
  say "node-gyp (part of npm) not found; not built, using the wasm kernels"
  exit 0
fi
nodedir=$(npm config get nodedir 2>/dev/null || true)
if [ -z "$nodedir" ] || [ "$nodedir" = undefined ] || [ ! -f "$nodedir/include/node/node_api.h" ]; then
  nodedir=$(dirname "$(dirname "$(node -p process.execPath)")")
fi
if [ ! -f "$nodedir/include/node/node_api.h" ]; then
  say "Node headers (include/node/node_api.h) not found under $nodedir; not built, using the wasm kernels"
  exit 0
fi

# What the build depends on: the sources, Node's module ABI, oneDNN's version.
want=$(
  cd "$here" &&
    cat binding.gyp src/*.cc src/*.h | sha256sum | cut -d' ' -f1
  node -p 'process.versions.modules + " " + process.version'
  dpkg-query -W -f='${Version}' libdnnl-dev 2>/dev/null || true
)
if [ "${1:-}" != --force ] && [ -f "$addon" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

say "building (oneDNN, node-gyp) ..."
mkdir -p "$out"
log="$here/build.log"  # outside build/, which node-gyp rebuild deletes
rm -f "$stamp"
if (cd "$here" && node "$gyp" rebuild --nodedir="$nodedir" --jobs=2) >"$log" 2>&1 &&
  node -e 'require(process.argv[1]).info()' "$addon" >>"$log" 2>&1; then
  printf '%s' "$want" >"$stamp"
  say "built $addon"
else
  say "build failed; using the wasm kernels. Last lines of $log:"
  tail -n 15 "$log" >&2
fi
exit 0
