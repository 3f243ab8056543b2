/* spin.c - burns CPU for N timer ticks of wall (virtual) time and reports
 * how many loop rounds it managed: with another busy process beside it the
 * count shows its share of the CPU. `spin [TICKS]` (default 100). */
#include "ulib.h"

int main(int argc, char **argv)
{
    unsigned int n = 100, rounds = 0;
    if (argc > 1) { n = 0; for (char *s = argv[1]; *s >= '0' && *s <= '9'; s++) n = n * 10 + (unsigned int)(*s - '0'); }
    unsigned int end = uptime() + n;
    while (uptime() < end) {
        for (volatile int i = 0; i < 1000; i++) ;
        rounds++;
    }
    printf("spin[%d]: %u rounds in %u ticks\n", getpid(), rounds, n);
    return 0;
}
