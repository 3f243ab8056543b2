/*
 * ns.c - namespaces: what a process sees of the system, as Linux's PID,
 * UTS, mount and IPC namespaces (kernel/pid_namespace.c, kernel/utsname.c,
 * fs/namespace.c, ipc/namespace.c) and the isolate() system call that starts
 * a program in new ones, a small clone3(2) with a struct of arguments.
 *
 * Owns:
 * - PID namespaces: each has its own pid counter; the first process in a new
 *   one is pid 1 there. A process sees the processes of its own namespace
 *   with their pids there; from the initial namespace it sees every process
 *   with its global pid (a process two levels down also shows its global pid
 *   to the level between: only one level is translated). A process in a
 *   child namespace never sees its parents: its parent pid reads 0.
 * - UTS namespaces: a hostname each ("minios" at boot).
 * - The "mount" namespace: minios has no mounts, so CLONE_NEWNS gives the
 *   child another directory as "/" (and as its working directory), as
 *   chroot(2) or pivot_root(2) would; ".." at that root stays there (fs.c).
 *   With a lower layer the new "/" is /overlays/NAME merged over it
 *   (overlay.c), reused if it exists: a container's writable layer.
 * - IPC namespaces: here they hold the names of local (AF_UNIX) sockets
 *   (socket.c keys each name by the namespace), so a process in a new one
 *   cannot reach its parent's daemons by path. (Linux's IPC namespace holds
 *   System V IPC and POSIX message queues; minios has neither.)
 * - Network namespaces are net.c's; isolate() asks it for a new one and
 *   plugs its eth0 into the bridge named in the arguments.
 * - isolate(): checks every argument (unknown flags = -EINVAL), then creates
 *   the namespaces and the group (cgroup.c) and spawns through sched.c.
 * A namespace lives while a process (even a zombie) uses it. Unlike Linux,
 * when pid 1 of a namespace exits the others in it keep running.
 */
#include "kernel.h"

#define NNS 8
static struct pidns { int used, next, parent; } pidns[NNS];
static struct utsns { int used; char name[HOST_MAX]; } utsns[NNS];
static int ipcns_used[NNS];

void ns_init(void)
{
    pidns[0].used = 1;                 /* the initial namespaces: global pids */
    utsns[0].used = 1;
    ipcns_used[0] = 1;
    memcpy(utsns[0].name, "minios", 7);
}

static int below(int ns, int ancestor)
{
    for (int i = 0; i < NNS && ns; i++) {
        ns = pidns[ns].parent;
        if (ns == ancestor) return 1;
    }
    return 0;
}

int ns_pid(const struct proc *viewer, const struct proc *p)
{
    if (p->pidns == viewer->pidns) return p->vpid;
    if (viewer->pidns == 0 || below(p->pidns, viewer->pidns)) return p->pid;
    return 0;
}

int ns_vpid(int ns, int pid) { return ns ? pidns[ns].next++ : pid; }

void ns_gc(void)
{
    for (int n = 1; n < NNS; n++) {
        int pid_users = 0, uts_users = 0, ipc_users = sock_in_ns(AF_UNIX, n);
        for (int i = 0; i < NPROC; i++) {
            if (procs[i].state == PROC_UNUSED) continue;
            pid_users += procs[i].pidns == n;
            uts_users += procs[i].uts == n;
            ipc_users += procs[i].ipcns == n;
        }
        if (!pid_users) pidns[n].used = 0;
        if (!uts_users) utsns[n].used = 0;
        if (!ipc_users) ipcns_used[n] = 0;
    }
    net_gc();
}

static int new_ipcns(void)
{
    for (int n = 1; n < NNS; n++)
        if (!ipcns_used[n]) { ipcns_used[n] = 1; return n; }
    return -ENOSPC;
}

static int new_pidns(int parent)
{
    for (int n = 1; n < NNS; n++)
        if (!pidns[n].used) {
            pidns[n].used = 1;
            pidns[n].next = 1;
            pidns[n].parent = parent;
            return n;
        }
    return -ENOSPC;
}

static int new_uts(const char *name)
{
    for (int n = 1; n < NNS; n++)
        if (!utsns[n].used) {
            utsns[n].used = 1;
            memcpy(utsns[n].name, name, strlen(name) + 1);
            return n;
        }
    return -ENOSPC;
}

/* Copies an optional user string (0 = absent: ""). */
static int opt_string(char *dst, const char *src, int max)
{
    dst[0] = 0;
    return src ? user_string(dst, (u32)src, max) : 0;
}

static int sys_isolate(u32 uargs)
{
    struct isolate_args a;
    if (!user_ok(current->pd, uargs, sizeof(a))) return -EFAULT;
    memcpy(&a, (const void *)uargs, sizeof(a));
    const u32 known = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWPID
                    | CLONE_NEWNET | CLONE_NEWIPC;
    if (a.ns & ~known) return -EINVAL;
    if (a.mem_max < 0 || a.pids_max < 0 || a.cpu_weight < 0 || a.cpu_weight > 10000
        || (a.cpu_max && (a.cpu_max < 10000 || a.cpu_max > 100000)))
        return -EINVAL;
    char path[PATH_MAX], args[ARGS_MAX], root[PATH_MAX], host[HOST_MAX], group[GROUP_MAX];
    char lower[PATH_MAX], layer[NAME_MAX + 1], bridge[BRIDGE_MAX], env[ENV_MAX];
    int e;
    if ((e = user_string(path, (u32)a.path, PATH_MAX)) || (e = opt_string(args, a.args, ARGS_MAX))
        || (e = opt_string(root, a.root, PATH_MAX)) || (e = opt_string(host, a.hostname, HOST_MAX))
        || (e = opt_string(group, a.group, GROUP_MAX)) || (e = opt_string(lower, a.lower, PATH_MAX))
        || (e = opt_string(layer, a.layer, NAME_MAX + 1))
        || (e = opt_string(bridge, a.bridge, BRIDGE_MAX)) || (e = opt_string(env, a.env, ENV_MAX)))
        return e;
    if (bridge[0] && !(a.ns & CLONE_NEWNET)) return -EINVAL;

    struct spawn_ctx c = { current->pidns, current->uts, current->root, current->cg,
                           current->netns, current->ipcns, a.env ? env : 0 };
    if ((a.ns & CLONE_NEWNS) && lower[0]) {
        int l = fs_lookup(current->cwd, current->root, lower);
        if (l < 0) return l;
        if (fs_type(l) != S_IFDIR) return -ENOTDIR;
        if (fs_lower(current->root)) return -EINVAL;          /* no overlay inside an overlay */
        const char *name = layer[0] ? layer : host[0] ? host : "layer";
        int top = fs_lookup(current->root, current->root, "/overlays");
        if (top < 0) top = fs_create(current->root, "overlays", S_IFDIR);
        if (top < 0) return top;
        int up = fs_lookup(top, current->root, name);         /* an existing layer is reused */
        if (up < 0) up = fs_create(top, name, S_IFDIR);
        if (up < 0) return up;
        if (fs_type(up) != S_IFDIR || (fs_lower(up) && fs_lower(up) != l)) return -EEXIST;
        fs_set_lower(up, l);
        c.root = up;
    } else if (a.ns & CLONE_NEWNS) {
        if (!root[0]) return -EINVAL;
        int r = fs_lookup(current->cwd, current->root, root);
        if (r < 0) return r;
        if (fs_type(r) != S_IFDIR) return -ENOTDIR;
        c.root = r;
    } else if (lower[0]) {
        return -EINVAL;
    }
    if (a.ns & CLONE_NEWCGROUP) {
        if (!group[0]) return -EINVAL;
        int g = cgroup_get(group, 1);
        if (g < 0) return g;
        if ((e = cgroup_limits(g, a.mem_max, a.cpu_weight, a.pids_max, a.cpu_max))) return e;
        c.cg = g;
    }
    if (a.ns & CLONE_NEWUTS) {
        int u = new_uts(host[0] ? host : utsns[current->uts].name);
        if (u < 0) return u;
        c.uts = u;
    }
    if (a.ns & CLONE_NEWPID) {
        int n = new_pidns(current->pidns);
        if (n < 0) { ns_gc(); return n; }
        c.pidns = n;
    }
    if (a.ns & CLONE_NEWIPC) {
        int n = new_ipcns();
        if (n < 0) { ns_gc(); return n; }
        c.ipcns = n;
    }
    if (a.ns & CLONE_NEWNET) {
        int n = net_new();
        if (n < 0 || (bridge[0] && (e = net_join(n, bridge, a.ip, a.prefix)))) {
            ns_gc();                  /* frees the new namespace: nobody is in it */
            return n < 0 ? n : e;
        }
        c.netns = n;
    }
    int pid = proc_spawn_in(path, args, a.flags, &c);
    if (pid < 0) ns_gc();             /* the new namespaces have nobody in them */
    return pid;
}

int ns_syscall(struct regs *r)
{
    int ret;
    switch (r->eax) {
    case SYS_ISOLATE: ret = sys_isolate(r->ebx); break;
    case SYS_HOSTNAME: {
        const char *name = utsns[current->uts].name;
        u32 n = strlen(name);
        if (!r->ecx || !user_ok(current->pd, r->ebx, r->ecx)) { ret = -EFAULT; break; }
        if (n + 1 > r->ecx) { ret = -ERANGE; break; }
        memcpy((void *)r->ebx, name, n + 1);
        ret = (int)n;
        break;
    }
    case SYS_SETHOSTNAME: {
        char name[HOST_MAX];
        if ((ret = user_string(name, r->ebx, HOST_MAX))) break;
        memcpy(utsns[current->uts].name, name, strlen(name) + 1);
        break;
    }
    default: return 0;
    }
    r->eax = (u32)ret;
    return 1;
}
