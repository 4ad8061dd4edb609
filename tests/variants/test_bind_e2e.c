/* test_bind_e2e.c - constant override end to end through fairway-worker on PoCL (issue 13):
 * data/bind_gemm.cl has no guarded macro at all; every knob is bound to a `__constant` or a
 * `#define` literal. Every variant must verify (its defaults are a tile no variant uses, so only
 * the bound values make it right), on 3 seeded inputs and 5 launches (the transformed-variant
 * rule), with no bound knob among the compiled macros and a source hash that is the transformed
 * text's. Without binds the job is refused before any compile. The file is never modified.
 * Then data/bind_gemm_flaky.cl, wrong only when A[0] < 0: at job seed 4 the job's own inputs hide
 * the bug (A[0] >= 0) and the first extra seed shows it, so the variant is verify_failed by the
 * extra check (one seeded check would have passed it). At seeds 1 and 3 all three seeds hide it:
 * the check catches what its inputs expose, no more. And async_prefetch_hint on the gemm's inner loop
 * (line 32), off and on: PoCL compiles OpenCL's prefetch() and the variant verifies as written.
 * usage: test_bind_e2e FAIRWAY-WORKER bind_gemm.cl bind_gemm_flaky.cl. Exits 77 when no OpenCL
 * device is there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fw_check.h"
#include "fw_util.h"

static const char *worker;
static char tmp[256];

static char *slurp(const char *path)
{
    char *t = NULL, e[256];
    size_t n;
    return fw_read_file(path, &t, &n, e, sizeof e) == 0 ? t : fw_strdup("");
}

/* Runs the worker on the spec; returns its exit code, *out its stdout, *errtext its stderr. */
static int run_spec(const cJSON *spec, char **out, char **errtext)
{
    char sp[512], op[512], ep[512];
    snprintf(sp, sizeof sp, "%s/spec.json", tmp);
    snprintf(op, sizeof op, "%s/out.txt", tmp);
    snprintf(ep, sizeof ep, "%s/err.txt", tmp);
    char *text = cJSON_PrintUnformatted(spec);
    FILE *f = fopen(sp, "w");
    if (!f || !text)
        exit(1);
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
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        exit(1);
    *out = slurp(op);
    *errtext = slurp(ep);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static cJSON *spec_for(const char *text, int with_binds)
{
    cJSON *s = cJSON_Parse(
        "{\"shapes\": [{\"M\": 40, \"N\": 48, \"K\": 20}],"
        " \"space\": {\"knobs\": {\"TILE_N\": [16, 32], \"SIMDGROUPS_PER_TG\": [2, 4], \"SG_M_TILES\": [1, 2],"
        "   \"SG_N_TILES\": [1, 2], \"NUM_BUFFERS\": [1, 2], \"TILE_K\": [8, 16]},"
        "   \"constraints\": [\"TILE_N % (8 * SG_N_TILES) == 0\", \"(SIMDGROUPS_PER_TG * 8 * SG_N_TILES) % TILE_N == 0\"]},"
        " \"strategy\": \"random\", \"budget\": 5, \"seed\": 11, \"warmup\": 0, \"iters\": 2, \"backend\": \"opencl\"}");
    cJSON *src = cJSON_AddObjectToObject(s, "source");
    cJSON_AddStringToObject(src, "text", text);
    cJSON_AddStringToObject(src, "name", "bind_gemm.cl");
    cJSON_AddStringToObject(src, "entry", "bind_gemm");
    cJSON_AddStringToObject(src, "workload", "gemm");
    if (with_binds)
        cJSON_AddItemToObject(s, "binds", cJSON_Parse("{\"TILE_N\": \"B_TILE_N\", \"TILE_K\": \"B_TILE_K\","
                                                      " \"SIMDGROUPS_PER_TG\": \"B_SIMDGROUPS\", \"SG_M_TILES\": \"B_SG_M\","
                                                      " \"SG_N_TILES\": \"B_SG_N\", \"NUM_BUFFERS\": \"B_NBUF\"}"));
    return s;
}

static void check_records(char *out)
{
    int records = 0, ok = 0;
    char keys[8][128], hashes[8][32];
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        if (!j || !cJSON_GetObjectItemCaseSensitive(j, "seq") || !cJSON_GetObjectItemCaseSensitive(j, "status")) {
            cJSON_Delete(j);
            continue;
        }
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "status"));
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "variant_key"));
        const char *hash = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "source_hash"));
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "verify");
        if (!status || strcmp(status, "ok") != 0)
            fprintf(stderr, "variant %s: %s: %s\n", key ? key : "?", status ? status : "?",
                    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error")));
        ok += status && !strcmp(status, "ok");
        CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "seeds")), 3);
        CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "launches")), 5);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "origin")), "random");
        const cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(j, "macros")) {
            const char *s = cJSON_GetStringValue(m);
            CHECK(s && strncmp(s, "TILE_N=", 7) != 0 && strncmp(s, "SIMDGROUPS_PER_TG=", 18) != 0 &&
                  strncmp(s, "TILE_K=", 7) != 0 && strncmp(s, "B_", 2) != 0);
        }
        if (records < 8 && key && hash) {
            snprintf(keys[records], sizeof keys[records], "%s", key);
            snprintf(hashes[records], sizeof hashes[records], "%s", hash);
        }
        records++;
        cJSON_Delete(j);
    }
    CHECK_INT(records, 5);
    CHECK_INT(ok, 5);
    /* Every knob is bound, so distinct keys are distinct texts. */
    for (int a = 0; a < records && a < 8; a++)
        for (int b = a + 1; b < records && b < 8; b++)
            CHECK_INT(strcmp(keys[a], keys[b]) == 0, strcmp(hashes[a], hashes[b]) == 0);
}

static void check_prefetch(char *out)
{
    int records = 0;
    char hashes[2][32] = {"", ""};
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        if (!j || !cJSON_GetObjectItemCaseSensitive(j, "seq") || !cJSON_GetObjectItemCaseSensitive(j, "status")) {
            cJSON_Delete(j);
            continue;
        }
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "variant_key"));
        const char *hash = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "source_hash"));
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "verify");
        int on = key && strstr(key, "PF_L32=1") != NULL;
        CHECK(key && (on || strstr(key, "PF_L32=0")));
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "status")), "ok");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "origin")), on ? "structural" : "grid");
        CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "seeds")), 3);
        CHECK_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "launches")), 5);
        const cJSON *m;
        cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(j, "macros"))
            CHECK(strncmp(cJSON_GetStringValue(m) ? cJSON_GetStringValue(m) : "", "PF_L32", 6) != 0);
        snprintf(hashes[on], sizeof hashes[on], "%s", hash ? hash : "");
        records++;
        cJSON_Delete(j);
    }
    CHECK_INT(records, 2);
    CHECK(hashes[0][0] && hashes[1][0] && strcmp(hashes[0], hashes[1]) != 0);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s FAIRWAY-WORKER bind_gemm.cl bind_gemm_flaky.cl\n", argv[0]);
        return 2;
    }
    worker = argv[1];
    const char *t = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/fw-bind-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char *text = slurp(argv[2]);
    CHECK(strstr(text, "#ifndef") == NULL);
    char *out, *errtext;
    cJSON *spec = spec_for(text, 1);
    int code = run_spec(spec, &out, &errtext);
    cJSON_Delete(spec);
    if (code == 3) {
        fprintf(stderr, "SKIP: no OpenCL device: %s", errtext);
        return 77;
    }
    if (code != 0)
        fprintf(stderr, "worker exit %d: %s\n", code, errtext);
    CHECK_INT(code, 0);
    check_records(out);
    free(out);
    free(errtext);

    /* Without binds nothing reaches the code: refused before any compile. */
    spec = spec_for(text, 0);
    code = run_spec(spec, &out, &errtext);
    cJSON_Delete(spec);
    CHECK_INT(code, 2);
    CHECK_HAS(errtext, "never mentions");
    free(out);
    free(errtext);

    /* async_prefetch_hint on the loop of line 32 (docs/transforms.md): off and on, both verified on 3
     * seeds and 5 launches; on is origin structural, another source, and no macro. */
    spec = spec_for(text, 1);
    cJSON_ReplaceItemInObject(spec, "strategy", cJSON_CreateString("grid"));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(spec, "space"), "knobs",
                              cJSON_Parse("{\"TILE_N\": [16], \"SIMDGROUPS_PER_TG\": [2], \"SG_M_TILES\": [1],"
                                          " \"SG_N_TILES\": [1], \"NUM_BUFFERS\": [1], \"TILE_K\": [8], \"PF_L32\": [0, 1]}"));
    cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(spec, "binds"), "PF_L32",
                          cJSON_Parse("{\"transform\": \"async_prefetch_hint\", \"function\": \"bind_gemm\", "
                                      "\"lines\": [32, 32]}"));
    code = run_spec(spec, &out, &errtext);
    cJSON_Delete(spec);
    CHECK_INT(code, 0);
    check_prefetch(out);
    free(out);
    free(errtext);

    /* A bug one seed hides: caught by the extra seeds of a transformed variant. */
    char *flaky = slurp(argv[3]);
    spec = spec_for(flaky, 1);
    cJSON_ReplaceItemInObject(spec, "seed", cJSON_CreateNumber(4));
    cJSON_ReplaceItemInObject(spec, "budget", cJSON_CreateNumber(1));
    cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(spec, "source"), "entry", cJSON_CreateString("bind_gemm_flaky"));
    code = run_spec(spec, &out, &errtext);
    cJSON_Delete(spec);
    CHECK_INT(code, 0);
    cJSON *rec = NULL;
    char *save = NULL;
    for (char *line = strtok_r(out, "\n", &save); line && !rec; line = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(line);
        if (j && cJSON_GetObjectItemCaseSensitive(j, "seq") && cJSON_GetObjectItemCaseSensitive(j, "status"))
            rec = j;
        else
            cJSON_Delete(j);
    }
    CHECK(rec != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "status")), "verify_failed");
    CHECK_HAS(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "error")), "transformed variant: inputs of extra seed 1");
    cJSON_Delete(rec);
    free(out);
    free(errtext);
    free(flaky);

    char *after = slurp(argv[2]);
    CHECK_STR(after, text);
    free(after);
    free(text);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return fw_check_done("variants_bind_e2e");
}
