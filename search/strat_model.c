/* strat_model.c - the model-based sub: a k-nearest-neighbour surrogate of log time with expected
 * improvement, times the predicted chance that a point works.
 *
 * Why kNN: it is cheap enough to score a few hundred candidates against a few hundred told points
 * well inside a millisecond, needs no fitting step (the state is the told history itself, so a
 * rebuild by telling is exact), and works on any mix of knobs through their value-list positions.
 * Failures are a separate class: they feed only the failure-probability estimate (the share of
 * failed points among the nearest told ones), never the time model. A pruned point enters the time
 * model with its measured lower bound (it was stopped for being slow, so the bound is on the slow
 * side already) but never becomes the incumbent that expected improvement is measured against.
 */
#include "strat_int.h"

#include <stdlib.h>
#include <string.h>

#define MODEL_INIT 10      /* uniform proposals before the model is used (blind) */
#define MODEL_MIN_TOLD 6   /* and results told: with asks ahead, the model starts on fewer than 10 */
#define MODEL_K 5
#define MODEL_RANDOM 128   /* random candidates per proposal */
#define MODEL_TOP 4        /* every one-step neighbour of this many best points is a candidate */

typedef struct knn { float d[MODEL_K]; size_t ti[MODEL_K]; int n; } knn;

static void knn_add(knn *q, float d, size_t ti)
{
    if (q->n == MODEL_K && d >= q->d[MODEL_K - 1])
        return;
    int pos = q->n < MODEL_K ? q->n++ : MODEL_K - 1;
    while (pos > 0 && q->d[pos - 1] > d) {
        q->d[pos] = q->d[pos - 1];
        q->ti[pos] = q->ti[pos - 1];
        pos--;
    }
    q->d[pos] = d;
    q->ti[pos] = ti;
}

/* The pending points a proposal takes into account (the most recent of them), each with the value
 * the model believes for it. */
#define MODEL_PEND 32

typedef struct believed { size_t n; size_t pt[MODEL_PEND]; double y[MODEL_PEND]; } believed;

/* What a point must be nearer than to enter q (INFINITY while q is not full): knn_add's test. */
static inline float knn_cut(const knn *q) { return q->n < MODEL_K ? INFINITY : q->d[MODEL_K - 1]; }

static float dist2(const st_core *c, const float *xc, size_t pt)
{
    const float *xt = c->x + pt * (size_t)c->nk;
    float d = 0;
    for (int k = 0; k < c->nk; k++) {
        float e = xc[k] - xt[k];
        d += e * e;
    }
    return d;
}

/* The told points' features, knob-major (x[k * stride + i] is knob k of told point i), built once
 * per proposal, so that the distances from a candidate to all told points are summed eight points
 * at a time. Each lane sums its own point's terms in knob order, exactly as dist2 does (float
 * arithmetic, no reassociation, no contraction under -std=c11), so every distance, neighbour and
 * score is bit for bit what the one-point-at-a-time loop gave: the proposals do not change
 * (BENCHMARKS.md, "Cost of ask"). */
#define TOLD_LANES 8
typedef float lanes __attribute__((vector_size(TOLD_LANES * sizeof(float))));

typedef struct told_mat {
    size_t stride;           /* ntold rounded up to TOLD_LANES */
    float *x;                /* nk * stride (the padding is 0) */
    float *d;                /* stride: one candidate's distances */
} told_mat;

static int told_mat_build(const st_core *c, told_mat *m)
{
    m->stride = (c->ntold + TOLD_LANES - 1) / TOLD_LANES * TOLD_LANES;
    size_t bytes = ((size_t)c->nk + 1) * m->stride * sizeof(float);
    m->x = aligned_alloc(sizeof(lanes), bytes > 0 ? (bytes + sizeof(lanes) - 1) / sizeof(lanes) * sizeof(lanes)
                                                  : sizeof(lanes));
    if (!m->x)
        return -1;
    memset(m->x, 0, bytes);
    m->d = m->x + (size_t)c->nk * m->stride;
    for (size_t i = 0; i < c->ntold; i++) {
        const float *xt = c->x + c->tpt[i] * (size_t)c->nk;
        for (int k = 0; k < c->nk; k++)
            m->x[(size_t)k * m->stride + i] = xt[k];
    }
    return 0;
}

/* m->d[i] = dist2(c, xc, c->tpt[i]) for every told i, eight at a time (m->d is scratch). */
static void told_dists(const st_core *c, const told_mat *m, const float *xc)
{
    for (size_t i = 0; i < m->stride; i += TOLD_LANES) {
        lanes d = {0};
        for (int k = 0; k < c->nk; k++) {
            lanes t, e;
            memcpy(&t, m->x + (size_t)k * m->stride + i, sizeof t);
            e = xc[k] - t;
            d += e * e;
        }
        memcpy(m->d + i, &d, sizeof d);
    }
}

/* The kNN prediction at cand (log time, weighted mean m and spread sd) and the chance it fails, from
 * the told results and, when b is given, the believed pending points. 0 when no time is known. */
static int predict(const st_core *c, const told_mat *tm, size_t cand, const believed *b, double *m_out,
                   double *sd_out, double *pfail_out)
{
    const float *xc = c->x + cand * (size_t)c->nk;
    knn ok = {.n = 0}, all = {.n = 0};
    if (tm->x)
        told_dists(c, tm, xc);
    for (size_t i = 0; i < c->ntold; i++) {
        float d = tm->x ? tm->d[i] : dist2(c, xc, c->tpt[i]);
        if (d < knn_cut(&all))   /* what knn_add itself refuses, tested here first (most are) */
            knn_add(&all, d, i);
        if (d < knn_cut(&ok) && !isnan(c->ty[i]))
            knn_add(&ok, d, i);
    }
    for (size_t j = 0; b && j < b->n; j++)   /* believed points: index ntold + j */
        knn_add(&ok, dist2(c, xc, b->pt[j]), c->ntold + j);
    if (ok.n == 0)
        return 0;
    double ws = 0, m = 0, m2 = 0, wf = 0, wa = 0;
    for (int j = 0; j < ok.n; j++) {
        double w = 1.0 / (ok.d[j] + 1e-3);
        double y = ok.ti[j] < c->ntold ? c->ty[ok.ti[j]] : b->y[ok.ti[j] - c->ntold];
        ws += w;
        m += w * y;
        m2 += w * y * y;
    }
    m /= ws;
    double var = m2 / ws - m * m;
    *m_out = m;
    *sd_out = sqrt(var > 0 ? var : 0) + 0.05 + 0.3 * sqrt((double)ok.d[0]);
    for (int j = 0; j < all.n; j++) {
        double w = 1.0 / (all.d[j] + 1e-3);
        wa += w;
        if (isnan(c->ty[all.ti[j]]))
            wf += w;
    }
    *pfail_out = wa > 0 ? wf / wa : 0;
    return 1;
}

static double score(const st_core *c, const told_mat *tm, size_t cand, double ybest, const believed *b)
{
    double m, sd, pfail;
    if (!predict(c, tm, cand, b, &m, &sd, &pfail))
        return 0;
    double z = (ybest - m) / sd;
    double ei = (ybest - m) * 0.5 * erfc(-z / sqrt(2.0)) + sd * exp(-0.5 * z * z) / sqrt(2.0 * M_PI);
    return ei * (1.0 - pfail);
}

/* A pessimistic kriging believer: each pending point (asked, result not yet told) is taken as if its
 * result were the model's prediction from the told results plus one spread (m + sd), so that the
 * points asked while others are out are not all the same few neighbours of the best: near a pending
 * point the spread shrinks and the mean rises, and expected improvement moves elsewhere. (Believing
 * m alone spread the batch less; believing the best, the constant liar, drew it together: on the
 * four shared spaces at ask-ahead 8, 60 seeds, the model reached 1.058 / 1.021 at 50 / 100 with
 * m + sd, 1.071 / 1.031 with m, 1.122 / 1.072 with the best, 1.084 / 1.038 with no believer.) A pure function of the told results and the pending
 * set (the proposal order), so a replay of the same interleaving proposes the same points; with
 * nothing pending (ask one, tell one) the model is unchanged. */
static void believe(const st_core *c, const told_mat *tm, believed *b)
{
    b->n = 0;
    size_t from = c->npend > MODEL_PEND ? c->npend - MODEL_PEND : 0;
    for (size_t i = from; i < c->npend; i++) {
        double m, sd, pf;
        if (predict(c, tm, c->pend[i], NULL, &m, &sd, &pf)) {
            b->pt[b->n] = c->pend[i];
            b->y[b->n++] = m + sd;
        }
    }
}

static size_t model_propose(const st_core *c, const void *st, fw_pcg32 *r)
{
    (void)st;
    if (c->nprop < MODEL_INIT || c->ntold < MODEL_MIN_TOLD || c->ntop == 0)
        return st_uniform(c, r);
    double ybest = st_best_y(c), bestv = -1;
    size_t best = ST_NONE;
    told_mat tm;
    if (told_mat_build(c, &tm) < 0)
        tm.x = NULL;   /* no memory: the distances one at a time (the same values, only slower) */
    believed b;
    believe(c, &tm, &b);
    uint16_t t[256];
    if (c->nk <= 256) {
        for (size_t j = 0; j < c->ntop && j < MODEL_TOP; j++) {
            const uint16_t *p = c->pts + c->tpt[c->top[j]] * (size_t)c->nk;
            for (int k = 0; k < c->nk; k++)
                for (int d = -1; d <= 1; d += 2) {
                    int v = (int)p[k] + d;
                    if (v < 0 || v >= c->nvals[k])
                        continue;
                    memcpy(t, p, (size_t)c->nk * sizeof *t);
                    t[k] = (uint16_t)v;
                    size_t id = st_lookup(c, t);
                    if (id == ST_NONE || c->proposed[id])
                        continue;
                    double v2 = score(c, &tm, id, ybest, &b);
                    if (v2 > bestv) {
                        bestv = v2;
                        best = id;
                    }
                }
        }
    }
    for (int i = 0; i < MODEL_RANDOM; i++) {
        size_t id = fw_pcg32_bounded(r, (uint32_t)c->n);
        if (c->proposed[id])
            continue;
        double v2 = score(c, &tm, id, ybest, &b);
        if (v2 > bestv) {
            bestv = v2;
            best = id;
        }
    }
    free(tm.x);
    return best != ST_NONE ? best : st_uniform(c, r);
}

const st_sub st_sub_model = {"model", NULL, NULL, model_propose, NULL, MODEL_INIT};
