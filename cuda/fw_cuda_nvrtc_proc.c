/* NVRTC in helper processes (fw_cuda.h, "compiler processes").
 *
 * Measured on an H200 host (16 cores, NVRTC 13.0; BENCHMARKS.md "Where the cold pool's time goes"):
 * NVRTC calls in one process do not scale past about 60 gemm variants a second however many threads
 * call it, while two processes of 8 threads each compile twice that. So each compile thread of the
 * pool (one fw_device each) hands its compiles to a child process of its own, which runs
 * fw_cuda_nvrtc_compile and sends the cubin back over a socket. A child that dies mid-compile (a
 * compiler crash) costs that variant a compile error, not the worker.
 *
 * Frames, both ways, native byte order (parent and child are the same binary):
 *   request: u32 magic, u32 lineinfo, u32 nmacros, u32 arch_len, u32 options_len, u64 source_len,
 *            then arch, options, nmacros x (u32 len, bytes), source
 *   reply:   u32 magic, i32 rc, u64 cubin_len, u64 log_len, then cubin, log
 */
#include "fw_cuda.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define REQ_MAGIC 0x46574e43u   /* "FWNC" */
#define REP_MAGIC 0x46574e52u   /* "FWNR" */
#define MAX_TEXT ((uint64_t)64 << 20)
#define MAX_MACROS 256u

extern char **environ;

static char server_exe[4096];

void fw_cuda_nvrtc_processes(const char *exe)
{
    if (exe && strlen(exe) < sizeof server_exe)
        strcpy(server_exe, exe);
    else
        server_exe[0] = '\0';
}

static int put_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -EPIPE;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int get_all(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -EPIPE;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int put_str(int fd, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : 0;
    int rc = put_all(fd, &n, sizeof n);
    return rc ? rc : put_all(fd, s, n);
}

/* A NUL-terminated malloc'd copy of the next n bytes. */
static char *get_text(int fd, uint64_t n)
{
    if (n > MAX_TEXT)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (s && get_all(fd, s, (size_t)n) < 0) {
        free(s);
        return NULL;
    }
    if (s)
        s[n] = '\0';
    return s;
}

/* ---- the child --------------------------------------------------------------------------------- */

typedef struct request {
    uint32_t lineinfo, nmacros;
    char *arch, *options, *source;
    char *macros[MAX_MACROS];
} request;

static void request_free(request *q)
{
    free(q->arch);
    free(q->options);
    free(q->source);
    for (uint32_t i = 0; i < q->nmacros && i < MAX_MACROS; i++)
        free(q->macros[i]);
    memset(q, 0, sizeof *q);
}

/* 1 with a request, 0 at a clean end of input, < 0 on a malformed frame. */
static int request_read(int fd, request *q)
{
    memset(q, 0, sizeof *q);
    uint32_t h[5];
    uint64_t slen;
    ssize_t r;
    do
        r = read(fd, h, 1);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (r < 0 || get_all(fd, (char *)h + 1, sizeof h - 1) < 0 || get_all(fd, &slen, sizeof slen) < 0 ||
        h[0] != REQ_MAGIC || h[2] > MAX_MACROS)
        return -EPROTO;
    q->lineinfo = h[1];
    if (!(q->arch = get_text(fd, h[3])) || !(q->options = get_text(fd, h[4])))
        return -EPROTO;
    for (uint32_t i = 0; i < h[2]; i++) {
        uint32_t n;
        if (get_all(fd, &n, sizeof n) < 0 || !(q->macros[i] = get_text(fd, n)))
            return -EPROTO;
        q->nmacros = i + 1;
    }
    return (q->source = get_text(fd, slen)) ? 1 : -EPROTO;
}

int fw_cuda_nvrtc_server(int fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);   /* the worker's death ends its compilers */
    if (getppid() == 1)
        return 1;
    const char *abort_on = getenv("FAIRWAY_NVRTC_SERVER_ABORT_ON");   /* fault hook for the tests */
    for (;;) {
        request q;
        int rc = request_read(fd, &q);
        if (rc <= 0) {
            request_free(&q);
            return rc == 0 ? 0 : 1;
        }
        if (abort_on && *abort_on && strstr(q.source, abort_on))
            abort();
        void *bin = NULL;
        size_t len = 0;
        char *log = NULL;
        rc = fw_cuda_nvrtc_compile(q.source, (const char *const *)q.macros, q.nmacros,
                                   *q.options ? q.options : NULL, q.arch, (int)q.lineinfo, &bin, &len, &log);
        request_free(&q);
        uint32_t h[2] = {REP_MAGIC, (uint32_t)rc};
        uint64_t lens[2] = {len, log ? strlen(log) : 0};
        int w = put_all(fd, h, sizeof h);
        if (!w)
            w = put_all(fd, lens, sizeof lens);
        if (!w)
            w = put_all(fd, bin, len);
        if (!w)
            w = put_all(fd, log, (size_t)lens[1]);
        free(bin);
        free(log);
        if (w)
            return 1;
    }
}

/* ---- the parent -------------------------------------------------------------------------------- */

struct fw_nvrtc_proc {
    pid_t pid;
    int fd;
    int broken;    /* could not start one: compile in this process from now on */
};

static void proc_stop(fw_nvrtc_proc *p, int *status)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    if (p->pid > 0) {
        int st = 0;
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (status)
            *status = st;
    }
    p->pid = 0;
}

static int proc_start(fw_nvrtc_proc *p)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
    char *argv[] = {server_exe, "--nvrtc-server", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, server_exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (rc) {
        close(sv[0]);
        return -rc;
    }
    p->pid = pid;
    p->fd = sv[0];
    return 0;
}

static int send_request(int fd, const char *source, const char *const *macros, size_t nmacros,
                        const char *options, const char *arch, int lineinfo)
{
    uint32_t h[5] = {REQ_MAGIC, (uint32_t)lineinfo, (uint32_t)nmacros, (uint32_t)strlen(arch),
                     options ? (uint32_t)strlen(options) : 0};
    uint64_t slen = strlen(source);
    int rc = put_all(fd, h, sizeof h);
    if (!rc)
        rc = put_all(fd, &slen, sizeof slen);
    if (!rc)
        rc = put_all(fd, arch, h[3]);
    if (!rc)
        rc = put_all(fd, options, h[4]);
    for (size_t i = 0; !rc && i < nmacros; i++)
        rc = put_str(fd, macros[i]);
    return rc ? rc : put_all(fd, source, (size_t)slen);
}

static int get_reply(int fd, void **cubin, size_t *cubin_len, char **log)
{
    uint32_t h[2];
    uint64_t lens[2];
    if (get_all(fd, h, sizeof h) < 0 || get_all(fd, lens, sizeof lens) < 0 || h[0] != REP_MAGIC ||
        lens[0] > ((uint64_t)1 << 30) || lens[1] > MAX_TEXT)
        return -EPIPE;
    void *bin = malloc(lens[0] ? (size_t)lens[0] : 1);
    char *text = get_text(fd, lens[1]);
    if (!bin || !text || get_all(fd, bin, (size_t)lens[0]) < 0) {
        free(bin);
        free(text);
        return -EPIPE;
    }
    if ((int32_t)h[1] == 0) {
        *cubin = bin;
        *cubin_len = (size_t)lens[0];
    } else {
        free(bin);
    }
    if (log)
        *log = text;
    else
        free(text);
    return (int32_t)h[1];
}

int fw_cuda_nvrtc_proc_compile(fw_nvrtc_proc **pp, const char *source, const char *const *macros,
                               size_t nmacros, const char *options, const char *arch, int lineinfo,
                               void **cubin, size_t *cubin_len, char **log)
{
    *cubin = NULL;
    *cubin_len = 0;
    if (log)
        *log = NULL;
    if (!*pp && server_exe[0]) {
        *pp = calloc(1, sizeof **pp);
        if (*pp)
            (*pp)->fd = -1;
    }
    fw_nvrtc_proc *p = *pp;
    if (!p || p->broken || !source || !arch || nmacros > MAX_MACROS)
        return fw_cuda_nvrtc_compile(source, macros, nmacros, options, arch, lineinfo, cubin, cubin_len, log);
    int status = 0;
    /* A child found dead before it answered gets one fresh start (it may have died idle); dying
     * twice on one program is that program's compile error. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (p->pid <= 0 && proc_start(p) < 0) {
            p->broken = 1;
            return fw_cuda_nvrtc_compile(source, macros, nmacros, options, arch, lineinfo, cubin, cubin_len, log);
        }
        if (send_request(p->fd, source, macros, nmacros, options, arch, lineinfo) == 0) {
            int rc = get_reply(p->fd, cubin, cubin_len, log);
            if (rc != -EPIPE)
                return rc;
        }
        proc_stop(p, &status);
    }
    if (log) {
        char msg[4400];
        if (WIFSIGNALED(status))
            snprintf(msg, sizeof msg, "the NVRTC compiler process died (signal %d, %s) compiling this "
                     "program, twice", WTERMSIG(status), strsignal(WTERMSIG(status)));
        else
            snprintf(msg, sizeof msg, "the NVRTC compiler process (%s --nvrtc-server) exited with status %d "
                     "before answering, twice", server_exe, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        *log = strdup(msg);
    }
    return -EIO;
}

int fw_cuda_nvrtc_proc_pid(const fw_nvrtc_proc *p)
{
    return p ? (int)p->pid : 0;
}

void fw_cuda_nvrtc_proc_free(fw_nvrtc_proc *p)
{
    if (!p)
        return;
    proc_stop(p, NULL);
    free(p);
}
