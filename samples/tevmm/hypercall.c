/*
 * hypercall.c - the monitor's side of the paravirtual interface (hypercall.h): a guest
 * kernel built with PARAVIRT=1 executes INT 0x82 instead of the privileged instruction, and
 * the monitor does the same work as after the trap, without decoding anything. The ledger
 * counts each call by name: these are the traps that became hypercalls.
 */
#define TEVMM_MONITOR
#include "tevmm.h"
#include "hypercall.h"

u32 hc_count[HC_COUNT];

static void descriptor_table(struct frame *f, int idt)
{
    u16 limit;
    u32 base;
    if (!guest_read(f->ebx, &limit, 2) || !guest_read(f->ebx + 2, &base, 4)) { f->eax = ~0u; return; }
    if (idt) { vcpu.idt_base = base; vcpu.idt_limit = limit; }
    else { vcpu.gdt_base = base; vcpu.gdt_limit = limit; shadow_gdt_load(f); }
}

static void console_putc(u32 c, u32 pos)
{
    while (!(inb(0x3fd) & 0x20))
        ;
    outb(0x3f8, (u8)c);
    outb(0x3d4, 0x0e); outb(0x3d5, (u8)(pos >> 8));   /* VGA cursor, CRTC 0x0E/0x0F */
    outb(0x3d4, 0x0f); outb(0x3d5, (u8)pos);
}

void hypercall(struct frame *f)
{
    u32 n = f->eax;
    tally(C_HYPERCALL);
    if (n < HC_COUNT) { hc_count[n]++; ledger_count(LID_HYPERCALL + n); }
    f->eax = 0;
    switch (n) {
    case HC_OUTB: io_out((u16)f->ebx, 1, f->ecx & 0xff); break;
    case HC_INB: f->eax = io_in((u16)f->ebx, 1) & 0xff; break;
    case HC_LGDT: descriptor_table(f, 0); break;
    case HC_LIDT: descriptor_table(f, 1); break;
    case HC_LTR: if (!vcpu_ltr((u16)f->ebx)) f->eax = ~0u; break;
    case HC_READ_CR0: f->eax = vcpu_read_cr(0); break;
    case HC_WRITE_CR0: vcpu_write_cr(f, 0, f->ebx); break;
    case HC_READ_CR2: f->eax = vcpu_read_cr(2); break;
    case HC_WRITE_CR3: vcpu_write_cr(f, 3, f->ebx); break;
    case HC_INVLPG: shadow_invlpg(f->ebx); break;
    case HC_CLI: vcpu.vif = 0; break;
    case HC_STI: vcpu.vif = 1; break;
    case HC_IDLE:
        vcpu.vif = 1;
        if (!irq_deliverable()) wait_for_irq();
        break;
    case HC_CONSOLE_PUTC: console_putc(f->ebx, f->ecx); break;
    case HC_PTE_WRITE: if (!shadow_pte_write(f->ebx, f->ecx)) f->eax = ~0u; break;
    case HC_SHUTDOWN:
        ledger_print();
        outb(0xf4, (u8)f->ebx);
        for (;;) __asm__ volatile("cli; hlt");
    case HC_VCPU_READ:
        switch (f->ebx) {
        case VR_GDT_BASE: f->eax = vcpu.gdt_base; break;
        case VR_GDT_LIMIT: f->eax = vcpu.gdt_limit; break;
        case VR_IDT_BASE: f->eax = vcpu.idt_base; break;
        case VR_IDT_LIMIT: f->eax = vcpu.idt_limit; break;
        case VR_LDTR: f->eax = vcpu.ldtr; break;
        case VR_TR: f->eax = vcpu.tr; break;
        case VR_CR0: f->eax = vcpu.cr0; break;
        case VR_CS: f->eax = guest_visible_sel(f, 1); break;
        case VR_SS: f->eax = guest_visible_sel(f, 2); break;
        case VR_EFLAGS: f->eax = virtual_eflags(f) & ~(EFL_RF | EFL_VM); break;
        default: f->eax = ~0u; break;
        }
        break;
    case HC_SEG_CHECK: {
        u32 v = 0;
        int zf = seg_check(f->ebx, (int)f->ecx & 3, 0, 0, &v);
        f->eax = v;
        f->ebx = (u32)zf;
        break;
    }
    default: f->eax = ~0u; break;
    }
}
