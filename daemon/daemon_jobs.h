/* daemon_jobs.h - the functions of daemon/jobs.c that other daemon files call (the job table and
 * scheduler, progress, watchers, rankings). Private to daemon/ (tests/layers/check_daemon_headers.py);
 * the structs they take are in daemon_int.h. */
#ifndef FW_DAEMON_JOBS_H
#define FW_DAEMON_JOBS_H

#include "daemon_int.h"

int fw_daemon_jobs_resume(fw_daemon *d, char *err, size_t errlen);
/* Resume a failed or cancelled job (`fairway resume`): queued again, it measures only the seqs not
 * stored yet. -EINVAL (message in err) for a job in any other state, -ENOENT for none. */
int fw_daemon_job_resume(fw_daemon *d, int64_t id, char *err, size_t errlen);
/* Register a freshly created (queued) job and start it when its device is free. */
int fw_daemon_job_add(fw_daemon *d, int64_t id, char *err, size_t errlen);
fw_daemon_job *fw_daemon_job_find(fw_daemon *d, int64_t id);
/* Cancel: 0 when done (or will stop before the next variant), -ENOENT when not unfinished. */
int fw_daemon_job_cancel(fw_daemon *d, int64_t id);
/* Progress object (docs/protocol.md) of an unfinished job, or from the store for a finished one. */
cJSON *fw_daemon_job_progress(fw_daemon *d, fw_daemon_job *job);
cJSON *fw_daemon_progress_from_db(fw_daemon *d, int64_t id);
int fw_daemon_job_watch(fw_daemon_job *job, fw_daemon_client *c);
void fw_daemon_jobs_free(fw_daemon *d);
/* The store's disk is full: pause the job (its pending write, if any, is already set) until the
 * retry timer gets a write through. why goes to the log. */
void fw_daemon_job_wait(fw_daemon *d, fw_daemon_job *job, const char *why);
/* Close the retry timer (after the loop's first run at stop). */
void fw_daemon_jobs_close(fw_daemon *d);
/* Send a progress notification to the job's watchers. */
void fw_daemon_job_notify(fw_daemon *d, fw_daemon_job *job);
/* Store the terminal state, send the final notification, drop the job from the table (freed).
 * On a full disk the job instead waits (not freed) and finishes once the state can be stored. */
void fw_daemon_job_finish(fw_daemon *d, fw_daemon_job *job, const char *state, const char *error);
/* Commit one record and update progress (notifies watchers). < 0 when the store refused it; 1 when
 * the disk is full: the job waits with the record pending (nothing to do for the caller). */
int fw_daemon_job_store(fw_daemon *d, fw_daemon_job *job, fw_daemon_device *dev, const cJSON *m);
void fw_daemon_client_gone(fw_daemon *d, fw_daemon_client *c);
/* Rankings of a job that use the finalists' medians where stored: per shape, the finalists first in
 * their re-timed order ("timing": "finalist", "median_ns" the finalist median, "first_pass_median_ns"
 * the first pass's), then the other verified variants in first-pass order ("timing": "first_pass");
 * ranks renumbered from 1 per shape; limit > 0 keeps that many per shape. */
int fw_daemon_rankings(fw_db *db, int64_t job, const char *shape_key, int limit, cJSON **out);
/* Parse "backend:index" (or a bare backend = index 0). */
int fw_daemon_parse_selector(const char *sel, char *backend, size_t blen, int *index);
/* The device selector a resolved spec asks for ("opencl:0" by default). */
void fw_daemon_spec_selector(const cJSON *spec, char *out, size_t len);

#endif
