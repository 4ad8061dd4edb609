/* strat_local.c - simulated annealing, the genetic algorithm and uniform sampling as subs.
 *
 * Both local searches move along each knob's ordered value list (st_neighbour) and only ever
 * propose members of the valid set. Failures never enter a comparison: annealing does not move to a
 * failed point, the genetic population is drawn from successful times only.
 */
#include "strat_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- simulated annealing ---- */
typedef struct anneal_st {
    size_t cur;       /* told index of the current point, ST_NONE before the first success */
} anneal_st;

#define ANNEAL_T0 0.25     /* in log-time units: a 28% slower move accepted with p = 1/e at first */
#define ANNEAL_ALPHA 0.97  /* per told result */

static void *anneal_create(st_core *c)
{
    (void)c;
    anneal_st *a = malloc(sizeof *a);
    if (a)
        a->cur = ST_NONE;
    return a;
}

static size_t anneal_propose(const st_core *c, const void *st, fw_pcg32 *r)
{
    const anneal_st *a = st;
    size_t p = ST_NONE;
    if (a->cur != ST_NONE)
        p = st_neighbour(c, c->tpt[a->cur], r, 48, 1);
    if (p == ST_NONE && c->ntop)   /* current point's neighbourhood used up: restart near a good one */
        p = st_neighbour(c, c->tpt[c->top[fw_pcg32_bounded(r, (uint32_t)(c->ntop < 4 ? c->ntop : 4))]],
                         r, 48, 1);
    return p != ST_NONE ? p : st_uniform(c, r);
}

static void anneal_observe(const st_core *c, void *st, size_t ti)
{
    anneal_st *a = st;
    if (c->tout[ti].kind != FW_OUT_TIME)
        return;
    double y = c->ty[ti];
    if (a->cur == ST_NONE || y <= c->ty[a->cur]) {
        a->cur = ti;
        return;
    }
    fw_pcg32 r;
    st_rng(c, 20, ti, &r);
    double t = ANNEAL_T0 * pow(ANNEAL_ALPHA, (double)c->ntold);
    if ((double)fw_pcg32_float(&r) < exp(-(y - c->ty[a->cur]) / t))
        a->cur = ti;
}

const st_sub st_sub_anneal = {"anneal", anneal_create, free, anneal_propose, anneal_observe, 1};

/* ---- genetic algorithm ---- */
#define GA_POP 12
#define GA_MIN 6

static size_t tournament(const st_core *c, fw_pcg32 *r)
{
    uint32_t pop = (uint32_t)(c->ntop < GA_POP ? c->ntop : GA_POP);
    uint32_t a = fw_pcg32_bounded(r, pop), b = fw_pcg32_bounded(r, pop);
    return c->tpt[c->top[a < b ? a : b]];
}

static size_t genetic_propose(const st_core *c, const void *st, fw_pcg32 *r)
{
    (void)st;
    if (c->ntop < GA_MIN)
        return st_uniform(c, r);
    uint16_t t[256];
    if (c->nk > 256)
        return st_uniform(c, r);
    for (int i = 0; i < 48; i++) {
        size_t p1 = tournament(c, r), p2 = tournament(c, r);
        const uint16_t *a = c->pts + p1 * (size_t)c->nk, *b = c->pts + p2 * (size_t)c->nk;
        for (int k = 0; k < c->nk; k++)
            t[k] = (fw_pcg32_next(r) & 1) ? a[k] : b[k];
        for (int k = 0; k < c->nk; k++) {
            if (c->nvals[k] > 1 && fw_pcg32_bounded(r, (uint32_t)c->nk) == 0) {
                uint16_t v = t[k];
                int d = (fw_pcg32_next(r) & 1) ? 1 : -1;
                int nv = (int)v + d;
                if (nv < 0 || nv >= c->nvals[k])
                    nv = (int)v - d;
                if (nv >= 0 && nv < c->nvals[k])
                    t[k] = (uint16_t)nv;
            }
        }
        size_t id = st_lookup(c, t);
        if (id != ST_NONE && !c->proposed[id])
            return id;
    }
    size_t p = st_neighbour(c, st_best_pt(c), r, 48, 1);
    return p != ST_NONE ? p : st_uniform(c, r);
}

const st_sub st_sub_genetic = {"genetic", NULL, NULL, genetic_propose, NULL, GA_MIN};

/* ---- uniform sampling (auto's exploration arm) ---- */
static size_t uniform_propose(const st_core *c, const void *st, fw_pcg32 *r)
{
    (void)st;
    return st_uniform(c, r);
}

const st_sub st_sub_uniform = {"uniform", NULL, NULL, uniform_propose, NULL, SIZE_MAX};
