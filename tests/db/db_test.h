/* db_test.h - helpers for the store's tests: an assert that says what failed, a private temp
 * folder removed at exit, and worker-style measurement records. */
#ifndef DB_TEST_H
#define DB_TEST_H

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fw_db.h"

#define CHECK(cond)                                                                               \
    do {                                                                                          \
        if (!(cond)) {                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);              \
            exit(1);                                                                              \
        }                                                                                         \
    } while (0)

/* Expect a return code; on mismatch print the store's last error. */
#define CHECK_RC(db, expr, want)                                                                  \
    do {                                                                                          \
        int rc_ = (expr);                                                                         \
        if (rc_ != (want)) {                                                                      \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d; store error: %s\n",         \
                    __FILE__, __LINE__, #expr, rc_, strerror(rc_ < 0 ? -rc_ : rc_), (want),       \
                    (db) ? fw_db_error(db) : "-");                                                \
            exit(1);                                                                              \
        }                                                                                         \
    } while (0)

#define CHECK_STR(a, b)                                                                           \
    do {                                                                                          \
        const char *a_ = (a), *b_ = (b);                                                          \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                  \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,      \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                      \
            exit(1);                                                                              \
        }                                                                                         \
    } while (0)

static char test_dir[256];

static inline int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static inline void rm_test_dir(void)
{
    if (test_dir[0]) nftw(test_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temp folder (removed at exit); returns dir/name in buf. */
static inline const char *test_path(const char *name, char *buf, size_t len)
{
    if (!test_dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(test_dir, sizeof test_dir, "%s/fw-db-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        CHECK(mkdtemp(test_dir) != NULL);
        atexit(rm_test_dir);
    }
    snprintf(buf, len, "%s/%s", test_dir, name);
    return buf;
}

static inline double jget_num(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    CHECK(cJSON_IsNumber(it));
    return it->valuedouble;
}

static inline const char *jget_str(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* A measurement record as docs/worker-protocol.md describes it. median < 0: no stats/samples.
 * Samples are median - 2 .. median + nsamp - 3, so the stored samples are checkable. */
static inline cJSON *make_rec(int seq, int shape_index, const char *shape_key, const char *family,
                       const char *kernel, const char *variant_key, const char *status, double median,
                       int nsamp)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "seq", seq);
    cJSON_AddNumberToObject(m, "shape_index", shape_index);
    cJSON_AddStringToObject(m, "shape_key", shape_key);
    cJSON *shape = cJSON_AddObjectToObject(m, "shape");
    cJSON_AddNumberToObject(shape, "M", 64 * (shape_index + 1));
    cJSON_AddStringToObject(m, "family", family);
    cJSON_AddStringToObject(m, "kernel", kernel);
    cJSON_AddStringToObject(m, "mode", "");
    cJSON_AddStringToObject(m, "variant_key", variant_key);
    cJSON_AddStringToObject(m, "variant_hash", "0123456789abcdef");
    cJSON *knobs = cJSON_AddObjectToObject(m, "knobs");
    cJSON_AddNumberToObject(knobs, "TILE_N", 16 + seq);
    cJSON_AddStringToObject(m, "origin", seq % 2 ? "random" : "preset");
    cJSON_AddStringToObject(m, "status", status);
    if (strcmp(status, "ok") == 0 || strcmp(status, "pruned") == 0) cJSON_AddNullToObject(m, "error");
    else cJSON_AddStringToObject(m, "error", "build log: error: something");
    cJSON_AddNumberToObject(m, "compile_ms", 41.25);
    cJSON_AddBoolToObject(m, "cached", seq % 3 == 0);
    cJSON *ver = cJSON_AddObjectToObject(m, "verify");
    cJSON_AddNumberToObject(ver, "rel_err", 3.5e-7);
    cJSON_AddNumberToObject(ver, "nonfinite", 0);
    cJSON_AddNumberToObject(ver, "unwritten", 0);
    cJSON *res = cJSON_AddObjectToObject(m, "resources");
    cJSON_AddNumberToObject(res, "registers", 40);
    cJSON *geo = cJSON_AddObjectToObject(m, "geometry");
    cJSON_AddNumberToObject(geo, "shared_bytes", 8192);
    if (median >= 0) {
        cJSON *st = cJSON_AddObjectToObject(m, "stats");
        cJSON_AddNumberToObject(st, "n", nsamp);
        cJSON_AddNumberToObject(st, "median_ns", median);
        cJSON_AddNumberToObject(st, "mean_ns", median + 0.5);
        cJSON_AddNumberToObject(st, "min_ns", median - 2);
        cJSON_AddNumberToObject(st, "max_ns", median + nsamp);
        cJSON_AddNumberToObject(st, "stddev_ns", 1.5);
        cJSON_AddNumberToObject(st, "p95_ns", median + 1);
        cJSON_AddNumberToObject(m, "gbps", 12.5);
        cJSON_AddNumberToObject(m, "gflops", 410.25);
        cJSON_AddNumberToObject(m, "bytes", 1000000);
        cJSON_AddNumberToObject(m, "flops", 33554432);
        cJSON *s = cJSON_AddArrayToObject(m, "samples_ns");
        for (int i = 0; i < nsamp; i++) cJSON_AddItemToArray(s, cJSON_CreateNumber(median - 2 + i));
    }
    return m;
}

static inline fw_db_job_new job_template(const cJSON *spec, uint64_t seed)
{
    fw_db_job_new j;
    memset(&j, 0, sizeof j);
    j.spec = spec;
    j.spec_hash = "aaaabbbbccccdddd";
    j.seed = seed;
    j.family = "gemm";
    j.strategy = "random";
    j.budget = 50;
    j.planned = 0;
    j.parent = 0;
    j.device = "opencl:0";
    j.source_hash = NULL;
    j.daemon_version = "0.1.0";
    return j;
}

/* Put a record and free it. */
static inline int put(fw_db *db, int64_t job, int64_t dev, cJSON *m)
{
    int r = fw_db_measurement_put(db, job, dev, m);
    cJSON_Delete(m);
    return r;
}

/* SELECT COUNT(*) of some SQL through the raw handle. */
#include <sqlite3.h>
static inline long long count_sql(fw_db *db, const char *sql)
{
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(fw_db_handle(db), sql, -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

#endif
