/*
 * ledger.c - hv1's trap ledger: every #VMEXIT counted by exit code (AMD64
 * APM vol. 2, appendix C) per VM, and the time split between the worlds
 * (hv1, each VM, hv1 idle) with the TSC. On Traplab the TSC is the virtual
 * clock (retired instructions + halted ticks + the charged VMRUN/#VMEXIT
 * costs), so these are the virtual-time figures; `traplab run --stats`
 * gives the retired instructions of each world. Printed by the `ledger`
 * command and when the last VM stops.
 */
#include "hv1.h"

u64 tsc_start, tsc_idle;

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
    hv_put(" exits by code (count, mean TSC in hv1 per exit):\n");
    for (int r = 0; r < L_NROWS; r++) {         /* every row, zeros too: a fixed shape */
        hv_put("hv1:   ");
        hv_put(row_names[r]);
        hv_put(" ");
        hv_putu(v->exits[r]);
        hv_put(" ");
        put_u64(v->exits[r] ? div64(v->exit_tsc[r], v->exits[r]) : 0);
        hv_put("\n");
    }
}

void ledger_print(void)
{
    u64 total = rdtsc() - tsc_start, guests = 0;
    hv_put("hv1: ---- ledger ----\n");
    for (u32 i = 0; i < nvms; i++) {
        ledger_exits(&vms[i]);
        guests += vms[i].tsc_guest;
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
    hv_put("hv1: TSC in hv1 ");
    put_u64(total - guests - tsc_idle);
    hv_put(", idle ");
    put_u64(tsc_idle);
    hv_put("\n");
}
