/* daemon_eta_job.h - the functions of daemon/eta_job.c that other daemon files call (a job's ETA).
 * Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they take are in
 * daemon_int.h. */
#ifndef FW_DAEMON_ETA_JOB_H
#define FW_DAEMON_ETA_JOB_H

#include "daemon_int.h"

/* eta_job.c: a job's ETA. note: a verified measurement was stored; finalists_started: the re-timing
 * was sent; add: "eta_s" and "eta_basis" into a progress object; free with the job. */
void fw_daemon_eta_note(fw_daemon_job *job, const char *shape_key, double median_ns);
void fw_daemon_eta_finalists_started(fw_daemon_job *job);
void fw_daemon_eta_add(fw_daemon *d, fw_daemon_job *job, cJSON *progress, double elapsed_s);
void fw_daemon_eta_free(fw_daemon_job *job);

#endif
