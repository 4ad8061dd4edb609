/* main.c - fairwayd: options, default paths, logging, start-up and clean exit. */
#include "daemon_main.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fw_util.h"

#include "daemon_jobs.h"
#include "daemon_server.h"
#include "daemon_shutdown.h"
#include "daemon_stopper.h"

static const char usage_text[] =
    "Usage: fairwayd [OPTIONS]\n"
    "\n"
    "The fairway tuning daemon. It takes tuning jobs over a Unix socket (JSON-RPC 2.0, one object\n"
    "per line; see docs/protocol.md), runs them one at a time per device through fairway-worker\n"
    "children, and keeps every measurement in SQLite. Clients: the `fairway` CLI, or any program\n"
    "that writes JSON lines to the socket. The daemon itself never loads a GPU driver.\n"
    "\n"
    "Options:\n"
    "  --socket PATH         Unix socket to listen on (mode 0600; parent folders are created 0700).\n"
    "                        Default: $FAIRWAY_SOCKET, else $XDG_RUNTIME_DIR/fairway/fairwayd.sock,\n"
    "                        else ~/.local/state/fairway/fairwayd.sock. fairwayd refuses to start\n"
    "                        when another daemon answers there, and removes a stale socket file.\n"
    "  --db PATH             SQLite store. Default: $FAIRWAY_DB, else ~/.local/state/fairway/fairway.db.\n"
    "                        One daemon per store: the file itself is locked while it runs (a\n"
    "                        second daemon is refused, also through a symlink or hard link).\n"
    "                        A new store is created 0600 and checked at every start (PRAGMA\n"
    "                        quick_check): a damaged one is refused.\n"
    "  --worker PATH         The fairway-worker program. Default: $FAIRWAY_WORKER, else\n"
    "                        fairway-worker next to fairwayd, else <dir>/../bench/worker/fairway-worker\n"
    "                        (the build tree), else fairway-worker on $PATH.\n"
    "  --ready-fd N          Once listening, write the socket path and a newline to file descriptor N\n"
    "                        and close it (for supervisors and tests: wait for EOF, no polling).\n"
    "  --max-clients N       Open client connections at most (default 256); one more is told so\n"
    "                        (error -32004) and closed.\n"
    "  --max-jobs N          Unfinished (queued or running) jobs at most (default 1000); a submit,\n"
    "                        rerun or resume past it is refused with a sentence.\n"
    "  --reply-queue-max MIB Replies the clients have not read yet, all together, in MiB (default 256;\n"
    "                        one client at most 64 MiB); past it the client holding the most is\n"
    "                        disconnected, with a line in the log.\n"
    "  --variant-timeout S   Seconds one variant may take in a worker (compile + verify + timing)\n"
    "                        before the worker is killed and the variant stored as 'timeout'\n"
    "                        (default 300). A job spec's \"variant_timeout_s\" overrides it per job.\n"
    "  --plan-work-max N     Constraint-expression nodes one plan may evaluate (default 1000000000,\n"
    "                        about 20 s): a submit or expand whose spec takes more is refused with a\n"
    "                        sentence. Plans are built off the event loop, so clients are answered\n"
    "                        meanwhile; a client that goes away cancels its plan.\n"
    "  --log FILE            Append the log to FILE instead of standard error (created 0600).\n"
    "  -h, --help            Show this help and exit.\n"
    "  --version             Show the version and exit.\n"
    "\n"
    "Jobs persist: after a crash, kill -9 or SIGTERM, the next start resumes every queued or running\n"
    "job from the first variant not yet stored (none is measured twice). SIGTERM and SIGINT stop\n"
    "cleanly: no new connections or variants, the variant in flight is dropped (it is measured again\n"
    "on the next start), the store is closed, exit status 0. A daemon too busy to take the signal within\n"
    "2 s (stuck in a long computation) stops at once instead: its workers are killed, every committed\n"
    "measurement stays, and the next start resumes the jobs (exit status 0 too). `fairway shutdown`\n"
    "(the shutdown method) stops it once the variant in flight is stored; `--now`, as SIGTERM does.\n"
    "\n"
    "Exit status: 0 clean stop, 1 could not start (the message says why), 2 bad command line.\n";

static FILE *log_file;

void fw_daemon_log(fw_daemon *d, const char *fmt, ...)
{
    (void)d;
    FILE *f = log_file ? log_file : stderr;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    /* One write per line, so lines of the daemon and its workers (same fd 2) do not interleave. */
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(f, "%s.%03ldZ fairwayd[%ld]: %s\n", stamp, ts.tv_nsec / 1000000, (long)getpid(), msg);
    fflush(f);
}

/* mkdir -p for the parent folder of path, new folders 0700: the socket and the store hold a user's
 * work and must not be reachable by others. */
static int make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return fw_errf(err, errlen, -ENAMETOOLONG, "path '%s' is too long", path);
    char *slash = strrchr(buf, '/');
    if (!slash || slash == buf)
        return 0;
    *slash = '\0';
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) != 0 && errno != EEXIST)
                return fw_errf(err, errlen, -errno, "cannot create folder '%s': %s", buf, strerror(errno));
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return 0;
}

static int default_state_path(const char *name, char *out, size_t len, char *err, size_t errlen)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        return fw_errf(err, errlen, -ENOENT,
                       "HOME is not set, so there is no default for the %s; pass it explicitly", name);
    snprintf(out, len, "%s/.local/state/fairway/%s", home, name);
    return 0;
}

static int is_executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static void find_worker(const char *given, char *out, size_t len)
{
    if (given && *given) {
        snprintf(out, len, "%s", given);
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            if (snprintf(out, len, "%s/fairway-worker", self) < (int)len && is_executable(out))
                return;
            if (snprintf(out, len, "%s/../bench/worker/fairway-worker", self) < (int)len &&
                is_executable(out))
                return;
        }
    }
    /* uv_spawn searches $PATH for a name without a slash. */
    snprintf(out, len, "fairway-worker");
}

static int lock_store(fw_daemon *d, char *err, size_t errlen)
{
    /* Created 0600 here when new: the store holds users' kernel sources. */
    int fd = open(d->db_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return fw_errf(err, errlen, -errno, "cannot open the store %s: %s", d->db_path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        return fw_errf(err, errlen, -e,
                       e == EWOULDBLOCK ? "another fairwayd already uses the store %s (the same file, "
                                          "perhaps through a link); stop it or pass another --db"
                                        : "cannot lock the store %s: %s",
                       d->db_path, strerror(e));
    }
    d->db_lock_fd = fd;
    return 0;
}

/* 0600 when new: the log names jobs, kernels and paths of one user. */
static int open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    log_file = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!log_file) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        fprintf(stderr, "fairwayd: cannot open log file '%s': %s\n", path, strerror(e));
        return -e;
    }
    /* Workers inherit fd 2: their messages land in the same log. */
    fflush(stderr);
    dup2(fileno(log_file), 2);
    return 0;
}

/* A start-up failure after listening: close what is open and let the loop finish closing it. */
static void abort_start(fw_daemon *d)
{
    fw_daemon_stop(d);
    fw_daemon_jobs_close(d);
    fw_daemon_stopper_close(d);
    fw_daemon_close_signals(d);
    uv_run(d->loop, UV_RUN_DEFAULT);
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -EINVAL;
    *out = v;
    return 0;
}

/* Options into *opt: -1 to go on, else the exit status (0 after --help / --version, 2 bad usage). */
static int parse_options(int argc, char **argv, fw_daemon_options *opt)
{
    enum { O_SOCKET = 1000, O_DB, O_WORKER, O_READY, O_MAXC, O_MAXJ, O_RQ, O_VT, O_LOG, O_VERSION, O_PW };
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, O_SOCKET},
        {"db", required_argument, NULL, O_DB},
        {"worker", required_argument, NULL, O_WORKER},
        {"ready-fd", required_argument, NULL, O_READY},
        {"max-clients", required_argument, NULL, O_MAXC},
        {"max-jobs", required_argument, NULL, O_MAXJ},
        {"reply-queue-max", required_argument, NULL, O_RQ},
        {"variant-timeout", required_argument, NULL, O_VT},
        {"plan-work-max", required_argument, NULL, O_PW},
        {"log", required_argument, NULL, O_LOG},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    int c;
    long v;
    char *endp;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case O_SOCKET: opt->socket_path = optarg; break;
        case O_DB: opt->db_path = optarg; break;
        case O_WORKER: opt->worker_path = optarg; break;
        case O_LOG: opt->log_path = optarg; break;
        case O_READY:
            if (parse_int(optarg, 0, INT_MAX, &v) < 0) {
                fprintf(stderr, "fairwayd: --ready-fd wants a file descriptor number, not '%s'\n", optarg);
                return 2;
            }
            opt->ready_fd = (int)v;
            break;
        case O_MAXC:
            if (parse_int(optarg, 1, 100000, &v) < 0) {
                fprintf(stderr, "fairwayd: --max-clients wants a number from 1 to 100000, not '%s'\n", optarg);
                return 2;
            }
            opt->max_clients = (int)v;
            break;
        case O_MAXJ:
            if (parse_int(optarg, 1, 1000000, &v) < 0) {
                fprintf(stderr, "fairwayd: --max-jobs wants a number from 1 to 1000000, not '%s'\n", optarg);
                return 2;
            }
            opt->max_jobs = (int)v;
            break;
        case O_RQ:
            if (parse_int(optarg, 1, 1 << 20, &v) < 0) {
                fprintf(stderr, "fairwayd: --reply-queue-max wants MiB from 1 to 1048576, not '%s'\n", optarg);
                return 2;
            }
            opt->reply_queue_max = (size_t)v << 20;
            break;
        case O_VT:
            errno = 0;
            opt->variant_timeout_s = strtod(optarg, &endp);
            if (errno || endp == optarg || *endp || !(opt->variant_timeout_s > 0) ||
                opt->variant_timeout_s > 7 * 86400) {
                fprintf(stderr, "fairwayd: --variant-timeout wants seconds (> 0, at most a week), not '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case O_PW:
            errno = 0;
            opt->plan_work_max = strtoull(optarg, &endp, 10);
            if (errno || endp == optarg || *endp || *optarg == '-' || opt->plan_work_max == 0) {
                fprintf(stderr, "fairwayd: --plan-work-max wants a number of expression-node evaluations "
                        "(at least 1), not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h': fputs(usage_text, stdout); return 0;
        case O_VERSION: printf("fairwayd %s\n", FW_VERSION); return 0;
        default:
            fprintf(stderr, "Try 'fairwayd --help' for the options.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fairwayd: unexpected argument '%s'; try 'fairwayd --help'\n", argv[optind]);
        return 2;
    }
    if (opt->ready_fd >= 0 && fcntl(opt->ready_fd, F_GETFD) < 0) {
        fprintf(stderr, "fairwayd: --ready-fd %d is not an open file descriptor\n", opt->ready_fd);
        return 2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    /* Before any thread exists, so that every thread inherits it: only the stopper takes them. */
    fw_daemon_block_signals();
    fw_daemon_options opt = {
        .socket_path = getenv("FAIRWAY_SOCKET"),
        .db_path = getenv("FAIRWAY_DB"),
        .worker_path = getenv("FAIRWAY_WORKER"),
        .ready_fd = -1,
        .max_clients = 256,
        .reply_queue_max = (size_t)FW_DAEMON_REPLY_QUEUE_DEFAULT_MIB << 20,
        .max_jobs = 1000,
        .plan_work_max = FW_DAEMON_PLAN_WORK_DEFAULT,
        .variant_timeout_s = 300,
    };
    int prc = parse_options(argc, argv, &opt);
    if (prc >= 0)
        return prc;
    /* Workers must not inherit the readiness pipe: a child holding it open would keep the waiting
     * supervisor from ever seeing EOF. */
    if (opt.ready_fd >= 0)
        fcntl(opt.ready_fd, F_SETFD, FD_CLOEXEC);
    /* Start-up failures are told to whoever started us, even when the log goes to a file. */
    int start_err = dup(2);
    if (start_err >= 0)
        fcntl(start_err, F_SETFD, FD_CLOEXEC);
    if (opt.log_path && open_log(opt.log_path) < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);

    static fw_daemon d;
    char err[2048];
    d.opt = opt;
    d.db_lock_fd = -1;
    d.loop = uv_default_loop();
    if (fw_daemon_stopper_start(&d, err, sizeof(err)) < 0)
        goto fail;

    char path[4096];
    if (opt.socket_path && *opt.socket_path) {
        snprintf(path, sizeof(path), "%s", opt.socket_path);
    } else {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (xdg && *xdg)
            snprintf(path, sizeof(path), "%s/fairway/fairwayd.sock", xdg);
        else if (default_state_path("fairwayd.sock", path, sizeof(path), err, sizeof(err)) < 0)
            goto fail;
    }
    if (strlen(path) >= sizeof(d.socket_path)) {
        fw_errf(err, sizeof(err), -ENAMETOOLONG,
                "socket path '%s' is longer than the %zu bytes a Unix socket allows; pass a shorter --socket",
                path, sizeof(d.socket_path) - 1);
        goto fail;
    }
    snprintf(d.socket_path, sizeof(d.socket_path), "%s", path);
    if (opt.db_path && *opt.db_path)
        snprintf(d.db_path, sizeof(d.db_path), "%s", opt.db_path);
    else if (default_state_path("fairway.db", d.db_path, sizeof(d.db_path), err, sizeof(err)) < 0)
        goto fail;
    find_worker(opt.worker_path, d.worker_path, sizeof(d.worker_path));

    if (make_parent_dirs(d.socket_path, err, sizeof(err)) < 0)
        goto fail;
    if (strcmp(d.db_path, ":memory:") != 0 && make_parent_dirs(d.db_path, err, sizeof(err)) < 0)
        goto fail;

    /* Listen before opening the store: a second daemon must be turned away before it touches the
     * file the first one is writing. */
    if (fw_daemon_listen(&d, err, sizeof(err)) < 0)
        goto fail;
    /* One daemon per store: two would resume the same jobs and measure every seq twice. The lock is
     * an flock on the store file itself, so a second daemon reaching the same file through a symlink
     * or a hard link is turned away too (a lock file beside the name would not see it). The
     * descriptor stays open until exit: closing any descriptor of the file would drop SQLite's own
     * POSIX locks. flock and SQLite's fcntl locks do not interact on Linux. A kill -9 releases it. */
    if (strcmp(d.db_path, ":memory:") != 0 && lock_store(&d, err, sizeof(err)) < 0) {
        abort_start(&d);
        goto fail;
    }
    char dberr[1024];
    if (fw_db_open(d.db_path, &d.db, dberr, sizeof(dberr)) < 0) {
        fw_errf(err, sizeof(err), -EIO, "cannot open the store '%s': %s", d.db_path, dberr);
        abort_start(&d);
        goto fail;
    }
    if (fw_daemon_jobs_resume(&d, err, sizeof(err)) < 0) {
        abort_start(&d);
        fw_db_close(d.db);
        goto fail;
    }
    fw_daemon_log(&d, "listening on %s (store %s, worker %s)", d.socket_path, d.db_path, d.worker_path);

    if (opt.ready_fd >= 0) {
        char line[160];
        int n = snprintf(line, sizeof(line), "%s\n", d.socket_path);
        ssize_t w = write(opt.ready_fd, line, (size_t)n);
        (void)w;
        close(opt.ready_fd);
    }

    uv_run(d.loop, UV_RUN_DEFAULT);
    fw_daemon_jobs_close(&d);
    fw_daemon_shutdown_close(&d);
    fw_daemon_stopper_close(&d);
    fw_daemon_close_signals(&d);
    uv_run(d.loop, UV_RUN_DEFAULT);

    fw_db_close(d.db);
    d.db = NULL;
    if (d.db_lock_fd >= 0)
        close(d.db_lock_fd);
    int rc = uv_loop_close(d.loop);
    if (rc != 0)
        fw_daemon_log(&d, "event loop closed with handles still open (%s)", uv_strerror(rc));
    fw_daemon_log(&d, "stopped");
    fw_daemon_stopper_done();
    if (log_file)
        fclose(log_file);
    return d.exit_code;

fail:
    if (start_err >= 0)
        dprintf(start_err, "fairwayd: %s\n", err);
    if (log_file)
        fw_daemon_log(&d, "cannot start: %s", err);
    return 1;
}
