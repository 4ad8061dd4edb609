/* server.c - the Unix socket, client connections, line framing and JSON-RPC dispatch. */
#include "daemon_server.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fw_util.h"

#include "daemon_best_cache.h"
#include "daemon_jobs.h"
#include "daemon_main.h"
#include "daemon_methods.h"
#include "daemon_plan.h"
#include "daemon_shutdown.h"
#include "daemon_worker.h"

typedef struct write_req {
    uv_write_t req;
    uv_buf_t buf;
} write_req;

static void on_write(uv_write_t *req, int status)
{
    (void)status;   /* a client that went away is noticed by its read callback */
    write_req *wr = (write_req *)req;
    free(wr->buf.base);
    free(wr);
}

static void on_client_closed(uv_handle_t *h)
{
    fw_daemon_client *c = h->data;
    fw_proto_lines_release(&c->lb);
    free(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    uv_close((uv_handle_t *)req->handle, on_client_closed);
    free(req);
}

static void client_unlink(fw_daemon_client *c)
{
    fw_daemon *d = c->d;
    uv_read_stop((uv_stream_t *)&c->pipe);
    if (c->prev || c->next || d->clients == c) {
        fw_daemon_client_gone(d, c);
        fw_daemon_plans_client_gone(d, c);
        if (c->prev)
            c->prev->next = c->next;
        else
            d->clients = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->prev = c->next = NULL;
        d->nclients--;
    }
}

/* Unlink the client from everything that could write to it, then close once queued replies (an
 * error that explains why, say) have been flushed. */
static void client_close(fw_daemon_client *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    client_unlink(c);
    uv_shutdown_t *sr = malloc(sizeof(*sr));
    if (!sr || uv_shutdown(sr, (uv_stream_t *)&c->pipe, on_shutdown) != 0) {
        free(sr);
        uv_close((uv_handle_t *)&c->pipe, on_client_closed);
    }
}

/* Close at once, discarding the replies it has not read: a shutdown would wait for a reader that
 * never comes, and keep them. */
static void client_drop(fw_daemon_client *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    client_unlink(c);
    uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

static size_t queued(fw_daemon_client *c)
{
    return uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

/* The replies all clients have not read, together, stay under --reply-queue-max (issue 15 item 3):
 * past it the client holding the most is dropped first, with a log line, until they fit. */
static void bound_reply_queues(fw_daemon *d)
{
    for (;;) {
        size_t total = 0, most = 0;
        fw_daemon_client *worst = NULL;
        for (fw_daemon_client *c = d->clients; c; c = c->next) {
            size_t q = queued(c);
            total += q;
            if (q > most) {
                most = q;
                worst = c;
            }
        }
        if (total <= d->opt.reply_queue_max || !worst)
            return;
        fw_daemon_log(d, "dropping the client holding the most unread replies (%zu bytes): all clients together "
                      "hold %zu bytes, over the limit of %zu (--reply-queue-max)", most, total,
                      d->opt.reply_queue_max);
        client_drop(worst);
    }
}

/* Send a line already printed (valid UTF-8 JSON ending in '\n'; buf is taken and freed). */
static void fw_daemon_client_send_line(fw_daemon_client *c, char *buf, size_t n);

void fw_daemon_client_send(fw_daemon_client *c, const cJSON *msg)
{
    if (!c || c->closing)
        return;
    size_t n;
    char *buf = fw_proto_print(msg, &n);
    if (!buf) {
        client_close(c);
        return;
    }
    fw_daemon_client_send_line(c, buf, n);
}

static void fw_daemon_client_send_line(fw_daemon_client *c, char *buf, size_t n)
{
    if (!c || c->closing) {
        free(buf);
        return;
    }
    write_req *wr = malloc(sizeof(*wr));
    if (!wr) {
        free(buf);
        client_close(c);
        return;
    }
    wr->buf = uv_buf_init(buf, (unsigned)n);
    if (uv_write(&wr->req, (uv_stream_t *)&c->pipe, &wr->buf, 1, on_write) != 0) {
        free(buf);
        free(wr);
        client_close(c);
        return;
    }
    /* A watcher that stops reading must not make the daemon hold its notifications forever. */
    size_t q = queued(c);
    if (q > FW_DAEMON_WRITE_QUEUE_MAX) {
        fw_daemon_log(c->d, "dropping a client that has not read %zu bytes of replies (one client may hold "
                      "%u)", q, (unsigned)FW_DAEMON_WRITE_QUEUE_MAX);
        client_drop(c);
    } else if (q >= FW_DAEMON_WRITE_QUEUE_CHECK) {
        bound_reply_queues(c->d);
    }
}

static void send_error(fw_daemon_client *c, const cJSON *id, int code, cJSON *data, const char *msg)
{
    cJSON *o = fw_proto_error(id, code, msg, data);
    fw_daemon_client_send(c, o);
    cJSON_Delete(o);
}

void fw_daemon_reply(fw_daemon_req *req, cJSON *result)
{
    if (!req->client || !req->id) {
        cJSON_Delete(result);
        return;
    }
    cJSON *o = fw_proto_result(req->id, result);
    fw_daemon_client_send(req->client, o);
    cJSON_Delete(o);
}

void fw_daemon_reply_text(fw_daemon_req *req, const char *member, const char *json, size_t len)
{
    if (!req->client || !req->id)
        return;
    size_t idlen;
    char *id = fw_proto_print(req->id, &idlen);   /* valid UTF-8, with a newline to drop */
    size_t mlen = strlen(member), n = 0;
    char *line = id ? malloc(32 + idlen + mlen + len) : NULL;
    if (!line) {
        free(id);
        fw_daemon_reply_error(req, FW_RPC_INTERNAL_ERROR, NULL, "out of memory");
        return;
    }
    /* the member order of fw_proto_print: jsonrpc, id, result|error */
    n += (size_t)sprintf(line, "{\"jsonrpc\":\"2.0\",\"id\":");
    memcpy(line + n, id, idlen - 1);
    n += idlen - 1;
    n += (size_t)sprintf(line + n, ",\"%s\":", member);
    memcpy(line + n, json, len);
    n += len;
    line[n++] = '}';
    line[n++] = '\n';
    free(id);
    fw_daemon_client_send_line(req->client, line, n);
}

void fw_daemon_reply_error(fw_daemon_req *req, int code, cJSON *data, const char *fmt, ...)
{
    if (!req->client || !req->id) {
        cJSON_Delete(data);
        return;
    }
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n >= sizeof(msg))
        msg[fw_utf8_cut(msg, sizeof(msg) - 1)] = '\0';   /* cut at a character, not inside one */
    send_error(req->client, req->id, code, data, msg);
}

void fw_daemon_req_free(fw_daemon_req *req)
{
    if (!req)
        return;
    cJSON_Delete(req->id);
    cJSON_Delete(req->params);
    free(req);
}

void fw_daemon_dispatch(fw_daemon *d, fw_daemon_req *req)
{
    if (d->stopping || fw_daemon_drain_refuses(d, req)) {
        fw_daemon_reply_error(req, FW_RPC_SHUTTING_DOWN, NULL,
                              "fairwayd is shutting down%s; retry once it is started again",
                              d->stopping ? "" : " (`fairway shutdown`: the variants in flight are being finished)");
        return;
    }
    fw_daemon_method_fn fn = fw_daemon_method_find(req->method);
    if (!fn) {
        fw_daemon_reply_error(req, FW_RPC_METHOD_NOT_FOUND, NULL, "unknown method '%s' (known: %s)",
                              req->method, fw_daemon_method_names());
        return;
    }
    fn(d, req);
}

static void handle_line(fw_daemon_client *c, const char *line, size_t len)
{
    if (fw_proto_blank(line, len))
        return;
    cJSON *msg;
    size_t off;
    const char *why;
    if (fw_proto_parse(line, len, &msg, &off, &why) < 0) {
        char m[256];
        snprintf(m, sizeof(m),
                 "the line is not valid JSON (%s at byte %zu); send one JSON-RPC 2.0 object per line",
                 why, off);
        send_error(c, NULL, FW_RPC_PARSE_ERROR, NULL, m);
        return;
    }
    const cJSON *id, *params, *reply_id;
    const char *method, *bad;
    int code = fw_proto_request_check(msg, sizeof(((fw_daemon_req *)0)->method), &id, &method, &params,
                                      &reply_id, &bad);
    if (code == FW_RPC_METHOD_NOT_FOUND) {
        const char *mv = cJSON_GetObjectItemCaseSensitive(msg, "method")->valuestring;
        size_t ml = strlen(mv);
        char m[160];
        snprintf(m, sizeof(m), "unknown method '%.*s...' (known: %s)", (int)fw_utf8_cut(mv, ml < 40 ? ml : 40),
                 mv, fw_daemon_method_names());
        send_error(c, reply_id, code, NULL, m);
    } else if (code != 0) {
        send_error(c, reply_id, code, NULL, bad);
    } else {
        fw_daemon_req req = {.client = c};
        req.id = id ? cJSON_Duplicate(id, 1) : NULL;
        snprintf(req.method, sizeof(req.method), "%s", method);
        req.params = params ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
        fw_daemon_dispatch(c->d, &req);
        cJSON_Delete(req.id);
        cJSON_Delete(req.params);
    }
    cJSON_Delete(msg);
}

void fw_daemon_read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    if (suggested > 65536)
        suggested = 65536;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    fw_daemon_client *c = s->data;
    if (nread < 0) {
        free(buf->base);
        client_close(c);
        return;
    }
    if (nread > 0 && fw_proto_lines_feed(&c->lb, buf->base, (size_t)nread) < 0) {
        free(buf->base);
        client_close(c);
        return;
    }
    free(buf->base);
    for (;;) {
        if (c->closing)
            return;
        char *line;
        size_t len;
        int rc = fw_proto_lines_next(&c->lb, &line, &len);
        if (rc == 0)
            return;
        if (rc < 0) {
            cJSON *data = cJSON_CreateObject();
            cJSON_AddNumberToObject(data, "limit", FW_DAEMON_LINE_MAX);
            send_error(c, NULL, FW_RPC_LINE_TOO_LONG, data,
                       "request line longer than 1 MiB (1048576 bytes); the connection is closed. "
                       "Send smaller requests (a spec with a kernel source of its own may be at most that size)");
            client_close(c);
            return;
        }
        handle_line(c, line, len);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    fw_daemon *d = server->data;
    if (status < 0) {
        fw_daemon_log(d, "accept failed: %s", uv_strerror(status));
        return;
    }
    fw_daemon_client *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->d = d;
    fw_proto_lines_init(&c->lb, FW_DAEMON_LINE_MAX);
    uv_pipe_init(d->loop, &c->pipe, 0);
    c->pipe.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->pipe) != 0) {
        uv_close((uv_handle_t *)&c->pipe, on_client_closed);
        return;
    }
    if (d->nclients >= d->opt.max_clients) {
        cJSON *data = cJSON_CreateObject();
        cJSON_AddNumberToObject(data, "limit", d->opt.max_clients);
        char m[256];
        snprintf(m, sizeof(m),
                 "too many connections: fairwayd serves at most %d clients at once (--max-clients); "
                 "close idle ones or retry later", d->opt.max_clients);
        send_error(c, NULL, FW_RPC_TOO_MANY_CLIENTS, data, m);
        client_close(c);
        return;
    }
    c->next = d->clients;
    if (d->clients)
        d->clients->prev = c;
    d->clients = c;
    d->nclients++;
    uv_read_start((uv_stream_t *)&c->pipe, fw_daemon_read_alloc, on_client_read);
}

static void on_signal(uv_signal_t *s, int signum)
{
    fw_daemon *d = s->data;
    fw_daemon_log(d, "received %s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    fw_daemon_stop(d);
}

/* Is another daemon answering on path? 1 yes, 0 no (stale or absent), < 0 error. */
static int socket_alive(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int e = errno;
    close(fd);
    if (rc == 0)
        return 1;
    return e == ECONNREFUSED || e == ENOENT ? 0 : -e;
}

int fw_daemon_listen(fw_daemon *d, char *err, size_t errlen)
{
    const char *path = d->socket_path;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return fw_errf(err, errlen, -EEXIST,
                           "'%s' exists and is not a socket; remove it or pass another --socket", path);
        int alive = socket_alive(path);
        if (alive > 0)
            return fw_errf(err, errlen, -EADDRINUSE,
                           "another fairwayd is already answering on %s; stop it first or pass another --socket",
                           path);
        if (alive < 0)
            return fw_errf(err, errlen, alive, "cannot check the socket %s: %s", path, strerror(-alive));
        /* Nobody answers: a daemon died without removing it. */
        if (unlink(path) != 0 && errno != ENOENT)
            return fw_errf(err, errlen, -errno, "cannot remove the stale socket %s: %s", path, strerror(errno));
    }
    uv_pipe_init(d->loop, &d->listener, 0);
    d->listener.data = d;
    d->listening = 1;
    /* The umask makes the socket 0600 from the moment it exists; chmod below only confirms it. */
    mode_t old = umask(0177);
    int rc = uv_pipe_bind(&d->listener, path);
    umask(old);
    if (rc == 0 && chmod(path, 0600) != 0)
        rc = -errno;
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&d->listener, 511, on_connection);
    if (rc != 0) {
        uv_close((uv_handle_t *)&d->listener, NULL);
        d->listening = 0;
        return fw_errf(err, errlen, rc, "cannot listen on %s: %s", path, uv_strerror(rc));
    }
    uv_signal_init(d->loop, &d->sigterm);
    uv_signal_init(d->loop, &d->sigint);
    d->sigterm.data = d->sigint.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    d->have_signals = 1;
    return 0;
}

void fw_daemon_close_signals(fw_daemon *d)
{
    if (!d->have_signals)
        return;
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    d->have_signals = 0;
}

void fw_daemon_stop(fw_daemon *d)
{
    if (d->stopping)
        return;
    d->stopping = 1;
    if (d->listening) {
        uv_close((uv_handle_t *)&d->listener, NULL);
        unlink(d->socket_path);
        /* The handlers stay installed (unreferenced, so the loop can end) until main closes them: a
         * second SIGTERM while workers are being reaped must not kill the daemon mid-close. */
        uv_unref((uv_handle_t *)&d->sigterm);
        uv_unref((uv_handle_t *)&d->sigint);
        d->listening = 0;
    }
    while (d->clients)
        client_close(d->clients);
    fw_daemon_plans_stop(d);
    fw_daemon_best_cache_free(d);
    fw_daemon_devices_stop(d);
    fw_daemon_jobs_free(d);
}
