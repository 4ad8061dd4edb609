/* moe_swiglu.v3m.h - the tensor-core v3 decode (V3=3, issue 16), in the portable subset
 * (moe_swiglu.names.h), assembled after moe_swiglu.v3t.h (it reuses v3's SwiGLU and side-buffer
 * layout). Contract and knobs: moe_swiglu.h. Measured on the H200: BENCHMARKS.md "The tensor-core
 * decode (V3=3)" (best 26.2 us at glm47 decode, V3=1's best 20.1 us in the same call).
 *
 * Why: at V3=1 a weight costs about ten issued instructions (the code extraction from a 64-bit window,
 * a grid lookup, a staged x read, an FMA, and their address arithmetic), and ncu says the kernel issues
 * every 1.9 cycles with DRAM 13% busy: the instruction stream, not memory, sets decode's time.
 *
 * What V3=3 does: the group's structure is V3=1's at SPLIT_K 1 (one TILE_N chunk of the intermediate
 * dimension and one slot per group: gate and up over every hidden row, SwiGLU, then down for the
 * chunk's rows with one atomic add per output element), but each 16 x 16 weight tile is one warp-wide
 * tensor-core product, m16n8k16 (half inputs, float accumulation), on CUDA:
 *   - A (16 x 16) is the tile transposed: fragment row m is tile column 2m (m < 8) or 2(m-8)+1, and
 *     fragment k is tile row 4(k/2 % 4) + 2(k/8) + k%2, so lane (g = lane/4, t = lane%4) holds rows
 *     4t..4t+3 of columns 2g and 2g+1: two fields of 4*bits bits at fixed offsets of the tile, read
 *     with at most four 32-bit loads. Two adjacent codes of a field index a pair table of half2
 *     (grid[c0], grid[c1]) words (4^bits of them per width), so one lookup gives one A register.
 *   - B (16 x 8) is x * su of the tile's rows (the same row order) split in two halves: column 0
 *     holds half(v), column 1 half(v - half(v)); the other columns are zero. D's columns 0 + 1 are then
 *     the dot product to about float precision (the grid and the activations are halves already, so
 *     the hi part alone is exact whenever su is +-1).
 *   - A warp takes (128-row scale group, column tile) items of a slab, eight tiles each: the scale
 *     multiplies D once per item, and the items' sums meet in threadgroup memory per warp, so no
 *     register array is indexed at run time. Down takes the chunk's TILE_N rows (TILE_N/16 K tiles) as
 *     K and one output tile per item, the chunk's h split the same way.
 * Other dialects compute the same D per lane without tensor cores (moe3m_tile's portable form: the
 * lanes that hold B's nonzero columns read the fields their neighbours would hold), so the field
 * layout, the pair tables, the row order and the split halves are checked against the double
 * reference on PoCL; the fragments' register order is checked on the GPU only (every measured
 * variant is verified). It is slow, and Metal's simdgroup matrices (8 x 8) are not used.
 * Loads in flight per lane: MOE3M_KT tiles x four 32-bit words (NUM_BUFFERS 1: 4 tiles, else 8);
 * PREFETCH 1 pipelines them (below). The bit widths are run-time values, uniform over the group, and
 * gate and up share one pass: a width switch around each projection (compile-time widths) made
 * PoCL's barrier-region pass reject the kernel's CFG and compute wrong sums, and split gate and up.
 */
#if V3 == 3
#if SPLIT_K != 1 || P2_SPREAD || PAIR || PREFETCH > 1 || XVEC || GRID_COPIES != 1
#error "moe_swiglu: V3=3 needs SPLIT_K 1, P2_SPREAD 0, PAIR 0, PREFETCH 0 or 1, XVEC 0 and GRID_COPIES 1"
#endif
#define MOE3M_KT (NUM_BUFFERS == 1 ? 4 : 8)                     /* K tiles in flight (divides 8) */
#define MOE3M_OT (MOE3M_KT / MOE_CT > 0 ? MOE3M_KT / MOE_CT : 1) /* down's output tiles per item */
/* pair tables: width b at word MOE3M_TOFF(b), 4^b words, for b = 2..6 (5456 words), then the grid's
 * 64 halves, one a word (MOE3M_GRIDW) */
#define MOE3M_TOFF(B) (((1u << (2u * (B))) - 16u) / 3u)
#define MOE3M_GRIDW 5456
#define MOE3M_TABW (5456 + 64)
/* floats of `hp` at V3=3: each warp's gate and up sums over its items [2][NW][TILE_N] */
#define MOE3_HPW (2 * MOE_NW * TILE_N)
#define MOE3M_PAIRW MOE3M_TABW
#else
#define MOE3_HPW MOE3_HP
#define MOE3M_PAIRW MOE3_PAIRF
#endif

#if V3 == 3
/* The lane's four accumulators of a 16 x 8 product, D (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1): a
 * struct passed by value (PoCL's LLVM 15 lost or crashed on a private float[4] updated through a pointer). */
typedef struct moe3m_d {
    float d0, d1, d2, d3;
} moe3m_d;

/* Where a lane's two fields lie in a tile of width B: 32-bit word, shift, and whether the field runs
 * into the next word, for column 2g (w0, s0, h0) and 2g+1 (w1, s1, h1). */
typedef struct moe3m_geom {
    moe_u32 w0, s0, h0, w1, s1, h1;
} moe3m_geom;

MOE_FN moe3m_geom moe3m_geom_of(const moe_u32 B, const moe_u32 lane)
{
    moe3m_geom q;
    const moe_u32 off0 = 32u * B * (lane >> 2) + 4u * B * (lane & 3u), off1 = off0 + 16u * B;
    q.w0 = off0 >> 5;
    q.s0 = off0 & 31u;
    q.h0 = q.s0 + 4u * B > 32u;
    q.w1 = off1 >> 5;
    q.s1 = off1 & 31u;
    q.h1 = q.s1 + 4u * B > 32u;
    return q;
}

/* The lane's field of one column: 4B bits from word w (and w + 1) of the tile at tp (0 when !valid). */
MOE_FN moe_u32 moe3m_field(MOE_G const moe_u32 *tp, const moe_u32 w, const moe_u32 s, const moe_u32 h, const int valid)
{
    const moe_u32 lo = valid ? tp[w] : 0u, hi = valid && h ? tp[w + 1u] : 0u;
#if FW_DIALECT_CUDA
    return __funnelshift_r(lo, hi, s);   /* one SHF; s < 32 */
#else
    return (moe_u32)(((moe_u64)hi << 32 | (moe_u64)lo) >> s);
#endif
}

/* D += the tile of width B at tp times the B operand, for lane `lane`. The B operand: rows r0 .. r0+15
 * of the hi halves at bhi (the lo halves `lo` words on), two rows a word, zero unless `use`.
 * CUDA: one m16n8k16 tensor-core product of the lane's fragments: A from its fields f0, f1 (rows 4t,
 * 4t+1 of a column are bits [0, 2B) of its field, rows 4t+2, 4t+3 the next 2B) through the pair table
 * tb of width B: a0 {row g, k 2t..}, a1 {g+8, 2t..}, a2 {g, 2t+8..}, a3 {g+8, 2t+8..}; B b0 {k 2t.., n g},
 * b1 {2t+8.., g}; D d0 d1 {g, n 2t, 2t+1}, d2 d3 {g+8, ..}. */
#if FW_DIALECT_CUDA
MOE_FN moe3m_d moe3m_tile(const moe_u32 B, moe3m_d d, const moe_u32 f0, const moe_u32 f1, MOE_L const moe_u32 *tb,
                       const moe_u32 b0, const moe_u32 b1, MOE_G const moe_u32 *tp, const int valid,
                       MOE_L const moe_u32 *bhi, const moe_u32 lo, const moe_u32 r0, const int use, const moe_u32 lane)
{
    const moe_u32 m = (1u << (2u * B)) - 1u, sh = 2u * B;
    /* the table in the 32-bit shared window: a lookup is a mask, a shift-add and the load (through a
     * generic pointer NVRTC did the address arithmetic in 64 bits, five instructions a lookup) */
    const moe_u32 ta = (moe_u32)__cvta_generic_to_shared(tb);
    moe_u32 a0, a1, a2, a3;
    asm volatile("ld.shared.u32 %0, [%1];" : "=r"(a0) : "r"(ta + ((f0 & m) << 2)));
    asm volatile("ld.shared.u32 %0, [%1];" : "=r"(a1) : "r"(ta + ((f1 & m) << 2)));
    asm volatile("ld.shared.u32 %0, [%1];" : "=r"(a2) : "r"(ta + (((f0 >> sh) & m) << 2)));
    asm volatile("ld.shared.u32 %0, [%1];" : "=r"(a3) : "r"(ta + (((f1 >> sh) & m) << 2)));
    (void)tp;
    (void)valid;
    (void)bhi;
    (void)lo;
    (void)r0;
    (void)use;
    (void)lane;
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};"
        : "+f"(d.d0), "+f"(d.d1), "+f"(d.d2), "+f"(d.d3)
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    return d;
}
#else
/* The same product without tensor cores, for what D holds in this lane: only lanes t = 0 see B's
 * nonzero columns (0: hi, 1: lo). Such a lane reads the fields the four lanes of its g would hold
 * (moe3m_geom_of of lanes 4g .. 4g+3: every row of columns 2g and 2g+1) and the B operand's rows in
 * the same order, through the same pair table, so the field layout, the tables and the row order are
 * the ones the tensor-core path uses; the fragments' register order is CUDA's alone. */
MOE_FN moe3m_d moe3m_tile(const moe_u32 B, moe3m_d d, const moe_u32 f0, const moe_u32 f1, MOE_L const moe_u32 *tb,
                       const moe_u32 b0, const moe_u32 b1, MOE_G const moe_u32 *tp, const int valid,
                       MOE_L const moe_u32 *bhi, const moe_u32 lo, const moe_u32 r0, const int use, const moe_u32 lane)
{
    const moe_u32 m = (1u << (2u * B)) - 1u;
    (void)f0;
    (void)f1;
    (void)b0;
    (void)b1;
    if ((lane & 3u) == 0u && use) {
        for (moe_u32 tq = 0; tq < 4u; tq++) {
            const moe3m_geom q = moe3m_geom_of(B, (lane & ~3u) + tq);
            const moe_u32 fa = moe3m_field(tp, q.w0, q.s0, q.h0, valid), fb = moe3m_field(tp, q.w1, q.s1, q.h1, valid);
            for (moe_u32 i = 0; i < 4u; i++) {
                const moe_u32 row = r0 + 4u * tq + i, sh = 2u * B * (i >> 1), hf = 16u * (i & 1u);
                const moe_u32 wh = bhi[row >> 1], wl = bhi[lo + (row >> 1)];
                const float xh = moe_h2f((wh >> (16u * (i & 1u))) & 0xffffu);
                const float xl = moe_h2f((wl >> (16u * (i & 1u))) & 0xffffu);
                const float a0 = moe_h2f((tb[(fa >> sh) & m] >> hf) & 0xffffu);
                const float a1 = moe_h2f((tb[(fb >> sh) & m] >> hf) & 0xffffu);
                d.d0 = fw_fma(a0, xh, d.d0);
                d.d1 = fw_fma(a0, xl, d.d1);
                d.d2 = fw_fma(a1, xh, d.d2);
                d.d3 = fw_fma(a1, xl, d.d3);
            }
        }
    }
    return d;
}
#endif

/* The pair tables of the widths in `need` (bit b set: width b), from the grid's copy in threadgroup
 * memory (one global load per entry at the group's start; building from global memory cost a serial
 * L2 round trip per loop step). */
MOE_FN void moe3m_tables(MOE_L moe_u32 *tab, const moe_u32 need, const moe_u32 tid)
{
    MOE_L const moe_u32 *gw = tab + MOE3M_GRIDW;   /* the grid's halves, copied in before a barrier */
    for (moe_u32 b = 2u; b <= 6u; b++) {
        const moe_u32 n = (need >> b) & 1u ? 1u << (2u * b) : 0u, m = (1u << b) - 1u;
        for (moe_u32 i = tid; i < n; i += MOE_THREADS)
            tab[MOE3M_TOFF(b) + i] = gw[i & m] | gw[i >> b] << 16;
    }
}

/* Two rows' values a and b as B-operand words: hi = half(a) | half(b) << 16, lo the same of
 * v - half(v), each value converted once. */
typedef struct moe3m_pair {
    moe_u32 hi, lo;
} moe3m_pair;

MOE_FN moe3m_pair moe3m_split(const float a, const float b)
{
    const moe_u16 ha = fw_f32_to_f16bits(a), hb = fw_f32_to_f16bits(b);
    moe3m_pair r;
    r.hi = (moe_u32)ha | (moe_u32)hb << 16;
    r.lo = (moe_u32)fw_f32_to_f16bits(a - moe_h2f(ha)) | (moe_u32)fw_f32_to_f16bits(b - moe_h2f(hb)) << 16;
    return r;
}

/* x*su of rows ks .. ks+rows as B operands, two rows a word: gate hi at xw[0..], gate lo at
 * xw[MOE3_SLAB/2..], up hi at xw[MOE3_SLAB..], up lo at xw[3*MOE3_SLAB/2..]. */
MOE_FN void moe3m_stage(MOE_G const moe_u16 *xa, const moe_u32 ks, const moe_u32 rows, MOE_G const moe_u16 *gsu_e,
                        MOE_G const moe_u16 *usu_e, MOE_G const moe_u32 *subits, MOE_L moe_u32 *xw, const moe_u32 tid)
{
    for (moe_u32 k2 = tid; k2 < rows / 2u; k2 += MOE_THREADS) {
        const moe_u32 kk = ks + 2u * k2;
        const moe3_xsu v0 = moe3_xsu_of(moe_h2f(xa[kk]), kk, gsu_e, usu_e, subits);
        const moe3_xsu v1 = moe3_xsu_of(moe_h2f(xa[kk + 1u]), kk + 1u, gsu_e, usu_e, subits);
        const moe3m_pair g = moe3m_split(v0.g, v1.g), u = moe3m_split(v0.u, v1.u);
        xw[k2] = g.hi;
        xw[MOE3_SLAB / 2u + k2] = g.lo;
        xw[MOE3_SLAB + k2] = u.hi;
        xw[3u * MOE3_SLAB / 2u + k2] = u.lo;
    }
}

/* Phase 1's register set: one chunk (MOE3M_KT tiles) of the lane's gate and up fields. PREFETCH 1
 * software-pipelines phase 1 and down: the next chunk's loads go out before the current chunk's
 * products, a slab's first chunk before the slab's staging barriers and down's before the join (twice
 * the registers: 128 at 256 threads); PREFETCH 0 loads each chunk right before its products. Only the tensor-core path reads the fields (the
 * portable product reads the tiles itself), so other dialects leave the set at zero. */
typedef struct moe3m_p1set {
    moe_u32 g0[MOE3M_KT], g1[MOE3M_KT], u0[MOE3M_KT], u1[MOE3M_KT];
} moe3m_p1set;

#define MOE3M_NCI (8 / MOE3M_KT)   /* chunks of an item (eight tiles: one 128-row scale group) */

/* Chunk c of the warp's items of the slab at ks: item (c / MOE3M_NCI) * NW + w, its tiles from
 * (c % MOE3M_NCI) * MOE3M_KT. An item is a (128-row scale group, column tile) pair. */
#define MOE3M_CHUNK(C, KS, NITEMS) \
    const moe_u32 item_ = ((C) / (moe_u32)MOE3M_NCI) * (moe_u32)MOE_NW + w, kk0_ = ((C) % (moe_u32)MOE3M_NCI) * MOE3M_KT; \
    const moe_u32 sg_ = item_ / (moe_u32)MOE_CT, ct_ = item_ % (moe_u32)MOE_CT, kt0_ = (KS) / 16u + sg_ * 8u; \
    const int valid_ = item_ < (NITEMS)

MOE_FN void moe3m_p1_load(MOE_P moe3m_p1set *r, MOE_G const moe_u32 *gwe, MOE_G const moe_u32 *uwe, const moe_u32 gb,
                          const moe_u32 ub, const moe3m_geom qg, const moe3m_geom qu, const moe_u32 I, const moe_u32 ks,
                          const moe_u32 n0, const moe_u32 c, const moe_u32 nitems, const moe_u32 w)
{
    MOE3M_CHUNK(c, ks, nitems);
MOE_UNROLL
    for (int kk = 0; kk < MOE3M_KT; kk++) {
#if FW_DIALECT_CUDA
        const moe_u32 tile = (kt0_ + kk0_ + (moe_u32)kk) * (I / 16u) + n0 / 16u + ct_;
        r->g0[kk] = moe3m_field(gwe + tile * 8u * gb, qg.w0, qg.s0, qg.h0, valid_);
        r->g1[kk] = moe3m_field(gwe + tile * 8u * gb, qg.w1, qg.s1, qg.h1, valid_);
        r->u0[kk] = moe3m_field(uwe + tile * 8u * ub, qu.w0, qu.s0, qu.h0, valid_);
        r->u1[kk] = moe3m_field(uwe + tile * 8u * ub, qu.w1, qu.s1, qu.h1, valid_);
#else
        r->g0[kk] = r->g1[kk] = r->u0[kk] = r->u1[kk] = 0u;
        (void)kt0_;
        (void)kk0_;
        (void)ct_;
        (void)valid_;
        (void)gwe;
        (void)uwe;
        (void)gb;
        (void)ub;
        (void)qg;
        (void)qu;
        (void)I;
        (void)n0;
#endif
    }
}

/* The gate and up scales of columns c, c+1 (at si = group row * I + n0 + c) of an item's 128-row group,
 * loaded with the item's last chunk so they are in flight with its tiles: SIDE 0 gs/us [H/128][I]
 * halves; SIDE 1 the side buffer's packed words (gate low, up high). Zero when !valid. */
typedef struct moe3m_sc {
    float g0, g1, u0, u1;
} moe3m_sc;

MOE_FN moe3m_sc moe3m_scales(MOE_G const moe_u16 *gs_e, MOE_G const moe_u16 *us_e, MOE_G const moe_u32 *gusc,
                             const moe_u32 si, const int valid)
{
    moe3m_sc r;
#if SIDE
    const moe_u32 w0 = valid ? gusc[si] : 0u, w1 = valid ? gusc[si + 1u] : 0u;
    r.g0 = moe_h2f(w0 & 0xffffu);
    r.g1 = moe_h2f(w1 & 0xffffu);
    r.u0 = moe_h2f(w0 >> 16);
    r.u1 = moe_h2f(w1 >> 16);
    (void)gs_e;
    (void)us_e;
#else
    r.g0 = valid ? moe_h2f(gs_e[si]) : 0.0f;
    r.g1 = valid ? moe_h2f(gs_e[si + 1u]) : 0.0f;
    r.u0 = valid ? moe_h2f(us_e[si]) : 0.0f;
    r.u1 = valid ? moe_h2f(us_e[si + 1u]) : 0.0f;
    (void)gusc;
#endif
    return r;
}

/* Phase 1 of a slab (rows at ks), chunk by chunk from `first` (loaded by the caller): gate and up
 * products of every chunk, the next chunk's loads first; at an item's last chunk the scale, and the
 * sums into acc[w][TILE_N] (gate) and acc[NW + w][TILE_N] (up). Every warp runs the same number of
 * chunks (items past the slab's are not valid and add nothing). */
MOE_FN void moe3m_p1_slab(MOE_P const moe3m_p1set *first, MOE_G const moe_u32 *gwe, MOE_G const moe_u32 *uwe,
                          const moe_u32 gb, const moe_u32 ub, MOE_G const moe_u16 *gs_e, MOE_G const moe_u16 *us_e,
                          MOE_G const moe_u32 *gusc, const moe_u32 H, const moe_u32 I, const moe_u32 ks,
                          const moe_u32 rows, const moe_u32 n0, MOE_L const moe_u32 *xw, MOE_L const moe_u32 *tab,
                          MOE_L float *acc, const moe_u32 w, const moe_u32 lane)
{
    const moe3m_geom qg = moe3m_geom_of(gb, lane), qu = moe3m_geom_of(ub, lane);
    const moe_u32 g = lane >> 2, t = lane & 3u, nitems = rows / 128u * (moe_u32)MOE_CT;
    const moe_u32 nch = (nitems + MOE_NW - 1u) / MOE_NW * (moe_u32)MOE3M_NCI;
    MOE_L const moe_u32 *tbg = tab + MOE3M_TOFF(gb), *tbu = tab + MOE3M_TOFF(ub);
    MOE_L const moe_u32 *xg = xw + (g & 1u) * (MOE3_SLAB / 2u), *xu = xg + MOE3_SLAB;
    moe3m_p1set cur;
#if PREFETCH
    cur = *first;
#else
    (void)first;
#endif
    moe3m_d dg = {0.0f, 0.0f, 0.0f, 0.0f}, du = {0.0f, 0.0f, 0.0f, 0.0f};
    (void)H;
    for (moe_u32 c = 0; c < nch; c++) {
#if PREFETCH
        moe3m_p1set nxt;
        moe3m_p1_load(&nxt, gwe, uwe, gb, ub, qg, qu, I, ks, n0, c + 1u < nch ? c + 1u : c, nitems, w);
#else
        moe3m_p1_load(&cur, gwe, uwe, gb, ub, qg, qu, I, ks, n0, c, nitems, w);
#endif
        MOE3M_CHUNK(c, ks, nitems);
        const int last = kk0_ + MOE3M_KT == 8u;   /* the item's last chunk: its scales load now */
        const moe_u32 col = ct_ * 16u + 2u * g;
        const moe3m_sc sc = moe3m_scales(gs_e, us_e, gusc, (kt0_ / 8u) * I + n0 + col, last && valid_ && t == 0u);
MOE_UNROLL
        for (int kk = 0; kk < MOE3M_KT; kk++) {
            const moe_u32 krow = kt0_ + kk0_ + (moe_u32)kk, r0 = (krow - ks / 16u) * 16u, r = (r0 + 4u * t) / 2u;
            int use = valid_;
#ifdef MOE_TEST_DROP_LAST_K
            if (krow == H / 16u - 1u)
                use = 0;   /* test only: a broken variant that skips the last K tile row */
#endif
            /* every lane reads its B words (an index inside the slab even for an item past it) and
             * masks them: a branch here would diverge the warp (lanes g 0 and 1 hold B) every tile */
            const moe_u32 bm = use && g < 2u ? 0xffffffffu : 0u, rr = r & (MOE3_SLAB / 2u - 2u);
            const moe_u32 tile = krow * (I / 16u) + n0 / 16u + ct_;
            dg = moe3m_tile(gb, dg, cur.g0[kk], cur.g1[kk], tbg, xg[rr] & bm, xg[rr + 1u] & bm,
                            gwe + tile * 8u * gb, valid_, xw, MOE3_SLAB / 2u, r0, use, lane);
            du = moe3m_tile(ub, du, cur.u0[kk], cur.u1[kk], tbu, xu[rr] & bm, xu[rr + 1u] & bm,
                            uwe + tile * 8u * ub, valid_, xw + MOE3_SLAB, MOE3_SLAB / 2u, r0, use, lane);
        }
        if (last) {
            if (valid_ && t == 0u) {
                acc[w * TILE_N + col] += (dg.d0 + dg.d1) * sc.g0;
                acc[w * TILE_N + col + 1u] += (dg.d2 + dg.d3) * sc.g1;
                acc[(MOE_NW + w) * TILE_N + col] += (du.d0 + du.d1) * sc.u0;
                acc[(MOE_NW + w) * TILE_N + col + 1u] += (du.d2 + du.d3) * sc.u1;
            }
            dg.d0 = dg.d1 = dg.d2 = dg.d3 = 0.0f;
            du.d0 = du.d1 = du.d2 = du.d3 = 0.0f;
        }
#if PREFETCH
        cur = nxt;
#endif
    }
}

/* Down's register set: one chunk (MOE3M_OT output tiles x MOE_CT K tiles) of the lane's fields. */
typedef struct moe3m_p2set {
    moe_u32 f0[MOE3M_OT][MOE_CT], f1[MOE3M_OT][MOE_CT];
} moe3m_p2set;

MOE_FN void moe3m_p2_load(MOE_P moe3m_p2set *r, MOE_G const moe_u32 *dwe, const moe_u32 db, const moe3m_geom q,
                          const moe_u32 H, const moe_u32 n0, const moe_u32 j, const moe_u32 w)
{
    const moe_u32 ntn = H / 16u;
MOE_UNROLL
    for (int o = 0; o < MOE3M_OT; o++) {
        const moe_u32 tn = (j * MOE_NW + w) * (moe_u32)MOE3M_OT + (moe_u32)o;
MOE_UNROLL
        for (int kt = 0; kt < MOE_CT; kt++) {
#if FW_DIALECT_CUDA
            MOE_G const moe_u32 *tp = dwe + ((n0 / 16u + (moe_u32)kt) * ntn + tn) * 8u * db;
            r->f0[o][kt] = moe3m_field(tp, q.w0, q.s0, q.h0, tn < ntn);
            r->f1[o][kt] = moe3m_field(tp, q.w1, q.s1, q.h1, tn < ntn);
#else
            r->f0[o][kt] = r->f1[o][kt] = 0u;
            (void)ntn;
            (void)dwe;
            (void)db;
            (void)q;
            (void)n0;
            (void)tn;
#endif
        }
    }
}

/* Down (width db) for the chunk's TILE_N rows at n0, chunk by chunk from `first` (loaded by the caller
 * before the join): h as B operands in hw (hi TILE_N/2 words, then lo), MOE3M_OT output tiles a chunk,
 * one atomic add per output element. dsr: the down scale row of the chunk's 128-row group (sv folded in
 * when SIDE), dsvp: down sv (SIDE 0). */
MOE_FN void moe3m_down(MOE_P const moe3m_p2set *first, MOE_G const moe_u32 *dwe, const moe_u32 db,
                       MOE_G const moe_u16 *dsr, MOE_G const moe_u16 *dsvp, const moe_u32 H, const moe_u32 n0,
                       MOE_L const moe_u32 *hw, MOE_L const moe_u32 *tab, const moe_u32 w, const moe_u32 lane,
                       MOE_G float *orow, const float prob)
{
    const moe3m_geom q = moe3m_geom_of(db, lane);
    const moe_u32 g = lane >> 2, t = lane & 3u, ntn = H / 16u;
    const moe_u32 nj = (ntn + (moe_u32)(MOE_NW * MOE3M_OT) - 1u) / (moe_u32)(MOE_NW * MOE3M_OT);
    MOE_L const moe_u32 *tb = tab + MOE3M_TOFF(db);
    moe_u32 bk0[MOE_CT], bk1[MOE_CT];
MOE_UNROLL
    for (int kt = 0; kt < MOE_CT; kt++) {
        const moe_u32 r = (moe_u32)kt * 16u + 4u * t;
        bk0[kt] = g < 2u ? hw[(g & 1u) * (TILE_N / 2u) + r / 2u] : 0u;
        bk1[kt] = g < 2u ? hw[(g & 1u) * (TILE_N / 2u) + r / 2u + 1u] : 0u;
    }
    moe3m_p2set cur;
#if PREFETCH
    cur = *first;
#else
    (void)first;
#endif
    for (moe_u32 j = 0; j < nj; j++) {
#if PREFETCH
        moe3m_p2set nxt;
        moe3m_p2_load(&nxt, dwe, db, q, H, n0, j + 1u < nj ? j + 1u : j, w);
#else
        moe3m_p2_load(&cur, dwe, db, q, H, n0, j, w);
#endif
MOE_UNROLL
        for (int o = 0; o < MOE3M_OT; o++) {
            const moe_u32 tn = (j * MOE_NW + w) * (moe_u32)MOE3M_OT + (moe_u32)o, c = tn * 16u + 2u * g;
            const int put = tn < ntn && t == 0u;
            /* the output columns' scales first, so their loads are in flight with the products */
#if SIDE
            const float s0 = put ? moe_h2f(dsr[c]) : 0.0f, s1 = put ? moe_h2f(dsr[c + 1u]) : 0.0f;
            (void)dsvp;
#else
            const float s0 = put ? moe_h2f(dsr[c]) * moe_h2f(dsvp[c]) : 0.0f;
            const float s1 = put ? moe_h2f(dsr[c + 1u]) * moe_h2f(dsvp[c + 1u]) : 0.0f;
#endif
            moe3m_d d = {0.0f, 0.0f, 0.0f, 0.0f};
MOE_UNROLL
            for (int kt = 0; kt < MOE_CT; kt++)
                d = moe3m_tile(db, d, cur.f0[o][kt], cur.f1[o][kt], tb, bk0[kt], bk1[kt],
                               dwe + ((n0 / 16u + (moe_u32)kt) * ntn + tn) * 8u * db, tn < ntn, hw, TILE_N / 2u,
                               (moe_u32)kt * 16u, 1, lane);
            if (put) {
                moe_atomic_add_f32(orow + c, prob * (d.d0 + d.d1) * s0);
                moe_atomic_add_f32(orow + c + 1u, prob * (d.d2 + d.d3) * s1);
            }
        }
#if PREFETCH
        cur = nxt;
#endif
    }
}

/* The join: the warps' sums of gate and up for the chunk into hs (then SwiGLU in place, moe3_swiglu),
 * then h as B operands, hi and lo halves, two rows a word, in hw (the staged x's words, free now). */
MOE_FN void moe3m_join(MOE_L const float *acc, MOE_L float *hs, MOE_L moe_u32 *hw, const moe_u32 e, const moe_u32 I, const moe_u32 n0,
                       MOE_G const moe_u16 *gsv, MOE_G const moe_u16 *usv, MOE_G const moe_u16 *dsu,
                       MOE_G const moe_u32 *dsubits, const moe_u32 tid)
{
    MOE_BARRIER();
    for (moe_u32 i = tid; i < (moe_u32)TILE_N; i += MOE_THREADS) {
        float sg = 0.0f, su = 0.0f;
        for (moe_u32 w = 0; w < (moe_u32)MOE_NW; w++) {
            sg += acc[w * TILE_N + i];
            su += acc[(MOE_NW + w) * TILE_N + i];
        }
        hs[i] = sg;
        hs[TILE_N + i] = su;
    }
    moe3_swiglu(hs, e, I, n0, gsv, usv, dsu, dsubits, 1, tid);
    for (moe_u32 i = tid; i < (moe_u32)TILE_N / 2u; i += MOE_THREADS) {
        const moe3m_pair h = moe3m_split(hs[2u * i], hs[2u * i + 1u]);
        hw[i] = h.hi;
        hw[TILE_N / 2u + i] = h.lo;
    }
    MOE_BARRIER();
}

/* The V3=3 decode group (chunk, slot): see the top of this file. Threadgroup memory: xsh (the staged
 * x, 2 * MOE3_SLAB words), pairl (the pair tables, MOE3M_TABW words), hp (MOE3_HPW floats), hs. */
MOE_FN void moe3m_decode(MOE3_DECODE_PARAMS(slot))
{
    const moe_u32 H = p.hidden, I = p.intermediate;
    (void)scr;
    (void)gridl;
    (void)ctl;
    if (!moe3_slot_runs(ids, meta, p, slot))
        return;
    const moe_u32 e = ids[slot];
    const moe_u32 gb = MOE_WIDTH(meta, e, 0u, GATE_BITS), ub = MOE_WIDTH(meta, e, 1u, UP_BITS);
    const moe_u32 db = MOE_WIDTH(meta, e, 2u, DOWN_BITS);
    MOE_G const moe_u32 *gwe = gw + meta[e * 8u + 4u] / 4u, *uwe = uw + meta[e * 8u + 5u] / 4u;
    MOE_G const moe_u32 *dwe = dw + meta[e * 8u + 6u] / 4u;
    MOE_G const moe_u32 *sb = side + e * MOE3_SIDE_WORDS(H, I);
    const moe_u32 tok = slot / p.top_k, n0 = bx * TILE_N;
    const moe_u32 lane = tid & 31u, w = tid >> 5;
    MOE_L moe_u32 *xw = (MOE_L moe_u32 *)xsh, *tab = (MOE_L moe_u32 *)pairl;
    for (moe_u32 i = tid; i < 2u * MOE_NW * TILE_N; i += MOE_THREADS)
        hp[i] = 0.0f;
    for (moe_u32 i = tid; i < 64u; i += MOE_THREADS)
        tab[MOE3M_GRIDW + i] = (moe_u32)grid[i];
    for (moe_u32 ks = 0; ks < H; ks += MOE3_SLAB) {
        const moe_u32 rows = H - ks < MOE3_SLAB ? H - ks : MOE3_SLAB;
        moe3m_p1set first;   /* PREFETCH 1: the slab's first chunk, its loads in flight through the staging */
#if PREFETCH
        moe3m_p1_load(&first, gwe, uwe, gb, ub, moe3m_geom_of(gb, lane), moe3m_geom_of(ub, lane), I, ks, n0, 0u,
                      rows / 128u * (moe_u32)MOE_CT, w);
#endif
        MOE_BARRIER();   /* the sums and the grid's copy are set, and every lane is done with the previous slab */
        moe3m_stage(act + tok * H, ks, rows, gsu + e * H, usu + e * H, sb + MOE3_SIDE_GUSU(H, I), xw, tid);
        if (ks == 0u)
            moe3m_tables(tab, (1u << gb) | (1u << ub) | (1u << db), tid);
        MOE_BARRIER();
        moe3m_p1_slab(&first, gwe, uwe, gb, ub, gs + e * (H / 128u) * I, us + e * (H / 128u) * I, sb, H, I, ks, rows,
                      n0, xw, tab, hp, w, lane);
    }
    moe3m_p2set d0;   /* PREFETCH 1: down's first chunk, in flight through the join */
#if PREFETCH
    moe3m_p2_load(&d0, dwe, db, moe3m_geom_of(db, lane), H, n0, 0u, w);
#endif
    moe3m_join(hp, hs, xw, e, I, n0, gsv, usv, dsu, sb + MOE3_SIDE_DSU(H, I), tid);
#if SIDE
    MOE_G const moe_u16 *dsr = (MOE_G const moe_u16 *)(sb + MOE3_SIDE_DSC(H, I)) + (n0 / 128u) * H;
#else
    MOE_G const moe_u16 *dsr = ds + (e * (I / 128u) + n0 / 128u) * H;
#endif
    moe3m_down(&d0, dwe, db, dsr, dsv + e * H, H, n0, xw, tab, w, lane, out + tok * H, moe_h2f(probs[slot]));
}
#endif

/* The decode entry's body at V3=3 (V3=1 and 2: moe_swiglu.v3t.h). */
#if V3 == 3
#undef MOE3_DECODE
#define MOE3_DECODE moe3m_decode
#endif
