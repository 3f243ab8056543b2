/*
 * tevmm.h - the trap-and-emulate monitor's shared types, layout and interfaces.
 *
 * The classic pre-VT-x design (VMware Workstation 1999, Xen 1.0 2003; Robin & Irvine's
 * "ring compression"): the guest kernel runs at ring 1, its user code at ring 3, and every
 * privileged instruction it executes traps (#GP) into this monitor at ring 0, which
 * emulates it on a virtual CPU (struct vcpu).
 *
 * Linear address space (the same in every shadow page directory):
 *   0x00000000-0xFF7FFFFF  the guest's: shadow page tables built from its own tables
 *   0xFF800000-0xFFBFFFFF  window onto guest-physical memory (0-4 MiB), monitor only
 *   0xFFC00000-0xFFFFFFFF  the monitor itself (code, data, GDT, IDT, TSS, shadow pool)
 * Protection: SEGMENT LIMITS. Ring 1 counts as "supervisor" for paging, so the U/S bit
 * cannot keep the guest kernel out of the monitor's pages; instead every segment the guest
 * can load is clipped to end below 0xFF800000 (Intel SDM Vol. 3A 5.3 limit checking), the
 * trick of 32-bit VMware and Xen (which likewise sat in the top 64 MiB).
 * Physical memory: guest-physical = host-physical for 0-4 MiB; the monitor is loaded at
 * 4 MiB and reaches guest memory only through the window.
 */
#ifndef TEVMM_H
#define TEVMM_H
#include <stdarg.h>

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define GUEST_MEM   0x400000u            /* 4 MiB of guest-physical memory */
#define MON_BASE    0xFF800000u          /* lowest linear address the guest may not touch */
#define GUEST_WIN   0xFF800000u          /* guest-physical 0 seen by the monitor */
#define MON_VIRT    0xFFC00000u
#define MON_PHYS    0x00400000u
#define V2P(x)      ((u32)(x) - (MON_VIRT - MON_PHYS))
#define GPA(pa)     ((void *)(GUEST_WIN + (u32)(pa)))

/* Real GDT layout: entries 0-239 shadow the guest's GDT, the monitor's follow. */
#define GDT_ENTRIES   256
#define GUEST_GDT_MAX 240
#define MON_CS        (240 * 8)          /* 0x780 */
#define MON_DS        (241 * 8)          /* 0x788 */
#define MON_TSS       (242 * 8)          /* 0x790 */
#define BOOT_GUEST_CS (243 * 8 + 1)      /* 0x799: flat ring-1 code until the guest's LGDT */
#define BOOT_GUEST_DS (244 * 8 + 1)      /* 0x7a1 */

#define IRQ_BASE   0xF0                  /* where the REAL PIC delivers: monitor-only vectors */

#define EFL_TF   0x100u
#define EFL_IF   0x200u
#define EFL_IOPL 0x3000u
#define EFL_NT   0x4000u
#define EFL_RF   0x10000u
#define EFL_VM   0x20000u

#define PTE_P 0x01u
#define PTE_W 0x02u
#define PTE_U 0x04u
#define PTE_A 0x20u
#define PTE_D 0x40u
#define PTE_PS 0x80u

/* What entry.S pushes for every trap, lowest address first (the CPU pushes esp/ss too:
 * the guest always runs at ring 1 or 3, so every trap from it changes privilege level). */
struct frame {
    u32 gs, fs, es, ds;
    u32 edi, esi, ebp, esp_dummy, ebx, edx, ecx, eax;
    u32 vec, err;
    u32 eip, cs, eflags;
    u32 esp, ss;
};

/* The virtual CPU: what the guest believes the privileged state is. */
struct vcpu {
    u32 cr0, cr2, cr3, cr4;
    u32 gdt_base, gdt_limit, idt_base, idt_limit;
    u16 ldtr, tr;
    u32 tss_base;
    int vif;                 /* virtual EFLAGS.IF while the guest kernel runs */
    u32 viopl;               /* virtual EFLAGS.IOPL */
    u32 pending;             /* IRQs 0-15 taken from the real PIC, not yet reflected */
    u32 visr;                /* the guest's in-service IRQs (the real PIC's are EOIed at once) */
    u8 pic_read_isr[2];      /* OCW3: the guest asked to read ISR (not IRR) */
    u8 pic_base[2];          /* vector bases the guest programmed (ICW2) */
    u8 pic_icw[2];           /* ICW state machine: which byte the data port expects */
    u8 pic_icw4[2];
    u32 msr_sysenter[3];
};
extern struct vcpu vcpu;

static inline int guest_cpl(const struct frame *f) { return (f->cs & 3) == 3 ? 3 : 0; }

static inline void outb(u16 p, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(p)); }
static inline u8 inb(u16 p) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline void outw(u16 p, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(p)); }
static inline u16 inw(u16 p) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline void outl(u16 p, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(p)); }
static inline u32 inl(u16 p) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }
static inline void invlpg(u32 va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

/* ledger.c: the trap ledger */
enum cause {
    C_CLI, C_STI, C_HLT, C_IRET, C_POPF, C_PUSHF, C_IN, C_OUT, C_INS, C_OUTS,
    C_LGDT, C_LIDT, C_LLDT, C_LTR, C_MOVCR_R, C_MOVCR_W, C_INVLPG, C_RDMSR, C_WRMSR,
    C_MOVSS, C_CLTS, C_WBINVD,
    C_SGDT, C_SIDT, C_SLDT, C_STR, C_SMSW, C_LAR, C_LSL, C_VERR, C_VERW,
    C_PUSH_SREG, C_POP_SREG, C_MOV_FROM_SREG, C_MOV_TO_SREG, C_FAR, C_OTHER_GP,
    C_PF_HIDDEN, C_PF_PTWRITE, C_PF_GUEST, C_EXC_REFLECT, C_INT_REFLECT, C_IRQ_REFLECT,
    C_IRQ_TAKEN, C_SHADOW_FLUSH, C_HYPERCALL, C_NCAUSES
};
extern u32 ledger[C_NCAUSES];
extern u64 tsc_monitor, tsc_idle, tsc_start;
extern u32 traps_total;
/* Traplab's monitor ledger port (emulator/src/trace/monitor.rs): every count below is also
 * written there, so that the host (the GUI's exit ledger) sees the same ledger, live. On
 * other machines the port is empty and the writes are lost. Counter ids: the causes
 * 0..C_NCAUSES-1, hypercall n at LID_HYPERCALL + n, then the totals. */
#define LEDGER_PORT     0xEB
#define LEDGER_COUNT    0x01000000u
#define LID_HYPERCALL   64
#define LID_TRAPS       128
#define LID_TSC_MONITOR 129
#define LID_TSC_GUEST   130
#define LID_TSC_HALTED  131
static inline void ledger_count(u32 id) { outl(LEDGER_PORT, LEDGER_COUNT | id); }
static inline void tally(enum cause c) { ledger[c]++; ledger_count(c); }
void ledger_declare(void);               /* reset the host's copy, name every counter */
void ledger_emit(void);                  /* send the totals (traps, TSC split) */
void ledger_print(void);
void mprintf(const char *fmt, ...);       /* monitor messages on COM1 */
void serial_init(void);
void stop_guest(const char *why) __attribute__((noreturn));

/* guest.c: guest memory through its page tables */
int  gva_to_gpa(u32 va, u32 *pa);          /* 0 = unmapped or outside guest memory */
int  guest_read(u32 va, void *buf, u32 n);
int  guest_write(u32 va, const void *buf, u32 n);
u32  guest_read32(u32 va);                 /* stops the guest if unreachable */
void guest_push(struct frame *f, u32 *sp, u32 v);
int  guest_desc(u16 sel, u64 *d);          /* reads a descriptor of the guest's GDT */
void guest_tlb_flush(void);

/* vcpu.c: interrupts and exceptions reflected through the guest's IDT */
enum kind { K_EXC, K_IRQ, K_SOFT };
void reflect(struct frame *f, u32 vec, int has_err, u32 err, enum kind k);
void deliver_pending(struct frame *f);
u32  irq_deliverable(void);
void irq_taken(u32 irq);
void shadow_gdt_load(struct frame *f);
u32  return_fault(u32 cs, u32 eip, u32 ss, u32 *err);   /* 0: the monitor's IRET will work */
u32  data_fault(u32 sel, u32 *err);                     /* 0: entry.S can load it in DS-GS */
int  guest_fault_on_return(struct frame *f, u32 cs, u32 eip, u32 ss);
u32  virtual_eflags(const struct frame *f);
void set_virtual_eflags(struct frame *f, u32 v, int from_iret);
void wait_for_irq(void);

/* emulate.c: privileged instructions decoded after a #GP; sensitive.c: the others */
void emulate_gp(struct frame *f);
int  emulate_sensitive(struct frame *f, const u8 *b, int i, int opsize16);
int  seg_check(u32 sel, int kind, u32 cpl, int opsize16, u32 *v);
u32  guest_visible_sel(struct frame *f, int s);
void vcpu_write_cr(struct frame *f, int cr, u32 v);
u32  vcpu_read_cr(int cr);
int  vcpu_ltr(u16 sel);

/* hypercall.c: the paravirtual interface (hypercall.h) */
void hypercall(struct frame *f);
extern u32 hc_count[];

/* io.c: port I/O on the guest's behalf */
u32  io_in(u16 port, int size);
void io_out(u16 port, int size, u32 v);
void pic_real_init(void);

/* shadow.c: shadow page tables */
extern int stepping;
void shadow_init(void);
void shadow_flush(void);
int  shadow_page_fault(struct frame *f, u32 cr2);   /* 1 = hidden fault, handled */
void shadow_step_done(struct frame *f);
void shadow_invlpg(u32 va);
int  shadow_pte_write(u32 va, u32 v);

/* fmt.c (shared with minios) */
void vformat(void (*put)(char, void *), void *ctx, const char *fmt, va_list ap);
void *memcpy(void *d, const void *s, unsigned int n);
void *memset(void *d, int c, unsigned int n);
unsigned int strlen(const char *s);
int strncmp(const char *a, const char *b, unsigned int n);
#endif
