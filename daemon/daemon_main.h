/* daemon_main.h - the functions of daemon/main.c that other daemon files call (the daemon's log).
 * Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they take are in
 * daemon_int.h. */
#ifndef FW_DAEMON_MAIN_H
#define FW_DAEMON_MAIN_H

#include "daemon_int.h"

void fw_daemon_log(fw_daemon *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
