#!/usr/bin/env python3
"""start_roads.py: how long situd takes from its launch to its first answer
(/healthz 200), to its first tile, and to its road graph being ready (the
first /nearest?by=road 200), and its peak RSS (VmHWM) then, cold (DB.snap
removed) and from DB.snap written at the clean stop before (#20). The road
graph is built behind the port: before that change the three times were
one. Usage:
  [VERBOSE=1] [BREAKDOWN=1] scripts/bench/start_roads.py DB [--passes N] [--situd BIN]
                                                      [--only file] [--sweep N]
DB is a SpatiaLite store in a folder of its own (situ demo --scale N, then
situ load --all); run as root, its folder is handed to the service user.
--sweep N: once the three are reached, N tiles of `all` over the store's
extent (TileJSON bounds), zoom 3 up, each zoom's tiles spread evenly, are
asked one after the other; then VmHWM again, the sweep's wall seconds and
situd's CPU seconds (user + sys) during it: what cutting cold tiles costs
and how much of the mapped files it holds resident."""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import threading
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


def cpu_s(pid):
    """situd's user + sys CPU seconds so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sweep_tiles(port, n):
    """n tiles z/x/y over the store's extent: every zoom from 3 up gets an
    even share of what is left, its tiles in the bounds taken evenly spread."""
    with urllib.request.urlopen("http://127.0.0.1:%d/tiles/all.json" % port, timeout=60) as r:
        w, s, e, nn = json.loads(r.read())["bounds"]

    def tx(lon, z):
        return min((1 << z) - 1, max(0, int((lon + 180) / 360 * (1 << z))))

    def ty(lat, z):
        y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
        return min((1 << z) - 1, max(0, int(y * (1 << z))))

    out = []
    zooms = list(range(3, 15))
    for i, z in enumerate(zooms):
        share = (n - len(out)) // (len(zooms) - i)
        tiles = [(z, x, y) for x in range(tx(w, z), tx(e, z) + 1)
                 for y in range(ty(nn, z), ty(s, z) + 1)]
        if len(tiles) > share:
            tiles = [tiles[k * len(tiles) // share] for k in range(share)] if share else []
        out += tiles
    return out


def sweep(port, pid, n):
    """Asks the n tiles of sweep_tiles; wall and CPU seconds, tiles not 200/204."""
    tiles = sweep_tiles(port, n)
    t0, c0, bad = time.monotonic(), cpu_s(pid), 0
    for z, x, y in tiles:
        bad += status(port, "/tiles/all/%d/%d/%d.mvt" % (z, x, y)) not in (200, 204)
    return len(tiles), time.monotonic() - t0, cpu_s(pid) - c0, bad


def one_start(binary, db, lon, lat, nsweep=0):
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
    peak = {}  # BREAKDOWN: the resident memory at its highest, polled every 5 ms
    done = threading.Event()

    def poll_peak():
        while not done.wait(0.005):
            try:
                now = rss_mb(p.pid)
            except OSError:
                return
            if now.get("VmRSS", 0) > peak.get("VmRSS", 0):
                peak.clear()
                peak.update(now, at=time.monotonic() - t0)

    def start_polling():
        peak.clear()
        done.clear()
        t = threading.Thread(target=poll_peak, daemon=True)
        if BREAKDOWN:
            t.start()
        return t

    poller = start_polling()
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
        done.set()
        if BREAKDOWN:
            poller.join()
            print("  highest VmRSS polled to roads ready (%.2f s): %s" % (peak.pop("at", 0), " ".join(
                "%s %.0f MB" % kv for kv in peak.items())))
        if nsweep:
            poller = start_polling()
            n, wall, cpu, bad = sweep(port, p.pid, nsweep)
            done.set()
            if BREAKDOWN:
                poller.join()
                print("  highest VmRSS polled in the sweep (%.2f s): %s" % (peak.pop("at", 0), " ".join(
                    "%s %.0f MB" % kv for kv in peak.items())))
            print("  sweep of %d tiles: %.2f s, situd CPU %.2f s (%.1f ms a tile), %d not 200/204; "
                  "VmHWM %.0f MB -> %.0f MB; now %s" % (
                      n, wall, cpu, cpu * 1e3 / n, bad, hwm, vm_hwm_mb(p.pid), " ".join(
                          "%s %.0f MB" % kv for kv in rss_mb(p.pid).items())), flush=True)
        if BREAKDOWN:
            print("  holders: %s" % " ".join("%s %.1f MB" % kv
                                             for kv in sorted(metrics_mb(port).items())))
            print("  load average %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    finally:
        done.set()
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
    ap.add_argument("--sweep", type=int, default=0, help="then N tiles over the extent, zoom 3 up")
    a = ap.parse_args()
    res = {}
    for n in range(a.passes):
        for how in (a.only,) if a.only else ("cold", "file"):
            for ext in (".snap", ".roads"):
                if how == "cold" and os.path.exists(a.db + ext):
                    os.unlink(a.db + ext)
            ans, tile, roads, hwm = one_start(a.situd, a.db, a.lon, a.lat, a.sweep)
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
