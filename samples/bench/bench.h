/* bench.h - shared driver for the benchmark guests: parse iters=N, run, print checksum. */
#include "../common/lib.h"

/* Provided by each benchmark: does the work and returns a checksum that depends
 * only on the iteration count (never on timing). */
u32 bench_run(u32 iters);

static int bench_main(const char *name, u32 default_iters, u32 magic, struct multiboot_info *mbi)
{
    serial_init();
    u32 iters = default_iters;
    if (magic == 0x2BADB002)
        iters = cmdline_uint(mbi, "iters", default_iters);
    u32 sum = bench_run(iters);
    serial_puts(name);
    serial_puts(": iters=");
    serial_putu(iters);
    serial_puts(" checksum=0x");
    serial_puthex(sum);
    serial_putc('\n');
    return 0;
}
