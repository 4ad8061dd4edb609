/* test_user_source_e2e.c - tuning a user's own OpenCL kernel end to end through fairway-worker on
 * PoCL (issue 6): tests/metal/data/user_gemm.cl, which #includes its tile header and names its tile
 * macros its own way, is inlined as the CLI's --source does, sent as "source" with "aliases" and
 * "workload": "gemm" (no "family"), and every variant must verify, with the aliased macros in the
 * compiled macro list. The kernel's defaults are a tile no variant uses, so a variant verifies only
 * if the aliased values reached the compiler. Then the refusals: without aliases (a knob the source
 * never mentions) and with one guard removed (a knob the source would override), both before any
 * compile, naming the macro. The files in data/ are compared before and after: never modified.
 * usage: test_user_source_e2e FAIRWAY-WORKER DATA-DIR. Exits 77 when no OpenCL device is there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

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

static const char *worker;
static char tmp[256];

typedef struct result {
    int code;
    char *out, *err;
} result;

static char *slurp(const char *path)
{
    char *t = NULL;
    size_t n;
    char e[256];
    return fw_read_file(path, &t, &n, e, sizeof e) == 0 ? t : fw_strdup("");
}

static result run_spec(const cJSON *spec)
{
    result r = {-1, NULL, NULL};
    char sp[512], op[512], ep[512];
    snprintf(sp, sizeof sp, "%s/spec.json", tmp);
    snprintf(op, sizeof op, "%s/out.txt", tmp);
    snprintf(ep, sizeof ep, "%s/err.txt", tmp);
    char *text = cJSON_PrintUnformatted(spec);
    FILE *f = fopen(sp, "w");
    if (!f || !text) {
        fprintf(stderr, "cannot write %s\n", sp);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
    free(text);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(op, "w", stdout) || !freopen(ep, "w", stderr) || !freopen("/dev/null", "r", stdin))
            _exit(99);
        execl(worker, worker, "--spec", sp, (char *)NULL);
        _exit(98);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        fprintf(stderr, "cannot run %s\n", worker);
        exit(1);
    }
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(op);
    r.err = slurp(ep);
    return r;
}

static void result_free(result *r)
{
    free(r->out);
    free(r->err);
}

static cJSON *base_spec(const char *text, int with_aliases)
{
    cJSON *s = cJSON_Parse(
        "{\"shapes\": [{\"M\": 40, \"N\": 48, \"K\": 20}],"
        " \"space\": {\"knobs\": {\"TILE_N\": [16, 32], \"SIMDGROUPS_PER_TG\": [2, 4], \"SG_M_TILES\": [1, 2],"
        "   \"SG_N_TILES\": [1, 2], \"NUM_BUFFERS\": [1, 2], \"TILE_K\": [8, 16]},"
        "   \"constraints\": [\"TILE_N % (8 * SG_N_TILES) == 0\", \"(SIMDGROUPS_PER_TG * 8 * SG_N_TILES) % TILE_N == 0\"]},"
        " \"strategy\": \"random\", \"budget\": 5, \"seed\": 11, \"warmup\": 0, \"iters\": 2, \"backend\": \"opencl\"}");
    cJSON *src = cJSON_AddObjectToObject(s, "source");
    cJSON_AddStringToObject(src, "text", text);
    cJSON_AddStringToObject(src, "name", "user_gemm.cl");
    cJSON_AddStringToObject(src, "entry", "user_gemm");
    cJSON_AddStringToObject(src, "workload", "gemm");
    if (with_aliases) {
        cJSON *a = cJSON_AddObjectToObject(s, "aliases");
        cJSON_AddStringToObject(a, "TILE_N", "U_TILE_N");
        cJSON_AddStringToObject(a, "SIMDGROUPS_PER_TG", "U_SIMDGROUPS");
        cJSON_AddStringToObject(a, "SG_M_TILES", "U_SG_M");
        cJSON_AddStringToObject(a, "SG_N_TILES", "U_SG_N");
        cJSON_AddStringToObject(a, "NUM_BUFFERS", "U_NBUF");
    }
    return s;
}

static int has_macro(const cJSON *macros, const char *want)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, macros)
        if (cJSON_IsString(m) && strcmp(m->valuestring, want) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FAIRWAY-WORKER DATA-DIR\n", argv[0]);
        return 2;
    }
    worker = argv[1];
    const char *t = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/fw-user-src-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char path[512], hpath[512];
    snprintf(path, sizeof path, "%s/user_gemm.cl", argv[2]);
    snprintf(hpath, sizeof hpath, "%s/user_gemm_tiles.h", argv[2]);
    char *before_cl = slurp(path), *before_h = slurp(hpath);

    /* what `fairway tune --source user_gemm.cl` sends */
    char *text = NULL;
    char err[1024] = "";
    int rc = fw_source_inline_file(path, &text, err, sizeof err);
    CHECK(rc == 0 && text, "inline %s: %s", path, err);
    if (!text)
        return 1;
    CHECK(strstr(text, "#include \"") == NULL, "local include inlined");
    CHECK(strstr(text, "#define U_TILE_N 8") != NULL, "header text is in the source");

    cJSON *spec = base_spec(text, 1);
    result r = run_spec(spec);
    if (r.code == 3) {
        fprintf(stderr, "SKIP: no OpenCL device: %s", r.err);
        result_free(&r);
        cJSON_Delete(spec);
        return 77;
    }
    CHECK(r.code == 0, "worker exit %d: %s", r.code, r.err);
    int records = 0, ok = 0;
    char *save = NULL;
    for (char *line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        CHECK(j != NULL, "not JSON: %s", line);
        /* measurement records only: the worker also prints "finalists" and "summary" lines */
        if (!j || !cJSON_GetObjectItemCaseSensitive(j, "seq") || !cJSON_GetObjectItemCaseSensitive(j, "status")) {
            cJSON_Delete(j);
            continue;
        }
        records++;
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "status"));
        const char *kernel = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "kernel"));
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "variant_key"));
        const cJSON *knobs = cJSON_GetObjectItemCaseSensitive(j, "knobs");
        const cJSON *macros = cJSON_GetObjectItemCaseSensitive(j, "macros");
        ok += status && strcmp(status, "ok") == 0;
        CHECK(status && strcmp(status, "ok") == 0, "variant %s: status %s: %s", key ? key : "?",
              status ? status : "?", cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, "error")));
        CHECK(kernel && strcmp(kernel, "user_gemm") == 0, "entry %s", kernel ? kernel : "?");
        CHECK(cJSON_GetObjectItemCaseSensitive(j, "family") &&
              strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "family")), "gemm") == 0,
              "family from source.workload");
        static const char *const pairs[][2] = {{"TILE_N", "U_TILE_N"}, {"SIMDGROUPS_PER_TG", "U_SIMDGROUPS"},
                                               {"SG_M_TILES", "U_SG_M"}, {"SG_N_TILES", "U_SG_N"},
                                               {"NUM_BUFFERS", "U_NBUF"}, {"TILE_K", "TILE_K"}};
        for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
            char want[96];
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(knobs, pairs[i][0]);
            snprintf(want, sizeof want, "%s=%lld", pairs[i][1], v ? (long long)v->valuedouble : -1LL);
            CHECK(has_macro(macros, want), "variant %s: macro %s compiled", key ? key : "?", want);
            if (strcmp(pairs[i][0], pairs[i][1]) != 0) {
                snprintf(want, sizeof want, "%s=%lld", pairs[i][0], v ? (long long)v->valuedouble : -1LL);
                CHECK(!has_macro(macros, want), "variant %s: the core name %s must not be passed", key, want);
            }
        }
        cJSON_Delete(j);
    }
    CHECK(records == 5 && ok == 5, "%d records, %d ok (budget 5)", records, ok);
    printf("user source: %d aliased variants of user_gemm.cl verified on OpenCL\n", ok);
    result_free(&r);
    cJSON_Delete(spec);

    /* control: the same source forcing its default tile width after the guard (the guard check
     * passes, the -D is overridden). No variant may verify: this is what the runs above would show
     * if the aliased values had not reached the compiler. */
    fw_sbuf forced;
    fw_sbuf_init(&forced);
    fw_sbuf_printf(&forced, "%s", text);
    char *kernel_at = forced.data ? strstr(forced.data, "typedef struct user_params") : NULL;
    CHECK(kernel_at != NULL, "kernel text found");
    if (kernel_at) {
        size_t at = (size_t)(kernel_at - forced.data);
        fw_sbuf ctl;
        fw_sbuf_init(&ctl);
        fw_sbuf_append(&ctl, forced.data, at);
        fw_sbuf_puts(&ctl, "#undef U_TILE_N\n#define U_TILE_N 8\n");
        fw_sbuf_puts(&ctl, forced.data + at);
        spec = base_spec(ctl.data, 1);
        r = run_spec(spec);
        CHECK(r.code == 0, "control: worker exit %d: %s", r.code, r.err);
        int ctl_ok = 0, ctl_n = 0;
        char *csave = NULL;
        for (char *line = strtok_r(r.out, "\n", &csave); line; line = strtok_r(NULL, "\n", &csave)) {
            cJSON *j = cJSON_Parse(line);
            const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "status"));
            if (st && cJSON_GetObjectItemCaseSensitive(j, "seq")) {
                ctl_n++;
                ctl_ok += strcmp(st, "ok") == 0;
            }
            cJSON_Delete(j);
        }
        CHECK(ctl_n == 5 && ctl_ok == 0, "control: %d records, %d ok (want 5, 0)", ctl_n, ctl_ok);
        printf("control: with the tile width forced in the source, %d of %d variants verify\n", ctl_ok, ctl_n);
        result_free(&r);
        cJSON_Delete(spec);
        fw_sbuf_release(&ctl);
    }
    fw_sbuf_release(&forced);

    /* without aliases: SIMDGROUPS_PER_TG etc. are names the source never uses */
    spec = base_spec(text, 0);
    r = run_spec(spec);
    CHECK(r.code == 2, "no aliases: exit %d", r.code);
    CHECK(strstr(r.err, "never mentions") && strstr(r.err, "user_gemm.cl") && strstr(r.err, "aliases"),
          "no aliases: %s", r.err);
    CHECK(r.out[0] == '\0', "nothing measured: %s", r.out);
    result_free(&r);
    cJSON_Delete(spec);

    /* one guard removed: the source's own U_SG_M would override every value */
    char *unguarded = fw_strdup(text);
    char *g = unguarded ? strstr(unguarded, "#ifndef U_SG_M") : NULL;
    CHECK(g != NULL, "the inlined text has the U_SG_M guard");
    if (g) {
        memcpy(g, "#if 1          ", strlen("#ifndef U_SG_M"));
        spec = base_spec(unguarded, 1);
        r = run_spec(spec);
        CHECK(r.code == 2, "unguarded: exit %d", r.code);
        CHECK(strstr(r.err, "#ifndef U_SG_M") && strstr(r.err, "SG_M_TILES"), "unguarded: %s", r.err);
        result_free(&r);
        cJSON_Delete(spec);
    }
    free(unguarded);

    char *after_cl = slurp(path), *after_h = slurp(hpath);
    CHECK(strcmp(before_cl, after_cl) == 0 && strcmp(before_h, after_h) == 0, "the user's files are unchanged");
    free(before_cl);
    free(before_h);
    free(after_cl);
    free(after_h);
    free(text);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    return 0;
}
