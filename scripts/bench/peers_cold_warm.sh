#!/usr/bin/env bash
# peers_cold_warm.sh: the peer harness (../shared/bench/run_peers.sh, or
# $RUN_PEERS) twice on the demo at SCALE: once with situd's tile cache made
# too small to hit ([tiles] cache_mb = 0: every tile is cut when asked, a
# cold tile) and once warm (the default cache), then the ratios issue #20
# asks for, from each run alone: HTTP tiles -c1 vs PostGIS ST_AsMVT, the
# in-process k-nearest vs geokdbush and the filtered one like for like
# (situ filtered / geokdbush filtered; the harness's RATIOS line divides by
# geokdbush unfiltered), with the load average before and after each run.
#
#   scripts/bench/peers_cold_warm.sh [SCALE]     (default 1; as root)
#   WORK=/tmp/situ-peers-cw  PORT=18420  PG_PORT=55420  NGINX_PORT=58420
#   ONLY=cold|warm   one run only
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE=${1:-1}
WORK=${WORK:-/tmp/situ-peers-cw}/scale$SCALE
PORT=${PORT:-18420}
RUN_PEERS=${RUN_PEERS:-$(cd ../.. 2>/dev/null && pwd)/shared/bench/run_peers.sh}
[ -x "$RUN_PEERS" ] || RUN_PEERS=/work/shared/bench/run_peers.sh
mkdir -p "$WORK"
if [ "$SCALE" = 1 ]; then
    DEMO=$PWD/geodata/demo
else
    DEMO=$WORK/demo
    [ -f "$DEMO/manifest.ini" ] || build/situ demo --out "$DEMO" --scale "$SCALE" >/dev/null
fi
DB=$WORK/situ.sqlite
[ -f "$DB" ] || build/situ load --db "$DB" --all "$DEMO" >/dev/null
printf '[tiles]\ncache_mb = 0\n' >"$WORK/cold.ini"
chmod 644 "$WORK/cold.ini"
. scripts/service_user.sh
situd_user_args "$WORK"

# one_run LABEL [CONFIG]: the harness with situd (and its config), results
# in $WORK/LABEL/
one_run() {
    local label=$1 extra=${2:+--config $2}
    echo "$label: load average before $(cut -d' ' -f1-3 /proc/loadavg)"
    SKIP_INSTALL=${SKIP_INSTALL:-1} SITUD_DB="$DB" SITUD_PORT=$PORT \
        PG_PORT=${PG_PORT:-55420} NGINX_PORT=${NGINX_PORT:-58420} \
        PROJECT_START_CMD="$PWD/build/situd --db $DB --listen 127.0.0.1:$PORT ${SITUD_USER_ARGS[*]} $extra" \
        PROJECT_INPROC_CMD=$PWD/scripts/bench/inproc_all.sh DATA_DIR="$DEMO" RUN_DIR="$WORK/$label" \
        "$RUN_PEERS" >"$WORK/$label.out" 2>"$WORK/$label.err"
    echo "$label: load average after $(cut -d' ' -f1-3 /proc/loadavg)"
    ratios "$WORK/$label/results.tsv"
}

# ratios TSV: the figures of one run, divided within it.
ratios() {
    python3 - "$1" <<'EOF'
import re, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.count("\t") >= 3]
def per_s(kind, who, test):
    """per_s of the first row of kind and who whose name passes test."""
    for r in rows:
        m = re.search(r"per_s=([0-9.]+)", r[3])
        if r[0] == kind and r[1] == who and test(r[2]) and m:
            return float(m.group(1))
    return None
postgis = per_s("mvt", "postgis", lambda n: n.startswith("ST_AsMVT"))
pairs = [
    ("tiles HTTP -c1 list / PostGIS ST_AsMVT",
     per_s("http", "situd", lambda n: "list" in n and "sequential" in n), postgis),
    ("tiles HTTP -c64 list / PostGIS ST_AsMVT (1 conn)",
     per_s("http", "situd", lambda n: "list" in n and "sequential" not in n), postgis),
    ("knn in-process / geokdbush", per_s("inproc", "situd", lambda n: n == "situ_nearest_knn"),
     per_s("knn", "geokdbush", lambda n: n == "geokdbush_knn")),
    ("knn filtered in-process / geokdbush filtered",
     per_s("inproc", "situd", lambda n: n == "situ_nearest_knn_filtered"),
     per_s("knn", "geokdbush", lambda n: n == "geokdbush_knn_filtered")),
]
for name, a, b in pairs:
    print("  %-48s %s" % (name, "%.2fx (%.1f / %.1f)" % (a / b, a, b) if a and b else "n/a"))
EOF
}

[ "${ONLY:-cold}" = cold ] && one_run cold "$WORK/cold.ini"
[ "${ONLY:-warm}" = warm ] && one_run warm
exit 0
