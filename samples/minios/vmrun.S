/*
 * vmrun.S - the world switch of the virtualization driver (vm.c):
 * AMD64 APM vol. 2, 15.5 (VMRUN, #VMEXIT), 15.5.2 (VMSAVE/VMLOAD) and 15.17 (GIF).
 *
 * void vm_enter(u32 vmcb, u32 host_save, u32 *gprs, u32 pae_pdpt)
 *   vmcb       physical address of the guest's VMCB (the kernel's frames are
 *              identity mapped, so it is also the pointer)
 *   host_save  a page where VMSAVE keeps the host's FS, GS, TR, LDTR (and the
 *              syscall MSRs): VMRUN and #VMEXIT switch only ES, CS, SS, DS,
 *              the control registers, RSP, RIP, RFLAGS and RAX (15.5.1)
 *   gprs       the guest's EBX ECX EDX ESI EDI EBP at gprs[1..6]; EAX and ESP
 *              live in the VMCB
 *   pae_pdpt   a PAE page-directory-pointer table mapping the kernel's 0-4 MiB
 *
 * Paging mode: nested page tables have the format of the host's paging at
 * VMRUN (15.25.3). minios runs with legacy 2-level paging, and the APM allows
 * legacy nested tables, but QEMU 7.2 walks nested tables only for a PAE or
 * long-mode host (with a legacy host it takes guest-physical as host-physical),
 * as Linux KVM uses nested paging only on PAE or 64-bit hosts. So the host
 * switches to PAE paging around VMRUN (paging off, CR4.PAE, CR3, paging on:
 * legal because this code and its stack are identity mapped), and vm.c builds
 * PAE nested tables. The process's own CR3 comes back after the exit.
 *
 * Interrupts: GIF = 0 (CLGI) while the host state is half switched; the host
 * sets IF = 1 before VMRUN so that, with V_INTR_MASKING in the VMCB, a host
 * interrupt (timer, keyboard, serial) arriving while the guest runs ends it
 * with #VMEXIT(INTR) instead of going to the guest (15.21.1). The interrupt
 * stays pending; vm.c lets the host take it after the exit.
 *
 * The ledger's clocks (vm.h): the TSC (vm_tsc_in/out) and, when vm.c found the
 * instructions-retired MSR IRPerfCount (vm_irperf), the instruction count
 * (vm_insns_in/out) are read as close to VMRUN and #VMEXIT as the registers
 * allow. Between the reads lie the guest's instructions and a fixed number of
 * this file's (VM_ENTER_HOST_INSNS, VM_ENTER_HOST_TSC in vm.c), which vm.c
 * subtracts: the guest's ledger figures are its own.
 */
        .text
        .global vm_enter
vm_enter:
        push    %ebp
        push    %ebx
        push    %esi
        push    %edi
        sub     $20, %esp               /* the arguments are now at 40(%esp) and up */
        mov     40(%esp), %eax
        mov     %eax, 0(%esp)           /* vmcb */
        mov     44(%esp), %eax
        mov     %eax, 4(%esp)           /* host_save */
        mov     48(%esp), %eax
        mov     %eax, 8(%esp)           /* gprs */
        mov     52(%esp), %eax
        mov     %eax, 12(%esp)          /* pae_pdpt */
        mov     %cr3, %eax
        mov     %eax, 16(%esp)          /* the process's (legacy) page directory */
        clgi                            /* GIF = 0: no interrupt, no NMI from here */
        mov     %cr0, %eax              /* to PAE paging (see above) */
        and     $0x7fffffff, %eax
        mov     %eax, %cr0
        mov     %cr4, %eax
        or      $0x20, %eax
        mov     %eax, %cr4
        mov     12(%esp), %eax
        mov     %eax, %cr3
        mov     %cr0, %eax
        or      $0x80000000, %eax
        mov     %eax, %cr0
        mov     4(%esp), %eax
        vmsave                          /* host FS, GS, TR, LDTR to host_save */
        mov     0(%esp), %eax
        vmload                          /* the guest's FS, GS, TR, LDTR */
        sti                             /* IF = 1, still held by GIF = 0 */
        cmpl    $0, vm_irperf
        je      1f
        mov     $0xc00000e9, %ecx       /* IRPerfCount */
        rdmsr
        mov     %eax, vm_insns_in
        mov     %edx, vm_insns_in+4
1:      rdtsc
        mov     %eax, vm_tsc_in
        mov     %edx, vm_tsc_in+4
        mov     8(%esp), %eax
        mov     4(%eax), %ebx
        mov     8(%eax), %ecx
        mov     12(%eax), %edx
        mov     16(%eax), %esi
        mov     20(%eax), %edi
        mov     24(%eax), %ebp
        mov     0(%esp), %eax
        vmrun                           /* the guest runs until #VMEXIT */
        /* Back in the host: ESP, EAX (= vmcb), EFLAGS, CR0/3/4, ES/CS/SS/DS
         * restored by the CPU, GIF = 0. */
        mov     8(%esp), %eax
        mov     %ebx, 4(%eax)
        mov     %ecx, 8(%eax)
        mov     %edx, 12(%eax)
        mov     %esi, 16(%eax)
        mov     %edi, 20(%eax)
        mov     %ebp, 24(%eax)
        rdtsc
        mov     %eax, vm_tsc_out
        mov     %edx, vm_tsc_out+4
        cmpl    $0, vm_irperf
        je      2f
        mov     $0xc00000e9, %ecx
        rdmsr
        mov     %eax, vm_insns_out
        mov     %edx, vm_insns_out+4
2:      mov     0(%esp), %eax
        vmsave                          /* the guest's FS, GS, TR, LDTR to its VMCB */
        mov     4(%esp), %eax
        vmload                          /* the host's back */
        cli                             /* the kernel runs with IF = 0 */
        mov     %cr0, %eax              /* back to legacy paging, the process's CR3 */
        and     $0x7fffffff, %eax
        mov     %eax, %cr0
        mov     %cr4, %eax
        and     $~0x20, %eax
        mov     %eax, %cr4
        mov     16(%esp), %eax
        mov     %eax, %cr3
        mov     %cr0, %eax
        or      $0x80000000, %eax
        mov     %eax, %cr0
        stgi                            /* GIF = 1: with IF = 0 nothing is taken yet */
        add     $20, %esp
        pop     %edi
        pop     %esi
        pop     %ebx
        pop     %ebp
        ret
