/*
 * work.c - the workloads of `traplab compare`: the same program runs natively, in a
 * container and in each virtual machine, and marks where its work begins and ends
 * (mark(): the kernel writes MARK_BEGIN and MARK_END to port MARK_PORT, see syscall.h).
 *
 *   work start       nothing: begin and end (start-up time and memory footprint)
 *   work cpu N       count the primes below N*1000 by trial division (no system calls)
 *   work sys N       N*1000 getpid() calls: entering the kernel and coming back
 *   work pf N        N times: start a child that maps 64 heap pages (sbrk) and touches
 *                    each of them 4 times, then exits: page tables built, used, torn down
 *   work io N        N lines of 64 characters to the console (serial port + VGA)
 *
 * The first statement of main is mark(MARK_BEGIN): the workload's "first instruction"
 * is that system call. Results are printed after MARK_END, so that printing them is not
 * part of what is measured.
 */
#include "ulib.h"

#define PF_PAGES 64

static unsigned int number(const char *s)
{
    unsigned int v = 0;
    while (s && *s >= '0' && *s <= '9') v = v * 10 + (unsigned int)(*s++ - '0');
    return v;
}

static unsigned int cpu(unsigned int limit)
{
    unsigned int count = 0;
    for (unsigned int n = 2; n < limit; n++) {
        int prime = 1;
        for (unsigned int d = 2; d * d <= n; d++)
            if (n % d == 0) { prime = 0; break; }
        count += prime;
    }
    return count;
}

static unsigned int sys(unsigned int calls)
{
    unsigned int sum = 0;
    for (unsigned int i = 0; i < calls; i++) sum += (unsigned int)getpid();
    return sum;
}

/* The child of `work pf`: maps PF_PAGES pages and touches each of them 4 times. */
static int pfchild(void)
{
    char *p = sbrk(PF_PAGES * 4096);
    if (p == (char *)-1) { printf("work pf: sbrk failed\n"); return 1; }
    for (int round = 0; round < 4; round++)
        for (int i = 0; i < PF_PAGES; i++) p[i * 4096 + round * 64] = (char)(i + round);
    return 0;
}

static unsigned int pf(unsigned int rounds)
{
    unsigned int ok = 0;
    for (unsigned int i = 0; i < rounds; i++) {
        int status, pid = spawn("/bin/work", "work pfchild", 0);
        if (pid > 0 && wait(pid, &status) == pid && status == 0) ok++;
    }
    return ok;
}

static unsigned int io(unsigned int lines)
{
    for (unsigned int i = 0; i < lines; i++)
        printf("work io: line %5u of the console workload, 64 characters.\n", i);
    return lines;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "pfchild")) return pfchild();
    mark(MARK_BEGIN);
    const char *what = argc > 1 ? argv[1] : "";
    unsigned int n = number(argc > 2 ? argv[2] : "1"), r;
    if (!strcmp(what, "start")) r = 0;
    else if (!strcmp(what, "cpu")) r = cpu(n * 1000);
    else if (!strcmp(what, "sys")) r = sys(n * 1000);
    else if (!strcmp(what, "pf")) r = pf(n);
    else if (!strcmp(what, "io")) r = io(n);
    else {
        mark(MARK_END);
        printf("usage: work start | cpu N | sys N | pf N | io N\n");
        return 2;
    }
    mark(MARK_END);
    printf("work %s %u: %u\n", what, n, r);
    return 0;
}
