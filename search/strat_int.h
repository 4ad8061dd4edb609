/* strat_int.h - what the strategies share inside search/ (not an interface for other parts).
 *
 * One core per strategy object: the space (value indices + a hash index for membership), which
 * points are proposed, the told history in order, and the best times. Learning strategies are
 * "subs": propose() reads the core and a generator and returns an unproposed valid point without
 * changing any state; observe() updates the sub's state from the i-th told result. That split is
 * what makes a strategy rebuildable by telling (see fw_strategy.h). `auto` runs several subs over
 * one core.
 */
#ifndef FW_STRAT_INT_H
#define FW_STRAT_INT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_pcg32.h"
#include "fw_strategy.h"

#define ST_NONE ((size_t)-1)
#define ST_TOP 32

typedef struct st_core {
    int nk;
    int *nvals;
    size_t n;
    uint16_t *pts;         /* n * nk */
    float *x;              /* n * nk features: index / (nvals - 1) */
    size_t *hash;          /* open addressing, id + 1, 0 = empty */
    size_t hmask;
    uint8_t *proposed;
    size_t nprop;          /* proposed or told */
    size_t ntold;
    size_t *pend;          /* proposed (asked or claimed) and not yet told, in proposal order */
    size_t npend;
    size_t *tpt;           /* told points in order */
    fw_outcome *tout;
    double *ty;            /* log time (NAN for a failure) */
    size_t nok;
    size_t top[ST_TOP];    /* told indices of the best successful (non-pruned) times, ascending */
    size_t ntop;
    uint64_t seed, stream;
    size_t budget;
} st_core;

typedef struct st_sub {
    const char *name;
    void *(*create)(st_core *c);
    void (*destroy)(void *st);
    size_t (*propose)(const st_core *c, const void *st, fw_pcg32 *r);
    void (*observe)(const st_core *c, void *st, size_t ti);
    /* proposals (counted by nprop, claims included) that are uniform samples whatever was told:
     * propose() reads no told result while nprop < blind (ntold <= nprop always holds) */
    size_t blind;
} st_sub;

extern const st_sub st_sub_anneal, st_sub_genetic, st_sub_model, st_sub_uniform;

/* Generator for one event: tag names the user, idx the event's number. */
void st_rng(const st_core *c, uint32_t tag, uint64_t idx, fw_pcg32 *r);
size_t st_lookup(const st_core *c, const uint16_t *tuple);
size_t st_uniform(const st_core *c, fw_pcg32 *r);                 /* an unproposed point */
/* An unproposed valid neighbour of `from`: one (or, with `wide`, sometimes two) knobs stepped along
 * their value lists. ST_NONE after `tries` misses. */
size_t st_neighbour(const st_core *c, size_t from, fw_pcg32 *r, int tries, int wide);
static inline double st_best_y(const st_core *c) { return c->ntop ? c->ty[c->top[0]] : INFINITY; }
static inline size_t st_best_pt(const st_core *c) { return c->ntop ? c->tpt[c->top[0]] : ST_NONE; }

#endif
