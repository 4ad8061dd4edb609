"""Reliability fixes of issue 15, each against the real daemon:
  1. a second daemon on the same store file through a symlink or a hard link is refused;
 10. the store, its -wal/-shm and the log are created 0600 (umask 022);
  4. a store with one damaged page is refused at start, with a sentence saying what to do;
  6. a worker killed from outside (FAIRWAYD_TEST_FAULT=kill-worker@K: SIGKILL right after seq K is
     sent) does not condemn the variant: it is measured again on a fresh worker and stored ok,
     its record saying it was retried;
  5. a full disk (FAIRWAY_TEST_DB_FULL=K:FLAG: every commit fails as on a full disk from seq K's on,
     while FLAG exists) pauses the job ("waiting" in status), queries are answered, and once the
     disk has room the job goes on by itself: nothing measured is lost, every seq stored once;
  5b. a job cancelled while it waits on the full disk ends cancelled once the disk has room (the
     waiting record stored first); `resume` queues it again and it measures only the missing seqs;
 12. SIGTERM is answered while the event loop is stuck (FAIRWAYD_TEST_FAULT=block-plan@FIFO blocks it
     for good where the plan is built, after writing a line to FIFO): the daemon exits 0 and the next
     start resumes the job.
"""
import os
import signal
import sqlite3
import stat

import json

from fwtest import SMALL_GEMM, Daemon, check, finish, guarded

os.umask(0o022)


def refused(db_path):
    """Start a daemon on db_path that must be refused; returns (rc, stderr)."""
    other = Daemon(db_path=db_path)
    path = other.start(expect_fail=True)
    rc = other.proc.wait(timeout=60)
    err = other.proc.stderr.read().decode()
    other.proc.stderr.close()
    other.cleanup()
    return path, rc, err


def mode(p):
    return stat.S_IMODE(os.stat(p).st_mode)


d = Daemon()
with guarded(d):
    d.start()
    c = d.client()
    c.call("jobs", {})
    # 10: modes of what the daemon created (the WAL and shm exist once it has written).
    check(mode(d.db) == 0o600, "the store is created 0600 (%o)" % mode(d.db))
    for suffix in ("-wal", "-shm"):
        p = d.db + suffix
        check(os.path.exists(p) and mode(p) == 0o600, "the store's %s is 0600" % suffix)
    check(mode(d.log) == 0o600, "the log is created 0600 (%o)" % mode(d.log))
    # 1: the same file under other names.
    sym = os.path.join(d.tmp, "link.db")
    os.symlink(d.db, sym)
    hard = os.path.join(d.tmp, "hard.db")
    os.link(d.db, hard)
    for name, p in (("symlink", sym), ("hard link", hard)):
        path, rc, err = refused(p)
        check(path == "" and rc == 1, "a second daemon through a %s exits 1 without readiness" % name)
        check("another fairwayd already uses the store" in err,
              "and says another fairwayd uses the store: %s" % err.strip())
    check(c.call("jobs", {})["jobs"] == [], "the first daemon goes on, untouched")
    c.close()
    check(d.terminate() == 0, "clean exit")

    # 4: one damaged page in a copy of a store with some content.
    # A fairway store: let the daemon migrate an empty file, then add rows through SQLite.
    store = os.path.join(d.tmp, "store.db")
    e = Daemon(db_path=store)
    e.start()
    e.terminate()
    e.cleanup()
    con = sqlite3.connect(store)
    con.executemany("INSERT INTO sources(hash, text, created_at) VALUES (?, ?, 'now')",
                    [("h%d" % i, "k" * 600) for i in range(300)])
    con.commit()
    con.close()
    size = os.path.getsize(store)
    pages = size // 4096
    with open(store, "r+b") as f:
        f.seek((pages // 2) * 4096)
        f.write(b"\x5a" * 4096)
    path, rc, err = refused(store)
    check(path == "" and rc == 1, "a store with a damaged page is refused at start (rc %s)" % rc)
    check("is damaged" in err and "Restore a copy" in err, "with a sentence saying what to do: %s" % err.strip())
    check(os.path.getsize(store) == size, "and the damaged store is left as it was")

# 6: a good variant whose worker is killed once.
d = Daemon(env={"FAIRWAYD_TEST_FAULT": "kill-worker@1"})
with guarded(d):
    d.start()
    c = d.client()
    sub = c.call("submit", {"spec": dict(SMALL_GEMM, budget=3)})
    job = sub["job"]
    last = c.watch(job)[-1]
    check(last["state"] == "done" and last["evaluated"] == sub["planned"], "the job completes (%s)" % last["state"])
    check(last["failures"]["crashed"] == 0, "nothing stored as crashed: %s" % last["failures"])
    rows = dict((s, (st, json.loads(r))) for s, st, r in
                d.sql("SELECT seq, status, record FROM measurements WHERE job = ?", (job,)))
    check(rows[1][0] == "ok", "the killed variant is measured again and stored ok (%s)" % rows[1][0])
    check(rows[1][1].get("retried") is True and "killed by signal 9" in rows[1][1].get("retry_reason", ""),
          "its record says it was retried, and why: %s" % rows[1][1].get("retry_reason"))
    check(not rows[0][1].get("retried") and not rows[2][1].get("retried"), "the others were not retried")
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq) FROM measurements WHERE job = ?", (job,))[0]
    check(n[0] == n[1] == sub["planned"], "each seq stored exactly once")
    check(d.read_log().count("started worker for opencl:0") == 2, "one fresh worker for the retry")
    c.close()
    check(d.terminate() == 0, "clean exit")

# 5: a full disk in the middle of a job.
d = Daemon()
flag = os.path.join(d.tmp, "disk-full")
open(flag, "w").close()
d.env["FAIRWAY_TEST_DB_FULL"] = "2:" + flag
with guarded(d):
    d.start()
    c = d.client()
    sub = c.call("submit", {"spec": dict(SMALL_GEMM, budget=5)})
    job = sub["job"]
    planned = sub["planned"]
    seen = c.watch(job, until=lambda p: "waiting" in p)
    check(seen[-1].get("waiting") == "the store's disk is full" and not seen[-1]["final"],
          "the job pauses with a reason: %s" % seen[-1].get("waiting"))
    q = d.client()
    st = q.call("status", {"job": job})
    check(st["state"] == "running" and st["progress"].get("waiting") == "the store's disk is full",
          "status says it waits for the disk (%s, %s)" % (st["state"], st["progress"].get("waiting")))
    check(st["progress"]["evaluated"] == 2, "with the two seqs stored before (%d)" % st["progress"]["evaluated"])
    check(isinstance(q.call("jobs", {})["jobs"], list) and q.call("rankings", {"job": job}) is not None,
          "other queries are answered meanwhile")
    check(sorted(s for (s,) in d.sql("SELECT seq FROM measurements WHERE job = ?", (job,))) == [0, 1],
          "the store holds seqs 0 and 1 only")
    os.unlink(flag)   # room again: the daemon's retry gets the write through by itself
    last = seen[-1]
    while not last.get("final"):
        m = c.next_notification()
        if m is None:
            break
        if m.get("method") == "progress":
            last = m["params"]
    check(last.get("state") == "done" and last.get("evaluated") == planned,
          "the job goes on by itself and completes (%s, %s of %d)" % (last.get("state"), last.get("evaluated"), planned))
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq) FROM measurements WHERE job = ?", (job,))[0]
    check(n[0] == n[1] == planned, "every seq stored exactly once (%s)" % (n,))
    log = d.read_log()
    check("waiting: the store's disk is full" in log and "the store takes writes again" in log,
          "the log says it waited and went on")
    q.close()
    c.close()
    check(d.terminate() == 0, "clean exit")

# 5b: cancelled while waiting on the full disk, then resumed.
d = Daemon()
flag = os.path.join(d.tmp, "disk-full")
open(flag, "w").close()
d.env["FAIRWAY_TEST_DB_FULL"] = "2:" + flag
with guarded(d):
    d.start()
    c = d.client()
    sub = c.call("submit", {"spec": dict(SMALL_GEMM, budget=5)})
    job = sub["job"]
    planned = sub["planned"]
    c.watch(job, until=lambda p: "waiting" in p)
    q = d.client()
    q.call("cancel", {"job": job})
    st = q.call("status", {"job": job})
    check(st["progress"].get("waiting") == "the store's disk is full",
          "a job cancelled on a full disk still waits to store its end (%s)" % st["progress"].get("waiting"))
    err = q.error("resume", {"job": job})
    check(err is not None and "only a failed or cancelled job can be resumed" in err["message"],
          "resume refuses a job that is not finished: %s" % (err or {}).get("message"))
    os.unlink(flag)
    last = None
    while not (last and last.get("final")):
        m = c.next_notification()
        if m is None:
            break
        if m.get("method") == "progress":
            last = m["params"]
    check(last and last["state"] == "cancelled", "it ends cancelled once there is room (%s)" % (last or {}).get("state"))
    stored = sorted(s for (s,) in d.sql("SELECT seq FROM measurements WHERE job = ?", (job,)))
    check(stored == [0, 1, 2], "the record that waited was stored first (%s)" % stored)
    res = q.call("resume", {"job": job})
    check(res["evaluated"] == 3 and res["state"] in ("queued", "running"),
          "resume queues it again with 3 stored (%s, %s)" % (res.get("evaluated"), res.get("state")))
    last = c.watch(job)[-1]
    check(last["state"] == "done" and last["evaluated"] == planned, "and it completes (%s)" % last["state"])
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq) FROM measurements WHERE job = ?", (job,))[0]
    check(n[0] == n[1] == planned, "measuring only what was missing: each seq stored once (%s)" % (n,))
    err = q.error("resume", {"job": job})
    check(err is not None and "is done" in err["message"], "a done job is not resumed: %s" % (err or {}).get("message"))
    q.close()
    c.close()
    check(d.terminate() == 0, "clean exit")

# 12: SIGTERM while the loop is blocked.
d = Daemon()
fifo = os.path.join(d.tmp, "blocked")
os.mkfifo(fifo)
d.env["FAIRWAYD_TEST_FAULT"] = "block-plan@" + fifo
with guarded(d):
    d.start()
    c = d.client()
    # The submit's reply would come after the plan: send it without waiting (the store's first job).
    c.send_raw((json.dumps({"jsonrpc": "2.0", "id": 1, "method": "submit",
                            "params": {"spec": dict(SMALL_GEMM, budget=2)}}) + "\n").encode())
    job = 1
    with open(fifo) as f:   # opens once the daemon is there; then the loop is stuck
        check(f.readline() == "blocked\n", "the loop is blocked where the plan is built")
    d.proc.send_signal(signal.SIGTERM)
    rc = d.proc.wait(timeout=120)
    check(rc == 0, "SIGTERM stops a daemon whose loop is stuck, exit status 0 (%s)" % rc)
    log = d.read_log()
    check("stopping at once" in log, "and the log says why it stopped at once")
    check(not os.path.exists(d.socket), "the socket is removed")
    c.close()
    d.env.pop("FAIRWAYD_TEST_FAULT")
    d.start()
    c = d.client()
    last = c.watch(job)[-1]
    check(last["state"] == "done" and last["evaluated"] == last["planned"],
          "the next start resumes the job and completes it (%s)" % last["state"])
    c.close()
    check(d.terminate() == 0, "clean exit after that (the stop thread does not get in the way)")
finish()
