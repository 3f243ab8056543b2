/*
 * hsock.c - the host-socket device of `traplab run --publish HOSTPORT:GUESTPORT`
 * (I/O ports 0x5A0-0x5A9), the way `docker run -p` publishes a port and the
 * way Linux's vsock carries host connections into a VM
 * (net/vmw_vsock/virtio_transport_common.c). A connection made on the host
 * to 127.0.0.1:HOSTPORT arrives as a channel for GUESTPORT; this driver
 * turns it into a connection from 127.0.0.1 to whoever listens on GUESTPORT
 * in the initial network namespace (where dockerd listens on 2375), and
 * copies the bytes both ways.
 *
 * Owns: one kernel-owned socket per channel (the host's end, from
 * sock_kconnect) and the copying. The device raises no interrupt:
 * hsock_poll() runs on every timer tick (idt.c). Without the device (no
 * --publish, QEMU, a PC: the ID port reads 0xFF) it does nothing and prints
 * nothing. It never opens a connection of its own: it only answers the
 * host's, and only to a port somebody listens on (else it refuses).
 * Registers: emulator/src/devices/hostsock.rs.
 */
#include "kernel.h"

#define HS_BASE     0x5a0
#define HS_CHANNELS 8
#define HS_ID       'H'
#define ST_OFFERED  1
#define ST_HOST_EOF 8
#define CMD_ACCEPT  1
#define CMD_CLOSE   2
#define CMD_ACK_EOF 3

static struct sock *chans[HS_CHANNELS];
static int present;

static u32 in16(u16 port) { return inb(port) | (u32)inb(port + 1) << 8; }

void hsock_init(void)
{
#ifndef PARAVIRT
    present = inb(HS_BASE) == HS_ID;
    if (present) kprintf("  hsock: host-socket device: published ports reach the initial namespace\n");
#endif
}

/* Moves what is ready on channel ch (selected). */
static void pump(int ch)
{
    u8 st = inb(HS_BASE + 2), buf[128];
    struct sock *s = chans[ch];
    if (st & ST_OFFERED) {                           /* a new connection from the host */
        int e = sock_kconnect(0, in16(HS_BASE + 4), &s);
        if (e == -EAGAIN) return;                    /* the listener's queue is full: later */
        outb(HS_BASE + 2, e ? CMD_CLOSE : CMD_ACCEPT);
        if (e) return;                               /* refused: the host client sees the end */
        chans[ch] = s;
    }
    if (!s) return;
    int n = (int)in16(HS_BASE + 6), room = sock_kroom(s);
    while (n > 0 && room > 0) {                      /* host -> the listener's end */
        int k = n < room ? n : room;
        if (k > (int)sizeof(buf)) k = sizeof(buf);
        for (int i = 0; i < k; i++) buf[i] = inb(HS_BASE + 3);
        sock_send(s, buf, (u32)k);
        n -= k;
        room -= k;
    }
    if ((st & ST_HOST_EOF) && !n) {                  /* the host has finished sending */
        sock_kshut(s);
        outb(HS_BASE + 2, CMD_ACK_EOF);
    }
    int tx = (int)in16(HS_BASE + 8);
    while (tx > 0) {                                 /* the listener's answer -> host */
        int k = sock_recv(s, buf, (u32)(tx < (int)sizeof(buf) ? tx : (int)sizeof(buf)));
        if (k <= 0) break;
        for (int i = 0; i < k; i++) outb(HS_BASE + 3, buf[i]);
        tx -= k;
    }
    if (sock_kdone(s)) {                             /* the guest side has closed */
        outb(HS_BASE + 2, CMD_CLOSE);
        sock_close(s);
        chans[ch] = 0;
    }
}

void hsock_poll(void)
{
    if (!present) return;
    u8 events = inb(HS_BASE + 1);
    for (int ch = 0; ch < HS_CHANNELS; ch++)
        if ((events & (1u << ch)) || chans[ch]) {
            outb(HS_BASE, (u8)ch);
            pump(ch);
        }
}
