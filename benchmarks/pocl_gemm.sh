#!/bin/sh
# pocl_gemm.sh - the core engine on PoCL: fairway-worker tunes the gemm space (random strategy,
# a budget of >= 100 variants) and this prints variants per minute, the share of wall time spent
# compiling, and the ratio of the slowest to the fastest verified variant (by median).
#
# usage: benchmarks/pocl_gemm.sh [BUILD_DIR]        (default: build)
# env:   BUDGET (120) SEED (1) WARMUP (2) ITERS (10) M N K (256 256 256)
#        POCL_CACHE=1 keeps PoCL's on-disk kernel cache; by default it is off (POCL_KERNEL_CACHE=0)
#        so every compile is a real one, as on a first run.
#        OUT=FILE keeps the worker's JSON lines there (default: a temp file, removed).
set -eu
BUILD=${1:-build}
WORKER="$BUILD/bench/worker/fairway-worker"
[ -x "$WORKER" ] || { echo "pocl_gemm.sh: $WORKER not found: build first (meson setup $BUILD && ninja -C $BUILD)" >&2; exit 2; }
BUDGET=${BUDGET:-120} SEED=${SEED:-1} WARMUP=${WARMUP:-2} ITERS=${ITERS:-10}
M=${M:-256} N=${N:-256} K=${K:-256}
[ "${POCL_CACHE:-0}" = 1 ] || export POCL_KERNEL_CACHE=0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
OUTFILE=${OUT:-$tmp/records.jsonl}
cat > "$tmp/spec.json" <<SPEC
{"family": "gemm", "shapes": [{"M": $M, "N": $N, "K": $K}], "strategy": "random",
 "budget": $BUDGET, "seed": $SEED, "warmup": $WARMUP, "iters": $ITERS, "backend": "opencl"}
SPEC

device=$("$WORKER" --list-devices | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d[0]["name"] if d else "none")')
echo "device: $device"
echo "spec:   $(tr -d '\n' < "$tmp/spec.json")"
echo "pocl kernel cache: ${POCL_KERNEL_CACHE:-on}"
"$WORKER" --spec "$tmp/spec.json" > "$OUTFILE"

python3 - "$OUTFILE" <<'PY'
import json, sys
recs, summary = [], None
for line in open(sys.argv[1]):
    o = json.loads(line)
    if "summary" in o:
        summary = o["summary"]
    elif "seq" in o:   # measurement records only: the worker also prints {"finalists": [...]}
        recs.append(o)
s = summary
wall, comp = s["wall_s"], s["compile_s"]
ok = [r for r in recs if r["status"] == "ok"]
print(f"evaluated:            {s['evaluated']} variants {s['by_status']}")
print(f"wall:                 {wall:.1f} s")
print(f"variants per minute:  {s['evaluated'] / wall * 60:.1f}")
first = sum(r.get("first_launch_ms", 0) for r in recs) / 1e3
print(f"compile share:        {100 * comp / wall:.1f} % ({comp:.1f} s in the compiler call)")
print(f"first-launch share:   {100 * first / wall:.1f} % ({first:.1f} s in checked launches, which include "
      "the driver's lazy JIT: PoCL specialises each kernel for its work-group size there)")
jit = sum(max(0.0, r["first_launch_ms"] / 1e3 - r["stats"]["median_ns"] / 1e9)
          for r in recs if r["status"] == "ok" and "first_launch_ms" in r)
print(f"compile + first launch: {100 * (comp + first) / wall:.1f} % of wall time; first launches less one "
      f"median run (~ driver JIT): {jit:.1f} s, so compiling in all ~ {100 * (comp + jit) / wall:.1f} %")
if ok:
    meds = sorted(r["stats"]["median_ns"] for r in ok)
    fast = min(ok, key=lambda r: r["stats"]["median_ns"])
    slow = max(ok, key=lambda r: r["stats"]["median_ns"])
    print(f"slowest/fastest:      {meds[-1] / meds[0]:.2f}x over {len(ok)} verified variants "
          f"(median {meds[-1] / 1e3:.1f} us vs {meds[0] / 1e3:.1f} us)")
    print(f"fastest:              {fast['variant_key']}  {fast['gflops']:.2f} GFLOP/s")
    print(f"slowest:              {slow['variant_key']}  {slow['gflops']:.2f} GFLOP/s")
    cms = sorted(r["compile_ms"] for r in recs if isinstance(r.get("compile_ms"), (int, float)) and not r.get("cached"))
    if cms:
        print(f"compile ms per variant: median {cms[len(cms) // 2]:.0f}, max {cms[-1]:.0f}")
PY
