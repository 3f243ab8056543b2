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
#define SYS_SPAWN     4   /* spawn(const char *path, const char *args, int flags) -> pid  */
#define SYS_WAIT      5   /* wait(int pid, int *status) -> pid or -1 (pid -1 = any)     */
#define SYS_GETPID    6   /* getpid() -> pid                                            */
#define SYS_YIELD     7   /* yield() -> 0: give the CPU to the next ready process       */
#define SYS_SLEEP     8   /* sleep(int ticks) -> 0: block for that many timer ticks     */
#define SYS_SBRK      9   /* sbrk(int increment) -> old break or -1                     */
#define SYS_UPTIME   10   /* uptime() -> timer ticks since boot (100 per second)        */
#define SYS_PS       11   /* ps(int slot, struct procinfo *) -> 1 used, 0 free, -1 end  */
#define SYS_MEMINFO  12   /* meminfo(struct meminfo *) -> 0                             */
#define SYS_PROGS    13   /* (retired: programs are files in /bin now) -> -ENOSYS        */
#define SYS_CMDLINE  14   /* cmdline(char *buf, int len) -> length of the boot cmdline  */
#define SYS_SHUTDOWN 15   /* shutdown(int code): writes code to port 0xF4, never returns*/

/* Files (fs.c, file.c, pipe.c): paths are at most PATH_MAX - 1 bytes. */
#define SYS_OPEN     16   /* open(const char *path, int flags) -> fd                    */
#define SYS_CLOSE    17   /* close(int fd) -> 0                                         */
#define SYS_LSEEK    18   /* lseek(int fd, int offset, int whence) -> new offset        */
#define SYS_STAT     19   /* stat(const char *path, struct stat *) -> 0                 */
#define SYS_READDIR  20   /* readdir(int fd, struct dirent *) -> 1 entry, 0 at the end  */
#define SYS_MKDIR    21   /* mkdir(const char *path) -> 0                               */
#define SYS_UNLINK   22   /* unlink(const char *path) -> 0 (regular files)              */
#define SYS_RMDIR    23   /* rmdir(const char *path) -> 0 (empty directories)           */
#define SYS_CHDIR    24   /* chdir(const char *path) -> 0                               */
#define SYS_GETCWD   25   /* getcwd(char *buf, int len) -> length                       */
#define SYS_DUP2     26   /* dup2(int oldfd, int newfd) -> newfd                        */
#define SYS_PIPE     27   /* pipe(int fds[2]) -> 0: fds[0] reads, fds[1] writes         */

/* Namespaces and groups (ns.c, cgroup.c) */
#define SYS_ISOLATE  28   /* isolate(const struct isolate_args *) -> pid (like clone3)  */
#define SYS_HOSTNAME 29   /* hostname(char *buf, int len) -> length (uname's nodename)  */
#define SYS_SETHOSTNAME 30 /* sethostname(const char *name) -> 0                       */
#define SYS_BINDMOUNT 33  /* bindmount(const char *src, const char *dst, const char *root) -> 0:
                             mount --bind src dst in the namespace whose root is `root` (NULL: the
                             caller's); src NULL unmounts dst (mount.c) */

/* The virtualization driver's calls, 60-69, are in vm.h (vm.c). */

/* pgcheck.c */
#define SYS_PGCHECK  31   /* pgcheck() -> checks that differ from ring 0 (prints them)  */

/* hvinfo.c */
#define SYS_HVINFO   32   /* hvinfo(char *buf, int len) -> length: "native" or "virtualized by ..." */

/* Sockets (socket.c), network namespaces (net.c), poll (file.c): 40-59.
 * read() and write() work on a connected socket as recv() and send() do. */
#define SYS_SOCKET   40   /* socket(int domain, int type) -> fd (AF_UNIX/AF_INET, SOCK_STREAM) */
#define SYS_BIND     41   /* bind(int fd, const void *addr, int addrlen) -> 0           */
#define SYS_LISTEN   42   /* listen(int fd, int backlog) -> 0 (backlog 1-8)             */
#define SYS_ACCEPT   43   /* accept(int fd, void *peer_or_NULL, int addrlen) -> new fd  */
#define SYS_CONNECT  44   /* connect(int fd, const void *addr, int addrlen) -> 0        */
#define SYS_SEND     45   /* send(int fd, const void *buf, int len) -> bytes (blocks)   */
#define SYS_RECV     46   /* recv(int fd, void *buf, int len) -> bytes, 0 = end (blocks)*/
#define SYS_SHUTSOCK 47   /* shutsock(int fd, int how) -> 0: shutdown(2), SHUT_RD/WR/RDWR */
#define SYS_POLL     48   /* poll(struct pollfd *, int n, int ticks) -> ready fds (-1 = wait forever) */
#define SYS_SOCKNAME 49   /* sockname(int fd, void *addr, int addrlen) -> 0: getsockname(2) */
#define SYS_NETIF    50   /* netif(int index, struct netif *) -> 1, 0 = no more: the caller's interfaces */
#define SYS_NETJOIN  51   /* netjoin(const char *bridge, unsigned ip, int prefix) -> 0: a new
                             interface of the caller's namespace on that bridge (ip addr add) */
#define SYS_NETJOINPID 53 /* netjoinpid(int pid, const struct netif *) -> 0: the same as netjoin() (its
                             bridge, addr, prefix; name unused) for the network namespace of process
                             pid (not the initial one: -EPERM) */
#define SYS_KILL     52   /* kill(int pid) -> 0: ends the process (as SIGKILL: status 137);
                             pids as the caller's PID namespace sees them (sched.c) */

#define AF_UNIX    1                  /* local sockets: a name (a path) in the IPC namespace */
#define AF_INET    2                  /* network sockets: address and port, per network namespace */
#define SOCK_STREAM   1               /* the only type: a reliable byte stream */
#define SOCK_NONBLOCK 0x800           /* or'ed into socket()'s type: calls that would block get -EAGAIN */
#define SHUT_RD    0
#define SHUT_WR    1
#define SHUT_RDWR  2
#define UNIX_PATH_MAX 108             /* sun_path, with its NUL */
#define INADDR_ANY       0u
#define INADDR_LOOPBACK  0x7f000001u  /* 127.0.0.1 */
#define BRIDGE_MAX 16                 /* longest bridge name, with its NUL */

/* Addresses and ports are in host byte order (Linux keeps them in network order). */
struct sockaddr_un { unsigned short family; char path[UNIX_PATH_MAX]; };
struct sockaddr_in { unsigned short family, port; unsigned int addr; };

#define POLLIN   1                    /* data (or the end) to read; a connection to accept */
#define POLLOUT  4                    /* room to write at least half a socket buffer */
#define POLLHUP  16                   /* the other end has gone */
#define POLLNVAL 32                   /* not an open descriptor */
struct pollfd { int fd; short events, revents; };

struct netif {
    char name[8];                     /* "lo", "eth0", ... */
    char bridge[BRIDGE_MAX];          /* "" for lo */
    unsigned int addr;                /* host byte order */
    int prefix;
};

/* Workload markers (traplab compare, 70-79 reserved for it): the kernel writes `what` to
 * port MARK_PORT, which does nothing on a PC (QEMU ignores it); `traplab compare` watches
 * the port to time a workload from the command to its first instruction and to its end. */
#define SYS_MARK     70   /* mark(int what) -> 0: outb(MARK_PORT, what)                 */
#define MARK_PORT    0xEA
#define MARK_COMMAND 1    /* the shell read a command line and is about to run it       */
#define MARK_BEGIN   2    /* a workload's first instruction (work.c)                    */
#define MARK_END     3    /* the workload is done                                       */

/* isolate() namespace flags: Linux's clone(2) values. */
#define CLONE_NEWNS     0x00020000    /* a new root directory ("mount" namespace)    */
#define CLONE_NEWCGROUP 0x02000000    /* here: join (or create) the group `group`    */
#define CLONE_NEWUTS    0x04000000    /* its own hostname                            */
#define CLONE_NEWIPC    0x08000000    /* here: its own local-socket paths (socket.c) */
#define CLONE_NEWPID    0x20000000    /* its own pid numbers: the child is pid 1     */
#define CLONE_NEWNET    0x40000000    /* its own interfaces and ports (net.c)        */
#define HOST_MAX   32                 /* longest hostname, with its NUL */
#define GROUP_MAX  16                 /* longest group name, with its NUL */

struct isolate_args {
    const char *path, *args;          /* the program and its argument line, as spawn() */
    int flags;                        /* spawn flags (SPAWN_BACKGROUND) */
    unsigned int ns;                  /* CLONE_* flags; any other bit = -EINVAL */
    const char *root;                 /* CLONE_NEWNS: directory that becomes "/" */
    const char *hostname;             /* CLONE_NEWUTS: its hostname (NULL = a copy) */
    const char *group;                /* CLONE_NEWCGROUP: group name */
    int mem_max;                      /* group limits: page frames (0 = keep) */
    int cpu_weight;                   /* 1-10000 (0 = keep; new groups: 100) */
    int pids_max;                     /* processes (0 = keep) */
    const char *lower;                /* CLONE_NEWNS: a read-only lower layer instead of root:
                                         the root is /overlays/NAME over it (overlay.c) */
    const char *layer;                /* NAME (NULL = the hostname, else "layer") */
    const char *bridge;               /* CLONE_NEWNET: eth0 joins this bridge (NULL = lo only) */
    unsigned int ip;                  /* eth0's address (host byte order, 10.0.0.2 = 0x0a000002) */
    int prefix;                       /* its prefix length, 1-30 (0 = 24) */
    int cpu_max;                      /* cpu.max quota: microseconds of CPU per 100000 (10000-100000,
                                         0 = keep; new groups: no cap), docker run --cpus */
    const char *env;                  /* its environment, "K=V" lines split by '\n' (NULL = the
                                         caller's), like execve(2)'s envp */
};

/* Errors: system calls return these negated (-ENOENT ...), as Linux does. */
#define EPERM         1
#define ENOENT        2
#define ESRCH         3
#define E2BIG         7
#define ENOEXEC       8
#define EBADF         9
#define EAGAIN       11
#define ENOMEM       12
#define EFAULT       14
#define EBUSY        16
#define EEXIST       17
#define ENOTDIR      20
#define EISDIR       21
#define EINVAL       22
#define ENFILE       23
#define EMFILE       24
#define EFBIG        27
#define ENOSPC       28
#define ESPIPE       29
#define EPIPE        32
#define ERANGE       34
#define ENAMETOOLONG 36
#define ENOSYS       38
#define ENOTEMPTY    39
#define ENOTSOCK     88
#define EPROTOTYPE   91
#define EAFNOSUPPORT 97
#define EADDRINUSE   98
#define EADDRNOTAVAIL 99
#define ENETUNREACH 101
#define ECONNRESET  104
#define EISCONN     106
#define ENOTCONN    107
#define ECONNREFUSED 111
#define EHOSTUNREACH 113
#define EOPNOTSUPP   95                /* e.g. a VM on a CPU without SVM */

#define SPAWN_BACKGROUND 1  /* spawn flag: detached, nobody waits for it */

/* File descriptors: a process inherits its parent's at spawn; the shell starts
 * with 0 = console input (COM1 + PS/2 keyboard), 1 and 2 = console output. */
#define NFD        16                 /* descriptors per process */
#define PATH_MAX  128                 /* longest path, with its NUL */
#define NAME_MAX   27                 /* longest file name */
#define ARGS_MAX  128                 /* longest spawn argument line, with its NUL */
#define ENV_MAX   128                 /* longest environment ("K=V" lines), with its NUL */

#define O_RDONLY   0
#define O_WRONLY   1
#define O_RDWR     2
#define O_ACCMODE  3
#define O_CREAT    0x40
#define O_TRUNC    0x200
#define O_APPEND   0x400

#define SEEK_SET   0
#define SEEK_CUR   1
#define SEEK_END   2

#define S_IFREG    1                  /* struct stat / struct dirent type */
#define S_IFDIR    2
#define S_IFCHR    3                  /* the console */
#define S_IFIFO    4                  /* a pipe */
#define S_IFSOCK   5                  /* a socket (socket.c) */

struct stat {
    unsigned int ino, type, size;
};

struct dirent {
    unsigned int ino, type, size;
    char name[NAME_MAX + 1];
};

/* User address space layout */
#define USER_BASE       0x00400000u   /* program image (code, data, bss) is loaded here */
#define USER_STACK_TOP  0x00800000u   /* the stack grows down from here */
#define USER_STACK_PAGES 4
#define USER_HEAP_LIMIT (USER_STACK_TOP - USER_STACK_PAGES * 4096 - 4096)  /* guard page */

/* User programs are ELF32 executables (files in /bin, loaded by elf.c) linked
 * at USER_BASE; _start finds argc at [ESP], argv at [ESP+4] and envp at [ESP+8]. */

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


#endif
