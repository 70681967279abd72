"""Every situd a reader of one PostgreSQL store (issue 17): two situd (A, B)
on one throwaway server from pgtemp.py. An event POSTed to A is visible on B
(items and a tile) with the same X-Situ-Seq, and /events on B carries the
same ids; a Last-Event-ID taken from A resumes on B with nothing missed or
duplicated; after a burst of 240 events posted to both, both /healthz
digests are equal, and equal to a cold-started third situd's, and B's
/events carried every seq once, in order; the server stopped with
`pg_ctl stop -m immediate`: reads still 200 from memory, the lag reported
(and past --max-lag, "stale" and 503 with X-Situ-Stale on answers), then
the server started again: the followers catch up by themselves. Retention
on one situd (the others run none) removes an expired alert from every
situd, by its log row, at one seq: the digests agree. A --read-only situd
(no feeds writer: POSTs 503) follows what the others write. Skipped,
saying so, without PostgreSQL 15.

Run one case: python3 tests/http/test_follow_pg.py -k NAME"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import feedlib  # noqa: E402
import situd  # noqa: E402
from feedlib import auth, utc, wait_until  # noqa: E402
from pgtemp import PgTemp  # noqa: E402
from test_feeds import tile_xy  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"
HAVE_PG = os.access(os.path.join(PG_BIN, "initdb"), os.X_OK)


def as_owner(cmd):
    """cmd run as the server's user (postgres when we are root)."""
    return (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + cmd


def load(url, tmpdir):
    """feedlib's tiny fixture loaded into the store at url with `situ load`."""
    subprocess.run([situd.SITU, "init", "--db", url], check=True, stdout=subprocess.DEVNULL)
    for name, doc in (("townships", feedlib.TOWNSHIPS), ("resources", feedlib.RESOURCES),
                      ("hazards", feedlib.HAZARDS), ("stations", feedlib.STATIONS)):
        src = os.path.join(tmpdir, name + ".geojson")
        with open(src, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        subprocess.run([situd.SITU, "load", "--db", url, "--collection", name, src],
                       check=True, stdout=subprocess.DEVNULL)


def reading(eid, value, station="RG0"):
    return {"id": eid, "type": "observation", "station": station,
            "observed_at": utc(time.time()), "metric": "rain_1h_mm", "value": value}


@unittest.skipUnless(HAVE_PG, "PostgreSQL 15 is not installed (scripts/setup.sh)")
class FollowPgTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-follow-")
        cls.pg = PgTemp().start()
        cls.daemons = []
        try:
            load(cls.pg.url, cls.tmp)
            cls.tok = feedlib.add_token(cls.pg.url, "meteorology")
            # no retention unless a case asks: a removal A or B made on its
            # own would hide one that did not reach them
            cls.no_retention = cls.config("none", "[retention]\ninterval_s = 0\n")
            cls.a = cls.start(*cls.no_retention)
            cls.b = cls.start(*cls.no_retention)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        failed = []
        for d in cls.daemons:
            try:
                d.stop_cleanly()  # a sanitizer's report at exit fails the suite
            except AssertionError as e:
                failed.append(e)
        cls.pg.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if failed:
            raise failed[0]

    @classmethod
    def config(cls, name, text):
        path = os.path.join(cls.tmp, name + ".ini")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return ["--config", path]

    @classmethod
    def start(cls, *args):
        d = situd.Situd(cls.pg.url, "--quiet", *(list(args) + situd.USER_ARGS))
        cls.daemons.append(d)
        return d

    # ---- helpers --------------------------------------------------------------------------

    def post(self, d, events):
        r = d.post("/feeds/meteorology/events", {"events": events}, headers=auth(self.tok))
        self.assertEqual(r.status, 200, r.body[:300])
        doc = r.json()
        self.assertEqual(doc["accepted"], len(events), doc)
        return [e["seq"] for e in doc["results"]]

    def health(self, d):
        r = d.get("/healthz")
        return r.json()

    def caught_up(self, seq, *daemons, timeout=20):
        """Waits until every daemon's /healthz seq reaches seq."""
        ok = wait_until(lambda: all(self.health(d)["seq"] >= seq for d in daemons), timeout)
        self.assertTrue(ok, [self.health(d) for d in daemons])

    def value(self, d, fid="RG0"):
        r = d.get("/collections/stations/items/" + fid)
        return r, (r.json()["properties"]["value"] if r.status == 200 else None)

    # ---- cases ----------------------------------------------------------------------------

    def test_an_event_posted_to_a_is_on_b_with_the_same_seq_and_event_id(self):
        z = 15
        tile = "/tiles/stations/%d/%d/%d.mvt" % ((z,) + tile_xy(111.02, 26.02, z))
        before = self.b.get(tile)
        sse_a, sse_b = feedlib.SSE(self.a.port), feedlib.SSE(self.b.port)
        try:
            seq, = self.post(self.a, [reading("ab-1", 123.5)])
            got = [s.until(lambda m: m["id"] == seq) for s in (sse_a, sse_b)]
            self.assertIsNotNone(got[1], "B's /events never carried seq %d" % seq)
            self.assertEqual(got[0], got[1])
            self.assertEqual(got[1]["data"]["id"], "RG0")
        finally:
            sse_a.close()
            sse_b.close()
        # the message is out only once the snapshot holds the change
        r, v = self.value(self.b)
        self.assertEqual(v, 123.5)
        self.assertGreaterEqual(int(r.headers["x-situ-seq"]), seq)
        self.caught_up(seq, self.a, self.b)
        ra, rb = (d.get("/collections/stations/items/RG0") for d in (self.a, self.b))
        self.assertEqual(ra.headers["x-situ-seq"], rb.headers["x-situ-seq"])
        self.assertEqual(ra.body.replace(self.a.base.encode(), b""),
                         rb.body.replace(self.b.base.encode(), b""))
        after_b, after_a = self.b.get(tile), self.a.get(tile)
        self.assertEqual(after_b.status, 200)
        self.assertNotEqual(before.body, after_b.body, "B's tile did not change")
        self.assertEqual(after_a.body, after_b.body)

    def test_last_event_id_from_a_resumes_on_b(self):
        first = self.post(self.a, [reading("le-%d" % i, float(i)) for i in range(3)])
        sse_a = feedlib.SSE(self.a.port, last_id=first[0] - 1)
        try:
            last_id = sse_a.next()["id"]  # the browser saw one event on A
        finally:
            sse_a.close()
        self.assertEqual(last_id, first[0])
        more = self.post(self.b, [reading("le-b-%d" % i, float(i)) for i in range(3)])
        self.caught_up(more[-1], self.b)
        sse_b = feedlib.SSE(self.b.port, last_id=last_id)  # ... and moved to B
        try:
            ids = []
            while len(ids) < 5:
                m = sse_b.next()
                self.assertIsNotNone(m, "B's resume stopped after %s" % ids)
                ids.append(m["id"])
            self.assertEqual(ids, first[1:] + more)
            self.assertIsNone(sse_b.until(lambda m: m["id"] is not None, timeout=0.5))
        finally:
            sse_b.close()

    def test_a_last_event_id_ahead_of_this_situd_skips_what_it_saw(self):
        # a browser coming from a situd further along the log: this one
        # sends only the events after its Last-Event-ID, once it has them
        now = self.health(self.b)["seq"]
        sse = feedlib.SSE(self.b.port, last_id=now + 3)
        try:
            seqs = self.post(self.a, [reading("ahead-%d" % i, float(i)) for i in range(5)])
            self.assertEqual(seqs, list(range(now + 1, now + 6)))
            got = [sse.next(), sse.next()]
            self.assertEqual([m["id"] for m in got if m], seqs[3:])
        finally:
            sse.close()

    def test_a_burst_on_both_converges_to_one_digest_and_one_order(self):
        sse_b = feedlib.SSE(self.b.port)
        start = self.health(self.b)["seq"]
        seqs, errors = [], []

        def poster(d, tag):
            try:
                for k in range(12):
                    seqs.extend(self.post(d, [dict(reading("burst-%s-%d-%d" % (tag, k, i),
                                                           float(k * 10 + i),
                                                           station="B%s%d" % (tag, i % 7)),
                                                   lon=111.01 + i * 0.01, lat=26.01)
                                              for i in range(10)]))
            except BaseException as e:  # noqa: B902 - reported by the main thread
                errors.append(e)
        threads = [threading.Thread(target=poster, args=(d, t)) for d, t in
                   ((self.a, "a"), (self.b, "b"))]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(len(seqs), 240)
            top = max(seqs)
            self.assertEqual(sorted(seqs), list(range(start + 1, top + 1)))
            ids = []
            while not ids or ids[-1] < top:
                m = sse_b.next(10)
                self.assertIsNotNone(m, "B's /events stopped at %s" % ids[-3:])
                if m["id"] is not None:
                    ids.append(m["id"])
            self.assertEqual(ids, list(range(start + 1, top + 1)))
        finally:
            sse_b.close()
        self.caught_up(top, self.a, self.b)
        ha, hb = self.health(self.a), self.health(self.b)
        self.assertEqual((ha["lag_seq"], hb["lag_seq"]), (0, 0))
        self.assertEqual(ha["digest"], hb["digest"])
        c = self.start()
        try:
            hc = self.health(c)
            self.assertEqual(hc["seq"], top)
            self.assertEqual(hc["digest"], ha["digest"])
        finally:
            c.stop_cleanly()

    def test_a_read_only_situd_follows_what_another_writes(self):
        ro = self.start("--read-only")
        try:
            r = ro.post("/feeds/meteorology/events", {"events": [reading("ro-0", 1.0)]},
                        headers=auth(self.tok))
            self.assertEqual(r.status, 503, r.body[:300])
            self.assertEqual(self.health(ro)["writes"], "disabled")
            seq, = self.post(self.a, [reading("ro-1", 47.5)])
            self.caught_up(seq, self.a, ro)
            r, v = self.value(ro)
            self.assertEqual((v, int(r.headers["x-situ-seq"])), (47.5, seq))
            self.assertEqual(self.health(ro)["digest"], self.health(self.a)["digest"])
        finally:
            ro.stop_cleanly()

    def test_retention_on_one_situd_removes_the_alert_on_every_situd(self):
        alert = {"id": "expired-1", "type": "alert", "event": "rainstorm", "severity": "red",
                 "onset": "2020-01-01T00:00:00Z", "expires": "2020-01-02T00:00:00Z",
                 "geometry": {"type": "Polygon", "coordinates": [[
                     [111.0, 26.0], [111.1, 26.0], [111.1, 26.1], [111.0, 26.1],
                     [111.0, 26.0]]]}}
        path = "/collections/alerts/items/meteorology:expired-1"
        seq, = self.post(self.a, [alert])
        self.caught_up(seq, self.a, self.b)
        self.assertEqual([d.get(path).status for d in (self.a, self.b)], [200, 200])
        arc = tempfile.mkdtemp(prefix="situ-arc-")  # written by situd's user (nobody as root)
        self.addCleanup(shutil.rmtree, arc, True)
        os.chmod(arc, 0o777)
        retainer = self.start(*self.config("retain", "[retention]\ninterval_s = 1\ndays = 1\n"
                                           "archive = %s\n" % os.path.join(arc, "a.sqlite")))
        try:
            daemons = (self.a, self.b, retainer)
            gone = wait_until(lambda: all(d.get(path).status == 404 for d in daemons), 30)
            self.assertTrue(gone, [(d.get(path).status, self.health(d)) for d in daemons] +
                            [retainer.read_log()])
            out = subprocess.run(["psql", "-X", "-q", "-A", "-t", self.pg.url, "-c",
                                  "SELECT seq, type, changes FROM event_log WHERE seq > %d "
                                  "ORDER BY seq" % seq], check=True, capture_output=True,
                                 text=True).stdout.strip().splitlines()
            self.assertEqual(len(out), 1, out)
            top, kind, changes = out[0].split("|", 2)
            self.assertEqual(kind, "retention")
            self.assertEqual([(c["collection"], c["id"], c["kind"]) for c in json.loads(changes)],
                             [("alerts", "meteorology:expired-1", "removed")])
            self.caught_up(int(top), *daemons)
            digests = [self.health(d)["digest"] for d in daemons]
            self.assertEqual(len(set(digests)), 1, digests)
        finally:
            retainer.stop_cleanly()

    def test_z_the_store_lost_and_back(self):
        strict = self.start("--max-lag", "2")
        seq, = self.post(self.a, [reading("lost-0", 1.0)])
        self.caught_up(seq, self.a, self.b, strict)
        # pgtemp's server commits asynchronously (synchronous_commit = off):
        # one synchronous commit writes the WAL out, so that the immediate
        # stop loses no acknowledged event (a real store commits each
        # synchronously, and remote_apply on a standby)
        subprocess.run(["psql", "-X", "-q", self.pg.url, "-c", "BEGIN; SET LOCAL "
                        "synchronous_commit = on; SELECT txid_current(); COMMIT;"],
                       check=True, stdout=subprocess.DEVNULL)
        data = os.path.join(self.pg.dir, "data")
        subprocess.run(as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-m", "immediate",
                                 "-w", "stop"]), check=True, stdout=subprocess.DEVNULL)
        try:
            for d in (self.a, self.b, strict):
                r, v = self.value(d)
                self.assertEqual((r.status, v), (200, 1.0))
                self.assertEqual(int(r.headers["x-situ-seq"]), seq)
            h = wait_until(lambda: (lambda h: h if h.get("store") == "unreachable"
                                    and h["lag_s"] >= 1 else None)(self.health(self.b)), 10)
            self.assertTrue(h, self.health(self.b))
            self.assertEqual(h["status"], "ok")  # within the default --max-lag (30 s)
            self.assertIn("store_reason", h)
            # the store's seq now is unknown: no lag in events, the last seen
            self.assertEqual((h["following"], h["lag_seq"], h["store_seq"]), (True, None, seq))
            stale = wait_until(lambda: strict.get("/healthz").status == 503, 10)
            self.assertTrue(stale, strict.get("/healthz").body)
            self.assertEqual(strict.get("/healthz").json()["status"], "stale")
            r, v = self.value(strict)
            self.assertEqual((r.status, v), (200, 1.0))
            self.assertGreaterEqual(float(r.headers["x-situ-stale"]), 2)
            self.assertNotIn("x-situ-stale", self.value(self.b)[0].headers)
            metrics = self.b.get("/metrics").body.decode()
            self.assertIn("situd_follow_store_up 0\n", metrics)
        finally:
            with open(os.path.join(self.pg.dir, "port"), encoding="ascii") as f:
                port = f.read().strip()
            subprocess.run(as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-l",
                                     os.path.join(self.pg.dir, "log"), "-w", "-t", "60", "-o",
                                     "-p %s -k %s" % (port, self.pg.dir), "start"]),
                           check=True, stdout=subprocess.DEVNULL)
        # a situd started now writes (its writer connects afresh); the
        # followers reconnect by themselves and catch up
        writer = self.start()
        try:
            seq2, = self.post(writer, [reading("lost-1", 2.0)])
            self.caught_up(seq2, self.a, self.b, strict, timeout=30)
            for d in (self.a, self.b, strict):
                self.assertEqual(self.value(d)[1], 2.0, d.read_log())
                h = self.health(d)
                self.assertEqual((h["status"], h["store"], h["following"], h["lag_seq"]),
                                 ("ok", "ok", True, 0))
            self.assertNotIn("x-situ-stale", self.value(strict)[0].headers)
            metrics = strict.get("/metrics").body.decode()
            self.assertIn("situd_follow_store_up 1\n", metrics)
            self.assertIn("situd_follow_lag_events 0\n", metrics)
            self.assertRegex(metrics, r"situd_follow_reconnects_total [1-9]")
        finally:
            writer.stop_cleanly()
            strict.stop_cleanly()


if __name__ == "__main__":
    unittest.main()
