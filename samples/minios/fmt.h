/* fmt.h - printf-style formatting shared by the kernel and the user library. */
#ifndef MINIOS_FMT_H
#define MINIOS_FMT_H
#include <stdarg.h>
/* Supports %c %s %d %u %x %p %% with '-' / '0' flags and a width.
 * Calls put(c, ctx) for every output character. */
void vformat(void (*put)(char, void *), void *ctx, const char *fmt, va_list ap);
unsigned int strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, unsigned int n);
void *memcpy(void *d, const void *s, unsigned int n);
void *memset(void *d, int c, unsigned int n);
int memcmp(const void *a, const void *b, unsigned int n);
#endif
