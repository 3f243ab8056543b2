/*
 * emulate.c - trap and emulate: the guest kernel (ring 1) executed a privileged instruction,
 * the CPU raised #GP before changing anything, and here the monitor decodes the instruction
 * at the guest's EIP and performs it on the virtual CPU (Popek & Goldberg 1974: the
 * "interpreter" routines of a VMM). Encodings: Intel SDM Vol. 2 (opcode maps, appendix A;
 * ModR/M and SIB, 2.1.5). Why each traps at CPL 1 with IOPL 0: Vol. 3A 5.9 (privileged
 * instructions), 18.2 (I/O sensitivity: CLI, STI, IN, OUT, INS, OUTS when CPL > IOPL).
 * A #GP that is not one of these is the guest's own: it is reflected to the guest.
 */
#include "tevmm.h"

u32 *gpr_of(struct frame *f, int r)
{
    switch (r & 7) {
    case 0: return &f->eax;
    case 1: return &f->ecx;
    case 2: return &f->edx;
    case 3: return &f->ebx;
    case 4: return &f->esp;
    case 5: return &f->ebp;
    case 6: return &f->esi;
    default: return &f->edi;
    }
}

/* Decodes a ModR/M operand (32-bit addressing) at p. Returns the length of ModR/M, SIB and
 * displacement; *reg gets the reg field; *rm the register number (mod = 3) or -1 and *ea the
 * effective address (flat segments: the guest's are based at 0 in every minios-like kernel). */
int decode_modrm(struct frame *f, const u8 *p, int *reg, int *rm, u32 *ea)
{
    u8 m = p[0];
    int mod = m >> 6, r = m & 7, len = 1;
    *reg = (m >> 3) & 7;
    if (mod == 3) { *rm = r; *ea = 0; return 1; }
    *rm = -1;
    u32 a = 0;
    if (r == 4) {                                     /* SIB */
        u8 sib = p[1];
        int base = sib & 7, index = (sib >> 3) & 7, scale = sib >> 6;
        len = 2;
        if (index != 4) a += *gpr_of(f, index) << scale;
        if (base == 5 && mod == 0) { a += *(const u32 *)(p + 2); len += 4; }
        else a += *gpr_of(f, base);
    } else if (r == 5 && mod == 0) {
        a = *(const u32 *)(p + 1);
        len += 4;
    } else {
        a = *gpr_of(f, r);
    }
    if (mod == 1) { a += (u32)(int)(signed char)p[len]; len += 1; }
    else if (mod == 2) { a += *(const u32 *)(p + len); len += 4; }
    *ea = a;
    return len;
}

static void guest_gp(struct frame *f, u32 err)
{
    tally(C_OTHER_GP);
    tally(C_EXC_REFLECT);
    reflect(f, 13, 1, err, K_EXC);
}

static u32 read_operand16(struct frame *f, int rm, u32 ea)
{
    u16 v = 0;
    if (rm >= 0) return *gpr_of(f, rm) & 0xffff;
    if (!guest_read(ea, &v, 2)) stop_guest("operand not mapped");
    return v;
}

static void do_io(struct frame *f, u8 op, int opsize16, int rep, u32 imm)
{
    int size = (op & 1) ? (opsize16 ? 2 : 4) : 1;
    u16 port = (op == 0xe4 || op == 0xe5 || op == 0xe6 || op == 0xe7) ? (u16)imm : (u16)f->edx;
    u32 mask = size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
    if (op >= 0x6c && op <= 0x6f) {                   /* INS / OUTS, maybe REP */
        int in = op < 0x6e;
        u32 count = rep ? f->ecx : 1;
        int step = (f->eflags & 0x400) ? -size : size;
        tally(in ? C_INS : C_OUTS);
        while (count) {
            u32 v = 0;
            if (in) {
                v = io_in(port, size);
                if (!guest_write(f->edi, &v, size)) stop_guest("INS to unmapped memory");
                f->edi += step;
            } else {
                if (!guest_read(f->esi, &v, size)) stop_guest("OUTS from unmapped memory");
                io_out(port, size, v);
                f->esi += step;
            }
            count--;
            if (rep) f->ecx = count;
        }
        return;
    }
    if (op == 0xe4 || op == 0xe5 || op == 0xec || op == 0xed) {
        tally(C_IN);
        f->eax = (f->eax & ~mask) | (io_in(port, size) & mask);
    } else {
        tally(C_OUT);
        io_out(port, size, f->eax & mask);
    }
}

static void do_iret(struct frame *f)
{
    u32 eip = guest_read32(f->esp), cs = guest_read32(f->esp + 4) & 0xffff;
    u32 efl = guest_read32(f->esp + 8);
    tally(C_IRET);
    /* The selectors come from the guest's stack: checked before the monitor's IRET uses
     * them (vcpu.c, return_fault); a bad one is the guest's #GP, as at ring 0. */
    if ((cs & 3) == 0) {                              /* to the guest kernel: ring 1 really */
        if (guest_fault_on_return(f, cs | 1, eip, f->ss)) return;
        f->eip = eip;
        f->cs = cs | 1;
        f->esp += 12;
        set_virtual_eflags(f, efl, 1);
    } else if ((cs & 3) == 3) {                       /* to guest user mode */
        u32 esp = guest_read32(f->esp + 12), ss = guest_read32(f->esp + 16) & 0xffff;
        if (guest_fault_on_return(f, cs, eip, ss)) return;
        f->eip = eip; f->cs = cs; f->esp = esp; f->ss = ss;
        vcpu.viopl = (efl >> 12) & 3;
        f->eflags = (efl & 0x254dd5u) | EFL_IF | 2;
    } else {
        guest_gp(f, cs & 0xfffc);
    }
}

void vcpu_write_cr(struct frame *f, int cr, u32 v)
{
    u32 old;
    switch (cr) {
    case 0:
        old = vcpu.cr0;
        if (!(v & 1)) stop_guest("the guest left protected mode (CR0.PE = 0): not supported");
        vcpu.cr0 = v | 0x10;
        if ((old ^ v) & 0x80010000u) shadow_flush();     /* PG or WP changed */
        break;
    case 2: vcpu.cr2 = v; break;
    case 3: vcpu.cr3 = v; shadow_flush(); break;
    case 4:
        if (v & 0x20) stop_guest("the guest turned on PAE: not supported");
        old = vcpu.cr4;
        vcpu.cr4 = v;
        if ((old ^ v) & 0x10) shadow_flush();            /* PSE changed */
        break;
    default: tally(C_EXC_REFLECT); reflect(f, 6, 0, 0, K_EXC); return;
    }
}

u32 vcpu_read_cr(int cr)
{
    switch (cr) {
    case 0: return vcpu.cr0;
    case 2: return vcpu.cr2;
    case 3: return vcpu.cr3;
    default: return vcpu.cr4;
    }
}

static void msr(struct frame *f, int write, int prefixes)
{
    u32 idx = f->ecx;
    tally(write ? C_WRMSR : C_RDMSR);
    if (idx >= 0x174 && idx <= 0x176) {               /* SYSENTER_CS/ESP/EIP: kept virtual */
        if (write) vcpu.msr_sysenter[idx - 0x174] = f->eax;
        else { f->eax = vcpu.msr_sysenter[idx - 0x174]; f->edx = 0; }
    } else if (idx == 0x10) {                         /* TSC: read the real one, writes ignored */
        if (!write) { u64 t = rdtsc(); f->eax = (u32)t; f->edx = (u32)(t >> 32); }
    } else {
        tally(C_EXC_REFLECT);
        reflect(f, 13, 1, 0, K_EXC);                  /* an MSR this virtual CPU lacks */
        return;
    }
    f->eip += prefixes + 2;
}

/* LTR: the guest's TSS (its ESP0/SS0 are read on every reflection from user mode). */
int vcpu_ltr(u16 sel)
{
    u64 d;
    if (!guest_desc(sel, &d) || ((d >> 40) & 0x1d) != 0x09) return 0;
    vcpu.tr = sel;
    vcpu.tss_base = (u32)((d >> 16) & 0xffffff) | (u32)((d >> 56) << 24);
    d |= (u64)2 << 40;                                 /* busy, as the CPU marks it */
    guest_write(vcpu.gdt_base + (sel & ~7u), &d, 8);
    return 1;
}

/* PUSHF, POPF, IRET in guest user mode (they fault only under --popek-goldberg): as at
 * CPL 3 with IOPL 0, POPF and IRET leave IF and IOPL alone. */
static void user_flags_insn(struct frame *f, u8 op, int opsize16, int i)
{
    u32 sp = f->esp, v;
    const u32 keep = EFL_IF | EFL_IOPL | EFL_VM;
    if (op == 0x9c) {
        tally(C_PUSHF);
        guest_push(f, &sp, virtual_eflags(f) & ~(EFL_RF | EFL_VM));
        f->esp = sp;
    } else if (op == 0x9d) {
        tally(C_POPF);
        v = guest_read32(sp);
        if (opsize16) { v = (f->eflags & 0xffff0000u) | (v & 0xffff); f->esp += 2; }
        else f->esp += 4;
        f->eflags = (v & 0x244dd5u & ~keep) | (f->eflags & keep) | 2;
    } else {
        u32 eip = guest_read32(sp), cs = guest_read32(sp + 4) & 0xffff, efl = guest_read32(sp + 8);
        tally(C_IRET);
        if ((cs & 3) != 3) { guest_gp(f, cs & 0xfffc); return; }
        if (guest_fault_on_return(f, cs, eip, f->ss)) return;
        f->eip = eip; f->cs = cs; f->esp += 12;
        f->eflags = (efl & 0x254dd5u & ~keep) | (f->eflags & keep) | 2;
        return;
    }
    f->eip += i + 1;
}

void emulate_gp(struct frame *f)
{
    u8 b[16] = { 0 };
    int n = 0x1000 - (f->eip & 0xfff);                 /* the bytes up to 15, page by page */
    if (n > 15) n = 15;
    if (!guest_read(f->eip, b, n)) n = 0;
    else if (n < 15 && guest_read(f->eip + n, &b[n], 15 - n)) n = 15;
    if (n == 0) { guest_gp(f, f->err); return; }
    int i = 0, opsize16 = 0, rep = 0;
    for (;; i++) {                                     /* prefixes */
        if (b[i] == 0x66) opsize16 = 1;
        else if (b[i] == 0xf3 || b[i] == 0xf2) rep = 1;
        else if (b[i] == 0x26 || b[i] == 0x2e || b[i] == 0x36 || b[i] == 0x3e ||
                 b[i] == 0x64 || b[i] == 0x65) ;
        else break;
    }
    if (guest_cpl(f) == 3) {
        /* Guest user mode: only a #GP(0) of a sensitive instruction (--popek-goldberg) is
         * the monitor's; the guest's machine is an ordinary x86, where it runs. */
        if (f->err == 0 && (b[i] == 0x9c || b[i] == 0x9d || b[i] == 0xcf)) { user_flags_insn(f, b[i], opsize16, i); return; }
        if (f->err == 0 && emulate_sensitive(f, b, i, opsize16)) return;
        guest_gp(f, f->err);
        return;
    }
    if (emulate_sensitive(f, b, i, opsize16)) return;  /* --popek-goldberg, and MOV SS */
    u8 op = b[i];
    int reg, rm, len;
    u32 ea;
    switch (op) {
    case 0xfa: tally(C_CLI); vcpu.vif = 0; f->eip += i + 1; return;
    case 0xfb:
        tally(C_STI);
        vcpu.vif = 1;
        f->eip += i + 1;
        /* STI's one-instruction interrupt shadow: `sti; hlt` halts before the interrupt. */
        if (b[i + 1] == 0xf4) { tally(C_HLT); f->eip += 1; if (!irq_deliverable()) wait_for_irq(); }
        return;
    case 0xf4:
        tally(C_HLT);
        f->eip += i + 1;
        if (vcpu.vif) { if (!irq_deliverable()) wait_for_irq(); }
        else for (;;) __asm__ volatile("cli; hlt");    /* halted with IF = 0: forever, as natively */
        return;
    case 0xcf: do_iret(f); return;
    case 0x9d: {                                       /* POPF (traps only under --popek-goldberg) */
        u32 v = guest_read32(f->esp);
        tally(C_POPF);
        if (opsize16) { v = (virtual_eflags(f) & 0xffff0000u) | (v & 0xffff); f->esp += 2; }
        else f->esp += 4;
        set_virtual_eflags(f, v, 0);
        f->eip += i + 1;
        return;
    }
    case 0x9c: {                                       /* PUSHF (likewise) */
        u32 sp = f->esp;
        tally(C_PUSHF);
        guest_push(f, &sp, virtual_eflags(f) & ~(EFL_RF | EFL_VM));
        f->esp = sp;
        f->eip += i + 1;
        return;
    }
    case 0xe4: case 0xe5: case 0xe6: case 0xe7:
        do_io(f, op, opsize16, 0, b[i + 1]); f->eip += i + 2; return;
    case 0xec: case 0xed: case 0xee: case 0xef:
    case 0x6c: case 0x6d: case 0x6e: case 0x6f:
        do_io(f, op, opsize16, rep, 0); f->eip += i + 1; return;
    case 0x0f: break;
    default: guest_gp(f, f->err); return;
    }

    u8 op2 = b[i + 1];
    u8 *m = &b[i + 2];
    switch (op2) {
    case 0x01:
        len = decode_modrm(f, m, &reg, &rm, &ea);
        if ((reg == 2 || reg == 3) && rm < 0) {        /* LGDT / LIDT m16&32 */
            u16 limit;
            u32 base;
            if (!guest_read(ea, &limit, 2) || !guest_read(ea + 2, &base, 4)) stop_guest("LGDT/LIDT operand not mapped");
            if (opsize16) base &= 0xffffff;
            if (reg == 2) { tally(C_LGDT); vcpu.gdt_base = base; vcpu.gdt_limit = limit; shadow_gdt_load(f); }
            else { tally(C_LIDT); vcpu.idt_base = base; vcpu.idt_limit = limit; }
        } else if (reg == 7 && rm < 0) {               /* INVLPG m */
            tally(C_INVLPG);
            shadow_invlpg(ea);
        } else if (reg == 6) {                         /* LMSW */
            tally(C_MOVCR_W);
            u32 v = read_operand16(f, rm, ea);
            vcpu_write_cr(f, 0, (vcpu.cr0 & ~0xeu) | (v & 0xf) | (vcpu.cr0 & 1));
        } else { guest_gp(f, f->err); return; }
        f->eip += i + 2 + len;
        return;
    case 0x00:
        len = decode_modrm(f, m, &reg, &rm, &ea);
        if (reg == 2) {                                /* LLDT: only the null LDT */
            tally(C_LLDT);
            vcpu.ldtr = read_operand16(f, rm, ea);
            if (vcpu.ldtr & ~3u) stop_guest("the guest loaded an LDT: not supported");
        } else if (reg == 3) {                         /* LTR: remember the guest's TSS */
            u16 sel = read_operand16(f, rm, ea);
            tally(C_LTR);
            if (!vcpu_ltr(sel)) { guest_gp(f, sel & 0xfffc); return; }
        } else { guest_gp(f, f->err); return; }
        f->eip += i + 2 + len;
        return;
    case 0x20: case 0x22:                              /* MOV r32, CRn / MOV CRn, r32 */
        len = decode_modrm(f, m, &reg, &rm, &ea);
        if (reg == 1 || reg > 4) { tally(C_EXC_REFLECT); reflect(f, 6, 0, 0, K_EXC); return; }
        f->eip += i + 2 + len;
        if (op2 == 0x20) { tally(C_MOVCR_R); *gpr_of(f, rm) = vcpu_read_cr(reg); }
        else { tally(C_MOVCR_W); vcpu_write_cr(f, reg, *gpr_of(f, rm)); }
        return;
    case 0x21: case 0x23:                              /* MOV DRn: no debug registers here */
        len = decode_modrm(f, m, &reg, &rm, &ea);
        if (op2 == 0x21) *gpr_of(f, rm) = 0;
        tally(C_OTHER_GP);
        f->eip += i + 2 + len;
        return;
    case 0x06: tally(C_CLTS); vcpu.cr0 &= ~8u; f->eip += i + 2; return;
    case 0x08: case 0x09: tally(C_WBINVD); f->eip += i + 2; return;
    case 0x30: msr(f, 1, i); return;
    case 0x32: msr(f, 0, i); return;
    default: guest_gp(f, f->err); return;
    }
}
