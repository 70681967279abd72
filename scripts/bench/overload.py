#!/usr/bin/env python3
"""overload.py: situd's figures under overload (issue 8), against a real situd
on the demo data (geodata/demo), with wrk as the load.

  scripts/bench/overload.py [a] [b] [c]          (all three when none is named)

  a  2,000 held connections (1,000 idle, 1,000 trickling a header byte a
     second, reopened whenever situd closes them, as slowloris does) while wrk
     (2 threads, 16 connections) fetches map-wall tiles, then /nearest at
     random points: p50/p99/max, beside the same runs without the held
     connections; a client opening a new connection per request alongside;
     situd's CPU and memory with the 2,000 held.
  b  a flood of FLOOD_CONNS wrk connections on tiles and /nearest against
     situd with max_connections = FLOOD_CAPACITY: share of 503s; the latency
     of a newcomer's 503 and of a served client's tiles and /nearest during
     it. Then the same flood within the default capacity.
  c  a DURATION-second mixed load: wrk (2 threads, 32 connections) on tiles,
     /nearest, items pages and exports while four departments post feed
     batches (with tokens) and one updates resources; situd's VmRSS every
     10 s, the curve and its maximum, to show memory stays bounded.

Environment: DURATION (600), WRK_SECONDS (15), SLOW_CONNS (2000),
FLOOD_CONNS (3000), FLOOD_CAPACITY (1000), PORT (18300), SITU and SITUD
(build/situ, build/situd), BENCH_DIR (/tmp/situ-overload-bench).
Standard library only, plus wrk."""

import http.client
import json
import math
import os
import random
import re
import resource
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))
from feeds_bench import Poster, STATIONS_PER_DEPT  # noqa: E402

ENV = os.environ.get
DURATION = int(ENV("DURATION", "600"))
WRK_SECONDS = int(ENV("WRK_SECONDS", "15"))
SLOW_CONNS = int(ENV("SLOW_CONNS", "2000"))
FLOOD_CONNS = int(ENV("FLOOD_CONNS", "3000"))
FLOOD_CAPACITY = int(ENV("FLOOD_CAPACITY", "1000"))
PORT = int(ENV("PORT", "18300"))
SITU = ENV("SITU", os.path.join(ROOT, "build", "situ"))
SITUD = ENV("SITUD", os.path.join(ROOT, "build", "situd"))
BENCH_DIR = ENV("BENCH_DIR", "/tmp/situ-overload-bench")
BBOX = (111.097, 24.6931, 112.351, 26.8218)  # the townships' extent
FEED_DEPTS = ("meteorology", "water_resources", "natural_resources", "forestry")


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def ms(xs):
    return "p50_ms=%.2f p99_ms=%.2f max_ms=%.2f n=%d" % (
        pct(xs, 50) * 1e3, pct(xs, 99) * 1e3, (max(xs) if xs else float("nan")) * 1e3, len(xs))


def tile_xy(lon, lat, z):
    n = 2 ** z
    return (int((lon + 180) / 360 * n),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n))


# ---- the paths a map wall and township officers ask for ---------------------------------

def tile_paths(rng, n_deep=1500):
    """Every tile of the city at zoom 8-12, and n_deep at 13-14."""
    out, deep = [], []
    for z in range(8, 15):
        x0, y0 = tile_xy(BBOX[0], BBOX[3], z)
        x1, y1 = tile_xy(BBOX[2], BBOX[1], z)
        tiles = ["/tiles/all/%d/%d/%d.mvt" % (z, x, y)
                 for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        (out if z <= 12 else deep).extend(tiles)
    return out + rng.sample(deep, min(n_deep, len(deep)))


def nearest_paths(rng, n=1000):
    out = []
    for _ in range(n):
        lon, lat = rng.uniform(BBOX[0], BBOX[2]), rng.uniform(BBOX[1], BBOX[3])
        q = "/nearest?lon=%.5f&lat=%.5f&collection=resources&k=5" % (lon, lat)
        if rng.random() < 0.3:
            q += "&item=sandbag&min_qty=500"
        out.append(q)
    return out


def mixed_paths(rng, townships, n=5000):
    """Tiles 55%, /nearest 20%, items pages 15%, exports 10% (a whole
    collection one time in ten)."""
    tiles, near = tile_paths(rng), nearest_paths(rng)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.55:
            out.append(rng.choice(tiles))
        elif r < 0.75:
            out.append(rng.choice(near))
        elif r < 0.90:
            lon, lat = rng.uniform(BBOX[0], BBOX[2] - 0.2), rng.uniform(BBOX[1], BBOX[3] - 0.2)
            coll = rng.choice(("hazards", "resources", "stations", "risk_zones"))
            out.append("/collections/%s/items?bbox=%.4f,%.4f,%.4f,%.4f&limit=100" %
                       (coll, lon, lat, lon + 0.2, lat + 0.2))
        elif r < 0.99:
            if rng.random() < 0.5:
                out.append("/export/%s.geojson?township=%s" %
                           (rng.choice(("hazards", "resources", "risk_zones")),
                            rng.choice(townships)))
            else:
                out.append("/export/drill.geojson?townships=%s" %
                           ",".join(rng.sample(townships, 2)))
        else:
            out.append("/export/%s.geojson" % rng.choice(("hazards", "resources")))
    return out


# ---- situd ----------------------------------------------------------------------------

def demo_db():
    base = os.path.join(BENCH_DIR, "demo.sqlite")
    if not os.path.exists(base):
        os.makedirs(BENCH_DIR, exist_ok=True)
        subprocess.run([SITU, "load", "--db", base, "--all", os.path.join(ROOT, "geodata", "demo")],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="situ-overload-")
    db = os.path.join(work, "situ.sqlite")
    shutil.copyfile(base, db)
    return db


class Daemon:
    def __init__(self, db, config=""):
        self.db, self.port = db, PORT
        folder = os.path.dirname(db)
        cmd = [SITUD, "--db", db, "--listen", "127.0.0.1:%d" % PORT, "--quiet"]
        if config:
            path = os.path.join(folder, "situd.ini")
            with open(path, "w") as f:
                f.write(config)
            cmd += ["--config", path]
        if os.geteuid() == 0:  # situd serves as root only through --user
            import pwd
            pw = pwd.getpwnam("nobody")
            for p in [folder] + [os.path.join(folder, n) for n in os.listdir(folder)]:
                os.chown(p, pw.pw_uid, pw.pw_gid)
            cmd += ["--user", "nobody"]
        self.log = open(db + ".log", "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        for _ in range(600):
            try:
                if self.get("/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("situd did not start; see " + db + ".log")

    def get(self, path, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def metric(self, name, labels=""):
        body = self.get("/metrics")[1].decode()
        m = re.search(r"^%s%s ([0-9.e+]+)$" % (re.escape(name), re.escape(labels)), body, re.M)
        return float(m.group(1)) if m else float("nan")

    def status(self, key):
        with open("/proc/%d/status" % self.proc.pid) as f:
            m = re.search(r"^%s:\s+(\d+) kB" % key, f.read(), re.M)
        return int(m.group(1)) / 1024.0

    def cpu_s(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(os.path.dirname(self.db), ignore_errors=True)


# ---- load -------------------------------------------------------------------------------

WRK_LUA = r"""
local paths = {%s}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; s503 = 0; other = 0; math.randomseed(os.time() + #threads) end
function request() return wrk.format("GET", paths[math.random(#paths)]) end
function response(status, headers, body)
  if status < 300 then ok = ok + 1 elseif status == 503 then s503 = s503 + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("ok"); b = b + t:get("s503"); c = c + t:get("other") end
  local e = summary.errors
  io.write(string.format("WRK req_per_s=%%.0f p50_ms=%%.2f p99_ms=%%.2f max_ms=%%.2f ok=%%d s503=%%d other=%%d " ..
    "sock_errors=%%d\n", summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, a, b, c,
    e.connect + e.read + e.write + e.timeout))
end
"""


def wrk(port, paths, conns, seconds, threads=2):
    """Runs wrk over paths (picked at random); its summary line as a dict."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_LUA % ",".join(json.dumps(p) for p in paths))
    try:
        out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds,
                              "--timeout", "10s", "-s", f.name, "http://127.0.0.1:%d" % port],
                             capture_output=True, text=True).stdout
    finally:
        os.unlink(f.name)
    line = [ln for ln in out.splitlines() if ln.startswith("WRK ")]
    if not line:
        raise RuntimeError("wrk: " + out[-500:])
    return dict(kv.split("=") for kv in line[0].split()[1:])


def fmt_wrk(w):
    return " ".join("%s=%s" % kv for kv in w.items())


class Holder(threading.Thread):
    """n connections held on situd: half idle, half trickling a header byte a
    second; each one situd closes is opened again at once (slowloris)."""

    def __init__(self, port, n):
        super().__init__(daemon=True)
        self.port, self.n = port, n
        self.sel = selectors.DefaultSelector()
        self.stopping = threading.Event()
        self.reopened = 0
        for i in range(n):
            self.open(i >= n // 2)

    def open(self, slow):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            if slow:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ, slow)
        except OSError:
            pass

    def run(self):
        nxt = time.monotonic() + 1
        while not self.stopping.is_set():
            for key, _ in self.sel.select(timeout=max(0, nxt - time.monotonic())):
                try:
                    if key.fileobj.recv(4096):
                        continue
                except OSError:
                    pass
                self.sel.unregister(key.fileobj)
                key.fileobj.close()
                self.reopened += 1
                self.open(key.data)
            if time.monotonic() >= nxt:
                nxt += 1
                for key in list(self.sel.get_map().values()):
                    if key.data:
                        try:
                            key.fileobj.send(b"a")
                        except OSError:
                            pass
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()

    def stop(self):
        self.stopping.set()
        self.join()


class Prober(threading.Thread):
    """GETs the paths in turn, on one kept-alive connection (opened now) or
    on a new connection each; (path kind, status, seconds) per request."""

    def __init__(self, port, paths, keep_alive, pause=0.02):
        super().__init__(daemon=True)
        self.port, self.paths, self.pause = port, paths, pause
        self.conn = self.connect() if keep_alive else None
        if self.conn:
            self.conn.request("GET", "/healthz")
            self.conn.getresponse().read()
        self.results, self.errors = [], 0
        self.stopping = threading.Event()

    def connect(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def run(self):
        i = 0
        while not self.stopping.is_set():
            path = self.paths[i % len(self.paths)]
            i += 1
            c = self.conn or self.connect()
            t0 = time.monotonic()
            try:
                c.request("GET", path)
                r = c.getresponse()
                r.read()
                self.results.append((path.split("?")[0].split("/")[1], r.status,
                                     time.monotonic() - t0))
            except (OSError, http.client.HTTPException):
                self.errors += 1
                if self.conn:
                    self.conn = self.connect()
            if c is not self.conn:
                c.close()
            time.sleep(self.pause)

    def stop(self):
        self.stopping.set()
        self.join()

    def lat(self, kind, status=None):
        return [dt for k, s, dt in self.results
                if k == kind and (status is None and s < 300 or s == status)]

    def count(self, status):
        return sum(1 for _, s, _ in self.results if s == status)


# ---- the three parts --------------------------------------------------------------------

def part_a(rng):
    print("== a: %d held connections (half idle, half slowloris) vs tiles and /nearest" %
          SLOW_CONNS)
    tiles, near = tile_paths(rng), nearest_paths(rng)
    d = Daemon(demo_db())
    try:
        wrk(d.port, tiles, 16, 5)  # warm the tile cache as a map wall would
        rss0 = d.status("VmRSS")
        for name, paths in (("tiles", tiles), ("nearest", near)):
            print("a0 %s no_held_conns %s" % (name, fmt_wrk(wrk(d.port, paths, 16, WRK_SECONDS))))
        h = Holder(d.port, SLOW_CONNS)
        h.start()
        cpu0, t0 = d.cpu_s(), time.monotonic()
        time.sleep(5)
        print("a1 held=%d situd_cpu_pct_while_held_idle=%.1f rss_mb_before=%.1f rss_mb_held=%.1f" %
              (d.metric("situd_connections"), 100 * (d.cpu_s() - cpu0) / (time.monotonic() - t0),
               rss0, d.status("VmRSS")))
        probe = Prober(d.port, [tiles[5], near[0], tiles[40], near[1]], keep_alive=False)
        probe.start()
        for name, paths in (("tiles", tiles), ("nearest", near)):
            held = d.metric("situd_connections")
            w = wrk(d.port, paths, 16, WRK_SECONDS)
            print("a2 %s held=%d %s" % (name, held, fmt_wrk(w)))
        probe.stop()
        print("a3 new_connection_per_request tiles %s" % ms(probe.lat("tiles")))
        print("a3 new_connection_per_request nearest %s errors=%d non2xx=%d" %
              (ms(probe.lat("nearest")), probe.errors,
               sum(1 for _, s, _ in probe.results if s >= 300)))
        h.stop()
        print("a4 slowloris_reopened=%d header_timeout_closed=%d" %
              (h.reopened, d.metric("situd_rejected_total", '{reason="header_timeout"}')))
    finally:
        d.stop()


def flood(d, tiles, near, label):
    mix = tiles[:200] + near[:200]
    served = Prober(d.port, [tiles[5], near[0], tiles[40], near[1]], keep_alive=True)
    newcomer = Prober(d.port, [tiles[5], near[0]], keep_alive=False, pause=0.05)
    served.start()
    newcomer.start()
    w = wrk(d.port, mix, FLOOD_CONNS, WRK_SECONDS)
    served.stop()
    newcomer.stop()
    total = int(w["ok"]) + int(w["s503"]) + int(w["other"])
    print("%s wrk -c%d %s share_503=%.1f%%" % (label, FLOOD_CONNS, fmt_wrk(w),
                                               100.0 * int(w["s503"]) / max(1, total)))
    print("%s served_client tiles %s" % (label, ms(served.lat("tiles"))))
    print("%s served_client nearest %s errors=%d" % (label, ms(served.lat("nearest")),
                                                     served.errors))
    n = len(newcomer.results)
    print("%s newcomer 503 share=%.0f%% %s" % (label, 100.0 * newcomer.count(503) / max(1, n),
                                               ms([dt for _, s, dt in newcomer.results
                                                   if s == 503])))
    print("%s newcomer 2xx %s errors=%d" % (label, ms([dt for _, s, dt in newcomer.results
                                                       if s < 300]), newcomer.errors))
    print("%s overload_503_total=%d" % (label, d.metric("situd_rejected_total",
                                                        '{reason="overload"}')))


def part_b(rng):
    tiles, near = tile_paths(rng), nearest_paths(rng)
    print("== b: flood of %d connections past max_connections=%d" % (FLOOD_CONNS, FLOOD_CAPACITY))
    d = Daemon(demo_db(), "[server]\nmax_connections = %d\n" % FLOOD_CAPACITY)
    try:
        wrk(d.port, tiles, 16, 5)
        flood(d, tiles, near, "b1")
    finally:
        d.stop()
    print("== b: the same flood within the default capacity")
    d = Daemon(demo_db())
    try:
        wrk(d.port, tiles, 16, 5)
        flood(d, tiles, near, "b2")
    finally:
        d.stop()


def part_c(rng):
    print("== c: %d s of mixed load (tiles, nearest, items, exports, feed posts); VmRSS every 10 s"
          % DURATION)
    db = demo_db()
    tokens = {dept: subprocess.run([SITU, "token", "add", dept, "--db", db], check=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
              .stdout.decode().strip() for dept in FEED_DEPTS + ("emergency_management",)}
    d = Daemon(db)
    try:
        townships = [t["code"] for t in json.loads(d.get("/townships")[1])["townships"]]
        resources = [f["id"] for f in json.loads(
            d.get("/collections/resources/items?limit=200")[1])["features"]]
        paths = mixed_paths(rng, townships)
        stop = threading.Event()
        posted = {"events": 0, "errors": 0}

        def poster(i, dept):
            p = Poster(d.port, dept, tokens[dept], i, "o%d" % i)
            try:
                p.post(p.events(STATIONS_PER_DEPT, create=True))
            except (OSError, RuntimeError, http.client.HTTPException):
                posted["errors"] += 1
            while not stop.wait(0.5):  # 10 observations every half second
                try:
                    posted["events"] += len(p.post(p.events(10))[2])
                except (OSError, RuntimeError, http.client.HTTPException):
                    posted["errors"] += 1
                    p = Poster(d.port, dept, tokens[dept], i, "o%d-%d" % (i, posted["errors"]))

        def updater():
            p = Poster(d.port, "emergency_management", tokens["emergency_management"], 99, "u")
            k = 0
            while not stop.wait(2.0):  # a resource changes status every 2 s
                k += 1
                ev = [{"id": "upd-%d" % k, "type": "feature_update", "collection": "resources",
                       "feature_id": rng.choice(resources),
                       "set": {"status": rng.choice(("available", "deployed"))}}]
                try:
                    posted["events"] += len(p.post(ev)[2])
                except (OSError, RuntimeError, http.client.HTTPException):
                    posted["errors"] += 1
        workers = [threading.Thread(target=poster, args=(i, dept), daemon=True)
                   for i, dept in enumerate(FEED_DEPTS)]
        workers.append(threading.Thread(target=updater, daemon=True))
        for t in workers:
            t.start()
        result = {}
        load = threading.Thread(target=lambda: result.update(wrk(d.port, paths, 32, DURATION)))
        t0 = time.monotonic()
        load.start()
        curve = []
        print("c t_s rss_mb hwm_mb tile_cache_mb conns snapshot_version")
        while load.is_alive():
            load.join(10)
            t = time.monotonic() - t0
            if curve and t - curve[-1][0] < 5:  # wrk ended just after a sample
                break
            rss = d.status("VmRSS")
            curve.append((t, rss))
            print("c %.0f %.1f %.1f %.1f %d %d" % (
                t, rss, d.status("VmHWM"),
                d.metric("situd_tile_cache", '{what="bytes"}') / 2 ** 20,
                d.metric("situd_connections"), d.metric("situd_snapshot_version")))
            sys.stdout.flush()
        stop.set()
        for t in workers:
            t.join()
        half = [r for t, r in curve if t >= curve[-1][0] / 2]
        first = [r for t, r in curve if t < curve[-1][0] / 2]
        print("c wrk -c32 %s" % fmt_wrk(result))
        print("c feed_events_accepted=%d post_errors=%d" % (posted["events"], posted["errors"]))
        print("c rss_mb_max=%.1f hwm_mb=%.1f rss_mb_max_first_half=%.1f rss_mb_max_second_half=%.1f"
              % (max(r for _, r in curve), d.status("VmHWM"), max(first or [0]), max(half)))
    finally:
        d.stop()


def main():
    parts = [a for a in sys.argv[1:] if a in ("a", "b", "c")] or ["a", "b", "c"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # wrk inherits it
    if shutil.which("wrk") is None:
        sys.exit("overload.py needs wrk (apt-get install wrk)")
    print("situd %s on %d cores (load average %s)" % (
        SITUD, os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg())))
    rng = random.Random(8)
    for p in parts:
        {"a": part_a, "b": part_b, "c": part_c}[p](rng)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
