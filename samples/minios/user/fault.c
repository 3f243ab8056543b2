/*
 * fault.c - touches a page that is not mapped. The CPU raises a page fault
 * (#PF, vector 14) with CR2 = the address; the kernel reports it, kills this
 * process and carries on.
 */
#include "ulib.h"

int main(void)
{
    volatile unsigned int *bad = (volatile unsigned int *)0x00a00000;  /* beyond our 4 MiB */
    printf("fault[%d]: writing to unmapped address %p...\n", getpid(), (unsigned int)bad);
    *bad = 42;
    printf("fault: still alive?! this should not happen\n");
    return 1;
}
