"""Restart in seconds (#20): situd keeps what it builds from the store in a
snapshot file beside it (DB.snap) and reads it back at the next start. A
restart from the file answers byte for byte as a cold build does (tiles at
every zoom, county and province outlines included, nearest, items,
townships, locate); a file that is stale (the store changed after it was
written: a feed event, an edit behind situd's back) or corrupt (truncated,
a flipped byte, another format) is not used: situd says why, builds from
the store and writes the file again. A clean stop (SIGTERM) writes the file
from the snapshot situd holds after its feeds, keyed to the store at rest,
so a restart after a day of feeds reads it back, with the snapshot digest
situd kept through the feeds, which a cold build's equals; a stop that is
not clean or an edit between stop and start still makes it stale.

The road graph has a file of its own beside the store (DB.roads), keyed to
the roads it was built from: a restart maps it back and answers by road
byte for byte as a cold build does; a file for other roads (a road moved
behind situd's back) or a corrupt one is not used but built and written
again."""

import os
import signal
import re
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402

# the tiles over (111.61, 26.42), Lingling district, at z2 .. z14
TILES = ["2/3/1", "3/6/3", "5/25/13", "6/51/27", "8/207/108", "10/829/434", "12/3317/1736",
         "14/13271/6944"]
JSON_PATHS = [
    "/nearest?lon=111.61&lat=26.42&collection=resources&k=5",
    "/nearest?lon=111.61&lat=26.42&collection=resources&k=3&item=sandbag&min_qty=100",
    "/nearest?lon=111.61&lat=26.42&collection=hazard_sources&k=4",
    "/within?lon=111.61&lat=26.42&radius_m=5000&collection=hazards",
    "/locate?lon=111.61&lat=26.42",
    "/collections/hazards/items?limit=50",
    "/collections/townships/items?limit=20",
    "/collections/risk_zones/items?bbox=111.5,26.3,111.7,26.5&limit=30",
    "/townships",
    "/nearest?lon=111.61&lat=26.42&collection=resources&k=5&by=road",
    "/nearest?lon=111.61&lat=26.42&collection=resources&k=3&by=road&direction=from_point&route=1",
    "/within?lon=111.61&lat=26.42&collection=hazards&by=road&minutes=10",
]


def answers(d, extra=()):
    """Every answer of the sample as bytes, by path; in JSON the time of the
    answer (a summary's updated_at) and situd's own address (a new port each start) left out."""
    out = {}
    paths = ["/tiles/all/%s.mvt" % t for t in TILES]
    paths += ["/tiles/townships/%s.mvt" % t for t in TILES[:4]]
    paths += JSON_PATHS + list(extra)
    codes = [f["id"] for f in d.get("/collections/townships/items?limit=3").json()["features"]]
    paths += ["/townships/%s" % c for c in codes]
    for p in paths:
        r = d.get(p, {"Accept-Encoding": "identity"})
        body = r.body
        if not p.endswith(".mvt"):
            body = re.sub(rb'"timeStamp":"[^"]*"', b"", body.replace(d.base.encode(), b"BASE"))
            body = re.sub(rb',"updated_at":"[^"]*"}\s*$', b"}", body)  # a summary's "now"
        out[p] = (r.status, body)
    return out


def add_demo_roads(db, tmp):
    """Loads the generated demo's road network (situ demo, scale 1: CTest's
    fixture when there is one, else written now) into db."""
    demo = situd.DEMO_ROADS
    if not situd.fresh(os.path.join(demo or "", "manifest.ini")):
        demo = os.path.join(tmp, "demo")
        subprocess.run([situd.SITU, "demo", "--out", demo, "--scale", "1"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([situd.SITU, "load", "--db", db, "--collection", "roads",
                    os.path.join(demo, "roads.fgb")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def whole_log(d):
    """Everything situd wrote (read_log keeps the tail only)."""
    with open(d.log.name, encoding="utf-8", errors="replace") as f:
        return f.read()


class SnapshotFileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-snapfile-")
        cls.db = situd.demo_db(cls.tmp)
        add_demo_roads(cls.db, cls.tmp)
        cls.snap = cls.db + ".snap"
        cls.roads = cls.db + ".roads"
        cls.token = feedlib.add_token(cls.db, "reserves")
        cls.met = feedlib.add_token(cls.db, "meteorology")
        d = situd.Situd(cls.db)
        try:
            cls.cold = answers(d)
        finally:
            d.stop_cleanly()
        cls.cold_log = whole_log(d)

    def start(self, env=None):
        d = situd.Situd(self.db, env=env)
        self.addCleanup(d.stop_cleanly)
        return d

    def assert_same_as_cold(self, got):
        for p, (status, body) in self.cold.items():
            self.assertEqual(got[p][0], status, p)
            self.assertEqual(got[p][1], body, "%s differs from the cold build's answer" % p)

    def restart_reads(self, expect):
        """Starts situd; asserts its log says expect; returns its answers."""
        d = self.start()
        log = d.read_log()
        self.assertIn(expect, log)
        got = answers(d)
        d.stop_cleanly()
        self.last_log = whole_log(d)
        return got

    def test_1_cold_start_writes_the_file(self):
        self.assertIn("snapshot built from the store", self.cold_log)
        self.assertIn("then written", self.cold_log)
        self.assertTrue(os.path.getsize(self.snap) > 0)
        self.assertIn("roads: graph built (%s: none yet), then written" % self.roads,
                      self.cold_log)
        self.assertTrue(os.path.getsize(self.roads) > 0)
        for p, (status, body) in self.cold.items():  # the sample compares content
            self.assertEqual(status, 200, p)
            self.assertTrue(len(body) > 20, p)

    def test_2_restart_from_the_file_answers_byte_for_byte(self):
        got = self.restart_reads("snapshot read back from " + self.snap)
        self.assert_same_as_cold(got)
        self.assertIn("roads: graph read back from " + self.roads, self.last_log)
        # twice: reading the file back does not change it
        got = self.restart_reads("snapshot read back from " + self.snap)
        self.assert_same_as_cold(got)

    def corrupt_then_restart(self, spoil, why):
        """Spoils the (sound) file, restarts: not used, rebuilt, rewritten."""
        self.restart_reads("snapshot read back from ")  # sound before
        with open(self.snap, "r+b") as f:
            spoil(f)
        got = self.restart_reads("snapshot built from the store (%s: %s), then written"
                                 % (self.snap, why))
        self.assert_same_as_cold(got)
        self.restart_reads("snapshot read back from ")  # sound again

    def test_3_truncated_file_is_rebuilt(self):
        size = os.path.getsize(self.snap)
        self.corrupt_then_restart(lambda f: f.truncate(size - 4096), "truncated or grown")
        self.corrupt_then_restart(lambda f: f.truncate(100), "truncated")

    def test_4_flipped_byte_is_rebuilt(self):
        def flip(f):
            at = os.path.getsize(self.snap) // 2
            f.seek(at)
            b = f.read(1)
            f.seek(at)
            f.write(bytes([b[0] ^ 0x10]))
        self.corrupt_then_restart(flip, "checksum mismatch")

    def test_5_other_format_is_rebuilt(self):
        def other_format(f):
            f.seek(8)  # after the magic: the format number
            (fmt,) = struct.unpack("<I", f.read(4))
            f.seek(8)
            f.write(struct.pack("<I", fmt + 1))
        self.corrupt_then_restart(other_format, "another file format")

    def spoil_roads_then_restart(self, spoil, why):
        """Spoils the (sound) road graph file, restarts: not used, the graph
        built and the file written again; the answers by road as cold."""
        self.restart_reads("snapshot read back from ")
        self.assertIn("roads: graph read back from ", self.last_log)  # sound before
        with open(self.roads, "r+b") as f:
            spoil(f)
        got = self.restart_reads("snapshot read back from ")
        self.assertIn("roads: graph built (%s: %s), then written" % (self.roads, why),
                      self.last_log)
        self.assert_same_as_cold(got)
        self.restart_reads("snapshot read back from ")
        self.assertIn("roads: graph read back from ", self.last_log)  # sound again

    def test_5b_corrupt_road_graph_file_is_rebuilt(self):
        size = os.path.getsize(self.roads)
        self.spoil_roads_then_restart(lambda f: f.truncate(size - 4096), "truncated or grown")

        def flip(f):
            f.seek(size // 2)
            b = f.read(1)
            f.seek(size // 2)
            f.write(bytes([b[0] ^ 0x10]))
        self.spoil_roads_then_restart(flip, "checksum mismatch")

        def other_format(f):
            f.seek(8)
            (fmt,) = struct.unpack("<I", f.read(4))
            f.seek(8)
            f.write(struct.pack("<I", fmt + 1))
        self.spoil_roads_then_restart(other_format, "another file format")

    def test_5c_road_graph_file_for_other_roads_is_rebuilt(self):
        self.restart_reads("snapshot read back from ")
        self.assertIn("roads: graph read back from ", self.last_log)
        con = sqlite3.connect(self.db)  # a road's class behind situd's back: its speed
        con.execute("UPDATE roads SET class = 'village' WHERE id = "
                    "(SELECT id FROM roads WHERE class = 'expressway' ORDER BY id LIMIT 1)")
        con.commit()
        con.close()
        situd.hand_over(self.db)
        self.restart_reads("the store file changed), then written")
        self.assertIn("roads: graph built (%s: the roads changed), then written" % self.roads,
                      self.last_log)
        self.restart_reads("snapshot read back from ")
        self.assertIn("roads: graph read back from ", self.last_log)

    def test_6_stale_after_a_feed_event_and_an_unclean_stop(self):
        d = situd.Situd(self.db)  # killed below, not stopped cleanly
        self.assertIn("snapshot read back from ", d.read_log())
        res = d.get("/collections/resources/items?limit=1").json()["features"][0]
        ev = {"events": [{"id": "snap-1", "type": "feature_update", "collection": "resources",
                          "feature_id": res["id"], "set": {"personnel": 4321}}]}
        r = d.post("/feeds/reserves/events", ev, feedlib.auth(self.token))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["results"][0]["status"], "accepted", r.body)
        d.stop(signal.SIGKILL)  # no clean stop: the file stays as it was
        d = self.start()
        item = d.get("/collections/resources/items/%s" % res["id"]).json()
        self.assertEqual(item["properties"]["personnel"], 4321)
        self.assertIn("the store's event log moved on), then written", d.read_log())
        d.stop_cleanly()
        self.restart_reads("snapshot read back from ")

    def test_7_stale_after_an_edit_behind_situds_back(self):
        self.restart_reads("snapshot read back from ")
        self.edit_then_restart("edited in QGIS")

    def edit_then_restart(self, name):
        """Renames a hazard behind situd's back (sqlite3), starts situd:
        the file is stale, the name shows."""
        con = sqlite3.connect(self.db)
        hid = con.execute("SELECT id FROM hazards ORDER BY id LIMIT 1").fetchone()[0]
        con.execute("UPDATE hazards SET name = ? WHERE id = ?", (name, hid))
        con.commit()
        con.close()
        situd.hand_over(self.db)
        d = self.start()
        item = d.get("/collections/hazards/items/%s" % hid).json()
        self.assertEqual(item["properties"]["name"], name)
        self.assertIn("the store file changed), then written", d.read_log())

    def post_feeds(self, d, tag):
        """Posts an alert, an observation and a feature update; waits until
        situd shows each; returns the paths that show them."""
        stations = d.get("/collections/stations/items?limit=1000").json()["features"]
        gauge = next(f["id"] for f in stations if f["properties"].get("dept") == "meteorology"
                     and f["properties"].get("kind") == "rain_gauge")
        now = feedlib.utc(time.time() - 60)
        square = {"type": "Polygon", "coordinates": [[[111.55, 26.35], [111.7, 26.35],
                                                      [111.7, 26.5], [111.55, 26.5],
                                                      [111.55, 26.35]]]}
        evs = [{"id": tag + "-al", "type": "alert", "event": "rainstorm", "severity": "red",
                "onset": now, "expires": feedlib.utc(time.time() + 86400), "geometry": square},
               {"id": tag + "-obs", "type": "observation", "station": gauge, "observed_at": now,
                "metric": "rain_1h_mm", "value": 987.5}]
        r = d.post("/feeds/meteorology/events", {"events": evs}, feedlib.auth(self.met))
        self.assertEqual([x["status"] for x in r.json()["results"]], ["accepted"] * 2, r.body)
        res = d.get("/nearest?lon=111.61&lat=26.42&collection=resources&k=1").json()
        rid = res["features"][0]["id"]
        ev = [{"id": tag + "-upd", "type": "feature_update", "collection": "resources",
               "feature_id": rid, "set": {"personnel": 777}}]
        r = d.post("/feeds/reserves/events", {"events": ev}, feedlib.auth(self.token))
        self.assertEqual(r.json()["results"][0]["status"], "accepted", r.body)
        paths = ["/collections/alerts/items?limit=50", "/collections/resources/items/" + rid,
                 "/collections/stations/items/" + gauge]
        self.assertTrue(feedlib.wait_until(
            lambda: b"777" in d.get(paths[1]).body and b"987.5" in d.get(paths[2]).body
            and ("meteorology:%s-al" % tag).encode() in d.get(paths[0]).body), "the feeds never showed")
        return paths

    def test_8_clean_stop_after_feeds_writes_the_file(self):
        # a reader of the store (QGIS, a backup) open across the stop: situd's
        # connection is then not the last, and its close leaves the WAL as it is
        reader = sqlite3.connect(self.db)
        reader.execute("SELECT count(*) FROM hazards").fetchone()
        d = self.start({"SITUD_VERIFY_DIGEST": "1"})
        paths = self.post_feeds(d, "stop8")
        kept = d.get("/healthz").json()["digest"]  # kept through the feeds' updates
        metrics = d.get("/metrics").body.decode()  # each kept digest checked from scratch
        self.assertRegex(metrics, r"\nsitud_digest_checks_total [1-9]")
        self.assertIn("\nsitud_digest_mismatches_total 0\n", metrics)
        d.stop_cleanly()
        self.assertRegex(d.read_log(), r"snapshot file %s written at event \d+" % self.snap)
        reader.close()  # the last connection: SQLite checkpoints what is left in the WAL
        situd.hand_over(self.db)
        d = self.start()
        self.assertIn("snapshot read back from " + self.snap, d.read_log())
        warm = answers(d, paths)
        self.assertEqual(d.get("/healthz").json()["digest"], kept)  # read back from the file
        d.stop_cleanly()
        self.assertIn("already current", d.read_log())
        os.unlink(self.snap)
        d = self.start()
        self.assertIn("none yet), then written", d.read_log())
        cold = answers(d, paths)
        self.assertEqual(d.get("/healthz").json()["digest"], kept)  # every feature hashed
        d.stop_cleanly()
        for p, (status, body) in cold.items():
            self.assertEqual(status, 200, p)
            self.assertEqual(warm[p], (status, body), "%s differs from the cold build's" % p)

    def test_9_edit_between_a_clean_stop_and_the_next_start(self):
        d = self.start()
        self.post_feeds(d, "stop9")
        d.stop_cleanly()
        self.assertIn("written at event", d.read_log())
        self.edit_then_restart("edited after the stop")


if __name__ == "__main__":
    unittest.main()
