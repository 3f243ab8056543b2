/*
 * main.c - svmtest: a minimal SVM host (AMD64 APM vol. 2, chapter 15).
 *
 * 15.4 "Enabling SVM": CPUID 0x80000001 ECX bit 2 says SVM exists, VM_CR
 * (MSR 0xC0010114) bit 4 SVMDIS must be 0, then EFER.SVME (MSR 0xC0000080
 * bit 12) enables the SVM instructions and VM_HSAVE_PA (MSR 0xC0010117)
 * names the 4 KiB host save area VMRUN uses. Then the scenarios run, one
 * line per #VMEXIT on COM1, and a summary; the exit device (port 0xF4) ends
 * the run with 0 (status 1) or 1 when SVM is missing.
 */
#include "svm.h"

static u8 hsave[4096] PAGE;
void guest_idt_init(void);

void host_exception(u32 vec, u32 err, u32 eip)
{
    put("host exception ");
    puthex(vec);
    put(" error ");
    puthex(err);
    put(" at eip ");
    puthex(eip);
    put("\n");
    outb(0xF4, 1);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* "groups=basic,events" in the multiboot cmdline runs only those scenario
 * groups (basic, events, control, npt); without it, all of them. */
static const char *groups;

static int group(const char *name)
{
    if (!groups)
        return 1;
    for (const char *p = groups; *p && *p != ' ';) {
        const char *n = name;
        while (*n && *p == *n)
            p++, n++;
        if (!*n && (*p == ',' || *p == ' ' || !*p))
            return 1;
        while (*p && *p != ',' && *p != ' ')
            p++;
        if (*p == ',')
            p++;
    }
    return 0;
}

static void find_groups(struct multiboot_info *mbi)
{
    if (!(mbi->flags & (1 << 2)))
        return;
    for (const char *p = (const char *)mbi->cmdline; *p; p++) {
        const char *k = "groups=", *q = p;
        while (*k && *q == *k)
            q++, k++;
        if (!*k && (p == (const char *)mbi->cmdline || p[-1] == ' ')) {
            groups = q;
            return;
        }
    }
}

int main(u32 magic, struct multiboot_info *mbi)
{
    u32 a, b, c, d;

    serial_init();
    host_idt_init();
    if (magic == 0x2BADB002)
        find_groups(mbi);
    put("svmtest: an SVM host (AMD64 APM vol. 2, chapter 15)\n");
    host_cpuid(0x80000000, &a, &b, &c, &d);
    u32 maxext = a;
    host_cpuid(0x80000001, &a, &b, &c, &d);
    if (maxext < 0x8000000A || !(c & (1 << 2))) {
        put("no SVM: CPUID 0x80000001 ECX bit 2 is 0\n");
        return 1;
    }
    host_cpuid(0x8000000A, &a, &b, &c, &d);
    nrips = (d >> 3) & 1;
    put("cpuid 8000000a: revision=");
    puthex(a & 0xFF);
    put(" asids=");
    puthex(b);
    put(" edx=");
    puthex(d);
    put(" (nested paging ");
    put(d & 1 ? "yes" : "no");
    put(", NextRIP save ");
    put(nrips ? "yes" : "no");
    put(")\n");
    if (rdmsr(0xC0010114) & (1 << 4)) {
        put("SVM disabled: VM_CR.SVMDIS = 1\n");
        return 1;
    }
    wrmsr(0xC0000080, rdmsr(0xC0000080) | (1 << 12));
    wrmsr(0xC0010117, (u32)hsave);
    put("EFER.SVME=1, VM_HSAVE_PA set\n");

    guest_idt_init();
    if (group("basic"))
        scen_basic();
    if (group("events"))
        scen_events();
    if (group("control"))
        scen_control();
    if (group("npt"))
        scen_npt();

    put("svmtest: ");
    serial_putu(total_exits);
    put(" exits, ");
    serial_putu(failures);
    put(failures == 1 ? " check failed\n" : " checks failed\n");
    return 0;
}
