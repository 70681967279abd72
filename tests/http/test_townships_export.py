"""Townships, locate and exports against a real situd on the demo data, plus
the daemon's life cycle: clean SIGTERM, a second instance on a taken port, and
`situ export` through GDAL."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402

FOUR_MAPS = ["risk_zones", "hazards", "hazard_sources", "resources"]


class TownshipsExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-town-")
        cls.db = situd.demo_db(cls.tmp)
        roads = os.path.join(situd.ROOT, "tests", "data", "http", "roads.geojson")
        subprocess.run([situd.SITU, "load", "--db", cls.db, "--collection", "roads", roads],
                       check=True, stdout=subprocess.DEVNULL)
        cls.d = situd.Situd(cls.db)
        cls.hazards = cls.d.get("/collections/hazards/items?limit=10000").json()["features"]

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()

    def export(self, path):
        r = self.d.get(path)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertTrue(r.ctype.startswith("application/geo+json"))
        self.assertIn("attachment", r.headers.get("content-disposition", ""))
        return r.json()

    def test_townships_list(self):
        doc = self.d.get("/townships").json()
        self.assertEqual(len(doc["townships"]), 182)
        t = doc["townships"][0]
        self.assertEqual(len(t["code"]), 9)
        self.assertTrue(t["name"])
        # the four maps and the live collections; roads are a network, not a map
        self.assertEqual(set(t["counts"]), set(FOUR_MAPS + ["stations", "alerts"]))
        total = sum(t["counts"]["hazards"] for t in doc["townships"])
        inside = sum(1 for f in self.hazards if f["properties"]["township_code"])
        self.assertEqual(total, inside)

    def test_townships_glance_matches_the_features(self):
        # what the wall shades townships by at city zoom, recounted from the items
        doc = self.d.get("/townships").json()
        zones = self.d.get("/collections/risk_zones/items?limit=10000").json()["features"]
        today = situd.zone_day()
        worst = 0
        for t in doc["townships"]:
            mine = [f["properties"] for f in self.hazards
                    if f["properties"]["township_code"] == t["code"]]
            late = [p for p in mine if p["status"] != "rectified" and p.get("deadline", "9") < today]
            levels = [f["properties"]["risk_level"] for f in zones
                      if f["properties"]["township_code"] == t["code"]]
            g = t["glance"]
            self.assertEqual(g["overdue"], len(late), t["code"])
            self.assertEqual(g["overdue_major"], sum(p["level"] == "major" for p in late), t["code"])
            self.assertEqual(g["top_risk_level"], min(levels) if levels else None, t["code"])
            worst = max(worst, g["overdue_major"])
        self.assertGreater(worst, 0, "the demo has overdue major hidden dangers somewhere")

    def test_townships_page_like_items(self):
        whole = self.d.get("/townships").json()
        self.assertEqual(whole["numberMatched"], 182)
        self.assertEqual(whole["numberReturned"], 182)
        self.assertEqual([l["rel"] for l in whole["links"]], ["self"])
        got, path = [], "/townships?limit=50"
        while path:  # follow next links to the end
            page = self.d.get(path).json()
            self.assertEqual(page["numberMatched"], 182)
            self.assertEqual(page["numberReturned"], len(page["townships"]))
            self.assertLessEqual(len(page["townships"]), 50)
            got += page["townships"]
            nxt = [l["href"] for l in page["links"] if l["rel"] == "next"]
            path = nxt[0].split(str(self.d.port), 1)[1] if nxt else None
        self.assertEqual(got, whole["townships"])
        mid = self.d.get("/townships?limit=50&offset=60").json()
        self.assertEqual(mid["townships"], whole["townships"][60:110])
        rels = {l["rel"]: l["href"] for l in mid["links"]}
        self.assertTrue(rels["prev"].endswith("/townships?limit=50&offset=10"), rels)
        self.assertTrue(rels["next"].endswith("/townships?limit=50&offset=110"), rels)
        self.assertEqual(self.d.get("/townships?offset=500").json()["townships"], [])

    def test_townships_of_a_county(self):
        whole = self.d.get("/townships").json()["townships"]
        county = whole[40]["county_code"]
        mine = [t for t in whole if t["county_code"] == county]
        doc = self.d.get("/townships?county=" + county).json()
        self.assertEqual(doc["townships"], mine)
        self.assertEqual(doc["numberMatched"], len(mine))
        page = self.d.get("/townships?county=%s&limit=2&offset=1" % county).json()
        self.assertEqual(page["townships"], mine[1:3])
        nxt = [l["href"] for l in page["links"] if l["rel"] == "next"][0]
        self.assertIn("county=" + county, nxt)

    def test_counties_sum_their_townships(self):
        whole = self.d.get("/townships").json()["townships"]
        doc = self.d.get("/counties").json()
        codes = sorted({t["county_code"] for t in whole})
        self.assertEqual([c["code"] for c in doc["counties"]], codes)
        self.assertEqual(doc["numberMatched"], len(codes))
        for c in doc["counties"]:
            mine = [t for t in whole if t["county_code"] == c["code"]]
            self.assertEqual(c["townships"], len(mine))
            self.assertEqual(c["name"], mine[0]["county_name"])
            for coll, n in c["counts"].items():
                self.assertEqual(n, sum(t["counts"][coll] for t in mine), (c["code"], coll))
        two = self.d.get("/counties?limit=2&offset=1").json()
        self.assertEqual(two["counties"], doc["counties"][1:3])
        self.assertIn("next", [l["rel"] for l in two["links"]])

    def test_county_summary_is_its_townships_summed(self):
        whole = self.d.get("/townships").json()["townships"]
        county = whole[0]["county_code"]
        mine = [t["code"] for t in whole if t["county_code"] == county]
        c = self.d.get("/counties/" + county).json()
        self.assertEqual([t["code"] for t in c["townships"]], mine)
        towns = [self.d.get("/townships/" + code).json() for code in mine]
        for coll in FOUR_MAPS:
            self.assertEqual(c["maps"][coll]["total"],
                             sum(t["maps"][coll]["total"] for t in towns), coll)
        self.assertEqual(c["stations"]["cameras"], sum(t["stations"]["cameras"] for t in towns))
        for key in ("open", "overdue"):
            self.assertEqual(c["maps"]["hazards"][key],
                             sum(t["maps"]["hazards"][key] for t in towns), key)
        levels = {}
        for t in towns:
            for k, v in t["maps"]["hazards"]["by_level"].items():
                levels[k] = levels.get(k, 0) + v
        self.assertEqual(c["maps"]["hazards"]["by_level"], levels)
        bags = sum(t["maps"]["resources"]["items"].get("sandbag", {"qty": 0})["qty"]
                   for t in towns)
        got = c["maps"]["resources"]["items"].get("sandbag", {"qty": 0})["qty"]
        self.assertAlmostEqual(got, bags, places=3)
        situd.assert_problem(self, self.d.get("/counties/999999"), 404)

    def test_townships_and_counties_bad_parameters(self):
        for path, param in [("/townships?limit=0", "limit"), ("/townships?limit=x", "limit"),
                            ("/townships?limit=-1", "limit"), ("/townships?offset=-1", "offset"),
                            ("/townships?offset=1.5", "offset"), ("/townships?county=999", "county"),
                            ("/townships?county=", "county"), ("/townships?bbox=1,2,3,4", "bbox"),
                            ("/townships?f=xml", "f"), ("/counties?limit=0", "limit"),
                            ("/counties?offset=x", "offset"), ("/counties?county=431102", "county"),
                            ("/counties/431102?limit=1", "limit")]:
            situd.assert_problem(self, self.d.get(path), 400, param)

    def test_township_summary_counts(self):
        code = self.hazards[0]["properties"]["township_code"]
        s = self.d.get("/townships/" + code).json()
        self.assertEqual(s["code"], code)
        mine = [f for f in self.hazards if f["properties"]["township_code"] == code]
        self.assertEqual(s["maps"]["hazards"]["total"], len(mine))
        self.assertEqual(sum(s["maps"]["hazards"]["by_status"].values()), len(mine))
        opened = [f for f in mine if f["properties"]["status"] != "rectified"]
        self.assertEqual(s["maps"]["hazards"]["open"], len(opened))
        today = situd.zone_day()
        overdue = [f for f in opened if f["properties"].get("deadline", "9") < today]
        self.assertEqual(s["maps"]["hazards"]["overdue"], len(overdue))
        res = self.export("/export/resources.geojson?township=" + code)["features"]
        sandbags = sum(i["qty"] for f in res for i in f["properties"]["items"]
                       if i["item"] == "sandbag")
        got = s["maps"]["resources"]["items"].get("sandbag", {"qty": 0})["qty"]
        self.assertAlmostEqual(got, sandbags, places=3)
        self.assertIn("alerts", s)
        situd.assert_problem(self, self.d.get("/townships/999999999"), 404)

    def test_locate_gives_the_township_of_known_points(self):
        for f in self.hazards[:200]:
            lon, lat = f["geometry"]["coordinates"]
            r = self.d.get("/locate?lon=%r&lat=%r" % (lon, lat))
            self.assertEqual(r.status, 200)
            doc = r.json()
            want = f["properties"]["township_code"]
            got = doc["township"]["code"] if doc["township"] else ""
            self.assertEqual(got, want, f["id"])
        far = self.d.get("/locate?lon=0&lat=0").json()
        self.assertIsNone(far["township"])

    def test_locate_on_a_shared_border_is_deterministic(self):
        t = self.export("/export/townships.geojson")["features"][0]
        lon, lat = t["geometry"]["coordinates"][0][0][3]  # a vertex: on a border
        answers = {json.dumps(self.d.get("/locate?lon=%r&lat=%r" % (lon, lat)).json()["township"])
                   for _ in range(5)}
        self.assertEqual(len(answers), 1)

    def test_locate_bad_input(self):
        for path, param in [("/locate?lat=26", "lon"), ("/locate?lon=111", "lat"),
                            ("/locate?lon=abc&lat=26", "lon"), ("/locate?lon=111&lat=91", "lat"),
                            ("/locate?lon=181&lat=26", "lon"), ("/locate?lon=nan&lat=26", "lon"),
                            ("/locate?lon=111&lat=inf", "lat"), ("/locate?lon=1e999&lat=1", "lon"),
                            ("/locate?lon=111&lat=26&k=1", "k")]:
            situd.assert_problem(self, self.d.get(path), 400, param)

    def test_export_collection_whole_and_filtered(self):
        doc = self.export("/export/hazards.geojson")
        self.assertEqual(len(doc["features"]), len(self.hazards))
        self.assertEqual(doc["numberMatched"], len(self.hazards))
        code = self.hazards[0]["properties"]["township_code"]
        part = self.export("/export/hazards.geojson?township=" + code)["features"]
        self.assertEqual(len(part), sum(1 for f in self.hazards
                                        if f["properties"]["township_code"] == code))
        box = self.export("/export/hazards.geojson?bbox=111.5,26.0,111.9,26.5")["features"]
        self.assertEqual(len(box), sum(1 for f in self.hazards
                                       if 111.5 <= f["geometry"]["coordinates"][0] <= 111.9
                                       and 26.0 <= f["geometry"]["coordinates"][1] <= 26.5))
        lines = self.export("/export/roads.geojson?bbox=111.605,26.428,111.612,26.432")
        self.assertEqual([(f["id"], f["geometry"]["type"]) for f in lines["features"]
                          if f["id"].startswith("test-road-")],
                         [("test-road-1", "MultiLineString")])
        situd.assert_problem(self, self.d.get("/export/nope.geojson"), 404)
        situd.assert_problem(self, self.d.get("/export/hazards.geojson?bbox=x"), 400, "bbox")
        situd.assert_problem(self, self.d.get("/export/hazards.geojson?township=1"), 404)

    def test_drill_bundle(self):
        towns = self.d.get("/townships").json()["townships"]
        codes = [towns[0]["code"], towns[50]["code"]]
        doc = self.export("/export/drill.geojson?townships=" + ",".join(codes))
        self.assertEqual(doc["townships"], codes)
        self.assertTrue(doc["generated_at"] and doc["data_updated_at"])
        feats = doc["features"]
        polys = [f for f in feats if f["properties"]["collection"] == "townships"]
        self.assertEqual(sorted(f["id"] for f in polys), sorted(codes))
        for code in codes:
            for coll in FOUR_MAPS:
                want = self.d.get("/collections/%s/items?limit=1&township_code=%s"
                                  % (coll, code)).json()["numberMatched"]
                got = [f for f in feats if f["properties"]["collection"] == coll
                       and f["properties"]["township_code"] == code]
                self.assertEqual(len(got), want, (code, coll))
        self.assertFalse([f for f in feats if f["properties"]["collection"] == "roads"])
        situd.assert_problem(self, self.d.get("/export/drill.geojson"), 400, "townships")
        situd.assert_problem(self, self.d.get("/export/drill.geojson?townships=1,2"), 404)

    def test_cli_export_writes_gdal_formats(self):
        out = tempfile.mkdtemp(prefix="situ-export-")
        code = self.hazards[0]["properties"]["township_code"]
        for fmt, name in [("GPKG", "h.gpkg"), ("ESRI Shapefile", "h.shp"), ("KML", "h.kml"),
                          ("GeoJSON", "h.geojson")]:
            path = os.path.join(out, name)
            subprocess.run([situd.SITU, "export", "--db", self.db, "--collection", "hazards",
                            "-f", fmt, "--out", path], check=True, capture_output=True)
            info = subprocess.run(["ogrinfo", "-ro", "-so", "-al", path], capture_output=True,
                                  text=True, check=True).stdout
            self.assertIn("Feature Count: %d" % len(self.hazards), info, fmt)
        self.assertTrue(os.path.exists(os.path.join(out, "h.cpg")))
        names = subprocess.run(["ogrinfo", "-ro", "-al", os.path.join(out, "h.shp")],
                               capture_output=True, text=True, check=True).stdout
        self.assertIn(self.hazards[0]["properties"]["name"], names)
        roads = os.path.join(out, "roads.gpkg")
        subprocess.run([situd.SITU, "export", "--db", self.db, "--collection", "roads", "-f",
                        "GPKG", "--out", roads], check=True, capture_output=True)
        info = subprocess.run(["ogrinfo", "-ro", "-so", "-al", roads], capture_output=True,
                              text=True, check=True).stdout
        self.assertIn("Geometry: Multi Line String", info)
        drill = os.path.join(out, "drill.gpkg")
        subprocess.run([situd.SITU, "export", "--db", self.db, "--drill", code, "-f", "GPKG",
                        "--out", drill], check=True, capture_output=True)
        self.assertTrue(os.path.getsize(drill) > 0)


class LifeCycleTest(unittest.TestCase):
    def test_sigterm_is_clean_and_port_is_exclusive(self):
        tmp = tempfile.mkdtemp(prefix="situ-life-")
        db = situd.demo_db(tmp)
        d = situd.Situd(db)
        t0 = time.time()
        second = subprocess.run([situd.SITUD, *situd.USER_ARGS, "--db", db,
                                 "--listen", "127.0.0.1:%d" % d.port],
                                capture_output=True, text=True, timeout=30)
        self.assertNotEqual(second.returncode, 0)
        self.assertIn("cannot listen", second.stderr)
        self.assertLess(time.time() - t0, 10)
        self.assertTrue(d.alive())
        self.assertEqual(d.stop(signal.SIGTERM), 0)
        log = d.read_log()
        self.assertIn("stopped", log)
        self.assertRegex(log, r"GET /healthz 200 \d+ \d+us")

    def test_help_version_and_bad_flags(self):
        self.assertEqual(subprocess.run([situd.SITUD, "--version"], capture_output=True).returncode, 0)
        h = subprocess.run([situd.SITUD, "--help"], capture_output=True, text=True)
        self.assertIn("--listen", h.stdout)
        bad = subprocess.run([situd.SITUD, "--listen", "nonsense"], capture_output=True, text=True)
        self.assertNotEqual(bad.returncode, 0)
        missing = subprocess.run([situd.SITUD, *situd.USER_ARGS, "--db", "/nonexistent/x.sqlite",
                                  "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(missing.returncode, 0)
        self.assertIn("/nonexistent/x.sqlite", missing.stderr)

    def test_config_file_and_flags_win(self):
        db, conf = situd.demo_with_config(
            "[server]\nlisten = 127.0.0.1:1\nthreads = 2\ncors_origin = https://wall.example\n")
        d = situd.Situd(db, "--config", conf)  # --listen from Situd wins over the file
        self.assertEqual(d.get("/healthz").headers.get("access-control-allow-origin"),
                         "https://wall.example")
        self.assertEqual(d.stop(), 0)
        with open(conf, "w") as f:
            f.write("[server]\nlisten_typo = 1\n")
        bad = subprocess.run([situd.SITUD, *situd.USER_ARGS, "--config", conf, "--db", db],
                             capture_output=True, text=True, timeout=30)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("situd.ini:2", bad.stderr)


# A red alert over 曲河街道 (431103008, whole, with a margin), reaching into
# its neighbours (伊塘镇 among them: partly covered), with a thin arm east
# along 26.40 N that crosses townships holding none of its vertices.
RED_ALERT = [[111.47, 26.365], [111.615, 26.365], [111.615, 26.399], [111.95, 26.399],
             [111.95, 26.401], [111.615, 26.401], [111.615, 26.455], [111.47, 26.455],
             [111.47, 26.365]]


def spatialite(db, sql):
    """The `id` column of a SpatiaLite query run by GDAL (the oracle: GEOS
    through SpatiaLite, independent of libsitu's own code)."""
    out = subprocess.run(["ogrinfo", "-ro", "-q", db, "-dialect", "SQLite", "-sql", sql],
                         check=True, capture_output=True, text=True).stdout
    return {line.split("=", 1)[1].strip() for line in out.splitlines()
            if line.strip().startswith("id (String)")}


class AlertCountsTest(unittest.TestCase):
    """/townships and /counties count a township's alerts as its summary
    lists them: every township a red alert meets, not only the one its
    township_code names (issue 16: 0 alerts in the list for 伊塘镇 while
    /townships/431103108 listed the red alert)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-alertcount-")
        cls.db = situd.demo_db(cls.tmp)
        cls.token = feedlib.add_token(cls.db, "meteorology")
        cls.d = situd.Situd(cls.db)
        now = time.time()
        geom = {"type": "Polygon", "coordinates": [RED_ALERT]}
        ev = [{"id": "red-1", "type": "alert", "event": "rainstorm", "severity": "red",
               "onset": feedlib.utc(now - 60), "expires": feedlib.utc(now + 3600), "geometry": geom},
              # over the same townships but not yet in force: counted nowhere
              {"id": "later-1", "type": "alert", "event": "rainstorm", "severity": "orange",
               "onset": feedlib.utc(now + 3600), "expires": feedlib.utc(now + 7200), "geometry": geom}]
        headers = feedlib.auth(cls.token)
        headers["Content-Type"] = "application/json"
        r = cls.d.request("POST", "/feeds/meteorology/events",
                          body=json.dumps({"events": ev}).encode(), headers=headers)
        assert r.status in (200, 202), r.body[:300]
        wkt = "POLYGON((%s))" % ",".join("%r %r" % (x, y) for x, y in RED_ALERT)
        cls.alert_sql = "GeomFromText('%s', 4326)" % wkt
        cls.met = spatialite(cls.db, "SELECT id FROM townships WHERE ST_Intersects(geom, %s)"
                             % cls.alert_sql)
        assert feedlib.wait_until(
            lambda: cls.d.get("/townships/431103008").json()["alerts"]), "alert never showed"
        # the batch's changes may reach the map in successive rebuilds, 100 ms apart
        want = {"meteorology:red-1", "meteorology:later-1"}
        ids = lambda: {f["id"] for f in cls.d.get("/collections/alerts/items").json()["features"]}
        assert feedlib.wait_until(lambda: ids() == want), ids()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()

    def test_the_alert_is_shaped_as_meant(self):
        covered = spatialite(self.db, "SELECT id FROM townships WHERE ST_Within(geom, %s)"
                             % self.alert_sql)
        self.assertIn("431103008", covered)  # 曲河街道, whole
        self.assertIn("431103108", self.met - covered)  # 伊塘镇, in part
        pts = " OR ".join("ST_Contains(geom, MakePoint(%r, %r, 4326))" % (x, y)
                          for x, y in RED_ALERT)
        holding = spatialite(self.db, "SELECT id FROM townships WHERE %s" % pts)
        crossed = self.met - covered - holding
        self.assertTrue(crossed, "no township crossed without an alert vertex inside")
        self.assertGreaterEqual(len(self.met), 5)

    def test_list_and_summary_agree_with_geos(self):
        towns = self.d.get("/townships").json()["townships"]
        self.assertEqual(len(towns), 182)
        for t in towns:
            listed = [a["id"] for a in self.d.get("/townships/" + t["code"]).json()["alerts"]]
            want = 1 if t["code"] in self.met else 0
            self.assertEqual((t["counts"]["alerts"], len(listed)), (want, want),
                             "%s %s" % (t["code"], t["name"]))

    def test_counties_agree_with_their_townships(self):
        towns = self.d.get("/townships").json()["townships"]
        counties = self.d.get("/counties").json()["counties"]
        self.assertTrue(counties)
        hit = 0
        for c in counties:
            want = int(any(t["code"] in self.met for t in towns if t["county_code"] == c["code"]))
            one = self.d.get("/counties/" + c["code"]).json()
            self.assertEqual((c["counts"]["alerts"], len(one["alerts"])), (want, want), c["code"])
            hit += want
        self.assertGreaterEqual(hit, 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
