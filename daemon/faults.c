/* faults.c - fault hooks for the tests (FAIRWAYD_TEST_FAULT), so a test of a crash, a hang or a
 * blocked loop waits on the daemon's own events instead of a clock. Inert unless the variable is set.
 */
#include "daemon_faults.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_main.h"
#include "daemon_multidev.h"
#include "daemon_worker.h"


/* Tests only: is want one of FAIRWAYD_TEST_FAULT's comma-separated items? */
static int test_fault_has_text(const char *want)
{
    const char *f = getenv("FAIRWAYD_TEST_FAULT");
    for (const char *p = f ? strstr(f, want) : NULL; p; p = strstr(p + 1, want)) {
        char end = p[strlen(want)];
        if ((p == f || p[-1] == ',') && (end == '\0' || end == ','))
            return 1;
    }
    return 0;
}

/* Tests only: does FAIRWAYD_TEST_FAULT (comma-separated KIND@SEQ) name kind at seq? */
static int test_fault_has(const char *kind, int64_t seq)
{
    char want[48];
    snprintf(want, sizeof(want), "%s@%" PRId64, kind, seq);
    return test_fault_has_text(want);
}

/* Tests only: does FAIRWAYD_TEST_FAULT name the word prefix + value (a whole comma-separated item)? */
static int test_fault_word(const char *prefix, const char *value)
{
    char want[128];
    snprintf(want, sizeof(want), "%s%s", prefix, value);
    return test_fault_has_text(want);
}

/* Tests only, right after seq K is sent to the worker: FAIRWAYD_TEST_FAULT=kill-worker@K SIGKILLs the
 * worker (the first time), as the OOM killer or a user would from outside (reopen-fail@SEL: the worker
 * of SEL measuring its first seq, below); expire@K makes the
 * per-variant limit run out at once (each time), so a test of a hanging variant needs no wall-clock
 * limit of its own. */
void fw_daemon_fault_sent(fw_daemon_device *dev, fw_daemon_job *job, int64_t seq)
{
    if (!getenv("FAIRWAYD_TEST_FAULT") || !dev->w)
        return;
    if (test_fault_has("expire", seq)) {
        fw_daemon_log(dev->d, "test fault: the limit of seq %" PRId64 " runs out now", seq);
        fw_daemon_device_arm_timer(dev, 0);
    }
    if (!fw_daemon_job_retry(job, seq) && (test_fault_has("kill-worker", seq) ||
                                           test_fault_word("reopen-fail@", dev->sel))) {
        fw_daemon_log(dev->d, "test fault: killing the worker measuring seq %" PRId64 "%s%s", seq,
                      job->ndevs > 1 ? " on " : "", job->ndevs > 1 ? dev->sel : "");
        uv_process_kill(&dev->w->proc, SIGKILL);
    }
}

/* Tests only: the device index dev's worker is started with. FAIRWAYD_TEST_FAULT=open-fail@SEL: every
 * start of SEL's worker is given an index its backend does not have, so the real worker fails to open
 * its device and says why (exit 3), as a card that fell off the bus would; reopen-fail@SEL: the same
 * from the device's second start on in this daemon (it opened once), and its worker is SIGKILLed
 * right after the first seq is sent to it (fw_daemon_fault_sent), so a job started on the device and
 * the worker's restart cannot open it again. */
int fw_daemon_fault_device_index(const fw_daemon_device *dev)
{
    if (!getenv("FAIRWAYD_TEST_FAULT") ||
        !(test_fault_word("open-fail@", dev->sel) || (dev->info && test_fault_word("reopen-fail@", dev->sel))))
        return dev->index;
    int bad = 1000 + dev->index;
    fw_daemon_log(dev->d, "test fault: the worker of %s is started with device index %d, which its backend "
                  "does not have", dev->sel, bad);
    return bad;
}

void fw_daemon_fault_loading(fw_daemon_device *dev, const fw_daemon_job *job)
{
    if (getenv("FAIRWAYD_TEST_FAULT") && dev->w && test_fault_word("kill-device@", dev->sel)) {
        fw_daemon_log(dev->d, "test fault: killing the worker of %s as it loads job %" PRId64, dev->sel, job->id);
        uv_process_kill(&dev->w->proc, SIGKILL);
    }
}

int fw_daemon_fault_spread(void)
{
    return getenv("FAIRWAYD_TEST_FAULT") && test_fault_word("spread", "");
}

/* Tests only: FAIRWAYD_TEST_FAULT=kill-start@N SIGKILLs the N-th worker the daemon starts (from 1) as
 * soon as it is started, before it can report ready. */
void fw_daemon_fault_started(fw_daemon_device *dev)
{
    static int64_t started;
    started++;
    if (getenv("FAIRWAYD_TEST_FAULT") && test_fault_has("kill-start", started)) {
        fw_daemon_log(dev->d, "test fault: killing worker %" PRId64 " while it starts", started);
        uv_process_kill(&dev->w->proc, SIGKILL);
    }
}

/* Tests only: FAIRWAYD_TEST_FAULT=block-plan@FIFO blocks the event loop for good where a job's plan is
 * built (as a plan of a huge constrained space would), after writing a line to FIFO so the test
 * knows it is there. */
void fw_daemon_fault_plan(void)
{
    const char *f = getenv("FAIRWAYD_TEST_FAULT");
    const char *p = f ? strstr(f, "block-plan@") : NULL;
    if (!p)
        return;
    char path[1024];
    snprintf(path, sizeof(path), "%s", p + strlen("block-plan@"));
    path[strcspn(path, ",")] = '\0';
    FILE *fifo = fopen(path, "w");
    if (fifo) {
        fputs("blocked\n", fifo);
        fclose(fifo);
    }
    for (;;)
        pause();
}

/* Tests only: FAIRWAYD_TEST_FAULT=hold-plan@FIFO holds the planning thread of a request (submit,
 * expand; not a job's start) at its start: it writes
 * "planning" to FIFO (once the test opens it to read), then waits until the test opens FIFO to
 * write and closes it again. So a test can ask the daemon other things while a plan runs, with no
 * timing in it. */
void fw_daemon_fault_hold_plan(void)
{
    const char *f = getenv("FAIRWAYD_TEST_FAULT");
    const char *at = f ? strstr(f, "hold-plan@") : NULL;
    if (!at)
        return;
    char path[1024];
    snprintf(path, sizeof(path), "%s", at + strlen("hold-plan@"));
    path[strcspn(path, ",")] = '\0';
    FILE *fifo = fopen(path, "w");
    if (fifo) {
        fputs("planning\n", fifo);
        fclose(fifo);
    }
    if ((fifo = fopen(path, "r"))) {
        while (fgetc(fifo) != EOF)
            ;
        fclose(fifo);
    }
}
