/* moe_swiglu.metal.entry.h - Metal entry points with metal-marlin's buffer indices, then fairway's
 * meta, side and scratch buffers (moe_swiglu.h). */
#define MOE_MTL_LOCALS(M) \
    threadgroup float hbuf[2 * (M) * TILE_N]; \
    threadgroup float xs[MOE_XFLOATS(M)]; \
    threadgroup float gridl[64]; \
    threadgroup int toks[MOE_QCAP(M)]; \
    threadgroup float tprob[MOE_QCAP(M)]; \
    threadgroup int ctl[4];

#define MOE_MTL_COMMON_ARGS \
    device const ushort *act [[buffer(0)]], device const uint *gw [[buffer(1)]], \
    device const ushort *gs [[buffer(2)]], device const uint *uw [[buffer(3)]], \
    device const ushort *us [[buffer(4)]], device const uint *dw [[buffer(5)]], \
    device const ushort *ds [[buffer(6)]], device const ushort *gsu [[buffer(7)]], \
    device const ushort *gsv [[buffer(8)]], device const ushort *usu [[buffer(9)]], \
    device const ushort *usv [[buffer(10)]], device const ushort *dsu [[buffer(11)]], \
    device const ushort *dsv [[buffer(12)]], device const ushort *grid [[buffer(13)]]

#define MOE_MTL_TOKEN_ENTRY(NAME, MODE, M) \
kernel void NAME(MOE_MTL_COMMON_ARGS, \
    device const uint *expert_ids [[buffer(14)]], device const ushort *expert_probs [[buffer(15)]], \
    device float *out [[buffer(16)]], constant MoEParams &p [[buffer(17)]], \
    device const uint *meta [[buffer(18)]], device const uint *side [[buffer(19)]], \
    device float *scr [[buffer(20)]], \
    uint tid [[thread_index_in_threadgroup]], uint3 tg [[threadgroup_position_in_grid]]) \
{ \
    MOE_MTL_LOCALS(M) \
    moe_swiglu_run(MODE, M, act, gw, gs, uw, us, dw, ds, gsu, gsv, usu, usv, dsu, dsv, grid, \
                   expert_ids, expert_ids, expert_probs, out, p, meta, hbuf, xs, gridl, \
                   toks, tprob, ctl, tid, tg.x, tg.y); \
}

#if (!defined(MOE_MODE) || MOE_MODE == 0) && V3
kernel void moe_trellis_swiglu_decode(MOE_MTL_COMMON_ARGS,
    device const uint *expert_ids [[buffer(14)]], device const ushort *expert_probs [[buffer(15)]],
    device float *out [[buffer(16)]], constant MoEParams &p [[buffer(17)]],
    device const uint *meta [[buffer(18)]], device const uint *side [[buffer(19)]],
    device float *scr [[buffer(20)]],
    uint tid [[thread_index_in_threadgroup]], uint3 tg [[threadgroup_position_in_grid]])
{
#if XVEC
    threadgroup float4 xsh4[2 * MOE3_SLAB / 4];   /* 16-byte aligned for XVEC's float4 reads */
    threadgroup float *xsh = (threadgroup float *)xsh4;
#else
    threadgroup float xsh[2 * MOE3_SLAB];
#endif
    threadgroup float gridl[64 * GRID_COPIES];
#if PAIR >= 2 || V3 == 3
    threadgroup float pairl[MOE3M_PAIRW];   /* PAIR 2's pair tables, V3=3's half2 pair tables */
#else
    threadgroup float *pairl = gridl;   /* unused */
#endif
    threadgroup float hp[MOE3_HPW];
    threadgroup float hs[2 * TILE_N];
    threadgroup int ctl[4];
    MOE3_DECODE(act, gw, gs, uw, us, dw, ds, gsu, gsv, usu, usv, dsu, dsv, grid, expert_ids, expert_probs,
                out, p, meta, side, scr, xsh, gridl, pairl, hp, hs, ctl, tid, tg.x, tg.y);
}
#elif !defined(MOE_MODE) || MOE_MODE == 0
MOE_MTL_TOKEN_ENTRY(moe_trellis_swiglu_decode, MOE_MODE_DECODE, 1)
#endif
#if !defined(MOE_MODE) || MOE_MODE == 1
MOE_MTL_TOKEN_ENTRY(moe_trellis_swiglu_prefill4, MOE_MODE_SMALL, MOE_MBLK)
#endif
#if !defined(MOE_MODE) || MOE_MODE == 2
MOE_MTL_TOKEN_ENTRY(moe_trellis_swiglu, MOE_MODE_BASE, MOE_MBLK)
#endif
#if !defined(MOE_MODE) || MOE_MODE == 3
MOE_MTL_TOKEN_ENTRY(moe_trellis_swiglu_large_batch, MOE_MODE_LARGE, MOE_MBLK)
#endif
#if !defined(MOE_MODE) || MOE_MODE == 4
kernel void moe_trellis_swiglu_grouped(MOE_MTL_COMMON_ARGS,
    device const uint *sorted_token_ids [[buffer(14)]], device const uint *expert_offsets [[buffer(15)]],
    device const ushort *sorted_probs [[buffer(16)]], device float *out [[buffer(17)]],
    constant MoEParams &p [[buffer(18)]], device const uint *meta [[buffer(19)]],
    device const uint *side [[buffer(20)]], device float *scr [[buffer(21)]],
    uint tid [[thread_index_in_threadgroup]], uint3 tg [[threadgroup_position_in_grid]])
{
    MOE_MTL_LOCALS(MOE_MBLK)
    moe_swiglu_run(MOE_MODE_GROUPED, MOE_MBLK, act, gw, gs, uw, us, dw, ds, gsu, gsv, usu, usv, dsu, dsv,
                   grid, sorted_token_ids, expert_offsets, sorted_probs, out, p, meta, hbuf, xs,
                   gridl, toks, tprob, ctl, tid, tg.x, tg.y);
}
#endif
