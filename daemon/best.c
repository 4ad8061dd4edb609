/* best.c - what the `best` method answers beyond the store's row: the nearest tuned shape when the
 * shape asked for was never tuned (issue 14; the distance is nearest.c's), the finalist winner of the
 * chosen job, the macros to build with, and which code was measured (issue 19 item 4). */
#include "daemon_best.h"

#include <errno.h>
#include <string.h>

#include "fw_transform.h"
#include "fw_variants.h"

#include "daemon_jobs.h"
#include "fw_daemon.h"

static const char fw_daemon_nearest_rule[] =
    "same shape fields, equal non-integer fields; distance = sum over the integer fields of |log2(asked / tuned)|";

int fw_daemon_best_nearest(fw_daemon *d, const char *identity, const char *family, const char *kernel,
                           const char *key, cJSON **best)
{
    *best = NULL;
    cJSON *keys = NULL;
    if (fw_db_shape_keys(d->db, identity, family, kernel, &keys) < 0) {
        cJSON_Delete(keys);
        return -ENOENT;
    }
    const char *near;
    double dist;
    int rc = fw_daemon_nearest_shape(key, keys, &near, &dist);
    if (rc == 0)
        rc = fw_db_best(d->db, identity, family, kernel, near, best);
    if (rc == 0) {
        cJSON_AddTrueToObject(*best, "nearest");
        cJSON_AddStringToObject(*best, "requested_shape_key", key);
        cJSON_AddNumberToObject(*best, "distance", dist);
        cJSON_AddStringToObject(*best, "distance_rule", fw_daemon_nearest_rule);
    }
    cJSON_Delete(keys);
    return rc;
}

static const char *str_of(const cJSON *o, const char *name)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(f) ? f->valuestring : NULL;
}

/* The macros to build with, as the job spelled them (aliases; bound knobs are no macros). */
static void add_macros(cJSON *best, const fw_job_spec *spec)
{
    const cJSON *knobs = cJSON_GetObjectItemCaseSensitive(best, "knobs");
    fw_point pt;
    char err[256];
    if (!cJSON_IsObject(knobs) || fw_point_from_json(knobs, &pt, err, sizeof(err)) < 0)
        return;
    fw_point mp;
    cJSON *src = fw_binds_describe(spec->binds, &pt, &mp);
    if (src)
        cJSON_AddItemToObject(best, "source_transforms", src);
    char **macros = NULL;
    size_t n = 0;
    if (fw_point_macros_values(&mp, spec->aliases, spec->knob_values, &macros, &n) == 0) {
        cJSON *arr = cJSON_AddArrayToObject(best, "macros");
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, cJSON_CreateString(macros[i]));
        fw_macros_free(macros, n);
    }
}

void fw_daemon_best_decorate(fw_daemon *d, cJSON *best)
{
    /* The store's best is by first-pass median over all jobs; within that job, the finalists'
     * interleaved re-timing (when stored) decides, so best names the job's finalist winner. */
    const cJSON *bj = cJSON_GetObjectItemCaseSensitive(best, "job");
    const char *key = str_of(best, "shape_key");
    int64_t job = cJSON_IsNumber(bj) ? (int64_t)bj->valuedouble : 0;
    cJSON *top = NULL;
    if (job > 0 && key && fw_daemon_rankings(d->db, job, key, 1, &top) == 0 && cJSON_GetArraySize(top) > 0) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetArrayItem(top, 0)) {
            if (cJSON_GetObjectItemCaseSensitive(best, e->string))
                cJSON_ReplaceItemInObjectCaseSensitive(best, e->string, cJSON_Duplicate(e, 1));
            else
                cJSON_AddItemToObject(best, e->string, cJSON_Duplicate(e, 1));
        }
    }
    cJSON_Delete(top);
    cJSON *row = NULL;
    if (job > 0)
        fw_db_job_get(d->db, job, &row);
    fw_job_spec spec;
    if (fw_job_spec_parse(cJSON_GetObjectItemCaseSensitive(row, "spec"), &spec, NULL, 0) < 0)
        memset(&spec, 0, sizeof spec);   /* no job row (or no spec): no macros, no source */
    add_macros(best, &spec);
    /* Which code this is: best spans jobs, and a user source edited under the same entry name is
     * other code; the job's source hash and file name say which ("" = the family's built-in kernel). */
    const char *sh = str_of(row, "source_hash");
    cJSON_AddStringToObject(best, "source_hash", sh ? sh : "");
    cJSON_AddStringToObject(best, "source_name", spec.source_name ? spec.source_name : "");
    cJSON_Delete(row);
}
