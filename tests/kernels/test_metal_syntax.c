/* Syntax-check the gemm and moe_swiglu families' Metal sources, the prelude self-test and the
 * examples' Metal ports (examples/NAME/NAME.metal, at every point of the spec's knobs) as C++ with a
 * host compiler and a stand-in metal_stdlib (tests/kernels/metal_stub): Linux has no Metal
 * compiler, so this is the check CI can make. Several variants must parse; a broken knob value must
 * fail. usage: test_metal_syntax CXX STUB_DIR [EXAMPLES_DIR] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fw_family.h"
#include "fw_kernel_text.h"
#include "fw_util.h"
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

static const char *cxx, *stub;
static char dir[] = "/tmp/fw-metal-XXXXXX";

static int check_syntax(const char *text, const char *defines)
{
    char path[256], cmd[2048];
    snprintf(path, sizeof path, "%s/k.metal.cpp", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "'%s' -x c++ -std=c++17 -fsyntax-only -Wall -Werror -Wno-unknown-attributes "
             "-Wno-unused-function -I '%s' %s '%s' 2>&1",
             cxx, stub, defines, path);
    int st = system(cmd);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* examples/NAME/NAME.metal parses at every point of examples/NAME/spec.json's knobs, names the
 * spec's entry and reference entry as kernels, and fails with a knob defined empty. */
static void check_example(const char *dir_ex, const char *name)
{
    char path[1024], err[256], *text = NULL, *src = NULL;
    size_t n;
    snprintf(path, sizeof path, "%s/%s/spec.json", dir_ex, name);
    CHECK(fw_read_file(path, &text, &n, err, sizeof err) == 0, "%s", err);
    cJSON *spec = cJSON_Parse(text ? text : "");
    free(text);
    snprintf(path, sizeof path, "%s/%s/%s.metal", dir_ex, name, name);
    CHECK(fw_read_file(path, &src, &n, err, sizeof err) == 0, "%s", err);
    const cJSON *knobs = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "space"), "knobs");
    const char *entry = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(spec, "source"), "entry"));
    const char *ref = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec, "workload"), "reference"), "entry"));
    int nk = cJSON_GetArraySize(knobs), idx[8] = {0}, points = 0;
    if (!src || !entry || !ref || nk < 1 || nk > 8) {
        CHECK(0, "%s: no source, entry, reference entry or knobs", name);
        free(src);
        cJSON_Delete(spec);
        return;
    }
    /* The stand-in defines threadgroup away (an address space); the [[threadgroup(k)]] attribute of a
     * local-memory parameter would then read [[(k)]], so it is renamed to an attribute the compiler
     * ignores, of the same length. */
    for (char *q = strstr(src, "[[threadgroup("); q; q = strstr(q, "[[threadgroup("))
        memcpy(q, "[[fw_tg_index(", 14);
    char want[160];
    snprintf(want, sizeof want, "kernel void %s(", entry);
    CHECK(strstr(src, want) != NULL, "%s has no '%s'", path, want);
    snprintf(want, sizeof want, "kernel void %s(", ref);
    CHECK(strstr(src, want) != NULL, "%s has no '%s'", path, want);
    for (int d = 0; d >= 0; points++) {
        char defs[512] = "";
        size_t used = 0;
        int k = 0;
        for (const cJSON *kn = knobs->child; kn; kn = kn->next, k++)
            used += (size_t)snprintf(defs + used, sizeof defs - used, "-D%s=%d ", kn->string,
                                     (int)cJSON_GetArrayItem(kn, idx[k])->valuedouble);
        CHECK(check_syntax(src, defs) == 0, "%s does not parse with '%s'", path, defs);
        for (d = nk - 1; d >= 0; d--) {   /* next point: the last knob fastest */
            if (++idx[d] < cJSON_GetArraySize(cJSON_GetArrayItem(knobs, d)))
                break;
            idx[d] = 0;
        }
    }
    snprintf(want, sizeof want, "-D%s=", knobs->child->string);
    CHECK(check_syntax(src, want) != 0, "%s parsed with %s empty", path, knobs->child->string);
    printf("%s.metal: %d points parse\n", name, points);
    free(src);
    cJSON_Delete(spec);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CXX STUB_DIR\n", argv[0]);
        return 2;
    }
    cxx = argv[1];
    stub = argv[2];
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    const fw_family *f = fw_family_find("gemm");
    char err[256], *src = NULL;
    cJSON *shape = cJSON_Parse("{\"M\": 8, \"N\": 8, \"K\": 8}");
    CHECK(f && f->source("metal", shape, &src, err, sizeof err) == 0, "%s", err);
    if (src) {
        static const char *const ok[] = {
            "",
            "-DTILE_N=64 -DSIMDGROUPS_PER_TG=8 -DSG_M_TILES=2 -DSG_N_TILES=2 -DNUM_BUFFERS=2 -DTILE_K=16",
            "-DTILE_N=128 -DSIMDGROUPS_PER_TG=8 -DSG_M_TILES=1 -DSG_N_TILES=4 -DNUM_BUFFERS=4 -DTILE_K=32",
            "-DTILE_N=16 -DSIMDGROUPS_PER_TG=2 -DSG_M_TILES=1 -DSG_N_TILES=1 -DNUM_BUFFERS=1 -DTILE_K=8 "
            "-DFW_GEMM_SKIP_LAST_K_TILE=1",
        };
        for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
            CHECK(check_syntax(src, ok[i]) == 0, "the Metal gemm source does not parse with '%s'", ok[i]);
        CHECK(check_syntax(src, "-DTILE_N=24 -DSG_N_TILES=2") != 0, "TILE_N=24 with SG_N_TILES=2 parsed");
        free(src);
    }
    /* moe_swiglu's Metal source (v2 and the v3 decode kernel with every v3 knob) parses too. */
    f = fw_family_find("moe_swiglu");
    src = NULL;
    CHECK(f && f->source("metal", NULL, &src, err, sizeof err) == 0, "%s", err);
    if (src) {
        static const char *const moe_ok[] = {
            "",
            "-DTILE_N=16 -DSIMDGROUPS_PER_TG=8 -DSG_M_TILES=2 -DNUM_BUFFERS=3 -DV3=1",
            "-DTILE_N=64 -DSIMDGROUPS_PER_TG=4 -DSG_N_TILES=4 -DV3=1 -DSPLIT_K=4 -DSIDE=1 -DGRID_COPIES=32",
            "-DTILE_N=32 -DSIMDGROUPS_PER_TG=8 -DSG_N_TILES=4 -DV3=1 -DSPLIT_K=8 -DP2_SPREAD=1 -DMOE_MODE=0",
            "-DTILE_N=32 -DSIMDGROUPS_PER_TG=16 -DV3=3 -DSIDE=1 -DPREFETCH=1 -DMOE_MODE=0",   /* the tensor-core decode */
            "-DTILE_N=16 -DSIMDGROUPS_PER_TG=8 -DNUM_BUFFERS=1 -DV3=3 -DMOE_MODE=0",
        };
        for (size_t i = 0; i < sizeof moe_ok / sizeof *moe_ok; i++)
            CHECK(check_syntax(src, moe_ok[i]) == 0, "the Metal moe_swiglu source does not parse with '%s'", moe_ok[i]);
        CHECK(check_syntax(src, "-DV3=1 -DGRID_COPIES=7") != 0, "GRID_COPIES=7 parsed");
        CHECK(check_syntax(src, "-DV3=3 -DPAIR=2 -DMOE_MODE=0") != 0, "V3=3 with PAIR=2 parsed");
        free(src);
    }
    /* The prelude self-test body with a Metal entry point. */
    static const char entry[] =
        "FW_KERNEL void selftest(FW_GLOBAL const fw_half *h [[buffer(0)]],\n"
        "                        FW_GLOBAL const uchar *u8 [[buffer(1)]],\n"
        "                        FW_GLOBAL float *out [[buffer(2)]], FW_GLOBAL float *acc [[buffer(3)]],\n"
        "                        FW_GLOBAL fw_half *hout [[buffer(4)]],\n"
        "                        uint3 tg [[threadgroup_position_in_grid]],\n"
        "                        uint tid [[thread_index_in_threadgroup]])\n"
        "{\n"
        "    FW_LOCAL_ARRAY(float, scratch, 64);\n"
        "    selftest_body(h, u8, out, acc, hout, scratch, tid, tg.x);\n"
        "}\n";
    const char *prelude = fw_kernel_text("prelude.metal.h");
    size_t len = strlen(prelude) + strlen(FW_PRELUDE_SELFTEST_BODY) + strlen(entry) + 1;
    char *self = malloc(len);
    snprintf(self, len, "%s%s%s", prelude, FW_PRELUDE_SELFTEST_BODY, entry);
    CHECK(check_syntax(self, "") == 0, "the prelude self-test does not parse as Metal-flavoured C++");
    free(self);
    static const char *const ports[] = {"vadd", "transpose", "reduction_local"};
    for (size_t i = 0; argc > 3 && i < sizeof ports / sizeof *ports; i++)
        check_example(argv[3], ports[i]);
    cJSON_Delete(shape);
    rmdir(dir);
    if (!failures)
        printf("Metal sources parse with %s and the metal_stdlib stand-in\n", cxx);
    return failures ? 1 : 0;
}
