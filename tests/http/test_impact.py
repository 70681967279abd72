"""/alerts/{id}/impact against a real situd on the demo: a red alert over
曲河街道 and its neighbours, a rain gauge inside pushed into alarm; what the
impact lists (townships, stations in warning or alarm, teams and depots,
hazard sources whose radius reaches the area, roads) equals what SpatiaLite's
GEOS says of the same file, and an unknown alert is a 404 problem."""

import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402
from test_townships_export import RED_ALERT, spatialite  # noqa: E402


class ImpactTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-impact-")
        cls.db = situd.demo_db(cls.tmp)
        roads = os.path.join(situd.ROOT, "tests", "data", "http", "roads.geojson")
        subprocess.run([situd.SITU, "load", "--db", cls.db, "--collection", "roads", roads],
                       check=True, stdout=subprocess.DEVNULL)
        wkt = "POLYGON((%s))" % ",".join("%r %r" % (x, y) for x, y in RED_ALERT)
        cls.area = "GeomFromText('%s', 4326)" % wkt
        # a rain gauge inside the alert, to be pushed into alarm
        cls.gauge = sorted(spatialite(
            cls.db, "SELECT id FROM stations WHERE kind = 'rain_gauge' AND ST_Intersects(geom, %s)"
            % cls.area))[0]
        cls.token = feedlib.add_token(cls.db, "meteorology")
        cls.d = situd.Situd(cls.db)
        now = time.time()
        gauge = cls.d.get("/collections/stations/items/" + cls.gauge).json()
        lon, lat = gauge["geometry"]["coordinates"]
        ev = [{"id": "red-impact", "type": "alert", "event": "rainstorm", "severity": "red",
               "onset": feedlib.utc(now - 60), "expires": feedlib.utc(now + 3600),
               "geometry": {"type": "Polygon", "coordinates": [RED_ALERT]}},
              {"id": "obs-impact", "type": "observation", "station": cls.gauge.split(":")[-1],
               "observed_at": feedlib.utc(now - 5), "metric": "rain_1h_mm", "value": 62,
               "lon": lon, "lat": lat}]
        headers = feedlib.auth(cls.token)
        headers["Content-Type"] = "application/json"
        r = cls.d.request("POST", "/feeds/meteorology/events",
                          body=json.dumps({"events": ev}).encode(), headers=headers)
        assert r.status in (200, 202), r.body[:300]
        cls.path = "/alerts/meteorology:red-impact/impact"
        assert feedlib.wait_until(lambda: cls.d.get(cls.path).status == 200), "no alert"
        alarm = lambda: any(s["id"] == cls.gauge and s["status"] == "alarm"
                            for s in cls.d.get(cls.path).json()["stations"])
        assert feedlib.wait_until(alarm), "the gauge never went into alarm"
        cls.impact = cls.d.get(cls.path).json()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()

    def oracle(self, table, where="1"):
        return spatialite(self.db, "SELECT id FROM %s WHERE %s AND ST_Intersects(geom, %s)"
                          % (table, where, self.area))

    def test_townships_as_geos_with_their_numbers(self):
        towns = {t["code"]: t for t in self.impact["townships"]}
        self.assertEqual(set(towns), self.oracle("townships"))
        self.assertGreaterEqual(len(towns), 5)
        for code, t in towns.items():
            one = self.d.get("/townships/" + code).json()
            self.assertEqual(t["name"], one["name"])
            self.assertEqual(t["population"], one["population"])
            self.assertEqual(t["hazards_overdue"], one["maps"]["hazards"]["overdue"])
            self.assertEqual(t["hazards_open"], one["maps"]["hazards"]["open"])
        self.assertTrue(any(t["hazards_overdue"] for t in towns.values()))

    def test_stations_in_warning_or_alarm_with_readings(self):
        got = {s["id"]: s for s in self.impact["stations"]}
        self.assertEqual(set(got), self.oracle("stations", "status IN ('warning', 'alarm')"))
        g = got[self.gauge]
        self.assertEqual((g["status"], g["value"], g["unit"], g["metric"]),
                         ("alarm", 62, "mm", "rain_1h_mm"))

    def test_resources_and_roads_as_geos(self):
        got = {r["id"]: r for r in self.impact["resources"]}
        self.assertEqual(set(got), self.oracle("resources"))
        self.assertTrue(got)
        self.assertTrue(all(r["status"] in ("available", "deployed", "standby", None)
                            for r in got.values()))
        roads = {r["id"] for r in self.impact["roads"]}
        self.assertEqual(roads, self.oracle("roads"))
        self.assertTrue(roads)

    def test_hazard_sources_whose_radius_reaches(self):
        sql = ("SELECT id, impact_radius_m AS r, ST_Distance(geom, %s, 1) AS d FROM hazard_sources"
               % self.area)
        out = subprocess.run(["ogrinfo", "-ro", "-q", self.db, "-dialect", "SQLite", "-sql", sql],
                             check=True, capture_output=True, text=True).stdout
        rows, cur = [], {}
        for line in out.splitlines():
            line = line.strip()
            for key in ("id", "r", "d"):
                if line.startswith(key + " ("):
                    cur[key] = line.split("=", 1)[1].strip()
            if len(cur) == 3:
                rows.append(cur)
                cur = {}
        self.assertGreater(len(rows), 100)
        got = {h["id"]: h for h in self.impact["hazard_sources"]}
        near = 0
        for r in rows:
            d, radius = float(r["d"]), float(r["r"])
            if abs(d - radius) < 0.01 * radius + 5:
                continue  # the plane and the ellipsoid may differ this much
            self.assertEqual(r["id"] in got, d <= radius, r)
            if r["id"] in got:
                self.assertAlmostEqual(got[r["id"]]["distance_m"], d, delta=0.01 * d + 5)
            near += d <= radius
        self.assertGreater(near, 0)

    def test_alert_and_errors(self):
        a = self.impact["alert"]
        self.assertEqual((a["id"], a["severity"], a["active"]),
                         ("meteorology:red-impact", "red", True))
        situd.assert_problem(self, self.d.get("/alerts/meteorology:none/impact"), 404)
        situd.assert_problem(self, self.d.get("/alerts/meteorology:red-impact"), 404)
        situd.assert_problem(self, self.d.get("/alerts/meteorology:red-impact/other"), 404)
        situd.assert_problem(self, self.d.get(self.path + "?x=1"), 400, "x")

    def test_the_cli_answers_as_situd(self):
        out = subprocess.run([situd.SITU, "impact", "--db", self.db, "meteorology:red-impact"],
                             check=True, capture_output=True, text=True).stdout
        cli, http = json.loads(out), self.d.get(self.path).json()
        for doc in (cli, http):
            del doc["updated_at"]
        self.assertEqual(cli, http)
        bad = subprocess.run([situd.SITU, "impact", "--db", self.db, "meteorology:none"],
                             capture_output=True, text=True)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("no such alert", bad.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
