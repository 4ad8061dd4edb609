/* daemon_int.h - fairwayd internals, private to daemon/ (DESIGN.md sections 1 and 9; client
 * protocol in docs/protocol.md, worker protocol in docs/worker-protocol.md): the structs and constants
 * the daemon's files share. Only the daemon/ .c files (and the white-box fuzz target
 * tests/fuzz/fuzz_methods.c) include it, through the small header of each file, daemon_FILE.h, which
 * declares the functions of FILE.c that other daemon files call; the public part is fw_daemon.h.
 *
 * One libuv loop owns everything: the listening Unix socket, the clients, the job table, one
 * fairway-worker child per device selector ("opencl:0") and the SQLite store. Nothing here blocks on
 * a device: GPU work happens only in the workers, so a variant that kills or hangs its worker costs
 * that worker and that one variant, never the daemon.
 *
 * Invariants the rest of the code relies on:
 *   - the daemon is the only writer of the store, and every finished measurement is committed
 *     (fw_db_measurement_put) before the next seq is sent to a worker;
 *   - at most one job per device is "current", and a device's jobs run in id (= submission) order;
 *   - a worker has at most one request in flight (load or measure), so a reply is always for the
 *     request we remember, and a death or a timeout names exactly one seq;
 *   - a client that goes away is unlinked from every watch list and every parked request before its
 *     memory is freed, so nothing ever writes to a closed client.
 */
#ifndef FW_DAEMON_INT_H
#define FW_DAEMON_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>
#include <cjson/cJSON.h>

#include "fw_daemon.h"
#include "fw_db.h"
#include "fw_proto.h"
#include "fw_job.h"

#define FW_DAEMON_LINE_MAX FW_PROTO_LINE_MAX          /* bytes in one request line, without "\r\n" */
#define FW_DAEMON_WRITE_QUEUE_MAX (64u << 20)      /* a client that never reads is dropped past this */
/* All clients' unread replies together: --reply-queue-max MiB (default 256); the total is looked at
 * whenever a client holds FW_DAEMON_WRITE_QUEUE_CHECK bytes or more, and the client holding the most
 * is dropped first. */
#define FW_DAEMON_REPLY_QUEUE_DEFAULT_MIB 256
#define FW_DAEMON_WRITE_QUEUE_CHECK (64u << 10)
/* Expression-node evaluations one plan may take (--plan-work-max): about 20 s of a pool thread at
 * the ~50 million nodes a second the evaluator does (BENCHMARKS.md, plans off the loop). */
#define FW_DAEMON_PLAN_WORK_DEFAULT 1000000000ull

/* Line framing, the JSON-RPC envelopes and error codes (FW_RPC_*) are the wire's: proto/fw_proto.h. */

/* ---- the daemon ------------------------------------------------------------------------------- */

typedef struct fw_daemon fw_daemon;
typedef struct fw_daemon_client fw_daemon_client;
typedef struct fw_daemon_job fw_daemon_job;
typedef struct fw_daemon_device fw_daemon_device;
typedef struct fw_daemon_worker fw_daemon_worker;
typedef struct fw_daemon_req fw_daemon_req;
typedef struct fw_daemon_eta fw_daemon_eta;
typedef struct fw_daemon_plan fw_daemon_plan;
typedef struct fw_daemon_best_cache fw_daemon_best_cache;

typedef struct fw_daemon_options {
    const char *socket_path;
    const char *db_path;
    const char *worker_path;
    const char *log_path;
    int ready_fd;                 /* -1 = none */
    int max_clients;
    size_t reply_queue_max;       /* bytes, all clients together */
    int max_jobs;                 /* unfinished jobs held at most (--max-jobs) */
    double variant_timeout_s;
    uint64_t plan_work_max;       /* expression-node evaluations one plan may take (--plan-work-max) */
} fw_daemon_options;

struct fw_daemon_client {
    uv_pipe_t pipe;
    fw_daemon *d;
    fw_proto_lines lb;
    int closing;
    fw_daemon_client *prev, *next;
};

/* A request, as dispatched. Requests that need a device the daemon has not met yet are parked
 * (copied) on that device and dispatched again once its worker reports ready or fails. */
struct fw_daemon_req {
    fw_daemon_client *client;     /* NULL once the client went away: the reply is dropped */
    cJSON *id;                    /* NULL for a notification (no reply is sent) */
    char method[32];
    cJSON *params;                /* always an object */
    const char *device_error;     /* set when re-dispatched after the device failed to open */
    const fw_daemon_device *error_dev;   /* that device */
    fw_daemon_req *next;
};

typedef enum fw_daemon_wstate {
    FW_W_NONE = 0,     /* no worker process */
    FW_W_STARTING,     /* spawned, waiting for "ready" */
    FW_W_IDLE,         /* ready, nothing in flight */
    FW_W_LOADING,      /* "load" in flight */
    FW_W_MEASURING,    /* "measure" in flight, variant timer armed */
    FW_W_FINALISTS,    /* "finalists" in flight (end of a job), its timer armed */
} fw_daemon_wstate;

/* One fairway-worker process. Owned by its device while current; a worker that was killed or died
 * is detached (dev = NULL) and frees itself once its three handles are closed. */
struct fw_daemon_worker {
    fw_daemon *d;
    fw_daemon_device *dev;
    uv_process_t proc;
    uv_pipe_t in, out;
    int open_handles;
    int exited;
    int64_t exit_status;
    int term_signal;
    fw_proto_lines lb;
    char failed_msg[1024];        /* from a "failed" notification */
};

struct fw_daemon_device {
    fw_daemon *d;
    char sel[64];                 /* "opencl:0" */
    char backend[32];
    int index;
    cJSON *info;                  /* device object from the last "ready" (kept across restarts) */
    char identity[512];
    int64_t db_id;

    fw_daemon_worker *w;
    fw_daemon_wstate wstate;
    int64_t req_id;               /* id of the request in flight */
    int64_t req_seq;              /* seq being measured */
    int64_t loaded_job;           /* job the worker has loaded, 0 = none */
    size_t ahead;                 /* items the loaded worker compiles ahead (from its compile threads) */
    uv_timer_t timer;             /* start-up / load / per-variant limit */
    char last_error[2048];        /* why the last worker could not open the device */

    int count;                    /* devices of its backend, as its last "ready" said (0: unknown) */
    fw_daemon_job *current;       /* job this device is running */
    int restarts;                 /* worker deaths without progress (crash loop guard) */
    uint64_t died_ns;             /* uv_hrtime() of the last such death: respawns back off (worker.c) */
    uint64_t failed_ns;           /* when the device last failed to open: not tried again for a while */
    fw_daemon_req *parked;        /* requests waiting for this device */
    fw_daemon_device *next;
};

typedef struct fw_daemon_watch {
    fw_daemon_client *client;
} fw_daemon_watch;

#define FW_DAEMON_NSTATUS 8

/* What the worker's records said about a shape's kernel, reused for the records the daemon writes
 * itself (crashed, timeout) so they name the same variant rows. */
typedef struct fw_daemon_shape_info {
    char kernel[128];
    char mode[32];
    char source_hash[80];
} fw_daemon_shape_info;

/* Several devices of one identity in one job (issue 17): each device of the job takes the job's
 * next seq when it is idle; one sequencer, told in seq order whatever device answered first. */
#define FW_DAEMON_JOB_DEVICES_MAX 16
/* A device of a several-device job whose workers died (or hung) this many times in a row without one
 * stored result is taken out of the job, which goes on on the others (a one-device job fails after
 * CRASH_LOOP_MAX in worker.c, as it always did). */
#define FW_DAEMON_DEVICE_OUT_AFTER 3
#define FW_DAEMON_RETRY_MAX 64

typedef struct fw_daemon_job_dev {
    char sel[64];                 /* "opencl:1" */
    int out;                      /* taken out of the job (why says why) */
    char why[600];
    size_t measured;              /* records it stored in this run */
    size_t sent;                  /* seqs sent to it in this run */
} fw_daemon_job_dev;

/* A seq whose worker died or hung: measured once more (on another device of the job when it has
 * one) before it is stored as crashed / timeout. seq -1: a free slot. */
typedef struct fw_daemon_retry {
    int64_t seq;
    const fw_daemon_device *dev;  /* where the first attempt ended */
    char why[600];
} fw_daemon_retry;

struct fw_daemon_job {
    int64_t id;
    char device_sel[64];          /* the first of devs */
    fw_daemon_job_dev devs[FW_DAEMON_JOB_DEVICES_MAX];
    int ndevs;                    /* 1 for a one-device job; spec "devices" (as stored) otherwise */
    cJSON *spec;                  /* resolved, as stored (may carry "variant_timeout_s") */
    fw_job_spec js;               /* spec, typed (fw_job_spec_parse): what the daemon reads of it */
    cJSON *wspec;                 /* what the worker gets: spec without the daemon's own fields */
    fw_daemon_shape_info *shape_info;
    size_t nshapes;
    const char *family;           /* js.family, "" when none */
    double variant_timeout_s;
    int budget_s_noted;           /* the log said which shapes the time budget ended */

    int running;                  /* state 'running' in the store */
    int cancelled;                /* cancel asked: stop before the next variant */
    fw_seq *seq;                  /* the evaluation sequence (sequence.c), from the job's start */
    unsigned char *done;          /* done[seq] = stored */
    size_t planned, evaluated, next_seq;

    /* Finalists (issue 7): once every seq is stored, the top `fin_k` verified per shape are re-timed
     * interleaved by the worker and stored (fw_db_finalists_put replaces, so a re-run after a restart
     * never stores twice). fin_state: 0 not asked yet, 1 in flight, 2 finished or given up (a worker
     * death or timeout there is logged and the job ends done on its first-pass rankings). */
    int fin_k;
    int fin_state;

    /* A variant whose worker died or ran past the limit is measured once more on a fresh worker
     * before it is stored as crashed / timeout (the OOM killer or a user may have killed a good
     * one): retry[] holds those seqs with what happened the first time; the record stored for one
     * says "retried" either way. */
    fw_daemon_retry retry[FW_DAEMON_RETRY_MAX];

    /* A full disk (issue 15 item 5): a write of this job that failed with -ENOSPC pauses it
     * ("waiting" in its progress) until the daemon's retry timer gets the write through: pending is
     * a record not stored yet, pending_state a terminal state not stored yet
     * (with pending_error), neither when only the start (plan / state 'running') could not be
     * written. store_ready: the plan size and state 'running' are stored. pending is an array of
     * {"device_id", "record"}: the devices of a several-device job each may have one waiting. */
    int waiting;
    cJSON *pending;
    char pending_state[16];
    char *pending_error;
    int store_ready;

    size_t evaluated_this_run;
    uint64_t run_started_ns;
    fw_daemon_eta *eta;           /* the finalist candidates so far, for the ETA (eta_job.c) */
    int64_t counts[FW_DAEMON_NSTATUS];
    int have_best;
    double best_median;
    char best_variant[512], best_shape[256];

    fw_daemon_watch *watchers;
    size_t nwatchers, capwatchers;
    fw_daemon_job *prev, *next;
};

struct fw_daemon {
    uv_loop_t *loop;
    fw_daemon_options opt;
    char socket_path[108];
    char db_path[4096];
    char worker_path[4096];
    uv_pipe_t listener;
    int listening;
    uv_signal_t sigterm, sigint;
    int have_signals;
    fw_db *db;
    int db_lock_fd;               /* flock on the store file (main.c), -1 = none */
    uv_timer_t store_timer;       /* retries the writes of jobs waiting on a full disk (jobs.c) */
    int store_timer_init;
    int stopping;
    int draining;                 /* `shutdown` without now: stop once no variant is in flight */
    int exit_code;

    fw_daemon_client *clients;
    int nclients;
    fw_daemon_device *devices;
    fw_daemon_job *jobs;          /* unfinished jobs, ascending id */
    fw_daemon_job *jobs_tail;
    fw_daemon_plan *plans;        /* plans being built or built, off the loop (plan.c) */
    fw_daemon_plan *handoff;      /* a submit's built sequence, for the job being added (plan.c) */
    fw_daemon_best_cache *best_cache;   /* best's answers while the store is unchanged (best_cache.c) */
};

/* plan.c: plans are built off the loop, in libuv's thread pool (issue 15 item 2: a spec of
 * expensive constraints planned on the loop stalled every other client for minutes). A plan runs
 * in a pool thread on copies of its inputs; its done callback runs on the loop once it finished
 * (never while the daemon stops). Each plan is bounded (--plan-work-max expression-node
 * evaluations: -ETIME with a sentence) and cancelled (-ECANCELED) when the client that asked for it
 * goes away, when its job is finished, and when the daemon stops.
 *   SEQ: the sequence of a submitted spec (how many it plans; handed to the job it becomes);
 *   ITEMS: the fixed items of a spec (the expand method);
 *   JOB: a job's sequence on its device, with the job's stored records replayed through it. */
typedef enum fw_daemon_plan_kind { FW_PLAN_SEQ = 1, FW_PLAN_ITEMS, FW_PLAN_JOB } fw_daemon_plan_kind;
typedef void (*fw_daemon_plan_fn)(fw_daemon *d, fw_daemon_plan *p);

/* What replaying a job's stored records (in seq order) through its fresh sequence found. */
typedef struct fw_daemon_replay {
    unsigned char *done;          /* planned entries: done[seq] = stored (owned until taken) */
    size_t planned, evaluated, differ, nwhy;
    char why[5][1200];            /* the first stored points that differ from the sequence's asks */
    char stop[600];               /* why replaying stopped early, "" when it did not */
} fw_daemon_replay;

struct fw_daemon_plan {
    uv_work_t work;
    fw_daemon *d;
    fw_daemon_plan_kind kind;
    fw_daemon_req *req;           /* SEQ, ITEMS: a copy; its client is NULL once that went away */
    int64_t job;                  /* JOB (and a SEQ being handed over): the job */
    cJSON *spec, *device, *stored;   /* inputs, owned; the thread reads them, nothing else does */
    void *ctx;                    /* the caller's, freed with ctx_free */
    void (*ctx_free)(void *ctx);
    fw_work bound;
    atomic_int cancel;
    int finished;                 /* the thread is done (results below are set) */
    int rc;                       /* < 0 with err */
    char err[2048];
    fw_seq *seq;                  /* SEQ, JOB (owned until taken) */
    fw_plan plan;                 /* ITEMS */
    fw_daemon_replay replay;      /* JOB */
    double seconds;               /* the thread's time building it */
    fw_daemon_plan_fn done;
    fw_daemon_plan *prev, *next;
};

#endif
