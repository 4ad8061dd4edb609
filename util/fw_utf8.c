/* fw_utf8.c - just enough UTF-8 to keep every line fairway writes valid RFC 8259 text. */
#include "fw_util.h"

#include <stdlib.h>
#include <string.h>

/* The second byte's range depends on the lead byte (Unicode 3.9, table 3-7). */
static int lead_info(unsigned char c, size_t *len, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c < 0x80) {
        *len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        *len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        *len = 3;
        if (c == 0xE0)
            *lo = 0xA0;
        else if (c == 0xED)
            *hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        *len = 4;
        if (c == 0xF0)
            *lo = 0x90;
        else if (c == 0xF4)
            *hi = 0x8F;
    } else {
        return 0;
    }
    return 1;
}

/* Bytes of s[0..n) that start a well-formed sequence (the maximal subpart when it is cut short). */
static size_t prefix_len(const unsigned char *s, size_t n, size_t *need)
{
    unsigned char lo, hi;
    if (n == 0 || !lead_info(s[0], need, &lo, &hi))
        return 0;
    size_t k = 1;
    for (; k < *need && k < n; k++) {
        unsigned char c = s[k];
        if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF))
            break;
    }
    return k;
}

size_t fw_utf8_seq(const unsigned char *s, size_t n)
{
    size_t need;
    size_t k = prefix_len(s, n, &need);
    return k > 0 && k == need ? k : 0;
}

size_t fw_utf8_cut(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    /* look back over at most three continuation bytes for the lead byte of the last character */
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char c = u[n - back];
        if (c >= 0x80 && c <= 0xBF)
            continue;
        size_t need;
        size_t k = prefix_len(u + n - back, back, &need);
        if (need > back && k == back)
            return n - back;   /* a well-formed start that the cut left incomplete */
        return n;
    }
    return n;
}

int fw_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = fw_utf8_seq(u + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

char *fw_utf8_fix(const char *s, size_t n, size_t *outlen)
{
    const unsigned char *u = (const unsigned char *)s;
    /* each ill-formed byte becomes at most 3 bytes */
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    while (i < n) {
        size_t need;
        size_t k = prefix_len(u + i, n - i, &need);
        if (k > 0 && k == need) {
            memcpy(out + o, u + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += k > 0 ? k : 1;
        }
    }
    out[o] = '\0';
    if (outlen)
        *outlen = o;
    return out;
}
