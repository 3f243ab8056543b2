/*
 * boot.S - the boot sector of apictest's disk form (apictest/boot.img): a
 * minimal Multiboot loader, so that apictest runs after a PC BIOS's POST
 * (its BIOS data area and EBDA, its MP table) instead of after a Multiboot
 * loader's boot.
 *
 * References: Intel MultiProcessor Specification 1.4, 4 (the BIOS leaves the
 * MP floating pointer in the first KiB of the EBDA, the last KiB of base
 * memory, or the BIOS ROM area F0000h-FFFFFh: apictest searches those);
 * Phoenix "BIOS Enhanced Disk Drive Specification" 3.0, INT 13h AH=42h
 * (extended read, a disk address packet); the System V ABI's ELF32 program
 * headers (PT_LOAD: copy p_filesz bytes from p_offset to p_paddr, zero the
 * rest up to p_memsz); Multiboot 0.6.96, 3.2 (the machine state a kernel is
 * entered in: 32-bit flat protected mode, EAX = 2BADB002h, EBX = the info
 * structure, here with flags 0: no information).
 *
 * Disk layout: sector 0 is this sector; after its first two bytes (a short
 * jump) comes the text apictest prints when it reads sector 0 through the
 * disk interrupt, the same as in apictest/disk.img, so that both forms print
 * the same lines. Sectors 16-79 hold apictest.elf, padded with zeros: it
 * starts at 8 KiB, past the first 8 KiB where a Multiboot loader (and
 * Traplab's image detection) looks for a Multiboot header, so the image is a
 * plain disk and not a hybrid that would boot as a kernel.
 *
 * On a read error or a file that is not an ELF it writes 1 to the exit
 * device (exit status 3) without printing anything.
 *
 * Build: as --32 + ld -Ttext 0x7c00 --oformat binary (see rules.mk).
 */
#define ELF_SEG  0x1000                 /* the ELF is read to 1000:0000 = 0x10000 */
#define FIRST    16                     /* the ELF's first sector (8 KiB in) */
#define SECTORS  64                     /* 32 KiB: rules.mk checks the ELF fits */

        .code16
        .section .text
        .global _start
_start:
        jmp     start
        .ascii  "sector 0 of the apictest disk\n"
        .byte   0

start:  cli
        ljmp    $0, $1f                 /* normalise CS:IP to 0000:7Cxx */
1:      xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7c00, %sp
        cld

        /* --- read sectors 16-79 with INT 13h AH=42h (DL = the boot drive) --- */
        mov     $dap, %si
        mov     $0x42, %ah
        int     $0x13
        jc      fail

        /* --- A20 by the fast A20 bit of port 92h, then 32-bit protected mode --- */
        in      $0x92, %al
        or      $0x02, %al
        and     $0xfe, %al              /* bit 0 would reset the machine */
        out     %al, $0x92
        lgdt    gdt_desc
        mov     %cr0, %eax
        or      $1, %eax                /* CR0.PE */
        mov     %eax, %cr0
        ljmp    $0x08, $pm32

fail:   mov     $1, %al                 /* exit status (1 << 1) | 1 = 3 */
        out     %al, $0xf4
2:      hlt
        jmp     2b

        .code32
pm32:   mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7c00, %esp

        /* --- load the ELF's PT_LOAD segments --- */
        mov     $(ELF_SEG << 4), %ebx
        cmpl    $0x464c457f, (%ebx)     /* "\177ELF" */
        jne     fail32
        mov     28(%ebx), %ebp          /* e_phoff */
        add     %ebx, %ebp
        movzwl  44(%ebx), %ecx          /* e_phnum */
        jecxz   fail32
3:      cmpl    $1, (%ebp)              /* p_type == PT_LOAD */
        jne     4f
        push    %ecx
        mov     4(%ebp), %esi           /* p_offset */
        add     %ebx, %esi
        mov     12(%ebp), %edi          /* p_paddr */
        mov     16(%ebp), %ecx          /* p_filesz */
        mov     20(%ebp), %edx          /* p_memsz */
        sub     %ecx, %edx
        rep movsb
        mov     %edx, %ecx              /* the .bss part: zeros */
        xor     %eax, %eax
        rep stosb
        pop     %ecx
4:      movzwl  42(%ebx), %eax          /* e_phentsize */
        add     %eax, %ebp
        loop    3b

        /* --- enter it as a Multiboot loader does --- */
        mov     24(%ebx), %ecx          /* e_entry */
        mov     $0x2badb002, %eax
        mov     $mbinfo, %ebx
        jmp     *%ecx

fail32: mov     $1, %al
        out     %al, $0xf4
5:      hlt
        jmp     5b

        .align 4
mbinfo: .long   0                       /* Multiboot info: flags 0, nothing else valid */
dap:    .byte   0x10, 0                 /* disk address packet: size, reserved */
        .word   SECTORS                 /* sectors to read */
        .word   0, ELF_SEG              /* buffer offset, segment */
        .quad   FIRST                   /* first sector (LBA) */

        .align 8
gdt:    .quad   0                       /* null */
        .quad   0x00cf9a000000ffff      /* 0x08 code, base 0, 4 GiB, 32-bit */
        .quad   0x00cf92000000ffff      /* 0x10 data, base 0, 4 GiB */
gdt_desc:
        .word   gdt_desc - gdt - 1
        .long   gdt

        .org    510
        .byte   0x55, 0xaa              /* boot signature */
