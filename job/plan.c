/* Plans: the ordered (shape, variant, origin) list a resolved spec yields for one device. */
#include "fw_job.h"

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

static int push(fw_plan *plan, size_t *cap, int shape, const fw_point *p, const char *origin)
{
    if (plan->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        fw_plan_item *ni = realloc(plan->items, nc * sizeof *ni);
        if (!ni)
            return -ENOMEM;
        plan->items = ni;
        *cap = nc;
    }
    fw_plan_item *it = &plan->items[plan->n++];
    it->shape = shape;
    it->point = *p;
    it->origin = origin;
    return 0;
}

static void shape_desc(const fw_family *fam, const cJSON *shape, char *buf, size_t len)
{
    if (fam && fam->shape_key && fam->shape_key(shape, buf, len) >= 0)
        return;
    char *t = cJSON_PrintUnformatted(shape);
    snprintf(buf, len, "%s", t ? t : "?");
    free(t);
}

/* Explain an empty shape: which constraint rejected the most raw points (the first failing one
 * is charged for each point). */
static int explain_empty(const fw_space *s, const fw_env *env, const fw_family *fam, const cJSON *shape,
                         int si, char *err, size_t errlen)
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
        if (fw_space_valid(s, &p, env, why, sizeof why) == 0 && count)
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

static int64_t find_index(const uint64_t *idx, size_t n, uint64_t want)
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

typedef struct plan_shape_ctx {
    fw_plan *plan;
    size_t *cap;
    const fw_space *space;
    const uint64_t *idx;          /* the shape's valid points (odometer indices, ascending) */
    size_t n;
    const fw_point *pre;
    const int64_t *pre_idx;
    size_t npre;
    int64_t budget, seed;
    int si, grid, random;
} plan_shape_ctx;

/* Append one shape's evaluations: grid, or the presets valid for it then (random) a seeded sample. */
static int plan_shape(const plan_shape_ctx *c, char *err, size_t errlen)
{
    fw_plan *plan = c->plan;
    size_t *cap = c->cap, n = c->n, npre = c->npre;
    const uint64_t *idx = c->idx;
    const int64_t *pre_idx = c->pre_idx;
    int64_t budget = c->budget;
    int si = c->si, rc = 0;
    unsigned char *taken = calloc(n, 1);
    size_t *pick = malloc(n * sizeof *pick), *rem = malloc(n * sizeof *rem);
    fw_point pt;
    if (!taken || !pick || !rem) {
        rc = fw_errf(err, errlen, -ENOMEM, "out of memory planning shape %d", si);
    } else {
        size_t left = budget ? (size_t)budget : SIZE_MAX;
        if (c->grid) {
            for (size_t i = 0; i < n && left && rc == 0; i++, left--) {
                fw_space_point_at(c->space, idx[i], &pt);
                rc = push(plan, cap, si, &pt, "grid");
            }
        } else {
            for (size_t i = 0; i < npre && left && rc == 0; i++) {
                int64_t at = pre_idx[i] < 0 ? -1 : find_index(idx, n, (uint64_t)pre_idx[i]);
                if (at < 0 || taken[at])   /* invalid for this shape, or listed twice */
                    continue;
                taken[at] = 1;
                left--;
                rc = push(plan, cap, si, &c->pre[i], "preset");
            }
            if (c->random && left && rc == 0) {
                size_t nrem = 0;
                for (size_t i = 0; i < n; i++)
                    if (!taken[i])
                        rem[nrem++] = i;
                size_t k = fw_search_random((uint64_t)c->seed, (uint64_t)si, nrem, left, pick);
                if (k == 0 && nrem > 0)
                    rc = -ENOMEM;
                for (size_t i = 0; i < k && rc == 0; i++) {
                    fw_space_point_at(c->space, idx[rem[pick[i]]], &pt);
                    rc = push(plan, cap, si, &pt, "random");
                }
            }
        }
        if (rc < 0)
            fw_errf(err, errlen, rc, "out of memory planning shape %d", si);
    }
    free(taken);
    free(pick);
    free(rem);
    return rc;
}

int fw_plan_build(const cJSON *resolved, const cJSON *device, fw_plan *plan, char *err, size_t errlen)
{
    memset(plan, 0, sizeof *plan);
    if (err && errlen)
        err[0] = '\0';
    const cJSON *shapes = cJSON_GetObjectItemCaseSensitive(resolved, "shapes");
    const cJSON *strat = cJSON_GetObjectItemCaseSensitive(resolved, "strategy");
    const cJSON *jpresets = cJSON_GetObjectItemCaseSensitive(resolved, "presets");
    const cJSON *family = cJSON_GetObjectItemCaseSensitive(resolved, "family");
    int64_t budget, seed;
    if (!cJSON_IsArray(shapes) || !cJSON_IsString(strat) ||
        !fw_variants_json_int(cJSON_GetObjectItemCaseSensitive(resolved, "budget"), &budget) ||
        !fw_variants_json_int(cJSON_GetObjectItemCaseSensitive(resolved, "seed"), &seed) || budget < 0)
        return fw_errf(err, errlen, -EINVAL, "the spec is not resolved (run it through fw_spec_resolve first)");
    const fw_family *fam = cJSON_IsString(family) ? fw_family_find(family->valuestring) : NULL;
    int grid = strcmp(strat->valuestring, "grid") == 0;
    int random = strcmp(strat->valuestring, "random") == 0;
    if (!grid && !random && strcmp(strat->valuestring, "presets") != 0)
        return fw_errf(err, errlen, -EINVAL, "unknown strategy '%s' (known: grid, presets, random)",
                       strat->valuestring);

    fw_space space;
    char serr[400];
    int rc = fw_space_from_json(cJSON_GetObjectItemCaseSensitive(resolved, "space"), &space, serr, sizeof serr);
    if (rc < 0)
        return fw_errf(err, errlen, rc, "space: %s", serr);

    fw_env denv;
    fw_env_clear(&denv);
    if (device && (rc = fw_device_env(device, &denv)) < 0) {
        rc = fw_errf(err, errlen, rc, "the device's limits are malformed (each must be an integer)");
        goto out;
    }
    for (size_t c = 0; c < space.nconstraints; c++) {
        devcheck dc = {.denv = &denv};
        fw_expr_names(space.constraints[c], find_missing_device, &dc);
        if (dc.missing) {
            rc = device ? fw_errf(err, errlen, -EINVAL, "constraint %zu '%s' uses %s, which the device does "
                                  "not report", c, space.constraint_text[c], dc.missing)
                        : fw_errf(err, errlen, -EINVAL, "constraint %zu '%s' uses the device limit %s, but no "
                                  "device is known: build the plan for a device", c, space.constraint_text[c],
                                  dc.missing);
            goto out;
        }
    }

    size_t npre = jpresets ? (size_t)cJSON_GetArraySize(jpresets) : 0;
    fw_point *pre = calloc(npre ? npre : 1, sizeof *pre);
    int64_t *pre_idx = calloc(npre ? npre : 1, sizeof *pre_idx);
    if (!pre || !pre_idx) {
        free(pre);
        free(pre_idx);
        rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < npre; i++) {
        char perr[300];
        rc = fw_point_from_json(cJSON_GetArrayItem(jpresets, (int)i), &pre[i], perr, sizeof perr);
        if (rc == 0)
            rc = fw_space_check_point(&space, &pre[i], perr, sizeof perr);
        if (rc < 0) {
            fw_errf(err, errlen, rc, "%s in preset %zu", perr, i);
            break;
        }
        pre_idx[i] = fw_space_index(&space, &pre[i]);
    }

    size_t cap = 0;
    int si = 0;
    const cJSON *shape;
    cJSON_ArrayForEach(shape, shapes) {
        if (rc < 0)
            break;
        fw_env env = denv;
        if (!cJSON_IsObject(shape) || fw_env_add_json_ints(&env, shape) < 0) {
            rc = fw_errf(err, errlen, -EINVAL, "shape %d is not an object of at most %d named integers", si,
                         FW_ENV_MAX - (int)denv.n);
            break;
        }
        uint64_t *idx;
        size_t n;
        char xerr[500];
        /* a recorded space's valid points are its recorded configurations (replay/) */
        if ((rc = fw_replay_valid_indices(resolved, &space, &idx, &n, xerr, sizeof xerr)) == 0)
            rc = fw_space_expand_indices(&space, &env, FW_SPEC_MAX_SPACE, &idx, &n, xerr, sizeof xerr);
        else if (rc > 0)
            rc = 0;
        if (rc < 0) {
            fw_errf(err, errlen, rc, "shape %d: %s", si, xerr);
            break;
        }
        if (n == 0) {
            free(idx);
            rc = explain_empty(&space, &env, fam, shape, si, err, errlen);
            break;
        }
        /* Budget 0 means "no limit", but a plan is held in memory: past the per-shape maximum
         * the user must say how many they want rather than get a silent cut. */
        if (budget == 0 && (grid || random) && n > FW_SPEC_MAX_BUDGET) {
            char sd[256];
            shape_desc(fam, shape, sd, sizeof sd);
            free(idx);
            rc = fw_errf(err, errlen, -E2BIG,
                         "shape %d (%s) has %zu valid variants, and budget 0 (no limit) would plan every one; "
                         "the most one shape may plan is %d: set \"budget\"", si, sd, n, FW_SPEC_MAX_BUDGET);
            break;
        }
        size_t want = budget && (uint64_t)budget < n ? (size_t)budget : n;
        if (!grid && !random)
            want = npre < want ? npre : want;
        if (plan->n + want > FW_SPEC_MAX_PLANNED) {
            free(idx);
            rc = fw_errf(err, errlen, -E2BIG,
                         "the plan would hold more than %d evaluations (%zu up to shape %d); fairway plans at "
                         "most %d per job, so that the plan fits in memory: lower \"budget\", or tune the "
                         "shapes in several jobs", FW_SPEC_MAX_PLANNED, plan->n + want, si, FW_SPEC_MAX_PLANNED);
            break;
        }
        plan_shape_ctx pc = {.plan = plan, .cap = &cap, .space = &space, .idx = idx, .n = n, .pre = pre,
                             .pre_idx = pre_idx, .npre = npre, .budget = budget, .seed = seed, .si = si,
                             .grid = grid, .random = random};
        rc = plan_shape(&pc, err, errlen);
        free(idx);
        si++;
    }
    free(pre);
    free(pre_idx);
out:
    fw_space_release(&space);
    if (rc < 0)
        fw_plan_release(plan);
    return rc < 0 ? rc : 0;
}

void fw_plan_release(fw_plan *plan)
{
    free(plan->items);
    plan->items = NULL;
    plan->n = 0;
}
