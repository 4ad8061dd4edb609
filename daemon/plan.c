/* plan.c - plans built off the event loop, in libuv's thread pool (daemon_int.h, issue 15 item 2).
 *
 * The loop copies what a plan reads (spec, device) into the plan and queues it; a pool thread builds
 * the sequence (and, for a job, replays its stored records through it) touching nothing else of the
 * daemon; the loop takes the results in the after-work callback. A plan's cancel flag is the only
 * thing both sides write: the loop sets it, the thread reads it between points. */
#include "daemon_plan.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

#include "daemon_faults.h"
#include "daemon_main.h"
#include "daemon_sequence.h"
#include "daemon_server.h"

fw_daemon_req *fw_daemon_req_copy(const fw_daemon_req *req)
{
    fw_daemon_req *copy = calloc(1, sizeof(*copy));
    if (!copy)
        return NULL;
    copy->client = req->client;
    copy->id = req->id ? cJSON_Duplicate(req->id, 1) : NULL;
    memcpy(copy->method, req->method, sizeof(copy->method));
    copy->params = req->params ? cJSON_Duplicate(req->params, 1) : cJSON_CreateObject();
    copy->device_error = req->device_error;
    return copy;
}

fw_daemon_plan *fw_daemon_plan_new(fw_daemon *d, fw_daemon_plan_kind kind, const fw_daemon_req *req,
                                   const cJSON *spec, const cJSON *device)
{
    fw_daemon_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->d = d;
    p->kind = kind;
    p->work.data = p;
    atomic_init(&p->cancel, 0);
    p->bound.max_nodes = d->opt.plan_work_max;
    p->bound.cancel = &p->cancel;
    p->spec = cJSON_Duplicate(spec, 1);
    p->device = device ? cJSON_Duplicate(device, 1) : NULL;
    p->req = req ? fw_daemon_req_copy(req) : NULL;
    if (!p->spec || (device && !p->device) || (req && !p->req)) {
        fw_daemon_plan_free(p);
        return NULL;
    }
    return p;
}

void fw_daemon_plan_free(fw_daemon_plan *p)
{
    if (!p)
        return;
    fw_daemon *d = p->d;
    if (p->prev || p->next || d->plans == p) {
        if (p->prev)
            p->prev->next = p->next;
        else
            d->plans = p->next;
        if (p->next)
            p->next->prev = p->prev;
    }
    if (d->handoff == p)
        d->handoff = NULL;
    if (p->ctx_free)
        p->ctx_free(p->ctx);
    fw_daemon_req_free(p->req);
    cJSON_Delete(p->spec);
    cJSON_Delete(p->device);
    cJSON_Delete(p->stored);
    fw_seq_free(p->seq);
    fw_plan_release(&p->plan);
    free(p->replay.done);
    free(p);
}

/* In a pool thread: only the plan's own fields. */
static void plan_work(uv_work_t *w)
{
    fw_daemon_plan *p = w->data;
    uint64_t t0 = uv_hrtime();
    if (p->req)   /* a request's plan: what the tests hold */
        fw_daemon_fault_hold_plan();
    if (atomic_load(&p->cancel)) {
        p->rc = fw_errf(p->err, sizeof(p->err), -ECANCELED, "planning was cancelled");
    } else if (p->kind == FW_PLAN_ITEMS) {
        p->rc = fw_plan_build_work(p->spec, p->device, &p->bound, &p->plan, p->err, sizeof(p->err));
    } else {
        p->rc = fw_seq_new_work(p->spec, p->device, &p->bound, &p->seq, p->err, sizeof(p->err));
        if (p->rc == 0 && p->kind == FW_PLAN_JOB)
            p->rc = fw_daemon_replay_run(p->seq, p->stored, &p->cancel, &p->replay, p->err, sizeof(p->err));
    }
    p->seconds = (double)(uv_hrtime() - t0) / 1e9;
}

/* On the loop. */
static void plan_after(uv_work_t *w, int status)
{
    fw_daemon_plan *p = w->data;
    fw_daemon *d = p->d;
    p->finished = 1;
    if (status == UV_ECANCELED)
        p->rc = fw_errf(p->err, sizeof(p->err), -ECANCELED, "planning was cancelled");
    if (p->rc == -ETIME)
        snprintf(p->err + strlen(p->err), sizeof(p->err) - strlen(p->err),
                 " (fairwayd --plan-work-max %" PRIu64 ")", p->bound.max_nodes);
    if (p->rc == 0 && p->seconds >= 1)
        fw_daemon_log(d, "a plan took %.1f s of a pool thread (%" PRIu64 " expression nodes evaluated)", p->seconds,
                      p->bound.nodes);
    if (d->stopping || !p->done) {
        fw_daemon_plan_free(p);
        return;
    }
    p->done(d, p);
}

int fw_daemon_plan_start(fw_daemon_plan *p, fw_daemon_plan_fn done)
{
    fw_daemon *d = p->d;
    p->done = done;
    p->next = d->plans;
    if (d->plans)
        d->plans->prev = p;
    d->plans = p;
    int rc = uv_queue_work(d->loop, &p->work, plan_work, plan_after);
    if (rc != 0) {
        fw_daemon_plan_free(p);
        return rc;
    }
    return 0;
}

fw_daemon_plan *fw_daemon_plan_of_job(fw_daemon *d, int64_t job)
{
    for (fw_daemon_plan *p = d->plans; p; p = p->next)
        if (p->kind == FW_PLAN_JOB && p->job == job)
            return p;
    return NULL;
}

void fw_daemon_plans_client_gone(fw_daemon *d, fw_daemon_client *c)
{
    for (fw_daemon_plan *p = d->plans; p; p = p->next)
        if (p->req && p->req->client == c) {
            p->req->client = NULL;
            atomic_store(&p->cancel, 1);
        }
}

void fw_daemon_plans_job_gone(fw_daemon *d, int64_t job)
{
    fw_daemon_plan *p = d->plans;
    while (p) {
        fw_daemon_plan *next = p->next;
        if (p->kind == FW_PLAN_JOB && p->job == job) {
            if (p->finished)
                fw_daemon_plan_free(p);
            else
                atomic_store(&p->cancel, 1);   /* plan_after finds no job and frees it */
        }
        p = next;
    }
}

void fw_daemon_plans_stop(fw_daemon *d)
{
    fw_daemon_plan *p = d->plans;
    while (p) {
        fw_daemon_plan *next = p->next;
        atomic_store(&p->cancel, 1);
        if (p->finished)
            fw_daemon_plan_free(p);
        else
            uv_cancel((uv_req_t *)&p->work);   /* one not started yet ends at once (UV_ECANCELED) */
        p = next;
    }
}
