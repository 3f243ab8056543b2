/*
 * cpu.c - a CPU-bound program: counts the primes below 300000 by trial
 * division and reports its progress ten times. Run two in the background
 * (`run cpu &` twice) to watch the timer preempt them in turn.
 */
#include "ulib.h"

#define LIMIT 300000

static int is_prime(unsigned int n)
{
    if (n < 2) return 0;
    if (n % 2 == 0) return n == 2;
    for (unsigned int d = 3; d * d <= n; d += 2)
        if (n % d == 0) return 0;
    return 1;
}

int main(void)
{
    int pid = getpid();
    unsigned int count = 0;
    for (unsigned int n = 0; n < LIMIT; n++) {
        count += is_prime(n);
        if (n % (LIMIT / 10) == LIMIT / 10 - 1)
            printf("cpu[%d]: %d%% done, %u primes so far\n", pid, (int)((n + 1) / (LIMIT / 100)), count);
    }
    printf("cpu[%d]: %u primes below %u\n", pid, count, LIMIT);
    return 0;
}
