#!/usr/bin/env python3
"""How store_0c4fc39.db and store_0c4fc39.json were made (issue 10: a store written by tree 0c4fc39
is resumed correctly by today's daemon; tests/daemon/test_old_store_db.py). Unlike
tests/db/data/store_0c4fc39.sql (a text dump, replayed by today's SQLite), the .db is the file
0c4fc39's daemon and its SQLite wrote, byte for byte, with only its WAL checkpointed into it.
Run once, by hand, with 0c4fc39's own binaries and test helpers:

    git -C /work/main worktree add /work/wt-old 0c4fc39 --detach && cd /work/wt-old
    meson setup build -Dcuda=disabled -Dmetal=disabled && ninja -C build
    FAIRWAYD=build/daemon/fairwayd FAIRWAY_WORKER=build/bench/worker/fairway-worker \\
        PYTHONPATH=tests/daemon python3 THIS_FILE OUTDIR

Job 1 (SMALL_GEMM: seed 1234, 6 evaluations of K=64,M=64,N=64) runs to the end, finalists
included, and 0c4fc39's answers to status, rankings and best for it are kept in the .json. Job 2
(seed 77, 12 evaluations of one other shape, so that nothing later changes job 1's best) is killed
with kill -9 once 3 of its seqs are stored, so it is left 'running' with seqs 0..k-1 stored and a
measure in flight. The store (fairway.db and fairway.db-wal, copied before anything else opens
them) is checkpointed with sqlite3's PRAGMA wal_checkpoint(TRUNCATE) so that one file holds it all.
The same job 2 spec is then run uninterrupted on a second 0c4fc39 daemon: its sequence of variant
keys, seq by seq, is in the .json too."""
import json
import os
import shutil
import subprocess
import sys

from fwtest import SMALL_GEMM, Daemon, check

JOB2 = dict(SMALL_GEMM, shapes=[{"M": 128, "N": 64, "K": 64}], seed=77, budget=12, iters=5)
SEQ = "SELECT v.key FROM measurements m JOIN variants v ON v.id = m.variant_id WHERE m.job = ? ORDER BY m.seq"

out = sys.argv[1]
commit = subprocess.run(["git", "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
d = Daemon()
d.start()
c = d.client()
a = c.call("submit", {"spec": SMALL_GEMM})["job"]
check(c.watch(a)[-1]["state"] == "done", "job 1 done")
answers = {"commit": commit, "job1_submitted": SMALL_GEMM, "job2_submitted": JOB2,
           "job1_status": c.call("status", {"job": a}),
           "job1_rankings": c.call("rankings", {"job": a}),
           "job1_best": c.call("best", {"family": "gemm", "shape": SMALL_GEMM["shapes"][0]})}
b = c.call("submit", {"spec": JOB2})["job"]
c.watch(b, until=lambda p: p["evaluated"] >= 3)
d.kill9()
c.close()
db = os.path.join(out, "store_0c4fc39.db")
shutil.copyfile(d.db, db)
if os.path.exists(d.db + "-wal"):
    shutil.copyfile(d.db + "-wal", db + "-wal")
subprocess.run(["sqlite3", db, "PRAGMA wal_checkpoint(TRUNCATE);"], check=True)
check(not os.path.exists(db + "-wal"), "the WAL is checkpointed into the .db")
d.cleanup()

u = Daemon()
u.start()
c = u.client()
j = c.call("submit", {"spec": JOB2})["job"]
check(c.watch(j)[-1]["state"] == "done", "job 2's spec uninterrupted on 0c4fc39")
answers["job2_uninterrupted_keys"] = [r[0] for r in u.sql(SEQ, (j,))]
c.close()
u.terminate()
u.cleanup()
with open(os.path.join(out, "store_0c4fc39.json"), "w") as f:
    json.dump(answers, f, indent=1)   # unsorted: a spec's key order is part of its text
    f.write("\n")
