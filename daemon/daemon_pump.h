/* daemon_pump.h - the functions of daemon/pump.c that other daemon files call (what a device does
 * next). Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they take are in
 * daemon_int.h. */
#ifndef FW_DAEMON_PUMP_H
#define FW_DAEMON_PUMP_H

#include "daemon_int.h"

/* Drive a device: start its worker, load its job, send the next seq. Idempotent. */
void fw_daemon_device_pump(fw_daemon_device *dev);
/* pump.c: the finalists could not be had: the job ends on its first-pass rankings. */
void fw_daemon_finalists_failed(fw_daemon_device *dev, fw_daemon_job *job, const char *why);

#endif
