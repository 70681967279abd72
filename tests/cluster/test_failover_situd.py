#!/usr/bin/python3
"""test_failover_situd.py: the cluster of scripts/cluster.sh (etcd, three
PostgreSQL 15 nodes under Patroni, synchronous mode, two situd) under load
while it loses machines; issue #17, "Failover, tested on one machine".

Load: four departments post batches of events through both situd (two
each), event k a reading of value k at station S-<dept>-<k mod 200> (a
department may register 500 stations), so that every effect traces to
events; a batch answered 503 (or cut off) is sent
again until it is answered 200 ("duplicate" then means stored before).
Readers ask both situd for a tile and /nearest all the time.

Faults, in order:
  1. kill -9 of the primary's PostgreSQL and Patroni (a machine lost); the
     node is started again and must rejoin as a replica;
  2. SIGSTOP of the (new) primary for SITU_SIGSTOP_SECONDS (40 s, as the
     issue says), then SIGCONT: it must come back as a replica;
  3. kill -9 of situd 1, started again (it resumes from its seq).
Afterwards: every acknowledged event is in event_log exactly once and its
station exists, no event is there that was never sent, the seqs run
without gaps, every situd's /healthz "seq" reaches max(seq) and their
"digest"s are equal; every read of a running situd was answered (200, or
503 "stale"; each with X-Situ-Seq), and the write outage of each fault (the
first 503 or failed POST to the next 200) is printed.

Depends on the write path (503 + Retry-After while durability is unknown,
reconnect) and the read path (follow event_log; /healthz seq, digest;
X-Situ-Seq) of docs CLUSTER.md. Not registered in ctest until they are
merged. Run by Debian's python3 (psycopg2). Ports from
SITU_TEST_CLUSTER_PORT (default 26532); SITU_BIN, SITUD_BIN as for the
other suites; SITU_CLUSTER_LOGS=DIR keeps the cluster's logs."""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import feedlib  # noqa: E402
import situd  # noqa: E402

CLUSTER_SH = os.path.join(HERE, "..", "..", "scripts", "cluster.sh")
PORT = int(os.environ.get("SITU_TEST_CLUSTER_PORT", "26532"))
SITUD_PORTS = (PORT + 3, PORT + 4)  # scripts/cluster.sh: situd N on P+2+N
SIGSTOP_SECONDS = float(os.environ.get("SITU_SIGSTOP_SECONDS", "40"))
DEPTS = ("meteorology", "water_resources", "natural_resources", "forestry")
BATCH = 5
REQUEST_TIMEOUT = 30.0  # s; a POST may wait for a failover, a read never should
CONVERGE_S = 60.0
STATIONS = 200  # per department, under its quota of 500


def station_of(dept, k):
    return "S-%s-%d" % (dept, k % STATIONS)
T0 = time.monotonic()


def log(msg):
    sys.stderr.write("[%6.1f s] %s\n" % (time.monotonic() - T0, msg))
    sys.stderr.flush()


def tile_path(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    r = math.radians(lat)
    y = int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n)
    return "/tiles/all/%d/%d/%d.mvt" % (z, x, y)


READS = (tile_path(111.05, 26.05, 12), "/nearest?lon=111.05&lat=26.05&collection=resources&k=2")


def request(port, method, path, body=None, headers=None, timeout=REQUEST_TIMEOUT):
    return situd.request_port(port, method, path, body, headers, timeout)


class Cluster:
    """scripts/cluster.sh in a temporary folder on the test's ports."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="situ-cluster-situd-")
        os.chmod(self.dir, 0o755)
        self.env = dict(os.environ, SITU_CLUSTER_DIR=os.path.join(self.dir, "c"),
                        SITU_CLUSTER_PORT=str(PORT), SITU_BIN=situd.SITU, SITUD_BIN=situd.SITUD)

    def sh(self, *args, timeout=300):
        r = subprocess.run([CLUSTER_SH] + list(args), env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode:
            raise AssertionError("cluster.sh %s: %s" % (" ".join(args), r.stderr.decode()[-2000:]))
        return r.stdout.decode().strip()

    def situ(self, *args):
        env = dict(self.env, PGPASSFILE=os.path.join(self.env["SITU_CLUSTER_DIR"], "pgpass"))
        return subprocess.run([situd.SITU] + list(args), env=env, check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout.decode()

    def connect(self):
        return psycopg2.connect(self.url, passfile=os.path.join(self.env["SITU_CLUSTER_DIR"],
                                                                "pgpass"), connect_timeout=5)

    def stop(self):
        keep = os.environ.get("SITU_CLUSTER_LOGS")
        if keep:
            shutil.copytree(self.env["SITU_CLUSTER_DIR"], keep, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("data", "secrets", "pgpass*"))
        subprocess.run([CLUSTER_SH, "stop"], env=self.env, timeout=120)
        shutil.rmtree(self.dir, ignore_errors=True)


class Department:
    """Posts batches in order through one situd; a batch stays queued until
    it is answered 200, so a batch cut off by a fault is sent again."""

    def __init__(self, dept, token, port, outages):
        self.dept, self.token, self.port, self.outages = dept, token, port, outages
        self.k = 0
        self.todo = []
        self.acked = {}  # event id -> "accepted" | "duplicate"
        self.sent = set()
        self.error = None

    def batch(self):
        out = []
        for _ in range(BATCH):
            self.k += 1
            eid = "%s-%d" % (self.dept, self.k)
            self.sent.add(eid)
            out.append({"id": eid, "type": "observation", "station": station_of(self.dept, self.k),
                        "observed_at": feedlib.utc(time.time()), "metric": "rain_1h_mm",
                        "value": self.k, "lon": 111.0 + (self.k % 100) * 0.002,
                        "lat": 26.05})
        return out

    def post_one(self):
        if not self.todo:
            self.todo.append(self.batch())
        body = json.dumps({"events": self.todo[0]})
        headers = dict(feedlib.auth(self.token), **{"Content-Type": "application/json"})
        try:
            status, hdr, data = request(self.port, "POST", "/feeds/%s/events" % self.dept, body,
                                        headers)
        except OSError:
            self.outages.failed(self.port)
            time.sleep(0.2)
            return
        if status == 503:
            if "retry-after" not in hdr:
                raise AssertionError("503 without Retry-After: %r" % data[:200])
            self.outages.failed(self.port)
            time.sleep(min(float(hdr["retry-after"]), 1.0))
            return
        if status != 200:
            raise AssertionError("%s: HTTP %d: %r" % (self.dept, status, data[:300]))
        for res in json.loads(data)["results"]:
            if res["status"] not in ("accepted", "duplicate"):
                raise AssertionError("event %s: %r" % (res["id"], res))
            self.acked[res["id"]] = res["status"]
        self.outages.ok(self.port)
        self.todo.pop(0)

    def pump(self, stop):
        while not stop.is_set() and not self.error:
            try:
                self.post_one()
            except AssertionError as e:
                self.error = e

    def drain(self, deadline):
        """Sends what is still queued until it is answered."""
        while self.todo and time.monotonic() < deadline and not self.error:
            self.post_one()


class Outages:
    """Write outages: from the first failed POST (503 or no answer) after a
    200 to the next 200, on any situd; the longest per fault is reported."""

    def __init__(self):
        self.lock = threading.Lock()
        self.down_since = None
        self.spans = []

    def failed(self, port):
        with self.lock:
            if self.down_since is None:
                self.down_since = time.monotonic()

    def ok(self, port):
        with self.lock:
            if self.down_since is not None:
                self.spans.append((self.down_since, time.monotonic()))
                self.down_since = None

    def within(self, t0, t1):
        with self.lock:
            return [b - a for a, b in self.spans if t0 <= b and a <= t1]


class Reader:
    """Reads a tile and /nearest from one situd all the time. A read that
    gets no answer while its situd is meant to run is a failure."""

    def __init__(self, port):
        self.port = port
        self.down = threading.Event()  # set while the test has killed this situd
        self.answers = {}
        self.failures = []
        self.no_seq = 0
        self.seqs = []

    def run(self, stop):
        i = 0
        while not stop.is_set():
            path = READS[i % len(READS)]
            i += 1
            down_before = self.down.is_set()
            try:
                status, hdr, _ = request(self.port, "GET", path, timeout=5)
            except OSError as e:
                if not (down_before or self.down.is_set()):
                    self.failures.append("%s: %s" % (path, e))
                time.sleep(0.05)
                continue
            self.answers[status] = self.answers.get(status, 0) + 1
            if status not in (200, 503):
                self.failures.append("%s: HTTP %d" % (path, status))
            if "x-situ-seq" in hdr:
                self.seqs.append(int(hdr["x-situ-seq"]))
            else:
                self.no_seq += 1
            time.sleep(0.01)


def healthz(port):
    try:
        status, _, body = request(port, "GET", "/healthz", timeout=5)
        return json.loads(body)
    except (OSError, ValueError):
        return None


class FailoverUnderLoadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster()
        try:
            cls.cluster.url = cls.cluster.sh("start")
            log("cluster up: %s" % cls.cluster.sh("primary"))
            tmp = os.path.join(cls.cluster.dir, "fixture")
            os.makedirs(tmp)
            for name, doc in (("townships", feedlib.TOWNSHIPS), ("resources", feedlib.RESOURCES),
                              ("hazards", feedlib.HAZARDS), ("stations", feedlib.STATIONS)):
                src = os.path.join(tmp, name + ".geojson")
                with open(src, "w", encoding="utf-8") as f:
                    json.dump(doc, f, ensure_ascii=False)
                cls.cluster.situ("load", "--db", cls.cluster.url, "--collection", name, src)
            cls.tokens = {d: cls.cluster.situ("token", "add", d, "--db", cls.cluster.url).strip()
                          for d in DEPTS}
            for n in ("1", "2"):  # snapshots with the fixture
                cls.cluster.sh("situd-kill", n)
                cls.cluster.sh("situd-start", n)
        except BaseException:
            cls.cluster.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def wait_writes(self, outages, since, depts, limit=120):
        """Waits for a 200 after `since`; returns the outage seen (s)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            for d in depts:
                self.assertIsNone(d.error, d.error)
            with outages.lock:
                if outages.down_since is None and outages.spans and outages.spans[-1][1] > since:
                    break
            time.sleep(0.2)
        else:
            self.fail("no write acknowledged within %d s of the fault" % limit)
        return max(outages.within(since, time.monotonic()) or [0.0])

    def test_failover_under_load(self):
        c = self.cluster
        outages = Outages()
        depts = [Department(d, self.tokens[d], SITUD_PORTS[i % 2], outages)
                 for i, d in enumerate(DEPTS)]
        readers = [Reader(p) for p in SITUD_PORTS]
        stop = threading.Event()
        threads = [threading.Thread(target=x.pump if isinstance(x, Department) else x.run,
                                    args=(stop,), daemon=True) for x in depts + readers]
        for t in threads:
            t.start()
        report = []
        try:
            time.sleep(5)
            self.assertTrue(any(d.acked for d in depts), "nothing acknowledged before the faults")

            t = time.monotonic()
            node = c.sh("kill-primary")
            log("kill -9 of %s (primary)" % node)
            report.append(("kill -9 primary", self.wait_writes(outages, t, depts)))
            c.sh("start")  # the lost node comes back and must rejoin as a replica
            c.sh("wait-healthy", "180", timeout=200)
            self.assertNotEqual(c.sh("primary").split()[0], node,
                                "the killed primary must come back as a replica")
            log("healthy again: primary %s" % c.sh("primary"))

            t = time.monotonic()
            frozen = subprocess.Popen([CLUSTER_SH, "stop-primary", str(SIGSTOP_SECONDS)],
                                      env=c.env, stdout=subprocess.PIPE)
            report.append(("SIGSTOP primary %g s" % SIGSTOP_SECONDS, self.wait_writes(outages, t, depts)))
            frozen.wait(timeout=SIGSTOP_SECONDS + 60)
            thawed = frozen.stdout.read().decode().strip()
            log("thawed %s" % thawed)
            c.sh("wait-healthy", "180", timeout=200)
            self.assertNotEqual(c.sh("primary").split()[0], thawed,
                                "the frozen primary must come back as a replica")
            log("healthy again: primary %s" % c.sh("primary"))

            t = time.monotonic()
            readers[0].down.set()
            c.sh("situd-kill", "1")
            log("kill -9 of situd 1")
            time.sleep(1)
            c.sh("situd-start", "1")
            readers[0].down.clear()
            log("situd 1 serves again after %.1f s" % (time.monotonic() - t))
            report.append(("kill -9 situd 1", self.wait_writes(outages, t, depts)))
            time.sleep(5)
        finally:
            stop.set()
            for th in threads:
                th.join(timeout=REQUEST_TIMEOUT + 5)
        for d in depts:
            self.assertIsNone(d.error, d.error)
            d.drain(time.monotonic() + 120)
            self.assertEqual(d.todo, [], "%s: batches never acknowledged" % d.dept)
        for what, s in report:
            print("write outage, %s: %.1f s" % (what, s))
        self.check_store(depts)
        self.check_readers(readers)

    def check_store(self, depts):
        con = self.cluster.connect()
        try:
            cur = con.cursor()
            cur.execute("SELECT dept, event_id, count(*) FROM event_log WHERE dept = ANY(%s) "
                        "GROUP BY dept, event_id", (list(DEPTS),))
            stored = {(d, e): n for d, e, n in cur.fetchall()}
            cur.execute("SELECT id, value FROM stations WHERE id LIKE %s", ("%:S-%",))
            stations = {r[0].split(":", 1)[1]: r[1] for r in cur.fetchall()}
            cur.execute("SELECT min(seq), max(seq), count(*), count(DISTINCT seq) FROM event_log")
            lo, hi, n, distinct = cur.fetchone()
        finally:
            con.close()
        for d in depts:
            for eid in d.acked:
                self.assertEqual(stored.get((d.dept, eid)), 1,
                                 "acknowledged %s of %s stored %s times" %
                                 (eid, d.dept, stored.get((d.dept, eid), 0)))
            # each station holds the value of the last of its events stored
            last = {}
            for (dd, e) in stored:
                if dd == d.dept:
                    k = int(e.rsplit("-", 1)[1])
                    st = station_of(d.dept, k)
                    last[st] = max(last.get(st, 0), k)
            for st, k in last.items():
                self.assertEqual(stations.get(st), k, "%s: station %s" % (d.dept, st))
            extra = {e for (dd, e) in stored if dd == d.dept} - d.sent
            self.assertEqual(extra, set(), "%s: events stored that were never sent" % d.dept)
        self.assertEqual((n, distinct), (hi - lo + 1, n), "seqs %s..%s: %d rows, %d distinct" %
                         (lo, hi, n, distinct))
        self.max_seq = hi
        log("%d events acknowledged, seqs %d..%d gapless" %
            (sum(len(d.acked) for d in depts), lo, hi))

    def check_readers(self, readers):
        deadline = time.monotonic() + CONVERGE_S
        while True:
            h = [healthz(p) for p in SITUD_PORTS]
            if all(x and x.get("seq") == self.max_seq for x in h) and \
                    h[0].get("digest") == h[1].get("digest"):
                break
            if time.monotonic() > deadline:
                self.fail("situd did not converge on seq %d with equal digests: %r" %
                          (self.max_seq, h))
            time.sleep(0.5)
        log("both situd at seq %d, digest %s" % (self.max_seq, h[0]["digest"]))
        for r in readers:
            self.assertEqual(r.failures, [], "situd on %d: reads not answered" % r.port)
            self.assertGreater(r.answers.get(200, 0), 50, "situd on %d: %r" % (r.port, r.answers))
            self.assertEqual(r.no_seq, 0, "situd on %d: answers without X-Situ-Seq" % r.port)
            print("reads of situd on %d: %r, X-Situ-Seq up to %d" %
                  (r.port, r.answers, max(r.seqs or [0])))


if __name__ == "__main__":
    unittest.main()
