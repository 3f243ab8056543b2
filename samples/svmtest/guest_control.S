/*
 * guest_control.S - guest code for the control-area fields of AMD64 APM
 * vol. 2: TSC_OFFSET (15.30.4 "TSC Ratio"/15.5.1: RDTSC in the guest returns
 * TSC + TSC_OFFSET), ASID and TLB_CONTROL (15.16 "TLB Control").
 */
#include "guest.h"
        .section .guest, "ax"
        .global g_tsc, g_tlb, tsc_seen

/* RDTSC not intercepted: store what the guest sees */
g_tsc:
        rdtsc
        mov     %eax, tsc_seen
        mov     %edx, tsc_seen + 4
        STEP    hlt

/* paging on; EBX = a linear address: report the word it reads */
g_tlb:
        mov     (%ebx), %ebx
        REPORT  0x71B
        STEP    hlt

        .section .bss
        .align  8
tsc_seen:
        .space  8
