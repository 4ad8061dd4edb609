/* jobs.c - the table of unfinished jobs, their progress, and what watchers are told. */
#include "daemon_jobs.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_assert.h"
#include "fw_util.h"

#include "daemon_eta_job.h"
#include "daemon_main.h"
#include "daemon_multidev.h"
#include "daemon_plan.h"
#include "daemon_pump.h"
#include "daemon_sequence.h"
#include "daemon_server.h"
#include "daemon_worker.h"

static const char *const fw_daemon_statuses[FW_DAEMON_NSTATUS] = {
    "ok", "compile_error", "invalid", "verify_failed", "runtime_error", "pruned", "crashed", "timeout",
};

static int fw_daemon_status_index(const char *status)
{
    for (int i = 0; status && i < FW_DAEMON_NSTATUS; i++)
        if (strcmp(status, fw_daemon_statuses[i]) == 0)
            return i;
    return -1;
}

int fw_daemon_parse_selector(const char *sel, char *backend, size_t blen, int *index)
{
    const char *colon = strchr(sel, ':');
    size_t n = colon ? (size_t)(colon - sel) : strlen(sel);
    if (n == 0 || n >= blen)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!((sel[i] >= 'a' && sel[i] <= 'z') || (sel[i] >= '0' && sel[i] <= '9')))
            return -EINVAL;
    memcpy(backend, sel, n);
    backend[n] = '\0';
    *index = 0;
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end || v < 0 || v > 1023)
            return -EINVAL;
        *index = (int)v;
    }
    return 0;
}

void fw_daemon_spec_selector(const cJSON *spec, char *out, size_t len)
{
    fw_job_spec js;
    if (fw_job_spec_parse(spec, &js, NULL, 0) < 0)
        memset(&js, 0, sizeof js);
    snprintf(out, len, "%s:%d", js.backend ? js.backend : fw_job_default_backend(),
             js.has_device && !js.device_text ? js.device : 0);
}

fw_daemon_job *fw_daemon_job_find(fw_daemon *d, int64_t id)
{
    for (fw_daemon_job *j = d->jobs; j; j = j->next)
        if (j->id == id)
            return j;
    return NULL;
}

static void job_free(fw_daemon_job *job)
{
    cJSON_Delete(job->spec);
    cJSON_Delete(job->wspec);
    fw_seq_free(job->seq);
    free(job->done);
    free(job->watchers);
    free(job->shape_info);
    fw_daemon_eta_free(job);
    cJSON_Delete(job->pending);
    free(job->pending_error);
    free(job);
}

static void job_unlink(fw_daemon *d, fw_daemon_job *job)
{
    if (job->prev)
        job->prev->next = job->next;
    else
        d->jobs = job->next;
    if (job->next)
        job->next->prev = job->prev;
    else
        d->jobs_tail = job->prev;
    job->prev = job->next = NULL;
}

void fw_daemon_jobs_free(fw_daemon *d)
{
    while (d->jobs) {
        fw_daemon_job *j = d->jobs;
        job_unlink(d, j);
        job_free(j);
    }
}

static double num_field(const cJSON *o, const char *name, double dflt)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(f) ? f->valuedouble : dflt;
}

/* The fastest of the per-shape winners (rankings with limit 1 give one per shape): progress's
 * "best" is over the whole job. */
static const cJSON *fastest(const cJSON *rankings)
{
    const cJSON *best = NULL, *r;
    cJSON_ArrayForEach(r, rankings)
        if (!best || num_field(r, "median_ns", 0) < num_field(best, "median_ns", 0))
            best = r;
    return best;
}

/* Finalists of a job from the store: K per shape = spec options.finalists (default 5, 0 = off). */
static int fw_daemon_spec_finalists(const fw_job_spec *spec)
{
    const fw_job_num *f = &spec->finalists;
    if (!f->number)
        return 5;
    return f->value <= 0 ? 0 : f->value > 8 ? 8 : (int)f->value;
}

static int has_seq(const cJSON *list, double seq)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
        if (num_field(e, "seq", -1) == seq)
            return 1;
    return 0;
}

static void rank_append(cJSON *out, const cJSON *r, const cJSON *fin, int *rank, int limit)
{
    if (limit > 0 && *rank > limit)
        return;
    cJSON *e = cJSON_Duplicate(r, 1);
    double first = num_field(r, "median_ns", 0);
    cJSON_ReplaceItemInObjectCaseSensitive(e, "rank", cJSON_CreateNumber(*rank));
    cJSON_AddNumberToObject(e, "first_pass_median_ns", first);
    if (fin) {
        static const char *const st[] = {"median_ns", "mean_ns", "min_ns", "max_ns", "stddev_ns", "p95_ns", "n"};
        for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
            cJSON_ReplaceItemInObjectCaseSensitive(e, st[i], cJSON_CreateNumber(num_field(fin, st[i], 0)));
        double med = num_field(fin, "median_ns", 0);
        /* bandwidth and throughput follow the median they are reported with */
        static const char *const rate[] = {"gbps", "gflops"};
        for (size_t i = 0; i < 2; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, rate[i]);
            if (cJSON_IsNumber(v) && med > 0)
                cJSON_ReplaceItemInObjectCaseSensitive(e, rate[i], cJSON_CreateNumber(v->valuedouble * first / med));
        }
        cJSON_AddNumberToObject(e, "first_rank", num_field(fin, "first_rank", 0));
        cJSON_AddStringToObject(e, "timing", "finalist");
    } else {
        cJSON_AddStringToObject(e, "timing", "first_pass");
    }
    cJSON_AddItemToArray(out, e);
    (*rank)++;
}

int fw_daemon_rankings(fw_db *db, int64_t job, const char *shape_key, int limit, cJSON **out)
{
    *out = NULL;
    cJSON *all = NULL, *fin = NULL;
    int rc = fw_db_rankings(db, job, shape_key, 0, &all);
    if (rc == 0)
        rc = fw_db_finalists(db, job, shape_key, &fin);
    if (rc < 0) {
        cJSON_Delete(all);
        return rc;
    }
    cJSON *res = cJSON_CreateArray();
    const cJSON *r;
    const char *cur = NULL;
    /* rankings come grouped by shape (plan order); each group is rebuilt once, at its first entry */
    cJSON_ArrayForEach(r, all) {
        const char *sk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "shape_key"));
        if (!sk || (cur && strcmp(cur, sk) == 0))
            continue;
        cur = sk;
        int rank = 1;
        cJSON *sfin = cJSON_CreateArray();
        cJSON *f;
        cJSON_ArrayForEach(f, fin) {
            const char *fk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "shape_key"));
            if (fk && strcmp(fk, sk) == 0)
                cJSON_AddItemReferenceToArray(sfin, f);
        }
        cJSON_ArrayForEach(f, sfin) {   /* fw_db_finalists orders them by rank */
            const cJSON *q;
            cJSON_ArrayForEach(q, all)
                if (num_field(q, "seq", -1) == num_field(f, "seq", -2)) {
                    rank_append(res, q, f, &rank, limit);
                    break;
                }
        }
        const cJSON *q;
        cJSON_ArrayForEach(q, all) {
            const char *qk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "shape_key"));
            if (qk && strcmp(qk, sk) == 0 && !has_seq(sfin, num_field(q, "seq", -1)))
                rank_append(res, q, NULL, &rank, limit);
        }
        cJSON_Delete(sfin);
    }
    cJSON_Delete(all);
    cJSON_Delete(fin);
    *out = res;
    return 0;
}

int fw_daemon_job_add(fw_daemon *d, int64_t id, char *err, size_t errlen)
{
    if (fw_daemon_job_find(d, id))
        return 0;
    cJSON *row = NULL;
    int rc = fw_db_job_get(d->db, id, &row);
    if (rc < 0)
        return fw_errf(err, errlen, rc, "cannot read job %" PRId64 " from the store: %s", id, fw_db_error(d->db));
    fw_daemon_job *job = calloc(1, sizeof(*job));
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(row, "spec");
    if (!job || !cJSON_IsObject(spec)) {
        free(job);
        cJSON_Delete(row);
        return fw_errf(err, errlen, job ? -EINVAL : -ENOMEM, "job %" PRId64 " has no stored spec", id);
    }
    job->id = id;
    for (int i = 0; i < FW_DAEMON_RETRY_MAX; i++)
        job->retry[i].seq = -1;
    job->spec = cJSON_Duplicate(spec, 1);
    /* The worker gets the spec without the daemon's own fields: it resolves and hashes exactly what
     * fw_spec_resolve produced. */
    job->wspec = cJSON_Duplicate(spec, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(job->wspec, "variant_timeout_s");
    cJSON_DeleteItemFromObjectCaseSensitive(job->wspec, "devices");
    job->variant_timeout_s = num_field(spec, "variant_timeout_s", d->opt.variant_timeout_s);
    char perr[512];
    if (job->spec && fw_job_spec_parse(job->spec, &job->js, perr, sizeof(perr)) < 0) {
        cJSON_Delete(row);
        job_free(job);
        return fw_errf(err, errlen, -EINVAL, "job %" PRId64 " has a stored spec that does not parse: %s", id, perr);
    }
    job->family = job->js.family ? job->js.family : "";
    job->fin_k = fw_daemon_spec_finalists(&job->js);
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(row, "device");
    if (cJSON_IsString(dev) && *dev->valuestring)
        snprintf(job->device_sel, sizeof(job->device_sel), "%s", dev->valuestring);
    else
        fw_daemon_spec_selector(spec, job->device_sel, sizeof(job->device_sel));
    char derr[256];
    if (fw_daemon_job_devices_load(job, derr, sizeof(derr)) < 0) {
        cJSON_Delete(row);
        job_free(job);
        return fw_errf(err, errlen, -EINVAL, "%s", derr);
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(row, "state");
    job->running = cJSON_IsString(st) && strcmp(st->valuestring, "running") == 0;
    job->planned = (size_t)num_field(row, "planned", 0);
    job->evaluated = (size_t)num_field(row, "evaluated", 0);
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(row, "counts");
    for (int i = 0; i < FW_DAEMON_NSTATUS; i++)
        job->counts[i] = (int64_t)num_field(counts, fw_daemon_statuses[i], 0);
    cJSON *rk = NULL;
    if (fw_db_rankings(d->db, id, NULL, 1, &rk) == 0 && cJSON_GetArraySize(rk) > 0) {
        const cJSON *b = fastest(rk);
        const cJSON *vk = cJSON_GetObjectItemCaseSensitive(b, "variant_key");
        const cJSON *sk = cJSON_GetObjectItemCaseSensitive(b, "shape_key");
        if (cJSON_IsString(vk) && cJSON_IsString(sk)) {
            job->have_best = 1;
            job->best_median = num_field(b, "median_ns", 0);
            snprintf(job->best_variant, sizeof(job->best_variant), "%s", vk->valuestring);
            snprintf(job->best_shape, sizeof(job->best_shape), "%s", sk->valuestring);
        }
    }
    cJSON_Delete(rk);
    cJSON_Delete(row);
    if (!job->spec || !job->wspec) {
        job_free(job);
        return fw_errf(err, errlen, -ENOMEM, "out of memory loading job %" PRId64, id);
    }
    /* Keep the table in id order: the scheduler takes a device's lowest id first. */
    fw_daemon_job *after = d->jobs_tail;
    while (after && after->id > id)
        after = after->prev;
    job->prev = after;
    job->next = after ? after->next : d->jobs;
    if (job->next)
        job->next->prev = job;
    else
        d->jobs_tail = job;
    if (after)
        after->next = job;
    else
        d->jobs = job;
    if (job->ndevs > 1) {
        fw_daemon_log(d, "job %" PRId64 " runs on %d devices", id, job->ndevs);
        fw_daemon_job_pump_devices(d, id);
        return 0;
    }
    fw_daemon_device *device = fw_daemon_device_get(d, job->device_sel);
    if (device)
        fw_daemon_device_pump(device);
    return 0;
}

int fw_daemon_job_resume(fw_daemon *d, int64_t id, char *err, size_t errlen)
{
    if (fw_daemon_job_find(d, id))
        return fw_errf(err, errlen, -EBUSY, "job %" PRId64 " is not finished; only a failed or cancelled job "
                       "can be resumed", id);
    cJSON *row = NULL;
    int rc = fw_db_job_get(d->db, id, &row);
    if (rc < 0)
        return fw_errf(err, errlen, rc, "cannot read job %" PRId64 ": %s", id, fw_db_error(d->db));
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "state"));
    char state[16];
    snprintf(state, sizeof(state), "%s", st ? st : "unknown");
    cJSON_Delete(row);
    if (strcmp(state, "failed") != 0 && strcmp(state, "cancelled") != 0)
        return fw_errf(err, errlen, -EINVAL, "job %" PRId64 " is %s; only a failed or cancelled job can be resumed%s",
                       id, state, strcmp(state, "done") == 0 ? " (rerun it to measure it again)" : "");
    /* Back to queued: the scheduler picks it up and measures only the seqs not stored yet. */
    if ((rc = fw_db_job_set_state(d->db, id, "queued", NULL)) < 0)
        return fw_errf(err, errlen, rc, "cannot queue job %" PRId64 " again: %s", id, fw_db_error(d->db));
    fw_daemon_log(d, "job %" PRId64 " (%s) resumes on request", id, state);
    if ((rc = fw_daemon_job_add(d, id, err, errlen)) < 0) {
        fw_db_job_set_state(d->db, id, state, err);
        return rc;
    }
    return 0;
}

int fw_daemon_jobs_resume(fw_daemon *d, char *err, size_t errlen)
{
    int64_t *ids = NULL;
    size_t n = 0;
    int rc = fw_db_jobs_unfinished(d->db, &ids, &n);
    if (rc < 0)
        return fw_errf(err, errlen, rc, "cannot list unfinished jobs: %s", fw_db_error(d->db));
    for (size_t i = 0; i < n; i++) {
        char e[1024];
        if (fw_daemon_job_add(d, ids[i], e, sizeof(e)) < 0) {
            /* One unreadable job must not keep the others from running. */
            fw_daemon_log(d, "job %" PRId64 " cannot be resumed and is marked failed: %s", ids[i], e);
            fw_db_job_set_state(d->db, ids[i], "failed", e);
        } else {
            fw_daemon_log(d, "job %" PRId64 " resumes", ids[i]);
        }
    }
    free(ids);
    return 0;
}

static cJSON *notification(cJSON *params)
{
    return fw_proto_notification("progress", params);
}

static cJSON *failures_object(const int64_t *counts)
{
    cJSON *f = cJSON_CreateObject();
    for (int i = 1; i < FW_DAEMON_NSTATUS; i++)
        cJSON_AddNumberToObject(f, fw_daemon_statuses[i], (double)counts[i]);
    return f;
}

cJSON *fw_daemon_job_progress(fw_daemon *d, fw_daemon_job *job)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "job", (double)job->id);
    /* A job cancelled while its variant is in flight is stored cancelled at once (fw_daemon_job_cancel),
     * so status says so too, and why it is not over yet; "final" comes once that variant is stored. */
    cJSON_AddStringToObject(p, "state", job->cancelled ? "cancelled" : job->running ? "running" : "queued");
    /* "measuring" the plan, then "finalists" while the top K per shape are re-timed */
    cJSON_AddStringToObject(p, "phase", job->fin_state == 1 ? "finalists" : "measuring");
    if (job->waiting)
        cJSON_AddStringToObject(p, "waiting", "the store's disk is full");
    else if (job->cancelled)
        cJSON_AddStringToObject(p, "waiting", "cancelled; it stops once the variant in flight is stored");
    else if (d->draining && !job->cancelled)   /* `fairway shutdown` (shutdown.c); a cancelled job does not resume */
        cJSON_AddStringToObject(p, "waiting", "fairwayd is shutting down; the job resumes when it starts again");
    cJSON_AddNumberToObject(p, "evaluated", (double)job->evaluated);
    cJSON_AddNumberToObject(p, "planned", (double)job->planned);
    if (job->have_best) {
        cJSON *b = cJSON_AddObjectToObject(p, "best");
        cJSON_AddStringToObject(b, "variant_key", job->best_variant);
        cJSON_AddStringToObject(b, "shape_key", job->best_shape);
        cJSON_AddNumberToObject(b, "median_ns", job->best_median);
    } else {
        cJSON_AddNullToObject(p, "best");
    }
    cJSON_AddItemToObject(p, "failures", failures_object(job->counts));
    double elapsed = job->run_started_ns ? (double)(fw_now_ns() - job->run_started_ns) / 1e9 : 0.0;
    cJSON_AddNumberToObject(p, "elapsed_s", elapsed);
    fw_daemon_eta_add(d, job, p, elapsed);   /* this run's rate, and the finalists (eta_job.c) */
    fw_daemon_job_devices_progress(d, job, p);
    cJSON_AddBoolToObject(p, "final", 0);
    return p;
}

cJSON *fw_daemon_progress_from_db(fw_daemon *d, int64_t id)
{
    cJSON *row = NULL;
    if (fw_db_job_get(d->db, id, &row) < 0)
        return NULL;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "job", (double)id);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(row, "state");
    cJSON_AddStringToObject(p, "state", cJSON_IsString(st) ? st->valuestring : "unknown");
    cJSON_AddNumberToObject(p, "evaluated", num_field(row, "evaluated", 0));
    cJSON_AddNumberToObject(p, "planned", num_field(row, "planned", 0));
    cJSON *rk = NULL;
    if (fw_daemon_rankings(d->db, id, NULL, 1, &rk) == 0 && cJSON_GetArraySize(rk) > 0) {
        const cJSON *b = fastest(rk);
        cJSON *best = cJSON_AddObjectToObject(p, "best");
        cJSON_AddItemToObject(best, "variant_key",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(b, "variant_key"), 1));
        cJSON_AddItemToObject(best, "shape_key",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(b, "shape_key"), 1));
        cJSON_AddNumberToObject(best, "median_ns", num_field(b, "median_ns", 0));
        const cJSON *tm = cJSON_GetObjectItemCaseSensitive(b, "timing");
        if (cJSON_IsString(tm))
            cJSON_AddStringToObject(best, "timing", tm->valuestring);
    } else {
        cJSON_AddNullToObject(p, "best");
    }
    cJSON_Delete(rk);
    int64_t counts[FW_DAEMON_NSTATUS];
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(row, "counts");
    for (int i = 0; i < FW_DAEMON_NSTATUS; i++)
        counts[i] = (int64_t)num_field(c, fw_daemon_statuses[i], 0);
    cJSON_AddItemToObject(p, "failures", failures_object(counts));
    cJSON_AddNumberToObject(p, "elapsed_s", 0);
    cJSON_AddNullToObject(p, "eta_s");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(row, "error");
    if (cJSON_IsString(e))
        cJSON_AddStringToObject(p, "error", e->valuestring);
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(row, "devices_out");   /* issue 17 */
    if (out)
        cJSON_AddItemToObject(p, "devices_out", cJSON_Duplicate(out, 1));
    int terminal = cJSON_IsString(st) && (strcmp(st->valuestring, "done") == 0 ||
                                          strcmp(st->valuestring, "failed") == 0 ||
                                          strcmp(st->valuestring, "cancelled") == 0);
    cJSON_AddBoolToObject(p, "final", terminal);
    cJSON_Delete(row);
    return p;
}

/* A send may drop a client (past the reply-queue bounds, server.c), which takes it out of the
 * watchers at once: go through a copy, so no watcher is skipped (its final message, say). A dropped
 * client's memory lives until the loop closes it, and a send to it is a no-op. */
static void notify_all(fw_daemon_job *job, const cJSON *msg)
{
    size_t n = job->nwatchers;
    fw_daemon_client **cs = malloc((n ? n : 1) * sizeof(*cs));
    if (!cs)
        return;
    for (size_t i = 0; i < n; i++)
        cs[i] = job->watchers[i].client;
    for (size_t i = 0; i < n; i++)
        fw_daemon_client_send(cs[i], msg);
    free(cs);
}

void fw_daemon_job_notify(fw_daemon *d, fw_daemon_job *job)
{
    if (job->nwatchers == 0)
        return;
    cJSON *msg = notification(fw_daemon_job_progress(d, job));
    notify_all(job, msg);
    cJSON_Delete(msg);
}

int fw_daemon_job_watch(fw_daemon_job *job, fw_daemon_client *c)
{
    for (size_t i = 0; i < job->nwatchers; i++)
        if (job->watchers[i].client == c)
            return 0;
    if (job->nwatchers == job->capwatchers) {
        size_t cap = job->capwatchers ? job->capwatchers * 2 : 4;
        fw_daemon_watch *w = realloc(job->watchers, cap * sizeof(*w));
        if (!w)
            return -ENOMEM;
        job->watchers = w;
        job->capwatchers = cap;
    }
    job->watchers[job->nwatchers++].client = c;
    return 0;
}

void fw_daemon_client_gone(fw_daemon *d, fw_daemon_client *c)
{
    for (fw_daemon_job *j = d->jobs; j; j = j->next) {
        size_t k = 0;
        for (size_t i = 0; i < j->nwatchers; i++)
            if (j->watchers[i].client != c)
                j->watchers[k++] = j->watchers[i];
        j->nwatchers = k;
    }
    for (fw_daemon_device *dev = d->devices; dev; dev = dev->next)
        for (fw_daemon_req *r = dev->parked; r; r = r->next)
            if (r->client == c)
                r->client = NULL;
}

void fw_daemon_job_finish(fw_daemon *d, fw_daemon_job *job, const char *state, const char *error)
{
    FW_ASSERT(!strcmp(state, "done") || !strcmp(state, "failed") || !strcmp(state, "cancelled"));
    /* A record still waiting for room is written first. */
    int rc = job->pending ? -ENOSPC : fw_db_job_set_state(d->db, job->id, state, error);
    if (rc == -ENOSPC && !d->stopping) {
        snprintf(job->pending_state, sizeof(job->pending_state), "%s", state);
        free(job->pending_error);
        job->pending_error = error ? fw_strdup(error) : NULL;
        fw_daemon_job_wait(d, job, job->pending ? "a record waits" : fw_db_error(d->db));
        return;
    }
    if (rc < 0)
        fw_daemon_log(d, "job %" PRId64 ": cannot store state '%s': %s", job->id, state, fw_db_error(d->db));
    fw_daemon_log(d, "job %" PRId64 " %s (%zu of %zu evaluated)%s%s", job->id, state, job->evaluated,
                  job->planned, error ? ": " : "", error ? error : "");
    if (job->nwatchers) {
        cJSON *p = fw_daemon_progress_from_db(d, job->id);
        if (!p) {
            p = fw_daemon_job_progress(d, job);
            cJSON_ReplaceItemInObjectCaseSensitive(p, "state", cJSON_CreateString(state));
            cJSON_ReplaceItemInObjectCaseSensitive(p, "final", cJSON_CreateTrue());
        }
        /* The run's own timing is what the watcher has been reading; keep it in the last message. */
        double elapsed = job->run_started_ns ? (double)(fw_now_ns() - job->run_started_ns) / 1e9 : 0.0;
        cJSON_ReplaceItemInObjectCaseSensitive(p, "elapsed_s", cJSON_CreateNumber(elapsed));
        cJSON_ReplaceItemInObjectCaseSensitive(p, "eta_s", cJSON_CreateNumber(0));
        cJSON_ReplaceItemInObjectCaseSensitive(p, "final", cJSON_CreateTrue());
        cJSON *msg = notification(p);
        notify_all(job, msg);
        cJSON_Delete(msg);
    }
    for (fw_daemon_device *dev = d->devices; dev; dev = dev->next)
        if (dev->current == job)
            dev->current = NULL;
    fw_daemon_plans_job_gone(d, job->id);   /* a plan still being built for it stops */
    job_unlink(d, job);
    job_free(job);
}

int fw_daemon_job_cancel(fw_daemon *d, int64_t id)
{
    fw_daemon_job *job = fw_daemon_job_find(d, id);
    if (!job)
        return -ENOENT;
    job->cancelled = 1;
    fw_daemon_device *dev = fw_daemon_device_get(d, job->device_sel);
    if (job->ndevs > 1 && fw_daemon_job_busy(d, job, NULL, -1)) {
        fw_db_job_set_state(d->db, job->id, "cancelled", NULL);   /* as below, for each device in flight */
        return 0;
    }
    if (job->ndevs > 1) {
        fw_daemon_job_finish(d, job, "cancelled", NULL);
        for (fw_daemon_device *o = d->devices; o; o = o->next)
            fw_daemon_device_pump(o);   /* the job's devices take their next job */
        return 0;
    }
    if (dev && dev->current == job && dev->wstate == FW_W_MEASURING) {
        /* Stops once the variant in flight is stored: the pump sees the flag before the next seq.
         * The state is stored now so that status and jobs say so at once. */
        fw_db_job_set_state(d->db, job->id, "cancelled", NULL);
        return 0;
    }
    fw_daemon_job_finish(d, job, "cancelled", NULL);
    if (dev)
        fw_daemon_device_pump(dev);
    return 0;
}

static void copy_str(char *dst, size_t len, const cJSON *o, const char *name)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    if (cJSON_IsString(f))
        snprintf(dst, len, "%s", f->valuestring);
}

static int store_record(fw_daemon *d, fw_daemon_job *job, int64_t dev_id, const cJSON *m)
{
    const cJSON *sq = cJSON_GetObjectItemCaseSensitive(m, "seq");
    int64_t seq = cJSON_IsNumber(sq) && sq->valuedouble >= 0 && sq->valuedouble < 1e15 ? (int64_t)sq->valuedouble : -1;
    int rc = fw_db_measurement_put(d->db, job->id, dev_id, m);
    if (rc == -EEXIST) {
        fw_daemon_log(d, "job %" PRId64 " seq %" PRId64 " was already stored; keeping the first", job->id, seq);
    } else if (rc < 0) {
        return rc;
    }
    /* a seq is stored exactly once: a row the store took is one the job had not */
    FW_ASSERT(rc != 0 || seq < 0 || (size_t)seq >= job->planned || !job->done[seq]);
    if (seq >= 0 && (size_t)seq < job->planned && !job->done[seq]) {
        job->done[seq] = 1;
        job->evaluated++;
        job->evaluated_this_run++;
    }
    if (seq >= 0)
        fw_daemon_job_told(d, job, seq, m);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(m, "status");
    int si = fw_daemon_status_index(cJSON_IsString(st) ? st->valuestring : NULL);
    if (rc == 0 && si >= 0)
        job->counts[si]++;
    const cJSON *shi = cJSON_GetObjectItemCaseSensitive(m, "shape_index");
    if (cJSON_IsNumber(shi) && shi->valuedouble >= 0 && (size_t)shi->valuedouble < job->nshapes) {
        fw_daemon_shape_info *info = &job->shape_info[(size_t)shi->valuedouble];
        copy_str(info->kernel, sizeof(info->kernel), m, "kernel");
        copy_str(info->mode, sizeof(info->mode), m, "mode");
        copy_str(info->source_hash, sizeof(info->source_hash), m, "source_hash");
    }
    if (rc == 0 && si == 0) {
        const cJSON *stats = cJSON_GetObjectItemCaseSensitive(m, "stats");
        double med = num_field(stats, "median_ns", 0);
        /* progress's best is that of the shape being measured (shapes run in plan order): a
         * best across shapes jumped when the next shape started (issue 19 item 10) */
        const char *sk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "shape_key"));
        int other_shape = job->have_best && sk && strcmp(sk, job->best_shape) != 0;
        fw_daemon_eta_note(job, sk, med);
        if (med > 0 && (!job->have_best || other_shape || med < job->best_median)) {
            job->have_best = 1;
            job->best_median = med;
            copy_str(job->best_variant, sizeof(job->best_variant), m, "variant_key");
            copy_str(job->best_shape, sizeof(job->best_shape), m, "shape_key");
        }
    }
    fw_daemon_job_notify(d, job);
    return 0;
}

/* A record of a job on several devices names the one it ran on ("device": "opencl:1"): their
 * identity is one (so is their device_id), their selectors are not. */
static int store_on(fw_daemon *d, fw_daemon_job *job, fw_daemon_device *dev, const cJSON *m)
{
    fw_daemon_job_dev *jd = job->ndevs > 1 ? fw_daemon_job_dev_of(job, dev) : NULL;
    if (!jd)
        return store_record(d, job, dev->db_id, m);
    cJSON *copy = cJSON_Duplicate(m, 1);
    if (!copy)
        return -ENOMEM;
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "device");
    cJSON_AddStringToObject(copy, "device", dev->sel);
    int rc = store_record(d, job, dev->db_id, copy);
    cJSON_Delete(copy);
    if (rc == 0)
        jd->measured++;
    FW_ASSERT(jd->measured <= jd->sent);   /* stored from a device only what was sent to it */
    return rc;
}

int fw_daemon_job_store(fw_daemon *d, fw_daemon_job *job, fw_daemon_device *dev, const cJSON *m)
{
    /* behind a record already waiting for room (another device's), so the store keeps their order */
    int rc = job->pending ? -ENOSPC : store_on(d, job, dev, m);
    if (rc != -ENOSPC || d->stopping)
        return rc;
    /* Nothing of it was stored (the put is one transaction): keep it and write it once there is room. */
    if (!job->pending)
        job->pending = cJSON_CreateArray();
    cJSON *e = cJSON_CreateObject();
    cJSON *copy = cJSON_Duplicate(m, 1);
    if (!job->pending || !e || !copy) {
        cJSON_Delete(e);
        cJSON_Delete(copy);
        return -ENOMEM;
    }
    if (job->ndevs > 1) {
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "device");
        cJSON_AddStringToObject(copy, "device", dev->sel);
    }
    cJSON_AddNumberToObject(e, "device_id", (double)dev->db_id);
    cJSON_AddItemToObject(e, "record", copy);
    cJSON_AddItemToArray(job->pending, e);
    fw_daemon_job_wait(d, job, fw_db_error(d->db));
    return 1;
}

/* ---- a full disk ------------------------------------------------------------------------------ */

#define STORE_RETRY_MS 1000

static void store_retry(uv_timer_t *t);

static void arm_store_retry(fw_daemon *d)
{
    if (!d->store_timer_init) {
        uv_timer_init(d->loop, &d->store_timer);
        d->store_timer.data = d;
        /* it must not keep a stopping daemon's loop alive */
        uv_unref((uv_handle_t *)&d->store_timer);
        d->store_timer_init = 1;
    }
    if (!uv_is_active((uv_handle_t *)&d->store_timer))
        uv_timer_start(&d->store_timer, store_retry, STORE_RETRY_MS, 0);
}

void fw_daemon_jobs_close(fw_daemon *d)
{
    if (d->store_timer_init && !uv_is_closing((uv_handle_t *)&d->store_timer))
        uv_close((uv_handle_t *)&d->store_timer, NULL);
}

void fw_daemon_job_wait(fw_daemon *d, fw_daemon_job *job, const char *why)
{
    if (!job->waiting)
        fw_daemon_log(d, "job %" PRId64 " waiting: the store's disk is full (%s); the write is retried "
                      "every %d ms, nothing measured is lost", job->id, why, STORE_RETRY_MS);
    job->waiting = 1;
    arm_store_retry(d);
    fw_daemon_job_notify(d, job);
}

/* The writes a waiting job still owes, oldest first: 0 when done (the job may be gone: finished),
 * -ENOSPC while the disk is still full. */
static int job_flush(fw_daemon *d, fw_daemon_job *job)
{
    while (cJSON_GetArraySize(job->pending) > 0) {
        const cJSON *e = cJSON_GetArrayItem(job->pending, 0);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "record");
        int rc = store_record(d, job, (int64_t)num_field(e, "device_id", 0), m);
        if (rc == -ENOSPC)
            return rc;
        if (rc < 0)   /* not stored: measured again on the next start */
            fw_daemon_log(d, "job %" PRId64 ": a waiting record cannot be stored: %s", job->id, fw_db_error(d->db));
        cJSON_DeleteItemFromArray(job->pending, 0);
    }
    cJSON_Delete(job->pending);
    job->pending = NULL;
    job->waiting = 0;
    if (job->pending_state[0]) {
        char state[sizeof(job->pending_state)];
        snprintf(state, sizeof(state), "%s", job->pending_state);
        job->pending_state[0] = '\0';
        char *error = job->pending_error;
        job->pending_error = NULL;
        fw_daemon_job_finish(d, job, state, error);   /* may wait again */
        free(error);
        return 0;
    }
    fw_daemon_log(d, "job %" PRId64 ": the store takes writes again; going on", job->id);
    fw_daemon_job_notify(d, job);
    if (job->ndevs > 1) {
        fw_daemon_job_pump_devices(d, job->id);
        return 0;
    }
    fw_daemon_device *dev = fw_daemon_device_get(d, job->device_sel);
    if (dev)
        fw_daemon_device_pump(dev);
    return 0;
}

static void store_retry(uv_timer_t *t)
{
    fw_daemon *d = t->data;
    if (d->stopping)
        return;
    /* Ids first: a finish or a pump below may free any job of the table. */
    size_t n = 0, k = 0;
    for (fw_daemon_job *j = d->jobs; j; j = j->next)
        n += j->waiting != 0;
    int64_t *ids = calloc(n ? n : 1, sizeof(*ids));
    if (!ids) {
        arm_store_retry(d);
        return;
    }
    for (fw_daemon_job *j = d->jobs; j; j = j->next)
        if (j->waiting)
            ids[k++] = j->id;
    for (size_t i = 0; i < k; i++) {
        fw_daemon_job *job = fw_daemon_job_find(d, ids[i]);
        if (job && job->waiting)
            job_flush(d, job);
    }
    free(ids);
    for (fw_daemon_job *j = d->jobs; j; j = j->next)
        if (j->waiting)
            arm_store_retry(d);
}
