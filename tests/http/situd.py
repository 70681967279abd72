"""situd.py: the harness every HTTP suite shares. It loads the demo data into a
temporary SpatiaLite file with the real `situ` CLI, starts a real situd on an
ephemeral 127.0.0.1 port, and offers small request helpers (standard library
only). Environment: SITU_BIN, SITUD_BIN, SITU_GEODATA, and the fixtures'
SITU_DEMO_DB, SITU_DEMO_ROADS, SITU_DEMO_ROADS_DB (set by CTest)."""

import atexit
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SITU = os.environ.get("SITU_BIN", os.path.join(ROOT, "build", "situ"))
SITUD = os.environ.get("SITUD_BIN", os.path.join(ROOT, "build", "situd"))
GEODATA = os.environ.get("SITU_GEODATA", os.path.join(ROOT, "geodata", "demo"))
# What CTest's fixtures made once for the whole run (tests/http/fixture_demo.py):
# the demo loaded, and the demo with its roads (a folder and its store).
DEMO_DB = os.environ.get("SITU_DEMO_DB")
DEMO_ROADS = os.environ.get("SITU_DEMO_ROADS")
DEMO_ROADS_DB = os.environ.get("SITU_DEMO_ROADS_DB")

# situd refuses to serve as root. Run as root (as CI is), the suites start it
# with --user nobody and hand it the folder of its database, as an operator
# would with a service user.
SERVICE_USER = "nobody" if os.geteuid() == 0 else None
USER_ARGS = ["--user", SERVICE_USER] if SERVICE_USER else []

_cached_db = {}


def _scratch_root():
    """Every temporary file and folder of this test process goes under one
    folder, removed when the process ends, so that a suite which does not
    clean up after itself (a failure half way, a log kept for the report)
    leaves nothing in /tmp: tempfile's own, and through TMPDIR those of the
    situ and situd it starts. World-writable and sticky as /tmp is, since
    situd runs as the service user. SITU_KEEP_TMP=1 keeps it."""
    root = tempfile.mkdtemp(prefix="situ-test-%s-" % os.path.basename(sys.argv[0]).split(".")[0])
    os.chmod(root, 0o1777)
    tempfile.tempdir = root
    os.environ["TMPDIR"] = root
    if os.environ.get("SITU_KEEP_TMP") == "1":
        print("situd.py: temporary files kept in " + root, file=sys.stderr)
    else:
        atexit.register(shutil.rmtree, root, True)
    return root


SCRATCH = _scratch_root()


def hand_over(db):
    """Gives the database's folder and files to the service user (as root);
    a PostgreSQL URL has no folder to give."""
    if not SERVICE_USER or db.startswith(("postgresql://", "postgres://")):
        return
    import pwd
    pw = pwd.getpwnam(SERVICE_USER)
    folder = os.path.dirname(os.path.abspath(db))
    os.chown(folder, pw.pw_uid, pw.pw_gid)
    for name in os.listdir(folder):
        os.chown(os.path.join(folder, name), pw.pw_uid, pw.pw_gid)


def fresh(path):
    """1 when path (a fixture's) exists and is newer than the situ binary
    that should have made it (a stale one from an older build is not used)."""
    return bool(path) and os.path.exists(path) and \
        os.path.getmtime(path) >= os.path.getmtime(SITU)


def demo_db(tmpdir):
    """A fresh copy of the demo loaded into a SpatiaLite file under tmpdir:
    of CTest's fixture (SITU_DEMO_DB) when there is one, else the first call
    per process loads it and later calls copy that file."""
    path = os.path.join(tmpdir, "situ.sqlite")
    if "path" not in _cached_db and fresh(DEMO_DB):
        _cached_db["path"] = DEMO_DB
    if "path" not in _cached_db:
        base = tempfile.mkdtemp(prefix="situ-http-base-")
        src = os.path.join(base, "demo.sqlite")
        subprocess.run([SITU, "load", "--db", src, "--all", GEODATA], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _cached_db["path"] = src
    shutil.copyfile(_cached_db["path"], path)
    return path


def demo_with_config(text):
    """A fresh copy of the demo (demo_db) and a situd config file beside it
    holding text: (db, conf), for Situd(db, "--config", conf)."""
    tmp = tempfile.mkdtemp(prefix="situ-conf-")
    db = demo_db(tmp)
    conf = os.path.join(tmp, "situd.ini")
    with open(conf, "w") as f:
        f.write(text)
    return db, conf


def keep_demo_db(loaded):
    """Takes a copy of loaded, a file into which `situ load --all` has just
    loaded the demo, as what demo_db() copies from now on in this process (a
    suite that loads the demo itself need not have it loaded twice)."""
    if "path" not in _cached_db:
        src = os.path.join(tempfile.mkdtemp(prefix="situ-http-base-"), "demo.sqlite")
        shutil.copyfile(loaded, src)
        _cached_db["path"] = src


def zone_day(zone="Asia/Shanghai", offset_days=0):
    """Today (or offset_days from it) in zone, YYYY-MM-DD: the day situd judges
    deadlines on is the day of its [web] timezone (Asia/Shanghai unless set)."""
    import datetime
    from zoneinfo import ZoneInfo
    day = datetime.datetime.now(ZoneInfo(zone)).date() + datetime.timedelta(days=offset_days)
    return day.isoformat()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def md5_file(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def table_digests(db, tables):
    """Each of tables' rows in the SpatiaLite file db hashed in key order
    (its first two columns): {table: md5}, to tell whether a store changed."""
    out = {}
    with sqlite3.connect("file:%s?mode=ro" % db, uri=True) as c:
        for t in tables:
            h = hashlib.md5()
            for row in c.execute("SELECT * FROM %s ORDER BY 1, 2" % t):
                h.update(repr(row).encode())
            out[t] = h.hexdigest()
    return out


def request_port(port, method, path, body=None, headers=None, timeout=30):
    """One request to a situd on 127.0.0.1:port that this harness did not
    start (a cluster's): (status, headers dict lower-cased, body bytes);
    raises OSError when it cannot be asked."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body, headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def ctype(self):
        return self.headers.get("content-type", "")


class Situd:
    """A real situd process on 127.0.0.1:<free port>."""

    def __init__(self, db, *args, env=None, wait_roads=True):
        self.db = db
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log = tempfile.NamedTemporaryFile(prefix="situd-", suffix=".log", delete=False)
        cmd = [SITUD, "--db", db, "--listen", "127.0.0.1:%d" % self.port] + list(args)
        if "--user" not in args:
            cmd += USER_ARGS
            hand_over(db)
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log,
                                     env=dict(os.environ, **(env or {})))
        self.wait_ready(wait_roads=wait_roads)

    def wait_ready(self, timeout=60, wait_roads=True):
        """Until /healthz answers 200 (and, with wait_roads, the road graph
        built behind the port is ready)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("situd exited: " + self.read_log())
            try:
                h = self.get("/healthz")
                if h.status == 200 and not (wait_roads and b'"roads":"loading"' in h.body):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("situd not ready: " + self.read_log())

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()[-4000:]

    def request(self, method, path, body=None, headers=None, timeout=30):
        req = urllib.request.Request(self.base + path, data=body, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return Response(r.status, dict(r.headers), r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, dict(e.headers), e.read())

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post(self, path, body, headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict({"Content-Type": "application/json"}, **(headers or {}))
        return self.request("POST", path, body=body, headers=headers)

    def alive(self):
        return self.proc.poll() is None and self.get("/healthz").status == 200

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signals situd and waits; its exit status (-9 if it had to be
        killed after timeout seconds)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def stop_cleanly(self, timeout=20):
        """SIGTERM, then fails unless situd exited 0 by itself: a hang ended by
        SIGKILL, a crash, or a sanitizer report at exit (ASan's leak check
        exits non-zero) is a failure of the suite that stopped it."""
        rc = self.stop(signal.SIGTERM, timeout)
        if rc != 0:
            raise AssertionError("situd exited %s after SIGTERM (0 expected): %s"
                                 % (rc, self.read_log()))


def assert_problem(test, resp, status, param=None):
    """resp is an RFC 9457 problem of this status (naming param if given)."""
    test.assertEqual(resp.status, status, resp.body[:300])
    test.assertTrue(resp.ctype.startswith("application/problem+json"), resp.ctype)
    doc = resp.json()
    test.assertEqual(doc["status"], status)
    test.assertTrue(doc.get("title"))
    test.assertTrue(doc.get("detail"))
    if param is not None:
        test.assertEqual(doc.get("parameter"), param, doc)
    return doc
