/*
 * memloop.S - memory and paging benchmark.
 *
 * memloop_paging_on(): identity-maps the first 8 MiB with 4 KiB pages
 * (one page directory, two page tables), loads CR3 and sets CR0.PG.
 * u32 memloop(u32 iters): a load/add/store loop over a 4 MiB buffer at
 * 4 MiB with a stride of 4100 bytes, so every iteration lands in another
 * page (1024 pages in all): 8 instructions per iteration, the default
 * 6,000,000 iterations retire about 50 million. The buffer is cleared
 * with REP STOSL first, so the checksum does not depend on initial RAM.
 */
#define BUF      0x400000
#define BUFMASK  0x3ffffc               /* 4 MiB, dword aligned */

        .text
        .global memloop_paging_on
memloop_paging_on:
        push    %edi
        /* two page tables: entry i maps page i (0..2047) present + writable */
        mov     $page_tables, %edi
        mov     $0x003, %eax            /* frame 0, P | RW */
        mov     $2048, %ecx
1:      mov     %eax, (%edi)
        add     $4, %edi
        add     $0x1000, %eax
        loop    1b
        /* page directory: two entries, the rest not present */
        mov     $page_dir, %edi
        xor     %eax, %eax
        mov     $1024, %ecx
        rep stosl
        mov     $page_tables + 0x003, %eax
        mov     %eax, page_dir
        add     $0x1000, %eax
        mov     %eax, page_dir + 4
        mov     $page_dir, %eax
        mov     %eax, %cr3
        mov     %cr0, %eax
        or      $0x80000000, %eax       /* CR0.PG */
        mov     %eax, %cr0
        jmp     2f                      /* paging is on from the next fetch */
2:      pop     %edi
        ret

        .global memloop
memloop:
        push    %ebx
        push    %esi
        push    %edi
        /* clear the buffer */
        mov     $BUF, %edi
        xor     %eax, %eax
        mov     $BUFMASK / 4 + 1, %ecx
        cld
        rep stosl
        mov     16(%esp), %ecx          /* iteration count */
        mov     $BUF, %esi
        xor     %edx, %edx              /* offset in the buffer */
        xor     %ebx, %ebx              /* checksum */
        test    %ecx, %ecx
        jz      4f
3:      mov     (%esi,%edx), %eax       /* load */
        add     %ecx, %eax
        mov     %eax, (%esi,%edx)       /* store */
        add     %eax, %ebx
        add     $4100, %edx             /* next page, 4 bytes further in it */
        and     $BUFMASK, %edx
        dec     %ecx
        jnz     3b
4:      mov     %ebx, %eax
        pop     %edi
        pop     %esi
        pop     %ebx
        ret

        .bss
        .align 4096
page_dir:    .space 4096
page_tables: .space 8192
