/* fw_policy.h - a kernel-selection policy derived from measurements (issue 13): pure, no I/O, so
 * the rule is unit-tested on numbers the test controls (tests/cli/test_policy.c).
 *
 * Candidates are stored evaluations of one layer (a shape key without tokens= and mode=): a token
 * count, a mode (the kernel entry: decode, small, base, large, grouped), a config (variant key),
 * whether the config fixes the bit tuple (a tuple-specialised kernel), a median and the samples.
 *
 * Rule (noise: a two-sided Mann-Whitney U test, p < FW_POLICY_ALPHA, on the stored samples):
 *  - generic choice per token count, ascending: the range's choice is kept while it was measured
 *    at the next token count and the fastest generic candidate there is not significantly faster;
 *    otherwise a new range starts with the fastest generic candidate (a boundary);
 *  - a tuple-specialised candidate replaces the generic choice at a token count only where its
 *    median is lower and the difference is significant; the generic choice is its fallback;
 *  - the hand-written policy picks the mode by thresholds and the knobs by mode; its candidate at
 *    each token count is the generic one with exactly those knobs (else the first whose config
 *    holds them all: a policy naming fewer knobs than the space), and the speed-up there is its
 *    median over the derived pick's median (0 when it was not measured).
 * Modes whose entries share one kernel body can be pooled before the rule runs (cli_policy.c,
 * `--same-body`): their evaluations of one config at one token count become one candidate with
 * all their samples, so a flip between them, which is run-to-run drift the per-sample test cannot
 * see (each candidate's samples come from one run), is no boundary. */
#ifndef FW_POLICY_H
#define FW_POLICY_H

#include <stddef.h>

#define FW_POLICY_ALPHA 0.05
#define FW_POLICY_MODES 5

typedef struct fw_policy_cand {
    int tokens;
    const char *mode;      /* decode, small, base, large, grouped */
    const char *config;    /* variant key */
    int specialised;       /* fixes the bit tuple (GATE_BITS/UP_BITS/DOWN_BITS != 0) */
    double median_ns;
    const double *samples;
    size_t nsamples;
} fw_policy_cand;

/* The hand-written policy: decode up to decode_max tokens, small up to small_max, base up to
 * base_max, large above; config[m] the variant key of mode m (NULL: that mode has none). */
typedef struct fw_policy_hand {
    int decode_max, small_max, base_max;
    const char *config[FW_POLICY_MODES];   /* decode, small, base, large, grouped */
    /* Modes pooled as another (`policy --same-body`): the candidates of mode m are named alias[m]
     * (NULL: m itself), so the hand-written policy's mode m is looked for there. */
    const char *alias[FW_POLICY_MODES];
} fw_policy_hand;

typedef struct fw_policy_point {
    int tokens;
    int generic;       /* candidate index of the range's generic choice (the fallback) */
    int pick;          /* candidate index picked: generic, or a specialised one kept */
    double spec_p;     /* p of the best specialised candidate against the generic (1: none) */
    int spec_best;     /* that candidate (-1: none measured) */
    int hand;          /* the hand-written policy's candidate (-1: not measured) */
    double speedup;    /* hand median / pick median (0: hand not measured) */
    double hand_p;     /* p of the hand-written candidate against the pick (1: the same or none) */
    int range;         /* index of the range this token count belongs to */
} fw_policy_point;

typedef struct fw_policy_range {
    int lo, hi;        /* first and last token count measured in the range */
    int generic;       /* candidate index of its choice */
} fw_policy_range;

/* Mode index (0..4) of a mode name; -1 when unknown. */
int fw_policy_mode_index(const char *mode);
/* The hand-written policy's mode at a token count. */
const char *fw_policy_hand_mode(const fw_policy_hand *h, int tokens);
/* Derive: points[] gets one entry per distinct token count with a generic candidate (ascending),
 * ranges[] the ranges. Returns the number of points (<= max), *nranges the ranges. */
int fw_policy_derive(const fw_policy_cand *c, int n, const fw_policy_hand *hand, fw_policy_point *points,
                     fw_policy_range *ranges, int max, int *nranges);

#endif
