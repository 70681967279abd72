#!/usr/bin/env bash
# The whole test suite: the same set-up and build as run.sh (warnings are
# errors here), every test with ctest; every libFuzzer target for 30 s
# (scripts/fuzz.sh, two at a time; SITU_NO_FUZZ=1 skips); then the suite again (all but the
# browser test) in a second build with AddressSanitizer, LeakSanitizer and
# UndefinedBehaviorSanitizer, any report being fatal. SITU_NO_SANITIZE=1
# skips the second pass.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh -DSITU_WERROR=ON
if [ ! -f geodata/demo/manifest.ini ]; then
    build/situ demo --out geodata/demo
fi
(cd build && ctest --output-on-failure -j2 "$@")
if [ "${SITU_NO_FUZZ:-0}" != 1 ]; then
    scripts/fuzz.sh -j 2 30
fi
if [ "${SITU_NO_SANITIZE:-0}" != 1 ]; then
    echo "== the suite again under ASan + UBSan (build-asan/)"
    BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo scripts/build.sh -DSITU_WERROR=ON \
        -DSITU_ASAN=ON -DSITU_UBSAN=ON -DSITU_WEB=OFF -DSITU_BENCH=OFF
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
    (cd build-asan && ctest --output-on-failure -j2 "$@")
fi
