/*
 * kill.c - ends processes, kill(1) with SIGKILL only: `kill PID...`. The pids
 * are the ones ps shows (this PID namespace's); the process exits with status
 * 137 (128 + 9) the next time the scheduler picks it.
 */
#include "ulib.h"

int main(int argc, char **argv)
{
    if (argc < 2) { eprintf("usage: kill PID...\n"); return 2; }
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        int pid = 0;
        for (const char *s = argv[i]; *s >= '0' && *s <= '9'; s++) pid = pid * 10 + (*s - '0');
        int r = kill(pid);
        if (r < 0) { eprintf("kill: %s: %s\n", argv[i], strerror(r)); bad = 1; }
    }
    return bad;
}
