"""Every `situ` command on PostgreSQL (issue 17) against a throwaway server
from tests/pg/pgtemp.sh, each compared with the same command on a SpatiaLite
file: init, load --all of the demo, a load that rejects a feature and goes on,
a failed load (which changes nothing: every table's rows hashed before and
after), export (equal after sorting), nearest (identical), token
add/list/revoke and check. No command prints the URL's password. Skipped,
saying so, without PostgreSQL 15.

Run one case: python3 tests/cli/test_commands_pg.py -k NAME"""

import json
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

PGTEMP = os.path.join(HERE, "..", "pg", "pgtemp.sh")
PSQL = "/usr/lib/postgresql/15/bin/psql"
HAVE_PG = os.access("/usr/lib/postgresql/15/bin/initdb", os.X_OK)
DATA = os.path.join(HERE, "..", "data", "load")
COLLECTIONS = ["townships", "risk_zones", "hazards", "hazard_sources", "resources", "stations"]
# rows of every table of the store, hashed in a stable order
STATE_SQL = """SELECT string_agg(format('SELECT %L || '':'' || count(*) || '':'' ||
 coalesce(md5(string_agg(t::text, '','' ORDER BY t::text)), '''') FROM %I t', tablename,
 tablename), ' UNION ALL ' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'"""


def without_times(obj):
    """obj with every updated_at left out (the time each store was loaded)."""
    if isinstance(obj, dict):
        return {k: without_times(v) for k, v in obj.items() if k != "updated_at"}
    if isinstance(obj, list):
        return [without_times(v) for v in obj]
    return obj


@unittest.skipUnless(HAVE_PG, "PostgreSQL 15 is not installed (scripts/setup.sh)")
class CommandsPg(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        out = subprocess.run(["bash", PGTEMP, "start"], check=True, capture_output=True,
                             text=True).stdout.split()
        cls.url, cls.pgdir = out[0], out[1]
        cls.password = cls.url.split("//")[1].split("@")[0].split(":")[1]
        cls.tmp = tempfile.mkdtemp(prefix="situ-cmd-pg-")
        cls.file = os.path.join(cls.tmp, "situ.sqlite")
        cls.outputs = []
        cls.loaded = {}
        for db in (cls.url, cls.file):
            r = cls.situ("init", "--db", db) if db == cls.url else None
            if r is not None:
                assert r.returncode == 0, r.stderr
            cls.loaded[db] = cls.situ("load", "--db", db, "--all", situd.GEODATA)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["bash", PGTEMP, "stop", cls.pgdir], check=False)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def situ(cls, *args):
        r = subprocess.run([situd.SITU] + list(args), capture_output=True, text=True,
                           cwd=cls.tmp)
        cls.outputs.append((args, r.stdout + r.stderr))
        return r

    def both(self, *args):
        """The command on PostgreSQL, then on the file: (r_pg, r_file)."""
        return tuple(self.situ(*[self.db_arg(a, db) for a in args])
                     for db in (self.url, self.file))

    @staticmethod
    def db_arg(a, db):
        return db if a == "{db}" else a

    def pg_state(self):
        sql = subprocess.run([PSQL, "-X", "-At", "-d", self.url, "-c", STATE_SQL],
                             check=True, capture_output=True, text=True).stdout
        return subprocess.run([PSQL, "-X", "-At", "-d", self.url, "-c", sql], check=True,
                              capture_output=True, text=True).stdout

    def test_0_load_all_same_counts(self):
        def stats(r):
            self.assertEqual(r.returncode, 0, r.stderr)
            return [line for line in r.stdout.splitlines() if re.match(r"\w+ +read \d+", line)]
        pg, lite = (stats(self.loaded[db]) for db in (self.url, self.file))
        self.assertEqual(len(pg), len(COLLECTIONS))
        self.assertEqual(pg, lite)
        self.assertIn("resources       read 772, inserted 772", "\n".join(pg))
        self.assertIn("loaded into host=127.0.0.1", self.loaded[self.url].stdout)

    def test_failed_load_changes_nothing(self):
        before = self.pg_state()
        self.assertIn("resources:", before)
        for r in self.both("load", "--db", "{db}", "--collection", "resources",
                           "--accept-outside", "--max-rejected", "20%",
                           os.path.join(DATA, "codes.geojson")):
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("RS-910003\trejected\ttownship_code 431102999 names no township",
                          r.stdout + r.stderr)
            self.assertRegex(r.stderr, r"1 of 3 features were rejected \(more than 20%.*"
                                       r"\(nothing was changed\)")
        self.assertEqual(self.pg_state(), before)

    def test_load_rejecting_one_feature_goes_on(self):
        for r in self.both("load", "--db", "{db}", "--collection", "risk_zones",
                           os.path.join(DATA, "repairs.geojson")):
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("RZ-R-hole\trejected\trepair would change the area", r.stdout)
            self.assertIn("risk_zones      read 2, inserted 1", r.stdout)
        self.assertEqual(*self.exports("risk_zones"))
        self.assertIn("RZ-R-spike", json.dumps(self.exports("risk_zones")[0]))

    def exports(self, coll):
        got = []
        for db in (self.url, self.file):
            out = os.path.join(self.tmp, "%s-%d.geojson" % (coll, len(self.outputs)))
            r = self.situ("export", "--db", db, "--collection", coll, "--out", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, encoding="utf-8") as f:
                feats = json.load(f)["features"]
            got.append(sorted((without_times(x) for x in feats),
                              key=lambda x: x["properties"]["id"]))
        return got

    def test_exports_equal(self):
        for coll in COLLECTIONS:
            pg, lite = self.exports(coll)
            self.assertGreater(len(pg), 100, coll)
            self.assertEqual(pg, lite, coll)

    def test_nearest_identical(self):
        for extra in ([], ["--collection", "stations", "--k", "7"],
                      ["--collection", "hazards", "--max_km", "3"]):
            pg, lite = self.both("nearest", "--db", "{db}", "--lon", "111.61", "--lat",
                                 "26.42", *extra)
            self.assertEqual(pg.returncode, 0, pg.stderr)
            self.assertEqual(lite.returncode, 0, lite.stderr)
            got = without_times(json.loads(pg.stdout))
            self.assertTrue(got["features"], extra)
            self.assertEqual(got, without_times(json.loads(lite.stdout)))

    def test_token_add_list_revoke(self):
        r = self.situ("token", "add", "water_resources", "--label", "河道", "--db", self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        token = r.stdout.split()[0]
        tid = re.search(r"token (\d+) for water_resources", r.stderr).group(1)
        listed = self.situ("token", "list", "--db", self.url).stdout
        row = next(line for line in listed.splitlines() if line.startswith(tid + " "))
        self.assertRegex(row, r"water_resources +[0-9a-f]{16} \S+Z +- +河道")
        self.assertNotIn(token, listed)
        r = self.situ("token", "revoke", tid, "--db", self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = self.situ("token", "list", "--db", self.url).stdout
        row = next(line for line in listed.splitlines() if line.startswith(tid + " "))
        self.assertRegex(row, r"water_resources +[0-9a-f]{16} \S+Z +\S+Z +河道")
        r = self.situ("token", "revoke", tid, "--db", self.url)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no live token with id " + tid, r.stderr)
        r = self.situ("token", "add", "water", "--db", self.url)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no department 'water'", r.stderr)

    def test_check(self):
        pg, lite = self.both("check", "--db", "{db}")
        self.assertEqual(lite.returncode, 0, lite.stderr)
        self.assertEqual(pg.returncode, 0, pg.stderr)
        self.assertRegex(pg.stdout, r"host=127.0.0.1 port=\d+ dbname=situ user=situ: ok "
                                    r"\(schema version \d+\)")
        rows = re.compile(r"^(resources|hazards|townships) +(\d+)", re.M)
        self.assertEqual(rows.findall(pg.stdout), rows.findall(lite.stdout))

    def test_z_no_password_anywhere(self):
        self.assertGreater(len(self.outputs), 5)
        for args, out in self.outputs:
            self.assertNotIn(self.password, out, args)


if __name__ == "__main__":
    unittest.main()
