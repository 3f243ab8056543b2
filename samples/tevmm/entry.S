/*
 * entry.S - every trap into the monitor, and the way back to the guest.
 *
 * All 256 IDT gates point here (Intel SDM Vol. 3A 6.12: interrupt gates, so the monitor
 * runs with IF = 0). Each stub is 16 bytes: it pushes a dummy error code when the CPU
 * pushes none (exceptions 8, 10-14, 17, 21, 29, 30 push one), then the vector, then jumps to
 * trap_common, which saves the rest as a struct frame (tevmm.h) and calls trap(frame) in
 * main.c. The guest runs at ring 1 or 3, so the CPU has switched to the monitor stack
 * (TSS.ss0:esp0) and pushed the guest's SS:ESP too. Only an interrupt that arrives while
 * the monitor itself waits in HLT comes from ring 0 (no SS:ESP).
 * Instructions outside trap()'s TSC window, counted for the ledger (TRAP_STUB_INSNS in
 * ledger.c): stub 2-3, trap_common 13 before the call, 8 after it.
 */
        .altmacro
        .macro STUB n
        .align 16
        .if (\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
        .else
        push    $0
        .endif
        push    $\n
        jmp     trap_common
        .endm

        .text
        .align 16
        .global trap_stubs
trap_stubs:
        .set i, 0
        .rept 256
        STUB %i
        .set i, i + 1
        .endr

trap_common:
        pusha
        push    %ds
        push    %es
        push    %fs
        push    %gs
        cld                             /* the C code assumes DF = 0 (SysV i386 ABI); the */
                                        /* guest's DF is in its saved EFLAGS, IRET restores it */
        mov     $0x788, %ax             /* MON_DS */
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %fs
        mov     %ax, %gs
        push    %esp                    /* struct frame * */
        call    trap
        add     $4, %esp
trap_return:
        pop     %gs
        pop     %fs
        pop     %es
        pop     %ds
        popa
        add     $8, %esp                /* vector and error code */
        iret

/* void guest_enter(struct frame *f): the first entry into the guest. */
        .global guest_enter
guest_enter:
        mov     4(%esp), %esp
        jmp     trap_return
