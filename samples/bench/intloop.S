/*
 * intloop.S - integer ALU benchmark: register-only add/sub/xor/shl/imul/cmp/jcc.
 * u32 intloop(u32 iters): 12 instructions per iteration when the branch is
 * taken, 13 when not; the default 4,000,000 iterations retire about 50 million.
 */
        .text
        .global intloop
intloop:
        push    %ebx
        push    %esi
        push    %edi
        mov     16(%esp), %ecx          /* iteration count */
        mov     $0x12345678, %eax
        mov     $0x9e3779b9, %edx
        xor     %edi, %edi              /* counts the not-taken branches */
        test    %ecx, %ecx
        jz      3f
1:      add     %edx, %eax
        imul    $0x01000193, %eax, %eax /* FNV-1 prime */
        xor     %ecx, %eax
        mov     %eax, %ebx
        shl     $5, %ebx
        sub     %ebx, %edx
        add     %eax, %edx
        mov     %edx, %esi
        cmp     %ebx, %eax              /* data-dependent branch */
        jae     2f
        inc     %edi
2:      dec     %ecx
        jnz     1b
3:      xor     %edx, %eax
        add     %edi, %eax
        pop     %edi
        pop     %esi
        pop     %ebx
        ret
