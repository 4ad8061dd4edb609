/* fw_db.c - the SQLite store's core: prepared statements, errors, open/close, EXPLAIN, the JSON
 * helpers (contract in fw_db.h; schema in fw_db_schema.c; jobs, measurements and queries in
 * fw_db_jobs.c, fw_db_measure.c, fw_db_query.c; shared parts in fw_db_internal.h). */
#include "fw_db.h"
#include "fw_db_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "fw_util.h"

#define RANK_COLS                                                                                 \
    "m.seq, m.shape_key, v.key, v.knobs, m.origin, m.median_ns, m.mean_ns, m.min_ns, m.max_ns, "  \
    "m.stddev_ns, m.p95_ns, m.n, m.gbps, m.gflops, m.compile_ms, m.mode"

#define BEST_SELECT                                                                               \
    "SELECT " RANK_COLS ", m.job, d.identity, m.family, m.kernel, m.shape_index, v.hash "         \
    "FROM measurements m JOIN variants v ON v.id = m.variant_id "                                 \
    "LEFT JOIN devices d ON d.id = m.device_id "

/* The WHERE clauses repeat status = 'ok' literally so SQLite can use the partial index
 * measurements_best / measurements_rank (a bound parameter would not match the index's WHERE). */
static const char *const q_sql[Q__N] = {
    [Q_DEVICE_UPSERT] =
        "INSERT INTO devices(identity, backend, vendor, name, driver, compiler, arch, info, "
        "first_seen, last_seen) VALUES(?1,?2,?3,?4,?5,?6,?7,?8," FW_DB_NOW "," FW_DB_NOW ") "
        "ON CONFLICT(identity) DO UPDATE SET backend=COALESCE(excluded.backend, backend), "
        "vendor=COALESCE(excluded.vendor, vendor), name=COALESCE(excluded.name, name), "
        "driver=COALESCE(excluded.driver, driver), compiler=COALESCE(excluded.compiler, compiler), "
        "arch=COALESCE(excluded.arch, arch), info=COALESCE(excluded.info, info), "
        "last_seen=excluded.last_seen",
    [Q_DEVICE_ID] = "SELECT id FROM devices WHERE identity = ?1",
    [Q_SOURCE_PUT] = "INSERT INTO sources(hash, text, created_at) VALUES(?1, ?2, " FW_DB_NOW ") "
                     "ON CONFLICT(hash) DO NOTHING",
    [Q_JOB_INSERT] =
        "INSERT INTO jobs(state, family, strategy, seed, budget, planned, parent, device, spec, "
        "spec_hash, source_hash, daemon_version, created_at) "
        "VALUES('queued', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, " FW_DB_NOW ")",
    [Q_JOB_EXISTS] = "SELECT 1 FROM jobs WHERE id = ?1",
    [Q_JOB_SOURCE] = "SELECT family, source_hash FROM jobs WHERE id = ?1",
    [Q_VARIANT_INSERT] =
        "INSERT INTO variants(family, key, source_hash, hash, knobs, origin, created_at) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, " FW_DB_NOW ") "
        "ON CONFLICT(family, key, source_hash) DO UPDATE SET "
        "hash = COALESCE(hash, excluded.hash), knobs = COALESCE(knobs, excluded.knobs)",
    [Q_VARIANT_ID] = "SELECT id FROM variants WHERE family = ?1 AND key = ?2 AND source_hash = ?3",
    [Q_MEAS_EXISTS] = "SELECT 1 FROM measurements WHERE job = ?1 AND seq = ?2",
    [Q_MEAS_INSERT] =
        "INSERT INTO measurements(job, seq, device_id, variant_id, shape_index, shape_key, shape, "
        "family, kernel, mode, origin, status, error, compile_ms, cached, rel_err, nonfinite, "
        "unwritten, resources, geometry, n, median_ns, mean_ns, min_ns, max_ns, stddev_ns, p95_ns, "
        "gbps, gflops, bytes, flops, record, created_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,"
        "?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,"
        FW_DB_NOW ")",
    [Q_SAMPLE_INSERT] = "INSERT INTO samples(measurement, idx, ns) VALUES(?1, ?2, ?3)",
    /* The inner select runs on the covering index alone (no table rows, no joins) and only the
     * winner is joined: with kernel or device left open it sorts index entries, not joined rows. */
    [Q_BEST] = BEST_SELECT "WHERE m.id = (SELECT id FROM measurements "
        "WHERE family = ?1 AND shape_key = ?2 AND device_id = ?3 AND kernel = ?4 "
        "AND status = 'ok' ORDER BY median_ns, id LIMIT 1)",
    [Q_BEST_ANY_KERNEL] = BEST_SELECT "WHERE m.id = (SELECT id FROM measurements "
        "WHERE family = ?1 AND shape_key = ?2 AND device_id = ?3 "
        "AND status = 'ok' ORDER BY median_ns, id LIMIT 1)",
    [Q_BEST_ANY_DEVICE] = BEST_SELECT "WHERE m.id = (SELECT id FROM measurements "
        "WHERE family = ?1 AND shape_key = ?2 AND kernel = ?4 "
        "AND status = 'ok' ORDER BY median_ns, id LIMIT 1)",
    [Q_BEST_ANY_BOTH] = BEST_SELECT "WHERE m.id = (SELECT id FROM measurements "
        "WHERE family = ?1 AND shape_key = ?2 "
        "AND status = 'ok' ORDER BY median_ns, id LIMIT 1)",
    /* Ranks are numbered on the covering index measurements_rank alone (it delivers one job's
     * verified rows by shape in (median, seq) order, so the window needs no sort); only the rows
     * within the limit are then joined to their table rows. A shape key has one shape index within
     * a job, so the final order is the plan order of shapes. */
    [Q_RANKINGS] =
        "SELECT r.rank, " RANK_COLS " FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY shape_key "
        "ORDER BY median_ns, seq) AS rank FROM measurements WHERE job = ?1 AND status = 'ok') r "
        "JOIN measurements m ON m.id = r.id JOIN variants v ON v.id = m.variant_id "
        "WHERE ?2 <= 0 OR r.rank <= ?2 ORDER BY m.shape_index, m.shape_key, r.rank",
    [Q_RANKINGS_SHAPE] =
        "SELECT r.rank, " RANK_COLS " FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY median_ns, seq) "
        "AS rank FROM measurements WHERE job = ?1 AND status = 'ok' AND shape_key = ?3 "
        "ORDER BY median_ns, seq LIMIT CASE WHEN ?2 > 0 THEN ?2 ELSE -1 END) r "
        "JOIN measurements m ON m.id = r.id JOIN variants v ON v.id = m.variant_id ORDER BY r.rank",
    [Q_COUNTS] = "SELECT status, COUNT(*) FROM measurements WHERE job = ?1 GROUP BY status",
    [Q_DEVICES_OUT] = "SELECT device, message, created_at FROM job_events WHERE job = ?1 AND kind = 'device_out' "
                      "ORDER BY id",
};

const char *const fwdb_known_status[FWDB_N_STATUS] = {
    "ok", "compile_error", "invalid", "verify_failed", "runtime_error", "pruned", "crashed", "timeout",
};

/* ---------------------------------------------------------------------------------------------- */
/* errors */

int fw_db_rc_to_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK: case SQLITE_ROW: case SQLITE_DONE: return 0;
    case SQLITE_FULL: return -ENOSPC;
    case SQLITE_BUSY: case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH: return -EACCES;
    case SQLITE_CANTOPEN: return -ENOENT;
    case SQLITE_CONSTRAINT: return -EINVAL;
    case SQLITE_MISMATCH: case SQLITE_RANGE: case SQLITE_TOOBIG: return -EINVAL;
    default: return -EIO;
    }
}

/* Copy SQLite's message now: a ROLLBACK afterwards resets sqlite3_errmsg to "not an error". */
int fwdb_fail_sql(fw_db *db, int rc, const char *what)
{
    if (fw_db_fault_take(&db->fault, rc)) {
        snprintf(db->err, sizeof db->err, "%s: database or disk is full (SQLite code %d; test fault "
                 "FAIRWAY_TEST_DB_FULL)", what, SQLITE_FULL);
        return -ENOSPC;
    }
    snprintf(db->err, sizeof db->err, "%s: %s (SQLite code %d)", what, sqlite3_errmsg(db->h), rc);
    return fw_db_rc_to_errno(rc);
}

int fwdb_fail(fw_db *db, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->err, sizeof db->err, fmt, ap);
    va_end(ap);
    return code;
}

const char *fw_db_error(fw_db *db)
{
    if (!db) return "no database";
    return db->err;
}

struct sqlite3 *fw_db_handle(fw_db *db)
{
    return db ? db->h : NULL;
}

uint64_t fw_db_generation(fw_db *db)
{
    return db && db->h ? (uint64_t)sqlite3_total_changes64(db->h) : 0;
}

int fw_db_user_version(fw_db *db)
{
    return fw_db_schema_version(db->h);
}

/* ---------------------------------------------------------------------------------------------- */
/* statements */

int fwdb_prep(fw_db *db, int q, sqlite3_stmt **st)
{
    if (!db->stmt[q]) {
        int rc = sqlite3_prepare_v3(db->h, q_sql[q], -1, SQLITE_PREPARE_PERSISTENT, &db->stmt[q], NULL);
        if (rc != SQLITE_OK) return fwdb_fail_sql(db, rc, "preparing a query");
    }
    *st = db->stmt[q];
    return 0;
}

void fwdb_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

void fwdb_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

/* A one-off statement (not cached). */
int fwdb_prep_once(fw_db *db, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(db->h, sql, -1, st, NULL);
    if (rc != SQLITE_OK) return fwdb_fail_sql(db, rc, "preparing a query");
    return 0;
}

/* Run a one-shot UPDATE of job id (from prep_once) and finalize it: 0, the store's error (what
 * names the step), or -ENOENT when no job has that id. */
int fwdb_step_job_update(fw_db *db, sqlite3_stmt *st, int64_t id, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fwdb_fail_sql(db, rc, what);
    if (sqlite3_changes(db->h) == 0) return fwdb_fail(db, -ENOENT, "no job %" PRId64, id);
    return 0;
}

/* Step a one-shot SELECT of job id (from prep_once) to its row: 0 with st on the row (the caller
 * finalizes it), else st is finalized and the store's error or -ENOENT (no such job) returned. */
int fwdb_step_job_row(fw_db *db, sqlite3_stmt *st, int64_t id, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return 0;
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? fwdb_fail(db, -ENOENT, "no job %" PRId64, id) : fwdb_fail_sql(db, rc, what);
}

int fwdb_exec(fw_db *db, const char *sql, const char *what)
{
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return fwdb_fail_sql(db, rc, what);
    return 0;
}

void fwdb_rollback(fw_db *db)
{
    /* SQLite may already have rolled back on its own (SQLITE_FULL, SQLITE_IOERR, ...). */
    if (!sqlite3_get_autocommit(db->h)) sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

/* ---------------------------------------------------------------------------------------------- */
/* open / close */

int fw_db_open(const char *path, fw_db **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!path || !*path) return fw_errf(err, errlen, -EINVAL, "no database path given");
    /* A store holds users' kernel sources: create it 0600 whatever the umask (SQLite gives its -wal
     * and -shm files the mode of the database file). An existing file keeps its mode. */
    if (strcmp(path, ":memory:") != 0) {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) close(fd);
    }
    fw_db *db = calloc(1, sizeof *db);
    if (!db) return fw_errf(err, errlen, -ENOMEM, "out of memory opening database %s", path);
    int rc = sqlite3_open_v2(path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        int code = fw_db_rc_to_errno(rc);
        fw_errf(err, errlen, code, "cannot open database %s: %s", path,
                db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(rc));
        sqlite3_close(db->h);
        free(db);
        return code;
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_timeout(db->h, FW_DB_BUSY_TIMEOUT_MS);
    int r = fw_db_schema_setup(db->h, path, err, errlen);
    if (r < 0) {
        sqlite3_close(db->h);
        free(db);
        return r;
    }
    fw_db_fault_setup(&db->fault, db->h);
    *out = db;
    return 0;
}

void fw_db_close(fw_db *db)
{
    if (!db) return;
    for (int i = 0; i < Q__N; i++) sqlite3_finalize(db->stmt[i]);
    sqlite3_close(db->h);
    free(db);
}

int fw_db_explain(fw_db *db, const char *name, char **plan)
{
    *plan = NULL;
    static const struct { const char *name; int q; } names[] = {
        {"best", Q_BEST}, {"best_any_kernel", Q_BEST_ANY_KERNEL},
        {"best_any_device", Q_BEST_ANY_DEVICE}, {"rankings", Q_RANKINGS},
        {"rankings_shape", Q_RANKINGS_SHAPE},
    };
    int q = -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name && strcmp(name, names[i].name) == 0) q = names[i].q;
    if (q < 0) return fwdb_fail(db, -EINVAL, "unknown query name '%s' (known: best, best_any_kernel, "
                           "best_any_device, rankings, rankings_shape)", name ? name : "(null)");
    fw_sbuf sql;
    fw_sbuf_init(&sql);
    fw_sbuf_puts(&sql, "EXPLAIN QUERY PLAN ");
    fw_sbuf_puts(&sql, q_sql[q]);
    if (sql.oom) { fw_sbuf_release(&sql); return -ENOMEM; }
    sqlite3_stmt *st;
    int r = fwdb_prep_once(db, sql.data, &st);
    fw_sbuf_release(&sql);
    if (r < 0) return r;
    fw_sbuf b;
    fw_sbuf_init(&b);
    int rc = SQLITE_NOMEM;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(st, 3);
        if (b.len) fw_sbuf_puts(&b, "\n");
        fw_sbuf_puts(&b, d ? d : "");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) { fw_sbuf_release(&b); return fwdb_fail_sql(db, rc, "explaining a query"); }
    *plan = b.len ? fw_sbuf_take(&b) : strdup("");
    fw_sbuf_release(&b);
    return *plan ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------------------------------------- */
/* JSON helpers */

const char *fwdb_jstr(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

const char *fwdb_key_or_empty(const cJSON *o, const char *k)
{
    const char *s = fwdb_jstr(o, k);
    return s ? s : "";
}

int fwdb_jnum(const cJSON *o, const char *k, double *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) return 0;
    *v = it->valuedouble;
    return 1;
}

/* Bind a JSON number as INTEGER when it is integral (counts, ns) so it reads back exactly. */
void fwdb_bind_jnum(sqlite3_stmt *st, int i, const cJSON *o, const char *k)
{
    double v;
    if (!o || !fwdb_jnum(o, k, &v)) { sqlite3_bind_null(st, i); return; }
    if (v == floor(v) && fabs(v) < 9.0e15) sqlite3_bind_int64(st, i, (sqlite3_int64)v);
    else sqlite3_bind_double(st, i, v);
}

void fwdb_bind_jbool(sqlite3_stmt *st, int i, const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsBool(it)) sqlite3_bind_int(st, i, cJSON_IsTrue(it) ? 1 : 0);
    else if (cJSON_IsNumber(it)) sqlite3_bind_int(st, i, it->valuedouble != 0);
    else sqlite3_bind_null(st, i);
}

/* Bind a JSON subtree as its compact text (NULL if absent). Returns -ENOMEM on print failure. */
int fwdb_bind_jtext(sqlite3_stmt *st, int i, const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!it || cJSON_IsNull(it)) { sqlite3_bind_null(st, i); return 0; }
    char *s = cJSON_PrintUnformatted(it);
    if (!s) return -ENOMEM;
    sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    free(s);
    return 0;
}

void fwdb_add_col_num(cJSON *o, const char *k, sqlite3_stmt *st, int c)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER: cJSON_AddNumberToObject(o, k, (double)sqlite3_column_int64(st, c)); break;
    case SQLITE_FLOAT: cJSON_AddNumberToObject(o, k, sqlite3_column_double(st, c)); break;
    default: cJSON_AddNullToObject(o, k); break;
    }
}

void fwdb_add_col_str(cJSON *o, const char *k, sqlite3_stmt *st, int c)
{
    const char *s = (const char *)sqlite3_column_text(st, c);
    if (s) cJSON_AddStringToObject(o, k, s);
    else cJSON_AddNullToObject(o, k);
}

/* A column holding JSON text goes back as parsed JSON (null if absent or unparsable). */
void fwdb_add_col_json(cJSON *o, const char *k, sqlite3_stmt *st, int c)
{
    const char *s = (const char *)sqlite3_column_text(st, c);
    cJSON *v = s ? cJSON_Parse(s) : NULL;
    if (v) cJSON_AddItemToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}
