"""test_roads.py: proximity by road against a real situd over a small real
SpatiaLite file made here with `situ load`: a river (along 111.65 E) that one
bridge crosses (at 26.44 N), a road on each bank, depots on both banks.
/nearest?by=road ranks by travel time (differing from the straight line
across the river), /within?by=road, /route with its steps, /reach polygons
that grow with the minutes, 400s naming the parameter, a feature_update
closing the bridge changing the nearest depot within a wait, the filters
path against the unfiltered answer on random queries, and the CLI giving
the same text as HTTP."""

import json
import os
import random
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

import feedlib
import situd

W, E = 111.64, 111.66  # the bank roads
BRIDGE_LAT = 26.44


def line(props, coords):
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "LineString", "coordinates": coords}}


ROADS = {"type": "FeatureCollection", "features": [
    line({"id": "W", "name": "西岸路", "ref": "X001", "class": "county"},
         [[W, 26.38], [W, 26.40], [W, 26.42], [W, BRIDGE_LAT]]),
    line({"id": "E", "name": "东岸路", "ref": "X002", "class": "county"},
         [[E, 26.38], [E, 26.40], [E, 26.42], [E, BRIDGE_LAT]]),
    line({"id": "B", "name": "潇水大桥", "class": "county", "bridge": True},
         [[W, BRIDGE_LAT], [111.65, BRIDGE_LAT], [E, BRIDGE_LAT]]),
    # a road beyond the north end, so the bridge is a bridge and not a cul-de-sac
    line({"id": "N", "name": "北环路", "class": "township"},
         [[W, BRIDGE_LAT], [W, 26.45]]),
]}


TOWNSHIPS = {"type": "FeatureCollection", "features": [
    {"type": "Feature",
     "properties": {"township_code": "431102003", "name": "潇水镇", "county_code": "431102",
                    "county_name": "零陵区", "kind": "town"},
     "geometry": {"type": "Polygon", "coordinates": [[[111.55, 26.35], [111.75, 26.35],
                                                      [111.75, 26.50], [111.55, 26.50],
                                                      [111.55, 26.35]]]}}]}


def point(pid, lon, lat, **props):
    return {"type": "Feature", "properties": dict(id=pid, **props),
            "geometry": {"type": "Point", "coordinates": [lon, lat]}}


DEPOTS = [
    point("E_NORTH", E + 0.001, 26.438, name="东岸北库", level="city", category="depot", status="available",
          items=json.dumps([{"item": "sandbag", "qty": 1000}])),
    point("E_SOUTH", E + 0.001, 26.385, name="东岸南队", level="city", category="team",
          team_type="water_rescue", status="available"),
    point("W_MID", W - 0.001, 26.41, name="西岸中库", level="city", category="depot", status="available",
          items=json.dumps([{"item": "sandbag", "qty": 3000}])),
    point("FAR", 111.70, 26.41, name="远处", category="depot", status="available"),  # 3.9 km off
]
Q_NORTH = (W + 0.002, 26.438)  # beside the bridge's west end
Q_SOUTH = (W + 0.002, 26.385)  # straight across from E_SOUTH


def random_resources(rng, n):
    """n resources within 300 m of the bank roads, random categories and stock."""
    out = []
    for i in range(n):
        lon = rng.choice([W, E]) + rng.uniform(-0.003, 0.003)
        lat = rng.uniform(26.38, 26.45)
        cat = rng.choice(["depot", "team"])
        props = {"name": "R%d" % i, "category": cat, "level": rng.choice(["county", "township"]),
                 "status": rng.choice(["available", "standby"])}
        if cat == "depot":
            props["items"] = json.dumps([{"item": "sandbag", "qty": rng.choice([500, 2500])}])
        else:
            props["team_type"] = "water_rescue"
        out.append(point("RND%02d" % i, lon, lat, **props))
    return out


def load(db, tmp, name, doc):
    src = os.path.join(tmp, name + ".geojson")
    with open(src, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    subprocess.run([situd.SITU, "load", "--db", db, "--collection", name, src], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def qs(**kw):
    return urllib.parse.urlencode(kw)


class Roads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-roads-")
        cls.db = os.path.join(cls.tmp, "roads.sqlite")
        cls.rng = random.Random(15)
        cls.extra = random_resources(cls.rng, 40)
        load(cls.db, cls.tmp, "townships", TOWNSHIPS)
        load(cls.db, cls.tmp, "roads", ROADS)
        load(cls.db, cls.tmp, "resources",
             {"type": "FeatureCollection", "features": DEPOTS + cls.extra})
        cls.token = feedlib.add_token(cls.db, "transport")
        cls.s = situd.Situd(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop_cleanly()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def get(self, path, **kw):
        r = self.s.get(path + "?" + qs(**kw))
        self.assertEqual(r.status, 200, r.body[:400])
        self.assertTrue(r.ctype.startswith("application/geo+json"), r.ctype)
        return r.json()

    def ids(self, doc):
        return [f["id"] for f in doc["features"]]

    def set_bridge(self, status):
        ev = [{"id": "bridge-%s-%d" % (status, self.rng.randrange(1 << 30)),
               "type": "feature_update", "collection": "roads", "feature_id": "B",
               "set": {"status": status, "closed_reason": "flood"}}]
        r = self.s.post("/feeds/transport/events", {"events": ev}, headers=feedlib.auth(self.token))
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.json()["accepted"], 1, r.body[:300])

    # ---- nearest -----------------------------------------------------------------

    def test_by_road_differs_from_straight_line_across_the_river(self):
        lon, lat = Q_SOUTH
        straight = self.get("/nearest", lon=lon, lat=lat, k=1, category="team", level="city",
                            team_type="water_rescue", status="available")
        self.assertEqual(self.ids(straight), ["E_SOUTH"])
        road = self.get("/nearest", lon=lon, lat=lat, k=3, by="road", level="city")
        first = road["features"][0]
        self.assertEqual(first["id"], "W_MID")  # the near bank wins by road
        p = first["properties"]
        for key in ("travel_s", "road_m", "snap_m", "distance_m"):
            self.assertIn(key, p)
        times = [f["properties"]["travel_s"] for f in road["features"]]
        self.assertEqual(times, sorted(times))
        # E_SOUTH by road: up the west bank, over the bridge, down the east bank
        east = self.get("/nearest", lon=lon, lat=lat, k=1, by="road", category="team", level="city",
                        team_type="water_rescue", status="available")
        ep = east["features"][0]["properties"]
        self.assertEqual(east["features"][0]["id"], "E_SOUTH")
        self.assertGreater(ep["road_m"], 12000)
        self.assertLess(ep["distance_m"], 2500)
        self.assertEqual(road["query"]["by"], "road")
        self.assertEqual(road["query"]["direction"], "to_point")

    def test_route_member_and_from_point(self):
        lon, lat = Q_NORTH
        doc = self.get("/nearest", lon=lon, lat=lat, k=1, by="road", route=1,
                       direction="from_point", category="depot", item="sandbag", min_qty=500,
                       level="city")
        f = doc["features"][0]
        self.assertEqual(f["id"], "E_NORTH")
        route = f["properties"]["route"]
        self.assertEqual(route["type"], "LineString")
        self.assertEqual(route["coordinates"][0], [lon, lat])  # from the point
        self.assertIn("潇水大桥", f["properties"]["route_roads"])
        self.assertEqual(doc["query"]["direction"], "from_point")

    def test_fewer_reachable_than_k(self):
        lon, lat = Q_NORTH
        doc = self.get("/nearest", lon=lon, lat=lat, k=100, by="road", category="depot")
        n_depots = sum(1 for f in DEPOTS + self.extra if f["properties"]["category"] == "depot")
        self.assertNotIn("FAR", self.ids(doc))  # 3.9 km from every road
        self.assertEqual(doc["numberReturned"] + doc["query"]["unreachable"], n_depots)
        self.assertGreaterEqual(doc["query"]["unreachable"], 1)

    def test_within_minutes(self):
        lon, lat = Q_NORTH
        doc = self.get("/within", lon=lon, lat=lat, by="road", minutes=5)
        times = [f["properties"]["travel_s"] for f in doc["features"]]
        self.assertTrue(times and max(times) <= 300)
        all_ = self.get("/nearest", lon=lon, lat=lat, by="road", k=100)
        want = [f["id"] for f in all_["features"] if f["properties"]["travel_s"] <= 300]
        self.assertEqual(self.ids(doc), want)

    def test_filters_equal_the_unfiltered_answer_restricted(self):
        rng = random.Random(7)
        feats = {f["properties"]["id"]: f["properties"] for f in DEPOTS + self.extra}

        def sandbags(pid):
            items = json.loads(feats[pid].get("items", "[]"))
            return sum(i["qty"] for i in items if i["item"] == "sandbag")
        filters = [({"category": "depot"}, lambda p: feats[p]["category"] == "depot"),
                   ({"status": "standby"}, lambda p: feats[p]["status"] == "standby"),
                   ({"item": "sandbag", "min_qty": 2000}, lambda p: sandbags(p) >= 2000),
                   ({"level": "county", "category": "team"},
                    lambda p: feats[p]["level"] == "county" and feats[p]["category"] == "team")]
        for qi in range(24):
            lon = rng.choice([W, E]) + rng.uniform(-0.004, 0.004)
            lat = rng.uniform(26.38, 26.45)
            direction = rng.choice(["to_point", "from_point"])
            args, keep = filters[qi % len(filters)]
            full = self.get("/nearest", lon=lon, lat=lat, by="road", k=100, direction=direction)
            want = [(f["id"], f["properties"]["travel_s"]) for f in full["features"]
                    if keep(f["id"])][:5]
            got = self.get("/nearest", lon=lon, lat=lat, by="road", k=5, direction=direction,
                           **args)
            self.assertEqual([(f["id"], f["properties"]["travel_s"]) for f in got["features"]],
                             want, (qi, lon, lat, direction, args))

    # ---- route and reach -------------------------------------------------------------

    def test_route_steps(self):
        lon, lat = Q_SOUTH
        doc = self.get("/route", from_lon=lon, from_lat=lat, to="E_SOUTH")
        self.assertEqual(doc["type"], "Feature")
        self.assertEqual(doc["geometry"]["type"], "LineString")
        p = doc["properties"]
        roads = [s["road"] for s in p["steps"]]
        self.assertEqual(roads, ["西岸路", "潇水大桥", "东岸路"])  # legs of one road merged
        self.assertAlmostEqual(sum(s["m"] for s in p["steps"]), p["road_m"], delta=0.5)
        self.assertAlmostEqual(sum(s["s"] for s in p["steps"]), p["road_s"], delta=0.05)
        self.assertGreater(p["travel_s"], p["road_s"])  # the off-road stretches
        back = self.get("/route", from_lon=lon, from_lat=lat, to="E_SOUTH", direction="to_point")
        self.assertEqual([s["road"] for s in back["properties"]["steps"]],
                         ["东岸路", "潇水大桥", "西岸路"])
        gcj = self.get("/route", from_lon=lon, from_lat=lat, to="E_SOUTH", crs="gcj02")
        self.assertEqual(gcj["geometry"]["coordinates"][0], [lon, lat])  # as given, in GCJ-02
        self.assertEqual(gcj["properties"]["crs"], "gcj02")
        end = gcj["geometry"]["coordinates"][-1]  # E_SOUTH, moved by GCJ-02's offset
        self.assertGreater(abs(end[0] - (E + 0.001)) + abs(end[1] - 26.385), 0.001)

    def test_reach_grows_with_minutes(self):
        lon, lat = Q_NORTH
        doc = self.get("/reach", lon=lon, lat=lat, minutes="10,2,5", lines=1)
        areas = [f for f in doc["features"] if f["properties"]["kind"] == "area"]
        self.assertEqual([a["properties"]["minutes"] for a in areas], [2, 5, 10])
        pieces = [a["properties"]["pieces"] for a in areas]
        self.assertEqual(pieces, sorted(pieces))
        extent = [max(c[1] for ring in polys(a["geometry"]) for c in ring) -
                  min(c[1] for ring in polys(a["geometry"]) for c in ring) for a in areas]
        self.assertLess(extent[0], extent[1])
        self.assertLess(extent[1], extent[2])
        for a in areas:  # RFC 7946: exterior rings counter-clockwise
            g = a["geometry"]
            for poly in (g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]):
                self.assertGreater(signed_area(poly[0]), 0)
        lines = [f for f in doc["features"] if f["properties"]["kind"] == "road"]
        self.assertTrue(lines)
        self.assertTrue(all(f["properties"]["t1_s"] <= 600.5 for f in lines))

    # ---- bad input -----------------------------------------------------------------

    def test_bad_input_names_the_parameter(self):
        lon, lat = Q_NORTH
        cases = [("/nearest", dict(lon=lon, lat=lat, by="car"), "by"),
                 ("/within", dict(lon=lon, lat=lat, by="road", minutes=0), "minutes"),
                 ("/within", dict(lon=lon, lat=lat, by="road", minutes=241), "minutes"),
                 ("/within", dict(lon=lon, lat=lat, by="road"), "minutes"),
                 ("/nearest", dict(lon=lon, lat=lat, direction="from_point"), "direction"),
                 ("/nearest", dict(lon=lon, lat=lat, by="road", direction="up"), "direction"),
                 ("/reach", dict(lon=lon, lat=lat, minutes="10,300"), "minutes"),
                 ("/reach", dict(lon=lon, lat=lat), "minutes"),
                 ("/route", dict(from_lon=lon, from_lat=lat, to="NOPE"), "to"),
                 ("/route", dict(from_lon=lon, from_lat=lat, to="FAR"), "to"),
                 ("/route", dict(from_lon=lon, to="E_SOUTH"), "from_lat"),
                 ("/nearest", dict(lon=111.8, lat=26.41, by="road"), "lon")]
        for path, args, param in cases:
            doc = situd.assert_problem(self, self.s.get(path + "?" + qs(**args)), 400, param)
            if param == "lon":
                self.assertIn("unreachable by road", doc["detail"])
        self.assertTrue(self.s.alive())

    # ---- the live closure, end to end ------------------------------------------------

    def metrics(self):
        out = {}
        for ln in self.s.get("/metrics").body.decode().splitlines():
            if ln.startswith("situd_roads_"):
                k, v = ln.split()
                out[k] = float(v)
        return out

    def test_closing_the_bridge_changes_the_nearest_depot(self):
        lon, lat = Q_NORTH
        before = self.metrics()
        self.assertEqual(before["situd_roads_closed_edges"], 0)

        def nearest():
            return self.ids(self.get("/nearest", lon=lon, lat=lat, k=1, by="road",
                                     category="depot", level="city"))[0]
        self.assertEqual(nearest(), "E_NORTH")
        self.set_bridge("closed")
        try:
            self.assertEqual(feedlib.wait_until(lambda: nearest() == "W_MID", 5), True)
            situd.assert_problem(self, self.s.get("/route?" + qs(
                from_lon=lon, from_lat=lat, to="E_NORTH")), 400, "to")
            during = self.metrics()
            self.assertEqual(during["situd_roads_closed_edges"], 2)  # the bridge's two segments
            # a status change derives the closure set again; the graph stays
            self.assertEqual(during["situd_roads_graph_builds_total"],
                             before["situd_roads_graph_builds_total"])
            self.assertGreater(during["situd_roads_status_changes_total"],
                               before["situd_roads_status_changes_total"])
        finally:
            self.set_bridge("open")
        self.assertEqual(feedlib.wait_until(lambda: nearest() == "E_NORTH", 5), True)

    # ---- the CLI ----------------------------------------------------------------------

    def test_cli_equals_http(self):
        lon, lat = Q_SOUTH
        runs = [(["nearest", "--by", "road", "--k", "3", "--route", "--category", "depot"],
                 "/nearest", dict(by="road", k=3, route=1, category="depot", lon=lon, lat=lat)),
                (["route", "--to", "E_SOUTH"], "/route",
                 dict(to="E_SOUTH", from_lon=lon, from_lat=lat)),
                (["reach", "--minutes", "5,10"], "/reach", dict(minutes="5,10", lon=lon, lat=lat))]
        for argv, path, args in runs:
            pt = ["--from_lon", str(lon), "--from_lat", str(lat)] if argv[0] == "route" else \
                ["--lon", str(lon), "--lat", str(lat)]
            out = subprocess.run([situd.SITU] + argv + pt + ["--db", self.db], check=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE).stdout
            http = self.s.get(path + "?" + qs(**args)).body
            self.assertEqual(out.decode(), http.decode(), argv)


def signed_area(ring):
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:])) / 2


def polys(g):
    rings = []
    for poly in (g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]):
        rings.extend(poly)
    return rings


if __name__ == "__main__":
    unittest.main()
