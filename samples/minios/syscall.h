/*
 * syscall.h - the minios system-call interface, shared by the kernel and
 * the user programs.
 *
 * ABI: a user program executes `int $0x80` with
 *     EAX = system-call number,
 *     EBX = first argument, ECX = second, EDX = third.
 * The kernel returns the result in EAX (negative = error); every other
 * register is preserved. Pointers must point into the caller's user space
 * (0x00400000 - 0x007FFFFF) or the call fails with -1.
 */
#ifndef MINIOS_SYSCALL_H
#define MINIOS_SYSCALL_H

#define SYS_EXIT      1   /* exit(int status)                    never returns          */
#define SYS_WRITE     2   /* write(int fd, const char *buf, int len) -> bytes written   */
#define SYS_READ      3   /* read(int fd, char *buf, int len) -> bytes (blocks for >= 1)*/
#define SYS_SPAWN     4   /* spawn(const char *prog, int flags) -> pid or -1            */
#define SYS_WAIT      5   /* wait(int pid, int *status) -> pid or -1 (pid -1 = any)     */
#define SYS_GETPID    6   /* getpid() -> pid                                            */
#define SYS_YIELD     7   /* yield() -> 0: give the CPU to the next ready process       */
#define SYS_SLEEP     8   /* sleep(int ticks) -> 0: block for that many timer ticks     */
#define SYS_SBRK      9   /* sbrk(int increment) -> old break or -1                     */
#define SYS_UPTIME   10   /* uptime() -> timer ticks since boot (100 per second)        */
#define SYS_PS       11   /* ps(int slot, struct procinfo *) -> 1 used, 0 free, -1 end  */
#define SYS_MEMINFO  12   /* meminfo(struct meminfo *) -> 0                             */
#define SYS_PROGS    13   /* progs(int index, struct proginfo *) -> 0, or -1 at the end */
#define SYS_CMDLINE  14   /* cmdline(char *buf, int len) -> length of the boot cmdline  */
#define SYS_SHUTDOWN 15   /* shutdown(int code): writes code to port 0xF4, never returns*/

#define SPAWN_BACKGROUND 1  /* spawn flag: detached, nobody waits for it */

/* File descriptors: 0 = console input (COM1 + PS/2 keyboard), 1 and 2 = console output. */

/* User address space layout */
#define USER_BASE       0x00400000u   /* program image (code, data, bss) is loaded here */
#define USER_STACK_TOP  0x00800000u   /* the stack grows down from here */
#define USER_STACK_PAGES 4
#define USER_HEAP_LIMIT (USER_STACK_TOP - USER_STACK_PAGES * 4096 - 4096)  /* guard page */

/* Every user program image starts with this header (see user/crt0.S). */
#define PROG_MAGIC 0x534f494du         /* "MIOS" */
struct prog_header {
    unsigned int magic;
    unsigned int entry;               /* address of _start */
    unsigned int end;                 /* end of bss: the image occupies USER_BASE..end */
};

#define PROC_UNUSED   0
#define PROC_RUNNABLE 1
#define PROC_RUNNING  2
#define PROC_BLOCKED  3
#define PROC_ZOMBIE   4

struct procinfo {
    int pid, ppid, state;
    char name[16];
    char wait[8];                     /* what a blocked process waits for */
};

struct meminfo {
    unsigned int mem_upper_kib;       /* from the multiboot information */
    unsigned int frames_total;        /* 4 KiB frames in the allocator's pool */
    unsigned int frames_free;
    unsigned int kernel_end;          /* physical end of the kernel image */
};

struct proginfo {
    char name[16];
    char desc[48];
    unsigned int size;                /* bytes of code and data */
};

#endif
