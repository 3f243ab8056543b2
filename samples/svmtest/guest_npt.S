/*
 * guest_npt.S - a guest with its own legacy two-level paging running over
 * nested page tables (AMD64 APM vol. 2, 15.25 "Nested Paging"). npt.c sets
 * EBX = a page whose nested entry is not present, ESI = a page that is
 * read-only in the nested tables, EDI = a linear address whose guest page
 * table is not present in the nested tables, EBP = a linear address whose
 * guest-physical page lies in a 2 MiB nested page.
 * Every access that takes a nested page fault is retried after the host
 * fixes the nested entry, so the guest runs straight through.
 */
#include "guest.h"
        .section .guest, "ax"
        .global g_npt
g_npt:
        mov     (%ebx), %ebx            /* NPF: final translation, not present */
        movl    $0x5A5A, (%esi)         /* NPF: final translation, write to read-only */
        mov     (%edi), %ecx            /* NPF: guest page-table walk, not present */
        mov     (%esi), %edx
        REPORT  0x4E7                   /* EBX, ECX, EDX: what the guest read */
        mov     (%ebp), %ebx            /* through a 2 MiB nested page */
        REPORT  0x2B
        STEP    hlt
