#!/bin/sh
# best_load.sh - `best` throughput and latency of fairwayd (issue 15 item 13: the goal is >= 50,000
# requests/s on one core and p99 < 2 ms with 100 clients).
# Starts a daemon on a fresh store, tunes one small gemm shape (PoCL/OpenCL: budget 3) so that best has
# an answer, then runs benchmarks/best_load with 1 client and with 100 (closed loop, one request in
# flight each) and prints its lines: requests/s, latency percentiles, the daemon's CPU per request.
#
# usage: benchmarks/best_load.sh [--build DIR] [--seconds S] [--clients "1 100"]
set -eu
BUILD=build SECONDS_RUN=5 CLIENTS="1 100"
while [ $# -gt 0 ]; do
    case "$1" in
        --build) BUILD=$2; shift 2 ;;
        --seconds) SECONDS_RUN=$2; shift 2 ;;
        --clients) CLIENTS=$2; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "best_load.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
T=$(mktemp -d)
trap 'kill "$dp" 2>/dev/null || true; rm -rf "$T"' EXIT
cat > "$T/spec.json" <<SPEC
{"profile": "gemm_small", "shapes": [{"M": 64, "N": 64, "K": 64}], "budget": 3, "seed": 1, "warmup": 1, "iters": 3}
SPEC
FAIRWAY_WORKER=$BUILD/bench/worker/fairway-worker "$BUILD/daemon/fairwayd" --socket "$T/s.sock" --db "$T/d.db" \
    --log "$T/d.log" --max-clients 1000 &
dp=$!
i=0
while [ ! -S "$T/s.sock" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
if ! "$BUILD/cli/fairway" --socket "$T/s.sock" --no-start --json tune --spec "$T/spec.json" > "$T/tune.json"; then
    echo "best_load.sh: the tune that gives best an answer failed:" >&2
    cat "$T/tune.json" >&2; tail -5 "$T/d.log" >&2
    exit 1
fi
for c in $CLIENTS; do
    "$BUILD/benchmarks/best_load" --socket "$T/s.sock" --clients "$c" --seconds "$SECONDS_RUN" --pid "$dp" \
        --shape K=64,M=64,N=64
done
