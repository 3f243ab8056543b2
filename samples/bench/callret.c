/* callret.c - recursive call/return benchmark (the recursion is in callret.S). */
#include "bench.h"
u32 callret(u32 iters);
u32 bench_run(u32 iters) { return callret(iters); }
int main(u32 magic, struct multiboot_info *mbi)
{
    return bench_main("callret", 23, magic, mbi);
}
