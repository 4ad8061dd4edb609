#!/bin/sh
# throughput.sh - tuning throughput (issue 7): the same gemm space of >= 200 variants tuned three
# times with fairway-worker, and the variants per minute of each:
#   1. sequential: compile then time, one variant after another (--compile-threads 0, no cache)
#   2. pool:       compile threads ahead of the timing thread, empty compile cache (cold)
#   3. warm:       the pool again with the cache the pool run filled
# It prints the ratios (pool/sequential, warm/sequential) and whether the three stored rankings
# (--db, one SQLite file per run) agree on the winner within measurement noise: run X's winner counts
# as agreeing with run Y when its median in Y is within NOISE (default 5 %) of Y's best, or within
# Y's own spread (2 x the winner's relative stddev in Y), and the same both ways. The finalists'
# winners (interleaved re-timing of the top 5, the default) are printed too.
#
# usage: benchmarks/throughput.sh [--backend opencl|cuda] [--build DIR] [--budget N]
#                                 [--threads N] [--keep DIR]
# env:   SEED (1) WARMUP (1) ITERS (5) M N K (128 128 128; cuda: 1024 1024 1024) NOISE (0.05)
#        EXTRA='"options": {...},' adds spec fields. PoCL's own kernel cache is off
#        (POCL_KERNEL_CACHE=0) unless POCL_CACHE=1, so every cold compile is a real one.
set -eu
BACKEND=opencl BUILD=build BUDGET=200 THREADS="" KEEP=""
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
WORKER="$BUILD/bench/worker/fairway-worker"
[ -x "$WORKER" ] || { echo "throughput.sh: $WORKER not found: meson setup $BUILD && ninja -C $BUILD" >&2; exit 2; }
if [ "$BACKEND" = cuda ]; then DM=1024; else DM=128; fi
SEED=${SEED:-1} WARMUP=${WARMUP:-1} ITERS=${ITERS:-5} M=${M:-$DM} N=${N:-$DM} K=${K:-$DM} NOISE=${NOISE:-0.05}
[ "${POCL_CACHE:-0}" = 1 ] || export POCL_KERNEL_CACHE=0

if [ -n "$KEEP" ]; then tmp=$KEEP; mkdir -p "$tmp"; else tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; fi
rm -rf "$tmp/cache" "$tmp"/*.db "$tmp"/*.jsonl
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

run() {  # name, worker args...
    name=$1; shift
    "$WORKER" --spec "$tmp/spec.json" --backend "$BACKEND" --db "$tmp/$name.db" "$@" > "$tmp/$name.jsonl"
}
run sequential --compile-threads 0 --no-cache
run pool $threads_arg --cache-dir "$tmp/cache"
run warm $threads_arg --cache-dir "$tmp/cache"

python3 - "$tmp" "$NOISE" <<'PY'
import json, sqlite3, sys
tmp, noise = sys.argv[1], float(sys.argv[2])
runs = ["sequential", "pool", "warm"]
summ, fin, rank = {}, {}, {}
for r in runs:
    for line in open(f"{tmp}/{r}.jsonl"):
        o = json.loads(line)
        if "summary" in o: summ[r] = o["summary"]
        if "finalists" in o: fin[r] = o["finalists"]
    db = sqlite3.connect(f"{tmp}/{r}.db")
    rank[r] = {k: (m, sd) for k, m, sd in db.execute(
        "SELECT v.key, m.median_ns, m.stddev_ns FROM measurements m JOIN variants v ON v.id = m.variant_id "
        "WHERE m.status = 'ok' ORDER BY m.median_ns, m.seq")}
    db.close()
print(f"{'run':<11} {'variants':>8} {'ok':>4} {'pruned':>6} {'cached':>6} {'threads':>7} {'tuned s':>8} "
      f"{'var/min':>8} {'compile s':>9} {'1st-launch s':>12}")
for r in runs:
    s = summ[r]
    print(f"{r:<11} {s['evaluated']:>8} {s['ok']:>4} {s.get('pruned', 0):>6} {s.get('cached', 0):>6} "
          f"{s.get('compile_threads', 0):>7} {s['tuned_s']:>8.1f} {s['variants_per_min']:>8.1f} "
          f"{s['compile_s']:>9.1f} {s['first_launch_s']:>12.1f}")
base = summ["sequential"]["variants_per_min"]
print(f"pool / sequential: {summ['pool']['variants_per_min'] / base:.2f}x   "
      f"warm / sequential: {summ['warm']['variants_per_min'] / base:.2f}x   "
      f"warm / pool: {summ['warm']['variants_per_min'] / summ['pool']['variants_per_min']:.2f}x")
win = {r: min(rank[r].items(), key=lambda kv: kv[1][0])[0] for r in runs if rank[r]}
agree = True
for r in runs:
    k = win[r]
    line = []
    for o in runs:
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
PY
