/* moe_swiglu.cuda.entry.h - CUDA entry points; parameter i = metal-marlin buffer index i, then
 * fairway's meta, side and scratch buffers (moe_swiglu.h). */
/* OCC_WARPS (moe_swiglu.v3.h): a minimum of groups per SM for the register allocator, or none */
#ifdef MOE3_MINB
#define MOE3_LAUNCH_BOUNDS __launch_bounds__(MOE_THREADS, MOE3_MINB)
#else
#define MOE3_LAUNCH_BOUNDS __launch_bounds__(MOE_THREADS)
#endif

#define MOE_CU_LOCALS(M) \
    __shared__ float hbuf[2 * (M) * TILE_N]; \
    __shared__ float xs[MOE_XFLOATS(M)]; \
    __shared__ float gridl[64]; \
    __shared__ int toks[MOE_QCAP(M)]; \
    __shared__ float tprob[MOE_QCAP(M)]; \
    __shared__ int ctl[4];

#define MOE_CU_COMMON_ARGS \
    const moe_u16 *__restrict__ act, const moe_u32 *__restrict__ gw, const moe_u16 *__restrict__ gs, \
    const moe_u32 *__restrict__ uw, const moe_u16 *__restrict__ us, const moe_u32 *__restrict__ dw, \
    const moe_u16 *__restrict__ ds, const moe_u16 *__restrict__ gsu, const moe_u16 *__restrict__ gsv, \
    const moe_u16 *__restrict__ usu, const moe_u16 *__restrict__ usv, const moe_u16 *__restrict__ dsu, \
    const moe_u16 *__restrict__ dsv, const moe_u16 *__restrict__ grid

#define MOE_CU_TOKEN_ENTRY(NAME, MODE, M) \
extern "C" __global__ void MOE3_LAUNCH_BOUNDS NAME(MOE_CU_COMMON_ARGS, \
    const moe_u32 *__restrict__ expert_ids, const moe_u16 *__restrict__ expert_probs, float *out, \
    MoEParams p, const moe_u32 *__restrict__ meta, const moe_u32 *__restrict__ side, float *scr) \
{ \
    (void)side; \
    (void)scr; \
    MOE_CU_LOCALS(M) \
    moe_swiglu_run(MODE, M, act, gw, gs, uw, us, dw, ds, gsu, gsv, usu, usv, dsu, dsv, grid, \
                   expert_ids, expert_ids, expert_probs, out, p, meta, hbuf, xs, gridl, \
                   toks, tprob, ctl, threadIdx.x, blockIdx.x, blockIdx.y); \
}

#if (!defined(MOE_MODE) || MOE_MODE == 0) && V3
extern "C" __global__ void MOE3_LAUNCH_BOUNDS moe_trellis_swiglu_decode(MOE_CU_COMMON_ARGS,
    const moe_u32 *__restrict__ expert_ids, const moe_u16 *__restrict__ expert_probs, float *out,
    MoEParams p, const moe_u32 *__restrict__ meta, const moe_u32 *__restrict__ side, float *scr)
{
#if XVEC
    __shared__ float4 xsh4[2 * MOE3_SLAB / 4];   /* 16-byte aligned for XVEC's float4 reads */
    float *xsh = (float *)xsh4;
#else
    __shared__ float xsh[2 * MOE3_SLAB];
#endif
    __shared__ float gridl[64 * GRID_COPIES];
#if PAIR >= 2 || V3 == 3
    __shared__ float pairl[MOE3M_PAIRW];   /* PAIR 2's pair tables, V3=3's half2 pair tables */
#else
    float *pairl = gridl;   /* unused */
#endif
    __shared__ float hp[MOE3_HPW];
    __shared__ float hs[2 * TILE_N];
    __shared__ int ctl[4];
    MOE3_DECODE(act, gw, gs, uw, us, dw, ds, gsu, gsv, usu, usv, dsu, dsv, grid, expert_ids, expert_probs,
                out, p, meta, side, scr, xsh, gridl, pairl, hp, hs, ctl, threadIdx.x, blockIdx.x, blockIdx.y);
}
#elif !defined(MOE_MODE) || MOE_MODE == 0
MOE_CU_TOKEN_ENTRY(moe_trellis_swiglu_decode, MOE_MODE_DECODE, 1)
#endif
#if !defined(MOE_MODE) || MOE_MODE == 1
MOE_CU_TOKEN_ENTRY(moe_trellis_swiglu_prefill4, MOE_MODE_SMALL, MOE_MBLK)
#endif
#if !defined(MOE_MODE) || MOE_MODE == 2
MOE_CU_TOKEN_ENTRY(moe_trellis_swiglu, MOE_MODE_BASE, MOE_MBLK)
#endif
#if !defined(MOE_MODE) || MOE_MODE == 3
MOE_CU_TOKEN_ENTRY(moe_trellis_swiglu_large_batch, MOE_MODE_LARGE, MOE_MBLK)
#endif
#if !defined(MOE_MODE) || MOE_MODE == 4
extern "C" __global__ void MOE3_LAUNCH_BOUNDS moe_trellis_swiglu_grouped(MOE_CU_COMMON_ARGS,
    const moe_u32 *__restrict__ sorted_token_ids, const moe_u32 *__restrict__ expert_offsets,
    const moe_u16 *__restrict__ sorted_probs, float *out, MoEParams p, const moe_u32 *__restrict__ meta,
    const moe_u32 *__restrict__ side, float *scr)
{
    (void)side;
    (void)scr;
    MOE_CU_LOCALS(MOE_MBLK)
    moe_swiglu_run(MOE_MODE_GROUPED, MOE_MBLK, act, gw, gs, uw, us, dw, ds, gsu, gsv, usu, usv, dsu, dsv,
                   grid, sorted_token_ids, expert_offsets, sorted_probs, out, p, meta, hbuf, xs,
                   gridl, toks, tprob, ctl, threadIdx.x, blockIdx.x, blockIdx.y);
}
#endif
