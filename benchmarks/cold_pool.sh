#!/bin/bash
# cold_pool.sh - where the cold compile pool's time goes (issue 20), on a CUDA GPU, in one call of
# a few minutes:
#   1. NVRTC alone (benchmarks/nvrtc_pool) over the job's variants at 1..T threads: the ceiling the
#      host's cores allow, and how one compile slows as threads are added;
#   2. the worker's cold pool (empty compile cache, 200 gemm variants at 1024^3, warmup 1, iters 5,
#      no early stop, no finalists) for each BUILD and each thread count in THREADS, alternated over
#      ROUNDS rounds, with the mean NVRTC call (compile_ms) and the timing thread's wait.
#
# usage (repo root, on the GPU machine): benchmarks/cold_pool.sh OUT_DIR RUN [RUN...]
#   RUN is a build folder, or FOLDER:NAME=VALUE to run that build with an environment variable set
#   (e.g. .device/b-new:FAIRWAY_NVRTC_PROCESSES=0 for compiles in the worker's own process)
# env:   THREADS ("15 8") ROUNDS (2) BUDGET (200) SEED (1) NVRTC_N (120) NVRTC_THREADS (1,2,4,8,15)
#        EXTRA_OPTIONS (NVRTC options for one more nvrtc_pool row, e.g. "-minimal")
#        NVRTC_CACHE=1 leaves NVRTC's own disk cache on (off by default: CUDA_CACHE_DISABLE=1)
# Libraries the GPU machine lacks: .device/lib. The table is printed last.
set -u
O=$1; shift
mkdir -p "$O"
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# NVRTC's own on-disk cache (~/.nv/ComputeCache) would make every run after the first warm
[ "${NVRTC_CACHE:-0}" = 1 ] || export CUDA_CACHE_DISABLE=1
THREADS=${THREADS:-"15 8"} ROUNDS=${ROUNDS:-2} BUDGET=${BUDGET:-200}
cat > "$O/spec.json" <<SPEC
{"family": "gemm", "shapes": [{"M": 1024, "N": 1024, "K": 1024}], "strategy": "random",
 "budget": $BUDGET, "seed": ${SEED:-1}, "warmup": 1, "iters": 5, "backend": "cuda",
 "options": {"early_stop": false, "finalists": 0}}
SPEC
echo "=== card $(date -u +%H:%M:%S)"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "cores $(nproc); $(grep -m1 'model name' /proc/cpuinfo); threads per core $(lscpu | awk -F: '/Thread\(s\) per core/ {gsub(/ /,"",$2); print $2}')"
B0=${1%%:*}
if [ -x "$B0/benchmarks/nvrtc_pool" ]; then
    echo "=== NVRTC alone ($B0)"
    timeout 150 "$B0/benchmarks/nvrtc_pool" --spec "$O/spec.json" --n "${NVRTC_N:-120}" \
        --threads "${NVRTC_THREADS:-1,2,4,8,15}" | tee "$O/nvrtc_pool.txt"
    if [ -n "${EXTRA_OPTIONS:-}" ]; then
        timeout 60 "$B0/benchmarks/nvrtc_pool" --spec "$O/spec.json" --n "${NVRTC_N:-120}" --threads 1,15 \
            --options "$EXTRA_OPTIONS" | tee -a "$O/nvrtc_pool.txt"
    fi
fi
for r in $(seq 1 "$ROUNDS"); do
    for run in "$@"; do
        b=${run%%:*} e=""
        [ "$b" = "$run" ] || e=${run#*:}
        for t in $THREADS; do
            n=$(basename "$b")${e:+-${e##*=}}-t$t-r$r
            rm -rf "$O/cache-$n"
            t0=$(date +%s.%N)
            env $e timeout 120 "$b/bench/worker/fairway-worker" --spec "$O/spec.json" --backend cuda \
                --compile-threads "$t" --cache-dir "$O/cache-$n" > "$O/$n.jsonl" 2> "$O/$n.err"
            echo "$t0 $(date +%s.%N) $?" > "$O/$n.wall"
            rm -rf "$O/cache-$n"
            echo "ran $n: $(grep -c '"seq"' "$O/$n.jsonl") records"
        done
    done
done
python3 - "$O" "$ROUNDS" "$THREADS" "$@" <<'PY'
import json, os, statistics as st, sys
o, rounds, threads, builds = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4:]
print(f"\n{'build':<14} {'threads':>7} {'round':>5} {'records':>7} {'wall s':>7} {'var/min':>8} "
      f"{'compile ms':>10} {'load ms':>8} {'stages ms':>9}")
def label(run):
    b, _, e = run.partition(":")
    return os.path.basename(b) + (f"-{e.split('=')[-1]}" if e else "")
for b in builds:
    for t in threads:
        vpm = []
        for r in range(1, rounds + 1):
            n = f"{label(b)}-t{t}-r{r}"
            recs = []
            for line in open(f"{o}/{n}.jsonl"):
                try:
                    x = json.loads(line)
                except ValueError:
                    continue
                if "seq" in x:
                    recs.append(x)
            t0, t1, rc = open(f"{o}/{n}.wall").read().split()
            wall = float(t1) - float(t0)
            comp = [x.get("compile_ms") or 0 for x in recs]
            load = [(x.get("stages_ms") or {}).get("program", 0) for x in recs]
            stg = [sum((x.get("stages_ms") or {}).values()) for x in recs]
            v = 60 * len(recs) / wall if wall else 0
            vpm.append(v)
            print(f"{label(b):<14} {t:>7} {r:>5} {len(recs):>7} {wall:>7.2f} {v:>8.0f} "
                  f"{st.mean(comp) if comp else 0:>10.1f} {st.mean(load) if load else 0:>8.2f} "
                  f"{st.mean(stg) if stg else 0:>9.2f}")
        print(f"{label(b):<14} {t:>7} {'median':>5} {'':>7} {'':>7} {st.median(vpm):>8.0f}")
PY
