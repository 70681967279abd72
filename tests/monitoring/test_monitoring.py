"""test_monitoring.py: the Grafana dashboard and the Prometheus alert rules in
scripts/monitoring/ (issue 21). promtool (Debian's prometheus package) checks
the rules and runs their unit tests (alerts_test.yml: each alert fires when it
should, and not before); every metric name the dashboard and the rules use
must be in a live situd's /metrics, and the per-department feed metrics the
silence alert reads must follow a real POST. Environment: SITU_BIN, SITUD_BIN."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import feedlib  # noqa: E402
import situd  # noqa: E402

MONITORING = os.path.join(situd.ROOT, "scripts", "monitoring")
RULES = os.path.join(MONITORING, "situd-alerts.yml")
DASHBOARD = os.path.join(MONITORING, "situd-dashboard.json")
PROMTOOL = shutil.which("promtool")
NAME = re.compile(r"\bsitud_[a-z_]+\b")


def promtool(*args):
    return subprocess.run([PROMTOOL] + list(args), capture_output=True, text=True, timeout=120,
                          cwd=HERE)


def exposed(text):
    """{metric name: {label string: value}} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if m:
            out.setdefault(m.group(1), {})[m.group(2) or ""] = float(m.group(3))
    return out


def dashboard_exprs():
    with open(DASHBOARD, encoding="utf-8") as f:
        doc = json.load(f)
    exprs = [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]
    return doc, exprs


@unittest.skipUnless(PROMTOOL, "no promtool: scripts/setup.sh installs it (package prometheus)")
class RulesTest(unittest.TestCase):
    def test_rules_check(self):
        r = promtool("check", "rules", RULES)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("4 rules found", r.stdout)

    def test_each_alert_fires_as_expected(self):
        r = promtool("test", "rules", "alerts_test.yml")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(os.path.join(HERE, "alerts_test.yml"), encoding="utf-8") as f:
            tested = set(re.findall(r"alertname: (\w+)", f.read()))
        with open(RULES, encoding="utf-8") as f:
            rules = set(re.findall(r"- alert: (\w+)", f.read()))
        self.assertEqual(tested, rules, "an alert without a unit test")


class DashboardTest(unittest.TestCase):
    def test_dashboard_is_well_formed(self):
        doc, exprs = dashboard_exprs()
        ids = [p["id"] for p in doc["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        self.assertGreaterEqual(len(exprs), 20)
        for p in doc["panels"]:
            if p["type"] != "row":
                self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
                self.assertTrue(p["targets"], p["title"])


class LiveNamesTest(unittest.TestCase):
    """The names against a real situd that has taken one feed event."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-monitoring-")
        db = feedlib.tiny_db(cls.tmp)
        token = feedlib.add_token(db, "water_resources")
        cls.d = situd.Situd(db, "--quiet")
        cls.t0 = int(time.time())
        ev = [{"id": "mon-1", "type": "camera", "station": "CAM1",
               "observed_at": feedlib.utc(time.time()), "status": "online"}]
        headers = dict(feedlib.auth(token), **{"Content-Type": "application/json"})
        r = cls.d.request("POST", "/feeds/water_resources/events",
                          body=json.dumps({"events": ev}).encode(), headers=headers)
        assert r.status == 200, r.body
        cls.d.get("/tiles/all/10/829/434.mvt")  # a request of a route with a histogram
        cls.metrics = exposed(cls.d.get("/metrics").body.decode())
        cls.t1 = int(time.time())

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_dashboard_names_exist(self):
        _, exprs = dashboard_exprs()
        used = set(NAME.findall(" ".join(exprs)))
        self.assertEqual(sorted(used - set(self.metrics)), [], "not in /metrics")
        print("families the dashboard does not show:",
              sorted({re.sub(r"_(bucket|sum|count)$", "", n) for n in self.metrics} -
                     {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}))

    def test_alert_names_exist(self):
        with open(RULES, encoding="utf-8") as f:
            used = set(NAME.findall(f.read()))
        self.assertGreaterEqual(len(used), 5)
        self.assertEqual(sorted(used - set(self.metrics)), [], "not in /metrics")

    def test_department_metrics_follow_the_feed(self):
        last = self.metrics["situd_feed_department_last_event_timestamp_seconds"]
        interval = self.metrics["situd_feed_department_interval_seconds"]
        self.assertEqual(set(last), set(interval))
        self.assertGreaterEqual(len(last), 19)  # every department
        t = last['{dept="water_resources"}']
        self.assertTrue(self.t0 - 1 <= t <= self.t1 + 1, (self.t0, t, self.t1))
        self.assertEqual(last['{dept="forestry"}'], 0)  # never reported
        self.assertEqual(interval['{dept="water_resources"}'], 300)


if __name__ == "__main__":
    unittest.main(verbosity=2)
