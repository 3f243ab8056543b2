/*
 * guest_basic.S - guest code for the instruction intercepts of AMD64 APM
 * vol. 2: 15.8 (CR/DR), 15.9 (INTn, descriptor-table reads, PUSHF/POPF,
 * IRET, CPUID, HLT, INVLPG, RDTSC), 15.10 (IOIO through the I/O permission
 * map), 15.11 (MSR permission map), 15.12 (exceptions, shutdown).
 * Each routine runs as a guest (flat 32-bit ring 0) and ends with HLT,
 * which the host always intercepts. The host sets the intercepts.
 */
#include "guest.h"
        .section .guest, "ax"
        .global g_cpuid, g_hlt, g_vmmcall, g_ioio, g_msr, g_cr, g_cr0sel
        .global g_exc, g_pf, g_intn, g_pushf, g_iret, g_desc, g_rdtsc_exit
        .global g_invlpg, g_shutdown, g_svminsn, g_dr, g_misc, g_descw

g_cpuid:
        xor     %eax, %eax
        STEP    cpuid
        mov     $0x8000000A, %eax
        STEP    cpuid
        STEP    hlt

g_hlt:
        STEP    hlt

g_vmmcall:
        mov     $0x11, %ebx
        mov     $0x22, %ecx
        mov     $0x33, %edx
        REPORT  0xCA11
        STEP    hlt

/* I/O: ports 0xE0 (immediate forms), 0x510 and 0x511 (DX forms) are
 * intercepted, 0x50F is not, but a 16-bit access there also touches 0x510. */
g_ioio:
        STEP    inb $0xE0, %al
        STEP    inw $0xE0, %ax
        STEP    inl $0xE0, %eax
        STEP    outb %al, $0xE0
        STEP    outw %ax, $0xE0
        STEP    outl %eax, $0xE0
        mov     $0x510, %dx
        STEP    inb %dx, %al
        STEP    inw %dx, %ax
        STEP    inl %dx, %eax
        STEP    outb %al, %dx
        STEP    outw %ax, %dx
        STEP    outl %eax, %dx
        mov     $iobuf, %edi
        mov     $iobuf, %esi
        mov     $4, %ecx
        STEP    insb
        STEP    insw
        STEP    insl
        STEP    outsb
        STEP    outsw
        STEP    outsl
        STEP    rep insb
        STEP    rep insw
        STEP    rep outsl
        mov     $0x511, %dx
        STEP    addr16 rep outsb        /* 16-bit address size, on its own port */
        mov     $0x50F, %dx
        STEP    inw %dx, %ax            /* bytes 0x50F and 0x510: intercepted */
        mov     $0x5A, %al
        outb    %al, $0x80              /* port 0x80: not in the IOPM, no exit */
        REPORT  0x10
        STEP    hlt

/* MSRs: TSC (0x10) reads and STAR (0xC0000081) writes are intercepted;
 * 0x40000000 lies outside the MSRPM ranges; EFER reads are not intercepted. */
g_msr:
        mov     $0x10, %ecx
        STEP    rdmsr
        mov     $0xC0000081, %ecx
        xor     %eax, %eax
        xor     %edx, %edx
        STEP    wrmsr
        mov     $0x40000000, %ecx
        STEP    rdmsr
        mov     $0xC0000080, %ecx
        rdmsr                           /* not intercepted: the guest's own EFER */
        mov     %eax, %ebx
        REPORT  0x150
        STEP    hlt

g_cr:
        STEP    mov %cr0, %eax
        STEP    mov %cr3, %ebx
        STEP    mov %cr4, %ecx
        mov     $0x11, %eax
        STEP    mov %eax, %cr0
        xor     %edx, %edx
        STEP    mov %edx, %cr3
        STEP    mov %edx, %cr4
        STEP    hlt

g_dr:
        STEP    mov %dr7, %eax
        STEP    mov %dr6, %ebx
        xor     %ecx, %ecx
        STEP    mov %ecx, %dr0
        STEP    mov %ecx, %dr7
        STEP    hlt

/* only the CR0 selective-write intercept: TS and MP changes do not exit */
g_cr0sel:
        mov     %cr0, %eax
        or      $0x8, %eax
        mov     %eax, %cr0              /* TS = 1 */
        or      $0x2, %eax
        mov     %eax, %cr0              /* MP = 1 */
        and     $~0xA, %eax
        mov     %eax, %cr0              /* both back to 0 */
        or      $0x40000000, %eax
        STEP    mov %eax, %cr0          /* CD = 1: exits */
        mov     %cr0, %ebx
        REPORT  0xC0
        STEP    hlt

g_exc:
        mov     $1, %eax
        xor     %edx, %edx
        xor     %ecx, %ecx
        STEP    div %ecx                /* #DE */
        STEP    ud2                     /* #UD */
        mov     $0x18, %ax
        STEP    mov %ax, %ds            /* #GP(0x18): beyond the GDT limit */
        STEP    hlt

/* with paging on; EBX = a page that is not present */
g_pf:
        STEP    movl (%ebx), %eax       /* read: #PF error 0 */
        STEP    movl %eax, 4(%ebx)      /* write: #PF error 2 */
        STEP    hlt

g_intn:
        STEP    int $0x30
        STEP    int $0x80
        STEP    hlt

g_pushf:
        STEP    pushf
        STEP    popf
        STEP    hlt

g_iret:
        pushf
        push    %cs
        push    $1f
        STEP    iret
1:      add     $12, %esp
        STEP    hlt

g_desc:
        STEP    sidt iobuf
        STEP    sgdt iobuf
        STEP    sldt %ax
        STEP    str %ax
        STEP    hlt

/* LIDT/LGDT with the current values, LLDT 0 */
g_descw:
        sidt    iobuf
        sgdt    iobuf + 8
        STEP    lidt iobuf
        STEP    lgdt iobuf + 8
        xor     %eax, %eax
        STEP    lldt %ax
        STEP    hlt

/* INVD, WBINVD, PAUSE, ICEBP, RDPMC intercepted; SKINIT is #UD (#UD intercepted) */
g_misc:
        STEP    invd
        STEP    wbinvd
        STEP    pause
        STEP    .byte 0xF1              /* ICEBP (INT1) */
        xor     %ecx, %ecx
        STEP    rdpmc
        STEP    skinit
        STEP    hlt

g_rdtsc_exit:
        STEP    rdtsc
        STEP    hlt

g_invlpg:
        mov     $0x12345678, %ebx
        STEP    invlpg (%ebx)
        STEP    hlt

/* an IDT with limit 0: #UD -> #GP -> #DF -> shutdown */
g_shutdown:
        lidt    null_idtr
        STEP    ud2
        STEP    hlt

/* the SVM instructions themselves, executed by the guest and intercepted */
g_svminsn:
        mov     $vmcb, %eax
        STEP    vmrun
        STEP    vmload
        STEP    vmsave
        STEP    stgi
        STEP    clgi
        xor     %ecx, %ecx
        STEP    invlpga
        STEP    hlt

        .section .rodata
        .align  4
null_idtr:
        .word   0
        .long   0
        .section .bss
        .align  16
iobuf:  .space  64
