/* A store written by tree 0c4fc39 (data/store_0c4fc39.sql, issue 10) opened by today's store: it is
 * migrated to FW_DB_SCHEMA_VERSION, its jobs, rankings, finalists, best and samples read back, the
 * running job is listed for resume with its stored seqs, and measurements go on being stored in it.
 * usage: test_db_old_store STORE.sql */
#include "db_test.h"

#include <sqlite3.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long n = ftell(f);
    CHECK(n > 0 && fseek(f, 0, SEEK_SET) == 0);
    char *s = malloc((size_t)n + 1);
    CHECK(s && fread(s, 1, (size_t)n, f) == (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    char path[512], err[512];
    test_path("old.db", path, sizeof path);
    sqlite3 *h = NULL;
    char *sql = slurp(argv[1]), *msg = NULL;
    CHECK(sqlite3_open(path, &h) == SQLITE_OK);
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "loading %s: %s\n", argv[1], msg ? msg : "?");
        return 1;
    }
    sqlite3_close(h);
    free(sql);

    fw_db *db = NULL;
    CHECK_RC(NULL, fw_db_open(path, &db, err, sizeof err), 0);
    CHECK(fw_db_user_version(db) == FW_DB_SCHEMA_VERSION);

    int64_t *ids = NULL;
    size_t n = 0;
    CHECK_RC(db, fw_db_jobs_unfinished(db, &ids, &n), 0);
    CHECK(n == 1 && ids[0] == 2);
    free(ids);
    int64_t *seqs = NULL;
    CHECK_RC(db, fw_db_measured_seqs(db, 2, &seqs, &n), 0);
    CHECK(n == 3 && seqs[0] == 0 && seqs[1] == 1 && seqs[2] == 2);
    free(seqs);
    uint64_t seed = 0;
    CHECK_RC(db, fw_db_job_seed(db, 2, &seed), 0);
    CHECK(seed == 77);

    cJSON *o = NULL;
    CHECK_RC(db, fw_db_job_get(db, 1, &o), 0);
    CHECK_STR(jget_str(o, "state"), "done");
    CHECK(jget_num(o, "evaluated") == 6 && jget_num(o, "planned") == 6);
    CHECK_STR(jget_str(cJSON_GetObjectItemCaseSensitive(o, "spec"), "profile"), "gemm_small");
    CHECK(jget_num(cJSON_GetObjectItemCaseSensitive(o, "counts"), "ok") == 6);
    cJSON_Delete(o);
    CHECK_RC(db, fw_db_job_get(db, 2, &o), 0);
    CHECK_STR(jget_str(o, "state"), "running");
    CHECK(jget_num(o, "evaluated") == 3 && jget_num(o, "planned") == 16);
    cJSON_Delete(o);

    CHECK_RC(db, fw_db_rankings(db, 1, NULL, 0, &o), 0);
    CHECK(cJSON_GetArraySize(o) == 6 && jget_num(cJSON_GetArrayItem(o, 0), "rank") == 1);
    double best_median = jget_num(cJSON_GetArrayItem(o, 0), "median_ns");
    const char *shape = jget_str(cJSON_GetArrayItem(o, 0), "shape_key");
    CHECK_STR(shape, "K=64,M=64,N=64");
    cJSON_Delete(o);
    CHECK_RC(db, fw_db_finalists(db, 1, NULL, &o), 0);
    CHECK(cJSON_GetArraySize(o) == 5 && jget_num(cJSON_GetArrayItem(o, 0), "rank") == 1);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(o, 0), "samples_ns")) > 0);
    cJSON_Delete(o);
    CHECK_RC(db, fw_db_best(db, NULL, "gemm", NULL, "K=64,M=64,N=64", &o), 0);
    CHECK(jget_num(o, "median_ns") <= best_median);
    cJSON_Delete(o);
    CHECK_RC(db, fw_db_samples(db, 2, 0, &o), 0);
    CHECK(cJSON_GetArraySize(o) == 5);
    cJSON_Delete(o);

    /* the resumed job goes on: a new seq is stored, a stored one refused */
    CHECK_RC(db, fw_db_job_set_state(db, 2, "running", NULL), 0);
    CHECK_RC(db, put(db, 2, 1, make_rec(3, 0, "K=64,M=64,N=64", "gemm", "gemm_tiled", "TILE_N=16", "ok", 90000, 5)), 0);
    CHECK_RC(db, put(db, 2, 1, make_rec(0, 0, "K=64,M=64,N=64", "gemm", "gemm_tiled", "TILE_N=16", "ok", 90000, 5)),
             -EEXIST);
    CHECK_RC(db, fw_db_measured_seqs(db, 2, &seqs, &n), 0);
    CHECK(n == 4 && seqs[3] == 3);
    free(seqs);
    fw_db_close(db);
    printf("db old store: ok\n");
    return 0;
}
