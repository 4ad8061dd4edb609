/* Plans: a job's search context (space, device limits, presets), each shape's valid points, and the
 * fixed plan the sequencer (seq.c) yields. */
#include "job_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_family.h"
#include "fw_replay.h"
#include "fw_util.h"

typedef struct devcheck {
    const fw_env *denv;
    const char *missing;
} devcheck;

static void find_missing_device(const char *name, void *vctx)
{
    devcheck *c = vctx;
    if (!c->missing && strncmp(name, "DEVICE_", 7) == 0 && !fw_env_get(c->denv, name, NULL))
        c->missing = name;
}

static void shape_desc(const fw_family *fam, const cJSON *shape, char *buf, size_t len)
{
    if (fam && fam->shape_key && fam->shape_key(shape, buf, len) >= 0)
        return;
    char *t = cJSON_PrintUnformatted(shape);
    snprintf(buf, len, "%s", t ? t : "?");
    free(t);
}

/* A shape's planning stopped by the work bound or a cancel; what: how far it got. */
static int work_stopped(const fw_family *fam, const cJSON *shape, int si, int rc, const char *what, char *err,
                        size_t errlen)
{
    char sd[256];
    shape_desc(fam, shape, sd, sizeof sd);
    if (rc == -ECANCELED)
        return fw_errf(err, errlen, rc, "planning was cancelled at shape %d (%s)", si, sd);
    return fw_errf(err, errlen, rc,
                   "planning stopped at shape %d (%s): %s; every constraint is evaluated at every point of the "
                   "space, for each shape, so simplify the constraints, shorten the knobs' value lists or tune "
                   "fewer shapes in one job", si, sd, what);
}

/* Explain an empty shape: which constraint rejected the most raw points (the first failing one
 * is charged for each point). */
static int explain_empty(const fw_space *s, const fw_env *env, fw_work *work, const fw_family *fam,
                         const cJSON *shape, int si, char *err, size_t errlen)
{
    size_t *count = calloc(s->nconstraints ? s->nconstraints : 1, sizeof *count);
    size_t digits[FW_MAX_KNOBS] = {0};
    uint64_t raw = 0;
    for (;;) {
        fw_point p;
        fw_point_clear(&p);
        for (size_t k = 0; k < s->nknobs; k++)
            fw_point_set(&p, s->knobs[k].name, s->knobs[k].values[digits[k]]);
        char why[400];
        raw++;
        int rc = fw_space_valid_work(s, &p, env, work, why, sizeof why);
        if (rc == -ETIME || rc == -ECANCELED) {
            free(count);
            char what[300];
            snprintf(what, sizeof what, "the constraints took more than %" PRIu64 " expression-node evaluations "
                     "(the plan's work bound) after the %" PRIu64 " points of the space, which it rejects, and "
                     "%" PRIu64 " points more to say why", work->max_nodes, fw_space_size(s), raw - 1);
            return work_stopped(fam, shape, si, rc, what, err, errlen);
        }
        if (rc == 0 && count)
            for (size_t c = 0; c < s->nconstraints; c++)
                if (strcmp(why, s->constraint_text[c]) == 0) {
                    count[c]++;
                    break;
                }
        size_t k = s->nknobs;
        while (k-- > 0) {
            if (++digits[k] < s->knobs[k].nvalues)
                break;
            digits[k] = 0;
        }
        if (k == (size_t)-1)
            break;
    }
    size_t best = 0;
    for (size_t c = 1; count && c < s->nconstraints; c++)
        if (count[c] > count[best])
            best = c;
    char sd[256];
    shape_desc(fam, shape, sd, sizeof sd);
    int rc = fw_errf(err, errlen, -EINVAL,
                     "no valid variant for shape %d (%s): the constraints reject all %" PRIu64 " points "
                     "(constraint '%s' is the first to fail for %zu of them)",
                     si, sd, raw, s->nconstraints ? s->constraint_text[best] : "", count ? count[best] : 0);
    free(count);
    return rc;
}

int64_t job_find_index(const uint64_t *idx, size_t n, uint64_t want)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (idx[mid] < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && idx[lo] == want ? (int64_t)lo : -1;
}

/* The static name of a learning strategy, NULL for any other name. */
static const char *learning_name(const char *name)
{
    for (size_t i = 0; fw_strategy_names[i]; i++)
        if (strcmp(name, fw_strategy_names[i]) == 0 && strcmp(name, "random") != 0)
            return fw_strategy_names[i];
    return NULL;
}

static int ctx_presets(job_ctx *c, const cJSON *jpresets, char *err, size_t errlen)
{
    c->npre = jpresets ? (size_t)cJSON_GetArraySize(jpresets) : 0;
    c->pre = calloc(c->npre ? c->npre : 1, sizeof *c->pre);
    c->pre_idx = calloc(c->npre ? c->npre : 1, sizeof *c->pre_idx);
    if (!c->pre || !c->pre_idx)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    for (size_t i = 0; i < c->npre; i++) {
        char perr[300];
        int rc = fw_point_from_json(cJSON_GetArrayItem(jpresets, (int)i), &c->pre[i], perr, sizeof perr);
        if (rc == 0)
            rc = fw_space_check_point(&c->space, &c->pre[i], perr, sizeof perr);
        if (rc < 0)
            return fw_errf(err, errlen, rc, "%s in preset %zu", perr, i);
        c->pre_idx[i] = fw_space_index(&c->space, &c->pre[i]);
    }
    return 0;
}

void job_ctx_close(job_ctx *c)
{
    fw_space_release(&c->space);
    free(c->pre);
    free(c->pre_idx);
    c->pre = NULL;
    c->pre_idx = NULL;
}

int job_ctx_open(const cJSON *resolved, const cJSON *device, job_ctx *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->resolved = resolved;
    fw_job_spec js;
    int rc = cJSON_IsObject(resolved) ? fw_job_spec_parse(resolved, &js, err, errlen) : 0;
    if (rc < 0)
        return rc;
    if (!cJSON_IsObject(resolved) || !js.shapes || !js.strategy || !js.has_budget || !js.has_seed)
        return fw_errf(err, errlen, -EINVAL, "the spec is not resolved (run it through fw_spec_resolve first)");
    c->shapes = js.shapes;
    c->budget = js.budget;
    c->seed = (int64_t)js.seed;
    c->fam = js.family ? fw_family_find(js.family) : NULL;
    c->grid = strcmp(js.strategy, "grid") == 0;
    c->random = strcmp(js.strategy, "random") == 0;
    c->presets = strcmp(js.strategy, "presets") == 0;
    c->strategy = c->grid ? "grid" : c->random ? "random" : c->presets ? "presets" : learning_name(js.strategy);
    if (!c->strategy)
        return fw_errf(err, errlen, -EINVAL, "unknown strategy '%s' (known: grid, presets, random, anneal, genetic, "
                       "model, auto)", js.strategy);
    c->ask_ahead = js.has_ask_ahead ? (size_t)js.ask_ahead : FW_SEQ_ASK_AHEAD_DEFAULT;
    c->budget_ms = js.budget_s * 1000.0;

    char serr[400];
    rc = fw_space_from_json(js.space, &c->space, serr, sizeof serr);
    if (rc < 0)
        return fw_errf(err, errlen, rc, "space: %s", serr);
    fw_env_clear(&c->denv);
    if (device && (rc = fw_device_env(device, &c->denv)) < 0) {
        rc = fw_errf(err, errlen, rc, "the device's limits are malformed (each must be an integer)");
        goto fail;
    }
    for (size_t k = 0; k < c->space.nconstraints; k++) {
        devcheck dc = {.denv = &c->denv};
        fw_expr_names(c->space.constraints[k], find_missing_device, &dc);
        if (dc.missing) {
            rc = device ? fw_errf(err, errlen, -EINVAL, "constraint %zu '%s' uses %s, which the device does "
                                  "not report", k, c->space.constraint_text[k], dc.missing)
                        : fw_errf(err, errlen, -EINVAL, "constraint %zu '%s' uses the device limit %s, but no "
                                  "device is known: build the plan for a device", k, c->space.constraint_text[k],
                                  dc.missing);
            goto fail;
        }
    }
    if ((rc = ctx_presets(c, js.presets, err, errlen)) < 0)
        goto fail;
    return 0;
fail:
    job_ctx_close(c);
    return rc;
}

int job_ctx_shape(job_ctx *c, const cJSON *shape, int si, uint64_t **idx, size_t *n, char *err, size_t errlen)
{
    *idx = NULL;
    *n = 0;
    fw_env env = c->denv;
    if (!cJSON_IsObject(shape) || fw_env_add_json_ints(&env, shape) < 0)
        return fw_errf(err, errlen, -EINVAL, "shape %d is not an object of at most %d named integers", si,
                       FW_ENV_MAX - (int)c->denv.n);
    char xerr[500];
    /* a recorded space's valid points are its recorded configurations (replay/) */
    int rc = fw_replay_valid_indices(c->resolved, &c->space, idx, n, xerr, sizeof xerr);
    if (rc == 0)
        rc = fw_space_expand_work(&c->space, &env, FW_SPEC_MAX_SPACE, c->work, idx, n, xerr, sizeof xerr);
    else if (rc > 0)
        rc = 0;
    if (rc == -ETIME || rc == -ECANCELED)
        return work_stopped(c->fam, shape, si, rc, xerr, err, errlen);
    if (rc < 0)
        return fw_errf(err, errlen, rc, "shape %d: %s", si, xerr);
    if (*n == 0) {
        free(*idx);
        *idx = NULL;
        return explain_empty(&c->space, &env, c->work, c->fam, shape, si, err, errlen);
    }
    /* Budget 0 means "no limit", but a sequence is held in memory: past the per-shape maximum
     * the user must say how many they want rather than get a silent cut. */
    if (c->budget == 0 && !c->presets && *n > FW_SPEC_MAX_BUDGET) {
        char sd[256];
        shape_desc(c->fam, shape, sd, sizeof sd);
        size_t nn = *n;
        free(*idx);
        *idx = NULL;
        *n = 0;
        return fw_errf(err, errlen, -E2BIG,
                       "shape %d (%s) has %zu valid variants, and budget 0 (no limit) would plan every one; "
                       "the most one shape may plan is %d: set \"budget\"", si, sd, nn, FW_SPEC_MAX_BUDGET);
    }
    return 0;
}

/* A fixed plan is the sequence asked without results: the whole job for grid, presets and random,
 * the part a learning strategy can propose before its first result otherwise. */
int fw_plan_build(const cJSON *resolved, const cJSON *device, fw_plan *plan, char *err, size_t errlen)
{
    return fw_plan_build_work(resolved, device, NULL, plan, err, errlen);
}

int fw_plan_build_work(const cJSON *resolved, const cJSON *device, fw_work *work, fw_plan *plan, char *err,
                       size_t errlen)
{
    memset(plan, 0, sizeof *plan);
    fw_seq *q;
    int rc = fw_seq_new_work(resolved, device, work, &q, err, errlen);
    if (rc < 0)
        return rc;
    size_t cap = fw_seq_planned(q);
    plan->planned = cap;
    plan->items = malloc((cap ? cap : 1) * sizeof *plan->items);
    if (!plan->items) {
        fw_seq_free(q);
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    }
    const fw_seq_item *it;
    while ((rc = fw_seq_ask(q, &it)) == FW_SEQ_ITEM && plan->n < cap) {
        if (plan->n % FW_WORK_CHECK == 0 && fw_work_check(work) == -ECANCELED) {
            fw_seq_free(q);
            fw_plan_release(plan);
            return fw_errf(err, errlen, -ECANCELED, "planning was cancelled");
        }
        fw_plan_item *pi = &plan->items[plan->n++];
        pi->shape = it->shape;
        pi->point = it->point;
        pi->origin = it->origin;
    }
    fw_seq_free(q);
    if (rc < 0) {
        fw_plan_release(plan);
        return fw_errf(err, errlen, rc, "out of memory");
    }
    return 0;
}

void fw_plan_release(fw_plan *plan)
{
    free(plan->items);
    plan->items = NULL;
    plan->n = 0;
    plan->planned = 0;
}
