/*
 * fuzz.c - throws bad and random arguments at the system calls and checks that
 * the kernel survives and answers with error codes (a property test: "every
 * call returns, the machine keeps running"). First a fixed list of bad
 * arguments with the error each must get, then N pseudo-random calls (a fixed
 * seed, so every run makes the same calls): `fuzz [N] [SEED]`.
 *
 * The random calls leave out what would end or stall this program rather than
 * test the kernel: exit, shutdown, sleep, pipe (reading our own empty pipe
 * blocks forever), cmdline (its text depends on the boot loader, so the runs
 * under QEMU and Traplab would differ), isolate (checked above: a random one
 * could start a program), reads of the console, and writes, dup2 and close on
 * descriptors 0-2 (the output would become random bytes). Sockets are made
 * non-blocking (SOCK_NONBLOCK is forced into socket()'s type) and poll() gets
 * a timeout of 0, so no call waits for a peer that never comes; numbers
 * 32 and 34-39 (other subsystems) and 52 (kill: it would end the shell) are left out. Pointers that are
 * valid point into a heap page, never at this program's code or variables.
 */
#include "ulib.h"

static unsigned int seed = 12345;
static unsigned int rnd(void) { seed = seed * 1103515245u + 12345u; return seed >> 8; }
static char buf[256], *heap;         /* heap: where random calls may write */
static int failed;

static void expect(const char *what, int got, int want)
{
    printf("  %-34s -> %d (%s)%s\n", what, got, got < 0 ? strerror(got) : "ok",
           got == want ? "" : "   WRONG");
    if (got != want) failed = 1;
}

/* An argument: small numbers, kernel addresses, edges of user space, a valid buffer. */
static int arg(void)
{
    switch (rnd() % 8) {
    case 0: return (int)(rnd() % 20) - 2;
    case 1: return (int)(0x100000 + rnd() % 0x300000);          /* the kernel */
    case 2: return (int)(0x7ffff000 + rnd() % 0x2000);
    case 3: return (int)(0x400000 - 1 - rnd() % 16);            /* just below the image */
    case 4: return (int)(0x800000 - 8 + rnd() % 16);            /* the top of the stack */
    case 5: return (int)rnd() * 7;
    default: return (int)(heap + rnd() % 4096);                 /* valid memory */
    }
}

static unsigned int atou(const char *s)
{
    unsigned int v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (unsigned int)(*s++ - '0');
    return v;
}

int main(int argc, char **argv)
{
    unsigned int n = argc > 1 ? atou(argv[1]) : 3000;
    if (argc > 2) seed = atou(argv[2]);
    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = 0;
    struct stat st;

    printf("fuzz: bad arguments\n");
    expect("open(NULL)", open(0, O_RDONLY), -EFAULT);
    expect("open(kernel address)", open((const char *)0x100000, O_RDONLY), -EFAULT);
    expect("open(200-byte path)", open(longpath, O_RDONLY), -ENAMETOOLONG);
    expect("open(\"/nonexistent\")", open("/nonexistent", O_RDONLY), -ENOENT);
    expect("open(\"/bin\", O_WRONLY)", open("/bin", O_WRONLY), -EISDIR);
    expect("open(\"/bin/hello\", flags 3)", open("/bin/hello", 3), -EINVAL);
    expect("read(fd 99)", read(99, buf, 1), -EBADF);
    expect("read(fd -1)", read(-1, buf, 1), -EBADF);
    expect("write(1, kernel address)", write(1, (const void *)0x101000, 4), -EFAULT);
    expect("write(1, buffer past the stack)", write(1, (const void *)0x7ffffe, 4), -EFAULT);
    expect("stat(path, NULL)", stat("/bin", 0), -EFAULT);
    expect("stat(\"/bin/hello/x\")", stat("/bin/hello/x", &st), -ENOTDIR);
    expect("mkdir(\"/bin\")", mkdir("/bin"), -EEXIST);
    expect("mkdir(\"/\")", mkdir("/"), -EEXIST);
    expect("rmdir(\"/bin\")", rmdir("/bin"), -ENOTEMPTY);
    expect("rmdir(\"/\")", rmdir("/"), -EBUSY);
    expect("unlink(\"/bin\")", unlink("/bin"), -EISDIR);
    expect("chdir(\"/etc/motd\")", chdir("/etc/motd"), -ENOTDIR);
    expect("getcwd(buf, 1)", getcwd(buf, 1), -ERANGE);
    expect("getcwd(kernel address, 64)", getcwd((char *)0x100000, 64), -EFAULT);
    expect("dup2(1, 16)", dup2(1, 16), -EBADF);
    expect("lseek(1, 0, SEEK_SET)", lseek(1, 0, SEEK_SET), -ESPIPE);
    expect("pipe(kernel address)", pipe((int *)0x100000), -EFAULT);
    expect("spawn(\"/etc/motd\")", spawn("/etc/motd", 0, 0), -ENOEXEC);
    expect("spawn(\"/bin\")", spawn("/bin", 0, 0), -ENOEXEC);
    expect("spawn(path, 200-byte args)", spawn("/bin/hello", longpath, 0), -ENAMETOOLONG);
    expect("unknown call 999", syscall3(999, 0, 0, 0), -ENOSYS);
    struct isolate_args ia;
    memset(&ia, 0, sizeof(ia));
    ia.path = "/bin/hello";
    ia.ns = 0x1;
    expect("isolate(unknown namespace flag)", isolate(&ia), -EINVAL);
    ia.ns = CLONE_NEWNS;
    ia.root = "/etc/motd";
    expect("isolate(root is a file)", isolate(&ia), -ENOTDIR);
    ia.ns = CLONE_NEWCGROUP;
    ia.group = "g";
    ia.cpu_weight = 20000;
    expect("isolate(cpu.weight 20000)", isolate(&ia), -EINVAL);
    expect("isolate(NULL)", isolate(0), -EFAULT);
    expect("sethostname(200 bytes)", sethostname(longpath), -ENAMETOOLONG);
    ia.ns = CLONE_NEWPID;
    ia.bridge = "br0";
    expect("isolate(bridge without CLONE_NEWNET)", isolate(&ia), -EINVAL);
    ia.ns = CLONE_NEWNET;
    ia.ip = 0x7f000005;
    expect("isolate(net, ip 127.0.0.5)", isolate(&ia), -EINVAL);
    ia.ns = CLONE_NEWNET | 0x1000;
    expect("isolate(net + unknown flag)", isolate(&ia), -EINVAL);
    expect("socket(AF 99)", socket(99, SOCK_STREAM), -EAFNOSUPPORT);
    expect("bind(fd 99)", bind(99, buf, 8), -EBADF);
    int sk = socket(AF_INET, SOCK_STREAM);
    expect("bind(NULL)", bind(sk, 0, sizeof(struct sockaddr_in)), -EFAULT);
    expect("connect(kernel address)", connect(sk, (void *)0x100000, sizeof(struct sockaddr_in)), -EFAULT);
    expect("accept(not listening)", accept(sk, 0, 0), -EINVAL);
    expect("send(not connected)", send(sk, buf, 1), -ENOTCONN);
    close(sk);
    expect("poll(NULL, 1)", poll(0, 1, 0), -EFAULT);
    expect("netjoin(200-byte bridge name)", netjoin(longpath, 0x0a000001, 24), -ENAMETOOLONG);
    expect("netif(0, NULL)", netif(0, 0), -EFAULT);
    expect("bindmount(NULL dst)", bindmount("/etc", 0, 0), -EFAULT);
    expect("bindmount(missing src)", bindmount("/nonexistent", "/bin", 0), -ENOENT);
    expect("bindmount(src is a file)", bindmount("/etc/motd", "/bin", 0), -ENOTDIR);
    expect("bindmount(dst outside root)", bindmount("/etc", "/bin", "/images/box"), -EINVAL);
    expect("bindmount(dst is the root)", bindmount("/etc", "/", 0), -EINVAL);
    expect("bindmount(src holds dst)", bindmount("/images", "/images/box", 0), -EINVAL);
    expect("umount(not a mountpoint)", bindmount(0, "/bin", 0), -EINVAL);
    struct netif nf;
    memset(&nf, 0, sizeof(nf));
    expect("netjoinpid(9999)", netjoinpid(9999, &nf), -ESRCH);
    expect("netjoinpid(self, initial namespace)", netjoinpid(getpid(), &nf), -EPERM);
    expect("kill(0): the idle process", kill(0), -ESRCH);
    expect("kill(9999)", kill(9999), -ESRCH);

    heap = sbrk(4096);
    mkdir("/fuzz");
    chdir("/fuzz");
    printf("fuzz: %u random calls, seed %u\n", n, seed);
    unsigned int errors = 0, oks = 0;
    for (unsigned int i = 0; i < n; i++) {
        int nr = (int)(rnd() % 45), a = arg(), b = arg(), c = arg();
        if (nr == 44) nr = SYS_BINDMOUNT;                 /* 33: bind mounts */
        else if (nr >= 30) nr += 10;                      /* 40-53: sockets and networks */
        if (nr == SYS_KILL) continue;
        if (nr == SYS_EXIT || nr == SYS_SHUTDOWN || nr == SYS_SLEEP || nr == SYS_PIPE
            || nr == SYS_CMDLINE || nr == SYS_ISOLATE) continue;
        if (nr == SYS_READ && a >= 0 && a <= 2) continue;
        if ((nr == SYS_WRITE || nr == SYS_CLOSE) && a >= 0 && a <= 2) continue;
        if (nr == SYS_DUP2 && b >= 0 && b <= 2) continue;
        if (nr == SYS_WAIT || nr == SYS_SPAWN) c = 0;    /* no background children */
        if (nr == SYS_SOCKET) b |= SOCK_NONBLOCK;         /* never wait for a peer */
        if (nr == SYS_POLL) c = 0;
        int r = syscall3(nr, a, b, c);
        if (r < 0) errors++; else oks++;
    }
    chdir("/");
    printf("fuzz: the kernel survived: %u calls answered (%u errors, %u successes)\n",
           errors + oks, errors, oks);
    printf("fuzz: %s\n", failed ? "some bad arguments got the WRONG answer" : "all bad arguments got their error");
    return failed;
}
