/* Spaces: strict parsing from JSON, validity under constraints, canonical odometer enumeration. */
#include "fw_variants.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

static int knob_cmp(const void *a, const void *b)
{
    return strcmp(((const fw_knob *)a)->name, ((const fw_knob *)b)->name);
}

int fw_space_from_json(const cJSON *json, fw_space *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(json))
        return fw_errf(err, errlen, -EINVAL,
                       "a space must be a JSON object {\"knobs\": {...}, \"constraints\": [...]}");
    const cJSON *it;
    cJSON_ArrayForEach(it, json) {
        if (strcmp(it->string, "knobs") != 0 && strcmp(it->string, "constraints") != 0)
            return fw_errf(err, errlen, -EINVAL,
                           "unknown field '%s' in the space (known: knobs, constraints)", it->string);
    }
    const cJSON *knobs = cJSON_GetObjectItemCaseSensitive(json, "knobs");
    if (!cJSON_IsObject(knobs))
        return fw_errf(err, errlen, -EINVAL,
                       "the space needs \"knobs\": an object of knob name -> list of integer values");
    if (!knobs->child)
        return fw_errf(err, errlen, -EINVAL, "the space is empty: \"knobs\" names no knob");
    int rc = 0;
    cJSON_ArrayForEach(it, knobs) {
        if (!fw_variants_name_ok(it->string)) {
            rc = fw_errf(err, errlen, -EINVAL,
                         "'%s' is not a valid knob name (a C identifier of at most %d characters)",
                         it->string, FW_NAME_MAX - 1);
            goto fail;
        }
        for (size_t k = 0; k < out->nknobs; k++)
            if (strcmp(out->knobs[k].name, it->string) == 0) {
                rc = fw_errf(err, errlen, -EINVAL, "knob '%s' is listed twice", it->string);
                goto fail;
            }
        if (out->nknobs >= FW_MAX_KNOBS) {
            rc = fw_errf(err, errlen, -E2BIG, "the space has more than %d knobs", FW_MAX_KNOBS);
            goto fail;
        }
        if (!cJSON_IsArray(it)) {
            rc = fw_errf(err, errlen, -EINVAL, "knob '%s' must be a list of integer values", it->string);
            goto fail;
        }
        int nv = cJSON_GetArraySize(it);
        if (nv == 0) {
            rc = fw_errf(err, errlen, -EINVAL, "knob '%s' has an empty list of values", it->string);
            goto fail;
        }
        if (nv > FW_MAX_VALUES) {
            rc = fw_errf(err, errlen, -E2BIG, "knob '%s' has %d values; the limit is %d", it->string, nv,
                         FW_MAX_VALUES);
            goto fail;
        }
        fw_knob *kn = &out->knobs[out->nknobs];
        snprintf(kn->name, FW_NAME_MAX, "%s", it->string);
        kn->nvalues = 0;
        const cJSON *v;
        int vi = 0;
        cJSON_ArrayForEach(v, it) {
            int64_t x;
            if (!fw_variants_json_int(v, &x)) {
                if (cJSON_IsNull(v)) {
                    rc = fw_errf(err, errlen, -EINVAL, "knob '%s': value %d is null, not an integer",
                                 it->string, vi);
                    goto fail;
                }
                char *t = cJSON_PrintUnformatted(v);
                rc = fw_errf(err, errlen, -EINVAL, "knob '%s': value %d (%s) is not an integer", it->string,
                             vi, t ? t : "?");
                free(t);
                goto fail;
            }
            for (size_t j = 0; j < kn->nvalues; j++)
                if (kn->values[j] == x) {
                    rc = fw_errf(err, errlen, -EINVAL, "knob '%s': value %" PRId64 " is listed twice",
                                 it->string, x);
                    goto fail;
                }
            kn->values[kn->nvalues++] = x;
            vi++;
        }
        out->nknobs++;
    }
    qsort(out->knobs, out->nknobs, sizeof out->knobs[0], knob_cmp);

    const cJSON *cons = cJSON_GetObjectItemCaseSensitive(json, "constraints");
    if (cons && !cJSON_IsNull(cons)) {
        if (!cJSON_IsArray(cons)) {
            rc = fw_errf(err, errlen, -EINVAL, "\"constraints\" must be a list of expression strings");
            goto fail;
        }
        size_t nc = (size_t)cJSON_GetArraySize(cons);
        if (nc) {
            out->constraint_text = calloc(nc, sizeof *out->constraint_text);
            out->constraints = calloc(nc, sizeof *out->constraints);
            if (!out->constraint_text || !out->constraints) {
                rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
                goto fail;
            }
        }
        const cJSON *c;
        cJSON_ArrayForEach(c, cons) {
            size_t i = out->nconstraints;
            if (!cJSON_IsString(c)) {
                rc = fw_errf(err, errlen, -EINVAL, "constraint %zu must be a string expression", i);
                goto fail;
            }
            char perr[256];
            fw_expr *e;
            rc = fw_expr_parse(c->valuestring, &e, perr, sizeof perr);
            if (rc < 0) {
                fw_errf(err, errlen, rc, "constraint %zu '%s': %s", i, c->valuestring, perr);
                goto fail;
            }
            out->constraints[i] = e;
            out->constraint_text[i] = fw_strdup(c->valuestring);
            out->nconstraints++;
            if (!out->constraint_text[i]) {
                rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
                goto fail;
            }
        }
    }
    return 0;
fail:
    fw_space_release(out);
    return rc;
}

cJSON *fw_space_to_json(const fw_space *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *knobs = cJSON_AddObjectToObject(o, "knobs");
    cJSON *cons = cJSON_AddArrayToObject(o, "constraints");
    if (!o || !knobs || !cons) {
        cJSON_Delete(o);
        return NULL;
    }
    for (size_t k = 0; k < s->nknobs; k++) {
        cJSON *arr = cJSON_AddArrayToObject(knobs, s->knobs[k].name);
        if (!arr) {
            cJSON_Delete(o);
            return NULL;
        }
        for (size_t j = 0; j < s->knobs[k].nvalues; j++)
            cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)s->knobs[k].values[j]));
    }
    for (size_t i = 0; i < s->nconstraints; i++)
        cJSON_AddItemToArray(cons, cJSON_CreateString(s->constraint_text[i]));
    return o;
}

void fw_space_release(fw_space *s)
{
    for (size_t i = 0; i < s->nconstraints; i++) {
        fw_expr_free(s->constraints[i]);
        free(s->constraint_text[i]);
    }
    free(s->constraints);
    free(s->constraint_text);
    s->constraints = NULL;
    s->constraint_text = NULL;
    s->nconstraints = 0;
    s->nknobs = 0;
}

uint64_t fw_space_size(const fw_space *s)
{
    uint64_t n = 1;
    for (size_t k = 0; k < s->nknobs; k++) {
        uint64_t v = s->knobs[k].nvalues;
        if (v && n > UINT64_MAX / v)
            return UINT64_MAX;
        n *= v;
    }
    return n;
}

static int value_index(const fw_knob *k, int64_t v)
{
    for (size_t j = 0; j < k->nvalues; j++)
        if (k->values[j] == v)
            return (int)j;
    return -1;
}

int fw_space_check_point(const fw_space *s, const fw_point *p, char *err, size_t errlen)
{
    for (size_t i = 0; i < p->n; i++) {
        const fw_knob *k = NULL;
        for (size_t j = 0; j < s->nknobs && !k; j++)
            if (strcmp(s->knobs[j].name, p->kv[i].name) == 0)
                k = &s->knobs[j];
        if (!k)
            return fw_errf(err, errlen, -EINVAL, "unknown knob '%s'", p->kv[i].name);
        if (value_index(k, p->kv[i].value) < 0)
            return fw_errf(err, errlen, -EINVAL, "%s=%" PRId64 " is not in the space's list", k->name,
                           p->kv[i].value);
    }
    for (size_t j = 0; j < s->nknobs; j++)
        if (!fw_point_get(p, s->knobs[j].name, NULL))
            return fw_errf(err, errlen, -EINVAL, "knob '%s' has no value", s->knobs[j].name);
    return 0;
}

int fw_work_check(const fw_work *w)
{
    if (!w)
        return 0;
    if (w->cancel && atomic_load_explicit(w->cancel, memory_order_relaxed))
        return -ECANCELED;
    return w->max_nodes && w->nodes > w->max_nodes ? -ETIME : 0;
}

int fw_space_valid_work(const fw_space *s, const fw_point *p, const fw_env *ctx, fw_work *work, char *whynot,
                        size_t whylen)
{
    int rc = fw_work_check(work);
    if (rc < 0)
        return fw_errf(whynot, whylen, rc, "%s", rc == -ETIME ? "the plan's work bound is spent" : "cancelled");
    fw_env env;
    if (ctx)
        env = *ctx;
    else
        fw_env_clear(&env);
    if (fw_env_add_point(&env, p) < 0)
        return fw_errf(whynot, whylen, -ENOSPC,
                       "too many names for one constraint environment (the limit is %d)", FW_ENV_MAX);
    for (size_t i = 0; i < s->nconstraints; i++) {
        int64_t v;
        char eerr[200];
        rc = fw_expr_eval_count(s->constraints[i], &env, &v, work ? &work->nodes : NULL, eerr, sizeof eerr);
        if (rc < 0)
            return fw_errf(whynot, whylen, rc, "constraint %zu '%s': %s", i, s->constraint_text[i], eerr);
        if (!v)
            return fw_errf(whynot, whylen, 0, "%s", s->constraint_text[i]);
    }
    return 1;
}

int fw_space_valid(const fw_space *s, const fw_point *p, const fw_env *ctx, char *whynot, size_t whylen)
{
    return fw_space_valid_work(s, p, ctx, NULL, whynot, whylen);
}

static int odometer_step(const fw_space *s, size_t *digits)
{
    for (size_t k = s->nknobs; k-- > 0;) {
        if (++digits[k] < s->knobs[k].nvalues)
            return 1;
        digits[k] = 0;
    }
    return 0;
}

int fw_space_point_at(const fw_space *s, uint64_t idx, fw_point *p)
{
    if (idx >= fw_space_size(s))
        return -ERANGE;
    p->n = s->nknobs;
    for (size_t k = s->nknobs; k-- > 0;) {
        uint64_t nv = s->knobs[k].nvalues;
        memcpy(p->kv[k].name, s->knobs[k].name, FW_NAME_MAX);
        p->kv[k].value = s->knobs[k].values[idx % nv];
        idx /= nv;
    }
    return 0;
}

static int work_stopped(const fw_work *work, int rc, uint64_t i, uint64_t size, char *err, size_t errlen)
{
    if (rc == -ECANCELED)
        return fw_errf(err, errlen, rc, "cancelled after %" PRIu64 " of the %" PRIu64 " points", i, size);
    return fw_errf(err, errlen, rc, "the constraints took more than %" PRIu64 " expression-node evaluations (the "
                   "plan's work bound) after %" PRIu64 " of the space's %" PRIu64 " points", work->max_nodes, i,
                   size);
}

/* The hot loop of every plan: one environment built once, knob slots updated in place, so a
 * million-point space costs a million constraint evaluations and no copies. */
int fw_space_expand_work(const fw_space *s, const fw_env *ctx, size_t limit, fw_work *work, uint64_t **idx,
                         size_t *npts, char *err, size_t errlen)
{
    *idx = NULL;
    *npts = 0;
    uint64_t size = fw_space_size(s);
    if (limit && size > limit)
        return fw_errf(err, errlen, -E2BIG,
                       "the space has %" PRIu64 " points before constraints, over the limit of %zu: "
                       "shorten the knobs' value lists", size, limit);
    if (s->nknobs == 0)
        return fw_errf(err, errlen, -EINVAL, "the space has no knobs");
    fw_env env;
    if (ctx)
        env = *ctx;
    else
        fw_env_clear(&env);
    size_t slot[FW_MAX_KNOBS];
    for (size_t k = 0; k < s->nknobs; k++) {
        if (fw_env_set(&env, s->knobs[k].name, s->knobs[k].values[0]) < 0)
            return fw_errf(err, errlen, -ENOSPC,
                           "too many names for one constraint environment (the limit is %d)", FW_ENV_MAX);
        for (slot[k] = 0; strcmp(env.kv[slot[k]].name, s->knobs[k].name) != 0; slot[k]++)
            ;
    }
    size_t digits[FW_MAX_KNOBS] = {0};
    size_t cap = 0, n = 0;
    uint64_t *out = NULL;
    uint64_t i = 0;
    uint64_t *nodes = work ? &work->nodes : NULL;
    do {
        /* the bound at every point (and after the last), the cancel flag every FW_WORK_CHECK */
        int wrc = i % FW_WORK_CHECK == 0 || (work && work->max_nodes && work->nodes > work->max_nodes)
                      ? fw_work_check(work) : 0;
        if (wrc < 0) {
            free(out);
            return work_stopped(work, wrc, i, size, err, errlen);
        }
        for (size_t k = 0; k < s->nknobs; k++)
            env.kv[slot[k]].value = s->knobs[k].values[digits[k]];
        int valid = 1;
        for (size_t c = 0; c < s->nconstraints && valid; c++) {
            int64_t v;
            char eerr[200];
            int rc = fw_expr_eval_count(s->constraints[c], &env, &v, nodes, eerr, sizeof eerr);
            if (rc < 0) {
                fw_point p;
                char key[FW_KEY_MAX];
                fw_space_point_at(s, i, &p);
                fw_point_key(&p, key, sizeof key);
                free(out);
                return fw_errf(err, errlen, rc, "constraint %zu '%s': %s (at %s)", c, s->constraint_text[c],
                               eerr, key);
            }
            valid = v != 0;
        }
        if (valid) {
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 256;
                uint64_t *no = realloc(out, nc * sizeof *no);
                if (!no) {
                    free(out);
                    return fw_errf(err, errlen, -ENOMEM, "out of memory listing the space's points");
                }
                out = no;
                cap = nc;
            }
            out[n++] = i;
        }
        i++;
    } while (odometer_step(s, digits));
    if (work && work->max_nodes && work->nodes > work->max_nodes) {
        free(out);
        return work_stopped(work, -ETIME, i, size, err, errlen);
    }
    *idx = out;
    *npts = n;
    return 0;
}

int fw_space_expand_indices(const fw_space *s, const fw_env *ctx, size_t limit, uint64_t **idx, size_t *npts,
                            char *err, size_t errlen)
{
    return fw_space_expand_work(s, ctx, limit, NULL, idx, npts, err, errlen);
}

int fw_space_expand(const fw_space *s, const fw_env *ctx, size_t limit, fw_point **pts, size_t *npts,
                    char *err, size_t errlen)
{
    *pts = NULL;
    *npts = 0;
    uint64_t *idx;
    size_t n;
    int rc = fw_space_expand_indices(s, ctx, limit, &idx, &n, err, errlen);
    if (rc < 0)
        return rc;
    fw_point *out = malloc((n ? n : 1) * sizeof *out);
    if (!out) {
        free(idx);
        return fw_errf(err, errlen, -ENOMEM, "out of memory listing the space's points");
    }
    for (size_t i = 0; i < n; i++)
        fw_space_point_at(s, idx[i], &out[i]);
    free(idx);
    *pts = out;
    *npts = n;
    return 0;
}

int64_t fw_space_index(const fw_space *s, const fw_point *p)
{
    if (p->n != s->nknobs)
        return -1;
    uint64_t idx = 0;
    for (size_t k = 0; k < s->nknobs; k++) {
        int64_t v;
        if (!fw_point_get(p, s->knobs[k].name, &v))
            return -1;
        int j = value_index(&s->knobs[k], v);
        if (j < 0)
            return -1;
        if (idx > (uint64_t)INT64_MAX / s->knobs[k].nvalues)
            return -1;
        idx = idx * s->knobs[k].nvalues + (uint64_t)j;
    }
    return (int64_t)idx;
}
