/*
 * npt.c - nested paging (AMD64 APM vol. 2, 15.25 "Nested Paging").
 *
 * The host first turns on PAE paging for itself (APM vol. 2, 5.3 "Long-Mode
 * Page Translation" / 5.2 legacy PAE: CR4.PAE, a 4-entry PDPT, 2 MiB pages
 * identity-mapping 0-1 GiB), because the nested page tables take the host's
 * paging format at VMRUN (15.25.3): here three-level PAE. N_CR3 points at a
 * nested PDPT; gPA 0-4 MiB is mapped with 4 KiB nested pages (user, writable:
 * nested walks are user accesses, 15.25.5), 4-6 MiB with one 2 MiB page.
 * The guest has its own legacy two-level tables (CR0.PG, CR4.PAE = 0).
 * Each #VMEXIT NPF (code 0x400) is printed with EXITINFO1 (the page-fault
 * error code, bit 32 = fault on the final guest-physical address, bit 33 =
 * fault on a guest page-table access) and EXITINFO2 (the guest-physical
 * address); the host then fixes the nested entry and resumes the guest at
 * the same instruction.
 */
#include "svm.h"

GUEST(g_npt);

static u64 host_pdpt[4] __attribute__((aligned(32)));
static u64 host_pd[512] PAGE;
static u64 n_pdpt[512] PAGE;
static u64 n_pd[512] PAGE;
static u64 n_pt[1024] PAGE;      /* gPA 0-4 MiB, two tables */
static u32 g_pd[1024] PAGE;
static u32 g_pt[1024] PAGE;      /* gVA 0-4 MiB identity */
static u32 g_pt2[1024] PAGE;     /* gVA 4-8 MiB */
static u32 page_a[1024] PAGE;
static u32 page_b[1024] PAGE;
static u32 page_c[1024] PAGE;

#define BIG_GPA 0x400000u            /* in the 2 MiB nested page */

static void host_pae_on(void)
{
    for (u32 i = 0; i < 512; i++)
        host_pd[i] = ((u64)i << 21) | 0x83;                /* present, writable, 2 MiB */
    memset(host_pdpt, 0, sizeof host_pdpt);
    host_pdpt[0] = (u32)host_pd | 1;
    u32 cr4, cr0;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1 << 5)));
    __asm__ volatile("mov %0, %%cr3" : : "r"((u32)host_pdpt));
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | 0x80000000u) : "memory");
}

static u64 *npte(u32 gpa) { return &n_pt[gpa >> 12]; }

void scen_npt(void)
{
    host_pae_on();
    put("npt: host paging is PAE (CR4.PAE=1), nested tables are PAE\n");

    for (u32 i = 0; i < 1024; i++)
        n_pt[i] = ((u64)i << 12) | 7;                      /* present, writable, user */
    memset(n_pd, 0, sizeof n_pd);
    n_pd[0] = (u32)&n_pt[0] | 7;
    n_pd[1] = (u32)&n_pt[512] | 7;
    n_pd[2] = BIG_GPA | 0x87;                              /* one 2 MiB page */
    memset(n_pdpt, 0, sizeof n_pdpt);
    n_pdpt[0] = (u32)n_pd | 1;

    for (u32 i = 0; i < 1024; i++)
        g_pt[i] = (i << 12) | 3;
    memset(g_pt2, 0, sizeof g_pt2);
    g_pt2[1] = BIG_GPA | 3;                                /* gVA 0x401000 */
    g_pt2[2] = (u32)page_c | 3;                            /* gVA 0x402000 */
    memset(g_pd, 0, sizeof g_pd);
    g_pd[0] = (u32)g_pt | 3;
    g_pd[1] = (u32)g_pt2 | 3;

    page_a[0x24 / 4] = 0xA1A1;
    page_c[0x40 / 4] = 0xC3C3;
    *(volatile u32 *)(BIG_GPA + 0x10) = 0x2B2B;
    *npte((u32)page_a) &= ~1ull;                           /* not present */
    *npte((u32)page_b) &= ~2ull;                           /* read-only */
    *npte((u32)g_pt2) &= ~1ull;                            /* the guest's page table: not present */

    vmcb_guest((u32)g_npt);
    w32(VMCB_INTERCEPT4, r32(VMCB_INTERCEPT4) | I4_VMMCALL);
    w64(VMCB_NP_ENABLE, 1);
    w64(VMCB_N_CR3, (u32)n_pdpt);
    w64(VMCB_CR3, (u32)g_pd);
    w64(VMCB_CR0, 0x80000011);
    g.ebx = (u32)page_a + 0x24;
    g.esi = (u32)page_b + 0x38;
    g.edi = 0x402000 + 0x40;
    g.ebp = 0x401010;

    int code = 0;
    for (int i = 0; i < 12 && code != EXIT_HLT; i++) {
        w32(VMCB_TLB_CTL, 1);
        code = run_once("npt");
        if (code == EXIT_NPF) {
            u32 gpa = (u32)r64(VMCB_EXITINFO2) & ~0xFFFu;
            if (gpa >= 0x400000) {
                put("npt: unexpected NPF address\n");
                failures++;
                break;
            }
            *npte(gpa) |= 3;                               /* present and writable */
        } else if (code != EXIT_HLT) {
            skip_insn();
        }
    }
    check("the guest ran to its HLT", code == EXIT_HLT);
    check("nested PTE of the written page has A and D set",
          (*npte((u32)page_b) & 0x60) == 0x60);
    check("nested PTE of the guest page table has A set", (*npte((u32)g_pt2) & 0x20) != 0);
    check("nested 2 MiB PDE has A set", (n_pd[2] & 0x20) != 0);
}
