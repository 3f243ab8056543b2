/*
 * isr.S - the assembly side of interrupts and of the context switch.
 *
 * Every vector has a tiny stub that pushes a dummy error code (the CPU pushes
 * a real one only for exceptions 8, 10-14, 17, 21, 30) and the vector number,
 * then jumps to isr_common, which saves the rest of the registers as a
 * `struct regs` (kernel.h) and calls isr_handler(struct regs *) in idt.c.
 */
.macro ISR_NOERR n
        .global isr\n
isr\n:  push    $0
        push    $\n
        jmp     isr_common
.endm
.macro ISR_ERR n
        .global isr\n
isr\n:  push    $\n
        jmp     isr_common
.endm

        .text
.irp n, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,29,31
        ISR_NOERR \n
.endr
.irp n, 8,10,11,12,13,14,17,21,30
        ISR_ERR \n
.endr
.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
        ISR_NOERR \n                    /* hardware IRQ 0-15 after the PIC remap */
.endr
        ISR_NOERR 128                   /* int $0x80: system call */

isr_common:
        pusha                           /* eax ecx edx ebx esp ebp esi edi */
        push    %ds
        push    %es
        push    %fs
        push    %gs
        mov     $0x10, %ax              /* kernel data segment */
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %fs
        mov     %ax, %gs
        testb   $3, 60(%esp)            /* from user mode (CS in struct regs)? */
        jz      1f
        call    vm_from_user            /* vm.c: the user time of a process running a VM */
1:      push    %esp                    /* argument: struct regs * */
        call    isr_handler
        add     $4, %esp
        /* A new process starts here too: sched.c builds a fake frame that
         * "returns" to isr_return and irets into ring 3. */
        .global isr_return
isr_return:
        testb   $3, 60(%esp)            /* back to user mode? */
        jz      2f
        call    vm_to_user
2:      pop     %gs
        pop     %fs
        pop     %es
        pop     %ds
        popa
        add     $8, %esp                /* vector number and error code */
        iret

/*
 * void swtch(u32 *old_esp, u32 new_esp)
 * Saves the callee-saved registers on the current kernel stack, stores ESP
 * in *old_esp, loads new_esp and pops the other process's registers: the
 * `ret` then continues wherever that process called swtch (or isr_return
 * for a new one). EAX, ECX, EDX are caller-saved in the C ABI.
 */
        .global swtch
swtch:
        mov     4(%esp), %eax
        mov     8(%esp), %edx
        push    %ebp
        push    %ebx
        push    %esi
        push    %edi
        mov     %esp, (%eax)
        mov     %edx, %esp
        pop     %edi
        pop     %esi
        pop     %ebx
        pop     %ebp
        ret

        .section .rodata
        .align 4
        .global isr_table
isr_table:                              /* addresses of the stubs for vectors 0-47 */
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .long   isr\n
.endr
.irp n, 32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47
        .long   isr\n
.endr
