"""The tile budget at ten cities (#20): `situ demo --scale 10` (18,200
townships' worth of features around Yongzhou, roads included) loaded with
the real `situ load`, served by a real situd; a fixed sample of tiles from z3
to z14 (the column over Yongzhou and its neighbours at every zoom) must each
be at most 500 KB gzip-compressed (Mapbox's guideline; MapLibre stalls on
larger), and the low zooms must carry the counties and the aggregates that
keep them small. Sizes are printed for the record."""

import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import situd  # noqa: E402
from test_low_zoom import decode  # noqa: E402

BUDGET = 500 * 1000
SCALE = 10


def tile_at(z, lon, lat):
    n = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def sample():
    """Per zoom 3..14: the tile over Yongzhou's centre and its eight neighbours."""
    out = []
    for z in range(3, 15):
        x, y = tile_at(z, 111.6, 26.4)
        out += ["%d/%d/%d" % (z, x + dx, y + dy) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return out


class TileBudgetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-budget-")
        demo, db = os.path.join(cls.tmp, "demo"), os.path.join(cls.tmp, "situ.sqlite")
        subprocess.run([situd.SITU, "demo", "--out", demo, "--scale", str(SCALE)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([situd.SITU, "load", "--db", db, "--all", demo], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(demo)
        situd.hand_over(db)
        cls.d = situd.Situd(db)

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_every_sampled_tile_within_budget(self):
        worst = {}
        for zxy in sample():
            r = self.d.get("/tiles/all/%s.mvt" % zxy, {"Accept-Encoding": "gzip"})
            self.assertIn(r.status, (200, 204), zxy)
            n = len(r.body) if r.status == 200 else 0
            z = int(zxy.split("/")[0])
            if n >= worst.get(z, (0, ""))[0]:
                worst[z] = (n, zxy)
            self.assertLessEqual(n, BUDGET, "%s is %d bytes gzip" % (zxy, n))
        print("largest gzip tile per zoom: " + ", ".join(
            "z%d %s %d B" % (z, worst[z][1], worst[z][0]) for z in sorted(worst)), file=sys.stderr)

    def test_low_zooms_carry_counties_and_aggregates(self):
        import gzip
        r = self.d.get("/tiles/all/5/25/13.mvt", {"Accept-Encoding": "gzip"})
        t = decode(gzip.decompress(r.body))
        self.assertNotIn("townships", t)
        self.assertGreaterEqual(len(t["counties"]), 13 * 2)
        # aggregates, and the urgent marks of the overdue hidden dangers on top (#20)
        self.assertTrue(all(f.get("cluster") or "urgent" in f for f in t["hazards"]))
        self.assertTrue(any("urgent" in f for f in t["hazards"]))


if __name__ == "__main__":
    unittest.main()
