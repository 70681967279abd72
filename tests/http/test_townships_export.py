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
import situd  # noqa: E402

FOUR_MAPS = ["risk_zones", "hazards", "hazard_sources", "resources"]


class TownshipsExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-town-")
        cls.db = situd.demo_db(cls.tmp)
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
        self.assertEqual(set(t["counts"]) >= set(FOUR_MAPS), True)
        total = sum(t["counts"]["hazards"] for t in doc["townships"])
        inside = sum(1 for f in self.hazards if f["properties"]["township_code"])
        self.assertEqual(total, inside)

    def test_township_summary_counts(self):
        code = self.hazards[0]["properties"]["township_code"]
        s = self.d.get("/townships/" + code).json()
        self.assertEqual(s["code"], code)
        mine = [f for f in self.hazards if f["properties"]["township_code"] == code]
        self.assertEqual(s["maps"]["hazards"]["total"], len(mine))
        self.assertEqual(sum(s["maps"]["hazards"]["by_status"].values()), len(mine))
        opened = [f for f in mine if f["properties"]["status"] != "rectified"]
        self.assertEqual(s["maps"]["hazards"]["open"], len(opened))
        today = time.strftime("%Y-%m-%d", time.gmtime())
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
        tmp = tempfile.mkdtemp(prefix="situ-conf-")
        db = situd.demo_db(tmp)
        conf = os.path.join(tmp, "situd.ini")
        with open(conf, "w") as f:
            f.write("[server]\nlisten = 127.0.0.1:1\nthreads = 2\ncors_origin = https://wall.example\n")
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
