/* daemon_multidev.h - the functions of daemon/multidev.c that other daemon files call (a job over
 * several devices). Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they take
 * are in daemon_int.h. */
#ifndef FW_DAEMON_MULTIDEV_H
#define FW_DAEMON_MULTIDEV_H

#include "daemon_int.h"

/* multidev.c: a job over several devices of one identity (issue 17). devices_load: the job's
 * devices from its stored spec ("devices", else its one device). dev_of: dev's entry in the job, NULL
 * when the job does not run on it. busy: seq (any seq when < 0) is in flight on a device of the job
 * other than except. peers: devices of the job other than dev that are on it now and not out.
 * unstarted_peer: dev has been sent a seq of the job and another device of it none yet (the spread
 * test fault). fin_device: the device that re-times the finalists (the first listed one on the job
 * now). device_out: take dev out of the job with a message (1), or 0 when it is the job's last
 * device (the caller fails the job as for one device). pump_devices: pump every device of job id
 * (it may end meanwhile). devices_progress: "devices" [{device, state, measured, error?}] into a
 * progress object of a several-device job. retry / retry_add: the retry entry of seq (NULL: none),
 * a new one. */
int fw_daemon_job_devices_load(fw_daemon_job *job, char *err, size_t errlen);
fw_daemon_job_dev *fw_daemon_job_dev_of(fw_daemon_job *job, const fw_daemon_device *dev);
int fw_daemon_job_busy(fw_daemon *d, const fw_daemon_job *job, const fw_daemon_device *except, int64_t seq);
int fw_daemon_job_peers(fw_daemon *d, fw_daemon_job *job, const fw_daemon_device *dev);
int fw_daemon_job_unstarted_peer(fw_daemon *d, fw_daemon_job *job, const fw_daemon_device *dev);
fw_daemon_device *fw_daemon_job_fin_device(fw_daemon *d, fw_daemon_job *job);
int fw_daemon_job_device_out(fw_daemon *d, fw_daemon_job *job, fw_daemon_device *dev, const char *why);
void fw_daemon_job_pump_devices(fw_daemon *d, int64_t id);
void fw_daemon_job_devices_progress(fw_daemon *d, fw_daemon_job *job, cJSON *progress);
fw_daemon_retry *fw_daemon_job_retry(fw_daemon_job *job, int64_t seq);
fw_daemon_retry *fw_daemon_job_retry_add(fw_daemon_job *job, int64_t seq);
/* Submit: devices_take detaches a user spec's "devices" (a daemon field, like variant_timeout_s:
 * fw_spec_resolve never sees it) into *devices (NULL when absent or one device, which becomes the
 * spec's "device"; else a list of indices or "all"): 0, or -1 when it is malformed (answered).
 * devices_resolve: 1 with *sels, the job's selectors (the spec's device first; NULL when they come to
 * one device), once every device named has reported ready; 0 when req was parked on one; -ENODEV
 * (err) when a listed device cannot be opened; -EXDEV (err) when listed devices differ in identity
 * ("all" keeps the devices of the spec device's identity and leaves out the others). */
int fw_daemon_devices_take(fw_daemon_req *req, cJSON *user, cJSON **devices);
int fw_daemon_devices_resolve(fw_daemon *d, fw_daemon_req *req, const cJSON *resolved, const cJSON *devices,
                              cJSON **sels, char *err, size_t errlen);

#endif
