/*
 * vmm.c - the user half of minios's hosted hypervisor (hv2): a minios process
 * that runs a virtual machine through the kernel's driver (../vm.c, ../vm.h),
 * the way QEMU runs one through Linux's KVM.
 *
 *   vmm [-m KIB] [IMAGE [GUEST COMMAND LINE]]   boot a multiboot kernel (default
 *                                              /boot/minios.elf) with KIB of RAM above 1 MiB
 *   vmm -t hello|triple|npf|io                 a tiny built-in test guest
 *
 * What it does (see ../../hv2/README.md):
 *   - the multiboot loader (multiboot spec 3.1-3.3): reads the ELF image from the
 *     file, puts its segments in guest memory, builds the information structure,
 *     and starts the vCPU with EAX = 0x2BADB002, EBX = its address;
 *   - guest memory is this process's own heap (sbrk), given to the VM with vm_memory();
 *   - the loop: vm_run() until an exit the kernel hands back, then emulate the device
 *     the guest touched: a 16550 UART on COM1 (its output goes out with the host's
 *     write(), host console input comes in), an 8259A PIC pair, the 8254 PIT
 *     channel 0 (its interrupts are paced by the host's own timer ticks), the exit
 *     port 0xF4, and the marker port MARK_PORT (0xEA, traplab compare's), passed on
 *     with the host's mark() system call; CPUID and VMMCALL answers per ../../common/hvabi.h;
 *   - the ledger (Ctrl-T, and at the end): exits by class, instructions and virtual
 *     time per world;
 *   - Ctrl-D ends the guest's console input: vmm reads no further, so what follows
 *     is left for the host's shell once the guest has shut down (scripted sessions).
 */
#include "ulib.h"
#include "../vm.h"
#include "../../common/hvabi.h"

typedef unsigned int u32;
typedef unsigned char u8;
typedef unsigned long long u64;

#define RAM_BASE  0x100000u            /* guest RAM: 1 MiB up (where minios is linked) */
#define INFO_GPA  0x8000u              /* one page: multiboot information + command line */
#define VGA_GPA   0xb8000u             /* one page of text screen (minios writes it) */
#define LEDGER_KEY 0x14                /* Ctrl-T: print the ledger */
#define END_KEY    0x04                /* Ctrl-D: the guest's console input ends here */

static int vm;
static u8 *ram, *info, *vga;
static u32 ram_size;

static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }

/* ---- the driver's calls (vm.h) ------------------------------------------- */
static int vm_memory(u32 gpa, u32 size, void *uva)
{
    struct vm_memory m = { gpa, size, (u32)uva };
    return syscall3(SYS_VM_MEMORY, vm, (int)&m, 0);
}
static int vm_getregs(struct vm_regs *r) { return syscall3(SYS_VM_GETREGS, vm, (int)r, 0); }
static int vm_setregs(struct vm_regs *r) { return syscall3(SYS_VM_SETREGS, vm, (int)r, 0); }

/* v / d for a 32-bit d with two DIVs (no libgcc in minios programs). */
static u64 div64(u64 v, u32 d)
{
    u32 hi = (u32)(v >> 32), lo = (u32)v, qhi = hi / d, r = hi % d, qlo;
    __asm__("divl %4" : "=a"(qlo), "=d"(r) : "a"(lo), "d"(r), "rm"(d));
    return ((u64)qhi << 32) | qlo;
}
static void put64(u64 v, int width)   /* printf has no 64-bit %u */
{
    char b[24], out[48];
    int n = 0, k = 0;
    do { u64 q = div64(v, 10); b[n++] = (char)('0' + (u32)(v - q * 10)); v = q; } while (v);
    while (width-- > n && k < 24) out[k++] = ' ';
    while (n) out[k++] = b[--n];
    out[k] = 0;
    printf("%s", out);
}

/* ---- 8259A PIC pair (only what minios uses: ICWs, IMR, EOI, OCW3 ISR read) -- */
static struct pic { u8 irr, imr, isr, base, step, icw4, read_isr; } pic[2] = {
    { 0, 0xff, 0, 0x08, 0, 0, 0 }, { 0, 0xff, 0, 0x70, 0, 0, 0 } };

static void pic_raise(int irq)
{
    pic[irq >> 3].irr |= (u8)(1 << (irq & 7));
    if (irq >= 8) pic[0].irr |= 4;     /* the slave's output is the master's IRQ 2 */
}

/* The highest-priority IRQ a chip would present (lower number first; an
 * in-service one blocks itself and everything below it), -1 none. */
static int pic_best(struct pic *p)
{
    for (int i = 0; i < 8; i++) {
        if (p->isr & (1 << i)) return -1;
        if (p->irr & ~p->imr & (1 << i)) return i;
    }
    return -1;
}
static int pic_vector(void)
{
    int m = pic_best(&pic[0]);
    if (m < 0) return -1;
    if (m == 2) { int s = pic_best(&pic[1]); return s < 0 ? -1 : pic[1].base + s; }
    return pic[0].base + m;
}
static void pic_ack(int vector)        /* the guest took it: IRR -> ISR */
{
    for (int c = 0; c < 2; c++) {
        int irq = vector - pic[c].base;
        if (irq < 0 || irq > 7) continue;
        pic[c].irr &= (u8)~(1 << irq);
        pic[c].isr |= (u8)(1 << irq);
        if (c == 1) { pic[0].irr &= (u8)~4; pic[0].isr |= 4; }
        return;
    }
}
static void pic_out(int c, int port1, u8 v)
{
    struct pic *p = &pic[c];
    if (!port1 && (v & 0x10)) { p->step = 1; p->icw4 = v & 1; p->imr = p->isr = p->irr = 0; return; }
    if (!port1 && (v & 0x18) == 0x08) { p->read_isr = (v & 3) == 3; return; }     /* OCW3 */
    if (!port1) {                                                           /* OCW2 */
        int irq = (v & 0xe0) == 0x60 ? v & 7 : -1;
        for (int i = 0; i < 8 && irq < 0 && (v & 0xe0) == 0x20; i++) if (p->isr & (1 << i)) irq = i;
        if (irq >= 0) p->isr &= (u8)~(1 << irq);
        return;
    }
    if (p->step == 1) { p->base = v & 0xf8; p->step = 2; }                 /* ICW2 */
    else if (p->step == 2) p->step = p->icw4 ? 3 : 0;                      /* ICW3 */
    else if (p->step == 3) p->step = 0;                                     /* ICW4 */
    else p->imr = v;                                                        /* OCW1 */
}

/* ---- 8254 PIT channel 0: paced by the host's 100 Hz ticks -------------------- */
static u32 pit_divisor, pit_period, next_tick;   /* period in host ticks, 0 = off */
static int pit_lohi;

static void pit_out(int port, u8 v, u32 now)
{
    if (port == 0x43) { if ((v >> 6) == 0) pit_lohi = 0; return; }   /* channel 0 command */
    if (port != 0x40) return;
    if (!pit_lohi) { pit_divisor = v; pit_lohi = 1; return; }
    pit_divisor |= (u32)v << 8;
    pit_lohi = 0;
    u32 d = pit_divisor ? pit_divisor : 65536;
    pit_period = (d * 100 + 596591) / 1193182;   /* host ticks are 1/100 s */
    if (!pit_period) pit_period = 1;
    next_tick = now + pit_period;
}

/* ---- 16550 UART on COM1 --------------------------------------------------- */
static u8 uart_ier, uart_lcr, uart_mcr, uart_scr;
static int input_ended;
static char rx[256];
static u32 rx_head, rx_tail;

static void uart_input(const char *s, int n)
{
    for (int i = 0; i < n && rx_head - rx_tail < sizeof(rx); i++) rx[rx_head++ % sizeof(rx)] = s[i];
    if (n && (uart_ier & 1)) pic_raise(4);
}

static u32 uart_in(int reg)
{
    int dlab = uart_lcr & 0x80, have = rx_head != rx_tail;
    switch (reg) {
    case 0: if (dlab) return 1;
        return have ? (u8)rx[rx_tail++ % sizeof(rx)] : 0;
    case 1: return dlab ? 0 : uart_ier;
    case 2: return (uart_ier & 1) && have ? 0x04 : 0x01;   /* IIR: data ready, or none */
    case 3: return uart_lcr;
    case 4: return uart_mcr;
    case 5: return 0x60 | (have ? 1 : 0);                  /* LSR: THR empty, data ready */
    case 6: return 0xb0;
    default: return uart_scr;
    }
}

static void uart_out(int reg, u8 v)
{
    if (uart_lcr & 0x80 && reg < 2) return;                /* the divisor: any speed */
    switch (reg) {
    case 0: write(1, &v, 1); break;                      /* the long path, per byte */
    case 1: uart_ier = v & 0x0f; if ((v & 1) && rx_head != rx_tail) pic_raise(4); break;
    case 3: uart_lcr = v; break;
    case 4: uart_mcr = v; break;
    case 7: uart_scr = v; break;
    }
}

/* ---- the ledger ------------------------------------------------------------ */
static struct vm_stats st0;            /* the driver's clocks when vmm started the VM */
static u32 io_exits, ports_unknown;

/* "N" right-aligned in `width`, or "-" there when the CPU counts no instructions. */
static void put_insns(u64 v, int have, int width)
{
    if (have) { put64(v, width); return; }
    while (width-- > 1) printf(" ");
    printf("-");
}

/* One world: instructions and TSC ticks. */
static void world(const char *name, u64 n, u64 t, int have)
{
    printf("vmm:   %-22s", name);
    put_insns(n, have, 14);
    put64(t, 14);
    printf("\n");
}

/* x per 1000 y, two decimals. */
static void per_k(u64 x, u64 y)
{
    while (y > 0xffffffffu) { x >>= 1; y >>= 1; }
    u64 per = y ? div64(x * 100000, (u32)y) : 0;
    printf("%u.%u%u\n", (u32)div64(per, 100), (u32)div64(per, 10) % 10, (u32)per % 10);
}

static void ledger(const char *why)
{
    static const char *const names[VM_NCLASS] = VM_CLASS_NAMES;
    struct vm_stats st;
    syscall3(SYS_VM_STATS, vm, (int)&st, 0);
    int have = (int)st.irperf;
    /* The driver times every world from the moment vmm started the VM (st0):
     * the guest, vmm in user mode, vmm switched out; host kernel is the rest
     * (vm_run, vmm's other system calls, interrupts taken while vmm ran). */
    u64 total = st.now - st0.now, total_i = st.now_insns - st0.now_insns;
    u64 user = st.user - st0.user, user_i = st.user_insns - st0.user_insns;
    u64 kern = total - st.guest - user - (st.others - st0.others);
    u64 kern_i = total_i - st.guest_insns - user_i - (st.others_insns - st0.others_insns);
    printf("vmm: ledger (%s): instructions (IRPerfCount; - if the CPU has none) and TSC ticks (Traplab: 1 tick = 10 ns)\n", why);
    printf("vmm:   exit class   exits  to vmm  mean #VMEXIT->VMRUN: instructions  TSC\n");
    for (int c = 1; c < VM_NCLASS; c++) {   /* every row, so that machines compare by shape */
        printf("vmm:   %-10s", names[c]);
        put64(st.exits[c], 8);
        put64(st.to_user[c], 8);
        put_insns(st.exits[c] ? div64(st.handle_insns[c], st.exits[c]) : 0, have, 24);
        put64(st.exits[c] ? div64(st.handle[c], st.exits[c]) : 0, 10);   /* 0: none, or no VMRUN after */
        printf("\n");
    }
    if (st.exits[0]) printf("vmm:   other exits %u\n", st.exits[0]);
    printf("vmm:   VMRUNs");      put64(st.vmruns, 29); printf("\n");
    printf("vmm:   world                   instructions     TSC ticks\n");
    world("guest", st.guest_insns, st.guest, have);
    world("host kernel", kern_i, kern, have);
    world("  of it in vm_run", st.kernel_insns, st.kernel, have);
    world("host user (vmm)", user_i, user, have);
    world("other processes, idle", st.others_insns - st0.others_insns, st.others - st0.others, have);
    world("total", total_i, total, have);
    printf("vmm:   (TSC - instructions: the guest's charged VMRUN/#VMEXIT costs, idle time; %u kernel entries from vmm)\n",
           st.entries - st0.entries);
    u32 exits = 0;
    for (int c = 0; c < VM_NCLASS; c++) exits += st.exits[c];
    printf("vmm:   #VMEXITs per 1000 guest instructions: ");
    if (have) per_k(exits, st.guest_insns); else printf("-\n");
}

/* ---- CPUID and VMMCALL (../../common/hvabi.h) ------------------------------ */
static void cpuid_exit(void)
{
    struct vm_regs r;
    vm_getregs(&r);
    u32 leaf = r.eax, sub = r.ecx;
    if (leaf == HVABI_CPUID_BASE) {
        const u32 *sig = (const u32 *)HVABI_SIG_HV2;
        r.eax = HVABI_CPUID_VERSION; r.ebx = sig[0]; r.ecx = sig[1]; r.edx = sig[2];
    } else if (leaf == HVABI_CPUID_VERSION) {
        r.eax = HVABI_VERSION; r.ebx = r.ecx = r.edx = 0;
    } else {
        __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(sub));
        if (leaf == 1) r.ecx |= HVABI_CPUID_HV_BIT;
        if (leaf == 0x80000001) r.ecx &= ~4u;              /* no SVM for the guest */
        if (leaf == 0x8000000a) r.eax = r.ebx = r.ecx = r.edx = 0;
    }
    vm_setregs(&r);
}

static void vmmcall_exit(void)
{
    struct vm_regs r;
    vm_getregs(&r);
    if (r.eax == HVABI_WHOAMI) {
        r.eax = HVABI_OK; r.ebx = 'h' | 'v' << 8 | '2' << 16; r.ecx = r.edx = 0;
        r.esi = (u32)vm + 1; r.edi = 2;
    } else {
        r.eax = HVABI_ENOSYS;
    }
    vm_setregs(&r);
}

/* ---- the multiboot loader --------------------------------------------------- */
static u8 hdr[8192];

static int load(const char *path, const char *cmdline, struct vm_regs *r)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) { eprintf("vmm: %s: %s\n", path, strerror(fd)); return -1; }
    int n = read(fd, hdr, sizeof(hdr));
    const u32 *mb = 0;
    for (int i = 0; i + 12 <= n && i < 8192; i += 4) {
        const u32 *w = (const u32 *)(hdr + i);
        if (w[0] == 0x1badb002 && w[0] + w[1] + w[2] == 0) { mb = w; break; }
    }
    const u32 *eh = (const u32 *)hdr;
    if (!mb || n < 52 || eh[0] != 0x464c457f || (mb[1] & 0x10000)) {
        eprintf("vmm: %s: not a multiboot ELF kernel\n", path);
        return -1;
    }
    u32 entry = eh[6], phoff = eh[7], phnum = *(const unsigned short *)(hdr + 44);
    for (u32 i = 0; i < phnum && i < 32; i++) {
        if (phoff + i * 32 + 32 > (u32)n) break;
        const u32 *ph = (const u32 *)(hdr + phoff + i * 32);
        u32 off = ph[1], pa = ph[3], filesz = ph[4], memsz = ph[5];
        if (ph[0] != 1 || !memsz) continue;                       /* PT_LOAD only */
        if (pa < RAM_BASE || memsz > ram_size || pa - RAM_BASE > ram_size - memsz || filesz > memsz) {
            eprintf("vmm: %s: a segment at 0x%x (%u bytes) is outside guest RAM\n", path, pa, memsz);
            return -1;
        }
        lseek(fd, (int)off, SEEK_SET);
        for (u32 got = 0; got < filesz; ) {
            int k = read(fd, ram + (pa - RAM_BASE) + got, (int)(filesz - got));
            if (k <= 0) { eprintf("vmm: %s: short read\n", path); return -1; }
            got += (u32)k;
        }
    }
    close(fd);
    /* The multiboot information: flags 0 (mem_*) and 2 (cmdline). */
    u32 *mbi = (u32 *)info;
    mbi[0] = 1 | 4;
    mbi[1] = 0;                        /* mem_lower: no conventional memory given */
    mbi[2] = ram_size / 1024;          /* mem_upper: KiB above 1 MiB */
    mbi[4] = INFO_GPA + 0x100;
    for (int i = 0; cmdline[i] && i < 255; i++) info[0x100 + i] = (u8)cmdline[i];
    r->eax = 0x2badb002;
    r->ebx = INFO_GPA;
    r->eip = entry;
    return 0;
}

/* The test guest (-t): 32-bit code copied to RAM_BASE, EAX = scenario.
 * 0: prints a line and the CPUID 0x40000000 signature on COM1, then the
 *    VMMCALL WHOAMI name, and writes 0 to the exit port; 1: a triple fault
 *    (IDT limit 0, then INT3); 2: reads unmapped guest-physical 0x00900000;
 *    3: 10,000 IN from port 0x80 (no device: vmm answers 0xFF), then exits: the
 *    round trip of one I/O exit, measured in samples/README.md. */
extern const u8 test_guest[], test_guest_end[];
__asm__(".data\n test_guest:\n"
        " mov %eax, %edi\n mov $0x3f8, %dx\n"
        " call 1f\n 1: pop %esi\n add $(msg - 1b), %esi\n"
        "2: lodsb\n test %al, %al\n jz 3f\n outb %al, %dx\n jmp 2b\n"
        "3: cmp $1, %edi\n je 5f\n cmp $2, %edi\n je 6f\n cmp $3, %edi\n je 9f\n"
        " mov $0x40000000, %eax\n cpuid\n push %edx\n push %ecx\n push %ebx\n call 4f\n"
        " mov $1, %eax\n vmmcall\n push %edx\n push %ecx\n push %ebx\n call 4f\n"
        " mov $0xa, %al\n outb %al, %dx\n mov $0, %al\n outb %al, $0xf4\n hlt\n"
        "4: mov %esp, %esi\n add $4, %esi\n mov $12, %ecx\n mov $0x3f8, %dx\n"
        "7: lodsb\n test %al, %al\n jz 8f\n outb %al, %dx\n 8: loop 7b\n mov $0x20, %al\n outb %al, %dx\n ret $12\n"
        "5: push $0\n push $0\n lidt 2(%esp)\n int3\n"
        "6: mov 0x00900000, %eax\n hlt\n"
        "9: mov $10000, %ecx\n 10: inb $0x80, %al\n loop 10b\n mov $0, %al\n outb %al, $0xf4\n hlt\n"
        "msg: .asciz \"test guest: hello from the guest\\n\"\n"
        " .global test_guest_end\n test_guest_end:\n .text\n");

static int parse_uint(const char *s, u32 *v)
{
    *v = 0;
    if (!*s) return -1;
    for (; *s; s++) { if (*s < '0' || *s > '9' || *v > 100000) return -1; *v = *v * 10 + (u32)(*s - '0'); }
    return 0;
}

int main(int argc, char **argv)
{
    u32 kib = 1536;
    int test = -1, a = 1;
    static char cmdline[128];
    for (; a < argc && argv[a][0] == '-'; a++) {
        if (!strcmp(argv[a], "-m") && a + 1 < argc && !parse_uint(argv[a + 1], &kib) && kib >= 256 && kib <= 2048) a++;
        else if (!strcmp(argv[a], "-t") && a + 1 < argc) {
            const char *t = argv[++a];
            test = !strcmp(t, "hello") ? 0 : !strcmp(t, "triple") ? 1 : !strcmp(t, "npf") ? 2
                 : !strcmp(t, "io") ? 3 : -2;
            if (test < 0) { eprintf("vmm: -t takes hello, triple, npf or io\n"); return 2; }
        } else {
            eprintf("usage: vmm [-m KIB (256-2048)] [IMAGE [CMDLINE]] | vmm -t hello|triple|npf|io\n");
            return 2;
        }
    }
    const char *image = a < argc ? argv[a++] : "/boot/minios.elf";
    for (int n = 0; a < argc; a++)
        for (const char *s = argv[a]; n < 126; s++) {
            if (!*s) { if (a + 1 < argc) cmdline[n++] = ' '; break; }
            cmdline[n++] = *s;
        }

    vm = syscall3(SYS_VM_CREATE, 0, 0, 0);
    if (vm < 0) { eprintf("vmm: cannot create a VM: %s\n", strerror(vm)); return 1; }
    /* Guest memory: this process's heap, page aligned. */
    ram_size = kib * 1024;
    u32 brk = (u32)sbrk(0);
    u8 *mem = sbrk((int)((4096 - brk % 4096) % 4096 + 2 * 4096 + ram_size));
    if (mem == (u8 *)-1) { eprintf("vmm: no memory for %u KiB of guest RAM\n", kib); return 1; }
    mem += (4096 - brk % 4096) % 4096;
    info = mem; vga = mem + 4096; ram = mem + 8192;
    int err = vm_memory(INFO_GPA, 4096, info);
    if (!err) err = vm_memory(VGA_GPA, 4096, vga);
    if (!err) err = vm_memory(RAM_BASE, ram_size, ram);
    if (err) { eprintf("vmm: vm_memory: %s\n", strerror(err)); return 1; }

    struct vm_regs r;
    vm_getregs(&r);
    if (test >= 0) {
        memcpy(ram, test_guest, (u32)(test_guest_end - test_guest));
        r.eax = (u32)test; r.eip = RAM_BASE; r.esp = RAM_BASE + ram_size;
    } else if (load(image, cmdline, &r)) {
        return 1;
    }
    vm_setregs(&r);
    if (test < 0) printf("vmm: vm %d: %s, %u KiB of RAM, console on COM1 (Ctrl-T: ledger)\n", vm + 1, image, kib);

    struct vm_run ru;
    memset(&ru, 0, sizeof(ru));
    int halted = 0, status = -1;
    u32 now = uptime();
    syscall3(SYS_VM_STATS, vm, (int)&st0, 0);
    while (status < 0) {
        ru.irq = pic_vector();
        ru.deadline = pit_period ? next_tick : 0;
        /* Host input is read only when the guest can take it: its UART receive
         * interrupt is on and the last byte was read (so the host keeps what the
         * guest does not ask for). */
        int want = !input_ended && (uart_ier & 1) && rx_head == rx_tail;
        ru.flags = (want ? VM_RUN_INPUT : 0) | (halted && ru.irq < 0 ? VM_RUN_HALTED : 0);
        if (ru.flags == VM_RUN_HALTED && !ru.deadline) {
            printf("\nvmm: the guest halted for good (no timer, no input): vm %d stopped\n", vm + 1);
            status = 3;
            break;
        }
        int why = syscall3(SYS_VM_RUN, vm, (int)&ru, 0);
        now = ru.now;
        if (ru.irq_taken) pic_ack(ru.irq);
        halted = 0;
        switch (why) {
        case VM_EXIT_IO: {
            io_exits++;
            u32 p = ru.io.port;
            if (ru.io.string) { eprintf("vmm: string I/O at port 0x%x not emulated\n", p); status = 1; break; }
            u32 in = 0xffffffff;
            if (p >= 0x3f8 && p <= 0x3ff) { if (ru.io.in) in = uart_in((int)(p - 0x3f8)); else uart_out((int)(p - 0x3f8), (u8)ru.io.data); }
            else if (p == 0x20 || p == 0x21 || p == 0xa0 || p == 0xa1) {
                int c = p >= 0xa0;
                struct pic *q = &pic[c];
                if (ru.io.in) in = p & 1 ? q->imr : q->read_isr ? q->isr : q->irr;
                else pic_out(c, (int)(p & 1), (u8)ru.io.data);
            } else if (p >= 0x40 && p <= 0x43) { if (!ru.io.in) pit_out((int)p, (u8)ru.io.data, now); }
            else if (p == 0xf4 && !ru.io.in) { printf("\nvmm: the guest shut down (code %u)\n", ru.io.data & 0xff); status = (int)(ru.io.data & 0xff); }
            else if (p == MARK_PORT && !ru.io.in) mark((int)(ru.io.data & 0xff));
            else if (p != 0x3d4 && p != 0x3d5) ports_unknown++;   /* VGA cursor: nothing to do */
            ru.io_data = in;
            break;
        }
        case VM_EXIT_HLT: halted = 1; break;
        case VM_EXIT_CPUID: cpuid_exit(); break;
        case VM_EXIT_VMMCALL: vmmcall_exit(); break;
        case VM_EXIT_TIMER:
            pic_raise(0);
            next_tick += pit_period;
            break;
        case VM_EXIT_INPUT: {          /* one byte: what follows Ctrl-D stays for the host */
            char c;
            int n = read(0, &c, 1);
            if (n == 1 && c == LEDGER_KEY) ledger("on request");
            else if (n == 1 && c == END_KEY) input_ended = 1;
            else if (n == 1) uart_input(&c, 1);
            break;
        }
        case VM_EXIT_SHUTDOWN:
            printf("\nvmm: guest triple fault (#VMEXIT SHUTDOWN) at EIP 0x%x: vm %d stopped\n", ru.eip, vm + 1);
            status = 3;
            break;
        case VM_EXIT_NPF:
            printf("\nvmm: guest touched guest-physical 0x%x, which is not its memory (NPF, EIP 0x%x): vm %d stopped\n",
                   ru.gpa, ru.eip, vm + 1);
            status = 3;
            break;
        case VM_EXIT_INVALID:
            printf("\nvmm: VMRUN refused the guest state (VMEXIT_INVALID)\n");
            status = 3;
            break;
        default:
            printf("\nvmm: unexpected exit %d (code 0x%x) at EIP 0x%x\n", why, ru.code, ru.eip);
            status = 3;
            break;
        }
        if (pit_period && (int)(next_tick - now) <= 0) next_tick = now + pit_period;  /* lost ticks */
    }
    ledger("at exit");
    syscall3(SYS_VM_DESTROY, vm, 0, 0);
    return status;
}
