/* async_prefetch_hint (issue 13, docs/transforms.md): the sites of data/prefetch.cl (three, and none
 * in the loops its no_sites kernel holds), prefetch.cu (one; a __device__ helper's loop is none),
 * prefetch.metal (none: Metal has no prefetch) and bind_gemm.cl (one, in a kernel declared with
 * __attribute__), each site's exact text, the text a variant compiles (only the site's line
 * changes, the line count stays), and the bind errors.
 * argv[1..4] = data/prefetch.cl, prefetch.cu, prefetch.metal, bind_gemm.cl. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw_check.h"
#include "fw_job.h"
#include "fw_transform.h"
#include "fw_util.h"

static fw_xform_site sites[FW_XFORM_SITES_MAX];

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

static int lines(const char *t)
{
    int n = 1;
    for (; *t; t++)
        n += *t == '\n';
    return n;
}

#define W10 " if ((k + (1)) < K) { prefetch(&A[r * K + (k + (1))], 1); prefetch(&x[(k + (1))], 1); }"
#define W22 "{ if ((k + (1)) < k0 + 8 && (k + (1)) < K) { prefetch(&A[r * K + (k + (1))], 1); " \
            "prefetch(&B[(k + (1)) * N + c], 1); } acc += A[r * K + k] * B[k * N + c]; }"
#define W32 " if ((i + (get_local_size(0))) < n) { prefetch(&V[(i + (get_local_size(0)))], 1); }"

static void test_sites(const char *cl, const char *cu, const char *metal, const char *gemm)
{
    size_t n;
    CHECK_INT(fw_xform_sites(cl, sites, FW_XFORM_SITES_MAX, &n), 0);
    CHECK_INT(n, 3);
    static const struct { const char *fn; int line; size_t len; const char *with; } want[] = {
        {"dot_rows", 10, 0, W10}, {"tiles", 22, 35, W22}, {"strided", 32, 0, W32}};
    for (size_t i = 0; i < n && i < 3; i++) {
        CHECK_STR(sites[i].transform, "async_prefetch_hint");
        CHECK_STR(sites[i].dialect, "opencl");
        CHECK_STR(sites[i].function, want[i].fn);
        CHECK_INT(sites[i].line, want[i].line);
        CHECK_INT(sites[i].len, want[i].len);
        CHECK_STR(sites[i].with, want[i].with);
        CHECK_INT(sites[i].proven, 1);
    }
    CHECK_HAS(sites[0].why, "prefetches A, x for the next iteration");
    CHECK_HAS(sites[2].why, "prefetches V for");   /* part is __local, y only written */

    CHECK_INT(fw_xform_sites(cu, sites, FW_XFORM_SITES_MAX, &n), 0);
    CHECK_INT(n, 1);
    CHECK_STR(sites[0].dialect, "cuda");
    CHECK_STR(sites[0].function, "rows");
    CHECK_INT(sites[0].line, 14);
    CHECK_STR(sites[0].with, " if ((k + (blockDim.y)) < K) { asm volatile(\"prefetch.L2 [%0];\" :: "
                             "\"l\"(&A[r * K + (k + (blockDim.y))])); asm volatile(\"prefetch.L2 [%0];\" :: "
                             "\"l\"(&x[(k + (blockDim.y))])); }");

    CHECK_INT(fw_xform_sites(metal, sites, FW_XFORM_SITES_MAX, &n), 0);
    CHECK_INT(n, 0);

    CHECK_INT(fw_xform_sites(gemm, sites, FW_XFORM_SITES_MAX, &n), 0);
    CHECK_INT(n, 1);
    CHECK_STR(sites[0].function, "bind_gemm");
    CHECK_INT(sites[0].line, 32);
    char names[4][FW_XFORM_NAME_MAX];
    CHECK_INT(fw_xform_kernels(gemm, names, 4), 1);   /* __kernel __attribute__((...)) void bind_gemm( */
    CHECK_STR(names[0], "bind_gemm");
}

#define PF(fn, a, b) "{\"transform\": \"async_prefetch_hint\", \"function\": \"" fn "\", \"lines\": [" #a ", " #b "]}"

static void test_render(const char *cl)
{
    cJSON *spec = cJSON_Parse("{\"binds\": {\"P10\": " PF("dot_rows", 7, 14) ", \"P22\": " PF("tiles", 22, 22) "}}");
    fw_point p, mp;
    fw_point_clear(&p);
    fw_point_set(&p, "P10", 0);
    fw_point_set(&p, "P22", 0);
    char *text = fw_strdup(cl), err[256], a[1024], b[1024];
    CHECK_INT(fw_transform_render(spec, &p, &text, &mp, err, sizeof err), 0);
    CHECK_STR(text, cl);   /* both off: as written */
    CHECK(!fw_transform_structural(spec, &p) && !fw_transform_applies(spec, &p));
    fw_point_set(&p, "P10", 1);
    fw_point_set(&p, "P22", 1);
    CHECK(fw_transform_structural(spec, &p) && fw_transform_applies(spec, &p));
    CHECK_INT(fw_transform_render(spec, &p, &text, &mp, err, sizeof err), 0);
    CHECK_INT(mp.n, 0);   /* site knobs are no macros */
    CHECK_INT(lines(text), lines(cl));
    for (int i = 1; i <= lines(cl); i++) {
        line_of(text, i, a, sizeof a);
        line_of(cl, i, b, sizeof b);
        if (i == 10)
            CHECK_STR(a, "    for (uint k = 0; k < K; k++) {" W10);
        else if (i == 23)   /* the unbraced body of line 22's loop */
            CHECK_STR(a, "            " W22);
        else
            CHECK_STR(a, b);
    }
    free(text);
    cJSON_Delete(spec);
}

static int check(const char *text, const char *binds, char *err, size_t errlen)
{
    cJSON *b = cJSON_Parse(binds), *sj = cJSON_Parse("{\"knobs\": {\"A\": [0, 1]}}");
    fw_space s;
    CHECK_INT(fw_space_from_json(sj, &s, err, errlen), 0);
    int rc = fw_binds_check(text, "prefetch.cl", b, &s, NULL, err, errlen);
    fw_space_release(&s);
    cJSON_Delete(sj);
    cJSON_Delete(b);
    return rc;
}

static void test_binds(const char *cl)
{
    char err[512];
    CHECK_INT(check(cl, "{\"A\": " PF("dot_rows", 10, 10) "}", err, sizeof err), 0);
    CHECK_INT(check(cl, "{\"A\": " PF("dot_rows", 11, 14) "}", err, sizeof err), -EINVAL);
    CHECK_HAS(err, "has 0 async_prefetch_hint sites in dot_rows lines 11-14");
    CHECK_INT(check(cl, "{\"A\": " PF("no_sites", 38, 70) "}", err, sizeof err), -EINVAL);
    CHECK_HAS(err, "has 0 async_prefetch_hint sites in no_sites");
    /* the transform names the kind of site: a barrier bind finds no prefetch site */
    CHECK_INT(check(cl, "{\"A\": {\"transform\": \"simdgroup_barrier\", \"function\": \"dot_rows\", \"lines\": [10, 10]}}",
                    err, sizeof err), -EINVAL);
    CHECK_HAS(err, "has 0 simdgroup_barrier sites");
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: test_prefetch prefetch.cl prefetch.cu prefetch.metal bind_gemm.cl\n");
        return 2;
    }
    char *cl = load(argv[1]), *cu = load(argv[2]), *metal = load(argv[3]), *gemm = load(argv[4]);
    test_sites(cl, cu, metal, gemm);
    test_render(cl);
    test_binds(cl);
    free(cl);
    free(cu);
    free(metal);
    free(gemm);
    return fw_check_done("variants_prefetch");
}
