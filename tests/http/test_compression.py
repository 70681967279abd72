"""Compressed answers against a real situd on the demo data: every JSON route
answers gzip when asked (and only then), the same bytes once gunzipped,
with Vary: Accept-Encoding; small answers go as they are; exports stream
compressed (chunked, no Content-Length) and gunzip to the plain export; the
township pages' ETags name the gzip'd bytes apart (#20)."""

import re
import zlib
import http.client
import math
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import situd  # noqa: E402

GZ = {"Accept-Encoding": "gzip"}
SMALL = 1024  # situd's threshold: smaller answers are not compressed


def one_gzip_member(test, body):
    """What body inflates to, asserting it is one gzip member with nothing
    after it: what curl and browsers read whole (Python's gzip.decompress
    would also read further members, which Chromium drops and curl fails on)."""
    z = zlib.decompressobj(16 + 15)
    raw = z.decompress(body)
    test.assertTrue(z.eof, "the gzip member is cut short")
    test.assertEqual(z.unused_data, b"", "bytes after the first gzip member")
    return raw


class CompressionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-gz-")
        cls.db = situd.demo_db(cls.tmp)
        cls.d = situd.Situd(cls.db)
        hz = cls.d.get("/collections/hazards/items?limit=1").json()["features"][0]
        cls.code = hz["properties"]["township_code"]
        cls.hazard = hz["id"]

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()

    def json_paths(self):
        c = self.code
        return [
            "/?f=json", "/conformance", "/api", "/collections", "/collections/hazards",
            "/collections/hazards/items?limit=100", "/collections/hazards/items/" + self.hazard,
            "/townships", "/townships?limit=10", "/townships/" + c, "/counties",
            "/locate?lon=111.61&lat=26.42", "/tiles/all.json", "/feeds", "/healthz",
            "/nearest?lon=111.61&lat=26.42&collection=resources&k=50",
            "/within?lon=111.61&lat=26.42&radius_m=20000&collection=hazards",
            "/export/hazards.geojson?township=" + c,
            "/collections/nope/items",  # a problem+json answer
        ]

    def same_after_gunzip(self, path):
        """The plain answer, and the gzip one (asked right after): their bodies
        match once gunzipped (one more plain answer covers a second boundary
        in a timestamp)."""
        plain = self.d.get(path)
        zipped = self.d.get(path, GZ)
        again = self.d.get(path)
        self.assertEqual(zipped.status, plain.status, path)
        self.assertEqual(zipped.ctype, plain.ctype, path)
        self.assertNotIn("content-encoding", plain.headers, path)
        return plain, zipped, again

    def test_every_json_route_gzips_when_asked(self):
        big = 0
        for path in self.json_paths():
            plain, zipped, again = self.same_after_gunzip(path)
            if plain.status == 200:  # problems are small: never compressed, no Vary
                self.assertEqual(plain.headers.get("vary"), "Accept-Encoding", path)
                self.assertEqual(zipped.headers.get("vary"), "Accept-Encoding", path)
            if len(plain.body) < SMALL:
                self.assertNotIn("content-encoding", zipped.headers, path)
                self.assertTrue(zipped.body in (plain.body, again.body), path)
                continue
            big += 1
            self.assertEqual(zipped.headers.get("content-encoding"), "gzip", path)
            self.assertLess(len(zipped.body), len(plain.body), path)
            if "content-length" in zipped.headers:
                self.assertEqual(int(zipped.headers["content-length"]), len(zipped.body), path)
            self.assertTrue(one_gzip_member(self, zipped.body) in (plain.body, again.body), path)
        self.assertGreaterEqual(big, 10)  # most of them are worth it

    def test_not_compressed_unless_asked(self):
        for headers in ({}, {"Accept-Encoding": "identity"}, {"Accept-Encoding": "gzip;q=0"},
                        {"Accept-Encoding": "br, deflate"}):
            for path in ("/townships", "/api", "/collections/hazards/items?limit=100",
                         "/export/hazards.geojson"):
                r = self.d.get(path, headers)
                self.assertEqual(r.status, 200, (path, headers))
                self.assertNotIn("content-encoding", r.headers, (path, headers))
                r.json()  # plain JSON text

    def test_export_streams_compressed(self):
        path = "/export/hazards.geojson"
        plain = self.d.get(path)
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=30)
        conn.request("GET", path, headers=GZ)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.getheader("Content-Encoding"), "gzip")
        self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
        self.assertIsNone(resp.getheader("Content-Length"))
        self.assertIn("attachment", resp.getheader("Content-Disposition", ""))
        body = b""
        while True:  # read it slowly, in small pieces
            piece = resp.read(16384)
            if not piece:
                break
            body += piece
        conn.close()
        self.assertLess(len(body), len(plain.body) // 2)
        # generated_at is each answer's own clock: two requests may straddle a second
        stamp = re.compile(rb'"generated_at":"[^"]*"')
        # one member for the whole stream (a member per piece: Chromium reads the first only)
        self.assertEqual(stamp.sub(b"", one_gzip_member(self, body)), stamp.sub(b"", plain.body))
        drill = "/export/drill.geojson?townships=" + self.code
        z = self.d.get(drill, GZ)
        self.assertEqual(z.headers.get("content-encoding"), "gzip")
        doc = situd.json.loads(one_gzip_member(self, z.body))
        self.assertEqual(doc["townships"], [self.code])

    def test_metrics_gzip(self):
        m = self.d.get("/metrics", GZ)  # counters move between two answers
        self.assertEqual(m.headers.get("content-encoding"), "gzip")
        self.assertTrue(one_gzip_member(self, m.body).startswith(b"# HELP situd_requests_total"))

    def test_large_answers_gzip_whole(self):
        # the largest answers of the demo (MBs: many 64 KiB pieces of a
        # stream, or one buffer in one call), each one member inflating to
        # the plain answer, and the web page's files (gzip copies kept)
        paths = ["/collections/%s/items?limit=10000" % c for c in ("hazards", "risk_zones")]
        paths += ["/export/risk_zones.geojson", "/export/hazards.geojson"]
        stamp = re.compile(rb'"(generated_at|timeStamp)":"[^"]*"')  # the clock of each answer
        for path in paths:
            plain, zipped = self.d.get(path), self.d.get(path, GZ)
            self.assertEqual(plain.status, 200, path)
            self.assertGreater(len(plain.body), 1 << 20, path)
            self.assertEqual(zipped.headers.get("content-encoding"), "gzip", path)
            self.assertLess(len(zipped.body), len(plain.body) // 3, path)
            self.assertEqual(stamp.sub(b"", one_gzip_member(self, zipped.body)),
                             stamp.sub(b"", plain.body), path)
        web = self.d.get("/web/schema.json"), self.d.get("/web/schema.json", GZ)
        self.assertEqual(web[1].headers.get("content-encoding"), "gzip")
        self.assertEqual(one_gzip_member(self, web[1].body), web[0].body)

    def test_township_pages_etag_their_bytes_before_gzip(self):
        """#20: the gzip'd /townships is another representation ("tag-gz"),
        of the same bytes: either tag in If-None-Match gets 304, no body."""
        for path in ("/townships?limit=100", "/counties"):
            plain = self.d.get(path)
            zipped = self.d.get(path, GZ)
            self.assertEqual(zipped.headers.get("content-encoding"), "gzip", path)
            etag = plain.headers.get("etag", "")
            self.assertRegex(etag, r'^"[0-9a-f]{16}"$', path)
            self.assertEqual(zipped.headers.get("etag"), etag[:-1] + '-gz"', path)
            for tag in (etag, zipped.headers["etag"]):
                r = self.d.get(path, dict(GZ, **{"If-None-Match": tag}))
                self.assertEqual((r.status, r.body), (304, b""), path)
                self.assertEqual(r.headers.get("etag"), zipped.headers["etag"], path)
                r = self.d.get(path, {"If-None-Match": tag})
                self.assertEqual((r.status, r.headers.get("etag")), (304, etag), path)

    def test_head_and_tiles_keep_their_own_headers(self):
        r = self.d.request("HEAD", "/townships", headers=GZ)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("content-encoding"), "gzip")
        self.assertEqual(r.body, b"")

    def tile_path(self, z):
        """The `all` tile at zoom z holding the first hazard (several pieces)."""
        hz = self.d.get("/collections/hazards/items?limit=1").json()["features"][0]
        lon, lat = hz["geometry"]["coordinates"]
        x = int((lon + 180) / 360 * 2 ** z)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2 ** z)
        return "/tiles/all/%d/%d/%d.mvt" % (z, x, y)

    def assertOneGzipMember(self, body, raw):
        self.assertEqual(one_gzip_member(self, body), raw)

    def test_a_cache_of_no_room_cuts_every_tile_and_answers_the_same(self):
        # [tiles] cache_mb = 0: every answer is a miss, raw and gzip alike
        db, conf = situd.demo_with_config("[tiles]\ncache_mb = 0\n")
        d = situd.Situd(db, "--config", conf)
        try:
            path = self.tile_path(12)
            want = self.d.get(path)
            self.assertEqual(want.status, 200)
            for _ in range(2):
                plain, zipped = d.get(path), d.get(path, GZ)
                self.assertEqual(plain.body, want.body)
                self.assertEqual(plain.headers["etag"], want.headers["etag"])
                self.assertEqual(zipped.headers.get("content-encoding"), "gzip")
                self.assertOneGzipMember(zipped.body, want.body)
            metrics = d.get("/metrics").body.decode()
            self.assertIn('situd_tile_cache{what="hits"} 0\n', metrics)
            self.assertIn('situd_tile_cache{what="entries"} 0\n', metrics)
        finally:
            d.stop_cleanly()

    def test_a_tile_first_sent_raw_then_gzip_is_the_same_tile(self):
        # the tile cache compresses a tile on its first gzip answer only
        path = self.tile_path(13)
        plain = self.d.get(path)
        self.assertEqual(plain.status, 200)
        self.assertNotIn("content-encoding", plain.headers)
        zipped = self.d.get(path, GZ)
        self.assertEqual(zipped.headers.get("content-encoding"), "gzip")
        self.assertOneGzipMember(zipped.body, plain.body)
        self.assertEqual(zipped.headers["etag"], plain.headers["etag"][:-1] + '-gz"')
        again = self.d.get(path, dict(GZ, **{"If-None-Match": zipped.headers["etag"]}))
        self.assertEqual(again.status, 304)
        self.assertEqual(self.d.get(path, GZ).body, zipped.body)  # kept, not made again


if __name__ == "__main__":
    unittest.main()
