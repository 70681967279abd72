"""pgtemp.py: a throwaway PostgreSQL 15 + PostGIS 3 server for the HTTP suites,
as a context manager over tests/pg/pgtemp.sh (which does the work, so that the
shell and Python tests get the same server):

    with PgTemp() as pg:
        pg.url      # postgresql://situ:PASSWORD@127.0.0.1:PORT/situ
        pg.dir      # its folder (pg.dir/log is the server's log)
        pg.new_database("t1")  # a URL to a fresh database with PostGIS

The server is stopped and its folder removed on exit, also when the body
raises. Standard library only; `psql` (postgresql-client-15) for new_database."""

import os
import subprocess
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
PGTEMP_SH = os.path.join(HERE, "..", "pg", "pgtemp.sh")


class PgTemp:
    """One temporary server; start() / stop() or `with`."""

    def __init__(self):
        self.url = None
        self.dir = None

    def start(self):
        out = subprocess.run([PGTEMP_SH, "start"], check=True, text=True,
                             stdout=subprocess.PIPE).stdout.splitlines()
        self.url, self.dir = out[0], out[1]
        return self

    def stop(self):
        if self.dir:
            subprocess.run([PGTEMP_SH, "stop", self.dir], check=True)
            self.dir = None

    def new_database(self, name):
        """Creates database `name` (owned by `situ`, PostGIS in it from
        template1) and returns its URL."""
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.url,
                        "-c", 'CREATE DATABASE "%s"' % name.replace('"', '""')],
                       check=True)
        parts = urllib.parse.urlsplit(self.url)
        return urllib.parse.urlunsplit(parts._replace(path="/" + name))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
