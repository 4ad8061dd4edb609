/* daemon_plan.h - the functions of daemon/plan.c that other daemon files call (plans built off the
 * loop, in the thread pool). Private to daemon/ (tests/layers/check_daemon_headers.py); the structs
 * they take are in daemon_int.h. */
#ifndef FW_DAEMON_PLAN_H
#define FW_DAEMON_PLAN_H

#include "daemon_int.h"

/* A plan of kind for spec on device (both copied; device may be NULL), asked by req (copied; NULL
 * for a job's). NULL when out of memory. */
fw_daemon_plan *fw_daemon_plan_new(fw_daemon *d, fw_daemon_plan_kind kind, const fw_daemon_req *req,
                                   const cJSON *spec, const cJSON *device);
/* Queue it; done is called on the loop once it finished and must free it (now or later). < 0 when
 * it cannot be queued (it is freed). */
int fw_daemon_plan_start(fw_daemon_plan *p, fw_daemon_plan_fn done);
void fw_daemon_plan_free(fw_daemon_plan *p);
/* The JOB plan of a job (in flight or finished), NULL when none. */
fw_daemon_plan *fw_daemon_plan_of_job(fw_daemon *d, int64_t job);
/* Cancel the plans of a client that went away (their replies are dropped), of a job that ended,
 * and at stop every plan. */
void fw_daemon_plans_client_gone(fw_daemon *d, fw_daemon_client *c);
void fw_daemon_plans_job_gone(fw_daemon *d, int64_t job);
void fw_daemon_plans_stop(fw_daemon *d);
/* A copy of a request (the client pointer is shared, not owned); NULL when out of memory. */
fw_daemon_req *fw_daemon_req_copy(const fw_daemon_req *req);

#endif
