/*
 * pic.c - the two 8259A interrupt controllers.
 *
 * At power-on the BIOS leaves the master PIC on vectors 8-15, which collide
 * with CPU exceptions in protected mode, so we reprogram both (ICW1-ICW4):
 * master IRQ 0-7 -> vectors 0x20-0x27, slave IRQ 8-15 -> 0x28-0x2F.
 */
#include "kernel.h"

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1

void pic_init(void)
{
    outb(PIC1_CMD, 0x11);   /* ICW1: edge triggered, cascade, ICW4 follows */
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, 0x20);  /* ICW2: vector offset */
    outb(PIC2_DATA, 0x28);
    outb(PIC1_DATA, 0x04);  /* ICW3: slave on master's IRQ2 */
    outb(PIC2_DATA, 0x02);  /* ICW3: slave's cascade identity */
    outb(PIC1_DATA, 0x01);  /* ICW4: 8086 mode, normal EOI */
    outb(PIC2_DATA, 0x01);
    /* OCW1 masks (1 = masked): enable IRQ0 timer, IRQ1 keyboard, IRQ2 cascade, IRQ4 COM1 */
    outb(PIC1_DATA, (u8)~((1 << 0) | (1 << 1) | (1 << 2) | (1 << 4)));
    outb(PIC2_DATA, 0xff);
}

/* End of interrupt: a non-specific EOI (OCW2 0x20) to the slave too if the IRQ came from it. */
void pic_eoi(int irq)
{
    if (irq >= 8) outb(PIC2_CMD, 0x20);
    outb(PIC1_CMD, 0x20);
}

/* IRQ 7 and 15 can be spurious: then the in-service register (OCW3 0x0b) shows nothing. */
int pic_spurious(int irq)
{
    if (irq != 7 && irq != 15) return 0;
    u16 cmd = irq == 7 ? PIC1_CMD : PIC2_CMD;
    outb(cmd, 0x0b);
    if (inb(cmd) & 0x80) return 0;
    if (irq == 15) outb(PIC1_CMD, 0x20);   /* the master did see the cascade IRQ */
    return 1;
}
