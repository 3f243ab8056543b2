/*
 * nc.c - a small netcat: a client or a server of a stream socket, local
 * (-U PATH) or network (ADDR PORT; ADDR may be a name of /etc/hosts).
 *
 *   nc [-w TICKS] ADDR PORT [TEXT...]   nc [-w TICKS] -U PATH [TEXT...]
 *       connect; send TEXT and a newline (without TEXT: the standard input
 *       until its end), then shut the writing side and print what comes
 *       back until the server closes. -w: retry a refused connection for up
 *       to TICKS timer ticks (the server may not be listening yet).
 *   nc -l [-k] [-e] [ADDR] PORT         nc -l [-k] [-e] -U PATH
 *       listen; print what a client sends (-e: send it back instead) until
 *       it closes. -k: keep listening and serve several clients at once
 *       (poll); without it nc ends after its first client.
 * The client uses poll() too, so that it reads the answer while it is still
 * sending: both directions can be blocked at once without a deadlock.
 */
#include "ulib.h"

#define MAXCLIENTS 6
#define CHUNK 256                   /* <= half a socket buffer: a POLLOUT send never blocks */

static char buf[CHUNK];
static int is_unix, listening, keep, echo, wait_ticks;

static int atoi_(const char *s)
{
    int v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    return v;
}

/* Fills the address from PATH or ADDR PORT: its length, or -1 after a message. */
static int address(char **argv, int n, struct sockaddr_un *un, struct sockaddr_in *in)
{
    memset(un, 0, sizeof(*un));
    memset(in, 0, sizeof(*in));
    if (is_unix) {
        if (n < 1 || strlen(argv[0]) >= UNIX_PATH_MAX) return -1;
        un->family = AF_UNIX;
        memcpy(un->path, argv[0], strlen(argv[0]) + 1);
        return sizeof(*un);
    }
    in->family = AF_INET;
    if (n < 1) return -1;
    if (n >= 2 && resolve(argv[0], &in->addr)) {       /* an address, or a name in /etc/hosts */
        eprintf("nc: unknown host %s\n", argv[0]);
        return -2;
    }
    in->port = (unsigned short)atoi_(argv[n >= 2 ? 1 : 0]);
    return sizeof(*in);
}

static int serve(int fd, const void *addr, int len)
{
    int r = bind(fd, addr, len);
    if (r >= 0) r = listen(fd, MAXCLIENTS);
    if (r < 0) { eprintf("nc: listen: %s\n", strerror(r)); return 1; }
    struct pollfd fds[1 + MAXCLIENTS];
    int n = 1, served = 0;
    fds[0].fd = fd;
    for (;;) {
        for (int i = 0; i < n; i++) fds[i].events = POLLIN;
        if ((r = poll(fds, n, -1)) < 0) { eprintf("nc: poll: %s\n", strerror(r)); return 1; }
        for (int i = n - 1; i >= 1; i--) {
            if (!fds[i].revents) continue;
            int k = recv(fds[i].fd, buf, CHUNK);
            if (k > 0 && echo) send(fds[i].fd, buf, k);
            else if (k > 0) write(1, buf, k);
            if (k > 0) continue;
            close(fds[i].fd);                        /* the client has finished */
            fds[i] = fds[--n];
            if (!keep && n == 1) return 0;
        }
        if ((fds[0].revents & POLLIN) && n < 1 + MAXCLIENTS && (keep || !served)) {
            int c = accept(fd, 0, 0);
            if (c >= 0) { fds[n++].fd = c; served++; }
        }
    }
}

static int client(int fd, const void *addr, int len, int argc, char **argv)
{
    int r;
    for (int tries = 0; (r = connect(fd, addr, len)) == -ECONNREFUSED || r == -ENOENT; tries++) {
        if (tries >= wait_ticks) break;
        sleep(1);
    }
    if (r < 0) { eprintf("nc: connect: %s\n", strerror(r)); return 1; }
    int in_open = argc == 0, out_ok = 1;
    for (int i = 0; i < argc; i++) {
        send(fd, argv[i], (int)strlen(argv[i]));
        send(fd, i + 1 < argc ? " " : "\n", 1);
    }
    if (!in_open) shutsock(fd, SHUT_WR);
    for (;;) {
        struct pollfd fds[2] = { { fd, POLLIN, 0 }, { 0, POLLIN, 0 } };
        if (in_open && !out_ok) fds[0].events |= POLLOUT;
        int n = in_open && out_ok ? 2 : 1;
        if ((r = poll(fds, n, -1)) < 0) { eprintf("nc: poll: %s\n", strerror(r)); return 1; }
        if (fds[0].revents & POLLOUT) out_ok = 1;
        if (fds[0].revents & (POLLIN | POLLHUP)) {
            int k = recv(fd, buf, CHUNK);
            if (k <= 0) return k < 0;                 /* the server has closed */
            write(1, buf, k);
        }
        if (n == 2 && (fds[1].revents & (POLLIN | POLLHUP))) {
            int k = read(0, buf, CHUNK);
            if (k <= 0) { in_open = 0; shutsock(fd, SHUT_WR); continue; }
            if ((r = send(fd, buf, k)) < 0) { eprintf("nc: send: %s\n", strerror(r)); return 1; }
            out_ok = 0;                               /* look again before the next chunk */
        }
    }
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-w") && i + 1 < argc) wait_ticks = atoi_(argv[++i]);
        else for (o++; *o; o++) {
            if (*o == 'U') is_unix = 1;
            else if (*o == 'l') listening = 1;
            else if (*o == 'k') keep = 1;
            else if (*o == 'e') echo = 1;
            else { i = argc; break; }
        }
    }
    struct sockaddr_un un;
    struct sockaddr_in in;
    int n = argc - i, want = listening ? n : is_unix ? 1 : 2;
    int len = want <= n ? address(argv + i, want, &un, &in) : -1;
    if (len == -2) return 1;
    if (len < 0 || (listening && n > (is_unix ? 1 : 2))) {
        eprintf("usage: nc [-w TICKS] ADDR PORT [TEXT] | nc -U PATH [TEXT] | nc -l [-k] [-e] [-U] [ADDR] PORT|PATH\n");
        return 2;
    }
    int fd = socket(is_unix ? AF_UNIX : AF_INET, SOCK_STREAM);
    if (fd < 0) { eprintf("nc: socket: %s\n", strerror(fd)); return 1; }
    const void *addr = is_unix ? (const void *)&un : (const void *)&in;
    if (listening) return serve(fd, addr, len);
    int skip = is_unix ? 1 : 2;
    return client(fd, addr, len, n - skip, argv + i + skip);
}
