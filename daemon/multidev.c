/* multidev.c - one job over several devices of one identity (issue 17; docs/design-notes.md,
 * "Several devices, one job").
 *
 * A job names its devices in its stored spec ("devices": ["opencl:0", "opencl:1"], resolved at
 * submit; a job without it runs on its one "device"). Each device of the job, when idle, takes the
 * lowest seq asked and not stored that no other device of the job holds, else asks the sequencer for
 * a new one. The sequencer is one per job and tells its strategy the results in seq order, whatever
 * device answered first (fw_seq, job/fw_job.h), so the stream the strategy sees depends only on the
 * results, never on which device was quicker; a restart replays the stored records in seq order and
 * rebuilds the same state. A device whose workers keep dying is taken out of the job, which goes on
 * on the rest.
 */
#include "daemon_multidev.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

#include "daemon_jobs.h"
#include "daemon_main.h"
#include "daemon_pump.h"
#include "daemon_server.h"
#include "daemon_worker.h"

/* ---- a job's devices -------------------------------------------------------------------------- */

int fw_daemon_job_devices_load(fw_daemon_job *job, char *err, size_t errlen)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(job->spec, "devices");
    job->ndevs = 1;
    memset(job->devs, 0, sizeof(job->devs));
    snprintf(job->devs[0].sel, sizeof(job->devs[0].sel), "%s", job->device_sel);
    if (!list)
        return 0;
    int n = cJSON_GetArraySize(list);
    if (!cJSON_IsArray(list) || n < 1 || n > FW_DAEMON_JOB_DEVICES_MAX)
        return fw_errf(err, errlen, -EINVAL, "job %" PRId64 "'s stored \"devices\" is not a list of 1 to %d "
                       "device selectors", job->id, FW_DAEMON_JOB_DEVICES_MAX);
    int i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, list) {
        char backend[32];
        int index;
        if (!cJSON_IsString(s) || fw_daemon_parse_selector(s->valuestring, backend, sizeof(backend), &index) < 0)
            return fw_errf(err, errlen, -EINVAL, "job %" PRId64 "'s stored \"devices\" holds something that is "
                           "not a device selector", job->id);
        snprintf(job->devs[i++].sel, sizeof(job->devs[0].sel), "%.31s:%d", backend, index);
    }
    job->ndevs = n;
    memcpy(job->device_sel, job->devs[0].sel, sizeof(job->device_sel));
    return 0;
}

fw_daemon_job_dev *fw_daemon_job_dev_of(fw_daemon_job *job, const fw_daemon_device *dev)
{
    for (int i = 0; dev && i < job->ndevs; i++)
        if (strcmp(job->devs[i].sel, dev->sel) == 0)
            return &job->devs[i];
    return NULL;
}

int fw_daemon_job_busy(fw_daemon *d, const fw_daemon_job *job, const fw_daemon_device *except, int64_t seq)
{
    for (const fw_daemon_device *o = d->devices; o; o = o->next)
        if (o != except && o->current == job && o->wstate == FW_W_MEASURING && (seq < 0 || o->req_seq == seq))
            return 1;
    return 0;
}

int fw_daemon_job_peers(fw_daemon *d, fw_daemon_job *job, const fw_daemon_device *dev)
{
    int n = 0;
    for (const fw_daemon_device *o = d->devices; o; o = o->next) {
        const fw_daemon_job_dev *jd = o != dev && o->current == job ? fw_daemon_job_dev_of(job, o) : NULL;
        n += jd && !jd->out;
    }
    return n;
}

int fw_daemon_job_unstarted_peer(fw_daemon *d, fw_daemon_job *job, const fw_daemon_device *dev)
{
    const fw_daemon_job_dev *mine = fw_daemon_job_dev_of(job, dev);
    if (job->ndevs < 2 || !mine || mine->sent == 0)
        return 0;
    (void)d;
    for (int i = 0; i < job->ndevs; i++)
        if (&job->devs[i] != mine && !job->devs[i].out && job->devs[i].sent == 0)
            return 1;
    return 0;
}

fw_daemon_device *fw_daemon_job_fin_device(fw_daemon *d, fw_daemon_job *job)
{
    for (int i = 0; i < job->ndevs; i++) {
        if (job->devs[i].out)
            continue;
        fw_daemon_device *o = fw_daemon_device_get(d, job->devs[i].sel);
        if (o && o->current == job)
            return o;
    }
    return NULL;
}

int fw_daemon_job_device_out(fw_daemon *d, fw_daemon_job *job, fw_daemon_device *dev, const char *why)
{
    fw_daemon_job_dev *jd = fw_daemon_job_dev_of(job, dev);
    if (job->ndevs < 2 || !jd || jd->out)
        return 0;
    int left = 0;
    for (int i = 0; i < job->ndevs; i++)
        left += !job->devs[i].out && &job->devs[i] != jd;
    if (left == 0)
        return 0;   /* the last one: the job fails as a one-device job would */
    jd->out = 1;
    snprintf(jd->why, sizeof(jd->why), "%s", why);
    if (dev->current == job)
        dev->current = NULL;
    fw_daemon_log(d, "job %" PRId64 ": device %s is taken out of the job, which goes on on the other %d: %s",
                  job->id, dev->sel, left, why);
    /* kept in the store, so `status`, `jobs` and the report still say it once the job ended */
    if (fw_db_job_event_add(d->db, job->id, "device_out", dev->sel, why) < 0)
        fw_daemon_log(d, "job %" PRId64 ": cannot store that %s was taken out: %s", job->id, dev->sel,
                      fw_db_error(d->db));
    fw_daemon_job_notify(d, job);
    return 1;
}

void fw_daemon_job_pump_devices(fw_daemon *d, int64_t id)
{
    for (int i = 0; i < FW_DAEMON_JOB_DEVICES_MAX; i++) {
        fw_daemon_job *job = fw_daemon_job_find(d, id);   /* a pump may end the job */
        if (!job || i >= job->ndevs)
            return;
        if (job->devs[i].out)
            continue;
        fw_daemon_device *dev = fw_daemon_device_get(d, job->devs[i].sel);
        if (dev)
            fw_daemon_device_pump(dev);
    }
}

static const char *dev_state(const fw_daemon_device *dev, const fw_daemon_job *job, const fw_daemon_job_dev *jd)
{
    if (jd->out)
        return "out";
    if (!dev || dev->current != job)
        return "waiting";   /* on another job first, or not started on this one yet */
    switch (dev->wstate) {
    case FW_W_NONE:
    case FW_W_STARTING: return "starting";
    case FW_W_LOADING: return "loading";
    case FW_W_MEASURING: return "measuring";
    case FW_W_FINALISTS: return "finalists";
    default: return "idle";
    }
}

void fw_daemon_job_devices_progress(fw_daemon *d, fw_daemon_job *job, cJSON *progress)
{
    if (job->ndevs < 2)
        return;
    cJSON *arr = cJSON_AddArrayToObject(progress, "devices");
    for (int i = 0; i < job->ndevs; i++) {
        const fw_daemon_job_dev *jd = &job->devs[i];
        const fw_daemon_device *dev = NULL;
        for (const fw_daemon_device *o = d->devices; o; o = o->next)
            if (strcmp(o->sel, jd->sel) == 0)
                dev = o;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "device", jd->sel);
        cJSON_AddStringToObject(o, "state", dev_state(dev, job, jd));
        cJSON_AddNumberToObject(o, "measured", (double)jd->measured);
        if (jd->out)
            cJSON_AddStringToObject(o, "error", jd->why);
        cJSON_AddItemToArray(arr, o);
    }
}

/* ---- retries ------------------------------------------------------------------------------------ */

fw_daemon_retry *fw_daemon_job_retry(fw_daemon_job *job, int64_t seq)
{
    for (int i = 0; seq >= 0 && i < FW_DAEMON_RETRY_MAX; i++)
        if (job->retry[i].seq == seq)
            return &job->retry[i];
    return NULL;
}

fw_daemon_retry *fw_daemon_job_retry_add(fw_daemon_job *job, int64_t seq)
{
    fw_daemon_retry *r = NULL;
    for (int i = 0; !r && i < FW_DAEMON_RETRY_MAX; i++)
        if (job->retry[i].seq < 0)
            r = &job->retry[i];
    if (!r)
        r = &job->retry[0];   /* more failing seqs at once than slots: the oldest slot's mark is lost */
    memset(r, 0, sizeof(*r));
    r->seq = seq;
    return r;
}

/* ---- submit: which devices a job runs on ------------------------------------------------------- */

static void refuse(fw_daemon_req *req, const char *fmt, int a)
{
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "field", "devices");
    fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, data, fmt, a);
}

int fw_daemon_devices_take(fw_daemon_req *req, cJSON *user, cJSON **devices)
{
    *devices = cJSON_DetachItemFromObjectCaseSensitive(user, "devices");
    cJSON *v = *devices;
    if (!v)
        return 0;
    if (cJSON_IsString(v) && strcmp(v->valuestring, "all") == 0)
        return 0;
    int n = cJSON_GetArraySize(v);
    int ok = cJSON_IsArray(v) && n >= 1 && n <= FW_DAEMON_JOB_DEVICES_MAX;
    int idx[FW_DAEMON_JOB_DEVICES_MAX];
    for (int i = 0; ok && i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(v, i);
        ok = cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble <= 1023 &&
             e->valuedouble == (double)(int)e->valuedouble;
        idx[i] = ok ? (int)e->valuedouble : -1;
        for (int j = 0; ok && j < i; j++)
            if (idx[j] == idx[i]) {
                refuse(req, "\"devices\" names device %d twice; list each device once", idx[i]);
                goto refused;
            }
    }
    if (!ok) {
        refuse(req, "\"devices\" must be a list of 1 to %d device indices within the spec's backend (e.g. "
                    "[0, 1]; `fairway devices` lists them) or \"all\"", FW_DAEMON_JOB_DEVICES_MAX);
        goto refused;
    }
    /* The first device is the job's "device" (what its plan is checked on and its rows name). */
    const cJSON *dv = cJSON_GetObjectItemCaseSensitive(user, "device");
    if (dv && !(cJSON_IsNumber(dv) && dv->valuedouble == (double)idx[0])) {
        refuse(req, "\"device\" and \"devices\" disagree: with \"devices\" the job's device is the first one "
                    "listed (%d); leave \"device\" out", idx[0]);
        goto refused;
    }
    if (!dv)
        cJSON_AddNumberToObject(user, "device", idx[0]);
    return 0;
refused:
    cJSON_Delete(*devices);
    *devices = NULL;
    return -1;
}

/* Where a device stands for a submit naming it: 1 ready, 0 req parked on it, < 0 it cannot be
 * opened (err). A request dispatched again after one device failed carries that device's error
 * (error_dev): any other device it names may still be waited for. */
static int need_one(fw_daemon *d, fw_daemon_req *req, fw_daemon_device *dev, char *err, size_t errlen)
{
    if (dev->info && dev->wstate != FW_W_STARTING)
        return 1;
    if (req->device_error && req->error_dev == dev)
        return fw_errf(err, errlen, -ENODEV, "device %s is unavailable: %s", dev->sel, req->device_error);
    const char *saved = req->device_error;
    req->device_error = NULL;
    int rc = fw_daemon_device_need(d, dev->sel, req, err, errlen);
    req->device_error = saved;
    return rc;
}

/* Devices whose results form one ranking. Replay devices (FAIRWAY_REPLAY_DEVICES) all take the job's
 * file as their identity once it runs on them (pump.c), whatever an earlier job's file left in
 * theirs: any two of them are alike. */
static int same_kind(const fw_daemon_device *a, const fw_daemon_device *b)
{
    return strcmp(a->backend, "replay") == 0 || strcmp(a->identity, b->identity) == 0;
}

int fw_daemon_devices_resolve(fw_daemon *d, fw_daemon_req *req, const cJSON *resolved, const cJSON *devices,
                              cJSON **sels, char *err, size_t errlen)
{
    *sels = NULL;
    char base_sel[64];
    fw_daemon_spec_selector(resolved, base_sel, sizeof(base_sel));
    fw_daemon_device *base = fw_daemon_device_get(d, base_sel);
    if (!base)
        return fw_errf(err, errlen, -EINVAL, "device '%s' is not a device selector; write backend:index, e.g. "
                       "opencl:0", base_sel);
    int rc = need_one(d, req, base, err, errlen);
    if (rc <= 0)
        return rc;
    int all = cJSON_IsString(devices);
    int idx[1024], n = 0;
    if (all) {
        if (base->count < 1)
            return fw_errf(err, errlen, -EXDEV, "the worker of %s does not say how many devices its backend has; "
                           "list them (\"devices\": [0, 1])", base->sel);
        idx[n++] = base->index;
        for (int i = 0; i < base->count && i < 1024; i++)
            if (i != base->index)
                idx[n++] = i;
    } else {
        const cJSON *e;
        cJSON_ArrayForEach(e, devices)
            idx[n++] = (int)e->valuedouble;
    }
    fw_daemon_device *use[FW_DAEMON_JOB_DEVICES_MAX];
    int nuse = 0;
    for (int i = 0; i < n; i++) {
        char sel[64];
        snprintf(sel, sizeof(sel), "%.31s:%d", base->backend, idx[i]);
        fw_daemon_device *dev = fw_daemon_device_get(d, sel);
        if (!dev)
            return fw_errf(err, errlen, -ENOMEM, "out of memory");
        rc = need_one(d, req, dev, err, errlen);
        if (rc == 0)
            return 0;
        if (rc < 0 && !all)
            return rc;
        if (rc < 0 || !same_kind(dev, base)) {
            if (!all && rc > 0)
                return fw_errf(err, errlen, -EXDEV, "devices %s (%s) and %s (%s) are not the same kind of device; a "
                               "job's results form one ranking only over devices of one identity (backend, vendor, "
                               "name, driver): list devices of one kind, or submit one job per device",
                               base->sel, base->identity, dev->sel, dev->identity);
            if (rc > 0)
                fw_daemon_log(d, "\"devices\": \"all\" leaves out %s: %s is not %s", dev->sel, dev->identity,
                              base->identity);
            continue;
        }
        if (nuse < FW_DAEMON_JOB_DEVICES_MAX)
            use[nuse++] = dev;
    }
    if (nuse < 2)
        return 1;   /* one device: an ordinary one-device job */
    *sels = cJSON_CreateArray();
    for (int i = 0; i < nuse; i++)
        cJSON_AddItemToArray(*sels, cJSON_CreateString(use[i]->sel));
    return 1;
}
