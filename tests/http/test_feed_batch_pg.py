"""A feed batch's semantics on both engines (issue 17): the same batches
posted to a situd on a SpatiaLite file and to one on PostgreSQL (a
throwaway server from tests/pg/pgtemp.sh) get the same answers, event by
event, and leave the same rows (event_log, stations, resources).

Each batch mixes new events, duplicates of events logged before, duplicates
of events earlier in the same batch (of an accepted one: duplicate; of a
rejected one: applied), events rejected before they write (an unknown
feature, a reading sent as a camera's), an event that the store refuses
after the event wrote (a trigger on event_log refusing the log row of a new
station WX): that event alone is rejected and its station is not stored,
while its siblings apply; and one whose write the store refuses (a trigger
refusing a reading of 13): on PostgreSQL that aborts the transaction unless
the batch is applied again with a savepoint per event. A reading of station RG0 goes to the
department's own "meteorology:RG0", not to the loaded "RG0".
Skipped, saying so, without PostgreSQL 15.

Run: python3 tests/http/test_feed_batch_pg.py"""

import copy
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import pgtemp  # noqa: E402
import situd  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"
HAVE_PG = os.access(PG_BIN + "/initdb", os.X_OK)
DEPT = "meteorology"

# The fixture's stations plus the department's own RG0 beside the loaded one.
STATIONS = copy.deepcopy(feedlib.STATIONS)
STATIONS["features"].append(
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [111.04, 26.04]},
     "properties": {"id": "meteorology:RG0", "name": "朝阳雨量站(自建)", "dept": DEPT,
                    "kind": "rain_gauge", "threshold": 40, "online": 1, "status": "normal"}})

REFUSE_WX_SQLITE = ("CREATE TRIGGER refuse_wx BEFORE INSERT ON event_log "
                    "WHEN NEW.changes LIKE '%:WX\"%' "
                    "BEGIN SELECT RAISE(ABORT, 'no log row for WX'); END")
REFUSE_WX_PG = ("CREATE FUNCTION refuse_wx() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.changes LIKE '%:WX\"%' THEN RAISE EXCEPTION 'no log row for WX' "
                "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$; "
                "CREATE TRIGGER refuse_wx BEFORE INSERT ON event_log FOR EACH ROW "
                "EXECUTE FUNCTION refuse_wx(); "
                "CREATE FUNCTION refuse_13() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "IF NEW.value = 13 THEN RAISE EXCEPTION 'no reading of 13' "
                "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$; "
                "CREATE TRIGGER refuse_13 BEFORE UPDATE ON stations FOR EACH ROW "
                "EXECUTE FUNCTION refuse_13()")
REFUSE_13_SQLITE = ("CREATE TRIGGER refuse_13 BEFORE UPDATE ON stations WHEN NEW.value = 13 "
                    "BEGIN SELECT RAISE(ABORT, 'no reading of 13'); END")
REFUSALS = ("no log row for WX", "no reading of 13")

ROWS = [
    "SELECT seq, event_id, type, changes FROM event_log ORDER BY seq",
    "SELECT id, metric, value, observed_at, status, township_code FROM stations "
    "ORDER BY id",
    "SELECT id, personnel, status FROM resources ORDER BY id",
]


def obs(eid, station, minute, value, loc=None):
    e = {"id": eid, "type": "observation", "station": station, "metric": "rain_1h_mm",
         "value": value, "observed_at": "2026-12-07T08:%02d:00Z" % minute}
    if loc:
        e["lon"], e["lat"] = loc
    return e


def update(eid, feature, personnel):
    return {"id": eid, "type": "feature_update", "collection": "resources",
            "feature_id": feature, "set": {"personnel": personnel}}


def camera(eid, station):
    return {"id": eid, "type": "camera", "station": station, "online": False,
            "observed_at": "2026-12-07T08:30:00Z"}


# (events, expected status per event); each batch after the first sees the
# ones before it.
BATCHES = [
    ([obs("a1", "N0", 1, 1.0, (111.01, 26.01)), obs("a2", "RG0", 1, 10.0)],
     ["accepted", "accepted"]),
    # no refusal: applied in one pass
    ([obs("b1", "N1", 2, 2.0, (111.02, 26.01)),   # new station
      obs("a1", "N0", 2, 9.0),                    # logged before
      obs("b1", "N1", 3, 3.0),                    # earlier in this batch
      update("b2", "R9", 5),                      # no such feature
      update("b2", "R1", 5),                      # the rejected one's id, valid now
      camera("b3", "RG0"),                        # not a camera
      obs("b3", "RG0", 3, 45.0),                  # again: applied
      obs("b4", "N0", 4, 4.0)],
     ["accepted", "duplicate", "duplicate", "rejected", "accepted", "rejected", "accepted",
      "accepted"]),
    # WX's log row refused after its station was written: applied again with
    # a savepoint per event
    ([obs("c1", "N2", 5, 5.0, (111.03, 26.01)),
      obs("b4", "N0", 5, 0.5),                    # logged before
      obs("c2", "WX", 5, 7.0, (111.04, 26.01)),   # refused by the store
      obs("c1", "N2", 6, 6.0),                    # earlier in this batch
      obs("c2", "N3", 6, 8.0, (111.05, 26.01)),   # the refused one's id: applied
      update("c3", "R2", 40),
      update("c4", "R8", 1),                      # no such feature
      obs("c2", "N3", 7, 9.0)],                   # earlier in this batch
     ["accepted", "duplicate", "rejected", "duplicate", "accepted", "accepted", "rejected",
      "duplicate"]),
    # the store refuses a write (the first of its event)
    ([obs("d1", "N0", 8, 13.0),                   # refused
      obs("d2", "N0", 9, 14.0),
      obs("d1", "N1", 9, 3.5)],                   # the refused one's id: applied
     ["rejected", "accepted", "accepted"]),
]


def psql_rows(url, sql):
    out = subprocess.run([PG_BIN + "/psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v",
                          "ON_ERROR_STOP=1", url, "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def sqlite_rows(path, sql):
    con = sqlite3.connect(path)
    try:
        return [["" if v is None else
                 ("%g" % v if isinstance(v, float) else str(v)) for v in row]
                for row in con.execute(sql)]
    finally:
        con.close()


def normal(rows):
    """Rows as comparable text: numbers by value (psql prints 9 and 9.5
    as SQLite does not), changes JSON parsed without the time received
    (each engine's situd received the batches at its own time)."""
    out = []
    for row in rows:
        cells = []
        for v in row:
            try:
                v = "%g" % float(v)
            except ValueError:
                if v.startswith("["):
                    v = [dict(c, at=None) for c in json.loads(v)]
            cells.append(v)
        out.append(cells)
    return out


@unittest.skipUnless(HAVE_PG, "PostgreSQL 15 is not installed (scripts/setup.sh)")
class BatchOnBothEngines(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-feed-batch-")
        os.chmod(cls.tmp, 0o755)
        cls.pg = pgtemp.PgTemp().start()
        fixture = (("townships", feedlib.TOWNSHIPS), ("resources", feedlib.RESOURCES),
                   ("hazards", feedlib.HAZARDS), ("stations", STATIONS))
        lite = os.path.join(cls.tmp, "lite")
        os.mkdir(lite)
        cls.lite = feedlib.load_db(os.path.join(lite, "feeds.sqlite"), fixture, lite)
        con = sqlite3.connect(cls.lite)
        con.execute(REFUSE_WX_SQLITE)
        con.execute(REFUSE_13_SQLITE)
        con.commit()
        con.close()
        pgdir = os.path.join(cls.tmp, "pg")
        os.mkdir(pgdir)
        cls.url = feedlib.load_db(cls.pg.url, fixture, pgdir)
        subprocess.run([PG_BIN + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", cls.url, "-c",
                        REFUSE_WX_PG], check=True, stdout=subprocess.DEVNULL)
        cls.answers = {}
        for name, db in (("lite", cls.lite), ("pg", cls.url)):
            token = feedlib.add_token(db, DEPT)
            d = situd.Situd(db)
            try:
                cls.answers[name] = [d.post("/feeds/%s/events" % DEPT, {"events": events},
                                            feedlib.auth(token))
                                     for events, _ in BATCHES]
            finally:
                d.stop()

    @classmethod
    def tearDownClass(cls):
        cls.pg.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def results(self, name, k):
        r = self.answers[name][k]
        self.assertEqual(r.status, 200, r.body)
        return r.json()["results"]

    def test_statuses_as_expected_on_both(self):
        for name in ("lite", "pg"):
            for k, (_, want) in enumerate(BATCHES):
                got = [e["status"] for e in self.results(name, k)]
                self.assertEqual(got, want, "%s batch %d" % (name, k))

    def test_answers_identical_event_by_event(self):
        for k in range(len(BATCHES)):
            lite, pg = self.results("lite", k), self.results("pg", k)
            for a in lite + pg:  # the store's own words differ by engine
                if a.get("reason", "").startswith("the store refused it"):
                    said = [m for m in REFUSALS if m in a["reason"]]
                    self.assertEqual(len(said), 1, a["reason"])
                    a["reason"] = "the store refused it: " + said[0]
            self.assertEqual(lite, pg, "batch %d" % k)

    def test_rows_identical(self):
        for sql in ROWS:
            lite = normal(sqlite_rows(self.lite, sql))
            pg = normal(psql_rows(self.url, sql))
            self.assertEqual(lite, pg, sql)

    def test_rows_as_expected(self):
        log = psql_rows(self.url, ROWS[0])
        self.assertEqual([r[1] for r in log],
                         ["a1", "a2", "b1", "b2", "b3", "b4", "c1", "c2", "c3", "d2", "d1"])
        self.assertEqual([int(r[0]) for r in log], list(range(1, 12)))
        stations = {r[0]: r for r in psql_rows(self.url, ROWS[1])}
        self.assertNotIn("meteorology:WX", stations)  # its write was undone
        self.assertIn("meteorology:N3", stations)
        self.assertEqual(float(stations["meteorology:RG0"][2]), 45.0)  # the own one
        self.assertEqual(stations["meteorology:RG0"][4], "alarm")  # over its 40
        self.assertEqual(stations["RG0"][2], "")  # the loaded one untouched
        self.assertEqual(float(stations["meteorology:N0"][2]), 14.0)  # not 9 (duplicate), 13
        self.assertEqual(float(stations["meteorology:N1"][2]), 3.5)
        self.assertEqual(float(stations["meteorology:N2"][2]), 5.0)
        resources = {r[0]: r[1] for r in psql_rows(self.url, ROWS[2])}
        self.assertEqual(resources, {"R1": "5", "R2": "40"})


if __name__ == "__main__":
    unittest.main(verbosity=2)
