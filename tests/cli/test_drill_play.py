"""`situ drill start`, `situ drill record` and `situ drill replay` (issue 19)
with the real `situ` binary on the demo store: the flood played flat-out
into its own store leaves the live file byte-for-byte unchanged and records
every inject once; a short scenario played at 60x on the real clock ends in
the same store as flat-out (every table's rows hashed); a replay from the
record ends in the same store; a bad --speed or --start exits 2 naming it
and writes nothing; an existing --out is refused; the record comes out as
GeoJSON and CSV, written atomically. On PostgreSQL (skipped without it) a
drill copies the live database into a SpatiaLite file and leaves every
table of the database unchanged.

Run one case: python3 tests/cli/test_drill_play.py -k NAME"""

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import situd  # noqa: E402
import test_commands_pg as pgt  # noqa: E402 (its throwaway server and table hashes)

SITU = situd.SITU
DRILLS = os.path.join(HERE, "..", "..", "geodata", "drills")
FLOOD = os.path.join(DRILLS, "xiang_flood.json")
START = "2026-06-18T06:00:00+08:00"
TABLES = ("townships", "risk_zones", "hazards", "hazard_sources", "resources", "stations",
          "alerts", "roads", "resource_items", "road_closures", "event_log")

SHORT = {
    "exercise_id": "T-SHORT", "title": "short", "area": ["431103007"],
    "injects": [
        {"id": "S-0", "offset": "PT0S", "dept": "emergency_management", "kind": "note",
         "payload": "start"},
        {"id": "S-1", "offset": "PT30S", "dept": "water_resources", "kind": "observation",
         "payload": {"station": "ST-000080", "metric": "water_level_m", "value": 76.4}},
        {"id": "S-2", "offset": "PT1M", "dept": "emergency_management",
         "kind": "feature_update",
         "payload": {"collection": "resources", "feature_id": "RS-000015",
                     "set": {"items": {"sandbag": 30000}}}},
        {"id": "S-3", "offset": "PT2M", "dept": "water_resources", "kind": "alert",
         "payload": {"event": "洪水", "severity": "orange", "expires": "PT6H",
                     "geometry": {"type": "Polygon", "coordinates": [[
                         [111.6, 26.4], [111.7, 26.4], [111.7, 26.5], [111.6, 26.4]]]}}},
    ]}


def run(*args):
    return subprocess.run([SITU, "drill", *args], capture_output=True, text=True)


class DrillPlay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-drillplay-")
        cls.live = situd.demo_db(cls.tmp)
        cls.short = os.path.join(cls.tmp, "short.json")
        with open(cls.short, "w", encoding="utf-8") as f:
            json.dump(SHORT, f, ensure_ascii=False)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def start(self, scenario, out, *more):
        r = run("start", scenario, "--db", self.live, "--out", self.path(out), "--start", START,
                *more)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_flood_flat_out_records_every_inject_and_leaves_live_alone(self):
        before = situd.md5_file(self.live)
        r = self.start(FLOOD, "flood.sqlite", "--speed", "max")
        self.assertIn("accepted 24 noted 3", r.stdout)
        self.assertEqual(situd.md5_file(self.live), before)
        self.assertFalse([n for n in os.listdir(self.tmp) if ".part-" in n or ".tmp-" in n])
        with sqlite3.connect(self.path("flood.sqlite")) as c:
            ids = [i for (i,) in c.execute("SELECT inject_id FROM drill_record "
                                           "WHERE action = 'inject' ORDER BY seq")]
            last = c.execute("SELECT max(received_at) FROM event_log").fetchone()[0]
        with open(FLOOD, encoding="utf-8") as f:
            self.assertEqual(ids, [i["id"] for i in json.load(f)["injects"]])
        self.assertEqual(last, "2026-06-18T02:00:00Z")  # XJ-25 at PT4H, scenario time

    def test_record_as_geojson_and_csv(self):
        self.start(FLOOD, "rec.sqlite")
        r = run("record", "--db", self.path("rec.sqlite"))
        self.assertEqual(r.returncode, 0, r.stderr)
        fc = json.loads(r.stdout)
        self.assertEqual(fc["type"], "FeatureCollection")
        self.assertEqual(fc["exercise_id"], "YZ-2026-XJ-FLOOD")
        actions = [f["properties"]["action"] for f in fc["features"]]
        self.assertEqual(actions[0], "start")
        self.assertEqual(actions[-1], "finish")
        self.assertEqual(actions.count("inject"), 27)
        cap = next(f for f in fc["features"] if f["properties"]["inject_id"] == "XJ-01")
        self.assertEqual(cap["geometry"]["type"], "Polygon")
        self.assertEqual(cap["properties"]["features"][0]["collection"], "alerts")
        out = self.path("rec.csv")
        r = run("record", "--db", self.path("rec.sqlite"), "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        self.assertEqual(len(rows), 27)
        self.assertEqual(rows[11]["inject_id"], "XJ-11")
        self.assertEqual(rows[11]["result"], "accepted")
        self.assertEqual(rows[11]["what_happened"], "resources RS-000015 updated")
        self.assertEqual(rows[11]["delay_s"], "0.000")
        self.assertTrue(rows[11]["expected_action"])
        r = run("record", "--db", self.live)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a drill's", r.stderr)

    def test_60x_on_the_real_clock_ends_as_flat_out(self):
        self.start(self.short, "fast.sqlite", "--speed", "max")
        r = self.start(self.short, "paced.sqlite", "--speed", "60")
        self.assertIn("accepted 3 noted 1", r.stdout)
        self.assertEqual(situd.table_digests(self.path("paced.sqlite"), TABLES),
                         situd.table_digests(self.path("fast.sqlite"), TABLES))

    def test_replay_ends_in_the_same_store(self):
        self.start(FLOOD, "orig.sqlite")
        r = run("replay", self.path("orig.sqlite"), "--db", self.live, "--out",
                self.path("again.sqlite"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("24 injects and posts replayed", r.stdout)
        self.assertEqual(situd.table_digests(self.path("again.sqlite"), TABLES),
                         situd.table_digests(self.path("orig.sqlite"), TABLES))

    def test_bad_speed_and_start_exit_2_naming_them(self):
        for bad in ("0", "61", "fast", "-1", "10x"):
            r = run("start", FLOOD, "--db", self.live, "--out", self.path("bad.sqlite"),
                    "--speed", bad)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("--speed", r.stderr)
            self.assertIn("1 to 60, or max", r.stderr)
        r = run("start", FLOOD, "--db", self.live, "--out", self.path("bad.sqlite"), "--start",
                "tomorrow")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--start 'tomorrow'", r.stderr)
        r = run("start", FLOOD, "--db", self.live)
        self.assertEqual(r.returncode, 2)
        self.assertFalse(os.path.exists(self.path("bad.sqlite")))

    def test_an_existing_out_is_refused(self):
        keep = self.path("keep.sqlite")
        with open(keep, "w") as f:
            f.write("keep")
        r = run("start", self.short, "--db", self.live, "--out", keep)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists", r.stderr)
        with open(keep) as f:
            self.assertEqual(f.read(), "keep")
        self.start(self.short, "keep.sqlite", "--force")

    def test_a_faulty_scenario_is_refused_before_any_copy(self):
        bad = dict(SHORT, injects=[dict(SHORT["injects"][1], payload={"station": "ST-000080"})])
        path = self.path("faulty.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(bad, f)
        r = run("start", path, "--db", self.live, "--out", self.path("faulty.sqlite"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("inject 0 (S-1) payload", r.stderr)
        self.assertFalse(os.path.exists(self.path("faulty.sqlite")))


@unittest.skipUnless(pgt.HAVE_PG, "PostgreSQL 15 is not installed (scripts/setup.sh)")
class DrillPg(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pgt.setUpModule()
        cls.tmp = tempfile.mkdtemp(prefix="situ-drillpg-")
        cls.file = situd.demo_db(cls.tmp)
        cls.url = pgt.new_database("drill_live")
        subprocess.run([SITU, "migrate", "--from", cls.file, "--to", cls.url], check=True,
                       capture_output=True)
        cls.short = os.path.join(cls.tmp, "short.json")
        with open(cls.short, "w", encoding="utf-8") as f:
            json.dump(SHORT, f, ensure_ascii=False)

    @classmethod
    def tearDownClass(cls):
        pgt.tearDownModule()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_a_drill_from_postgresql_plays_into_a_spatialite_copy(self):
        before = pgt.pg_state(self.url)
        outs = {}
        for name, live in (("pg", self.url), ("file", self.file)):
            outs[name] = os.path.join(self.tmp, name + ".sqlite")
            r = run("start", self.short, "--db", live, "--out", outs[name], "--start", START)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("accepted 3 noted 1", r.stdout)
            password = self.url.split("//")[1].split("@")[0].split(":")[1]
            self.assertNotIn(password, r.stdout + r.stderr)
        self.assertEqual(pgt.pg_state(self.url), before)
        with sqlite3.connect(outs["pg"]) as c:
            self.assertEqual(c.execute("SELECT value FROM drill_meta WHERE key = 'live'")
                             .fetchone()[0], "postgresql")
        pg, fi = situd.table_digests(outs["pg"], TABLES), situd.table_digests(outs["file"], TABLES)
        for t in ("alerts", "event_log", "resource_items"):
            self.assertEqual(pg[t], fi[t], t)


if __name__ == "__main__":
    unittest.main()
