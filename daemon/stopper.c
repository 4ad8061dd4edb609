/* stopper.c - SIGTERM and SIGINT answered even while the event loop is busy (issue 15 item 12).
 *
 * The signals are blocked in every thread and taken by one thread of our own with sigwait(). It asks
 * the loop to stop (uv_async_send: the loop then stops cleanly, as before) and waits: if the loop
 * does not take the request within STOP_ACK_S (it is stuck in a long computation such as planning a
 * huge space), or has not finished stopping within STOP_DONE_S, the thread kills the workers and
 * ends the process at once, exit status 0. That is safe for the store: every measurement is its own
 * committed transaction (WAL), so it is a kill -9 as far as the store is concerned, and the variant
 * in flight is measured again on the next start, as after a clean stop.
 */
#include "daemon_stopper.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fw_util.h"

#include "daemon_main.h"
#include "daemon_server.h"
#include "daemon_spawn.h"

#define STOP_ACK_S 2
#define STOP_DONE_S 15

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static int acked, finished;
static uv_async_t stop_async;
static int async_on;
static fw_daemon *daemon_of;
static atomic_int signal_seen;

void fw_daemon_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void on_stop_async(uv_async_t *a)
{
    fw_daemon *d = a->data;
    int sig = atomic_load(&signal_seen);
    pthread_mutex_lock(&mu);
    acked = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    if (!d->stopping) {
        fw_daemon_log(d, "received %s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        fw_daemon_stop(d);
    }
}

/* Wait until *flag or seconds pass: 1 when the flag was set. */
static int wait_for(int *flag, int seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&mu);
    int rc = 0;
    while (!*flag && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&cv, &mu, &until);
    int ok = *flag;
    pthread_mutex_unlock(&mu);
    return ok;
}

static void *stopper(void *arg)
{
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    atomic_store(&signal_seen, sig);
    uv_async_send(&stop_async);
    const char *what = NULL;
    if (!wait_for(&acked, STOP_ACK_S))
        what = "the event loop did not take the stop request";
    else if (!wait_for(&finished, STOP_DONE_S))
        what = "the clean stop did not finish";
    if (!what)
        return NULL;   /* main is returning: the process ends with it */
    fw_daemon *d = daemon_of;
    fw_daemon_log(d, "received %s, but %s in time (busy); stopping at once: the workers are killed, the "
                  "store keeps every committed measurement and the next start resumes the jobs",
                  sig == SIGINT ? "SIGINT" : "SIGTERM", what);
    fw_daemon_workers_kill_all();
    if (d->socket_path[0])
        unlink(d->socket_path);
    _exit(0);
}

int fw_daemon_stopper_start(fw_daemon *d, char *err, size_t errlen)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &ca);
    pthread_condattr_destroy(&ca);
    daemon_of = d;
    int rc = uv_async_init(d->loop, &stop_async, on_stop_async);
    if (rc != 0)
        return fw_errf(err, errlen, rc, "cannot set up the stop handler: %s", uv_strerror(rc));
    stop_async.data = d;
    uv_unref((uv_handle_t *)&stop_async);
    async_on = 1;
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 * 1024);
    rc = pthread_create(&t, &at, stopper, NULL);
    pthread_attr_destroy(&at);
    if (rc != 0)
        return fw_errf(err, errlen, -rc, "cannot start the stop thread: %s", strerror(rc));
    return 0;
}

void fw_daemon_stopper_close(fw_daemon *d)
{
    (void)d;
    if (async_on && !uv_is_closing((uv_handle_t *)&stop_async))
        uv_close((uv_handle_t *)&stop_async, NULL);
}

void fw_daemon_stopper_done(void)
{
    pthread_mutex_lock(&mu);
    finished = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}
