"""kill -9 of the daemon in the middle of a job; a restart on the same store and socket resumes it,
and the job completes with every seq measured exactly once. Also: a second daemon on a live socket is
refused, a stale socket file is replaced."""
from fwtest import SMALL_GEMM, Daemon, check, finish, guarded

d = Daemon()
with guarded(d):
    d.start()
    # Another daemon on the same socket is turned away while the first answers.
    other = Daemon(socket_path=d.socket)
    path = other.start(expect_fail=True)
    rc = other.proc.wait(timeout=60)
    err = other.proc.stderr.read().decode()
    other.proc.stderr.close()
    other.cleanup()
    check(path == "" and rc == 1, "a second daemon on a live socket exits 1 without readiness")
    check("already answering" in err, "and says another fairwayd answers there: %s" % err.strip())
    # Another socket but the same store: refused too (both would resume the same jobs).
    other = Daemon(db_path=d.db)
    path = other.start(expect_fail=True)
    rc = other.proc.wait(timeout=60)
    err = other.proc.stderr.read().decode()
    other.proc.stderr.close()
    other.cleanup()
    check(path == "" and rc == 1 and "already uses the store" in err,
          "a second daemon on the same store exits 1 and says so: %s" % err.strip())

    c = d.client()
    spec = dict(SMALL_GEMM, budget=16, iters=5)
    sub = c.call("submit", {"spec": spec})
    job, planned = sub["job"], sub["planned"]
    queued = c.call("submit", {"spec": dict(SMALL_GEMM, seed=99)})["job"]   # waits behind the first
    seen = c.watch(job, until=lambda p: p["evaluated"] >= 2)
    at_kill = seen[-1]["evaluated"]
    check(2 <= at_kill < planned, "killed mid-job (%d of %d evaluated)" % (at_kill, planned))
    d.kill9()
    c.close()
    stored = d.sql("SELECT COUNT(*) FROM measurements WHERE job = ?", (job,))[0][0]
    check(stored >= at_kill, "what progress reported was committed before kill -9 (%d >= %d)" % (stored, at_kill))
    states = dict(d.sql("SELECT id, state FROM jobs"))
    check(states[job] == "running" and states[queued] == "queued", "jobs left unfinished in the store")

    # Same store, same socket: the stale socket file is removed and the job resumes.
    d.start()
    c = d.client()
    fin = c.watch(job)[-1]
    check(fin["state"] == "done" and fin["evaluated"] == planned, "the resumed job completes (%s)" % fin)
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM measurements WHERE job = ?", (job,))[0]
    check(n == (planned, planned, 0, planned - 1), "every seq 0..%d measured exactly once: %s" % (planned - 1, n))
    st = c.call("status", {"job": job})
    check(st["evaluated"] == planned and sum(st["counts"].values()) == planned, "status counts agree")
    check(c.watch(queued)[-1]["state"] == "done", "the queued job runs after it")
    check("job %d resumes" % job in d.read_log(), "the log says the job resumed")

    # SIGTERM in the middle of a job: exit 0, store consistent, the job resumes on the next start.
    third = c.call("submit", {"spec": dict(SMALL_GEMM, seed=5, budget=16, iters=5)})
    c.watch(third["job"], until=lambda p: p["evaluated"] >= 1)
    c.close()
    check(d.terminate() == 0, "SIGTERM mid-job: exit status 0")
    check(d.sql("PRAGMA integrity_check") == [("ok",)], "store passes integrity_check")
    state = d.sql("SELECT state FROM jobs WHERE id = ?", (third["job"],))[0][0]
    check(state == "running", "the interrupted job stays unfinished (%s)" % state)
    d.start()
    c = d.client()
    fin = c.watch(third["job"])[-1]
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq) FROM measurements WHERE job = ?", (third["job"],))[0]
    check(fin["state"] == "done" and n == (third["planned"], third["planned"]),
          "after SIGTERM and restart the job completes, each seq once: %s" % (n,))
    c.close()
    check(d.terminate() == 0, "clean exit")

    # A stored seq that no longer matches the sequence (here: tampered with; in life another device's
    # limits) is logged and kept as stored (told to the strategy as measured where it is a point of
    # the space); the job goes on and completes, each seq once.
    t = Daemon()
    try:
        t.start()
        c = t.client()
        r = c.call("submit", {"spec": dict(SMALL_GEMM, seed=11, budget=16, iters=5)})
        c.watch(r["job"], until=lambda p: p["evaluated"] >= 1)
        t.kill9()
        c.close()
        t.sql("UPDATE variants SET key = 'TILE_N=1' WHERE id = "
              "(SELECT variant_id FROM measurements WHERE job = ? AND seq = 0)", (r["job"],))
        con_ok = t.sql("SELECT v.key FROM measurements m JOIN variants v ON v.id = m.variant_id "
                       "WHERE m.job = ? AND m.seq = 0", (r["job"],))
        t.start()
        c = t.client()
        fin = c.watch(r["job"])[-1]
        n = t.sql("SELECT COUNT(*), COUNT(DISTINCT seq) FROM measurements WHERE job = ?", (r["job"],))[0]
        log = t.read_log()
        check(con_ok == [("TILE_N=1",)] and fin["state"] == "done" and n == (r["planned"], r["planned"]),
              "a stored seq that differs from the sequence is kept and the job completes: %s %s" % (fin, n))
        check("seq 0 is stored as TILE_N=1 where the sequence asks" in log and "not a valid point here" in log,
              "the log names the stored seq that differs")
        c.close()
        check(t.terminate() == 0, "clean exit")
    finally:
        t.cleanup()
finish()
