/*
 * guest_events.S - guest code for event injection and virtual interrupts
 * (AMD64 APM vol. 2, 15.20 "Event Injection", 15.21 "Interrupt and Local
 * APIC Support": V_IRQ, VINTR intercept, and 15.7.2 EXITINTINFO).
 * The handlers sit in the guest's own IDT (events.c builds it); each one
 * reports what the CPU delivered with VMMCALL: EAX = vector, EBX = error
 * code (0 when none), ECX = the EIP and EDX = the EFLAGS it pushed.
 */
#include "guest.h"
        .section .guest, "ax"
        .global g_event, g_intnp, g_vintr, g_intr, gh_02, gh_13, gh_30, gh_40, gh_41

g_event:                                /* entered with an event to inject */
        REPORT  0xE0                    /* back in the interrupted code */
        STEP    hlt

g_intnp:
        STEP    int $0x31               /* gate not present: #NP(0x31 * 8 + 2) */
        STEP    hlt

g_intr:                                 /* a one-instruction loop: the INTR exit */
        STEP    jmp g_intr              /* can only come with EIP = g_intr */
        REPORT  0xE2
        STEP    hlt

g_vintr:                                /* EFLAGS.IF = 1, V_IRQ pending */
        nop
        REPORT  0xE1
        STEP    hlt

        .macro  HANDLER name, vec, err
\name:
        .if \err
        pop     %ebx
        .else
        xor     %ebx, %ebx
        .endif
        mov     (%esp), %ecx
        mov     8(%esp), %edx
        REPORT  \vec
        iret
        .endm

        HANDLER gh_02, 0x02, 0
        HANDLER gh_13, 0x0D, 1
        HANDLER gh_30, 0x30, 0
        HANDLER gh_40, 0x40, 0
        HANDLER gh_41, 0x41, 0

        .section .bss
        .align  16
        .global guest_stack_top
        .space  4096
guest_stack_top:
