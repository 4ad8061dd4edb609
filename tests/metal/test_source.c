/* test_source.c - users' own kernel sources (variants/fw_source.c): include inlining (nested,
 * relative to the including file, #pragma once, depth limit, cycle, missing file, comments and
 * system includes untouched, files never modified) and the knob guard check (guarded, unguarded,
 * unmentioned, aliased, commented-out guard). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fw_cli.h"
#include "fw_job.h"
#include "fw_source.h"
#include "fw_util.h"

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

static char dir[256];

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static char *path_of(const char *rel)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return path;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void test_nested(void)
{
    char sub[512];
    snprintf(sub, sizeof sub, "%s/inc", dir);
    mkdir(sub, 0700);
    put("main.metal",
        "#include <metal_stdlib>\n"
        "/* #include \"commented.h\" is not an include */\n"
        "// #include \"also_not.h\"\n"
        "#include \"inc/b.h\"\n"
        "  #  include \"inc/once.h\"\n"
        "#include \"inc/once.h\"\n"
        "kernel void k() { MAIN_BODY; }\n");
    put("inc/b.h", "#define FROM_B 1\n#include \"c.h\"\n#define AFTER_C 1\n");
    put("inc/c.h", "#define FROM_C 1\n");
    put("inc/once.h", "#pragma once\r\n#define ONCE_ONLY 1\r\n");
    const char *before = "#define FROM_B 1\n#include \"c.h\"\n#define AFTER_C 1\n";
    char *text = NULL;
    char err[512] = "";
    int rc = fw_source_inline_file(path_of("main.metal"), &text, err, sizeof err);
    CHECK(rc == 0 && text, "inline: %d %s", rc, err);
    if (!text)
        return;
    CHECK(strstr(text, "#include <metal_stdlib>\n") != NULL, "system include untouched");
    CHECK(strstr(text, "commented.h") && strstr(text, "also_not.h"), "commented includes kept as text");
    CHECK(count(text, "#define FROM_B 1") == 1 && count(text, "#define FROM_C 1") == 1, "nested files inlined:\n%s", text);
    CHECK(strstr(text, "#include \"") == NULL || strstr(text, "#include \"commented.h\" is not") != NULL,
          "no local include left:\n%s", text);
    CHECK(count(text, "#include \"inc/b.h\"") == 0 && count(text, "#include \"c.h\"") == 0, "includes replaced");
    CHECK(count(text, "#define ONCE_ONLY 1") == 1, "#pragma once file inlined once:\n%s", text);
    CHECK(strstr(text, "#pragma once") == NULL, "#pragma once dropped");
    /* c.h was found relative to inc/b.h, not to main.metal; markers name the files and lines */
    char marker[600];
    snprintf(marker, sizeof marker, "#line 1 \"%s/inc/b.h\"\n#define FROM_B 1\n", dir);
    CHECK(strstr(text, marker) != NULL, "marker for b.h:\n%s", text);
    snprintf(marker, sizeof marker, "#line 3 \"%s/inc/b.h\"\n#define AFTER_C 1\n", dir);
    CHECK(strstr(text, marker) != NULL, "back in b.h at line 3:\n%s", text);
    snprintf(marker, sizeof marker, "#line 5 \"%s/main.metal\"\n", dir);
    CHECK(strstr(text, marker) != NULL, "back in main.metal at line 5:\n%s", text);
    CHECK(strstr(text, "kernel void k() { MAIN_BODY; }\n") != NULL, "body kept");
    free(text);
    /* the CLI's --source FILE sends the same inlined text */
    char *cli_text = NULL;
    CHECK(fw_cli_source_load(path_of("main.metal"), &cli_text, err, sizeof err) == 0 && cli_text &&
          strstr(cli_text, "#define FROM_C 1") && !strstr(cli_text, "#include \"inc/b.h\""),
          "fw_cli_source_load inlines: %s", err);
    free(cli_text);
    cli_text = NULL;
    CHECK(fw_cli_source_load(path_of("nope.metal"), &cli_text, err, sizeof err) < 0 && !cli_text &&
          strstr(err, "--source") && strstr(err, "nope.metal"), "CLI error: %s", err);
    /* the files on disk are unchanged */
    char *b = NULL;
    size_t n;
    CHECK(fw_read_file(path_of("inc/b.h"), &b, &n, err, sizeof err) == 0 && b && strcmp(b, before) == 0,
          "inc/b.h unchanged");
    free(b);
}

static void test_errors(void)
{
    char *text = NULL;
    char err[1024] = "";
    put("missing.metal", "int x;\n#include \"nowhere.h\"\n");
    CHECK(fw_source_inline_file(path_of("missing.metal"), &text, err, sizeof err) == -ENOENT && !text,
          "missing include");
    CHECK(strstr(err, "missing.metal:2:") && strstr(err, "nowhere.h"), "names file, line, include: %s", err);

    CHECK(fw_source_inline_file(path_of("absent.metal"), &text, err, sizeof err) == -ENOENT && !text,
          "missing top file");
    CHECK(strstr(err, "absent.metal") != NULL, "message: %s", err);

    put("x.h", "#include \"y.h\"\n");
    put("y.h", "int y;\n#include \"x.h\"\n");
    put("cyc.metal", "#include \"x.h\"\n");
    CHECK(fw_source_inline_file(path_of("cyc.metal"), &text, err, sizeof err) == -ELOOP && !text, "cycle");
    CHECK(strstr(err, "include cycle") && strstr(err, "x.h -> ") && strstr(err, "y.h -> "), "message: %s", err);

    /* a file including itself */
    put("self.h", "#include \"self.h\"\n");
    CHECK(fw_source_inline_file(path_of("self.h"), &text, err, sizeof err) == -ELOOP && !text, "self include");

    /* 16 levels of nesting are fine, 17 are not */
    for (int i = 0; i <= 17; i++) {
        char name[32], body[64];
        snprintf(name, sizeof name, "d%d.h", i);
        if (i < 17)
            snprintf(body, sizeof body, "#include \"d%d.h\"\n", i + 1);
        else
            snprintf(body, sizeof body, "int deepest;\n");
        put(name, body);
    }
    CHECK(fw_source_inline_file(path_of("d1.h"), &text, err, sizeof err) == 0 && text, "16 levels: %s", err);
    CHECK(text && strstr(text, "int deepest;"), "deepest inlined");
    free(text);
    text = NULL;
    CHECK(fw_source_inline_file(path_of("d0.h"), &text, err, sizeof err) == -ELOOP && !text, "17 levels");
    CHECK(strstr(err, "deeper than 16") && strstr(err, "d17.h"), "message: %s", err);
}

static fw_space space_of(const char *json)
{
    fw_space s;
    memset(&s, 0, sizeof s);
    cJSON *j = cJSON_Parse(json);
    char err[256];
    if (!j || fw_space_from_json(j, &s, err, sizeof err) < 0) {
        fprintf(stderr, "bad space %s\n", json);
        exit(1);
    }
    cJSON_Delete(j);
    return s;
}

static void test_guards(void)
{
    const char *src =
        "#ifndef TILE_N\n#define TILE_N 32\n#endif\n"
        "#if !defined(MOE_TILE_N)\n#define MOE_TILE_N 64\n#endif\n"
        "#if !defined SIMD_CFG\n#define SIMD_CFG 4\n#endif\n"
        "#define NUM_BUFFERS 2\n"
        "/* #ifndef COMMENTED\n#define COMMENTED 1\n#endif */\n"
        "#  ifndef   SPACED  \n#define SPACED 1\n#endif\n"
        "#ifndef TILE_NX\n#endif\n"
        "int use = TILE_N + MOE_TILE_N + SIMD_CFG + NUM_BUFFERS + COMMENTED + SPACED + TILE_NN;\n";
    CHECK(fw_source_has_guard(src, "TILE_N") == 1, "#ifndef");
    CHECK(fw_source_has_guard(src, "MOE_TILE_N") == 1, "#if !defined(X)");
    CHECK(fw_source_has_guard(src, "SIMD_CFG") == 1, "#if !defined X");
    CHECK(fw_source_has_guard(src, "SPACED") == 1, "spaces around # and the name");
    CHECK(fw_source_has_guard(src, "NUM_BUFFERS") == 0, "unguarded #define");
    CHECK(fw_source_has_guard(src, "COMMENTED") == 0, "guard inside a comment does not count");
    CHECK(fw_source_has_guard(src, "TILE_NN") == 0, "a guard of TILE_N is not one of TILE_NN");
    CHECK(fw_source_has_guard("#if !defined(A) && B\n", "A") == 1, "first operand guards");
    CHECK(fw_source_has_guard("#ifndef CRLF\r\n#define CRLF 1\r\n#endif\r\n", "CRLF") == 1, "CRLF line ends");

    char err[512] = "";
    fw_space s = space_of("{\"knobs\": {\"TILE_N\": [32, 64], \"SIMDGROUPS_PER_TG\": [2, 4]}}");
    cJSON *aliases = cJSON_Parse("{\"SIMDGROUPS_PER_TG\": \"SIMD_CFG\"}");
    CHECK(fw_source_check_knobs(src, "k.metal", &s, aliases, err, sizeof err) == 0, "aliased and guarded: %s", err);
    cJSON *aliases2 = cJSON_Parse("{\"TILE_N\": \"MOE_TILE_N\", \"SIMDGROUPS_PER_TG\": \"SIMD_CFG\"}");
    CHECK(fw_source_check_knobs(src, "k.metal", &s, aliases2, err, sizeof err) == 0, "both aliased: %s", err);
    /* without the alias SIMDGROUPS_PER_TG is not in the source at all */
    CHECK(fw_source_check_knobs(src, "k.metal", &s, NULL, err, sizeof err) == -EINVAL, "unmentioned knob");
    CHECK(strstr(err, "SIMDGROUPS_PER_TG") && strstr(err, "never mentions") && strstr(err, "aliases"),
          "message: %s", err);
    fw_space_release(&s);

    fw_space s2 = space_of("{\"knobs\": {\"NUM_BUFFERS\": [1, 2]}}");
    CHECK(fw_source_check_knobs(src, "k.metal", &s2, NULL, err, sizeof err) == -EINVAL, "unguarded knob");
    CHECK(strstr(err, "#ifndef NUM_BUFFERS") && strstr(err, "k.metal"), "names the macro and file: %s", err);
    fw_space_release(&s2);

    fw_space s3 = space_of("{\"knobs\": {\"NUM_BUFFERS\": [1, 2]}}");
    cJSON *aliases3 = cJSON_Parse("{\"NUM_BUFFERS\": \"COMMENTED\"}");
    CHECK(fw_source_check_knobs(src, NULL, &s3, aliases3, err, sizeof err) == -EINVAL, "commented-out guard");
    CHECK(strstr(err, "macro COMMENTED") && strstr(err, "#ifndef COMMENTED"), "alias named: %s", err);
    fw_space_release(&s3);
    cJSON_Delete(aliases);
    cJSON_Delete(aliases2);
    cJSON_Delete(aliases3);
}

/* fw_spec_resolve wires the guard check in, takes the family from source.workload, and says which
 * backend "auto" means here. */
static void test_resolve(void)
{
    const char *good =
        "{\"source\": {\"text\": \"#ifndef MY_TN\\n#define MY_TN 8\\n#endif\\n\", \"name\": \"k.cl\","
        " \"workload\": \"gemm\"}, \"aliases\": {\"TILE_N\": \"MY_TN\"}, \"backend\": \"auto\","
        " \"space\": {\"knobs\": {\"TILE_N\": [16, 32]}}, \"shapes\": [{\"M\": 8, \"N\": 8, \"K\": 8}], \"seed\": 1}";
    cJSON *user = cJSON_Parse(good), *res = NULL;
    char err[1024] = "";
    CHECK(user && fw_spec_resolve(user, &res, err, sizeof err) == 0 && res, "resolve: %s", err);
    if (res) {
        CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(res, "family")), "gemm") == 0, "family from workload");
#if defined(__APPLE__)
        CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(res, "backend")), "metal") == 0, "auto is metal on macOS");
#else
        CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(res, "backend")), "opencl") == 0, "auto is opencl here");
#endif
    }
    cJSON_Delete(res);
    res = NULL;
    /* the same without the alias: TILE_N is not in the text */
    cJSON_DeleteItemFromObject(user, "aliases");
    CHECK(fw_spec_resolve(user, &res, err, sizeof err) == -EINVAL && !res, "unmentioned knob refused");
    CHECK(strstr(err, "knob TILE_N") && strstr(err, "k.cl"), "message: %s", err);
    cJSON_Delete(user);

    const char *bad_wl = "{\"family\": \"moe_swiglu\", \"source\": {\"text\": \"x\", \"workload\": \"gemm\"}}";
    user = cJSON_Parse(bad_wl);
    CHECK(user && fw_spec_resolve(user, &res, err, sizeof err) == -EINVAL && !res, "workload vs family");
    CHECK(strstr(err, "workload") && strstr(err, "moe_swiglu"), "message: %s", err);
    cJSON_Delete(user);
}

static void cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fw-source-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_nested();
    test_errors();
    test_guards();
    test_resolve();
    cleanup();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("fw_source: inlining and guard checks pass\n");
    return 0;
}
