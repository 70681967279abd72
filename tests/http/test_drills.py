"""Drills in situd (issue 19): POST /drills starts a drill, a situd process of
its own on a copy of the store, served under /drills/{id}/. A real situd on
the demo plays geodata/drills/xiang_flood.json: its injects reach the
drill's /events, collections and tiles while the real /events, the real
store (every table's rows hashed), the real snapshot digest and a real tile
stay unchanged; a real event posted during a drill is on / and not in the
drill, and a controller's post into the drill the other way round; an
Exercise CAP is refused by the real feed and taken by the drill, an Actual
one refused by the drill (422 naming status); pause, resume, skip, inject
now and stop work and a stopped drill's control is 409 naming action; bad
speed, scenario, token and id get their problems; the record lists every
inject once; the same scenario played flat-out twice from the same start
ends in the same drill digest; the number of drills is bounded; SIGTERM to
situd ends every drill's process (no orphan), which ran at nice 10.

Run one case: python3 tests/http/test_drills.py -k NAME"""

import math
import os
import signal
import sqlite3
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402

START = "2026-06-18T06:00:00+08:00"
TABLES = ("townships", "risk_zones", "hazards", "hazard_sources", "resources", "stations",
          "alerts", "resource_items", "road_closures", "event_log", "tokens")
ALERT_TILE_Z = 9


def tile_xy(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180.0) / 360.0 * n)
    r = math.radians(lat)
    y = int((1.0 - math.asinh(math.tan(r)) / math.pi) / 2.0 * n)
    return x, y


# the flood alerts' area (XJ-01's polygon), inside every one of them
TILE = "/tiles/alerts/%d/%d/%d.mvt" % ((ALERT_TILE_Z,) + tile_xy(111.63, 26.46, ALERT_TILE_Z))


def cap_xml(identifier, status, sent):
    """A CAP 1.2 rain warning over the flood area, sent at `sent` (epoch s)."""
    fmt = "%Y-%m-%dT%H:%M:%S+00:00"
    return ("""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>%s</identifier><sender>test@situ</sender><sent>%s</sent>
  <status>%s</status><msgType>Alert</msgType><scope>Public</scope>
  <note>drill test</note>
  <info><language>zh-CN</language><category>Met</category><event>暴雨</event>
    <urgency>Immediate</urgency><severity>Moderate</severity><certainty>Likely</certainty>
    <expires>%s</expires><headline>test</headline>
    <area><areaDesc>test</areaDesc>
      <polygon>26.56,111.45 26.56,111.76 26.15,111.76 26.15,111.45 26.56,111.45</polygon>
    </area></info></alert>""" % (identifier, time.strftime(fmt, time.gmtime(sent)), status,
                                 time.strftime(fmt, time.gmtime(sent + 6 * 3600)))).encode()


def child_pids(pid):
    """The processes whose parent is pid (from /proc)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(name))
            except OSError:
                pass
    return out


def nice_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[16])


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as f:  # a zombie is not alive
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


class Drills(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-drills-")
        cls.db = situd.demo_db(cls.tmp)
        cls.tokens = {d: feedlib.add_token(cls.db, d)
                      for d in ("emergency_management", "water_resources", "meteorology")}
        conf = os.path.join(cls.tmp, "situd.ini")
        with open(conf, "w") as f:
            f.write("[drills]\nmax = 8\n")
        cls.s = situd.Situd(cls.db, "--config", conf)

    @classmethod
    def tearDownClass(cls):
        cls.s.stop_cleanly()

    def tearDown(self):
        for d in self.s.get("/drills").json()["drills"]:
            self.s.request("DELETE", "/drills/" + d["id"], headers=self.em())

    def em(self):
        return feedlib.auth(self.tokens["emergency_management"])

    def start(self, body, status=201, token="emergency_management", server=None):
        r = (server or self.s).post("/drills", body, headers=feedlib.auth(self.tokens[token]))
        self.assertEqual(r.status, status, r.body[:400])
        return r

    def start_flood(self, speed, **more):
        r = self.start(dict({"scenario_name": "xiang_flood", "speed": speed}, **more))
        doc = r.json()
        self.assertEqual(r.headers["location"], "/drills/%s/" % doc["id"])
        self.assertEqual(r.headers["x-situ-drill"], doc["id"])
        return doc["id"]

    def status(self, drill):
        r = self.s.get("/drills/" + drill)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.headers.get("x-situ-drill"), drill)
        return r.json()

    def wait_state(self, drill, state, timeout=60):
        got = feedlib.wait_until(lambda: self.status(drill)["state"] == state, timeout)
        self.assertTrue(got, self.status(drill))

    def control(self, drill, body, status=200, param=None):
        r = self.s.post("/drills/%s/control" % drill, body, headers=self.em())
        if status != 200:
            situd.assert_problem(self, r, status, param)
            return None
        self.assertEqual(r.status, 200, r.body[:300])
        return r.json()

    def published_digest(self, drill):
        """The drill's snapshot digest once it holds every event of its store."""
        store = "%s.drills/%s.sqlite" % (self.db, drill)
        with sqlite3.connect("file:%s?mode=ro" % store, uri=True) as c:
            last = c.execute("SELECT max(seq) FROM event_log").fetchone()[0]
        h = feedlib.wait_until(lambda: (lambda j: j if j["seq"] == last else None)(
            self.s.get("/drills/%s/healthz" % drill).json()))
        self.assertTrue(h, "the drill's snapshot never reached seq %s: %s" % (
            last, self.s.get("/drills/%s/healthz" % drill).body))
        return h["digest"]

    def drill_alerts(self, drill):
        r = self.s.get("/drills/%s/collections/alerts/items?limit=100" % drill)
        self.assertEqual(r.status, 200)
        return {f["id"] for f in r.json()["features"]}

    def real_alerts(self):
        return {f["id"] for f in self.s.get("/collections/alerts/items?limit=100").json()["features"]}

    # ---- the picture ------------------------------------------------------------------

    def test_flood_flat_out_reaches_the_drill_and_nothing_real(self):
        real_health = self.s.get("/healthz").json()
        real_tile = self.s.get(TILE)
        before = situd.table_digests(self.db, TABLES)
        real_sse = feedlib.SSE(self.s.port, last_id=0)
        t0 = time.time()
        drill = self.start_flood("max")
        self.wait_state(drill, "finished")
        print("\nxiang_flood at max through situd: %.2f s from POST to finished" % (time.time() - t0))
        st = self.status(drill)
        self.assertEqual(st["injects"], {"total": 27, "applied": 27, "failed": 0, "pending": 0})
        self.assertEqual(st["scenario_time"], "PT4H30M")
        # the drill shows the injects: alerts, a depot drawn down
        drill_digest = self.published_digest(drill)
        alerts = self.drill_alerts(drill)
        self.assertIn("meteorology:YZQX-YL-2026-0618-01", alerts)
        self.assertIn("water_resources:XJ-23", alerts)
        depot = self.s.get("/drills/%s/collections/resources/items/RS-000015" % drill).json()
        held = {i["item"]: i["qty"] for i in depot["properties"]["items"]}
        self.assertEqual(held["sandbag"], 25000, held)
        sse = feedlib.SSE(self.s.port, last_id=0, path="/drills/%s/events" % drill)
        self.assertEqual(sse.status, 200)
        seen = set()
        m = sse.until(lambda m: seen.add((m["data"]["collection"], m["data"]["id"])) or
                      ("resources", "RS-000002") in seen, timeout=10)
        sse.close()
        self.assertTrue(m, seen)
        self.assertIn(("alerts", "water_resources:XJ-10"), seen)
        self.assertEqual(self.s.get("/drills/%s%s" % (drill, TILE)).status, 200)
        health = self.s.get("/drills/%s/healthz" % drill).json()
        self.assertEqual(health["drill"]["id"], drill)
        self.assertEqual(health["drill"]["exercise_id"], "YZ-2026-XJ-FLOOD")
        self.assertEqual(health["digest"], drill_digest)
        self.assertNotEqual(drill_digest, real_health["digest"])
        # ... and the real picture does not
        self.assertEqual(real_sse.next(timeout=1.5), None)
        real_sse.close()
        self.assertEqual(self.real_alerts(), set())
        now = self.s.get("/healthz")
        self.assertNotIn("x-situ-drill", now.headers)
        self.assertNotIn("drill", now.json())
        self.assertEqual(now.json()["digest"], real_health["digest"])
        self.assertEqual(now.json()["seq"], real_health["seq"])
        tile = self.s.get(TILE)
        self.assertEqual((tile.status, tile.body), (real_tile.status, real_tile.body))
        self.assertEqual(situd.table_digests(self.db, TABLES), before)
        # the record lists every inject once
        rec = self.s.get("/drills/%s/record.geojson" % drill)
        self.assertEqual(rec.status, 200)
        self.assertEqual(rec.headers["x-situ-drill"], drill)
        injects = [f["properties"]["inject_id"] for f in rec.json()["features"]
                   if f["properties"]["action"] == "inject"]
        self.assertEqual(sorted(injects), ["XJ-%02d" % i for i in range(27)])
        csv = self.s.get("/drills/%s/record.csv" % drill)
        self.assertEqual(csv.status, 200)
        self.assertEqual(len(csv.body.decode().strip().splitlines()), 28)

    def test_real_events_stay_real_and_drill_posts_stay_in_the_drill(self):
        drill = self.start_flood(1)
        water = feedlib.auth(self.tokens["water_resources"])
        value = {"real": 71.11, "drill": 72.22}
        real = self.s.post("/feeds/water_resources/events", {"events": [{
            "id": "real-1", "type": "observation", "station": "ST-000080",
            "metric": "water_level_m", "value": value["real"],
            "observed_at": feedlib.utc(time.time())}]}, headers=water)
        self.assertEqual(real.status, 200, real.body)
        self.assertEqual(real.json()["results"][0]["status"], "accepted", real.body)
        post = self.s.post("/drills/%s/feeds/water_resources/events" % drill, {"events": [{
            "id": "ctl-1", "type": "observation", "station": "ST-000080",
            "metric": "water_level_m", "value": value["drill"],
            "observed_at": feedlib.utc(time.time() - 5)}]}, headers=water)
        self.assertEqual(post.status, 200, post.body)
        self.assertEqual(post.json()["results"][0]["status"], "accepted", post.body)
        self.assertEqual(post.headers["x-situ-drill"], drill)

        def level(prefix):
            r = self.s.get(prefix + "/collections/stations/items/ST-000080")
            return r.json()["properties"]["value"]
        self.assertTrue(feedlib.wait_until(lambda: level("") == value["real"]))
        self.assertTrue(feedlib.wait_until(lambda: level("/drills/" + drill) == value["drill"]))
        time.sleep(0.3)  # a rebuild later: still apart
        self.assertEqual(level(""), value["real"])
        self.assertEqual(level("/drills/" + drill), value["drill"])
        # CAP: Exercise refused by the real feed, taken by the drill; Actual refused by it
        met = dict(feedlib.auth(self.tokens["meteorology"]), **{"Content-Type": "application/cap+xml"})
        now = time.time()
        situd.assert_problem(self, self.s.request(
            "POST", "/feeds/meteorology/cap", cap_xml("T-EX-1", "Exercise", now), met), 422, "status")
        ok = self.s.request("POST", "/drills/%s/feeds/meteorology/cap" % drill,
                            cap_xml("T-EX-1", "Exercise", now), met)
        self.assertEqual(ok.status, 200, ok.body)
        self.assertTrue(feedlib.wait_until(
            lambda: "meteorology:T-EX-1" in self.drill_alerts(drill)))
        situd.assert_problem(self, self.s.request(
            "POST", "/drills/%s/feeds/meteorology/cap" % drill, cap_xml("T-AC-1", "Actual", now),
            met), 422, "status")
        self.assertEqual(self.real_alerts(), set())
        # the controller's posts are in the record (the refused Actual alert changed nothing)
        rec = self.s.get("/drills/%s/record.geojson" % drill).json()
        posts = [(f["properties"]["dept"], f["properties"]["result"]) for f in rec["features"]
                 if f["properties"]["action"] == "post"]
        self.assertEqual(posts, [("water_resources", "accepted"), ("meteorology", "accepted")])

    # ---- controls -----------------------------------------------------------------------

    def test_pause_resume_skip_inject_now_stop(self):
        drill = self.start_flood(1)
        self.assertEqual(self.status(drill)["state"], "running")
        self.assertEqual(self.control(drill, {"action": "pause"})["state"], "paused")
        self.control(drill, {"action": "pause"}, 409, "action")
        self.assertEqual(self.control(drill, {"action": "resume"})["state"], "running")
        st = self.control(drill, {"action": "skip", "to": "PT30M"})
        self.assertGreaterEqual(st["scenario_ms"], 30 * 60 * 1000)
        self.assertEqual(st["injects"]["applied"], 5, st)  # XJ-00 .. XJ-04
        self.assertTrue(feedlib.wait_until(
            lambda: "meteorology:YZQX-YL-2026-0618-01" in self.drill_alerts(drill)))
        self.control(drill, {"action": "skip", "to": "PT10M"}, 400, "to")
        st = self.control(drill, {"action": "inject", "inject": "XJ-10"})
        self.assertEqual(st["injects"]["applied"], 6, st)
        self.assertTrue(feedlib.wait_until(lambda: "water_resources:XJ-10" in self.drill_alerts(drill)))
        self.control(drill, {"action": "inject", "inject": "XJ-10"}, 400, "inject")
        self.control(drill, {"action": "inject", "inject": "NOPE"}, 400, "inject")
        self.control(drill, {"action": "fly"}, 400, "action")
        self.assertEqual(self.control(drill, {"action": "stop"})["state"], "stopped")
        for action in ({"action": "pause"}, {"action": "resume"}, {"action": "stop"},
                       {"action": "skip", "to": "PT2H"}, {"action": "inject", "inject": "XJ-20"}):
            self.control(drill, action, 409, "action")
        # a stopped drill keeps its record and read-only API; posts are refused
        self.assertEqual(self.status(drill)["state"], "stopped")
        self.assertEqual(self.s.get("/drills/%s/record.geojson" % drill).status, 200)
        self.assertIn("water_resources:XJ-10", self.drill_alerts(drill))
        situd.assert_problem(self, self.s.post(
            "/drills/%s/feeds/water_resources/events" % drill,
            {"events": [{"id": "late", "type": "observation", "station": "ST-000080",
                         "metric": "water_level_m", "value": 70.0}]},
            headers=feedlib.auth(self.tokens["water_resources"])), 409)
        actions = [f["properties"]["action"] for f in
                   self.s.get("/drills/%s/record.geojson" % drill).json()["features"]]
        for a in ("start", "pause", "resume", "skip", "inject_now", "stop"):
            self.assertIn(a, actions)

    # ---- bad requests -------------------------------------------------------------------

    def test_bad_requests_get_their_problems(self):
        p = lambda r, status, param=None: situd.assert_problem(self, r, status, param)  # noqa: E731
        em = self.em()
        for speed in (0, 61, "fast", 1.5, None):
            p(self.s.post("/drills", {"scenario_name": "xiang_flood", "speed": speed}, em),
              400, "speed")
        p(self.s.post("/drills", {"scenario_name": "xiang_flood"}), 401, "Authorization")
        p(self.s.post("/drills", {"scenario_name": "xiang_flood"},
                      feedlib.auth(self.tokens["water_resources"])), 403, "Authorization")
        p(self.s.post("/drills", {"scenario_name": "no_such"}, em), 404, "scenario_name")
        p(self.s.post("/drills", {"scenario_name": "../xiang_flood"}, em), 400, "scenario_name")
        p(self.s.post("/drills", {"speed": 1}, em), 400, "scenario")
        p(self.s.request("POST", "/drills", b"{not json", dict(em, **{"Content-Type": "application/json"})),
          400, "body")
        bad = {"exercise_id": "T-BAD", "title": "bad", "area": ["431103007"], "injects": [
            {"id": "B-1", "offset": "PT1M", "dept": "water_resources", "kind": "observation",
             "payload": {"station": "ST-000080", "metric": "water_level_m", "value": "high"}}]}
        doc = p(self.s.post("/drills", {"scenario": bad, "speed": 10}, em), 422)
        self.assertTrue(doc["parameter"].startswith("B-1.payload"), doc)
        p(self.s.post("/drills", {"scenario": dict(bad, injects="none"), "speed": 10}, em), 422)
        p(self.s.post("/drills", {"scenario": dict(bad, start="x"), "speed": 10, "start": "soon"},
                      em), 400, "start")
        self.assertEqual(self.s.get("/drills").json()["drills"], [])  # nothing started
        self.assertFalse(os.path.exists(self.db + ".drills") and
                         [n for n in os.listdir(self.db + ".drills") if "T-BAD" in n])
        for path in ("/drills/nope", "/drills/nope/", "/drills/nope/healthz", "/drills/nope/record.csv",
                     TILE.replace("/tiles", "/drills/nope/tiles")):
            p(self.s.get(path), 404, "id")
        p(self.s.post("/drills/nope/control", {"action": "pause"}, em), 404, "id")
        drill = self.start_flood(1)
        p(self.s.post("/drills/%s/control" % drill, {"action": "pause"}), 401, "Authorization")
        p(self.s.post("/drills/%s/control" % drill, {"action": "pause"},
                      feedlib.auth(self.tokens["water_resources"])), 403, "Authorization")
        p(self.s.request("POST", "/drills/%s/control" % drill, b"[]",
                         dict(em, **{"Content-Type": "application/json"})), 400, "action")
        p(self.s.get("/drills/%s?bogus=1" % drill), 400, "bogus")
        self.assertEqual(self.status(drill)["state"], "running")

    # ---- determinism ----------------------------------------------------------------------

    def test_flat_out_twice_ends_in_the_same_drill(self):
        digests, starts = [], []
        for _ in range(2):
            drill = self.start_flood("max", start=START)
            self.wait_state(drill, "finished")
            digests.append(self.published_digest(drill))
            starts.append(self.status(drill)["scenario_start"])
        self.assertEqual(digests[0], digests[1])
        self.assertEqual(starts, ["2026-06-17T22:00:00Z"] * 2)
        self.assertNotEqual(digests[0], self.s.get("/healthz").json()["digest"])

    def test_a_drill_judges_alerts_at_its_scenario_time(self):
        # the flood's alerts are dated 18 June 2026 (START): long over by the
        # system clock, in force at the drill's PT4H30M (10:30 that morning)
        drill = self.start_flood("max", start=START)
        self.wait_state(drill, "finished")
        self.published_digest(drill)
        r = self.s.get("/drills/%s/townships?limit=10000" % drill)
        self.assertEqual(r.status, 200, r.body[:300])
        counted = sum(counts.get("alerts", 0) for counts in find_all(r.json(), "counts"))
        self.assertGreater(counted, 0, "the drill's townships count no alert in force at its "
                           "scenario time")


def find_all(doc, key):
    """Every value of member key anywhere in JSON doc."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k == key:
                yield v
            yield from find_all(v, key)
    elif isinstance(doc, list):
        for v in doc:
            yield from find_all(v, key)


class DrillProcesses(unittest.TestCase):
    """A situd of its own: the bound on drills and SIGTERM."""

    def test_bounded_and_sigterm_leaves_no_drill_process(self):
        tmp = tempfile.mkdtemp(prefix="situ-drills-term-")
        db = situd.demo_db(tmp)
        token = feedlib.add_token(db, "emergency_management")
        conf = os.path.join(tmp, "situd.ini")
        with open(conf, "w") as f:
            f.write("[drills]\nmax = 1\n")
        s = situd.Situd(db, "--config", conf)
        try:
            t0 = time.time()
            r = s.post("/drills", {"scenario_name": "xiang_flood", "speed": 1},
                       feedlib.auth(token))
            print("\ndrill start: %.0f ms from POST to its status" % ((time.time() - t0) * 1e3))
            self.assertEqual(r.status, 201, r.body)
            situd.assert_problem(self, s.post("/drills", {"scenario_name": "xiang_flood", "speed": 1},
                                              feedlib.auth(token)), 503)
            kids = child_pids(s.proc.pid)
            self.assertEqual(len(kids), 1, kids)
            self.assertEqual(nice_of(kids[0]), 10)
            sse = feedlib.SSE(s.port, path="/drills/%s/events" % r.json()["id"])
            self.assertEqual(sse.status, 200)
            rc = s.stop(signal.SIGTERM)
            self.assertTrue(feedlib.wait_until(lambda: not alive(kids[0]), 5), "orphan drill")
            self.assertEqual(rc, 0, s.read_log())
            sse.close()
        finally:
            s.stop()


if __name__ == "__main__":
    unittest.main()
