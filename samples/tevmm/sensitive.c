/*
 * sensitive.c - the instructions that break classic trap-and-emulate on x86, emulated.
 *
 * Robin & Irvine (USENIX Security 2000) list the IA-32 instructions that are SENSITIVE (they
 * read or depend on privileged state) but UNPRIVILEGED (they do not trap at CPL > 0): SGDT,
 * SIDT, SLDT, STR, SMSW, PUSHF, POPF, LAR, LSL, VERR, VERW, PUSH/POP and MOV of segment
 * registers, far CALL/JMP/RET and INT n. On a real x86 the guest kernel at ring 1 executes
 * them directly and sees the monitor's tables and its real ring (minios's `pgcheck` shows
 * it): Popek and Goldberg's condition for a VMM fails. Traplab's `--popek-goldberg` switch
 * makes them raise #GP(0) at CPL > 0 (CR4.UMIP does so for SGDT/SIDT/SLDT/STR/SMSW only,
 * Intel SDM Vol. 3A 2.5); then they land here and are emulated against the guest's own
 * state, as the CPU would execute them at ring 0 (Vol. 2 for each instruction; Vol. 3A 5.8
 * for far transfers). PUSHF/POPF are in emulate.c. Theorem 1, run on a machine.
 */
#define TEVMM_MONITOR
#include "tevmm.h"
#include "hypercall.h"

u32 *gpr_of(struct frame *f, int r);
int  decode_modrm(struct frame *f, const u8 *p, int *reg, int *rm, u32 *ea);

static u32 *sreg(struct frame *f, int s)
{
    switch (s) {
    case 0: return &f->es;
    case 1: return &f->cs;
    case 2: return &f->ss;
    case 3: return &f->ds;
    case 4: return &f->fs;
    default: return &f->gs;
    }
}

/* The selector the guest believes is loaded: ring compression hidden (RPL 1 shown as 0). */
static u32 visible_sel(struct frame *f, int s)
{
    u32 v = *sreg(f, s) & 0xffff;
    if ((s == 1 || s == 2) && (v & 3) == 1) v &= ~3u;
    return v;
}

static void gp(struct frame *f, u32 err)
{
    tally(C_OTHER_GP);
    tally(C_EXC_REFLECT);
    reflect(f, 13, 1, err, K_EXC);
}

static int write_rm(struct frame *f, int rm, u32 ea, int size, u32 v)
{
    if (rm >= 0) {
        u32 *r = gpr_of(f, rm);
        *r = size == 2 ? (*r & 0xffff0000u) | (v & 0xffff) : v;
        return 1;
    }
    return guest_write(ea, &v, size);
}

static u32 read_rm16(struct frame *f, int rm, u32 ea)
{
    u16 v = 0;
    if (rm >= 0) return *gpr_of(f, rm) & 0xffff;
    guest_read(ea, &v, 2);
    return v;
}

static void set_zf(struct frame *f, int z) { f->eflags = (f->eflags & ~0x40u) | (z ? 0x40u : 0); }

/* LAR/LSL/VERR/VERW at virtual CPL 0: the guest's descriptor if visible (SDM Vol. 2, LAR). */
static int visible_desc(u32 sel, u64 *d, int lar, u32 cpl)
{
    if (!(sel & ~3u) || !guest_desc(sel, d)) return 0;
    u32 hi = (u32)(*d >> 32), type = (hi >> 8) & 0xf, dpl = (hi >> 13) & 3;
    if (!(hi & 0x1000)) {                                   /* system descriptor */
        if (lar == 1 && !(type == 1 || type == 2 || type == 3 || type == 4 || type == 5 ||
                          type == 9 || type == 0xb || type == 0xc)) return 0;
        if (lar == 2 && !(type == 1 || type == 2 || type == 3 || type == 9 || type == 0xb)) return 0;
        if (lar == 0) return 0;
    }
    int conforming = (hi & 0x1000) && (type & 0xc) == 0xc;
    if (!conforming && (dpl < cpl || dpl < (sel & 3))) return 0;   /* DPL >= max(CPL, RPL) */
    return 1;
}

/* LAR (kind 0), LSL (1), VERR (2), VERW (3) of `sel` at virtual CPL `cpl`: returns ZF,
 * *v the value LAR or LSL would load (the HC_SEG_CHECK hypercall uses it too). */
int seg_check(u32 sel, int kind, u32 cpl, int opsize16, u32 *v)
{
    u64 d;
    if (!visible_desc(sel, &d, kind == 0 ? 1 : kind == 1 ? 2 : 0, cpl)) return 0;
    u32 hi = (u32)(d >> 32), lo = (u32)d, type = (hi >> 8) & 0xf;
    if (kind == 0) *v = hi & (opsize16 ? 0xff00u : 0x00ffff00u);
    else if (kind == 1) {
        *v = (hi & 0xf0000u) | (lo & 0xffff);
        if (hi & 0x800000u) *v = (*v << 12) | 0xfff;
    } else if (kind == 2) return !(type & 8) || (type & 2);
    else return !(type & 8) && (type & 2);
    return 1;
}

/* What the guest believes a segment register holds (for HC_VCPU_READ). */
u32 guest_visible_sel(struct frame *f, int s) { return visible_sel(f, s); }

/* Loads a data segment register or SS as the guest's virtual CPL (0 or 3) would
 * (SDM Vol. 3A 5.7); 0 = a fault was reflected instead. */
static int load_sreg(struct frame *f, int s, u32 sel)
{
    u64 d;
    u32 cpl = guest_cpl(f), rpl = sel & 3;
    sel &= 0xffff;
    if (s == 1 || s > 5) { tally(C_EXC_REFLECT); reflect(f, 6, 0, 0, K_EXC); return 0; }
    if (!(sel & ~3u)) {
        if (s == 2) { gp(f, 0); return 0; }
        *sreg(f, s) = sel;
        return 1;
    }
    if (!guest_desc(sel, &d)) { gp(f, sel & 0xfffc); return 0; }
    u32 hi = (u32)(d >> 32), type = (hi >> 8) & 0xf, dpl = (hi >> 13) & 3;
    int data = (hi & 0x1000) && !(type & 8);
    if (s == 2) {
        /* RPL 1 at virtual ring 0: a paravirtual kernel knows it runs at ring 1. */
        u32 want = rpl == 1 && cpl == 0 ? 0 : rpl;
        if (!data || !(type & 2) || dpl != cpl || want != cpl) { gp(f, sel & 0xfffc); return 0; }
        if (!(hi & 0x8000)) { tally(C_EXC_REFLECT); reflect(f, 12, 1, sel & 0xfffc, K_EXC); return 0; }
        sel = cpl == 0 ? sel | 1 : sel;
        if (guest_fault_on_return(f, f->cs, f->eip, sel)) return 0;   /* the shadow's view */
        f->ss = sel;
        return 1;
    }
    int conforming = (type & 0xc) == 0xc;
    if (!(hi & 0x1000) || ((type & 8) && !(type & 2)) || (!conforming && (dpl < cpl || dpl < rpl))) {
        gp(f, sel & 0xfffc);
        return 0;
    }
    if (!(hi & 0x8000)) { tally(C_EXC_REFLECT); reflect(f, 11, 1, sel & 0xfffc, K_EXC); return 0; }
    u32 err;
    if (data_fault(sel, &err)) { gp(f, err); return 0; }  /* the shadow refused it (vcpu.c) */
    *sreg(f, s) = sel;
    return 1;
}

/* A far JMP or CALL (or same-level RET) to a code segment at the guest's own privilege
 * level (no call gates, no task switches: they stop at a reflected #GP). */
static int far_target(struct frame *f, u32 sel, u32 off)
{
    u64 d;
    u32 cpl = guest_cpl(f);
    sel &= 0xffff;
    if (!(sel & ~3u) || !guest_desc(sel, &d)) { gp(f, sel & 0xfffc); return 0; }
    u32 hi = (u32)(d >> 32), type = (hi >> 8) & 0xf, dpl = (hi >> 13) & 3;
    if (!(hi & 0x1000) || !(type & 8)) {
        mprintf("tevmm: far transfer through a system descriptor (%x): not supported\n", sel);
        gp(f, sel & 0xfffc);
        return 0;
    }
    int conforming = (type & 4) != 0;
    if (conforming ? dpl > cpl : (dpl != cpl || (sel & 3) > cpl)) { gp(f, sel & 0xfffc); return 0; }
    if (!(hi & 0x8000)) { tally(C_EXC_REFLECT); reflect(f, 11, 1, sel & 0xfffc, K_EXC); return 0; }
    sel = (sel & ~3u) | (cpl == 0 ? 1 : 3);
    if (guest_fault_on_return(f, sel, off, f->ss)) return 0;   /* the shadow's view, EIP limit */
    f->cs = sel;
    f->eip = off;
    return 1;
}

/* Returns 1 if b[i..] (after prefixes) is a sensitive instruction it emulated. */
int emulate_sensitive(struct frame *f, const u8 *b, int i, int opsize16)
{
    u8 op = b[i];
    int reg, rm, len, size = opsize16 ? 2 : 4;
    u32 ea, sp, v;
    static const signed char push_of[256] = { [0x06] = 0 + 1, [0x0e] = 1 + 1, [0x16] = 2 + 1, [0x1e] = 3 + 1 };
    static const signed char pop_of[256] = { [0x07] = 0 + 1, [0x17] = 2 + 1, [0x1f] = 3 + 1 };
    if (push_of[op]) {                                        /* PUSH ES/CS/SS/DS */
        sp = f->esp;
        tally(C_PUSH_SREG);
        guest_push(f, &sp, visible_sel(f, push_of[op] - 1));
        f->esp = sp;
        f->eip += i + 1;
        return 1;
    }
    if (pop_of[op]) {                                         /* POP ES/SS/DS */
        tally(C_POP_SREG);
        if (load_sreg(f, pop_of[op] - 1, guest_read32(f->esp))) { f->esp += 4; f->eip += i + 1; }
        return 1;
    }
    switch (op) {
    case 0x8c:                                                /* MOV r/m, Sreg */
        len = decode_modrm(f, &b[i + 1], &reg, &rm, &ea);
        if (reg > 5) return 0;
        tally(C_MOV_FROM_SREG);
        write_rm(f, rm, ea, rm >= 0 ? size : 2, visible_sel(f, reg));
        f->eip += i + 1 + len;
        return 1;
    case 0x8e:                                                /* MOV Sreg, r/m */
        len = decode_modrm(f, &b[i + 1], &reg, &rm, &ea);
        tally(reg == 2 ? C_MOVSS : C_MOV_TO_SREG);
        if (load_sreg(f, reg, read_rm16(f, rm, ea))) f->eip += i + 1 + len;
        return 1;
    case 0xea: case 0x9a: {                                   /* JMP/CALL ptr16:32 */
        u32 off = opsize16 ? *(const u16 *)&b[i + 1] : *(const u32 *)&b[i + 1];
        u32 sel = *(const u16 *)&b[i + 1 + size];
        u32 next = f->eip + i + 1 + size + 2, cs = visible_sel(f, 1);
        tally(C_FAR);
        if (!far_target(f, sel, off)) return 1;
        if (op == 0x9a) { sp = f->esp; guest_push(f, &sp, cs); guest_push(f, &sp, next); f->esp = sp; }
        return 1;
    }
    case 0xff:                                                /* CALL/JMP m16:32 */
        len = decode_modrm(f, &b[i + 1], &reg, &rm, &ea);
        if ((reg != 3 && reg != 5) || rm >= 0) return 0;
        {
            u32 off = 0, sel = 0, next = f->eip + i + 1 + len, cs = visible_sel(f, 1);
            guest_read(ea, &off, size);
            guest_read(ea + size, &sel, 2);
            tally(C_FAR);
            if (!far_target(f, sel, off)) return 1;
            if (reg == 3) { sp = f->esp; guest_push(f, &sp, cs); guest_push(f, &sp, next); f->esp = sp; }
        }
        return 1;
    case 0xcb: case 0xca: {                                   /* RET far [imm16] */
        u32 imm = op == 0xca ? *(const u16 *)&b[i + 1] : 0;
        u32 eip = guest_read32(f->esp), cs = guest_read32(f->esp + 4) & 0xffff;
        tally(C_FAR);
        if ((cs & 3) == (u32)guest_cpl(f)) {                  /* same level */
            u32 esp = f->esp;
            if (!far_target(f, cs, eip)) return 1;
            f->esp = esp + 8 + imm;
        } else if ((cs & 3) == 3 && guest_cpl(f) == 0) {      /* to user mode: outer stack */
            u32 esp = guest_read32(f->esp + 8 + imm), ss = guest_read32(f->esp + 12 + imm) & 0xffff;
            if (guest_fault_on_return(f, cs, eip, ss)) return 1;   /* vcpu.c: return_fault */
            f->eip = eip; f->cs = cs; f->esp = esp + imm; f->ss = ss;
        } else {
            gp(f, cs & 0xfffc);
        }
        return 1;
    }
    case 0xcd:                                                /* INT n */
        f->eip += i + 2;
        if (b[i + 1] == HYPERCALL_VECTOR && guest_cpl(f) == 0) { hypercall(f); return 1; }
        reflect(f, b[i + 1], 0, i + 2, K_SOFT);
        return 1;
    case 0x0f: break;
    default: return 0;
    }
    u8 op2 = b[i + 1];
    if (op2 == 0xa0 || op2 == 0xa8) {                         /* PUSH FS/GS */
        sp = f->esp;
        tally(C_PUSH_SREG);
        guest_push(f, &sp, visible_sel(f, op2 == 0xa0 ? 4 : 5));
        f->esp = sp;
        f->eip += i + 2;
        return 1;
    }
    if (op2 == 0xa1 || op2 == 0xa9) {                         /* POP FS/GS */
        tally(C_POP_SREG);
        if (load_sreg(f, op2 == 0xa1 ? 4 : 5, guest_read32(f->esp))) { f->esp += 4; f->eip += i + 2; }
        return 1;
    }
    if (op2 != 0x00 && op2 != 0x01 && op2 != 0x02 && op2 != 0x03) return 0;
    len = decode_modrm(f, &b[i + 2], &reg, &rm, &ea);
    /* The guest's own CR4.UMIP: its user mode must see these fault. */
    if (guest_cpl(f) == 3 && (vcpu.cr4 & 0x800) &&
        ((op2 == 0x01 && (reg <= 1 || reg == 4)) || (op2 == 0x00 && reg <= 1))) {
        gp(f, 0);
        return 1;
    }
    if (op2 == 0x01) {
        if (reg == 0 || reg == 1) {                           /* SGDT / SIDT m */
            if (rm >= 0) return 0;
            u16 limit = reg ? vcpu.idt_limit : vcpu.gdt_limit;
            u32 base = reg ? vcpu.idt_base : vcpu.gdt_base;
            tally(reg ? C_SIDT : C_SGDT);
            if (opsize16) base &= 0xffffff;
            guest_write(ea, &limit, 2);
            guest_write(ea + 2, &base, 4);
        } else if (reg == 4) {                                /* SMSW */
            tally(C_SMSW);
            write_rm(f, rm, ea, rm >= 0 ? size : 2, vcpu.cr0);
        } else {
            return 0;
        }
    } else if (op2 == 0x00) {
        if (reg == 0 || reg == 1) {                           /* SLDT / STR */
            tally(reg ? C_STR : C_SLDT);
            write_rm(f, rm, ea, rm >= 0 ? size : 2, reg ? vcpu.tr : vcpu.ldtr);
        } else if (reg == 4 || reg == 5) {                    /* VERR / VERW */
            u32 sel = read_rm16(f, rm, ea), unused;
            tally(reg == 4 ? C_VERR : C_VERW);
            set_zf(f, seg_check(sel, reg == 4 ? 2 : 3, guest_cpl(f), 0, &unused));
        } else {
            return 0;
        }
    } else {                                                  /* LAR / LSL r, r/m16 */
        u32 sel = read_rm16(f, rm, ea);
        tally(op2 == 0x02 ? C_LAR : C_LSL);
        if (seg_check(sel, op2 == 0x02 ? 0 : 1, guest_cpl(f), opsize16, &v)) {
            write_rm(f, reg, 0, size, v);
            set_zf(f, 1);
        } else {
            set_zf(f, 0);
        }
    }
    f->eip += i + 2 + len;
    return 1;
}
