/* harness_int.h - the harness's parts (bench/harness.c and the files beside it), private to bench/.
 *
 * harness.c measures one plan item in stages (fw_bench_measure_family); the stages use:
 *   buffers.c    the per-process workload cache and the preparation of buffers before a checked launch
 *   program.c    what the compiler sees for a plan item, the compile cache's use, the program cache
 *   verify.c     the comparison with the reference and a transformed variant's extra checks
 *   timing.c     timing options, early stop's best medians, rotation, flushing, the timed launches
 *   records.c    the record's objects (status, stats, samples, geometry, resources, stage times)
 *   pool.c       the compile threads;  finalists.c  the interleaved re-timing of the top variants
 */
#ifndef FW_HARNESS_INT_H
#define FW_HARNESS_INT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fw_bench.h"
#include "fw_declarative.h"
#include "fw_family.h"
#include "fw_variants.h"

#define POISON 0xFFFFFFFFu

typedef struct wl_entry {
    int used;
    uint64_t key, stamp;
    const fw_family *fam;
    fw_workload *wl;
    fw_buffer **bufs;
    int nrot;             /* copies of the inputs for options.rotate_buffers (1 = none) */
    fw_buffer **rot;      /* (nrot - 1) x nbuffers: extra copies of the input buffers, NULL elsewhere */
    /* Inputs are written from the host once per workload, into these device-resident pristine copies
     * (one per input buffer, NULL elsewhere); each variant's inputs are then restored from them on the
     * device (backend buffer_copy). pristine_state: 0 not made yet, 1 made, -1 not possible (no
     * buffer_copy, no memory): inputs are written from the host for every variant as before. */
    fw_buffer **pristine;
    int pristine_state;
    /* The reference on the device (nreference doubles) for the device comparison (devcompare.c);
     * ref_state as pristine_state. */
    fw_buffer *ref_dev;
    int ref_state;
} wl_entry;

typedef struct prog_entry {
    int used;
    uint64_t key, stamp;
    fw_program *prog;     /* NULL: the compile failed, log holds why (failures are cached too) */
    char *log;
    double compile_ms;
    double load_ms;       /* program_load of a compile-cache hit or a compile thread's binary */
    int compile_rc;
    int from_disk;        /* loaded from the persistent compile cache */
    int restored;         /* binary stored again after the first launch (see measure) */
} prog_entry;

typedef struct best_entry { char *shape_key; double ns; } best_entry;

typedef struct fw_pool fw_pool;

struct fw_bench {
    const fw_backend *be;
    fw_device *dev;
    fw_device_info info;
    uint64_t clock;
    wl_entry wl[FW_BENCH_WL_CACHE];
    prog_entry prog[FW_BENCH_PROG_CACHE];
    fw_ccache *cache;
    char identity[1024];
    best_entry *best;
    size_t nbest;
    fw_buffer *flush;     /* options.flush_cache_mb scratch buffer */
    size_t flush_bytes;
    fw_pool *pool;
    /* how the last timed_launches timed its samples (options.launches_per_sample, rotation) */
    int last_lps, last_nrot, last_window;
    uint64_t batch_launches;   /* launches made inside batched samples (tests count them) */
    /* the device comparison (devcompare.c): its program, state (0 untried, 1 ready, -1 this device
     * cannot: compare on the host) and partial-sums buffer */
    fw_program *cmp_prog;
    int cmp_state;
    fw_buffer *cmp_part;
};


/* A compile thread's result for one seq (fw_pool below). */
typedef struct pool_result {
    uint64_t key;
    void *bytes;
    size_t len;
    double ms;
    int from_disk, rc;
    char *log;
} pool_result;

/* What the compiler sees for one plan item: shared by the timing thread and the compile threads,
 * so both compile exactly the same text with the same macros (and so share cache keys). */
typedef struct compile_in {
    char *source;
    char source_hash[17];
    const char *entry, *options;
    char **macros;
    size_t nmacros;
} compile_in;

typedef struct run_opts {
    int es_on, es_after;
    double es_ratio;
    int nrot;
    size_t flush_bytes;
    int lps;              /* options.launches_per_sample */
    double rotate_bytes;  /* options.rotate_bytes */
} run_opts;

/* records.c */
void fwh_set_status(cJSON *rec, const char *status, const char *error);
/* A record's "stats" object from its samples; *st gets the stats for the numbers derived from them. */
void fwh_add_stats(cJSON *o, const uint64_t *samples, size_t n, fw_bench_stats *st);
/* A record's "samples_ns": every sample, in the order taken. */
void fwh_add_samples(cJSON *o, const uint64_t *samples, size_t n);
/* The job seed of a spec (0 when it has none). */
uint64_t fwh_spec_seed(const fw_job_spec *spec);
/* Append "NAME=VALUE" for each entry of a {"NAME": int|string} object. */
int fwh_add_macro_object(const cJSON *obj, char ***macros, size_t *n, char *err, size_t errlen);
cJSON *fwh_geometry_json(const fw_geometry *g);
cJSON *fwh_resources_json(const fw_resources *r);
/* Adds the time since *t0 to the record's "stages_ms" under `name` and restarts the clock. */
void fwh_stage_mark(cJSON *rec, const char *name, uint64_t *t0);

/* verify.c */
size_t fwh_elem_size(int elem);
#define FW_BENCH_XFORM_SEEDS 3
#define FW_BENCH_XFORM_REPEATS 3
int fwh_xform_checks(fw_bench *b, const fw_family *fam, const cJSON *shape, uint64_t wseed, const fw_workload *wl,
                     fw_buffer **bufs, fw_program *prog, const fw_launch *l, void *out, char *why, size_t whylen);

/* buffers.c */
void fwh_wl_entry_release(fw_bench *b, wl_entry *e);
/* A shape's workload: the family's, or for the declarative family the spec's "workload" one. */
int fwh_wl_new(const fw_family *fam, const fw_job_spec *spec, const cJSON *shape, uint64_t seed, fw_workload **out,
               char *err, size_t errlen);
/* The cached workload of (family, shape, seed[, declarative workload]) with its device buffers;
 * NULL with *rc and err set when it cannot be made. */
wl_entry *fwh_workload_get(fw_bench *b, const fw_family *fam, const fw_job_spec *spec, const cJSON *shape,
                           uint64_t seed, char *err, size_t errlen, int *rc);
/* Seeded inputs written, outputs poisoned, accumulators and scratch zeroed: every launch that is
 * checked starts clean. On failure, *failed is the buffer's index. */
int fwh_prepare_buffers(fw_bench *b, const fw_workload *w, fw_buffer **bufs, size_t *failed);

/* The launch's arguments (wl->nargs of them) from the workload's, in binding order: its buffers from
 * bufs, its by-value blobs, and local memory of the sizes geo gives (FW_WL_LOCAL). -EINVAL with a
 * sentence in err for an argument that names no buffer or no local size. */
int fwh_bind_args(const fw_workload *wl, fw_buffer **bufs, const fw_geometry *geo, fw_arg *args, char *err,
                  size_t errlen);
/* How many of wl's arguments a kernel reporting num_args parameters is launched with: all of them
 * when the count is unknown (0) or equal; num_args when fewer but at least wl->min_args (the
 * arguments past it are optional); 0 when no launch could bind it right. */
size_t fwh_bound_nargs(const fw_workload *wl, int64_t num_args);

/* Restores the inputs for a variant (from the pristine copies, made on first use, or from the
 * host), poisons the outputs, zeroes accumulators and scratch. On failure, *failed is the buffer's
 * index. */
int fwh_prepare_variant(fw_bench *b, wl_entry *we, size_t *failed);

/* devcompare.c */
/* 1 when the device can and should compare an f32 output of nelem elements with the reference
 * (compiling the compare kernel on first use), 0 when the host does (spec options.verify_on_device
 * false, or absent on a CPU device; no kernel for the dialect, no fp64, too many elements). spec
 * NULL: whenever the device can. */
int fwh_dev_compare_ready(fw_bench *b, const fw_job_spec *spec, size_t nelem);
/* The comparison of out (f32, nelem elements) with we's reference on the device: 0 with *v and
 * *max_abs (the largest |out - ref| over written finite elements, +inf when one is NaN); 1 when the
 * reference cannot be put on the device (compare on the host); < 0 a device error (-EFAULT sticky),
 * text in the device error. */
int fwh_dev_compare(fw_bench *b, wl_entry *we, fw_buffer *out, size_t nelem, fw_bench_verify *v, double *max_abs);
void fwh_dev_compare_free(fw_bench *b);

/* program.c */
void fwh_prog_entry_release(fw_bench *b, prog_entry *e);
uint64_t fwh_program_key(const char *source, char **macros, size_t n, const char *options, const char *entry);
int fwh_cached_compile(const fw_backend *be, fw_device *dev, fw_ccache *cache, const char *identity,
                       const char *arch, const char *source, char **macros, size_t n, const char *options,
                       const char *entry, fw_program **prog, void **bytes, size_t *len, int *from_disk,
                       char **log);
/* The program of (source, macros, options, entry): this process's compiled one, the compile pool's
 * for seq, or compiled now (through the persistent cache). *cached = 1 when it was in this process. */
prog_entry *fwh_program_get(fw_bench *b, const char *source, char **macros, size_t n,
                            const char *options, const char *entry, int64_t seq, int *cached);
void fwh_compile_in_release(compile_in *c);
int fwh_compile_inputs(const char *dialect, const fw_family *fam, const fw_job_spec *spec, const fw_plan_item *item,
                       const fw_workload *wl, compile_in *c, char *err, size_t errlen);

/* timing.c */
void fwh_parse_run_opts(const fw_job_spec *spec, run_opts *o);
int fwh_timed_launches(fw_bench *b, fw_program *prog, const fw_launch *base, wl_entry *we, const run_opts *ro,
                       int warmup, size_t n, uint64_t *samples, const char *shape_key, size_t *taken,
                       double *best_out, double *med_out, const char **failed);

/* pool.c: the timing thread reaching seq: 1 with the compile thread's result, 0 when it must
 * compile itself. */
int fwh_pool_take(fw_pool *p, int64_t seq, uint64_t key, pool_result *out);

#endif
