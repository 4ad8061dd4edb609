#!/usr/bin/env python3
"""chaos.py - one fairwayd job run through faults (issue 15, "keep the probes"), then the store is
checked directly: nothing measured is lost, nothing is measured twice.

While one job runs on PoCL (opencl:0), at random points:
  - kill -9 of the daemon, then a restart on the same store (it resumes the job);
  - kill -9 of the worker measuring a variant (the daemon retries that variant once on a fresh
    worker; a variant whose retry is killed too is stored 'crashed', which is not a loss);
  - garbage clients beside it: random bytes, truncated JSON, never-reading watchers, half-closed
    connections, lines over 1 MiB.
After each restart the rows stored before the kill are compared with the store: every one must
still be there, unchanged. At the end: the job is 'done', every planned seq is stored exactly once,
PRAGMA integrity_check says ok. Prints the figures and exits 1 if a check failed.

usage: benchmarks/chaos.py [--build DIR] [--daemon-kills N] [--worker-kills N] [--garbage N]
                           [--budget N] [--seed N]
       (defaults: build, 20, 10, 200, 60, 1; about 4 minutes on 2 shared cores with PoCL)
Not a test: it sleeps for random intervals, and its figures go to BENCHMARKS.md."""
import argparse
import json
import os
import random
import re
import signal
import socket
import sqlite3
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "daemon"))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--daemon-kills", type=int, default=20)
    ap.add_argument("--worker-kills", type=int, default=10)
    ap.add_argument("--garbage", type=int, default=200)
    ap.add_argument("--budget", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    return ap.parse_args()


args = parse_args()
os.environ["FAIRWAYD"] = os.path.join(os.path.abspath(args.build), "daemon", "fairwayd")
os.environ["FAIRWAY_WORKER"] = os.path.join(os.path.abspath(args.build), "bench", "worker", "fairway-worker")
import fwtest  # noqa: E402 (after the environment it reads)

rng = random.Random(args.seed)
SPEC = {"profile": "gemm_small", "shapes": [{"M": 64, "N": 64, "K": 64}, {"M": 48, "N": 80, "K": 32}],
        "budget": args.budget // 2, "seed": 99, "warmup": 1, "iters": 3, "options": {"finalists": 0}}


def rows(db, job):
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute("SELECT seq, status, median_ns FROM measurements WHERE job = ? ORDER BY seq",
                           (job,)).fetchall()
    finally:
        con.close()


def stored(db, job):
    try:
        return len(rows(db, job))
    except sqlite3.Error:
        return -1


def worker_pid(d):
    found = re.findall(r"started worker for opencl:0 \(pid (\d+)\)", d.read_log())
    return int(found[-1]) if found else None


def garbage_one(path, r):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        kind = r.randrange(6)
        if kind == 0:
            s.sendall(bytes(r.randrange(256) for _ in range(r.randrange(1, 2000))) + b"\n")
        elif kind == 1:
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"status","params":{"job":' + b"[" * r.randrange(1, 500))
        elif kind == 2:   # a watcher that never reads
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"watch","params":{"job":1}}\n')
            return s
        elif kind == 3:   # half-closed after a request
            s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"jobs","params":{}}\n')
            s.shutdown(socket.SHUT_WR)
        elif kind == 4:
            s.sendall(b"x" * (1 << 20) + b"yy\n")
        else:
            s.sendall(b'{"jsonrpc":"2.0","id":"\xff\xfe","method":"cancel","params":{"job":"1"}}\n')
        s.recv(4096)
    except OSError:
        pass
    s.close()
    return None


def garbage_loop(d, n, stop, out):
    r = random.Random(args.seed + 1)
    held = []
    while out["garbage"] < n and not stop.is_set():
        g = garbage_one(d.socket, r)
        out["garbage"] += 1
        if g:
            held.append(g)
        if len(held) > 20:
            held.pop(0).close()
        time.sleep(r.uniform(0.05, 0.6))
    for g in held:
        g.close()


def main():
    d = fwtest.Daemon()
    fig = {"daemon_kills": 0, "worker_kills": 0, "garbage": 0, "changed_or_lost": 0, "restarts_s": []}
    failures = []
    t0 = time.time()
    try:
        d.start()
        c = d.client()
        sub = c.call("submit", {"spec": SPEC})
        job, planned = sub["job"], sub["planned"]
        c.close()
        stop = threading.Event()
        gt = threading.Thread(target=garbage_loop, args=(d, args.garbage, stop, fig), daemon=True)
        gt.start()
        # faults spread over the job: one every few stored variants, in a shuffled order
        faults = ["daemon"] * args.daemon_kills + ["worker"] * args.worker_kills
        rng.shuffle(faults)
        for f in faults:
            time.sleep(rng.uniform(0.2, 3.0))
            state = d.sql("SELECT state FROM jobs WHERE id = ?", (job,))[0][0]
            if state != "running" and state != "queued":
                break
            if f == "worker":
                pid = worker_pid(d)
                if pid:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        fig["worker_kills"] += 1
                    except ProcessLookupError:
                        pass
                continue
            before = rows(d.db, job)
            d.kill9()
            pid = worker_pid(d)   # the worker lives in its own session: it goes with its pipe, or now
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            fig["daemon_kills"] += 1
            after = dict((s, (st, m)) for s, st, m in rows(d.db, job))
            fig["changed_or_lost"] += sum(1 for s, st, m in before if after.get(s) != (st, m))
            ts = time.time()
            d.start()
            fig["restarts_s"].append(time.time() - ts)
        stop.set()
        c = d.client()
        last = c.watch(job)[-1]
        c.close()
        gt.join()
        rs = rows(d.db, job)
        seqs = [s for s, _, _ in rs]
        statuses = {}
        for _, st, _ in rs:
            statuses[st] = statuses.get(st, 0) + 1
        con = sqlite3.connect(d.db)
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        con.close()
        if last["state"] != "done":
            failures.append("job ended %s: %s" % (last["state"], last.get("error")))
        if len(seqs) != planned or len(set(seqs)) != planned or sorted(set(seqs)) != list(range(planned)):
            failures.append("stored %d rows, %d distinct seqs, planned %d" % (len(seqs), len(set(seqs)), planned))
        if integrity != "ok":
            failures.append("integrity_check: %s" % integrity)
        if fig["changed_or_lost"]:
            failures.append("%d stored rows changed or vanished across a kill" % fig["changed_or_lost"])
        print("chaos: job %d, planned %d, stored %d (distinct %d), statuses %s" %
              (job, planned, len(seqs), len(set(seqs)), json.dumps(statuses, sort_keys=True)))
        print("chaos: kill -9 daemon %d (restart to ready: median %.2f s), kill -9 worker %d, garbage clients %d" %
              (fig["daemon_kills"], sorted(fig["restarts_s"])[len(fig["restarts_s"]) // 2] if fig["restarts_s"] else 0,
               fig["worker_kills"], fig["garbage"]))
        log = d.read_log()
        print("chaos: worker deaths the daemon logged: %d mid-variant retried on a fresh worker, %d of those "
              "died again (stored crashed), %d while starting, loading or idle" %
              (log.count("measuring it once more on a fresh worker"), log.count("crashed again"),
               log.count("died while") + log.count("idle worker for")))
        print("chaos: rows changed or lost across kills %d, integrity %s, wall %.0f s" %
              (fig["changed_or_lost"], integrity, time.time() - t0))
        d.terminate()
    except Exception as e:   # a crash of the benchmark itself is a failure, with the log
        failures.append("%r\n%s" % (e, d.read_log()[-4000:]))
    finally:
        d.cleanup()
    for f in failures:
        print("chaos: FAILED: " + f)
    print("chaos: %s" % ("ok" if not failures else "%d problem(s)" % len(failures)))
    return 1 if failures else 0


sys.exit(main())
