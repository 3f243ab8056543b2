/*
 * http.h - the little HTTP/1.1 and JSON that dockerd, docker and curl share
 * (header-only: every program is linked from one .c file). One request per
 * connection ("Connection: close"), bodies with a Content-Length; JSON is
 * read by looking up "key": in a flat object, which is all the engine's
 * messages need. Not a general parser: it trusts no length it reads and
 * never writes past a buffer, but it accepts some malformed JSON.
 */
#ifndef MINIOS_HTTP_H
#define MINIOS_HTTP_H
#include "ulib.h"

/* A string being built in a fixed buffer: output past cap is dropped (full = 1). */
struct sbuf { char *p; int n, cap, full; };

static inline void sbuf_put(char c, void *ctx)
{
    struct sbuf *b = ctx;
    if (b->n + 1 < b->cap) { b->p[b->n++] = c; b->p[b->n] = 0; } else b->full = 1;
}

static inline void sfmt(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(sbuf_put, b, fmt, ap);
    va_end(ap);
}

/* Writes all of buf (send() may take several calls). */
static inline int send_all(int fd, const char *buf, int len)
{
    for (int off = 0; off < len;) {
        int k = send(fd, buf + off, len - off);
        if (k <= 0) return -1;
        off += k;
    }
    return 0;
}

/* The value of "key" in a JSON text: a string (unescaped, cut at cap - 1) into out. 0 or -1. */
static inline int json_str(const char *json, const char *key, char *out, int cap)
{
    int k = (int)strlen(key);
    for (const char *p = json; (p = strstr(p, key)); p += k) {
        if (p == json || p[-1] != '"' || p[k] != '"') continue;
        const char *v = p + k + 1;
        while (*v == ' ' || *v == ':') v++;
        if (*v++ != '"') return -1;
        int n = 0;
        while (*v && *v != '"' && n < cap - 1) {
            if (*v == '\\' && v[1]) v++;
            out[n++] = *v++;
        }
        out[n] = 0;
        return 0;
    }
    return -1;
}

/* A number value of "key" (-1 when absent or not a number). */
static inline int json_num(const char *json, const char *key)
{
    int k = (int)strlen(key);
    for (const char *p = json; (p = strstr(p, key)); p += k) {
        if (p == json || p[-1] != '"' || p[k] != '"') continue;
        const char *v = p + k + 1;
        while (*v == ' ' || *v == ':') v++;
        if (*v < '0' || *v > '9') return -1;
        int n = 0;
        while (*v >= '0' && *v <= '9' && n < 100000000) n = n * 10 + (*v++ - '0');
        return n;
    }
    return -1;
}

/* Connects to a local socket path, or to ip:port; retries a refused connection
 * for up to wait_ticks (the daemon may be starting). fd or -errno. */
static inline int http_connect(const char *path, unsigned int ip, int port, int wait_ticks)
{
    struct sockaddr_un un;
    struct sockaddr_in in;
    memset(&un, 0, sizeof(un));
    memset(&in, 0, sizeof(in));
    int fd = socket(path ? AF_UNIX : AF_INET, SOCK_STREAM), r;
    if (fd < 0) return fd;
    if (path) {
        if (strlen(path) >= UNIX_PATH_MAX) { close(fd); return -ENAMETOOLONG; }
        un.family = AF_UNIX;
        memcpy(un.path, path, strlen(path) + 1);
    } else {
        in.family = AF_INET;
        in.addr = ip;
        in.port = (unsigned short)port;
    }
    for (int t = 0;; t++) {
        r = path ? connect(fd, &un, sizeof(un)) : connect(fd, &in, sizeof(in));
        if (r == 0) return fd;
        if ((r != -ENOENT && r != -ECONNREFUSED) || t >= wait_ticks) break;
        sleep(1);
    }
    close(fd);
    return r;
}

/* Sends one request and reads the whole answer (until the server closes)
 * into resp (NUL-terminated, cut at cap - 1). Its length, or -errno. */
static inline int http_do(int fd, const char *method, const char *target, const char *body,
                          char *resp, int cap)
{
    char head[256];
    struct sbuf h = { head, 0, sizeof(head), 0 };
    int blen = body ? (int)strlen(body) : 0;
    sfmt(&h, "%s %s HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n", method, target);
    if (body) sfmt(&h, "Content-Type: application/json\r\nContent-Length: %d\r\n", blen);
    sfmt(&h, "\r\n");
    if (h.full || send_all(fd, head, h.n) || (blen && send_all(fd, body, blen))) return -EPIPE;
    int n = 0, k;
    while (n < cap - 1 && (k = recv(fd, resp + n, cap - 1 - n)) > 0) n += k;
    resp[n] = 0;
    return n;
}

static inline int http_status(const char *resp)
{
    if (strncmp(resp, "HTTP/1.", 7) || strlen(resp) < 12) return -1;
    return (resp[9] - '0') * 100 + (resp[10] - '0') * 10 + (resp[11] - '0');
}

static inline const char *http_body(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : resp + strlen(resp);
}
#endif
