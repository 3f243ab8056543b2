/*
 * apictest.c - a test guest for the multiprocessor-era PC: the MP table, the
 * local APIC and the I/O APIC (run with `traplab run --apic`).
 *
 * References: Intel MultiProcessor Specification 1.4 (1997), 4 "MP
 * Configuration Table" (4.1 the floating pointer and where to search for it,
 * 4.2 the table header, 4.3 the base entries); Intel SDM Vol. 3A chapter 11
 * "Advanced Programmable Interrupt Controller (APIC)": 11.4 the local APIC's
 * page, IA32_APIC_BASE and the version register, 11.5.1 the LVT, 11.5.4 the
 * timer, 11.6.1 the ICR (self IPI), 11.8.3 task and processor priority, 11.8.5
 * EOI, 11.9 the spurious vector; the 82093AA I/O APIC datasheet, 3.2 its
 * registers and redirection table.
 *
 * It finds the MP table as the specification says (EBDA, then the last KiB of
 * base memory, then the BIOS ROM area), checks both checksums and prints what
 * it found; routes interrupts with the pins the table gives; enables the local
 * APIC; takes a self IPI, held back by the TPR first; runs the APIC timer in
 * one-shot, then periodic mode; takes keyboard interrupts (IRQ1: each byte of
 * the serial input is put in the 8042's output buffer with command D2h) and a
 * disk interrupt (IRQ14: an ATA READ SECTORS of sector 0) through the I/O
 * APIC; and checks a level-triggered entry's remote IRR around its EOI. One
 * line per check; the exit status says whether all passed.
 *
 * It prints nothing that differs between machines with the same architecture
 * (no addresses of the tables, no timer rates, no entry counts of buses other
 * than ISA), so its output is the same under QEMU (`-M pc -cpu pentium2`) and
 * Traplab.
 */
#include "../common/lib.h"

extern char vector_stubs[];

/* ---- small helpers ---------------------------------------------------- */
static void put(const char *s) { serial_puts(s); }
static void dec(u32 v) { serial_putu(v); }
static void hex2(u32 v) { serial_putc("0123456789abcdef"[(v >> 4) & 15]); serial_putc("0123456789abcdef"[v & 15]); }
static void hex8(u32 v) { serial_puthex(v); }
static u32 failures;

static void check(int ok, const char *what)
{
    put(ok ? "ok    " : "FAIL  ");
    put(what);
    put("\n");
    if (!ok)
        failures++;
}

static void finish(void)
{
    put(failures ? "apictest: some checks failed\n" : "apictest: all checks passed\n");
    outb(0xf4, failures ? 1 : 0);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* COM1 at 115200 8N1 with its FIFO off: enabling the FIFO would flush input bytes that
 * already arrived (the common serial_init does that). */
static void serial_setup(void)
{
    outb(0x3f9, 0x00); outb(0x3fb, 0x80); outb(0x3f8, 0x01); outb(0x3f9, 0x00);
    outb(0x3fb, 0x03); outb(0x3fa, 0x00); outb(0x3fc, 0x03);
}

static u32 rdmsr_lo(u32 msr) { u32 lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return lo; }

/* ---- the MP table (MP spec 4) ----------------------------------------- */
/* A BIOS data area word (an asm load: GCC takes low constant addresses for null pointers). */
static u16 bda16(u32 a) { u16 v; __asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(a)); return v; }

static u8 sum(const u8 *p, u32 n) { u8 s = 0; while (n--) s += *p++; return s; }

/* Searches [base, base+len) on 16-byte boundaries for a valid floating pointer. */
static const u8 *scan(u32 base, u32 len)
{
    for (u32 a = base; a + 16 <= base + len; a += 16) {
        const u8 *p = (const u8 *)a;
        if (p[0] == '_' && p[1] == 'M' && p[2] == 'P' && p[3] == '_' && p[8] == 1 && sum(p, 16) == 0)
            return p;
    }
    return 0;
}

static u32 isa_bus = 0xff, ioapic_addr, ioapic_id, lapic_addr;
static int isa_pin[16];                     /* I/O APIC pin of each ISA IRQ, -1 if none */

static void mp_table(void)
{
    u32 ebda = (u32)bda16(0x40e) << 4;
    u32 base_kib = bda16(0x413);
    const u8 *fp = 0;
    const char *where = "";
    /* 4: the first KiB of the EBDA, else the last KiB of base memory, else the ROM area. */
    if (ebda) {
        fp = scan(ebda, 1024);
        where = "the EBDA";
    } else {
        fp = scan((base_kib ? base_kib : 640) * 1024 - 1024, 1024);
        where = "the last KiB of base memory";
    }
    if (!fp) {
        fp = scan(0xf0000, 0x10000);
        where = "the BIOS ROM area (F0000h-FFFFFh)";
    }
    check(fp != 0, "mp: floating pointer \"_MP_\" found, checksum 0");
    if (!fp)
        finish();
    put("      in "); put(where); put(", revision 1."); dec(fp[9]);
    put(", feature byte 1 = "); dec(fp[11]); put(" (a table follows)\n");
    const u8 *t = (const u8 *)*(const u32 *)(fp + 4);
    u16 len = *(const u16 *)(t + 4);
    int ok = t && t[0] == 'P' && t[1] == 'C' && t[2] == 'M' && t[3] == 'P' && sum(t, len) == 0;
    check(ok, "mp: configuration table \"PCMP\", checksum 0");
    if (!ok)
        finish();
    lapic_addr = *(const u32 *)(t + 36);
    put("      local APIC at "); hex8(lapic_addr); put("\n");
    for (int i = 0; i < 16; i++)
        isa_pin[i] = -1;
    u16 n = *(const u16 *)(t + 34);
    const u8 *e = t + 44;
    u32 cpus = 0, lints = 0;
    u32 a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1));
    /* First pass: processors, buses and I/O APICs; second: interrupt assignments. */
    for (u16 k = 0; k < n; k++) {
        if (e[0] == 0) {
            cpus++;
            put("      processor: APIC ID "); dec(e[1]); put(",");
            put(e[3] & 1 ? " enabled" : " disabled");
            put(e[3] & 2 ? ", bootstrap processor" : "");
            put(*(const u32 *)(e + 4) == a ? ", signature = CPUID.1 EAX\n" : ", signature differs\n");
            e += 20;
            continue;
        }
        if (e[0] == 1 && e[2] == 'I' && e[3] == 'S' && e[4] == 'A' && e[5] == ' ')
            isa_bus = e[1];
        if (e[0] == 2 && (e[3] & 1)) {
            ioapic_addr = *(const u32 *)(e + 4);
            ioapic_id = e[1];
            put("      I/O APIC: enabled, at "); hex8(ioapic_addr); put("\n");
        }
        e += 8;
    }
    check(cpus == 1, "mp: one processor entry");
    check(isa_bus != 0xff, "mp: an ISA bus entry");
    check(ioapic_addr == 0xfec00000, "mp: an I/O APIC entry at FEC00000h");
    e = t + 44;
    for (u16 k = 0; k < n; k++) {
        if (e[0] == 0) { e += 20; continue; }
        if (e[0] == 3 && e[4] == isa_bus && e[1] == 0 && e[5] < 16)
            isa_pin[e[5]] = e[7];
        if (e[0] == 4 && e[7] <= 1) {
            lints++;
            put("      LINT"); dec(e[7]); put(": ");
            put(e[1] == 3 ? "ExtINT" : e[1] == 1 ? "NMI" : "other"); put("\n");
        }
        e += 8;
    }
    for (int irq = 0; irq < 16; irq += 1) {
        if (irq != 0 && irq != 1 && irq != 4 && irq != 14)
            continue;
        put("      ISA IRQ "); dec(irq); put(" -> I/O APIC pin "); dec(isa_pin[irq]); put("\n");
    }
    check(isa_pin[0] == 2 && isa_pin[1] == 1 && isa_pin[4] == 4 && isa_pin[14] == 14,
          "mp: ISA IRQs 0, 1, 4, 14 on pins 2, 1, 4, 14");
    check(lints == 2, "mp: local interrupt entries for LINT0 and LINT1");
}

/* ---- the local APIC (SDM 11.4) ---------------------------------------- */
static volatile u32 *lapic_reg(u32 off) { return (volatile u32 *)(lapic_addr + off); }
static u32 lapic_rd(u32 off) { return *lapic_reg(off); }
static void lapic_wr(u32 off, u32 v) { *lapic_reg(off) = v; }
static void eoi(void) { lapic_wr(0xb0, 0); }

/* ---- the I/O APIC (82093AA 3.2) ---------------------------------------- */
static u32 io_rd(u32 reg) { *(volatile u32 *)ioapic_addr = reg; return *(volatile u32 *)(ioapic_addr + 0x10); }
static void io_wr(u32 reg, u32 v) { *(volatile u32 *)ioapic_addr = reg; *(volatile u32 *)(ioapic_addr + 0x10) = v; }
static void route(int pin, u32 lo)
{
    io_wr(0x10 + 2 * pin + 1, (lapic_rd(0x20) >> 24) << 24);   /* physical destination: us */
    io_wr(0x10 + 2 * pin, lo);
}

/* ---- interrupts -------------------------------------------------------- */
static u64 idt[256];
static volatile u32 n_ipi, n_oneshot, n_periodic, n_kbd, n_disk, n_spurious;
static volatile u32 ipi_isr_seen, level_irr_in_handler, level_mode;
static volatile u8 kbd_bytes[64];
static volatile u8 disk_status;

#define V_KBD      0x31
#define V_DISK     0x3e
#define V_ONESHOT  0x40
#define V_PERIODIC 0x41
#define V_IPI      0x50
#define V_SPURIOUS 0xff

void on_vector(u32 v)
{
    switch (v) {
    case V_IPI:
        ipi_isr_seen = lapic_rd(0x100 + (V_IPI / 32) * 16) & (1u << (V_IPI % 32));
        n_ipi++;
        eoi();
        return;
    case V_ONESHOT: n_oneshot++; eoi(); return;
    case V_PERIODIC: n_periodic++; eoi(); return;
    case V_KBD:
        if (level_mode)
            level_irr_in_handler = io_rd(0x10 + 2 * isa_pin[1]) & (1u << 14);
        if (n_kbd < sizeof kbd_bytes)
            kbd_bytes[n_kbd] = inb(0x60);
        n_kbd++;
        eoi();
        return;
    case V_DISK:
        disk_status = inb(0x1f7);       /* reading the status clears INTRQ */
        n_disk++;
        eoi();
        return;
    case V_SPURIOUS: n_spurious++; return;   /* no EOI for the spurious vector (11.9) */
    }
    put("FAIL  unexpected vector "); hex2(v); put("h\n");
    failures++;
    finish();
}

/* Interrupts on for a while (many instruction-block boundaries), then off. */
static void let_in(void)
{
    __asm__ volatile("sti");
    for (int i = 0; i < 100; i++)
        __asm__ volatile("nop");
    __asm__ volatile("cli");
}

static void wait_for(volatile u32 *count, u32 n)
{
    while (*count < n)
        __asm__ volatile("sti; hlt; cli" ::: "memory");
}

static void setup_idt(void)
{
    for (int v = 0; v < 256; v++) {
        u32 a = (u32)vector_stubs + 16 * v;
        idt[v] = (a & 0xffff) | (0x08u << 16) | ((u64)0x8e00 << 32) | ((u64)(a >> 16) << 48);
    }
    struct { u16 limit; u32 base; } __attribute__((packed)) idtr = { sizeof idt - 1, (u32)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* The 8259s: remapped to 20h-2Fh and fully masked, so none of their lines
 * reaches an exception vector while the APICs take over. */
static void mask_8259(void)
{
    outb(0x20, 0x11); outb(0xa0, 0x11);
    outb(0x21, 0x20); outb(0xa1, 0x28);
    outb(0x21, 0x04); outb(0xa1, 0x02);
    outb(0x21, 0x01); outb(0xa1, 0x01);
    outb(0x21, 0xff); outb(0xa1, 0xff);
}

/* ---- the checks ------------------------------------------------------- */
static void local_apic(void)
{
    u32 base = rdmsr_lo(0x1b);
    check((base & 0xfffff000) == lapic_addr, "lapic: IA32_APIC_BASE names the table's address");
    check(base & (1u << 11), "lapic: IA32_APIC_BASE global enable (bit 11)");
    check(base & (1u << 8), "lapic: IA32_APIC_BASE bootstrap processor (bit 8)");
    u32 ver = lapic_rd(0x30);
    put("      ID "); dec(lapic_rd(0x20) >> 24); put(", version "); hex2(ver); put("h\n");
    check((ver & 0xf0) == 0x10, "lapic: an integrated APIC (version 1xh)");
    check(((ver >> 16) & 0xff) >= 4, "lapic: at least 5 LVT entries");
    lapic_wr(0x350, 0x10700);            /* LINT0: ExtINT, masked (the 8259 is off) */
    lapic_wr(0x360, 0x10400);            /* LINT1: NMI, masked */
    lapic_wr(0x370, 0x10000 | 0xfe);     /* error: masked */
    lapic_wr(0x80, 0);                   /* TPR */
    lapic_wr(0xf0, 0x100 | V_SPURIOUS);  /* SVR: software enable */
    check(lapic_rd(0xf0) == 0x1ff, "lapic: software enabled, spurious vector FFh");
    check(lapic_rd(0xa0) == 0, "lapic: PPR 0 with TPR 0 and nothing in service");

    /* A self IPI (11.6.1), first held back by a TPR of a higher class (11.8.3). */
    lapic_wr(0x80, 0x60);
    lapic_wr(0x300, (1u << 18) | V_IPI);     /* shorthand: self; fixed; vector 50h */
    let_in();
    check(n_ipi == 0 && (lapic_rd(0x200 + 32) & (1u << 16)),
          "lapic: TPR 60h holds a self IPI of vector 50h (IRR bit set)");
    lapic_wr(0x80, 0);
    wait_for(&n_ipi, 1);
    check(n_ipi == 1 && ipi_isr_seen, "lapic: TPR 0 lets it in; ISR bit set in the handler");
    check((lapic_rd(0x120) & (1u << 16)) == 0 && (lapic_rd(0x220) & (1u << 16)) == 0,
          "lapic: after EOI neither ISR nor IRR holds it");

    /* The timer (11.5.4): its current count runs down (a long count, masked, divide
     * by 1, stopped again), then one-shot and periodic runs, divide by 16. */
    lapic_wr(0x3e0, 0xb);
    lapic_wr(0x320, 0x10000 | V_ONESHOT);
    lapic_wr(0x380, 0xffffffff);
    u32 c1 = lapic_rd(0x390);
    for (int i = 0; i < 1000; i++)
        __asm__ volatile("nop");
    u32 c2 = lapic_rd(0x390);
    lapic_wr(0x380, 0);
    check(c1 > 0 && c2 < c1, "timer: the current count counts down");
    check(lapic_rd(0x390) == 0, "timer: initial count 0 stops it (current count 0)");
    lapic_wr(0x3e0, 0x3);
    lapic_wr(0x320, V_ONESHOT);
    lapic_wr(0x380, 20000);
    wait_for(&n_oneshot, 1);
    check(n_oneshot == 1 && lapic_rd(0x390) == 0, "timer: one-shot fired once, current count 0");
    lapic_wr(0x320, (1u << 17) | V_PERIODIC);
    lapic_wr(0x380, 20000);
    wait_for(&n_periodic, 5);
    lapic_wr(0x320, 0x10000 | (1u << 17) | V_PERIODIC);   /* mask it */
    check(n_periodic == 5, "timer: periodic mode, 5 interrupts counted");
    check(lapic_rd(0x390) > 0, "timer: periodic count reloaded (current count > 0)");
    check(n_oneshot == 1, "timer: the one-shot never fired again");
    lapic_wr(0x380, 0);                  /* stop it */
}

static void io_apic(void)
{
    u32 ver = io_rd(1);
    put("      I/O APIC ID "); dec((io_rd(0) >> 24) & 15); put(", "); dec(((ver >> 16) & 0xff) + 1);
    put(" redirection entries\n");
    check(((io_rd(0) >> 24) & 15) == ioapic_id, "ioapic: ID register = the MP table's I/O APIC ID");
    check(((ver >> 16) & 0xff) == 23, "ioapic: 24 redirection entries");
    check((io_rd(0x10 + 2 * isa_pin[1]) & 0x10000) != 0, "ioapic: keyboard pin masked until programmed");
    route(isa_pin[1], V_KBD);            /* fixed, physical, edge, active high */
    check(io_rd(0x10 + 2 * isa_pin[1]) == V_KBD, "ioapic: keyboard entry reads back");

    /* The keyboard (IRQ1): the 8042 puts each byte in its output buffer (D2h). */
    outb(0x64, 0x20);
    while (!(inb(0x64) & 1)) ;
    u8 ccb = inb(0x60);
    outb(0x64, 0x60);
    outb(0x60, (ccb | 0x01) & ~0x10);     /* keyboard interrupt on, keyboard enabled */
    u32 want = 0;
    for (;;) {
        while (!(inb(0x3fd) & 1)) ;
        u8 ch = inb(0x3f8);
        if (ch == '\n' || ch == '\r')
            break;
        while (inb(0x64) & 2) ;
        outb(0x64, 0xd2);
        while (inb(0x64) & 2) ;
        outb(0x60, ch);
        want++;
        wait_for(&n_kbd, want);
    }
    put("      keyboard bytes: \"");
    for (u32 i = 0; i < n_kbd && i < sizeof kbd_bytes; i++) serial_putc(kbd_bytes[i]);
    put("\"\n");
    check(n_kbd == want && want > 0, "ioapic: one keyboard interrupt per byte, vector 31h");

    /* Level-triggered (82093AA 3.2.4): remote IRR set while in service, cleared by EOI. */
    route(isa_pin[1], V_KBD | (1u << 15));
    level_mode = 1;
    outb(0x64, 0xd2);
    while (inb(0x64) & 2) ;
    outb(0x60, '!');
    wait_for(&n_kbd, want + 1);
    check(level_irr_in_handler != 0, "ioapic: level entry: remote IRR set in the handler");
    check((io_rd(0x10 + 2 * isa_pin[1]) & (1u << 14)) == 0, "ioapic: level entry: remote IRR clear after EOI");
    route(isa_pin[1], 0x10000 | V_KBD);
    level_mode = 0;

    /* The disk (IRQ14): READ SECTORS of sector 0 with interrupts on (nIEN = 0). */
    route(isa_pin[14], V_DISK);
    while (inb(0x1f7) & 0x80) ;
    outb(0x3f6, 0x00);
    outb(0x1f6, 0xe0);
    outb(0x1f2, 1);
    outb(0x1f3, 0); outb(0x1f4, 0); outb(0x1f5, 0);
    outb(0x1f7, 0x20);
    wait_for(&n_disk, 1);
    check(n_disk == 1 && (disk_status & 0x89) == 0x08, "ioapic: disk interrupt, vector 3Eh, data ready");
    u16 sector[256];
    for (int i = 0; i < 256; i++)
        __asm__ volatile("inw %1, %0" : "=a"(sector[i]) : "Nd"((u16)0x1f0));
    put("      sector 0 says: \"");
    /* The disk form's boot sector (apictest/boot.S) starts with a short jump (EBh) over
     * the same text: skip it. */
    int first = (sector[0] & 0xff) == 0xeb ? 2 : 0;
    for (int i = first; i < first + 64; i++) {
        char ch = (char)(sector[i / 2] >> (8 * (i & 1)));
        if (ch == '\n' || ch == 0) break;
        serial_putc(ch);
    }
    put("\"\n");
    route(isa_pin[14], 0x10000 | V_DISK);
}

int main(u32 magic, struct multiboot_info *mbi)
{
    (void)magic; (void)mbi;
    serial_setup();
    put("apictest: MP table, local APIC, I/O APIC\n");
    u32 a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1));
    check(d & (1u << 9), "cpuid: CPUID.1:EDX.APIC[bit 9] set");
    if (!(d & (1u << 9)))
        finish();
    setup_idt();
    mask_8259();
    mp_table();
    local_apic();
    io_apic();
    check(n_spurious == 0, "no spurious interrupts");
    finish();
    return 0;
}
