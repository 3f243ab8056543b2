/*
 * hello.c - the smallest Traplab guest.
 *
 * Prints a greeting and what it learned from the multiboot information to
 * COM1 and to the VGA text screen (moving the hardware cursor), then ends the
 * run by writing 0 to the exit device at port 0xF4 (status (0<<1)|1 = 1).
 */
#include "../common/lib.h"

int main(u32 magic, struct multiboot_info *mbi)
{
    char a[12], b[12];

    serial_init();
    vga_clear();
    puts_both("Hello from Traplab!\n");
    if (magic != 0x2BADB002) {
        puts_both("not started by a multiboot loader\n");
        return 1;
    }
    if (mbi->flags & 1) {
        puts_both("multiboot: mem_lower=");
        puts_both(utoa(mbi->mem_lower, a));
        puts_both(" KiB mem_upper=");
        puts_both(utoa(mbi->mem_upper, b));
        puts_both(" KiB\n");
    } else {
        puts_both("multiboot: no memory information\n");
    }
    return 0;   /* start.S writes it to port 0xF4 */
}
