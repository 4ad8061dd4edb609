/* shutdown.c - the `shutdown` method (issue 19 item 12): a client stops the daemon it started.
 *
 * {"now": true} stops at once, as SIGTERM does: the variant in flight is dropped and measured again on
 * the next start. Without it the daemon drains: no device is sent another variant, requests that
 * would start work (submit, rerun, resume, expand, a device to open) are refused with -32006, and
 * once every variant in flight is measured and stored the daemon stops. Either way the unfinished
 * jobs stay queued or running in the store and the next start resumes them; a finalists re-timing in
 * flight is dropped (nothing of it is stored) and re-run then.
 *
 * The stop itself runs from a timer callback, never inside the request handler or the worker's pump
 * (fw_daemon_stop frees the clients, devices and jobs their callers still hold).
 */
#include "daemon_shutdown.h"

#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "daemon_jobs.h"
#include "daemon_main.h"
#include "daemon_server.h"

static uv_timer_t drain_timer;
static int drain_timer_init;
static int stop_now;

/* The variants the workers are measuring now: [{"job","seq","device"}]. */
static cJSON *in_flight(fw_daemon *d)
{
    cJSON *a = cJSON_CreateArray();
    for (fw_daemon_device *dev = d->devices; dev; dev = dev->next) {
        if (dev->wstate != FW_W_MEASURING || !dev->current)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "job", (double)dev->current->id);
        cJSON_AddNumberToObject(o, "seq", (double)dev->req_seq);
        cJSON_AddStringToObject(o, "device", dev->sel);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static int measuring(fw_daemon *d)
{
    for (fw_daemon_device *dev = d->devices; dev; dev = dev->next)
        if (dev->wstate == FW_W_MEASURING)
            return 1;
    return 0;
}

static void on_drain_timer(uv_timer_t *t)
{
    fw_daemon *d = t->data;
    if (d->stopping || (!stop_now && measuring(d)))
        return;   /* a stored measurement pumps its device, which checks again */
    fw_daemon_log(d, "shutdown: %s; stopping (unfinished jobs resume at the next start)",
                  stop_now ? "asked to stop now" : "no variant in flight");
    fw_daemon_stop(d);
}

void fw_daemon_drain_check(fw_daemon *d)
{
    if (!d->draining || d->stopping)
        return;
    if (!drain_timer_init) {
        uv_timer_init(d->loop, &drain_timer);
        drain_timer.data = d;
        drain_timer_init = 1;
    }
    if (!uv_is_active((uv_handle_t *)&drain_timer))
        uv_timer_start(&drain_timer, on_drain_timer, 0, 0);
}

void fw_daemon_shutdown_close(fw_daemon *d)
{
    (void)d;
    if (drain_timer_init && !uv_is_closing((uv_handle_t *)&drain_timer))
        uv_close((uv_handle_t *)&drain_timer, NULL);
}

int fw_daemon_drain_refuses(const fw_daemon *d, const fw_daemon_req *req)
{
    if (!d->draining)
        return 0;
    static const char *const starts_work[] = {"submit", "rerun", "resume", "expand", NULL};
    for (size_t i = 0; starts_work[i]; i++)
        if (!strcmp(req->method, starts_work[i]))
            return 1;
    /* best and devices open a device when given one */
    return (!strcmp(req->method, "best") || !strcmp(req->method, "devices")) &&
           cJSON_GetObjectItemCaseSensitive(req->params, "device");
}

void fw_daemon_m_shutdown(fw_daemon *d, fw_daemon_req *req)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, req->params) {
        if (strcmp(it->string, "now")) {
            fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, NULL,
                                  "unknown parameter '%s' for method 'shutdown' (known: now)", it->string);
            return;
        }
    }
    const cJSON *nv = cJSON_GetObjectItemCaseSensitive(req->params, "now");
    if (nv && !cJSON_IsBool(nv) && !cJSON_IsNull(nv)) {
        fw_daemon_reply_error(req, FW_RPC_INVALID_PARAMS, NULL, "parameter 'now' must be true or false");
        return;
    }
    int now = cJSON_IsTrue(nv);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddTrueToObject(r, "stopping");
    cJSON_AddStringToObject(r, "mode", now ? "now" : "graceful");
    cJSON_AddNumberToObject(r, "pid", (double)getpid());
    cJSON *fl = in_flight(d);
    cJSON_AddItemToObject(r, "in_flight", fl);
    cJSON *unfinished = cJSON_AddArrayToObject(r, "unfinished");
    for (fw_daemon_job *j = d->jobs; j; j = j->next)
        if (!j->cancelled)   /* a cancel waiting for its variant in flight is stored cancelled already */
            cJSON_AddItemToArray(unfinished, cJSON_CreateNumber((double)j->id));
    fw_daemon_log(d, "shutdown%s asked by a client: %d variant(s) in flight (%s)", now ? " --now" : "",
                  cJSON_GetArraySize(fl), now ? "dropped, measured again at the next start"
                                              : "finished and stored first");
    fw_daemon_reply(req, r);
    stop_now |= now;
    d->draining = 1;
    for (fw_daemon_job *j = d->jobs; j; j = j->next)
        fw_daemon_job_notify(d, j);   /* watchers learn why their connection is about to close */
    fw_daemon_drain_check(d);
}
