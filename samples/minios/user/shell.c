/*
 * shell.c - the minios command interpreter, an ordinary ring-3 process.
 *
 * Reads a line from the console (COM1 and keyboard) one byte at a time,
 * echoing what it reads, and runs the command. Programs are spawned from
 * the kernel's in-memory file table; `run PROG` waits for them,
 * `run PROG &` leaves them running in the background.
 */
#include "ulib.h"

static char line[128];

static void readline(void)
{
    int n = 0;
    for (;;) {
        char c;
        if (read(0, &c, 1) != 1) continue;
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

static void cmd_help(void)
{
    printf("commands:\n"
           "  help          this list\n"
           "  ls            list the programs\n"
           "  run PROG      run a program and wait for it\n"
           "  run PROG &    run a program in the background\n"
           "  wait          wait until the background programs have finished\n"
           "  ps            list the processes\n"
           "  mem           physical memory usage\n"
           "  uptime        time since boot\n"
           "  exit          shut the machine down\n");
}

static void cmd_ls(void)
{
    struct proginfo pi;
    for (int i = 0; progs(i, &pi) == 0; i++)
        printf("  %-8s %5u bytes  %s\n", pi.name, pi.size, pi.desc);
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
 * sleeps until the process table holds nobody but the idle process and us. */
static void cmd_wait(void)
{
    struct procinfo pi;
    int me = getpid();
    for (;;) {
        int others = 0, r;
        for (int slot = 0; (r = ps(slot, &pi)) >= 0; slot++)
            if (r == 1 && pi.pid != 0 && pi.pid != me && pi.state != PROC_ZOMBIE)
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

static void run(char *prog, int background)
{
    int pid = spawn(prog, background ? SPAWN_BACKGROUND : 0);
    if (pid < 0) { printf("run: cannot start '%s' (try ls)\n", prog); return; }
    if (background) { printf("[%d] %s started in the background\n", pid, prog); return; }
    int status;
    if (wait(pid, &status) == pid && status != 0)
        printf("[%d] %s exited with status %d\n", pid, prog, status);
}

static void cmd_run(char *args)
{
    char *prog = skip_spaces(args);
    char *end = prog;
    while (*end && *end != ' ' && *end != '&') end++;
    int background = 0;
    for (char *p = end; *p; p++) if (*p == '&') background = 1;
    *end = 0;
    if (!*prog) { printf("usage: run PROG [&]\n"); return; }
    run(prog, background);
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
            run(prog, 0);
            return;
        }
    }
}

int main(void)
{
    printf("minios shell, pid %d. Type 'help' for the commands.\n", getpid());
    autorun();
    for (;;) {
        printf("minios> ");
        readline();
        char *cmd = skip_spaces(line);
        if (!*cmd) continue;
        if (!strcmp(cmd, "help")) cmd_help();
        else if (!strcmp(cmd, "ls")) cmd_ls();
        else if (!strncmp(cmd, "run", 3) && (cmd[3] == ' ' || !cmd[3])) cmd_run(cmd + 3);
        else if (!strcmp(cmd, "ps")) cmd_ps();
        else if (!strcmp(cmd, "wait")) cmd_wait();
        else if (!strcmp(cmd, "mem")) cmd_mem();
        else if (!strcmp(cmd, "uptime")) cmd_uptime();
        else if (!strcmp(cmd, "exit")) { printf("bye\n"); shutdown(0); }
        else printf("unknown command: %s (try help)\n", cmd);
    }
}
