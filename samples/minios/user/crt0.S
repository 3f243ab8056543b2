/* crt0.S - start of every user program (an ELF executable in /bin). */
        .text
        .global _start
_start:                                 /* ring 3, interrupts on; [ESP] = argc, [ESP+4] = argv, */
        mov     8(%esp), %eax           /* [ESP+8] = envp: getenv() reads it from environ */
        mov     %eax, environ
        call    main                    /* main(argc, argv, envp): its arguments are already there */
        push    %eax
        call    exit                    /* exit(main's return value) */
1:      jmp     1b
