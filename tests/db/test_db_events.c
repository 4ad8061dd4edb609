/* Job events (schema 3, issue 17): a device taken out of a several-device job is kept with the job,
 * read back in fw_db_job_get and fw_db_jobs_list as "devices_out" (and absent for other jobs); a
 * version-2 store (before the table) opens, is migrated, keeps its jobs and takes events. */
#include "db_test.h"

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *h = NULL;
    CHECK(sqlite3_open(path, &h) == SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "raw_exec(%s): %s\n", sql, msg ? msg : "?");
        exit(1);
    }
    sqlite3_close(h);
}

static const cJSON *devices_out(const cJSON *job)
{
    return cJSON_GetObjectItemCaseSensitive(job, "devices_out");
}

int main(void)
{
    char path[512], err[512];
    fw_db *db = NULL;
    test_path("events.db", path, sizeof path);
    CHECK_RC(NULL, fw_db_open(path, &db, err, sizeof err), 0);
    CHECK(fw_db_user_version(db) == 3);
    cJSON *spec = cJSON_Parse("{\"family\":\"gemm\",\"devices\":[\"opencl:0\",\"opencl:1\"]}");
    fw_db_job_new jn = job_template(spec, 7);
    int64_t a = 0, b = 0;
    CHECK_RC(db, fw_db_job_create(db, &jn, &a), 0);
    CHECK_RC(db, fw_db_job_create(db, &jn, &b), 0);
    fw_db_close(db);

    /* a store written before schema 3: no job_events table, user_version 2 */
    raw_exec(path, "DROP TABLE job_events; PRAGMA user_version = 2;");
    CHECK_RC(NULL, fw_db_open(path, &db, err, sizeof err), 0);
    CHECK(fw_db_user_version(db) == FW_DB_SCHEMA_VERSION);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM jobs") == 2);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM job_events") == 0);
    cJSON *row = NULL;
    CHECK_RC(db, fw_db_job_get(db, a, &row), 0);
    CHECK(devices_out(row) == NULL);   /* a job with no device out has no such field */
    cJSON_Delete(row);

    CHECK_RC(db, fw_db_job_event_add(db, a, "device_out", "opencl:1", "device opencl:1 could not be opened: gone"), 0);
    CHECK_RC(db, fw_db_job_event_add(db, a, "device_out", "opencl:2", "its worker died 3 times"), 0);
    CHECK_RC(db, fw_db_job_event_add(db, 99, "device_out", "opencl:1", "x"), -ENOENT);
    CHECK_RC(db, fw_db_job_event_add(db, a, "device_out", "opencl:1", ""), -EINVAL);
    CHECK_RC(db, fw_db_job_event_add(db, a, "", "opencl:1", "x"), -EINVAL);

    CHECK_RC(db, fw_db_job_get(db, a, &row), 0);
    const cJSON *out = devices_out(row);
    CHECK(cJSON_GetArraySize(out) == 2);   /* oldest first */
    CHECK_STR(jget_str(cJSON_GetArrayItem(out, 0), "device"), "opencl:1");
    CHECK_STR(jget_str(cJSON_GetArrayItem(out, 0), "error"), "device opencl:1 could not be opened: gone");
    CHECK(jget_str(cJSON_GetArrayItem(out, 0), "at") != NULL);
    CHECK_STR(jget_str(cJSON_GetArrayItem(out, 1), "device"), "opencl:2");
    cJSON_Delete(row);

    cJSON *list = NULL;
    CHECK_RC(db, fw_db_jobs_list(db, NULL, 0, &list), 0);
    CHECK(cJSON_GetArraySize(list) == 2);
    const cJSON *j;
    cJSON_ArrayForEach(j, list) {
        if ((int64_t)jget_num(j, "id") == a)
            CHECK(cJSON_GetArraySize(devices_out(j)) == 2);
        else
            CHECK(devices_out(j) == NULL);
    }
    cJSON_Delete(list);

    /* the events go with their job */
    CHECK(sqlite3_exec(fw_db_handle(db), "DELETE FROM jobs WHERE id = 1", NULL, NULL, NULL) == SQLITE_OK);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM job_events") == 0);
    fw_db_close(db);
    cJSON_Delete(spec);
    printf("ok\n");
    return 0;
}
