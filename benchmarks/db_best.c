/* db_best - latency of fw_db_best (and fw_db_rankings) on a store of N measurements.
 *
 *   build-x/benchmarks/db_best [--rows 100000] [--samples 20] [--queries 20000] [--db FILE]
 *
 * Fills a fresh store (a temp file unless --db names a new one) through fw_db_measurement_put, one
 * transaction per measurement as the daemon does, over 4 devices x 50 shapes x 2 kernels x 50 jobs,
 * 1 in 5 measurements not ok; then times random fw_db_best lookups (device + kernel given, any
 * kernel, any device) and fw_db_rankings of whole jobs (top 10 per shape). Prints per-call latency percentiles. Run by hand, never
 * as a timed test.
 */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fw_db.h"
#include "fw_util.h"

#define NDEV 4
#define NSHAPE 50
#define NKERN 2
#define NJOB 50

static uint32_t rng = 2463534242u;
static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *ns, size_t n)
{
    qsort(ns, n, sizeof *ns, cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)ns[i];
    printf("%-28s n=%zu  median %.1f us  mean %.1f us  p99 %.1f us  max %.1f us\n", what, n,
           ns[n / 2] / 1e3, sum / n / 1e3, ns[n * 99 / 100] / 1e3, ns[n - 1] / 1e3);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

int main(int argc, char **argv)
{
    long rows = 100000, nsamp = 20, queries = 20000;
    const char *dbpath = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--rows") == 0) rows = atol(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--samples") == 0) nsamp = atol(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--queries") == 0) queries = atol(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--db") == 0) dbpath = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--rows N] [--samples N] [--queries N] [--db NEWFILE]\n", argv[0]);
            return 2;
        }
    }
    if (rows < 1 || queries < 1 || nsamp < 0) { fprintf(stderr, "counts must be positive\n"); return 2; }
    char dir[] = "/tmp/fw-db-bench-XXXXXX", path[512];
    int tmp = dbpath == NULL;
    if (tmp) {
        if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
        snprintf(path, sizeof path, "%s/bench.db", dir);
        dbpath = path;
    }
    char err[512];
    fw_db *db = NULL;
    if (fw_db_open(dbpath, &db, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return 1; }

    char devs[NDEV][64];
    int64_t dev_id[NDEV];
    for (int d = 0; d < NDEV; d++) {
        snprintf(devs[d], sizeof devs[d], "opencl|vendor|device-%d|1.0|C", d);
        if (fw_db_device_upsert(db, devs[d], NULL, &dev_id[d])) { fprintf(stderr, "%s\n", fw_db_error(db)); return 1; }
    }
    int64_t jobs[NJOB];
    cJSON *spec = cJSON_Parse("{\"family\":\"gemm\",\"strategy\":\"random\"}");
    for (int j = 0; j < NJOB; j++) {
        fw_db_job_new nj = {.spec = spec, .spec_hash = "0", .seed = (uint64_t)j, .family = "gemm",
                            .strategy = "random", .budget = rows / NJOB, .device = "opencl:0",
                            .daemon_version = "bench"};
        if (fw_db_job_create(db, &nj, &jobs[j])) { fprintf(stderr, "%s\n", fw_db_error(db)); return 1; }
    }

    uint64_t t0 = fw_now_ns();
    for (long i = 0; i < rows; i++) {
        int j = (int)(i % NJOB), d = j % NDEV;
        int s = (int)(next() % NSHAPE), k = (int)(next() % NKERN);
        double median = 10000 + next() % 1000000;
        char sk[32], vk[64];
        snprintf(sk, sizeof sk, "K=%d,M=%d,N=256", 64 * (s % 10 + 1), 64 * (s / 10 + 1));
        snprintf(vk, sizeof vk, "NUM_BUFFERS=%u,TILE_N=%u", 1 + next() % 3, 16u << (next() % 4));
        cJSON *m = cJSON_CreateObject();
        cJSON_AddNumberToObject(m, "seq", (double)(i / NJOB));
        cJSON_AddNumberToObject(m, "shape_index", s);
        cJSON_AddStringToObject(m, "shape_key", sk);
        cJSON_AddStringToObject(m, "family", "gemm");
        cJSON_AddStringToObject(m, "kernel", k ? "gemm_tiled" : "gemm_simd");
        cJSON_AddStringToObject(m, "variant_key", vk);
        cJSON_AddStringToObject(m, "origin", "random");
        int ok = next() % 5 != 0;
        cJSON_AddStringToObject(m, "status", ok ? "ok" : "verify_failed");
        cJSON_AddNumberToObject(m, "compile_ms", 40);
        cJSON *st = cJSON_AddObjectToObject(m, "stats");
        cJSON_AddNumberToObject(st, "n", (double)nsamp);
        cJSON_AddNumberToObject(st, "median_ns", median);
        cJSON_AddNumberToObject(st, "mean_ns", median * 1.01);
        cJSON *sa = cJSON_AddArrayToObject(m, "samples_ns");
        for (long q = 0; q < nsamp; q++) cJSON_AddItemToArray(sa, cJSON_CreateNumber(median + (double)q));
        int r = fw_db_measurement_put(db, jobs[j], dev_id[d], m);
        cJSON_Delete(m);
        if (r) { fprintf(stderr, "put %ld: %s\n", i, fw_db_error(db)); return 1; }
    }
    double fill_s = (double)(fw_now_ns() - t0) / 1e9;
    printf("filled %ld measurements (%ld samples each), one transaction each: %.2f s, %.0f puts/s\n",
           rows, nsamp, fill_s, (double)rows / fill_s);

    uint64_t *lat = malloc((size_t)queries * sizeof *lat);
    if (!lat) return 1;
    long found = 0;
    static const char *const names[] = {"fw_db_best (kernel given)", "fw_db_best (any kernel)",
                                        "fw_db_best (any device)"};
    for (int variant = 0; variant < 3; variant++) {
        for (long q = 0; q < queries; q++) {
            int d = (int)(next() % NDEV), s = (int)(next() % NSHAPE), k = (int)(next() % NKERN);
            char sk[32];
            snprintf(sk, sizeof sk, "K=%d,M=%d,N=256", 64 * (s % 10 + 1), 64 * (s / 10 + 1));
            cJSON *o = NULL;
            uint64_t a = fw_now_ns();
            int r = fw_db_best(db, variant == 2 ? NULL : devs[d], "gemm",
                               variant == 1 ? NULL : (k ? "gemm_tiled" : "gemm_simd"), sk, &o);
            lat[q] = fw_now_ns() - a;
            if (r == 0) found++;
            else if (r != -ENOENT) { fprintf(stderr, "best: %s\n", fw_db_error(db)); return 1; }
            cJSON_Delete(o);
        }
        report(names[variant], lat, (size_t)queries);
    }
    printf("best lookups that found a row: %ld of %ld\n", found, 3 * queries);

    long nr = queries / 20 > 0 ? queries / 20 : 1;
    for (long q = 0; q < nr; q++) {
        cJSON *o = NULL;
        uint64_t a = fw_now_ns();
        int r = fw_db_rankings(db, jobs[next() % NJOB], NULL, 10, &o);
        lat[q] = fw_now_ns() - a;
        if (r) { fprintf(stderr, "rankings: %s\n", fw_db_error(db)); return 1; }
        cJSON_Delete(o);
    }
    char what[64];
    snprintf(what, sizeof what, "fw_db_rankings (job of %ld)", rows / NJOB);
    report(what, lat, (size_t)nr);
    free(lat);
    cJSON_Delete(spec);
    fw_db_close(db);
    if (tmp) nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
