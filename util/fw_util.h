/* fw_util.h - small helpers shared by every part of fairway: util/ is the leaf DESIGN.md section 2
 * calls core/ (error text, hashing, string buffer, UTF-8; PCG32 in fw_pcg32.h). It includes no
 * header of any other part, and every part may include it.
 *
 * Conventions used across the project (DESIGN.md section 10):
 *   - functions return 0 on success or a negative errno-style code (-EINVAL, -ENOMEM, ...);
 *   - long error text goes into a caller-supplied buffer (char *err, size_t errlen) that is always
 *     NUL-terminated when errlen > 0;
 *   - public names carry their part's prefix (fw_util_..., fw_db_..., fw_search_...).
 */
#ifndef FW_UTIL_H
#define FW_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* Format into err (if non-NULL and errlen > 0) and return code, so callers can write
 * `return fw_errf(err, errlen, -EINVAL, "unknown knob '%s'", name);` */
int fw_errf(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 64-bit FNV-1a over bytes; fw_hash64_str over a NUL-terminated string. Continue a running hash by
 * passing the previous value as seed (FW_HASH64_INIT to start). */
#define FW_HASH64_INIT 0xcbf29ce484222325ULL
uint64_t fw_hash64(uint64_t seed, const void *data, size_t len);
uint64_t fw_hash64_str(uint64_t seed, const char *s);
/* 16 lowercase hex digits + NUL into out (17 bytes). */
void fw_hash64_hex(uint64_t h, char out[17]);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC); wall clock in seconds since the epoch. */
uint64_t fw_now_ns(void);
double fw_wall_s(void);

/* Growable string buffer. Always NUL-terminated once something was appended. On allocation
 * failure the buffer records it (oom = 1) and later appends are ignored. */
typedef struct fw_sbuf {
    char *data;
    size_t len, cap;
    int oom;
} fw_sbuf;
void fw_sbuf_init(fw_sbuf *b);
void fw_sbuf_release(fw_sbuf *b);
void fw_sbuf_append(fw_sbuf *b, const char *s, size_t n);
void fw_sbuf_puts(fw_sbuf *b, const char *s);
void fw_sbuf_printf(fw_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand over the buffer (caller frees); the sbuf is left empty. Returns NULL on oom. */
char *fw_sbuf_take(fw_sbuf *b);

/* Read a whole file into a malloc'd NUL-terminated buffer. */
int fw_read_file(const char *path, char **out, size_t *len, char *err, size_t errlen);

/* UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF), in util/fw_utf8.c.
 * fw_utf8_seq: length (1-4) of the well-formed sequence at s[0..n), 0 when it is not one.
 * fw_utf8_cut: the largest k <= n such that s[0..k) does not end inside a character that s[0..n)
 *   cuts short (bytes before that are not checked); use it to truncate text at a boundary.
 * fw_utf8_valid: 1 when s[0..n) is well-formed UTF-8.
 * fw_utf8_fix: a malloc'd copy of s[0..n) with every ill-formed sequence replaced by U+FFFD (the
 *   "maximal subpart" rule of Unicode 3.9), NUL-terminated, its length in *outlen; NULL on ENOMEM. */
size_t fw_utf8_seq(const unsigned char *s, size_t n);
size_t fw_utf8_cut(const char *s, size_t n);
int fw_utf8_valid(const char *s, size_t n);
char *fw_utf8_fix(const char *s, size_t n, size_t *outlen);

/* Run fn(ctx, 0 .. ntasks-1) over up to max_threads threads (0 = one per online core, at most 16),
 * in util/fw_parallel.c; returns when every task has run. A thread that cannot be created has its
 * tasks run by the caller. */
void fw_parallel_tasks(size_t ntasks, size_t max_threads, void (*fn)(void *ctx, size_t task), void *ctx);

/* strdup that returns NULL on NULL. */
char *fw_strdup(const char *s);

#endif
