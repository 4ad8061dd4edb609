/* Constant override (issue 13): finding declarations in the styles of metal-marlin's MoE file,
 * the errors a bind gives before a job, and the text each planned variant compiles.
 * argv[1] = tests/variants/data/moe_styles.metal. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw_check.h"
#include "fw_job.h"
#include "fw_source.h"
#include "fw_transform.h"
#include "fw_util.h"

static char *src;

static void check_decl(const char *name, size_t count, int line, int literal, long long value, const char *style)
{
    fw_const_decl d[FW_CONST_MAX];
    size_t n = 99;
    CHECK_INT(fw_const_find(src, name, d, FW_CONST_MAX, &n), 0);
    if (n != count)
        fprintf(stderr, "  (for %s)\n", name);
    CHECK_INT(n, count);
    if (n < 1 || count < 1)
        return;
    CHECK_INT(d[0].line, line);
    CHECK_INT(d[0].literal, literal);
    if (literal)
        CHECK_INT(d[0].value, value);
    CHECK_STR(d[0].style, style);
}

static void test_find(void)
{
    check_decl("MOE_TILE_N", 1, 10, 1, 64, "constexpr");         /* the comment on line 11 is no declaration */
    check_decl("MOE_TILE_N_LARGE", 1, 11, 1, 128, "constexpr");
    check_decl("MOE_TILE_K", 1, 12, 1, 16, "constexpr");         /* 16u */
    check_decl("DECODE_TILE_N", 1, 13, 1, 64, "constexpr");      /* 0x40 */
    check_decl("DECODE_THREADS", 1, 15, 1, 128, "constexpr");    /* line 14 is commented out */
    check_decl("C_STYLE_TILE", 1, 16, 1, 32, "const");
    check_decl("DEFINE_TILE", 1, 17, 1, 8, "#define");
    check_decl("MOE_SIMDGROUPS_CONFIG", 1, 7, 1, 4, "#define");
    check_decl("DERIVED", 1, 18, 0, 0, "constexpr");
    check_decl("DUP_TILE", 2, 20, 1, 64, "constexpr");
    check_decl("MISSING_TILE", 0, 0, 0, 0, NULL);                /* a kernel parameter, not a constant */
    fw_const_decl d[1];
    size_t n;
    CHECK_INT(fw_const_find(src, "not an identifier", d, 1, &n), -EINVAL);
}

static fw_space space2(void)
{
    cJSON *j = cJSON_Parse("{\"knobs\": {\"TILE_N\": [64, 128], \"SIMDGROUPS_PER_TG\": [4, 8]}}");
    fw_space s;
    char err[256];
    CHECK_INT(fw_space_from_json(j, &s, err, sizeof err), 0);
    cJSON_Delete(j);
    return s;
}

static int bind_err(const char *binds_json, const char *aliases_json, char *err, size_t errlen)
{
    fw_space s = space2();
    cJSON *b = cJSON_Parse(binds_json), *a = aliases_json ? cJSON_Parse(aliases_json) : NULL;
    err[0] = '\0';
    int rc = fw_binds_check(src, "moe_styles.metal", b, &s, a, err, errlen);
    cJSON_Delete(b);
    cJSON_Delete(a);
    fw_space_release(&s);
    return rc;
}

static void test_list(void)
{
    fw_const_decl d[32];
    char names[32][FW_NAME_MAX];
    size_t n;
    CHECK_INT(fw_const_list(src, d, names, 32, &n), 0);
    /* literal declarations only: DERIVED (an expression), local and MISSING_TILE are not listed */
    static const char *const want[] = {"MOE_SIMDGROUPS_CONFIG", "MOE_TILE_N", "MOE_TILE_N_LARGE", "MOE_TILE_K",
                                       "DECODE_TILE_N", "DECODE_THREADS", "C_STYLE_TILE", "DEFINE_TILE", "DUP_TILE",
                                       "DUP_TILE"};
    CHECK_INT(n, 10);
    for (size_t i = 0; i < n && i < 10; i++)
        CHECK_STR(names[i], want[i]);
    CHECK_INT(d[9].line, 22);
    CHECK_INT(d[9].value, 32);
}

static void test_check_errors(void)
{
    char err[512];
    CHECK_INT(bind_err("{\"TILE_N\": \"MOE_TILE_N\"}", NULL, err, sizeof err), 0);
    CHECK_INT(bind_err("{\"TILE_N\": \"DUP_TILE\"}", NULL, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "bind TILE_N -> DUP_TILE: moe_styles.metal declares DUP_TILE 2 times (lines 20, 22)");
    CHECK_INT(bind_err("{\"TILE_N\": \"MISSING_TILE\"}", NULL, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "moe_styles.metal has no declaration of MISSING_TILE");
    CHECK_HAS(err, "it is mentioned on lines 27, 34");
    CHECK_INT(bind_err("{\"TILE_N\": \"NOWHERE_AT_ALL\"}", NULL, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "mentioned") == NULL);
    CHECK_INT(bind_err("{\"TILE_N\": \"DERIVED\"}", NULL, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "declaration of DERIVED on line 18 has the value 'MOE_TILE_N * 2', not an integer literal");
    CHECK_INT(bind_err("{\"TILE_K\": \"MOE_TILE_K\"}", NULL, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "bind for unknown knob 'TILE_K'");
    CHECK_INT(bind_err("{\"TILE_N\": \"MOE_TILE_N\"}", "{\"TILE_N\": \"MOE_TILE_N\"}", err, sizeof err), -EINVAL);
    CHECK_HAS(err, "both aliased to a macro and bound to MOE_TILE_N");
    CHECK_INT(bind_err("{\"TILE_N\": \"MOE_TILE_N\", \"SIMDGROUPS_PER_TG\": \"MOE_TILE_N\"}", NULL, err, sizeof err),
              -EINVAL);
    CHECK_HAS(err, "both bound to constant MOE_TILE_N");
    CHECK_INT(bind_err("{\"TILE_N\": 64}", NULL, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "must name a constant");
}

/* A spec for the test file: TILE_N bound, SIMDGROUPS_PER_TG through the guarded macro. */
static cJSON *spec_with(const char *binds_json)
{
    cJSON *u = cJSON_Parse("{\"family\": \"gemm\", \"seed\": 7, \"strategy\": \"grid\","
                           " \"shapes\": [{\"M\": 64, \"N\": 64, \"K\": 64}],"
                           " \"space\": {\"knobs\": {\"TILE_N\": [64, 128, 32], \"SIMDGROUPS_PER_TG\": [4, 8]}},"
                           " \"aliases\": {\"SIMDGROUPS_PER_TG\": \"MOE_SIMDGROUPS_CONFIG\"}}");
    cJSON *s = cJSON_AddObjectToObject(u, "source");
    cJSON_AddStringToObject(s, "text", src);
    cJSON_AddStringToObject(s, "name", "moe_styles.metal");
    cJSON_AddStringToObject(s, "entry", "moe_decode");
    if (binds_json)
        cJSON_AddItemToObject(u, "binds", cJSON_Parse(binds_json));
    return u;
}

/* The text of line `line` (from 1). */
static void line_of(const char *text, int line, char *buf, size_t len)
{
    const char *p = text;
    for (int i = 1; i < line && p; i++) {
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    buf[0] = '\0';
    if (!p)
        return;
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n >= len)
        n = len - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
}

static void test_spec_and_plan(void)
{
    char err[512];
    cJSON *res = NULL;

    /* Without the bind, the knob reaches no code: refused as before. */
    cJSON *u = spec_with(NULL);
    CHECK_INT(fw_spec_resolve(u, &res, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "never mentions TILE_N");
    cJSON_Delete(u);

    /* A duplicate or missing declaration is refused before the job, naming lines. */
    u = spec_with("{\"TILE_N\": \"DUP_TILE\"}");
    CHECK_INT(fw_spec_resolve(u, &res, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "lines 20, 22");
    cJSON_Delete(u);
    u = spec_with("{\"TILE_N\": \"MISSING_TILE\"}");
    CHECK_INT(fw_spec_resolve(u, &res, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "no declaration of MISSING_TILE");
    cJSON_Delete(u);

    /* Binds without a source text: nothing to override. */
    u = cJSON_Parse("{\"family\": \"gemm\", \"shapes\": [{\"M\": 64, \"N\": 64, \"K\": 64}],"
                    " \"space\": {\"knobs\": {\"TILE_N\": [64]}}, \"binds\": {\"TILE_N\": \"X\"}}");
    CHECK_INT(fw_spec_resolve(u, &res, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "give \"source\"");
    cJSON_Delete(u);

    u = spec_with("{\"TILE_N\": \"MOE_TILE_N\"}");
    CHECK_INT(fw_spec_resolve(u, &res, err, sizeof err), 0);
    cJSON_Delete(u);
    if (!res) {
        fprintf(stderr, "resolve failed: %s\n", err);
        return;
    }
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "binds"), "TILE_N")->valuestring,
              "MOE_TILE_N");
    fw_plan plan;
    CHECK_INT(fw_plan_build(res, NULL, &plan, err, sizeof err), 0);
    CHECK_INT(plan.n, 6);
    char hashes[6][17];
    for (size_t i = 0; i < plan.n; i++) {
        char *text = fw_strdup(src);
        fw_point mp;
        CHECK_INT(fw_transform_render(res, &plan.items[i].point, &text, &mp, err, sizeof err), 0);
        int64_t tn = fw_point_value(&plan.items[i].point, "TILE_N", -1);
        char want[128], got[128];
        snprintf(want, sizeof want, "constant constexpr uint MOE_TILE_N = %lld;", (long long)tn);
        line_of(text, 10, got, sizeof got);
        CHECK_STR(got, want);
        /* Exactly that literal: every other line is the original's. */
        for (int l = 1; l <= 36; l++) {
            char a[256], b[256];
            line_of(text, l, a, sizeof a);
            line_of(src, l, b, sizeof b);
            if (l != 10)
                CHECK_STR(a, b);
        }
        CHECK_INT(strlen(text) - strlen(src), tn >= 100 ? 1 : 0);
        /* The bound knob is no macro; the aliased one still is. */
        CHECK(!fw_point_get(&mp, "TILE_N", NULL));
        CHECK_INT(fw_point_value(&mp, "SIMDGROUPS_PER_TG", -1), fw_point_value(&plan.items[i].point, "SIMDGROUPS_PER_TG", -2));
        fw_hash64_hex(fw_hash64_str(FW_HASH64_INIT, text), hashes[i]);
        free(text);
    }
    /* Source hash = the transformed text's: it follows TILE_N, not SIMDGROUPS_PER_TG (a macro). */
    for (size_t i = 0; i < plan.n; i++)
        for (size_t j = 0; j < plan.n; j++) {
            int same_tn = fw_point_value(&plan.items[i].point, "TILE_N", 0) ==
                          fw_point_value(&plan.items[j].point, "TILE_N", 0);
            CHECK_INT(strcmp(hashes[i], hashes[j]) == 0, same_tn);
        }
    fw_plan_release(&plan);
    cJSON_Delete(res);
}

/* The users' workflow (issue 13): their profile, their file's declaration styles, no edit. The
 * profile's space names knobs their file has no constant for (SG_M_TILES, SG_N_TILES, NUM_BUFFERS:
 * hand-written double buffering), so the job gives the two knobs the file has, and its own presets. */
static void test_profile(void)
{
    cJSON *u = cJSON_Parse("{\"profile\": \"mixed_bpw_fairway_glm47\", \"seed\": 3,"
                           " \"space\": {\"knobs\": {\"TILE_N\": [32, 64, 128], \"SIMDGROUPS_PER_TG\": [2, 4, 8]}},"
                           " \"presets\": [{\"TILE_N\": 64, \"SIMDGROUPS_PER_TG\": 4}],"
                           " \"binds\": {\"TILE_N\": \"MOE_TILE_N\"},"
                           " \"aliases\": {\"SIMDGROUPS_PER_TG\": \"MOE_SIMDGROUPS_CONFIG\"}}");
    cJSON *s = cJSON_AddObjectToObject(u, "source");
    cJSON_AddStringToObject(s, "text", src);
    cJSON_AddStringToObject(s, "name", "moe_styles.metal");
    cJSON *res = NULL;
    char err[512];
    CHECK_INT(fw_spec_resolve(u, &res, err, sizeof err), 0);
    if (!res)
        fprintf(stderr, "profile resolve: %s\n", err);
    cJSON_Delete(u);
    fw_plan plan;
    cJSON *dev = cJSON_Parse("{\"limits\": {\"max_threads\": 1024, \"shared_bytes\": 32768, \"simd_width\": 32}}");
    if (res && fw_plan_build(res, dev, &plan, err, sizeof err) == 0) {
        CHECK(plan.n > 13);   /* every shape of the profile, the preset first */
        int64_t seen[3] = {0, 0, 0};
        for (size_t i = 0; i < plan.n; i++) {
            char *text = fw_strdup(src);
            fw_point mp;
            CHECK_INT(fw_transform_render(res, &plan.items[i].point, &text, &mp, err, sizeof err), 0);
            int64_t tn = fw_point_value(&plan.items[i].point, "TILE_N", -1);
            char want[96];
            snprintf(want, sizeof want, "constant constexpr uint MOE_TILE_N = %lld;", (long long)tn);
            CHECK(strstr(text, want) != NULL);
            seen[tn == 32 ? 0 : tn == 64 ? 1 : 2]++;
            free(text);
        }
        CHECK(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
        fw_plan_release(&plan);
    } else if (res) {
        fprintf(stderr, "profile plan: %s\n", err);
        CHECK(0);
    }
    cJSON_Delete(dev);
    cJSON_Delete(res);
}

/* What the daemon's "best" says about a bound variant: constants and sites, not macros. */
static void test_describe(void)
{
    cJSON *binds = cJSON_Parse("{\"TILE_N\": \"MOE_TILE_N\", \"SB\": {\"transform\": \"simdgroup_barrier\","
                               " \"function\": \"f\", \"lines\": [3, 3]}, \"SB2\": {\"transform\": \"simdgroup_barrier\","
                               " \"function\": \"g\", \"lines\": [9, 9]}}");
    fw_point p, mp;
    fw_point_clear(&p);
    fw_point_set(&p, "TILE_N", 128);
    fw_point_set(&p, "SB", 1);
    fw_point_set(&p, "SB2", 0);
    fw_point_set(&p, "SIMDGROUPS_PER_TG", 8);
    cJSON *d = fw_binds_describe(binds, &p, &mp);
    CHECK_INT(mp.n, 1);
    CHECK_STR(mp.kv[0].name, "SIMDGROUPS_PER_TG");
    CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "constants"),
                                                                   "MOE_TILE_N")), 128);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(d, "transforms");
    CHECK_INT(cJSON_GetArraySize(t), 1);   /* SB2 is off */
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(t, 0), "function")), "f");
    cJSON_Delete(d);
    CHECK(fw_binds_describe(NULL, &p, &mp) == NULL);
    CHECK_INT(mp.n, 4);
    cJSON_Delete(binds);
}

static void test_render_styles(void)
{
    cJSON *spec = cJSON_Parse("{\"binds\": {\"A\": \"MOE_TILE_K\", \"B\": \"C_STYLE_TILE\", \"C\": \"DEFINE_TILE\","
                              " \"D\": \"DECODE_TILE_N\"}}");
    fw_point p, mp;
    fw_point_clear(&p);
    fw_point_set(&p, "A", 32);
    fw_point_set(&p, "B", 16);
    fw_point_set(&p, "C", 4);
    fw_point_set(&p, "D", 128);
    fw_point_set(&p, "E", 3);
    char *text = fw_strdup(src), err[256], l[128];
    CHECK_INT(fw_transform_render(spec, &p, &text, &mp, err, sizeof err), 0);
    line_of(text, 12, l, sizeof l);
    CHECK_STR(l, "constant constexpr uint MOE_TILE_K = 32u;");   /* the suffix stays */
    line_of(text, 13, l, sizeof l);
    CHECK_STR(l, "constant constexpr uint DECODE_TILE_N = 128;");
    line_of(text, 16, l, sizeof l);
    CHECK_STR(l, "const int C_STYLE_TILE = 16;");
    line_of(text, 17, l, sizeof l);
    CHECK_STR(l, "#define DEFINE_TILE 4");
    CHECK_INT(mp.n, 1);
    CHECK_STR(mp.kv[0].name, "E");
    free(text);
    /* The source changed since the spec was checked: the render refuses, naming the lines. */
    cJSON_Delete(spec);
    spec = cJSON_Parse("{\"binds\": {\"A\": \"DUP_TILE\"}}");
    text = fw_strdup(src);
    CHECK_INT(fw_transform_render(spec, &p, &text, &mp, err, sizeof err), -EINVAL);
    CHECK_HAS(err, "lines 20, 22");
    CHECK_STR(text, src);
    free(text);
    cJSON_Delete(spec);
    /* No binds: the text is untouched and every knob stays a macro. */
    text = fw_strdup(src);
    CHECK_INT(fw_transform_render(NULL, &p, &text, &mp, err, sizeof err), 0);
    CHECK_STR(text, src);
    CHECK_INT(mp.n, 5);
    free(text);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_transform moe_styles.metal\n");
        return 2;
    }
    size_t len;
    char err[256];
    if (fw_read_file(argv[1], &src, &len, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    test_find();
    test_list();
    test_check_errors();
    test_spec_and_plan();
    test_render_styles();
    test_profile();
    test_describe();
    free(src);
    return fw_check_done("variants_transform");
}
