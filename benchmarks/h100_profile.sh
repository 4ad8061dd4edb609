#!/bin/bash
# h100_profile.sh - tune the mixed_bpw_fairway_glm47 profile on an NVIDIA GPU in one run, and say
# how close each shape comes to the card's copy bandwidth (issue 5).
#
# usage (repo root, on the GPU machine):
#   benchmarks/h100_profile.sh [BUILD_DIR] [OUT_DIR] [BUDGET] [SEED]
#     BUILD_DIR  a build with the CUDA backend (default build-dev)
#     OUT_DIR    logs and results (default $OUT, else /tmp/fairway-profile)
#     BUDGET     evaluations per shape (default 24: 13 shapes give >= 200 variants)
#     SEED       job seed (default 1)
# Steps: card state; cuda_copy_bw (the ceiling); the tuning job through fairway-worker (JSON
# records in profile.jsonl); a table per shape (best variant, median, GB/s against the workload's
# minimum bytes, ratio to the copy bandwidth, speedup over the slowest verified variant and over
# the preset the users' policy picks, variants per minute, share of time compiling); the best
# variant of each shape under Nsight Compute; the profile's presets and each shape's best under
# compute-sanitizer memcheck; SASS load widths of the decode winner.
# Libraries the binaries need and the GPU machine lacks are taken from .device/lib.
set -u
B=${1:-build-dev}
O=${2:-${OUT:-/tmp/fairway-profile}}
BUDGET=${3:-24}
SEED=${4:-1}
PROFILE=mixed_bpw_fairway_glm47
mkdir -p "$O"
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
W=$B/bench/worker/fairway-worker
step() { echo; echo "=== $* ($(date -u +%H:%M:%S), ${SECONDS}s)"; }
# Whole run within one device call (10 minutes): later steps are skipped, not cut mid-way.
DEADLINE=${DEADLINE:-570}
left() { echo $((DEADLINE - SECONDS)); }

step card
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw --format=csv

step copy bandwidth
timeout 120 $B/benchmarks/cuda_copy_bw --iters 30 | tee "$O/copy_bw.txt"

step tune $PROFILE, budget $BUDGET per shape, seed $SEED
SPEC="{\"profile\": \"$PROFILE\", \"backend\": \"cuda\", \"budget\": $BUDGET, \"seed\": $SEED}"
echo "$SPEC"
timeout 330 $W --spec - --backend cuda > "$O/profile.jsonl" <<< "$SPEC"
echo "worker rc=$?"

step summary
python3 - "$O/profile.jsonl" "$O/copy_bw.txt" "$O" "variants/profiles/$PROFILE.json" <<'PY' | tee "$O/summary.txt"
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
cbw = copy["gbps"] if copy else float("nan")
print(f"copy bandwidth (read + write, 1 GiB each way): {cbw:.0f} GB/s; empty kernel "
      f"{copy['empty_kernel_ns']/1e3:.2f} us alone, {copy['empty_kernel_pipelined_ns']/1e3:.2f} us pipelined" if copy else "no copy bandwidth")
by = collections.OrderedDict()
for r in recs: by.setdefault(r["shape_key"], []).append(r)
best_rows = []
hdr = (f"{'shape':58} {'n':>3} {'ok':>3} {'best_us':>8} {'GB/s':>6} {'%copy':>6} {'xslow':>6} "
       f"{'xpolicy':>7}  best variant")
print(hdr)
for k, rs in by.items():
    ok = [r for r in rs if r["status"] == "ok"]
    short = k.replace("experts=64,hidden=2048,intermediate=1536,", "")
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

python3 - "$O/best.json" <<'PY' > /tmp/best_specs.txt
import json, sys
for i, r in enumerate(json.load(open(sys.argv[1]))):
    spec = {"family": "moe_swiglu", "backend": "cuda", "shapes": [r["shape_obj"]],
            "presets": [r["knobs"]], "strategy": "presets", "warmup": 0, "iters": 1}
    print(json.dumps(spec))
PY
step memcheck: the profile\'s presets
export FAIRWAY_CUDA_LINEINFO=1
timeout $(( $(left) > 200 ? 150 : $(left) / 2 )) compute-sanitizer --tool memcheck --print-limit 30 --log-file "$O/memcheck.txt" \
    $W --spec - --backend cuda > /tmp/memcheck_presets.jsonl <<< "{\"profile\": \"$PROFILE\", \"backend\": \"cuda\", \"strategy\": \"presets\", \"warmup\": 0, \"iters\": 1}"
echo "memcheck presets rc=$?: $(grep -c '"status": *"ok"' /tmp/memcheck_presets.jsonl) ok of $(grep -c '"seq"' /tmp/memcheck_presets.jsonl)"
step SASS of the decode winner
python3 - "$O/best.json" <<'PY' > /tmp/decode_args.txt
import json, sys
for r in json.load(open(sys.argv[1])):
    if "mode=decode" in r["shape"] and "bits=glm47" in r["shape"]:
        print(json.dumps(r["shape_obj"]), " ".join(f"{k}={v}" for k, v in sorted(r["knobs"].items())))
        break
PY
if [ -s /tmp/decode_args.txt ]; then
    read -r shape knobs < <(python3 -c 'import sys,json; l=open("/tmp/decode_args.txt").read(); i=l.index("} "); print(l[:i+1].replace(" ",""), l[i+2:].strip())')
    $B/benchmarks/cuda_inspect --family moe_swiglu --shape "$shape" --cubin /tmp/decode.cubin $knobs
    cuobjdump -sass /tmp/decode.cubin > /tmp/decode.sass 2>&1
    echo "SASS global loads / stores / atomics (static count):"
    grep -oE '(LDG|STG|RED|ATOMG|LDS|STS|LDL|STL)(\.[A-Z0-9_]+)*' /tmp/decode.sass | sort | uniq -c | sort -rn | head -20
fi

step ncu on each shape\'s best variant
: > "$O/ncu.csv"
i=0
while read -r spec; do
    [ "$(left)" -lt 120 ] && { echo "ncu: out of time after $i shapes"; break; }
    echo "shape $i" >> "$O/ncu.csv"
    timeout 60 ncu --csv --print-units base --kernel-name regex:moe_ --launch-count 1 \
        --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__warps_active.avg.pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed,launch__grid_size,launch__block_size,launch__registers_per_thread,launch__occupancy_limit_registers,launch__occupancy_limit_shared_mem,launch__occupancy_limit_warps,smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct,smsp__warp_issue_stalled_barrier_per_warp_active.pct,smsp__inst_executed.sum,smsp__sass_inst_executed_op_global_ld.sum,l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum,l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum \
        $W --spec - --backend cuda <<< "$spec" > /tmp/ncu_raw.txt 2>&1
    grep -E '^"' /tmp/ncu_raw.txt >> "$O/ncu.csv" || { echo "ncu gave no rows:"; grep -v '^{' /tmp/ncu_raw.txt | tail -5; }
    i=$((i+1))
done < /tmp/best_specs.txt
python3 - "$O/ncu.csv" "$O/best.json" <<'PY'
import csv, sys, json, collections
rows = collections.OrderedDict(); cur = None
for line in open(sys.argv[1]):
    if line.startswith("shape "): cur = int(line.split()[1]); rows[cur] = {}; continue
    if line.startswith('"ID"'): continue
    f = next(csv.reader([line]))
    if len(f) > 14 and cur is not None: rows[cur][f[-3]] = (f[-1], f[-2])
best = json.load(open(sys.argv[2]))
print(f"{'shape':40} {'us':>7} {'DRAM MB':>8} {'L2 MB':>7} {'dram%':>6} {'warps%':>6} {'grid':>6} {'blk':>4} {'regs':>4} {'lsb%':>6} {'bar%':>6} {'sect/req':>8}")
for i, m in rows.items():
    g = lambda k: float(m[k][0].replace(",", "")) if k in m and m[k][0] not in ("", "n/a") else float("nan")
    sh = best[i]["shape"].replace("experts=64,hidden=2048,intermediate=1536,", "") if i < len(best) else "?"
    req = g("l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum")
    print(f"{sh[:40]:40} {g('gpu__time_duration.sum')/1e3:7.1f} {g('dram__bytes_read.sum')/1e6:8.2f} "
          f"{g('lts__t_bytes.sum')/1e6:7.2f} {g('dram__throughput.avg.pct_of_peak_sustained_elapsed'):6.1f} "
          f"{g('sm__warps_active.avg.pct_of_peak_sustained_active'):6.1f} {g('launch__grid_size'):6.0f} "
          f"{g('launch__block_size'):4.0f} {g('launch__registers_per_thread'):4.0f} "
          f"{g('smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct'):6.1f} "
          f"{g('smsp__warp_issue_stalled_barrier_per_warp_active.pct'):6.1f} "
          f"{g('l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum') / req if req else float('nan'):8.2f}")
PY

step memcheck: each shape\'s best variant
n=0
while read -r spec; do
    [ "$(left)" -lt 40 ] && { echo "memcheck: out of time after $n best variants"; break; }
    timeout 60 compute-sanitizer --tool memcheck --print-limit 10 $W --spec - --backend cuda <<< "$spec" 2>&1 \
        | grep -E '^=========' | grep -v -E 'COMPUTE-SANITIZER|ERROR SUMMARY: 0 errors' >> "$O/memcheck.txt"
    n=$((n+1))
done < /tmp/best_specs.txt
echo "memcheck best variants: $n runs"
grep -E "ERROR SUMMARY|Invalid|out of bounds|misaligned" "$O/memcheck.txt" | sort | uniq -c | head -20

