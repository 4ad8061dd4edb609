/* fw_db_internal.h - shared between the store's own files (not part of the contract). */
#ifndef FW_DB_INTERNAL_H
#define FW_DB_INTERNAL_H

#include <stddef.h>

struct sqlite3;

/* ISO-8601 UTC with milliseconds, e.g. 2026-11-25T20:01:38.123Z (see fw_db.h). */
#define FW_DB_NOW "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

/* How long a statement waits on another process's lock (a standalone worker with --db) before
 * failing with -EBUSY. */
#define FW_DB_BUSY_TIMEOUT_MS 5000

/* Pragmas, then forward migrations up to FW_DB_SCHEMA_VERSION (one transaction per step). */
int fw_db_schema_setup(struct sqlite3 *h, const char *path, char *err, size_t errlen);
/* PRAGMA user_version, or a negative errno code. */
int fw_db_schema_version(struct sqlite3 *h);
/* Number of migration steps compiled in (== FW_DB_SCHEMA_VERSION). */
int fw_db_schema_steps(void);
/* SQLite result code -> negative errno (0 for OK/ROW/DONE). */
int fw_db_rc_to_errno(int rc);

/* Tests only: FAIRWAY_TEST_DB_FULL=K:PATH makes the store behave as on a full disk (every commit
 * fails with "database or disk is full", -ENOSPC) from the first measurement put with seq >= K on,
 * for as long as the file PATH exists. The test creates PATH before, and removes it to give the disk
 * room again. Unset: nothing changes. */
typedef struct fw_db_fault {
    long long min_seq;
    char path[512];
    int armed;      /* a put with seq >= min_seq was seen */
    int fired;      /* the last commit was refused by the fault */
} fw_db_fault;

void fw_db_fault_setup(fw_db_fault *f, struct sqlite3 *h);
void fw_db_fault_seq(fw_db_fault *f, long long seq);
/* 1 when rc is a commit the fault refused (then reported as SQLITE_FULL); clears it. */
int fw_db_fault_take(fw_db_fault *f, int rc);

/* ---- the connection and its helpers (fw_db.c), for the store's files ------------------------- */

#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "fw_db.h"

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
    Q_DEVICES_OUT,
    Q__N
};

struct fw_db {
    sqlite3 *h;
    sqlite3_stmt *stmt[Q__N];
    char err[1024];
    fw_db_fault fault;
};

/* Statuses a measurement may have (fw_db.h). */
#define FWDB_N_STATUS 8
extern const char *const fwdb_known_status[FWDB_N_STATUS];

/* Copy SQLite's message now (a ROLLBACK afterwards resets it) and return rc as a negative errno. */
int fwdb_fail_sql(fw_db *db, int rc, const char *what);
/* The store's own sentence for input it refused; returns code. */
int fwdb_fail(fw_db *db, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A hot statement, prepared once per connection; reset and unbind it with fwdb_done. */
int fwdb_prep(fw_db *db, int q, sqlite3_stmt **st);
void fwdb_done(sqlite3_stmt *st);
void fwdb_bind_text(sqlite3_stmt *st, int i, const char *s);
/* A one-off statement (not cached; the caller finalizes it). */
int fwdb_prep_once(fw_db *db, const char *sql, sqlite3_stmt **st);
/* Run a one-shot UPDATE of job id and finalize it: 0, the store's error, or -ENOENT (no such job). */
int fwdb_step_job_update(fw_db *db, sqlite3_stmt *st, int64_t id, const char *what);
/* Step a one-shot SELECT of job id to its row: 0 with st on the row (the caller finalizes it), else
 * st is finalized and the store's error or -ENOENT returned. */
int fwdb_step_job_row(fw_db *db, sqlite3_stmt *st, int64_t id, const char *what);
int fwdb_exec(fw_db *db, const char *sql, const char *what);
void fwdb_rollback(fw_db *db);

/* JSON in and out of statements. */
const char *fwdb_jstr(const cJSON *o, const char *k);
const char *fwdb_key_or_empty(const cJSON *o, const char *k);
int fwdb_jnum(const cJSON *o, const char *k, double *v);
/* A JSON number bound as INTEGER when it is integral (counts, ns) so it reads back exactly. */
void fwdb_bind_jnum(sqlite3_stmt *st, int i, const cJSON *o, const char *k);
void fwdb_bind_jbool(sqlite3_stmt *st, int i, const cJSON *o, const char *k);
/* A JSON subtree bound as its compact text (NULL if absent); -ENOMEM on print failure. */
int fwdb_bind_jtext(sqlite3_stmt *st, int i, const cJSON *o, const char *k);
void fwdb_add_col_num(cJSON *o, const char *k, sqlite3_stmt *st, int c);
void fwdb_add_col_str(cJSON *o, const char *k, sqlite3_stmt *st, int c);
/* A column holding JSON text goes back as parsed JSON (null if absent or unparsable). */
void fwdb_add_col_json(cJSON *o, const char *k, sqlite3_stmt *st, int c);

#endif
