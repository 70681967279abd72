#!/usr/bin/env python3
"""restart_after_feeds.py: how long situd takes to answer again after a clean
stop (SIGTERM) that followed feed events (#20), from DB.snap written at that
stop, and cold (DB.snap removed before the start: what every restart after a
feed was before the stop wrote the file). Usage:
  scripts/bench/restart_after_feeds.py DB [--passes N]
DB is a SpatiaLite store with townships and resources (e.g. situ demo
--scale 10, then situ load --all); it gets a reserves token and feed events."""

import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "http"))
import feedlib  # noqa: E402
import situd  # noqa: E402


def feed_then_stop(db, token, n):
    """Starts situd, posts a feature update, stops it; the stop's seconds."""
    d = situd.Situd(db)
    rid = d.get("/collections/resources/items?limit=1").json()["features"][0]["id"]
    ev = [{"id": "bench-%d-%d" % (os.getpid(), n), "type": "feature_update",
           "collection": "resources", "feature_id": rid, "set": {"personnel": n}}]
    r = d.post("/feeds/reserves/events", {"events": ev}, feedlib.auth(token))
    assert r.json()["results"][0]["status"] == "accepted", r.body
    assert feedlib.wait_until(lambda: b'"personnel":%d' % n in d.get(
        "/collections/resources/items/" + rid).body)
    t0 = time.monotonic()
    d.stop_cleanly(timeout=120)
    return time.monotonic() - t0, d.read_log()


def start(db):
    """Starts situd; seconds to its first answer, and how it loaded."""
    t0 = time.monotonic()
    d = situd.Situd(db)
    took = time.monotonic() - t0
    log = d.read_log()
    d.stop_cleanly(timeout=120)
    how = "file" if "snapshot read back" in log else "cold"
    return took, how, float(re.search(r"loaded .* in ([0-9.]+) s", log).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--passes", type=int, default=3)
    a = ap.parse_args()
    token = feedlib.add_token(a.db, "reserves")
    res = {"file": [], "cold": [], "stop": [], "file snapshot": [], "cold snapshot": []}
    for n in range(a.passes):
        for cold in (False, True):
            stop_s, log = feed_then_stop(a.db, token, 1000 + 2 * n + cold)
            res["stop"].append(stop_s)
            if cold:
                os.unlink(a.db + ".snap")
            took, how, load_s = start(a.db)
            assert how == ("cold" if cold else "file"), log
            res[how].append(took)
            res[how + " snapshot"].append(load_s)
            print("pass %d %s: stop %.2f s, start to first answer %.2f s, snapshot %.2f s (%s)" % (
                n, how, stop_s, took, load_s, re.findall(r"snapshot file .*", log)[-1]), flush=True)
    for k, v in res.items():
        print("%s: median %.2f s, min %.2f s, max %.2f s over %d" % (
            k, statistics.median(v), min(v), max(v), len(v)))


if __name__ == "__main__":
    main()
