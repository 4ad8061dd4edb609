"""The store file tree 0c4fc39 wrote (tests/data/store_0c4fc39.db, made by
tests/data/make_store_0c4fc39_db.py; issue 10: "a store written by 0c4fc39 is resumed correctly by
the new daemon") under today's daemon. tests/daemon/test_old_store.py replays a text dump of such a
store through today's SQLite; this one opens the very file 0c4fc39's SQLite wrote (schema version 2,
WAL mode in its header) and checks it against what 0c4fc39's daemon itself answered
(tests/data/store_0c4fc39.json):
  - job 1 (done): status, rankings and best answer as 0c4fc39 answered them, field by field;
  - job 2 (left 'running' by kill -9 after 3 of 12 seqs): resumes and finishes with each planned seq
    stored exactly once and the 3 old rows untouched; its sequence of variants is the one 0c4fc39
    gave for the same spec uninterrupted, and the one today's daemon gives for it uninterrupted (job
    3: same resolved spec text, spec hash, seed and plan size as stored). Both jobs are strategy
    'random', a fixed order, so the sequences must be equal: the default strategy is 'auto' today,
    but a stored job carries its strategy in its resolved spec, and so does the submitted profile.
usage: test_old_store_db.py STORE.db ANSWERS.json"""
import json
import math
import shutil
import sys

from fwtest import Daemon, check, finish, guarded

SEQ = "SELECT m.seq, v.key, v.hash, v.source_hash FROM measurements m JOIN variants v ON v.id = m.variant_id " \
      "WHERE m.job = ? ORDER BY m.seq"
ROWS = "SELECT seq, variant_id, status, median_ns, record, created_at FROM measurements WHERE job = ? ORDER BY seq"
JOB = "SELECT spec, spec_hash, seed, planned, source_hash, strategy FROM jobs WHERE id = ?"


def same(old, new, path="", skip=()):
    """The fields 0c4fc39 answered, each with the same value in today's answer (today's answer may
    add fields); numbers equal to 1e-12 relative (the text of a double may be spelled differently).
    Returns the differences as strings."""
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return ["%s: %r became %r" % (path, old, new)]
        out = []
        for k, v in old.items():
            if k in skip:
                continue
            if k not in new:
                out.append("%s.%s: missing today" % (path, k))
            else:
                out += same(v, new[k], path + "." + k, skip)
        return out
    if isinstance(old, list):
        if not isinstance(new, list) or len(old) != len(new):
            return ["%s: %d entries became %r" % (path, len(old), new if not isinstance(new, list) else len(new))]
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in same(a, b, "%s[%d]" % (path, i), skip)]
    if isinstance(old, float) or isinstance(new, float):
        ok = isinstance(new, (int, float)) and not isinstance(new, bool) and math.isclose(old, new, rel_tol=1e-12)
        return [] if ok else ["%s: %r became %r" % (path, old, new)]
    return [] if old == new else ["%s: %r became %r" % (path, old, new)]


with open(sys.argv[2]) as f:
    old = json.load(f)
d = Daemon()
with guarded(d):
    shutil.copyfile(sys.argv[1], d.db)
    check(d.sql("PRAGMA user_version")[0][0] == 2 and d.sql("PRAGMA journal_mode")[0][0] == "wal",
          "the fixture is 0c4fc39's file: schema version 2, WAL mode")
    states = d.sql("SELECT id, state, planned FROM jobs ORDER BY id")
    check(states == [(1, "done", 6), (2, "running", 12)], "the fixture: job 1 done, job 2 running (%s)" % states)
    old_rows = d.sql(ROWS, (2,))
    check([r[0] for r in old_rows] == [0, 1, 2], "the fixture's job 2 holds seqs 0..2")
    old_job2 = d.sql(JOB, (2,))[0]
    old_job1 = d.sql("SELECT * FROM jobs WHERE id = 1")
    d.start()
    c = d.client()

    # Job 1, done under 0c4fc39: answered as 0c4fc39 answered.
    diff = same(old["job1_status"], c.call("status", {"job": 1}))
    check(not diff, "job 1's status as 0c4fc39 answered it" + "".join("\n# " + x for x in diff))
    diff = same(old["job1_rankings"], c.call("rankings", {"job": 1}))
    check(not diff, "job 1's rankings as 0c4fc39 answered them (%d entries)" % len(old["job1_rankings"]["rankings"])
          + "".join("\n# " + x for x in diff))
    best = c.call("best", {"family": "gemm", "shape": old["job1_submitted"]["shapes"][0]})
    diff = same(old["job1_best"], best)
    check(not diff, "best for job 1's shape as 0c4fc39 answered it (job %s, %s, %s)" %
          (best.get("job"), best.get("timing"), best.get("variant_key")) + "".join("\n# " + x for x in diff))

    # Job 2, killed under 0c4fc39: resumed and completed today.
    fin = c.watch(2)[-1]
    check(fin["state"] == "done" and fin["evaluated"] == 12, "job 2 resumes and completes (%s)" % fin)
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM measurements WHERE job = 2")[0]
    check(n == (12, 12, 0, 11), "every planned seq of job 2 stored exactly once: %s" % (n,))
    check(d.sql(ROWS + " LIMIT 3", (2,)) == old_rows, "the 3 measurements 0c4fc39 stored are untouched (same rows)")
    check("job 2 resumes" in d.read_log(), "the log says job 2 resumed")
    check(d.sql(JOB, (2,))[0] == old_job2, "job 2's stored spec, spec hash, seed and plan size are kept")
    check(d.sql("SELECT * FROM jobs WHERE id = 1") == old_job1, "job 1's row is untouched")
    resumed = d.sql(SEQ, (2,))
    keys = [r[1] for r in resumed]
    check(keys == old["job2_uninterrupted_keys"],
          "job 2's sequence is the one 0c4fc39 gave for its spec uninterrupted" +
          "".join("\n# %d: %s / %s" % (i, a, b) for i, (a, b) in enumerate(zip(keys, old["job2_uninterrupted_keys"]))
                  if a != b))

    # The same spec uninterrupted today: the same resolved spec and the same sequence.
    j = c.call("submit", {"spec": old["job2_submitted"]})["job"]
    check(c.watch(j)[-1]["state"] == "done", "job 2's spec runs uninterrupted today (job %d)" % j)
    check(d.sql(JOB, (j,))[0] == old_job2, "spec text, spec hash, seed, plan size, source hash and strategy "
          "('random') as 0c4fc39 stored them for job 2")
    fresh = d.sql(SEQ, (j,))
    check(resumed == fresh, "the resumed sequence equals today's uninterrupted one: same variant, hash and "
          "source at every seq (%d seqs)" % len(fresh))
    c.close()
    check(d.terminate() == 0, "clean exit")
finish()
