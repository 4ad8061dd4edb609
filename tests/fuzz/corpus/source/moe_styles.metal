// A test kernel that reproduces the declaration styles of metal-marlin's gemm_trellis_moe.metal
// (written for fairway's tests; not their code). Line numbers are asserted by test_transform.c.
#include <metal_stdlib>
using namespace metal;

#ifndef MOE_SIMDGROUPS_CONFIG
#define MOE_SIMDGROUPS_CONFIG 4
#endif

constant constexpr uint MOE_TILE_N = 64;
constant constexpr uint MOE_TILE_N_LARGE = 128;   // MOE_TILE_N = 999 in a comment is not a declaration
constant constexpr uint MOE_TILE_K = 16u;
constant constexpr uint DECODE_TILE_N = 0x40;
/* constant constexpr uint DECODE_THREADS = 256; (commented out) */
constant constexpr uint DECODE_THREADS = 128;
const int C_STYLE_TILE = 32;
#define DEFINE_TILE 8
constant constexpr uint DERIVED = MOE_TILE_N * 2;
#if defined(WIDE)
constant constexpr uint DUP_TILE = 64;
#else
constant constexpr uint DUP_TILE = 32;
#endif

kernel void moe_decode(device const half *a [[buffer(0)]],
                       device float *out [[buffer(1)]],
                       constant uint &MISSING_TILE [[buffer(2)]],
                       uint tid [[thread_position_in_threadgroup]])
{
    threadgroup float tile[MOE_TILE_N];
    const uint local = MOE_TILE_N + C_STYLE_TILE;
    tile[tid] = float(a[tid]) * float(local + DEFINE_TILE);
    threadgroup_barrier(mem_flags::mem_threadgroup);
    out[tid] = tile[(tid + 1) % MOE_TILE_N] + float(MISSING_TILE);
}
