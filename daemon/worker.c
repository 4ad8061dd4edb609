/* worker.c - one fairway-worker child per device, driven seq by seq (docs/worker-protocol.md).
 *
 * The device's state machine (wstate) is the only thing that decides what is sent next; every event
 * (ready, reply, death, timer) updates it and calls fw_daemon_device_pump(), which is idempotent.
 * A worker that dies or is killed is detached from its device at once and frees itself once libuv
 * has closed its handles, so a late callback from an old worker can never touch a new one.
 */
#include "daemon_worker.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

#include "daemon_faults.h"
#include "daemon_jobs.h"
#include "daemon_main.h"
#include "daemon_multidev.h"
#include "daemon_plan.h"
#include "daemon_pump.h"
#include "daemon_sequence.h"
#include "daemon_server.h"
#include "daemon_spawn.h"

#define CRASH_LOOP_MAX 8         /* worker deaths in a row without one stored result */

static void worker_release_handle(uv_handle_t *h)
{
    fw_daemon_worker *w = h->data;
    if (--w->open_handles == 0) {
        fw_proto_lines_release(&w->lb);
        free(w);
    }
}

/* Cut the worker loose from its device: kill it (if still alive) and close its pipes. Its exit
 * callback then only closes the process handle. */
static void worker_detach(fw_daemon_device *dev, int signum)
{
    fw_daemon_worker *w = dev->w;
    uv_timer_stop(&dev->timer);
    dev->w = NULL;
    dev->wstate = FW_W_NONE;
    dev->loaded_job = 0;
    if (!w)
        return;
    w->dev = NULL;
    if (!w->exited && signum)
        uv_process_kill(&w->proc, signum);
    if (!uv_is_closing((uv_handle_t *)&w->in))
        uv_close((uv_handle_t *)&w->in, worker_release_handle);
    if (!uv_is_closing((uv_handle_t *)&w->out))
        uv_close((uv_handle_t *)&w->out, worker_release_handle);
    if (w->exited && !uv_is_closing((uv_handle_t *)&w->proc))
        uv_close((uv_handle_t *)&w->proc, worker_release_handle);
}

typedef struct wwrite {
    uv_write_t req;
    uv_buf_t buf;
} wwrite;

static void on_worker_write(uv_write_t *req, int status)
{
    (void)status;   /* a worker that cannot read dies, and its exit is handled */
    wwrite *ww = (wwrite *)req;
    free(ww->buf.base);
    free(ww);
}

int fw_daemon_worker_request(fw_daemon_device *dev, const char *method, cJSON *params)
{
    if (!dev->w) {
        cJSON_Delete(params);
        return -EPIPE;
    }
    cJSON *o = fw_proto_request((double)++dev->req_id, method, params);
    size_t n;
    char *buf = fw_proto_print_exact(o, &n);   /* the spec's bytes as the client sent them */
    cJSON_Delete(o);
    wwrite *ww = malloc(sizeof(*ww));
    if (!ww || !buf) {
        free(ww);
        free(buf);
        return -ENOMEM;
    }
    ww->buf = uv_buf_init(buf, (unsigned)n);
    int rc = uv_write(&ww->req, (uv_stream_t *)&dev->w->in, &ww->buf, 1, on_worker_write);
    if (rc != 0) {
        free(buf);
        free(ww);
    }
    return rc;
}


/* Parked requests get their turn now that the device is known (or known to be unavailable). */
void fw_daemon_dispatch_parked(fw_daemon_device *dev, const char *device_error)
{
    fw_daemon_req *list = dev->parked;
    dev->parked = NULL;
    while (list) {
        fw_daemon_req *r = list;
        list = r->next;
        r->next = NULL;
        r->device_error = device_error;
        r->error_dev = dev;
        if (r->client)
            fw_daemon_dispatch(dev->d, r);
        fw_daemon_req_free(r);
    }
}

/* A worker start finished (ready or failed): start the workers of devices whose requests or jobs
 * waited for a free slot (fw_daemon_starts_full), as far as slots are free. */
static void start_waiting(fw_daemon *d)
{
    for (fw_daemon_device *dev = d->devices; dev && !d->stopping; dev = dev->next) {
        if (dev->wstate != FW_W_NONE || fw_daemon_starts_full(d))
            continue;
        if (!dev->parked) {
            if (!uv_is_active((uv_handle_t *)&dev->timer))
                fw_daemon_device_pump(dev);   /* a device with a job waiting for a start slot */
            continue;
        }
        char err[2048];
        if (fw_daemon_worker_spawn(dev, err, sizeof(err)) < 0) {
            snprintf(dev->last_error, sizeof(dev->last_error), "%s", err);
            fw_daemon_dispatch_parked(dev, dev->last_error);
        }
    }
}


/* The device could not be opened: the job that asked fails with the worker's own words (a job on
 * several devices goes on on the others), and so does every request parked on it. The daemon goes on. */
static void device_failed(fw_daemon_device *dev, const char *why)
{
    fw_daemon *d = dev->d;
    snprintf(dev->last_error, sizeof(dev->last_error), "%s", why);
    fw_daemon_log(d, "device %s unavailable: %s", dev->sel, why);
    worker_detach(dev, SIGKILL);
    dev->restarts = 0;
    dev->failed_ns = uv_hrtime();
    fw_daemon_job *job = dev->current;
    if (job) {
        char msg[1400];
        snprintf(msg, sizeof(msg), "device %s could not be opened: %s", dev->sel, why);
        if (!fw_daemon_job_device_out(d, job, dev, msg))
            fw_daemon_job_finish(d, job, "failed", msg);
    }
    fw_daemon_dispatch_parked(dev, dev->last_error);
    start_waiting(d);
}

/* The first crash or timeout of a seq: 1 when it is to be measured again on a fresh worker (the
 * pump sends the same seq once a new worker is ready; a job on several devices gives it to another
 * of them), 0 when it was already retried and is stored as it failed now. */
static int retry_once(fw_daemon_device *dev, fw_daemon_job *job, int64_t seq, const char *status, const char *why)
{
    if (fw_daemon_job_retry(job, seq))
        return 0;
    fw_daemon_retry *r = fw_daemon_job_retry_add(job, seq);
    r->dev = dev;
    snprintf(r->why, sizeof(r->why), "%s: %s", status, why);
    fw_daemon_log(dev->d, "job %" PRId64 " seq %" PRId64 " %s (%s); measuring it once more on a %s", job->id, seq,
                  status, why, job->ndevs > 1 ? "fresh worker (another device of the job if one is free)"
                                             : "fresh worker");
    return 1;
}

/* Mark a record of the seq being retried: "retried": true and what the first attempt ended in. */
static void mark_retried(fw_daemon_job *job, cJSON *m, int64_t seq)
{
    fw_daemon_retry *r = fw_daemon_job_retry(job, seq);
    if (!r)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(m, "retried");
    cJSON_DeleteItemFromObjectCaseSensitive(m, "retry_reason");
    cJSON_AddTrueToObject(m, "retried");
    cJSON_AddStringToObject(m, "retry_reason", r->why);
    r->seq = -1;
}

/* Store the daemon's own record for a seq that crashed or timed out twice. < 0: the job failed. */
static int store_failure(fw_daemon_device *dev, fw_daemon_job *job, int64_t seq, const char *status,
                         const char *msg)
{
    fw_daemon *d = dev->d;
    char e[1400];
    const fw_daemon_retry *r = fw_daemon_job_retry(job, seq);
    snprintf(e, sizeof(e), "%s (also on the retry; first attempt: %s)", msg, r ? r->why : "?");
    cJSON *m = fw_daemon_job_failure_record(job, seq, status, e);
    mark_retried(job, m, seq);
    int rc = fw_daemon_job_store(d, job, dev, m);
    cJSON_Delete(m);
    if (rc < 0) {
        snprintf(e, sizeof(e), "cannot store seq %" PRId64 ": %s", seq, fw_db_error(d->db));
        fw_daemon_job_finish(d, job, "failed", e);
    }
    return rc;
}

/* A death or a hang of dev's worker counted against it: a device of a several-device job that fails
 * FW_DAEMON_DEVICE_OUT_AFTER times in a row is taken out of the job (1), which goes on on the rest. */
static int device_failing(fw_daemon_device *dev, fw_daemon_job *job, const char *why)
{
    if (job->ndevs < 2 || dev->restarts < FW_DAEMON_DEVICE_OUT_AFTER)
        return 0;
    char e[1400];
    snprintf(e, sizeof(e), "its worker died or hung %d times in a row without storing a result (last: %s); "
             "check the device and the worker log", dev->restarts, why);
    if (!fw_daemon_job_device_out(dev->d, job, dev, e))
        return 0;
    dev->restarts = 0;
    return 1;
}

void fw_daemon_worker_died(fw_daemon_device *dev, const char *why)
{
    fw_daemon *d = dev->d;
    fw_daemon_wstate st = dev->wstate;
    int64_t seq = dev->req_seq;
    worker_detach(dev, SIGKILL);
    if (d->stopping)
        return;
    fw_daemon_job *job = dev->current;
    /* A worker of a device that opened before, killed while starting (the OOM killer, a user), is an
     * ordinary death, not a device that cannot be opened. */
    if (st == FW_W_STARTING && !dev->info) {
        device_failed(dev, why);
        return;
    }
    if (!job) {
        fw_daemon_log(d, "idle worker for %s went away: %s", dev->sel, why);
        if (st == FW_W_STARTING) {
            fw_daemon_dispatch_parked(dev, why);   /* nothing starts another: answer what waited for this one */
            start_waiting(d);
        }
        return;
    }
    if (st == FW_W_FINALISTS) {
        if (job->fin_state == 1)
            fw_daemon_finalists_failed(dev, job, why);
        return;
    }
    dev->restarts++;
    dev->died_ns = uv_hrtime();
    if (st == FW_W_MEASURING && !retry_once(dev, job, seq, "crashed", why)) {
        char msg[1200];
        snprintf(msg, sizeof(msg), "the worker died measuring this variant: %s", why);
        fw_daemon_log(d, "job %" PRId64 " seq %" PRId64 " crashed again: %s", job->id, seq, why);
        if (store_failure(dev, job, seq, "crashed", msg) < 0)
            return;
    } else if (st != FW_W_MEASURING) {
        fw_daemon_log(d, "worker for %s died while %s job %" PRId64 ": %s", dev->sel,
                      st == FW_W_LOADING ? "loading" : st == FW_W_STARTING ? "starting for" : "idle with",
                      job->id, why);
    }
    if (dev->current == job && device_failing(dev, job, why))
        return;
    if (dev->restarts >= CRASH_LOOP_MAX) {
        char e[1400];
        snprintf(e, sizeof(e), "the worker died %d times in a row without storing a result (last: %s); "
                 "check the device and the worker log", dev->restarts, why);
        dev->restarts = 0;
        fw_daemon_job_finish(d, job, "failed", e);
    }
}

static void describe_exit(const fw_daemon_worker *w, char *buf, size_t len)
{
    if (w->term_signal)
        snprintf(buf, len, "killed by signal %d (%s)", w->term_signal, strsignal(w->term_signal));
    else
        snprintf(buf, len, "exited with status %" PRId64, w->exit_status);
}

/* The job of a device when it runs on several: after an event of one of them, the others of the
 * job are pumped too (a seq was stored or freed, the job may end). 0 for a one-device job. */
static int64_t shared_job(const fw_daemon_device *dev)
{
    return dev && dev->current && dev->current->ndevs > 1 ? dev->current->id : 0;
}

/* Death is acted on once the process has exited AND its stdout is drained: the last lines it wrote
 * (a result, or "failed" with the reason) must be read before deciding what it died of. */
static void maybe_dead(fw_daemon_worker *w)
{
    fw_daemon_device *dev = w->dev;
    if (!dev || !w->exited || !uv_is_closing((uv_handle_t *)&w->out))
        return;
    char why[1200];
    if (w->failed_msg[0])
        snprintf(why, sizeof(why), "%s", w->failed_msg);
    else
        describe_exit(w, why, sizeof(why));
    int64_t jid = shared_job(dev);
    /* A worker that said it cannot open its device ("failed" before "ready") of a several-device job
     * takes the device out at once, as at its first open: the others go on. A one-device job's worker
     * that opened before gets the restarts and back-off of any death (a card may come back). */
    if (w->failed_msg[0] && dev->wstate == FW_W_STARTING && jid && !dev->d->stopping)
        device_failed(dev, why);
    else
        fw_daemon_worker_died(dev, why);
    fw_daemon_device_pump(dev);
    if (jid)
        fw_daemon_job_pump_devices(dev->d, jid);
}

static void on_worker_exit(uv_process_t *p, int64_t status, int term_signal)
{
    fw_daemon_worker *w = p->data;
    fw_daemon_worker_pid_remove(p->pid);
    w->exited = 1;
    w->exit_status = status;
    w->term_signal = term_signal;
    uv_close((uv_handle_t *)&w->proc, worker_release_handle);
    maybe_dead(w);
}

static void handle_ready(fw_daemon_device *dev, const cJSON *params)
{
    fw_daemon *d = dev->d;
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(params, "device");
    const cJSON *ident = cJSON_GetObjectItemCaseSensitive(info, "identity");
    if (!cJSON_IsObject(info) || !cJSON_IsString(ident)) {
        device_failed(dev, "the worker reported ready without a device object with an identity "
                           "(is fairway-worker from the same build as fairwayd?)");
        return;
    }
    cJSON_Delete(dev->info);
    dev->info = cJSON_Duplicate(info, 1);
    snprintf(dev->identity, sizeof(dev->identity), "%s", ident->valuestring);
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(params, "device_count");
    dev->count = cJSON_IsNumber(count) && count->valuedouble >= 1 && count->valuedouble <= 1024
                     ? (int)count->valuedouble : 0;
    if (fw_db_device_upsert(d->db, dev->identity, dev->info, &dev->db_id) < 0) {
        char e[1200];
        snprintf(e, sizeof(e), "cannot store the device in the database: %s", fw_db_error(d->db));
        device_failed(dev, e);
        return;
    }
    uv_timer_stop(&dev->timer);
    dev->wstate = FW_W_IDLE;
    dev->loaded_job = 0;
    dev->last_error[0] = '\0';
    fw_daemon_log(d, "worker for %s ready: %s", dev->sel, dev->identity);
    fw_daemon_dispatch_parked(dev, NULL);
    start_waiting(d);
}

static void handle_reply(fw_daemon_device *dev, const cJSON *msg)
{
    fw_daemon *d = dev->d;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    if (!cJSON_IsNumber(id) || (int64_t)id->valuedouble != dev->req_id ||
        (dev->wstate != FW_W_LOADING && dev->wstate != FW_W_MEASURING && dev->wstate != FW_W_FINALISTS)) {
        fw_daemon_log(d, "worker for %s sent a reply nobody asked for; ignored", dev->sel);
        return;
    }
    uv_timer_stop(&dev->timer);
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(msg, "result");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(msg, "error");
    const cJSON *emsg = cJSON_GetObjectItemCaseSensitive(error, "message");
    const char *etext = cJSON_IsString(emsg) ? emsg->valuestring : "the worker answered with an error";
    fw_daemon_job *job = dev->current;
    fw_daemon_wstate st = dev->wstate;
    dev->wstate = FW_W_IDLE;
    if (st == FW_W_LOADING) {
        if (!job || job->id != dev->loaded_job)
            return;   /* cancelled meanwhile; the pump loads the next one */
        const cJSON *planned = cJSON_GetObjectItemCaseSensitive(result, "planned");
        char e[1400];
        if (!result) {
            dev->loaded_job = 0;
            snprintf(e, sizeof(e), "the worker could not load the job: %s", etext);
            fw_daemon_job_finish(d, job, "failed", e);
        } else if (!cJSON_IsNumber(planned) || planned->valuedouble < 0 || planned->valuedouble > 1e15 ||
                   (size_t)planned->valuedouble != job->planned) {
            dev->loaded_job = 0;
            snprintf(e, sizeof(e), "the worker planned %.0f evaluations where the daemon planned %zu; "
                     "are fairwayd and fairway-worker from the same build?",
                     cJSON_IsNumber(planned) ? planned->valuedouble : -1.0, job->planned);
            fw_daemon_job_finish(d, job, "failed", e);
        } else {
            /* the items it can compile ahead: its pool's depth (fw_bench_pool_start) */
            const cJSON *ct = cJSON_GetObjectItemCaseSensitive(result, "compile_threads");
            int t = cJSON_IsNumber(ct) && ct->valuedouble > 0 && ct->valuedouble <= 256 ? (int)ct->valuedouble : 0;
            dev->ahead = t > 0 ? (size_t)(2 * t + 2) : 0;
        }
        return;
    }
    if (st == FW_W_FINALISTS) {
        if (!job || job->fin_state != 1)
            return;
        const cJSON *fin = cJSON_GetObjectItemCaseSensitive(result, "finalists");
        if (!cJSON_IsArray(fin)) {
            fw_daemon_finalists_failed(dev, job, result ? "the worker's reply has no finalists array" : etext);
            return;
        }
        job->fin_state = 2;
        /* put replaces the job's finalists: a re-run after a restart never stores them twice */
        if (fw_db_finalists_put(d->db, job->id, fin) < 0)
            fw_daemon_log(d, "job %" PRId64 ": cannot store the finalists: %s", job->id, fw_db_error(d->db));
        else
            fw_daemon_log(d, "job %" PRId64 ": %d finalists stored", job->id, cJSON_GetArraySize(fin));
        return;
    }
    /* A measure reply. */
    if (!job)
        return;
    cJSON *m;
    if (cJSON_IsObject(result)) {
        m = cJSON_Duplicate(result, 1);
        const cJSON *sq = cJSON_GetObjectItemCaseSensitive(m, "seq");
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(m, "status");
        if (!cJSON_IsNumber(sq) || sq->valuedouble != (double)dev->req_seq || !cJSON_IsString(status)) {
            cJSON_Delete(m);
            char e[256];
            snprintf(e, sizeof(e), "the worker's record for seq %" PRId64 " has a wrong seq or no status",
                     dev->req_seq);
            m = fw_daemon_job_failure_record(job, dev->req_seq, "runtime_error", e);
        }
    } else {
        char e[1200];
        snprintf(e, sizeof(e), "the worker could not measure this variant: %s", etext);
        m = fw_daemon_job_failure_record(job, dev->req_seq, "runtime_error", e);
    }
    mark_retried(job, m, dev->req_seq);
    int rc = fw_daemon_job_store(d, job, dev, m);
    cJSON_Delete(m);
    dev->restarts = 0;
    if (rc < 0) {
        char e[1200];
        snprintf(e, sizeof(e), "cannot store seq %" PRId64 ": %s", dev->req_seq, fw_db_error(d->db));
        fw_daemon_job_finish(d, job, "failed", e);
    }
}

static void handle_worker_line(fw_daemon_worker *w, const char *line, size_t len)
{
    fw_daemon_device *dev = w->dev;
    if (!dev)
        return;
    cJSON *msg;
    size_t at;
    const char *why;
    fw_proto_parse(line, len, &msg, &at, &why);
    if (!cJSON_IsObject(msg)) {
        fw_daemon_log(dev->d, "worker for %s wrote a line that is not a JSON object; ignored: %.120s",
                      dev->sel, line);
        cJSON_Delete(msg);
        return;
    }
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(msg, "method");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
    int64_t jid = shared_job(dev);
    if (cJSON_IsString(method)) {
        if (strcmp(method->valuestring, "ready") == 0 && dev->wstate == FW_W_STARTING) {
            handle_ready(dev, params);
        } else if (strcmp(method->valuestring, "failed") == 0) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(params, "error");
            snprintf(w->failed_msg, sizeof(w->failed_msg), "%s",
                     cJSON_IsString(e) ? e->valuestring : "the worker failed without saying why");
        }
    } else {
        handle_reply(dev, msg);
    }
    cJSON_Delete(msg);
    if (w->dev)
        fw_daemon_device_pump(w->dev);
    if (jid)
        fw_daemon_job_pump_devices(dev->d, jid);
}

static void on_worker_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    fw_daemon_worker *w = s->data;
    if (nread < 0) {
        free(buf->base);
        if (!uv_is_closing((uv_handle_t *)&w->out))
            uv_close((uv_handle_t *)&w->out, worker_release_handle);
        maybe_dead(w);
        return;
    }
    int rc = nread > 0 ? fw_proto_lines_feed(&w->lb, buf->base, (size_t)nread) : 0;
    free(buf->base);
    if (rc < 0)
        return;
    for (;;) {
        char *line;
        size_t len;
        rc = fw_proto_lines_next(&w->lb, &line, &len);
        if (rc <= 0)
            break;
        handle_worker_line(w, line, len);
        if (!w->dev)
            break;   /* detached while handling: the rest is an old worker's */
    }
    if (rc < 0 && w->dev) {
        fw_daemon_device *dev = w->dev;
        fw_daemon_log(dev->d, "worker for %s wrote a line over the size limit; restarting it", dev->sel);
        int64_t jid = shared_job(dev);
        fw_daemon_worker_died(dev, "the worker wrote a line over the size limit");
        fw_daemon_device_pump(dev);
        if (jid)
            fw_daemon_job_pump_devices(dev->d, jid);
    }
}

static void on_timer(uv_timer_t *t)
{
    fw_daemon_device *dev = t->data;
    fw_daemon *d = dev->d;
    fw_daemon_job *job = dev->current;
    int64_t jid = shared_job(dev);
    if (dev->wstate == FW_W_MEASURING && job) {
        int64_t seq = dev->req_seq;
        char msg[256];
        snprintf(msg, sizeof(msg), "the variant ran past the per-variant limit of %g s; the worker was killed",
                 job->variant_timeout_s);
        worker_detach(dev, SIGKILL);
        char first[64];
        snprintf(first, sizeof(first), "ran past the limit of %g s", job->variant_timeout_s);
        int gone = 0;
        if (!retry_once(dev, job, seq, "timeout", first)) {
            fw_daemon_log(d, "job %" PRId64 " seq %" PRId64 ": timeout after %g s, again", job->id, seq,
                          job->variant_timeout_s);
            gone = store_failure(dev, job, seq, "timeout", msg) < 0;
        }
        dev->restarts++;
        dev->died_ns = uv_hrtime();
        if (!gone && dev->current == job)
            device_failing(dev, job, msg);
    } else if (dev->wstate == FW_W_FINALISTS) {
        /* job is NULL when it was cancelled meanwhile: the worker still has to go */
        worker_detach(dev, SIGKILL);
        if (job)
            fw_daemon_finalists_failed(dev, job, "the worker ran past the finalists' time limit and was killed");
    } else if (dev->wstate == FW_W_STARTING) {
        char msg[256];
        snprintf(msg, sizeof(msg), "the worker did not report ready within %g s", FW_DAEMON_STARTUP_LIMIT_S);
        device_failed(dev, msg);
    } else if (dev->wstate == FW_W_LOADING) {
        fw_daemon_worker_died(dev, "the worker did not finish loading the job in time");
    }
    fw_daemon_device_pump(dev);
    if (jid)
        fw_daemon_job_pump_devices(d, jid);
}

void fw_daemon_device_arm_timer(fw_daemon_device *dev, double seconds)
{
    uint64_t ms = seconds * 1000.0 > 9e15 ? (uint64_t)9e15 : (uint64_t)(seconds * 1000.0);
    uv_timer_start(&dev->timer, on_timer, ms ? ms : 1, 0);
}

int fw_daemon_worker_spawn(fw_daemon_device *dev, char *err, size_t errlen)
{
    if (fw_daemon_device_recently_failed(dev, err, errlen) < 0)
        return -ENODEV;
    fw_daemon *d = dev->d;
    fw_daemon_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return fw_errf(err, errlen, -ENOMEM, "out of memory starting a worker");
    w->d = d;
    w->dev = dev;
    fw_proto_lines_init(&w->lb, FW_PROTO_PIPE_LINE_MAX);
    uv_pipe_init(d->loop, &w->in, 0);
    uv_pipe_init(d->loop, &w->out, 0);
    w->in.data = w->out.data = w->proc.data = w;
    w->open_handles = 3;
    char idx[16];
    snprintf(idx, sizeof(idx), "%d", fw_daemon_fault_device_index(dev));
    char *args[] = {d->worker_path, "--serve", "--backend", dev->backend, "--device", idx, NULL};
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
    stdio[0].data.stream = (uv_stream_t *)&w->in;
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&w->out;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    uv_process_options_t po = {
        .exit_cb = on_worker_exit,
        .file = d->worker_path,
        .args = args,
        .stdio_count = 3,
        .stdio = stdio,
        /* Its own session: a Ctrl-C meant for a foreground daemon must not kill the worker first
         * (its death would be stored as a crash); the daemon stops its workers itself. */
        .flags = UV_PROCESS_DETACHED,
    };
    int rc = uv_spawn(d->loop, &w->proc, &po);
    if (rc != 0) {
        w->dev = NULL;
        uv_close((uv_handle_t *)&w->proc, worker_release_handle);
        uv_close((uv_handle_t *)&w->in, worker_release_handle);
        uv_close((uv_handle_t *)&w->out, worker_release_handle);
        return fw_errf(err, errlen, rc, "cannot start the worker '%s': %s (set --worker or FAIRWAY_WORKER)",
                       d->worker_path, uv_strerror(rc));
    }
    uv_read_start((uv_stream_t *)&w->out, fw_daemon_read_alloc, on_worker_read);
    fw_daemon_worker_pid_add(w->proc.pid);
    dev->w = w;
    dev->wstate = FW_W_STARTING;
    dev->loaded_job = 0;
    fw_daemon_device_arm_timer(dev, FW_DAEMON_STARTUP_LIMIT_S);
    fw_daemon_log(d, "started worker for %s (pid %d)", dev->sel, w->proc.pid);
    fw_daemon_fault_started(dev);
    return 0;
}

fw_daemon_device *fw_daemon_device_get(fw_daemon *d, const char *sel)
{
    char backend[32];
    int index;
    if (fw_daemon_parse_selector(sel, backend, sizeof(backend), &index) < 0)
        return NULL;
    char canon[64];
    snprintf(canon, sizeof(canon), "%s:%d", backend, index);
    for (fw_daemon_device *dev = d->devices; dev; dev = dev->next)
        if (strcmp(dev->sel, canon) == 0)
            return dev;
    fw_daemon_device *dev = calloc(1, sizeof(*dev));
    if (!dev)
        return NULL;
    dev->d = d;
    snprintf(dev->sel, sizeof(dev->sel), "%s", canon);
    snprintf(dev->backend, sizeof(dev->backend), "%s", backend);
    dev->index = index;
    uv_timer_init(d->loop, &dev->timer);
    dev->timer.data = dev;
    dev->next = d->devices;
    d->devices = dev;
    return dev;
}

int fw_daemon_device_need(fw_daemon *d, const char *sel, fw_daemon_req *req, char *err, size_t errlen)
{
    fw_daemon_device *dev = fw_daemon_device_get(d, sel);
    if (!dev)
        return fw_errf(err, errlen, -EINVAL,
                       "device '%s' is not a device selector; write backend:index, e.g. opencl:0", sel);
    /* A request dispatched again after its device failed must not park a second time. */
    if (req->device_error)
        return fw_errf(err, errlen, -ENODEV, "device %s is unavailable: %s", dev->sel, req->device_error);
    if (dev->info && dev->wstate != FW_W_STARTING)
        return 1;
    fw_daemon_req *copy = fw_daemon_req_copy(req);
    if (!copy)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    fw_daemon_req **tail = &dev->parked;
    while (*tail)
        tail = &(*tail)->next;
    *tail = copy;
    if (dev->wstate == FW_W_NONE && !fw_daemon_starts_full(d)) {   /* else start_waiting starts it */
        int rc = fw_daemon_worker_spawn(dev, err, errlen);
        if (rc < 0) {
            /* Nothing was started: answer every parked request now, this one included. */
            snprintf(dev->last_error, sizeof(dev->last_error), "%s", err);
            fw_daemon_dispatch_parked(dev, dev->last_error);
        }
    }
    return 0;
}

static void free_device(uv_handle_t *h)
{
    free(h->data);
}

void fw_daemon_devices_stop(fw_daemon *d)
{
    while (d->devices) {
        fw_daemon_device *dev = d->devices;
        d->devices = dev->next;
        /* The variant in flight is dropped, not stored: the next start measures it again. */
        worker_detach(dev, SIGKILL);
        dev->current = NULL;
        fw_daemon_req *r = dev->parked;
        while (r) {
            fw_daemon_req *n = r->next;
            fw_daemon_req_free(r);
            r = n;
        }
        cJSON_Delete(dev->info);
        dev->info = NULL;
        uv_close((uv_handle_t *)&dev->timer, free_device);
    }
}
