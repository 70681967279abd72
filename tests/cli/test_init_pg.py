"""`situ init --db postgresql://...` (issue 17) against a throwaway PostgreSQL
from tests/pg/pgtemp.sh: creates the schema, is idempotent, never prints the
URL's password, and on a database holding other tables changes nothing
without --force. Skipped, saying so, without PostgreSQL 15.

Run one case: python3 tests/cli/test_init_pg.py -k NAME"""

import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import situd  # noqa: E402

PGTEMP = os.path.join(HERE, "..", "pg", "pgtemp.sh")
HAVE_PG = os.access("/usr/lib/postgresql/15/bin/initdb", os.X_OK)


@unittest.skipUnless(HAVE_PG, "PostgreSQL 15 is not installed (scripts/setup.sh)")
class InitPg(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        out = subprocess.run(["bash", PGTEMP, "start"], check=True, capture_output=True,
                             text=True).stdout.split()
        cls.url, cls.dir = out[0], out[1]
        cls.password = cls.url.split("//")[1].split("@")[0].split(":")[1]

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["bash", PGTEMP, "stop", cls.dir], check=False)

    def superuser(self, sql, db="situ"):
        port = open(os.path.join(self.dir, "port")).read().strip()
        cmd = ["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At",
               "-h", self.dir, "-p", port, "-U", "postgres", "-d", db, "-c", sql]
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()

    def situ(self, *args):
        return subprocess.run([situd.SITU] + list(args), capture_output=True, text=True)

    def db_url(self, name):
        self.superuser(f"CREATE DATABASE {name} OWNER situ")
        return self.url.rsplit("/", 1)[0] + "/" + name

    def test_init_creates_then_is_idempotent_without_password(self):
        url = self.db_url("fresh")
        for _ in range(2):
            r = self.situ("init", "--db", url)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("schema version 5", r.stdout)
            self.assertIn("host=127.0.0.1", r.stdout)
            self.assertNotIn(self.password, r.stdout + r.stderr)
        self.assertEqual(self.superuser("SELECT count(*) FROM departments", "fresh"), "19")

    def test_non_empty_database_unchanged_without_force(self):
        url = self.db_url("busy")
        self.superuser("CREATE TABLE theirs (a int); ALTER TABLE theirs OWNER TO situ", "busy")
        tables = "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables " \
                 "WHERE schemaname = 'public'"
        before = self.superuser(tables, "busy")
        r = self.situ("init", "--db", url)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no situ schema", r.stderr)
        self.assertIn("--force", r.stderr)
        self.assertNotIn(self.password, r.stdout + r.stderr)
        self.assertEqual(self.superuser(tables, "busy"), before)
        r = self.situ("init", "--db", url, "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("theirs", self.superuser(tables, "busy"))
        self.assertIn("hazards", self.superuser(tables, "busy"))

    def test_unreachable_server_named_without_password(self):
        url = f"postgresql://situ:{self.password}@127.0.0.1:1/situ"
        r = self.situ("init", "--db", url)
        self.assertEqual(r.returncode, 1)
        self.assertIn("host=127.0.0.1 port=1", r.stderr)
        self.assertNotIn(self.password, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
