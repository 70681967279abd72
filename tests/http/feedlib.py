"""feedlib.py: helpers shared by the feeds suites (test_feeds.py,
test_durability.py) and scripts/bench/feeds_bench.py: a tiny SpatiaLite file
made with the real `situ load` (two townships, a depot, a team, a hazard, a
rain gauge and a camera, so every id a test names is known), department
tokens made with `situ token add`, and a small Server-Sent Events reader."""

import http.client
import json
import os
import socket
import subprocess
import time

import situd

TOWNSHIPS = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature",
         "properties": {"township_code": "431102001", "name": "朝阳街道", "county_code": "431102",
                        "county_name": "零陵区", "kind": "subdistrict"},
         "geometry": {"type": "Polygon", "coordinates": [[[111.0, 26.0], [111.1, 26.0],
                                                          [111.1, 26.1], [111.0, 26.1],
                                                          [111.0, 26.0]]]}},
        {"type": "Feature",
         "properties": {"township_code": "431102002", "name": "南津渡街道",
                        "county_code": "431102", "county_name": "零陵区", "kind": "subdistrict"},
         "geometry": {"type": "Polygon", "coordinates": [[[111.1, 26.0], [111.2, 26.0],
                                                          [111.2, 26.1], [111.1, 26.1],
                                                          [111.1, 26.0]]]}},
    ]}


def _points(rows):
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props,
         "geometry": {"type": "Point", "coordinates": [lon, lat]}} for lon, lat, props in rows]}


RESOURCES = _points([
    (111.05, 26.05, {"id": "R1", "name": "零陵区防汛物资库", "category": "depot",
                     "status": "available",
                     "items": json.dumps([{"item": "sandbag", "qty": 2000},
                                          {"item": "life_jacket", "qty": 300}])}),
    (111.15, 26.05, {"id": "R2", "name": "蓝天救援队", "category": "team",
                     "team_type": "water_rescue", "personnel": 35, "status": "available"}),
])
HAZARDS = _points([
    (111.06, 26.04, {"id": "H1", "name": "化工厂储罐区", "category": "hazardous_chemicals",
                     "level": "major", "status": "open"}),
])
STATIONS = _points([
    (111.02, 26.02, {"id": "RG0", "name": "朝阳雨量站", "dept": "meteorology",
                     "kind": "rain_gauge", "threshold": 50, "online": 1, "status": "normal"}),
    (111.03, 26.03, {"id": "CAM1", "name": "潇水大桥视频", "dept": "water_resources",
                     "kind": "camera", "online": 1, "status": "normal"}),
])


def tiny_db(tmpdir, url=None):
    """A SpatiaLite file under tmpdir with the fixture above, or the
    fixture loaded into PostgreSQL database url (its files in tmpdir)."""
    return load_db(url or os.path.join(tmpdir, "feeds.sqlite"),
                   (("townships", TOWNSHIPS), ("resources", RESOURCES),
                    ("hazards", HAZARDS), ("stations", STATIONS)), tmpdir)


def load_db(path, collections, tmpdir=None):
    """The store path (a SpatiaLite file, or a PostgreSQL URL with tmpdir
    for the GeoJSON files) made with the real `situ load` of each
    (collection id, GeoJSON document) pair, in order."""
    tmpdir = tmpdir or os.path.dirname(path)
    for name, doc in collections:
        src = os.path.join(tmpdir, name + ".geojson")
        with open(src, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
        subprocess.run([situd.SITU, "load", "--db", path, "--collection", name, src],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


def many_stations_args(tmpdir):
    """situd flags for suites that create a station per event: a config that
    lifts the per-department quota of stations readings create (500)."""
    path = os.path.join(tmpdir, "many-stations.ini")
    with open(path, "w", encoding="utf-8") as f:
        f.write("[feeds]\nstation_quota = 10000000\n")
    return ["--config", path]


def add_token(db, dept):
    """A new token for dept, made with the CLI (it prints only the token)."""
    out = subprocess.run([situd.SITU, "token", "add", dept, "--db", db], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return out.stdout.decode().strip()


def auth(token):
    return {"Authorization": "Bearer " + token}


def utc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def wait_until(fn, timeout=10.0, step=0.05):
    """Calls fn until it returns something truthy; returns it, or None."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(step)


class SSE:
    """One /events stream. next() returns {"id", "data"} (and "event" when
    named) or None on timeout."""

    def __init__(self, port, last_id=None, query="", timeout=10.0, rcvbuf=None, path="/events"):
        """rcvbuf: SO_RCVBUF in bytes, set before connecting (so the TCP
        window stays that small) for a listener that is to stall; path: the
        stream's path (a drill's: /drills/{id}/events)."""
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        if rcvbuf:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.settimeout(timeout)
            sock.connect(("127.0.0.1", port))
            self.conn.sock = sock
        headers = {"Accept": "text/event-stream"}
        if last_id is not None:
            headers["Last-Event-ID"] = str(last_id)
        self.conn.request("GET", path + query, headers=headers)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.comments = 0
        self.nbytes = 0  # bytes of the stream read so far (after the headers)

    def next(self, timeout=5.0):
        self.conn.sock.settimeout(timeout)
        ev = {"id": None, "data": None}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return None
                self.nbytes += len(line)
                line = line.decode("utf-8").rstrip("\n")
                if line == "":
                    if ev["data"] is not None:
                        return ev
                    continue
                if line.startswith(":"):
                    self.comments += 1
                elif line.startswith("event: "):
                    ev["event"] = line[7:]
                elif line.startswith("id: "):
                    ev["id"] = int(line[4:])
                elif line.startswith("data: "):
                    ev["data"] = json.loads(line[6:])
        except (socket.timeout, TimeoutError):
            return None

    def until(self, pred, timeout=10.0):
        """Reads messages until pred(message) holds; that message, or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.next(max(0.05, deadline - time.time()))
            if m is None:
                return None
            if pred(m):
                return m
        return None

    def queues(self):
        """(bytes queued in situd's socket to send, bytes received but not
        read by this client) of this stream's connection, from the kernel's
        /proc/net/tcp (IPv4 loopback)."""
        me = self.conn.sock.getsockname()[1]
        peer = self.conn.sock.getpeername()[1]
        tx = rx = None
        with open("/proc/net/tcp") as f:
            for row in f.readlines()[1:]:
                cols = row.split()
                local, remote = int(cols[1].split(":")[1], 16), int(cols[2].split(":")[1], 16)
                txq, rxq = (int(v, 16) for v in cols[4].split(":"))
                if (local, remote) == (peer, me):
                    tx = txq
                elif (local, remote) == (me, peer):
                    rx = rxq
        return tx, rx

    def close(self):
        self.conn.close()
