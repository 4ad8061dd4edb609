/* Structural transforms (issue 13): simdgroup_barrier sites in Metal, OpenCL and CUDA sources, the
 * proven/unproven verdicts, one 0/1 knob per site, and the text a variant compiles.
 * argv[1..3] = tests/variants/data/barriers.metal, barriers.cl, barriers.cu. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw_check.h"
#include "fw_job.h"
#include "fw_transform.h"
#include "fw_util.h"

static char *metal, *cl, *cu;
static fw_xform_site sites[FW_XFORM_SITES_MAX];

static void line_of(const char *text, int line, char *buf, size_t len)
{
    const char *p = text;
    for (int i = 1; i < line && p; i++) {
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    buf[0] = '\0';
    if (!p)
        return;
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    n = n < len - 1 ? n : len - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
}

static void test_sites(void)
{
    size_t n;
    CHECK_INT(fw_xform_sites(metal, sites, FW_XFORM_SITES_MAX, &n), 0);
    /* mem_device and commented-out barriers are not sites. */
    CHECK_INT(n, 5);
    static const struct { const char *fn; int line, proven; } want[] = {
        {"per_simdgroup", 11, 1}, {"across_groups", 22, 0}, {"across_groups", 24, 0}, {"no_shared", 31, 1},
        {"passes_pointer", 39, 0},
    };
    for (size_t i = 0; i < n && i < 5; i++) {
        CHECK_STR(sites[i].function, want[i].fn);
        CHECK_INT(sites[i].line, want[i].line);
        CHECK_INT(sites[i].proven, want[i].proven);
        CHECK_STR(sites[i].dialect, "metal");
        CHECK_STR(sites[i].transform, "simdgroup_barrier");
    }
    CHECK_INT(sites[0].fn_first, 8);
    CHECK_INT(sites[0].fn_last, 15);
    CHECK_HAS(sites[1].why, "line 21: tile[tid] is not indexed by a SIMD-group id");
    CHECK_HAS(sites[3].why, "no threadgroup memory");
    CHECK_HAS(sites[4].why, "p[0]");

    CHECK_INT(fw_xform_sites(cl, sites, FW_XFORM_SITES_MAX, &n), 0);
    CHECK_INT(n, 2);   /* barrier(CLK_GLOBAL_MEM_FENCE) is no site */
    CHECK_STR(sites[0].function, "cl_per_subgroup");
    CHECK_INT(sites[0].proven, 1);
    CHECK_STR(sites[0].with, "sub_group_barrier(CLK_LOCAL_MEM_FENCE)");
    CHECK_INT(sites[1].proven, 0);

    CHECK_INT(fw_xform_sites(cu, sites, FW_XFORM_SITES_MAX, &n), 0);
    CHECK_INT(n, 2);
    CHECK_INT(sites[0].proven, 1);
    CHECK_STR(sites[0].with, "__syncwarp()");
    CHECK_INT(sites[1].proven, 0);
    CHECK_HAS(sites[1].why, "also orders global memory");
}

static int check(const char *text, const char *binds_json, const char *knobs_json, char *err, size_t errlen)
{
    cJSON *sj = cJSON_Parse(knobs_json), *b = cJSON_Parse(binds_json);
    fw_space s;
    CHECK_INT(fw_space_from_json(sj, &s, err, errlen), 0);
    err[0] = '\0';
    int rc = fw_binds_check(text, "barriers.metal", b, &s, NULL, err, errlen);
    fw_space_release(&s);
    cJSON_Delete(sj);
    cJSON_Delete(b);
    return rc;
}

#define SB11 "{\"transform\": \"simdgroup_barrier\", \"function\": \"per_simdgroup\", \"lines\": [11, 11]}"

static void test_binds(void)
{
    char err[512];
    CHECK_INT(check(metal, "{\"A\": " SB11 "}", "{\"knobs\": {\"A\": [0, 1]}}", err, sizeof err), 0);
    CHECK_INT(check(metal, "{\"A\": " SB11 "}", "{\"knobs\": {\"A\": [0, 2]}}", err, sizeof err), -EINVAL);
    CHECK_HAS(err, "must be 0 (off) and 1 (on), not 2");
    CHECK_INT(check(metal, "{\"A\": " SB11 ", \"B\": {\"transform\": \"simdgroup_barrier\", \"function\": "
                    "\"per_simdgroup\", \"lines\": [1, 15]}}", "{\"knobs\": {\"A\": [0, 1], \"B\": [0, 1]}}", err,
                    sizeof err), -EINVAL);
    CHECK_HAS(err, "both switch the site at line 11");
    /* An unproven site is refused unless asked for. */
    const char *un = "{\"A\": {\"transform\": \"simdgroup_barrier\", \"function\": \"across_groups\", \"lines\": [22, 22]}}";
    CHECK_INT(check(metal, un, "{\"knobs\": {\"A\": [0, 1]}}", err, sizeof err), -EINVAL);
    CHECK_HAS(err, "is unproven (line 21: tile[tid]");
    CHECK_INT(check(metal, "{\"A\": {\"transform\": \"simdgroup_barrier\", \"function\": \"across_groups\", \"lines\": "
                    "[22, 22], \"unproven\": true}}", "{\"knobs\": {\"A\": [0, 1]}}", err, sizeof err), 0);
    /* A range holding two sites, or none. */
    CHECK_INT(check(metal, "{\"A\": {\"transform\": \"simdgroup_barrier\", \"function\": \"across_groups\", \"lines\": "
                    "[19, 26], \"unproven\": true}}", "{\"knobs\": {\"A\": [0, 1]}}", err, sizeof err), -EINVAL);
    CHECK_HAS(err, "has 2 simdgroup_barrier sites in across_groups lines 19-26");
    CHECK_INT(check(metal, "{\"A\": {\"transform\": \"simdgroup_barrier\", \"function\": \"per_simdgroup\", \"lines\": "
                    "[12, 15]}}", "{\"knobs\": {\"A\": [0, 1]}}", err, sizeof err), -EINVAL);
    CHECK_HAS(err, "has 0 simdgroup_barrier sites");
    CHECK_INT(check(metal, "{\"A\": {\"transform\": \"async_copy\", \"function\": \"f\", \"lines\": [1, 2]}}",
                    "{\"knobs\": {\"A\": [0, 1]}}", err, sizeof err), -EINVAL);
    CHECK_HAS(err, "\"transform\" must be \"simdgroup_barrier\" or \"async_prefetch_hint\"");
}

static void test_render(void)
{
    cJSON *spec = cJSON_Parse("{\"binds\": {\"A\": " SB11 ", \"T\": \"X\"}}");
    fw_point p, mp;
    fw_point_clear(&p);
    fw_point_set(&p, "A", 0);
    char *text = fw_strdup(metal), err[256], l[128];
    CHECK_INT(fw_transform_render(spec, &p, &text, &mp, err, sizeof err), 0);   /* T is no knob of p: unused */
    cJSON *only = cJSON_Parse("{\"binds\": {\"A\": " SB11 "}}");
    CHECK_INT(fw_transform_render(only, &p, &text, &mp, err, sizeof err), 0);
    cJSON_Delete(only);
    CHECK_STR(text, metal);   /* off: as written */
    CHECK(!fw_transform_structural(spec, &p));
    CHECK_INT(mp.n, 0);       /* a site knob is no macro */
    fw_point_set(&p, "A", 1);
    CHECK(fw_transform_structural(spec, &p));
    cJSON_Delete(spec);
    spec = cJSON_Parse("{\"binds\": {\"A\": " SB11 "}}");
    CHECK_INT(fw_transform_render(spec, &p, &text, &mp, err, sizeof err), 0);
    line_of(text, 11, l, sizeof l);
    CHECK_STR(l, "    simdgroup_barrier(mem_flags::mem_threadgroup);");
    for (int i = 1; i <= 42; i++) {
        char a[160], b[160];
        line_of(text, i, a, sizeof a);
        line_of(metal, i, b, sizeof b);
        if (i != 11)
            CHECK_STR(a, b);
    }
    free(text);
    cJSON_Delete(spec);
    /* CUDA: __syncthreads() -> __syncwarp(). */
    spec = cJSON_Parse("{\"binds\": {\"A\": {\"transform\": \"simdgroup_barrier\", \"function\": \"cu_per_warp\", "
                       "\"lines\": [1, 9]}}}");
    text = fw_strdup(cu);
    CHECK_INT(fw_transform_render(spec, &p, &text, &mp, err, sizeof err), 0);
    line_of(text, 7, l, sizeof l);
    CHECK_STR(l, "    __syncwarp();");
    free(text);
    cJSON_Delete(spec);
}

/* Resolved and planned: the site knob is in each variant's key; on gives another source hash. */
static void test_plan(void)
{
    cJSON *u = cJSON_Parse("{\"family\": \"gemm\", \"seed\": 1, \"strategy\": \"grid\","
                           " \"shapes\": [{\"M\": 64, \"N\": 64, \"K\": 64}],"
                           " \"space\": {\"knobs\": {\"SB_L11\": [0, 1]}}, \"binds\": {\"SB_L11\": " SB11 "}}");
    cJSON *s = cJSON_AddObjectToObject(u, "source");
    cJSON_AddStringToObject(s, "text", metal);
    cJSON_AddStringToObject(s, "name", "barriers.metal");
    cJSON *res = NULL;
    char err[512];
    CHECK_INT(fw_spec_resolve(u, &res, err, sizeof err), 0);
    cJSON_Delete(u);
    if (!res) {
        fprintf(stderr, "resolve: %s\n", err);
        return;
    }
    fw_plan plan;
    CHECK_INT(fw_plan_build(res, NULL, &plan, err, sizeof err), 0);
    CHECK_INT(plan.n, 2);
    char key[FW_KEY_MAX], h[2][17];
    for (size_t i = 0; i < plan.n && i < 2; i++) {
        fw_point_key(&plan.items[i].point, key, sizeof key);
        CHECK_STR(key, i ? "SB_L11=1" : "SB_L11=0");
        char *text = fw_strdup(metal);
        fw_point mp;
        CHECK_INT(fw_transform_render(res, &plan.items[i].point, &text, &mp, err, sizeof err), 0);
        CHECK_INT(fw_transform_structural(res, &plan.items[i].point), (int)i);
        fw_hash64_hex(fw_hash64_str(FW_HASH64_INIT, text), h[i]);
        free(text);
    }
    CHECK(strcmp(h[0], h[1]) != 0);
    fw_plan_release(&plan);
    cJSON_Delete(res);
}

static char *load(const char *path)
{
    char *t = NULL, err[256];
    size_t n;
    if (fw_read_file(path, &t, &n, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        exit(2);
    }
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: test_structural barriers.metal barriers.cl barriers.cu\n");
        return 2;
    }
    metal = load(argv[1]);
    cl = load(argv[2]);
    cu = load(argv[3]);
    test_sites();
    test_binds();
    test_render();
    test_plan();
    free(metal);
    free(cl);
    free(cu);
    return fw_check_done("variants_structural");
}
