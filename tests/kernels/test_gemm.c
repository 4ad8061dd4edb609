/* Unit tests of the gemm family and the preludes that need no device: shapes, seeded workload and
 * its reference (against a naive triple loop), geometry from knobs, knobs used in every dialect's
 * source, the preludes' common macro set, and the size of the default space under PoCL's and an
 * H100's limits (with constraints and geometry agreeing on every valid point). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_family.h"
#include "fw_kernel_text.h"
#include "fw_variants.h"

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

static const char *const knob_names[6] = {"TILE_N", "SIMDGROUPS_PER_TG", "SG_M_TILES",
                                          "SG_N_TILES", "NUM_BUFFERS", "TILE_K"};

static cJSON *shape3(int m, int n, int k)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "M", m);
    cJSON_AddNumberToObject(s, "N", n);
    cJSON_AddNumberToObject(s, "K", k);
    return s;
}

static void knobs6(fw_point *p, int tile_n, int sgs, int sgm, int sgn, int nbuf, int tile_k)
{
    int v[6] = {tile_n, sgs, sgm, sgn, nbuf, tile_k};
    fw_point_clear(p);
    for (int i = 0; i < 6; i++)
        fw_point_set(p, knob_names[i], v[i]);
}

static void test_shapes(const fw_family *f)
{
    char err[256], key[64];
    cJSON *s = shape3(200, 136, 72);
    CHECK(f->shape_check(s, err, sizeof err) == 0, "%s", err);
    CHECK(f->shape_key(s, key, sizeof key) == 0 && strcmp(key, "K=72,M=200,N=136") == 0, "key %s", key);
    cJSON_AddStringToObject(s, "name", "odd");
    CHECK(f->shape_check(s, err, sizeof err) == 0, "a name field is allowed: %s", err);
    cJSON_AddNumberToObject(s, "batch", 2);
    CHECK(f->shape_check(s, err, sizeof err) == -EINVAL && strstr(err, "batch"), "unknown field: %s", err);
    cJSON_Delete(s);

    const char *bad[] = {"{\"M\": 4, \"N\": 4}", "{\"M\": 0, \"N\": 4, \"K\": 4}",
                         "{\"M\": 4.5, \"N\": 4, \"K\": 4}", "{\"M\": \"4\", \"N\": 4, \"K\": 4}",
                         "{\"M\": 65536, \"N\": 65536, \"K\": 1}", "{\"M\": 4096, \"N\": 4096, \"K\": 4096}",
                         "{\"M\": 4, \"N\": 4, \"K\": 4, \"name\": 5}", "[1, 2, 3]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cJSON *b = cJSON_Parse(bad[i]);
        err[0] = '\0';
        CHECK(f->shape_check(b, err, sizeof err) == -EINVAL && err[0], "shape %s accepted", bad[i]);
        cJSON_Delete(b);
    }
}

/* The reference must be the plain sum over k, in double, of the seeded inputs. */
static void test_workload(const fw_family *f)
{
    char err[256];
    const int m = 13, n = 7, k = 29;
    cJSON *s = shape3(m, n, k);
    fw_workload *wl = NULL, *wl2 = NULL, *wl3 = NULL;
    CHECK(f->workload_new(s, 1234, &wl, err, sizeof err) == 0, "%s", err);
    CHECK(f->workload_new(s, 1234, &wl2, err, sizeof err) == 0, "%s", err);
    CHECK(f->workload_new(s, 1235, &wl3, err, sizeof err) == 0, "%s", err);
    if (!wl || !wl2 || !wl3)
        goto out;
    CHECK(strcmp(wl->kernel, "gemm_tiled") == 0, "kernel %s", wl->kernel);
    CHECK(wl->nbuffers == 3 && wl->nargs == 4 && wl->output == 2, "layout");
    CHECK(wl->buffers[0].role == FW_BUF_INPUT && wl->buffers[0].bytes == (size_t)m * k * 4, "A");
    CHECK(wl->buffers[1].role == FW_BUF_INPUT && wl->buffers[1].bytes == (size_t)k * n * 4, "B");
    CHECK(wl->buffers[2].role == FW_BUF_OUTPUT && wl->buffers[2].bytes == (size_t)m * n * 4, "C");
    CHECK(wl->args[3].buffer == -1 && wl->args[3].size == 16, "params blob");
    const uint32_t *pp = wl->args[3].bytes;
    CHECK(pp[0] == (uint32_t)m && pp[1] == (uint32_t)n && pp[2] == (uint32_t)k, "params %u %u %u",
          pp[0], pp[1], pp[2]);
    CHECK(wl->bytes == 4.0 * (m * k + k * n + m * n), "bytes %g", wl->bytes);
    CHECK(wl->flops == 2.0 * m * n * k, "flops %g", wl->flops);
    CHECK(wl->tolerance > 0 && wl->tolerance < 1e-3, "tolerance %g", wl->tolerance);

    const float *a = wl->buffers[0].host, *b = wl->buffers[1].host;
    int zeros = 0, out_of_range = 0;
    for (int i = 0; i < m * k; i++) {
        zeros += a[i] == 0.0f;
        out_of_range += !(a[i] >= -1.0f && a[i] < 1.0f);
    }
    for (int i = 0; i < k * n; i++) {
        zeros += b[i] == 0.0f;
        out_of_range += !(b[i] >= -1.0f && b[i] < 1.0f);
    }
    CHECK(zeros == 0 && out_of_range == 0, "%d zeros, %d out of [-1,1)", zeros, out_of_range);
    CHECK(memcmp(a, wl2->buffers[0].host, (size_t)m * k * 4) == 0 &&
          memcmp(b, wl2->buffers[1].host, (size_t)k * n * 4) == 0, "same seed, same bytes");
    CHECK(memcmp(a, wl3->buffers[0].host, (size_t)m * k * 4) != 0, "another seed, other bytes");
    CHECK(memcmp(a, b, 4 * 7) != 0, "A and B come from different streams");

    CHECK(wl->nreference == (size_t)m * n, "nreference");
    double worst = 0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double sum = 0;
            for (int p = 0; p < k; p++)
                sum += (double)a[i * k + p] * (double)b[p * n + j];
            worst = fmax(worst, fabs(sum - wl->reference[i * n + j]));
        }
    CHECK(worst < 1e-12, "reference differs from the triple loop by %g", worst);
out:
    f->workload_free(wl);
    f->workload_free(wl2);
    f->workload_free(wl3);
    cJSON_Delete(s);
}

/* Large enough that the reference is split over threads (rows in uneven parts): every row must be
 * computed, once, as the triple loop's sum (a tolerance only for compilers that contract to FMA). */
static void test_threaded_reference(const fw_family *f)
{
    char err[256];
    const int m = 263, n = 257, k = 260;
    cJSON *s = shape3(m, n, k);
    fw_workload *wl = NULL;
    CHECK(f->workload_new(s, 77, &wl, err, sizeof err) == 0, "%s", err);
    if (wl) {
        const float *a = wl->buffers[0].host, *b = wl->buffers[1].host;
        size_t differ = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int p = 0; p < k; p++)
                    sum += (double)a[i * k + p] * (double)b[p * n + j];
                differ += !(fabs(sum - wl->reference[i * n + j]) <= 1e-9);
            }
        CHECK(differ == 0, "%zu reference elements differ from the triple loop", differ);
    }
    f->workload_free(wl);
    cJSON_Delete(s);
}

static void test_geometry(const fw_family *f)
{
    char err[256];
    cJSON *s = shape3(200, 136, 72);
    fw_workload *wl = NULL;
    CHECK(f->workload_new(s, 1, &wl, err, sizeof err) == 0, "%s", err);
    if (!wl) {
        cJSON_Delete(s);
        return;
    }
    static const struct {
        int k[6];   /* TILE_N SG SGM SGN NB TILE_K */
        uint32_t gx, gy, threads;
        int64_t shared;
    } cases[] = {
        /* 32 cols / 16 per SG = 2 SG columns, 4 SGs -> 2 rows of 16: TILE_M 32 */
        {{32, 4, 2, 2, 2, 16}, 5, 7, 128, 4 * 2 * 16 * (32 + 32)},
        /* 64 / 16 = 4 SG columns, 4 SGs -> 1 row of 32: TILE_M 32 */
        {{64, 4, 4, 2, 2, 16}, 3, 7, 128, 4 * 2 * 16 * (32 + 64)},
        /* 16 / 8 = 2 columns, 2 SGs -> 1 row of 8: TILE_M 8 */
        {{16, 2, 1, 1, 1, 8}, 9, 25, 64, 4 * 1 * 8 * (8 + 16)},
        /* 128 / 32 = 4 columns, 8 SGs -> 2 rows of 8: TILE_M 16 */
        {{128, 8, 1, 4, 4, 32}, 2, 13, 256, 4 * 4 * 32 * (16 + 128)},
        /* 16 / 16 = 1 column, 8 SGs -> 8 rows of 32: TILE_M 256 */
        {{16, 8, 4, 2, 3, 8}, 9, 1, 256, 4 * 3 * 8 * (256 + 16)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fw_point p;
        const int *k = cases[i].k;
        knobs6(&p, k[0], k[1], k[2], k[3], k[4], k[5]);
        fw_geometry g;
        int rc = f->geometry(wl, &p, &g, err, sizeof err);
        CHECK(rc == 0, "case %zu: %s", i, err);
        if (rc)
            continue;
        CHECK(g.grid[0] == cases[i].gx && g.grid[1] == cases[i].gy && g.grid[2] == 1,
              "case %zu grid %u,%u,%u", i, g.grid[0], g.grid[1], g.grid[2]);
        CHECK(g.group[0] == cases[i].threads && g.group[1] == 1 && g.group[2] == 1,
              "case %zu group %u", i, g.group[0]);
        CHECK(g.shared_bytes == cases[i].shared && g.dynamic_shared_bytes == 0,
              "case %zu shared %lld", i, (long long)g.shared_bytes);
    }
    /* Knob sets the kernel cannot run are refused with a reason. */
    static const int bad[][6] = {
        {24, 4, 1, 2, 2, 8},   /* TILE_N not a multiple of 8 * SG_N_TILES */
        {64, 2, 1, 1, 2, 8},   /* 8 SG columns needed, 2 SGs */
        {32, 4, 1, 1, 5, 8},   /* NUM_BUFFERS over 4 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fw_point p;
        knobs6(&p, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], bad[i][5]);
        fw_geometry g;
        err[0] = '\0';
        CHECK(f->geometry(wl, &p, &g, err, sizeof err) == -EINVAL && err[0], "bad case %zu", i);
    }
    fw_point p;
    fw_point_clear(&p);
    fw_point_set(&p, "TILE_N", 32);
    fw_geometry g;
    CHECK(f->geometry(wl, &p, &g, err, sizeof err) == -EINVAL && strstr(err, "SIMDGROUPS_PER_TG"),
          "missing knob: %s", err);
    f->workload_free(wl);
    cJSON_Delete(s);
}

/* Does `name` occur as a whole identifier in a line that is not its own #ifndef/#define default? */
static int used_outside_default(const char *src, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = strstr(src, name); p; p = strstr(p + 1, name)) {
        if ((p > src && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) ||
            isalnum((unsigned char)p[len]) || p[len] == '_')
            continue;
        const char *line = p;
        while (line > src && line[-1] != '\n')
            line--;
        while (*line == ' ')
            line++;
        if (strncmp(line, "#ifndef", 7) == 0 || strncmp(line, "#define", 7) == 0 ||
            strncmp(line, " *", 2) == 0 || strncmp(line, "/*", 2) == 0 || strncmp(line, "*", 1) == 0)
            continue;
        return 1;
    }
    return 0;
}

static void test_sources(const fw_family *f)
{
    static const char *const dialects[] = {"opencl", "cuda", "metal"};
    char err[256];
    cJSON *s = shape3(64, 64, 64);
    for (int d = 0; d < 3; d++) {
        char *src = NULL;
        int rc = f->source(dialects[d], s, &src, err, sizeof err);
        CHECK(rc == 0 && src, "%s: %s", dialects[d], err);
        if (!src)
            continue;
        char prelude[64];
        snprintf(prelude, sizeof prelude, "prelude.%s.h", dialects[d]);
        CHECK(strstr(src, prelude) != NULL, "%s source lacks its prelude", dialects[d]);
        CHECK(strstr(src, "gemm_tiled(") != NULL, "%s source lacks the entry", dialects[d]);
        for (int i = 0; i < 6; i++)
            CHECK(used_outside_default(src, knob_names[i]), "%s source never uses %s", dialects[d],
                  knob_names[i]);
        CHECK(used_outside_default(src, "FW_GEMM_SKIP_LAST_K_TILE"), "%s: test macro unused",
              dialects[d]);
        free(src);
    }
    char *src = NULL;
    CHECK(f->source("vulkan", s, &src, err, sizeof err) == -EINVAL && strstr(err, "vulkan"),
          "unknown dialect: %s", err);
    cJSON_Delete(s);
}

/* Names a prelude defines: macros (#define NAME) and functions / types starting with fw_. */
static int prelude_names(const char *text, char names[][48], int max)
{
    int n = 0;
    for (const char *p = text; *p && n < max; p++) {
        if (p != text && p[-1] != '\n')
            continue;
        const char *q = NULL;
        if (strncmp(p, "#define ", 8) == 0) {
            q = p + 8;
        } else if (strncmp(p, "typedef ", 8) == 0) {
            const char *semi = strchr(p, ';');
            q = semi;
            while (q > p && (isalnum((unsigned char)q[-1]) || q[-1] == '_'))
                q--;
            if (strncmp(q, "fw_", 3) != 0)
                continue;   /* uint, ushort: the dialect's own names, checked by compiling */
        } else if (strncmp(p, "FW_INLINE ", 10) == 0) {
            q = strchr(p, '(');
            while (q > p && (isalnum((unsigned char)q[-1]) || q[-1] == '_'))
                q--;
        } else {
            continue;
        }
        int len = 0;
        while (len < 47 && (isalnum((unsigned char)q[len]) || q[len] == '_'))
            len++;
        memcpy(names[n], q, (size_t)len);
        names[n][len] = '\0';
        n++;
    }
    return n;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_prelude_sets(void)
{
    static const char *const files[] = {"prelude.opencl.h", "prelude.cuda.h", "prelude.metal.h"};
    static char names[3][96][48];
    int n[3];
    for (int i = 0; i < 3; i++) {
        const char *t = fw_kernel_text(files[i]);
        CHECK(t != NULL, "%s is not embedded", files[i]);
        n[i] = t ? prelude_names(t, names[i], 96) : 0;
        qsort(names[i], (size_t)n[i], 48, cmp_names);
    }
    CHECK(n[0] >= 30, "the OpenCL prelude defines only %d names", n[0]);
    for (int i = 1; i < 3; i++) {
        CHECK(n[i] == n[0], "%s defines %d names, %s %d", files[i], n[i], files[0], n[0]);
        for (int j = 0; j < n[0] && j < n[i]; j++)
            CHECK(strcmp(names[0][j], names[i][j]) == 0, "%s has %s where %s has %s", files[0],
                  names[0][j], files[i], names[i][j]);
    }
    /* Every name is documented in each prelude's header comment. */
    for (int i = 0; i < 3; i++) {
        const char *t = fw_kernel_text(files[i]);
        const char *end = t ? strstr(t, "*/") : NULL;
        for (int j = 0; end && j < n[i]; j++) {
            const char *hit = strstr(t, names[i][j]);
            CHECK(hit && hit < end, "%s: %s is not documented at the top", files[i], names[i][j]);
        }
    }
}

static int count_valid(const fw_family *f, const fw_space *space, const cJSON *shape,
                       const char *device_json, const char *what)
{
    char err[512];
    cJSON *dev = cJSON_Parse(device_json);
    fw_env env;
    fw_env_clear(&env);
    fw_device_env(dev, &env);
    fw_env_add_json_ints(&env, shape);
    int64_t max_threads = 0, shared = 0;
    fw_env_get(&env, "DEVICE_MAX_THREADS", &max_threads);
    fw_env_get(&env, "DEVICE_SHARED_BYTES", &shared);
    fw_point *pts = NULL;
    size_t npts = 0;
    int rc = fw_space_expand(space, &env, 1000000, &pts, &npts, err, sizeof err);
    CHECK(rc == 0, "expand for %s: %s", what, err);
    char key[64];
    f->shape_key(shape, key, sizeof key);
    printf("gemm default space, shape %s, %s: %zu valid of %llu\n", key, what, npts,
           (unsigned long long)fw_space_size(space));

    /* Constraints and geometry must agree: a valid point has a geometry within the limits. */
    fw_workload *wl = NULL;
    CHECK(f->workload_new(shape, 3, &wl, err, sizeof err) == 0, "%s", err);
    for (size_t i = 0; wl && i < npts; i++) {
        fw_geometry g;
        rc = f->geometry(wl, &pts[i], &g, err, sizeof err);
        CHECK(rc == 0, "valid point without geometry: %s", err);
        if (rc)
            continue;
        CHECK(g.group[0] <= max_threads && g.shared_bytes <= shared, "point %zu over the limits", i);
    }
    f->workload_free(wl);
    free(pts);
    cJSON_Delete(dev);
    return (int)npts;
}

#define POCL_DEVICE "{\"limits\": {\"max_threads\": 4096, \"shared_bytes\": 4194304, " \
                    "\"simd_width\": 8, \"compute_units\": 2}}"
#define H100_DEVICE "{\"limits\": {\"max_threads\": 1024, \"shared_bytes\": 49152, " \
                    "\"simd_width\": 32, \"compute_units\": 132}}"

static void test_space(const fw_family *f)
{
    char err[512];
    cJSON *def = cJSON_Parse(f->defaults_json);
    CHECK(def != NULL, "defaults_json is not JSON");
    if (!def)
        return;
    /* The space is the knobs and constraints (as search/ takes them from the defaults). */
    cJSON *sj = cJSON_CreateObject();
    cJSON_AddItemToObject(sj, "knobs", cJSON_Duplicate(cJSON_GetObjectItem(def, "knobs"), 1));
    cJSON_AddItemToObject(sj, "constraints",
                          cJSON_Duplicate(cJSON_GetObjectItem(def, "constraints"), 1));
    fw_space space;
    int rc = fw_space_from_json(sj, &space, err, sizeof err);
    cJSON_Delete(sj);
    CHECK(rc == 0, "default space: %s", err);
    if (rc) {
        cJSON_Delete(def);
        return;
    }
    CHECK(space.nknobs == 6, "%zu knobs", space.nknobs);
    const cJSON *shapes = cJSON_GetObjectItem(def, "shapes");
    const cJSON *presets = cJSON_GetObjectItem(def, "presets");
    CHECK(cJSON_GetArraySize(shapes) >= 2 && cJSON_GetArraySize(presets) >= 3, "shapes/presets");
    const cJSON *shape;
    cJSON_ArrayForEach(shape, shapes) {
        CHECK(f->shape_check(shape, err, sizeof err) == 0, "default shape: %s", err);
        int pocl = count_valid(f, &space, shape, POCL_DEVICE, "PoCL limits (4096 threads, 4 MiB)");
        int h100 = count_valid(f, &space, shape, H100_DEVICE, "H100 limits (1024 threads, 48 KiB)");
        CHECK(pocl >= 100, "only %d valid variants with PoCL's limits", pocl);
        CHECK(h100 >= 100, "only %d valid variants with an H100's limits", h100);
        /* Every preset is a valid point for every default shape on both devices. */
        const char *devs[2] = {POCL_DEVICE, H100_DEVICE};
        for (int d = 0; d < 2; d++) {
            cJSON *dev = cJSON_Parse(devs[d]);
            fw_env env;
            fw_env_clear(&env);
            fw_device_env(dev, &env);
            fw_env_add_json_ints(&env, shape);
            const cJSON *pr;
            int i = 0;
            cJSON_ArrayForEach(pr, presets) {
                fw_point p;
                char why[256] = "";
                CHECK(fw_point_from_json(pr, &p, err, sizeof err) == 0, "preset %d: %s", i, err);
                CHECK(fw_space_check_point(&space, &p, err, sizeof err) == 0, "preset %d: %s", i, err);
                CHECK(fw_space_valid(&space, &p, &env, why, sizeof why) == 1, "preset %d invalid: %s", i,
                      why);
                i++;
            }
            cJSON_Delete(dev);
        }
    }
    /* The tiny shape the worker test uses still has a space. */
    cJSON *tiny = shape3(33, 17, 19);
    int n = count_valid(f, &space, tiny, POCL_DEVICE, "PoCL limits");
    CHECK(n >= 10, "only %d variants for 33x17x19", n);
    cJSON_Delete(tiny);
    fw_space_release(&space);
    cJSON_Delete(def);
}

int main(void)
{
    const fw_family *f = fw_family_find("gemm");
    CHECK(f != NULL && f->version == FW_FAMILY_VERSION, "gemm is not registered");
    if (!f)
        return 1;
    CHECK(f->defaults_json && f->shape_check && f->shape_key && f->source && f->workload_new &&
          f->workload_free && f->geometry, "gemm's table has a hole");
    test_shapes(f);
    test_workload(f);
    test_threaded_reference(f);
    test_geometry(f);
    test_sources(f);
    test_prelude_sets();
    test_space(f);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
