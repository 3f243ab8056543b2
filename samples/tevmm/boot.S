/*
 * boot.S - multiboot entry of tevmm: turn paging on and move to the top of the address space.
 *
 * The loader puts us at 4 MiB (physical) and jumps to _start with paging off (Multiboot 0.6.96
 * section 3.2). We build one page directory (Intel SDM Vol. 3A 4.3, 32-bit paging) with two
 * page tables: mon_pts[0..1023] maps physical 0-4 MiB (the guest's memory) and
 * mon_pts[1024..2047] maps 4-8 MiB (this monitor). Each is mapped twice: at its own address
 * (identity, so this code keeps running and main.c can read the multiboot data) and high,
 * at 0xFF800000 (guest window) and 0xFFC00000 (the monitor). CR0.WP is set so that even
 * ring 1 cannot write a read-only page: that is what write-protects the guest's page tables.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003             /* page-align modules, give us memory info */
#define OFFSET   (0xFFC00000 - 0x00400000)

        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

        .section .boot, "ax"
        .global _start
_start:
        cli
        mov     %eax, %esi              /* multiboot magic */
        mov     %ebx, %ebp              /* multiboot information (physical) */
        /* both page tables: entry i maps physical i * 4 KiB, present + writable, supervisor */
        mov     $(mon_pts - OFFSET), %edi
        mov     $0x3, %eax
        mov     $2048, %ecx
1:      stosl
        add     $0x1000, %eax
        loop    1b
        mov     $(boot_pd - OFFSET), %edi
        mov     $(mon_pts - OFFSET + 3), %eax
        mov     %eax, 0(%edi)           /* 0x00000000: guest memory, identity */
        mov     %eax, 4088(%edi)        /* 0xFF800000: guest memory, monitor window */
        add     $0x1000, %eax
        mov     %eax, 4(%edi)           /* 0x00400000: monitor, identity */
        mov     %eax, 4092(%edi)        /* 0xFFC00000: monitor, high */
        mov     %edi, %cr3
        mov     %cr0, %eax
        or      $0x80010000, %eax       /* PG | WP */
        mov     %eax, %cr0
        mov     $high, %eax
        jmp     *%eax

        .text
high:   mov     $mon_stack_top, %esp
        push    %ebp
        push    %esi
        call    tevmm_main
2:      cli
        hlt
        jmp     2b

        .bss
        .align 4096
        .global mon_pts, boot_pd
mon_pts: .space 8192
boot_pd: .space 4096
        .align 16
        .global mon_stack_top
        .space  16384
mon_stack_top:
