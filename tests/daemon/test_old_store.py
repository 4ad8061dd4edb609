"""A store written by tree 0c4fc39 (tests/db/data/store_0c4fc39.sql, issue 10) under today's daemon:
it opens, its finished job answers as before, its unfinished job (killed after 3 of 16 seqs) resumes
and completes with every seq once and the old rows untouched, and the same spec submitted anew gives
the stored spec text, spec hash and plan (variant keys and hashes) byte for byte.
usage: test_old_store.py STORE.sql"""
import os
import sqlite3
import sys

from fwtest import SMALL_GEMM, Daemon, check, finish, guarded

d = Daemon()
with guarded(d):
    con = sqlite3.connect(d.db)
    with open(sys.argv[1]) as f:
        con.executescript(f.read())
    con.close()
    old_rows = d.sql("SELECT seq, variant_id, median_ns, record, created_at FROM measurements WHERE job = 2 ORDER BY seq")
    check([r[0] for r in old_rows] == [0, 1, 2], "the fixture's job 2 holds seqs 0..2")
    d.start()
    c = d.client()
    fin = c.watch(2)[-1]
    check(fin["state"] == "done" and fin["evaluated"] == 16, "the old store's running job resumes and completes (%s)" % fin)
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM measurements WHERE job = 2")[0]
    check(n == (16, 16, 0, 15), "every seq of job 2 once: %s" % (n,))
    again = d.sql("SELECT seq, variant_id, median_ns, record, created_at FROM measurements WHERE job = 2 AND seq < 3 "
                  "ORDER BY seq")
    check(again == old_rows, "the measurements stored by 0c4fc39 are untouched")
    check("job 2 resumes" in d.read_log(), "the log says job 2 resumed")

    st = c.call("status", {"job": 1})
    stored_ok = d.sql("SELECT COUNT(*) FROM measurements WHERE job = 1 AND status = 'ok'")[0][0]
    check(st["state"] == "done" and st["evaluated"] == 6 and st["counts"]["ok"] == stored_ok,
          "job 1 as stored: %s" % st.get("counts"))
    r = c.call("rankings", {"job": 1})
    stored_fin = d.sql("SELECT seq FROM finalists WHERE job = 1 AND rank = 1")
    check(r and r["rankings"][0]["seq"] == stored_fin[0][0], "job 1's winner is the stored finalists' rank 1")

    new = c.call("submit", {"spec": SMALL_GEMM})["job"]
    check(c.watch(new)[-1]["state"] == "done", "the same spec runs again today")
    a = d.sql("SELECT spec, spec_hash, seed, planned, source_hash FROM jobs WHERE id = 1")[0]
    b = d.sql("SELECT spec, spec_hash, seed, planned, source_hash FROM jobs WHERE id = ?", (new,))[0]
    check(a == b, "spec text, spec hash, seed, plan size and source hash as 0c4fc39 stored them")
    plan = "SELECT m.seq, v.key, v.hash, v.source_hash FROM measurements m JOIN variants v ON v.id = m.variant_id " \
           "WHERE m.job = ? ORDER BY m.seq"
    check(d.sql(plan, (1,)) == d.sql(plan, (new,)), "the plan: same variant at every seq, same variant rows")
    c.close()
    check(d.terminate() == 0, "clean exit")
finish()
