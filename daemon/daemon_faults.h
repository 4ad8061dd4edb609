/* daemon_faults.h - the functions of daemon/faults.c that other daemon files call (the test hooks of
 * FAIRWAYD_TEST_FAULT). Private to daemon/ (tests/layers/check_daemon_headers.py); the structs they
 * take are in daemon_int.h. */
#ifndef FW_DAEMON_FAULTS_H
#define FW_DAEMON_FAULTS_H

#include "daemon_int.h"

/* faults.c (FAIRWAYD_TEST_FAULT, tests only): right after a seq was sent, after a worker was
 * started, where a job's plan is built. */
void fw_daemon_fault_sent(fw_daemon_device *dev, fw_daemon_job *job, int64_t seq);
void fw_daemon_fault_started(fw_daemon_device *dev);
void fw_daemon_fault_plan(void);
/* FAIRWAYD_TEST_FAULT=kill-device@SEL: every worker of device SEL is SIGKILLed as it is sent a job's
 * load (a broken card of a several-device job: it never stores a result). */
void fw_daemon_fault_loading(fw_daemon_device *dev, const fw_daemon_job *job);
/* FAIRWAYD_TEST_FAULT=open-fail@SEL / reopen-fail@SEL: the device index SEL's worker is started with
 * is one its backend does not have (always / once the device opened before), so the device cannot be
 * opened; reopen-fail also kills SEL's worker as its first seq is sent. Else dev->index. */
int fw_daemon_fault_device_index(const fw_daemon_device *dev);
/* FAIRWAYD_TEST_FAULT=spread: a device of a several-device job gets no second seq while another
 * device of the job has had none, so a test sees every device used without relying on timing. */
int fw_daemon_fault_spread(void);
/* hold-plan@FIFO: a request's planning thread (plan.c) writes "planning" to FIFO, then waits until the test
 * opens FIFO to write and closes it: a plan that runs as long as the test wants. */
void fw_daemon_fault_hold_plan(void);

#endif
