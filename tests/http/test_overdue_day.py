"""A hidden danger's deadline is a local date, judged on the day of situd's
[web] timezone, the day the wall's page judges it on: the township
summaries (/townships) and the tiles' aggregates (/tiles) say overdue once
that day is past the deadline, whatever the UTC day is. Two situd over one
store, one in UTC+14 and one in UTC-12 (their days always differ), with H1's
deadline the UTC-12 day: overdue in the first, not yet in the second."""

import gzip
import os
import shutil
import sqlite3
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402
from test_low_zoom import decode  # noqa: E402

EAST, WEST = "Etc/GMT-14", "Etc/GMT+12"  # POSIX signs: UTC+14 and UTC-12
T1 = "431102001"  # holds the hidden danger H1 (feedlib)


class OverdueDayTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-day-")
        cls.db = feedlib.tiny_db(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def set_deadline(self, day):
        with sqlite3.connect(self.db) as con:
            con.execute("UPDATE hazards SET deadline = ? WHERE id = 'H1'", (day,))

    def judged(self, zone):
        """(T1's overdue count in /townships, the overdue the z0 tile counts)
        from a situd in zone."""
        conf = os.path.join(self.tmp, "situd.ini")
        with open(conf, "w", encoding="utf-8") as f:
            f.write("[web]\ntimezone = %s\n" % zone)
        os.chmod(conf, 0o644)
        d = situd.Situd(self.db, "--quiet", "--config", conf)
        try:
            rows = d.get("/townships").json()["townships"]
            listed = [t for t in rows if t["code"] == T1][0]["glance"]["overdue"]
            r = d.get("/tiles/all/0/0/0.mvt", {"Accept-Encoding": "gzip"})
            self.assertEqual(r.status, 200)
            hz = decode(gzip.decompress(r.body)).get("hazards", [])
            tiled = sum(f.get("overdue", 0) for f in hz if "urgent" not in f)
            return listed, tiled
        finally:
            d.stop_cleanly()

    def test_the_deadline_passes_on_the_zones_day(self):
        for _ in range(2):  # once more if the UTC-12 day turned meanwhile
            day = situd.zone_day(WEST)
            self.set_deadline(day)
            east, west = self.judged(EAST), self.judged(WEST)
            if situd.zone_day(WEST) == day:
                break
        self.assertEqual(east, (1, 1), "the deadline %s is past in UTC+14" % day)
        self.assertEqual(west, (0, 0), "the deadline %s is today in UTC-12" % day)

    def test_yesterdays_deadline_is_overdue_everywhere(self):
        self.set_deadline(situd.zone_day(WEST, offset_days=-1))
        self.assertEqual(self.judged(EAST), (1, 1))
        self.assertEqual(self.judged(WEST), (1, 1))


if __name__ == "__main__":
    unittest.main(verbosity=2)
