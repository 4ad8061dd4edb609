"""A learning strategy run by the daemon (issue 11): a job with strategy auto on PoCL completes and
ranks, presets first and then the strategy's own points (origin auto), never a point twice; the
resolved spec carries its ask-ahead; a rerun asks the same points wherever no result was needed yet
(PoCL's times differ between runs, so later points may differ: that is what compare reports); kill -9
mid-job, restart: the job resumes from its stored results without a stored point differing from the
rebuilt sequence; a time budget (budget_s) ends a job early."""
from fwtest import SMALL_GEMM, Daemon, check, finish, guarded

d = Daemon()
with guarded(d):
    d.start()
    c = d.client()
    spec = dict(SMALL_GEMM, strategy="auto", budget=9, seed=7, options={"finalists": 2})
    sub = c.call("submit", {"spec": spec})
    job, planned = sub["job"], sub["planned"]
    check(planned == 9, "planned is the budget (%d)" % planned)
    fin = c.watch(job)[-1]
    check(fin["state"] == "done" and fin["evaluated"] == planned, "the auto job completes (%s)" % fin)
    st = c.call("status", {"job": job})
    check(st["spec"]["strategy"] == "auto" and st["spec"]["options"]["ask_ahead"] == 8,
          "the resolved spec carries strategy and ask-ahead: %s" % st["spec"].get("options"))
    rows = d.sql("SELECT m.seq, v.key, m.origin FROM measurements m JOIN variants v ON v.id = m.variant_id "
                 "WHERE m.job = ? ORDER BY m.seq", (job,))
    check([r[0] for r in rows] == list(range(planned)), "every seq stored once, in order")
    keys = [r[1] for r in rows]
    check(len(set(keys)) == len(keys), "no variant measured twice")
    origins = [r[2] for r in rows]
    npre = origins.count("preset")
    check(npre >= 1 and origins[:npre] == ["preset"] * npre and set(origins[npre:]) == {"auto"},
          "presets first, then the strategy's points: %s" % origins)
    rk = c.call("rankings", {"job": job})
    check(len(rk["rankings"]) >= 1, "the job ranks its verified variants")

    # a rerun: the points asked before any result was told are the same
    re = c.call("rerun", {"job": job})
    fin2 = c.watch(re["job"])[-1]
    check(fin2["state"] == "done", "the rerun completes")
    keys2 = [r[0] for r in d.sql("SELECT v.key FROM measurements m JOIN variants v ON v.id = m.variant_id "
                                 "WHERE m.job = ? ORDER BY m.seq", (re["job"],))]
    ahead = npre + 8 + 1
    check(keys2[:ahead] == keys[:ahead], "the rerun asks the same first %d points" % ahead)

    # a time budget ends the job early: it counts the records' eval_ms, so with ask-ahead 2 a budget
    # of 1 us (less than any evaluation) ends the shape at its third ask: position 2 waits for
    # position 0's result, whose time spends the budget, so exactly 3 are evaluated
    tb = c.call("submit", {"spec": dict(spec, seed=5, budget_s=1e-6,
                                        options=dict(spec.get("options", {}), ask_ahead=2))})
    fin_tb = c.watch(tb["job"])[-1]
    check(fin_tb["state"] == "done" and fin_tb["evaluated"] == 3 < tb["planned"],
          "a spent time budget ends the job done, after exactly 3 (%s)" % fin_tb)
    check("time budget of 1e-06 s (its evaluations' eval_ms) is spent" in d.read_log(),
          "the log says the time budget ended it")
    err = c.error("submit", {"spec": dict(spec, budget_s=-1)})
    check("budget_s" in str(err), "a negative budget_s is refused: %s" % err)

    # kill -9 mid-job: the restarted daemon rebuilds the sequence from the stored results
    third = c.call("submit", {"spec": dict(spec, seed=11, budget=10)})
    c.watch(third["job"], until=lambda p: p["evaluated"] >= 3)
    d.kill9()
    c.close()
    d.start()
    c = d.client()
    fin3 = c.watch(third["job"])[-1]
    check(fin3["state"] == "done" and fin3["evaluated"] == 10, "the resumed auto job completes (%s)" % fin3)
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq), COUNT(DISTINCT variant_id), MAX(seq) FROM measurements "
              "WHERE job = ?", (third["job"],))[0]
    check(n == (10, 10, 10, 9), "every seq once, no variant twice after the restart: %s" % (n,))
    log = d.read_log()
    check("differ from this device's sequence" not in log, "every stored point matched the rebuilt sequence")
    c.close()
finish()
