/* seq.c - the evaluation sequence of a job: presets, then a strategy, shape by shape (fw_job.h). */
#include "job_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_assert.h"
#include "fw_util.h"

typedef struct seq_shape {
    uint64_t *idx;           /* valid points (odometer indices), canonical order */
    size_t n;
    size_t *fixed;           /* valid-list positions asked first, in order */
    size_t nfixed, fpos;
    size_t npreset;          /* the first npreset of fixed are presets */
    size_t limit;            /* evaluations of this shape */
    size_t asked, told;      /* positions asked; positions told to the strategy */
    int64_t seq0;            /* seq of position 0, -1 before the shape starts */
    fw_strategy *st;         /* learning strategies, from the shape's start */
    uint8_t *used;           /* valid-list position taken */
    fw_outcome *out;         /* results by position */
    double *eval_ms;         /* the evaluation's time by position (the record's eval_ms) */
    uint8_t *have;
    size_t costed;           /* positions whose eval_ms is in spent_ms (a prefix) */
    double spent_ms;
    int timed_out;           /* the time budget ended the shape */
} seq_shape;

struct fw_seq {
    job_ctx c;
    size_t nshapes, cur, planned;
    seq_shape *sh;
    fw_seq_item *items;
    size_t nitems, cap;
};

const char *fw_seq_origin(const char *name)
{
    static const char *const fixed[] = {"preset", "grid", "random", NULL};
    for (size_t i = 0; name && fixed[i]; i++)
        if (strcmp(name, fixed[i]) == 0)
            return fixed[i];
    for (size_t i = 0; name && fw_strategy_names[i]; i++)
        if (strcmp(name, fw_strategy_names[i]) == 0)
            return fw_strategy_names[i];
    return "?";
}

/* The fixed part of a shape: presets (unless grid), then the grid or random order. */
static int shape_fixed(fw_seq *q, seq_shape *sh, int si)
{
    job_ctx *c = &q->c;
    size_t left = c->budget ? (size_t)c->budget : SIZE_MAX;
    sh->fixed = malloc((sh->n ? sh->n : 1) * sizeof *sh->fixed);
    sh->used = calloc(sh->n ? sh->n : 1, 1);
    if (!sh->fixed || !sh->used)
        return -ENOMEM;
    if (c->grid) {
        for (size_t i = 0; i < sh->n && left; i++, left--)
            sh->fixed[sh->nfixed++] = i;
        sh->limit = sh->nfixed;
        return 0;
    }
    uint8_t *taken = sh->used;   /* borrowed to find duplicates, cleared below */
    for (size_t i = 0; i < c->npre && left; i++) {
        int64_t at = c->pre_idx[i] < 0 ? -1 : job_find_index(sh->idx, sh->n, (uint64_t)c->pre_idx[i]);
        if (at < 0 || taken[at])   /* invalid for this shape, or listed twice */
            continue;
        taken[at] = 1;
        left--;
        sh->fixed[sh->nfixed++] = (size_t)at;
    }
    sh->npreset = sh->nfixed;
    if (c->random && left) {
        size_t nrem = 0, *rem = malloc((sh->n ? sh->n : 1) * sizeof *rem);
        size_t *pick = malloc((sh->n ? sh->n : 1) * sizeof *pick);
        if (!rem || !pick) {
            free(rem);
            free(pick);
            return -ENOMEM;
        }
        for (size_t i = 0; i < sh->n; i++)
            if (!taken[i])
                rem[nrem++] = i;
        size_t k = fw_search_random((uint64_t)c->seed, (uint64_t)si, nrem, left, pick);
        for (size_t i = 0; i < k; i++)
            sh->fixed[sh->nfixed++] = rem[pick[i]];
        free(rem);
        free(pick);
        if (k == 0 && nrem > 0)
            return -ENOMEM;
        left -= k;
    }
    memset(sh->used, 0, sh->n);
    if (c->grid || c->random || c->presets)
        sh->limit = sh->nfixed;
    else   /* learning: the strategy fills the rest of the budget */
        sh->limit = c->budget && (size_t)c->budget < sh->n ? (size_t)c->budget : sh->n;
    return 0;
}

static void shapes_free(fw_seq *q)
{
    for (size_t i = 0; q->sh && i < q->nshapes; i++) {
        seq_shape *sh = &q->sh[i];
        free(sh->idx);
        free(sh->fixed);
        free(sh->used);
        free(sh->out);
        free(sh->eval_ms);
        free(sh->have);
        fw_strategy_free(sh->st);
    }
    free(q->sh);
}

void fw_seq_free(fw_seq *q)
{
    if (!q)
        return;
    shapes_free(q);
    job_ctx_close(&q->c);
    free(q->items);
    free(q);
}

int fw_seq_new(const cJSON *resolved, const cJSON *device, fw_seq **out, char *err, size_t errlen)
{
    return fw_seq_new_work(resolved, device, NULL, out, err, errlen);
}

int fw_seq_new_work(const cJSON *resolved, const cJSON *device, fw_work *work, fw_seq **out, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    fw_seq *q = calloc(1, sizeof *q);
    if (!q)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    int rc = job_ctx_open(resolved, device, &q->c, err, errlen);
    if (rc < 0) {
        free(q);
        return rc;
    }
    q->c.work = work;
    const cJSON *shapes = q->c.shapes;
    q->nshapes = (size_t)cJSON_GetArraySize(shapes);
    q->sh = calloc(q->nshapes ? q->nshapes : 1, sizeof *q->sh);
    if (!q->sh)
        rc = fw_errf(err, errlen, -ENOMEM, "out of memory");
    int si = 0;
    const cJSON *shape;
    cJSON_ArrayForEach(shape, shapes) {
        if (rc < 0)
            break;
        seq_shape *sh = &q->sh[si];
        sh->seq0 = -1;
        rc = job_ctx_shape(&q->c, shape, si, &sh->idx, &sh->n, err, errlen);
        if (rc == 0 && (rc = shape_fixed(q, sh, si)) < 0)
            fw_errf(err, errlen, rc, "out of memory planning shape %d", si);
        if (rc == 0) {
            sh->out = malloc((sh->limit ? sh->limit : 1) * sizeof *sh->out);
            sh->eval_ms = malloc((sh->limit ? sh->limit : 1) * sizeof *sh->eval_ms);
            sh->have = calloc(sh->limit ? sh->limit : 1, 1);
            if (!sh->out || !sh->eval_ms || !sh->have)
                rc = fw_errf(err, errlen, -ENOMEM, "out of memory planning shape %d", si);
            if (q->planned + sh->limit > FW_SPEC_MAX_PLANNED)
                rc = fw_errf(err, errlen, -E2BIG,
                             "the plan would hold more than %d evaluations (%zu up to shape %d); fairway plans at "
                             "most %d per job, so that the plan fits in memory: lower \"budget\", or tune the "
                             "shapes in several jobs", FW_SPEC_MAX_PLANNED, q->planned + sh->limit, si,
                             FW_SPEC_MAX_PLANNED);
            q->planned += sh->limit;
        }
        si++;
    }
    if (rc < 0) {
        fw_seq_free(q);
        return rc;
    }
    q->c.resolved = q->c.shapes = NULL;   /* the sequence keeps nothing of it: it may be freed now */
    q->c.work = NULL;
    *out = q;
    return 0;
}

size_t fw_seq_planned(const fw_seq *q) { return q->planned; }
size_t fw_seq_count(const fw_seq *q) { return q->nitems; }

size_t fw_seq_ask_ahead(const fw_seq *q)
{
    return (q->c.grid || q->c.random || q->c.presets) && !(q->c.budget_ms > 0) ? SIZE_MAX : q->c.ask_ahead;
}

const fw_seq_item *fw_seq_item_at(const fw_seq *q, int64_t seq)
{
    return seq >= 0 && (size_t)seq < q->nitems ? &q->items[seq] : NULL;
}

/* A learning shape starts: its strategy over the valid list (value indices per knob). */
static int shape_start(fw_seq *q, seq_shape *sh, int si)
{
    job_ctx *c = &q->c;
    int nk = (int)c->space.nknobs;
    int nvals[FW_MAX_KNOBS];
    const char *names[FW_MAX_KNOBS];
    for (int k = 0; k < nk; k++) {
        nvals[k] = (int)c->space.knobs[k].nvalues;
        names[k] = c->space.knobs[k].name;
    }
    uint16_t *pts = malloc((sh->n ? sh->n : 1) * (size_t)(nk ? nk : 1) * sizeof *pts);
    if (!pts)
        return -ENOMEM;
    for (size_t i = 0; i < sh->n; i++) {
        uint64_t v = sh->idx[i];
        for (int k = nk; k-- > 0;) {
            pts[i * (size_t)nk + (size_t)k] = (uint16_t)(v % (uint64_t)nvals[k]);
            v /= (uint64_t)nvals[k];
        }
    }
    fw_sspace sp = {.nknobs = nk, .names = names, .nvals = nvals, .npoints = sh->n, .points = pts};
    char err[256];
    /* the shape's limit is kept here (a strategy's budget would also count a replayed point that
     * differed from its ask); nothing else of a strategy depends on its budget */
    sh->st = fw_strategy_new(c->strategy, &sp, (uint64_t)c->seed, (uint64_t)si, 0, err, sizeof err);
    free(pts);
    return sh->st ? 0 : -ENOMEM;
}

/* Tell the strategy the results of positions < need, in order: -EAGAIN while one is missing. */
static int tell_upto(fw_seq *q, seq_shape *sh, size_t need)
{
    while (sh->told < need) {
        if (!sh->have[sh->told])
            return -EAGAIN;
        FW_ASSERT(sh->told < sh->asked);   /* told in position order, only what was asked */
        const fw_seq_item *it = &q->items[sh->seq0 + (int64_t)sh->told];
        if (it->index >= 0)   /* an error (told twice after a replayed mismatch) changes nothing */
            fw_strategy_tell(sh->st, (size_t)it->index, sh->out[sh->told]);
        sh->told++;
    }
    return 0;
}

static int push_item(fw_seq *q, int si, size_t pos, const char *origin, const fw_seq_item **out)
{
    if (q->nitems == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 64;
        fw_seq_item *ni = realloc(q->items, nc * sizeof *ni);
        if (!ni)
            return -ENOMEM;
        q->items = ni;
        q->cap = nc;
    }
    seq_shape *sh = &q->sh[si];
    FW_ASSERT(sh->asked < sh->limit && (int64_t)q->nitems == sh->seq0 + (int64_t)sh->asked);   /* budget; consecutive seqs */
    fw_seq_item *it = &q->items[q->nitems];
    it->seq = (int64_t)q->nitems++;
    it->shape = si;
    it->index = (int64_t)pos;
    it->origin = origin;
    fw_space_point_at(&q->c.space, sh->idx[pos], &it->point);
    sh->used[pos] = 1;
    sh->asked++;
    *out = it;
    return FW_SEQ_ITEM;
}

/* The time budget at the ask of position j = sh->asked: the told times of positions < j - A (A =
 * the ask-ahead, the results every strategy waits for anyway) summed in position order; 1 when they
 * reach the budget (the shape ends at j), 0 when it goes on, -EAGAIN while one of them is not told.
 * A pure function of the results told, so a rerun of a replayed space and a resume from the store
 * end each shape at the same position (docs/design-notes.md, "time budget"). */
static int budget_spent(const fw_seq *q, seq_shape *sh)
{
    size_t a = q->c.ask_ahead, need = sh->asked > a ? sh->asked - a : 0;
    while (sh->costed < need) {
        if (!sh->have[sh->costed])
            return -EAGAIN;
        sh->spent_ms += sh->eval_ms[sh->costed++];
    }
    return sh->spent_ms >= q->c.budget_ms;
}

int fw_seq_ask(fw_seq *q, const fw_seq_item **out)
{
    *out = NULL;
    job_ctx *c = &q->c;
    int learning = !(c->grid || c->random || c->presets);
    while (q->cur < q->nshapes) {
        int si = (int)q->cur;
        seq_shape *sh = &q->sh[si];
        if (sh->asked >= sh->limit) {
            q->cur++;
            continue;
        }
        if (sh->seq0 < 0) {
            sh->seq0 = (int64_t)q->nitems;
            if (learning && shape_start(q, sh, si) < 0)
                return -ENOMEM;
        }
        while (sh->fpos < sh->nfixed && sh->used[sh->fixed[sh->fpos]])
            sh->fpos++;   /* taken already by a replayed record that differed */
        if (c->budget_ms > 0) {
            int spent = budget_spent(q, sh);
            if (spent < 0)
                return FW_SEQ_WAIT;
            if (spent) {
                sh->limit = sh->asked;
                sh->timed_out = 1;
                continue;
            }
        }
        /* presets and the strategy's blind proposals read no result: asked without waiting */
        if (learning && sh->fpos >= sh->nfixed
            && tell_upto(q, sh, fw_strategy_tells_due(sh->st, sh->asked, c->ask_ahead)) < 0)
            return FW_SEQ_WAIT;
        if (sh->fpos < sh->nfixed) {
            size_t f = sh->fpos++;
            if (learning)
                fw_strategy_claim(sh->st, sh->fixed[f]);
            return push_item(q, si, sh->fixed[f], f < sh->npreset ? "preset" : c->grid ? "grid" : "random", out);
        }
        size_t pos;
        if (!learning || fw_strategy_ask(sh->st, 1, &pos) == 0) {
            sh->limit = sh->asked;   /* nothing more to ask in this shape */
            continue;
        }
        return push_item(q, si, pos, fw_strategy_name(sh->st), out);
    }
    return FW_SEQ_END;
}

/* An evaluation time a time budget can count: positive and finite (below 1e15 ms), else 0. */
static double eval_ms_or_0(double ms)
{
    return ms > 0 && ms < 1e15 ? ms : 0;
}

int fw_seq_tell(fw_seq *q, int64_t seq, fw_outcome o, double eval_ms)
{
    if (seq < 0 || (size_t)seq >= q->nitems)
        return -EINVAL;
    const fw_seq_item *it = &q->items[seq];
    seq_shape *sh = &q->sh[it->shape];
    size_t pos = (size_t)(seq - sh->seq0);
    if (pos >= sh->limit || sh->have[pos])
        return -EINVAL;
    sh->have[pos] = 1;
    sh->out[pos] = o;
    sh->eval_ms[pos] = eval_ms_or_0(eval_ms);
    return 0;
}

int fw_seq_timed_out(const fw_seq *q, int shape)
{
    return shape >= 0 && (size_t)shape < q->nshapes && q->sh[shape].timed_out;
}

double fw_record_eval_ms(const cJSON *rec)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "eval_ms");
    return cJSON_IsNumber(v) ? eval_ms_or_0(v->valuedouble) : 0;
}

int fw_seq_outcome(const char *status, double median_ns, fw_outcome *o)
{
    static const struct { const char *s; fw_outcome_kind k; } map[] = {
        {"ok", FW_OUT_TIME}, {"pruned", FW_OUT_PRUNED}, {"compile_error", FW_OUT_COMPILE_ERROR},
        {"invalid", FW_OUT_INVALID}, {"verify_failed", FW_OUT_VERIFY_FAILED},
        {"runtime_error", FW_OUT_CRASHED}, {"crashed", FW_OUT_CRASHED}, {"timeout", FW_OUT_TIMEOUT},
    };
    for (size_t i = 0; status && i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(status, map[i].s) != 0)
            continue;
        o->kind = map[i].k;
        o->time = 0;
        if (o->kind == FW_OUT_TIME || o->kind == FW_OUT_PRUNED) {
            if (!(median_ns > 0 && median_ns < 1e300))
                return -EINVAL;
            o->time = median_ns;
        }
        return 0;
    }
    return -EINVAL;
}

/* A variant key "A=1,B=2" as a point (knob names as the space spells them). */
static int key_point(const char *key, fw_point *p)
{
    fw_point_clear(p);
    char buf[FW_KEY_MAX];
    if (!key || snprintf(buf, sizeof buf, "%s", key) >= (int)sizeof buf)
        return -EINVAL;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '='), *end;
        if (!eq)
            return -EINVAL;
        *eq = '\0';
        long long v = strtoll(eq + 1, &end, 10);
        if (*end || end == eq + 1 || fw_point_set(p, tok, v) < 0)
            return -EINVAL;
    }
    return 0;
}

int fw_seq_replay(fw_seq *q, int64_t seq, const char *variant_key, fw_outcome o, double eval_ms, char *why,
                  size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    while ((int64_t)q->nitems <= seq) {
        const fw_seq_item *it;
        int rc = fw_seq_ask(q, &it);
        if (rc == FW_SEQ_WAIT)
            return -EAGAIN;
        if (rc == FW_SEQ_END)
            return -ENOENT;
        if (rc < 0)
            return rc;
    }
    fw_seq_item *it = &q->items[seq];
    char key[FW_KEY_MAX];
    int differs = fw_point_key(&it->point, key, sizeof key) < 0 || !variant_key || strcmp(key, variant_key) != 0;
    if (differs) {
        seq_shape *sh = &q->sh[it->shape];
        fw_point p;
        int64_t at = -1, raw = key_point(variant_key, &p) == 0 ? fw_space_index(&q->c.space, &p) : -1;
        if (raw >= 0)
            at = job_find_index(sh->idx, sh->n, (uint64_t)raw);
        fw_errf(why, whylen, 1, "seq %" PRId64 " is stored as %s where the sequence asks %s; %s", seq,
                variant_key ? variant_key : "(no key)", key,
                at >= 0 ? "the stored variant is told as measured" : "the stored variant is not a valid point here");
        if (at >= 0 && !sh->used[at]) {
            if (sh->st)   /* it must not be proposed before its tell (told lazily) */
                fw_strategy_claim(sh->st, (size_t)at);
            it->point = p;
            it->index = at;
            sh->used[at] = 1;
        } else {
            it->index = -1;
            if (raw >= 0)
                it->point = p;
        }
    }
    int rc = fw_seq_tell(q, seq, o, eval_ms);
    if (rc < 0)
        return rc;
    return differs;
}

double fw_spec_budget_s(const cJSON *resolved)
{
    fw_job_spec js;
    return fw_job_spec_parse(resolved, &js, NULL, 0) == 0 ? js.budget_s : 0;
}
