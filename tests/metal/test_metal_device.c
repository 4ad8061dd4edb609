/* test_metal_device.c - the Metal backend on a real Mac: open the default device, compile a small
 * MSL kernel with a macro, launch it on a shared buffer, check every element and the GPU time, and
 * check that a broken source is a compile error with a log. Exits 77 (skip) where there is no Metal
 * device: always on Linux (no Objective-C runtime in the build), and on a Mac without a GPU (some
 * CI virtual machines). Never asserts on timing beyond "the GPU reported a duration". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_metal.h"

static int failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            failures++;                                                                    \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)

static const char kernel_src[] =
    "#include <metal_stdlib>\n"
    "using namespace metal;\n"
    "#ifndef SCALE\n#define SCALE 1\n#endif\n"
    "kernel void fw_smoke(device float *x [[buffer(0)]], constant uint &n [[buffer(1)]],\n"
    "                     uint i [[thread_position_in_grid]])\n"
    "{\n    if (i < n)\n        x[i] = x[i] * SCALE + 1.0f;\n}\n";

int main(void)
{
    const fw_backend *be = &fw_metal_backend;
    if (be->device_count() < 1) {
        printf("SKIP: no Metal device (%s)\n", fw_metal_runtime() ? "MTLCreateSystemDefaultDevice returned nil"
                                                                  : "this build has no Objective-C runtime");
        return 77;
    }
    fw_device *d = NULL;
    fw_device_info info;
    char err[1024] = "";
    int rc = be->open(0, &d, &info, err, sizeof err);
    CHECK(rc == 0 && d, "open: %s", err);
    if (!d)
        return 1;
    printf("device: %s (%s), %s, %s, max threads %lld, threadgroup memory %lld\n", info.name, info.arch,
           info.driver, info.compiler, (long long)info.max_threads, (long long)info.shared_bytes);
    CHECK(info.max_threads > 0 && info.shared_bytes > 0 && info.name[0], "limits and name");

    const char *macros[] = {"SCALE=3"};
    fw_program *p = NULL;
    rc = be->compile(d, kernel_src, macros, 1, "-fno-fast-math", "fw_smoke", &p);
    CHECK(rc == 0 && p, "compile: %s", be->last_error(d));
    fw_program *broken = NULL;
    CHECK(be->compile(d, "kernel void fw_smoke(device float *x [[buffer(0)]]) { x[0] = undefined_name; }",
                      NULL, 0, NULL, "fw_smoke", &broken) == -EINVAL && !broken, "broken source");
    CHECK(strstr(be->last_error(d), "undefined_name") != NULL, "log names the error: %s", be->last_error(d));
    if (p) {
        fw_resources res;
        CHECK(be->resources(d, p, &res) == 0 && res.max_threads > 0 && res.simd_width > 0, "reflection");
        enum { N = 1000 };
        float host[N];
        for (int i = 0; i < N; i++)
            host[i] = (float)i;
        fw_buffer *b = NULL;
        CHECK(be->buffer_new(d, sizeof host, &b) == 0 && b, "buffer: %s", be->last_error(d));
        if (b) {
            CHECK(be->buffer_write(d, b, 0, host, sizeof host) == 0, "write");
            uint32_t n = N;
            fw_arg args[2] = {{FW_ARG_BUFFER, b, NULL, 0}, {FW_ARG_BYTES, NULL, &n, sizeof n}};
            fw_launch l = {.grid = {(N + 63) / 64, 1, 1}, .group = {64, 1, 1}, .args = args, .nargs = 2};
            uint64_t ns = 0;
            rc = be->launch(d, p, &l, &ns);
            CHECK(rc == 0 && ns > 0, "launch: %d %s (%llu ns)", rc, be->last_error(d), (unsigned long long)ns);
            CHECK(be->buffer_read(d, b, 0, host, sizeof host) == 0, "read");
            int wrong = 0;
            for (int i = 0; i < N; i++)
                wrong += host[i] != 3.0f * (float)i + 1.0f;
            CHECK(wrong == 0, "%d of %d elements wrong (the macro SCALE=3 must reach the compiler)", wrong, N);
            printf("launch: %llu ns on the GPU clock\n", (unsigned long long)ns);
            be->buffer_free(d, b);
        }
        be->program_free(d, p);
    }
    be->close(d);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}
