/*
 * guest.h - included by the guest code files (guest_*.S).
 *
 * STEP insn: emits the instruction and records the address right after it in
 * the .steps section, so that the host can resume the guest past an
 * intercepted instruction without decoding it (see skip_insn in vmcb.c).
 */
        .macro  STEP insn:vararg
        \insn
999:
        .pushsection .steps, "a"
        .long   999b
        .popsection
        .endm

        /* report: VMMCALL with EAX = tag; the host prints EAX..EDX */
        .macro  REPORT tag
        mov     $\tag, %eax
        STEP    vmmcall
        .endm
