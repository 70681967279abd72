"""situd on a store it cannot write (issue 14): a read-only file and a
read-only folder are served read-only, the feeds answering 503 with the
reason and /healthz saying writes are disabled; and while commits fail (a
full disk: the store on a small tmpfs, filled up) /healthz answers 503
"degraded" and /metrics counts it, until a commit succeeds again."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

import feedlib
import situd

USER = situd.SERVICE_USER


def event(n):
    return {"events": [{"id": "obs-%d-%d" % (n, time.time_ns()), "type": "observation",
                        "station": "RG0", "observed_at": feedlib.utc(time.time()),
                        "metric": "rain_1h_mm", "value": 12.5}]}


def give(path):
    """Hands path to the service user, as an operator would."""
    if USER:
        subprocess.run(["chown", "-R", USER + ":", path], check=True)


class ReadOnlyStore(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="situ-ro-")
        os.chmod(self.tmp, 0o755)  # the service user passes through
        self.dir = os.path.join(self.tmp, "store")
        os.mkdir(self.dir)
        src = feedlib.tiny_db(self.tmp)
        self.db = os.path.join(self.dir, "feeds.sqlite")
        shutil.copyfile(src, self.db)
        self.token = feedlib.add_token(self.db, "meteorology")
        give(self.dir)

    def tearDown(self):
        os.chmod(self.dir, 0o755)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def serve_read_only(self, reason):
        d = situd.Situd(self.db, *situd.USER_ARGS) if USER else situd.Situd(self.db, "--quiet")
        try:
            h = d.get("/healthz")
            self.assertEqual(h.status, 200)
            doc = h.json()
            self.assertEqual((doc["status"], doc["writes"]), ("ok", "disabled"))
            self.assertRegex(doc["reason"], reason)
            r = d.post("/feeds/meteorology/events", event(1), headers=feedlib.auth(self.token))
            situd.assert_problem(self, r, 503)
            self.assertRegex(r.json()["detail"], "feeds are not being written: " + reason)
            items = d.get("/collections/resources/items")
            self.assertEqual(items.status, 200)
            self.assertEqual(len(items.json()["features"]), 2)
            self.assertRegex(d.read_log(), "serving read-only, feeds answer 503: " + reason)
        finally:
            d.stop()

    def test_read_only_file(self):
        os.chmod(self.db, 0o444)
        self.serve_read_only(r"\S+/feeds.sqlite is read-only for this user \(uid \d+\): "
                             r"Permission denied")

    def test_read_only_folder(self):
        os.chmod(self.dir, 0o555)
        self.serve_read_only(r"the folder \S+/store is read-only for this user \(uid \d+\), "
                             r"and SQLite must write the store's -wal and -shm there")


class FullDisk(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="situ-full-")
        os.chmod(self.tmp, 0o755)
        self.mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(self.mnt)
        src = feedlib.tiny_db(self.tmp)
        size = os.path.getsize(src) + (4 << 20)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % size, "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode:
            self.skipTest("cannot mount a small tmpfs here: " + r.stderr.strip())
        self.db = os.path.join(self.mnt, "feeds.sqlite")
        shutil.copyfile(src, self.db)
        self.token = feedlib.add_token(self.db, "meteorology")
        give(self.mnt)

    def tearDown(self):
        subprocess.run(["umount", self.mnt])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fill(self):
        """Takes every free byte of the tmpfs; returns the filler's path."""
        path = os.path.join(self.mnt, "filler")
        with open(path, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        return path

    def test_healthz_reports_failing_writes(self):
        d = situd.Situd(self.db)
        try:
            filler = self.fill()
            r = d.post("/feeds/meteorology/events", event(1), headers=feedlib.auth(self.token))
            situd.assert_problem(self, r, 503)
            self.assertIn("nothing was applied, send them again", r.json()["detail"])
            h = d.get("/healthz")
            self.assertEqual(h.status, 503)
            doc = h.json()
            self.assertEqual((doc["status"], doc["writes"]), ("degraded", "failing"))
            self.assertRegex(doc["reason"], "the last commit failed: .*(full|disk)")
            self.assertIn("situd_feed_writes_failing 1", d.get("/metrics").body.decode())
            self.assertEqual(d.get("/collections/resources/items").status, 200)  # reads go on
            os.unlink(filler)
            r = d.post("/feeds/meteorology/events", event(2), headers=feedlib.auth(self.token))
            self.assertEqual(r.status, 200, r.body)
            h = d.get("/healthz")
            self.assertEqual(h.status, 200)
            self.assertEqual((h.json()["status"], h.json()["writes"]), ("ok", "ok"))
            self.assertIn("situd_feed_writes_failing 0", d.get("/metrics").body.decode())
        finally:
            d.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
