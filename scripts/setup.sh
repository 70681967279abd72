#!/usr/bin/env bash
# Installs the Debian packages situ builds, tests and runs with. Idempotent:
# installs only what is missing, and runs `apt-get update` at most once.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config git ca-certificates
    libgdal-dev gdal-bin libproj-dev proj-bin libgeos-dev
    libsqlite3-dev sqlite3 libspatialite-dev libsqlite3-mod-spatialite
    libmicrohttpd-dev libprotobuf-c-dev protobuf-c-compiler
    libjansson-dev libxml2-dev libinih-dev libcmocka-dev zlib1g-dev
    python3 curl
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
