#!/bin/bash
# h100_wide.sh - follow-up to h100_profile.sh: the profile's best variants all sat at the edge of
# its space (TILE_N 64 = smallest, SIMDGROUPS_PER_TG 4 = largest), so tune four of its shapes over
# a wider space (TILE_N 16..64, 4..16 SIMD groups) on the grid (the grid holds the decode policy
# point TILE_N 64, 4 SIMD groups, SG_N_TILES 1, NUM_BUFFERS 2 as the baseline); then every preset of the
# profile under compute-sanitizer memcheck with the records kept.
#
# usage (repo root, on the GPU machine): benchmarks/h100_wide.sh [BUILD_DIR] [OUT_DIR]
set -u
B=${1:-build-dev}
O=${2:-${OUT:-/tmp/fairway-wide}}
mkdir -p "$O"
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
W=$B/bench/worker/fairway-worker
step() { echo; echo "=== $* ($(date -u +%H:%M:%S), ${SECONDS}s)"; }

step wide space
cat > /tmp/wide.json <<'JSON'
{"family": "moe_swiglu", "backend": "cuda", "strategy": "grid", "warmup": 10, "iters": 50, "seed": 1,
 "shapes": [
  {"tokens": 1, "hidden": 2048, "intermediate": 1536, "experts": 64, "top_k": 4, "bits": "glm47"},
  {"tokens": 4, "hidden": 2048, "intermediate": 1536, "experts": 64, "top_k": 4, "bits": "glm47"},
  {"tokens": 24, "hidden": 2048, "intermediate": 1536, "experts": 64, "top_k": 4, "mode": "grouped", "bits": "glm47"},
  {"tokens": 256, "hidden": 2048, "intermediate": 1536, "experts": 64, "top_k": 4, "bits": "glm47"}],
 "space": {
  "knobs": {"TILE_N": [16, 32, 64], "SIMDGROUPS_PER_TG": [4, 8, 16], "SG_M_TILES": [1, 2],
            "SG_N_TILES": [1, 4], "NUM_BUFFERS": [2]},
  "constraints": [
   "intermediate % TILE_N == 0",
   "tokens > 1 || SG_M_TILES == 1",
   "TILE_N * SG_M_TILES <= 64 * SIMDGROUPS_PER_TG * SG_N_TILES",
   "32 * SIMDGROUPS_PER_TG <= DEVICE_MAX_THREADS",
   "4 * (16 * SG_M_TILES * TILE_N + NUM_BUFFERS * (128 * SG_M_TILES + 32 + 6 * TILE_N) + 66 + 16 * SG_M_TILES) <= DEVICE_SHARED_BYTES"]}}
JSON
timeout 300 $W --spec /tmp/wide.json --backend cuda > "$O/wide.jsonl"
echo "worker rc=$?"
python3 - "$O/wide.jsonl" <<'PY' | tee "$O/wide.txt"
import json, sys, collections
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
summ = next((r["summary"] for r in recs if "summary" in r), None)
recs = [r for r in recs if "seq" in r and "status" in r]   # not the summary or finalists lines
by = collections.OrderedDict()
for r in recs: by.setdefault(r["shape_key"], []).append(r)
for k, rs in by.items():
    ok = sorted([r for r in rs if r["status"] == "ok"], key=lambda r: r["stats"]["median_ns"])
    print(k.replace("experts=64,hidden=2048,intermediate=1536,", ""), f"{len(ok)} ok of {len(rs)}",
          dict(collections.Counter(r["status"] for r in rs if r["status"] != "ok")))
    for r in ok[:5]:
        print(f"   {r['stats']['median_ns']/1e3:8.1f} us {r['bytes']/r['stats']['median_ns']:6.0f} GB/s  "
              f"{r['variant_key']}  grid={r['geometry']['grid']} regs={r['resources']['registers']}")
    bad = next((r for r in rs if r["status"] not in ("ok",)), None)
    if bad: print("   first not ok:", bad["variant_key"], (bad.get("error") or "")[:200])
if summ: print(f"{summ['evaluated']} evaluated in {summ['wall_s']:.0f} s, compiling {summ['compile_s']:.0f} s")
PY

step memcheck of every preset of the profile
export FAIRWAY_CUDA_LINEINFO=1
timeout 240 compute-sanitizer --tool memcheck --print-limit 30 --log-file "$O/memcheck.txt" \
    $W --spec - --backend cuda > "$O/memcheck.jsonl" \
    <<< '{"profile": "mixed_bpw_fairway_glm47", "backend": "cuda", "strategy": "presets", "warmup": 0, "iters": 1}'
echo "memcheck rc=$?"
python3 - "$O/memcheck.jsonl" <<'PY'
import json, sys, collections
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
summ = next((r["summary"] for r in recs if "summary" in r), None)
recs = [r for r in recs if "seq" in r and "status" in r]   # not the summary or finalists lines
print(len(recs), "records:", dict(collections.Counter(r["status"] for r in recs)), "summary:", bool(summ))
for r in recs:
    if r["status"] != "ok": print("  not ok:", r["shape_key"], r["variant_key"], r["status"], (r.get("error") or "")[:300])
PY
grep -E "ERROR SUMMARY|Invalid|out of bounds|misaligned|Program hit" "$O/memcheck.txt" | sort | uniq -c | head
