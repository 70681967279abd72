#!/bin/bash
# load_all.sh SCALE [REF_SITU]: `situ load --all` of the demo at SCALE into a
# new file, timed (/usr/bin/time: wall, user, sys, max RSS) beside the load
# average (wall is only meaningful on a quiet machine). The demo is made once
# under ${BENCH_DIR:-/tmp/situ-bench}/scaleSCALE/demo. With REF_SITU (another
# build's situ, e.g. main's) it loads with that too and compares the two
# stores' dumps with the load's clock times masked: the schema (sqlite_master
# by type and name), the rows of every table but the R-trees' node tables (a
# bulk load packs its nodes, a row by row one does not), and every R-tree's
# (rowid, bounds); each R-tree of both must pass
# SQLite's rtreecheck and SpatiaLite's CheckSpatialIndex.
# PROFILE=1 records the load with perf (dwarf stacks, 49 Hz) and prints
# the CPU per phase and thread (load_phases.py).
set -eu
scale=${1:?usage: load_all.sh SCALE [REF_SITU]}
ref=${2:-}
SITU=${SITU_BIN:-build/situ}
WORK=${BENCH_DIR:-/tmp/situ-bench}/scale$scale
mkdir -p "$WORK"
[ -f "$WORK/demo/manifest.ini" ] || "$SITU" demo --out "$WORK/demo" --scale "$scale" >/dev/null

load() { # load BIN DB: one timed load into a new file
    rm -f "$2" "$2"-wal "$2"-shm
    /usr/bin/time -o "$WORK/time.txt" -f "$3: %e s wall, %U s user + %S s sys, %M KB max RSS" \
        "$1" load --all "$WORK/demo" --db "$2" --report "$WORK/report.tsv" >/dev/null 2>"$WORK/err.txt" ||
        { tail -c 2000 "$WORK/err.txt" >&2; exit 1; }
    cat "$WORK/time.txt"
    echo "  load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}

if [ "${PROFILE:-0}" = 1 ]; then
    rm -f "$WORK/load.sqlite"
    perf record -q -F 49 --call-graph dwarf,16384 -o "$WORK/perf.data" \
        "$SITU" load --all "$WORK/demo" --db "$WORK/load.sqlite" --report "$WORK/report.tsv" >/dev/null 2>&1
    python3 "$(dirname "$0")/load_phases.py" "$WORK/perf.data" 49
fi
load "$SITU" "$WORK/load.sqlite" "scale $scale, $SITU"
if [ -n "$ref" ]; then
    load "$ref" "$WORK/ref.sqlite" "scale $scale, $ref"
    for db in load ref; do
        # the schema by name (a bulk load creates a collection's indexes and
        # triggers again at its end: their rows in sqlite_master move), then
        # every table's rows in order
        { sqlite3 "$WORK/$db.sqlite" "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
          sqlite3 "$WORK/$db.sqlite" .dump | grep -E '^INSERT INTO' |
            grep -Ev '^INSERT INTO "?idx_[a-z_]+_geom_(node|parent|rowid)[ "(]'; } |
            sed -E 's/20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z/TIME/g' >"$WORK/$db.dump"
        for t in $(sqlite3 "$WORK/$db.sqlite" "SELECT f_table_name FROM geometry_columns WHERE spatial_index_enabled = 1 ORDER BY 1"); do
            sqlite3 "$WORK/$db.sqlite" "SELECT 'idx_${t}_geom', pkid, printf('%!.9g %!.9g %!.9g %!.9g', xmin, xmax, ymin, ymax) FROM idx_${t}_geom ORDER BY pkid" >>"$WORK/$db.dump"
            check=$(sqlite3 -cmd ".load mod_spatialite" "$WORK/$db.sqlite" \
                "SELECT rtreecheck('idx_${t}_geom') || ' ' || CheckSpatialIndex('$t', 'geom')")
            [ "$check" = "ok 1" ] || { echo "  $db: R-tree of $t: $check" >&2; exit 1; }
        done
    done
    if cmp -s "$WORK/load.dump" "$WORK/ref.dump"; then
        echo "  stores identical ($(wc -l <"$WORK/load.dump") lines: dumps without R-tree nodes," \
            "R-trees' rows and bounds), every R-tree passes rtreecheck and CheckSpatialIndex"
    else
        echo "  stores DIFFER: diff $WORK/load.dump $WORK/ref.dump" >&2
        exit 1
    fi
fi
