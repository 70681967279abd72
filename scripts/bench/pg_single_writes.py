#!/usr/bin/python3
"""pg_single_writes.py: durable events/s through situd POSTs on ONE PostgreSQL
server (no standby), the middle figure between SpatiaLite and the Patroni
cluster of cluster_bench.py (issue 17), with the same load: N departments
posting batches of new observations, each answer after the COMMIT.

  scripts/bench/pg_single_writes.py --demo DIR [--seconds 10] [--clients 4]
      [--batch 10] [--situ build/situ] [--situd build/situd]

The server is a tests/pg/pgtemp.sh one on disk (PGTEMP_ROOT=/tmp, not
/dev/shm) with pgtemp's speed settings undone: fsync, full_page_writes and
synchronous_commit on, so that a 200 means the commit is on disk (situd's
remote_apply is a local flush without a standby). DIR is a `situ demo`
folder, loaded with `situ load --all`. Run by Debian's python3 (psycopg2,
for cluster_bench's helpers)."""

import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_bench  # noqa: E402 (events_per_s, DEPTS)
from feed_statements import admin  # noqa: E402
import pgtemp  # noqa: E402
import situd  # noqa: E402

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--situ", default=os.path.join(ROOT, "build", "situ"))
    ap.add_argument("--situd", default=os.path.join(ROOT, "build", "situd"))
    args = ap.parse_args()
    situd.SITU, situd.SITUD = args.situ, args.situd
    os.environ["PGTEMP_ROOT"] = "/tmp"
    with pgtemp.PgTemp() as pg:
        for sql in ("ALTER SYSTEM SET fsync = on", "ALTER SYSTEM SET full_page_writes = on",
                    "ALTER SYSTEM SET synchronous_commit = on", "SELECT pg_reload_conf()"):
            admin(pg, sql)
        subprocess.run([args.situ, "load", "--db", pg.url, "--all", args.demo], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tokens = {d: subprocess.run([args.situ, "token", "add", d, "--db", pg.url], check=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                  .stdout.decode().strip() for d in cluster_bench.DEPTS}
        d = situd.Situd(pg.url, "--quiet")
        try:
            k0 = int(time.time()) * 10**9
            cluster_bench.events_per_s((d.port,), tokens, args, "PostgreSQL", k0)
        finally:
            d.stop()


if __name__ == "__main__":
    main()
