/* daemon_sequence.h - the functions of daemon/sequence.c that other daemon files call (a job's
 * evaluation sequence). Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they
 * take are in daemon_int.h. */
#ifndef FW_DAEMON_SEQUENCE_H
#define FW_DAEMON_SEQUENCE_H

#include "daemon_int.h"

/* Build the sequence for the device, replay the stored records through it, mark the job running. */
int fw_daemon_job_prepare(fw_daemon *d, fw_daemon_job *job, fw_daemon_device *dev, char *err, size_t errlen);
/* A record of seq was stored: its outcome goes to the sequencer. */
void fw_daemon_job_told(fw_daemon *d, fw_daemon_job *job, int64_t seq, const cJSON *m);
/* The next seq for dev to measure (the lowest asked and not stored, else a new ask): 1 with *seq; 0
 * when the sequence is finished (its time budget, budget_s, ends shapes there: fw_job.h); < 0 with a message when
 * it cannot go on. On several devices, a seq in flight on another device of the job is not given, nor
 * a retry to the device its first attempt died on while another device is on the job; 2 when
 * nothing is for dev now because the others hold what is left (or the sequencer waits for their
 * results). */
int fw_daemon_job_next(fw_daemon *d, fw_daemon_job *job, const fw_daemon_device *dev, int64_t *seq, char *err,
                       size_t errlen);
/* measure's params for seq: {"seq", "item", "ahead": [items asked after seq, not stored]}, asking
 * up to `ahead` items past seq first (as far as the strategy's ask-ahead allows). */
cJSON *fw_daemon_job_measure_params(fw_daemon *d, fw_daemon_job *job, const fw_daemon_device *dev, int64_t seq,
                                    size_t ahead);
/* An item on the wire: {"seq","shape_index","index","knobs","origin"}. */
cJSON *fw_daemon_item_json(const fw_seq_item *it);
/* A measurement record the daemon writes itself (status "crashed" / "timeout"). */
cJSON *fw_daemon_job_failure_record(fw_daemon_job *job, int64_t seq, const char *status, const char *error);
/* sequence.c: replay stored records (fw_db_job_sequence) through a fresh sequence, in any thread. */
int fw_daemon_replay_run(fw_seq *q, const cJSON *stored, const atomic_int *cancel, fw_daemon_replay *r, char *err,
                         size_t errlen);

#endif
