/* lib.c - COM1 serial, VGA text output and cmdline parsing for the small guests. */
#include "lib.h"

#define COM1 0x3f8

void serial_init(void)
{
    outb(COM1 + 1, 0x00);   /* IER: no interrupts */
    outb(COM1 + 3, 0x80);   /* LCR: DLAB on to set the divisor */
    outb(COM1 + 0, 0x01);   /* divisor 1 = 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);   /* LCR: 8 data bits, no parity, 1 stop bit */
    outb(COM1 + 2, 0xc7);   /* FCR: enable and clear FIFOs */
    outb(COM1 + 4, 0x03);   /* MCR: DTR + RTS */
}

void serial_putc(char c)
{
    while (!(inb(COM1 + 5) & 0x20))     /* LSR bit 5: transmit holding register empty */
        ;
    outb(COM1, (u8)c);
}

void serial_puts(const char *s) { while (*s) serial_putc(*s++); }

char *utoa(u32 v, char *buf)
{
    char tmp[12];
    int i = 0, j = 0;
    do { tmp[i++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (i) buf[j++] = tmp[--i];
    buf[j] = 0;
    return buf;
}

void serial_putu(u32 v) { char b[12]; serial_puts(utoa(v, b)); }

void serial_puthex(u32 v)
{
    for (int i = 28; i >= 0; i -= 4)
        serial_putc("0123456789abcdef"[(v >> i) & 15]);
}

/* ---- VGA text mode: 80x25 cells of (character, attribute) at 0xB8000 ---- */
static volatile u16 *const vga = (volatile u16 *)0xb8000;
static int vga_pos;
#define VGA_ATTR 0x1f00   /* white on blue */

static void vga_cursor(void)
{
    outb(0x3d4, 0x0e); outb(0x3d5, (u8)(vga_pos >> 8));   /* cursor location high */
    outb(0x3d4, 0x0f); outb(0x3d5, (u8)vga_pos);          /* cursor location low */
}

void vga_clear(void)
{
    for (int i = 0; i < 80 * 25; i++) vga[i] = VGA_ATTR | ' ';
    vga_pos = 0;
    vga_cursor();
}

void vga_putc(char c)
{
    if (c == '\n') vga_pos = (vga_pos / 80 + 1) * 80;
    else vga[vga_pos++] = (u16)(VGA_ATTR | (u8)c);
    if (vga_pos >= 80 * 25) {               /* scroll up one line */
        for (int i = 0; i < 80 * 24; i++) vga[i] = vga[i + 80];
        for (int i = 80 * 24; i < 80 * 25; i++) vga[i] = VGA_ATTR | ' ';
        vga_pos -= 80;
    }
    vga_cursor();
}

void puts_both(const char *s)
{
    for (; *s; s++) { serial_putc(*s); vga_putc(*s); }
}

u32 cmdline_uint(struct multiboot_info *mbi, const char *key, u32 def)
{
    if (!(mbi->flags & (1u << 2)) || !mbi->cmdline) return def;
    const char *s = (const char *)mbi->cmdline;
    for (; *s; s++) {
        if (s != (const char *)mbi->cmdline && s[-1] != ' ') continue;   /* word start */
        const char *k = key, *p = s;
        while (*k && *p == *k) { k++; p++; }
        if (*k || *p != '=') continue;
        p++;
        if (*p < '0' || *p > '9') return def;
        u32 v = 0;
        while (*p >= '0' && *p <= '9') v = v * 10 + (u32)(*p++ - '0');
        return v;
    }
    return def;
}

void *memset(void *d, int c, u32 n)
{
    u8 *p = d;
    while (n--) *p++ = (u8)c;
    return d;
}
