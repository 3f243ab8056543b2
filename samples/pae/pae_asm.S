/*
 * pae_asm.S - the parts of the PAE test guest that C cannot say: probes that
 * read or write one address and survive a page fault, and the #PF handler
 * that records CR2 and the error code and resumes after the probe.
 */
        .section .text
        .global probe_read, probe_write, pf_entry, bad_entry
        .global pf_count, pf_err, pf_cr2

/* u32 probe_read(u32 addr): the dword at addr, or 0 after a page fault. */
probe_read:
        mov     4(%esp), %ecx
        xor     %eax, %eax
pr_insn:
        mov     (%ecx), %eax
pr_done:
        ret

/* void probe_write(u32 addr, u32 v) */
probe_write:
        mov     4(%esp), %ecx
        mov     8(%esp), %edx
pw_insn:
        mov     %edx, (%ecx)
pw_done:
        ret

/* #PF: [esp] = error code, [esp+4] = EIP of the faulting probe. */
pf_entry:
        push    %eax
        mov     %cr2, %eax
        mov     %eax, pf_cr2
        mov     4(%esp), %eax
        mov     %eax, pf_err
        incl    pf_count
        mov     8(%esp), %eax
        cmp     $pr_insn, %eax
        je      1f
        cmp     $pw_insn, %eax
        je      2f
        mov     $3, %al                 /* a fault outside a probe: exit status 7 */
        outb    %al, $0xf4
        cli
        hlt
1:      movl    $pr_done, 8(%esp)
        jmp     3f
2:      movl    $pw_done, 8(%esp)
3:      pop     %eax
        add     $4, %esp                /* drop the error code */
        iret

/* Any other exception: exit status 9. */
bad_entry:
        mov     $4, %al
        outb    %al, $0xf4
        cli
        hlt

        .section .bss
        .align 4
pf_count: .long 0
pf_err:   .long 0
pf_cr2:   .long 0
