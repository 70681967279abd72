#!/usr/bin/env bash
# publish_http.sh: how long a very detailed alert takes to reach the map wall
# through a real situd on the demo (issue 13). For each outline size it posts
# one sawtooth alert of that many vertices, then at once a small alert, and
# times each from the send of its POST to its change on /events; it also
# reads the publisher's last rebuild from /feeds. Targets: a 200,000-vertex
# alert on /events within 1 s, the small one after it within 200 ms.
#
#   scripts/bench/publish_http.sh [SIZES]     (default 10000 40000 200000)
#
# SITU_BIN / SITUD_BIN choose the binaries (default build/situ, build/situd),
# so the same script measures another tree's build. Prints one line a size:
#   publish_http vertices=N post_ms=.. big_events_ms=.. small_events_ms=.. rebuild_ms=..
#                post_cpu_ms=.. after_cpu_ms=..
# (post_ms: the big POST's answer, i.e. parsed, validated and durable;
# rebuild_ms: the publisher's last rebuild, the small alert's or both's;
# post_cpu_ms / after_cpu_ms: situd's CPU time for the big POST, then for
# publishing both and the small POST: on a shared machine the wall times
# include waiting for a core)
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 - "${@:-10000 40000 200000}" <<'EOF'
import json, os, sys, tempfile, time
sys.path.insert(0, os.path.join(os.getcwd(), "tests", "http"))
import feedlib, situd
from test_hostile_outline import alert, sawtooth  # the same hostile shape

def cpu_ms(d):
    """CPU time situd has used (user + system), ms: on a shared machine
    the wall times above include waiting for a core."""
    f = open("/proc/%d/stat" % d.proc.pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1e3 / os.sysconf("SC_CLK_TCK")

def last_rebuild_ms(d):
    return d.get("/feeds").json()["writer"]["last_rebuild_ms"]

tmp = tempfile.mkdtemp(prefix="situ-publish-http-")
db = situd.demo_db(tmp)
token = feedlib.add_token(db, "meteorology")
d = situd.Situd(db)
try:
    sizes = [int(x) for a in sys.argv[1:] for x in a.split()]
    for k, n in enumerate(sizes):
        big = alert("big%d" % k, sawtooth(n, 111.55, 26.40)).decode()
        small = alert("small%d" % k, sawtooth(7, 111.70, 26.50)).decode()
        sse = feedlib.SSE(d.port, timeout=300)
        hdr = dict(feedlib.auth(token), **{"Content-Type": "application/json"})
        c0, t0 = cpu_ms(d), time.time()
        r = d.request("POST", "/feeds/meteorology/events", big.encode(), hdr, timeout=300)
        t_ack, c_ack = time.time(), cpu_ms(d)
        assert r.status == 200 and r.json()["results"][0]["status"] == "accepted", r.body[:300]
        t1 = time.time()
        r = d.request("POST", "/feeds/meteorology/events", small.encode(), hdr)
        assert r.status == 200, r.body[:300]
        seen = {}
        while len(seen) < 2:
            m = sse.next(timeout=300)
            if m is None:
                break
            for c in m["data"].get("changes", [m["data"]]):
                cid = c.get("id", "")
                if cid.endswith(":big%d" % k) and "big" not in seen:
                    seen["big"] = time.time()
                if cid.endswith(":small%d" % k) and "small" not in seen:
                    seen["small"] = time.time()
        sse.close()
        print("publish_http vertices=%d post_ms=%.0f big_events_ms=%.0f small_events_ms=%.0f "
              "rebuild_ms=%.1f post_cpu_ms=%.0f after_cpu_ms=%.0f" % (
                  n, (t_ack - t0) * 1e3, (seen.get("big", float("nan")) - t0) * 1e3,
                  (seen.get("small", float("nan")) - t1) * 1e3, last_rebuild_ms(d),
                  c_ack - c0, cpu_ms(d) - c_ack), flush=True)
finally:
    d.stop()
EOF
