"""test_package.py: the Debian package on this machine (issue 21). Builds
situ_<version>_amd64.deb with scripts/package.sh from the build CTest runs,
checks it with lintian (no errors), installs it with apt-get, starts situd
from the installed files with the unit's own ExecStart (no systemd runs as
PID 1 here, so the command is run by hand, as root, on a free port: situd
binds, then serves as the user situ the postinst created), loads the demo
with the installed `situ` as situ into the installed store, checks /healthz,
the wall and a tile; then removes (the data stays), purges (the data goes,
the user situ stays, as Debian packages leave system users) and checks the
machine is as the test found it. Whatever fails, the finally clause purges
the package and removes what the test added. Root only: it installs a
package. Environment: SITU_BIN (its folder is the build), SITU_GEODATA."""

import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))
import situd  # noqa: E402

BUILD = os.path.dirname(os.path.abspath(situd.SITU))
UNIT = "/lib/systemd/system/situd.service"
STORE = "/var/lib/situ/situ.sqlite"
# Everything the package puts on the machine besides the user.
PATHS = ["/usr/bin/situd", "/usr/bin/situ", "/usr/share/situ", "/usr/share/doc/situ",
         UNIT, "/etc/situ", "/var/lib/situ"]
APT = ["apt-get", "-y", "-q", "-o", "DPkg::Lock::Timeout=120"]
MARKER = "/usr/share/situ/web/pkg-test-marker.css"
DEMO_TILE = "/tiles/all/10/829/434.mvt"  # Yongzhou's city centre at zoom 10


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def installed():
    r = run(["dpkg-query", "-W", "-f=${Status}", "situ"])
    return r.returncode == 0 and "installed" in r.stdout


def user_exists(name="situ"):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def processes_of(exe):
    pids = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink("/proc/%s/exe" % p) == exe:
                pids.append(int(p))
        except OSError:  # gone, or not ours to read
            pass
    return pids


class InstalledSitud(situd.Situd):
    """situd started with the installed unit's ExecStart, on a free port."""

    def __init__(self, cmd):
        self.port = situd.free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log = tempfile.NamedTemporaryFile(prefix="situd-pkg-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(cmd + ["--listen", "127.0.0.1:%d" % self.port],
                                     stdout=self.log, stderr=self.log)
        self.wait_ready()


def exec_start():
    with open(UNIT) as f:
        lines = [l for l in f.read().splitlines() if l.startswith("ExecStart=")]
    assert len(lines) == 1, lines
    return shlex.split(lines[0][len("ExecStart="):])


@unittest.skipUnless(os.geteuid() == 0, "installs a package: run as root (as CI does)")
class PackageTest(unittest.TestCase):
    def setUp(self):
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            if re.search(r"^SITU_(ASAN|UBSAN|FUZZ):BOOL=ON$", f.read(), re.M):
                self.skipTest("a sanitizer build: the package is built from a Release build")
        if installed():
            self.skipTest("a situ package is installed on this machine; not touching it")
        left = [p for p in PATHS if os.path.lexists(p)]
        if left:
            self.skipTest("the package's paths already exist: %s" % left)
        self.had_user = user_exists() is not None
        self.tmp = tempfile.mkdtemp(prefix="situ-pkg-")
        self.daemon = None

    def tearDown(self):
        if self.daemon and self.daemon.proc.poll() is None:
            self.daemon.proc.kill()
            self.daemon.proc.wait(10)
        if installed() or run(["dpkg-query", "-W", "situ"]).returncode == 0:
            run(["dpkg", "--purge", "situ"])
        for p in PATHS:  # a failed purge must not leave them either
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            elif os.path.lexists(p):
                os.unlink(p)
        if not self.had_user and user_exists():
            run(["deluser", "--system", "--quiet", "situ"])
            run(["delgroup", "--system", "--quiet", "situ"])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def build(self):
        r = run([os.path.join(situd.ROOT, "scripts", "package.sh")],
                env=dict(os.environ, BUILD_DIR=BUILD))
        self.assertEqual(r.returncode, 0, r.stderr)
        deb = r.stdout.strip().splitlines()[-1]
        self.assertRegex(os.path.basename(deb), r"^situ_\d+\.\d+\.\d+_amd64\.deb$")
        return os.path.abspath(deb)

    def check_lintian(self, deb):
        self.assertTrue(shutil.which("lintian"), "no lintian: scripts/setup.sh installs it")
        r = run(["lintian", "--tag-display-limit", "0", deb])
        errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
        self.assertEqual(errors, [], r.stdout)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        print("lintian warnings:", [l for l in r.stdout.splitlines() if l.startswith("W:")])

    def check_depends(self, deb):
        deps = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
        names = [d.split()[0] for d in deps.split(",")]
        self.assertIn("libgdal32", names)  # from dpkg-shlibdeps
        self.assertNotIn("libprotobuf-c1", names)
        self.assertEqual([n for n in names if not n.startswith("lib") and n not in
                          ("adduser", "zlib1g")], [], deps)

    def check_installed(self):
        u = user_exists()
        self.assertIsNotNone(u, "postinst did not create the user situ")
        self.assertLess(u.pw_uid, 1000, "situ is not a system user")
        st = os.stat("/var/lib/situ")
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (u.pw_uid, 0o750))
        self.assertEqual(os.stat(STORE).st_uid, u.pw_uid)
        conff = run(["dpkg-query", "-W", "-f=${Conffiles}", "situ"]).stdout
        self.assertIn("/etc/situ/situd.ini", conff)
        for p in ("/usr/bin/situd", "/usr/bin/situ", "/usr/share/situ/web/index.html", UNIT):
            self.assertTrue(os.path.exists(p), p)
        # Nothing was started: no process runs the installed situd.
        self.assertEqual(processes_of("/usr/bin/situd"), [], "the package started situd")
        if shutil.which("systemd-analyze"):
            r = run(["systemd-analyze", "verify", UNIT])
            self.assertEqual(r.returncode, 0, r.stderr)

    def load_demo(self):
        demo = os.path.join(self.tmp, "demo")
        shutil.copytree(situd.GEODATA, demo)
        os.chmod(self.tmp, 0o755)
        r = run(["runuser", "-u", "situ", "--", "/usr/bin/situ", "load", "--db", STORE,
                 "--all", demo])
        self.assertEqual(r.returncode, 0, r.stderr)

    def check_serving(self):
        cmd = exec_start()
        self.assertEqual(cmd[0], "/usr/bin/situd")
        # A file only the installed wall folder holds (the build's web/ may
        # exist too): situd must serve the one /etc/situ/situd.ini names.
        with open(MARKER, "w") as f:
            f.write("/* situ package test */\n")
        self.daemon = InstalledSitud(cmd)
        uid = [l.split()[1] for l in open("/proc/%d/status" % self.daemon.proc.pid)
               if l.startswith("Uid:")][0]
        self.assertEqual(int(uid), user_exists().pw_uid, "situd does not serve as situ")
        self.assertEqual(self.daemon.get("/healthz").status, 200)
        wall = self.daemon.get("/")
        self.assertEqual(wall.status, 200)
        self.assertIn(b"maplibre-gl", wall.body)
        marker = self.daemon.get("/web/" + os.path.basename(MARKER))
        self.assertEqual(marker.status, 200, "the wall is not served from /usr/share/situ/web")
        os.unlink(MARKER)
        tile = self.daemon.get(DEMO_TILE)
        self.assertEqual(tile.status, 200, tile.body[:200])
        self.assertIn("vnd.mapbox-vector-tile", tile.ctype)
        self.assertGreater(len(tile.body), 1000)
        items = self.daemon.get("/collections/townships/items?limit=1").json()
        self.assertEqual(items["numberMatched"], 182)  # the demo, loaded into the store
        self.assertEqual(self.daemon.stop(), 0)

    def test_install_serve_remove_purge(self):
        deb = self.build()
        self.check_lintian(deb)
        self.check_depends(deb)
        r = run(APT + ["install", "--no-install-recommends", deb],
                env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # Only situ itself: its Depends were all here, so the purge leaves
        # the machine's package list as it found it.
        self.assertRegex(r.stdout, r"\b1 newly installed", r.stdout)
        self.check_installed()
        self.load_demo()
        self.check_serving()

        r = run(["dpkg", "--remove", "situ"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists("/usr/bin/situd"))
        self.assertTrue(os.path.exists(STORE), "remove deleted the data")
        self.assertTrue(os.path.exists("/etc/situ/situd.ini"), "remove deleted the config")

        r = run(["dpkg", "--purge", "situ"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(run(["dpkg-query", "-W", "situ"]).returncode == 0)
        self.assertEqual([p for p in PATHS if os.path.lexists(p)], [])
        self.assertIsNotNone(user_exists(), "purge removed the system user situ")


if __name__ == "__main__":
    unittest.main(verbosity=2)
