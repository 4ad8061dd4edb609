/* fw_db.h - the SQLite store (DESIGN.md section 8).
 *
 * WAL mode, foreign keys on, schema version in PRAGMA user_version with forward migrations (an empty
 * file is migrated to the newest version on open). The daemon is the only writer; every measurement
 * is committed in its own transaction before the next one is asked for.
 *
 * Results come back as cJSON objects the daemon can put straight into JSON-RPC replies; the field
 * names are the protocol's (docs/protocol.md). Measurements go in as the worker's JSON measurement
 * objects (docs/worker-protocol.md).
 */
#ifndef FW_DB_H
#define FW_DB_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define FW_DB_SCHEMA_VERSION 3

typedef struct fw_db fw_db;
struct sqlite3;

/* Storage conventions of this implementation (db/fw_db.c):
 *   - timestamps (created_at, started_at, finished_at, ...) are ISO-8601 UTC text with milliseconds,
 *     "2026-11-25T20:01:38.123Z"; they sort as text.
 *   - job seeds are stored as decimal TEXT so the full uint64 range survives. In JSON (fw_db_job_get,
 *     fw_db_jobs_list) "seed" is a number when it is exactly representable as a double (<= 2^53) and
 *     a decimal string otherwise; "seed_text" is always the decimal string. fw_db_job_seed() gives the
 *     exact value to C callers (reruns).
 *   - synchronous=NORMAL in WAL mode: a committed measurement survives a crash or kill -9 of the
 *     process; a power loss may drop the last commits but never corrupts the file.
 *   - error codes: -ENOENT no such row, -EEXIST duplicate (job, seq), -EINVAL bad input (message in
 *     fw_db_error), -ENOSPC disk or database full, -EBUSY locked by another process past the busy
 *     timeout, -ENOMEM, -EIO any other SQLite failure. fw_db_error() then holds the message. */

/* Open (creating and migrating) the store at path (":memory:" works). An empty file is migrated to
 * FW_DB_SCHEMA_VERSION, one transaction per version step. A file whose user_version is newer than
 * this build, or a SQLite file with other tables but no fairway version, is refused (-EPROTO / -EINVAL)
 * with a message in err. */
int fw_db_open(const char *path, fw_db **out, char *err, size_t errlen);
void fw_db_close(fw_db *db);
int fw_db_user_version(fw_db *db);
/* Last error text of this connection: SQLite's message (copied before any rollback) or the store's
 * own sentence for input it refused. */
const char *fw_db_error(fw_db *db);
/* A number that grows whenever this connection has changed a row (SQLite's total_changes: every
 * INSERT, UPDATE and DELETE, triggers included; a rolled-back change counts too). The daemon is the
 * store's only writer, so an answer computed from the store is still right while this number stays
 * the same: its caches key on it. */
uint64_t fw_db_generation(fw_db *db);
/* The underlying sqlite3 connection (for tests and maintenance tools; do not close it). */
struct sqlite3 *fw_db_handle(fw_db *db);
/* EXPLAIN QUERY PLAN of one of the store's hot queries, lines joined by '\n' (malloc'd, caller frees).
 * name: "best" (device and kernel given), "best_any_kernel", "best_any_device", "rankings",
 * "rankings_shape". -EINVAL for an unknown name. Lets tests prove the queries use indexes. */
int fw_db_explain(fw_db *db, const char *name, char **plan);

/* Devices, keyed by identity string (fw_device_identity()). info is the worker's device object. */
int fw_db_device_upsert(fw_db *db, const char *identity, const cJSON *info, int64_t *id);

/* Source texts by hash (user kernels, our assembled sources). Idempotent. */
int fw_db_source_put(fw_db *db, const char *hash, const char *text);

/* Jobs. A new job is 'queued'. States: queued, running, done, failed, cancelled. */
typedef struct fw_db_job_new {
    const cJSON *spec;         /* resolved spec */
    const char *spec_hash;
    uint64_t seed;
    const char *family;
    const char *strategy;
    int64_t budget;
    int64_t planned;           /* evaluations in the plan (0 if not known yet) */
    int64_t parent;            /* rerun parent job, 0 = none */
    const char *device;        /* requested device selector, e.g. "opencl:0" */
    const char *source_hash;   /* may be NULL */
    const char *daemon_version;
} fw_db_job_new;

int fw_db_job_create(fw_db *db, const fw_db_job_new *job, int64_t *id);
/* state change; error may be NULL (clears a stored error). Sets started_at on the first 'running'
 * (a resumed job keeps it), finished_at on terminal states (cleared again on queued/running).
 * -EINVAL for an unknown state, -ENOENT for an unknown job. */
int fw_db_job_set_state(fw_db *db, int64_t id, const char *state, const char *error);
/* device_id <= 0 keeps the stored device. */
int fw_db_job_set_planned(fw_db *db, int64_t id, int64_t planned, int64_t device_id);
/* {"id","state","family","strategy","seed","budget","planned","evaluated","parent","device",
 *  "spec","spec_hash","source_hash","daemon_version","created_at","started_at","finished_at",
 *  "error","counts":{"ok":n,"verify_failed":n,...}}; -ENOENT if none. Also "seed_text" (see above),
 *  "device_id" and "device_identity" (the device set by fw_db_job_set_planned, null before). "counts"
 *  lists every known status, zeros included; "evaluated" is the number of stored measurements. */
int fw_db_job_get(fw_db *db, int64_t id, cJSON **out);
/* fw_db_job_get and fw_db_jobs_list also carry "devices_out": [{"device","error","at"}], oldest first, for a job a device was taken
 * out of (schema 3, fw_db_job_event_add); absent for every other job. */
/* Newest first; state may be NULL for all; limit <= 0 = no limit. Array of job objects without
 * "spec" (with "evaluated" and "counts"). */
int fw_db_jobs_list(fw_db *db, const char *state, int limit, cJSON **out);
/* Something that happened to a job (schema 3, table job_events): kind "device_out" (device: the
 * selector taken out of a several-device job, message: why). -ENOENT for an unknown job, -EINVAL for
 * an empty kind or message. */
int fw_db_job_event_add(fw_db *db, int64_t job, const char *kind, const char *device, const char *message);
/* The exact stored seed of a job; -ENOENT if none. */
int fw_db_job_seed(fw_db *db, int64_t id, uint64_t *seed);
/* Jobs in state queued or running, oldest first (for resume after a restart). */
int fw_db_jobs_unfinished(fw_db *db, int64_t **ids, size_t *n);

/* Store one measurement (worker JSON) for a job in one transaction: the variant row (upserted by
 * family + key + source hash), the measurement, its samples. A second measurement with the same
 * (job, seq) is rejected with -EEXIST and changes nothing. Any failure rolls the whole put back.
 * Refused with -EINVAL (nothing stored): no integer "seq", an unknown "status", an 'ok' record without
 * "shape_key", "variant_key" or stats.median_ns, non-numeric samples. A failure record (crashed,
 * timeout, ...) may lack the keys; they are stored as "". "family" defaults to the job's, the variant's
 * source hash is the record's "source_hash", else the job's, else "". device_id <= 0 stores none;
 * an unknown job or device id is -ENOENT. */
int fw_db_measurement_put(fw_db *db, int64_t job, int64_t device_id, const cJSON *m);
/* Seqs already measured for a job, ascending (malloc'd). */
int fw_db_measured_seqs(fw_db *db, int64_t job, int64_t **seqs, size_t *n);

/* Ranked verified measurements of a job, fastest median first; shape_key NULL = all shapes
 * (ranked within each shape, shapes in plan order). Only status 'ok'; rank starts at 1 per shape,
 * ties on median go to the lower seq. limit > 0 keeps the first `limit` ranks of each shape,
 * limit <= 0 keeps all. Array of {"rank","seq","shape_key","variant_key","knobs","origin",
 * "median_ns","mean_ns","min_ns","max_ns","stddev_ns","p95_ns","n","gbps","gflops","compile_ms"}. */
int fw_db_rankings(fw_db *db, int64_t job, const char *shape_key, int limit, cJSON **out);
/* The best verified measurement for (device identity, family, kernel, shape key) over all jobs:
 * one ranking object plus "job", "device" (identity), "family", "kernel"; -ENOENT when nothing is
 * stored. kernel may be NULL (any kernel); device may be NULL (any device). Ties on median go to the
 * measurement stored first. */
int fw_db_best(fw_db *db, const char *device, const char *family, const char *kernel,
               const char *shape_key, cJSON **out);
/* The shape keys with a verified measurement for (device identity, family, kernel), device and
 * kernel NULL for any, ascending: what `best` picks the nearest tuned shape from. -ENOENT for a device
 * never seen. */
int fw_db_shape_keys(fw_db *db, const char *device, const char *family, const char *kernel, cJSON **out);
/* The job's measurements in seq order, each {"seq","shape_key","variant_key","status","median_ns"}
 * (for compare), plus "device" (a selector) where the record names the device it ran on (jobs on
 * several devices), and "eval_ms" where the record has it (what a time budget counts). */
int fw_db_job_sequence(fw_db *db, int64_t job, cJSON **out);
/* Finalists (schema 2, issue 7): the interleaved re-timing of a job's top variants per shape.
 * put replaces the job's finalists with `finalists`, an array of the worker's finalist objects
 * {"seq","shape_key","rank","first_rank","stats":{n,median_ns,...},"samples_ns":[...]}, in one
 * transaction; each seq must be a stored measurement of the job (-ENOENT otherwise, nothing stored).
 * get: the job's finalists (shape_key NULL = all shapes) ordered by shape then rank, each
 * {"rank","first_rank","seq","shape_key","variant_key","knobs","median_ns","mean_ns","min_ns",
 *  "max_ns","stddev_ns","p95_ns","n","first_median_ns","samples_ns"}; an empty array when none. */
int fw_db_finalists_put(fw_db *db, int64_t job, const cJSON *finalists);
int fw_db_finalists(fw_db *db, int64_t job, const char *shape_key, cJSON **out);
/* Per-iteration samples of one measurement (job, seq), in order. */
int fw_db_samples(fw_db *db, int64_t job, int64_t seq, cJSON **out);
/* Why a job's variants failed (issue 19 item 1): the failed measurements' stored reasons.
 * classes: one object per failure status, in order of its first occurrence,
 * {"status","count","first_seq","first_error"} (the full text of the first such failure, "" when
 * none was stored). failures: every failed measurement in seq order (status NULL = any failure;
 * limit <= 0 = all), {"seq","status","shape_key","variant_key","kernel","error"} with the full
 * stored text (a compile error's build log). */
int fw_db_failure_classes(fw_db *db, int64_t job, cJSON **out);
int fw_db_failures(fw_db *db, int64_t job, const char *status, int limit, cJSON **out);

#endif
