#!/usr/bin/env bash
# The whole test suite: the same set-up and build as run.sh (warnings are
# errors here), then every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh -DSITU_WERROR=ON
if [ ! -f geodata/demo/manifest.ini ]; then
    build/situ demo --out geodata/demo
fi
cd build
ctest --output-on-failure -j2 "$@"
