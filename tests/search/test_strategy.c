/* test_strategy.c - the ask/tell strategies (fw_strategy.h) and the Kernel Tuner reader (replay/)
 * on a small recorded space the test writes itself (no /work/shared): a structured 4-knob space
 * with a constraint (absent configurations), compile failures, and runtime failures at the fastest
 * points. Deterministic: fixed seeds, no timing. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "fw_replay.h"
#include "fw_strategy.h"

static int failures;
#define CHECK(c, ...) do { if (!(c)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static const char *learners[] = {"anneal", "genetic", "model", "auto"};
static const char *all[] = {"random", "anneal", "genetic", "model", "auto"};

/* The synthetic kernel: a smooth bowl with its floor at a=5, b=2, c=1, plus a ripple on d. */
static double ktime(int a, int b, int c, int d)
{
    return 1.0 + 0.08 * (a - 5) * (a - 5) + 0.11 * (b - 2) * (b - 2) + 0.3 * (c - 1) * (c - 1)
           + 0.05 * ((a + d) % 3) + 0.02 * a * (b % 2);
}

/* Writes the space as Kernel Tuner JSON; fails_at_fastest: the 6 fastest points record
 * "RuntimeFailedConfig". Returns the text (malloc'd). */
static char *make_space(int fails_at_fastest)
{
    size_t cap = 1 << 20, len = 0;
    char *s = malloc(cap);
    len += (size_t)snprintf(s + len, cap - len,
        "{\"kernel_name\": \"synthetic\", \"tune_params_keys\": [\"a\", \"b\", \"c\", \"d\"],"
        " \"tune_params\": {\"a\": [0,1,2,3,4,5,6,7], \"b\": [1,2,4,8,16,32,64,128],"
        " \"c\": [0,1,2,3], \"d\": [\"x\",\"y\",\"z\"]}, \"objective\": \"time\", \"cache\": {");
    int first = 1;
    for (int a = 0; a < 8; a++)
        for (int b = 0; b < 8; b++)
            for (int c = 0; c < 4; c++)
                for (int d = 0; d < 3; d++) {
                    if ((a + b) % 5 == 4)
                        continue;   /* never valid: absent from the cache */
                    double t = ktime(a, b, c, d);
                    char tv[64];
                    if (d == 2 && a >= 6)
                        snprintf(tv, sizeof tv, "\"CompilationFailedConfig\"");
                    else if (fails_at_fastest && t < 1.0 + 0.06)
                        snprintf(tv, sizeof tv, "\"RuntimeFailedConfig\"");
                    else
                        snprintf(tv, sizeof tv, "%.6f, \"times\": [%.6f, %.6f]", t, t * 0.99, t * 1.01);
                    len += (size_t)snprintf(s + len, cap - len,
                        "%s\"%d,%d,%d,%c\": {\"a\": %d, \"b\": %d, \"c\": %d, \"d\": \"%c\", \"time\": %s}",
                        first ? "" : ", ", a, 1 << b, c, "xyz"[d], a, 1 << b, c, "xyz"[d], tv);
                    first = 0;
                }
    snprintf(s + len, cap - len, "}}");
    return s;
}

static fw_sspace view(const fw_replay_space *sp)
{
    fw_sspace s = {sp->nknobs, (const char *const *)sp->names, sp->nvals, sp->npoints, sp->points};
    return s;
}

static fw_outcome outcome(const fw_replay_space *sp, size_t i)
{
    fw_outcome o = {FW_OUT_TIME, sp->rec[i].time_ms};
    if (sp->rec[i].status == FW_REPLAY_COMPILE_ERROR)
        o.kind = FW_OUT_COMPILE_ERROR;
    else if (sp->rec[i].status != FW_REPLAY_OK)
        o.kind = FW_OUT_CRASHED;
    return o;
}

/* Serial run: ask(1)/tell until budget; returns the count, sequence in seq. */
static size_t run(const fw_replay_space *sp, const char *name, uint64_t seed, size_t budget, size_t *seq)
{
    fw_sspace v = view(sp);
    char err[128];
    fw_strategy *s = fw_strategy_new(name, &v, seed, 0, budget, err, sizeof err);
    if (!s)
        return 0;
    size_t n = 0, p;
    while (fw_strategy_ask(s, 1, &p) == 1) {
        seq[n++] = p;
        fw_strategy_tell(s, p, outcome(sp, p));
    }
    fw_strategy_free(s);
    return n;
}

static void test_reader(const char *dir)
{
    char *text = make_space(1);
    char pj[512], pz[512], err[256];
    snprintf(pj, sizeof pj, "%s/space.json", dir);
    snprintf(pz, sizeof pz, "%s/space.json.gz", dir);
    FILE *f = fopen(pj, "w");
    fputs(text, f);
    fclose(f);
    gzFile g = gzopen(pz, "wb");
    gzwrite(g, text, (unsigned)strlen(text));
    gzclose(g);
    fw_replay_space a, b;
    CHECK(fw_replay_load(pj, &a, err, sizeof err) == 0, "load .json: %s", err);
    CHECK(fw_replay_load(pz, &b, err, sizeof err) == 0, "load .json.gz: %s", err);
    CHECK(a.nknobs == 4 && a.nvals[1] == 8 && a.nvals[3] == 3, "knobs read");
    CHECK(strcmp(a.names[2], "c") == 0 && strcmp(a.values[1][3], "8") == 0 && strcmp(a.values[3][1], "y") == 0,
          "names and values read");
    CHECK(a.npoints == b.npoints && a.npoints > 500 && a.npoints < 768, "npoints %zu / %zu", a.npoints, b.npoints);
    CHECK(memcmp(a.points, b.points, a.npoints * 4 * sizeof *a.points) == 0, ".json and .json.gz agree");
    size_t comp = 0, crash = 0, ok = 0;
    for (size_t i = 0; i < a.npoints; i++) {
        const uint16_t *t = a.points + i * 4;
        comp += a.rec[i].status == FW_REPLAY_COMPILE_ERROR;
        crash += a.rec[i].status == FW_REPLAY_CRASHED;
        if (a.rec[i].status == FW_REPLAY_OK) {
            ok++;
            CHECK(fabs(a.rec[i].time_ms - ktime(t[0], t[1], t[2], t[3])) < 1e-5 && a.rec[i].nsamples == 2,
                  "time and samples of point %zu", i);
        }
    }
    CHECK(comp > 0 && crash > 0 && ok + comp + crash == a.npoints, "failure strings read (%zu, %zu)", comp, crash);
    CHECK(a.optimum_ms > 1.06 - 1e-9, "the optimum is the best successful time (%g)", a.optimum_ms);
    fw_pcg32 r1, r2;
    fw_pcg32_seed(&r1, 5, 1);
    fw_pcg32_seed(&r2, 5, 1);
    double m1 = fw_replay_measure(&a, 0, 0.05, &r1), m2 = fw_replay_measure(&a, 0, 0.05, &r2);
    CHECK(m1 == m2 && m1 != a.rec[0].time_ms, "seeded noise repeats and perturbs");
    CHECK(fw_replay_measure(&a, 0, 0, NULL) == a.rec[0].time_ms, "no noise: the recorded time");
    fw_replay_release(&b);
    CHECK(fw_replay_parse("{\"tune_params_keys\": [\"a\"], \"tune_params\": {\"a\": [1]}, \"cache\": "
                          "{\"2\": {\"a\": 2, \"time\": 1.0}}}", 86, &b, err, sizeof err) == -EINVAL,
          "a value outside tune_params is refused");
    CHECK(fw_replay_load("/nonexistent/x.json", &b, err, sizeof err) < 0, "missing file refused");
    fw_replay_release(&a);
    unlink(pj);
    unlink(pz);
    free(text);
}

static void test_sequences(const fw_replay_space *sp)
{
    size_t n = sp->npoints, s1[800], s2[800];
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        size_t k1 = run(sp, all[i], 7, 60, s1), k2 = run(sp, all[i], 7, 60, s2);
        CHECK(k1 == 60 && k2 == 60 && memcmp(s1, s2, sizeof(size_t) * 60) == 0, "%s: same seed, same sequence", all[i]);
        size_t k3 = run(sp, all[i], 8, 60, s2);
        CHECK(k3 == 60 && memcmp(s1, s2, sizeof(size_t) * 60) != 0, "%s: another seed, another sequence", all[i]);
        /* the whole space: every point once, none invalid */
        size_t k = run(sp, all[i], 3, 0, s1);
        unsigned char *seen = calloc(n, 1);
        int bad = 0;
        for (size_t j = 0; j < k; j++) {
            bad |= s1[j] >= n || seen[s1[j]];
            if (s1[j] < n)
                seen[s1[j]] = 1;
        }
        CHECK(k == n && !bad, "%s: %zu proposals cover the %zu points once each", all[i], k, n);
        free(seen);
        /* restart: tell a fresh strategy the first 25 results, continue: same as uninterrupted */
        run(sp, all[i], 11, 60, s1);
        fw_sspace v = view(sp);
        char err[128];
        fw_strategy *s = fw_strategy_new(all[i], &v, 11, 0, 60, err, sizeof err);
        for (size_t j = 0; j < 25; j++)
            CHECK(fw_strategy_tell(s, s1[j], outcome(sp, s1[j])) == 0, "rebuild tell");
        size_t p, m = 25;
        while (fw_strategy_ask(s, 1, &p) == 1) {
            s2[m++] = p;
            fw_strategy_tell(s, p, outcome(sp, p));
        }
        CHECK(m == 60 && memcmp(s1 + 25, s2 + 25, sizeof(size_t) * 35) == 0, "%s: rebuilt run continues as the "
              "uninterrupted one", all[i]);
        CHECK(fw_strategy_tell(s, s1[3], outcome(sp, s1[3])) == -EINVAL, "%s: told twice refused", all[i]);
        fw_strategy_free(s);
        /* pending batches: ask 4 at a time, budget 30 holds, no repeats */
        s = fw_strategy_new(all[i], &v, 5, 0, 30, err, sizeof err);
        size_t batch[4], total = 0;
        memset(s2, 0, sizeof s2);
        for (size_t got; (got = fw_strategy_ask(s, 4, batch)) > 0;) {
            for (size_t j = 0; j < got; j++)
                s2[total++] = batch[j];
            for (size_t j = got; j-- > 0;)
                fw_strategy_tell(s, batch[j], outcome(sp, batch[j]));
        }
        int rep = 0;
        for (size_t a = 0; a < total; a++)
            for (size_t b = a + 1; b < total; b++)
                rep |= s2[a] == s2[b];
        CHECK(total == 30 && !rep && fw_strategy_count(s) == 30, "%s: budget 30 with batches of 4 (%zu)", all[i], total);
        fw_strategy_free(s);
    }
    /* random keeps fw_search_random's order */
    size_t ref[60];
    size_t kr = fw_search_random(9, 0, n, 60, ref);
    run(sp, "random", 9, 60, s1);
    CHECK(kr == 60 && memcmp(ref, s1, sizeof ref) == 0, "random = fw_search_random");
}

/* Blind proposals (fw_strategy_blind_asks): the counts each strategy reports, and that asking them
 * all before any tell gives the serial ask-one-tell-one sequence, blind part and continuation. */
static void test_blind(const fw_replay_space *sp)
{
    static const size_t expect[] = {SIZE_MAX, 1, 6, 10, 10};   /* the order of all[] */
    fw_sspace v = view(sp);
    char err[128];
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        size_t s1[60], s2[60], p;
        size_t k1 = run(sp, all[i], 4, 60, s1);
        fw_strategy *s = fw_strategy_new(all[i], &v, 4, 0, 60, err, sizeof err);
        CHECK(s && fw_strategy_blind_asks(s) == expect[i], "%s: %zu blind asks", all[i], expect[i]);
        size_t b = expect[i] < 60 ? expect[i] : 60, m = 0;
        for (; m < b; m++) {
            CHECK(fw_strategy_blind_asks(s) == expect[i] - (expect[i] == SIZE_MAX ? 0 : m), "%s: counts down", all[i]);
            CHECK(fw_strategy_tells_due(s, m, 0) == 0, "%s: a blind ask needs no result", all[i]);
            CHECK(fw_strategy_ask(s, 1, &s2[m]) == 1, "%s: blind ask", all[i]);
        }
        if (expect[i] != SIZE_MAX)
            CHECK(fw_strategy_blind_asks(s) == 0 && fw_strategy_tells_due(s, b, 0) == b
                  && fw_strategy_tells_due(s, b, 2) == (b > 2 ? b - 2 : 0) && fw_strategy_tells_due(s, b, b + 3) == 0,
                  "%s: past its blind phase the ask-ahead rule applies", all[i]);
        for (size_t j = 0; j < m; j++)
            fw_strategy_tell(s, s2[j], outcome(sp, s2[j]));
        while (m < 60 && fw_strategy_ask(s, 1, &p) == 1) {
            s2[m++] = p;
            fw_strategy_tell(s, p, outcome(sp, p));
        }
        CHECK(k1 == 60 && m == 60 && memcmp(s1, s2, sizeof s1) == 0, "%s: blind asks first, same sequence", all[i]);
        fw_strategy_free(s);
        /* a claim (a preset) uses up a blind proposal as an ask does */
        s = fw_strategy_new(all[i], &v, 4, 0, 60, err, sizeof err);
        CHECK(fw_strategy_claim(s, 0) == 0 && fw_strategy_blind_asks(s) == (expect[i] == SIZE_MAX ? SIZE_MAX : expect[i] - 1),
              "%s: a claim counts", all[i]);
        fw_strategy_free(s);
    }
}

/* A run with asks ahead: the point at position j is asked once the results of the first
 * fw_strategy_tells_due(j, ahead) positions were told (the sequencer's rule), so up to `ahead` are
 * pending at each ask and the model believes values for them. */
static size_t run_ahead(const fw_replay_space *sp, const char *name, uint64_t seed, size_t budget, size_t ahead,
                        size_t *seq)
{
    fw_sspace v = view(sp);
    char err[128];
    fw_strategy *s = fw_strategy_new(name, &v, seed, 0, budget, err, sizeof err);
    if (!s)
        return 0;
    size_t n = 0, told = 0;
    for (;;) {
        for (size_t need = fw_strategy_tells_due(s, n, ahead); told < need; told++)
            fw_strategy_tell(s, seq[told], outcome(sp, seq[told]));
        if (fw_strategy_ask(s, 1, &seq[n]) != 1)
            break;
        n++;
    }
    fw_strategy_free(s);
    return n;
}

/* Pending points change the learners' proposals (the believer, auto's arms) but never their
 * determinism: the same interleaving gives the same sequence, and it holds no repeat. */
static void test_pipelined(const fw_replay_space *sp)
{
    for (size_t i = 0; i < sizeof learners / sizeof *learners; i++) {
        size_t s1[80], s2[80], s0[80];
        size_t k1 = run_ahead(sp, learners[i], 7, 80, 6, s1), k2 = run_ahead(sp, learners[i], 7, 80, 6, s2);
        CHECK(k1 == 80 && k2 == 80 && memcmp(s1, s2, sizeof s1) == 0, "%s: ask-ahead 6, same sequence twice",
              learners[i]);
        int rep = 0;
        for (size_t a = 0; a < k1; a++)
            for (size_t b = a + 1; b < k1; b++)
                rep |= s1[a] == s1[b];
        CHECK(!rep, "%s: no repeat with points pending", learners[i]);
        size_t k0 = run_ahead(sp, learners[i], 7, 80, 0, s0), kr = run(sp, learners[i], 7, 80, s2);
        CHECK(k0 == 80 && kr == 80 && memcmp(s0, s2, sizeof s0) == 0, "%s: ask-ahead 0 is the serial run",
              learners[i]);
    }
}

/* fw_strategy_peek changes nothing: a run that peeks 8 before every ask asks what the run without
 * peeks asks, and the first peeked point is the next ask whenever no result comes in between. */
static void test_peek(const fw_replay_space *sp)
{
    fw_sspace v = view(sp);
    char err[128];
    for (size_t i = 0; i < sizeof learners / sizeof *learners; i++) {
        size_t plain[80], seq[80], pk[8];
        size_t kp = run_ahead(sp, learners[i], 3, 80, 4, plain), n = 0, told = 0;
        int first_ok = 1, distinct = 1, peeked = 0;
        fw_strategy *s = fw_strategy_new(learners[i], &v, 3, 0, 80, err, sizeof err);
        for (; s;) {
            for (size_t need = fw_strategy_tells_due(s, n, 4); told < need; told++)
                fw_strategy_tell(s, seq[told], outcome(sp, seq[told]));
            size_t k = fw_strategy_peek(s, 8, pk), before = fw_strategy_count(s);
            peeked += k > 1;
            for (size_t a = 0; a < k; a++)
                for (size_t b = a + 1; b < k; b++)
                    distinct &= pk[a] != pk[b];
            if (fw_strategy_ask(s, 1, &seq[n]) != 1)
                break;
            first_ok &= k >= 1 && pk[0] == seq[n] && before == n;
            n++;
        }
        fw_strategy_free(s);
        CHECK(n == kp && memcmp(seq, plain, n * sizeof *seq) == 0, "%s: peeks before every ask leave the sequence "
              "as it is (%zu of %zu asks)", learners[i], n, kp);
        CHECK(first_ok && distinct && peeked > 0, "%s: the first peeked point is the next ask, the peeked points "
              "are distinct", learners[i]);
    }
    fw_strategy *r = fw_strategy_new("random", &v, 3, 0, 80, err, sizeof err);
    CHECK(r && fw_strategy_peek(r, 8, (size_t[8]){0}) == 0, "random peeks nothing (its order is fixed)");
    fw_strategy_free(r);
}

/* Mean best/optimum over seeds 0..19 at a budget, and mean number of failed evaluations. */
static double mean_ratio(const fw_replay_space *sp, const char *name, size_t budget, double *fails)
{
    size_t seq[800];
    double sum = 0;
    *fails = 0;
    for (uint64_t seed = 0; seed < 20; seed++) {
        size_t k = run(sp, name, seed, budget, seq);
        double best = INFINITY;
        for (size_t j = 0; j < k; j++) {
            if (sp->rec[seq[j]].status == FW_REPLAY_OK && sp->rec[seq[j]].time_ms < best)
                best = sp->rec[seq[j]].time_ms;
            *fails += sp->rec[seq[j]].status != FW_REPLAY_OK;
        }
        sum += best / sp->optimum_ms;
    }
    *fails /= 20;
    return sum / 20;
}

static void test_learning(const fw_replay_space *sp, const char *label)
{
    double rf, r = mean_ratio(sp, "random", 30, &rf);
    for (size_t i = 0; i < sizeof learners / sizeof *learners; i++) {
        double f, m = mean_ratio(sp, learners[i], 30, &f);
        printf("%s: %-8s mean ratio %.4f (random %.4f), failed evals %.2f (random %.2f)\n", label, learners[i],
               m, r, f, rf);
        CHECK(m < r, "%s: %s beats random's mean at budget 30 (%.4f vs %.4f)", label, learners[i], m, r);
    }
}

int main(void)
{
    char dir[] = "/tmp/fw_test_strategyXXXXXX";
    if (!mkdtemp(dir))
        return 1;
    test_reader(dir);
    char err[256];
    fw_replay_space plain, trap;
    char *t1 = make_space(0), *t2 = make_space(1);
    CHECK(fw_replay_parse(t1, strlen(t1), &plain, err, sizeof err) == 0, "%s", err);
    CHECK(fw_replay_parse(t2, strlen(t2), &trap, err, sizeof err) == 0, "%s", err);
    test_sequences(&trap);
    test_blind(&trap);
    test_pipelined(&trap);
    test_peek(&trap);
    test_learning(&plain, "plain");
    test_learning(&trap, "fastest fail");
    /* failures do not attract the model: on the space whose fastest points fail it spends no more
     * of its budget on failures than uniform sampling does, and still finds good working points */
    double rf, mf;
    mean_ratio(&trap, "random", 30, &rf);
    double mr = mean_ratio(&trap, "model", 30, &mf);
    CHECK(mf <= 1.5 * rf, "model spends no more on failures than sampling does (%.2f vs %.2f)", mf, rf);
    CHECK(mr < 1.25, "model finds working points near the failing floor (%.4f)", mr);
    fw_sspace v = view(&plain);
    CHECK(fw_strategy_new("nope", &v, 1, 0, 10, err, sizeof err) == NULL && strstr(err, "unknown strategy"),
          "unknown name refused");
    fw_strategy *s = fw_strategy_new("auto", &v, 1, 0, 10, err, sizeof err);
    fw_outcome pr = {FW_OUT_PRUNED, 0.5}, bad = {FW_OUT_TIME, NAN}, to = {FW_OUT_TIMEOUT, 0};
    CHECK(fw_strategy_tell(s, 0, pr) == 0 && fw_strategy_tell(s, 1, to) == 0, "pruned and timeout told");
    CHECK(fw_strategy_tell(s, 2, bad) == -EINVAL && fw_strategy_tell(s, plain.npoints, pr) == -EINVAL,
          "a NaN time and a point out of range refused");
    CHECK(fw_strategy_count(s) == 2, "told points count as proposed (%zu)", fw_strategy_count(s));
    fw_strategy_free(s);
    fw_replay_release(&plain);
    fw_replay_release(&trap);
    free(t1);
    free(t2);
    rmdir(dir);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
