#!/usr/bin/env python3
"""load_timeline.py SITU DEMO DB [STEP]: runs `SITU load --all DEMO --db DB`
and prints, every STEP seconds (0.5), the CPU each of its threads used in
that step (% of one core; threads by id, the first the loader's) beside the
collection it is reading then (its progress line): which thread is the
limit, and when one of them waits. Ends with each thread's CPU seconds."""
import os
import re
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    """{tid: CPU seconds} of pid's threads now."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except FileNotFoundError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / TICK
    return out


def main():
    situ, demo, db = sys.argv[1:4]
    step = float(sys.argv[4]) if len(sys.argv) > 4 else 0.5
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    p = subprocess.Popen([situ, "load", "--all", demo, "--db", db, "--report",
                          db + ".report.tsv"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    last = {"line": ""}

    def read_progress():
        buf = b""
        while True:
            ch = p.stderr.read(1)
            if not ch:
                return
            if ch in b"\r\n":
                text = re.sub(r"\x1b\[K", "", buf.decode(errors="replace")).strip()
                if text:
                    last["line"] = text
                buf = b""
            else:
                buf += ch

    threading.Thread(target=read_progress, daemon=True).start()
    t0, prev, total, order = time.monotonic(), {}, {}, []
    while p.poll() is None:
        time.sleep(step)
        now = thread_cpu(p.pid)
        for tid in now:
            if tid not in order:
                order.append(tid)
        row = []
        for tid in order[:4]:
            d = now.get(tid, prev.get(tid, 0)) - prev.get(tid, 0)
            row.append("%4.0f" % (100 * d / step))
        prev.update(now)
        total.update(now)
        print("%6.1f s  %s  %s" % (time.monotonic() - t0, " ".join(row), last["line"]))
    print("exit %d after %.1f s; CPU s per thread: %s" % (
        p.returncode, time.monotonic() - t0,
        ", ".join("%d: %.1f" % (t, total[t]) for t in order)))


if __name__ == "__main__":
    main()
