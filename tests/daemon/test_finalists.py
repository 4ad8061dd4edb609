"""Finalists through the daemon (issue 7 item 4): at the end of a job the top K verified variants of
each shape are re-timed interleaved by the worker and stored; rankings and best use those medians and
say so; options.finalists 0 turns it off; a worker crash during the finalists still ends the job done
on its first-pass rankings; a daemon killed during the finalists re-runs them on restart, storing
them once."""
import os
import re
import signal

from fwtest import SMALL_GEMM, Daemon, check, finish, guarded

TWO_SHAPES = dict(SMALL_GEMM, shapes=[{"M": 64, "N": 64, "K": 64}, {"M": 32, "N": 64, "K": 64}], budget=5,
                  options={"finalists": 3, "finalist_rounds": 2, "finalist_iters": 2})


def first_pass(d, job):
    """{shape_key: [(median, seq), ...]} of the stored ok measurements, fastest first."""
    out = {}
    for sk, seq, med in d.sql("SELECT shape_key, seq, median_ns FROM measurements WHERE job = ? AND status = 'ok'",
                              (job,)):
        out.setdefault(sk, []).append((med, seq))
    for v in out.values():
        v.sort()
    return out


def worker_pids(d):
    return [int(p) for p in re.findall(r"started worker for \S+ \(pid (\d+)\)", d.read_log())]


d = Daemon()
with guarded(d):
    d.start()
    c = d.client()
    sub = c.call("submit", {"spec": TWO_SHAPES})
    job = sub["job"]
    seen = c.watch(job)
    check(seen[-1]["state"] == "done", "the job ends done (%s)" % seen[-1]["state"])
    check(any(p.get("phase") == "finalists" for p in seen), "progress shows a finalists phase")
    check(all(p.get("phase") in ("measuring", "finalists", None) for p in seen), "phases are measuring/finalists")
    fp = first_pass(d, job)
    check(len(fp) == 2, "both shapes have verified variants (%d)" % len(fp))
    rows = d.sql("SELECT shape_key, seq, rank, first_rank, n, median_ns FROM finalists WHERE job = ?", (job,))
    for sk, ranked in fp.items():
        k = min(3, len(ranked))
        mine = [r for r in rows if r[0] == sk]
        check(sorted(r[1] for r in mine) == sorted(s for _, s in ranked[:k]),
              "shape %s: the stored finalists are its first-pass top %d (%s)" % (sk, k, mine))
        check(all(r[4] == 2 * 2 for r in mine), "shape %s: rounds x iters samples each" % sk)
        check(sorted(r[2] for r in mine) == list(range(1, k + 1)), "shape %s: finalist ranks 1..%d" % (sk, k))
    rk = c.call("rankings", {"job": job, "limit": 0})["rankings"]
    for sk, ranked in fp.items():
        mine = [r for r in rk if r["shape_key"] == sk]
        k = min(3, len(ranked))
        check([r["rank"] for r in mine] == list(range(1, len(mine) + 1)), "shape %s: ranks run 1..n" % sk)
        check([r["timing"] for r in mine] == ["finalist"] * k + ["first_pass"] * (len(mine) - k),
              "shape %s: the top %d say timing finalist, the rest first_pass" % (sk, k))
        fmed = [r["median_ns"] for r in mine[:k]]
        check(fmed == sorted(fmed), "shape %s: finalists ordered by their finalist medians %s" % (sk, fmed))
        stored = dict(((r[1]), r[5]) for r in rows if r[0] == sk)
        check(all(r["median_ns"] == stored[r["seq"]] for r in mine[:k]), "shape %s: median_ns is the finalist's" % sk)
        first = dict((s, m) for m, s in ranked)
        check(all(r["first_pass_median_ns"] == first[r["seq"]] for r in mine),
              "shape %s: first_pass_median_ns is the first pass's" % sk)
    limited = c.call("rankings", {"job": job, "limit": 1})["rankings"]
    check(len(limited) == 2 and all(r["timing"] == "finalist" and r["rank"] == 1 for r in limited),
          "limit 1 gives each shape's finalist winner")
    b = c.call("best", {"family": "gemm", "shape": limited[0]["shape_key"]})
    check(b.get("timing") == "finalist" and b["seq"] == limited[0]["seq"] and b["job"] == job,
          "best names the finalist winner and says so (%s)" % {k: b.get(k) for k in ("timing", "seq", "job")})

    # options.finalists 0: none stored, every ranking says first_pass
    off = c.call("submit", {"spec": dict(SMALL_GEMM, options={"finalists": 0})})["job"]
    seen = c.watch(off)
    check(seen[-1]["state"] == "done", "finalists 0: the job ends done")
    check(not any(p.get("phase") == "finalists" for p in seen), "finalists 0: no finalists phase")
    check(d.sql("SELECT COUNT(*) FROM finalists WHERE job = ?", (off,))[0][0] == 0, "finalists 0: none stored")
    rk = c.call("rankings", {"job": off, "limit": 0})["rankings"]
    check(rk and all(r["timing"] == "first_pass" for r in rk), "finalists 0: every ranking is first_pass")
    c.close()
    check(d.terminate() == 0, "clean exit")

# A worker that crashes during the finalists: the job still ends done, ranked by the first pass.
d = Daemon(env={"FAIRWAY_TEST_FAULT": "crash@finalists"})
with guarded(d):
    d.start()
    c = d.client()
    job = c.call("submit", {"spec": dict(SMALL_GEMM, options={"finalists": 3})})["job"]
    last = c.watch(job)[-1]
    check(last["state"] == "done", "crash during finalists: the job ends done (%s)" % last["state"])
    check(d.sql("SELECT COUNT(*) FROM finalists WHERE job = ?", (job,))[0][0] == 0, "crash: no finalists stored")
    rk = c.call("rankings", {"job": job, "limit": 0})["rankings"]
    check(rk and all(r["timing"] == "first_pass" for r in rk), "crash: rankings are first_pass")
    check(last["failures"]["crashed"] == 0, "crash: no variant is blamed for it")
    check("finalists failed" in d.read_log() and "signal 6" in d.read_log(), "crash: the log says why")
    c.close()
    check(d.terminate() == 0, "clean exit")

# kill -9 of the daemon during the finalists: a restart re-runs them and stores them once.
d = Daemon(env={"FAIRWAY_TEST_FAULT": "hang@finalists"})
with guarded(d):
    d.start()
    c = d.client()
    sub = c.call("submit", {"spec": dict(SMALL_GEMM, options={"finalists": 2})})
    job = sub["job"]
    seen = c.watch(job, until=lambda p: p.get("phase") == "finalists")
    check(seen[-1].get("phase") == "finalists", "the job reached its finalists")
    d.kill9()
    c.close()
    for pid in worker_pids(d):   # the hung worker lives in its own session
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    check(d.sql("SELECT state FROM jobs WHERE id = ?", (job,))[0][0] == "running", "the job is left running")
    d.env.pop("FAIRWAY_TEST_FAULT", None)
    d.start()
    c = d.client()
    last = c.watch(job)[-1]
    check(last["state"] == "done", "resumed during finalists: done (%s)" % last["state"])
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq) FROM finalists WHERE job = ?", (job,))[0]
    check(n == (2, 2), "resumed: the finalists are stored once (%s)" % (n,))
    m = d.sql("SELECT COUNT(*) FROM measurements WHERE job = ?", (job,))[0][0]
    check(m == sub["planned"], "resumed: no seq measured again (%d of %d)" % (m, sub["planned"]))
    c.close()
    check(d.terminate() == 0, "clean exit")
finish()
