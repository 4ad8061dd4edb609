/* moe_cl_run.h - a minimal OpenCL runner for the moe tests: compiles the family's source with the
 * given macros, uploads a workload, zeroes the ACCUM output, launches once with the family's
 * geometry and reads the output back. Independent of bench/ so the tests can look at the values. */
#ifndef MOE_CL_RUN_H
#define MOE_CL_RUN_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_family.h"

typedef struct moe_cl {
    cl_context ctx;
    cl_command_queue q;
    cl_device_id dev;
} moe_cl;

/* 0 on success, 1 when there is no OpenCL device (caller skips). */
static int moe_cl_open(moe_cl *c)
{
    cl_platform_id plats[8];
    cl_uint np = 0;
    if (clGetPlatformIDs(8, plats, &np) != CL_SUCCESS || np == 0)
        return 1;
    for (cl_uint i = 0; i < np; i++)
        if (clGetDeviceIDs(plats[i], CL_DEVICE_TYPE_ALL, 1, &c->dev, NULL) == CL_SUCCESS) {
            cl_int e;
            c->ctx = clCreateContext(NULL, 1, &c->dev, NULL, NULL, &e);
            if (e != CL_SUCCESS)
                return 1;
            c->q = clCreateCommandQueue(c->ctx, c->dev, 0, &e);
            return e == CL_SUCCESS ? 0 : 1;
        }
    return 1;
}

static void moe_cl_close(moe_cl *c)
{
    clReleaseCommandQueue(c->q);
    clReleaseContext(c->ctx);
}

/* Launches per moe_cl_run (the output is zeroed before each; the last one's output is read back):
 * more than 1 checks that a kernel leaves its scratch buffer clean for the next launch. */
static int moe_cl_launches = 1;

/* Run wl's kernel for knobs (+ extra "-DNAME=V" options); out gets the float output (malloc'd). */
static int moe_cl_run(moe_cl *c, const fw_family *fam, const cJSON *shape, fw_workload *wl,
                      const fw_point *knobs, const char *extra, float **out)
{
    char err[4096];
    char *src = NULL;
    if (fam->source("opencl", shape, &src, err, sizeof err) < 0) {
        fprintf(stderr, "source: %s\n", err);
        return -1;
    }
    fw_geometry g;
    if (fam->geometry(wl, knobs, &g, err, sizeof err) < 0) {
        fprintf(stderr, "geometry: %s\n", err);
        free(src);
        return -1;
    }
    char opts[2048] = "";
    size_t len = 0;
    for (size_t i = 0; i < knobs->n; i++)
        len += (size_t)snprintf(opts + len, sizeof opts - len, "-D%s=%lld ", knobs->kv[i].name,
                                (long long)knobs->kv[i].value);
    const cJSON *m;
    cJSON_ArrayForEach(m, wl->shape_macros)
        len += (size_t)snprintf(opts + len, sizeof opts - len, "-D%s=%d ", m->string, m->valueint);
    if (extra)
        snprintf(opts + len, sizeof opts - len, "%s", extra);
    cl_int e;
    const char *s = src;
    cl_program prog = clCreateProgramWithSource(c->ctx, 1, &s, NULL, &e);
    free(src);
    if (clBuildProgram(prog, 1, &c->dev, opts, NULL, NULL) != CL_SUCCESS) {
        static char log[65536];
        clGetProgramBuildInfo(prog, c->dev, CL_PROGRAM_BUILD_LOG, sizeof log, log, NULL);
        fprintf(stderr, "build failed (%s):\n%s\n", opts, log);
        clReleaseProgram(prog);
        return -1;
    }
    cl_kernel k = clCreateKernel(prog, wl->kernel, &e);
    if (e != CL_SUCCESS) {
        fprintf(stderr, "no kernel %s\n", wl->kernel);
        clReleaseProgram(prog);
        return -1;
    }
    cl_mem *bufs = calloc(wl->nbuffers, sizeof *bufs);
    for (size_t i = 0; i < wl->nbuffers; i++) {
        fw_wl_buffer *b = &wl->buffers[i];
        bufs[i] = clCreateBuffer(c->ctx, CL_MEM_READ_WRITE, b->bytes, NULL, &e);
        if (b->host) {
            clEnqueueWriteBuffer(c->q, bufs[i], CL_TRUE, 0, b->bytes, b->host, 0, NULL, NULL);
        } else {
            void *z = calloc(1, b->bytes);
            clEnqueueWriteBuffer(c->q, bufs[i], CL_TRUE, 0, b->bytes, z, 0, NULL, NULL);
            free(z);
        }
    }
    for (size_t i = 0; i < wl->nargs; i++) {
        if (wl->args[i].buffer >= 0)
            e = clSetKernelArg(k, (cl_uint)i, sizeof(cl_mem), &bufs[wl->args[i].buffer]);
        else
            e = clSetKernelArg(k, (cl_uint)i, wl->args[i].size, wl->args[i].bytes);
        if (e != CL_SUCCESS)
            fprintf(stderr, "arg %zu: error %d\n", i, e);
    }
    size_t gs[3], ls[3];
    for (int i = 0; i < 3; i++) {
        ls[i] = g.group[i];
        gs[i] = (size_t)g.grid[i] * g.group[i];
    }
    size_t ob = wl->buffers[wl->output].bytes;
    e = CL_SUCCESS;
    for (int n = 0; n < moe_cl_launches && e == CL_SUCCESS; n++) {
        if (n > 0) {
            void *z = calloc(1, ob);
            clEnqueueWriteBuffer(c->q, bufs[wl->output], CL_TRUE, 0, ob, z, 0, NULL, NULL);
            free(z);
        }
        e = clEnqueueNDRangeKernel(c->q, k, 3, NULL, gs, ls, 0, NULL, NULL);
    }
    int rc = e == CL_SUCCESS ? 0 : -1;
    if (rc)
        fprintf(stderr, "launch: error %d\n", e);
    *out = malloc(ob);
    clEnqueueReadBuffer(c->q, bufs[wl->output], CL_TRUE, 0, ob, *out, 0, NULL, NULL);
    for (size_t i = 0; i < wl->nbuffers; i++)
        clReleaseMemObject(bufs[i]);
    free(bufs);
    clReleaseKernel(k);
    clReleaseProgram(prog);
    return rc;
}

static double moe_rel_err(const float *out, const double *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = out[i] - ref[i];
        num += d * d;
        den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

#endif
