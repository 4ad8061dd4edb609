/* CPU parts of the moe_swiglu family: tile packing (bit order, straddling codes, tile layout) and its
 * round trip, dequantisation and the expert FFN on hand-computable cases, shapes (errors, defaults,
 * canonical keys, the glm47 mix), seeded workloads (determinism, routing, bytes and flops), launch
 * geometry, the default space and both profiles (resolve and plan with PoCL-like device limits). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_job.h"
#include "moe_swiglu.h"

static int failures;
#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            failures++;                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
        }                                                                                 \
    } while (0)

static const fw_family *fam;

static void test_packing(void)
{
    /* bit order: W[k=1][n=0] is code index 1 (n-major), bits [3,6) for 3-bit codes */
    uint8_t codes[32 * 48];
    uint8_t packed[32 * 48];
    memset(codes, 0, sizeof codes);
    codes[1 * 16 + 0] = 5;
    fw_moe_pack(codes, 3, 16, 16, packed);
    CHECK(packed[0] == 0x28 && packed[1] == 0, "3-bit code 5 at index 1: bytes %02x %02x", packed[0], packed[1]);
    /* a 5-bit code at index 1 straddles bytes 0 and 1 (bits 5..9) */
    codes[1 * 16 + 0] = 0x1f;
    fw_moe_pack(codes, 5, 16, 16, packed);
    CHECK(packed[0] == 0xe0 && packed[1] == 0x03, "5-bit straddle: bytes %02x %02x", packed[0], packed[1]);
    CHECK(fw_moe_code(packed, 5, 16, 1, 0) == 0x1f, "straddling code read back");
    /* W[k=0][n=1] is index 16: n-major inside the tile */
    memset(codes, 0, sizeof codes);
    codes[0 * 16 + 1] = 3;
    fw_moe_pack(codes, 2, 16, 16, packed);
    CHECK(packed[4] == 0x03 && packed[0] == 0, "2-bit code at n=1: byte 4 = %02x", packed[4]);
    /* tile layout tile_k * tiles_n + tile_n: W[16][0] of a 32x32 matrix is in tile 2 */
    memset(codes, 0, sizeof codes);
    codes[16 * 32 + 0] = 1;
    fw_moe_pack(codes, 4, 32, 32, packed);
    CHECK(fw_moe_proj_bytes(4, 32, 32) == 4 * 128, "proj bytes");
    CHECK(packed[2 * 128] == 0x01, "tile order: byte %d = %02x", 2 * 128, packed[2 * 128]);
    /* round trip, every width */
    for (int bits = 2; bits <= 6; bits++) {
        for (int i = 0; i < 32 * 48; i++)
            codes[i] = (uint8_t)((i * 2654435761u >> 7) & ((1u << bits) - 1));
        fw_moe_pack(codes, bits, 32, 48, packed);
        int bad = 0;
        for (int k = 0; k < 32; k++)
            for (int n = 0; n < 48; n++)
                bad += fw_moe_code(packed, bits, 48, k, n) != codes[k * 48 + n];
        CHECK(bad == 0, "%d-bit round trip: %d codes differ", bits, bad);
    }
}

static void test_hand_math(void)
{
    /* dequant: W = grid[code] * scale * su * sv, 2-bit, 16x16 */
    uint8_t codes[256], packed[64];
    uint16_t grid[64], scales[16], su[16], sv[16];
    for (int i = 0; i < 64; i++)
        grid[i] = fw_f32_to_f16(i == 0 ? 0.5f : i == 1 ? -1.0f : i == 2 ? 2.0f : 0.25f);
    for (int i = 0; i < 256; i++)
        codes[i] = (uint8_t)(i % 4);
    for (int i = 0; i < 16; i++) {
        scales[i] = fw_f32_to_f16(i == 3 ? 3.0f : 1.0f);
        su[i] = fw_f32_to_f16(i == 2 ? -1.0f : 1.0f);
        sv[i] = fw_f32_to_f16(i == 5 ? -1.0f : 1.0f);
    }
    fw_moe_pack(codes, 2, 16, 16, packed);
    double w[256];
    fw_moe_dequant(packed, 2, 16, 16, scales, su, sv, grid, w);
    /* W[2][3]: code (2*16+3)%4 = 3 -> 0.25, scale 3, su -1, sv 1 -> -0.75 */
    CHECK(w[2 * 16 + 3] == -0.75, "W[2][3] = %g, want -0.75", w[2 * 16 + 3]);
    /* W[0][5]: code 1 -> -1, scale 1, su 1, sv -1 -> 1 */
    CHECK(w[5] == 1.0, "W[0][5] = %g, want 1", w[5]);
    /* W[1][2]: code 18%4 = 2 -> 2 */
    CHECK(w[16 + 2] == 2.0, "W[1][2] = %g, want 2", w[16 + 2]);

    /* FFN: H=2, I=1; g = 1+2 = 3, u = 2, y = silu(3)*2 * [1, -1] */
    double x[2] = {1, 2}, wg[2] = {1, 1}, wu[2] = {2, 0}, wd[2] = {1, -1}, y[2];
    fw_moe_expert_ffn(x, wg, wu, wd, 2, 1, y);
    double a = 3.0 / (1.0 + exp(-3.0)) * 2.0;
    CHECK(fabs(y[0] - a) < 1e-12 && fabs(y[1] + a) < 1e-12, "ffn y = %g %g, want %g %g", y[0], y[1], a, -a);
}

static int parse(const char *text, fw_moe_shape *s, char *err, size_t n)
{
    cJSON *j = cJSON_Parse(text);
    int rc = fw_moe_shape_parse(j, s, err, n);
    cJSON_Delete(j);
    return rc;
}

static void test_shapes(void)
{
    static fw_moe_shape s, s2;
    char err[256];
    CHECK(parse("{\"tokens\":1,\"hidden\":200,\"intermediate\":128,\"experts\":8,\"top_k\":2,\"bits\":[6,2,3]}",
                &s, err, sizeof err) == -EINVAL && strstr(err, "128"), "hidden 200: %s", err);
    CHECK(parse("{\"tokens\":2,\"hidden\":256,\"intermediate\":128,\"experts\":8,\"top_k\":2,\"bits\":[6,2,3],"
                "\"mode\":\"decode\"}", &s, err, sizeof err) == -EINVAL && strstr(err, "1 token"), "%s", err);
    CHECK(parse("{\"tokens\":1,\"hidden\":256,\"intermediate\":128,\"experts\":8,\"top_k\":2,\"bits\":\"glm47\"}",
                &s, err, sizeof err) == -EINVAL && strstr(err, "64 experts"), "%s", err);
    CHECK(parse("{\"tokens\":1,\"hidden\":256,\"intermediate\":128,\"experts\":8,\"top_k\":2,\"bits\":[7,2,3]}",
                &s, err, sizeof err) == -EINVAL && strstr(err, "2 to 6"), "%s", err);
    CHECK(parse("{\"tokens\":1,\"hidden\":256,\"intermediate\":128,\"experts\":8,\"top_k\":9,\"bits\":[6,2,3]}",
                &s, err, sizeof err) == -EINVAL && strstr(err, "top_k"), "%s", err);
    CHECK(parse("{\"tokens\":1,\"hidden\":256,\"intermediate\":128,\"experts\":8,\"top_k\":2,\"bits\":[6,2,3],"
                "\"mode\":\"fast\"}", &s, err, sizeof err) == -EINVAL && strstr(err, "grouped"), "%s", err);
    /* modes from tokens, keys canonical whatever the field order */
    const int toks[] = {1, 2, 16, 17, 32, 33};
    const int modes[] = {FW_MOE_DECODE, FW_MOE_SMALL, FW_MOE_SMALL, FW_MOE_BASE, FW_MOE_BASE, FW_MOE_LARGE};
    for (int i = 0; i < 6; i++) {
        char t[256];
        snprintf(t, sizeof t, "{\"tokens\":%d,\"hidden\":256,\"intermediate\":128,\"experts\":8,\"top_k\":2,"
                 "\"bits\":[6,2,3]}", toks[i]);
        CHECK(parse(t, &s, err, sizeof err) == 0 && s.mode == modes[i], "tokens %d: mode %d (%s)", toks[i], s.mode,
              err);
    }
    cJSON *a = cJSON_Parse("{\"tokens\":6,\"hidden\":2048,\"intermediate\":1536,\"experts\":64,\"top_k\":4,"
                           "\"mode\":\"grouped\",\"bits\":\"glm47\"}");
    cJSON *b = cJSON_Parse("{\"bits\":\"glm47\",\"top_k\":4,\"mode\":\"grouped\",\"experts\":64,"
                           "\"intermediate\":1536,\"hidden\":2048,\"tokens\":6}");
    char ka[256], kb[256];
    CHECK(fam->shape_key(a, ka, sizeof ka) == 0 && fam->shape_key(b, kb, sizeof kb) == 0 && strcmp(ka, kb) == 0,
          "keys differ: %s / %s", ka, kb);
    CHECK(strcmp(ka, "bits=glm47,experts=64,hidden=2048,intermediate=1536,mode=grouped,tokens=6,top_k=4") == 0,
          "key %s", ka);
    /* glm47: the layer's counts, shuffled, the same every time */
    CHECK(fw_moe_shape_parse(a, &s, err, sizeof err) == 0 && fw_moe_shape_parse(b, &s2, err, sizeof err) == 0,
          "%s", err);
    CHECK(memcmp(s.bits, s2.bits, sizeof s.bits) == 0, "glm47 assignment is not deterministic");
    const uint8_t tup[6][3] = {{6, 2, 3}, {6, 2, 2}, {6, 3, 3}, {6, 3, 4}, {6, 2, 4}, {6, 3, 2}};
    const int want[6] = {42, 8, 6, 4, 3, 1};
    int prefix = 1;
    for (int t = 0; t < 6; t++) {
        int n = 0;
        for (int e = 0; e < 64; e++)
            n += memcmp(s.bits[e], tup[t], 3) == 0;
        CHECK(n == want[t], "tuple %d: %d experts, want %d", t, n, want[t]);
    }
    for (int e = 0; e < 42; e++)
        prefix &= memcmp(s.bits[e], tup[0], 3) == 0;
    CHECK(!prefix, "glm47 tuples are not shuffled");
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON *c = cJSON_Parse("{\"tokens\":3,\"hidden\":256,\"intermediate\":128,\"experts\":8,\"top_k\":2,"
                           "\"bits\":[[6,2,3],[2,3,4]]}");
    CHECK(fam->shape_key(c, ka, sizeof ka) == 0 && strstr(ka, "bits=6-2-3/2-3-4,"), "list key %s", ka);
    CHECK(fw_moe_shape_parse(c, &s, err, sizeof err) == 0 && s.bits[3][0] == 2 && s.bits[4][0] == 6,
          "round robin tuples");
    cJSON_Delete(c);
}

static void test_workload(void)
{
    const char *txt = "{\"tokens\":5,\"hidden\":256,\"intermediate\":128,\"experts\":8,\"top_k\":2,"
                      "\"mode\":\"grouped\",\"bits\":[[6,2,3],[2,3,4],[5,6,2],[4,5,6],[3,4,5]]}";
    cJSON *shape = cJSON_Parse(txt);
    char err[256];
    fw_workload *w1 = NULL, *w2 = NULL, *w3 = NULL;
    CHECK(fam->workload_new(shape, 5, &w1, err, sizeof err) == 0, "%s", err);
    CHECK(fam->workload_new(shape, 5, &w2, err, sizeof err) == 0, "%s", err);
    CHECK(fam->workload_new(shape, 6, &w3, err, sizeof err) == 0, "%s", err);
    if (!w1 || !w2 || !w3)
        return;
    CHECK(strcmp(w1->kernel, "moe_trellis_swiglu_grouped") == 0, "kernel %s", w1->kernel);
    CHECK(w1->nbuffers == 21 && w1->nargs == 22 && w1->output == 17, "grouped bindings: %zu buffers %zu args",
          w1->nbuffers, w1->nargs);
    CHECK(w1->args[18].buffer == -1 && w1->args[18].size == 48 && w1->args[19].buffer == 18 &&
              w1->args[20].buffer == 19 && w1->args[21].buffer == 20,
          "params at 18 (48 bytes), meta at 19, side at 20, scratch at 21");
    CHECK(w1->buffers[20].role == FW_BUF_SCRATCH && w1->buffers[19].role == FW_BUF_INPUT &&
              w1->buffers[19].bytes == 8 * 4 * fw_moe_side_words(256, 128),
          "side is an input of 8 expert blocks, scratch is scratch");
    CHECK(w1->buffers[17].role == FW_BUF_ACCUM && w1->buffers[17].elem == FW_ELEM_F32, "output is float ACCUM");
    for (size_t i = 0; i < w1->nbuffers; i++) {
        CHECK(w1->buffers[i].bytes == w2->buffers[i].bytes, "buffer %zu size", i);
        if (w1->buffers[i].host)
            CHECK(memcmp(w1->buffers[i].host, w2->buffers[i].host, w1->buffers[i].bytes) == 0,
                  "buffer %s differs for the same seed", w1->buffers[i].name);
    }
    CHECK(memcmp(w1->buffers[0].host, w3->buffers[0].host, w1->buffers[0].bytes) != 0,
          "another seed gives the same activations");
    /* routing: 10 assignments, offsets consistent, every token's experts distinct */
    const uint32_t *st = w1->buffers[14].host, *off = w1->buffers[15].host;
    CHECK(off[0] == 0 && off[8] == 10, "offsets %u..%u", off[0], off[8]);
    int total = 0;
    for (int e = 0; e < 8; e++) {
        int n = fw_moe_workload_expert_tokens(w1, e);
        CHECK(n == (int)(off[e + 1] - off[e]), "expert %d: %d tokens, offsets say %u", e, n, off[e + 1] - off[e]);
        for (uint32_t i = off[e]; i + 1 < off[e + 1]; i++)
            CHECK(st[i] < st[i + 1], "expert %d's tokens not sorted/distinct", e);
        total += n;
    }
    CHECK(total == 10, "%d assignments", total);
    /* flops and bytes */
    CHECK(w1->flops == 10.0 * (6.0 * 256 * 128 + 4.0 * 128), "flops %g", w1->flops);
    double wbytes = 0;
    for (int e = 0; e < 8; e++)
        wbytes += (double)fw_moe_workload_gate_bytes(w1, e);
    CHECK(w1->bytes > wbytes && w1->bytes < 1e6, "bytes %g (gate weights alone %g)", w1->bytes, wbytes);
    /* the reference is not trivially zero */
    double norm = 0;
    for (size_t i = 0; i < w1->nreference; i++)
        norm += w1->reference[i] * w1->reference[i];
    CHECK(norm > 1e-6, "reference norm %g", norm);

    /* geometry per mode */
    fw_point p;
    fw_point_clear(&p);
    fw_point_set(&p, "TILE_N", 64);
    fw_point_set(&p, "SIMDGROUPS_PER_TG", 2);
    fw_point_set(&p, "SG_M_TILES", 2);
    fw_point_set(&p, "SG_N_TILES", 2);
    fw_point_set(&p, "NUM_BUFFERS", 3);
    fw_geometry g;
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == 0, "%s", err);
    CHECK(g.grid[0] == 2 && g.grid[1] == 8 && g.group[0] == 64, "grouped grid %u x %u, group %u", g.grid[0],
          g.grid[1], g.group[0]);
    /* 2*M*TN + (M+2)*slab + 64 + 2M + 4 floats, M = 16: slab 128 rows (18*128 <= 4096 < 18*256) */
    CHECK(g.shared_bytes == 4 * (2 * 16 * 64 + 18 * 128 + 64 + 32 + 4), "shared %lld",
          (long long)g.shared_bytes);
    fw_point_set(&p, "TILE_N", 96);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == -EINVAL, "TILE_N 96 accepted");
    fw_point_set(&p, "TILE_N", 64);
    fw_point_set(&p, "SG_N_TILES", 3);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == -EINVAL, "SG_N_TILES 3 accepted");
    fam->workload_free(w1);
    fam->workload_free(w2);
    fam->workload_free(w3);
    cJSON_Delete(shape);

    shape = cJSON_Parse("{\"tokens\":1,\"hidden\":256,\"intermediate\":256,\"experts\":8,\"top_k\":2,"
                        "\"bits\":[6,2,3]}");
    CHECK(fam->workload_new(shape, 1, &w1, err, sizeof err) == 0, "%s", err);
    fw_point_set(&p, "SG_N_TILES", 1);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == 0 && g.grid[0] == 4 && g.grid[1] == 2,
          "decode grid %u x %u", g.grid[0], g.grid[1]);
    CHECK(strcmp(w1->kernel, "moe_trellis_swiglu_decode") == 0 && w1->nargs == 21 && w1->args[17].buffer == -1,
          "decode bindings");
    /* v3: SPLIT_K groups per chunk at decode; the side block holds scales with sv folded in and
     * su as bits (moe_swiglu.h, SIDE DATA) */
    fw_point_set(&p, "V3", 1);
    fw_point_set(&p, "SPLIT_K", 4);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == 0 && g.grid[0] == 16 && g.grid[1] == 2,
          "v3 decode grid %u x %u", g.grid[0], g.grid[1]);
    fw_point_set(&p, "SPLIT_K", 3);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) < 0, "SPLIT_K 3 accepted");
    fw_point_set(&p, "SPLIT_K", 1);
    /* V3=2 (ticketed): one group per work item, 256/64 chunks x 2 slots of A items and ranges x 2 slots
     * x 16/4 output groups of B items (4 = 2 * SIMDGROUPS_PER_TG tiles at NUM_BUFFERS 3), or GROUPS */
    fw_point_set(&p, "V3", 2);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == 0 && g.grid[0] == 8 + 8 && g.grid[1] == 1,
          "V3=2 grid %u x %u", g.grid[0], g.grid[1]);
    fw_point_set(&p, "DOWN_ROWS", 128);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == 0 && g.grid[0] == 8 + 16, "V3=2 grid %u", g.grid[0]);
    fw_point_set(&p, "GROUPS", 5);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == 0 && g.grid[0] == 5, "V3=2 GROUPS 5: grid %u", g.grid[0]);
    fw_point_set(&p, "DOWN_ROWS", 200);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) < 0, "DOWN_ROWS 200 accepted");
    fw_point_set(&p, "DOWN_ROWS", 384);
    fw_point_set(&p, "SPLIT_K", 2);   /* SPLIT_K A items per chunk and slot */
    fw_point_set(&p, "GROUPS", 0);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == 0 && g.grid[0] == 16 + 8, "V3=2 SPLIT_K 2: grid %u", g.grid[0]);
    fw_point_set(&p, "P2_SPREAD", 1);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) < 0, "V3=2 with P2_SPREAD accepted");
    fw_point_set(&p, "P2_SPREAD", 0);
    fw_point_set(&p, "PAIR", 1);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) < 0, "V3=2 with PAIR 1 accepted");
    fw_point_set(&p, "PAIR", 0);
    fw_point_set(&p, "SPLIT_K", 1);
    fw_point_set(&p, "GROUPS", 0);
    /* PREFETCH: 1 under V3 1 and 2 (the grid unchanged), 2 only under V3=1 with SPLIT_K 1 */
    fw_point_set(&p, "PREFETCH", 1);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == 0 && g.grid[0] == 8 + 8, "V3=2 PREFETCH 1: %s", err);
    fw_point_set(&p, "PREFETCH", 2);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) < 0 && strstr(err, "PREFETCH"), "V3=2 with PREFETCH 2 accepted");
    fw_point_set(&p, "V3", 1);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == 0 && g.grid[0] == 4, "V3=1 PREFETCH 2: %s", err);
    fw_point_set(&p, "SPLIT_K", 2);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) < 0, "PREFETCH 2 with SPLIT_K 2 accepted");
    fw_point_set(&p, "SPLIT_K", 1);
    fw_point_set(&p, "PREFETCH", 3);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) < 0, "PREFETCH 3 accepted");
    fw_point_set(&p, "V3", 0);
    fw_point_set(&p, "PREFETCH", 1);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) < 0, "PREFETCH 1 without V3 accepted");
    fw_point_set(&p, "PREFETCH", 0);
    fw_point_set(&p, "XVEC", 1);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) < 0 && strstr(err, "XVEC"), "XVEC 1 without V3 accepted");
    fw_point_set(&p, "V3", 1);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == 0 && g.grid[0] == 4, "V3=1 XVEC 1: %s", err);
    fw_point_set(&p, "XVEC", 2);
    CHECK(fam->geometry(w1, &p, &g, err, sizeof err) < 0, "XVEC 2 accepted");
    fw_point_set(&p, "V3", 0);
    fw_point_set(&p, "XVEC", 0);
    {
        const uint16_t *gs = w1->buffers[2].host, *us = w1->buffers[4].host, *ds = w1->buffers[6].host;
        const uint16_t *gsu = w1->buffers[7].host, *gsv = w1->buffers[8].host, *usv = w1->buffers[10].host;
        const uint16_t *dsu = w1->buffers[11].host, *dsv = w1->buffers[12].host;
        const uint32_t *side = w1->buffers[18].host;
        const size_t sw = fw_moe_side_words(256, 256), e = 3;
        const uint32_t *sb = side + e * sw;
        int bad = 0;
        for (int g2 = 0; g2 < 2; g2++)
            for (int n = 0; n < 256; n++) {
                uint32_t w = sb[g2 * 256 + n];
                float a = fw_f16_to_f32((uint16_t)(w & 0xffff)), b = fw_f16_to_f32((uint16_t)(w >> 16));
                bad += a != fw_f16_to_f32(gs[(e * 2 + g2) * 256 + n]) * fw_f16_to_f32(gsv[e * 256 + n]);
                bad += b != fw_f16_to_f32(us[(e * 2 + g2) * 256 + n]) * fw_f16_to_f32(usv[e * 256 + n]);
            }
        const uint16_t *dsc = (const uint16_t *)(sb + 2 * 256);
        for (int h = 0; h < 256; h++)
            bad += fw_f16_to_f32(dsc[256 + h]) != fw_f16_to_f32(ds[(e * 2 + 1) * 256 + h]) * fw_f16_to_f32(dsv[e * 256 + h]);
        const uint32_t *gusu = sb + 2 * 256 + 2 * 256 / 2, *dsub = gusu + 256 / 16;
        for (int k = 0; k < 256; k++) {
            bad += (int)(gusu[(k / 32) * 2] >> (k % 32) & 1) != (fw_f16_to_f32(gsu[e * 256 + k]) < 0);
            bad += (int)(dsub[k / 32] >> (k % 32) & 1) != (fw_f16_to_f32(dsu[e * 256 + k]) < 0);
        }
        CHECK(bad == 0, "%d side entries differ from the metal-marlin buffers they pack", bad);
    }
    const uint32_t *pp = w1->args[17].bytes;
    CHECK(pp[0] == 1 && pp[1] == 256 && pp[2] == 256 && pp[3] == 8 && pp[4] == 2 && pp[5] == 6 && pp[6] == 2 &&
          pp[7] == 3 && pp[8] == 128 && pp[9] == 64, "MoEParams of a uniform layer");
    int routed = 0;
    for (int e = 0; e < 8; e++)
        routed += fw_moe_workload_gate_bytes(w1, e) > 0;
    CHECK(routed == 2, "%d experts have weights, want the 2 routed ones", routed);
    fam->workload_free(w1);
    cJSON_Delete(shape);

    /* small/base/large: one group column per expert, whatever the token count */
    shape = cJSON_Parse("{\"tokens\":40,\"hidden\":256,\"intermediate\":256,\"experts\":8,\"top_k\":2,"
                        "\"bits\":[6,2,3]}");
    CHECK(fam->workload_new(shape, 1, &w1, err, sizeof err) == 0, "%s", err);
    if (w1) {
        CHECK(fam->geometry(w1, &p, &g, err, sizeof err) == 0 && g.grid[0] == 4 && g.grid[1] == 8,
              "large grid %u x %u", g.grid[0], g.grid[1]);
        CHECK(strcmp(w1->kernel, "moe_trellis_swiglu_large_batch") == 0, "kernel %s", w1->kernel);
        fw_point_set(&p, "V3", 2);
        CHECK(fam->geometry(w1, &p, &g, err, sizeof err) < 0, "V3=2 accepted for a batched mode");
        fw_point_set(&p, "V3", 0);
        fam->workload_free(w1);
    }
    cJSON_Delete(shape);

    /* dense layout: every expert has its block, at e * block size for a uniform layer */
    shape = cJSON_Parse("{\"tokens\":1,\"hidden\":256,\"intermediate\":256,\"experts\":8,\"top_k\":2,"
                        "\"bits\":[6,2,3],\"layout\":\"dense\"}");
    CHECK(fam->workload_new(shape, 1, &w1, err, sizeof err) == 0, "%s", err);
    if (w1) {
        const uint32_t *meta = w1->buffers[17].host;
        for (int e = 0; e < 8; e++)
            CHECK(fw_moe_workload_gate_bytes(w1, e) == fw_moe_proj_bytes(6, 256, 256) &&
                      meta[e * 8 + 4] == (uint32_t)(e * fw_moe_proj_bytes(6, 256, 256)) &&
                      meta[e * 8 + 6] == (uint32_t)(e * fw_moe_proj_bytes(3, 256, 256)),
                  "dense expert %d: block at %u", e, meta[e * 8 + 4]);
        char key[256];
        CHECK(fam->shape_key(shape, key, sizeof key) == 0 && strstr(key, ",layout=dense"), "key %s", key);
        fam->workload_free(w1);
    }
    cJSON_Delete(shape);
}

static const char pocl_device[] =
    "{\"limits\": {\"max_threads\": 4096, \"shared_bytes\": 4194304, \"simd_width\": 8, \"compute_units\": 2}}";
static const char gpu_device[] =
    "{\"limits\": {\"max_threads\": 1024, \"shared_bytes\": 32768, \"simd_width\": 32, \"compute_units\": 40}}";

static void test_space_and_profiles(void)
{
    char err[512];
    cJSON *d = cJSON_Parse(fam->defaults_json);
    CHECK(d != NULL, "defaults_json is not JSON");
    fw_space sp;
    cJSON *sj = cJSON_CreateObject();
    cJSON_AddItemReferenceToObject(sj, "knobs", cJSON_GetObjectItem(d, "knobs"));
    cJSON_AddItemReferenceToObject(sj, "constraints", cJSON_GetObjectItem(d, "constraints"));
    CHECK(fw_space_from_json(sj, &sp, err, sizeof err) == 0, "%s", err);
    cJSON_Delete(sj);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(d, "presets")) == 4, "4 presets");
    /* every preset is valid on a 32 KB GPU for a batched shape; the constraint keeps SG_M_TILES at 1 in decode */
    fw_env env;
    fw_env_clear(&env);
    cJSON *dev = cJSON_Parse(gpu_device);
    fw_device_env(dev, &env);
    cJSON *shape = cJSON_Parse("{\"tokens\":24,\"hidden\":2048,\"intermediate\":1536,\"experts\":64,\"top_k\":4}");
    fw_env_add_json_ints(&env, shape);
    const cJSON *pr;
    cJSON_ArrayForEach(pr, cJSON_GetObjectItem(d, "presets")) {
        fw_point p;
        CHECK(fw_point_from_json(pr, &p, err, sizeof err) == 0, "%s", err);
        char why[256] = "";
        CHECK(fw_space_valid(&sp, &p, &env, why, sizeof why) == 1, "preset rejected: %s", why);
    }
    fw_point p;
    fw_point_clear(&p);
    fw_point_set(&p, "TILE_N", 128);
    fw_point_set(&p, "SIMDGROUPS_PER_TG", 1);
    fw_point_set(&p, "SG_M_TILES", 4);
    fw_point_set(&p, "SG_N_TILES", 1);
    fw_point_set(&p, "NUM_BUFFERS", 4);
    CHECK(fw_space_valid(&sp, &p, &env, NULL, 0) == 0, "a register-hungry, 32 KB-busting point was accepted");
    fw_space_release(&sp);
    cJSON_Delete(shape);
    cJSON_Delete(d);

    const char *profs[] = {"mixed_bpw_fairway_glm47", "moe_small"};
    const int nshapes[] = {13, 5};
    for (int i = 0; i < 2; i++) {
        const char *t = fw_profile_json(profs[i]);
        CHECK(t != NULL, "profile %s is not embedded", profs[i]);
        if (!t)
            continue;
        char spec[128];
        snprintf(spec, sizeof spec, "{\"profile\": \"%s\", \"seed\": 1}", profs[i]);
        cJSON *user = cJSON_Parse(spec), *res = NULL;
        CHECK(fw_spec_resolve(user, &res, err, sizeof err) == 0, "%s: %s", profs[i], err);
        if (res) {
            const cJSON *shapes = cJSON_GetObjectItem(res, "shapes");
            CHECK(cJSON_GetArraySize(shapes) == nshapes[i], "%s: %d shapes", profs[i], cJSON_GetArraySize(shapes));
            const cJSON *sh;
            cJSON_ArrayForEach(sh, shapes) CHECK(fam->shape_check(sh, err, sizeof err) == 0, "%s", err);
            /* the policy presets are among the presets */
            const cJSON *opts = cJSON_GetObjectItem(res, "options");
            const cJSON *pol = cJSON_GetObjectItem(opts, "policy");
            CHECK(cJSON_GetArraySize(pol) == 5, "%s: policy for 5 modes", profs[i]);
            const cJSON *m;
            cJSON_ArrayForEach(m, pol) {
                int found = 0;
                const cJSON *q;
                cJSON_ArrayForEach(q, cJSON_GetObjectItem(res, "presets"))
                    found |= cJSON_Compare(q, cJSON_GetObjectItem(m, "knobs"), 1);
                CHECK(found, "%s: policy preset of %s is not a preset", profs[i], m->string);
            }
            const char *devs[] = {pocl_device, gpu_device};
            for (int k = 0; k < 2; k++) {
                cJSON *dv = cJSON_Parse(devs[k]);
                fw_plan plan = {0};
                CHECK(fw_plan_build(res, dv, &plan, err, sizeof err) == 0, "%s plan: %s", profs[i], err);
                int per[16] = {0};
                for (size_t j = 0; j < plan.n; j++)
                    if (plan.items[j].shape < 16)
                        per[plan.items[j].shape]++;
                for (int s = 0; s < nshapes[i]; s++)
                    CHECK(per[s] > 0, "%s: shape %d has no valid variant on device %d", profs[i], s, k);
                fw_plan_release(&plan);
                cJSON_Delete(dv);
            }
            cJSON_Delete(res);
        }
        cJSON_Delete(user);
    }
    cJSON_Delete(dev);
}

int main(void)
{
    fam = fw_family_find("moe_swiglu");
    if (!fam) {
        fprintf(stderr, "moe_swiglu is not registered\n");
        return 1;
    }
    test_packing();
    test_hand_math();
    test_shapes();
    test_workload();
    test_space_and_profiles();
    return failures ? 1 : 0;
}
