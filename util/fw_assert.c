/* fw_assert.c - what a failed FW_ASSERT does (fw_assert.h): one line to stderr, then abort(). */
#include "fw_assert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void fw_assert_fail(const char *file, int line, const char *func, const char *cond, const char *fmt, ...)
{
    /* One buffer and one write(2): the line stays whole among other processes' output (the daemon's
     * log is its stderr and its workers'), and no stdio state is trusted after an invariant broke. */
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "fairway: %s:%d: %s: FW_ASSERT(%s) failed", file, line, func, cond);
    if (fmt && n >= 0 && (size_t)n < sizeof buf) {
        va_list ap;
        va_start(ap, fmt);
        int m = snprintf(buf + n, sizeof buf - (size_t)n, ": ");
        if (m > 0)
            n += m;
        if ((size_t)n < sizeof buf) {
            m = vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
            if (m > 0)
                n += m;
        }
        va_end(ap);
    }
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    ssize_t w = write(2, buf, (size_t)n);
    (void)w;
    abort();
}
