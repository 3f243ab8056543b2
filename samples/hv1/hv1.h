/*
 * hv1.h - hv1's data structures: one struct vm per virtual machine (its VMCB,
 * nested page directory, guest registers, virtual devices and ledger), and
 * the functions the files share. hv1 is a type-1 hypervisor: it boots on the
 * bare (emulated) machine and runs each VM with AMD SVM (AMD64 APM vol. 2,
 * chapter 15); the file headers name the APM sections each one implements.
 */
#ifndef HV1_H
#define HV1_H
#include "../common/lib.h"
#include "vmcb.h"

#define MAX_VMS  4
#define PAGE     __attribute__((aligned(4096)))
#define MIB      (1024u * 1024u)

/* Guest general registers that VMRUN does not switch (EAX, ESP are in the VMCB). */
struct gregs { u32 ebx, ecx, edx, esi, edi, ebp; };

/* Virtual 8259A PIC (one master: minios uses IRQ 0, 1, 4) */
struct vpic { u8 irr, isr, imr, base, icw_step; u8 read_isr; };
/* Virtual 8254 PIT channel 0: only its divisor matters (the IRQ 0 rate) */
struct vpit { u32 divisor, acc; u8 lobyte_next; u8 lo; };
/* Virtual 16550 UART at 0x3F8: registers, and the bytes waiting to be read */
struct vuart { u8 ier, lcr, mcr, scr, dll, dlm; u8 rx[1024]; u32 rx_head, rx_tail; };

enum vm_state { VM_RUNNABLE, VM_HALTED, VM_PAUSED, VM_DEAD };

/* ledger rows: the exit codes hv1 handles, and one for the rest */
enum { L_INTR, L_VINTR, L_CPUID, L_HLT, L_IOIO, L_MSR, L_SHUTDOWN, L_VMMCALL, L_NPF,
       L_SVM_INSN, L_OTHER, L_NROWS };

struct vm {
    u8 vmcb[4096] PAGE;       /* 4 KiB aligned (so the struct size is a multiple of 4 KiB) */
    u64 npdpt[512] PAGE;      /* nested PAE tables: PDPT (entry 0 only) ... */
    u64 npd[512] PAGE;        /* ... and one page directory of 2 MiB pages: gPA 0-1 GiB */
    struct gregs g;
    char name[8];
    u32 num;                  /* 1, 2, ... (the WHOAMI answer) */
    u32 base, size;           /* host-physical memory: [base, base + size) = gPA [0, size) */
    enum vm_state state;
    int paused_halted;        /* state to go back to on resume */
    struct vpic pic;
    struct vpit pit;
    struct vuart uart;
    char line[160];           /* console output not yet printed (up to the newline) */
    u32 line_len;
    u32 exits[L_NROWS];
    u64 exit_tsc[L_NROWS];    /* TSC spent in hv1 handling each kind of exit */
    u64 exit_insns[L_NROWS];  /* ... instructions */
    u64 tsc_guest;            /* TSC between VMRUN and #VMEXIT */
    u64 insns_guest;          /* ... instructions (IRPerfCount) */
    u32 exits_total;
};

extern struct vm vms[MAX_VMS];
extern u32 nvms;
extern volatile u32 host_ticks;   /* real PIT interrupts (entry.S) */

/* entry.S */
void svm_run(u32 vmcb_pa, struct gregs *regs);   /* STI; CLGI; VMRUN; STGI; CLI */
void idle_wait(void);                            /* STI; HLT; CLI */
static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }
static inline u64 rdmsr(u32 msr) { u32 lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return ((u64)hi << 32) | lo; }
static inline void wrmsr(u32 msr, u64 v) { __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32))); }
static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

/* VMCB access */
static inline u32 r32(struct vm *v, u32 off) { return *(volatile u32 *)(v->vmcb + off); }
static inline u64 r64(struct vm *v, u32 off) { return *(volatile u64 *)(v->vmcb + off); }
static inline void w16(struct vm *v, u32 off, u16 x) { *(volatile u16 *)(v->vmcb + off) = x; }
static inline void w32(struct vm *v, u32 off, u32 x) { *(volatile u32 *)(v->vmcb + off) = x; }
static inline void w64(struct vm *v, u32 off, u64 x) { *(volatile u64 *)(v->vmcb + off) = x; }

/* vm.c */
int vm_create(struct vm *v, u32 num, u32 base, u32 size, const u8 *elf, u32 elf_len,
              const char *cmdline);
void vm_stop(struct vm *v, const char *why);
/* exit.c */
void handle_exit(struct vm *v);
/* vdev.c */
int vdev_in(struct vm *v, u16 port, u32 *val);          /* 0 = not a device of ours */
int vdev_out(struct vm *v, u16 port, u32 val);
void vpit_tick(struct vm *v);                           /* one real PIT period went by */
void vpic_raise(struct vm *v, int irq);
int vpic_pending(struct vm *v);                         /* the IRQ to deliver, or -1 */
void vpic_ack(struct vm *v, int irq);                   /* delivered: IRR -> ISR */
void vuart_update_irq(struct vm *v);
/* console.c */
void hv_put(const char *s);
void hv_putu(u32 n);
void vm_putc(struct vm *v, char c);                     /* a VM's COM1 output */
void vm_flush(struct vm *v);
void console_poll(void);                                /* real COM1 input -> VMs / hv1 */
void com1_rx_irq(void);                                 /* entry.S's IRQ 4 handler */
void hv1_fault(u32 vec, u32 w1, u32 w2);               /* entry.S: an exception in hv1 */
/* ledger.c */
int ledger_row(u32 code);
void ledger_print(void);
void ledger_exits(struct vm *v);
extern u64 tsc_start, tsc_idle, insns_start, insns_idle;
extern int hv_irperf;                 /* 1: the CPU counts instructions (IRPerfCount) */
extern u64 tsc_in, tsc_out, insns_in, insns_out;   /* entry.S's reads around VMRUN */
u64 insns(void);                      /* instructions retired so far, 0 without IRPerfCount */
void ledger_run(struct vm *v);        /* after svm_run: the guest's share */
extern const char *const row_names[L_NROWS];
#endif
