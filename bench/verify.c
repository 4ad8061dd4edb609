/* Harness verification: a read-back output against the reference, and the extra checks of a
 * transformed variant (fw_bench.h, harness_int.h). */
#include "harness_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

size_t fwh_elem_size(int elem)
{
    switch (elem) {
    case FW_ELEM_F16: case FW_ELEM_U16: return 2;
    case FW_ELEM_U8: return 1;
    default: return fw_elem_size(elem);
    }
}

/* The f32 case on its own, without the per-element type switch, in fixed chunks whose partial sums
 * are added in chunk order: the result is the same whatever the number of threads, and large outputs
 * are compared on several cores (at 1M outputs the comparison was 3 ms of a warm variant's 7 ms on
 * the H200 machine, memory-bound on one core: BENCHMARKS.md, per-variant overhead). */
enum { VERIFY_CHUNK = 1 << 16, VERIFY_MAX_THREADS = 8 };

typedef struct verify_part {
    double num, den;
    size_t unwritten, nonfinite;
} verify_part;

typedef struct verify_job {
    const unsigned char *p;
    const double *ref;
    size_t nelem;
    verify_part *parts;
} verify_job;

static void verify_f32_chunk(const unsigned char *p, const double *ref, size_t i0, size_t i1, verify_part *r)
{
    double num = 0.0, den = 0.0;
    size_t unwritten = 0, nonfinite = 0;
    for (size_t i = i0; i < i1; i++) {
        uint32_t u;
        memcpy(&u, p + 4 * i, 4);
        if (u == POISON) {
            unwritten++;
            continue;
        }
        if ((u & 0x7f800000u) == 0x7f800000u) {   /* Inf or NaN */
            nonfinite++;
            continue;
        }
        float f;
        memcpy(&f, &u, 4);
        double d = (double)f - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    *r = (verify_part){num, den, unwritten, nonfinite};
}

static void verify_task(void *ctx, size_t c)
{
    verify_job *j = ctx;
    size_t i1 = (c + 1) * VERIFY_CHUNK < j->nelem ? (c + 1) * VERIFY_CHUNK : j->nelem;
    verify_f32_chunk(j->p, j->ref, c * VERIFY_CHUNK, i1, &j->parts[c]);
}

static void verify_f32(const unsigned char *p, size_t nelem, const double *ref, fw_bench_verify *v)
{
    size_t nchunks = (nelem + VERIFY_CHUNK - 1) / VERIFY_CHUNK;
    verify_part one, *parts = nchunks > 1 ? calloc(nchunks, sizeof *parts) : NULL;
    if (!parts) {   /* small, or no memory for the partials: one pass (the same sums for one chunk) */
        verify_f32_chunk(p, ref, 0, nelem, &one);
        v->unwritten = one.unwritten;
        v->nonfinite = one.nonfinite;
        v->rel_err = one.den > 0.0 ? sqrt(one.num / one.den) : sqrt(one.num);
        return;
    }
    verify_job job = {p, ref, nelem, parts};
    fw_parallel_tasks(nchunks, VERIFY_MAX_THREADS, verify_task, &job);
    double num = 0.0, den = 0.0;
    for (size_t c = 0; c < nchunks; c++) {
        num += parts[c].num;
        den += parts[c].den;
        v->unwritten += parts[c].unwritten;
        v->nonfinite += parts[c].nonfinite;
    }
    free(parts);
    v->rel_err = den > 0.0 ? sqrt(num / den) : sqrt(num);
}

int fw_bench_verify_output(int elem, const void *out, size_t nelem, const double *ref, fw_bench_verify *v)
{
    return fw_bench_verify_output2(elem, out, NULL, nelem, ref, v);
}

/* All bytes of element i zero. */
static int elem_zero(const unsigned char *p, size_t sz, size_t i)
{
    for (size_t k = 0; k < sz; k++)
        if (p[sz * i + k])
            return 0;
    return 1;
}

int fw_bench_verify_output2(int elem, const void *out, const void *out0, size_t nelem, const double *ref,
                            fw_bench_verify *v)
{
    memset(v, 0, sizeof *v);
    if (elem == FW_ELEM_F32 && !out0) {
        verify_f32(out, nelem, ref, v);
        return 0;
    }
    const size_t esz = fwh_elem_size(elem);
    double num = 0.0, den = 0.0;
    const unsigned char *p = out;
    for (size_t i = 0; i < nelem; i++) {
        double x;
        int unwritten = 0;
        switch (elem) {
        case FW_ELEM_F32: {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            float f;
            memcpy(&f, &u, 4);
            unwritten = u == POISON;
            x = f;
            break;
        }
        case FW_ELEM_F16: {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            unwritten = h == 0xFFFFu;
            x = fw_f16_to_f32(h);
            break;
        }
        case FW_ELEM_U16: {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            unwritten = h == 0xFFFFu;
            x = h;
            break;
        }
        case FW_ELEM_U8:
            unwritten = p[i] == 0xFFu;
            x = p[i];
            break;
        case FW_ELEM_U32: {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            unwritten = u == POISON;
            x = u;
            break;
        }
        case FW_ELEM_I32: {
            int32_t s;
            memcpy(&s, p + 4 * i, 4);
            unwritten = (uint32_t)s == POISON;
            x = s;
            break;
        }
        default: {   /* declarative workloads' further types: unwritten is all bytes 0xFF */
            size_t sz = fwh_elem_size(elem);
            unwritten = 1;
            for (size_t k = 0; k < sz; k++)
                unwritten &= p[sz * i + k] == 0xFFu;
            x = fw_elem_value(elem, p, i);
            break;
        }
        }
        if (unwritten && out0)   /* the launch on zeroed bytes wrote it too: a value, not a hole */
            unwritten = elem_zero(out0, esz, i);
        if (unwritten) {
            v->unwritten++;
            continue;
        }
        if (!isfinite(x)) {
            v->nonfinite++;
            continue;
        }
        double d = x - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    v->rel_err = den > 0.0 ? sqrt(num / den) : sqrt(num);
    return 0;
}

/* A variant whose source a transform rewrote (variants/fw_transform.h, issue 13) must verify on
 * FW_BENCH_XFORM_SEEDS differently seeded inputs, and on FW_BENCH_XFORM_REPEATS launches of the
 * job's own inputs, each output poisoned first: a race that passes once must not win. The job's
 * inputs were verified once already; the extra seeds are the workload seed mixed with k * golden
 * ratio. Returns 0 when every check passes, 1 with why on a mismatch, < 0 on a device error (why
 * set). The job's inputs are back in the buffers when it returns. */

#define FW_BENCH_XFORM_REPEATS 3
static int xform_check_one(fw_bench *b, const fw_workload *w, fw_buffer **bufs, fw_program *prog, const fw_launch *l,
                           void *out, const char *what, char *why, size_t whylen)
{
    size_t failed_buf;
    int r = fwh_prepare_buffers(b, w, bufs, &failed_buf);
    if (r < 0) {
        snprintf(why, whylen, "%s: preparing buffers failed: %s", what, b->be->last_error(b->dev));
        return r;
    }
    int rc = b->be->launch(b->dev, prog, l, NULL);
    const fw_wl_buffer *ob = &w->buffers[w->output];
    if (rc == 0)
        rc = b->be->buffer_read(b->dev, bufs[w->output], 0, out, ob->bytes);
    if (rc < 0) {
        snprintf(why, whylen, "%s: %s", what, b->be->last_error(b->dev));
        return rc;
    }
    size_t nelem = ob->bytes / fwh_elem_size(ob->elem);
    fw_bench_verify v;
    fw_bench_verify_output(ob->elem, out, nelem, w->reference, &v);
    if (v.unwritten || v.nonfinite || !(v.rel_err <= w->tolerance)) {
        snprintf(why, whylen, "transformed variant: %s: %zu of %zu elements unwritten, %zu NaN/Inf, relative L2 "
                 "error %.3g (tolerance %.3g)", what, v.unwritten, nelem, v.nonfinite, v.rel_err, w->tolerance);
        return 1;
    }
    return 0;
}

int fwh_xform_checks(fw_bench *b, const fw_family *fam, const cJSON *shape, uint64_t wseed, const fw_workload *wl,
                        fw_buffer **bufs, fw_program *prog, const fw_launch *l, void *out, char *why, size_t whylen)
{
    char what[96];
    int rc = 0;
    for (int r = 1; r < FW_BENCH_XFORM_REPEATS && rc == 0; r++) {
        snprintf(what, sizeof what, "launch %d of %d on the job's inputs", r + 1, FW_BENCH_XFORM_REPEATS);
        rc = xform_check_one(b, wl, bufs, prog, l, out, what, why, whylen);
    }
    for (int k = 1; k < FW_BENCH_XFORM_SEEDS && rc == 0; k++) {
        fw_workload *w = NULL;
        char werr[256];
        uint64_t seed = wseed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)k);
        if (fam->workload_new(shape, seed, &w, werr, sizeof werr) < 0 || !w) {
            snprintf(why, whylen, "cannot make the workload of extra seed %d: %s", k, werr);
            return -EINVAL;
        }
        int same = w->nbuffers == wl->nbuffers && w->output == wl->output && w->nreference == wl->nreference;
        for (size_t i = 0; same && i < w->nbuffers; i++)
            same = w->buffers[i].bytes == wl->buffers[i].bytes;
        snprintf(what, sizeof what, "inputs of extra seed %d (0x%016llx)", k, (unsigned long long)seed);
        if (!same) {
            snprintf(why, whylen, "the workload of extra seed %d has other buffers than the job's", k);
            rc = -EINVAL;
        } else {
            rc = xform_check_one(b, w, bufs, prog, l, out, what, why, whylen);
        }
        fam->workload_free(w);
    }
    /* the job's own inputs back, for the timed launches */
    for (size_t i = 0; i < wl->nbuffers; i++)
        if (wl->buffers[i].role == FW_BUF_INPUT && wl->buffers[i].host) {
            int r = b->be->buffer_write(b->dev, bufs[i], 0, wl->buffers[i].host, wl->buffers[i].bytes);
            if (r < 0 && rc >= 0) {
                snprintf(why, whylen, "restoring the job's inputs failed: %s", b->be->last_error(b->dev));
                rc = r;
            }
        }
    return rc;
}
