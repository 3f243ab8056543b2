/*
 * bootsector.S - a 512-byte PC boot sector, the way PCs have started since 1981.
 *
 * The historic boot sequence:
 *  1. Power on: the CPU starts in real mode (16-bit, 1 MiB address space,
 *     segment*16 + offset) at the reset vector F000:FFF0, inside the BIOS ROM.
 *  2. The BIOS tests and initialises the hardware (POST), installs its
 *     interrupt services (INT 10h video, INT 13h disk, INT 16h keyboard...)
 *     in the interrupt vector table at address 0.
 *  3. It reads the first sector (512 bytes) of the boot disk to physical
 *     0x7C00 and, if the last two bytes are 0x55 0xAA, jumps there with
 *     DL = boot drive number. Nothing else is guaranteed: CS:IP may be
 *     0000:7C00 or 07C0:0000, so we set our own segments and stack.
 *  4. The boot sector would normally load more code with INT 13h. Ours is
 *     self-contained: it prints with the BIOS, opens the A20 gate (on the
 *     8086 addresses wrapped at 1 MiB; the PC/AT gated address line 20
 *     through the keyboard controller for compatibility; port 0x92 is the
 *     "fast A20" switch of later chipsets), loads a GDT, sets CR0.PE and
 *     far-jumps into 32-bit protected mode. From there BIOS services are
 *     gone: output is done by writing VGA memory and UART ports directly.
 *  5. It ends the run by writing 0 to the exit device at port 0xF4.
 *
 * Build: as --32 + ld -Ttext 0x7c00 --oformat binary (see rules.mk).
 */
        .code16
        .section .text
        .global _start
_start:
        cli
        ljmp    $0, $1f                 /* normalise CS:IP to 0000:7Cxx */
1:      xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7c00, %sp            /* stack grows down below us */
        /* Interrupts stay off throughout: the BIOS teletype does not need them,
         * and a protected-mode IRQ without an IDT would triple-fault. */

        /* --- real mode: print with the BIOS teletype service INT 10h AH=0Eh --- */
        mov     $msg_real, %si
2:      lodsb
        test    %al, %al
        jz      3f
        mov     $0x0e, %ah              /* teletype output: AL = char */
        mov     $0x0007, %bx            /* BH = page 0, BL = colour (graphics modes) */
        int     $0x10
        jmp     2b
3:
        /* ask the BIOS where the cursor is (INT 10h AH=03h: DH = row, DL = column) */
        mov     $0x03, %ah
        xor     %bh, %bh                /* page 0 */
        mov     $0x0100, %dx            /* row 1 if the BIOS does not answer */
        int     $0x10
        movzbl  %dh, %ebp               /* row for the protected-mode message */
        cmp     $24, %bp
        jbe     9f
        mov     $24, %bp                /* stay on the 80x25 screen */
9:

        /* --- enable A20 with the "fast A20" bit of System Control Port A --- */
        in      $0x92, %al
        or      $0x02, %al              /* bit 1: A20 enable */
        and     $0xfe, %al              /* bit 0 would reset the machine: keep it 0 */
        out     %al, $0x92

        /* --- enter protected mode --- */
        cli                             /* (still) no interrupts: there is no protected-mode IDT */
        lgdt    gdt_desc
        mov     %cr0, %eax
        or      $1, %eax                /* CR0.PE */
        mov     %eax, %cr0
        ljmp    $0x08, $pm32            /* far jump loads CS from the GDT, flushes prefetch */

        .code32
pm32:   mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7c00, %esp

        /* COM1: 115200 8N1 */
        mov     $0x3f9, %dx ; xor %al, %al   ; out %al, %dx   /* IER = 0 */
        mov     $0x3fb, %dx ; mov $0x80, %al ; out %al, %dx   /* LCR: DLAB */
        mov     $0x3f8, %dx ; mov $1, %al    ; out %al, %dx   /* divisor low = 1 */
        inc     %dx         ; xor %al, %al   ; out %al, %dx   /* divisor high = 0 */
        mov     $0x3fb, %dx ; mov $3, %al    ; out %al, %dx   /* LCR: 8N1 */

        /* print msg_pm to the VGA text buffer (at the BIOS cursor row) and to COM1 */
        mov     $msg_pm, %esi
        imul    $160, %ebp, %edi        /* 80 cells of 2 bytes per row */
        add     $0xb8000, %edi
4:      lodsb
        test    %al, %al
        jz      6f
        cmp     $'\n', %al
        je      5f
        mov     $0x2f, %ah              /* white on green */
        mov     %ax, (%edi)
        add     $2, %edi
5:      mov     %al, %bl
        mov     $0x3fd, %dx             /* LSR: wait for THR empty (bit 5) */
7:      in      %dx, %al
        test    $0x20, %al
        jz      7b
        mov     $0x3f8, %dx
        mov     %bl, %al
        out     %al, %dx
        jmp     4b

6:      xor     %al, %al
        out     %al, $0xf4              /* exit device: status (0<<1)|1 = 1 */
8:      hlt                             /* no exit device: stop here */
        jmp     8b

msg_real:
        .asciz  "Traplab boot sector: real mode, BIOS teletype\r\n"
msg_pm:
        .asciz  "Traplab boot sector: now in 32-bit protected mode\n"

        .align 8
gdt:    .quad 0                         /* null */
        .quad 0x00cf9a000000ffff        /* 0x08 code, base 0, 4 GiB, 32-bit */
        .quad 0x00cf92000000ffff        /* 0x10 data, base 0, 4 GiB */
gdt_desc:
        .word gdt_desc - gdt - 1
        .long gdt

        .org    510
        .byte   0x55, 0xaa              /* boot signature */
