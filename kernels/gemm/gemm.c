/* gemm.c - the gemm family: C[M,N] = A[M,K] * B[K,N], float32, row-major (DESIGN.md section 7).
 *
 * Kernel: gemm.body.h (portable) + gemm.entry.<dialect>.h, entry "gemm_tiled".
 * Shape: {"M": int, "N": int, "K": int} (each 1 .. 65536; every matrix under 2^31 elements; M*N*K
 * at most 2^34 so the double-precision CPU reference stays in seconds).
 * Arguments: 0 A (input), 1 B (input), 2 C (output), 3 {uint32 M, N, K, pad} by value.
 * Geometry: grid (ceil(N / TILE_N), ceil(M / TILE_M), 1), group (32 * SIMDGROUPS_PER_TG, 1, 1),
 * TILE_M = (SIMDGROUPS_PER_TG / (TILE_N / (8 * SG_N_TILES))) * 8 * SG_M_TILES,
 * shared bytes 4 * NUM_BUFFERS * TILE_K * (TILE_M + TILE_N) (static in every dialect).
 * Inputs: A from PCG32(seed, stream 1), B from PCG32(seed, stream 2), uniform in [-1, 1).
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_family.h"
#include "fw_kernel_text.h"
#include "fw_util.h"

#define GEMM_DIM_MAX 65536
#define GEMM_MATRIX_MAX ((int64_t)1 << 31)
#define GEMM_WORK_MAX ((int64_t)1 << 34)

/* The constraints spell TILE_M out as SIMDGROUPS_PER_TG * 64 * SG_M_TILES * SG_N_TILES / TILE_N
 * (exact once the first two hold), and avoid dividing by an expression that can be 0. Tiles more
 * than twice the matrix are pruned, but the smallest tiles (TILE_M 8, TILE_N 16) always stay, so a
 * GEMV-like shape (M = 1) still has variants. */
static const char gemm_defaults[] =
    "{\n"
    "  \"knobs\": {\n"
    "    \"TILE_N\": [16, 32, 64, 128],\n"
    "    \"SIMDGROUPS_PER_TG\": [1, 2, 4, 8],\n"
    "    \"SG_M_TILES\": [1, 2, 4],\n"
    "    \"SG_N_TILES\": [1, 2, 4],\n"
    "    \"NUM_BUFFERS\": [1, 2, 3],\n"
    "    \"TILE_K\": [8, 16, 32]\n"
    "  },\n"
    "  \"constraints\": [\n"
    "    \"TILE_N % (8 * SG_N_TILES) == 0\",\n"
    "    \"(SIMDGROUPS_PER_TG * 8 * SG_N_TILES) % TILE_N == 0\",\n"
    "    \"32 * SIMDGROUPS_PER_TG <= DEVICE_MAX_THREADS\",\n"
    "    \"4 * NUM_BUFFERS * TILE_K * (SIMDGROUPS_PER_TG * 64 * SG_M_TILES * SG_N_TILES / TILE_N + TILE_N) <= DEVICE_SHARED_BYTES\",\n"
    "    \"SIMDGROUPS_PER_TG * 64 * SG_M_TILES * SG_N_TILES / TILE_N <= 256\",\n"
    "    \"TILE_N < 2 * N + 16\",\n"
    "    \"SIMDGROUPS_PER_TG * 64 * SG_M_TILES * SG_N_TILES / TILE_N < 2 * M + 8\",\n"
    "    \"(NUM_BUFFERS - 1) * TILE_K < K + TILE_K\"\n"
    "  ],\n"
    "  \"presets\": [\n"
    "    {\"TILE_N\": 32, \"SIMDGROUPS_PER_TG\": 4, \"SG_M_TILES\": 2, \"SG_N_TILES\": 2, \"NUM_BUFFERS\": 2, \"TILE_K\": 16},\n"
    "    {\"TILE_N\": 64, \"SIMDGROUPS_PER_TG\": 4, \"SG_M_TILES\": 4, \"SG_N_TILES\": 2, \"NUM_BUFFERS\": 2, \"TILE_K\": 16},\n"
    "    {\"TILE_N\": 64, \"SIMDGROUPS_PER_TG\": 8, \"SG_M_TILES\": 2, \"SG_N_TILES\": 2, \"NUM_BUFFERS\": 2, \"TILE_K\": 16},\n"
    "    {\"TILE_N\": 64, \"SIMDGROUPS_PER_TG\": 4, \"SG_M_TILES\": 2, \"SG_N_TILES\": 4, \"NUM_BUFFERS\": 3, \"TILE_K\": 8},\n"
    "    {\"TILE_N\": 16, \"SIMDGROUPS_PER_TG\": 2, \"SG_M_TILES\": 1, \"SG_N_TILES\": 1, \"NUM_BUFFERS\": 1, \"TILE_K\": 8}\n"
    "  ],\n"
    "  \"shapes\": [\n"
    "    {\"M\": 256, \"N\": 256, \"K\": 256},\n"
    "    {\"M\": 200, \"N\": 136, \"K\": 72}\n"
    "  ]\n"
    "}\n";

static int gemm_dims(const cJSON *shape, int64_t *m, int64_t *n, int64_t *k, char *err, size_t errlen)
{
    static const char *const names[3] = {"M", "N", "K"};
    int64_t v[3];
    if (!cJSON_IsObject(shape))
        return fw_errf(err, errlen, -EINVAL,
                       "a gemm shape is an object {\"M\": rows, \"N\": columns, \"K\": depth}");
    for (int i = 0; i < 3; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(shape, names[i]);
        if (!f)
            return fw_errf(err, errlen, -EINVAL, "gemm shape is missing \"%s\" (needs M, N and K)",
                           names[i]);
        double d = cJSON_IsNumber(f) ? f->valuedouble : -1.0;
        if (!cJSON_IsNumber(f) || d != floor(d) || d < 1 || d > GEMM_DIM_MAX)
            return fw_errf(err, errlen, -EINVAL,
                           "gemm shape field \"%s\" must be an integer from 1 to %d", names[i],
                           GEMM_DIM_MAX);
        v[i] = (int64_t)d;
    }
    *m = v[0];
    *n = v[1];
    *k = v[2];
    return 0;
}

static int gemm_shape_check(const cJSON *shape, char *err, size_t errlen)
{
    int64_t m, n, k;
    int rc = gemm_dims(shape, &m, &n, &k, err, errlen);
    if (rc)
        return rc;
    const cJSON *f;
    cJSON_ArrayForEach(f, shape) {
        if (strcmp(f->string, "M") && strcmp(f->string, "N") && strcmp(f->string, "K") &&
            strcmp(f->string, "name"))
            return fw_errf(err, errlen, -EINVAL,
                           "unknown gemm shape field \"%s\" (known: M, N, K, name)", f->string);
        if (strcmp(f->string, "name") == 0 && !cJSON_IsString(f))
            return fw_errf(err, errlen, -EINVAL, "gemm shape field \"name\" must be a string");
    }
    if (m * k >= GEMM_MATRIX_MAX || k * n >= GEMM_MATRIX_MAX || m * n >= GEMM_MATRIX_MAX)
        return fw_errf(err, errlen, -EINVAL,
                       "gemm shape M=%lld N=%lld K=%lld has a matrix of 2^31 elements or more; "
                       "use smaller dimensions", (long long)m, (long long)n, (long long)k);
    if (m * n * k > GEMM_WORK_MAX)
        return fw_errf(err, errlen, -EINVAL,
                       "gemm shape M=%lld N=%lld K=%lld needs %.3g multiply-adds, over the limit of "
                       "2^34 for the CPU reference; use smaller dimensions",
                       (long long)m, (long long)n, (long long)k, (double)(m * n * k));
    return 0;
}

static int gemm_shape_key(const cJSON *shape, char *buf, size_t len)
{
    int64_t m, n, k;
    int rc = gemm_dims(shape, &m, &n, &k, NULL, 0);
    if (rc)
        return rc;
    int w = snprintf(buf, len, "K=%lld,M=%lld,N=%lld", (long long)k, (long long)m, (long long)n);
    return (w < 0 || (size_t)w >= len) ? -ENOSPC : 0;
}

static int gemm_source(const char *dialect, const cJSON *shape, char **text, char *err, size_t errlen)
{
    (void)shape;   /* M, N, K are runtime values: one source serves every shape */
    char entry[64];
    if (!dialect || (strcmp(dialect, "opencl") && strcmp(dialect, "cuda") && strcmp(dialect, "metal")))
        return fw_errf(err, errlen, -EINVAL,
                       "gemm has no source for dialect '%s' (known: opencl, cuda, metal)",
                       dialect ? dialect : "(null)");
    snprintf(entry, sizeof entry, "gemm.entry.%s.h", dialect);
    const char *parts[] = {"gemm.body.h", entry, NULL};
    return fw_kernel_assemble(dialect, parts, text, err, errlen);
}

/* i-k-j order with a double row accumulator: contiguous inner loop over B and C. Rows [i0, i1). */
static void gemm_reference_rows(const float *a, const float *b, double *c, size_t n, size_t k, size_t i0,
                                size_t i1)
{
    for (size_t i = i0; i < i1; i++) {
        double *row = c + i * n;
        for (size_t j = 0; j < n; j++)
            row[j] = 0.0;
        for (size_t p = 0; p < k; p++) {
            double av = a[i * k + p];
            const float *brow = b + p * n;
            for (size_t j = 0; j < n; j++)
                row[j] += av * (double)brow[j];
        }
    }
}

typedef struct ref_job {
    const float *a, *b;
    double *c;
    size_t m, n, k, nparts;
} ref_job;

static void ref_part(void *ctx, size_t t)
{
    const ref_job *r = ctx;
    gemm_reference_rows(r->a, r->b, r->c, r->n, r->k, r->m * t / r->nparts, r->m * (t + 1) / r->nparts);
}

/* Rows split over the host's cores: each row is computed by one thread in the same order as the
 * single-threaded loop, so the reference is bit-identical whatever the thread count. At 1024^3 the
 * single-threaded reference was 1.2 s of every job's start on the H200 machine (BENCHMARKS.md). */
static void gemm_reference(const float *a, const float *b, double *c, size_t m, size_t n, size_t k)
{
    enum { REF_PARTS = 16 };
    if ((double)m * (double)n * (double)k < 16.0 * 1024 * 1024) {   /* small: a thread costs more */
        gemm_reference_rows(a, b, c, n, k, 0, m);
        return;
    }
    ref_job r = {a, b, c, m, n, k, m < REF_PARTS ? m : REF_PARTS};
    fw_parallel_tasks(r.nparts, 0, ref_part, &r);
}

static int gemm_workload_new(const cJSON *shape, uint64_t seed, fw_workload **out, char *err,
                             size_t errlen)
{
    int rc = gemm_shape_check(shape, err, errlen);
    if (rc)
        return rc;
    int64_t m, n, k;
    gemm_dims(shape, &m, &n, &k, NULL, 0);
    fw_workload *wl = fw_workload_alloc(3, 4);
    if (!wl)
        return fw_errf(err, errlen, -ENOMEM, "out of memory for the gemm workload");
    snprintf(wl->kernel, sizeof wl->kernel, "gemm_tiled");
    wl->mode[0] = '\0';
    size_t mk = (size_t)(m * k), kn = (size_t)(k * n), mn = (size_t)(m * n);
    float *a = malloc(mk * sizeof *a);
    float *b = malloc(kn * sizeof *b);
    uint32_t *params = calloc(4, sizeof *params);
    wl->reference = malloc(mn * sizeof *wl->reference);
    wl->buffers[0] = (fw_wl_buffer){"A", FW_BUF_INPUT, FW_ELEM_F32, mk * 4, a};
    wl->buffers[1] = (fw_wl_buffer){"B", FW_BUF_INPUT, FW_ELEM_F32, kn * 4, b};
    wl->buffers[2] = (fw_wl_buffer){"C", FW_BUF_OUTPUT, FW_ELEM_F32, mn * 4, NULL};
    for (int i = 0; i < 3; i++)
        wl->args[i] = (fw_wl_arg){i, NULL, 0};
    wl->args[3] = (fw_wl_arg){-1, params, params ? 4 * sizeof *params : 0};
    if (!a || !b || !params || !wl->reference) {
        fw_workload_free_common(wl);
        return fw_errf(err, errlen, -ENOMEM, "out of memory for a %lldx%lldx%lld gemm workload",
                       (long long)m, (long long)n, (long long)k);
    }
    params[0] = (uint32_t)m;
    params[1] = (uint32_t)n;
    params[2] = (uint32_t)k;
    fw_fill_uniform_f32(a, mk, seed, 1, -1.0f, 1.0f);
    fw_fill_uniform_f32(b, kn, seed, 2, -1.0f, 1.0f);
    gemm_reference(a, b, wl->reference, (size_t)m, (size_t)n, (size_t)k);
    wl->nreference = mn;
    wl->output = 2;
    /* float32 accumulation of K products of [-1, 1) values: the rounding error grows like
     * sqrt(K) * FLT_EPSILON relative to the result; 8x that leaves room for any summation order
     * while a dropped k-tile (>= 1/K of the sum missing) stays far above it. */
    wl->tolerance = fmax(1e-5, 8.0 * FLT_EPSILON * sqrt((double)k));
    wl->bytes = 4.0 * ((double)mk + (double)kn + (double)mn);
    wl->flops = 2.0 * (double)m * (double)n * (double)k;
    wl->shape_macros = NULL;
    wl->priv = NULL;
    *out = wl;
    return 0;
}

/* The buffers gemm_workload_new makes, the reference (M x N doubles) and M*N*K multiply-adds. */
static int gemm_cost(const cJSON *shape, fw_wl_cost *out, char *err, size_t errlen)
{
    int rc = gemm_shape_check(shape, err, errlen);
    if (rc)
        return rc;
    int64_t m, n, k;
    gemm_dims(shape, &m, &n, &k, NULL, 0);
    memset(out, 0, sizeof *out);
    double mk = (double)m * (double)k, kn = (double)k * (double)n, mn = (double)m * (double)n;
    fw_wl_cost_add(out, "A", 4.0 * mk, 1);
    fw_wl_cost_add(out, "B", 4.0 * kn, 1);
    fw_wl_cost_add(out, "C", 4.0 * mn, 0);
    out->host_bytes = out->input_bytes + 8.0 * mn + 2 * 4.0 * mn;
    out->reference_ops = mn * (double)k;
    return 0;
}

static void gemm_workload_free(fw_workload *wl)
{
    fw_workload_free_common(wl);
}

static int gemm_geometry(const fw_workload *wl, const fw_point *knobs, fw_geometry *out, char *err,
                         size_t errlen)
{
    static const char *const names[6] = {"TILE_N", "SIMDGROUPS_PER_TG", "SG_M_TILES",
                                         "SG_N_TILES", "NUM_BUFFERS", "TILE_K"};
    int64_t v[6];
    for (int i = 0; i < 6; i++) {
        if (!fw_point_get(knobs, names[i], &v[i]))
            return fw_errf(err, errlen, -EINVAL, "gemm variant has no value for knob %s", names[i]);
        if (v[i] < 1 || v[i] > 4096)
            return fw_errf(err, errlen, -EINVAL, "gemm knob %s=%lld is out of range (1..4096)",
                           names[i], (long long)v[i]);
    }
    int64_t tile_n = v[0], sgs = v[1], sgm = v[2], sgn = v[3], nbuf = v[4], tile_k = v[5];
    if (nbuf > 4)
        return fw_errf(err, errlen, -EINVAL, "gemm NUM_BUFFERS=%lld: the kernel supports 1 to 4",
                       (long long)nbuf);
    if (tile_n % (8 * sgn))
        return fw_errf(err, errlen, -EINVAL,
                       "gemm TILE_N=%lld is not a multiple of 8 * SG_N_TILES=%lld",
                       (long long)tile_n, (long long)(8 * sgn));
    int64_t sg_cols = tile_n / (8 * sgn);
    if (sgs % sg_cols)
        return fw_errf(err, errlen, -EINVAL,
                       "gemm SIMDGROUPS_PER_TG=%lld is not a multiple of TILE_N / (8 * SG_N_TILES) = %lld",
                       (long long)sgs, (long long)sg_cols);
    if (!wl || wl->nbuffers < 3 || wl->nargs < 4 || !wl->args[3].bytes)
        return fw_errf(err, errlen, -EINVAL, "gemm geometry needs a gemm workload");
    const uint32_t *p = wl->args[3].bytes;
    int64_t m = p[0], n = p[1];
    int64_t tile_m = (sgs / sg_cols) * 8 * sgm;
    int64_t gx = (n + tile_n - 1) / tile_n, gy = (m + tile_m - 1) / tile_m;
    memset(out, 0, sizeof *out);
    out->grid[0] = (uint32_t)gx;
    out->grid[1] = (uint32_t)gy;
    out->grid[2] = 1;
    out->group[0] = (uint32_t)(32 * sgs);
    out->group[1] = 1;
    out->group[2] = 1;
    out->dynamic_shared_bytes = 0;
    out->shared_bytes = 4 * nbuf * tile_k * (tile_m + tile_n);
    return 0;
}

const fw_family fw_family_gemm = {
    .version = FW_FAMILY_VERSION,
    .name = "gemm",
    .description = "tiled float32 matrix product C[M,N] = A[M,K] * B[K,N] (row-major)",
    .defaults_json = gemm_defaults,
    .shape_check = gemm_shape_check,
    .shape_key = gemm_shape_key,
    .source = gemm_source,
    .workload_new = gemm_workload_new,
    .workload_free = gemm_workload_free,
    .geometry = gemm_geometry,
    .cost = gemm_cost,
};
