/* The v3 moe_swiglu kernels (issue 16) on the OpenCL device (PoCL here), through moe_cl_run.h,
 * against the double reference, on a layer with every bit width 2..6 and experts without tokens:
 *   - decode with SPLIT_K 1..16 (16: one tile row per split), P2_SPREAD 0 and 1, SIDE 0 (metal-marlin's scales and
 *     signs) and 1 (the workload's side buffer), GRID_COPIES 1 and 32, warps walking column groups,
 *     a hidden of two slabs with a partial one, and three launches in a row (the split-K scratch
 *     must be left clean: a stale partial sum or arrival count would corrupt the next launch);
 *   - the batched modes' parallel token gather (V3=1): small, base, large and grouped, token counts
 *     that divide no block, queues that carry matches over to the next pass (32 threads, 200
 *     assignments);
 *   - PAIR 1 and 2 (pair-sum table for down, pair tables for gate/up; widths 2 and 3) at every
 *     TILE_N, with the split, the spread, SIDE, 32 grid copies and repeated launches; OCC_WARPS (a
 *     CUDA register hint) compiles and changes nothing here;
 *   - V3=2, the ticketed decode: DOWN_ROWS ranges (one, several, a partial last one), output groups
 *     (a partial last one), GROUPS 0 (one group per item) and 1..7 persistent groups, SPLIT_K 1..16,
 *     every TILE_N, SIDE, grid copies, PAIR 2, NUM_BUFFERS 1..4, the dense layout, repeated launches;
 *   - PREFETCH 1 and 2, XVEC 1 (loads in flight, float4 x reads) across the same corners;
 *   - V3=3, the tensor-core decode (its portable product here), across TILE_N, warps, NUM_BUFFERS, SIDE,
 *     two slabs, the dense layout and repeated launches (v3m_cases);
 *   - MOE_TEST_DROP_LAST_K under V3 (with a split, with PAIR 2, under V3=2 and V3=3) is far from the reference.
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
static int v3_mode = 1;   /* V3 of the V3=1-style cases: 1, or 3 (the tensor-core decode) */

#define ALL_BITS "[[6,2,3],[2,3,4],[5,6,2],[4,5,6],[3,4,5]]"
#define SHAPE(tokens, extra) \
    "{\"tokens\": " #tokens ", \"hidden\": 256, \"intermediate\": 256, \"experts\": 8, \"top_k\": 2, " \
    "\"bits\": " ALL_BITS extra "}"
/* decode with every expert routed, so every tuple of ALL_BITS (each width 2..6 in gate, up and
 * down) runs in one launch: the PAIR paths (widths 2, 3) and the others (4..6) */
#define SHAPE_ALL(extra) \
    "{\"tokens\": 1, \"hidden\": 256, \"intermediate\": 256, \"experts\": 5, \"top_k\": 5, " \
    "\"bits\": " ALL_BITS extra "}"

typedef struct v3pt {
    int tn, sg, sgm, sgn, nb, split, side, gc, spread, pair, occ, pf, xv;
} v3pt;

/* rel_err of one V3=1 variant on shape_text, or with drows > 0 of V3=2 with DOWN_ROWS drows and
 * GROUPS groups (-1 when it did not run); *tol gets the tolerance. */
static double run_v3t(const char *shape_text, v3pt v, int drows, int groups, const char *extra, double *tol)
{
    cJSON *shape = cJSON_Parse(shape_text);
    fw_workload *wl = NULL;
    char err[512];
    double rel = -1;
    if (!shape || fam->workload_new(shape, 17, &wl, err, sizeof err) < 0) {
        CHECK(0, "workload for %s: %s", shape_text, err);
        cJSON_Delete(shape);
        return -1;
    }
    fw_point p;
    fw_point_clear(&p);
    fw_point_set(&p, "TILE_N", v.tn);
    fw_point_set(&p, "SIMDGROUPS_PER_TG", v.sg);
    fw_point_set(&p, "SG_M_TILES", v.sgm);
    fw_point_set(&p, "SG_N_TILES", v.sgn);
    fw_point_set(&p, "NUM_BUFFERS", v.nb);
    fw_point_set(&p, "V3", drows ? 2 : v3_mode);
    if (drows) {
        fw_point_set(&p, "DOWN_ROWS", drows);
        fw_point_set(&p, "GROUPS", groups);
    }
    fw_point_set(&p, "SPLIT_K", v.split);
    fw_point_set(&p, "SIDE", v.side);
    fw_point_set(&p, "GRID_COPIES", v.gc);
    fw_point_set(&p, "P2_SPREAD", v.spread);
    fw_point_set(&p, "PAIR", v.pair);
    fw_point_set(&p, "OCC_WARPS", v.occ);
    if (v.pf)
        fw_point_set(&p, "PREFETCH", v.pf);
    if (v.xv)
        fw_point_set(&p, "XVEC", v.xv);
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
    *tol = wl->tolerance;
    free(out);
    fam->workload_free(wl);
    cJSON_Delete(shape);
    return rel;
}

static double run_v3(const char *shape_text, v3pt v, const char *extra, double *tol)
{
    return run_v3t(shape_text, v, 0, 0, extra, tol);
}

static void expect_okt(const char *shape, v3pt v, int drows, int groups)
{
    double tol = 0;
    double rel = run_v3t(shape, v, drows, groups, NULL, &tol);
    CHECK(rel >= 0 && rel < tol, "%s TILE_N=%d SG=%d SG_M=%d SG_N=%d NB=%d SPLIT_K=%d SIDE=%d GRID_COPIES=%d "
          "P2_SPREAD=%d PAIR=%d OCC_WARPS=%d PREFETCH=%d V3=%d DOWN_ROWS=%d GROUPS=%d: rel_err %g", shape, v.tn, v.sg,
          v.sgm, v.sgn, v.nb, v.split, v.side, v.gc, v.spread, v.pair, v.occ, v.pf, drows ? 2 : v3_mode, drows, groups,
          rel);
    printf("v3 TILE_N=%-3d SG=%d SG_M=%d SG_N=%d NB=%d SPLIT_K=%-2d SIDE=%d GC=%-2d SPREAD=%d PAIR=%d OCC=%d launches=%d "
           "rel_err %.2e  %.60s", v.tn, v.sg, v.sgm, v.sgn, v.nb, v.split, v.side, v.gc, v.spread, v.pair, v.occ,
           moe_cl_launches, rel, shape + 1);
    if (drows)
        printf("  V3=2 DOWN_ROWS=%d GROUPS=%d", drows, groups);
    else if (v3_mode != 1)
        printf("  V3=%d", v3_mode);
    if (v.pf)
        printf("  PREFETCH=%d", v.pf);
    if (v.xv)
        printf("  XVEC=%d", v.xv);
    putchar('\n');
}

static void expect_ok(const char *shape, v3pt v)
{
    expect_okt(shape, v, 0, 0);
}

/* V3=3, the tensor-core decode (its portable product here): every width in one layer, TILE_N 16..128
 * (down over 1..8 K tiles), 1..16 warps (items left over: warps with nothing in a round), NUM_BUFFERS 1
 * (4 tiles in flight) and 2, PREFETCH 0 and 1, SIDE 0 and 1, two slabs (the second partial), the dense
 * layout, empty experts, three launches in a row, and the broken drop-last-K variant. */
static void v3m_cases(void)
{
    const char *two_all = "{\"tokens\": 1, \"hidden\": 2176, \"intermediate\": 128, \"experts\": 5, \"top_k\": 5,"
                          " \"bits\": " ALL_BITS "}";
    v3_mode = 3;
    expect_ok(SHAPE_ALL(""), (v3pt){16, 8, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0});
    expect_ok(SHAPE_ALL(""), (v3pt){16, 4, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0});
    expect_ok(SHAPE_ALL(""), (v3pt){32, 8, 1, 1, 2, 1, 1, 1, 0, 0, 24, 0, 0});
    expect_ok(SHAPE_ALL(""), (v3pt){64, 2, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0});
    expect_ok(SHAPE_ALL(""), (v3pt){128, 1, 1, 1, 2, 1, 1, 1, 0, 0, 0, 0, 0});
    expect_ok(SHAPE_ALL(""), (v3pt){16, 16, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0});
    expect_ok(SHAPE(1, ""), (v3pt){32, 4, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0});
    expect_ok(SHAPE(1, ", \"layout\": \"dense\""), (v3pt){16, 8, 1, 1, 2, 1, 1, 1, 0, 0, 0, 0, 0});
    expect_ok(two_all, (v3pt){16, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0});
    expect_ok(two_all, (v3pt){32, 2, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0});
    /* PREFETCH 1 (the software pipeline: a slab's first chunk before its barriers, down's before the join) */
    expect_ok(SHAPE_ALL(""), (v3pt){32, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0});
    expect_ok(two_all, (v3pt){16, 4, 1, 1, 2, 1, 0, 1, 0, 0, 0, 1, 0});
    moe_cl_launches = 3;
    expect_ok(SHAPE_ALL(""), (v3pt){16, 8, 1, 1, 2, 1, 1, 1, 0, 0, 0, 0, 0});
    moe_cl_launches = 1;
    double tol = 0;
    double rel = run_v3(SHAPE_ALL(""), (v3pt){16, 8, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0}, "-DMOE_TEST_DROP_LAST_K=1", &tol);
    CHECK(rel > 10 * tol, "dropping the last K tile row went unnoticed under V3=3: rel_err %g", rel);
    printf("v3 (V3=3) drop-last-K: rel_err %.3f (tolerance %g)\n", rel, tol);
    v3_mode = 1;
}

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
    /* decode */
    expect_ok(SHAPE(1, ""), (v3pt){16, 8, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0});
    expect_ok(SHAPE(1, ""), (v3pt){64, 4, 1, 4, 2, 2, 1, 32, 0, 0, 0, 0, 0});
    expect_ok(SHAPE(1, ""), (v3pt){32, 2, 1, 2, 3, 4, 0, 32, 0, 0, 0, 0, 0});
    expect_ok(SHAPE(1, ""), (v3pt){128, 1, 1, 4, 4, 16, 1, 1, 0, 0, 0, 0, 0});   /* a warp walks 2 column groups */
    expect_ok(SHAPE(1, ", \"layout\": \"dense\""), (v3pt){16, 4, 1, 1, 1, 8, 1, 32, 0, 0, 0, 0, 0});
    /* two slabs, the second partial (2176 = 2048 + 128 rows), with and without a split */
    const char *two = "{\"tokens\": 1, \"hidden\": 2176, \"intermediate\": 128, \"experts\": 5, \"top_k\": 2,"
                      " \"bits\": " ALL_BITS "}";
    const char *two_all = "{\"tokens\": 1, \"hidden\": 2176, \"intermediate\": 128, \"experts\": 5, \"top_k\": 5,"
                          " \"bits\": " ALL_BITS "}";
    expect_ok(two, (v3pt){16, 8, 1, 1, 2, 1, 1, 32, 0, 0, 0, 0, 0});
    expect_ok(two, (v3pt){32, 4, 1, 2, 2, 8, 0, 1, 0, 0, 0, 0, 0});
    /* P2_SPREAD: down spread over the split's groups by tickets and ready flags */
    expect_ok(SHAPE(1, ""), (v3pt){16, 8, 1, 1, 2, 2, 0, 1, 1, 0, 0, 0, 0});
    expect_ok(SHAPE(1, ""), (v3pt){64, 2, 1, 4, 3, 16, 1, 32, 1, 0, 0, 0, 0});   /* more pieces than a warp has tiles */
    expect_ok(two, (v3pt){32, 4, 1, 2, 2, 8, 1, 1, 1, 0, 0, 0, 0});
    /* the split-K scratch (sums, counts, tickets, flags) is clean after every launch */
    moe_cl_launches = 3;
    expect_ok(SHAPE(1, ""), (v3pt){16, 4, 1, 1, 2, 4, 1, 32, 0, 0, 0, 0, 0});
    expect_ok(SHAPE(1, ""), (v3pt){64, 2, 1, 4, 2, 16, 0, 1, 0, 0, 0, 0, 0});
    expect_ok(SHAPE(1, ""), (v3pt){32, 4, 1, 2, 2, 4, 0, 32, 1, 0, 0, 0, 0});
    moe_cl_launches = 1;
    /* PAIR 1 (down's pair-sum table over h for widths 2, 3) and 2 (+ gate/up pair tables for widths 2, 3):
     * every TILE_N (the table fills xsh at 128), with the split, the spread, the side buffer, 32 grid
     * copies (the table is built from copy 0), two slabs, and three launches in a row */
    expect_ok(SHAPE_ALL(""), (v3pt){16, 8, 1, 1, 2, 1, 0, 1, 0, 1, 0, 0, 0});
    expect_ok(SHAPE_ALL(""), (v3pt){16, 8, 1, 1, 2, 1, 0, 1, 0, 2, 0, 0, 0});
    expect_ok(SHAPE_ALL(""), (v3pt){32, 4, 1, 2, 3, 4, 1, 32, 0, 2, 0, 0, 0});
    expect_ok(SHAPE_ALL(""), (v3pt){64, 2, 1, 4, 2, 2, 0, 32, 1, 1, 0, 0, 0});
    expect_ok(SHAPE_ALL(""), (v3pt){128, 1, 1, 4, 4, 16, 1, 1, 0, 2, 0, 0, 0});
    expect_ok(SHAPE_ALL(""), (v3pt){128, 4, 1, 2, 1, 1, 0, 1, 0, 1, 32, 0, 0});
    expect_ok(SHAPE_ALL(", \"layout\": \"dense\""), (v3pt){16, 4, 1, 1, 1, 8, 1, 32, 1, 2, 32, 0, 0});
    expect_ok(two_all, (v3pt){16, 8, 1, 1, 2, 1, 1, 32, 0, 2, 40, 0, 0});
    expect_ok(two_all, (v3pt){32, 4, 1, 2, 2, 8, 0, 1, 1, 1, 0, 0, 0});
    moe_cl_launches = 3;
    expect_ok(SHAPE_ALL(""), (v3pt){32, 4, 1, 2, 2, 4, 0, 32, 1, 2, 0, 0, 0});
    moe_cl_launches = 1;
    /* V3=2, the ticketed decode: A items (gate/up chunks) publish h, B items (DOWN_ROWS ranges x output
     * groups) wait on their range's ready count. One and several ranges, a partial last range (640 =
     * 256 + 256 + 128 rows), a partial output group (2176 / 16 = 136 tiles), one group doing every item,
     * a few persistent groups, one group per item (GROUPS 0); every width, every TILE_N, SIDE, grid
     * copies, PAIR 2, NUM_BUFFERS 1 (4 K tiles in flight) and 4 (2 output tiles per half-warp), the dense
     * layout, and three launches in a row (tickets, ready and done counts reset by the last group out). */
    const char *i640 = "{\"tokens\": 1, \"hidden\": 256, \"intermediate\": 640, \"experts\": 5, \"top_k\": 5,"
                       " \"bits\": " ALL_BITS "}";
    expect_okt(SHAPE(1, ""), (v3pt){16, 8, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0}, 128, 0);
    expect_okt(SHAPE(1, ""), (v3pt){16, 8, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0}, 384, 1);
    expect_okt(SHAPE(1, ""), (v3pt){32, 4, 1, 2, 1, 1, 1, 32, 0, 0, 0, 0, 0}, 256, 3);
    expect_okt(SHAPE_ALL(""), (v3pt){16, 8, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0}, 128, 0);
    expect_okt(SHAPE_ALL(""), (v3pt){16, 8, 1, 4, 2, 1, 1, 32, 0, 2, 0, 0, 0}, 128, 7);
    expect_okt(SHAPE_ALL(""), (v3pt){64, 2, 1, 4, 4, 1, 0, 32, 0, 2, 32, 0, 0}, 256, 0);
    expect_okt(SHAPE_ALL(""), (v3pt){128, 1, 1, 4, 3, 1, 1, 1, 0, 0, 0, 0, 0}, 128, 2);   /* a warp walks 2 column groups */
    expect_okt(SHAPE_ALL(""), (v3pt){32, 16, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0}, 4096, 0);
    expect_okt(i640, (v3pt){16, 8, 1, 1, 2, 1, 1, 1, 0, 0, 0, 0, 0}, 256, 0);
    expect_okt(i640, (v3pt){64, 4, 1, 2, 4, 1, 0, 32, 0, 2, 0, 0, 0}, 384, 4);
    expect_okt(two_all, (v3pt){16, 8, 1, 1, 2, 1, 1, 32, 0, 2, 0, 0, 0}, 128, 0);
    expect_okt(two_all, (v3pt){32, 4, 1, 2, 4, 1, 0, 1, 0, 0, 0, 0, 0}, 128, 3);
    expect_okt(SHAPE_ALL(", \"layout\": \"dense\""), (v3pt){16, 4, 1, 1, 1, 1, 1, 32, 0, 2, 0, 0, 0}, 128, 5);
    /* with SPLIT_K: A items of hidden/SPLIT_K rows, partial sums through scratch, the last split goes on */
    expect_okt(SHAPE_ALL(""), (v3pt){16, 8, 1, 1, 2, 2, 0, 1, 0, 0, 0, 0, 0}, 128, 0);
    expect_okt(SHAPE_ALL(""), (v3pt){32, 4, 1, 2, 2, 16, 1, 32, 0, 2, 0, 0, 0}, 256, 3);
    expect_okt(two_all, (v3pt){16, 8, 1, 1, 1, 4, 0, 1, 0, 0, 0, 0, 0}, 128, 2);
    moe_cl_launches = 3;
    expect_okt(SHAPE_ALL(""), (v3pt){16, 8, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0}, 128, 0);
    expect_okt(i640, (v3pt){16, 4, 1, 1, 2, 8, 0, 1, 0, 0, 0, 0, 0}, 128, 5);
    expect_okt(i640, (v3pt){32, 4, 1, 2, 2, 1, 1, 32, 0, 2, 0, 0, 0}, 256, 6);
    moe_cl_launches = 1;
    /* PREFETCH 1 (phase 1 pipelined: the next chunk's loads before the current decode, a slab's first
     * chunk before its barriers) and 2 (+ down's first chunk before the join): every width, one chunk
     * per part and several (NUM_BUFFERS 1, TILE_N 16: 2 tile rows a chunk), parts with no rows (16 parts,
     * 8 tile rows at hidden 128; 16 parts at hidden 2176: a partial last chunk, a second partial slab),
     * down over several chunks (TILE_N 128), PAIR 1/2, SIDE, grid copies, the split (PREFETCH 1), V3=2's
     * A items, repeated launches */
    const char *h128 = "{\"tokens\": 1, \"hidden\": 128, \"intermediate\": 256, \"experts\": 5, \"top_k\": 5,"
                       " \"bits\": " ALL_BITS "}";
    for (int pf = 1; pf <= 2; pf++) {
        expect_ok(SHAPE_ALL(""), (v3pt){16, 8, 1, 4, 1, 1, 0, 1, 0, 0, 0, pf, 0});
        expect_ok(SHAPE_ALL(""), (v3pt){16, 8, 1, 4, 2, 1, 0, 32, 0, 1, 0, pf, 0});
        expect_ok(SHAPE_ALL(""), (v3pt){16, 4, 1, 4, 1, 1, 1, 1, 0, 2, 0, pf, 0});
        expect_ok(SHAPE_ALL(""), (v3pt){32, 4, 1, 2, 3, 1, 0, 32, 0, 0, 32, pf, 0});
        expect_ok(SHAPE_ALL(""), (v3pt){128, 1, 1, 4, 4, 1, 1, 1, 0, 2, 0, pf, 0});   /* a warp walks 2 column groups */
        expect_ok(SHAPE_ALL(", \"layout\": \"dense\""), (v3pt){16, 8, 1, 4, 1, 1, 1, 32, 0, 1, 0, pf, 0});
        expect_ok(h128, (v3pt){16, 8, 1, 4, 1, 1, 0, 1, 0, 2, 0, pf, 0});
        expect_ok(two_all, (v3pt){16, 8, 1, 4, 1, 1, 1, 32, 0, 1, 0, pf, 0});
        expect_ok(two_all, (v3pt){64, 2, 1, 4, 2, 1, 0, 1, 0, 2, 0, pf, 0});
        expect_ok(i640, (v3pt){16, 8, 1, 4, 2, 1, 0, 1, 0, 0, 0, pf, 0});
    }
    expect_ok(SHAPE_ALL(""), (v3pt){16, 8, 1, 4, 1, 4, 0, 1, 0, 2, 0, 1, 0});
    expect_ok(two_all, (v3pt){32, 4, 1, 2, 2, 8, 1, 32, 1, 1, 0, 1, 0});   /* with the spread */
    expect_okt(SHAPE_ALL(""), (v3pt){16, 8, 1, 4, 1, 1, 0, 1, 0, 2, 0, 1, 0}, 128, 0);
    expect_okt(two_all, (v3pt){16, 8, 1, 4, 2, 4, 1, 32, 0, 0, 0, 1, 0}, 128, 3);
    expect_okt(i640, (v3pt){32, 4, 1, 2, 1, 1, 0, 1, 0, 2, 0, 1, 0}, 256, 0);
    moe_cl_launches = 3;
    expect_ok(SHAPE_ALL(""), (v3pt){16, 8, 1, 4, 1, 1, 0, 1, 0, 1, 0, 2, 0});
    expect_ok(SHAPE_ALL(""), (v3pt){16, 8, 1, 4, 1, 2, 0, 1, 0, 1, 0, 1, 0});
    moe_cl_launches = 1;
    /* XVEC 1 (phase 1's x*su read as float4): every width, PAIR 0/1/2, with PREFETCH 0/1/2, two slabs (the
     * second partial), parts without rows, a warp walking column groups, the split, SIDE, V3=2 */
    expect_ok(SHAPE_ALL(""), (v3pt){16, 8, 1, 4, 2, 1, 0, 1, 0, 1, 0, 0, 1});
    expect_ok(SHAPE_ALL(""), (v3pt){16, 8, 1, 4, 1, 1, 1, 32, 0, 2, 0, 1, 1});
    expect_ok(SHAPE_ALL(""), (v3pt){128, 1, 1, 4, 4, 1, 0, 1, 0, 0, 0, 2, 1});
    expect_ok(two_all, (v3pt){16, 8, 1, 4, 1, 1, 0, 32, 0, 2, 24, 2, 1});
    expect_ok(h128, (v3pt){32, 4, 1, 2, 2, 4, 1, 1, 1, 1, 0, 1, 1});
    expect_okt(i640, (v3pt){16, 8, 1, 4, 1, 2, 0, 1, 0, 2, 0, 1, 1}, 128, 3);
    /* batched modes, parallel gather */
    expect_ok(SHAPE(3, ""), (v3pt){64, 4, 1, 2, 2, 1, 0, 1, 0, 0, 0, 0, 0});
    expect_ok(SHAPE(21, ""), (v3pt){32, 2, 2, 1, 3, 1, 0, 1, 0, 0, 0, 0, 0});
    expect_ok(SHAPE(37, ""), (v3pt){128, 4, 4, 2, 2, 1, 0, 1, 0, 0, 0, 0, 0});
    expect_ok(SHAPE(100, ""), (v3pt){64, 1, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0});   /* 32 threads, ~25 tokens per expert */
    expect_ok(SHAPE(13, ", \"mode\": \"grouped\""), (v3pt){64, 4, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0});
    expect_ok(SHAPE(37, ", \"mode\": \"grouped\""), (v3pt){32, 1, 4, 4, 3, 1, 0, 1, 0, 0, 0, 0, 0});
    /* the broken variant still shows under V3 */
    double tol = 0;
    double rel = run_v3(SHAPE(1, ""), (v3pt){16, 4, 1, 1, 2, 4, 1, 32, 1, 0, 0, 0, 0}, "-DMOE_TEST_DROP_LAST_K=1", &tol);
    CHECK(rel > 10 * tol, "dropping the last K tile row went unnoticed under V3: rel_err %g", rel);
    printf("v3 drop-last-K: rel_err %.3f (tolerance %g)\n", rel, tol);
    rel = run_v3(SHAPE_ALL(""), (v3pt){16, 8, 1, 1, 2, 1, 0, 1, 0, 2, 0, 0, 0}, "-DMOE_TEST_DROP_LAST_K=1", &tol);
    CHECK(rel > 10 * tol, "dropping the last K tile row went unnoticed under PAIR 2: rel_err %g", rel);
    rel = run_v3t(SHAPE_ALL(""), (v3pt){16, 8, 1, 1, 2, 1, 0, 1, 0, 0, 0, 0, 0}, 128, 3, "-DMOE_TEST_DROP_LAST_K=1", &tol);
    CHECK(rel > 10 * tol, "dropping the last K tile row went unnoticed under V3=2: rel_err %g", rel);
    printf("v3 (V3=2) drop-last-K: rel_err %.3f (tolerance %g)\n", rel, tol);
    for (int pf = 1; pf <= 2; pf++) {
        rel = run_v3(SHAPE_ALL(""), (v3pt){16, 8, 1, 4, 1, 1, 0, 1, 0, 1, 0, pf, 0}, "-DMOE_TEST_DROP_LAST_K=1", &tol);
        CHECK(rel > 10 * tol, "dropping the last K tile row went unnoticed under PREFETCH %d: rel_err %g", pf, rel);
        printf("v3 PREFETCH=%d drop-last-K: rel_err %.3f (tolerance %g)\n", pf, rel, tol);
    }
    rel = run_v3(SHAPE_ALL(""), (v3pt){16, 8, 1, 4, 1, 1, 0, 1, 0, 2, 0, 1, 1}, "-DMOE_TEST_DROP_LAST_K=1", &tol);
    CHECK(rel > 10 * tol, "dropping the last K tile row went unnoticed under XVEC 1: rel_err %g", rel);
    v3m_cases();
    moe_cl_close(&cl);
    return failures ? 1 : 0;
}
