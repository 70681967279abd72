"""`situ drill check` and `situ drill import` (issue 19) with the real `situ`
binary: the two demo scenarios in geodata/drills pass, checked against the
demo store (every id they name exists there); a broken copy fails naming the
inject and the field of each fault; a planner's GBK CSV imports to a JSON
scenario that passes, and one with a fault writes nothing; usage errors
exit 2.

Run one case: python3 tests/cli/test_drill.py -k NAME"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import situd  # noqa: E402

SITU = situd.SITU
DRILLS = os.path.join(HERE, "..", "..", "geodata", "drills")
SCENARIOS = ("xiang_flood.json", "majiang_landslide.json")


def run(*args):
    return subprocess.run([SITU, "drill", *args], capture_output=True, text=True)


class DrillCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-drill-")
        cls.db = situd.demo_db(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def case_dir(self, name):
        d = os.path.join(self.tmp, name)
        shutil.copytree(DRILLS, d)
        return d

    def test_demo_scenarios_pass_against_the_demo_store(self):
        for name in SCENARIOS:
            with open(os.path.join(DRILLS, name), encoding="utf-8") as f:
                n = len(json.load(f)["injects"])
            r = run("check", os.path.join(DRILLS, name), "--db", self.db)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"injects      {n} over PT0S", r.stdout)
            self.assertIn("references checked against", r.stdout)
            self.assertTrue(r.stdout.endswith("ok\n"), r.stdout)
        flood = run("check", os.path.join(DRILLS, SCENARIOS[0])).stdout
        self.assertIn("cap 3", flood)
        self.assertIn("references not checked (give --db FILE)", flood)

    def test_broken_copy_names_inject_and_field(self):
        d = self.case_dir("broken")
        path = os.path.join(d, "xiang_flood.json")
        with open(path, encoding="utf-8") as f:
            sc = json.load(f)
        byid = {inj["id"]: inj for inj in sc["injects"]}
        byid["XJ-11"]["payload"]["feature_id"] = "RS-999999"
        byid["XJ-04"]["payload"]["value"] = "high"
        byid["XJ-09"]["payload"]["station"] = "ST-000080"  # water_resources', not emergency's
        byid["XJ-19"]["payload"]["until"] = "2026-06-18T16:00:00+08:00"
        byid["XJ-07"]["offset"] = "1 hour"
        sc["area"].append("431199999")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(sc, f, ensure_ascii=False)
        cap = os.path.join(d, "xiang_flood", "rainstorm_orange.xml")
        with open(cap, encoding="utf-8") as f:
            xml = f.read()
        with open(cap, "w", encoding="utf-8") as f:
            f.write(xml.replace("<status>Exercise</status>", "<status>Actual</status>"))
        r = run("check", path, "--db", self.db)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertNotIn("ok", r.stdout)
        for want in (
                "7 faults",
                "scenario area[9]: '431199999' names no township in the store",
                "inject 4 (XJ-04) payload.value: must be a number",
                "inject 5 (XJ-05) payload.status: in xiang_flood/rainstorm_orange.xml: "
                "<status> is Actual: a drill takes only Exercise alerts",
                "inject 7 (XJ-07) offset: '1 hour' is not an ISO 8601 duration",
                "inject 9 (XJ-09) payload.station: emergency_management has no station "
                "'ST-000080' in the store",
                "inject 11 (XJ-11) payload.feature_id: no resources feature 'RS-999999' in "
                "the store",
                "inject 19 (XJ-19) payload.until: is an absolute time"):
            self.assertIn(want, r.stderr)

    def test_gbk_csv_imports_to_a_scenario_that_passes(self):
        d = tempfile.mkdtemp(dir=self.tmp)
        with open(os.path.join(d, "depot.json"), "w", encoding="utf-8") as f:
            json.dump({"collection": "resources", "feature_id": "RS-000015",
                       "set": {"items": {"sandbag": 30000}}}, f)
        plan = ("时间,发送部门,类型,内容,预期行动\n"
                "0:00,应急管理局,导调,演练开始,宣布开始\n"
                "0:10,水利局,观测,\"{\"\"station\"\":\"\"ST-000080\"\",\"\"metric\"\":"
                "\"\"water_level_m\"\",\"\"value\"\":76.4}\",超警戒告警\n"
                "0:20,应急管理局,要素更新,depot.json,核对库存\n")
        csv = os.path.join(d, "plan.csv")
        with open(csv, "wb") as f:
            f.write(plan.encode("gbk"))
        out = os.path.join(d, "plan.json")
        r = run("import", csv, "-o", out, "--area", "431103007,431103003",
                "--title", "表格演练", "--objective", "检验水位告警", "--db", self.db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("read as GBK", r.stderr)
        with open(out, encoding="utf-8") as f:
            sc = json.load(f)
        self.assertEqual(sc["exercise_id"], "plan.csv")
        self.assertEqual(sc["title"], "表格演练")
        self.assertEqual([i["kind"] for i in sc["injects"]],
                         ["note", "observation", "feature_update"])
        self.assertEqual(sc["injects"][1]["offset"], "PT10M")
        self.assertEqual(sc["injects"][1]["dept"], "water_resources")
        self.assertEqual(sc["injects"][2]["payload"]["feature_id"], "RS-000015")  # inlined
        self.assertEqual(run("check", out, "--db", self.db).returncode, 0)
        r = run("import", csv, "-o", out, "--area", "431103007")
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists (--force to replace it)", r.stderr)
        self.assertEqual(run("import", csv, "-o", out, "--area", "431103007",
                             "--force").returncode, 0)

        bad = os.path.join(d, "bad.csv")
        with open(bad, "w", encoding="utf-8-sig") as f:
            f.write(plan.replace("0:20,应急管理局", "0:20,防汛办"))
        out2 = os.path.join(d, "bad.json")
        r = run("import", bad, "-o", out2, "--area", "431103007")
        self.assertEqual(r.returncode, 1)
        self.assertIn("inject 2 (row-4) dept: '防汛办' is not a department", r.stderr)
        self.assertFalse(os.path.exists(out2))
        self.assertEqual([n for n in os.listdir(d) if ".tmp-" in n], [])

    def test_usage_and_unreadable_files(self):
        self.assertEqual(run().returncode, 2)
        self.assertEqual(run("check").returncode, 2)
        self.assertEqual(run("frobnicate", "x").returncode, 2)
        self.assertEqual(run("import", "x.csv").returncode, 2)  # no -o
        r = run("check", os.path.join(self.tmp, "nope.json"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such file", r.stderr)
        junk = os.path.join(self.tmp, "junk.json")
        with open(junk, "w") as f:
            f.write("{\"injects\": [\n")
        r = run("check", junk)
        self.assertEqual(r.returncode, 1)
        self.assertIn("malformed JSON at line 2", r.stderr)
        self.assertEqual(run("check", "--help").returncode, 0)


if __name__ == "__main__":
    unittest.main()
