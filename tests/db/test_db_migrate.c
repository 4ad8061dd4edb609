/* Schema versions: an empty file is migrated, an existing one reopened as is, a newer one refused,
 * someone else's database left alone, a failing migration step leaves the file at its old version. */
#include "db_test.h"

#include <fcntl.h>
#include <sqlite3.h>

/* Run SQL on a file through a raw connection (as another tool would). */
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

static long long raw_count(const char *path, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st;
    CHECK(sqlite3_open(path, &h) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static const char *const tables[] = {"devices", "sources", "jobs", "variants", "measurements", "samples"};

static void check_schema(fw_db *db)
{
    CHECK(fw_db_user_version(db) == FW_DB_SCHEMA_VERSION);
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM sqlite_schema WHERE type='table' AND name='%s'",
                 tables[i]);
        if (count_sql(db, sql) != 1) {
            fprintf(stderr, "table %s missing after migration\n", tables[i]);
            exit(1);
        }
    }
    CHECK(count_sql(db, "SELECT COUNT(*) FROM sqlite_schema WHERE type='index' AND "
                        "name IN ('measurements_best','measurements_rank')") == 2);
    CHECK(count_sql(db, "SELECT foreign_keys FROM pragma_foreign_keys") == 1);
}

int main(void)
{
    char path[512], err[512];
    fw_db *db = NULL;

    /* 1. a path that does not exist yet */
    test_path("new.db", path, sizeof path);
    CHECK_RC(NULL, fw_db_open(path, &db, err, sizeof err), 0);
    check_schema(db);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'") == 1);
    CHECK_RC(db, fw_db_source_put(db, "h", "text"), 0);
    int64_t dev = 0;
    CHECK_RC(db, fw_db_device_upsert(db, "opencl|a|b|c|d", NULL, &dev), 0);
    fw_db_close(db);

    /* 2. reopen: same version, data kept, no second migration */
    CHECK_RC(NULL, fw_db_open(path, &db, err, sizeof err), 0);
    check_schema(db);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM sources WHERE hash = 'h'") == 1);
    CHECK(count_sql(db, "SELECT COUNT(*) FROM devices") == 1);
    fw_db_close(db);

    /* 3. an empty (zero-byte) file */
    char empty[512];
    test_path("empty.db", empty, sizeof empty);
    int fd = open(empty, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK_RC(NULL, fw_db_open(empty, &db, err, sizeof err), 0);
    check_schema(db);
    fw_db_close(db);

    /* 4. a file from a newer fairway is refused and left untouched */
    raw_exec(path, "PRAGMA user_version = 99");
    db = (fw_db *)1;
    err[0] = 0;
    CHECK_RC(NULL, fw_db_open(path, &db, err, sizeof err), -EPROTO);
    CHECK(db == NULL);
    CHECK(strstr(err, "schema version 99") != NULL && strstr(err, "newer") != NULL);
    CHECK(raw_count(path, "PRAGMA user_version") == 99);
    CHECK(raw_count(path, "SELECT COUNT(*) FROM sources") == 1);

    /* 5. somebody else's database (tables, version 0): refused, not modified */
    char other[512];
    test_path("other.db", other, sizeof other);
    raw_exec(other, "CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES('mine')");
    CHECK_RC(NULL, fw_db_open(other, &db, err, sizeof err), -EINVAL);
    CHECK(strstr(err, "refusing") != NULL);
    CHECK(raw_count(other, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'jobs'") == 0);
    CHECK(raw_count(other, "PRAGMA user_version") == 0);

    /* 6. not a database at all */
    char junk[512];
    test_path("junk.db", junk, sizeof junk);
    FILE *f = fopen(junk, "w");
    CHECK(f);
    for (int i = 0; i < 200; i++) fputs("this is not a sqlite file, it is a text file\n", f);
    fclose(f);
    CHECK(fw_db_open(junk, &db, err, sizeof err) < 0);
    CHECK(strstr(err, "not a SQLite database") != NULL);

    /* 7. a migration step that fails half way rolls back as a whole: a view named like one of our
     * tables (no tables, so the file looks empty) makes CREATE TABLE samples fail after the
     * other tables were created in the same transaction. */
    char half[512];
    test_path("half.db", half, sizeof half);
    raw_exec(half, "CREATE VIEW samples AS SELECT 1 AS x");
    CHECK(fw_db_open(half, &db, err, sizeof err) < 0);
    CHECK(strstr(err, "migrating schema 0 -> 1") != NULL);
    CHECK(raw_count(half, "PRAGMA user_version") == 0);
    CHECK(raw_count(half, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'devices'") == 0);

    /* 8. an unopenable path */
    CHECK(fw_db_open("/nonexistent-dir-fw/x/y.db", &db, err, sizeof err) < 0);
    CHECK(strstr(err, "cannot open database") != NULL);

    printf("db migrate: ok\n");
    return 0;
}
