"""QGIS, the client the bureaus' GIS staff use, against a real situd on the
demo, headless (PyQGIS 3.22 from Debian's python3-qgis and qgis-providers,
QT_QPA_PLATFORM=offscreen): every collection opens as an OGC API Features
layer (QGIS's OAPIF provider) with as many features as the store holds; the
vector tiles open with the wall's style as situd serves it (/styles/day.json
through QgsMapBoxGlStyleConverter) and render the city to a PNG that is not
blank (build/web-shots/qgis-city.png); a GeoPackage written by `situ export`
opens with the store's count and its Chinese names intact, and so does the
XLSX inventory situd serves (/export/resources.xlsx: a sheet with each item a
column, the store's quantities); a zipped Shapefile situd writes in a
CGCS2000 Gauss-Krueger zone opens in that CRS (QGIS reads its .prj) with
coordinates within 1 cm of PROJ's cs2cs. Skipped, saying why, where PyQGIS
is not installed (scripts/setup.sh installs it)."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
import situd  # noqa: E402

try:
    from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem,  # noqa: E402
                           QgsCoordinateTransform, QgsDataSourceUri, QgsFeatureRequest,
                           QgsMapBoxGlStyleConverter,
                           QgsMapRendererSequentialJob, QgsMapSettings, QgsProject,
                           QgsRectangle, QgsVectorLayer, QgsVectorTileLayer)
    from qgis.PyQt.QtCore import QSize  # noqa: E402
    from qgis.PyQt.QtGui import QColor, QImage  # noqa: E402
    QGIS_MISSING = None
except ImportError as e:  # not installed, or another python than Debian's
    QGIS_MISSING = "PyQGIS is not importable by %s (%s): apt install python3-qgis " \
                   "qgis-providers (scripts/setup.sh does)" % (sys.executable, e)

COLLECTIONS = ["townships", "risk_zones", "hazards", "hazard_sources", "resources",
               "stations", "alerts", "roads"]
SHOTS = os.environ.get("SITU_SHOTS", os.path.join(situd.ROOT, "build", "web-shots"))
CJK = range(0x4E00, 0xA000)


def has_cjk(s):
    return any(ord(ch) in CJK for ch in s or "")


# One application for the module, made at import as PyQGIS scripts do.
APP = None
if not QGIS_MISSING:
    APP = QgsApplication([], False)
    APP.initQgis()


@unittest.skipIf(QGIS_MISSING, QGIS_MISSING)
class QgisClient(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-qgis-")
        cls.db = situd.demo_db(cls.tmp)
        with sqlite3.connect("file:%s?mode=ro" % cls.db, uri=True) as con:
            cls.store = {c: con.execute('SELECT COUNT(*) FROM "%s"' % c).fetchone()[0]
                         for c in COLLECTIONS}
        cls.d = situd.Situd(cls.db)

    @classmethod
    def tearDownClass(cls):
        QgsProject.instance().clear()
        cls.d.stop_cleanly()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def oapif(self, collection):
        uri = ("url='%s' typename='%s' pagingEnabled='true' pageSize='10000' "
               "restrictToRequestBBOX='0'" % (self.d.base, collection))
        return QgsVectorLayer(uri, collection, "OAPIF")

    def test_each_collection_opens_with_the_store_count(self):
        self.assertGreater(self.store["townships"], 100)
        for c in COLLECTIONS:
            with self.subTest(collection=c):
                layer = self.oapif(c)
                self.assertTrue(layer.isValid(), c)
                read = sum(1 for _ in layer.getFeatures())
                self.assertEqual(read, self.store[c], c)
                if c == "townships":
                    names = [f["name"] for f in layer.getFeatures()]
                    self.assertTrue(all(has_cjk(n) for n in names), names[:5])

    def style_layer(self):
        """The vector tiles of every collection with /styles/day.json converted."""
        ds = QgsDataSourceUri()
        ds.setParam("type", "xyz")
        ds.setParam("url", self.d.base + "/tiles/all/{z}/{x}/{y}.mvt")
        ds.setParam("zmin", "0")
        ds.setParam("zmax", "14")
        layer = QgsVectorTileLayer(bytes(ds.encodedUri()).decode(), "situ")
        self.assertTrue(layer.isValid(), "the vector tiles")
        r = self.d.get("/styles/day.json")
        self.assertEqual(r.status, 200)
        conv = QgsMapBoxGlStyleConverter()
        status = conv.convert(json.loads(r.body.decode("utf-8")))
        self.assertEqual(status, QgsMapBoxGlStyleConverter.Success, conv.errorMessage())
        styles = conv.renderer().styles()
        styled = {s.layerName() for s in styles}
        for c in ("townships", "risk_zones", "resources", "hazards"):
            self.assertIn(c, styled, "the style converted draws no %s" % c)
        layer.setRenderer(conv.renderer())
        if conv.labeling():
            layer.setLabeling(conv.labeling())
        return layer

    def test_vector_tiles_render_the_city_with_the_served_style(self):
        layer = self.style_layer()
        QgsProject.instance().addMapLayer(layer)
        townships = self.oapif("townships")
        wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
        merc = QgsCoordinateReferenceSystem("EPSG:3857")
        city = QgsCoordinateTransform(wgs84, merc, QgsProject.instance()).transformBoundingBox(
            QgsRectangle(townships.extent()))
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(merc)
        settings.setOutputSize(QSize(900, 900))
        settings.setBackgroundColor(QColor(255, 255, 255))
        settings.setExtent(city)
        job = QgsMapRendererSequentialJob(settings)
        job.start()
        job.waitForFinished()
        image = job.renderedImage().convertToFormat(QImage.Format_RGB32)
        os.makedirs(SHOTS, exist_ok=True)
        shot = os.path.join(SHOTS, "qgis-city.png")
        self.assertTrue(image.save(shot), shot)
        for err in job.errors():
            self.fail("%s: %s" % (err.layerID, err.message))
        self.assert_not_blank(image, shot)

    def assert_not_blank(self, image, shot):
        """Most pixels are drawn (not the white background), in many colours,
        with a spread of brightness: a blank or one-colour map fails."""
        w, h = image.width(), image.height()
        bits = image.constBits()
        bits.setsize(image.sizeInBytes())
        data = bytes(bits)
        colours, drawn, grey = set(), 0, []
        for y in range(0, h, 3):
            row = y * image.bytesPerLine()
            for x in range(0, w, 3):
                b, g, r = data[row + 4 * x], data[row + 4 * x + 1], data[row + 4 * x + 2]
                colours.add((r, g, b))
                drawn += (r, g, b) != (255, 255, 255)
                grey.append(0.299 * r + 0.587 * g + 0.114 * b)
        mean = sum(grey) / len(grey)
        variance = sum((v - mean) ** 2 for v in grey) / len(grey)
        self.assertGreater(drawn / len(grey), 0.3, "%s: %.0f%% drawn" % (shot, 100 * drawn / len(grey)))
        self.assertGreater(len(colours), 20, "%s: %d colours" % (shot, len(colours)))
        self.assertGreater(variance, 50, "%s: grey variance %.1f" % (shot, variance))

    def test_geopackage_export_opens_with_count_and_chinese_names(self):
        out = os.path.join(self.tmp, "resources.gpkg")
        subprocess.run([situd.SITU, "export", "--db", self.db, "--collection", "resources",
                        "-f", "GPKG", "--out", out], check=True, stdout=subprocess.DEVNULL)
        layer = QgsVectorLayer(out, "resources", "ogr")
        self.assertTrue(layer.isValid(), out)
        self.assertEqual(layer.featureCount(), self.store["resources"])
        with sqlite3.connect("file:%s?mode=ro" % self.db, uri=True) as con:
            stored = dict(con.execute("SELECT id, name FROM resources"))
        names = {f["id"]: f["name"] for f in layer.getFeatures()}
        self.assertEqual(names, stored)
        self.assertTrue(sum(has_cjk(n) for n in names.values()) > len(names) / 2,
                        list(names.values())[:5])

    def download(self, path, name):
        """situd's export at path, saved as name in the test's folder."""
        r = self.d.get(path)
        self.assertEqual(r.status, 200, r.body[:300])
        out = os.path.join(self.tmp, name)
        with open(out, "wb") as f:
            f.write(r.body)
        return out

    def test_xlsx_inventory_opens_with_count_chinese_names_and_items_as_columns(self):
        out = self.download("/export/resources.xlsx", "resources.xlsx")
        layer = QgsVectorLayer(out, "resources", "ogr")  # as a user opens it: no options
        self.assertTrue(layer.isValid(), out)
        self.assertEqual(layer.featureCount(), self.store["resources"])
        with sqlite3.connect("file:%s?mode=ro" % self.db, uri=True) as con:
            stored = dict(con.execute("SELECT id, name FROM resources"))
            qty = {(r, name): q for r, name, q in con.execute(
                "SELECT resource_id, name_zh, quantity FROM resource_items "
                "JOIN items ON items.code = resource_items.item")}
        rows = {f["id"]: f for f in layer.getFeatures()}
        self.assertEqual({i: f["name"] for i, f in rows.items()}, stored)
        self.assertTrue(sum(has_cjk(n) for n in stored.values()) > len(stored) / 2)
        columns = set(layer.fields().names())
        for (rid, item), q in qty.items():
            self.assertIn(item, columns)
            self.assertAlmostEqual(float(rows[rid][item]), q, places=3, msg=(rid, item))
        self.assertGreater(len(qty), 100)

    def test_gauss_krueger_shapefile_opens_in_its_crs(self):
        out = self.download("/export/hazards.shp.zip?crs=EPSG:4546&encoding=GBK",
                            "hazards-4546.shp.zip")
        layer = QgsVectorLayer("/vsizip/%s/hazards.shp" % out, "hazards", "ogr")
        self.assertTrue(layer.isValid(), out)
        self.assertEqual(layer.crs().authid(), "EPSG:4546", layer.crs().toWkt())
        self.assertEqual(layer.featureCount(), self.store["hazards"])
        wgs84 = self.d.get("/collections/hazards/items?limit=3").json()["features"]
        for h in wgs84:
            lon, lat = h["geometry"]["coordinates"]
            got = next(layer.getFeatures(QgsFeatureRequest().setFilterExpression(
                "\"id\" = '%s'" % h["id"])))
            self.assertEqual(got["name"], h["properties"]["name"])
            p = got.geometry().asPoint()
            cs2cs = subprocess.run(["cs2cs", "-f", "%.4f", "EPSG:4326", "EPSG:4546"],
                                   input="%r %r\n" % (lat, lon), capture_output=True,
                                   text=True, check=True).stdout.split()
            self.assertAlmostEqual(p.y(), float(cs2cs[0]), delta=0.01)  # northing
            self.assertAlmostEqual(p.x(), float(cs2cs[1]), delta=0.01)  # easting


if __name__ == "__main__":
    unittest.main(verbosity=2)
