"""The shutdown method (issue 19 item 12). Graceful: the variant in flight is finished and stored, no
other is started, work-starting requests are refused meanwhile, the daemon exits 0 and the next start
resumes the job. now: the daemon exits at once while a variant hangs (the worker's hang@K fault holds
seq K in flight for good), that variant is not stored and is measured on the next start. No sleeps:
the test acts on progress notifications and on the reply's in_flight list."""
import json
import os
import subprocess

from fwtest import SMALL_GEMM, Daemon, check, finish, guarded


def seqs(d, job):
    return [r[0] for r in d.sql("SELECT seq FROM measurements WHERE job = ? ORDER BY seq", (job,))]


def resumes_to_done(d, job, planned):
    d.start()
    c = d.client()
    fin = c.watch(job)[-1]
    got = seqs(d, job)
    check(fin["state"] == "done" and got == list(range(planned)),
          "after the restart job %d completes, every seq once: %s %s" % (job, fin["state"], got))
    c.close()
    check(d.terminate() == 0, "clean exit")


d = Daemon()
with guarded(d):
    d.start()
    c = d.client()
    e = c.error("shutdown", {"now": 1})
    check(e and e["code"] == -32602 and "true or false" in e["message"], "now must be a boolean: %s" % e)
    e = c.error("shutdown", {"later": True})
    check(e and e["code"] == -32602 and "unknown parameter 'later'" in e["message"], "unknown param: %s" % e)

    sub = c.call("submit", {"spec": dict(SMALL_GEMM, budget=8)})
    job, planned = sub["job"], sub["planned"]
    queued = c.call("submit", {"spec": dict(SMALL_GEMM, seed=99)})["job"]
    c.watch(job, until=lambda p: p["evaluated"] >= 1)

    # shutdown and a submit in one write: the submit is handled while the daemon drains
    s = d.client()
    s.send_raw((json.dumps({"jsonrpc": "2.0", "id": 1, "method": "shutdown", "params": {}}) + "\n" +
                json.dumps({"jsonrpc": "2.0", "id": 2, "method": "submit", "params": {"spec": SMALL_GEMM}}) + "\n" +
                json.dumps({"jsonrpc": "2.0", "id": 3, "method": "status", "params": {"job": job}}) + "\n").encode())
    r1, r2, r3 = s.read_msg(), s.read_msg(), s.read_msg()
    res = r1["result"]
    check(res["mode"] == "graceful" and res["stopping"] is True and res["unfinished"] == [job, queued],
          "the reply says graceful and lists the unfinished jobs: %s" % res)
    fl = res["in_flight"]
    check(len(fl) == 1 and fl[0]["job"] == job and fl[0]["device"] == "opencl:0" and fl[0]["seq"] >= 1,
          "one variant in flight: %s" % fl)
    check(r2.get("error", {}).get("code") == -32006 and "shutting down" in r2["error"]["message"],
          "a submit while draining is refused with -32006: %s" % r2)
    check("result" in r3, "queries are still answered while draining: %s" % r3.get("error"))
    check(s.read_msg() is None, "the daemon closes the connection as it stops")
    told = []
    while True:   # the watcher is told why its connection closes, then it does
        m = c.next_notification()
        if m is None:
            break
        told.append(m.get("params", {}).get("waiting", ""))
    check(any("shutting down" in w for w in told), "the job's watcher is told the daemon is shutting down: %s" % told)
    rc = d.proc.wait(timeout=120)
    check(rc == 0, "graceful shutdown: exit status 0 (%s)" % rc)
    c.close()
    s.close()
    last = fl[0]["seq"]
    got = seqs(d, job)
    check(got == list(range(last + 1)), "the variant in flight (seq %d) was stored and none after it: %s" % (last, got))
    states = dict(d.sql("SELECT id, state FROM jobs"))
    check(states[job] == "running" and states[queued] == "queued", "the jobs stay unfinished: %s" % states)
    check("shutdown asked by a client" in d.read_log(), "the log says who stopped it")
    resumes_to_done(d, job, planned)

d = Daemon(env={"FAIRWAY_TEST_FAULT": "hang@2"}, args=["--variant-timeout", "300"])
with guarded(d):
    d.start()
    c = d.client()
    sub = c.call("submit", {"spec": dict(SMALL_GEMM, budget=6)})
    job, planned = sub["job"], sub["planned"]
    c.watch(job, until=lambda p: p["evaluated"] >= 2)   # seq 2 is now in flight, and hangs
    s = d.client()
    res = s.call("shutdown", {"now": True})
    check(res["mode"] == "now" and res["in_flight"] == [{"job": job, "seq": 2, "device": "opencl:0"}],
          "shutdown now names the hanging variant it drops: %s" % res)
    told = []
    while True:
        m = c.read_msg()
        if m is None:
            break
        told.append(m.get("params", {}).get("waiting", ""))
    check(s.read_msg() is None and told and all("shutting down" in w for w in told),
          "every connection is closed, the watcher told why first: %s" % told)
    rc = d.proc.wait(timeout=120)   # a wait for the hanging variant would take 300 s
    check(rc == 0, "shutdown now: exit status 0 (%s)" % rc)
    c.close()
    s.close()
    got = seqs(d, job)
    check(got == [0, 1], "the dropped variant is not stored: %s" % got)
    d.env.pop("FAIRWAY_TEST_FAULT")
    resumes_to_done(d, job, planned)

# a job cancelled while its variant hangs is not among the jobs a shutdown says will resume, and it
# stays cancelled at the next start
d = Daemon(env={"FAIRWAY_TEST_FAULT": "hang@2"}, args=["--variant-timeout", "300"])
with guarded(d):
    d.start()
    c = d.client()
    job = c.call("submit", {"spec": dict(SMALL_GEMM, budget=6)})["job"]
    c.watch(job, until=lambda p: p["evaluated"] >= 2)   # seq 2 is now in flight, and hangs
    s = d.client()
    s.call("cancel", {"job": job})
    st = s.call("status", {"job": job})
    check(st["state"] == st["progress"]["state"] == "cancelled" and
          "variant in flight" in st["progress"].get("waiting", ""),
          "status says cancelled at once, and what it waits for: %s %s" % (st["state"], st["progress"]))
    # `fairway watch` follows it (its first plain progress line says it is watching) instead of
    # printing the stored `cancelled` as the end while seq 2 is still measured
    cli = subprocess.Popen([os.environ["FAIRWAY"], "--socket", d.socket, "--no-start", "watch", str(job)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=d.env)
    first = cli.stdout.readline()
    check(first.startswith("progress: job %d cancelled" % job),
          "fairway watch follows a cancelled job whose variant is in flight: %r" % first)
    res = s.call("shutdown", {"now": True})
    check(res["in_flight"] == [{"job": job, "seq": 2, "device": "opencl:0"}] and res["unfinished"] == [],
          "a cancelled job with a variant in flight is not 'unfinished': %s" % res)
    told = []
    while True:
        m = c.read_msg()
        if m is None:
            break
        told.append(m.get("params", {}).get("waiting"))
    check(not any(w and "resumes" in w for w in told), "its watcher is not told it resumes: %s" % told)
    check(d.proc.wait(timeout=120) == 0, "shutdown now: exit status 0")
    out, err = cli.communicate(timeout=120)
    check(cli.returncode != 0 and "rank" not in out,
          "the watch ends with the daemon, not with a report of a job still measuring: rc %d %r %r" %
          (cli.returncode, out[-300:], err[-300:]))
    c.close()
    s.close()
    d.env.pop("FAIRWAY_TEST_FAULT")
    d.start()
    st = d.client().call("status", {"job": job})
    check(st["state"] == "cancelled" and seqs(d, job) == [0, 1],
          "at the next start it is still cancelled, nothing measured again: %s %s" % (st["state"], seqs(d, job)))

finish()
