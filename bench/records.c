/* Harness records: status, statistics and samples, spec numbers, macros, geometry and resources
 * objects, stage times (fw_bench.h, harness_int.h). */
#include "harness_int.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "fw_util.h"

void fwh_set_status(cJSON *rec, const char *status, const char *error)
{
    cJSON_ReplaceItemInObject(rec, "status", cJSON_CreateString(status));
    cJSON_ReplaceItemInObject(rec, "error", error ? cJSON_CreateString(error) : cJSON_CreateNull());
}

/* A record's "stats" object from its samples (a measured variant and a finalist report the same
 * fields); *st gets the stats for the numbers the caller derives from them. */
void fwh_add_stats(cJSON *o, const uint64_t *samples, size_t n, fw_bench_stats *st)
{
    fw_bench_stats_compute(samples, n, st);
    cJSON *js = cJSON_AddObjectToObject(o, "stats");
    cJSON_AddNumberToObject(js, "n", (double)st->n);
    cJSON_AddNumberToObject(js, "median_ns", st->median);
    cJSON_AddNumberToObject(js, "mean_ns", st->mean);
    cJSON_AddNumberToObject(js, "min_ns", (double)st->min);
    cJSON_AddNumberToObject(js, "max_ns", (double)st->max);
    cJSON_AddNumberToObject(js, "stddev_ns", st->stddev);
    cJSON_AddNumberToObject(js, "p95_ns", st->p95);
}

/* A record's "samples_ns": every sample, in the order taken. */
void fwh_add_samples(cJSON *o, const uint64_t *samples, size_t n)
{
    cJSON *jsamp = cJSON_AddArrayToObject(o, "samples_ns");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(jsamp, cJSON_CreateNumber((double)samples[i]));
}

uint64_t fwh_spec_seed(const fw_job_spec *spec)
{
    return spec->has_seed ? spec->seed : 0;
}

/* Append "NAME=VALUE" for each entry of a {"NAME": int|string} object. */
int fwh_add_macro_object(const cJSON *obj, char ***macros, size_t *n, char *err, size_t errlen)
{
    if (!obj || cJSON_IsNull(obj))
        return 0;
    if (!cJSON_IsObject(obj))
        return fw_errf(err, errlen, -EINVAL, "\"macros\" must be an object of NAME: value");
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        char buf[512];
        if (cJSON_IsNumber(it) && it->valuedouble == floor(it->valuedouble))
            snprintf(buf, sizeof buf, "%s=%" PRId64, it->string, (int64_t)it->valuedouble);
        else if (cJSON_IsNumber(it))
            snprintf(buf, sizeof buf, "%s=%.17g", it->string, it->valuedouble);
        else if (cJSON_IsString(it))
            snprintf(buf, sizeof buf, "%s=%s", it->string, it->valuestring);
        else if (cJSON_IsBool(it))
            snprintf(buf, sizeof buf, "%s=%d", it->string, cJSON_IsTrue(it) ? 1 : 0);
        else
            return fw_errf(err, errlen, -EINVAL, "macro '%s' must be a number or a string", it->string);
        char **m = realloc(*macros, (*n + 1) * sizeof *m);
        if (!m)
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
        *macros = m;
        if (!(m[*n] = fw_strdup(buf)))
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
        (*n)++;
    }
    return 0;
}


cJSON *fwh_geometry_json(const fw_geometry *g)
{
    cJSON *o = cJSON_CreateObject();
    int grid[3] = { (int)g->grid[0], (int)g->grid[1], (int)g->grid[2] };
    int group[3] = { (int)g->group[0], (int)g->group[1], (int)g->group[2] };
    cJSON_AddItemToObject(o, "grid", cJSON_CreateIntArray(grid, 3));
    cJSON_AddItemToObject(o, "group", cJSON_CreateIntArray(group, 3));
    cJSON_AddNumberToObject(o, "shared_bytes", (double)g->shared_bytes);
    if (g->dynamic_shared_bytes)
        cJSON_AddNumberToObject(o, "dynamic_shared_bytes", g->dynamic_shared_bytes);
    if (g->nlocal > 0) {   /* a declarative workload's local-memory arguments, in order */
        int lb[FW_GEO_MAX_LOCAL];
        for (int i = 0; i < g->nlocal && i < FW_GEO_MAX_LOCAL; i++)
            lb[i] = (int)g->local_bytes[i];
        cJSON_AddItemToObject(o, "local_bytes", cJSON_CreateIntArray(lb, g->nlocal < FW_GEO_MAX_LOCAL ? g->nlocal
                                                                                                   : FW_GEO_MAX_LOCAL));
    }
    return o;
}

cJSON *fwh_resources_json(const fw_resources *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "registers", (double)r->registers);
    cJSON_AddNumberToObject(o, "static_shared_bytes", (double)r->static_shared_bytes);
    cJSON_AddNumberToObject(o, "max_threads", (double)r->max_threads);
    cJSON_AddNumberToObject(o, "local_bytes", (double)r->local_bytes);
    cJSON_AddNumberToObject(o, "simd_width", (double)r->simd_width);
    return o;
}


/* Per-stage host wall time of one measurement (issue 20): "stages_ms" in the record says where a
 * variant's time goes (program lookup, buffer preparation, checked launch, read-back, comparison,
 * timed launches, statistics). Adds the time since *t0 under `name` and restarts the clock. */
void fwh_stage_mark(cJSON *rec, const char *name, uint64_t *t0)
{
    uint64_t now = fw_now_ns();
    cJSON *st = cJSON_GetObjectItemCaseSensitive(rec, "stages_ms");
    if (!st)
        st = cJSON_AddObjectToObject(rec, "stages_ms");
    if (st)
        cJSON_AddNumberToObject(st, name, (double)(now - *t0) / 1e6);
    *t0 = now;
}
