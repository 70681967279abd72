"""OGC API - Tiles Part 1 against a real situd on the demo data: the tile
matrix set WebMercatorQuad, the dataset and per-collection tileset lists and
tilesets with their links and limits, tiles by {tileMatrix}/{tileRow}/{tileCol}
(row before column) read back by GDAL's MVT driver, bad addresses, the
conformance classes and landing/collection links, and the XYZ routes beside
them unchanged. GDAL's OGCAPI driver walks the same documents."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import situd  # noqa: E402

TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
REL_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_TILESETS = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
MVT = "application/vnd.mapbox-vector-tile"
HALF = 20037508.3427892
CONF = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"


def link(doc, rel, type_=None):
    found = [l for l in doc["links"] if l["rel"] == rel and (type_ is None or l["type"] == type_)]
    return found[0] if found else None


class OgcTilesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-ogc-tiles-")
        cls.d = situd.Situd(situd.demo_db(cls.tmp))

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()

    def get_json(self, path):
        r = self.d.get(path)
        self.assertEqual(r.status, 200, "%s: %s" % (path, r.body[:300]))
        self.assertTrue(r.ctype.startswith("application/json"), r.ctype)
        return r.json()

    def rel_path(self, href):
        self.assertTrue(href.startswith(self.d.base), href)
        return href[len(self.d.base):]

    def test_tile_matrix_set_is_the_standard_webmercatorquad(self):
        lst = self.get_json("/tileMatrixSets")["tileMatrixSets"]
        self.assertEqual([t["id"] for t in lst], ["WebMercatorQuad"])
        self.assertEqual(lst[0]["uri"], TMS_URI)
        tms = self.get_json(self.rel_path(link(lst[0], "self")["href"]))
        self.assertEqual(tms["id"], "WebMercatorQuad")
        self.assertEqual(tms["uri"], TMS_URI)
        self.assertEqual(tms["crs"], "http://www.opengis.net/def/crs/EPSG/0/3857")
        self.assertEqual(tms["orderedAxes"], ["X", "Y"])
        tm = tms["tileMatrices"]
        self.assertEqual([m["id"] for m in tm], [str(z) for z in range(25)])
        # the values of the standard's Annex (OGC 17-083r4, WebMercatorQuad)
        self.assertAlmostEqual(tm[0]["scaleDenominator"], 559082264.028717, places=5)
        self.assertAlmostEqual(tm[0]["cellSize"], 156543.033928041, places=8)
        for z, m in enumerate(tm):
            self.assertEqual((m["matrixWidth"], m["matrixHeight"]), (2 ** z, 2 ** z))
            self.assertEqual((m["tileWidth"], m["tileHeight"]), (256, 256))
            self.assertEqual(m["cornerOfOrigin"], "topLeft")
            self.assertEqual(m["pointOfOrigin"], [-HALF, HALF])
            self.assertAlmostEqual(m["cellSize"] * 256 * 2 ** z, 2 * HALF, places=3)
            self.assertAlmostEqual(m["scaleDenominator"], m["cellSize"] / 0.00028, places=3)
        for bad in ("/tileMatrixSets/WorldCRS84Quad", "/tileMatrixSets/webmercatorquad"):
            situd.assert_problem(self, self.d.get(bad), 404, "tileMatrixSetId")
        situd.assert_problem(self, self.d.get("/tileMatrixSets?x=1"), 400, "x")

    def check_tileset(self, path, layer_ids):
        ts = self.get_json(path)
        self.assertEqual(ts["dataType"], "vector")
        self.assertEqual(ts["tileMatrixSetURI"], TMS_URI)
        self.assertEqual(self.rel_path(link(ts, "self")["href"]), path)
        self.assertEqual(self.rel_path(link(ts, REL_SCHEME)["href"]),
                         "/tileMatrixSets/WebMercatorQuad")
        item = link(ts, "item", MVT)
        self.assertTrue(item["templated"])
        self.assertEqual(self.rel_path(item["href"]),
                         path + "/{tileMatrix}/{tileRow}/{tileCol}")
        self.assertEqual([l["id"] for l in ts["layers"]], layer_ids)
        return ts

    def test_tileset_lists_and_tilesets(self):
        # below the townships' own zooms, their provinces and counties (#20)
        sets = [("/tiles", "", ["provinces", "counties", "townships", "risk_zones", "hazards",
                                "hazard_sources", "resources", "stations", "alerts", "roads"]),
                ("/collections/hazards/tiles", "/collections/hazards", ["hazards"]),
                ("/collections/townships/tiles", "/collections/townships",
                 ["provinces", "counties", "townships"])]
        for lst_path, prefix, layers in sets:
            lst = self.get_json(lst_path)
            self.assertEqual(self.rel_path(link(lst, "self")["href"]), lst_path)
            self.assertEqual(len(lst["tilesets"]), 1)
            entry = lst["tilesets"][0]
            self.assertEqual(entry["tileMatrixSetURI"], TMS_URI)
            self.assertEqual(entry["dataType"], "vector")
            ts_path = self.rel_path(link(entry, "self", "application/json")["href"])
            self.assertEqual(ts_path, prefix + "/tiles/WebMercatorQuad")
            ts = self.check_tileset(ts_path, layers)
            dims = {l["id"]: l["geometryDimension"] for l in ts["layers"]}
            want = {"hazards": 0, "townships": 2, "roads": 1}  # points, polygons, lines
            self.assertEqual({k: v for k, v in dims.items() if k in want},
                             {k: v for k, v in want.items() if k in dims})

    def test_limits_cover_the_collection_extent(self):
        ts = self.get_json("/collections/hazards/tiles/WebMercatorQuad")
        bbox = self.get_json("/collections/hazards")["extent"]["spatial"]["bbox"][0]
        lim = {l["tileMatrix"]: l for l in ts["tileMatrixSetLimits"]}
        tilejson = self.get_json("/tiles/hazards.json")
        minz = tilejson["vector_layers"][0]["minzoom"]
        self.assertEqual(sorted(int(z) for z in lim), list(range(minz, 23)))
        self.assertEqual(ts["layers"][0]["minTileMatrix"], str(minz))
        # at zoom 12 the limits hold the extent's corners and not much more
        l12, n = lim["12"], 2 ** 12
        import math

        def col(lon):
            return int((lon + 180) / 360 * n)

        def row(lat):
            r = math.radians(lat)
            return int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * n)
        self.assertEqual((l12["minTileCol"], l12["maxTileCol"]), (col(bbox[0]), col(bbox[2])))
        self.assertEqual((l12["minTileRow"], l12["maxTileRow"]), (row(bbox[3]), row(bbox[1])))

    def tile_bounds(self, z, row, col):
        size = 2 * HALF / 2 ** z
        return (-HALF + col * size, HALF - (row + 1) * size, -HALF + (col + 1) * size,
                HALF - row * size)

    def ogr(self, body, z, row, col, *args):
        """GDAL's MVT driver on the tile bytes (saved to a file: /vsicurl
        probes the tile's parent paths as folders)."""
        path = os.path.join(self.tmp, "%d-%d-%d.mvt" % (z, row, col))
        with open(path, "wb") as f:
            f.write(body)
        out = subprocess.run(["ogr2ogr" if args[0] == "-f" else "ogrinfo", *args[1:], path,
                              "-oo", "X=%d" % col, "-oo", "Y=%d" % row, "-oo", "Z=%d" % z],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def ogr_features(self, body, z, row, col):
        """The tile's features as GeoJSON in EPSG:3857."""
        out = self.ogr(body, z, row, col, "-f", "-f", "GeoJSON", "/vsistdout/")
        return json.loads(out)["features"]

    def test_tiles_by_row_and_column_read_by_gdal(self):
        ts = self.get_json("/collections/hazards/tiles/WebMercatorQuad")
        template = self.rel_path(link(ts, "item", MVT)["href"])
        z = 12
        lim = [l for l in ts["tileMatrixSetLimits"] if l["tileMatrix"] == str(z)][0]
        checked = 0
        for row in range(lim["minTileRow"], lim["maxTileRow"] + 1):
            for col in range(lim["minTileCol"], lim["maxTileCol"] + 1):
                path = (template.replace("{tileMatrix}", str(z))
                        .replace("{tileRow}", str(row)).replace("{tileCol}", str(col)))
                r = self.d.get(path)
                self.assertIn(r.status, (200, 204), r.body[:200])
                # the same tile as the XYZ route's {z}/{x}/{y}
                xyz = self.d.get("/tiles/hazards/%d/%d/%d.mvt" % (z, col, row))
                self.assertEqual((r.status, r.body), (xyz.status, xyz.body))
                if r.status == 204 or checked >= 3:
                    continue
                self.assertEqual(r.ctype, MVT)
                feats = self.ogr_features(r.body, z, row, col)
                self.assertGreater(len(feats), 0)
                x0, y0, x1, y1 = self.tile_bounds(z, row, col)
                pad = (x1 - x0) * 64 / 4096 + 1
                for f in feats:
                    x, y = f["geometry"]["coordinates"][:2]
                    self.assertTrue(x0 - pad <= x <= x1 + pad and y0 - pad <= y <= y1 + pad,
                                    (path, x, y, (x0, y0, x1, y1)))
                checked += 1
        self.assertEqual(checked, 3, "too few tiles with hazards at zoom %d" % z)

    def test_dataset_tiles(self):
        ts = self.get_json("/tiles/WebMercatorQuad")
        lim = [l for l in ts["tileMatrixSetLimits"] if l["tileMatrix"] == "8"][0]
        row, col = lim["minTileRow"], lim["minTileCol"]
        r = self.d.get("/tiles/WebMercatorQuad/8/%d/%d" % (row, col))
        xyz = self.d.get("/tiles/all/8/%d/%d.mvt" % (col, row))
        self.assertEqual((r.status, r.body), (xyz.status, xyz.body))
        self.assertEqual(r.status, 200)
        out = self.ogr(r.body, 8, row, col, "-i", "-ro", "-so", "-q")
        layers = {line.split(":")[1].split("(")[0].strip() for line in out.splitlines()
                  if line[:1].isdigit()}
        self.assertTrue({"townships", "hazards"} <= layers, out)

    def test_bad_tile_addresses(self):
        for prefix in ("/tiles/WebMercatorQuad", "/collections/hazards/tiles/WebMercatorQuad"):
            for tail, status, param in (("/23/0/0", 404, "tileMatrix"),
                                        ("/x/0/0", 400, "tileMatrix"),
                                        ("/2/4/0", 404, "tileRow"),
                                        ("/2/0/4", 404, "tileCol"),
                                        ("/2/-1/0", 400, "tileRow"),
                                        ("/2/0/1.5", 400, "tileCol"),
                                        ("/2/01/0", 400, "tileRow")):
                doc = situd.assert_problem(self, self.d.get(prefix + tail), status, param)
                self.assertIn(param, doc["detail"])
            situd.assert_problem(self, self.d.get(prefix + "/2/0"), 404)
            situd.assert_problem(self, self.d.get(prefix + "/2/0/0?f=json"), 400, "f")
        for bad in ("/collections/hazards/tiles/WorldCRS84Quad",
                    "/collections/hazards/tiles/WorldCRS84Quad/0/0/0"):
            situd.assert_problem(self, self.d.get(bad), 404, "tileMatrixSetId")
        situd.assert_problem(self, self.d.get("/collections/nope/tiles"), 404)
        situd.assert_problem(self, self.d.get("/tiles?limit=3"), 400, "limit")

    def test_xyz_routes_unchanged(self):
        self.assertEqual(self.get_json("/tiles/all.json")["tilejson"], "3.0.0")
        self.assertEqual(self.get_json("/tiles/hazards.json")["tilejson"], "3.0.0")
        self.assertEqual(self.d.get("/tiles/all/0/0/0.mvt").status, 200)
        situd.assert_problem(self, self.d.get("/tiles/all/1/2/0.mvt"), 400, "x")
        situd.assert_problem(self, self.d.get("/tiles/WebMercatorQuad.json"), 404)
        situd.assert_problem(self, self.d.get("/tiles/nope/0/0/0.mvt"), 404, "set")

    def test_conformance_and_links(self):
        conf = self.get_json("/conformance")["conformsTo"]
        for c in ("core", "tileset", "tilesets-list", "dataset-tilesets", "geodata-tilesets",
                  "mvt"):
            self.assertIn(CONF + c, conf)
        landing = self.get_json("/?f=json")
        self.assertEqual(self.rel_path(link(landing, REL_TILESETS)["href"]), "/tiles")
        for c in self.get_json("/collections")["collections"]:
            self.assertEqual(self.rel_path(link(c, REL_TILESETS)["href"]),
                             "/collections/%s/tiles" % c["id"])
            self.get_json("/collections/%s/tiles" % c["id"])

    def test_gdal_ogcapi_driver_walks_to_the_tile_matrix_set(self):
        """GDAL 3.6's OGCAPI driver follows the collection's tilesets-vector
        link, the tileset, its tiling-scheme link and parses the tile matrix
        set (its vector-tile reader is not built into Debian's 3.6, so it
        stops there without a layer: the tiles are read by MVT above)."""
        out = subprocess.run(["ogrinfo", "-ro", "-so", "--debug", "on", "-oo", "API=TILES",
                              "OGCAPI:" + self.d.base + "/collections/hazards"],
                             capture_output=True, text=True, timeout=120)
        log = out.stdout + out.stderr
        for fetched in ("/collections/hazards/tiles)", "/collections/hazards/tiles/WebMercatorQuad)",
                        "/tileMatrixSets/WebMercatorQuad)"):
            self.assertIn(self.d.base + fetched, log)
        self.assertEqual([l for l in log.splitlines() if l.startswith("ERROR")], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
