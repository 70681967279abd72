"""situd on PostgreSQL (issue 17), the write side, against a throwaway server
from tests/pg/pgtemp.sh (tests/http/pgtemp.py); each case in a database of
its own holding the small feeds fixture (feedlib.tiny_db).

- StartFaults: situd refuses to start, exiting non-zero with a message that
  names the server and the reason and never the password, when PostgreSQL
  is unreachable, the password is wrong, the schema is newer than situd's,
  or the database has no PostGIS.
- Writes: situd serves from the URL and writes feed POSTs into it; a token
  added with `situ token add` after the start works without a restart; a
  200 waits for the synchronous standby, also for a batch whose every event
  is a duplicate; a commit NOTIFYs situ_events with its last seq (a standby that never answers: no 200 until it is dropped).
- TwoWriters: two situd on one database, eight threads posting 400 events
  (some sent twice, through either situd): every acknowledged event is
  stored exactly once, seqs run 1..N without gaps, and a batch acknowledged
  before another was sent has the lower seqs (seq order is commit order).
- Outage: `pg_ctl stop -m immediate` while departments post: POSTs get 503
  problem+json with Retry-After, GETs are still served, /healthz says writes
  are failing; PostgreSQL started again, writes resume without restarting
  situd and nothing acknowledged is lost. SIGSTOP on the server: a POST is
  answered 503 after the writer's 10 s stall limit, not held; SIGCONT and
  writes resume.
Skipped, saying so, without PostgreSQL 15.

Run one case: python3 tests/http/test_pg_situd.py -k NAME"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import pgtemp  # noqa: E402
import situd  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"
HAVE_PG = os.access(PG_BIN + "/initdb", os.X_OK)
SERVER = {}
DEPT = "water_resources"


def setUpModule():
    if HAVE_PG:
        SERVER["pg"] = pgtemp.PgTemp().start()


def tearDownModule():
    if "pg" in SERVER:
        SERVER["pg"].stop()


def psql(url, sql):
    """sql's rows as lists of text fields, through psql."""
    out = subprocess.run([PG_BIN + "/psql", "-X", "-q", "-A", "-t", "-F", "\t",
                          "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def as_owner(*cmd):
    """Runs a PostgreSQL program as the server's user (postgres as root)."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(prefix + list(cmd), check=True, stdout=subprocess.DEVNULL)


def admin(sql):
    """sql as the superuser over the server's socket (pgtemp trusts it there)."""
    pg = SERVER["pg"]
    port = urllib.parse.urlsplit(pg.url).port
    as_owner(PG_BIN + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.dir, "-p",
             str(port), "-U", "postgres", "-d", "situ", "-c", sql)


def password():
    return urllib.parse.urlsplit(SERVER["pg"].url).password


COUNTER = [0]


def fresh_store(tmpdir):
    """A new database with the feeds fixture and no events; its URL."""
    COUNTER[0] += 1
    url = SERVER["pg"].new_database("w%d_%d" % (os.getpid(), COUNTER[0]))
    subprocess.run([situd.SITU, "init", "--db", url], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return feedlib.tiny_db(tmpdir, url)


def observations(prefix, n, first=0):
    """n observations of station W1 (made by the first), ids prefix-first ..
    prefix-(first+n-1)."""
    return [{"id": "%s-%d" % (prefix, k), "type": "observation", "station": "W1",
             "observed_at": feedlib.utc(time.time()), "metric": "water_level_m", "value": k,
             "lon": 111.05, "lat": 26.05}
            for k in range(first, first + n)]


def start_fails(test, url, *wanted):
    """Starts situd on url and expects it to exit non-zero by itself, its
    output naming every string of wanted and not the password."""
    port = situd.free_port()
    p = subprocess.run([situd.SITUD, "--db", url, "--listen", "127.0.0.1:%d" % port]
                       + situd.USER_ARGS, capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    test.assertNotEqual(p.returncode, 0, out)
    test.assertNotIn("serving http", out)
    for w in wanted:
        test.assertIn(w, out)
    test.assertNotIn(password(), out)
    return out


@unittest.skipUnless(HAVE_PG, "PostgreSQL 15 is not installed (scripts/setup.sh)")
class StartFaults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-pgw-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_unreachable(self):
        closed = situd.free_port()  # nothing listens there
        url = "postgresql://situ:%s@127.0.0.1:%d/situ" % (password(), closed)
        start_fails(self, url, "host=127.0.0.1 port=%d" % closed, "Connection refused")

    def test_wrong_password(self):
        parts = urllib.parse.urlsplit(SERVER["pg"].url)
        wrong = "Wr0ng" + password()[:12]
        url = parts._replace(netloc="situ:%s@127.0.0.1:%d" % (wrong, parts.port)).geturl()
        out = start_fails(self, url, "port=%d" % parts.port, "password authentication failed")
        self.assertNotIn(wrong, out)

    def test_newer_schema(self):
        url = fresh_store(self.tmp)
        psql(url, "UPDATE meta SET value = '999' WHERE key = 'schema_version'")
        start_fails(self, url, "schema version 999 is newer than this build")

    def test_no_postgis(self):
        name = "nogis%d" % os.getpid()
        psql(SERVER["pg"].url, 'CREATE DATABASE "%s" TEMPLATE template0' % name)
        url = urllib.parse.urlsplit(SERVER["pg"].url)._replace(path="/" + name).geturl()
        start_fails(self, url, "PostGIS is not installed")


class PgCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="situ-pgw-")
        self.url = fresh_store(self.tmp)
        self.token = feedlib.add_token(self.url, DEPT)
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:  # exit 0: no crash, no sanitizer report
            d.stop_cleanly()
            self.assertNotIn(password(), d.read_log())
        shutil.rmtree(self.tmp, ignore_errors=True)

    def situd(self):
        d = situd.Situd(self.url)
        self.daemons.append(d)
        return d

    def post(self, d, events, timeout=30):
        return d.request("POST", "/feeds/%s/events" % DEPT,
                         body=json.dumps({"events": events}).encode(),
                         headers=dict(feedlib.auth(self.token),
                                      **{"Content-Type": "application/json"}),
                         timeout=timeout)

    def logged(self):
        """event_log as {event_id: [seqs]} and the seqs in order."""
        rows = psql(self.url, "SELECT event_id, seq FROM event_log ORDER BY seq")
        by_id = {}
        for eid, seq in rows:
            by_id.setdefault(eid, []).append(int(seq))
        return by_id, [int(s) for _, s in rows]

    def assert_gapless(self, seqs):
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))


@unittest.skipUnless(HAVE_PG, "PostgreSQL 15 is not installed (scripts/setup.sh)")
class Writes(PgCase):
    def test_serves_and_writes(self):
        d = self.situd()
        r = d.get("/collections/stations/items")
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.json()["features"]), 2)  # RG0, CAM1
        listener = subprocess.Popen([PG_BIN + "/psql", "-X", "-A", "-t", self.url], text=True,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        listener.stdin.write("LISTEN situ_events;\nSELECT 'listening';\n")
        listener.stdin.flush()
        for line in listener.stdout:  # LISTEN is in force once this comes back
            if "listening" in line:
                break
        r = self.post(d, observations("a", 3))
        self.assertEqual(r.status, 200, r.body)
        heard = listener.communicate("SELECT 1;\n", timeout=30)[0]
        self.assertIn('notification "situ_events" with payload "3"', heard)
        self.assertEqual([x.get("seq") for x in r.json()["results"]], [1, 2, 3], r.body)
        by_id, seqs = self.logged()
        self.assertEqual(by_id, {"a-0": [1], "a-1": [2], "a-2": [3]})
        value = psql(self.url, "SELECT value FROM stations WHERE id = 'water_resources:W1'")
        self.assertEqual(float(value[0][0]), 2.0)

    def test_token_added_after_start(self):
        d = self.situd()
        token = feedlib.add_token(self.url, "meteorology")
        t0 = time.time()

        def accepted():
            r = d.post("/feeds/meteorology/events", {"events": observations("t", 1)},
                       headers=feedlib.auth(token))
            self.assertIn(r.status, (200, 401), r.body)
            return r.status == 200

        self.assertTrue(feedlib.wait_until(accepted, timeout=5), "new token refused for 5 s")
        print("token usable %.2f s after situ token add" % (time.time() - t0))

    def test_ack_waits_for_the_standby_duplicates_too(self):
        """A synchronous standby that never answers: no 200 for a new event,
        nor for a batch whose every event is already logged; dropping the
        standby from synchronous_standby_names releases each."""
        d = self.situd()
        first = observations("s", 2)
        r = self.post(d, first)
        self.assertEqual(r.status, 200, r.body)
        for events, logged in ((observations("s", 1, first=2), [1, 2, 3]), (first, [1, 2, 3])):
            admin("ALTER SYSTEM SET synchronous_standby_names = 'ghost'")
            admin("SELECT pg_reload_conf()")
            try:
                time.sleep(0.5)  # the reload reaches every backend
                with self.assertRaises(OSError, msg="answered without the standby"):
                    self.post(d, events, timeout=2)
                self.assertEqual(d.get("/collections/stations/items").status, 200)
            finally:
                admin("ALTER SYSTEM RESET synchronous_standby_names")
                admin("SELECT pg_reload_conf()")
            # released: the commit returned
            self.assertTrue(feedlib.wait_until(lambda: self.logged()[1] == logged))
            r = self.post(d, events)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual({x["status"] for x in r.json()["results"]}, {"duplicate"})


@unittest.skipUnless(HAVE_PG, "PostgreSQL 15 is not installed (scripts/setup.sh)")
class TwoWriters(PgCase):
    THREADS, BATCHES, SIZE = 8, 10, 5  # 400 events

    def test_concurrent_seq_order(self):
        daemons = [self.situd(), self.situd()]
        acks, errors = [], []  # (sent, answered, {event id: seq}); messages

        def client(t):
            try:
                for b in range(self.BATCHES):
                    events = observations("c%d-%d" % (t, b), self.SIZE)
                    d = daemons[(t + b) % 2]
                    sent = time.monotonic()
                    r = self.post(d, events)
                    done = time.monotonic()
                    if r.status != 200:
                        raise AssertionError("HTTP %d: %r" % (r.status, r.body[:300]))
                    res = r.json()["results"]
                    if any(x["status"] != "accepted" for x in res):
                        raise AssertionError(res)
                    acks.append((sent, done, {x["id"]: x["seq"] for x in res}))
                    if b % 3 == 0:  # the same batch again, through the other situd
                        r = self.post(daemons[(t + b + 1) % 2], events)
                        if [x["status"] for x in r.json()["results"]] != ["duplicate"] * 5:
                            raise AssertionError(r.body[:300])
            except Exception as e:  # noqa: BLE001 (reported by the main thread)
                errors.append(repr(e))

        threads = [threading.Thread(target=client, args=(t,)) for t in range(self.THREADS)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        n = self.THREADS * self.BATCHES * self.SIZE
        print("%d events through two situd in %.2f s" % (n, time.monotonic() - t0))
        self.assertEqual(errors, [])
        by_id, seqs = self.logged()
        self.assertEqual(len(by_id), n)
        self.assert_gapless(seqs)
        for _, _, got in acks:  # stored exactly once, at the seq answered
            for eid, seq in got.items():
                self.assertEqual(by_id[eid], [seq], eid)
        # a batch answered before another was sent was committed first
        for a_sent, a_done, a in acks:
            for b_sent, _, b in acks:
                if a_done < b_sent:
                    self.assertLess(max(a.values()), min(b.values()))


@unittest.skipUnless(HAVE_PG, "PostgreSQL 15 is not installed (scripts/setup.sh)")
class Outage(PgCase):
    def pg_ctl(self, *args):
        pg = SERVER["pg"]
        as_owner(PG_BIN + "/pg_ctl", "-D", os.path.join(pg.dir, "data"), "-w", *args)

    def test_stop_immediate_while_posting(self):
        d = self.situd()
        acked, unacked, errors, stop = {}, [], [], threading.Event()
        statuses = {}

        def client(t):
            k = 0
            while not stop.is_set():
                events = observations("o%d" % t, 5, first=k)
                k += 5
                try:
                    r = self.post(d, events, timeout=10)
                except OSError as e:
                    errors.append(repr(e))
                    continue
                statuses[r.status] = statuses.get(r.status, 0) + 1
                if r.status == 200:
                    acked.update({x["id"]: x["seq"] for x in r.json()["results"]})
                elif r.status == 503:
                    unacked.extend(e["id"] for e in events)
                    if r.headers.get("retry-after") != "1" or \
                            not r.ctype.startswith("application/problem+json"):
                        errors.append("503 without Retry-After or problem+json: %r"
                                      % r.headers)
                else:
                    errors.append("HTTP %d: %r" % (r.status, r.body[:200]))
                time.sleep(0.01)

        threads = [threading.Thread(target=client, args=(t,)) for t in range(3)]
        for t in threads:
            t.start()
        try:
            self.assertTrue(feedlib.wait_until(lambda: len(acked) >= 30, timeout=20))
            port = urllib.parse.urlsplit(SERVER["pg"].url).port
            self.pg_ctl("-m", "immediate", "stop")
            down = time.monotonic()
            # every POST now fails, with a 503 the client can act on
            before = dict(statuses)
            self.assertTrue(feedlib.wait_until(
                lambda: statuses.get(503, 0) >= before.get(503, 0) + 6, timeout=15))
            n503 = statuses.get(503, 0)
            r = self.post(d, observations("x", 1))
            doc = situd.assert_problem(self, r, 503)
            self.assertEqual(r.headers.get("retry-after"), "1")
            self.assertIn("send them again", doc["detail"])
            self.assertNotIn(password(), doc["detail"])
            for path in ("/collections/stations/items", "/collections/resources/items/R1"):
                self.assertEqual(d.get(path).status, 200, path)
            h = d.get("/healthz")
            self.assertEqual(h.status, 503)
            self.assertEqual(h.json()["writes"], "failing")
            self.pg_ctl("-l", os.path.join(SERVER["pg"].dir, "log"), "-o",
                        "-p %d -k %s" % (port, SERVER["pg"].dir), "start")
            # writes resume by themselves: the writer reconnects
            self.assertTrue(feedlib.wait_until(lambda: self.post(
                d, observations("back", 1)).status == 200, timeout=20), d.read_log())
            print("write outage %.2f s, %d POSTs answered 503 during it"
                  % (time.monotonic() - down, statuses.get(503, 0) - before.get(503, 0)))
            self.assertGreaterEqual(n503, 6)
            self.assertEqual(d.get("/healthz").json()["writes"], "ok")
            acked_after = len(acked)
            self.assertTrue(feedlib.wait_until(lambda: len(acked) > acked_after + 10,
                                               timeout=20))
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(errors, [])
        by_id, seqs = self.logged()
        self.assert_gapless(seqs)
        for eid, seq in acked.items():  # nothing acknowledged was lost
            self.assertEqual(by_id.get(eid), [seq], eid)
        self.assertIn("back-0", by_id)

    def server_pids(self):
        """The postmaster's pid and its children's."""
        with open(os.path.join(SERVER["pg"].dir, "data", "postmaster.pid")) as f:
            master = int(f.readline())
        kids = subprocess.run(["pgrep", "-P", str(master)], capture_output=True,
                              text=True).stdout.split()
        return [master] + [int(k) for k in kids]

    def test_server_stopped_not_dead(self):
        """SIGSTOP on every server process (its kernel still acknowledges):
        a POST is answered 503 once the writer gives up on the silent server
        (10 s), not held forever; GETs are served; SIGCONT and writes
        resume by themselves."""
        d = self.situd()
        self.assertEqual(self.post(d, observations("p", 1)).status, 200)
        pids = self.server_pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            r = self.post(d, observations("p", 1, first=1), timeout=60)
            waited = time.monotonic() - t0
            situd.assert_problem(self, r, 503)
            self.assertEqual(r.headers.get("retry-after"), "1")
            self.assertEqual(d.get("/collections/stations/items").status, 200)
            print("POST to a stopped server answered 503 after %.1f s" % waited)
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        self.assertTrue(feedlib.wait_until(lambda: self.post(
            d, observations("p", 1, first=2)).status == 200, timeout=60), d.read_log())
        by_id, seqs = self.logged()
        self.assert_gapless(seqs)
        self.assertIn("p-2", by_id)


if __name__ == "__main__":
    unittest.main(verbosity=2)
