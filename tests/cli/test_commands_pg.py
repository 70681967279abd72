"""Every `situ` command on PostgreSQL (issue 17) against a throwaway server
from tests/pg/pgtemp.sh, each compared with the same command on a SpatiaLite
file: init, load --all of the demo, a load that rejects a feature and goes on,
a failed load (which changes nothing: every table's rows hashed before and
after), export (equal after sorting), nearest (identical), token
add/list/revoke and check. No command prints the URL's password. Then
`situ migrate`: a file with feed events (an alert, a closure) and tokens to
PostgreSQL and back reads the same. Skipped, saying so, without PostgreSQL 15.

Run one case: python3 tests/cli/test_commands_pg.py -k NAME"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import feedlib  # noqa: E402
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


SERVER = {}


def setUpModule():
    if HAVE_PG:
        out = subprocess.run(["bash", PGTEMP, "start"], check=True, capture_output=True,
                             text=True).stdout.split()
        SERVER["url"], SERVER["dir"] = out[0], out[1]


def tearDownModule():
    if "dir" in SERVER:
        subprocess.run(["bash", PGTEMP, "stop", SERVER["dir"]], check=False)


def psql(url, sql):
    return subprocess.run([PSQL, "-X", "-At", "-d", url, "-c", sql], check=True,
                          capture_output=True, text=True).stdout


def pg_state(url):
    """Every table's name, row count and rows' hash."""
    return psql(url, psql(url, STATE_SQL))


def new_database(name):
    psql(SERVER["url"], "CREATE DATABASE " + name)
    return SERVER["url"].rsplit("/", 1)[0] + "/" + name


def in_parallel(calls):
    """The results of calls (functions of no argument) run on two threads, in order:
    the `situ` processes they start wait on PostgreSQL or the disk as much as they run."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda call: call(), calls))


def sqlite(db, sql):
    return subprocess.run(["sqlite3", db, sql], check=True, capture_output=True,
                          text=True).stdout


class PgCase(unittest.TestCase):
    """Runs `situ` in cls.tmp and keeps every output for the password check."""

    @classmethod
    def situ(cls, *args):
        r = subprocess.run([situd.SITU] + list(args), capture_output=True, text=True,
                           cwd=cls.tmp)
        cls.outputs.append((args, r.stdout + r.stderr))
        return r

    def assert_no_password(self):
        password = SERVER["url"].split("//")[1].split("@")[0].split(":")[1]
        self.assertGreater(len(self.outputs), 3)
        for args, out in self.outputs:
            self.assertNotIn(password, out, args)


@unittest.skipUnless(HAVE_PG, "PostgreSQL 15 is not installed (scripts/setup.sh)")
class CommandsPg(PgCase):
    @classmethod
    def setUpClass(cls):
        cls.url = SERVER["url"]
        cls.tmp = tempfile.mkdtemp(prefix="situ-cmd-pg-")
        cls.file = os.path.join(cls.tmp, "situ.sqlite")
        cls.outputs = []
        r = cls.situ("init", "--db", cls.url)
        assert r.returncode == 0, r.stderr
        cls.loaded = dict(zip((cls.url, cls.file), in_parallel(
            [lambda db=db: cls.situ("load", "--db", db, "--all", situd.GEODATA)
             for db in (cls.url, cls.file)])))
        if cls.loaded[cls.file].returncode == 0:  # the demo as loaded, for MigratePg
            situd.keep_demo_db(cls.file)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def both(self, *args):
        """The command on PostgreSQL and on the file, at once: (r_pg, r_file)."""
        return tuple(in_parallel([lambda db=db: self.situ(*[self.db_arg(a, db) for a in args])
                                  for db in (self.url, self.file)]))

    @staticmethod
    def db_arg(a, db):
        return db if a == "{db}" else a

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
        before = pg_state(self.url)
        self.assertIn("resources:", before)
        for r in self.both("load", "--db", "{db}", "--collection", "resources",
                           "--accept-outside", "--max-rejected", "20%",
                           os.path.join(DATA, "codes.geojson")):
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("RS-910003\trejected\ttownship_code 431102999 names no township",
                          r.stdout + r.stderr)
            self.assertRegex(r.stderr, r"1 of 3 features were rejected \(more than 20%.*"
                                       r"\(nothing was changed\)")
        self.assertEqual(pg_state(self.url), before)

    def test_load_rejecting_one_feature_goes_on(self):
        for r in self.both("load", "--db", "{db}", "--collection", "risk_zones",
                           os.path.join(DATA, "repairs.geojson")):
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("RZ-R-hole\trejected\trepair would change the area", r.stdout)
            self.assertIn("risk_zones      read 2, inserted 1", r.stdout)
        self.assertEqual(*self.exports("risk_zones"))
        self.assertIn("RZ-R-spike", json.dumps(self.exports("risk_zones")[0]))

    def exports(self, coll):
        """Collection coll exported from PostgreSQL and from the file (at once),
        each sorted by id without the load times: [pg, file]."""
        return [sorted((without_times(x) for x in feats), key=lambda x: x["properties"]["id"])
                for feats in in_parallel([lambda db=db: export_features(self, db, coll, self.tmp)
                                          for db in (self.url, self.file)])]

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
        self.assert_no_password()


def export_features(test, db, coll, tmp):
    """The features of collection coll of db, exported to GeoJSON by `situ export`."""
    out = tempfile.mktemp(prefix="%s-" % coll, suffix=".geojson", dir=tmp)
    r = test.situ("export", "--db", db, "--collection", coll, "--out", out)
    test.assertEqual(r.returncode, 0, r.stderr)
    with open(out, encoding="utf-8") as f:
        return json.load(f)["features"]


def export_all(test, db, tmp):
    """Every collection of db exported to GeoJSON, as parsed JSON, by name."""
    colls = COLLECTIONS + ["alerts"]
    feats = in_parallel([lambda c=c: export_features(test, db, c, tmp) for c in colls])
    return {c: sorted(f, key=lambda x: x["properties"]["id"]) for c, f in zip(colls, feats)}


# the rows of the side tables as sqlite3 prints them (geometry as SpatiaLite's blob)
SIDE_ROWS = ["SELECT * FROM event_log ORDER BY seq", "SELECT * FROM tokens ORDER BY id",
             "SELECT fid, id, dept, reason, until, radius_m, created_at, updated_at, ended_at, "
             "hex(geom) FROM road_closures ORDER BY fid",
             "SELECT * FROM resource_items ORDER BY resource_id, item",
             "SELECT * FROM departments ORDER BY code", "SELECT * FROM items ORDER BY code"]
SQUARE = {"type": "Polygon", "coordinates": [[[111.60, 26.41], [111.62, 26.41],
                                              [111.62, 26.43], [111.60, 26.43],
                                              [111.60, 26.41]]]}


@unittest.skipUnless(HAVE_PG, "PostgreSQL 15 is not installed (scripts/setup.sh)")
class MigratePg(PgCase):
    """situ migrate: the demo file plus feed events to PostgreSQL and back."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-migrate-pg-")
        cls.outputs = []
        cls.file = situd.demo_db(cls.tmp)
        tokens = {d: feedlib.add_token(cls.file, d) for d in ("meteorology", "transport")}
        subprocess.run([situd.SITU, "token", "revoke", "1", "--db", cls.file], check=True,
                       capture_output=True)
        tokens["meteorology"] = feedlib.add_token(cls.file, "meteorology")
        d = situd.Situd(cls.file)
        try:
            now = time.time()
            for dept, ev in (("meteorology", {"id": "al-1", "type": "alert",
                                              "event": "rainstorm", "severity": "red",
                                              "onset": feedlib.utc(now - 60),
                                              "expires": feedlib.utc(now + 86400),
                                              "geometry": SQUARE}),
                             ("transport", {"id": "cl-1", "type": "closure", "reason": "漫水",
                                            "geometry": SQUARE}),
                             ("transport", {"id": "cl-2", "type": "closure", "reason": "塌方",
                                            "radius_m": 300, "geometry": {
                                                "type": "Point", "coordinates": [111.6, 26.4]}})):
                r = d.post("/feeds/%s/events" % dept, {"events": [ev]},
                           headers=feedlib.auth(tokens[dept]))
                assert r.status == 200 and r.json()["results"][0]["status"] == "accepted", r.body
        finally:
            d.stop_cleanly()
        cls.url = new_database("migrated")
        cls.there = cls.situ("migrate", "--from", cls.file, "--to", cls.url)
        cls.back = os.path.join(cls.tmp, "back.sqlite")
        cls.again = cls.situ("migrate", "--from", cls.url, "--to", cls.back)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_round_trip_reads_the_same(self):
        for r in (self.there, self.again):
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"event_log +3 rows\ntokens +3 rows\n"
                                       r"road_closures +2 rows\nmigrated ")
        self.assertIn("resources        772 rows", self.there.stdout)
        for sql in SIDE_ROWS:
            self.assertEqual(sqlite(self.back, sql), sqlite(self.file, sql), sql)
        self.assertIn("|漫水|", sqlite(self.back, SIDE_ROWS[2]))
        exports = [export_all(self, db, self.tmp) for db in (self.file, self.url, self.back)]
        self.assertEqual(len(exports[0]["alerts"]), 1)
        self.assertEqual(exports[1], exports[0])
        self.assertEqual(exports[2], exports[0])

    def test_keys_go_on_after_the_copied_ones(self):
        r = self.situ("token", "add", "health", "--db", self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("token 4 for health", r.stderr)
        self.assertEqual(psql(self.url, "SELECT nextval(pg_get_serial_sequence("
                                        "'event_log', 'seq'))").strip(), "4")

    def test_non_empty_destination_unchanged_without_force(self):
        before = pg_state(self.url)
        r = self.situ("migrate", "--from", self.back, "--to", self.url)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"the destination is not empty \(\w+ holds \d+ rows\): "
                                   r"give --force.*\(nothing was changed\)")
        self.assertEqual(pg_state(self.url), before)
        r = self.situ("migrate", "--from", self.file, "--to", self.back, "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sqlite(self.back, SIDE_ROWS[1]), sqlite(self.file, SIDE_ROWS[1]))

    def test_z_no_password_anywhere(self):
        self.assert_no_password()


if __name__ == "__main__":
    unittest.main()
