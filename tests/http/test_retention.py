"""test_retention.py: growth without bound (issue 13, item 4) against a real
situd and the real CLI. Retention: expired alerts and event log rows past N
days move to an archive that ogrinfo reads and leave the store and the live
snapshot; a kill between the archive's commit and the delete loses nothing
and a re-run completes; `situ check` reports sizes. Stations: a department
cannot claim another's station id; the quota rejects the next new station
naming the field "station"; a "station" event registers one past it."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402
from feedlib import auth, utc, wait_until  # noqa: E402

SQUARE = {"type": "Polygon", "coordinates": [[[111.0, 26.0], [111.1, 26.0], [111.1, 26.1],
                                              [111.0, 26.1], [111.0, 26.0]]]}
OLD = "2020-01-01T00:00:00Z"


def archive_of(db):
    return os.path.join(os.path.dirname(db), "archive",
                        "situ-archive-%s.sqlite" % time.strftime("%Y", time.gmtime()))


def config(tmp, text):
    path = os.path.join(tmp, "situd.ini")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return ["--config", path]


def rows(db, sql, *args):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def ogr_sql(path, sql):
    out = subprocess.run(["ogrinfo", "-ro", "-q", path, "-sql", sql], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def back_date_log(db, event_ids):
    """Makes the named event_log rows (and every row without a department's
    recent event) look 6 years old, as a long-running store's are."""
    con = sqlite3.connect(db)
    con.executemany("UPDATE event_log SET received_at = ? WHERE event_id = ?",
                    [(OLD, e) for e in event_ids])
    con.commit()
    con.close()


def old_alert(k):
    return {"id": "old-%d" % k, "type": "alert", "event": "rainstorm", "severity": "red",
            "onset": "2020-01-01T00:00:00Z", "expires": "2020-01-02T00:00:00Z",
            "geometry": SQUARE}


class RetentionTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="situ-retain-")
        self.db = feedlib.tiny_db(self.tmp)
        self.tok = feedlib.add_token(self.db, "meteorology")
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, ini):
        self.d = situd.Situd(self.db, "--quiet", *config(self.tmp, ini))
        return self.d

    def post(self, events, dept="meteorology", token=None):
        r = self.d.post("/feeds/%s/events" % dept, {"events": events},
                        headers=auth(token or self.tok))
        self.assertEqual(r.status, 200, r.body[:300])
        return r.json()

    def seed(self):
        """Two long-expired alerts, one current, and their log rows, of which
        the expired ones' are back-dated past 90 days; situd then stops."""
        self.start("[retention]\ninterval_s = 0\n")
        doc = self.post([old_alert(1), old_alert(2),
                         {"id": "live-1", "type": "alert", "event": "rainstorm",
                          "severity": "blue", "expires": utc(time.time() + 86400),
                          "geometry": SQUARE}])
        self.assertEqual(doc["accepted"], 3, doc)
        self.assertTrue(wait_until(lambda: self.d.get(
            "/collections/alerts/items/meteorology:old-1").status == 200))
        self.d.stop()
        self.d = None
        back_date_log(self.db, ["old-1", "old-2"])

    def test_situd_archives_and_drops_expired_alerts_from_the_live_map(self):
        self.seed()
        self.start("[retention]\ninterval_s = 3\ndays = 90\n")
        self.assertEqual(self.d.get("/collections/alerts/items/meteorology:old-1").status, 200)
        # each removal is published as its own change: the two may reach the
        # map in successive rebuilds, 100 ms apart
        gone = wait_until(lambda: all(self.d.get(
            "/collections/alerts/items/meteorology:old-%d" % i).status == 404 for i in (1, 2)),
            timeout=30)
        self.assertTrue(gone, "situd's retention did not drop the expired alerts from the map")
        self.assertEqual(self.d.get("/collections/alerts/items/meteorology:live-1").status, 200)
        ids = [f["id"] for f in self.d.get("/collections/alerts/items").json()["features"]]
        self.assertEqual(ids, ["meteorology:live-1"])
        self.assertEqual(rows(self.db, "SELECT id FROM alerts"), [("meteorology:live-1",)])
        # the log goes after the alerts, in the same run
        log = wait_until(lambda: (lambda r: r if r == [("live-1",)] else None)(
            rows(self.db, "SELECT event_id FROM event_log WHERE type <> 'retention' "
                 "ORDER BY seq")), timeout=30)
        self.assertEqual(log, [("live-1",)])
        # the removals are logged as retention's own rows (readers of the log drop them too)
        removed = [json.loads(c) for c, in rows(
            self.db, "SELECT changes FROM event_log WHERE type = 'retention' ORDER BY seq")]
        self.assertEqual(sorted(c["id"] for cs in removed for c in cs if c["kind"] == "removed"),
                         ["meteorology:old-1", "meteorology:old-2"])
        # published at the seq of its log row: X-Situ-Seq holds the removal
        top = rows(self.db, "SELECT max(seq) FROM event_log WHERE type = 'retention'")[0][0]
        self.assertEqual(int(self.d.get("/collections/alerts/items").headers["x-situ-seq"]), top)
        arc = archive_of(self.db)
        out = ogr_sql(arc, "SELECT id, severity, ST_AsText(geom) AS wkt FROM alerts ORDER BY id")
        self.assertIn("meteorology:old-1", out)
        self.assertIn("meteorology:old-2", out)
        self.assertIn("MULTIPOLYGON", out)
        self.assertNotIn("live-1", out)
        out = ogr_sql(arc, "SELECT event_id, received_at FROM event_log")
        self.assertIn("old-1", out)
        self.assertIn(OLD, out)
        # a resume point among the archived events gets told, then the oldest kept
        kept = rows(self.db, "SELECT min(seq) FROM event_log")[0][0]
        sse = feedlib.SSE(self.d.port, last_id=kept - 2)
        try:
            note = sse.next()
            self.assertEqual(note.get("event"), "archived", note)
            self.assertEqual(note["data"]["oldest_kept"], kept)
            self.assertEqual(note["data"]["after"], kept - 2)
            self.assertEqual(sse.next()["id"], kept)
        finally:
            sse.close()
        # the feeds keep working on the same writer
        self.assertEqual(self.post([{"id": "after", "type": "observation", "station": "RG0",
                                     "observed_at": utc(time.time()), "metric": "rain_1h_mm",
                                     "value": 3}])["accepted"], 1)

    def test_a_kill_between_archive_and_delete_loses_nothing(self):
        self.seed()
        env = dict(os.environ, SITU_RETAIN_KILL_AFTER_ARCHIVE="1")
        r = subprocess.run([situd.SITU, "retain", "--db", self.db], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, -9, r.stderr)
        arc = archive_of(self.db)
        # killed after the archive's commit: the alerts are in both files
        self.assertEqual(len(rows(self.db, "SELECT id FROM alerts")), 3)
        self.assertEqual(rows(arc, "SELECT count(*) FROM alerts"), [(2,)])
        r = subprocess.run([situd.SITU, "retain", "--db", self.db, "--days", "90"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 expired alerts and 2 event log rows", r.stdout)
        self.assertEqual(rows(self.db, "SELECT id FROM alerts"), [("meteorology:live-1",)])
        self.assertEqual(rows(arc, "SELECT id FROM alerts ORDER BY id"),
                         [("meteorology:old-1",), ("meteorology:old-2",)])
        self.assertEqual(rows(arc, "SELECT event_id FROM event_log ORDER BY seq"),
                         [("old-1",), ("old-2",)])
        # idempotent: again, nothing is due and nothing is copied twice
        r = subprocess.run([situd.SITU, "retain", "--db", self.db], capture_output=True,
                           text=True, timeout=120)
        self.assertIn("0 expired alerts and 0 event log rows", r.stdout)
        self.assertEqual(rows(arc, "SELECT count(*) FROM alerts"), [(2,)])
        self.assertIn("meteorology:old-1", ogr_sql(arc, "SELECT id FROM alerts"))
        # situ check reports rows, bytes, the log's span and the archive
        r = subprocess.run([situd.SITU, "check", "--db", self.db], capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = {t[0]: t[1:] for t in (ln.split() for ln in r.stdout.splitlines())
                 if len(t) == 3 and t[1].isdigit()}
        self.assertEqual(lines["alerts"][0], "1")
        self.assertGreater(int(lines["alerts"][1]), 0)
        self.assertEqual(lines["event_log"][0], "2")  # live-1 and retention's row
        self.assertIn("span", r.stdout)
        self.assertIn(arc, r.stdout)
        self.assertIn(str(os.path.getsize(arc)), r.stdout)

    def test_cli_days_and_archive_flags(self):
        self.seed()
        arc = os.path.join(self.tmp, "drill-archive.sqlite")
        r = subprocess.run([situd.SITU, "retain", "--db", self.db, "--days", "0"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--days", r.stderr)
        r = subprocess.run([situd.SITU, "retain", "--db", self.db, "--days", "36500",
                            "--archive", arc], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(rows(self.db, "SELECT id FROM alerts")), 3)  # not 100 years old
        r = subprocess.run([situd.SITU, "retain", "--db", self.db, "--days", "1",
                            "--archive", arc], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(rows(arc, "SELECT count(*) FROM alerts"), [(2,)])
        self.assertFalse(os.path.exists(archive_of(self.db)))


class StationsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-stations-")
        cls.db = feedlib.tiny_db(cls.tmp)
        cls.tok = {d: feedlib.add_token(cls.db, d)
                   for d in ("meteorology", "water_resources", "public_security")}
        cls.d = situd.Situd(cls.db, "--quiet",
                            *config(cls.tmp, "[feeds]\nstation_quota = 3\n"))

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def post(self, dept, events):
        r = self.d.post("/feeds/%s/events" % dept, {"events": events},
                        headers=auth(self.tok[dept]))
        self.assertEqual(r.status, 200, r.body[:300])
        return r.json()["results"]

    def item(self, fid):
        r = self.d.get("/collections/stations/items/" + fid)
        return r.json() if r.status == 200 else None

    def test_a_department_cannot_claim_another_s_station(self):
        now = utc(time.time())
        res = self.post("public_security", [
            {"id": "claim-1", "type": "camera", "station": "CAM1", "observed_at": now,
             "status": "offline", "lon": 111.19, "lat": 26.09},
            {"id": "claim-2", "type": "camera", "station": "CAM1", "observed_at": now,
             "status": "offline"}])
        self.assertEqual(res[0]["status"], "accepted", res)
        self.assertEqual(res[0]["changes"][0]["id"], "public_security:CAM1")
        self.assertEqual(res[1]["status"], "accepted", res)  # its own CAM1 now
        mine = wait_until(lambda: self.item("public_security:CAM1"))
        self.assertEqual(mine["properties"]["dept"], "public_security")
        # the wall asks with encodeURIComponent(id)
        self.assertEqual(self.item("public_security%3ACAM1")["id"], "public_security:CAM1")
        theirs = self.item("CAM1")
        self.assertEqual(theirs["properties"]["dept"], "water_resources")
        self.assertEqual(theirs["properties"]["online"], True)
        self.assertEqual(theirs["geometry"]["coordinates"], [111.03, 26.03])
        # the owner still reaches its own
        res = self.post("water_resources", [{"id": "own-1", "type": "camera", "station": "CAM1",
                                             "observed_at": now, "status": "offline"}])
        self.assertEqual(res[0]["changes"][0]["id"], "CAM1")

    def test_the_quota_rejects_the_next_new_station_and_registration_passes_it(self):
        now = utc(time.time())

        def obs(k):
            return {"id": "q-%d" % k, "type": "observation", "station": "Q%d" % k,
                    "observed_at": now, "metric": "rain_1h_mm", "value": k,
                    "lon": 111.01 + k / 100, "lat": 26.01}
        # meteorology holds RG0 already: two more reach the quota of 3
        res = self.post("meteorology", [obs(1), obs(2), obs(3)])
        self.assertEqual([r["status"] for r in res], ["accepted", "accepted", "rejected"])
        self.assertEqual(res[2]["field"], "station")
        self.assertIn("quota", res[2]["reason"])
        res = self.post("meteorology", [
            {"id": "reg-1", "type": "station", "station": "Q3", "name": "冷水滩雨量站",
             "kind": "rain_gauge", "lon": 111.04, "lat": 26.01},
            dict(obs(3), id="q-3b")])
        self.assertEqual([r["status"] for r in res], ["accepted", "accepted"], res)
        f = wait_until(lambda: (lambda f: f if f and f["properties"]["value"] == 3 else None)(
            self.item("meteorology:Q3")))
        self.assertEqual(f["properties"]["name"], "冷水滩雨量站")
        self.assertEqual(f["properties"]["kind"], "rain_gauge")
        n = rows(self.db, "SELECT count(*) FROM stations WHERE dept = 'meteorology'")
        self.assertEqual(n, [(4,)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
