"""test_feeds.py: the one network end to end against a real situd: tokens
(401 / 403 / 404), validation and every rejection path, duplicates, the body
and batch limits, observations, cameras, feature updates, JSON and CAP
alerts (polygon, circle, township geocode, Update, Cancel, expiry) on
/locate and /townships, GET /feeds, and GET /events (push, many listeners,
Last-Event-ID replay, also across a restart of situd, and a stalled listener
that falls a whole ring behind without slowing ingest and is caught up from
the log), and the tile cache when a station moves (its old tile redrawn, the
others still cached). Every route here must answer: a 503 from /events, the
tiles or /nearest fails."""

import json
import math
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402
from feedlib import auth, utc, wait_until  # noqa: E402

SQUARE = {"type": "Polygon", "coordinates": [[[111.0, 26.0], [111.1, 26.0], [111.1, 26.1],
                                              [111.0, 26.1], [111.0, 26.0]]]}

CAP_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
            '<identifier>{ident}</identifier><sender>yzqx@hunan.gov.cn</sender>'
            '<sent>{sent}</sent><status>Actual</status><msgType>{msg}</msgType>'
            '<scope>Public</scope>{refs}')
CAP_INFO = ('<info><language>zh-CN</language><category>Met</category><event>暴雨</event>'
            '<urgency>Immediate</urgency><severity>{sev}</severity>'
            '<certainty>Likely</certainty><onset>{onset}</onset><expires>{expires}</expires>'
            '<headline>永州市气象台发布暴雨预警</headline><area><areaDesc>零陵区</areaDesc>'
            '{area}</area></info>')


def cap(ident, area="", msg="Alert", sev="Severe", refs=(), expires_in=3600):
    now = time.time()
    head = CAP_HEAD.format(ident=ident, sent=utc(now), msg=msg,
                           refs="<references>%s</references>" % " ".join(
                               "yzqx@hunan.gov.cn,%s,%s" % (r, utc(now)) for r in refs)
                           if refs else "")
    info = "" if msg == "Cancel" else CAP_INFO.format(
        sev=sev, onset=utc(now - 60), expires=utc(now + expires_in), area=area)
    return (head + info + "</alert>").encode("utf-8")


RING = 4096                # messages situd keeps for listeners (daemon/events.c)
STALL_BUFFERS = 128 << 10  # bytes, at most: MHD (32 KB conn_memory, 16 KB block), OUT_CHUNK 32 KB
STALL_FULL_BATCHES = 6     # batches of 1,000 posted once the stalled listener's queue is full
RESUME_EVENTS = 800        # replayed after a restart: 700 of them, nearly 3 pages of the log


def tile_xy(lon, lat, z):
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


class FeedsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-feeds-")
        cls.db = feedlib.tiny_db(cls.tmp)
        cls.tok = {d: feedlib.add_token(cls.db, d) for d in
                   ("meteorology", "water_resources", "reserves", "emergency_management")}
        revoked = feedlib.add_token(cls.db, "forestry")
        situd.subprocess.run([situd.SITU, "token", "revoke", "5", "--db", cls.db], check=True,
                             stderr=situd.subprocess.DEVNULL)
        cls.revoked = revoked
        cls.d = situd.Situd(cls.db, "--quiet")
        probe = feedlib.SSE(cls.d.port)
        cls.sse_ok = probe.status == 200
        cls.sse_why = "" if cls.sse_ok else json.loads(probe.resp.read()).get("detail", "")
        probe.close()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def post(self, dept, events, token_dept=None, raw=None, path="events", ctype=None):
        body = raw if raw is not None else json.dumps({"events": events}).encode()
        headers = auth(self.tok[token_dept or dept])
        headers["Content-Type"] = ctype or "application/json"
        return self.d.request("POST", "/feeds/%s/%s" % (dept, path), body=body, headers=headers)

    def post_cap(self, xml, dept="meteorology"):
        return self.post(dept, None, raw=xml, path="cap", ctype="application/cap+xml")

    def accepted(self, resp, n=1):
        self.assertEqual(resp.status, 200, resp.body[:400])
        doc = resp.json()
        self.assertEqual(doc["accepted"], n, doc)
        return doc

    def need_sse(self):
        self.assertTrue(self.sse_ok, "/events is not served by this situd: " + self.sse_why)

    def item(self, coll, fid):
        r = self.d.get("/collections/%s/items/%s" % (coll, fid))
        return r.json() if r.status == 200 else None

    def alerts_at(self, lon, lat):
        return [a["id"] for a in self.d.get("/locate?lon=%s&lat=%s" % (lon, lat)).json()["alerts"]]

    # ---- tokens ---------------------------------------------------------------------

    def test_token_added_while_serving(self):
        """A token added with `situ token add` while situd serves works
        within about a second, without a restart (the writer sees the
        file's PRAGMA data_version change)."""
        tok = feedlib.add_token(self.db, "water_resources")
        ev = [{"id": "late-token-1", "type": "camera", "station": "no-such-camera",
               "observed_at": utc(time.time()), "status": "online"}]

        def authorised():  # a rejected event answers 200 too: the token was taken
            r = self.d.post("/feeds/water_resources/events", {"events": ev},
                            headers=feedlib.auth(tok))
            self.assertIn(r.status, (200, 401), r.body)
            return r.status == 200

        self.assertTrue(feedlib.wait_until(authorised, timeout=5), "new token refused for 5 s")

    def test_tokens_decide_who_may_write(self):
        ev = [{"id": "auth-1", "type": "camera", "station": "CAM1",
               "observed_at": utc(time.time()), "status": "online"}]
        body = json.dumps({"events": ev}).encode()
        r = self.d.request("POST", "/feeds/water_resources/events", body=body)
        doc = situd.assert_problem(self, r, 401)
        self.assertIn("Bearer", r.headers.get("www-authenticate", ""))
        self.assertIn("token", doc["detail"])
        for bad in ("situ_" + "A" * 43, self.revoked):
            r = self.d.request("POST", "/feeds/water_resources/events", body=body,
                               headers=auth(bad))
            situd.assert_problem(self, r, 401)
        r = self.d.request("POST", "/feeds/water_resources/events", body=body,
                           headers={"Authorization": "Basic " + self.tok["water_resources"]})
        situd.assert_problem(self, r, 401)
        situd.assert_problem(self, self.post("water_resources", ev, token_dept="meteorology"),
                             403)
        r = self.d.request("POST", "/feeds/ministry_of_magic/events", body=body,
                           headers=auth(self.tok["meteorology"]))
        situd.assert_problem(self, r, 404)
        r = self.d.request("POST", "/feeds/meteorology/telegrams", body=body,
                           headers=auth(self.tok["meteorology"]))
        situd.assert_problem(self, r, 404)
        self.accepted(self.post("water_resources", ev))

    # ---- validation -------------------------------------------------------------------

    def test_each_event_is_judged_on_its_own(self):
        now = utc(time.time())
        events = [
            {"id": "v-ok", "type": "observation", "station": "RG0", "observed_at": now,
             "metric": "rain_1h_mm", "value": 12.5},
            {"type": "observation"},
            {"id": "v-type", "type": "rumour"},
            {"id": "v-time", "type": "observation", "station": "RG0", "observed_at": "today",
             "metric": "rain_1h_mm", "value": 1},
            {"id": "v-future", "type": "observation", "station": "RG0",
             "observed_at": utc(time.time() + 86400), "metric": "rain_1h_mm", "value": 1},
            {"id": "v-value", "type": "observation", "station": "RG0", "observed_at": now,
             "metric": "rain_1h_mm", "value": "lots"},
            {"id": "v-extra", "type": "observation", "station": "RG0", "observed_at": now,
             "metric": "rain_1h_mm", "value": 1, "mood": "wet"},
            {"id": "v-lonlat", "type": "observation", "station": "NEW", "observed_at": now,
             "metric": "rain_1h_mm", "value": 1, "lon": 111.0},
            {"id": "v-unknown", "type": "observation", "station": "NOWHERE", "observed_at": now,
             "metric": "rain_1h_mm", "value": 1},
            {"id": "v-cam", "type": "camera", "station": "RG0", "observed_at": now,
             "status": "online"},
            {"id": "v-other", "type": "camera", "station": "CAM1", "observed_at": now,
             "status": "online"},
            {"id": "v-coll", "type": "feature_update", "collection": "townships",
             "feature_id": "431102001", "set": {"name": "x"}},
            {"id": "v-field", "type": "feature_update", "collection": "hazards",
             "feature_id": "H1", "set": {"colour": "red"}},
            {"id": "v-domain", "type": "feature_update", "collection": "hazards",
             "feature_id": "H1", "set": {"status": "ignored"}},
            {"id": "v-missing", "type": "feature_update", "collection": "hazards",
             "feature_id": "H404", "set": {"status": "rectified"}},
            {"id": "v-item", "type": "feature_update", "collection": "resources",
             "feature_id": "R1", "set": {"items": {"unicorn": 3}}},
            {"id": "v-sev", "type": "alert", "event": "rainstorm", "severity": "purple",
             "geometry": SQUARE},
            {"id": "v-geom", "type": "alert", "event": "rainstorm", "severity": "red",
             "geometry": {"type": "Point", "coordinates": [111, 26]}},
            {"id": "v-ref", "type": "alert", "msg_type": "cancel", "references": ["never"]},
            "not an object",
        ]
        want = [("accepted", None), ("rejected", "id"), ("rejected", "type"),
                ("rejected", "observed_at"), ("rejected", "observed_at"),
                ("rejected", "value"), ("rejected", "mood"), ("rejected", "lat"),
                ("rejected", "station"), ("rejected", "station"), ("rejected", "station"),
                ("rejected", "collection"), ("rejected", "set.colour"),
                ("rejected", "set.status"), ("rejected", "feature_id"),
                ("rejected", "set.items.unicorn"), ("rejected", "severity"),
                ("rejected", "geometry"), ("rejected", "references"), ("rejected", "")]
        doc = self.accepted(self.post("meteorology", events))
        self.assertEqual(doc["rejected"], len(events) - 1)
        for res, (status, field) in zip(doc["results"], want):
            self.assertEqual(res["status"], status, res)
            if field is not None:
                self.assertEqual(res["field"], field, res)
                self.assertTrue(res["reason"], res)
        self.assertEqual([r["index"] for r in doc["results"]], list(range(len(events))))

    def test_malformed_bodies(self):
        r = self.post("meteorology", None, raw=b'{"events": [\n {"id": "x",]}')
        doc = situd.assert_problem(self, r, 400)
        self.assertIn("line 2", doc["detail"])
        self.assertIn("column", doc["detail"])
        situd.assert_problem(self, self.post("meteorology", None, raw=b'[{"id": "x"}]'), 400)
        situd.assert_problem(self, self.post("meteorology", None, raw=b""), 400)
        many = b'{"events": [' + b",".join([b"{}"] * 10001) + b"]}"
        situd.assert_problem(self, self.post("meteorology", None, raw=many), 413)
        huge = b'{"events": [], "pad": "' + b"x" * (9 << 20) + b'"}'
        situd.assert_problem(self, self.post("meteorology", None, raw=huge), 413)

    def test_duplicates_are_acknowledged_not_applied_twice(self):
        ev = [{"id": "dup-1", "type": "feature_update", "collection": "resources",
               "feature_id": "R2", "set": {"personnel": 40}}]
        self.accepted(self.post("reserves", ev))
        ev2 = [dict(ev[0], set={"personnel": 99})]
        doc = self.post("reserves", ev2 + ev2).json()
        self.assertEqual([r["status"] for r in doc["results"]], ["duplicate", "duplicate"])
        self.assertEqual(doc["accepted"], 0)
        got = wait_until(lambda: (self.item("resources", "R2") or {}).get(
            "properties", {}).get("personnel") == 40)
        self.assertTrue(got)

    def test_healthz_on_a_file_does_not_claim_to_follow(self):
        """On SpatiaLite situd does not follow the event log: /healthz says
        so and leaves the store's seq and the lag null rather than a 0 that
        would read as "caught up" (issue 17)."""
        r = self.post("reserves", [{"id": "health-1", "type": "feature_update",
                                    "collection": "resources", "feature_id": "R1",
                                    "set": {"personnel": 7}}])
        self.accepted(r)
        seq = r.json()["results"][0]["seq"]
        self.assertTrue(wait_until(lambda: self.d.get("/healthz").json()["seq"] >= seq))
        h = self.d.get("/healthz")
        doc = h.json()
        self.assertEqual((h.status, doc["status"], doc["following"]), (200, "ok", False))
        self.assertEqual((doc["store_seq"], doc["lag_seq"], doc["lag_s"]), (None, None, None))
        self.assertNotIn("store", doc)
        self.assertEqual(int(h.headers["x-situ-seq"]), doc["seq"])

    # ---- applying -----------------------------------------------------------------------

    def test_observation_creates_and_updates_a_station(self):
        now = time.time()
        ev = [{"id": "obs-1", "type": "observation", "station": "RG-NEW", "name": "南津渡雨量站",
               "observed_at": utc(now - 60), "metric": "rain_1h_mm", "value": 20,
               "lon": 111.15, "lat": 26.06},
              {"id": "obs-2", "type": "observation", "station": "RG0",
               "observed_at": utc(now), "metric": "rain_1h_mm", "value": 55}]
        doc = self.accepted(self.post("meteorology", ev), 2)
        self.assertEqual(doc["results"][0]["changes"][0]["kind"], "created")
        f = wait_until(lambda: self.item("stations", "meteorology:RG-NEW"))
        self.assertEqual(f["properties"]["township_code"], "431102002")
        self.assertEqual(f["properties"]["kind"], "rain_gauge")
        self.assertEqual(f["properties"]["dept"], "meteorology")
        rg0 = wait_until(lambda: (lambda f: f if f and f["properties"]["value"] == 55 else None)(
            self.item("stations", "RG0")))
        self.assertEqual(rg0["properties"]["status"], "alarm")  # threshold 50
        self.assertEqual(rg0["properties"]["observed_at"], utc(now))

    def test_cameras_and_the_status_page(self):
        ev = [{"id": "cam-off", "type": "camera", "station": "CAM1",
               "observed_at": utc(time.time()), "status": "offline"}]
        self.accepted(self.post("water_resources", ev))

        def cams():
            doc = self.d.get("/feeds").json()
            return doc if doc["cameras"]["offline"] == 1 else None
        doc = wait_until(cams)
        self.assertEqual(doc["cameras"], {"total": 1, "online": 0, "offline": 1})
        depts = {d["code"]: d for d in doc["departments"]}
        self.assertEqual(len(depts), 19)
        self.assertEqual(depts["water_resources"]["state"], "ok")
        self.assertGreaterEqual(depts["water_resources"]["events_1h"], 1)
        self.assertGreaterEqual(depts["water_resources"]["events_24h"], 1)
        self.assertEqual(depts["water_resources"]["interval_s"], 300)
        self.assertEqual(depts["telecom"]["state"], "silent")
        self.assertIsNone(depts["telecom"]["last_event"])
        self.assertTrue(doc["writer"]["running"])
        self.accepted(self.post("water_resources", [dict(ev[0], id="cam-on", status="online")]))
        # the same counters for Prometheus
        metrics = self.metrics()
        self.assertEqual(metrics["situd_feed_writer_running"], 1)
        self.assertGreaterEqual(metrics["situd_feed_events_committed_total"],
                                doc["writer"]["events_committed"] + 1)
        self.assertGreaterEqual(metrics["situd_feed_commits_total"], 2)
        self.assertEqual(metrics["situd_feed_tokens"], doc["writer"]["tokens"])

    def test_feature_update_changes_a_depot(self):
        ev = [{"id": "fu-1", "type": "feature_update", "collection": "resources",
               "feature_id": "R1",
               "set": {"status": "standby", "items": {"sandbag": 5000, "tent": 12}}},
              {"id": "fu-2", "type": "feature_update", "collection": "hazards",
               "feature_id": "H1", "set": {"status": "rectified", "rectified_on": "2024-06-01"}}]
        self.accepted(self.post("emergency_management", ev), 2)

        def depot():
            t = self.d.get("/townships/431102001").json()
            items = t["maps"]["resources"]["items"]
            return t if items.get("sandbag", {}).get("qty") == 5000 else None
        t = wait_until(depot)
        self.assertIsNotNone(t, "the township summary never showed 5000 sandbags")
        self.assertEqual(t["maps"]["resources"]["items"]["tent"]["qty"], 12)
        self.assertEqual(t["maps"]["resources"]["items"]["life_jacket"]["qty"], 300)
        self.assertEqual(t["maps"]["hazards"]["by_status"], {"rectified": 1})

    def test_json_alert_shows_then_expires_by_itself(self):
        now = time.time()
        ev = [{"id": "al-exp", "type": "alert", "event": "rainstorm", "severity": "红色",
               "onset": utc(now - 60), "expires": utc(now + 3), "geometry": SQUARE}]
        self.accepted(self.post("meteorology", ev))
        fid = "meteorology:al-exp"
        self.assertTrue(wait_until(lambda: fid in self.alerts_at(111.05, 26.05)))
        t = self.d.get("/townships/431102001").json()
        self.assertIn(fid, [a["id"] for a in t["alerts"]])
        self.assertEqual([a for a in t["alerts"] if a["id"] == fid][0]["severity"], "red")
        self.assertNotIn(fid, self.alerts_at(111.15, 26.05))
        self.assertTrue(wait_until(lambda: fid not in self.alerts_at(111.05, 26.05),
                                   timeout=8))

    def test_cap_polygon_circle_geocode_update_cancel(self):
        poly = "<polygon>26.0,111.0 26.0,111.1 26.1,111.1 26.0,111.0</polygon>"
        r = self.post_cap(cap("CAP-P", poly))
        doc = self.accepted(r)
        self.assertEqual(doc["results"][0]["changes"][0]["id"], "meteorology:CAP-P")
        self.assertTrue(wait_until(lambda: "meteorology:CAP-P" in self.alerts_at(111.08, 26.01)))
        # a triangle below the diagonal of the square: the corner above it is outside
        self.assertNotIn("meteorology:CAP-P", self.alerts_at(111.02, 26.08))
        self.accepted(self.post_cap(cap("CAP-C", "<circle>26.05,111.15 2</circle>")))
        self.assertTrue(wait_until(lambda: "meteorology:CAP-C" in self.alerts_at(111.15, 26.05)))
        self.assertNotIn("meteorology:CAP-C", self.alerts_at(111.18, 26.05))
        geo = "<geocode><valueName>township</valueName><value>431102002</value></geocode>"
        self.accepted(self.post_cap(cap("CAP-G", geo, sev="Extreme")))
        self.assertTrue(wait_until(lambda: "meteorology:CAP-G" in self.alerts_at(111.19, 26.09)))
        # Update replaces CAP-G; Cancel ends the replacement
        self.accepted(self.post_cap(cap("CAP-G2", geo, msg="Update", sev="Minor",
                                        refs=["CAP-G"])))
        self.assertTrue(wait_until(lambda: self.alerts_at(111.19, 26.09).count(
            "meteorology:CAP-G2") == 1 and "meteorology:CAP-G" not in
            self.alerts_at(111.19, 26.09)))
        self.accepted(self.post_cap(cap("CAP-G3", msg="Cancel", refs=["CAP-G2"])))
        self.assertTrue(wait_until(lambda: "meteorology:CAP-G2" not in
                                   self.alerts_at(111.19, 26.09)))
        dup = self.post_cap(cap("CAP-P", poly)).json()
        self.assertEqual(dup["results"][0]["status"], "duplicate")

    def test_cap_refusals(self):
        for body, status, words in [
                (b"<alert", 400, "well-formed"),
                (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"/>', 400, "CAP 1.2"),
                (b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY a "aaaa">'
                 b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><alert>&b;</alert>', 400, "DOCTYPE"),
                (cap("CAP-X", ""), 400, "<area>"),
                (cap("CAP-X", "<circle>111.0 26.0</circle>"), 400, "circle"),
                (cap("CAP-X", "<polygon>26.0,111.0</polygon>", sev="Unknown"), 400, "Unknown"),
                (cap("CAP-T", msg="Cancel", refs=["NEVER-SENT"]), 422, "references"),
                (cap("CAP-S", "<circle>26.05,111.05 1</circle>").replace(
                    b"Actual", b"Test"), 422, "Actual")]:
            r = self.post_cap(body)
            doc = situd.assert_problem(self, r, status)
            self.assertIn(words, doc["detail"], body[:120])

    # ---- live push -----------------------------------------------------------------------

    def test_sse_push_replay_and_many_listeners(self):
        self.need_sse()
        listeners = [feedlib.SSE(self.d.port) for _ in range(20)]
        try:
            ev = [{"id": "sse-1", "type": "observation", "station": "RG0",
                   "observed_at": utc(time.time()), "metric": "rain_1h_mm", "value": 7.5}]
            seq = self.accepted(self.post("meteorology", ev))["results"][0]["seq"]
            for s in listeners:
                m = s.until(lambda m: m["id"] == seq)
                self.assertIsNotNone(m, "a listener missed seq %d" % seq)
                self.assertEqual(m["data"]["collection"], "stations")
                self.assertEqual(m["data"]["id"], "RG0")
                self.assertEqual(m["data"]["kind"], "updated")
                self.assertEqual(m["data"]["dept"], "meteorology")
            # the change is in the snapshot once its message is out
            self.assertEqual(self.item("stations", "RG0")["properties"]["value"], 7.5)
        finally:
            for s in listeners:
                s.close()
        more = [dict(ev[0], id="sse-%d" % i, value=float(i)) for i in range(2, 5)]
        seqs = [r["seq"] for r in self.accepted(self.post("meteorology", more), 3)["results"]]
        resumes = self.metrics()["situd_events_resume_replays_total"]
        replay = feedlib.SSE(self.d.port, last_id=seq)
        try:
            got = [replay.next()["id"] for _ in range(3)]
            self.assertEqual(got, seqs)
        finally:
            replay.close()
        since = feedlib.SSE(self.d.port, query="?since=%d" % seqs[1])
        try:
            self.assertEqual(since.next()["id"], seqs[2])
        finally:
            since.close()
        whole = feedlib.SSE(self.d.port, last_id=0)  # 0: from the start of the log
        try:
            self.assertEqual(whole.next()["data"]["seq"], 1)
        finally:
            whole.close()
        # since and 0 resume from the log; the first may be served from the
        # ring when it connects before the 3 changes are pushed
        self.assertGreaterEqual(self.metrics()["situd_events_resume_replays_total"], resumes + 2)
        situd.assert_problem(self, self.d.get("/events?since=soon"), 400)

    def test_a_stalled_listener_does_not_slow_ingest_and_catches_up(self):
        """A listener with a 4 KB receive window that reads nothing falls more
        than a ring (daemon/events.c: RING 4,096 messages) behind; situd
        goes on taking events, and once the listener reads again it is
        served the rest from the event log: every seq in order, none twice."""
        self.need_sse()
        lags = self.metrics()["situd_events_lag_replays_total"]
        stalled = feedlib.SSE(self.d.port, rcvbuf=4096)  # reads nothing until the end
        t0 = time.time()
        seqs, queued, still, b = [], [], 0, 0
        # post until situd's send buffer to it is full (its queue stops
        # growing), then more than a ring's worth
        while still < STALL_FULL_BATCHES:
            evs = [{"id": "stall-%d-%d" % (b, i), "type": "feature_update",
                    "collection": "resources", "feature_id": "R2",
                    "set": {"personnel": 100 + i}} for i in range(1000)]
            doc = self.accepted(self.post("reserves", evs), 1000)
            seqs += [r["seq"] for r in doc["results"]]
            queued.append(stalled.queues()[0])
            b += 1
            full = len(queued) > 3 and queued[-1] == queued[-4]
            still = still + 1 if full or still else 0
            self.assertLess(b, 100, "situd's queue to a stalled listener never stopped growing")
        elapsed = time.time() - t0
        self.assertLess(elapsed, 60, "%d events took %.1f s" % (len(seqs), elapsed))
        # what may have left the ring for this listener: the kernel's queues on
        # both ends, MHD's buffers and the listener's own (OUT_CHUNK, 32 KB)
        sent, unread = stalled.queues()
        self.assertIsNotNone(sent)
        in_flight = sent + unread + STALL_BUFFERS
        try:
            got, sizes = [], []
            while len(got) < len(seqs):
                before = stalled.nbytes
                m = stalled.next(10)
                self.assertIsNotNone(m, "stream ended after %d of %d" % (len(got), len(seqs)))
                if m["id"] and m["id"] >= seqs[0]:
                    got.append(m["id"])
                    sizes.append(stalled.nbytes - before)
            # in order, none lost, none twice (no list diff: difflib on 30,000 takes minutes)
            bad = next((i for i, (g, w) in enumerate(zip(got, seqs)) if g != w), None)
            self.assertIsNone(bad, "message %s: seq %s, %s expected" %
                              (bad, got[bad] if bad is not None else "", seqs[bad or 0]))
        finally:
            stalled.close()
        # it fell a whole ring behind, so the rest can only have come from the log
        behind = len(seqs) - in_flight // min(sizes)
        self.assertGreater(behind, RING, "queued %d + %d bytes: never a ring behind" %
                           (sent, unread))
        self.assertGreaterEqual(self.metrics()["situd_events_lag_replays_total"], lags + 1)

    def test_change_shows_in_next_tile_and_nearest(self):
        self.need_sse()
        z = 12
        x, y = tile_xy(111.15, 26.05, z)
        tile = "/tiles/resources/%d/%d/%d.mvt" % (z, x, y)
        near = "/nearest?lon=111.15&lat=26.05&collection=resources&k=5"
        self.assertEqual(self.d.get(near).status, 200)
        self.assertEqual(self.d.get(tile).status, 200)
        sse = feedlib.SSE(self.d.port)
        try:
            ev = [{"id": "tile-1", "type": "feature_update", "collection": "resources",
                   "feature_id": "R2", "set": {"status": "deployed", "personnel": 77}}]
            seq = self.accepted(self.post("emergency_management", ev))["results"][0]["seq"]
            self.assertIsNotNone(sse.until(lambda m: m["id"] == seq))
        finally:
            sse.close()
        after = self.d.get(tile)
        self.assertEqual(after.status, 200)
        self.assertIn(b"deployed", after.body)
        feats = self.d.get(near).json()["features"]
        r2 = [f for f in feats if f["id"] == "R2"]
        self.assertTrue(r2)
        self.assertEqual(r2[0]["properties"]["status"], "deployed")
        self.assertEqual(r2[0]["properties"]["personnel"], 77)

    def metrics(self):
        """situd's feed and /events metrics from /metrics: {name: value}."""
        out = {}
        for line in self.d.get("/metrics").body.decode().splitlines():
            if line.startswith("situd_feed") or line.startswith("situd_events"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def tile_cache(self):
        """situd's tile cache counters from /metrics: {"hits": n, "misses": n, ...}."""
        out = {}
        for line in self.d.get("/metrics").body.decode().splitlines():
            if line.startswith('situd_tile_cache{what="'):
                name, value = line.rsplit(" ", 1)
                out[name.split('"')[1]] = float(value)
        return out

    def published(self, sse, resp, n=1):
        """Waits for the /events message of the last event of an accepted batch:
        by then its changes are in the snapshot and the tile cache."""
        seq = self.accepted(resp, n)["results"][-1]["seq"]
        self.assertIsNotNone(sse.until(lambda m: m["id"] == seq), "seq %d never pushed" % seq)

    def cached(self, path):
        """GETs path; whether the tile cache answered it (a hit, no miss)."""
        before = self.tile_cache()
        r = self.d.get(path)
        after = self.tile_cache()
        self.assertEqual(r.status, 200, path)
        return r, (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (1, 0)

    def test_a_moved_station_leaves_its_old_tile_and_other_tiles_stay_cached(self):
        self.need_sse()
        z = 15
        old, new, other = ("/tiles/stations/%d/%d/%d.mvt" % ((z,) + tile_xy(lon, lat, z))
                           for lon, lat in ((111.02, 26.08), (111.18, 26.02), (111.03, 26.03)))
        self.assertEqual(len({old, new, other}), 3)
        ev = {"id": "move-1", "type": "observation", "station": "RG-MOVE", "name": "移动雨量站",
              "observed_at": utc(time.time() - 60), "metric": "rain_1h_mm", "value": 1,
              "lon": 111.02, "lat": 26.08}
        # a neighbour that stays keeps the old tile from being empty (an empty
        # tile is answered 204 without the cache)
        stay = dict(ev, id="move-0", station="RG-STAY", lon=111.021, lat=26.081)
        moved = dict(ev, id="move-2", observed_at=utc(time.time()), lon=111.18, lat=26.02)
        sse = feedlib.SSE(self.d.port)
        try:
            self.published(sse, self.post("meteorology", [stay, ev]), 2)
            for path, holds in ((old, b"RG-MOVE"), (other, b"CAM1")):
                self.d.get(path)
                r, hit = self.cached(path)
                self.assertTrue(hit, path + " is not cached")
                self.assertIn(holds, r.body)
            self.published(sse, self.post("meteorology", [moved]))
        finally:
            sse.close()
        self.assertIn(b"RG-MOVE", self.d.get(new).body)
        left = self.d.get(old)
        self.assertIn(b"RG-STAY", left.body)
        self.assertNotIn(b"RG-MOVE", left.body, "the old tile still shows the moved station")
        self.assertTrue(self.cached(other)[1], "a tile the move did not touch left the cache")

class ResumeAfterRestartTest(unittest.TestCase):
    """An EventSource that reconnects with Last-Event-ID to a restarted situd
    gets exactly the events after that id, across more than one page of the
    log (daemon/events.c: REPLAY_ROWS 256), then the live ones."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="situ-resume-")
        self.db = feedlib.tiny_db(self.tmp)
        self.tok = feedlib.add_token(self.db, "reserves")
        self.d = situd.Situd(self.db, "--quiet")

    def tearDown(self):
        self.d.stop_cleanly()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def post(self, tag, n):
        evs = [{"id": "%s-%d" % (tag, i), "type": "feature_update", "collection": "resources",
                "feature_id": "R1", "set": {"personnel": i}} for i in range(n)]
        r = self.d.post("/feeds/reserves/events", {"events": evs}, headers=auth(self.tok))
        self.assertEqual(r.status, 200, r.body[:300])
        return [res["seq"] for res in r.json()["results"]]

    def ids(self, sse, n):
        out = []
        for _ in range(n):
            m = sse.next()
            self.assertIsNotNone(m, "the stream stopped after %s" % out[-3:])
            out.append(m["id"])
        return out

    def test_last_event_id_resumes_across_a_restart(self):
        seqs = []
        for b in range(RESUME_EVENTS // 100):
            seqs += self.post("before-%d" % b, 100)
        self.d.stop_cleanly()
        self.d = situd.Situd(self.db, "--quiet")
        sse = feedlib.SSE(self.d.port, last_id=seqs[99])
        try:
            self.assertEqual(sse.status, 200)
            self.assertEqual(self.ids(sse, len(seqs) - 100), seqs[100:])
            later = self.post("after", 5)
            self.assertEqual(self.ids(sse, 5), later)
            self.assertIsNone(sse.next(1.0), "a message after the last event")
        finally:
            sse.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
