/*
 * vdev.c - each VM's virtual devices, reached through I/O intercepts
 * (AMD64 APM vol. 2, 15.10 "I/O Intercepts"): a 16550 UART at COM1
 * (0x3F8-0x3FF), an 8259A PIC (0x20/0x21; the slave at 0xA0/0xA1 only
 * answers), an 8254 PIT (0x40-0x43), and the exit device (0xF4). Each holds
 * just the state minios uses; the PIC's interrupts are injected by main.c.
 * VGA cursor and keyboard ports read as nothing and ignore writes. Port 0xEA
 * (minios's workload marker, which `traplab compare` watches) is passed through.
 */
#include "hv1.h"

/* ---- 8259A PIC ------------------------------------------------------------ */
void vpic_raise(struct vm *v, int irq) { v->pic.irr |= (u8)(1 << irq); }

/* The highest-priority requested, unmasked IRQ above any in service (IRQ 0 is highest). */
int vpic_pending(struct vm *v)
{
    u8 req = v->pic.irr & ~v->pic.imr;
    for (int i = 0; i < 8; i++) {
        if (v->pic.isr & (1 << i))
            return -1;
        if (req & (1 << i))
            return i;
    }
    return -1;
}

void vpic_ack(struct vm *v, int irq)
{
    v->pic.irr &= (u8)~(1 << irq);
    v->pic.isr |= (u8)(1 << irq);
}

static void vpic_out(struct vm *v, u16 port, u8 val)
{
    struct vpic *p = &v->pic;
    if (port == 0x20) {
        if (val & 0x10) {                   /* ICW1: ICW2..ICW4 follow on the data port */
            p->icw_step = 1;
            p->imr = 0, p->isr = 0, p->irr = 0;
        } else if (val == 0x20) {           /* OCW2 non-specific EOI: lowest set ISR bit */
            p->isr &= (u8)(p->isr - 1);
        } else if ((val & 0x18) == 0x08) {  /* OCW3: 0x0B reads ISR, 0x0A IRR */
            p->read_isr = (val & 3) == 3;
        }
    } else if (port == 0x21) {
        if (p->icw_step == 1) {
            p->base = val & 0xF8;           /* ICW2: vector of IRQ 0 */
            p->icw_step = 2;
        } else if (p->icw_step == 2) {
            p->icw_step = 3;                /* ICW3: cascade wiring */
        } else if (p->icw_step == 3) {
            p->icw_step = 0;                /* ICW4 */
        } else {
            p->imr = val;                   /* OCW1: the mask */
        }
    }
}

/* ---- 8254 PIT channel 0 ------------------------------------------------------ */
static void vpit_out(struct vm *v, u16 port, u8 val)
{
    if (port == 0x43) {
        if ((val >> 6) == 0)
            v->pit.lobyte_next = 1;         /* channel 0, lobyte then hibyte follow */
    } else if (port == 0x40) {
        if (v->pit.lobyte_next) {
            v->pit.lo = val;
            v->pit.lobyte_next = 0;
        } else {
            v->pit.divisor = v->pit.lo | (u32)val << 8;
            if (!v->pit.divisor)
                v->pit.divisor = 65536;
        }
    }
}

/* hv1's real PIT runs at 100 Hz (11932 input clocks per tick); the VM's IRQ 0 comes at the
 * rate its own divisor asks for, counted in the same 1.193182 MHz input clocks. */
void vpit_tick(struct vm *v)
{
    if (!v->pit.divisor)
        return;
    v->pit.acc += 11932;
    if (v->pit.acc >= v->pit.divisor) {
        v->pit.acc %= v->pit.divisor;       /* missed ticks collapse into one IRQ, as on a PIC */
        vpic_raise(v, 0);
    }
}

/* ---- 16550 UART --------------------------------------------------------------- */
static int rx_ready(struct vuart *u) { return u->rx_head != u->rx_tail; }

/* IRQ 4 while received data waits and the guest enabled it (IER bit 0, MCR OUT2). */
void vuart_update_irq(struct vm *v)
{
    struct vuart *u = &v->uart;
    if (rx_ready(u) && (u->ier & 1) && (u->mcr & 8) && !(v->pic.isr & (1 << 4)))
        vpic_raise(v, 4);
}

static u8 vuart_in(struct vm *v, u16 reg)
{
    struct vuart *u = &v->uart;
    int dlab = u->lcr & 0x80;
    switch (reg) {
    case 0:
        if (dlab)
            return u->dll;
        if (!rx_ready(u))
            return 0;
        return u->rx[u->rx_tail++ % sizeof u->rx];
    case 1: return dlab ? u->dlm : u->ier;
    case 2: return rx_ready(u) && (u->ier & 1) ? 0x04 : 0x01;   /* IIR */
    case 3: return u->lcr;
    case 4: return u->mcr;
    case 5: return (u8)(0x60 | (rx_ready(u) ? 1 : 0));          /* LSR: THR empty, data ready */
    case 6: return 0xB0;                                        /* MSR: CTS, DSR, DCD */
    default: return u->scr;
    }
}

static void vuart_out(struct vm *v, u16 reg, u8 val)
{
    struct vuart *u = &v->uart;
    int dlab = u->lcr & 0x80;
    switch (reg) {
    case 0: if (dlab) u->dll = val; else vm_putc(v, (char)val); break;
    case 1: if (dlab) u->dlm = val; else u->ier = val; break;
    case 3: u->lcr = val; break;
    case 4: u->mcr = val; break;
    case 7: u->scr = val; break;
    default: break;                                             /* FCR */
    }
}

/* ---- dispatch ------------------------------------------------------------------- */
int vdev_in(struct vm *v, u16 port, u32 *val)
{
    if (port >= 0x3F8 && port <= 0x3FF)
        *val = vuart_in(v, port - 0x3F8);
    else if (port == 0x20)
        *val = v->pic.read_isr ? v->pic.isr : v->pic.irr;
    else if (port == 0x21)
        *val = v->pic.imr;
    else
        *val = 0xFFFFFFFF;                  /* no device: the bus floats high */
    return 1;
}

/* returns 0 when the VM asked to end (the exit device) */
int vdev_out(struct vm *v, u16 port, u32 val)
{
    if (port >= 0x3F8 && port <= 0x3FF)
        vuart_out(v, port - 0x3F8, (u8)val);
    else if (port == 0x20 || port == 0x21)
        vpic_out(v, port, (u8)val);
    else if (port >= 0x40 && port <= 0x43)
        vpit_out(v, port, (u8)val);
    else if (port == 0xF4)
        return 0;
    else if (port == 0xEA)                  /* minios's workload marker (traplab compare): */
        outb(0xEA, (u8)val);                /* passed through to the machine's port */
    return 1;
}
