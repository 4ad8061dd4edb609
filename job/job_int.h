/* job_int.h - what the files of job/ share inside it (not an interface for other parts).
 *
 * A job's search context: the space, the device's limits, the presets (each with its odometer index,
 * -1 when not a point of the space), the strategy, budget and seed of a resolved spec. Each shape's
 * valid points are its odometer indices in canonical order (fw_space_expand_indices).
 */
#ifndef FW_JOB_INT_H
#define FW_JOB_INT_H

#include "fw_job.h"

struct fw_family;

typedef struct job_ctx {
    const cJSON *resolved;         /* not owned; read only while the sequence is built */
    const cJSON *shapes;           /* its "shapes" array (fw_job_spec.shapes), the same lifetime */
    fw_space space;
    fw_env denv;
    const struct fw_family *fam;
    size_t npre;
    fw_point *pre;
    int64_t *pre_idx;
    int64_t budget, seed;
    const char *strategy;          /* a static name (the sequence outlives the resolved spec) */
    int grid, random, presets;     /* else a learning strategy (fw_strategy.h) */
    size_t ask_ahead;              /* learning strategies: options.ask_ahead (and any time budget's) */
    double budget_ms;              /* the spec's budget_s per shape, in ms (0 = none) */
    fw_work *work;                 /* the bound on planning work, NULL = none (not owned) */
} job_ctx;

/* knob_values.c: a space whose knobs list non-integer values (a float, a type name) as the same
 * space with each such list replaced by its indices 0 .. k-1 (*indexed), and {"KNOB": [texts]}
 * (*values), the macro text of each index; both NULL when every list is integers. given: a resolved
 * spec's own "knob_values" (resolved again), checked against the indexed space and kept. */
int fw_spec_knob_values(const cJSON *space, const cJSON *given, cJSON **indexed, cJSON **values, char *err,
                        size_t errlen);

/* job_spec.c: an options.ask_ahead value, checked (0 .. FW_SEQ_ASK_AHEAD_MAX) with the one sentence
 * resolve and the typed reader both give. */
int fw_job_ask_ahead_value(const cJSON *v, int64_t *a, char *err, size_t errlen);

int job_ctx_open(const cJSON *resolved, const cJSON *device, job_ctx *c, char *err, size_t errlen);
void job_ctx_close(job_ctx *c);
/* The valid points of shape si (odometer indices, ascending, malloc'd): -EINVAL naming the
 * constraint that rejects all for an empty shape, -E2BIG when budget 0 would take more than
 * FW_SPEC_MAX_BUDGET, -ETIME past c->work's bound, -ECANCELED when it is cancelled. */
int job_ctx_shape(job_ctx *c, const cJSON *shape, int si, uint64_t **idx, size_t *n, char *err, size_t errlen);
/* Position of odometer index want in idx[0..n), -1 when absent. */
int64_t job_find_index(const uint64_t *idx, size_t n, uint64_t want);

#endif
