#!/bin/sh
# strategy_throughput.sh - does a learning strategy cost tuning throughput? (issue 11)
# The same gemm job (budget 200 at M=N=K, seed 1, warmup 1, iters 5, no early stop, no finalists)
# tuned through fairwayd + fairway tune, each run with an empty compile cache, so every variant is a
# real compile and the compile pool's work (the daemon's `ahead` items, docs/worker-protocol.md) is
# what is measured: strategy random (the fixed order, unlimited ask-ahead) against auto with
# options.ask_ahead A (the strategy's bound on how many points compile ahead of their results).
# Prints one line per run: strategy, A, variants stored, wall seconds, variants/min, ratio to random.
#
# usage: benchmarks/strategy_throughput.sh [--build DIR] [--base DIR] [--backend cuda|opencl]
#        [--aheads "4 16"]   (a word "default": auto with the ask-ahead its budget resolves to)
#   --base DIR   also run random with the binaries of another build (e.g. the tree before the
#                sequencer), to compare the daemon's pool feeding before and after
# env:   M (1024 on cuda, 128 elsewhere) BUDGET (200). OPTS=', "compile_threads": 9' adds options to
#        every run's spec. Libraries from .device/lib when present.
set -eu
BUILD=build BASE="" BACKEND=cuda AHEADS="4 16"
while [ $# -gt 0 ]; do
    case "$1" in
        --build) BUILD=$2; shift 2 ;;
        --base) BASE=$2; shift 2 ;;
        --backend) BACKEND=$2; shift 2 ;;
        --aheads) AHEADS=$2; shift 2 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "strategy_throughput.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
[ -d .device/lib ] && export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if [ "$BACKEND" = cuda ]; then DM=1024; else DM=128; fi
M=${M:-$DM} BUDGET=${BUDGET:-200}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
spec() {   # strategy, extra options
    cat > "$T/spec.json" <<SPEC
{"family": "gemm", "shapes": [{"M": $M, "N": $M, "K": $M}], "strategy": "$1", "budget": $BUDGET, "seed": 1,
 "warmup": 1, "iters": 5, "backend": "$BACKEND", "options": {"early_stop": false, "finalists": 0$2${OPTS:-}}}
SPEC
}
REF=""
run() {   # label, build dir
    b=$2
    rm -rf "$T/xdg" "$T/d.db"* "$T/s.sock"
    mkdir -p "$T/xdg"
    XDG_CACHE_HOME=$T/xdg FAIRWAY_WORKER=$b/bench/worker/fairway-worker \
        "$b/daemon/fairwayd" --socket "$T/s.sock" --db "$T/d.db" --log "$T/d.log" &
    dp=$!
    i=0
    while [ ! -S "$T/s.sock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    t0=$(date +%s.%N)
    "$b/cli/fairway" --socket "$T/s.sock" --no-start --json tune --spec "$T/spec.json" > "$T/out.json" || true
    t1=$(date +%s.%N)
    kill "$dp"
    wait "$dp" || true
    n=$(python3 -c "import sqlite3; print(sqlite3.connect('$T/d.db').execute('SELECT COUNT(*) FROM measurements').fetchone()[0])")
    python3 - "$1" "$n" "$t0" "$t1" "${REF:-0}" <<'PY'
import sys
label, n, t0, t1, ref = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
s = t1 - t0
vpm = 60.0 * n / s if s > 0 else 0
print("%-28s %4d variants %7.2f s %8.0f variants/min %s" % (label, n, s, vpm, "ratio %.3f" % (vpm / ref) if ref else ""))
open("/tmp/stp_last", "w").write("%f" % vpm)
PY
    # why: each variant's compile time as the pool saw it (latency, contention included) and the
    # compile seconds per wall second (how many compile threads were busy on average)
    python3 - "$T/d.db" "$t0" "$t1" <<'PY'
import sqlite3, statistics, sys
ms = sorted(r[0] for r in sqlite3.connect(sys.argv[1]).execute(
    "SELECT compile_ms FROM measurements WHERE compile_ms IS NOT NULL"))
if ms:
    wall = float(sys.argv[3]) - float(sys.argv[2])
    print("    compile_ms median %.1f mean %.1f p90 %.1f; compiles busy %.1f threads on average"
          % (statistics.median(ms), statistics.mean(ms), ms[int(0.9 * (len(ms) - 1))], sum(ms) / 1000.0 / wall))
PY
}
echo "device: $("$BUILD/bench/worker/fairway-worker" --list-devices | python3 -c "import json,sys; d=[x for x in json.load(sys.stdin) if x['backend']=='$BACKEND']; print(d[0]['identity'] if d else 'none')")"
spec random ""
run "random" "$BUILD"
REF=$(cat /tmp/stp_last)
if [ -n "$BASE" ]; then run "random (base build)" "$BASE"; fi
for a in $AHEADS; do
    if [ "$a" = default ]; then   # the ask-ahead the spec resolves to from its budget
        spec auto ""
        run "auto (default ask-ahead)" "$BUILD"
        continue
    fi
    spec auto ", \"ask_ahead\": $a"
    run "auto ask_ahead $a" "$BUILD"
done
spec random ""
run "random (again)" "$BUILD"
