/* Issue 7 on the OpenCL device (PoCL here): the compile pool gives the same records as compiling in
 * the timing thread; the persistent cache serves a second harness and survives a damaged entry; early
 * stop prunes a variant made 20x slower on purpose and never the best; finalists re-time the top K
 * interleaved and rank by those samples. No assertion depends on timing beyond the forced 20x.
 * Exits 77 without an OpenCL device. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fw_bench.h"
#include "fw_family.h"
#include "fw_opencl.h"
#include "fw_job.h"
#include "fw_util.h"
#include "../bench/test_util.h"
#include "fw_test_spec.h"

static char tmpdir[] = "/tmp/fw-test-throughput-XXXXXX";
static const fw_backend *be;
static fw_device *dev;
static fw_device_info info;

/* ---- a family whose SLOW knob multiplies the work: SLOW=20 is 20x the loop of SLOW=1 ---------- */

static const char slow_src[] =
    "__kernel void slowcopy(__global const float *a, __global float *c, uint n) {\n"
    "  uint i = get_global_id(0);\n"
    "  if (i >= n) return;\n"
    "  float x = a[i];\n"
    /* x stays a[i] exactly (halves of equal floats), but the compiler cannot drop the loop */
    "  for (uint r = 0; r < SLOW * 400u; r++) x = x * 0.5f + a[(i + r) % n] * 0.0f + a[i] * 0.5f;\n"
    "  c[i] = x;\n"
    "}\n";



static int slow_key(const cJSON *shape, char *buf, size_t len)
{
    (void)shape;
    snprintf(buf, len, "n=2048");
    return 0;
}

static int slow_source(const char *dialect, const cJSON *shape, char **text, char *err, size_t errlen)
{
    (void)shape;
    if (strcmp(dialect, "opencl") != 0)
        return fw_errf(err, errlen, -ENOTSUP, "slow_test is OpenCL only");
    *text = strdup(slow_src);
    return *text ? 0 : -ENOMEM;
}

static int slow_wl_new(const cJSON *shape, uint64_t seed, fw_workload **out, char *err, size_t errlen)
{
    (void)shape;
    (void)err;
    (void)errlen;
    const size_t n = 2048;
    fw_workload *wl = fw_workload_alloc(2, 3);
    snprintf(wl->kernel, sizeof wl->kernel, "slowcopy");
    float *a = malloc(n * 4);
    fw_fill_uniform_f32(a, n, seed, 1, -1.0f, 1.0f);
    wl->buffers[0] = (fw_wl_buffer){ "a", FW_BUF_INPUT, FW_ELEM_F32, n * 4, a };
    wl->buffers[1] = (fw_wl_buffer){ "c", FW_BUF_OUTPUT, FW_ELEM_F32, n * 4, NULL };
    uint32_t *nv = malloc(sizeof *nv);
    *nv = (uint32_t)n;
    wl->args[0] = (fw_wl_arg){ 0, NULL, 0 };
    wl->args[1] = (fw_wl_arg){ 1, NULL, 0 };
    wl->args[2] = (fw_wl_arg){ -1, nv, sizeof *nv };
    wl->output = 1;
    wl->reference = malloc(n * sizeof(double));
    wl->nreference = n;
    for (size_t i = 0; i < n; i++)
        wl->reference[i] = a[i];
    wl->tolerance = 1e-6;
    wl->bytes = 8.0 * (double)n;
    wl->flops = (double)n;
    *out = wl;
    return 0;
}

static void slow_wl_free(fw_workload *wl)
{
    fw_workload_free_common(wl);
}

static int slow_geometry(const fw_workload *wl, const fw_point *k, fw_geometry *g, char *err, size_t errlen)
{
    (void)wl;
    int64_t group = fw_point_value(k, "GROUP", 64);
    if (group < 1)
        return fw_errf(err, errlen, -EINVAL, "GROUP must be >= 1");
    memset(g, 0, sizeof *g);
    g->grid[0] = (uint32_t)((2048 + group - 1) / group);
    g->grid[1] = g->grid[2] = 1;
    g->group[0] = (uint32_t)group;
    g->group[1] = g->group[2] = 1;
    return 0;
}

static const fw_family slow_family = {
    .version = FW_FAMILY_VERSION, .name = "slow_test", .description = "copy with a tunable busy loop",
    .defaults_json = "{}", .shape_key = slow_key, .source = slow_source,
    .workload_new = slow_wl_new, .workload_free = slow_wl_free, .geometry = slow_geometry,
};

static fw_plan_item slow_item(int slow, int group)
{
    fw_plan_item it;
    memset(&it, 0, sizeof it);
    fw_point_set(&it.point, "SLOW", slow);
    fw_point_set(&it.point, "GROUP", group);
    it.origin = "grid";
    return it;
}

static const char *str(const cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return s ? s : "";
}

static double num2(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);
    if (b)
        v = cJSON_GetObjectItemCaseSensitive(v, b);
    CHECKF(cJSON_IsNumber(v), "%s.%s is not a number", a, b ? b : "");
    return v->valuedouble;
}

static cJSON *slow_measure(fw_bench *b, const cJSON *spec, int slow, int group, int64_t seq)
{
    fw_plan_item it = slow_item(slow, group);
    cJSON *rec = NULL;
    char err[1024] = "";
    int rc = fw_bench_measure_family(b, &slow_family, fw_test_typed(spec), &it, seq, &rec, err, sizeof err);
    CHECKF(rc == 0 && rec, "measure: %d %s", rc, err);
    const char *st = str(rec, "status");
    CHECKF(strcmp(st, "ok") == 0 || strcmp(st, "pruned") == 0, "SLOW=%d: %s: %s", slow, st, str(rec, "error"));
    return rec;
}

static void test_early_stop(void)
{
    cJSON *spec = cJSON_Parse("{\"family\":\"slow_test\",\"shapes\":[{}],\"seed\":1,\"warmup\":1,\"iters\":20}");
    fw_bench *b = NULL;
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    /* the fast variant first sets the shape's best; the 20x slower one is pruned after 5 samples */
    cJSON *fast = slow_measure(b, spec, 1, 64, 0);
    CHECK(strcmp(str(fast, "status"), "ok") == 0 && num2(fast, "stats", "n") == 20);
    cJSON *slow = slow_measure(b, spec, 20, 64, 1);
    CHECKF(strcmp(str(slow, "status"), "pruned") == 0, "the 20x variant is %s (median %g vs %g)",
           str(slow, "status"), num2(slow, "stats", "median_ns"), num2(fast, "stats", "median_ns"));
    CHECK(num2(slow, "stats", "n") == 5);                            /* partial statistics */
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(slow, "samples_ns")) == 5);
    CHECK(strstr(str(slow, "error"), "stopped early after 5 of 20"));
    /* the best is never pruned: the fast variant again (another group size) is fully timed */
    cJSON *again = slow_measure(b, spec, 1, 32, 2);
    CHECK(strcmp(str(again, "status"), "ok") == 0 && num2(again, "stats", "n") == 20);
    cJSON_Delete(fast);
    cJSON_Delete(slow);
    cJSON_Delete(again);
    fw_bench_free(b);

    /* slow first: nothing to compare with, so it is timed fully; the fast one after it too */
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    slow = slow_measure(b, spec, 20, 64, 0);
    CHECK(strcmp(str(slow, "status"), "ok") == 0 && num2(slow, "stats", "n") == 20);
    fast = slow_measure(b, spec, 1, 64, 1);
    CHECK(strcmp(str(fast, "status"), "ok") == 0 && num2(fast, "stats", "n") == 20);
    double fast_med = num2(fast, "stats", "median_ns");
    printf("early stop: SLOW=20 median %.0f ns, SLOW=1 %.0f ns (%.1fx)\n", num2(slow, "stats", "median_ns"),
           fast_med, num2(slow, "stats", "median_ns") / fast_med);
    cJSON_Delete(fast);
    cJSON_Delete(slow);
    fw_bench_free(b);

    /* serve mode: a fresh worker told the best (fw_bench_note_best, the daemon's best_ns) prunes */
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    CHECK(fw_bench_note_best(b, "n=2048", fast_med) == 0);
    slow = slow_measure(b, spec, 20, 64, 5);
    CHECK(strcmp(str(slow, "status"), "pruned") == 0);
    cJSON_Delete(slow);
    fw_bench_free(b);

    /* off: options.early_stop = false times everything */
    cJSON *off = cJSON_Parse("{\"family\":\"slow_test\",\"shapes\":[{}],\"seed\":1,\"warmup\":1,\"iters\":20,"
                             "\"options\":{\"early_stop\":false}}");
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    CHECK(fw_bench_note_best(b, "n=2048", fast_med) == 0);
    slow = slow_measure(b, off, 20, 64, 0);
    CHECK(strcmp(str(slow, "status"), "ok") == 0 && num2(slow, "stats", "n") == 20);
    cJSON_Delete(slow);
    /* ratio 100: a 20x variant is not "clearly slower" any more */
    cJSON *lax = cJSON_Parse("{\"family\":\"slow_test\",\"shapes\":[{}],\"seed\":1,\"warmup\":1,\"iters\":20,"
                             "\"options\":{\"early_stop\":{\"after\":3,\"ratio\":100}}}");
    slow = slow_measure(b, lax, 20, 64, 1);
    CHECK(strcmp(str(slow, "status"), "ok") == 0);
    cJSON_Delete(slow);
    /* rotation and flushing change nothing about the result, only what the caches hold */
    cJSON *rot = cJSON_Parse("{\"family\":\"slow_test\",\"shapes\":[{}],\"seed\":1,\"warmup\":2,\"iters\":6,"
                             "\"options\":{\"rotate_buffers\":3,\"flush_cache_mb\":4,\"early_stop\":false}}");
    cJSON *r = slow_measure(b, rot, 1, 64, 2);
    CHECK(strcmp(str(r, "status"), "ok") == 0 && num2(r, "stats", "n") == 6);
    cJSON_Delete(r);
    fw_bench_free(b);
    cJSON_Delete(rot);
    cJSON_Delete(lax);
    cJSON_Delete(off);
    cJSON_Delete(spec);
}

/* ---- gemm through the registry: pool, cache, finalists --------------------------------------- */

static cJSON *gemm_spec(const char *extra, fw_plan *plan)
{
    char text[1024], err[1024];
    snprintf(text, sizeof text,
             "{\"family\":\"gemm\",\"shapes\":[{\"M\":64,\"N\":48,\"K\":40},{\"M\":32,\"N\":32,\"K\":16}],"
             "\"strategy\":\"random\",\"budget\":5,\"seed\":7,\"warmup\":1,\"iters\":3%s}", extra);
    cJSON *user = cJSON_Parse(text);
    CHECK(user);
    cJSON *spec = NULL;
    CHECKF(fw_spec_resolve(user, &spec, err, sizeof err) == 0, "%s", err);
    cJSON_Delete(user);
    cJSON *devj = fw_bench_device_json(&info, 0);
    CHECKF(fw_plan_build(spec, devj, plan, err, sizeof err) == 0, "%s", err);
    cJSON_Delete(devj);
    return spec;
}

/* Measures the whole plan; returns an array of records without samples. */
static cJSON *run_plan(fw_bench *b, const cJSON *spec, const fw_plan *plan)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t s = 0; s < plan->n; s++) {
        cJSON *rec = NULL;
        char err[1024];
        int rc = fw_bench_measure(b, fw_test_typed(spec), &plan->items[s], (int64_t)s, &rec, err, sizeof err);
        CHECKF(rc == 0, "seq %zu: %s", s, err);
        cJSON_AddItemToArray(arr, rec);
    }
    return arr;
}

static void test_pool_same_records(void)
{
    fw_plan plan = { 0 };
    cJSON *spec = gemm_spec(",\"options\":{\"early_stop\":false}", &plan);
    CHECK(plan.n == 10);

    fw_bench *b = NULL;
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    cJSON *one = run_plan(b, spec, &plan);   /* compile then time, one after another */
    fw_bench_free(b);

    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    char err[1024];
    CHECKF(fw_bench_pool_start(b, fw_test_typed(spec), &plan, 0, 2, 0, NULL, 0, err, sizeof err) == 0, "%s", err);
    /* deterministic: seqs 0..3 compiled ahead before the timing thread asks for any */
    for (int s = 0; s < 4; s++)
        CHECK(fw_bench_pool_wait(b, s) == 1);
    cJSON *pooled = run_plan(b, spec, &plan);
    fw_bench_pool_stop(b);
    fw_bench_free(b);

    for (size_t s = 0; s < plan.n; s++) {
        const cJSON *x = cJSON_GetArrayItem(one, (int)s), *y = cJSON_GetArrayItem(pooled, (int)s);
        CHECK(num2(x, "seq", NULL) == (double)s && num2(y, "seq", NULL) == (double)s);
        CHECK(strcmp(str(x, "variant_key"), str(y, "variant_key")) == 0);
        CHECK(strcmp(str(x, "shape_key"), str(y, "shape_key")) == 0);
        CHECKF(strcmp(str(x, "status"), str(y, "status")) == 0, "seq %zu: %s vs %s", s, str(x, "status"),
               str(y, "status"));
        CHECK(strcmp(str(x, "status"), "ok") == 0);
    }
    /* the compiled-ahead ones came from a compile thread and were loaded by the timing thread */
    for (int s = 0; s < 4; s++)
        CHECK(cJSON_IsNumber(cJSON_GetObjectItem(cJSON_GetArrayItem(pooled, s), "load_ms")));
    CHECK(!cJSON_GetObjectItem(cJSON_GetArrayItem(one, 0), "load_ms"));

    /* skipped seqs (already measured) are never compiled ahead */
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    int64_t skip[] = { 0, 1, 2 };
    CHECK(fw_bench_pool_start(b, fw_test_typed(spec), &plan, 0, 1, 3, skip, 3, err, sizeof err) == 0);
    CHECK(fw_bench_pool_wait(b, 0) == 0);
    CHECK(fw_bench_pool_wait(b, 3) == 1);
    /* the timing thread jumping ahead moves the pool with it */
    cJSON *rec = NULL;
    CHECK(fw_bench_measure(b, fw_test_typed(spec), &plan.items[7], 7, &rec, err, sizeof err) == 0);
    CHECK(strcmp(str(rec, "status"), "ok") == 0);
    cJSON_Delete(rec);
    CHECK(fw_bench_pool_wait(b, 8) == 1);
    fw_bench_free(b);   /* stops the pool itself */

    cJSON_Delete(one);
    cJSON_Delete(pooled);
    fw_plan_release(&plan);
    cJSON_Delete(spec);
}

static void damage_all(const char *dir)
{
    DIR *d = opendir(dir);
    CHECK(d);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (strlen(de->d_name) != 2 || de->d_name[0] == '.')
            continue;
        char sub[1024];
        snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
        DIR *s = opendir(sub);
        struct dirent *fe;
        while (s && (fe = readdir(s))) {
            if (fe->d_name[0] == '.')
                continue;
            char p[2048];
            snprintf(p, sizeof p, "%s/%s", sub, fe->d_name);
            int fd = open(p, O_RDWR);
            CHECK(fd >= 0);
            unsigned char c;
            CHECK(pread(fd, &c, 1, 70) == 1);
            c ^= 0xff;
            CHECK(pwrite(fd, &c, 1, 70) == 1);
            close(fd);
            n++;
        }
        if (s)
            closedir(s);
    }
    closedir(d);
    CHECK(n > 0);
}

static void test_cache_and_finalists(void)
{
    fw_plan plan = { 0 };
    cJSON *spec = gemm_spec(",\"options\":{\"early_stop\":false}", &plan);
    char dir[512], err[1024];
    snprintf(dir, sizeof dir, "%s/cc", tmpdir);
    fw_ccache *c = NULL;
    CHECKF(fw_ccache_open(dir, 0, &c, err, sizeof err) == 0, "%s", err);

    /* cold: compiled and stored */
    fw_bench *b = NULL;
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    fw_bench_set_cache(b, c);
    cJSON *cold = NULL;
    CHECK(fw_bench_measure(b, fw_test_typed(spec), &plan.items[0], 0, &cold, err, sizeof err) == 0);
    CHECK(strcmp(str(cold, "status"), "ok") == 0 && cJSON_IsFalse(cJSON_GetObjectItem(cold, "cached")));
    fw_bench_free(b);
    fw_ccache_stats st;
    fw_ccache_get_stats(c, &st);
    /* OpenCL stores the binary again after the first launch (PoCL's binary then holds the
     * work-group-specialised code too): one or two stores of the one entry */
    CHECK(st.stores >= 1 && st.hits == 0);
    uint64_t stores_cold = st.stores;

    /* warm: a new harness (a new worker process, as far as memory goes) loads it from disk */
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    fw_bench_set_cache(b, c);
    cJSON *warm = NULL;
    CHECK(fw_bench_measure(b, fw_test_typed(spec), &plan.items[0], 0, &warm, err, sizeof err) == 0);
    CHECKF(strcmp(str(warm, "status"), "ok") == 0, "%s: %s", str(warm, "status"), str(warm, "error"));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(warm, "cached")));
    CHECK(num2(warm, "compile_ms", NULL) >= 0);
    fw_bench_free(b);
    fw_ccache_get_stats(c, &st);
    CHECK(st.hits == 1);

    /* damaged: dropped, compiled again (not cached), stored again; the next harness hits */
    damage_all(dir);
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    fw_bench_set_cache(b, c);
    cJSON *rebuilt = NULL;
    CHECK(fw_bench_measure(b, fw_test_typed(spec), &plan.items[0], 0, &rebuilt, err, sizeof err) == 0);
    CHECK(strcmp(str(rebuilt, "status"), "ok") == 0 && cJSON_IsFalse(cJSON_GetObjectItem(rebuilt, "cached")));
    fw_bench_free(b);
    fw_ccache_get_stats(c, &st);
    CHECK(st.dropped == 1 && st.stores > stores_cold);
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    fw_bench_set_cache(b, c);
    cJSON *again = NULL;
    CHECK(fw_bench_measure(b, fw_test_typed(spec), &plan.items[0], 0, &again, err, sizeof err) == 0);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(again, "cached")));

    /* the whole plan with a pool and the cache: every record ok, the stored one a hit */
    CHECK(fw_bench_pool_start(b, fw_test_typed(spec), &plan, 0, 2, 0, NULL, 0, err, sizeof err) == 0);
    cJSON *recs = run_plan(b, spec, &plan);
    fw_bench_pool_stop(b);

    /* finalists: top 3 of each shape, 4 rounds of 2 launches, interleaved */
    cJSON *fin = NULL;
    CHECKF(fw_bench_finalists(b, fw_test_typed(spec), &plan, recs, 3, 4, 2, 1, &fin, err, sizeof err) == 0, "%s", err);
    CHECK(cJSON_GetArraySize(fin) == 6);
    const char *shapes[2] = { "K=40,M=64,N=48", "K=16,M=32,N=32" };
    for (int sh = 0; sh < 2; sh++) {
        /* the first pass's top 3 of this shape, by median */
        double meds[3] = { 1e300, 1e300, 1e300 };
        int seqs[3] = { -1, -1, -1 };
        const cJSON *r;
        cJSON_ArrayForEach(r, recs) {
            if (strcmp(str(r, "shape_key"), shapes[sh]) != 0 || strcmp(str(r, "status"), "ok") != 0)
                continue;
            double m = num2(r, "stats", "median_ns");
            int sq = (int)num2(r, "seq", NULL);
            for (int k = 0; k < 3; k++)
                if (m < meds[k]) {
                    for (int j = 2; j > k; j--) {
                        meds[j] = meds[j - 1];
                        seqs[j] = seqs[j - 1];
                    }
                    meds[k] = m;
                    seqs[k] = sq;
                    break;
                }
        }
        int seen[3] = { 0, 0, 0 }, rank = 0;
        double prev = 0;
        const cJSON *f;
        cJSON_ArrayForEach(f, fin) {
            if (strcmp(str(f, "shape_key"), shapes[sh]) != 0)
                continue;
            rank++;
            CHECK(num2(f, "rank", NULL) == rank);
            CHECK(num2(f, "stats", "n") == 8);      /* 4 rounds x 2 */
            CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(f, "samples_ns")) == 8);
            /* the ranking reads the finalists' own samples */
            double med = num2(f, "stats", "median_ns");
            CHECK(med >= prev);
            prev = med;
            int fr = (int)num2(f, "first_rank", NULL);
            CHECK(fr >= 1 && fr <= 3);
            CHECK((int)num2(f, "seq", NULL) == seqs[fr - 1]);
            seen[fr - 1] = 1;
        }
        CHECK(rank == 3 && seen[0] && seen[1] && seen[2]);
    }
    cJSON_Delete(fin);
    fw_bench_free(b);
    cJSON_Delete(recs);
    cJSON_Delete(cold);
    cJSON_Delete(warm);
    cJSON_Delete(rebuilt);
    cJSON_Delete(again);
    fw_ccache_close(c);
    fw_plan_release(&plan);
    cJSON_Delete(spec);
}

int main(void)
{
    be = &fw_opencl_backend;
    if (be->device_count() == 0) {
        puts("no OpenCL device: skipped");
        return 77;
    }
    CHECK(mkdtemp(tmpdir));
    char err[512];
    CHECKF(be->open(0, &dev, &info, err, sizeof err) == 0, "%s", err);
    test_early_stop();
    test_pool_same_records();
    test_cache_and_finalists();
    be->close(dev);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
    printf("throughput ok\n");
    return 0;
}
