/*
 * gdt.c - Global Descriptor Table and Task State Segment.
 *
 * Flat segments (base 0, limit 4 GiB) for ring 0 and ring 3; protection
 * comes from paging. The TSS is needed only for one thing: when an interrupt
 * or `int $0x80` arrives in ring 3, the CPU loads SS:ESP from tss.ss0:esp0
 * (the current process's kernel stack) before pushing the interrupt frame.
 */
#include "kernel.h"

struct tss {
    u32 prev, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
    u32 es, cs, ss, ds, fs, gs, ldt;
    u16 trap, iomap_base;
} __attribute__((packed));

static unsigned long long gdt[6];
static struct tss tss;
struct dtr kernel_gdtr;

/* access: P DPL S type; flags: G (4 KiB granularity) and D (32-bit) */
static unsigned long long descriptor(u32 base, u32 limit, u8 access, u8 flags)
{
    unsigned long long d = limit & 0xffff;
    d |= (unsigned long long)(base & 0xffffff) << 16;
    d |= (unsigned long long)access << 40;
    d |= (unsigned long long)((limit >> 16) & 0xf) << 48;
    d |= (unsigned long long)(flags & 0xf) << 52;
    d |= (unsigned long long)(base >> 24) << 56;
    return d;
}

void gdt_init(void)
{
    gdt[0] = 0;                                        /* null */
    gdt[1] = descriptor(0, 0xfffff, 0x9a, 0xc);        /* 0x08 kernel code, ring 0 */
    gdt[2] = descriptor(0, 0xfffff, 0x92, 0xc);        /* 0x10 kernel data, ring 0 */
    gdt[3] = descriptor(0, 0xfffff, 0xfa, 0xc);        /* 0x18 user code, ring 3 */
    gdt[4] = descriptor(0, 0xfffff, 0xf2, 0xc);        /* 0x20 user data, ring 3 */
    tss.ss0 = KERNEL_DS;
    tss.iomap_base = sizeof(tss);                      /* no I/O bitmap: ring 3 I/O faults */
    gdt[5] = descriptor((u32)&tss, sizeof(tss) - 1, 0x89, 0x0);   /* 0x28 32-bit TSS */

    struct { u16 limit; u32 base; } __attribute__((packed)) gdtr = { sizeof(gdt) - 1, (u32)gdt };
    kernel_gdtr.limit = gdtr.limit;
    kernel_gdtr.base = gdtr.base;
#ifdef PARAVIRT
    /* Under tevmm the kernel runs at ring 1: its stack selector carries RPL 1. */
    hypercall1(HC_LGDT, (u32)&gdtr);
    __asm__ volatile(
        "ljmp $0x08, $1f\n"
        "1: mov $0x10, %%ax\n\t"
        "mov %%ax, %%ds\n\t mov %%ax, %%es\n\t mov %%ax, %%fs\n\t"
        "mov %%ax, %%gs\n\t mov $0x11, %%ax\n\t mov %%ax, %%ss"
        : : : "eax", "memory");
    hypercall1(HC_LTR, TSS_SEL);
    return;
#endif
    __asm__ volatile(
        "lgdt %0\n\t"
        "ljmp $0x08, $1f\n"          /* reload CS */
        "1: mov $0x10, %%ax\n\t"
        "mov %%ax, %%ds\n\t mov %%ax, %%es\n\t mov %%ax, %%fs\n\t"
        "mov %%ax, %%gs\n\t mov %%ax, %%ss\n\t"
        "mov $0x28, %%ax\n\t ltr %%ax"  /* load the task register */
        : : "m"(gdtr) : "eax", "memory");
}

void tss_set_kernel_stack(u32 esp0) { tss.esp0 = esp0; }
