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
finish()
