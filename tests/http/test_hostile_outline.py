"""test_hostile_outline.py: one department's very detailed warning polygon
must not take the map wall down (issue 13, item 2). Against a real situd on
the demo: an alert whose outline is a sawtooth of 200,000 positions (the
accepted maximum, the shape that made the tiles' simplification quadratic
and every later rebuild pay for it again) is accepted, reaches /events, is
drawn on the tiles and listed by /townships/{code} of the township under
it; a small alert posted right after it is published (served, then pushed
on /events by the same rebuild) promptly. The bounds
are liveness bounds, generous by tens of times (the targets are measured by
scripts/bench/publish_http.sh); before issue 13 the small alert had not
arrived after 120 s."""

import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402

BIG_S = 60.0    # the big alert, POST to published (target 1 s)
SMALL_S = 5.0   # the small alert after it, POST answered to published (target 0.2 s)
ROUTE_S = 10.0  # a tile or a township summary over the big alert


def sawtooth(n, lon, lat):
    """A Polygon of n positions (the closing one included): a sawtooth
    south edge of equal teeth, 1e-5 degrees deep, under a 0.1 x 0.02 box."""
    m = n - 3
    pts = [[round(lon + 0.1 * i / (m - 1), 7), round(lat - (1e-5 if i % 2 else 0), 7)]
           for i in range(m)]
    pts += [[lon + 0.1, lat + 0.02], [lon, lat + 0.02], [lon, lat]]
    return {"type": "Polygon", "coordinates": [pts]}


def alert(eid, geom):
    return json.dumps({"events": [{"id": eid, "type": "alert", "event": "rainstorm",
                                   "severity": "red", "geometry": geom}]}).encode()


class HostileOutline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-outline-")
        db = situd.demo_db(cls.tmp)
        cls.token = feedlib.add_token(db, "meteorology")
        cls.d = situd.Situd(db)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def post(self, body):
        hdr = dict(feedlib.auth(self.token), **{"Content-Type": "application/json"})
        r = self.d.request("POST", "/feeds/meteorology/events", body, hdr, timeout=BIG_S)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.json()["results"][0]["status"], "accepted", r.body[:300])

    def published(self, fid, timeout):
        """Seconds until feature fid of alerts is served (it is published,
        then pushed on /events, by the same rebuild), or None."""
        t0 = time.time()
        path = "/collections/alerts/items/" + fid
        ok = feedlib.wait_until(lambda: self.d.get(path).status == 200, timeout, 0.01)
        return time.time() - t0 if ok else None

    def test_a_200000_position_outline_then_a_small_alert(self):
        lon, lat = 111.55, 26.40
        t0 = time.time()
        self.post(alert("saw", sawtooth(200000, lon, lat)))
        self.post(alert("after", sawtooth(7, lon + 0.15, lat + 0.05)))
        small = self.published("meteorology:after", SMALL_S)
        self.assertIsNotNone(small, "the small alert waited over %g s behind the big one"
                             % SMALL_S)
        self.assertIsNotNone(self.published("meteorology:saw", max(0.1, t0 + BIG_S - time.time())))
        # drawn: the z16 tile under its teeth holds the alerts layer
        t = time.time()
        r = self.d.get("/tiles/alerts/16/%d/%d.mvt" % tile(16, lon + 0.05, lat))
        self.assertEqual(r.status, 200)
        self.assertIn(b"meteorology:saw", r.body)
        # listed for the township under it
        code = self.d.get("/locate?lon=%f&lat=%f" % (lon + 0.05, lat + 0.01)).json()
        code = code["township"]["code"]
        s = self.d.get("/townships/" + code)
        self.assertEqual(s.status, 200)
        self.assertIn("meteorology:saw", [a["id"] for a in s.json()["alerts"]])
        self.assertLess(time.time() - t, ROUTE_S)

    def test_changes_reach_events(self):
        sse = feedlib.SSE(self.d.port, timeout=SMALL_S)
        self.post(alert("ev", sawtooth(7, 111.8, 26.3)))
        m = sse.until(lambda m: m["data"]["id"] == "meteorology:ev", SMALL_S)
        sse.close()
        self.assertIsNotNone(m)


def tile(z, lon, lat):
    import math
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    s = math.sin(math.radians(lat))
    y = int((0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n)
    return x, y


if __name__ == "__main__":
    unittest.main()
