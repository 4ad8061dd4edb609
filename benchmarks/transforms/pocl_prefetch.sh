#!/bin/bash
# usage (repo root): bash benchmarks/transforms/pocl_prefetch.sh BUILD OUT
# async_prefetch_hint on PoCL (docs/transforms.md): tests/variants/data/bind_gemm.cl (an OpenCL gemm,
# one output element per work-item, its inner k loop the site PF_L32) with the site off and on over
# TILE_N x SIMDGROUPS_PER_TG, two shapes; all variants re-timed interleaved as finalists, so off and
# on of one config are compared within one loop. Prints per config the on/off ratio of the medians.
set -u
B=${1:-build}; OUT=${2:-/tmp/pfb}; W=$B/bench/worker/fairway-worker
mkdir -p "$OUT"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
text = open('tests/variants/data/bind_gemm.cl').read()
spec = {"shapes": [{"M": 256, "N": 256, "K": 512}, {"M": 64, "N": 1024, "K": 1024}],
        "space": {"knobs": {"TILE_N": [16, 32], "SIMDGROUPS_PER_TG": [2, 4], "SG_M_TILES": [1], "SG_N_TILES": [1],
                            "NUM_BUFFERS": [1], "TILE_K": [8], "PF_L32": [0, 1]},
                  "constraints": ["TILE_N % (8 * SG_N_TILES) == 0", "(SIMDGROUPS_PER_TG * 8 * SG_N_TILES) % TILE_N == 0"]},
        "strategy": "grid", "seed": 1, "warmup": 3, "iters": 20, "backend": "opencl",
        "source": {"text": text, "name": "bind_gemm.cl", "entry": "bind_gemm", "workload": "gemm"},
        "binds": {"TILE_N": "B_TILE_N", "TILE_K": "B_TILE_K", "SIMDGROUPS_PER_TG": "B_SIMDGROUPS", "SG_M_TILES": "B_SG_M",
                  "SG_N_TILES": "B_SG_N", "NUM_BUFFERS": "B_NBUF",
                  "PF_L32": {"transform": "async_prefetch_hint", "function": "bind_gemm", "lines": [32, 32]}},
        "options": {"finalists": 6, "early_stop": False}}
json.dump(spec, open(f"{out}/prefetch.json", "w"))
PY
$W --spec "$OUT/prefetch.json" > "$OUT/prefetch.jsonl" 2> "$OUT/prefetch.err"; echo "worker rc=$?"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(f"{out}/prefetch.jsonl") if l.strip()]
recs = [r for r in rows if "seq" in r and "status" in r]
fin = {(f["shape_key"], f["variant_key"]): f for r in rows for f in r.get("finalists", [])}
print(f"{len(recs)} records ({sorted(set(r['status'] for r in recs))}), {len(fin)} re-timed interleaved")
by = {}
for r in recs:
    k, f = r["knobs"], fin.get((r["shape_key"], r["variant_key"]))
    med = ((f or r).get("stats") or {}).get("median_ns") if r["status"] == "ok" else None
    by.setdefault((r["shape_key"], k["TILE_N"], k["SIMDGROUPS_PER_TG"]), {})[k["PF_L32"]] = (med, f is not None)
for key, d in sorted(by.items()):
    off, on = d.get(0), d.get(1)
    if off and on and off[0] and on[0]:
        print(f"{key[0]:>20} TILE_N={key[1]:<3} SG={key[2]}  off {off[0]/1e6:8.2f} ms  on {on[0]/1e6:8.2f} ms  "
              f"on/off {on[0]/off[0]:.3f}{'' if off[1] and on[1] else '  (first pass)'}")
PY
