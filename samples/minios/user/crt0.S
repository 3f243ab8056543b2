/* crt0.S - start of every user program: the image header, then _start. */
        .section .header, "a"
        .long   0x534f494d              /* PROG_MAGIC "MIOS" */
        .long   _start                  /* entry point */
        .long   _end                    /* end of bss */

        .text
        .global _start
_start:                                 /* ESP = 0x800000, ring 3, interrupts on */
        call    main
        push    %eax
        call    exit                    /* exit(main's return value) */
1:      jmp     1b
