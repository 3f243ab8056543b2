/*
 * boot.S - multiboot entry of the minios kernel.
 *
 * The loader (GRUB, QEMU -kernel, Traplab) puts us at 1 MiB and jumps to
 * _start in 32-bit protected mode, paging off, interrupts off, with
 * EAX = 0x2BADB002 and EBX = address of the multiboot information.
 * We only set up a stack and call kmain(magic, info) in main.c; gdt.c
 * installs the kernel's own GDT right after.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003   /* page-align modules + give us memory info */

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

        .text
        .global _start
_start:
        cli
        mov     $boot_stack_top, %esp   /* this stack becomes the idle process's */
        xor     %ebp, %ebp              /* end of the frame-pointer chain */
        push    %ebx
        push    %eax
        call    kmain
1:      cli
        hlt
        jmp     1b

        .bss
        .align 16
        .global boot_stack_top
        .space  16384
boot_stack_top:
