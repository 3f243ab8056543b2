/*
 * dockerd.c - the engine's daemon, a small dockerd: it serves an HTTP/1.1
 * REST API shaped like the Docker Engine API on the local socket
 * /var/run/docker.sock and on TCP port 2375 of its network namespace, and
 * runs containers with the kernel's pieces (isolate(): PID, mount with a
 * layered root, UTS, IPC, network namespaces and a cgroup).
 *
 * Endpoints (the first slice of issue 14; answers are JSON):
 *   GET /_ping, GET /version; /images/...: pull, push, tag, untag, list (dockerd_images.c)
 *   POST /build?t=NAME[:TAG]&remote=DIR: docker build from DIR/Dockerfile (dockerd_build.c)
 *   GET /containers/json[?all=1]
 *   POST /containers/create[?name=NAME]  {"Image":"box","Cmd":["hello"],
 *        "HostConfig":{"Memory":BYTES,"NetworkMode":"BRIDGE"}}   -> 201 {"Id":...}
 *   POST /containers/{id}/start, POST /containers/{id}/wait (answers when it exits),
 *   POST /containers/{id}/stop (kill(): SIGKILL at once, no grace period; 204 once it has exited),
 *   GET /containers/{id}/logs (plain text, not Docker's multiplexed stream),
 *   GET /containers/{id}/json (inspect: state, pid, hostname, network address),
 *   DELETE /containers/{id}
 *   GET /volumes, POST /volumes/create, GET/DELETE /volumes/NAME (dockerd_vol.c)
 *   GET /networks, POST /networks/create, GET/DELETE /networks/{id}, POST /networks/{id}/connect
 *   (dockerd_net.c); Config.Env (dockerd_opts.c)
 * {id} is the Id, a prefix of it, or the name. Errors: 400 (malformed request
 * or body), 404, 409, 500, each with {"message": ...}; never a crash.
 * One process serves every client with poll(): the listeners, the client
 * connections (one request each, then the connection closes) and the pipes
 * that carry each running container's output (both its descriptors 1 and 2;
 * it has no 0) into a log kept here. The end of that pipe means the
 * container has exited: wait() gives its status and the /wait requests
 * pending on it are answered. A container's root is /overlays/NAME over
 * its image's files (a pulled image's unpacked layers, or a directory of
 * /images; kept after rm, like an image layer cache); its hostname and
 * group are its name. Without a Cmd, create takes the image's.
 */
#include "http.h"

#define NCONN   4
#define NCONT   5                   /* 0-2, 2 listeners, 4 clients, 5 pipes, 2 while starting: 16 fds */
#define REQ_MAX 1024
#define LOG_MAX 1024

enum { CREATED, RUNNING, EXITED };
static const char *const states[] = { "created", "running", "exited" };

struct container {
    int used, state, pid, status, out, mem_pages;
    char id[12], name[NAME_MAX + 1], image[NAME_MAX + 1], cmd[ARGS_MAX], net[BRIDGE_MAX];
    char log[LOG_MAX];
    int nlog;
};
static struct container conts[NCONT];
static unsigned int created;

struct conn {                       /* waits: container + 1; tcp: came on port 2375 */
    int fd, n, waits, stop, tcp;
    char line[96];                  /* "METHOD TARGET" once read (route() cuts req up), cut at 95 */
    char req[REQ_MAX + 1];
};
static struct conn conns[NCONN];
static char resp[2048];

/* The request log, like the "Calling GET /containers/json" lines of
 * dockerd --debug (journalctl -u docker): one line per answered request,
 * "N unix|tcp METHOD TARGET -> STATUS", in /var/log/dockerd.log.
 * No time stamp: the outputs recorded under QEMU must not depend on its
 * timer. The GUI's Containers view shows its last lines. Past LOG_FILE_MAX bytes it
 * starts again (a rotation that keeps no old file). */
#define LOG_FILE     "/var/log/dockerd.log"
#define LOG_FILE_MAX 3072
static int logfd = -1, logged;
static unsigned int served;

static void log_request(const struct conn *c, int code)
{
    if (logfd < 0 || logged > LOG_FILE_MAX) {
        if (logfd >= 0) close(logfd);
        logfd = open(LOG_FILE, O_WRONLY | O_CREAT | O_TRUNC);
        logged = 0;
        if (logfd < 0) return;
    }
    char line[112];
    struct sbuf b = { line, 0, sizeof(line) - 1, 0 };   /* room left for the newline */
    sfmt(&b, "%u %s %s -> %d", ++served, c->tcp ? "tcp" : "unix",
         c->line[0] ? c->line : "? (malformed)", code);
    line[b.n++] = '\n';
    if (write(logfd, line, b.n) == b.n) logged += b.n;
}

static void reply(struct conn *c, int code, const char *type, const char *body)
{
    static const char *const text[] = { "200 OK", "201 Created", "204 No Content",
        "400 Bad Request", "404 Not Found", "409 Conflict", "500 Internal Server Error", "403 Forbidden" };
    const char *status = text[code == 200 ? 0 : code == 201 ? 1 : code == 204 ? 2 : code == 400 ? 3
                             : code == 404 ? 4 : code == 409 ? 5 : code == 403 ? 7 : 6];
    char head[160];
    struct sbuf h = { head, 0, sizeof(head), 0 };
    int len = (int)strlen(body);
    log_request(c, code);
    sfmt(&h, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
         status, type, len);
    send_all(c->fd, head, h.n);
    send_all(c->fd, body, len);
    close(c->fd);
    c->fd = -1;
}

static void error(struct conn *c, int code, const char *msg)
{
    struct sbuf b = { resp, 0, sizeof(resp), 0 };
    sfmt(&b, "{\"message\":\"%s\"}\n", msg);
    reply(c, code, "application/json", resp);
}

static struct container *find(const char *ref)
{
    int n = (int)strlen(ref);
    for (int i = 0; n && i < NCONT; i++)
        if (conts[i].used && (!strcmp(conts[i].name, ref) || !strncmp(conts[i].id, ref, (unsigned int)n)))
            return &conts[i];
    return 0;
}

#include "dockerd_vol.c"            /* volumes: /volumes, HostConfig.Binds */
#include "dockerd_opts.c"           /* Config.Env */
#include "dockerd_net.c"            /* networks: /networks, NetworkMode, /etc/hosts */

/* FNV-1a (32 bits) of the name and a counter: the container's Id, in hex. */
static void make_id(struct container *k)
{
    unsigned int h = 2166136261u;
    for (const char *p = k->name; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ ++created) * 16777619u;
    struct sbuf b = { k->id, 0, sizeof(k->id), 0 };
    sfmt(&b, "%08x", h);
}

#include "dockerd_images.c"                        /* images: store, pull, push (img) */
#include "dockerd_build.c"                         /* POST /build: Dockerfile steps, layers */

static void list_containers(struct conn *c, int all)
{
    struct sbuf b = { resp, 0, sizeof(resp), 0 };
    int first = 1;
    sfmt(&b, "[");
    for (int i = 0; i < NCONT; i++) {
        struct container *k = &conts[i];
        if (!k->used || (!all && k->state != RUNNING)) continue;
        sfmt(&b, "%s{\"Id\":\"%s\",\"Names\":[\"/%s\"],\"Image\":\"%s\",\"Command\":\"%s\","
             "\"State\":\"%s\",\"ExitCode\":%d}", first ? "" : ",", k->id, k->name, k->image,
             k->cmd, states[k->state], k->status);
        first = 0;
    }
    sfmt(&b, "]\n");
    reply(c, 200, "application/json", resp);
}

static void create(struct conn *c, const char *query, const char *body)
{
    struct container *k = 0;
    for (int i = 0; i < NCONT && !k; i++) if (!conts[i].used) k = &conts[i];
    if (!k) { error(c, 500, "too many containers"); return; }
    memset(k, 0, sizeof(*k));
    if (json_str(body, "Image", k->image, sizeof(k->image)) || !k->image[0]) {
        error(c, 400, "the body needs an Image"); return;
    }
    const char *cmd = strstr(body, "\"Cmd\"");                 /* ["prog","arg",...] -> "prog arg" */
    const char *p = cmd ? strchr(cmd, '[') : 0;
    int n = 0;
    while (p && *p && *p != ']' && n < ARGS_MAX - 2) {
        if (*p++ != '"') continue;
        if (n) k->cmd[n++] = ' ';
        while (*p && *p != '"' && n < ARGS_MAX - 2) k->cmd[n++] = *p++;
        if (*p) p++;
    }
    k->cmd[n] = 0;
    char path[PATH_MAX], dcmd[ARGS_MAX];
    if (image_lookup(k->image, path, dcmd, sizeof(dcmd))) { error(c, 404, "no such image"); return; }
    if (!n) memcpy(k->cmd, dcmd, sizeof(dcmd));            /* the image's CMD */
    if (!k->cmd[0]) { error(c, 400, "the body needs a Cmd (the image has none)"); return; }
    const char *q = query ? strstr(query, "name=") : 0;
    struct sbuf nb = { k->name, 0, sizeof(k->name), 0 };
    if (q) for (q += 5; *q && *q != '&' && *q != '/'; q++) sbuf_put(*q, &nb);
    else sfmt(&nb, "c%u", created + 1);
    if (!k->name[0] || nb.full) { error(c, 400, "bad name"); return; }
    if (find(k->name)) { error(c, 409, "the name is already in use"); return; }
    int mem = json_num(body, "Memory");
    k->mem_pages = mem > 0 ? (mem + 4095) / 4096 : 0;
    if (json_str(body, "NetworkMode", k->net, sizeof(k->net))) k->net[0] = 0;
    const char *bad = vol_parse(k, body);
    if (!bad) bad = opts_parse(k, body);
    if (bad) { error(c, 400, bad); return; }
    if ((bad = net_parse(k))) { error(c, 404, bad); return; }
    make_id(k);
    k->used = 1;
    k->state = CREATED;
    k->out = -1;
    struct sbuf r = { resp, 0, sizeof(resp), 0 };
    sfmt(&r, "{\"Id\":\"%s\",\"Warnings\":[]}\n", k->id);
    reply(c, 201, "application/json", resp);
}

static void start(struct conn *c, struct container *k)
{
    if (k->state != CREATED) { error(c, 409, "the container has already been started"); return; }
    char path[PATH_MAX], lower[PATH_MAX];
    struct sbuf pb = { path, 0, sizeof(path), 0 };
    int w = 0;
    while (k->cmd[w] && k->cmd[w] != ' ') w++;
    sfmt(&pb, "%s", strchr(k->cmd, '/') && strchr(k->cmd, '/') < k->cmd + w ? "" : "/bin/");
    for (int i = 0; i < w; i++) sbuf_put(k->cmd[i], &pb);
    char dcmd[ARGS_MAX];
    if (image_lookup(k->image, lower, dcmd, sizeof(dcmd))) { error(c, 404, "no such image"); return; }
    struct isolate_args a;
    memset(&a, 0, sizeof(a));
    a.path = path;
    a.args = k->cmd;
    a.ns = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
    a.lower = lower;
    a.layer = a.hostname = a.group = k->name;
    a.mem_max = k->mem_pages;
    opts_apply(k, &a);
    net_apply(k, &a);                                /* eth0, /etc/hosts */
    int p[2], r = vol_mount(k);
    if (r < 0) { error(c, 500, strerror(r)); return; }
    if ((r = pipe(p)) < 0) { error(c, 500, strerror(r)); return; }
    dup2(p[1], 1);                                   /* the container's 1 and 2: the pipe */
    dup2(p[1], 2);
    close(p[1]);
    int pid = isolate(&a);
    dup2(0, 1);                                      /* ours: nowhere again (see main) */
    dup2(0, 2);
    if (pid < 0) { close(p[0]); error(c, 500, strerror(pid)); return; }
    k->pid = pid;
    k->out = p[0];
    k->state = RUNNING;
    net_started(k);                                  /* eth1 */
    reply(c, 204, "text/plain", "");
}

static void inspect(struct conn *c, struct container *k)
{
    struct sbuf b = { resp, 0, sizeof(resp), 0 };
    sfmt(&b, "{\"Id\":\"%s\",\"Name\":\"/%s\",\"State\":{\"Status\":\"%s\",\"Pid\":%d,"
         "\"ExitCode\":%d},\"Config\":{\"Image\":\"%s\",\"Cmd\":\"%s\",\"Hostname\":\"%s\"",
         k->id, k->name, states[k->state], k->pid, k->status, k->image, k->cmd, k->name);
    opts_inspect(&b, k);
    sfmt(&b, "},\"HostConfig\":{\"Memory\":%d,\"NanoCpus\":%d},", k->mem_pages * 4096, opts[k - conts].cpu_max * 10000);
    vol_inspect(&b, k);
    net_inspect(&b, k);
    sfmt(&b, "}\n");
    reply(c, 200, "application/json", resp);
}

static void answer_wait(struct conn *c, struct container *k)
{
    struct sbuf b = { resp, 0, sizeof(resp), 0 };
    sfmt(&b, "{\"StatusCode\":%d}\n", k->status);
    reply(c, 200, "application/json", resp);
}

/* The container's output pipe is readable: keep the bytes, or it has exited. */
static void drain(struct container *k)
{
    char buf[256];
    int n = read(k->out, buf, sizeof(buf));
    for (int i = 0; i < n && k->nlog < LOG_MAX - 1; i++) k->log[k->nlog++] = buf[i];
    if (n > 0) return;
    close(k->out);
    k->out = -1;
    wait(k->pid, &k->status);
    k->state = EXITED;
    for (int i = 0; i < NCONN; i++)
        if (conns[i].fd >= 0 && conns[i].waits == k - conts + 1) {
            if (conns[i].stop) reply(&conns[i], 204, "text/plain", "");
            else answer_wait(&conns[i], k);
        }
}

static void route(struct conn *c, char *method, char *target, const char *body)
{
    char *query = strchr(target, '?');
    if (query) *query++ = 0;
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (get && !strcmp(target, "/_ping")) { reply(c, 200, "text/plain", "OK"); return; }
    if (get && !strcmp(target, "/version")) {
        reply(c, 200, "application/json", "{\"Version\":\"0.1-minios\",\"ApiVersion\":\"1.43\","
              "\"Os\":\"minios\",\"Arch\":\"i386\",\"KernelVersion\":\"minios 0.1\"}\n");
        return;
    }
    if (get && !strcmp(target, "/images/json")) { list_images(c); return; }
    if (get && !strcmp(target, "/containers/json")) {
        list_containers(c, query && strstr(query, "all=1") != 0);
        return;
    }
    if (post && !strcmp(target, "/containers/create")) { create(c, query, body); return; }
    if (post && !strcmp(target, "/images/create")) { pull(c, query); return; }
    if (post && !strcmp(target, "/build")) { build(c, query); return; }
    if (!strncmp(target, "/images/", 8)) { route_images(c, method, target + 8, query); return; }
    if (!strcmp(target, "/networks") || !strncmp(target, "/networks/", 10)) {
        networks(c, method, target[9] ? target + 10 : target + 9, body);
        return;
    }
    if (!strcmp(target, "/volumes") || !strncmp(target, "/volumes/", 9)) {
        volumes(c, method, target[8] ? target + 9 : "", body);
        return;
    }
    if (strncmp(target, "/containers/", 12)) { error(c, 404, "page not found"); return; }
    char *ref = target + 12, *op = strchr(ref, '/');
    if (op) *op++ = 0;
    struct container *k = find(ref);
    if (!k) { error(c, 404, "no such container"); return; }
    if (!op && !strcmp(method, "DELETE")) {
        if (k->state == RUNNING) { error(c, 409, "the container is running"); return; }
        vol_unmount(k);
        k->used = 0;
        net_hosts();
        reply(c, 204, "text/plain", "");
    } else if (op && post && !strcmp(op, "start")) start(c, k);
    else if (op && post && !strcmp(op, "wait")) {
        if (k->state == EXITED) answer_wait(c, k);
        else c->waits = (int)(k - conts) + 1;        /* answered by drain() */
    } else if (op && post && !strcmp(op, "stop")) {
        if (k->state != RUNNING) { reply(c, 204, "text/plain", ""); return; }
        int r = kill(k->pid);
        if (r < 0) { error(c, 500, strerror(r)); return; }
        c->waits = (int)(k - conts) + 1;             /* 204 when drain() sees it end */
        c->stop = 1;
    } else if (op && get && !strcmp(op, "json")) inspect(c, k);
    else if (op && get && !strcmp(op, "logs")) {
        k->log[k->nlog] = 0;
        reply(c, 200, "text/plain", k->log);
    } else error(c, 404, "page not found");
}

/* A request is complete: "METHOD TARGET HTTP/1.x", headers, then Content-Length bytes. */
static void request(struct conn *c)
{
    c->req[c->n] = 0;
    char *end = strstr(c->req, "\r\n\r\n");
    if (!end) {
        if (c->n == REQ_MAX) error(c, 400, "request too long");
        return;                                      /* wait for more */
    }
    const char *cl = strstr(c->req, "Content-Length:");
    int len = 0;
    if (cl && cl < end) {
        for (cl += 15; *cl == ' '; cl++) {}
        while (*cl >= '0' && *cl <= '9' && len <= REQ_MAX) len = len * 10 + (*cl++ - '0');
    }
    char *body = end + 4;
    if (len > REQ_MAX - (int)(body - c->req)) { error(c, 400, "request too long"); return; }
    if ((int)(c->n - (body - c->req)) < len) return;  /* the body is still coming */
    body[len] = 0;
    char *method = c->req, *target = strchr(method, ' '), *version = target ? strchr(target + 1, ' ') : 0;
    if (!target || !version || strncmp(version + 1, "HTTP/1.", 7) || target[1] != '/') {
        error(c, 400, "malformed request line");
        return;
    }
    *target++ = 0;
    *version = 0;
    struct sbuf l = { c->line, 0, sizeof(c->line), 0 };
    sfmt(&l, "%s %s", method, target);
    route(c, method, target, body);
}

static int listen_on(int fd, const void *addr, int len)
{
    int r = bind(fd, addr, len);
    if (r >= 0) r = listen(fd, NCONN);
    return r;
}

int main(void)
{
    struct sockaddr_un un;
    struct sockaddr_in in;
    memset(&un, 0, sizeof(un));
    memset(&in, 0, sizeof(in));
    un.family = AF_UNIX;
    memcpy(un.path, "/var/run/docker.sock", 21);
    in.family = AF_INET;
    in.port = 2375;
    int lu = socket(AF_UNIX, SOCK_STREAM), li = socket(AF_INET, SOCK_STREAM), r;
    if ((r = listen_on(lu, &un, sizeof(un))) < 0 || (r = listen_on(li, &in, sizeof(in))) < 0) {
        eprintf("dockerd: cannot listen: %s\n", strerror(r));
        return 1;
    }
    /* Like a daemon's /dev/null: 0 is a pipe nobody writes (reads get the end)
     * and 1 and 2 are the same read end (writes fail). The containers inherit
     * 0; 1 and 2 are replaced by their output pipe while they start. */
    int p[2];
    close(0);
    if ((r = pipe(p)) < 0) { eprintf("dockerd: %s\n", strerror(r)); return 1; }
    close(p[1]);
    if (p[0] != 0) { dup2(p[0], 0); close(p[0]); }
    dup2(0, 1);
    dup2(0, 2);
    for (int i = 0; i < NCONN; i++) conns[i].fd = -1;
    mkdir("/var");
    mkdir("/var/log");
    net_init();                                      /* the default network, "bridge" */
    for (;;) {
        struct pollfd fds[2 + NCONN + NCONT];
        int who[2 + NCONN + NCONT], n = 0, room = 0;
        for (int i = 0; i < NCONN; i++) room += conns[i].fd < 0;
        if (room) {                                  /* else new clients wait in the backlog */
            fds[n].fd = lu; who[n++] = -1;
            fds[n].fd = li; who[n++] = -1;
        }
        for (int i = 0; i < NCONN; i++)
            if (conns[i].fd >= 0 && !conns[i].waits) { fds[n].fd = conns[i].fd; who[n++] = i; }
        for (int i = 0; i < NCONT; i++)
            if (conts[i].used && conts[i].out >= 0) { fds[n].fd = conts[i].out; who[n++] = 100 + i; }
        for (int i = 0; i < n; i++) fds[i].events = POLLIN;
        if (poll(fds, n, -1) < 0) return 1;
        for (int i = 0; i < n; i++) {
            if (!fds[i].revents || who[i] < 0) continue;
            if (who[i] >= 100) { drain(&conts[who[i] - 100]); continue; }
            struct conn *c = &conns[who[i]];
            int k = recv(c->fd, c->req + c->n, REQ_MAX - c->n);
            if (k <= 0) { close(c->fd); c->fd = -1; continue; }   /* left before asking */
            c->n += k;
            request(c);
        }
        for (int l = 0; l < n && who[l] < 0; l++) {
            if (!(fds[l].revents & POLLIN)) continue;
            struct conn *c = 0;
            for (int i = 0; i < NCONN && !c; i++) if (conns[i].fd < 0) c = &conns[i];
            if (!c) continue;                        /* full: it waits in the backlog */
            c->fd = accept(fds[l].fd, 0, 0);
            c->n = c->waits = c->stop = 0;
            c->tcp = fds[l].fd == li;
            c->line[0] = 0;
        }
    }
}
