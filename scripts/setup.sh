#!/usr/bin/env bash
# Installs the Debian packages situ builds, tests and runs with. Idempotent:
# installs only what is missing, and runs `apt-get update` at most once.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config git ca-certificates
    libgdal-dev gdal-bin libproj-dev proj-bin libgeos-dev
    libsqlite3-dev sqlite3 libspatialite-dev libsqlite3-mod-spatialite
    libpq-dev
    libmicrohttpd-dev
    libjansson-dev libxml2-dev libinih-dev libcmocka-dev zlib1g-dev
    libdeflate-dev # gzip in one call (tiles, JSON answers), the tile cache's CRC-32 and Adler-32 (SIMD)
    libxxhash-dev # the snapshot digest: XXH3-128 of every feature, summed (layers/snapshot/digest.c)
    python3 curl
    tzdata # situd judges deadlines on the day of its [web] timezone (situ_store_day)
    clang libclang-rt-dev # libFuzzer, for scripts/fuzz.sh
    libsystemd-dev systemd # systemd-analyze verify, in test_service.py
    lintian # tests/pkg/test_package.py checks the .deb
    python3-qgis qgis-providers # tests/qgis/test_qgis.py: QGIS 3.22 headless, the real client
    # PostgreSQL store (#17): the server and PostGIS for tests/pg/pgtemp.sh,
    # libpq for libsitu, psql, psycopg2 for the Python tests
    postgresql-15 postgresql-15-postgis-3 postgresql-client-15 libpq-dev python3-psycopg2
    # scripts/cluster.sh: Patroni with its etcd v3 DCS (Debian's patroni takes
    # python3-etcd for it), etcd's server and etcdctl
    patroni python3-etcd etcd-server etcd-client
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

# --- services the packages above enable: etcd.service (port 2379) and
# patroni.service (inert without /etc/patroni/config.yml) are not ours, and are
# disabled where systemd runs; scripts/cluster.sh starts its own etcd and
# Patroni. postgresql.service is left as Debian sets it up (cluster 15/main on
# port 5432, started where systemd runs): nothing of situ uses it or that port,
# since tests/pg/pgtemp.sh and scripts/cluster.sh run their own servers.
if [ -d /run/systemd/system ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    for unit in etcd.service patroni.service; do
        if systemctl is-enabled --quiet "$unit" 2>/dev/null; then
            $SUDO systemctl disable --now "$unit" >/dev/null 2>&1 || true
        fi
    done
fi

# --- promtool (tests/monitoring): only Debian's prometheus ships it. Its
# server is not wanted here: where systemd runs, the unit the package enables
# is disabled and stopped again.
if ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed"; then
    echo "setup: installing prometheus (for promtool)"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    [ ${#missing[@]} -gt 0 ] || $SUDO apt-get update -qq
    missing+=(prometheus) # apt-get update has run
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    if [ -d /run/systemd/system ]; then
        $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
fi

# --- map wall: node, npm, chromium, a CJK font; npm ci in daemon/web ---
# The page takes maplibre-gl from npm and its browser test drives Debian's
# chromium with playwright-core; labels render with a local CJK font; /api's
# test validates with @apidevtools/swagger-parser and ajv (devDependencies). node and
# npm are installed from Debian only when missing (a machine may already have
# newer ones). npm ci runs only when node_modules/.situ-lock (the copy of the
# lock it last installed, also kept by CMake's web target) differs from
# package-lock.json.
web_missing=()
command -v node >/dev/null 2>&1 || web_missing+=(nodejs)
command -v npm >/dev/null 2>&1 || web_missing+=(npm)
for p in chromium fonts-noto-cjk; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || web_missing+=("$p")
done
if [ ${#web_missing[@]} -gt 0 ]; then
    echo "setup: installing ${web_missing[*]}"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    [ ${#missing[@]} -gt 0 ] || $SUDO apt-get update -qq # at most once per run
    $SUDO apt-get install -y -qq --no-install-recommends "${web_missing[@]}" >/dev/null
fi
web_dir="$(cd "$(dirname "$0")/.." && pwd)/daemon/web"
if ! cmp -s "$web_dir/package-lock.json" "$web_dir/node_modules/.situ-lock"; then
    echo "setup: npm ci in daemon/web"
    (cd "$web_dir" && npm ci --no-audit --no-fund --loglevel=error &&
        cp package-lock.json node_modules/.situ-lock)
fi
