/* best_load - `best` requests against a running fairwayd from many clients at once (issue 15 item 13).
 *
 *   build-x/benchmarks/best_load --socket PATH [--clients 100] [--seconds 5] [--pipeline 1]
 *                                [--family gemm] [--shape K=64,M=64,N=64] [--pid PID]
 *
 * Opens CLIENTS connections and keeps PIPELINE `best` requests in flight on each (closed loop: a new
 * request once a reply came), from one thread with epoll, for SECONDS. Prints the requests answered,
 * the requests per second, the latency percentiles (from a request's write to its reply's last
 * byte), and, with --pid (the daemon's), the daemon's CPU time per request from /proc/PID/stat and
 * the requests per second one core would serve at that cost. Every reply must be a result (an
 * error reply is counted and reported). benchmarks/best_load.sh sets up a store and runs it. Run by
 * hand, never as a timed test.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_PIPE 64

typedef struct conn {
    int fd;
    uint64_t sent_ns[MAX_PIPE];   /* ring of the in-flight requests' send times */
    int head, inflight;
    char buf[65536];
    size_t have;
} conn;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* utime + stime of a process, in seconds; -1 when it cannot be read. */
static double cpu_s(int pid)
{
    char path[64], line[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* fields after the command: state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int send_req(conn *c, const char *req, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(c->fd, req + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        off += (size_t)w;
    }
    c->sent_ns[(c->head + c->inflight) % MAX_PIPE] = now_ns();
    c->inflight++;
    return 0;
}

int main(int argc, char **argv)
{
    const char *sock = NULL, *family = "gemm", *shape = "K=64,M=64,N=64";
    int nclients = 100, pipeline = 1, pid = 0;
    double seconds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--socket")) sock = argv[i + 1];
        else if (!strcmp(argv[i], "--clients")) nclients = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--pipeline")) pipeline = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--family")) family = argv[i + 1];
        else if (!strcmp(argv[i], "--shape")) shape = argv[i + 1];
        else if (!strcmp(argv[i], "--pid")) pid = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "best_load: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!sock || nclients < 1 || nclients > 10000 || pipeline < 1 || pipeline > MAX_PIPE || seconds <= 0) {
        fprintf(stderr, "usage: best_load --socket PATH [--clients 1..10000] [--seconds S] [--pipeline 1..%d] "
                "[--family F] [--shape KEY] [--pid PID]\n", MAX_PIPE);
        return 2;
    }
    char req[512];
    int rlen = snprintf(req, sizeof req, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"best\",\"params\":"
                        "{\"family\":\"%s\",\"shape\":\"%s\"}}\n", family, shape);
    int ep = epoll_create1(0);
    conn *cs = calloc((size_t)nclients, sizeof *cs);
    size_t cap = 1 << 20, nlat = 0;
    uint64_t *lat = malloc(cap * sizeof *lat);
    if (ep < 0 || !cs || !lat)
        return 1;
    for (int i = 0; i < nclients; i++) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
        cs[i].fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (cs[i].fd < 0 || connect(cs[i].fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            fprintf(stderr, "best_load: cannot connect client %d to %s: %s\n", i, sock, strerror(errno));
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev);
    }
    double cpu0 = pid ? cpu_s(pid) : -1;
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < nclients; i++)
        for (int k = 0; k < pipeline; k++)
            send_req(&cs[i], req, (size_t)rlen);
    long errors = 0, answered = 0;
    int stopping = 0, open = nclients;
    struct epoll_event evs[256];
    while (open > 0) {
        int n = epoll_wait(ep, evs, 256, 10000);
        if (n <= 0) {
            fprintf(stderr, "best_load: no reply for 10 s\n");
            return 1;
        }
        uint64_t t = now_ns();
        if (!stopping && t >= end)
            stopping = 1;
        for (int e = 0; e < n; e++) {
            conn *c = evs[e].data.ptr;
            ssize_t r = read(c->fd, c->buf + c->have, sizeof c->buf - c->have);
            if (r <= 0) {
                fprintf(stderr, "best_load: the daemon closed a connection\n");
                return 1;
            }
            c->have += (size_t)r;
            char *nl, *start = c->buf;
            while ((nl = memchr(start, '\n', c->have - (size_t)(start - c->buf)))) {
                if (!memmem(start, (size_t)(nl - start), "\"result\"", 8))
                    errors++;
                answered++;
                if (nlat == cap && (lat = realloc(lat, (cap *= 2) * sizeof *lat)) == NULL)
                    return 1;
                lat[nlat++] = t - c->sent_ns[c->head];
                c->head = (c->head + 1) % MAX_PIPE;
                c->inflight--;
                start = nl + 1;
                if (!stopping)
                    send_req(c, req, (size_t)rlen);
            }
            c->have -= (size_t)(start - c->buf);
            memmove(c->buf, start, c->have);
            if (stopping && c->inflight == 0 && c->fd >= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                open--;
            }
        }
    }
    double wall = (double)(now_ns() - t0) / 1e9;
    double cpu1 = pid ? cpu_s(pid) : -1;
    qsort(lat, nlat, sizeof *lat, cmp_u64);
    printf("clients %d, pipeline %d: %ld requests in %.2f s = %.0f requests/s; latency p50 %.3f ms, p99 %.3f ms, "
           "max %.3f ms; %ld error replies\n", nclients, pipeline, answered, wall, (double)answered / wall,
           (double)lat[nlat / 2] / 1e6, (double)lat[(size_t)((double)nlat * 0.99)] / 1e6,
           (double)lat[nlat - 1] / 1e6, errors);
    if (cpu0 >= 0 && cpu1 >= 0 && answered)
        printf("daemon CPU: %.2f s, %.1f us per request = %.0f requests/s on one core\n", cpu1 - cpu0,
               (cpu1 - cpu0) / (double)answered * 1e6, (double)answered / (cpu1 - cpu0));
    free(lat);
    free(cs);
    close(ep);
    return errors != 0;
}
