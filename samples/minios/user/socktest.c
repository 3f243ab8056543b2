/*
 * socktest.c - checks the socket rules of socket.c one by one from a single
 * process (a connect() completes as soon as the listener queues it, so one
 * process can play both ends) and prints each call's answer with the one it
 * must get: names and ports, queues, data both ways, end of stream, -EPIPE,
 * non-blocking calls, poll(), and bad arguments. Exit status 1 if any differs.
 */
#include "ulib.h"

static int failed;
static char buf[2048];

static void expect(const char *what, int got, int want)
{
    printf("  %-40s -> %d (%s)%s\n", what, got, got < 0 ? strerror(got) : "ok",
           got == want ? "" : "   WRONG");
    if (got != want) failed = 1;
}

static struct sockaddr_un un(const char *path)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.family = AF_UNIX;
    memcpy(a.path, path, strlen(path) + 1);
    return a;
}

static struct sockaddr_in in(unsigned int addr, unsigned short port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.family = AF_INET;
    a.addr = addr;
    a.port = port;
    return a;
}

static void local(void)
{
    printf("socktest: local sockets\n");
    struct sockaddr_un a = un("/run/test.sock"), got;
    int l = socket(AF_UNIX, SOCK_STREAM), c = socket(AF_UNIX, SOCK_STREAM);
    int other = socket(AF_UNIX, SOCK_STREAM);
    expect("bind(/run/test.sock)", bind(l, &a, sizeof(a)), 0);
    expect("bind(the same name again)", bind(other, &a, sizeof(a)), -EADDRINUSE);
    expect("connect(before listen)", connect(c, &a, sizeof(a)), -ECONNREFUSED);
    expect("listen(backlog 2)", listen(l, 2), 0);
    struct sockaddr_un none = un("/run/none");
    expect("connect(/run/none)", connect(c, &none, sizeof(none)), -ENOENT);
    expect("connect(/run/test.sock): queued", connect(c, &a, sizeof(a)), 0);
    expect("connect(again)", connect(c, &a, sizeof(a)), -EISCONN);
    int s = accept(l, &got, sizeof(got));
    expect("accept() gives a descriptor", s > 0, 1);
    expect("sockname(accepted) is the listener's", sockname(s, &got, sizeof(got)) == 0
           && !strcmp(got.path, "/run/test.sock"), 1);
    expect("send(client, \"ping\")", send(c, "ping", 4), 4);
    expect("recv(server)", recv(s, buf, sizeof(buf)), 4);
    expect("write(server, \"pong!\") (write = send)", write(s, "pong!", 5), 5);
    expect("read(client) (read = recv)", read(c, buf, sizeof(buf)), 5);
    expect("shutsock(client, SHUT_WR)", shutsock(c, SHUT_WR), 0);
    expect("recv(server): end of stream", recv(s, buf, sizeof(buf)), 0);
    expect("send(client) after SHUT_WR", send(c, "x", 1), -EPIPE);
    expect("send(server): still open that way", send(s, "late", 4), 4);
    expect("close(server)", close(s), 0);
    expect("recv(client): the bytes left", recv(c, buf, sizeof(buf)), 4);
    expect("recv(client): then the end", recv(c, buf, sizeof(buf)), 0);
    close(c);
    /* a listener closed with a connection it had not accepted */
    c = socket(AF_UNIX, SOCK_STREAM);
    connect(c, &a, sizeof(a));
    expect("close(listener) with one queued", close(l), 0);
    expect("recv(its client): end of stream", recv(c, buf, 16), 0);
    expect("send(its client)", send(c, "x", 1), -EPIPE);
    expect("bind(the freed name)", bind(other, &a, sizeof(a)), 0);
    close(c);
    close(other);
}

static void nonblocking(void)
{
    printf("socktest: SOCK_NONBLOCK and poll\n");
    struct sockaddr_un a = un("/run/nb");
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK);
    bind(l, &a, sizeof(a));
    listen(l, 1);
    expect("accept(nobody waiting)", accept(l, 0, 0), -EAGAIN);
    struct pollfd p = { l, POLLIN, 0 };
    unsigned int t0 = uptime();
    expect("poll(listener, 5 ticks): nothing", poll(&p, 1, 5), 0);
    expect("  ... and it slept >= 5 ticks", uptime() - t0 >= 5, 1);
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK), c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK);
    expect("connect(first)", connect(c, &a, sizeof(a)), 0);
    expect("connect(second): backlog 1 is full", connect(c2, &a, sizeof(a)), -EAGAIN);
    expect("poll(listener): POLLIN", poll(&p, 1, -1) == 1 && p.revents == POLLIN, 1);
    int s = accept(l, 0, 0);
    expect("recv(nothing sent yet)", recv(s, buf, 16), -EAGAIN);
    expect("send(2000 bytes): the buffer holds 1024", send(c, buf, 2000), 1024);
    expect("send(more)", send(c, buf, 10), -EAGAIN);
    struct pollfd q[2] = { { c, POLLOUT, 0 }, { s, POLLIN, 0 } };
    expect("poll(full client, server): 1 ready", poll(q, 2, 0), 1);
    expect("  ... the server, POLLIN", q[1].revents == POLLIN && !q[0].revents, 1);
    expect("recv(1024)", recv(s, buf, sizeof(buf)), 1024);
    expect("poll(client): POLLOUT again", poll(q, 1, 0), 1);
    close(s);
    q[0].events = POLLIN;
    expect("poll(client) after its peer closed", poll(q, 1, 0) == 1 && (q[0].revents & POLLHUP), 1);
    close(c);
    close(c2);
    close(l);
}

static void network(void)
{
    printf("socktest: network sockets (this namespace)\n");
    struct sockaddr_in a = in(INADDR_LOOPBACK, 80), got;
    int l = socket(AF_INET, SOCK_STREAM), c = socket(AF_INET, SOCK_STREAM);
    int o = socket(AF_INET, SOCK_STREAM);
    expect("bind(127.0.0.1:80)", bind(l, &a, sizeof(a)), 0);
    struct sockaddr_in any = in(INADDR_ANY, 80);
    expect("bind(0.0.0.0:80): overlaps", bind(o, &any, sizeof(any)), -EADDRINUSE);
    struct sockaddr_in far = in(0x0a000009, 80);
    expect("bind(10.0.0.9): not our address", bind(o, &far, sizeof(far)), -EADDRNOTAVAIL);
    listen(l, 4);
    struct sockaddr_in p81 = in(INADDR_LOOPBACK, 81);
    expect("connect(127.0.0.1:81): nobody", connect(c, &p81, sizeof(p81)), -ECONNREFUSED);
    expect("connect(10.0.0.9:80): no route", connect(c, &far, sizeof(far)), -ENETUNREACH);
    expect("connect(127.0.0.1:80)", connect(c, &a, sizeof(a)), 0);
    int s = accept(l, &got, sizeof(got));
    char ip[16];
    printf("  accepted from %s:%u\n", inet_format(got.addr, ip), got.port);
    expect("the client got the first free port", got.port, 49152);
    expect("send + recv", send(c, "hi", 2) == 2 && recv(s, buf, 8) == 2, 1);
    close(c);
    close(s);
    close(l);
    close(o);
}

static void bad(void)
{
    printf("socktest: bad arguments\n");
    int p[2], u = socket(AF_UNIX, SOCK_STREAM);
    pipe(p);
    struct sockaddr_un a = un("/run/x");
    expect("socket(AF 3)", socket(3, SOCK_STREAM), -EAFNOSUPPORT);
    expect("socket(AF_UNIX, type 2)", socket(AF_UNIX, 2), -EPROTOTYPE);
    expect("bind(a pipe)", bind(p[0], &a, sizeof(a)), -ENOTSOCK);
    expect("bind(fd 99)", bind(99, &a, sizeof(a)), -EBADF);
    expect("bind(length 5)", bind(u, &a, 5), -EINVAL);
    expect("bind(kernel address)", bind(u, (void *)0x100000, sizeof(a)), -EFAULT);
    struct sockaddr_in i4 = in(INADDR_LOOPBACK, 1);
    expect("bind(AF_INET address, AF_UNIX socket)", bind(u, &i4, sizeof(a)), -EAFNOSUPPORT);
    expect("listen(unbound local socket)", listen(u, 1), -EINVAL);
    expect("accept(not listening)", accept(u, 0, 0), -EINVAL);
    expect("recv(not connected)", recv(u, buf, 1), -ENOTCONN);
    expect("send(not connected)", send(u, buf, 1), -ENOTCONN);
    expect("shutsock(how 7)", shutsock(u, 7), -EINVAL);
    expect("recv(kernel buffer)", recv(u, (void *)0x100000, 4), -EFAULT);
    expect("poll(17 descriptors)", poll(0, 17, 0), -EINVAL);
    expect("poll(kernel address)", poll((struct pollfd *)0x100000, 1, 0), -EFAULT);
    struct pollfd n = { 99, POLLIN, 0 };
    expect("poll(fd 99): POLLNVAL", poll(&n, 1, 0) == 1 && n.revents == POLLNVAL, 1);
    expect("netjoin(\"br\", 127.0.0.2)", netjoin("br", 0x7f000002, 8), -EINVAL);
    expect("netjoin(\"br\", 10.0.0.0/24: network)", netjoin("br", 0x0a000000, 24), -EINVAL);
    expect("netjoin(\"br\", prefix 31)", netjoin("br", 0x0a000001, 31), -EINVAL);
    expect("netif(-1)", netif(-1, 0), -EFAULT);
    close(u);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    local();
    nonblocking();
    network();
    bad();
    printf("socktest: %s\n", failed ? "some calls got the WRONG answer" : "every call got its answer");
    return failed;
}
