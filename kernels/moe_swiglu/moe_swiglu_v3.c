/* moe_swiglu_v3.c - the v3 parts of the moe_swiglu family on the host (issue 16): the side buffer
 * the workload writes (layout in moe_swiglu.h, "SIDE DATA") and the v3 knobs' geometry. */
#include "moe_swiglu.h"

#include <errno.h>
#include <string.h>

#include "fw_util.h"

size_t fw_moe_side_words(int H, int I)
{
    /* must equal MOE3_SIDE_WORDS of moe_swiglu.v3.h */
    return (size_t)(H / 128) * I + (size_t)(I / 128) * H / 2 + (size_t)H / 16 + (size_t)I / 32;
}

/* +-1 half times a half, exactly (a sign flip). */
static uint16_t signed_half(uint16_t v, uint16_t sign)
{
    return (sign & 0x8000u) ? (uint16_t)(v ^ 0x8000u) : v;
}

static void pack_signs(const uint16_t *s, int n, uint32_t *out, int stride)
{
    for (int w = 0; w < n / 32; w++) {
        uint32_t bits = 0;
        for (int b = 0; b < 32; b++)
            bits |= (uint32_t)((s[w * 32 + b] & 0x8000u) != 0) << b;
        out[(size_t)w * (size_t)stride] = bits;
    }
}

void fw_moe_side_pack(int H, int I, const fw_moe_side_src *src, uint32_t *out)
{
    memset(out, 0, fw_moe_side_words(H, I) * 4);
    uint32_t *gu = out;                                     /* [H/128][I] */
    uint16_t *dsc = (uint16_t *)(out + (size_t)(H / 128) * I);   /* [I/128][H] halves */
    uint32_t *gusu = out + (size_t)(H / 128) * I + (size_t)(I / 128) * H / 2;   /* [H/32][2] */
    uint32_t *dsub = gusu + H / 16;                         /* [I/32] */
    for (int g = 0; g < H / 128; g++)
        for (int n = 0; n < I; n++) {
            uint16_t a = signed_half(src->gs[(size_t)g * I + n], src->gsv[n]);
            uint16_t b = signed_half(src->us[(size_t)g * I + n], src->usv[n]);
            gu[(size_t)g * I + n] = (uint32_t)a | (uint32_t)b << 16;
        }
    for (int g = 0; g < I / 128; g++)
        for (int h = 0; h < H; h++)
            dsc[(size_t)g * H + h] = signed_half(src->ds[(size_t)g * H + h], src->dsv[h]);
    pack_signs(src->gsu, H, gusu, 2);
    pack_signs(src->usu, H, gusu + 1, 2);
    pack_signs(src->dsu, I, dsub, 1);
}

int fw_moe_v3_knobs(const fw_point *k, fw_moe_v3 *v, char *err, size_t errlen)
{
    v->v3 = (int)fw_point_value(k, "V3", 0);
    v->split_k = (int)fw_point_value(k, "SPLIT_K", 1);
    v->side = (int)fw_point_value(k, "SIDE", 0);
    v->grid_copies = (int)fw_point_value(k, "GRID_COPIES", 1);
    v->p2_spread = (int)fw_point_value(k, "P2_SPREAD", 0);
    v->pair = (int)fw_point_value(k, "PAIR", 0);
    v->occ_warps = (int)fw_point_value(k, "OCC_WARPS", 0);
    v->down_rows = (int)fw_point_value(k, "DOWN_ROWS", 384);
    v->groups = (int)fw_point_value(k, "GROUPS", 0);
    v->prefetch = (int)fw_point_value(k, "PREFETCH", 0);
    if (v->prefetch < 0 || v->prefetch > 2 || (v->prefetch && !v->v3) ||
        (v->prefetch == 2 && (v->v3 != 1 || v->split_k != 1)))
        return fw_errf(err, errlen, -EINVAL,
                       "PREFETCH=%d must be 0, 1 or 2; 1 needs V3 1 or 2, 2 needs V3=1 and SPLIT_K 1", v->prefetch);
    v->xvec = (int)fw_point_value(k, "XVEC", 0);
    if (v->xvec < 0 || v->xvec > 1 || (v->xvec && !v->v3))
        return fw_errf(err, errlen, -EINVAL, "XVEC=%d must be 0 or 1, and 1 needs V3 1 or 2", v->xvec);
    if (v->pair < 0 || v->pair > 2)
        return fw_errf(err, errlen, -EINVAL, "PAIR=%d must be 0, 1 or 2", v->pair);
    if (v->occ_warps < 0 || v->occ_warps > 64)
        return fw_errf(err, errlen, -EINVAL, "OCC_WARPS=%d must be 0..64 (resident warps per SM asked of the "
                       "CUDA compiler)", v->occ_warps);
    if (v->p2_spread < 0 || v->p2_spread > 1 || (v->p2_spread && v->split_k < 2))
        return fw_errf(err, errlen, -EINVAL, "P2_SPREAD must be 0 or 1, and 1 needs SPLIT_K >= 2");
    if (v->v3 < 0 || v->v3 > 3 || v->side < 0 || v->side > 1)
        return fw_errf(err, errlen, -EINVAL, "V3 must be 0, 1, 2 or 3 and SIDE 0 or 1");
    if (v->v3 == 3 && (v->split_k != 1 || v->p2_spread || v->pair || v->prefetch > 1 || v->xvec || v->grid_copies != 1))
        return fw_errf(err, errlen, -EINVAL, "V3=3 (the tensor-core decode) needs SPLIT_K 1, P2_SPREAD 0, PAIR 0, "
                       "PREFETCH 0 or 1, XVEC 0 and GRID_COPIES 1");
    if (v->down_rows < 128 || v->down_rows > 4096 || v->down_rows % 128 || v->groups < 0 || v->groups > 65535)
        return fw_errf(err, errlen, -EINVAL, "DOWN_ROWS=%d must be a multiple of 128 up to 4096 and GROUPS=%d 0..65535",
                       v->down_rows, v->groups);
    if (v->v3 == 2 && (v->p2_spread || v->pair == 1))
        return fw_errf(err, errlen, -EINVAL, "V3=2 needs P2_SPREAD 0 and PAIR 0 or 2");
    if (v->split_k != 1 && v->split_k != 2 && v->split_k != 4 && v->split_k != 8 && v->split_k != 16)
        return fw_errf(err, errlen, -EINVAL, "SPLIT_K=%d must be 1, 2, 4, 8 or 16", v->split_k);
    if (v->grid_copies != 1 && v->grid_copies != 32)
        return fw_errf(err, errlen, -EINVAL, "GRID_COPIES=%d must be 1 or 32", v->grid_copies);
    return 0;
}

int64_t fw_moe_v3_decode_shared(int64_t tile_n, int64_t kparts, int64_t sgs, const fw_moe_v3 *v)
{
    /* V3=3 (moe_swiglu.v3m.h): xsh, the pair tables and the grid's copy (MOE3M_TABW), hp (MOE3_HPW: each warp's sums), hs,
     * gridl and ctl */
    if (v->v3 == 3)
        return 4 * (2 * 2048 + 5456 + 64 + 2 * sgs * tile_n + 2 * tile_n + 64 + 4);
    /* xsh[2 * 2048] + gridl[64 * GRID_COPIES] + hp[2 * kparts * 2 * TILE_N] + hs[2 * TILE_N] + ctl[4],
     * + pairl[160] with PAIR 2 (PAIR 1's table lives in xsh) */
    return 4 * (2 * 2048 + 64 * (int64_t)v->grid_copies + 2 * kparts * 2 * tile_n + 2 * tile_n + 4 +
                (v->pair >= 2 ? 160 : 0));
}

int64_t fw_moe_v3t_items(int H, int I, int top_k, int64_t tile_n, int64_t sgs, int64_t nbuf, const fw_moe_v3 *v)
{
    /* MOE3T_OT of moe_swiglu.v3t.h: output tiles per half-warp, 4 * NUM_BUFFERS / 8 (at least 1) */
    const int64_t ot = 4 * nbuf / 8 > 0 ? 4 * nbuf / 8 : 1, otiles = 2 * sgs * ot;
    const int64_t na = I / tile_n * top_k * v->split_k, nkr = (I + v->down_rows - 1) / v->down_rows;
    const int64_t nog = (H / 16 + otiles - 1) / otiles;
    return na + nkr * top_k * nog;
}

int64_t fw_moe_v3t_groups(int H, int I, int top_k, int64_t tile_n, int64_t sgs, int64_t nbuf, const fw_moe_v3 *v)
{
    return v->groups ? v->groups : fw_moe_v3t_items(H, I, top_k, tile_n, sgs, nbuf, v);
}
