/* spawn.c - guards against spawn storms (issue 15 item 9): a device that cannot be opened is not
 * tried again on every request, and a worker that dies again and again is not restarted in a tight
 * loop. The device supervision (worker.c) asks these before it starts a worker. */
#include "fw_daemon.h"

#include <errno.h>

#include "fw_util.h"

#define FAILED_RETRY_S 30.0      /* a device that could not be opened is not tried again sooner */
#define BACKOFF_FIRST_S 0.25     /* respawn delay after the second death in a row, doubling ... */
#define BACKOFF_MAX_S 8.0        /* ... up to this */

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
