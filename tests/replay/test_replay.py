"""The replay device (issue 11): a recorded space measured through fairway-worker and the real
fairwayd, no GPU. The recorded spaces are written here (a tiny Kernel Tuner cache with failures and a
knob of strings), never read from /work/shared. Checks: the plan's points are exactly the recorded
configurations; failed entries are stored with their classes; grid on replay ranks exactly the
recorded order; the same seed gives the same sequence and another seed another; noise is seeded; the
device names the file and its hash; rerun/compare; a changed file is refused with a sentence; learning
strategies give the identical sequence on rerun and after kill -9 of the daemon and a restart."""
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "daemon"))
from fwtest import Daemon, RpcError, check, finish  # noqa: E402

WORKER = os.environ["FAIRWAY_WORKER"]
FAIRWAY = os.environ["FAIRWAY"]

# a small gemm grid on the real device (PoCL without a GPU): 4 variants, recorded then replayed
GEMM = {"family": "gemm", "shapes": [{"M": 64, "N": 64, "K": 64}], "strategy": "grid", "budget": 0, "seed": 5,
        "warmup": 1, "iters": 3, "options": {"finalists": 2},
        "space": {"knobs": {"TILE_N": [32], "SIMDGROUPS_PER_TG": [4], "SG_M_TILES": [1, 2], "SG_N_TILES": [2],
                            "NUM_BUFFERS": [1, 2], "TILE_K": [16]}}}

# bx x by x mode = 4 x 3 x 2 = 24 raw points; 14 are recorded, 3 of them failed.
BX, BY, MODE = [16, 32, 64, 128], [1, 2, 4], ["fast", "slow"]


def tiny_cache():
    cache = {}
    i = 0
    for bx in BX:
        for by in BY:
            for mode in MODE:
                i += 1
                if i % 12 in (3, 7):   # not recorded: never valid
                    continue
                if len(cache) >= 14:
                    break
                key = "%d,%d,%s" % (bx, by, mode)
                e = {"bx": bx, "by": by, "mode": mode}
                n = len(cache)
                if n == 4:
                    e["time"] = "CompilationFailedConfig"
                elif n == 9:
                    e["time"] = "RuntimeFailedConfig"
                elif n == 12:
                    e["time"] = "InvalidConfig"
                else:
                    # distinct times in a scrambled order; some entries carry samples
                    e["time"] = round(0.5 + ((n * 5) % 14) * 0.25, 3)
                    if n % 3 == 0:
                        e["times"] = [e["time"] * 0.99, e["time"], e["time"] * 1.01]
                cache[key] = e
    return {"device_name": "Test GPU 9000", "kernel_name": "tiny_kernel", "problem_size": [1024, 512],
            "tune_params_keys": ["bx", "by", "mode"],
            "tune_params": {"bx": BX, "by": BY, "mode": MODE}, "objective": "time", "cache": cache}


def key_of(e):
    return "bx=%d,by=%d,mode=%d" % (e["bx"], e["by"], MODE.index(e["mode"]))


def worker(spec, tmp, *args):
    path = os.path.join(tmp, "spec.json")
    with open(path, "w") as f:
        json.dump(spec, f)
    p = subprocess.run([WORKER, "--spec", path] + list(args), capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "worker %s exits 0 (%s)" % (" ".join(args), p.stderr.strip()[-300:]))
    lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
    return [r for r in lines if "seq" in r]


def standalone(tmp, path, data):
    recs = worker({"replay": {"file": path}, "strategy": "grid", "budget": 0, "seed": 1}, tmp, "--finalists", "0")
    recorded = {key_of(e): e for e in data["cache"].values()}
    check(sorted(r["variant_key"] for r in recs) == sorted(recorded),
          "grid plans exactly the %d recorded configurations, none outside the file" % len(recorded))
    want = {"CompilationFailedConfig": "compile_error", "RuntimeFailedConfig": "crashed",
            "InvalidConfig": "invalid"}
    ok = True
    for r in recs:
        e = recorded[r["variant_key"]]
        if isinstance(e["time"], str):
            ok &= r["status"] == want[e["time"]] and e["time"] in r["error"] and "stats" not in r
        else:
            base = e.get("times", [e["time"]])
            exp = [round(base[j % len(base)] * 1e6) for j in range(20)]   # iters 20, samples cycle
            ok &= r["status"] == "ok" and r["samples_ns"] == exp and r["family"] == "replay"
    check(ok, "each record is the recorded time (samples cycling, else the mean) or the failure's class")
    check(all(r["kernel"] == "tiny_kernel" and r["shape_key"] == "size0=1024,size1=512" for r in recs),
          "records name the recorded kernel and the problem size as the shape")

    rand = {"replay": {"file": path}, "budget": 6, "seed": 3}
    a, b = worker(rand, tmp), worker(rand, tmp)
    c = worker(dict(rand, seed=4), tmp)
    seq = [r["variant_key"] for r in a]
    check(len(a) == 6 and seq == [r["variant_key"] for r in b] and a == b,
          "random, same seed: the identical sequence and records")
    check(seq != [r["variant_key"] for r in c], "another seed gives another sequence")
    check(all(k in recorded for k in seq), "random proposes only recorded points")

    noisy = dict(rand, options={"replay_noise": 0.05})
    n1, n2 = worker(noisy, tmp), worker(noisy, tmp)
    n3 = worker(dict(noisy, seed=5, budget=0, strategy="grid"), tmp)
    oks = [r for r in n1 if r["status"] == "ok"]
    check(n1 == n2, "noise is seeded: the same seed gives the same noisy samples")
    check(all(len(set(r["samples_ns"])) > 3 for r in oks), "noise varies each sample")
    plain = {r["variant_key"]: r for r in worker(dict(rand, strategy="grid", budget=0), tmp)}
    check(all(abs(r["stats"]["median_ns"] / plain[r["variant_key"]]["stats"]["median_ns"] - 1) < 0.2 for r in oks),
          "noisy medians stay near the recorded ones (sd 5%)")
    g3 = {r["variant_key"]: r["samples_ns"] for r in n3 if r["status"] == "ok"}
    check(any(g3[r["variant_key"]] != r["samples_ns"] for r in oks), "another seed draws other noise")


def through_daemon(tmp, path, data):
    d = Daemon()
    try:
        d.start()
        c = d.client()
        sub = c.call("submit", {"spec": {"replay": {"file": path}, "strategy": "grid", "budget": 0, "seed": 1,
                                         "options": {"finalists": 3}}})
        fin = c.watch(sub["job"])[-1]
        check(fin["state"] == "done", "a replayed job runs to done through the daemon")
        rk = c.call("rankings", {"job": sub["job"], "limit": 100})["rankings"]
        oks = sorted((e["time"], key_of(e)) for e in data["cache"].values() if not isinstance(e["time"], str))
        check([r["variant_key"] for r in rk] == [k for _, k in oks],
              "rankings on replay are exactly the recorded order (%d ok)" % len(oks))
        rows = dict(d.sql("SELECT status, COUNT(*) FROM measurements WHERE job = ? GROUP BY status",
                          (sub["job"],)))
        check(rows == {"ok": len(oks), "compile_error": 1, "crashed": 1, "invalid": 1},
              "failed entries are stored with their classes: %s" % rows)
        ident = d.sql("SELECT d.identity FROM jobs j JOIN devices d ON d.id = j.device_id WHERE j.id = ?",
                      (sub["job"],))
        with open(path, "rb") as f:
            raw = f.read()
        check(len(ident) == 1 and ident[0][0].startswith("replay|fairway|%s|" % os.path.basename(path)),
              "the job's device names the file (%s)" % (ident and ident[0][0]))
        rr = c.call("rerun", {"job": sub["job"]})
        check(c.watch(rr["job"])[-1]["state"] == "done", "rerun on replay completes")
        cmp = c.call("compare", {"a": sub["job"], "b": rr["job"]})
        check(cmp["same_variants"] is True and cmp["median_ratio"]["max"] == 1.0,
              "rerun on replay: the same sequence and the same times")
        with open(path, "wb") as f:   # the file changes: a rerun is refused with a sentence
            f.write(raw.replace(b"Test GPU 9000", b"Test GPU 9001"))
        try:
            r2 = c.call("rerun", {"job": sub["job"]})
            last = c.watch(r2["job"])[-1]
            check(last["state"] == "failed" and "changed" in (last.get("error") or ""),
                  "a rerun of a changed file fails saying it changed: %s" % last.get("error"))
        except RpcError as e:
            check("changed" in e.message, "a rerun of a changed file is refused saying it changed: %s" % e.message)
        with open(path, "wb") as f:
            f.write(raw)
    except Exception as e:
        check(False, "unexpected %r\n%s" % (e, d.read_log()))
    finally:
        d.cleanup()


def edge_cases(tmp):
    """A recorded space whose raw product is over fairway's space limit (1000000) plans only its
    recorded points; float values tune their indices; a name fairway cannot tune is refused."""
    vals = list(range(1, 41))
    cache = {}
    for i in range(5):
        e = {"a": vals[i], "b": vals[2 * i], "c": vals[3 * i], "d": vals[39 - i], "f": [0.5, 1.5][i % 2],
             "time": 1.0 + i}
        cache[",".join(str(e[k]) for k in "abcdf")] = e
    wide = {"tune_params_keys": list("abcdf"), "tune_params": {"a": vals, "b": vals, "c": vals, "d": vals,
                                                               "f": [0.5, 1.5]}, "cache": cache}
    path = os.path.join(tmp, "wide.json")
    with open(path, "w") as f:
        json.dump(wide, f)
    recs = worker({"replay": {"file": path}, "strategy": "grid", "budget": 0, "seed": 1}, tmp, "--finalists", "0")
    check(len(recs) == 5 and sorted(r["knobs"]["f"] for r in recs) == [0, 0, 0, 1, 1],
          "a recorded space of 5120000 raw points plans its 5 recorded ones; float values tune their indices")
    p = subprocess.run([WORKER, "--spec", "-", "--resolve"], input=json.dumps({"replay": {"file": path}}),
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and json.loads(p.stdout)["replay"]["labels"] == {"f": ["0.5", "1.5"]},
          "the resolved spec lists the float knob's values")
    wide["tune_params"]["block-x"] = wide["tune_params"].pop("a")
    wide["tune_params_keys"][0] = "block-x"
    for e in wide["cache"].values():
        e["block-x"] = e.pop("a")
    with open(path, "w") as f:
        json.dump(wide, f)
    p = subprocess.run([WORKER, "--spec", "-", "--resolve"], input=json.dumps({"replay": {"file": path}}),
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 2 and "'block-x' is not a name fairway can tune" in p.stderr,
          "a recorded knob name that is no C identifier is refused with a sentence: %s" % p.stderr.strip())
    p = subprocess.run([WORKER, "--spec", "-", "--resolve"], input=json.dumps({"replay": {"file": path + ".no"}}),
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 2 and "cannot find the recorded space" in p.stderr, "a missing file is refused: %s" %
          p.stderr.strip())
    sub = os.path.join(tmp, "sub")
    os.makedirs(sub, exist_ok=True)
    shutil.copy(path, os.path.join(sub, "wide.json"))
    with open(os.path.join(sub, "spec.json"), "w") as f:
        json.dump({"replay": {"file": "wide.json"}}, f)
    p = subprocess.run([FAIRWAY, "tune", "--spec", os.path.join(sub, "spec.json"), "--print-spec"], cwd="/",
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and json.loads(p.stdout)["replay"]["file"] == os.path.join(os.path.realpath(sub), "wide.json"),
          "a spec file's replay.file is read relative to the spec and sent as an absolute path")
    p = subprocess.run([FAIRWAY, "tune", "--replay", os.path.basename(path), "--replay-noise", "0.03", "--print-spec"],
                       cwd=tmp, capture_output=True, text=True, timeout=60)
    o = json.loads(p.stdout) if p.returncode == 0 else {}
    check(o.get("replay", {}).get("file") == os.path.realpath(path) and o.get("backend") == "replay" and
          o.get("options", {}).get("replay_noise") == 0.03, "--replay FILE and --replay-noise R build the spec")
    p = subprocess.run([WORKER, "--spec", "-", "--resolve"], input=json.dumps({"replay": {"file": "/dev/zero"}}),
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 2 and "not a regular file" in p.stderr, "a device file is refused, not read forever")


def sequence(d, job):
    return d.sql("SELECT m.seq, v.key, m.status, m.median_ns FROM measurements m JOIN variants v ON v.id = m.variant_id "
                 "WHERE m.job = ? ORDER BY m.seq", (job,))


def restarts(tmp, path):
    """A worker killed mid-job (retried on a fresh one, whose "ready" names no file) and the daemon
    killed -9 and restarted: the replayed job ends with the records of an uninterrupted run (noise
    on: each seq draws its own), all on the replay device."""
    spec = {"replay": {"file": path}, "budget": 10, "seed": 7, "options": {"replay_noise": 0.05, "finalists": 0}}
    d = Daemon(env={"FAIRWAYD_TEST_FAULT": "kill-worker@3"})
    try:
        d.start()
        c = d.client()
        ref = c.call("submit", {"spec": spec})["job"]
        check(c.watch(ref)[-1]["state"] == "done", "a replayed job whose worker is killed at seq 3 completes")
        devs = d.sql("SELECT DISTINCT d.identity FROM measurements m JOIN devices d ON d.id = m.device_id "
                     "WHERE m.job = ?", (ref,))
        check(len(devs) == 1 and devs[0][0].startswith("replay|fairway|tiny.json|"),
              "every record, the retried one too, is on the replay device: %s" % devs)
        d.terminate()
        d.env["FAIRWAY_TEST_FAULT"] = "hang@5"   # the worker stops at seq 5: kill -9 the daemon there
        d.env.pop("FAIRWAYD_TEST_FAULT")
        d.start()
        c = d.client()
        job = c.call("submit", {"spec": spec})["job"]
        c.watch(job, until=lambda p: p["evaluated"] >= 5)
        d.kill9()
        for pid in re.findall(r"started worker for replay:0 \(pid (\d+)\)", d.read_log())[-1:]:
            try:
                os.kill(int(pid), signal.SIGKILL)   # the hung worker the killed daemon left
            except ProcessLookupError:
                pass
        d.env.pop("FAIRWAY_TEST_FAULT")
        d.start()
        c = d.client()
        check(c.watch(job)[-1]["state"] == "done", "after kill -9 at seq 5 and a restart the job completes")
        a, b = sequence(d, ref), sequence(d, job)
        check(len(a) == 10 and a == b, "and its records equal the uninterrupted run's, noise included")
    except Exception as e:
        check(False, "unexpected %r\n%s" % (e, d.read_log()))
    finally:
        d.cleanup()


def learning(tmp, path):
    """Learning strategies on the replay device (issue 11): the same seed gives the identical
    sequence (rerun), and kill -9 of the daemon mid-job then a restart ends with exactly the
    uninterrupted run's sequence: the restarted daemon rebuilds the strategy from the stored results."""
    for strategy in ("auto", "model"):
        spec = {"replay": {"file": path}, "strategy": strategy, "budget": 11, "seed": 3,
                "options": {"replay_noise": 0.02, "finalists": 0, "ask_ahead": 2}}
        d = Daemon()
        try:
            d.start()
            c = d.client()
            ref = c.call("submit", {"spec": spec})["job"]
            check(c.watch(ref)[-1]["state"] == "done", "%s on replay completes" % strategy)
            a = sequence(d, ref)
            origins = [r[0] for r in d.sql("SELECT origin FROM measurements WHERE job = ? ORDER BY seq", (ref,))]
            check(len(a) == 11 and len(set(r[1] for r in a)) == 11 and set(origins) == {strategy},
                  "%s: 11 distinct points, each of origin %s: %s" % (strategy, strategy, origins))
            re_job = c.call("rerun", {"job": ref})["job"]
            check(c.watch(re_job)[-1]["state"] == "done" and sequence(d, re_job) == a,
                  "%s: rerun on replay gives the identical sequence" % strategy)
            cmp = c.call("compare", {"a": ref, "b": re_job})
            sq = cmp["sequence"]
            check(sq["identical"] is True and sq["fixed_order"] is False and sq["ask_ahead"] == 2 and
                  sq["same_setup"] is True and cmp["divergence"] is None and cmp["divergences"] == [],
                  "%s: compare says the rerun's sequence is identical: %s" % (strategy, sq))
            d.terminate()
            d.env["FAIRWAY_TEST_FAULT"] = "hang@6"
            d.start()
            c = d.client()
            job = c.call("submit", {"spec": spec})["job"]
            c.watch(job, until=lambda p: p["evaluated"] >= 6)
            d.kill9()
            for pid in re.findall(r"started worker for replay:0 \(pid (\d+)\)", d.read_log())[-1:]:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            d.env.pop("FAIRWAY_TEST_FAULT")
            d.start()
            c = d.client()
            check(c.watch(job)[-1]["state"] == "done", "%s: after kill -9 at seq 6 the job completes" % strategy)
            check(sequence(d, job) == a, "%s: and its sequence equals the uninterrupted run's" % strategy)
            check("differ from this device's sequence" not in d.read_log(),
                  "%s: every stored point matched the rebuilt sequence" % strategy)
        except Exception as e:
            check(False, "unexpected %r\n%s" % (e, d.read_log()))
        finally:
            d.cleanup()


def divergence(tmp, data):
    """compare on two replayed learning jobs whose recorded spaces differ in one entry's time (issue
    11): the sequences diverge where the strategy first saw that time, and compare names it as the
    cause with both medians and their ratio; the text output says so too."""
    pa, pb = os.path.join(tmp, "div_a.json"), os.path.join(tmp, "div_b.json")
    with open(pa, "w") as f:
        json.dump(data, f)
    spec = {"strategy": "anneal", "budget": 9, "seed": 4, "options": {"finalists": 0, "ask_ahead": 1}}
    d = Daemon()
    try:
        d.start()
        c = d.client()
        ja = c.call("submit", {"spec": dict(spec, replay={"file": pa})})["job"]
        check(c.watch(ja)[-1]["state"] == "done", "divergence: job a completes")
        a = sequence(d, ja)
        # the first plain timed point (no samples) made 20x faster in b's recorded space
        other = json.loads(json.dumps(data))
        by_key = {key_of(e): e for e in other["cache"].values()}
        k = next(i for i, r in enumerate(a) if not isinstance(by_key[r[1]]["time"], str) and
                 "times" not in by_key[r[1]])
        changed, entry = a[k][1], by_key[a[k][1]]
        entry["time"] = entry["time"] * 0.05
        with open(pb, "w") as f:
            json.dump(other, f)
        jb = c.call("submit", {"spec": dict(spec, replay={"file": pb})})["job"]
        check(c.watch(jb)[-1]["state"] == "done", "divergence: job b completes")
        b = sequence(d, jb)
        first = next((i for i in range(min(len(a), len(b))) if a[i][1] != b[i][1]), None)
        check(first is not None and first > k + 1, "divergence: the sequences differ, from position %s" % first)
        cmp = c.call("compare", {"a": ja, "b": jb})
        dv = cmp["divergence"]
        check(cmp["sequence"]["identical"] is False and cmp["sequence"]["same_setup"] is False and dv is not None and
              dv["position"] == first and dv["seq_a"] == a[first][0] and dv["seq_b"] == b[first][0] and
              dv["variant_a"] == a[first][1] and dv["variant_b"] == b[first][1],
              "divergence: compare names position %s and both variants: %s" % (first, dv))
        cause = dv and dv["cause"]
        check(cause and len(cause) == 1 and dv["cause_total"] == 1 and cause[0]["position"] == k and
              cause[0]["variant"] == changed and cause[0]["a"]["median_ns"] == a[k][3] and
              cause[0]["b"]["median_ns"] == b[k][3] and abs(cause[0]["ratio"] - 0.05) < 1e-9 and
              "different results were told" in dv["explanation"],
              "divergence: the cause is position %d's time, 20x faster in b: %s" % (k, cause))
        p = subprocess.run([FAIRWAY, "--socket", d.socket, "--no-start", "compare", str(ja), str(jb)],
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0 and "sequences: diverged (anneal, ask-ahead 1" in p.stdout and
              ("first differs at position %d" % first) in p.stdout and
              ("told at position %d, %s" % (k, changed)) in p.stdout and "b/a 0.050" in p.stdout,
              "divergence: the text output names the position and the cause:\n%s%s" % (p.stdout, p.stderr))
    except Exception as e:
        check(False, "unexpected %r\n%s" % (e, d.read_log()))
    finally:
        d.cleanup()


def structured_cache():
    """256 raw points, a smooth bowl with its optimum at a=5, b=2, c=1; every point with
    (a + b + c) % 7 == 0 unrecorded (never valid) and a corner of compile errors."""
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


def strategies_on_device(tmp):
    """Every strategy through the daemon and the replay device: each proposes only recorded points,
    never one twice (a budget of all of them gives each exactly once), and each learning strategy's
    mean best/optimum over seeds 0-4 at budget 40 beats uniform random's."""
    data = structured_cache()
    path = os.path.join(tmp, "bowl.json")
    with open(path, "w") as f:
        json.dump(data, f)
    recorded = {"a=%d,b=%d,c=%d" % (e["a"], e["b"], e["c"]): e["time"] for e in data["cache"].values()}
    opt = min(t for t in recorded.values() if not isinstance(t, str))
    d = Daemon()
    try:
        d.start()
        c = d.client()
        spec = {"replay": {"file": path}, "budget": 0, "seed": 1, "options": {"finalists": 0}}
        for strategy in ("random", "anneal", "genetic", "model", "auto"):
            job = c.call("submit", {"spec": dict(spec, strategy=strategy)})["job"]
            c.watch(job)
            keys = [r[1] for r in sequence(d, job)]
            check(sorted(keys) == sorted(recorded), "%s with budget 0 measures each of the %d recorded points "
                  "exactly once and nothing else" % (strategy, len(recorded)))
        mean = {}
        for strategy in ("random", "anneal", "genetic", "model", "auto"):
            ratios = []
            for seed in range(5):
                job = c.call("submit", {"spec": dict(spec, strategy=strategy, budget=40, seed=seed)})["job"]
                c.watch(job)
                seq = sequence(d, job)
                ok = [m for _, _, st, m in seq if st == "ok"]
                ratios.append(min(ok) / 1e6 / opt if ok else 10.0)
                check(len(seq) == 40 and all(k in recorded for _, k, _, _ in seq), "%s seed %d: 40 recorded points"
                      % (strategy, seed))
            mean[strategy] = sum(ratios) / len(ratios)
        for strategy in ("anneal", "genetic", "model", "auto"):
            check(mean[strategy] < mean["random"], "%s beats random on the replay device: mean best/optimum %.4f "
                  "against %.4f (budget 40, seeds 0-4)" % (strategy, mean[strategy], mean["random"]))
    except Exception as e:
        check(False, "unexpected %r\n%s" % (e, d.read_log()))
    finally:
        d.cleanup()


def export_kt(d, job, out, fmt="kernel-tuner"):
    p = subprocess.run([FAIRWAY, "--socket", d.socket, "--no-start", "export", str(job), "--format", fmt,
                        "-o", out], capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "export %d --format %s exits 0 (%s)" % (job, fmt, p.stderr.strip()))
    with open(out) as f:
        text = f.read()
    return (json.loads(text) if fmt == "kernel-tuner" else None), text


def round_trip(tmp, path, data):
    """A replayed space exported again, and a gemm grid recorded on the device, exported as a Kernel
    Tuner cache and replayed: the configurations, statuses and times come back."""
    d = Daemon()
    try:
        d.start()
        c = d.client()
        a = c.call("submit", {"spec": {"replay": {"file": path}, "strategy": "grid", "budget": 0, "seed": 1,
                                       "iters": 3}})["job"]   # 3 launches: the 3 recorded samples once
        c.watch(a)
        kt, text = export_kt(d, a, os.path.join(tmp, "again.json"))
        need = ["schema_version", "device_name", "kernel_name", "problem_size", "tune_params_keys", "tune_params",
                "objective", "cache"]
        check(all(k in kt for k in need) and text.strip().endswith("}}}") and kt["tune_params"]["mode"] == MODE,
              "the export is a Kernel Tuner cache (schema 1.0.0 keys, closed as Kernel Tuner checks, labels back)")
        check(kt["tune_params_keys"] == data["tune_params_keys"], "and keeps the file's parameter order")
        orig = {",".join(str(e[k]) for k in data["tune_params_keys"]): e["time"] for e in data["cache"].values()}
        back = {k: e["time"] for k, e in kt["cache"].items()}
        check(set(back) == set(orig) and all(back[k] == orig[k] for k in orig if isinstance(orig[k], str)),
              "exporting a replay keeps every configuration's key and failure string")
        check(all(abs(back[k] - orig[k]) < 1e-9 for k in orig if not isinstance(orig[k], str)),
              "and its mean time")

        g = c.call("submit", {"spec": GEMM})["job"]
        check(c.watch(g)[-1]["state"] == "done", "the gemm grid runs on the device")
        kt, _ = export_kt(d, g, os.path.join(tmp, "gemm.json"))
        check(kt["fairway"]["shape"] == {"K": 64, "M": 64, "N": 64} and len(kt["cache"]) == 4,
              "the gemm export holds its shape and its 4 configurations")
        r = c.call("submit", {"spec": {"replay": {"file": os.path.join(tmp, "gemm.json")}, "strategy": "grid",
                                       "budget": 0, "seed": 9, "iters": 3, "options": {"finalists": 2}}})["job"]
        check(c.watch(r)[-1]["state"] == "done", "the exported gemm grid replays")
        mg = {m["variant_key"]: m for m in c.call("measurements", {"job": g, "samples": True})["measurements"]}
        mr = {m["variant_key"]: m for m in c.call("measurements", {"job": r, "samples": True})["measurements"]}
        check(set(mg) == set(mr) and all(mg[k]["status"] == mr[k]["status"] for k in mg),
              "the replay has the recorded configurations and statuses")
        check(all(mg[k].get("samples_ns") == mr[k].get("samples_ns") and mg[k]["median_ns"] == mr[k]["median_ns"]
                  for k in mg), "and the recorded samples and medians, exactly")
        rk = lambda j: [x["variant_key"] for x in c.call("rankings", {"job": j, "limit": 10})["rankings"]]  # noqa
        first = lambda j: sorted((m["median_ns"], m["variant_key"]) for m in  # noqa: E731
                                 c.call("measurements", {"job": j})["measurements"] if m["status"] == "ok")
        check(first(g) == [(m, k) for m, k in first(r)] and set(rk(g)) == set(rk(r)),
              "the replay ranks the recorded first pass the same")
        shapes = {x["shape_key"] for x in c.call("rankings", {"job": r, "limit": 10})["rankings"]}
        check(shapes == {"K=64,M=64,N=64"}, "the replay keys its results by the gemm shape: %s" % shapes)
        _, text = export_kt(d, g, os.path.join(tmp, "gemm.jsonl"), "fairway")
        check(json.loads(text.splitlines()[0])["fairway"]["shape"] == {"K": 64, "M": 64, "N": 64}
              and len(text.splitlines()) == 5, "export --format fairway: a header and one record a line")
        r2 = c.call("submit", {"spec": {"replay": {"file": os.path.join(tmp, "gemm.jsonl")}, "strategy": "grid",
                                        "budget": 0, "seed": 9, "iters": 3, "options": {"finalists": 2}}})["job"]
        check(c.watch(r2)[-1]["state"] == "done", "the fairway-format export replays")
        m2 = {m["variant_key"]: m for m in c.call("measurements", {"job": r2, "samples": True})["measurements"]}
        check(all(m2[k]["status"] == mg[k]["status"] and m2[k].get("samples_ns") == mg[k].get("samples_ns")
                  for k in mg) and set(m2) == set(mg), "and gives back the same configurations and samples")
    except Exception as e:
        check(False, "unexpected %r\n%s" % (e, d.read_log()))
    finally:
        d.cleanup()


def main():
    tmp = tempfile.mkdtemp(prefix="fwreplay-")
    try:
        data = tiny_cache()
        plain = os.path.join(tmp, "tiny.json")
        with open(plain, "w") as f:
            json.dump(data, f)
        gz = os.path.join(tmp, "tiny.json.gz")
        with gzip.open(gz, "wt") as f:
            json.dump(data, f)
        standalone(tmp, plain, data)
        edge_cases(tmp)
        a = worker({"replay": {"file": gz}, "budget": 0, "strategy": "grid", "seed": 1}, tmp, "--finalists", "0")
        b = worker({"replay": {"file": plain}, "budget": 0, "strategy": "grid", "seed": 1}, tmp, "--finalists", "0")
        strip = lambda rs: [(r["variant_key"], r["status"], r.get("samples_ns")) for r in rs]  # noqa: E731
        check(strip(a) == strip(b), ".json.gz replays as the same .json")
        lines = os.path.join(tmp, "worker.jsonl")   # the worker's own output is a recorded space too
        with open(lines, "w") as f:
            for r in a:
                f.write(json.dumps(r) + "\n")
            f.write(json.dumps({"summary": {"evaluated": len(a)}}) + "\n")
        c = worker({"replay": {"file": lines}, "budget": 0, "strategy": "grid", "seed": 1}, tmp, "--finalists", "0")
        check([(r["variant_key"], r["status"], r.get("samples_ns")) for r in c] == strip(a),
              "the worker's JSON lines replay as the records they hold")
        through_daemon(tmp, plain, data)
        restarts(tmp, plain)
        learning(tmp, plain)
        divergence(tmp, data)
        strategies_on_device(tmp)
        round_trip(tmp, plain, data)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()


main()
