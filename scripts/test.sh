#!/usr/bin/env bash
# The whole test suite: the same set-up and build as run.sh (warnings are
# errors here), and a second build with AddressSanitizer, LeakSanitizer and
# UndefinedBehaviorSanitizer (build-asan/, any report fatal). Every test runs
# once, in the build that tells the most: under the sanitizers when that
# build has it (every C path of libsitu, situ and situd), else in the plain
# build (the browser, QGIS, the Patroni cluster, the package: not in the
# sanitizer build). Then every libFuzzer target for 30 s, two at a time
# (scripts/fuzz.sh; SITU_NO_FUZZ=1 skips). SITU_NO_SANITIZE=1 skips the
# sanitizer build and runs every test in the plain one; SITU_CI_TWICE=1 runs
# the sanitizer build's tests in the plain build too. Arguments go to ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh -DSITU_WERROR=ON
if [ ! -f geodata/demo/manifest.ini ]; then
    build/situ demo --out geodata/demo
fi
sanitize=$([ "${SITU_NO_SANITIZE:-0}" = 1 ] && echo 0 || echo 1)
plain_only=()
if [ "$sanitize" = 1 ]; then
    echo "== the sanitizer build (build-asan/: ASan, LSan, UBSan)"
    BUILD_DIR=build-asan BUILD_TYPE=RelWithDebInfo scripts/build.sh -DSITU_WERROR=ON \
        -DSITU_ASAN=ON -DSITU_UBSAN=ON -DSITU_WEB=OFF -DSITU_BENCH=OFF
    if [ "${SITU_CI_TWICE:-0}" != 1 ]; then
        # the tests the sanitizer pass runs, as one anchored regex for -E
        names=$(cd build-asan && ctest -N | sed -n 's/^ *Test *#[0-9]*: *//p' | sed 's/\./\\./g' |
            paste -sd'|')
        [ -n "$names" ] && plain_only=(-E "^($names)\$")
    fi
fi
echo "== the plain build's tests${plain_only[*]:+ (those the sanitizer build lacks)}"
(cd build && ctest --output-on-failure -j2 "${plain_only[@]}" "$@")
if [ "${SITU_NO_FUZZ:-0}" != 1 ]; then
    scripts/fuzz.sh -j 2 30
fi
if [ "$sanitize" = 1 ]; then
    echo "== the suite under ASan + UBSan (build-asan/)"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
    (cd build-asan && ctest --output-on-failure -j2 "$@")
fi
