#!/usr/bin/env python3
"""load_phases.py PERF_DATA [HZ]: where `situ load --all` spends its CPU, by
phase, from a `perf record -F HZ --call-graph dwarf` of it (load_all.sh
PROFILE=1 makes one). A sample counts for the first phase whose function is
on its stack: the writer thread's upserts and R-tree boxes (W), the packed
R-tree written at the end of each collection (serial), the loader's
thread's GDAL opening and reading, GEOS, township assignment, fields (R),
and the serial commit. Prints seconds of CPU and shares, then per thread."""
import collections
import subprocess
import sys

PHASES = [  # (name, any of these functions on the stack)
    ("W R-tree boxes (situ_store_bulk_step)", {"situ_store_bulk_step"}),
    ("R-tree packed and written (situ__rtree_write)", {"situ__rtree_write"}),
    ("bulk end: last boxes, triggers", {"situ_store_bulk_end"}),
    ("W upsert (SQLite inserts, triggers, indexes)", {"situ__batch_flush"}),
    ("commit", {"situ_store_commit"}),
    ("store open/init", {"situ__store_open_sqlite"}),
    ("store close", {"situ_store_close"}),
    ("R GDAL open (GeoJSON: a whole first pass)", {"GDALOpenEx"}),
    ("R GEOS validity/repair", {"situ__geos_polygon"}),
    ("R township assignment", {"situ__townships_agree", "situ__townships_at",
                               "situ__townships_for", "situ__townships_has",
                               "situ__townships_new"}),
    ("R fields", {"situ__row_read"}),
    ("R batch copy", {"situ__batch_add"}),
    ("R roads translation", {"situ__roads_src_feature"}),
    ("R GDAL read, geometry checks", {"situ__load_source"}),
]


def main():
    data, hz = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 49
    out = subprocess.run(["perf", "script", "-i", data, "-F", "tid,ip,sym"],
                         capture_output=True, text=True, check=True).stdout
    phase, thread, total = collections.Counter(), collections.Counter(), 0
    for block in out.split("\n\n"):
        lines = [l.strip() for l in block.strip().split("\n") if l.strip()]
        if not lines:
            continue
        total += 1
        thread[lines[0].split()[0]] += 1
        stack = {(l.split(None, 1) + ["?"])[1].split("(")[0] for l in lines[1:]}
        phase[next((n for n, fs in PHASES if fs & stack), "other")] += 1
    print("%.1f s CPU in %d samples" % (total / hz, total))
    for name, n in phase.most_common():
        print("  %6.1f s %5.1f%%  %s" % (n / hz, 100.0 * n / total, name))
    print("per thread (the first is the loader's, then a writer per collection):")
    for tid, n in thread.most_common(8):
        print("  %6.1f s  thread %s" % (n / hz, tid))


if __name__ == "__main__":
    main()
