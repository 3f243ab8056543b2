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

/*
 * Returning to the guest safely. The monitor always goes back to the guest with its own IRET
 * (entry.S), at ring 0, so that IRET loads CS, EIP and SS (a return to an outer privilege
 * level) from the frame the monitor prepared. If it faulted, the fault would be the
 * monitor's own, and a guest that far-returns or IRETs to a garbage selector would kill the
 * monitor. So whenever the monitor performs a transfer on the guest's behalf (IRET, far
 * RET/JMP/CALL, MOV or POP of a segment register, delivery of an interrupt), it first makes
 * the checks that IRET will make, on the descriptors IRET will really read: the shadow GDT
 * (real_gdt, the guest's descriptors with DPL 0 made 1). A selector that fails them is the
 * guest's error: the guest gets the exception a CPU at ring 0 would raise for its own
 * instruction (#GP, #NP or #SS with the selector as error code), with nothing changed yet.
 * The checks and their order: Intel SDM Vol. 2A, IRET, "PROTECTED-MODE-RETURN" and
 * "RETURN-TO-OUTER-PRIVILEGE-LEVEL"; AMD APM Vol. 3, IRET; Vol. 3A 5.8.6 (returning from a
 * called procedure).
 */

/* The descriptor entry.S's IRET or segment pops would read for `sel`: the guest's shadowed
 * entries (0-239) or the two boot segments used before the guest's first LGDT. */
static int real_desc(u32 sel, u64 *d)
{
    u32 i = (sel & 0xffff) >> 3;
    if ((sel & 4) || i == 0) return 0;               /* no LDT; the null selector */
    if (i >= GUEST_GDT_MAX && i != BOOT_GUEST_CS >> 3 && i != BOOT_GUEST_DS >> 3) return 0;
    *d = real_gdt[i];
    return (*d >> 44) & 1;                           /* a code or data segment at all */
}

static u32 seg_limit(u64 d)
{
    u32 limit = (u32)(d & 0xffff) | (u32)((d >> 32) & 0xf0000u);
    return (d >> 55) & 1 ? (limit << 12) | 0xfff : limit;
}

/* Would the monitor's IRET to cs:eip (and stack ss) go through? 0 if so, else the vector of
 * the exception the guest must get instead (13 #GP, 11 #NP, 12 #SS), *err its error code. */
u32 return_fault(u32 cs, u32 eip, u32 ss, u32 *err)
{
    u64 d;
    u32 rpl = cs & 3;
    *err = cs & 0xfffc;
    if (!(cs & ~3u)) { *err = 0; return 13; }        /* null CS */
    if (!real_desc(cs, &d) || !((d >> 43) & 1)) return 13;   /* not a code segment */
    u32 dpl = (d >> 45) & 3;
    if ((d >> 42) & 1 ? dpl > rpl : dpl != rpl) return 13;   /* conforming : non-conforming */
    if (!((d >> 47) & 1)) return 11;                 /* not present */
    u64 s;
    *err = ss & 0xfffc;
    if (!(ss & ~3u)) { *err = 0; return 13; }        /* null SS */
    if ((ss & 3) != rpl || !real_desc(ss, &s) || ((s >> 41) & 5) != 1 ||
        ((s >> 45) & 3) != rpl) return 13;           /* a writable data segment at CS's ring */
    if (!((s >> 47) & 1)) return 12;                 /* not present */
    *err = 0;
    if (eip > seg_limit(d)) return 13;               /* beyond CS's limit */
    return 0;
}

/* Would entry.S's `pop %ds` (at ring 0) load `sel`? The null selector always does. */
u32 data_fault(u32 sel, u32 *err)
{
    u64 d;
    *err = sel & 0xfffc;
    if (!(sel & ~3u)) return 0;
    if (!real_desc(sel, &d) || ((d >> 43) & 1 && !((d >> 41) & 1))) return 13;   /* execute-only */
    return (d >> 47) & 1 ? 0 : 11;
}

/* For the emulation of an instruction that transfers to cs:eip with stack ss: 1 if the
 * guest got the exception instead (its state untouched: the instruction did not run). */
int guest_fault_on_return(struct frame *f, u32 cs, u32 eip, u32 ss)
{
    u32 err, vec = return_fault(cs, eip, ss, &err);
    if (!vec) return 0;
    tally(C_OTHER_GP);
    tally(C_EXC_REFLECT);
    reflect(f, vec, 1, err, K_EXC);
    return 1;
}

static u32 checked_cs, checked_ss, checked_limit;  /* reflect's last checked segments */

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
    u32 sp, ss, fault_err;
    if (guest_cpl(f) == 3) {
        if (!vcpu.tss_base) stop_guest("interrupt from guest user mode but the guest has no TSS");
        ss = (guest_read32(vcpu.tss_base + 8) & 0xfffc) | 1;
    } else {
        ss = f->ss;
    }
    /* A gate to an unusable segment, or a TSS with an unusable SS0: a CPU would raise #GP,
     * #NP or #TS while delivering the event, then a double fault; tevmm stops the guest.
     * Checked once per pair of segments until the next LGDT (a system call or an IRQ
     * repeats the last pair): then only the handler's offset against the limit. */
    u32 cs = (sel & ~3u) | 1;
    if (cs != checked_cs || ss != checked_ss || target > checked_limit) {
        if (return_fault(cs, target, ss, &fault_err)) {
            mprintf("tevmm: vector %u: handler %x:%p or stack segment %x unusable (error %x)\n",
                    vec, sel, target, ss, fault_err);
            stop_guest("the guest's IDT gate or TSS is broken: a real CPU would double-fault");
        }
        checked_cs = cs;
        checked_ss = ss;
        checked_limit = seg_limit(real_gdt[cs >> 3]);
    }
    if (guest_cpl(f) == 3) {                         /* inner-level: the guest TSS's stack */
        sp = guest_read32(vcpu.tss_base + 4);
        guest_push(f, &sp, f->ss);
        guest_push(f, &sp, f->esp);
        guest_push(f, &sp, ef);
        guest_push(f, &sp, f->cs);
    } else {                                         /* same level: the current stack */
        sp = f->esp;
        guest_push(f, &sp, ef);
        guest_push(f, &sp, f->cs & ~3u);             /* the guest thinks it ran at ring 0 */
    }
    guest_push(f, &sp, f->eip);
    if (has_err) guest_push(f, &sp, err);
    f->esp = sp;
    f->ss = ss;
    f->cs = cs;
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
void shadow_gdt_load(struct frame *f)
{
    u32 n = (vcpu.gdt_limit + 1) / 8;
    if (n > GUEST_GDT_MAX) n = GUEST_GDT_MAX;
    for (u32 i = 0; i < GUEST_GDT_MAX; i++) {
        u64 d = 0;
        if (i > 0 && i < n) guest_read(vcpu.gdt_base + i * 8, &d, 8);
        real_gdt[i] = shadow_desc(d);
    }
    checked_cs = 0;                                   /* reflect checks its segments again */
    /* A CPU keeps using the descriptors cached in its segment registers after LGDT; tevmm
     * reloads CS, SS, DS, ES, FS and GS from the GDT on every return to the guest, so they
     * must still be valid in the new table (known limit, README). */
    u32 err;
    if (return_fault(f->cs, f->eip, f->ss, &err) || data_fault(f->ds, &err) ||
        data_fault(f->es, &err) || data_fault(f->fs, &err) || data_fault(f->gs, &err)) {
        mprintf("tevmm: LGDT: the loaded selectors (CS %x SS %x DS %x ...) are not valid in the new GDT\n",
                f->cs, f->ss, f->ds);
        stop_guest("the guest's new GDT does not describe its loaded segments (not supported)");
    }
}
