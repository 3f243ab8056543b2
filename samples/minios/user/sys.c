/*
 * sys.c - a system-call-heavy program: thousands of getpid() and yield()
 * calls, a write() now and then, an sbrk() heap and a sleep(), to measure the cost of
 * crossing into the kernel and back.
 */
#include "ulib.h"

#define ROUNDS 10000

int main(void)
{
    int pid = getpid(), calls = 1, writes = 0;
    for (int i = 0; i < ROUNDS; i++) {
        if (getpid() != pid) { printf("sys: getpid changed!\n"); return 1; }
        yield();
        calls += 2;
        if (i % 2000 == 1999) {
            printf("sys[%d]: %d rounds\n", pid, i + 1);
            calls++;
            writes++;
        }
    }
    /* grow the heap by 64 KiB and use it */
    unsigned int *heap = sbrk(65536);
    calls++;
    if (heap == (unsigned int *)-1) { printf("sys: sbrk failed\n"); return 1; }
    unsigned int sum = 0;
    for (int i = 0; i < 65536 / 4; i++) heap[i] = (unsigned int)i;
    for (int i = 0; i < 65536 / 4; i++) sum += heap[i];
    sleep(2);                               /* block for two timer ticks */
    calls++;
    printf("sys[%d]: %d system calls (%d getpid, %d yield, %d write, 1 sbrk, 1 sleep); heap sum %u\n",
           pid, calls + 1, ROUNDS + 1, ROUNDS, writes + 1, sum);
    return 0;
}
