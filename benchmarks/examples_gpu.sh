#!/bin/bash
# examples_gpu.sh - the six examples/ kernels tuned on a CUDA GPU (their .cu sources, H200-sized shapes,
# every point of each space), best median and GB/s against the copy bandwidth (issue 12).
# usage (repo root, on the GPU machine, a CUDA-enabled build, libraries in .device/lib):
#     B=BUILD_DIR benchmarks/examples_gpu.sh   (B defaults to ./build; results: BENCHMARKS.md,
#                                               "examples/ on the H200")
# reduction_local runs the OpenCL local-memory argument as CUDA dynamic shared memory.
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib
B=${B:-build}
W=$B/bench/worker/fairway-worker; T=/tmp/ex; rm -rf $T; mkdir -p $T
[ -x $B/benchmarks/cuda_copy_bw ] && $B/benchmarks/cuda_copy_bw 2>&1 | tail -3
python3 - <<'PY'
import json
shapes = {"vadd": [{"n": 1 << 26}], "reduction": [{"n": 1 << 26, "parts": 1024}],
          "reduction_local": [{"n": 1 << 26, "parts": 1024}],
          "transpose": [{"rows": 8192, "cols": 8192}], "conv2d": [{"H": 4096, "W": 4096, "K": 5}],
          "stencil2d": [{"H": 4096, "W": 4096}]}
for e, sh in shapes.items():
    d = json.load(open(f"examples/{e}/spec.json"))
    src = d["source"]["file"].replace(".cl", ".cu")
    d["source"] = {"text": open(f"examples/{e}/{src}").read(), "entry": d["source"]["entry"], "name": src}
    d["shapes"] = sh; d["backend"] = "cuda"; d["strategy"] = "grid"; d["budget"] = 0
    d["warmup"] = 5; d["iters"] = 20
    d.setdefault("options", {})["finalists"] = 0
    json.dump(d, open(f"/tmp/ex/{e}.json", "w"))
PY
for e in vadd reduction reduction_local transpose conv2d stencil2d; do
  $W --spec $T/$e.json --cache-dir $T/cache > $T/$e.jsonl 2> $T/$e.err; echo "$e rc=$? $(tail -c 300 $T/$e.err)"
done
python3 - <<'PY'
import json
for e in ["vadd", "reduction", "reduction_local", "transpose", "conv2d", "stencil2d"]:
    recs = []
    for l in open(f"/tmp/ex/{e}.jsonl"):
        try: o = json.loads(l)
        except ValueError: continue
        if "seq" in o: recs.append(o)
    st = {}
    for r in recs: st[r["status"]] = st.get(r["status"], 0) + 1
    ok = [r for r in recs if r["status"] == "ok"]
    if not ok: print(e, st, recs[0].get("error") if recs else "no records"); continue
    b = min(ok, key=lambda r: r["stats"]["median_ns"]); w = max(ok, key=lambda r: r["stats"]["median_ns"])
    print(f"{e:<10} {st} best {b['variant_key']} {b['stats']['median_ns']/1e3:.1f} us {b['gbps']:.0f} GB/s "
          f"({100*b['gbps']/4258:.0f}% of 4258) worst {w['stats']['median_ns']/1e3:.1f} us")
PY
