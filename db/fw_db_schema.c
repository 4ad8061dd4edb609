/* fw_db_schema.c - schema and forward migrations of the store.
 *
 * PRAGMA user_version is the schema version. migrations[i] takes a file from version i to i + 1 and
 * runs in one transaction together with the user_version bump, so a crash mid-migration leaves the
 * file at version i, never in between. To change the schema: append a step (never edit a released
 * one) and raise FW_DB_SCHEMA_VERSION in fw_db.h; the static assert below keeps the two in step.
 */
#include "fw_db.h"
#include "fw_db_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "fw_util.h"

static const char *const migrations[] = {
    /* 0 -> 1: the first schema (DESIGN.md section 8). */
    "CREATE TABLE devices ("
    "  id INTEGER PRIMARY KEY,"
    "  identity TEXT NOT NULL UNIQUE,"          /* backend|vendor|name|driver|compiler */
    "  backend TEXT, vendor TEXT, name TEXT, driver TEXT, compiler TEXT, arch TEXT,"
    "  info TEXT,"                              /* the worker's DEVICE object, JSON */
    "  first_seen TEXT NOT NULL, last_seen TEXT NOT NULL);"

    "CREATE TABLE sources ("
    "  hash TEXT PRIMARY KEY,"
    "  text TEXT NOT NULL,"
    "  created_at TEXT NOT NULL);"

    /* seed is decimal text: SQLite integers are signed 64-bit and seeds use the whole uint64. */
    "CREATE TABLE jobs ("
    "  id INTEGER PRIMARY KEY,"
    "  state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed','cancelled')),"
    "  family TEXT, strategy TEXT,"
    "  seed TEXT NOT NULL CHECK (seed <> '' AND seed NOT GLOB '*[^0-9]*'),"
    "  budget INTEGER NOT NULL DEFAULT 0,"
    "  planned INTEGER NOT NULL DEFAULT 0,"
    "  parent INTEGER REFERENCES jobs(id) ON DELETE SET NULL,"
    "  device TEXT,"                            /* requested selector, e.g. opencl:0 */
    "  device_id INTEGER REFERENCES devices(id),"  /* the device that ran it */
    "  spec TEXT NOT NULL, spec_hash TEXT, source_hash TEXT, daemon_version TEXT,"
    "  created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, error TEXT);"
    "CREATE INDEX jobs_state ON jobs(state, id);"
    "CREATE INDEX jobs_parent ON jobs(parent);"

    /* One row per distinct code: (family, canonical key, source hash); '' = the family's own source.
     * origin is the first origin seen; each measurement keeps its own. */
    "CREATE TABLE variants ("
    "  id INTEGER PRIMARY KEY,"
    "  family TEXT NOT NULL, key TEXT NOT NULL, source_hash TEXT NOT NULL DEFAULT '',"
    "  hash TEXT, knobs TEXT, origin TEXT, created_at TEXT NOT NULL,"
    "  UNIQUE (family, key, source_hash));"

    "CREATE TABLE measurements ("
    "  id INTEGER PRIMARY KEY,"
    "  job INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  device_id INTEGER REFERENCES devices(id),"
    "  variant_id INTEGER NOT NULL REFERENCES variants(id),"
    "  shape_index INTEGER, shape_key TEXT NOT NULL, shape TEXT,"
    "  family TEXT NOT NULL, kernel TEXT NOT NULL DEFAULT '', mode TEXT NOT NULL DEFAULT '',"
    "  origin TEXT, status TEXT NOT NULL, error TEXT,"
    "  compile_ms REAL, cached INTEGER, rel_err REAL, nonfinite INTEGER, unwritten INTEGER,"
    "  resources TEXT, geometry TEXT,"
    "  n INTEGER, median_ns REAL, mean_ns REAL, min_ns REAL, max_ns REAL, stddev_ns REAL,"
    "  p95_ns REAL, gbps REAL, gflops REAL, bytes INTEGER, flops INTEGER,"
    "  record TEXT,"                            /* the worker's record without samples_ns */
    "  created_at TEXT NOT NULL,"
    "  UNIQUE (job, seq));"
    /* best: equality on family, shape, device, status, then median order, then kernel. Covering
     * (status is a column so SQLite need not read table rows to check it). With kernel open (the
     * common call) the first entry is the answer; with kernel given, entries are read in median
     * order until one of that kernel matches, on the index alone. Partial: only ranked rows cost
     * space. */
    "CREATE INDEX measurements_best ON measurements(family, shape_key, device_id, status, median_ns,"
    "  kernel) WHERE status = 'ok';"
    /* rankings: one job's verified rows grouped by shape, in rank order; covering for the ranking
     * pass, so only the rows within the limit are read from the table. */
    "CREATE INDEX measurements_rank ON measurements(job, status, shape_key, median_ns, seq)"
    "  WHERE status = 'ok';"
    "CREATE INDEX measurements_variant ON measurements(variant_id);"

    "CREATE TABLE samples ("
    "  measurement INTEGER NOT NULL REFERENCES measurements(id) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL,"
    "  ns REAL NOT NULL,"
    "  PRIMARY KEY (measurement, idx)) WITHOUT ROWID;",

    /* 1 -> 2: finalists (issue 7). At the end of a job the top K variants of each shape are
     * re-timed interleaved; their ranking and samples are kept here, beside the first pass's
     * measurements (which stay as they were). samples is a JSON array of device ns. */
    "CREATE TABLE finalists ("
    "  job INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  shape_key TEXT NOT NULL,"
    "  rank INTEGER NOT NULL,"
    "  first_rank INTEGER,"
    "  n INTEGER, median_ns REAL, mean_ns REAL, min_ns REAL, max_ns REAL, stddev_ns REAL, p95_ns REAL,"
    "  samples TEXT,"
    "  created_at TEXT NOT NULL,"
    "  PRIMARY KEY (job, seq),"
    "  FOREIGN KEY (job, seq) REFERENCES measurements(job, seq) ON DELETE CASCADE);"
    "CREATE INDEX finalists_rank ON finalists(job, shape_key, rank);",

    /* 2 -> 3: what happened to a job beside its measurements (issue 17): kind 'device_out', a device
     * taken out of a several-device job (device = its selector, message = why), so the reason is
     * still there once the job ended and the daemon forgot it. Older stores gain the empty table. */
    "CREATE TABLE job_events ("
    "  id INTEGER PRIMARY KEY,"
    "  job INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL,"
    "  device TEXT,"
    "  message TEXT NOT NULL,"
    "  created_at TEXT NOT NULL);"
    "CREATE INDEX job_events_job ON job_events(job, id);",
};

_Static_assert(sizeof migrations / sizeof migrations[0] == FW_DB_SCHEMA_VERSION,
               "one migration step per schema version: append a step when raising FW_DB_SCHEMA_VERSION");

int fw_db_schema_steps(void)
{
    return (int)(sizeof migrations / sizeof migrations[0]);
}

int fw_db_schema_version(struct sqlite3 *h)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK) return fw_db_rc_to_errno(rc);
    rc = sqlite3_step(st);
    int v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : fw_db_rc_to_errno(rc);
    sqlite3_finalize(st);
    return v;
}

static int sql_fail(struct sqlite3 *h, int rc, const char *path, const char *what, char *err,
                    size_t errlen)
{
    int code = fw_db_rc_to_errno(rc);
    if ((rc & 0xff) == SQLITE_NOTADB)
        return fw_errf(err, errlen, -EINVAL, "%s is not a SQLite database (%s); give another --db "
                       "path", path, sqlite3_errmsg(h));
    return fw_errf(err, errlen, code ? code : -EIO, "database %s: %s: %s", path, what,
                   sqlite3_errmsg(h));
}

static int count_tables(struct sqlite3 *h, int *n)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(h, "SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' "
                                   "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'", -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) { *n = sqlite3_column_int(st, 0); rc = SQLITE_OK; }
    sqlite3_finalize(st);
    return rc;
}

/* A store with a damaged page would be served as if whole: queries touching it fail and new jobs
 * go into it. PRAGMA quick_check reads every page (not the index contents, so it stays fast); run
 * once the file is known to be a SQLite database of a version we understand. */
static int quick_check(struct sqlite3 *h, const char *path, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(h, "PRAGMA quick_check(3)", -1, &st, NULL);
    fw_sbuf b;
    fw_sbuf_init(&b);
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *t = (const char *)sqlite3_column_text(st, 0);
            if (t && strcmp(t, "ok") == 0) continue;
            if (b.len) fw_sbuf_puts(&b, "; ");
            for (const char *c = t ? t : "?"; *c; c++) fw_sbuf_append(&b, *c == '\n' ? " " : c, 1);
        }
        if (rc != SQLITE_DONE && !b.len) fw_sbuf_puts(&b, sqlite3_errmsg(h));
        sqlite3_finalize(st);
    } else {
        fw_sbuf_puts(&b, sqlite3_errmsg(h));
    }
    int bad = b.len > 0;
    if (bad)
        fw_errf(err, errlen, -EIO, "database %s is damaged (PRAGMA quick_check: %.300s); fairway will "
                "not write into it. Restore a copy from a backup, or move it aside and start with a new "
                "store (`sqlite3 %s .recover | sqlite3 NEW.db` rescues what is still readable)",
                path, b.data ? b.data : "", path);
    fw_sbuf_release(&b);
    return bad ? -EIO : 0;
}

int fw_db_schema_setup(struct sqlite3 *h, const char *path, char *err, size_t errlen)
{
    /* Read the version before changing anything: a newer file must be left exactly as it was. */
    int v = fw_db_schema_version(h);
    if (v < 0) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL);
        if (rc == SQLITE_OK) { rc = sqlite3_step(st); sqlite3_finalize(st); }
        return sql_fail(h, rc, path, "reading schema version", err, errlen);
    }
    if (v > FW_DB_SCHEMA_VERSION)
        return fw_errf(err, errlen, -EPROTO, "database %s has schema version %d, newer than this "
                       "fairway understands (%d); use the newer fairway that wrote it, or another "
                       "--db path", path, v, FW_DB_SCHEMA_VERSION);
    int r = quick_check(h, path, err, errlen);
    if (r < 0) return r;

    /* WAL: readers never block the writer. The mode persists in the file; ":memory:" answers
     * "memory", and a file system without shared memory may keep "delete": both still work. */
    int rc = sqlite3_exec(h, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return sql_fail(h, rc, path, "switching to WAL", err, errlen);
    rc = sqlite3_exec(h, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return sql_fail(h, rc, path, "setting pragmas", err, errlen);

    while (v < FW_DB_SCHEMA_VERSION) {
        rc = sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc != SQLITE_OK) return sql_fail(h, rc, path, "starting migration", err, errlen);
        /* Another process may have migrated while we waited for the lock. */
        int cur = fw_db_schema_version(h);
        if (cur < 0) {
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            return fw_errf(err, errlen, cur, "database %s: cannot read schema version", path);
        }
        if (cur != v) {
            sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            if (cur > FW_DB_SCHEMA_VERSION)
                return fw_errf(err, errlen, -EPROTO, "database %s has schema version %d, newer than "
                               "this fairway understands (%d)", path, cur, FW_DB_SCHEMA_VERSION);
            v = cur;
            continue;
        }
        if (v == 0) {
            /* Version 0 with tables is somebody else's database: do not add ours to it. */
            int n = 0;
            rc = count_tables(h, &n);
            if (rc != SQLITE_OK) {
                int r = sql_fail(h, rc, path, "inspecting tables", err, errlen);
                sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
                return r;
            }
            if (n > 0) {
                sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
                return fw_errf(err, errlen, -EINVAL, "database %s already holds %d table(s) but no "
                               "fairway schema version; refusing to modify it (give another --db "
                               "path)", path, n);
            }
        }
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        rc = sqlite3_exec(h, migrations[v], NULL, NULL, NULL);
        if (rc == SQLITE_OK) rc = sqlite3_exec(h, bump, NULL, NULL, NULL);
        if (rc == SQLITE_OK) rc = sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            char what[64];
            snprintf(what, sizeof what, "migrating schema %d -> %d", v, v + 1);
            int r = sql_fail(h, rc, path, what, err, errlen);
            if (!sqlite3_get_autocommit(h)) sqlite3_exec(h, "ROLLBACK", NULL, NULL, NULL);
            return r;
        }
        v++;
    }
    return 0;
}
