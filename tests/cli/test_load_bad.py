"""Bad and tricky inputs to `situ load` and `situ export` (issue 14), one row
per case: each runs the real `situ` binary against a fresh copy of the demo
store and asserts the exit status, the message, and the store's bytes (md5 of
the file and of `sqlite3 .dump`) before and after. Inputs are small files in
tests/data/load/ or written here at test time (the large ones).

Run one case: python3 tests/cli/test_load_bad.py -k NAME"""

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "http"))
import situd  # noqa: E402

DATA = os.path.join(HERE, "..", "data", "load")
SITU = situd.SITU


def store_state(db):
    """(md5 of the file, md5 of its dump, the -wal and -shm that exist)."""
    if not os.path.exists(db):
        return None
    dump = subprocess.run(["sqlite3", "-readonly", db, ".dump"], capture_output=True,
                          check=True).stdout
    side = tuple(s for s in ("-wal", "-shm", "-journal") if os.path.exists(db + s))
    return situd.md5_file(db), hashlib.md5(dump).hexdigest(), side


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)
    return path


# ---- inputs ---------------------------------------------------------------

# (name, args, setup, exit status, message regex, the store unchanged?, check)
# args and the message may name {db}, {dir} (the case's folder) and {data}.
# setup(dir) writes what the case needs; check(test, dir, out) asserts more.

def keep_file(d):
    write(os.path.join(d, "keep.dat"), "keep")


def keeps(name, text):
    def check(t, d, out):
        with open(os.path.join(d, name)) as f:
            t.assertEqual(f.read(), text)
    return check


def absent(*names):
    def check(t, d, out):
        left = [n for n in os.listdir(d) if n in names or ".situ-export-" in n]
        t.assertEqual(left, [])
    return check


def exported(name, count):
    def check(t, d, out):
        info = subprocess.run(["ogrinfo", "-ro", "-so", "-al", os.path.join(d, name)],
                              capture_output=True, text=True, check=True).stdout
        t.assertIn("Feature Count: %d" % count, info)
    return check


EXPORT = ["export", "--db", "{db}", "--collection", "resources"]
RES = ["load", "--db", "{db}", "--collection", "resources"]
HAZ = ["load", "--db", "{db}", "--collection", "hazards"]
GEODATA = situd.GEODATA
ROADS = ["load", "--db", "{db}", "--collection", "roads"]
# the shared OSM extract beside the source tree (CI), or one folder further up (a worktree)
HELSINKI = next((p for p in (os.path.join(situd.ROOT, *up, "shared", "data", "osm",
                                          "helsinki.osm.pbf") for up in ([".."], ["..", ".."]))
                 if os.path.exists(p)), "shared/data/osm/helsinki.osm.pbf is missing")
# the demo's hazards.shp: GBK text, no .cpg, CGCS2000 / 3-degree GK CM 111E
HAZ_MAP = ["--map", "twp_code=township_code", "--map", "resp_unit=responsible_unit"]


def demo_shapefile(cpg=None, cut=None):
    """Copies the demo's hazards.shp into the case's folder (with a .cpg
    saying cpg, or the .shp cut to cut bytes)."""
    def setup(d):
        for ext in ("shp", "shx", "dbf", "prj"):
            shutil.copyfile(os.path.join(GEODATA, "hazards." + ext),
                            os.path.join(d, "hazards." + ext))
        if cpg:
            write(os.path.join(d, "hazards.cpg"), cpg)
        if cut:
            with open(os.path.join(d, "hazards.shp"), "r+b") as f:
                f.truncate(cut(os.path.getsize(os.path.join(d, "hazards.shp"))))
    return setup


def names_unchanged(t, d, out):
    db = os.path.join(d, "situ.sqlite")
    got = subprocess.run(["sqlite3", db, "SELECT name FROM hazards WHERE id = 'HZ-000001'"],
                         capture_output=True, text=True, check=True).stdout.strip()
    t.assertRegex(got, r"^[\u4e00-\u9fff]+", got)


def report_says(pattern, name="situ-load-report.tsv"):
    def check(t, d, out):
        with open(os.path.join(d, name), encoding="utf-8") as f:
            text = f.read()
        t.assertRegex(text, pattern)
    return check


def query(sql, want):
    def check(t, d, out):
        got = subprocess.run(["sqlite3", os.path.join(d, "situ.sqlite"), sql],
                             capture_output=True, text=True, check=True).stdout.strip()
        t.assertEqual(got, want)
    return check


def new_store_is_wal(folder, name, n):
    """A new store, loaded aside with its journal in memory, is left in WAL
    mode, whole (integrity_check), holding its n features, and alone."""
    def check(t, d, out):
        db = os.path.join(d, folder, name)
        t.assertEqual(sorted(os.listdir(os.path.join(d, folder))), [name])
        got = subprocess.run(["sqlite3", db, "PRAGMA journal_mode; PRAGMA integrity_check; "
                              "SELECT count(*) FROM resources"],
                             capture_output=True, text=True, check=True).stdout.split()
        t.assertEqual(got, ["wal", "ok", str(n)])
    return check


def two_files_without_ids(d):
    shutil.copyfile(os.path.join(DATA, "no_ids.geojson"), os.path.join(d, "other.geojson"))


def hostile_ring(n):
    """A ring of n pseudo-random vertices inside one township: about n*n/10
    self-intersections, the repair of which grows faster than n."""
    def setup(d):
        import random
        r = random.Random(14)
        ring = [[111.6276625 + r.uniform(-.01, .01), 26.2345298 + r.uniform(-.01, .01)]
                for _ in range(n)]
        ring.append(ring[0])
        f = {"type": "Feature", "properties": {"id": "RZ-HOSTILE", "name": "自交",
                                               "hazard_type": "flood", "risk_level": 2},
             "geometry": {"type": "Polygon", "coordinates": [ring]}}
        write(os.path.join(d, "hostile.geojson"),
              json.dumps({"type": "FeatureCollection", "features": [f]}))
    return setup


def manifest(text):
    def setup(d):
        demo_shapefile()(d)
        write(os.path.join(d, "manifest.ini"), text)
    return setup


def multi_layer(d):
    subprocess.run(["ogr2ogr", "-f", "GPKG", "-nln", "depots", os.path.join(d, "two.gpkg"),
                    os.path.join(DATA, "codes.geojson")], check=True)
    subprocess.run(["ogr2ogr", "-f", "GPKG", "-update", "-nln", "teams",
                    os.path.join(d, "two.gpkg"), os.path.join(DATA, "codes.geojson")], check=True)

CASES = [
    # 1. export never destroys what it writes over
    ("export_over_store", EXPORT + ["-f", "GPKG", "--out", "{db}"], None, 1,
     r"is the store itself", True, None),
    ("export_over_store_forced", EXPORT + ["-f", "GPKG", "--out", "{db}", "--force"], None, 1,
     r"is the store itself", True, None),
    ("export_over_store_by_link", EXPORT + ["--out", "{dir}/link.sqlite", "--force"],
     lambda d: os.symlink(os.path.join(d, "situ.sqlite"), os.path.join(d, "link.sqlite")), 1,
     r"link.sqlite is the store itself", True, None),
    ("export_over_wal", EXPORT + ["--out", "{db}-wal", "--force"],
     lambda d: write(os.path.join(d, "situ.sqlite-wal"), ""), 1, r"is the store itself", True,
     None),
    ("export_failed_keeps_target", EXPORT + ["-f", "OSM", "--out", "{dir}/keep.dat", "--force"],
     keep_file, 1, r"could not write \S*keep.dat as OSM: OSM driver does not support", True,
     keeps("keep.dat", "keep")),
    ("export_existing_needs_force", EXPORT + ["--out", "{dir}/keep.dat"], keep_file, 1,
     r"keep.dat exists; give --force", True, keeps("keep.dat", "keep")),
    ("export_forced_replaces", EXPORT + ["--out", "{dir}/keep.dat", "--force"], keep_file, 0,
     r"772 features written", True, exported("keep.dat", 772)),
    ("export_partial_gpx", ["export", "--db", "{db}", "--collection", "townships", "-f", "GPX",
                            "--out", "{dir}/t.gpx"], None, 1,
     r"could not write \S*t.gpx as GPX: Geometry type", True, absent("t.gpx")),
    # not /dev/null or /dev/full: with the check broken, the test would replace the real node
    ("export_not_regular", EXPORT + ["--out", "{dir}/fifo", "--force"],
     lambda d: os.mkfifo(os.path.join(d, "fifo")), 1, r"fifo is not a regular file", True,
     lambda t, d, out: t.assertTrue(stat.S_ISFIFO(os.stat(os.path.join(d, "fifo")).st_mode))),
    ("export_no_folder", EXPORT + ["--out", "{dir}/nope/x.geojson"], None, 1,
     r"cannot write in \S*/nope: No such file or directory", True, None),
    ("export_shapefile_sidecar_exists", EXPORT + ["-f", "ESRI Shapefile", "--out", "{dir}/r.shp"],
     lambda d: write(os.path.join(d, "r.dbf"), "mine"), 1, r"r.dbf exists; give --force", True,
     keeps("r.dbf", "mine")),

    # 4. an id is the whole id
    ("id_with_nul", RES + ["{data}/nul_id.geojson"], None, 1,
     r"feature #0\trejected\tNUL character in id[\s\S]*all 1 features were rejected", True, None),
    ("id_with_control_character", RES + ["{data}/control_id.geojson"], None, 1,
     r"control character in id", True, None),
    ("ids_missing", RES + ["{data}/no_ids.geojson"], None, 1,
     r"has no id field \(id, fid or code\): name it with --id-field FIELD, or give "
     r"--generate-ids", True, None),
    ("ids_generated_never_collide",
     RES + ["--generate-ids", "{data}/no_ids.geojson"], two_files_without_ids, 0,
     r"inserted 2, updated 0", False, None),
    ("ids_generated_from_id_file", RES + ["--generate-ids", "{data}/codes.geojson"], None, 1,
     r"has an id field \(id\); --generate-ids is for files without ids", True, None),
    ("id_field_named", RES + ["--id-field", "ref",
                              "{data}/no_ids.geojson"], None, 0,
     r"inserted 2", False, query("SELECT name FROM resources WHERE id = 'DEPOT-2'", "第二个")),
    ("reload_reports_updates", ["load", "--db", "{db}", "--all", GEODATA], None, 0,
     r"resources +read 772, inserted 0, updated 772 \(already stored\)", False, None),

    # roads from OpenStreetMap: Helsinki lies outside every township of the demo
    ("osm_into_points_refused", HAZ + [HELSINKI], None, 1,
     r"an OpenStreetMap file loads into roads", True, None),
    ("osm_elsewhere_refused", ROADS + [HELSINKI], None, 1,
     r"905 of 905 features are in no township", True, None),
    ("osm_elsewhere_accepted", ROADS + ["--accept-outside", HELSINKI], None, 0,
     r"roads +read 905, inserted 905.*\n +skipped 2913: OpenStreetMap ways no car may drive",
     False, query("SELECT oneway || ' ' || speed_kmh FROM roads WHERE id = 'osm-w4247501'",
                  "yes 40.0")),
    ("roads_class_override_unknown", ROADS + ["--map", "class:Z=motorway",
                                              "{data}/roads.geojson"], None, 1,
     r"--map class:Z=motorway: expected class:GRADE_OR_LETTER=CLASS", True, None),

    # 3. text arrives as text
    ("utf8_invalid_in_geojson", RES + ["{data}/bad_utf8.geojson"], None, 1,
     r"RS-900001\trejected\tname is not valid UTF-8 \(it reads as GBK", True, None),
    ("gbk_undeclared_detected", HAZ + HAZ_MAP + ["{dir}/hazards.shp"], demo_shapefile(), 0,
     r"text of 3000 features had no declared encoding and was not UTF-8: read as GBK", False,
     names_unchanged),
    ("gbk_behind_lying_cpg", HAZ + HAZ_MAP + ["{dir}/hazards.shp"], demo_shapefile("UTF-8"), 1,
     r"all 3000 features were rejected", True,
     report_says(r"HZ-000001\trejected\tname is not valid UTF-8 \(it reads as GBK: give "
                 r"--encoding GBK\)")),
    ("gbk_lying_cpg_overridden", HAZ + HAZ_MAP + ["--encoding", "GBK", "{dir}/hazards.shp"],
     demo_shapefile("UTF-8"), 0, r"inserted 0, updated 3000", False, names_unchanged),
    ("encoding_for_geojson", RES + ["--encoding", "GBK", "{data}/codes.geojson"], None, 1,
     r"a GeoJSON file carries its own text encoding \(UTF-8\); --encoding is for Shapefiles",
     True, None),
    ("manifest_section_typo", ["load", "--db", "{db}", "--all", "{dir}"],
     manifest("[hazard]\nencoding = GBK\n"), 1, r"manifest.ini:2: section \[hazard\] names no "
     r"collection", True, None),
    ("manifest_encoding_for_geojson", ["load", "--db", "{db}", "--all", "{dir}"],
     lambda d: (shutil.copyfile(os.path.join(DATA, "codes.geojson"),
                                os.path.join(d, "resources.geojson")),
                write(os.path.join(d, "manifest.ini"), "[resources]\nencoding = GBK\n")), 1,
     r"carries its own text encoding \(UTF-8\); encoding in \[resources\] of", True, None),

    # 2. wrong places do not load silently
    ("wrong_crs", HAZ + HAZ_MAP + ["--s_srs", "EPSG:4547", "{dir}/hazards.shp"], demo_shapefile(),
     1, r"3000 of 3000 features are in no township or not in their own \(3000 outside every "
     r"township.*Likely a wrong CRS", True, report_says(r"HZ-000001\toutside\toutside every "
                                                        r"township; the file says 4311")),
    ("wrong_crs_accepted", HAZ + HAZ_MAP + ["--s_srs", "EPSG:4547", "--accept-outside",
                                            "{dir}/hazards.shp"], demo_shapefile(), 0,
     r"outside every township 3000", False, None),
    ("web_mercator_read_as_metres", ["load", "--db", "{db}", "--collection", "hazard_sources",
                                     "--s_srs", "EPSG:3857",
                                     os.path.join(GEODATA, "hazard_sources.csv")], None, 1,
     r"300 of 300 features are in no township", True, None),
    ("township_code_disagrees", RES + ["{data}/codes.geojson"], None, 1,
     r"RS-910002\ttownship\ttownship_code 431102001 in the file, but the geometry lies in "
     r"431102004[\s\S]*RS-910003\trejected\ttownship_code 431102999 names no township[\s\S]*"
     r"2 of 3 features are in no township or not in their own", True, None),
    ("township_code_disagrees_accepted", RES + ["--accept-outside", "{data}/codes.geojson"], None,
     0, r"inserted 2.*township_code corrected 1", False,
     query("SELECT group_concat(id || '=' || township_code) FROM resources WHERE id LIKE "
           "'RS-91%' ORDER BY id", "RS-910001=431102004,RS-910002=431102004")),

    # 5. bounded time for hostile geometry
    ("hostile_too_many_vertices", ["load", "--db", "{db}", "--collection", "risk_zones",
                                   "{dir}/hostile.geojson"], hostile_ring(250000), 1,
     r"RZ-HOSTILE\trejected\ttoo many vertices: 250001 \(more than 200000; --max-vertices\)",
     True, None),
    ("hostile_past_time_budget", ["load", "--db", "{db}", "--collection", "risk_zones",
                                  "--repair-seconds", "1", "{dir}/hostile.geojson"],
     hostile_ring(3000), 1,
     r"(?s)(?=.*risk_zones: 1 / 1 features)(?=.*RZ-HOSTILE\trejected\tpolygon too complex to "
     r"repair within 1 s)", True, None),

    # 7. repairs that change meaning are reported as such
    ("repair_changing_area_rejected", ["load", "--db", "{db}", "--collection", "risk_zones",
                                       "{data}/repairs.geojson"], None, 0,
     r"RZ-R-hole\trejected\trepair would change the area by 40.0% \(more than 1%[\s\S]*"
     r"RZ-R-spike\trepaired\trepaired \(GEOS MakeValid\); the area changed by 0.00%", False,
     query("SELECT group_concat(id) FROM risk_zones WHERE id LIKE 'RZ-R-%'", "RZ-R-spike")),
    ("repair_changing_area_flagged", ["load", "--db", "{db}", "--collection", "risk_zones",
                                      "--repair-policy", "flag", "{data}/repairs.geojson"], None,
     0, r"(?s)(?=.*RZ-R-hole\tflagged\trepaired \(GEOS MakeValid\); the area changed by "
     r"40.00%)(?=.*flagged for review 1)", False,
     query("SELECT count(*) FROM risk_zones WHERE id LIKE 'RZ-R-%'", "2")),
    ("repair_within_max_area_change", ["load", "--db", "{db}", "--collection", "risk_zones",
                                       "--max-area-change", "50%", "{data}/repairs.geojson"], None,
     0, r"RZ-R-hole\trepaired\trepaired \(GEOS MakeValid\); the area changed by 40.00%", False,
     None),
    ("repair_policy_unknown", ["load", "--db", "{db}", "--collection", "risk_zones",
                               "--repair-policy", "maybe", "{data}/repairs.geojson"], None, 2,
     r"--repair-policy maybe: reject or flag", True, None),

    # 6. truthful reports and exit codes
    ("empty_file", RES + ["{dir}/empty.geojson"], lambda d: write(os.path.join(d, "empty.geojson"),
                                                                  ""), 1,
     r"empty.geojson is empty \(0 bytes\)", True, None),
    ("directory", RES + ["{dir}"], None, 1, r"not a vector format GDAL reads \(a folder: --all",
     True, None),
    ("unreadable_file", ["AS_SERVICE_USER"] + RES + ["{dir}/secret.geojson"],
     lambda d: (shutil.copyfile(os.path.join(DATA, "codes.geojson"),
                                os.path.join(d, "secret.geojson")),
                os.chmod(os.path.join(d, "secret.geojson"), 0)), 1,
     r"cannot read \S*secret.geojson: Permission denied", True, None),
    ("missing_file", RES + ["{dir}/nope.geojson"], None, 1,
     r"cannot read \S*nope.geojson: No such file or directory", True, None),
    ("truncated_shapefile", HAZ + HAZ_MAP + ["--encoding", "GBK", "{dir}/hazards.shp"],
     demo_shapefile(cut=lambda n: n // 2), 1,
     r"hazards.shp is truncated: \d+ of the \d+ bytes its header announces", True, None),
    ("multi_layer_needs_layer", RES + ["{dir}/two.gpkg"], multi_layer, 1,
     r"has several layers \(depots, teams\) and none is named resources: say which with "
     r"--layer", True, None),
    ("all_rejected_fails", ["load", "--db", "{db}", "--collection", "risk_zones",
                            "{data}/codes.geojson"], None, 1,
     r"all 3 features were rejected", True, None),
    ("too_many_rejected", RES + ["--accept-outside", "--max-rejected", "20%",
                                 "{data}/codes.geojson"], None, 1,
     r"1 of 3 features were rejected \(more than 20%", True, None),
    ("failed_load_keeps_journal_mode", RES + ["{data}/nul_id.geojson"],
     lambda d: subprocess.run(["sqlite3", os.path.join(d, "situ.sqlite"),
                               "PRAGMA journal_mode=DELETE"], check=True, capture_output=True),
     1, r"all 1 features were rejected", True,
     query("PRAGMA journal_mode", "delete")),
    ("rollback_store_stays_rollback", RES + ["--id-field", "ref", "{data}/no_ids.geojson"],
     lambda d: (subprocess.run(["sqlite3", os.path.join(d, "situ.sqlite"),
                                "PRAGMA journal_mode=DELETE"], check=True, capture_output=True),
                os.chmod(os.path.join(d, "situ.sqlite"), 0o640)),
     0, r"inserted 2", False,
     lambda t, d, out: (
         query("PRAGMA journal_mode; SELECT count(*) FROM resources WHERE id LIKE 'DEPOT-%'",
               "delete\n2")(t, d, out),
         t.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, "situ.sqlite")).st_mode), 0o640))),
    ("new_store_is_wal_and_whole", ["load", "--db", "{dir}/new/situ3.sqlite", "--collection",
                                    "resources", "--id-field", "ref", "{data}/no_ids.geojson"],
     None, 0, r"inserted 2", True, new_store_is_wal("new", "situ3.sqlite", 2)),
    ("failed_load_creates_no_store", ["load", "--db", "{dir}/new/situ2.sqlite", "--collection",
                                      "resources", "{data}/nul_id.geojson"], None, 1,
     r"all 1 features were rejected", True, absent("new")),
]


class LoadBadInputs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-loadbad-")
        os.chmod(cls.tmp, 0o755)  # the service user passes through
        cls.base = situd.demo_db(cls.tmp)
        cls.base_state = store_state(cls.base)  # each case's copy, before any setup

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_case(self, name, args, setup, status, message, unchanged, check):
        d = os.path.join(self.tmp, name)
        os.mkdir(d)
        db = os.path.join(d, "situ.sqlite")
        shutil.copyfile(self.base, db)
        if setup:
            setup(d)
        fill = {"db": db, "dir": d, "data": DATA}
        # a copy of the base holds its bytes: its state is the base's, dumped once
        before = (store_state(db) if setup else self.base_state) if unchanged else None
        prefix = [SITU]
        if args[0] == "AS_SERVICE_USER":  # root reads anything: be the service user
            args = args[1:]
            if situd.SERVICE_USER:
                subprocess.run(["chown", "-R", situd.SERVICE_USER + ":", d], check=True)
                prefix = ["runuser", "-u", situd.SERVICE_USER, "--", SITU]
        r = subprocess.run(prefix + [a.format(**fill) for a in args], capture_output=True,
                           text=True, timeout=600, cwd=d)
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, status, out)
        self.assertRegex(out, message.format(**{k: re.escape(v) for k, v in fill.items()}))
        if unchanged:
            self.assertEqual(store_state(db), before, out)
        if check:
            check(self, d, out)
        return out


def make_test(case):
    def test(self):
        self.run_case(*case)
    return test


for _case in CASES:
    setattr(LoadBadInputs, "test_" + _case[0], make_test(_case))

if __name__ == "__main__":
    unittest.main(verbosity=2)
