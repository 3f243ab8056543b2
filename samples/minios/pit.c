/*
 * pit.c - the 8254 programmable interval timer: channel 0 drives IRQ0.
 * Its input clock is 1.193182 MHz; divisor 11932 gives 100 interrupts per
 * second. Each tick is the scheduler's time slice (see idt.c / sched.c).
 */
#include "kernel.h"

volatile u32 ticks;

void pit_init(u32 hz)
{
    u32 divisor = (1193182 + hz / 2) / hz;   /* 11932 for 100 Hz */
    outb(0x43, 0x36);                /* channel 0, lobyte/hibyte, mode 3 (square wave), binary */
    outb(0x40, (u8)(divisor & 0xff));
    outb(0x40, (u8)(divisor >> 8));
}
