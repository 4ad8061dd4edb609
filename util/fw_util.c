#include "fw_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int fw_errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        /* a message cut short is cut at a character boundary, so it stays UTF-8 */
        if (n >= 0 && (size_t)n >= errlen)
            err[fw_utf8_cut(err, errlen - 1)] = '\0';
    }
    return code;
}

uint64_t fw_hash64(uint64_t seed, const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t fw_hash64_str(uint64_t seed, const char *s)
{
    return fw_hash64(seed, s, s ? strlen(s) : 0);
}

void fw_hash64_hex(uint64_t h, char out[17])
{
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

uint64_t fw_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

double fw_wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void fw_sbuf_init(fw_sbuf *b)
{
    memset(b, 0, sizeof *b);
}

void fw_sbuf_release(fw_sbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

static int sbuf_reserve(fw_sbuf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void fw_sbuf_append(fw_sbuf *b, const char *s, size_t n)
{
    if (sbuf_reserve(b, n) < 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void fw_sbuf_puts(fw_sbuf *b, const char *s)
{
    fw_sbuf_append(b, s, strlen(s));
}

void fw_sbuf_printf(fw_sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sbuf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *fw_sbuf_take(fw_sbuf *b)
{
    if (b->oom) {
        fw_sbuf_release(b);
        return NULL;
    }
    char *p = b->data ? b->data : strdup("");
    memset(b, 0, sizeof *b);
    return p;
}

int fw_read_file(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fw_errf(err, errlen, -errno, "cannot open '%s': %s", path, strerror(errno));
    fw_sbuf b;
    fw_sbuf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fw_sbuf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        fw_sbuf_release(&b);
        return fw_errf(err, errlen, -EIO, "cannot read '%s'", path);
    }
    size_t l = b.len;
    char *p = fw_sbuf_take(&b);
    if (!p)
        return fw_errf(err, errlen, -ENOMEM, "out of memory reading '%s'", path);
    *out = p;
    if (len)
        *len = l;
    return 0;
}

char *fw_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}
