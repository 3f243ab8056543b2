/*
 * vm.c - the virtualization driver: minios as the host of a hosted (type-2)
 * hypervisor, the way Linux + KVM host QEMU. The system calls of vm.h mirror
 * KVM's ioctls; the hardware is AMD SVM, AMD64 APM vol. 2, chapter 15:
 *   15.4  enabling SVM (EFER.SVME, VM_CR.SVMDIS, VM_HSAVE_PA)
 *   15.5  VMRUN and #VMEXIT (vmrun.S), the VMCB (appendix B)
 *   15.9-15.13  intercepts: IOIO with the I/O permission map, MSR with the
 *         MSR permission map, CPUID, HLT, SHUTDOWN, INTR, the SVM instructions
 *   15.20 event injection (EVENTINJ), 15.21 V_IRQ virtual interrupts
 *   15.25 nested paging: guest-physical -> host-physical through N_CR3, in PAE
 *         format (the host runs PAE paging around VMRUN: see vmrun.S)
 *
 * Owns: the VMs (a VMCB, a nested page directory, the ledger), and the loop
 * of vm_run(): enter the guest, handle what the kernel can (a host interrupt,
 * a guest MSR access or SVM instruction), hand everything else to the calling
 * process (user/vmm.c), which emulates the devices as QEMU does for KVM.
 * Guest memory is the caller's own pages: the nested page table points at the
 * frames its page table maps, so the VM dies with its process (vm_release).
 * Must not: trust anything from user space (every argument is checked, errors
 * are -errno, never a panic), or let the guest reach a host frame that is not
 * its memory or a host port/MSR (every port and MSR is intercepted).
 */
#include "kernel.h"

/* VMCB offsets (APM appendix B): control area, then the state save area at 0x400. */
#define V_ICPT_MISC1 0x00c
#define V_ICPT_MISC2 0x010
#define V_IOPM       0x040
#define V_MSRPM      0x048
#define V_ASID       0x058
#define V_TLB_CTL    0x05c
#define V_VINTR      0x060
#define V_EXITCODE   0x070
#define V_EXITINFO1  0x078
#define V_EXITINFO2  0x080
#define V_NP_ENABLE  0x090
#define V_EVENTINJ   0x0a8
#define V_NCR3       0x0b0
#define V_ES   0x400
#define V_CS   0x410
#define V_SS   0x420
#define V_DS   0x430
#define V_FS   0x440
#define V_GS   0x450
#define V_GDTR 0x460
#define V_LDTR 0x470
#define V_IDTR 0x480
#define V_TR   0x490
#define V_EFER 0x4d0
#define V_CR4  0x548
#define V_CR3  0x550
#define V_CR0  0x558
#define V_DR7  0x560
#define V_DR6  0x568
#define V_RFLAGS 0x570
#define V_RIP  0x578
#define V_RSP  0x5d8
#define V_RAX  0x5f8
#define V_CR2  0x640
#define V_GPAT 0x668

/* Intercept bits (APM table B-1) and exit codes (appendix C). */
#define I_INTR (1u << 0)
#define I_NMI (1u << 1)
#define I_CPUID (1u << 18)
#define I_HLT (1u << 24)
#define I_INVLPGA (1u << 26)
#define I_IOIO (1u << 27)
#define I_MSR (1u << 28)
#define I_SHUTDOWN (1u << 31)
#define I2_SVM_INSNS 0x7f              /* VMRUN VMMCALL VMLOAD VMSAVE STGI CLGI SKINIT */
#define X_INTR 0x60
#define X_NMI 0x61
#define X_CPUID 0x72
#define X_HLT 0x78
#define X_INVLPGA 0x7a
#define X_IOIO 0x7b
#define X_MSR 0x7c
#define X_SHUTDOWN 0x7f
#define X_VMRUN 0x80
#define X_VMMCALL 0x81
#define X_SKINIT 0x86
#define X_NPF 0x400
#define EFER_SVME (1u << 12)
#define EVENT_UD 0x80000306u           /* EVENTINJ: valid, exception, #UD */
#define EVENT_GP0 0x80000b0du          /* valid, exception, error code (0), #GP */

struct vm {
    int used, owner;                   /* owner: the global pid of the process */
    u32 vmcb, npdpt;                   /* frames: the VMCB, the nested PAE PDPT */
    u32 gprs[7];                       /* EBX..EBP between runs (vmrun.S) */
    int flush;                         /* nested tables changed: flush this ASID's TLB */
    int in_size;                       /* an IN is waiting for its value from user space */
    int irq;                           /* vector raised through V_IRQ, -1 none */
    int last;                          /* class of the last exit, -1 before the first */
    unsigned long long t_exit, i_exit; /* TSC and instructions at that exit */
    unsigned long long t_out, i_out;   /* ... when its process was switched out, t_out 0 = running */
    struct vm_stats st;
};
static struct vm vms[NVM];
static int vms_used;                   /* VMs in use: 0 makes the ledger's clocks free */

/* Shared by every VM: all ones = every port and every MSR is intercepted. */
static u8 iopm[3 * PAGE_SIZE] __attribute__((aligned(4096)));
static u8 msrpm[2 * PAGE_SIZE] __attribute__((aligned(4096)));
static u8 hsave[PAGE_SIZE] __attribute__((aligned(4096)));      /* VM_HSAVE_PA */
static u8 host_vmsave[PAGE_SIZE] __attribute__((aligned(4096)));
static int svm_state;                  /* 0 unknown, 1 on, -1 not supported */
/* The host's PAE tables while a guest runs: the kernel's 0-4 MiB, two 2 MiB pages. */
static unsigned long long host_pdpt[4] __attribute__((aligned(32)));
static unsigned long long host_pd[512] __attribute__((aligned(4096)));

void vm_enter(u32 vmcb, u32 host_save, u32 *gprs, u32 pae_pdpt);   /* vmrun.S */

static inline u32 *f32(u32 vmcb, u32 off) { return (u32 *)(vmcb + off); }
static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}
static inline unsigned long long rdmsr(u32 msr)
{
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((unsigned long long)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, unsigned long long v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}
static inline unsigned long long rdtsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((unsigned long long)hi << 32) | lo;
}

/* Instructions retired since power-on: IRPerfCount (see vm.h), 0 without it. */
#define MSR_IRPERF 0xc00000e9
int vm_irperf;
static inline unsigned long long insns(void) { return vm_irperf ? rdmsr(MSR_IRPERF) : 0; }
/* vmrun.S's clocks, read next to VMRUN and #VMEXIT, and the instructions of vmrun.S
 * between those reads (counted in its listing: host instructions, to subtract). */
unsigned long long vm_insns_in, vm_insns_out, vm_tsc_in, vm_tsc_out;
#define VM_ENTER_HOST_INSNS 28         /* rdmsr ... vmrun, then ... mov $MSR, %ecx */
#define VM_ENTER_HOST_TSC   19         /* rdtsc ... vmrun, then ... the last GPR store */

/* 15.4: SVM is there (CPUID 8000_0001 ECX bit 2), not disabled by firmware
 * (VM_CR.SVMDIS), and has nested paging (CPUID 8000_000A EDX bit 0). Then
 * EFER.SVME = 1 and the host save area. Once. */
static int svm_enable(void)
{
    if (svm_state) return svm_state > 0;
    u32 a, b, c, d;
    svm_state = -1;
    cpuid(0x80000000, &a, &b, &c, &d);
    if (a < 0x8000000a) return 0;
    u32 max = a;
    cpuid(0x80000008, &a, &b, &c, &d);
    vm_irperf = max >= 0x80000008 && (b & 2);       /* IRPerfCount (vm.h) */
    cpuid(0x80000001, &a, &b, &c, &d);
    if (!(c & 4)) return 0;
    cpuid(0x8000000a, &a, &b, &c, &d);
    if (!(d & 1) || b < NVM + 1) return 0;          /* nested paging, enough ASIDs */
    if (rdmsr(0xc0010114) & 0x10) return 0;         /* VM_CR.SVMDIS */
    wrmsr(0xc0000080, rdmsr(0xc0000080) | EFER_SVME);
    wrmsr(0xc0010117, (u32)hsave);                  /* VM_HSAVE_PA */
    memset(iopm, 0xff, sizeof(iopm));
    memset(msrpm, 0xff, sizeof(msrpm));
    host_pd[0] = 0x000000 | 0x83;      /* P, W, PS: 2 MiB, supervisor */
    host_pd[1] = 0x200000 | 0x83;
    host_pdpt[0] = (u32)host_pd | 1;   /* a PAE PDPTE has only P (bits 1-2 reserved) */
    svm_state = 1;
    return 1;
}

/* A VMCB segment: selector, attributes (descriptor bits 40-47 and 52-55), limit, base. */
static void seg(u32 vmcb, u32 off, u16 sel, u16 attr, u32 limit)
{
    *(u16 *)(vmcb + off) = sel;
    *(u16 *)(vmcb + off + 2) = attr;
    *f32(vmcb, off + 4) = limit;
    *f32(vmcb, off + 8) = 0;           /* base */
}

static int vm_create(void)
{
    if (!svm_enable()) return -EOPNOTSUPP;
    struct vm *v = 0;
    for (int i = 0; i < NVM; i++)
        if (!vms[i].used) { v = &vms[i]; break; }
    if (!v) return -EAGAIN;
    u32 vmcb = frame_alloc(), npdpt = frame_alloc();
    if (!vmcb || !npdpt) {
        if (vmcb) frame_free(vmcb);
        if (npdpt) frame_free(npdpt);
        return -ENOMEM;
    }
    memset(v, 0, sizeof(*v));
    v->used = 1;
    vms_used++;
    v->owner = current->pid;
    v->vmcb = vmcb;
    v->npdpt = npdpt;
    v->irq = v->last = -1;
    v->flush = 1;
    /* Controls: what exits (15.9-15.13), nested paging, the ASID. */
    *f32(vmcb, V_ICPT_MISC1) = I_INTR | I_NMI | I_CPUID | I_HLT | I_INVLPGA | I_IOIO | I_MSR | I_SHUTDOWN;
    *f32(vmcb, V_ICPT_MISC2) = I2_SVM_INSNS;
    *f32(vmcb, V_IOPM) = (u32)iopm;
    *f32(vmcb, V_MSRPM) = (u32)msrpm;
    *f32(vmcb, V_ASID) = (u32)(v - vms) + 1;
    *f32(vmcb, V_NP_ENABLE) = 1;
    *f32(vmcb, V_NCR3) = npdpt;
    /* The state a multiboot loader leaves (multiboot spec 3.2). */
    seg(vmcb, V_CS, 0x08, 0xc9b, 0xffffffff);
    seg(vmcb, V_DS, 0x10, 0xc93, 0xffffffff);
    seg(vmcb, V_ES, 0x10, 0xc93, 0xffffffff);
    seg(vmcb, V_SS, 0x10, 0xc93, 0xffffffff);
    seg(vmcb, V_FS, 0x10, 0xc93, 0xffffffff);
    seg(vmcb, V_GS, 0x10, 0xc93, 0xffffffff);
    seg(vmcb, V_TR, 0, 0x08b, 0xffff);  /* a busy 32-bit TSS: VMLOAD needs something */
    seg(vmcb, V_LDTR, 0, 0x082, 0);
    seg(vmcb, V_GDTR, 0, 0, 0);
    seg(vmcb, V_IDTR, 0, 0, 0);
    *f32(vmcb, V_EFER) = EFER_SVME;    /* a guest's EFER.SVME must be 1 (15.5.1) */
    *f32(vmcb, V_CR0) = 0x11;          /* PE, ET */
    *f32(vmcb, V_RFLAGS) = 2;
    *f32(vmcb, V_DR6) = 0xffff0ff0;
    *f32(vmcb, V_DR7) = 0x400;
    *f32(vmcb, V_GPAT) = 0x00070406;
    *f32(vmcb, V_GPAT + 4) = 0x00070406;
    return (int)(v - vms);
}

static void vm_free(struct vm *v)
{
    unsigned long long *pdpt = (unsigned long long *)v->npdpt;
    for (int i = 0; i < 4; i++) {
        if (!(pdpt[i] & PTE_P)) continue;
        unsigned long long *pd = (unsigned long long *)(u32)(pdpt[i] & ~0xfffull);
        for (int j = 0; j < 512; j++)
            if (pd[j] & PTE_P) frame_free((u32)pd[j] & ~0xfff);
        frame_free((u32)pd);
    }
    frame_free(v->npdpt);
    frame_free(v->vmcb);
    v->used = 0;
    vms_used--;
}

/* schedule(), before switching: the time a VM's process spends switched out
 * (other processes, the idle loop) goes to its ledger's `others`. */
void vm_switch(struct proc *prev, struct proc *next)
{
    if (!vms_used) return;
    unsigned long long t = rdtsc(), n = insns();
    for (int i = 0; i < NVM; i++) {
        struct vm *v = &vms[i];
        if (!v->used) continue;
        if (v->owner == prev->pid) { v->t_out = t; v->i_out = n; }
        if (v->owner == next->pid && v->t_out) {
            v->st.others += t - v->t_out;
            v->st.others_insns += n - v->i_out;
            v->t_out = 0;
        }
    }
}

/* User time of a VM's process (vmm), read by isr.S on every return to user mode
 * (vm_to_user) and every kernel entry from it (vm_from_user). The user mode
 * between them is the current process's: whoever returned to user mode last is
 * the process that enters now. With this, preemption splits correctly: a timer
 * tick in user mode closes the user interval before schedule() opens `others`.
 * One clock, the TSC: in user mode nothing halts and nothing is charged, so its
 * ticks are instructions. The kernel instructions between the two reads (isr.S
 * from the `iret` back to the `int`'s entry, this file's code up to rdtsc) are a
 * constant, VM_USER_KERNEL_INSNS, subtracted per interval: counted in the
 * listings (objdump -d build/minios/{isr,vm}.o) and checked with traplab --stats
 * (samples/README.md, hv2). */
#define VM_USER_KERNEL_INSNS 35         /* 11 from vm_to_user's rdtsc to iret, 24 from the stub to vm_from_user's rdtsc */
static unsigned long long t_to_user;

void vm_to_user(void)
{
    if (vms_used) t_to_user = rdtsc();
}

void vm_from_user(void)
{
    if (!vms_used) return;
    unsigned long long t = rdtsc();
    for (int i = 0; i < NVM; i++) {
        struct vm *v = &vms[i];
        if (!v->used || v->owner != current->pid || !t_to_user) continue;
        unsigned long long d = t - t_to_user;
        d = d > VM_USER_KERNEL_INSNS ? d - VM_USER_KERNEL_INSNS : 0;
        v->st.user += d;
        v->st.user_insns += d;
        v->st.entries++;
    }
}

/* proc_exit(): the VMs of a dying process go with it (their memory is its pages). */
void vm_release(struct proc *p)
{
    for (int i = 0; i < NVM; i++)
        if (vms[i].used && vms[i].owner == p->pid) vm_free(&vms[i]);
}

/* The host-physical frame behind user address va of the caller, 0 if none. */
static u32 user_frame(u32 va)
{
    if (!user_ok(current->pd, va, 1)) return 0;
    u32 pde = ((u32 *)current->pd)[va >> 22];
    return ((u32 *)(pde & ~0xfff))[(va >> 12) & 0x3ff] & ~0xfff;
}

/* 15.25: the nested entry for gpa (PAE: PDPT -> PD -> PT, 64-bit entries),
 * with the tables on the way made if `make`; 0 if absent or out of memory. */
static unsigned long long *npt_entry(struct vm *v, u32 gpa, int make)
{
    unsigned long long *e = (unsigned long long *)v->npdpt + (gpa >> 30);
    u32 index[2] = { (gpa >> 21) & 511, (gpa >> 12) & 511 };
    for (int level = 0; level < 2; level++) {
        if (!(*e & PTE_P)) {
            u32 f = make ? frame_alloc() : 0;
            if (!f) return 0;
            *e = f | (level ? 7 : 1);  /* a PDPTE has only P; a PDE is user, writable */
        }
        e = (unsigned long long *)(u32)(*e & ~0xfffull) + index[level];
    }
    return e;
}

/* Nested entries are user pages (nested walks are user accesses, 15.25.5). */
static int vm_memory(struct vm *v, const struct vm_memory *m)
{
    if ((m->gpa | m->size | m->uva) & 0xfff) return -EINVAL;
    if (m->gpa + m->size < m->gpa) return -EINVAL;
    if (m->size && !user_ok(current->pd, m->uva, m->size)) return -EFAULT;
    if (!m->size) {                     /* size 0: unmap the page at gpa */
        unsigned long long *e = npt_entry(v, m->gpa, 0);
        if (e) *e = 0;
    }
    for (u32 off = 0; off < m->size; off += PAGE_SIZE) {
        unsigned long long *e = npt_entry(v, m->gpa + off, 1);
        if (!e) return -ENOMEM;
        *e = user_frame(m->uva + off) | PTE_P | PTE_W | PTE_U;
    }
    v->flush = 1;
    return 0;
}

static void get_regs(struct vm *v, struct vm_regs *r)
{
    u32 vmcb = v->vmcb;
    r->eax = *f32(vmcb, V_RAX);
    r->ebx = v->gprs[1]; r->ecx = v->gprs[2]; r->edx = v->gprs[3];
    r->esi = v->gprs[4]; r->edi = v->gprs[5]; r->ebp = v->gprs[6];
    r->esp = *f32(vmcb, V_RSP);
    r->eip = *f32(vmcb, V_RIP);
    r->eflags = *f32(vmcb, V_RFLAGS);
    r->cr0 = *f32(vmcb, V_CR0);
    r->cr2 = *f32(vmcb, V_CR2);
    r->cr3 = *f32(vmcb, V_CR3);
    r->cr4 = *f32(vmcb, V_CR4);
}

/* Any value is accepted: a state VMRUN refuses comes back as VM_EXIT_INVALID. */
static void set_regs(struct vm *v, const struct vm_regs *r)
{
    u32 vmcb = v->vmcb;
    *f32(vmcb, V_RAX) = r->eax;
    v->gprs[1] = r->ebx; v->gprs[2] = r->ecx; v->gprs[3] = r->edx;
    v->gprs[4] = r->esi; v->gprs[5] = r->edi; v->gprs[6] = r->ebp;
    *f32(vmcb, V_RSP) = r->esp;
    *f32(vmcb, V_RIP) = r->eip;
    *f32(vmcb, V_RFLAGS) = r->eflags;
    *f32(vmcb, V_CR0) = r->cr0;
    *f32(vmcb, V_CR2) = r->cr2;
    *f32(vmcb, V_CR3) = r->cr3;
    *f32(vmcb, V_CR4) = r->cr4;
}

static int exit_class(u32 code, u32 hi)
{
    if (hi == 0xffffffff && code == 0xffffffff) return 10;     /* VMEXIT_INVALID */
    if (hi) return 0;
    switch (code) {
    case X_INTR: return 1;
    case X_CPUID: return 2;
    case X_HLT: return 3;
    case X_IOIO: return 4;
    case X_MSR: return 5;
    case X_SHUTDOWN: return 6;
    case X_VMMCALL: return 7;
    case X_NPF: return 9;
    default: return (code >= X_VMRUN && code <= X_SKINIT) || code == X_INVLPGA ? 8 : 0;
    }
}

/* Sleeps the caller for one host tick (the guest is halted: other processes run). */
static void sleep_tick(void)
{
    current->wake_tick = ticks + 1;
    current->state = PROC_BLOCKED;
    current->chan = CHAN_SLEEP;
    schedule();
}

/* KVM_RUN: loops in the kernel until an exit user space must see. */
static int vm_run(struct vm *v, struct vm_run *ru)
{
    u32 vmcb = v->vmcb;
    unsigned long long t_in = rdtsc(), others = v->st.others, in_guest = 0;
    unsigned long long i_in = insns(), others_i = v->st.others_insns, in_guest_i = 0;
    if (ru->irq > 255 || ru->irq < -1 || ((ru->flags & VM_RUN_HALTED) && !ru->deadline &&
                                           !(ru->flags & VM_RUN_INPUT)))
        return -EINVAL;
    if (v->in_size) {                   /* complete the IN of the last exit (like KVM) */
        u32 mask = v->in_size == 4 ? 0xffffffff : v->in_size == 2 ? 0xffff : 0xff;
        *f32(vmcb, V_RAX) = (*f32(vmcb, V_RAX) & ~mask) | (ru->io_data & mask);
        v->in_size = 0;
    }
    /* 15.21.4: a virtual interrupt, taken by the guest when its IF allows it.
     * V_INTR_MASKING: the guest's IF masks only virtual interrupts, the host's
     * IF (1 at VMRUN, vmrun.S) physical ones: those always exit (INTR). */
    u32 *vi = f32(vmcb, V_VINTR);
    vi[0] = (1u << 24) | (1u << 20) | (ru->irq >= 0 ? 1u << 8 : 0);
    vi[1] = ru->irq >= 0 ? (u32)ru->irq : 0;
    v->irq = ru->irq;
    ru->irq_taken = 0;
    int ret = 0;
    for (;;) {
        if (v->irq >= 0 && !(vi[0] & (1u << 8))) { ru->irq_taken = 1; v->irq = -1; }
        if ((ru->flags & VM_RUN_INPUT) && input_pending()) { ret = VM_EXIT_INPUT; break; }
        if (ru->deadline && (int)(ticks - ru->deadline) >= 0) { ret = VM_EXIT_TIMER; break; }
        if (ru->flags & VM_RUN_HALTED) { sleep_tick(); continue; }
        *f32(vmcb, V_TLB_CTL) = v->flush ? 3 : 0;   /* 3: flush this ASID (15.16.1) */
        v->flush = 0;
        vm_enter(vmcb, (u32)host_vmsave, v->gprs, (u32)host_pdpt);
        unsigned long long t0 = vm_tsc_in, t1 = vm_tsc_out, i0 = vm_insns_in, i1 = vm_insns_out;
        if (v->last >= 0) {             /* the handling of the last exit ended at this VMRUN */
            v->st.handle[v->last] += t0 - v->t_exit;
            /* + the 9 instructions by which the TSC reads in vmrun.S enclose the MSR's */
            v->st.handle_insns[v->last] += i0 - v->i_exit + 9;
        }
        unsigned long long dt = t1 - t0 > VM_ENTER_HOST_TSC ? t1 - t0 - VM_ENTER_HOST_TSC : 0;
        unsigned long long di = vm_irperf && i1 - i0 > VM_ENTER_HOST_INSNS ? i1 - i0 - VM_ENTER_HOST_INSNS : 0;
        v->st.vmruns++;
        v->st.guest += dt;
        v->st.guest_insns += di;
        in_guest += dt;
        in_guest_i += di;
        v->t_exit = t1;
        v->i_exit = i1;
        *f32(vmcb, V_EVENTINJ) = 0;
        u32 code = *f32(vmcb, V_EXITCODE), info1 = *f32(vmcb, V_EXITINFO1);
        int cls = exit_class(code, *f32(vmcb, V_EXITCODE + 4));
        v->last = cls;
        v->st.exits[cls]++;
        ru->code = code;
        ru->info1 = info1;
        ru->info2 = *f32(vmcb, V_EXITINFO2);
        ru->eip = *f32(vmcb, V_RIP);
        if (cls == 1) {
            /* A host interrupt: let the host take it now (its handler runs on
             * this kernel stack); after a timer tick the host scheduler may
             * give the CPU to another process, as for any process in the kernel. */
            u32 before = ticks;
            __asm__ volatile("sti; nop; cli" ::: "memory");
            if (ticks != before) schedule();
            continue;
        }
        if (cls == 5) { *f32(vmcb, V_EVENTINJ) = EVENT_GP0; continue; }   /* no MSR for guests */
        if (cls == 8) { *f32(vmcb, V_EVENTINJ) = EVENT_UD; continue; }    /* no nested SVM */
        if (code == X_NMI) continue;
        if (cls == 4) {                 /* IOIO EXITINFO1 (15.10.2); EXITINFO2 = next EIP */
            ru->io.in = info1 & 1;
            ru->io.string = (info1 >> 2) & 3;   /* STR, REP: user space refuses them */
            ru->io.size = (info1 >> 4) & 7;
            ru->io.size = ru->io.size == 4 ? 4 : ru->io.size == 2 ? 2 : 1;
            ru->io.port = info1 >> 16;
            ru->io.data = *f32(vmcb, V_RAX);
            if (ru->io.in && !ru->io.string) v->in_size = (int)ru->io.size;
            *f32(vmcb, V_RIP) = ru->info2;
            ret = VM_EXIT_IO;
        } else if (cls == 3) { *f32(vmcb, V_RIP) += 1; ret = VM_EXIT_HLT; }
        else if (cls == 2) { *f32(vmcb, V_RIP) += 2; ret = VM_EXIT_CPUID; }
        else if (cls == 7) { *f32(vmcb, V_RIP) += 3; ret = VM_EXIT_VMMCALL; }
        else if (cls == 6) ret = VM_EXIT_SHUTDOWN;
        else if (cls == 9) { ru->gpa = ru->info2; ret = VM_EXIT_NPF; }
        else if (cls == 10) ret = VM_EXIT_INVALID;
        else ret = VM_EXIT_OTHER;
        v->st.to_user[cls]++;
        break;
    }
    if (v->irq >= 0 && !(vi[0] & (1u << 8))) { ru->irq_taken = 1; v->irq = -1; }
    unsigned long long t_end = rdtsc(), i_end = insns();
    v->st.kernel += t_end - t_in - in_guest - (v->st.others - others);
    v->st.kernel_insns += i_end - i_in - in_guest_i - (v->st.others_insns - others_i);

    ru->exit = (u32)ret;
    ru->now = ticks;
    return ret;
}

/* The system calls of vm.h; 1 if r->eax was one of them. */
int vm_syscall(struct regs *r)
{
    u32 n = r->eax;
    if (n < SYS_VM_CREATE || n > SYS_VM_STATS) return 0;
    int ret = -EINVAL;
    if (n == SYS_VM_CREATE) { r->eax = (u32)vm_create(); return 1; }
    u32 id = r->ebx, arg = r->ecx;
    struct vm *v = id < NVM && vms[id].used && vms[id].owner == current->pid ? &vms[id] : 0;
    if (!v) { r->eax = (u32)-EBADF; return 1; }
    /* Arguments are copied in and out: the process may change them meanwhile. */
    static union { struct vm_memory m; struct vm_regs g; struct vm_run ru; } a;
    u32 size = n == SYS_VM_MEMORY ? sizeof(a.m) : n == SYS_VM_RUN ? sizeof(a.ru)
             : n == SYS_VM_STATS ? sizeof(v->st) : n == SYS_VM_DESTROY ? 0 : sizeof(a.g);
    if (size && !user_ok(current->pd, arg, size)) { r->eax = (u32)-EFAULT; return 1; }
    switch (n) {
    case SYS_VM_MEMORY: memcpy(&a.m, (void *)arg, size); ret = vm_memory(v, &a.m); break;
    case SYS_VM_GETREGS: get_regs(v, &a.g); memcpy((void *)arg, &a.g, size); ret = 0; break;
    case SYS_VM_SETREGS: memcpy(&a.g, (void *)arg, size); set_regs(v, &a.g); ret = 0; break;
    case SYS_VM_STATS:
        v->st.now = rdtsc();
        v->st.now_insns = insns();
        v->st.irperf = (u32)vm_irperf;
        memcpy((void *)arg, &v->st, size);
        ret = 0;
        break;
    case SYS_VM_DESTROY: vm_free(v); ret = 0; break;
    case SYS_VM_RUN: {
        struct vm_run ru;             /* on this process's kernel stack: vm_run may sleep */
        memcpy(&ru, (void *)arg, size);
        ret = vm_run(v, &ru);
        if (ret > 0 && user_ok(current->pd, arg, size)) memcpy((void *)arg, &ru, size);
        break;
    }
    }
    r->eax = (u32)ret;
    return 1;
}
