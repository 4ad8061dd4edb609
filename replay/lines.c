/* lines.c - fairway's own records read back as a recorded space (fw_replay.h): the worker's
 * measurement records, one JSON object a line (`fairway-worker --spec` output, or `fairway export
 * --format fairway`). Lines without "knobs" and "status" (the summary, the finalists) are skipped; a
 * {"fairway": {...}} line names the shape, kernel and device. Each knob's values are those the
 * records hold, ascending; a record's time is the mean of its samples (else its median), a failure
 * keeps its status as the failure string. One shape per file: a second one is refused. */
#include "fw_replay.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, int rc, const char *msg, const char *what)
{
    snprintf(err, errlen, "%s%s%s", msg, what ? " " : "", what ? what : "");
    return rc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Every record line (an array of objects), and the header's fields into sp. */
static int read_lines(const char *text, size_t len, cJSON *recs, fw_replay_space *sp, char *err, size_t errlen)
{
    const char *p = text, *end = text + len, *shape_key = NULL;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        cJSON *o = n ? cJSON_ParseWithLength(p, n) : NULL;
        p += n + 1;
        const cJSON *fw = cJSON_GetObjectItemCaseSensitive(o, "fairway");
        if (cJSON_IsObject(fw) && !sp->fairway) {
            sp->fairway = 1;
            const cJSON *sh = cJSON_GetObjectItemCaseSensitive(fw, "shape");
            const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fw, "kernel"));
            const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fw, "device_name"));
            if (cJSON_IsObject(sh))
                sp->shape = cJSON_Duplicate(sh, 1);
            free(sp->kernel);
            free(sp->device);
            sp->kernel = strdup(k ? k : "");
            sp->device = strdup(d ? d : "");
        }
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "knobs")) ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "status"))) {
            cJSON_Delete(o);
            continue;
        }
        const char *sk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "shape_key"));
        if (!shape_key)
            shape_key = sk ? sk : "";
        if (strcmp(shape_key, sk ? sk : "") != 0) {
            char what[300];
            snprintf(what, sizeof what, "(%.120s and %.120s): export one with --shape KEY", shape_key, sk ? sk : "");
            cJSON_Delete(o);
            return fail(err, errlen, -EINVAL, "the records hold more than one shape", what);
        }
        cJSON_AddItemToArray(recs, o);
        if (cJSON_GetArraySize(recs) == 1) {
            const cJSON *sh = cJSON_GetObjectItemCaseSensitive(o, "shape");
            const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "kernel"));
            if (!sp->shape && cJSON_IsObject(sh))
                sp->shape = cJSON_Duplicate(sh, 1);
            if (!sp->kernel && k)
                sp->kernel = strdup(k);
        }
    }
    if (cJSON_GetArraySize(recs) == 0)
        return fail(err, errlen, -EINVAL, "no measurement record (a line with \"knobs\" and \"status\")", NULL);
    return 0;
}

/* The knobs: the first record's names (sorted, as fairway writes them), every value seen, ascending. */
static int read_knobs(const cJSON *recs, fw_replay_space *sp, char *err, size_t errlen)
{
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(recs->child, "knobs"), *k, *r;
    sp->nknobs = cJSON_GetArraySize(first);
    if (sp->nknobs == 0 || sp->nknobs > 64)
        return fail(err, errlen, -EINVAL, "the first record has no knobs, or over 64", NULL);
    size_t nrec = (size_t)cJSON_GetArraySize(recs);
    sp->names = calloc((size_t)sp->nknobs, sizeof *sp->names);
    sp->nvals = calloc((size_t)sp->nknobs, sizeof *sp->nvals);
    sp->values = calloc((size_t)sp->nknobs, sizeof *sp->values);
    int64_t *v = malloc(nrec * sizeof *v);
    int rc = sp->names && sp->nvals && sp->values && v ? 0 : fail(err, errlen, -ENOMEM, "out of memory", NULL);
    int ki = 0;
    for (k = first->child; k && rc == 0; k = k->next, ki++) {
        size_t n = 0;
        cJSON_ArrayForEach(r, recs) {
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "knobs"), k->string);
            /* an integer a double holds exactly (|x| <= 2^53): a cast of anything larger is undefined */
            if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) || !(fabs(x->valuedouble) <= 0x1p53) ||
                cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "knobs")) != sp->nknobs) {
                rc = fail(err, errlen, -EINVAL, "a record's knobs differ from the first record's, at", k->string);
                break;
            }
            v[n++] = (int64_t)x->valuedouble;
        }
        qsort(v, n, sizeof *v, cmp_i64);
        size_t u = 0;
        for (size_t i = 0; i < n; i++)
            if (u == 0 || v[u - 1] != v[i])
                v[u++] = v[i];
        if (rc == 0 && u > 65535)
            rc = fail(err, errlen, -E2BIG, "over 65535 values of knob", k->string);
        sp->names[ki] = strdup(k->string);
        sp->nvals[ki] = (int)u;
        sp->values[ki] = calloc(u ? u : 1, sizeof **sp->values);
        for (size_t i = 0; rc == 0 && sp->values[ki] && i < u; i++) {
            char t[32];
            snprintf(t, sizeof t, "%lld", (long long)v[i]);
            sp->values[ki][i] = strdup(t);
        }
        if (rc == 0 && (!sp->names[ki] || !sp->values[ki]))
            rc = fail(err, errlen, -ENOMEM, "out of memory", NULL);
    }
    free(v);
    return rc;
}

static int value_index(const fw_replay_space *sp, int k, int64_t x)
{
    for (int i = 0; i < sp->nvals[k]; i++)
        if (strtoll(sp->values[k][i], NULL, 10) == x)
            return i;
    return -1;
}

static int read_record(const cJSON *r, size_t i, fw_replay_space *sp, char *err, size_t errlen)
{
    const cJSON *kn = cJSON_GetObjectItemCaseSensitive(r, "knobs");
    for (int k = 0; k < sp->nknobs; k++) {
        int vi = value_index(sp, k, (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(kn, sp->names[k])));
        if (vi < 0)
            return fail(err, errlen, -EINVAL, "a record's knob value is missing from its list:", sp->names[k]);
        sp->points[i * (size_t)sp->nknobs + (size_t)k] = (uint16_t)vi;
    }
    fw_replay_point *p = &sp->rec[i];
    const cJSON *em = cJSON_GetObjectItemCaseSensitive(r, "eval_ms");
    p->cost_ms = cJSON_IsNumber(em) && em->valuedouble >= 0 && isfinite(em->valuedouble) ? em->valuedouble : -1;
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "status"));
    if (strcmp(st, "ok") != 0 && strcmp(st, "pruned") != 0) {
        p->status = !strcmp(st, "compile_error") ? FW_REPLAY_COMPILE_ERROR
                  : !strcmp(st, "invalid") ? FW_REPLAY_INVALID : FW_REPLAY_CRASHED;
        p->failure = strdup(st);
        return p->failure ? 0 : fail(err, errlen, -ENOMEM, "out of memory", NULL);
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(r, "samples_ns"), *x;
    int ns = cJSON_GetArraySize(s);
    double sum = 0;
    p->samples = ns > 0 ? malloc((size_t)ns * sizeof *p->samples) : NULL;
    cJSON_ArrayForEach(x, s) {
        if (p->samples && cJSON_IsNumber(x) && x->valuedouble > 0 && isfinite(x->valuedouble)) {
            p->samples[p->nsamples++] = x->valuedouble / 1e6;
            sum += x->valuedouble / 1e6;
        }
    }
    double med = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "stats"),
                                                                      "median_ns"));
    p->time_ms = p->nsamples ? sum / (double)p->nsamples : med / 1e6;
    if (!(p->time_ms > 0) || !isfinite(p->time_ms))
        return fail(err, errlen, -EINVAL, "a verified record has neither samples nor a positive median", NULL);
    p->status = FW_REPLAY_OK;
    if (p->time_ms < sp->optimum_ms)
        sp->optimum_ms = p->time_ms;
    return 0;
}

int fw_replay_parse_lines(const char *text, size_t len, fw_replay_space *sp, char *err, size_t errlen)
{
    memset(sp, 0, sizeof *sp);
    sp->optimum_ms = INFINITY;
    cJSON *recs = cJSON_CreateArray();
    int rc = recs ? read_lines(text, len, recs, sp, err, errlen) : -ENOMEM;
    if (rc == 0)
        rc = read_knobs(recs, sp, err, errlen);
    if (rc == 0) {
        sp->npoints = (size_t)cJSON_GetArraySize(recs);
        sp->points = calloc(sp->npoints * (size_t)sp->nknobs, sizeof *sp->points);
        sp->rec = calloc(sp->npoints, sizeof *sp->rec);
        if (!sp->kernel)
            sp->kernel = strdup("");
        if (!sp->device)
            sp->device = strdup("");
        if (!sp->points || !sp->rec || !sp->kernel || !sp->device)
            rc = fail(err, errlen, -ENOMEM, "out of memory", NULL);
    }
    size_t i = 0;
    for (const cJSON *r = rc == 0 ? recs->child : NULL; r && rc == 0; r = r->next, i++)
        rc = read_record(r, i, sp, err, errlen);
    sp->format = "fairway";
    cJSON_Delete(recs);
    if (rc < 0)
        fw_replay_release(sp);
    return rc;
}
