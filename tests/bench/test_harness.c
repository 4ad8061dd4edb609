/* The measuring harness on the OpenCL device with a tiny family defined here (a vector add with
 * knobs), so the harness is tested independently of kernels/. Exits 77 without an OpenCL device. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_bench.h"
#include "fw_family.h"
#include "fw_opencl.h"
#include "fw_util.h"
#include "test_util.h"
#include "fw_test_spec.h"

/* VPT values per thread, GROUP threads per group; BUG = 1 skips the last element (never written);
 * EXTRA (a spec macro, default 0) adds a constant, so the result is wrong but fully written. */
static const char vadd_src[] =
    "#ifndef EXTRA\n#define EXTRA 0\n#endif\n"
    "__kernel void vadd(__global const float *a, __global const float *b, __global float *c, uint n) {\n"
    "  uint t = get_global_id(0);\n"
    "  for (uint j = 0; j < VPT; j++) {\n"
    "    uint i = t * VPT + j;\n"
    "    if (i + BUG < n) c[i] = a[i] + b[i] + (float)EXTRA;\n"
    "  }\n"
    "}\n";

/* vadd that overwrites its input a after reading it: right on its first launch, wrong inputs after. */
static const char clobber_src[] =
    "__kernel void vadd(__global float *a, __global const float *b, __global float *c, uint n) {\n"
    "  uint t = get_global_id(0);\n"
    "  for (uint j = 0; j < VPT; j++) {\n"
    "    uint i = t * VPT + j;\n"
    "    if (i + BUG < n) { c[i] = a[i] + b[i]; a[i] = 1e6f; }\n"
    "  }\n"
    "}\n";



static int vadd_n(const cJSON *shape, int64_t *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(shape, "n");
    if (!cJSON_IsNumber(v) || v->valueint < 1)
        return -EINVAL;
    *n = v->valueint;
    return 0;
}

static int vadd_check(const cJSON *shape, char *err, size_t errlen)
{
    int64_t n;
    return vadd_n(shape, &n) < 0 ? fw_errf(err, errlen, -EINVAL, "shape needs n >= 1") : 0;
}

static int vadd_key(const cJSON *shape, char *buf, size_t len)
{
    int64_t n;
    if (vadd_n(shape, &n) < 0)
        return -EINVAL;
    return snprintf(buf, len, "n=%lld", (long long)n) < (int)len ? 0 : -ENOSPC;
}

static int vadd_source(const char *dialect, const cJSON *shape, char **text, char *err, size_t errlen)
{
    (void)shape;
    if (strcmp(dialect, "opencl") != 0)
        return fw_errf(err, errlen, -ENOTSUP, "vadd_test is OpenCL only");
    *text = strdup(vadd_src);
    return *text ? 0 : -ENOMEM;
}

static int vadd_wl_new(const cJSON *shape, uint64_t seed, fw_workload **out, char *err, size_t errlen)
{
    int64_t n;
    if (vadd_n(shape, &n) < 0)
        return fw_errf(err, errlen, -EINVAL, "bad shape");
    fw_workload *wl = fw_workload_alloc(3, 4);
    snprintf(wl->kernel, sizeof wl->kernel, "vadd");
    float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4);
    fw_fill_uniform_f32(a, (size_t)n, seed, 1, -1.0f, 1.0f);
    fw_fill_uniform_f32(b, (size_t)n, seed, 2, -1.0f, 1.0f);
    wl->buffers[0] = (fw_wl_buffer){ "a", FW_BUF_INPUT, FW_ELEM_F32, (size_t)n * 4, a };
    wl->buffers[1] = (fw_wl_buffer){ "b", FW_BUF_INPUT, FW_ELEM_F32, (size_t)n * 4, b };
    wl->buffers[2] = (fw_wl_buffer){ "c", FW_BUF_OUTPUT, FW_ELEM_F32, (size_t)n * 4, NULL };
    uint32_t *nv = malloc(sizeof *nv);
    *nv = (uint32_t)n;
    wl->args[0] = (fw_wl_arg){ 0, NULL, 0 };
    wl->args[1] = (fw_wl_arg){ 1, NULL, 0 };
    wl->args[2] = (fw_wl_arg){ 2, NULL, 0 };
    wl->args[3] = (fw_wl_arg){ -1, nv, sizeof *nv };
    wl->output = 2;
    wl->reference = malloc((size_t)n * sizeof(double));
    wl->nreference = (size_t)n;
    for (int64_t i = 0; i < n; i++)
        wl->reference[i] = (double)a[i] + (double)b[i];
    wl->tolerance = 1e-6;
    wl->bytes = 12.0 * (double)n;
    wl->flops = (double)n;
    *out = wl;
    return 0;
}

static void vadd_wl_free(fw_workload *wl)
{
    fw_workload_free_common(wl);
}

static int vadd_geometry(const fw_workload *wl, const fw_point *k, fw_geometry *g, char *err, size_t errlen)
{
    int64_t vpt = fw_point_value(k, "VPT", 0), group = fw_point_value(k, "GROUP", 0);
    if (vpt < 1 || group < 1)
        return fw_errf(err, errlen, -EINVAL, "VPT and GROUP must be >= 1");
    uint32_t n = *(const uint32_t *)wl->args[3].bytes;
    memset(g, 0, sizeof *g);
    uint64_t per = (uint64_t)vpt * (uint64_t)group;
    g->grid[0] = (uint32_t)((n + per - 1) / per);
    g->grid[1] = g->grid[2] = 1;
    g->group[0] = (uint32_t)group;
    g->group[1] = g->group[2] = 1;
    return 0;
}

static const fw_family vadd_family = {
    .version = FW_FAMILY_VERSION,
    .name = "vadd_test",
    .description = "vector add for the harness tests",
    .defaults_json = "{}",
    .shape_check = vadd_check,
    .shape_key = vadd_key,
    .source = vadd_source,
    .workload_new = vadd_wl_new,
    .workload_free = vadd_wl_free,
    .geometry = vadd_geometry,
};

/* A backend that forwards to OpenCL but can make launches fail, for the runtime_error and
 * sticky-error paths that PoCL never takes by itself. */
static int launch_mode;   /* 0 forward, 1 fail (-EINVAL), 2 sticky (-EFAULT) */
static int faulty_launch(fw_device *d, fw_program *p, const fw_launch *l, uint64_t *ns)
{
    if (launch_mode == 1)
        return -EINVAL;
    if (launch_mode == 2)
        return -EFAULT;
    return fw_opencl_backend.launch(d, p, l, ns);
}

static fw_plan_item item(int shape, int vpt, int group, int bug)
{
    fw_plan_item it;
    memset(&it, 0, sizeof it);
    it.shape = shape;
    fw_point_set(&it.point, "VPT", vpt);
    fw_point_set(&it.point, "GROUP", group);
    fw_point_set(&it.point, "BUG", bug);
    it.origin = "grid";
    return it;
}

static const char *status_of(const cJSON *rec)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "status"));
}

static cJSON *measure(fw_bench *b, const cJSON *spec, fw_plan_item it, int64_t seq)
{
    cJSON *rec = NULL;
    char err[1024] = "";
    int rc = fw_bench_measure_family(b, &vadd_family, fw_test_typed(spec), &it, seq, &rec, err, sizeof err);
    CHECKF(rc == 0 && rec, "measure: %d %s", rc, err);
    return rec;
}

static double num(const cJSON *o, const char *path1, const char *path2)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path1);
    if (path2)
        v = cJSON_GetObjectItemCaseSensitive(v, path2);
    CHECKF(cJSON_IsNumber(v), "%s.%s is not a number", path1, path2 ? path2 : "");
    return v->valuedouble;
}

int main(void)
{
    const fw_backend *be = &fw_opencl_backend;
    if (be->device_count() == 0) {
        puts("no OpenCL device: skipped");
        return 77;
    }
    fw_device *dev = NULL;
    fw_device_info info;
    char err[512];
    CHECKF(be->open(0, &dev, &info, err, sizeof err) == 0, "%s", err);
    fw_bench *b = NULL;
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);

    cJSON *spec = cJSON_Parse("{\"family\":\"vadd_test\",\"shapes\":[{\"n\":1000},{\"n\":777}],"
                              "\"seed\":5,\"warmup\":1,\"iters\":4}");
    CHECK(spec);

    /* ok: verified and timed, every sample kept */
    cJSON *r = measure(b, spec, item(0, 2, 64, 0), 0);
    CHECKF(strcmp(status_of(r), "ok") == 0, "%s: %s", status_of(r),
           cJSON_GetStringValue(cJSON_GetObjectItem(r, "error")));
    CHECK(num(r, "seq", NULL) == 0);
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "shape_key")), "n=1000") == 0);
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "variant_key")), "BUG=0,GROUP=64,VPT=2") == 0);
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "kernel")), "vadd") == 0);
    CHECK(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(r, "variant_hash"))) == 16);
    CHECK(num(r, "stats", "n") == 4);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(r, "samples_ns")) == 4);
    CHECK(num(r, "stats", "median_ns") > 0);
    CHECK(num(r, "stats", "min_ns") <= num(r, "stats", "median_ns"));
    CHECK(num(r, "stats", "median_ns") <= num(r, "stats", "max_ns"));
    CHECK(num(r, "verify", "rel_err") == 0 && num(r, "verify", "unwritten") == 0);
    CHECK(num(r, "gbps", NULL) > 0 && num(r, "gflops", NULL) > 0);
    CHECK(num(r, "bytes", NULL) == 12000);
    CHECK(num(r, "geometry", "shared_bytes") == 0);
    CHECK(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "geometry"), "grid"), 0)->valueint == 8);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(r, "cached")));
    double compile_ms = num(r, "compile_ms", NULL);
    CHECK(compile_ms > 0);
    cJSON_Delete(r);

    /* the same variant on another shape reuses the compiled program */
    r = measure(b, spec, item(1, 2, 64, 0), 1);
    CHECK(strcmp(status_of(r), "ok") == 0);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r, "cached")));
    CHECK(num(r, "compile_ms", NULL) == compile_ms);
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "shape_key")), "n=777") == 0);
    cJSON_Delete(r);

    /* an element left unwritten is caught by the poison */
    r = measure(b, spec, item(0, 1, 32, 1), 2);
    CHECK(strcmp(status_of(r), "verify_failed") == 0);
    CHECK(num(r, "verify", "unwritten") == 1);
    CHECK(!cJSON_GetObjectItem(r, "stats") && !cJSON_GetObjectItem(r, "samples_ns"));
    cJSON_Delete(r);

    /* over the device's max threads: invalid, and never compiled */
    int big = (int)info.max_threads * 2;
    r = measure(b, spec, item(0, 1, big, 0), 3);
    CHECK(strcmp(status_of(r), "invalid") == 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "compile_ms")));
    CHECKF(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(r, "error")), "threads"), "%s",
           cJSON_GetStringValue(cJSON_GetObjectItem(r, "error")));
    cJSON_Delete(r);

    /* a spec macro reaches the compiler: EXTRA=1 makes every element wrong */
    cJSON *spec2 = cJSON_Duplicate(spec, 1);
    cJSON_AddItemToObject(spec2, "macros", cJSON_Parse("{\"EXTRA\": 1}"));
    r = measure(b, spec2, item(0, 2, 64, 0), 4);
    CHECK(strcmp(status_of(r), "verify_failed") == 0);
    CHECK(num(r, "verify", "unwritten") == 0 && num(r, "verify", "rel_err") > 0.1);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(r, "cached")));   /* other macros: another program */
    cJSON_Delete(r);
    cJSON_Delete(spec2);

    /* the device comparison (issue 20) and the host's give the same verdicts and counts on wrong,
     * NaN and unwritten outputs (options.verify_on_device picks one) */
    const char *const planted[][2] = {{"{\"EXTRA\": 1}", "0"}, {"{\"EXTRA\": \"NAN\"}", "0"}, {"{}", "1"}};
    for (size_t pi = 0; pi < sizeof planted / sizeof planted[0]; pi++) {
        cJSON *rr[2];
        for (int host = 0; host < 2; host++) {
            cJSON *sp = cJSON_Duplicate(spec, 1);
            cJSON_AddItemToObject(sp, "macros", cJSON_Parse(planted[pi][0]));
            const char *opt = host ? "{\"verify_on_device\": false}" : "{\"verify_on_device\": true}";
            cJSON_AddItemToObject(sp, "options", cJSON_Parse(opt));
            rr[host] = measure(b, sp, item(0, 2, 64, planted[pi][1][0] - '0'), 8);
            cJSON_Delete(sp);
            CHECKF(strcmp(status_of(rr[host]), "verify_failed") == 0, "planted %zu: %s", pi, status_of(rr[host]));
            const char *on = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(rr[host], "verify"),
                                                                      "compared_on"));
            CHECKF(on && strcmp(on, host ? "host" : "device") == 0, "planted %zu compared on %s", pi, on ? on : "?");
        }
        CHECK(num(rr[0], "verify", "unwritten") == num(rr[1], "verify", "unwritten"));
        CHECK(num(rr[0], "verify", "nonfinite") == num(rr[1], "verify", "nonfinite"));
        double e0 = num(rr[0], "verify", "rel_err"), e1 = num(rr[1], "verify", "rel_err");
        CHECKF(fabs(e0 - e1) <= 1e-12 * fabs(e1), "planted %zu: rel_err %.17g device, %.17g host", pi, e0, e1);
        CHECK(pi != 1 || num(rr[0], "verify", "nonfinite") == 1000);
        CHECK(pi != 2 || num(rr[0], "verify", "unwritten") == 1);
        cJSON_Delete(rr[0]);
        cJSON_Delete(rr[1]);
    }

    /* a user kernel from the spec that does not compile: compile_error with the compiler's log */
    cJSON *spec3 = cJSON_Duplicate(spec, 1);
    cJSON_AddItemToObject(spec3, "source",
        cJSON_Parse("{\"text\": \"__kernel void vadd(__global float *a) { a[0] = no_such_thing; }\"}"));
    r = measure(b, spec3, item(0, 2, 64, 0), 5);
    CHECK(strcmp(status_of(r), "compile_error") == 0);
    CHECKF(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(r, "error")), "no_such_thing"), "%s",
           cJSON_GetStringValue(cJSON_GetObjectItem(r, "error")));
    cJSON_Delete(r);
    cJSON_Delete(spec3);

    /* a user kernel with its own entry name measures like the family's */
    cJSON *spec4 = cJSON_Duplicate(spec, 1);
    char *renamed = strdup(vadd_src);
    memcpy(strstr(renamed, "void vadd"), "void vsum", 9);
    cJSON *srcobj = cJSON_CreateObject();
    cJSON_AddStringToObject(srcobj, "text", renamed);
    cJSON_AddStringToObject(srcobj, "entry", "vsum");
    cJSON_AddItemToObject(spec4, "source", srcobj);
    r = measure(b, spec4, item(0, 4, 16, 0), 6);
    CHECKF(strcmp(status_of(r), "ok") == 0, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(r, "error")));
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "kernel")), "vsum") == 0);
    cJSON_Delete(r);
    cJSON_Delete(spec4);
    free(renamed);

    /* an unknown family is the caller's error, not a record */
    cJSON *rec = NULL;
    cJSON *spec5 = cJSON_Parse("{\"family\":\"no_such_family\",\"shapes\":[{\"n\":4}]}");
    fw_plan_item it = item(0, 1, 1, 0);
    CHECK(fw_bench_measure(b, fw_test_typed(spec5), &it, 0, &rec, err, sizeof err) == -EINVAL && !rec);
    CHECK(strstr(err, "no_such_family"));
    cJSON_Delete(spec5);

    /* "entries" keyed by dialect picks the entry of a user kernel */
    cJSON *spec6 = cJSON_Duplicate(spec, 1);
    cJSON *src6 = cJSON_CreateObject();
    char *renamed6 = strdup(vadd_src);
    memcpy(strstr(renamed6, "void vadd"), "void vdif", 9);
    cJSON_AddStringToObject(src6, "text", renamed6);
    cJSON_AddItemToObject(src6, "entries", cJSON_Parse("{\"opencl\": \"vdif\"}"));
    cJSON_AddItemToObject(spec6, "source", src6);
    r = measure(b, spec6, item(0, 4, 16, 0), 7);
    CHECKF(strcmp(status_of(r), "ok") == 0, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(r, "error")));
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(r, "kernel")), "vdif") == 0);
    cJSON_Delete(r);
    cJSON_Delete(spec6);
    free(renamed6);

    /* inputs are written once per workload and restored on the device for each variant (issue 20):
     * a variant that overwrites its inputs (after its first, correct launch) cannot make the next one
     * fail, with buffer_copy and without it (host writes) */
    for (int copy = 1; copy >= 0; copy--) {
        fw_backend nocopy = fw_opencl_backend;
        if (!copy)
            nocopy.buffer_copy = NULL;
        fw_bench *bb = NULL;
        CHECK(fw_bench_new(&nocopy, dev, &info, &bb) == 0);
        cJSON *sw = cJSON_Duplicate(spec, 1);
        cJSON *sx = cJSON_CreateObject();
        cJSON_AddStringToObject(sx, "text", clobber_src);
        cJSON_AddItemToObject(sw, "source", sx);
        r = measure(bb, sw, item(0, 1, 64, 0), 0);   /* verifies: its checked launch reads a first */
        CHECKF(strcmp(status_of(r), "ok") == 0, "clobbering variant: %s %s", status_of(r),
               cJSON_GetStringValue(cJSON_GetObjectItem(r, "error")));
        cJSON_Delete(r);
        r = measure(bb, spec, item(0, 2, 64, 0), 1);   /* the same workload, a well-behaved variant */
        CHECKF(strcmp(status_of(r), "ok") == 0, "after a variant that wrote its inputs (copy %d): %s %s", copy,
               status_of(r), cJSON_GetStringValue(cJSON_GetObjectItem(r, "error")));
        cJSON_Delete(r);
        cJSON_Delete(sw);
        fw_bench_free(bb);
    }

    cJSON_Delete(spec);
    fw_bench_free(b);

    /* a launch that fails is runtime_error; a sticky device error gives no record at all */
    fw_backend faulty = fw_opencl_backend;
    faulty.launch = faulty_launch;
    CHECK(fw_bench_new(&faulty, dev, &info, &b) == 0);
    spec = cJSON_Parse("{\"family\":\"vadd_test\",\"shapes\":[{\"n\":100}],\"seed\":1,\"iters\":2}");
    launch_mode = 1;
    r = measure(b, spec, item(0, 1, 32, 0), 0);
    CHECK(strcmp(status_of(r), "runtime_error") == 0);
    cJSON_Delete(r);
    launch_mode = 2;
    rec = NULL;
    it = item(0, 1, 32, 0);
    CHECK(fw_bench_measure_family(b, &vadd_family, fw_test_typed(spec), &it, 1, &rec, err, sizeof err) == -EFAULT);
    CHECK(rec == NULL);
    launch_mode = 0;
    r = measure(b, spec, item(0, 1, 32, 0), 2);
    CHECK(strcmp(status_of(r), "ok") == 0);
    cJSON_Delete(r);
    cJSON_Delete(spec);
    fw_bench_free(b);
    be->close(dev);
    puts("harness ok");
    return 0;
}
