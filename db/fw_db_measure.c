/* fw_db_measure.c - one measurement into the store, in one transaction (fw_db.h). */
#include "fw_db.h"
#include "fw_db_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_assert.h"
#include "fw_util.h"

/* ---------------------------------------------------------------------------------------------- */
/* measurements */

static int valid_status(const char *s)
{
    for (size_t i = 0; i < FWDB_N_STATUS; i++)
        if (s && strcmp(s, fwdb_known_status[i]) == 0) return 1;
    return 0;
}

/* Everything that can be refused without touching the database, so a bad record never opens a
 * transaction. */
static int check_record(fw_db *db, const cJSON *m, int64_t *seq)
{
    if (!cJSON_IsObject(m)) return fwdb_fail(db, -EINVAL, "a measurement must be a JSON object");
    double v;
    if (!fwdb_jnum(m, "seq", &v) || v < 0 || v != floor(v) || v > 9.0e15)
        return fwdb_fail(db, -EINVAL, "measurement has no valid \"seq\" (a non-negative integer)");
    *seq = (int64_t)v;
    const char *status = fwdb_jstr(m, "status");
    if (!valid_status(status))
        return fwdb_fail(db, -EINVAL, "measurement seq %" PRId64 " has unknown status '%s' (known: ok, "
                    "compile_error, invalid, verify_failed, runtime_error, pruned, crashed, timeout)",
                    *seq, status ? status : "(none)");
    if (strcmp(status, "ok") == 0) {
        /* A failure record the daemon writes for a seq it could not place may lack the keys (stored
         * as ''); a ranked one never may. */
        if (!fwdb_jstr(m, "shape_key"))
            return fwdb_fail(db, -EINVAL, "measurement seq %" PRId64 " is 'ok' but has no \"shape_key\" "
                        "string", *seq);
        if (!fwdb_jstr(m, "variant_key"))
            return fwdb_fail(db, -EINVAL, "measurement seq %" PRId64 " is 'ok' but has no \"variant_key\" "
                        "string", *seq);
        const cJSON *stats = cJSON_GetObjectItemCaseSensitive(m, "stats");
        if (!cJSON_IsObject(stats) || !fwdb_jnum(stats, "median_ns", &v))
            return fwdb_fail(db, -EINVAL, "measurement seq %" PRId64 " is 'ok' but has no stats.median_ns, "
                        "so it cannot be ranked", *seq);
    }
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(m, "samples_ns");
    if (samples && !cJSON_IsNull(samples)) {
        if (!cJSON_IsArray(samples))
            return fwdb_fail(db, -EINVAL, "measurement seq %" PRId64 ": \"samples_ns\" must be an array",
                        *seq);
        const cJSON *s;
        cJSON_ArrayForEach(s, samples) {
            if (!cJSON_IsNumber(s) || !isfinite(s->valuedouble))
                return fwdb_fail(db, -EINVAL, "measurement seq %" PRId64 ": \"samples_ns\" holds a "
                            "non-number", *seq);
        }
    }
    return 0;
}

static int put_variant(fw_db *db, const cJSON *m, const char *family, const char *source_hash,
                       int64_t *vid)
{
    sqlite3_stmt *st;
    int r = fwdb_prep(db, Q_VARIANT_INSERT, &st);
    if (r < 0) return r;
    fwdb_bind_text(st, 1, family);
    fwdb_bind_text(st, 2, fwdb_key_or_empty(m, "variant_key"));
    fwdb_bind_text(st, 3, source_hash);
    fwdb_bind_text(st, 4, fwdb_jstr(m, "variant_hash"));
    r = fwdb_bind_jtext(st, 5, m, "knobs");
    if (r < 0) { fwdb_done(st); return r; }
    fwdb_bind_text(st, 6, fwdb_jstr(m, "origin"));
    int rc = sqlite3_step(st);
    fwdb_done(st);
    if (rc != SQLITE_DONE) return fwdb_fail_sql(db, rc, "storing variant");
    r = fwdb_prep(db, Q_VARIANT_ID, &st);
    if (r < 0) return r;
    fwdb_bind_text(st, 1, family);
    fwdb_bind_text(st, 2, fwdb_key_or_empty(m, "variant_key"));
    fwdb_bind_text(st, 3, source_hash);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *vid = sqlite3_column_int64(st, 0);
    fwdb_done(st);
    if (rc != SQLITE_ROW) return fwdb_fail_sql(db, rc, "reading variant id");
    return 0;
}

static int put_measurement_row(fw_db *db, int64_t job, int64_t device_id, int64_t seq, int64_t vid,
                               const char *family, const cJSON *m, int64_t *mid)
{
    sqlite3_stmt *st;
    int r = fwdb_prep(db, Q_MEAS_INSERT, &st);
    if (r < 0) return r;
    const cJSON *verify = cJSON_GetObjectItemCaseSensitive(m, "verify");
    const cJSON *stats = cJSON_GetObjectItemCaseSensitive(m, "stats");
    if (!cJSON_IsObject(verify)) verify = NULL;
    if (!cJSON_IsObject(stats)) stats = NULL;
    const char *kernel = fwdb_jstr(m, "kernel");
    const char *mode = fwdb_jstr(m, "mode");
    sqlite3_bind_int64(st, 1, job);
    sqlite3_bind_int64(st, 2, seq);
    if (device_id > 0) sqlite3_bind_int64(st, 3, device_id);
    else sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, vid);
    fwdb_bind_jnum(st, 5, m, "shape_index");
    fwdb_bind_text(st, 6, fwdb_key_or_empty(m, "shape_key"));
    r = fwdb_bind_jtext(st, 7, m, "shape");
    fwdb_bind_text(st, 8, family);
    fwdb_bind_text(st, 9, kernel ? kernel : "");
    fwdb_bind_text(st, 10, mode ? mode : "");
    fwdb_bind_text(st, 11, fwdb_jstr(m, "origin"));
    fwdb_bind_text(st, 12, fwdb_jstr(m, "status"));
    fwdb_bind_text(st, 13, fwdb_jstr(m, "error"));
    fwdb_bind_jnum(st, 14, m, "compile_ms");
    fwdb_bind_jbool(st, 15, m, "cached");
    fwdb_bind_jnum(st, 16, verify, "rel_err");
    fwdb_bind_jnum(st, 17, verify, "nonfinite");
    fwdb_bind_jnum(st, 18, verify, "unwritten");
    if (r == 0) r = fwdb_bind_jtext(st, 19, m, "resources");
    if (r == 0) r = fwdb_bind_jtext(st, 20, m, "geometry");
    fwdb_bind_jnum(st, 21, stats, "n");
    fwdb_bind_jnum(st, 22, stats, "median_ns");
    fwdb_bind_jnum(st, 23, stats, "mean_ns");
    fwdb_bind_jnum(st, 24, stats, "min_ns");
    fwdb_bind_jnum(st, 25, stats, "max_ns");
    fwdb_bind_jnum(st, 26, stats, "stddev_ns");
    fwdb_bind_jnum(st, 27, stats, "p95_ns");
    fwdb_bind_jnum(st, 28, m, "gbps");
    fwdb_bind_jnum(st, 29, m, "gflops");
    fwdb_bind_jnum(st, 30, m, "bytes");
    fwdb_bind_jnum(st, 31, m, "flops");
    /* The whole record minus the samples (they have their own table): fields without a column
     * survive for later schema versions to pick up. */
    if (r == 0) {
        cJSON *copy = cJSON_Duplicate(m, 1);
        char *rec = NULL;
        if (copy) {
            cJSON_DeleteItemFromObjectCaseSensitive(copy, "samples_ns");
            rec = cJSON_PrintUnformatted(copy);
            cJSON_Delete(copy);
        }
        if (rec) sqlite3_bind_text(st, 32, rec, -1, SQLITE_TRANSIENT);
        else r = -ENOMEM;
        free(rec);
    }
    if (r < 0) { fwdb_done(st); return r; }
    int rc = sqlite3_step(st);
    fwdb_done(st);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return fwdb_fail(db, -EEXIST, "job %" PRId64 " already has a measurement for seq %" PRId64,
                        job, seq);
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return fwdb_fail(db, -ENOENT, "measurement seq %" PRId64 " names a job or device that does not "
                        "exist (job %" PRId64 ", device %" PRId64 ")", seq, job, device_id);
        return fwdb_fail_sql(db, rc, "storing measurement");
    }
    *mid = sqlite3_last_insert_rowid(db->h);
    return 0;
}

static int put_samples(fw_db *db, int64_t mid, const cJSON *m)
{
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(m, "samples_ns");
    if (!cJSON_IsArray(samples)) return 0;
    sqlite3_stmt *st;
    int r = fwdb_prep(db, Q_SAMPLE_INSERT, &st);
    if (r < 0) return r;
    const cJSON *s;
    int64_t idx = 0;
    cJSON_ArrayForEach(s, samples) {
        double v = s->valuedouble;
        sqlite3_bind_int64(st, 1, mid);
        sqlite3_bind_int64(st, 2, idx++);
        if (v == floor(v) && fabs(v) < 9.0e15) sqlite3_bind_int64(st, 3, (sqlite3_int64)v);
        else sqlite3_bind_double(st, 3, v);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) { fwdb_done(st); return fwdb_fail_sql(db, rc, "storing samples"); }
    }
    fwdb_done(st);
    return 0;
}

int fw_db_measurement_put(fw_db *db, int64_t job, int64_t device_id, const cJSON *m)
{
    int64_t seq = 0;
    int r = check_record(db, m, &seq);
    if (r < 0) return r;
    fw_db_fault_seq(&db->fault, seq);
    r = fwdb_exec(db, "BEGIN IMMEDIATE", "starting measurement transaction");
    if (r < 0) return r;

    /* Job's family and source hash name the variant when the record leaves them out. */
    sqlite3_stmt *st;
    char *job_family = NULL, *job_source = NULL;
    r = fwdb_prep(db, Q_JOB_SOURCE, &st);
    if (r < 0) goto out;
    sqlite3_bind_int64(st, 1, job);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        job_family = fw_strdup((const char *)sqlite3_column_text(st, 0));
        job_source = fw_strdup((const char *)sqlite3_column_text(st, 1));
    }
    fwdb_done(st);
    if (rc == SQLITE_DONE) { r = fwdb_fail(db, -ENOENT, "no job %" PRId64 " to store seq %" PRId64 " in",
                                      job, seq); goto out; }
    if (rc != SQLITE_ROW) { r = fwdb_fail_sql(db, rc, "looking up job"); goto out; }

    r = fwdb_prep(db, Q_MEAS_EXISTS, &st);
    if (r < 0) goto out;
    sqlite3_bind_int64(st, 1, job);
    sqlite3_bind_int64(st, 2, seq);
    rc = sqlite3_step(st);
    fwdb_done(st);
    if (rc == SQLITE_ROW) {
        r = fwdb_fail(db, -EEXIST, "job %" PRId64 " already has a measurement for seq %" PRId64, job, seq);
        goto out;
    }
    if (rc != SQLITE_DONE) { r = fwdb_fail_sql(db, rc, "looking up measurement"); goto out; }

    const char *family = fwdb_jstr(m, "family") ? fwdb_jstr(m, "family") : job_family;
    if (!family) { r = fwdb_fail(db, -EINVAL, "measurement seq %" PRId64 " names no family and job %"
                            PRId64 " has none", seq, job); goto out; }
    const char *source = fwdb_jstr(m, "source_hash") ? fwdb_jstr(m, "source_hash")
                                                : (job_source ? job_source : "");
    int64_t vid = 0, mid = 0;
    r = put_variant(db, m, family, source, &vid);
    if (r == 0) r = put_measurement_row(db, job, device_id, seq, vid, family, m, &mid);
    if (r == 0) r = put_samples(db, mid, m);
    if (r == 0) {
        rc = sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) r = fwdb_fail_sql(db, rc, "committing measurement");
    }
out:
    if (r < 0) fwdb_rollback(db);
    FW_ASSERT(sqlite3_get_autocommit(db->h));   /* committed or rolled back, never left open */
    free(job_family);
    free(job_source);
    return r;
}
