/* crt0.S - start of every user program (an ELF executable in /bin). */
        .text
        .global _start
_start:                                 /* ring 3, interrupts on; [ESP] = argc, [ESP+4] = argv */
        call    main                    /* main(argc, argv): its arguments are already there */
        push    %eax
        call    exit                    /* exit(main's return value) */
1:      jmp     1b
