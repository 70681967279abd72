"""The wall's time zone from situd's config (issue 16): [web] timezone is
served as /web/schema.json's "timezone", which the page reads at start
(daemon/web/i18n.js: setServedZone; ?tz= still wins there); Asia/Shanghai
when the config has none. A value that is not a plausible IANA name (letters,
digits, '/', '_', '-', '+', at most 64 bytes) is refused at start: situd
exits 2 naming the key."""

import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import situd  # noqa: E402


class WebTimezoneTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-tz-")
        cls.db = situd.demo_db(cls.tmp)

    def conf(self, text):
        path = os.path.join(self.tmp, "situd.ini")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, 0o644)
        return path

    def served_zone(self, *args):
        d = situd.Situd(self.db, *args)
        try:
            r = d.get("/web/schema.json")
            self.assertEqual(r.status, 200, r.body[:300])
            doc = r.json()
            self.assertTrue(doc["collections"])  # still the whole schema
            return doc["timezone"]
        finally:
            d.stop_cleanly()

    def test_configured_zone_is_served_where_the_page_reads_it(self):
        conf = self.conf("[web]\ntimezone = Asia/Kolkata\n")
        self.assertEqual(self.served_zone("--config", conf), "Asia/Kolkata")

    def test_default_zone(self):
        self.assertEqual(self.served_zone(), "Asia/Shanghai")

    def test_bad_zone_is_refused_at_start_naming_the_key(self):
        for bad in ("../etc/passwd", "Asia/Kol kata", "Asia/Kolkata<script>", "\"Asia/Kolkata\"",
                    "A" * 65, ""):
            conf = self.conf("[web]\ntimezone = %s\n" % bad)
            r = subprocess.run([situd.SITUD, "--db", self.db, "--listen",
                                "127.0.0.1:%d" % situd.free_port(), "--config", conf],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 2, "%r: %s" % (bad, r.stderr))
            self.assertIn("[web] timezone", r.stderr, repr(bad))


if __name__ == "__main__":
    unittest.main(verbosity=2)
