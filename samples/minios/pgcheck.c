/*
 * pgcheck.c - the `pgcheck` shell command (system call SYS_PGCHECK): the kernel
 * executes the IA-32 instructions that are sensitive but not privileged and
 * compares what it sees with what a kernel running at ring 0 must see.
 *
 * Popek and Goldberg ("Formal Requirements for Virtualizable Third Generation
 * Architectures", CACM 17(7), 1974), theorem 1: a trap-and-emulate monitor can
 * be built when every sensitive instruction traps outside the most privileged
 * mode. Robin and Irvine (USENIX Security 2000) list the IA-32 instructions
 * that do not trap: SGDT, SIDT, SLDT, SMSW, STR, PUSHF, POPF, LAR, LSL, VERR,
 * VERW, PUSH/POP and MOV of segment registers, CALL/JMP/RET far and INT n.
 * At ring 0 every check below agrees. Deprivileged to ring 1 by a monitor
 * (samples/tevmm), those instructions run without trapping and show the
 * monitor's tables, the real privilege level and the real IF -- unless the CPU
 * makes them trap (traplab run --popek-goldberg) and the monitor emulates them.
 *
 * What ring 0 must see comes from what this kernel set up itself: the GDTR and
 * IDTR it loaded (gdt.c, idt.c), its TSS selector, CR0 read with MOV (a
 * privileged instruction, so a monitor must answer it), its selectors 0x08 and
 * 0x10 and their descriptors in its own GDT.
 */
#include "kernel.h"

#define IF_FLAG 0x200

static int checks, differ;

static void check(const char *name, u32 saw, u32 want, const char *why)
{
    checks++;
    if (saw == want) {
        kprintf("  %-9s saw %p, ring 0 sees %p: same\n", name, saw, want);
        return;
    }
    differ++;
    kprintf("  %-9s saw %p, ring 0 sees %p: DIFFERS (%s)\n", name, saw, want, why);
}

/* Word 1 (bits 63:32) and the byte-granular limit of one of our own descriptors. */
static u32 desc_hi(u16 sel) { return ((u32 *)kernel_gdtr.base)[(sel >> 3) * 2 + 1]; }
static u32 desc_limit(u16 sel)
{
    u32 lo = ((u32 *)kernel_gdtr.base)[(sel >> 3) * 2], hi = desc_hi(sel);
    u32 limit = (lo & 0xffff) | (hi & 0xf0000);
    return hi & (1 << 23) ? limit << 12 | 0xfff : limit;     /* G bit */
}

/* A far call lands here: it returns the CS the call pushed (low 16 bits). */
__asm__(".text\n"
        "pg_far_target:\n\t"
        "movl 4(%esp), %eax\n\t"
        "lret\n");

int pgcheck(void)
{
    struct dtr d;
    u32 v, zf, cr0;
    checks = differ = 0;
    kprintf("pgcheck: the kernel runs the sensitive, unprivileged instructions:\n");

#ifdef PARAVIRT
    /* The paravirtual kernel executes none of them: it asks tevmm (../tevmm/hypercall.h),
     * which answers from the virtual CPU, as Xen's guests read their state from Xen. */
    (void)d;
    check("SGDT", hypercall1(HC_VCPU_READ, VR_GDT_BASE), kernel_gdtr.base, "the monitor's GDT");
    check("SIDT", hypercall1(HC_VCPU_READ, VR_IDT_BASE), kernel_idtr.base, "the monitor's IDT");
    check("SLDT", hypercall1(HC_VCPU_READ, VR_LDTR) & 0xffff, 0, "the monitor's LDT");
    check("STR", hypercall1(HC_VCPU_READ, VR_TR) & 0xffff, TSS_SEL, "the monitor's TSS");
    cr0 = hypercall0(HC_READ_CR0);
    check("SMSW", hypercall1(HC_VCPU_READ, VR_CR0) & 0xffff, cr0 & 0xffff, "the real CR0");
    check("MOV r,CS", hypercall1(HC_VCPU_READ, VR_CS) & 0xffff, KERNEL_CS, "RPL = the real CPL");
    check("MOV r,SS", hypercall1(HC_VCPU_READ, VR_SS) & 0xffff, KERNEL_DS, "RPL = the real CPL");
    hypercall0(HC_CLI);
    check("PUSHF", hypercall1(HC_VCPU_READ, VR_EFLAGS) & IF_FLAG, 0, "the real IF");
    hypercall0(HC_STI);
    v = hypercall1(HC_VCPU_READ, VR_EFLAGS) & ~IF_FLAG;          /* POPF of flags without IF */
    hypercall0(v & IF_FLAG ? HC_STI : HC_CLI);
    v = hypercall1(HC_VCPU_READ, VR_EFLAGS);
    hypercall0(HC_CLI);
    check("POPF", v & IF_FLAG, 0, "IF ignored, no trap");
    v = hypercall2b(HC_SEG_CHECK, KERNEL_CS, 0, &zf);
    check("LAR", (zf & 1) ? v & 0x00f0fe00 : 0xffffffff, desc_hi(KERNEL_CS) & 0x00f0fe00,
          "not our descriptor");
    v = hypercall2b(HC_SEG_CHECK, KERNEL_DS, 1, &zf);
    check("LSL", (zf & 1) ? v : 0, desc_limit(KERNEL_DS), "the monitor's limit");
    hypercall2b(HC_SEG_CHECK, KERNEL_CS, 2, &zf);
    check("VERR", zf & 1, 1, "the real CPL");
    hypercall2b(HC_SEG_CHECK, KERNEL_DS, 3, &zf);
    check("VERW", zf & 1, 1, "the real CPL");
    /* No far transfers either: the CS they would push or load is the monitor's answer. */
    check("CALL far", hypercall1(HC_VCPU_READ, VR_CS) & 0xffff, KERNEL_CS, "pushed the real CS");
    check("JMP far", hypercall1(HC_VCPU_READ, VR_CS) & 0xffff, KERNEL_CS, "RPL = the real CPL");
#else
    __asm__ volatile("sgdt %0" : "=m"(d));
    check("SGDT", d.base, kernel_gdtr.base, "the monitor's GDT");
    __asm__ volatile("sidt %0" : "=m"(d));
    check("SIDT", d.base, kernel_idtr.base, "the monitor's IDT");
    __asm__ volatile("sldt %0" : "=r"(v));
    check("SLDT", v & 0xffff, 0, "the monitor's LDT");
    __asm__ volatile("str %0" : "=r"(v));
    check("STR", v & 0xffff, TSS_SEL, "the monitor's TSS");
    __asm__ volatile("smsw %0\n\tmov %%cr0, %1" : "=r"(v), "=r"(cr0));
    check("SMSW", v & 0xffff, cr0 & 0xffff, "the real CR0");

    __asm__ volatile("mov %%cs, %0" : "=r"(v));
    check("MOV r,CS", v & 0xffff, KERNEL_CS, "RPL = the real CPL");
    __asm__ volatile("mov %%ss, %0" : "=r"(v));
    check("MOV r,SS", v & 0xffff, KERNEL_DS, "RPL = the real CPL");

    /* The kernel runs with interrupts off (interrupt gates): CLI changes nothing,
     * STI opens a window of a few instructions. */
    __asm__ volatile("cli\n\tpushfl\n\tpopl %0" : "=r"(v));
    check("PUSHF", v & IF_FLAG, 0, "the real IF");
    __asm__ volatile("sti\n\t"
                     "pushfl\n\tandl $~0x200, (%%esp)\n\tpopfl\n\t"
                     "pushfl\n\tpopl %0\n\tcli" : "=r"(v) : : "cc");
    check("POPF", v & IF_FLAG, 0, "IF ignored, no trap");

    /* LAR's access rights without the accessed bit: the CPU sets it when a selector is
     * loaded (SDM Vol. 3A 3.4.5.1), QEMU 7.2 does not for CS. */
    __asm__ volatile("larl %2, %0\n\tsetz %b1" : "=r"(v), "=q"(zf) : "r"((u32)KERNEL_CS) : "cc");
    check("LAR", (zf & 1) ? v & 0x00f0fe00 : 0xffffffff, desc_hi(KERNEL_CS) & 0x00f0fe00,
          "not our descriptor");
    __asm__ volatile("lsll %2, %0\n\tsetz %b1" : "=r"(v), "=q"(zf) : "r"((u32)KERNEL_DS) : "cc");
    check("LSL", (zf & 1) ? v : 0, desc_limit(KERNEL_DS), "the monitor's limit");
    __asm__ volatile("verr %w1\n\tsetz %b0" : "=q"(zf) : "r"((u32)KERNEL_CS) : "cc");
    check("VERR", zf & 1, 1, "the real CPL");
    __asm__ volatile("verw %w1\n\tsetz %b0" : "=q"(zf) : "r"((u32)KERNEL_DS) : "cc");
    check("VERW", zf & 1, 1, "the real CPL");

    __asm__ volatile("lcall $0x08, $pg_far_target" : "=a"(v) : : "memory");
    check("CALL far", v & 0xffff, KERNEL_CS, "pushed the real CS");
    __asm__ volatile("ljmp $0x08, $1f\n1:\tmov %%cs, %0" : "=r"(v));
    check("JMP far", v & 0xffff, KERNEL_CS, "RPL = the real CPL");

#endif
    kprintf("pgcheck: %d of %d checks differ from ring 0\n", differ, checks);
    return differ;
}
