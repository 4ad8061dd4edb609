/* The device comparison (bench/devcompare.c, issue 20) against the host's (fw_bench_verify_output)
 * on planted outputs: exact, slightly and badly wrong, NaN, Inf, unwritten (poison) elements, a
 * zero reference, sizes that are not a multiple of a work-group and larger than one pass of the
 * grid. Counts and the largest difference must be equal, the error norm equal to rounding, and so
 * the verdict the same at any tolerance. On every backend compiled in with a device (OpenCL, and
 * CUDA where the toolkit was found); exits 77 when no device can compare (none, or no fp64). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_bench.h"
#include "fw_config.h"
#include "fw_family.h"
#include "fw_opencl.h"
#if FW_HAVE_CUDA
#include "fw_cuda.h"
#endif
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

/* Every case on one backend's device 0: 1 when it ran, 0 when the device cannot compare. */
static int run_backend(const fw_backend *backend)
{
    be = backend;
    fw_device_info info;
    char err[512];
    CHECKF(be->open(0, &dev, &info, err, sizeof err) == 0, "%s", err);
    CHECK(fw_bench_new(be, dev, &info, &b) == 0);
    fw_buffer *probe = NULL;
    CHECK(be->buffer_new(dev, 8, &probe) == 0);
    fw_bench_verify v;
    double mx;
    int can = fw_bench_verify_device(b, probe, probe, 1, &v, &mx) != 1;
    be->buffer_free(dev, probe);
    if (!can) {
        printf("%s: this device cannot compare on the device (no fp64?)\n", be->name);
        fw_bench_free(b);
        be->close(dev);
        return 0;
    }
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
    printf("%s: devcompare ok\n", be->name);
    return 1;
}

int main(void)
{
    const fw_backend *list[] = {
        &fw_opencl_backend,
#if FW_HAVE_CUDA
        &fw_cuda_backend,
#endif
    };
    int ran = 0;
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        if (list[i]->device_count() <= 0) {
            printf("%s: no device\n", list[i]->name);
            continue;
        }
        ran += run_backend(list[i]);
    }
    return ran ? 0 : 77;
}
