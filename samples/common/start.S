/*
 * start.S - shared entry point for the small Traplab sample guests
 * (hello, bench/*). minios has its own boot.S.
 *
 * A multiboot v1 loader (GRUB, QEMU -kernel, Traplab) jumps to _start in
 * 32-bit protected mode with paging off, interrupts off,
 * EAX = 0x2BADB002 and EBX = physical address of the multiboot info.
 * The spec promises nothing about the GDT or the stack, so we set up both.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003   /* bit 0: page-align modules, bit 1: memory info */

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)    /* magic + flags + checksum == 0 */

        .section .text
        .global _start
_start:
        cli
        mov     $stack_top, %esp
        mov     %eax, %esi              /* keep magic and info pointer */
        mov     %ebx, %edi
        lgdt    gdt_desc                /* our own flat GDT */
        ljmp    $0x08, $1f              /* reload CS */
1:      mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %fs
        mov     %ax, %gs
        mov     %ax, %ss
        push    %edi                    /* main(magic, info) */
        push    %esi
        call    main
        /* main returned its exit value in AL: write it to the exit device */
        outb    %al, $0xf4
2:      cli                             /* no exit device: stop here */
        hlt
        jmp     2b

        .section .rodata
        .align 8
gdt:    .quad 0                         /* 0x00 null descriptor */
        .quad 0x00cf9a000000ffff        /* 0x08 code: base 0, limit 4 GiB, ring 0, 32-bit */
        .quad 0x00cf92000000ffff        /* 0x10 data: base 0, limit 4 GiB, ring 0, writable */
gdt_desc:
        .word gdt_desc - gdt - 1
        .long gdt

        .section .bss
        .align 16
        .space 16384
stack_top:
