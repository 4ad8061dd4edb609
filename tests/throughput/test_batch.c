/* Launch-overhead-free timing (issue 5) on the OpenCL device (PoCL here), through a counting wrapper
 * around the OpenCL backend: options.launches_per_sample N makes every timed sample N launches (counted
 * at the backend), in one launch_batch call when the backend has one and as single launches added up
 * when it has none or refuses; options.rotate_bytes gives the inputs enough distinct copies, each
 * holding the original bytes, and the launches walk through them; the results still verify and the
 * record says which timing was used. No assertion depends on timing. Exits 77 without OpenCL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_bench.h"
#include "fw_family.h"
#include "fw_opencl.h"
#include "fw_job.h"
#include "fw_util.h"
#include "../bench/test_util.h"
#include "fw_test_spec.h"

#define N 2048

static const fw_backend *ocl;
static fw_backend wrap;
static fw_device *dev;
static fw_device_info info;

/* what the wrapper saw */
static size_t n_launch, n_batch_calls, n_batch_launches;
static void *seen[4096];          /* argument 0's buffer of every launch, in order */
static size_t nseen;
static int batch_mode;            /* 0: launch_batch runs them, 1: answers -ENOTSUP */



static void note(const fw_launch *l)
{
    if (nseen < sizeof seen / sizeof seen[0])
        seen[nseen++] = l->args[0].buffer;
}

static int w_launch(fw_device *d, fw_program *p, const fw_launch *l, uint64_t *ns)
{
    n_launch++;
    note(l);
    return ocl->launch(d, p, l, ns);
}

static int w_batch(fw_device *d, fw_program *p, const fw_launch *ls, size_t n, uint64_t *ns)
{
    if (batch_mode == 1)
        return -ENOTSUP;
    n_batch_calls++;
    for (size_t i = 0; i < n; i++) {
        n_batch_launches++;
        note(&ls[i]);
    }
    return ocl->launch_batch(d, p, ls, n, ns);   /* the backend's own batch: one profiling window */
}

/* ---- a copy-and-double family with one input buffer ------------------------------------------- */

static const char src[] =
    "__kernel void dbl(__global const float *a, __global float *c, uint n) {\n"
    "  uint i = get_global_id(0);\n"
    "  if (i < n) c[i] = 2.0f * a[i];\n"
    "}\n";

static int k_key(const cJSON *shape, char *buf, size_t len)
{
    (void)shape;
    snprintf(buf, len, "n=%d", N);
    return 0;
}

static int k_source(const char *dialect, const cJSON *shape, char **text, char *err, size_t errlen)
{
    (void)shape;
    if (strcmp(dialect, "opencl") != 0)
        return fw_errf(err, errlen, -ENOTSUP, "batch_test is OpenCL only");
    *text = strdup(src);
    return *text ? 0 : -ENOMEM;
}

static int k_wl_new(const cJSON *shape, uint64_t seed, fw_workload **out, char *err, size_t errlen)
{
    (void)shape;
    (void)err;
    (void)errlen;
    fw_workload *wl = fw_workload_alloc(2, 3);
    snprintf(wl->kernel, sizeof wl->kernel, "dbl");
    float *a = malloc(N * 4);
    fw_fill_uniform_f32(a, N, seed, 1, -1.0f, 1.0f);
    wl->buffers[0] = (fw_wl_buffer){ "a", FW_BUF_INPUT, FW_ELEM_F32, N * 4, a };
    wl->buffers[1] = (fw_wl_buffer){ "c", FW_BUF_OUTPUT, FW_ELEM_F32, N * 4, NULL };
    uint32_t *nv = malloc(sizeof *nv);
    *nv = N;
    wl->args[0] = (fw_wl_arg){ 0, NULL, 0 };
    wl->args[1] = (fw_wl_arg){ 1, NULL, 0 };
    wl->args[2] = (fw_wl_arg){ -1, nv, sizeof *nv };
    wl->output = 1;
    wl->reference = malloc(N * sizeof(double));
    wl->nreference = N;
    for (size_t i = 0; i < N; i++)
        wl->reference[i] = 2.0 * a[i];
    wl->tolerance = 1e-6;
    wl->bytes = 8.0 * N;
    wl->flops = N;
    *out = wl;
    return 0;
}

static void k_wl_free(fw_workload *wl)
{
    fw_workload_free_common(wl);
}

static int k_geometry(const fw_workload *wl, const fw_point *k, fw_geometry *g, char *err, size_t errlen)
{
    (void)wl;
    (void)k;
    (void)err;
    (void)errlen;
    memset(g, 0, sizeof *g);
    g->grid[0] = N / 64;
    g->grid[1] = g->grid[2] = 1;
    g->group[0] = 64;
    g->group[1] = g->group[2] = 1;
    return 0;
}

static const fw_family fam = {
    .version = FW_FAMILY_VERSION, .name = "batch_test", .description = "doubles a vector",
    .defaults_json = "{}", .shape_key = k_key, .source = k_source,
    .workload_new = k_wl_new, .workload_free = k_wl_free, .geometry = k_geometry,
};

static const char *str(const cJSON *o, const char *k)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
    return s ? s : "";
}

static double num2(const cJSON *o, const char *a, const char *b)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, a), b);
    CHECKF(cJSON_IsNumber(v), "%s.%s is not a number", a, b);
    return v->valuedouble;
}

/* One measurement with the given options through a fresh harness; fills *b (caller frees). */
static cJSON *measure(const char *options, fw_bench **bout)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"family\":\"batch_test\",\"shapes\":[{}],\"seed\":7,\"warmup\":2,\"iters\":3,"
             "\"options\":%s}", options);
    cJSON *spec = cJSON_Parse(text);
    CHECK(spec);
    fw_plan_item it;
    memset(&it, 0, sizeof it);
    it.origin = "grid";
    n_launch = n_batch_calls = n_batch_launches = nseen = 0;
    fw_bench *b = NULL;
    CHECK(fw_bench_new(&wrap, dev, &info, &b) == 0);
    cJSON *rec = NULL;
    char err[1024] = "";
    int rc = fw_bench_measure_family(b, &fam, fw_test_typed(spec), &it, 0, &rec, err, sizeof err);
    CHECKF(rc == 0 && rec, "measure: %d %s", rc, err);
    CHECKF(strcmp(str(rec, "status"), "ok") == 0, "status %s: %s", str(rec, "status"), str(rec, "error"));
    CHECKF(num2(rec, "verify", "rel_err") <= 1e-6, "verifies");
    cJSON_Delete(spec);
    *bout = b;
    return rec;
}

int main(void)
{
    ocl = &fw_opencl_backend;
    if (ocl->device_count() == 0) {
        puts("no OpenCL device: skipped");
        return 77;
    }
    char err[512];
    CHECKF(ocl->open(0, &dev, &info, err, sizeof err) == 0, "%s", err);
    wrap = *ocl;
    wrap.launch = w_launch;
    wrap.launch_batch = w_batch;
    fw_bench *b;

    /* default: one launch per sample, no batch, the record says so */
    cJSON *rec = measure("{}", &b);
    CHECK(num2(rec, "timing", "launches_per_sample") == 1 && num2(rec, "timing", "rotate_copies") == 1);
    CHECK(strcmp(str(cJSON_GetObjectItemCaseSensitive(rec, "timing"), "window"), "launch") == 0);
    CHECKF(n_launch == 1 + 2 + 3 && n_batch_calls == 0, "1 checked + 2 warm-up + 3 timed launches: %zu", n_launch);
    CHECK(fw_bench_batch_launches(b) == 0);
    cJSON_Delete(rec);
    fw_bench_free(b);

    /* 4 launches per sample in one window: 3 batch calls of 4, all counted */
    rec = measure("{\"launches_per_sample\":4}", &b);
    CHECK(num2(rec, "timing", "launches_per_sample") == 4);
    CHECK(strcmp(str(cJSON_GetObjectItemCaseSensitive(rec, "timing"), "window"), "batch") == 0);
    CHECKF(n_batch_calls == 3 && n_batch_launches == 12, "3 samples x 4 launches in batches: %zu calls, %zu launches",
           n_batch_calls, n_batch_launches);
    CHECKF(n_launch == 1 + 2, "only the checked and warm-up launches are single: %zu", n_launch);
    CHECK(fw_bench_batch_launches(b) == 12);
    CHECK(num2(rec, "stats", "n") == 3);
    cJSON_Delete(rec);
    fw_bench_free(b);

    /* a backend that refuses the batch: each launch timed alone and added up, and the record says so */
    batch_mode = 1;
    rec = measure("{\"launches_per_sample\":5}", &b);
    CHECK(strcmp(str(cJSON_GetObjectItemCaseSensitive(rec, "timing"), "window"), "sum_of_launches") == 0);
    CHECKF(n_launch == 1 + 2 + 15 && n_batch_calls == 0, "15 single launches: %zu", n_launch);
    cJSON_Delete(rec);
    fw_bench_free(b);
    batch_mode = 0;
    /* and one without the op at all */
    wrap.launch_batch = NULL;
    rec = measure("{\"launches_per_sample\":2}", &b);
    CHECK(strcmp(str(cJSON_GetObjectItemCaseSensitive(rec, "timing"), "window"), "sum_of_launches") == 0);
    CHECKF(n_launch == 1 + 2 + 6, "6 single launches: %zu", n_launch);
    cJSON_Delete(rec);
    fw_bench_free(b);
    wrap.launch_batch = w_batch;

    /* rotate_bytes 40000 over 8192 input bytes: 5 copies (40960 > 40000), each launch the next */
    rec = measure("{\"launches_per_sample\":4,\"rotate_bytes\":40000}", &b);
    CHECKF(num2(rec, "timing", "rotate_copies") == 5, "copies %g", num2(rec, "timing", "rotate_copies"));
    CHECK(num2(rec, "timing", "rotate_bytes") == 40000);
    CHECKF(nseen == 1 + 2 + 12, "launches seen %zu", nseen);
    void *orig = seen[0];   /* the checked launch uses the original input */
    void *distinct[8];
    size_t nd = 0;
    for (size_t i = 1; i < nseen; i++) {
        size_t j = 0;
        while (j < nd && distinct[j] != seen[i])
            j++;
        if (j == nd) {
            CHECK(nd < 8);
            distinct[nd++] = seen[i];
        }
        /* consecutive launches, within a batch too, never reuse the copy just read */
        if (i > 1)
            CHECKF(seen[i] != seen[i - 1], "launch %zu reuses the previous launch's inputs", i);
    }
    CHECKF(nd == 5, "5 distinct input buffers used in warm-up and timing: %zu", nd);
    float *want = malloc(N * 4), *got = malloc(N * 4);
    CHECK(ocl->buffer_read(dev, orig, 0, want, N * 4) == 0);
    int has_orig = 0;
    for (size_t j = 0; j < nd; j++) {
        has_orig |= distinct[j] == orig;
        memset(got, 0, N * 4);
        CHECK(ocl->buffer_read(dev, distinct[j], 0, got, N * 4) == 0);
        CHECKF(memcmp(got, want, N * 4) == 0, "copy %zu holds the original bytes", j);
    }
    CHECK(has_orig);
    free(want);
    free(got);
    cJSON_Delete(rec);
    fw_bench_free(b);

    ocl->close(dev);
    printf("batch timing ok\n");
    return 0;
}
