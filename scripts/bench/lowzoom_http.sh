#!/usr/bin/env bash
# Low-zoom tiles over HTTP at a demo scale (#20): every `all` tile z0..z8
# over the townships' bounds (at most 48 a zoom), each asked once cold (the
# first request after situd started, with gzip) and then 3 times warm from
# the cache, with curl's own timings. Prints per zoom the tiles, cold p99
# and max ms, warm p99 ms and the largest gzip body, then a wrk run on the
# warm z5 tiles.
#   scripts/bench/lowzoom_http.sh [SCALE]    (default 10; data under /tmp/situ-bench)
# SITUD_BIN runs another build of situd (e.g. a checkout before a change).
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE=${1:-10}
. scripts/bench/demo_situd.sh
demo_situd_start "$SCALE" situd-lowzoom.log
BASE="http://127.0.0.1:$PORT"
TILES=$(mktemp)
curl -sf "$BASE/tiles/all.json" | python3 -c '
import json, math, sys
b = json.load(sys.stdin)["bounds"]
def tile(lon, lat, z):
    n = 2 ** z
    s = math.sin(math.radians(lat))
    return int((lon + 180) / 360 * n), int((0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n)
for z in range(9):
    x0, y0 = tile(b[0], b[3], z)
    x1, y1 = tile(b[2], b[1], z)
    w, h = x1 - x0 + 1, y1 - y0 + 1
    step = max(1, (w * h + 47) // 48)
    for i in range(0, w * h, step):
        print(z, x0 + i % w, y0 + i // w)
' >"$TILES"
curl -sf -o /dev/null "$BASE/tiles/all/14/13272/6850.mvt" || true # prepares every collection
ask() { # z x y -> "z ms bytes"
    curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w "$1 %{time_total} %{size_download}\n" \
        "$BASE/tiles/all/$1/$2/$3.mvt"
}
COLD=$(mktemp) WARM=$(mktemp)
while read -r z x y; do ask "$z" "$x" "$y" >>"$COLD"; done <"$TILES"
for _ in 1 2 3; do while read -r z x y; do ask "$z" "$x" "$y" >>"$WARM"; done <"$TILES"; done
python3 - "$COLD" "$WARM" <<'EOF'
import sys
def load(p):
    by = {}
    for line in open(p):
        z, t, n = line.split()
        by.setdefault(int(z), []).append((float(t) * 1e3, int(n)))
    return by
def p99(v):
    v = sorted(v)
    return v[min(len(v) - 1, int(0.99 * len(v) + 0.5))]
cold, warm = load(sys.argv[1]), load(sys.argv[2])
print("zoom tiles cold_p99_ms cold_max_ms warm_p99_ms max_gzip_bytes")
for z in sorted(cold):
    c, w = [t for t, _ in cold[z]], [t for t, _ in warm[z]]
    print(f"{z} {len(c)} {p99(c):.1f} {max(c):.1f} {p99(w):.2f} {max(n for _, n in cold[z])}")
EOF
Z5=$(awk '$1 == 5 {print; exit}' "$TILES")
if [ -n "$Z5" ] && command -v wrk >/dev/null; then
    set -- $Z5
    LUA=$(mktemp --suffix=.lua)
    echo "$WRK_DONE_LUA" >"$LUA"
    echo "wrk warm /tiles/all/$1/$2/$3.mvt (gzip)"
    wrk -t2 -c16 -d${WRK_DURATION:-5s} -H 'Accept-Encoding: gzip' -s "$LUA" \
        "$BASE/tiles/all/$1/$2/$3.mvt" | grep req_per_s
    rm -f "$LUA"
fi
rm -f "$TILES" "$COLD" "$WARM"
