/*
 * main.c - kmain: bring the machine up, start the shell, become the idle loop.
 */
#include "kernel.h"

char kernel_cmdline[256];
u32 mem_upper_kib;

struct multiboot_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline;
};

void shutdown(int code)
{
#ifdef PARAVIRT
    hypercall1(HC_SHUTDOWN, (u32)code);
#endif
    __asm__ volatile("cli");
    outb(0xf4, (u8)code);              /* exit device: the run ends with status (code<<1)|1 */
    for (;;) __asm__ volatile("hlt");  /* no exit device (real PC): just stop */
}

void panic(const char *msg)
{
    kprintf("\n*** kernel panic: %s\n*** system halted\n", msg);
    shutdown(1);
}

void kmain(u32 magic, struct multiboot_info *mbi)
{
    console_init();
    kprintf("minios 0.1 booting...\n");
    if (magic != 0x2BADB002) panic("not started by a multiboot loader");

    /* Copy what we need from the multiboot info before paging hides it. */
    if (mbi->flags & 1) mem_upper_kib = mbi->mem_upper;
    if ((mbi->flags & 4) && mbi->cmdline) {
        const char *s = (const char *)mbi->cmdline;
        for (u32 i = 0; i < sizeof(kernel_cmdline) - 1 && s[i]; i++) kernel_cmdline[i] = s[i];
    }

    gdt_init();
    kprintf("  gdt: ring 0 and ring 3 segments, TSS\n");
    idt_init();
    kprintf("  idt: 32 exception handlers, 16 IRQs, int 0x80\n");
    pic_init();
    pit_init(100);
    kprintf("  pic: IRQs at vectors 0x20-0x2f; pit: 100 Hz\n");
    paging_init(mem_upper_kib);
    kprintf("  paging: on, %u free 4 KiB frames\n", frames_free);
    sched_init();

    if (proc_spawn("shell", 0) < 0) panic("cannot start the shell");

    /* The idle loop: run whoever is ready; when nobody is, halt until the
     * next interrupt. `sti; hlt` is atomic: no interrupt slips in between. */
    for (;;) {
        input_poll();
        schedule();
#ifdef PARAVIRT
        hypercall0(HC_IDLE);
        hypercall0(HC_CLI);
#else
        __asm__ volatile("sti; hlt; cli");
#endif
    }
}
