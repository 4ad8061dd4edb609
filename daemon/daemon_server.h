/* daemon_server.h - the functions of daemon/server.c that other daemon files call (the listening
 * socket, the clients, replies and dispatch). Private to daemon/
 * (tests/layers/check_daemon_headers.py); the structs they take are in daemon_int.h. */
#ifndef FW_DAEMON_SERVER_H
#define FW_DAEMON_SERVER_H

#include "daemon_int.h"

int fw_daemon_listen(fw_daemon *d, char *err, size_t errlen);
/* Stop: no new connections or variants, workers killed (the variant in flight is dropped), clients
 * closed; uv_run() then returns once every handle is closed, except the signal handlers, which
 * fw_daemon_close_signals() closes last. */
void fw_daemon_stop(fw_daemon *d);
void fw_daemon_close_signals(fw_daemon *d);
/* The libuv read-buffer callback of the client sockets and the worker pipes: a fresh buffer of at
 * most 64 KiB (len 0 when out of memory); the read callback frees it. */
void fw_daemon_read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
/* Send one JSON object as a line (takes no ownership). */
void fw_daemon_client_send(fw_daemon_client *c, const cJSON *msg);
/* Reply with a result or error already printed: member "result" or "error", json its value's text
 * (fw_proto_print's, without the newline), wrapped as fw_proto_print would the whole reply. */
void fw_daemon_reply_text(fw_daemon_req *req, const char *member, const char *json, size_t len);
/* Reply helpers; no-ops when req->client is NULL or req->id is NULL. result is consumed. */
void fw_daemon_reply(fw_daemon_req *req, cJSON *result);
void fw_daemon_reply_error(fw_daemon_req *req, int code, cJSON *data, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void fw_daemon_dispatch(fw_daemon *d, fw_daemon_req *req);
void fw_daemon_req_free(fw_daemon_req *req);

#endif
