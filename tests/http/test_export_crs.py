"""Exports in every format (read back with GDAL's ogr2ogr) and OGC API -
Features Part 2 (crs, bbox-crs, Content-Crs), checked against PROJ's cs2cs,
on the demo data against a real situd."""

import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import situd  # noqa: E402

EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
MIME = {"gpkg": "application/geopackage+sqlite3", "shp.zip": "application/zip",
        "csv": "text/csv", "kml": "application/vnd.google-earth.kml+xml",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "geojson": "application/geo+json"}


XLSX_HEADERS = ["--config", "OGR_XLSX_HEADERS", "FORCE"]


def read_back(path, layer=None):
    """The file (one layer of it) as GDAL reads it, converted to GeoJSON."""
    out = subprocess.run(["ogr2ogr"] + XLSX_HEADERS + ["-f", "GeoJSON", "/vsistdout/", path] +
                         ([layer] if layer else []), check=True, capture_output=True)
    return json.loads(out.stdout)


def layers(path):
    """The names of the file's layers, as GDAL lists them."""
    out = subprocess.run(["ogrinfo"] + XLSX_HEADERS + ["-ro", "-q", path], check=True,
                         capture_output=True, text=True).stdout
    return [line.split(": ", 1)[1].split(" (")[0] for line in out.splitlines() if ": " in line]


def cs2cs(src, dst, a, b):
    """PROJ's answer for (a, b) in src's axis order, in dst's axis order."""
    out = subprocess.run(["cs2cs", "-f", "%.6f", src, dst], input="%r %r\n" % (a, b),
                         check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


class ExportFormatsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-xcrs-")
        cls.db = situd.demo_db(cls.tmp)
        cls.d = situd.Situd(cls.db)
        cls.hazards = cls.d.get("/collections/hazards/items?limit=10000").json()["features"]

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()

    def download(self, path, ext, crs=CRS84):
        """The export at path, saved; its Content-Crs names crs (none for
        XLSX, which holds no coordinates)."""
        r = self.d.get(path)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertTrue(r.ctype.startswith(MIME[ext]), r.ctype)
        self.assertEqual(r.headers.get("content-crs"), None if ext == "xlsx" else "<%s>" % crs)
        name = path.split("?")[0].split("/")[-1]
        self.assertEqual(r.headers.get("content-disposition"),
                         'attachment; filename="%s"' % name)
        f = os.path.join(self.tmp, name)
        with open(f, "wb") as out:
            out.write(r.body)
        return f, r.body

    def test_every_format_has_every_feature_with_chinese_names(self):
        names = sorted(h["properties"]["name"] for h in self.hazards)
        for ext in ["gpkg", "shp.zip", "csv", "xlsx", "kml"]:
            with self.subTest(ext=ext):
                f, _ = self.download("/export/hazards." + ext, ext)
                got = read_back(f)["features"]
                self.assertEqual(len(got), len(self.hazards))
                key = "Name" if ext == "kml" else "name"  # KML's placemark name
                self.assertEqual(sorted(g["properties"][key] for g in got), names)
                if ext in ("gpkg", "shp.zip", "kml"):
                    self.assertEqual({g["geometry"]["type"] for g in got}, {"Point"})

    def test_polygons_stay_polygons(self):
        n = len(self.d.get("/collections/townships/items?limit=1000").json()["features"])
        for ext in ["gpkg", "shp.zip"]:
            with self.subTest(ext=ext):
                f, _ = self.download("/export/townships." + ext, ext)
                got = read_back(f)["features"]
                self.assertEqual(len(got), n)
                self.assertTrue({g["geometry"]["type"] for g in got} <=
                                {"Polygon", "MultiPolygon"})

    def shapefile(self, query, crs=CRS84):
        f, body = self.download("/export/townships.shp.zip" + query, "shp.zip", crs)
        z = zipfile.ZipFile(io.BytesIO(body))
        self.assertEqual(sorted(n.rsplit(".", 1)[1] for n in z.namelist()),
                         ["cpg", "dbf", "prj", "shp", "shx"])
        return f, z

    def test_shapefile_utf8_and_gbk(self):
        towns = self.d.get("/collections/townships/items?limit=1000").json()["features"]
        name = towns[0]["properties"]["name"]
        for query, cpg, enc in [("", "UTF-8", "utf-8"), ("?encoding=GBK", "GBK", "gbk")]:
            with self.subTest(encoding=enc):
                f, z = self.shapefile(query)
                self.assertEqual(z.read("townships.cpg").decode().strip(), cpg)
                dbf = z.read("townships.dbf")
                self.assertIn(name.encode(enc), dbf)
                other = "gbk" if enc == "utf-8" else "utf-8"
                self.assertNotIn(name.encode(other), dbf)
                got = read_back(f)["features"]
                self.assertEqual(sorted(g["properties"]["name"] for g in got),
                                 sorted(t["properties"]["name"] for t in towns))

    def test_xlsx_inventory_has_items_as_columns(self):
        res = self.d.get("/collections/resources/items?limit=10000").json()["features"]
        town = next(r["properties"]["township_code"] for r in res
                    if r["properties"]["items"] and r["properties"]["township_code"])
        mine = [r for r in res if r["properties"]["township_code"] == town]
        f, _ = self.download("/export/resources.xlsx?township=" + town, "xlsx")
        rows = read_back(f)["features"]
        self.assertEqual(len(rows), len(mine))
        by_name = {r["properties"]["name"]: r["properties"] for r in rows}
        items = 0
        for m in mine:
            row = by_name[m["properties"]["name"]]
            for it in m["properties"]["items"]:
                self.assertAlmostEqual(float(row[it["name"]]), it["qty"], places=3)
                items += 1
            self.assertNotIn("items", row)
        self.assertGreater(items, 0)

    def test_drill_bundle_in_each_format(self):
        town = self.d.get("/townships").json()["townships"][0]["code"]
        streamed = self.d.get("/export/drill.geojson?townships=" + town)
        self.assertEqual(streamed.headers.get("content-crs"), "<%s>" % CRS84)
        whole = streamed.json()["features"]
        per = {}
        for w in whole:
            per.setdefault(w["properties"]["collection"], []).append(w["properties"]["name"])
        self.assertGreater(len(per), 2)
        for ext in ["csv", "kml"]:  # one layer, every feature tagged with its collection
            with self.subTest(ext=ext):
                f, _ = self.download("/export/drill.%s?townships=%s" % (ext, town), ext)
                got = read_back(f)["features"]
                self.assertEqual(sorted(g["properties"]["collection"] for g in got),
                                 sorted(w["properties"]["collection"] for w in whole))
        for ext in ["gpkg", "xlsx", "shp.zip"]:  # one layer (sheet, Shapefile) a collection
            with self.subTest(ext=ext):
                f, _ = self.download("/export/drill.%s?townships=%s" % (ext, town), ext)
                names = layers(f)
                for coll, want in per.items():
                    self.assertIn(coll, names)
                    got = read_back(f, coll)["features"]
                    self.assertEqual(sorted(g["properties"]["name"] for g in got), sorted(want))
                    if ext != "xlsx":
                        kinds = {g["geometry"]["type"] for g in got}
                        self.assertEqual(len({k.replace("Multi", "") for k in kinds}), 1)

    def test_export_in_gauss_krueger_matches_cs2cs_with_esri_prj(self):
        h = self.hazards[0]
        lon, lat = h["geometry"]["coordinates"]
        f, _ = self.download("/export/hazards.gpkg?crs=EPSG:4546", "gpkg", EPSG + "4546")
        got = {g["properties"]["id"]: g for g in read_back(f)["features"]}
        x, y = got[h["id"]]["geometry"]["coordinates"]  # files: easting, northing
        n, e = cs2cs("EPSG:4326", "EPSG:4546", lat, lon)
        self.assertAlmostEqual(x, e, delta=0.01)
        self.assertAlmostEqual(y, n, delta=0.01)
        _, z = self.shapefile("?crs=" + EPSG + "4546", EPSG + "4546")
        prj = z.read("townships.prj").decode()
        self.assertTrue(prj.startswith('PROJCS["CGCS2000_3_Degree_GK_CM_111E"'), prj)
        self.assertIn('PROJECTION["Gauss_Kruger"]', prj)

    def test_geojson_in_cgcs2000_is_spooled_lon_lat_with_its_content_crs(self):
        h = self.hazards[0]
        f, _ = self.download("/export/hazards.geojson?crs=EPSG:4490", "geojson", EPSG + "4490")
        got = {g["properties"]["id"]: g for g in read_back(f)["features"]}[h["id"]]
        lon, lat = h["geometry"]["coordinates"]  # files: longitude first, as GDAL writes
        want_lat, want_lon = cs2cs("EPSG:4326", "EPSG:4490", lat, lon)
        self.assertAlmostEqual(got["geometry"]["coordinates"][0], want_lon, places=6)
        self.assertAlmostEqual(got["geometry"]["coordinates"][1], want_lat, places=6)

    def test_bad_export_arguments(self):
        situd.assert_problem(self, self.d.get("/export/hazards.gpkg?encoding=GBK"), 400,
                             "encoding")
        situd.assert_problem(self, self.d.get("/export/townships.shp.zip?encoding=Big5"), 400,
                             "encoding")
        situd.assert_problem(self, self.d.get("/export/hazards.gpkg?crs=EPSG:3857"), 400, "crs")
        situd.assert_problem(self, self.d.get("/export/hazards.kml?crs=EPSG:4546"), 400, "crs")
        situd.assert_problem(self, self.d.get("/export/resources.xlsx?crs=EPSG:4546"), 400,
                             "crs")
        situd.assert_problem(self, self.d.get("/export/drill.xlsx?townships=431102001&crs="
                                              "EPSG:4490"), 400, "crs")
        situd.assert_problem(self, self.d.get("/export/hazards.dxf"), 404)

    def test_export_over_the_cap_is_507(self):
        conf = os.path.join(self.tmp, "small.ini")
        spool = tempfile.mkdtemp(prefix="spool-", dir=self.tmp)
        with open(conf, "w") as f:
            f.write("[export]\nmax_bytes = 60000\nspool_dir = %s\n" % spool)
        os.chmod(spool, 0o777)
        small = situd.Situd(self.db, "--config", conf)
        try:
            # the GeoJSON that GDAL reads is over the cap
            situd.assert_problem(self, small.get("/export/townships.gpkg"), 507)
            # the GeoJSON is under it (streamed, no spool), the GeoPackage over it
            one = "/export/hazards.%s?township=431102001"
            self.assertLess(len(small.get(one % "geojson").body), 60000)
            situd.assert_problem(self, small.get(one % "gpkg"), 507)
            self.assertEqual(small.get(one % "kml").status, 200)
            # a CSV (37 KB) that would fit, but its GeoJSON source (72 KB) does not
            big = "/export/hazards.%s?township=431181001"
            self.assertGreater(len(small.get(big % "geojson").body), 60000)
            situd.assert_problem(self, small.get(big % "csv"), 507)
            self.assertEqual(os.listdir(spool), [])
        finally:
            small.stop_cleanly()


class CrsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-crs-")
        cls.d = situd.Situd(situd.demo_db(cls.tmp))
        cls.hazards = cls.d.get("/collections/hazards/items?limit=10000").json()["features"]

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()

    def items(self, query, crs=CRS84):
        r = self.d.get("/collections/hazards/items?limit=10000&" + query)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.headers.get("content-crs"), "<%s>" % crs)
        # a web client of another origin (CORS) may read it
        exposed = r.headers.get("access-control-expose-headers", "")
        self.assertIn("Content-Crs", [h.strip() for h in exposed.split(",")])
        return {f["id"]: f["geometry"]["coordinates"] for f in r.json()["features"]}

    def test_collections_and_conformance_declare_crs(self):
        c = self.d.get("/collections/hazards").json()
        self.assertEqual(c["storageCrs"], CRS84)
        self.assertEqual(c["crs"], [CRS84] + [EPSG + n for n in
                                              ("4326", "4490", "4545", "4546", "4547")])
        self.assertIn("http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
                      self.d.get("/conformance").json()["conformsTo"])

    def test_epsg_4326_and_4490_are_lat_lon(self):
        base = self.items("")
        for code in ("4326", "4490"):
            got = self.items("crs=" + EPSG + code, EPSG + code)
            self.assertEqual(set(got), set(base))
            for fid, (lon, lat) in base.items():
                self.assertAlmostEqual(got[fid][0], lat, places=7)
                self.assertAlmostEqual(got[fid][1], lon, places=7)

    def test_gauss_krueger_zone_matches_cs2cs_to_the_mm(self):
        base = self.items("")
        for code in ("4545", "4546", "4547"):
            got = self.items("crs=EPSG:" + code, EPSG + code)
            for fid in list(base)[:5]:
                lon, lat = base[fid]
                n, e = cs2cs("EPSG:4326", "EPSG:" + code, lat, lon)  # northing, easting
                self.assertAlmostEqual(got[fid][0], n, delta=0.001)
                self.assertAlmostEqual(got[fid][1], e, delta=0.001)
        fid = list(base)[0]
        one = self.d.get("/collections/hazards/items/%s?crs=EPSG:4547" % fid)
        self.assertEqual(one.headers.get("content-crs"), "<%s4547>" % EPSG)
        self.assertEqual(one.json()["geometry"]["coordinates"], got[fid])

    def test_paging_links_keep_the_crs(self):
        whole = self.items("crs=EPSG:4547", EPSG + "4547")
        url, got = "/collections/hazards/items?limit=40&crs=EPSG:4547", {}
        while url:
            r = self.d.get(url)
            self.assertEqual(r.headers.get("content-crs"), "<%s4547>" % EPSG, url)
            page = r.json()
            got.update({f["id"]: f["geometry"]["coordinates"] for f in page["features"]})
            nxt = [l["href"] for l in page["links"] if l["rel"] == "next"]
            url = nxt[0].split(self.d.base, 1)[1] if nxt else None
        self.assertGreater(len(whole), 40)
        self.assertEqual(got, whole)

    def test_bbox_crs_selects_the_same_features(self):
        base = self.items("")
        lons = sorted(c[0] for c in base.values())
        lats = sorted(c[1] for c in base.values())
        box = [lons[len(lons) // 4], lats[len(lats) // 4], lons[3 * len(lons) // 4],
               lats[3 * len(lats) // 4]]
        want = self.items("bbox=%r,%r,%r,%r" % tuple(box))
        self.assertTrue(0 < len(want) < len(base))
        latlon = "bbox=%r,%r,%r,%r&bbox-crs=%s4326" % (box[1], box[0], box[3], box[2], EPSG)
        self.assertEqual(set(self.items(latlon)), set(want))
        # a Gauss-Krueger box around every wanted point (in northing/easting)
        gk = self.items("crs=EPSG:4546", EPSG + "4546")
        ns = [gk[f][0] for f in want]
        es = [gk[f][1] for f in want]
        q = "bbox=%r,%r,%r,%r&bbox-crs=EPSG:4546" % (min(ns), min(es), max(ns), max(es))
        got = self.items(q)
        self.assertTrue(set(want) <= set(got))
        inside = {f for f, (n, e) in gk.items()
                  if min(ns) <= n <= max(ns) and min(es) <= e <= max(es)}
        self.assertTrue(set(got) >= inside)
        self.assertLess(len(got), len(base))

    def test_bad_crs_is_400_naming_it(self):
        p = "/collections/hazards/items?"
        situd.assert_problem(self, self.d.get(p + "crs=EPSG:3857"), 400, "crs")
        situd.assert_problem(self, self.d.get(p + "crs=" + EPSG + "999999"), 400, "crs")
        situd.assert_problem(self, self.d.get(p + "bbox=1,2,3,4&bbox-crs=EPSG:2000"), 400,
                             "bbox-crs")
        situd.assert_problem(self, self.d.get(p + "bbox=1,2,3&bbox-crs=EPSG:4546"), 400, "bbox")
        one = "/collections/hazards/items/%s?crs=nope" % self.hazards[0]["id"]
        situd.assert_problem(self, self.d.get(one), 400, "crs")


class ExportCliTest(unittest.TestCase):
    """`situ export --format --t_srs --encoding`, the same through the CLI."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-xcli-")
        cls.db = situd.demo_db(cls.tmp)

    def export(self, *args):
        return subprocess.run([situd.SITU, "export", "--db", self.db] + list(args),
                              capture_output=True, text=True)

    def test_gbk_shapefile_in_a_gauss_krueger_zone(self):
        out = os.path.join(self.tmp, "h.shp.zip")
        r = self.export("--collection", "hazards", "--format", "shp.zip", "--t_srs",
                        "EPSG:4547", "--encoding", "GBK", "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        z = zipfile.ZipFile(out)
        self.assertEqual(z.read("hazards.cpg").decode().strip(), "GBK")
        self.assertIn("CGCS2000_3_Degree_GK_CM_114E", z.read("hazards.prj").decode())
        src = os.path.join(self.tmp, "h.geojson")
        self.assertEqual(self.export("--collection", "hazards", "--out", src).returncode, 0)
        with open(src, encoding="utf-8") as f:
            first = json.load(f)["features"][0]
        got = {g["properties"]["id"]: g for g in read_back(out)["features"]}[first["properties"]["id"]]
        self.assertEqual(got["properties"]["name"], first["properties"]["name"])
        self.assertIn(first["properties"]["name"].encode("gbk"), z.read("hazards.dbf"))
        lon, lat = first["geometry"]["coordinates"]
        n, e = cs2cs("EPSG:4326", "EPSG:4547", lat, lon)
        self.assertAlmostEqual(got["geometry"]["coordinates"][0], e, delta=0.01)
        self.assertAlmostEqual(got["geometry"]["coordinates"][1], n, delta=0.01)

    def test_bad_t_srs_and_encoding_are_refused(self):
        out = os.path.join(self.tmp, "bad.gpkg")
        r = self.export("--collection", "hazards", "--t_srs", "EPSG:3857", "--out", out)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--t_srs", r.stderr)
        r = self.export("--collection", "hazards", "-f", "shp.zip", "--encoding", "Big5",
                        "--out", os.path.join(self.tmp, "bad.shp.zip"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("encoding", r.stderr)
        self.assertFalse(os.path.exists(out))
        for fmt in ("xlsx", "kml"):
            sheet = os.path.join(self.tmp, "bad." + fmt)
            r = self.export("--collection", "resources", "-f", fmt, "--t_srs", "EPSG:4546",
                            "--out", sheet)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--t_srs", r.stderr)
            self.assertFalse(os.path.exists(sheet))


if __name__ == "__main__":
    unittest.main()
