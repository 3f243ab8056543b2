/*
 * console.c - the console: COM1 serial port, VGA text screen, PS/2 keyboard.
 *
 * Output goes to both COM1 and the screen. Input from COM1 and from the
 * keyboard lands in one ring buffer read by the read() system call; the
 * kernel does not echo (the shell does), so output stays deterministic
 * whatever the timing of the input.
 */
#include "kernel.h"

#define COM1 0x3f8

/* ---- serial: 16550 UART ------------------------------------------------ */
static void serial_init(void)
{
    outb(COM1 + 1, 0x00);   /* IER off while configuring */
    outb(COM1 + 3, 0x80);   /* LCR: DLAB = 1 */
    outb(COM1 + 0, 0x01);   /* divisor 1: 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);   /* 8N1, DLAB = 0 */
    outb(COM1 + 2, 0x00);   /* FCR: FIFO off (enabling it would flush bytes already received) */
    outb(COM1 + 4, 0x0b);   /* MCR: DTR, RTS, OUT2 (routes the UART interrupt to the PIC) */
    outb(COM1 + 1, 0x01);   /* IER: interrupt when data is received (IRQ4) */
}

#ifndef PARAVIRT
static void serial_putc(char c)
{
    while (!(inb(COM1 + 5) & 0x20))     /* LSR bit 5: THR empty */
        ;
    outb(COM1, (u8)c);
}
#endif

/* ---- VGA text mode: 80x25 (char, attribute) cells at 0xB8000 ------------ */
static volatile u16 *const vga = (volatile u16 *)0xb8000;
static int vga_pos;
#define ATTR 0x0700    /* light grey on black */

static void vga_cursor(void)
{
    outb(0x3d4, 0x0e); outb(0x3d5, (u8)(vga_pos >> 8));
    outb(0x3d4, 0x0f); outb(0x3d5, (u8)vga_pos);
}

static void vga_putc(char c)
{
    if (c == '\n') vga_pos = (vga_pos / 80 + 1) * 80;
    else if (c == '\b') { if (vga_pos % 80) vga_pos--; }
    else if (c == '\r') vga_pos -= vga_pos % 80;
    else vga[vga_pos++] = (u16)(ATTR | (u8)c);
    if (vga_pos >= 80 * 25) {
        for (int i = 0; i < 80 * 24; i++) vga[i] = vga[i + 80];
        for (int i = 80 * 24; i < 80 * 25; i++) vga[i] = ATTR | ' ';
        vga_pos -= 80;
    }
}

void console_init(void)
{
    serial_init();
    for (int i = 0; i < 80 * 25; i++) vga[i] = ATTR | ' ';
    vga_pos = 0;
    vga_cursor();
}

void kputc(char c)
{
#ifdef PARAVIRT
    vga_putc(c);
    hypercall2(HC_CONSOLE_PUTC, (u8)c, (u32)vga_pos);   /* COM1 and the cursor: one call */
#else
    serial_putc(c);
    vga_putc(c);
    vga_cursor();
#endif
}

static void kputc_cb(char c, void *ctx) { (void)ctx; kputc(c); }

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(kputc_cb, 0, fmt, ap);
    va_end(ap);
}

/* ---- input ring buffer ---------------------------------------------------- */
static char inbuf[256];
static unsigned int in_head, in_tail;   /* head: next write, tail: next read */

static void input_push(char c)
{
    if (in_head - in_tail < sizeof(inbuf)) {   /* drop when full */
        inbuf[in_head++ % sizeof(inbuf)] = c;
        wakeup(CHAN_INPUT);
    }
}

int input_pending(void) { return (int)(in_head - in_tail); }

int input_getc(void)
{
    if (in_tail == in_head) return -1;
    return (unsigned char)inbuf[in_tail++ % sizeof(inbuf)];
}

/* Called from the COM1 interrupt, the timer and read(): drain the UART.
 * A terminal sends CR for Enter, a file or pipe sends LF: both become '\n'. */
void input_poll(void)
{
    static int last_cr;
    /* Stop when the buffer is full: the rest waits in the UART (no byte is lost). */
    while (in_head - in_tail < sizeof(inbuf) && (inb(COM1 + 5) & 0x01)) {   /* LSR bit 0: data ready */
        char c = (char)inb(COM1);
        if (c == '\n' && last_cr) { last_cr = 0; continue; }   /* CR LF -> one '\n' */
        last_cr = c == '\r';
        input_push(c == '\r' ? '\n' : c);
    }
}

/* ---- PS/2 keyboard: scan code set 1 -------------------------------------- */
static const char keymap[0x3a] =
    "\0\0331234567890-=\b\tqwertyuiop[]\n\0asdfghjkl;'`\0\\zxcvbnm,./\0*\0 ";
static const char keymap_shift[0x3a] =
    "\0\033!@#$%^&*()_+\b\tQWERTYUIOP{}\n\0ASDFGHJKL:\"~\0|ZXCVBNM<>?\0*\0 ";

void keyboard_irq(void)
{
    static int shift;
    u8 sc = inb(0x60);
    if (sc == 0x2a || sc == 0x36) { shift = 1; return; }   /* shift pressed */
    if (sc == 0xaa || sc == 0xb6) { shift = 0; return; }   /* shift released */
    if (sc & 0x80 || sc >= sizeof(keymap)) return;         /* other releases, extended keys */
    char c = shift ? keymap_shift[sc] : keymap[sc];
    if (c) input_push(c);
}
