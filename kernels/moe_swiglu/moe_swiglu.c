/* moe_swiglu.c - the moe_swiglu family: shapes, sources, seeded workload, reference, geometry.
 * Contracts and formats: moe_swiglu.h. */
#include "moe_swiglu.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_kernel_text.h"
#include "fw_pcg32.h"
#include "fw_util.h"

/* Host copy of the kernel's MoEParams (12 x uint32, same order). */
typedef struct moe_params {
    uint32_t batch, hidden, intermediate, num_experts, top_k;
    uint32_t gate_bits, up_bits, down_bits, tile_size;
    uint32_t gate_n_levels, up_n_levels, down_n_levels;
} moe_params;

typedef struct moe_priv {
    fw_moe_shape shape;
    int counts[FW_MOE_MAX_EXPERTS];     /* assignments per expert */
    size_t wbytes[3][FW_MOE_MAX_EXPERTS];
} moe_priv;

static const char *const mode_names[] = {"decode", "small", "base", "large", "grouped"};
static const char *const kernel_names[] = {
    "moe_trellis_swiglu_decode", "moe_trellis_swiglu_prefill4", "moe_trellis_swiglu",
    "moe_trellis_swiglu_large_batch", "moe_trellis_swiglu_grouped"};

const char *fw_moe_mode_name(int mode)
{
    return mode >= 0 && mode <= FW_MOE_GROUPED ? mode_names[mode] : "?";
}

const char *fw_moe_kernel_name(int mode)
{
    return mode >= 0 && mode <= FW_MOE_GROUPED ? kernel_names[mode] : "?";
}

/* ---- packing ---- */

size_t fw_moe_proj_bytes(int bits, int K, int N)
{
    return (size_t)(K / 16) * (size_t)(N / 16) * 32u * (size_t)bits;
}

/* Bit offset of W[k][n] in the packed projection. */
static size_t code_bitpos(int bits, int N, int k, int n)
{
    size_t tile = (size_t)(k / 16) * (size_t)(N / 16) + (size_t)(n / 16);
    size_t idx = (size_t)(n % 16) * 16u + (size_t)(k % 16);
    return tile * 256u * (size_t)bits + idx * (size_t)bits;
}

void fw_moe_pack(const uint8_t *codes, int bits, int K, int N, uint8_t *out)
{
    memset(out, 0, fw_moe_proj_bytes(bits, K, N));
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++) {
            size_t pos = code_bitpos(bits, N, k, n);
            unsigned c = codes[(size_t)k * N + n] & ((1u << bits) - 1u);
            for (int b = 0; b < bits; b++, pos++)
                if (c >> b & 1u)
                    out[pos >> 3] |= (uint8_t)(1u << (pos & 7u));
        }
}

unsigned fw_moe_code(const uint8_t *packed, int bits, int N, int k, int n)
{
    size_t pos = code_bitpos(bits, N, k, n);
    unsigned v = packed[pos >> 3];
    if ((pos & 7u) + (size_t)bits > 8u)
        v |= (unsigned)packed[(pos >> 3) + 1] << 8;
    return (v >> (pos & 7u)) & ((1u << bits) - 1u);
}

void fw_moe_dequant(const uint8_t *packed, int bits, int K, int N, const uint16_t *scales,
                    const uint16_t *su, const uint16_t *sv, const uint16_t *grid, double *out)
{
    double g[FW_MOE_GRID_LEVELS];
    for (int i = 0; i < FW_MOE_GRID_LEVELS; i++)
        g[i] = fw_f16_to_f32(grid[i]);
    double *svd = malloc((size_t)N * sizeof *svd);
    if (!svd)
        return;
    for (int n = 0; n < N; n++)
        svd[n] = fw_f16_to_f32(sv[n]);
    for (int k = 0; k < K; k++) {
        double s = fw_f16_to_f32(su[k]);
        const uint16_t *sc = scales + (size_t)(k / FW_MOE_GROUP) * N;
        for (int n = 0; n < N; n++)
            out[(size_t)k * N + n] = g[fw_moe_code(packed, bits, N, k, n)] * fw_f16_to_f32(sc[n]) * s * svd[n];
    }
    free(svd);
}

void fw_moe_expert_ffn(const double *x, const double *wg, const double *wu, const double *wd,
                       int H, int I, double *y)
{
    double *g = calloc((size_t)I * 2, sizeof *g);
    if (!g)
        return;
    double *u = g + I;
    for (int k = 0; k < H; k++) {
        const double *rg = wg + (size_t)k * I, *ru = wu + (size_t)k * I;
        for (int i = 0; i < I; i++) {
            g[i] += x[k] * rg[i];
            u[i] += x[k] * ru[i];
        }
    }
    for (int h = 0; h < H; h++)
        y[h] = 0.0;
    for (int i = 0; i < I; i++) {
        double a = g[i] / (1.0 + exp(-g[i])) * u[i];
        const double *rd = wd + (size_t)i * H;
        for (int h = 0; h < H; h++)
            y[h] += a * rd[h];
    }
    free(g);
}

/* ---- shapes ---- */

static int get_int(const cJSON *shape, const char *name, int lo, int hi, int *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(shape, name);
    if (!cJSON_IsNumber(v))
        return fw_errf(err, errlen, -EINVAL, "moe_swiglu shape needs an integer '%s'", name);
    double d = v->valuedouble;
    if (d != floor(d) || d < lo || d > hi)
        return fw_errf(err, errlen, -EINVAL, "moe_swiglu shape '%s' = %g must be an integer in %d..%d",
                       name, d, lo, hi);
    *out = (int)d;
    return 0;
}

static int parse_tuple(const cJSON *a, uint8_t t[3], char *err, size_t errlen)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 3)
        return fw_errf(err, errlen, -EINVAL,
                       "moe_swiglu bits must be [gate, up, down], a list of such tuples, or \"glm47\"");
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 2 ||
            v->valuedouble > 6)
            return fw_errf(err, errlen, -EINVAL, "moe_swiglu bit widths must be integers from 2 to 6");
        t[i] = (uint8_t)v->valuedouble;
    }
    return 0;
}

/* GLM-4.7-Flash layer 1 (metal-marlin-notes 6): tuples and how many experts carry each. */
static const uint8_t glm47_tuples[6][3] = {{6, 2, 3}, {6, 2, 2}, {6, 3, 3}, {6, 3, 4}, {6, 2, 4}, {6, 3, 2}};
static const int glm47_counts[6] = {42, 8, 6, 4, 3, 1};
#define GLM47_SEED 0x474c4d2d342e37ULL   /* fixed: the layer belongs to the shape, not to a job */

int fw_moe_shape_parse(const cJSON *shape, fw_moe_shape *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (!cJSON_IsObject(shape))
        return fw_errf(err, errlen, -EINVAL, "a moe_swiglu shape must be a JSON object");
    int rc;
    if ((rc = get_int(shape, "tokens", 1, 4096, &s->tokens, err, errlen)) < 0 ||
        (rc = get_int(shape, "hidden", 128, 16384, &s->hidden, err, errlen)) < 0 ||
        (rc = get_int(shape, "intermediate", 128, 16384, &s->intermediate, err, errlen)) < 0 ||
        (rc = get_int(shape, "experts", 1, FW_MOE_MAX_EXPERTS, &s->experts, err, errlen)) < 0 ||
        (rc = get_int(shape, "top_k", 1, s->experts, &s->top_k, err, errlen)) < 0)
        return rc;
    if (s->hidden % FW_MOE_GROUP || s->intermediate % FW_MOE_GROUP)
        return fw_errf(err, errlen, -EINVAL,
                       "moe_swiglu hidden (%d) and intermediate (%d) must be multiples of 128 (the scale group)",
                       s->hidden, s->intermediate);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(shape, "mode");
    if (m && !cJSON_IsNull(m)) {
        if (!cJSON_IsString(m))
            return fw_errf(err, errlen, -EINVAL, "moe_swiglu 'mode' must be a string");
        s->mode = -1;
        for (int i = 0; i <= FW_MOE_GROUPED; i++)
            if (strcmp(m->valuestring, mode_names[i]) == 0)
                s->mode = i;
        if (s->mode < 0)
            return fw_errf(err, errlen, -EINVAL,
                           "unknown moe_swiglu mode '%s' (known: decode, small, base, large, grouped)",
                           m->valuestring);
        if (s->mode == FW_MOE_DECODE && s->tokens != 1)
            return fw_errf(err, errlen, -EINVAL, "moe_swiglu mode decode takes exactly 1 token, not %d",
                           s->tokens);
    } else {
        s->mode = s->tokens == 1 ? FW_MOE_DECODE : s->tokens <= 16 ? FW_MOE_SMALL
                : s->tokens <= 32 ? FW_MOE_BASE : FW_MOE_LARGE;
    }
    const cJSON *lay = cJSON_GetObjectItemCaseSensitive(shape, "layout");
    if (lay && !cJSON_IsNull(lay)) {
        if (!cJSON_IsString(lay) || (strcmp(lay->valuestring, "dense") && strcmp(lay->valuestring, "routed")))
            return fw_errf(err, errlen, -EINVAL, "moe_swiglu 'layout' must be \"routed\" or \"dense\"");
        s->dense = strcmp(lay->valuestring, "dense") == 0;
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(shape, "bits");
    if (cJSON_IsString(b)) {
        if (strcmp(b->valuestring, "glm47") != 0)
            return fw_errf(err, errlen, -EINVAL, "unknown moe_swiglu bits mix '%s' (known: glm47)", b->valuestring);
        if (s->experts != 64)
            return fw_errf(err, errlen, -EINVAL, "the glm47 bit mix is for 64 experts, not %d", s->experts);
        int e = 0;
        for (int t = 0; t < 6; t++)
            for (int c = 0; c < glm47_counts[t]; c++, e++)
                memcpy(s->bits[e], glm47_tuples[t], 3);
        fw_pcg32 r;
        fw_pcg32_seed(&r, GLM47_SEED, 47);
        for (int i = 63; i > 0; i--) {
            int j = (int)fw_pcg32_bounded(&r, (uint32_t)i + 1);
            uint8_t tmp[3];
            memcpy(tmp, s->bits[i], 3);
            memcpy(s->bits[i], s->bits[j], 3);
            memcpy(s->bits[j], tmp, 3);
        }
        snprintf(s->bits_key, sizeof s->bits_key, "glm47");
    } else if (cJSON_IsArray(b) && cJSON_GetArraySize(b) > 0 && cJSON_IsArray(cJSON_GetArrayItem(b, 0))) {
        int n = cJSON_GetArraySize(b);
        if (n > s->experts)
            return fw_errf(err, errlen, -EINVAL, "moe_swiglu bits lists %d tuples for %d experts", n, s->experts);
        uint8_t t[FW_MOE_MAX_EXPERTS][3];
        size_t len = 0;
        for (int i = 0; i < n; i++) {
            if ((rc = parse_tuple(cJSON_GetArrayItem(b, i), t[i], err, errlen)) < 0)
                return rc;
            len += (size_t)snprintf(s->bits_key + len, sizeof s->bits_key - len, "%s%d-%d-%d", i ? "/" : "",
                                    t[i][0], t[i][1], t[i][2]);
            if (len >= sizeof s->bits_key)
                return fw_errf(err, errlen, -EINVAL, "moe_swiglu bits list is too long");
        }
        for (int e = 0; e < s->experts; e++)
            memcpy(s->bits[e], t[e % n], 3);
    } else {
        uint8_t t[3];
        if ((rc = parse_tuple(b, t, err, errlen)) < 0)
            return rc;
        for (int e = 0; e < s->experts; e++)
            memcpy(s->bits[e], t, 3);
        snprintf(s->bits_key, sizeof s->bits_key, "%d-%d-%d", t[0], t[1], t[2]);
    }
    /* Keep memory sane: only routed experts get weights, at most tokens*top_k of them. */
    double routed = s->dense ? s->experts : fmin((double)s->experts, (double)s->tokens * s->top_k);
    double wbytes = routed * 3.0 * s->hidden * (double)s->intermediate * 6.0 / 8.0;
    if (wbytes > 2e9)
        return fw_errf(err, errlen, -EINVAL, "moe_swiglu shape would need %.1f GB of weights (limit 2 GB)",
                       wbytes / 1e9);
    return 0;
}

static int moe_shape_check(const cJSON *shape, char *err, size_t errlen)
{
    fw_moe_shape *s = malloc(sizeof *s);
    if (!s)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    int rc = fw_moe_shape_parse(shape, s, err, errlen);
    free(s);
    return rc;
}

static int moe_shape_key(const cJSON *shape, char *buf, size_t len)
{
    fw_moe_shape *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    int rc = fw_moe_shape_parse(shape, s, NULL, 0);
    if (rc == 0) {
        int n = snprintf(buf, len, "bits=%s,experts=%d,hidden=%d,intermediate=%d,mode=%s,tokens=%d,top_k=%d%s",
                         s->bits_key, s->experts, s->hidden, s->intermediate, mode_names[s->mode], s->tokens,
                         s->top_k, s->dense ? ",layout=dense" : "");
        rc = n < 0 || (size_t)n >= len ? -ENOSPC : 0;
    }
    free(s);
    return rc;
}

static int moe_source(const char *dialect, const cJSON *shape, char **text, char *err, size_t errlen)
{
    (void)shape;
    if (strcmp(dialect, "opencl") && strcmp(dialect, "cuda") && strcmp(dialect, "metal"))
        return fw_errf(err, errlen, -EINVAL, "moe_swiglu has no source for dialect '%s' (opencl, cuda, metal)",
                       dialect);
    char entry[64];
    snprintf(entry, sizeof entry, "moe_swiglu.%s.entry.h", dialect);
    const char *parts[] = {"moe_swiglu.names.h", "moe_swiglu.body.h", "moe_swiglu.v3.h", "moe_swiglu.v3t.h",
                           "moe_swiglu.v3m.h", entry, NULL};
    return fw_kernel_assemble(dialect, parts, text, err, errlen);
}

/* ---- workload ---- */

enum { B_ACT, B_GW, B_GS, B_UW, B_US, B_DW, B_DS, B_GSU, B_GSV, B_USU, B_USV, B_DSU, B_DSV, B_GRID, B_NCOMMON };

static void fill_half(uint16_t *dst, size_t n, uint64_t seed, uint64_t stream, float lo, float hi)
{
    fw_pcg32 r;
    fw_pcg32_seed(&r, seed, stream);
    for (size_t i = 0; i < n; i++)
        dst[i] = fw_f32_to_f16(lo + (hi - lo) * fw_pcg32_float(&r));
}

static void fill_signs(uint16_t *dst, size_t n, uint64_t seed, uint64_t stream)
{
    fw_pcg32 r;
    fw_pcg32_seed(&r, seed, stream);
    for (size_t i = 0; i < n; i++)
        dst[i] = (fw_pcg32_next(&r) & 1u) ? 0xbc00u : 0x3c00u;   /* -1.0 / +1.0 */
}

static int set_buf(fw_workload *wl, int i, const char *name, fw_buf_role role, fw_elem elem, size_t bytes)
{
    wl->buffers[i].name = name;
    wl->buffers[i].role = role;
    wl->buffers[i].elem = elem;
    wl->buffers[i].bytes = bytes ? bytes : 16;
    if (role == FW_BUF_INPUT) {
        wl->buffers[i].host = calloc(1, wl->buffers[i].bytes);
        if (!wl->buffers[i].host)
            return -ENOMEM;
    }
    return 0;
}

static void moe_workload_free(fw_workload *wl)
{
    if (!wl)
        return;
    free(wl->priv);
    fw_workload_free_common(wl);
}

/* What moe_workload_new's stages share: the workload being built, the routing draws and the
 * per-expert layout; moe_workload_new frees the scratch arrays on its one way out. */
typedef struct moe_build {
    fw_workload *wl;
    moe_priv *pv;
    uint64_t seed;
    size_t nassign;       /* tokens * top_k */
    uint32_t *ids;        /* expert of each assignment */
    uint16_t *probs;      /* its probability (half) */
    int *perm;
    uint32_t *meta;       /* per expert: 3 bit widths, then 3 weight offsets (8 words) */
    size_t woff[3];       /* total weight bytes per projection */
    int pk[3], pn[3];     /* each projection's K and N: gate, up, down */
} moe_build;

/* routing: top_k distinct experts per token (partial Fisher-Yates), probabilities normalised */
static int moe_route(moe_build *b)
{
    const int T = b->pv->shape.tokens, E = b->pv->shape.experts, K = b->pv->shape.top_k;
    b->ids = malloc(b->nassign * sizeof *b->ids);
    b->probs = malloc(b->nassign * sizeof *b->probs);
    b->perm = malloc((size_t)E * sizeof *b->perm);
    if (!b->ids || !b->probs || !b->perm)
        return -ENOMEM;
    int *perm = b->perm;
    fw_pcg32 r;
    fw_pcg32_seed(&r, b->seed, 1);
    for (int t = 0; t < T; t++) {
        for (int e = 0; e < E; e++)
            perm[e] = e;
        float raw[FW_MOE_MAX_EXPERTS], sum = 0;
        for (int j = 0; j < K; j++) {
            int pick = j + (int)fw_pcg32_bounded(&r, (uint32_t)(E - j));
            int tmp = perm[j];
            perm[j] = perm[pick];
            perm[pick] = tmp;
            b->ids[(size_t)t * K + j] = (uint32_t)perm[j];
            raw[j] = 0.05f + fw_pcg32_float(&r);
            sum += raw[j];
        }
        for (int j = 0; j < K; j++)
            b->probs[(size_t)t * K + j] = fw_f32_to_f16(raw[j] / sum);
    }
    for (size_t a = 0; a < b->nassign; a++)
        b->pv->counts[b->ids[a]]++;
    return 0;
}

/* common buffers: the per-expert layout (meta), activations, weights, scales, signs, grid */
static int moe_common_buffers(moe_build *b)
{
    fw_workload *wl = b->wl;
    moe_priv *pv = b->pv;
    const fw_moe_shape *s = &pv->shape;
    const int T = s->tokens, H = s->hidden, I = s->intermediate, E = s->experts;
    const uint64_t seed = b->seed;
    const size_t *woff = b->woff;
    int rc;
    uint32_t *meta = b->meta = calloc((size_t)E * 8, sizeof *meta);
    if (!meta)
        return -ENOMEM;
    for (int e = 0; e < E; e++) {
        for (int p = 0; p < 3; p++) {
            meta[e * 8 + p] = s->bits[e][p];
            meta[e * 8 + 4 + p] = (uint32_t)b->woff[p];
            pv->wbytes[p][e] = pv->counts[e] || s->dense ? fw_moe_proj_bytes(s->bits[e][p], b->pk[p], b->pn[p]) : 0;
            b->woff[p] += pv->wbytes[p][e];
        }
    }
    if ((rc = set_buf(wl, B_ACT, "activations", FW_BUF_INPUT, FW_ELEM_F16, (size_t)T * H * 2)) < 0 ||
        (rc = set_buf(wl, B_GW, "gate_weights", FW_BUF_INPUT, FW_ELEM_U8, woff[0] + 8)) < 0 ||
        (rc = set_buf(wl, B_GS, "gate_scales", FW_BUF_INPUT, FW_ELEM_F16, (size_t)E * (H / 128) * I * 2)) < 0 ||
        (rc = set_buf(wl, B_UW, "up_weights", FW_BUF_INPUT, FW_ELEM_U8, woff[1] + 8)) < 0 ||
        (rc = set_buf(wl, B_US, "up_scales", FW_BUF_INPUT, FW_ELEM_F16, (size_t)E * (H / 128) * I * 2)) < 0 ||
        (rc = set_buf(wl, B_DW, "down_weights", FW_BUF_INPUT, FW_ELEM_U8, woff[2] + 8)) < 0 ||
        (rc = set_buf(wl, B_DS, "down_scales", FW_BUF_INPUT, FW_ELEM_F16, (size_t)E * (I / 128) * H * 2)) < 0 ||
        (rc = set_buf(wl, B_GSU, "gate_su", FW_BUF_INPUT, FW_ELEM_F16, (size_t)E * H * 2)) < 0 ||
        (rc = set_buf(wl, B_GSV, "gate_sv", FW_BUF_INPUT, FW_ELEM_F16, (size_t)E * I * 2)) < 0 ||
        (rc = set_buf(wl, B_USU, "up_su", FW_BUF_INPUT, FW_ELEM_F16, (size_t)E * H * 2)) < 0 ||
        (rc = set_buf(wl, B_USV, "up_sv", FW_BUF_INPUT, FW_ELEM_F16, (size_t)E * I * 2)) < 0 ||
        (rc = set_buf(wl, B_DSU, "down_su", FW_BUF_INPUT, FW_ELEM_F16, (size_t)E * I * 2)) < 0 ||
        (rc = set_buf(wl, B_DSV, "down_sv", FW_BUF_INPUT, FW_ELEM_F16, (size_t)E * H * 2)) < 0 ||
        (rc = set_buf(wl, B_GRID, "grid", FW_BUF_INPUT, FW_ELEM_F16, FW_MOE_GRID_LEVELS * 2)) < 0)
        return rc;
    fill_half(wl->buffers[B_ACT].host, (size_t)T * H, seed, 2, -1.0f, 1.0f);
    fill_half(wl->buffers[B_GRID].host, FW_MOE_GRID_LEVELS, seed, 3, -1.0f, 1.0f);
    {
        /* scales ~ 1/sqrt(K) keep every stage's values near 1, so SiLU is neither saturated nor linear */
        float gk = 1.0f / sqrtf((float)H), dk = 1.0f / sqrtf((float)I);
        fill_half(wl->buffers[B_GS].host, (size_t)E * (H / 128) * I, seed, 10, 0.5f * gk, 1.5f * gk);
        fill_half(wl->buffers[B_US].host, (size_t)E * (H / 128) * I, seed, 11, 0.5f * gk, 1.5f * gk);
        fill_half(wl->buffers[B_DS].host, (size_t)E * (I / 128) * H, seed, 12, 0.5f * dk, 1.5f * dk);
    }
    fill_signs(wl->buffers[B_GSU].host, (size_t)E * H, seed, 20);
    fill_signs(wl->buffers[B_GSV].host, (size_t)E * I, seed, 21);
    fill_signs(wl->buffers[B_USU].host, (size_t)E * H, seed, 22);
    fill_signs(wl->buffers[B_USV].host, (size_t)E * I, seed, 23);
    fill_signs(wl->buffers[B_DSU].host, (size_t)E * I, seed, 24);
    fill_signs(wl->buffers[B_DSV].host, (size_t)E * H, seed, 25);
    /* Codes: any bit pattern is a valid code, so a routed expert's block is seeded random bytes. */
    for (int e = 0; e < E; e++)
        for (int p = 0; p < 3; p++) {
            if (!pv->wbytes[p][e])
                continue;
            uint8_t *dst = (uint8_t *)wl->buffers[B_GW + 2 * p].host + meta[e * 8 + 4 + p];
            fw_pcg32 r;
            fw_pcg32_seed(&r, seed, 1000 + (uint64_t)e * 3 + (uint64_t)p);
            for (size_t i = 0; i < pv->wbytes[p][e]; i += 4) {
                uint32_t v = fw_pcg32_next(&r);
                memcpy(dst + i, &v, 4);   /* block sizes are multiples of 32 bytes */
            }
        }
    return 0;
}

/* routing buffers (per assignment, or sorted by expert in grouped mode), then output, meta, side
 * and scratch; sets wl->output */
static int moe_routing_buffers(moe_build *b)
{
    fw_workload *wl = b->wl;
    const fw_moe_shape *s = &b->pv->shape;
    const int T = s->tokens, H = s->hidden, I = s->intermediate, E = s->experts, K = s->top_k;
    const size_t nassign = b->nassign;
    int rc, nb = B_NCOMMON;
    if (s->mode != FW_MOE_GROUPED) {
        if ((rc = set_buf(wl, nb, "expert_ids", FW_BUF_INPUT, FW_ELEM_U32, nassign * 4)) < 0 ||
            (rc = set_buf(wl, nb + 1, "expert_probs", FW_BUF_INPUT, FW_ELEM_F16, nassign * 2)) < 0)
            return rc;
        memcpy(wl->buffers[nb].host, b->ids, nassign * 4);
        memcpy(wl->buffers[nb + 1].host, b->probs, nassign * 2);
        nb += 2;
    } else {
        if ((rc = set_buf(wl, nb, "sorted_token_ids", FW_BUF_INPUT, FW_ELEM_U32, nassign * 4)) < 0 ||
            (rc = set_buf(wl, nb + 1, "expert_offsets", FW_BUF_INPUT, FW_ELEM_U32, ((size_t)E + 1) * 4)) < 0 ||
            (rc = set_buf(wl, nb + 2, "sorted_probs", FW_BUF_INPUT, FW_ELEM_F16, nassign * 2)) < 0)
            return rc;
        uint32_t *st = wl->buffers[nb].host, *off = wl->buffers[nb + 1].host;
        uint16_t *sp = wl->buffers[nb + 2].host;
        size_t n = 0;
        for (int e = 0; e < E; e++) {
            off[e] = (uint32_t)n;
            for (size_t a = 0; a < nassign; a++)
                if (b->ids[a] == (uint32_t)e) {
                    st[n] = (uint32_t)(a / (size_t)K);
                    sp[n] = b->probs[a];
                    n++;
                }
        }
        off[E] = (uint32_t)n;
        nb += 3;
    }
    const size_t side_words = fw_moe_side_words(H, I);
    if ((rc = set_buf(wl, nb, "output", FW_BUF_ACCUM, FW_ELEM_F32, (size_t)T * H * 4)) < 0 ||
        (rc = set_buf(wl, nb + 1, "meta", FW_BUF_INPUT, FW_ELEM_U32, (size_t)E * 32)) < 0 ||
        (rc = set_buf(wl, nb + 2, "side", FW_BUF_INPUT, FW_ELEM_U32, (size_t)E * side_words * 4)) < 0 ||
        (rc = set_buf(wl, nb + 3, "scratch", FW_BUF_SCRATCH, FW_ELEM_F32,
                      (size_t)K * ((size_t)3 * I + (size_t)I / 8 + 2) * 4)) < 0)
        return rc;
    for (int e = 0; e < E; e++) {
        const fw_moe_side_src src = {
            .gs = (const uint16_t *)wl->buffers[B_GS].host + (size_t)e * (H / 128) * I,
            .us = (const uint16_t *)wl->buffers[B_US].host + (size_t)e * (H / 128) * I,
            .ds = (const uint16_t *)wl->buffers[B_DS].host + (size_t)e * (I / 128) * H,
            .gsu = (const uint16_t *)wl->buffers[B_GSU].host + (size_t)e * H,
            .gsv = (const uint16_t *)wl->buffers[B_GSV].host + (size_t)e * I,
            .usu = (const uint16_t *)wl->buffers[B_USU].host + (size_t)e * H,
            .usv = (const uint16_t *)wl->buffers[B_USV].host + (size_t)e * I,
            .dsu = (const uint16_t *)wl->buffers[B_DSU].host + (size_t)e * I,
            .dsv = (const uint16_t *)wl->buffers[B_DSV].host + (size_t)e * H};
        fw_moe_side_pack(H, I, &src, (uint32_t *)wl->buffers[nb + 2].host + (size_t)e * side_words);
    }
    memcpy(wl->buffers[nb + 1].host, b->meta, (size_t)E * 32);
    wl->output = nb;
    return 0;
}

/* the params blob (bit widths only when every expert has the same) and the binding order */
static int moe_params_args(moe_build *b)
{
    fw_workload *wl = b->wl;
    const fw_moe_shape *s = &b->pv->shape;
    const int E = s->experts, out_index = wl->output;
    moe_params *pp = calloc(1, sizeof *pp);
    if (!pp)
        return -ENOMEM;
    int uniform = 1;
    for (int e = 1; e < E; e++)
        uniform &= memcmp(s->bits[e], s->bits[0], 3) == 0;
    pp->batch = (uint32_t)s->tokens;
    pp->hidden = (uint32_t)s->hidden;
    pp->intermediate = (uint32_t)s->intermediate;
    pp->num_experts = (uint32_t)E;
    pp->top_k = (uint32_t)s->top_k;
    pp->gate_bits = uniform ? s->bits[0][0] : 0;
    pp->up_bits = uniform ? s->bits[0][1] : 0;
    pp->down_bits = uniform ? s->bits[0][2] : 0;
    pp->tile_size = FW_MOE_GROUP;
    pp->gate_n_levels = uniform ? 1u << s->bits[0][0] : 0;
    pp->up_n_levels = uniform ? 1u << s->bits[0][1] : 0;
    pp->down_n_levels = uniform ? 1u << s->bits[0][2] : 0;
    for (int a = 0; a <= out_index; a++)
        wl->args[a].buffer = a;
    wl->args[out_index + 1].buffer = -1;
    wl->args[out_index + 1].bytes = pp;
    wl->args[out_index + 1].size = sizeof *pp;
    wl->args[out_index + 2].buffer = out_index + 1;
    wl->args[out_index + 3].buffer = out_index + 2;
    wl->args[out_index + 4].buffer = out_index + 3;
    /* side and scratch came with v3: a user's kernel written to the bindings before it may leave
     * them out (metal-marlin's own kernels do), and is then bound with the arguments it declares */
    wl->min_args = (size_t)out_index + 3;
    return 0;
}

/* reference, in double, from the same half-rounded inputs the kernel reads */
static int moe_reference(moe_build *b)
{
    fw_workload *wl = b->wl;
    const moe_priv *pv = b->pv;
    const fw_moe_shape *s = &pv->shape;
    const int H = s->hidden, I = s->intermediate, E = s->experts, K = s->top_k;
    const int *pk = b->pk, *pn = b->pn;
    wl->nreference = (size_t)s->tokens * H;
    wl->reference = calloc(wl->nreference, sizeof *wl->reference);
    double *wd[3] = {NULL, NULL, NULL};
    double *x = malloc((size_t)H * sizeof *x), *y = malloc((size_t)H * sizeof *y);
    for (int p = 0; p < 3; p++)
        wd[p] = malloc((size_t)H * I * sizeof(double));
    int rc = -ENOMEM;
    if (!wl->reference || !x || !y || !wd[0] || !wd[1] || !wd[2])
        goto out;
    const uint32_t *mt = wl->buffers[wl->output + 1].host;
    const uint16_t *grid = wl->buffers[B_GRID].host;
    for (int e = 0; e < E; e++) {
        if (!pv->counts[e])
            continue;
        for (int p = 0; p < 3; p++) {
            const uint16_t *sc = (const uint16_t *)wl->buffers[B_GS + 2 * p].host +
                                 (size_t)e * (pk[p] / 128) * pn[p];
            const uint16_t *su = (const uint16_t *)wl->buffers[B_GSU + 2 * p].host + (size_t)e * pk[p];
            const uint16_t *sv = (const uint16_t *)wl->buffers[B_GSV + 2 * p].host + (size_t)e * pn[p];
            fw_moe_dequant((const uint8_t *)wl->buffers[B_GW + 2 * p].host + mt[e * 8 + 4 + p], s->bits[e][p],
                           pk[p], pn[p], sc, su, sv, grid, wd[p]);
        }
        for (size_t a = 0; a < b->nassign; a++) {
            if (b->ids[a] != (uint32_t)e)
                continue;
            size_t t = a / (size_t)K;
            const uint16_t *xa = (const uint16_t *)wl->buffers[B_ACT].host + t * H;
            for (int h = 0; h < H; h++)
                x[h] = fw_f16_to_f32(xa[h]);
            fw_moe_expert_ffn(x, wd[0], wd[1], wd[2], H, I, y);
            double pr = fw_f16_to_f32(b->probs[a]);
            for (int h = 0; h < H; h++)
                wl->reference[t * H + h] += pr * y[h];
        }
    }
    /* float accumulation over up to 16384 terms against a double reference */
    wl->tolerance = 2e-3;
    rc = 0;
out:
    free(x);
    free(y);
    for (int p = 0; p < 3; p++)
        free(wd[p]);
    return rc;
}

/* minimum traffic: routed experts' weights, scales, signs and meta; activations, routing, output */
static void moe_traffic(moe_build *b)
{
    fw_workload *wl = b->wl;
    const moe_priv *pv = b->pv;
    const fw_moe_shape *s = &pv->shape;
    const int T = s->tokens, H = s->hidden, I = s->intermediate, E = s->experts;
    const size_t nassign = b->nassign;
    double bytes = (double)T * H * 2 + (double)T * H * 4 + FW_MOE_GRID_LEVELS * 2 + sizeof(moe_params);
    bytes += s->mode == FW_MOE_GROUPED ? (double)nassign * 6 + ((double)E + 1) * 4 : (double)nassign * 6;
    for (int e = 0; e < E; e++) {
        if (!pv->counts[e])
            continue;
        for (int p = 0; p < 3; p++)
            bytes += (double)pv->wbytes[p][e] + (double)(b->pk[p] / 128) * b->pn[p] * 2 +
                     ((double)b->pk[p] + b->pn[p]) * 2;
        bytes += 32;
    }
    wl->bytes = bytes;
    wl->flops = (double)nassign * (6.0 * H * I + 4.0 * I);
}

static int moe_workload_new(const cJSON *shape, uint64_t seed, fw_workload **out, char *err, size_t errlen)
{
    *out = NULL;
    moe_priv *pv = calloc(1, sizeof *pv);
    if (!pv)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    int rc = fw_moe_shape_parse(shape, &pv->shape, err, errlen);
    if (rc < 0) {
        free(pv);
        return rc;
    }
    const fw_moe_shape *s = &pv->shape;
    const int H = s->hidden, I = s->intermediate;
    const int grouped = s->mode == FW_MOE_GROUPED;
    /* buffers: 14 common + 3 routing/output + meta, side, scratch; args: + the params blob */
    fw_workload *wl = fw_workload_alloc(B_NCOMMON + 6 + (size_t)grouped, B_NCOMMON + 7 + (size_t)grouped);
    if (!wl) {
        free(pv);
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    }
    wl->priv = pv;
    snprintf(wl->kernel, sizeof wl->kernel, "%s", kernel_names[s->mode]);
    snprintf(wl->mode, sizeof wl->mode, "%s", mode_names[s->mode]);
    moe_build b = {.wl = wl, .pv = pv, .seed = seed, .nassign = (size_t)s->tokens * s->top_k,
                   .pk = {H, H, I}, .pn = {I, I, H}};
    if ((rc = moe_route(&b)) < 0 || (rc = moe_common_buffers(&b)) < 0 || (rc = moe_routing_buffers(&b)) < 0 ||
        (rc = moe_params_args(&b)) < 0 || (rc = moe_reference(&b)) < 0)
        goto fail;
    moe_traffic(&b);
    wl->shape_macros = cJSON_CreateObject();
    if (!wl->shape_macros || !cJSON_AddNumberToObject(wl->shape_macros, "MOE_MODE", s->mode)) {
        rc = -ENOMEM;
        goto fail;
    }
    free(b.ids);
    free(b.probs);
    free(b.perm);
    free(b.meta);
    *out = wl;
    return 0;
fail:
    free(b.ids);
    free(b.probs);
    free(b.perm);
    free(b.meta);
    moe_workload_free(wl);
    return fw_errf(err, errlen, rc < 0 ? rc : -ENOMEM, "out of memory building the moe_swiglu workload");
}

int fw_moe_workload_expert_tokens(const fw_workload *wl, int e)
{
    const moe_priv *pv = wl ? wl->priv : NULL;
    return pv && e >= 0 && e < pv->shape.experts ? pv->counts[e] : -EINVAL;
}

size_t fw_moe_workload_gate_bytes(const fw_workload *wl, int e)
{
    const moe_priv *pv = wl ? wl->priv : NULL;
    return pv && e >= 0 && e < pv->shape.experts ? pv->wbytes[0][e] : 0;
}

/* ---- geometry: mirrors the macros of moe_swiglu.body.h and the entries' threadgroup arrays ---- */

static int moe_geometry(const fw_workload *wl, const fw_point *k, fw_geometry *g, char *err, size_t errlen)
{
    const moe_priv *pv = wl->priv;
    const fw_moe_shape *s = &pv->shape;
    int64_t tn = fw_point_value(k, "TILE_N", 64), sgs = fw_point_value(k, "SIMDGROUPS_PER_TG", 4);
    int64_t sgm = fw_point_value(k, "SG_M_TILES", 1), sgn = fw_point_value(k, "SG_N_TILES", 1);
    int64_t nbuf = fw_point_value(k, "NUM_BUFFERS", 2);
    if (tn < 16 || tn % 16 || 128 % tn || s->intermediate % tn)
        return fw_errf(err, errlen, -EINVAL,
                       "TILE_N=%lld must be 16, 32, 64 or 128 and divide intermediate %d",
                       (long long)tn, s->intermediate);
    if (sgs < 1 || sgs > 32 || sgm < 1 || sgm > 8 || nbuf < 1 || nbuf > 8)
        return fw_errf(err, errlen, -EINVAL,
                       "SIMDGROUPS_PER_TG must be 1..32, SG_M_TILES 1..8 and NUM_BUFFERS 1..8");
    if (sgn != 1 && sgn != 2 && sgn != 4)
        return fw_errf(err, errlen, -EINVAL, "SG_N_TILES must be 1, 2 or 4 (column tiles per warp)");
    int64_t threads = 32 * sgs, ct = tn / 16, sgn_e = sgn < ct ? sgn : ct, cg = ct / sgn_e;
    if (sgs % cg && cg % sgs)
        return fw_errf(err, errlen, -EINVAL,
                       "SIMDGROUPS_PER_TG=%lld and the %lld column groups (TILE_N/16/SG_N_TILES) must divide "
                       "one another", (long long)sgs, (long long)cg);
    fw_moe_v3 v3;
    int rc = fw_moe_v3_knobs(k, &v3, err, errlen);
    if (rc < 0)
        return rc;
    if ((v3.pair || v3.occ_warps) && !v3.v3)
        return fw_errf(err, errlen, -EINVAL, "PAIR and OCC_WARPS are v3 knobs: they need V3=1");
    if (v3.occ_warps % sgs)
        return fw_errf(err, errlen, -EINVAL, "OCC_WARPS=%d must be a multiple of SIMDGROUPS_PER_TG=%lld",
                       v3.occ_warps, (long long)sgs);
    if (v3.v3 == 3 && s->mode != FW_MOE_DECODE)
        return fw_errf(err, errlen, -EINVAL, "V3=3 is a decode structure (tokens 1)");
    if ((v3.prefetch || v3.xvec) && s->mode != FW_MOE_DECODE)
        return fw_errf(err, errlen, -EINVAL, "PREFETCH and XVEC are decode knobs (tokens 1)");
    if (s->hidden % (16 * v3.split_k))
        return fw_errf(err, errlen, -EINVAL, "SPLIT_K=%d must divide hidden %d into whole 16-row tiles",
                       v3.split_k, s->hidden);
    int64_t M = s->mode == FW_MOE_DECODE ? 1 : 8 * sgm;
    /* MOE_SLAB / MOE_XFLOATS of the body: the largest power-of-two slab (16..2048 rows) whose
     * x[M][slab] + 2 su rows fit 6144 floats (decode) or 4096 floats (batched modes). */
    int64_t budget = M == 1 ? 6144 : 4096, slab = 2048;
    while (slab > 16 && (M + 2) * slab > budget)
        slab /= 2;
    /* toks/tprob hold M (+ one round of the parallel gather under V3), ctl 4 ints */
    g->shared_bytes = 4 * (2 * M * tn + (M + 2) * slab + 64 + 2 * (M + v3.v3 * threads) + 4);
    int64_t kp = sgs >= cg ? sgs / cg : 1;
    if (v3.v3 && s->mode == FW_MOE_DECODE)
        g->shared_bytes = fw_moe_v3_decode_shared(tn, kp, sgs, &v3);
    g->dynamic_shared_bytes = 0;
    g->grid[0] = (uint32_t)(s->intermediate / tn);
    if (v3.v3 && s->mode == FW_MOE_DECODE)   /* SPLIT_K groups per chunk, a chunk more with P2_SPREAD */
        g->grid[0] = (uint32_t)((s->intermediate / tn + v3.p2_spread) * v3.split_k);
    g->grid[1] = (uint32_t)(s->mode == FW_MOE_DECODE ? s->top_k : s->experts);
    if (v3.v3 == 2) {   /* the ticketed decode: GROUPS persistent groups, or one per work item */
        if (s->mode != FW_MOE_DECODE)
            return fw_errf(err, errlen, -EINVAL, "V3=2 is a decode structure (tokens 1)");
        g->grid[0] = (uint32_t)fw_moe_v3t_groups(s->hidden, s->intermediate, s->top_k, tn, sgs, nbuf, &v3);
        g->grid[1] = 1;
    }
    g->grid[2] = 1;
    g->group[0] = (uint32_t)threads;
    g->group[1] = 1;
    g->group[2] = 1;
    return 0;
}

/* the v3 knobs at their v2 values */
#define V2KNOBS "\"V3\": 0, \"SPLIT_K\": 1, \"SIDE\": 0, \"GRID_COPIES\": 1, \"P2_SPREAD\": 0, \"PAIR\": 0, \"OCC_WARPS\": 0"

static const char moe_defaults[] =
    "{\"knobs\": {\"TILE_N\": [16, 32, 64, 128], \"SIMDGROUPS_PER_TG\": [1, 2, 4, 8], \"SG_M_TILES\": [1, 2, 4],"
    " \"SG_N_TILES\": [1, 2, 4], \"NUM_BUFFERS\": [1, 2, 3, 4], \"V3\": [0, 1], \"SPLIT_K\": [1, 2, 4, 8],"
    " \"SIDE\": [0, 1], \"GRID_COPIES\": [1, 32], \"P2_SPREAD\": [0, 1], \"PAIR\": [0, 1, 2],"
    " \"OCC_WARPS\": [0, 32, 48]},"
    " \"constraints\": ["
    "\"intermediate % TILE_N == 0\","
    " \"tokens > 1 || SG_M_TILES == 1\","
    " \"TILE_N * SG_M_TILES <= 128 * SIMDGROUPS_PER_TG\","
    " \"SG_N_TILES * SG_M_TILES <= 8\","
    " \"32 * SIMDGROUPS_PER_TG <= DEVICE_MAX_THREADS\","
    " \"tokens > 1 || 4 * (2 * TILE_N + 6212) <= DEVICE_SHARED_BYTES\","
    " \"tokens == 1 || 4 * (16 * SG_M_TILES * TILE_N + 2690 + 64 * V3 * SIMDGROUPS_PER_TG) <= DEVICE_SHARED_BYTES\","
    " \"V3 == 1 || (SPLIT_K == 1 && SIDE == 0 && GRID_COPIES == 1)\","
    " \"tokens == 1 || (SPLIT_K == 1 && SIDE == 0 && GRID_COPIES == 1)\","
    " \"hidden % (16 * SPLIT_K) == 0\","
    " \"P2_SPREAD == 0 || (V3 == 1 && SPLIT_K > 1 && tokens == 1)\","
    " \"PAIR == 0 || (V3 == 1 && tokens == 1)\","
    " \"OCC_WARPS == 0 || (V3 == 1 && OCC_WARPS % SIMDGROUPS_PER_TG == 0)\","
    " \"tokens > 1 || V3 == 0 || 4 * (4100 + 64 * GRID_COPIES + 64 * SIMDGROUPS_PER_TG * SG_N_TILES + 6 * TILE_N"
    " + 80 * PAIR)"
    " <= DEVICE_SHARED_BYTES\"],"
    " \"presets\": ["
    "{\"TILE_N\": 64, \"SIMDGROUPS_PER_TG\": 4, \"SG_M_TILES\": 1, \"SG_N_TILES\": 1, \"NUM_BUFFERS\": 2, " V2KNOBS "},"
    " {\"TILE_N\": 64, \"SIMDGROUPS_PER_TG\": 4, \"SG_M_TILES\": 1, \"SG_N_TILES\": 2, \"NUM_BUFFERS\": 2, " V2KNOBS "},"
    " {\"TILE_N\": 64, \"SIMDGROUPS_PER_TG\": 4, \"SG_M_TILES\": 4, \"SG_N_TILES\": 2, \"NUM_BUFFERS\": 2, " V2KNOBS "},"
    " {\"TILE_N\": 128, \"SIMDGROUPS_PER_TG\": 4, \"SG_M_TILES\": 2, \"SG_N_TILES\": 2, \"NUM_BUFFERS\": 2, " V2KNOBS "}],"
    " \"shapes\": ["
    "{\"tokens\": 1, \"hidden\": 256, \"intermediate\": 128, \"experts\": 8, \"top_k\": 2, \"bits\": [6, 2, 3]},"
    " {\"tokens\": 6, \"hidden\": 256, \"intermediate\": 128, \"experts\": 8, \"top_k\": 2, \"mode\": \"grouped\","
    " \"bits\": [[6, 2, 3], [2, 3, 4], [5, 6, 2], [4, 5, 6], [3, 4, 5]]}]}";

const fw_family fw_family_moe_swiglu = {
    .version = FW_FAMILY_VERSION,
    .name = "moe_swiglu",
    .description = "mixture-of-experts SwiGLU FFN with mixed-bit trellis-quantized experts (metal-marlin "
                   "moe_trellis_swiglu layout): decode, small, base, large and grouped modes",
    .defaults_json = moe_defaults,
    .shape_check = moe_shape_check,
    .shape_key = moe_shape_key,
    .source = moe_source,
    .workload_new = moe_workload_new,
    .workload_free = moe_workload_free,
    .geometry = moe_geometry,
    .cost = fw_moe_cost,
};
