/* The comparison of an f32 output with the reference on the device (issue 20): a small kernel in
 * the device's dialect (OpenCL C or CUDA) reads the output and a device-resident copy of the double
 * reference and leaves, per work-group, the sums of the host comparison (fw_bench_verify_output):
 * sum (out - ref)^2 and sum ref^2 over the written finite elements, their largest |out - ref| (for
 * the absolute tolerance), the unwritten (bit-equal to the poison) and the non-finite counts. The
 * host adds the groups' partials in group order, so a result does not depend on timing. Counts and
 * the largest difference are exactly the host's; the error norm is the same sum in another order
 * (last bits may differ). Only a few KiB come back instead of the whole output. */
#include "harness_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

#define CMP_GROUP 256
#define CMP_MAX_GROUPS 512
#define CMP_FIELDS 5           /* num, den, max_abs, unwritten, nonfinite */
#define CMP_MAX_ELEMS 0x7fffffffu

#define CMP_BODY                                                                                  \
    "    double num = 0.0, den = 0.0, mx = 0.0, unw = 0.0, nf = 0.0;\n"                           \
    "    for (uint i = gid * 256u + lid; i < n; i += stride) {\n"                                 \
    "        uint u = out[i];\n"                                                                  \
    "        if (u == 0xFFFFFFFFu) { unw += 1.0; continue; }\n"                                   \
    "        if ((u & 0x7f800000u) == 0x7f800000u) { nf += 1.0; continue; }\n"                    \
    "        double r = ref[i];\n"                                                                \
    "        double d = (double)AS_FLOAT(u) - r;\n"                                               \
    "        num += d * d;\n"                                                                     \
    "        den += r * r;\n"                                                                     \
    "        double a = fabs(d);\n"                                                               \
    "        mx = a != a ? INF : fmax(mx, a);\n"                                                  \
    "    }\n"                                                                                     \
    "    s[0][lid] = num; s[1][lid] = den; s[2][lid] = mx; s[3][lid] = unw; s[4][lid] = nf;\n"    \
    "    SYNC;\n"                                                                                 \
    "    for (uint h = 128u; h > 0u; h >>= 1) {\n"                                                \
    "        if (lid < h) {\n"                                                                    \
    "            s[0][lid] += s[0][lid + h]; s[1][lid] += s[1][lid + h];\n"                       \
    "            s[2][lid] = fmax(s[2][lid], s[2][lid + h]);\n"                                   \
    "            s[3][lid] += s[3][lid + h]; s[4][lid] += s[4][lid + h];\n"                       \
    "        }\n"                                                                                 \
    "        SYNC;\n"                                                                             \
    "    }\n"                                                                                     \
    "    if (lid == 0u)\n"                                                                        \
    "        for (uint k = 0u; k < 5u; k++) part[5u * gid + k] = s[k][0];\n"                      \
    "}\n"

static const char cmp_opencl[] =
    "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
    "#define AS_FLOAT(u) as_float(u)\n"
    "#define INF ((double)INFINITY)\n"
    "#define SYNC barrier(CLK_LOCAL_MEM_FENCE)\n"
    "__kernel __attribute__((reqd_work_group_size(256, 1, 1)))\n"
    "void fw_compare_f32(__global const uint *out, __global const double *ref, const uint n,\n"
    "                    __global double *part)\n"
    "{\n"
    "    __local double s[5][256];\n"
    "    const uint lid = get_local_id(0), gid = get_group_id(0), stride = get_num_groups(0) * 256u;\n"
    CMP_BODY;

static const char cmp_cuda[] =
    "typedef unsigned int uint;\n"
    "#define AS_FLOAT(u) __uint_as_float(u)\n"
    "#define INF __longlong_as_double(0x7ff0000000000000LL)\n"
    "#define SYNC __syncthreads()\n"
    "extern \"C\" __global__ void __launch_bounds__(256)\n"
    "fw_compare_f32(const uint *out, const double *ref, const uint n, double *part)\n"
    "{\n"
    "    __shared__ double s[5][256];\n"
    "    const uint lid = threadIdx.x, gid = blockIdx.x, stride = gridDim.x * 256u;\n"
    CMP_BODY;

/* The spec's options.verify_on_device when it says; else on the device unless the device runs on
 * this machine's own cores (PoCL): there the output is already in host memory, reading it back is a
 * memcpy and the host comparison (threaded, verify.c) measured faster than the kernel
 * (BENCHMARKS.md, per-variant overhead). */
static int wanted(const fw_bench *b, const fw_job_spec *spec)
{
    if (spec->verify_on_device >= 0)
        return spec->verify_on_device;
    return fw_bench_default_compile_threads(&b->info) != 0;   /* 0: a CPU device (fw_bench.h) */
}

static int compile_compare(fw_bench *b)
{
    const char *src = strcmp(b->info.dialect, "opencl") == 0 ? cmp_opencl
                    : strcmp(b->info.dialect, "cuda") == 0 ? cmp_cuda : NULL;
    if (!src || (b->info.max_threads > 0 && b->info.max_threads < CMP_GROUP))
        return -1;
    int from_disk = 0;
    char *log = NULL;
    fw_program *prog = NULL;
    int rc = fwh_cached_compile(b->be, b->dev, b->cache, b->identity, b->info.arch, src, NULL, 0, NULL,
                                "fw_compare_f32", &prog, NULL, NULL, &from_disk, &log);
    free(log);   /* a device without fp64 refuses the kernel: the host compares */
    if (rc < 0)
        return -1;
    rc = b->be->buffer_new(b->dev, (size_t)CMP_MAX_GROUPS * CMP_FIELDS * sizeof(double), &b->cmp_part);
    if (rc < 0) {
        b->be->program_free(b->dev, prog);
        b->cmp_part = NULL;
        return -1;
    }
    b->cmp_prog = prog;
    return 1;
}

int fwh_dev_compare_ready(fw_bench *b, const fw_job_spec *spec, size_t nelem)
{
    if ((spec && !wanted(b, spec)) || nelem == 0 || nelem > CMP_MAX_ELEMS)
        return 0;
    if (b->cmp_state == 0)
        b->cmp_state = compile_compare(b);
    return b->cmp_state > 0;
}

void fwh_dev_compare_free(fw_bench *b)
{
    if (b->cmp_prog)
        b->be->program_free(b->dev, b->cmp_prog);
    if (b->cmp_part)
        b->be->buffer_free(b->dev, b->cmp_part);
    b->cmp_prog = NULL;
    b->cmp_part = NULL;
    b->cmp_state = 0;
}

/* The comparison itself, on a device reference of nelem doubles. */
static int compare(fw_bench *b, fw_buffer *out, fw_buffer *ref, size_t nelem, fw_bench_verify *v, double *max_abs)
{
    size_t groups = (nelem + CMP_GROUP - 1) / CMP_GROUP;
    if (groups > CMP_MAX_GROUPS)
        groups = CMP_MAX_GROUPS;
    uint32_t n = (uint32_t)nelem;
    fw_arg args[4] = {
        {.kind = FW_ARG_BUFFER, .buffer = out}, {.kind = FW_ARG_BUFFER, .buffer = ref},
        {.kind = FW_ARG_BYTES, .bytes = &n, .size = sizeof n}, {.kind = FW_ARG_BUFFER, .buffer = b->cmp_part},
    };
    fw_launch l = {.grid = {(uint32_t)groups, 1, 1}, .group = {CMP_GROUP, 1, 1}, .args = args, .nargs = 4};
    int rc = b->be->launch(b->dev, b->cmp_prog, &l, NULL);
    double part[CMP_MAX_GROUPS * CMP_FIELDS];
    if (rc == 0)
        rc = b->be->buffer_read(b->dev, b->cmp_part, 0, part, groups * CMP_FIELDS * sizeof(double));
    if (rc < 0)
        return rc;
    double num = 0.0, den = 0.0, mx = 0.0, unw = 0.0, nf = 0.0;
    for (size_t g = 0; g < groups; g++) {
        const double *p = &part[g * CMP_FIELDS];
        num += p[0];
        den += p[1];
        mx = fmax(mx, p[2]);
        unw += p[3];
        nf += p[4];
    }
    v->unwritten = (size_t)unw;
    v->nonfinite = (size_t)nf;
    v->rel_err = den > 0.0 ? sqrt(num / den) : sqrt(num);
    *max_abs = mx;
    return 0;
}

int fw_bench_verify_device(fw_bench *b, fw_buffer *out, fw_buffer *ref_dev, size_t nelem, fw_bench_verify *v,
                           double *max_abs)
{
    memset(v, 0, sizeof *v);
    *max_abs = 0;
    if (!fwh_dev_compare_ready(b, NULL, nelem))
        return 1;
    return compare(b, out, ref_dev, nelem, v, max_abs);
}

int fwh_dev_compare(fw_bench *b, wl_entry *we, fw_buffer *out, size_t nelem, fw_bench_verify *v, double *max_abs)
{
    memset(v, 0, sizeof *v);
    *max_abs = 0;
    fw_workload *wl = we->wl;
    if (b->cmp_state <= 0 || !wl->reference || wl->nreference != nelem)
        return 1;
    if (we->ref_state == 0) {
        we->ref_state = -1;
        size_t bytes = nelem * sizeof(double);
        if (b->be->buffer_new(b->dev, bytes, &we->ref_dev) == 0) {
            if (b->be->buffer_write(b->dev, we->ref_dev, 0, wl->reference, bytes) == 0) {
                we->ref_state = 1;
            } else {
                b->be->buffer_free(b->dev, we->ref_dev);
                we->ref_dev = NULL;
            }
        } else {
            we->ref_dev = NULL;
        }
    }
    if (we->ref_state < 0)
        return 1;
    return compare(b, out, we->ref_dev, nelem, v, max_abs);
}
