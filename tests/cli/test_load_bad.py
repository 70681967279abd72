"""Bad and tricky inputs to `situ load` and `situ export` (issue 14), one row
per case: each runs the real `situ` binary against a fresh copy of the demo
store and asserts the exit status, the message, and the store's bytes (md5 of
the file and of `sqlite3 .dump`) before and after. Inputs are small files in
tests/data/load/ or written here at test time (the large ones).

Run one case: python3 tests/cli/test_load_bad.py -k NAME"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import situd  # noqa: E402

DATA = os.path.join(HERE, "..", "data", "load")
SITU = situd.SITU


def md5_file(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def store_state(db):
    """(md5 of the file, md5 of its dump, the -wal and -shm that exist)."""
    if not os.path.exists(db):
        return None
    dump = subprocess.run(["sqlite3", "-readonly", db, ".dump"], capture_output=True,
                          check=True).stdout
    side = tuple(s for s in ("-wal", "-shm", "-journal") if os.path.exists(db + s))
    return md5_file(db), hashlib.md5(dump).hexdigest(), side


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)
    return path


# ---- inputs ---------------------------------------------------------------

# (name, args, setup, exit status, message regex, the store unchanged?, check)
# args and the message may name {db}, {dir} (the case's folder) and {data}.
# setup(dir) writes what the case needs; check(test, dir, out) asserts more.

def keep_file(d):
    write(os.path.join(d, "keep.dat"), "keep")


def keeps(name, text):
    def check(t, d, out):
        with open(os.path.join(d, name)) as f:
            t.assertEqual(f.read(), text)
    return check


def absent(*names):
    def check(t, d, out):
        left = [n for n in os.listdir(d) if n in names or ".situ-export-" in n]
        t.assertEqual(left, [])
    return check


def exported(name, count):
    def check(t, d, out):
        info = subprocess.run(["ogrinfo", "-ro", "-so", "-al", os.path.join(d, name)],
                              capture_output=True, text=True, check=True).stdout
        t.assertIn("Feature Count: %d" % count, info)
    return check


EXPORT = ["export", "--db", "{db}", "--collection", "resources"]

CASES = [
    # 1. export never destroys what it writes over
    ("export_over_store", EXPORT + ["-f", "GPKG", "--out", "{db}"], None, 1,
     r"is the store itself", True, None),
    ("export_over_store_forced", EXPORT + ["-f", "GPKG", "--out", "{db}", "--force"], None, 1,
     r"is the store itself", True, None),
    ("export_over_store_by_link", EXPORT + ["--out", "{dir}/link.sqlite", "--force"],
     lambda d: os.symlink(os.path.join(d, "situ.sqlite"), os.path.join(d, "link.sqlite")), 1,
     r"link.sqlite is the store itself", True, None),
    ("export_over_wal", EXPORT + ["--out", "{db}-wal", "--force"],
     lambda d: write(os.path.join(d, "situ.sqlite-wal"), ""), 1, r"is the store itself", True,
     None),
    ("export_failed_keeps_target", EXPORT + ["-f", "OSM", "--out", "{dir}/keep.dat", "--force"],
     keep_file, 1, r"could not write \S*keep.dat as OSM: OSM driver does not support", True,
     keeps("keep.dat", "keep")),
    ("export_existing_needs_force", EXPORT + ["--out", "{dir}/keep.dat"], keep_file, 1,
     r"keep.dat exists; give --force", True, keeps("keep.dat", "keep")),
    ("export_forced_replaces", EXPORT + ["--out", "{dir}/keep.dat", "--force"], keep_file, 0,
     r"772 features written", True, exported("keep.dat", 772)),
    ("export_partial_gpx", ["export", "--db", "{db}", "--collection", "townships", "-f", "GPX",
                            "--out", "{dir}/t.gpx"], None, 1,
     r"could not write \S*t.gpx as GPX: Geometry type", True, absent("t.gpx")),
    ("export_device", EXPORT + ["--out", "/dev/null", "--force"], None, 1,
     r"/dev/null is not a regular file", True, None),
    ("export_no_folder", EXPORT + ["--out", "{dir}/nope/x.geojson"], None, 1,
     r"cannot write in \S*/nope: No such file or directory", True, None),
    ("export_shapefile_sidecar_exists", EXPORT + ["-f", "ESRI Shapefile", "--out", "{dir}/r.shp"],
     lambda d: write(os.path.join(d, "r.dbf"), "mine"), 1, r"r.dbf exists; give --force", True,
     keeps("r.dbf", "mine")),
]


class LoadBadInputs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-loadbad-")
        cls.base = situd.demo_db(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_case(self, name, args, setup, status, message, unchanged, check):
        d = os.path.join(self.tmp, name)
        os.mkdir(d)
        db = os.path.join(d, "situ.sqlite")
        shutil.copyfile(self.base, db)
        if setup:
            setup(d)
        fill = {"db": db, "dir": d, "data": DATA}
        before = store_state(db)
        r = subprocess.run([SITU] + [a.format(**fill) for a in args], capture_output=True,
                           text=True, timeout=600)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, status, out)
        self.assertRegex(out, message.format(**{k: re.escape(v) for k, v in fill.items()}))
        if unchanged:
            self.assertEqual(store_state(db), before, out)
        if check:
            check(self, d, out)
        return out


def make_test(case):
    def test(self):
        self.run_case(*case)
    return test


for _case in CASES:
    setattr(LoadBadInputs, "test_" + _case[0], make_test(_case))

if __name__ == "__main__":
    unittest.main(verbosity=2)
