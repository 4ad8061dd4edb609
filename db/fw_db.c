/* fw_db.c - the SQLite store (contract in fw_db.h, schema in fw_db_schema.c). */
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

/* Hot statements are prepared once per connection: fw_db_best must answer in microseconds, and
 * preparing costs more than running it on an indexed table. */
enum {
    Q_DEVICE_UPSERT,
    Q_DEVICE_ID,
    Q_SOURCE_PUT,
    Q_JOB_INSERT,
    Q_JOB_EXISTS,
    Q_JOB_SOURCE,
    Q_VARIANT_INSERT,
    Q_VARIANT_ID,
    Q_MEAS_EXISTS,
    Q_MEAS_INSERT,
    Q_SAMPLE_INSERT,
    Q_BEST,
    Q_BEST_ANY_KERNEL,
    Q_BEST_ANY_DEVICE,
    Q_BEST_ANY_BOTH,
    Q_RANKINGS,
    Q_RANKINGS_SHAPE,
    Q_COUNTS,
    Q__N
};

#define RANK_COLS                                                                                 \
    "m.seq, m.shape_key, v.key, v.knobs, m.origin, m.median_ns, m.mean_ns, m.min_ns, m.max_ns, "  \
    "m.stddev_ns, m.p95_ns, m.n, m.gbps, m.gflops, m.compile_ms"

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
};

static const char *const known_status[] = {
    "ok", "compile_error", "invalid", "verify_failed", "runtime_error", "pruned", "crashed", "timeout",
};
#define N_STATUS (sizeof known_status / sizeof known_status[0])

static const char *const known_state[] = {"queued", "running", "done", "failed", "cancelled"};
#define N_STATE (sizeof known_state / sizeof known_state[0])

struct fw_db {
    sqlite3 *h;
    sqlite3_stmt *stmt[Q__N];
    char err[1024];
    fw_db_fault fault;
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
static int fail_sql(fw_db *db, int rc, const char *what)
{
    if (fw_db_fault_take(&db->fault, rc)) {
        snprintf(db->err, sizeof db->err, "%s: database or disk is full (SQLite code %d; test fault "
                 "FAIRWAY_TEST_DB_FULL)", what, SQLITE_FULL);
        return -ENOSPC;
    }
    snprintf(db->err, sizeof db->err, "%s: %s (SQLite code %d)", what, sqlite3_errmsg(db->h), rc);
    return fw_db_rc_to_errno(rc);
}

static int fail(fw_db *db, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(fw_db *db, int code, const char *fmt, ...)
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

int fw_db_user_version(fw_db *db)
{
    return fw_db_schema_version(db->h);
}

/* ---------------------------------------------------------------------------------------------- */
/* statements */

static int prep(fw_db *db, int q, sqlite3_stmt **st)
{
    if (!db->stmt[q]) {
        int rc = sqlite3_prepare_v3(db->h, q_sql[q], -1, SQLITE_PREPARE_PERSISTENT, &db->stmt[q], NULL);
        if (rc != SQLITE_OK) return fail_sql(db, rc, "preparing a query");
    }
    *st = db->stmt[q];
    return 0;
}

static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

/* A one-off statement (not cached). */
static int prep_once(fw_db *db, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(db->h, sql, -1, st, NULL);
    if (rc != SQLITE_OK) return fail_sql(db, rc, "preparing a query");
    return 0;
}

/* Run a one-shot UPDATE of job id (from prep_once) and finalize it: 0, the store's error (what
 * names the step), or -ENOENT when no job has that id. */
static int step_job_update(fw_db *db, sqlite3_stmt *st, int64_t id, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail_sql(db, rc, what);
    if (sqlite3_changes(db->h) == 0) return fail(db, -ENOENT, "no job %" PRId64, id);
    return 0;
}

/* Step a one-shot SELECT of job id (from prep_once) to its row: 0 with st on the row (the caller
 * finalizes it), else st is finalized and the store's error or -ENOENT (no such job) returned. */
static int step_job_row(fw_db *db, sqlite3_stmt *st, int64_t id, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) return 0;
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? fail(db, -ENOENT, "no job %" PRId64, id) : fail_sql(db, rc, what);
}

static int exec(fw_db *db, const char *sql, const char *what)
{
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return fail_sql(db, rc, what);
    return 0;
}

static void rollback(fw_db *db)
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
    if (q < 0) return fail(db, -EINVAL, "unknown query name '%s' (known: best, best_any_kernel, "
                           "best_any_device, rankings, rankings_shape)", name ? name : "(null)");
    fw_sbuf sql;
    fw_sbuf_init(&sql);
    fw_sbuf_puts(&sql, "EXPLAIN QUERY PLAN ");
    fw_sbuf_puts(&sql, q_sql[q]);
    if (sql.oom) { fw_sbuf_release(&sql); return -ENOMEM; }
    sqlite3_stmt *st;
    int r = prep_once(db, sql.data, &st);
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
    if (rc != SQLITE_DONE) { fw_sbuf_release(&b); return fail_sql(db, rc, "explaining a query"); }
    *plan = b.len ? fw_sbuf_take(&b) : strdup("");
    fw_sbuf_release(&b);
    return *plan ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------------------------------------- */
/* JSON helpers */

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

static const char *key_or_empty(const cJSON *o, const char *k)
{
    const char *s = jstr(o, k);
    return s ? s : "";
}

static int jnum(const cJSON *o, const char *k, double *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) return 0;
    *v = it->valuedouble;
    return 1;
}

/* Bind a JSON number as INTEGER when it is integral (counts, ns) so it reads back exactly. */
static void bind_jnum(sqlite3_stmt *st, int i, const cJSON *o, const char *k)
{
    double v;
    if (!o || !jnum(o, k, &v)) { sqlite3_bind_null(st, i); return; }
    if (v == floor(v) && fabs(v) < 9.0e15) sqlite3_bind_int64(st, i, (sqlite3_int64)v);
    else sqlite3_bind_double(st, i, v);
}

static void bind_jbool(sqlite3_stmt *st, int i, const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (cJSON_IsBool(it)) sqlite3_bind_int(st, i, cJSON_IsTrue(it) ? 1 : 0);
    else if (cJSON_IsNumber(it)) sqlite3_bind_int(st, i, it->valuedouble != 0);
    else sqlite3_bind_null(st, i);
}

/* Bind a JSON subtree as its compact text (NULL if absent). Returns -ENOMEM on print failure. */
static int bind_jtext(sqlite3_stmt *st, int i, const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!it || cJSON_IsNull(it)) { sqlite3_bind_null(st, i); return 0; }
    char *s = cJSON_PrintUnformatted(it);
    if (!s) return -ENOMEM;
    sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    free(s);
    return 0;
}

static void add_col_num(cJSON *o, const char *k, sqlite3_stmt *st, int c)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER: cJSON_AddNumberToObject(o, k, (double)sqlite3_column_int64(st, c)); break;
    case SQLITE_FLOAT: cJSON_AddNumberToObject(o, k, sqlite3_column_double(st, c)); break;
    default: cJSON_AddNullToObject(o, k); break;
    }
}

static void add_col_str(cJSON *o, const char *k, sqlite3_stmt *st, int c)
{
    const char *s = (const char *)sqlite3_column_text(st, c);
    if (s) cJSON_AddStringToObject(o, k, s);
    else cJSON_AddNullToObject(o, k);
}

/* A column holding JSON text goes back as parsed JSON (null if absent or unparsable). */
static void add_col_json(cJSON *o, const char *k, sqlite3_stmt *st, int c)
{
    const char *s = (const char *)sqlite3_column_text(st, c);
    cJSON *v = s ? cJSON_Parse(s) : NULL;
    if (v) cJSON_AddItemToObject(o, k, v);
    else cJSON_AddNullToObject(o, k);
}

/* ---------------------------------------------------------------------------------------------- */
/* devices, sources */

int fw_db_device_upsert(fw_db *db, const char *identity, const cJSON *info, int64_t *id)
{
    if (!identity || !*identity) return fail(db, -EINVAL, "a device needs a non-empty identity");
    sqlite3_stmt *st;
    int r = prep(db, Q_DEVICE_UPSERT, &st);
    if (r < 0) return r;
    bind_text(st, 1, identity);
    bind_text(st, 2, jstr(info, "backend"));
    bind_text(st, 3, jstr(info, "vendor"));
    bind_text(st, 4, jstr(info, "name"));
    bind_text(st, 5, jstr(info, "driver"));
    bind_text(st, 6, jstr(info, "compiler"));
    bind_text(st, 7, jstr(info, "arch"));
    char *js = info ? cJSON_PrintUnformatted(info) : NULL;
    if (info && !js) { done(st); return -ENOMEM; }
    bind_text(st, 8, js);
    free(js);
    int rc = sqlite3_step(st);
    done(st);
    if (rc != SQLITE_DONE) return fail_sql(db, rc, "storing device");
    if (!id) return 0;
    r = prep(db, Q_DEVICE_ID, &st);
    if (r < 0) return r;
    bind_text(st, 1, identity);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    done(st);
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? fail(db, -EIO, "device %s vanished after upsert",
                                                          identity)
                                                   : fail_sql(db, rc, "reading device id");
    return 0;
}

int fw_db_source_put(fw_db *db, const char *hash, const char *text)
{
    if (!hash || !*hash || !text) return fail(db, -EINVAL, "a source needs a hash and a text");
    sqlite3_stmt *st;
    int r = prep(db, Q_SOURCE_PUT, &st);
    if (r < 0) return r;
    bind_text(st, 1, hash);
    bind_text(st, 2, text);
    int rc = sqlite3_step(st);
    done(st);
    if (rc != SQLITE_DONE) return fail_sql(db, rc, "storing source");
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* jobs */

static int valid_state(const char *s)
{
    for (size_t i = 0; i < N_STATE; i++)
        if (s && strcmp(s, known_state[i]) == 0) return 1;
    return 0;
}

static int job_exists(fw_db *db, int64_t id)
{
    sqlite3_stmt *st;
    int r = prep(db, Q_JOB_EXISTS, &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    done(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return fail_sql(db, rc, "looking up job");
}

int fw_db_job_create(fw_db *db, const fw_db_job_new *job, int64_t *id)
{
    if (!job || !job->spec) return fail(db, -EINVAL, "a job needs a spec");
    if (job->parent < 0) return fail(db, -EINVAL, "parent job id %" PRId64 " is negative", job->parent);
    if (job->parent > 0) {
        int e = job_exists(db, job->parent);
        if (e < 0) return e;
        if (!e) return fail(db, -ENOENT, "parent job %" PRId64 " does not exist", job->parent);
    }
    char *spec = cJSON_PrintUnformatted(job->spec);
    if (!spec) return -ENOMEM;
    char seed[24];
    snprintf(seed, sizeof seed, "%" PRIu64, job->seed);
    sqlite3_stmt *st;
    int r = prep(db, Q_JOB_INSERT, &st);
    if (r < 0) { free(spec); return r; }
    bind_text(st, 1, job->family);
    bind_text(st, 2, job->strategy);
    bind_text(st, 3, seed);
    sqlite3_bind_int64(st, 4, job->budget);
    sqlite3_bind_int64(st, 5, job->planned);
    if (job->parent > 0) sqlite3_bind_int64(st, 6, job->parent);
    else sqlite3_bind_null(st, 6);
    bind_text(st, 7, job->device);
    sqlite3_bind_text(st, 8, spec, -1, SQLITE_TRANSIENT);
    bind_text(st, 9, job->spec_hash);
    bind_text(st, 10, job->source_hash);
    bind_text(st, 11, job->daemon_version);
    int rc = sqlite3_step(st);
    done(st);
    free(spec);
    if (rc != SQLITE_DONE) return fail_sql(db, rc, "creating job");
    if (id) *id = sqlite3_last_insert_rowid(db->h);
    return 0;
}

int fw_db_job_set_state(fw_db *db, int64_t id, const char *state, const char *error)
{
    if (!valid_state(state))
        return fail(db, -EINVAL, "unknown job state '%s' (known: queued, running, done, failed, "
                    "cancelled)", state ? state : "(null)");
    sqlite3_stmt *st;
    /* started_at keeps the first start (a resumed job ran before); finished_at only on terminal
     * states, cleared if a job is set back to queued or running. */
    int r = prep_once(db,
        "UPDATE jobs SET state = ?2, error = ?3, "
        "started_at = CASE WHEN ?2 = 'running' THEN COALESCE(started_at, " FW_DB_NOW ") "
        "ELSE started_at END, "
        "finished_at = CASE WHEN ?2 IN ('done','failed','cancelled') THEN " FW_DB_NOW " ELSE NULL END "
        "WHERE id = ?1", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, state);
    bind_text(st, 3, error);
    return step_job_update(db, st, id, "changing job state");
}

int fw_db_job_set_planned(fw_db *db, int64_t id, int64_t planned, int64_t device_id)
{
    sqlite3_stmt *st;
    int r = prep_once(db, "UPDATE jobs SET planned = ?2, "
                          "device_id = CASE WHEN ?3 > 0 THEN ?3 ELSE device_id END WHERE id = ?1", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, planned);
    sqlite3_bind_int64(st, 3, device_id);
    return step_job_update(db, st, id, "setting planned count of job");
}

static int parse_seed(const char *s, uint64_t *out)
{
    if (!s || !*s) return -EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-') return -EINVAL;
    *out = (uint64_t)v;
    return 0;
}

int fw_db_job_seed(fw_db *db, int64_t id, uint64_t *seed)
{
    sqlite3_stmt *st;
    int r = prep_once(db, "SELECT seed FROM jobs WHERE id = ?1", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, id);
    r = step_job_row(db, st, id, "reading job seed");
    if (r < 0) return r;
    r = parse_seed((const char *)sqlite3_column_text(st, 0), seed);
    sqlite3_finalize(st);
    if (r < 0) return fail(db, -EIO, "job %" PRId64 " has a malformed stored seed", id);
    return 0;
}

/* Add "evaluated" and "counts" (every known status, zeros included) to a job object. */
static int add_counts(fw_db *db, int64_t id, cJSON *o)
{
    sqlite3_stmt *st;
    int r = prep(db, Q_COUNTS, &st);
    if (r < 0) return r;
    int64_t cnt[N_STATUS] = {0}, total = 0;
    cJSON *counts = cJSON_CreateObject();
    sqlite3_bind_int64(st, 1, id);
    int rc = SQLITE_NOMEM;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        int64_t c = sqlite3_column_int64(st, 1);
        total += c;
        size_t i;
        for (i = 0; i < N_STATUS; i++)
            if (s && strcmp(s, known_status[i]) == 0) { cnt[i] = c; break; }
        if (i == N_STATUS && s) cJSON_AddNumberToObject(counts, s, (double)c);
    }
    done(st);
    if (rc != SQLITE_DONE) { cJSON_Delete(counts); return fail_sql(db, rc, "counting measurements"); }
    for (size_t i = 0; i < N_STATUS; i++) cJSON_AddNumberToObject(counts, known_status[i], (double)cnt[i]);
    cJSON_AddNumberToObject(o, "evaluated", (double)total);
    cJSON_AddItemToObject(o, "counts", counts);
    return 0;
}

#define JOB_COLS                                                                                  \
    "j.id, j.state, j.family, j.strategy, j.seed, j.budget, j.planned, j.parent, j.device, "      \
    "j.spec_hash, j.source_hash, j.daemon_version, j.created_at, j.started_at, j.finished_at, "   \
    "j.error, j.device_id, d.identity, j.spec"

static cJSON *job_row(sqlite3_stmt *st, int with_spec)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    add_col_num(o, "id", st, 0);
    add_col_str(o, "state", st, 1);
    add_col_str(o, "family", st, 2);
    add_col_str(o, "strategy", st, 3);
    const char *seed_s = (const char *)sqlite3_column_text(st, 4);
    uint64_t seed = 0;
    if (parse_seed(seed_s, &seed) == 0 && seed <= (1ULL << 53))
        cJSON_AddNumberToObject(o, "seed", (double)seed);
    else
        add_col_str(o, "seed", st, 4);
    add_col_str(o, "seed_text", st, 4);
    add_col_num(o, "budget", st, 5);
    add_col_num(o, "planned", st, 6);
    add_col_num(o, "parent", st, 7);
    add_col_str(o, "device", st, 8);
    add_col_str(o, "spec_hash", st, 9);
    add_col_str(o, "source_hash", st, 10);
    add_col_str(o, "daemon_version", st, 11);
    add_col_str(o, "created_at", st, 12);
    add_col_str(o, "started_at", st, 13);
    add_col_str(o, "finished_at", st, 14);
    add_col_str(o, "error", st, 15);
    add_col_num(o, "device_id", st, 16);
    add_col_str(o, "device_identity", st, 17);
    if (with_spec) add_col_json(o, "spec", st, 18);
    return o;
}

int fw_db_job_get(fw_db *db, int64_t id, cJSON **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int r = prep_once(db, "SELECT " JOB_COLS " FROM jobs j LEFT JOIN devices d ON d.id = j.device_id "
                          "WHERE j.id = ?1", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, id);
    r = step_job_row(db, st, id, "reading job");
    if (r < 0) return r;
    cJSON *o = job_row(st, 1);
    sqlite3_finalize(st);
    if (!o) return -ENOMEM;
    r = add_counts(db, id, o);
    if (r < 0) { cJSON_Delete(o); return r; }
    *out = o;
    return 0;
}

int fw_db_jobs_list(fw_db *db, const char *state, int limit, cJSON **out)
{
    *out = NULL;
    if (state && !valid_state(state))
        return fail(db, -EINVAL, "unknown job state '%s' (known: queued, running, done, failed, "
                    "cancelled)", state);
    sqlite3_stmt *st;
    int r = prep_once(db, "SELECT " JOB_COLS " FROM jobs j LEFT JOIN devices d ON d.id = j.device_id "
                          "WHERE ?1 IS NULL OR j.state = ?1 ORDER BY j.id DESC "
                          "LIMIT CASE WHEN ?2 > 0 THEN ?2 ELSE -1 END", &st);
    if (r < 0) return r;
    bind_text(st, 1, state);
    sqlite3_bind_int(st, 2, limit);
    cJSON *arr = cJSON_CreateArray();
    int rc = SQLITE_NOMEM;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = job_row(st, 0);
        if (!o) { rc = SQLITE_NOMEM; break; }
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        cJSON_Delete(arr);
        return rc == SQLITE_NOMEM ? -ENOMEM : fail_sql(db, rc, "listing jobs");
    }
    cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        r = add_counts(db, (int64_t)cJSON_GetObjectItem(o, "id")->valuedouble, o);
        if (r < 0) { cJSON_Delete(arr); return r; }
    }
    *out = arr;
    return 0;
}

/* Collect the int64 column 0 of a one-parameter query into a malloc'd array. */
static int collect_ids(fw_db *db, const char *sql, int64_t param, int bind, int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int r = prep_once(db, sql, &st);
    if (r < 0) return r;
    if (bind) sqlite3_bind_int64(st, 1, param);
    size_t cap = 0;
    int rc = SQLITE_NOMEM;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            int64_t *nv = realloc(*ids, cap * sizeof **ids);
            if (!nv) { sqlite3_finalize(st); free(*ids); *ids = NULL; *n = 0; return -ENOMEM; }
            *ids = nv;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return fail_sql(db, rc, "reading ids");
    }
    return 0;
}

int fw_db_jobs_unfinished(fw_db *db, int64_t **ids, size_t *n)
{
    return collect_ids(db, "SELECT id FROM jobs WHERE state IN ('queued','running') ORDER BY id",
                       0, 0, ids, n);
}

int fw_db_measured_seqs(fw_db *db, int64_t job, int64_t **seqs, size_t *n)
{
    return collect_ids(db, "SELECT seq FROM measurements WHERE job = ?1 ORDER BY seq", job, 1, seqs, n);
}

/* ---------------------------------------------------------------------------------------------- */
/* measurements */

static int valid_status(const char *s)
{
    for (size_t i = 0; i < N_STATUS; i++)
        if (s && strcmp(s, known_status[i]) == 0) return 1;
    return 0;
}

/* Everything that can be refused without touching the database, so a bad record never opens a
 * transaction. */
static int check_record(fw_db *db, const cJSON *m, int64_t *seq)
{
    if (!cJSON_IsObject(m)) return fail(db, -EINVAL, "a measurement must be a JSON object");
    double v;
    if (!jnum(m, "seq", &v) || v < 0 || v != floor(v) || v > 9.0e15)
        return fail(db, -EINVAL, "measurement has no valid \"seq\" (a non-negative integer)");
    *seq = (int64_t)v;
    const char *status = jstr(m, "status");
    if (!valid_status(status))
        return fail(db, -EINVAL, "measurement seq %" PRId64 " has unknown status '%s' (known: ok, "
                    "compile_error, invalid, verify_failed, runtime_error, pruned, crashed, timeout)",
                    *seq, status ? status : "(none)");
    if (strcmp(status, "ok") == 0) {
        /* A failure record the daemon writes for a seq it could not place may lack the keys (stored
         * as ''); a ranked one never may. */
        if (!jstr(m, "shape_key"))
            return fail(db, -EINVAL, "measurement seq %" PRId64 " is 'ok' but has no \"shape_key\" "
                        "string", *seq);
        if (!jstr(m, "variant_key"))
            return fail(db, -EINVAL, "measurement seq %" PRId64 " is 'ok' but has no \"variant_key\" "
                        "string", *seq);
        const cJSON *stats = cJSON_GetObjectItemCaseSensitive(m, "stats");
        if (!cJSON_IsObject(stats) || !jnum(stats, "median_ns", &v))
            return fail(db, -EINVAL, "measurement seq %" PRId64 " is 'ok' but has no stats.median_ns, "
                        "so it cannot be ranked", *seq);
    }
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(m, "samples_ns");
    if (samples && !cJSON_IsNull(samples)) {
        if (!cJSON_IsArray(samples))
            return fail(db, -EINVAL, "measurement seq %" PRId64 ": \"samples_ns\" must be an array",
                        *seq);
        const cJSON *s;
        cJSON_ArrayForEach(s, samples) {
            if (!cJSON_IsNumber(s) || !isfinite(s->valuedouble))
                return fail(db, -EINVAL, "measurement seq %" PRId64 ": \"samples_ns\" holds a "
                            "non-number", *seq);
        }
    }
    return 0;
}

static int put_variant(fw_db *db, const cJSON *m, const char *family, const char *source_hash,
                       int64_t *vid)
{
    sqlite3_stmt *st;
    int r = prep(db, Q_VARIANT_INSERT, &st);
    if (r < 0) return r;
    bind_text(st, 1, family);
    bind_text(st, 2, key_or_empty(m, "variant_key"));
    bind_text(st, 3, source_hash);
    bind_text(st, 4, jstr(m, "variant_hash"));
    r = bind_jtext(st, 5, m, "knobs");
    if (r < 0) { done(st); return r; }
    bind_text(st, 6, jstr(m, "origin"));
    int rc = sqlite3_step(st);
    done(st);
    if (rc != SQLITE_DONE) return fail_sql(db, rc, "storing variant");
    r = prep(db, Q_VARIANT_ID, &st);
    if (r < 0) return r;
    bind_text(st, 1, family);
    bind_text(st, 2, key_or_empty(m, "variant_key"));
    bind_text(st, 3, source_hash);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *vid = sqlite3_column_int64(st, 0);
    done(st);
    if (rc != SQLITE_ROW) return fail_sql(db, rc, "reading variant id");
    return 0;
}

static int put_measurement_row(fw_db *db, int64_t job, int64_t device_id, int64_t seq, int64_t vid,
                               const char *family, const cJSON *m, int64_t *mid)
{
    sqlite3_stmt *st;
    int r = prep(db, Q_MEAS_INSERT, &st);
    if (r < 0) return r;
    const cJSON *verify = cJSON_GetObjectItemCaseSensitive(m, "verify");
    const cJSON *stats = cJSON_GetObjectItemCaseSensitive(m, "stats");
    if (!cJSON_IsObject(verify)) verify = NULL;
    if (!cJSON_IsObject(stats)) stats = NULL;
    const char *kernel = jstr(m, "kernel");
    const char *mode = jstr(m, "mode");
    sqlite3_bind_int64(st, 1, job);
    sqlite3_bind_int64(st, 2, seq);
    if (device_id > 0) sqlite3_bind_int64(st, 3, device_id);
    else sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, vid);
    bind_jnum(st, 5, m, "shape_index");
    bind_text(st, 6, key_or_empty(m, "shape_key"));
    r = bind_jtext(st, 7, m, "shape");
    bind_text(st, 8, family);
    bind_text(st, 9, kernel ? kernel : "");
    bind_text(st, 10, mode ? mode : "");
    bind_text(st, 11, jstr(m, "origin"));
    bind_text(st, 12, jstr(m, "status"));
    bind_text(st, 13, jstr(m, "error"));
    bind_jnum(st, 14, m, "compile_ms");
    bind_jbool(st, 15, m, "cached");
    bind_jnum(st, 16, verify, "rel_err");
    bind_jnum(st, 17, verify, "nonfinite");
    bind_jnum(st, 18, verify, "unwritten");
    if (r == 0) r = bind_jtext(st, 19, m, "resources");
    if (r == 0) r = bind_jtext(st, 20, m, "geometry");
    bind_jnum(st, 21, stats, "n");
    bind_jnum(st, 22, stats, "median_ns");
    bind_jnum(st, 23, stats, "mean_ns");
    bind_jnum(st, 24, stats, "min_ns");
    bind_jnum(st, 25, stats, "max_ns");
    bind_jnum(st, 26, stats, "stddev_ns");
    bind_jnum(st, 27, stats, "p95_ns");
    bind_jnum(st, 28, m, "gbps");
    bind_jnum(st, 29, m, "gflops");
    bind_jnum(st, 30, m, "bytes");
    bind_jnum(st, 31, m, "flops");
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
    if (r < 0) { done(st); return r; }
    int rc = sqlite3_step(st);
    done(st);
    if (rc != SQLITE_DONE) {
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return fail(db, -EEXIST, "job %" PRId64 " already has a measurement for seq %" PRId64,
                        job, seq);
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            return fail(db, -ENOENT, "measurement seq %" PRId64 " names a job or device that does not "
                        "exist (job %" PRId64 ", device %" PRId64 ")", seq, job, device_id);
        return fail_sql(db, rc, "storing measurement");
    }
    *mid = sqlite3_last_insert_rowid(db->h);
    return 0;
}

static int put_samples(fw_db *db, int64_t mid, const cJSON *m)
{
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(m, "samples_ns");
    if (!cJSON_IsArray(samples)) return 0;
    sqlite3_stmt *st;
    int r = prep(db, Q_SAMPLE_INSERT, &st);
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
        if (rc != SQLITE_DONE) { done(st); return fail_sql(db, rc, "storing samples"); }
    }
    done(st);
    return 0;
}

int fw_db_measurement_put(fw_db *db, int64_t job, int64_t device_id, const cJSON *m)
{
    int64_t seq = 0;
    int r = check_record(db, m, &seq);
    if (r < 0) return r;
    fw_db_fault_seq(&db->fault, seq);
    r = exec(db, "BEGIN IMMEDIATE", "starting measurement transaction");
    if (r < 0) return r;

    /* Job's family and source hash name the variant when the record leaves them out. */
    sqlite3_stmt *st;
    char *job_family = NULL, *job_source = NULL;
    r = prep(db, Q_JOB_SOURCE, &st);
    if (r < 0) goto out;
    sqlite3_bind_int64(st, 1, job);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        job_family = fw_strdup((const char *)sqlite3_column_text(st, 0));
        job_source = fw_strdup((const char *)sqlite3_column_text(st, 1));
    }
    done(st);
    if (rc == SQLITE_DONE) { r = fail(db, -ENOENT, "no job %" PRId64 " to store seq %" PRId64 " in",
                                      job, seq); goto out; }
    if (rc != SQLITE_ROW) { r = fail_sql(db, rc, "looking up job"); goto out; }

    r = prep(db, Q_MEAS_EXISTS, &st);
    if (r < 0) goto out;
    sqlite3_bind_int64(st, 1, job);
    sqlite3_bind_int64(st, 2, seq);
    rc = sqlite3_step(st);
    done(st);
    if (rc == SQLITE_ROW) {
        r = fail(db, -EEXIST, "job %" PRId64 " already has a measurement for seq %" PRId64, job, seq);
        goto out;
    }
    if (rc != SQLITE_DONE) { r = fail_sql(db, rc, "looking up measurement"); goto out; }

    const char *family = jstr(m, "family") ? jstr(m, "family") : job_family;
    if (!family) { r = fail(db, -EINVAL, "measurement seq %" PRId64 " names no family and job %"
                            PRId64 " has none", seq, job); goto out; }
    const char *source = jstr(m, "source_hash") ? jstr(m, "source_hash")
                                                : (job_source ? job_source : "");
    int64_t vid = 0, mid = 0;
    r = put_variant(db, m, family, source, &vid);
    if (r == 0) r = put_measurement_row(db, job, device_id, seq, vid, family, m, &mid);
    if (r == 0) r = put_samples(db, mid, m);
    if (r == 0) {
        rc = sqlite3_exec(db->h, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) r = fail_sql(db, rc, "committing measurement");
    }
out:
    if (r < 0) rollback(db);
    free(job_family);
    free(job_source);
    return r;
}

/* ---------------------------------------------------------------------------------------------- */
/* queries */

/* Columns RANK_COLS starting at c0 into a ranking object. */
static void rank_fields(cJSON *o, sqlite3_stmt *st, int c0)
{
    add_col_num(o, "seq", st, c0 + 0);
    add_col_str(o, "shape_key", st, c0 + 1);
    add_col_str(o, "variant_key", st, c0 + 2);
    add_col_json(o, "knobs", st, c0 + 3);
    add_col_str(o, "origin", st, c0 + 4);
    add_col_num(o, "median_ns", st, c0 + 5);
    add_col_num(o, "mean_ns", st, c0 + 6);
    add_col_num(o, "min_ns", st, c0 + 7);
    add_col_num(o, "max_ns", st, c0 + 8);
    add_col_num(o, "stddev_ns", st, c0 + 9);
    add_col_num(o, "p95_ns", st, c0 + 10);
    add_col_num(o, "n", st, c0 + 11);
    add_col_num(o, "gbps", st, c0 + 12);
    add_col_num(o, "gflops", st, c0 + 13);
    add_col_num(o, "compile_ms", st, c0 + 14);
}

int fw_db_rankings(fw_db *db, int64_t job, const char *shape_key, int limit, cJSON **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int r = prep(db, shape_key ? Q_RANKINGS_SHAPE : Q_RANKINGS, &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, job);
    sqlite3_bind_int(st, 2, limit);
    if (shape_key) bind_text(st, 3, shape_key);
    cJSON *arr = cJSON_CreateArray();
    int rc = SQLITE_NOMEM;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o) { cJSON_Delete(arr); arr = NULL; break; }
        add_col_num(o, "rank", st, 0);
        rank_fields(o, st, 1);
        cJSON_AddItemToArray(arr, o);
    }
    done(st);
    if (!arr) return -ENOMEM;
    if (rc != SQLITE_DONE) { cJSON_Delete(arr); return fail_sql(db, rc, "ranking measurements"); }
    *out = arr;
    return 0;
}

int fw_db_best(fw_db *db, const char *device, const char *family, const char *kernel,
               const char *shape_key, cJSON **out)
{
    *out = NULL;
    if (!family || !shape_key) return fail(db, -EINVAL, "best needs a family and a shape key");
    int64_t dev_id = 0;
    sqlite3_stmt *st;
    int r, rc;
    if (device) {
        r = prep(db, Q_DEVICE_ID, &st);
        if (r < 0) return r;
        bind_text(st, 1, device);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) dev_id = sqlite3_column_int64(st, 0);
        done(st);
        if (rc == SQLITE_DONE)
            return fail(db, -ENOENT, "no measurement stored for device '%s' (never seen)", device);
        if (rc != SQLITE_ROW) return fail_sql(db, rc, "looking up device");
    }
    int q = device ? (kernel ? Q_BEST : Q_BEST_ANY_KERNEL) : (kernel ? Q_BEST_ANY_DEVICE : Q_BEST_ANY_BOTH);
    r = prep(db, q, &st);
    if (r < 0) return r;
    bind_text(st, 1, family);
    bind_text(st, 2, shape_key);
    if (device) sqlite3_bind_int64(st, 3, dev_id);
    if (kernel) bind_text(st, 4, kernel);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o) { done(st); return -ENOMEM; }
        cJSON_AddNumberToObject(o, "rank", 1);
        rank_fields(o, st, 0);
        add_col_num(o, "job", st, 15);
        add_col_str(o, "device", st, 16);
        add_col_str(o, "family", st, 17);
        add_col_str(o, "kernel", st, 18);
        add_col_num(o, "shape_index", st, 19);
        add_col_str(o, "variant_hash", st, 20);
        done(st);
        *out = o;
        return 0;
    }
    done(st);
    if (rc == SQLITE_DONE)
        return fail(db, -ENOENT, "no verified measurement stored for family '%s', shape '%s'%s%s%s%s",
                    family, shape_key, kernel ? ", kernel " : "", kernel ? kernel : "",
                    device ? ", device " : "", device ? device : "");
    return fail_sql(db, rc, "finding best measurement");
}

int fw_db_job_sequence(fw_db *db, int64_t job, cJSON **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int r = prep_once(db, "SELECT m.seq, m.shape_key, v.key, m.status, m.median_ns "
                          "FROM measurements m JOIN variants v ON v.id = m.variant_id "
                          "WHERE m.job = ?1 ORDER BY m.seq", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, job);
    cJSON *arr = cJSON_CreateArray();
    int rc = SQLITE_NOMEM;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o) { cJSON_Delete(arr); arr = NULL; break; }
        add_col_num(o, "seq", st, 0);
        add_col_str(o, "shape_key", st, 1);
        add_col_str(o, "variant_key", st, 2);
        add_col_str(o, "status", st, 3);
        add_col_num(o, "median_ns", st, 4);
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(st);
    if (!arr) return -ENOMEM;
    if (rc != SQLITE_DONE) { cJSON_Delete(arr); return fail_sql(db, rc, "reading job sequence"); }
    *out = arr;
    return 0;
}

int fw_db_samples(fw_db *db, int64_t job, int64_t seq, cJSON **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int r = prep_once(db, "SELECT m.id, s.ns FROM measurements m LEFT JOIN samples s "
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
    if (rc != SQLITE_DONE) { cJSON_Delete(arr); return fail_sql(db, rc, "reading samples"); }
    if (!rows) {
        cJSON_Delete(arr);
        return fail(db, -ENOENT, "job %" PRId64 " has no measurement with seq %" PRId64, job, seq);
    }
    *out = arr;
    return 0;
}

/* ---- finalists (schema 2) -------------------------------------------------------------------- */

int fw_db_finalists_put(fw_db *db, int64_t job, const cJSON *finalists)
{
    if (!cJSON_IsArray(finalists))
        return fail(db, -EINVAL, "finalists must be an array of finalist objects");
    int r = exec(db, "BEGIN IMMEDIATE", "starting finalists transaction");
    if (r < 0) return r;
    sqlite3_stmt *del = NULL, *ins = NULL;
    r = prep_once(db, "DELETE FROM finalists WHERE job = ?1", &del);
    if (r == 0)
        r = prep_once(db, "INSERT INTO finalists (job, seq, shape_key, rank, first_rank, n, median_ns, mean_ns,"
                          " min_ns, max_ns, stddev_ns, p95_ns, samples, created_at)"
                          " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, " FW_DB_NOW
                          " WHERE EXISTS (SELECT 1 FROM measurements WHERE job = ?1 AND seq = ?2)", &ins);
    if (r == 0) {
        sqlite3_bind_int64(del, 1, job);
        int rc = sqlite3_step(del);
        if (rc != SQLITE_DONE) r = fail_sql(db, rc, "clearing finalists");
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, finalists) {
        if (r < 0) break;
        double seq = 0, rank = 0;
        const cJSON *stats = cJSON_GetObjectItemCaseSensitive(f, "stats");
        if (jnum(f, "seq", &seq) < 0 || jnum(f, "rank", &rank) < 0 || !jstr(f, "shape_key") || !cJSON_IsObject(stats)) {
            r = fail(db, -EINVAL, "a finalist needs \"seq\", \"rank\", \"shape_key\" and \"stats\"");
            break;
        }
        sqlite3_reset(ins);
        sqlite3_clear_bindings(ins);
        sqlite3_bind_int64(ins, 1, job);
        sqlite3_bind_int64(ins, 2, (int64_t)seq);
        bind_text(ins, 3, jstr(f, "shape_key"));
        sqlite3_bind_int64(ins, 4, (int64_t)rank);
        bind_jnum(ins, 5, f, "first_rank");
        const char *cols[] = { "n", "median_ns", "mean_ns", "min_ns", "max_ns", "stddev_ns", "p95_ns" };
        for (int i = 0; i < 7; i++)
            bind_jnum(ins, 6 + i, stats, cols[i]);
        const cJSON *smp = cJSON_GetObjectItemCaseSensitive(f, "samples_ns");
        char *txt = cJSON_IsArray(smp) ? cJSON_PrintUnformatted(smp) : NULL;
        if (txt) sqlite3_bind_text(ins, 13, txt, -1, SQLITE_TRANSIENT);
        free(txt);
        int rc = sqlite3_step(ins);
        if (rc != SQLITE_DONE) r = fail_sql(db, rc, "storing a finalist");
        else if (sqlite3_changes(db->h) == 0)
            r = fail(db, -ENOENT, "finalist seq %" PRId64 " is not a stored measurement of job %" PRId64,
                     (int64_t)seq, job);
    }
    if (del) sqlite3_finalize(del);
    if (ins) sqlite3_finalize(ins);
    if (r == 0) r = exec(db, "COMMIT", "committing finalists");
    if (r < 0) rollback(db);
    return r;
}

int fw_db_finalists(fw_db *db, int64_t job, const char *shape_key, cJSON **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int r = prep_once(db, "SELECT f.rank, f.first_rank, f.seq, f.shape_key, v.key, v.knobs, f.median_ns, f.mean_ns,"
                          " f.min_ns, f.max_ns, f.stddev_ns, f.p95_ns, f.n, m.median_ns, f.samples"
                          " FROM finalists f JOIN measurements m ON m.job = f.job AND m.seq = f.seq"
                          " JOIN variants v ON v.id = m.variant_id"
                          " WHERE f.job = ?1 AND (?2 IS NULL OR f.shape_key = ?2)"
                          " ORDER BY (SELECT MIN(seq) FROM finalists g WHERE g.job = f.job AND g.shape_key = f.shape_key),"
                          " f.rank", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, job);
    bind_text(st, 2, shape_key);
    cJSON *arr = cJSON_CreateArray();
    int rc = SQLITE_NOMEM;
    while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *o = cJSON_CreateObject();
        if (!o) { rc = SQLITE_NOMEM; break; }
        add_col_num(o, "rank", st, 0);
        add_col_num(o, "first_rank", st, 1);
        add_col_num(o, "seq", st, 2);
        add_col_str(o, "shape_key", st, 3);
        add_col_str(o, "variant_key", st, 4);
        add_col_json(o, "knobs", st, 5);
        const char *cols[] = { "median_ns", "mean_ns", "min_ns", "max_ns", "stddev_ns", "p95_ns", "n",
                               "first_median_ns" };
        for (int i = 0; i < 8; i++)
            add_col_num(o, cols[i], st, 6 + i);
        add_col_json(o, "samples_ns", st, 14);
        cJSON_AddItemToArray(arr, o);
    }
    sqlite3_finalize(st);
    if (!arr) return -ENOMEM;
    if (rc != SQLITE_DONE) { cJSON_Delete(arr); return fail_sql(db, rc, "reading finalists"); }
    *out = arr;
    return 0;
}
