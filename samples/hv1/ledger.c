/*
 * ledger.c - hv1's trap ledger: every #VMEXIT counted by exit code (AMD64
 * APM vol. 2, appendix C) per VM, and the time split between the worlds
 * (hv1, each VM, hv1 idle) in virtual time and in instructions. Virtual time
 * is the TSC: on Traplab the virtual clock (retired instructions + halted
 * ticks + the charged VMRUN/#VMEXIT costs). Instructions come from AMD's
 * instructions-retired counter, the IRPerfCount MSR 0xC000_00E9 (AMD64 APM
 * vol. 2, CPUID Fn8000_0008_EBX[1]; Traplab has it, QEMU 7.2 does not: then
 * "-"). entry.S reads both next to VMRUN and right after #VMEXIT, before any
 * host interrupt; the instructions of entry.S between the reads are hv1's
 * and are taken off the guest's figures here. Printed by the `ledger`
 * command and when the last VM stops.
 */
#include "hv1.h"

u64 tsc_start, tsc_idle, insns_start, insns_idle;
int hv_irperf;
u64 tsc_in, tsc_out, insns_in, insns_out;

/* entry.S's instructions between its reads (counted in its listing): from the
 * RDMSR before VMRUN to the RDMSR after #VMEXIT, and from RDTSC to RDTSC. */
#define GUEST_WINDOW_HOST_INSNS 33
#define GUEST_WINDOW_HOST_TSC 24

u64 insns(void)
{
    return hv_irperf ? rdmsr(0xC00000E9) : 0;
}

void ledger_run(struct vm *v)
{
    u64 dt = tsc_out - tsc_in, di = insns_out - insns_in;
    v->tsc_guest += dt > GUEST_WINDOW_HOST_TSC ? dt - GUEST_WINDOW_HOST_TSC : 0;
    if (hv_irperf)
        v->insns_guest += di > GUEST_WINDOW_HOST_INSNS ? di - GUEST_WINDOW_HOST_INSNS : 0;
}

const char *const row_names[L_NROWS] = {
    "INTR (a real interrupt)", "VINTR (guest can take its IRQ)", "CPUID", "HLT", "IOIO",
    "MSR", "SHUTDOWN (triple fault)", "VMMCALL", "NPF", "SVM instructions", "other"};

int ledger_row(u32 code)
{
    switch (code) {
    case EXIT_INTR: return L_INTR;
    case EXIT_VINTR: return L_VINTR;
    case EXIT_CPUID: return L_CPUID;
    case EXIT_HLT: return L_HLT;
    case EXIT_IOIO: return L_IOIO;
    case EXIT_MSR: return L_MSR;
    case EXIT_SHUTDOWN: return L_SHUTDOWN;
    case EXIT_VMMCALL: return L_VMMCALL;
    case EXIT_NPF: return L_NPF;
    default: return code >= EXIT_VMRUN && code <= EXIT_SKINIT ? L_SVM_INSN : L_OTHER;
    }
}

/* n / d by shift and subtract: no libgcc 64-bit division helpers */
static u64 div64(u64 n, u32 d)
{
    u64 q = 0, r = 0;
    for (int bit = 63; bit >= 0; bit--) {
        r = (r << 1) | ((n >> bit) & 1);
        q <<= 1;
        if (r >= d) {
            r -= d;
            q |= 1;
        }
    }
    return q;
}

static void put_u64(u64 n);

/* An instruction count, or "-" when the CPU counts none. */
static void put_insns(u64 n)
{
    if (hv_irperf)
        put_u64(n);
    else
        hv_put("-");
}

static void put_u64(u64 n)
{
    char b[21];
    int i = 20;
    b[i] = 0;
    do {
        u64 q = div64(n, 10);
        b[--i] = (char)('0' + (u32)(n - q * 10));
        n = q;
    } while (n);
    hv_put(b + i);
}

void ledger_exits(struct vm *v)
{
    hv_put("hv1: ");
    hv_put(v->name);
    hv_put(" exits by code (count, mean TSC and instructions in hv1 per exit):\n");
    for (int r = 0; r < L_NROWS; r++) {         /* every row, zeros too: a fixed shape */
        hv_put("hv1:   ");
        hv_put(row_names[r]);
        hv_put(" ");
        hv_putu(v->exits[r]);
        hv_put(" ");
        put_u64(v->exits[r] ? div64(v->exit_tsc[r], v->exits[r]) : 0);
        hv_put(" ");
        put_insns(v->exits[r] ? div64(v->exit_insns[r], v->exits[r]) : 0);
        hv_put("\n");
    }
}

void ledger_print(void)
{
    u64 total = rdtsc() - tsc_start, guests = 0;
    u64 total_i = insns() - insns_start, guests_i = 0;
    hv_put("hv1: ---- ledger ----\n");
    for (u32 i = 0; i < nvms; i++) {
        ledger_exits(&vms[i]);
        guests += vms[i].tsc_guest;
        guests_i += vms[i].insns_guest;
    }
    for (u32 i = 0; i < nvms; i++) {
        hv_put("hv1: TSC in ");
        hv_put(vms[i].name);
        hv_put(" ");
        put_u64(vms[i].tsc_guest);
        hv_put(", exits ");
        hv_putu(vms[i].exits_total);
        hv_put("\n");
    }
    for (u32 i = 0; i < nvms; i++) {
        hv_put("hv1: instructions in ");
        hv_put(vms[i].name);
        hv_put(" ");
        put_insns(vms[i].insns_guest);
        hv_put(", exits per 1000 of them ");
        if (hv_irperf && vms[i].insns_guest) {   /* two decimals */
            u64 per = div64((u64)vms[i].exits_total * 100000, (u32)(vms[i].insns_guest >> 32 ? 0xFFFFFFFFu : vms[i].insns_guest));
            put_u64(div64(per, 100));
            hv_put(".");
            hv_putu((u32)(per - div64(per, 100) * 100) / 10);
            hv_putu((u32)(per - div64(per, 10) * 10));
        } else {
            hv_put("-");
        }
        hv_put("\n");
    }
    hv_put("hv1: TSC in hv1 ");
    put_u64(total - guests - tsc_idle);
    hv_put(", idle ");
    put_u64(tsc_idle);
    hv_put("\n");
    hv_put("hv1: instructions in hv1 ");
    put_insns(total_i - guests_i - insns_idle);
    hv_put(", idle ");
    put_insns(insns_idle);
    hv_put("\n");
}
