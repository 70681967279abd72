#!/usr/bin/env bash
# cluster_load.sh: `situ load --all` and `situ migrate` into PostgreSQL (a
# throwaway pgtemp server) against `situ load --all` into SpatiaLite, timed
# with /usr/bin/time -v (wall s, max RSS of the situ process).
#
#   scripts/bench/cluster_load.sh DEMO_DIR [BUILD_DIR]
#
# DEMO_DIR is `situ demo --scale N --out DEMO_DIR --geodata geodata`. Note that
# pgtemp runs with fsync off (tests/pg/pgtemp.sh): the PostgreSQL figures are
# the loader's and the server's work, not a disk's flushes (the commit is one).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEMO=${1:?usage: cluster_load.sh DEMO_DIR [BUILD_DIR]}
BUILD=${2:-$ROOT/build}
SITU=$BUILD/situ
WORK=$(mktemp -d /tmp/situ-cluster-load.XXXXXX)
chmod 755 "$WORK"
PGDIR=""
cleanup() {
    [ -z "$PGDIR" ] || "$ROOT/tests/pg/pgtemp.sh" stop "$PGDIR" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# timed LABEL CMD...: runs CMD, prints "LABEL  wall_s  maxrss_MiB"
timed() {
    local label=$1
    shift
    /usr/bin/time -v -o "$WORK/time" "$@" >"$WORK/out" 2>&1 || {
        cat "$WORK/out" >&2
        echo "$label failed" >&2
        exit 1
    }
    awk -v l="$label" -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
        /Maximum resident set size/ { r = $2 / 1024 }
        END { printf "%-34s %8.1f s %8.0f MiB\n", l, s, r }' "$WORK/time"
}

out=$("$ROOT/tests/pg/pgtemp.sh" start)
URL=$(echo "$out" | sed -n 1p)
PGDIR=$(echo "$out" | sed -n 2p)
psql_q() { psql -X -q -d "$URL" -c "$1" >/dev/null; }

echo "load of $DEMO ($(du -sh "$DEMO" | cut -f1)), $(git -C "$ROOT" rev-parse --short HEAD)"
"$SITU" init --db "$WORK/store.sqlite" >/dev/null
timed "load --all  SpatiaLite" "$SITU" load --db "$WORK/store.sqlite" --all "$DEMO"
"$SITU" init --db "$URL" >/dev/null
timed "load --all  PostgreSQL" "$SITU" load --db "$URL" --all "$DEMO"
psql_q "CREATE DATABASE mig"
MIG=${URL%/situ}/mig
"$SITU" init --db "$MIG" >/dev/null
timed "migrate SpatiaLite -> PostgreSQL" "$SITU" migrate --from "$WORK/store.sqlite" --to "$MIG"
timed "migrate PostgreSQL -> SpatiaLite" "$SITU" migrate --from "$URL" --to "$WORK/back.sqlite"
