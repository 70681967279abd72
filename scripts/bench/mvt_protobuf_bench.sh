#!/usr/bin/env bash
# The hand-written MVT writer against protobuf-c on the same tiles (issue 21).
# protobuf-c is no dependency of situ: this script installs it when missing
# (libprotobuf-c-dev, protobuf-c-compiler), compiles vector_tile.proto with
# protoc-c into a temporary folder and builds mvt_protobuf_bench.c there
# against build/libsitu_core.a. It loads geodata/demo into a temporary store
# (or takes $SITU_DB), cuts every `all` tile over the demo city at zooms
# $ZOOMS (default 8..13), then prints bytes and microseconds per tile for
# each writer, and with CALLGRIND=1 the instructions of each writer's encode
# (valgrind --tool=callgrind, inclusive Ir of bench_hand / bench_protobuf).
#   scripts/bench/mvt_protobuf_bench.sh [PASSES]
set -euo pipefail
cd "$(dirname "$0")/../.."
PASSES=${1:-20}
ZOOMS=${ZOOMS:-"8 9 10 11 12 13"}
need=()
for p in libprotobuf-c-dev protobuf-c-compiler; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[ -f build/libsitu_core.a ] || scripts/build.sh
tmp=$(mktemp -d /tmp/mvt_protobuf_bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
protoc-c --proto_path=scripts/bench --c_out="$tmp" vector_tile.proto
deps="gdal proj geos sqlite3 spatialite libmicrohttpd jansson libxml-2.0 inih zlib libprotobuf-c"
# shellcheck disable=SC2046,SC2086
cc -O2 -std=gnu11 -Iinclude -I"$tmp" -o "$tmp/mvt_protobuf_bench" \
    scripts/bench/mvt_protobuf_bench.c "$tmp/vector_tile.pb-c.c" build/libsitu_core.a \
    $(pkg-config --cflags --libs $deps) -lm -lpthread
db=${SITU_DB:-}
if [ -z "$db" ]; then
    db=$tmp/demo.sqlite
    build/situ load --db "$db" --all geodata/demo >/dev/null
fi
# Every tile over the demo city's box (lon 111.09..112.36, lat 24.69..26.83).
python3 - "$ZOOMS" >"$tmp/tiles.txt" <<'PY'
import math, sys
def tile(lon, lat, z):
    n = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
    return int((lon + 180) / 360 * n), int(y * n)
for z in map(int, sys.argv[1].split()):
    (x0, y0), (x1, y1) = tile(111.09, 26.83, z), tile(112.36, 24.69, z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            print(f"{z}/{x}/{y}")
PY
echo "# $(wc -l <"$tmp/tiles.txt") tiles at zooms $ZOOMS; $PASSES passes each"
"$tmp/mvt_protobuf_bench" --db "$db" --tiles "$tmp/tiles.txt" --passes "$PASSES"
if [ "${CALLGRIND:-0}" = 1 ]; then
    for w in hand protobuf; do
        fn=bench_$w
        valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$w" --toggle-collect="$fn" \
            "$tmp/mvt_protobuf_bench" --db "$db" --tiles "$tmp/tiles.txt" --passes 1 --only "$w" \
            >/dev/null 2>&1
        ir=$(callgrind_annotate "$tmp/cg.$w" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
        echo "callgrind_$w Ir=$ir (2 encodes of every tile: the check and 1 pass)"
    done
fi
