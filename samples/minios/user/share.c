/* share.c - two CPU-bound processes in two groups with cpu.weight 100 and 300
 * (cgroup.c): both run `spin TICKS` at the same time, then the groups'
 * cpu.stat files tell how many timer ticks each got. The scheduler should
 * split the CPU 1:3; the verdict allows 10%. `share [TICKS]` (default 150). */
#include "ulib.h"

static unsigned int usage(const char *group)
{
    char path[64], buf[64];
    memcpy(path, "/sys/fs/cgroup/", 15);
    memcpy(path + 15, group, strlen(group));
    memcpy(path + 15 + strlen(group), "/cpu.stat", 10);
    int fd = open(path, O_RDONLY), n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);
    if (fd >= 0) close(fd);
    buf[n > 0 ? n : 0] = 0;
    char *s = strstr(buf, "usage_usec ");
    unsigned int v = 0;
    if (s) for (s += 11; *s >= '0' && *s <= '9'; s++) v = v * 10 + (unsigned int)(*s - '0');
    return v / 10000;                               /* ticks of 10 ms */
}

static int start(const char *group, int weight, const char *args)
{
    struct isolate_args a;
    memset(&a, 0, sizeof(a));
    a.path = "/bin/spin";
    a.args = args;
    a.ns = CLONE_NEWCGROUP;
    a.group = group;
    a.cpu_weight = weight;
    int pid = isolate(&a);
    if (pid < 0) printf("share: isolate: %s\n", strerror(pid));
    return pid;
}

int main(int argc, char **argv)
{
    char args[32];
    const char *ticks = argc > 1 ? argv[1] : "150";
    memcpy(args, "spin ", 5);
    memcpy(args + 5, ticks, strlen(ticks) + 1);
    unsigned int a0 = usage("low"), b0 = usage("high");
    int a = start("low", 100, args), b = start("high", 300, args), status;
    if (a < 0 || b < 0) return 1;
    wait(a, &status);
    wait(b, &status);
    unsigned int a1 = usage("low") - a0, b1 = usage("high") - b0;
    int ok = a1 && b1 * 10 >= a1 * 27 && b1 * 10 <= a1 * 33;
    printf("share: low (cpu.weight 100) got %u ticks, high (cpu.weight 300) got %u: %u.%02u times as many\n",
           a1, b1, b1 / (a1 ? a1 : 1), (b1 * 100 / (a1 ? a1 : 1)) % 100);
    printf("share: %s\n", ok ? "within 10% of 1:3: ok" : "NOT within 10% of 1:3");
    return ok ? 0 : 1;
}
