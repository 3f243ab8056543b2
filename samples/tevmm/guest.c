/*
 * guest.c - the monitor's view of guest memory: guest-virtual -> guest-physical through the
 * guest's OWN page tables (a software walk, Intel SDM Vol. 3A 4.3), then the monitor's
 * window at 0xFF800000. The monitor needs it to fetch the instruction that trapped, to read
 * the guest's IDT, GDT and TSS, and to push interrupt frames on the guest's stacks.
 * It sets no accessed/dirty bits and checks no permissions: the monitor acts as the CPU
 * would at ring 0 (only shadow.c decides what the guest itself may touch).
 */
#include "tevmm.h"

int gva_to_gpa(u32 va, u32 *pa)
{
    if (!(vcpu.cr0 & 0x80000000)) {                  /* guest paging off: identity */
        *pa = va;
        return va < GUEST_MEM;
    }
    u32 pde = ((u32 *)GPA(vcpu.cr3 & ~0xfffu))[va >> 22];
    if (!(pde & PTE_P)) return 0;
    if ((pde & PTE_PS) && (vcpu.cr4 & 0x10)) {       /* CR4.PSE: a 4 MiB page */
        *pa = (pde & 0xffc00000u) | (va & 0x3fffff);
        return *pa < GUEST_MEM;
    }
    if ((pde & ~0xfffu) >= GUEST_MEM) return 0;
    u32 pte = ((u32 *)GPA(pde & ~0xfffu))[(va >> 12) & 0x3ff];
    if (!(pte & PTE_P)) return 0;
    *pa = (pte & ~0xfffu) | (va & 0xfff);
    return *pa < GUEST_MEM;
}

/* The monitor's own small TLB of guest translations. Like the real one it may be stale
 * until the guest's INVLPG or CR3 load, which flush it (guest_tlb_flush from shadow.c). */
static u32 tlb_tag[64], tlb_frame[64];

void guest_tlb_flush(void) { memset(tlb_tag, 0, sizeof(tlb_tag)); }

static u8 *gptr(u32 va)
{
    u32 vpn = va >> 12, k = vpn & 63, pa;
    if (tlb_tag[k] == ((vpn << 1) | 1)) return (u8 *)GPA(tlb_frame[k]) + (va & 0xfff);
    if (va >= MON_BASE || !gva_to_gpa(va, &pa)) return 0;
    tlb_tag[k] = (vpn << 1) | 1;
    tlb_frame[k] = pa & ~0xfffu;
    return GPA(pa);
}

static int guest_copy(u32 va, void *buf, u32 n, int write)
{
    u8 *b = buf;
    while (n) {
        u32 chunk = 0x1000 - (va & 0xfff);
        if (chunk > n) chunk = n;
        u8 *g = gptr(va);
        if (!g) return 0;
        if (write) memcpy(g, b, chunk);
        else memcpy(b, g, chunk);
        va += chunk; b += chunk; n -= chunk;
    }
    return 1;
}

int guest_read(u32 va, void *buf, u32 n) { return guest_copy(va, buf, n, 0); }
int guest_write(u32 va, const void *buf, u32 n) { return guest_copy(va, (void *)buf, n, 1); }

u32 guest_read32(u32 va)
{
    u32 v;
    u8 *g = (va & 3) ? 0 : gptr(va);
    if (g) return *(u32 *)g;
    if (!guest_read(va, &v, 4)) {
        mprintf("tevmm: guest address %p unreachable\n", va);
        stop_guest("the guest's tables or stack are not mapped: a real CPU would triple-fault");
    }
    return v;
}

void guest_push(struct frame *f, u32 *sp, u32 v)
{
    (void)f;
    *sp -= 4;
    u8 *g = (*sp & 3) ? 0 : gptr(*sp);
    if (g) { *(u32 *)g = v; return; }
    if (!guest_write(*sp, &v, 4)) {
        mprintf("tevmm: guest stack %p unreachable\n", *sp);
        stop_guest("cannot push the interrupt frame: a real CPU would double-fault");
    }
}

int guest_desc(u16 sel, u64 *d)
{
    u32 off = sel & ~7u;
    if (sel & 4) return 0;                           /* LDT: not supported */
    if (off + 7 > vcpu.gdt_limit) return 0;
    return guest_read(vcpu.gdt_base + off, d, 8);
}
