/* fw_strategy.h - search strategies behind one ask/tell interface (DESIGN.md section 4, issue 11).
 *
 * Why this shape: the daemon must keep several variants compiling ahead of timing (ask(n) returns
 * up to n pending points), must rebuild a strategy after a restart by telling it the stored results
 * (so a strategy's state is a pure function of space, seed, stream and the results told so far, in
 * order), and must never let a model read a failure as a number (a failure is a class, kept apart).
 *
 * A space is given up front as knob names, each knob's ordered value list, and the list of valid
 * points (each a vector of value indices). Strategies only ever propose members of that list (a hash
 * index answers "is this neighbour valid?"), never the same point twice. Points are named by their
 * position in the valid list. Neighbourhoods step along each knob's ordered value list.
 *
 * Randomness: PCG32 only. `random` draws its sequential partial Fisher-Yates stream exactly as
 * fw_search_random(seed, stream, n, ...) does, so plans built from it are unchanged. The learning
 * strategies draw the generator of their k-th proposal from (seed, stream, k) and of their i-th
 * tell from (seed, stream, i), so telling the stored results of a serial run (ask 1, tell 1, ...)
 * to a fresh strategy and continuing gives exactly the uninterrupted run. A pipelined run (several
 * pending) is reproduced by replaying the same interleaving of asks and tells.
 *
 * Budget: the strategy stops proposing once `budget` points were proposed or told (0 = no limit);
 * nothing else about a strategy depends on its budget, so a run to budget 200 has the runs to 20,
 * 50 and 100 as prefixes (fairway-searchbench relies on this).
 */
#ifndef FW_STRATEGY_H
#define FW_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

typedef enum fw_outcome_kind {
    FW_OUT_TIME = 0,       /* time = the ranking statistic (any unit, > 0) */
    FW_OUT_PRUNED,         /* early-stopped: time is a lower bound on the true time */
    FW_OUT_COMPILE_ERROR,  /* failure classes: never a number to any model */
    FW_OUT_INVALID,
    FW_OUT_VERIFY_FAILED,
    FW_OUT_CRASHED,
    FW_OUT_TIMEOUT,
} fw_outcome_kind;

typedef struct fw_outcome {
    fw_outcome_kind kind;
    double time;           /* FW_OUT_TIME and FW_OUT_PRUNED only */
} fw_outcome;

static inline int fw_outcome_failed(fw_outcome o) { return o.kind >= FW_OUT_COMPILE_ERROR; }

/* A space description. The strategy copies what it needs; the caller may free this afterwards. */
typedef struct fw_sspace {
    int nknobs;
    const char *const *names;      /* nknobs names (informational) */
    const int *nvals;              /* nknobs: length of each knob's ordered value list */
    size_t npoints;                /* valid points */
    const uint16_t *points;        /* npoints * nknobs value indices, row-major */
} fw_sspace;

typedef struct fw_strategy fw_strategy;

/* Names: "random", "anneal", "genetic", "model", "auto". NULL with a message for an unknown name,
 * an empty space or no memory. */
fw_strategy *fw_strategy_new(const char *name, const fw_sspace *space, uint64_t seed, uint64_t stream,
                             size_t budget, char *err, size_t errlen);
void fw_strategy_free(fw_strategy *s);

/* Up to n new valid points (positions in the valid list) into out; 0 when the space or the budget
 * is exhausted. */
size_t fw_strategy_ask(fw_strategy *s, size_t n, size_t *out);

/* The next n proposals (n <= 64) as asks now would give them, without changing the strategy: its
 * state after a peek is what it was before, so a sequence with peeks is the sequence without.
 * What a caller may compile ahead while the results the next asks depend on are not told yet (a
 * later tell can change them: a guess, not a promise). 0 for `random` (its order is known anyway). */
size_t fw_strategy_peek(fw_strategy *s, size_t n, size_t *out);

/* Report a point's outcome (asked or not: a point told without being asked counts as proposed).
 * -EINVAL for a point out of range, told twice, or a time that is not positive and finite.
 * FW_OUT_PRUNED's time is used as a lower bound: models see it, it never counts as the best. */
int fw_strategy_tell(fw_strategy *s, size_t point, fw_outcome r);

/* Take a point as proposed without asking (a preset evaluated before the strategy's own points):
 * it is never proposed, and its tell later counts as that of an asked point. The same state change
 * as a tell of an un-asked point, without the result, so the results can come later while the
 * strategy is asked meanwhile. -EINVAL for a point out of range or already proposed or told. */
int fw_strategy_claim(fw_strategy *s, size_t point);

/* How many of the next proposals depend on no result told, whatever is told meanwhile: a pure
 * function of the strategy's name and its proposed-or-told count (random: SIZE_MAX; auto and model:
 * their first 10, genetic its first 6, anneal its first 1, minus the count so far). Such a proposal
 * reads only (seed, stream, count) and the proposed set, so telling results before it or not
 * changes nothing; a caller may ask it before any result is in. */
size_t fw_strategy_blind_asks(const fw_strategy *s);

/* The interleaving rule of a job (job/fw_job.h), in one place for the sequencer and
 * fairway-searchbench: before the next ask, with `asked` points asked or claimed so far and
 * ask-ahead `ahead`, the results of the first fw_strategy_tells_due(s, asked, ahead) of them must
 * have been told, in ask order: 0 while the next proposal is blind, else asked - ahead (0 if less).
 * A caller that tells exactly that many before each non-blind ask gives the same proposals as one
 * that never asks blind points early (the blind ones read no result). */
size_t fw_strategy_tells_due(const fw_strategy *s, size_t asked, size_t ahead);

/* Proposed-or-told count, and the one-line list of strategy names with what each does. */
size_t fw_strategy_count(const fw_strategy *s);
const char *fw_strategy_name(const fw_strategy *s);
extern const char *const fw_strategy_names[];        /* NULL-terminated */
extern const char *const fw_strategy_summaries[];    /* same order, one line each */

/* Random sampling on its own (random.c; plans of strategy "random" use it).
 * Writes up to `budget` indices into [0, n) to out (room for min(n, budget)), returns count.
 * Distinct indices, PCG32(seed, stream) partial Fisher-Yates: a smaller budget gives a prefix of a
 * larger one. budget 0 returns 0 (here it is a count; plans treat budget 0 as "no limit"). */
size_t fw_search_random(uint64_t seed, uint64_t stream, size_t n, size_t budget, size_t *out);

#endif
