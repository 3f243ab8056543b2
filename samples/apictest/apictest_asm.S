/*
 * apictest_asm.S - the interrupt entry points of the APIC test guest: one
 * 16-byte stub per vector (0-255) that pushes its vector number and joins a
 * common path, which saves the registers and calls on_vector(vector) in C.
 * Exceptions never return (on_vector ends the run), so the error code some of
 * them push needs no care; interrupts return with IRET.
 */
        .section .text
        .global vector_stubs
        .align 16
vector_stubs:
        .set i, 0
        .rept 256
        .align 16
        pushl   $i
        jmp     common
        .set i, i + 1
        .endr

common:
        pushal
        cld
        pushl   32(%esp)                /* the vector pushed by the stub */
        call    on_vector
        add     $4, %esp
        popal
        add     $4, %esp                /* drop the vector */
        iret
