/* sequence.c - a job's evaluation sequence in the daemon (fw_seq, job/fw_job.h): built when the
 * job starts on a device, rebuilt on a resume by replaying the stored records in seq order, told
 * every record as it is stored, asked for the next seq to measure and for the items the worker may
 * compile ahead (docs/worker-protocol.md, measure). */
#include "daemon_sequence.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_family.h"
#include "fw_util.h"

#include "daemon_jobs.h"
#include "daemon_main.h"
#include "daemon_multidev.h"
#include "daemon_plan.h"
#include "daemon_pump.h"

/* The plan's size and state 'running' into the store (again after a full disk). */
static int job_start_stored(fw_daemon *d, fw_daemon_job *job, fw_daemon_device *dev, char *err, size_t errlen)
{
    int rc;
    if ((rc = fw_db_job_set_planned(d->db, job->id, (int64_t)job->planned, dev->db_id)) < 0)
        return fw_errf(err, errlen, rc, "cannot store job %" PRId64 "'s plan: %s", job->id, fw_db_error(d->db));
    if (!job->running) {
        if ((rc = fw_db_job_set_state(d->db, job->id, "running", NULL)) < 0)
            return fw_errf(err, errlen, rc, "cannot start job %" PRId64 ": %s", job->id, fw_db_error(d->db));
        job->running = 1;
    }
    job->store_ready = 1;
    job->run_started_ns = fw_now_ns();
    job->evaluated_this_run = 0;
    return 0;
}

static double num_field(const cJSON *o, const char *name, double dflt)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(f) ? f->valuedouble : dflt;
}

/* A record's outcome for the strategy; a record the map does not know is a failure (crashed). */
static fw_outcome record_outcome(const char *status, double median_ns)
{
    fw_outcome o;
    if (fw_seq_outcome(status, median_ns, &o) < 0) {
        o.kind = FW_OUT_CRASHED;
        o.time = 0;
    }
    return o;
}

/* A resumed job: the stored records, in seq order, through the sequencer (each replayed ask is
 * checked against the stored variant; one that differs is noted and told as stored). In a pool
 * thread: only q, stored and r. */
int fw_daemon_replay_run(fw_seq *q, const cJSON *stored, const atomic_int *cancel, fw_daemon_replay *r, char *err,
                         size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->planned = fw_seq_planned(q);
    r->done = calloc(r->planned ? r->planned : 1, 1);
    if (!r->done)
        return fw_errf(err, errlen, -ENOMEM, "out of memory planning the job");
    size_t n = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, stored) {
        if (cancel && n++ % 256 == 0 && atomic_load_explicit(cancel, memory_order_relaxed))
            return fw_errf(err, errlen, -ECANCELED, "planning was cancelled");
        double sq = num_field(m, "seq", -1);
        if (sq < 0 || sq >= (double)r->planned)
            continue;
        int64_t seq = (int64_t)sq;
        const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "status"));
        const char *vk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "variant_key"));
        char why[1200];
        int rc = fw_seq_replay(q, seq, vk, record_outcome(status, num_field(m, "median_ns", 0)),
                               fw_record_eval_ms(m), why, sizeof why);
        if (rc == 1 && r->differ++ < sizeof(r->why) / sizeof(r->why[0]))
            snprintf(r->why[r->nwhy++], sizeof(r->why[0]), "%s", why);
        if (rc == -EAGAIN || rc == -ENOENT) {
            snprintf(r->stop, sizeof(r->stop), "stored seq %" PRId64 " and later are past what the sequence can ask "
                     "(%s); they are kept as stored", seq,
                     rc == -ENOENT ? "its end" : "an earlier seq has no stored result");
            break;
        }
        if (rc >= 0 && !r->done[seq]) {
            r->done[seq] = 1;
            r->evaluated++;
        }
    }
    return 0;
}

/* The job takes a built sequence and what its replay found; the plan keeps the rest (freed). */
static int job_adopt(fw_daemon *d, fw_daemon_job *job, fw_daemon_plan *p, char *err, size_t errlen)
{
    fw_daemon_replay *r = &p->replay;
    for (size_t i = 0; i < r->nwhy; i++)
        fw_daemon_log(d, "job %" PRId64 ": %s", job->id, r->why[i]);
    if (r->stop[0])
        fw_daemon_log(d, "job %" PRId64 ": %s", job->id, r->stop);
    if (r->differ)
        fw_daemon_log(d, "job %" PRId64 ": %zu stored seqs differ from this device's sequence (other device "
                      "limits?); each is kept as stored", job->id, r->differ);
    job->seq = p->seq;
    p->seq = NULL;
    job->planned = r->planned;
    job->done = r->done;
    r->done = NULL;
    job->evaluated = r->evaluated;
    job->nshapes = (size_t)job->js.nshapes;
    job->shape_info = calloc(job->nshapes ? job->nshapes : 1, sizeof(*job->shape_info));
    if (!job->shape_info)
        return fw_errf(err, errlen, -ENOMEM, "out of memory planning job %" PRId64, job->id);
    return 0;
}

/* A JOB plan finished: the devices that wait for it are pumped (the first to prepare the job takes
 * it; a job on several devices has them all waiting). */
static void job_planned(fw_daemon *d, fw_daemon_plan *p)
{
    if (!fw_daemon_job_find(d, p->job)) {
        fw_daemon_plan_free(p);
        return;
    }
    for (fw_daemon_device *dev = d->devices; dev && !d->stopping; dev = dev->next)
        fw_daemon_device_pump(dev);
}

/* A job's sequence for dev, off the loop: 0 when it is queued (the job waits, -EINPROGRESS). */
static int job_plan_start(fw_daemon *d, fw_daemon_job *job, fw_daemon_device *dev, char *err, size_t errlen)
{
    cJSON *stored = NULL;
    int rc = fw_db_job_sequence(d->db, job->id, &stored);
    if (rc < 0)
        return fw_errf(err, errlen, rc, "cannot read job %" PRId64 "'s measurements: %s", job->id, fw_db_error(d->db));
    fw_daemon_plan *p = fw_daemon_plan_new(d, FW_PLAN_JOB, NULL, job->wspec, dev->info);
    if (!p) {
        cJSON_Delete(stored);
        return fw_errf(err, errlen, -ENOMEM, "out of memory planning job %" PRId64, job->id);
    }
    p->job = job->id;
    p->stored = stored;
    if ((rc = fw_daemon_plan_start(p, job_planned)) < 0)
        return fw_errf(err, errlen, -EIO, "cannot plan job %" PRId64 " off the event loop: %s", job->id,
                       uv_strerror(rc));
    return -EINPROGRESS;
}

/* The sequence a submit built for this job, when it was built for this device (a fresh job has
 * nothing stored to replay). */
static fw_daemon_plan *take_handoff(fw_daemon *d, fw_daemon_job *job, fw_daemon_device *dev, char *err,
                                    size_t errlen, int *rc)
{
    fw_daemon_plan *p = d->handoff;
    *rc = 0;
    if (!p || p->job != job->id || !p->seq || !cJSON_Compare(p->device, dev->info, 1))
        return NULL;
    d->handoff = NULL;
    cJSON *stored = NULL;
    if ((*rc = fw_db_job_sequence(d->db, job->id, &stored)) < 0)
        fw_errf(err, errlen, *rc, "cannot read job %" PRId64 "'s measurements: %s", job->id, fw_db_error(d->db));
    else
        *rc = fw_daemon_replay_run(p->seq, stored, NULL, &p->replay, err, errlen);
    cJSON_Delete(stored);
    return p;
}

int fw_daemon_job_prepare(fw_daemon *d, fw_daemon_job *job, fw_daemon_device *dev, char *err, size_t errlen)
{
    if (job->seq)
        return job->store_ready ? 0 : job_start_stored(d, job, dev, err, errlen);
    int rc = 0;
    fw_daemon_plan *p = fw_daemon_plan_of_job(d, job->id);
    if (p && !p->finished)
        return -EINPROGRESS;
    if (!p && !(p = take_handoff(d, job, dev, err, errlen, &rc)))
        return job_plan_start(d, job, dev, err, errlen);
    if (rc == 0 && p->rc < 0)
        rc = fw_errf(err, errlen, p->rc, "%s", p->err);
    if (rc == 0)
        rc = job_adopt(d, job, p, err, errlen);
    /* a JOB plan is the job's own; a handoff is freed by the submit that made it (methods.c) */
    if (p->kind == FW_PLAN_JOB)
        fw_daemon_plan_free(p);
    if (rc < 0)
        return rc;
    job->next_seq = 0;
    if ((rc = job_start_stored(d, job, dev, err, errlen)) < 0)
        return rc;
    if (job->evaluated)
        fw_daemon_log(d, "job %" PRId64 " running on %s: %zu of %zu already stored", job->id, dev->sel,
                      job->evaluated, job->planned);
    else
        fw_daemon_log(d, "job %" PRId64 " running on %s: %zu planned", job->id, dev->sel, job->planned);
    return 0;
}

void fw_daemon_job_told(fw_daemon *d, fw_daemon_job *job, int64_t seq, const cJSON *m)
{
    (void)d;
    if (!job->seq)
        return;
    const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "status"));
    double med = num_field(cJSON_GetObjectItemCaseSensitive(m, "stats"), "median_ns", 0);
    /* -EINVAL: told already (a duplicate) */
    fw_seq_tell(job->seq, seq, record_outcome(status, med), fw_record_eval_ms(m));
}

/* The log says which shapes the time budget ended (once, when the sequence ends). */
static void time_budget_note(fw_daemon *d, fw_daemon_job *job)
{
    double b = job->js.budget_s;
    if (!(b > 0) || job->budget_s_noted)
        return;
    job->budget_s_noted = 1;
    for (size_t s = 0; s < job->nshapes; s++)
        if (fw_seq_timed_out(job->seq, (int)s))
            fw_daemon_log(d, "job %" PRId64 ": shape %zu's time budget of %g s (its evaluations' eval_ms) is "
                          "spent; it ends before its evaluation budget", job->id, s, b);
}

/* Whether dev may take seq now: not stored, not in flight on another device of the job, and not a
 * retry whose first attempt ended on dev while another device of the job could take it. */
static int seq_free_for(fw_daemon *d, fw_daemon_job *job, const fw_daemon_device *dev, size_t s)
{
    if (job->done[s])
        return 0;
    if (job->ndevs < 2)
        return 1;
    if (fw_daemon_job_busy(d, job, dev, (int64_t)s))
        return 0;
    const fw_daemon_retry *r = fw_daemon_job_retry(job, (int64_t)s);
    return !(r && r->dev == dev && fw_daemon_job_peers(d, job, dev) > 0);
}

int fw_daemon_job_next(fw_daemon *d, fw_daemon_job *job, const fw_daemon_device *dev, int64_t *seq, char *err,
                       size_t errlen)
{
    size_t count = fw_seq_count(job->seq);
    while (job->next_seq < count && job->done[job->next_seq])
        job->next_seq++;
    /* On several devices, a seq asked and not stored may be in another device's hands: that device
     * answers for it (or it comes back here when that device fails). */
    int others = job->ndevs > 1 && (fw_daemon_job_busy(d, job, dev, -1) || job->next_seq < count);
    for (size_t s = job->next_seq; s < count && s < job->planned; s++) {
        if (seq_free_for(d, job, dev, s)) {
            *seq = (int64_t)s;
            return 1;
        }
    }
    const fw_seq_item *it;
    int rc = fw_seq_ask(job->seq, &it);
    if (rc == FW_SEQ_ITEM && (size_t)it->seq < job->planned) {
        *seq = it->seq;
        return 1;
    }
    if (rc == FW_SEQ_END || rc == FW_SEQ_WAIT)
        if (others)
            return 2;
    if (rc == FW_SEQ_END) {
        time_budget_note(d, job);
        return 0;
    }
    return fw_errf(err, errlen, -EPROTO, "job %" PRId64 "'s sequence %s at seq %zu with every asked seq stored",
                   job->id, rc == FW_SEQ_WAIT ? "waits for a result" : "failed", count);
}

cJSON *fw_daemon_item_json(const fw_seq_item *it)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seq", (double)it->seq);
    cJSON_AddNumberToObject(o, "shape_index", it->shape);
    cJSON_AddNumberToObject(o, "index", (double)it->index);
    cJSON_AddItemToObject(o, "knobs", fw_point_to_json(&it->point));
    cJSON_AddStringToObject(o, "origin", it->origin);
    return o;
}

cJSON *fw_daemon_job_measure_params(fw_daemon *d, fw_daemon_job *job, const fw_daemon_device *dev, int64_t seq,
                                    size_t ahead)
{
    /* ask ahead of seq as far as the worker compiles ahead (and the strategy's ask-ahead allows) */
    const fw_seq_item *it;
    while (fw_seq_count(job->seq) < (size_t)seq + 1 + ahead && fw_seq_ask(job->seq, &it) == FW_SEQ_ITEM)
        ;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "seq", (double)seq);
    cJSON_AddItemToObject(p, "item", fw_daemon_item_json(fw_seq_item_at(job->seq, seq)));
    cJSON *a = cJSON_AddArrayToObject(p, "ahead");
    size_t count = fw_seq_count(job->seq);
    /* not what another device of the job measures now: its compile would be for nothing */
    for (size_t s = (size_t)seq + 1; s < count && s < job->planned; s++)
        if (!job->done[s] && (job->ndevs < 2 || !fw_daemon_job_busy(d, job, dev, (int64_t)s)))
            cJSON_AddItemToArray(a, fw_daemon_item_json(fw_seq_item_at(job->seq, (int64_t)s)));
    return p;
}

cJSON *fw_daemon_job_failure_record(fw_daemon_job *job, int64_t seq, const char *status, const char *error)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "seq", (double)seq);
    cJSON_AddStringToObject(m, "family", job->family);
    const fw_seq_item *it = job->seq ? fw_seq_item_at(job->seq, seq) : NULL;
    if (it) {
        const cJSON *shape = fw_job_spec_shape(&job->js, it->shape);
        const fw_family *fam = fw_family_find(job->family);
        char key[FW_KEY_MAX];
        cJSON_AddNumberToObject(m, "shape_index", it->shape);
        if (fam && fam->shape_key && shape && fam->shape_key(shape, key, sizeof(key)) >= 0)
            cJSON_AddStringToObject(m, "shape_key", key);
        if (shape)
            cJSON_AddItemToObject(m, "shape", cJSON_Duplicate(shape, 1));
        if (fw_point_key(&it->point, key, sizeof(key)) >= 0)
            cJSON_AddStringToObject(m, "variant_key", key);
        cJSON_AddItemToObject(m, "knobs", fw_point_to_json(&it->point));
        cJSON_AddStringToObject(m, "origin", it->origin);
        /* Name the variant as the worker's records of this shape did, so a crashed variant is the
         * same variant row as it would have been had it run. */
        if ((size_t)it->shape < job->nshapes) {
            const fw_daemon_shape_info *si = &job->shape_info[it->shape];
            if (si->kernel[0])
                cJSON_AddStringToObject(m, "kernel", si->kernel);
            if (si->mode[0])
                cJSON_AddStringToObject(m, "mode", si->mode);
            if (si->source_hash[0])
                cJSON_AddStringToObject(m, "source_hash", si->source_hash);
        }
    }
    cJSON_AddStringToObject(m, "status", status);
    cJSON_AddStringToObject(m, "error", error);
    /* what a time budget counts for it (stored, so a resume counts the same): a variant that timed
     * out took at least its limit; a crash is not timed */
    cJSON_AddNumberToObject(m, "eval_ms", strcmp(status, "timeout") == 0 ? job->variant_timeout_s * 1000.0 : 0);
    return m;
}
