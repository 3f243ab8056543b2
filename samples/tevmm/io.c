/*
 * io.c - the guest's port I/O, performed by the monitor after the IN/OUT trapped.
 *
 * Devices are PASSED THROUGH with trapped port I/O (no device model): the guest's IN and OUT
 * reach the real 8259A PIC, 8254 PIT, 16550 UART and VGA ports, with these exceptions:
 *  - PIC ICW2 (the vector base, Intel 8259A data sheet): the guest asks for 0x20/0x28, the
 *    monitor programs IRQ_BASE (0xF0/0xF8) so that an IRQ can never be confused with an
 *    exception or with the guest's INT n, and remembers the guest's base to reflect IRQs;
 *  - the PIC's in-service state is virtual: the monitor EOIs the real PIC when it takes an
 *    IRQ (vcpu.c), the guest's EOIs (OCW2) clear vcpu.visr and its ISR reads (OCW3) see it;
 *  - the UART's receive side: when the guest reads a byte, the monitor looks at it first;
 *    Ctrl-T (0x14) prints the trap ledger and is not given to the guest;
 *  - port 0xF4 (the isa-debug-exit device): the ledger is printed before the run ends;
 *  - port 0xEB (LEDGER_PORT, Traplab's monitor ledger) is the monitor's: the guest's writes
 *    are dropped, so that the ledger the host sees is the monitor's alone;
 *  - port 0xEA (a workload marker of `traplab compare`): the ledger's totals are sent to the
 *    host first, so that it can take the guest's share of the time at each marker.
 * The monitor's own messages go straight to the UART's transmit register.
 */
#include "tevmm.h"

#define COM1 0x3f8
#define LEDGER_KEY 0x14                  /* Ctrl-T, like BSD's "status" key */

static int stash = -1;                   /* a received byte held for the guest */
static int dlab;

void pic_real_init(void)
{
    outb(0x20, 0x11); outb(0xa0, 0x11);          /* ICW1: edge, cascade, ICW4 */
    outb(0x21, IRQ_BASE); outb(0xa1, IRQ_BASE + 8);
    outb(0x21, 0x04); outb(0xa1, 0x02);          /* ICW3 */
    outb(0x21, 0x01); outb(0xa1, 0x01);          /* ICW4: 8086 mode */
    outb(0x21, 0xff); outb(0xa1, 0xff);          /* all masked until the guest says */
}

static u32 raw_in(u16 port, int size)
{
    return size == 1 ? inb(port) : size == 2 ? inw(port) : inl(port);
}

static void raw_out(u16 port, int size, u32 v)
{
    if (size == 1) outb(port, (u8)v);
    else if (size == 2) outw(port, (u16)v);
    else outl(port, v);
}

/* Takes bytes from the UART until one is for the guest (or none is left). */
static void uart_fill(void)
{
    while (stash < 0 && (inb(COM1 + 5) & 1)) {
        u8 c = inb(COM1);
        if (c == LEDGER_KEY) ledger_print();
        else stash = c;
    }
}

u32 io_in(u16 port, int size)
{
    if (size == 1 && (port == 0x20 || port == 0xa0) && vcpu.pic_read_isr[port == 0xa0])
        return (vcpu.visr >> (port == 0xa0 ? 8 : 0)) & 0xff;
    if (size == 1 && port == COM1 + 5) {          /* LSR: data ready only for guest bytes */
        uart_fill();
        return (inb(COM1 + 5) & ~1u) | (stash >= 0);
    }
    if (size == 1 && port == COM1 && !dlab) {     /* RBR */
        uart_fill();
        int c = stash;
        stash = -1;
        return c < 0 ? 0 : (u32)c;
    }
    return raw_in(port, size);
}

void io_out(u16 port, int size, u32 v)
{
    if (size == 1 && (port == 0x20 || port == 0xa0)) {
        int k = port == 0xa0;
        if (v & 0x10) { vcpu.pic_icw[k] = 1; vcpu.pic_icw4[k] = v & 1; vcpu.visr &= k ? 0xff : 0xff00; }   /* ICW1 */
        else if ((v & 0x18) == 0x08) { if (v & 2) vcpu.pic_read_isr[k] = v & 1; }          /* OCW3 */
        else if (v & 0x20) {                         /* OCW2 EOI: the virtual ISR only */
            u32 mine = vcpu.visr & (k ? 0xff00u : 0xffu);
            if (v & 0x40) vcpu.visr &= ~(1u << ((v & 7) + 8 * k));
            else if (mine) vcpu.visr &= ~(mine & -mine);
            return;
        }
    } else if (size == 1 && (port == 0x21 || port == 0xa1)) {
        int k = port == 0xa1;
        if (vcpu.pic_icw[k] == 1) {                  /* ICW2: the guest's vector base */
            vcpu.pic_base[k] = v & 0xf8;
            v = IRQ_BASE + 8 * k;
            vcpu.pic_icw[k] = 2;
        } else if (vcpu.pic_icw[k] == 2) {           /* ICW3 */
            vcpu.pic_icw[k] = vcpu.pic_icw4[k] ? 3 : 0;
        } else if (vcpu.pic_icw[k] == 3) {           /* ICW4 */
            vcpu.pic_icw[k] = 0;
        }
    } else if (size == 1 && port == COM1 + 3) {
        dlab = (v & 0x80) != 0;
    } else if (port == 0xf4) {
        ledger_print();
    } else if (port == LEDGER_PORT) {
        return;
    } else if (port == 0xea) {
        ledger_emit();
    }
    raw_out(port, size, v);
}
