#!/usr/bin/env python3
"""drills_bench.py: drills in situd (issue 19) on the scale-1 demo.

  scripts/bench/drills_bench.py [--starts 5] [--wrk-seconds 10] [--situ build/situ]
                                [--situd build/situd]

Against a real situd on a fresh load of geodata/demo, prints:
- start: POST /drills (xiang_flood at 1x) to its 201, which carries the
  drill process's first answer (its status): the store copied, the process
  started, its snapshot loaded and served; p50 and max of --starts (ms);
- flat-out: POST /drills at max to the status saying finished, and the
  play itself (the record's start row to its finish row) (s);
- proxy: one z12 tile of the flood area with content, by curl-like single
  requests (p50 of 200, ms) and by wrk (1 thread, 8 connections, requests/s
  and p50/p99 latency), from / and from /drills/{id}/ (the same tile of the
  drill's store before anything changed it: same bytes).
Standard library and wrk only."""

import argparse
import http.client
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))


def tile_xy(lon, lat, z):
    n = 2 ** z
    return (int((lon + 180.0) / 360.0 * n),
            int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def timed_gets(port, path, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out, body = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        out.append((time.perf_counter() - t0) * 1e3)
        assert r.status == 200, (path, r.status)
    c.close()
    return out, body


def wrk(port, path, seconds):
    out = subprocess.run(["wrk", "-t1", "-c8", "-d%ds" % seconds, "--latency",
                          "http://127.0.0.1:%d%s" % (port, path)],
                         capture_output=True, text=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    return "%s req/s, p50 %s, p99 %s" % (rps and rps.group(1), p50 and p50.group(1),
                                        p99 and p99.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=5)
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--situ")
    ap.add_argument("--situd")
    a = ap.parse_args()
    if a.situ:
        os.environ["SITU_BIN"] = a.situ
    if a.situd:
        os.environ["SITUD_BIN"] = a.situd
    import feedlib
    import situd
    tmp = tempfile.mkdtemp(prefix="situ-drills-bench-")
    db = situd.demo_db(tmp)
    em = feedlib.auth(feedlib.add_token(db, "emergency_management"))
    s = situd.Situd(db, "--quiet")
    try:
        starts = []
        for _ in range(a.starts):
            t0 = time.perf_counter()
            r = s.post("/drills", {"scenario_name": "xiang_flood", "speed": 1}, em)
            starts.append((time.perf_counter() - t0) * 1e3)
            assert r.status == 201, r.body
            s.request("DELETE", "/drills/" + r.json()["id"], headers=em)
        print("start (POST /drills to its 201 with the drill's status): p50 %.0f ms, max %.0f ms "
              "of %d" % (pct(starts, 50), max(starts), len(starts)))

        t0 = time.perf_counter()
        r = s.post("/drills", {"scenario_name": "xiang_flood", "speed": "max"}, em)
        drill = r.json()["id"]
        while s.get("/drills/" + drill).json()["state"] != "finished":
            time.sleep(0.01)
        total = time.perf_counter() - t0
        rows = s.get("/drills/%s/record.geojson" % drill).json()["features"]
        wall = [f["properties"]["wall_at"] for f in rows if f["properties"]["action"] in ("start", "finish")]
        ts = [time.mktime(time.strptime(w[:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + w[19:-1])
              for w in wall]
        print("xiang_flood flat-out: POST to finished %.2f s; the play (record start -> finish) "
              "%.3f s" % (total, ts[-1] - ts[0]))
        s.request("DELETE", "/drills/" + drill, headers=em)

        r = s.post("/drills", {"scenario_name": "xiang_flood", "speed": 1}, em)
        drill = r.json()["id"]
        s.post("/drills/%s/control" % drill, {"action": "pause"}, em)
        z = 12
        x, y = tile_xy(111.61, 26.45, z)
        path = "/tiles/all/%d/%d/%d.mvt" % (z, x, y)
        real, body_real = timed_gets(s.port, path, 200)
        prox, body_drill = timed_gets(s.port, "/drills/%s%s" % (drill, path), 200)
        print("tile %s: %d bytes, same in the drill: %s" % (path, len(body_real),
                                                             body_real == body_drill))
        print("one request at a time (p50 of 200): / %.2f ms, /drills/{id}/ %.2f ms: "
              "+%.2f ms" % (pct(real, 50), pct(prox, 50), pct(prox, 50) - pct(real, 50)))
        print("wrk / : " + wrk(s.port, path, a.wrk_seconds))
        print("wrk /drills/{id}/ : " + wrk(s.port, "/drills/%s%s" % (drill, path), a.wrk_seconds))
    finally:
        s.stop()


if __name__ == "__main__":
    main()
