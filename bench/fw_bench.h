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
#include "fw_search.h"

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

/* Measure plan item `item` (evaluation number seq) of a resolved spec:
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
int fw_bench_measure(fw_bench *b, const cJSON *spec, const fw_plan_item *item, int64_t seq,
                     cJSON **record, char *err, size_t errlen);
/* The same with the family given (NULL: looked up by the spec's "family"); tests use it to measure
 * a family that is not in the registry. */
struct fw_family;
int fw_bench_measure_family(fw_bench *b, const struct fw_family *fam, const cJSON *spec,
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

#endif
