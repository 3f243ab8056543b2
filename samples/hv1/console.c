/*
 * console.c - the real COM1, shared by hv1 and every VM (the multiplexing
 * QEMU's "-serial mon:stdio" does, AMD64 APM vol. 2 15.10 for the I/O
 * intercepts that bring the VMs' bytes here).
 *
 * Output: each VM's COM1 bytes are collected up to the newline and printed
 * as one line "[vm1] text", so the VMs' lines never mix within a line.
 * Input (IRQ 4 puts the bytes in a buffer; console_poll routes them):
 *   Ctrl-A 1..9   the next keys go to that VM
 *   Ctrl-A c      the next keys go to hv1's command line (help, list, exits,
 *                 pause N, resume N, ledger; crash N empties the VM's IDT,
 *                 so that its next interrupt is a triple fault: a test of
 *                 the SHUTDOWN intercept; unmap N takes the VM's first 2 MiB
 *                 out of its nested page tables: its next access there is an
 *                 NPF, which stops it, a test of the isolation)
 *   Ctrl-A Ctrl-A a Ctrl-A for the VM
 * At start the keys go to vm1. A command for hv1 runs when the VMs are quiet
 * (console_poll, at most 5 s later), so a script of keys runs in order.
 */
#include "hv1.h"

#define COM1 0x3F8

static u8 rx[4096];
static volatile u32 rx_head, rx_tail;
static int focus = 1;                  /* VM number, or 0 = hv1's command line */
static int escape;
static char cmd[64];
static u32 cmd_len;

void hv_put(const char *s) { serial_puts(s); }
void hv_putu(u32 n) { serial_putu(n); }

/* entry.S: an exception in hv1 itself (a bug in hv1): say which and where, then stop */
void hv1_fault(u32 vec, u32 w1, u32 w2)
{
    hv_put("hv1: exception ");
    hv_putu(vec);
    hv_put(" in the hypervisor itself (stack: 0x");
    serial_puthex(w1);
    hv_put(" 0x");
    serial_puthex(w2);
    hv_put("): stopped\n");
}

void com1_rx_irq(void)
{
    while ((inb(COM1 + 5) & 1) && rx_head - rx_tail < sizeof rx)
        rx[rx_head++ % sizeof rx] = inb(COM1);
}

void vm_flush(struct vm *v)
{
    if (!v->line_len)
        return;
    v->line[v->line_len] = 0;
    hv_put("[");
    hv_put(v->name);
    hv_put(v->line[0] == '\n' ? "]" : "] ");   /* an empty line: just the name */
    hv_put(v->line[0] == '\n' ? "" : v->line);
    hv_put("\n");
    v->line_len = 0;
}

void vm_putc(struct vm *v, char c)
{
    if (c == '\n') {
        if (!v->line_len)
            v->line[v->line_len++] = '\n';     /* an empty line still shows whose it is */
        vm_flush(v);
        return;
    }
    if (c == '\r')
        return;
    v->line[v->line_len++] = c;
    if (v->line_len == sizeof v->line - 1)
        vm_flush(v);
}

static void to_vm(struct vm *v, u8 c)
{
    struct vuart *u = &v->uart;
    if (v->state == VM_DEAD || u->rx_head - u->rx_tail >= sizeof u->rx)
        return;                             /* a dead VM's keys, or a full buffer: dropped */
    u->rx[u->rx_head++ % sizeof u->rx] = c;
    vuart_update_irq(v);
}

static int arg_vm(const char *s, struct vm **out)
{
    while (*s == ' ')
        s++;
    u32 n = (u32)(*s - '0');
    if (s[0] < '1' || s[0] > '9' || s[1] || n > nvms) {
        hv_put("hv1: no such VM\n");
        return 0;
    }
    *out = &vms[n - 1];
    return 1;
}

static int prefix(const char *s, const char *p)
{
    while (*p)
        if (*s++ != *p++)
            return 0;
    return 1;
}

static const char *const state_names[] = {"runnable", "halted", "paused", "stopped"};

static void command(const char *c)
{
    struct vm *v;
    hv_put("hv1> ");
    hv_put(c);
    hv_put("\n");
    if (prefix(c, "help")) {
        hv_put("hv1: list | exits N | pause N | resume N | crash N | unmap N | ledger  (Ctrl-A N: keys to VM N)\n");
    } else if (prefix(c, "list")) {
        for (u32 i = 0; i < nvms; i++) {
            v = &vms[i];
            hv_put("hv1:   ");
            hv_put(v->name);
            hv_put("  asid ");
            hv_putu(v->num);
            hv_put("  ");
            hv_putu(v->size / MIB);
            hv_put(" MiB at host 0x");
            serial_puthex(v->base);
            hv_put("  ");
            hv_put(state_names[v->state]);
            hv_put("  exits ");
            hv_putu(v->exits_total);
            hv_put("\n");
        }
    } else if (prefix(c, "exits") && arg_vm(c + 5, &v)) {
        ledger_exits(v);
    } else if (prefix(c, "pause") && arg_vm(c + 5, &v)) {
        if (v->state == VM_RUNNABLE || v->state == VM_HALTED) {
            v->paused_halted = v->state == VM_HALTED;
            v->state = VM_PAUSED;
        }
    } else if (prefix(c, "resume") && arg_vm(c + 6, &v)) {
        if (v->state == VM_PAUSED)
            v->state = v->paused_halted ? VM_HALTED : VM_RUNNABLE;
    } else if (prefix(c, "crash") && arg_vm(c + 5, &v)) {
        w32(v, VMCB_IDTR + 4, 0);           /* IDT limit 0: the next interrupt triple-faults */
    } else if (prefix(c, "unmap") && arg_vm(c + 5, &v)) {
        v->npd[0] = 0;                      /* gPA 0-2 MiB (its kernel) leaves its nested tables */
        w32(v, VMCB_TLB_CTL, 3);            /* and its TLB entries go at the next VMRUN */
    } else if (prefix(c, "ledger")) {
        ledger_print();
    } else {
        hv_put("hv1: unknown command (help lists them)\n");
    }
}

/* A VM is quiet when it has read every key sent to it and sits in HLT: its shell has
 * done what it was told and waits for more. */
static int all_quiet(void)
{
    for (u32 i = 0; i < nvms; i++) {
        struct vm *v = &vms[i];
        if (v->state == VM_RUNNABLE || (v->state == VM_HALTED && v->uart.rx_head != v->uart.rx_tail))
            return 0;
    }
    return 1;
}

/* Routes the received keys. A command for hv1 waits (with every key after it) until all
 * the VMs are quiet, so that a script of keys runs in order: the VMs' commands typed
 * before it have finished when it runs. It waits at most QUIET_WAIT real PIT ticks, so
 * that `pause 1` still works on a VM that never stops computing. */
#define QUIET_WAIT 500               /* 5 s */
static int waiting;
static u32 wait_start;

void console_poll(void)
{
    while (rx_tail != rx_head) {
        u8 c = rx[rx_tail % sizeof rx];
        if (!focus && !escape && (c == '\r' || c == '\n') && cmd_len && !all_quiet()) {
            if (!waiting)
                waiting = 1, wait_start = host_ticks;
            if (host_ticks - wait_start < QUIET_WAIT)
                return;
        }
        waiting = 0;
        rx_tail++;
        if (escape) {
            escape = 0;
            if (c >= '1' && c <= '9' && (u32)(c - '0') <= nvms) {
                focus = c - '0';
                continue;
            }
            if (c == 'c') {
                focus = 0;
                continue;
            }
            if (c != 1)
                continue;
        } else if (c == 1) {                /* Ctrl-A */
            escape = 1;
            continue;
        }
        if (focus) {
            to_vm(&vms[focus - 1], c);
        } else if (c == '\r' || c == '\n') {
            cmd[cmd_len] = 0;
            if (cmd_len)
                command(cmd);
            cmd_len = 0;
        } else if (cmd_len < sizeof cmd - 1) {
            cmd[cmd_len++] = (char)c;
        }
    }
}
