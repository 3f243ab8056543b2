/*
 * exit.c - what hv1 does for each #VMEXIT (AMD64 APM vol. 2, 15.6 "#VMEXIT",
 * appendix C exit codes): IOIO (15.10.2, EXITINFO1 = port, size, direction;
 * EXITINFO2 = the next RIP), HLT (yield), CPUID (15.9, reporting a
 * hypervisor), VMMCALL (the hvabi.h hypercalls), SHUTDOWN (15.12: a triple
 * fault ends that VM only), NPF (15.25.6: an access outside the VM's memory
 * ends it), MSR and the SVM instructions (#GP / #UD injected, as a CPU
 * without them would), INTR and VINTR (nothing to do here: main.c takes the
 * interrupt and injects the guest's).
 */
#include "hv1.h"
#include "../common/hvabi.h"

/* The intercepted instruction is done: the guest goes on after it, and an STI or MOV SS
 * shadow that covered it is over (`sti; hlt` must take the interrupt right after HLT). */
static void next(struct vm *v, u32 rip)
{
    w64(v, VMCB_RIP, rip);
    w32(v, VMCB_INT_SHADOW, 0);
}

static void skip(struct vm *v, u32 len) { next(v, (u32)r64(v, VMCB_RIP) + len); }

static void inject_exc(struct vm *v, u32 vec, int errcode)
{
    u64 ev = EV_VALID | EV_EXC | vec;
    if (errcode)
        ev |= 1u << 11;                     /* EV: push error code 0 */
    w64(v, VMCB_EVENTINJ, ev);
}

static void ioio(struct vm *v)
{
    u32 info = (u32)r64(v, VMCB_EXITINFO1);
    u16 port = (u16)(info >> 16);
    u32 mask = info & (1 << 4) ? 0xFF : info & (1 << 5) ? 0xFFFF : 0xFFFFFFFF;
    if (info & (1 << 2)) {                  /* INS/OUTS: minios does not use them */
        vm_stop(v, "string I/O is not emulated");
        return;
    }
    if (info & 1) {                         /* IN */
        u32 val = 0;
        vdev_in(v, port, &val);
        u32 rax = (u32)r64(v, VMCB_RAX);
        w64(v, VMCB_RAX, (rax & ~mask) | (val & mask));
    } else if (!vdev_out(v, port, (u32)r64(v, VMCB_RAX) & mask)) {
        vm_flush(v);
        hv_put("hv1: ");
        hv_put(v->name);
        hv_put(" wrote ");
        hv_putu((u32)r64(v, VMCB_RAX) & 0xFF);
        hv_put(" to the exit device\n");
        vm_stop(v, "powered off");
        return;
    }
    next(v, (u32)r64(v, VMCB_EXITINFO2));      /* EXITINFO2: the instruction after IN/OUT */
}

static u32 sig(const char *s, int i) { return *(const u32 *)(s + 4 * i); }

static void do_cpuid(struct vm *v)
{
    u32 leaf = (u32)r64(v, VMCB_RAX), a, b, c, d;
    cpuid(leaf, v->g.ecx, &a, &b, &c, &d);
    if (leaf == 1) {
        c |= HVABI_CPUID_HV_BIT;
    } else if (leaf == 0x80000001) {
        c &= ~(1u << 2);                    /* no SVM inside the VM (no nested hypervisors) */
    } else if (leaf == 0x8000000A) {
        a = b = c = d = 0;
    } else if (leaf == HVABI_CPUID_BASE) {
        a = HVABI_CPUID_VERSION;
        b = sig(HVABI_SIG_HV1, 0), c = sig(HVABI_SIG_HV1, 1), d = sig(HVABI_SIG_HV1, 2);
    } else if (leaf == HVABI_CPUID_VERSION) {
        a = HVABI_VERSION, b = c = d = 0;
    } else if ((leaf & 0xF0000000) == 0x40000000) {
        a = b = c = d = 0;
    }
    w64(v, VMCB_RAX, a);
    v->g.ebx = b, v->g.ecx = c, v->g.edx = d;
    skip(v, 2);                             /* 0F A2 */
}

static void vmmcall(struct vm *v)
{
    if ((u32)r64(v, VMCB_RAX) == HVABI_WHOAMI) {
        static const char name[12] = "hv1";
        w64(v, VMCB_RAX, HVABI_OK);
        v->g.ebx = sig(name, 0), v->g.ecx = sig(name, 1), v->g.edx = sig(name, 2);
        v->g.esi = v->num;
        v->g.edi = 1;                       /* type 1: bare metal */
    } else {
        w64(v, VMCB_RAX, HVABI_ENOSYS);
    }
    skip(v, 3);                             /* 0F 01 D9 */
}

static void npf(struct vm *v)
{
    char msg[64] = "NPF: access outside its memory at gPA 0x";
    u32 gpa = (u32)r64(v, VMCB_EXITINFO2), n = 0;
    while (msg[n])
        n++;
    for (int s = 28; s >= 0; s -= 4)
        msg[n++] = "0123456789abcdef"[(gpa >> s) & 15];
    msg[n] = 0;
    vm_stop(v, msg);
}

void handle_exit(struct vm *v)
{
    u32 code = (u32)r64(v, VMCB_EXITCODE);
    switch (code) {
    case EXIT_INTR:
    case EXIT_VINTR:
        break;
    case EXIT_IOIO: ioio(v); break;
    case EXIT_HLT:
        skip(v, 1);
        if (vpic_pending(v) < 0)
            v->state = VM_HALTED;           /* until an interrupt for it comes */
        break;
    case EXIT_CPUID: do_cpuid(v); break;
    case EXIT_VMMCALL: vmmcall(v); break;
    case EXIT_MSR: inject_exc(v, 13, 1); break;     /* no MSRs for guests: #GP(0) */
    case EXIT_VMRUN: case EXIT_VMLOAD: case EXIT_VMSAVE: case EXIT_STGI: case EXIT_CLGI:
    case EXIT_SKINIT: case EXIT_INVLPGA:
        inject_exc(v, 6, 0);                /* #UD: CPUID says there is no SVM */
        break;
    case EXIT_SHUTDOWN: vm_stop(v, "triple fault (#VMEXIT SHUTDOWN)"); break;
    case EXIT_NPF: npf(v); break;
    default: {
        char msg[] = "unexpected #VMEXIT 0x000";
        msg[21] = "0123456789abcdef"[(code >> 8) & 15];
        msg[22] = "0123456789abcdef"[(code >> 4) & 15];
        msg[23] = "0123456789abcdef"[code & 15];
        vm_stop(v, msg);
    }
    }
}
