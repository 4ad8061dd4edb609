/* daemon_spawn.h - the functions of daemon/spawn.c that other daemon files call (when a worker may
 * start, and the live worker pids). Private to daemon/ (tests/layers/check_daemon_headers.py); the
 * structs they take are in daemon_int.h. */
#ifndef FW_DAEMON_SPAWN_H
#define FW_DAEMON_SPAWN_H

#include "daemon_int.h"

/* spawn.c: a device that failed to open is not tried again for 30 s: 0, or -ENODEV with its last
 * error in err (worker_spawn answers with it, so parked requests and jobs get it at once). */
int fw_daemon_device_recently_failed(const fw_daemon_device *dev, char *err, size_t errlen);
/* Seconds to wait before the next worker start of a device whose workers died restarts >= 2 times
 * in a row (0.25 s doubling to 8 s after the last death; the first wait of each is logged), 0 to go. */
double fw_daemon_device_backoff(fw_daemon_device *dev);
/* 1 when 4 workers are starting already: a request for another device not started yet waits
 * (parked) until one of them is ready or failed, so a burst of distinct selectors starts 4 at a time. */
int fw_daemon_starts_full(const fw_daemon *d);
/* The live worker pids (at most 256 tracked), for fw_daemon_workers_kill_all. */
void fw_daemon_worker_pid_add(int pid);
void fw_daemon_worker_pid_remove(int pid);
/* SIGKILL every live worker (from the stopper thread: reads only atomics). */
void fw_daemon_workers_kill_all(void);

#endif
