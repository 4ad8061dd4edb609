/* pump.c - what a device does next: its job (id order), the job's start on it, the next seq to
 * measure, the finalists at the end (docs/worker-protocol.md). fw_daemon_device_pump() is called
 * after every event of the device's worker (worker.c) and is idempotent: the device's state machine
 * (wstate) alone decides whether anything is sent.
 */
#include "daemon_pump.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_assert.h"
#include "fw_replay.h"
#include "fw_util.h"

#include "daemon_eta_job.h"
#include "daemon_faults.h"
#include "daemon_jobs.h"
#include "daemon_main.h"
#include "daemon_multidev.h"
#include "daemon_sequence.h"
#include "daemon_shutdown.h"
#include "daemon_spawn.h"
#include "daemon_worker.h"

static fw_daemon_job *next_job(fw_daemon_device *dev)
{
    if (dev->current)
        return dev->current;
    for (fw_daemon_job *j = dev->d->jobs; j; j = j->next) {
        FW_ASSERT(!j->next || j->next->id > j->id);   /* the table in id order: a device's jobs run so */
        const fw_daemon_job_dev *jd = fw_daemon_job_dev_of(j, dev);
        if (jd && !jd->out)
            return dev->current = j;
    }
    return NULL;
}


/* The end of a job: ask the worker to re-time the top fin_k verified variants of each shape
 * interleaved (candidates from the store, so a resumed job asks again from what it stored). 1 when
 * the request is in flight; 0 when there is nothing to ask (off, nothing verified, or the request
 * could not be written), and the job may end. */
static int start_finalists(fw_daemon_device *dev, fw_daemon_job *job)
{
    fw_daemon *d = dev->d;
    job->fin_state = 2;
    if (job->fin_k <= 0)
        return 0;
    cJSON *rk = NULL;
    if (fw_db_rankings(d->db, job->id, NULL, job->fin_k, &rk) < 0) {
        fw_daemon_log(d, "job %" PRId64 ": no finalists, the rankings cannot be read: %s", job->id,
                      fw_db_error(d->db));
        return 0;
    }
    size_t n = (size_t)cJSON_GetArraySize(rk);
    if (n == 0) {
        cJSON_Delete(rk);
        return 0;
    }
    cJSON *p = cJSON_CreateObject();
    cJSON *cand = cJSON_AddArrayToObject(p, "candidates");
    const cJSON *r;
    cJSON_ArrayForEach(r, rk) {
        /* each with its item: a restarted worker has not seen it */
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(r, "seq");
        const fw_seq_item *it = cJSON_IsNumber(sq) ? fw_seq_item_at(job->seq, (int64_t)sq->valuedouble) : NULL;
        cJSON *c = it ? fw_daemon_item_json(it) : cJSON_CreateObject();
        if (!it)
            cJSON_AddItemToObject(c, "seq", cJSON_Duplicate(sq, 1));
        cJSON_AddItemToObject(c, "median_ns", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r, "median_ns"), 1));
        cJSON_AddItemToArray(cand, c);
    }
    cJSON_Delete(rk);
    cJSON_AddNumberToObject(p, "k", job->fin_k);
    if (fw_daemon_worker_request(dev, "finalists", p) != 0) {
        fw_daemon_log(d, "job %" PRId64 ": no finalists, cannot write to the worker", job->id);
        return 0;
    }
    job->fin_state = 1;
    fw_daemon_eta_finalists_started(job);
    dev->wstate = FW_W_FINALISTS;
    /* each candidate is launched about as often as in its first pass (rounds x iters by default
     * 5 x iters), plus its load: a per-variant limit each, with the start-up limit as a floor */
    double limit = job->variant_timeout_s * (double)(n + 1);
    fw_daemon_device_arm_timer(dev, limit > FW_DAEMON_STARTUP_LIMIT_S ? limit : FW_DAEMON_STARTUP_LIMIT_S);
    if (job->ndevs > 1)   /* the winner is decided on one card */
        fw_daemon_log(d, "job %" PRId64 ": re-timing %zu finalists (top %d per shape) on %s", job->id, n, job->fin_k,
                      dev->sel);
    else
        fw_daemon_log(d, "job %" PRId64 ": re-timing %zu finalists (top %d per shape)", job->id, n, job->fin_k);
    fw_daemon_job_notify(d, job);
    return 1;
}

/* The finalists could not be had (worker death, timeout, error reply): the job keeps its first-pass
 * rankings and ends done; the reason goes to the log. */
void fw_daemon_finalists_failed(fw_daemon_device *dev, fw_daemon_job *job, const char *why)
{
    job->fin_state = 2;
    fw_daemon_log(dev->d, "job %" PRId64 ": finalists failed, ranking by the first pass: %s", job->id, why);
}


/* A replayed job names its device (replay/: the file's name and hash), which the replay worker's own
 * identity cannot: the device takes the job's identity before the job's plan and records are stored,
 * and again after a worker restart (whose "ready" names no file). */
static int replay_adopt(fw_daemon_device *dev, const fw_daemon_job *job, char *err, size_t errlen)
{
    cJSON *info = fw_replay_device_json(job->wspec);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "identity"));
    if (!info || !id || strcmp(id, dev->identity) == 0) {
        cJSON_Delete(info);
        return 0;
    }
    int64_t db_id;
    if (fw_db_device_upsert(dev->d->db, id, info, &db_id) < 0) {
        cJSON_Delete(info);
        return fw_errf(err, errlen, -EIO, "cannot store the replay device: %s", fw_db_error(dev->d->db));
    }
    cJSON_Delete(dev->info);
    dev->info = info;
    snprintf(dev->identity, sizeof(dev->identity), "%s", id);
    dev->db_id = db_id;
    fw_daemon_log(dev->d, "%s replays job %" PRId64 "'s file: %s", dev->sel, job->id, dev->identity);
    return 0;
}

/* Send seq to the device's worker: 0, or < 0 when the worker cannot be written to (it is handled as
 * dead). */
static int send_measure(fw_daemon_device *dev, fw_daemon_job *job, int64_t seq)
{
    fw_daemon *d = dev->d;
    FW_ASSERT(dev->wstate == FW_W_IDLE);   /* a worker has at most one request in flight */
    cJSON *p = fw_daemon_job_measure_params(d, job, dev, seq, dev->ahead);
    /* the job's best stored median per shape: the worker's early stop compares against it,
     * and a restarted worker would otherwise have forgotten it */
    cJSON *rk = NULL;
    if (fw_db_rankings(d->db, job->id, NULL, 1, &rk) == 0 && cJSON_GetArraySize(rk) > 0) {
        cJSON *best = cJSON_AddObjectToObject(p, "best_ns");
        const cJSON *r;
        cJSON_ArrayForEach(r, rk) {
            const char *sk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "shape_key"));
            const cJSON *med = cJSON_GetObjectItemCaseSensitive(r, "median_ns");
            if (sk && cJSON_IsNumber(med) && !cJSON_GetObjectItemCaseSensitive(best, sk))
                cJSON_AddNumberToObject(best, sk, med->valuedouble);
        }
    }
    cJSON_Delete(rk);
    if (fw_daemon_worker_request(dev, "measure", p) != 0) {
        fw_daemon_worker_died(dev, "cannot write to the worker");
        return -EPIPE;
    }
    dev->wstate = FW_W_MEASURING;
    dev->req_seq = seq;
    fw_daemon_job_dev *jd = fw_daemon_job_dev_of(job, dev);
    if (jd)
        jd->sent++;
    fw_daemon_device_arm_timer(dev, job->variant_timeout_s);
    fw_daemon_fault_sent(dev, job, dev->req_seq);
    return 0;
}

/* Every seq is stored: the finalists, then the end. They are re-timed on one device (the job's first
 * listed device still on it), so the winner is decided on one card; the others wait for the job's
 * end. 1 when something is in flight or another device does it (nothing to do here), 0 when the job
 * ended (it is freed). */
static int sequence_done(fw_daemon_device *dev, fw_daemon_job *job)
{
    if (job->fin_state == 1)
        return 1;   /* another device of the job re-times them */
    if (job->fin_state == 0 && job->fin_k > 0) {
        fw_daemon_device *fd = fw_daemon_job_fin_device(dev->d, job);
        if (fd && fd != dev)
            return 1;   /* pumped with the others of the job (fw_daemon_job_pump_devices) */
    }
    if (job->fin_state == 0 && start_finalists(dev, job))
        return 1;
    fw_daemon_job_finish(dev->d, job, "done", NULL);
    return 0;
}

void fw_daemon_device_pump(fw_daemon_device *dev)
{
    fw_daemon *d = dev->d;
    for (int guard = 0; guard < 100000; guard++) {
        if (d->stopping)
            return;
        if (dev->wstate == FW_W_STARTING || dev->wstate == FW_W_LOADING || dev->wstate == FW_W_MEASURING ||
            dev->wstate == FW_W_FINALISTS)
            return;
        if (d->draining) {
            fw_daemon_drain_check(d);   /* `shutdown`: nothing new is sent (shutdown.c) */
            return;
        }
        fw_daemon_job *job = next_job(dev);
        if (!job || job->waiting)
            return;   /* a job waiting on a full disk: the store's retry timer pumps again */
        if (job->cancelled) {
            if (fw_daemon_job_busy(d, job, dev, -1))
                return;   /* another device's variant in flight is stored first */
            fw_daemon_job_finish(d, job, "cancelled", NULL);
            continue;
        }
        char err[2048];
        if (dev->wstate == FW_W_NONE) {
            double wait = fw_daemon_device_backoff(dev);
            if (wait > 0) {
                fw_daemon_device_arm_timer(dev, wait);   /* on_timer pumps again */
                return;
            }
            /* many devices' jobs resuming at once start a few workers at a time (start_waiting) */
            if (fw_daemon_starts_full(d))
                return;
            if (fw_daemon_worker_spawn(dev, err, sizeof(err)) < 0) {
                snprintf(dev->last_error, sizeof(dev->last_error), "%s", err);
                if (!fw_daemon_job_device_out(d, job, dev, err))
                    fw_daemon_job_finish(d, job, "failed", err);
                fw_daemon_dispatch_parked(dev, dev->last_error);
                continue;
            }
            return;
        }
        /* Idle worker with a job. */
        int fresh = !job->seq;
        if (fresh)
            fw_daemon_fault_plan();
        int prc = replay_adopt(dev, job, err, sizeof(err));
        if (prc == 0)
            prc = fw_daemon_job_prepare(d, job, dev, err, sizeof(err));
        if (prc == -EINPROGRESS)
            return;   /* its plan is built off the loop (plan.c), which pumps again once it is */
        if (prc == -ENOSPC) {
            fw_daemon_job_wait(d, job, err);
            return;
        }
        if (prc < 0) {
            fw_daemon_job_finish(d, job, "failed", err);
            continue;
        }
        if (fresh)
            fw_daemon_job_notify(d, job);   /* watchers of a queued job see it start */
        if (dev->loaded_job != job->id) {
            FW_ASSERT(dev->wstate == FW_W_IDLE);   /* one request in flight */
            cJSON *p = cJSON_CreateObject();
            cJSON_AddItemToObject(p, "spec", cJSON_Duplicate(job->wspec, 1));
            cJSON_AddNumberToObject(p, "job", (double)job->id);
            if (fw_daemon_worker_request(dev, "load", p) != 0) {
                fw_daemon_worker_died(dev, "cannot write to the worker");
                continue;
            }
            dev->wstate = FW_W_LOADING;
            dev->loaded_job = job->id;
            fw_daemon_device_arm_timer(dev, FW_DAEMON_STARTUP_LIMIT_S > job->variant_timeout_s ? FW_DAEMON_STARTUP_LIMIT_S : job->variant_timeout_s);
            fw_daemon_fault_loading(dev, job);
            return;
        }
        if (fw_daemon_fault_spread() && fw_daemon_job_unstarted_peer(d, job, dev))
            return;   /* tests: every device of the job gets a seq before any gets a second */
        int64_t seq;
        int nrc = fw_daemon_job_next(d, job, dev, &seq, err, sizeof(err));
        if (nrc < 0) {
            fw_daemon_job_finish(d, job, "failed", err);
            continue;
        }
        if (nrc == 2)
            return;   /* nothing for this device now: the others of the job have the rest in flight */
        if (nrc == 0) {
            if (sequence_done(dev, job))
                return;
            continue;
        }
        if (send_measure(dev, job, seq) < 0)
            continue;
        return;
    }
}
