/*
 * vm.c - creating a VM: its memory, nested page tables, VMCB, and loading
 * minios into it as a multiboot loader would.
 *
 * AMD64 APM vol. 2: 15.25 "Nested Paging" (the nested page directory maps
 * guest-physical to host-physical; its format follows the host's paging mode
 * at VMRUN, here PAE, so one page-directory entry maps 2 MiB;
 * nested accesses are user accesses, 15.25.5, so entries have U = 1),
 * 15.16 "TLB Control" (each VM its own ASID), 15.5.1 (the state VMRUN loads
 * and its consistency checks: VMRUN intercepted, ASID != 0, EFER.SVME = 1),
 * 15.10 "I/O Intercepts" and 15.11 "MSR Intercepts" (the permission maps).
 * Multiboot 0.6.96, section 3.2 "Machine state": EAX = 0x2BADB002, EBX = the
 * multiboot information, flat 4 GiB CS/DS, protected mode, paging off.
 */
#include "hv1.h"

static u8 iopm[3 * 4096] PAGE;     /* all ones: every port exits (15.10.1) */
static u8 msrpm[2 * 4096] PAGE;    /* all ones: every RDMSR/WRMSR exits (15.11) */

#define MBI_GPA    0x8000u         /* where the VM finds its multiboot information */
#define CMD_GPA    0x8100u
#define MMAP_GPA   0x8200u

static void fill(u32 addr, u32 val, u32 bytes)
{
    u32 n = bytes / 4;
    __asm__ volatile("cld; rep stosl" : "+D"(addr), "+c"(n) : "a"(val) : "memory");
}

static void copy(u32 dst, const void *src, u32 n)
{
    __asm__ volatile("cld; rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

/* one segment register in the VMCB: attrib = descriptor bits 47:40 and 55:52 */
static void seg(struct vm *v, u32 off, u16 sel, u16 attr, u32 limit)
{
    w16(v, off, sel);
    w16(v, off + 2, attr);
    w32(v, off + 4, limit);
    w64(v, off + 8, 0);
}

/* Loads the ELF's PT_LOAD segments at their physical addresses (in guest-physical
 * memory); returns the entry point, or 0 when the file is not a usable i386 ELF. */
static u32 load_elf(struct vm *v, const u8 *elf, u32 len)
{
    const u32 *h = (const u32 *)elf;
    if (len < 52 || h[0] != 0x464C457F || elf[4] != 1 || *(const u16 *)(elf + 18) != 3)
        return 0;
    u32 phoff = h[7], entry = h[6];
    u16 phnum = *(const u16 *)(elf + 44), phsz = *(const u16 *)(elf + 42);
    for (u32 i = 0; i < phnum; i++) {
        const u32 *ph = (const u32 *)(elf + phoff + i * phsz);
        if (phoff + (i + 1) * phsz > len)
            return 0;
        if (ph[0] != 1)                     /* PT_LOAD only */
            continue;
        u32 off = ph[1], pa = ph[3], filesz = ph[4], memsz = ph[5];
        if (off + filesz > len || pa + memsz > v->size || pa + memsz < pa)
            return 0;
        copy(v->base + pa, elf + off, filesz);   /* the rest is already zero */
    }
    return entry;
}

/* The multiboot information a loader gives the kernel: memory sizes, the command line and
 * a memory map (RAM below 640 KiB and from 1 MiB to the VM's size). */
static void write_mbi(struct vm *v, const char *cmdline)
{
    u32 *mbi = (u32 *)(v->base + MBI_GPA);
    mbi[0] = (1 << 0) | (1 << 2) | (1 << 6);   /* mem_*, cmdline, mmap */
    mbi[1] = 639;
    mbi[2] = (v->size - MIB) / 1024;
    mbi[4] = CMD_GPA;
    char *c = (char *)(v->base + CMD_GPA);
    for (u32 i = 0; i < 200 && cmdline[i]; i++)
        c[i] = cmdline[i];
    u32 *m = (u32 *)(v->base + MMAP_GPA);      /* entries: size, base (u64), length (u64), type */
    u32 e0[6] = {20, 0, 0, 0x9FC00, 0, 1}, e1[6] = {20, MIB, 0, v->size - MIB, 0, 1};
    for (int i = 0; i < 6; i++) {
        m[i] = e0[i];
        m[6 + i] = e1[i];
    }
    mbi[11] = 48;                              /* mmap_length */
    mbi[12] = MMAP_GPA;
}

int vm_create(struct vm *v, u32 num, u32 base, u32 size, const u8 *elf, u32 elf_len,
              const char *cmdline)
{
    memset(v, 0, sizeof *v);
    v->num = num;
    v->name[0] = 'v', v->name[1] = 'm', v->name[2] = (char)('0' + num);
    v->base = base;
    v->size = size;
    fill(base, 0, size);
    u32 entry = load_elf(v, elf, elf_len);
    if (!entry)
        return -1;
    write_mbi(v, cmdline);

    /* nested page tables: gPA i * 2 MiB -> base + i * 2 MiB; the rest is not present,
     * so the VM cannot reach hv1's memory or another VM's (an access there is an NPF) */
    for (u32 i = 0; i < size / (2 * MIB); i++)
        v->npd[i] = (base + i * 2 * MIB) | 0x87;   /* present, writable, user, 2 MiB */
    v->npdpt[0] = (u32)v->npd | 1;

    if (iopm[0] != 0xFF) {
        fill((u32)iopm, 0xFFFFFFFF, sizeof iopm);
        fill((u32)msrpm, 0xFFFFFFFF, sizeof msrpm);
    }
    w32(v, VMCB_INTERCEPT3, I3_INTR | I3_VINTR | I3_CPUID | I3_HLT | I3_INVLPGA | I3_IOIO |
                                I3_MSR | I3_SHUTDOWN);
    w32(v, VMCB_INTERCEPT4, I4_VMRUN | I4_VMMCALL | I4_VMLOAD | I4_VMSAVE | I4_STGI | I4_CLGI |
                                I4_SKINIT);
    w64(v, VMCB_IOPM_PA, (u32)iopm);
    w64(v, VMCB_MSRPM_PA, (u32)msrpm);
    w32(v, VMCB_ASID, num);                 /* ASID 0 is the host's */
    w32(v, VMCB_TLB_CTL, 3);                /* first run: flush this ASID */
    w32(v, VMCB_VINTR, 1u << 24);           /* V_INTR_MASKING: the guest's IF is virtual */
    w64(v, VMCB_NP_ENABLE, 1);
    w64(v, VMCB_N_CR3, (u32)v->npdpt);

    seg(v, VMCB_CS, 0x08, 0xC9B, 0xFFFFFFFF);   /* flat 32-bit code, ring 0 */
    seg(v, VMCB_SS, 0x10, 0xC93, 0xFFFFFFFF);
    seg(v, VMCB_DS, 0x10, 0xC93, 0xFFFFFFFF);
    seg(v, VMCB_ES, 0x10, 0xC93, 0xFFFFFFFF);
    seg(v, VMCB_FS, 0x10, 0xC93, 0xFFFFFFFF);
    seg(v, VMCB_GS, 0x10, 0xC93, 0xFFFFFFFF);
    seg(v, VMCB_LDTR, 0, 0x082, 0);
    seg(v, VMCB_TR, 0, 0x08B, 0xFFFF);
    w32(v, VMCB_GDTR + 4, 0);
    w32(v, VMCB_IDTR + 4, 0x3FF);
    w64(v, VMCB_EFER, 1u << 12);            /* EFER.SVME must be 1 in the guest too */
    w64(v, VMCB_CR0, 0x11);                 /* PE + ET: protected mode, paging off */
    w64(v, VMCB_DR7, 0x400);
    w64(v, VMCB_DR6, 0xFFFF0FF0);
    w64(v, VMCB_RFLAGS, 0x2);
    w64(v, VMCB_RIP, entry);
    w64(v, VMCB_RAX, 0x2BADB002);
    w64(v, VMCB_G_PAT, 0x0007040600070406ull);
    v->g.ebx = MBI_GPA;
    v->pic.imr = 0xFF;
    v->state = VM_RUNNABLE;
    return 0;
}

void vm_stop(struct vm *v, const char *why)
{
    vm_flush(v);
    hv_put("hv1: ");
    hv_put(v->name);
    hv_put(" stopped: ");
    hv_put(why);
    hv_put("\n");
    v->state = VM_DEAD;
}
