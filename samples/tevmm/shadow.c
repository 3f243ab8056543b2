/*
 * shadow.c - shadow page tables (the classic software MMU virtualization of VMware and Xen's
 * "shadow mode"; Intel SDM Vol. 3A 4.3 for the 32-bit paging structures, 4.10.4 for INVLPG).
 *
 * The real CR3 always points to the monitor's shadow directory `spd`. Its entries 0-1021 are
 * built lazily from the guest's page tables: a real #PF whose address the GUEST's tables map
 * with enough rights is a HIDDEN fault (the guest never sees it): the monitor copies the
 * translation into a shadow page table and retries. A #PF that the guest's own tables would
 * raise is a TRUE guest fault: it is reflected with the guest's CR2 and error code.
 *  - Guest-physical = host-physical below 4 MiB, so a shadow PTE holds the guest's frame.
 *  - Rebuilt on guest CR3 loads (and CR0.PG/WP, CR4.PSE changes): all of it is dropped.
 *  - Write protection: the guest's current page directory and every guest page table a
 *    shadow table was built from are mapped read-only in the shadow (CR0.WP = 1 makes that
 *    hold for ring 1 too). A guest write to one faults; the monitor lets that ONE
 *    instruction through (the page writable, EFLAGS.TF set) and on the single-step #DB
 *    write-protects it again and drops the shadow entries derived from what was written.
 *  - Accessed/dirty bits go back to the guest's entries: A when a shadow entry is built
 *    (that happens only on an access), D on the first write (until then the shadow entry is
 *    read-only even if the guest's is writable).
 *  - INVLPG drops one shadow entry.
 */
#include "tevmm.h"

#define NGUEST_PDE 1022                  /* 1022 and 1023 are the monitor's */
#define NPOOL 96
#define PROT_PD 1
#define PROT_PT 2

extern u32 mon_pts[];                    /* boot.S: the window and monitor page tables */
static u32 spd[1024] __attribute__((aligned(4096)));
static u32 pool[NPOOL][1024] __attribute__((aligned(4096)));
static int pool_next;
static u32 src[NGUEST_PDE];              /* guest page table behind shadow PDE i (0: none) */
static u8 prot[GUEST_MEM >> 12];         /* guest frames that are the guest's paging tables */
int stepping;
static u32 step_va, step_frame, step_tf;

static u32 *spt_of(u32 i) { return (u32 *)((spd[i] & ~0xfffu) + (MON_VIRT - MON_PHYS)); }
static void load_cr3(void) { __asm__ volatile("mov %0, %%cr3" : : "r"(V2P(spd)) : "memory"); }

static void drop_all(void);

void shadow_init(void)
{
    spd[1022] = V2P(mon_pts) | PTE_P | PTE_W;
    spd[1023] = V2P(mon_pts + 1024) | PTE_P | PTE_W;
    drop_all();                              /* the first build is not a rebuild */
}

void shadow_flush(void)
{
    tally(C_SHADOW_FLUSH);
    drop_all();
}

static void drop_all(void)
{
    guest_tlb_flush();
    for (u32 i = 0; i < NGUEST_PDE; i++) { spd[i] = 0; src[i] = 0; }
    pool_next = 0;
    memset(prot, 0, sizeof(prot));
    if ((vcpu.cr0 & 0x80000000u) && vcpu.cr3 < GUEST_MEM) prot[vcpu.cr3 >> 12] |= PROT_PD;
    load_cr3();
}

/* Frame becomes a paging table of the guest: no shadow entry may map it writable. */
static void protect(u32 frame, u8 kind)
{
    u8 was = prot[frame >> 12];
    prot[frame >> 12] |= kind;
    if (was) return;
    for (u32 i = 0; i < NGUEST_PDE; i++) {
        if (!(spd[i] & PTE_P)) continue;
        u32 *spt = spt_of(i);
        for (u32 j = 0; j < 1024; j++)
            if ((spt[j] & (PTE_P | PTE_W)) == (PTE_P | PTE_W) && (spt[j] & ~0xfffu) == frame) {
                spt[j] &= ~PTE_W;
                invlpg((i << 22) | (j << 12));
            }
    }
}

static void guest_fault(struct frame *f, u32 cr2, u32 present)
{
    tally(C_PF_GUEST);
    tally(C_EXC_REFLECT);
    vcpu.cr2 = cr2;
    reflect(f, 14, 1, present | (f->err & 2) | (guest_cpl(f) == 3 ? 4 : 0), K_EXC);
}

int shadow_page_fault(struct frame *f, u32 cr2)
{
    int user = guest_cpl(f) == 3, write = (f->err >> 1) & 1;
    int pg = (vcpu.cr0 & 0x80000000u) != 0, wp = (vcpu.cr0 & 0x10000u) != 0;
    u32 i = cr2 >> 22, gpa, gw = PTE_W, gu = PTE_U, *gpde = 0, *gpte = 0, *dbit = 0;
    if (i >= NGUEST_PDE) { guest_fault(f, cr2, 1); return 0; }
    if (pg) {
        if (vcpu.cr3 >= GUEST_MEM) stop_guest("guest CR3 beyond guest memory");
        gpde = (u32 *)GPA(vcpu.cr3 & ~0xfffu) + i;
        if (!(*gpde & PTE_P)) { guest_fault(f, cr2, 0); return 0; }
        if ((*gpde & PTE_PS) && (vcpu.cr4 & 0x10)) {
            gw = *gpde & PTE_W; gu = *gpde & PTE_U;
            gpa = (*gpde & 0xffc00000u) | (cr2 & 0x3fffff);
            dbit = gpde;
        } else {
            if ((*gpde & ~0xfffu) >= GUEST_MEM) stop_guest("guest page table beyond guest memory");
            gpte = (u32 *)GPA(*gpde & ~0xfffu) + ((cr2 >> 12) & 0x3ff);
            if (!(*gpte & PTE_P)) { guest_fault(f, cr2, 0); return 0; }
            gw = *gpde & *gpte & PTE_W; gu = *gpde & *gpte & PTE_U;
            gpa = (*gpte & ~0xfffu) | (cr2 & 0xfff);
            dbit = gpte;
        }
        if (user && !gu) { guest_fault(f, cr2, 1); return 0; }
        if (write && !gw && (user || wp)) { guest_fault(f, cr2, 1); return 0; }
    } else {
        gpa = cr2;
    }
    if (gpa >= GUEST_MEM) {
        mprintf("tevmm: guest address %p is guest-physical %p, beyond its memory\n", cr2, gpa);
        stop_guest("guest touched memory it does not have");
    }
    /* A hidden fault: the guest's tables allow it; the shadow did not have it yet. */
    if (pg) {
        *gpde |= PTE_A;
        *dbit |= PTE_A | (write ? PTE_D : 0);
    }
    if (!(spd[i] & PTE_P)) {
        if (pool_next == NPOOL) { shadow_flush(); tally(C_PF_HIDDEN); return 1; }
        u32 *spt = pool[pool_next++];
        memset(spt, 0, 4096);
        spd[i] = V2P(spt) | PTE_P | PTE_W | PTE_U;   /* rights are decided in the PTEs */
        src[i] = gpte ? (*gpde & ~0xfffu) : 0;
        if (src[i]) protect(src[i], PROT_PT);
    }
    u32 frame = gpa & ~0xfffu, sw = gw;
    if (!gw && !user && !wp) {                       /* ring 0 with CR0.WP = 0 may write */
        if (gu && write) stop_guest("kernel write to a read-only user page (CR0.WP = 0): not supported");
        if (!gu) sw = PTE_W;
    }
    if (pg && !(*dbit & PTE_D)) sw = 0;              /* first write must come back for D */
    u32 e = frame | PTE_P | (gu ? PTE_U : 0);
    u32 *spt = spt_of(i), j = (cr2 >> 12) & 0x3ff;
    if (sw && prot[frame >> 12] && write) {          /* a write to the guest's page tables */
        tally(C_PF_PTWRITE);
        spt[j] = e | PTE_W;
        invlpg(cr2);
        stepping = 1;
        step_va = cr2;
        step_frame = frame;
        step_tf = f->eflags & EFL_TF;
        f->eflags |= EFL_TF;
        return 1;
    }
    spt[j] = e | (sw && !prot[frame >> 12] ? PTE_W : 0);
    invlpg(cr2);
    tally(C_PF_HIDDEN);
    return 1;
}

/* Drops the shadow entries derived from guest entry `e` of frame `step_frame`. */
static void resync_entry(u32 step_frame, u32 e)
{
    if ((prot[step_frame >> 12] & PROT_PD) && step_frame == (vcpu.cr3 & ~0xfffu) && e < NGUEST_PDE) {
        spd[e] = 0;
        src[e] = 0;
        load_cr3();
    }
    if (prot[step_frame >> 12] & PROT_PT)
        for (u32 k = 0; k < NGUEST_PDE; k++)
            if ((spd[k] & PTE_P) && src[k] == step_frame) {
                spt_of(k)[e] = 0;
                invlpg((k << 22) | (e << 12));
            }
}

/* The single-step #DB after the guest's write to its page tables. */
void shadow_step_done(struct frame *f)
{
    stepping = 0;
    f->eflags = (f->eflags & ~EFL_TF) | step_tf;
    u32 i = step_va >> 22, j = (step_va >> 12) & 0x3ff;
    if (spd[i] & PTE_P) {
        u32 *spt = spt_of(i);
        if ((spt[j] & ~0xfffu) == step_frame) spt[j] &= ~PTE_W;
    }
    invlpg(step_va);
    guest_tlb_flush();
    resync_entry(step_frame, (step_va & 0xfff) >> 2);
    if (((step_va + 3) & 0xfff) >= 4) resync_entry(step_frame, ((step_va + 3) & 0xfff) >> 2);
}

/* The paravirtual PTE_WRITE: the monitor writes the entry and drops what derives from it. */
int shadow_pte_write(u32 va, u32 v)
{
    u32 pa;
    if ((va & 3) || !gva_to_gpa(va, &pa)) return 0;
    *(u32 *)GPA(pa) = v;
    guest_tlb_flush();
    resync_entry(pa & ~0xfffu, (pa & 0xfff) >> 2);
    return 1;
}

void shadow_invlpg(u32 va)
{
    u32 i = va >> 22;
    if (i < NGUEST_PDE && (spd[i] & PTE_P)) spt_of(i)[(va >> 12) & 0x3ff] = 0;
    invlpg(va);
    guest_tlb_flush();
}
