/* fw_proto.h - the wire (DESIGN.md sections 1, 2 and 9; docs/protocol.md, docs/worker-protocol.md).
 *
 * One framing and one envelope for every fairway process: the daemon's client socket, the pipes
 * between the daemon and its workers, and the CLI.
 *
 * Framing: one JSON text per '\n'-terminated line. A '\r' right before the '\n' is dropped (and does
 * not count towards the limit), so "\r\n" works. A line longer than its reader's limit is one error
 * (-E2BIG from fw_proto_lines_next) after which the stream cannot be resynchronised. A request line
 * is at most FW_PROTO_LINE_MAX bytes; a reader of replies (the CLI; the daemon reading a worker, the
 * worker reading the daemon's load request with its list of stored seqs) takes a larger limit
 * because a reply's size follows the request's params (expand's limit, all samples), not the line
 * limit.
 *
 * Parsing (fw_proto_parse): strict, as a JSON-RPC server should be. A NUL byte inside a line, or
 * anything but whitespace after the JSON value, is a parse error (FW_RPC_PARSE_ERROR) with the byte
 * offset; cJSON alone would silently truncate at the NUL or ignore the garbage.
 *
 * Envelope: every line written goes through fw_proto_print, which emits valid UTF-8 whatever the
 * strings hold (an invalid sequence becomes U+FFFD), so a reply that echoes bad bytes is still
 * RFC 8259 text. Member order is fixed: jsonrpc, id, result|error, or jsonrpc, [id,] method, params.
 */
#ifndef FW_PROTO_H
#define FW_PROTO_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#define FW_PROTO_LINE_MAX (1024 * 1024)            /* a request line, without "\r\n" (documented) */
#define FW_PROTO_PIPE_LINE_MAX (64u << 20)         /* a line between the daemon and a worker */
#define FW_PROTO_REPLY_LINE_MAX (256u << 20)       /* a reply line read by the CLI */
#define FW_PROTO_LINES_KEEP (64u << 10)            /* a line reader's buffer once long lines are consumed */

/* JSON-RPC error codes (docs/protocol.md). */
#define FW_RPC_PARSE_ERROR -32700
#define FW_RPC_INVALID_REQUEST -32600
#define FW_RPC_METHOD_NOT_FOUND -32601
#define FW_RPC_INVALID_PARAMS -32602
#define FW_RPC_INTERNAL_ERROR -32603
#define FW_RPC_NO_SUCH_JOB -32001
#define FW_RPC_NOTHING_STORED -32002
#define FW_RPC_LINE_TOO_LONG -32003
#define FW_RPC_TOO_MANY_CLIENTS -32004
#define FW_RPC_DEVICE_UNAVAILABLE -32005
#define FW_RPC_SHUTTING_DOWN -32006

/* ---- line reader (proto/lines.c): pure, unit-tested ---------------------------------------------- */

typedef struct fw_proto_lines {
    char *data;
    size_t len, cap;
    size_t pos;      /* start of the first unconsumed byte */
    size_t scan;     /* bytes after pos already known to hold no '\n' */
    size_t max;
} fw_proto_lines;

void fw_proto_lines_init(fw_proto_lines *lb, size_t max);
void fw_proto_lines_release(fw_proto_lines *lb);
/* Append bytes: 0 or -ENOMEM. */
int fw_proto_lines_feed(fw_proto_lines *lb, const char *p, size_t n);
/* 1: *line points at the next line (NUL-terminated, "\r\n" or "\n" removed, valid until the next
 * feed), *len its length (it may hold NUL bytes: fw_proto_parse refuses those); 0: no complete line
 * yet; -E2BIG: a line (complete or still arriving) is longer than max. */
int fw_proto_lines_next(fw_proto_lines *lb, char **line, size_t *len);
/* Read one line from fd into the reader (blocking; EINTR retried). 1 line, 0 end of stream (a last
 * unterminated line is returned as a line first), -E2BIG, or -errno of read. */
int fw_proto_lines_read_fd(fw_proto_lines *lb, int fd, char **line, size_t *len);

/* ---- parsing and envelopes (proto/envelope.c) ------------------------------------------------ */

/* 1 when the line holds only spaces, tabs and '\r' (such lines are skipped). */
int fw_proto_blank(const char *line, size_t len);
/* Parse one line strictly. 0 and *out, or FW_RPC_PARSE_ERROR with *at the byte offset of the
 * problem and *why a short phrase ("error", "a NUL byte", "trailing data"). */
int fw_proto_parse(const char *line, size_t len, cJSON **out, size_t *at, const char **why);

/* Check that a parsed line is a JSON-RPC 2.0 request (docs/protocol.md): an object with "jsonrpc":
 * "2.0", a non-empty string "method" shorter than method_max bytes, an "id" that is a number, a
 * string, null or absent, and "params" an object, null or absent. 0 with *id, *method and *params
 * set (each may be NULL when absent; *params NULL also when null); otherwise the error code with *why
 * the sentence to send and *reply_id the id the error reply may carry (NULL: null). A method of
 * method_max bytes or more is FW_RPC_METHOD_NOT_FOUND with *why NULL (the caller names the known
 * methods). */
int fw_proto_request_check(const cJSON *msg, size_t method_max, const cJSON **id, const char **method,
                           const cJSON **params, const cJSON **reply_id, const char **why);

/* Envelopes. Each consumes its cJSON arguments (result, params, data); id is copied (NULL -> null). */
cJSON *fw_proto_result(const cJSON *id, cJSON *result);          /* result NULL -> {} */
cJSON *fw_proto_error(const cJSON *id, int code, const char *message, cJSON *data);
cJSON *fw_proto_notification(const char *method, cJSON *params);
cJSON *fw_proto_request(double id, const char *method, cJSON *params);

/* Serialise msg as one line: malloc'd, valid UTF-8, ending in '\n' (and NUL-terminated after it);
 * *len counts the '\n'. NULL when out of memory. */
char *fw_proto_print(const cJSON *msg, size_t *len);
/* The same without the UTF-8 repair, for requests (the CLI's to the daemon, the daemon's to its
 * worker): their params carry a user's kernel source, which must arrive byte for byte (its hash). */
char *fw_proto_print_exact(const cJSON *msg, size_t *len);
/* fw_proto_print to a stdio stream, then fflush. 0 or -EIO / -ENOMEM. */
int fw_proto_write(FILE *f, const cJSON *msg);

#endif
