#!/bin/bash
# usage (repo root, on the GPU machine, libraries in .device/lib): BUILD=build-dev benchmarks/overhead.sh
# Stage times come from the records' stages_ms (docs/worker-protocol.md).
# issue 20: where do the ~20 ms per warm variant go? same 200 gemm variants at 1024^3, several paths.
set -u
B=${BUILD:-build-dev}; W=$B/bench/worker/fairway-worker; D=$B/daemon/fairwayd; C=$B/cli/fairway
export LD_LIBRARY_PATH=$PWD/.device/lib
T=/tmp/ovh; rm -rf $T; mkdir -p $T/xdg; export XDG_CACHE_HOME=$T/xdg
CACHE=$T/xdg/fairway/compile
mk() { cat > $T/spec$1.json <<SPEC
{"family": "gemm", "shapes": [{"M": 1024, "N": 1024, "K": 1024}], "strategy": "random", "budget": 200, "seed": 1,
 "warmup": 1, "iters": $1, "backend": "cuda", "options": {"early_stop": false, "finalists": 0}}
SPEC
}
mk 5; mk 50; mk 1
sed 's/"budget": 200/"budget": 1/' $T/spec5.json > $T/spec_one.json
run() { n=$1; shift; t0=$(date +%s.%N); "$@" > $T/$n.jsonl 2> $T/$n.err; rc=$?; t1=$(date +%s.%N)
  echo "$n $(python3 -c "print(f'{$t1-$t0:.2f}')") s rc=$rc recs=$(grep -c '\"seq\"' $T/$n.jsonl)" | tee -a $T/walls.txt; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm --format=csv,noheader
run cold_pool $W --spec $T/spec5.json --cache-dir $CACHE
for r in 1 2; do
run one_$r $W --spec $T/spec_one.json --cache-dir $CACHE
run warm5_nodb_$r $W --spec $T/spec5.json --cache-dir $CACHE
run warm50_nodb_$r $W --spec $T/spec50.json --cache-dir $CACHE
run warm1_nodb_$r $W --spec $T/spec1.json --cache-dir $CACHE
run warm5_seq_$r $W --spec $T/spec5.json --cache-dir $CACHE --compile-threads 0
done
# daemon path, store on /tmp and on /dev/shm
for where in $T /dev/shm; do
  rm -f $where/d.db* $T/s.sock
  $D --socket $T/s.sock --db $where/d.db --log $T/d.log & dp=$!
  for i in $(seq 100); do [ -S $T/s.sock ] && break; sleep 0.1; done
  tag=$(basename $where)
  run daemon5_$tag $C --socket $T/s.sock --no-start --json tune --spec $T/spec5.json
  run daemon5b_$tag $C --socket $T/s.sock --no-start --json tune --spec $T/spec5.json
  kill $dp; wait $dp
done
python3 - <<'PY'
import sqlite3, time, os
for path in ["/tmp/ovh/bench.db", "/dev/shm/bench.db"]:
  for sync in ["FULL", "NORMAL"]:
    for f in [path, path+"-wal", path+"-shm"]:
      if os.path.exists(f): os.remove(f)
    db = sqlite3.connect(path, isolation_level=None); db.execute("PRAGMA journal_mode=WAL"); db.execute(f"PRAGMA synchronous={sync}")
    db.execute("CREATE TABLE m(id INTEGER PRIMARY KEY, a TEXT, b REAL)"); db.execute("CREATE TABLE s(m INT, i INT, ns INT)")
    t = time.perf_counter()
    for i in range(200):
      db.execute("BEGIN"); db.execute("INSERT INTO m(a,b) VALUES (?,?)", ("x"*400, 1.0))
      db.executemany("INSERT INTO s VALUES (?,?,?)", [(i, j, 123456) for j in range(5)]); db.execute("COMMIT")
    print(f"sqlite {path} synchronous={sync}: {(time.perf_counter()-t)/200*1e3:.3f} ms per commit")
PY
python3 - <<'PY'
import json, glob, statistics as st
for f in sorted(glob.glob("/tmp/ovh/*.jsonl")):
    recs=[]; 
    for l in open(f):
        try: o=json.loads(l)
        except ValueError: continue
        if "seq" in o: recs.append(o)
    if not recs: continue
    keys=[k for k in recs[0] if k.endswith("_ms")]
    stg={}
    for r in recs:
        for k,v in (r.get("stages_ms") or {}).items(): stg[k]=stg.get(k,0)+v/len(recs)
    s=" ".join(f"{k}={st.mean([r.get(k) or 0 for r in recs]):.2f}" for k in keys)
    med=st.mean([ (r.get("stats") or {}).get("median_ns",0) for r in recs])/1e6
    print(f"{f.split('/')[-1]:<22} n={len(recs)} {s} mean_median_ms={med:.3f} status={ {x: sum(r['status']==x for r in recs) for x in set(r['status'] for r in recs)} }")
    print("   stages(mean ms): " + " ".join(f"{k}={v:.3f}" for k,v in stg.items()) + f" sum={sum(stg.values()):.2f}")
print(json.dumps({k:v for k,v in json.loads(open('/tmp/ovh/warm5_nodb_1.jsonl').readlines()[0]).items() if k not in ('samples_ns',)}, indent=None)[:1500])
PY
python3 - <<'PY2'
import sqlite3, json
db = sqlite3.connect("/dev/shm/d.db")
for job, in db.execute("SELECT DISTINCT job FROM measurements"):
    stg = {}; n = 0
    for rec, in db.execute("SELECT record FROM measurements WHERE job=?", (job,)):
        r = json.loads(rec); n += 1
        for k, v in (r.get("stages_ms") or {}).items(): stg[k] = stg.get(k, 0) + v
    print(f"daemon job {job} n={n} stages(mean ms): " + " ".join(f"{k}={v/n:.3f}" for k, v in stg.items()) + f" sum={sum(stg.values())/n:.2f}")
PY2
cat $T/walls.txt
tar czf "${OUT:-/tmp}/ovh.tgz" --exclude=xdg -C /tmp ovh
