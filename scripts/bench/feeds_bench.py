#!/usr/bin/env python3
"""feeds_bench.py: the feeds' figures against a real situd on the demo data.

  scripts/bench/feeds_bench.py [--seconds 10] [--clients 8] [--db FILE] [--pg]
                               [--situ build/situ] [--situd build/situd]

1. durable events/s with N clients posting batches of 1, then of 100 (each
   answer means committed with synchronous=FULL), with POST latency;
2. POST -> SSE latency (send of the POST to the arrival of the change on
   one /events listener) under both loads;
3. p50/p99 of a map-wall tile and of /nearest, idle and while 1,000
   events/s stream in (status 503 while those routes are not wired), and
   of /locate and a bbox items page, which read the same snapshots.

Without --db it makes the Yongzhou demo under $BENCH_DIR (default
/tmp/situ-feeds-bench) and copies it for each run. With --pg the store is
PostgreSQL instead: a throwaway server from tests/pg/pgtemp.sh (fsync off,
no standby: situd's synchronous_commit=remote_apply then waits for the
primary's WAL write only), the demo loaded into it with `situ load`.
Standard library only."""

import argparse
import http.client
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))
DEPTS = ("meteorology", "water_resources", "natural_resources", "forestry", "transport",
         "power_grid", "telecom", "ecology_environment", "agriculture", "housing")
STATIONS_PER_DEPT = 100


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def utc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Poster:
    """One department on one keep-alive connection (one per process)."""

    def __init__(self, port, dept, token, seed, tag):
        self.dept, self.token, self.tag = dept, token, tag
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.rng = random.Random(seed)
        self.k = 0

    def events(self, n, create=False):
        out = []
        for _ in range(n):
            self.k += 1
            i = self.k % STATIONS_PER_DEPT if not create else self.k - 1
            ev = {"id": "%s-%s-%d" % (self.dept, self.tag, self.k), "type": "observation",
                  "station": "B-%s-%d" % (self.dept, i), "observed_at": utc(time.time()),
                  "metric": "rain_1h_mm", "value": round(self.rng.uniform(0, 80), 1)}
            if create:
                ev.update(lon=self.rng.uniform(111.2, 112.2), lat=self.rng.uniform(25.6, 26.9))
            out.append(ev)
        return out

    def post(self, events):
        body = json.dumps({"events": events})
        t0 = time.monotonic()
        self.conn.request("POST", "/feeds/%s/events" % self.dept, body=body,
                          headers={"Authorization": "Bearer " + self.token,
                                   "Content-Type": "application/json"})
        r = self.conn.getresponse()
        data = r.read()
        t1 = time.monotonic()
        if r.status != 200:
            raise RuntimeError("HTTP %d %s" % (r.status, data[:200]))
        doc = json.loads(data)
        return t0, t1, [x.get("seq") for x in doc["results"] if x["status"] == "accepted"]


def poster_main(job):
    """A process: posts batches for `seconds`, back to back or at `rate`
    batches/s; returns (latencies, {seq: send time}). time.monotonic() is
    CLOCK_MONOTONIC, the same clock in every process."""
    port, dept, token, seed, tag, seconds, batch, rate = job
    p = Poster(port, dept, token, seed, tag)
    lat, sent = [], {}
    stop = time.monotonic() + seconds
    nxt = time.monotonic()
    while time.monotonic() < stop:
        t0, t1, seqs = p.post(p.events(batch))
        lat.append(t1 - t0)
        for s in seqs:
            sent[s] = t0
        if rate:
            nxt += 1.0 / rate
            time.sleep(max(0, nxt - time.monotonic()))
    return lat, sent


ID_LINE = re.compile(rb"^id: (\d+)$", re.M)


class Listener(threading.Thread):
    """One /events stream read off a raw socket (a chunked decoder and a
    regex over whole reads: http.client's readline is too slow to keep up
    with 20,000 messages/s); the arrival time of every seq."""

    def __init__(self, port, off=False):
        super().__init__(daemon=True)
        self.ok, self.seen, self.status = False, {}, 0
        if off:
            return
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"GET /events HTTP/1.1\r\nHost: bench\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(4096)
        head, self.raw = head.split(b"\r\n\r\n", 1)
        self.status = int(head.split()[1])
        self.ok = self.status == 200

    def run(self):
        if not self.ok:
            return
        raw, text = self.raw, b""
        while self.ok:
            t = time.monotonic()
            while True:  # de-chunk what is complete
                i = raw.find(b"\r\n")
                if i < 0:
                    break
                n = int(raw[:i].split(b";")[0], 16)
                if len(raw) < i + 4 + n:
                    break
                text += raw[i + 2:i + 2 + n]
                raw = raw[i + 4 + n:]
            j = text.rfind(b"\n")
            if j >= 0:
                for m in ID_LINE.finditer(text, 0, j + 1):
                    self.seen[int(m.group(1))] = t
                text = text[j + 1:]
            more = self.sock.recv(1 << 16)
            if not more:
                return
            raw += more


def start_situd(situd, db, port, work):
    log = open(os.path.join(work, "situd.log"), "w")
    cmd = [situd, "--db", db, "--listen", "127.0.0.1:%d" % port, "--quiet"]
    ini = os.path.join(work, "bench-stations.ini")
    with open(ini, "w") as f:  # a station per event: past the default quota of 500
        f.write("[feeds]\nstation_quota = 10000000\n")
    cmd += ["--config", ini]
    if os.geteuid() == 0:  # situd serves as root only through --user
        import pwd
        pw = pwd.getpwnam("nobody")
        for path in [work] + [os.path.join(work, n) for n in os.listdir(work)]:
            os.chown(path, pw.pw_uid, pw.pw_gid)
        cmd += ["--user", "nobody"]
    p = subprocess.Popen(cmd, stdout=log, stderr=log)
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return p
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("situd did not start; see %s/situd.log" % work)


def load_phase(a, tokens, tag, batch, listener):
    """Every poster posts batches back to back for a.seconds."""
    jobs = [(a.port, d, tokens[d], i, tag, a.seconds, batch, None)
            for i, d in enumerate(tokens)]
    t0 = time.monotonic()
    with multiprocessing.Pool(len(jobs)) as pool:
        res = pool.map(poster_main, jobs)
    wall = time.monotonic() - t0
    lat = [x for r in res for x in r[0]]
    sent = {k: v for r in res for k, v in r[1].items()}
    time.sleep(1.0)  # let the last changes reach the listener
    sse = [listener.seen[s] - t for s, t in sent.items() if s in listener.seen] \
        if listener.ok else []
    return len(sent) / wall, lat, sse, len(sent)


def probe(port, paths, seconds):
    """Sequential GETs of each path for `seconds`; latencies per path."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    out = {p: [] for p in paths}
    status = {}
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        for p in paths:
            t0 = time.monotonic()
            conn.request("GET", p)
            r = conn.getresponse()
            r.read()
            out[p].append(time.monotonic() - t0)
            status[p] = r.status
    return out, status


def stream_phase(a, tokens, rate, paths):
    """Posts `rate` events/s in batches of 25 spread over the posters while
    probing the read paths."""
    per = rate / len(tokens) / 25.0  # batches per second per poster
    t0 = time.monotonic()
    with multiprocessing.Pool(len(tokens)) as pool:
        jobs = [(a.port, d, tokens[d], i, "s", a.seconds, 25, per)
                for i, d in enumerate(tokens)]
        pending = pool.map_async(poster_main, jobs)
        lat, status = probe(a.port, paths, a.seconds)
        res = pending.get()
    n = sum(len(r[1]) for r in res)
    return lat, status, n / (time.monotonic() - t0)


def ms(x):
    return "%.2f" % (x * 1e3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--db")
    ap.add_argument("--situ", default=os.path.join(ROOT, "build", "situ"))
    ap.add_argument("--situd", default=os.path.join(ROOT, "build", "situd"))
    ap.add_argument("--port", type=int, default=18095)
    ap.add_argument("--no-sse", action="store_true", help="no /events listener")
    ap.add_argument("--pg", action="store_true",
                    help="PostgreSQL (a pgtemp server) rather than a SpatiaLite file")
    a = ap.parse_args()
    if a.pg and a.db:
        ap.error("--pg loads the demo into PostgreSQL itself: leave out --db")
    work = tempfile.mkdtemp(prefix="situ-feeds-bench-")
    src, base = a.db, None
    if not src:
        base = os.environ.get("BENCH_DIR", "/tmp/situ-feeds-bench")
        src = os.path.join(base, "demo.sqlite")
        if not os.path.exists(src):
            os.makedirs(base, exist_ok=True)
            subprocess.run([a.situ, "demo", "--out", os.path.join(base, "demo")], check=True,
                           stdout=subprocess.DEVNULL)
            subprocess.run([a.situ, "load", "--db", src, "--all", os.path.join(base, "demo")],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pg = None
    if a.pg:
        import pgtemp
        pg = pgtemp.PgTemp().start()
        db = pg.url
        t0 = time.monotonic()
        subprocess.run([a.situ, "load", "--db", db, "--all", os.path.join(base, "demo")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("store=postgresql (pgtemp: fsync off, no standby) load_s=%.1f"
              % (time.monotonic() - t0))
    else:
        db = os.path.join(work, "situ.sqlite")
        shutil.copyfile(src, db)
        print("store=spatialite")
    depts = DEPTS[:a.clients]
    tokens = {d: subprocess.run([a.situ, "token", "add", d, "--db", db], check=True,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
              .stdout.decode().strip() for d in depts}
    p = start_situd(a.situd, db, a.port, work)
    try:
        for i, d in enumerate(depts):  # the stations the observations report on
            ps = Poster(a.port, d, tokens[d], i, "w")
            ps.post(ps.events(STATIONS_PER_DEPT, create=True))
        listener = Listener(a.port, a.no_sse)
        listener.start()
        if not listener.ok and not a.no_sse:
            print("note: /events answers %d; no POST->SSE figures" % listener.status)
        for batch in (1, 100):
            rate, lat, sse, n = load_phase(a, tokens, "b%d" % batch, batch, listener)
            print("batch=%d clients=%d durable_events_per_s=%.0f events=%d post_p50_ms=%s "
                  "post_p99_ms=%s sse_p50_ms=%s sse_p99_ms=%s sse_seen=%d" %
                  (batch, len(tokens), rate, n, ms(pct(lat, 50)), ms(pct(lat, 99)),
                   ms(pct(sse, 50)), ms(pct(sse, 99)), len(sse)))
            sys.stdout.flush()
        z = 10  # the map wall's tile over Lengshuitan and Lingling (111.61, 26.42)
        x = int((111.61 + 180) / 360 * 2 ** z)
        y = int((1 - math.asinh(math.tan(math.radians(26.42))) / math.pi) / 2 * 2 ** z)
        paths = {"tile": "/tiles/all/%d/%d/%d.mvt" % (z, x, y),
                 "nearest": "/nearest?lon=111.61&lat=26.42&collection=resources&k=5"
                            "&item=sandbag&min_qty=500",
                 "locate": "/locate?lon=111.61&lat=26.42",
                 "items_bbox": "/collections/stations/items?bbox=111.2,25.6,112.2,26.9"
                               "&limit=100"}
        idle, status = probe(a.port, list(paths.values()), min(5, a.seconds))
        busy, status2, rate = stream_phase(a, tokens, 1000, list(paths.values()))
        for name, path in paths.items():
            print("%s status=%d idle_p50_ms=%s idle_p99_ms=%s at_%.0f_events_per_s_p50_ms=%s "
                  "p99_ms=%s requests=%d" %
                  (name, status2[path], ms(pct(idle[path], 50)), ms(pct(idle[path], 99)), rate,
                   ms(pct(busy[path], 50)), ms(pct(busy[path], 99)), len(busy[path])))
        c = http.client.HTTPConnection("127.0.0.1", a.port)
        c.request("GET", "/feeds")
        w = json.loads(c.getresponse().read())["writer"]
        print("writer commits=%d events=%d snapshot_rebuilds=%d last_rebuild_ms=%.1f" %
              (w["commits"], w["events_committed"], w["snapshot_rebuilds"],
               w["last_rebuild_ms"]))
    finally:
        p.terminate()
        p.wait()
        if pg:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
