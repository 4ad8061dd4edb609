#!/bin/bash
# h100_smoke.sh - first look at an NVIDIA GPU through fairway's CUDA backend, in one device call:
# the card's state, the CUDA tests, the copy-bandwidth ceiling, a gemm tuning run with the worker,
# and the gemm_small profile under compute-sanitizer memcheck.
#
# usage (repo root, on the GPU machine): benchmarks/h100_smoke.sh [BUILD_DIR] [OUT_DIR]
#   BUILD_DIR  a build made with the CUDA backend (default build-dev)
#   OUT_DIR    where logs go (default $OUT, else /tmp/fairway-smoke)
# Libraries the binaries need and the GPU machine lacks are looked up in .device/lib.
set -u
B=${1:-build-dev}
O=${2:-${OUT:-/tmp/fairway-smoke}}
mkdir -p "$O"
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export FAIRWAY_CUDA_LINEINFO=1
W=$B/bench/worker/fairway-worker
step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }

step card
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw,power.limit --format=csv
nvidia-smi > "$O/nvidia-smi.txt" 2>&1
ls /usr/local/cuda/lib64 2>/dev/null | grep -E '^libnvrtc\.so' | head -3
which compute-sanitizer cuobjdump ncu 2>&1 | head -3

step tests
$B/tests/cuda/test_cuda_nvrtc; echo "cuda_nvrtc rc=$?"
$B/tests/cuda/test_cuda_device; echo "cuda_device rc=$?"
$B/tests/cuda/test_cuda_device --sticky; echo "cuda_device_sticky rc=$?"

step copy bandwidth
timeout 120 $B/benchmarks/cuda_copy_bw --iters 50 | tee "$O/copy_bw.txt"

step gemm tuning
cat > /tmp/gemm_h100.json <<'JSON'
{"family": "gemm", "backend": "cuda",
 "shapes": [{"M": 2048, "N": 2048, "K": 2048}, {"M": 1024, "N": 1024, "K": 1024},
            {"M": 16, "N": 4096, "K": 4096}],
 "strategy": "random", "budget": 60, "seed": 7, "warmup": 5, "iters": 30}
JSON
timeout 300 $W --spec /tmp/gemm_h100.json --backend cuda > "$O/gemm.jsonl"
echo "worker rc=$?"
python3 - "$O/gemm.jsonl" <<'PY'
import json, sys, collections
recs, summ = [], None
for line in open(sys.argv[1]):
    o = json.loads(line)
    if "summary" in o: summ = o["summary"]
    elif "seq" in o: recs.append(o)   # measurement records only (not the {"finalists": ...} line)
by = collections.defaultdict(list)
for r in recs: by[r["shape_key"]].append(r)
print(f"{'shape':26} {'n':>4} {'ok':>4} {'best_us':>9} {'GFLOP/s':>8} {'worst_us':>9} {'preset1_us':>10}  best variant")
for k, rs in by.items():
    ok = [r for r in rs if r["status"] == "ok"]
    if not ok:
        print(k, "no ok variant:", collections.Counter(r["status"] for r in rs)); continue
    b = min(ok, key=lambda r: r["stats"]["median_ns"]); w = max(ok, key=lambda r: r["stats"]["median_ns"])
    pre = [r for r in ok if r.get("origin") == "preset"]
    p = pre[0]["stats"]["median_ns"] / 1e3 if pre else float("nan")
    print(f"{k:26} {len(rs):4} {len(ok):4} {b['stats']['median_ns']/1e3:9.1f} {b.get('gflops',0):8.0f} "
          f"{w['stats']['median_ns']/1e3:9.1f} {p:10.1f}  {b['variant_key']} regs={b.get('resources',{}).get('registers')}")
    bad = collections.Counter(r["status"] for r in rs if r["status"] != "ok")
    if bad: print("   not ok:", dict(bad), "| first error:", next((r.get("error") or "")[:300] for r in rs if r["status"] != "ok"))
if summ:
    ev, wall, comp = summ["evaluated"], summ["wall_s"], summ["compile_s"]
    print(f"evaluated {ev} in {wall:.1f} s: {ev / wall * 60:.0f} per minute, compiling {100 * comp / wall:.0f}% of the time")
PY

step memcheck gemm_small
timeout 300 compute-sanitizer --tool memcheck --print-limit 20 --log-file "$O/memcheck_gemm.txt" $W --spec '-' --backend cuda \
    > "$O/memcheck_gemm.jsonl" <<'JSON'
{"profile": "gemm_small", "backend": "cuda", "budget": 8, "iters": 2, "warmup": 1}
JSON
echo "memcheck rc=$?"
grep -E "ERROR SUMMARY|Invalid|========= " "$O/memcheck_gemm.txt" | head -20
grep -c '"status"' "$O/memcheck_gemm.jsonl"
