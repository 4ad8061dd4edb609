#!/bin/bash
# usage (repo root, on the GPU machine, libraries in .device/lib): BUILD=build-dev benchmarks/overhead_verify.sh
# issue 20: one build's stages_ms with the comparison on the device against on the host
# (options.verify_on_device true / false), same job alternated 3 times: 60 gemm variants at 1024^3
# and 60 at 200x136x72, warmup 1, iters 5, warm cache, no early stop, no finalists. Also runs
# bench_devcompare (device comparison against the host's on planted outputs, every backend).
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib
B=${BUILD:-build-dev}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
$B/tests/bench/test_bench_devcompare; echo "devcompare rc=$?"
T=/tmp/ovh-verify; rm -rf $T; mkdir -p $T
for v in true false; do
cat > $T/s_$v.json <<SPEC
{"family": "gemm", "shapes": [{"M": 1024, "N": 1024, "K": 1024}, {"M": 200, "N": 136, "K": 72}], "strategy": "random",
 "budget": 60, "seed": 1, "warmup": 1, "iters": 5, "backend": "cuda",
 "options": {"early_stop": false, "finalists": 0, "verify_on_device": $v}}
SPEC
done
$B/bench/worker/fairway-worker --spec $T/s_true.json --cache-dir $T/c > /dev/null 2>&1
for r in 1 2 3; do for v in true false; do
  t0=$(date +%s.%N); $B/bench/worker/fairway-worker --spec $T/s_$v.json --cache-dir $T/c > $T/$v.$r.jsonl 2> $T/$v.$r.err
  echo "$v $r rc=$? $(python3 -c "print($(date +%s.%N)-$t0)") s"
done; done
python3 - <<'PY'
import json, statistics as st
res = {}
for v in ("true", "false"):
    per = {}
    for r in (1, 2, 3):
        recs = [json.loads(l) for l in open(f"/tmp/ovh-verify/{v}.{r}.jsonl") if l.startswith('{"seq"')]
        big = [x for x in recs if x["shape_index"] == 0][1:]
        for k in big[0]["stages_ms"]:
            per.setdefault(k, []).append(st.mean(x["stages_ms"].get(k, 0) for x in big))
        res[(v, r)] = recs
    print("verify_on_device", v, " ".join(f"{k}={st.median(x):.3f}" for k, x in per.items()),
          "sum=%.3f" % sum(st.median(x) for x in per.values()))
a, b = res[("true", 1)], res[("false", 1)]
same = all(x["status"] == y["status"] and x.get("verify", {}).get("unwritten") == y.get("verify", {}).get("unwritten")
           and x.get("verify", {}).get("nonfinite") == y.get("verify", {}).get("nonfinite") for x, y in zip(a, b))
d = max(abs(x["verify"]["rel_err"] - y["verify"]["rel_err"]) / max(y["verify"]["rel_err"], 1e-300)
        for x, y in zip(a, b) if "verify" in x and "verify" in y)
print("records", len(a), len(b), "same statuses/counts:", same, "max rel diff rel_err:", d,
      "compared_on:", {x.get("verify", {}).get("compared_on") for x in a}, {x.get("verify", {}).get("compared_on") for x in b})
PY
