/* progs.S - the user programs' flat binaries (built from user/), embedded in the kernel. */
.macro PROG name
        .section .rodata
        .balign 16
        .global prog_\name\()_start, prog_\name\()_end
prog_\name\()_start:
        .incbin "\name\().bin"
prog_\name\()_end:
.endm
        PROG shell
        PROG hello
        PROG cpu
        PROG sys
        PROG fault
