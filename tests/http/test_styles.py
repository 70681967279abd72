"""The map wall's look as MapLibre style documents against a real situd on the
demo: /styles lists day and dark, each is a valid style spec v8 document
(checked by @maplibre/maplibre-gl-style-spec's validate, from the wall's own
node_modules) resolved from the template daemon/web/style.json, with sources
on the request's own origin that situd answers, colour tables expanded, metre
radii at the city's latitude; bad names are 404 naming styleId, and a
web_dir without the template is 503."""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import situd  # noqa: E402

SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WEB_SRC = os.path.join(SRC, "daemon", "web")
STYLE_SPEC = os.path.join(WEB_SRC, "node_modules", "@maplibre", "maplibre-gl-style-spec",
                          "dist", "index.mjs")
STYLE_TYPE = "application/vnd.mapbox.style+json"


def web_conf(with_template):
    """A config whose [web] dir holds the template (or not)."""
    top = tempfile.mkdtemp(prefix="situ-styles-web-")
    web = os.path.join(top, "web")
    os.mkdir(web)
    if with_template:
        shutil.copy(os.path.join(WEB_SRC, "style.json"), web)
    for p in (top, web):
        os.chmod(p, 0o755)  # situd serves as `nobody` when the suite runs as root
    conf = os.path.join(top, "situd.ini")
    with open(conf, "w") as f:
        f.write("[web]\ndir = %s\n" % web)
    return conf


def walk(v):
    yield v
    if isinstance(v, dict):
        for x in v.values():
            yield from walk(x)
    elif isinstance(v, list):
        for x in v:
            yield from walk(x)


class StylesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-styles-")
        cls.d = situd.Situd(situd.demo_db(cls.tmp), "--config", web_conf(True))

    @classmethod
    def tearDownClass(cls):
        cls.d.stop_cleanly()

    def style(self, name, headers=None):
        r = self.d.get("/styles/%s.json" % name, headers)
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.ctype, STYLE_TYPE)
        return r.json()

    def test_list(self):
        doc = self.d.get("/styles").json()
        self.assertEqual([s["id"] for s in doc["styles"]], ["day", "dark"])
        for s in doc["styles"]:
            link = s["links"][0]
            self.assertEqual(link["rel"], "stylesheet")
            self.assertEqual(link["type"], STYLE_TYPE)
            self.assertEqual(link["href"], "%s/styles/%s.json" % (self.d.base, s["id"]))
            self.assertEqual(self.d.get(link["href"][len(self.d.base):]).status, 200)

    def test_valid_style_spec_v8(self):
        if not shutil.which("node") or not os.path.exists(STYLE_SPEC):
            self.skipTest("node or the wall's node_modules (maplibre-gl-style-spec) missing")
        docs = {n: self.style(n) for n in ("day", "dark")}
        script = ("import {validateStyleMin} from %s;\n"
                  "import {readFileSync} from 'node:fs';\n"
                  "const docs = JSON.parse(readFileSync(0, 'utf8'));\n"
                  "const out = {};\n"
                  "for (const [k, s] of Object.entries(docs))"
                  " out[k] = validateStyleMin(s).map((e) => e.message);\n"
                  "console.log(JSON.stringify(out));\n" % json.dumps(STYLE_SPEC))
        run = subprocess.run(["node", "--input-type=module", "-e", script], input=json.dumps(docs),
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(json.loads(run.stdout), {"day": [], "dark": []})

    def test_resolved_and_served_by_situd(self):
        day, dark = self.style("day"), self.style("dark")
        for doc in (day, dark):
            self.assertEqual(doc["version"], 8)
            # the template's own forms are all resolved
            keys = {k for v in walk(doc) if isinstance(v, dict) for k in v}
            self.assertFalse({k for k in keys if k.startswith("situ:") and k != "situ:group"
                              and k != "situ:colors"}, keys)
            ids = [l["id"] for l in doc["layers"]]
            self.assertEqual(len(ids), len(set(ids)))
            for l in doc["layers"]:
                self.assertTrue(l["type"] == "background" or l["source"] in doc["sources"], l["id"])
            # every source is on situd's own origin and situd answers it
            for sid, src in doc["sources"].items():
                url = src.get("url") or src.get("data")
                if isinstance(url, str):
                    self.assertTrue(url.startswith(self.d.base + "/"), url)
                    self.assertEqual(self.d.get(url[len(self.d.base):]).status, 200, url)
                    if src["type"] == "vector":
                        self.assertEqual(url, "%s/tiles/%s.json" % (self.d.base, sid))
            today = {situd.zone_day(), situd.zone_day(offset_days=-1)}
            self.assertIn(doc["state"]["today"]["default"], today)
        self.assertEqual((day["name"], dark["name"]), ("situ day", "situ dark"))
        bg = [d["layers"][0]["paint"]["background-color"] for d in (day, dark)]
        self.assertNotEqual(bg[0], bg[1])
        self.assertEqual([l["id"] for l in day["layers"]], [l["id"] for l in dark["layers"]])

    def test_colour_tables_and_metre_radius(self):
        doc = self.style("dark")
        colors = doc["metadata"]["situ:colors"]
        layer = {l["id"]: l for l in doc["layers"]}
        match = layer["hazards-point"]["paint"]["circle-color"]
        self.assertEqual(match[:2], ["match", ["to-string", ["get", "status"]]])
        pairs = dict(zip(match[2:-1:2], match[3:-1:2]))
        self.assertEqual(pairs, colors["HAZARD_STATUS"])
        self.assertEqual(colors["SEVERITY"]["red"], "#e60012")
        bbox = self.d.get("/collections/townships").json()["extent"]["spatial"]["bbox"][0]
        lat = (bbox[1] + bbox[3]) / 2
        radius = layer["hazard_sources-radius"]["paint"]["circle-radius"]
        self.assertEqual(radius[:3], ["interpolate", ["exponential", 2], ["zoom"]])
        z0 = 40075016.686 / 512 * math.cos(math.radians(lat))
        self.assertAlmostEqual(radius[4][2], z0, places=3)
        self.assertAlmostEqual(radius[6][2], z0 / 2 ** 22, places=9)

    def test_host_names_the_origin(self):
        doc = self.style("day", {"Host": "wall.example:8081"})
        self.assertEqual(doc["sources"]["hazards"]["url"], "http://wall.example:8081/tiles/hazards.json")

    def test_bad_requests(self):
        for bad in ("/styles/night.json", "/styles/day", "/styles/day.json/x", "/styles/../style.json"):
            situd.assert_problem(self, self.d.get(bad), 404)
        situd.assert_problem(self, self.d.get("/styles/night.json"), 404, "styleId")
        situd.assert_problem(self, self.d.get("/styles/day.json?x=1"), 400, "x")

    def test_missing_template_is_503(self):
        tmp = tempfile.mkdtemp(prefix="situ-styles-none-")
        d = situd.Situd(situd.demo_db(tmp), "--config", web_conf(False))
        try:
            situd.assert_problem(self, d.get("/styles/day.json"), 503)
            self.assertEqual(d.get("/styles").status, 200)
        finally:
            d.stop_cleanly()


if __name__ == "__main__":
    unittest.main(verbosity=2)
