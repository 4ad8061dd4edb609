/* fw_db_jobs.c - devices, sources and jobs in the store (fw_db.h). */
#include "fw_db.h"
#include "fw_db_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

static const char *const known_state[] = {"queued", "running", "done", "failed", "cancelled"};
#define N_STATE (sizeof known_state / sizeof known_state[0])

/* ---------------------------------------------------------------------------------------------- */
/* devices, sources */

int fw_db_device_upsert(fw_db *db, const char *identity, const cJSON *info, int64_t *id)
{
    if (!identity || !*identity) return fwdb_fail(db, -EINVAL, "a device needs a non-empty identity");
    sqlite3_stmt *st;
    int r = fwdb_prep(db, Q_DEVICE_UPSERT, &st);
    if (r < 0) return r;
    fwdb_bind_text(st, 1, identity);
    fwdb_bind_text(st, 2, fwdb_jstr(info, "backend"));
    fwdb_bind_text(st, 3, fwdb_jstr(info, "vendor"));
    fwdb_bind_text(st, 4, fwdb_jstr(info, "name"));
    fwdb_bind_text(st, 5, fwdb_jstr(info, "driver"));
    fwdb_bind_text(st, 6, fwdb_jstr(info, "compiler"));
    fwdb_bind_text(st, 7, fwdb_jstr(info, "arch"));
    char *js = info ? cJSON_PrintUnformatted(info) : NULL;
    if (info && !js) { fwdb_done(st); return -ENOMEM; }
    fwdb_bind_text(st, 8, js);
    free(js);
    int rc = sqlite3_step(st);
    fwdb_done(st);
    if (rc != SQLITE_DONE) return fwdb_fail_sql(db, rc, "storing device");
    if (!id) return 0;
    r = fwdb_prep(db, Q_DEVICE_ID, &st);
    if (r < 0) return r;
    fwdb_bind_text(st, 1, identity);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    fwdb_done(st);
    if (rc != SQLITE_ROW) return rc == SQLITE_DONE ? fwdb_fail(db, -EIO, "device %s vanished after upsert",
                                                          identity)
                                                   : fwdb_fail_sql(db, rc, "reading device id");
    return 0;
}

int fw_db_source_put(fw_db *db, const char *hash, const char *text)
{
    if (!hash || !*hash || !text) return fwdb_fail(db, -EINVAL, "a source needs a hash and a text");
    sqlite3_stmt *st;
    int r = fwdb_prep(db, Q_SOURCE_PUT, &st);
    if (r < 0) return r;
    fwdb_bind_text(st, 1, hash);
    fwdb_bind_text(st, 2, text);
    int rc = sqlite3_step(st);
    fwdb_done(st);
    if (rc != SQLITE_DONE) return fwdb_fail_sql(db, rc, "storing source");
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
    int r = fwdb_prep(db, Q_JOB_EXISTS, &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    fwdb_done(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return fwdb_fail_sql(db, rc, "looking up job");
}

int fw_db_job_create(fw_db *db, const fw_db_job_new *job, int64_t *id)
{
    if (!job || !job->spec) return fwdb_fail(db, -EINVAL, "a job needs a spec");
    if (job->parent < 0) return fwdb_fail(db, -EINVAL, "parent job id %" PRId64 " is negative", job->parent);
    if (job->parent > 0) {
        int e = job_exists(db, job->parent);
        if (e < 0) return e;
        if (!e) return fwdb_fail(db, -ENOENT, "parent job %" PRId64 " does not exist", job->parent);
    }
    char *spec = cJSON_PrintUnformatted(job->spec);
    if (!spec) return -ENOMEM;
    char seed[24];
    snprintf(seed, sizeof seed, "%" PRIu64, job->seed);
    sqlite3_stmt *st;
    int r = fwdb_prep(db, Q_JOB_INSERT, &st);
    if (r < 0) { free(spec); return r; }
    fwdb_bind_text(st, 1, job->family);
    fwdb_bind_text(st, 2, job->strategy);
    fwdb_bind_text(st, 3, seed);
    sqlite3_bind_int64(st, 4, job->budget);
    sqlite3_bind_int64(st, 5, job->planned);
    if (job->parent > 0) sqlite3_bind_int64(st, 6, job->parent);
    else sqlite3_bind_null(st, 6);
    fwdb_bind_text(st, 7, job->device);
    sqlite3_bind_text(st, 8, spec, -1, SQLITE_TRANSIENT);
    fwdb_bind_text(st, 9, job->spec_hash);
    fwdb_bind_text(st, 10, job->source_hash);
    fwdb_bind_text(st, 11, job->daemon_version);
    int rc = sqlite3_step(st);
    fwdb_done(st);
    free(spec);
    if (rc != SQLITE_DONE) return fwdb_fail_sql(db, rc, "creating job");
    if (id) *id = sqlite3_last_insert_rowid(db->h);
    return 0;
}

int fw_db_job_set_state(fw_db *db, int64_t id, const char *state, const char *error)
{
    if (!valid_state(state))
        return fwdb_fail(db, -EINVAL, "unknown job state '%s' (known: queued, running, done, failed, "
                    "cancelled)", state ? state : "(null)");
    sqlite3_stmt *st;
    /* started_at keeps the first start (a resumed job ran before); finished_at only on terminal
     * states, cleared if a job is set back to queued or running. */
    int r = fwdb_prep_once(db,
        "UPDATE jobs SET state = ?2, error = ?3, "
        "started_at = CASE WHEN ?2 = 'running' THEN COALESCE(started_at, " FW_DB_NOW ") "
        "ELSE started_at END, "
        "finished_at = CASE WHEN ?2 IN ('done','failed','cancelled') THEN " FW_DB_NOW " ELSE NULL END "
        "WHERE id = ?1", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, id);
    fwdb_bind_text(st, 2, state);
    fwdb_bind_text(st, 3, error);
    return fwdb_step_job_update(db, st, id, "changing job state");
}

int fw_db_job_set_planned(fw_db *db, int64_t id, int64_t planned, int64_t device_id)
{
    sqlite3_stmt *st;
    int r = fwdb_prep_once(db, "UPDATE jobs SET planned = ?2, "
                          "device_id = CASE WHEN ?3 > 0 THEN ?3 ELSE device_id END WHERE id = ?1", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, planned);
    sqlite3_bind_int64(st, 3, device_id);
    return fwdb_step_job_update(db, st, id, "setting planned count of job");
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
    int r = fwdb_prep_once(db, "SELECT seed FROM jobs WHERE id = ?1", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, id);
    r = fwdb_step_job_row(db, st, id, "reading job seed");
    if (r < 0) return r;
    r = parse_seed((const char *)sqlite3_column_text(st, 0), seed);
    sqlite3_finalize(st);
    if (r < 0) return fwdb_fail(db, -EIO, "job %" PRId64 " has a malformed stored seed", id);
    return 0;
}

/* Add "evaluated" and "counts" (every known status, zeros included) to a job object. */
static int add_counts(fw_db *db, int64_t id, cJSON *o)
{
    sqlite3_stmt *st;
    int r = fwdb_prep(db, Q_COUNTS, &st);
    if (r < 0) return r;
    int64_t cnt[FWDB_N_STATUS] = {0}, total = 0;
    cJSON *counts = cJSON_CreateObject();
    sqlite3_bind_int64(st, 1, id);
    int rc = SQLITE_NOMEM;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        int64_t c = sqlite3_column_int64(st, 1);
        total += c;
        size_t i;
        for (i = 0; i < FWDB_N_STATUS; i++)
            if (s && strcmp(s, fwdb_known_status[i]) == 0) { cnt[i] = c; break; }
        if (i == FWDB_N_STATUS && s) cJSON_AddNumberToObject(counts, s, (double)c);
    }
    fwdb_done(st);
    if (rc != SQLITE_DONE) { cJSON_Delete(counts); return fwdb_fail_sql(db, rc, "counting measurements"); }
    for (size_t i = 0; i < FWDB_N_STATUS; i++) cJSON_AddNumberToObject(counts, fwdb_known_status[i], (double)cnt[i]);
    cJSON_AddNumberToObject(o, "evaluated", (double)total);
    cJSON_AddItemToObject(o, "counts", counts);
    return 0;
}

/* Add "devices_out" [{device, error, at}] to a job object when the job had a device taken out. */
static int add_devices_out(fw_db *db, int64_t id, cJSON *o)
{
    sqlite3_stmt *st;
    int r = fwdb_prep(db, Q_DEVICES_OUT, &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, id);
    cJSON *arr = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!arr && !(arr = cJSON_AddArrayToObject(o, "devices_out"))) { rc = SQLITE_NOMEM; break; }
        cJSON *e = cJSON_CreateObject();
        if (!e) { rc = SQLITE_NOMEM; break; }
        fwdb_add_col_str(e, "device", st, 0);
        fwdb_add_col_str(e, "error", st, 1);
        fwdb_add_col_str(e, "at", st, 2);
        cJSON_AddItemToArray(arr, e);
    }
    fwdb_done(st);
    if (rc != SQLITE_DONE) return rc == SQLITE_NOMEM ? -ENOMEM : fwdb_fail_sql(db, rc, "reading job events");
    return 0;
}

int fw_db_job_event_add(fw_db *db, int64_t job, const char *kind, const char *device, const char *message)
{
    if (!kind || !*kind || !message || !*message)
        return fwdb_fail(db, -EINVAL, "a job event needs a kind and a message");
    int e = job_exists(db, job);
    if (e < 0) return e;
    if (!e) return fwdb_fail(db, -ENOENT, "job %" PRId64 " does not exist", job);
    sqlite3_stmt *st;
    int r = fwdb_prep_once(db, "INSERT INTO job_events (job, kind, device, message, created_at) "
                               "VALUES (?1, ?2, ?3, ?4, " FW_DB_NOW ")", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, job);
    fwdb_bind_text(st, 2, kind);
    fwdb_bind_text(st, 3, device);
    fwdb_bind_text(st, 4, message);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fwdb_fail_sql(db, rc, "storing a job event");
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
    fwdb_add_col_num(o, "id", st, 0);
    fwdb_add_col_str(o, "state", st, 1);
    fwdb_add_col_str(o, "family", st, 2);
    fwdb_add_col_str(o, "strategy", st, 3);
    const char *seed_s = (const char *)sqlite3_column_text(st, 4);
    uint64_t seed = 0;
    if (parse_seed(seed_s, &seed) == 0 && seed <= (1ULL << 53))
        cJSON_AddNumberToObject(o, "seed", (double)seed);
    else
        fwdb_add_col_str(o, "seed", st, 4);
    fwdb_add_col_str(o, "seed_text", st, 4);
    fwdb_add_col_num(o, "budget", st, 5);
    fwdb_add_col_num(o, "planned", st, 6);
    fwdb_add_col_num(o, "parent", st, 7);
    fwdb_add_col_str(o, "device", st, 8);
    fwdb_add_col_str(o, "spec_hash", st, 9);
    fwdb_add_col_str(o, "source_hash", st, 10);
    fwdb_add_col_str(o, "daemon_version", st, 11);
    fwdb_add_col_str(o, "created_at", st, 12);
    fwdb_add_col_str(o, "started_at", st, 13);
    fwdb_add_col_str(o, "finished_at", st, 14);
    fwdb_add_col_str(o, "error", st, 15);
    fwdb_add_col_num(o, "device_id", st, 16);
    fwdb_add_col_str(o, "device_identity", st, 17);
    if (with_spec) fwdb_add_col_json(o, "spec", st, 18);
    return o;
}

int fw_db_job_get(fw_db *db, int64_t id, cJSON **out)
{
    *out = NULL;
    sqlite3_stmt *st;
    int r = fwdb_prep_once(db, "SELECT " JOB_COLS " FROM jobs j LEFT JOIN devices d ON d.id = j.device_id "
                          "WHERE j.id = ?1", &st);
    if (r < 0) return r;
    sqlite3_bind_int64(st, 1, id);
    r = fwdb_step_job_row(db, st, id, "reading job");
    if (r < 0) return r;
    cJSON *o = job_row(st, 1);
    sqlite3_finalize(st);
    if (!o) return -ENOMEM;
    r = add_counts(db, id, o);
    if (r == 0) r = add_devices_out(db, id, o);
    if (r < 0) { cJSON_Delete(o); return r; }
    *out = o;
    return 0;
}

int fw_db_jobs_list(fw_db *db, const char *state, int limit, cJSON **out)
{
    *out = NULL;
    if (state && !valid_state(state))
        return fwdb_fail(db, -EINVAL, "unknown job state '%s' (known: queued, running, done, failed, "
                    "cancelled)", state);
    sqlite3_stmt *st;
    int r = fwdb_prep_once(db, "SELECT " JOB_COLS " FROM jobs j LEFT JOIN devices d ON d.id = j.device_id "
                          "WHERE ?1 IS NULL OR j.state = ?1 ORDER BY j.id DESC "
                          "LIMIT CASE WHEN ?2 > 0 THEN ?2 ELSE -1 END", &st);
    if (r < 0) return r;
    fwdb_bind_text(st, 1, state);
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
        return rc == SQLITE_NOMEM ? -ENOMEM : fwdb_fail_sql(db, rc, "listing jobs");
    }
    cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        int64_t jid = (int64_t)cJSON_GetObjectItem(o, "id")->valuedouble;
        r = add_counts(db, jid, o);
        if (r == 0) r = add_devices_out(db, jid, o);
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
    int r = fwdb_prep_once(db, sql, &st);
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
        return fwdb_fail_sql(db, rc, "reading ids");
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
