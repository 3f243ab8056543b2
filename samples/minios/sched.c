/*
 * sched.c - processes and the preemptive round-robin scheduler.
 *
 * procs[0] is the idle process (pid 0): the boot code after kmain's setup,
 * running in ring 0 on the boot stack. Every other process runs in ring 3
 * with its own page directory and a 4 KiB kernel stack that holds its
 * interrupt frame while it is in the kernel or switched out.
 *
 * Switching: schedule() picks the next RUNNABLE process after the current
 * one in the table (round robin), loads its CR3 and TSS.esp0 and calls
 * swtch() (isr.S), which swaps kernel stacks. The timer interrupt calls
 * schedule() whenever it interrupts ring 3: every tick (10 ms) is a slice.
 */
#include "kernel.h"

struct proc procs[NPROC];
struct proc *current;
static int next_pid = 1;

void sched_init(void)
{
    struct proc *idle = &procs[0];
    idle->pid = 0;
    idle->ppid = 0;
    idle->state = PROC_RUNNING;
    memcpy(idle->name, "idle", 5);
    idle->pd = kernel_pd;
    current = idle;
    file_init(idle);                    /* the console as 0, 1, 2: inherited by the shell */
    ns_init();                          /* the initial namespaces and the root group: 0 */
    net_init();
    cgroup_init();
}

/* Free what is left of exited background processes (not the running one:
 * we may be on its kernel stack). With gc, also the namespaces nobody uses
 * any more; spawn does not collect: the namespaces isolate() has just made
 * for the new process have nobody in them yet. */
static void reap_detached(int gc)
{
    for (int i = 1; i < NPROC; i++) {
        struct proc *p = &procs[i];
        if (p->state == PROC_ZOMBIE && p->detached && p != current) {
            frame_free(p->kstack);
            p->state = PROC_UNUSED;
            if (gc) ns_gc();
        }
    }
}

void schedule(void)
{
    reap_detached(1);
    cg_balance();
    struct proc *prev = current, *next = 0;
    int start = (int)(prev - procs);
    u32 best = 0;
    /* The ready process (prev too, if it may go on) whose group has used the
     * least CPU per weight (cgroup.c); on a tie the next one after prev in
     * the table: plain round robin when everybody is in one group. */
    for (int i = 1; i <= NPROC; i++) {
        struct proc *p = &procs[(start + i) % NPROC];
        int ready = p->state == PROC_RUNNABLE || (p == prev && p->state == PROC_RUNNING);
        if (p == &procs[0] || !ready || cg_throttled(p->cg)) continue;   /* cpu.max (cgroup.c) */
        u32 v = cg_vtime(p->cg);
        if (!next || v < best) { next = p; best = v; }
    }
    if (!next) next = &procs[0];   /* nobody is ready: idle */
    if (prev->state == PROC_RUNNING) prev->state = PROC_RUNNABLE;
    next->state = PROC_RUNNING;
    cg_active = next->cg;
    if (next != prev) {
        vm_switch(prev, next);          /* vm.c: the time a VM's process is away */
        current = next;
        tss_set_kernel_stack(next->kstack + PAGE_SIZE);
        write_cr3(next->pd);
        swtch(&prev->esp, next->esp);
        /* ...we continue here when someone switches back to prev */
    }
    /* Killed while it waited or was ready: it exits from wherever it slept
     * (every sleep in the kernel goes through here and leaves no half-done
     * state behind), as Linux's fatal signals end a sleep. */
    if (current->killed && current->state == PROC_RUNNING) proc_exit(128 + 9);
}

/* kill(2) with SIGKILL: pid as the caller's PID namespace numbers it. */
int proc_kill(int pid)
{
    for (int i = 1; i < NPROC; i++) {
        struct proc *p = &procs[i];
        if (p->state == PROC_UNUSED || p->state == PROC_ZOMBIE || pid <= 0 || ns_pid(current, p) != pid)
            continue;
        if (p == current) proc_exit(128 + 9);
        p->killed = 1;
        if (p->state == PROC_BLOCKED) p->state = PROC_RUNNABLE;   /* out of its sleep */
        return 0;
    }
    return -ESRCH;
}

static int polls(const struct proc *p, int chan)
{
    for (int i = 0; i < p->npoll; i++)
        if (p->pollch[i] == chan) return 1;
    return 0;
}

/* Wakes the processes waiting on chan, and the poll()s (file.c) that watch it. */
void wakeup(int chan)
{
    for (int i = 1; i < NPROC; i++) {
        struct proc *p = &procs[i];
        if (p->state == PROC_BLOCKED && (p->chan == chan || (p->chan == CHAN_POLL && polls(p, chan))))
            p->state = PROC_RUNNABLE;
    }
}

/* Timer tick: charge the running process's group, wake the sleepers whose time has come. */
void sched_tick(void)
{
    if (current != &procs[0]) cg_tick(current->cg);
    if (ticks % CG_PERIOD == 0) cg_period();
    for (int i = 1; i < NPROC; i++) {
        struct proc *p = &procs[i];
        int timed = p->chan == CHAN_SLEEP || (p->chan == CHAN_POLL && p->wake_tick);
        if (p->state == PROC_BLOCKED && timed && (int)(ticks - p->wake_tick) >= 0)
            p->state = PROC_RUNNABLE;
    }
}

/* Create a process running the ELF program at `path` with the argument
 * line `args` (words split at spaces become argv); it inherits the caller's
 * descriptors, working directory and root. Returns its pid or -errno. */
int proc_spawn(const char *path, const char *args, int flags)
{
    struct spawn_ctx c = { current->pidns, current->uts, current->root, current->cg,
                           current->netns, current->ipcns, 0 };
    return proc_spawn_in(path, args, flags, &c);
}

struct proc *proc_by_pid(int pid)
{
    for (int i = 0; i < NPROC; i++)
        if (procs[i].state != PROC_UNUSED && procs[i].pid == pid) return &procs[i];
    return 0;
}

/* The same in the namespaces and group of `c` (ns.c): the path is looked up
 * under c->root, and a new root is also the child's working directory. */
int proc_spawn_in(const char *path, const char *args, int flags, const struct spawn_ctx *c)
{
    int newroot = c->root != current->root;
    int ino = fs_lookup(newroot ? c->root : current->cwd, c->root, path);
    if (ino < 0) return ino;
    if (fs_type(ino) != S_IFREG) return -ENOEXEC;

    reap_detached(0);
    struct proc *p = 0;
    for (int i = 1; i < NPROC; i++)
        if (procs[i].state == PROC_UNUSED) { p = &procs[i]; break; }
    if (!p) return -EAGAIN;
    int err = cg_fork(c->cg);                  /* pids.max */
    if (err) return err;

    u32 entry = 0, brk = 0, esp = 0;
    err = -ENOMEM;
    cg_active = c->cg;                         /* the child's frames count for its group */
    u32 pd = pd_create();
    u32 kstack = frame_alloc();
    if (!pd || !kstack) goto fail;
    if ((err = elf_load(ino, pd, &entry, &brk))) goto fail;
    err = -ENOMEM;
    for (u32 i = 1; i <= USER_STACK_PAGES; i++)
        if (!map_user_page(pd, USER_STACK_TOP - i * PAGE_SIZE)) goto fail;
    err = -E2BIG;
    const char *env = c->env ? c->env : current->env;
    if (!(esp = user_args(pd, args && *args ? args : path, env))) goto fail;

    cg_active = current->cg;
    memset(p, 0, sizeof(*p));
    p->pid = next_pid++;
    p->ppid = current->pid;
    p->pidns = c->pidns;
    p->vpid = ns_vpid(c->pidns, p->pid);
    p->uts = c->uts;
    p->cg = c->cg;
    p->netns = c->netns;
    p->ipcns = c->ipcns;
    p->detached = flags & SPAWN_BACKGROUND;
    const char *base = path;
    for (const char *c = path; *c; c++) if (*c == '/' && c[1]) base = c + 1;
    for (int i = 0; i < 15 && base[i] && base[i] != '/'; i++) p->name[i] = base[i];
    memcpy(p->env, env, strlen(env) + 1);
    p->pd = pd;
    p->kstack = kstack;
    p->brk = brk;
    file_inherit(p, current);
    if (newroot) {
        fs_ref(p->cwd, -1);
        fs_ref(p->root, -1);
        p->cwd = p->root = c->root;
        fs_ref(c->root, 2);
    }

    /* Build the kernel stack so that the first swtch() to it "returns" into
     * isr_return, which pops this frame and irets to ring 3 at the entry point. */
    u32 sp = kstack + PAGE_SIZE;
    sp -= sizeof(struct regs);
    struct regs *r = (struct regs *)sp;
    memset(r, 0, sizeof(*r));
    r->gs = r->fs = r->es = r->ds = USER_DS;
    r->eip = entry;
    r->cs = USER_CS;
    r->eflags = 0x202;                  /* IF = 1: interrupts on in user mode */
    r->useresp = esp;
    r->ss = USER_DS;
    sp -= 4; *(u32 *)sp = (u32)isr_return;       /* swtch's ret goes here */
    sp -= 16; memset((void *)sp, 0, 16);         /* ebp, ebx, esi, edi */
    p->esp = sp;
    p->state = PROC_RUNNABLE;
    return ns_pid(current, p);

fail:
    if (pd) pd_destroy(pd);
    if (kstack) frame_free(kstack);
    cg_active = current->cg;
    cg_exit(c->cg);
    return err;
}

void proc_exit(int status)
{
    struct proc *p = current;
    vm_release(p);                      /* its VMs: their memory is its pages */
    write_cr3(kernel_pd);               /* leave the address space before freeing it */
    pd_destroy(p->pd);
    p->pd = kernel_pd;
    file_close_all(p);                  /* pipe readers see EOF now */
    cg_exit(p->cg);
    p->exit_status = status;
    for (int i = 1; i < NPROC; i++)     /* orphans are reaped by the kernel */
        if (procs[i].state != PROC_UNUSED && procs[i].ppid == p->pid)
            procs[i].detached = 1;
    p->state = PROC_ZOMBIE;
    struct proc *parent = proc_by_pid(p->ppid);
    if (p->detached)
        kprintf("[%d] %s finished, status %d\n", parent ? ns_pid(parent, p) : p->pid, p->name, status);
    else
        for (int i = 0; i < NPROC; i++)  /* wake the parent if it is in wait() */
            if (procs[i].pid == p->ppid && procs[i].state == PROC_BLOCKED && procs[i].chan == CHAN_CHILD)
                procs[i].state = PROC_RUNNABLE;
    schedule();
    panic("zombie scheduled");
}

int proc_wait(int pid, int *status)
{
    for (;;) {
        int found = 0;
        for (int i = 1; i < NPROC; i++) {
            struct proc *q = &procs[i];
            if (q->state == PROC_UNUSED || q->ppid != current->pid || q->detached) continue;
            if (pid != -1 && ns_pid(current, q) != pid) continue;
            found = 1;
            if (q->state == PROC_ZOMBIE) {
                int got = ns_pid(current, q);
                *status = q->exit_status;
                frame_free(q->kstack);
                q->state = PROC_UNUSED;
                ns_gc();
                return got;
            }
        }
        if (!found) return -1;
        current->state = PROC_BLOCKED;
        current->chan = CHAN_CHILD;
        schedule();
    }
}
