/*
 * main.c - hv1: a type-1 hypervisor. It boots on the machine, turns SVM on
 * (AMD64 APM vol. 2, 15.4 "Enabling SVM": CPUID 0x80000001 ECX bit 2, VM_CR
 * SVMDIS = 0, EFER.SVME = 1, VM_HSAVE_PA), loads the multiboot module (an
 * unmodified minios.elf) into each VM and runs them in turn: the scheduler
 * switches VMs on every tick of the real PIT, a HLT yields at once, and
 * before each VMRUN the VM's pending virtual IRQ is injected (15.20 "Event
 * Injection"), or, when the guest cannot take it yet, requested with V_IRQ so
 * that a VINTR exit says when it can (15.21.4).
 * Command line: vms=N (1-4, default 2), mem=M (MiB per VM, a multiple of 4,
 * default 8). Ends (exit device, status 0) when every VM has stopped.
 */
#include "hv1.h"

struct vm vms[MAX_VMS] PAGE;
u32 nvms;
static u8 hsave[4096] PAGE;
static u64 host_pdpt[4] PAGE;
static u64 host_pd[512] PAGE;

struct mb_module { u32 start, end, string, reserved; };

static int fail(const char *msg)
{
    hv_put("hv1: ");
    hv_put(msg);
    hv_put("\n");
    return 2;
}

/* Host paging: PAE, 2 MiB pages identity-mapping the first 1 GiB. Only so that the
 * nested page tables have a format: it is the host's paging mode at VMRUN (15.25.3), so
 * the nested tables are PAE too (QEMU 7.2 walks nested tables only for a PAE or long-mode
 * host). */
static void host_paging(void)
{
    for (u32 i = 0; i < 512; i++)
        host_pd[i] = ((u64)i << 21) | 0x83;   /* present, writable, 2 MiB */
    host_pdpt[0] = (u32)host_pd | 1;
    u32 cr0, cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 0x20));   /* CR4.PAE */
    __asm__ volatile("mov %0, %%cr3" : : "r"(host_pdpt));
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | 0x80000000u) : "memory");
}

/* Real PIC: IRQs at vectors 0x20-0x2F, only IRQ 0 (PIT) and IRQ 4 (COM1) unmasked;
 * real PIT channel 0 at 100 Hz; COM1 interrupts on received data. */
static void host_devices(void)
{
    static const u8 icw[] = {0x11, 0x20, 0x04, 0x01}, icw2[] = {0x11, 0x28, 0x02, 0x01};
    for (int i = 0; i < 4; i++) {
        outb(i ? 0x21 : 0x20, icw[i]);
        outb(i ? 0xA1 : 0xA0, icw2[i]);
    }
    outb(0x21, (u8)~((1 << 0) | (1 << 4)));
    outb(0xA1, 0xFF);
    outb(0x43, 0x34);                       /* channel 0, lobyte/hibyte, mode 2 */
    outb(0x40, 11932 & 0xFF);
    outb(0x40, 11932 >> 8);
    static const u8 uart[][2] = {
        {1, 0x00}, {3, 0x80}, {0, 0x01}, {1, 0x00}, /* IER off; DLAB: divisor 1, 115200 baud */
        {3, 0x03},                                  /* 8N1 */
        {2, 0x00},              /* FIFO off: enabling it would flush bytes already received */
        {4, 0x0B},                                  /* DTR, RTS, OUT2 (the IRQ line) */
        {1, 0x01}};                                 /* IER: interrupt on received data */
    for (u32 i = 0; i < sizeof uart / sizeof uart[0]; i++)
        outb((u16)(0x3F8 + uart[i][0]), uart[i][1]);
}

/* Before VMRUN: re-deliver an event the last #VMEXIT interrupted (15.7.2), else the
 * VM's highest pending IRQ if the guest can take it now (IF = 1, no STI/MOV SS shadow),
 * else ask for a VINTR exit for when it can (V_IRQ with V_IGN_TPR, priority 15). */
static void inject(struct vm *v)
{
    u64 pending = r64(v, VMCB_EXITINTINFO);
    u32 vintr = r32(v, VMCB_VINTR) & ~((1u << 8) | (0xFu << 16) | (1u << 20));
    if (pending & EV_VALID) {
        w64(v, VMCB_EVENTINJ, pending);
        w64(v, VMCB_EXITINTINFO, 0);
    } else if (!(r64(v, VMCB_EVENTINJ) & EV_VALID)) {
        int irq = vpic_pending(v);
        if (irq >= 0 && (r64(v, VMCB_RFLAGS) & 0x200) && !(r32(v, VMCB_INT_SHADOW) & 1)) {
            vpic_ack(v, irq);
            w64(v, VMCB_EVENTINJ, EV_VALID | EV_INTR | (u32)(v->pic.base + irq));
        } else if (irq >= 0) {
            vintr |= (1u << 8) | (0xFu << 16) | (1u << 20);
        }
    }
    w32(v, VMCB_VINTR, vintr);
}

static void run(struct vm *v)
{
    inject(v);
    svm_run((u32)v->vmcb, &v->g);
    ledger_run(v);
    w32(v, VMCB_TLB_CTL, 0);               /* flushed once (vm.c, unmap): no more */
    u32 code = (u32)r64(v, VMCB_EXITCODE);
    handle_exit(v);
    int row = ledger_row(code);
    v->exits[row]++;
    v->exits_total++;
    u64 t = rdtsc(), n = insns();          /* handling: from the #VMEXIT's reads to here */
    v->exit_tsc[row] += t - tsc_out;
    v->exit_insns[row] += n - insns_out;
}

/* The next VM after cur that can run, cur itself last; -1 if none. */
static int pick(int cur)
{
    for (u32 k = 1; k <= nvms; k++) {
        int i = (int)((cur + k) % nvms);
        if (vms[i].state == VM_RUNNABLE)
            return i;
    }
    return -1;
}

int main(u32 magic, struct multiboot_info *mbi)
{
    u32 a, b, c, d;
    host_devices();
    hv_put("hv1: a type-1 hypervisor on AMD SVM with nested paging\n");
    if (magic != 0x2BADB002)
        return fail("not started by a multiboot loader");
    nvms = cmdline_uint(mbi, "vms", 2);
    u32 mem = cmdline_uint(mbi, "mem", 8);
    if (nvms < 1 || nvms > MAX_VMS || mem < 4 || mem % 4 || mem > 512)
        return fail("bad command line: vms=1..4, mem=4..512 MiB in steps of 4");
    if (!(mbi->flags & 8) || !mbi->mods_count)
        return fail("no guest: give minios.elf as a multiboot module");
    cpuid(0x80000000, 0, &a, &b, &c, &d);
    u32 maxext = a;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    if (maxext < 0x8000000A || !(c & (1 << 2)))
        return fail("this CPU has no SVM (CPUID 0x80000001 ECX bit 2)");
    cpuid(0x8000000A, 0, &a, &b, &c, &d);
    if (!(d & 1))
        return fail("this CPU has no nested paging (CPUID 0x8000000A EDX bit 0)");
    if (b <= nvms)
        return fail("not enough ASIDs for that many VMs");
    if (rdmsr(0xC0010114) & (1 << 4))
        return fail("SVM is disabled (VM_CR.SVMDIS)");
    wrmsr(0xC0000080, rdmsr(0xC0000080) | (1 << 12));  /* EFER.SVME */
    wrmsr(0xC0010117, (u32)hsave);                     /* VM_HSAVE_PA */
    cpuid(0x80000008, 0, &a, &b, &c, &d);
    hv_irperf = maxext >= 0x80000008 && (b & 2);      /* IRPerfCount (ledger.c) */
    host_paging();

    const struct mb_module *m = (const struct mb_module *)mbi->mods_addr;
    u32 base = (m->end + 4 * MIB - 1) & ~(4 * MIB - 1);
    if (base < 8 * MIB)
        base = 8 * MIB;
    if (base + nvms * mem * MIB > MIB + mbi->mem_upper * 1024 || base + nvms * mem * MIB > 1024 * MIB)
        return fail("not enough memory for the VMs (traplab run --mem, or fewer/smaller VMs)");
    for (u32 i = 0; i < nvms; i++) {
        if (vm_create(&vms[i], i + 1, base + i * mem * MIB, mem * MIB, (const u8 *)m->start,
                      m->end - m->start, (const char *)m->string) < 0)
            return fail("the module is not a 32-bit ELF that fits in the VM's memory");
        hv_put("hv1: ");
        hv_put(vms[i].name);
        hv_put(": ");
        hv_putu(mem);
        hv_put(" MiB, ASID ");
        hv_putu(i + 1);
        hv_put(", minios loaded\n");
    }
    hv_put("hv1: keys go to vm1; Ctrl-A N switches to VM N, Ctrl-A c to hv1's commands\n");

    tsc_start = rdtsc();
    insns_start = insns();
    u32 seen = host_ticks;
    int cur = 0;
    for (;;) {
        console_poll();
        int tick = seen != host_ticks;
        while (seen != host_ticks) {        /* real PIT periods since the last look */
            seen++;
            for (u32 i = 0; i < nvms; i++)
                if (vms[i].state == VM_RUNNABLE || vms[i].state == VM_HALTED)
                    vpit_tick(&vms[i]);
        }
        int alive = 0;
        for (u32 i = 0; i < nvms; i++) {
            if (vms[i].state == VM_HALTED && vpic_pending(&vms[i]) >= 0)
                vms[i].state = VM_RUNNABLE;
            alive += vms[i].state != VM_DEAD;
        }
        if (!alive)
            break;
        if (tick || vms[cur].state != VM_RUNNABLE) {
            int next = pick(cur);           /* time slice over, or cur halted/stopped */
            if (next < 0) {
                u64 t = rdtsc(), n = insns();
                idle_wait();
                tsc_idle += rdtsc() - t;
                insns_idle += insns() - n;
                continue;
            }
            cur = next;
        }
        run(&vms[cur]);
    }
    hv_put("hv1: every VM has stopped\n");
    ledger_print();
    return 0;
}
