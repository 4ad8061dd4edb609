/* A job's cost against the device and the host (job/cost.c, issue 15 item 12): the families' costs
 * agree with the workloads they build, a shape over a limit is refused with the sentence that names
 * the buffer, its size, the limit and what fits, and what fits does fit. Nothing large is allocated:
 * the big shapes are only costed, the workloads built are small. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "fw_check.h"
#include "fw_declarative.h"
#include "fw_job.h"

#define GIB 1073741824.0

static cJSON *resolve(const char *text)
{
    char err[2048];
    cJSON *u = cJSON_Parse(text), *r = NULL;
    if (!u || fw_spec_resolve(u, &r, err, sizeof err) < 0) {
        fprintf(stderr, "resolve failed: %s\n", u ? err : "bad JSON");
        fw_check_failures++;
    }
    cJSON_Delete(u);
    return r;
}

static cJSON *options_of(cJSON *r)
{
    cJSON *o = cJSON_GetObjectItem(r, "options");
    return o ? o : cJSON_AddObjectToObject(r, "options");
}

static fw_fit_limits opencl_limits(double alloc, double mem, double host)
{
    cJSON *dev = cJSON_Parse("{\"backend\": \"opencl\", \"limits\": {\"max_threads\": 1024}}");
    cJSON *lim = cJSON_GetObjectItem(dev, "limits");
    cJSON_AddNumberToObject(lim, "max_alloc_bytes", alloc);
    cJSON_AddNumberToObject(lim, "global_mem_bytes", mem);
    fw_fit_limits l;
    fw_fit_limits_of_device(dev, &l);
    cJSON_Delete(dev);
    l.host_mem = host;
    snprintf(l.host_what, sizeof l.host_what, "MemAvailable in /proc/meminfo");
    return l;
}

/* The sum and the largest of a built workload's buffers equal (exact) or bound (!exact) the cost. */
static void check_against(const fw_workload *wl, const fw_wl_cost *c, int exact)
{
    double sum = 0, largest = 0, in = 0;
    for (size_t i = 0; i < wl->nbuffers; i++) {
        sum += (double)wl->buffers[i].bytes;
        largest = fmax(largest, (double)wl->buffers[i].bytes);
        in += wl->buffers[i].role == FW_BUF_INPUT && wl->buffers[i].host ? (double)wl->buffers[i].bytes : 0;
    }
    if (exact) {
        CHECK(sum == c->device_bytes);
        CHECK(largest == c->largest_bytes);
        CHECK(in == c->input_bytes);
    } else {
        CHECK(sum <= c->device_bytes && c->device_bytes < 2 * sum);
        CHECK(largest <= c->largest_bytes);
    }
}

static void test_gemm(void)
{
    char err[2048];
    const fw_family *g = fw_family_find("gemm");
    cJSON *shape = cJSON_Parse("{\"M\": 96, \"N\": 40, \"K\": 72}");
    fw_wl_cost c;
    fw_workload *wl = NULL;
    CHECK_INT(g->cost(shape, &c, err, sizeof err), 0);
    CHECK_INT(g->workload_new(shape, 7, &wl, err, sizeof err), 0);
    if (wl)
        check_against(wl, &c, 1);
    g->workload_free(wl);
    CHECK_STR(c.largest, "A");
    CHECK(c.reference_ops == 96.0 * 40 * 72);
    cJSON_Delete(shape);

    /* the largest gemm the shape check accepts: A alone is 8 GiB */
    cJSON *r = resolve("{\"profile\": \"gemm_small\", \"shapes\": [{\"M\": 65536, \"N\": 8, \"K\": 32767}], "
                       "\"seed\": 1}");
    fw_wl_cost big;
    CHECK_INT(fw_job_shape_cost(r, cJSON_GetArrayItem(cJSON_GetObjectItem(r, "shapes"), 0), &big, err, sizeof err), 0);
    CHECK(big.largest_bytes == 4.0 * 65536 * 32767);
    fw_fit_limits l = opencl_limits(4 * GIB, 16 * GIB, 64 * GIB);
    CHECK_INT(fw_job_fits(r, &l, err, sizeof err), -E2BIG);
    /* 4 * M * 32767 <= 2^32 for M up to 32769; 4 * 65536 * K <= 2^32 for K up to 16384 */
    CHECK_STR(err, "shape 0 (K=32767,M=65536,N=8): buffer A needs 8.0 GiB but the device allows 4.0 GiB in one "
                   "allocation (CL_DEVICE_MAX_MEM_ALLOC_SIZE); the largest M that fits is 32769 (the other fields "
                   "as they are), or K up to 16384");
    /* the device's memory in all, then the host's */
    l = opencl_limits(16 * GIB, 6 * GIB, 64 * GIB);
    CHECK_INT(fw_job_fits(r, &l, err, sizeof err), -E2BIG);
    CHECK_HAS(err, "its buffers need 8.0 GiB together but the device has 6.0 GiB (CL_DEVICE_GLOBAL_MEM_SIZE)");
    l = opencl_limits(16 * GIB, 16 * GIB, 4 * GIB);
    l.workers = 2;
    CHECK_INT(fw_job_fits(r, &l, err, sizeof err), -E2BIG);
    CHECK_HAS(err, "each of the job's 2 workers would hold 8.0 GiB on the host for it");
    CHECK_HAS(err, "but 4.0 GiB is available (MemAvailable in /proc/meminfo)");
    /* limits not known are not checked */
    l = opencl_limits(0, 0, 0);
    CHECK_INT(fw_job_fits(r, &l, err, sizeof err), 0);
    cJSON_Delete(r);
}

/* What fits does fit, and one more does not. */
static void test_fits_are_tight(void)
{
    char err[2048];
    cJSON *r = resolve("{\"profile\": \"gemm_small\", \"shapes\": [{\"M\": 4096, \"N\": 64, \"K\": 4096}], "
                       "\"seed\": 1}");
    fw_fit_limits l = opencl_limits(40e6, 0, 0);   /* not a power of two: A = 4 * M * K */
    CHECK_INT(fw_job_fits(r, &l, err, sizeof err), -E2BIG);
    long long m = (long long)floor(40e6 / (4.0 * 4096));
    char want[128];
    snprintf(want, sizeof want, "the largest M that fits is %lld (", m);
    CHECK_HAS(err, want);
    cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "shapes"), 0);
    cJSON_SetNumberValue(cJSON_GetObjectItem(s, "M"), (double)m);
    CHECK_INT(fw_job_fits(r, &l, err, sizeof err), 0);
    cJSON_SetNumberValue(cJSON_GetObjectItem(s, "M"), (double)(m + 1));
    CHECK_INT(fw_job_fits(r, &l, err, sizeof err), -E2BIG);
    cJSON_Delete(r);
}

static void test_moe(void)
{
    char err[2048];
    const fw_family *f = fw_family_find("moe_swiglu");
    const char *shapes[] = {
        "{\"tokens\": 6, \"hidden\": 256, \"intermediate\": 128, \"experts\": 8, \"top_k\": 2, \"layout\": "
        "\"dense\", \"bits\": [[6, 2, 3], [2, 3, 4], [5, 6, 2]]}",
        "{\"tokens\": 5, \"hidden\": 256, \"intermediate\": 256, \"experts\": 8, \"top_k\": 2, \"mode\": "
        "\"grouped\", \"layout\": \"dense\", \"bits\": [4, 3, 5]}",
        "{\"tokens\": 3, \"hidden\": 256, \"intermediate\": 128, \"experts\": 16, \"top_k\": 2, \"bits\": "
        "[[6, 2, 3], [2, 3, 4]]}",
    };
    for (int i = 0; i < 3; i++) {
        cJSON *shape = cJSON_Parse(shapes[i]);
        fw_wl_cost c;
        fw_workload *wl = NULL;
        CHECK_INT(f->cost(shape, &c, err, sizeof err), 0);
        CHECK_INT(f->workload_new(shape, 11, &wl, err, sizeof err), 0);
        if (wl)
            check_against(wl, &c, i < 2);   /* routed weights: an upper bound */
        f->workload_free(wl);
        cJSON_Delete(shape);
    }
    /* the probe's 4,096 tokens: a reference of about 1.5e11 multiply-adds, refused by the default bound */
    cJSON *r = resolve("{\"family\": \"moe_swiglu\", \"shapes\": [{\"tokens\": 4096, \"hidden\": 2048, "
                       "\"intermediate\": 1536, \"experts\": 64, \"top_k\": 4, \"bits\": \"glm47\"}], \"seed\": 1}");
    fw_fit_limits l = opencl_limits(0, 0, 0);
    CHECK_INT(fw_job_fits(r, &l, err, sizeof err), -E2BIG);
    CHECK_HAS(err, "its CPU reference needs 1.55e+11 multiply-adds, over the bound of 6.87e+10 "
                   "(options.reference_max_ops, default 2^36;");
    /* (64 + 4 t) * 3 * 2048 * 1536 <= 2^36 for t up to 1804 tokens; (64 + 16384) * 3 * 1536 * H for H
     * up to 906, in steps of 128: 896; intermediate likewise up to 680: 640; top_k 1: (64 + 4096) * 3 *
     * 2048 * 1536 = 3.9e10 fits */
    CHECK_HAS(err, "the largest tokens that fits is 1804 (the other fields as they are), or hidden up to 896, or "
                   "intermediate up to 640, or top_k up to 1");
    /* the option moves the bound; 0 removes it; a bad one is a sentence */
    cJSON *opts = options_of(r);
    cJSON_AddNumberToObject(opts, "reference_max_ops", 0);
    CHECK_INT(fw_job_fits(r, &l, err, sizeof err), 0);
    cJSON_ReplaceItemInObject(opts, "reference_max_ops", cJSON_CreateNumber(1e12));
    CHECK_INT(fw_job_fits(r, &l, err, sizeof err), 0);
    cJSON_ReplaceItemInObject(opts, "reference_max_ops", cJSON_CreateString("lots"));
    CHECK_INT(fw_job_fits(r, &l, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "options.reference_max_ops must be a number");
    cJSON_Delete(r);
}

static void test_declarative_and_options(void)
{
    char err[2048];
    cJSON *r = resolve(
        "{\"source\": {\"text\": \"#ifndef B\\n#define B 64\\n#endif\\n"
        "__kernel void vadd(__global float *a) { a[0] = B; }\\n__kernel void vadd_ref(__global float *a) {}\\n\", "
        "\"entry\": \"vadd\"}, \"shapes\": [{\"n\": 1000}], \"space\": {\"knobs\": {\"B\": [64, 128]}}, "
        "\"workload\": {\"args\": [{\"name\": \"a\", \"type\": \"f32\", \"count\": \"n\"}, {\"name\": \"idx\", "
        "\"type\": \"i64\", \"count\": \"n + B\"}, {\"name\": \"c\", \"type\": \"f64\", \"count\": \"2 * n\", "
        "\"dir\": \"out\"}, {\"name\": \"n\", \"scalar\": \"i32\", \"value\": \"n\"}], \"grid\": [\"cdiv(n, B)\"], "
        "\"block\": [\"B\"], \"reference\": {\"entry\": \"vadd_ref\", \"grid\": [\"n\"], \"block\": [1]}}}");
    const cJSON *shape = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "shapes"), 0);
    fw_wl_cost c;
    CHECK_INT(fw_job_shape_cost(r, shape, &c, err, sizeof err), 0);
    fw_workload *wl = NULL;
    CHECK_INT(fw_decl_workload_new(cJSON_GetObjectItem(r, "workload"), shape,
                                   cJSON_GetObjectItem(cJSON_GetObjectItem(r, "space"), "knobs"), 3, &wl, err,
                                   sizeof err), 0);
    if (wl)
        check_against(wl, &c, 1);
    fw_family_declarative.workload_free(wl);
    CHECK_STR(c.largest, "c");   /* 2000 doubles and the canary */
    CHECK(c.input_bytes == 4000 + 8 * 1128);
    CHECK(c.reference_ops == 0);   /* the reference is a kernel */
    /* rotated copies repeat the inputs on the device, the flush buffer is one more allocation */
    cJSON *opts = options_of(r);
    cJSON_AddNumberToObject(opts, "rotate_buffers", 3);
    fw_wl_cost rot;
    CHECK_INT(fw_job_shape_cost(r, shape, &rot, err, sizeof err), 0);
    CHECK(rot.device_bytes == c.device_bytes + 2 * c.input_bytes);
    cJSON_AddNumberToObject(opts, "flush_cache_mb", 1);
    fw_fit_limits l = opencl_limits(65536, 0, 0);
    CHECK_INT(fw_job_fits(r, &l, err, sizeof err), -E2BIG);
    CHECK_HAS(err, "shape 0 (n=1000): the cache-flush buffer (options.flush_cache_mb) needs 1.0 MiB but the device "
                   "allows 64.0 KiB in one allocation");
    CHECK_HAS(err, "no field of the shape made smaller alone makes it fit");
    cJSON_Delete(r);
}

int main(void)
{
    test_gemm();
    test_fits_are_tight();
    test_moe();
    test_declarative_and_options();
    return fw_check_done("job_cost");
}
