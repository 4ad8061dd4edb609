/* failures.c - why variants failed (issue 19 item 1): the store keeps each failed measurement's
 * reason in measurements.error (the build log for a compile error, the verifier's sentence for a
 * wrong result, ...); these read it back for `status` (one line per failure class) and the
 * `failures` method (every failure with its full text). Read-only queries on the daemon's own
 * connection. */
#include "fw_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

static void add_text(cJSON *o, const char *k, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    cJSON_AddStringToObject(o, k, t ? (const char *)t : "");
}

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
    *out = NULL;
    static const char sql[] =
        "SELECT status, COUNT(*), MIN(seq),"
        " (SELECT error FROM measurements e WHERE e.job = m.job AND e.status = m.status"
        "  ORDER BY e.seq LIMIT 1)"
        " FROM measurements m WHERE job = ?1 AND status != 'ok' GROUP BY status ORDER BY MIN(seq)";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(fw_db_handle(db), sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_int64(st, 1, job);
    cJSON *arr = cJSON_CreateArray();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *c = cJSON_CreateObject();
        add_text(c, "status", st, 0);
        cJSON_AddNumberToObject(c, "count", (double)sqlite3_column_int64(st, 1));
        cJSON_AddNumberToObject(c, "first_seq", (double)sqlite3_column_int64(st, 2));
        char line[301];
        first_line((const char *)sqlite3_column_text(st, 3), line, sizeof line);
        cJSON_AddStringToObject(c, "first_line", line);
        cJSON_AddItemToArray(arr, c);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        cJSON_Delete(arr);
        return -EIO;
    }
    *out = arr;
    return 0;
}

int fw_daemon_failures(fw_db *db, int64_t job, const char *status, int limit, cJSON **out)
{
    *out = NULL;
    static const char sql[] =
        "SELECT m.seq, m.status, m.shape_key, v.key, m.kernel, m.error"
        " FROM measurements m LEFT JOIN variants v ON v.id = m.variant_id"
        " WHERE m.job = ?1 AND m.status != 'ok' AND (?2 IS NULL OR m.status = ?2) ORDER BY m.seq LIMIT ?3";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(fw_db_handle(db), sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    sqlite3_bind_int64(st, 1, job);
    if (status)
        sqlite3_bind_text(st, 2, status, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_int64(st, 3, limit > 0 ? limit : -1);
    cJSON *arr = cJSON_CreateArray();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddNumberToObject(f, "seq", (double)sqlite3_column_int64(st, 0));
        add_text(f, "status", st, 1);
        add_text(f, "shape_key", st, 2);
        add_text(f, "variant_key", st, 3);
        add_text(f, "kernel", st, 4);
        add_text(f, "error", st, 5);
        cJSON_AddItemToArray(arr, f);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        cJSON_Delete(arr);
        return -EIO;
    }
    *out = arr;
    return 0;
}
