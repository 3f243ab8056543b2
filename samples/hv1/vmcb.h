/*
 * vmcb.h - the parts of the VMCB hv1 uses (AMD64 APM vol. 2, appendix B
 * "Layout of VMCB", tables B-1 control area and B-2 state save area) and the
 * #VMEXIT codes it handles (appendix C "SVM Intercept Exit Codes").
 */
#ifndef HV1_VMCB_H
#define HV1_VMCB_H

/* control area */
#define VMCB_INTERCEPT3  0x00C  /* INTR ... SHUTDOWN */
#define VMCB_INTERCEPT4  0x010  /* VMRUN, VMMCALL ... */
#define VMCB_IOPM_PA     0x040  /* I/O permission map: 1 bit per port, 1 = intercept */
#define VMCB_MSRPM_PA    0x048  /* MSR permission map: 2 bits per MSR */
#define VMCB_ASID        0x058
#define VMCB_TLB_CTL     0x05C  /* 1 = flush everything at VMRUN, 3 = this ASID */
#define VMCB_VINTR       0x060  /* V_IRQ bit 8, V_INTR_PRIO 19:16, V_IGN_TPR 20, V_INTR_MASKING 24 */
#define VMCB_INT_SHADOW  0x068  /* bit 0: the guest is in an STI/MOV SS shadow */
#define VMCB_EXITCODE    0x070
#define VMCB_EXITINFO1   0x078
#define VMCB_EXITINFO2   0x080
#define VMCB_EXITINTINFO 0x088  /* an event whose delivery the #VMEXIT interrupted */
#define VMCB_NP_ENABLE   0x090
#define VMCB_EVENTINJ    0x0A8  /* the event VMRUN delivers into the guest */
#define VMCB_N_CR3       0x0B0  /* nested page directory (host-physical) */

/* state save area */
#define VMCB_ES     0x400       /* segments: selector u16, attrib u16, limit u32, base u64 */
#define VMCB_CS     0x410
#define VMCB_SS     0x420
#define VMCB_DS     0x430
#define VMCB_FS     0x440
#define VMCB_GS     0x450
#define VMCB_GDTR   0x460
#define VMCB_LDTR   0x470
#define VMCB_IDTR   0x480
#define VMCB_TR     0x490
#define VMCB_CPL    0x4CB
#define VMCB_EFER   0x4D0
#define VMCB_CR4    0x548
#define VMCB_CR3    0x550
#define VMCB_CR0    0x558
#define VMCB_DR7    0x560
#define VMCB_DR6    0x568
#define VMCB_RFLAGS 0x570
#define VMCB_RIP    0x578
#define VMCB_RSP    0x5D8
#define VMCB_RAX    0x5F8
#define VMCB_G_PAT  0x668

/* intercept word 3 */
#define I3_INTR     (1u << 0)
#define I3_VINTR    (1u << 4)
#define I3_CPUID    (1u << 18)
#define I3_HLT      (1u << 24)
#define I3_INVLPGA  (1u << 26)
#define I3_IOIO     (1u << 27)
#define I3_MSR      (1u << 28)
#define I3_SHUTDOWN (1u << 31)
/* intercept word 4 */
#define I4_VMRUN    (1u << 0)
#define I4_VMMCALL  (1u << 1)
#define I4_VMLOAD   (1u << 2)
#define I4_VMSAVE   (1u << 3)
#define I4_STGI     (1u << 4)
#define I4_CLGI     (1u << 5)
#define I4_SKINIT   (1u << 6)

/* #VMEXIT codes */
#define EXIT_INTR     0x60
#define EXIT_VINTR    0x64
#define EXIT_CPUID    0x72
#define EXIT_HLT      0x78
#define EXIT_INVLPGA  0x7A
#define EXIT_IOIO     0x7B
#define EXIT_MSR      0x7C
#define EXIT_SHUTDOWN 0x7F
#define EXIT_VMRUN    0x80
#define EXIT_VMMCALL  0x81
#define EXIT_VMLOAD   0x82
#define EXIT_VMSAVE   0x83
#define EXIT_STGI     0x84
#define EXIT_CLGI     0x85
#define EXIT_SKINIT   0x86
#define EXIT_NPF      0x400

/* EVENTINJ / EXITINTINFO (APM 15.20): vector 7:0, type 10:8, EV 11, V 31 */
#define EV_VALID (1u << 31)
#define EV_INTR  (0u << 8)
#define EV_EXC   (3u << 8)
#endif
