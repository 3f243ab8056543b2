/*
 * socket.c - stream sockets, as Linux's socket(2) family: local sockets
 * bound to a path (AF_UNIX, net/unix/af_unix.c, what a daemon's API such as
 * /var/run/docker.sock listens on) and network sockets with addresses and
 * ports (AF_INET SOCK_STREAM, TCP's interface without its packets,
 * net/ipv4/tcp.c, inet_connection_sock.c).
 *
 * Owns: the sockets and their buffers, names and ports, the listen queues,
 * and the blocking rules. A connection is two sockets, each the other's
 * peer; send() copies bytes into the peer's receive buffer (SOCK_BUF bytes),
 * recv() takes them out of its own. Blocking calls sleep in the scheduler
 * (never spin) on the socket's channel and are woken by the other side:
 * accept() while the queue is empty, connect() while the listener's queue is
 * full, send() while the peer's buffer is full, recv() while its own is
 * empty. With SOCK_NONBLOCK they return -EAGAIN instead.
 * End of stream: when the peer closes or calls shutsock(SHUT_WR), recv()
 * returns the bytes left and then 0; send() to a peer that has gone (or shut
 * its reading side) fails with -EPIPE (Linux would also send SIGPIPE).
 * Closing a listener refuses the connections it had not accepted yet: their
 * clients read 0.
 * Names: an AF_UNIX name is a path string kept here, in the IPC namespace of
 * the process that made the socket (ns.c): a new IPC namespace sees none of
 * its parent's names. Unlike Linux no file appears in the directory tree (it
 * behaves like Linux's abstract names) and the name goes away with the
 * socket. AF_INET ports belong to the network namespace (net.c): bind()
 * takes one of the namespace's addresses or INADDR_ANY; connect() asks
 * net.c whether the address is reachable (loopback, or another namespace on
 * the same bridge) and finds the listener there. Addresses and ports are in
 * host byte order.
 * It does not own descriptors (file.c makes the file that holds a socket and
 * calls sock_close when its last descriptor closes) nor poll (file.c).
 */
#include "kernel.h"

#define SOCK_BUF      1024
#define BACKLOG_MAX   8
#define PORT_EPHEMERAL 49152              /* Linux's ip_local_port_range starts lower */

enum { SS_FREE, SS_NEW, SS_LISTEN, SS_CONNECTED };

struct sock {
    int state, domain, nonblock;
    int ns;                               /* AF_UNIX: IPC namespace; AF_INET: network namespace */
    int bound;                            /* holds its name or port (bind, or a client's port) */
    char path[UNIX_PATH_MAX], peer_path[UNIX_PATH_MAX];   /* AF_UNIX names */
    u32 addr, peer_addr;                  /* AF_INET */
    u32 port, peer_port;
    struct sock *peer;                    /* the other end (0: it has closed) */
    int eof, rd_shut, wr_shut;            /* eof: the peer will send no more */
    u32 head, tail;                       /* bytes received so far and taken (mod 2^32) */
    u8  buf[SOCK_BUF];
    struct sock *queue[BACKLOG_MAX];      /* listener: connections not accepted yet */
    int nqueue, backlog;
};
static struct sock socks[NSOCK];

#define ARG1 r->ebx
#define ARG2 r->ecx
#define ARG3 r->edx

static int chan(struct sock *s, int w) { return CHAN_SOCK + 2 * (int)(s - socks) + w; }

static void sleep_on(int ch)
{
    current->state = PROC_BLOCKED;
    current->chan = ch;
    schedule();
}

static struct sock *sock_alloc(int domain, int ns)
{
    for (int i = 0; i < NSOCK; i++)
        if (socks[i].state == SS_FREE) {
            memset(&socks[i], 0, sizeof(socks[i]));
            socks[i].state = SS_NEW;
            socks[i].domain = domain;
            socks[i].ns = ns;
            return &socks[i];
        }
    return 0;
}

int sock_in_ns(int domain, int ns)
{
    int n = 0;
    for (int i = 0; i < NSOCK; i++)
        n += socks[i].state != SS_FREE && socks[i].domain == domain && socks[i].ns == ns;
    return n;
}

/* ---- addresses -------------------------------------------------------- */

/* A socket address from user space, checked: 0 or -errno. */
struct addr { char path[UNIX_PATH_MAX]; u32 addr, port; };

static int get_addr(struct sock *s, u32 uaddr, u32 len, struct addr *a)
{
    u32 want = s->domain == AF_UNIX ? sizeof(struct sockaddr_un) : sizeof(struct sockaddr_in);
    if (len != want) return -EINVAL;
    if (!user_ok(current->pd, uaddr, len)) return -EFAULT;
    if (*(const unsigned short *)uaddr != s->domain) return -EAFNOSUPPORT;
    if (s->domain == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)uaddr;
        a->addr = in->addr;
        a->port = in->port;
        return 0;
    }
    int e = user_string(a->path, uaddr + 2, UNIX_PATH_MAX);
    return e ? e : a->path[0] ? 0 : -EINVAL;
}

/* Writes s's own address (peer = 0) or its peer's to user space. */
static int put_addr(struct sock *s, int peer, u32 uaddr, u32 len)
{
    u32 want = s->domain == AF_UNIX ? sizeof(struct sockaddr_un) : sizeof(struct sockaddr_in);
    if (len < want) return -EINVAL;
    if (!user_ok(current->pd, uaddr, want)) return -EFAULT;
    memset((void *)uaddr, 0, want);
    *(unsigned short *)uaddr = (unsigned short)s->domain;
    if (s->domain == AF_UNIX) {
        const char *p = peer ? s->peer_path : s->path;
        memcpy((char *)uaddr + 2, p, strlen(p) + 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)uaddr;
        in->addr = peer ? s->peer_addr : s->addr;
        in->port = (unsigned short)(peer ? s->peer_port : s->port);
    }
    return 0;
}

/* A bound socket of the namespace that holds this name (AF_UNIX) or this
 * port on an overlapping address (AF_INET: INADDR_ANY overlaps them all). */
static struct sock *lookup(int domain, int ns, const struct addr *a, int listening)
{
    for (int i = 0; i < NSOCK; i++) {
        struct sock *s = &socks[i];
        if (s->state == SS_FREE || s->domain != domain || s->ns != ns) continue;
        if (listening ? s->state != SS_LISTEN : !s->bound) continue;
        if (domain == AF_UNIX ? !strcmp(s->path, a->path)
            : s->port == a->port && (!s->addr || !a->addr || s->addr == a->addr))
            return s;
    }
    return 0;
}

/* The first free port from PORT_EPHEMERAL on, for `addr`. */
static int ephemeral(struct sock *s, u32 addr)
{
    struct addr a = { "", addr, PORT_EPHEMERAL };
    for (; a.port <= 65535; a.port++)
        if (!lookup(AF_INET, s->ns, &a, 0)) {
            s->addr = addr;
            s->port = a.port;
            s->bound = 1;
            return 0;
        }
    return -EADDRINUSE;
}

/* ---- the calls ---------------------------------------------------------- */

static int sys_socket(u32 domain, u32 type)
{
    if (domain != AF_UNIX && domain != AF_INET) return -EAFNOSUPPORT;
    if ((type & ~(u32)SOCK_NONBLOCK) != SOCK_STREAM) return -EPROTOTYPE;
    struct sock *s = sock_alloc((int)domain, domain == AF_UNIX ? current->ipcns : current->netns);
    if (!s) return -ENFILE;
    s->nonblock = (type & SOCK_NONBLOCK) != 0;
    int fd = fd_install_sock(s);
    if (fd < 0) s->state = SS_FREE;
    return fd;
}

static int sys_bind(struct sock *s, u32 uaddr, u32 len)
{
    struct addr a;
    int e = get_addr(s, uaddr, len, &a);
    if (e) return e;
    if (s->bound || s->state != SS_NEW) return -EINVAL;
    if (s->domain == AF_INET) {
        if (a.port > 65535) return -EINVAL;
        if (a.addr && !net_is_local(s->ns, a.addr)) return -EADDRNOTAVAIL;
        if (!a.port) return ephemeral(s, a.addr);
    }
    if (lookup(s->domain, s->ns, &a, 0)) return -EADDRINUSE;
    memcpy(s->path, a.path, UNIX_PATH_MAX);
    s->addr = a.addr;
    s->port = a.port;
    s->bound = 1;
    return 0;
}

static int sys_listen(struct sock *s, int backlog)
{
    if (s->state != SS_NEW && s->state != SS_LISTEN) return -EINVAL;
    if (!s->bound) {
        if (s->domain == AF_UNIX) return -EINVAL;     /* a local listener needs a name */
        int e = ephemeral(s, INADDR_ANY);
        if (e) return e;
    }
    s->backlog = backlog < 1 ? 1 : backlog > BACKLOG_MAX ? BACKLOG_MAX : backlog;
    s->state = SS_LISTEN;
    return 0;
}

/* Connects s to listener l (in namespace ns, reached at a): the listener's
 * end is made and queued for accept(). 0 or -ENFILE. */
static int join(struct sock *s, struct sock *l, const struct addr *a, int ns)
{
    struct sock *t = sock_alloc(s->domain, ns);     /* the listener's end */
    if (!t) return -ENFILE;
    t->state = s->state = SS_CONNECTED;
    t->peer = s;
    s->peer = t;
    memcpy(t->path, l->path, UNIX_PATH_MAX);
    memcpy(t->peer_path, s->path, UNIX_PATH_MAX);
    memcpy(s->peer_path, l->path, UNIX_PATH_MAX);
    t->addr = s->peer_addr = a->addr;
    t->port = s->peer_port = a->port;
    t->peer_addr = s->addr;
    t->peer_port = s->port;
    l->queue[l->nqueue++] = t;
    wakeup(chan(l, 0));
    return 0;
}

static int sys_connect(struct sock *s, u32 uaddr, u32 len)
{
    struct addr a;
    int e = get_addr(s, uaddr, len, &a);
    if (e) return e;
    struct sock *l;
    int ns = s->ns;
    u32 src = 0;
    for (;;) {
        if (s->state == SS_CONNECTED) return -EISCONN;
        if (s->state != SS_NEW) return -EINVAL;
        if (s->domain == AF_INET && (e = net_route(s->ns, a.addr, &ns, &src))) return e;
        if (!(l = lookup(s->domain, ns, &a, 1)))
            return s->domain == AF_UNIX && !lookup(AF_UNIX, ns, &a, 0) ? -ENOENT : -ECONNREFUSED;
        if (l->nqueue < l->backlog) break;
        if (s->nonblock) return -EAGAIN;
        sleep_on(chan(l, 1));                        /* until the listener accepts one */
    }
    if (s->domain == AF_INET && !s->bound && (e = ephemeral(s, src))) return e;
    if (s->domain == AF_INET && !s->addr) s->addr = src;
    return join(s, l, &a, ns);
}

static int sys_accept(struct sock *l, u32 uaddr, u32 len)
{
    if (l->state != SS_LISTEN) return -EINVAL;
    if (uaddr && len < (l->domain == AF_UNIX ? sizeof(struct sockaddr_un) : sizeof(struct sockaddr_in)))
        return -EINVAL;
    if (uaddr && !user_ok(current->pd, uaddr, len)) return -EFAULT;
    while (!l->nqueue) {
        if (l->nonblock) return -EAGAIN;
        sleep_on(chan(l, 0));
    }
    struct sock *t = l->queue[0];
    int fd = fd_install_sock(t);
    if (fd < 0) return fd;                           /* it stays queued */
    l->nqueue--;
    for (int i = 0; i < l->nqueue; i++) l->queue[i] = l->queue[i + 1];
    t->nonblock = l->nonblock;
    wakeup(chan(l, 1));                              /* a blocked connect() may queue now */
    if (uaddr) put_addr(t, 1, uaddr, len);
    return fd;
}

int sock_send(struct sock *s, const u8 *buf, u32 len)
{
    if (s->state != SS_CONNECTED) return -ENOTCONN;
    if (s->wr_shut) return -EPIPE;
    u32 n = 0;
    while (n < len) {
        struct sock *p = s->peer;                    /* re-read: it may have closed meanwhile */
        if (!p || p->rd_shut) return n ? (int)n : -EPIPE;
        if (p->head - p->tail == SOCK_BUF) {
            if (s->nonblock) return n ? (int)n : -EAGAIN;
            sleep_on(chan(p, 1));
            continue;
        }
        while (n < len && p->head - p->tail < SOCK_BUF) p->buf[p->head++ % SOCK_BUF] = buf[n++];
        wakeup(chan(p, 0));
    }
    return (int)n;
}

int sock_recv(struct sock *s, u8 *buf, u32 len)
{
    if (s->state != SS_CONNECTED) return -ENOTCONN;
    if (!len) return 0;
    while (s->head == s->tail) {
        if (s->eof || s->rd_shut) return 0;          /* end of stream */
        if (s->nonblock) return -EAGAIN;
        sleep_on(chan(s, 0));
    }
    u32 n = 0;
    while (n < len && s->tail != s->head) buf[n++] = s->buf[s->tail++ % SOCK_BUF];
    wakeup(chan(s, 1));                              /* room for the peer's send() */
    return (int)n;
}

static int sys_shutsock(struct sock *s, u32 how)
{
    if (how > SHUT_RDWR) return -EINVAL;
    if (s->state != SS_CONNECTED) return -ENOTCONN;
    if (how != SHUT_WR) {
        s->rd_shut = 1;
        s->tail = s->head;                           /* unread bytes are dropped */
        wakeup(chan(s, 0));
        wakeup(chan(s, 1));                          /* the peer's writers get -EPIPE */
    }
    if (how != SHUT_RD) {
        s->wr_shut = 1;
        if (s->peer) { s->peer->eof = 1; wakeup(chan(s->peer, 0)); }
    }
    return 0;
}

/* The other end of t is told that t has gone. */
static void disconnect(struct sock *t)
{
    if (t->peer) {
        t->peer->peer = 0;
        t->peer->eof = 1;
        wakeup(chan(t->peer, 0));                    /* its readers see the end */
    }
    wakeup(chan(t, 1));                              /* its writers into t get -EPIPE */
    t->state = SS_FREE;
}

void sock_close(struct sock *s)
{
    if (s->state == SS_LISTEN) {
        for (int i = 0; i < s->nqueue; i++) disconnect(s->queue[i]);
        s->nqueue = 0;
        wakeup(chan(s, 1));                          /* blocked connect()s: refused */
    }
    disconnect(s);
}

/* ch[0], ch[1]: the channels whose wakeup() may change the answer: new
 * bytes, the end, a queued connection (chan(s, 0)); room in the peer's
 * buffer (chan(peer, 1)). */
int sock_ready(struct sock *s, int *ch)
{
    ch[0] = chan(s, 0);
    ch[1] = s->peer ? chan(s->peer, 1) : ch[0];
    if (s->state == SS_LISTEN) return s->nqueue ? POLLIN : 0;
    if (s->state != SS_CONNECTED) return POLLHUP;
    int r = 0;
    if (s->head != s->tail || s->eof || s->rd_shut) r |= POLLIN;
    if (!s->peer) r |= POLLHUP | POLLOUT;            /* a write tells the error */
    else if (!s->wr_shut && SOCK_BUF - (s->peer->head - s->peer->tail) >= SOCK_BUF / 2) r |= POLLOUT;
    return r;
}

int sock_syscall(struct regs *r)
{
    int ret;
    struct sock *s = 0;
    if (r->eax == SYS_SOCKET) {
        r->eax = (u32)sys_socket(ARG1, ARG2);
        return 1;
    }
    if (r->eax < SYS_BIND || r->eax > SYS_SOCKNAME || r->eax == SYS_POLL) return 0;
    if (!(s = fd_sock(ARG1, &ret))) { r->eax = (u32)ret; return 1; }
    switch (r->eax) {
    case SYS_BIND:     ret = sys_bind(s, ARG2, ARG3); break;
    case SYS_LISTEN:   ret = sys_listen(s, (int)ARG2); break;
    case SYS_ACCEPT:   ret = sys_accept(s, ARG2, ARG3); break;
    case SYS_CONNECT:  ret = sys_connect(s, ARG2, ARG3); break;
    case SYS_SHUTSOCK: ret = sys_shutsock(s, ARG2); break;
    case SYS_SOCKNAME: ret = put_addr(s, 0, ARG2, ARG3); break;
    default:                                         /* SYS_SEND, SYS_RECV */
        if (!user_ok(current->pd, ARG2, ARG3)) { ret = -EFAULT; break; }
        ret = r->eax == SYS_SEND ? sock_send(s, (const u8 *)ARG2, ARG3) : sock_recv(s, (u8 *)ARG2, ARG3);
    }
    r->eax = (u32)ret;
    return 1;
}

/* ---- connections the kernel makes for the host (hsock.c, --publish) ---- */

/* A non-blocking connection from 127.0.0.1 to the listener on `port` of
 * network namespace ns, owned by the kernel (no descriptor), in *out: 0,
 * -ECONNREFUSED (nobody listens there), -EAGAIN (its queue is full: try
 * again later, as a client's SYN is retried) or -ENFILE. */
int sock_kconnect(int ns, u32 port, struct sock **out)
{
    struct addr a = { "", INADDR_LOOPBACK, port };
    struct sock *l = lookup(AF_INET, ns, &a, 1), *s;
    if (!l) return -ECONNREFUSED;
    if (l->nqueue >= l->backlog) return -EAGAIN;
    if (!(s = sock_alloc(AF_INET, ns))) return -ENFILE;
    s->nonblock = 1;
    int e = ephemeral(s, INADDR_LOOPBACK);
    if (e || (e = join(s, l, &a, ns))) { s->state = SS_FREE; return e; }
    *out = s;
    return 0;
}

/* Bytes s may send now without waiting (0 when its peer has gone). */
int sock_kroom(struct sock *s)
{
    struct sock *p = s->peer;
    return p && !p->rd_shut && !s->wr_shut ? (int)(SOCK_BUF - (p->head - p->tail)) : 0;
}

/* s will send no more (shutsock(SHUT_WR)). */
void sock_kshut(struct sock *s) { if (!s->wr_shut) sys_shutsock(s, SHUT_WR); }

/* True when the other end has finished and every byte it sent has been read. */
int sock_kdone(struct sock *s) { return (!s->peer || s->eof) && s->head == s->tail; }
