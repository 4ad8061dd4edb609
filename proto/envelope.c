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
