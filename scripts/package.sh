#!/usr/bin/env bash
# Builds the Debian package situ_<version>_amd64.deb (CPack, the install rules
# at the end of CMakeLists.txt) from the Release build in $BUILD_DIR (build/;
# built first when it is not there), and prints its path. The package's
# contents and maintainer scripts: CMakeLists.txt and scripts/deb/.
#   scripts/package.sh [--lintian]    --lintian: also check it with lintian
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/CPackConfig.cmake" ]; then
    scripts/build.sh
fi
if grep -qE '^SITU_(ASAN|UBSAN|FUZZ):BOOL=ON' "$BUILD_DIR/CMakeCache.txt"; then
    echo "package: $BUILD_DIR is a sanitizer or fuzz build; package a Release build" >&2
    exit 1
fi
cmake --build "$BUILD_DIR" -j"$(nproc)" >/dev/null
(cd "$BUILD_DIR" && cpack -G DEB >/dev/null)
deb=$(ls -t "$BUILD_DIR"/situ_*_amd64.deb | head -1)
if [ "${1:-}" = --lintian ]; then
    lintian --tag-display-limit 0 "$deb" >&2 # exits 1 on an error
fi
echo "$deb"
