/* End-to-end gemm on the OpenCL device (PoCL here) through the real fairway-worker:
 *   1. a grid over a small space on shapes that are multiples of no tile (33x17x19, 1x1x1): every
 *      record is "ok", verified under the workload's tolerance, with the geometry gemm.c computes
 *      for its knobs;
 *   2. the presets on 65x67x19 with FW_GEMM_SKIP_LAST_K_TILE=1: every record is "verify_failed".
 * usage: test_gemm_worker PATH-TO-fairway-worker. Exits 77 (skip) when the worker sees no OpenCL
 * device. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fw_family.h"
#include "fw_test_worker.h"

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

static const char *worker;
static char dir[] = "/tmp/fw-kernels-XXXXXX";

/* Run the worker on spec text: plan records and the summary (the finalists line kept apart). */
static int run_worker(const char *spec, cJSON **records, cJSON **summary)
{
    fw_test_run r;
    int rc = fw_test_worker_run(worker, dir, spec, &r);
    CHECK(r.bad_lines == 0, "%d worker output lines were not JSON", r.bad_lines);
    *records = r.records ? r.records : cJSON_CreateArray();
    *summary = r.summary;
    cJSON_Delete(r.finalists);
    return rc;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static const char grid_spec[] =
    "{\"family\": \"gemm\", \"backend\": \"opencl\","
    " \"shapes\": [{\"M\": 33, \"N\": 17, \"K\": 19}, {\"M\": 1, \"N\": 1, \"K\": 1}],"
    " \"space\": {\"knobs\": {\"TILE_N\": [16, 32], \"SIMDGROUPS_PER_TG\": [2, 4],"
    "   \"SG_M_TILES\": [1, 2], \"SG_N_TILES\": [1], \"NUM_BUFFERS\": [1, 2, 3], \"TILE_K\": [8]},"
    "   \"constraints\": [\"TILE_N % (8 * SG_N_TILES) == 0\","
    "                     \"(SIMDGROUPS_PER_TG * 8 * SG_N_TILES) % TILE_N == 0\","
    "                     \"32 * SIMDGROUPS_PER_TG <= DEVICE_MAX_THREADS\"]},"
    " \"strategy\": \"grid\", \"seed\": 7, \"warmup\": 0, \"iters\": 1}";

/* (TILE_N, SIMDGROUPS_PER_TG) in {(16,2), (16,4), (32,4)} x SG_M_TILES 2 x NUM_BUFFERS 3. */
#define GRID_PER_SHAPE 18

static void test_grid(const fw_family *fam)
{
    cJSON *recs = NULL, *sum = NULL;
    int rc = run_worker(grid_spec, &recs, &sum);
    CHECK(rc == 0, "worker exit status %d", rc);
    int n = cJSON_GetArraySize(recs);
    CHECK(n == 2 * GRID_PER_SHAPE, "%d records, want %d", n, 2 * GRID_PER_SHAPE);
    const cJSON *r;
    cJSON_ArrayForEach(r, recs) {
        const char *key = str(r, "variant_key");
        CHECK(strcmp(str(r, "status"), "ok") == 0, "%s on %s: status %s: %.300s", key,
              str(r, "shape_key"), str(r, "status"), str(r, "error"));
        CHECK(strcmp(str(r, "kernel"), "gemm_tiled") == 0, "kernel %s", str(r, "kernel"));
        const cJSON *v = cJSON_GetObjectItem(r, "verify");
        const cJSON *re = cJSON_GetObjectItem(v, "rel_err");
        CHECK(cJSON_IsNumber(re) && re->valuedouble < 1e-5, "%s: rel_err missing or too big", key);
        /* The launch used the geometry gemm.c derives from the same knobs. */
        fw_point p;
        char err[256];
        fw_workload *wl = NULL;
        const cJSON *shape = cJSON_GetObjectItem(r, "shape");
        if (fw_point_from_json(cJSON_GetObjectItem(r, "knobs"), &p, err, sizeof err) == 0 && shape &&
            fam->workload_new(shape, 1, &wl, err, sizeof err) == 0) {
            fw_geometry g;
            CHECK(fam->geometry(wl, &p, &g, err, sizeof err) == 0, "%s", err);
            const cJSON *geo = cJSON_GetObjectItem(r, "geometry");
            const cJSON *grid = cJSON_GetObjectItem(geo, "grid");
            const cJSON *group = cJSON_GetObjectItem(geo, "group");
            CHECK(cJSON_GetArraySize(grid) == 3 && cJSON_GetArraySize(group) == 3, "%s: no geometry", key);
            if (cJSON_GetArraySize(grid) == 3 && cJSON_GetArraySize(group) == 3)
                for (int i = 0; i < 3; i++)
                    CHECK(cJSON_GetArrayItem(grid, i)->valueint == (int)g.grid[i] &&
                          cJSON_GetArrayItem(group, i)->valueint == (int)g.group[i],
                          "%s: launched with another geometry (dim %d)", key, i);
        } else {
            CHECK(0, "record without knobs or shape: %s", err);
        }
        fam->workload_free(wl);
    }
    const cJSON *s = cJSON_GetObjectItem(sum, "summary");
    const cJSON *ok = cJSON_GetObjectItem(s, "ok");
    CHECK(cJSON_IsNumber(ok) && ok->valueint == 2 * GRID_PER_SHAPE, "summary ok count");
    printf("grid: %d gemm variants verified on 33x17x19 and 1x1x1\n", n);
    cJSON_Delete(recs);
    cJSON_Delete(sum);
}

static void test_skip_last_k_tile(void)
{
    static const char spec[] =
        "{\"family\": \"gemm\", \"backend\": \"opencl\","
        " \"shapes\": [{\"M\": 65, \"N\": 67, \"K\": 19}],"
        " \"strategy\": \"presets\", \"seed\": 7, \"warmup\": 0, \"iters\": 1,"
        " \"macros\": {\"FW_GEMM_SKIP_LAST_K_TILE\": 1}}";
    cJSON *recs = NULL, *sum = NULL;
    int rc = run_worker(spec, &recs, &sum);
    CHECK(rc == 0, "worker exit status %d", rc);
    int n = cJSON_GetArraySize(recs);
    CHECK(n >= 3, "only %d preset records", n);
    const cJSON *r;
    cJSON_ArrayForEach(r, recs)
        CHECK(strcmp(str(r, "status"), "verify_failed") == 0, "%s: status %s with the last k-tile dropped",
              str(r, "variant_key"), str(r, "status"));
    printf("skip-last-k: %d presets verify_failed\n", n);
    cJSON_Delete(recs);
    cJSON_Delete(sum);
}

int main(int argc, char **argv)
{
    int start = fw_test_worker_start(argc, argv, dir, &worker);
    if (start >= 0)
        return start;
    const fw_family *fam = fw_family_find("gemm");
    test_grid(fam);
    test_skip_last_k_tile();
    char path[256];
    snprintf(path, sizeof path, "%s/spec.json", dir);
    unlink(path);
    rmdir(dir);
    return failures ? 1 : 0;
}
