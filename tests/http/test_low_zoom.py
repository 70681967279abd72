"""Low zooms show what can be seen (#20), against a real situd on the demo:
below z6 the townships give way to their counties, below z3 to their
provinces; below z8 the four maps and the stations are per-cell aggregates
(cluster=true, point_count, counts by level and status, no ids) that count
every feature once; from z6 an overdue hidden danger stays itself with its
id, level, status and deadline, and below z6 each is in one urgent mark on
top of the aggregates (urgent=n for the overdue ones within 16 tile units,
2 pixels; a mark of one has its id); a red alert posted through a feed is its own
feature at every zoom. The tiles are decoded here (MVT 2.1, protobuf by
hand) and checked against the items and township routes."""

import gzip
import os
import sys
import tempfile
import unittest
import json

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402

Z2, Z3, Z5, Z6, Z8 = "2/3/1", "3/6/3", "5/25/13", "6/51/27", "8/207/108"  # over Yongzhou
POINT_MAPS = ["risk_zones", "hazards", "hazard_sources", "resources", "stations"]


def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def _fields(b):
    i = 0
    while i < len(b):
        k, i = _varint(b, i)
        f, t = k >> 3, k & 7
        if t == 2:
            n, i = _varint(b, i)
            yield f, b[i:i + n]
            i += n
        elif t == 0:
            v, i = _varint(b, i)
            yield f, v
        elif t == 5:
            yield f, b[i:i + 4]
            i += 4
        else:
            yield f, b[i:i + 8]
            i += 8


def _value(b):
    import struct
    for f, v in _fields(b):
        if f == 1:
            return v.decode()
        if f == 3:
            return struct.unpack("<d", v)[0]
        if f in (4, 5):
            return v
        if f == 6:
            return (v >> 1) ^ -(v & 1)
        if f == 7:
            return bool(v)
    return None


def _first_point(geom):
    """The first point of an MVT geometry (a MoveTo), in tile units."""
    i = 0
    _, i = _varint(geom, i)
    x, i = _varint(geom, i)
    y, i = _varint(geom, i)
    return (x >> 1) ^ -(x & 1), (y >> 1) ^ -(y & 1)


def decode(tile, points=False):
    """{layer name: [feature properties]} of an MVT; with points, each
    feature's properties also hold its first point as "_xy" and its MVT id
    as "_id"."""
    out = {}
    for f, layer in _fields(tile):
        if f != 3:
            continue
        name, keys, vals, feats = None, [], [], []
        for g, v in _fields(layer):
            if g == 1:
                name = v.decode()
            elif g == 3:
                keys.append(v.decode())
            elif g == 4:
                vals.append(_value(v))
            elif g == 2:
                feats.append(v)
        props = []
        for ft in feats:
            tags, extra = [], {}
            for g, v in _fields(ft):
                if g == 2:
                    i = 0
                    while i < len(v):
                        x, i = _varint(v, i)
                        tags.append(x)
                elif g == 1 and points:
                    extra["_id"] = v
                elif g == 4 and points:
                    extra["_xy"] = _first_point(v)
            p = {keys[tags[k]]: vals[tags[k + 1]] for k in range(0, len(tags), 2)}
            p.update(extra)
            props.append(p)
        out[name] = props
    return out


class LowZoomTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-low-zoom-")
        cls.db = situd.demo_db(cls.tmp)
        cls.token = feedlib.add_token(cls.db, "meteorology")
        cls.d = situd.Situd(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()

    def tile(self, zxy):
        r = self.d.get("/tiles/all/%s.mvt" % zxy, {"Accept-Encoding": "gzip"})
        self.assertEqual(r.status, 200, zxy)
        return decode(gzip.decompress(r.body)), len(r.body)

    def count(self, coll):
        r = self.d.get("/collections/%s/items?limit=1" % coll)
        return r.json()["numberMatched"]

    def overdue_total(self):
        rows = self.d.get("/townships?limit=10000").json()
        rows = rows["townships"] if isinstance(rows, dict) else rows
        return sum(x["glance"]["overdue"] for x in rows)

    def test_provinces_then_counties_then_townships(self):
        t2, _ = self.tile(Z2)
        self.assertEqual([(p["id"], p["name"]) for p in t2["provinces"]], [("43", "湖南省")])
        self.assertNotIn("counties", t2)
        self.assertNotIn("townships", t2)
        for zxy in (Z3, Z5):
            t, _ = self.tile(zxy)
            self.assertNotIn("townships", t)
            self.assertNotIn("provinces", t)
            names = {p["id"]: p["name"] for p in t["counties"]}
            self.assertEqual(len(names), 13)
            self.assertEqual(names["431102"], "零陵区")
        t6, _ = self.tile(Z6)
        self.assertNotIn("counties", t6)
        self.assertEqual(len(t6["townships"]), self.count("townships"))

    def test_aggregates_count_every_feature_once(self):
        t5, _ = self.tile(Z5)  # the whole demo lies in this tile
        for coll in POINT_MAPS:
            feats = [f for f in t5[coll] if "urgent" not in f]  # the urgent marks: below
            self.assertTrue(all(f.get("cluster") is True and "ids" not in f for f in feats), coll)
            self.assertEqual(sum(f["point_count"] for f in feats), self.count(coll), coll)
        hz = [f for f in t5["hazards"] if "urgent" not in f]
        self.assertEqual(sum(f.get("overdue", 0) for f in hz), self.overdue_total())
        self.assertGreater(sum(f.get("level_major", 0) for f in hz), 0)
        self.assertEqual(sum(f.get("status_open", 0) + f.get("status_rectifying", 0) for f in hz),
                         self.count("hazards") - self.count_where("hazards", "status=rectified"))
        self.assertGreater(sum(f.get("grade_1", 0) for f in t5["hazard_sources"]), 0)
        self.assertEqual(sum(f.get("category_team", 0) + f.get("category_depot", 0)
                             for f in t5["resources"]), self.count("resources"))
        self.assertGreater(sum(f.get("item_sandbag", 0) for f in t5["resources"]), 0)

    def count_where(self, coll, q):
        return self.d.get("/collections/%s/items?limit=1&%s" % (coll, q)).json()["numberMatched"]

    def test_overdue_hidden_dangers_stay_themselves_from_z6(self):
        t6, _ = self.tile(Z6)
        alone = [f for f in t6["hazards"] if not f.get("cluster")]
        today = situd.zone_day()
        self.assertEqual(len(alone), self.overdue_total())
        for f in alone:
            self.assertEqual(set(f), {"id", "level", "status", "deadline"})
            self.assertNotEqual(f["status"], "rectified")
            self.assertLess(f["deadline"], today)
        # the aggregates beside them count only the others
        self.assertEqual(sum(f.get("overdue", 0) for f in t6["hazards"] if f.get("cluster")), 0)
        self.assertEqual(sum(f.get("point_count", 1) for f in t6["hazards"]),
                         self.count("hazards"))
        # from z8 the hidden dangers are themselves again, with every property
        t8, _ = self.tile(Z8)
        self.assertTrue(any("name" in f for f in t8["hazards"]))

    def overdue_items(self):
        """{id: properties} of the hidden dangers /items says are overdue."""
        today = situd.zone_day()
        out = {}
        for status in ("open", "rectifying"):
            url = "/collections/hazards/items?status=%s&limit=10000" % status
            while url:
                page = self.d.get(url).json()
                for f in page["features"]:
                    d = f["properties"].get("deadline")
                    if d and str(d) < today:
                        out[f["id"]] = f["properties"]
                nxt = [ln["href"] for ln in page.get("links", []) if ln.get("rel") == "next"]
                url = nxt[0][nxt[0].index("/collections"):] if nxt else None
        return out

    def marks(self, z):
        """The urgent marks whose point lies inside (not in the buffer of)
        each hazards tile of zoom z over the demo, and the largest tile."""
        import math
        b = self.d.get("/tiles/hazards.json").json()["bounds"]

        def tile_xy(lon, lat):
            n = 2 ** z
            y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2
            return int((lon + 180) / 360 * n), int(y * n)
        (x0, y0), (x1, y1) = tile_xy(b[0], b[3]), tile_xy(b[2], b[1])
        out, biggest = [], 0
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                r = self.d.get("/tiles/hazards/%d/%d/%d.mvt" % (z, x, y),
                               {"Accept-Encoding": "gzip"})
                self.assertIn(r.status, (200, 204))
                if r.status == 204 or not r.body:
                    continue
                biggest = max(biggest, len(r.body))
                t = decode(gzip.decompress(r.body), points=True)
                out += [f for f in t.get("hazards", []) if "urgent" in f and
                        0 <= f["_xy"][0] < 4096 and 0 <= f["_xy"][1] < 4096]
        return out, biggest

    def test_every_overdue_hidden_danger_is_in_one_urgent_mark_below_z6(self):
        overdue = self.overdue_items()
        self.assertGreater(len(overdue), 100)
        self.assertEqual(len(overdue), self.overdue_total())
        for z in (3, 4, 5):
            marks, biggest = self.marks(z)
            self.assertLessEqual(biggest, 500 * 1024, z)
            self.assertEqual(sum(m["urgent"] for m in marks), len(overdue), z)
            self.assertTrue(all("cluster" not in m and "point_count" not in m for m in marks))
            single = [m for m in marks if m["urgent"] == 1]
            many = [m for m in marks if m["urgent"] > 1]
            self.assertTrue(single and many, z)  # at z3-z5 both kinds occur on the demo
            self.assertTrue(all("id" not in m for m in many), z)
            ids = [m["id"] for m in single]
            self.assertEqual(len(set(ids)), len(ids), z)
            for m in single:  # a mark of one is that hidden danger, its id alone
                self.assertTrue(m["id"] in overdue, (z, m["id"]))
                self.assertEqual(set(m), {"id", "urgent", "_xy"})
            r = self.d.get("/collections/hazards/items/%s" % ids[0])
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["id"], ids[0])
        # the aggregates beside the marks still count every hidden danger
        t5, _ = self.tile(Z5)
        self.assertEqual(sum(f.get("point_count", 0) for f in t5["hazards"]),
                         self.count("hazards"))

    def test_a_red_alert_is_itself_at_every_zoom(self):
        square = {"type": "Polygon", "coordinates": [[[111.55, 26.35], [111.65, 26.35],
                                                      [111.65, 26.45], [111.55, 26.45],
                                                      [111.55, 26.35]]]}
        ev = {"events": [{"id": "lz-red", "type": "alert", "event": "rainstorm",
                          "severity": "red", "geometry": square}]}
        r = self.d.post("/feeds/meteorology/events", json.dumps(ev).encode(),
                        dict(feedlib.auth(self.token), **{"Content-Type": "application/json"}))
        self.assertEqual(r.status, 200, r.body[:300])

        def red_in(zxy):
            t, _ = self.tile(zxy)
            return [f for f in t.get("alerts", []) if f.get("severity") == "red"]
        for zxy in (Z2, Z3, Z5, Z6):
            feedlib.wait_until(lambda: red_in(zxy), timeout=10)
            self.assertEqual([f["id"] for f in red_in(zxy)], ["meteorology:lz-red"])

    def test_tilejson_says_what_each_zoom_carries(self):
        tj = self.d.get("/tiles/all.json").json()
        zooms = {l["id"]: (l["minzoom"], l["maxzoom"]) for l in tj["vector_layers"]}
        self.assertEqual(zooms["provinces"], (0, 2))
        self.assertEqual(zooms["counties"], (3, 5))
        self.assertEqual(zooms["townships"][0], 6)
        hz = [l for l in tj["vector_layers"] if l["id"] == "hazards"][0]
        self.assertEqual(hz["clustering"]["aggregate_below"], 8)
        self.assertEqual(hz["clustering"]["urgent_from"], 6)
        self.assertEqual(hz["clustering"]["urgent_mark_cell"], 16)
        self.assertEqual(hz["clustering"]["fields"]["urgent"], "Number")
        self.assertIn("urgent mark", hz["description"])
        # the OGC tileset of `all` describes its layers as TileJSON does
        ogc = self.d.get("/collections/hazards/tiles/WebMercatorQuad").json()
        self.assertEqual([l["description"] for l in ogc["layers"]], [hz["description"]])
        self.assertIn("overdue", hz["clustering"]["fields"])


if __name__ == "__main__":
    unittest.main()
