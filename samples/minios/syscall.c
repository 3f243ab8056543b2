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

/* Copy a NUL-terminated string from user space; -1 if it is not readable. */
static int copy_string(char *dst, u32 src, int max)
{
    for (int i = 0; i < max; i++) {
        if (!user_ok(current->pd, src + i, 1)) return -1;
        dst[i] = *(const char *)(src + i);
        if (!dst[i]) return 0;
    }
    dst[max - 1] = 0;
    return 0;
}

static int sys_write(u32 fd, u32 buf, u32 len)
{
    if (fd != 1 && fd != 2) return -1;
    if (!user_ok(current->pd, buf, len)) return -1;
    for (u32 i = 0; i < len; i++) kputc(((const char *)buf)[i]);
    return (int)len;
}

static int sys_read(u32 fd, u32 buf, u32 len)
{
    if (fd != 0 || !user_ok(current->pd, buf, len)) return -1;
    if (!len) return 0;
    for (;;) {
        input_poll();
        u32 n = 0;
        int c;
        while (n < len && (c = input_getc()) >= 0) ((char *)buf)[n++] = (char)c;
        if (n) return (int)n;
        current->state = PROC_BLOCKED;   /* wait for a key or a serial byte */
        current->chan = CHAN_INPUT;
        schedule();
    }
}

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
    memset(pi, 0, sizeof(*pi));
    pi->pid = p->pid;
    pi->ppid = p->ppid;
    pi->state = p->state;
    memcpy(pi->name, p->name, 16);
    const char *w = "";
    if (p->state == PROC_BLOCKED)
        w = p->chan == CHAN_INPUT ? "input" : p->chan == CHAN_CHILD ? "child" : "sleep";
    memcpy(pi->wait, w, strlen(w) + 1);
    return 1;
}

static int sys_progs(int i, u32 out)
{
    if (i < 0 || i >= nprograms) return -1;
    if (!user_ok(current->pd, out, sizeof(struct proginfo))) return -1;
    struct proginfo *pi = (struct proginfo *)out;
    memset(pi, 0, sizeof(*pi));
    memcpy(pi->name, programs[i].name, strlen(programs[i].name) + 1);
    memcpy(pi->desc, programs[i].desc, strlen(programs[i].desc) + 1);
    pi->size = (u32)(programs[i].end - programs[i].start);
    return 0;
}

void syscall_handler(struct regs *r)
{
    int ret = -1;
    switch (r->eax) {
    case SYS_EXIT:    proc_exit((int)ARG1);
    case SYS_WRITE:   ret = sys_write(ARG1, ARG2, ARG3); break;
    case SYS_READ:    ret = sys_read(ARG1, ARG2, ARG3); break;
    case SYS_SPAWN: {
        char name[16];
        if (copy_string(name, ARG1, sizeof(name)) == 0) ret = proc_spawn(name, (int)ARG2);
        break;
    }
    case SYS_WAIT: {
        int status = 0;
        if (ARG2 && !user_ok(current->pd, ARG2, 4)) break;
        ret = proc_wait((int)ARG1, &status);
        if (ret >= 0 && ARG2) *(int *)ARG2 = status;
        break;
    }
    case SYS_GETPID:  ret = current->pid; break;
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
    case SYS_PROGS:   ret = sys_progs((int)ARG1, ARG2); break;
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
    case SYS_SHUTDOWN: shutdown((int)ARG1);
    default: break;
    }
    r->eax = (u32)ret;
}
