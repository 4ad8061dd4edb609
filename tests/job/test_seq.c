/* The evaluation sequencer (job/seq.c) with a deterministic fake device: the same seed gives the
 * same sequence whatever the pipelining; a sequencer rebuilt from the told results continues as the
 * uninterrupted one; no invalid or repeated point; budgets hold; presets come first; a stored point
 * that differs from the ask is told as stored; several devices answering in any order, and a store
 * with their gaps rebuilt, give the one-device sequence; a time budget ends each shape where its
 * told eval_ms say, the same after a rebuild. No timing, no device. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "fw_check.h"
#include "fw_job.h"

/* a printf format: %% is one % */
#define SPACE                                                                                       \
    "\"space\": {\"knobs\": {\"TILE_N\": [8, 16, 32, 64, 128, 256], \"SG_M_TILES\": [1, 2, 4, 8],"     \
    " \"SG_N_TILES\": [1, 2, 4], \"NUM_BUFFERS\": [1, 2, 3]},"                                         \
    " \"constraints\": [\"M %% (8 * SG_M_TILES) == 0\", \"TILE_N <= N\", \"SG_N_TILES * 8 <= TILE_N\"]}"
#define SHAPES "\"shapes\": [{\"M\": 64, \"N\": 256, \"K\": 16}, {\"M\": 16, \"N\": 64, \"K\": 16}]"
#define PRESETS                                                                                     \
    "\"presets\": [{\"TILE_N\": 32, \"SG_M_TILES\": 2, \"SG_N_TILES\": 1, \"NUM_BUFFERS\": 2},"         \
    " {\"TILE_N\": 256, \"SG_M_TILES\": 1, \"SG_N_TILES\": 4, \"NUM_BUFFERS\": 1}]"

static const char *const LEARNING[] = {"anneal", "genetic", "model", "auto"};

static cJSON *spec_for(const char *strategy, int budget, int seed, const char *extra)
{
    char text[4096];
    snprintf(text, sizeof text, "{\"family\": \"gemm\", " SHAPES ", " SPACE ", " PRESETS
             ", \"strategy\": \"%s\", \"budget\": %d, \"seed\": %d%s}", strategy, budget, seed, extra);
    cJSON *u = cJSON_Parse(text), *r = NULL;
    char err[512];
    if (!u || fw_spec_resolve(u, &r, err, sizeof err) < 0) {
        fprintf(stderr, "test bug: %s\n", u ? err : "bad JSON");
        exit(2);
    }
    cJSON_Delete(u);
    return r;
}

/* The fake device: a smooth bowl over the knobs times a hashed ripple; one point in nine fails to
 * compile, one in thirteen is pruned (told a lower bound). */
static fw_outcome fake(const fw_seq_item *it)
{
    int64_t tn = fw_point_value(&it->point, "TILE_N", 0), tm = fw_point_value(&it->point, "SG_M_TILES", 0);
    int64_t sn = fw_point_value(&it->point, "SG_N_TILES", 0), nb = fw_point_value(&it->point, "NUM_BUFFERS", 0);
    uint64_t h = (uint64_t)(tn * 1000003 + tm * 10007 + sn * 101 + nb + it->shape * 7919);
    h ^= h >> 13;
    h *= 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    fw_outcome o = {.kind = FW_OUT_TIME};
    if (h % 9 == 0) {
        o.kind = FW_OUT_COMPILE_ERROR;
        return o;
    }
    double d = (double)(tn - 64) * (tn - 64) / 4096.0 + (double)(tm - 4) * (tm - 4) + (double)(sn - 2) * (sn - 2) +
               (nb == 2 ? 0 : 1);
    o.time = 1000.0 * (1.0 + d) * (1.0 + (double)(h % 100) / 400.0);
    if (h % 13 == 0)
        o.kind = FW_OUT_PRUNED;
    return o;
}

typedef struct run {
    size_t n;
    int shape[400];
    char key[400][128];
    const char *origin[400];
    fw_outcome out[400];
} run;

/* Drive a sequencer as a worker pipeline would: up to `depth` items asked ahead of the one being
 * measured, results told in seq order one at a time; stop after `stop` results (0 = the end). */
static void drive(fw_seq *q, size_t depth, size_t stop, run *r)
{
    size_t measured = fw_seq_count(q);   /* a replayed sequencer has told its first ones */
    for (;;) {
        while (fw_seq_count(q) < measured + depth) {
            const fw_seq_item *it;
            int rc = fw_seq_ask(q, &it);
            CHECK(rc >= 0);
            if (rc != FW_SEQ_ITEM)
                break;
        }
        const fw_seq_item *it = fw_seq_item_at(q, (int64_t)measured);
        if (!it || (stop && measured >= stop))
            return;
        CHECK(r->n < 400);
        fw_outcome o = fake(it);
        r->shape[r->n] = it->shape;
        fw_point_key(&it->point, r->key[r->n], sizeof r->key[r->n]);
        r->origin[r->n] = it->origin;
        r->out[r->n] = o;
        r->n++;
        CHECK_INT(fw_seq_tell(q, (int64_t)measured, o, 0), 0);
        measured++;
    }
}

static fw_seq *seq_new(const cJSON *spec)
{
    fw_seq *q = NULL;
    char err[512];
    if (fw_seq_new(spec, NULL, &q, err, sizeof err) < 0) {
        fprintf(stderr, "fw_seq_new: %s\n", err);
        exit(2);
    }
    return q;
}

static int same(const run *a, const run *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->shape[i] != b->shape[i] || strcmp(a->key[i], b->key[i]) != 0 || strcmp(a->origin[i], b->origin[i]) != 0)
            return 0;
    return 1;
}

static run *full(const cJSON *spec, size_t depth)
{
    run *r = calloc(1, sizeof *r);
    fw_seq *q = seq_new(spec);
    drive(q, depth, 0, r);
    fw_seq_free(q);
    return r;
}

static int64_t kv(const char *key, const char *name)
{
    for (const char *p = strstr(key, name); p; p = strstr(p + 1, name))
        if (p == key || p[-1] == ',')
            return strtoll(p + strlen(name), NULL, 10);
    return -1;
}

/* Valid for the shape (independently of the library), never twice, presets first, budget held. */
static void check_run(const run *r, int budget, const char *strategy)
{
    static const int64_t M[] = {64, 16}, N[] = {256, 64};
    size_t per[2] = {0, 0};
    for (size_t i = 0; i < r->n; i++) {
        int s = r->shape[i];
        per[s]++;
        int64_t tn = kv(r->key[i], "TILE_N="), tm = kv(r->key[i], "SG_M_TILES="), sn = kv(r->key[i], "SG_N_TILES=");
        CHECK(tn > 0 && tm > 0 && sn > 0);
        CHECK(M[s] % (8 * tm) == 0 && tn <= N[s] && sn * 8 <= tn);
        for (size_t j = 0; j < i; j++)
            CHECK(!(r->shape[j] == s && strcmp(r->key[j], r->key[i]) == 0));
        if (i > 0)
            CHECK(r->shape[i] >= r->shape[i - 1]);
        /* shape 0 takes both presets, shape 1 (N=64) only the first (TILE_N=256 > N) */
        size_t npre = s == 0 ? 2 : 1;
        CHECK_STR(r->origin[i], per[s] <= npre ? "preset" : strategy);
    }
    CHECK_INT(per[0], budget);
    CHECK_INT(per[1], budget);
}

static void test_learning(const char *name)
{
    cJSON *spec = spec_for(name, 30, 7, "");
    /* the resolved spec carries its ask-ahead */
    const cJSON *aa = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "options"), "ask_ahead");
    CHECK(cJSON_IsNumber(aa) && aa->valueint == FW_SEQ_ASK_AHEAD_DEFAULT);
    run *a = full(spec, 1), *b = full(spec, 3), *c = full(spec, 64);
    CHECK_INT(a->n, 60);
    check_run(a, 30, name);
    /* how far ahead the caller asks changes nothing: the interleaving is the spec's */
    CHECK(same(a, b));
    CHECK(same(a, c));
    /* the seed matters */
    cJSON *spec2 = spec_for(name, 30, 8, "");
    run *d = full(spec2, 2);
    CHECK(!same(a, d));
    check_run(d, 30, name);

    /* rebuilt after k results from the told results (as a restarted daemon does), it continues as
     * the uninterrupted run, for a stop inside the presets, inside shape 0, and inside shape 1 */
    static const size_t stops[] = {1, 9, 30, 41};
    for (size_t si = 0; si < sizeof stops / sizeof stops[0]; si++) {
        size_t k = stops[si];
        run *first = calloc(1, sizeof *first), *rest = calloc(1, sizeof *rest);
        fw_seq *q = seq_new(spec);
        drive(q, 5, k, first);
        fw_seq_free(q);
        fw_seq *q2 = seq_new(spec);
        for (size_t i = 0; i < first->n; i++) {
            char why[512];
            CHECK_INT(fw_seq_replay(q2, (int64_t)i, first->key[i], first->out[i], 0, why, sizeof why), 0);
        }
        drive(q2, 2, 0, rest);
        fw_seq_free(q2);
        CHECK_INT(first->n + rest->n, a->n);
        int eq = first->n + rest->n == a->n;
        for (size_t i = 0; eq && i < first->n; i++)
            eq = strcmp(first->key[i], a->key[i]) == 0;
        for (size_t i = 0; eq && i < rest->n; i++)
            eq = strcmp(rest->key[i], a->key[first->n + i]) == 0 && rest->shape[i] == a->shape[first->n + i];
        if (!eq)
            fprintf(stderr, "%s: rebuilt after %zu results differs from the uninterrupted run\n", name, k);
        CHECK(eq);
        free(first);
        free(rest);
    }
    free(a);
    free(b);
    free(c);
    free(d);
    cJSON_Delete(spec);
    cJSON_Delete(spec2);
}

/* Ask-ahead A: with A = 2, asking waits once 3 items are out without results. */
/* A new spec's ask-ahead follows its budget (fw_seq_default_ask_ahead); one given is kept. */
static void test_default_ask_ahead(void)
{
    static const struct { int budget; int ahead; } want[] = {
        {1, 8}, {50, 8}, {100, 8}, {107, 8}, {108, 9}, {150, 14}, {196, 20}, {200, 20}, {5000, 20}, {0, 20},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK_INT(fw_seq_default_ask_ahead(want[i].budget), want[i].ahead);
        cJSON *spec = spec_for("auto", want[i].budget, 1, "");
        fw_seq *q = seq_new(spec);
        CHECK_INT(fw_seq_ask_ahead(q), want[i].ahead);
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "options"), "ask_ahead")) ==
              want[i].ahead);
        fw_seq_free(q);
        cJSON_Delete(spec);
    }
    cJSON *spec = spec_for("model", 200, 1, ", \"options\": {\"ask_ahead\": 3}");
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "options"), "ask_ahead")) == 3);
    cJSON_Delete(spec);
    /* a fixed order gets one only with a time budget, from its budget too */
    spec = spec_for("random", 300, 1, ", \"budget_s\": 5");
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "options"), "ask_ahead")) == 20);
    cJSON_Delete(spec);
    spec = spec_for("random", 300, 1, "");
    CHECK(!cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "options"), "ask_ahead"));
    cJSON_Delete(spec);
}

static void test_ask_ahead(void)
{
    cJSON *spec = spec_for("anneal", 20, 3, ", \"options\": {\"ask_ahead\": 2}");
    fw_seq *q = seq_new(spec);
    const fw_seq_item *it;
    CHECK_INT(fw_seq_ask(q, &it), FW_SEQ_ITEM);
    CHECK_INT(fw_seq_ask(q, &it), FW_SEQ_ITEM);
    CHECK_INT(fw_seq_ask(q, &it), FW_SEQ_ITEM);
    CHECK_INT(fw_seq_ask(q, &it), FW_SEQ_WAIT);
    CHECK_INT(fw_seq_ask_ahead(q), 2);
    CHECK_INT(fw_seq_tell(q, 1, fake(fw_seq_item_at(q, 1)), 0), 0);
    CHECK_INT(fw_seq_ask(q, &it), FW_SEQ_WAIT);   /* seq 0 first: results are told in order */
    CHECK_INT(fw_seq_tell(q, 0, fake(fw_seq_item_at(q, 0)), 0), 0);
    CHECK_INT(fw_seq_ask(q, &it), FW_SEQ_ITEM);
    CHECK_INT(fw_seq_ask(q, &it), FW_SEQ_ITEM);
    CHECK_INT(fw_seq_ask(q, &it), FW_SEQ_WAIT);
    CHECK_INT(fw_seq_tell(q, 0, fake(fw_seq_item_at(q, 0)), 0), -EINVAL);   /* told twice */
    CHECK_INT(fw_seq_tell(q, 99, fake(fw_seq_item_at(q, 0)), 0), -EINVAL);  /* not asked */
    CHECK_INT(fw_seq_planned(q), 40);
    fw_seq_free(q);
    cJSON_Delete(spec);
}

/* Blind asks: presets and a strategy's result-independent first proposals (fw_strategy_blind_asks)
 * are asked before any result is told, even at A = 0; the sequence is still the one-at-a-time
 * one, and a sequencer rebuilt inside or just after the blind phase continues exactly. */
static void test_blind(void)
{
    /* shape 0 has 2 presets: anneal's one blind proposal is its first (nprop 0), taken by a preset */
    static const size_t free_asks[] = {2, 6, 10, 10};   /* anneal, genetic, model, auto */
    for (size_t i = 0; i < sizeof LEARNING / sizeof LEARNING[0]; i++) {
        cJSON *spec = spec_for(LEARNING[i], 30, 5, ", \"options\": {\"ask_ahead\": 0}");
        fw_seq *q = seq_new(spec);
        const fw_seq_item *it;
        size_t n = 0;
        int rc;
        while ((rc = fw_seq_ask(q, &it)) == FW_SEQ_ITEM)
            n++;
        CHECK_INT(rc, FW_SEQ_WAIT);
        CHECK_INT(n, free_asks[i]);
        /* at A = 0 the next ask needs every earlier result: telling all but the last still waits */
        for (size_t s = 0; s + 1 < n; s++)
            CHECK_INT(fw_seq_tell(q, (int64_t)s, fake(fw_seq_item_at(q, (int64_t)s)), 0), 0);
        CHECK_INT(fw_seq_ask(q, &it), FW_SEQ_WAIT);
        CHECK_INT(fw_seq_tell(q, (int64_t)n - 1, fake(fw_seq_item_at(q, (int64_t)n - 1)), 0), 0);
        CHECK_INT(fw_seq_ask(q, &it), FW_SEQ_ITEM);
        CHECK_INT(fw_seq_ask(q, &it), FW_SEQ_WAIT);
        fw_seq_free(q);
        /* asking the blind points early changes nothing: depth 64 = depth 1 (ask one, tell one) */
        run *a = full(spec, 1), *b = full(spec, 64);
        CHECK_INT(a->n, 60);
        CHECK(same(a, b));
        check_run(a, 30, LEARNING[i]);
        static const size_t stops[] = {3, 10, 11};
        for (size_t si = 0; si < sizeof stops / sizeof stops[0]; si++) {
            run *first = calloc(1, sizeof *first), *rest = calloc(1, sizeof *rest);
            fw_seq *q1 = seq_new(spec);
            drive(q1, 64, stops[si], first);
            fw_seq_free(q1);
            fw_seq *q2 = seq_new(spec);
            for (size_t k = 0; k < first->n; k++) {
                char why[512];
                CHECK_INT(fw_seq_replay(q2, (int64_t)k, first->key[k], first->out[k], 0, why, sizeof why), 0);
            }
            drive(q2, 64, 0, rest);
            fw_seq_free(q2);
            CHECK_INT(first->n + rest->n, a->n);
            int eq = first->n + rest->n == a->n;
            for (size_t k = 0; eq && k < first->n; k++)
                eq = strcmp(first->key[k], a->key[k]) == 0;
            for (size_t k = 0; eq && k < rest->n; k++)
                eq = strcmp(rest->key[k], a->key[first->n + k]) == 0;
            if (!eq)
                fprintf(stderr, "%s: rebuilt after %zu results (A = 0) differs\n", LEARNING[i], stops[si]);
            CHECK(eq);
            free(first);
            free(rest);
        }
        free(a);
        free(b);
        cJSON_Delete(spec);
    }
}

/* Fixed orders never wait and are the plan; random's sequence does not depend on results. */
static void test_fixed(void)
{
    static const char *const names[] = {"random", "grid", "presets"};
    for (size_t s = 0; s < 3; s++) {
        cJSON *spec = spec_for(names[s], 12, 5, "");
        fw_seq *q = seq_new(spec);
        CHECK_INT(fw_seq_ask_ahead(q), SIZE_MAX);
        size_t n = 0;
        const fw_seq_item *it;
        int rc;
        while ((rc = fw_seq_ask(q, &it)) == FW_SEQ_ITEM)
            n++;
        CHECK_INT(rc, FW_SEQ_END);
        CHECK_INT(n, fw_seq_planned(q));
        fw_plan p;
        char err[256];
        CHECK_INT(fw_plan_build(spec, NULL, &p, err, sizeof err), 0);
        CHECK_INT(p.n, n);
        for (size_t i = 0; i < p.n && i < n; i++) {
            char k1[FW_KEY_MAX], k2[FW_KEY_MAX];
            fw_point_key(&p.items[i].point, k1, sizeof k1);
            fw_point_key(&fw_seq_item_at(q, (int64_t)i)->point, k2, sizeof k2);
            CHECK_STR(k1, k2);
            CHECK_STR(p.items[i].origin, fw_seq_item_at(q, (int64_t)i)->origin);
        }
        fw_plan_release(&p);
        fw_seq_free(q);
        cJSON_Delete(spec);
    }
    /* a learning strategy's plan is what it can propose before any result: the presets and its
     * blind proposals (auto: its first 10, presets included), or A + 1 if that is more */
    static const char *const ex[] = {"", ", \"options\": {\"ask_ahead\": 3}", ", \"options\": {\"ask_ahead\": 11}"};
    static const size_t expect[] = {10, 10, 12};
    for (size_t e = 0; e < 3; e++) {
        cJSON *spec = spec_for("auto", 14, 5, ex[e]);
        fw_plan p;
        char err[256];
        CHECK_INT(fw_plan_build(spec, NULL, &p, err, sizeof err), 0);
        CHECK_INT(p.planned, 28);
        CHECK_INT(p.n, expect[e]);
        fw_plan_release(&p);
        cJSON_Delete(spec);
    }
}

/* A stored record that is not what the sequence asks (another device's limits, an older version):
 * told as stored, and the run goes on without ever repeating it. */
static void test_replay_mismatch(void)
{
    cJSON *spec = spec_for("genetic", 25, 4, "");
    run *a = full(spec, 1);
    fw_seq *q = seq_new(spec);
    char why[512];
    CHECK_INT(fw_seq_replay(q, 0, a->key[0], a->out[0], 0, why, sizeof why), 0);
    /* seq 1 stored as the point the uninterrupted run measures at seq 10 */
    CHECK_INT(fw_seq_replay(q, 1, a->key[10], a->out[10], 0, why, sizeof why), 1);
    CHECK_HAS(why, "is stored as");
    CHECK_INT(fw_seq_replay(q, 2, "NOT=1", a->out[2], 0, why, sizeof why), 1);
    CHECK_HAS(why, "not a valid point");
    CHECK_STR(fw_seq_item_at(q, 1)->origin, "preset");
    run *rest = calloc(1, sizeof *rest);
    drive(q, 3, 0, rest);
    CHECK_INT(rest->n + 3, 50);
    for (size_t i = 0; i < rest->n; i++)
        CHECK(!(rest->shape[i] == 0 && strcmp(rest->key[i], a->key[10]) == 0));
    CHECK_INT(fw_seq_replay(q, 500, a->key[0], a->out[0], 0, why, sizeof why), -ENOENT);
    fw_seq_free(q);
    free(a);
    free(rest);
    cJSON_Delete(spec);
}

static void test_outcome(void)
{
    fw_outcome o;
    CHECK_INT(fw_seq_outcome("ok", 1234.5, &o), 0);
    CHECK(o.kind == FW_OUT_TIME && o.time == 1234.5);
    CHECK_INT(fw_seq_outcome("pruned", 99, &o), 0);
    CHECK(o.kind == FW_OUT_PRUNED && o.time == 99);
    CHECK_INT(fw_seq_outcome("compile_error", 0, &o), 0);
    CHECK(o.kind == FW_OUT_COMPILE_ERROR);
    CHECK_INT(fw_seq_outcome("runtime_error", 0, &o), 0);
    CHECK(o.kind == FW_OUT_CRASHED);
    CHECK_INT(fw_seq_outcome("timeout", 0, &o), 0);
    CHECK(o.kind == FW_OUT_TIMEOUT);
    CHECK_INT(fw_seq_outcome("ok", 0, &o), -EINVAL);
    CHECK_INT(fw_seq_outcome("nonsense", 1, &o), -EINVAL);
    CHECK_STR(fw_seq_origin("anneal"), "anneal");
    CHECK_STR(fw_seq_origin("preset"), "preset");
    CHECK_STR(fw_seq_origin("x"), "?");
    /* budget_s: kept when given, refused when not a positive number of seconds */
    cJSON *spec = spec_for("random", 5, 1, ", \"budget_s\": 2.5");
    CHECK(fw_spec_budget_s(spec) == 2.5);
    /* a fixed order with a time budget carries the ask-ahead its end depends on */
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "options"), "ask_ahead")) ==
          FW_SEQ_ASK_AHEAD_DEFAULT);
    cJSON_Delete(spec);
    spec = spec_for("random", 5, 1, "");
    CHECK(fw_spec_budget_s(spec) == 0 && !cJSON_GetObjectItemCaseSensitive(spec, "budget_s"));
    cJSON_Delete(spec);
    cJSON *u = cJSON_Parse("{\"family\": \"gemm\", \"budget_s\": 0}"), *r = NULL;
    char err[256] = "";
    CHECK(fw_spec_resolve(u, &r, err, sizeof err) < 0 && r == NULL);
    CHECK_HAS(err, "\"budget_s\" must be a number of seconds above 0");
    cJSON_Delete(u);
}

/* The time budget (budget_s, per shape): each evaluation is told with its eval_ms (100 ms, a failure
 * 30 ms); budget_s 1 and ask-ahead A = 3 end a shape at the first position j whose positions < j - A
 * add up to 1000 ms, whatever the depth the worker asks ahead; the shape's points are a prefix of the
 * run without a time budget (it only cuts); a sequencer rebuilt from the told records with their
 * eval_ms ends at the same seqs. For a fixed order and learning strategies alike. */
static double eval_ms_of(fw_outcome o) { return fw_outcome_failed(o) ? 30.0 : 100.0; }

static void drive_timed(fw_seq *q, size_t depth, run *r, double *ms)
{
    for (size_t measured = 0;; measured++) {
        const fw_seq_item *it;
        while (fw_seq_count(q) < measured + 1 + depth && fw_seq_ask(q, &it) == FW_SEQ_ITEM)
            ;
        if (!(it = fw_seq_item_at(q, (int64_t)measured)))
            return;
        CHECK(r->n < 400);
        r->shape[r->n] = it->shape;
        fw_point_key(&it->point, r->key[r->n], sizeof r->key[r->n]);
        r->out[r->n] = fake(it);
        ms[r->n] = eval_ms_of(r->out[r->n]);
        CHECK_INT(fw_seq_tell(q, (int64_t)measured, r->out[r->n], ms[r->n]), 0);
        r->n++;
    }
}

static void test_time_budget(const char *strategy)
{
    cJSON *timed = spec_for(strategy, 40, 6, ", \"budget_s\": 1, \"options\": {\"ask_ahead\": 3}");
    cJSON *plain = spec_for(strategy, 40, 6, ", \"options\": {\"ask_ahead\": 3}");
    run *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b), *full = calloc(1, sizeof *full);
    double ms[400], ms_b[400], ms_full[400];
    fw_seq *q = seq_new(timed), *qb = seq_new(timed), *qf = seq_new(plain);
    CHECK_INT(fw_seq_ask_ahead(q), 3);
    drive_timed(q, 0, a, ms);
    drive_timed(qb, 12, b, ms_b);   /* asked far ahead: the same end */
    drive_timed(qf, 0, full, ms_full);
    CHECK_INT(a->n, b->n);
    for (size_t i = 0; i < a->n && i < b->n; i++)
        CHECK_STR(a->key[i], b->key[i]);
    size_t at = 0, fat = 0;
    for (int s = 0; s < 2; s++) {
        size_t n = 0, nf = 0;
        double spent = 0, before = 0;   /* told at the last ask, and at the one before */
        while (at + n < a->n && a->shape[at + n] == s)
            n++;
        while (fat + nf < full->n && full->shape[fat + nf] == s)
            nf++;
        for (size_t i = 0; i + 3 < n; i++) {
            before = spent;
            spent += ms[at + i];
        }
        for (size_t i = 0; i < n && i < nf; i++)
            CHECK_STR(a->key[at + i], full->key[fat + i]);   /* a prefix of the untimed run */
        CHECK(n <= nf && n > 3);
        CHECK(before < 1000);   /* the ask of position n - 1 still had budget */
        CHECK_INT(fw_seq_timed_out(q, s), n < nf);
        if (n < nf)
            CHECK(spent >= 1000);   /* and position n's ask found it spent */
        at += n;
        fat += nf;
    }
    CHECK(fw_seq_timed_out(q, 0) && a->n < full->n);   /* the budget did cut (shape 0 has the room) */
    /* a resume: the records with their eval_ms, in seq order, then the end at the same seq */
    fw_seq *q2 = seq_new(timed);
    char why[1200];
    for (size_t i = 0; i < a->n; i++)
        CHECK_INT(fw_seq_replay(q2, (int64_t)i, a->key[i], a->out[i], ms[i], why, sizeof why), 0);
    const fw_seq_item *it;
    CHECK_INT(fw_seq_ask(q2, &it), FW_SEQ_END);
    CHECK_INT(fw_seq_count(q2), a->n);
    fw_seq_free(q);
    fw_seq_free(qb);
    fw_seq_free(qf);
    fw_seq_free(q2);
    free(a);
    free(b);
    free(full);
    cJSON_Delete(timed);
    cJSON_Delete(plain);
}

/* Several devices (issue 17), as the daemon drives them: each idle device takes the lowest seq
 * asked and not told that no device holds, else asks; results come back in a seeded random order
 * (whichever device is quicker). stop: after that many results, return (0 = the end). The stored
 * set may then have gaps: seqs still in a device's hands. */
typedef struct devsim {
    int64_t held[8];          /* seq each device measures, -1 = idle */
    unsigned char told[400];
    size_t ntold;
    uint64_t rng;
} devsim;

static void drive_devices(fw_seq *q, int ndev, devsim *s, size_t stop)
{
    for (int d = 0; d < ndev; d++)
        s->held[d] = -1;
    for (;;) {
        for (int d = 0; d < ndev; d++) {
            if (s->held[d] >= 0)
                continue;
            for (size_t k = 0; k < fw_seq_count(q) && s->held[d] < 0; k++) {
                int taken = s->told[k];
                for (int o = 0; o < ndev; o++)
                    taken |= s->held[o] == (int64_t)k;
                if (!taken)
                    s->held[d] = (int64_t)k;
            }
            const fw_seq_item *it;
            if (s->held[d] < 0 && fw_seq_ask(q, &it) == FW_SEQ_ITEM)
                s->held[d] = it->seq;
        }
        int busy = 0;
        for (int d = 0; d < ndev; d++)
            busy += s->held[d] >= 0;
        if (busy == 0 || (stop && s->ntold >= stop))
            return;
        s->rng = s->rng * 6364136223846793005ULL + 1442695040888963407ULL;
        int pick = (int)((s->rng >> 33) % (uint64_t)busy);
        for (int d = 0; d < ndev; d++) {
            if (s->held[d] < 0 || pick-- > 0)
                continue;
            int64_t seq = s->held[d];
            CHECK(seq < 400);
            CHECK_INT(fw_seq_tell(q, seq, fake(fw_seq_item_at(q, seq)), 0), 0);
            s->told[seq] = 1;
            s->ntold++;
            s->held[d] = -1;
            break;
        }
    }
}

static int same_keys(const fw_seq *q, const run *a)
{
    if (fw_seq_count(q) != a->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        char key[128];
        fw_point_key(&fw_seq_item_at(q, (int64_t)i)->point, key, sizeof key);
        if (strcmp(key, a->key[i]) != 0 || fw_seq_item_at(q, (int64_t)i)->shape != a->shape[i])
            return 0;
    }
    return 1;
}

static void test_devices(const char *name)
{
    cJSON *spec = spec_for(name, 30, 7, "");
    run *a = full(spec, 1);
    for (int ndev = 2; ndev <= 4; ndev++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            /* told in whatever order the devices finish: the one-device sequence, point for point */
            devsim s = {.rng = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)ndev};
            fw_seq *q = seq_new(spec);
            drive_devices(q, ndev, &s, 0);
            CHECK_INT(s.ntold, a->n);
            if (!same_keys(q, a))
                fprintf(stderr, "%s: %d devices (order %llu) differ from one device\n", name, ndev,
                        (unsigned long long)seed);
            CHECK(same_keys(q, a));
            fw_seq_free(q);

            /* stopped with gaps (seqs in other devices' hands), rebuilt from the stored records in seq
             * order as a restarted daemon does, and driven on: still the one-device sequence */
            devsim s1 = {.rng = seed * 0x2545f4914f6cdd1dULL + (uint64_t)ndev};
            q = seq_new(spec);
            drive_devices(q, ndev, &s1, 17);
            size_t gaps = 0, last = 0;
            for (size_t k = 0; k < 400; k++)
                if (s1.told[k])
                    last = k;
            for (size_t k = 0; k < last; k++)
                gaps += !s1.told[k];
            fw_seq *q2 = seq_new(spec);
            devsim s2 = {.rng = seed + 99};
            for (size_t k = 0; k <= last; k++) {
                if (!s1.told[k])
                    continue;
                const fw_seq_item *it = fw_seq_item_at(q, (int64_t)k);
                char key[128], why[512];
                fw_point_key(&it->point, key, sizeof key);
                CHECK_INT(fw_seq_replay(q2, (int64_t)k, key, fake(it), 0, why, sizeof why), 0);
                s2.told[k] = 1;
                s2.ntold++;
            }
            fw_seq_free(q);
            drive_devices(q2, ndev, &s2, 0);
            CHECK_INT(s2.ntold, a->n);
            CHECK(same_keys(q2, a));
            fw_seq_free(q2);
            if (ndev == 4 && seed == 1)
                printf("%s: 4 devices, stopped after 17 results with %zu gaps: rebuilt exactly\n", name, gaps);
        }
    }
    free(a);
    cJSON_Delete(spec);
}

/* Plans off the loop (issue 15 item 2): a sequence keeps nothing of its spec (the daemon builds it
 * in a pool thread from a copy it frees), and the work bound and the cancel flag stop a plan with
 * -ETIME / -ECANCELED and a sentence naming the shape. */
static void test_work_bound(void)
{
    for (size_t i = 0; i < sizeof LEARNING / sizeof LEARNING[0]; i++) {
        cJSON *spec = spec_for(LEARNING[i], 10, 3, "");
        fw_seq *q;
        char err[1024];
        CHECK_INT(fw_seq_new(spec, NULL, &q, err, sizeof err), 0);
        cJSON_Delete(spec);   /* ASan: no read of it from here on */
        const fw_seq_item *it;
        int n = 0;
        while (fw_seq_ask(q, &it) == FW_SEQ_ITEM) {
            CHECK_INT(fw_seq_tell(q, it->seq, fake(it), 0), 0);
            n++;
        }
        CHECK_INT(n, 20);
        fw_seq_free(q);
    }
    cJSON *spec = spec_for("grid", 0, 1, "");
    fw_work w = {0};
    fw_plan p;
    char err[1024];
    CHECK_INT(fw_plan_build_work(spec, NULL, &w, &p, err, sizeof err), 0);
    uint64_t all = w.nodes;
    CHECK(all > 0);
    fw_plan_release(&p);
    fw_work bounded = {.max_nodes = all - 1};
    CHECK_INT(fw_plan_build_work(spec, NULL, &bounded, &p, err, sizeof err), -ETIME);
    CHECK_HAS(err, "planning stopped at shape 1 (K=16,M=16,N=64)");
    CHECK_HAS(err, "simplify the constraints");
    fw_work exact = {.max_nodes = all};
    CHECK_INT(fw_plan_build_work(spec, NULL, &exact, &p, err, sizeof err), 0);
    fw_plan_release(&p);
    atomic_int cancel;
    atomic_init(&cancel, 1);
    fw_work cw = {.cancel = &cancel};
    CHECK_INT(fw_plan_build_work(spec, NULL, &cw, &p, err, sizeof err), -ECANCELED);
    CHECK_HAS(err, "planning was cancelled at shape 0");
    cJSON_Delete(spec);
}

int main(void)
{
    test_work_bound();
    for (size_t i = 0; i < sizeof LEARNING / sizeof LEARNING[0]; i++)
        test_learning(LEARNING[i]);
    for (size_t i = 0; i < sizeof LEARNING / sizeof LEARNING[0]; i++)
        test_devices(LEARNING[i]);
    test_ask_ahead();
    test_default_ask_ahead();
    test_blind();
    test_fixed();
    test_replay_mismatch();
    test_outcome();
    test_time_budget("random");
    test_time_budget("grid");
    test_time_budget("auto");
    test_time_budget("anneal");
    if (fw_check_failures == 0)
        printf("test_seq: all checks passed\n");
    return fw_check_failures != 0;
}
