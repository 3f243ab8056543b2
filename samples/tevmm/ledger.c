/*
 * ledger.c - the trap ledger: why the guest left its own code, and how much it cost.
 *
 * Counts every trap by cause (the emulated instruction's mnemonic; hidden vs true guest page
 * faults; interrupts reflected) and splits the time between the monitor and the guest with
 * the TSC, read at the start and the end of trap() in main.c. On Traplab the TSC is the
 * virtual clock: retired instructions plus the ticks spent halted, so the split is in
 * instructions (the monitor's HLT waits are subtracted; the ~23 instructions of entry.S
 * outside the window are added per trap: TRAP_STUB_INSNS). On other machines (QEMU) it is
 * TSC ticks, i.e. time. Printed on Ctrl-T from the serial line and when the guest ends.
 * Every count is also written to Traplab's monitor ledger port (LEDGER_PORT, tevmm.h;
 * emulator/src/trace/monitor.rs has the protocol): the names once at start, each count as it
 * happens, the totals when the ledger is printed and when the guest writes a workload marker
 * (port 0xEA, `traplab compare`), so that the host shows the numbers this file prints.
 * Also the monitor's serial output (COM1 transmit only; io.c owns the receive side).
 */
#define TEVMM_MONITOR
#include "tevmm.h"
#include "hypercall.h"

#define TRAP_STUB_INSNS 23

u32 ledger[C_NCAUSES];
u64 tsc_monitor, tsc_idle, tsc_start;
u32 traps_total;

#define L_RESET  0x00000000u
#define L_NAME   0x02000000u
#define L_SET    0x03000000u
#define L_REPORT 0x04000000u

static const char *const names[C_NCAUSES] = {
    "CLI", "STI", "HLT", "IRET", "POPF", "PUSHF", "IN", "OUT", "INS", "OUTS",
    "LGDT", "LIDT", "LLDT", "LTR", "MOV from CR", "MOV to CR", "INVLPG", "RDMSR", "WRMSR",
    "MOV to SS", "CLTS", "WBINVD/INVD",
    "SGDT", "SIDT", "SLDT", "STR", "SMSW", "LAR", "LSL", "VERR", "VERW",
    "PUSH Sreg", "POP Sreg", "MOV from Sreg", "MOV to DS/ES/FS/GS", "far JMP/CALL/RET",
    "#GP of the guest",
    "#PF hidden", "#PF page-table write", "#PF of the guest", "exceptions reflected",
    "INT n reflected", "IRQs reflected", "IRQs taken", "shadow rebuilds", "hypercalls",
};

static const char *const hc_names[HC_COUNT] = {
    0, "OUTB", "INB", "LGDT", "LIDT", "LTR", "READ_CR0", "WRITE_CR0", "READ_CR2",
    "WRITE_CR3", "INVLPG", "CLI", "STI", "IDLE", "CONSOLE_PUTC", "PTE_WRITE", "SHUTDOWN",
    "VCPU_READ", "SEG_CHECK",
};

static void declare(u32 id, const char *prefix, const char *name)
{
    for (const char *p = prefix; *p; p++) outl(LEDGER_PORT, L_NAME | id << 8 | (u8)*p);
    for (const char *p = name; *p; p++) outl(LEDGER_PORT, L_NAME | id << 8 | (u8)*p);
}

void ledger_declare(void)
{
    outl(LEDGER_PORT, L_RESET);
    for (u32 c = 0; c < C_NCAUSES; c++) declare(c, "", names[c]);
    for (u32 h = 1; h < HC_COUNT; h++) declare(LID_HYPERCALL + h, "hypercall ", hc_names[h]);
    declare(LID_TRAPS, "", "traps");
    declare(LID_TSC_MONITOR, "", "TSC in the monitor");
    declare(LID_TSC_GUEST, "", "TSC in the guest");
    declare(LID_TSC_HALTED, "", "TSC halted");
}

/* Where the time went so far (see the header comment). */
static void split(u64 *mon, u64 *guest)
{
    u64 now = rdtsc(), stub = (u64)traps_total * TRAP_STUB_INSNS;
    *mon = tsc_monitor - tsc_idle + stub;
    *guest = now - tsc_start - tsc_monitor - stub;
}

static void set64(u32 id, u64 v)
{
    for (int k = 3; k >= 0; k--) outl(LEDGER_PORT, L_SET | id << 16 | ((u32)(v >> (16 * k)) & 0xffff));
}

static void emit(u64 mon, u64 guest)
{
    set64(LID_TSC_MONITOR, mon);
    set64(LID_TSC_GUEST, guest);
    set64(LID_TSC_HALTED, tsc_idle);
}

void ledger_emit(void)
{
    u64 mon, guest;
    if (!tsc_start) return;
    split(&mon, &guest);
    emit(mon, guest);
}

void serial_init(void)
{
    outb(0x3f9, 0x00);
    outb(0x3fb, 0x80);
    outb(0x3f8, 0x01);
    outb(0x3f9, 0x00);
    outb(0x3fb, 0x03);
    outb(0x3fa, 0x00);
    outb(0x3fc, 0x03);
}

static void mputc(char c, void *ctx)
{
    (void)ctx;
    while (!(inb(0x3fd) & 0x20))
        ;
    outb(0x3f8, (u8)c);
}

void mprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(mputc, 0, fmt, ap);
    va_end(ap);
}

/* v / d for a 32-bit d with two DIVs (no libgcc: its helpers use instructions like ENDBR32). */
static u64 div64(u64 v, u32 d, u32 *rem)
{
    u32 hi = (u32)(v >> 32), lo = (u32)v, qhi = hi / d, r = hi % d, qlo;
    __asm__("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), "rm"(d));
    *rem = r;
    return ((u64)qhi << 32) | qlo;
}

static void put_u64(u64 v, int width)
{
    char b[21];
    int n = 0;
    u32 r;
    do { v = div64(v, 10, &r); b[n++] = (char)('0' + r); } while (v);
    for (int k = n; k < width; k++) mputc(' ', 0);
    while (n) mputc(b[--n], 0);
}

void ledger_print(void)
{
    u64 mon, guest;
    split(&mon, &guest);
    emit(mon, guest);
    outl(LEDGER_PORT, L_REPORT);
    mprintf("\ntevmm: trap ledger (count by cause)\n");
    for (int c = 0; c < C_NCAUSES; c++) {
        mprintf("tevmm:   %-24s", names[c]);
        put_u64(ledger[c], 10);
        mputc('\n', 0);
    }
    for (int h = 1; h < HC_COUNT && ledger[C_HYPERCALL]; h++) {
        mprintf("tevmm:     hypercall %-14s", hc_names[h]);
        put_u64(hc_count[h], 10);
        mputc('\n', 0);
    }
    mprintf("tevmm:   %-24s", "traps");
    put_u64(traps_total, 10);
    mprintf("\ntevmm:   %-24s", "TSC in the monitor");
    put_u64(mon, 10);
    mprintf("\ntevmm:   %-24s", "TSC in the guest");
    put_u64(guest, 10);
    mprintf("\ntevmm:   %-24s", "TSC halted");
    put_u64(tsc_idle, 10);
    u64 num = (u64)traps_total * 100000, den = guest;           /* traps per 1000, x100 */
    while (den >> 32) { den >>= 1; num >>= 1; }
    u32 r;
    u64 per = den ? div64(num, (u32)den, &r) : 0;
    mprintf("\ntevmm:   traps per 1000 guest TSC ticks: ");
    u32 cents;
    put_u64(div64(per, 100, &cents), 0);
    mputc('.', 0);
    mputc((char)('0' + cents / 10), 0);
    mputc((char)('0' + cents % 10), 0);
    mputc('\n', 0);
}

void stop_guest(const char *why)
{
    mprintf("tevmm: stopped: %s\n", why);
    if (tsc_start) ledger_print();               /* only once the guest has run */
    outb(0xf4, 0x7e);                        /* exit device: status 253 */
    for (;;) __asm__ volatile("cli; hlt");
}
