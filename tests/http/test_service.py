"""test_service.py: situd as a service. As root it refuses to run without
--user, binds its port and then serves as that user, with no way back to
root and nothing written outside its data folder; it tells systemd
(NOTIFY_SOCKET) when it is ready and when it stops; `situ backup` copies the
file while situd ingests, each copy whole and consistent, and the writer is
never held meanwhile; systemd-analyze verifies the unit file."""

import os
import pwd
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import feedlib  # noqa: E402
import situd  # noqa: E402

ROOT = os.geteuid() == 0


def run_situd(*args, env=None):
    return subprocess.run([situd.SITUD, *args], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **(env or {})))


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def written_files(pid):
    """Paths of the regular files the process holds open for writing,
    except its stdin/stdout/stderr."""
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        if int(fd) <= 2:
            continue
        try:
            path = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
            flags = int(info["flags"].strip(), 8)
        except OSError:
            continue
        if path.startswith("/") and flags & 3 and os.path.isfile(path):
            out.append(path)
    return out


def observation(k, dept="meteorology"):
    return {"id": "svc-%d" % k, "type": "observation", "station": "S-svc-%d" % k,
            "observed_at": feedlib.utc(time.time()), "metric": "rain_1h_mm", "value": k,
            "lon": 111.05, "lat": 26.05}


class PrivilegeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="situ-service-")
        cls.db = feedlib.tiny_db(cls.tmp)
        cls.token = feedlib.add_token(cls.db, "meteorology")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @unittest.skipUnless(ROOT, "needs root")
    def test_root_without_user_is_refused_before_anything_is_opened(self):
        port = situd.free_port()
        before = sorted(os.listdir(self.tmp))
        r = run_situd("--db", self.db, "--listen", "127.0.0.1:%d" % port)
        self.assertEqual(r.returncode, 2)
        self.assertIn("refusing to run as root", r.stderr)
        self.assertIn("--user", r.stderr)
        self.assertEqual(sorted(os.listdir(self.tmp)), before)  # no -wal, no -shm
        with self.assertRaises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()

    def test_bad_users_are_refused(self):
        r = run_situd("--db", self.db, "--listen", "127.0.0.1:0", "--user", "no-such-situ-user")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no-such-situ-user", r.stderr)
        r = run_situd("--db", self.db, "--listen", "127.0.0.1:0", "--user", "root")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unprivileged", r.stderr)
        if not ROOT:  # only root may become someone else
            r = run_situd("--db", self.db, "--listen", "127.0.0.1:0", "--user", "nobody")
            self.assertEqual(r.returncode, 2)
            self.assertIn("needs situd started as root", r.stderr)

    @unittest.skipUnless(ROOT, "needs root")
    def test_serves_as_the_user_and_writes_only_in_its_folder(self):
        d = situd.Situd(self.db, "--quiet")  # as root: --user nobody, the folder handed over
        try:
            r = d.post("/feeds/meteorology/events", {"events": [observation(1)]},
                       headers=feedlib.auth(self.token))
            self.assertEqual(r.status, 200, r.body[:300])
            st = proc_status(d.proc.pid)
            nobody = pwd.getpwnam("nobody")
            self.assertEqual(st["Uid"].split(), [str(nobody.pw_uid)] * 4)
            self.assertEqual(st["Gid"].split(), [str(nobody.pw_gid)] * 4)
            self.assertEqual(st["NoNewPrivs"], "1")
            self.assertEqual(int(st["CapEff"], 16), 0)
            files = written_files(d.proc.pid)
            self.assertTrue(files, "the writer holds the database open")
            folder = os.path.realpath(self.tmp) + "/"
            for path in files:
                self.assertTrue(path.startswith(folder), path)
            for name in os.listdir(self.tmp):
                if name.startswith("feeds.sqlite"):
                    owner = os.stat(os.path.join(self.tmp, name)).st_uid
                    self.assertEqual(owner, nobody.pw_uid, name)
        finally:
            self.assertEqual(d.stop(), 0)


class NotifyTest(unittest.TestCase):
    def setUp(self):
        out = subprocess.run(["ldd", situd.SITUD], capture_output=True, text=True).stdout
        if "libsystemd" not in out:
            self.skipTest("situd built without libsystemd")
        self.tmp = tempfile.mkdtemp(prefix="situ-notify-")
        os.chmod(self.tmp, 0o755)
        self.db = situd.demo_db(self.tmp)
        self.sock_path = os.path.join(self.tmp, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        os.chmod(self.sock_path, 0o777)  # as systemd's own socket: the service user sends
        self.sock.settimeout(30)

    def tearDown(self):
        self.sock.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_ready_once_serving_and_stopping_on_sigterm(self):
        d = situd.Situd(self.db, "--quiet", env={"NOTIFY_SOCKET": self.sock_path})
        msg = self.sock.recv(4096).decode()
        self.assertIn("READY=1", msg.split("\n"))
        self.assertEqual(d.get("/healthz").status, 200)
        d.proc.send_signal(signal.SIGTERM)
        self.assertIn("STOPPING=1", self.sock.recv(4096).decode().split("\n"))
        self.assertEqual(d.proc.wait(30), 0)
        d.log.close()


class UnitFileTest(unittest.TestCase):
    def test_systemd_unit_verifies_and_confines(self):
        unit = os.path.join(situd.ROOT, "scripts", "situd.service")
        with open(unit) as f:
            text = f.read()
        for line in ("Type=notify", "ProtectSystem=strict", "NoNewPrivileges=yes",
                     "ReadWritePaths=/var/lib/situ"):
            self.assertIn(line + "\n", text)
        self.assertRegex(text, r"ExecStart=\S*situd .*--user situ")
        self.assertTrue(shutil.which("systemd-analyze"),
                        "no systemd-analyze: scripts/setup.sh installs it (package systemd)")
        tmp = tempfile.mkdtemp(prefix="situ-unit-")
        try:
            local = os.path.join(tmp, "situd.service")
            with open(local, "w") as f:
                f.write(text.replace("/usr/local/bin/situd", situd.SITUD))
            r = subprocess.run(["systemd-analyze", "verify", local], capture_output=True,
                               text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class BackupTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="situ-backup-")
        self.db = situd.demo_db(self.tmp)  # 10 MB: each backup takes a while
        self.token = feedlib.add_token(self.db, "meteorology")
        self.out = tempfile.mkdtemp(prefix="situ-backup-out-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        shutil.rmtree(self.out, ignore_errors=True)

    def test_backups_while_ingesting_are_whole_and_consistent(self):
        d = situd.Situd(self.db, "--quiet", *feedlib.many_stations_args(self.tmp))
        acked, stop, errors, acks = [0], threading.Event(), [], []

        def ingest():
            k = 0
            while not stop.is_set():
                batch = [observation(k + i) for i in range(20)]
                r = d.post("/feeds/meteorology/events", {"events": batch},
                           headers=feedlib.auth(self.token))
                if r.status != 200:
                    errors.append(r.status)
                    return
                k += len(batch)
                acked[0] = k
                acks.append(time.monotonic())

        t = threading.Thread(target=ingest, daemon=True)
        t.start()
        try:
            self.assertTrue(feedlib.wait_until(lambda: acked[0] >= 100, 30))
            counts = []
            for i in range(3):
                low = acked[0]
                copy = os.path.join(self.out, "copy%d.sqlite" % i)
                r = subprocess.run([situd.SITU, "backup", "--db", self.db, "--out", copy],
                                   capture_output=True, text=True, timeout=120)
                t1 = time.monotonic()
                self.assertEqual(r.returncode, 0, r.stderr)
                high = acked[0]
                # the writer went on: while the backup ran (the seconds it reports,
                # ending before the process did) acknowledgements kept coming, with
                # no pause as long as half the backup
                took = float(re.search(r" in ([0-9.]+) s", r.stdout + r.stderr).group(1))
                start = min(t1 - took, t1)
                during = [t for t in acks if start < t < t1]
                pause = max(b - a for a, b in zip([start] + during, during + [t1]))
                sys.stderr.write("\n  backup %d: %.2f s, %d batches acknowledged meanwhile, "
                                 "longest pause %.3f s" % (i, took, len(during), pause))
                self.assertLess(pause, took / 2, "the backup held the writer")
                chk = subprocess.run([situd.SITU, "check", "--db", copy], capture_output=True,
                                     text=True)
                self.assertEqual(chk.returncode, 0, chk.stderr)
                con = sqlite3.connect(copy)
                logged = con.execute("SELECT count(*) FROM event_log").fetchone()[0]
                stations = con.execute("SELECT count(*) FROM stations WHERE id LIKE '%:S-svc-%'"
                                       ).fetchone()[0]
                con.close()
                self.assertFalse(os.path.exists(copy + "-wal"))
                self.assertTrue(low <= logged <= high, (low, logged, high))
                self.assertEqual(stations, logged)  # each event with its effect, or neither
                counts.append(logged)
            self.assertEqual(counts, sorted(counts))
            self.assertEqual([f for f in os.listdir(self.out) if "part" in f], [])
        finally:
            stop.set()
            t.join(30)
            self.assertEqual(d.stop(), 0)
        self.assertEqual(errors, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
