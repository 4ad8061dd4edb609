/* envelope.c - strict parsing of one line, the JSON-RPC 2.0 envelopes, and the one serialiser. */
#include "fw_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fw_util.h"

int fw_proto_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return 0;
    return 1;
}

int fw_proto_parse(const char *line, size_t len, cJSON **out, size_t *at, const char **why)
{
    *out = NULL;
    *at = 0;
    *why = "error";
    const char *nul = memchr(line, '\0', len);
    if (nul) {
        *at = (size_t)(nul - line);
        *why = "a NUL byte";
        return FW_RPC_PARSE_ERROR;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!j) {
        const char *e = cJSON_GetErrorPtr();
        *at = e && e >= line && e <= line + len ? (size_t)(e - line) : 0;
        return FW_RPC_PARSE_ERROR;
    }
    size_t off = end && end >= line && end <= line + len ? (size_t)(end - line) : len;
    while (off < len && (line[off] == ' ' || line[off] == '\t' || line[off] == '\r'))
        off++;
    if (off < len) {
        cJSON_Delete(j);
        *at = off;
        *why = "trailing data after the JSON value";
        return FW_RPC_PARSE_ERROR;
    }
    *out = j;
    return 0;
}

int fw_proto_request_check(const cJSON *msg, size_t method_max, const cJSON **id, const char **method,
                           const cJSON **params, const cJSON **reply_id, const char **why)
{
    *id = *params = *reply_id = NULL;
    *method = NULL;
    *why = NULL;
    if (cJSON_IsArray(msg)) {
        *why = "batch requests (JSON arrays) are not supported; send one request object per line";
        return FW_RPC_INVALID_REQUEST;
    }
    if (!cJSON_IsObject(msg)) {
        *why = "a request must be a JSON object with \"jsonrpc\", \"id\", \"method\" and \"params\"";
        return FW_RPC_INVALID_REQUEST;
    }
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(msg, "id");
    const cJSON *jr = cJSON_GetObjectItemCaseSensitive(msg, "jsonrpc");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(msg, "method");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(msg, "params");
    if (i && !cJSON_IsNumber(i) && !cJSON_IsString(i) && !cJSON_IsNull(i)) {
        *why = "\"id\" must be a number or a string";
        return FW_RPC_INVALID_REQUEST;
    }
    *reply_id = i;
    if (!cJSON_IsString(jr) || strcmp(jr->valuestring, "2.0") != 0) {
        *why = "set \"jsonrpc\": \"2.0\" in every request";
        return FW_RPC_INVALID_REQUEST;
    }
    if (!cJSON_IsString(m) || !*m->valuestring) {
        *why = "\"method\" must be a string naming a method (see docs/protocol.md)";
        return FW_RPC_INVALID_REQUEST;
    }
    if (p && !cJSON_IsObject(p) && !cJSON_IsNull(p)) {
        *why = "\"params\" must be an object of named parameters (see docs/protocol.md)";
        return FW_RPC_INVALID_PARAMS;
    }
    if (strlen(m->valuestring) >= method_max)
        return FW_RPC_METHOD_NOT_FOUND;
    *id = i;
    *method = m->valuestring;
    *params = cJSON_IsObject(p) ? p : NULL;
    return 0;
}

static cJSON *envelope(void)
{
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddStringToObject(o, "jsonrpc", "2.0");
    return o;
}

cJSON *fw_proto_result(const cJSON *id, cJSON *result)
{
    cJSON *o = envelope();
    cJSON_AddItemToObject(o, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "result", result ? result : cJSON_CreateObject());
    return o;
}

cJSON *fw_proto_error(const cJSON *id, int code, const char *message, cJSON *data)
{
    cJSON *o = envelope();
    cJSON_AddItemToObject(o, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddNumberToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    if (data)
        cJSON_AddItemToObject(e, "data", data);
    return o;
}

cJSON *fw_proto_notification(const char *method, cJSON *params)
{
    cJSON *o = envelope();
    cJSON_AddStringToObject(o, "method", method);
    cJSON_AddItemToObject(o, "params", params ? params : cJSON_CreateObject());
    return o;
}

cJSON *fw_proto_request(double id, const char *method, cJSON *params)
{
    cJSON *o = envelope();
    cJSON_AddNumberToObject(o, "id", id);
    cJSON_AddStringToObject(o, "method", method);
    cJSON_AddItemToObject(o, "params", params ? params : cJSON_CreateObject());
    return o;
}

static char *print_line(const cJSON *msg, size_t *len, int fix)
{
    char *text = cJSON_PrintUnformatted(msg);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    /* cJSON copies string bytes as they came: bytes that are not UTF-8 (echoed from a request, cut
     * from a longer text) only ever sit inside strings, so replacing them keeps the JSON valid. */
    if (fix && !fw_utf8_valid(text, n)) {
        char *fixed = fw_utf8_fix(text, n, &n);
        free(text);
        if (!fixed)
            return NULL;
        text = fixed;
    }
    char *buf = realloc(text, n + 2);
    if (!buf) {
        free(text);
        return NULL;
    }
    buf[n] = '\n';
    buf[n + 1] = '\0';
    *len = n + 1;
    return buf;
}

char *fw_proto_print(const cJSON *msg, size_t *len)
{
    return print_line(msg, len, 1);
}

char *fw_proto_print_exact(const cJSON *msg, size_t *len)
{
    return print_line(msg, len, 0);
}

int fw_proto_write(FILE *f, const cJSON *msg)
{
    size_t n;
    char *s = fw_proto_print(msg, &n);
    if (!s)
        return -ENOMEM;
    int rc = fwrite(s, 1, n, f) == n ? 0 : -EIO;
    free(s);
    if (fflush(f) != 0)
        rc = -EIO;
    return rc;
}
