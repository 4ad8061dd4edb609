/* The OpenCL backend on whatever platform is installed (PoCL in CI). Exits 77 (skip) without one. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw_backend.h"
#include "fw_opencl.h"
#include "test_util.h"

static const char *src =
    "typedef struct { float a; int b; uint n; uint pad; } params;\n"
    "__kernel void axpb(__global const float *x, __global float *y, params p) {\n"
    "  uint i = get_global_id(0);\n"
    "  if (i < p.n) y[i] = p.a * x[i] + (float)p.b + (float)SHIFT;\n"
    "}\n";

typedef struct { float a; int32_t b; uint32_t n, pad; } params;

int main(void)
{
    const fw_backend *be = &fw_opencl_backend;
    CHECK(be->version == FW_BACKEND_VERSION);
    CHECK(strcmp(be->name, "opencl") == 0);
    int n = be->device_count();
    if (n == 0) {
        puts("no OpenCL device: skipped");
        return 77;
    }
    fw_device *dev = NULL;
    fw_device_info info;
    char err[512];
    CHECK(be->open(n + 5, &dev, &info, err, sizeof err) == -ENODEV);
    CHECKF(strstr(err, "does not exist"), "%s", err);
    CHECKF(be->open(0, &dev, &info, err, sizeof err) == 0, "%s", err);
    CHECK(strcmp(info.backend, "opencl") == 0 && strcmp(info.dialect, "opencl") == 0);
    CHECK(info.name[0] && info.vendor[0] && info.driver[0] && info.compiler[0]);
    CHECK(info.max_threads > 0 && info.shared_bytes > 0 && info.compute_units > 0);
    CHECK(info.global_mem_bytes > 0 && info.simd_width >= 1);
    CHECK(info.max_alloc_bytes > 0 && info.max_alloc_bytes <= info.global_mem_bytes);
    char id[1024];
    CHECK(fw_device_identity(&info, id, sizeof id) == 0);
    CHECK(strncmp(id, "opencl|", 7) == 0 && strstr(id, info.name));

    /* buffers: round trip, fill (with a tail that is not a multiple of 4), range checks */
    enum { N = 1000 };
    fw_buffer *bx = NULL, *by = NULL, *odd = NULL;
    CHECK(be->buffer_new(dev, N * sizeof(float), &bx) == 0);
    CHECK(be->buffer_new(dev, N * sizeof(float), &by) == 0);
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int i = 0; i < N; i++)
        x[i] = (float)i * 0.5f - 7.0f;
    CHECK(be->buffer_write(dev, bx, 0, x, N * sizeof *x) == 0);
    memset(y, 0, N * sizeof *y);
    CHECK(be->buffer_read(dev, bx, 0, y, N * sizeof *y) == 0);
    CHECK(memcmp(x, y, N * sizeof *x) == 0);
    CHECK(be->buffer_read(dev, bx, 8, y, N * sizeof *y) == -ERANGE);
    CHECK(be->buffer_new(dev, 10, &odd) == 0);
    CHECK(be->buffer_fill(dev, odd, 0xA1B2C3D4u, 10) == 0);
    unsigned char ob[10];
    CHECK(be->buffer_read(dev, odd, 0, ob, 10) == 0);
    uint32_t pat = 0xA1B2C3D4u;
    unsigned char pb[4];
    memcpy(pb, &pat, 4);
    for (int i = 0; i < 10; i++)
        CHECKF(ob[i] == pb[i % 4], "byte %d is %02x", i, ob[i]);
    CHECK(be->buffer_fill(dev, by, 0xFFFFFFFFu, N * sizeof(float)) == 0);
    CHECK(be->buffer_read(dev, by, 0, y, N * sizeof *y) == 0);
    for (int i = 0; i < N; i++) {
        uint32_t u;
        memcpy(&u, &y[i], 4);
        CHECK(u == 0xFFFFFFFFu);
    }

    /* compile with a macro, resources, launch with a by-value struct, device timing */
    const char *macros[] = { "SHIFT=3" };
    fw_program *prog = NULL;
    CHECKF(be->compile(dev, src, macros, 1, "-cl-std=CL1.2", "axpb", &prog) == 0, "%s", be->last_error(dev));
    fw_resources res;
    CHECK(be->resources(dev, prog, &res) == 0);
    CHECK(res.max_threads > 0);
    params p = { 2.0f, -1, N, 0 };
    fw_arg args[3] = {
        { .kind = FW_ARG_BUFFER, .buffer = bx },
        { .kind = FW_ARG_BUFFER, .buffer = by },
        { .kind = FW_ARG_BYTES, .bytes = &p, .size = sizeof p },
    };
    fw_launch l = { .grid = { (N + 63) / 64, 1, 1 }, .group = { 64, 1, 1 }, .args = args, .nargs = 3 };
    uint64_t ns = 0;
    CHECKF(be->launch(dev, prog, &l, &ns) == 0, "%s", be->last_error(dev));
    CHECK(ns > 0);
    CHECK(be->buffer_read(dev, by, 0, y, N * sizeof *y) == 0);
    for (int i = 0; i < N; i++)
        CHECKF(y[i] == 2.0f * x[i] - 1.0f + 3.0f, "y[%d] = %g", i, y[i]);

    /* a group over the device's per-dimension limit is refused, not launched */
    fw_launch bad = l;
    bad.group[0] = (uint32_t)info.max_threads * 4;
    CHECK(be->launch(dev, prog, &bad, NULL) == -EINVAL);
    CHECK(be->last_error(dev)[0]);

    /* program binary round trip (the compile cache's path) */
    void *bin = NULL;
    size_t binlen = 0;
    int rb = be->program_binary(dev, prog, &bin, &binlen);
    if (rb == 0) {
        fw_program *p2 = NULL;
        CHECK(binlen > 0);
        CHECKF(be->program_load(dev, bin, binlen, "axpb", &p2) == 0, "%s", be->last_error(dev));
        CHECK(be->buffer_fill(dev, by, 0, N * sizeof(float)) == 0);
        CHECK(be->launch(dev, p2, &l, NULL) == 0);
        CHECK(be->buffer_read(dev, by, 0, y, N * sizeof *y) == 0);
        CHECK(y[10] == 2.0f * x[10] + 2.0f);
        be->program_free(dev, p2);
        free(bin);
    }
    be->program_free(dev, prog);

    /* a compile error returns -EINVAL and keeps the compiler's message */
    const char *broken = "__kernel void k(__global float *y) { y[0] = undeclared_name; }\n";
    prog = NULL;
    CHECK(be->compile(dev, broken, NULL, 0, NULL, "k", &prog) == -EINVAL);
    CHECK(prog == NULL);
    CHECKF(strstr(be->last_error(dev), "undeclared_name"), "log: %s", be->last_error(dev));
    /* a missing entry point is refused too */
    CHECK(be->compile(dev, src, macros, 1, NULL, "nope", &prog) == -EINVAL);
    CHECK(strstr(be->last_error(dev), "nope"));

    be->buffer_free(dev, bx);
    be->buffer_free(dev, by);
    be->buffer_free(dev, odd);
    free(x);
    free(y);
    be->close(dev);
    puts("opencl ok");
    return 0;
}
