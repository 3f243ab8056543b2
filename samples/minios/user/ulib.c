/* ulib.c - system-call wrappers (int $0x80, see syscall.h) and printf. */
#include "ulib.h"

int syscall3(int n, int a, int b, int c)
{
    int ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

void exit(int status) { syscall3(SYS_EXIT, status, 0, 0); for (;;) ; }
int write(int fd, const void *buf, int len) { return syscall3(SYS_WRITE, fd, (int)buf, len); }
int read(int fd, void *buf, int len) { return syscall3(SYS_READ, fd, (int)buf, len); }
int spawn(const char *path, const char *args, int flags) { return syscall3(SYS_SPAWN, (int)path, (int)args, flags); }
int wait(int pid, int *status) { return syscall3(SYS_WAIT, pid, (int)status, 0); }
int getpid(void) { return syscall3(SYS_GETPID, 0, 0, 0); }
int yield(void) { return syscall3(SYS_YIELD, 0, 0, 0); }
int sleep(int ticks) { return syscall3(SYS_SLEEP, ticks, 0, 0); }
void *sbrk(int increment) { return (void *)syscall3(SYS_SBRK, increment, 0, 0); }
unsigned int uptime(void) { return (unsigned int)syscall3(SYS_UPTIME, 0, 0, 0); }
int ps(int slot, struct procinfo *pi) { return syscall3(SYS_PS, slot, (int)pi, 0); }
int meminfo(struct meminfo *mi) { return syscall3(SYS_MEMINFO, (int)mi, 0, 0); }
int cmdline(char *buf, int len) { return syscall3(SYS_CMDLINE, (int)buf, len, 0); }
void shutdown(int code) { syscall3(SYS_SHUTDOWN, code, 0, 0); for (;;) ; }
int open(const char *path, int flags) { return syscall3(SYS_OPEN, (int)path, flags, 0); }
int close(int fd) { return syscall3(SYS_CLOSE, fd, 0, 0); }
int lseek(int fd, int offset, int whence) { return syscall3(SYS_LSEEK, fd, offset, whence); }
int stat(const char *path, struct stat *st) { return syscall3(SYS_STAT, (int)path, (int)st, 0); }
int readdir(int fd, struct dirent *d) { return syscall3(SYS_READDIR, fd, (int)d, 0); }
int mkdir(const char *path) { return syscall3(SYS_MKDIR, (int)path, 0, 0); }
int unlink(const char *path) { return syscall3(SYS_UNLINK, (int)path, 0, 0); }
int rmdir(const char *path) { return syscall3(SYS_RMDIR, (int)path, 0, 0); }
int chdir(const char *path) { return syscall3(SYS_CHDIR, (int)path, 0, 0); }
int getcwd(char *buf, int len) { return syscall3(SYS_GETCWD, (int)buf, len, 0); }
int dup2(int oldfd, int newfd) { return syscall3(SYS_DUP2, oldfd, newfd, 0); }
int pipe(int fds[2]) { return syscall3(SYS_PIPE, (int)fds, 0, 0); }
int isolate(const struct isolate_args *a) { return syscall3(SYS_ISOLATE, (int)a, 0, 0); }
int hostname(char *buf, int len) { return syscall3(SYS_HOSTNAME, (int)buf, len, 0); }
int sethostname(const char *name) { return syscall3(SYS_SETHOSTNAME, (int)name, 0, 0); }
int socket(int domain, int type) { return syscall3(SYS_SOCKET, domain, type, 0); }
int bind(int fd, const void *addr, int len) { return syscall3(SYS_BIND, fd, (int)addr, len); }
int listen(int fd, int backlog) { return syscall3(SYS_LISTEN, fd, backlog, 0); }
int accept(int fd, void *peer, int len) { return syscall3(SYS_ACCEPT, fd, (int)peer, len); }
int connect(int fd, const void *addr, int len) { return syscall3(SYS_CONNECT, fd, (int)addr, len); }
int send(int fd, const void *buf, int len) { return syscall3(SYS_SEND, fd, (int)buf, len); }
int recv(int fd, void *buf, int len) { return syscall3(SYS_RECV, fd, (int)buf, len); }
int shutsock(int fd, int how) { return syscall3(SYS_SHUTSOCK, fd, how, 0); }
int poll(struct pollfd *fds, int n, int ticks) { return syscall3(SYS_POLL, (int)fds, n, ticks); }
int sockname(int fd, void *addr, int len) { return syscall3(SYS_SOCKNAME, fd, (int)addr, len); }
int netif(int index, struct netif *nf) { return syscall3(SYS_NETIF, index, (int)nf, 0); }
int kill(int pid) { return syscall3(SYS_KILL, pid, 0, 0); }
int bindmount(const char *src, const char *dst, const char *root) { return syscall3(SYS_BINDMOUNT, (int)src, (int)dst, (int)root); }
int netjoin(const char *bridge, unsigned int ip, int prefix) { return syscall3(SYS_NETJOIN, (int)bridge, (int)ip, prefix); }

/* "10.0.0.2" or "10.0.0.2/24" (prefix 0 when absent) */
int inet_parse(const char *s, unsigned int *ip, int *prefix)
{
    unsigned int v = 0;
    for (int part = 0; part < 4; part++) {
        unsigned int b = 0, digits = 0;
        for (; *s >= '0' && *s <= '9' && digits < 4; s++, digits++) b = b * 10 + (unsigned int)(*s - '0');
        if (!digits || b > 255) return -1;
        v = v << 8 | b;
        if (part < 3 && *s++ != '.') return -1;
    }
    *prefix = 0;
    if (*s == '/') {
        int p = 0;
        for (s++; *s >= '0' && *s <= '9' && p <= 32; s++) p = p * 10 + (*s - '0');
        if (p < 1 || p > 32) return -1;
        *prefix = p;
    }
    if (*s) return -1;
    *ip = v;
    return 0;
}

int netjoinpid(int pid, const struct netif *nf) { return syscall3(SYS_NETJOINPID, pid, (int)nf, 0); }

/* The resolver of a system without DNS, as gethostbyname(3) reading /etc/hosts
 * ("A.B.C.D name alias..." lines; dockerd writes a container's, see dockerd_net.c). */
int resolve(const char *host, unsigned int *ip)
{
    int prefix;
    if (!inet_parse(host, ip, &prefix) && !prefix) return 0;
    if (!strcmp(host, "localhost")) { *ip = INADDR_LOOPBACK; return 0; }
    static char text[512];
    int fd = open("/etc/hosts", O_RDONLY), n = fd < 0 ? 0 : read(fd, text, sizeof(text) - 1);
    if (fd >= 0) close(fd);
    text[n > 0 ? n : 0] = 0;
    unsigned int len = strlen(host);
    for (char *line = text; *line; ) {
        char *end = strchr(line, '\n'), *w = strchr(line, ' ');
        if (!end) end = line + strlen(line);
        if (w && w < end) {
            *w = 0;
            for (char *p = w + 1; p < end; ) {          /* each name of the line */
                while (p < end && *p == ' ') p++;
                char *q = p;
                while (q < end && *q != ' ') q++;
                if (q - p == (int)len && !strncmp(p, host, len) && !inet_parse(line, ip, &prefix)) return 0;
                p = q;
            }
        }
        line = *end ? end + 1 : end;
    }
    return -1;
}

char *inet_format(unsigned int ip, char *buf)
{
    char *p = buf;
    for (int shift = 24; shift >= 0; shift -= 8) {
        unsigned int b = (ip >> shift) & 255;
        if (b >= 100) *p++ = (char)('0' + b / 100);
        if (b >= 10) *p++ = (char)('0' + b / 10 % 10);
        *p++ = (char)('0' + b % 10);
        *p++ = shift ? '.' : 0;
    }
    return buf;
}
char **environ;

const char *getenv(const char *name)
{
    unsigned int n = strlen(name);
    for (char **e = environ; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=') return *e + n + 1;
    return 0;
}

int mark(int what) { return syscall3(SYS_MARK, what, 0, 0); }

const char *strerror(int err)
{
    switch (-err) {
    case ENOENT: return "no such file or directory";
    case ESRCH: return "no such process";
    case ENOEXEC: return "not an executable";
    case E2BIG: return "argument list too long";
    case EBADF: return "bad file descriptor";
    case EAGAIN: return "too many processes";
    case ENOMEM: return "out of memory";
    case EFAULT: return "bad address";
    case EBUSY: return "in use";
    case EEXIST: return "file exists";
    case ENOTDIR: return "not a directory";
    case EISDIR: return "is a directory";
    case EINVAL: return "invalid argument";
    case ENFILE: case EMFILE: return "too many open files";
    case EFBIG: return "file too large";
    case ENOSPC: return "no space left";
    case EPIPE: return "broken pipe";
    case ENAMETOOLONG: return "name too long";
    case ENOTEMPTY: return "directory not empty";
    case EOPNOTSUPP: return "not supported";
    case ESPIPE: return "illegal seek";
    case ERANGE: return "result too large";
    case ENOSYS: return "no such system call";
    case EPERM: return "operation not permitted";
    case ENOTSOCK: return "not a socket";
    case EPROTOTYPE: return "protocol wrong type for socket";
    case EAFNOSUPPORT: return "address family not supported";
    case EADDRINUSE: return "address already in use";
    case EADDRNOTAVAIL: return "cannot assign requested address";
    case ENETUNREACH: return "network is unreachable";
    case ECONNRESET: return "connection reset by peer";
    case EISCONN: return "already connected";
    case ENOTCONN: return "not connected";
    case ECONNREFUSED: return "connection refused";
    case EHOSTUNREACH: return "no route to host";
    default: return "error";
    }
}

char *strchr(const char *s, int c)
{
    for (; *s; s++) if (*s == (char)c) return (char *)s;
    return c ? 0 : (char *)s;
}

char *strstr(const char *hay, const char *needle)
{
    unsigned int n = strlen(needle);
    for (; *hay; hay++)
        if (!strncmp(hay, needle, n)) return (char *)hay;
    return n ? 0 : (char *)hay;
}

int puts(const char *s) { return write(1, s, (int)strlen(s)); }

/* printf collects output in a buffer and writes it with as few calls as possible */
struct pbuf { char buf[128]; int n, fd; };

static void pbuf_put(char c, void *ctx)
{
    struct pbuf *b = ctx;
    b->buf[b->n++] = c;
    if (b->n == sizeof(b->buf)) { write(b->fd, b->buf, b->n); b->n = 0; }
}

/* printf to the standard error (descriptor 2): messages that must not go down a pipe */
int eprintf(const char *fmt, ...)
{
    struct pbuf b;
    b.n = 0;
    b.fd = 2;
    va_list ap;
    va_start(ap, fmt);
    vformat(pbuf_put, &b, fmt, ap);
    va_end(ap);
    if (b.n) write(2, b.buf, b.n);
    return 0;
}

int printf(const char *fmt, ...)
{
    struct pbuf b;
    b.n = 0;
    b.fd = 1;
    va_list ap;
    va_start(ap, fmt);
    vformat(pbuf_put, &b, fmt, ap);
    va_end(ap);
    if (b.n) write(1, b.buf, b.n);
    return 0;
}
