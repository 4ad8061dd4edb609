/* moe_swiglu.opencl.entry.h - OpenCL entry points. Binding order = metal-marlin's buffer indices
 * (moe_swiglu.h). MOE_MODE (a shape macro from the workload) keeps only the entry a launch needs, so
 * a variant compiles one kernel; without it every entry is built. */
#define MOE_CL_LOCALS(M) \
    local float hbuf[2 * (M) * TILE_N]; \
    local float xs[MOE_XFLOATS(M)]; \
    local float gridl[64]; \
    local int toks[MOE_QCAP(M)]; \
    local float tprob[MOE_QCAP(M)]; \
    local int ctl[4];

#define MOE_CL_COMMON_ARGS \
    global const ushort *act, global const uint *gw, global const ushort *gs, \
    global const uint *uw, global const ushort *us, global const uint *dw, global const ushort *ds, \
    global const ushort *gsu, global const ushort *gsv, global const ushort *usu, \
    global const ushort *usv, global const ushort *dsu, global const ushort *dsv, \
    global const ushort *grid

#define MOE_CL_TOKEN_ENTRY(NAME, MODE, M) \
__kernel __attribute__((reqd_work_group_size(MOE_THREADS, 1, 1))) void NAME(MOE_CL_COMMON_ARGS, \
    global const uint *expert_ids, global const ushort *expert_probs, global float *out, \
    const MoEParams p, global const uint *meta, global const uint *side, global float *scr) \
{ \
    MOE_CL_LOCALS(M) \
    moe_swiglu_run(MODE, M, act, gw, gs, uw, us, dw, ds, gsu, gsv, usu, usv, dsu, dsv, grid, \
                   expert_ids, expert_ids, expert_probs, out, p, meta, hbuf, xs, gridl, \
                   toks, tprob, ctl, (uint)get_local_id(0), (uint)get_group_id(0), (uint)get_group_id(1)); \
}

#if (!defined(MOE_MODE) || MOE_MODE == 0) && V3
__kernel __attribute__((reqd_work_group_size(MOE_THREADS, 1, 1))) void moe_trellis_swiglu_decode(MOE_CL_COMMON_ARGS,
    global const uint *expert_ids, global const ushort *expert_probs, global float *out,
    const MoEParams p, global const uint *meta, global const uint *side, global float *scr)
{
#if XVEC
    local float4 xsh4[2 * MOE3_SLAB / 4];   /* 16-byte aligned for XVEC's float4 reads */
    local float *xsh = (local float *)xsh4;
#else
    local float xsh[2 * MOE3_SLAB];
#endif
    local float gridl[64 * GRID_COPIES];
#if PAIR >= 2 || V3 == 3
    local float pairl[MOE3M_PAIRW];   /* PAIR 2's pair tables, V3=3's half2 pair tables */
#else
    local float *pairl = gridl;   /* unused */
#endif
    local float hp[MOE3_HPW];
    local float hs[2 * TILE_N];
    local int ctl[4];
    MOE3_DECODE(act, gw, gs, uw, us, dw, ds, gsu, gsv, usu, usv, dsu, dsv, grid, expert_ids, expert_probs,
                out, p, meta, side, scr, xsh, gridl, pairl, hp, hs, ctl, (uint)get_local_id(0), (uint)get_group_id(0),
                (uint)get_group_id(1));
}
#elif !defined(MOE_MODE) || MOE_MODE == 0
MOE_CL_TOKEN_ENTRY(moe_trellis_swiglu_decode, MOE_MODE_DECODE, 1)
#endif
#if !defined(MOE_MODE) || MOE_MODE == 1
MOE_CL_TOKEN_ENTRY(moe_trellis_swiglu_prefill4, MOE_MODE_SMALL, MOE_MBLK)
#endif
#if !defined(MOE_MODE) || MOE_MODE == 2
MOE_CL_TOKEN_ENTRY(moe_trellis_swiglu, MOE_MODE_BASE, MOE_MBLK)
#endif
#if !defined(MOE_MODE) || MOE_MODE == 3
MOE_CL_TOKEN_ENTRY(moe_trellis_swiglu_large_batch, MOE_MODE_LARGE, MOE_MBLK)
#endif
#if !defined(MOE_MODE) || MOE_MODE == 4
__kernel __attribute__((reqd_work_group_size(MOE_THREADS, 1, 1)))
void moe_trellis_swiglu_grouped(MOE_CL_COMMON_ARGS,
    global const uint *sorted_token_ids, global const uint *expert_offsets,
    global const ushort *sorted_probs, global float *out, const MoEParams p, global const uint *meta,
    global const uint *side, global float *scr)
{
    MOE_CL_LOCALS(MOE_MBLK)
    moe_swiglu_run(MOE_MODE_GROUPED, MOE_MBLK, act, gw, gs, uw, us, dw, ds, gsu, gsv, usu, usv, dsu, dsv,
                   grid, sorted_token_ids, expert_offsets, sorted_probs, out, p, meta, hbuf, xs,
                   gridl, toks, tprob, ctl, (uint)get_local_id(0), (uint)get_group_id(0),
                   (uint)get_group_id(1));
}
#endif
