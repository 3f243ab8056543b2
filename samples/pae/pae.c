/*
 * pae.c - a PAE paging test guest (Intel SDM Vol. 3A 4.4).
 *
 * Builds three-level PAE tables (PDPT, page directories, page tables with
 * 64-bit entries), turns on PAE paging and reports on COM1, line by line:
 * reads and writes through 4 KiB and 2 MiB pages, the accessed and dirty
 * bits the CPU set, and the page faults it took (CR2 and the error code:
 * not present, protection with CR0.WP, reserved bits with bit 3 = RSVD),
 * INVLPG after a changed PTE, and a MOV CR3 to a second PDPT (32-byte
 * aligned, not page aligned) that maps the same address elsewhere.
 *
 * It avoids what the SDM leaves to the implementation or where QEMU's TCG
 * departs from the SDM, so that its output is the same on both: stale TLB
 * entries, accessed bits of entries above a faulting one, and reserved bits
 * in PDPTEs (the SDM makes them a #GP(0) at MOV CR3; QEMU reads PDPTEs at
 * each walk and raises #PF).
 */
#include "../common/lib.h"

extern void pf_entry(void), bad_entry(void);
extern u32 probe_read(u32 addr);
extern void probe_write(u32 addr, u32 v);
extern volatile u32 pf_count, pf_err, pf_cr2;

#define P   1ull
#define RW  2ull
#define US  4ull
#define A   0x20ull
#define D   0x40ull
#define PS  0x80ull
#define BIT(n) (1ull << (n))

static u64 pdpts[8] __attribute__((aligned(4096)));   /* PDPT 1 at [0], PDPT 2 at [4] */
static u64 pd0[512] __attribute__((aligned(4096)));   /* 0 - 1 GiB */
static u64 pt0[512] __attribute__((aligned(4096)));   /* 0 - 2 MiB, identity */
static u64 pd1[512] __attribute__((aligned(4096)));   /* 1 - 2 GiB, the tests */
static u64 pt1[512] __attribute__((aligned(4096)));
static u64 pd1b[512] __attribute__((aligned(4096)));  /* 1 - 2 GiB under PDPT 2 */
static u64 pt1b[512] __attribute__((aligned(4096)));
static u32 frame_a[1024] __attribute__((aligned(4096)));
static u32 frame_b[1024] __attribute__((aligned(4096)));
static u64 idt[256];

#define V 0x40000000u   /* the test window: PDPTE 1 */

static void put(const char *s) { serial_puts(s); }
static void hex(u32 v) { serial_puthex(v); }

static void set_gate(int v, void (*h)(void))
{
    u32 a = (u32)h;
    idt[v] = (a & 0xFFFF) | (0x08u << 16) | ((u64)0x8E00 << 32) | ((u64)(a >> 16) << 48);
}

static void invlpg(u32 a) { __asm__ volatile("invlpg (%0)" : : "r"(a) : "memory"); }
static void set_cr3(u32 v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static u32 get_cr0(void) { u32 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static void set_cr0(u32 v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static u32 get_cr4(void) { u32 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static void set_cr4(u32 v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

/* One access and what became of it. */
static void rd(u32 a)
{
    u32 n = pf_count, v = probe_read(a);
    put("read  "); hex(a);
    if (pf_count != n) {
        put(" -> #PF err="); hex(pf_err); put(" cr2="); hex(pf_cr2);
    } else {
        put(" -> "); hex(v);
    }
    put("\n");
}

static void wr(u32 a, u32 v)
{
    u32 n = pf_count;
    probe_write(a, v);
    put("write "); hex(a); put(" <- "); hex(v);
    if (pf_count != n) {
        put(" -> #PF err="); hex(pf_err); put(" cr2="); hex(pf_cr2);
    }
    put("\n");
}

static void ad(const char *what, volatile u64 *e)
{
    put(what); put(" A="); serial_putc('0' + (*e & A ? 1 : 0));
    put(" D="); serial_putc('0' + (*e & D ? 1 : 0)); put("\n");
}

int main(u32 magic, struct multiboot_info *mbi)
{
    u32 a, b, c, d;
    (void)magic; (void)mbi;
    serial_init();
    put("PAE test guest\n");
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1));
    put("cpuid.1 edx.pae="); serial_putc('0' + ((d >> 6) & 1)); put("\n");

    for (int v = 0; v < 32; v++)
        set_gate(v, bad_entry);
    set_gate(14, pf_entry);
    struct { u16 limit; u32 base; } __attribute__((packed)) idtr = { sizeof idt - 1, (u32)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));

    for (u32 i = 0; i < 512; i++)
        pt0[i] = ((u64)i << 12) | P | RW;
    pd0[0] = (u32)pt0 | P | RW;
    pd0[1] = 0x200000 | P | RW | PS;            /* 2 - 4 MiB identity, a 2 MiB page */
    pdpts[0] = (u32)pd0 | P;
    pdpts[1] = (u32)pd1 | P;                    /* PDPTEs 2 and 3 not present */
    pdpts[4] = (u32)pd0 | P;
    pdpts[5] = (u32)pd1b | P;

    pd1[0] = (u32)pt1 | P | RW;
    pt1[0] = (u32)frame_a | P | RW;             /* V + 0x0000: frame A */
    pt1[1] = (u32)frame_a | P;                  /* V + 0x1000: frame A, read only */
    /* V + 0x2000: not present */
    pt1[3] = (u32)frame_a | P | RW | BIT(63);   /* XD without EFER.NXE: reserved */
    pt1[5] = (u32)frame_a | P | RW;             /* V + 0x5000: remapped below */
    pd1[1] = 0x200000 | P | RW | PS;            /* V + 2 MiB: alias of 2 - 4 MiB */
    pd1[2] = 0x400000 | P | RW | PS | BIT(13);  /* bits 20:13 of a 2 MiB PDE: reserved */
    pd1[3] = (u32)pt1 | P | RW | BIT(63);       /* a PDE with XD: reserved */
    pd1b[0] = (u32)pt1b | P | RW;               /* PDPT 2: V -> frame B, no 2 MiB page */
    pt1b[0] = (u32)frame_b | P | RW;
    frame_a[0] = 0x11111111;
    frame_b[0] = 0x22222222;

    set_cr3((u32)&pdpts[0]);
    set_cr4(get_cr4() | 0x20);                  /* CR4.PAE */
    set_cr0((get_cr0() | 0x80000000u) & ~0x10000u); /* CR0.PG, WP off */
    put("paging on: cr4.pae="); serial_putc('0' + ((get_cr4() >> 5) & 1)); put("\n");

    put("-- 4 KiB pages\n");
    rd(V);
    ad("pte V      ", &pt1[0]);
    wr(V + 4, 0x33333333);
    ad("pte V      ", &pt1[0]);
    rd(V + 0x1004);                             /* the same frame, read only */
    ad("pte V+1000 ", &pt1[1]);
    wr(V + 0x1008, 0x44444444);                 /* supervisor, WP = 0: allowed */
    set_cr0(get_cr0() | 0x10000u);              /* CR0.WP */
    wr(V + 0x100C, 0x55555555);
    set_cr0(get_cr0() & ~0x10000u);
    rd(V + 0x1008);
    rd(V + 0x100C);

    put("-- not present\n");
    rd(V + 0x2010);
    wr(V + 0x2020, 1);
    rd(0x80000000);                             /* PDPTE 2 */
    wr(0xC0001000, 1);                          /* PDPTE 3 */

    put("-- reserved bits\n");
    rd(V + 0x3000);                             /* PTE bit 63 */
    wr(V + 0x3000, 1);
    rd(V + 0x400000);                           /* 2 MiB PDE bit 13 */
    wr(V + 0x400000, 1);
    rd(V + 0x600004);                           /* PDE bit 63, before its PTE */

    put("-- 2 MiB pages\n");
    wr(V + 0x200010, 0xCAFEF00D);
    rd(0x200010);                               /* the same byte, identity-mapped */
    ad("pde V+200000", &pd1[1]);
    rd(V + 0x3FFFFC);

    put("-- invlpg\n");
    rd(V + 0x5000);
    pt1[5] = (u32)frame_b | P | RW;
    invlpg(V + 0x5000);
    rd(V + 0x5000);

    put("-- mov cr3\n");
    put("pdpt 2 at offset "); hex((u32)&pdpts[4] & 0xFFF); put("\n");
    set_cr3((u32)&pdpts[4]);
    rd(V);                                      /* frame B */
    rd(V + 0x200010);                           /* no 2 MiB page here */
    set_cr3((u32)&pdpts[0]);
    rd(V);
    rd(V + 0x200010);
    put("page faults: "); serial_putu(pf_count); put("\n");
    return 0;
}
