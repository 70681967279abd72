#!/usr/bin/env bash
# HTTP benchmark of situd's read routes with wrk (2 threads, 64 connections,
# 10 s each) at a demo scale, plus the daemon's resident memory.
#   scripts/bench/http_bench.sh [SCALE]      (default 1; data under /tmp/situ-bench)
# Prints one line per route: requests/s and latency percentiles.
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE=${1:-1}
BENCH_PORT=${BENCH_PORT:-18090}
. scripts/bench/demo_situd.sh
demo_situd_start "$SCALE" situd.log
echo "scale $SCALE: $(grep -o 'loaded.*' "$WORK/situd.log" | head -1)"
echo "rss_after_start_kb $(awk '/VmRSS/{print $2}' /proc/$PID/status)"
LUA=$(mktemp --suffix=.lua)
cat >"$LUA" <<'LUAEOF'
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
    wrk -t2 -c64 -d${WRK_DURATION:-10s} -s "$LUA" "http://127.0.0.1:$PORT$2" | grep req_per_s
}
run "items limit=100" "/collections/resources/items?limit=100"
run "locate" "/locate?lon=111.61&lat=26.42"
for extra in ${EXTRA_PATHS:-}; do run "$extra" "$extra"; done
echo "rss_after_load_kb $(awk '/VmRSS/{print $2}' /proc/$PID/status)"
rm -f "$LUA"
