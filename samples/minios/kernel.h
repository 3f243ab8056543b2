/* kernel.h - types, port I/O and the interfaces between the kernel's files. */
#ifndef MINIOS_KERNEL_H
#define MINIOS_KERNEL_H
#include <stdarg.h>
#include "syscall.h"
#include "vm.h"
#include "fmt.h"

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

#ifdef PARAVIRT
/* The paravirtual build (make PARAVIRT=1 -> minios-pv.elf) runs only under tevmm: every
 * privileged operation is a hypercall to the monitor instead of a trap (../tevmm/hypercall.h). */
#include "../tevmm/hypercall.h"
static inline void outb(u16 port, u8 v) { hypercall2(HC_OUTB, port, v); }
static inline u8 inb(u16 port) { return (u8)hypercall1(HC_INB, port); }
static inline u32 read_cr2(void) { return hypercall0(HC_READ_CR2); }
static inline void write_cr3(u32 v) { hypercall1(HC_WRITE_CR3, v); }
static inline void set_pte(u32 *pte, u32 v) { hypercall2(HC_PTE_WRITE, (u32)pte, v); }
#else
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 read_cr2(void) { u32 v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline void write_cr3(u32 v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void set_pte(u32 *pte, u32 v) { *pte = v; }
#endif

/* Segment selectors (gdt.c) */
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_CS   0x1b   /* GDT entry 3, RPL 3 */
#define USER_DS   0x23   /* GDT entry 4, RPL 3 */
#define TSS_SEL   0x28

/* What isr.S pushes on the kernel stack for every interrupt, lowest address first. */
struct regs {
    u32 gs, fs, es, ds;                          /* pushed by isr_common */
    u32 edi, esi, ebp, esp_dummy, ebx, edx, ecx, eax;   /* pusha */
    u32 int_no, err_code;                        /* pushed by the stub */
    u32 eip, cs, eflags;                         /* pushed by the CPU */
    u32 useresp, ss;                             /* only when coming from ring 3 */
};

/* console.c */
void console_init(void);
void kputc(char c);
void kprintf(const char *fmt, ...);
void input_poll(void);                 /* move received UART bytes to the input buffer */
int  input_getc(void);                 /* -1 when empty */
void keyboard_irq(void);

/* gdt.c */
void gdt_init(void);
void tss_set_kernel_stack(u32 esp0);

/* gdt.c, idt.c: the GDTR and IDTR the kernel loaded (pgcheck.c compares SGDT/SIDT with them) */
struct dtr { u16 limit; u32 base; } __attribute__((packed));
extern struct dtr kernel_gdtr, kernel_idtr;

/* pgcheck.c: the sensitive-instruction checks; returns how many differ from ring 0 */
int pgcheck(void);
/* hvinfo.c: bare metal or which hypervisor (../common/hvabi.h) */
int hvinfo(u32 ubuf, u32 len);

/* idt.c */
void idt_init(void);
void isr_handler(struct regs *r);

/* pic.c */
void pic_init(void);
void pic_eoi(int irq);
int  pic_spurious(int irq);

/* pit.c */
void pit_init(u32 hz);
extern volatile u32 ticks;

/* paging.c */
#define PAGE_SIZE 4096
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_U 0x4
extern u32 kernel_pd;                  /* physical address of the kernel-only page directory */
extern u32 frames_total, frames_free;
void paging_init(u32 mem_upper_kib, u32 resv_lo, u32 resv_hi);
void frames_release(u32 lo, u32 hi);   /* hand reserved frames to the pool */
void paging_enable(void);
u32  frame_alloc(void);                /* zeroed 4 KiB frame, 0 if none */
void frame_free(u32 pa);
u32  pd_create(void);                  /* new page directory with the kernel mapped */
void pd_destroy(u32 pd);               /* frees the user half and the directory */
u32  map_user_page(u32 pd, u32 va);    /* maps a fresh zeroed frame, returns it (0 = no memory) */
int  user_ok(u32 pd, u32 va, u32 len); /* 1 if [va, va+len) is mapped user memory */

/* sched.c */
#define NPROC 16
#define CHAN_NONE  0
#define CHAN_INPUT 1
#define CHAN_CHILD 2
#define CHAN_SLEEP 3
#define CHAN_PIPE  16                  /* 16 + 2 * pipe: readers wait, +1: writers wait */
#define CHAN_POLL  9                   /* poll(): woken by a wakeup() of one of pollch[] */
#define CHAN_SOCK  256                 /* 256 + 2 * socket: readers/acceptors, +1: writers/connectors */
struct file;
struct proc {
    int  pid, ppid, state;
    char name[16];
    u32  pd;                           /* physical address of its page directory */
    u32  kstack;                       /* 4 KiB kernel stack (frame) */
    u32  esp;                          /* saved kernel ESP while switched out */
    u32  brk;                          /* program break (end of heap) */
    int  detached;                     /* background: reaped by the kernel */
    int  chan;                         /* what a BLOCKED process waits for */
    u32  wake_tick;
    int  exit_status;
    struct file *fd[NFD];              /* open files (file.c) */
    int  cwd, root;                    /* inode numbers: working directory and "/" */
    int  vpid, pidns, uts, cg;         /* ns.c, cgroup.c: pid in its namespace, ns, group */
    int  netns, ipcns;                 /* net.c, ns.c: network and IPC namespaces */
    int  npoll, pollch[2 * NFD];       /* file.c: the channels a poll() waits on */
    int  killed;                       /* kill(): it exits the next time it is scheduled */
    char env[ENV_MAX];                 /* its environment, "K=V" lines (inherited at spawn) */
};
extern struct proc procs[NPROC];
extern struct proc *current;
void sched_init(void);
void schedule(void);
void sched_tick(void);
void wakeup(int chan);
int  proc_spawn(const char *path, const char *args, int flags);
struct spawn_ctx { int pidns, uts, root, cg, netns, ipcns; const char *env; };   /* where a new process
                                         lives (ns.c); env NULL: the caller's environment */
int  proc_spawn_in(const char *path, const char *args, int flags, const struct spawn_ctx *c);
struct proc *proc_by_pid(int pid);      /* global pid */
void proc_exit(int status) __attribute__((noreturn));
int  proc_wait(int pid, int *status);
int  proc_kill(int pid);                /* pid in the caller's namespace: 0 or -errno */
void swtch(u32 *old_esp, u32 new_esp);  /* isr.S */
extern char isr_return[];               /* isr.S */

/* syscall.c */
void syscall_handler(struct regs *r);

/* fs.c: the in-memory file system (inode numbers; negative = -errno) */
#define NINODE      256
#define FILE_PAGES  128                /* largest file: 512 KiB (a guest minios.elf fits) */
void fs_init(void);
int  fs_lookup(int start, int root, const char *path);     /* inode or -errno */
int  fs_parent(int start, int root, const char *path, char *last); /* dir inode, last name */
int  fs_create(int dir, const char *name, int type);       /* new inode or -errno */
int  fs_remove(int ino);                                   /* unlink / rmdir */
int  fs_type(int ino);
u32  fs_size(int ino);
int  fs_read(int ino, u32 off, void *buf, u32 len);        /* bytes or -errno */
int  fs_write(int ino, u32 off, const void *buf, u32 len);
int  fs_truncate(int ino);
int  fs_child(int dir, int after, char *name, int *ino, int merged);   /* cursor or -1 */
int  fs_raw_child(int dir, const char *name);              /* upper layer only, whiteouts too */
int  fs_parent_of(int ino);
int  fs_lower(int ino);                                    /* merged lower dir (0 = none) */
void fs_set_lower(int ino, int lower);
int  fs_path(int ino, int root, char *buf, int len);       /* absolute path of a dir */
int  fs_name(int ino, char *name);                         /* name of an entry */
int  fs_rootdir(void);
void fs_ref(int ino, int delta);                           /* in-use count (open, cwd) */

/* initramfs.c */
void initramfs_load(const u8 *archive, u32 len, const char *from);

/* file.c: open files and descriptors */
void file_init(struct proc *first);
void file_inherit(struct proc *child, struct proc *parent);
void file_close_all(struct proc *p);
int  file_syscall(struct regs *r);     /* 1 if it handled r->eax */
int  user_string(char *dst, u32 src, int max);   /* 0, -EFAULT or -ENAMETOOLONG */
struct sock;
struct sock *fd_sock(u32 fd, int *err);          /* the socket behind fd, or 0 and -EBADF/-ENOTSOCK */
int  fd_install_sock(struct sock *s);            /* a new descriptor for s, or -EMFILE/-ENFILE */

/* socket.c: local (AF_UNIX) and network (AF_INET) stream sockets */
#define NSOCK 24
void sock_close(struct sock *s);
int  sock_send(struct sock *s, const u8 *buf, u32 len);
int  sock_recv(struct sock *s, u8 *buf, u32 len);
int  sock_ready(struct sock *s, int *ch);        /* poll bits; ch[0], ch[1]: its channels */
int  sock_in_ns(int domain, int ns);             /* sockets that keep a namespace alive */
int  sock_syscall(struct regs *r);               /* 1 if it handled r->eax */
int  sock_kconnect(int ns, u32 port, struct sock **out);   /* hsock.c: the host's connections */
int  sock_kroom(struct sock *s);
void sock_kshut(struct sock *s);
int  sock_kdone(struct sock *s);

/* hsock.c: the host-socket device of traplab --publish */
void hsock_init(void);
void hsock_poll(void);                           /* every tick: move bytes, take new connections */

/* net.c: network namespaces, their interfaces and the bridges between them */
void net_init(void);
int  net_new(void);                              /* a namespace with only lo, or -ENOSPC */
int  net_join(int ns, const char *bridge, u32 addr, int prefix);   /* 0 or -errno */
int  net_is_local(int ns, u32 addr);             /* 127/8 or one of ns's addresses */
int  net_route(int ns, u32 dst, int *dst_ns, u32 *src);   /* 0 or -ENETUNREACH/-EHOSTUNREACH */
void net_gc(void);                               /* frees namespaces and bridges nobody uses */
int  net_syscall(struct regs *r);                /* 1 if it handled r->eax */

/* console.c */
int  input_pending(void);                        /* bytes waiting to be read */

/* pipe.c */
struct pipe;
int  pipe_ready(struct pipe *p, int writer, int *ch);   /* poll bits; ch: its wakeup channel */
struct pipe *pipe_alloc(void);
int  pipe_read(struct pipe *p, u8 *buf, u32 len);
int  pipe_write(struct pipe *p, const u8 *buf, u32 len);
void pipe_close(struct pipe *p, int writer);
void pipe_open(struct pipe *p, int writer);

/* overlay.c: layered roots */
int  ovl_is_lower(int ino, int root);
int  ovl_copy_up(int ino, int root);
int  ovl_prepare_create(int dir, int root, const char *name);
int  ovl_remove(int ino, int dir, int root, const char *name);

/* mount.c: bind mounts, per root directory (a mount namespace) */
int  mnt_enter(int root, int ino);     /* the mounted directory if ino is a mountpoint, else ino */
int  mnt_leave(int root, int ino);     /* the mountpoint if ino is a mounted directory, else -1 */
int  mnt_busy(int ino);                /* 1 if ino is a mountpoint or mounted anywhere */
int  mnt_syscall(struct regs *r);      /* 1 if it handled r->eax */

/* ns.c: PID, UTS and root ("mount") namespaces */
void ns_init(void);
int  ns_pid(const struct proc *viewer, const struct proc *p);   /* 0 = not visible */
int  ns_vpid(int pidns, int pid);      /* a new process's pid inside its namespace */
void ns_gc(void);                      /* frees namespaces nobody uses */
int  ns_syscall(struct regs *r);       /* 1 if it handled r->eax */

/* cgroup.c: resource groups (memory, CPU weight, pids) */
#define NCGROUP 8
void cgroup_init(void);
int  cgroup_get(const char *name, int create);       /* index or -errno */
int  cgroup_limits(int cg, int mem_max, int cpu_weight, int pids_max, int cpu_max_us);
#define CG_PERIOD 10                   /* cpu.max's period in ticks: 100 ms, Linux's default */
int  cg_throttled(int cg);             /* 1: the group has used its cpu.max quota this period */
void cg_period(void);                  /* every CG_PERIOD ticks: a new period */
int  cg_charge(int pages);             /* the active group: 0 or -ENOMEM */
void cg_uncharge(int pages);
extern int cg_active;                  /* whose page frames are being charged */
int  cg_fork(int cg);                  /* pids.current + 1, or -EAGAIN at pids.max */
void cg_exit(int cg);
void cg_tick(int cg);                  /* one timer tick of CPU for the group */
u32  cg_vtime(int cg);                 /* CPU ticks scaled by 1/weight */
void cg_balance(void);                 /* idle groups catch up with the others */
int  cgroup_show(int special, char *buf, int len);      /* a cgroup file's text */
int  cgroup_store(int special, const char *buf, u32 len);
int  fs_create_special(int dir, const char *name, int special);

/* vm.c: the virtualization driver (vm.h) */
int  vm_syscall(struct regs *r);       /* 1 if it handled r->eax */
void vm_release(struct proc *p);       /* proc_exit: its VMs go with it */
void vm_switch(struct proc *prev, struct proc *next);   /* schedule: ledger time */
void vm_from_user(void);               /* isr.S: kernel entry from user mode (VM ledger) */
void vm_to_user(void);                 /* isr.S: the way back to user mode */

/* elf.c */
int  elf_load(int ino, u32 pd, u32 *entry, u32 *brk);   /* 0 or -errno */
u32  user_args(u32 pd, const char *args, const char *env);   /* argc/argv/envp; user ESP or 0 */

/* main.c */
extern char kernel_cmdline[256];
extern const u8 *initrd_start;
extern u32 initrd_len;
extern u32 mem_upper_kib;
void shutdown(int code) __attribute__((noreturn));
void panic(const char *msg) __attribute__((noreturn));
#endif
