/* The CUDA backend on a real device. Exits 77 ("no CUDA device: skipping") where the driver sees
 * none, which meson counts as a skip. With --sticky it checks that an illegal address poisons the
 * device (-EFAULT from then on); that runs in its own process because the context stays broken. */
#include "fw_cuda.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;
#define CHECK(cond, ...)                                                              \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                             \
            fputc('\n', stderr);                                                      \
            failures++;                                                               \
        }                                                                             \
    } while (0)

static const fw_backend *B = &fw_cuda_backend;

static const char *src =
    "struct params { int n; float a; };\n"
    "extern \"C\" __global__ void saxpy(const float *x, float *y, params p) {\n"
    "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
    "    if (i < p.n) y[i] = p.a * x[i] + y[i] + BIAS;\n"
    "}\n"
    "extern \"C\" __global__ void with_static(float *out) {\n"
    "    __shared__ float t[1024];\n"
    "    for (int j = threadIdx.x; j < 1024; j += blockDim.x) t[j] = (float)j;\n"
    "    __syncthreads();\n"
    "    out[blockIdx.x * blockDim.x + threadIdx.x] = t[1023 - threadIdx.x];\n"
    "}\n"
    /* Every thread writes its part of a large dynamic array, then reads a far element back:
     * proves the whole requested amount is there. */
    "extern \"C\" __global__ void with_dynamic(unsigned *out, unsigned words) {\n"
    "    extern __shared__ unsigned s[];\n"
    "    for (unsigned j = threadIdx.x; j < words; j += blockDim.x) s[j] = j * 3u + blockIdx.x;\n"
    "    __syncthreads();\n"
    "    out[blockIdx.x * blockDim.x + threadIdx.x] = s[words - 1 - threadIdx.x];\n"
    "}\n"
    "extern \"C\" __global__ void crash(float *p) {\n"
    "    float *bad = (float *)(unsigned long long)0x10;\n"
    "    bad[threadIdx.x] = p[0];\n"
    "}\n";

static int sticky(fw_device *dev)
{
    const char *macros[] = {"BIAS=0.0f"};
    fw_program *prog = NULL;
    int rc = B->compile(dev, src, macros, 1, NULL, "crash", &prog);
    CHECK(rc == 0, "compile: %s", B->last_error(dev));
    fw_buffer *buf = NULL;
    rc = B->buffer_new(dev, 64, &buf);
    CHECK(rc == 0, "buffer: %s", B->last_error(dev));
    fw_arg a = {.kind = FW_ARG_BUFFER, .buffer = buf};
    fw_launch l = {.grid = {1, 1, 1}, .group = {32, 1, 1}, .args = &a, .nargs = 1};
    uint64_t ns = 0;
    rc = B->launch(dev, prog, &l, &ns);
    CHECK(rc == -EFAULT, "an illegal address must return -EFAULT, got %d: %s", rc,
          B->last_error(dev));
    CHECK(strstr(B->last_error(dev), "ILLEGAL_ADDRESS") != NULL, "error names the cause: %s",
          B->last_error(dev));
    fw_buffer *b2 = NULL;
    rc = B->buffer_new(dev, 64, &b2);
    CHECK(rc == -EFAULT, "every later call must return -EFAULT, got %d", rc);
    rc = B->launch(dev, prog, &l, NULL);
    CHECK(rc == -EFAULT, "a later launch must return -EFAULT, got %d", rc);
    B->buffer_free(dev, buf);
    B->program_free(dev, prog);
    return 0;
}

int main(int argc, char **argv)
{
    int n = B->device_count();
    if (n == 0) {
        printf("no CUDA device: skipping (%s)\n", fw_cuda_why_no_device());
        return 77;
    }
    fw_device *dev = NULL;
    fw_device_info info;
    char err[1024];
    CHECK(B->open(n, &dev, &info, err, sizeof err) == -ENODEV, "index past the end is -ENODEV");
    int rc = B->open(0, &dev, &info, err, sizeof err);
    if (rc) {
        fprintf(stderr, "open failed: %s\n", err);
        return 1;
    }
    printf("device: %s, %s, driver %s, %s, %lld SMs, %lld threads/block, %lld B shared (%lld opt-in), "
           "%.1f GiB\n", info.name, info.arch, info.driver, info.compiler,
           (long long)info.compute_units, (long long)info.max_threads,
           (long long)info.shared_bytes, (long long)info.shared_optin_bytes,
           info.global_mem_bytes / 1073741824.0);
    if (argc > 1 && strcmp(argv[1], "--sticky") == 0) {
        sticky(dev);
        B->close(dev);
        return failures ? 1 : 0;
    }
    CHECK(strcmp(info.backend, "cuda") == 0 && strcmp(info.dialect, "cuda") == 0, "names");
    CHECK(strncmp(info.arch, "sm_", 3) == 0, "arch '%s'", info.arch);
    CHECK(strncmp(info.compiler, "NVRTC ", 6) == 0, "compiler '%s'", info.compiler);
    CHECK(info.simd_width == 32, "warp size %lld", (long long)info.simd_width);
    CHECK(info.max_threads >= 1024 && info.compute_units > 0 && info.global_mem_bytes > 0, "limits");
    CHECK(info.shared_bytes >= 48 * 1024, "shared %lld", (long long)info.shared_bytes);
    CHECK(info.shared_optin_bytes >= info.shared_bytes, "opt-in %lld",
          (long long)info.shared_optin_bytes);

    /* Compile with a macro, launch with a by-value struct, check every element. */
    const char *macros[] = {"BIAS=0.5f"};
    fw_program *prog = NULL;
    rc = B->compile(dev, src, macros, 1, NULL, "saxpy", &prog);
    CHECK(rc == 0, "compile: %s", B->last_error(dev));
    if (rc)
        return 1;
    fw_resources res;
    rc = B->resources(dev, prog, &res);
    CHECK(rc == 0 && res.registers > 0 && res.max_threads > 0 && res.simd_width == 32,
          "resources rc %d regs %lld", rc, (long long)res.registers);

    enum { N = 1 << 22 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *out = malloc(N * sizeof *out);
    for (int i = 0; i < N; i++) {
        x[i] = (float)(i % 1000) * 0.25f;
        y[i] = (float)(i % 7) - 3.0f;
    }
    fw_buffer *bx = NULL, *by = NULL;
    CHECK(B->buffer_new(dev, N * sizeof(float), &bx) == 0, "alloc x");
    CHECK(B->buffer_new(dev, N * sizeof(float), &by) == 0, "alloc y");
    CHECK(B->buffer_write(dev, bx, 0, x, N * sizeof(float)) == 0, "write x");
    CHECK(B->buffer_write(dev, by, 0, y, N * sizeof(float)) == 0, "write y");
    CHECK(B->buffer_write(dev, by, 4, y, N * sizeof(float)) == -EINVAL, "write past end refused");
    struct { int n; float a; } p = {N, 2.0f};
    fw_arg args[3] = {{.kind = FW_ARG_BUFFER, .buffer = bx}, {.kind = FW_ARG_BUFFER, .buffer = by},
                      {.kind = FW_ARG_BYTES, .bytes = &p, .size = sizeof p}};
    fw_launch l = {.grid = {N / 256, 1, 1}, .group = {256, 1, 1}, .args = args, .nargs = 3};
    uint64_t ns = 0;
    rc = B->launch(dev, prog, &l, &ns);
    CHECK(rc == 0, "launch: %s", B->last_error(dev));
    CHECK(ns > 0 && ns < 10000000000ull, "elapsed %llu ns", (unsigned long long)ns);
    CHECK(B->buffer_read(dev, by, 0, out, N * sizeof(float)) == 0, "read y");
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += out[i] != 2.0f * x[i] + y[i] + 0.5f;
    CHECK(bad == 0, "%d of %d saxpy elements wrong", bad, N);
    printf("saxpy over %d floats: %llu ns\n", N, (unsigned long long)ns);

    /* Too many threads per block is refused before launch, and the device stays usable. */
    fw_launch big = l;
    big.group[0] = 2048;
    rc = B->launch(dev, prog, &big, NULL);
    CHECK(rc == -E2BIG, "2048 threads must be -E2BIG, got %d", rc);

    /* The cubin round-trips through program_binary/program_load and computes the same. */
    void *bin = NULL;
    size_t binlen = 0;
    rc = B->program_binary(dev, prog, &bin, &binlen);
    CHECK(rc == 0 && binlen > 64 && memcmp(bin, "\x7f" "ELF", 4) == 0, "binary");
    fw_program *prog2 = NULL;
    rc = B->program_load(dev, bin, binlen, "saxpy", &prog2);
    CHECK(rc == 0, "program_load: %s", B->last_error(dev));
    CHECK(B->program_load(dev, "garbage", 7, "saxpy", &prog2) == -EINVAL || prog2, "garbage");
    free(bin);
    /* compile_binary (the compile pool's path) gives bytes that load and compute the same, and a
     * source that does not compile gives the build log, as compile does. */
    if (prog2)
        B->program_free(dev, prog2);
    prog2 = NULL;
    bin = NULL;
    rc = B->compile_binary(dev, src, macros, 1, NULL, &bin, &binlen);
    CHECK(rc == 0 && binlen > 64 && memcmp(bin, "\x7f" "ELF", 4) == 0, "compile_binary: %s",
          B->last_error(dev));
    rc = B->program_load(dev, bin, binlen, "saxpy", &prog2);
    CHECK(rc == 0, "program_load of compile_binary's bytes: %s", B->last_error(dev));
    free(bin);
    void *nobin = NULL;
    CHECK(B->compile_binary(dev, "this is not CUDA", NULL, 0, NULL, &nobin, &binlen) == -EINVAL &&
          !nobin && strstr(B->last_error(dev), "error"), "compile_binary of garbage: %s",
          B->last_error(dev));
    if (prog2) {
        CHECK(B->buffer_write(dev, by, 0, y, N * sizeof(float)) == 0, "rewrite y");
        CHECK(B->launch(dev, prog2, &l, NULL) == 0, "launch loaded: %s", B->last_error(dev));
        CHECK(B->buffer_read(dev, by, 0, out, N * sizeof(float)) == 0, "read y");
        bad = 0;
        for (int i = 0; i < N; i++)
            bad += out[i] != 2.0f * x[i] + y[i] + 0.5f;
        CHECK(bad == 0, "%d elements wrong from the reloaded cubin", bad);
        B->program_free(dev, prog2);
    }

    /* Static shared memory is reported; a batch of launches runs them all (idempotent kernel). */
    fw_program *ps = NULL;
    rc = B->compile(dev, src, macros, 1, NULL, "with_static", &ps);
    CHECK(rc == 0, "with_static: %s", B->last_error(dev));
    if (ps) {
        CHECK(B->resources(dev, ps, &res) == 0 && res.static_shared_bytes == 4096,
              "static shared %lld", (long long)res.static_shared_bytes);
        CHECK(B->buffer_fill(dev, by, 0xFFFFFFFFu, 4 * 256 * 4) == 0, "poison");
        fw_arg sa = {.kind = FW_ARG_BUFFER, .buffer = by};
        fw_launch sl = {.grid = {4, 1, 1}, .group = {256, 1, 1}, .args = &sa, .nargs = 1};
        uint64_t total = 0;
        CHECK(fw_cuda_launch_batch(dev, ps, &sl, 5, &total) == 0, "batch: %s", B->last_error(dev));
        CHECK(total > 0, "a batch of 5 launches took 0 ns");
        CHECK(fw_cuda_launch_batch(dev, ps, &sl, 0, &total) == -EINVAL, "empty batch refused");
        float got4[1024];
        CHECK(B->buffer_read(dev, by, 0, got4, sizeof got4) == 0, "read");
        bad = 0;
        for (int i = 0; i < 1024; i++)
            bad += got4[i] != (float)(1023 - i % 256);
        CHECK(bad == 0, "%d results of the batched kernel wrong", bad);
        B->program_free(dev, ps);
    }

    /* Dynamic shared memory above 48 KiB: the attribute is raised and all of it is usable. */
    fw_program *pd = NULL;
    rc = B->compile(dev, src, macros, 1, NULL, "with_dynamic", &pd);
    CHECK(rc == 0, "with_dynamic: %s", B->last_error(dev));
    if (pd && info.shared_optin_bytes >= 100 * 1024) {
        unsigned words = 100 * 1024 / 4;
        fw_buffer *bo = NULL;
        CHECK(B->buffer_new(dev, 4 * 256 * 4, &bo) == 0, "alloc out");
        CHECK(B->buffer_fill(dev, bo, 0xFFFFFFFFu, 4 * 256 * 4) == 0, "poison");
        fw_arg da[2] = {{.kind = FW_ARG_BUFFER, .buffer = bo},
                        {.kind = FW_ARG_BYTES, .bytes = &words, .size = sizeof words}};
        fw_launch dl = {.grid = {4, 1, 1}, .group = {256, 1, 1}, .args = da, .nargs = 2,
                        .dynamic_shared_bytes = words * 4};
        rc = B->launch(dev, pd, &dl, NULL);
        CHECK(rc == 0, "100 KiB dynamic launch: %s", B->last_error(dev));
        unsigned got[1024];
        CHECK(B->buffer_read(dev, bo, 0, got, sizeof got) == 0, "read");
        bad = 0;
        for (unsigned b = 0; b < 4; b++)
            for (unsigned t = 0; t < 256; t++)
                bad += got[b * 256 + t] != (words - 1 - t) * 3u + b;
        CHECK(bad == 0, "%d dynamic-shared results wrong", bad);
        dl.dynamic_shared_bytes = (uint32_t)info.shared_optin_bytes + 4;
        CHECK(B->launch(dev, pd, &dl, NULL) == -E2BIG, "over the opt-in max must be -E2BIG");
        B->buffer_free(dev, bo);
    }
    B->program_free(dev, pd);

    /* Fill: whole words and a short tail both carry the pattern. */
    fw_buffer *bf = NULL;
    CHECK(B->buffer_new(dev, 12, &bf) == 0, "alloc fill");
    unsigned char zero[12] = {0}, got[12];
    CHECK(B->buffer_write(dev, bf, 0, zero, 12) == 0, "zero");
    CHECK(B->buffer_fill(dev, bf, 0xDDCCBBAAu, 10) == 0, "fill: %s", B->last_error(dev));
    CHECK(B->buffer_read(dev, bf, 0, got, 12) == 0, "read fill");
    const unsigned char want[12] = {0xAA, 0xBB, 0xCC, 0xDD, 0xAA, 0xBB, 0xCC, 0xDD, 0xAA, 0xBB, 0, 0};
    CHECK(memcmp(got, want, 12) == 0, "fill pattern wrong");
    CHECK(B->buffer_fill(dev, bf, 0, 16) == -EINVAL, "fill past end refused");
    B->buffer_free(dev, bf);

    /* Compile errors keep the log; a missing entry says what to do. */
    fw_program *pe = NULL;
    rc = B->compile(dev, "extern \"C\" __global__ void k() { nope(); }", NULL, 0, NULL, "k", &pe);
    CHECK(rc == -EINVAL && strstr(B->last_error(dev), "nope"), "compile error log: %d %s", rc,
          B->last_error(dev));
    rc = B->compile(dev, src, macros, 1, NULL, "no_such_kernel", &pe);
    CHECK(rc == -ENOENT && strstr(B->last_error(dev), "extern \"C\""), "missing entry: %d %s", rc,
          B->last_error(dev));

    B->program_free(dev, prog);
    B->buffer_free(dev, bx);
    B->buffer_free(dev, by);
    free(x);
    free(y);
    free(out);
    B->close(dev);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    else
        printf("CUDA device test OK\n");
    return failures ? 1 : 0;
}
