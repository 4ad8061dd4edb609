#!/bin/bash
# h100_profile.sh - tune the mixed_bpw_fairway_glm47 profile on an NVIDIA GPU in ONE short run (under
# 6 minutes at the defaults) and say how close each shape comes to the card's copy bandwidth
# (issue 5). The per-shape table is the LAST thing printed.
#
# usage (repo root): benchmarks/h100_profile.sh [BUILD_DIR] [OUT_DIR] [NUM_RANDOM] [SEED]
#     BUILD_DIR   a build with the CUDA backend (default build-dev)
#     OUT_DIR     logs and results (default $OUT, else /tmp/fairway-profile)
#     NUM_RANDOM  random variants per shape after the profile's presets (default 8)
#     SEED        job seed (default 1)
# Environment: PROFILE (default mixed_bpw_fairway_glm47), BACKEND (cuda; opencl runs the same steps
# on PoCL without the GPU-only ones: copy bandwidth, SASS, ncu, memcheck), WARMUP (10), ITERS (50),
# TUNE_S (timeout of the tuning job, 240 s), COPY_GBPS (the ceiling when not measured; 3030 is the
# H100's from BENCHMARKS.md), LPS (launches per timed sample, 10), ROTATE_BYTES (input copies that
# together exceed it, so a launch does not find the weights the previous one left in L2; default
# 100000000 = 2x the H100's L2), MEMCHECK=1 (compute-sanitizer on the decode winner).
# Steps: card state; cuda_copy_bw (the ceiling); the tuning job through fairway-worker (records in
# profile.jsonl); ptxas/PTX/SASS of the decode winner and ncu on it; then the table per shape (best
# variant, median, GB/s against the workload's minimum bytes, % of copy bandwidth, speedup over the
# slowest verified variant and over the preset the users' policy picks), also in summary.txt and
# best.json. Libraries the GPU machine lacks are taken from .device/lib.
set -u
B=${1:-build-dev}
O=${2:-${OUT:-/tmp/fairway-profile}}
NRAND=${3:-8}
SEED=${4:-1}
PROFILE=${PROFILE:-mixed_bpw_fairway_glm47}
BACKEND=${BACKEND:-cuda}
WARMUP=${WARMUP:-10}
ITERS=${ITERS:-50}
TUNE_S=${TUNE_S:-240}
LPS=${LPS:-10}
ROTATE_BYTES=${ROTATE_BYTES:-100000000}
export COPY_GBPS=${COPY_GBPS:-3030}
mkdir -p "$O"
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
W=$B/bench/worker/fairway-worker
step() { echo; echo "=== $* ($(date -u +%H:%M:%S), ${SECONDS}s)"; }
DEADLINE=${DEADLINE:-330}
left() { echo $((DEADLINE - SECONDS)); }
: > "$O/copy_bw.txt"

if [ "$BACKEND" = cuda ]; then
    step card
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw --format=csv
    step copy bandwidth
    timeout 60 $B/benchmarks/cuda_copy_bw --iters 30 | tee "$O/copy_bw.txt"
fi

step tune $PROFILE on $BACKEND: presets + $NRAND random per shape, seed $SEED, warmup $WARMUP, iters $ITERS
SPEC="{\"profile\": \"$PROFILE\", \"backend\": \"$BACKEND\", \"num_random\": $NRAND, \"seed\": $SEED, \"warmup\": $WARMUP, \"iters\": $ITERS, \"options\": {\"launches_per_sample\": $LPS, \"rotate_bytes\": $ROTATE_BYTES}}"
echo "$SPEC"
timeout $TUNE_S $W --spec - --backend $BACKEND > "$O/profile.jsonl" <<< "$SPEC"
echo "worker rc=$? ($(grep -c '"seq"' "$O/profile.jsonl") records)"

python3 - "$O/profile.jsonl" "$O/copy_bw.txt" "$O" "variants/profiles/$PROFILE.json" <<'PY' > "$O/summary.txt"
import json, sys, collections, os
recs, summ = [], None
for line in open(sys.argv[1]):
    line = line.strip()
    if not line: continue
    o = json.loads(line)
    if "summary" in o: summ = o["summary"]
    elif "seq" in o and "status" in o: recs.append(o)   # not the "finalists" line
prof = json.load(open(sys.argv[4]))
policy = prof.get("options", {}).get("policy", {})
copy = None
for line in open(sys.argv[2]):
    if line.startswith('{"copy_bw"'): copy = json.loads(line)["copy_bw"]
cbw = copy["gbps"] if copy else float(os.environ.get("COPY_GBPS", "nan"))
print(f"copy bandwidth (read + write, 1 GiB each way): {cbw:.0f} GB/s; empty kernel "
      f"{copy['empty_kernel_ns']/1e3:.2f} us alone, {copy['empty_kernel_pipelined_ns']/1e3:.2f} us pipelined" if copy else f"copy bandwidth not measured here: {cbw:.0f} GB/s (COPY_GBPS)")
by = collections.OrderedDict()
for r in recs: by.setdefault(r["shape_key"], []).append(r)
best_rows = []
hdr = (f"{'shape':58} {'n':>3} {'ok':>3} {'best_us':>8} {'GB/s':>6} {'%copy':>6} {'xslow':>6} "
       f"{'xpolicy':>7}  best variant")
print(hdr)
for k, rs in by.items():
    ok = [r for r in rs if r["status"] == "ok"]
    short = k.replace("experts=64,hidden=2048,intermediate=1536,", "").replace("experts=8,hidden=256,intermediate=256,", "")
    if not ok:
        print(f"{short:58} {len(rs):3} {0:3}  no verified variant: "
              + str(dict(collections.Counter(r['status'] for r in rs)))); continue
    med = lambda r: r["stats"]["median_ns"]
    b = min(ok, key=med); w = max(ok, key=med)
    # The preset the users' kernel_selection policy picks for this mode: the profile's
    # options.policy[mode].knobs (variants/profiles/<profile>.json).
    pk = policy.get(b.get("mode", ""), {}).get("knobs")
    pol = next((r for r in ok if pk and r["knobs"] == pk), None)
    gbps = b["bytes"] / med(b)
    row = dict(shape=k, best=b["variant_key"], best_ns=med(b), gbps=gbps, pct_copy=100 * gbps / cbw,
               x_slowest=med(w) / med(b), x_policy=(med(pol) / med(b)) if pol else None,
               policy=pol["variant_key"] if pol else None, bytes=b["bytes"], n=len(rs), ok=len(ok),
               grid=b.get("geometry", {}).get("grid"), group=b.get("geometry", {}).get("group"),
               regs=b.get("resources", {}).get("registers"), knobs=b["knobs"], shape_obj=b["shape"])
    best_rows.append(row)
    xp = f"{row['x_policy']:7.2f}" if pol else "      -"
    row["mode"] = b.get("mode")
    print(f"{short:58} {len(rs):3} {len(ok):3} {med(b)/1e3:8.1f} {gbps:6.0f} {row['pct_copy']:5.1f}% "
          f"{row['x_slowest']:6.2f} {xp}  {b['variant_key']}")
    bad = collections.Counter(r["status"] for r in rs if r["status"] != "ok")
    if bad:
        first = next(r for r in rs if r["status"] != "ok")
        print(f"{'':58}   not ok: {dict(bad)}; first: {(first.get('error') or '')[:160]!r}")
if summ:
    ev, wall, comp = summ["evaluated"], summ["wall_s"], summ["compile_s"]
    print(f"evaluated {ev} variants in {wall:.1f} s: {ev / wall * 60:.0f} per minute; compiling "
          f"{comp:.1f} s = {100 * comp / wall:.0f}% of the wall time; by status {summ.get('by_status')}")
below = [r for r in best_rows if r["pct_copy"] < 70]
print(f"{len(best_rows) - len(below)} of {len(best_rows)} shapes at >= 70% of copy bandwidth")
json.dump(best_rows, open(os.path.join(sys.argv[3], "best.json"), "w"), indent=1)
PY


if [ "$BACKEND" = cuda ]; then
    python3 - "$O/best.json" <<'PY' > /tmp/decode_args.txt
import json, sys
for r in json.load(open(sys.argv[1])):
    if "mode=decode" in r["shape"] and "bits=glm47" in r["shape"]:
        print(json.dumps(r["shape_obj"]), " ".join(f"{k}={v}" for k, v in sorted(r["knobs"].items())))
        break
PY
    if [ -s /tmp/decode_args.txt ]; then
        step ptxas, PTX and SASS of the decode winner
        read -r shape knobs < <(python3 -c 'import sys,json; l=open("/tmp/decode_args.txt").read(); i=l.index("} "); print(l[:i+1].replace(" ",""), l[i+2:].strip())')
        $B/benchmarks/cuda_inspect --family moe_swiglu --shape "$shape" --cubin /tmp/decode.cubin $knobs | tee "$O/decode_inspect.txt"
        cuobjdump -sass /tmp/decode.cubin > /tmp/decode.sass 2>&1
        echo "SASS global loads / stores / atomics (static count):"
        grep -oE '(LDG|STG|RED|ATOMG|LDS|STS|LDL|STL)(\.[A-Z0-9_]+)*' /tmp/decode.sass | sort | uniq -c | sort -rn | head -20
        preset=$(python3 -c 'import sys, json; print(json.dumps({a.split("=")[0]: int(a.split("=")[1]) for a in sys.argv[1:]}))' $knobs)
        spec="{\"family\": \"moe_swiglu\", \"backend\": \"cuda\", \"shapes\": [$shape], \"presets\": [$preset], \"strategy\": \"presets\", \"warmup\": 0, \"iters\": 1}"
        if [ "$(left)" -gt 70 ]; then
            step ncu on the decode winner
            timeout 60 ncu --csv --print-units base --kernel-name regex:moe_ --launch-count 1 \
                --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__warps_active.avg.pct_of_peak_sustained_active,launch__grid_size,launch__registers_per_thread,smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct,smsp__warp_issue_stalled_barrier_per_warp_active.pct \
                $W --spec - --backend cuda <<< "$spec" 2>&1 | grep -E '^"[0-9]' | awk -F'","' '{print $(NF-2), $NF}' | tee "$O/ncu_decode.txt"
        fi
        if [ "${MEMCHECK:-0}" = 1 ] && [ "$(left)" -gt 60 ]; then
            step memcheck: the decode winner
            timeout $(( $(left) - 30 )) compute-sanitizer --tool memcheck --print-limit 10 $W --spec - --backend cuda <<< "$spec" 2>&1 \
                | grep -E '^=========' > "$O/memcheck.txt"
            grep -E "ERROR SUMMARY|Invalid" "$O/memcheck.txt" | head
        fi
    fi
fi

step table: $PROFILE on $BACKEND, presets + $NRAND random per shape
cat "$O/summary.txt"
