#!/bin/bash
# usage: put two builds at .device/build-old and .device/build-ovh (e.g. main before and after a change),
# then run from the repo root on the GPU machine; prints medians of 3 alternated runs of each.
# issue 20: old (0c4fc39) and new worker side by side, same 200 warm gemm variants at 1024^3
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib
T=/tmp/sbs; rm -rf $T; mkdir -p $T
for cfg in plain default; do
 if [ $cfg = plain ]; then opt='"options": {"early_stop": false, "finalists": 0},'; else opt=''; fi
 cat > $T/spec_$cfg.json <<SPEC
{"family": "gemm", "shapes": [{"M": 1024, "N": 1024, "K": 1024}], "strategy": "random", "budget": 200, "seed": 1, $opt
 "warmup": 1, "iters": 5, "backend": "cuda"}
SPEC
done
sed 's/"budget": 200/"budget": 1/' $T/spec_plain.json > $T/spec_one.json
run() { n=$1; shift; t0=$(date +%s.%N); "$@" > $T/$n.jsonl 2> $T/$n.err; rc=$?; t1=$(date +%s.%N)
  echo "$n $(python3 -c "print(f'{$t1-$t0:.3f}')") rc=$rc recs=$(grep -c '\"seq\"' $T/$n.jsonl)" | tee -a $T/walls.txt; }
.device/build-old/bench/worker/fairway-worker --spec $T/spec_plain.json --cache-dir $T/c_old > /dev/null 2>&1
.device/build-ovh/bench/worker/fairway-worker --spec $T/spec_plain.json --cache-dir $T/c_new > /dev/null 2>&1
for r in 1 2 3; do
 for v in old ovh; do
  W=.device/build-$v/bench/worker/fairway-worker; C=$T/c_$v; [ $v = ovh ] && C=$T/c_new
  run ${v}_one_$r $W --spec $T/spec_one.json --cache-dir $C
  run ${v}_plain_$r $W --spec $T/spec_plain.json --cache-dir $C
  run ${v}_default_$r $W --spec $T/spec_default.json --cache-dir $C
 done
done
python3 - <<'PY'
import collections, statistics as st
w=collections.defaultdict(list)
for l in open("/tmp/sbs/walls.txt"):
    n,t,*_=l.split(); v,cfg,_r=n.split("_"); w[(v,cfg)].append(float(t))
for cfg in ["one","plain","default"]:
    o=st.median(w[("old",cfg)]); n=st.median(w[("ovh",cfg)])
    extra = "" if cfg=="one" else f"  old {60*200/o:.0f}/min new {60*200/n:.0f}/min"
    print(f"{cfg:<8} old {o:.3f}s new {n:.3f}s  ratio old/new {o/n:.2f}{extra}")
PY
tar czf "${OUT:-/tmp}/sbs.tgz" --exclude=c_old --exclude=c_new -C /tmp sbs
