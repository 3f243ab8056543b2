/*
 * main.c - tevmm_main: load the guest, build the real descriptor tables, enter the guest;
 * trap(): where every trap lands, sorted by cause.
 *
 * The guest is an unmodified multiboot kernel given as the first multiboot module (an ELF
 * file: Multiboot 0.6.96 section 3.3 for what a loader must do, done here again for the
 * guest). The monitor owns the real GDT, IDT and TSS (Intel SDM Vol. 3A 3.5.1, 6.10, 7.2);
 * the guest's own tables live in its memory and are read ("shadowed") by the monitor.
 * Monitor command line: passed to the guest unchanged (e.g. autorun=hello for minios).
 */
#include "tevmm.h"

struct vcpu vcpu;

struct tss {
    u32 prev, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    u32 eax, ecx, edx, ebx, esp, ebp, esi, edi;
    u32 es, cs, ss, ds, fs, gs, ldt;
    u16 trap, iomap_base;
} __attribute__((packed));

u64 real_gdt[GDT_ENTRIES] __attribute__((aligned(8)));
static u64 real_idt[256] __attribute__((aligned(8)));
static struct tss tss;
extern char trap_stubs[];            /* entry.S: 16 bytes per vector */
extern char mon_stack_top[];
void guest_enter(struct frame *f) __attribute__((noreturn));

struct mb_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
};
struct mb_module { u32 start, end, string, reserved; };

u64 seg_desc(u32 base, u32 limit, u32 access, u32 flags)
{
    u64 d = limit & 0xffff;
    d |= (u64)(base & 0xffffff) << 16;
    d |= (u64)(access & 0xff) << 40;
    d |= (u64)((limit >> 16) & 0xf) << 48;
    d |= (u64)(flags & 0xf) << 52;
    d |= (u64)(base >> 24) << 56;
    return d;
}

static void tables_init(void)
{
    u32 guest_limit = (MON_BASE >> 12) - 1;                           /* 4 KiB units */
    real_gdt[MON_CS >> 3] = seg_desc(0, 0xfffff, 0x9a, 0xc);           /* ring 0 code */
    real_gdt[MON_DS >> 3] = seg_desc(0, 0xfffff, 0x92, 0xc);           /* ring 0 data */
    real_gdt[BOOT_GUEST_CS >> 3] = seg_desc(0, guest_limit, 0xba, 0xc); /* ring 1, clipped */
    real_gdt[BOOT_GUEST_DS >> 3] = seg_desc(0, guest_limit, 0xb2, 0xc);
    tss.ss0 = MON_DS;
    tss.esp0 = (u32)mon_stack_top;
    tss.iomap_base = sizeof(tss);        /* no I/O bitmap: every guest IN/OUT traps */
    real_gdt[MON_TSS >> 3] = seg_desc((u32)&tss, sizeof(tss) - 1, 0x89, 0);

    /* Exceptions and the real PIC's vectors: DPL 0, a software INT n to them from the
     * guest raises #GP(n*8+2) instead. 0x20-0xEF: DPL 3, so the guest's INT n lands here
     * directly and is reflected (the real PIC never uses them). */
    for (u32 v = 0; v < 256; v++) {
        u32 h = (u32)trap_stubs + 16 * v;
        u32 dpl = (v >= 0x20 && v < IRQ_BASE) ? 3 : 0;
        u32 lo = (MON_CS << 16) | (h & 0xffff);
        u32 hi = (h & 0xffff0000) | 0x8e00 | (dpl << 13);
        real_idt[v] = ((u64)hi << 32) | lo;
    }
    struct { u16 limit; u32 base; } __attribute__((packed))
        gdtr = { sizeof(real_gdt) - 1, (u32)real_gdt }, idtr = { sizeof(real_idt) - 1, (u32)real_idt };
    __asm__ volatile(
        "lgdt %0\n\t"
        "ljmp $0x780, $1f\n"
        "1: mov $0x788, %%ax\n\t"
        "mov %%ax, %%ds\n\t mov %%ax, %%es\n\t mov %%ax, %%fs\n\t mov %%ax, %%gs\n\t mov %%ax, %%ss\n\t"
        "mov $0x790, %%ax\n\t ltr %%ax\n\t"
        "lidt %1"
        : : "m"(gdtr), "m"(idtr) : "eax", "memory");
}

/* Copies the guest's PT_LOAD segments to guest-physical memory; returns its entry point. */
static u32 load_guest(const u8 *elf, u32 len)
{
    const u32 *h = (const u32 *)elf;
    if (len < 52 || h[0] != 0x464c457f || elf[4] != 1 || *(const u16 *)(elf + 18) != 3)
        stop_guest("the module is not a 32-bit i386 ELF file");
    u32 phoff = h[7], entry = h[6];
    u32 phnum = *(const u16 *)(elf + 44), phentsize = *(const u16 *)(elf + 42);
    if (phentsize < 32 || phoff > len || phnum * phentsize > len - phoff)
        stop_guest("the module's program headers are cut short");
    for (u32 i = 0; i < phnum; i++) {
        const u32 *ph = (const u32 *)(elf + phoff + i * phentsize);
        if (ph[0] != 1) continue;                            /* PT_LOAD */
        u32 off = ph[1], pa = ph[3], filesz = ph[4], memsz = ph[5];
        if (filesz > memsz || off > len || filesz > len - off || pa < 0x100000 ||
            pa >= GUEST_MEM || memsz > GUEST_MEM - pa)
            stop_guest("a guest segment lies outside the guest's 1-4 MiB");
        memcpy(GPA(pa), elf + off, filesz);
        memset((u8 *)GPA(pa) + filesz, 0, memsz - filesz);
    }
    return entry;
}

/* tevmm.umip: CR4.UMIP (Intel SDM Vol. 3A 2.5), the partial hardware fix: SGDT, SIDT,
 * SLDT, STR, SMSW then fault at CPL > 0 and are emulated (sensitive.c). */
int umip;

static void umip_on(void)
{
    u32 a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0));
    c = 0;
    if (a >= 7) __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    if (!(c & 4)) { mprintf("tevmm: tevmm.umip: this CPU has no UMIP (CPUID 7.0 ECX bit 2)\n"); return; }
    u32 cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 0x800));
    umip = 1;
    mprintf("tevmm: UMIP on: SGDT, SIDT, SLDT, STR, SMSW trap at ring 1 and 3\n");
}

void tevmm_main(u32 magic, struct mb_info *mbi)
{
    serial_init();
    ledger_declare();
    mprintf("tevmm: trap-and-emulate monitor; guest kernel at ring 1, guest user at ring 3\n");
    if (magic != 0x2BADB002) stop_guest("not started by a multiboot loader");
    if (!(mbi->flags & 8) || mbi->mods_count < 1)
        stop_guest("no guest: pass the guest kernel as a multiboot module");
    struct mb_module *mod = (struct mb_module *)mbi->mods_addr;
    extern char _end[];
    if (mod->start < V2P(_end) || mod->end > 2 * GUEST_MEM || mod->end < mod->start)
        stop_guest("the module is not where tevmm can read it (above the monitor, below 8 MiB)");
    /* The command line goes to the guest, but for the words "tevmm.*", which are ours. */
    static char cmdline[256];
    int want_umip = 0;
    if ((mbi->flags & 4) && mbi->cmdline) {
        const char *s = (const char *)mbi->cmdline;
        u32 o = 0;
        while (*s) {
            const char *w = s;
            while (*s && *s != ' ') s++;
            u32 len = (u32)(s - w);
            if (len == 10 && !strncmp(w, "tevmm.umip", 10)) want_umip = 1;
            else if (len && o + len + 1 < sizeof(cmdline)) {
                if (o) cmdline[o++] = ' ';
                memcpy(cmdline + o, w, len);
                o += len;
            }
            while (*s == ' ') s++;
        }
    }
    /* The guest's memory is the window 0xFF800000 (identity still mapped too). */
    u32 entry = load_guest((const u8 *)mod->start, mod->end - mod->start);

    /* The guest's multiboot information, in its memory at 0x7000. */
    struct mb_info *gmbi = GPA(0x7000);
    memset(gmbi, 0, 0x200);
    gmbi->flags = 1 | 4;
    gmbi->mem_lower = 639;
    gmbi->mem_upper = (GUEST_MEM - 0x100000) >> 10;
    gmbi->cmdline = 0x7100;
    memcpy(GPA(0x7100), cmdline, sizeof(cmdline));
    mprintf("tevmm: guest loaded, entry %p, %u KiB of guest memory\n", entry, GUEST_MEM >> 10);

    if (want_umip) umip_on();
    tables_init();
    pic_real_init();
    vcpu.cr0 = 0x11;                         /* PE | ET: protected mode, paging off */
    vcpu.pic_base[0] = 0x08;
    vcpu.pic_base[1] = 0x70;
    shadow_init();                           /* switches CR3 to the shadow directory */

    static struct frame f;
    f.eip = entry;
    f.cs = BOOT_GUEST_CS;
    f.ss = f.ds = f.es = f.fs = f.gs = BOOT_GUEST_DS;
    f.esp = 0x7000;
    f.eflags = 0x202;                        /* real IF = 1 always; virtual IF = 0 */
    f.eax = 0x2BADB002;
    f.ebx = 0x7000;
    vcpu.vif = 0;
    tsc_start = rdtsc();
    struct frame *top = (struct frame *)((u32)mon_stack_top - sizeof(struct frame));
    *top = f;
    guest_enter(top);
}

static void monitor_fault(struct frame *f)
{
    u32 cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    mprintf("\ntevmm: monitor fault: vector %u error %x at %p (cr2 %p)\n", f->vec, f->err, f->eip, cr2);
    stop_guest("internal error");
}

void trap(struct frame *f)
{
    u64 t0 = rdtsc();
    u32 v = f->vec;
    if ((f->cs & 3) == 0) {                  /* the monitor itself was interrupted */
        if (v >= IRQ_BASE) { irq_taken(v - IRQ_BASE); return; }
        monitor_fault(f);
    }
    traps_total++;
    ledger_count(LID_TRAPS);
    if (v >= IRQ_BASE) {                     /* a real IRQ: held for the guest */
        irq_taken(v - IRQ_BASE);
    } else if ((v == 13 || v == 14 || v >= 0x20) && (guest_cpl(f) == 3 || vcpu.vif) &&
               irq_deliverable() && !stepping) {
        /* An IRQ was waiting while the guest could take it: the CPU would have delivered it
         * before this instruction. Deliver it now; the instruction runs (and traps) again. */
        if (v >= 0x20) f->eip -= 2;          /* INT n (CD ib) through a DPL-3 gate */
    } else if (v == 13) {
        if (f->err & 2) {                    /* INT n through a DPL-0 gate: software interrupt */
            u8 op = 0;
            guest_read(f->eip, &op, 1);
            u32 len = op == 0xcd ? 2 : 1;
            f->eip += len;
            reflect(f, f->err >> 3, 0, len, K_SOFT);
        } else {
            emulate_gp(f);
        }
    } else if (v == 14) {
        u32 cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        shadow_page_fault(f, cr2);           /* reflects the true guest faults itself */
    } else if (v == 1 && stepping) {
        shadow_step_done(f);
    } else if (v < 32) {
        tally(C_EXC_REFLECT);
        int has_err = v == 8 || (v >= 10 && v <= 14) || v == 17;
        reflect(f, v, has_err, f->err, K_EXC);
    } else if (v == 0x82 && guest_cpl(f) != 3) {   /* hypercall.h: HYPERCALL_VECTOR */
        hypercall(f);
    } else {                                 /* INT n from the guest (0x20-0xEF) */
        reflect(f, v, 0, 2, K_SOFT);
    }
    deliver_pending(f);
    tsc_monitor += rdtsc() - t0;
}
