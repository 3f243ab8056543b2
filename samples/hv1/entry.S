/*
 * entry.S - hv1's entry from the multiboot loader, its interrupt handlers,
 * and the world switch (AMD64 APM vol. 2, 15.5 "VMRUN Instruction", 15.6
 * "#VMEXIT", 15.17 "Global Interrupt Flag, STGI and CLGI").
 *
 * VMRUN saves only part of the host's state (CS, RIP, RSP, RAX, RFLAGS,
 * CR0/3/4, EFER, GDTR, IDTR, ES, SS, DS) in the host save area and #VMEXIT
 * reloads it; EBX..EBP keep whatever the guest left in them. So svm_run loads
 * the guest's EBX..EBP before VMRUN and stores them back after #VMEXIT.
 * Host interrupts: STI just before CLGI (its one-instruction shadow covers
 * CLGI), so the host's EFLAGS.IF = 1 is what VMRUN saves. With
 * V_INTR_MASKING = 1 and the INTR intercept a real interrupt (the PIT, COM1)
 * during the guest ends it with #VMEXIT INTR (15.21.1); the interrupt stays
 * pending while GIF = 0 and is taken by hv1's IDT right after STGI.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003             /* page-align modules, memory info */

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

        .text
        .global _start
_start:
        cli
        mov     $stack_top, %esp
        mov     %eax, %esi
        mov     %ebx, %edi
        lgdt    gdt_desc
        ljmp    $0x08, $1f
1:      mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %fs
        mov     %ax, %gs
        mov     %ax, %ss
        call    idt_init
        push    %edi
        push    %esi
        call    main                    /* returns the exit status */
        outb    %al, $0xf4              /* exit device */
2:      cli
        hlt
        jmp     2b

/* void svm_run(u32 vmcb_pa, struct gregs *regs) */
        .global svm_run
svm_run:
        push    %ebp
        push    %ebx
        push    %esi
        push    %edi
        mov     24(%esp), %eax          /* regs */
        push    %eax                    /* 0(%esp) = regs, 24(%esp) = vmcb_pa */
        /* The ledger's clocks (ledger.c), read as close to VMRUN as the registers
         * allow: instructions retired (IRPerfCount, if CPUID offers it) and TSC. */
        cmpl    $0, hv_irperf
        je      1f
        mov     $0xC00000E9, %ecx
        rdmsr
        mov     %eax, insns_in
        mov     %edx, insns_in+4
1:      rdtsc
        mov     %eax, tsc_in
        mov     %edx, tsc_in+4
        mov     0(%esp), %eax
        mov     0(%eax), %ebx
        mov     4(%eax), %ecx
        mov     8(%eax), %edx
        mov     12(%eax), %esi
        mov     16(%eax), %edi
        mov     20(%eax), %ebp
        mov     24(%esp), %eax
        sti                             /* shadow: no interrupt before CLGI */
        clgi
        vmload                          /* the guest's FS, GS, TR, LDTR, SYSENTER MSRs (15.5.2) */
        vmrun                           /* the guest runs until #VMEXIT (GIF = 0 then) */
        vmsave                          /* ... kept in its VMCB for the next VMLOAD */
        push    %eax
        mov     4(%esp), %eax
        mov     %ebx, 0(%eax)
        mov     %ecx, 4(%eax)
        mov     %edx, 8(%eax)
        mov     %esi, 12(%eax)
        mov     %edi, 16(%eax)
        mov     %ebp, 20(%eax)
        rdtsc                           /* the clocks again, before any host interrupt */
        mov     %eax, tsc_out
        mov     %edx, tsc_out+4
        cmpl    $0, hv_irperf
        je      2f
        mov     $0xC00000E9, %ecx
        rdmsr
        mov     %eax, insns_out
        mov     %edx, insns_out+4
2:      pop     %eax
        stgi                            /* a pending host interrupt is taken here */
        cli
        pop     %eax
        pop     %edi
        pop     %esi
        pop     %ebx
        pop     %ebp
        ret

/* void idle_wait(void): no VM can run; sleep until the next real interrupt */
        .global idle_wait
idle_wait:
        sti
        hlt
        cli
        ret

/* ---- interrupts: real PIC remapped to vectors 0x20-0x2F by main.c ---- */
irq0:                                   /* the PIT: the scheduler's clock */
        push    %eax
        incl    host_ticks
        mov     $0x20, %al
        out     %al, $0x20              /* end of interrupt */
        pop     %eax
        iret
irq4:                                   /* COM1 received a byte */
        pushal
        cld
        call    com1_rx_irq
        mov     $0x20, %al
        out     %al, $0x20
        popal
        iret
irq_other:                              /* a spurious IRQ 7, or an IRQ hv1 masked */
        iret
        .irp    v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19
fault\v: push    $\v
        jmp     fault
        .endr
fault:                                  /* an exception in hv1 itself: report, stop */
        call    hv1_fault               /* (vector, [error code,] EIP ...) */
        mov     $3, %al
        outb    %al, $0xf4
1:      cli
        hlt
        jmp     1b

/* fills the 48-entry IDT: 0-31 fault, 0x20 irq0, 0x24 irq4, the rest irq_other */
idt_init:
        xor     %ecx, %ecx
1:      mov     $fault, %eax
        cmp     $20, %ecx
        jae     4f
        mov     fault_table(,%ecx,4), %eax
        jmp     2f
4:      cmp     $32, %ecx
        jb      2f
        mov     $irq_other, %eax
        cmp     $0x20, %ecx
        jne     3f
        mov     $irq0, %eax
3:      cmp     $0x24, %ecx
        jne     2f
        mov     $irq4, %eax
2:      lea     idt(,%ecx,8), %edx
        mov     %ax, (%edx)
        movw    $0x08, 2(%edx)
        movw    $0x8E00, 4(%edx)        /* present, DPL 0, 32-bit interrupt gate */
        shr     $16, %eax
        mov     %ax, 6(%edx)
        inc     %ecx
        cmp     $48, %ecx
        jne     1b
        lidt    idt_desc
        ret

        .section .rodata
        .align 4
fault_table:
        .long   fault0, fault1, fault2, fault3, fault4, fault5, fault6, fault7, fault8, fault9
        .long   fault10, fault11, fault12, fault13, fault14, fault15, fault16, fault17, fault18, fault19
        .align 8
gdt:    .quad 0
        .quad 0x00cf9a000000ffff        /* 0x08 flat code, ring 0 */
        .quad 0x00cf92000000ffff        /* 0x10 flat data */
gdt_desc:
        .word gdt_desc - gdt - 1
        .long gdt
idt_desc:
        .word 48 * 8 - 1
        .long idt

        .bss
        .align 8
idt:    .space 48 * 8
        .global host_ticks
host_ticks:
        .long 0
        .align 16
        .space 16384
stack_top:
