/* fw_bench.h - the worker's measuring core: statistics, device JSON, and the harness that measures
 * one plan item (DESIGN.md section 6, docs/worker-protocol.md).
 *
 * The harness owns nothing of the search: it is given a resolved spec and one plan item and returns
 * the measurement record (a cJSON object in the worker protocol's shape). Statuses it produces:
 * ok, compile_error, invalid, verify_failed, runtime_error. The daemon adds crashed / timeout.
 */
#ifndef FW_BENCH_H
#define FW_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "fw_backend.h"
#include "fw_job.h"

/* ---- statistics ------------------------------------------------------------------------------ */

typedef struct fw_bench_stats {
    size_t n;
    double median;      /* p50 by the rule below (the mean of the two middle samples for even n) */
    double mean;
    uint64_t min, max;
    double stddev;      /* sample standard deviation (n - 1 in the denominator); 0 when n < 2 */
    double p95;
} fw_bench_stats;

/* Percentile p in [0, 1] of sorted samples, by linear interpolation between closest ranks
 * (Hyndman & Fan type 7, numpy's default): h = (n - 1) * p, lo = floor(h),
 * value = x[lo] + (h - lo) * (x[lo + 1] - x[lo]). n must be > 0. */
double fw_bench_percentile(const uint64_t *sorted, size_t n, double p);

/* Stats of n samples (any order; not modified). -EINVAL when n == 0. */
int fw_bench_stats_compute(const uint64_t *samples, size_t n, fw_bench_stats *out);

/* ---- devices --------------------------------------------------------------------------------- */

/* The DEVICE object of docs/worker-protocol.md (backend, index, identity, ..., limits{}). */
cJSON *fw_bench_device_json(const fw_device_info *info, int index);

/* The seed of a shape's workload: the job seed mixed with the shape index (splitmix64 of
 * seed + (shape_index + 1) * 0x9e3779b97f4a7c15), so shapes get independent inputs and the same
 * (seed, shape) gives the same bytes on every machine. */
uint64_t fw_bench_workload_seed(uint64_t job_seed, int shape_index);

/* ---- the harness ----------------------------------------------------------------------------- */

/* A declarative workload's reference (bench/decl_ref.c): compiles the reference entry of the
 * workload (from its own text, else job_source) with the spec's fixed macros, launches it once on
 * the workload's inputs in bufs and stores its output as wl->reference. 0 and nothing done when the
 * workload verifies nothing. */
struct fw_workload;
int fw_bench_decl_reference(const fw_backend *be, fw_device *dev, struct fw_workload *wl, fw_buffer **bufs,
                            const char *job_source, const char *const *macros, size_t nmacros, const char *options,
                            char *err, size_t errlen);

typedef struct fw_bench fw_bench;

/* A harness over an opened device (not owned: close it after fw_bench_free). It caches per process:
 *   - workloads with their device buffers, per (family, shape, seed): the last FW_BENCH_WL_CACHE;
 *   - compiled programs keyed by (source hash, sorted macros, options) in an LRU of
 *     FW_BENCH_PROG_CACHE entries, so a variant measured on several shapes compiles once (its
 *     record then says "cached": true and carries the compile_ms of the original compile). */
#define FW_BENCH_WL_CACHE 2
#define FW_BENCH_PROG_CACHE 16
int fw_bench_new(const fw_backend *be, fw_device *dev, const fw_device_info *info, fw_bench **out);
void fw_bench_free(fw_bench *b);

/* Measure plan item `item` (evaluation number seq) of a resolved spec (fw_job_spec_parse):
 *   source  = spec "source.text" when present, else family->source(dialect, shape);
 *   entry   = spec "source.entry", else "source.entries" (a name, or an object keyed by the
 *             device's dialect or by the workload's kernel name), else the workload's kernel;
 *   macros  = fw_point_macros(point, spec "aliases") + spec "macros" {NAME: int|string}
 *             + the workload's shape_macros;
 *   options = spec "options.compiler" (a string of extra compiler options, e.g.
 *             "-cl-fast-relaxed-math"), else none ("options" is the worker's part of a spec);
 *   warmup / iters = spec "warmup" (default 3) / "iters" (default 10);
 *   steps   = geometry (invalid if the family refuses or the threads / shared bytes exceed the
 *             device), compile (compile_error with the full log), resources vs limits (invalid),
 *             upload seeded inputs, poison outputs with 0xFFFFFFFF and zero ACCUM/SCRATCH, one
 *             checked launch, verify (verify_failed unless nothing unwritten, nothing non-finite
 *             and rel_err <= tolerance), warmup launches, iters timed launches (every sample kept).
 * Besides the protocol's fields the record carries "source_hash", "macros" (as compiled) and
 * "first_launch_ms" (host wall time of the checked launch: drivers such as PoCL finish compiling
 * there, so compile_ms alone understates the cost of a new variant).
 * Returns 0 with *record set for every variant outcome. Returns -EFAULT (record NULL) after a
 * sticky device error: the worker must exit 70 without writing more. Other negatives (unknown
 * family, bad shape, a workload the family cannot make, out of memory) carry a message in err. */
int fw_bench_measure(fw_bench *b, const fw_job_spec *spec, const fw_plan_item *item, int64_t seq,
                     cJSON **record, char *err, size_t errlen);
/* The same with the family given (NULL: looked up by the spec's "family"); tests use it to measure
 * a family that is not in the registry. */
struct fw_family;
int fw_bench_measure_family(fw_bench *b, const struct fw_family *fam, const fw_job_spec *spec,
                            const fw_plan_item *item, int64_t seq, cJSON **record, char *err, size_t errlen);

/* Verification of a read-back output against a reference, exposed for tests. `poison` is the
 * bit pattern the output was filled with (element-sized: 0xFFFFFFFF for 4-byte elements, 0xFFFF for
 * f16). Unwritten = elements bit-equal to the poison; nonfinite = other NaN/Inf; rel_err =
 * ||out - ref|| / ||ref|| over the remaining elements in double (absolute norm when ||ref|| = 0). */
typedef struct fw_bench_verify {
    size_t unwritten, nonfinite;
    double rel_err;
} fw_bench_verify;
int fw_bench_verify_output(int elem /* fw_elem */, const void *out, size_t nelem, const double *ref,
                           fw_bench_verify *v);
/* The same with a second read-back: out0 is the output of the same launch on an output buffer filled
 * with zero bytes instead of the poison. An element is unwritten only when it is the poison in out
 * and all zero bytes in out0, so an integer output that holds -1 or UINT_MAX (all 0xFF, the poison's
 * bytes) is a value, not a hole. The values compared are out's. out0 NULL: out alone decides (as
 * fw_bench_verify_output); out0 == out: nothing is unwritten (an inout buffer, never poisoned). */
int fw_bench_verify_output2(int elem /* fw_elem */, const void *out, const void *out0, size_t nelem,
                            const double *ref, fw_bench_verify *v);
/* The same comparison on the device (bench/devcompare.c, issue 20), for an f32 output: out holds
 * nelem f32 outputs, ref_dev nelem doubles, both on the harness's device. 0 with *v and *max_abs
 * (the largest |out - ref| over written finite elements, +inf when one is NaN); 1 when this device
 * cannot compare (no compare kernel for its dialect, no fp64): use fw_bench_verify_output; < 0 a
 * device error. Unwritten and nonfinite counts and max_abs equal the host's exactly; rel_err is the
 * same sum added in another order. fw_bench_measure compares an f32 output on the device when it can
 * and spec options.verify_on_device is true, or absent and the device is not this machine's CPU
 * (PoCL: there the host comparison is faster); the record's verify object says "compared_on":
 * "device" or "host". */
int fw_bench_verify_device(fw_bench *b, fw_buffer *out, fw_buffer *ref_dev, size_t nelem, fw_bench_verify *v,
                           double *max_abs);

/* ---- tuning throughput (issue 7) ------------------------------------------------------------- */

/* Persistent compile cache. Content-addressed: the key hashes (compile-cache format, device identity
 * [backend|vendor|name|driver|compiler version], arch, compiler options, entry, the macros sorted,
 * the source), so any change to what the compiler sees or to the compiler itself is a new entry.
 * Entries hold program binaries (OpenCL CL_PROGRAM_BINARIES, CUDA cubins) from the backend's
 * program_binary, loaded back with program_load. Each file starts with a 64-byte header (magic
 * "FWCCACHE", format, payload length, FNV-1a 64 checksum of the payload, the key); a file whose
 * header, length or checksum disagree is deleted and reported as a miss (-EBADMSG), so the caller
 * compiles again and stores a fresh entry. Writes go to a temporary file renamed into place (readers
 * in other processes never see half an entry). When the entries exceed max_bytes (0 = no bound) the
 * least recently used (file mtime, refreshed on every hit) are deleted down to 90 % of the bound.
 * Thread-safe: one fw_ccache may be shared by the compile threads. */
#define FW_CCACHE_KEY_LEN 32
#define FW_CCACHE_FORMAT 1
#define FW_CCACHE_DEFAULT_MB 512
typedef struct fw_ccache fw_ccache;
typedef struct fw_ccache_stats {
    uint64_t hits, misses, stores, dropped /* damaged entries deleted */, evicted, bytes;
} fw_ccache_stats;
/* $XDG_CACHE_HOME/fairway/compile, else $HOME/.cache/fairway/compile; -ENOENT with neither. */
int fw_ccache_default_dir(char *buf, size_t len);
/* Creates dir (and parents, mode 0700) when absent. */
int fw_ccache_open(const char *dir, uint64_t max_bytes, fw_ccache **out, char *err, size_t errlen);
void fw_ccache_close(fw_ccache *c);
const char *fw_ccache_dir(const fw_ccache *c);
int fw_ccache_key(const char *identity, const char *arch, const char *source, const char *const *macros,
                  size_t nmacros, const char *options, const char *entry, char out[FW_CCACHE_KEY_LEN + 1]);
/* 0 and a malloc'd copy of the payload on a hit; -ENOENT on a miss; -EBADMSG when the entry was
 * damaged (it is deleted: the next put stores a good one). */
int fw_ccache_get(fw_ccache *c, const char *key, void **data, size_t *len);
int fw_ccache_put(fw_ccache *c, const char *key, const void *data, size_t len);
void fw_ccache_get_stats(fw_ccache *c, fw_ccache_stats *out);

/* Use a compile cache (not owned; NULL = none). With one, a compile first looks the variant up:
 * a hit is loaded with program_load and its record says "cached": true with the load's time as
 * compile_ms; a miss compiles, then stores program_binary's bytes. Backends without
 * program_binary/program_load compile as before. */
void fw_bench_set_cache(fw_bench *b, fw_ccache *c);

/* Early stop (DESIGN.md section 6.5). Spec "options.early_stop": false turns it off; an object
 * {"after": 5, "ratio": 2.0} tunes it (these are the defaults; it is on by default). After `after`
 * timed samples, a variant whose running median exceeds ratio x the best median known for its shape
 * stops being timed and is recorded as status "pruned" with the statistics and samples it has. The
 * best known is the smallest of: every ok record this harness produced for that shape key, and what
 * fw_bench_note_best was told (the daemon passes its stored best, since a worker may restart). A
 * variant never prunes against itself, so the best is never pruned. */
int fw_bench_note_best(fw_bench *b, const char *shape_key, double median_ns);
/* Forget every best (a new job: another job's medians say nothing about this one's). */
void fw_bench_reset_best(fw_bench *b);

/* Input rotation and cache flushing, spec "options": "rotate_buffers": N (N >= 2: N copies of every
 * input buffer, the launches cycle through them, so a kernel cannot keep its inputs warm in caches
 * from the previous launch), "flush_cache_mb": M (M > 0: between timed launches the harness fills an
 * M MiB scratch buffer on the device, larger than the last-level cache, evicting the inputs). Both
 * apply to every timed launch, the finalists' included; warm-up launches rotate too. */

/* Launch-overhead-free timing of small kernels (issue 5), spec "options":
 *   "launches_per_sample": N (default 1, at most FW_BENCH_LPS_MAX): each timed sample is N launches
 *      back to back divided by N. With the backend's launch_batch (fw_backend.h) the N launches
 *      share one device-time window (first start to last end), so one launch's overhead (>= 6.6 us
 *      on the H100 with event timing) is not in every sample; a backend without it (or answering
 *      -ENOTSUP) has each launch timed alone and the N times added (no overhead saved, the record
 *      says so). Warm-up stays single launches; flush_cache_mb flushes once per sample.
 *   "rotate_bytes": B (default 0 = off): the inputs get enough copies (rotate_buffers or more, at
 *      most FW_BENCH_ROTATE_MAX) that all copies together exceed B bytes, and consecutive launches,
 *      within a batch too, use the next copy, so with B over the last-level cache (50 MB on the
 *      H100) no launch in a window reads inputs the previous one left in L2. Copies hold the same
 *      bytes as the original.
 * Every ok/pruned record then carries "timing": {"launches_per_sample": N, "rotate_copies": C,
 * "rotate_bytes": B, "window": "launch"|"batch"|"sum_of_launches"}. */
#define FW_BENCH_LPS_MAX 1024
#define FW_BENCH_ROTATE_MAX 1024
/* Launches made inside multi-launch samples by this harness so far (tests count them). */
uint64_t fw_bench_batch_launches(const fw_bench *b);

/* Compile pool. `threads` compile threads (>= 1) compile the plan's variants ahead of the measuring
 * thread, in plan order, at most `depth` seqs ahead of the last seq measured (depth <= 0: 2 x threads
 * + 2). Each thread opens its own handle to the device (be->open(device_index)): the backends'
 * error text lives in the device (OpenCL) or the thread (CUDA, which also makes its context current
 * per call), so separate handles keep one thread's build log from overwriting another's. A thread
 * compiles into its handle, takes program_binary's bytes (and stores them in the compile cache),
 * and the measuring thread loads them with program_load into the timing device: only the measuring
 * thread ever launches, so timing never overlaps another kernel. OpenCL allows clBuildProgram on
 * separate contexts from separate threads; CUDA (NVRTC) compiles are thread-safe and the driver
 * calls of cuda/ make the context current on the calling thread.
 * `skip` lists seqs already measured (never compiled ahead). fw_bench_measure of a seq the pool has
 * not reached yet compiles inline as before; a later seq moves the pool's start forward (the daemon
 * asks seq by seq, and a restarted job starts wherever it stopped). Records carry "compile_ms" (the
 * compile thread's time) and "load_ms" (program_load in the timing thread). Needs program_binary and
 * program_load: -ENOTSUP otherwise (the caller then runs without a pool). */
int fw_bench_pool_start(fw_bench *b, const fw_job_spec *spec, const fw_plan *plan, int device_index,
                        int threads, int depth, const int64_t *skip, size_t nskip, char *err, size_t errlen);
/* A plan that grows: an item whose origin is NULL is not known yet, and the pool waits for it (the
 * daemon sends items as its sequencer asks them). Write item seq of the pool's plan (the plan
 * given to fw_bench_pool_start, or any plan without a pool) under the pool's lock and wake the
 * compile threads; seq >= plan->n is ignored. */
void fw_bench_plan_set(fw_bench *b, fw_plan *plan, size_t seq, const fw_plan_item *item);
/* Stops and joins the threads, frees what was compiled ahead and not used. Safe without a pool. */
void fw_bench_pool_stop(fw_bench *b);
/* Tests: block until the pool has finished seq (compiled ahead: 1) or will never compile it (skipped,
 * taken by the timing thread, no pool: 0). Never needed for correctness: measure waits itself. */
int fw_bench_pool_wait(fw_bench *b, int64_t seq);
/* 1 while a pool runs. */
int fw_bench_pool_active(const fw_bench *b);
/* The default number of compile threads: online cores minus one, at least 1; but 0 (compile in the
 * timing thread) when the device runs on this machine's CPU cores (PoCL and other CPU OpenCL
 * devices: name "pthread-..."/"cpu-..." or as many compute units as online cores), where compile
 * threads take the cores the kernels and the driver's first-launch JIT run on (BENCHMARKS.md,
 * "Tuning throughput", measured a loss there). */
int fw_bench_default_compile_threads(const fw_device_info *info);

/* Finalists (DESIGN.md section 6.5). For each shape, the given ok records' top `k` by median
 * are re-timed interleaved: `rounds` rounds, each launching every finalist `iters` times in turn
 * (A..A B..B C..C, then again), after `warmup` launches each; rotation and flushing as above.
 * `records` are ok records of this spec (fw_bench_measure's output; not modified). *out is an array
 * with one object per finalist: {"seq","shape_key","variant_key","knobs","rank","first_rank",
 * "stats":{n,median_ns,...},"samples_ns":[...]} ranked per shape by the finalist median ("rank",
 * 1 = the winner) where "first_rank" is the rank of the first pass. Returns -EFAULT on a sticky
 * device error, like fw_bench_measure. */
int fw_bench_finalists(fw_bench *b, const fw_job_spec *spec, const fw_plan *plan, const cJSON *records, int k,
                       int rounds, int iters, int warmup, cJSON **out, char *err, size_t errlen);

/* The finalists' two orders, one rule for the harness and the replay device: first pass by median
 * (ties by seq), which sets first_rank; re-timed by median (ties by first_rank). qsort comparators
 * over elements whose first member is an fw_finalist_rank. */
typedef struct fw_finalist_rank {
    int64_t seq;
    double first_median;     /* the first pass's median */
    int first_rank;          /* 1-based, set after sorting by fw_finalist_cmp_first */
    double median;           /* the re-timed median */
} fw_finalist_rank;
int fw_finalist_cmp_first(const void *a, const void *b);
int fw_finalist_cmp_final(const void *a, const void *b);

#endif
