/* memloop.c - memory/paging benchmark (the loop and the page tables are in memloop.S). */
#include "bench.h"
void memloop_paging_on(void);
u32 memloop(u32 iters);
u32 bench_run(u32 iters)
{
    memloop_paging_on();
    return memloop(iters);
}
int main(u32 magic, struct multiboot_info *mbi)
{
    return bench_main("memloop", 6000000, magic, mbi);
}
