/*
 * host.S - the host side of a world switch (AMD64 APM vol. 2, 15.5 "VMRUN
 * Instruction" and 15.6 "#VMEXIT").
 *
 * VMRUN saves only part of the host's state in the host save area
 * (VM_HSAVE_PA): CS, RIP, RSP, RAX, RFLAGS, CR0, CR3, CR4, EFER, GDTR, IDTR,
 * ES, SS, DS. #VMEXIT reloads those. Every other general register keeps the
 * value the guest left in it, so svm_run loads the guest's EBX..EBP before
 * VMRUN and stores them back after #VMEXIT, and saves the host's own
 * callee-saved registers on the stack (ESP comes back through the save area).
 * It also holds a few one-instruction helpers and a host IDT that reports
 * any exception the host itself takes (for example #UD from VMRUN on a CPU
 * without SVM) and ends the run with status 3.
 */
        .text
/* void svm_run(u32 vmcb_pa, struct gregs *regs) */
        .global svm_run
svm_run:
        push    %ebp
        push    %ebx
        push    %esi
        push    %edi
        mov     24(%esp), %eax          /* regs */
        push    %eax                    /* 0(%esp) = regs, 24(%esp) = vmcb_pa */
        mov     0(%eax), %ebx
        mov     4(%eax), %ecx
        mov     8(%eax), %edx
        mov     12(%eax), %esi
        mov     16(%eax), %edi
        mov     20(%eax), %ebp
        mov     24(%esp), %eax
        cmpl    $0, host_if
        je      3f
        sti                             /* its shadow covers the CLGI */
3:      clgi                            /* no host interrupt between here and VMRUN */
        vmrun                           /* guest runs until #VMEXIT; then EAX = vmcb_pa again */
        stgi                            /* #VMEXIT left GIF = 0 */
        push    %eax
        mov     4(%esp), %eax           /* regs */
        mov     %ebx, 0(%eax)
        mov     %ecx, 4(%eax)
        mov     %edx, 8(%eax)
        mov     %esi, 12(%eax)
        mov     %edi, 16(%eax)
        mov     %ebp, 20(%eax)
        pop     %eax
        pop     %eax
        pop     %edi
        pop     %esi
        pop     %ebx
        pop     %ebp
        ret

/* void svm_run_sti(u32 vmcb_pa, struct gregs *regs): svm_run with the host's
 * EFLAGS.IF = 1 during VMRUN (with V_INTR_MASKING = 1 it decides whether a
 * physical interrupt exits the guest: APM 15.21.1). STI's one-instruction
 * shadow covers the CLGI in svm_run, and GIF = 0 then holds interrupts off
 * until the STGI after #VMEXIT, where the host takes them. */
        .global svm_run_sti
svm_run_sti:
        movl    $1, host_if
        push    8(%esp)
        push    8(%esp)
        call    svm_run
        add     $8, %esp
        cli
        movl    $0, host_if
        ret

/* host IRQ 0 (vector 0x20): count it, mask it at the PIC, end of interrupt */
hirq0:
        push    %eax
        incl    host_irq0_count
        mov     $0xFF, %al
        out     %al, $0x21
        mov     $0x20, %al
        out     %al, $0x20
        pop     %eax
        iret

        .global host_vmsave, host_vmload, host_clgi_stgi, host_read_fs0
host_vmsave:
        mov     4(%esp), %eax
        vmsave
        ret
host_vmload:
        mov     4(%esp), %eax
        vmload
        ret
host_clgi_stgi:
        clgi
        stgi
        ret
host_read_fs0:
        mov     %fs:0, %eax
        ret

/* void host_cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d) */
        .global host_cpuid
host_cpuid:
        push    %ebx
        push    %edi
        mov     12(%esp), %eax
        xor     %ecx, %ecx
        cpuid
        mov     16(%esp), %edi
        mov     %eax, (%edi)
        mov     20(%esp), %edi
        mov     %ebx, (%edi)
        mov     24(%esp), %edi
        mov     %ecx, (%edi)
        mov     28(%esp), %edi
        mov     %edx, (%edi)
        pop     %edi
        pop     %ebx
        ret

/* ---- host exception reports ------------------------------------------------ */
        .macro  HEXC vec, err
hexc\vec:
        .if \err == 0
        push    $0
        .endif
        push    $\vec
        jmp     hexc_common
        .endm
        .irp    v, 0,1,2,3,4,5,6,7,9,15,16,18,19
        HEXC    \v, 0
        .endr
        .irp    v, 8,10,11,12,13,14,17
        HEXC    \v, 1
        .endr
hexc_common:
        cmpl    $0, probe_active        /* an exception host_probe expects? */
        jne     probe_fault
        call    host_exception          /* (vector, error, eip) on the stack: never returns */
1:      hlt
        jmp     1b

/* u32 host_probe(u32 insn, u32 eax): runs one SVM instruction that is
 * expected to fault (APM vol. 2, the instruction reference pages of
 * chapter 15's instructions: #UD when EFER.SVME = 0, #GP(0) for a VMCB
 * address that is not 4 KiB aligned). Returns vector | error code << 8, or
 * 0xFFFFFFFF when nothing faulted. */
        .global host_probe
host_probe:
        push    %ebx
        push    %esi
        push    %edi
        push    %ebp
        mov     %esp, probe_esp
        mov     20(%esp), %edx
        mov     24(%esp), %eax
        xor     %ecx, %ecx
        movl    $1, probe_active
        cmp     $0, %edx
        jne     1f
        vmrun
        jmp     8f
1:      cmp     $1, %edx
        jne     1f
        vmload
        jmp     8f
1:      cmp     $2, %edx
        jne     1f
        vmsave
        jmp     8f
1:      cmp     $3, %edx
        jne     1f
        clgi
        stgi
        jmp     8f
1:      cmp     $4, %edx
        jne     1f
        invlpga
        jmp     8f
1:      skinit
8:      mov     $0xFFFFFFFF, %eax
9:      movl    $0, probe_active
        pop     %ebp
        pop     %edi
        pop     %esi
        pop     %ebx
        ret
probe_fault:                            /* stack: vector, error code, EIP, CS, EFLAGS */
        mov     (%esp), %eax
        mov     4(%esp), %edx
        shl     $8, %edx
        or      %edx, %eax
        mov     probe_esp, %esp
        jmp     9b

        .global host_idt_init
host_idt_init:
        push    %ebx
        xor     %ecx, %ecx
2:      mov     hexc_table(,%ecx,4), %eax
        lea     host_idt(,%ecx,8), %ebx
        mov     %ax, (%ebx)             /* offset 15:0 */
        movw    $0x08, 2(%ebx)          /* code selector */
        movw    $0x8E00, 4(%ebx)        /* present, DPL 0, 32-bit interrupt gate */
        shr     $16, %eax
        mov     %ax, 6(%ebx)            /* offset 31:16 */
        inc     %ecx
        cmp     $20, %ecx
        jne     2b
        mov     $hirq0, %eax            /* vector 0x20 */
        lea     host_idt + 0x20 * 8, %ebx
        mov     %ax, (%ebx)
        movw    $0x08, 2(%ebx)
        movw    $0x8E00, 4(%ebx)
        shr     $16, %eax
        mov     %ax, 6(%ebx)
        lidt    host_idtr
        pop     %ebx
        ret

        .section .rodata
        .align  4
hexc_table:
        .long   hexc0, hexc1, hexc2, hexc3, hexc4, hexc5, hexc6, hexc7, hexc8, hexc9
        .long   hexc10, hexc11, hexc12, hexc13, hexc14, hexc15, hexc16, hexc17, hexc18, hexc19
host_idtr:
        .word   0x21 * 8 - 1
        .long   host_idt
        .section .bss
        .align  8
host_idt:
        .space  0x21 * 8
        .global host_irq0_count
host_irq0_count:
        .long   0
host_if:
        .long   0
probe_active:
        .long   0
probe_esp:
        .long   0
