/* Statistics over per-launch device samples (fw_bench.h documents the percentile rule). */
#include "fw_bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

double fw_bench_percentile(const uint64_t *sorted, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    if (p <= 0.0)
        return (double)sorted[0];
    if (p >= 1.0)
        return (double)sorted[n - 1];
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return (double)sorted[n - 1];
    double frac = h - (double)lo;
    return (double)sorted[lo] + frac * ((double)sorted[lo + 1] - (double)sorted[lo]);
}

int fw_bench_stats_compute(const uint64_t *samples, size_t n, fw_bench_stats *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return -EINVAL;
    uint64_t *s = malloc(n * sizeof *s);
    if (!s)
        return -ENOMEM;
    memcpy(s, samples, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_u64);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)s[i];
    double mean = sum / (double)n;
    double ss = 0.0;   /* two-pass variance: the samples can be large and close together */
    for (size_t i = 0; i < n; i++) {
        double d = (double)s[i] - mean;
        ss += d * d;
    }
    out->n = n;
    out->mean = mean;
    out->min = s[0];
    out->max = s[n - 1];
    out->median = fw_bench_percentile(s, n, 0.5);
    out->p95 = fw_bench_percentile(s, n, 0.95);
    out->stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
    free(s);
    return 0;
}
