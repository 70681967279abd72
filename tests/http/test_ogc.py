"""OGC API - Features Part 1 Core against a real situd on the demo data:
landing, conformance, OpenAPI, collections, items paging and filters, RFC 7946
output, single items, bad input, and GDAL's OAPIF driver as a real client."""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402

COLLECTIONS = ["townships", "risk_zones", "hazards", "hazard_sources", "resources",
               "stations", "alerts", "roads"]
ROADS = os.path.join(situd.ROOT, "tests", "data", "http", "roads.geojson")


def ring_area(ring):
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:])) / 2


def polygons(geom):
    if geom["type"] == "Polygon":
        return [geom["coordinates"]]
    if geom["type"] == "MultiPolygon":
        return geom["coordinates"]
    return []


class OgcApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-ogc-")
        cls.db = situd.demo_db(cls.tmp)
        # three roads of our own beside whatever roads the demo has
        subprocess.run([situd.SITU, "load", "--db", cls.db, "--collection", "roads", ROADS],
                       check=True, stdout=subprocess.DEVNULL)
        cls.transport = feedlib.add_token(cls.db, "transport")
        cls.d = situd.Situd(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()

    def all_items(self, coll, query="", limit=1000):
        """Pages through /items following next links; returns (features, matched)."""
        url = "/collections/%s/items?limit=%d%s" % (coll, limit, query)
        feats, matched, seen_pages = [], None, 0
        while url:
            r = self.d.get(url)
            self.assertEqual(r.status, 200, r.body[:300])
            doc = r.json()
            matched = doc["numberMatched"] if matched is None else matched
            self.assertEqual(doc["numberMatched"], matched)
            self.assertEqual(doc["numberReturned"], len(doc["features"]))
            feats += doc["features"]
            nxt = [l["href"] for l in doc["links"] if l["rel"] == "next"]
            url = nxt[0].replace(self.d.base, "") if nxt else None
            seen_pages += 1
            self.assertLess(seen_pages, 5000)
        return feats, matched

    def test_landing_page_by_accept_and_by_f(self):
        for r in (self.d.get("/", {"Accept": "application/json"}), self.d.get("/?f=json")):
            self.assertEqual(r.status, 200)
            rels = {l["rel"] for l in r.json()["links"]}
            self.assertTrue({"self", "service-desc", "conformance", "data"} <= rels, rels)
        html = self.d.get("/", {"Accept": "text/html"})
        self.assertEqual(html.status, 200)
        self.assertTrue(html.ctype.startswith("text/html"))

    def test_conformance_and_openapi(self):
        conf = self.d.get("/conformance").json()["conformsTo"]
        self.assertIn("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core", conf)
        self.assertIn("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson", conf)
        api = self.d.get("/api")
        self.assertEqual(api.status, 200)
        doc = api.json()
        self.assertTrue(doc["openapi"].startswith("3."))
        self.assertIn("/collections/hazards/items", doc["paths"])

    def test_collections_list_the_eight(self):
        doc = self.d.get("/collections").json()
        self.assertEqual([c["id"] for c in doc["collections"]], COLLECTIONS)
        for c in COLLECTIONS:
            one = self.d.get("/collections/" + c)
            self.assertEqual(one.status, 200)
            body = one.json()
            self.assertEqual(body["id"], c)
            self.assertIn("items", {l["rel"] for l in body["links"]})
        situd.assert_problem(self, self.d.get("/collections/nope"), 404)
        situd.assert_problem(self, self.d.get("/collections/hazards/nope"), 404)

    def test_roads_are_multilinestrings_and_bbox_meets_the_line(self):
        def ids(query):
            feats, _ = self.all_items("roads", query)
            return sorted(f["id"] for f in feats if f["id"].startswith("test-road-"))
        one = self.d.get("/collections/roads/items/test-road-1").json()
        self.assertEqual(one["geometry"], {"type": "MultiLineString", "coordinates": [
            [[111.6, 26.42], [111.62, 26.44], [111.64, 26.42]]]})  # order kept, not closed
        self.assertEqual(one["properties"]["class"], "national")
        two = self.d.get("/collections/roads/items/test-road-2").json()["geometry"]
        self.assertEqual(two["coordinates"], [[[111.65, 26.4], [111.66, 26.4]],
                                              [[111.7, 26.45], [111.69, 26.46]]])
        # a box the first segment crosses, no vertex inside it
        self.assertEqual(ids("&bbox=111.605,26.428,111.612,26.432"), ["test-road-1"])
        # inside the road's box, under its apex: the line does not meet it
        self.assertEqual(ids("&bbox=111.615,26.420,111.625,26.430"), [])
        # the second part of a multi-part road
        self.assertEqual(ids("&bbox=111.69,26.45,111.70,26.46"), ["test-road-2"])
        self.assertEqual(ids("&bbox=111.59,26.39,111.71,26.47&class=village"), ["test-road-3"])
        closed = ids("&status=closed&bbox=111.59,26.39,111.71,26.47")  # road 1 may be closed
        self.assertIn("test-road-3", closed)                               # by another test
        self.assertNotIn("test-road-2", closed)
        situd.assert_problem(self, self.d.get("/collections/roads/items?class=lane"), 400, "class")

    def test_a_road_closed_by_its_department_shows_in_the_next_tile(self):
        import math
        z, lon, lat = 12, 111.62, 26.43  # on test-road-1
        x = int((lon + 180) / 360 * 2 ** z)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2 ** z)
        path = "/tiles/roads/%d/%d/%d.mvt" % (z, x, y)
        reason = "测试水淹封闭".encode()
        before = self.d.get(path)
        self.assertEqual(before.status, 200)
        self.assertNotIn(reason, before.body)
        self.assertEqual(self.d.get(path).headers.get("etag"), before.headers.get("etag"))
        ev = [{"id": "close-road-1", "type": "feature_update", "collection": "roads",
               "feature_id": "test-road-1",
               "set": {"status": "closed", "closed_reason": "测试水淹封闭",
                       "closed_until": "2026-12-08T12:00:00Z"}}]
        r = self.d.request("POST", "/feeds/transport/events",
                           body=json.dumps({"events": ev}).encode(),
                           headers=dict(feedlib.auth(self.transport),
                                        **{"Content-Type": "application/json"}))
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.json()["accepted"], 1, r.body[:300])
        after = feedlib.wait_until(lambda: reason in self.d.get(path).body, timeout=5)
        self.assertTrue(after, "the cached tile still shows the road open")
        item = self.d.get("/collections/roads/items/test-road-1").json()
        self.assertEqual(item["properties"]["status"], "closed")

    def test_web_schema_names_each_geometry(self):
        colls = {c["id"]: c for c in self.d.get("/web/schema.json").json()["collections"]}
        self.assertEqual(list(colls), COLLECTIONS)
        self.assertEqual({k: c["geometry"] for k, c in colls.items()
                          if k in ("townships", "hazards", "roads")},
                         {"townships": "MultiPolygon", "hazards": "Point",
                          "roads": "MultiLineString"})
        fields = {f["name"]: f for f in colls["roads"]["fields"]}
        self.assertIn("class", fields)
        self.assertIn("status", fields)

    def test_paging_is_complete_without_duplicates(self):
        for coll in COLLECTIONS:
            feats, matched = self.all_items(coll, limit=37 if coll != "hazards" else 500)
            ids = [f["id"] for f in feats]
            self.assertEqual(len(ids), matched, coll)
            self.assertEqual(len(set(ids)), len(ids), coll)
        self.assertEqual(self.all_items("townships")[1], 182)

    def test_default_and_clamped_limit(self):
        doc = self.d.get("/collections/hazards/items").json()
        self.assertEqual(doc["numberReturned"], min(100, doc["numberMatched"]))
        big = self.d.get("/collections/hazards/items?limit=100000").json()
        self.assertEqual(big["numberReturned"], min(10000, big["numberMatched"]))
        self.assertIn("timeStamp", doc)

    def test_prev_link_on_later_pages(self):
        doc = self.d.get("/collections/hazards/items?limit=10&offset=20").json()
        rels = {l["rel"]: l["href"] for l in doc["links"]}
        self.assertIn("prev", rels)
        self.assertIn("offset=10", rels["prev"])
        self.assertIn("offset=30", rels["next"])

    def test_bbox_matches_brute_force(self):
        everything, _ = self.all_items("hazards", limit=10000)
        for bbox in ("111.5,26.0,111.9,26.5", "111.0,24.6,112.6,26.9", "112.3,25.0,112.4,25.1",
                     "100,10,101,11"):
            b = [float(v) for v in bbox.split(",")]
            want = sorted(f["id"] for f in everything
                          if b[0] <= f["geometry"]["coordinates"][0] <= b[2]
                          and b[1] <= f["geometry"]["coordinates"][1] <= b[3])
            got, matched = self.all_items("hazards", "&bbox=" + bbox, limit=500)
            self.assertEqual(sorted(f["id"] for f in got), want, bbox)
            self.assertEqual(matched, len(want))

    def test_polygon_bbox_returns_only_polygons_that_meet_it(self):
        bbox = [111.55, 26.15, 111.65, 26.25]
        got, _ = self.all_items("townships", "&bbox=" + ",".join(map(str, bbox)))
        self.assertGreater(len(got), 0)
        for f in got:
            xs = [p[0] for poly in polygons(f["geometry"]) for ring in poly for p in ring]
            ys = [p[1] for poly in polygons(f["geometry"]) for ring in poly for p in ring]
            self.assertTrue(min(xs) <= bbox[2] and max(xs) >= bbox[0])
            self.assertTrue(min(ys) <= bbox[3] and max(ys) >= bbox[1])

    def test_property_filters(self):
        hazards, _ = self.all_items("hazards", limit=10000)
        code = hazards[0]["properties"]["township_code"]
        got, matched = self.all_items("hazards", "&township_code=" + code)
        self.assertEqual(matched, sum(1 for f in hazards
                                      if f["properties"]["township_code"] == code))
        self.assertTrue(all(f["properties"]["township_code"] == code for f in got))
        got, matched = self.all_items("hazards", "&status=open&level=major")
        self.assertEqual(matched, sum(1 for f in hazards if f["properties"]["status"] == "open"
                                      and f["properties"]["level"] == "major"))
        got, _ = self.all_items("hazard_sources", "&grade=1")
        self.assertTrue(got and all(f["properties"]["grade"] == 1 for f in got))

    def test_geojson_follows_rfc7946(self):
        r = self.d.get("/collections/townships/items?limit=200")
        self.assertTrue(r.ctype.startswith("application/geo+json"))
        text = r.body.decode()
        self.assertNotIn('"crs"', text)
        for num in re.findall(r"-?\d+\.(\d+)", text.split('"features"')[1][:200000]):
            self.assertLessEqual(len(num), 7)
        for f in r.json()["features"]:
            for poly in polygons(f["geometry"]):
                self.assertGreater(ring_area(poly[0]), 0, "exterior ring must be CCW")
                for hole in poly[1:]:
                    self.assertLess(ring_area(hole), 0, "holes must be CW")
                for ring in poly:
                    self.assertEqual(ring[0], ring[-1])
                    for lon, lat in ring:
                        self.assertTrue(110 < lon < 114 and 24 < lat < 27.5, (lon, lat))

    def test_single_item(self):
        first = self.d.get("/collections/resources/items?limit=1").json()["features"][0]
        r = self.d.get("/collections/resources/items/" + urllib.parse.quote(first["id"]))
        self.assertEqual(r.status, 200)
        doc = r.json()
        self.assertEqual(doc["id"], first["id"])
        self.assertEqual(doc["type"], "Feature")
        self.assertIn("items", doc["properties"])
        situd.assert_problem(self, self.d.get("/collections/resources/items/no-such-id"), 404)

    def test_bad_input_is_400_naming_the_parameter(self):
        cases = [
            ("/collections/hazards/items?limit=0", "limit"),
            ("/collections/hazards/items?limit=-5", "limit"),
            ("/collections/hazards/items?limit=abc", "limit"),
            ("/collections/hazards/items?limit=99999999999999999999999", "limit"),
            ("/collections/hazards/items?offset=-1", "offset"),
            ("/collections/hazards/items?bbox=1,2,3", "bbox"),
            ("/collections/hazards/items?bbox=a,b,c,d", "bbox"),
            ("/collections/hazards/items?bbox=112,26,111,27", "bbox"),
            ("/collections/hazards/items?bbox=nan,1,2,3", "bbox"),
            ("/collections/hazards/items?bbox=-200,0,0,10", "bbox"),
            ("/collections/hazards/items?status=closed", "status"),
            ("/collections/hazard_sources/items?grade=high", "grade"),
            ("/collections/hazards/items?colour=red", "colour"),
            ("/collections/hazards/items?f=xml", "f"),
            ("/conformance?x=1", "x"),
        ]
        for path, param in cases:
            situd.assert_problem(self, self.d.get(path), 400, param)
        self.assertTrue(self.d.alive())

    def test_unknown_paths_and_methods(self):
        situd.assert_problem(self, self.d.get("/nope"), 404)
        situd.assert_problem(self, self.d.get("/collections/" + "x" * 5000), 404)
        situd.assert_problem(self, self.d.get("/collections/%2e%2e/items"), 404)
        r = self.d.post("/collections", b"{}")
        situd.assert_problem(self, r, 405)
        self.assertIn("GET", r.headers.get("allow", ""))
        self.assertTrue(self.d.alive())

    def test_gdal_oapif_lists_and_pages_every_layer(self):
        out = subprocess.run(["ogrinfo", "-ro", "-q", "OAPIF:" + self.d.base],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        for c in COLLECTIONS:
            self.assertIn(c, out.stdout)
        tmp = tempfile.mkdtemp(prefix="situ-oapif-")
        for c in ["townships", "hazards", "resources", "hazard_sources"]:
            dst = os.path.join(tmp, c + ".geojson")
            res = subprocess.run(["ogr2ogr", "-f", "GeoJSON", dst, "OAPIF:" + self.d.base, c],
                                 capture_output=True, text=True, timeout=300)
            self.assertEqual(res.returncode, 0, res.stderr)
            with open(dst, encoding="utf-8") as f:
                n = len(json.load(f)["features"])
            want = self.d.get("/collections/%s/items?limit=1" % c).json()["numberMatched"]
            self.assertEqual(n, want, c)

    def test_metrics_and_health(self):
        self.assertEqual(self.d.get("/healthz").json()["status"], "ok")
        m = self.d.get("/metrics")
        self.assertEqual(m.status, 200)
        text = m.body.decode()
        self.assertIn('situd_features{collection="townships"} 182', text)
        self.assertRegex(text, r'situd_requests_total\{route="collections",status="200"\} \d+')
        self.assertIn("situd_request_seconds_bucket", text)
        self.assertIn("situd_snapshot_age_seconds", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
