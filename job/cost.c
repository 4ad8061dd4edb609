/* cost.c - does a job fit the device and the host? (fw_job.h; issue 15 item 12)
 *
 * Each shape's cost comes from its family (fw_family.cost; the declarative family from the spec's
 * "workload"), worked out from the shape alone: nothing is allocated, no reference is computed. The
 * worker then adds what the spec's options make it allocate on the device (rotated input copies, the
 * cache-flush buffer, bench/timing.c). A shape that does not fit is refused with one sentence that
 * names the shape, the buffer or the total, its size and the limit, and what would fit: for each
 * integer field of the shape, the largest value at or below its own that fits, the others as they are.
 */
#include "fw_job.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_declarative.h"
#include "fw_family.h"
#include "fw_util.h"

#define ROTATE_MAX 64            /* bench/timing.c: options.rotate_buffers is capped at 64 */
#define ROTATE_BYTES_MAX 1024    /* FW_BENCH_ROTATE_MAX: the copies options.rotate_bytes may ask for */

static const cJSON *field(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

void fw_fit_limits_of_device(const cJSON *device, fw_fit_limits *lim)
{
    static const char *const names[][3] = {
        {"opencl", "CL_DEVICE_MAX_MEM_ALLOC_SIZE", "CL_DEVICE_GLOBAL_MEM_SIZE"},
        {"cuda", "cuDeviceTotalMem", "cuDeviceTotalMem"},
        {"metal", "maxBufferLength", "recommendedMaxWorkingSetSize"},
    };
    memset(lim, 0, sizeof *lim);
    const cJSON *l = field(device, "limits");
    const cJSON *a = field(l, "max_alloc_bytes"), *g = field(l, "global_mem_bytes");
    lim->device_alloc = cJSON_IsNumber(a) && a->valuedouble > 0 ? a->valuedouble : 0;
    lim->device_mem = cJSON_IsNumber(g) && g->valuedouble > 0 ? g->valuedouble : 0;
    const char *be = cJSON_GetStringValue(field(device, "backend"));
    snprintf(lim->device_alloc_what, sizeof lim->device_alloc_what, "the device's limit");
    snprintf(lim->device_mem_what, sizeof lim->device_mem_what, "the device's limit");
    for (size_t i = 0; be && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(be, names[i][0]) == 0) {
            snprintf(lim->device_alloc_what, sizeof lim->device_alloc_what, "%s", names[i][1]);
            snprintf(lim->device_mem_what, sizeof lim->device_mem_what, "%s", names[i][2]);
        }
    lim->workers = 1;
}

int fw_job_shape_cost(const cJSON *resolved, const cJSON *shape, fw_wl_cost *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    fw_job_spec js;
    int rc = fw_job_spec_parse(resolved, &js, err, errlen);
    if (rc < 0)
        return rc;
    const fw_family *fam = js.family ? fw_family_find(js.family) : NULL;
    if (fam && strcmp(fam->name, FW_DECL_FAMILY) == 0)
        rc = fw_decl_cost(js.workload, shape, js.space_knobs, out, err, errlen);
    else if (fam && fam->cost)
        rc = fam->cost(shape, out, err, errlen);
    if (rc < 0)
        return rc;
    /* what the worker's timing adds on the device (bench/timing.c) */
    const fw_job_num *r = &js.rotate_buffers, *rb = &js.rotate_bytes, *f = &js.flush_cache_mb;
    double nrot = r->number && r->ivalue > 1 ? fmin(r->ivalue, ROTATE_MAX) : 1;
    if (rb->number && rb->value > 0 && out->input_bytes > 0)
        nrot = fmax(nrot, fmin(floor(rb->value / out->input_bytes) + 1, ROTATE_BYTES_MAX));
    out->device_bytes += (nrot - 1) * out->input_bytes;
    if (f->number && f->value > 0) {
        double fb = floor(f->value * 1048576.0);
        out->device_bytes += fb;
        if (fb > out->largest_bytes) {
            out->largest_bytes = fb;
            snprintf(out->largest, sizeof out->largest, "the cache-flush buffer (options.flush_cache_mb)");
        }
    }
    return 0;
}

int fw_job_reference_max_ops(const cJSON *resolved, double *ops, char *err, size_t errlen)
{
    fw_job_spec js;
    *ops = FW_JOB_REFERENCE_MAX_OPS;
    int rc = fw_job_spec_parse(resolved, &js, err, errlen);
    if (rc < 0)
        return rc;
    const fw_job_num *v = &js.reference_max_ops;
    if (!v->present)
        return 0;
    if (!v->number || !(v->value >= 0) || isinf(v->value))
        return fw_errf(err, errlen, -EINVAL, "options.reference_max_ops must be a number of multiply-adds, 0 (no "
                       "bound) or more");
    *ops = v->value;
    return 0;
}

static void human(double b, char *buf, size_t len)
{
    if (b >= 1073741824.0)
        snprintf(buf, len, "%.1f GiB", b / 1073741824.0);
    else if (b >= 1048576.0)
        snprintf(buf, len, "%.1f MiB", b / 1048576.0);
    else if (b >= 1024.0)
        snprintf(buf, len, "%.1f KiB", b / 1024.0);
    else
        snprintf(buf, len, "%.0f bytes", b);
}

/* One shape against the limits: 0 it fits, 1 it does not (why says what), < 0 the cost failed (why). */
static int check_shape(const cJSON *resolved, const cJSON *shape, const fw_fit_limits *lim, double max_ops, char *why,
                       size_t whylen)
{
    fw_wl_cost c;
    int rc = fw_job_shape_cost(resolved, shape, &c, why, whylen);
    if (rc < 0)
        return rc;
    char need[32], have[32];
    if (lim->device_alloc > 0 && c.largest_bytes > lim->device_alloc) {
        human(c.largest_bytes, need, sizeof need);
        human(lim->device_alloc, have, sizeof have);
        snprintf(why, whylen, "%s%s needs %s but the device allows %s in one allocation (%s)",
                 strchr(c.largest, ' ') ? "" : "buffer ", c.largest, need, have, lim->device_alloc_what);
        return 1;
    }
    if (lim->device_mem > 0 && c.device_bytes > lim->device_mem) {
        human(c.device_bytes, need, sizeof need);
        human(lim->device_mem, have, sizeof have);
        snprintf(why, whylen, "its buffers need %s together but the device has %s (%s)", need, have,
                 lim->device_mem_what);
        return 1;
    }
    int workers = lim->workers > 1 ? lim->workers : 1;
    if (lim->host_mem > 0 && c.host_bytes * workers > lim->host_mem) {
        char each[32];
        human(c.host_bytes, each, sizeof each);
        human(c.host_bytes * workers, need, sizeof need);
        human(lim->host_mem, have, sizeof have);
        if (workers > 1)
            snprintf(why, whylen, "each of the job's %d workers would hold %s on the host for it (the inputs, the "
                     "reference and the read-back output), %s together, but %s is available (%s)", workers, each,
                     need, have, lim->host_what);
        else
            snprintf(why, whylen, "the worker would hold %s on the host for it (the inputs, the reference and the "
                     "read-back output) but %s is available (%s)", need, have, lim->host_what);
        return 1;
    }
    if (max_ops > 0 && c.reference_ops > max_ops) {
        snprintf(why, whylen, "its CPU reference needs %.3g multiply-adds, over the bound of %.3g "
                 "(options.reference_max_ops%s; the reference is computed once per shape before any variant runs)",
                 c.reference_ops, max_ops, max_ops == FW_JOB_REFERENCE_MAX_OPS ? ", default 2^36" : "");
        return 1;
    }
    return 0;
}

/* With field set to v, the others as they are: check_shape's answer. */
static int check_with(const cJSON *resolved, cJSON *shape, cJSON *item, int64_t v, const fw_fit_limits *lim,
                      double max_ops)
{
    char why[512];
    cJSON_SetNumberValue(item, (double)v);
    return check_shape(resolved, shape, lim, max_ops, why, sizeof why);
}

/* The largest value of one integer field, at or below its own, that fits (the values a shape may have
 * step by the spacing found just below its own: 1 for gemm's M, 128 for moe's hidden), assuming
 * smaller fits better: 1 with *best, 0 when none does. */
static int largest_fitting(const cJSON *resolved, cJSON *shape, cJSON *item, const fw_fit_limits *lim, double max_ops,
                           int64_t *best)
{
    const int64_t c = (int64_t)item->valuedouble;
    int64_t step = 0;
    for (int64_t s = 1; s <= 1024 && c - s >= 1 && !step; s *= 2)
        if (check_with(resolved, shape, item, c - s, lim, max_ops) >= 0)
            step = s;
    if (!step)
        return 0;
    const int64_t jmax = (c - 1) / step;   /* value c - j * step stays >= 1 */
    int64_t lo = 0, hi = 0;
    for (int64_t j = 1;; j *= 2) {
        if (j > jmax)
            j = jmax;
        if (check_with(resolved, shape, item, c - j * step, lim, max_ops) == 0) {
            hi = j;
            break;
        }
        lo = j;
        if (j == jmax)
            return 0;
    }
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (check_with(resolved, shape, item, c - mid * step, lim, max_ops) == 0)
            hi = mid;
        else
            lo = mid;
    }
    *best = c - hi * step;
    return 1;
}

/* "; the largest M that fits is 32768 (the other fields as they are), or K up to 16383" */
static void what_fits(const cJSON *resolved, const cJSON *shape, const fw_fit_limits *lim, double max_ops, char *buf,
                      size_t len)
{
    cJSON *copy = cJSON_Duplicate(shape, 1);
    size_t used = 0;
    int n = 0;
    buf[0] = '\0';
    for (cJSON *it = copy ? copy->child : NULL; it && used < len; it = it->next) {
        if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) || it->valuedouble < 2 ||
            it->valuedouble > 9e15)
            continue;
        double own = it->valuedouble;
        int64_t best;
        int found = largest_fitting(resolved, copy, it, lim, max_ops, &best);
        cJSON_SetNumberValue(it, own);
        if (!found)
            continue;
        int w = n == 0 ? snprintf(buf + used, len - used, "; the largest %s that fits is %lld (the other fields as "
                                  "they are)", it->string, (long long)best)
                       : snprintf(buf + used, len - used, ", or %s up to %lld", it->string, (long long)best);
        if (w < 0)
            break;
        used += (size_t)w;
        n++;
    }
    if (n == 0)
        snprintf(buf, len, "; no field of the shape made smaller alone makes it fit");
    cJSON_Delete(copy);
}

int fw_job_fits(const cJSON *resolved, const fw_fit_limits *lim, char *err, size_t errlen)
{
    double max_ops;
    int rc = fw_job_reference_max_ops(resolved, &max_ops, err, errlen);
    if (rc < 0)
        return rc;
    fw_job_spec js;
    if ((rc = fw_job_spec_parse(resolved, &js, err, errlen)) < 0)
        return rc;
    const fw_family *fam = js.family ? fw_family_find(js.family) : NULL;
    int si = 0;
    const cJSON *shape;
    cJSON_ArrayForEach(shape, js.shapes) {
        char why[768], key[256] = "?", fits[512];
        if (fam && fam->shape_key && fam->shape_key(shape, key, sizeof key) < 0)
            snprintf(key, sizeof key, "?");
        rc = check_shape(resolved, shape, lim, max_ops, why, sizeof why);
        if (rc < 0)
            return fw_errf(err, errlen, rc, "shape %d (%s): %s", si, key, why);
        if (rc > 0) {
            what_fits(resolved, shape, lim, max_ops, fits, sizeof fits);
            return fw_errf(err, errlen, -E2BIG, "shape %d (%s): %s%s", si, key, why, fits);
        }
        si++;
    }
    return 0;
}
