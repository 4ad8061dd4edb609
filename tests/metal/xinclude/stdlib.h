/* Stand-in for the macOS SDK's <stdlib.h>: only what metal/ uses. */
#ifndef FW_XINCLUDE_STDLIB_H
#define FW_XINCLUDE_STDLIB_H
#include <stddef.h>
void *malloc(size_t n);
void *calloc(size_t n, size_t size);
void free(void *p);
long long strtoll(const char *restrict s, char **restrict end, int base);
#endif
