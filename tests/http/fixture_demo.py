"""fixture_demo.py: the demo stores the suites share, made once per CTest run
(the fixtures demo_db and demo_roads in tests/CMakeLists.txt) instead of once
per suite: loading the demo costs seconds, writing it again with its roads
tens of seconds, and most suites want one or both.

  fixture_demo.py db FILE [DIR]     the demo in DIR (default: the committed
                                    one, SITU_GEODATA) loaded into FILE
                                    (situd.demo_db and the browser tests
                                    copy it)
  fixture_demo.py roads DIR         the demo written again with its roads
                                    (`situ demo`: same seed, same bytes) into
                                    DIR (test_snapshot_file's, the browser
                                    tests')

Each is written beside its place and renamed into it, so a suite never sees
half of one."""

import os
import shutil
import subprocess
import sys
import tempfile

import situd


def load(src, out):
    """`situ load --all src` into out, replaced whole."""
    os.makedirs(os.path.dirname(out), exist_ok=True)
    part = out + ".part"
    for p in (part, part + "-wal", part + "-shm"):
        if os.path.exists(p):
            os.remove(p)
    subprocess.run([situd.SITU, "load", "--db", part, "--all", src], check=True,
                   stdout=subprocess.DEVNULL)
    if os.path.exists(part + "-wal") and os.path.getsize(part + "-wal"):
        sys.exit("fixture_demo.py: situ load left %s-wal: the file alone is not the store" % part)
    os.replace(part, out)


def demo_with_roads(out):
    """`situ demo` into the folder out, replaced whole."""
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    part = tempfile.mkdtemp(prefix=".demo-roads-", dir=parent)
    subprocess.run([situd.SITU, "demo", "--out", part], check=True, stdout=subprocess.DEVNULL)
    os.chmod(part, 0o755)
    shutil.rmtree(out, ignore_errors=True)
    os.replace(part, out)


def main(argv):
    if len(argv) in (3, 4) and argv[1] == "db":
        load(argv[3] if len(argv) == 4 else situd.GEODATA, argv[2])
    elif len(argv) == 3 and argv[1] == "roads":
        demo_with_roads(argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
