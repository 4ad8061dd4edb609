#!/bin/bash
# usage (repo root, on the GPU machine, libraries in .device/lib): bash benchmarks/transforms_gpu.sh BUILD OUT
# The structural transforms on CUDA (issue 13, docs/transforms.md), then compute-sanitizer racecheck
# on their structural winners:
#  1. simdgroup_barrier: benchmarks/transforms/h200_barrier.sh (xf_gemm.cu: proven sites of
#     xf_in_warp, unproven ones of xf_cross forced) -> OUT/in_warp.*, OUT/cross.*;
#  2. async_prefetch_hint: benchmarks/transforms/pf_gemm.cu's loop (site PF_L39) off and on over a
#     grid of TILE_N x SIMDGROUPS_PER_TG, three shapes, every variant re-timed interleaved as a
#     finalist -> OUT/prefetch.*, and per config the ratio on/off of the medians;
#  3. benchmarks/transforms/racecheck.py: per job and shape the fastest verified structural variant,
#     run alone under compute-sanitizer --tool racecheck, one verdict line each (clean, RACE,
#     unavailable, failed, unknown; ALL=1 checks every verified structural variant). Logs in OUT/rc_*.
# A BUILD made with -Dopencl=disabled -Dcuda=enabled on the CPU machine, carried with .device/lib.
set -u
B=${1:-build-dev}; OUT=${2:-/tmp/xfg}; W=$B/bench/worker/fairway-worker
export LD_LIBRARY_PATH=$PWD/.device/lib HOME=$OUT
mkdir -p "$OUT"
command -v compute-sanitizer >/dev/null && compute-sanitizer --version | tail -1
bash benchmarks/transforms/h200_barrier.sh "$B" "$OUT"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
text = open('benchmarks/transforms/pf_gemm.cu').read()
knobs = {"TILE_N": [32, 64, 128], "SIMDGROUPS_PER_TG": [4, 8, 16], "SG_M_TILES": [1], "SG_N_TILES": [1],
         "NUM_BUFFERS": [1], "TILE_K": [8], "PF_L39": [0, 1]}
spec = {"shapes": [{"M": 512, "N": 512, "K": 512}, {"M": 64, "N": 2048, "K": 1024}, {"M": 2048, "N": 2048, "K": 256}],
        "space": {"knobs": knobs, "constraints": ["TILE_N % (8 * SG_N_TILES) == 0",
                                                  "(SIMDGROUPS_PER_TG * 8 * SG_N_TILES) % TILE_N == 0"]},
        "strategy": "grid", "seed": 1, "warmup": 5, "iters": 30, "backend": "cuda",
        "source": {"text": text, "name": "pf_gemm.cu", "entry": "pf_gemm", "workload": "gemm"},
        "binds": {"PF_L39": {"transform": "async_prefetch_hint", "function": "pf_gemm", "lines": [39, 39]}},
        "options": {"finalists": 12, "early_stop": False}}
json.dump(spec, open(f"{out}/prefetch.json", "w"))
PY
$W --spec "$OUT/prefetch.json" > "$OUT/prefetch.jsonl" 2> "$OUT/prefetch.err"; echo "prefetch rc=$?"
python3 - "$OUT" <<'PY'
import json, sys, statistics
out = sys.argv[1]
recs = [json.loads(l) for l in open(f"{out}/prefetch.jsonl") if l.strip()]
recs = [r for r in recs if "seq" in r and "status" in r]
print(f"== prefetch: {len(recs)} records, statuses {sorted(set(r['status'] for r in recs))}")
rows = [json.loads(l) for l in open(f"{out}/prefetch.jsonl") if l.strip()]
fin = {(f["shape_key"], f["variant_key"]): f for r in rows for f in r.get("finalists", [])}
print(f"   {len(fin)} re-timed interleaved (their medians are used where there)")
by = {}
for r in recs:
    k = r["knobs"]
    by.setdefault((r["shape_key"], k["TILE_N"], k["SIMDGROUPS_PER_TG"]), {})[k["PF_L39"]] = r
def med(r):
    f = fin.get((r["shape_key"], r["variant_key"])) if r else None
    st = ((f or r or {}).get("stats")) or {}
    return st.get("median_ns") if r and r["status"] == "ok" else None
ratios = {}
for (shape, tn, sg), d in sorted(by.items()):
    off, on = med(d.get(0)), med(d.get(1))
    line = f"{shape:>22} TILE_N={tn:<3} SG={sg:<2}"
    line += f"  off {off / 1e3:9.1f} us" if off else "  off        -   "
    line += f"  on {on / 1e3:9.1f} us" if on else "  on        -   "
    if off and on:
        ratios.setdefault(shape, []).append(on / off)
        line += f"  on/off {on / off:.4f}"
    for r in (d.get(0), d.get(1)):
        if r and r["status"] != "ok":
            line += f"  [{r['origin']} {r['status']}: {(r.get('error') or '')[:120]}]"
    print(line)
for shape, rs in ratios.items():
    print(f"{shape:>22} median on/off over {len(rs)} configs: {statistics.median(rs):.4f} "
          f"(range {min(rs):.4f}-{max(rs):.4f})")
PY
python3 benchmarks/transforms/racecheck.py "$W" "$OUT" "$OUT/in_warp.json:$OUT/in_warp.jsonl" \
  "$OUT/cross.json:$OUT/cross.jsonl" "$OUT/prefetch.json:$OUT/prefetch.jsonl"
