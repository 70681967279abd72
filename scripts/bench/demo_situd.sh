# demo_situd.sh: sourced by the HTTP benchmarks. demo_situd_start SCALE LOG
# makes (once) the demo at SCALE and its SpatiaLite file under
# ${BENCH_DIR:-/tmp/situ-bench}/scaleSCALE, starts situd on it at
# ${BENCH_PORT:-a free port} with its log in LOG (a name in that folder),
# and waits until it answers by road too. Sets WORK, PORT, PID; stops situd on exit.
# WRK_DONE_LUA: wrk's done() printing one line: requests/s, latency
# percentiles, errors and non-2xx answers.
WRK_DONE_LUA='
done = function(summary, latency, requests)
  io.write(string.format("  req_per_s=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end'

demo_situd_start() {
    local scale=$1 log=$2
    WORK=${BENCH_DIR:-/tmp/situ-bench}/scale$scale
    PORT=${BENCH_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    mkdir -p "$WORK"
    [ -f "$WORK/demo/manifest.ini" ] || build/situ demo --out "$WORK/demo" --scale "$scale" >/dev/null
    [ -f "$WORK/situ.sqlite" ] || build/situ load --db "$WORK/situ.sqlite" --all "$WORK/demo" >/dev/null
    . scripts/service_user.sh
    situd_user_args "$WORK"
    ${SITUD_BIN:-build/situd} --db "$WORK/situ.sqlite" --listen 127.0.0.1:$PORT --quiet "${SITUD_USER_ARGS[@]}" \
        2>"$WORK/$log" &
    PID=$!
    trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
    for _ in $(seq 1 600); do # answering, with the road graph built behind the port
        curl -sf http://127.0.0.1:$PORT/healthz | grep -qv '"roads":"loading"' && break
        sleep 0.1
    done
    kill -0 $PID 2>/dev/null || { cat "$WORK/$log" >&2; exit 1; } # answered by another situd
}
