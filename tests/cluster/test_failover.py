"""test_failover.py: the cluster of scripts/cluster.sh (etcd, three PostgreSQL
15 nodes under Patroni, synchronous mode) loses its primary while a client
writes, and no acknowledged write may be lost.

A writer inserts rows 1, 2, 3, ... (one transaction per row; the next id only
once the last was acknowledged) through the multi-host URL with
target_session_attrs=read-write, retrying a row after any error until it is
acknowledged. Meanwhile: kill -9 of the primary (Patroni and PostgreSQL, a
machine lost); then, once that node has rejoined and if the time allows,
SIGSTOP of the next primary for longer than the leader key's TTL (a machine
frozen), then SIGCONT. Afterwards every node holds exactly the rows 1..N,
N being the last acknowledged id (so every acknowledged row, once, and
nothing else), both old primaries are replicas again on the new timeline, and
the write outage of each fault is printed (the time from the fault to the
next acknowledged row). Before the faults: the primary requires a
synchronous standby that applies each commit before it is acknowledged
(synchronous_commit = remote_apply), so a row acknowledged by the primary is
visible on that standby at once; checked for the first rows.

Run by Debian's python3 (psycopg2 is python3-psycopg2). SITU_CLUSTER_LOGS=DIR
keeps every process's log in DIR. Uses ports from
SITU_TEST_CLUSTER_PORT (default 26432, see scripts/cluster.sh) and a
temporary SITU_CLUSTER_DIR; the cluster is stopped and removed at the end."""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER_SH = os.path.join(HERE, "..", "..", "scripts", "cluster.sh")
PORT = int(os.environ.get("SITU_TEST_CLUSTER_PORT", "26432"))
TTL = 10  # scripts/cluster.sh's leader key TTL, s
STATEMENT_DEADLINE = 3.0  # s; a frozen primary never answers (its kernel does)
SIGSTOP_SECONDS = TTL + 3  # long enough that the frozen primary loses its key
# s into the test: later, the SIGSTOP phase is skipped (keeps the test short
# on a slow machine); SITU_SIGSTOP_IF_BEFORE=1000 always runs it
SIGSTOP_IF_BEFORE = float(os.environ.get("SITU_SIGSTOP_IF_BEFORE", "40"))


def now():
    return time.monotonic()


def log(msg):
    sys.stderr.write("[%6.1f s] %s\n" % (now() - T0, msg))
    sys.stderr.flush()


T0 = now()


class Cluster:
    """scripts/cluster.sh in a temporary folder on the test's ports."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="situ-cluster-test-")
        os.rmdir(self.dir)  # cluster.sh makes it, owned by its user
        self.env = dict(os.environ, SITU_CLUSTER_DIR=self.dir, SITU_CLUSTER_PORT=str(PORT))
        self.passfile = os.path.join(self.dir, "pgpass")

    def run(self, *args, timeout=180):
        out = subprocess.run([CLUSTER_SH] + list(args), env=self.env, timeout=timeout,
                             stdout=subprocess.PIPE, text=True, check=True)
        return out.stdout.strip()

    def popen(self, *args):
        return subprocess.Popen([CLUSTER_SH] + list(args), env=self.env,
                                stdout=subprocess.PIPE, text=True)

    def node_port(self, node):
        return PORT + int(node[len("node"):]) - 1

    def primary(self):
        node, _ = self.run("primary").split()
        return node

    def connect(self, node=None, admin=False):
        """A connection to the cluster (the URL, as `situ`) or to one node:
        as `situ` over TCP, or as the superuser on the node's socket."""
        if admin:
            return psycopg2.connect(host=os.path.join(self.dir, node), port=self.node_port(node),
                                    user="postgres", dbname="situ")
        if node:
            return psycopg2.connect(host="127.0.0.1", port=self.node_port(node), user="situ",
                                    dbname="situ", passfile=self.passfile, connect_timeout=2)
        return psycopg2.connect(self.url, passfile=self.passfile, connect_timeout=2)


def query(conn, sql, args=None):
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None


class Deadline:
    """Ends a statement that has not answered within `seconds` by shutting
    its connection's socket down (a SIGSTOPped server's kernel still ACKs,
    so neither TCP nor libpq would notice)."""

    def __init__(self, conn, seconds):
        self.timer = threading.Timer(seconds, self._cut, (conn.fileno(),))

    @staticmethod
    def _cut(fd):
        try:
            with socket.socket(fileno=os.dup(fd)) as s:
                s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def __enter__(self):
        self.timer.start()

    def __exit__(self, *exc):
        self.timer.cancel()
        return False


class Writer(threading.Thread):
    """Rows 1, 2, ... through the cluster's URL, one transaction each; a row
    is retried after any error until acknowledged. acks: (id, time, port)."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster = cluster
        self.acks = []
        self.errors = []
        self.in_doubt = None  # the row whose last attempt failed, if the writer stopped so
        self.halt = threading.Event()

    def acked_after(self, t):
        return [a for a in self.acks if a[1] > t]

    def run(self):
        conn, row = None, 1
        while not self.halt.is_set():
            try:
                if conn is None:
                    conn = self.cluster.connect()
                    conn.autocommit = True
                with Deadline(conn, STATEMENT_DEADLINE), conn.cursor() as cur:
                    # txid_current() gives the transaction an id even when the
                    # row is there already (a retry after a commit whose
                    # answer was lost): its commit then waits for the
                    # synchronous standby too, which covers the earlier
                    # commit. A retry answered without that wait could
                    # acknowledge a row the standby does not have yet.
                    cur.execute("INSERT INTO acks (id) VALUES (%s) ON CONFLICT (id) DO NOTHING;"
                                " SELECT txid_current(), inet_server_port()", (row,))
                    port = cur.fetchone()[1]
                self.acks.append((row, now(), port))
                row += 1
                self.in_doubt = None
            except psycopg2.Error as e:
                self.in_doubt = row
                self.errors.append((now(), str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__))
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()


def wait_for(cond, timeout, what):
    end = now() + timeout
    while now() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what))


class FailoverTest(unittest.TestCase):
    def setUp(self):
        for p in [PORT + i for i in range(3)] + [PORT + 2576 + i for i in range(3)] + [PORT - 1642, PORT - 1641]:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", p)) == 0:
                    self.fail("port %d is in use: set SITU_TEST_CLUSTER_PORT to a free range" % p)
        self.cluster = Cluster()

    def tearDown(self):
        keep = os.environ.get("SITU_CLUSTER_LOGS")
        if keep:  # the logs of every process, for a post-mortem
            subprocess.run("mkdir -p '%s' && cd '%s' && cp --parents */*.log *.log '%s'"
                           % (keep, self.cluster.dir, keep), shell=True)
        t = now()
        self.cluster.run("stop", timeout=60)
        log("cluster stopped in %.1f s" % (now() - t))
        self.assertFalse(os.path.exists(self.cluster.dir), "cluster.sh stop left its folder")

    def check_synchronous(self, primary):
        """The primary requires a standby that applies each commit first."""
        with self.cluster.connect(primary, admin=True) as conn:
            commit, names = query(conn, "SELECT current_setting('synchronous_commit'),"
                                        " current_setting('synchronous_standby_names')")[0]
            sync = query(conn, "SELECT application_name FROM pg_stat_replication WHERE sync_state = 'sync'")
        conn.close()
        self.assertEqual(commit, "remote_apply")
        self.assertNotEqual(names, "", "no synchronous standby required")
        self.assertEqual(len(sync), 1, "not one synchronous standby: %r" % sync)
        return sync[0][0]

    def check_visible_on_standby(self, primary, standby, first, count):
        """Rows acknowledged by the primary are on the sync standby at once."""
        w = self.cluster.connect(primary)
        w.autocommit = True
        r = self.cluster.connect(standby)
        r.autocommit = True
        missing = []
        for row in range(first, first + count):
            query(w, "INSERT INTO acks (id) VALUES (%s)", (row,))
            if not query(r, "SELECT 1 FROM acks WHERE id = %s", (row,)):
                missing.append(row)
        w.close()
        r.close()
        self.assertEqual(missing, [], "acknowledged rows not yet on the synchronous standby %s" % standby)

    def wait_rejoined(self, node):
        """node is a replica again, streaming on a newer timeline."""
        self.cluster.run("wait-healthy", "90", timeout=120)
        self.assertNotEqual(self.cluster.primary(), node)
        with self.cluster.connect(node, admin=True) as conn:
            in_recovery = query(conn, "SELECT pg_is_in_recovery()")[0][0]
            receiver = query(conn, "SELECT status, received_tli FROM pg_stat_wal_receiver")
        conn.close()
        self.assertTrue(in_recovery, "%s is not a replica" % node)
        self.assertEqual(len(receiver), 1, "%s receives no WAL" % node)
        self.assertEqual(receiver[0][0], "streaming")
        log("%s rejoined as a replica, streaming timeline %d" % (node, receiver[0][1]))

    def fault(self, writer, name, action):
        """Runs action (the fault; it returns once the fault is in effect)
        and waits for the writer's next acknowledgement; returns the
        outage (s, from the fault to that acknowledgement) and what action
        returned."""
        result = action()
        t_fault = now()
        before = writer.acks[-1]
        wait_for(lambda: writer.acked_after(t_fault), 60, "a write acknowledged after the " + name)
        first = writer.acked_after(t_fault)[0]
        outage = first[1] - t_fault
        log("%s: row %d acknowledged by port %d %.2f s after it (%.2f s after the last one before,"
            " row %d by port %d)" % (name, first[0], first[2], outage, first[1] - before[1], before[0], before[2]))
        return outage, result

    def test_failover(self):
        t = now()
        self.cluster.url = self.cluster.run("start")
        log("cluster up in %.1f s: %s" % (now() - t, self.cluster.url))
        with self.cluster.connect() as conn:
            query(conn, "CREATE TABLE acks (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())")
        conn.close()

        primary = self.cluster.primary()
        standby = self.check_synchronous(primary)
        self.check_visible_on_standby(primary, standby, 1_000_000, 100)
        with self.cluster.connect(primary) as conn:
            query(conn, "DELETE FROM acks")
        conn.close()

        writer = Writer(self.cluster)
        writer.start()
        wait_for(lambda: len(writer.acks) >= 50, 30, "50 rows written before the fault")
        time.sleep(1)

        outages = []
        killed = primary
        outage, out = self.fault(writer, "kill -9 of %s" % killed, lambda: self.cluster.run("kill-primary"))
        self.assertEqual(out, killed)
        outages.append(outage)
        t = now()
        self.cluster.run("start")  # the killed node comes back
        self.wait_rejoined(killed)
        log("killed primary back as a replica %.1f s after its restart" % (now() - t))

        if now() - T0 < SIGSTOP_IF_BEFORE:
            frozen = self.cluster.primary()
            self.check_synchronous(frozen)
            proc = self.cluster.popen("stop-primary", str(SIGSTOP_SECONDS))
            # it prints the node once the processes are stopped
            outage, out = self.fault(writer, "SIGSTOP of %s for %d s" % (frozen, SIGSTOP_SECONDS),
                                     lambda: proc.stdout.readline().strip())
            self.assertEqual(out, frozen)
            outages.append(outage)
            self.assertEqual(proc.wait(timeout=SIGSTOP_SECONDS + 30), 0)
            proc.stdout.close()
            self.wait_rejoined(frozen)
        else:
            log("SIGSTOP phase skipped: %.0f s into the test" % (now() - T0))

        n = len(writer.acks)
        wait_for(lambda: len(writer.acks) >= n + 20, 30, "20 more rows on the new primary")
        writer.halt.set()
        writer.join(10)
        self.assertFalse(writer.is_alive())
        acked = [a[0] for a in writer.acks]
        self.assertEqual(acked, list(range(1, len(acked) + 1)))

        primary = self.cluster.primary()
        self.check_synchronous(primary)
        with self.cluster.connect(primary, admin=True) as conn:
            lsn = query(conn, "SELECT pg_current_wal_lsn()")[0][0]
        conn.close()
        for node in ("node1", "node2", "node3"):
            with self.cluster.connect(node, admin=True) as conn:
                if node != primary:
                    wait_for(lambda: query(conn, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn",
                                           (lsn,))[0][0], 30, "%s to replay the last write" % node)
                rows = [r[0] for r in query(conn, "SELECT id FROM acks ORDER BY id")]
            conn.close()
            lost = sorted(set(acked) - set(rows))
            self.assertEqual(lost, [], "%s lacks %d acknowledged rows" % (node, len(lost)))
            # a commit whose answer was lost when the writer stopped may be there
            extra = [r for r in rows if r not in set(acked) and r != writer.in_doubt]
            self.assertEqual(extra, [], "%s holds rows never written" % node)

        log("%d rows acknowledged, %d errors on the way, write outages: %s s; test took %.1f s"
            % (len(acked), len(writer.errors), ", ".join("%.2f" % o for o in outages), now() - T0))
        for t_err, msg in writer.errors[:3] + writer.errors[-3:]:
            log("  writer error at %.1f s: %s" % (t_err - T0, msg))


if __name__ == "__main__":
    unittest.main(verbosity=2)
