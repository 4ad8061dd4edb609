/* Stand-in for the macOS SDK's <string.h>: only what metal/ uses. */
#ifndef FW_XINCLUDE_STRING_H
#define FW_XINCLUDE_STRING_H
#include <stddef.h>
void *memcpy(void *restrict d, const void *restrict s, size_t n);
void *memset(void *d, int c, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
char *strchr(const char *s, int c);
size_t strcspn(const char *s, const char *reject);
#endif
