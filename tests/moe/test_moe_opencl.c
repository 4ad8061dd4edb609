/* The moe_swiglu kernels on the OpenCL device (PoCL here), run directly through moe_cl_run.h:
 *   - every mode (decode, small, base, large, grouped) against the double reference, on a layer with
 *     all bit widths 2..6, token counts that divide no tile (3, 5, 13, 21, 37), experts with no token;
 *   - every value of every core knob at least once, including NUM_BUFFERS 1..4 and TILE_N 32/64/128;
 *   - a variant compiled with MOE_TEST_DROP_LAST_K is far from the reference (the check has teeth);
 *   - compile-time bits (GATE_BITS/UP_BITS/DOWN_BITS) match the generic kernel on a uniform layer.
 * Exits 77 (skip) without an OpenCL device. */
#include <math.h>

#include "moe_cl_run.h"
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

static moe_cl cl;
static const fw_family *fam;

/* Every bit width 2..6 appears in gate, up and down across the layer. */
#define ALL_BITS "[[6,2,3],[2,3,4],[5,6,2],[4,5,6],[3,4,5]]"

static double run_one(const char *shape_text, int tn, int sg, int sgm, int sgn, int nb, const char *extra,
                      fw_workload **keep)
{
    cJSON *shape = cJSON_Parse(shape_text);
    fw_workload *wl = NULL;
    char err[512];
    double rel = -1;
    if (!shape || fam->workload_new(shape, 11, &wl, err, sizeof err) < 0) {
        CHECK(0, "workload for %s: %s", shape_text, err);
        cJSON_Delete(shape);
        return -1;
    }
    fw_point p;
    fw_point_clear(&p);
    fw_point_set(&p, "TILE_N", tn);
    fw_point_set(&p, "SIMDGROUPS_PER_TG", sg);
    fw_point_set(&p, "SG_M_TILES", sgm);
    fw_point_set(&p, "SG_N_TILES", sgn);
    fw_point_set(&p, "NUM_BUFFERS", nb);
    float *out = NULL;
    if (moe_cl_run(&cl, fam, shape, wl, &p, extra, &out) == 0) {
        rel = moe_rel_err(out, wl->reference, wl->nreference);
        size_t bad = 0;
        for (size_t i = 0; i < wl->nreference; i++)
            bad += !isfinite(out[i]);
        CHECK(bad == 0, "%zu non-finite outputs", bad);
    } else {
        CHECK(0, "run failed for %s", shape_text);
    }
    free(out);
    if (keep)
        *keep = wl;
    else
        fam->workload_free(wl);
    cJSON_Delete(shape);
    return rel;
}

static void expect_ok(const char *shape, int tn, int sg, int sgm, int sgn, int nb)
{
    fw_workload *wl = NULL;
    double rel = run_one(shape, tn, sg, sgm, sgn, nb, NULL, &wl);
    CHECK(rel >= 0 && rel < wl->tolerance, "%s TILE_N=%d SG=%d SG_M=%d SG_N=%d NB=%d (%s): rel_err %g", shape,
          tn, sg, sgm, sgn, nb, wl ? wl->mode : "?", rel);
    printf("%-8s TILE_N=%-3d SG=%d SG_M=%d SG_N=%d NB=%d rel_err %.2e\n", wl ? wl->mode : "?", tn, sg, sgm, sgn,
           nb, rel);
    fam->workload_free(wl);
}

#define SHAPE(tokens, extra) \
    "{\"tokens\": " #tokens ", \"hidden\": 256, \"intermediate\": 256, \"experts\": 8, \"top_k\": 2, " \
    "\"bits\": " ALL_BITS extra "}"

int main(void)
{
    if (moe_cl_open(&cl)) {
        printf("no OpenCL device: skipped\n");
        return 77;
    }
    fam = fw_family_find("moe_swiglu");
    if (!fam) {
        fprintf(stderr, "moe_swiglu is not registered\n");
        return 1;
    }

    /* decode: 1 token, top-2 of 8 experts (6 experts get nothing) */
    {
        fw_workload *wl = NULL;
        double rel = run_one(SHAPE(1, ""), 64, 4, 1, 1, 2, NULL, &wl);
        CHECK(rel >= 0 && rel < wl->tolerance, "decode preset: rel_err %g", rel);
        int empty = 0;
        for (int e = 0; e < 8; e++)
            if (fw_moe_workload_expert_tokens(wl, e) == 0) {
                empty++;
                CHECK(fw_moe_workload_gate_bytes(wl, e) == 0, "an expert without tokens got weights");
            }
        CHECK(empty == 6, "%d experts without tokens, want 6", empty);
        fam->workload_free(wl);
    }
    expect_ok(SHAPE(1, ""), 32, 1, 1, 1, 1);
    expect_ok(SHAPE(1, ""), 128, 2, 1, 4, 3);
    expect_ok(SHAPE(1, ""), 64, 1, 1, 2, 4);
    expect_ok(SHAPE(1, ""), 16, 8, 1, 4, 2);   /* K split 16 ways: one row per part */
    expect_ok(SHAPE(1, ""), 16, 8, 1, 1, 3);
    expect_ok(SHAPE(1, ", \"layout\": \"dense\""), 64, 4, 1, 1, 2);   /* every expert's block present */
    /* small (2-16), base (17-32), large (>= 33): token counts that divide no 8-row block */
    expect_ok(SHAPE(3, ""), 64, 4, 1, 2, 2);
    expect_ok(SHAPE(13, ""), 32, 2, 2, 1, 3);
    expect_ok(SHAPE(21, ""), 64, 4, 4, 2, 2);
    expect_ok(SHAPE(37, ""), 128, 4, 4, 2, 2);
    expect_ok(SHAPE(37, ""), 64, 2, 1, 4, 1);
    /* grouped: tokens sorted by expert, every tuple in one launch */
    expect_ok(SHAPE(5, ", \"mode\": \"grouped\""), 64, 4, 1, 1, 2);
    expect_ok(SHAPE(13, ", \"mode\": \"grouped\""), 128, 4, 2, 2, 4);
    expect_ok(SHAPE(37, ", \"mode\": \"grouped\""), 32, 1, 4, 4, 3);
    expect_ok(SHAPE(21, ", \"mode\": \"grouped\""), 16, 8, 2, 4, 2);
    /* a grouped layer where most experts are empty */
    expect_ok("{\"tokens\": 2, \"hidden\": 256, \"intermediate\": 128, \"experts\": 16, \"top_k\": 1,"
              " \"mode\": \"grouped\", \"bits\": " ALL_BITS "}", 64, 2, 1, 2, 2);

    /* v2 paths: a decode hidden of two slabs, the second partial (2176 = 2048 + 128 rows), with the
     * K split 16 ways and with a warp walking two column groups; batched warps walking 4 column groups */
    expect_ok("{\"tokens\": 1, \"hidden\": 2176, \"intermediate\": 128, \"experts\": 5, \"top_k\": 2,"
              " \"bits\": " ALL_BITS "}", 16, 8, 1, 1, 4);
    expect_ok("{\"tokens\": 1, \"hidden\": 2176, \"intermediate\": 128, \"experts\": 5, \"top_k\": 2,"
              " \"bits\": " ALL_BITS "}", 128, 1, 1, 4, 1);
    expect_ok(SHAPE(21, ""), 128, 1, 1, 2, 2);
    expect_ok(SHAPE(6, ", \"mode\": \"grouped\""), 32, 8, 2, 1, 2);
    /* the broken variant: dropping the last K stage must show */
    {
        fw_workload *wl = NULL;
        double rel = run_one(SHAPE(5, ", \"mode\": \"grouped\""), 64, 4, 1, 1, 2, "-DMOE_TEST_DROP_LAST_K=1", &wl);
        CHECK(rel > 10 * wl->tolerance, "dropping the last K stage went unnoticed: rel_err %g", rel);
        printf("drop-last-K: rel_err %.3f (tolerance %g)\n", rel, wl->tolerance);
        fam->workload_free(wl);
    }
    /* compile-time bits on a uniform layer: right; the same macros on a mixed layer: wrong */
    {
        const char *uni = "{\"tokens\": 1, \"hidden\": 256, \"intermediate\": 128, \"experts\": 8, \"top_k\": 2,"
                          " \"bits\": [6, 2, 3]}";
        fw_workload *wl = NULL;
        double rel = run_one(uni, 64, 4, 1, 1, 2, "-DGATE_BITS=6 -DUP_BITS=2 -DDOWN_BITS=3", &wl);
        CHECK(rel >= 0 && rel < wl->tolerance, "tuple-specialised (6,2,3) decode: rel_err %g", rel);
        fam->workload_free(wl);
        wl = NULL;
        rel = run_one(SHAPE(1, ""), 64, 4, 1, 1, 2, "-DGATE_BITS=6 -DUP_BITS=2 -DDOWN_BITS=3", &wl);
        CHECK(rel > 10 * wl->tolerance, "(6,2,3)-specialised kernel on a mixed layer passed: rel_err %g", rel);
        fam->workload_free(wl);
    }
    moe_cl_close(&cl);
    return failures ? 1 : 0;
}
