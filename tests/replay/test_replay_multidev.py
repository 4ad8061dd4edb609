"""One job over several replay devices (issue 17): FAIRWAY_REPLAY_DEVICES=2 makes the replay backend
show two identical devices, so several-device scheduling runs on a recorded space, exactly. A job on
both gives the one-device job's sequence, rankings (finalists included) and best, seq for seq and
nanosecond for nanosecond, for a learning strategy with seeded noise: the sequencer tells its
strategy the results in seq order whichever device answered first, and a replayed seq measures the
same on any device. A bad FAIRWAY_REPLAY_DEVICES is refused with a sentence.

FAIRWAYD_TEST_FAULT=spread makes every device of a job get a seq before any gets a second, so "both
devices measured" holds whatever the machine's speed; no assertion depends on timing."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from fwtest import Daemon, check, finish, guarded  # noqa: E402

WORKER = os.environ["FAIRWAY_WORKER"]
DEVS = ["replay:0", "replay:1"]


def bowl():
    """A smooth bowl over 8 x 8 x 4 points, some unrecorded and a corner of compile errors."""
    cache = {}
    for a in range(8):
        for b in range(8):
            for c in range(4):
                if (a + b + c) % 7 == 0:
                    continue
                t = (1 + 0.3 * (a - 5) ** 2) * (1 + 0.2 * (b - 2) ** 2) * (1 + 0.5 * abs(c - 1))
                cache["%d,%d,%d" % (a, b, c)] = {"a": a, "b": b, "c": c,
                                                 "time": "CompilationFailedConfig" if a >= 6 and b >= 6 else t}
    return {"tune_params_keys": ["a", "b", "c"], "tune_params": {"a": list(range(8)), "b": list(range(8)),
            "c": list(range(4))}, "kernel_name": "bowl", "cache": cache}


def sequence(d, job):
    return d.sql("SELECT m.seq, v.key, m.status, m.median_ns FROM measurements m JOIN variants v ON v.id = m.variant_id "
                 "WHERE m.job = ? ORDER BY m.seq", (job,))


def ranking(c, job):
    return [(r["rank"], r["shape_key"], r["variant_key"], r["median_ns"], r.get("timing"))
            for r in c.call("rankings", {"job": job, "limit": 0})["rankings"]]


tmp = tempfile.mkdtemp(prefix="fw-replay-md-")
try:
    path = os.path.join(tmp, "bowl.json")
    with open(path, "w") as f:
        json.dump(bowl(), f)

    # ---- the backend: N devices, or a sentence ---------------------------------------------------
    for bad in ("0", "17", "two"):
        p = subprocess.run([WORKER, "--serve", "--backend", "replay"], input="", capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, FAIRWAY_REPLAY_DEVICES=bad))
        check(p.returncode == 3 and ("FAIRWAY_REPLAY_DEVICES='%s' is not a number of replay devices from 1 to 16"
                                     % bad) in p.stdout, "FAIRWAY_REPLAY_DEVICES=%s is refused with a sentence: %s"
              % (bad, p.stdout.strip()))
    p = subprocess.run([WORKER, "--serve", "--backend", "replay", "--device", "2"], input="", capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, FAIRWAY_REPLAY_DEVICES="2"))
    check(p.returncode == 3 and "has 2 devices, replay:0..1" in p.stdout, "replay:2 of 2 does not exist: %s"
          % p.stdout.strip())

    d = Daemon(env={"FAIRWAY_REPLAY_DEVICES": "2", "FAIRWAYD_TEST_FAULT": "spread"})
    with guarded(d):
        d.start()
        c = d.client()
        listed = {x["selector"]: x["identity"] for s in DEVS for x in c.call("devices", {"device": s})["devices"]
                  if x["selector"].startswith("replay:")}
        check(sorted(listed) == DEVS and len(set(listed.values())) == 1,
              "FAIRWAY_REPLAY_DEVICES=2: two replay devices of one identity: %s" % listed)

        spec = {"replay": {"file": path}, "strategy": "auto", "budget": 40, "seed": 3,
                "options": {"replay_noise": 0.05, "finalists": 3}}
        # the one-device job first, so replay:0 holds the file's identity when the two-device job is
        # submitted and replay:1 still the backend's: replay devices are alike whatever they replayed
        one = c.call("submit", {"spec": spec})
        check("devices" not in one and one["device"] == "replay:0", "a one-device replay job: %s" % one)
        f1 = c.watch(one["job"])[-1]
        two = c.call("submit", {"spec": dict(spec, devices=[0, 1])})
        check(two.get("devices") == DEVS, "a job over both replay devices: %s" % two)
        f2 = c.watch(two["job"])[-1]
        check(f1["state"] == f2["state"] == "done" and f1["evaluated"] == f2["evaluated"] == 40,
              "both jobs measure their 40: %s / %s" % (f1["evaluated"], f2["evaluated"]))

        s1, s2 = sequence(d, one["job"]), sequence(d, two["job"])
        check(len(s2) == 40 and [x[0] for x in s2] == list(range(40)), "every seq measured exactly once on two devices")
        check(s1 == s2, "the two-device job measured the one-device job's points with its times, seq for seq")
        devs = d.sql("SELECT json_extract(record, '$.device') FROM measurements WHERE job = ? ORDER BY seq",
                     (two["job"],))
        check({x[0] for x in devs} == set(DEVS), "both replay devices measured: %s" % [x[0] for x in devs])
        r1, r2 = ranking(c, one["job"]), ranking(c, two["job"])
        check(r1 and r1 == r2, "the same ranking, finalists' medians included (%d ranked)" % len(r1))
        check(any(x[4] == "finalist" for x in r2), "the finalists were re-timed")
        check(f1["best"] == f2["best"] and f1["best"], "the same best: %s" % f2["best"])
        log = d.read_log()
        check("job %d: re-timing" % two["job"] in log and "on replay:0" in log, "its finalists ran on replay:0")

        every = c.call("submit", {"spec": dict(spec, seed=4, devices="all")})
        check(every.get("devices") == DEVS, "devices 'all' is both replay devices: %s" % every.get("devices"))
        check(c.watch(every["job"])[-1]["state"] == "done", "the 'all' job completes")
        c.close()
        check(d.terminate() == 0, "clean exit")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
finish()
