/* intloop.c - integer ALU loop benchmark (the loop is in intloop.S). */
#include "bench.h"
u32 intloop(u32 iters);
u32 bench_run(u32 iters) { return intloop(iters); }
int main(u32 magic, struct multiboot_info *mbi)
{
    return bench_main("intloop", 4000000, magic, mbi);
}
