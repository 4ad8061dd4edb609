#!/bin/bash
# usage (repo root, on the GPU machine, libraries in .device/lib): bash benchmarks/transforms/h200_barrier.sh BUILD OUT
# simdgroup_barrier on a GPU (docs/transforms.md): xf_gemm.cu's proven sites (xf_in_warp) and
# unproven sites forced with "unproven": true (xf_cross), each a 0/1 knob, every variant verified
# on 3 seeds and 5 launches (the transformed-variant rule). Records in OUT/*.jsonl.
set -u
B=${1:-build-dev}; OUT=${2:-/tmp/xf}; W=$B/bench/worker/fairway-worker
export LD_LIBRARY_PATH=$PWD/.device/lib
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
text = open('benchmarks/transforms/xf_gemm.cu').read()
def spec(entry, sites, unproven, seed):
    binds = {k: {"transform": "simdgroup_barrier", "function": entry, "lines": [l, l]} for k, l in sites}
    if unproven:
        for b in binds.values():
            b["unproven"] = True
    knobs = {"TILE_N": [32, 64, 128], "SIMDGROUPS_PER_TG": [4, 8, 16], "SG_M_TILES": [1], "SG_N_TILES": [1],
             "NUM_BUFFERS": [1], "TILE_K": [8]}
    for k, _ in sites:
        knobs[k] = [0, 1]
    return {"shapes": [{"M": 512, "N": 512, "K": 512}, {"M": 64, "N": 2048, "K": 1024}],
            "space": {"knobs": knobs, "constraints": ["TILE_N % (8 * SG_N_TILES) == 0",
                                                      "(SIMDGROUPS_PER_TG * 8 * SG_N_TILES) % TILE_N == 0"]},
            "strategy": "grid", "seed": seed, "warmup": 5, "iters": 30, "backend": "cuda",
            "source": {"text": text, "name": "xf_gemm.cu", "entry": entry, "workload": "gemm"},
            "binds": binds, "options": {"finalists": 0, "early_stop": False}}
json.dump(spec("xf_in_warp", [("SB_L51", 51), ("SB_L56", 56)], False, 1), open(f"{out}/in_warp.json", "w"))
json.dump(spec("xf_cross", [("SB_L68", 68), ("SB_L73", 73)], True, 1), open(f"{out}/cross.json", "w"))
PY
for j in in_warp cross; do
  $W --spec "$OUT/$j.json" > "$OUT/$j.jsonl" 2> "$OUT/$j.err"; echo "$j rc=$?"
done
python3 - "$OUT" <<'PY'
import json, sys, collections
out = sys.argv[1]
for j in ("in_warp", "cross"):
    rows = [json.loads(l) for l in open(f"{out}/{j}.jsonl") if l.strip()]
    recs = [r for r in rows if "seq" in r and "status" in r]
    print(f"== {j}: {len(recs)} records")
    for r in recs:
        k = r["knobs"]; sb = ",".join(f"{n}={v}" for n, v in sorted(k.items()) if n.startswith("SB_"))
        st = r.get("stats") or {}
        med = st.get("median_ns")
        print(f"{r['shape_key']:>20} TILE_N={k['TILE_N']:<3} SG={k['SIMDGROUPS_PER_TG']:<2} {sb:<16} {r['origin']:<10} "
              f"{r['status']:<13} {'' if med is None else f'{med/1e3:9.1f} us'} {(r.get('error') or '')[:100]}")
PY
