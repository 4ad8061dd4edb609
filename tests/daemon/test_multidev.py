"""One job over several devices (issue 17), on PoCL asked for two CPU devices (POCL_DEVICES="pthread
pthread": two devices of one identity). A two-device job completes with each seq measured exactly
once and both devices used; its variant sequence is the one-device job's (one sequencer, one stream);
devices of another identity are refused; kill -9 of one worker mid-job costs that worker only; a
device whose workers keep dying is taken out and the job finishes on the other; a daemon restart
resumes the job over both devices.

Which device measures which seq depends on timing; the assertions never do. FAIRWAYD_TEST_FAULT=spread
makes every device of a job get a seq before any gets a second, so "both devices were used" holds
whatever the machine's speed; the kills are fault hooks the daemon fires itself (no sleeps)."""
import json
import os

from fwtest import SMALL_GEMM, Daemon, check, finish, guarded

TWO = {"POCL_DEVICES": "pthread pthread"}
DEVS = ["opencl:0", "opencl:1"]
SPEC = dict(SMALL_GEMM, budget=8, strategy="random")


def rows(d, job):
    return d.sql("SELECT seq, json_extract(record, '$.device'), status, json_extract(record, '$.retried') "
                 "FROM measurements WHERE job = ? ORDER BY seq", (job,))


def each_seq_once(d, job, planned, what):
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM measurements WHERE job = ?", (job,))[0]
    check(n == (planned, planned, 0, planned - 1), "%s: every seq 0..%d measured exactly once: %s" % (what, planned - 1, n))


def starts(log, sel):
    return log.count("started worker for %s " % sel)


# ---- two identical devices: one job over both --------------------------------------------------
d = Daemon(env=dict(TWO, FAIRWAYD_TEST_FAULT="spread"))
with guarded(d):
    d.start()
    c = d.client()
    devs = [c.call("devices", {"device": s})["devices"] for s in DEVS]
    listed = {x["selector"]: x["identity"] for x in devs[-1]}
    check(sorted(listed) == DEVS and len(set(listed.values())) == 1,
          "POCL_DEVICES='pthread pthread': fairway devices lists two devices of one identity: %s" % listed)

    r = c.call("submit", {"spec": dict(SPEC, devices=[0, 1])})
    job, planned = r["job"], r["planned"]
    check(r["device"] == "opencl:0" and r["devices"] == DEVS, "submit answers the job's devices: %s" % r)
    seen = c.watch(job)
    check(seen[-1]["state"] == "done" and seen[-1]["evaluated"] == planned, "the two-device job completes: %s" % seen[-1])
    live = [p for p in seen if p.get("devices")]
    check(live and [x["device"] for x in live[0]["devices"]] == DEVS, "progress lists the job's devices")
    each_seq_once(d, job, planned, "two devices")
    rs = rows(d, job)
    check({x[1] for x in rs} == set(DEVS), "both devices measured seqs: %s" % [x[1] for x in rs])
    check(all(x[2] == "ok" for x in rs), "every seq measured ok")
    ms = c.call("measurements", {"job": job})["measurements"]
    check([m.get("device") for m in ms] == [x[1] for x in rs], "measurements name the device of each record")
    st = c.call("status", {"job": job})
    check(st["spec"].get("devices") == DEVS, "the stored spec keeps the devices (a restart resumes on them)")
    log = d.read_log()
    check("re-timing" in log and "finalists (top 5 per shape) on opencl:0" in log,
          "the finalists are re-timed on one device, the job's first")
    nfin = d.sql("SELECT COUNT(*) FROM finalists WHERE job = ?", (job,))[0][0]
    check(nfin == 5, "five finalists stored (%d)" % nfin)

    # One sequencer, one stream: the same spec and seed on one device asks the same variants in the
    # same seq order (a fixed order here; a learning strategy is told in seq order too, below).
    one = c.call("submit", {"spec": SPEC})
    check("devices" not in one and one["device"] == "opencl:0", "a spec without devices is a one-device job")
    c.watch(one["job"])
    seq2 = d.sql("SELECT m.seq, v.key FROM measurements m JOIN variants v ON v.id = m.variant_id WHERE job = ? "
                 "ORDER BY seq", (job,))
    seq1 = d.sql("SELECT m.seq, v.key FROM measurements m JOIN variants v ON v.id = m.variant_id WHERE job = ? "
                 "ORDER BY seq", (one["job"],))
    check(seq1 == seq2, "the two-device job measured the one-device job's sequence, seq for seq")
    check(all(x[1] is None for x in rows(d, one["job"])), "a one-device job's records name no device (unchanged)")

    # "all" is every device of the spec device's identity; a one-element list is a one-device job.
    r = c.call("submit", {"spec": dict(SPEC, seed=7, devices="all")})
    check(r.get("devices") == DEVS, "devices 'all' resolves to both: %s" % r.get("devices"))
    check(c.watch(r["job"])[-1]["state"] == "done", "the 'all' job completes")
    r = c.call("submit", {"spec": dict(SPEC, seed=8, budget=2, devices=[1])})
    check("devices" not in r and r["device"] == "opencl:1", "devices [1] is a one-device job on opencl:1")
    c.watch(r["job"])

    for bad, field, text in (([0, 0], "devices", "twice"), ("some", "devices", "or \"all\""), ([], "devices", "1 to"),
                             ([0, 1.5], "devices", "indices")):
        e = c.error("submit", {"spec": dict(SPEC, devices=bad)})
        check(e and e["data"]["field"] == field and text in e["message"], "devices %r refused: %s" % (bad, e))
    e = c.error("submit", {"spec": dict(SPEC, device=1, devices=[0, 1])})
    check(e and "disagree" in e["message"], "device 1 with devices [0, 1] refused: %s" % e)
    c.close()
    check(d.terminate() == 0, "clean exit")

# ---- devices of two identities: refused with a sentence ----------------------------------------
d = Daemon(env={"POCL_DEVICES": "basic pthread"})
with guarded(d):
    d.start()
    c = d.client()
    e = c.error("submit", {"spec": dict(SPEC, devices=[0, 1])})
    check(e and e["data"]["field"] == "devices" and "not the same kind of device" in e["message"]
          and "one job per device" in e["message"], "devices of two identities are refused: %s" % e)
    check(d.sql("SELECT COUNT(*) FROM jobs")[0][0] == 0, "and no job is created")
    r = c.call("submit", {"spec": dict(SPEC, budget=2, devices="all")})
    check("devices" not in r and r["device"] == "opencl:0", "'all' keeps the spec device's kind only: %s" % r)
    c.watch(r["job"])
    check("leaves out opencl:1" in d.read_log(), "and the log says which device it left out")
    c.close()

# ---- kill -9 of one worker mid-job, and a hang: that device's worker restarts, the other goes on --
# kill-worker@2: the worker measuring seq 2 is SIGKILLed (the first time); expire@5: seq 5's limit
# runs out at once, every time (a variant that hangs any card).
d = Daemon(env=dict(TWO, FAIRWAYD_TEST_FAULT="spread,kill-worker@2,expire@5"))
with guarded(d):
    d.start()
    c = d.client()
    r = c.call("submit", {"spec": dict(SPEC, devices=[0, 1])})
    job, planned = r["job"], r["planned"]
    fin = c.watch(job)[-1]
    check(fin["state"] == "done" and fin["evaluated"] == planned, "the job survives kill -9 of a worker: %s" % fin)
    each_seq_once(d, job, planned, "after the kill")
    rs = rows(d, job)
    check(all(x[2] == "ok" for i, x in enumerate(rs) if i != 5), "every seq ok, the killed one too")
    check(rs[5][2] == "timeout" and rs[5][3] == 1, "the hanging seq is stored as timeout after its retry: %s" % (rs[5],))
    log = d.read_log()
    killed = [s for s in DEVS if "killing the worker measuring seq 2 on %s" % s in log]
    check(len(killed) == 1, "the fault killed the worker measuring seq 2: %s" % killed)
    other = [s for s in DEVS if s not in killed]
    check(rs[2][3] == 1 and rs[2][1] == other[0], "seq 2 is retried on the other device: %s" % (rs[2],))
    # the first try of seq 5 and its retry ran on different devices, each restarted once for it
    check(log.count("the limit of seq 5 runs out now") == 2, "seq 5 hung twice")
    total = sum(starts(log, s) for s in DEVS)
    check(total == 5 and min(starts(log, s) for s in DEVS) >= 2,
          "each failure restarted its own device's worker only: 2 starts + 1 kill + 2 hangs (%s)"
          % [starts(log, s) for s in DEVS])
    c.close()

# ---- a device whose workers keep dying is taken out; the job finishes on the other -------------
d = Daemon(env=dict(TWO, FAIRWAYD_TEST_FAULT="spread,kill-device@opencl:1"))
with guarded(d):
    d.start()
    c = d.client()
    r = c.call("submit", {"spec": dict(SPEC, devices=[0, 1])})
    job, planned = r["job"], r["planned"]
    seen = c.watch(job)
    check(seen[-1]["state"] == "done" and seen[-1]["evaluated"] == planned, "the job finishes on the rest: %s" % seen[-1])
    out = [x for p in seen for x in p.get("devices", []) if x["state"] == "out"]
    check(out and out[0]["device"] == "opencl:1" and "3 times in a row" in out[0]["error"],
          "watch shows opencl:1 taken out, with why: %s" % (out[:1],))
    each_seq_once(d, job, planned, "one device out")
    check({x[1] for x in rows(d, job)} == {"opencl:0"}, "every seq was measured on opencl:0")
    log = d.read_log()
    check("device opencl:1 is taken out of the job" in log, "the log says so")
    check(starts(log, "opencl:1") == 3, "opencl:1 was started 3 times, then left alone (%d)" % starts(log, "opencl:1"))
    c.close()

# ---- a daemon restart resumes the job over both devices -----------------------------------------
d = Daemon(env=dict(TWO, FAIRWAYD_TEST_FAULT="spread"))
with guarded(d):
    d.start()
    c = d.client()
    # a learning strategy: its results are told in seq order, whichever device answers first, so
    # replaying the stored records in seq order rebuilds the same state (no stored seq differs)
    r = c.call("submit", {"spec": dict(SMALL_GEMM, budget=16, iters=5, strategy="anneal", devices=[0, 1])})
    job, planned = r["job"], r["planned"]
    seen = c.watch(job, until=lambda p: p["evaluated"] >= 3)
    at_kill = seen[-1]["evaluated"]
    check(3 <= at_kill < planned - 1, "killed mid-job (%d of %d evaluated)" % (at_kill, planned))
    d.kill9()
    c.close()
    before = d.sql("SELECT COALESCE(MAX(id), 0) FROM measurements")[0][0]
    d.start()
    c = d.client()
    fin = c.watch(job)[-1]
    check(fin["state"] == "done" and fin["evaluated"] == planned, "the resumed job completes: %s" % fin)
    each_seq_once(d, job, planned, "after the restart")
    after = {x[0] for x in d.sql("SELECT json_extract(record, '$.device') FROM measurements WHERE job = ? AND id > ?",
                                 (job, before))}
    check(after == set(DEVS), "after the restart both devices measured: %s" % after)
    log = d.read_log()
    check("job %d resumes" % job in log and log.count("job %d runs on 2 devices" % job) == 2,
          "the job resumed over its two devices")
    check("differ from this device's sequence" not in log, "the replayed records match the sequence")
    c.close()
    check(d.terminate() == 0, "clean exit")

# ---- jobs on many devices resuming together start 4 workers at a time ---------------------------
# The job is stored, then the daemon is killed where the job's plan is built (block-plan: the loop
# blocks for good after writing to a FIFO), before any device started on it; the next start resumes
# it on six devices at once.
SIX = {"POCL_DEVICES": " ".join(["pthread"] * 6)}
d = Daemon(env=SIX)
fifo = os.path.join(d.tmp, "blocked")
os.mkfifo(fifo)
d.env["FAIRWAYD_TEST_FAULT"] = "block-plan@" + fifo
with guarded(d):
    d.start()
    c = d.client()
    # the submit's reply would come after the plan: sent without waiting (the store's first job)
    c.send_raw((json.dumps({"jsonrpc": "2.0", "id": 1, "method": "submit",
                            "params": {"spec": dict(SPEC, budget=6, devices="all")}}) + "\n").encode())
    with open(fifo) as f:
        check(f.readline() == "blocked\n", "the six-device job is stored and the loop blocked at its plan")
    d.kill9()
    c.close()
    d.env.pop("FAIRWAYD_TEST_FAULT")
    first_run = len(d.read_log())
    d.start()
    c = d.client()
    fin = c.watch(1)[-1]
    check(fin["state"] == "done" and fin["evaluated"] == 6, "the resumed six-device job completes: %s" % fin)
    each_seq_once(d, 1, 6, "six devices")
    log = d.read_log()[first_run:]
    starting, most, started = 0, 0, 0
    for line in log.splitlines():
        if "started worker for opencl:" in line:
            starting, started = starting + 1, started + 1
            most = max(most, starting)
        elif "worker for opencl:" in line and " ready: " in line:
            starting -= 1
    check(started == 6 and most == 4, "six workers started, at most 4 at once (%d started, %d at once)" % (started, most))
    c.close()

finish()
