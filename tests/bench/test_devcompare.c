/* The device comparison (bench/devcompare.c, issue 20) against the host's (fw_bench_verify_output)
 * on planted outputs: exact, slightly and badly wrong, NaN, Inf, unwritten (poison) elements, a
 * zero reference, sizes that are not a multiple of a work-group and larger than one pass of the
 * grid. Counts and the largest difference must be equal, the error norm equal to rounding, and so
 * the verdict the same at any tolerance. Exits 77 without an OpenCL device or when it cannot
 * compare on the device (no fp64). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_bench.h"
#include "fw_family.h"
#include "fw_opencl.h"
#include "fw_pcg32.h"
#include "fw_util.h"
#include "test_util.h"

static const fw_backend *be;
static fw_device *dev;
static fw_bench *b;

static double host_max_abs(const float *out, const double *ref, size_t n)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &out[i], 4);
        if (u == 0xFFFFFFFFu || (u & 0x7f800000u) == 0x7f800000u)
            continue;
        double a = fabs((double)out[i] - ref[i]);
        mx = isnan(a) ? INFINITY : fmax(mx, a);
    }
    return mx;
}

/* Plant a bit pattern (NaN, Inf, the poison) at out[i]. */
static void plant(float *out, size_t i, uint32_t bits)
{
    float f;
    memcpy(&f, &bits, 4);
    out[i] = f;
}

static int verdict(const fw_bench_verify *v, double tol)
{
    return !v->unwritten && !v->nonfinite && v->rel_err <= tol;
}

/* One planted case: both comparisons, then the checks. Returns the device's result. */
static fw_bench_verify run_case(const char *what, const float *out, const double *ref, size_t n)
{
    fw_buffer *bo = NULL, *br = NULL;
    CHECK(be->buffer_new(dev, n * 4, &bo) == 0 && be->buffer_new(dev, n * 8, &br) == 0);
    CHECK(be->buffer_write(dev, bo, 0, out, n * 4) == 0 && be->buffer_write(dev, br, 0, ref, n * 8) == 0);
    fw_bench_verify h, d;
    double dmax = -1;
    CHECK(fw_bench_verify_output(FW_ELEM_F32, out, n, ref, &h) == 0);
    int rc = fw_bench_verify_device(b, bo, br, n, &d, &dmax);
    CHECKF(rc == 0, "%s: device comparison returned %d: %s", what, rc, be->last_error(dev));
    double hmax = host_max_abs(out, ref, n);
    CHECKF(d.unwritten == h.unwritten && d.nonfinite == h.nonfinite, "%s: counts %zu/%zu device, %zu/%zu host",
           what, d.unwritten, d.nonfinite, h.unwritten, h.nonfinite);
    CHECKF(dmax == hmax || (isinf(dmax) && isinf(hmax)), "%s: max |out - ref| %.17g device, %.17g host", what, dmax,
           hmax);
    int same = d.rel_err == h.rel_err || fabs(d.rel_err - h.rel_err) <= 1e-12 * fabs(h.rel_err) ||
               (isnan(d.rel_err) && isnan(h.rel_err)) || (isinf(d.rel_err) && isinf(h.rel_err));
    CHECKF(same, "%s: rel_err %.17g device, %.17g host", what, d.rel_err, h.rel_err);
    const double tols[] = {0, 1e-12, 1e-7, 1e-5, 1e-3, 0.1, 10};
    for (size_t i = 0; i < sizeof tols / sizeof tols[0]; i++)
        if (!(h.rel_err > tols[i] * (1 - 1e-9) && h.rel_err < tols[i] * (1 + 1e-9)))   /* not at the edge */
            CHECKF(verdict(&d, tols[i]) == verdict(&h, tols[i]), "%s: verdicts differ at tolerance %g", what, tols[i]);
    be->buffer_free(dev, bo);
    be->buffer_free(dev, br);
    return d;
}

int main(void)
{
    be = &fw_opencl_backend;
    if (be->device_count() == 0) {
        puts("no OpenCL device: skipped");
        return 77;
    }
    fw_device_info info;
    char err[512];
    CHECKF(be->open(0, &dev, &info, err, sizeof err) == 0, "%s", err);
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    fw_buffer *probe = NULL;
    CHECK(be->buffer_new(dev, 8, &probe) == 0);
    fw_bench_verify v;
    double mx;
    if (fw_bench_verify_device(b, probe, probe, 1, &v, &mx) == 1) {
        puts("this device cannot compare on the device (no fp64?): skipped");
        return 77;
    }
    be->buffer_free(dev, probe);

    const size_t sizes[] = {1, 255, 257, 1000, 131072 + 7, 300001};
    fw_pcg32 rng;
    fw_pcg32_seed(&rng, 42, 7);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        float *out = malloc(n * 4);
        double *ref = malloc(n * 8);
        CHECK(out && ref);
        for (size_t i = 0; i < n; i++) {
            ref[i] = (double)fw_pcg32_next(&rng) / 4294967296.0 * 2 - 1;
            out[i] = (float)ref[i];
        }
        char what[96];
        snprintf(what, sizeof what, "n=%zu exact (float-rounded)", n);
        fw_bench_verify d = run_case(what, out, ref, n);
        CHECK(d.unwritten == 0 && d.nonfinite == 0 && d.rel_err < 1e-7);
        out[n / 2] += 1e-3f;
        snprintf(what, sizeof what, "n=%zu one element off by 1e-3", n);
        run_case(what, out, ref, n);
        for (size_t i = 0; i < n; i += 3)
            out[i] = -out[i] + 0.5f;
        snprintf(what, sizeof what, "n=%zu a third badly wrong", n);
        d = run_case(what, out, ref, n);
        CHECK(d.rel_err > 0.1);
        uint32_t poison = 0xFFFFFFFFu, qnan = 0x7fc00000u, inf = 0x7f800000u, ninf = 0xff800000u;
        plant(out, n - 1, poison);
        if (n > 2) {
            plant(out, 0, qnan);
            plant(out, 1, inf);
        }
        if (n > 300000) {
            plant(out, 299999, ninf);
            plant(out, 131072, poison);
        }
        snprintf(what, sizeof what, "n=%zu with NaN, Inf and unwritten", n);
        d = run_case(what, out, ref, n);
        CHECK(d.unwritten == (n > 300000 ? 2u : 1u) && d.nonfinite == (n > 300000 ? 3u : n > 2 ? 2u : 0u));
        for (size_t i = 0; i < n; i++) {
            ref[i] = 0;
            out[i] = (i % 5) ? 0.0f : 1e-20f;
        }
        snprintf(what, sizeof what, "n=%zu zero reference", n);
        run_case(what, out, ref, n);
        for (size_t i = 0; i < n; i++)
            plant(out, i, poison);
        snprintf(what, sizeof what, "n=%zu nothing written", n);
        d = run_case(what, out, ref, n);
        CHECK(d.unwritten == n && d.rel_err == 0);
        free(out);
        free(ref);
    }
    fw_bench_free(b);
    be->close(dev);
    puts("devcompare ok");
    return 0;
}
