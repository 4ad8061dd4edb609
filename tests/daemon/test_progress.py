"""Progress as the user reads it (issue 19 item 10): while a job runs, "best" is the best of the
shape being measured, so it never jumps back to an earlier shape's variant once the next shape has a
verified one, and within a shape it only gets faster. The first shape is the smaller (faster) one,
so a best across shapes would keep showing it all through the second shape."""
from fwtest import SMALL_GEMM, Daemon, check, finish, guarded

TWO_SHAPES = dict(SMALL_GEMM, shapes=[{"M": 32, "N": 32, "K": 32}, {"M": 64, "N": 64, "K": 128}], budget=4,
                  options={"finalists": 0})

d = Daemon()
with guarded(d):
    d.start()
    c = d.client()
    job = c.call("submit", {"spec": TWO_SHAPES})["job"]
    seen = c.watch(job)
    check(seen[-1]["state"] == "done", "the job ends done")
    running = [p["best"] for p in seen if not p.get("final") and p.get("best")]
    shapes = [b["shape_key"] for b in running]
    check(len(set(shapes)) == 2, "progress shows a best for each shape (%s)" % sorted(set(shapes)))
    first_second = shapes.index("K=128,M=64,N=64") if "K=128,M=64,N=64" in shapes else len(shapes)
    check(all(s == "K=128,M=64,N=64" for s in shapes[first_second:]),
          "once the second shape has a best, progress never shows the first shape's again")
    ok = True
    for a, b in zip(running, running[1:]):
        if a["shape_key"] == b["shape_key"] and b["median_ns"] > a["median_ns"]:
            ok = False
    check(ok, "within a shape the best only gets faster")
    check(all(p["eta_basis"]["finalists_s"] == 0 and p["eta_basis"]["finalist_candidates"] == 0
              for p in seen if not p.get("final")), "finalists off: no finalists part in the ETA")

    # The ETA counts the finalists: at the notification of the last stored variant (nothing left to
    # measure) it is the finalists' part alone, warmup + rounds x iters launches of each candidate at
    # its first-pass median (the K fastest per shape, checked against the stored rankings).
    spec = dict(TWO_SHAPES, options={"finalists": 2, "finalist_rounds": 3, "finalist_iters": 4})
    job = c.call("submit", {"spec": spec})["job"]
    seen = c.watch(job)
    check(seen[-1]["state"] == "done", "the finalists job ends done")
    last = [p for p in seen if p.get("phase") == "measuring" and p["evaluated"] == p["planned"]]
    check(len(last) == 1, "one notification at the last stored variant")
    rk = c.call("rankings", {"job": job, "limit": 0})["rankings"]
    cand = [r["first_pass_median_ns"] for r in rk if r.get("timing") == "finalist"]
    launches = spec["warmup"] + 3 * 4
    want = launches * sum(cand) * 1e-9
    b = last[0]["eta_basis"]
    check(b["variants_left"] == 0 and b["finalist_candidates"] == len(cand) == 4 and b["finalist_launches"] == launches,
          "the ETA's basis names the 4 candidates and %d launches each: %s" % (launches, b))
    check(abs(b["finalists_s"] - want) <= 1e-9 * want and abs(last[0]["eta_s"] - want) <= 1e-9 * want,
          "eta_s is the finalists' part, %g s: %s" % (want, last[0]["eta_s"]))
    during = [p for p in seen if p.get("phase") == "measuring" and 0 < p["evaluated"] < p["planned"]]
    check(all(p["eta_s"] is not None and p["eta_s"] >= p["eta_basis"]["finalists_s"] > 0 for p in during),
          "while measuring the ETA includes a finalists part")
finish()
