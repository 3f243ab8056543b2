/* ulib.c - system-call wrappers (int $0x80, see syscall.h) and printf. */
#include "ulib.h"

static inline int syscall3(int n, int a, int b, int c)
{
    int ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

void exit(int status) { syscall3(SYS_EXIT, status, 0, 0); for (;;) ; }
int write(int fd, const void *buf, int len) { return syscall3(SYS_WRITE, fd, (int)buf, len); }
int read(int fd, void *buf, int len) { return syscall3(SYS_READ, fd, (int)buf, len); }
int spawn(const char *prog, int flags) { return syscall3(SYS_SPAWN, (int)prog, flags, 0); }
int wait(int pid, int *status) { return syscall3(SYS_WAIT, pid, (int)status, 0); }
int getpid(void) { return syscall3(SYS_GETPID, 0, 0, 0); }
int yield(void) { return syscall3(SYS_YIELD, 0, 0, 0); }
int sleep(int ticks) { return syscall3(SYS_SLEEP, ticks, 0, 0); }
void *sbrk(int increment) { return (void *)syscall3(SYS_SBRK, increment, 0, 0); }
unsigned int uptime(void) { return (unsigned int)syscall3(SYS_UPTIME, 0, 0, 0); }
int ps(int slot, struct procinfo *pi) { return syscall3(SYS_PS, slot, (int)pi, 0); }
int meminfo(struct meminfo *mi) { return syscall3(SYS_MEMINFO, (int)mi, 0, 0); }
int progs(int index, struct proginfo *pi) { return syscall3(SYS_PROGS, index, (int)pi, 0); }
int cmdline(char *buf, int len) { return syscall3(SYS_CMDLINE, (int)buf, len, 0); }
void shutdown(int code) { syscall3(SYS_SHUTDOWN, code, 0, 0); for (;;) ; }

int puts(const char *s) { return write(1, s, (int)strlen(s)); }

/* printf collects output in a buffer and writes it with as few calls as possible */
struct pbuf { char buf[128]; int n; };

static void pbuf_put(char c, void *ctx)
{
    struct pbuf *b = ctx;
    b->buf[b->n++] = c;
    if (b->n == sizeof(b->buf)) { write(1, b->buf, b->n); b->n = 0; }
}

int printf(const char *fmt, ...)
{
    struct pbuf b;
    b.n = 0;
    va_list ap;
    va_start(ap, fmt);
    vformat(pbuf_put, &b, fmt, ap);
    va_end(ap);
    if (b.n) write(1, b.buf, b.n);
    return 0;
}
