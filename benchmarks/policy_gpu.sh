#!/bin/bash
# usage (repo root, on the GPU machine, libraries in .device/lib): bash benchmarks/policy_gpu.sh BUILD OUT
# The measurements `fairway policy` derives a kernel-selection policy from (issue 13): the
# mixed_bpw_fairway_glm47 layer over token counts 1..128, each in the modes small, base and large
# (1: decode), at the profile's presets (their four policy configs among them), on CUDA. The store
# comes back as OUT/fw.db; `fairway policy 1` reads it anywhere: a daemon started on a copy
# (FAIRWAY_DB=copy fairway --socket S policy 1; set the copy's job state to cancelled first when the
# DEADLINE stopped it, or that daemon resumes it on its own device). fairway's moe_swiglu runs one body
# for small, base and large: `policy 1 --same-body small,base,large` pools them, so the run-to-run
# drift between those entries makes no boundary (docs/cli.md, "policy").
set -u
B=${1:-build-dev}; OUT=${2:-/tmp/pol}
export LD_LIBRARY_PATH=$PWD/.device/lib FAIRWAY_DB=$OUT/fw.db HOME=$OUT
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
L="hidden=2048,intermediate=1536,experts=64,top_k=4,bits=glm47"
A="--shape tokens=1,$L"
for t in ${TOKENS:-2 4 8 16 32 64 128}; do for m in small base large; do A="$A --shape tokens=$t,mode=$m,$L"; done; done
timeout ${DEADLINE:-360} $B/cli/fairway --socket "$OUT/s.sock" tune --profile mixed_bpw_fairway_glm47 $A --strategy presets \
  --backend cuda --warmup ${WARMUP:-5} --iters ${ITERS:-30} --random-seed 1 --json > "$OUT/job.json" 2> "$OUT/tune.err"
echo "tune rc=$?"; tail -c 400 "$OUT/tune.err"
$B/cli/fairway --socket "$OUT/s.sock" shutdown
