/*
 * hypercall.h - the paravirtual interface between tevmm and a guest built for it
 * (minios with PARAVIRT=1). Xen's approach (Barham et al., SOSP 2003; its 32-bit guests also
 * used INT 0x82): instead of executing a privileged instruction and letting it trap, the
 * guest kernel asks the monitor explicitly, with EAX = the call, EBX, ECX = arguments and the
 * result in EAX. Some calls do more than the instruction they replace: one CONSOLE_PUTC
 * replaces the six port accesses of a character (UART status, UART data, four VGA cursor
 * writes), one PTE_WRITE replaces the two traps of a write to a write-protected page table.
 * Only the guest kernel (ring 1) may call; a paravirtual kernel does not run on bare hardware.
 */
#ifndef TEVMM_HYPERCALL_H
#define TEVMM_HYPERCALL_H

#define HYPERCALL_VECTOR 0x82

enum hypercall {
    HC_OUTB = 1,        /* EBX port, ECX byte */
    HC_INB,             /* EBX port -> byte */
    HC_LGDT,            /* EBX = address of a 6-byte pseudo-descriptor */
    HC_LIDT,            /* likewise */
    HC_LTR,             /* EBX selector */
    HC_READ_CR0,
    HC_WRITE_CR0,       /* EBX value */
    HC_READ_CR2,
    HC_WRITE_CR3,       /* EBX value */
    HC_INVLPG,          /* EBX linear address */
    HC_CLI,
    HC_STI,
    HC_IDLE,            /* STI; HLT: wait for the next interrupt */
    HC_CONSOLE_PUTC,    /* EBX character (to COM1), ECX VGA cursor position */
    HC_PTE_WRITE,       /* EBX address of a page-table entry, ECX its new value */
    HC_SHUTDOWN,        /* EBX exit code (port 0xF4) */
    HC_VCPU_READ,       /* EBX = VR_*: what SGDT, SIDT, SLDT, STR, SMSW, MOV r,Sreg, PUSHF show */
    HC_SEG_CHECK,       /* EBX selector, ECX = 0 LAR, 1 LSL, 2 VERR, 3 VERW -> EAX, EBX = ZF */
    HC_COUNT
};

/* HC_VCPU_READ: the virtual CPU's state, as ring 0 would read it. */
enum vcpu_reg {
    VR_GDT_BASE, VR_GDT_LIMIT, VR_IDT_BASE, VR_IDT_LIMIT, VR_LDTR, VR_TR, VR_CR0, VR_CS, VR_SS,
    VR_EFLAGS
};

#ifndef TEVMM_MONITOR
static inline unsigned int hypercall2(unsigned int n, unsigned int a, unsigned int b)
{
    unsigned int r;
    __asm__ volatile("int $0x82" : "=a"(r) : "a"(n), "b"(a), "c"(b) : "memory");
    return r;
}
/* The same with a second result in EBX (HC_SEG_CHECK's ZF). */
static inline unsigned int hypercall2b(unsigned int n, unsigned int a, unsigned int b, unsigned int *rb)
{
    unsigned int r;
    __asm__ volatile("int $0x82" : "=a"(r), "=b"(*rb) : "a"(n), "b"(a), "c"(b) : "memory");
    return r;
}
#define hypercall0(n) hypercall2((n), 0, 0)
#define hypercall1(n, a) hypercall2((n), (a), 0)
#endif
#endif
