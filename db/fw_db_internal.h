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

#endif
