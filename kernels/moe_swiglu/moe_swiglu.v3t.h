/* moe_swiglu.v3t.h - the ticketed v3 decode kernel (V3=2, issue 16), in the portable subset
 * (moe_swiglu.names.h), assembled after moe_swiglu.v3.h (it reuses its phase 1, join, SwiGLU, code
 * extraction and scratch layout). Contract and knobs: moe_swiglu.h.
 *
 * Why: at V3=1 every group runs phase 1 (gate/up) and then phase 2 (down) of its own TILE_N chunk,
 * all groups in one wave and in lockstep, and each output element takes intermediate/TILE_N float
 * atomics per slot (384 per element at glm47, TILE_N 16: ~786K atomics onto 2048 addresses).
 *
 * What V3=2 does: persistent groups (GROUPS of them; 0 = one per work item) take tickets from one
 * global counter in `scratch`. Tickets 0 .. NA-1 are phase-A items, the rest phase-B items:
 *   - A item (chunk c, slot s, split k), ordered chunk-major: gate and up of the TILE_N intermediate
 *     columns of chunk c over hidden rows k*H/SPLIT_K .. (k+1)*H/SPLIT_K (v3's phase 1; with SPLIT_K > 1
 *     the partial sums meet in scratch as at V3=1 and the last of the chunk's splits to arrive goes on),
 *     SwiGLU, h (down's su folded in) stored to scratch, then the ready count of (s, the DOWN_ROWS
 *     range holding c) is bumped. SPLIT_K makes the items smaller, so persistent groups take more.
 *   - B item (K range r, slot s, output group o), ordered range-major: waits until range r of slot s
 *     has all its DOWN_ROWS / TILE_N chunks ready, stages those rows of h in threadgroup memory and
 *     runs down over them for 2 * SIMDGROUPS_PER_TG * OT output tiles (one half-warp per tile,
 *     OT tiles each), one scale multiply per 128-row group, then one atomic add per output column:
 *     each output element takes intermediate / DOWN_ROWS atomics per slot (4 at glm47, DOWN_ROWS 384).
 * No deadlock: an A item waits on nothing; a B item waits only on A items, whose tickets are all
 * smaller than its own, so every one of them is held by a group that is running (a group takes a
 * ticket only while it runs) or has been finished. The last group to leave resets the counters, so
 * the scratch is left as it was found (h is always written before it is read).
 * Loads in flight per lane in a B item: MOE3T_KT K tiles x MOE3T_OT output tiles (NUM_BUFFERS).
 * PAIR 2 (gate/up pair tables) applies to the A items; PAIR 1's table of h does not exist here.
 */
#ifndef DOWN_ROWS
#define DOWN_ROWS 384
#endif
#ifndef GROUPS
#define GROUPS 0
#endif
#if V3 == 2 && (P2_SPREAD || PAIR == 1)
#error "moe_swiglu: V3=2 needs P2_SPREAD 0 and PAIR 0 or 2"
#endif
#if DOWN_ROWS % 128 != 0 || DOWN_ROWS < 128 || DOWN_ROWS > 2 * MOE3_SLAB
#error "moe_swiglu: DOWN_ROWS must be a multiple of 128 up to 4096"
#endif
#define MOE3T_KT (4 * NUM_BUFFERS < 8 ? 4 * NUM_BUFFERS : 8)       /* K tiles in flight (divides 8) */
#define MOE3T_OT (4 * NUM_BUFFERS / 8 > 0 ? 4 * NUM_BUFFERS / 8 : 1)   /* output tiles per half-warp */
#define MOE3T_OTILES (2 * MOE_NW * MOE3T_OT)                       /* output tiles per B item */
#if 8 % MOE3T_KT != 0
#error "moe_swiglu: V3=2 needs NUM_BUFFERS 1, 2, 3 or 4"
#endif

/* The work of one launch, from the params (the host's geometry counts the same). */
typedef struct moe3t_plan {
    moe_u32 na, nb, total, groups, nkr, nog;
} moe3t_plan;

MOE_FN moe3t_plan moe3t_plan_of(const MoEParams p)
{
    moe3t_plan q;
    q.na = p.intermediate / TILE_N * p.top_k * (moe_u32)SPLIT_K;
    q.nkr = (p.intermediate + DOWN_ROWS - 1u) / DOWN_ROWS;
    q.nog = (p.hidden / 16u + MOE3T_OTILES - 1u) / MOE3T_OTILES;
    q.nb = q.nkr * p.top_k * q.nog;
    q.total = q.na + q.nb;
    q.groups = GROUPS ? (moe_u32)GROUPS : q.total;
    return q;
}

/* The next ticket of the group (every thread gets it): a barrier first, so every thread is done
 * with the previous item's threadgroup memory. */
MOE_FN moe_u32 moe3t_take(MOE_G float *scr, const moe_u32 TK, const moe_u32 I, MOE_L int *ctl, const moe_u32 tid)
{
    MOE_BARRIER();
    if (tid == 0u)
        ctl[1] = (int)moe_atomic_inc_g((MOE_G moe_u32 *)scr + MOE3_SCR_TICKET(TK, I));
    MOE_BARRIER();
    return (moe_u32)ctl[1];
}

/* Phase B decode of one block: MOE3T_KT K tiles x MOE3T_OT output tiles of width B against h. */
#define MOE3T_DOTB(B, ACC, LO, HI, SH, HL) MOE3_DOTH(B, ACC, LO, HI, SH, HL, MOE3T_KT, MOE3T_OT)

/* Phase B of a lane: down rows k0 .. k0+rows (h staged at hl) for output tiles tn0 + o * tstep;
 * dsc: the expert's down scale rows [I/128][H] (sv folded in when SIDE), dsvp: down sv (SIDE 0).
 * No barrier inside (ok may differ from item to item, never within a group). */
MOE_FN void moe3t_down(MOE_G const moe_u32 *dwe, const moe_u32 db, MOE_G const moe_u16 *dsc,
                       MOE_G const moe_u16 *dsvp, const moe_u32 H, const moe_u32 k0, const moe_u32 rows,
                       const moe_u32 tn0, const moe_u32 tstep, const moe_u32 nin, MOE_L const float *hl,
                       MOE_L const float *gridl, const moe_u32 lg, MOE_G float *orow, const float prob)
{
    const moe_u32 tiles_nd = H / 16u;
    float acc[MOE3T_OT];
MOE_UNROLL
    for (int o = 0; o < MOE3T_OT; o++)
        acc[o] = 0.0f;
    for (moe_u32 g0 = 0; g0 < rows; g0 += 128u) {
        float part[MOE3T_OT], sc[MOE3T_OT];
MOE_UNROLL
        for (int o = 0; o < MOE3T_OT; o++) {
            const moe_u32 tn = tn0 + (moe_u32)o * tstep, n = tn * 16u + nin;
            const moe_u32 si = (k0 + g0) / 128u * H + n;
#if SIDE
            sc[o] = tn < tiles_nd ? moe_h2f(dsc[si]) : 0.0f;
            (void)dsvp;
#else
            sc[o] = tn < tiles_nd ? moe_h2f(dsc[si]) * moe_h2f(dsvp[n]) : 0.0f;
#endif
            part[o] = 0.0f;
        }
        for (moe_u32 kc = 0; kc < 8u; kc += (moe_u32)MOE3T_KT) {
            moe_u64 lo[MOE3T_OT][MOE3T_KT], hi[MOE3T_OT][MOE3T_KT];
            moe_u32 sh[MOE3T_OT][MOE3T_KT];
MOE_UNROLL
            for (int o = 0; o < MOE3T_OT; o++) {
                const moe_u32 tn = tn0 + (moe_u32)o * tstep;
                const int valid = tn < tiles_nd;
MOE_UNROLL
                for (int kt = 0; kt < MOE3T_KT; kt++) {
                    const moe_u32 tile = ((k0 + g0) / 16u + kc + (moe_u32)kt) * tiles_nd + tn;
                    MOE_WIN(lo[o][kt], hi[o][kt], sh[o][kt], dwe + tile * 8u * db, nin, db, valid);
                }
            }
            MOE3_SWITCH(db, MOE3T_DOTB, part, lo, hi, sh, (hl + g0 + kc * 16u))
        }
MOE_UNROLL
        for (int o = 0; o < MOE3T_OT; o++)
            acc[o] = fw_fma(part[o], sc[o], acc[o]);
    }
MOE_UNROLL
    for (int o = 0; o < MOE3T_OT; o++) {
        const moe_u32 tn = tn0 + (moe_u32)o * tstep;
        if (rows && tn < tiles_nd)
            moe_atomic_add_f32(orow + tn * 16u + nin, prob * acc[o]);
    }
}

/* A item: split `split` of chunk `chunk` of slot `slot` (gate, up; the last split to arrive: SwiGLU,
 * h published with its range's ready count). Every barrier is reached by the whole group (ok only
 * sets trip counts). */
MOE_FN void moe3t_item_a(MOE_G const moe_u16 *act, MOE_G const moe_u32 *gw, MOE_G const moe_u16 *gs,
    MOE_G const moe_u32 *uw, MOE_G const moe_u16 *us, MOE_G const moe_u16 *gsu, MOE_G const moe_u16 *gsv,
    MOE_G const moe_u16 *usu, MOE_G const moe_u16 *usv, MOE_G const moe_u16 *dsu, MOE_G const moe_u32 *ids,
    const MoEParams p, MOE_G const moe_u32 *meta, MOE_G const moe_u32 *side, MOE_G float *scr,
    MOE_L float *xsh, MOE_L const float *gridl, MOE_L const float *pairl, MOE_L float *hp, MOE_L float *hs,
    MOE_L int *ctl, const moe_u32 tid, const moe_u32 slot, const moe_u32 chunk, const moe_u32 split)
{
    const moe_u32 H = p.hidden, I = p.intermediate, TK = p.top_k, n0 = chunk * TILE_N;
    const moe_u32 kspan = H / (moe_u32)SPLIT_K;
    const int ok = moe3_slot_runs(ids, meta, p, slot);
    const moe_u32 e = ok ? ids[slot] : 0u;
    const moe_u32 gb = MOE_WIDTH(meta, e, 0u, GATE_BITS), ub = MOE_WIDTH(meta, e, 1u, UP_BITS);
    MOE_G const moe_u32 *sb = side + e * MOE3_SIDE_WORDS(H, I);
    const moe_u32 lane = tid & 31u, w = tid >> 5, hw = lane >> 4, nin = lane & 15u;
    const moe_u32 lg = lane & (GRID_COPIES - 1u);
#if MOE_NW >= MOE_CG
    const moe_u32 cg0 = w % (moe_u32)MOE_CG, part = (w / (moe_u32)MOE_CG) * 2u + hw;
#else
    const moe_u32 cg0 = w, part = hw;
#endif
    float accg[MOE_NCT], accu[MOE_NCT];
MOE_UNROLL
    for (int t = 0; t < MOE_NCT; t++) {
        accg[t] = 0.0f;
        accu[t] = 0.0f;
    }
    moe3_phase1(act + (slot / TK) * H, gsu + e * H, usu + e * H, sb, gw + meta[e * 8u + 4u] / 4u,
                uw + meta[e * 8u + 5u] / 4u, gb, ub, gs + e * (H / 128u) * I, us + e * (H / 128u) * I, H, I,
                split * kspan, ok ? kspan : 0u, n0, cg0, nin, part, xsh, gridl, pairl, lg, accg, accu, tid);
    const int last = moe3_join(accg, accu, hp, hs, scr, ctl, TK, I, slot, chunk, n0, part, cg0, nin, ok, tid);
    moe3_swiglu(hs, e, I, n0, gsv, usv, dsu, sb + MOE3_SIDE_DSU(H, I), last, tid);
    for (moe_u32 i = tid; i < (last ? (moe_u32)TILE_N : 0u); i += MOE_THREADS)
        scr[MOE3_SCR_H(TK, I) + slot * I + n0 + i] = hs[i];
    MOE_GLOBAL_FENCE();
    MOE_BARRIER();
    if (tid == 0u && last)
        moe_atomic_inc_g((MOE_G moe_u32 *)scr + MOE3_SCR_READY(TK, I) + slot * (I / 16u) + n0 / DOWN_ROWS);
}

/* B item: range kr of slot `slot`, output group og. Waits on the range's ready count, stages its h
 * rows in xsh, then down (moe3t_down). */
MOE_FN void moe3t_item_b(MOE_G const moe_u32 *dw, MOE_G const moe_u16 *ds, MOE_G const moe_u16 *dsv,
    MOE_G const moe_u32 *ids, MOE_G const moe_u16 *probs, MOE_G float *out, const MoEParams p,
    MOE_G const moe_u32 *meta, MOE_G const moe_u32 *side, MOE_G float *scr, MOE_L float *xsh,
    MOE_L const float *gridl, const moe_u32 tid, const moe_u32 slot, const moe_u32 kr, const moe_u32 og)
{
    const moe_u32 H = p.hidden, I = p.intermediate, TK = p.top_k, k0 = kr * DOWN_ROWS;
    const int ok = moe3_slot_runs(ids, meta, p, slot);
    const moe_u32 e = ok ? ids[slot] : 0u;
    const moe_u32 rows = !ok ? 0u : I - k0 < (moe_u32)DOWN_ROWS ? I - k0 : (moe_u32)DOWN_ROWS;
    MOE_G moe_u32 *w32 = (MOE_G moe_u32 *)scr;
    if (tid == 0u && rows)
        while (moe_atomic_read_g(w32 + MOE3_SCR_READY(TK, I) + slot * (I / 16u) + kr) < rows / (moe_u32)TILE_N) {
        }
    MOE_GLOBAL_FENCE();
    MOE_BARRIER();
    for (moe_u32 i = tid; i < rows; i += MOE_THREADS)
        xsh[i] = fw_as_float(moe_atomic_read_g(w32 + MOE3_SCR_H(TK, I) + slot * I + k0 + i));
    MOE_BARRIER();
    const moe_u32 lane = tid & 31u, w = tid >> 5, hw = lane >> 4, nin = lane & 15u;
    const moe_u32 lg = lane & (GRID_COPIES - 1u);
    const moe_u32 db = MOE_WIDTH(meta, e, 2u, DOWN_BITS);
#if SIDE
    MOE_G const moe_u16 *dsc = (MOE_G const moe_u16 *)(side + e * MOE3_SIDE_WORDS(H, I) + MOE3_SIDE_DSC(H, I));
    (void)ds;
#else
    MOE_G const moe_u16 *dsc = ds + e * (I / 128u) * H;
    (void)side;
#endif
    moe3t_down(dw + meta[e * 8u + 6u] / 4u, db, dsc, dsv + e * H, H, k0, rows,
               og * (moe_u32)MOE3T_OTILES + w * 2u + hw, 2u * MOE_NW, nin, xsh, gridl, lg, out + (slot / TK) * H,
               moe_h2f(probs[slot]));
}

/* The ticketed decode group: grid and pair tables once, then A items, then B items, then the last
 * group out resets the ticket, ready and done counts. */
MOE_FN void moe3t_decode(MOE3_DECODE_PARAMS(by))
{
    const moe_u32 I = p.intermediate, TK = p.top_k;
    const moe3t_plan q = moe3t_plan_of(p);
    (void)bx;
    (void)by;
    for (moe_u32 i = tid; i < 64u * GRID_COPIES; i += MOE_THREADS)
        gridl[i] = moe_h2f(grid[i >> MOE3_GCL]);
#if PAIR >= 2
    for (moe_u32 i = tid; i < (moe_u32)MOE3_PAIRF / 2u; i += MOE_THREADS) {
        const moe_u32 b = i < 16u ? 2u : 3u, c = i < 16u ? i : i - 16u, m = (1u << b) - 1u;
        pairl[2u * i] = moe_h2f(grid[c & m]);
        pairl[2u * i + 1u] = moe_h2f(grid[c >> b]);
    }
#endif
    moe_u32 t = moe3t_take(scr, TK, I, ctl, tid);
    for (; t < q.na; t = moe3t_take(scr, TK, I, ctl, tid))
        moe3t_item_a(act, gw, gs, uw, us, gsu, gsv, usu, usv, dsu, ids, p, meta, side, scr, xsh, gridl, pairl, hp,
                     hs, ctl, tid, t / (moe_u32)SPLIT_K % TK, t / (moe_u32)SPLIT_K / TK, t % (moe_u32)SPLIT_K);
    for (; t < q.total; t = moe3t_take(scr, TK, I, ctl, tid)) {
        const moe_u32 b = t - q.na, r = b % (TK * q.nog);
        moe3t_item_b(dw, ds, dsv, ids, probs, out, p, meta, side, scr, xsh, gridl, tid, r / q.nog, b / (TK * q.nog),
                     r % q.nog);
    }
    /* every thread is past its last item (moe3t_take's barriers); the last group out resets */
    MOE_G moe_u32 *w32 = (MOE_G moe_u32 *)scr;
    if (tid == 0u && moe_atomic_inc_g(w32 + MOE3_SCR_DONE(TK, I)) == q.groups - 1u) {
        for (moe_u32 s = 0; s < TK; s++)
            for (moe_u32 r = 0; r < q.nkr; r++)
                w32[MOE3_SCR_READY(TK, I) + s * (I / 16u) + r] = 0u;
        w32[MOE3_SCR_TICKET(TK, I)] = 0u;
        w32[MOE3_SCR_DONE(TK, I)] = 0u;
    }
}

/* The decode entry's body: V3=2 the ticketed kernel above, V3=1 moe3_decode. */
#if V3 == 2
#define MOE3_DECODE moe3t_decode
#else
#define MOE3_DECODE moe3_decode
#endif
