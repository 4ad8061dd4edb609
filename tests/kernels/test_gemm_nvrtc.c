/* Compile the gemm family's CUDA source with NVRTC for several variants (no GPU needed): every preset
 * of the default space and a few corner points compile for compute_90 without a warning in the log;
 * a broken knob value fails to compile with a log that names the knob. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nvrtc.h>

#include "fw_family.h"
#include "fw_kernel_text.h"
#include "fw_test_nvrtc.h"
#include "fw_variants.h"
#include "prelude_selftest.h"

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

/* Compile src with -D options from the point (plus extra); returns the nvrtc result and the log. */
static nvrtcResult compile(const char *src, const fw_point *p, const char *extra, char **log)
{
    char defs[FW_MAX_KNOBS + 1][96];
    const char *opts[FW_MAX_KNOBS + 3];
    int n = 0;
    opts[n++] = "--gpu-architecture=compute_90";
    for (size_t i = 0; i < p->n; i++) {
        snprintf(defs[i], sizeof defs[i], "-D%s=%lld", p->kv[i].name, (long long)p->kv[i].value);
        opts[n++] = defs[i];
    }
    if (extra)
        opts[n++] = extra;
    char *text = NULL;
    nvrtcResult r = fw_test_nvrtc(src, "gemm.cu", opts, n, log, &text);
    if (r == NVRTC_SUCCESS) {
        CHECK(text && strlen(text) > 100, "no PTX");
        if (text)
            CHECK(strstr(text, ".entry gemm_tiled") || strstr(text, ".entry selftest"),
                  "PTX lacks an unmangled entry (gemm_tiled or selftest)");
    }
    free(text);
    return r;
}

static void set6(fw_point *p, int tile_n, int sgs, int sgm, int sgn, int nbuf, int tile_k)
{
    fw_point_clear(p);
    fw_point_set(p, "TILE_N", tile_n);
    fw_point_set(p, "SIMDGROUPS_PER_TG", sgs);
    fw_point_set(p, "SG_M_TILES", sgm);
    fw_point_set(p, "SG_N_TILES", sgn);
    fw_point_set(p, "NUM_BUFFERS", nbuf);
    fw_point_set(p, "TILE_K", tile_k);
}

int main(void)
{
    const fw_family *f = fw_family_find("gemm");
    char err[256], *src = NULL, *log = NULL;
    cJSON *shape = cJSON_Parse("{\"M\": 200, \"N\": 136, \"K\": 72}");
    if (!f || f->source("cuda", shape, &src, err, sizeof err) != 0) {
        fprintf(stderr, "no gemm CUDA source: %s\n", err);
        return 1;
    }
    cJSON *def = cJSON_Parse(f->defaults_json);
    const cJSON *pr;
    int compiled = 0;
    cJSON_ArrayForEach(pr, cJSON_GetObjectItem(def, "presets")) {
        fw_point p;
        CHECK(fw_point_from_json(pr, &p, err, sizeof err) == 0, "%s", err);
        nvrtcResult r = compile(src, &p, NULL, &log);
        CHECK(r == NVRTC_SUCCESS, "preset %d: %s\n%s", compiled, nvrtcGetErrorString(r), log);
        CHECK(!log || !strstr(log, "warning"), "preset %d compiles with warnings:\n%s", compiled, log);
        free(log);
        compiled++;
    }
    CHECK(compiled >= 3, "only %d presets", compiled);

    /* Corners: largest staging (NUM_BUFFERS 4, TILE_K 32), a single SIMD group, the skip macro. */
    fw_point p;
    set6(&p, 128, 8, 1, 4, 4, 32);
    CHECK(compile(src, &p, NULL, &log) == NVRTC_SUCCESS, "corner 1:\n%s", log);
    free(log);
    set6(&p, 8, 1, 4, 1, 1, 8);
    CHECK(compile(src, &p, NULL, &log) == NVRTC_SUCCESS, "corner 2:\n%s", log);
    free(log);
    set6(&p, 32, 4, 2, 2, 2, 16);
    CHECK(compile(src, &p, "-DFW_GEMM_SKIP_LAST_K_TILE=1", &log) == NVRTC_SUCCESS, "skip macro:\n%s", log);
    free(log);

    /* Broken values: a compile error whose log names the offending knob. */
    set6(&p, 24, 4, 1, 2, 2, 16);   /* TILE_N not a multiple of 8 * SG_N_TILES */
    nvrtcResult r = compile(src, &p, NULL, &log);
    CHECK(r == NVRTC_ERROR_COMPILATION && log && strstr(log, "TILE_N"), "TILE_N=24 gave %s:\n%s",
          nvrtcGetErrorString(r), log);
    free(log);
    set6(&p, 32, 4, 2, 2, 7, 16);   /* NUM_BUFFERS out of range */
    r = compile(src, &p, NULL, &log);
    CHECK(r == NVRTC_ERROR_COMPILATION && log && strstr(log, "NUM_BUFFERS"), "NUM_BUFFERS=7 gave %s:\n%s",
          nvrtcGetErrorString(r), log);
    free(log);
    r = compile(src, &p, "-DTILE_K=abc", &log);
    CHECK(r == NVRTC_ERROR_COMPILATION && log && log[0], "TILE_K=abc gave %s", nvrtcGetErrorString(r));
    free(log);

    /* The prelude self-test kernel (run on PoCL by test_prelude_opencl) compiles for CUDA too. */
    static const char entry[] =
        "FW_KERNEL void selftest(const fw_half *h, const uchar *u8, float *out, float *acc, fw_half *hout)\n"
        "{\n"
        "    FW_LOCAL_ARRAY(float, scratch, 64);\n"
        "    selftest_body(h, u8, out, acc, hout, scratch, threadIdx.x, blockIdx.x);\n"
        "}\n";
    const char *prelude = fw_kernel_text("prelude.cuda.h");
    size_t len = strlen(prelude) + strlen(FW_PRELUDE_SELFTEST_BODY) + strlen(entry) + 1;
    char *self = malloc(len);
    snprintf(self, len, "%s%s%s", prelude, FW_PRELUDE_SELFTEST_BODY, entry);
    fw_point_clear(&p);
    r = compile(self, &p, NULL, &log);
    CHECK(r == NVRTC_SUCCESS && !strstr(log, "warning"), "prelude self-test: %s\n%s",
          nvrtcGetErrorString(r), log);
    free(log);
    free(self);

    printf("compiled %d presets and 3 corner variants with NVRTC; broken values refused\n", compiled);
    free(src);
    cJSON_Delete(def);
    cJSON_Delete(shape);
    return failures ? 1 : 0;
}
