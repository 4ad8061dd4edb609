"""submit + watch to completion on PoCL, status, jobs, rankings, best, rerun + compare, expand,
profiles, devices, then SIGTERM: exit 0 with a consistent store."""
import os
import stat

from fwtest import SMALL_GEMM, Daemon, RpcError, check, finish

d = Daemon()
try:
    d.start()
    st = os.stat(d.socket)
    check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, "socket is mode 0600")
    c = d.client()

    profiles = c.call("profiles", {})["profiles"]
    check(any(p["name"] == "gemm_small" and p["family"] == "gemm" for p in profiles),
          "profiles lists gemm_small")

    ex = c.call("expand", {"spec": SMALL_GEMM, "limit": 100})
    check(ex["planned"] == len(ex["items"]) and ex["planned"] > 0, "expand lists every planned item")
    check([it["seq"] for it in ex["items"]] == list(range(ex["planned"])), "expand items are in seq order")
    check(all(it["shape_key"] == "K=64,M=64,N=64" and "=" in it["variant_key"] for it in ex["items"]),
          "expand items carry shape and variant keys")

    sub = c.call("submit", {"spec": SMALL_GEMM})
    job = sub["job"]
    check(sub["planned"] == ex["planned"], "submit plans as many evaluations as expand")
    check(sub["state"] in ("queued", "running") and len(sub["spec_hash"]) == 16, "submit result shape")
    check(sub["spec_hash"] == ex["spec_hash"], "submit and expand agree on the spec hash")

    seen = c.watch(job)
    last = seen[-1]
    check(last["final"] and last["state"] == "done", "watch ends with final:true and state done")
    check(last["evaluated"] == last["planned"] == sub["planned"], "every planned variant was evaluated")
    evals = [p["evaluated"] for p in seen]
    check(evals == sorted(evals), "progress never goes backwards")
    check(last["best"] is not None and last["best"]["median_ns"] > 0, "progress reports the best so far")
    check(set(last["failures"]) >= {"compile_error", "crashed", "timeout"}, "failures by status present")
    check(all("elapsed_s" in p and "eta_s" in p for p in seen), "elapsed and eta in every progress")

    status = c.call("status", {"job": job})
    check(status["state"] == "done" and status["progress"]["final"], "status says done")
    check(status["evaluated"] == sub["planned"], "status counts every evaluation")

    jobs = c.call("jobs", {"limit": 5})["jobs"]
    check(jobs and jobs[0]["id"] == job, "jobs lists the job newest first")

    rk = c.call("rankings", {"job": job, "limit": 3})["rankings"]
    check(1 <= len(rk) <= 3 and rk[0]["rank"] == 1, "rankings returns ranked variants")
    check(all(rk[i]["median_ns"] <= rk[i + 1]["median_ns"] for i in range(len(rk) - 1)),
          "rankings are fastest first")

    best = c.call("best", {"family": "gemm", "shape": {"M": 64, "N": 64, "K": 64}})
    check(best["variant_key"] == rk[0]["variant_key"] and best["job"] == job, "best is the job's winner")
    check(any(m.startswith("TILE_N=") for m in best.get("macros", [])), "best gives the macros to build with")
    best2 = c.call("best", {"family": "gemm", "shape": "K=64,M=64,N=64", "device": "opencl:0"})
    check(best2["variant_key"] == best["variant_key"], "best by shape key and device selector agrees")
    near = c.call("best", {"family": "gemm", "shape": {"M": 96, "N": 96, "K": 96}})
    check(near.get("nearest") is True and near["shape_key"] == "K=64,M=64,N=64" and
          near["requested_shape_key"] == "K=96,M=96,N=96", "best for an untuned shape: the nearest tuned, flagged")
    try:
        c.call("best", {"family": "gemm", "shape": {"M": 96, "N": 96, "K": 96}, "exact": True})
        check(False, "best exact for an untuned shape is an error")
    except RpcError as e:
        check(e.code == -32002 and "tune" in e.message, "best exact for an untuned shape: -32002 says to tune it")
    try:
        c.call("best", {"family": "moe_swiglu", "shape": "bits=4,experts=8,hidden=64,intermediate=64,mode=decode,tokens=1,top_k=2"})
        check(False, "best with nothing comparable tuned is an error")
    except RpcError as e:
        check(e.code == -32002, "best with nothing comparable tuned: -32002")

    rr = c.call("rerun", {"job": job})
    check(rr["parent"] == job and rr["planned"] == sub["planned"], "rerun links its parent, same plan size")
    check(rr["seed"] == sub["seed"] and rr["spec_hash"] == sub["spec_hash"], "rerun keeps spec and seed")
    fin = c.watch(rr["job"])[-1]
    check(fin["state"] == "done", "rerun completes")
    cmp = c.call("compare", {"a": job, "b": rr["job"]})
    check(cmp["same_variants"] is True, "compare: same_variants")
    check(isinstance(cmp["kendall_tau"], (int, float)) and -1 <= cmp["kendall_tau"] <= 1,
          "compare reports Kendall's tau (%s)" % cmp["kendall_tau"])
    check(cmp["common_verified"] >= 1, "compare counts common variants")
    mr = cmp["median_ratio"]
    check(mr["min"] <= mr["median"] <= mr["max"] and mr["min"] > 0, "compare median ratio spread")
    check(0 <= cmp["top5_overlap"] <= 5, "compare top-5 overlap")

    # Two shapes (the profile's own): ranked per shape, best per shape, compare per shape.
    two = c.call("submit", {"spec": {"profile": "gemm_small", "budget": 2, "seed": 3, "iters": 3}})
    check(c.watch(two["job"])[-1]["state"] == "done", "a two-shape job completes")
    ranked = c.call("rankings", {"job": two["job"], "limit": 1})["rankings"]
    check(len({r["shape_key"] for r in ranked}) == len(ranked) == 2, "limit 1 gives one winner per shape")
    b2 = c.call("best", {"family": "gemm", "shape": {"M": 200, "N": 136, "K": 72}})
    check(b2["shape_key"] == "K=72,M=200,N=136" and b2["job"] == two["job"], "best for the second shape")
    two_b = c.call("rerun", {"job": two["job"]})
    c.watch(two_b["job"])
    cmp2 = c.call("compare", {"a": two["job"], "b": two_b["job"]})
    check(cmp2["same_variants"] and len(cmp2["shapes"]) == 2, "compare reports each shape")

    devs = c.call("devices", {})["devices"]
    check(any(x.get("selector") == "opencl:0" and "identity" in x for x in devs), "devices lists opencl:0")

    try:
        c.call("cancel", {"job": job})
        check(False, "cancel of a finished job is an error")
    except RpcError as e:
        check(e.code == -32602 and "already finished" in e.message, "cancel of a finished job says so")

    # A queued job cancelled before it runs: submit two, cancel the second at once.
    a = c.call("submit", {"spec": SMALL_GEMM})["job"]
    b = c.call("submit", {"spec": SMALL_GEMM})["job"]
    res = c.call("cancel", {"job": b})
    check(res["state"] == "cancelled", "cancel answers cancelled")
    check(c.watch(b)[-1]["state"] == "cancelled", "a cancelled job ends cancelled")
    check(c.watch(a)[-1]["state"] == "done", "the job before it still completes")

    # A running job cancelled: it stops between variants, the variant in flight is stored.
    run = c.call("submit", {"spec": dict(SMALL_GEMM, seed=77, budget=16, iters=5)})
    c.watch(run["job"], until=lambda p: p["evaluated"] >= 1)
    c.call("cancel", {"job": run["job"]})
    fin = c.watch(run["job"])[-1]
    n = d.sql("SELECT COUNT(*) FROM measurements WHERE job = ?", (run["job"],))[0][0]
    check(fin["state"] == "cancelled" and 1 <= fin["evaluated"] < run["planned"],
          "a running job cancelled stops early (%d of %d)" % (fin["evaluated"], run["planned"]))
    check(n == fin["evaluated"], "what it measured is stored (%d)" % n)
    c.close()

    rc = d.terminate()
    check(rc == 0, "SIGTERM: exit status 0 (got %s)" % rc)
    check(not os.path.exists(d.socket), "SIGTERM removes the socket")
    check(d.sql("PRAGMA integrity_check") == [("ok",)], "store passes integrity_check")
    n = d.sql("SELECT COUNT(*), COUNT(DISTINCT seq) FROM measurements WHERE job = ?", (job,))[0]
    check(n[0] == n[1] == sub["planned"], "each seq stored exactly once")
    states = dict(d.sql("SELECT id, state FROM jobs"))
    check(states.get(b) == "cancelled" and states.get(job) == "done", "job states persisted")
except Exception as e:  # report, then fail
    check(False, "unexpected %r\n%s" % (e, d.read_log()))
finally:
    d.cleanup()
finish()
