#!/usr/bin/env python3
"""closures_bench.py: how soon a road closure is in the answers, against a
real situd on tests/http/test_closures.py's river network (two banks, a
near bridge, a far one, a depot on each bank).

  scripts/bench/closures_bench.py [--trials 50] [--gap 0.3] [--situ build/situ]
                                  [--situd build/situd]

Each trial POSTs a closure over the near bridge, then asks /nearest by road
back to back on one kept-alive connection until the near bank's depot is
the answer (the closure is in force), then ends it the same way, --gap
seconds after each (0: back to back, so each change falls within the
publisher's 100 ms between rebuilds and waits for it). Printed:
p50/p99/max of the acknowledgement -> first answer that reflects it (ms),
for closures and for ends, and of one /nearest (the polling step). The
issue's target is 200 ms. Standard library only."""

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--gap", type=float, default=0.3)
    ap.add_argument("--situ", default=os.path.join(ROOT, "build", "situ"))
    ap.add_argument("--situd", default=os.path.join(ROOT, "build", "situd"))
    a = ap.parse_args()
    os.environ["SITU_BIN"], os.environ["SITUD_BIN"] = a.situ, a.situd
    import feedlib  # noqa: E402 (after SITU_BIN is set)
    import situd  # noqa: E402
    import test_closures as tc  # noqa: E402

    tmp = tempfile.mkdtemp(prefix="situ-closures-bench-")
    db = tc.river_db(tmp)
    token = feedlib.add_token(db, "transport")
    d = situd.Situd(db)
    post = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    get = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
    step_ms = []

    def nearest():
        t0 = time.perf_counter()
        get.request("GET", tc.NEAREST)
        body = get.getresponse().read()
        step_ms.append((time.perf_counter() - t0) * 1e3)
        return json.loads(body)["features"][0]["id"]

    def send(ev):
        post.request("POST", "/feeds/transport/events", json.dumps({"events": [ev]}),
                     {"Content-Type": "application/json", **feedlib.auth(token)})
        r = json.loads(post.getresponse().read())
        assert r["results"][0]["status"] == "accepted", r
        return time.perf_counter()

    def until(want):
        while nearest() != want:
            pass
        return time.perf_counter()

    close_ms, end_ms = [], []
    try:
        assert nearest() == "E"
        for i in range(a.trials):
            time.sleep(a.gap)
            t_ack = send(tc.closure("bench-%d" % i))
            close_ms.append((until("W") - t_ack) * 1e3)
            time.sleep(a.gap)
            t_ack = send({"id": "bench-end-%d" % i, "type": "closure_end",
                          "closure": "bench-%d" % i})
            end_ms.append((until("E") - t_ack) * 1e3)
    finally:
        post.close()
        get.close()
        d.stop_cleanly()
        shutil.rmtree(tmp, ignore_errors=True)
    for name, v in (("closure ack -> answer avoids it", close_ms),
                    ("closure_end ack -> answer uses the bridge again", end_ms),
                    ("one /nearest?by=road (polling step)", step_ms)):
        print("%-48s n=%4d p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms"
              % (name, len(v), pct(v, 50), pct(v, 99), max(v)))


if __name__ == "__main__":
    main()
