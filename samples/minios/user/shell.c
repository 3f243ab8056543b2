/*
 * shell.c - the minios command interpreter, an ordinary ring-3 process.
 *
 * Reads a line from the console (COM1 and keyboard) one byte at a time,
 * echoing what it reads, and runs it. A command is a built-in (see help) or
 * a program: an ELF file in /bin (or given by a path) started with spawn(),
 * which `run PROG` does too. `A | B` connects A's output to B's input through
 * a pipe (A may be a built-in: it runs in the shell while B runs beside it);
 * `CMD > FILE` (or >> to append) sends the output to a file; `CMD &` runs a
 * program in the background; '...' quotes keep | and > for the program.
 * `sh -c CMD...` runs one command line (the words after -c, joined by
 * spaces) and exits; at the end of its input (a pipe or file instead of the
 * console) the shell exits too.
 */
#include "ulib.h"

#define MAXARGS 32

static char line[128];

static void readline(void)
{
    int n = 0;
    for (;;) {
        char c;
        int r = read(0, &c, 1);
        if (r == 0) exit(0);                          /* the end of a pipe or file: done */
        if (r != 1) continue;
        if (c == '\n') { write(1, "\n", 1); break; }
        if (c == '\b' || c == 0x7f) {                 /* backspace / delete */
            if (n > 0) { n--; write(1, "\b \b", 3); }
            continue;
        }
        if (c < ' ' || n == (int)sizeof(line) - 1) continue;   /* ignore other controls */
        line[n++] = c;
        write(1, &c, 1);
    }
    line[n] = 0;
}

static char *skip_spaces(char *s) { while (*s == ' ') s++; return s; }

/* The first c of s outside '...' quotes: quotes keep | and > for the program
 * (docker run box sh -c 'echo hi > /data/f'); they do not group words, since
 * a program's argument line is split at every space (user_args in elf.c). */
static char *find_op(char *s, int c)
{
    for (int quoted = 0; *s; s++) {
        if (*s == '\'') quoted = !quoted;
        else if (*s == c && !quoted) return s;
    }
    return 0;
}

/* Splits s at spaces into argv (in place, quotes taken out); returns argc. */
static int split(char *s, char **argv)
{
    int argc = 0;
    char *w = s;
    for (char *r = s; ; r++) if (*r != '\'') { *w++ = *r; if (!*r) break; }
    for (;;) {
        s = skip_spaces(s);
        if (!*s || argc == MAXARGS - 1) break;
        argv[argc++] = s;
        while (*s && *s != ' ') s++;
        if (*s) *s++ = 0;
    }
    argv[argc] = 0;
    return argc;
}

static void cmd_help(void)
{
    printf("commands:\n"
           "  help          this list\n"
           "  ls [DIR]      list a directory (programs are in /bin)\n"
           "  cd DIR, pwd   change / show the working directory\n"
           "  mkdir DIR, rmdir DIR, rm FILE   make and remove directories and files\n"
           "  echo TEXT     print TEXT (echo TEXT > FILE writes a file)\n"
           "  PROG [ARGS]   run /bin/PROG and wait for it (cat, grep, wc, hello, cpu, ...)\n"
           "  run PROG      the same; run PROG & runs it in the background\n"
           "  A | B         A's output is B's input; CMD > FILE, CMD >> FILE\n"
           "  hostname [NAME]  show or set the hostname\n"
           "  isolate [--pid] [--mount=DIR | --overlay=DIR] [--hostname NAME] [--mem PAGES] [--cpu WEIGHT]\n"
           "          [--pids N] [--group NAME] [--ipc] [--net[=BRIDGE] [--ip=A.B.C.D[/N]]] PROG [ARGS]\n"
           "                run PROG in new namespaces/group\n"
           "  wait          wait until the background programs have finished\n"
           "  ps            list the processes\n"
           "  mem           physical memory usage\n"
           "  uptime        time since boot\n"
           "  pgcheck       the kernel runs the sensitive, unprivileged x86 instructions\n"
           "  hv            native, or virtualized by which hypervisor (CPUID, VMMCALL)\n"
           "  exit          shut the machine down\n");
}

static void cmd_ls(const char *path)
{
    struct stat st;
    int r = stat(path, &st);
    if (r < 0) { printf("ls: %s: %s\n", path, strerror(r)); return; }
    if (st.type != S_IFDIR) { printf("  %-16s %6u bytes\n", path, st.size); return; }
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("ls: %s: %s\n", path, strerror(fd)); return; }
    struct dirent d;
    while (readdir(fd, &d) == 1) {
        if (d.type == S_IFDIR) printf("  %s/\n", d.name);
        else if (d.type == S_IFCHR) printf("  %-16s (whiteout)\n", d.name);
        else printf("  %-16s %6u bytes\n", d.name, d.size);
    }
    close(fd);
}

static void cmd_ps(void)
{
    static const char *const states[] = { "unused", "ready", "running", "blocked", "zombie" };
    struct procinfo pi;
    printf("  PID  PPID  STATE    NAME\n");
    for (int slot = 0; ; slot++) {
        int r = ps(slot, &pi);
        if (r < 0) break;
        if (r == 0) continue;
        printf("  %3d  %4d  %-7s  %s", pi.pid, pi.ppid, states[pi.state], pi.name);
        if (pi.wait[0]) printf(" (waiting for %s)", pi.wait);
        printf("\n");
    }
}

/* Background programs are detached (the kernel reaps them), so `wait` just
 * sleeps until the process table holds no child of ours (the daemons init
 * started, such as dockerd, are not our jobs). */
static void cmd_wait(void)
{
    struct procinfo pi;
    int me = getpid();
    for (;;) {
        int others = 0, r;
        for (int slot = 0; (r = ps(slot, &pi)) >= 0; slot++)
            if (r == 1 && pi.ppid == me && pi.state != PROC_ZOMBIE)   /* my jobs, not init's daemons */
                others++;
        if (!others) return;
        sleep(10);                                    /* 10 ticks = 0.1 s */
    }
}

static void cmd_mem(void)
{
    struct meminfo m;
    meminfo(&m);
    printf("  RAM above 1 MiB: %u KiB; kernel ends at %p\n", m.mem_upper_kib, m.kernel_end);
    printf("  page frames: %u total, %u free (%u KiB free)\n",
           m.frames_total, m.frames_free, m.frames_free * 4);
}

static void cmd_uptime(void)
{
    unsigned int t = uptime();
    printf("  up %u ticks = %u.%02u seconds (100 Hz timer)\n", t, t / 100, t % 100);
}

/* One call per argument (mkdir, rmdir, rm, cd), reporting failures. */
static void each(int argc, char **argv, int (*call)(const char *))
{
    if (argc < 2) { printf("usage: %s NAME...\n", argv[0]); return; }
    for (int i = 1; i < argc; i++) {
        int r = call(argv[i]);
        if (r < 0) printf("%s: %s: %s\n", argv[0], argv[i], strerror(r));
    }
}

static int atoi_(const char *s)
{
    int v = 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    return v;
}

/* Builds the program path (/bin/NAME unless NAME holds a '/') and the argument line. */
static int prog_args(int argc, char **argv, char *path, char *args)
{
    int n = 0;
    if (!strchr(argv[0], '/')) { memcpy(path, "/bin/", 5); n = 5; }
    if (n + strlen(argv[0]) >= PATH_MAX) { printf("%s: name too long\n", argv[0]); return -1; }
    memcpy(path + n, argv[0], strlen(argv[0]) + 1);
    n = 0;
    for (int i = 0; i < argc; i++) {
        unsigned int k = strlen(argv[i]);
        if (n + k + 2 > ARGS_MAX) { printf("%s: arguments too long\n", argv[0]); return -1; }
        if (i) args[n++] = ' ';
        memcpy(args + n, argv[i], k);
        n += (int)k;
    }
    args[n] = 0;
    return 0;
}

static void finish(int pid, const char *name);

/* isolate: like unshare(1) + chroot + a cgroup, through the isolate() call. */
static int cmd_isolate(int argc, char **argv, int background)
{
    struct isolate_args a;
    memset(&a, 0, sizeof(a));
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        char *o = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(o, "--pid")) a.ns |= CLONE_NEWPID;
        else if (!strncmp(o, "--mount=", 8)) { a.ns |= CLONE_NEWNS; a.root = o + 8; }
        else if (!strncmp(o, "--overlay=", 10)) { a.ns |= CLONE_NEWNS; a.lower = o + 10; }
        else if (!strcmp(o, "--hostname") && more) { a.ns |= CLONE_NEWUTS; a.hostname = argv[++i]; }
        else if (!strcmp(o, "--mem") && more) { a.ns |= CLONE_NEWCGROUP; a.mem_max = atoi_(argv[++i]); }
        else if (!strcmp(o, "--cpu") && more) { a.ns |= CLONE_NEWCGROUP; a.cpu_weight = atoi_(argv[++i]); }
        else if (!strcmp(o, "--pids") && more) { a.ns |= CLONE_NEWCGROUP; a.pids_max = atoi_(argv[++i]); }
        else if (!strcmp(o, "--group") && more) { a.ns |= CLONE_NEWCGROUP; a.group = argv[++i]; }
        else if (!strcmp(o, "--ipc")) a.ns |= CLONE_NEWIPC;
        else if (!strcmp(o, "--net")) a.ns |= CLONE_NEWNET;
        else if (!strncmp(o, "--net=", 6)) { a.ns |= CLONE_NEWNET; a.bridge = o + 6; }
        else if (!strncmp(o, "--ip=", 5) && !inet_parse(o + 5, &a.ip, &a.prefix)) continue;
        else { printf("isolate: unknown option %s (try help)\n", o); return 0; }
    }
    if (i == argc) { printf("usage: isolate [OPTIONS] PROG [ARGS]\n"); return 0; }
    if ((a.ns & CLONE_NEWCGROUP) && !a.group) a.group = a.hostname ? a.hostname : "isolated";
    char path[PATH_MAX], args[ARGS_MAX];
    if (prog_args(argc - i, argv + i, path, args)) return 0;
    a.path = path;
    a.args = args;
    a.flags = background ? SPAWN_BACKGROUND : 0;
    int pid = isolate(&a);
    if (pid < 0) { printf("isolate: cannot start %s: %s\n", path, strerror(pid)); return 0; }
    if (background) { printf("[%d] %s started in the background\n", pid, argv[i]); return 0; }
    finish(pid, argv[i]);
    return 0;
}

/* Starts a program (argv[0] is looked up in /bin unless it holds a '/');
 * returns its pid, or a negative error after saying so. */
static int start(int argc, char **argv, int background)
{
    char path[PATH_MAX], args[ARGS_MAX];
    if (prog_args(argc, argv, path, args)) return -1;
    int pid = spawn(path, args, background ? SPAWN_BACKGROUND : 0);
    if (pid < 0) eprintf("%s: cannot start %s: %s (try ls /bin)\n", argv[0], path, strerror(pid));
    else if (background) printf("[%d] %s started in the background\n", pid, argv[0]);
    return pid;
}

static void finish(int pid, const char *name)
{
    int status;
    if (pid > 0 && wait(pid, &status) == pid && status != 0)
        printf("[%d] %s exited with status %d\n", pid, name, status);
}

/* Runs one command with the current descriptors. With `nowait`, a program is
 * started and its pid returned instead of waited for (the right side of |). */
static int command(char *cmd, int nowait)
{
    char *words[MAXARGS], **argv = words;
    int background = 0;
    for (char *p = cmd; *p; p++)
        if (*p == '&') { background = 1; *p = ' '; }
    int argc = split(cmd, argv);
    if (!argc) return 0;
    char *c = argv[0];
    if (!strcmp(c, "run")) {
        if (argc < 2) { printf("usage: run PROG [ARGS] [&]\n"); return 0; }
        argv++; argc--;
        c = argv[0];
    } else if (!strcmp(c, "help")) { cmd_help(); return 0; }
    else if (!strcmp(c, "ls")) {
        if (argc < 2) cmd_ls(".");
        for (int i = 1; i < argc; i++) cmd_ls(argv[i]);
        return 0;
    }
    else if (!strcmp(c, "echo")) {
        for (int i = 1; i < argc; i++) printf(i > 1 ? " %s" : "%s", argv[i]);
        printf("\n");
        return 0;
    }
    else if (!strcmp(c, "pwd")) {
        char buf[PATH_MAX];
        int r = getcwd(buf, sizeof(buf));
        if (r < 0) printf("pwd: %s\n", strerror(r)); else printf("%s\n", buf);
        return 0;
    }
    else if (!strcmp(c, "cd")) {
        if (argc < 2) { argv[1] = "/"; argc = 2; }
        each(argc, argv, chdir);
        return 0;
    }
    else if (!strcmp(c, "mkdir")) { each(argc, argv, mkdir); return 0; }
    else if (!strcmp(c, "rmdir")) { each(argc, argv, rmdir); return 0; }
    else if (!strcmp(c, "rm")) { each(argc, argv, unlink); return 0; }
    else if (!strcmp(c, "ps")) { cmd_ps(); return 0; }
    else if (!strcmp(c, "isolate")) return cmd_isolate(argc, argv, background);
    else if (!strcmp(c, "hostname")) {
        char buf[HOST_MAX];
        int r = argc > 1 ? sethostname(argv[1]) : hostname(buf, sizeof(buf));
        if (r < 0) printf("hostname: %s\n", strerror(r));
        else if (argc < 2) printf("%s\n", buf);
        return 0;
    }
    else if (!strcmp(c, "wait")) { cmd_wait(); return 0; }
    else if (!strcmp(c, "mem")) { cmd_mem(); return 0; }
    else if (!strcmp(c, "uptime")) { cmd_uptime(); return 0; }
    else if (!strcmp(c, "pgcheck")) { syscall3(SYS_PGCHECK, 0, 0, 0); return 0; }
    else if (!strcmp(c, "hv")) {
        char buf[80];
        int r = syscall3(SYS_HVINFO, (int)buf, sizeof(buf), 0);
        if (r < 0) printf("hv: %s\n", strerror(r));
        else printf("%s\n", buf);
        return 0;
    }
    else if (!strcmp(c, "exit")) { printf("bye\n"); shutdown(0); }
    int pid = start(argc, argv, background);
    if (pid < 0 || background) return 0;
    if (nowait) return pid;
    finish(pid, c);
    return 0;
}

/* Descriptors 10 and 11 keep the shell's own input and output while a
 * command runs with others; children get only 0, 1 and 2. */
static int redirected(char *cmd, int nowait)
{
    char *gt = find_op(cmd, '>');
    if (!gt) return command(cmd, nowait);
    int flags = O_WRONLY | O_CREAT | O_TRUNC;
    *gt++ = 0;
    if (*gt == '>') { gt++; flags = O_WRONLY | O_CREAT | O_APPEND; }
    char *argv[MAXARGS];
    if (split(gt, argv) != 1) { printf("usage: COMMAND > FILE\n"); return 0; }
    int fd = open(argv[0], flags);
    if (fd < 0) { printf("%s: %s\n", argv[0], strerror(fd)); return 0; }
    dup2(1, 11);
    dup2(fd, 1);
    close(fd);
    int pid = command(cmd, nowait);
    dup2(11, 1);
    close(11);
    return pid;
}

static void pipeline(char *left, char *right)
{
    int p[2], r = pipe(p);
    if (r < 0) { printf("pipe: %s\n", strerror(r)); return; }
    dup2(0, 10);                       /* the right side reads the pipe */
    dup2(p[0], 0);
    close(p[0]);
    int pid = redirected(right, 1);
    dup2(10, 0);
    close(10);
    dup2(1, 11);                       /* the left side writes it */
    dup2(p[1], 1);
    close(p[1]);
    if (pid > 0) redirected(left, 0);  /* nobody reads: do not start the left side */
    dup2(11, 1);                       /* our last write end is closed: B sees the end */
    close(11);
    int status;
    if (pid > 0) wait(pid, &status);
}

static void autorun(void)
{
    char buf[256];
    cmdline(buf, sizeof(buf));
    for (char *s = buf; *s; s++) {
        if ((s == buf || s[-1] == ' ') && !strncmp(s, "autorun=", 8)) {
            char *prog = s + 8, *end = prog;
            while (*end && *end != ' ') end++;
            *end = 0;
            printf("autorun: %s\n", prog);
            command(prog, 0);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "-c")) {       /* sh -c CMD...: one command line, no prompt */
        int n = 0;
        for (int i = 2; i < argc; i++)
            for (const char *a = argv[i]; *a && n < (int)sizeof(line) - 2; a++) {
                if (a == argv[i] && i > 2) line[n++] = ' ';
                line[n++] = *a;
            }
        line[n] = 0;
        char *bar = find_op(line, '|');
        if (bar) { *bar = 0; pipeline(line, bar + 1); }
        else redirected(line, 0);
        return 0;
    }
    printf("minios shell, pid %d. Type 'help' for the commands.\n", getpid());
    autorun();
    for (;;) {
        printf("minios> ");
        readline();
        char *cmd = skip_spaces(line);
        if (!*cmd) continue;
        mark(MARK_COMMAND);            /* traplab compare times start-up from here */
        char *bar = find_op(cmd, '|');
        if (bar) { *bar = 0; pipeline(cmd, bar + 1); }
        else redirected(cmd, 0);
    }
}
