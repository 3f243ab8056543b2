/* hello.c - the smallest user program. */
#include "ulib.h"

int main(void)
{
    printf("Hello from user space! I am process %d.\n", getpid());
    return 0;
}
