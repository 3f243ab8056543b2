/*
 * vcpu.c - interrupts and exceptions REFLECTED into the guest, and the virtual IF.
 *
 * Every interrupt and exception lands in the monitor first (it owns the real IDT). To give
 * one to the guest, the monitor does in software what the CPU does on interrupt delivery
 * (Intel SDM Vol. 3A 6.12.1): read the gate from the guest's IDT, switch to the stack in the
 * guest's TSS when the guest was in user mode, push EFLAGS, CS, EIP (and SS, ESP and the
 * error code) as the guest expects to see them, clear the virtual IF for an interrupt gate,
 * and resume the guest at the handler, at ring 1.
 * The guest kernel believes it runs at ring 0 with IF as it set it; really it runs at ring 1
 * with IF = 1 (so the monitor keeps getting the timer), and "vcpu.vif" is its IF: an IRQ that
 * arrives while vif = 0 is held in vcpu.pending until the guest's STI, IRET or HLT, or until
 * the next trap that finds the guest in user mode.
 * Shadow GDT: the guest's descriptors copied to the real GDT at the same indices, ring 0
 * made ring 1 and every limit clipped below the monitor (see tevmm.h).
 */
#include "tevmm.h"

extern u64 real_gdt[GDT_ENTRIES];

u32 virtual_eflags(const struct frame *f)
{
    u32 e = f->eflags & ~(EFL_IF | EFL_IOPL);
    int vif = guest_cpl(f) == 3 ? (f->eflags & EFL_IF) != 0 : vcpu.vif;
    return e | (vif ? EFL_IF : 0) | (vcpu.viopl << 12);
}

/* What POPF or IRET at virtual ring 0 writes to EFLAGS; the real IF stays 1, IOPL 0. */
void set_virtual_eflags(struct frame *f, u32 v, int from_iret)
{
    vcpu.vif = (v & EFL_IF) != 0;
    vcpu.viopl = (v >> 12) & 3;
    /* CF PF AF ZF SF TF DF OF NT AC ID from v; RF only from IRET; VM never */
    f->eflags = (v & 0x244dd5u) | (from_iret ? v & EFL_RF : 0) | EFL_IF | 2;
}

void reflect(struct frame *f, u32 vec, int has_err, u32 err, enum kind k)
{
    u32 gate[2];
    if (vec * 8 + 7 > vcpu.idt_limit || !guest_read(vcpu.idt_base + vec * 8, gate, 8)) {
        mprintf("tevmm: vector %u is outside the guest's IDT\n", vec);
        stop_guest("no guest handler: a real CPU would triple-fault");
    }
    u32 type = (gate[1] >> 8) & 0x1f, dpl = (gate[1] >> 13) & 3;
    if (k == K_SOFT && dpl < (u32)guest_cpl(f)) {   /* INT n needs CPL <= gate DPL */
        f->eip -= err;                               /* err holds the instruction length */
        tally(C_EXC_REFLECT);
        reflect(f, 13, 1, vec * 8 + 2, K_EXC);
        return;
    }
    if (!(gate[1] & 0x8000) || (type != 0x0e && type != 0x0f)) {
        mprintf("tevmm: guest IDT gate %u is not a present 32-bit interrupt or trap gate\n", vec);
        stop_guest("unsupported guest gate");
    }
    if (k == K_SOFT) tally(C_INT_REFLECT);
    u16 sel = gate[0] >> 16;
    u32 target = (gate[0] & 0xffff) | (gate[1] & 0xffff0000u);
    u64 d;
    if (!guest_desc(sel, &d) || ((d >> 45) & 3) != 0 || !((d >> 43) & 1)) {
        mprintf("tevmm: gate %u selector %x is not a ring-0 code segment\n", vec, sel);
        stop_guest("unsupported guest gate target");
    }
    u32 ef = virtual_eflags(f);
    u32 sp, ss;
    if (guest_cpl(f) == 3) {                         /* inner-level: the guest TSS's stack */
        if (!vcpu.tss_base) stop_guest("interrupt from guest user mode but the guest has no TSS");
        sp = guest_read32(vcpu.tss_base + 4);
        ss = (guest_read32(vcpu.tss_base + 8) & 0xfffc) | 1;
        guest_push(f, &sp, f->ss);
        guest_push(f, &sp, f->esp);
        guest_push(f, &sp, ef);
        guest_push(f, &sp, f->cs);
    } else {                                         /* same level: the current stack */
        sp = f->esp;
        ss = f->ss;
        guest_push(f, &sp, ef);
        guest_push(f, &sp, f->cs & ~3u);             /* the guest thinks it ran at ring 0 */
    }
    guest_push(f, &sp, f->eip);
    if (has_err) guest_push(f, &sp, err);
    f->esp = sp;
    f->ss = ss;
    f->cs = (sel & ~3u) | 1;
    f->eip = target;
    f->eflags = (f->eflags & ~(EFL_TF | EFL_NT | EFL_RF | EFL_VM | EFL_IOPL)) | EFL_IF;
    if (type == 0x0e) vcpu.vif = 0;                  /* interrupt gate: IF cleared */
}

/* An IRQ from the real PIC: acknowledged there at once (so a guest that keeps interrupts
 * off cannot stop the monitor's timer), held here for the guest. */
void irq_taken(u32 irq)
{
    vcpu.pending |= 1u << irq;
    tally(C_IRQ_TAKEN);
    if (irq >= 8) outb(0xa0, 0x20);
    outb(0x20, 0x20);
}

/* Pending IRQs the guest's virtual PIC would deliver: none of equal or lower priority
 * than one still in service (priority simplified to the IRQ number). */
u32 irq_deliverable(void)
{
    u32 p = vcpu.pending;
    if (vcpu.visr) p &= (vcpu.visr & -vcpu.visr) - 1;
    return p;
}

void deliver_pending(struct frame *f)
{
    u32 p = irq_deliverable();
    if (!p || stepping) return;
    if (guest_cpl(f) != 3 && !vcpu.vif) return;
    int irq = 0;
    while (!(p & (1u << irq))) irq++;                /* lowest number = highest priority */
    vcpu.pending &= ~(1u << irq);
    vcpu.visr |= 1u << irq;
    tally(C_IRQ_REFLECT);
    reflect(f, vcpu.pic_base[irq >> 3] + (irq & 7), 0, 0, K_IRQ);
}

/* The guest executed HLT with IF set: really halt until an IRQ comes (entry.S's handler
 * for an interrupt at ring 0 only records it in vcpu.pending). */
void wait_for_irq(void)
{
    u64 t0 = rdtsc();
    while (!irq_deliverable())
        __asm__ volatile("sti; hlt; cli");
    tsc_idle += rdtsc() - t0;
}

static u64 shadow_desc(u64 d)
{
    if (!((d >> 47) & 1) || !((d >> 44) & 1)) return 0;   /* not present, or a system one */
    u32 type = (d >> 40) & 0xf;
    if (!(type & 8) && (type & 4)) return 0;              /* expand-down data: unsupported */
    u32 base = (u32)((d >> 16) & 0xffffff) | (u32)((d >> 56) << 24);
    u32 limit = (u32)(d & 0xffff) | (u32)(((d >> 48) & 0xf) << 16);
    int g = (d >> 55) & 1;
    if (base >= MON_BASE) return 0;
    u32 room = MON_BASE - base;                           /* bytes the guest may reach */
    if (g) { if (limit > (room >> 12) - 1) limit = (room >> 12) - 1; }
    else if (limit > room - 1) limit = room - 1;
    u32 dpl = (d >> 45) & 3;
    if (dpl == 0) dpl = 1;                                /* ring compression */
    d &= ~((u64)0xf << 48) & ~(u64)0xffff & ~((u64)3 << 45);
    d |= (u64)(limit & 0xffff) | ((u64)((limit >> 16) & 0xf) << 48) | ((u64)dpl << 45);
    return d;
}

/* LGDT: copy the guest's descriptors into the real GDT. Later writes to the guest's GDT are
 * not tracked (VMware write-protected it too; minios never changes its GDT after LGDT). */
void shadow_gdt_load(void)
{
    u32 n = (vcpu.gdt_limit + 1) / 8;
    if (n > GUEST_GDT_MAX) n = GUEST_GDT_MAX;
    for (u32 i = 0; i < GUEST_GDT_MAX; i++) {
        u64 d = 0;
        if (i > 0 && i < n) guest_read(vcpu.gdt_base + i * 8, &d, 8);
        real_gdt[i] = shadow_desc(d);
    }
}
