/* Runs the prelude self-test kernel (prelude_selftest.h) on the first OpenCL device (PoCL here):
 * every portable helper gives the expected value, including the fallback SIMD reductions through
 * threadgroup memory and the compare-and-swap float atomic. Exits 77 (skip) without a device. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_family.h"
#include "fw_kernel_text.h"
#include "prelude_selftest.h"

static const char entry[] =
    "FW_KERNEL void selftest(FW_GLOBAL const fw_half *h, FW_GLOBAL const uchar *u8,\n"
    "                        FW_GLOBAL float *out, FW_GLOBAL float *acc, FW_GLOBAL fw_half *hout)\n"
    "{\n"
    "    FW_LOCAL_ARRAY(float, scratch, 64);\n"
    "    selftest_body(h, u8, out, acc, hout, scratch, (uint)get_local_id(0), (uint)get_group_id(0));\n"
    "}\n";

static int failures;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            failures++;                                                   \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

#define GROUPS 2
#define THREADS 64

int main(void)
{
    cl_platform_id platform;
    cl_device_id dev;
    cl_uint np = 0;
    if (clGetPlatformIDs(1, &platform, &np) != CL_SUCCESS || np == 0 ||
        clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &dev, NULL) != CL_SUCCESS) {
        printf("no OpenCL device: skipped\n");
        return 77;
    }
    const char *prelude = fw_kernel_text("prelude.opencl.h");
    if (!prelude) {
        fprintf(stderr, "prelude.opencl.h is not embedded\n");
        return 1;
    }
    size_t len = strlen(prelude) + strlen(FW_PRELUDE_SELFTEST_BODY) + strlen(entry) + 1;
    char *src = malloc(len);
    snprintf(src, len, "%s%s%s", prelude, FW_PRELUDE_SELFTEST_BODY, entry);

    cl_int e;
    cl_context ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &e);
    cl_command_queue q = clCreateCommandQueue(ctx, dev, 0, &e);
    cl_program prog = clCreateProgramWithSource(ctx, 1, (const char **)&src, NULL, &e);
    e = clBuildProgram(prog, 1, &dev, "", NULL, NULL);
    if (e != CL_SUCCESS) {
        size_t ls = 0;
        clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, 0, NULL, &ls);
        char *log = calloc(1, ls + 1);
        clGetProgramBuildInfo(prog, dev, CL_PROGRAM_BUILD_LOG, ls, log, NULL);
        fprintf(stderr, "the self-test kernel does not build (%d):\n%s\n", e, log);
        free(log);
        return 1;
    }
    cl_kernel k = clCreateKernel(prog, "selftest", &e);

    uint16_t h[THREADS];
    uint8_t u8[THREADS];
    for (int t = 0; t < THREADS; t++) {
        h[t] = fw_f32_to_f16((float)(t % 32 - 10) * 0.25f);
        u8[t] = (uint8_t)((t * 7) & 255);
    }
    float acc[2] = {0, 0};
    size_t nout = GROUPS * THREADS * 8;
    float *out = calloc(nout, sizeof *out);
    uint16_t hout[GROUPS * THREADS];
    memset(hout, 0xff, sizeof hout);
    cl_mem bh = clCreateBuffer(ctx, CL_MEM_COPY_HOST_PTR, sizeof h, h, &e);
    cl_mem bu = clCreateBuffer(ctx, CL_MEM_COPY_HOST_PTR, sizeof u8, u8, &e);
    cl_mem bo = clCreateBuffer(ctx, CL_MEM_COPY_HOST_PTR, nout * sizeof *out, out, &e);
    cl_mem ba = clCreateBuffer(ctx, CL_MEM_COPY_HOST_PTR, sizeof acc, acc, &e);
    cl_mem bho = clCreateBuffer(ctx, CL_MEM_COPY_HOST_PTR, sizeof hout, hout, &e);
    cl_mem *args[5] = {&bh, &bu, &bo, &ba, &bho};
    for (cl_uint i = 0; i < 5; i++)
        clSetKernelArg(k, i, sizeof(cl_mem), args[i]);
    size_t gsz = GROUPS * THREADS, lsz = THREADS;
    e = clEnqueueNDRangeKernel(q, k, 1, NULL, &gsz, &lsz, 0, NULL, NULL);
    CHECK(e == CL_SUCCESS, "launch failed (%d)", e);
    clEnqueueReadBuffer(q, bo, CL_TRUE, 0, nout * sizeof *out, out, 0, NULL, NULL);
    clEnqueueReadBuffer(q, ba, CL_TRUE, 0, sizeof acc, acc, 0, NULL, NULL);
    clEnqueueReadBuffer(q, bho, CL_TRUE, 0, sizeof hout, hout, 0, NULL, NULL);

    for (int g = 0; g < GROUPS; g++)
        for (int t = 0; t < THREADS; t++) {
            const float *o = out + (g * THREADS + t) * 8;
            float x = (float)(t % 32 - 10) * 0.25f;
            float want[8] = {44.0f, 5.25f, (float)((t * 7) & 255), x, 2 * x + 1, 1.0f,
                             (float)(t < 3 ? t : 3) + 1.0f, x};
            for (int i = 0; i < 8; i++)
                CHECK(o[i] == want[i], "group %d thread %d slot %d: %g, want %g", g, t, i, o[i],
                      want[i]);
            uint16_t hw = fw_f32_to_f16(x * 0.5f);
            CHECK(hout[g * THREADS + t] == hw, "half store %d: 0x%04x, want 0x%04x", t,
                  hout[g * THREADS + t], hw);
        }
    CHECK(acc[0] == GROUPS * 2 * 44.0f && acc[1] == GROUPS * THREADS, "atomics: %g %g", acc[0], acc[1]);

    clReleaseMemObject(bh);
    clReleaseMemObject(bu);
    clReleaseMemObject(bo);
    clReleaseMemObject(ba);
    clReleaseMemObject(bho);
    clReleaseKernel(k);
    clReleaseProgram(prog);
    clReleaseCommandQueue(q);
    clReleaseContext(ctx);
    free(out);
    free(src);
    if (!failures)
        printf("prelude self-test passed on OpenCL (%d threads)\n", GROUPS * THREADS);
    return failures ? 1 : 0;
}
