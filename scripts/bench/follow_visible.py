#!/usr/bin/env python3
"""follow_visible.py: commit-to-visible on another situd (issue 17), the time
from situd A's 200 to a feed POST (the batch committed) to the change's
message on situd B's /events (B publishes a change only once its snapshot
holds it), both situd on one PostgreSQL store (tests/pg/pgtemp.sh's
throwaway server, or --db URL). Also the same on A itself, and POST send ->
B for reference.

  scripts/bench/follow_visible.py [--events 300] [--gap-ms 20] [--db URL]
                                  [--situ build/situ] [--situd build/situd]

Events are posted one at a time (one observation each), gap-ms apart, so
each figure is one event's latency, not a queue's. Prints p50/p99/max in ms.
Standard library only."""

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def watch(sse, arrived, stop):
    """Records the arrival time of each event id on one /events stream."""
    while not stop.is_set():
        m = sse.next(1.0)
        if m and m["id"] is not None:
            arrived[m["id"]] = time.perf_counter()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--gap-ms", type=float, default=20)
    ap.add_argument("--db", help="a PostgreSQL URL (default: a pgtemp.sh server)")
    ap.add_argument("--situ", default=os.path.join(ROOT, "build", "situ"))
    ap.add_argument("--situd", default=os.path.join(ROOT, "build", "situd"))
    args = ap.parse_args()
    os.environ["SITU_BIN"], os.environ["SITUD_BIN"] = args.situ, args.situd
    import feedlib
    import situd
    import test_follow_pg
    from pgtemp import PgTemp

    pg = None if args.db else PgTemp().start()
    url = args.db or pg.url
    tmp = tempfile.mkdtemp(prefix="situ-follow-bench-")
    daemons = []
    try:
        if not args.db:
            test_follow_pg.load(url, tmp)
        tok = feedlib.add_token(url, "meteorology")
        a, b = (situd.Situd(url, "--quiet", *situd.USER_ARGS) for _ in range(2))
        daemons += [a, b]
        arrived_a, arrived_b, stop = {}, {}, threading.Event()
        streams = [feedlib.SSE(d.port) for d in (a, b)]
        threads = [threading.Thread(target=watch, args=(s, arr, stop), daemon=True)
                   for s, arr in zip(streams, (arrived_a, arrived_b))]
        for t in threads:
            t.start()
        sent, committed = {}, {}
        for i in range(args.events):
            ev = test_follow_pg.reading("bench-%d-%f" % (i, time.time()), float(i))
            ev["lon"], ev["lat"] = 111.61, 26.42  # creates RG0 on a store without it (--db)
            t0 = time.perf_counter()
            r = a.post("/feeds/meteorology/events", {"events": [ev]},
                       headers=feedlib.auth(tok))
            t1 = time.perf_counter()
            if r.status != 200:
                raise SystemExit("POST answered %d: %s" % (r.status, r.body[:200]))
            seq = r.json()["results"][0]["seq"]
            sent[seq], committed[seq] = t0, t1
            time.sleep(args.gap_ms / 1000.0)
        deadline = time.time() + 10
        while time.time() < deadline and (len(arrived_b) < len(sent) or
                                          len(arrived_a) < len(sent)):
            time.sleep(0.05)
        stop.set()
        missing = [s for s in sent if s not in arrived_b]
        if missing:
            raise SystemExit("B never published seqs %s" % missing[:10])
        rows = (("commit (A's 200) -> visible on B", [arrived_b[s] - committed[s] for s in sent]),
                ("commit (A's 200) -> visible on A", [arrived_a[s] - committed[s] for s in sent
                                                      if s in arrived_a]),
                ("POST sent to A -> visible on B", [arrived_b[s] - sent[s] for s in sent]),
                ("POST round trip on A", [committed[s] - sent[s] for s in sent]))
        print("%d events, one per POST, %.0f ms apart" % (len(sent), args.gap_ms))
        for name, xs in rows:
            ms = [max(0.0, x) * 1e3 for x in xs]
            print("%-34s p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms" %
                  (name, pct(ms, 50), pct(ms, 99), max(ms)))
        for s in streams:
            s.close()
    finally:
        for d in daemons:
            d.stop()
        if pg:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
