#!/bin/bash
# moe_v3_gpu.sh - the moe_swiglu v3 space (issue 16) on a CUDA GPU in one call of under 8 minutes:
# the mixed_bpw_fairway_glm47 profile's 13 shapes, best against the workload's minimum bytes over
# the copy bandwidth measured in the same call, launches rotated past 240 MB (4x the H200's L2).
#
# usage (repo root, on the GPU machine): benchmarks/moe_v3_gpu.sh BUILD_DIR OUT_DIR
# Steps (each under `timeout`, skipped when the DEADLINE (420 s) is near):
#   1. card; cuda_copy_bw (the ceiling);
#   2. the glm47 decode shape: presets + DECODE_N (120) random points of the profile's space, then a
#      grid over the work-per-weight region (TILE_N 16/32 x SIMDGROUPS_PER_TG 4/8/16 x SG_N_TILES 1/4 x
#      NUM_BUFFERS 1/2 x PAIR 0/1/2 x OCC_WARPS 0/32/40, SPLIT_K 1, SIDE 0, GRID_COPIES 1; GRID=splitk
#      runs the earlier grid over the split-K region instead; GRID=v3b the ticketed decode, V3=2:
#      SIMDGROUPS_PER_TG 4/8 x NUM_BUFFERS 1/2 x SPLIT_K 1/2/4 x DOWN_ROWS 128/384 x GROUPS 0/396,
#      TILE_N 16, SG_N_TILES 4, 48 points); GRID=inflight PREFETCH 0/1/2 x XVEC 0/1 x NUM_BUFFERS 1/2 x
#      PAIR 1/2 x OCC_WARPS 0/24 at TILE_N 16, SIMDGROUPS_PER_TG 8, SG_N_TILES 4, V3=1 (48 points);
#   3. the three single-tuple decode shapes: presets + 24 random;
#   4. the 9 batched shapes: presets + 10 random (v2 points and V3=1, the parallel gather);
#   5. ncu on the best decode variant (DRAM throughput, warps active, stalls);
#   6. compute-sanitizer memcheck of every preset on the glm47 decode, grouped 24 and large 128 shapes.
#   NCU_V3=N: step 5 profiles the best record with V3=N (default: the overall best).
# Output: OUT_DIR/{copy_bw.txt, decode.jsonl, grid.jsonl, tuples.jsonl, batched.jsonl, summary.txt, ncu.txt,
# memcheck.txt}; the summary table is printed last. Libraries the GPU machine lacks: .device/lib.
set -u
B=${1:-build-moe3}
O=${2:-${OUT:-/tmp/moe-v3}}
DEADLINE=${DEADLINE:-420}
DECODE_N=${DECODE_N:-120}
ROT=${ROTATE_BYTES:-240000000}
mkdir -p "$O"
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
W=$B/bench/worker/fairway-worker
step() { echo; echo "=== $* ($(date -u +%H:%M:%S), ${SECONDS}s)"; }
left() { echo $((DEADLINE - SECONDS)); }
OPTS="\"warmup\": 5, \"iters\": 20, \"seed\": 1, \"options\": {\"launches_per_sample\": 10, \"rotate_bytes\": $ROT}"
P=variants/profiles/mixed_bpw_fairway_glm47.json
shapes() { python3 -c "import json,sys; s=json.load(open('$P'))['shapes']; print(json.dumps([s[int(i)] for i in sys.argv[1:]]))" "$@"; }

step card
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw --format=csv
git log -1 --format='tree %h %s' 2>/dev/null
step copy bandwidth
timeout 60 $B/benchmarks/cuda_copy_bw --iters 30 > "$O/copy_bw.txt" 2>&1; tail -2 "$O/copy_bw.txt"

tune() {   # name, shape indices, num_random, timeout
    local name=$1 idx=$2 n=$3 t=$4
    [ "$(left)" -gt 30 ] || { echo "skipped $name: deadline"; return; }
    [ "$t" -lt "$(left)" ] || t=$(( $(left) - 20 ))
    step "tune $name: shapes $idx, presets + $n random"
    local spec="{\"profile\": \"mixed_bpw_fairway_glm47\", \"backend\": \"cuda\", \"shapes\": $(shapes $idx), \"num_random\": $n, $OPTS}"
    timeout "$t" $W --spec - --backend cuda > "$O/$name.jsonl" <<< "$spec"
    echo "worker rc=$? ($(grep -c '"seq"' "$O/$name.jsonl") records)"
}
tune decode "0" "$DECODE_N" 150
if [ "$(left)" -gt 90 ]; then
    step "grid over the ${GRID:-pair} region, glm47 decode"
    python3 - "$P" "$OPTS" "${GRID:-pair}" > /tmp/moe3_grid.json <<'PY'
import json, sys
prof = json.load(open(sys.argv[1]))
sp = prof["space"]
if sys.argv[3] == "splitk":
    sp["knobs"].update({"TILE_N": [16, 32, 64], "SIMDGROUPS_PER_TG": [4, 8, 16], "SG_M_TILES": [1], "SG_N_TILES": [2, 4],
                        "NUM_BUFFERS": [2], "V3": [1], "SPLIT_K": [1, 2, 4, 8], "SIDE": [0], "GRID_COPIES": [1],
                        "P2_SPREAD": [0, 1], "PAIR": [0], "OCC_WARPS": [0]})
elif sys.argv[3] == "v3b":
    # V3=2: DOWN_ROWS (K rows of down per B item: I/DOWN_ROWS atomics per output element and slot) and
    # GROUPS (persistent groups; 0 = one per work item; 396 = 3 per SM of 132, what 80 registers allow
    # at 256 threads) are knobs of the kernel, not of the profile's space: added here
    # SPLIT_K: A items of hidden/SPLIT_K rows (more, smaller items for the persistent groups)
    sp["knobs"].update({"TILE_N": [16], "SIMDGROUPS_PER_TG": [4, 8], "SG_M_TILES": [1], "SG_N_TILES": [4],
                        "NUM_BUFFERS": [1, 2], "V3": [2], "SPLIT_K": [1, 2, 4], "SIDE": [0], "GRID_COPIES": [1],
                        "P2_SPREAD": [0], "PAIR": [0], "OCC_WARPS": [0], "DOWN_ROWS": [128, 384],
                        "GROUPS": [0, 396]})
elif sys.argv[3] == "inflight":
    # PREFETCH (loads in flight through phase 1's decode and barriers; 2: down's first chunk through the
    # join) and XVEC (phase 1's x reads 16 bytes at a time) around the V3=1 winner, crossed with
    # NUM_BUFFERS, PAIR 1/2 and OCC_WARPS 24 (3 groups of 256 threads per SM asked of ptxas: NUM_BUFFERS 2
    # with PREFETCH takes ~128 registers, 2 groups/SM, without it; NUM_BUFFERS 1 + PREFETCH 2 93 -> 80
    # without spills); both are knobs of the kernel, not of the profile's space: added here. 48 points
    sp["knobs"].update({"TILE_N": [16], "SIMDGROUPS_PER_TG": [8], "SG_M_TILES": [1], "SG_N_TILES": [4],
                        "NUM_BUFFERS": [1, 2], "V3": [1], "SPLIT_K": [1], "SIDE": [0], "GRID_COPIES": [1],
                        "P2_SPREAD": [0], "PAIR": [1, 2], "OCC_WARPS": [0, 24], "PREFETCH": [0, 1, 2],
                        "XVEC": [0, 1]})
elif sys.argv[3] == "v3m":
    # V3=3, the tensor-core decode (moe_swiglu.v3m.h): TILE_N 16/32/64 x SIMDGROUPS_PER_TG 8/16 x
    # NUM_BUFFERS 1/2 (4 or 8 tiles in flight) x PREFETCH 0/1 (the software pipeline) x OCC_WARPS 0/32,
    # SIDE 1; 48 points
    sp["knobs"].update({"TILE_N": [16, 32, 64], "SIMDGROUPS_PER_TG": [8, 16], "SG_M_TILES": [1], "SG_N_TILES": [1],
                        "NUM_BUFFERS": [1, 2], "V3": [3], "SPLIT_K": [1], "SIDE": [1], "GRID_COPIES": [1],
                        "P2_SPREAD": [0], "PAIR": [0], "OCC_WARPS": [0, 32], "PREFETCH": [0, 1]})
else:
    sp["knobs"].update({"TILE_N": [16, 32], "SIMDGROUPS_PER_TG": [4, 8, 16], "SG_M_TILES": [1], "SG_N_TILES": [1, 4],
                        "NUM_BUFFERS": [1, 2], "V3": [1], "SPLIT_K": [1], "SIDE": [0], "GRID_COPIES": [1],
                        "P2_SPREAD": [0], "PAIR": [0, 1, 2], "OCC_WARPS": [0, 32, 40]})
spec = {"family": "moe_swiglu", "backend": "cuda", "shapes": [prof["shapes"][0]], "space": sp, "strategy": "grid",
        "budget": 0}
spec.update(json.loads("{" + sys.argv[2] + "}"))
print(json.dumps(spec))
PY
    timeout $(( $(left) - 60 )) $W --spec /tmp/moe3_grid.json --backend cuda > "$O/grid.jsonl"
    echo "worker rc=$? ($(grep -c '"seq"' "$O/grid.jsonl") records)"
fi
tune tuples "10 11 12" 24 80
tune batched "1 2 3 4 5 6 7 8 9" 10 130

python3 - "$O" <<'PY' > "$O/summary.txt"
import json, sys, os, collections
O = sys.argv[1]
cbw = None
for line in open(os.path.join(O, "copy_bw.txt")):
    if line.startswith('{"copy_bw"'): cbw = json.loads(line)["copy_bw"]
gb = cbw["gbps"] if cbw else float("nan")
print(f"copy bandwidth {gb:.0f} GB/s" + (f"; empty kernel {cbw['empty_kernel_pipelined_ns']/1e3:.2f} us pipelined" if cbw else ""))
recs = []
for f in ("decode", "grid", "tuples", "batched"):
    p = os.path.join(O, f + ".jsonl")
    if not os.path.exists(p): continue
    for line in open(p):
        try: o = json.loads(line)
        except ValueError: continue
        if "seq" in o and "status" in o: recs.append(o)
by = collections.OrderedDict()
for r in recs: by.setdefault(r["shape_key"], []).append(r)
med = lambda r: r["stats"]["median_ns"]
short = lambda k: k.replace("experts=64,hidden=2048,intermediate=1536,", "")
print(f"{'shape':44} {'n':>4} {'ok':>4} {'v2 best us':>10} {'v3 best us':>10} {'V3=2 us':>10} {'V3=3 us':>10} {'GB/s':>6} {'%copy':>6}  best variant")
best = {}
for k, rs in by.items():
    ok = [r for r in rs if r["status"] == "ok"]
    if not ok:
        print(f"{short(k):44} {len(rs):4}    0  " + str(dict(collections.Counter(r['status'] for r in rs)))); continue
    v2 = [r for r in ok if r["knobs"].get("V3", 0) == 0]; v3 = [r for r in ok if r["knobs"].get("V3", 0) == 1]
    vt = [r for r in ok if r["knobs"].get("V3", 0) == 2]
    vm = [r for r in ok if r["knobs"].get("V3", 0) == 3]
    b = min(ok, key=med); best[k] = b
    f2 = f"{med(min(v2, key=med))/1e3:10.1f}" if v2 else f"{'-':>10}"
    f3 = f"{med(min(v3, key=med))/1e3:10.1f}" if v3 else f"{'-':>10}"
    ft = f"{med(min(vt, key=med))/1e3:10.1f}" if vt else f"{'-':>10}"
    fm = f"{med(min(vm, key=med))/1e3:10.1f}" if vm else f"{'-':>10}"
    g = b["bytes"] / med(b)
    print(f"{short(k):44} {len(rs):4} {len(ok):4} {f2} {f3} {ft} {fm} {g:6.0f} {100*g/gb:5.1f}%  {b['variant_key']}")
    bad = collections.Counter(r["status"] for r in rs if r["status"] != "ok")
    if bad: print(f"{'':44}   not ok: {dict(bad)}")
# decode: best per value of each v3 knob (glm47 decode)
for k, rs in by.items():
    if "mode=decode" not in k or "bits=glm47" not in k: continue
    ok = [r for r in rs if r["status"] == "ok"]
    print(f"\nglm47 decode, best median per knob value ({len(ok)} verified):")
    for v3v in (1, 2):
        print(" V3 over every record, then the V3=1 knobs:" if v3v == 1 else " V3=2 (ticketed; DOWN_ROWS 384 and GROUPS 0 where the record has none):")
        for knob in ("V3", "PAIR", "OCC_WARPS", "SPLIT_K", "P2_SPREAD", "SIDE", "GRID_COPIES", "TILE_N", "SIMDGROUPS_PER_TG",
                     "SG_N_TILES", "NUM_BUFFERS", "DOWN_ROWS", "GROUPS"):
            if (knob == "V3" and v3v == 2) or (v3v == 1 and knob in ("DOWN_ROWS", "GROUPS")): continue
            vals = collections.defaultdict(list)
            for r in ok:
                if knob != "V3" and r["knobs"].get("V3", 0) != v3v: continue
                vals[r["knobs"].get(knob, {"DOWN_ROWS": 384, "GROUPS": 0}.get(knob))].append(med(r))
            if vals:
                print(f"  {knob:18} " + "  ".join(f"{v}: {min(t)/1e3:.1f} us (n={len(t)})" for v, t in sorted(vals.items())))
json.dump({k: {"knobs": b["knobs"], "shape": b["shape"], "median_ns": med(b)} for k, b in best.items()},
          open(os.path.join(O, "best.json"), "w"), indent=1)
PY

W2=$W
# the best decode variant's registers and spills as NVRTC compiled it (the worker's record)
python3 - "$O" <<'PY'
import json, os, sys
best = json.load(open(os.path.join(sys.argv[1], "best.json"))) if os.path.exists(os.path.join(sys.argv[1], "best.json")) else {}
for f in ("decode", "grid"):
    p = os.path.join(sys.argv[1], f + ".jsonl")
    if not os.path.exists(p): continue
    for line in open(p):
        try: o = json.loads(line)
        except ValueError: continue
        b = best.get(o.get("shape_key"))
        if b and o.get("knobs") == b["knobs"] and o.get("status") == "ok":
            print("best decode variant resources:", json.dumps({k: o[k] for k in ("resources", "variant_key") if k in o}))
            break
PY
python3 - "$O/best.json" "$O" "${NCU_V3:-}" <<'PY' > /tmp/moe3_decode_best.txt
import json, os, sys
best = json.load(open(sys.argv[1]))
if sys.argv[3]:   # NCU_V3=N: ncu on the best glm47 decode record with V3=N instead of the overall best
    rs = []
    for f in ("decode", "grid"):
        p = os.path.join(sys.argv[2], f + ".jsonl")
        for line in open(p) if os.path.exists(p) else []:
            try: o = json.loads(line)
            except ValueError: continue
            k = o.get("shape_key", "")
            if o.get("status") == "ok" and "bits=glm47" in k and "mode=decode" in k and \
               o["knobs"].get("V3", 0) == int(sys.argv[3]):
                rs.append(o)
    best = {r["shape_key"]: r for r in sorted(rs, key=lambda r: -r["stats"]["median_ns"])}
for k, b in best.items():
    if "mode=decode" in k and "bits=glm47" in k:
        # a space of the winner's own values: a grid's winner may set knobs the profile's space has
        # not (PREFETCH, XVEC, DOWN_ROWS, ...), which a preset of the profile could not name
        print(json.dumps({"family": "moe_swiglu", "backend": "cuda", "shapes": [b["shape"]],
                          "space": {"knobs": {k: [v] for k, v in b["knobs"].items()}}, "presets": [b["knobs"]],
                          "strategy": "presets", "warmup": 0, "iters": 1}))
PY
if [ -s /tmp/moe3_decode_best.txt ] && [ "$(left)" -gt 60 ]; then
    step ncu on the best decode variant
    timeout 60 ncu --csv --print-units base --kernel-name regex:moe_ --launch-count 1 \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__warps_active.avg.pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum,smsp__inst_executed.sum,launch__grid_size,launch__registers_per_thread,smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct,smsp__warp_issue_stalled_barrier_per_warp_active.pct,smsp__warp_issue_stalled_mio_throttle_per_warp_active.pct,smsp__warp_issue_stalled_short_scoreboard_per_warp_active.pct \
        $W2 --spec - --backend cuda < /tmp/moe3_decode_best.txt 2>&1 | grep -E '^"[0-9]' | awk -F'","' '{print $(NF-2), $NF}' | tee "$O/ncu.txt"
fi
if [ "$(left)" -gt 40 ]; then
    step memcheck: every preset on glm47 decode, grouped 24, large 128
    spec="{\"profile\": \"mixed_bpw_fairway_glm47\", \"backend\": \"cuda\", \"shapes\": $(shapes 0 5 8), \"strategy\": \"presets\", \"warmup\": 0, \"iters\": 1}"
    timeout $(( $(left) - 15 )) compute-sanitizer --tool memcheck --print-limit 10 $W2 --spec - --backend cuda <<< "$spec" > "$O/memcheck.out" 2>&1
    echo "memcheck rc=$? ($(grep -c '"seq"' "$O/memcheck.out") records)"
    grep -E '^=========' "$O/memcheck.out" > "$O/memcheck.txt"; grep -E "ERROR SUMMARY|Invalid" "$O/memcheck.txt" | head -5
    grep -o '"status": *"[a-z_]*"' "$O/memcheck.out" | sort | uniq -c
fi
step "table (copy bandwidth from this call)"
cat "$O/summary.txt"
