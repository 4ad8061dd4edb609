#!/bin/bash
# h100_proto.sh - does the Hopper advice for moe_swiglu pay? A prototype decode kernel (below, same
# bindings as moe_trellis_swiglu_decode, run through the user-kernel path "source.text" so the
# family's workload, geometry and reference judge it) against the family's own decode kernel, on
# the profile's decode shapes, in the same run. The prototype keeps CH = 8 tiles of 4-byte code
# windows in flight per lane, splits hidden K over every warp of the block, decodes in registers
# and has no shared-memory staging loop.
#
# usage (repo root, on the GPU machine): benchmarks/h100_proto.sh [BUILD_DIR] [OUT_DIR]
set -u
B=${1:-build-dev}
O=${2:-${OUT:-/tmp/fairway-proto}}
mkdir -p "$O"
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
W=$B/bench/worker/fairway-worker
cat > /tmp/proto.cu <<'CU'
/* Prototype decode kernel for the moe_swiglu workload (same bindings as moe_trellis_swiglu_decode),
 * written to test the Hopper advice: many independent loads in flight per thread, hidden K split
 * across every warp of the block, codes decoded in registers, no shared-memory staging loop.
 * One block = (16 intermediate columns, one routed slot); TILE_N must be 16. */
#ifndef TILE_N
#define TILE_N 16
#endif
#ifndef SIMDGROUPS_PER_TG
#define SIMDGROUPS_PER_TG 8
#endif
#ifndef SG_M_TILES
#define SG_M_TILES 1
#endif
#ifndef SG_N_TILES
#define SG_N_TILES 1
#endif
#ifndef NUM_BUFFERS
#define NUM_BUFFERS 2
#endif
#define PH 2048
#define NW SIMDGROUPS_PER_TG
#define KPW ((PH / 16) / NW)
#define TPW ((PH / 16) / NW)
/* NUM_BUFFERS sets the depth: CH = 8 * (NUM_BUFFERS - 1) tiles of loads in flight per lane. */
#define CH (8 * (NUM_BUFFERS - 1))
#if TILE_N != 16 || NUM_BUFFERS < 2 || (KPW % CH) != 0
#error "prototype: TILE_N must be 16 and (2048/16)/SIMDGROUPS_PER_TG a multiple of 8 * (NUM_BUFFERS - 1)"
#endif
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned long long u64;
struct MoEParams { u32 batch, hidden, intermediate, num_experts, top_k, gate_bits, up_bits, down_bits,
                   tile_size, gate_n_levels, up_n_levels, down_n_levels; };

static __device__ __forceinline__ float h2f(u16 b) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(b)); return f; }

/* The 8*b bits at bit `pos` of a tile's little-endian word stream, shifted down to bit 0. */
static __device__ __forceinline__ u64 window(const u32 *__restrict__ w, u32 pos, u32 b)
{
    const u32 i = pos >> 5;
    u64 v = __ldg(w + i);
    if ((pos & 31u) + 8u * b > 32u)
        v |= (u64)__ldg(w + i + 1) << 32;
    return v >> (pos & 31u);
}

extern "C" __global__ void __launch_bounds__(32 * NW) proto_decode(
    const u16 *__restrict__ act, const u32 *__restrict__ gw, const u16 *__restrict__ gs,
    const u32 *__restrict__ uw, const u16 *__restrict__ us, const u32 *__restrict__ dw,
    const u16 *__restrict__ ds, const u16 *__restrict__ gsu, const u16 *__restrict__ gsv,
    const u16 *__restrict__ usu, const u16 *__restrict__ usv, const u16 *__restrict__ dsu,
    const u16 *__restrict__ dsv, const u16 *__restrict__ grid,
    const u32 *__restrict__ ids, const u16 *__restrict__ probs, float *out, MoEParams p,
    const u32 *__restrict__ meta)
{
    __shared__ float xg[PH], xu[PH];
    __shared__ float gl[64];
    __shared__ float redg[NW][16], redu[NW][16];
    __shared__ float hd[16];
    const u32 tid = threadIdx.x, lane = tid & 31u, w = tid >> 5;
    const u32 slot = blockIdx.y, c = blockIdx.x;
    const u32 I = p.intermediate;
    if (p.hidden != PH || slot >= p.batch * p.top_k)
        return;
    const u32 e = ids[slot];
    if (e >= p.num_experts)
        return;
    const u32 t = slot / p.top_k;
    const u32 gb = meta[e * 8u], ub = meta[e * 8u + 1u], db = meta[e * 8u + 2u];
    const u32 *gwe = gw + meta[e * 8u + 4u] / 4u;
    const u32 *uwe = uw + meta[e * 8u + 5u] / 4u;
    const u32 *dwe = dw + meta[e * 8u + 6u] / 4u;
    for (u32 i = tid; i < 64u; i += 32u * NW)
        gl[i] = h2f(grid[i]);
    for (u32 k = tid; k < PH; k += 32u * NW) {
        const float x = h2f(act[t * PH + k]);
        xg[k] = x * h2f(gsu[e * PH + k]);
        xu[k] = x * h2f(usu[e * PH + k]);
    }
    __syncthreads();

    /* Phase 1: lane = (column nin of the 16, half of the 16 k rows of a tile); warp w owns tile
     * rows [w*KPW, (w+1)*KPW) of hidden, CH tiles of gate and up loaded before any is used. */
    const u32 nin = lane >> 1, half = lane & 1u, n = c * 16u + nin;
    const u32 tiles_n = I / 16u;
    const u32 gpos = lane * 8u * gb, upos = lane * 8u * ub;
    const u32 gm = (1u << gb) - 1u, um = (1u << ub) - 1u;
    float accg = 0.0f, accu = 0.0f;
    for (u32 ch = 0; ch < KPW; ch += CH) {
        const u32 kt0 = w * KPW + ch;
        u64 wg[CH], wu[CH];
#pragma unroll
        for (int i = 0; i < CH; i++) {
            wg[i] = window(gwe + ((kt0 + i) * tiles_n + c) * 8u * gb, gpos, gb);
            wu[i] = window(uwe + ((kt0 + i) * tiles_n + c) * 8u * ub, upos, ub);
        }
        /* 8 tiles = 128 rows = one scale group */
        float sg[CH / 8], su[CH / 8];
#pragma unroll
        for (int q = 0; q < CH / 8; q++) {
            sg[q] = h2f(gs[(e * (PH / 128u) + kt0 / 8u + q) * I + n]);
            su[q] = h2f(us[(e * (PH / 128u) + kt0 / 8u + q) * I + n]);
        }
#pragma unroll
        for (int q = 0; q < CH / 8; q++) {
            float pg = 0.0f, pu = 0.0f;
#pragma unroll
            for (int i = q * 8; i < q * 8 + 8; i++) {
                const u32 k0 = (kt0 + i) * 16u + half * 8u;
#pragma unroll
                for (int j = 0; j < 8; j++) {
                    pg += gl[(u32)(wg[i] >> (j * gb)) & gm] * xg[k0 + j];
                    pu += gl[(u32)(wu[i] >> (j * ub)) & um] * xu[k0 + j];
                }
            }
            accg += pg * sg[q];
            accu += pu * su[q];
        }
    }
    accg += __shfl_xor_sync(0xffffffffu, accg, 1);
    accu += __shfl_xor_sync(0xffffffffu, accu, 1);
    if (half == 0u) {
        redg[w][nin] = accg;
        redu[w][nin] = accu;
    }
    __syncthreads();
    if (tid < 16u) {
        float g = 0.0f, u = 0.0f;
        for (int i = 0; i < NW; i++) {
            g += redg[i][tid];
            u += redu[i][tid];
        }
        const u32 nn = c * 16u + tid;
        g *= h2f(gsv[e * I + nn]);
        u *= h2f(usv[e * I + nn]);
        hd[tid] = g / (1.0f + expf(-g)) * u * h2f(dsu[e * I + nn]);
    }
    __syncthreads();

    /* Phase 2: the 16 down rows of this chunk times every hidden column; warp w owns output
     * tiles [w*TPW, (w+1)*TPW), CH at a time, loads first. */
    const float prob = h2f(probs[slot]);
    const u32 tiles_nd = PH / 16u;
    const u32 dpos = lane * 8u * db, dm = (1u << db) - 1u;
    float hk[8];
#pragma unroll
    for (int j = 0; j < 8; j++)
        hk[j] = hd[half * 8u + j];
    for (u32 ch = 0; ch < TPW; ch += CH) {
        const u32 tn0 = w * TPW + ch;
        u64 wd[CH];
        float sc[CH], sv[CH];
#pragma unroll
        for (int i = 0; i < CH; i++) {
            const u32 nn = (tn0 + i) * 16u + nin;
            wd[i] = window(dwe + (c * tiles_nd + tn0 + i) * 8u * db, dpos, db);
            sc[i] = h2f(ds[(e * (I / 128u) + (c * 16u) / 128u) * PH + nn]);
            sv[i] = h2f(dsv[e * PH + nn]);
        }
#pragma unroll
        for (int i = 0; i < CH; i++) {
            float s = 0.0f;
#pragma unroll
            for (int j = 0; j < 8; j++)
                s += gl[(u32)(wd[i] >> (j * db)) & dm] * hk[j];
            s += __shfl_xor_sync(0xffffffffu, s, 1);
            if (half == 0u)
                atomicAdd(out + t * PH + (tn0 + i) * 16u + nin, prob * s * sc[i] * sv[i]);
        }
    }
}
CU
python3 - <<'PY'
import json
shapes = [{"tokens": 1, "hidden": 2048, "intermediate": 1536, "experts": 64, "top_k": 4, "bits": "glm47"},
          {"tokens": 1, "hidden": 2048, "intermediate": 1536, "experts": 64, "top_k": 4, "bits": [6, 3, 4]}]
common = {"family": "moe_swiglu", "backend": "cuda", "shapes": shapes, "strategy": "grid", "seed": 1,
          "warmup": 10, "iters": 50}
proto = dict(common, space={"knobs": {"TILE_N": [16], "SIMDGROUPS_PER_TG": [4, 8], "SG_M_TILES": [1],
                                      "SG_N_TILES": [1], "NUM_BUFFERS": [2, 3, 5]},
                            "constraints": ["intermediate % TILE_N == 0"]},
             source={"text": open("/tmp/proto.cu").read(), "entry": "proto_decode", "workload": "moe_swiglu",
                     "name": "proto.cu"})
family = dict(common, strategy="presets",
              space={"knobs": {"TILE_N": [16, 64], "SIMDGROUPS_PER_TG": [4, 8], "SG_M_TILES": [1],
                               "SG_N_TILES": [1, 4], "NUM_BUFFERS": [2]},
                     "constraints": ["intermediate % TILE_N == 0"]},
              presets=[{"TILE_N": 64, "SIMDGROUPS_PER_TG": 4, "SG_M_TILES": 1, "SG_N_TILES": 1, "NUM_BUFFERS": 2},
                       {"TILE_N": 16, "SIMDGROUPS_PER_TG": 8, "SG_M_TILES": 1, "SG_N_TILES": 4, "NUM_BUFFERS": 2}])
json.dump(proto, open("/tmp/proto.json", "w"))
json.dump(family, open("/tmp/family.json", "w"))
PY
for job in proto family; do
    echo "=== $job ($(date -u +%H:%M:%S))"
    timeout 150 $W --spec /tmp/$job.json --backend cuda > "$O/$job.jsonl"
    echo "worker rc=$?"
done
python3 - "$O/proto.jsonl" "$O/family.jsonl" <<'PY' | tee "$O/proto.txt"
import json, sys
for fn in sys.argv[1:]:
    for l in open(fn):
        r = json.loads(l)
        if "seq" not in r or "status" not in r: continue
        st = r.get("stats") or {}
        med = st.get("median_ns")
        print(f"{fn.split('/')[-1]:13} {r['shape_key'].split(',')[0]:11} {r['variant_key']:70} {r['status']:13} "
              + (f"{med/1e3:8.1f} us {r['bytes']/med:6.0f} GB/s {100*r['bytes']/med/3027:5.1f}% of copy" if med else "")
              + f"  rel_err={(r.get('verify') or {}).get('rel_err')} regs={(r.get('resources') or {}).get('registers')}"
              + (f"  error={(r.get('error') or '')[:300]!r}" if r['status'] != 'ok' else ""))
PY
echo "=== ncu on the prototype ($(date -u +%H:%M:%S))"
python3 -c 'import json; s=json.load(open("/tmp/proto.json")); s["shapes"]=s["shapes"][:1]; s["space"]["knobs"]["SIMDGROUPS_PER_TG"]=[8]; s["space"]["knobs"]["NUM_BUFFERS"]=[2]; s["iters"]=1; s["warmup"]=0; json.dump(s, open("/tmp/proto1.json","w"))'
timeout 90 ncu --csv --print-units base --kernel-name proto_decode --launch-count 1 \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__warps_active.avg.pct_of_peak_sustained_active,smsp__warp_issue_stalled_long_scoreboard_per_warp_active.pct,launch__registers_per_thread \
    $W --spec /tmp/proto1.json --backend cuda 2>&1 | grep -E '^"[0-9]' | awk -F'","' '{print $(NF-2), $NF}' | tee "$O/proto_ncu.txt"
