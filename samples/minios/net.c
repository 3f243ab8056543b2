/*
 * net.c - network namespaces and the virtual bridges that join them, as
 * Linux's network namespaces (net/core/net_namespace.c), a veth pair whose
 * far end is plugged into a software bridge (drivers/net/veth.c,
 * net/bridge/), the set-up `ip netns`, `ip link add type veth` and
 * `docker network create` make.
 *
 * Owns:
 * - Network namespaces: each has a loopback interface (lo, 127.0.0.1/8) and
 *   up to NETH more (eth0, eth1...), each on one bridge with an address and
 *   prefix the caller chose (isolate --net=BRIDGE --ip=A.B.C.D/N, or
 *   netjoin() for the caller's own namespace, like `ip addr add`, or
 *   netjoinpid() for the namespace of a process the caller sees, like
 *   `ip link set veth1 netns PID`: docker network connect). Ports
 *   belong to the namespace (socket.c keys them by it).
 * - Bridges, by name: created when the first interface joins, gone when the
 *   last one leaves. A bridge is one Ethernet segment: an address on it is
 *   reached from an interface of the same bridge whose subnet holds it.
 * - Routing, in one function: a destination that is the namespace's own
 *   address (or 127/8) stays in it; one in the subnet of an interface is
 *   looked for on that interface's bridge (nobody has it: -EHOSTUNREACH, as
 *   an ARP request nobody answers); anything else: -ENETUNREACH (minios has
 *   no default route, no gateway and no NAT).
 * Packets are not modelled: socket.c moves a stream's bytes straight from
 * one socket's buffer to the other once net_route() says the peer can be
 * reached. A namespace lives while a process or a socket uses it.
 */
#include "kernel.h"

#define NNETNS  8
#define NETH    3
#define NBRIDGE 6

struct eth { int bridge; u32 addr; int prefix; };     /* bridge: index + 1, 0 = unused */
static struct netns { int used; struct eth eth[NETH]; } nets[NNETNS];
static struct bridge { int used; char name[BRIDGE_MAX]; } bridges[NBRIDGE];

void net_init(void) { nets[0].used = 1; }              /* the initial namespace: lo only */

static u32 mask(int prefix) { return prefix ? 0xffffffffu << (32 - prefix) : 0; }

int net_new(void)
{
    for (int n = 1; n < NNETNS; n++)
        if (!nets[n].used) {
            memset(&nets[n], 0, sizeof(nets[n]));
            nets[n].used = 1;
            return n;
        }
    return -ENOSPC;
}

static int bridge_get(const char *name)
{
    int free = -1;
    for (int b = 0; b < NBRIDGE; b++) {
        if (bridges[b].used && !strcmp(bridges[b].name, name)) return b + 1;
        if (!bridges[b].used && free < 0) free = b;
    }
    if (free < 0) return -ENOSPC;
    bridges[free].used = 1;
    memcpy(bridges[free].name, name, strlen(name) + 1);
    return free + 1;
}

int net_join(int ns, const char *bridge, u32 addr, int prefix)
{
    if (!prefix) prefix = 24;
    if (!bridge[0] || prefix < 1 || prefix > 30) return -EINVAL;
    u32 host = addr & ~mask(prefix), top = addr >> 24;
    if (!host || host == ~mask(prefix) || top == 0 || top == 127 || top >= 224)
        return -EINVAL;                        /* network, broadcast, loopback, multicast */
    int free = -1;
    for (int i = 0; i < NETH; i++)
        if (!nets[ns].eth[i].bridge && free < 0) free = i;
    if (free < 0) return -ENOSPC;
    int b = bridge_get(bridge);
    if (b < 0) return b;
    for (int n = 0; n < NNETNS; n++)
        for (int i = 0; nets[n].used && i < NETH; i++) {
            struct eth *e = &nets[n].eth[i];
            if (n == ns && e->bridge == b) return -EEXIST;        /* one port per bridge */
            if ((e->bridge == b || n == ns) && e->bridge && e->addr == addr)
                return -EADDRINUSE;            /* the address is taken on that segment */
        }
    nets[ns].eth[free].bridge = b;
    nets[ns].eth[free].addr = addr;
    nets[ns].eth[free].prefix = prefix;
    return 0;
}

int net_is_local(int ns, u32 addr)
{
    if (addr >> 24 == 127) return 1;
    for (int i = 0; i < NETH; i++)
        if (nets[ns].eth[i].bridge && nets[ns].eth[i].addr == addr) return 1;
    return 0;
}

int net_route(int ns, u32 dst, int *dst_ns, u32 *src)
{
    if (net_is_local(ns, dst)) {
        *dst_ns = ns;
        *src = dst;
        return 0;
    }
    for (int i = 0; i < NETH; i++) {
        struct eth *e = &nets[ns].eth[i];
        if (!e->bridge || ((dst ^ e->addr) & mask(e->prefix))) continue;
        for (int n = 0; n < NNETNS; n++)        /* who on this bridge has dst? */
            for (int k = 0; nets[n].used && n != ns && k < NETH; k++)
                if (nets[n].eth[k].bridge == e->bridge && nets[n].eth[k].addr == dst) {
                    *dst_ns = n;
                    *src = e->addr;
                    return 0;
                }
        return -EHOSTUNREACH;
    }
    return -ENETUNREACH;
}

void net_gc(void)
{
    for (int n = 1; n < NNETNS; n++) {
        int users = sock_in_ns(AF_INET, n);
        for (int i = 0; i < NPROC; i++)
            users += procs[i].state != PROC_UNUSED && procs[i].netns == n;
        if (!users) nets[n].used = 0;
    }
    for (int b = 0; b < NBRIDGE; b++) {
        int ports = 0;
        for (int n = 0; n < NNETNS; n++)
            for (int i = 0; nets[n].used && i < NETH; i++) ports += nets[n].eth[i].bridge == b + 1;
        if (!ports) bridges[b].used = 0;
    }
}

/* netif(index, out): lo first, then the interfaces on bridges. */
static int sys_netif(int index, u32 out)
{
    if (!user_ok(current->pd, out, sizeof(struct netif))) return -EFAULT;
    struct netif *nf = (struct netif *)out;
    struct netns *ns = &nets[current->netns];
    memset(nf, 0, sizeof(*nf));
    if (index == 0) {
        memcpy(nf->name, "lo", 3);
        nf->addr = INADDR_LOOPBACK;
        nf->prefix = 8;
        return 1;
    }
    if (index < 0) return -EINVAL;
    for (int i = 0, k = 0; i < NETH; i++) {
        if (!ns->eth[i].bridge || ++k != index) continue;
        memcpy(nf->name, "eth0", 5);
        nf->name[3] = (char)('0' + i);
        const char *b = bridges[ns->eth[i].bridge - 1].name;
        memcpy(nf->bridge, b, strlen(b) + 1);
        nf->addr = ns->eth[i].addr;
        nf->prefix = ns->eth[i].prefix;
        return 1;
    }
    return 0;
}

int net_syscall(struct regs *r)
{
    int ret;
    switch (r->eax) {
    case SYS_NETIF: ret = sys_netif((int)r->ebx, r->ecx); break;
    case SYS_NETJOIN: {
        char name[BRIDGE_MAX];
        if ((ret = user_string(name, r->ebx, BRIDGE_MAX))) break;
        ret = net_join(current->netns, name, r->ecx, (int)r->edx);
        break;
    }
    case SYS_NETJOINPID: {                   /* the same for another process's namespace */
        struct netif nf;
        struct proc *p = 0;
        for (int i = 1; i < NPROC && !p; i++)
            if (procs[i].state != PROC_UNUSED && procs[i].state != PROC_ZOMBIE && (int)r->ebx > 0
                && ns_pid(current, &procs[i]) == (int)r->ebx)
                p = &procs[i];
        if (!p) { ret = -ESRCH; break; }
        if (!p->netns) { ret = -EPERM; break; }          /* the initial namespace: netjoin() there */
        if (!user_ok(current->pd, r->ecx, sizeof(nf))) { ret = -EFAULT; break; }
        memcpy(&nf, (const void *)r->ecx, sizeof(nf));
        nf.bridge[BRIDGE_MAX - 1] = 0;
        ret = net_join(p->netns, nf.bridge, nf.addr, nf.prefix);
        break;
    }
    default: return 0;
    }
    r->eax = (u32)ret;
    return 1;
}
