/*
 * dockerd_net.c - dockerd's networks (included by dockerd.c), the shape of
 * Docker's bridge networks: each network is a kernel bridge (net.c) with its
 * own subnet, 10.88.0.0/16 for the default network "bridge" (its bridge is
 * called docker0, as Docker's), then 10.89.0.0/16, 10.90.0.0/16... for the
 * user-defined ones in creation order. A container on a network gets the
 * address .2 + its slot there, on eth0 (its first network) or eth1.
 *
 *   GET /networks                   [{"Name","Id","Driver","IPAM":{"Config":[{"Subnet"}]},"Containers"}...]
 *   POST /networks/create           {"Name":"br0"} -> 201 {"Id":...}; 409 if the name is taken
 *   GET /networks/{id}              one network (its containers with their addresses)
 *   DELETE /networks/{id}           204; 403 for "bridge", 409 while a running container is on it
 *   POST /networks/{id}/connect     {"Container":"web"}: a running container gets one more
 *                                   interface at once (netjoinpid()), a created one at its start
 * {id} is the Id, a prefix of it, or the name. HostConfig.NetworkMode picks a
 * container's first network ("default" or absent: "bridge"; "none": only lo).
 *
 * Names: containers reach each other by name on a shared network because the
 * daemon writes each container's /etc/hosts (in its writable layer,
 * /overlays/NAME/etc/hosts) with its own name and the names and addresses of
 * the containers that share a network with it, as Docker did before its
 * embedded DNS server (1.10); it rewrites them whenever a container starts,
 * connects or is removed. resolve() in ulib.c (nc, curl) reads that file.
 * Containers on different networks are on different bridges and subnets:
 * they have no route to each other (net.c: "network is unreachable", minios
 * has no gateway) and no line for each other's names.
 */

#define NNET  4                           /* "bridge" + 3 user-defined networks (net.c has 6 bridges) */
#define NCNET 2                           /* networks per container: eth0, eth1 */

static struct network { int used; char name[BRIDGE_MAX], id[12]; } nets[NNET];
static int cnets[NCONT][NCNET];           /* network index + 1, 0 = none; [0] is eth0 */

static unsigned int net_ip(int net, struct container *k)
{
    return (10u << 24) | (unsigned int)(88 + net) << 16 | (unsigned int)(2 + (k - conts));
}

static const char *bridge_of(int net) { return net ? nets[net].name : "docker0"; }

static struct network *net_find(const char *ref)
{
    int n = (int)strlen(ref);
    for (int i = 0; n && i < NNET; i++)
        if (nets[i].used && (!strcmp(nets[i].name, ref) || !strncmp(nets[i].id, ref, (unsigned int)n)))
            return &nets[i];
    return 0;
}

static void net_id(struct network *w)
{
    unsigned int h = 2166136261u;
    for (const char *p = w->name; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    static unsigned int made;
    h = (h ^ 0x6e6574u ^ ++made) * 16777619u;
    struct sbuf b = { w->id, 0, sizeof(w->id), 0 };
    sfmt(&b, "%08x", h);
}

static void net_init(void)
{
    memcpy(nets[0].name, "bridge", 7);
    net_id(&nets[0]);
    nets[0].used = 1;
}

static int on_net(struct container *k, int net)
{
    for (int i = 0; i < NCNET; i++) if (cnets[k - conts][i] == net + 1) return 1;
    return 0;
}

static int shares_net(struct container *a, struct container *b)
{
    for (int i = 0; i < NCNET; i++) if (cnets[a - conts][i] && on_net(b, cnets[a - conts][i] - 1)) return cnets[a - conts][i];
    return 0;
}

/* /etc/hosts of every container that has not exited: itself, then its neighbours. */
static void net_hosts(void)
{
    char path[PATH_MAX], text[384], ip[16];
    for (int i = 0; i < NCONT; i++) {
        struct container *k = &conts[i];
        if (!k->used || k->state == EXITED) continue;
        struct sbuf t = { text, 0, sizeof(text), 0 };
        sfmt(&t, "127.0.0.1 localhost\n");
        if (cnets[i][0]) sfmt(&t, "%s %s\n", inet_format(net_ip(cnets[i][0] - 1, k), ip), k->name);
        for (int j = 0; j < NCONT; j++) {
            int net = j != i && conts[j].used ? shares_net(k, &conts[j]) : 0;
            if (net) sfmt(&t, "%s %s\n", inet_format(net_ip(net - 1, &conts[j]), ip), conts[j].name);
        }
        struct sbuf p = { path, 0, sizeof(path), 0 };
        sfmt(&p, "/overlays/%s", k->name);
        mkdir("/overlays");
        mkdir(path);
        sfmt(&p, "/etc");
        mkdir(path);
        sfmt(&p, "/hosts");
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC);
        if (fd >= 0) { write(fd, text, t.n); close(fd); }
    }
}

/* create(): NetworkMode (in k->net) into cnets[k]; 0, or the message of a 404. */
static const char *net_parse(struct container *k)
{
    int *cn = cnets[k - conts];
    cn[0] = cn[1] = 0;
    if (!strcmp(k->net, "none")) return 0;
    if (!k->net[0] || !strcmp(k->net, "default")) memcpy(k->net, "bridge", 7);
    struct network *w = net_find(k->net);
    if (!w) return "network not found";
    cn[0] = (int)(w - nets) + 1;
    return 0;
}

/* start(), before isolate(): eth0 on its first network, and the hosts files. */
static void net_apply(struct container *k, struct isolate_args *a)
{
    int n = cnets[k - conts][0];
    if (n) {
        a->bridge = bridge_of(n - 1);
        a->ip = net_ip(n - 1, k);
        a->prefix = 16;
    }
    net_hosts();
}

/* A running container joins network `net` now (eth1). 0 or -errno. */
static int net_join_running(struct container *k, int net)
{
    struct netif nf;
    memset(&nf, 0, sizeof(nf));
    memcpy(nf.bridge, bridge_of(net), strlen(bridge_of(net)) + 1);
    nf.addr = net_ip(net, k);
    nf.prefix = 16;
    return netjoinpid(k->pid, &nf);
}

/* start(), after isolate(): the networks after the first. */
static void net_started(struct container *k)
{
    for (int i = 1; i < NCNET; i++)
        if (cnets[k - conts][i]) net_join_running(k, cnets[k - conts][i] - 1);
}

static void net_json(struct sbuf *b, struct network *w)
{
    char ip[16];
    int n = (int)(w - nets), first = 1;
    sfmt(b, "{\"Name\":\"%s\",\"Id\":\"%s\",\"Driver\":\"bridge\",\"Scope\":\"local\",\"Options\":"
         "{\"com.docker.network.bridge.name\":\"%s\"},\"IPAM\":{\"Config\":[{\"Subnet\":\"10.%d.0.0/16\"}]},"
         "\"Containers\":{", w->name, w->id, bridge_of(n), 88 + n);
    for (int i = 0; i < NCONT; i++)
        if (conts[i].used && on_net(&conts[i], n)) {
            sfmt(b, "%s\"%s\":{\"Name\":\"%s\",\"IPv4Address\":\"%s/16\"}", first ? "" : ",", conts[i].id,
                 conts[i].name, inet_format(net_ip(n, &conts[i]), ip));
            first = 0;
        }
    sfmt(b, "}}");
}

static void networks(struct conn *c, const char *method, char *ref, const char *body)
{
    struct sbuf b = { resp, 0, sizeof(resp), 0 };
    char name[BRIDGE_MAX + 8];
    char *op = strchr(ref, '/');
    if (op) *op++ = 0;
    if (!strcmp(method, "GET") && !*ref) {                        /* GET /networks */
        sfmt(&b, "[");
        for (int i = 0; i < NNET; i++)
            if (nets[i].used) { sfmt(&b, i ? "," : ""); net_json(&b, &nets[i]); }
        sfmt(&b, ",{\"Name\":\"none\",\"Id\":\"none\",\"Driver\":\"null\",\"Scope\":\"local\",\"Containers\":{}}]\n");
        reply(c, 200, "application/json", resp);
        return;
    }
    if (!strcmp(method, "POST") && !strcmp(ref, "create") && !op) {  /* POST /networks/create */
        if (json_str(body, "Name", name, sizeof(name)) || !name[0]) { error(c, 400, "the body needs a Name"); return; }
        if (strlen(name) >= BRIDGE_MAX || !vol_name_ok(name) || !strcmp(name, "none") || !strcmp(name, "docker0")) {
            error(c, 400, "invalid network name");
            return;
        }
        if (net_find(name)) { error(c, 409, "a network with that name already exists"); return; }
        struct network *w = 0;
        for (int i = 1; i < NNET && !w; i++) if (!nets[i].used) w = &nets[i];
        if (!w) { error(c, 500, "too many networks"); return; }
        memcpy(w->name, name, strlen(name) + 1);
        net_id(w);
        w->used = 1;
        sfmt(&b, "{\"Id\":\"%s\",\"Warning\":\"\"}\n", w->id);
        reply(c, 201, "application/json", resp);
        return;
    }
    struct network *w = net_find(ref);
    if (!w) { error(c, 404, "network not found"); return; }
    int n = (int)(w - nets);
    if (!op && !strcmp(method, "GET")) {
        net_json(&b, w);
        sfmt(&b, "\n");
        reply(c, 200, "application/json", resp);
    } else if (!op && !strcmp(method, "DELETE")) {
        if (!n) { error(c, 403, "bridge is a pre-defined network and cannot be removed"); return; }
        for (int i = 0; i < NCONT; i++)
            if (conts[i].used && conts[i].state == RUNNING && on_net(&conts[i], n)) {
                error(c, 409, "the network has active endpoints");
                return;
            }
        for (int i = 0; i < NCONT; i++)                          /* stopped ones leave it */
            for (int j = 0; j < NCNET; j++) if (cnets[i][j] == n + 1) cnets[i][j] = 0;
        w->used = 0;
        reply(c, 204, "text/plain", "");
    } else if (op && !strcmp(op, "connect") && !strcmp(method, "POST")) {
        char who[NAME_MAX + 1];
        struct container *k = json_str(body, "Container", who, sizeof(who)) ? 0 : find(who);
        if (!k) { error(c, 404, "no such container"); return; }
        if (on_net(k, n)) { error(c, 409, "the container is already on that network"); return; }
        int *cn = cnets[k - conts], slot = !cn[0] ? 0 : !cn[1] ? 1 : -1;
        if (slot < 0) { error(c, 409, "the container is on two networks already"); return; }
        if (k->state == RUNNING) {
            int r = net_join_running(k, n);
            if (r < 0) { error(c, 500, strerror(r)); return; }
        }
        cn[slot] = n + 1;
        if (!slot) memcpy(k->net, w->name, strlen(w->name) + 1);
        net_hosts();
        reply(c, 200, "text/plain", "");
    } else error(c, 404, "page not found");
}

/* inspect: "NetworkSettings":{"Networks":{...}} */
static void net_inspect(struct sbuf *b, struct container *k)
{
    char ip[16];
    sfmt(b, "\"NetworkSettings\":{\"Networks\":{");
    for (int i = 0, first = 1; i < NCNET; i++) {
        int n = cnets[k - conts][i] - 1;
        if (n < 0) continue;
        sfmt(b, "%s\"%s\":{\"NetworkID\":\"%s\",\"IPAddress\":\"%s\",\"IPPrefixLen\":16}", first ? "" : ",",
             nets[n].name, nets[n].id, inet_format(net_ip(n, k), ip));
        first = 0;
    }
    sfmt(b, "}}");
}
