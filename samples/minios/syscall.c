/*
 * syscall.c - the system calls, reached through `int $0x80` (see syscall.h
 * for the numbers and the register ABI). Arguments come from the saved user
 * registers in the interrupt frame; the result goes back in its EAX.
 * User pointers are checked against the caller's page tables first.
 */
#include "kernel.h"

#define ARG1 r->ebx
#define ARG2 r->ecx
#define ARG3 r->edx

static int sys_sbrk(int incr)
{
    u32 old = current->brk, new = old + (u32)incr;
    if (incr < 0 || new > USER_HEAP_LIMIT || new < old) return -1;
    for (u32 va = (old + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); va < new; va += PAGE_SIZE)
        if (!map_user_page(current->pd, va)) return -1;
    current->brk = new;
    return (int)old;
}

static int sys_ps(int slot, u32 out)
{
    if (slot < 0 || slot >= NPROC) return -1;
    if (!user_ok(current->pd, out, sizeof(struct procinfo))) return -1;
    struct proc *p = &procs[slot];
    struct procinfo *pi = (struct procinfo *)out;
    if (p->state == PROC_UNUSED) return 0;
    int pid = ns_pid(current, p);
    if (!pid && (p != &procs[0] || current->pidns)) return 0;   /* another PID namespace */
    struct proc *parent = proc_by_pid(p->ppid);
    memset(pi, 0, sizeof(*pi));
    pi->pid = pid;
    pi->ppid = parent && p != &procs[0] ? ns_pid(current, parent) : 0;
    pi->state = p->state;
    memcpy(pi->name, p->name, 16);
    const char *w = "";
    if (p->state == PROC_BLOCKED)
        w = p->chan == CHAN_INPUT ? "input" : p->chan == CHAN_CHILD ? "child"
          : p->chan >= CHAN_SOCK ? "socket" : p->chan >= CHAN_PIPE ? "pipe"
          : p->chan == CHAN_POLL ? "poll" : "sleep";
    memcpy(pi->wait, w, strlen(w) + 1);
    return 1;
}

void syscall_handler(struct regs *r)
{
    int ret = -1;
    if (file_syscall(r)) return;      /* files, directories, pipes: file.c */
    if (ns_syscall(r)) return;        /* isolate, hostname: ns.c */
    if (mnt_syscall(r)) return;       /* bind mounts: mount.c */
    if (r->eax >= SYS_SOCKET && r->eax <= SYS_NETJOINPID   /* only their numbers pay for the calls */
        && (sock_syscall(r) || net_syscall(r))) return;   /* sockets: socket.c, networks: net.c */
    if (r->eax >= SYS_VM_CREATE && r->eax <= SYS_VM_STATS && vm_syscall(r)) return;   /* VMs: vm.c */
    switch (r->eax) {
    case SYS_EXIT:    proc_exit((int)ARG1);
    case SYS_SPAWN: {
        char path[PATH_MAX], args[ARGS_MAX];
        args[0] = 0;
        if ((ret = user_string(path, ARG1, PATH_MAX))) break;
        if (ARG2 && (ret = user_string(args, ARG2, ARGS_MAX))) break;
        ret = proc_spawn(path, args, (int)ARG3);
        break;
    }
    case SYS_WAIT: {
        int status = 0;
        if (ARG2 && !user_ok(current->pd, ARG2, 4)) break;
        ret = proc_wait((int)ARG1, &status);
        if (ret >= 0 && ARG2) *(int *)ARG2 = status;
        break;
    }
    case SYS_GETPID:  ret = current->vpid; break;
    case SYS_YIELD:   schedule(); ret = 0; break;
    case SYS_SLEEP:
        current->wake_tick = ticks + ARG1;
        current->state = PROC_BLOCKED;
        current->chan = CHAN_SLEEP;
        schedule();
        ret = 0;
        break;
    case SYS_SBRK:    ret = sys_sbrk((int)ARG1); break;
    case SYS_UPTIME:  ret = (int)ticks; break;
    case SYS_PGCHECK: ret = pgcheck(); break;
    case SYS_HVINFO:  ret = hvinfo(ARG1, ARG2); break;
    case SYS_KILL:    ret = proc_kill((int)ARG1); break;
    case SYS_MARK:    outb(MARK_PORT, (u8)ARG1); ret = 0; break;
    case SYS_PS:      ret = sys_ps((int)ARG1, ARG2); break;
    case SYS_MEMINFO:
        if (user_ok(current->pd, ARG1, sizeof(struct meminfo))) {
            struct meminfo *m = (struct meminfo *)ARG1;
            extern char _end[];
            m->mem_upper_kib = mem_upper_kib;
            m->frames_total = frames_total;
            m->frames_free = frames_free;
            m->kernel_end = (u32)_end;
            ret = 0;
        }
        break;
    case SYS_CMDLINE: {
        u32 n = strlen(kernel_cmdline);
        if (ARG2 && user_ok(current->pd, ARG1, ARG2)) {
            u32 k = n < ARG2 - 1 ? n : ARG2 - 1;
            memcpy((void *)ARG1, kernel_cmdline, k);
            ((char *)ARG1)[k] = 0;
            ret = (int)n;
        }
        break;
    }
    case SYS_SHUTDOWN:
        /* In a PID namespace this ends only its caller, as reboot(2) there ends
         * the namespace's init instead of the machine. */
        if (current->pidns) proc_exit((int)ARG1);
        shutdown((int)ARG1);
    default: ret = -ENOSYS; break;
    }
    r->eax = (u32)ret;
}
