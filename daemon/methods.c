/* methods.c - the client protocol's methods (docs/protocol.md). Each handler validates its params
 * first and answers with an error a person can act on; nothing a client sends can fail a job or stop
 * the daemon. */
#include "daemon_methods.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_family.h"
#include "fw_transform.h"
#include "fw_util.h"

#include "daemon_best.h"
#include "daemon_best_cache.h"
#include "daemon_failures.h"
#include "daemon_jobs.h"
#include "daemon_multidev.h"
#include "daemon_plan.h"
#include "daemon_report.h"
#include "daemon_server.h"
#include "daemon_shutdown.h"
#include "daemon_submit.h"
#include "daemon_worker.h"
#include "fw_daemon.h"

#define JOBS_LIMIT_MAX 10000
#define EXPAND_LIMIT_MAX 100000

/* ---- params --------------------------------------------------------------------------------- */

/* Unknown parameter names are an error: a misspelt "limt" silently ignored is a wrong answer. */
static int check_params(fw_daemon_req *req, const char *const *known)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, req->params) {
        int ok = 0;
        for (size_t i = 0; known[i]; i++)
            ok |= strcmp(known[i], it->string) == 0;
        if (!ok) {
            char list[256] = "";
            size_t off = 0;
            for (size_t i = 0; known[i] && off < sizeof(list); i++)
                off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "", known[i]);
            fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, NULL,
                                  "unknown parameter '%s' for method '%s' (known: %s)", it->string,
                                  req->method, known[0] ? list : "none");
            return -1;
        }
    }
    return 0;
}

cJSON *fw_daemon_field_data(const char *field)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "field", field);
    return d;
}

static int json_int(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) > 9007199254740992.0)
        return 0;
    *out = (int64_t)v->valuedouble;
    return 1;
}

static int p_job(fw_daemon_req *req, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->params, name);
    if (!v) {
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data(name),
                              "missing parameter '%s': the id of a job (see the jobs method)", name);
        return -1;
    }
    if (!json_int(v, out) || *out <= 0) {
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data(name),
                              "parameter '%s' must be a job id (a positive integer)", name);
        return -1;
    }
    return 0;
}

static int p_int(fw_daemon_req *req, const char *name, int64_t lo, int64_t hi, int64_t dflt, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->params, name);
    *out = dflt;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!json_int(v, out) || *out < lo || *out > hi) {
        cJSON *data = fw_daemon_field_data(name);
        cJSON_AddNumberToObject(data, "limit", (double)hi);
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, data,
                              "parameter '%s' must be an integer from %" PRId64 " to %" PRId64, name, lo, hi);
        return -1;
    }
    return 0;
}

static int p_str(fw_daemon_req *req, const char *name, int required, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->params, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) {
        if (!required)
            return 0;
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data(name),
                              "missing parameter '%s' (a string)", name);
        return -1;
    }
    if (!cJSON_IsString(v)) {
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data(name),
                              "parameter '%s' must be a string", name);
        return -1;
    }
    *out = v->valuestring;
    return 0;
}

static void reply_no_job(fw_daemon_req *req, int64_t id)
{
    cJSON *data = cJSON_CreateObject();
    cJSON_AddNumberToObject(data, "job", (double)id);
    fw_daemon_reply_error(req, FW_RPC_NO_SUCH_JOB, data,
                          "no job %" PRId64 " in this store (`fairway jobs` lists them)", id);
}

static void reply_db_error(fw_daemon *d, fw_daemon_req *req, const char *what)
{
    fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL, "the store failed %s: %s", what, fw_db_error(d->db));
}

/* The params of the methods that take only {"job": ID}; -1 when the error is already replied. */
static int p_only_job(fw_daemon_req *req, int64_t *id)
{
    static const char *const known[] = {"job", NULL};
    return check_params(req, known) < 0 || p_job(req, "job", id) < 0 ? -1 : 0;
}

/* A job's stored row (the caller deletes it), or -1 with "no such job" or the store's error
 * already replied. */
static int get_job(fw_daemon *d, fw_daemon_req *req, int64_t id, cJSON **row)
{
    *row = NULL;
    int rc = fw_db_job_get(d->db, id, row);
    if (rc == 0)
        return 0;
    cJSON_Delete(*row);
    *row = NULL;
    if (rc == -ENOENT)
        reply_no_job(req, id);
    else
        reply_db_error(d, req, "to read the job");
    return -1;
}

/* p_only_job() then get_job(): the start of the methods that act on one stored job. */
static int p_stored_job(fw_daemon *d, fw_daemon_req *req, int64_t *id, cJSON **row)
{
    *row = NULL;
    return p_only_job(req, id) < 0 ? -1 : get_job(d, req, *id, row);
}

/* ---- submit / rerun ------------------------------------------------------------------------- */

/* The user spec minus the daemon's own fields, which fw_spec_resolve does not know ("devices" into
 * *devices: multidev.c). */
static int take_spec(fw_daemon_req *req, cJSON **user, double *vt, cJSON **devices)
{
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(req->params, "spec");
    if (!cJSON_IsObject(spec)) {
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("spec"),
                              "parameter 'spec' must be a job spec object (docs/spec.md); "
                              "{\"profile\": \"gemm_small\"} is enough (see the profiles method)");
        return -1;
    }
    *user = cJSON_Duplicate(spec, 1);
    *vt = 0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(*user, "variant_timeout_s");
    if (v) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || v->valuedouble > 7 * 86400) {
            fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("variant_timeout_s"),
                                  "\"variant_timeout_s\" must be a number of seconds above 0 and at most a week");
            cJSON_Delete(*user);
            return -1;
        }
        *vt = v->valuedouble;
        cJSON_DeleteItemFromObjectCaseSensitive(*user, "variant_timeout_s");
    }
    if (fw_daemon_devices_take(req, *user, devices) < 0) {
        cJSON_Delete(*user);
        return -1;
    }
    return 0;
}

static int resolve(fw_daemon_req *req, const cJSON *user, cJSON **resolved)
{
    char err[2048];
    if (fw_spec_check_options(user, err, sizeof(err)) < 0 || fw_spec_resolve(user, resolved, err, sizeof(err)) < 0) {
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("spec"), "%s", err);
        return -1;
    }
    if (fw_daemon_check_entry(*resolved, err, sizeof(err)) < 0) {
        cJSON_Delete(*resolved);
        *resolved = NULL;
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("source.entry"), "%s", err);
        return -1;
    }
    return 0;
}

static const char *str_of(const cJSON *o, const char *name)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(f) ? f->valuestring : NULL;
}

static double num_of(const cJSON *o, const char *name, double dflt)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(f) ? f->valuedouble : dflt;
}

static void m_submit(fw_daemon *d, fw_daemon_req *req)
{
    static const char *const known[] = {"spec", NULL};
    if (check_params(req, known) < 0)
        return;
    cJSON *user = NULL, *resolved = NULL, *devices = NULL, *sels = NULL;
    double vt;
    if (take_spec(req, &user, &vt, &devices) < 0)
        return;
    if (resolve(req, user, &resolved) < 0) {
        cJSON_Delete(user);
        cJSON_Delete(devices);
        return;
    }
    cJSON_Delete(user);
    char sel[64], err[2048];
    fw_daemon_spec_selector(resolved, sel, sizeof(sel));
    int ready = devices ? fw_daemon_devices_resolve(d, req, resolved, devices, &sels, err, sizeof(err))
                        : fw_daemon_device_need(d, sel, req, err, sizeof(err));
    cJSON_Delete(devices);
    if (ready == 0 || ready == -EXDEV) {
        if (ready == -EXDEV)
            fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("devices"), "%s", err);
        cJSON_Delete(resolved);   /* resolved again when the device has answered */
        return;
    }
    char hash[17];
    fw_spec_hash(resolved, hash);
    fw_job_spec js;   /* resolved just now: it parses */
    if (fw_job_spec_parse(resolved, &js, NULL, 0) < 0)
        memset(&js, 0, sizeof js);
    uint64_t seed = js.seed;
    if (vt > 0)
        cJSON_AddNumberToObject(resolved, "variant_timeout_s", vt);
    if (sels)   /* like variant_timeout_s, outside the hash: the same search on one device or several */
        cJSON_AddItemToObject(resolved, "devices", sels);
    if (ready > 0 && fw_daemon_submit_fits(d, req, resolved, fw_daemon_device_get(d, sel)) < 0) {
        cJSON_Delete(resolved);   /* refused before anything is stored */
        return;
    }
    char source_hash[17] = "";
    const char *text = js.source_text;
    if (text) {
        fw_hash64_hex(fw_hash64_str(FW_HASH64_INIT, text), source_hash);
        if (fw_db_source_put(d->db, source_hash, text) < 0) {
            reply_db_error(d, req, "to store the kernel source");
            cJSON_Delete(resolved);
            return;
        }
    }
    fw_daemon_device *dev = fw_daemon_device_get(d, sel);
    if (ready < 0) {
        fw_daemon_create_job(d, req, resolved, hash, seed, 0, 0, dev ? dev->sel : sel,
                             source_hash[0] ? source_hash : NULL, err, NULL);
        cJSON_Delete(resolved);
        return;
    }
    if (fw_daemon_too_many_jobs(d, req)) {   /* before the plan's work, and again once it is built */
        cJSON_Delete(resolved);
        return;
    }
    fw_daemon_submit_plan(d, req, resolved, dev, hash, seed, source_hash);
}

static void m_rerun(fw_daemon *d, fw_daemon_req *req)
{
    int64_t id;
    cJSON *row;
    if (p_stored_job(d, req, &id, &row) < 0)
        return;
    uint64_t seed = 0;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(row, "spec");
    if (!cJSON_IsObject(spec) || fw_db_job_seed(d->db, id, &seed) < 0) {
        fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL,
                              "job %" PRId64 " has no stored spec or seed, so it cannot be rerun", id);
        cJSON_Delete(row);
        return;
    }
    /* Same resolved spec, same seed: the plan is the same list, and so is its length. */
    const char *sel = str_of(row, "device");
    char selbuf[64];
    if (!sel || !*sel) {
        fw_daemon_spec_selector(spec, selbuf, sizeof(selbuf));
        sel = selbuf;
    }
    const char *hash = str_of(row, "spec_hash");
    fw_daemon_create_job(d, req, spec, hash ? hash : "", seed, (int64_t)num_of(row, "planned", 0), id, sel,
               str_of(row, "source_hash"), NULL, NULL);
    cJSON_Delete(row);
}

/* ---- status / watch / cancel / jobs --------------------------------------------------------- */

/* A job's progress: live from the loaded job (*job set), else rebuilt from the store (*job NULL);
 * NULL when there is no such job. */
static cJSON *job_progress(fw_daemon *d, int64_t id, fw_daemon_job **job)
{
    *job = fw_daemon_job_find(d, id);
    return *job ? fw_daemon_job_progress(d, *job) : fw_daemon_progress_from_db(d, id);
}

static int job_exists(fw_daemon *d, fw_daemon_req *req, int64_t id);

static void m_status(fw_daemon *d, fw_daemon_req *req)
{
    int64_t id;
    cJSON *row;
    if (p_stored_job(d, req, &id, &row) < 0)
        return;
    fw_daemon_job *job;
    cJSON *p = job_progress(d, id, &job);
    if (p)
        cJSON_AddItemToObject(row, "progress", p);
    cJSON *classes = NULL;
    if (fw_daemon_failure_classes(d->db, id, &classes) < 0) {
        cJSON_Delete(row);
        reply_db_error(d, req, "to read the job's failures");
        return;
    }
    cJSON_AddItemToObject(row, "failures", classes);
    fw_daemon_reply(req, row);
}

static void m_failures(fw_daemon *d, fw_daemon_req *req)
{
    static const char *const known[] = {"job", "status", "limit", NULL};
    static const char *const statuses[] = {"compile_error", "invalid", "verify_failed", "runtime_error",
                                           "pruned", "crashed", "timeout", NULL};
    int64_t id, limit;
    const char *status;
    if (check_params(req, known) < 0 || p_job(req, "job", &id) < 0 || p_str(req, "status", 0, &status) < 0 ||
        p_int(req, "limit", 0, 1000000, 0, &limit) < 0)
        return;
    if (status) {
        int ok = 0;
        for (size_t i = 0; statuses[i]; i++)
            ok |= strcmp(statuses[i], status) == 0;
        if (!ok) {
            fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("status"),
                                  "'%s' is not a failure status (compile_error, invalid, verify_failed, "
                                  "runtime_error, pruned, crashed, timeout)", status);
            return;
        }
    }
    if (!job_exists(d, req, id))
        return;
    cJSON *list = NULL;
    if (fw_daemon_failures(d->db, id, status, (int)limit, &list) < 0) {
        reply_db_error(d, req, "to read the job's failures");
        return;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "job", (double)id);
    cJSON_AddItemToObject(res, "failures", list);
    fw_daemon_reply(req, res);
}

static void m_watch(fw_daemon *d, fw_daemon_req *req)
{
    int64_t id;
    if (p_only_job(req, &id) < 0)
        return;
    fw_daemon_job *job;
    cJSON *p = job_progress(d, id, &job);
    if (!p) {
        reply_no_job(req, id);
        return;
    }
    if (!req->client) {
        cJSON_Delete(p);
        return;
    }
    if (job && fw_daemon_job_watch(job, req->client) < 0) {
        cJSON_Delete(p);
        fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL, "out of memory adding a watcher");
        return;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "job", (double)id);
    cJSON_AddBoolToObject(res, "watching", 1);
    fw_daemon_reply(req, res);
    /* The current state at once, so a watcher of a finished job gets its final message too. */
    cJSON *n = fw_proto_notification("progress", p);
    fw_daemon_client_send(req->client, n);
    cJSON_Delete(n);
}

static void m_cancel(fw_daemon *d, fw_daemon_req *req)
{
    int64_t id;
    cJSON *row;
    if (p_stored_job(d, req, &id, &row) < 0)
        return;
    if (fw_daemon_job_cancel(d, id) < 0) {
        const char *st = str_of(row, "state");
        cJSON *data = cJSON_CreateObject();
        cJSON_AddStringToObject(data, "state", st ? st : "unknown");
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, data,
                              "job %" PRId64 " already finished (state %s); there is nothing to cancel", id,
                              st ? st : "unknown");
        cJSON_Delete(row);
        return;
    }
    cJSON_Delete(row);
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "job", (double)id);
    cJSON_AddStringToObject(res, "state", "cancelled");
    fw_daemon_reply(req, res);
}

static void m_resume(fw_daemon *d, fw_daemon_req *req)
{
    int64_t id;
    cJSON *row;
    if (p_stored_job(d, req, &id, &row) < 0)
        return;
    cJSON_Delete(row);
    char err[1200];
    if (!fw_daemon_job_find(d, id) && fw_daemon_too_many_jobs(d, req))
        return;
    if (fw_daemon_job_resume(d, id, err, sizeof(err)) < 0) {
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, NULL, "%s", err);
        return;
    }
    fw_daemon_job *job = fw_daemon_job_find(d, id);
    cJSON *res = job ? fw_daemon_job_progress(d, job) : fw_daemon_progress_from_db(d, id);
    fw_daemon_reply(req, res ? res : cJSON_CreateObject());
}

static void m_jobs(fw_daemon *d, fw_daemon_req *req)
{
    static const char *const known[] = {"state", "limit", NULL};
    static const char *const states[] = {"queued", "running", "done", "failed", "cancelled", NULL};
    const char *state;
    int64_t limit;
    if (check_params(req, known) < 0 || p_str(req, "state", 0, &state) < 0 ||
        p_int(req, "limit", 1, JOBS_LIMIT_MAX, 50, &limit) < 0)
        return;
    if (state) {
        int ok = 0;
        for (size_t i = 0; states[i]; i++)
            ok |= strcmp(states[i], state) == 0;
        if (!ok) {
            fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("state"),
                                  "unknown job state '%s' (known: queued, running, done, failed, cancelled)", state);
            return;
        }
    }
    cJSON *list = NULL;
    if (fw_db_jobs_list(d->db, state, (int)limit, &list) < 0) {
        reply_db_error(d, req, "to list jobs");
        return;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddItemToObject(res, "jobs", list);
    fw_daemon_reply(req, res);
}

/* ---- results ------------------------------------------------------------------------------- */

static int job_exists(fw_daemon *d, fw_daemon_req *req, int64_t id)
{
    cJSON *row;
    if (get_job(d, req, id, &row) < 0)
        return 0;
    cJSON_Delete(row);
    return 1;
}

static void m_rankings(fw_daemon *d, fw_daemon_req *req)
{
    static const char *const known[] = {"job", "shape", "limit", NULL};
    int64_t id, limit;
    const char *shape;
    if (check_params(req, known) < 0 || p_job(req, "job", &id) < 0 || p_str(req, "shape", 0, &shape) < 0 ||
        p_int(req, "limit", 0, 1000000, 10, &limit) < 0)
        return;
    if (!job_exists(d, req, id))
        return;
    cJSON *list = NULL;
    if (fw_daemon_rankings(d->db, id, shape, (int)limit, &list) < 0) {
        reply_db_error(d, req, "to rank the job");
        return;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "job", (double)id);
    cJSON_AddItemToObject(res, "rankings", list);
    fw_daemon_reply(req, res);
}

static void m_best(fw_daemon *d, fw_daemon_req *req)
{
    static const char *const known[] = {"family", "shape", "device", "kernel", "exact", NULL};
    const char *family, *device, *kernel;
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(req->params, "exact");
    if (ex && !cJSON_IsBool(ex)) {
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("exact"), "parameter 'exact' must be true or false");
        return;
    }
    if (check_params(req, known) < 0 || p_str(req, "family", 1, &family) < 0 ||
        p_str(req, "device", 0, &device) < 0 || p_str(req, "kernel", 0, &kernel) < 0)
        return;
    const fw_family *fam = fw_family_find(family);
    if (!fam) {
        char names[256] = "";
        size_t off = 0;
        for (const fw_family *const *f = fw_families(); *f && off < sizeof(names); f++)
            off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%s", off ? ", " : "", (*f)->name);
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("family"), "unknown family '%s' (known: %s)",
                              family, names);
        return;
    }
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(req->params, "shape");
    char key[512], err[1024];
    if (cJSON_IsString(shape)) {
        snprintf(key, sizeof(key), "%s", shape->valuestring);
    } else if (cJSON_IsObject(shape)) {
        if ((fam->shape_check && fam->shape_check(shape, err, sizeof(err)) < 0) || !fam->shape_key ||
            fam->shape_key(shape, key, sizeof(key)) < 0) {
            fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("shape"), "bad %s shape: %s", family,
                                  fam->shape_check ? err : "the family cannot key shapes");
            return;
        }
    } else {
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("shape"),
                              "parameter 'shape' must be a shape object (e.g. {\"M\":256,\"N\":256,\"K\":256}) "
                              "or a shape key (\"K=256,M=256,N=256\")");
        return;
    }
    const char *identity = NULL;
    if (device && strchr(device, '|')) {
        identity = device;
    } else if (device) {
        int rc = fw_daemon_device_need(d, device, req, err, sizeof(err));
        if (rc == 0)
            return;
        if (rc < 0) {
            fw_daemon_reply_error(req, rc == -ENODEV ? FW_RPC_DEVICE_UNAVAILABLE : FW_RPC_INVALID_PARAMS,
                                  fw_daemon_field_data("device"), "%s", err);
            return;
        }
        identity = fw_daemon_device_get(d, device)->identity;
    }
    /* the answer while the store is unchanged (best_cache.c): fields length-prefixed, unambiguous */
    char ck[1800];
    const char *cid = identity ? identity : "", *ckern = kernel ? kernel : "";
    int ckn = snprintf(ck, sizeof(ck), "%zu:%s%zu:%s%d%zu:%s%zu:%s%d", strlen(cid), cid, strlen(family), family,
                       kernel != NULL, strlen(ckern), ckern, strlen(key), key, cJSON_IsTrue(ex));
    const char *ckey = ckn > 0 && (size_t)ckn < sizeof(ck) ? ck : NULL;
    if (fw_daemon_best_cached(d, req, ckey))
        return;
    cJSON *best = NULL;
    int rc = fw_db_best(d->db, identity, family, kernel, key, &best);
    const cJSON *exact = cJSON_GetObjectItemCaseSensitive(req->params, "exact");
    if (rc == -ENOENT && !cJSON_IsTrue(exact))
        rc = fw_daemon_best_nearest(d, identity, family, kernel, key, &best);   /* flagged "nearest" */
    if (rc == -ENOENT) {
        cJSON *data = cJSON_CreateObject();
        cJSON_AddStringToObject(data, "shape_key", key);
        cJSON *near = NULL;
        if (cJSON_IsTrue(exact) && fw_daemon_best_nearest(d, identity, family, kernel, key, &near) == 0)
            cJSON_AddStringToObject(data, "nearest_shape_key", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(near, "shape_key")));
        cJSON_Delete(near);
        char msg[4096];
        int n = snprintf(msg, sizeof(msg),
                         "nothing verified is stored for %s shape %s%s%s; tune it first (submit a job for it)%s",
                         family, key, identity ? " on " : "", identity ? identity : "",
                         cJSON_GetObjectItemCaseSensitive(data, "nearest_shape_key")
                             ? ", or ask again without --exact (\"exact\": true) for the nearest tuned shape"
                             : "");
        if (n >= 0 && (size_t)n >= sizeof(msg))
            msg[fw_utf8_cut(msg, sizeof(msg) - 1)] = '\0';
        cJSON *env = fw_proto_error(NULL, FW_RPC_NOTHING_STORED, msg, data);
        cJSON *e = cJSON_DetachItemFromObjectCaseSensitive(env, "error");
        cJSON_Delete(env);
        fw_daemon_best_answer(d, req, ckey, "error", e);
        return;
    }
    if (rc < 0) {
        reply_db_error(d, req, "to find the best variant");
        return;
    }
    fw_daemon_best_decorate(d, best);
    fw_daemon_best_answer(d, req, ckey, "result", best);
}

static void m_compare(fw_daemon *d, fw_daemon_req *req)
{
    static const char *const known[] = {"a", "b", NULL};
    int64_t a, b;
    if (check_params(req, known) < 0 || p_job(req, "a", &a) < 0 || p_job(req, "b", &b) < 0)
        return;
    cJSON *ja = NULL, *jb = NULL;
    if (get_job(d, req, a, &ja) < 0 || get_job(d, req, b, &jb) < 0) {
        cJSON_Delete(ja);
        return;
    }
    cJSON *sa = NULL, *sb = NULL, *res = NULL;
    char err[512];
    if (fw_db_job_sequence(d->db, a, &sa) < 0 || fw_db_job_sequence(d->db, b, &sb) < 0) {
        cJSON_Delete(sa);
        cJSON_Delete(ja);
        cJSON_Delete(jb);
        reply_db_error(d, req, "to read the jobs' measurements");
        return;
    }
    if (fw_daemon_compare(sa, sb, &res, err, sizeof(err)) < 0) {
        fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL, "%s", err);
    } else if (fw_daemon_compare_divergence(sa, sb, ja, jb, res) < 0) {
        cJSON_Delete(res);
        fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL, "out of memory comparing jobs");
    } else {
        cJSON_AddNumberToObject(res, "a", (double)a);
        cJSON_AddNumberToObject(res, "b", (double)b);
        fw_daemon_reply(req, res);
    }
    cJSON_Delete(sa);
    cJSON_Delete(sb);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
}

/* ---- dry runs and catalogues ---------------------------------------------------------------- */

/* What an expand keeps while its plan is built off the loop. */
typedef struct expand_ctx {
    cJSON *resolved;
    int64_t limit;
    char sel[64];
} expand_ctx;

static void expand_ctx_free(void *v)
{
    expand_ctx *ec = v;
    if (ec)
        cJSON_Delete(ec->resolved);
    free(ec);
}

static void expand_planned(fw_daemon *d, fw_daemon_plan *p)
{
    if (!fw_daemon_plan_usable(d, p)) {
        fw_daemon_plan_free(p);
        return;
    }
    expand_ctx *ec = p->ctx;
    const fw_plan *plan = &p->plan;
    fw_job_spec js;
    if (fw_job_spec_parse(ec->resolved, &js, NULL, 0) < 0)
        memset(&js, 0, sizeof js);
    const fw_family *fam = fw_family_find(js.family);
    cJSON *items = cJSON_CreateArray();
    for (size_t i = 0; i < plan->n && (int64_t)i < ec->limit; i++) {
        const fw_plan_item *it = &plan->items[i];
        cJSON *o = cJSON_CreateObject();
        char key[FW_KEY_MAX];
        cJSON_AddNumberToObject(o, "seq", (double)i);
        cJSON_AddNumberToObject(o, "shape_index", it->shape);
        const cJSON *shape = fw_job_spec_shape(&js, it->shape);
        if (fam && fam->shape_key && shape && fam->shape_key(shape, key, sizeof(key)) >= 0)
            cJSON_AddStringToObject(o, "shape_key", key);
        if (fw_point_key(&it->point, key, sizeof(key)) >= 0)
            cJSON_AddStringToObject(o, "variant_key", key);
        cJSON_AddStringToObject(o, "origin", it->origin);
        cJSON_AddItemToArray(items, o);
    }
    cJSON *res = cJSON_CreateObject();
    char hash[17];
    fw_spec_hash(ec->resolved, hash);
    cJSON_AddStringToObject(res, "spec_hash", hash);
    cJSON_AddStringToObject(res, "device", ec->sel);
    /* a learning strategy's items are what it proposes before any result: the rest depends on them */
    cJSON_AddNumberToObject(res, "planned", (double)plan->planned);
    cJSON_AddBoolToObject(res, "truncated", (int64_t)plan->n > ec->limit || plan->n < plan->planned);
    cJSON_AddItemToObject(res, "spec", ec->resolved);
    ec->resolved = NULL;
    cJSON_AddItemToObject(res, "items", items);
    fw_daemon_reply(p->req, res);
    fw_daemon_plan_free(p);
}

/* The expand's plan off the loop (plan.c): answered with the items once it is built. */
static void expand_plan(fw_daemon *d, fw_daemon_req *req, cJSON *resolved, fw_daemon_device *dev, int64_t limit)
{
    fw_daemon_plan *p = fw_daemon_plan_new(d, FW_PLAN_ITEMS, req, resolved, dev->info);
    expand_ctx *ec = p ? calloc(1, sizeof(*ec)) : NULL;
    if (!ec) {
        fw_daemon_plan_free(p);
        cJSON_Delete(resolved);
        fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL, "out of memory planning the spec");
        return;
    }
    ec->resolved = resolved;
    ec->limit = limit;
    snprintf(ec->sel, sizeof(ec->sel), "%s", dev->sel);
    p->ctx = ec;
    p->ctx_free = expand_ctx_free;
    int rc = fw_daemon_plan_start(p, expand_planned);
    if (rc < 0)
        fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL, "cannot plan the spec off the event loop: %s",
                              uv_strerror(rc));
}

static void m_expand(fw_daemon *d, fw_daemon_req *req)
{
    static const char *const known[] = {"spec", "device", "limit", NULL};
    const char *device;
    int64_t limit;
    if (check_params(req, known) < 0 || p_str(req, "device", 0, &device) < 0 ||
        p_int(req, "limit", 0, EXPAND_LIMIT_MAX, 1000, &limit) < 0)
        return;
    cJSON *user = NULL, *resolved = NULL, *devices = NULL;
    double vt;
    if (take_spec(req, &user, &vt, &devices) < 0)
        return;
    cJSON_Delete(devices);   /* a dry run shows the variants on one device */
    int rc = resolve(req, user, &resolved);
    cJSON_Delete(user);
    if (rc < 0)
        return;
    char sel[64], err[2048];
    if (device)
        snprintf(sel, sizeof(sel), "%s", device);
    else
        fw_daemon_spec_selector(resolved, sel, sizeof(sel));
    rc = fw_daemon_device_need(d, sel, req, err, sizeof(err));
    if (rc <= 0) {
        if (rc < 0)
            fw_daemon_reply_error(req, rc == -ENODEV ? FW_RPC_DEVICE_UNAVAILABLE : FW_RPC_INVALID_PARAMS,
                                  fw_daemon_field_data("device"), "%s", err);
        cJSON_Delete(resolved);
        return;
    }
    expand_plan(d, req, resolved, fw_daemon_device_get(d, sel), limit);
}

static void m_profiles(fw_daemon *d, fw_daemon_req *req)
{
    (void)d;
    static const char *const known[] = {NULL};
    if (check_params(req, known) < 0)
        return;
    cJSON *arr = cJSON_CreateArray();
    for (const char *const *n = fw_profile_names(); n && *n; n++) {
        cJSON *p = cJSON_Parse(fw_profile_json(*n));
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", *n);
        const char *fam = str_of(p, "family"), *desc = str_of(p, "description");
        cJSON_AddStringToObject(o, "family", fam ? fam : "");
        cJSON_AddStringToObject(o, "description", desc ? desc : "");
        cJSON_AddNumberToObject(o, "shapes", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "shapes")));
        cJSON_AddItemToArray(arr, o);
        cJSON_Delete(p);
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddItemToObject(res, "profiles", arr);
    fw_daemon_reply(req, res);
}

static void m_devices(fw_daemon *d, fw_daemon_req *req)
{
    static const char *const known[] = {"device", NULL};
    const char *device;
    if (check_params(req, known) < 0 || p_str(req, "device", 0, &device) < 0)
        return;
    /* With nothing known yet, open the default device, so the first `fairway devices` shows one. */
    int any = 0;
    for (fw_daemon_device *dev = d->devices; dev; dev = dev->next)
        any |= dev->info != NULL;
    const char *probe = device ? device : any ? NULL : "opencl:0";
    char err[2048];
    if (probe) {
        int rc = fw_daemon_device_need(d, probe, req, err, sizeof(err));
        if (rc == 0)
            return;
        if (rc < 0 && rc != -ENODEV) {
            fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("device"), "%s", err);
            return;
        }
    }
    cJSON *arr = cJSON_CreateArray();
    for (fw_daemon_device *dev = d->devices; dev; dev = dev->next) {
        cJSON *o = dev->info ? cJSON_Duplicate(dev->info, 1) : cJSON_CreateObject();
        cJSON_AddStringToObject(o, "selector", dev->sel);
        cJSON_AddStringToObject(o, "worker", dev->w ? "running" : "stopped");
        if (!dev->info && dev->last_error[0])
            cJSON_AddStringToObject(o, "error", dev->last_error);
        if (dev->info || dev->last_error[0])
            cJSON_AddItemToArray(arr, o);
        else
            cJSON_Delete(o);
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddItemToObject(res, "devices", arr);
    fw_daemon_reply(req, res);
}

/* ---- table ---------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    fw_daemon_method_fn fn;
} methods[] = {
    {"submit", m_submit},   {"status", m_status},     {"watch", m_watch},       {"cancel", m_cancel},
    {"jobs", m_jobs},       {"rankings", m_rankings}, {"best", m_best},         {"rerun", m_rerun},
    {"compare", m_compare}, {"expand", m_expand},     {"profiles", m_profiles}, {"devices", m_devices},
    {"failures", m_failures}, {"resume", m_resume}, {"measurements", fw_daemon_m_measurements},
    {"shutdown", fw_daemon_m_shutdown},
};

fw_daemon_method_fn fw_daemon_method_find(const char *name)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(methods[i].name, name) == 0)
            return methods[i].fn;
    return NULL;
}

const char *fw_daemon_method_names(void)
{
    return "submit, status, watch, cancel, jobs, rankings, best, rerun, compare, expand, profiles, devices, failures, resume, measurements, shutdown";
}
