/* A full database (PRAGMA max_page_count set low): the put that does not fit returns an error with
 * SQLite's message, is absent afterwards, and every earlier measurement and its samples are intact;
 * the connection keeps working once there is room again. */
#include "db_test.h"

#include <sqlite3.h>

#define NSAMP 300   /* ~2.4 KB of samples per record: a few records per 4 KiB page */

static void check_intact(fw_db *db, int64_t job, int stored)
{
    int64_t *seqs = NULL;
    size_t n = 0;
    CHECK_RC(db, fw_db_measured_seqs(db, job, &seqs, &n), 0);
    CHECK((int)n == stored);
    for (int i = 0; i < stored; i++) CHECK(seqs[i] == i);
    free(seqs);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM samples") == (long long)stored * NSAMP);
    for (int i = 0; i < stored; i++) {
        cJSON *s = NULL;
        CHECK_RC(db, fw_db_samples(db, job, i, &s), 0);
        CHECK(cJSON_GetArraySize(s) == NSAMP);
        CHECK(cJSON_GetArrayItem(s, 0)->valuedouble == 1000 + i - 2);
        CHECK(cJSON_GetArrayItem(s, NSAMP - 1)->valuedouble == 1000 + i - 2 + NSAMP - 1);
        cJSON_Delete(s);
    }
    cJSON *o = NULL;
    CHECK_RC(db, fw_db_job_get(db, job, &o), 0);
    CHECK(jget_num(o, "evaluated") == stored);
    cJSON_Delete(o);
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(fw_db_handle(db), "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_STR((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

int main(void)
{
    char path[512], err[512];
    fw_db *db = NULL;
    CHECK_RC(NULL, fw_db_open(test_path("full.db", path, sizeof path), &db, err, sizeof err), 0);
    cJSON *spec = cJSON_Parse("{\"family\":\"gemm\"}");
    fw_db_job_new j = job_template(spec, 1);
    int64_t job = 0, dev = 0;
    CHECK_RC(db, fw_db_job_create(db, &j, &job), 0);
    CHECK_RC(db, fw_db_device_upsert(db, "opencl|x|y|z|w", NULL, &dev), 0);

    long long pages = count_sql(db, "PRAGMA page_count");
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", pages + 40);
    CHECK(sqlite3_exec(fw_db_handle(db), sql, NULL, NULL, NULL) == SQLITE_OK);

    int stored = 0, r = 0;
    for (int seq = 0; seq < 10000; seq++) {
        char vk[32];
        snprintf(vk, sizeof vk, "TILE_N=%d", seq);
        r = put(db, job, dev, make_rec(seq, 0, "M=64", "gemm", "gemm_tiled", vk, "ok", 1000 + seq, NSAMP));
        if (r != 0) break;
        stored++;
    }
    CHECK(stored > 3);                  /* some fitted before the limit */
    CHECK(r == -ENOSPC);
    CHECK(strstr(fw_db_error(db), "full") != NULL);
    printf("full after %d measurements: %s\n", stored, fw_db_error(db));
    CHECK(count_sql(db, "SELECT COUNT(*) FROM variants WHERE key = 'TILE_N=' || (SELECT COUNT(*) "
                        "FROM measurements)") == 0);   /* the failing put's variant row rolled back */
    check_intact(db, job, stored);

    /* still full: a second try fails the same way and changes nothing */
    char vk[32];
    snprintf(vk, sizeof vk, "TILE_N=%d", stored);
    CHECK_RC(db, put(db, job, dev, make_rec(stored, 0, "M=64", "gemm", "gemm_tiled", vk, "ok",
                                             1000 + stored, NSAMP)), -ENOSPC);
    check_intact(db, job, stored);

    /* room again: the same seq now lands */
    CHECK(sqlite3_exec(fw_db_handle(db), "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL) == SQLITE_OK);
    CHECK_RC(db, put(db, job, dev, make_rec(stored, 0, "M=64", "gemm", "gemm_tiled", vk, "ok",
                                             1000 + stored, NSAMP)), 0);
    check_intact(db, job, stored + 1);
    fw_db_close(db);

    /* and all of it is on disk */
    CHECK_RC(NULL, fw_db_open(path, &db, err, sizeof err), 0);
    check_intact(db, job, stored + 1);
    fw_db_close(db);
    cJSON_Delete(spec);
    printf("db full: ok\n");
    return 0;
}
