/* daemon_shutdown.h - the functions of daemon/shutdown.c that other daemon files call (the shutdown
 * method and draining). Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they
 * take are in daemon_int.h. */
#ifndef FW_DAEMON_SHUTDOWN_H
#define FW_DAEMON_SHUTDOWN_H

#include "daemon_int.h"

/* shutdown.c: the `shutdown` method. drain_check: called by a device with nothing in flight while
 * draining (schedules the stop once no device measures); drain_refuses: whether a request would start
 * work a draining daemon must not take; shutdown_close after the loop's first run. */
void fw_daemon_m_shutdown(fw_daemon *d, fw_daemon_req *req);
void fw_daemon_drain_check(fw_daemon *d);
int fw_daemon_drain_refuses(const fw_daemon *d, const fw_daemon_req *req);
void fw_daemon_shutdown_close(fw_daemon *d);

#endif
