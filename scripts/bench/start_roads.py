#!/usr/bin/env python3
"""start_roads.py: how long situd takes from its launch to its first answer
(/healthz 200), to its first tile, and to its road graph being ready (the
first /nearest?by=road 200), and its peak RSS (VmHWM) then, cold (DB.snap
removed) and from DB.snap written at the clean stop before (#20). The road
graph is built behind the port: before that change the three times were
one. Usage:
  [VERBOSE=1] [BREAKDOWN=1] scripts/bench/start_roads.py DB [--passes N] [--situd BIN]
                                                      [--only file]
DB is a SpatiaLite store in a folder of its own (situ demo --scale N, then
situ load --all); run as root, its folder is handed to the service user."""

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "http"))
import situd  # noqa: E402

TILE = "/tiles/all/8/207/108.mvt"  # over the demo
VERBOSE = os.environ.get("VERBOSE")
BREAKDOWN = os.environ.get("BREAKDOWN")


def status(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def vm_hwm_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def rss_mb(pid):
    """The process's resident memory now, MB: its own (anonymous) pages and
    the pages of mapped files (DB.snap, DB.roads, the libraries)."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k = line.split(":")[0]
            if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[k] = int(line.split()[1]) / 1024
    return out


def metrics_mb(port):
    """What situd's /metrics says it holds, MB: each collection's snapshot,
    the tile sources, the tile cache."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line.startswith("situd_snapshot_bytes{"):
            out["snap." + line.split('"')[1]] = float(line.split()[-1]) / 2**20
        elif line.startswith('situd_tile_cache{what="src_bytes"}'):
            out["tile sources"] = float(line.split()[-1]) / 2**20
        elif line.startswith('situd_tile_cache{what="bytes"}'):
            out["tile cache"] = float(line.split()[-1]) / 2**20
    return out


def one_start(binary, db, lon, lat):
    """Seconds to the first answer, first tile and roads ready; VmHWM MB.
    BREAKDOWN=1: the resident memory at each of the three and what /metrics
    says the holders are, at the end."""
    port = situd.free_port()
    situd.hand_over(db)
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "--db", db, "--listen", "127.0.0.1:%d" % port, "--quiet"]
                         + situd.USER_ARGS, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    got = {}
    by_road = "/nearest?lon=%f&lat=%f&k=5&by=road" % (lon, lat)
    try:
        while len(got) < 3 and time.monotonic() - t0 < 600:
            if p.poll() is not None:
                raise RuntimeError("situd exited: " + p.stderr.read().decode()[-2000:])
            for key, path in (("answer", "/healthz"), ("tile", TILE), ("roads", by_road)):
                if key not in got and status(port, path) in (200, 204):
                    got[key] = time.monotonic() - t0
                    if VERBOSE:
                        print("  %s %.2f s" % (key, got[key]), file=sys.stderr)
                    if BREAKDOWN:
                        print("  at %s (%.2f s): %s" % (key, got[key], " ".join(
                            "%s %.0f MB" % kv for kv in rss_mb(p.pid).items())), flush=True)
            time.sleep(0.01)
        hwm = vm_hwm_mb(p.pid)
        if BREAKDOWN:
            print("  holders: %s" % " ".join("%s %.1f MB" % kv
                                             for kv in sorted(metrics_mb(port).items())))
            print("  load average %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    finally:
        p.terminate()
        p.wait(300)
    return got["answer"], got["tile"], got["roads"], hwm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--situd", default=situd.SITUD)
    ap.add_argument("--lon", type=float, default=111.61)
    ap.add_argument("--lat", type=float, default=26.42)
    ap.add_argument("--only", choices=("cold", "file"), help="one kind of start (file: the files "
                    "the last start wrote)")
    a = ap.parse_args()
    res = {}
    for n in range(a.passes):
        for how in (a.only,) if a.only else ("cold", "file"):
            for ext in (".snap", ".roads"):
                if how == "cold" and os.path.exists(a.db + ext):
                    os.unlink(a.db + ext)
            ans, tile, roads, hwm = one_start(a.situd, a.db, a.lon, a.lat)
            res.setdefault(how, []).append((ans, tile, roads, hwm))
            print("pass %d %s: first answer %.2f s, first tile %.2f s, roads ready %.2f s, "
                  "VmHWM %.0f MB" % (n, how, ans, tile, roads, hwm), flush=True)
    for how, v in res.items():
        cols = list(zip(*v))
        print("%s: median first answer %.2f s, first tile %.2f s, roads ready %.2f s, "
              "VmHWM %.0f MB over %d" % (how, statistics.median(cols[0]), statistics.median(cols[1]),
                                         statistics.median(cols[2]), statistics.median(cols[3]),
                                         len(v)))


if __name__ == "__main__":
    main()
