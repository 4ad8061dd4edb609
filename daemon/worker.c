/* worker.c - one fairway-worker child per device, driven seq by seq (docs/worker-protocol.md).
 *
 * The device's state machine (wstate) is the only thing that decides what is sent next; every event
 * (ready, reply, death, timer) updates it and calls fw_daemon_device_pump(), which is idempotent.
 * A worker that dies or is killed is detached from its device at once and frees itself once libuv
 * has closed its handles, so a late callback from an old worker can never touch a new one.
 */
#include "fw_daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fw_replay.h"
#include "fw_util.h"

#define STARTUP_LIMIT_S 120.0    /* open the device + report ready; load a job (plan building) */
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

static int worker_request(fw_daemon_device *dev, const char *method, cJSON *params)
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

static void arm_timer(fw_daemon_device *dev, double seconds);
static void finalists_failed(fw_daemon_device *dev, fw_daemon_job *job, const char *why);

/* Parked requests get their turn now that the device is known (or known to be unavailable). */
static void dispatch_parked(fw_daemon_device *dev, const char *device_error)
{
    fw_daemon_req *list = dev->parked;
    dev->parked = NULL;
    while (list) {
        fw_daemon_req *r = list;
        list = r->next;
        r->next = NULL;
        r->device_error = device_error;
        if (r->client)
            fw_daemon_dispatch(dev->d, r);
        fw_daemon_req_free(r);
    }
}

static int worker_spawn(fw_daemon_device *dev, char *err, size_t errlen);

/* A worker start finished (ready or failed): start the workers of devices whose requests waited
 * for a free slot (fw_daemon_starts_full), as far as slots are free. */
static void start_waiting(fw_daemon *d)
{
    for (fw_daemon_device *dev = d->devices; dev && !d->stopping; dev = dev->next) {
        if (dev->wstate != FW_W_NONE || !dev->parked || fw_daemon_starts_full(d))
            continue;
        char err[2048];
        if (worker_spawn(dev, err, sizeof(err)) < 0) {
            snprintf(dev->last_error, sizeof(dev->last_error), "%s", err);
            dispatch_parked(dev, dev->last_error);
        }
    }
}

static fw_daemon_job *next_job(fw_daemon_device *dev)
{
    if (dev->current)
        return dev->current;
    for (fw_daemon_job *j = dev->d->jobs; j; j = j->next)
        if (strcmp(j->device_sel, dev->sel) == 0)
            return dev->current = j;
    return NULL;
}

/* The device could not be opened: the job that asked fails with the worker's own words, and so does
 * every request parked on it. The daemon goes on. */
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
        fw_daemon_job_finish(d, job, "failed", msg);
    }
    dispatch_parked(dev, dev->last_error);
    start_waiting(d);
}

/* The first crash or timeout of a seq: 1 when it is to be measured again on a fresh worker (the
 * pump sends the same seq once a new worker is ready), 0 when it was already retried and is stored
 * as it failed now. */
static int retry_once(fw_daemon *d, fw_daemon_job *job, int64_t seq, const char *status, const char *why)
{
    if (job->retry_seq == seq)
        return 0;
    job->retry_seq = seq;
    snprintf(job->retry_why, sizeof(job->retry_why), "%s: %s", status, why);
    fw_daemon_log(d, "job %" PRId64 " seq %" PRId64 " %s (%s); measuring it once more on a fresh worker",
                  job->id, seq, status, why);
    return 1;
}

/* Mark a record of the seq being retried: "retried": true and what the first attempt ended in. */
static void mark_retried(fw_daemon_job *job, cJSON *m, int64_t seq)
{
    if (job->retry_seq != seq)
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(m, "retried");
    cJSON_DeleteItemFromObjectCaseSensitive(m, "retry_reason");
    cJSON_AddTrueToObject(m, "retried");
    cJSON_AddStringToObject(m, "retry_reason", job->retry_why);
    job->retry_seq = -1;
}

/* Store the daemon's own record for a seq that crashed or timed out twice. < 0: the job failed. */
static int store_failure(fw_daemon_device *dev, fw_daemon_job *job, int64_t seq, const char *status,
                         const char *msg)
{
    fw_daemon *d = dev->d;
    char e[1400];
    snprintf(e, sizeof(e), "%s (also on the retry; first attempt: %s)", msg, job->retry_why);
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

static void worker_died(fw_daemon_device *dev, const char *why)
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
            dispatch_parked(dev, why);   /* nothing starts another: answer what waited for this one */
            start_waiting(d);
        }
        return;
    }
    if (st == FW_W_FINALISTS) {
        if (job->fin_state == 1)
            finalists_failed(dev, job, why);
        return;
    }
    dev->restarts++;
    dev->died_ns = uv_hrtime();
    if (st == FW_W_MEASURING && !retry_once(d, job, seq, "crashed", why)) {
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
    worker_died(dev, why);
    fw_daemon_device_pump(dev);
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
    dispatch_parked(dev, NULL);
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
            finalists_failed(dev, job, result ? "the worker's reply has no finalists array" : etext);
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
        worker_died(dev, "the worker wrote a line over the size limit");
        fw_daemon_device_pump(dev);
    }
}

static void on_timer(uv_timer_t *t)
{
    fw_daemon_device *dev = t->data;
    fw_daemon *d = dev->d;
    fw_daemon_job *job = dev->current;
    if (dev->wstate == FW_W_MEASURING && job) {
        int64_t seq = dev->req_seq;
        char msg[256];
        snprintf(msg, sizeof(msg), "the variant ran past the per-variant limit of %g s; the worker was killed",
                 job->variant_timeout_s);
        worker_detach(dev, SIGKILL);
        char first[64];
        snprintf(first, sizeof(first), "ran past the limit of %g s", job->variant_timeout_s);
        if (!retry_once(d, job, seq, "timeout", first)) {
            fw_daemon_log(d, "job %" PRId64 " seq %" PRId64 ": timeout after %g s, again", job->id, seq,
                          job->variant_timeout_s);
            store_failure(dev, job, seq, "timeout", msg);
        }
        dev->restarts++;
        dev->died_ns = uv_hrtime();
    } else if (dev->wstate == FW_W_FINALISTS) {
        /* job is NULL when it was cancelled meanwhile: the worker still has to go */
        worker_detach(dev, SIGKILL);
        if (job)
            finalists_failed(dev, job, "the worker ran past the finalists' time limit and was killed");
    } else if (dev->wstate == FW_W_STARTING) {
        char msg[256];
        snprintf(msg, sizeof(msg), "the worker did not report ready within %g s", STARTUP_LIMIT_S);
        device_failed(dev, msg);
    } else if (dev->wstate == FW_W_LOADING) {
        worker_died(dev, "the worker did not finish loading the job in time");
    }
    fw_daemon_device_pump(dev);
}

static void arm_timer(fw_daemon_device *dev, double seconds)
{
    uint64_t ms = seconds * 1000.0 > 9e15 ? (uint64_t)9e15 : (uint64_t)(seconds * 1000.0);
    uv_timer_start(&dev->timer, on_timer, ms ? ms : 1, 0);
}

static void test_fault_started(fw_daemon_device *dev);

static int worker_spawn(fw_daemon_device *dev, char *err, size_t errlen)
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
    snprintf(idx, sizeof(idx), "%d", dev->index);
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
    arm_timer(dev, STARTUP_LIMIT_S);
    fw_daemon_log(d, "started worker for %s (pid %d)", dev->sel, w->proc.pid);
    test_fault_started(dev);
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
    fw_daemon_req *copy = calloc(1, sizeof(*copy));
    if (!copy)
        return fw_errf(err, errlen, -ENOMEM, "out of memory");
    copy->client = req->client;
    copy->id = req->id ? cJSON_Duplicate(req->id, 1) : NULL;
    memcpy(copy->method, req->method, sizeof(copy->method));
    copy->params = cJSON_Duplicate(req->params, 1);
    fw_daemon_req **tail = &dev->parked;
    while (*tail)
        tail = &(*tail)->next;
    *tail = copy;
    if (dev->wstate == FW_W_NONE && !fw_daemon_starts_full(d)) {   /* else start_waiting starts it */
        int rc = worker_spawn(dev, err, errlen);
        if (rc < 0) {
            /* Nothing was started: answer every parked request now, this one included. */
            snprintf(dev->last_error, sizeof(dev->last_error), "%s", err);
            dispatch_parked(dev, dev->last_error);
        }
    }
    return 0;
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
    if (worker_request(dev, "finalists", p) != 0) {
        fw_daemon_log(d, "job %" PRId64 ": no finalists, cannot write to the worker", job->id);
        return 0;
    }
    job->fin_state = 1;
    fw_daemon_eta_finalists_started(job);
    dev->wstate = FW_W_FINALISTS;
    /* each candidate is launched about as often as in its first pass (rounds x iters by default
     * 5 x iters), plus its load: a per-variant limit each, with the start-up limit as a floor */
    double limit = job->variant_timeout_s * (double)(n + 1);
    arm_timer(dev, limit > STARTUP_LIMIT_S ? limit : STARTUP_LIMIT_S);
    fw_daemon_log(d, "job %" PRId64 ": re-timing %zu finalists (top %d per shape)", job->id, n, job->fin_k);
    fw_daemon_job_notify(d, job);
    return 1;
}

/* The finalists could not be had (worker death, timeout, error reply): the job keeps its first-pass
 * rankings and ends done; the reason goes to the log. */
static void finalists_failed(fw_daemon_device *dev, fw_daemon_job *job, const char *why)
{
    job->fin_state = 2;
    fw_daemon_log(dev->d, "job %" PRId64 ": finalists failed, ranking by the first pass: %s", job->id, why);
}

/* Tests only: does FAIRWAYD_TEST_FAULT (comma-separated KIND@SEQ) name kind at seq? */
static int test_fault_has(const char *kind, int64_t seq)
{
    const char *f = getenv("FAIRWAYD_TEST_FAULT");
    char want[48];
    snprintf(want, sizeof(want), "%s@%" PRId64, kind, seq);
    for (const char *p = f ? strstr(f, want) : NULL; p; p = strstr(p + 1, want)) {
        char end = p[strlen(want)];
        if ((p == f || p[-1] == ',') && (end == '\0' || end == ','))
            return 1;
    }
    return 0;
}

/* Tests only, right after seq K is sent to the worker: FAIRWAYD_TEST_FAULT=kill-worker@K SIGKILLs the
 * worker (the first time), as the OOM killer or a user would from outside; expire@K makes the
 * per-variant limit run out at once (each time), so a test of a hanging variant needs no wall-clock
 * limit of its own. */
static void test_fault_sent(fw_daemon_device *dev, fw_daemon_job *job, int64_t seq)
{
    if (!getenv("FAIRWAYD_TEST_FAULT") || !dev->w)
        return;
    if (test_fault_has("expire", seq)) {
        fw_daemon_log(dev->d, "test fault: the limit of seq %" PRId64 " runs out now", seq);
        arm_timer(dev, 0);
    }
    if (job->retry_seq != seq && test_fault_has("kill-worker", seq)) {
        fw_daemon_log(dev->d, "test fault: killing the worker measuring seq %" PRId64, seq);
        uv_process_kill(&dev->w->proc, SIGKILL);
    }
}

/* Tests only: FAIRWAYD_TEST_FAULT=kill-start@N SIGKILLs the N-th worker the daemon starts (from 1) as
 * soon as it is started, before it can report ready. */
static void test_fault_started(fw_daemon_device *dev)
{
    static int64_t started;
    started++;
    if (getenv("FAIRWAYD_TEST_FAULT") && test_fault_has("kill-start", started)) {
        fw_daemon_log(dev->d, "test fault: killing worker %" PRId64 " while it starts", started);
        uv_process_kill(&dev->w->proc, SIGKILL);
    }
}

/* Tests only: FAIRWAYD_TEST_FAULT=block-plan@FIFO blocks the event loop for good where a job's plan is
 * built (as a plan of a huge constrained space would), after writing a line to FIFO so the test
 * knows it is there. */
static void test_fault_plan(void)
{
    const char *f = getenv("FAIRWAYD_TEST_FAULT");
    const char *p = f ? strstr(f, "block-plan@") : NULL;
    if (!p)
        return;
    char path[1024];
    snprintf(path, sizeof(path), "%s", p + strlen("block-plan@"));
    path[strcspn(path, ",")] = '\0';
    FILE *fifo = fopen(path, "w");
    if (fifo) {
        fputs("blocked\n", fifo);
        fclose(fifo);
    }
    for (;;)
        pause();
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
            fw_daemon_job_finish(d, job, "cancelled", NULL);
            continue;
        }
        char err[2048];
        if (dev->wstate == FW_W_NONE) {
            double wait = fw_daemon_device_backoff(dev);
            if (wait > 0) {
                arm_timer(dev, wait);   /* on_timer pumps again */
                return;
            }
            if (worker_spawn(dev, err, sizeof(err)) < 0) {
                snprintf(dev->last_error, sizeof(dev->last_error), "%s", err);
                fw_daemon_job_finish(d, job, "failed", err);
                dispatch_parked(dev, dev->last_error);
                continue;
            }
            return;
        }
        /* Idle worker with a job. */
        int fresh = !job->seq;
        if (fresh)
            test_fault_plan();
        int prc = replay_adopt(dev, job, err, sizeof(err));
        if (prc == 0)
            prc = fw_daemon_job_prepare(d, job, dev, err, sizeof(err));
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
            cJSON *p = cJSON_CreateObject();
            cJSON_AddItemToObject(p, "spec", cJSON_Duplicate(job->wspec, 1));
            cJSON_AddNumberToObject(p, "job", (double)job->id);
            if (worker_request(dev, "load", p) != 0) {
                worker_died(dev, "cannot write to the worker");
                continue;
            }
            dev->wstate = FW_W_LOADING;
            dev->loaded_job = job->id;
            arm_timer(dev, STARTUP_LIMIT_S > job->variant_timeout_s ? STARTUP_LIMIT_S : job->variant_timeout_s);
            return;
        }
        int64_t seq;
        int nrc = fw_daemon_job_next(d, job, &seq, err, sizeof(err));
        if (nrc < 0) {
            fw_daemon_job_finish(d, job, "failed", err);
            continue;
        }
        if (nrc == 0) {
            if (job->fin_state == 0 && start_finalists(dev, job))
                return;
            fw_daemon_job_finish(d, job, "done", NULL);
            continue;
        }
        cJSON *p = fw_daemon_job_measure_params(job, seq, dev->ahead);
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
        if (worker_request(dev, "measure", p) != 0) {
            worker_died(dev, "cannot write to the worker");
            continue;
        }
        dev->wstate = FW_W_MEASURING;
        dev->req_seq = seq;
        arm_timer(dev, job->variant_timeout_s);
        test_fault_sent(dev, job, dev->req_seq);
        return;
    }
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
