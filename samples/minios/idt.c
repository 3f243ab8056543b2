/*
 * idt.c - Interrupt Descriptor Table and the C side of every interrupt.
 *
 *   vectors 0-31   CPU exceptions   -> exception(): report; kill the process or panic
 *   vectors 32-47  hardware IRQs    -> irq(): timer, keyboard, serial
 *   vector  0x80   system calls     -> syscall_handler() in syscall.c
 *
 * All gates are interrupt gates (IF cleared on entry), so the kernel always
 * runs with interrupts off; only user code and the idle loop take interrupts.
 * That makes the kernel simple: no locks, and preemption happens only when
 * the timer interrupts ring 3.
 */
#include "kernel.h"

struct idt_entry {
    u16 offset_low, selector;
    u8 zero, type_attr;               /* P | DPL | 0 | type (0xE = 32-bit interrupt gate) */
    u16 offset_high;
} __attribute__((packed));

static struct idt_entry idt[256];
struct dtr kernel_idtr;
extern u32 isr_table[48];             /* isr.S */
extern char isr128[];

static void set_gate(int n, u32 handler, u8 type_attr)
{
    idt[n].offset_low = handler & 0xffff;
    idt[n].selector = KERNEL_CS;
    idt[n].zero = 0;
    idt[n].type_attr = type_attr;
    idt[n].offset_high = handler >> 16;
}

void idt_init(void)
{
    for (int i = 0; i < 48; i++)
        set_gate(i, isr_table[i], 0x8e);       /* present, DPL 0, interrupt gate */
    set_gate(0x80, (u32)isr128, 0xee);         /* DPL 3: ring 3 may execute int $0x80 */
    struct { u16 limit; u32 base; } __attribute__((packed)) idtr = { sizeof(idt) - 1, (u32)idt };
    kernel_idtr.limit = idtr.limit;
    kernel_idtr.base = idtr.base;
#ifdef PARAVIRT
    hypercall1(HC_LIDT, (u32)&idtr);
#else
    __asm__ volatile("lidt %0" : : "m"(idtr));
#endif
}

static const char *const exception_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range exceeded", "#UD invalid opcode", "#NM device not available",
    "#DF double fault", "coprocessor segment overrun", "#TS invalid TSS",
    "#NP segment not present", "#SS stack-segment fault", "#GP general protection",
    "#PF page fault", "reserved", "#MF x87 floating-point error", "#AC alignment check",
    "#MC machine check", "#XM SIMD floating-point", "#VE virtualization", "#CP control protection",
    "reserved", "reserved", "reserved", "reserved", "reserved", "reserved",
    "reserved", "reserved", "#SX security", "reserved",
};

static void exception(struct regs *r)
{
    int user = (r->cs & 3) == 3;
    u32 n = r->int_no;
    kprintf("\n*** exception %u (%s) in %s mode, process %d (%s)\n",
            n, exception_names[n], user ? "user" : "kernel", current->pid, current->name);
    if (n == 8 || (n >= 10 && n <= 14) || n == 17)
        kprintf("    error code: 0x%x", r->err_code);
    if (n == 14) {
        /* page-fault error code: bit 0 P (protection vs not present), bit 1 W/R, bit 2 U/S */
        kprintf(" (%s, %s, %s mode)\n    CR2 (faulting address): %p",
                r->err_code & 1 ? "protection violation" : "page not present",
                r->err_code & 2 ? "write" : "read",
                r->err_code & 4 ? "user" : "supervisor", read_cr2());
    }
    if (n == 8 || (n >= 10 && n <= 14) || n == 17) kprintf("\n");
    kprintf("    EIP: %p  CS: 0x%x  EFLAGS: 0x%x", r->eip, r->cs, r->eflags);
    if (user) kprintf("  ESP: %p", r->useresp);
    kprintf("\n    EAX=%p EBX=%p ECX=%p EDX=%p\n", r->eax, r->ebx, r->ecx, r->edx);
    if (!user) panic("exception in kernel mode");
    kprintf("*** process %d (%s) killed\n", current->pid, current->name);
    proc_exit(128 + (int)n);               /* like a Unix signal: status 128 + vector */
}

static void irq(struct regs *r)
{
    int n = (int)r->int_no - 32;
    if (pic_spurious(n)) return;
    switch (n) {
    case 0: ticks++; sched_tick(); input_poll(); hsock_poll(); break;   /* PIT */
    case 1: keyboard_irq(); break;                        /* 8042 keyboard */
    case 4: input_poll(); break;                          /* COM1 received data */
    default: break;
    }
    pic_eoi(n);
    /* Preemption: the timer interrupted a user process; give the CPU to the next one.
     * (When it interrupts the idle loop, the loop itself calls schedule().) */
    if (n == 0 && (r->cs & 3) == 3)
        schedule();
}

void isr_handler(struct regs *r)
{
    if (r->int_no < 32) exception(r);
    else if (r->int_no < 48) irq(r);
    else if (r->int_no == 0x80) syscall_handler(r);
}
