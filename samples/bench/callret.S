/*
 * callret.S - call/ret/push/pop benchmark: naive recursive Fibonacci.
 * fib(25) makes 242,785 calls and retires about 2.2 million instructions (14 per inner call, 4 per leaf);
 * u32 callret(u32 iters) computes it iters times (default 23: ~50 million)
 * and returns the sum of the results plus the number of calls.
 */
        .text
        .global callret
callret:
        push    %ebx
        push    %esi
        mov     12(%esp), %esi          /* iteration count */
        xor     %ecx, %ecx              /* sum of results */
        movl    $0, calls
        test    %esi, %esi
        jz      2f
1:      mov     $25, %eax
        push    %ecx
        call    fib
        pop     %ecx
        add     %eax, %ecx
        dec     %esi
        jnz     1b
2:      mov     %ecx, %eax
        add     calls, %eax
        pop     %esi
        pop     %ebx
        ret

/* fib: EAX = n -> EAX = fib(n); preserves EBX */
fib:    incl    calls
        cmp     $2, %eax
        jb      1f                      /* fib(0) = 0, fib(1) = 1 */
        push    %ebx
        push    %eax
        dec     %eax
        call    fib                     /* fib(n-1) */
        mov     %eax, %ebx
        pop     %eax
        sub     $2, %eax
        call    fib                     /* fib(n-2) */
        add     %ebx, %eax
        pop     %ebx
1:      ret

        .bss
        .align 4
calls:  .long 0
