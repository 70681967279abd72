"""Proximity over HTTP against a real situd on the demo data: /nearest and
/within answers match `situ nearest` on the same file, are ordered and
bounded, honour filters and GCJ-02, and bad input is a 400 naming the
parameter; /locate lists the hazard sources that reach the point. Every
distance_m and bearing_deg is recomputed from the returned coordinates with
PROJ's `geod` (the geodesic inverse on WGS84), not bound-checked."""

import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import situd  # noqa: E402


def geodesic(lon, lat, points):
    """[(distance m, forward azimuth deg in [0, 360))] from (lon, lat) to each
    (lon, lat) of points, by PROJ's geod on WGS84: an oracle independent of
    situd's geodesic code."""
    lines = "".join("%r %r %r %r\n" % (lat, lon, plat, plon) for plon, plat in points)
    out = subprocess.run(["geod", "+ellps=WGS84", "-I", "-f", "%.9f"], input=lines,
                         capture_output=True, text=True, check=True).stdout
    return [(float(r.split()[2]), float(r.split()[0]) % 360) for r in out.splitlines()]


class NearestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-near-")
        cls.db = situd.demo_db(cls.tmp)
        cls.d = situd.Situd(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()

    def near(self, query):
        r = self.d.get("/nearest?" + query)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertTrue(r.ctype.startswith("application/geo+json"))
        return r.json()

    def assert_geodesics(self, lon, lat, feats):
        """distance_m and bearing_deg of point features are geod's, within the
        rounding of the answer (coordinates to 1e-7 degree: about 6 cm)."""
        self.assertTrue(feats)
        want = geodesic(lon, lat, [f["geometry"]["coordinates"] for f in feats])
        for f, (dist, azi) in zip(feats, want):
            p = f["properties"]
            self.assertAlmostEqual(p["distance_m"], dist, delta=0.1, msg=f["id"])
            slack = math.degrees(math.atan2(0.1, dist)) + 1e-3
            turn = (p["bearing_deg"] - azi + 180) % 360 - 180
            self.assertLess(abs(turn), slack, "%s: bearing %r, geod %r" %
                            (f["id"], p["bearing_deg"], azi))

    def test_http_and_cli_give_the_same_answer(self):
        for lon, lat, extra_http, extra_cli in [
            (111.6, 26.2, "&k=5", ["--k", "5"]),
            (111.9, 25.5, "&k=3&item=sandbag&min_qty=2000",
             ["--k", "3", "--item", "sandbag", "--min_qty", "2000"]),
            (112.2, 25.4, "&category=team&team_type=water_rescue",
             ["--category", "team", "--team_type", "water_rescue"]),
        ]:
            http = self.near("lon=%r&lat=%r%s" % (lon, lat, extra_http))
            cli = subprocess.run([situd.SITU, "nearest", "--db", self.db, "--lon", repr(lon),
                                  "--lat", repr(lat)] + extra_cli, capture_output=True, text=True)
            self.assertEqual(cli.returncode, 0, cli.stderr)
            cdoc = json.loads(cli.stdout)
            self.assertEqual([f["id"] for f in http["features"]],
                             [f["id"] for f in cdoc["features"]])
            self.assertEqual([f["properties"]["distance_m"] for f in http["features"]],
                             [f["properties"]["distance_m"] for f in cdoc["features"]])

    def test_nearest_first_with_distances_bearings_and_townships(self):
        doc = self.near("lon=111.6&lat=26.2&k=10&collection=resources")
        self.assertEqual(doc["query"]["township_code"], "431102005")
        feats = doc["features"]
        self.assertEqual(len(feats), 10)
        dists = [f["properties"]["distance_m"] for f in feats]
        self.assertEqual(dists, sorted(dists))
        self.assert_geodesics(111.6, 26.2, feats)
        for f in feats:
            p = f["properties"]
            self.assertTrue(0 <= p["bearing_deg"] < 360)
            self.assertTrue(p["township_code"] and p["township_name"])
            self.assertIn("items", p)

    def test_item_filter_only_returns_depots_with_enough(self):
        doc = self.near("lon=111.6&lat=26.2&k=5&item=sandbag&min_qty=20000")
        self.assertEqual(len(doc["features"]), 5)
        for f in doc["features"]:
            held = sum(i["qty"] for i in f["properties"]["items"] if i["item"] == "sandbag")
            self.assertGreaterEqual(held, 20000)

    def test_max_km_bounds_and_far_points_still_answer(self):
        doc = self.near("lon=111.6&lat=26.2&k=100&max_km=3")
        self.assertTrue(all(f["properties"]["distance_m"] <= 3000 for f in doc["features"]))
        far = self.near("lon=116.4&lat=39.9&k=1")  # Beijing: the nearest is still in Yongzhou
        self.assertEqual(len(far["features"]), 1)
        self.assertGreater(far["features"][0]["properties"]["distance_m"], 1e6)
        self.assert_geodesics(116.4, 39.9, far["features"])

    def test_gcj02_twin_gives_the_same_answer(self):
        gcj = self.near("lon=111.6&lat=26.2&k=5&crs=gcj02")
        self.assertEqual(gcj["query"]["crs"], "gcj02")
        lon, lat = gcj["query"]["wgs84"]
        self.assertGreater(abs(lon - 111.6) + abs(lat - 26.2), 1e-3)  # the offset is real
        wgs = self.near("lon=%r&lat=%r&k=5" % (lon, lat))
        self.assertEqual([f["id"] for f in gcj["features"]], [f["id"] for f in wgs["features"]])
        for g, w in zip(gcj["features"], wgs["features"]):
            self.assertAlmostEqual(g["properties"]["distance_m"], w["properties"]["distance_m"],
                                   delta=0.01)
            # answers come back in GCJ-02: shifted from the WGS84 coordinates
            (gx, gy), (wx, wy) = g["geometry"]["coordinates"], w["geometry"]["coordinates"]
            self.assertGreater(abs(gx - wx) + abs(gy - wy), 1e-3)

    def test_within_radius_is_complete_and_ordered(self):
        r = self.d.get("/within?lon=111.6&lat=26.2&radius_m=3000&collection=hazards")
        self.assertEqual(r.status, 200)
        feats = r.json()["features"]
        dists = [f["properties"]["distance_m"] for f in feats]
        self.assertEqual(dists, sorted(dists))
        self.assertTrue(all(d <= 3000 for d in dists))
        self.assert_geodesics(111.6, 26.2, feats)
        # brute force on the sphere with a margin: nothing clearly inside is missing
        every = self.d.get("/collections/hazards/items?limit=10000&bbox=111.5,26.1,111.7,26.3").json()
        ids = {f["id"] for f in feats}
        for f in every["features"]:
            lon, lat = f["geometry"]["coordinates"]
            dx = math.radians(lon - 111.6) * math.cos(math.radians(26.2)) * 6371000
            dy = math.radians(lat - 26.2) * 6371000
            if math.hypot(dx, dy) < 2950:
                self.assertIn(f["id"], ids)

    def test_locate_lists_hazard_sources_that_reach_the_point(self):
        src = self.d.get("/collections/hazard_sources/items?limit=1").json()["features"][0]
        lon, lat = src["geometry"]["coordinates"]
        doc = self.d.get("/locate?lon=%r&lat=%r" % (lon, lat + 0.001)).json()
        ids = [h["id"] for h in doc["hazard_sources"]]
        self.assertIn(src["id"], ids)
        for h in doc["hazard_sources"]:
            p = h["properties"]
            self.assertLessEqual(p["distance_m"], p["impact_radius_m"])

    def test_bad_input_names_the_parameter(self):
        for q, param in [("lat=26", "lon"), ("lon=111", "lat"), ("lon=x&lat=26", "lon"),
                         ("lon=111&lat=91", "lat"), ("lon=181&lat=26", "lon"),
                         ("lon=nan&lat=26", "lon"), ("lon=111&lat=inf", "lat"),
                         ("lon=111&lat=26&k=0", "k"), ("lon=111&lat=26&k=101", "k"),
                         ("lon=111&lat=26&collection=nope", "collection"),
                         ("lon=111&lat=26&collection=roads", "collection"),
                         ("lon=111&lat=26&item=unicorn", "item"),
                         ("lon=111&lat=26&item=sandbag&min_qty=-1", "min_qty"),
                         ("lon=111&lat=26&status=sleeping", "status"),
                         ("lon=111&lat=26&colour=red", "colour"),
                         ("lon=111&lat=26&crs=epsg3857", "crs")]:
            situd.assert_problem(self, self.d.get("/nearest?" + q), 400, param)
        situd.assert_problem(self, self.d.get("/within?lon=111&lat=26"), 400, "radius_m")
        situd.assert_problem(self, self.d.get(
            "/within?lon=111&lat=26&radius_m=500&collection=roads"), 400, "collection")
        self.assertTrue(self.d.alive())


if __name__ == "__main__":
    unittest.main(verbosity=2)
