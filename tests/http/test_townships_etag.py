"""Revalidating the township and county lists against a real situd (#20):
/townships and /counties answer with a strong ETag and Cache-Control:
no-cache; the same ETag in If-None-Match gets 304 and no body; the ETag
changes, and the body with it, when a feed event changes what a township
counts (a hidden danger, an alert) or when time alone does (an alert
expires); pages of other limits or offsets have other ETags, and a page
whose townships did not change keeps its ETag. On feedlib's two townships
(431102001 holds the hidden danger H1, 431102002 nothing); the gzip'd
answer's ETag is in test_compression (these answers are too small to
compress)."""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402
from feedlib import auth, utc, wait_until  # noqa: E402

T1, T2 = "431102001", "431102002"
SQUARE_T1 = {"type": "Polygon", "coordinates": [[[111.01, 26.01], [111.09, 26.01], [111.09, 26.09],
                                                 [111.01, 26.09], [111.01, 26.01]]]}


def row(doc, code):
    return [t for t in doc["townships"] if t["code"] == code][0]


class TownshipsEtagTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-etag-")
        cls.db = feedlib.tiny_db(cls.tmp)
        cls.tok = {d: feedlib.add_token(cls.db, d) for d in ("meteorology", "emergency_management")}
        cls.d = situd.Situd(cls.db, "--quiet")

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def post(self, dept, events):
        r = self.d.post("/feeds/%s/events" % dept, {"events": events}, headers=auth(self.tok[dept]))
        self.assertEqual(r.status, 200, r.body[:400])
        self.assertEqual(r.json()["accepted"], len(events), r.body[:400])

    def get(self, path, etag=None, gzip=False):
        headers = {"If-None-Match": etag} if etag else {}
        if gzip:
            headers["Accept-Encoding"] = "gzip"
        return self.d.get(path, headers=headers)

    def assert_not_modified(self, path, etag, gzip=False, inm=None):
        r = self.get(path, inm or etag, gzip)
        self.assertEqual(r.status, 304, "%s with If-None-Match %s" % (path, inm or etag))
        self.assertEqual(r.body, b"")
        self.assertEqual(r.headers.get("etag"), etag)
        return r

    def tagged(self, path, gzip=False):
        """A 200 answer of path with its ETag and Cache-Control checked."""
        r = self.get(path, gzip=gzip)
        self.assertEqual(r.status, 200, r.body[:400])
        self.assertRegex(r.headers.get("etag", ""), r'^"[0-9a-f]{16}(-gz)?"$')
        self.assertEqual(r.headers.get("cache-control"), "no-cache")
        return r

    def test_same_answer_is_not_modified(self):
        for path in ("/townships", "/townships?limit=1&offset=1", "/counties",
                     "/townships?county=431102"):
            r = self.tagged(path)
            etag = r.headers["etag"]
            self.assertEqual(self.tagged(path).headers["etag"], etag, "the same answer, another ETag")
            self.assert_not_modified(path, etag)
            self.assert_not_modified(path, etag, inm='W/"x", ' + etag)  # one of a list
            self.assertEqual(self.get(path, '"0000000000000000"').status, 200)

    def test_pages_have_their_own_etags(self):
        tags = {p: self.tagged(p).headers["etag"] for p in
                ("/townships", "/townships?limit=1", "/townships?limit=1&offset=1",
                 "/townships?limit=2&offset=1")}
        self.assertEqual(len(set(tags.values())), len(tags), tags)
        # the links name the host asked: another Host, another answer
        other = self.d.get("/townships?limit=1", headers={
            "Host": "wall.example:8080", "If-None-Match": tags["/townships?limit=1"]})
        self.assertEqual(other.status, 200)
        self.assertIn("wall.example:8080", other.body.decode())

    def test_a_hazard_changes_its_page_only(self):
        first, second = "/townships?limit=1", "/townships?limit=1&offset=1"
        r1, r2 = self.tagged(first), self.tagged(second)
        self.assertEqual(row(r1.json(), T1)["glance"]["overdue"], 0)
        self.post("emergency_management", [
            {"id": "etag-h1", "type": "feature_update", "collection": "hazards",
             "feature_id": "H1", "set": {"deadline": "2020-01-01"}}])

        def changed():
            r = self.get(first, r1.headers["etag"])
            return r if r.status == 200 else None
        r = wait_until(changed)
        self.assertIsNotNone(r, "the hidden danger's new deadline never changed the page's ETag")
        self.assertNotEqual(r.headers["etag"], r1.headers["etag"])
        self.assertEqual(row(r.json(), T1)["glance"], {"overdue": 1, "overdue_major": 1,
                                                        "top_risk_level": None})
        self.assert_not_modified(first, r.headers["etag"])
        # the other township counts what it did: its page is not read again
        self.assert_not_modified(second, r2.headers["etag"])
        whole = self.get("/townships", self.tagged("/townships").headers["etag"])
        self.assertEqual(whole.status, 304)
        counties = self.get("/counties")
        self.assertEqual(counties.json()["counties"][0]["glance"]["overdue"], 1)

    def test_an_alert_and_its_expiry_change_the_etag(self):
        before = self.tagged("/townships")
        now = time.time()
        expires = now + 4
        self.post("meteorology", [
            {"id": "etag-al", "type": "alert", "event": "rainstorm", "severity": "红色",
             "onset": utc(now - 60), "expires": utc(expires), "geometry": SQUARE_T1}])

        def with_alert():
            r = self.get("/townships", before.headers["etag"])
            return r if r.status == 200 and row(r.json(), T1)["counts"]["alerts"] == 1 else None
        shown = wait_until(with_alert)
        self.assertIsNotNone(shown, "the alert never changed /townships")
        self.assert_not_modified("/townships", shown.headers["etag"])
        # no event: the alert expires, and the counts with it
        time.sleep(max(0.0, expires + 1.5 - time.time()))
        gone = self.get("/townships", shown.headers["etag"])
        self.assertEqual(gone.status, 200, "an expired alert still counted behind a 304")
        self.assertEqual(row(gone.json(), T1)["counts"]["alerts"], 0)
        self.assertNotEqual(gone.headers["etag"], shown.headers["etag"])

    def test_head_and_a_bad_query_carry_no_etag_trouble(self):
        etag = self.tagged("/townships").headers["etag"]
        r = self.d.request("HEAD", "/townships", headers={"If-None-Match": etag})
        self.assertEqual(r.status, 304)
        bad = self.get("/townships?limit=0", etag)
        situd.assert_problem(self, bad, 400, "limit")
        self.assertNotIn("etag", bad.headers)


if __name__ == "__main__":
    unittest.main(verbosity=2)
