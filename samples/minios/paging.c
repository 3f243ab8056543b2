/*
 * paging.c - physical frames and two-level page tables (4 KiB pages, no PSE).
 *
 * Physical memory: the kernel image sits at 1 MiB; every 4 KiB frame from the
 * end of the kernel up to 4 MiB is handed out by a simple free-list stack.
 * The built-in archive (initrd.S) lies at the very end of the image: its
 * frames are held back until it has been unpacked, then released.
 *
 * Virtual memory, identical in every address space:
 *   0x00000000-0x003FFFFF  kernel: identity mapped, supervisor only (U/S = 0),
 *                          through ONE page table shared by all directories;
 *                          page 0 is left unmapped to catch NULL pointers.
 *   0x00400000-0x007FFFFF  the process: its image at 0x400000, heap above it,
 *                          stack below 0x800000 (U/S = 1), private page table.
 * Each process has its own page directory; CR3 is switched by the scheduler.
 * Because the kernel's pool frames are identity mapped, the kernel reaches any
 * frame through its physical address, whatever the current directory.
 */
#include "kernel.h"

static u32 kernel_pt[1024] __attribute__((aligned(4096)));
static u32 kernel_pd_table[1024] __attribute__((aligned(4096)));
u32 kernel_pd;

static u32 free_stack[1024];           /* at most 1024 frames below 4 MiB */
u32 frames_total, frames_free;
static u32 pool_start, pool_top;
extern char _end[];                    /* linker.ld: the image without the archive */
extern const u8 initrd_builtin[], initrd_builtin_end[];   /* initrd.S */

/* Builds the kernel's tables and the frame pool, leaving out the frames of
 * [resv_lo, resv_hi) (a boot module still to be read) and of the built-in
 * archive (given back by frames_release() once read); paging_enable() then
 * turns paging on. */
void paging_init(u32 mem_upper, u32 resv_lo, u32 resv_hi)
{
    for (u32 i = 1; i < 1024; i++)
        kernel_pt[i] = (i * PAGE_SIZE) | PTE_P | PTE_W;   /* supervisor, read/write */
    kernel_pt[0] = 0;                                     /* NULL page: not present */
    kernel_pd_table[0] = (u32)kernel_pt | PTE_P | PTE_W;
    kernel_pd = (u32)kernel_pd_table;

    u32 start = ((u32)_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    u32 top = 0x400000;
    if (mem_upper && 0x100000 + mem_upper * 1024 < top)
        top = (0x100000 + mem_upper * 1024) & ~(PAGE_SIZE - 1);
    for (u32 pa = top; pa > start; ) {     /* pushed top-down: lowest frames come out first */
        pa -= PAGE_SIZE;
        if (pa + PAGE_SIZE > resv_lo && pa < resv_hi) continue;
        if (pa + PAGE_SIZE > (u32)initrd_builtin && pa < (u32)initrd_builtin_end) continue;
        free_stack[frames_free++] = pa;
    }
    frames_total = frames_free;
    pool_start = start;
    pool_top = top;
}

/* Gives the reserved frames (see paging_init) to the pool once they are read. */
void frames_release(u32 lo, u32 hi)
{
    for (u32 pa = lo & ~(PAGE_SIZE - 1); pa < hi; pa += PAGE_SIZE)
        if (pa >= pool_start && pa < pool_top) { free_stack[frames_free++] = pa; frames_total++; }
}

void paging_enable(void)
{

    write_cr3(kernel_pd);
#ifdef PARAVIRT
    hypercall1(HC_WRITE_CR0, hypercall0(HC_READ_CR0) | 0x80000000);
#else
    u32 cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 |= 0x80000000;                     /* CR0.PG: paging on */
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
#endif
}

u32 frame_alloc(void)
{
    if (!frames_free) return 0;
    u32 pa = free_stack[--frames_free];
    memset((void *)pa, 0, PAGE_SIZE);
    return pa;
}

void frame_free(u32 pa) { free_stack[frames_free++] = pa; }

u32 pd_create(void)
{
    u32 *pd = (u32 *)frame_alloc();
    if (!pd) return 0;
    pd[0] = kernel_pd_table[0];            /* the shared kernel page table, supervisor */
    return (u32)pd;
}

void pd_destroy(u32 pd)
{
    u32 *dir = (u32 *)pd;
    int pages = 0;
    for (int i = 1; i < 1024; i++) {       /* entry 0 is the kernel's: never freed */
        if (!(dir[i] & PTE_P)) continue;
        u32 *pt = (u32 *)(dir[i] & ~0xfff);
        for (int j = 0; j < 1024; j++)
            if (pt[j] & PTE_P) { frame_free(pt[j] & ~0xfff); pages++; }
        frame_free((u32)pt);
        pages++;
    }
    frame_free(pd);
    cg_uncharge(pages);                    /* the user frames were charged to cg_active */
}

static u32 *pte_for(u32 pd, u32 va, int create)
{
    u32 *dir = (u32 *)pd;
    u32 pde = dir[va >> 22];
    if (!(pde & PTE_P)) {
        if (!create || cg_charge(1)) return 0;
        u32 pt = frame_alloc();
        if (!pt) { cg_uncharge(1); return 0; }
        pde = pt | PTE_P | PTE_W | PTE_U;
        set_pte(&dir[va >> 22], pde);
    }
    return (u32 *)(pde & ~0xfff) + ((va >> 12) & 0x3ff);
}

u32 map_user_page(u32 pd, u32 va)
{
    u32 *pte = pte_for(pd, va, 1);
    if (!pte) return 0;
    if (*pte & PTE_P) return *pte & ~0xfff;   /* already mapped */
    if (cg_charge(1)) return 0;               /* the group's memory.max (cgroup.c) */
    u32 pa = frame_alloc();
    if (!pa) { cg_uncharge(1); return 0; }
    set_pte(pte, pa | PTE_P | PTE_W | PTE_U);
#ifdef PARAVIRT
    hypercall1(HC_INVLPG, va);
#else
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");  /* drop any stale TLB entry */
#endif
    return pa;
}

int user_ok(u32 pd, u32 va, u32 len)
{
    if (va < USER_BASE || va >= USER_STACK_TOP || len > USER_STACK_TOP - va) return 0;
    for (u32 page = va & ~0xfff; page < va + len; page += PAGE_SIZE) {
        u32 *pte = pte_for(pd, page, 0);
        if (!pte || (*pte & (PTE_P | PTE_U)) != (PTE_P | PTE_U)) return 0;
    }
    return 1;
}
