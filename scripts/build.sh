#!/usr/bin/env bash
# Configures (once) and builds with the given CMake preset (default: release). ccache makes a
# rebuild after a clean clone cheap.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
shift || true
if [ ! -f "build/$preset/build.ninja" ]; then
  cmake --preset "$preset" >/dev/null
fi
# Paths relative to the checkout, so a clone elsewhere still hits the cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(pwd)}
cmake --build --preset "$preset" "$@"
