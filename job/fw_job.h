/* fw_job.h - the job model: resolved job specs and the plans built from them (DESIGN.md section 2).
 *
 * A job spec (JSON) names a family, shapes, a space, presets, a strategy, a budget and a seed (see
 * docs/spec.md). fw_spec_resolve() turns what a user sent (perhaps only {"profile": "..."}) into a
 * complete spec: profile expanded, family defaults filled in, every knob and constraint name checked.
 * The resolved spec is what the daemon stores and what it sends to the worker, so a rerun from the
 * stored spec and seed regenerates the same plan bit for bit.
 *
 * A plan is the ordered list of (shape, variant, origin) evaluations the strategy yields:
 *   for each shape s in spec order:
 *     points = the space's valid points for s (knobs + shape + device limits), canonical order
 *     presets first (those valid for s, in listed order, origin "preset"), unless strategy is grid
 *     then the strategy over the remaining valid points, with PCG32 seeded (seed, stream = s):
 *       grid:    every valid point in canonical order (origin "grid")
 *       presets: nothing more (also what --no-explore means)
 *       random:  seeded sample without replacement (fw_search_random, fw_strategy.h) (origin "random")
 *     at most `budget` evaluations per shape in all (budget 0 = no limit: grid / all presets)
 * Evaluation seq numbers are positions in this list; the daemon resumes a job by skipping the seqs
 * already stored.
 */
#ifndef FW_JOB_H
#define FW_JOB_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fw_strategy.h"
#include "fw_variants.h"

#define FW_SPEC_MAX_BUDGET 100000   /* evaluations per shape */
/* The ranges of a resolved spec's run fields: fw_spec_resolve refuses what is outside them and
 * fw_job_spec_parse reads them back with the same bounds. */
#define FW_SPEC_SEED_MAX 9007199254740991LL   /* 2^53 - 1: seeds travel as JSON numbers */
#define FW_SPEC_WARMUP_MAX 10000
#define FW_SPEC_ITERS_MAX 100000
#define FW_SPEC_DEVICE_MAX 1023
/* The budget of a spec that names none (nor its profile, nor num_random), strategies random and
 * grid: a first run that ends in minutes, not every valid point (issue 19 item 5). "budget": 0 asks
 * for every valid point; a stored (resolved) spec always carries its budget, so it is unchanged. */
#define FW_SPEC_DEFAULT_BUDGET 40
/* The strategy of a spec that names none (nor its profile, nor num_random / no_explore): the one
 * that does best on recorded spaces (BENCHMARKS.md, the search race). A stored (resolved) spec
 * always carries its strategy, so jobs stored under an older default keep theirs. */
#define FW_SPEC_DEFAULT_STRATEGY "auto"
#define FW_SPEC_STRATEGIES "grid, presets, random, anneal, genetic, model, auto"
#define FW_SPEC_MAX_SHAPES 256
/* Evaluations in one plan, all shapes together (issue 15 item 3): a plan item holds its point
 * (about 0.9 KiB), so 200000 keep a plan under about 200 MB; fw_plan_build refuses more (-E2BIG),
 * before it allocates them, with a sentence saying what to lower. */
#define FW_SPEC_MAX_PLANNED 200000
#define FW_SPEC_MAX_SPACE 1000000   /* raw points visited when expanding one shape */

/* Resolve a user spec into a complete one (new object, caller frees with cJSON_Delete).
 * Fields (all optional except family-or-profile):
 *   profile, family, shapes[], space{knobs,constraints}, presets[], strategy ("random"|"grid"|
 *   "presets"), budget, seed, warmup, iters, backend, device, no_explore (= strategy presets),
 *   aliases{KNOB: MACRO}, source{text, entry, name} (a user kernel: issue 6), options{...},
 *   macros{NAME: int} (fixed extra macros for every variant), num_random (= strategy random with
 *   budget num_random + number of presets). docs/spec.md has every field, default and error.
 * The resolved spec always has: family, shapes, space, presets, strategy, budget, seed (drawn from
 *   /dev/urandom and stored when absent), warmup, iters, backend, device, aliases, macros; and
 *   profile, source, options when given. no_explore and num_random are folded into strategy/budget.
 * Errors are for people: "unknown profile 'x' (known: a, b)", "unknown knob 'X' in preset 2",
 * "budget 200000 is over the limit of 100000". */
int fw_spec_resolve(const cJSON *user, cJSON **resolved, char *err, size_t errlen);

/* The backend a spec without one (or with "auto") resolves to: "metal" on macOS, "opencl" elsewhere,
 * "cuda" in a build with CUDA and no OpenCL. */
const char *fw_job_default_backend(void);
/* The keys of a user spec's "options" are ones some part of fairway reads (docs/spec.md lists
 * them): -EINVAL with a sentence naming an unknown key and the known ones (issue 19 item 8). Called
 * on new submissions only, so a stored job resumes whatever its options say. */
int fw_spec_check_options(const cJSON *user, char *err, size_t errlen);
/* A built-in family's kernel source in a dialect ("metal", "opencl", "cuda") for a shape, so a
 * client can list its entries without reaching into kernels/: 0 with *text (caller frees) or NULL
 * when the family is unknown or has no source of its own; -errno with a message when it fails. */
int fw_job_family_source(const char *family, const char *dialect, const cJSON *shape, char **text,
                         char *err, size_t errlen);

/* ---- the typed resolved spec (job/job_spec.c) ---------------------------------------------------
 * What every consumer (daemon, worker, harness, CLI) reads of a resolved spec, read and checked once
 * by fw_job_spec_parse. The struct points into the JSON it was parsed from (json, strings, the
 * objects kept as JSON): keep that alive and unchanged while the struct is used.
 *
 * Top-level fields are checked for type and range (the ranges fw_spec_resolve gives them): a
 * resolved spec always passes; a field absent is not an error (its has_ flag is 0, the consumer's
 * default applies), a field of the wrong type or out of range is, with a sentence naming it.
 * options.ask_ahead is checked as fw_spec_resolve checks it. The other options keep the meaning
 * they always had for their readers: a value that is not of the option's type is as if absent (a
 * stored job with such an option keeps resuming as before), so they are read into fw_job_num, and
 * the two that refuse a bad value still do so where they always did, with the same sentence
 * (reference_max_ops: fw_job_fits at submit; replay_noise: the worker loading a replayed job). */
typedef struct fw_job_num {
    int present;             /* the key is in options */
    int number;              /* ... and holds a number: value; ivalue is cJSON's valueint of it */
    double value;
    int ivalue;
} fw_job_num;

typedef struct fw_job_spec {
    const cJSON *json;       /* the resolved spec itself (not owned) */
    const char *family;      /* NULL: absent */
    const char *strategy;    /* NULL: absent */
    const char *backend;     /* NULL: absent */
    const cJSON *shapes;     /* the "shapes" array of {name: integer} objects; NULL: absent */
    int nshapes;
    /* what stays JSON, NULL when absent: the space and presets (fw_space_from_json, the variants
     * library), name -> value maps (aliases, macros, knob_values, binds), the user's source, the
     * declarative workload, the replay reference and the options object itself */
    const cJSON *space, *presets, *aliases, *macros, *knob_values, *binds, *source, *workload, *replay, *options;
    const cJSON *space_knobs;   /* space.knobs */
    const char *source_text;    /* source.text when a string */
    const char *source_entry;   /* source.entry when a string ("" included) */
    const char *source_name;    /* source.name (the file the CLI read it from) when a string */
    const cJSON *source_entries;   /* source.entries: a name, or {dialect or kernel name: entry} */
    int has_budget, has_seed, has_warmup, has_iters, has_device;
    int64_t budget;          /* 0 .. FW_SPEC_MAX_BUDGET (0 = every valid point) */
    uint64_t seed;           /* 0 .. 2^53 - 1 */
    int warmup;              /* 0 .. 10000 */
    int iters;               /* 1 .. 100000 */
    int device;              /* 0 .. 1023, or the number after the last ':' of device_text */
    const char *device_text; /* a device given as a string ("opencl:1" or "1"; older specs), else NULL */
    double budget_s;         /* seconds per shape; 0 = no time budget (absent, or not a number above 0) */
    /* options */
    int has_ask_ahead;
    int ask_ahead;           /* 0 .. FW_SEQ_ASK_AHEAD_MAX */
    const char *compiler;    /* options.compiler when a string */
    const char *replay_hash; /* replay.hash when a string */
    int early_stop_off;      /* options.early_stop is false, or an object whose "enabled" is false */
    int finalists_false;     /* options.finalists is false */
    int verify_on_device;    /* options.verify_on_device: 1 true, 0 false, -1 absent or not a bool */
    fw_job_num compile_threads, finalists, finalist_rounds, finalist_iters, rotate_buffers, flush_cache_mb,
        rotate_bytes, launches_per_sample, reference_max_ops, replay_noise;
    fw_job_num es_after, es_ratio;   /* options.early_stop.after / .ratio when it is an object */
} fw_job_spec;

/* Read a resolved spec (fw_spec_resolve's output, or a stored one) into *out: 0, or -EINVAL with one
 * sentence in err naming the field that is wrong ("\"budget\" must be an integer from 0 to 100000").
 * Keeps pointers into resolved (see above); owns nothing today, but pair it with fw_job_spec_release. */
int fw_job_spec_parse(const cJSON *resolved, fw_job_spec *out, char *err, size_t errlen);
void fw_job_spec_release(fw_job_spec *spec);
/* Shape i of the spec (NULL past the end). */
const cJSON *fw_job_spec_shape(const fw_job_spec *spec, int i);

/* Hash of the resolved spec's canonical JSON (cJSON_PrintUnformatted of a key-sorted copy). */
void fw_spec_hash(const cJSON *resolved, char out[17]);

typedef struct fw_plan_item {
    int shape;               /* index into spec.shapes */
    fw_point point;
    const char *origin;      /* static string: "preset", "grid", "random" */
} fw_plan_item;

typedef struct fw_plan {
    size_t n;
    fw_plan_item *items;
    size_t planned;          /* evaluations of the whole job: n for the fixed orders; for a learning
                              * strategy the items are only what it proposes before any result */
} fw_plan;

/* Build the plan of a resolved spec for a device (device JSON as in fw_device_env(); NULL = no
 * device limits known, constraints naming DEVICE_* are then an error). -EINVAL with a message for an
 * empty space ("no valid variant for shape 0 (M=7): constraint 'M % TILE_M == 0' rejects all 120").
 * -E2BIG when budget is 0 and a shape has more than FW_SPEC_MAX_BUDGET valid points (grid/random), or
 * when the plan would hold more than FW_SPEC_MAX_PLANNED evaluations (refused before they are held). */
int fw_plan_build(const cJSON *resolved, const cJSON *device, fw_plan *plan, char *err, size_t errlen);
/* fw_plan_build within a work bound (fw_variants.h; NULL = none), shared by every shape's expansion:
 * -ETIME with a sentence naming the shape when the constraints take more than work->max_nodes
 * expression-node evaluations; -ECANCELED once work->cancel is set (from another thread). Safe to
 * call from any thread (it touches no shared state but the replay file cache, which locks). */
int fw_plan_build_work(const cJSON *resolved, const cJSON *device, fw_work *work, fw_plan *plan, char *err,
                       size_t errlen);
void fw_plan_release(fw_plan *plan);

/* ---- the evaluation sequence (job/seq.c) -------------------------------------------------------
 * What daemon and worker both run: per shape in spec order, the presets first (valid for the shape,
 * in listed order, origin "preset"), then the strategy's points, at most `budget` evaluations per
 * shape in all (failures included; 0 = every valid point). Seq numbers are given at ask time,
 * shape by shape, so a shape's evaluations are consecutive seqs.
 *   grid, presets, random: a fixed order, ignoring results (random = fw_search_random over the
 *     points the presets left, stream = shape index; the order plans always had);
 *   anneal, genetic, model, auto: fw_strategy.h over the shape's valid list (seed, stream = shape
 *     index, budget), the presets claimed first and told like its own points.
 * Interleaving (the rule that makes a learning run exact on a rerun and after a restart): the
 * point at position j of a shape is asked only after the results of its positions < j - A were
 * told to the strategy, in order, and exactly those: results arriving early wait. A = ask-ahead:
 * unlimited for the fixed orders (but see budget_s below), spec options.ask_ahead for learning
 * strategies (resolved specs carry it). Presets and the strategy's blind proposals (fw_strategy_blind_asks: its first points,
 * which read no result) are asked without waiting; the rule itself is fw_strategy_tells_due, which
 * fairway-searchbench uses too. So the strategy sees one fixed interleaving of asks and tells
 * whatever the timing, and while position j is measured, up to A later points (more during the
 * blind start) can be compiling. */
#define FW_SEQ_ASK_AHEAD_DEFAULT 8
#define FW_SEQ_ASK_AHEAD_MAX 64
/* The ask-ahead a new spec that names none is given, from its evaluation budget: 8 up to 100
 * evaluations per shape, then one more per 8 evaluations past 100, at most 20 (from 196 on; budget
 * 0, every valid point, gets 20). Search quality wants a small A at small budgets (the results
 * steer the next points) and compile throughput wants a large one; BENCHMARKS.md "The ask-ahead
 * follows the budget" has the measurements that chose it. Written into the resolved spec, so a
 * stored job keeps the A it was resolved with. */
#define FW_SEQ_ASK_AHEAD_BIG 20
size_t fw_seq_default_ask_ahead(int64_t budget);

typedef struct fw_seq_item {
    int64_t seq;
    int shape;
    int64_t index;           /* position in the shape's valid list (canonical order); -1: none */
    fw_point point;
    const char *origin;      /* static: "preset", "grid", "random", or a strategy's name */
} fw_seq_item;

typedef struct fw_seq fw_seq;

enum { FW_SEQ_WAIT = 0, FW_SEQ_ITEM = 1, FW_SEQ_END = 2 };

/* A sequencer for a resolved spec and device (as fw_plan_build; the same errors). It keeps nothing
 * of resolved or device: they may be freed once it returns. */
int fw_seq_new(const cJSON *resolved, const cJSON *device, fw_seq **out, char *err, size_t errlen);
/* fw_seq_new within a work bound (as fw_plan_build_work; the bound is not kept by the sequencer). */
int fw_seq_new_work(const cJSON *resolved, const cJSON *device, fw_work *work, fw_seq **out, char *err,
                    size_t errlen);
void fw_seq_free(fw_seq *q);
/* Evaluations of the whole job when every shape runs its budget (what progress calls planned). */
size_t fw_seq_planned(const fw_seq *q);
/* Items asked so far (= the next seq). */
size_t fw_seq_count(const fw_seq *q);
/* An asked item, NULL for a seq not asked yet. */
const fw_seq_item *fw_seq_item_at(const fw_seq *q, int64_t seq);
/* The ask-ahead A (SIZE_MAX for a fixed order). */
size_t fw_seq_ask_ahead(const fw_seq *q);
/* Ask the next item: FW_SEQ_ITEM with *out (valid until fw_seq_free), FW_SEQ_WAIT when it waits
 * for a result (fw_seq_tell), FW_SEQ_END when every shape's budget is asked; -ENOMEM. */
int fw_seq_ask(fw_seq *q, const fw_seq_item **out);
/* The result of an asked seq, in any order, with the time its evaluation took (eval_ms: the
 * record's "eval_ms", fw_record_eval_ms; what a time budget counts). -EINVAL for a seq not asked
 * or told twice. */
int fw_seq_tell(fw_seq *q, int64_t seq, fw_outcome o, double eval_ms);
/* A stored record's outcome: status as stored, median_ns its ranking statistic (ok: the time;
 * pruned: a lower bound). Failures are their class (runtime_error counts as crashed). -EINVAL for
 * an unknown status, or ok/pruned without a positive time. */
int fw_seq_outcome(const char *status, double median_ns, fw_outcome *o);
/* Rebuild from a stored record (call in seq order): asks up to seq, checks the asked point's key
 * against the stored variant_key, tells the outcome. 0: as asked; 1: the stored point differs
 * (why says so) and is told as stored (the same variant of the shape, or no tell when it is not
 * in the shape's valid list); -EAGAIN: seq cannot be asked (a result before it is not stored);
 * -ENOENT: seq is past the end of the sequence. */
int fw_seq_replay(fw_seq *q, int64_t seq, const char *variant_key, fw_outcome o, double eval_ms, char *why,
                  size_t whylen);
/* The spec's "budget_s" (seconds per shape; 0 when none). The time budget, in the sequencer like
 * the evaluation budget: before position j of a shape is asked, the results of its positions
 * < j - A are told (A = the ask-ahead; a fixed order waits too when it has a time budget), and once
 * their eval_ms add up to budget_s the shape ends there (failures count: their time was spent).
 * So where a shape stops is a pure function of the results told, in order, with their recorded
 * times: a resume from the store and a rerun on a replayed space end at the same seq; at most A
 * evaluations asked before the sum reached the budget run past it (docs/spec.md, design-notes). */
double fw_spec_budget_s(const cJSON *resolved);
/* Whether the time budget ended shape `shape` (before its evaluation budget). */
int fw_seq_timed_out(const fw_seq *q, int shape);
/* A record's "eval_ms" (the worker's time for the evaluation; docs/worker-protocol.md), 0 when it
 * has none. */
double fw_record_eval_ms(const cJSON *rec);
/* The static origin string for a name sent over the wire ("preset", "random", ...), "?" if none. */
const char *fw_seq_origin(const char *name);

/* ---- does a job fit the device and the host? (job/cost.c; issue 15 item 12) ---------------------
 * Checked at submit, before the job is stored: for every shape, from its family's cost
 * (fw_family.cost, fw_decl_cost) and the spec's options (rotated input copies, the cache-flush
 * buffer), the largest buffer against the device's largest allocation, all buffers together against
 * its memory, what the worker holds on the host against the host's available memory, and the CPU
 * reference's multiply-adds against options.reference_max_ops (default 2^36, 0 = no bound). */
#define FW_JOB_REFERENCE_MAX_OPS 68719476736.0   /* 2^36 */

typedef struct fw_fit_limits {
    double device_alloc, device_mem, host_mem;   /* bytes; 0 = not known, not checked */
    char device_alloc_what[64], device_mem_what[64], host_what[64];   /* where each one was read */
    int workers;             /* workers holding a shape's host data at once (a job's devices) */
} fw_fit_limits;

/* The device's limits from its DEVICE object (limits.max_alloc_bytes, limits.global_mem_bytes, named
 * after the backend's query: CL_DEVICE_MAX_MEM_ALLOC_SIZE, ...); the host's left 0; workers 1. */
void fw_fit_limits_of_device(const cJSON *device, fw_fit_limits *lim);
/* A shape's cost for a resolved spec: the family's, plus what the options add on the device. A
 * family that does not know its cost (the replay family) costs 0. */
struct fw_wl_cost;   /* kernels/fw_family.h */
int fw_job_shape_cost(const cJSON *resolved, const cJSON *shape, struct fw_wl_cost *out, char *err,
                      size_t errlen);
/* options.reference_max_ops, checked (FW_JOB_REFERENCE_MAX_OPS when absent). */
int fw_job_reference_max_ops(const cJSON *resolved, double *ops, char *err, size_t errlen);
/* 0 when every shape fits; -E2BIG with one sentence naming the first shape that does not, what it
 * needs, the limit and what would fit ("shape 0 (K=32767,M=65536,N=8): buffer A needs 8.0 GiB but the
 * device allows 4.0 GiB in one allocation (CL_DEVICE_MAX_MEM_ALLOC_SIZE); the largest M that fits is
 * 32768 (the other fields as they are), or K up to 16384"); -EINVAL for a bad reference_max_ops. */
int fw_job_fits(const cJSON *resolved, const fw_fit_limits *lim, char *err, size_t errlen);

#endif
