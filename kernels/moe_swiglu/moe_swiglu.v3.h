/* moe_swiglu.v3.h - the v3 decode kernel of the moe_swiglu family (issue 16), in the portable
 * subset (moe_swiglu.names.h), assembled after moe_swiglu.body.h (it reuses MOE_WIN / MOE_ALIGN and
 * the thread-map macros). Contract, knobs and the side-data layout: moe_swiglu.h.
 *
 * What v3 changes at decode (V3=1), against the v2 structure of moe_swiglu.body.h:
 *   - SPLIT_K groups share one (slot, TILE_N chunk): each sums H/SPLIT_K rows of gate and up, adds
 *     its partial sums into a scratch buffer with float atomics and counts itself in; the last to
 *     arrive reads the sums (exchanging them with 0, so the scratch is clean for the next launch),
 *     applies SwiGLU and runs down for the chunk. SPLIT_K=1 keeps it all in one group.
 *   - x * su is staged once per slab for gate and for up, so the inner loop is one code extraction,
 *     one grid lookup and one FMA per weight; the 16 products of a tile are summed first and the
 *     scale applied once per tile.
 *   - Code extraction is specialised per bit width (a switch on the expert's bits, uniform over
 *     the group): every shift is a compile-time constant once the 16-code loop is unrolled.
 *   - GRID_COPIES=32 keeps one copy of the 64-entry grid per shared-memory bank, so the 6-bit
 *     lookups of 32 lanes never conflict (with one copy, codes c and c+32 share a bank).
 *   - SIDE=1 reads the workload's side buffer (moe_swiglu.h, "SIDE DATA"): gate and up scales with
 *     sv folded in, paired in one 32-bit word; su signs as bits, 32 to a word; down scales with sv
 *     folded in. SIDE=0 reads metal-marlin's own scales / su / sv buffers.
 *   - A K part owns contiguous tile rows, so a lane's rows of a chunk share one scale group.
 *   - PAIR (2- and 3-bit codes): down reads a pair-sum table of h (PAIR >= 1), gate/up static pair
 *     tables (PAIR 2), so two weights cost one extraction and one lookup; OCC_WARPS asks ptxas for
 *     more resident warps (CUDA's __launch_bounds__).
 *   - PREFETCH 1 software-pipelines phase 1 (the next chunk's loads into a second register set before
 *     the current chunk's decode; a slab's first chunk before its staging barriers); 2 also loads
 *     down's first chunk before the join. The sums are the same, in the same order, as PREFETCH 0.
 *   - XVEC 1 reads phase 1's staged x*su 16 bytes at a time (threadgroup load instructions are a
 *     quarter of phase 1's x reads; the staging area is declared as float4 for the alignment).
 */
#ifndef V3
#define V3 0
#endif
#ifndef SPLIT_K
#define SPLIT_K 1
#endif
#ifndef SIDE
#define SIDE 0
#endif
#ifndef GRID_COPIES
#define GRID_COPIES 1
#endif
#ifndef P2_SPREAD
#define P2_SPREAD 0
#endif
#ifndef PAIR
#define PAIR 0
#endif
#ifndef OCC_WARPS
#define OCC_WARPS 0
#endif
#if PAIR < 0 || PAIR > 2
#error "moe_swiglu: PAIR must be 0, 1 or 2"
#endif
#ifndef PREFETCH
#define PREFETCH 0
#endif
#if PREFETCH < 0 || PREFETCH > 2
#error "moe_swiglu: PREFETCH must be 0, 1 or 2"
#endif
#if PREFETCH == 2 && (V3 != 1 || SPLIT_K != 1)
#error "moe_swiglu: PREFETCH 2 needs V3=1 and SPLIT_K 1"
#endif
#ifndef XVEC
#define XVEC 0
#endif
#if XVEC < 0 || XVEC > 1
#error "moe_swiglu: XVEC must be 0 or 1"
#endif
/* x*su element K (compile-time once unrolled) of a chunk's staged rows at XL (16-byte aligned). XVEC 1:
 * from one 16-byte threadgroup load per 4 elements (the compiler merges the repeated loads of one
 * float4), instead of one 4-byte load per element: a quarter of phase 1's x loads. */
#if XVEC
#define MOE3_XK(XL, K) \
    (((K) & 3) == 0 ? ((MOE_L const float4 *)(XL))[(K) >> 2].x : ((K) & 3) == 1 ? ((MOE_L const float4 *)(XL))[(K) >> 2].y : \
     ((K) & 3) == 2 ? ((MOE_L const float4 *)(XL))[(K) >> 2].z : ((MOE_L const float4 *)(XL))[(K) >> 2].w)
#else
#define MOE3_XK(XL, K) (XL)[K]
#endif
/* OCC_WARPS (CUDA): resident warps per SM asked of the register allocator through
 * __launch_bounds__'s second argument (groups per SM); 0 leaves it out (an explicit 1 is not the
 * same: ptxas then allows itself 177 registers where it takes 80 without it). */
#if OCC_WARPS
#define MOE3_MINB (OCC_WARPS / MOE_NW > 1 ? OCC_WARPS / MOE_NW : 1)
#endif
/* PAIR >= 2: pair tables in threadgroup memory, (grid[c0], grid[c1]) at entry c0 | c1 << b, for
 * b = 2 (16 pairs, floats 0..31) and b = 3 (64 pairs, floats 32..159). */
#define MOE3_PAIRF 160
#define MOE3_PAIRB(B) ((B) == 2 ? 0 : 32)
#if P2_SPREAD && SPLIT_K < 2
#error "moe_swiglu: P2_SPREAD needs SPLIT_K >= 2"
#endif
#if GRID_COPIES == 1
#define MOE3_GCL 0
#elif GRID_COPIES == 32
#define MOE3_GCL 5
#else
#error "moe_swiglu: GRID_COPIES must be 1 or 32"
#endif
#if SPLIT_K < 1 || SPLIT_K > 16
#error "moe_swiglu: SPLIT_K must be 1..16"
#endif

#define MOE3_SLAB 2048                               /* hidden rows of x*su staged at once */
#define MOE3_NP1 (2 * MOE_KP)                        /* K parts of a group */
#define MOE3_HP (MOE3_NP1 * 2 * TILE_N)              /* floats: every part's gate and up sums */
/* Column tile t of a lane (the v2 map): column group cg0, then every MOE_NW-th group. */
#define MOE3_CT(CG0, T) (((CG0) + (moe_u32)((T) / MOE_SGN) * MOE_NW) * MOE_SGN + (moe_u32)((T) % MOE_SGN))
/* Code J (compile-time once unrolled) of width B (compile-time) from the aligned window (V0, V1). */
#define MOE3_CODE(V0, V1, J, B) \
    ((moe_u32)((J) * (B) + (B) <= 64 ? ((V0) >> ((moe_u32)((J) * (B)) & 63u)) : \
               (J) * (B) >= 64 ? ((V1) >> ((moe_u32)((J) * (B) - 64) & 63u)) : \
               (((V0) >> ((moe_u32)((J) * (B)) & 63u)) | ((V1) << ((moe_u32)(64 - (J) * (B)) & 63u)))) & \
     ((1u << (B)) - 1u))
#define MOE3_GRID(C) gridl[((C) << MOE3_GCL) | lg]
/* Side buffer of one expert (32-bit words): gu scales [H/128][I], down scales (halves) [I/128][H] at
 * MOE3_SIDE_DSC, su bits of gate and up [H/32][2] at MOE3_SIDE_GUSU, su bits of down [I/32] at
 * MOE3_SIDE_DSU. */
#define MOE3_SIDE_DSC(H, I) ((H) / 128u * (I))
#define MOE3_SIDE_GUSU(H, I) (MOE3_SIDE_DSC(H, I) + (I) / 128u * (H) / 2u)
#define MOE3_SIDE_DSU(H, I) (MOE3_SIDE_GUSU(H, I) + (H) / 16u)
#define MOE3_SIDE_WORDS(H, I) (MOE3_SIDE_DSU(H, I) + (I) / 32u)

/* Dispatch a width-specialised macro on run-time bits (2..6; uniform over the group). */
#define MOE3_SWITCH(BITS, MAC, ...) \
    switch (BITS) { \
    case 2: MAC(2, __VA_ARGS__); break; \
    case 3: MAC(3, __VA_ARGS__); break; \
    case 4: MAC(4, __VA_ARGS__); break; \
    case 5: MAC(5, __VA_ARGS__); break; \
    case 6: MAC(6, __VA_ARGS__); break; \
    default: break; \
    }

/* Phase 1 decode of one projection's chunk: tile row i of the chunk, column tile t. XL: x*su of
 * the chunk's first row. The tile's 16 products are summed, then scaled once. */
#define MOE3_DOT1(B, ACC, LO, HI, SH, SC, XL) \
    do { \
MOE_UNROLL \
        for (int i_ = 0; i_ < MOE_CH1; i_++) { \
            if (i_ >= nval) \
                break; \
            moe_u64 v0_[MOE_NCT], v1_[MOE_NCT]; \
            float s_[MOE_NCT]; \
MOE_UNROLL \
            for (int t_ = 0; t_ < MOE_NCT; t_++) { \
                MOE_ALIGN(v0_[t_], v1_[t_], LO[i_][t_], HI[i_][t_], SH[i_][t_]); \
                s_[t_] = 0.0f; \
            } \
MOE_UNROLL \
            for (int j_ = 0; j_ < 16; j_++) { \
                const float xk_ = MOE3_XK(XL, i_ * 16 + j_); \
MOE_UNROLL \
                for (int t_ = 0; t_ < MOE_NCT; t_++) \
                    s_[t_] = fw_fma(MOE3_GRID(MOE3_CODE(v0_[t_], v1_[t_], j_, B)), xk_, s_[t_]); \
            } \
MOE_UNROLL \
            for (int t_ = 0; t_ < MOE_NCT; t_++) \
                ACC[t_] = fw_fma(s_[t_], SC[i_][t_], ACC[t_]); \
        } \
    } while (0)

/* PAIR >= 2, widths 2 and 3: one lookup gives two weights. The codes of rows k, k+1 are adjacent
 * in a lane's window, so bits [j*2b, j*2b + 2b) index the pair table (MOE3_PAIRF) directly. */
#define MOE3_DOT1P(B, ACC, LO, HI, SH, SC, XL) \
    do { \
MOE_UNROLL \
        for (int i_ = 0; i_ < MOE_CH1; i_++) { \
            if (i_ >= nval) \
                break; \
            moe_u64 v0_[MOE_NCT], v1_[MOE_NCT]; \
            float s_[MOE_NCT]; \
MOE_UNROLL \
            for (int t_ = 0; t_ < MOE_NCT; t_++) { \
                MOE_ALIGN(v0_[t_], v1_[t_], LO[i_][t_], HI[i_][t_], SH[i_][t_]); \
                s_[t_] = 0.0f; \
            } \
MOE_UNROLL \
            for (int j_ = 0; j_ < 8; j_++) { \
                const float x0_ = MOE3_XK(XL, i_ * 16 + 2 * j_), x1_ = MOE3_XK(XL, i_ * 16 + 2 * j_ + 1); \
MOE_UNROLL \
                for (int t_ = 0; t_ < MOE_NCT; t_++) { \
                    const moe_u32 c_ = MOE3_PAIRB(B) + 2u * MOE3_CODE(v0_[t_], v1_[t_], j_, 2 * (B)); \
                    s_[t_] = fw_fma(pairl[c_ + 1u], x1_, fw_fma(pairl[c_], x0_, s_[t_])); \
                } \
            } \
MOE_UNROLL \
            for (int t_ = 0; t_ < MOE_NCT; t_++) \
                ACC[t_] = fw_fma(s_[t_], SC[i_][t_], ACC[t_]); \
        } \
    } while (0)

/* Dispatch on run-time bits: widths 2 and 3 to MACP, 4..6 to MAC. */
#define MOE3_SWITCH_P(BITS, MACP, MAC, ...) \
    switch (BITS) { \
    case 2: MACP(2, __VA_ARGS__); break; \
    case 3: MACP(3, __VA_ARGS__); break; \
    case 4: MAC(4, __VA_ARGS__); break; \
    case 5: MAC(5, __VA_ARGS__); break; \
    case 6: MAC(6, __VA_ARGS__); break; \
    default: break; \
    }

/* x*su of hidden row kk (x: the token's activation there) for gate and up: SIDE 1 flips x's sign by
 * the side buffer's su bits (gate and up words interleaved, 32 rows a word), SIDE 0 multiplies by
 * metal-marlin's su halves. V3=1's and V3=3's staging both read x*su through it. */
typedef struct moe3_xsu {
    float g, u;
} moe3_xsu;

MOE_FN moe3_xsu moe3_xsu_of(const float x, const moe_u32 kk, MOE_G const moe_u16 *gsu_e, MOE_G const moe_u16 *usu_e,
                            MOE_G const moe_u32 *subits)
{
    moe3_xsu r;
#if SIDE
    const moe_u32 wg = subits[(kk / 32u) * 2u], wu = subits[(kk / 32u) * 2u + 1u];
    r.g = fw_as_float(fw_as_uint(x) ^ (((wg >> (kk & 31u)) & 1u) << 31));
    r.u = fw_as_float(fw_as_uint(x) ^ (((wu >> (kk & 31u)) & 1u) << 31));
    (void)gsu_e;
    (void)usu_e;
#else
    r.g = x * moe_h2f(gsu_e[kk]);
    r.u = x * moe_h2f(usu_e[kk]);
    (void)subits;
#endif
    return r;
}

/* Stage x*su of rows ks .. ks+rows of the token (gate at xsh[0..], up at xsh[MOE3_SLAB..]). */
MOE_FN void moe3_stage(MOE_G const moe_u16 *xa, const moe_u32 ks, const moe_u32 rows,
                       MOE_G const moe_u16 *gsu_e, MOE_G const moe_u16 *usu_e, MOE_G const moe_u32 *subits,
                       MOE_L float *xsh, const moe_u32 tid)
{
    for (moe_u32 k = tid; k < rows; k += MOE_THREADS) {
        const moe3_xsu v = moe3_xsu_of(moe_h2f(xa[ks + k]), ks + k, gsu_e, usu_e, subits);
        xsh[k] = v.g;
        xsh[MOE3_SLAB + k] = v.u;
    }
}

/* Phase 1's register set: one chunk's gate/up windows and scales. moe3_p1_chunk loads one and decodes
 * it; PREFETCH >= 1 (phase 1 software-pipelined) loads the next chunk's set before the current one is
 * decoded, and a slab's first chunk before the slab's staging barriers, so loads stay in flight
 * through the decode and the barriers. */
typedef struct moe3_p1set {
    moe_u64 glo[MOE_CH1][MOE_NCT], ghi[MOE_CH1][MOE_NCT], ulo[MOE_CH1][MOE_NCT], uhi[MOE_CH1][MOE_NCT];
    moe_u32 gsh[MOE_CH1][MOE_NCT], ush[MOE_CH1][MOE_NCT];
    float gs_[MOE_CH1][MOE_NCT], us_[MOE_CH1][MOE_NCT];
} moe3_p1set;

/* The loads of moe3_p1_chunk into r: nval (0..MOE_CH1) tile rows from global tile row kt0 (rows past
 * nval load nothing and read as zero). */
MOE_FN void moe3_p1_load(MOE_P moe3_p1set *r, MOE_G const moe_u32 *gwe, MOE_G const moe_u32 *uwe,
                         const moe_u32 gb, const moe_u32 ub, MOE_G const moe_u16 *gsc, MOE_G const moe_u16 *usc,
                         MOE_G const moe_u32 *gusc, const moe_u32 I, const moe_u32 kt0, const int nval,
                         const moe_u32 n0, const moe_u32 cg0, const moe_u32 nin)
{
    const moe_u32 tiles_n = I / 16u;
MOE_UNROLL
    for (int i = 0; i < MOE_CH1; i++) {
        const int valid = i < nval;
        const moe_u32 kt = kt0 + (moe_u32)i;
MOE_UNROLL
        for (int t = 0; t < MOE_NCT; t++) {
            const moe_u32 ct = MOE3_CT(cg0, t);
            const moe_u32 tile = kt * tiles_n + n0 / 16u + ct;
            const moe_u32 si = (kt / 8u) * I + n0 + ct * 16u + nin;
            MOE_WIN(r->glo[i][t], r->ghi[i][t], r->gsh[i][t], gwe + tile * 8u * gb, nin, gb, valid);
            MOE_WIN(r->ulo[i][t], r->uhi[i][t], r->ush[i][t], uwe + tile * 8u * ub, nin, ub, valid);
#if SIDE
            const moe_u32 wsc = valid ? gusc[si] : 0u;
            r->gs_[i][t] = moe_h2f(wsc & 0xffffu);
            r->us_[i][t] = moe_h2f(wsc >> 16);
            (void)gsc;
            (void)usc;
#else
            r->gs_[i][t] = valid ? moe_h2f(gsc[si]) : 0.0f;
            r->us_[i][t] = valid ? moe_h2f(usc[si]) : 0.0f;
            (void)gusc;
#endif
        }
    }
}

/* The decode of moe3_p1_chunk from r (loaded by moe3_p1_load with the same nval). */
MOE_FN void moe3_p1_dec(MOE_P const moe3_p1set *r, const moe_u32 gb, const moe_u32 ub, const int nval,
                        MOE_L const float *xl, MOE_L const float *gridl, MOE_L const float *pairl, const moe_u32 lg,
                        MOE_P float *accg, MOE_P float *accu)
{
#if PAIR >= 2
    MOE3_SWITCH_P(gb, MOE3_DOT1P, MOE3_DOT1, accg, r->glo, r->ghi, r->gsh, r->gs_, xl)
    MOE3_SWITCH_P(ub, MOE3_DOT1P, MOE3_DOT1, accu, r->ulo, r->uhi, r->ush, r->us_, (xl + MOE3_SLAB))
#else
    MOE3_SWITCH(gb, MOE3_DOT1, accg, r->glo, r->ghi, r->gsh, r->gs_, xl)
    MOE3_SWITCH(ub, MOE3_DOT1, accu, r->ulo, r->uhi, r->ush, r->us_, (xl + MOE3_SLAB))
    (void)pairl;
#endif
}

/* Phase 1, one chunk of a part: nval (<= MOE_CH1) tile rows from global tile row kt0, gate and up,
 * every load first, then the width-specialised decode. gsc/usc (SIDE 0) or gusc (SIDE 1): the
 * expert's scale rows [H/128][I]. xl: x*su of the chunk's first row (gate; up MOE3_SLAB later). */
MOE_FN void moe3_p1_chunk(MOE_G const moe_u32 *gwe, MOE_G const moe_u32 *uwe, const moe_u32 gb, const moe_u32 ub,
                          MOE_G const moe_u16 *gsc, MOE_G const moe_u16 *usc, MOE_G const moe_u32 *gusc,
                          const moe_u32 I, const moe_u32 kt0, const int nval, const moe_u32 n0,
                          const moe_u32 cg0, const moe_u32 nin, MOE_L const float *xl,
                          MOE_L const float *gridl, MOE_L const float *pairl, const moe_u32 lg, MOE_P float *accg,
                          MOE_P float *accu)
{
    moe3_p1set r;
    moe3_p1_load(&r, gwe, uwe, gb, ub, gsc, usc, gusc, I, kt0, nval, n0, cg0, nin);
    moe3_p1_dec(&r, gb, ub, nval, xl, gridl, pairl, lg, accg, accu);
}

/* Down's decode of NKT K tiles x NO output tiles of width B against h (HL, shared): ACC[o] +=
 * grid[code] * h over the tiles' 16 rows. Phase 2 of V3=1 (MOE3_DOT2) and V3=2's down items
 * (MOE3T_DOTB, moe_swiglu.v3t.h) are this with their own tile counts. */
#define MOE3_DOTH(B, ACC, LO, HI, SH, HL, NKT, NO) \
    do { \
MOE_UNROLL \
        for (int kt_ = 0; kt_ < (NKT); kt_++) { \
            moe_u64 v0_[NO], v1_[NO]; \
MOE_UNROLL \
            for (int i_ = 0; i_ < (NO); i_++) \
                MOE_ALIGN(v0_[i_], v1_[i_], LO[i_][kt_], HI[i_][kt_], SH[i_][kt_]); \
MOE_UNROLL \
            for (int j_ = 0; j_ < 16; j_++) { \
                const float hv_ = (HL)[kt_ * 16 + j_]; \
MOE_UNROLL \
                for (int i_ = 0; i_ < (NO); i_++) \
                    ACC[i_] = fw_fma(MOE3_GRID(MOE3_CODE(v0_[i_], v1_[i_], j_, B)), hv_, ACC[i_]); \
            } \
        } \
    } while (0)

/* Phase 2 decode of one chunk: CH2 output tiles x MOE_CT K tiles of down against h (shared). */
#define MOE3_DOT2(B, ACC, LO, HI, SH) MOE3_DOTH(B, ACC, LO, HI, SH, hl, MOE_CT, MOE_CH2)

/* PAIR >= 1, down widths 2 and 3: lut[kp][c0 | c1 << b] = grid[c0] * h[2kp] + grid[c1] * h[2kp+1]
 * (moe3_build_lut), so a pair of weights costs one extraction of 2b bits, one lookup and one add. */
#define MOE3_DOT2L(B, ACC, LO, HI, SH) \
    do { \
MOE_UNROLL \
        for (int kt_ = 0; kt_ < MOE_CT; kt_++) { \
            moe_u64 v0_[MOE_CH2], v1_[MOE_CH2]; \
MOE_UNROLL \
            for (int i_ = 0; i_ < MOE_CH2; i_++) \
                MOE_ALIGN(v0_[i_], v1_[i_], LO[i_][kt_], HI[i_][kt_], SH[i_][kt_]); \
MOE_UNROLL \
            for (int j_ = 0; j_ < 8; j_++) { \
MOE_UNROLL \
                for (int i_ = 0; i_ < MOE_CH2; i_++) \
                    ACC[i_] += lut[((moe_u32)(kt_ * 8 + j_) << (2 * (B))) + MOE3_CODE(v0_[i_], v1_[i_], j_, 2 * (B))]; \
            } \
        } \
    } while (0)

/* PAIR >= 1: the pair-sum table of the chunk's h for down widths 2 and 3 (TILE_N/2 pairs x 4^b
 * floats <= 4096, in xsh, free after phase 1), then a barrier every thread reaches. */
MOE_FN void moe3_build_lut(MOE_L float *lut, MOE_L const float *hs, MOE_L const float *gridl, const moe_u32 db,
                           const int need, const moe_u32 tid)
{
    const moe_u32 b = db == 2u || db == 3u ? db : 0u;
    const moe_u32 m = (1u << b) - 1u, n = need && b ? (moe_u32)(TILE_N / 2) << (2u * b) : 0u;
    for (moe_u32 i = tid; i < n; i += MOE_THREADS) {
        const moe_u32 kp = i >> (2u * b), c0 = i & m, c1 = (i >> b) & m;
        lut[i] = fw_fma(gridl[c1 << MOE3_GCL], hs[2u * kp + 1u], gridl[c0 << MOE3_GCL] * hs[2u * kp]);
    }
    MOE_BARRIER();
}

/* Phase 2, one chunk: output tiles t0, t0 + np2, ... below te (MOE_CH2 of them) of the TILE_N down rows at
 * n0; dsr: the down scale row of the chunk's group (sv folded in when SIDE), dsvp: down sv (SIDE 0). */
MOE_FN void moe3_p2_chunk(MOE_G const moe_u32 *dwe, const moe_u32 db, MOE_G const moe_u16 *dsr,
                          MOE_G const moe_u16 *dsvp, const moe_u32 t0, const moe_u32 te, const moe_u32 np2,
                          const moe_u32 H,
                          const moe_u32 n0, const moe_u32 nin, MOE_L const float *hl, MOE_L const float *gridl,
                          MOE_L const float *lut, const moe_u32 lg, MOE_G float *orow, const float prob)
{
    const moe_u32 tiles_nd = H / 16u;
    moe_u64 dlo[MOE_CH2][MOE_CT], dhi[MOE_CH2][MOE_CT];
    moe_u32 dsh[MOE_CH2][MOE_CT];
    float dsc[MOE_CH2], acc[MOE_CH2];
MOE_UNROLL
    for (int i = 0; i < MOE_CH2; i++) {
        const moe_u32 tn = t0 + (moe_u32)i * np2;
        const int valid = tn < te;
        const moe_u32 n = tn * 16u + nin;
MOE_UNROLL
        for (int kt = 0; kt < MOE_CT; kt++) {
            const moe_u32 tile = (n0 / 16u + (moe_u32)kt) * tiles_nd + tn;
            MOE_WIN(dlo[i][kt], dhi[i][kt], dsh[i][kt], dwe + tile * 8u * db, nin, db, valid);
        }
#if SIDE
        dsc[i] = valid ? moe_h2f(dsr[n]) : 0.0f;
        (void)dsvp;
#else
        dsc[i] = valid ? moe_h2f(dsr[n]) * moe_h2f(dsvp[n]) : 0.0f;
#endif
        acc[i] = 0.0f;
    }
#if PAIR >= 1
    MOE3_SWITCH_P(db, MOE3_DOT2L, MOE3_DOT2, acc, dlo, dhi, dsh)
#else
    MOE3_SWITCH(db, MOE3_DOT2, acc, dlo, dhi, dsh)
    (void)lut;
#endif
MOE_UNROLL
    for (int i = 0; i < MOE_CH2; i++) {
        const moe_u32 tn = t0 + (moe_u32)i * np2;
        if (tn < te)
            moe_atomic_add_f32(orow + tn * 16u + nin, prob * acc[i] * dsc[i]);
    }
}

#if PREFETCH == 2
/* PREFETCH 2: phase 2's first chunk of down windows and scales in a register set, loaded before the
 * join (down does not depend on h), so its loads are in flight through the join, SwiGLU and table
 * barriers. moe3_p2_load / moe3_p2_dec are moe3_p2_chunk's two halves. */
typedef struct moe3_p2set {
    moe_u64 dlo[MOE_CH2][MOE_CT], dhi[MOE_CH2][MOE_CT];
    moe_u32 dsh[MOE_CH2][MOE_CT];
    float dsc[MOE_CH2];
} moe3_p2set;

MOE_FN void moe3_p2_load(MOE_P moe3_p2set *r, MOE_G const moe_u32 *dwe, const moe_u32 db, MOE_G const moe_u16 *dsr,
                         MOE_G const moe_u16 *dsvp, const moe_u32 t0, const moe_u32 te, const moe_u32 np2,
                         const moe_u32 H, const moe_u32 n0, const moe_u32 nin)
{
    const moe_u32 tiles_nd = H / 16u;
MOE_UNROLL
    for (int i = 0; i < MOE_CH2; i++) {
        const moe_u32 tn = t0 + (moe_u32)i * np2;
        const int valid = tn < te;
        const moe_u32 n = tn * 16u + nin;
MOE_UNROLL
        for (int kt = 0; kt < MOE_CT; kt++) {
            const moe_u32 tile = (n0 / 16u + (moe_u32)kt) * tiles_nd + tn;
            MOE_WIN(r->dlo[i][kt], r->dhi[i][kt], r->dsh[i][kt], dwe + tile * 8u * db, nin, db, valid);
        }
#if SIDE
        r->dsc[i] = valid ? moe_h2f(dsr[n]) : 0.0f;
        (void)dsvp;
#else
        r->dsc[i] = valid ? moe_h2f(dsr[n]) * moe_h2f(dsvp[n]) : 0.0f;
#endif
    }
}

MOE_FN void moe3_p2_dec(MOE_P const moe3_p2set *r, const moe_u32 db, const moe_u32 t0, const moe_u32 te,
                        const moe_u32 np2, const moe_u32 nin, MOE_L const float *hl, MOE_L const float *gridl,
                        MOE_L const float *lut, const moe_u32 lg, MOE_G float *orow, const float prob)
{
    float acc[MOE_CH2];
MOE_UNROLL
    for (int i = 0; i < MOE_CH2; i++)
        acc[i] = 0.0f;
#if PAIR >= 1
    MOE3_SWITCH_P(db, MOE3_DOT2L, MOE3_DOT2, acc, r->dlo, r->dhi, r->dsh)
#else
    MOE3_SWITCH(db, MOE3_DOT2, acc, r->dlo, r->dhi, r->dsh)
    (void)lut;
#endif
MOE_UNROLL
    for (int i = 0; i < MOE_CH2; i++) {
        const moe_u32 tn = t0 + (moe_u32)i * np2;
        if (tn < te)
            moe_atomic_add_f32(orow + tn * 16u + nin, prob * acc[i] * r->dsc[i]);
    }
}
#endif

/* The K parts' sums into hs[0 .. 2*TILE_N) (gate, then up); with SPLIT_K > 1 through the scratch
 * buffer: returns 0 in every group but the last of the chunk to arrive (which must go on). A group
 * that is not active (P2_SPREAD's extra chunk) passes the barriers and returns 0. Every barrier
 * here and in the callers is reached by the whole group unconditionally (PoCL mishandles barriers
 * behind early returns and some conditionals). */
MOE_FN int moe3_join(MOE_P const float *accg, MOE_P const float *accu, MOE_L float *hp, MOE_L float *hs,
                     MOE_G float *scr, MOE_L int *ctl, const moe_u32 TK, const moe_u32 I, const moe_u32 slot,
                     const moe_u32 chunk, const moe_u32 n0, const moe_u32 part, const moe_u32 cg0,
                     const moe_u32 nin, const int active, const moe_u32 tid)
{
MOE_UNROLL
    for (int t = 0; t < MOE_NCT; t++) {
        const moe_u32 c = MOE3_CT(cg0, t) * 16u + nin;
        hp[part * 2u * TILE_N + c] = accg[t];
        hp[part * 2u * TILE_N + TILE_N + c] = accu[t];
    }
    MOE_BARRIER();
    for (moe_u32 i = tid; i < (active ? 2u * TILE_N : 0u); i += MOE_THREADS) {
        float s = 0.0f;
        for (moe_u32 q = 0; q < (moe_u32)MOE3_NP1; q++)
            s += hp[q * 2u * TILE_N + i];
#if SPLIT_K > 1
        moe_atomic_add_f32(scr + (slot * 2u + i / TILE_N) * I + n0 + i % TILE_N, s);
#else
        hs[i] = s;
#endif
    }
    int last = 1;
#if SPLIT_K > 1
    MOE_GLOBAL_FENCE();
    MOE_BARRIER();
    MOE_G moe_u32 *cnt = (MOE_G moe_u32 *)(scr + TK * 2u * I) + slot * (I / 16u) + chunk;
    if (tid == 0u)
        ctl[0] = active && moe_atomic_inc_g(cnt) == (moe_u32)(SPLIT_K - 1);
    MOE_BARRIER();
    last = ctl[0];
    if (last) {
        MOE_GLOBAL_FENCE();
        for (moe_u32 i = tid; i < 2u * TILE_N; i += MOE_THREADS)
            hs[i] = moe_atomic_xchg_f32(scr + (slot * 2u + i / TILE_N) * I + n0 + i % TILE_N, 0.0f);
        if (tid == 0u)
            *cnt = 0u;
    }
#else
    (void)scr;
    (void)ctl;
    (void)TK;
    (void)slot;
    (void)chunk;
    last = active;
#endif
    MOE_BARRIER();
    return last;
}

/* SwiGLU of the chunk in place (hs[i] = silu(g) * u * down su) when `last`, then a barrier. */
MOE_FN void moe3_swiglu(MOE_L float *hs, const moe_u32 e, const moe_u32 I, const moe_u32 n0,
                        MOE_G const moe_u16 *gsv, MOE_G const moe_u16 *usv, MOE_G const moe_u16 *dsu,
                        MOE_G const moe_u32 *dsubits, const int last, const moe_u32 tid)
{
    for (moe_u32 i = tid; i < (last ? (moe_u32)TILE_N : 0u); i += MOE_THREADS) {
        const moe_u32 n = n0 + i;
#if SIDE
        const float g = hs[i], u = hs[TILE_N + i];
        const float h = g / (1.0f + MOE_EXP(-g)) * u;
        hs[i] = fw_as_float(fw_as_uint(h) ^ (((dsubits[n / 32u] >> (n & 31u)) & 1u) << 31));
        (void)gsv;
        (void)usv;
        (void)dsu;
        (void)e;
#else
        const float g = hs[i] * moe_h2f(gsv[e * I + n]);
        const float u = hs[TILE_N + i] * moe_h2f(usv[e * I + n]);
        hs[i] = g / (1.0f + MOE_EXP(-g)) * u * moe_h2f(dsu[e * I + n]);
        (void)dsubits;
#endif
    }
    MOE_BARRIER();
}

/* Scratch words of the v3 decode (from `scratch`): partial sums float [TK][2][I], arrival counts
 * [TK][I/16]; for P2_SPREAD also h float [TK][I], ready flags [TK][I/16], tickets [TK], done [TK]. */
#define MOE3_SCR_CNT(TK, I) ((TK) * 2u * (I))
#define MOE3_SCR_H(TK, I) (MOE3_SCR_CNT(TK, I) + (TK) * ((I) / 16u))
#define MOE3_SCR_READY(TK, I) (MOE3_SCR_H(TK, I) + (TK) * (I))
#define MOE3_SCR_TICKET(TK, I) (MOE3_SCR_READY(TK, I) + (TK) * ((I) / 16u))
#define MOE3_SCR_DONE(TK, I) (MOE3_SCR_TICKET(TK, I) + (TK))

/* Phase 1 of a group: rows kbeg .. kbeg+kspan of gate and up for the chunk at n0, slab by slab. */
MOE_FN void moe3_phase1(MOE_G const moe_u16 *xa, MOE_G const moe_u16 *gsu_e, MOE_G const moe_u16 *usu_e,
                        MOE_G const moe_u32 *sb, MOE_G const moe_u32 *gwe, MOE_G const moe_u32 *uwe,
                        const moe_u32 gb, const moe_u32 ub, MOE_G const moe_u16 *gs_e, MOE_G const moe_u16 *us_e,
                        const moe_u32 H, const moe_u32 I, const moe_u32 kbeg, const moe_u32 kspan,
                        const moe_u32 n0, const moe_u32 cg0, const moe_u32 nin, const moe_u32 part,
                        MOE_L float *xsh, MOE_L const float *gridl, MOE_L const float *pairl, const moe_u32 lg,
                        MOE_P float *accg, MOE_P float *accu, const moe_u32 tid)
{
    for (moe_u32 ks = kbeg; ks < kbeg + kspan; ks += MOE3_SLAB) {
        const moe_u32 rows = kbeg + kspan - ks < MOE3_SLAB ? kbeg + kspan - ks : MOE3_SLAB;
#if PREFETCH
        /* the slab's tile rows of this part first: its first chunk's loads go out before the barriers */
        moe_u32 nkt = rows / 16u;
#ifdef MOE_TEST_DROP_LAST_K
        if (ks + rows == H)
            nkt -= 1u;   /* test only: a broken variant that skips the last K tile row */
#endif
        const moe_u32 R = (nkt + (moe_u32)MOE3_NP1 - 1u) / (moe_u32)MOE3_NP1;
        const moe_u32 rb = part * R < nkt ? part * R : nkt, re = rb + R < nkt ? rb + R : nkt;
        moe3_p1set cur;
        moe3_p1_load(&cur, gwe, uwe, gb, ub, gs_e, us_e, sb, I, ks / 16u + rb,
                     re - rb < (moe_u32)MOE_CH1 ? (int)(re - rb) : MOE_CH1, n0, cg0, nin);
        MOE_BARRIER();   /* every lane is done with the previous slab */
        moe3_stage(xa, ks, rows, gsu_e, usu_e, sb + MOE3_SIDE_GUSU(H, I), xsh, tid);
        MOE_BARRIER();
        for (moe_u32 r0 = rb; r0 < re; r0 += (moe_u32)MOE_CH1) {
            const moe_u32 r1 = r0 + (moe_u32)MOE_CH1;
            moe3_p1set nxt;
            moe3_p1_load(&nxt, gwe, uwe, gb, ub, gs_e, us_e, sb, I, ks / 16u + r1,
                         r1 >= re ? 0 : re - r1 < (moe_u32)MOE_CH1 ? (int)(re - r1) : MOE_CH1, n0, cg0, nin);
            moe3_p1_dec(&cur, gb, ub, re - r0 < (moe_u32)MOE_CH1 ? (int)(re - r0) : MOE_CH1, xsh + r0 * 16u, gridl,
                        pairl, lg, accg, accu);
            cur = nxt;
        }
#else
        MOE_BARRIER();   /* every lane is done with the previous slab */
        moe3_stage(xa, ks, rows, gsu_e, usu_e, sb + MOE3_SIDE_GUSU(H, I), xsh, tid);
        MOE_BARRIER();
        moe_u32 nkt = rows / 16u;
#ifdef MOE_TEST_DROP_LAST_K
        if (ks + rows == H)
            nkt -= 1u;   /* test only: a broken variant that skips the last K tile row */
#endif
        /* part `part` owns tile rows [rb, re) of the slab, MOE_CH1 at a time */
        const moe_u32 R = (nkt + (moe_u32)MOE3_NP1 - 1u) / (moe_u32)MOE3_NP1;
        const moe_u32 rb = part * R, re = rb + R < nkt ? rb + R : nkt;
        for (moe_u32 r0 = rb; r0 < re; r0 += (moe_u32)MOE_CH1)
            moe3_p1_chunk(gwe, uwe, gb, ub, gs_e, us_e, sb, I, ks / 16u + r0,
                          re - r0 < (moe_u32)MOE_CH1 ? (int)(re - r0) : MOE_CH1, n0, cg0, nin, xsh + r0 * 16u,
                          gridl, pairl, lg, accg, accu);
#endif
    }
}

#if P2_SPREAD
/* P2_SPREAD: wait until chunk c2's h is published (its last arriver started before this group:
 * tickets are taken in start order, so the wait cannot deadlock), then copy it into hs. */
MOE_FN void moe3_fetch_h(MOE_G float *scr, const moe_u32 TK, const moe_u32 I, const moe_u32 slot,
                         const moe_u32 c2, const int need, MOE_L float *hs, const moe_u32 tid)
{
    MOE_G moe_u32 *w = (MOE_G moe_u32 *)scr;
    if (tid == 0u && need)
        while (moe_atomic_read_g(w + MOE3_SCR_READY(TK, I) + slot * (I / 16u) + c2) == 0u) {
        }
    MOE_GLOBAL_FENCE();
    MOE_BARRIER();
    for (moe_u32 i = tid; i < (need ? (moe_u32)TILE_N : 0u); i += MOE_THREADS)
        hs[i] = fw_as_float(moe_atomic_read_g(w + MOE3_SCR_H(TK, I) + slot * I + c2 * TILE_N + i));
    MOE_BARRIER();
}

/* P2_SPREAD: publish the chunk's h and its ready flag (the last arriver of the chunk). */
MOE_FN void moe3_publish_h(MOE_G float *scr, const moe_u32 TK, const moe_u32 I, const moe_u32 slot,
                           const moe_u32 chunk, const int last, MOE_L const float *hs, const moe_u32 tid)
{
    MOE_G moe_u32 *w = (MOE_G moe_u32 *)scr;
    for (moe_u32 i = tid; i < (last ? (moe_u32)TILE_N : 0u); i += MOE_THREADS)
        scr[MOE3_SCR_H(TK, I) + slot * I + chunk * TILE_N + i] = hs[i];
    MOE_GLOBAL_FENCE();
    MOE_BARRIER();
    if (tid == 0u && last)
        moe_atomic_inc_g(w + MOE3_SCR_READY(TK, I) + slot * (I / 16u) + chunk);
}

/* P2_SPREAD: the last group of the slot to finish resets its tickets and ready flags. */
MOE_FN void moe3_finish(MOE_G float *scr, const moe_u32 TK, const moe_u32 I, const moe_u32 slot,
                        const moe_u32 ngroups, const moe_u32 tid)
{
    MOE_G moe_u32 *w = (MOE_G moe_u32 *)scr;
    /* called right after moe3_fetch_h's last barrier: every thread is past its reads of h and the flags */
    if (tid == 0u && moe_atomic_inc_g(w + MOE3_SCR_DONE(TK, I) + slot) == ngroups - 1u) {
        for (moe_u32 c = 0; c < I / 16u; c++)
            w[MOE3_SCR_READY(TK, I) + slot * (I / 16u) + c] = 0u;
        w[MOE3_SCR_TICKET(TK, I) + slot] = 0u;
        w[MOE3_SCR_DONE(TK, I) + slot] = 0u;
    }
}
#endif

/* Whether a decode slot's group runs: a slot of the batch, routed to an expert in range whose widths
 * fit the kernel (moe_widths_fit). Uniform over the group, so its early return passes no barrier. */
MOE_FN int moe3_slot_runs(MOE_G const moe_u32 *ids, MOE_G const moe_u32 *meta, const MoEParams p, const moe_u32 slot)
{
    if (slot >= p.batch * p.top_k)
        return 0;
    const moe_u32 e = ids[slot];
    return e < p.num_experts && moe_widths_fit(meta, e);
}

/* The parameters of the decode groups (V3=1 moe3_decode, V3=2 moe3t_decode, V3=3 moe3m_decode): the
 * entry's buffers, params and threadgroup arrays, the thread, the group's x and the grid's second
 * index (LAST: its name). MOE3_DECODE names the one the entry calls. */
#define MOE3_DECODE_PARAMS(LAST) \
    MOE_G const moe_u16 *act, MOE_G const moe_u32 *gw, MOE_G const moe_u16 *gs, MOE_G const moe_u32 *uw, \
    MOE_G const moe_u16 *us, MOE_G const moe_u32 *dw, MOE_G const moe_u16 *ds, MOE_G const moe_u16 *gsu, \
    MOE_G const moe_u16 *gsv, MOE_G const moe_u16 *usu, MOE_G const moe_u16 *usv, MOE_G const moe_u16 *dsu, \
    MOE_G const moe_u16 *dsv, MOE_G const moe_u16 *grid, MOE_G const moe_u32 *ids, MOE_G const moe_u16 *probs, \
    MOE_G float *out, const MoEParams p, MOE_G const moe_u32 *meta, MOE_G const moe_u32 *side, MOE_G float *scr, \
    MOE_L float *xsh, MOE_L float *gridl, MOE_L float *pairl, MOE_L float *hp, MOE_L float *hs, MOE_L int *ctl, \
    const moe_u32 tid, const moe_u32 bx, const moe_u32 LAST

/* The v3 decode group (chunk, split, slot): see the top of this file. With P2_SPREAD the group
 * takes a ticket t (start order) instead of its index: phase 1 of chunk t / SPLIT_K, split
 * t % SPLIT_K, then down for output tiles piece t % SPLIT_K of the chunk before (grid: one more
 * chunk than the layer has, whose groups only do that). */
MOE_FN void moe3_decode(MOE3_DECODE_PARAMS(slot))
{
    const moe_u32 H = p.hidden, I = p.intermediate, TK = p.top_k, nchunks = I / TILE_N;
    if (!moe3_slot_runs(ids, meta, p, slot))
        return;
    const moe_u32 e = ids[slot];
    const moe_u32 gb = MOE_WIDTH(meta, e, 0u, GATE_BITS), ub = MOE_WIDTH(meta, e, 1u, UP_BITS);
    const moe_u32 db = MOE_WIDTH(meta, e, 2u, DOWN_BITS);
    MOE_G const moe_u32 *dwe = dw + meta[e * 8u + 6u] / 4u;
    MOE_G const moe_u32 *sb = side + e * MOE3_SIDE_WORDS(H, I);
    const moe_u32 tok = slot / p.top_k;
#if P2_SPREAD
    if (tid == 0u) {
        ctl[1] = (int)moe_atomic_inc_g((MOE_G moe_u32 *)scr + MOE3_SCR_TICKET(TK, I) + slot);
    }
    MOE_BARRIER();
    const moe_u32 ticket = (moe_u32)ctl[1];
#else
    const moe_u32 ticket = bx;
#endif
    const moe_u32 chunk = ticket / (moe_u32)SPLIT_K, split = ticket % (moe_u32)SPLIT_K;
    const moe_u32 n0 = chunk * TILE_N;
    for (moe_u32 i = tid; i < 64u * GRID_COPIES; i += MOE_THREADS)
        gridl[i] = moe_h2f(grid[i >> MOE3_GCL]);
#if PAIR >= 2
    /* the pair tables, from the global grid (phase 1's first barrier orders them before use) */
    for (moe_u32 i = tid; i < (moe_u32)MOE3_PAIRF / 2u; i += MOE_THREADS) {
        const moe_u32 b = i < 16u ? 2u : 3u, c = i < 16u ? i : i - 16u, m = (1u << b) - 1u;
        pairl[2u * i] = moe_h2f(grid[c & m]);
        pairl[2u * i + 1u] = moe_h2f(grid[c >> b]);
    }
#endif

    const moe_u32 lane = tid & 31u, w = tid >> 5, hw = lane >> 4, nin = lane & 15u;
    const moe_u32 lg = lane & (GRID_COPIES - 1u);
#if MOE_NW >= MOE_CG
    const moe_u32 cg0 = w % (moe_u32)MOE_CG, part = (w / (moe_u32)MOE_CG) * 2u + hw;
#else
    const moe_u32 cg0 = w, part = hw;
#endif
    const moe_u32 np2 = 2u * MOE_NW;
    const float prob = moe_h2f(probs[slot]);
    const int active = chunk < nchunks;
    float accg[MOE_NCT], accu[MOE_NCT];
MOE_UNROLL
    for (int t = 0; t < MOE_NCT; t++) {
        accg[t] = 0.0f;
        accu[t] = 0.0f;
    }
    const moe_u32 kspan = active ? H / (moe_u32)SPLIT_K : 0u;
    moe3_phase1(act + tok * H, gsu + e * H, usu + e * H, sb, gw + meta[e * 8u + 4u] / 4u,
                uw + meta[e * 8u + 5u] / 4u, gb, ub, gs + e * (H / 128u) * I, us + e * (H / 128u) * I, H, I,
                split * kspan, kspan, n0, cg0, nin, part, xsh, gridl, pairl, lg, accg, accu, tid);
#if PREFETCH == 2
    /* SPLIT_K 1, no spread: this group runs down for its own chunk when active (last == active) */
#if SIDE
    MOE_G const moe_u16 *dsr0 = (MOE_G const moe_u16 *)(sb + MOE3_SIDE_DSC(H, I)) + (chunk * TILE_N / 128u) * H;
#else
    MOE_G const moe_u16 *dsr0 = ds + (e * (I / 128u) + chunk * TILE_N / 128u) * H;
#endif
    moe3_p2set d0;
    moe3_p2_load(&d0, dwe, db, dsr0, dsv + e * H, w * 2u + hw, active ? H / 16u : 0u, np2, H, n0, nin);
#endif
    int last = moe3_join(accg, accu, hp, hs, scr, ctl, TK, I, slot, chunk, n0, part, cg0, nin, active, tid);
    moe3_swiglu(hs, e, I, n0, gsv, usv, dsu, sb + MOE3_SIDE_DSU(H, I), last, tid);
    moe_u32 c2 = chunk, tb = 0u, te = H / 16u;
#if P2_SPREAD
    moe3_publish_h(scr, TK, I, slot, chunk, last, hs, tid);
    last = chunk >= 1u;
    c2 = chunk - 1u;
    tb = split * (H / 16u) / (moe_u32)SPLIT_K;
    te = (split + 1u) * (H / 16u) / (moe_u32)SPLIT_K;
    moe3_fetch_h(scr, TK, I, slot, c2, last, hs, tid);
    moe3_finish(scr, TK, I, slot, (nchunks + 1u) * (moe_u32)SPLIT_K, tid);
#endif
#if PAIR >= 1
    moe3_build_lut(xsh, hs, gridl, db, last, tid);
#endif
    if (last) {
#if SIDE
        MOE_G const moe_u16 *dsr = (MOE_G const moe_u16 *)(sb + MOE3_SIDE_DSC(H, I)) + (c2 * TILE_N / 128u) * H;
#else
        MOE_G const moe_u16 *dsr = ds + (e * (I / 128u) + c2 * TILE_N / 128u) * H;
#endif
        moe_u32 t0 = tb + w * 2u + hw;
#if PREFETCH == 2
        moe3_p2_dec(&d0, db, t0, te, np2, nin, hs, gridl, xsh, lg, out + tok * H, prob);
        t0 += np2 * (moe_u32)MOE_CH2;
#endif
        for (; t0 < te; t0 += np2 * (moe_u32)MOE_CH2)
            moe3_p2_chunk(dwe, db, dsr, dsv + e * H, t0, te, np2, H, c2 * TILE_N, nin, hs, gridl, xsh, lg,
                          out + tok * H, prob);
    }
}
