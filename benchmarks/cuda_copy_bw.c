/* cuda_copy_bw: the device-to-device copy bandwidth a kernel can reach on this GPU, through the
 * fairway CUDA backend itself (NVRTC compile, events), so the number is the ceiling our tuned
 * kernels are held to. Bytes counted = bytes read + bytes written. Also the event-timed duration of
 * an empty kernel (the floor any one launch pays) and copy bandwidth at small sizes (what a decode
 * shape moving a few MB can hope for: copy and read-only, L2-warm and L2-cold, one launch alone
 * and launches pipelined back to back, and pipelined with every launch L2-cold: the harness's
 * launches_per_sample + rotate_bytes timing).
 *
 * usage: cuda_copy_bw [--iters N] [--mib SIZE_OF_EACH_BUFFER]
 * Prints a table, then one JSON line {"copy_bw": {...}} for scripts. Exit 77 without a device. */
#include "fw_cuda.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const fw_backend *B = &fw_cuda_backend;

/* 16-byte loads, UNROLL of them in flight per thread before the first store. */
static const char *src =
    "extern \"C\" __global__ void copy16(const uint4 *__restrict__ s, uint4 *__restrict__ d,\n"
    "                                    unsigned long long n) {\n"
    "    unsigned long long base = (unsigned long long)blockIdx.x * blockDim.x * UNROLL\n"
    "                              + threadIdx.x;\n"
    "    uint4 v[UNROLL];\n"
    "#pragma unroll\n"
    "    for (int u = 0; u < UNROLL; u++) {\n"
    "        unsigned long long i = base + (unsigned long long)u * blockDim.x;\n"
    "        if (i < n) v[u] = s[i];\n"
    "    }\n"
    "#pragma unroll\n"
    "    for (int u = 0; u < UNROLL; u++) {\n"
    "        unsigned long long i = base + (unsigned long long)u * blockDim.x;\n"
    "        if (i < n) d[i] = v[u];\n"
    "    }\n"
    "}\n"
    "extern \"C\" __global__ void empty(int *p) { if (p == 0) return; }\n"
    /* Read-only: what a weight-streaming kernel of that size can reach. The store never happens
     * for real data but keeps the loads alive. */
    "extern \"C\" __global__ void read16(const uint4 *__restrict__ s, uint4 *__restrict__ d,\n"
    "                                    unsigned long long n) {\n"
    "    unsigned long long base = (unsigned long long)blockIdx.x * blockDim.x * UNROLL\n"
    "                              + threadIdx.x;\n"
    "    uint4 a = make_uint4(0, 0, 0, 0);\n"
    "#pragma unroll\n"
    "    for (int u = 0; u < UNROLL; u++) {\n"
    "        unsigned long long i = base + (unsigned long long)u * blockDim.x;\n"
    "        if (i < n) { uint4 v = s[i]; a.x ^= v.x; a.y ^= v.y; a.z ^= v.z; a.w ^= v.w; }\n"
    "    }\n"
    "    if (a.x == 0x9e3779b9u && a.y == 0x7f4a7c15u && a.z == 1u && a.w == 2u) d[0] = a;\n"
    "}\n";

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *s, int n)
{
    qsort(s, (size_t)n, sizeof *s, cmp_u64);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int die(fw_device *dev, const char *what)
{
    fprintf(stderr, "cuda_copy_bw: %s: %s\n", what, dev ? B->last_error(dev) : "");
    return 1;
}

/* Read-only, pipelined and L2-cold at once, as the harness times a decode kernel with
 * options.launches_per_sample and rotate_bytes: 20 launches between one event pair, launch j reading
 * the (j mod k)-th of k buffers of sb bytes, k * sb >= 256 MiB (4x the H200's 60 MB L2), so no
 * launch finds its window cached and none waits for the host. The floor a weight-streaming kernel of
 * sb bytes can reach in a timed batch. */
static int read_rotated(fw_device *dev, fw_program *pr, size_t sb, fw_buffer *sink, int iters,
                        uint64_t *samples, uint64_t *out_ns)
{
    enum { PER = 20 };
    size_t k = ((size_t)256 << 20) / sb;
    k = k < 2 ? 2 : k > 256 ? 256 : k;
    fw_buffer **bufs = calloc(k, sizeof *bufs);
    int rc = bufs ? 0 : -1;
    for (size_t i = 0; i < k && !rc; i++)
        rc = B->buffer_new(dev, sb, &bufs[i]) || B->buffer_fill(dev, bufs[i], 0x3f800001u, sb) ? -1 : 0;
    unsigned long long n = sb / 16;
    fw_arg args[PER][3];
    fw_launch ls[PER];
    for (int it = 0; it < iters && !rc; it++) {
        for (int j = 0; j < PER; j++) {
            args[j][0] = (fw_arg){.kind = FW_ARG_BUFFER, .buffer = bufs[((size_t)it * PER + j) % k]};
            args[j][1] = (fw_arg){.kind = FW_ARG_BUFFER, .buffer = sink};
            args[j][2] = (fw_arg){.kind = FW_ARG_BYTES, .bytes = &n, .size = sizeof n};
            ls[j] = (fw_launch){.grid = {(uint32_t)((n + 256 * 4 - 1) / (256 * 4)), 1, 1}, .group = {256, 1, 1},
                                .args = args[j], .nargs = 3};
        }
        rc = B->launch_batch(dev, pr, ls, PER, &samples[it]) ? -1 : 0;
        samples[it] /= PER;
    }
    if (!rc)
        *out_ns = median(samples, iters);
    for (size_t i = 0; bufs && i < k; i++)
        if (bufs[i])
            B->buffer_free(dev, bufs[i]);
    free(bufs);
    return rc;
}

int main(int argc, char **argv)
{
    int iters = 50;
    size_t mib = 1024;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mib") && i + 1 < argc)
            mib = (size_t)atol(argv[++i]);
        else {
            fprintf(stderr, "usage: cuda_copy_bw [--iters N] [--mib SIZE_OF_EACH_BUFFER]\n");
            return 2;
        }
    }
    if (iters < 1 || iters > 10000 || mib < 1)
        return 2;
    if (B->device_count() == 0) {
        printf("no CUDA device: skipping (%s)\n", fw_cuda_why_no_device());
        return 77;
    }
    fw_device *dev = NULL;
    fw_device_info info;
    char err[1024];
    if (B->open(0, &dev, &info, err, sizeof err)) {
        fprintf(stderr, "cuda_copy_bw: %s\n", err);
        return 1;
    }
    printf("device: %s (%s), driver %s, %s, %lld SMs\n", info.name, info.arch, info.driver,
           info.compiler, (long long)info.compute_units);

    size_t bytes = mib << 20;
    fw_buffer *a = NULL, *b = NULL;
    if (B->buffer_new(dev, bytes, &a) || B->buffer_new(dev, bytes, &b))
        return die(dev, "alloc");
    /* Non-zero, position-dependent data, so a copy that skips work cannot pass the check. */
    if (B->buffer_fill(dev, a, 0x3f800001u, bytes) || B->buffer_fill(dev, b, 0, bytes))
        return die(dev, "fill");
    uint32_t marks[4] = {0x11111111u, 0x22222222u, 0x33333333u, 0x44444444u};
    size_t mark_at[4] = {0, bytes / 3 & ~(size_t)15, bytes / 2 & ~(size_t)15, bytes - 16};
    for (int i = 0; i < 4; i++)
        if (B->buffer_write(dev, a, mark_at[i], marks, 16))
            return die(dev, "write");

    uint64_t *samples = calloc((size_t)iters, sizeof *samples);
    double best_gbps = 0;
    int best_unroll = 0, best_threads = 0;
    uint64_t best_ns = 0;
    printf("%-8s %-8s %12s %10s\n", "unroll", "threads", "median_us", "GB/s");
    static const int unrolls[] = {1, 2, 4, 8};
    static const int threads[] = {128, 256, 512, 1024};
    fw_program *progs[4] = {0};
    for (int ui = 0; ui < 4; ui++) {
        char m[32];
        snprintf(m, sizeof m, "UNROLL=%d", unrolls[ui]);
        const char *macros[] = {m};
        if (B->compile(dev, src, macros, 1, NULL, "copy16", &progs[ui]))
            return die(dev, "compile");
        for (int ti = 0; ti < 4; ti++) {
            unsigned long long n = bytes / 16;
            uint64_t per = (uint64_t)threads[ti] * unrolls[ui];
            fw_arg args[3] = {{.kind = FW_ARG_BUFFER, .buffer = a}, {.kind = FW_ARG_BUFFER, .buffer = b},
                              {.kind = FW_ARG_BYTES, .bytes = &n, .size = sizeof n}};
            fw_launch l = {.grid = {(uint32_t)((n + per - 1) / per), 1, 1},
                           .group = {(uint32_t)threads[ti], 1, 1}, .args = args, .nargs = 3};
            for (int w = 0; w < 3; w++)
                if (B->launch(dev, progs[ui], &l, NULL))
                    return die(dev, "launch");
            for (int it = 0; it < iters; it++)
                if (B->launch(dev, progs[ui], &l, &samples[it]))
                    return die(dev, "launch");
            uint64_t med = median(samples, iters);
            double gbps = 2.0 * (double)bytes / (double)med;
            printf("%-8d %-8d %12.1f %10.1f\n", unrolls[ui], threads[ti], med / 1e3, gbps);
            if (gbps > best_gbps) {
                best_gbps = gbps;
                best_unroll = unrolls[ui];
                best_threads = threads[ti];
                best_ns = med;
            }
        }
    }
    /* The copy really happened. */
    for (int i = 0; i < 4; i++) {
        uint32_t got[4];
        if (B->buffer_read(dev, b, mark_at[i], got, 16))
            return die(dev, "read");
        if (memcmp(got, marks, 16) != 0) {
            fprintf(stderr, "cuda_copy_bw: the copy is wrong at byte %zu\n", mark_at[i]);
            return 1;
        }
    }

    /* Small sizes with the best kernel shape: what a few-MB decode launch can hope for. Each size
     * three ways: copy from the same buffer every launch (L2-resident below ~50 MB), read-only
     * from the same buffer, and read-only from a window that moves through the 1 GiB buffer so no
     * launch finds its data in L2 (what a real decode step sees: other layers ran in between). */
    int bu = 0;
    while (unrolls[bu] != best_unroll)
        bu++;
    char rm[32];
    snprintf(rm, sizeof rm, "UNROLL=%d", 4);
    const char *rmacros[] = {rm};
    fw_program *pr = NULL;
    if (B->compile(dev, src, rmacros, 1, NULL, "read16", &pr))
        return die(dev, "compile read16");
    fw_buffer *c = NULL, *d = NULL;
    size_t ebytes = (size_t)64 << 20;
    if (B->buffer_new(dev, ebytes, &c) || B->buffer_new(dev, ebytes, &d) ||
        B->buffer_fill(dev, c, 0x12345678u, ebytes))
        return die(dev, "alloc evict buffers");
    unsigned long long ne = ebytes / 16;
    fw_arg eargs[3] = {{.kind = FW_ARG_BUFFER, .buffer = c}, {.kind = FW_ARG_BUFFER, .buffer = d},
                       {.kind = FW_ARG_BYTES, .bytes = &ne, .size = sizeof ne}};
    fw_launch evict = {.grid = {(uint32_t)((ne + (uint64_t)best_threads * best_unroll - 1) /
                                           ((uint64_t)best_threads * best_unroll)), 1, 1},
                       .group = {(uint32_t)best_threads, 1, 1}, .args = eargs, .nargs = 3};
    static const size_t small_kib[] = {1024, 4096, 16384, 32768, 65536};
    double small_gbps[5] = {0}, read_gbps[5] = {0}, cold_gbps[5] = {0}, batch_gbps[5] = {0};
    uint64_t small_ns[5] = {0}, read_ns[5] = {0}, cold_ns[5] = {0}, batch_ns[5] = {0}, rot_ns[5] = {0};
    printf("%-10s %22s %22s %22s %22s %22s\n", "size", "copy (same buf)", "read (same buf)",
           "read (L2 cold)", "read x20 pipelined", "x20 rotated (cold)");
    for (int si = 0; si < 5; si++) {
        size_t sb = small_kib[si] << 10;
        if (sb * 4 > bytes)
            break;
        unsigned long long n = sb / 16;
        uint64_t per = (uint64_t)best_threads * best_unroll;
        fw_arg args[3] = {{.kind = FW_ARG_BUFFER, .buffer = a}, {.kind = FW_ARG_BUFFER, .buffer = b},
                          {.kind = FW_ARG_BYTES, .bytes = &n, .size = sizeof n}};
        fw_launch l = {.grid = {(uint32_t)((n + per - 1) / per), 1, 1},
                       .group = {(uint32_t)best_threads, 1, 1}, .args = args, .nargs = 3};
        for (int it = 0; it < iters; it++)
            if (B->launch(dev, progs[bu], &l, &samples[it]))
                return die(dev, "launch");
        small_ns[si] = median(samples, iters);
        small_gbps[si] = 2.0 * (double)sb / (double)small_ns[si];

        fw_launch lr = l;
        lr.grid[0] = (uint32_t)((n + 256 * 4 - 1) / (256 * 4));
        lr.group[0] = 256;
        for (int it = 0; it < iters; it++)
            if (B->launch(dev, pr, &lr, &samples[it]))
                return die(dev, "launch read");
        read_ns[si] = median(samples, iters);
        read_gbps[si] = (double)sb / (double)read_ns[si];

        /* Cold: before each timed read, copy 64 MiB between two other buffers (128 MB of traffic
         * through a 50 MB L2), so the read finds nothing of its window cached. */
        for (int it = 0; it < iters; it++) {
            if (B->launch(dev, progs[bu], &evict, NULL))
                return die(dev, "evict");
            if (B->launch(dev, pr, &lr, &samples[it]))
                return die(dev, "launch read cold");
        }
        cold_ns[si] = median(samples, iters);
        cold_gbps[si] = (double)sb / (double)cold_ns[si];

        for (int it = 0; it < iters; it++) {
            if (fw_cuda_launch_batch(dev, pr, &lr, 20, &samples[it]))
                return die(dev, "batch read");
            samples[it] /= 20;
        }
        batch_ns[si] = median(samples, iters);
        batch_gbps[si] = (double)sb / (double)batch_ns[si];
        if (read_rotated(dev, pr, sb, b, iters, samples, &rot_ns[si]))
            return die(dev, "rotated read");
        printf("%6zu KiB %10.2f us %7.0f GB/s %10.2f us %7.0f GB/s %10.2f us %7.0f GB/s "
               "%10.2f us %7.0f GB/s %10.2f us %7.0f GB/s\n", small_kib[si],
               small_ns[si] / 1e3, small_gbps[si], read_ns[si] / 1e3, read_gbps[si],
               cold_ns[si] / 1e3, cold_gbps[si], batch_ns[si] / 1e3, batch_gbps[si], rot_ns[si] / 1e3,
               (double)sb / (double)rot_ns[si]);
    }
    B->program_free(dev, pr);
    B->buffer_free(dev, c);
    B->buffer_free(dev, d);

    fw_program *pe = NULL;
    if (B->compile(dev, src, NULL, 0, "-DUNROLL=1", "empty", &pe))
        return die(dev, "compile empty");
    fw_arg ea = {.kind = FW_ARG_BUFFER, .buffer = a};
    fw_launch el = {.grid = {1, 1, 1}, .group = {32, 1, 1}, .args = &ea, .nargs = 1};
    for (int it = 0; it < iters; it++)
        if (B->launch(dev, pe, &el, &samples[it]))
            return die(dev, "launch empty");
    uint64_t empty_ns = median(samples, iters);
    for (int it = 0; it < iters; it++) {
        if (fw_cuda_launch_batch(dev, pe, &el, 100, &samples[it]))
            return die(dev, "batch empty");
        samples[it] /= 100;
    }
    uint64_t empty_batch_ns = median(samples, iters);
    printf("empty kernel, event-timed alone: %.2f us; pipelined (100 between one event pair): "
           "%.2f us each\n", empty_ns / 1e3, empty_batch_ns / 1e3);
    printf("best copy: %.1f GB/s (read + write) with UNROLL=%d, %d threads, %zu MiB each way, "
           "median of %d\n", best_gbps, best_unroll, best_threads, mib, iters);
    printf("{\"copy_bw\": {\"device\": \"%s\", \"arch\": \"%s\", \"driver\": \"%s\", "
           "\"gbps\": %.1f, \"median_ns\": %llu, \"bytes_each_way\": %zu, \"unroll\": %d, "
           "\"threads\": %d, \"iters\": %d, \"empty_kernel_ns\": %llu, "
           "\"empty_kernel_pipelined_ns\": %llu, \"small\": [",
           info.name, info.arch, info.driver, best_gbps, (unsigned long long)best_ns, bytes,
           best_unroll, best_threads, iters, (unsigned long long)empty_ns,
           (unsigned long long)empty_batch_ns);
    for (int si = 0; si < 5; si++)
        printf("%s{\"kib\": %zu, \"copy_ns\": %llu, \"read_ns\": %llu, \"read_cold_ns\": %llu, "
               "\"read_pipelined_ns\": %llu, \"read_rotated_pipelined_ns\": %llu}", si ? ", " : "", small_kib[si],
               (unsigned long long)small_ns[si], (unsigned long long)read_ns[si],
               (unsigned long long)cold_ns[si], (unsigned long long)batch_ns[si],
               (unsigned long long)rot_ns[si]);
    printf("]}}\n");
    for (int ui = 0; ui < 4; ui++)
        B->program_free(dev, progs[ui]);
    B->program_free(dev, pe);
    B->buffer_free(dev, a);
    B->buffer_free(dev, b);
    free(samples);
    B->close(dev);
    return 0;
}
