#!/bin/bash
# usage (repo root): benchmarks/overhead_pocl.sh BASE_BUILD NEW_BUILD [ROUNDS] [NEW_OPTIONS]
# NEW_OPTIONS: more spec options for the new build only, e.g. '"verify_on_device": true,'.
# issue 20 on a CPU OpenCL device (PoCL): the per-variant stages (records' stages_ms) of two builds'
# fairway-worker, side by side in one run, alternated ROUNDS times (default 3) on the same job:
# 12 gemm variants at M=N=1024, K=256 (1M f32 outputs, 2 MiB of inputs), warm compile cache,
# warmup 0, iters 2, no early stop, no finalists. Prints the median over rounds of each stage's mean
# (the first variant, which compiles the compare kernel and makes the device copies, is left out).
set -u
BASE=$1; NEW=$2; ROUNDS=${3:-3}; NEWOPT=${4:-}
T=$(mktemp -d /tmp/fw-ovh-pocl-XXXXXX); trap 'rm -rf "$T"' EXIT
cat > $T/spec.json <<SPEC
{"family": "gemm", "shapes": [{"M": 1024, "N": 1024, "K": 256}], "strategy": "random", "budget": 12, "seed": 1,
 "warmup": 0, "iters": 2, "backend": "opencl", "options": {"early_stop": false, "finalists": 0}}
SPEC
sed "s/\"options\": {/\"options\": {$NEWOPT /" $T/spec.json > $T/spec_new.json
spec() { [ "$1" = "$NEW" ] && echo $T/spec_new.json || echo $T/spec.json; }
for b in $BASE $NEW; do $b/bench/worker/fairway-worker --spec $(spec $b) --cache-dir $T/cache-$(basename $b) > /dev/null; done
for r in $(seq $ROUNDS); do
  for b in $BASE $NEW; do
    t0=$(date +%s.%N)
    $b/bench/worker/fairway-worker --spec $(spec $b) --cache-dir $T/cache-$(basename $b) > $T/$(basename $b).$r.jsonl
    echo "$(basename $b) $r $(python3 -c "print($(date +%s.%N)-$t0)")" >> $T/walls
  done
done
python3 - "$T" "$BASE" "$NEW" "$ROUNDS" <<'PY'
import json, sys, statistics as st, os
T, base, new, rounds = sys.argv[1], os.path.basename(sys.argv[2]), os.path.basename(sys.argv[3]), int(sys.argv[4])
walls = {}
for l in open(T + "/walls"):
    b, r, w = l.split(); walls.setdefault(b, []).append(float(w))
res = {}
for b in (base, new):
    per = {}
    for r in range(1, rounds + 1):
        recs = [json.loads(l) for l in open("%s/%s.%d.jsonl" % (T, b, r)) if l.startswith('{"seq"')][1:]
        for k in recs[0]["stages_ms"]:
            per.setdefault(k, []).append(st.mean(x["stages_ms"].get(k, 0) for x in recs))
        on = {x.get("verify", {}).get("compared_on", "host") for x in recs}
        status = {x["status"] for x in recs}
    res[b] = ({k: st.median(v) for k, v in per.items()}, on, status)
keys = list(res[base][0])
print("stage (mean ms per variant, median of %d rounds) | %s | %s | ratio" % (rounds, base, new))
for k in keys + ["sum_without_timing"]:
    f = lambda b: res[b][0].get(k, 0) if k != "sum_without_timing" else sum(v for kk, v in res[b][0].items() if kk != "timing")
    a, n = f(base), f(new)
    print("%-20s %9.3f %9.3f %6.2fx" % (k, a, n, a / n if n else float("inf")))
print("wall s (median): %s %.2f, %s %.2f" % (base, st.median(walls[base]), new, st.median(walls[new])))
print("compared_on:", base, res[base][1], new, res[new][1], "statuses:", res[base][2], res[new][2])
PY
