/* linebuf.c - '\n' framing for the client socket and the worker pipes. */
#include "fw_daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void fw_daemon_linebuf_init(fw_daemon_linebuf *lb, size_t max)
{
    memset(lb, 0, sizeof(*lb));
    lb->max = max;
}

void fw_daemon_linebuf_release(fw_daemon_linebuf *lb)
{
    free(lb->data);
    memset(lb, 0, sizeof(*lb));
}

int fw_daemon_linebuf_feed(fw_daemon_linebuf *lb, const char *p, size_t n)
{
    /* Consumed lines are dropped lazily here, not in next(), so a line handed out stays valid until
     * the caller feeds again. */
    if (lb->pos > 0) {
        memmove(lb->data, lb->data + lb->pos, lb->len - lb->pos);
        lb->len -= lb->pos;
        lb->pos = 0;
    }
    if (n == 0)
        return 0;
    if (lb->len + n + 1 > lb->cap) {
        size_t cap = lb->cap ? lb->cap : 4096;
        while (cap < lb->len + n + 1)
            cap *= 2;
        char *nd = realloc(lb->data, cap);
        if (!nd)
            return -ENOMEM;
        lb->data = nd;
        lb->cap = cap;
    }
    memcpy(lb->data + lb->len, p, n);
    lb->len += n;
    return 0;
}

int fw_daemon_linebuf_next(fw_daemon_linebuf *lb, char **line, size_t *len)
{
    size_t avail = lb->len - lb->pos;
    char *start = lb->data + lb->pos;
    /* Only the bytes not scanned before are searched, so a long line arriving in small reads costs
     * O(total) rather than O(total^2). */
    char *nl = avail > lb->scan ? memchr(start + lb->scan, '\n', avail - lb->scan) : NULL;
    if (!nl) {
        lb->scan = avail;
        return avail > lb->max ? -E2BIG : 0;
    }
    size_t n = (size_t)(nl - start);
    lb->pos += n + 1;
    lb->scan = 0;
    if (n > lb->max)
        return -E2BIG;
    *nl = '\0';
    if (n > 0 && start[n - 1] == '\r')
        start[--n] = '\0';
    *line = start;
    *len = n;
    return 1;
}
