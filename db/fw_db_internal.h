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

#endif
