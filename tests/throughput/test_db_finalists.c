/* The store's finalists table (schema 2): a version-1 file with a job in it migrates to version 2
 * keeping its measurements, and finalists are stored, replaced, refused for unknown seqs and read
 * back in rank order with their samples. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fw_db.h"
#include "../bench/test_util.h"

static char tmpdir[] = "/tmp/fw-test-dbfin-XXXXXX";

static void raw(const char *path, const char *sql)
{
    sqlite3 *h = NULL;
    CHECK(sqlite3_open(path, &h) == SQLITE_OK);
    char *msg = NULL;
    CHECKF(sqlite3_exec(h, sql, NULL, NULL, &msg) == SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_close(h);
}

static cJSON *record(int seq, const char *shape, double median)
{
    char txt[1024];
    snprintf(txt, sizeof txt,
             "{\"seq\":%d,\"shape_index\":0,\"shape_key\":\"%s\",\"family\":\"gemm\",\"kernel\":\"k\","
             "\"variant_key\":\"TILE_N=%d\",\"knobs\":{\"TILE_N\":%d},\"status\":\"ok\",\"error\":null,"
             "\"stats\":{\"n\":2,\"median_ns\":%g,\"mean_ns\":%g,\"min_ns\":%g,\"max_ns\":%g,\"stddev_ns\":0,"
             "\"p95_ns\":%g},\"samples_ns\":[%g,%g]}",
             seq, shape, 8 * (seq + 1), 8 * (seq + 1), median, median, median, median, median, median, median);
    cJSON *o = cJSON_Parse(txt);
    CHECK(o);
    return o;
}

static cJSON *finalist(int seq, const char *shape, int rank, int first_rank, double median)
{
    char txt[512];
    snprintf(txt, sizeof txt,
             "{\"seq\":%d,\"shape_key\":\"%s\",\"rank\":%d,\"first_rank\":%d,"
             "\"stats\":{\"n\":3,\"median_ns\":%g,\"mean_ns\":%g,\"min_ns\":%g,\"max_ns\":%g,\"stddev_ns\":1,"
             "\"p95_ns\":%g},\"samples_ns\":[%g,%g,%g]}",
             seq, shape, rank, first_rank, median, median, median, median, median, median - 1, median, median + 1);
    cJSON *o = cJSON_Parse(txt);
    CHECK(o);
    return o;
}

int main(void)
{
    CHECK(mkdtemp(tmpdir));
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/s.db", tmpdir);
    fw_db *db = NULL;
    CHECKF(fw_db_open(path, &db, err, sizeof err) == 0, "%s", err);
    cJSON *spec = cJSON_Parse("{\"family\":\"gemm\"}");
    fw_db_job_new jn = { .spec = spec, .seed = 1, .family = "gemm", .strategy = "random", .planned = 4 };
    int64_t job = 0;
    CHECK(fw_db_job_create(db, &jn, &job) == 0);
    double meds[4] = { 300, 100, 110, 500 };
    for (int i = 0; i < 4; i++) {
        cJSON *r = record(i, "M=1", meds[i]);
        CHECKF(fw_db_measurement_put(db, job, 0, r) == 0, "%s", fw_db_error(db));
        cJSON_Delete(r);
    }
    fw_db_close(db);

    /* make it a version-1 file: what a fairway before issue 7 wrote */
    raw(path, "DROP TABLE finalists; DROP TABLE job_events; PRAGMA user_version = 1;");
    CHECKF(fw_db_open(path, &db, err, sizeof err) == 0, "%s", err);
    CHECK(fw_db_user_version(db) == FW_DB_SCHEMA_VERSION);
    cJSON *rk = NULL;
    CHECK(fw_db_rankings(db, job, NULL, 0, &rk) == 0 && cJSON_GetArraySize(rk) == 4);  /* data kept */
    cJSON_Delete(rk);
    cJSON *got = NULL;
    CHECK(fw_db_finalists(db, job, NULL, &got) == 0 && cJSON_GetArraySize(got) == 0);
    cJSON_Delete(got);

    /* the first pass ranks seq 1 before seq 2; the interleaved re-timing reverses them */
    cJSON *fin = cJSON_CreateArray();
    cJSON_AddItemToArray(fin, finalist(2, "M=1", 1, 2, 98));
    cJSON_AddItemToArray(fin, finalist(1, "M=1", 2, 1, 102));
    cJSON_AddItemToArray(fin, finalist(0, "M=1", 3, 3, 290));
    CHECKF(fw_db_finalists_put(db, job, fin) == 0, "%s", fw_db_error(db));
    CHECK(fw_db_finalists(db, job, NULL, &got) == 0 && cJSON_GetArraySize(got) == 3);
    const int want[3] = { 2, 1, 0 };
    for (int i = 0; i < 3; i++) {
        const cJSON *f = cJSON_GetArrayItem(got, i);
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(f, "rank")) == i + 1);
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(f, "seq")) == want[i]);
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(f, "samples_ns")) == 3);
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(f, "first_median_ns")) == meds[want[i]]);
    }
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(got, 0), "variant_key")), "TILE_N=24") == 0);
    cJSON_Delete(got);
    CHECK(fw_db_finalists(db, job, "M=2", &got) == 0 && cJSON_GetArraySize(got) == 0);
    cJSON_Delete(got);

    /* a seq that is not stored: refused, and the earlier finalists stay */
    cJSON *bad = cJSON_CreateArray();
    cJSON_AddItemToArray(bad, finalist(1, "M=1", 1, 1, 50));
    cJSON_AddItemToArray(bad, finalist(9, "M=1", 2, 2, 60));
    CHECK(fw_db_finalists_put(db, job, bad) == -ENOENT);
    CHECK(fw_db_finalists(db, job, NULL, &got) == 0 && cJSON_GetArraySize(got) == 3);
    cJSON_Delete(got);
    /* a put replaces the job's finalists */
    cJSON_DeleteItemFromArray(bad, 1);
    CHECK(fw_db_finalists_put(db, job, bad) == 0);
    CHECK(fw_db_finalists(db, job, NULL, &got) == 0 && cJSON_GetArraySize(got) == 1);
    cJSON_Delete(got);
    CHECK(fw_db_finalists_put(db, job, spec) == -EINVAL);   /* not an array */

    cJSON_Delete(bad);
    cJSON_Delete(fin);
    cJSON_Delete(spec);
    fw_db_close(db);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
    printf("db finalists ok\n");
    return 0;
}
