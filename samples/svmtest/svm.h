/*
 * svm.h - the SVM host's view of the architecture: VMCB layout, intercept
 * bits and #VMEXIT codes, as AMD64 APM vol. 2 appendix B ("Layout of VMCB")
 * and appendix C ("SVM Intercept Exit Codes") list them, plus the helpers
 * that every scenario file uses.
 */
#ifndef SVM_H
#define SVM_H
#include "../common/lib.h"

/* ---- VMCB control area (APM vol. 2, table B-1) ------------------------- */
#define VMCB_CR_RD       0x000  /* u16: bit n = intercept reads of CRn  */
#define VMCB_CR_WR       0x002  /* u16: bit n = intercept writes of CRn */
#define VMCB_DR_RD       0x004  /* u16: bit n = intercept reads of DRn  */
#define VMCB_DR_WR       0x006  /* u16: bit n = intercept writes of DRn */
#define VMCB_EXC         0x008  /* u32: bit n = intercept exception vector n */
#define VMCB_INTERCEPT3  0x00C  /* u32: INTR, NMI, ..., SHUTDOWN */
#define VMCB_INTERCEPT4  0x010  /* u32: VMRUN, VMMCALL, ... */
#define VMCB_IOPM_PA     0x040
#define VMCB_MSRPM_PA    0x048
#define VMCB_TSC_OFFSET  0x050
#define VMCB_ASID        0x058
#define VMCB_TLB_CTL     0x05C
#define VMCB_VINTR       0x060  /* V_TPR 7:0, V_IRQ 8, V_INTR_PRIO 19:16, V_IGN_TPR 20, V_INTR_MASKING 24 */
#define VMCB_VINTR_VEC   0x064
#define VMCB_EXITCODE    0x070
#define VMCB_EXITINFO1   0x078
#define VMCB_EXITINFO2   0x080
#define VMCB_EXITINTINFO 0x088
#define VMCB_NP_ENABLE   0x090
#define VMCB_EVENTINJ    0x0A8
#define VMCB_N_CR3       0x0B0
#define VMCB_NEXT_RIP    0x0C8

/* ---- VMCB state save area (APM vol. 2, table B-2) ---------------------- */
#define VMCB_ES    0x400  /* each segment: selector u16, attrib u16, limit u32, base u64 */
#define VMCB_CS    0x410
#define VMCB_SS    0x420
#define VMCB_DS    0x430
#define VMCB_FS    0x440
#define VMCB_GS    0x450
#define VMCB_GDTR  0x460
#define VMCB_LDTR  0x470
#define VMCB_IDTR  0x480
#define VMCB_TR    0x490
#define VMCB_CPL   0x4CB
#define VMCB_EFER  0x4D0
#define VMCB_CR4   0x548
#define VMCB_CR3   0x550
#define VMCB_CR0   0x558
#define VMCB_DR7   0x560
#define VMCB_DR6   0x568
#define VMCB_RFLAGS 0x570
#define VMCB_RIP   0x578
#define VMCB_RSP   0x5D8
#define VMCB_RAX   0x5F8
#define VMCB_SYSENTER_CS 0x628
#define VMCB_CR2   0x640
#define VMCB_G_PAT 0x668

/* intercept word 3 (offset 0x00C) bits */
#define I3_INTR     (1u << 0)
#define I3_VINTR    (1u << 4)
#define I3_CR0_SEL  (1u << 5)
#define I3_IDTR_RD  (1u << 6)
#define I3_GDTR_RD  (1u << 7)
#define I3_LDTR_RD  (1u << 8)
#define I3_TR_RD    (1u << 9)
#define I3_IDTR_WR  (1u << 10)
#define I3_GDTR_WR  (1u << 11)
#define I3_LDTR_WR  (1u << 12)
#define I3_TR_WR    (1u << 13)
#define I3_RDTSC    (1u << 14)
#define I3_RDPMC    (1u << 15)
#define I3_PUSHF    (1u << 16)
#define I3_POPF     (1u << 17)
#define I3_CPUID    (1u << 18)
#define I3_IRET     (1u << 20)
#define I3_INTN     (1u << 21)
#define I3_INVD     (1u << 22)
#define I3_PAUSE    (1u << 23)
#define I3_HLT      (1u << 24)
#define I3_INVLPG   (1u << 25)
#define I3_INVLPGA  (1u << 26)
#define I3_IOIO     (1u << 27)
#define I3_MSR      (1u << 28)
#define I3_SHUTDOWN (1u << 31)
/* intercept word 4 (offset 0x010) bits */
#define I4_VMRUN    (1u << 0)
#define I4_VMMCALL  (1u << 1)
#define I4_VMLOAD   (1u << 2)
#define I4_VMSAVE   (1u << 3)
#define I4_STGI     (1u << 4)
#define I4_CLGI     (1u << 5)
#define I4_SKINIT   (1u << 6)
#define I4_ICEBP    (1u << 8)
#define I4_WBINVD   (1u << 9)

/* #VMEXIT codes used by the host loop (APM vol. 2, appendix C) */
#define EXIT_EXCP_PF 0x4E
#define EXIT_INTR    0x60
#define EXIT_VINTR   0x64
#define EXIT_HLT     0x78
#define EXIT_SHUTDOWN 0x7F
#define EXIT_VMMCALL 0x81
#define EXIT_NPF     0x400

/* EVENTINJ / EXITINTINFO (APM 15.20): vector 7:0, type 10:8, EV 11, V 31, error 63:32 */
#define EV_VALID   (1u << 31)
#define EV_ERRV    (1u << 11)
#define EV_INTR    (0u << 8)
#define EV_NMI     (2u << 8)
#define EV_EXC     (3u << 8)
#define EV_SOFT    (4u << 8)

/* page-aligned tables and pages: linked first in .bss (linker.ld), so their
 * addresses (which the output shows) do not move when small variables change */
#define PAGE __attribute__((aligned(4096), section(".bss.pages")))

/* ---- VMCB access --------------------------------------------------------- */
extern u8 vmcb[4096];       /* the VMCB every scenario uses (4 KiB aligned) */
static inline void w8(u32 off, u8 v) { vmcb[off] = v; }
static inline void w16(u32 off, u16 v) { *(volatile u16 *)(vmcb + off) = v; }
static inline void w32(u32 off, u32 v) { *(volatile u32 *)(vmcb + off) = v; }
static inline void w64(u32 off, u64 v) { *(volatile u64 *)(vmcb + off) = v; }
static inline u32 r32(u32 off) { return *(volatile u32 *)(vmcb + off); }
static inline u64 r64(u32 off) { return *(volatile u64 *)(vmcb + off); }

/* Guest general registers that VMRUN does not switch (EAX and ESP live in the VMCB). */
struct gregs { u32 ebx, ecx, edx, esi, edi, ebp; };
extern struct gregs g;

/* ---- host.S -------------------------------------------------------------- */
void svm_run(u32 vmcb_pa, struct gregs *regs);   /* CLGI; VMRUN; STGI */
void svm_run_sti(u32 vmcb_pa, struct gregs *regs); /* the same with host EFLAGS.IF = 1 */
extern volatile u32 host_irq0_count;
void host_vmsave(u32 pa);
void host_vmload(u32 pa);
void host_clgi_stgi(void);
u32 host_read_fs0(void);
void host_idt_init(void);
u32 host_probe(u32 insn, u32 eax);   /* 0 VMRUN, 1 VMLOAD, 2 VMSAVE, 3 CLGI, 4 INVLPGA, 5 SKINIT:
                                        vector | error code << 8 of the exception, or ~0 */
void host_cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d);
static inline u64 rdmsr(u32 msr) { u32 lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return ((u64)hi << 32) | lo; }
static inline void wrmsr(u32 msr, u64 v) { __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32))); }
static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }

/* ---- vmcb.c -------------------------------------------------------------- */
extern int nrips;            /* CPUID 0x8000000A EDX bit 3: NextRIP is saved */
extern u32 total_exits, failures;
void put(const char *s);
void puthex(u64 v);          /* "0x" + minimal hex digits */
void vmcb_guest(u32 entry);  /* fresh VMCB: flat 32-bit ring-0 guest at entry, HLT+VMRUN intercepted */
int run_guest(const char *name, int max_exits);  /* runs, prints each exit, skips instructions; returns the last exit code */
int run_once(const char *name);                  /* one VMRUN, prints the exit; returns its code */
void print_exit(const char *name);
void skip_insn(void);        /* guest RIP = the address after the intercepted instruction */
void check(const char *what, int ok);

/* ---- scenario files ------------------------------------------------------ */
void scen_basic(void);       /* basic.c: instruction intercepts */
void scen_events(void);      /* events.c: event injection, virtual interrupts */
void scen_control(void);     /* control.c: TSC, ASID/TLB, VMEXIT_INVALID, VMLOAD/VMSAVE */
void scen_npt(void);         /* npt.c: PAE host, nested paging */

/* guest code (guests*.S) */
#define GUEST(n) extern char n[]
#endif
