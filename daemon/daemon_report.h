/* daemon_report.h - the functions of daemon/report.c that other daemon files call (the measurements
 * method). Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they take are in
 * daemon_int.h. */
#ifndef FW_DAEMON_REPORT_H
#define FW_DAEMON_REPORT_H

#include "daemon_int.h"

/* The `measurements` method (daemon/report.c, issue 14). */
void fw_daemon_m_measurements(fw_daemon *d, fw_daemon_req *req);

#endif
