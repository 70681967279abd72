#!/usr/bin/env bash
# knn_peers.sh: situ's k=5 nearest resources, plain and filtered (item
# qty >= N), against geokdbush at any scale, in one run, on the same machine
# and the same queries, in process on both sides. It uses the peer harness's
# own pieces (../shared/bench: the ogr2ogr conversion run_peers.sh does,
# gen_data.py --from for knn_points.csv and the peer's data, node/bench_knn.mjs
# for geokdbush) and scripts/bench/nearest_inproc.c for situ, and leaves out
# what does not fit a nation on this machine: run_peers.sh reads all five
# layers into Python (gen_data.py --from) and into Node (geojson-vt) and loads
# them into PostGIS. Here the four layers other than resources are read one
# feature at a time for the extent only (knn_points.csv depends on the extent
# of all five and on the resources' items), so knn_points.csv is the one
# run_peers.sh writes for the same demo (checked at scale 1). At scale 200
# (157,266 resources) the preparation takes 250 s of CPU (most of it ogr2ogr)
# and at most 1.6 GB, geokdbush 0.6 GB and nearest_inproc 0.23 GB.
#
# situ and geokdbush run back to back, ROUNDS times, alternating which goes
# first; each round prints queries/s, the ratios and the load average. On a
# shared machine the queries/s (all queries over the wall time) drop with
# every preemption; the ratio of the median query times is printed beside it.
#
#   scripts/bench/knn_peers.sh [SCALE]      (default 1)
#   WORK=/work/wt/knn-data   results in $WORK/scaleN (data, logs, results.txt)
#   DEMO=DIR     the demo (default: geodata/demo at scale 1, else
#                `situ demo --scale N` written into $WORK/scaleN/demo)
#   SITU_DB=F    situ's SpatiaLite file of that demo (default: `situ load
#                --all` into $WORK/scaleN/situ.sqlite); opened read-only
#   ROUNDS=2 (0: prepare the peer's data only)  PASSES=3 (situ's timed passes)  REPEAT=5 (geokdbush's)
#   BENCH=/work/shared/bench   the harness folder (read only)
set -euo pipefail
cd "$(dirname "$0")/../.."
SCALE=${1:-1}
BENCH=${BENCH:-$(cd .. && cd ../shared/bench 2>/dev/null && pwd || echo /work/shared/bench)}
WORK=${WORK:-$(cd .. && pwd)/knn-data}
RUN=$WORK/scale$SCALE
ROUNDS=${ROUNDS:-2}
mkdir -p "$RUN/logs"
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---- the demo
if [ -z "${DEMO:-}" ]; then
    if [ "$SCALE" = 1 ]; then
        DEMO=$PWD/geodata/demo
    else
        DEMO=$RUN/demo
        [ -f "$DEMO/manifest.ini" ] || build/situ demo --out "$DEMO" --scale "$SCALE" >"$RUN/logs/demo.log"
    fi
fi
# ---- the peer's data, as run_peers.sh converts it (convert_one): each
# collection to EPSG:4326 GeoJSON; a file without a CRS in lon/lat is CGCS2000
OGR=$RUN/ogr
convert() { # collection_id harness_name
    local src opts=() f
    for f in "$DEMO/$1".geojson "$DEMO/$1".shp "$DEMO/$1".csv; do [ -f "$f" ] && src=$f && break; done
    [ -n "${src:-}" ] || { log "no file for $1 in $DEMO"; exit 1; }
    # shellcheck disable=SC2054 # the commas are inside the option values
    case "$src" in
    *.csv) opts=(-oo X_POSSIBLE_NAMES=lon,longitude,x -oo Y_POSSIBLE_NAMES=lat,latitude,y
                 -oo KEEP_GEOM_COLUMNS=NO -s_srs EPSG:4490) ;;
    esac
    ogr2ogr -f GeoJSON -lco RFC7946=YES -t_srs EPSG:4326 -dim XY "${opts[@]}" -nln "$2" \
        "$OGR/$2.geojson" "$src" >>"$RUN/logs/ogr.log" 2>&1
}
if [ ! -f "$RUN/peer/knn_points.csv" ]; then
    log "converting $DEMO with ogr2ogr into $OGR"
    rm -rf "$OGR" "$RUN/standin" "$RUN/peer"
    mkdir -p "$OGR" "$RUN/standin" "$RUN/peer"
    convert townships townships
    convert risk_zones risk_zone
    convert hazards hazard
    convert hazard_sources hazard_source
    convert resources rescue_resource
    # The four other layers matter to knn_points.csv by their extent only:
    # each becomes one MultiPoint at its extent's corners (the same floats
    # gen_data.py would find), read one feature (one line) at a time.
    python3 - "$BENCH" "$OGR" "$RUN/standin" <<'EOF'
import json, math, os, shutil, sys
sys.path.insert(0, sys.argv[1])
import gen_data
src, out = sys.argv[2], sys.argv[3]
for name in gen_data.LAYERS:
    if name == "rescue_resource":
        shutil.move(os.path.join(src, name + ".geojson"), os.path.join(out, name + ".geojson"))
        continue
    x0 = y0 = math.inf
    x1 = y1 = -math.inf
    with open(os.path.join(src, name + ".geojson"), encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip().rstrip(",")
            if not line.startswith('{ "type": "Feature"'):
                continue
            g = json.loads(line).get("geometry")
            for x, y in (gen_data.coords_of(g) if g else ()):
                x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
    feats = [] if x0 > x1 else [{"type": "Feature", "properties": {"id": 1},
                                 "geometry": {"type": "MultiPoint", "coordinates": [[x0, y0], [x1, y1]]}}]
    gen_data.write_fc(os.path.join(out, name + ".geojson"), name, feats)
    os.remove(os.path.join(src, name + ".geojson"))
EOF
    python3 "$BENCH/gen_data.py" --from "$RUN/standin" --out "$RUN/peer" >"$RUN/logs/gen_data.log"
    rm -rf "$RUN/standin" "$OGR"
fi
KNN_CSV=$RUN/peer/knn_points.csv
N_RES=$(sed -n 's/^n_rescue_resource=//p' "$RUN/peer/prep.txt")

[ "$ROUNDS" != 0 ] || exit 0 # the data only
DB=${SITU_DB:-$RUN/situ.sqlite}
if [ ! -f "$DB" ]; then
    log "situ load --all $DEMO -> $DB"
    build/situ load --db "$DB" --all "$DEMO" >"$RUN/logs/load.log" 2>&1
fi

# ---- geokdbush: the harness's bench_knn.mjs beside its pinned packages
NODE_DIR=$WORK/node
mkdir -p "$NODE_DIR"
install -m 644 "$BENCH"/node/bench_knn.mjs "$NODE_DIR/"
if ! cmp -s "$BENCH/node/package-lock.json" "$NODE_DIR/package-lock.json" ||
    ! (cd "$NODE_DIR" && npm ls --depth=0 >/dev/null 2>&1); then
    install -m 644 "$BENCH/node/package.json" "$BENCH/node/package-lock.json" "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund) >"$RUN/logs/npm.log" 2>&1
fi

# ---- the rounds
TSV=$RUN/results.tsv
: >"$TSV"
run_situ() { # round
    local out
    out=$(build/nearest_inproc "$DB" "$KNN_CSV" 2>>"$RUN/logs/situ.err")
    printf '%s\n' "$out" | sed "s/^/$1\tsitu\t/" | tr ' ' '\t' >>"$TSV"
}
run_gkb() { # round
    local out
    out=$(cd "$NODE_DIR" && node bench_knn.mjs "$RUN/peer" "$KNN_CSV" "$RUN/gkb")
    printf '%s\n' "$out" | sed "s/^/$1\tgeokdbush\t/" | tr ' ' '\t' >>"$TSV"
}
log "scale $SCALE: $N_RES resources, $(($(wc -l <"$KNN_CSV") - 1)) query points, $ROUNDS rounds"
for ((r = 1; r <= ROUNDS; r++)); do
    echo -e "$r\tload\tbefore\t$(load_avg)" >>"$TSV"
    if ((r % 2)); then run_situ "$r"; run_gkb "$r"; else run_gkb "$r"; run_situ "$r"; fi
    echo -e "$r\tload\tafter\t$(load_avg)" >>"$TSV"
done
# situ's answers against geokdbush's (its ids mapped back to the source's)
python3 - "$RUN/peer/rescue_resource.geojson" "$RUN/gkb" <<'EOF'
import json, sys
src = {}
with open(sys.argv[1], encoding="utf-8") as f:
    for line in f:
        line = line.strip().rstrip(",")
        if line.startswith('{"type":"Feature"'):
            p = json.loads(line)["properties"]
            src[str(p["id"])] = str(p.get("src_id", p["id"]))
for v in ("plain", "filtered"):
    with open("%s_%s.out" % (sys.argv[2], v)) as f, open("%s_%s.ids" % (sys.argv[2], v), "w") as o:
        for line in f:
            q, ids, ds = line.rstrip("\n").split(",")
            o.write("%s,%s,%s\n" % (q, " ".join(src[i] for i in ids.split()), ds))
EOF
KNN_EXPECTED=$RUN/gkb_plain.ids KNN_EXPECTED_FILTERED=$RUN/gkb_filtered.ids PASSES=1 \
    build/nearest_inproc "$DB" "$KNN_CSV" 2>&1 >/dev/null | grep 'same ids' |
    sed 's/PostGIS orders by sphere distance/geokdbush orders by sphere distance/' >"$RUN/check.txt" || true

python3 - "$TSV" "$SCALE" "$N_RES" "$RUN/check.txt" <<'EOF' | tee "$RUN/results.txt"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
def get(r, who, name, key="per_s"):
    for x in rows:
        if x[0] == str(r) and x[1] == who and x[2] == name:
            kv = dict(p.split("=", 1) for p in x[3:] if "=" in p)
            return float(kv[key]) if key in kv else None
    return None
def load(r, when):
    return next((" ".join(x[3:]) for x in rows if x[0] == str(r) and x[1] == "load" and x[2] == when), "?")
print("k=5 nearest resources, in process, scale %s (%s resources, 10,000 query points)" % (sys.argv[2], sys.argv[3]))
for r in sorted({x[0] for x in rows}, key=int):
    print("round %s (%s first): load average %s before, %s after" %
          (r, "situ" if int(r) % 2 else "geokdbush", load(r, "before"), load(r, "after")))
    for v, a, b in (("plain   ", "situ_nearest_knn", "geokdbush_knn"),
                    ("filtered", "situ_nearest_knn_filtered", "geokdbush_knn_filtered")):
        s, g = get(r, "situ", a), get(r, "geokdbush", b)
        if s and g:
            sm, gm = get(r, "situ", a, "median_ms"), get(r, "geokdbush", b, "median_ms")
            print("  %s situ %9.1f /s (median %.4f ms)  geokdbush %9.1f /s (median %.4f ms)  ratio %.2fx"
                  " (of medians %.2fx)" % (v, s, sm, g, gm, s / g, gm / sm))
print(open(sys.argv[4]).read().rstrip())
EOF
log "results: $RUN/results.txt (raw: $TSV, logs: $RUN/logs)"
