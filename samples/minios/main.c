/*
 * main.c - kmain: bring the machine up, start the shell and the engine's
 * daemon (init's job), become the idle loop.
 */
#include "kernel.h"

char kernel_cmdline[256];
u32 mem_upper_kib;

struct multiboot_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
};
struct multiboot_module { u32 start, end, string, reserved; };

/* The built-in root file system archive (initrd.S), replaced by the first
 * multiboot module when there is one (like Linux's built-in initramfs and
 * an initrd given by the boot loader). */
extern const u8 initrd_builtin[], initrd_builtin_end[];
const u8 *initrd_start;
u32 initrd_len;

/* True when `word` is one of the space-separated words of the command line. */
static int cmdline_has(const char *word)
{
    u32 n = strlen(word);
    for (const char *s = kernel_cmdline; *s; s++)
        if ((s == kernel_cmdline || s[-1] == ' ') && !strncmp(s, word, n) && (!s[n] || s[n] == ' '))
            return 1;
    return 0;
}

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

/* A module that is an ELF image (not an archive) becomes the file /boot/NAME
 * (NAME: the last part of its string), the way a guest kernel image reaches
 * `vmm`: the file system keeps it, so its frames can go back to the pool. */
static void boot_file(const u8 *data, u32 len, const char *name)
{
    if (!*name) name = "module.elf";
    int dir = fs_lookup(fs_rootdir(), fs_rootdir(), "/boot");
    if (dir < 0) dir = fs_create(fs_rootdir(), "boot", S_IFDIR);
    int f = dir < 0 ? dir : fs_create(dir, name, S_IFREG);
    int w = f < 0 ? f : fs_write(f, 0, data, len);
    if (w < 0 || (u32)w != len) kprintf("  fs: /boot/%s: cannot store %u bytes (error %d)\n", name, len, w);
    else kprintf("  fs: /boot/%s: %u bytes from the module\n", name, len);
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
    const char *from = "built-in";
    initrd_start = initrd_builtin;
    initrd_len = (u32)(initrd_builtin_end - initrd_builtin);
    /* Copied now: the loader's information may lie in frames the pool hands out. */
    struct multiboot_module elf = { 0, 0, 0, 0 };
    char elf_name[NAME_MAX + 1] = "";
    u32 lo = 0, hi = 0;
    if ((mbi->flags & 8) && mbi->mods_count) {
        const struct multiboot_module *m = (const struct multiboot_module *)mbi->mods_addr;
        if (m->end > m->start + 4 && !memcmp((const void *)m->start, "\177ELF", 4)) {
            elf = *m;
            const char *s = (const char *)m->string, *base = s ? s : "";
            for (const char *c = base; *c && *c != ' '; c++) if (*c == '/') base = c + 1;
            for (u32 i = 0; i < NAME_MAX && base[i] && base[i] != ' '; i++) elf_name[i] = base[i];
        } else if (m->end > m->start) {
            initrd_start = (const u8 *)m->start;
            initrd_len = m->end - m->start;
            from = "module";
        }
        if (m->end > m->start) { lo = m->start; hi = m->end; }
    }
    /* Paging stays off until the archive is unpacked: a module may lie
     * anywhere in physical memory, not only in the kernel's first 4 MiB. */
    paging_init(mem_upper_kib, lo, hi);
    fs_init();
    initramfs_load(initrd_start, initrd_len, from);
    if (elf.end) boot_file((const u8 *)elf.start, elf.end - elf.start, elf_name);
    frames_release(lo, hi);
    frames_release((u32)initrd_builtin, (u32)initrd_builtin_end);   /* read: free it */
    paging_enable();
    kprintf("  paging: on, %u free 4 KiB frames\n", frames_free);
    sched_init();
    hsock_init();

    int sh = proc_spawn("/bin/shell", "shell", 0);
    if (sh < 0) panic("cannot start /bin/shell");
    /* init's services, as systemd starts docker.service: the engine's daemon
     * (pid 2), unless `nodockerd` is on the command line. The shell is held
     * until the daemon waits for its first client, so that both are in the
     * same state whatever the machine's speed (QEMU, a monitor, Traplab). */
    if (!cmdline_has("nodockerd")) {
        struct proc *shell = proc_by_pid(sh);
        shell->state = PROC_BLOCKED;                 /* on no channel: only we release it */
        shell->chan = CHAN_NONE;
        int pid = proc_spawn("/bin/dockerd", "dockerd", 0);
        if (pid < 0) kprintf("  init: cannot start /bin/dockerd (error %d)\n", pid);
        else kprintf("  init: dockerd started, pid %d (boot option nodockerd: off)\n", pid);
        schedule();                                  /* back here when nobody is ready */
        shell->state = PROC_RUNNABLE;
    }

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
