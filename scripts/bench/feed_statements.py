#!/usr/bin/env python3
"""feed_statements.py: SQL statements the feeds writer sends to PostgreSQL
per feed event (issue 17), counted in the server's log with
log_statement=all on a throwaway server (tests/pg/pgtemp.sh).

  scripts/bench/feed_statements.py [--sizes 1,10,100] [--situ build/situ]
                                   [--situd build/situd]

One situd on the small feeds fixture; for each batch size N it posts one
batch of N readings of stations that exist (a first batch created them),
then counts the statements of the writer's session (the backend that took
the seq lock) between two marks, including BEGIN and COMMIT. Prints per
size: statements per batch and per event. Standard library only."""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))
import feedlib  # noqa: E402
import pgtemp  # noqa: E402
import situd  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"
DEPT = "water_resources"


def admin(pg, sql):
    port = urllib.parse.urlsplit(pg.url).port
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(prefix + [PG_BIN + "/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h",
                             pg.dir, "-p", str(port), "-U", "postgres", "-d", "situ", "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


def batch(n, tag, minute):
    return {"events": [{"id": "%s-%d" % (tag, i), "type": "observation",
                        "station": "S%03d" % (i % 100), "lon": 111.6, "lat": 26.2,
                        "observed_at": "2026-12-07T08:%02d:%02dZ" % (minute, i % 60),
                        "metric": "rain_1h_mm", "value": float(i % 7)} for i in range(n)]}


def log_size(pg):
    return os.path.getsize(os.path.join(pg.dir, "log"))


def writer_statements(pg, start):
    """The statements after byte start of the log, of the backend(s) that
    took the seq lock."""
    with open(os.path.join(pg.dir, "log"), encoding="utf-8", errors="replace") as f:
        f.seek(start)
        lines = [l for l in f.read().splitlines() if re.search(r"LOG:  (statement|execute)", l)]
    pids = {l.split()[0] for l in lines if "pg_advisory_xact_lock" in l}
    return [l for l in lines if l.split()[0] in pids]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,10,100")
    ap.add_argument("--situ", default=os.path.join(ROOT, "build", "situ"))
    ap.add_argument("--situd", default=os.path.join(ROOT, "build", "situd"))
    ap.add_argument("--show", action="store_true", help="print the statements of the last size")
    args = ap.parse_args()
    situd.SITU, situd.SITUD = args.situ, args.situd
    tmp = tempfile.mkdtemp(prefix="situ-feed-statements-")
    os.chmod(tmp, 0o755)
    with pgtemp.PgTemp() as pg:
        url = feedlib.tiny_db(tmp, pg.url)
        token = feedlib.add_token(url, DEPT)
        admin(pg, "ALTER SYSTEM SET log_line_prefix = '%p '")
        admin(pg, "SELECT pg_reload_conf()")
        d = situd.Situd(url)
        try:
            hdr = feedlib.auth(token)
            r = d.post("/feeds/" + DEPT + "/events", batch(100, "warm", 0), hdr)
            assert r.status == 200, r.body
            admin(pg, "ALTER SYSTEM SET log_statement = 'all'")
            admin(pg, "SELECT pg_reload_conf()")
            time.sleep(0.5)
            for k, n in enumerate(int(s) for s in args.sizes.split(",")):
                start = log_size(pg)
                r = d.post("/feeds/" + DEPT + "/events", batch(n, "b%d" % k, k + 1), hdr)
                assert r.status == 200 and r.json()["accepted"] == n, r.body
                time.sleep(0.3)
                st = writer_statements(pg, start)
                print("batch of %4d events: %5d statements, %.2f per event"
                      % (n, len(st), len(st) / n))
            if args.show:
                print("\n".join(re.sub(r"^\S+ \S+ \S+ \S+ ", "", l)[:160] for l in st))
        finally:
            d.stop()


if __name__ == "__main__":
    main()
