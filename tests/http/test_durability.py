"""test_durability.py: several clients post batches (1 to 100 events) while
situd is killed with SIGKILL at random moments and restarted. Each event
creates its own station (S-<dept>-<k>, value k), so every effect can be
traced to exactly one event. After every kill, with situd dead, the file
must hold: every acknowledged event in the log exactly once and applied;
every logged event applied and every applied one logged (same transaction);
PRAGMA integrity_check passes;
each in-flight batch either wholly there or wholly absent. Clients then
resend what was not acknowledged; an event committed before the kill comes
back "duplicate" and is not applied twice. Each round must find situd alive
at the kill, see it die of the SIGKILL, and have acknowledged something.

StopTest: SIGTERM while batches wait for the writer; every batch sent before
it is answered, every 200 is in the file and nothing refused is, exit 0."""

import http.client
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402

DEPTS = ("meteorology", "water_resources", "natural_resources", "forestry")
KILLS = int(os.environ.get("SITU_KILLS", "20"))
SIZES = (1, 1, 3, 10, 40, 100)
STOP_BATCH = 300  # events per batch while situd is stopped: the writer has a queue


class Client:
    """One department posting batches in order; a batch stays queued until
    it is answered, so a batch cut off by a kill is sent again."""

    def __init__(self, dept, token, rng):
        self.dept, self.token, self.rng = dept, token, rng
        self.k = 0
        self.todo = []   # batches not yet answered, oldest first
        self.acked = {}  # event id -> "accepted" | "duplicate"
        self.error = None

    def batch(self, n=None):
        out = []
        for _ in range(n or self.rng.choice(SIZES)):
            self.k += 1
            out.append({"id": "%s-%d" % (self.dept, self.k), "type": "observation",
                        "station": "S-%s-%d" % (self.dept, self.k),
                        "observed_at": feedlib.utc(time.time()), "metric": "rain_1h_mm",
                        "value": self.k, "lon": self.rng.uniform(111.0, 111.2),
                        "lat": self.rng.uniform(26.0, 26.1)})
        return out

    def post_one(self, d):
        if not self.todo:
            self.todo.append(self.batch())
        r = d.post("/feeds/%s/events" % self.dept, {"events": self.todo[0]},
                   headers=feedlib.auth(self.token))
        if r.status == 503:
            return
        if r.status != 200:
            raise AssertionError("HTTP %d: %r" % (r.status, r.body[:300]))
        for res in r.json()["results"]:
            if res["status"] not in ("accepted", "duplicate"):
                raise AssertionError("event %s: %r" % (res["id"], res))
            self.acked[res["id"]] = res["status"]
        self.todo.pop(0)

    def pump(self, d, stop):
        """Posts until stop is set or the daemon dies under it."""
        while not stop.is_set():
            try:
                self.post_one(d)
            except OSError:
                return
            except AssertionError as e:
                self.error = e
                return


def inventory(db):
    """(log, stations): event id -> seq count, and station id -> value, of the
    test's departments, read with plain SQLite while situd is dead."""
    con = sqlite3.connect(db)
    try:
        check = con.execute("PRAGMA integrity_check").fetchall()
        assert check == [("ok",)], "integrity_check: %r" % check[:5]
        log = {}
        for eid, n in con.execute("SELECT event_id, count(*) FROM event_log WHERE dept IN "
                                  "(%s) GROUP BY dept, event_id" % ",".join("?" * len(DEPTS)),
                                  DEPTS):
            log[eid] = log.get(eid, 0) + n
        st = dict(con.execute("SELECT substr(id, instr(id, ':') + 1), value FROM stations "
                              "WHERE id LIKE '%:S-%'"))
        return log, st
    finally:
        con.close()


class DurabilityTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="situ-durable-")
        self.db = feedlib.tiny_db(self.tmp)
        self.tokens = {d: feedlib.add_token(self.db, d) for d in DEPTS}
        self.rng = random.Random(int(os.environ.get("SITU_SEED", "20240601")))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def check(self, clients, when):
        log, st = inventory(self.db)
        for c in clients:
            for eid in c.acked:
                self.assertEqual(log.get(eid), 1, "%s: acknowledged %s not logged once" %
                                 (when, eid))
            for b in c.todo:  # in flight at the kill: all or nothing
                there = sum(1 for e in b if e["id"] in log)
                self.assertIn(there, (0, len(b)), "%s: batch of %d half applied (%d)" %
                              (when, len(b), there))
        for eid, n in log.items():
            self.assertEqual(n, 1, "%s: %s logged %d times" % (when, eid, n))
            k = int(eid.rsplit("-", 1)[1])
            self.assertEqual(st.get("S-" + eid), k, "%s: logged %s not applied" % (when, eid))
        self.assertEqual(len(st), len(log), "%s: a station without its log row" % when)
        out = subprocess.run([situd.SITU, "check", "--db", self.db], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        self.assertEqual(out.returncode, 0, out.stdout.decode()[-500:])
        return log

    def run_round(self, clients, seconds, when):
        """Clients post for `seconds` (and until something is acknowledged),
        then situd, alive until then, gets SIGKILL and dies of it."""
        d = situd.Situd(self.db, "--quiet", *feedlib.many_stations_args(self.tmp))
        stop = threading.Event()
        threads = [threading.Thread(target=c.pump, args=(d, stop), daemon=True)
                   for c in clients]
        acked = sum(len(c.acked) for c in clients)
        for t in threads:
            t.start()
        time.sleep(seconds)
        progressed = feedlib.wait_until(lambda: sum(len(c.acked) for c in clients) > acked,
                                        timeout=30)
        alive = d.proc.poll() is None
        d.proc.kill()
        d.proc.wait()
        d.log.close()
        self.assertTrue(alive, "%s: situd died by itself (%s): %s" %
                        (when, d.proc.returncode, d.read_log()))
        self.assertEqual(d.proc.returncode, -signal.SIGKILL, when)
        self.assertTrue(progressed, "%s: nothing acknowledged in the round" % when)
        stop.set()
        for c, t in zip(clients, threads):
            t.join(30)
            self.assertFalse(t.is_alive(), "a client hung")
            self.assertIsNone(c.error)

    def test_sigkill_loses_nothing_acknowledged_and_applies_nothing_twice(self):
        clients = [Client(d, self.tokens[d], random.Random(self.rng.random())) for d in DEPTS]
        for i in range(KILLS):
            when = "kill %d" % (i + 1)
            self.run_round(clients, self.rng.uniform(0.2, 1.5), when)
            self.check(clients, "after " + when)
        # resend everything not acknowledged, then stop cleanly
        d = situd.Situd(self.db, "--quiet", *feedlib.many_stations_args(self.tmp))
        for c in clients:
            while c.todo:
                c.post_one(d)
        self.assertEqual(d.stop(), 0)
        log = self.check(clients, "at the end")
        acked = sum(len(c.acked) for c in clients)
        dups = sum(1 for c in clients for s in c.acked.values() if s == "duplicate")
        self.assertEqual(acked, len(log))
        sys.stderr.write("\n%d kills, %d events acknowledged, %d of them committed before a "
                         "kill but answered only on resend (duplicate)\n" % (KILLS, acked, dups))


def queued(d):
    """Events waiting for situd's feeds writer, from /metrics."""
    for line in d.get("/metrics").body.decode().splitlines():
        if line.startswith("situd_feed_queued_events "):
            return int(line.split()[1])
    raise AssertionError("no situd_feed_queued_events in /metrics")


class StopTest(unittest.TestCase):
    """README: on SIGTERM the feeds writer answers every queued batch, each
    durable before its 200, requests in flight finish, and situd exits 0."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="situ-stop-")
        self.db = feedlib.tiny_db(self.tmp)
        self.tokens = {d: feedlib.add_token(self.db, d) for d in DEPTS}

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def send(port, dept, token, events):
        """One POST on its own connection: (monotonic time the request was
        written, HTTP status or None when no answer came, time of the answer)."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        sent = None
        try:
            conn.request("POST", "/feeds/%s/events" % dept, json.dumps({"events": events}),
                         dict(feedlib.auth(token), **{"Content-Type": "application/json"}))
            sent = time.monotonic()
            r = conn.getresponse()
            r.read()
            return sent, r.status, time.monotonic()
        except OSError:
            return sent, None, time.monotonic()
        finally:
            conn.close()

    def test_sigterm_answers_every_queued_batch_and_each_is_durable(self):
        # every event names a new station: lift the per-department quota so
        # that a batch answered 200 has every event accepted
        d = situd.Situd(self.db, "--quiet", *feedlib.many_stations_args(self.tmp))
        stopping, lock, sent = threading.Event(), threading.Lock(), []

        def post(dept):
            c = Client(dept, self.tokens[dept], random.Random(dept))
            while True:
                events = c.batch(STOP_BATCH)
                out = self.send(d.port, dept, c.token, events)
                with lock:
                    sent.append(out + (events,))
                if out[1] != 200 and stopping.is_set():
                    return
        threads = [threading.Thread(target=post, args=(dept,), daemon=True) for dept in DEPTS]
        for t in threads:
            t.start()
        time.sleep(0.5)
        # SIGTERM while batches wait in the writer's queue
        self.assertTrue(feedlib.wait_until(lambda: queued(d) > 0, timeout=20, step=0.01),
                        "the writer never had a queue")
        stopping.set()
        t_term = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        for t in threads:
            t.join(60)
            self.assertFalse(t.is_alive(), "a client hung")
        self.assertEqual(d.stop(), 0, d.read_log())
        log, _ = inventory(self.db)
        late = 0
        for at, status, answered, events in sent:
            if at is not None and at < t_term:
                self.assertIsNotNone(status, "a batch sent before SIGTERM got no answer")
            there = sum(1 for e in events if e["id"] in log)
            self.assertEqual(there, len(events) if status == 200 else 0,
                             "a batch answered %s: %d of %d events in the store" %
                             (status, there, len(events)))
            late += status == 200 and answered > t_term
        self.assertGreater(late, 0, "no batch was queued at the SIGTERM: nothing tested")
        sys.stderr.write("\n%d batches, %d answered 200 after the SIGTERM\n" % (len(sent), late))


if __name__ == "__main__":
    unittest.main(verbosity=2)
