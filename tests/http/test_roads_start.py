"""test_roads_start.py: situd answers before its road graph is built (#20).
The graph is built behind the port; SITUD_TEST_ROADS_DELAY_MS (test-only)
holds that build back so the loading state can be seen whatever the
machine's speed. While it loads, /healthz says "roads":"loading" and 200,
the straight-line answers are served, and every by-road answer is 503 with
Retry-After (/nearest and /within naming `by`); once ready, the by-road
answers are byte-identical to those of a situd that was ready from its
start, and a road status change and a closure area sent while it loaded
are in force. A stop while it loads waits for the build and exits 0. A
store without roads says "roads":"none"."""

import os
import shutil
import tempfile
import time
import unittest
import urllib.parse

import feedlib
import situd
import test_roads as tr

DELAY_MS = "4000"
# a closure area over the middle of the bridge (test_roads' geography)
BRIDGE_BOX = [[[111.648, 26.438], [111.652, 26.438], [111.652, 26.442],
               [111.648, 26.442], [111.648, 26.438]]]


def qs(**kw):
    return urllib.parse.urlencode(kw)


N_LON, N_LAT = tr.Q_NORTH
S_LON, S_LAT = tr.Q_SOUTH
# the by-road answers compared, and the parameter each 503 names
BY_ROAD = [
    ("/nearest?" + qs(lon=S_LON, lat=S_LAT, k=3, by="road", route=1), "by"),
    ("/nearest?" + qs(lon=N_LON, lat=N_LAT, k=1, by="road", category="depot", level="city"), "by"),
    ("/within?" + qs(lon=S_LON, lat=S_LAT, by="road", minutes=10), "by"),
    ("/route?" + qs(from_lon=N_LON, from_lat=N_LAT, to="E_NORTH"), None),
    ("/reach?" + qs(lon=S_LON, lat=S_LAT, minutes="5,10"), None),
]


def roads_state(d):
    h = d.get("/healthz")
    return h.status, h.json().get("roads")


class RoadsStart(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-roadstart-")
        cls.db = os.path.join(cls.tmp, "roads.sqlite")
        tr.load(cls.db, cls.tmp, "townships", tr.TOWNSHIPS)
        tr.load(cls.db, cls.tmp, "roads", tr.ROADS)
        tr.load(cls.db, cls.tmp, "resources", {"type": "FeatureCollection", "features": tr.DEPOTS})
        cls.token = feedlib.add_token(cls.db, "transport")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def answers(self, d):
        out = []
        for path, _ in BY_ROAD:
            r = d.get(path)
            self.assertEqual(r.status, 200, (path, r.body[:300]))
            out.append(r.body)
        return out

    def start_loading(self):
        d = situd.Situd(self.db, env={"SITUD_TEST_ROADS_DELAY_MS": DELAY_MS}, wait_roads=False)
        self.addCleanup(d.stop_cleanly)
        self.assertEqual(roads_state(d), (200, "loading"))
        return d

    def wait_ready(self, d):
        self.assertTrue(feedlib.wait_until(lambda: roads_state(d) == (200, "ready"), 60),
                        d.read_log())

    def test_by_road_is_503_while_loading_then_as_a_ready_start(self):
        ref = situd.Situd(self.db)
        try:
            self.assertEqual(roads_state(ref), (200, "ready"))
            want = self.answers(ref)
        finally:
            ref.stop_cleanly()
        d = self.start_loading()
        straight = d.get("/nearest?" + qs(lon=S_LON, lat=S_LAT, k=3))
        self.assertEqual(straight.status, 200, straight.body[:300])
        for path, param in BY_ROAD:
            r = d.get(path)
            doc = situd.assert_problem(self, r, 503, param)
            self.assertEqual(r.headers.get("retry-after"), "1", path)
            self.assertIn("road graph loading", doc["detail"])
        self.assertEqual(roads_state(d), (200, "loading"))  # still: the test saw loading
        self.wait_ready(d)
        self.assertEqual(self.answers(d), want)

    def post(self, d, ev):
        r = d.post("/feeds/transport/events", {"events": [ev]}, headers=feedlib.auth(self.token))
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.json()["accepted"], 1, r.body[:300])

    def nearest_depot(self, d):
        r = d.get(BY_ROAD[1][0])
        self.assertEqual(r.status, 200, r.body[:300])
        return r.json()["features"][0]["id"]

    def test_changes_sent_while_loading_are_in_force_once_ready(self):
        d = self.start_loading()
        tag = "%d-%d" % (os.getpid(), time.time_ns())
        self.post(d, {"id": "bridge-closed-" + tag, "type": "feature_update",
                      "collection": "roads", "feature_id": "B",
                      "set": {"status": "closed", "closed_reason": "flood"}})
        self.assertEqual(roads_state(d), (200, "loading"))
        self.wait_ready(d)
        self.assertEqual(self.nearest_depot(d), "W_MID")  # across the closed bridge no more
        self.post(d, {"id": "bridge-open-" + tag, "type": "feature_update", "collection": "roads",
                      "feature_id": "B", "set": {"status": "open"}})
        self.assertTrue(feedlib.wait_until(lambda: self.nearest_depot(d) == "E_NORTH", 10))
        d.stop_cleanly()

        d = self.start_loading()  # a second start: loading again
        self.post(d, {"id": "area-" + tag, "type": "closure", "reason": "桥面漫水",
                      "geometry": {"type": "Polygon", "coordinates": BRIDGE_BOX}})
        self.assertEqual(roads_state(d), (200, "loading"))
        self.wait_ready(d)
        self.assertEqual(self.nearest_depot(d), "W_MID")
        self.post(d, {"id": "area-end-" + tag, "type": "closure_end", "closure": "area-" + tag})
        self.assertTrue(feedlib.wait_until(lambda: self.nearest_depot(d) == "E_NORTH", 10))

    def test_a_stop_while_loading_is_clean(self):
        d = self.start_loading()
        self.post(d, {"id": "stop-%d-%d" % (os.getpid(), time.time_ns()), "type": "feature_update",
                      "collection": "roads", "feature_id": "B", "set": {"status": "open"}})
        d.stop_cleanly(timeout=30)  # exit 0 (and, under ASan, nothing leaked)
        self.assertIn("roads: graph of", d.read_log())

    def test_no_roads_is_none(self):
        tmp = tempfile.mkdtemp(prefix="situ-noroads-")
        self.addCleanup(shutil.rmtree, tmp, True)
        db = os.path.join(tmp, "noroads.sqlite")
        tr.load(db, tmp, "townships", tr.TOWNSHIPS)
        d = situd.Situd(db, env={"SITUD_TEST_ROADS_DELAY_MS": DELAY_MS}, wait_roads=False)
        self.addCleanup(d.stop_cleanly)
        self.assertEqual(roads_state(d), (200, "none"))
        situd.assert_problem(self, d.get(BY_ROAD[0][0]), 400, "by")


if __name__ == "__main__":
    unittest.main()
