#!/usr/bin/env python3
"""How store_0c4fc39.sql was made (issue 10: a store written by tree 0c4fc39 must be opened, migrated
and resumed by today's code). Run once, by hand, with 0c4fc39's own binaries and helpers:

    git worktree add --detach /tmp/old 0c4fc39 && cd /tmp/old && meson setup build && ninja -C build
    FAIRWAYD=build/daemon/fairwayd FAIRWAY_WORKER=build/bench/worker/fairway-worker \\
        PYTHONPATH=tests/daemon python3 THIS_FILE OUT.sql

Job 1 (seed 1234, 6 evaluations) runs to the end, finalists included; job 2 (seed 77, 16 evaluations)
is killed with kill -9 after 3 are stored, so it is left 'running' with seqs 0..k-1 stored. The store
is then dumped as SQL text (sqlite3 .dump, then its PRAGMA user_version)."""
import subprocess
import sys

from fwtest import SMALL_GEMM, Daemon, check

out = sys.argv[1]
d = Daemon()
d.start()
c = d.client()
a = c.call("submit", {"spec": SMALL_GEMM})["job"]
fin = c.watch(a)[-1]
check(fin["state"] == "done", "job 1 done")
b = c.call("submit", {"spec": dict(SMALL_GEMM, seed=77, budget=16, iters=5)})["job"]
c.watch(b, until=lambda p: p["evaluated"] >= 3)
d.kill9()
c.close()
print(d.sql("SELECT id, state, planned FROM jobs"), d.sql("SELECT job, COUNT(*) FROM measurements GROUP BY job"))
version = d.sql("PRAGMA user_version")[0][0]
dump = subprocess.run(["sqlite3", d.db, ".dump"], check=True, capture_output=True, text=True).stdout
with open(out, "w") as f:
    # .dump leaves out user_version, the store's schema version: written after the dump
    f.write("-- A fairway store written by tree 0c4fc39 (tests/db/data/make_store_0c4fc39.py).\n")
    f.write(dump)
    f.write("PRAGMA user_version=%d;\n" % version)
d.cleanup()
