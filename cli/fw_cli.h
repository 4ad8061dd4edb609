/* fw_cli.h - the parts of the `fairway` command-line client (cli/).
 *
 * The CLI is a thin JSON-RPC 2.0 client of fairwayd (docs/protocol.md). It is split so the pieces
 * can be read and tested on their own:
 *   cli_conn.c    socket path rules, connecting, one request / many notifications, starting fairwayd
 *   cli_spec.c    turning tune / expand flags into a job spec (docs/spec.md)
 *   cli_render.c  human output: tables, durations, the progress bar / progress lines
 *   cli_args.c    argument parsing, errors, the one-request helpers
 *   cli_tune.c    tune, expand, and following a job to its end (tune, rerun, resume, watch)
 *   cli_jobs.c    status, watch, rerun, resume, cancel, rankings, jobs
 *   cli_cmds.c    the command table and the help texts
 *   cli_results.c best, compare, profiles, devices
 *   cli_shutdown.c stopping the daemon
 *   fairway.c     main(): global flags and dispatch
 *
 * Exit codes of every subcommand (also printed by --help):
 *   0 ok; 1 the job ended failed or cancelled or ranked nothing, or a query found nothing; 2 usage error;
 *   3 cannot reach or start the daemon; 4 the daemon returned an error for the request.
 */
#ifndef FW_CLI_H
#define FW_CLI_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "fw_job.h"
#include "fw_proto.h"

enum {
    FW_CLI_EXIT_OK = 0,
    FW_CLI_EXIT_NOTFOUND = 1,   /* job failed / cancelled, or nothing found */
    FW_CLI_EXIT_USAGE = 2,
    FW_CLI_EXIT_NODAEMON = 3,
    FW_CLI_EXIT_DAEMON = 4,
    FW_CLI_EXIT_INTERRUPTED = 130, /* Ctrl-C, as shells report it */
};

/* Protocol error codes (docs/protocol.md) the CLI treats specially. */
#define FW_CLI_RPC_NO_SUCH_JOB (-32001)
#define FW_CLI_RPC_NOTHING_STORED (-32002)

/* ---- global options ------------------------------------------------------------------------ */

typedef struct fw_cli_global {
    char socket[512];     /* resolved socket path (flag > FAIRWAY_SOCKET > default rules) */
    int socket_explicit;  /* chosen by --socket or FAIRWAY_SOCKET (the daemon log then goes beside it) */
    int json;             /* --json: machine-readable JSON on stdout */
    int no_start;         /* --no-start: never start fairwayd */
    const char *argv0;    /* for locating fairwayd next to this binary */
} fw_cli_global;

/* The default socket path, the daemon's rules (issue 3 item 1):
 * $XDG_RUNTIME_DIR/fairway/fairwayd.sock, else $HOME/.local/state/fairway/fairwayd.sock. */
int fw_cli_default_socket(char *out, size_t len, char *err, size_t errlen);
/* Where an auto-started daemon logs: beside the socket when the socket was chosen explicitly,
 * else $XDG_STATE_HOME/fairway/fairwayd.log, else $HOME/.local/state/fairway/fairwayd.log. */
int fw_cli_log_path(const fw_cli_global *g, char *out, size_t len, char *err, size_t errlen);
/* The fairwayd binary: $FAIRWAY_DAEMON, else next to this executable, else <dir>/../daemon/fairwayd
 * (the build tree), else the first fairwayd on PATH. -ENOENT with the places tried. */
int fw_cli_find_daemon(const fw_cli_global *g, char *out, size_t len, char *err, size_t errlen);

/* SIGINT/SIGTERM handling: after fw_cli_install_signals(), a signal sets fw_cli_interrupted and
 * writes a byte to a self-pipe that every wait on the daemon also polls, so a read waiting for the
 * daemon returns -EINTR however the signal and the read interleave, and `tune` can say the job goes
 * on in the daemon. */
extern volatile int fw_cli_interrupted;
int fw_cli_install_signals(void);

/* ---- connection ---------------------------------------------------------------------------- */

typedef struct fw_cli_conn {
    int fd;
    fw_proto_lines lines; /* bytes read but not yet returned as lines (proto/fw_proto.h) */
    int next_id;
    int rpc_code;         /* JSON-RPC error code of the last failed call (0 if none) */
    cJSON *rpc_data;      /* its error.data (owned; may be NULL) */
} fw_cli_conn;

/* Connect to the socket. -ENOENT / -ECONNREFUSED when no daemon answers there. */
int fw_cli_connect(const char *path, fw_cli_conn *c, char *err, size_t errlen);
void fw_cli_close(fw_cli_conn *c);
/* Connect; if no daemon answers and starting is allowed, start fairwayd (detached, logging to
 * fw_cli_log_path, told --ready-fd and waited on through it), then connect. Returns 0, or
 * -EHOSTDOWN (and a sentence in err) when the daemon can neither be reached nor started. */
int fw_cli_open(const fw_cli_global *g, fw_cli_conn *c, char *err, size_t errlen);
/* Start fairwayd for g->socket and wait until it is listening. *pid gets its pid. */
int fw_cli_start_daemon(const fw_cli_global *g, int *pid, char *err, size_t errlen);

/* Called for each notification that arrives (method name, params). Return nonzero to stop. */
typedef int (*fw_cli_notify_fn)(const char *method, const cJSON *params, void *ctx);

/* Send one request (params is consumed; NULL = {}) and wait for its response. Notifications that
 * arrive meanwhile go to fn (may be NULL). On success *result is the response's result (caller
 * frees). Returns -EREMOTEIO when the daemon answered with an error: its message is in err and its
 * code in c->rpc_code; -ECONNRESET when the connection ended; -EPROTO for a reply that is not
 * JSON-RPC. */
int fw_cli_call(fw_cli_conn *c, const char *method, cJSON *params, cJSON **result,
                fw_cli_notify_fn fn, void *ctx, char *err, size_t errlen);
/* Read the next message (a notification or a response) as a JSON object. -EINTR when
 * fw_cli_interrupted was set while waiting. */
int fw_cli_read_message(fw_cli_conn *c, cJSON **msg, char *err, size_t errlen);

/* The exit code for a failed call's return value (3 for connection trouble, 4 for a daemon error,
 * 1 for "no such job" / "nothing stored"). */
int fw_cli_exit_for(const fw_cli_conn *c, int rc);

/* ---- specs from flags ---------------------------------------------------------------------- */

/* "M=256,N=256,K=128" -> {"M":256,"N":256,"K":128}. Values that are integers become numbers, values
 * starting with '[' or '{' are parsed as JSON, anything else stays a string. */
int fw_cli_parse_kv_object(const char *text, cJSON **out, char *err, size_t errlen);
/* "TILE_N=32,64,128" -> name "TILE_N", values [32,64,128] (integers, no duplicates). */
int fw_cli_parse_knob(const char *text, char *name, size_t namelen, cJSON **values,
                      char *err, size_t errlen);
/* "KNOB=MACRO" or "NAME=VALUE" split at the first '=' (both sides non-empty). */
int fw_cli_split_assign(const char *text, char *name, size_t namelen, const char **value,
                        char *err, size_t errlen);

/* Flags of `tune` / `expand` that shape a spec. Strings point into argv; lists are owned cJSON. */
typedef struct fw_cli_spec_flags {
    const char *spec_file, *profile, *family, *strategy, *backend;
    const char *source_file, *entry;
    const char *replay_file, *replay_noise;   /* --replay FILE, --replay-noise R */
    long long num_random, random_seed, warmup, iters, device, budget;   /* -1 = not given */
    double budget_s;      /* --budget-s: seconds per shape (0 = not given) */
    int no_explore;
    cJSON *shapes;        /* array of shape objects, or NULL */
    cJSON *knobs;         /* object NAME -> [values], or NULL */
    cJSON *constraints;   /* array of strings, or NULL */
    cJSON *aliases;       /* object KNOB -> MACRO, or NULL */
    cJSON *macros;        /* object NAME -> "VALUE", or NULL */
    cJSON *binds;         /* object KNOB -> CONSTANT (--bind), or NULL */
    cJSON *devices;       /* --devices: array of indices or the string "all", or NULL */
} fw_cli_spec_flags;

void fw_cli_spec_flags_init(fw_cli_spec_flags *f);
void fw_cli_spec_flags_release(fw_cli_spec_flags *f);
/* Parse one spec-shaping option (its long name without "--", and its argument). Returns 1 when the
 * option was one of them, 0 when it is not a spec flag, < 0 with a message for a bad value. */
int fw_cli_spec_flag(fw_cli_spec_flags *f, const char *name, const char *arg, char *err, size_t errlen);
/* Build the user spec (docs/spec.md): --spec FILE first, then every flag given overrides it.
 * --num-random N becomes "num_random" (the resolver makes it strategy random, budget presets + N);
 * --no-explore becomes "no_explore" and strategy presets, and wins over --num-random as in the old
 * tool. Flags that contradict each other, or nothing naming a family or profile, fail with a message. */
int fw_cli_spec_build(const fw_cli_spec_flags *f, cJSON **spec, char *err, size_t errlen);
/* Read a user kernel source for --source, its local #include "..." inlined relative to the including
 * file (with #line markers), so the daemon gets one text. */
int fw_cli_source_load(const char *path, char **text, char *err, size_t errlen);

/* ---- rendering ----------------------------------------------------------------------------- */

/* A member of a JSON object when it is a number (fw_cli_num) or a string (fw_cli_str), else dflt:
 * the reads every view of a daemon reply makes. */
double fw_cli_num(const cJSON *o, const char *k, double dflt);
const char *fw_cli_str(const cJSON *o, const char *k, const char *dflt);
/* The job's resolved spec in a status reply ("spec"), typed (fw_job_spec_parse; valid while status
 * is): every field absent when the reply has no spec or one that does not parse, so a view shows
 * what it shows for a spec without the field. */
void fw_cli_status_spec(const cJSON *status, fw_job_spec *out);

/* "812 ns", "81.23 us", "1.234 ms", "2.50 s". */
void fw_cli_fmt_ns(double ns, char *out, size_t len);
/* "0:07", "12:03", "1:02:03"; "?" for a negative value. */
void fw_cli_fmt_secs(double s, char *out, size_t len);

/* A simple text table: add a header row, then rows of cells; printed with aligned columns. */
typedef struct fw_cli_table {
    size_t ncols, nrows;
    char **cells;         /* nrows * ncols, row 0 is the header */
    int right[16];        /* right-align this column */
} fw_cli_table;
void fw_cli_table_init(fw_cli_table *t, size_t ncols, const char *const *header);
void fw_cli_table_add(fw_cli_table *t, const char *const *row);
void fw_cli_table_print(const fw_cli_table *t, FILE *out);
void fw_cli_table_release(fw_cli_table *t);

/* Progress of a job being followed: a bar redrawn in place on a terminal, plain lines otherwise. */
typedef struct fw_cli_progress {
    FILE *out;
    int tty;              /* redraw in place */
    int drawn;            /* a bar is on screen (needs a newline before other output) */
    long long last_evaluated;
    char last_state[32];
    char best[32];        /* best median so far, kept when a later notification has none */
    char best_key[512];
    unsigned devices_out; /* bit i: device i of a several-device job was said to be taken out */
} fw_cli_progress;
void fw_cli_progress_init(fw_cli_progress *p, FILE *out, int tty);
/* Show one `progress` notification's params (and, once each, a device taken out of the job). */
void fw_cli_progress_show(fw_cli_progress *p, const cJSON *params);
void fw_cli_progress_end(fw_cli_progress *p);
/* A several-device job's devices (progress "devices"), one line: "opencl:0 measuring (12 measured),
 * opencl:1 out (...)". Nothing for a one-device job. */
void fw_cli_print_devices(FILE *out, const cJSON *progress);
/* The devices taken out of a several-device job, from its stored row's "devices_out" (status, jobs):
 * a line each, "device opencl:1 was taken out of the job at T: why", after indent. */
void fw_cli_print_devices_out(FILE *out, const cJSON *job, const char *indent);

/* The rankings table (rank, shape, knobs, median, GB/s, GFLOP/s, origin), at most top rows per
 * shape; then the best config of each shape. */
void fw_cli_print_rankings(FILE *out, const cJSON *rankings, int top);
void fw_cli_print_best_per_shape(FILE *out, const cJSON *rankings);

/* ---- subcommands --------------------------------------------------------------------------- */

/* Each takes the arguments after the subcommand name (argv[0] is the subcommand) and returns an
 * exit code. */
typedef int (*fw_cli_cmd_fn)(fw_cli_global *g, int argc, char **argv);
typedef struct fw_cli_command {
    const char *name;
    const char *summary;
    fw_cli_cmd_fn run;
    const char *help;     /* full --help text */
} fw_cli_command;

/* Shared by the files that hold subcommands (defined in cli_args.c). */
typedef int (*fw_cli_opt_fn)(void *ctx, const char *name, const char *arg, char *err, size_t errlen);
/* Report an error and return ec: "fairway CMD: msg" on stderr (CMD the subcommand being run, set up
 * by fw_cli_parse_cmd or fw_cli_errors_setup), and with --json also {"error": {"message","command",
 * "exit", and for a daemon error "code" and "data"}} on stdout. c may be NULL. */
void fw_cli_errors_setup(const char *cmd, int json);
int fw_cli_error(int ec, const fw_cli_conn *c, const char *msg);
int fw_cli_usage_error(const char *cmd, const char *msg);
/* Parse a subcommand's options (with_arg / flags: "|name|name|" lists); -1 with *ec on help or a
 * usage error. */
int fw_cli_parse_cmd(fw_cli_global *g, const char *name, int argc, char **argv, const char *with_arg,
                     const char *flags, fw_cli_opt_fn on, void *ctx, char **pos, int maxpos, int *npos, int *ec);
int fw_cli_parse_job_id(const char *cmd, const char *s, long long *id);
int fw_cli_parse_count(const char *name, const char *arg, long long min, long long *out, char *err, size_t errlen);
void fw_cli_print_json(const cJSON *j);
void fw_cli_field_text(const cJSON *o, const char *k, char *out, size_t len);
int fw_cli_open_or_fail(fw_cli_global *g, fw_cli_conn *c);
/* One request on an open connection; on failure the error is reported and the exit code returned. */
int fw_cli_rpc(fw_cli_conn *c, const char *method, cJSON *params, cJSON **result);
/* Connect, one request (params consumed), disconnect; with --json the result is printed. */
int fw_cli_query(fw_cli_global *g, const char *method, cJSON *params, cJSON **res);

/* Shared by the job subcommands (cli_tune.c): {"job": id}; whether a state is done/failed/cancelled;
 * "ok 3, compile_error 1" (nonzero counts only, "none yet" when all are zero). */
cJSON *fw_cli_job_params(long long id);
int fw_cli_terminal_state(const char *s);
void fw_cli_print_counts(FILE *out, const cJSON *counts);
/* Follow a job to its end on c (watch + progress), then print its report (table, or one JSON object
 * with extra merged in; extra may be NULL). Returns the exit code. */
int fw_cli_follow(fw_cli_global *g, fw_cli_conn *c, long long job, int top, cJSON *extra);

/* tune, expand (cli_tune.c); status, watch, rerun, resume, cancel, rankings, jobs (cli_jobs.c). */
int fw_cli_cmd_tune(fw_cli_global *g, int argc, char **argv);
int fw_cli_cmd_expand(fw_cli_global *g, int argc, char **argv);
int fw_cli_cmd_status(fw_cli_global *g, int argc, char **argv);
int fw_cli_cmd_watch(fw_cli_global *g, int argc, char **argv);
int fw_cli_cmd_rerun(fw_cli_global *g, int argc, char **argv);
int fw_cli_cmd_resume(fw_cli_global *g, int argc, char **argv);
int fw_cli_cmd_cancel(fw_cli_global *g, int argc, char **argv);
int fw_cli_cmd_rankings(fw_cli_global *g, int argc, char **argv);
int fw_cli_cmd_jobs(fw_cli_global *g, int argc, char **argv);

/* `fairway failures` (cli_failures.c) and the failure lines of status / tune / watch: one line per
 * failure class, "  compile_error 3 (first seq 0): <first line>". */
int fw_cli_cmd_failures(fw_cli_global *g, int argc, char **argv);
extern const char fw_cli_failures_help[];
/* `fairway report` (cli_report.c, issue 14); the two statistics are exposed for unit tests. */
int fw_cli_cmd_report(fw_cli_global *g, int argc, char **argv);
extern const char fw_cli_report_help[];
int fw_cli_cmd_export(fw_cli_global *g, int argc, char **argv); /* cli_export.c */
/* cli_export_best.c: one job's status and rankings (limit 1); the rank 1 per shape of every job
 * merged per (device identity, shape), the faster kept, each with "device" and "job"; written as a
 * C header, #if-selected by FW_<FAMILY>_DEVICE_INDEX when they span several devices. */
typedef struct fw_cli_export_job {
    long long id;
    cJSON *status, *data;
} fw_cli_export_job;
cJSON *fw_cli_export_best(const fw_cli_export_job *jobs, int n);
void fw_cli_export_header(FILE *f, const fw_cli_export_job *jobs, int n, const cJSON *best);
extern const char fw_cli_export_help[];
/* One shape of a job (the only one, or `shape`) as a Kernel Tuner cache file (cli_export_kt.c), from
 * the `status` and `measurements` (with samples) replies; -errno with a sentence in err. */
int fw_cli_export_kt(FILE *f, long long job, const cJSON *status, const cJSON *meas, const char *shape, char *err,
                     size_t errlen);
/* The same shape as fairway's records, one JSON object a line, after a {"fairway": {...}} header. */
int fw_cli_export_lines(FILE *f, long long job, const cJSON *status, const cJSON *meas, const char *shape, char *err,
                        size_t errlen);
void fw_cli_report_expected_min(const double *v, size_t n, double *out);
double fw_cli_report_mann_whitney(const double *a, size_t na, const double *b, size_t nb);
void fw_cli_print_failure_classes(FILE *out, const cJSON *classes, long long job);

/* `fairway policy` (cli_policy.c, issue 13): each job's status and measurements with samples; the
 * derived policy as JSON {"jobs","family","device","noise_rule","against","layers":[...]} against
 * the hand-written policy (against, or the first job's spec.options.policy); -1 with err. */
int fw_cli_cmd_policy(fw_cli_global *g, int argc, char **argv);
extern const char fw_cli_policy_help[];
int fw_cli_policy_fetch(fw_cli_global *g, fw_cli_export_job *jobs, int n);
/* same: "small,base,large" (--same-body) pools those modes' candidates as the first (NULL: none). */
int fw_cli_policy_build(const fw_cli_export_job *jobs, int nj, const cJSON *against, const char *against_name,
                        const char *same, cJSON **out, char *err, size_t errlen);

/* The derived policy of jobs (fetched by fw_cli_policy_fetch) in metal-marlin's formats
 * (cli_export_mm.c): format "metal-marlin-selection" or "metal-marlin-config"; source: the kernel
 * file whose entries make available_kernels (NULL: the job's own source, else the family's Metal
 * source); same_body as fw_cli_policy_build's. -1 with err. */
int fw_cli_export_mm(FILE *f, const char *format, const fw_cli_export_job *jobs, int n, const char *source,
                     const char *same_body, char *err, size_t errlen);

/* best, compare, profiles, devices (cli_results.c). */
int fw_cli_cmd_best(fw_cli_global *g, int argc, char **argv);
int fw_cli_cmd_compare(fw_cli_global *g, int argc, char **argv);
int fw_cli_cmd_profiles(fw_cli_global *g, int argc, char **argv);
int fw_cli_cmd_strategies(fw_cli_global *g, int argc, char **argv);
int fw_cli_cmd_devices(fw_cli_global *g, int argc, char **argv);

/* `fairway shutdown` (cli_shutdown.c, issue 19 item 12). */
int fw_cli_cmd_shutdown(fw_cli_global *g, int argc, char **argv);
extern const char fw_cli_shutdown_help[];

/* `fairway transforms` (cli_transforms.c). */
int fw_cli_cmd_transforms(fw_cli_global *g, int argc, char **argv);
extern const char fw_cli_transforms_help[];

const fw_cli_command *fw_cli_commands(size_t *n);
const fw_cli_command *fw_cli_command_find(const char *name);
/* The exit code paragraph shared by every --help. */
extern const char fw_cli_exit_help[];
/* The global options paragraph shared by every --help. */
extern const char fw_cli_global_help[];

#endif
