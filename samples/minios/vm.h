/*
 * vm.h - the interface of minios's virtualization driver (vm.c), shared by
 * the kernel and user space (the `vmm` program, user/vmm.c).
 *
 * It mirrors Linux KVM's ioctls (Documentation/virt/kvm/api.rst) as plain
 * system calls: one call per ioctl, a VM number instead of a file descriptor.
 *   KVM_CREATE_VM + KVM_CREATE_VCPU   -> vm_create()        (one vCPU per VM)
 *   KVM_SET_USER_MEMORY_REGION        -> vm_memory()
 *   KVM_GET_REGS / KVM_SET_REGS       -> vm_getregs() / vm_setregs()
 *   KVM_RUN + struct kvm_run          -> vm_run(), struct vm_run
 *   close(vm fd)                      -> vm_destroy() (also done at exit)
 * The hardware underneath is AMD SVM (AMD64 APM vol. 2, chapter 15).
 */
#ifndef MINIOS_VM_H
#define MINIOS_VM_H

#define SYS_VM_CREATE   60  /* vm_create() -> vm number, -EOPNOTSUPP without SVM     */
#define SYS_VM_MEMORY   61  /* vm_memory(vm, const struct vm_memory *) -> 0          */
#define SYS_VM_GETREGS  62  /* vm_getregs(vm, struct vm_regs *) -> 0                 */
#define SYS_VM_SETREGS  63  /* vm_setregs(vm, const struct vm_regs *) -> 0           */
#define SYS_VM_RUN      64  /* vm_run(vm, struct vm_run *) -> VM_EXIT_* (>= 1)       */
#define SYS_VM_DESTROY  65  /* vm_destroy(vm) -> 0                                   */
#define SYS_VM_STATS    66  /* vm_stats(vm, struct vm_stats *) -> 0: the kernel's ledger */

#define NVM 4               /* VMs in the whole system; VM n uses ASID n + 1 */

/* Guest-physical [gpa, gpa + size) is backed by the caller's pages at
 * [uva, uva + size): page aligned, mapped user memory (e.g. from sbrk). The
 * kernel points the nested page table at those very frames. size 0 unmaps. */
struct vm_memory {
    unsigned int gpa, size, uva;
};

/* The vCPU's registers. A new vCPU starts as a multiboot loader leaves it:
 * 32-bit protected mode, flat 4 GiB segments (CS 0x08, data 0x10), paging off. */
struct vm_regs {
    unsigned int eax, ebx, ecx, edx, esi, edi, ebp, esp;
    unsigned int eip, eflags, cr0, cr2, cr3, cr4;
};

/* Why vm_run() came back to user space. */
#define VM_EXIT_IO        1   /* IN/OUT: io.* says which; for IN put the value in io.data */
#define VM_EXIT_HLT       2   /* the guest halted (EIP is past the HLT) */
#define VM_EXIT_CPUID     3   /* CPUID: answer in the registers (EIP is past it) */
#define VM_EXIT_VMMCALL   4   /* a hypercall (EIP is past it) */
#define VM_EXIT_SHUTDOWN  5   /* triple fault: the vCPU cannot go on */
#define VM_EXIT_NPF       6   /* guest-physical address gpa is not guest memory */
#define VM_EXIT_TIMER     7   /* the host tick `deadline` has come */
#define VM_EXIT_INPUT     8   /* the host console has input (VM_RUN_INPUT) */
#define VM_EXIT_INVALID   9   /* VMRUN refused the guest state (bad registers) */
#define VM_EXIT_OTHER    10   /* an exit the driver does not handle: see code */

#define VM_RUN_INPUT   1      /* also come back when the console has input to read */
#define VM_RUN_HALTED  2      /* the guest waits for an interrupt: sleep until deadline/input */

struct vm_run {
    /* in */
    int irq;                  /* vector to raise (virtual interrupt, V_IRQ), -1 = none */
    unsigned int deadline;    /* host tick (uptime()) to come back at, 0 = none */
    unsigned int flags;       /* VM_RUN_* */
    unsigned int io_data;     /* the value of the last VM_EXIT_IO IN */
    /* out */
    unsigned int exit;        /* VM_EXIT_*, also the return value */
    unsigned int code, info1, info2;   /* the SVM exit code and EXITINFO1/2 (low 32 bits) */
    unsigned int eip;         /* guest EIP of the exiting instruction */
    unsigned int irq_taken;   /* 1: the guest took `irq` during this run */
    struct {
        unsigned int port, size, in, string, data;   /* size 1, 2 or 4; data for OUT */
    } io;
    unsigned int gpa;         /* VM_EXIT_NPF */
    unsigned int now;         /* the host tick (uptime()) at the exit */
};

/* The driver's ledger of one VM (every world, measured by the kernel), in TSC ticks (on Traplab the TSC is the virtual clock)
 * and in instructions retired, read from AMD's IRPerfCount MSR (0xC000_00E9) when CPUID
 * Fn8000_0008_EBX[1] offers it (Traplab does; QEMU 7.2 does not: `irperf` is then 0 and
 * so are the *_insns). TSC and instructions differ where the CPU halted (idle) or charged
 * a world switch (Traplab's cost model: inside `guest`). */
#define VM_NCLASS 11
#define VM_CLASS_NAMES { "other", "INTR", "CPUID", "HLT", "IOIO", "MSR", "SHUTDOWN", \
                         "VMMCALL", "SVM insn", "NPF", "INVALID" }
struct vm_stats {
    unsigned int exits[VM_NCLASS];        /* #VMEXITs by class of exit code */
    unsigned int to_user[VM_NCLASS];      /* ... of which vm_run() returned to user space */
    unsigned long long handle[VM_NCLASS]; /* TSC from each #VMEXIT to the next VMRUN */
    unsigned long long handle_insns[VM_NCLASS];   /* ... instructions */
    unsigned long long guest, guest_insns;    /* between VMRUN and #VMEXIT (vm_enter) */
    unsigned long long kernel, kernel_insns;  /* in vm_run() outside the guest */
    unsigned long long others, others_insns;  /* its process switched out (others, idle) */
    unsigned long long user, user_insns;  /* its process in user mode (vmm) */
    unsigned long long now, now_insns;    /* TSC and instructions at this vm_stats() call */
    unsigned int vmruns;
    unsigned int entries;                 /* kernel entries from its process's user mode */
    unsigned int irperf;                  /* 1: the *_insns are counted */
};
#endif
