/* Job specs and plans: reproducibility, strategies, presets first, budgets, flag mapping, and the
 * errors a person sees. Spaces and shapes are explicit so the tests do not depend on a family's
 * default choices (except the last one, which resolves the gemm_small profile). */
#include <errno.h>
#include <stdlib.h>

#include "fw_check.h"
#include "fw_job.h"
#include "fw_config.h"

#define SPACE                                                                                 \
    "\"space\": {\"knobs\": {\"TILE_N\": [16, 32, 64, 128], \"SG_M_TILES\": [8, 16, 32],"        \
    " \"NUM_BUFFERS\": [1, 2, 3]}, \"constraints\": [\"M % SG_M_TILES == 0\", \"TILE_N <= N\","  \
    " \"SG_M_TILES * TILE_N <= 2048\"]}"
#define SHAPES "\"shapes\": [{\"M\": 64, \"N\": 64, \"K\": 16}, {\"M\": 48, \"N\": 128, \"K\": 16}]"
#define PRESETS                                                                               \
    "\"presets\": [{\"TILE_N\": 32, \"SG_M_TILES\": 16, \"NUM_BUFFERS\": 2},"                    \
    " {\"TILE_N\": 128, \"SG_M_TILES\": 16, \"NUM_BUFFERS\": 1},"                                \
    " {\"TILE_N\": 16, \"SG_M_TILES\": 32, \"NUM_BUFFERS\": 3}]"

static const int64_t TN[] = {16, 32, 64, 128}, TM[] = {8, 16, 32}, NB[] = {1, 2, 3};
static const int64_t SHAPE_M[] = {64, 48}, SHAPE_N[] = {64, 128};

/* Valid count for a shape, by nested loops over the knobs independently of the library. */
static size_t valid_count(int s)
{
    size_t n = 0;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++)
                n += SHAPE_M[s] % TM[b] == 0 && TN[c] <= SHAPE_N[s] && TM[b] * TN[c] <= 2048 && NB[a];
    return n;
}

static int is_valid(int s, const fw_point *p)
{
    int64_t tm = fw_point_value(p, "SG_M_TILES", -1), tn = fw_point_value(p, "TILE_N", -1);
    return SHAPE_M[s] % tm == 0 && tn <= SHAPE_N[s] && tm * tn <= 2048;
}

static cJSON *resolve(const char *text, char *err, size_t errlen)
{
    cJSON *u = cJSON_Parse(text);
    if (!u) {
        fprintf(stderr, "test bug: bad JSON %s\n", text);
        exit(2);
    }
    cJSON *r = NULL;
    int rc = fw_spec_resolve(u, &r, err, errlen);
    cJSON_Delete(u);
    if (rc < 0)
        r = NULL;
    return r;
}

static cJSON *resolve_ok(const char *text)
{
    char err[400] = "";
    cJSON *r = resolve(text, err, sizeof err);
    if (!r) {
        fprintf(stderr, "unexpected resolve error: %s\n  for %s\n", err, text);
        fw_check_failures++;
    }
    return r;
}

static void resolve_err(const char *text, const char *sub)
{
    char err[400] = "";
    cJSON *r = resolve(text, err, sizeof err);
    CHECK(r == NULL);
    CHECK_HAS(err, sub);
    cJSON_Delete(r);
}

static int plan_ok(const cJSON *spec, const cJSON *dev, fw_plan *p)
{
    char err[400] = "";
    int rc = fw_plan_build(spec, dev, p, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "unexpected plan error: %s\n", err);
        fw_check_failures++;
    }
    return rc;
}

static int same_plan(const fw_plan *a, const fw_plan *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        char k1[FW_KEY_MAX], k2[FW_KEY_MAX];
        fw_point_key(&a->items[i].point, k1, sizeof k1);
        fw_point_key(&b->items[i].point, k2, sizeof k2);
        if (a->items[i].shape != b->items[i].shape || strcmp(k1, k2) || strcmp(a->items[i].origin, b->items[i].origin))
            return 0;
    }
    return 1;
}

static size_t count_shape(const fw_plan *p, int s)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += p->items[i].shape == s;
    return n;
}

/* No point twice within a shape; every point valid for its shape. */
static void check_distinct_valid(const fw_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        CHECK(is_valid(p->items[i].shape, &p->items[i].point));
        for (size_t j = i + 1; j < p->n; j++) {
            if (p->items[i].shape != p->items[j].shape)
                continue;
            char k1[FW_KEY_MAX], k2[FW_KEY_MAX];
            fw_point_key(&p->items[i].point, k1, sizeof k1);
            fw_point_key(&p->items[j].point, k2, sizeof k2);
            CHECK(strcmp(k1, k2) != 0);
        }
    }
}

/* issue 19 item 5: no budget anywhere is FW_SPEC_DEFAULT_BUDGET for random and grid (every preset
 * for presets); "budget": 0 stays every valid point, also when a stored spec is resolved again. */
static void test_default_budget(void)
{
    static const char *const us[] = {
        "{\"family\": \"gemm\", " SHAPES ", " SPACE ", " PRESETS ", \"strategy\": \"random\", \"seed\": 3}",
        "{\"family\": \"gemm\", " SHAPES ", " SPACE ", " PRESETS ", \"strategy\": \"grid\", \"seed\": 3}",
        "{\"family\": \"gemm\", " SHAPES ", " SPACE ", " PRESETS ", \"strategy\": \"presets\", \"seed\": 3}"};
    for (int i = 0; i < 3; i++) {
        const char *u = us[i];
        cJSON *r = resolve_ok(u);
        if (!r)
            continue;
        CHECK_INT(cJSON_GetObjectItem(r, "budget")->valuedouble, i < 2 ? FW_SPEC_DEFAULT_BUDGET : 0);
        cJSON_Delete(r);
    }
    cJSON *r = resolve_ok("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"budget\": 0, \"seed\": 3}");
    cJSON *again = NULL;
    char err[300];
    if (r) {
        CHECK_INT(fw_spec_resolve(r, &again, err, sizeof err), 0);
        CHECK_INT(cJSON_GetObjectItem(again, "budget")->valuedouble, 0);
    }
    cJSON_Delete(again);
    cJSON_Delete(r);
}

static void test_reproducible(void)
{
    const char *u = "{\"family\": \"gemm\", " SHAPES ", " SPACE ", " PRESETS ", \"strategy\": \"random\", \"seed\": 7,"
                    " \"budget\": 0}";
    cJSON *r1 = resolve_ok(u), *r2 = resolve_ok(u);
    if (!r1 || !r2)
        return;
    char h1[17], h2[17];
    fw_spec_hash(r1, h1);
    fw_spec_hash(r2, h2);
    CHECK_STR(h1, h2);
    fw_plan p1, p2;
    plan_ok(r1, NULL, &p1);
    plan_ok(r2, NULL, &p2);
    CHECK(p1.n > 0);
    CHECK(same_plan(&p1, &p2));

    /* resolving a resolved spec changes nothing (what the daemon stores is what reruns use) */
    cJSON *r3 = NULL;
    char err[300];
    CHECK_INT(fw_spec_resolve(r1, &r3, err, sizeof err), 0);
    char h3[17];
    fw_spec_hash(r3, h3);
    CHECK_STR(h3, h1);
    CHECK(cJSON_Compare(r1, r3, 1));
    fw_plan p3;
    plan_ok(r3, NULL, &p3);
    CHECK(same_plan(&p1, &p3));

    /* the hash ignores key order but not content */
    cJSON *r4 = resolve_ok("{\"budget\": 0, \"seed\": 7, \"strategy\": \"random\", " PRESETS ", " SPACE ", " SHAPES ", \"family\": \"gemm\"}");
    char h4[17];
    fw_spec_hash(r4, h4);
    CHECK_STR(h4, h1);
    cJSON *r5 = resolve_ok("{\"family\": \"gemm\", " SHAPES ", " SPACE ", " PRESETS ", \"strategy\": \"random\", \"seed\": 8, \"budget\": 0}");
    char h5[17];
    fw_spec_hash(r5, h5);
    CHECK(strcmp(h5, h1) != 0);

    /* different seed: same points (budget 0 = all), different order */
    fw_plan p5;
    plan_ok(r5, NULL, &p5);
    CHECK_INT(p5.n, p1.n);
    CHECK(!same_plan(&p1, &p5));
    check_distinct_valid(&p1);
    check_distinct_valid(&p5);
    for (int s = 0; s < 2; s++) {
        CHECK_INT(count_shape(&p1, s), valid_count(s));
        CHECK_INT(count_shape(&p5, s), valid_count(s));
    }
    /* presets come first (in listed order) for each shape; the same in both seeds. On shape 0
     * (N=64) preset 1 (TILE_N=128) is invalid and skipped. */
    if (p1.n > 3) {
        CHECK_STR(p1.items[0].origin, "preset");
        CHECK_STR(p1.items[1].origin, "preset");
        CHECK_STR(p1.items[2].origin, "random");
        CHECK_INT(fw_point_value(&p1.items[0].point, "TILE_N", 0), 32);
        CHECK_INT(fw_point_value(&p1.items[1].point, "TILE_N", 0), 16);
        CHECK_INT(fw_point_value(&p5.items[1].point, "TILE_N", 0), 16);
        CHECK_INT(p1.items[2].shape, 0);
    }
    fw_plan_release(&p1);
    fw_plan_release(&p2);
    fw_plan_release(&p3);
    fw_plan_release(&p5);
    cJSON_Delete(r1);
    cJSON_Delete(r2);
    cJSON_Delete(r3);
    cJSON_Delete(r4);
    cJSON_Delete(r5);
}

static void test_strategies(void)
{
    /* budget per shape, presets invalid for a shape skipped, random continues without repeats */
    cJSON *r = resolve_ok("{\"family\": \"gemm\", " SHAPES ", " SPACE ", " PRESETS ", \"strategy\": \"random\", \"budget\": 5, \"seed\": 11}");
    fw_plan p;
    if (r && plan_ok(r, NULL, &p) == 0) {
        CHECK_INT(count_shape(&p, 0), 5);
        CHECK_INT(count_shape(&p, 1), 5);
        check_distinct_valid(&p);
        /* shape 1 (M=48): SG_M_TILES=32 does not divide 48, so preset 2 is skipped there */
        size_t first1 = 0;
        while (first1 < p.n && p.items[first1].shape != 1)
            first1++;
        CHECK_INT(first1, 5);
        if (first1 + 2 < p.n) {
            CHECK_STR(p.items[first1].origin, "preset");
            CHECK_STR(p.items[first1 + 1].origin, "preset");
            CHECK_STR(p.items[first1 + 2].origin, "random");
        }
        /* seq order: shapes in spec order */
        for (size_t i = 1; i < p.n; i++)
            CHECK(p.items[i].shape >= p.items[i - 1].shape);
        fw_plan_release(&p);
    }
    cJSON_Delete(r);

    /* grid: every valid point, canonical order, no presets first */
    r = resolve_ok("{\"family\": \"gemm\", " SHAPES ", " SPACE ", " PRESETS ", \"strategy\": \"grid\", \"seed\": 1}");
    if (r && plan_ok(r, NULL, &p) == 0) {
        CHECK_INT(count_shape(&p, 0), valid_count(0));
        CHECK_INT(count_shape(&p, 1), valid_count(1));
        check_distinct_valid(&p);
        fw_space s;
        char err[200];
        CHECK_INT(fw_space_from_json(cJSON_GetObjectItem(r, "space"), &s, err, sizeof err), 0);
        for (size_t i = 0; i < p.n; i++) {
            CHECK_STR(p.items[i].origin, "grid");
            if (i && p.items[i].shape == p.items[i - 1].shape)
                CHECK(fw_space_index(&s, &p.items[i].point) > fw_space_index(&s, &p.items[i - 1].point));
        }
        /* canonical order: NUM_BUFFERS first, TILE_N fastest */
        CHECK_STR(p.items[0].point.kv[0].name, "NUM_BUFFERS");
        CHECK_INT(fw_point_value(&p.items[0].point, "NUM_BUFFERS", 0), 1);
        CHECK_INT(fw_point_value(&p.items[0].point, "SG_M_TILES", 0), 8);
        CHECK_INT(fw_point_value(&p.items[0].point, "TILE_N", 0), 16);
        CHECK_INT(fw_point_value(&p.items[1].point, "TILE_N", 0), 32);
        fw_space_release(&s);
        fw_plan_release(&p);
    }
    cJSON_Delete(r);

    /* grid with a budget: the first valid points in canonical order */
    r = resolve_ok("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"strategy\": \"grid\", \"budget\": 4, \"seed\": 1}");
    if (r && plan_ok(r, NULL, &p) == 0) {
        CHECK_INT(p.n, 8);
        fw_plan_release(&p);
    }
    cJSON_Delete(r);

    /* presets only */
    r = resolve_ok("{\"family\": \"gemm\", " SHAPES ", " SPACE ", " PRESETS ", \"strategy\": \"presets\", \"seed\": 1}");
    if (r && plan_ok(r, NULL, &p) == 0) {
        CHECK_INT(count_shape(&p, 0), 2);   /* preset 1 needs N >= 128 */
        CHECK_INT(count_shape(&p, 1), 2);   /* preset 2 needs M % 32 == 0 */
        for (size_t i = 0; i < p.n; i++)
            CHECK_STR(p.items[i].origin, "preset");
        fw_plan_release(&p);
    }
    cJSON_Delete(r);
}

static void test_flags_defaults(void)
{
    /* --no-explore: strategy presets */
    cJSON *r = resolve_ok("{\"family\": \"gemm\", " SHAPES ", " SPACE ", " PRESETS ", \"no_explore\": true, \"num_random\": 9}");
    if (r) {
        CHECK_STR(cJSON_GetObjectItem(r, "strategy")->valuestring, "presets");
        CHECK(cJSON_GetObjectItem(r, "no_explore") == NULL);
        CHECK(cJSON_GetObjectItem(r, "num_random") == NULL);
        /* defaults written out, seed drawn and stored */
        CHECK_INT(cJSON_GetObjectItem(r, "warmup")->valuedouble, 5);
        CHECK_INT(cJSON_GetObjectItem(r, "iters")->valuedouble, 20);
        CHECK_INT(cJSON_GetObjectItem(r, "device")->valuedouble, 0);
        CHECK_INT(cJSON_GetObjectItem(r, "budget")->valuedouble, 0);
        /* the platform's API, or CUDA in a build with CUDA and no OpenCL (a GPU machine's build) */
#if defined(__APPLE__)
        CHECK_STR(cJSON_GetObjectItem(r, "backend")->valuestring, "metal");
#elif !FW_HAVE_OPENCL && FW_HAVE_CUDA
        CHECK_STR(cJSON_GetObjectItem(r, "backend")->valuestring, "cuda");
#else
        CHECK_STR(cJSON_GetObjectItem(r, "backend")->valuestring, "opencl");
#endif
        CHECK(cJSON_IsObject(cJSON_GetObjectItem(r, "aliases")));
        CHECK(cJSON_IsObject(cJSON_GetObjectItem(r, "macros")));
        CHECK(cJSON_IsNumber(cJSON_GetObjectItem(r, "seed")));
        /* the drawn seed makes the spec reproducible: resolving again keeps it */
        cJSON *r2 = NULL;
        char err[200];
        CHECK_INT(fw_spec_resolve(r, &r2, err, sizeof err), 0);
        CHECK(r2 && cJSON_Compare(cJSON_GetObjectItem(r, "seed"), cJSON_GetObjectItem(r2, "seed"), 1));
        cJSON_Delete(r2);
    }
    cJSON_Delete(r);

    /* num_random N: random with budget N + presets */
    r = resolve_ok("{\"family\": \"gemm\", " SHAPES ", " SPACE ", " PRESETS ", \"num_random\": 4, \"seed\": 5}");
    if (r) {
        CHECK_STR(cJSON_GetObjectItem(r, "strategy")->valuestring, "random");
        CHECK_INT(cJSON_GetObjectItem(r, "budget")->valuedouble, 7);
        fw_plan p;
        if (plan_ok(r, NULL, &p) == 0) {
            /* budget = 4 + 3 presets; on each shape one preset is invalid, so its slot goes to
             * random (the documented meaning: num_random + number of presets per shape) */
            CHECK_INT(count_shape(&p, 0), 7);
            CHECK_INT(count_shape(&p, 1), 7);
            size_t nr = 0;
            for (size_t i = 0; i < p.n; i++)
                nr += p.items[i].shape == 0 && strcmp(p.items[i].origin, "random") == 0;
            CHECK_INT(nr, 5);
            fw_plan_release(&p);
        }
    }
    cJSON_Delete(r);

    /* user fields win; fixed macros and aliases pass through */
    r = resolve_ok("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"warmup\": 0, \"iters\": 3, \"backend\": \"cuda\","
                   " \"device\": 1, \"aliases\": {\"TILE_N\": \"MY_TN\"}, \"macros\": {\"FW_SKIP_K\": 1}, \"seed\": 0,"
                   " \"source\": {\"text\": \"#ifndef MY_TN\\n#endif\\n#ifndef SG_M_TILES\\n#endif\\n#ifndef NUM_BUFFERS\\n#endif\\n\","
                   " \"name\": \"k.cl\"}}");
    if (r) {
        CHECK_INT(cJSON_GetObjectItem(r, "warmup")->valuedouble, 0);
        CHECK_INT(cJSON_GetObjectItem(r, "iters")->valuedouble, 3);
        CHECK_STR(cJSON_GetObjectItem(r, "backend")->valuestring, "cuda");
        CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "aliases"), "TILE_N")->valuestring, "MY_TN");
        CHECK_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "macros"), "FW_SKIP_K")->valuedouble, 1);
        CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "source"), "name")->valuestring, "k.cl");
        CHECK_INT(cJSON_GetObjectItem(r, "seed")->valuedouble, 0);
    }
    cJSON_Delete(r);
}

static void test_errors(void)
{
    resolve_err("{\"profile\": \"nope\"}", "unknown profile 'nope' (known: ");
    resolve_err("{\"profile\": \"nope\"}", "gemm_small");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"presets\": [{\"TILE_N\": 32, \"SG_M_TILES\": 16, \"NUM_BUFFERS\": 2},"
                " {\"TILE_X\": 32, \"SG_M_TILES\": 16, \"NUM_BUFFERS\": 2}]}", "unknown knob 'TILE_X' in preset 1");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"presets\": [{\"TILE_N\": 48, \"SG_M_TILES\": 16, \"NUM_BUFFERS\": 2}]}",
                "TILE_N=48 is not in the space's list in preset 0");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"presets\": [{\"TILE_N\": 32}]}", "in preset 0");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"budget\": 200000}", "budget 200000 is over the limit of 100000");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"budget\": -1}", "\"budget\"");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"bogus\": 1}", "unknown field 'bogus'");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", \"space\": {\"knobs\": {}}}", "empty");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", \"space\": {\"knobs\": {\"TILE_N\": []}}}", "empty list");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"strategy\": \"annealing\"}", "unknown strategy 'annealing'");
    resolve_err("{\"family\": \"gemm\", \"shapes\": [], " SPACE "}", "between 1 and 256");
    resolve_err("{\"family\": \"gemm\", \"shapes\": [{\"M\": 0, \"N\": 1, \"K\": 1}], " SPACE "}", "shape 0:");
    resolve_err("{" SHAPES ", " SPACE "}", "needs a \"family\" or a \"profile\"");
    /* issue 12: a source with nothing saying how to run it points to the workload, its docs and examples */
    resolve_err("{" SHAPES ", \"source\": {\"text\": \"k\", \"entry\": \"vadd\"}}", "no \"workload\"");
    resolve_err("{" SHAPES ", \"source\": {\"text\": \"k\", \"entry\": \"vadd\"}}", "\"Declarative workloads\"), as the five specs in examples/");
    resolve_err("{\"family\": \"fft\", " SHAPES ", " SPACE "}", "unknown family 'fft' (known: gemm");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", \"space\": {\"knobs\": {\"TILE_K\": [1]}, \"constraints\": [\"TILE_K <= Q\"]}}",
                "constraint 0 'TILE_K <= Q' uses 'Q'");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", \"space\": {\"knobs\": {\"TILE_K\": [1]}, \"constraints\": [\"TILE_K <= DEVICE_FOO\"]}}",
                "'DEVICE_FOO', which is not a device limit");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"no_explore\": true, \"strategy\": \"grid\"}", "drop one");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", " PRESETS ", \"num_random\": 3, \"budget\": 9}", "not both");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"strategy\": \"presets\"}", "at least one preset");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"aliases\": {\"TILE_Q\": \"X\"}}", "unknown knob 'TILE_Q'");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"macros\": {\"TILE_N\": 4}}", "also the macro of knob 'TILE_N'");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"seed\": 1.5}", "\"seed\" must be an integer");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", " SPACE ", \"seed\": 1, \"seed\": 2}", "appears twice");
    resolve_err("{\"family\": \"gemm\", " SHAPES ", \"space\": {\"knobs\": {\"K\": [1, 2]}}}", "knob 'K' has the name of a field of shape 0");
    /* a given space must name only the family's knobs; the ones it leaves out are fixed to preset 0 */
    resolve_err("{\"family\": \"gemm\", " SHAPES ", \"space\": {\"knobs\": {\"FOO\": [1, 2]}}}",
                "knob FOO is passed as macro FOO, but gemm never mentions FOO");
    resolve_err("[1]", "JSON object");
    /* space too big to expand */
    resolve_err("{\"family\": \"gemm\", " SHAPES ", \"space\": {\"knobs\": {\"TILE_N\": [1,2,3,4,5,6,7,8,9,10], \"SIMDGROUPS_PER_TG\": [1,2,3,4,5,6,7,8,9,10],"
                " \"SG_M_TILES\": [1,2,3,4,5,6,7,8,9,10], \"SG_N_TILES\": [1,2,3,4,5,6,7,8,9,10], \"NUM_BUFFERS\": [1,2,3,4,5,6,7,8,9,10],"
                " \"TILE_K\": [1,2,3,4,5,6,7,8,9,10,11]}}}", "over the limit of 1000000");

    /* plan: an empty shape names the shape, the raw count and the constraint */
    char err[400] = "";
    cJSON *r = resolve_ok("{\"family\": \"gemm\", \"shapes\": [{\"M\": 64, \"N\": 64, \"K\": 16}, {\"M\": 7, \"N\": 64, \"K\": 16}], " SPACE ", \"seed\": 1}");
    fw_plan p;
    if (r) {
        CHECK_INT(fw_plan_build(r, NULL, &p, err, sizeof err), -EINVAL);
        CHECK_HAS(err, "no valid variant for shape 1 (");
        CHECK_HAS(err, "M=7");
        CHECK_HAS(err, "all 36 points");
        CHECK_HAS(err, "'M % SG_M_TILES == 0'");
        CHECK_INT(p.n, 0);
    }
    cJSON_Delete(r);

    /* DEVICE_* constraints need a device */
    r = resolve_ok("{\"family\": \"gemm\", " SHAPES ", \"space\": {\"knobs\": {\"SIMDGROUPS_PER_TG\": [64, 128, 256, 512]},"
                   " \"constraints\": [\"SIMDGROUPS_PER_TG <= DEVICE_MAX_THREADS\"]}, \"strategy\": \"grid\", \"seed\": 1}");
    if (r) {
        CHECK_INT(fw_plan_build(r, NULL, &p, err, sizeof err), -EINVAL);
        CHECK_HAS(err, "DEVICE_MAX_THREADS");
        CHECK_HAS(err, "no device is known");
        cJSON *dev = cJSON_Parse("{\"limits\": {\"max_threads\": 128}}");
        if (plan_ok(r, dev, &p) == 0) {
            CHECK_INT(p.n, 4);   /* 64 and 128, for each of 2 shapes */
            fw_plan_release(&p);
        }
        cJSON_Delete(dev);
        dev = cJSON_Parse("{\"limits\": {\"simd_width\": 32}}");
        CHECK_INT(fw_plan_build(r, dev, &p, err, sizeof err), -EINVAL);
        CHECK_HAS(err, "does not report");
        cJSON_Delete(dev);
    }
    cJSON_Delete(r);
    /* budget 0 over a huge valid set is refused with a way out, not a silent cut */
    r = resolve_ok("{\"family\": \"gemm\", " SHAPES ", \"space\": {\"knobs\": {\"TILE_N\": [1,2,3,4,5,6,7,8,9,10], \"SIMDGROUPS_PER_TG\": [1,2,3,4,5,6,7,8,9,10],"
                   " \"SG_M_TILES\": [1,2,3,4,5,6,7,8,9,10], \"SG_N_TILES\": [1,2,3,4,5,6,7,8,9,10], \"NUM_BUFFERS\": [1,2,3,4,5,6,7,8,9,10], \"TILE_K\": [1,2]}},"
                   " \"strategy\": \"grid\", \"seed\": 1, \"budget\": 0}");
    if (r) {
        CHECK_INT(fw_plan_build(r, NULL, &p, err, sizeof err), -E2BIG);
        CHECK_HAS(err, "200000 valid variants");
        CHECK_HAS(err, "set \"budget\"");
        cJSON_SetNumberValue(cJSON_GetObjectItem(r, "budget"), 3);
        if (plan_ok(r, NULL, &p) == 0) {
            CHECK_INT(p.n, 6);
            fw_plan_release(&p);
        }
    }
    cJSON_Delete(r);
    /* the whole plan is bounded too (issue 15 item 3): 3 shapes x 100000 is refused at the third */
    r = resolve_ok("{\"family\": \"gemm\", \"shapes\": [{\"M\": 64, \"N\": 64, \"K\": 64}, {\"M\": 96, \"N\": 64, \"K\": 64},"
                   " {\"M\": 128, \"N\": 64, \"K\": 64}], \"space\": {\"knobs\": {\"TILE_N\": [1,2,3,4,5,6,7,8,9,10], \"SIMDGROUPS_PER_TG\": [1,2,3,4,5,6,7,8,9,10],"
                   " \"SG_M_TILES\": [1,2,3,4,5,6,7,8,9,10], \"SG_N_TILES\": [1,2,3,4,5,6,7,8,9,10], \"NUM_BUFFERS\": [1,2,3,4,5,6,7,8,9,10], \"TILE_K\": [1,2]}},"
                   " \"strategy\": \"grid\", \"seed\": 1, \"budget\": 100000}");
    if (r) {
        CHECK_INT(fw_plan_build(r, NULL, &p, err, sizeof err), -E2BIG);
        CHECK_HAS(err, "more than 200000 evaluations (300000 up to shape 2)");
        CHECK_HAS(err, "lower \"budget\"");
        CHECK_INT(p.n, 0);
        cJSON_DeleteItemFromArray(cJSON_GetObjectItem(r, "shapes"), 2);
        if (plan_ok(r, NULL, &p) == 0) {   /* exactly at the limit is fine */
            CHECK_INT(p.n, FW_SPEC_MAX_PLANNED);
            fw_plan_release(&p);
        }
    }
    cJSON_Delete(r);
    CHECK_INT(fw_plan_build(NULL, NULL, &p, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "not resolved");
}

/* The gemm_small profile resolves through the gemm family's defaults and plans on a device. */
static void test_profile(void)
{
    cJSON *r = resolve_ok("{\"profile\": \"gemm_small\", \"seed\": 3}");
    if (!r)
        return;
    CHECK_STR(cJSON_GetObjectItem(r, "profile")->valuestring, "gemm_small");
    CHECK_STR(cJSON_GetObjectItem(r, "family")->valuestring, "gemm");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(r, "shapes")) >= 1);
    CHECK(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "space"), "knobs")));
    cJSON *dev = cJSON_Parse("{\"limits\": {\"max_threads\": 4096, \"shared_bytes\": 4194304, \"simd_width\": 8,"
                             " \"compute_units\": 2}}");
    fw_plan p, q;
    if (plan_ok(r, dev, &p) == 0 && plan_ok(r, dev, &q) == 0) {
        CHECK(p.n > 0);
        CHECK(same_plan(&p, &q));
        fw_plan_release(&p);
        fw_plan_release(&q);
    }
    /* user fields win over the profile's */
    cJSON *r2 = resolve_ok("{\"profile\": \"gemm_small\", \"seed\": 3, \"shapes\": [{\"M\": 32, \"N\": 32, \"K\": 32}],"
                           " \"strategy\": \"grid\", \"budget\": 2}");
    if (r2 && plan_ok(r2, dev, &p) == 0) {
        CHECK_INT(p.n, 2);
        CHECK_STR(p.items[0].origin, "grid");
        fw_plan_release(&p);
    }
    cJSON_Delete(r2);
    cJSON_Delete(dev);
    cJSON_Delete(r);
}

/* Every embedded profile resolves and plans on a roomy device: a profile that does not is a bug
 * users would meet at their first command. */
static void test_all_profiles(void)
{
    cJSON *dev = cJSON_Parse("{\"limits\": {\"max_threads\": 1024, \"shared_bytes\": 65536, \"simd_width\": 32,"
                             " \"compute_units\": 8}}");
    for (const char *const *n = fw_profile_names(); *n; n++) {
        char text[200], err[400] = "";
        snprintf(text, sizeof text, "{\"profile\": \"%s\", \"seed\": 1}", *n);
        cJSON *r = resolve(text, err, sizeof err);
        if (!r)
            fprintf(stderr, "profile %s: %s\n", *n, err);
        CHECK(r != NULL);
        fw_plan p;
        if (r && plan_ok(r, dev, &p) == 0) {
            CHECK(p.n > 0);
            fw_plan_release(&p);
        }
        cJSON_Delete(r);
    }
    cJSON_Delete(dev);
}

/* Knobs listed by non-integer values (issue 12): the resolved space lists their indices, "knob_values"
 * their texts; resolved again it is the same spec; bad lists are refused with the knob named. */
static void test_knob_values(void)
{
    cJSON *r = resolve_ok("{\"source\": {\"text\": \"#ifndef TILE_N\\n#define TILE_N 1\\n#endif\\n#ifndef VEC\\n"
                          "#define VEC float\\n#endif\\n#ifndef ALPHA\\n#define ALPHA 1\\n#endif\\n"
                          "__kernel void k(__global VEC *c) { c[0] = ALPHA * TILE_N; }\", \"entry\": \"k\"},"
                          " \"shapes\": [{\"n\": 8}],"
                          " \"workload\": {\"args\": [{\"name\": \"c\", \"type\": \"f32\", \"count\": \"n\","
                          " \"dir\": \"out\"}], \"grid\": [1], \"block\": [1], \"verify\": false},"
                          " \"space\": {\"knobs\": {\"TILE_N\": [32, 64], \"VEC\": [\"float\", \"float4\"],"
                          " \"ALPHA\": [0.5, 2, 1e-7]}, \"constraints\": [\"VEC <= 1\"]}}");
    if (!r)
        return;
    const cJSON *knobs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "space"), "knobs");
    const cJSON *vals = cJSON_GetObjectItemCaseSensitive(r, "knob_values");
    char *k = cJSON_PrintUnformatted(knobs), *v = cJSON_PrintUnformatted(vals);
    CHECK(k && strstr(k, "\"VEC\":[0,1]") && strstr(k, "\"ALPHA\":[0,1,2]") && strstr(k, "\"TILE_N\":[32,64]"));
    CHECK(v && !strcmp(v, "{\"VEC\":[\"float\",\"float4\"],\"ALPHA\":[\"0.5\",\"2\",\"1e-07\"]}"));
    if (v && strcmp(v, "{\"VEC\":[\"float\",\"float4\"],\"ALPHA\":[\"0.5\",\"2\",\"1e-07\"]}"))
        fprintf(stderr, "knob_values %s\n", v);
    free(k);
    free(v);
    char err[400] = "";
    cJSON *again = NULL;
    CHECK_INT(fw_spec_resolve(r, &again, err, sizeof err), 0);
    char *a = again ? cJSON_PrintUnformatted(again) : NULL, *b = cJSON_PrintUnformatted(r);
    CHECK(a && b && !strcmp(a, b));
    free(a);
    free(b);
    /* the macros: a value's text by its index */
    fw_point p;
    fw_point_clear(&p);
    fw_point_set(&p, "ALPHA", 2);
    fw_point_set(&p, "VEC", 1);
    fw_point_set(&p, "TILE_N", 64);
    char **m = NULL;
    size_t n = 0;
    CHECK_INT(fw_point_macros_values(&p, NULL, vals, &m, &n), 0);
    int seen = 0;
    for (size_t i = 0; i < n; i++)
        seen += !strcmp(m[i], "ALPHA=1e-07") + !strcmp(m[i], "VEC=float4") + !strcmp(m[i], "TILE_N=64");
    CHECK(n == 3 && seen == 3);
    fw_macros_free(m, n);
    fw_point_set(&p, "VEC", 2);
    CHECK_INT(fw_point_macros_values(&p, NULL, vals, &m, &n), -EINVAL);
    cJSON_Delete(again);
    cJSON_Delete(r);
    resolve_err("{\"family\": \"gemm\", \"space\": {\"knobs\": {\"TILE_N\": [32], \"VEC\": [\"a b\"]}}}",
                "space: knob 'VEC' value 0 ('a b'): a macro value has no spaces, quotes or backslashes");
    resolve_err("{\"family\": \"gemm\", \"space\": {\"knobs\": {\"TILE_N\": [32], \"VEC\": [\"x\", 1.5, \"x\"]}}}",
                "space: knob 'VEC' lists the value x twice");
    resolve_err("{\"family\": \"gemm\", \"space\": {\"knobs\": {\"TILE_N\": [32], \"VEC\": [0, 1]}},"
                " \"knob_values\": {\"VEC\": [\"float\"]}}", "\"knob_values\" of 'VEC' must list one text");
    resolve_err("{\"family\": \"gemm\", \"space\": {\"knobs\": {\"TILE_N\": [32], \"VEC\": [\"f\", \"g\"]}},"
                " \"knob_values\": {\"VEC\": [\"f\", \"g\"]}}", "give the values in \"space\" only");
}

int main(void)
{
    test_default_budget();
    test_reproducible();
    test_strategies();
    test_flags_defaults();
    test_errors();
    test_profile();
    test_all_profiles();
    test_knob_values();
    return fw_check_done("test_plan");
}
