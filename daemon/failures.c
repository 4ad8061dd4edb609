/* failures.c - why variants failed (issue 19 item 1): the store keeps each failed measurement's
 * reason in measurements.error (the build log for a compile error, the verifier's sentence for a
 * wrong result, ...); these read it back for `status` (one line per failure class) and the
 * `failures` method (every failure with its full text), through the store's fw_db_failure_classes
 * and fw_db_failures (only db/ speaks SQL). */
#include "daemon_failures.h"

#include <stdio.h>
#include <string.h>


static const char *skip_blank(const char *p)
{
    while (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
        p++;
    return p;
}

/* The first non-blank line of a failure text, at most len-1 bytes. A line that only introduces what
 * follows ("OpenCL build failed (...):") gets the first line after it that says "error" (a build
 * log's first error), else the next line, so the summary names the cause. */
/* Whether the l bytes at r hold "error" (memmem, written out: GCC's -Wnonnull under the sanitizers
 * cannot see that r is never null here). */
static int mentions_error(const char *r, size_t l)
{
    for (size_t i = 0; i + 5 <= l; i++)
        if (memcmp(r + i, "error", 5) == 0)
            return 1;
    return 0;
}

static void first_line(const char *text, char *out, size_t len)
{
    const char *p = skip_blank(text ? text : "");
    size_t n = strcspn(p, "\r\n");
    int more = n > 0 && p[n - 1] == ':';
    snprintf(out, len, "%.*s", (int)n, p);
    if (!more)
        return;
    const char *q = skip_blank(p + n), *pick = *q ? q : NULL;
    for (const char *r = q; *r; r = skip_blank(r + strcspn(r, "\r\n"))) {
        size_t l = strcspn(r, "\r\n");
        if (mentions_error(r, l)) {
            pick = r;
            break;
        }
    }
    if (pick) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, " %.*s", (int)strcspn(pick, "\r\n"), pick);
    }
}

int fw_daemon_failure_classes(fw_db *db, int64_t job, cJSON **out)
{
    int rc = fw_db_failure_classes(db, job, out);
    if (rc < 0)
        return rc;
    cJSON *c;
    cJSON_ArrayForEach(c, *out) {
        char line[301];
        first_line(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "first_error")), line, sizeof line);
        cJSON_DeleteItemFromObjectCaseSensitive(c, "first_error");
        cJSON_AddStringToObject(c, "first_line", line);
    }
    return 0;
}

int fw_daemon_failures(fw_db *db, int64_t job, const char *status, int limit, cJSON **out)
{
    return fw_db_failures(db, job, status, limit, out);
}
