/* fw_assert.h - runtime checks of the invariants the headers promise (issue 10), SQLite's way.
 *
 * FW_ASSERT(cond) states something the code relies on and that no input can make false: a seq is
 * stored once, a worker has one request in flight, a shape's seqs are consecutive. It is not for
 * bad input (that gets a sentence and the daemon keeps running, DESIGN.md section 10).
 *
 * On (FW_ASSERTS 1: the build's default, debugoptimized, debug and the sanitizer builds the tests
 * run): a false condition prints "fairway: FILE:LINE: FUNCTION: FW_ASSERT(COND) failed" (and, for
 * FW_ASSERT_MSG, ": " and the printf-formatted message) to stderr, which is the daemon's log, and
 * aborts. Off (FW_ASSERTS 0: meson -Dasserts=disabled, or -Db_ndebug=true, or buildtype=release
 * with -Db_ndebug=if-release): nothing is evaluated or emitted, but the condition and the message's
 * format and arguments still compile (inside sizeof), so an assertion cannot rot in either build.
 * Without meson's define it follows NDEBUG, as assert() does.
 */
#ifndef FW_ASSERT_H
#define FW_ASSERT_H

#ifndef FW_ASSERTS
#ifdef NDEBUG
#define FW_ASSERTS 0
#else
#define FW_ASSERTS 1
#endif
#endif

/* Prints the failure (fmt NULL: no message) and aborts (util/fw_assert.c). */
void fw_assert_fail(const char *file, int line, const char *func, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, cold, format(printf, 5, 6)));
/* Never defined: named only inside sizeof, so that an off FW_ASSERT_MSG still checks its format. */
int fw_assert_fmt_check(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#if FW_ASSERTS
#define FW_ASSERT(cond) ((cond) ? (void)0 : fw_assert_fail(__FILE__, __LINE__, __func__, #cond, NULL))
#define FW_ASSERT_MSG(cond, ...) ((cond) ? (void)0 : fw_assert_fail(__FILE__, __LINE__, __func__, #cond, __VA_ARGS__))
#else
#define FW_ASSERT(cond) ((void)sizeof(!(cond)))
#define FW_ASSERT_MSG(cond, ...) ((void)sizeof((cond) ? 0 : fw_assert_fmt_check(__VA_ARGS__)))
#endif

#endif
