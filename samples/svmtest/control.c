/*
 * control.c - control-area fields and the SVM instructions on the host side
 * (AMD64 APM vol. 2): TSC_OFFSET (15.5.1, 15.30.4), ASID and TLB_CONTROL
 * (15.16), the VMRUN consistency checks whose failure is #VMEXIT with
 * VMEXIT_INVALID (15.5.1 "Canonicalization and Consistency Checks"), and
 * VMLOAD/VMSAVE (15.5.2) and STGI/CLGI (15.17) executed by the host.
 */
#include "svm.h"

GUEST(g_tsc); GUEST(g_tlb); GUEST(g_hlt);
extern u64 tsc_seen;
extern u32 gpt_pd[], gpt_pt[];
void guest_paging_init(void);

static u32 tlb_a[1024] PAGE;
static u32 tlb_b[1024] PAGE;
static u8 vmcb_host[4096] PAGE;
static u8 vmcb_x[4096] PAGE;
static u32 fs_tag[4] = {0x600DF00D, 0, 0, 0};

#define TSC_OFFSET 0x0000100000000000ull

static void tsc(void)
{
    vmcb_guest((u32)g_tsc);
    w64(VMCB_TSC_OFFSET, TSC_OFFSET);
    u64 t0 = rdtsc();
    run_guest("tsc-offset", 5);
    u64 t1 = rdtsc();
    put("tsc-offset: TSC_OFFSET=");
    puthex(TSC_OFFSET);
    put("\n");
    check("host TSC before + offset <= guest TSC <= host TSC after + offset",
          t0 + TSC_OFFSET <= tsc_seen && tsc_seen <= t1 + TSC_OFFSET);
}

static void tlb_run(const char *name, u32 *frame, u32 asid, u32 tlb_control)
{
    gpt_pt[(u32)tlb_a >> 12] = (u32)frame | 3;
    vmcb_guest((u32)g_tlb);
    w32(VMCB_INTERCEPT4, r32(VMCB_INTERCEPT4) | I4_VMMCALL);
    w64(VMCB_CR3, (u32)gpt_pd);
    w64(VMCB_CR0, 0x80000011);
    w32(VMCB_ASID, asid);
    w32(VMCB_TLB_CTL, tlb_control);
    g.ebx = (u32)tlb_a;
    run_guest(name, 5);
}

static void tlb(void)
{
    guest_paging_init();
    tlb_a[0] = 0xAAAA;
    tlb_b[0] = 0xBBBB;
    tlb_run("asid1", tlb_a, 1, 0);
    /* the PTE now points at B; ASID 1 may still cache A: flush all */
    tlb_run("asid1-flush", tlb_b, 1, 1);
    /* back to A, under ASID 2 which has never run: no stale entry possible */
    tlb_run("asid2", tlb_a, 2, 0);
}

static void invalid(const char *name, u32 what)
{
    vmcb_guest((u32)g_hlt);
    switch (what) {
    case 0: w32(VMCB_ASID, 0); break;
    case 1: w32(VMCB_INTERCEPT4, 0); break;
    case 2: w64(VMCB_EFER, 0); break;
    case 3: w64(VMCB_CR0, 0x20000011); break;          /* NW = 1 with CD = 0 */
    case 4: w64(VMCB_EVENTINJ, EV_VALID | (1u << 8) | 0x20); break;   /* type 1 is reserved */
    }
    run_once(name);
}

static void loadsave(void)
{
    memset(vmcb_host, 0, sizeof vmcb_host);
    host_vmsave((u32)vmcb_host);               /* the host's FS, GS, TR, LDTR, SYSENTER_* ... */
    for (u32 i = 0; i < sizeof vmcb_x; i++)
        vmcb_x[i] = vmcb_host[i];
    *(u16 *)(vmcb_x + VMCB_FS) = 0x10;
    *(u16 *)(vmcb_x + VMCB_FS + 2) = 0xC93;
    *(u32 *)(vmcb_x + VMCB_FS + 4) = 0xFFFFFFFF;
    *(u64 *)(vmcb_x + VMCB_FS + 8) = (u32)fs_tag;
    *(u64 *)(vmcb_x + VMCB_SYSENTER_CS) = 0x1234;
    host_vmload((u32)vmcb_x);
    u32 fs0 = host_read_fs0();
    u32 sysenter_cs = (u32)rdmsr(0x174);
    memset(vmcb_x, 0, sizeof vmcb_x);
    host_vmsave((u32)vmcb_x);
    host_vmload((u32)vmcb_host);                /* the host's own state back */
    put("vmload-vmsave: fs:0=");
    puthex(fs0);
    put(" SYSENTER_CS=");
    puthex(sysenter_cs);
    put("\n");
    check("VMLOAD loaded FS (base) and SYSENTER_CS", fs0 == 0x600DF00D && sysenter_cs == 0x1234);
    check("VMSAVE stored them back",
          *(u64 *)(vmcb_x + VMCB_FS + 8) == (u32)fs_tag && *(u64 *)(vmcb_x + VMCB_SYSENTER_CS) == 0x1234);
    host_clgi_stgi();
    put("clgi-stgi: executed by the host\n");
}

/* the faults of the SVM instructions themselves, taken by the host */
static void probes(void)
{
    static const char *const names[] = {"VMRUN", "VMLOAD", "VMSAVE", "CLGI", "INVLPGA", "SKINIT"};
    u64 efer = rdmsr(0xC0000080);
    wrmsr(0xC0000080, efer & ~(1ull << 12));
    for (u32 i = 0; i < 6; i++) {
        put("fault: EFER.SVME=0 ");
        put(names[i]);
        put(" -> ");
        u32 r = host_probe(i, (u32)vmcb);
        if (r == 0xFFFFFFFF)
            put("no exception");
        else {
            put("vector ");
            puthex(r & 0xFF);
            put(" error ");
            puthex(r >> 8);
        }
        put("\n");
    }
    wrmsr(0xC0000080, efer);
    for (u32 i = 0; i < 3; i++) {
        put("fault: VMCB address vmcb+8 ");
        put(names[i]);
        put(" -> ");
        u32 r = host_probe(i, (u32)vmcb + 8);
        if (r == 0xFFFFFFFF)
            put("no exception");
        else {
            put("vector ");
            puthex(r & 0xFF);
            put(" error ");
            puthex(r >> 8);
        }
        put("\n");
    }
}

void scen_control(void)
{
    tsc();
    tlb();
    invalid("invalid-asid0", 0);
    invalid("invalid-no-vmrun-intercept", 1);
    invalid("invalid-efer-svme0", 2);
    invalid("invalid-cr0-nw", 3);
    invalid("invalid-eventinj-type", 4);
    loadsave();
    probes();
}
