"""test_closures.py: road closures from the feeds against a real situd. A
small network loaded with the real `situ load`: a river between two banks
(the two townships meet on it), crossed by a north bridge near the query
point and a south bridge 4.4 km away; depot W on the near (west) bank 4 km
by road, depot E on the far bank 3 km by road over the north bridge (12 km
by the south one). Closing the north bridge (a polygon, or a point and
radius) makes W the nearest by road; closure_end, or the until passing,
makes E nearest again; /closures lists what is active with the segments it
closes; each change goes out on /events; bad closures are refused naming
the member and change nothing; an acknowledged closure survives a restart
and a SIGKILL right after the acknowledgement."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402

Q = (111.085, 26.052)  # on the west bank, 500 m from the north bridge
NEAREST = "/nearest?lon=%f&lat=%f&collection=resources&k=1&by=road" % Q
BRIDGE_BOX = [[[111.098, 26.048], [111.102, 26.048], [111.102, 26.052], [111.098, 26.052],
               [111.098, 26.048]]]


def line(fid, name, cls, coords, **props):
    return {"type": "Feature", "properties": dict(id=fid, name=name, **{"class": cls}, **props),
            "geometry": {"type": "LineString", "coordinates": coords}}


ROADS = {"type": "FeatureCollection", "features": [
    line("west_bank", "西岸路", "county",
         [[111.09, 26.01], [111.09, 26.03], [111.09, 26.05], [111.09, 26.07], [111.09, 26.09]]),
    line("east_bank", "东岸路", "county",
         [[111.11, 26.01], [111.11, 26.03], [111.11, 26.05], [111.11, 26.07], [111.11, 26.09]]),
    line("north_bridge", "潇水北桥", "county", [[111.09, 26.05], [111.10, 26.05], [111.11, 26.05]],
         bridge=True),
    line("south_bridge", "潇水南桥", "county", [[111.09, 26.01], [111.10, 26.01], [111.11, 26.01]],
         bridge=True),
    line("west_road", "西路", "county", [[111.04, 26.05], [111.06, 26.05], [111.09, 26.05]]),
    line("east_road", "东路", "county", [[111.11, 26.05], [111.12, 26.05], [111.13, 26.05]]),
]}

DEPOTS = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"id": "W", "name": "西岸物资库", "category": "depot",
                                       "status": "available"},
     "geometry": {"type": "Point", "coordinates": [111.045, 26.0505]}},
    {"type": "Feature", "properties": {"id": "E", "name": "东岸物资库", "category": "depot",
                                       "status": "available"},
     "geometry": {"type": "Point", "coordinates": [111.115, 26.0505]}},
]}


def river_db(tmpdir):
    """The SpatiaLite file of the network above, made with `situ load`."""
    return feedlib.load_db(os.path.join(tmpdir, "river.sqlite"),
                           (("townships", feedlib.TOWNSHIPS), ("resources", DEPOTS),
                            ("roads", ROADS)))


def closure(cid, **members):
    ev = {"id": cid, "type": "closure", "reason": "桥面漫水"}
    ev.update(members)
    if "geometry" not in ev:
        ev["geometry"] = {"type": "Polygon", "coordinates": BRIDGE_BOX}
    return ev


class ClosuresTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-closures-")
        cls.db = river_db(cls.tmp)
        cls.token = feedlib.add_token(cls.db, "transport")
        cls.d = situd.Situd(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def post(self, *events, d=None):
        r = (d or self.d).post("/feeds/transport/events", {"events": list(events)},
                               headers=feedlib.auth(self.token))
        self.assertEqual(r.status, 200, r.body[:300])
        return r.json()["results"]

    def accept(self, *events, d=None):
        for res in self.post(*events, d=d):
            self.assertEqual(res["status"], "accepted", res)

    def nearest(self, d=None):
        r = (d or self.d).get(NEAREST)
        self.assertEqual(r.status, 200, r.body[:300])
        f = r.json()["features"]
        return f[0]["id"] if f else None

    def wait_nearest(self, want, timeout=2.0, d=None):
        got = feedlib.wait_until(lambda: self.nearest(d) == want, timeout=timeout, step=0.02)
        self.assertTrue(got, "nearest by road is %s, not %s, %.1f s after the acknowledgement"
                        % (self.nearest(d), want, timeout))

    def closures(self, d=None):
        r = (d or self.d).get("/closures")
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertTrue(r.ctype.startswith("application/geo+json"), r.ctype)
        return r.json()["features"]

    def end_all(self):
        for f in self.closures():
            self.accept({"id": "end-%s-%f" % (f["id"], time.time()), "type": "closure_end",
                         "closure": f["id"].split(":", 1)[1]})
        self.wait_nearest("E")

    def setUp(self):
        self.end_all()

    def test_polygon_over_the_bridge_sends_to_the_near_bank_and_ends(self):
        self.assertEqual(self.nearest(), "E")
        sse = feedlib.SSE(self.d.port)
        try:
            self.accept(closure("poly"))
            self.wait_nearest("W")
            fs = self.closures()
            self.assertEqual(len(fs), 1)
            p = fs[0]["properties"]
            self.assertEqual(fs[0]["id"], "transport:poly")
            self.assertEqual(fs[0]["geometry"], {"type": "Polygon", "coordinates": BRIDGE_BOX})
            self.assertEqual((p["dept"], p["reason"], p["until"]), ("transport", "桥面漫水", None))
            self.assertEqual((p["segments_closed"], p["roads_closed"]), (2, 1))
            m = sse.until(lambda m: m["data"].get("collection") == "closures")
            self.assertIsNotNone(m, "no closures change on /events")
            self.assertEqual((m["data"]["id"], m["data"]["kind"], m["data"]["dept"]),
                             ("transport:poly", "created", "transport"))
            # the route avoids it too: E is reached over the south bridge, 12 km
            r = self.d.get("/nearest?lon=%f&lat=%f&collection=resources&k=2&by=road" % Q)
            far = {f["id"]: f["properties"] for f in r.json()["features"]}
            self.assertGreater(far["E"]["road_m"], 11000)
            self.accept({"id": "poly-end", "type": "closure_end", "closure": "poly"})
            self.wait_nearest("E")
            self.assertEqual(self.closures(), [])
            m = sse.until(lambda m: m["data"].get("collection") == "closures")
            self.assertEqual((m["data"]["id"], m["data"]["kind"]), ("transport:poly", "cancelled"))
        finally:
            sse.close()

    def test_the_cli_answers_as_situd_does(self):
        self.accept(closure("cli"))
        self.wait_nearest("W")
        argv = [situd.SITU, "nearest", "--by", "road", "--k", "2", "--route", "--lon", str(Q[0]),
                "--lat", str(Q[1]), "--db", self.db]
        out = subprocess.run(argv, check=True, stdout=subprocess.PIPE).stdout.decode()
        http = self.d.get("/nearest?lon=%s&lat=%s&by=road&k=2&route=1" % Q).body.decode()
        self.assertEqual(out, http)
        self.assertEqual(json.loads(out)["features"][0]["id"], "W")

    def test_a_point_and_radius_closes_the_bridge(self):
        # 55 m north of the bridge: a 100 m radius reaches it
        self.accept(closure("circle", geometry={"type": "Point", "coordinates": [111.10, 26.0505]},
                            radius_m=100))
        self.wait_nearest("W")
        p = self.closures()[0]["properties"]
        self.assertEqual((p["radius_m"], p["segments_closed"]), (100, 2))
        self.assertEqual(self.closures()[0]["geometry"],
                         {"type": "Point", "coordinates": [111.10, 26.0505]})

    def test_a_closure_expires_by_itself(self):
        sse = feedlib.SSE(self.d.port)
        try:
            self.accept(closure("brief", until=feedlib.utc(time.time() + 3)))
            self.wait_nearest("W")
            self.assertEqual(len(self.closures()), 1)
            self.wait_nearest("E", timeout=8)
            self.assertEqual(self.closures(), [])
            m = sse.until(lambda m: m["data"].get("kind") == "expired", timeout=5)
            self.assertIsNotNone(m, "no expiry on /events")
            self.assertEqual((m["data"]["collection"], m["data"]["id"]),
                             ("closures", "transport:brief"))
        finally:
            sse.close()

    def test_a_later_event_replaces_a_closure(self):
        self.accept(closure("moving"))
        self.wait_nearest("W")
        # moved off the bridge, to the far end of the east road
        self.accept(closure("moving-2", closure="moving",
                            geometry={"type": "Point", "coordinates": [111.13, 26.05]},
                            radius_m=50))
        self.wait_nearest("E")
        fs = self.closures()
        self.assertEqual([f["id"] for f in fs], ["transport:moving"])
        self.assertEqual(fs[0]["properties"]["segments_closed"], 1)
        # the same event again is a duplicate and changes nothing
        res = self.post(closure("moving"))
        self.assertEqual(res[0]["status"], "duplicate")
        self.assertEqual(self.nearest(), "E")

    def test_bad_closures_are_refused_naming_the_member(self):
        point = {"type": "Point", "coordinates": [111.10, 26.05]}
        bad = [
            (closure("b1", reason=None), "reason"),
            (closure("b2", geometry=point), "radius_m"),
            (closure("b3", geometry=point, radius_m=50001), "radius_m"),
            (closure("b4", geometry=point, radius_m=0.5), "radius_m"),
            (closure("b5", radius_m=100), "radius_m"),
            (closure("b6", geometry={"type": "LineString",
                                     "coordinates": [[111.09, 26.05], [111.11, 26.05]]}),
             "geometry"),
            (closure("b7", geometry={"type": "Polygon", "coordinates": [[[111.098, 26.048],
                                                                         [111.102, 26.048],
                                                                         [111.1, 26.052]]]}),
             "geometry"),
            (closure("b8", until="tomorrow"), "until"),
            (closure("b9", until=feedlib.utc(time.time() - 60)), "until"),
            (closure("b10", roads=["north_bridge"]), "roads"),
            ({"id": "b11", "type": "closure_end"}, "closure"),
            ({"id": "b12", "type": "closure_end", "closure": "never"}, "closure"),
        ]
        bad[0][0].pop("reason")
        res = self.post(*[ev for ev, _ in bad])
        for (ev, member), r in zip(bad, res):
            self.assertEqual((r["status"], r["field"]), ("rejected", member), (ev, r))
        self.assertEqual(self.closures(), [])
        self.assertEqual(self.nearest(), "E")
        out = subprocess.run(["sqlite3", self.db,
                              "SELECT count(*) FROM road_closures WHERE id GLOB 'transport:b[0-9]*'; "
                              "SELECT count(*) FROM event_log WHERE event_id GLOB 'b[0-9]*'"],
                             check=True, stdout=subprocess.PIPE).stdout.decode().split()
        self.assertEqual(out, ["0", "0"])


class RestartTest(unittest.TestCase):
    """An acknowledged closure is in force after a clean restart and after a
    SIGKILL right after its acknowledgement."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="situ-closures-restart-")
        self.db = river_db(self.tmp)
        self.token = feedlib.add_token(self.db, "transport")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def post_closure(self, d, cid):
        r = d.post("/feeds/transport/events", {"events": [closure(cid)]},
                   headers=feedlib.auth(self.token))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["results"][0]["status"], "accepted")

    def in_force(self, d, cid):
        r = d.get(NEAREST)
        self.assertEqual(r.json()["features"][0]["id"], "W", "the closure is not in force")
        self.assertEqual([f["id"] for f in d.get("/closures").json()["features"]],
                         ["transport:" + cid])

    def test_survives_restart_and_kill(self):
        d = situd.Situd(self.db)
        self.post_closure(d, "kept")
        d.stop_cleanly()
        d = situd.Situd(self.db)
        self.in_force(d, "kept")  # at once: read from the store at start
        r = d.post("/feeds/transport/events",
                   {"events": [{"id": "kept-end", "type": "closure_end", "closure": "kept"}]},
                   headers=feedlib.auth(self.token))
        self.assertEqual(r.json()["results"][0]["status"], "accepted")
        self.post_closure(d, "killed")
        d.stop(signal.SIGKILL)
        d = situd.Situd(self.db)
        try:
            self.in_force(d, "killed")
        finally:
            d.stop_cleanly()


if __name__ == "__main__":
    unittest.main(verbosity=2)
