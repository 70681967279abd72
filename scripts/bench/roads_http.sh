#!/usr/bin/env bash
# HTTP benchmark of proximity by road (issue 15) with wrk (2 threads, 16
# connections, 10 s each) at a demo scale: /nearest?by=road&k=5 (with and
# without a filter, both directions), /route and a 30-minute /reach, from
# the points of 500 hazards (each request a different one). Prints situd's
# graph build line and one line per route: requests/s, latency percentiles
# and non-2xx answers (points more than 1 km from every road answer 400).
#   scripts/bench/roads_http.sh [SCALE]      (default 1; data under /tmp/situ-bench)
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE=${1:-1}
. scripts/bench/demo_situd.sh
demo_situd_start "$SCALE" situd-roads.log
echo "scale $SCALE: $(grep -o 'roads: graph.*' "$WORK/situd-roads.log" | head -1)"
POINTS=$(curl -sf "http://127.0.0.1:$PORT/collections/hazards/items?limit=500" | python3 -c '
import json, sys
fs = json.load(sys.stdin)["features"]
print(",".join("{%.6f,%.6f}" % tuple(f["geometry"]["coordinates"]) for f in fs))')
DEPOT=$(curl -sf "http://127.0.0.1:$PORT/collections/resources/items?limit=1&category=depot" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["features"][0]["id"])')
LUA=$(mktemp --suffix=.lua)
cat >"$LUA" <<LUAEOF
local pts = {$POINTS}
local i = 0
request = function()
  i = i + 1
  local p = pts[(i * 7919) % #pts + 1]
  local path = string.format(os.getenv("ROADS_PATH"), p[1], p[2])
  return wrk.format("GET", path)
end
done = function(summary, latency, requests)
  io.write(string.format("  req_per_s=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
LUAEOF
run() {
    echo "$1"
    ROADS_PATH="$2" wrk -t2 -c16 -d${WRK_DURATION:-10s} -s "$LUA" "http://127.0.0.1:$PORT/" |
        grep req_per_s
}
run "nearest by road k=5" "/nearest?by=road&k=5&lon=%f&lat=%f"
run "nearest by road k=5 from_point" "/nearest?by=road&k=5&direction=from_point&lon=%f&lat=%f"
run "nearest by road k=5 water_rescue" \
    "/nearest?by=road&k=5&category=team&team_type=water_rescue&lon=%f&lat=%f"
run "nearest by road k=5 route=1" "/nearest?by=road&k=5&route=1&lon=%f&lat=%f"
run "nearest straight k=5 (for comparison)" "/nearest?k=5&lon=%f&lat=%f"
run "route to $DEPOT" "/route?to=$DEPOT&from_lon=%f&from_lat=%f"
run "reach 30 min" "/reach?minutes=30&lon=%f&lat=%f"
rm -f "$LUA"
