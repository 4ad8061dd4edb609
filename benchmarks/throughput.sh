#!/bin/sh
# throughput.sh - tuning throughput (issue 7): the same gemm space of >= 200 variants tuned three
# times with fairway-worker, and the variants per minute of each:
#   1. sequential: compile then time, one variant after another (--compile-threads 0, no cache)
#   2. pool:       compile threads ahead of the timing thread, empty compile cache (cold)
#   3. warm:       the pool again with the cache the pool run filled
# It prints the ratios (pool/sequential, warm/sequential) and whether the three rankings (from each
# run's records; the worker never opens a store) agree on the winner within measurement noise: run X's winner counts
# as agreeing with run Y when its median in Y is within NOISE (default 5 %) of Y's best, or within
# Y's own spread (2 x the winner's relative stddev in Y), and the same both ways. The finalists'
# winners (interleaved re-timing of the top 5, the default) are printed too.
#
# usage: benchmarks/throughput.sh [--backend opencl|cuda] [--build DIR] [--budget N]
#                                 [--threads N] [--keep DIR]
# env:   SEED (1) WARMUP (1) ITERS (5) M N K (128 128 128; cuda: 1024 1024 1024) NOISE (0.05)
#        EXTRA='"options": {...},' adds spec fields. PoCL's own kernel cache is off
#        (POCL_KERNEL_CACHE=0) unless POCL_CACHE=1, and NVRTC's (CUDA_CACHE_DISABLE=1) unless
#        NVRTC_CACHE=1, so every cold compile is a real one.
#        RUN_LIMIT (seconds for the sequential run; the pool run gets half, the warm run a third;
#        default 110 on cuda, so the three stay within 4 minutes; 0 = none, the default elsewhere):
#        a run cut there is reported from the records it wrote (variants/min over its wall time).
# Output folder (records, stores, the compile cache): --keep DIR, else $OUT when set (the device
# machine's folder that comes back), else a temporary one. On the GPU machine the libraries the
# binaries need are taken from .device/lib, as benchmarks/h100_profile.sh does:
#     benchmarks/throughput.sh --backend cuda --build build-dev        (about 2 minutes on an H100)
# The last lines are a short table: run, variants, variants/min, ratio to sequential, winner.
set -eu
BACKEND=opencl BUILD="" BUDGET=200 THREADS="" KEEP="${OUT:-}"
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
while [ $# -gt 0 ]; do
    case "$1" in
        --backend) BACKEND=$2; shift 2 ;;
        --build) BUILD=$2; shift 2 ;;
        --budget) BUDGET=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --keep) KEEP=$2; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "throughput.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if [ -z "$BUILD" ]; then
    if [ "$BACKEND" = cuda ] && [ -d build-dev ]; then BUILD=build-dev; else BUILD=build; fi
fi
WORKER="$BUILD/bench/worker/fairway-worker"
[ -x "$WORKER" ] || { echo "throughput.sh: $WORKER not found: meson setup $BUILD && ninja -C $BUILD" >&2; exit 2; }
if [ "$BACKEND" = cuda ]; then DM=1024 DL=110; else DM=128 DL=0; fi
RUN_LIMIT=${RUN_LIMIT:-$DL}
SEED=${SEED:-1} WARMUP=${WARMUP:-1} ITERS=${ITERS:-5} M=${M:-$DM} N=${N:-$DM} K=${K:-$DM} NOISE=${NOISE:-0.05}
[ "${POCL_CACHE:-0}" = 1 ] || export POCL_KERNEL_CACHE=0
# NVRTC 13 keeps its own cache of compiled programs in ~/.nv/ComputeCache (shared by processes and
# runs): without this a "cold" run of variants compiled before is warm (BENCHMARKS.md, "Where the
# cold pool's time goes"). NVRTC_CACHE=1 leaves it on.
[ "${NVRTC_CACHE:-0}" = 1 ] || export CUDA_CACHE_DISABLE=1

if [ -n "$KEEP" ]; then tmp=$KEEP; mkdir -p "$tmp"; else tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; fi
rm -rf "$tmp/cache" "$tmp"/*.jsonl
cat > "$tmp/spec.json" <<SPEC
{"family": "gemm", "shapes": [{"M": $M, "N": $N, "K": $K}], "strategy": "random", ${EXTRA:-}
 "budget": $BUDGET, "seed": $SEED, "warmup": $WARMUP, "iters": $ITERS, "backend": "$BACKEND"}
SPEC
# the pool runs name their thread count: the worker's default is 0 on a CPU device (PoCL)
[ -n "$THREADS" ] || THREADS=$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))
threads_arg="--compile-threads $THREADS"
echo "device:  $("$WORKER" --list-devices | python3 -c "import json,sys; d=[x for x in json.load(sys.stdin) if x['backend']=='$BACKEND']; print(d[0]['identity'] if d else 'none')")"
echo "spec:    $(tr -d '\n' < "$tmp/spec.json")"
echo "cores:   $(nproc)  pocl kernel cache: ${POCL_KERNEL_CACHE:-on}"

run() {  # name, time limit (0 = none), worker args...
    name=$1 limit=$2; shift 2
    t0=$(date +%s.%N)
    rc=0
    if [ "$limit" -gt 0 ]; then
        timeout "$limit" "$WORKER" --spec "$tmp/spec.json" --backend "$BACKEND" "$@" \
            > "$tmp/$name.jsonl" || rc=$?
    else
        "$WORKER" --spec "$tmp/spec.json" --backend "$BACKEND" "$@" > "$tmp/$name.jsonl" || rc=$?
    fi
    echo "$t0 $(date +%s.%N) $rc" > "$tmp/$name.wall"
    echo "run $name: worker exit $rc, $(grep -c '"seq"' "$tmp/$name.jsonl" || true) records" >&2
}
run sequential "$RUN_LIMIT" --compile-threads 0 --no-cache
run pool $((RUN_LIMIT / 2)) $threads_arg --cache-dir "$tmp/cache"
run warm $((RUN_LIMIT / 3)) $threads_arg --cache-dir "$tmp/cache"

python3 - "$tmp" "$NOISE" <<'PY'
import json, sys
tmp, noise = sys.argv[1], float(sys.argv[2])
runs = ["sequential", "pool", "warm"]
summ, fin, rank = {}, {}, {}
for r in runs:
    recs = []
    for line in open(f"{tmp}/{r}.jsonl"):
        try:
            o = json.loads(line)
        except ValueError:
            continue   # a line cut by RUN_LIMIT
        if "summary" in o: summ[r] = o["summary"]
        elif "finalists" in o: fin[r] = o["finalists"]
        elif "seq" in o: recs.append(o)
    if r not in summ:   # cut by RUN_LIMIT (or the worker died): count what it wrote in its own wall time
        t0, t1, rc = open(f"{tmp}/{r}.wall").read().split()
        wall = float(t1) - float(t0)
        summ[r] = {"evaluated": len(recs), "ok": sum(x["status"] == "ok" for x in recs),
                   "pruned": sum(x["status"] == "pruned" for x in recs),
                   "cached": sum(bool(x.get("cached")) for x in recs), "compile_threads": -1,
                   "tuned_s": wall, "variants_per_min": 60.0 * len(recs) / wall if wall > 0 else 0,
                   "compile_s": sum(x.get("compile_ms") or 0 for x in recs) / 1e3,
                   "first_launch_s": sum(x.get("first_launch_ms") or 0 for x in recs) / 1e3, "cut": int(rc)}
    oks = sorted((x for x in recs if x["status"] == "ok"), key=lambda x: (x["stats"]["median_ns"], x["seq"]))
    rank[r] = {x["variant_key"]: (x["stats"]["median_ns"], x["stats"].get("stddev_ns")) for x in oks}
print(f"{'run':<11} {'variants':>8} {'ok':>4} {'pruned':>6} {'cached':>6} {'threads':>7} {'tuned s':>8} "
      f"{'var/min':>8} {'compile s':>9} {'1st-launch s':>12}")
for r in runs:
    s = summ[r]
    print(f"{r:<11} {s['evaluated']:>8} {s['ok']:>4} {s.get('pruned', 0):>6} {s.get('cached', 0):>6} "
          f"{s.get('compile_threads', 0):>7} {s['tuned_s']:>8.1f} {s['variants_per_min']:>8.1f} "
          f"{s['compile_s']:>9.1f} {s['first_launch_s']:>12.1f}")
base = summ["sequential"]["variants_per_min"] or 1e-9
print(f"pool / sequential: {summ['pool']['variants_per_min'] / base:.2f}x   "
      f"warm / sequential: {summ['warm']['variants_per_min'] / base:.2f}x   "
      f"warm / pool: {summ['warm']['variants_per_min'] / summ['pool']['variants_per_min']:.2f}x")
win = {r: min(rank[r].items(), key=lambda kv: kv[1][0])[0] for r in runs if rank[r]}
agree = len(win) == len(runs)
for r in runs:
    if r not in win:
        print(f"run {r}: no verified variant"); continue
    k = win[r]
    line = []
    for o in runs:
        if o not in win:
            continue
        best = rank[o][win[o]][0]
        if k not in rank[o]:
            line.append(f"{o}: not ok there"); agree = False; continue
        m, sd = rank[o][k]
        tol = max(noise, 2 * rank[o][win[o]][1] / best if best else 0)
        ok = m <= best * (1 + tol)
        agree &= ok
        line.append(f"{o}: {m / best:.3f}x best{'' if ok else ' (outside noise)'}")
    print(f"winner of {r:<10} {k}\n    median vs each run's best: " + ", ".join(line))
print("stored rankings agree on the winner within noise:", "yes" if agree else "no")
for r in runs:
    w = [f for f in fin.get(r, []) if f["rank"] == 1]
    if w:
        print(f"finalists' winner ({r}): {w[0]['variant_key']} (first-pass rank {w[0]['first_rank']}, "
              f"median {w[0]['stats']['median_ns'] / 1e3:.1f} us over {w[0]['stats']['n']} interleaved samples)")
print()
print(f"{'run':<11} {'variants':>8} {'var/min':>8} {'vs seq':>7}  winner (first pass){'  CUT' if any('cut' in summ[r] for r in runs) else ''}")
for r in runs:
    s = summ[r]
    print(f"{r:<11} {s['evaluated']:>8} {s['variants_per_min']:>8.1f} {s['variants_per_min'] / base:>6.2f}x  "
          f"{win.get(r, '-')}{'  (cut after %.0f s)' % s['tuned_s'] if 'cut' in s else ''}")
print(f"winner agreement within noise: {'yes' if agree else 'no'}")
PY
