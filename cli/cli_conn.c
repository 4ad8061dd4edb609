#include "fw_cli.h"
#include "fw_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long to wait for a freshly started daemon to report readiness. It only opens its database and
 * binds the socket before that, so this is a guard against a stuck start, not a pacing delay. */
#define READY_TIMEOUT_MS 60000

volatile int fw_cli_interrupted;
static int intr_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    fw_cli_interrupted = 1;
    if (intr_pipe[1] >= 0) {
        ssize_t w = write(intr_pipe[1], "x", 1);
        (void)w; /* a full pipe already says "interrupted" */
    }
    errno = saved;
}

int fw_cli_install_signals(void)
{
    if (pipe2(intr_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return -errno;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return 0;
}

static int home_path(char *out, size_t len, const char *suffix, char *err, size_t errlen)
{
    const char *home = getenv("HOME");
    if (!home || !*home)
        return fw_errf(err, errlen, -ENOENT,
                       "HOME is not set, so there is no default socket path: pass --socket PATH");
    if ((size_t)snprintf(out, len, "%s/%s", home, suffix) >= len)
        return fw_errf(err, errlen, -ENAMETOOLONG, "the path under HOME is too long: pass --socket PATH");
    return 0;
}

int fw_cli_default_socket(char *out, size_t len, char *err, size_t errlen)
{
    const char *rt = getenv("XDG_RUNTIME_DIR");
    if (rt && *rt) {
        if ((size_t)snprintf(out, len, "%s/fairway/fairwayd.sock", rt) >= len)
            return fw_errf(err, errlen, -ENAMETOOLONG, "XDG_RUNTIME_DIR is too long for a socket path: pass --socket PATH");
        return 0;
    }
    return home_path(out, len, ".local/state/fairway/fairwayd.sock", err, errlen);
}

int fw_cli_log_path(const fw_cli_global *g, char *out, size_t len, char *err, size_t errlen)
{
    if (g->socket_explicit) {
        const char *slash = strrchr(g->socket, '/');
        int dlen = slash ? (int)(slash - g->socket) : 1;
        const char *dir = slash ? g->socket : ".";
        if (slash == g->socket)
            dlen = 1; /* socket in "/" */
        if ((size_t)snprintf(out, len, "%.*s/fairwayd.log", dlen, dir) >= len)
            return fw_errf(err, errlen, -ENAMETOOLONG, "the log path beside the socket is too long");
        return 0;
    }
    const char *st = getenv("XDG_STATE_HOME");
    if (st && *st) {
        if ((size_t)snprintf(out, len, "%s/fairway/fairwayd.log", st) >= len)
            return fw_errf(err, errlen, -ENAMETOOLONG, "XDG_STATE_HOME is too long");
        return 0;
    }
    return home_path(out, len, ".local/state/fairway/fairwayd.log", err, errlen);
}

static int executable(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

int fw_cli_find_daemon(const fw_cli_global *g, char *out, size_t len, char *err, size_t errlen)
{
    const char *env = getenv("FAIRWAY_DAEMON");
    if (env && *env) {
        if (!executable(env))
            return fw_errf(err, errlen, -ENOENT,
                           "FAIRWAY_DAEMON names '%s', which is not an executable file", env);
        snprintf(out, len, "%s", env);
        return 0;
    }
    /* The directory of this binary: /proc/self/exe is exact even when run through PATH. */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
    } else if (g->argv0 && strchr(g->argv0, '/')) {
        snprintf(self, sizeof self, "%s", g->argv0);
    } else {
        self[0] = 0;
    }
    char tried[1024] = "";
    if (self[0]) {
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = 0;
            snprintf(out, len, "%s/fairwayd", self);
            if (executable(out))
                return 0;
            snprintf(tried, sizeof tried, "%s, ", out);
            snprintf(out, len, "%s/../daemon/fairwayd", self);
            if (executable(out))
                return 0;
            size_t tl = strlen(tried);
            snprintf(tried + tl, sizeof tried - tl, "%s, ", out);
        }
    }
    const char *path = getenv("PATH");
    if (path) {
        const char *p = path;
        while (*p) {
            const char *e = strchr(p, ':');
            size_t dl = e ? (size_t)(e - p) : strlen(p);
            if (dl > 0 && (size_t)snprintf(out, len, "%.*s/fairwayd", (int)dl, p) < len && executable(out))
                return 0;
            p += dl;
            if (*p == ':')
                p++;
        }
    }
    return fw_errf(err, errlen, -ENOENT,
                   "cannot find fairwayd (tried %sand PATH); install it next to fairway or set FAIRWAY_DAEMON",
                   tried);
}

int fw_cli_connect(const char *path, fw_cli_conn *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->next_id = 1;
    /* Replies can be much larger than requests (expand, rankings). */
    fw_proto_lines_init(&c->lines, FW_PROTO_REPLY_LINE_MAX);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return fw_errf(err, errlen, -ENAMETOOLONG,
                       "socket path '%s' is longer than %zu bytes; choose a shorter --socket",
                       path, sizeof sa.sun_path - 1);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return fw_errf(err, errlen, -errno, "cannot create a socket: %s", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        return fw_errf(err, errlen, -e, "no fairwayd answers on %s: %s", path, strerror(e));
    }
    c->fd = fd;
    return 0;
}

void fw_cli_close(fw_cli_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    fw_proto_lines_release(&c->lines);
    cJSON_Delete(c->rpc_data);
    c->rpc_data = NULL;
}

static int mkdirs(const char *dir)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s", dir) >= sizeof tmp)
        return -ENAMETOOLONG;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return -errno;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* The last lines of the daemon log, so a failed start shows its reason without another command. */
static void log_tail(const char *log, char *out, size_t len)
{
    out[0] = 0;
    char *text = NULL;
    size_t n = 0;
    if (fw_read_file(log, &text, &n, NULL, 0) != 0 || !text)
        return;
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = 0;
    size_t start = n;
    int lines = 0;
    while (start > 0 && lines < 5) {
        start--;
        if (text[start] == '\n')
            lines++;
    }
    if (text[start] == '\n')
        start++;
    if (n - start > len - 1)
        start = n - (len - 1);
    snprintf(out, len, "%s", text + start);
    free(text);
}

int fw_cli_start_daemon(const fw_cli_global *g, int *pid_out, char *err, size_t errlen)
{
    char daemon[PATH_MAX], log[PATH_MAX];
    int rc = fw_cli_find_daemon(g, daemon, sizeof daemon, err, errlen);
    if (rc < 0)
        return rc;
    rc = fw_cli_log_path(g, log, sizeof log, err, errlen);
    if (rc < 0)
        return rc;
    char logdir[PATH_MAX];
    snprintf(logdir, sizeof logdir, "%s", log);
    char *slash = strrchr(logdir, '/');
    if (slash && slash != logdir) {
        *slash = 0;
        rc = mkdirs(logdir);
        if (rc < 0)
            return fw_errf(err, errlen, rc, "cannot create the log folder %s: %s", logdir, strerror(-rc));
    }
    int logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0)
        return fw_errf(err, errlen, -errno, "cannot open the daemon log %s: %s", log, strerror(errno));
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) {
        int e = errno;
        close(logfd);
        return fw_errf(err, errlen, -e, "cannot create a pipe: %s", strerror(e));
    }
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", ready[1]);

    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(logfd);
        close(ready[0]);
        close(ready[1]);
        return fw_errf(err, errlen, -e, "cannot fork to start fairwayd: %s", strerror(e));
    }
    if (pid == 0) {
        /* Child: its own session (no controlling terminal, no Ctrl-C from ours), stdin from
         * /dev/null, stdout and stderr to the log, and only the ready pipe's write end inherited. */
        setsid();
        signal(SIGPIPE, SIG_DFL);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, 0);
            if (nul != 0)
                close(nul);
        }
        dup2(logfd, 1);
        dup2(logfd, 2);
        int fl = fcntl(ready[1], F_GETFD);
        fcntl(ready[1], F_SETFD, fl & ~FD_CLOEXEC);
        char *const args[] = {daemon, "--socket", (char *)g->socket, "--ready-fd", fdarg, NULL};
        execv(daemon, args);
        dprintf(2, "fairway: cannot run %s: %s\n", daemon, strerror(errno));
        _exit(127);
    }
    close(logfd);
    close(ready[1]);

    /* fairwayd writes the socket path to the pipe and closes it once it listens; EOF with nothing
     * written means it exited (or closed the fd) without becoming ready. */
    char got[PATH_MAX + 2];
    size_t gl = 0;
    int timed_out = 0;
    for (;;) {
        struct pollfd pfd = {.fd = ready[0], .events = POLLIN};
        int pr = poll(&pfd, 1, READY_TIMEOUT_MS);
        if (pr < 0 && errno == EINTR && !fw_cli_interrupted)
            continue;
        if (pr <= 0) {
            timed_out = pr == 0;
            break;
        }
        ssize_t r = read(ready[0], got + gl, sizeof got - 1 - gl);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        gl += (size_t)r;
        if (gl >= sizeof got - 1)
            break;
    }
    close(ready[0]);
    got[gl] = 0;
    if (gl == 0 && fw_cli_interrupted)
        return fw_errf(err, errlen, -EINTR, "interrupted while fairwayd (pid %d) was starting; it may still "
                       "come up (log %s)", (int)pid, log);
    if (gl == 0) {
        char tail[600];
        int status = 0;
        /* EOF comes as the process closes its files on exit, a moment before it can be reaped:
         * wait for the exit on a pidfd, bounded, in case it closed the pipe and lives on. */
        int pfd = (int)syscall(SYS_pidfd_open, (int)pid, 0);
        if (pfd >= 0) {
            struct pollfd xp = {.fd = pfd, .events = POLLIN};
            while (poll(&xp, 1, 5000) < 0 && errno == EINTR)
                ;
            close(pfd);
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        log_tail(log, tail, sizeof tail);
        if (timed_out)
            return fw_errf(err, errlen, -ETIMEDOUT,
                           "fairwayd (pid %d) did not become ready within %d s; see its log %s%s%s",
                           (int)pid, READY_TIMEOUT_MS / 1000, log, tail[0] ? ":\n" : "", tail);
        if (w == pid && WIFEXITED(status))
            return fw_errf(err, errlen, -ECHILD,
                           "fairwayd exited with status %d before it was ready; see its log %s%s%s",
                           WEXITSTATUS(status), log, tail[0] ? ":\n" : "", tail);
        return fw_errf(err, errlen, -ECHILD,
                       "fairwayd (%s) closed its ready pipe without reporting ready; see its log %s%s%s",
                       daemon, log, tail[0] ? ":\n" : "", tail);
    }
    /* On stderr, so --json output stays one object; tests read the pid here to stop it. */
    fprintf(stderr, "fairway: started fairwayd (pid %d), log %s\n", (int)pid, log);
    if (pid_out)
        *pid_out = (int)pid;
    return 0;
}

int fw_cli_open(const fw_cli_global *g, fw_cli_conn *c, char *err, size_t errlen)
{
    char cerr[512];
    if (!g->socket[0]) {
        memset(c, 0, sizeof *c);
        c->fd = -1;
        return fw_errf(err, errlen, -EHOSTDOWN,
                       "no socket path: neither XDG_RUNTIME_DIR nor HOME is set; pass --socket PATH");
    }
    int rc = fw_cli_connect(g->socket, c, cerr, sizeof cerr);
    if (rc == 0)
        return 0;
    int absent = rc == -ENOENT || rc == -ECONNREFUSED;
    if (!absent)
        return fw_errf(err, errlen, -EHOSTDOWN, "%s", cerr);
    if (g->no_start)
        return fw_errf(err, errlen, -EHOSTDOWN,
                       "%s, and --no-start forbids starting one; start it with `fairwayd --socket %s`",
                       cerr, g->socket);
    char serr[1024];
    rc = fw_cli_start_daemon(g, NULL, serr, sizeof serr);
    if (rc < 0) {
        /* Another client may have started one at the same moment (ours then failed to bind). */
        if (fw_cli_connect(g->socket, c, cerr, sizeof cerr) == 0)
            return 0;
        return fw_errf(err, errlen, -EHOSTDOWN, "no fairwayd answers on %s and starting one failed: %s",
                       g->socket, serr);
    }
    rc = fw_cli_connect(g->socket, c, cerr, sizeof cerr);
    if (rc < 0)
        return fw_errf(err, errlen, -EHOSTDOWN, "fairwayd reported ready but %s", cerr);
    return 0;
}

static int fill(fw_cli_conn *c, char *err, size_t errlen)
{
    static char chunk[65536];
    for (;;) {
        struct pollfd pf[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = intr_pipe[0], .events = POLLIN}};
        if (fw_cli_interrupted)
            return fw_errf(err, errlen, -EINTR, "interrupted");
        int pr = poll(pf, intr_pipe[0] >= 0 ? 2 : 1, -1);
        if (pr < 0 && errno != EINTR)
            return fw_errf(err, errlen, -ECONNRESET, "waiting for fairwayd failed: %s", strerror(errno));
        if (pr <= 0 || (pf[1].revents & POLLIN) || !pf[0].revents)
            continue; /* the interrupted check above decides */
        ssize_t r = read(c->fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fw_errf(err, errlen, -ECONNRESET, "reading from fairwayd failed: %s", strerror(errno));
        if (r == 0)
            return fw_errf(err, errlen, -ECONNRESET, "fairwayd closed the connection");
        if (fw_proto_lines_feed(&c->lines, chunk, (size_t)r) < 0)
            return fw_errf(err, errlen, -ENOMEM, "out of memory reading the daemon's reply");
        return 0;
    }
}

int fw_cli_read_message(fw_cli_conn *c, cJSON **msg, char *err, size_t errlen)
{
    *msg = NULL;
    for (;;) {
        char *line;
        size_t len;
        int rc = fw_proto_lines_next(&c->lines, &line, &len);
        if (rc == -E2BIG)
            return fw_errf(err, errlen, -EPROTO, "fairwayd sent a line over %u MiB",
                           FW_PROTO_REPLY_LINE_MAX >> 20);
        if (rc > 0) {
            cJSON *j = NULL;
            size_t at;
            const char *why;
            fw_proto_parse(line, len, &j, &at, &why);
            if (!j || !cJSON_IsObject(j)) {
                cJSON_Delete(j);
                return fw_errf(err, errlen, -EPROTO, "fairwayd sent a line that is not a JSON object");
            }
            *msg = j;
            return 0;
        }
        rc = fill(c, err, errlen);
        if (rc < 0)
            return rc;
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int fw_cli_call(fw_cli_conn *c, const char *method, cJSON *params, cJSON **result,
                fw_cli_notify_fn fn, void *ctx, char *err, size_t errlen)
{
    *result = NULL;
    c->rpc_code = 0;
    cJSON_Delete(c->rpc_data);
    c->rpc_data = NULL;
    int id = c->next_id++;
    cJSON *req = fw_proto_request(id, method, params);
    size_t n;
    char *line = fw_proto_print_exact(req, &n);   /* a spec's source goes byte for byte */
    cJSON_Delete(req);
    if (!line)
        return fw_errf(err, errlen, -ENOMEM, "out of memory building the request");
    int rc = write_all(c->fd, line, n);
    free(line);
    if (rc < 0)
        return fw_errf(err, errlen, -ECONNRESET, "sending '%s' to fairwayd failed: %s", method, strerror(-rc));

    for (;;) {
        cJSON *msg;
        rc = fw_cli_read_message(c, &msg, err, errlen);
        if (rc < 0)
            return rc;
        cJSON *mid = cJSON_GetObjectItemCaseSensitive(msg, "id");
        cJSON *mm = cJSON_GetObjectItemCaseSensitive(msg, "method");
        if (cJSON_IsString(mm) && (!mid || cJSON_IsNull(mid))) {
            int stop = fn ? fn(mm->valuestring, cJSON_GetObjectItemCaseSensitive(msg, "params"), ctx) : 0;
            cJSON_Delete(msg);
            (void)stop; /* a response is still owed to this call */
            continue;
        }
        cJSON *e = cJSON_GetObjectItemCaseSensitive(msg, "error");
        if (cJSON_IsObject(e)) {
            cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
            cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
            c->rpc_code = cJSON_IsNumber(code) ? code->valueint : -32603;
            c->rpc_data = cJSON_DetachItemFromObjectCaseSensitive(e, "data");
            fw_errf(err, errlen, -EREMOTEIO, "%s", cJSON_IsString(m) ? m->valuestring : "fairwayd returned an error without a message");
            cJSON_Delete(msg);
            return -EREMOTEIO;
        }
        if (!cJSON_IsNumber(mid) || mid->valueint != id) {
            cJSON_Delete(msg);
            continue; /* a stray reply to nothing we asked: skip it */
        }
        cJSON *r = cJSON_DetachItemFromObjectCaseSensitive(msg, "result");
        cJSON_Delete(msg);
        if (!r)
            return fw_errf(err, errlen, -EPROTO, "fairwayd's reply to '%s' has no result", method);
        *result = r;
        return 0;
    }
}

int fw_cli_exit_for(const fw_cli_conn *c, int rc)
{
    if (rc == -EINTR)
        return FW_CLI_EXIT_INTERRUPTED;
    if (rc == -EREMOTEIO) {
        if (c && (c->rpc_code == FW_CLI_RPC_NO_SUCH_JOB || c->rpc_code == FW_CLI_RPC_NOTHING_STORED))
            return FW_CLI_EXIT_NOTFOUND;
        return FW_CLI_EXIT_DAEMON;
    }
    return FW_CLI_EXIT_NODAEMON;
}
