"""Plans are built off the event loop (issue 15 item 2), against the real daemon.

FAIRWAYD_TEST_FAULT=hold-plan@FIFO holds a request's planning thread at its start: the thread writes
"planning" to FIFO, then waits until the test opens FIFO to write and closes it. So the tests know a
plan is running, and for as long as they want, without any clock:
  1. while a submit's plan runs, a second client's jobs, status and best are answered; once released,
     the submit is answered and its job runs to the end (on the sequence its submit built);
  2. a client that goes away while its plan runs cancels it: no job is made, the log says so;
  3. a spec whose constraints take more than --plan-work-max expression-node evaluations is refused
     with a sentence naming the bound, for submit and expand, and the daemon goes on;
  4. SIGTERM while a plan runs stops the daemon cleanly: the plan is cancelled (a plan of about 2e9
     node evaluations, which would outlast the stop thread's 15 s, ends at once), exit status 0.
"""
import json
import os
import signal

from fwtest import SMALL_GEMM, Daemon, check, finish, guarded

KNOBS = ("TILE_N", "SIMDGROUPS_PER_TG", "SG_M_TILES", "SG_N_TILES", "NUM_BUFFERS", "TILE_K")
# 10^6 points, each constraint about 500 nodes and always true: 5e8 node evaluations per constraint.
HEAVY = {"family": "gemm", "shapes": [{"M": 64, "N": 64, "K": 64}], "strategy": "random", "budget": 4, "seed": 1,
         "space": {"knobs": {k: list(range(1, 11)) for k in KNOBS},
                   "constraints": [" + ".join(["TILE_N"] * 250) + " > 0"] * 4}}


def send(c, rid, method, params):
    c.send_raw((json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}) + "\n").encode())


def reply(c, rid):
    while True:
        m = c.read_msg()
        if m is None or m.get("id") == rid:
            return m


def held(fifo):
    """Wait until a planning thread is held (it opens the FIFO to write once the test reads)."""
    with open(fifo) as f:
        return f.readline() == "planning\n"


def release(fifo):
    with open(fifo, "w"):
        pass


def fault_daemon(args=()):
    d = Daemon(args=list(args))
    fifo = os.path.join(d.tmp, "hold")
    os.mkfifo(fifo)
    d.env["FAIRWAYD_TEST_FAULT"] = "hold-plan@" + fifo
    return d, fifo


# 1: other clients are answered while a plan runs.
d, fifo = fault_daemon()
with guarded(d):
    d.start()
    a, b = d.client(), d.client()
    b.call("devices")   # the device is known, so the submit goes straight to its plan
    send(a, 1, "submit", {"spec": dict(SMALL_GEMM, budget=2)})
    check(held(fifo), "the submit's plan is running (held in its thread)")
    jobs = b.call("jobs")
    check(jobs["jobs"] == [], "a second client's jobs is answered while the plan runs: %s" % jobs)
    err = b.error("status", {"job": 1})
    check(err is not None and "no job 1" in err["message"], "and status (no job yet): %s" % (err or {}).get("message"))
    err = b.error("best", {"family": "gemm", "shape": {"M": 64, "N": 64, "K": 64}})
    check(err is not None and "nothing verified is stored" in err["message"],
          "and best: %s" % (err or {}).get("message"))
    release(fifo)
    r = reply(a, 1)
    check(r is not None and r.get("result", {}).get("planned") == 2,
          "once released the submit is answered: %s" % json.dumps(r)[:300])
    job = r["result"]["job"]
    last = a.watch(job)[-1]
    check(last["state"] == "done" and last["evaluated"] == 2, "and its job runs to the end (%s)" % last["state"])
    check("running on opencl:0: 2 planned" in d.read_log(), "its job started with the 2 planned")
    # expand is planned off the loop too
    send(a, 7, "expand", {"spec": dict(SMALL_GEMM, budget=3), "limit": 10})
    check(held(fifo), "an expand's plan runs in its thread")
    check(b.call("jobs")["jobs"][0]["id"] == job, "jobs is answered meanwhile")
    release(fifo)
    r = reply(a, 7)
    check(r is not None and len(r.get("result", {}).get("items", [])) == 3, "then expand answers: 3 items")
    a.close()
    b.close()
    check(d.terminate() == 0, "clean exit")

# 2: a client that goes away cancels its plan.
d, fifo = fault_daemon()
with guarded(d):
    d.start()
    a, b = d.client(), d.client()
    b.call("devices")
    send(a, 1, "submit", {"spec": dict(SMALL_GEMM, budget=2)})
    check(held(fifo), "the submit's plan is running")
    a.close()
    # Two round trips: the second is read in a later loop iteration than the one that saw a's close.
    b.call("jobs")
    b.call("jobs")
    release(fifo)
    # the plan's end reaches the loop as an event of its own: round trips until it has (a daemon
    # that never logs it leaves the test to its meson timeout)
    log = d.read_log()
    while "'s plan was" not in log:
        b.call("jobs")
        log = d.read_log()
    check("a submit's plan was cancelled: its client went away" in log, "the plan is cancelled, the log says so")
    check(b.call("jobs")["jobs"] == [], "and no job was made")
    b.close()
    check(d.terminate() == 0, "clean exit")

# 3: the work bound.
d = Daemon(args=["--plan-work-max", "100000"])
with guarded(d):
    d.start()
    c = d.client()
    for method, params in (("submit", {"spec": HEAVY}), ("expand", {"spec": HEAVY, "limit": 1})):
        err = c.error(method, params)
        msg = (err or {}).get("message", "")
        check(err is not None and "planning stopped at shape 0" in msg and "more than 100000 expression-node" in msg
              and "--plan-work-max 100000" in msg, "%s past the work bound is refused with a sentence: %s"
              % (method, msg))
    check(c.call("jobs")["jobs"] == [], "no job was made")
    r = c.call("submit", {"spec": dict(SMALL_GEMM, budget=1)})
    check(r["planned"] == 1, "a spec within the bound is taken")
    check(c.watch(r["job"])[-1]["state"] == "done", "and runs")
    c.close()
    check(d.terminate() == 0, "clean exit")

# 4: SIGTERM while a plan runs.
d, fifo = fault_daemon()
with guarded(d):
    d.start()
    a, b = d.client(), d.client()
    b.call("devices")
    send(a, 1, "submit", {"spec": HEAVY})
    check(held(fifo), "a heavy plan is running")
    d.proc.send_signal(signal.SIGTERM)
    check(b.read_line() is None, "SIGTERM: the daemon closes its clients")
    release(fifo)
    rc = d.proc.wait(timeout=120)
    log = d.read_log()
    check(rc == 0 and "stopping at once" not in log and log.rstrip().endswith("stopped"),
          "the plan is cancelled and the daemon stops cleanly, exit status 0 (%s)" % rc)
    a.close()
    b.close()
finish()
