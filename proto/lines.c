/* lines.c - '\n' framing shared by the daemon (client socket, worker pipes), the worker and the CLI. */
#include "fw_proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fw_assert.h"

void fw_proto_lines_init(fw_proto_lines *lb, size_t max)
{
    memset(lb, 0, sizeof(*lb));
    lb->max = max;
}

void fw_proto_lines_release(fw_proto_lines *lb)
{
    free(lb->data);
    memset(lb, 0, sizeof(*lb));
}

/* Drop consumed lines. Done lazily (here and before a read), not in next(), so a line handed out
 * stays valid until the caller feeds again. A buffer that grew for one long line is given back once
 * that line is consumed, so an idle connection holds at most FW_PROTO_LINES_KEEP bytes, not the
 * longest line it ever sent (issue 15 item 3). */
static void compact(fw_proto_lines *lb)
{
    if (lb->pos > 0) {
        memmove(lb->data, lb->data + lb->pos, lb->len - lb->pos);
        lb->len -= lb->pos;
        lb->pos = 0;
    }
    if (lb->cap > FW_PROTO_LINES_KEEP && lb->len < FW_PROTO_LINES_KEEP / 2) {
        char *nd = realloc(lb->data, FW_PROTO_LINES_KEEP);
        if (nd) {
            lb->data = nd;
            lb->cap = FW_PROTO_LINES_KEEP;
        }
    }
}

static int reserve(fw_proto_lines *lb, size_t n)
{
    if (lb->len + n + 1 <= lb->cap)
        return 0;
    size_t cap = lb->cap ? lb->cap : 4096;
    while (cap < lb->len + n + 1)
        cap *= 2;
    char *nd = realloc(lb->data, cap);
    if (!nd)
        return -ENOMEM;
    lb->data = nd;
    lb->cap = cap;
    return 0;
}

int fw_proto_lines_feed(fw_proto_lines *lb, const char *p, size_t n)
{
    compact(lb);
    if (n == 0)
        return 0;
    if (reserve(lb, n) < 0)
        return -ENOMEM;
    memcpy(lb->data + lb->len, p, n);
    lb->len += n;
    return 0;
}

int fw_proto_lines_next(fw_proto_lines *lb, char **line, size_t *len)
{
    FW_ASSERT(lb->pos <= lb->len && lb->len <= lb->cap && lb->scan <= lb->len - lb->pos);
    size_t avail = lb->len - lb->pos;
    char *start = lb->data + lb->pos;
    /* Only the bytes not scanned before are searched, so a long line arriving in small reads costs
     * O(total) rather than O(total^2). */
    char *nl = avail > lb->scan ? memchr(start + lb->scan, '\n', avail - lb->scan) : NULL;
    if (!nl) {
        lb->scan = avail;
        /* max bytes and a '\r' whose '\n' has not arrived yet is still a line within the limit */
        if (avail > lb->max + 1 || (avail == lb->max + 1 && start[lb->max] != '\r'))
            return -E2BIG;
        return 0;
    }
    size_t n = (size_t)(nl - start);
    lb->pos += n + 1;
    lb->scan = 0;
    *nl = '\0';
    if (n > 0 && start[n - 1] == '\r')
        start[--n] = '\0';
    if (n > lb->max)
        return -E2BIG;
    *line = start;
    *len = n;
    return 1;
}

int fw_proto_lines_read_fd(fw_proto_lines *lb, int fd, char **line, size_t *len)
{
    for (;;) {
        int rc = fw_proto_lines_next(lb, line, len);
        if (rc != 0)
            return rc;
        compact(lb);
        if (reserve(lb, 65536) < 0)
            return -ENOMEM;
        ssize_t r = read(fd, lb->data + lb->len, lb->cap - lb->len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0) {
            if (lb->len == lb->pos)
                return 0;
            /* the last line had no '\n': hand it out as one */
            lb->data[lb->len++] = '\n';
            continue;
        }
        lb->len += (size_t)r;
    }
}
