/* fw_db_query.c - what the store answers: rankings, the best, a job's sequence, samples, finalists
 * (fw_db.h). */
#include "fw_db.h"
#include "fw_db_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

/* ---------------------------------------------------------------------------------------------- */
/* queries */

/* Columns RANK_COLS starting at c0 into a ranking object. */
static void rank_fields(cJSON *o, sqlite3_stmt *st, int c0)
{
    fwdb_add_col_num(o, "seq", st, c0 + 0);
    fwdb_add_col_str(o, "shape_key", st, c0 + 1);
    fwdb_add_col_str(o, "variant_key", st, c0 + 2);
    fwdb_add_col_json(o, "knobs", st, c0 + 3);
    fwdb_add_col_str(o, "origin", st, c0 + 4);
    fwdb_add_col_num(o, "median_ns", st, c0 + 5);
    fwdb_add_col_num(o, "mean_ns", st, c0 + 6);
    fwdb_add_col_num(o, "min_ns", st, c0 + 7);
    fwdb_add_col_num(o, "max_ns", st, c0 + 8);
    fwdb_add_col_num(o, "stddev_ns", st, c0 + 9);
    fwdb_add_col_num(o, "p95_ns", st, c0 + 10);
    fwdb_add_col_num(o, "n", st, c0 + 11);
    fwdb_add_col_num(o, "gbps", st, c0 + 12);
    fwdb_add_col_num(o, "gflops", st, c0 + 13);
    fwdb_add_col_num(o, "compile_ms", st, c0 + 14);
    /* "verify": false workloads store mode 'unverified': say so wherever the result is shown */
    const char *mode = (const char *)sqlite3_column_text(st, c0 + 15);
    if (mode && !strcmp(mode, "unverified"))
        cJSON_AddTrueToObject(o, "unverified");
}

int fw_db_rankings(fw_db *db, int64_t job, const char *shape_key, int limit, cJSON **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int r = fwdb_prep(db, shape_key ? Q_RANKINGS_SHAPE : Q_RANKINGS, &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, job);
    sqlite3_bind_int(st, 2, limit);
    if (shape_key) fwdb_bind_text(st, 3, shape_key);
    cJSON *arr = cJSON_CreateArray();
    int rc = SQLITE_NOMEM;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o) { cJSON_Delete(arr); arr = NULL; break; }
        fwdb_add_col_num(o, "rank", st, 0);
        rank_fields(o, st, 1);
        cJSON_AddItemToArray(arr, o);
    }
    fwdb_done(st);
    if (!arr) return -ENOMEM;
    if (rc != SQLITE_DONE) { cJSON_Delete(arr); return fwdb_fail_sql(db, rc, "ranking measurements"); }
    *out = arr;
    return 0;
}

int fw_db_best(fw_db *db, const char *device, const char *family, const char *kernel,
               const char *shape_key, cJSON **out)
{
    *out = NULL;
    if (!family || !shape_key) return fwdb_fail(db, -EINVAL, "best needs a family and a shape key");
    int64_t dev_id = 0;
    sqlite3_stmt *st;
    int r, rc;
    if (device) {
        r = fwdb_prep(db, Q_DEVICE_ID, &st);
        if (r < 0) return r;
        fwdb_bind_text(st, 1, device);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) dev_id = sqlite3_column_int64(st, 0);
        fwdb_done(st);
        if (rc == SQLITE_DONE)
            return fwdb_fail(db, -ENOENT, "no measurement stored for device '%s' (never seen)", device);
        if (rc != SQLITE_ROW) return fwdb_fail_sql(db, rc, "looking up device");
    }
    int q = device ? (kernel ? Q_BEST : Q_BEST_ANY_KERNEL) : (kernel ? Q_BEST_ANY_DEVICE : Q_BEST_ANY_BOTH);
    r = fwdb_prep(db, q, &st);
    if (r < 0) return r;
    fwdb_bind_text(st, 1, family);
    fwdb_bind_text(st, 2, shape_key);
    if (device) sqlite3_bind_int64(st, 3, dev_id);
    if (kernel) fwdb_bind_text(st, 4, kernel);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o) { fwdb_done(st); return -ENOMEM; }
        cJSON_AddNumberToObject(o, "rank", 1);
        rank_fields(o, st, 0);
        fwdb_add_col_num(o, "job", st, 16);
        fwdb_add_col_str(o, "device", st, 17);
        fwdb_add_col_str(o, "family", st, 18);
        fwdb_add_col_str(o, "kernel", st, 19);
        fwdb_add_col_num(o, "shape_index", st, 20);
        fwdb_add_col_str(o, "variant_hash", st, 21);
        fwdb_done(st);
        *out = o;
        return 0;
    }
    fwdb_done(st);
    if (rc == SQLITE_DONE)
        return fwdb_fail(db, -ENOENT, "no verified measurement stored for family '%s', shape '%s'%s%s%s%s",
                    family, shape_key, kernel ? ", kernel " : "", kernel ? kernel : "",
                    device ? ", device " : "", device ? device : "");
    return fwdb_fail_sql(db, rc, "finding best measurement");
}

int fw_db_shape_keys(fw_db *db, const char *device, const char *family, const char *kernel, cJSON **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int64_t dev_id = 0;
    int r, rc;
    if (device) {
        r = fwdb_prep(db, Q_DEVICE_ID, &st);
        if (r < 0) return r;
        fwdb_bind_text(st, 1, device);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) dev_id = sqlite3_column_int64(st, 0);
        fwdb_done(st);
        if (rc == SQLITE_DONE)
            return fwdb_fail(db, -ENOENT, "no measurement stored for device '%s' (never seen)", device);
        if (rc != SQLITE_ROW) return fwdb_fail_sql(db, rc, "looking up device");
    }
    r = fwdb_prep_once(db, "SELECT DISTINCT shape_key FROM measurements WHERE family = ?1 AND status = 'ok' "
                          "AND (?2 = 0 OR device_id = ?2) AND (?3 IS NULL OR kernel = ?3) ORDER BY shape_key", &st);
    if (r < 0) return r;
    fwdb_bind_text(st, 1, family);
    sqlite3_bind_int64(st, 2, dev_id);
    if (kernel) fwdb_bind_text(st, 3, kernel);
    else sqlite3_bind_null(st, 3);
    cJSON *arr = cJSON_CreateArray();
    rc = SQLITE_NOMEM;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        cJSON_AddItemToArray(arr, cJSON_CreateString(k ? k : ""));
    }
    sqlite3_finalize(st);
    if (!arr) return -ENOMEM;
    if (rc != SQLITE_DONE) { cJSON_Delete(arr); return fwdb_fail_sql(db, rc, "listing tuned shapes"); }
    *out = arr;
    return 0;
}

int fw_db_job_sequence(fw_db *db, int64_t job, cJSON **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    /* the device a record of a several-device job names (its selector; the devices share one
     * identity, so device_id cannot tell them apart) */
    int r = fwdb_prep_once(db, "SELECT m.seq, m.shape_key, v.key, m.status, m.median_ns, "
                          "json_extract(m.record, '$.device'), json_extract(m.record, '$.eval_ms') "
                          "FROM measurements m JOIN variants v ON v.id = m.variant_id "
                          "WHERE m.job = ?1 ORDER BY m.seq", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, job);
    cJSON *arr = cJSON_CreateArray();
    int rc = SQLITE_NOMEM;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o) { cJSON_Delete(arr); arr = NULL; break; }
        fwdb_add_col_num(o, "seq", st, 0);
        fwdb_add_col_str(o, "shape_key", st, 1);
        fwdb_add_col_str(o, "variant_key", st, 2);
        fwdb_add_col_str(o, "status", st, 3);
        fwdb_add_col_num(o, "median_ns", st, 4);
        if (sqlite3_column_type(st, 5) == SQLITE_TEXT)
            fwdb_add_col_str(o, "device", st, 5);
        if (sqlite3_column_type(st, 6) == SQLITE_FLOAT || sqlite3_column_type(st, 6) == SQLITE_INTEGER)
            fwdb_add_col_num(o, "eval_ms", st, 6);   /* what a time budget counts (fw_seq_tell) */
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(st);
    if (!arr) return -ENOMEM;
    if (rc != SQLITE_DONE) { cJSON_Delete(arr); return fwdb_fail_sql(db, rc, "reading job sequence"); }
    *out = arr;
    return 0;
}

int fw_db_samples(fw_db *db, int64_t job, int64_t seq, cJSON **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int r = fwdb_prep_once(db, "SELECT m.id, s.ns FROM measurements m LEFT JOIN samples s "
                          "ON s.measurement = m.id WHERE m.job = ?1 AND m.seq = ?2 ORDER BY s.idx", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, job);
    sqlite3_bind_int64(st, 2, seq);
    cJSON *arr = cJSON_CreateArray();
    int rc = SQLITE_NOMEM, rows = 0;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rows++;
        if (sqlite3_column_type(st, 1) == SQLITE_NULL) continue;   /* measurement without samples */
        cJSON *v = cJSON_CreateNumber(sqlite3_column_double(st, 1));
        if (!v) { cJSON_Delete(arr); arr = NULL; break; }
        cJSON_AddItemToArray(arr, v);
    }
    sqlite3_finalize(st);
    if (!arr) return -ENOMEM;
    if (rc != SQLITE_DONE) { cJSON_Delete(arr); return fwdb_fail_sql(db, rc, "reading samples"); }
    if (!rows) {
        cJSON_Delete(arr);
        return fwdb_fail(db, -ENOENT, "job %" PRId64 " has no measurement with seq %" PRId64, job, seq);
    }
    *out = arr;
    return 0;
}

/* ---- finalists (schema 2) -------------------------------------------------------------------- */

int fw_db_finalists_put(fw_db *db, int64_t job, const cJSON *finalists)
{
    if (!cJSON_IsArray(finalists))
        return fwdb_fail(db, -EINVAL, "finalists must be an array of finalist objects");
    int r = fwdb_exec(db, "BEGIN IMMEDIATE", "starting finalists transaction");
    if (r < 0) return r;
    sqlite3_stmt *del = NULL, *ins = NULL;
    r = fwdb_prep_once(db, "DELETE FROM finalists WHERE job = ?1", &del);
    if (r == 0)
        r = fwdb_prep_once(db, "INSERT INTO finalists (job, seq, shape_key, rank, first_rank, n, median_ns, mean_ns,"
                          " min_ns, max_ns, stddev_ns, p95_ns, samples, created_at)"
                          " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, " FW_DB_NOW
                          " WHERE EXISTS (SELECT 1 FROM measurements WHERE job = ?1 AND seq = ?2)", &ins);
    if (r == 0) {
        sqlite3_bind_int64(del, 1, job);
        int rc = sqlite3_step(del);
        if (rc != SQLITE_DONE) r = fwdb_fail_sql(db, rc, "clearing finalists");
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, finalists) {
        if (r < 0) break;
        double seq = 0, rank = 0;
        const cJSON *stats = cJSON_GetObjectItemCaseSensitive(f, "stats");
        if (fwdb_jnum(f, "seq", &seq) < 0 || fwdb_jnum(f, "rank", &rank) < 0 || !fwdb_jstr(f, "shape_key") || !cJSON_IsObject(stats)) {
            r = fwdb_fail(db, -EINVAL, "a finalist needs \"seq\", \"rank\", \"shape_key\" and \"stats\"");
            break;
        }
        sqlite3_reset(ins);
        sqlite3_clear_bindings(ins);
        sqlite3_bind_int64(ins, 1, job);
        sqlite3_bind_int64(ins, 2, (int64_t)seq);
        fwdb_bind_text(ins, 3, fwdb_jstr(f, "shape_key"));
        sqlite3_bind_int64(ins, 4, (int64_t)rank);
        fwdb_bind_jnum(ins, 5, f, "first_rank");
        const char *cols[] = { "n", "median_ns", "mean_ns", "min_ns", "max_ns", "stddev_ns", "p95_ns" };
        for (int i = 0; i < 7; i++)
            fwdb_bind_jnum(ins, 6 + i, stats, cols[i]);
        const cJSON *smp = cJSON_GetObjectItemCaseSensitive(f, "samples_ns");
        char *txt = cJSON_IsArray(smp) ? cJSON_PrintUnformatted(smp) : NULL;
        if (txt) sqlite3_bind_text(ins, 13, txt, -1, SQLITE_TRANSIENT);
        free(txt);
        int rc = sqlite3_step(ins);
        if (rc != SQLITE_DONE) r = fwdb_fail_sql(db, rc, "storing a finalist");
        else if (sqlite3_changes(db->h) == 0)
            r = fwdb_fail(db, -ENOENT, "finalist seq %" PRId64 " is not a stored measurement of job %" PRId64,
                     (int64_t)seq, job);
    }
    if (del) sqlite3_finalize(del);
    if (ins) sqlite3_finalize(ins);
    if (r == 0) r = fwdb_exec(db, "COMMIT", "committing finalists");
    if (r < 0) fwdb_rollback(db);
    return r;
}

int fw_db_finalists(fw_db *db, int64_t job, const char *shape_key, cJSON **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int r = fwdb_prep_once(db, "SELECT f.rank, f.first_rank, f.seq, f.shape_key, v.key, v.knobs, f.median_ns, f.mean_ns,"
                          " f.min_ns, f.max_ns, f.stddev_ns, f.p95_ns, f.n, m.median_ns, f.samples"
                          " FROM finalists f JOIN measurements m ON m.job = f.job AND m.seq = f.seq"
                          " JOIN variants v ON v.id = m.variant_id"
                          " WHERE f.job = ?1 AND (?2 IS NULL OR f.shape_key = ?2)"
                          " ORDER BY (SELECT MIN(seq) FROM finalists g WHERE g.job = f.job AND g.shape_key = f.shape_key),"
                          " f.rank", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, job);
    fwdb_bind_text(st, 2, shape_key);
    cJSON *arr = cJSON_CreateArray();
    int rc = SQLITE_NOMEM;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o) { rc = SQLITE_NOMEM; break; }
        fwdb_add_col_num(o, "rank", st, 0);
        fwdb_add_col_num(o, "first_rank", st, 1);
        fwdb_add_col_num(o, "seq", st, 2);
        fwdb_add_col_str(o, "shape_key", st, 3);
        fwdb_add_col_str(o, "variant_key", st, 4);
        fwdb_add_col_json(o, "knobs", st, 5);
        const char *cols[] = { "median_ns", "mean_ns", "min_ns", "max_ns", "stddev_ns", "p95_ns", "n",
                               "first_median_ns" };
        for (int i = 0; i < 8; i++)
            fwdb_add_col_num(o, cols[i], st, 6 + i);
        fwdb_add_col_json(o, "samples_ns", st, 14);
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(st);
    if (!arr) return -ENOMEM;
    if (rc != SQLITE_DONE) { cJSON_Delete(arr); return fwdb_fail_sql(db, rc, "reading finalists"); }
    *out = arr;
    return 0;
}

/* ---- failures (issue 19 item 1) -------------------------------------------------------------- */

/* A text column as a string, "" when NULL (failure texts are always strings in these answers). */
static void add_text(cJSON *o, const char *k, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    cJSON_AddStringToObject(o, k, t ? (const char *)t : "");
}

int fw_db_failure_classes(fw_db *db, int64_t job, cJSON **out)
{
    *out = NULL;
    static const char sql[] =
        "SELECT status, COUNT(*), MIN(seq),"
        " (SELECT error FROM measurements e WHERE e.job = m.job AND e.status = m.status"
        "  ORDER BY e.seq LIMIT 1)"
        " FROM measurements m WHERE job = ?1 AND status != 'ok' GROUP BY status ORDER BY MIN(seq)";
    sqlite3_stmt *st = NULL;
    int r = fwdb_prep_once(db, sql, &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, job);
    cJSON *arr = cJSON_CreateArray();
    int rc;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *c = cJSON_CreateObject();
        add_text(c, "status", st, 0);
        cJSON_AddNumberToObject(c, "count", (double)sqlite3_column_int64(st, 1));
        cJSON_AddNumberToObject(c, "first_seq", (double)sqlite3_column_int64(st, 2));
        add_text(c, "first_error", st, 3);
        cJSON_AddItemToArray(arr, c);
    }
    sqlite3_finalize(st);
    if (!arr) return -ENOMEM;
    if (rc != SQLITE_DONE) { cJSON_Delete(arr); return fwdb_fail_sql(db, rc, "reading the job's failure classes"); }
    *out = arr;
    return 0;
}

int fw_db_failures(fw_db *db, int64_t job, const char *status, int limit, cJSON **out)
{
    *out = NULL;
    static const char sql[] =
        "SELECT m.seq, m.status, m.shape_key, v.key, m.kernel, m.error"
        " FROM measurements m LEFT JOIN variants v ON v.id = m.variant_id"
        " WHERE m.job = ?1 AND m.status != 'ok' AND (?2 IS NULL OR m.status = ?2) ORDER BY m.seq LIMIT ?3";
    sqlite3_stmt *st = NULL;
    int r = fwdb_prep_once(db, sql, &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, job);
    fwdb_bind_text(st, 2, status);
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
    cJSON *arr = cJSON_CreateArray();
    int rc;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "seq", (double)sqlite3_column_int64(st, 0));
        add_text(f, "status", st, 1);
        add_text(f, "shape_key", st, 2);
        add_text(f, "variant_key", st, 3);
        add_text(f, "kernel", st, 4);
        add_text(f, "error", st, 5);
        cJSON_AddItemToArray(arr, f);
    }
    sqlite3_finalize(st);
    if (!arr) return -ENOMEM;
    if (rc != SQLITE_DONE) { cJSON_Delete(arr); return fwdb_fail_sql(db, rc, "reading the job's failures"); }
    *out = arr;
    return 0;
}
