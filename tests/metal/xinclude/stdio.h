/* Stand-in for the macOS SDK's <stdio.h> (tests/metal cross-compiles without an SDK): only what
 * metal/ uses, declared as Darwin's libc declares it. */
#ifndef FW_XINCLUDE_STDIO_H
#define FW_XINCLUDE_STDIO_H
#include <stdarg.h>
#include <stddef.h>
int snprintf(char *restrict s, size_t n, const char *restrict fmt, ...);
int vsnprintf(char *restrict s, size_t n, const char *restrict fmt, va_list ap);
int sscanf(const char *restrict s, const char *restrict fmt, ...);
#endif
