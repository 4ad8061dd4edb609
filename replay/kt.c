/* kt.c - the Kernel Tuner cache reader (fw_replay.h). zlib's gzread reads gzip and plain files
 * alike, so one path serves .json and .json.gz. A value is matched to its knob's list by JSON
 * equality (numbers by value, strings by text), never by the key's spelling. */
#include "fw_replay.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static int fail(char *err, size_t errlen, int rc, const char *msg, const char *what)
{
    snprintf(err, errlen, "%s%s%s", msg, what ? " " : "", what ? what : "");
    return rc;
}

int fw_replay_load(const char *path, fw_replay_space *sp, char *err, size_t errlen)
{
    memset(sp, 0, sizeof *sp);
    gzFile f = gzopen(path, "rb");
    if (!f)
        return fail(err, errlen, errno ? -errno : -ENOENT, "cannot open", path);
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    int n = 0;
    while (buf && (n = gzread(f, buf + len, (unsigned)(cap - len - 1))) > 0) {
        len += (size_t)n;
        if (cap - len < 2) {
            char *nb = cap < (size_t)FW_REPLAY_MAX_BYTES ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    gzclose(f);
    if (!buf)
        return fail(err, errlen, -ENOMEM, "over 1 GiB of JSON, or out of memory, reading", path);
    if (n < 0) {
        free(buf);
        return fail(err, errlen, -EIO, "cannot decompress", path);
    }
    buf[len] = 0;
    int rc = fw_replay_parse(buf, len, sp, err, errlen);
    free(buf);
    return rc;
}

static char *print_value(const cJSON *v)
{
    if (cJSON_IsString(v))
        return strdup(v->valuestring);
    return cJSON_PrintUnformatted(v);
}

static int value_index(const cJSON *list, const cJSON *v)
{
    int i = 0;
    for (const cJSON *e = list->child; e; e = e->next, i++) {
        if (cJSON_IsNumber(e) && cJSON_IsNumber(v) && e->valuedouble == v->valuedouble)
            return i;
        if (cJSON_IsString(e) && cJSON_IsString(v) && strcmp(e->valuestring, v->valuestring) == 0)
            return i;
        if (cJSON_IsBool(e) && cJSON_IsBool(v) && cJSON_IsTrue(e) == cJSON_IsTrue(v))
            return i;
    }
    return -1;
}

static int read_knobs(const cJSON *root, fw_replay_space *sp, char *err, size_t errlen)
{
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(root, "tune_params_keys");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "tune_params");
    if (!cJSON_IsArray(keys) || !cJSON_IsObject(params) || cJSON_GetArraySize(keys) == 0)
        return fail(err, errlen, -EINVAL, "not a Kernel Tuner cache: tune_params_keys/tune_params missing", NULL);
    sp->nknobs = cJSON_GetArraySize(keys);
    sp->names = calloc((size_t)sp->nknobs, sizeof *sp->names);
    sp->nvals = calloc((size_t)sp->nknobs, sizeof *sp->nvals);
    sp->values = calloc((size_t)sp->nknobs, sizeof *sp->values);
    if (!sp->names || !sp->nvals || !sp->values)
        return fail(err, errlen, -ENOMEM, "out of memory", NULL);
    int k = 0;
    for (const cJSON *e = keys->child; e; e = e->next, k++) {
        if (!cJSON_IsString(e))
            return fail(err, errlen, -EINVAL, "tune_params_keys holds a non-string", NULL);
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(params, e->valuestring);
        if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0 || cJSON_GetArraySize(list) > 65535)
            return fail(err, errlen, -EINVAL, "tune_params has no value list for", e->valuestring);
        sp->names[k] = strdup(e->valuestring);
        sp->nvals[k] = cJSON_GetArraySize(list);
        sp->values[k] = calloc((size_t)sp->nvals[k], sizeof **sp->values);
        if (!sp->names[k] || !sp->values[k])
            return fail(err, errlen, -ENOMEM, "out of memory", NULL);
        int v = 0;
        for (const cJSON *x = list->child; x; x = x->next, v++)
            if (!(sp->values[k][v] = print_value(x)))
                return fail(err, errlen, -ENOMEM, "out of memory", NULL);
    }
    return 0;
}

static fw_replay_status status_of(const char *s)
{
    if (strcmp(s, "CompilationFailedConfig") == 0)
        return FW_REPLAY_COMPILE_ERROR;
    if (strcmp(s, "InvalidConfig") == 0)
        return FW_REPLAY_INVALID;
    return FW_REPLAY_CRASHED;
}

static int read_entry(const cJSON *root, const cJSON *ent, size_t i, fw_replay_space *sp, char *err,
                      size_t errlen)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "tune_params");
    for (int k = 0; k < sp->nknobs; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(ent, sp->names[k]);
        int vi = v ? value_index(cJSON_GetObjectItemCaseSensitive(params, sp->names[k]), v) : -1;
        if (vi < 0)
            return fail(err, errlen, -EINVAL, "cache entry with a value outside tune_params:", ent->string);
        sp->points[i * (size_t)sp->nknobs + k] = (uint16_t)vi;
    }
    fw_replay_point *p = &sp->rec[i];
    p->cost_ms = -1;
    static const char *const cost[] = {"compile_time", "verification_time", "benchmark_time"};
    for (size_t c = 0; c < sizeof cost / sizeof cost[0]; c++) {
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(ent, cost[c]);
        if (cJSON_IsNumber(ct) && ct->valuedouble >= 0 && isfinite(ct->valuedouble))
            p->cost_ms = (p->cost_ms < 0 ? 0 : p->cost_ms) + ct->valuedouble;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ent, "time");
    if (cJSON_IsString(t)) {
        p->status = status_of(t->valuestring);
        if (!(p->failure = strdup(t->valuestring)))
            return fail(err, errlen, -ENOMEM, "out of memory", NULL);
        return 0;
    }
    if (!cJSON_IsNumber(t) || !(t->valuedouble > 0) || !isfinite(t->valuedouble))
        return fail(err, errlen, -EINVAL, "cache entry without a positive time:", ent->string);
    p->status = FW_REPLAY_OK;
    p->time_ms = t->valuedouble;
    if (p->time_ms < sp->optimum_ms)
        sp->optimum_ms = p->time_ms;
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(ent, "times");
    if (cJSON_IsArray(ts) && cJSON_GetArraySize(ts) > 0) {
        p->samples = malloc((size_t)cJSON_GetArraySize(ts) * sizeof *p->samples);
        if (!p->samples)
            return fail(err, errlen, -ENOMEM, "out of memory", NULL);
        for (const cJSON *x = ts->child; x; x = x->next)
            if (cJSON_IsNumber(x))
                p->samples[p->nsamples++] = x->valuedouble;
    }
    return 0;
}

/* What the file says about itself: the device it was recorded on, the problem size, and the shape
 * `fairway export` wrote ("fairway": {"shape": {...}, ...}). */
static void read_about(const cJSON *root, fw_replay_space *sp)
{
    const cJSON *dn = cJSON_GetObjectItemCaseSensitive(root, "device_name");
    sp->device = strdup(cJSON_IsString(dn) ? dn->valuestring : "");
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(root, "problem_size");
    /* sizes a double holds exactly (|x| <= 2^53); a cast of anything larger is undefined */
    if (cJSON_IsNumber(ps) && fabs(ps->valuedouble) <= 0x1p53) {
        sp->problem[sp->nproblem++] = (int64_t)ps->valuedouble;
    } else if (cJSON_IsArray(ps)) {
        for (const cJSON *e = ps->child; e && sp->nproblem < 8; e = e->next)
            if (cJSON_IsNumber(e) && fabs(e->valuedouble) <= 0x1p53)
                sp->problem[sp->nproblem++] = (int64_t)e->valuedouble;
    }
    const cJSON *fw = cJSON_GetObjectItemCaseSensitive(root, "fairway");
    sp->fairway = cJSON_IsObject(fw);
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(fw, "shape");
    if (cJSON_IsObject(shape))
        sp->shape = cJSON_Duplicate(shape, 1);
}

int fw_replay_parse(const char *text, size_t len, fw_replay_space *sp, char *err, size_t errlen)
{
    memset(sp, 0, sizeof *sp);
    sp->optimum_ms = INFINITY;
    cJSON *root = cJSON_ParseWithLength(text, len);   /* the first value: a cache, or the first line */
    if (!root)
        return fail(err, errlen, -EINVAL, "not JSON", NULL);
    if (!cJSON_GetObjectItemCaseSensitive(root, "tune_params_keys") &&
        (cJSON_GetObjectItemCaseSensitive(root, "knobs") || cJSON_GetObjectItemCaseSensitive(root, "seq") ||
         cJSON_GetObjectItemCaseSensitive(root, "fairway"))) {
        cJSON_Delete(root);
        return fw_replay_parse_lines(text, len, sp, err, errlen);
    }
    sp->format = "kernel-tuner";
    int rc = read_knobs(root, sp, err, errlen);
    const cJSON *cache = cJSON_GetObjectItemCaseSensitive(root, "cache");
    if (rc == 0 && (!cJSON_IsObject(cache) || cJSON_GetArraySize(cache) == 0))
        rc = fail(err, errlen, -EINVAL, "the cache holds no configuration", NULL);
    const cJSON *kn = cJSON_GetObjectItemCaseSensitive(root, "kernel_name");
    sp->kernel = strdup(cJSON_IsString(kn) ? kn->valuestring : "");
    read_about(root, sp);
    if (rc == 0) {
        sp->npoints = (size_t)cJSON_GetArraySize(cache);
        sp->points = calloc(sp->npoints * (size_t)sp->nknobs, sizeof *sp->points);
        sp->rec = calloc(sp->npoints, sizeof *sp->rec);
        if (!sp->points || !sp->rec || !sp->kernel)
            rc = fail(err, errlen, -ENOMEM, "out of memory", NULL);
    }
    size_t i = 0;
    for (const cJSON *e = rc == 0 ? cache->child : NULL; e && rc == 0; e = e->next, i++)
        rc = read_entry(root, e, i, sp, err, errlen);
    cJSON_Delete(root);
    if (rc < 0)
        fw_replay_release(sp);
    return rc;
}

void fw_replay_release(fw_replay_space *sp)
{
    for (int k = 0; k < sp->nknobs; k++) {
        if (sp->names)
            free(sp->names[k]);
        for (int v = 0; sp->values && sp->values[k] && v < sp->nvals[k]; v++)
            free(sp->values[k][v]);
        if (sp->values)
            free(sp->values[k]);
    }
    for (size_t i = 0; sp->rec && i < sp->npoints; i++) {
        free(sp->rec[i].samples);
        free(sp->rec[i].failure);
    }
    free(sp->names);
    free(sp->nvals);
    free(sp->values);
    free(sp->points);
    free(sp->rec);
    free(sp->kernel);
    free(sp->device);
    cJSON_Delete(sp->shape);
    memset(sp, 0, sizeof *sp);
}

double fw_replay_noise_factor(double noise, fw_pcg32 *r)
{
    if (!(noise > 0) || !r)
        return 1.0;
    double u1 = ((double)fw_pcg32_next(r) + 1.0) / 4294967296.0;
    double u2 = (double)fw_pcg32_next(r) / 4294967296.0;
    double g = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
    double m = 1.0 + noise * g;
    return m > 0.01 ? m : 0.01;
}

double fw_replay_measure(const fw_replay_space *sp, size_t i, double noise, fw_pcg32 *r)
{
    return sp->rec[i].time_ms * fw_replay_noise_factor(noise, r);
}
