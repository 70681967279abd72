#!/usr/bin/python3
"""cluster_bench.py: the cluster's figures (issue #17) against a running
scripts/cluster.sh (same SITU_CLUSTER_DIR / SITU_CLUSTER_PORT) and, for
comparison, a SpatiaLite situd on a file with the same data.

  SITU_CLUSTER_PORT=... scripts/bench/cluster_bench.py --demo DIR
      [--seconds 10] [--clients 4] [--batch 10] [--only start,writes,reads,
      outage,visible] [--situ build/situ] [--situd build/situd]

DIR is a `situ demo` folder; it is loaded into the cluster (cluster.sh load,
once: skipped when the cluster holds townships) and into a SpatiaLite file.
  start    reader start time (launch to the first /healthz 200) and RSS of a
           situd on the cluster (situd 1 restarted) vs on the SpatiaLite file
  writes   durable events/s through situd POSTs: N departments posting
           batches, each answer after the commit (cluster: applied on the
           synchronous standby, remote_apply) vs SpatiaLite (synchronous=FULL)
  reads    wrk on a tile and on /nearest, against situd 1, then against both
  outage   kill -9 of the primary while posting through situd: time from the
           first 503 (or failed POST) to the next 200; the node is restarted
  visible  commit-to-visible on every reader: from a POST's 200 to every
           situd's /healthz "seq" reaching the event's seq, p50/p99. Needs the
           read path (/healthz "seq"); says so when a situd has none.
Run by Debian's python3 (psycopg2)."""

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import psycopg2

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER_SH = os.path.join(ROOT, "scripts", "cluster.sh")
DIR = os.environ.get("SITU_CLUSTER_DIR", "/tmp/situ-cluster")
PORT = int(os.environ.get("SITU_CLUSTER_PORT", "25432"))
SITUD_PORTS = (PORT + 3, PORT + 4)
DEPTS = ("meteorology", "water_resources", "natural_resources", "forestry", "transport",
         "emergency_management")
sys.path.insert(0, os.path.join(ROOT, "tests", "http"))
import situd  # noqa: E402 (the harness's request helper)

LON, LAT = 111.61, 26.42  # Yongzhou's centre, inside the demo


def sh(*args, timeout=300):
    r = subprocess.run([CLUSTER_SH] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    if r.returncode:
        sys.exit("cluster.sh %s: %s" % (" ".join(args), r.stderr.decode()[-1000:]))
    return r.stdout.decode().strip()


request = situd.request_port


def healthz(port):
    try:
        return json.loads(request(port, "GET", "/healthz", timeout=5)[2])
    except (OSError, ValueError):
        return None


def tile_path(z=12):
    n = 2 ** z
    r = math.radians(LAT)
    return "/tiles/all/%d/%d/%d.mvt" % (z, int((LON + 180) / 360 * n),
                                       int((1 - math.log(math.tan(r) + 1 / math.cos(r)) /
                                            math.pi) / 2 * n))


NEAREST = "/nearest?lon=%g&lat=%g&collection=resources&k=5" % (LON, LAT)


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) / 1024


class Lite:
    """A SpatiaLite situd on a copy of the demo."""

    def __init__(self, args, tmp):
        self.args, self.db = args, os.path.join(tmp, "store.sqlite")
        subprocess.run([args.situ, "init", "--db", self.db], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([args.situ, "load", "--db", self.db, "--all", args.demo], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.tokens = {d: subprocess.run([args.situ, "token", "add", d, "--db", self.db],
                                         check=True, stdout=subprocess.PIPE).stdout.decode().strip()
                       for d in DEPTS}
        if os.getuid() == 0:  # situd serves as nobody, who must write the file
            subprocess.run(["chown", "-R", "nobody", tmp], check=True)
        self.port = PORT + 10
        self.proc = None

    def start(self):
        t = time.monotonic()
        self.proc = subprocess.Popen([self.args.situd, "--db", self.db, "--listen",
                                      "127.0.0.1:%d" % self.port, "--quiet"]
                                     + (["--user", "nobody"] if os.getuid() == 0 else []),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while healthz(self.port) is None:
            if self.proc.poll() is not None:
                sys.exit("SpatiaLite situd exited")
            time.sleep(0.05)
        return time.monotonic() - t

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()


def cluster_tokens(args):
    env = dict(os.environ, PGPASSFILE=os.path.join(DIR, "pgpass"))
    url = sh("url")
    return {d: subprocess.run([args.situ, "token", "add", d, "--db", url], check=True, env=env,
                              stdout=subprocess.PIPE).stdout.decode().strip() for d in DEPTS}


def bench_start(args, lite):
    sh("situd-kill", "1")
    t = time.monotonic()
    sh("situd-start", "1")
    pg_s = time.monotonic() - t
    pid = int(open(os.path.join(DIR, "situd1.pid")).readline())
    print("reader start  cluster    %6.2f s  RSS %6.0f MiB" % (pg_s, rss_mib(pid)))
    lite_s = lite.start()
    print("reader start  SpatiaLite %6.2f s  RSS %6.0f MiB" % (lite_s, rss_mib(lite.proc.pid)))


def post_batches(port, dept, token, batch, seconds, k0, out, errors):
    """Posts batches of new events for `seconds`; out gets accepted counts."""
    end, k, n = time.monotonic() + seconds, k0, 0
    headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    while time.monotonic() < end:
        events = []
        for _ in range(batch):
            k += 1
            events.append({"id": "bench-%d" % k, "type": "observation",
                           "station": "B-%s-%d" % (dept, k % 400),
                           "observed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                           "metric": "rain_1h_mm", "value": k % 90,
                           "lon": LON + (k % 50) * 0.001, "lat": LAT})
        try:
            status, _, _ = request(port, "POST", "/feeds/%s/events" % dept,
                                   json.dumps({"events": events}), headers)
        except OSError as e:
            errors.append(str(e))
            continue
        if status == 200:
            n += len(events)
        else:
            errors.append("HTTP %d" % status)
    out.append(n)


def events_per_s(ports, tokens, args, label, k0):
    out, errors, threads = [], [], []
    for i in range(args.clients):
        dept = DEPTS[i % len(DEPTS)]
        threads.append(threading.Thread(target=post_batches, args=(
            ports[i % len(ports)], dept, tokens[dept], args.batch, args.seconds,
            k0 + i * 10**7, out, errors)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("durable events/s %-12s %8.0f  (%d clients, batches of %d, %d errors%s)" %
          (label, sum(out) / args.seconds, args.clients, args.batch, len(errors),
           ": " + errors[0] if errors else ""))


def wrk(ports, path, seconds):
    procs = [subprocess.Popen(["wrk", "-t1", "-c8", "-d%ds" % seconds,
                               "http://127.0.0.1:%d%s" % (p, path)], stdout=subprocess.PIPE)
             for p in ports]
    total = 0.0
    for p in procs:
        m = re.search(r"Requests/sec:\s+([\d.]+)", p.communicate()[0].decode())
        total += float(m.group(1)) if m else 0
    return total


def bench_reads(args):
    for path in (tile_path(), NEAREST):
        one = wrk(SITUD_PORTS[:1], path, args.seconds)
        two = wrk(SITUD_PORTS, path, args.seconds)
        print("reads/s %-55s one situd %8.0f  two situd %8.0f" % (path, one, two))


def bench_outage(args, tokens):
    state = {"down": None, "spans": []}
    stop = threading.Event()
    headers = {"Authorization": "Bearer " + tokens[DEPTS[0]],
               "Content-Type": "application/json"}

    def poster():
        k = int(time.time() * 1000) * 100
        while not stop.is_set():
            k += 1
            body = json.dumps({"events": [{"id": "outage-%d" % k, "type": "observation",
                                           "station": "O-1", "metric": "rain_1h_mm",
                                           "observed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                        time.gmtime()),
                                           "value": 1, "lon": LON, "lat": LAT}]})
            try:
                ok = request(SITUD_PORTS[0], "POST", "/feeds/%s/events" % DEPTS[0], body,
                             headers)[0] == 200
            except OSError:
                ok = False
            now = time.monotonic()
            if not ok and state["down"] is None:
                state["down"] = now
            elif ok and state["down"] is not None:
                state["spans"].append(now - state["down"])
                state["down"] = None
            if not ok:
                time.sleep(0.1)

    t = threading.Thread(target=poster)
    t.start()
    time.sleep(2)
    node = sh("kill-primary")
    deadline = time.monotonic() + 120
    while not state["spans"] and time.monotonic() < deadline:
        time.sleep(0.2)
    stop.set()
    t.join()
    print("write outage, kill -9 of the primary (%s): %s" %
          (node, "%.1f s" % max(state["spans"]) if state["spans"] else "no 200 within 120 s"))
    sh("start")
    sh("wait-healthy", "180", timeout=200)


def bench_visible(args, tokens):
    if any("seq" not in (healthz(p) or {}) for p in SITUD_PORTS):
        print("commit-to-visible: a situd's /healthz has no \"seq\" (awaits the read path)")
        return
    con = psycopg2.connect(sh("url"), passfile=os.path.join(DIR, "pgpass"))
    con.autocommit = True
    cur = con.cursor()
    headers = {"Authorization": "Bearer " + tokens[DEPTS[1]],
               "Content-Type": "application/json"}
    lat = []
    k = int(time.time() * 1000) * 100
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        k += 1
        eid = "visible-%d" % k
        body = json.dumps({"events": [{"id": eid, "type": "observation", "station": "V-1",
                                       "metric": "rain_1h_mm", "value": k % 90,
                                       "observed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                    time.gmtime()),
                                       "lon": LON, "lat": LAT}]})
        if request(SITUD_PORTS[k % 2], "POST", "/feeds/%s/events" % DEPTS[1], body,
                   headers)[0] != 200:
            continue
        t = time.monotonic()
        cur.execute("SELECT seq FROM event_log WHERE dept = %s AND event_id = %s",
                    (DEPTS[1], eid))
        seq = cur.fetchone()[0]
        while any((healthz(p) or {}).get("seq", -1) < seq for p in SITUD_PORTS):
            if time.monotonic() - t > 10:
                break
            time.sleep(0.005)
        lat.append((time.monotonic() - t) * 1000)
    con.close()
    lat.sort()
    print("commit-to-visible on both situd: n %d  p50 %.0f ms  p99 %.0f ms" %
          (len(lat), statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--only", default="start,writes,reads,outage,visible")
    ap.add_argument("--situ", default=os.path.join(ROOT, "build", "situ"))
    ap.add_argument("--situd", default=os.path.join(ROOT, "build", "situd"))
    args = ap.parse_args()
    only = set(args.only.split(","))
    url = sh("url")
    env = dict(os.environ, PGPASSFILE=os.path.join(DIR, "pgpass"))
    con = psycopg2.connect(url, passfile=os.path.join(DIR, "pgpass"))
    cur = con.cursor()
    cur.execute("SELECT count(*) FROM townships")
    if cur.fetchone()[0] == 0:
        subprocess.run([CLUSTER_SH, "load", args.demo], check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    con.close()
    tokens = cluster_tokens(args)
    for n in ("1", "2"):  # snapshots with the demo and the tokens
        sh("situd-kill", n)
        sh("situd-start", n)
    tmp = tempfile.mkdtemp(prefix="situ-cluster-bench-")
    os.chmod(tmp, 0o777)
    lite = Lite(args, tmp)
    try:
        if "start" in only:
            bench_start(args, lite)
        if lite.proc is None:
            lite.start()
        if "writes" in only:
            k0 = int(time.time()) * 10**9
            events_per_s(SITUD_PORTS, tokens, args, "cluster", k0)
            events_per_s((lite.port,), lite.tokens, args, "SpatiaLite", k0)
        if "reads" in only:
            bench_reads(args)
        if "visible" in only:
            bench_visible(args, tokens)
        if "outage" in only:
            bench_outage(args, tokens)
    finally:
        lite.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
