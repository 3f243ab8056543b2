/*
 * nptloop_asm.S - the world switch and the guest of nptloop.
 *
 * svm_run(vmcb_pa): VMRUN (AMD64 APM vol. 2, 15.5) and back after #VMEXIT
 * (15.6). #VMEXIT restores only RAX, RSP, RIP, RFLAGS, CR0/3/4, EFER, GDTR,
 * IDTR and ES/CS/SS/DS from the host save area, so the host's callee-saved
 * registers are kept on its stack around VMRUN. GIF is 0 after #VMEXIT: STGI.
 *
 * The guest: EAX = iteration count on entry; it reads probe_a (which the
 * nested tables map to another host page) into guest_seen, runs the loop of
 * samples/bench (intloop) on its own stack and reports the checksum to the
 * host with VMMCALL (EAX), then halts (both intercepted).
 * guest_cpuid (cmdline cpuid=N): reads probe_a the same way, runs CPUID
 * N times (each one an intercepted exit), then VMMCALL and HLT. Its count
 * lives in memory (cpuid_left): svm_run does not keep the guest's general
 * registers across an exit (only RAX is in the VMCB), as a real VMM would.
 */
        .text
        .global svm_run, guest_entry, guest_cpuid
svm_run:
        push    %ebp
        push    %ebx
        push    %esi
        push    %edi
        mov     20(%esp), %eax
        vmrun
        stgi
        pop     %edi
        pop     %esi
        pop     %ebx
        pop     %ebp
        ret

guest_entry:
        mov     probe_a, %ecx           /* nested tables map it to probe_b's page */
        mov     %ecx, guest_seen
        push    %eax
        call    intloop
        add     $4, %esp
        vmmcall
        hlt
        jmp     guest_entry

guest_cpuid:
        mov     probe_a, %ecx
        mov     %ecx, guest_seen
1:      xor     %eax, %eax
        cpuid
        decl    cpuid_left
        jnz     1b
        vmmcall
        hlt
        jmp     guest_cpuid
