/* searchbench.c - fairway-searchbench: the search library's own strategies (fw_strategy.h, the code
 * the daemon runs) raced on recorded spaces (Kernel Tuner cache files, replay/).
 *
 * One run per (space, strategy, seed) to the largest budget, serial ask(1)/tell; the smaller budgets
 * are read off its prefix (a strategy's proposals do not depend on its budget, fw_strategy.h).
 * best = the true recorded time of the best point found (noise, if any, only alters what the
 * strategy is told); optimum = the file's best time; failures cost an evaluation.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fw_replay.h"
#include "fw_strategy.h"

#define MAXB 16
#define MAXS 16
#define MAXSP 64

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int split(char *s, char **out, int max)
{
    int n = 0;
    for (char *t = strtok(s, ","); t && n < max; t = strtok(NULL, ","))
        out[n++] = t;
    return n;
}

static fw_outcome outcome_of(const fw_replay_space *sp, size_t i, double noise, fw_pcg32 *r)
{
    fw_outcome o = {FW_OUT_TIME, 0};
    switch (sp->rec[i].status) {
    case FW_REPLAY_OK: o.time = fw_replay_measure(sp, i, noise, r); break;
    case FW_REPLAY_COMPILE_ERROR: o.kind = FW_OUT_COMPILE_ERROR; break;
    case FW_REPLAY_INVALID: o.kind = FW_OUT_INVALID; break;
    default: o.kind = FW_OUT_CRASHED; break;
    }
    return o;
}

/* One seed: best true time after each budget, and evaluations used. ahead = the sequencer's
 * ask-ahead A (job/fw_job.h), through the sequencer's own rule (fw_strategy_tells_due): the point
 * at position j is asked once exactly the results of positions < j - A were told, in order, or at
 * once while the strategy's next proposal is blind (reads no result), as a daemon job runs it;
 * 0 = ask one, tell one (after the blind ones). */
static size_t ask_ahead;

/* --peek K: before each ask, the strategy's next K proposals as they stand (fw_strategy_peek), what
 * a worker could compile ahead. For each point then asked, its lead: how many asks earlier it was
 * first in a peek (a compile that started that much sooner); and how many peeked points were new
 * (the extra compiles per ask). The sequence is the one without --peek (peeks change nothing). */
static size_t peek_k;
static double peek_asks, peek_new, peek_lead_hist[5];   /* lead 0 (first peeked at that ask), >=1, >=2, >=4, >=8 */

static void peek_note(fw_strategy *st, size_t *first_seen, size_t at)
{
    size_t pk[64];
    size_t k = fw_strategy_peek(st, peek_k, pk);
    for (size_t i = 0; i < k; i++)
        if (first_seen[pk[i]] == SIZE_MAX) {
            first_seen[pk[i]] = at;
            peek_new++;
        }
}

static int run_one(const fw_replay_space *sp, const char *strat, uint64_t seed, double noise,
                   const long *budgets, int nb, double *best_at, double *evals_at)
{
    fw_sspace s = {sp->nknobs, (const char *const *)sp->names, sp->nvals, sp->npoints, sp->points};
    long maxb = budgets[nb - 1];
    char err[256];
    fw_strategy *st = fw_strategy_new(strat, &s, seed, 0, (size_t)maxb, err, sizeof err);
    if (!st) {
        fprintf(stderr, "fairway-searchbench: %s\n", err);
        return -1;
    }
    fw_pcg32 nr;
    fw_pcg32_seed(&nr, seed, 0x6e6f697365ULL);
    double best = INFINITY;
    long used = 0;
    int bi = 0;
    size_t p, told = 0;
    size_t *asked = malloc(((size_t)maxb + 1) * sizeof *asked);
    size_t *first_seen = peek_k ? malloc(sp->npoints * sizeof *first_seen) : NULL;
    for (size_t i = 0; first_seen && i < sp->npoints; i++)
        first_seen[i] = SIZE_MAX;
    fw_outcome *res = malloc(((size_t)maxb + 1) * sizeof *res);
    if (!asked || !res || (peek_k && !first_seen)) {
        free(asked);
        free(res);
        free(first_seen);
        fw_strategy_free(st);
        return -1;
    }
    while (bi < nb) {
        for (size_t need = fw_strategy_tells_due(st, (size_t)used, ask_ahead); told < need; told++)
            fw_strategy_tell(st, asked[told], res[told]);
        if (peek_k && used < maxb && !fw_strategy_blind_asks(st))
            peek_note(st, first_seen, (size_t)used);
        size_t got = used < maxb ? fw_strategy_ask(st, 1, &p) : 0;
        if (got == 1 && peek_k && first_seen[p] != SIZE_MAX) {
            size_t lead = (size_t)used - first_seen[p];
            peek_asks++;
            peek_lead_hist[0] += lead == 0;
            peek_lead_hist[1] += lead >= 1;
            peek_lead_hist[2] += lead >= 2;
            peek_lead_hist[3] += lead >= 4;
            peek_lead_hist[4] += lead >= 8;
        }
        if (got == 1) {
            asked[used] = p;
            res[used] = outcome_of(sp, p, noise, &nr);   /* measured now, told when the rule says */
            used++;
            if (sp->rec[p].status == FW_REPLAY_OK && sp->rec[p].time_ms < best)
                best = sp->rec[p].time_ms;
        }
        while (bi < nb && (used >= budgets[bi] || got == 0)) {
            best_at[bi] = best;
            evals_at[bi] = (double)used;
            bi++;
        }
    }
    free(asked);
    free(res);
    free(first_seen);
    fw_strategy_free(st);
    return 0;
}

/* --ask-cost: mean wall time of ask(1) once 200 results are told (uniform random points), with
 * --ask-ahead A points asked and not yet told at each ask (a daemon job's default is 8): the oldest
 * pending point is told once more than A are out. */
static void ask_cost(const fw_replay_space *sp, const char *name, const char *strat)
{
    fw_sspace s = {sp->nknobs, (const char *const *)sp->names, sp->nvals, sp->npoints, sp->points};
    char err[256];
    fw_strategy *st = fw_strategy_new(strat, &s, 1, 0, 0, err, sizeof err);
    fw_strategy *rnd = fw_strategy_new("random", &s, 1, 0, 0, err, sizeof err);
    if (!st || !rnd)
        return;
    fw_pcg32 nr;
    fw_pcg32_seed(&nr, 1, 2);
    size_t p, told = 0;
    while (told < 200 && fw_strategy_ask(rnd, 1, &p) == 1)
        if (fw_strategy_tell(st, p, outcome_of(sp, p, 0, &nr)) == 0)
            told++;
    enum { ASKS = 50 };
    size_t pend[ASKS], npend = 0, first = 0;
    struct timespec a, b;
    double total = 0;
    int n = 0;
    for (; n < ASKS; n++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        size_t got = fw_strategy_ask(st, 1, &p);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (got != 1)
            break;
        total += (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) * 1e-6;
        pend[npend++] = p;
        while (npend - first > ask_ahead) {
            fw_strategy_tell(st, pend[first], outcome_of(sp, pend[first], 0, &nr));
            first++;
        }
    }
    printf("ask cost %-26s %-8s %zu points, 200-250 told, %zu pending: %.3f ms per ask(1)\n", name, strat,
           sp->npoints, ask_ahead, n ? total / n : 0.0);
    fw_strategy_free(st);
    fw_strategy_free(rnd);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: fairway-searchbench --space FILE [--space FILE ...] [--strategy S1,S2,...]\n"
               "         [--budget 20,50,100,200] [--seeds N] [--noise R] [--ask-ahead A] [--json] [--ask-cost]\n"
               "         [--peek K]\n"
               "Races fairway's search strategies on recorded spaces (Kernel Tuner cache files,\n"
               ".json or .json.gz). Ratio = best true time found / the file's optimum.\n"
               "--ask-ahead A interleaves asks and results as a job with options.ask_ahead A does\n"
               "(default 0: ask one, tell one).\n"
               "--ask-cost prints, instead, each strategy's time per ask with 200 results told\n"
               "(and, with --ask-ahead A, A points asked and not yet told at each ask).\n"
               "--peek K (1-64) prints, to stderr, how many asks earlier each asked point was first among\n"
               "the strategy's next K proposals (fw_strategy_peek) and how many peeked points were new\n"
               "per ask: what compiling the likely next points ahead would gain and cost.\n");
}

typedef struct row { double mean, median, p5, evals; } row;

int main(int argc, char **argv)
{
    const char *spaces[MAXSP];
    int nsp = 0, nseeds = 20, json = 0, cost = 0;
    double noise = 0;
    char sbuf[512] = "random,anneal,genetic,model,auto", bbuf[256] = "20,50,100,200";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) { json = 1; continue; }
        if (strcmp(a, "--ask-cost") == 0) { cost = 1; continue; }
        if (strcmp(a, "--help") == 0) { usage(stdout); return 0; }
        if (!v) { usage(stderr); return 2; }
        if (strcmp(a, "--space") == 0 && nsp < MAXSP) spaces[nsp++] = v;
        else if (strcmp(a, "--strategy") == 0) snprintf(sbuf, sizeof sbuf, "%s", v);
        else if (strcmp(a, "--budget") == 0) snprintf(bbuf, sizeof bbuf, "%s", v);
        else if (strcmp(a, "--seeds") == 0) nseeds = atoi(v);
        else if (strcmp(a, "--noise") == 0) noise = atof(v);
        else if (strcmp(a, "--ask-ahead") == 0) ask_ahead = (size_t)atol(v);
        else if (strcmp(a, "--peek") == 0) peek_k = (size_t)atol(v) > 64 ? 64 : (size_t)atol(v);
        else { usage(stderr); return 2; }
        i++;
    }
    char *strats[MAXS], *bstr[MAXB];
    int ns = split(sbuf, strats, MAXS), nb = split(bbuf, bstr, MAXB);
    long budgets[MAXB];
    for (int b = 0; b < nb; b++) {
        budgets[b] = atol(bstr[b]);
        if (budgets[b] <= 0 || (b && budgets[b] <= budgets[b - 1])) {
            fprintf(stderr, "fairway-searchbench: budgets must be positive and increasing\n");
            return 2;
        }
    }
    if (nsp == 0 || ns == 0 || nb == 0 || nseeds <= 0 || noise < 0) { usage(stderr); return 2; }
    row *rows = calloc((size_t)(nsp * ns * nb), sizeof *rows);
    double *ratios = malloc((size_t)(nb * nseeds) * sizeof *ratios), *evals = malloc((size_t)nb * nseeds * sizeof *evals);
    const char *names[MAXSP];
    for (int si = 0; si < nsp; si++) {
        fw_replay_space sp;
        char err[512];
        if (fw_replay_load(spaces[si], &sp, err, sizeof err) < 0 || !isfinite(sp.optimum_ms)) {
            fprintf(stderr, "fairway-searchbench: %s: %s\n", spaces[si], err);
            return 1;
        }
        const char *base = strrchr(spaces[si], '/');
        names[si] = base ? base + 1 : spaces[si];
        if (cost) {
            for (int t = 0; t < ns; t++)
                ask_cost(&sp, names[si], strats[t]);
            fw_replay_release(&sp);
            continue;
        }
        for (int t = 0; t < ns; t++) {
            double best[MAXB], ev[MAXB];
            for (int seed = 0; seed < nseeds; seed++) {
                if (run_one(&sp, strats[t], (uint64_t)seed, noise, budgets, nb, best, ev) < 0)
                    return 2;
                for (int b = 0; b < nb; b++) {
                    ratios[b * nseeds + seed] = best[b] / sp.optimum_ms;
                    evals[b * nseeds + seed] = ev[b];
                }
            }
            for (int b = 0; b < nb; b++) {
                row *r = &rows[(si * ns + t) * nb + b];
                double *x = ratios + b * nseeds;
                for (int k = 0; k < nseeds; k++) {
                    r->mean += x[k] / nseeds;
                    r->p5 += (x[k] <= 1.05) / (double)nseeds;
                    r->evals += evals[b * nseeds + k] / nseeds;
                }
                qsort(x, (size_t)nseeds, sizeof *x, cmpd);
                r->median = nseeds % 2 ? x[nseeds / 2] : 0.5 * (x[nseeds / 2 - 1] + x[nseeds / 2]);
            }
        }
        fw_replay_release(&sp);
    }
    if (cost)
        return 0;
    if (peek_k && peek_asks > 0)
        fprintf(stderr, "peek %zu: %.0f learning asks, %.3f peeked first at that ask; lead >=1 %.3f, >=2 %.3f, "
                ">=4 %.3f, >=8 %.3f of the asked points; %.2f new peeked points per ask\n", peek_k, peek_asks,
                peek_lead_hist[0] / peek_asks, peek_lead_hist[1] / peek_asks, peek_lead_hist[2] / peek_asks,
                peek_lead_hist[3] / peek_asks, peek_lead_hist[4] / peek_asks, peek_new / peek_asks);
    if (json)
        printf("{\"results\": [");
    else
        printf("%-26s %-8s %6s %10s %12s %8s %10s\n", "space", "strategy", "budget", "mean_ratio",
               "median_ratio", "p<=5%", "mean_evals");
    int first = 1;
    for (int si = 0; si < nsp; si++)
        for (int t = 0; t < ns; t++)
            for (int b = 0; b < nb; b++) {
                row *r = &rows[(si * ns + t) * nb + b];
                if (json)
                    printf("%s\n  {\"space\": \"%s\", \"strategy\": \"%s\", \"budget\": %ld, \"seeds\": %d, "
                           "\"mean_ratio\": %.4f, \"median_ratio\": %.4f, \"p_within_5pct\": %.3f, "
                           "\"mean_evals\": %.1f}", first ? "" : ",", names[si], strats[t], budgets[b],
                           nseeds, r->mean, r->median, r->p5, r->evals);
                else
                    printf("%-26s %-8s %6ld %10.4f %12.4f %8.3f %10.1f\n", names[si], strats[t], budgets[b],
                           r->mean, r->median, r->p5, r->evals);
                first = 0;
            }
    printf(json ? "],\n \"geomean\": [" : "\ngeomean of mean ratio over %d spaces\n%-8s", nsp, "strategy");
    if (!json)
        for (int b = 0; b < nb; b++)
            printf(" %8ld", budgets[b]);
    first = 1;
    for (int t = 0; t < ns; t++) {
        if (!json)
            printf("\n%-8s", strats[t]);
        for (int b = 0; b < nb; b++) {
            double g = 0;
            for (int si = 0; si < nsp; si++)
                g += log(rows[(si * ns + t) * nb + b].mean) / nsp;
            if (json)
                printf("%s\n  {\"strategy\": \"%s\", \"budget\": %ld, \"ratio\": %.4f}", first ? "" : ",",
                       strats[t], budgets[b], exp(g));
            else
                printf(" %8.4f", exp(g));
            first = 0;
        }
    }
    printf(json ? "]}\n" : "\n");
    free(rows);
    free(ratios);
    free(evals);
    return 0;
}
