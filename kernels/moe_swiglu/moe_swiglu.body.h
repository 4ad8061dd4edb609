/* moe_swiglu.body.h - portable body of the mixed-bit trellis MoE SwiGLU kernels.
 *
 * Written once in the portable subset of kernels/common/prelude.<dialect>.h, through the short
 * names of moe_swiglu.names.h (MOE_G, MOE_L, MOE_FN, MOE_BARRIER, moe_h2f, ...). The entry points
 * (moe_swiglu.<dialect>.entry.h) declare the threadgroup arrays and call moe_swiglu_run().
 * Format, bindings and what each knob does per mode: kernels/moe_swiglu/moe_swiglu.h.
 *
 * Work split: one threadgroup = (expert e, chunk of TILE_N intermediate columns). Phase 1 computes
 * gate and up for its TILE_N columns over the full hidden K for a block of up to MOE_MBLK tokens
 * routed to e (each gate/up weight byte is read once per token block), applies SwiGLU into
 * threadgroup memory; phase 2 multiplies by the TILE_N matching rows of down over all hidden columns
 * and atomically adds prob * result into the float output.
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

#define MOE_MODE_DECODE 0
#define MOE_MODE_SMALL 1
#define MOE_MODE_BASE 2
#define MOE_MODE_LARGE 3
#define MOE_MODE_GROUPED 4

#define MOE_THREADS (32 * SIMDGROUPS_PER_TG)
#define MOE_KC 16                                   /* K rows per pipeline stage: one trellis tile row */
#define MOE_MBLK (8 * SG_M_TILES)                   /* token rows per pass (batched modes) */
#define MOE_LPC (4 / SG_N_TILES)                    /* lanes sharing one column (split K) */
#define MOE_SLOTS (MOE_THREADS / MOE_LPC)           /* distinct column slots in a threadgroup */
#if MOE_SLOTS >= TILE_N
#define MOE_CPASS 1
#define MOE_KSPLIT ((MOE_SLOTS / TILE_N) * MOE_LPC)
#define MOE_CSTRIDE 0
#else
#define MOE_CPASS (TILE_N / MOE_SLOTS)
#define MOE_KSPLIT MOE_LPC
#define MOE_CSTRIDE MOE_SLOTS
#endif
#define MOE_KROWS (MOE_KC / MOE_KSPLIT)             /* rows of a stage one K part reduces */
#define MOE_GB_MAX (GATE_BITS ? GATE_BITS : 6)
#define MOE_UB_MAX (UP_BITS ? UP_BITS : 6)
#define MOE_GSLOT (TILE_N * MOE_GB_MAX / 2)         /* words of gate weights per stage (TILE_N/16 tiles) */
#define MOE_USLOT (TILE_N * MOE_UB_MAX / 2)
#define MOE_WSLOT (MOE_GSLOT + MOE_USLOT)
#define MOE_XSLOT(m) ((m) * MOE_KC + 2 * MOE_KC)    /* floats per stage: x[m][KC], su_gate, su_up */
/* The ring also holds down's su for the chunk in phase 2, so it is at least TILE_N floats. */
#define MOE_XRING(m) (NUM_BUFFERS * MOE_XSLOT(m) > TILE_N ? NUM_BUFFERS * MOE_XSLOT(m) : TILE_N)

#if (TILE_N % 16) != 0 || (MOE_KC % MOE_KSPLIT) != 0
#error "moe_swiglu: TILE_N must be a multiple of 16 and the K split must divide 16"
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

/* bits [pos, pos+nb) of a little-endian word stream; a code straddles at most two words, and the
 * second word is read only when it does (it then lies inside the same tile). */
#define MOE_EXTRACT(w, pos, nb) \
    ((((w)[(pos) >> 5] >> ((pos) & 31u)) | \
      ((((pos) & 31u) + (nb) > 32u) ? ((w)[((pos) >> 5) + 1u] << (32u - ((pos) & 31u))) : 0u)) & \
     ((1u << (nb)) - 1u))

/* Stage s of the hidden dimension (rows s*KC.., one 16-row tile row) into ring slot q: activations (the su signs stay
 * separate because gate and up have their own), su of gate and up, and the gate/up
 * weight words of this threadgroup's TILE_N columns (contiguous per 16-row tile: tiles are laid out
 * tile_k * tiles_n + tile_n). */
MOE_FN void moe_load_stage(const moe_u32 s, const moe_u32 q, const int M, const moe_u32 tid,
                           const moe_u32 e, const moe_u32 H, const moe_u32 I, const moe_u32 n0,
                           const moe_u32 gb, const moe_u32 ub, const moe_u32 goff, const moe_u32 uoff,
                           const int mcount,
                           MOE_G const moe_u16 *act, MOE_G const moe_u32 *gw, MOE_G const moe_u32 *uw,
                           MOE_G const moe_u16 *gsu, MOE_G const moe_u16 *usu,
                           MOE_L float *xring, MOE_L moe_u32 *wring, MOE_L int *toks)
{
    MOE_L float *xs = xring + q * (moe_u32)MOE_XSLOT(M);
    MOE_L moe_u32 *ws = wring + q * (moe_u32)MOE_WSLOT;
    const moe_u32 k0 = s * MOE_KC;
    for (moe_u32 i = tid; i < (moe_u32)(M * MOE_KC); i += MOE_THREADS) {
        int m = (int)(i / MOE_KC);
        moe_u32 kk = i % MOE_KC;
        xs[i] = m < mcount ? moe_h2f(act[(moe_u32)toks[m] * H + k0 + kk]) : 0.0f;
    }
    for (moe_u32 i = tid; i < MOE_KC; i += MOE_THREADS) {
        xs[M * MOE_KC + i] = moe_h2f(gsu[e * H + k0 + i]);
        xs[M * MOE_KC + MOE_KC + i] = moe_h2f(usu[e * H + k0 + i]);
    }
    const moe_u32 tiles_n = I / 16u;
    const moe_u32 gper = TILE_N * gb / 2u;   /* words per 16-row tile row of TILE_N columns */
    const moe_u32 uper = TILE_N * ub / 2u;
    MOE_G const moe_u32 *gsrc = gw + goff + ((k0 / 16u) * tiles_n + n0 / 16u) * 8u * gb;
    MOE_G const moe_u32 *usrc = uw + uoff + ((k0 / 16u) * tiles_n + n0 / 16u) * 8u * ub;
    for (moe_u32 i = tid; i < gper; i += MOE_THREADS)
        ws[i] = gsrc[i];
    for (moe_u32 i = tid; i < uper; i += MOE_THREADS)
        ws[MOE_GSLOT + i] = usrc[i];
}

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
    MOE_L float *hbuf, MOE_L float *xring, MOE_L moe_u32 *wring, MOE_L float *gridl,
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
#if GATE_BITS || UP_BITS || DOWN_BITS
    /* A tuple-specialised kernel cannot walk another width's blocks: leave an expert whose bits
     * differ (the output then fails verification) instead of reading past the end of its block. */
    if ((GATE_BITS && meta[e * 8u + 0u] != (moe_u32)GATE_BITS) ||
        (UP_BITS && meta[e * 8u + 1u] != (moe_u32)UP_BITS) ||
        (DOWN_BITS && meta[e * 8u + 2u] != (moe_u32)DOWN_BITS))
        return;
#endif
    const moe_u32 gb = GATE_BITS ? (moe_u32)GATE_BITS : meta[e * 8u + 0u];
    const moe_u32 ub = UP_BITS ? (moe_u32)UP_BITS : meta[e * 8u + 1u];
    const moe_u32 db = DOWN_BITS ? (moe_u32)DOWN_BITS : meta[e * 8u + 2u];
    const moe_u32 goff = meta[e * 8u + 4u] / 4u;
    const moe_u32 uoff = meta[e * 8u + 5u] / 4u;
    const moe_u32 doff = meta[e * 8u + 6u] / 4u;
    const moe_u32 n0 = chunk * TILE_N;

    for (moe_u32 i = tid; i < 64u; i += MOE_THREADS)
        gridl[i] = moe_h2f(grid[i]);

    /* Thread -> (column, K part) map of phase 1 (moe_swiglu.h: SG_N_TILES, SIMDGROUPS_PER_TG). */
    const moe_u32 lane = tid & 31u, sg = tid >> 5;
    const moe_u32 cslot = sg * (8u * SG_N_TILES) + lane / MOE_LPC;
    const moe_u32 sub = lane % MOE_LPC;
#if MOE_SLOTS >= TILE_N
    const moe_u32 col0 = cslot % TILE_N;
    const moe_u32 kpart = (cslot / TILE_N) * MOE_LPC + sub;
#else
    const moe_u32 col0 = cslot;
    const moe_u32 kpart = sub;
#endif
    MOE_L float *hg = hbuf;
    MOE_L float *hu = hbuf + M * TILE_N;

    moe_u32 cursor = mode == MOE_MODE_GROUPED ? offs[e] : mode == MOE_MODE_DECODE ? slot : 0u;
    const moe_u32 end = mode == MOE_MODE_GROUPED ? offs[e + 1u] : nassign;
#ifdef MOE_TEST_DROP_LAST_K
    const moe_u32 nstages = H / MOE_KC - 1u;   /* test only: a broken variant that skips the last K stage */
#else
    const moe_u32 nstages = H / MOE_KC;
#endif

    for (;;) {
        MOE_BARRIER();   /* the previous pass is done with toks, hbuf and the ring */
        if (tid == 0u) {
            int m = 0;
            if (mode == MOE_MODE_DECODE) {
                if (cursor < end) {
                    toks[0] = (int)(slot / TK);
                    tprob[0] = moe_h2f(probs_in[slot]);
                    m = 1;
                }
                cursor = end;
            } else if (mode == MOE_MODE_GROUPED) {
                while (m < M && cursor < end) {
                    toks[m] = (int)ids[cursor];
                    tprob[m] = moe_h2f(probs_in[cursor]);
                    m++;
                    cursor++;
                }
            } else {
                while (m < M && cursor < end) {
                    if (ids[cursor] == e) {
                        toks[m] = (int)(cursor / TK);
                        tprob[m] = moe_h2f(probs_in[cursor]);
                        m++;
                    }
                    cursor++;
                }
            }
            ctl[0] = m;
            ctl[1] = (int)cursor;
        }
        MOE_BARRIER();
        const int mcount = ctl[0];
        cursor = (moe_u32)ctl[1];
        if (mcount == 0)
            break;

        /* ---- phase 1: gate and up for TILE_N columns, pipelined over NUM_BUFFERS stages ---- */
        float accg[MOE_CPASS][MOE_MBLK];
        float accu[MOE_CPASS][MOE_MBLK];
        for (int cp = 0; cp < MOE_CPASS; cp++)
            for (int m = 0; m < M; m++) {
                accg[cp][m] = 0.0f;
                accu[cp][m] = 0.0f;
            }
        /* One loop, one load site: iteration it loads stage it + NUM_BUFFERS - 1 into its ring slot
         * and computes stage it (the first NUM_BUFFERS - 1 iterations only load). With one buffer
         * the load must finish before the compute (two barriers per stage); with more, the slot
         * being loaded was last read an iteration ago, behind that iteration's closing barrier. */
        for (int it = 1 - NUM_BUFFERS; it < (int)nstages; it++) {
            const int ls = it + NUM_BUFFERS - 1;
            if (ls < (int)nstages)
                moe_load_stage((moe_u32)ls, (moe_u32)ls % NUM_BUFFERS, M, tid, e, H, I, n0, gb, ub, goff, uoff,
                               mcount, act, gw, uw, gsu, usu, xring, wring, toks);
#if NUM_BUFFERS == 1
            MOE_BARRIER();
#endif
            if (it < 0) {
                MOE_BARRIER();
                continue;
            }
            const moe_u32 s = (moe_u32)it;
            const moe_u32 q = s % NUM_BUFFERS;
            MOE_L const float *xs = xring + q * (moe_u32)MOE_XSLOT(M);
            MOE_L const float *sug = xs + M * MOE_KC;
            MOE_L const float *suu = sug + MOE_KC;
            MOE_L const moe_u32 *wg = wring + q * (moe_u32)MOE_WSLOT;
            MOE_L const moe_u32 *wu = wg + MOE_GSLOT;
            const moe_u32 k0 = s * MOE_KC;
            for (int cp = 0; cp < MOE_CPASS; cp++) {
                const moe_u32 c = col0 + (moe_u32)cp * MOE_CSTRIDE;
                const moe_u32 n = n0 + c;
                const float scg = moe_h2f(gs[(e * (H / 128u) + k0 / 128u) * I + n]);
                const float scu = moe_h2f(us[(e * (H / 128u) + k0 / 128u) * I + n]);
                for (moe_u32 r = 0; r < MOE_KROWS; r++) {
                    const moe_u32 kk = kpart * MOE_KROWS + r;
                    const moe_u32 tile = (kk / 16u) * (TILE_N / 16u) + c / 16u;
                    const moe_u32 idx = (c % 16u) * 16u + kk % 16u;   /* n-major inside the tile */
                    const moe_u32 pg = tile * 256u * gb + idx * gb;
                    const moe_u32 pu = tile * 256u * ub + idx * ub;
                    const float vg = gridl[MOE_EXTRACT(wg, pg, gb)] * sug[kk] * scg;
                    const float vu = gridl[MOE_EXTRACT(wu, pu, ub)] * suu[kk] * scu;
                    for (int m = 0; m < M; m++) {
                        if (m >= mcount)
                            break;   /* a partial token block does no work on its empty rows */
                        const float x = xs[m * MOE_KC + (int)kk];
                        accg[cp][m] += x * vg;
                        accu[cp][m] += x * vu;
                    }
                }
            }
            MOE_BARRIER();
        }
        /* Reduce the K parts in threadgroup memory, one part at a time (no atomics needed). */
        for (moe_u32 part = 0; part < MOE_KSPLIT; part++) {
            if (kpart == part) {
                for (int cp = 0; cp < MOE_CPASS; cp++) {
                    const moe_u32 c = col0 + (moe_u32)cp * MOE_CSTRIDE;
                    for (int m = 0; m < M; m++) {
                        if (part == 0u) {
                            hg[m * TILE_N + (int)c] = accg[cp][m];
                            hu[m * TILE_N + (int)c] = accu[cp][m];
                        } else {
                            hg[m * TILE_N + (int)c] += accg[cp][m];
                            hu[m * TILE_N + (int)c] += accu[cp][m];
                        }
                    }
                }
            }
            MOE_BARRIER();
        }
        /* SwiGLU in place; the ring is free now: stage down's su rows of this chunk there. */
        for (moe_u32 i = tid; i < (moe_u32)(mcount * TILE_N); i += MOE_THREADS) {
            const moe_u32 n = n0 + i % TILE_N;
            const float g = hg[i] * moe_h2f(gsv[e * I + n]);
            const float u = hu[i] * moe_h2f(usv[e * I + n]);
            hg[i] = g / (1.0f + MOE_EXP(-g)) * u;
        }
        for (moe_u32 i = tid; i < TILE_N; i += MOE_THREADS)
            xring[i] = moe_h2f(dsu[e * I + n0 + i]);
        MOE_BARRIER();

        /* ---- phase 2: down rows n0..n0+TILE_N over every hidden column ---- */
        const moe_u32 tiles_nd = H / 16u;
        for (moe_u32 n = tid; n < H; n += MOE_THREADS) {
            float acc[MOE_MBLK];
            for (int m = 0; m < M; m++)
                acc[m] = 0.0f;
            for (moe_u32 kt = 0; kt < TILE_N / 16u; kt++) {
                const moe_u32 k0 = n0 + kt * 16u;
                const float sc = moe_h2f(ds[(e * (I / 128u) + k0 / 128u) * H + n]);
                MOE_G const moe_u32 *wt = dw + doff + ((k0 / 16u) * tiles_nd + n / 16u) * 8u * db;
                const moe_u32 base = (n % 16u) * 16u * db;
                for (moe_u32 kin = 0; kin < 16u; kin++) {
                    const moe_u32 pos = base + kin * db;
                    const float w = gridl[MOE_EXTRACT(wt, pos, db)] * xring[kt * 16u + kin] * sc;
                    for (int m = 0; m < M; m++) {
                        if (m >= mcount)
                            break;
                        acc[m] += hg[m * TILE_N + (int)(kt * 16u + kin)] * w;
                    }
                }
            }
            const float sv = moe_h2f(dsv[e * H + n]);
            for (int m = 0; m < mcount; m++)
                moe_atomic_add_f32(out + (moe_u32)toks[m] * H + n, tprob[m] * acc[m] * sv);
        }
        if (mode == MOE_MODE_DECODE)
            break;
    }
}
