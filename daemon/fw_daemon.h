/* fw_daemon.h - what fairwayd shows outside daemon/: the pure, unit-tested pieces (compare
 * statistics, ETA, the nearest tuned shape) and the entry check the spec fuzzer drives. The daemon's
 * structs are private to daemon/, in daemon_int.h, and the functions its files call each other by
 * too, each file's in its own daemon_FILE.h (tests/layers/check_includes.py and
 * check_daemon_headers.py keep them so). */
#ifndef FW_DAEMON_H
#define FW_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* ---- compare statistics (daemon/compare.c): pure, unit-tested ---------------------------------- */

/* Kendall's tau-b of paired values, in parts so several strata (shapes) can be pooled:
 *   tau_b = (concordant - discordant) / sqrt((n0 - ties_x) * (n0 - ties_y)),  n0 = n(n-1)/2.
 * Computed in O(n log n) (Knight's merge-sort method), so a 100000-variant job compares fast. */
typedef struct fw_daemon_tau {
    int64_t n;
    int64_t num;        /* concordant - discordant pairs */
    int64_t pairs_x;    /* n0 - pairs tied in x */
    int64_t pairs_y;    /* n0 - pairs tied in y */
} fw_daemon_tau;

int fw_daemon_tau_compute(const double *x, const double *y, size_t n, fw_daemon_tau *out);
/* tau_b of one stratum or of a pooled sum: 0 and *tau in [-1, 1], or -EDOM when it is undefined
 * (fewer than two values, or every pair tied in x or in y). */
int fw_daemon_tau_value(const fw_daemon_tau *t, double *tau);
/* Pool b into a (sums of num, pairs_x, pairs_y, n). */
void fw_daemon_tau_pool(fw_daemon_tau *a, const fw_daemon_tau *b);
/* min / median / max of n values (the array is sorted in place). -EDOM when n == 0. */
int fw_daemon_spread(double *v, size_t n, double *min, double *median, double *max);

/* Compare two jobs' stored sequences (fw_db_job_sequence arrays). Result object as documented in
 * docs/protocol.md (compare). -EINVAL with a message on malformed input. */
int fw_daemon_compare(const cJSON *seq_a, const cJSON *seq_b, cJSON **out, char *err, size_t errlen);
/* Adds to a compare result where the two sequences diverged and why (issue 11): "sequence"
 * {strategy, fixed_order, ask_ahead, same_setup, identical}, "divergence" (the first shape's, or null)
 * and "divergences" (every shape's). job_a/job_b are fw_db_job_get rows with their resolved "spec";
 * a point at position j of a shape depended on the results told at positions < j - ask_ahead. */
int fw_daemon_compare_divergence(const cJSON *seq_a, const cJSON *seq_b, const cJSON *job_a, const cJSON *job_b,
                                 cJSON *res);

/* ---- ETA (daemon/eta.c): pure, unit-tested --------------------------------------------------- */

/* The time left of a job, in two parts (issue 19 item 10). measuring: variants_left x this run's
 * mean seconds per variant (elapsed_s / measured_this_run; unknown, -1, before this run measured
 * one). finalists (when the job will re-time them): launches per candidate (warmup + rounds x iters)
 * x the sum of the candidates' first-pass medians; in the finalists phase less the time it has run
 * (not below 0), and measuring is 0. total: -1 when measuring is unknown. */
typedef struct fw_daemon_eta_in {
    double elapsed_s;
    size_t measured_this_run, variants_left;
    int finalists, finalists_phase;
    double finalists_elapsed_s;
    double cand_sum_ns;           /* the K fastest verified first-pass medians per shape so far */
    double launches;
} fw_daemon_eta_in;
typedef struct fw_daemon_eta_est {
    double measuring_s, finalists_s, total_s, per_variant_s;   /* -1 = unknown */
} fw_daemon_eta_est;
void fw_daemon_eta_estimate(const fw_daemon_eta_in *in, fw_daemon_eta_est *out);

/* ---- the nearest tuned shape (daemon/nearest.c): pure, unit-tested ----------------------------- */

/* Distance between two shape keys: -1 when they are not comparable (other field names, or a field
 * that is not a positive integer differs), else the sum over the positive integer fields of
 * |log2(a / b)|. nearest_shape: the key of keys (a JSON array of strings) nearest to key, other than
 * key itself; the first on a tie; -ENOENT when none is comparable. */
double fw_daemon_shape_distance(const char *a, const char *b);
int fw_daemon_nearest_shape(const char *key, const cJSON *keys, const char **nearest, double *distance);

/* ---- the entry check (daemon/entry.c) ---------------------------------------------------------- */

/* A resolved spec whose user source has an "entry" that its text never names: -EINVAL with a
 * sentence listing the kernel functions the text declares (daemon/entry.c, issue 19 item 2). */
int fw_daemon_check_entry(const cJSON *resolved, char *err, size_t errlen);

#endif
