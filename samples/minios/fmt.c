/* fmt.c - minimal printf engine and string helpers (kernel and user space). */
#include "fmt.h"

static void out_num(void (*put)(char, void *), void *ctx, unsigned int v, int base,
                    int neg, int width, int zero, int left)
{
    char buf[12];
    int n = 0;
    do { buf[n++] = "0123456789abcdef"[v % base]; v /= base; } while (v);
    if (neg) buf[n++] = '-';
    int pad = width > n ? width - n : 0;
    if (!left && zero && neg) { put('-', ctx); n--; }   /* "-0042" */
    if (!left) while (pad--) put(zero ? '0' : ' ', ctx);
    while (n) put(buf[--n], ctx);
    if (left) while (pad-- > 0) put(' ', ctx);
}

void vformat(void (*put)(char, void *), void *ctx, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') { put(*fmt, ctx); continue; }
        int left = 0, zero = 0, width = 0;
        fmt++;
        if (*fmt == '-') { left = 1; fmt++; }
        if (*fmt == '0') { zero = 1; fmt++; }
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        switch (*fmt) {
        case 'c': put((char)va_arg(ap, int), ctx); break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            int len = (int)strlen(s);
            if (!left) for (int i = len; i < width; i++) put(' ', ctx);
            while (*s) put(*s++, ctx);
            if (left) for (int i = len; i < width; i++) put(' ', ctx);
            break;
        }
        case 'd': {
            int v = va_arg(ap, int);
            out_num(put, ctx, v < 0 ? -(unsigned int)v : (unsigned int)v, 10, v < 0, width, zero, left);
            break;
        }
        case 'u': out_num(put, ctx, va_arg(ap, unsigned int), 10, 0, width, zero, left); break;
        case 'x': out_num(put, ctx, va_arg(ap, unsigned int), 16, 0, width, zero, left); break;
        case 'p': put('0', ctx); put('x', ctx);
                  out_num(put, ctx, va_arg(ap, unsigned int), 16, 0, 8, 1, 0); break;
        case '%': put('%', ctx); break;
        case 0: return;
        default: put('%', ctx); put(*fmt, ctx); break;
        }
    }
}

unsigned int strlen(const char *s) { unsigned int n = 0; while (s[n]) n++; return n; }

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) { a++; b++; }
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, unsigned int n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
        if (!*a) return 0;
    }
    return 0;
}

/* One string instruction each (REP MOVSB / REP STOSB, direction flag clear:
 * the System V ABI guarantees DF = 0 at every call). */
void *memcpy(void *d, const void *s, unsigned int n)
{
    void *dp = d;
    __asm__ volatile("rep movsb" : "+D"(dp), "+S"(s), "+c"(n) : : "memory");
    return d;
}

void *memset(void *d, int c, unsigned int n)
{
    void *p = d;
    __asm__ volatile("rep stosb" : "+D"(p), "+c"(n) : "a"(c) : "memory");
    return d;
}

int memcmp(const void *a, const void *b, unsigned int n)
{
    const unsigned char *x = a, *y = b;
    for (unsigned int i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] - y[i];
    return 0;
}
