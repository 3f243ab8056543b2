/*
 * cgroup.c - resource groups, like Linux's cgroup v2 (kernel/cgroup/,
 * Documentation/admin-guide/cgroup-v2.rst) with three controllers:
 * - memory: the user page frames (pages and their page tables) of the
 *   group's processes, limited by memory.max. Exceeding it fails the
 *   allocation (sbrk or spawn get -ENOMEM); nobody is killed (Linux would
 *   reclaim, then run its OOM killer).
 * - cpu: cpu.weight (1-10000, default 100). The scheduler (sched.c) runs the
 *   runnable process whose group has used the least CPU time divided by its
 *   weight, so two busy groups with weights 100 and 300 get the CPU 1:3.
 *   A group that was idle catches up with the busy ones instead of keeping
 *   its lead (CFS does the same with its minimum vruntime).
 *   cpu.max: a hard cap, "QUOTA PERIOD" in microseconds as Linux's (CFS
 *   bandwidth control): the group runs at most QUOTA per PERIOD, here 100000
 *   (10 ticks); once its processes have used the quota (in whole ticks) the
 *   scheduler passes them over until the next period (docker run --cpus 0.5 =
 *   "50000 100000"). cpu.stat adds nr_throttled: the periods that hit the cap.
 * - pids: pids.max processes at a time (spawn gets -EAGAIN).
 * Group 0 is the root group (no limits). Every other group shows its files in
 * /sys/fs/cgroup/NAME/ (memory.max, memory.current, cpu.weight, cpu.stat,
 * pids.max, pids.current, cpu.max): fs.c asks here for their text on every read and
 * hands writes here (`echo 300 > cpu.weight`). Groups are never removed.
 */
#include "kernel.h"

#define SCALE 1200                      /* vtime per tick = SCALE / weight */
#define TICK_US 10000                   /* one timer tick (pit.c: 100 Hz) */
enum { F_MEM_MAX, F_MEM_CUR, F_CPU_WEIGHT, F_CPU_STAT, F_PIDS_MAX, F_PIDS_CUR, F_CPU_MAX, NFILES };
static const char *const file_names[NFILES] = {
    "memory.max", "memory.current", "cpu.weight", "cpu.stat", "pids.max", "pids.current", "cpu.max",
};

static struct cgroup {
    int  used;
    char name[GROUP_MAX];
    int  mem_max, mem_cur;              /* page frames; max 0 = no limit */
    int  weight;
    u32  ticks, vtime;
    int  pids_max, pids_cur;
    int  quota;                         /* cpu.max: ticks per CG_PERIOD, 0 = max */
    u32  spent, throttled;              /* ticks used in this period; periods that hit the cap */
} groups[NCGROUP];
int cg_active;
static int cgroup_dir = -1;

struct sbuf { char *p; int n, max; };
static void sput(char c, void *ctx)
{
    struct sbuf *b = ctx;
    if (b->n < b->max) b->p[b->n++] = c;
}

static int ksnprintf(char *buf, int max, const char *fmt, ...)
{
    struct sbuf b = { buf, 0, max };
    va_list ap;
    va_start(ap, fmt);
    vformat(sput, &b, fmt, ap);
    va_end(ap);
    return b.n;
}

void cgroup_init(void)
{
    groups[0].used = 1;
    groups[0].weight = 100;
    memcpy(groups[0].name, "/", 2);
}

static int mkdirs(void)                 /* /sys/fs/cgroup, created on first use */
{
    if (cgroup_dir >= 0) return cgroup_dir;
    int d = fs_rootdir();
    static const char *const path[] = { "sys", "fs", "cgroup" };
    for (int i = 0; i < 3; i++) {
        int n = fs_lookup(d, fs_rootdir(), path[i]);
        if (n < 0) n = fs_create(d, path[i], S_IFDIR);
        if (n < 0) return n;
        d = n;
    }
    return cgroup_dir = d;
}

int cgroup_get(const char *name, int create)
{
    for (int i = 1; i < NCGROUP; i++)
        if (groups[i].used && !strcmp(groups[i].name, name)) return i;
    if (!create) return -ENOENT;
    for (const char *c = name; *c; c++)
        if (*c == '/' || (c == name && *c == '.')) return -EINVAL;
    int top = mkdirs();
    if (top < 0) return top;
    for (int i = 1; i < NCGROUP; i++) {
        if (groups[i].used) continue;
        int dir = fs_create(top, name, S_IFDIR);
        if (dir < 0) return dir;
        for (int f = 0; f < NFILES; f++)
            if (fs_create_special(dir, file_names[f], i * NFILES + f + 1) < 0) return -ENOSPC;
        memset(&groups[i], 0, sizeof(groups[i]));
        groups[i].used = 1;
        groups[i].weight = 100;
        memcpy(groups[i].name, name, strlen(name) + 1);
        return i;
    }
    return -ENOSPC;
}

int cgroup_limits(int cg, int mem_max, int cpu_weight, int pids_max, int cpu_max_us)
{
    if (cg <= 0 || cg >= NCGROUP || !groups[cg].used) return -EINVAL;
    if (cpu_max_us) groups[cg].quota = (cpu_max_us + TICK_US - 1) / TICK_US;
    if (mem_max) groups[cg].mem_max = mem_max;
    if (cpu_weight) groups[cg].weight = cpu_weight;
    if (pids_max) groups[cg].pids_max = pids_max;
    return 0;
}

int cg_charge(int pages)
{
    struct cgroup *g = &groups[cg_active];
    if (g->mem_max && g->mem_cur + pages > g->mem_max) return -ENOMEM;
    g->mem_cur += pages;
    return 0;
}

void cg_uncharge(int pages) { groups[cg_active].mem_cur -= pages; }

int cg_fork(int cg)
{
    if (groups[cg].pids_max && groups[cg].pids_cur >= groups[cg].pids_max) return -EAGAIN;
    groups[cg].pids_cur++;
    return 0;
}

void cg_exit(int cg) { groups[cg].pids_cur--; }

int cg_throttled(int cg) { return groups[cg].quota && groups[cg].spent >= (u32)groups[cg].quota; }

void cg_period(void)
{
    for (int g = 1; g < NCGROUP; g++) {
        if (cg_throttled(g)) groups[g].throttled++;
        groups[g].spent = 0;
    }
}

void cg_tick(int cg)
{
    groups[cg].ticks++;
    groups[cg].spent++;
    groups[cg].vtime += SCALE / (u32)groups[cg].weight;
}

u32 cg_vtime(int cg) { return groups[cg].vtime; }

void cg_balance(void)
{
    int busy[NCGROUP] = { 0 };
    for (int i = 1; i < NPROC; i++)
        if (procs[i].state == PROC_RUNNABLE || procs[i].state == PROC_RUNNING) busy[procs[i].cg] = 1;
    u32 min = ~0u;
    for (int g = 0; g < NCGROUP; g++)
        if (busy[g] && groups[g].vtime < min) min = groups[g].vtime;
    if (min == ~0u) return;
    for (int g = 0; g < NCGROUP; g++)
        if (groups[g].used && !busy[g] && groups[g].vtime < min) groups[g].vtime = min;
}

int cgroup_show(int special, char *buf, int len)
{
    int cg = (special - 1) / NFILES, f = (special - 1) % NFILES;
    struct cgroup *g = &groups[cg];
    char tmp[64];
    int n = 0;
    switch (f) {
    case F_MEM_MAX:
        n = g->mem_max ? ksnprintf(tmp, sizeof(tmp), "%u\n", (u32)g->mem_max * PAGE_SIZE)
                       : ksnprintf(tmp, sizeof(tmp), "max\n");
        break;
    case F_MEM_CUR:    n = ksnprintf(tmp, sizeof(tmp), "%u\n", (u32)g->mem_cur * PAGE_SIZE); break;
    case F_CPU_WEIGHT: n = ksnprintf(tmp, sizeof(tmp), "%d\n", g->weight); break;
    case F_CPU_STAT:
        n = ksnprintf(tmp, sizeof(tmp), "usage_usec %u\nnr_throttled %u\n", g->ticks * TICK_US, g->throttled);
        break;
    case F_CPU_MAX:
        n = g->quota ? ksnprintf(tmp, sizeof(tmp), "%u %u\n", (u32)g->quota * TICK_US, CG_PERIOD * TICK_US)
                     : ksnprintf(tmp, sizeof(tmp), "max %u\n", CG_PERIOD * TICK_US);
        break;
    case F_PIDS_MAX:
        n = g->pids_max ? ksnprintf(tmp, sizeof(tmp), "%d\n", g->pids_max)
                        : ksnprintf(tmp, sizeof(tmp), "max\n");
        break;
    default:           n = ksnprintf(tmp, sizeof(tmp), "%d\n", g->pids_cur); break;
    }
    if (n > len) n = len;
    memcpy(buf, tmp, (u32)n);
    return n;
}

/* "max" or a decimal number (memory.max: bytes, rounded up to page frames). */
int cgroup_store(int special, const char *buf, u32 len)
{
    int cg = (special - 1) / NFILES, f = (special - 1) % NFILES;
    struct cgroup *g = &groups[cg];
    u32 v = 0, i = 0;
    int max = len >= 3 && !memcmp(buf, "max", 3);
    if (!max) {
        for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
            if (v > 100000000) return -EINVAL;
            v = v * 10 + (u32)(buf[i] - '0');
        }
        if (!i) return -EINVAL;
    }
    switch (f) {
    case F_MEM_MAX:    g->mem_max = max ? 0 : (int)((v + PAGE_SIZE - 1) / PAGE_SIZE); if (!max && !g->mem_max) return -EINVAL; break;
    case F_CPU_WEIGHT: if (max || v < 1 || v > 10000) return -EINVAL; g->weight = (int)v; break;
    case F_PIDS_MAX:   g->pids_max = max ? 0 : (int)v; if (!max && !v) return -EINVAL; break;
    case F_CPU_MAX:                              /* "QUOTA [PERIOD]": the period stays 100000 */
        if (!max && (v < TICK_US || v > CG_PERIOD * TICK_US)) return -EINVAL;
        g->quota = max ? 0 : (int)((v + TICK_US - 1) / TICK_US);
        break;
    default:           return -EPERM;            /* the read-only files */
    }
    return (int)len;
}
