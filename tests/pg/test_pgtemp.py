"""test_pgtemp.py: tests/pg/pgtemp.sh through its Python twin
(tests/http/pgtemp.py): two servers started at once get their own ports and
folders; `situ` reaches PostGIS over TCP with the URL's password and is not a
superuser; a wrong password is refused; a database `situ` creates has PostGIS;
stop ends the server (its port is free again) and removes its folder, also
when the body raised. Needs postgresql-15 and postgresql-15-postgis-3."""

import os
import socket
import subprocess
import sys
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
from pgtemp import PgTemp  # noqa: E402


def psql(url, sql):
    out = subprocess.run(["psql", "-X", "-At", url, "-c", sql], text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return out.returncode, out.stdout.strip(), out.stderr.strip()


def port_of(url):
    return urllib.parse.urlsplit(url).port


def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class PgTempTest(unittest.TestCase):
    def test_two_servers_at_once(self):
        servers = [PgTemp(), PgTemp()]
        threads = [threading.Thread(target=s.start) for s in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        try:
            a, b = servers
            self.assertNotEqual(port_of(a.url), port_of(b.url))
            self.assertNotEqual(a.dir, b.dir)
            for s in servers:
                rc, out, err = psql(s.url, "SELECT current_user, postgis_lib_version() IS NOT NULL,"
                                           " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")
                self.assertEqual((rc, out), (0, "situ|t|f"), err)
        finally:
            dirs = [s.dir for s in servers]
            for s in servers:
                s.stop()
        for d in dirs:
            self.assertFalse(os.path.exists(d))
        for s in servers:
            self.assertFalse(listening(port_of(s.url)), "a stopped server still listens")

    def test_password_new_database_and_stop_on_error(self):
        with self.assertRaises(RuntimeError):
            with PgTemp() as pg:
                folder, url = pg.dir, pg.url
                wrong = url.replace(":" + urllib.parse.urlsplit(url).password + "@", ":wrong@")
                rc, _, err = psql(wrong, "SELECT 1")
                self.assertNotEqual(rc, 0)
                self.assertIn("password authentication failed", err)
                other = pg.new_database("t1")
                rc, out, err = psql(other, "SELECT current_database(), postgis_lib_version() IS NOT NULL")
                self.assertEqual((rc, out), (0, "t1|t"), err)
                raise RuntimeError("the body fails")
        self.assertFalse(os.path.exists(folder))
        self.assertFalse(listening(port_of(url)))


if __name__ == "__main__":
    unittest.main(verbosity=2)
