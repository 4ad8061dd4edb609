/* moe_swiglu.body.h - portable body of the mixed-bit trellis MoE SwiGLU kernels (v2).
 *
 * Written once in the portable subset of kernels/common/prelude.<dialect>.h, through the short
 * names of moe_swiglu.names.h (MOE_G, MOE_L, MOE_FN, MOE_BARRIER, moe_h2f, moe_ld64, ...). The entry
 * points (moe_swiglu.<dialect>.entry.h) declare the threadgroup arrays and call moe_swiglu_run().
 * Format, bindings and what each knob does per mode: kernels/moe_swiglu/moe_swiglu.h.
 *
 * Work split: one threadgroup = (expert e or decode slot, chunk of TILE_N intermediate columns).
 * Every mode runs the same structure (the H100 prototype's, benchmarks/h100_proto.sh):
 *   - Activations (for up to MOE_MBLK tokens) and the su signs are staged in threadgroup memory,
 *     one slab of MOE_SLAB hidden rows at a time (two barriers per slab, none per K tile).
 *   - Phase 1: a lane owns one column of a 16x16 tile, i.e. 16 codes = 16*bits contiguous bits,
 *     which always lie inside two aligned 64-bit words (moe_ld64). Half-warps and warps split the
 *     slab's K tile rows; a lane issues the loads of MOE_CH1 tile rows x its column tiles x
 *     (gate, up) before decoding any, so many independent loads are in flight per lane. Codes are
 *     decoded in registers and multiplied against every token of the block (weights read once per
 *     token block). The K parts are summed in threadgroup memory once, at the end.
 *   - Phase 2: the TILE_N matching rows of down times every hidden column; a lane owns one output
 *     column of a tile, loads MOE_CH2 output tiles x TILE_N/16 K tiles before decoding, and does
 *     one atomic add per token and output column.
 * Register arrays are indexed only by loop counters with compile-time bounds (all unrolled).
 */

/* ---- knobs (macros; defaults when a variant does not set them) ---- */
#ifndef TILE_N
#define TILE_N 64
#endif
#ifndef SIMDGROUPS_PER_TG
#define SIMDGROUPS_PER_TG 4
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
/* Compile-time bit widths: 0 = read each expert's bits at run time from the meta buffer. */
#ifndef GATE_BITS
#define GATE_BITS 0
#endif
#ifndef UP_BITS
#define UP_BITS 0
#endif
#ifndef DOWN_BITS
#define DOWN_BITS 0
#endif
/* v3 (issue 16): 1 = the batched modes gather tokens with every thread (moe_gather_par) and decode
 * runs moe_swiglu.v3.h; 0 = v2 throughout. */
#ifndef V3
#define V3 0
#endif
/* Token queue entries of a threadgroup: M, plus a round of matches for the parallel gather. */
#define MOE_QCAP(m) (V3 ? (m) + MOE_THREADS : (m))

#define MOE_MODE_DECODE 0
#define MOE_MODE_SMALL 1
#define MOE_MODE_BASE 2
#define MOE_MODE_LARGE 3
#define MOE_MODE_GROUPED 4

#define MOE_NW SIMDGROUPS_PER_TG
#define MOE_THREADS (32 * MOE_NW)
#define MOE_MBLK (8 * SG_M_TILES)                   /* token rows per pass (batched modes) */
#define MOE_CT (TILE_N / 16)                        /* 16-column tiles per threadgroup */
#define MOE_SGN (SG_N_TILES < MOE_CT ? SG_N_TILES : MOE_CT)   /* column tiles one warp takes at once */
#define MOE_CG (MOE_CT / MOE_SGN)                   /* column groups of the threadgroup */
#if MOE_NW >= MOE_CG
#define MOE_KP (MOE_NW / MOE_CG)                    /* warps splitting K within a column group */
#define MOE_CPASS 1
#else
#define MOE_KP 1
#define MOE_CPASS (MOE_CG / MOE_NW)                 /* column groups one warp walks in turn */
#endif
#define MOE_NCT (MOE_CPASS * MOE_SGN)               /* column tiles per lane (accumulators per token) */
/* Tiles in flight per lane: phase 1 loads MOE_CH1 K tile rows x MOE_NCT column tiles x (gate, up);
 * phase 2 loads MOE_CH2 output tiles x MOE_CT K tiles. NUM_BUFFERS scales both. */
#define MOE_CH1 (2 * NUM_BUFFERS / MOE_NCT > 0 ? 2 * NUM_BUFFERS / MOE_NCT : 1)
#define MOE_CH2 (4 * NUM_BUFFERS / MOE_CT > 0 ? 4 * NUM_BUFFERS / MOE_CT : 1)
/* The batched modes hold 8 * SG_M_TILES accumulators per column tile, so they keep SG_M_TILES
 * times fewer tiles in flight (their weights are reused across tokens; registers are the limit). */
#define MOE_CH1B (MOE_CH1 / SG_M_TILES > 0 ? MOE_CH1 / SG_M_TILES : 1)
#define MOE_CH2B (MOE_CH2 / SG_M_TILES > 0 ? MOE_CH2 / SG_M_TILES : 1)
/* Hidden rows staged per slab: x[m][SLAB] plus the gate and up su rows, within 6144 floats for
 * decode and 4096 for the batched modes (a power of two, 16..2048). */
#define MOE_XBUDGET(m) ((m) == 1 ? 6144 : 4096)
#define MOE_SLAB(m) (((m) + 2) * 2048 <= MOE_XBUDGET(m) ? 2048 : ((m) + 2) * 1024 <= MOE_XBUDGET(m) ? 1024 : \
                     ((m) + 2) * 512 <= MOE_XBUDGET(m) ? 512 : ((m) + 2) * 256 <= MOE_XBUDGET(m) ? 256 : \
                     ((m) + 2) * 128 <= MOE_XBUDGET(m) ? 128 : ((m) + 2) * 64 <= MOE_XBUDGET(m) ? 64 : \
                     ((m) + 2) * 32 <= MOE_XBUDGET(m) ? 32 : 16)
#define MOE_XFLOATS(m) (((m) + 2) * MOE_SLAB(m))

#if (TILE_N % 16) != 0 || (MOE_CT % MOE_SGN) != 0 || (MOE_NW % MOE_CG != 0 && MOE_CG % MOE_NW != 0)
#error "moe_swiglu: TILE_N must be a multiple of 16, and SIMDGROUPS_PER_TG and the column groups must divide one another"
#endif

/* The by-value params block: metal-marlin's MoEParams (12 x uint32), same order. */
typedef struct MoEParams {
    moe_u32 batch;
    moe_u32 hidden;
    moe_u32 intermediate;
    moe_u32 num_experts;
    moe_u32 top_k;
    moe_u32 gate_bits;      /* the layer's tuple when uniform, 0 when mixed (then: meta buffer) */
    moe_u32 up_bits;
    moe_u32 down_bits;
    moe_u32 tile_size;      /* scale group size along K: 128 */
    moe_u32 gate_n_levels;
    moe_u32 up_n_levels;
    moe_u32 down_n_levels;
} MoEParams;

/* Whether expert e's widths (meta) fit a kernel specialised to GATE_BITS / UP_BITS / DOWN_BITS (always
 * when none is set). A tuple-specialised kernel cannot walk another width's blocks: it leaves an
 * expert whose bits differ (the output then fails verification) instead of reading past its block. */
MOE_FN int moe_widths_fit(MOE_G const moe_u32 *meta, const moe_u32 e)
{
#if GATE_BITS || UP_BITS || DOWN_BITS
    return !((GATE_BITS && meta[e * 8u + 0u] != (moe_u32)GATE_BITS) || (UP_BITS && meta[e * 8u + 1u] != (moe_u32)UP_BITS) ||
             (DOWN_BITS && meta[e * 8u + 2u] != (moe_u32)DOWN_BITS));
#else
    (void)meta;
    (void)e;
    return 1;
#endif
}

/* Projection K's (0 gate, 1 up, 2 down) width of expert E: the compile-time BITS when set, else meta's. */
#define MOE_WIDTH(META, E, K, BITS) ((BITS) ? (moe_u32)(BITS) : (META)[(E) * 8u + (K)])

/* Column c (0..15) of a b-bit tile is bits [c*16*b, c*16*b + 16*b) of the tile's stream. Those
 * bits lie inside the two 64-bit words from bit (c*16*b) & ~63: c*16*b mod 64 is 0 or 32 for even
 * b and a multiple of 16 for odd b, and (pos mod 64) + 16*b <= 128 for every b in 2..6. The second
 * word is read only when the bits reach it (then it lies inside the same tile, so nothing past a
 * block is read). Tiles are 32*b bytes and blocks start at multiples of 32 bytes, so the words are
 * 8-byte aligned. LO/HI receive the raw words, SH the shift. */
#define MOE_WIN(LO, HI, SH, TILEP, C, B, VALID) \
    do { \
        const moe_u32 pos_ = (C) * 16u * (B); \
        (SH) = pos_ & 63u; \
        (LO) = (VALID) ? moe_ld64((TILEP), pos_ >> 6) : (moe_u64)0; \
        (HI) = ((VALID) && (SH) + 16u * (B) > 64u) ? moe_ld64((TILEP), (pos_ >> 6) + 1u) : (moe_u64)0; \
    } while (0)

/* Align the window: V0 holds the next codes from bit 0, V1 the bits above 64. */
#define MOE_ALIGN(V0, V1, LO, HI, SH) \
    do { \
        (V0) = (SH) ? (((LO) >> (SH)) | ((HI) << (64u - (SH)))) : (LO); \
        (V1) = (HI) >> (SH); \
    } while (0)

/* Pop one b-bit code from the (V0, V1) 128-bit window. */
#define MOE_POP(CODE, V0, V1, B) \
    do { \
        (CODE) = (moe_u32)((V0) & (moe_u64)((1u << (B)) - 1u)); \
        (V0) = ((V0) >> (B)) | ((V1) << (64u - (B))); \
        (V1) = (V1) >> (B); \
    } while (0)

/* The next block of up to M of expert e's tokens into toks/tprob, by thread 0 alone (v2): decode
 * takes its one slot; grouped reads the host's sorted list; the others scan expert_ids. */
MOE_FN int moe_gather_serial(const int mode, const int M, const moe_u32 e, const moe_u32 slot,
                             MOE_G const moe_u32 *ids, MOE_G const moe_u16 *probs_in, const moe_u32 TK,
                             const moe_u32 end, MOE_P moe_u32 *cursor, MOE_L int *toks, MOE_L float *tprob,
                             MOE_L int *ctl, const moe_u32 tid)
{
    MOE_BARRIER();   /* the previous pass is done with toks, hbuf and the slab */
    if (tid == 0u) {
        moe_u32 c = *cursor;
        int m = 0;
        if (mode == MOE_MODE_DECODE) {
            if (c < end) {
                toks[0] = (int)(slot / TK);
                tprob[0] = moe_h2f(probs_in[slot]);
                m = 1;
            }
            c = end;
        } else if (mode == MOE_MODE_GROUPED) {
            while (m < M && c < end) {
                toks[m] = (int)ids[c];
                tprob[m] = moe_h2f(probs_in[c]);
                m++;
                c++;
            }
        } else {
            while (m < M && c < end) {
                if (ids[c] == e) {
                    toks[m] = (int)(c / TK);
                    tprob[m] = moe_h2f(probs_in[c]);
                    m++;
                }
                c++;
            }
        }
        ctl[0] = m;
        ctl[1] = (int)c;
    }
    MOE_BARRIER();
    *cursor = (moe_u32)ctl[1];
    return ctl[0];
}

#if V3
/* v3's gather, every thread at once. Grouped: thread m loads entry m of the sorted list. The
 * scanning modes: each round the threads test MOE_THREADS entries of expert_ids and append the
 * matches to a queue in toks/tprob (threadgroup atomic on ctl[2]) until it holds M or the list
 * ends; a pass takes the first M (ctl[0] remembers how many) and the next call moves the rest
 * (fewer than MOE_THREADS) to the front. toks/tprob hold M + MOE_THREADS entries. The order of the
 * tokens inside a block does not matter (each adds its own rows of the output). */
MOE_FN int moe_gather_par(const int mode, const int M, const moe_u32 e, MOE_G const moe_u32 *ids,
                          MOE_G const moe_u16 *probs_in, const moe_u32 TK, const moe_u32 end,
                          MOE_P moe_u32 *cursor, MOE_L int *toks, MOE_L float *tprob, MOE_L int *ctl,
                          const moe_u32 tid)
{
    MOE_BARRIER();   /* the previous pass is done with toks, hbuf and the slab */
    if (mode == MOE_MODE_GROUPED) {
        const moe_u32 c = *cursor;
        const int m = end - c < (moe_u32)M ? (int)(end - c) : M;
        if ((int)tid < m) {
            toks[tid] = (int)ids[c + tid];
            tprob[tid] = moe_h2f(probs_in[c + tid]);
        }
        *cursor = c + (moe_u32)m;
        MOE_BARRIER();
        return m;
    }
    const int prev = ctl[0], qn0 = ctl[2];
    const int mv = (int)tid < qn0 - prev;
    int kt = 0;
    float kp = 0.0f;
    if (mv) {
        kt = toks[prev + (int)tid];
        kp = tprob[prev + (int)tid];
    }
    MOE_BARRIER();
    if (mv) {
        toks[tid] = kt;
        tprob[tid] = kp;
    }
    if (tid == 0u)
        ctl[2] = qn0 - prev;
    int qn;
    for (;;) {
        MOE_BARRIER();
        qn = ctl[2];
        if (qn >= M || *cursor >= end)
            break;
        MOE_BARRIER();   /* every thread has read the length before it grows */
        const moe_u32 i = *cursor + tid;
        if (i < end && ids[i] == e) {
            const int q = moe_atomic_inc_l(ctl + 2);
            toks[q] = (int)(i / TK);
            tprob[q] = moe_h2f(probs_in[i]);
        }
        *cursor += MOE_THREADS;
    }
    const int m = qn < M ? qn : M;
    if (tid == 0u)
        ctl[0] = m;
    return m;
}
#endif

MOE_FN void moe_swiglu_run(const int mode, const int M,
    MOE_G const moe_u16 *act,
    MOE_G const moe_u32 *gw, MOE_G const moe_u16 *gs,
    MOE_G const moe_u32 *uw, MOE_G const moe_u16 *us,
    MOE_G const moe_u32 *dw, MOE_G const moe_u16 *ds,
    MOE_G const moe_u16 *gsu, MOE_G const moe_u16 *gsv,
    MOE_G const moe_u16 *usu, MOE_G const moe_u16 *usv,
    MOE_G const moe_u16 *dsu, MOE_G const moe_u16 *dsv,
    MOE_G const moe_u16 *grid,
    MOE_G const moe_u32 *ids,        /* expert_ids [batch*top_k], or sorted_token_ids (grouped) */
    MOE_G const moe_u32 *offs,       /* grouped: expert_offsets[E+1]; otherwise unused */
    MOE_G const moe_u16 *probs_in,   /* expert_probs, or sorted_probs (grouped) */
    MOE_G float *out,
    const MoEParams p,
    MOE_G const moe_u32 *meta,       /* per expert: gate/up/down bits, pad, gate/up/down byte offsets, pad */
    MOE_L float *hbuf, MOE_L float *xs, MOE_L float *gridl,
    MOE_L int *toks, MOE_L float *tprob, MOE_L int *ctl,
    const moe_u32 tid, const moe_u32 chunk, const moe_u32 slot)
{
    const moe_u32 H = p.hidden, I = p.intermediate, TK = p.top_k;
    const moe_u32 nassign = p.batch * p.top_k;
    /* decode: group y is a routing slot of the one token. Every other mode: group y is expert e,
     * which gathers all of e's tokens (host-sorted lists in grouped mode, a scan of expert_ids
     * otherwise), so e's weights are read once per token block instead of once per (token, slot). */
    moe_u32 e;
    if (mode == MOE_MODE_DECODE) {
        if (slot >= nassign)
            return;
        e = ids[slot];
    } else {
        e = slot;
    }
    if (e >= p.num_experts)
        return;
    if (!moe_widths_fit(meta, e))
        return;
    const moe_u32 gb = MOE_WIDTH(meta, e, 0u, GATE_BITS), ub = MOE_WIDTH(meta, e, 1u, UP_BITS);
    const moe_u32 db = MOE_WIDTH(meta, e, 2u, DOWN_BITS);
    MOE_G const moe_u32 *gwe = gw + meta[e * 8u + 4u] / 4u;
    MOE_G const moe_u32 *uwe = uw + meta[e * 8u + 5u] / 4u;
    MOE_G const moe_u32 *dwe = dw + meta[e * 8u + 6u] / 4u;
    const moe_u32 n0 = chunk * TILE_N;
    const moe_u32 SLAB = (moe_u32)MOE_SLAB(M);
    MOE_L float *sug = xs + M * MOE_SLAB(M);
    MOE_L float *suu = sug + MOE_SLAB(M);

    for (moe_u32 i = tid; i < 64u; i += MOE_THREADS)
        gridl[i] = moe_h2f(grid[i]);

    /* Thread map (moe_swiglu.h): lane = (hw, nin); warp w = (column group, K part). */
    const moe_u32 lane = tid & 31u, w = tid >> 5;
    const moe_u32 hw = lane >> 4, nin = lane & 15u;   /* half-warp, column in the tile */
#if MOE_NW >= MOE_CG
    const moe_u32 cg0 = w % (moe_u32)MOE_CG, kpart = w / (moe_u32)MOE_CG;
#else
    const moe_u32 cg0 = w, kpart = 0u;
#endif
    const moe_u32 np1 = 2u * MOE_KP;                 /* K parts of phase 1 */
    const int ch1 = M == 1 ? MOE_CH1 : MOE_CH1B, ch2 = M == 1 ? MOE_CH2 : MOE_CH2B;
    const moe_u32 part = kpart * 2u + hw;
    MOE_L float *hg = hbuf;
    MOE_L float *hu = hbuf + M * TILE_N;
    const moe_u32 tiles_n = I / 16u, tiles_nd = H / 16u;

    moe_u32 cursor = mode == MOE_MODE_GROUPED ? offs[e] : mode == MOE_MODE_DECODE ? slot : 0u;
    const moe_u32 end = mode == MOE_MODE_GROUPED ? offs[e + 1u] : nassign;

    if (tid == 0u) {
        ctl[0] = 0;   /* the parallel gather's queue: used by the last pass, length */
        ctl[2] = 0;
    }
    for (;;) {
#if V3
        const int mcount = mode == MOE_MODE_DECODE
            ? moe_gather_serial(mode, M, e, slot, ids, probs_in, TK, end, &cursor, toks, tprob, ctl, tid)
            : moe_gather_par(mode, M, e, ids, probs_in, TK, end, &cursor, toks, tprob, ctl, tid);
#else
        const int mcount = moe_gather_serial(mode, M, e, slot, ids, probs_in, TK, end, &cursor, toks, tprob, ctl, tid);
#endif
        if (mcount == 0)
            break;

        /* ---- phase 1: gate and up for TILE_N columns over the whole hidden K ---- */
        float accg[MOE_NCT][MOE_MBLK];
        float accu[MOE_NCT][MOE_MBLK];
MOE_UNROLL
        for (int t = 0; t < MOE_NCT; t++)
MOE_UNROLL
            for (int m = 0; m < M; m++) {
                accg[t][m] = 0.0f;
                accu[t][m] = 0.0f;
            }
        for (moe_u32 ks = 0; ks < H; ks += SLAB) {
            const moe_u32 rows = H - ks < SLAB ? H - ks : SLAB;
            MOE_BARRIER();   /* every lane is done with the previous slab */
            for (moe_u32 i = tid; i < (moe_u32)mcount * rows; i += MOE_THREADS) {
                const moe_u32 m = i / rows, k = i % rows;
                xs[m * SLAB + k] = moe_h2f(act[(moe_u32)toks[m] * H + ks + k]);
            }
            for (moe_u32 k = tid; k < rows; k += MOE_THREADS) {
                sug[k] = moe_h2f(gsu[e * H + ks + k]);
                suu[k] = moe_h2f(usu[e * H + ks + k]);
            }
            MOE_BARRIER();
            moe_u32 nkt = rows / 16u;
#ifdef MOE_TEST_DROP_LAST_K
            if (ks + rows == H)
                nkt -= 1u;   /* test only: a broken variant that skips the last K tile row */
#endif
            /* Part `part` takes the slab's tile rows part, part + np1, ...; MOE_CH1 at a time. */
            for (moe_u32 r0 = part; r0 < nkt; r0 += np1 * (moe_u32)ch1) {
                moe_u64 glo[MOE_CH1][MOE_NCT], ghi[MOE_CH1][MOE_NCT];
                moe_u64 ulo[MOE_CH1][MOE_NCT], uhi[MOE_CH1][MOE_NCT];
                moe_u32 gsh[MOE_CH1][MOE_NCT], ush[MOE_CH1][MOE_NCT];
                float gsc[MOE_CH1][MOE_NCT], usc[MOE_CH1][MOE_NCT];
                /* every load of the chunk first ... */
MOE_UNROLL
                for (int i = 0; i < MOE_CH1; i++) {
                    if (i >= ch1)
                        break;
                    const moe_u32 r = r0 + (moe_u32)i * np1;
                    const int valid = r < nkt;
                    const moe_u32 kt = ks / 16u + r;
MOE_UNROLL
                    for (int t = 0; t < MOE_NCT; t++) {
                        const moe_u32 ct = (cg0 + (moe_u32)(t / MOE_SGN) * MOE_NW) * MOE_SGN + (moe_u32)(t % MOE_SGN);
                        const moe_u32 tile = kt * tiles_n + n0 / 16u + ct;
                        const moe_u32 n = n0 + ct * 16u + nin;
                        MOE_WIN(glo[i][t], ghi[i][t], gsh[i][t], gwe + tile * 8u * gb, nin, gb, valid);
                        MOE_WIN(ulo[i][t], uhi[i][t], ush[i][t], uwe + tile * 8u * ub, nin, ub, valid);
                        const moe_u32 si = (e * (H / 128u) + kt / 8u) * I + n;
                        gsc[i][t] = valid ? moe_h2f(gs[si]) : 0.0f;
                        usc[i][t] = valid ? moe_h2f(us[si]) : 0.0f;
                    }
                }
                /* ... then decode in registers against the staged activations. */
MOE_UNROLL
                for (int i = 0; i < MOE_CH1; i++) {
                    const moe_u32 r = r0 + (moe_u32)i * np1;
                    if (i >= ch1 || r >= nkt)
                        break;
MOE_UNROLL
                    for (int t = 0; t < MOE_NCT; t++) {
                        moe_u64 g0, g1, u0, u1;
                        MOE_ALIGN(g0, g1, glo[i][t], ghi[i][t], gsh[i][t]);
                        MOE_ALIGN(u0, u1, ulo[i][t], uhi[i][t], ush[i][t]);
MOE_UNROLL_J
                        for (int j = 0; j < 16; j++) {
                            const moe_u32 k = r * 16u + (moe_u32)j;
                            moe_u32 cg, cu;
                            MOE_POP(cg, g0, g1, gb);
                            MOE_POP(cu, u0, u1, ub);
                            const float vg = gridl[cg] * sug[k] * gsc[i][t];
                            const float vu = gridl[cu] * suu[k] * usc[i][t];
MOE_UNROLL
                            for (int m = 0; m < M; m++) {
                                if (m >= mcount)
                                    break;   /* a partial token block does no work on its empty rows */
                                const float x = xs[(moe_u32)m * SLAB + k];
                                accg[t][m] += x * vg;
                                accu[t][m] += x * vu;
                            }
                        }
                    }
                }
            }
        }
        /* Sum the K parts in threadgroup memory, one part at a time (no atomics needed). */
        for (moe_u32 q = 0; q < np1; q++) {
            if (part == q) {
MOE_UNROLL
                for (int t = 0; t < MOE_NCT; t++) {
                    const moe_u32 ct = (cg0 + (moe_u32)(t / MOE_SGN) * MOE_NW) * MOE_SGN + (moe_u32)(t % MOE_SGN);
                    const moe_u32 c = ct * 16u + nin;
MOE_UNROLL
                    for (int m = 0; m < M; m++) {
                        if (m >= mcount)
                            break;
                        if (q == 0u) {
                            hg[m * TILE_N + (int)c] = accg[t][m];
                            hu[m * TILE_N + (int)c] = accu[t][m];
                        } else {
                            hg[m * TILE_N + (int)c] += accg[t][m];
                            hu[m * TILE_N + (int)c] += accu[t][m];
                        }
                    }
                }
            }
            MOE_BARRIER();
        }
        /* SwiGLU in place, with down's su of the row folded in. */
        for (moe_u32 i = tid; i < (moe_u32)mcount * TILE_N; i += MOE_THREADS) {
            const moe_u32 n = n0 + i % TILE_N;
            const float g = hg[i] * moe_h2f(gsv[e * I + n]);
            const float u = hu[i] * moe_h2f(usv[e * I + n]);
            hg[i] = g / (1.0f + MOE_EXP(-g)) * u * moe_h2f(dsu[e * I + n]);
        }
        MOE_BARRIER();

        /* ---- phase 2: down rows n0..n0+TILE_N over every hidden column ---- */
        /* Lane (hw, nin) of warp w takes output tiles w*2 + half, + 2*NW, ...; MOE_CH2 at a time. */
        const moe_u32 np2 = 2u * MOE_NW;
        const moe_u32 dsrow = (e * (I / 128u) + n0 / 128u) * H;   /* TILE_N <= 128 divides 128 */
        for (moe_u32 t0 = w * 2u + hw; t0 < tiles_nd; t0 += np2 * (moe_u32)ch2) {
            moe_u64 dlo[MOE_CH2][MOE_CT], dhi[MOE_CH2][MOE_CT];
            moe_u32 dsh[MOE_CH2][MOE_CT];
            float dsc[MOE_CH2];
MOE_UNROLL
            for (int i = 0; i < MOE_CH2; i++) {
                if (i >= ch2)
                    break;
                const moe_u32 tn = t0 + (moe_u32)i * np2;
                const int valid = tn < tiles_nd;
                const moe_u32 n = tn * 16u + nin;
MOE_UNROLL
                for (int kt = 0; kt < MOE_CT; kt++) {
                    const moe_u32 tile = (n0 / 16u + (moe_u32)kt) * tiles_nd + tn;
                    MOE_WIN(dlo[i][kt], dhi[i][kt], dsh[i][kt], dwe + tile * 8u * db, nin, db, valid);
                }
                dsc[i] = valid ? moe_h2f(ds[dsrow + n]) * moe_h2f(dsv[e * H + n]) : 0.0f;
            }
MOE_UNROLL
            for (int i = 0; i < MOE_CH2; i++) {
                const moe_u32 tn = t0 + (moe_u32)i * np2;
                if (i >= ch2 || tn >= tiles_nd)
                    break;
                float acc[MOE_MBLK];
MOE_UNROLL
                for (int m = 0; m < M; m++)
                    acc[m] = 0.0f;
MOE_UNROLL
                for (int kt = 0; kt < MOE_CT; kt++) {
                    moe_u64 v0, v1;
                    MOE_ALIGN(v0, v1, dlo[i][kt], dhi[i][kt], dsh[i][kt]);
MOE_UNROLL_J
                    for (int j = 0; j < 16; j++) {
                        moe_u32 c;
                        MOE_POP(c, v0, v1, db);
                        const float wv = gridl[c];
MOE_UNROLL
                        for (int m = 0; m < M; m++) {
                            if (m >= mcount)
                                break;
                            acc[m] += hg[m * TILE_N + kt * 16 + j] * wv;
                        }
                    }
                }
                const moe_u32 n = tn * 16u + nin;
MOE_UNROLL
                for (int m = 0; m < M; m++) {
                    if (m >= mcount)
                        break;
                    moe_atomic_add_f32(out + (moe_u32)toks[m] * H + n, tprob[m] * acc[m] * dsc[i]);
                }
            }
        }
        if (mode == MOE_MODE_DECODE)
            break;
    }
}
