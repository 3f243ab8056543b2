/*
 * nptloop.c - the integer loop of samples/bench run as an SVM guest with
 * nested paging (AMD64 APM vol. 2, 15.25), to measure what a guest with its
 * own paging over nested tables costs compared with the same loop on the host.
 *
 * The host turns on PAE paging (2 MiB pages, identity), so the nested tables
 * take the PAE format at VMRUN (15.25.3) and QEMU's TCG walks them. The nested
 * tables map guest-physical 0-8 MiB to the same host-physical addresses, the
 * first 4 MiB with 4 KiB pages, the rest with 2 MiB pages. The guest runs with
 * its own legacy two-level paging (4 KiB pages, identity, 0-4 MiB), ASID 1.
 * It first reads a word through a nested entry that maps one page elsewhere
 * (so the output shows that the nested tables were used), then runs
 * intloop(iters) and reports the checksum with VMMCALL; the host prints it
 * next to the checksum of the same loop run on the host.
 *   cmdline: iters=N (default 4000000, like bench/intloop), native=1 runs
 *   the loop on the host only (the same image for a host-speed baseline),
 *   np=0 runs the guest without nested paging (its page tables then hold
 *   host-physical addresses, which are the same here: everything is identity),
 *   cpuid=N makes the guest run CPUID N times with the CPUID intercept on
 *   (15.9); each exit is handled by the smallest handler there is (skip the
 *   2-byte instruction, VMRUN again): the exit round trip of the benches.
 */
#include "../common/lib.h"

u32 intloop(u32 iters);
void svm_run(u32 vmcb_pa);
void guest_entry(void);
void guest_cpuid(void);

#define PAGE __attribute__((aligned(4096)))
static u8 vmcb[4096] PAGE;
static u8 hsave[4096] PAGE;
static u64 host_pdpt[4] __attribute__((aligned(32)));
static u64 host_pd[512] PAGE;
static u64 n_pdpt[4] __attribute__((aligned(32)));
static u64 n_pd[512] PAGE;
static u64 n_pt[1024] PAGE;      /* gPA 0-4 MiB */
static u32 g_pd[1024] PAGE;
static u32 g_pt[1024] PAGE;      /* gVA 0-4 MiB */
static u8 guest_stack[8192] PAGE;
u32 probe_a[1024] PAGE;          /* gPA of probe_a -> hPA of probe_b */
u32 probe_b[1024] PAGE;
u32 guest_seen;
u32 cpuid_left;                  /* guest_cpuid's count (in memory) */

static void w16(u32 o, u16 v) { *(volatile u16 *)(vmcb + o) = v; }
static void w32(u32 o, u32 v) { *(volatile u32 *)(vmcb + o) = v; }
static void w64(u32 o, u64 v) { *(volatile u64 *)(vmcb + o) = v; }
static u32 r32(u32 o) { return *(volatile u32 *)(vmcb + o); }

static void wrmsr(u32 msr, u64 v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}

static void seg(u32 off, u16 sel, u16 attr)
{
    w16(off, sel);
    w16(off + 2, attr);
    w32(off + 4, 0xFFFFFFFF);
    w64(off + 8, 0);
}

static void host_pae_on(void)
{
    u32 cr4, cr0;
    for (u32 i = 0; i < 512; i++)
        host_pd[i] = ((u64)i << 21) | 0x83;          /* present, writable, 2 MiB */
    host_pdpt[0] = (u32)host_pd | 1;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 0x20));
    __asm__ volatile("mov %0, %%cr3" : : "r"((u32)host_pdpt));
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | 0x80000000u) : "memory");
}

static void put(const char *s) { serial_puts(s); }

int main(u32 magic, struct multiboot_info *mbi)
{
    struct { u16 limit; u32 base; } __attribute__((packed)) gdtr;
    u32 iters = cmdline_uint(mbi, "iters", 4000000);
    u32 native = cmdline_uint(mbi, "native", 0);
    u32 np = cmdline_uint(mbi, "np", 1);
    u32 cpuids = cmdline_uint(mbi, "cpuid", 0);
    u32 exits = 0;
    (void)magic;
    serial_init();
    put("nptloop: iters=");
    serial_putu(iters);
    if (!np)
        put(" np=0");
    if (cpuids) {
        put(" cpuid=");
        serial_putu(cpuids);
    }
    put("\n");
    if (native) {
        put("host checksum=0x");
        serial_puthex(intloop(iters));
        put("\n");
        return 0;
    }
    host_pae_on();

    for (u32 i = 0; i < 1024; i++)
        n_pt[i] = ((u64)i << 12) | 7;                /* present, writable, user */
    n_pd[0] = (u32)&n_pt[0] | 7;
    n_pd[1] = (u32)&n_pt[512] | 7;
    n_pd[2] = 0x400000 | 0x87;                       /* 2 MiB nested pages */
    n_pd[3] = 0x600000 | 0x87;
    n_pdpt[0] = (u32)n_pd | 1;
    n_pt[(u32)probe_a >> 12] = (u32)probe_b | 7;
    probe_a[0] = 0x1111AAAA;
    probe_b[0] = 0x2222BBBB;
    for (u32 i = 0; i < 1024; i++)
        g_pt[i] = (i << 12) | 3;
    g_pd[0] = (u32)g_pt | 3;

    wrmsr(0xC0000080, 1u << 12);                     /* EFER.SVME */
    wrmsr(0xC0010117, (u32)hsave);                   /* VM_HSAVE_PA */
    __asm__ volatile("sgdt %0" : "=m"(gdtr));
    w32(0x00C, (1u << 24) | (1u << 31)               /* intercept HLT, SHUTDOWN */
               | (cpuids ? 1u << 18 : 0));           /* and CPUID if asked */
    w32(0x010, 3);                                   /* intercept VMRUN, VMMCALL */
    w32(0x058, 1);                                   /* ASID 1 */
    w32(0x05C, 1);                                   /* TLB_CONTROL: flush all */
    w64(0x090, np ? 1 : 0);                          /* NP_ENABLE */
    w64(0x0B0, (u32)n_pdpt);                         /* N_CR3 */
    seg(0x410, 0x08, 0xC9B);                         /* CS */
    seg(0x420, 0x10, 0xC93);                         /* SS */
    seg(0x430, 0x10, 0xC93);                         /* DS */
    seg(0x400, 0x10, 0xC93);                         /* ES */
    w32(0x460 + 4, gdtr.limit);
    w64(0x460 + 8, gdtr.base);
    w64(0x4D0, 1u << 12);                            /* guest EFER.SVME */
    w64(0x548, 0);                                   /* guest CR4: no PAE, no PSE */
    w64(0x550, (u32)g_pd);                           /* guest CR3 (guest-physical) */
    w64(0x558, 0x80000011);                          /* guest CR0: PG, ET, PE */
    w64(0x560, 0x400);
    w64(0x568, 0xFFFF0FF0);
    w64(0x570, 0x2);
    w64(0x578, cpuids ? (u32)guest_cpuid : (u32)guest_entry);
    w64(0x5D8, (u32)guest_stack + sizeof guest_stack);
    w64(0x5F8, iters);                               /* guest EAX */
    cpuid_left = cpuids;
    w64(0x668, 0x0007040600070406ull);               /* G_PAT */

    for (int k = 0; k < 2; k++) {
        svm_run((u32)vmcb);
        u32 code = r32(0x070);
        w32(0x05C, 0);                               /* TLB_CONTROL: no flush from now on */
        if (code == 0x72) {                          /* CPUID: the minimal handler */
            w64(0x578, r32(0x578) + 2);
            exits++;
            k--;
            continue;
        }
        if (cpuids && code == 0x81) {
            put("cpuid exits=");
            serial_putu(exits);
            put("\n");
        }
        put("exit 0x");
        serial_puthex(code);
        if (code == 0x81) {
            put(" VMMCALL");
            if (!cpuids) {
                put(" guest checksum=0x");
                serial_puthex(r32(0x5F8));
            }
            w64(0x578, r32(0x578) + 3);              /* past VMMCALL */
        } else if (code == 0x78) {
            put(" HLT");
        } else {
            put(" unexpected: info1=0x");
            serial_puthex(r32(0x07C));
            serial_puthex(r32(0x078));
            put(" info2=0x");
            serial_puthex(r32(0x080));
            put("\n");
            return 2;
        }
        put("\n");
    }
    put("guest read 0x");
    serial_puthex(guest_seen);
    if (np)
        put(guest_seen == 0x2222BBBB ? " (nested tables used)\n" : " (nested tables NOT used)\n");
    else
        put(guest_seen == 0x1111AAAA ? " (no nested paging)\n" : " (remapped without nested paging?)\n");
    put("host checksum=0x");
    serial_puthex(intloop(iters));
    put("\n");
    return 0;
}
