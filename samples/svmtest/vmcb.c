/*
 * vmcb.c - building a guest's VMCB and reading a #VMEXIT back.
 *
 * Mirrors AMD64 APM vol. 2: 15.5.1 (the state VMRUN loads from the VMCB
 * save area), 15.6 (what #VMEXIT writes: EXITCODE, EXITINFO1/2,
 * EXITINTINFO, and NextRIP when CPUID 0x8000000A EDX bit 3 says so), and
 * appendix C (exit code names). The host loop prints one line per #VMEXIT.
 *
 * Skipping an intercepted instruction: this CPU may not save NextRIP, so the
 * guest code marks the address after every instruction that is expected to
 * exit (the STEP macro of guest.h puts it in the .steps section); the host
 * resumes the guest at the first mark above the exit's RIP.
 */
#include "svm.h"

u8 vmcb[4096] PAGE;
struct gregs g;
int nrips;
u32 total_exits, failures;
extern u32 __steps_start[], __steps_end[];
extern u8 guest_stack_top[];
extern u32 guest_idt[];
extern u16 guest_idt_limit;

void put(const char *s) { serial_puts(s); }

void puthex(u64 v)
{
    char b[19];
    int i = 18;
    b[i] = 0;
    do {
        b[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    b[--i] = 'x';
    b[--i] = '0';
    put(b + i);
}

void check(const char *what, int ok)
{
    put(ok ? "  check ok: " : "  check FAILED: ");
    put(what);
    put("\n");
    if (!ok)
        failures++;
}

static void seg(u32 off, u16 sel, u16 attr)
{
    w16(off, sel);
    w16(off + 2, attr);
    w32(off + 4, 0xFFFFFFFF);
    w64(off + 8, 0);
}

void vmcb_guest(u32 entry)
{
    struct { u16 limit; u32 base; } __attribute__((packed)) gdtr;
    __asm__ volatile("sgdt %0" : "=m"(gdtr));
    memset(vmcb, 0, sizeof vmcb);
    memset(&g, 0, sizeof g);
    /* VMRUN must be intercepted and the ASID non-zero (APM 15.5.1 consistency checks) */
    w32(VMCB_INTERCEPT3, I3_HLT);
    w32(VMCB_INTERCEPT4, I4_VMRUN);
    w32(VMCB_ASID, 1);
    /* flat ring-0 32-bit segments: attrib = descriptor bits 47:40 and 55:52 */
    seg(VMCB_CS, 0x08, 0xC9B);
    seg(VMCB_SS, 0x10, 0xC93);
    seg(VMCB_DS, 0x10, 0xC93);
    seg(VMCB_ES, 0x10, 0xC93);
    w16(VMCB_GDTR + 0, 0);
    w32(VMCB_GDTR + 4, gdtr.limit);
    w64(VMCB_GDTR + 8, gdtr.base);
    w32(VMCB_IDTR + 4, guest_idt_limit);
    w64(VMCB_IDTR + 8, (u32)guest_idt);
    w8(VMCB_CPL, 0);
    w64(VMCB_EFER, 1u << 12);        /* the guest's EFER.SVME must be 1 */
    w64(VMCB_CR0, 0x11);             /* PE + ET, no paging */
    w64(VMCB_DR7, 0x400);
    w64(VMCB_DR6, 0xFFFF0FF0);
    w64(VMCB_RFLAGS, 0x2);
    w64(VMCB_RIP, entry);
    w64(VMCB_RSP, (u32)guest_stack_top);
    w64(VMCB_G_PAT, 0x0007040600070406ull);
}

/* the first STEP mark above rip: the address after the instruction at rip */
static u32 next_insn(u32 rip)
{
    u32 best = 0;
    for (u32 *p = __steps_start; p < __steps_end; p++)
        if (*p > rip && (best == 0 || *p < best))
            best = *p;
    return best;
}

void skip_insn(void) { w64(VMCB_RIP, next_insn((u32)r64(VMCB_RIP))); }

static const char *const exc_names[32] = {
    "DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM", "DF", "09", "TS", "NP", "SS", "GP", "PF", "15",
    "MF", "AC", "MC", "XF", "20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "SX", "31"};
static const char *const names_60[] = {
    "INTR", "NMI", "SMI", "INIT", "VINTR", "CR0_SEL_WRITE", "IDTR_READ", "GDTR_READ",
    "LDTR_READ", "TR_READ", "IDTR_WRITE", "GDTR_WRITE", "LDTR_WRITE", "TR_WRITE", "RDTSC", "RDPMC",
    "PUSHF", "POPF", "CPUID", "RSM", "IRET", "SWINT", "INVD", "PAUSE",
    "HLT", "INVLPG", "INVLPGA", "IOIO", "MSR", "TASK_SWITCH", "FERR_FREEZE", "SHUTDOWN",
    "VMRUN", "VMMCALL", "VMLOAD", "VMSAVE", "STGI", "CLGI", "SKINIT", "RDTSCP",
    "ICEBP", "WBINVD", "MONITOR", "MWAIT", "MWAIT_CONDITIONAL"};

static void put_exit_name(u64 code)
{
    if (code == ~0ull) {
        put("INVALID");
    } else if (code < 0x20) {
        put(code < 0x10 ? "CR" : "CR");
        serial_putu((u32)code & 15);
        put(code < 0x10 ? "_READ" : "_WRITE");
    } else if (code < 0x40) {
        put("DR");
        serial_putu((u32)code & 15);
        put(code < 0x30 ? "_READ" : "_WRITE");
    } else if (code < 0x60) {
        put("EXCP_");
        put(exc_names[code - 0x40]);
    } else if (code < 0x60 + sizeof names_60 / sizeof names_60[0]) {
        put(names_60[code - 0x60]);
    } else if (code == EXIT_NPF) {
        put("NPF");
    } else {
        put("UNKNOWN");
    }
}

void print_exit(const char *name)
{
    u64 code = r64(VMCB_EXITCODE);
    total_exits++;
    put(name);
    put(": ");
    put_exit_name(code);
    put(" code=");
    puthex(code);
    put(" info1=");
    puthex(r64(VMCB_EXITINFO1));
    put(" info2=");
    puthex(r64(VMCB_EXITINFO2));
    /* After SHUTDOWN the guest state in the VMCB is undefined (APM 15.12);
     * after VMEXIT_INVALID no guest ran. EXITINTINFO means something only
     * with its V bit (APM 15.7.2). */
    int undefined = code == EXIT_SHUTDOWN || (u32)code == 0xFFFFFFFF;
    u64 intinfo = r64(VMCB_EXITINTINFO);
    put(" intinfo=");
    if (undefined || !(intinfo & EV_VALID))
        put("-");
    else
        puthex(intinfo);
    put(" eip=");
    if (undefined)
        put("-");
    else
        puthex(r64(VMCB_RIP));
    if (nrips && !undefined) {
        put(" nrip=");
        puthex(r64(VMCB_NEXT_RIP));
    }
    if (code == EXIT_VMMCALL) {  /* the guest's report: EAX..EDX */
        put(" eax=");
        puthex(r64(VMCB_RAX) & 0xFFFFFFFF);
        put(" ebx=");
        puthex(g.ebx);
        put(" ecx=");
        puthex(g.ecx);
        put(" edx=");
        puthex(g.edx);
    }
    put("\n");
    /* NextRIP, when written (non-zero), is the address after the intercepted instruction */
    u64 nrip = r64(VMCB_NEXT_RIP);
    if (nrips && !undefined && nrip != 0 && nrip != next_insn((u32)r64(VMCB_RIP)))
        check("NextRIP is the address after the intercepted instruction", 0);
}


int run_once(const char *name)
{
    svm_run((u32)vmcb, &g);
    print_exit(name);
    return (int)r64(VMCB_EXITCODE);
}

/* Runs the guest until it exits on HLT (or SHUTDOWN, INVALID, an NPF) or
 * max_exits exits, resuming after every other intercepted instruction. */
int run_guest(const char *name, int max_exits)
{
    int code = 0;
    for (int i = 0; i < max_exits; i++) {
        code = run_once(name);
        if (code == EXIT_HLT || code == EXIT_SHUTDOWN || code == -1 || code == EXIT_NPF ||
            code == EXIT_VINTR)
            return code;
        skip_insn();
    }
    return code;
}
