/* spawn.c - worker starts: the guards against spawn storms (issue 15 item 9) - a device that cannot
 * be opened is not tried again on every request, a worker that dies again and again is not
 * restarted in a tight loop, at most a few start at once - and the live worker pids the stopper
 * thread kills. The device supervision (worker.c) asks these before it starts a worker. */
#include "daemon_spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>

#include "fw_util.h"

#include "daemon_main.h"

#define FAILED_RETRY_S 30.0      /* a device that could not be opened is not tried again sooner */
#define BACKOFF_FIRST_S 0.25     /* respawn delay after the second death in a row, doubling ... */
#define BACKOFF_MAX_S 8.0        /* ... up to this */
#define STARTING_MAX 4           /* workers starting at once for requests (distinct selectors) */

int fw_daemon_device_recently_failed(const fw_daemon_device *dev, char *err, size_t errlen)
{
    if (!dev->failed_ns || (double)(uv_hrtime() - dev->failed_ns) / 1e9 >= FAILED_RETRY_S)
        return 0;
    return fw_errf(err, errlen, -ENODEV, "%s", dev->last_error);
}

double fw_daemon_device_backoff(fw_daemon_device *dev)
{
    if (dev->restarts < 2 || !dev->died_ns)
        return 0;
    int doublings = dev->restarts - 2 < 6 ? dev->restarts - 2 : 6;
    double wait = BACKOFF_FIRST_S * (double)(1 << doublings);
    wait = wait < BACKOFF_MAX_S ? wait : BACKOFF_MAX_S;
    double since = (double)(uv_hrtime() - dev->died_ns) / 1e9;
    if (since >= wait)
        return 0;
    if (!uv_is_active((uv_handle_t *)&dev->timer))
        fw_daemon_log(dev->d, "worker for %s died %d times in a row; starting the next one in %.2f s", dev->sel,
                      dev->restarts, wait - since);
    return wait - since;
}

int fw_daemon_starts_full(const fw_daemon *d)
{
    int n = 0;
    for (const fw_daemon_device *dev = d->devices; dev; dev = dev->next)
        n += dev->wstate == FW_W_STARTING;
    return n >= STARTING_MAX;
}

/* Live worker pids, for fw_daemon_workers_kill_all() from the stopper thread. */
#define MAX_PIDS 256
static atomic_int live_pids[MAX_PIDS];

void fw_daemon_worker_pid_add(int pid)
{
    for (int i = 0; i < MAX_PIDS; i++) {
        int zero = 0;
        if (atomic_compare_exchange_strong(&live_pids[i], &zero, pid))
            return;
    }
}

void fw_daemon_worker_pid_remove(int pid)
{
    for (int i = 0; i < MAX_PIDS; i++) {
        int want = pid;
        if (atomic_compare_exchange_strong(&live_pids[i], &want, 0))
            return;
    }
}

void fw_daemon_workers_kill_all(void)
{
    for (int i = 0; i < MAX_PIDS; i++) {
        int pid = atomic_load(&live_pids[i]);
        if (pid > 0)
            kill(pid, SIGKILL);
    }
}
