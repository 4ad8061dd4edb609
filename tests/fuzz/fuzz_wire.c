/* fuzz_wire.c - the client socket's input path, as fairwayd runs it (daemon/server.c): bytes fed to
 * the line reader in chunks, each line parsed strictly and checked as a JSON-RPC request, and the
 * reply that echoes its id and method serialised.
 *
 * Input: byte 0 picks the chunk size (1..128) and the line limit (64 bytes or FW_PROTO_LINE_MAX); the
 * rest is the stream. Checks beyond "no crash": a line never holds '\n' nor exceeds the limit and is
 * NUL-terminated; every serialised message is valid UTF-8, ends in one '\n' and parses back strictly
 * as an object. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fw_proto.h"
#include "fw_util.h"

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void check_printed(const cJSON *msg)
{
    size_t n;
    char *s = fw_proto_print(msg, &n);
    if (!s)
        return;
    CHECK(n >= 1 && s[n - 1] == '\n' && s[n] == '\0');
    CHECK(memchr(s, '\n', n - 1) == NULL);
    CHECK(fw_utf8_valid(s, n - 1));
    cJSON *back;
    size_t at;
    const char *why;
    CHECK(fw_proto_parse(s, n - 1, &back, &at, &why) == 0);
    CHECK(cJSON_IsObject(back));
    cJSON_Delete(back);
    free(s);
}

static void one_line(const char *line, size_t len)
{
    if (fw_proto_blank(line, len))
        return;
    cJSON *msg;
    size_t at;
    const char *why;
    if (fw_proto_parse(line, len, &msg, &at, &why) != 0) {
        CHECK(msg == NULL && at <= len && why);
        return;
    }
    CHECK(msg);
    const cJSON *id, *params, *reply_id;
    const char *method, *bad;
    int code = fw_proto_request_check(msg, 32, &id, &method, &params, &reply_id, &bad);
    cJSON *out;
    if (code == 0) {
        CHECK(method && *method && strlen(method) < 32);
        CHECK(!params || cJSON_IsObject(params));
        /* what an unknown-method reply does: echo the method, cut at a character */
        char m[160];
        snprintf(m, sizeof(m), "unknown method '%.*s'", (int)fw_utf8_cut(method, strlen(method)), method);
        out = fw_proto_error(id, FW_RPC_METHOD_NOT_FOUND, m, params ? cJSON_Duplicate(params, 1) : NULL);
    } else {
        CHECK(code == FW_RPC_INVALID_REQUEST || code == FW_RPC_INVALID_PARAMS || code == FW_RPC_METHOD_NOT_FOUND);
        CHECK(bad || code == FW_RPC_METHOD_NOT_FOUND);
        out = fw_proto_error(reply_id, code, bad ? bad : "unknown method", NULL);
    }
    check_printed(out);
    cJSON_Delete(out);
    /* the request itself, re-serialised (replies echo parts of it) */
    if (cJSON_IsObject(msg))
        check_printed(msg);
    cJSON_Delete(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t chunk = (size_t)(data[0] & 0x7f) + 1;
    size_t max = (data[0] & 0x80) ? 64 : FW_PROTO_LINE_MAX;
    data++;
    size--;
    fw_proto_lines lb;
    fw_proto_lines_init(&lb, max);
    int done = 0;
    for (size_t off = 0; off < size && !done; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        CHECK(fw_proto_lines_feed(&lb, (const char *)data + off, n) == 0);
        for (;;) {
            char *line;
            size_t len;
            int rc = fw_proto_lines_next(&lb, &line, &len);
            if (rc == 0)
                break;
            if (rc < 0) {   /* the daemon answers -32003 and closes the connection */
                CHECK(rc == -E2BIG);
                done = 1;
                break;
            }
            CHECK(len <= max && line[len] == '\0' && memchr(line, '\n', len) == NULL);
            one_line(line, len);
        }
    }
    fw_proto_lines_release(&lb);
    return 0;
}
