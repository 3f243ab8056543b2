/*
 * basic.c - instruction intercepts, one scenario each (AMD64 APM vol. 2,
 * 15.8 CR accesses and the CR0 selective write, 15.9 instruction intercepts,
 * 15.10 IOIO and the I/O permission map, 15.11 the MSR permission map,
 * 15.12 exception and shutdown intercepts).
 * Each scenario builds a fresh VMCB, turns on the intercepts it tests and
 * runs the guest routine of guest_basic.S to its final HLT.
 */
#include "svm.h"

GUEST(g_cpuid); GUEST(g_hlt); GUEST(g_vmmcall); GUEST(g_ioio); GUEST(g_msr);
GUEST(g_cr); GUEST(g_cr0sel); GUEST(g_exc); GUEST(g_pf); GUEST(g_intn);
GUEST(g_pushf); GUEST(g_iret); GUEST(g_desc); GUEST(g_rdtsc_exit);
GUEST(g_invlpg); GUEST(g_shutdown); GUEST(g_svminsn); GUEST(g_dr); GUEST(g_misc);
GUEST(g_descw);

/* I/O permission map: 12 KiB, one bit per port (APM 15.10.1) */
static u8 iopm[3 * 4096] PAGE;
/* MSR permission map: 8 KiB, two bits (read, write) per MSR in three
 * ranges: 0-0x1FFF at byte 0, 0xC0000000-0xC0001FFF at 0x800,
 * 0xC0010000-0xC0011FFF at 0x1000 (APM 15.11) */
static u8 msrpm[2 * 4096] PAGE;
/* guest paging for #PF: a page directory and one page table, 0-4 MiB identity */
u32 gpt_pd[1024] PAGE;
u32 gpt_pt[1024] PAGE;
static u8 pf_page[4096] PAGE;

static void iopm_set(u32 port) { iopm[port / 8] |= 1 << (port % 8); }

static void msrpm_set(u32 msr, int write)
{
    u32 base = msr >= 0xC0010000 ? 0x1000 : msr >= 0xC0000000 ? 0x800 : 0;
    u32 bit = (msr & 0x1FFF) * 2 + (write ? 1 : 0);
    msrpm[base + bit / 8] |= 1 << (bit % 8);
}

void guest_paging_init(void)
{
    for (u32 i = 0; i < 1024; i++)
        gpt_pt[i] = (i << 12) | 0x3;             /* present, writable, supervisor */
    memset(gpt_pd, 0, sizeof gpt_pd);
    gpt_pd[0] = (u32)gpt_pt | 0x3;
}

static void simple(const char *name, char *entry, u32 i3, u32 i4)
{
    vmcb_guest((u32)entry);
    w32(VMCB_INTERCEPT3, r32(VMCB_INTERCEPT3) | i3);
    w32(VMCB_INTERCEPT4, r32(VMCB_INTERCEPT4) | i4);
    run_guest(name, 40);
}

void scen_basic(void)
{
    simple("cpuid", g_cpuid, I3_CPUID, 0);
    simple("hlt", g_hlt, 0, 0);
    simple("vmmcall", g_vmmcall, 0, I4_VMMCALL);

    memset(iopm, 0, sizeof iopm);
    iopm_set(0xE0);
    iopm_set(0x510);
    iopm_set(0x511);
    vmcb_guest((u32)g_ioio);
    w32(VMCB_INTERCEPT3, r32(VMCB_INTERCEPT3) | I3_IOIO);
    w32(VMCB_INTERCEPT4, r32(VMCB_INTERCEPT4) | I4_VMMCALL);
    w64(VMCB_IOPM_PA, (u32)iopm);
    run_guest("ioio", 40);

    memset(msrpm, 0, sizeof msrpm);
    msrpm_set(0x10, 0);
    msrpm_set(0xC0000081, 1);
    vmcb_guest((u32)g_msr);
    w32(VMCB_INTERCEPT3, r32(VMCB_INTERCEPT3) | I3_MSR);
    w32(VMCB_INTERCEPT4, r32(VMCB_INTERCEPT4) | I4_VMMCALL);
    w64(VMCB_MSRPM_PA, (u32)msrpm);
    run_guest("msr", 40);

    vmcb_guest((u32)g_cr);
    w16(VMCB_CR_RD, (1 << 0) | (1 << 3) | (1 << 4));
    w16(VMCB_CR_WR, (1 << 0) | (1 << 3) | (1 << 4));
    run_guest("cr", 40);

    simple("cr0sel", g_cr0sel, I3_CR0_SEL, I4_VMMCALL);

    vmcb_guest((u32)g_dr);
    w16(VMCB_DR_RD, (1 << 6) | (1 << 7));
    w16(VMCB_DR_WR, (1 << 0) | (1 << 7));
    run_guest("dr", 40);

    vmcb_guest((u32)g_exc);
    w32(VMCB_EXC, (1 << 0) | (1 << 6) | (1 << 13) | (1 << 14));
    run_guest("exceptions", 40);

    guest_paging_init();
    gpt_pt[(u32)pf_page >> 12] = 0;              /* not present */
    vmcb_guest((u32)g_pf);
    w32(VMCB_EXC, 1 << 14);
    w64(VMCB_CR3, (u32)gpt_pd);
    w64(VMCB_CR0, 0x80000011);
    g.ebx = (u32)pf_page + 0x10;
    run_guest("pagefault", 40);

    simple("intn", g_intn, I3_INTN, 0);
    simple("pushf-popf", g_pushf, I3_PUSHF | I3_POPF, 0);
    simple("iret", g_iret, I3_IRET, 0);
    simple("desc-reads", g_desc, I3_IDTR_RD | I3_GDTR_RD | I3_LDTR_RD | I3_TR_RD, 0);
    simple("desc-writes", g_descw, I3_IDTR_WR | I3_GDTR_WR | I3_LDTR_WR, 0);
    simple("rdtsc", g_rdtsc_exit, I3_RDTSC, 0);
    simple("invlpg", g_invlpg, I3_INVLPG, 0);
    vmcb_guest((u32)g_misc);
    w32(VMCB_INTERCEPT3, r32(VMCB_INTERCEPT3) | I3_INVD | I3_PAUSE | I3_RDPMC);
    w32(VMCB_INTERCEPT4, r32(VMCB_INTERCEPT4) | I4_WBINVD | I4_ICEBP);
    w32(VMCB_EXC, 1 << 6);
    run_guest("misc", 40);
    simple("shutdown", g_shutdown, I3_SHUTDOWN, 0);
    simple("svm-insns", g_svminsn, I3_INVLPGA, I4_VMMCALL | I4_VMLOAD | I4_VMSAVE | I4_STGI | I4_CLGI);
}
