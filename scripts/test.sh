#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test with ctest.
# VIGIL_PRESET=debug-asan runs the suite under AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${VIGIL_PRESET:-release}
bash scripts/install-deps.sh all
bash scripts/build.sh "$preset"
ctest --preset "$preset" --timeout 900
