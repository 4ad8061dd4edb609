"""A device of a several-device job that cannot be opened midway (issue 17), on PoCL asked for two CPU
devices (POCL_DEVICES="pthread pthread"): the job finishes on the other device with every seq measured
exactly once, and the user is told which device went out and why, while the job runs (watch) and
after it ended (status, jobs, their --json).

The failures are fault hooks the daemon fires itself (no sleeps): reopen-fail@opencl:1 SIGKILLs the
worker of opencl:1 as its first seq is sent and starts every later worker of it with a device index
its backend does not have, so the real fairway-worker fails to open the device and says why (exit 3);
open-fail@opencl:1 does the latter from the first start (a daemon restart that resumes the job finds
the card gone). spread makes every device of the job get a seq before any gets a second, so opencl:1
is sure to start on the job whatever the machine's speed."""
import json
import os
import subprocess

from fwtest import SMALL_GEMM, Daemon, check, finish, guarded

TWO = {"POCL_DEVICES": "pthread pthread"}
SPEC = dict(SMALL_GEMM, budget=8, strategy="random", devices=[0, 1])
FAIRWAY = os.environ["FAIRWAY"]


def each_seq_once(d, job, planned, what):
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM measurements WHERE job = ?", (job,))[0]
    check(n == (planned, planned, 0, planned - 1), "%s: every seq 0..%d measured exactly once: %s" % (what, planned - 1, n))


def devices_of(d, job, since=0):
    return [x[0] for x in d.sql("SELECT json_extract(record, '$.device') FROM measurements WHERE job = ? AND id > ? "
                                "ORDER BY seq", (job, since))]


def cli(d, *args):
    """`fairway ARGS` against d: (exit code, stdout)."""
    r = subprocess.run([FAIRWAY, "--socket", d.socket, "--no-start"] + list(args), env=d.env, capture_output=True,
                       text=True, timeout=120)
    return r.returncode, r.stdout


def told_after(d, c, job, why):
    """The reason opencl:1 went out is kept once the job ended: status, jobs, a watch of the ended job,
    their --json, the CLI's text and the report."""
    st = c.call("status", {"job": job})
    out = st.get("devices_out")
    check(out and len(out) == 1 and out[0]["device"] == "opencl:1" and why in out[0]["error"] and out[0]["at"],
          "status of the ended job keeps why opencl:1 went out: %s" % out)
    listed = [j for j in c.call("jobs", {})["jobs"] if j["id"] == job]
    check(listed and listed[0].get("devices_out") == out, "jobs lists it too")
    final = c.watch(job)[-1]
    check(final["final"] and final.get("devices_out") == out, "a watch of the ended job says it: %s" % final)
    rc, text = cli(d, "status", str(job))
    check(rc == 0 and "device opencl:1 was taken out of the job at " in text and why in text,
          "`fairway status` prints it:\n%s" % text)
    rc, text = cli(d, "--json", "status", str(job))
    check(rc == 0 and json.loads(text).get("devices_out") == out, "`fairway --json status` carries it")
    rc, text = cli(d, "jobs")
    check(rc == 0 and ("job %d: device opencl:1 was taken out: " % job) in text and why in text,
          "`fairway jobs` prints it under the table:\n%s" % text)
    rc, text = cli(d, "--json", "jobs")
    check(rc == 0 and [j.get("devices_out") for j in json.loads(text)["jobs"] if j["id"] == job] == [out],
          "`fairway --json jobs` carries it")
    rc, text = cli(d, "watch", str(job))
    check(rc == 0 and "device opencl:1 was taken out of the job at " in text and why in text,
          "`fairway watch` of the ended job prints it:\n%s" % text)
    html = os.path.join(d.tmp, "report.html")
    rc, _ = cli(d, "report", str(job), "-o", html)
    with open(html) as f:
        page = f.read()
    check(rc == 0 and "<h3>Devices taken out</h3>" in page and "opencl:1" in page and why in page,
          "the report has a table of the devices taken out")
    return out


def out_in_watch(seen):
    return [x for p in seen for x in p.get("devices", []) if x["state"] == "out"]


# ---- the job started on opencl:1, whose worker then dies and cannot open the device again -------
d = Daemon(env=dict(TWO, FAIRWAYD_TEST_FAULT="spread,reopen-fail@opencl:1"))
with guarded(d):
    d.start()
    c = d.client()
    r = c.call("submit", {"spec": SPEC})
    job, planned = r["job"], r["planned"]
    check(r["devices"] == ["opencl:0", "opencl:1"], "a job over both devices: %s" % r)
    seen = c.watch(job)
    fin = seen[-1]
    check(fin["state"] == "done" and fin["evaluated"] == planned, "the job finishes on opencl:0: %s" % fin)
    each_seq_once(d, job, planned, "opencl:1 out midway")
    check(set(devices_of(d, job)) == {"opencl:0"}, "every seq was stored from opencl:0: %s" % devices_of(d, job))
    log = d.read_log()
    killed = [ln for ln in log.splitlines() if "test fault: killing the worker measuring seq" in ln]
    check(len(killed) == 1 and killed[0].endswith(" on opencl:1"), "opencl:1's worker was killed on its first seq: %s"
          % killed)
    seq = int(killed[0].split("measuring seq ")[1].split()[0]) if killed else -1
    retried = d.sql("SELECT json_extract(record, '$.device'), json_extract(record, '$.retried') FROM measurements "
                    "WHERE job = ? AND seq = ?", (job, seq))
    check(retried == [("opencl:0", 1)], "the killed seq %d was measured once more, on opencl:0: %s" % (seq, retried))
    check(log.count("started worker for opencl:1 ") == 2, "opencl:1 was started twice (the first open, the restart)")
    check("started with device index 1001" in log and "device opencl:1 unavailable: OpenCL device 1001 does not exist"
          in log, "the restarted worker really failed to open its device, and said why")
    out = out_in_watch(seen)
    check(out and out[0]["device"] == "opencl:1" and "could not be opened" in out[0]["error"]
          and "does not exist" in out[0]["error"], "watch shows opencl:1 taken out, with the worker's words: %s" % out[:1])
    check("3 times in a row" not in (out[0]["error"] if out else ""), "at once, not after 3 deaths")
    check("device opencl:1 is taken out of the job" in log, "the log says so")
    told_after(d, c, job, "could not be opened: OpenCL device 1001 does not exist")
    c.close()
    check(d.terminate() == 0, "clean exit")

# ---- a restart resumes the job and finds opencl:1 gone: the job finishes on opencl:0 ------------
d = Daemon(env=dict(TWO, FAIRWAYD_TEST_FAULT="spread"))
with guarded(d):
    d.start()
    c = d.client()
    r = c.call("submit", {"spec": dict(SPEC, budget=16)})
    job, planned = r["job"], r["planned"]
    seen = c.watch(job, until=lambda p: p["evaluated"] >= 3)
    check(3 <= seen[-1]["evaluated"] < planned - 1, "killed mid-job (%d of %d evaluated)" % (seen[-1]["evaluated"], planned))
    d.kill9()
    c.close()
    before = d.sql("SELECT COALESCE(MAX(id), 0) FROM measurements")[0][0]
    d.env["FAIRWAYD_TEST_FAULT"] = "spread,open-fail@opencl:1"
    d.start()
    c = d.client()
    seen = c.watch(job)
    fin = seen[-1]
    check(fin["state"] == "done" and fin["evaluated"] == planned, "the resumed job finishes on opencl:0: %s" % fin)
    each_seq_once(d, job, planned, "resumed without opencl:1")
    check(set(devices_of(d, job, before)) == {"opencl:0"}, "after the restart only opencl:0 measured")
    out = out_in_watch(seen)
    check(out and out[0]["device"] == "opencl:1" and "could not be opened" in out[0]["error"],
          "watch shows opencl:1 taken out on the resume: %s" % out[:1])
    told_after(d, c, job, "could not be opened")
    c.close()
    check(d.terminate() == 0, "clean exit")

finish()
