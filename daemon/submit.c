/* submit.c - the submit method's second half: its plan is built off the event loop (plan.c), and
 * the job is created once it is (issue 15 item 2). Also the job creation that submit, rerun and a
 * failed device share, and what both submit and expand do with a finished plan. */
#include "daemon_submit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_jobs.h"
#include "daemon_main.h"
#include "daemon_methods.h"
#include "daemon_plan.h"
#include "daemon_server.h"
#include "daemon_worker.h"

/* Unfinished jobs are held in memory (spec, plan, watchers): past --max-jobs of them a new one is
 * refused with a sentence (issue 15 item 3). 1 when refused (answered). */
int fw_daemon_too_many_jobs(fw_daemon *d, fw_daemon_req *req)
{
    int n = 0;
    for (const fw_daemon_job *j = d->jobs; j; j = j->next)
        n++;
    if (n < d->opt.max_jobs)
        return 0;
    fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, NULL,
                          "fairwayd already holds %d unfinished jobs (queued or running, --max-jobs %d); wait for "
                          "some to finish or cancel some, then try again", n, d->opt.max_jobs);
    return 1;
}

void fw_daemon_create_job(fw_daemon *d, fw_daemon_req *req, const cJSON *spec, const char *spec_hash, uint64_t seed,
                          int64_t planned, int64_t parent, const char *device_sel, const char *source_hash,
                          const char *fail_error, fw_daemon_plan *built)
{
    fw_job_spec js;   /* resolved (submit, rerun): it parses */
    if (fw_job_spec_parse(spec, &js, NULL, 0) < 0)
        memset(&js, 0, sizeof js);
    fw_db_job_new nj = {
        .spec = spec,
        .spec_hash = spec_hash,
        .seed = seed,
        .family = js.family,
        .strategy = js.strategy,
        .budget = js.has_budget ? js.budget : 0,
        .planned = planned,
        .parent = parent,
        .device = device_sel,
        .source_hash = source_hash,
        .daemon_version = FW_VERSION,
    };
    if (!fail_error && fw_daemon_too_many_jobs(d, req))
        return;
    int64_t id = 0;
    int rc;
    if (fw_db_job_create(d->db, &nj, &id) < 0) {
        fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL, "the store failed to create the job: %s",
                              fw_db_error(d->db));
        return;
    }
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "job", (double)id);
    cJSON_AddNumberToObject(res, "planned", (double)planned);
    cJSON_AddStringToObject(res, "spec_hash", spec_hash);
    cJSON_AddNumberToObject(res, "seed", (double)seed);
    cJSON_AddNumberToObject(res, "budget", (double)nj.budget);
    cJSON_AddStringToObject(res, "device", device_sel);
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(spec, "devices");
    if (devs)
        cJSON_AddItemToObject(res, "devices", cJSON_Duplicate(devs, 1));
    if (parent)
        cJSON_AddNumberToObject(res, "parent", (double)parent);
    if (fail_error) {
        /* The job exists and says why it could not run: the daemon itself goes on. */
        fw_db_job_set_state(d->db, id, "failed", fail_error);
        cJSON_AddStringToObject(res, "state", "failed");
        cJSON_AddStringToObject(res, "error", fail_error);
        fw_daemon_log(d, "job %" PRId64 " failed at submission: %s", id, fail_error);
        fw_daemon_reply(req, res);
        return;
    }
    char err[1024];
    /* the sequence the submit built, for the job's start if it starts now on that device */
    if (built)
        built->job = id;
    d->handoff = built;
    rc = fw_daemon_job_add(d, id, err, sizeof(err));
    d->handoff = NULL;
    if (rc < 0) {
        fw_db_job_set_state(d->db, id, "failed", err);
        cJSON_AddStringToObject(res, "state", "failed");
        cJSON_AddStringToObject(res, "error", err);
        fw_daemon_reply(req, res);
        return;
    }
    fw_daemon_log(d, "job %" PRId64 " queued on %s: %" PRId64 " planned", id, device_sel, planned);
    fw_daemon_job *job = fw_daemon_job_find(d, id);
    cJSON_AddStringToObject(res, "state", job && job->running ? "running" : job ? "queued" : "done");
    fw_daemon_reply(req, res);
}

/* MemAvailable of /proc/meminfo in bytes; 0 when it is not known (not Linux). */
static double host_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (double)kb * 1024.0;
}

/* A test hook's bytes replacing a limit (and naming it in the sentence), else the limit as it is. */
static double test_hook(const char *name, double limit, char *what, size_t wlen)
{
    const char *v = getenv(name);
    char *end = NULL;
    double x = v && *v ? strtod(v, &end) : -1;
    if (!v || !*v || *end || !(x >= 0))
        return limit;
    snprintf(what, wlen, "%s", name);
    return x;
}

int fw_daemon_submit_fits(fw_daemon *d, fw_daemon_req *req, const cJSON *resolved, const fw_daemon_device *dev)
{
    if (!dev || !dev->info || strcmp(dev->backend, "replay") == 0)
        return 0;   /* a replayed device allocates nothing and runs no reference */
    fw_fit_limits lim;
    fw_fit_limits_of_device(dev->info, &lim);
    lim.device_mem = test_hook("FAIRWAY_TEST_DEVICE_MEM", lim.device_mem, lim.device_mem_what,
                               sizeof lim.device_mem_what);
    lim.device_alloc = test_hook("FAIRWAY_TEST_DEVICE_ALLOC", lim.device_alloc, lim.device_alloc_what,
                                 sizeof lim.device_alloc_what);
    snprintf(lim.host_what, sizeof lim.host_what, "MemAvailable in /proc/meminfo");
    lim.host_mem = test_hook("FAIRWAY_TEST_HOST_MEM", host_available(), lim.host_what, sizeof lim.host_what);
    const cJSON *devs = cJSON_GetObjectItemCaseSensitive(resolved, "devices");
    lim.workers = cJSON_IsArray(devs) && cJSON_GetArraySize(devs) > 1 ? cJSON_GetArraySize(devs) : 1;
    char err[2048];
    if (fw_job_fits(resolved, &lim, err, sizeof err) == 0)
        return 0;
    fw_daemon_log(d, "a submit on %s was refused: %s", dev->sel, err);
    fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("spec"), "%s", err);
    return -1;
}

/* What a submit keeps while its plan is built off the loop. */
typedef struct submit_ctx {
    cJSON *resolved;
    char hash[17], source_hash[17], sel[64];
    uint64_t seed;
} submit_ctx;

static void submit_ctx_free(void *v)
{
    submit_ctx *sc = v;
    if (sc)
        cJSON_Delete(sc->resolved);
    free(sc);
}

/* A plan of a submit or an expand finished: 1 when the caller answers with it, 0 when it was
 * answered (an error) or nobody waits for it any more. */
int fw_daemon_plan_usable(fw_daemon *d, fw_daemon_plan *p)
{
    if (!p->req->client) {
        fw_daemon_log(d, "a %s's plan was %s: its client went away", p->req->method,
                      p->rc == -ECANCELED ? "cancelled" : "dropped");
        return 0;
    }
    if (d->draining) {
        fw_daemon_reply_error(p->req, FW_RPC_SHUTTING_DOWN, NULL, "fairwayd is shutting down (`fairway shutdown`: "
                              "the variants in flight are being finished); retry once it is started again");
        return 0;
    }
    if (p->rc < 0) {
        fw_daemon_reply_error(p->req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("spec"), "%s", p->err);
        return 0;
    }
    return 1;
}

static void submit_planned(fw_daemon *d, fw_daemon_plan *p)
{
    submit_ctx *sc = p->ctx;
    fw_daemon_device *dev = fw_daemon_device_get(d, sc->sel);
    if (fw_daemon_plan_usable(d, p) && dev) {
        int64_t planned = (int64_t)fw_seq_planned(p->seq);
        if (planned == 0)
            fw_daemon_reply_error(p->req, FW_RPC_INVALID_PARAMS, fw_daemon_field_data("spec"),
                                  "the spec yields no variant to measure on %s; widen the space or the budget",
                                  dev->sel);
        else
            fw_daemon_create_job(d, p->req, sc->resolved, sc->hash, sc->seed, planned, 0, dev->sel,
                       sc->source_hash[0] ? sc->source_hash : NULL, NULL, p);
    }
    fw_daemon_plan_free(p);
}

/* The plan of a submitted spec, off the loop (plan.c): the submit is answered once it is built. */
void fw_daemon_submit_plan(fw_daemon *d, fw_daemon_req *req, cJSON *resolved, fw_daemon_device *dev,
                           const char *hash, uint64_t seed, const char *source_hash)
{
    cJSON *wspec = cJSON_Duplicate(resolved, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(wspec, "variant_timeout_s");
    cJSON_DeleteItemFromObjectCaseSensitive(wspec, "devices");
    fw_daemon_plan *p = fw_daemon_plan_new(d, FW_PLAN_SEQ, req, wspec, dev->info);
    cJSON_Delete(wspec);
    submit_ctx *sc = p ? calloc(1, sizeof(*sc)) : NULL;
    if (!sc) {
        fw_daemon_plan_free(p);
        cJSON_Delete(resolved);
        fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL, "out of memory planning the job");
        return;
    }
    sc->resolved = resolved;
    snprintf(sc->hash, sizeof(sc->hash), "%s", hash);
    snprintf(sc->source_hash, sizeof(sc->source_hash), "%s", source_hash);
    snprintf(sc->sel, sizeof(sc->sel), "%s", dev->sel);
    sc->seed = seed;
    p->ctx = sc;
    p->ctx_free = submit_ctx_free;
    int rc = fw_daemon_plan_start(p, submit_planned);
    if (rc < 0)
        fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL, "cannot plan the job off the event loop: %s",
                              uv_strerror(rc));
}
