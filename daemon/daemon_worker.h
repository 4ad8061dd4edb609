/* daemon_worker.h - the functions of daemon/worker.c that other daemon files call (the devices and
 * their worker processes). Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they
 * take are in daemon_int.h. */
#ifndef FW_DAEMON_WORKER_H
#define FW_DAEMON_WORKER_H

#include "daemon_int.h"

fw_daemon_device *fw_daemon_device_get(fw_daemon *d, const char *sel);
/* 1: the device is ready (info set); 0: req was parked and will be dispatched again (copied: the
 * caller keeps ownership of req); < 0: cannot even try (message in err). */
int fw_daemon_device_need(fw_daemon *d, const char *sel, fw_daemon_req *req, char *err, size_t errlen);
void fw_daemon_devices_stop(fw_daemon *d);
/* Between worker.c (the worker processes), pump.c (what a device does next) and faults.c (test
 * hooks). A request to the device's worker (params consumed): 0, or < 0 when it cannot be written
 * (no worker: -EPIPE). arm_timer: the device's one timer (start-up, load, variant limit, back-off).
 * worker_spawn: start the device's worker (< 0 with a message when it cannot). worker_died: the
 * worker is gone (killed, crashed, unwritable): the seq in flight is retried or stored, the job
 * failed on a crash loop. dispatch_parked: answer the requests parked on the device. */
#define FW_DAEMON_STARTUP_LIMIT_S 120.0    /* open the device + report ready; load a job (plan building) */
int fw_daemon_worker_request(fw_daemon_device *dev, const char *method, cJSON *params);
void fw_daemon_device_arm_timer(fw_daemon_device *dev, double seconds);
int fw_daemon_worker_spawn(fw_daemon_device *dev, char *err, size_t errlen);
void fw_daemon_worker_died(fw_daemon_device *dev, const char *why);
void fw_daemon_dispatch_parked(fw_daemon_device *dev, const char *device_error);

#endif
