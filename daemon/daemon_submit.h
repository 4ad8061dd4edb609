/* daemon_submit.h - the functions of daemon/submit.c that other daemon files call (submitting a job).
 * Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they take are in
 * daemon_int.h. */
#ifndef FW_DAEMON_SUBMIT_H
#define FW_DAEMON_SUBMIT_H

#include "daemon_int.h"

/* submit.c: a job row created, registered with the scheduler and answered (spec: the stored spec;
 * fail_error: the job is stored failed with it; built: the submit's plan, whose sequence the job
 * takes if it starts at once on that device). */
void fw_daemon_create_job(fw_daemon *d, fw_daemon_req *req, const cJSON *spec, const char *spec_hash, uint64_t seed,
                          int64_t planned, int64_t parent, const char *device_sel, const char *source_hash,
                          const char *fail_error, fw_daemon_plan *built);
/* Past --max-jobs unfinished jobs a new one is refused: 1 when refused (answered). */
int fw_daemon_too_many_jobs(fw_daemon *d, fw_daemon_req *req);
/* The plan of a submitted (resolved, owned) spec, off the loop: the submit is answered once built. */
void fw_daemon_submit_plan(fw_daemon *d, fw_daemon_req *req, cJSON *resolved, fw_daemon_device *dev,
                           const char *hash, uint64_t seed, const char *source_hash);
/* Does a submitted (resolved) spec fit dev and this host (fw_job_fits; issue 15 item 12)? 0 yes;
 * -1 when it was refused with the sentence (answered, nothing stored). The device's limits come
 * from its "ready" object, the host's from MemAvailable in /proc/meminfo; test hooks
 * FAIRWAY_TEST_DEVICE_MEM, FAIRWAY_TEST_DEVICE_ALLOC and FAIRWAY_TEST_HOST_MEM (bytes) replace them. */
int fw_daemon_submit_fits(fw_daemon *d, fw_daemon_req *req, const cJSON *resolved, const fw_daemon_device *dev);
/* A submit's or an expand's finished plan: 1 when its caller answers with it, 0 when it was answered
 * already (an error, a draining daemon) or nobody waits for it any more (logged). */
int fw_daemon_plan_usable(fw_daemon *d, fw_daemon_plan *p);

#endif
