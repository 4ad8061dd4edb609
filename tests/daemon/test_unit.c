/* Unit tests of the daemon's pure parts: line framing, the compare statistics and the ETA. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_daemon.h"
#include "fw_pcg32.h"

static int failures;

#define CHECK(cond, ...)                                                \
    do {                                                                \
        if (cond) {                                                     \
            printf("ok - ");                                            \
        } else {                                                        \
            printf("not ok - ");                                        \
            failures++;                                                 \
        }                                                               \
        printf(__VA_ARGS__);                                            \
        printf("\n");                                                   \
    } while (0)

/* Reference tau-b by definition, O(n^2). */
static double tau_brute(const double *x, const double *y, size_t n)
{
    double c = 0, dsc = 0, tx = 0, ty = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double a = x[i] - x[j], b = y[i] - y[j];
            if (a == 0 && b == 0)
                continue;
            if (a == 0)
                tx++;
            else if (b == 0)
                ty++;
            else if ((a > 0) == (b > 0))
                c++;
            else
                dsc++;
        }
    return (c - dsc) / sqrt((c + dsc + tx) * (c + dsc + ty));
}

static void test_tau(void)
{
    double x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {10, 20, 30, 40, 50, 60}, r[6] = {6, 5, 4, 3, 2, 1};
    fw_daemon_tau t;
    double v;
    fw_daemon_tau_compute(x, y, 6, &t);
    CHECK(fw_daemon_tau_value(&t, &v) == 0 && v == 1.0, "tau: same order gives 1 (%g)", v);
    fw_daemon_tau_compute(x, r, 6, &t);
    CHECK(fw_daemon_tau_value(&t, &v) == 0 && v == -1.0, "tau: reversed order gives -1 (%g)", v);
    fw_daemon_tau_compute(x, y, 1, &t);
    CHECK(fw_daemon_tau_value(&t, &v) == -EDOM, "tau: undefined for one pair");
    double same[3] = {5, 5, 5};
    fw_daemon_tau_compute(x, same, 3, &t);
    CHECK(fw_daemon_tau_value(&t, &v) == -EDOM, "tau: undefined when every y is tied");

    /* Random data with many ties against the definition. */
    fw_pcg32 rng;
    fw_pcg32_seed(&rng, 42, 54);
    int agree = 1;
    for (int round = 0; round < 50; round++) {
        size_t n = 2 + fw_pcg32_bounded(&rng, 200);
        double *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            a[i] = fw_pcg32_bounded(&rng, 12);
            b[i] = a[i] * (round % 3) + fw_pcg32_bounded(&rng, 9);
        }
        double want = tau_brute(a, b, n);
        fw_daemon_tau_compute(a, b, n, &t);
        if (fw_daemon_tau_value(&t, &v) != 0 || fabs(v - want) > 1e-12) {
            agree = 0;
            printf("# n=%zu got %.15g want %.15g\n", n, v, want);
        }
        free(a);
        free(b);
    }
    CHECK(agree, "tau: O(n log n) tau-b equals the O(n^2) definition on 50 random tied samples");

    /* Pooling two strata sums their numerators and pair counts. */
    fw_daemon_tau p = {0}, q;
    fw_daemon_tau_compute(x, y, 6, &q);
    fw_daemon_tau_pool(&p, &q);
    fw_daemon_tau_compute(x, r, 6, &q);
    fw_daemon_tau_pool(&p, &q);
    CHECK(fw_daemon_tau_value(&p, &v) == 0 && v == 0.0, "tau: pooling +1 and -1 strata of equal size gives 0");

    double s[4] = {4, 1, 3, 2}, mn, md, mx;
    CHECK(fw_daemon_spread(s, 4, &mn, &md, &mx) == 0 && mn == 1 && md == 2.5 && mx == 4, "spread: min/median/max");
    CHECK(fw_daemon_spread(s, 0, &mn, &md, &mx) == -EDOM, "spread: empty is undefined");
}

static cJSON *seq_item(int seq, const char *shape, const char *variant, const char *status, double median)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seq", seq);
    cJSON_AddStringToObject(o, "shape_key", shape);
    cJSON_AddStringToObject(o, "variant_key", variant);
    cJSON_AddStringToObject(o, "status", status);
    if (median > 0)
        cJSON_AddNumberToObject(o, "median_ns", median);
    else
        cJSON_AddNullToObject(o, "median_ns");
    return o;
}

static void test_compare(void)
{
    cJSON *a = cJSON_CreateArray(), *b = cJSON_CreateArray();
    const char *vs[] = {"T=1", "T=2", "T=3", "T=4", "T=5", "T=6", "T=7"};
    for (int i = 0; i < 7; i++) {
        /* Shape S1: same order in both; shape S2: reversed in b. seq 3 crashed in b. */
        const char *shape = i < 4 ? "S1" : "S2";
        cJSON_AddItemToArray(a, seq_item(i, shape, vs[i], "ok", 100 + i));
        double mb = i < 4 ? 200 + 2 * i : 300 - i;
        cJSON_AddItemToArray(b, seq_item(i, shape, vs[i], i == 3 ? "crashed" : "ok", i == 3 ? 0 : mb));
    }
    cJSON *res = NULL;
    char err[256];
    CHECK(fw_daemon_compare(a, b, &res, err, sizeof(err)) == 0, "compare: runs");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(res, "same_variants")), "compare: same sequence -> same_variants");
    CHECK(cJSON_GetObjectItem(res, "common_verified")->valuedouble == 6, "compare: 6 variants verified in both");
    /* S1: 3 common, all concordant (num 3, pairs 3); S2: 3 common, all discordant (num -3, pairs 3). */
    CHECK(cJSON_GetObjectItem(res, "kendall_tau")->valuedouble == 0.0, "compare: pooled tau of +1 and -1 shapes is 0");
    cJSON *shapes = cJSON_GetObjectItem(res, "shapes");
    CHECK(cJSON_GetArraySize(shapes) == 2 &&
          cJSON_GetObjectItem(cJSON_GetArrayItem(shapes, 0), "kendall_tau")->valuedouble == 1.0 &&
          cJSON_GetObjectItem(cJSON_GetArrayItem(shapes, 1), "kendall_tau")->valuedouble == -1.0,
          "compare: per-shape tau 1 and -1");
    cJSON *mr = cJSON_GetObjectItem(res, "median_ratio");
    CHECK(fabs(cJSON_GetObjectItem(mr, "min")->valuedouble - 2.0) < 1e-12 &&
          fabs(cJSON_GetObjectItem(mr, "median")->valuedouble - 0.5 * (2.0 + 294.0 / 106)) < 1e-12 &&
          fabs(cJSON_GetObjectItem(mr, "max")->valuedouble - 296.0 / 104) < 1e-12,
          "compare: median ratio spread B/A");
    CHECK(cJSON_GetObjectItem(res, "top5_overlap")->valuedouble == 6, "compare: top-5 overlap counts each shape");
    cJSON_Delete(res);

    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(b, 5), "variant_key", cJSON_CreateString("T=9"));
    CHECK(fw_daemon_compare(a, b, &res, err, sizeof(err)) == 0 &&
          cJSON_IsFalse(cJSON_GetObjectItem(res, "same_variants")), "compare: a different variant -> not same");
    cJSON_Delete(res);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* A stored job row as fw_db_job_get gives it: what compare's divergence reads. */
static cJSON *job_row(const char *strategy, int ahead, const char *seed)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "strategy", strategy);
    cJSON_AddStringToObject(j, "seed_text", seed);
    cJSON_AddStringToObject(j, "spec_hash", "h1");
    cJSON_AddStringToObject(j, "device", "replay:0");
    cJSON *spec = cJSON_AddObjectToObject(j, "spec");
    cJSON_AddStringToObject(spec, "strategy", strategy);
    if (ahead >= 0)
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(spec, "options"), "ask_ahead", ahead);
    return j;
}

/* Issue 11: where two sequences of one spec and seed diverge, and which told results explain it. */
static void test_divergence(void)
{
    /* Shape S: positions 0..5 (seq 0..5); shape R: positions 0..1 (seq 6, 7), identical in both. */
    const char *va[] = {"T=1", "T=2", "T=3", "T=4", "T=5", "T=6", "U=1", "U=2"};
    cJSON *a = cJSON_CreateArray(), *b = cJSON_CreateArray();
    for (int i = 0; i < 8; i++) {
        const char *shape = i < 6 ? "S" : "R";
        cJSON_AddItemToArray(a, seq_item(i, shape, va[i], "ok", 100 + i));
        cJSON_AddItemToArray(b, seq_item(i, shape, va[i], "ok", 100 + i));
    }
    cJSON *ja = job_row("anneal", 2, "7"), *jb = job_row("anneal", 2, "7");
    cJSON *res = cJSON_CreateObject();
    CHECK(fw_daemon_compare_divergence(a, b, ja, jb, res) == 0, "divergence: runs");
    cJSON *sq = cJSON_GetObjectItem(res, "sequence");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(sq, "identical")) && cJSON_IsNull(cJSON_GetObjectItem(res, "divergence")) &&
          cJSON_GetArraySize(cJSON_GetObjectItem(res, "divergences")) == 0,
          "divergence: the same records -> identical sequences, no divergence");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(sq, "fixed_order")) &&
          cJSON_GetObjectItem(sq, "ask_ahead")->valuedouble == 2 && cJSON_IsTrue(cJSON_GetObjectItem(sq, "same_setup")),
          "divergence: learning strategy, ask-ahead 2, same setup");
    cJSON_Delete(res);

    /* b told position 1 slower and position 3 crashed; b's position 5 is another variant. Position 5
     * depended on positions < 5 - 2 = 3: position 1 is the cause, position 3 (told later) is not. */
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(b, 1), "median_ns", cJSON_CreateNumber(150));
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(b, 3), "status", cJSON_CreateString("crashed"));
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(b, 3), "median_ns", cJSON_CreateNull());
    cJSON_ReplaceItemInObject(cJSON_GetArrayItem(b, 5), "variant_key", cJSON_CreateString("T=9"));
    res = cJSON_CreateObject();
    CHECK(fw_daemon_compare_divergence(a, b, ja, jb, res) == 0, "divergence: runs on diverging records");
    cJSON *dv = cJSON_GetObjectItem(res, "divergence");
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(res, "sequence"), "identical")) &&
          cJSON_GetArraySize(cJSON_GetObjectItem(res, "divergences")) == 1,
          "divergence: one shape diverged (R did not)");
    CHECK(dv && strcmp(cJSON_GetObjectItem(dv, "shape_key")->valuestring, "S") == 0 &&
          cJSON_GetObjectItem(dv, "position")->valuedouble == 5 && cJSON_GetObjectItem(dv, "seq_a")->valuedouble == 5 &&
          cJSON_GetObjectItem(dv, "seq_b")->valuedouble == 5 &&
          strcmp(cJSON_GetObjectItem(dv, "variant_a")->valuestring, "T=6") == 0 &&
          strcmp(cJSON_GetObjectItem(dv, "variant_b")->valuestring, "T=9") == 0,
          "divergence: shape S at position 5, T=6 vs T=9");
    cJSON *cause = cJSON_GetObjectItem(dv, "cause");
    cJSON *c0 = cJSON_GetArrayItem(cause, 0);
    CHECK(cJSON_GetArraySize(cause) == 1 && cJSON_GetObjectItem(dv, "cause_total")->valuedouble == 1 &&
          cJSON_GetObjectItem(c0, "position")->valuedouble == 1 &&
          strcmp(cJSON_GetObjectItem(c0, "variant")->valuestring, "T=2") == 0 &&
          cJSON_GetObjectItem(cJSON_GetObjectItem(c0, "a"), "median_ns")->valuedouble == 101 &&
          cJSON_GetObjectItem(cJSON_GetObjectItem(c0, "b"), "median_ns")->valuedouble == 150 &&
          fabs(cJSON_GetObjectItem(c0, "ratio")->valuedouble - 150.0 / 101) < 1e-12,
          "divergence: the cause is position 1 (101 vs 150 ns), not position 3 (told after it was asked)");
    cJSON_Delete(res);

    /* With ask-ahead 0 the crash at position 3 was told before position 5 too: a status cause. */
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(ja, "spec"), "options"), "ask_ahead",
                              cJSON_CreateNumber(0));
    res = cJSON_CreateObject();
    fw_daemon_compare_divergence(a, b, ja, jb, res);
    cause = cJSON_GetObjectItem(cJSON_GetObjectItem(res, "divergence"), "cause");
    c0 = cJSON_GetArrayItem(cause, 1);
    CHECK(cJSON_GetArraySize(cause) == 2 && cJSON_GetObjectItem(c0, "position")->valuedouble == 3 &&
          strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(c0, "b"), "status")->valuestring, "crashed") == 0 &&
          cJSON_IsNull(cJSON_GetObjectItem(c0, "ratio")),
          "divergence: ask-ahead 0 -> the crash told at position 3 is a cause too");
    cJSON_Delete(res);
    cJSON_Delete(ja);
    cJSON_Delete(jb);

    /* A fixed order never depends on times: no cause, and a different seed is named. */
    ja = job_row("random", -1, "7");
    jb = job_row("random", -1, "8");
    res = cJSON_CreateObject();
    fw_daemon_compare_divergence(a, b, ja, jb, res);
    sq = cJSON_GetObjectItem(res, "sequence");
    dv = cJSON_GetObjectItem(res, "divergence");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(sq, "fixed_order")) && cJSON_IsNull(cJSON_GetObjectItem(sq, "ask_ahead")) &&
          cJSON_IsFalse(cJSON_GetObjectItem(sq, "same_setup")) &&
          cJSON_GetArraySize(cJSON_GetObjectItem(dv, "cause")) == 0 &&
          strstr(cJSON_GetObjectItem(dv, "explanation")->valuestring, "fixed order") &&
          strstr(cJSON_GetObjectItem(dv, "explanation")->valuestring, "seeds"),
          "divergence: fixed order -> no cause, the setup differs");
    cJSON_Delete(res);

    /* b stopped early in shape R: diverged at its end, b's side null. */
    cJSON_DeleteItemFromArray(b, 7);
    res = cJSON_CreateObject();
    fw_daemon_compare_divergence(a, b, ja, jb, res);
    dv = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "divergences"), 1);
    CHECK(dv && strcmp(cJSON_GetObjectItem(dv, "shape_key")->valuestring, "R") == 0 &&
          cJSON_GetObjectItem(dv, "position")->valuedouble == 1 && cJSON_IsNull(cJSON_GetObjectItem(dv, "seq_b")) &&
          cJSON_IsNull(cJSON_GetObjectItem(dv, "variant_b")) &&
          strstr(cJSON_GetObjectItem(dv, "explanation")->valuestring, "fewer points"),
          "divergence: a shorter run diverges where it ended");
    cJSON_Delete(res);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    cJSON_Delete(a);
    cJSON_Delete(b);
}

/* The ETA on numbers chosen here (issue 19 item 10): the finalists' launches are counted. */
static void test_eta(void)
{
    fw_daemon_eta_est e;
    /* 10 s for 4 variants, 6 left: 15 s measuring; 2 candidates of 1 ms and 3 ms, 3 + 5 x 10 = 53
     * launches each: 0.212 s of finalists */
    fw_daemon_eta_in in = {.elapsed_s = 10, .measured_this_run = 4, .variants_left = 6, .finalists = 1,
                           .cand_sum_ns = 4e6, .launches = 53};
    fw_daemon_eta_estimate(&in, &e);
    CHECK(fabs(e.measuring_s - 15) < 1e-9 && fabs(e.per_variant_s - 2.5) < 1e-9, "eta: measuring part %g", e.measuring_s);
    CHECK(fabs(e.finalists_s - 0.212) < 1e-9 && fabs(e.total_s - 15.212) < 1e-9, "eta: finalists %g, total %g",
          e.finalists_s, e.total_s);
    in.finalists = 0;   /* options.finalists 0, or already re-timed */
    fw_daemon_eta_estimate(&in, &e);
    CHECK(e.finalists_s == 0 && fabs(e.total_s - 15) < 1e-9, "eta: no finalists, no finalists part (%g)", e.total_s);
    /* the finalists phase: nothing left to measure, the re-timing's elapsed time is taken off */
    in = (fw_daemon_eta_in){.elapsed_s = 30, .measured_this_run = 10, .finalists = 1, .finalists_phase = 1,
                            .finalists_elapsed_s = 0.1, .cand_sum_ns = 4e6, .launches = 53};
    fw_daemon_eta_estimate(&in, &e);
    CHECK(e.measuring_s == 0 && fabs(e.total_s - 0.112) < 1e-9, "eta: in the finalists phase %g", e.total_s);
    in.finalists_elapsed_s = 5;   /* ran longer than estimated: 0, never negative */
    fw_daemon_eta_estimate(&in, &e);
    CHECK(e.total_s == 0, "eta: an overrun finalists phase gives 0 (%g)", e.total_s);
    /* a resumed job straight into its finalists knows its ETA without a measured variant */
    in.measured_this_run = 0;
    in.finalists_elapsed_s = 0;
    fw_daemon_eta_estimate(&in, &e);
    CHECK(fabs(e.total_s - 0.212) < 1e-9 && e.per_variant_s < 0, "eta: finalists only %g", e.total_s);
    /* nothing measured in this run and variants left: unknown */
    in = (fw_daemon_eta_in){.variants_left = 3, .finalists = 1, .cand_sum_ns = 1e6, .launches = 10};
    fw_daemon_eta_estimate(&in, &e);
    CHECK(e.total_s < 0 && e.measuring_s < 0, "eta: unknown before this run measured a variant");
}

/* The distance of the nearest tuned shape (issue 14). */
static void test_nearest(void)
{
    CHECK(fabs(fw_daemon_shape_distance("K=64,M=48,N=64", "K=64,M=64,N=64") - log2(64.0 / 48.0)) < 1e-12,
          "distance: one field, |log2(48/64)|");
    CHECK(fabs(fw_daemon_shape_distance("K=32,M=128,N=64", "K=64,M=64,N=64") - 2.0) < 1e-12,
          "distance: halving one field and doubling another costs 2");
    CHECK(fw_daemon_shape_distance("K=64,M=64,N=64", "K=64,M=64") < 0, "distance: other fields, not comparable");
    CHECK(fw_daemon_shape_distance("mode=decode,tokens=4", "mode=grouped,tokens=4") < 0,
          "distance: a differing non-integer field, not comparable");
    CHECK(fabs(fw_daemon_shape_distance("bits=4,3,mode=decode,tokens=8", "bits=4,3,mode=decode,tokens=2") - 2.0) < 1e-12,
          "distance: a value with a comma stays one field");
    cJSON *keys = cJSON_Parse("[\"K=64,M=256,N=64\", \"K=64,M=32,N=64\", \"K=64,M=64,N=64\", \"K=64,N=64\", \"K=64,M=8,N=64\"]");
    const char *near = NULL;
    double dist = -1;
    CHECK(fw_daemon_nearest_shape("K=64,M=48,N=64", keys, &near, &dist) == 0 && near && !strcmp(near, "K=64,M=64,N=64"),
          "nearest: M=64 (0.415) over M=32 (0.585) and M=256: %s", near ? near : "none");
    /* M=16 is 1 from both M=32 and M=8: the first in the list wins */
    CHECK(fw_daemon_nearest_shape("K=64,M=16,N=64", keys, &near, &dist) == 0 && !strcmp(near, "K=64,M=32,N=64") &&
          fabs(dist - 1) < 1e-12, "nearest: %s at %g", near, dist);
    CHECK(fw_daemon_nearest_shape("A=1", keys, &near, &dist) == -ENOENT && !near, "nearest: none comparable");
    cJSON_Delete(keys);
}

int main(void)
{
    test_nearest();
    test_tau();
    test_compare();
    test_divergence();
    test_eta();
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
