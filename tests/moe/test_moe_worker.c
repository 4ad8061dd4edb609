/* moe_swiglu end to end through the real fairway-worker on the OpenCL device (PoCL here):
 *   1. the moe_small profile at its small budget (presets + seeded random variants on decode, small,
 *      base, large and grouped shapes): every record verified "ok" under the workload's tolerance,
 *      launched with the geometry the family computes, and the summary ranks a best per shape;
 *   2. a space where GATE_BITS=6 is a knob on a mixed-bit layer: those variants fail verification
 *      and are never ranked; the best of every shape is a GATE_BITS=0 (generic) variant;
 *   3. the presets with MOE_TEST_DROP_LAST_K=1: every record is "verify_failed", nothing ranked;
 *   4. a user's OpenCL kernel (`"source"` with `"workload": "moe_swiglu"`) with the argument list from
 *      before v3, without the side and scratch buffers: it is bound with the arguments it declares
 *      and verifies (decode and grouped); the same kernel with one more argument than the workload
 *      has fails with a sentence naming both counts.
 * usage: test_moe_worker PATH-TO-fairway-worker. Exits 77 (skip) without an OpenCL device. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fw_family.h"
#include "fw_test_worker.h"

static int failures;
#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            failures++;                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fputc('\n', stderr);                                                          \
        }                                                                                 \
    } while (0)

static const char *worker;
static char dir[] = "/tmp/fw-moe-XXXXXX";

static cJSON *finalists;   /* the last run's {"finalists": [...]} line, if any */

/* Run the worker on spec text: plan records and the summary (the finalists line kept apart). */
static int run_worker(const char *spec, cJSON **records, cJSON **summary)
{
    fw_test_run r;
    int rc = fw_test_worker_run(worker, dir, spec, &r);
    CHECK(r.bad_lines == 0, "%d worker output lines were not JSON", r.bad_lines);
    *records = r.records ? r.records : cJSON_CreateArray();
    *summary = r.summary;
    cJSON_Delete(finalists);
    finalists = r.finalists;
    return rc;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void test_profile(const fw_family *fam)
{
    cJSON *recs = NULL, *sum = NULL;
    int rc = run_worker("{\"profile\": \"moe_small\", \"backend\": \"opencl\", \"seed\": 5}", &recs, &sum);
    CHECK(rc == 0, "worker exit status %d", rc);
    int n = cJSON_GetArraySize(recs);
    CHECK(n == 5 * 6, "%d records, want 30 (5 shapes x budget 6)", n);
    const char *modes[] = {"decode", "small", "base", "large", "grouped"};
    int seen[5] = {0};
    const cJSON *r;
    cJSON_ArrayForEach(r, recs) {
        const char *key = str(r, "variant_key");
        CHECK(strcmp(str(r, "status"), "ok") == 0, "%s on %s: %s: %.300s", key, str(r, "shape_key"),
              str(r, "status"), str(r, "error"));
        for (int m = 0; m < 5; m++)
            seen[m] += strcmp(str(r, "mode"), modes[m]) == 0;
        const cJSON *v = cJSON_GetObjectItem(r, "verify");
        const cJSON *re = cJSON_GetObjectItem(v, "rel_err");
        CHECK(cJSON_IsNumber(re) && re->valuedouble < 1e-4, "%s: rel_err missing or too big", key);
        fw_point p;
        char err[256];
        fw_workload *wl = NULL;
        const cJSON *shape = cJSON_GetObjectItem(r, "shape");
        if (fw_point_from_json(cJSON_GetObjectItem(r, "knobs"), &p, err, sizeof err) == 0 && shape &&
            fam->workload_new(shape, 1, &wl, err, sizeof err) == 0) {
            fw_geometry g;
            CHECK(fam->geometry(wl, &p, &g, err, sizeof err) == 0, "%s", err);
            const cJSON *geo = cJSON_GetObjectItem(r, "geometry");
            const cJSON *grid = cJSON_GetObjectItem(geo, "grid"), *group = cJSON_GetObjectItem(geo, "group");
            if (cJSON_GetArraySize(grid) == 3 && cJSON_GetArraySize(group) == 3)
                for (int i = 0; i < 3; i++)
                    CHECK(cJSON_GetArrayItem(grid, i)->valueint == (int)g.grid[i] &&
                              cJSON_GetArrayItem(group, i)->valueint == (int)g.group[i],
                          "%s: launched with another geometry (dim %d)", key, i);
            else
                CHECK(0, "%s: no geometry in the record", key);
            CHECK(strcmp(str(r, "kernel"), wl->kernel) == 0, "kernel %s, want %s", str(r, "kernel"), wl->kernel);
        } else {
            CHECK(0, "record without knobs or shape: %s", err);
        }
        fam->workload_free(wl);
    }
    for (int m = 0; m < 5; m++)
        CHECK(seen[m] == 6, "mode %s: %d records", modes[m], seen[m]);
    const cJSON *s = cJSON_GetObjectItem(sum, "summary");
    CHECK(cJSON_GetObjectItem(s, "ok") && cJSON_GetObjectItem(s, "ok")->valueint == n, "summary ok count");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(s, "best_by_shape")) == 5, "a best for every shape");
    printf("moe_small: %d variants verified over 5 modes\n", n);
    cJSON_Delete(recs);
    cJSON_Delete(sum);
}

static void test_only_verified_ranked(void)
{
    static const char spec[] =
        "{\"family\": \"moe_swiglu\", \"backend\": \"opencl\", \"seed\": 9, \"strategy\": \"grid\","
        " \"warmup\": 0, \"iters\": 2,"
        " \"shapes\": [{\"tokens\": 1, \"hidden\": 256, \"intermediate\": 128, \"experts\": 8, \"top_k\": 2,"
        "              \"bits\": [[6,2,3],[2,3,4],[5,6,2],[4,5,6],[3,4,5]]},"
        "             {\"tokens\": 7, \"hidden\": 256, \"intermediate\": 128, \"experts\": 8, \"top_k\": 2,"
        "              \"mode\": \"grouped\", \"bits\": [[6,2,3],[2,3,4],[5,6,2],[4,5,6],[3,4,5]]}],"
        " \"space\": {\"knobs\": {\"TILE_N\": [64], \"SIMDGROUPS_PER_TG\": [2, 4], \"SG_M_TILES\": [1],"
        "   \"SG_N_TILES\": [2], \"NUM_BUFFERS\": [2], \"GATE_BITS\": [0, 6]},"
        "   \"constraints\": [\"intermediate % TILE_N == 0\"]}}";
    cJSON *recs = NULL, *sum = NULL;
    int rc = run_worker(spec, &recs, &sum);
    CHECK(rc == 0, "worker exit status %d", rc);
    int ok = 0, failed = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, recs) {
        const cJSON *gbj = cJSON_GetObjectItem(cJSON_GetObjectItem(r, "knobs"), "GATE_BITS");
        CHECK(cJSON_IsNumber(gbj), "record without GATE_BITS");
        int gb = cJSON_IsNumber(gbj) ? gbj->valueint : -1;
        const char *st = str(r, "status");
        if (gb == 0)
            CHECK(strcmp(st, "ok") == 0, "generic variant %s: %s", str(r, "variant_key"), st);
        else
            CHECK(strcmp(st, "verify_failed") == 0, "GATE_BITS=6 on a mixed layer: %s", st);
        ok += strcmp(st, "ok") == 0;
        failed += strcmp(st, "verify_failed") == 0;
    }
    CHECK(ok == 4 && failed == 4, "%d ok, %d verify_failed (want 4 and 4)", ok, failed);
    const cJSON *best = cJSON_GetObjectItem(cJSON_GetObjectItem(sum, "summary"), "best_by_shape");
    CHECK(cJSON_GetArraySize(best) == 2, "best for both shapes");
    const cJSON *b;
    cJSON_ArrayForEach(b, best)
        CHECK(strstr(str(b, "variant_key"), "GATE_BITS=0") != NULL, "ranked a failed variant: %s",
              str(b, "variant_key"));
    /* the worker's interleaved re-timing of the top variants takes verified ones only */
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItem(finalists, "finalists"))
        CHECK(strstr(str(f, "variant_key"), "GATE_BITS=0") != NULL, "a failed variant among the finalists: %s",
              str(f, "variant_key"));
    printf("ranking: %d verified, %d verify_failed never ranked\n", ok, failed);
    cJSON_Delete(recs);
    cJSON_Delete(sum);
}

static void test_drop_last_k(void)
{
    static const char spec[] =
        "{\"profile\": \"moe_small\", \"backend\": \"opencl\", \"seed\": 5, \"strategy\": \"presets\","
        " \"warmup\": 0, \"iters\": 1, \"macros\": {\"MOE_TEST_DROP_LAST_K\": 1}}";
    cJSON *recs = NULL, *sum = NULL;
    int rc = run_worker(spec, &recs, &sum);
    CHECK(rc == 0, "worker exit status %d", rc);
    int n = cJSON_GetArraySize(recs);
    CHECK(n >= 5, "only %d preset records", n);
    const cJSON *r;
    cJSON_ArrayForEach(r, recs)
        CHECK(strcmp(str(r, "status"), "verify_failed") == 0, "%s (%s): status %s with the last K stage dropped",
              str(r, "variant_key"), str(r, "mode"), str(r, "status"));
    const cJSON *best = cJSON_GetObjectItem(cJSON_GetObjectItem(sum, "summary"), "best_by_shape");
    CHECK(cJSON_GetArraySize(best) == 0, "a broken variant was ranked");
    printf("drop-last-K: %d presets verify_failed\n", n);
    cJSON_Delete(recs);
    cJSON_Delete(sum);
}

/* The family's OpenCL source with the v3 buffers cut from every entry's parameter list: a user's
 * kernel written against the bindings before issue 16 (V3 stays 0, so it never reads them). With
 * `extra`, one more parameter than the workload binds instead. NULL when the text is not found. */
static char *old_argument_list(const fw_family *fam, int extra)
{
    char *src = NULL, err[256];
    if (fam->source("opencl", NULL, &src, err, sizeof err) < 0)
        return NULL;
    static const char *cut[] = {", global const uint *side, global float *scr)",
                                ",\n    global const uint *side, global float *scr)"};
    const char *put = extra ? ", global const uint *side, global float *scr, global float *more)" : ")";
    int n = 0;
    for (int c = 0; c < 2; c++)
        for (char *q; (q = strstr(src, cut[c])) != NULL;) {
            size_t lc = strlen(cut[c]), lp = strlen(put), tail = strlen(q + lc);
            char *t = malloc(strlen(src) - lc + lp + 1);
            memcpy(t, src, (size_t)(q - src));
            memcpy(t + (q - src), put, lp);
            memcpy(t + (q - src) + lp, q + lc, tail + 1);
            free(src);
            src = t;
            n++;
            if (extra)
                break;   /* one entry is enough for the refusal */
        }
    if (n < 2) {
        free(src);
        return NULL;
    }
    return src;
}

static void test_old_argument_list(const fw_family *fam)
{
    for (int extra = 0; extra < 2; extra++) {
        char *src = old_argument_list(fam, extra);
        CHECK(src != NULL, "the OpenCL entries' side/scratch parameters were not found in the source");
        if (!src)
            return;
        cJSON *spec = cJSON_Parse(
            "{\"backend\": \"opencl\", \"seed\": 3, \"strategy\": \"grid\", \"warmup\": 0, \"iters\": 2,"
            " \"shapes\": [{\"tokens\": 1, \"hidden\": 256, \"intermediate\": 128, \"experts\": 8, \"top_k\": 2,"
            "              \"bits\": [[6,2,3],[2,3,4],[5,6,2],[4,5,6],[3,4,5]]},"
            "             {\"tokens\": 7, \"hidden\": 256, \"intermediate\": 128, \"experts\": 8, \"top_k\": 2,"
            "              \"mode\": \"grouped\", \"bits\": [[6,2,3],[2,3,4],[5,6,2],[4,5,6],[3,4,5]]}],"
            " \"space\": {\"knobs\": {\"TILE_N\": [64], \"SIMDGROUPS_PER_TG\": [2, 4], \"SG_M_TILES\": [1],"
            "   \"SG_N_TILES\": [2], \"NUM_BUFFERS\": [2]}, \"constraints\": [\"intermediate % TILE_N == 0\"]}}");
        cJSON *so = cJSON_AddObjectToObject(spec, "source");
        cJSON_AddStringToObject(so, "text", src);
        cJSON_AddStringToObject(so, "name", "user_moe_v2.cl");
        cJSON_AddStringToObject(so, "workload", "moe_swiglu");
        cJSON *en = cJSON_AddObjectToObject(so, "entries");
        cJSON_AddStringToObject(en, "moe_trellis_swiglu_decode", "moe_trellis_swiglu_decode");
        cJSON_AddStringToObject(en, "moe_trellis_swiglu_grouped", "moe_trellis_swiglu_grouped");
        free(src);
        char *text = cJSON_PrintUnformatted(spec);
        cJSON_Delete(spec);
        cJSON *recs = NULL, *sum = NULL;
        int rc = run_worker(text, &recs, &sum);
        free(text);
        int n = 0, good = 0;
        const cJSON *r;
        cJSON_ArrayForEach(r, recs) {
            n++;
            const char *st = str(r, "status"), *e = str(r, "error");
            if (!extra) {
                CHECK(strcmp(st, "ok") == 0, "old argument list, %s on %s: %s: %.300s", str(r, "variant_key"),
                      str(r, "shape_key"), st, e);
                good += strcmp(st, "ok") == 0;
            } else {
                CHECK(strcmp(st, "ok") != 0,
                      "a kernel with a parameter the workload does not bind: %s: %.300s", st, e);
                good += strstr(e, "arguments but the workload lists") != NULL;
            }
        }
        if (!extra)
            CHECK(rc == 0 && n == 4 && good == 4, "exit %d, %d of %d records ok (want 0, 4 of 4)", rc, good, n);
        else   /* refused: the job stops with the sentence, or every variant fails with it */
            CHECK(rc != 0 || (n == 4 && good == 4), "exit %d, %d of %d records refused with the sentence", rc, good, n);
        printf("%s: %d of %d records as expected\n", extra ? "one parameter too many" : "pre-v3 argument list",
               good, n);
        cJSON_Delete(recs);
        cJSON_Delete(sum);
    }
}

int main(int argc, char **argv)
{
    int start = fw_test_worker_start(argc, argv, dir, &worker);
    if (start >= 0)
        return start;
    test_profile(fw_family_find("moe_swiglu"));
    test_only_verified_ranked();
    test_drop_last_k();
    test_old_argument_list(fw_family_find("moe_swiglu"));
    cJSON_Delete(finalists);
    rmdir(dir);
    return failures ? 1 : 0;
}
