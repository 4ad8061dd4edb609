/* strategy.c - the ask/tell core shared by every strategy, `random`, and `auto`.
 *
 * `random` is the sequential partial Fisher-Yates of fw_search_random (same generator, same draws),
 * served incrementally so plans made from it keep their order. `auto` is an online portfolio: an
 * AUC bandit (as OpenTuner's) whose arms are the learning subs plus uniform sampling; each arm is
 * credited with the results of the points it proposed ("did it improve the best?"), the most recent
 * uses weighing most, and every arm learns from every result.
 */
#include "strat_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const fw_strategy_names[] = {"random", "anneal", "genetic", "model", "auto", NULL};
const char *const fw_strategy_summaries[] = {
    "uniform sampling without replacement (the order fw_search_random gives)",
    "simulated annealing: steps along each knob's value list, accepting worse moves as it cools",
    "genetic algorithm: crossover and mutation of the best points found so far",
    "model-based: nearest-neighbour surrogate on log time, expected improvement, failures kept apart",
    "online portfolio (AUC bandit) over anneal, genetic, model and uniform sampling",
    NULL,
};

#define AUTO_ARMS 4
#define AUTO_WINDOW 24
#define AUTO_INIT 10
#define AUTO_EXPLORE 0.2   /* weight of the UCB exploration term */
#define AUTO_MODEL_W 4.0   /* the model arm's value is scaled by this: it leads unless it stalls */

struct fw_strategy {
    const char *name;
    st_core c;
    /* random */
    size_t *perm;
    size_t ppos;
    fw_pcg32 prng;
    /* learning: one sub, or AUTO_ARMS for auto */
    int nsub;
    const st_sub *sub[AUTO_ARMS];
    void *sst[AUTO_ARMS];
    uint8_t *arm_of;       /* auto: arm that proposed each point (255 = none) */
    uint8_t *told_arm;     /* auto: arm per told index */
    uint8_t *told_win;     /* auto: did told index improve the best */
};

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void st_rng(const st_core *c, uint32_t tag, uint64_t idx, fw_pcg32 *r)
{
    fw_pcg32_seed(r, c->seed ^ mix64(((uint64_t)tag << 40) ^ idx), c->stream + 0x51ed27ULL * (tag + 1));
}

static uint64_t tuple_hash(const uint16_t *t, int nk)
{
    uint64_t h = 1469598103934665603ULL;
    for (int k = 0; k < nk; k++)
        h = (h ^ t[k]) * 1099511628211ULL;
    return mix64(h);
}

size_t st_lookup(const st_core *c, const uint16_t *tuple)
{
    for (size_t h = tuple_hash(tuple, c->nk) & c->hmask;; h = (h + 1) & c->hmask) {
        size_t v = c->hash[h];
        if (v == 0)
            return ST_NONE;
        if (memcmp(c->pts + (v - 1) * (size_t)c->nk, tuple, (size_t)c->nk * sizeof *tuple) == 0)
            return v - 1;
    }
}

size_t st_uniform(const st_core *c, fw_pcg32 *r)
{
    if (c->nprop >= c->n)
        return ST_NONE;
    for (int t = 0; t < 64; t++) {
        size_t i = fw_pcg32_bounded(r, (uint32_t)c->n);
        if (!c->proposed[i])
            return i;
    }
    size_t start = fw_pcg32_bounded(r, (uint32_t)c->n);
    for (size_t j = 0; j < c->n; j++) {
        size_t i = (start + j) % c->n;
        if (!c->proposed[i])
            return i;
    }
    return ST_NONE;
}

static void step_knob(const st_core *c, uint16_t *t, int k, fw_pcg32 *r)
{
    int nv = c->nvals[k];
    uint32_t u = fw_pcg32_bounded(r, 10);
    int d = u < 7 ? 1 : u < 9 ? 2 : 0;
    int v = t[k];
    if (d == 0)
        v = (int)fw_pcg32_bounded(r, (uint32_t)nv);
    else
        v += (fw_pcg32_next(r) & 1) ? d : -d;
    if (v < 0)
        v = -v;
    if (v >= nv)
        v = 2 * (nv - 1) - v;
    if (v < 0 || v >= nv)
        v = (int)fw_pcg32_bounded(r, (uint32_t)nv);
    t[k] = (uint16_t)v;
}

size_t st_neighbour(const st_core *c, size_t from, fw_pcg32 *r, int tries, int wide)
{
    uint16_t t[256];
    int movable = 0;
    for (int k = 0; k < c->nk; k++)
        movable += c->nvals[k] > 1;
    if (from == ST_NONE || movable == 0 || c->nk > 256)
        return ST_NONE;
    for (int i = 0; i < tries; i++) {
        memcpy(t, c->pts + from * (size_t)c->nk, (size_t)c->nk * sizeof *t);
        int moves = 1 + (wide && (fw_pcg32_bounded(r, 3) == 0));
        for (int m = 0; m < moves; m++) {
            int k;
            do
                k = (int)fw_pcg32_bounded(r, (uint32_t)c->nk);
            while (c->nvals[k] < 2);
            step_knob(c, t, k, r);
        }
        size_t id = st_lookup(c, t);
        if (id != ST_NONE && !c->proposed[id])
            return id;
    }
    return ST_NONE;
}

static int core_init(st_core *c, const fw_sspace *sp, uint64_t seed, uint64_t stream, size_t budget)
{
    memset(c, 0, sizeof *c);
    c->nk = sp->nknobs;
    c->n = sp->npoints;
    c->seed = seed;
    c->stream = stream;
    c->budget = budget;
    size_t hcap = 16;
    while (hcap < 2 * c->n + 2)
        hcap <<= 1;
    c->hmask = hcap - 1;
    c->nvals = malloc((size_t)c->nk * sizeof *c->nvals);
    c->pts = malloc(c->n * (size_t)c->nk * sizeof *c->pts);
    c->x = malloc(c->n * (size_t)c->nk * sizeof *c->x);
    c->hash = calloc(hcap, sizeof *c->hash);
    c->proposed = calloc(c->n, 1);
    c->tpt = malloc(c->n * sizeof *c->tpt);
    c->pend = malloc(c->n * sizeof *c->pend);
    c->tout = malloc(c->n * sizeof *c->tout);
    c->ty = malloc(c->n * sizeof *c->ty);
    if (!c->nvals || !c->pts || !c->x || !c->hash || !c->proposed || !c->tpt || !c->pend || !c->tout || !c->ty)
        return -ENOMEM;
    memcpy(c->nvals, sp->nvals, (size_t)c->nk * sizeof *c->nvals);
    memcpy(c->pts, sp->points, c->n * (size_t)c->nk * sizeof *c->pts);
    for (size_t i = 0; i < c->n; i++) {
        const uint16_t *t = c->pts + i * (size_t)c->nk;
        for (int k = 0; k < c->nk; k++) {
            if (t[k] >= c->nvals[k])
                return -EINVAL;
            c->x[i * (size_t)c->nk + k] = c->nvals[k] > 1 ? (float)t[k] / (float)(c->nvals[k] - 1) : 0.0f;
        }
        if (st_lookup(c, t) != ST_NONE)
            return -EEXIST;
        size_t h = tuple_hash(t, c->nk) & c->hmask;
        while (c->hash[h])
            h = (h + 1) & c->hmask;
        c->hash[h] = i + 1;
    }
    return 0;
}

static void core_release(st_core *c)
{
    free(c->nvals);
    free(c->pts);
    free(c->x);
    free(c->hash);
    free(c->proposed);
    free(c->tpt);
    free(c->pend);
    free(c->tout);
    free(c->ty);
}

static const st_sub *sub_named(const char *name)
{
    if (strcmp(name, "anneal") == 0)
        return &st_sub_anneal;
    if (strcmp(name, "genetic") == 0)
        return &st_sub_genetic;
    if (strcmp(name, "model") == 0)
        return &st_sub_model;
    return NULL;
}

fw_strategy *fw_strategy_new(const char *name, const fw_sspace *space, uint64_t seed, uint64_t stream,
                             size_t budget, char *err, size_t errlen)
{
    int known = 0;
    for (int i = 0; fw_strategy_names[i]; i++)
        if (name && strcmp(name, fw_strategy_names[i]) == 0)
            known = 1;
    if (!known) {
        snprintf(err, errlen, "unknown strategy '%s' (known: random, anneal, genetic, model, auto)",
                 name ? name : "");
        return NULL;
    }
    if (!space || space->npoints == 0 || space->nknobs <= 0 || space->npoints > UINT32_MAX) {
        snprintf(err, errlen, "strategy '%s': the space has no valid point", name);
        return NULL;
    }
    fw_strategy *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    int rc = core_init(&s->c, space, seed, stream, budget);
    if (rc == 0 && strcmp(name, "random") == 0) {
        s->name = "random";
        s->perm = malloc(s->c.n * sizeof *s->perm);
        if (!s->perm)
            rc = -ENOMEM;
        for (size_t i = 0; s->perm && i < s->c.n; i++)
            s->perm[i] = i;
        fw_pcg32_seed(&s->prng, seed, stream);
    } else if (rc == 0 && strcmp(name, "auto") == 0) {
        s->name = "auto";
        s->nsub = AUTO_ARMS;
        s->sub[0] = &st_sub_model;
        s->sub[1] = &st_sub_anneal;
        s->sub[2] = &st_sub_genetic;
        s->sub[3] = &st_sub_uniform;
        s->arm_of = malloc(s->c.n);
        s->told_arm = malloc(s->c.n);
        s->told_win = malloc(s->c.n);
        if (!s->arm_of || !s->told_arm || !s->told_win)
            rc = -ENOMEM;
        else
            memset(s->arm_of, 255, s->c.n);
    } else if (rc == 0) {
        s->sub[0] = sub_named(name);
        s->name = s->sub[0]->name;
        s->nsub = 1;
    }
    for (int a = 0; rc == 0 && a < s->nsub; a++)
        if (s->sub[a]->create && !(s->sst[a] = s->sub[a]->create(&s->c)))
            rc = -ENOMEM;
    if (rc < 0) {
        snprintf(err, errlen, rc == -EINVAL ? "a point's value index is out of its knob's range"
                              : rc == -EEXIST ? "a point is listed twice in the space"
                                              : "out of memory");
        fw_strategy_free(s);
        return NULL;
    }
    return s;
}

void fw_strategy_free(fw_strategy *s)
{
    if (!s)
        return;
    for (int a = 0; a < s->nsub; a++)
        if (s->sub[a]->destroy)
            s->sub[a]->destroy(s->sst[a]);
    core_release(&s->c);
    free(s->perm);
    free(s->arm_of);
    free(s->told_arm);
    free(s->told_win);
    free(s);
}

static size_t random_next(fw_strategy *s)
{
    while (s->ppos < s->c.n) {
        size_t i = s->ppos, j = i + (size_t)fw_pcg32_bounded64(&s->prng, (uint64_t)(s->c.n - i));
        size_t t = s->perm[i];
        s->perm[i] = s->perm[j];
        s->perm[j] = t;
        s->ppos++;
        if (!s->c.proposed[s->perm[i]])
            return s->perm[i];
    }
    return ST_NONE;
}

/* A point told before it was asked: if the next draw is that point, take the draw (a rebuild of a
 * random run); otherwise leave the stream as it was (the draw skips the point when it comes). */
static void random_take(fw_strategy *s, size_t point)
{
    if (s->ppos >= s->c.n)
        return;
    fw_pcg32 saved = s->prng;
    size_t i = s->ppos, j = i + (size_t)fw_pcg32_bounded64(&s->prng, (uint64_t)(s->c.n - i));
    if (s->perm[j] == point) {
        s->perm[j] = s->perm[i];
        s->perm[i] = point;
        s->ppos++;
    } else {
        s->prng = saved;
    }
}

/* AUC bandit: the arm for proposal k, from the credits of the results told so far. */
static int auto_arm(const fw_strategy *s, size_t k)
{
    const st_core *c = &s->c;
    if (k < AUTO_INIT || c->nok < 3)
        return 3;
    double uses[AUTO_ARMS] = {0}, credit[AUTO_ARMS] = {0}, wsum[AUTO_ARMS] = {0};
    int seen[AUTO_ARMS] = {0};
    for (size_t i = c->ntold; i-- > 0;) {
        int a = s->told_arm[i];
        if (a >= AUTO_ARMS)
            continue;
        uses[a] += 1;
        if (seen[a] < AUTO_WINDOW) {
            double w = (double)(AUTO_WINDOW - seen[a]);
            credit[a] += w * s->told_win[i];
            wsum[a] += w;
            seen[a]++;
        }
    }
    double total = 0;
    for (int a = 0; a < AUTO_ARMS; a++)
        total += uses[a];
    fw_pcg32 r;
    st_rng(c, 7, k, &r);
    int best = 0;
    double bestv = -1;
    for (int a = 0; a < AUTO_ARMS; a++) {
        double auc = wsum[a] > 0 ? credit[a] / wsum[a] : 1.0;
        double v = auc + AUTO_EXPLORE * sqrt(2.0 * log(total + 1.0) / (uses[a] + 1.0))
                   + 1e-6 * fw_pcg32_float(&r);
        if (a == 0)
            v *= AUTO_MODEL_W;
        if (a == 3)
            v *= 0.25;   /* uniform sampling only when the others stall */
        if (v > bestv) {
            bestv = v;
            best = a;
        }
    }
    return best;
}

static size_t propose_one(fw_strategy *s, int *arm_out)
{
    st_core *c = &s->c;
    if (s->perm)
        return random_next(s);
    int arm = s->arm_of ? auto_arm(s, c->nprop) : 0;
    fw_pcg32 r;
    st_rng(c, 1 + (uint32_t)arm, c->nprop, &r);
    size_t p = s->sub[arm]->propose(c, s->sst[arm], &r);
    if (p == ST_NONE || c->proposed[p])
        p = st_uniform(c, &r);
    *arm_out = arm;
    return p;
}

size_t fw_strategy_ask(fw_strategy *s, size_t n, size_t *out)
{
    size_t k = 0;
    st_core *c = &s->c;
    while (k < n && c->nprop < c->n && (c->budget == 0 || c->nprop < c->budget)) {
        int arm = 0;
        size_t p = propose_one(s, &arm);
        if (p == ST_NONE)
            break;
        c->proposed[p] = 1;
        c->nprop++;
        c->pend[c->npend++] = p;
        if (s->arm_of)
            s->arm_of[p] = (uint8_t)arm;
        out[k++] = p;
    }
    return k;
}

size_t fw_strategy_peek(fw_strategy *s, size_t n, size_t *out)
{
    st_core *c = &s->c;
    if (s->perm || n > 64)
        return 0;
    size_t nprop = c->nprop, npend = c->npend;
    size_t k = fw_strategy_ask(s, n, out);
    /* undo the asks: every state an ask changes is the core's proposed set and count, the pending
     * list (appended), and auto's arm of the point (255 until a point is proposed) */
    for (size_t i = 0; i < k; i++) {
        c->proposed[out[i]] = 0;
        if (s->arm_of)
            s->arm_of[out[i]] = 255;
    }
    c->nprop = nprop;
    c->npend = npend;
    return k;
}

static void top_insert(st_core *c, size_t ti)
{
    double y = c->ty[ti];
    size_t pos = c->ntop;
    while (pos > 0 && c->ty[c->top[pos - 1]] > y)
        pos--;
    if (pos >= ST_TOP)
        return;
    size_t end = c->ntop < ST_TOP ? c->ntop : ST_TOP - 1;
    memmove(c->top + pos + 1, c->top + pos, (end - pos) * sizeof *c->top);
    c->top[pos] = ti;
    if (c->ntop < ST_TOP)
        c->ntop++;
}

/* A point taken without an ask (told un-asked, or claimed): attributed as the ask would have been. */
static void claim(fw_strategy *s, size_t point)
{
    st_core *c = &s->c;
    if (s->arm_of)
        s->arm_of[point] = (uint8_t)auto_arm(s, c->nprop);
    if (s->perm)   /* keep the Fisher-Yates stream where an ask would have left it */
        random_take(s, point);
    c->proposed[point] = 1;
    c->nprop++;
    c->pend[c->npend++] = point;
}

int fw_strategy_claim(fw_strategy *s, size_t point)
{
    if (point >= s->c.n || s->c.proposed[point])
        return -EINVAL;
    claim(s, point);
    return 0;
}

int fw_strategy_tell(fw_strategy *s, size_t point, fw_outcome r)
{
    st_core *c = &s->c;
    if (point >= c->n)
        return -EINVAL;
    for (size_t i = 0; i < c->ntold; i++)   /* told twice: cheap enough at tuning sizes */
        if (c->tpt[i] == point)
            return -EINVAL;
    if ((r.kind == FW_OUT_TIME || r.kind == FW_OUT_PRUNED) && !(r.time > 0 && isfinite(r.time)))
        return -EINVAL;
    if (!c->proposed[point])
        claim(s, point);
    for (size_t i = c->npend; i-- > 0;)
        if (c->pend[i] == point) {
            memmove(c->pend + i, c->pend + i + 1, (c->npend - i - 1) * sizeof *c->pend);
            c->npend--;
            break;
        }
    size_t ti = c->ntold++;
    double before = st_best_y(c);
    c->tpt[ti] = point;
    c->tout[ti] = r;
    c->ty[ti] = fw_outcome_failed(r) ? NAN : log(r.time);
    if (!fw_outcome_failed(r))
        c->nok++;
    if (r.kind == FW_OUT_TIME)
        top_insert(c, ti);
    if (s->arm_of) {
        s->told_arm[ti] = s->arm_of[point];
        s->told_win[ti] = r.kind == FW_OUT_TIME && c->ty[ti] < before - 1e-9;
    }
    for (int a = 0; a < s->nsub; a++)
        if (s->sub[a]->observe)
            s->sub[a]->observe(c, s->sst[a], ti);
    return 0;
}

size_t fw_strategy_blind_asks(const fw_strategy *s)
{
    if (s->perm)   /* random: the Fisher-Yates stream never reads a result */
        return SIZE_MAX;
    /* auto: its first AUTO_INIT proposals are its uniform arm's, chosen before any credit is read */
    size_t end = s->arm_of ? AUTO_INIT : s->sub[0]->blind;
    return s->c.nprop < end ? end - s->c.nprop : 0;
}

size_t fw_strategy_tells_due(const fw_strategy *s, size_t asked, size_t ahead)
{
    if (fw_strategy_blind_asks(s) > 0)
        return 0;
    return asked > ahead ? asked - ahead : 0;
}

size_t fw_strategy_count(const fw_strategy *s) { return s->c.nprop; }
const char *fw_strategy_name(const fw_strategy *s) { return s->name; }
