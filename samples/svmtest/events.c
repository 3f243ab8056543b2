/*
 * events.c - event injection and virtual interrupts (AMD64 APM vol. 2,
 * 15.20 "Event Injection": EVENTINJ types 0 INTR, 2 NMI, 3 exception,
 * 4 software interrupt; 15.7.2 EXITINTINFO for an intercept taken while an
 * event was being delivered; 15.21.4 virtual interrupts: V_IRQ,
 * V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, V_INTR_VECTOR and the VINTR
 * intercept). The guest code is guest_events.S.
 */
#include "svm.h"

GUEST(g_event); GUEST(g_intnp); GUEST(g_vintr); GUEST(g_intr);
GUEST(gh_02); GUEST(gh_13); GUEST(gh_30); GUEST(gh_40); GUEST(gh_41);

#define GUEST_VECTORS 0x50
u32 guest_idt[GUEST_VECTORS * 2] __attribute__((aligned(8)));
u16 guest_idt_limit = GUEST_VECTORS * 8 - 1;

static void gate(u32 vec, char *handler)
{
    u32 off = (u32)handler;
    guest_idt[vec * 2] = (0x08 << 16) | (off & 0xFFFF);
    guest_idt[vec * 2 + 1] = (off & 0xFFFF0000) | 0x8E00;   /* present 32-bit interrupt gate */
}

void guest_idt_init(void)
{
    memset(guest_idt, 0, sizeof guest_idt);
    gate(0x02, gh_02);
    gate(0x0D, gh_13);
    gate(0x30, gh_30);
    gate(0x40, gh_40);
    gate(0x41, gh_41);
    /* 0x31: a valid interrupt gate whose P bit is 0 */
    guest_idt[0x31 * 2] = 0x08 << 16;
    guest_idt[0x31 * 2 + 1] = 0x0E00;
}

static void inject(const char *name, u32 event, u32 err)
{
    vmcb_guest((u32)g_event);
    w32(VMCB_INTERCEPT4, r32(VMCB_INTERCEPT4) | I4_VMMCALL);
    w64(VMCB_EVENTINJ, ((u64)err << 32) | event);
    /* a CPU with NextRIP save pushes NextRIP for an injected software
     * interrupt; one without pushes RIP: make both the same */
    w64(VMCB_NEXT_RIP, (u32)g_event);
    run_guest(name, 10);
}

/* A physical interrupt while the guest runs (APM 15.21.1, INTR intercept):
 * the 8254 timer's IRQ 0 stops the guest's loop with #VMEXIT INTR, and the
 * host takes the interrupt itself once STGI sets GIF again. The guest's own
 * EFLAGS.IF is 0: with V_INTR_MASKING = 1 it masks only virtual interrupts. */
static void physical_intr(void)
{
    outb(0x20, 0x11); outb(0xA0, 0x11);    /* 8259A: ICW1 */
    outb(0x21, 0x20); outb(0xA1, 0x28);    /* ICW2: vectors 0x20 and 0x28 */
    outb(0x21, 0x04); outb(0xA1, 0x02);    /* ICW3 */
    outb(0x21, 0x01); outb(0xA1, 0x01);    /* ICW4: 8086 mode */
    outb(0x21, 0xFE); outb(0xA1, 0xFF);    /* only IRQ 0 */
    outb(0x43, 0x36);                      /* 8254 channel 0, mode 3 */
    outb(0x40, 11932 & 0xFF);
    outb(0x40, 11932 >> 8);                /* 100 Hz */
    vmcb_guest((u32)g_intr);
    w32(VMCB_INTERCEPT3, r32(VMCB_INTERCEPT3) | I3_INTR);
    w32(VMCB_INTERCEPT4, r32(VMCB_INTERCEPT4) | I4_VMMCALL);
    w32(VMCB_VINTR, 1u << 24);             /* V_INTR_MASKING */
    svm_run_sti((u32)vmcb, &g);
    print_exit("intr");
    __asm__ volatile("sti; nop; cli");
    check("the host took IRQ 0 after the INTR exit", host_irq0_count == 1);
    skip_insn();                           /* out of the loop */
    run_guest("intr", 5);
}

void scen_events(void)
{
    guest_idt_init();
    inject("inject-exception", EV_VALID | EV_ERRV | EV_EXC | 13, 0x1234);
    inject("inject-softint", EV_VALID | EV_SOFT | 0x30, 0);
    inject("inject-intr", EV_VALID | EV_INTR | 0x40, 0);
    inject("inject-nmi", EV_VALID | EV_NMI | 2, 0);

    /* delivering an injected external interrupt past the IDT limit raises
     * #GP(vector * 8 + 2 + EXT); #GP is intercepted, so EXITINTINFO holds
     * the event that was being delivered */
    vmcb_guest((u32)g_event);
    w32(VMCB_EXC, 1 << 13);
    w64(VMCB_EVENTINJ, EV_VALID | EV_INTR | 0x80);
    run_once("exitintinfo-intr");

    /* INT 0x31 through a not-present gate: #NP(0x31 * 8 + 2), intercepted */
    vmcb_guest((u32)g_intnp);
    w32(VMCB_EXC, 1 << 11);
    w32(VMCB_INTERCEPT4, r32(VMCB_INTERCEPT4) | I4_VMMCALL);
    run_once("exitintinfo-intn");

    physical_intr();

    /* a virtual interrupt: first the VINTR intercept, then taken by the guest */
    vmcb_guest((u32)g_vintr);
    w32(VMCB_INTERCEPT3, r32(VMCB_INTERCEPT3) | I3_VINTR);
    w32(VMCB_INTERCEPT4, r32(VMCB_INTERCEPT4) | I4_VMMCALL);
    w64(VMCB_RFLAGS, 0x202);
    w32(VMCB_VINTR, (1u << 8) | (0xFu << 16) | (1u << 20) | (1u << 24));
    w32(VMCB_VINTR_VEC, 0x41);
    if (run_guest("vintr", 10) == EXIT_VINTR) {
        check("V_IRQ still set at the VINTR exit", (r32(VMCB_VINTR) >> 8) & 1);
        w32(VMCB_INTERCEPT3, r32(VMCB_INTERCEPT3) & ~I3_VINTR);
        run_guest("vintr", 10);
    }
    check("V_IRQ clear after the guest took the interrupt", !((r32(VMCB_VINTR) >> 8) & 1));
}
