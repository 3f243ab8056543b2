/*
 * atadisks.c - finds and reads the disks of the primary ATA channel by polling (PIO), as
 * a driver probing for devices does (ATA/ATAPI-6, T13/1410D: 9.16.1 "a device that is
 * not present", 8.15 IDENTIFY DEVICE, 8.27 READ SECTORS). For device 0 (master) and
 * device 1 (slave): select it with the DEV bit of the device register (bit 4), read the
 * status (00h or FFh: nothing there; with one device on the channel, the master answers
 * 00h for an absent slave), then IDENTIFY (its size in sectors, words 60-61) and READ
 * SECTORS of LBA 0 (the first line of text on the disk). No interrupts: nIEN is set.
 *
 *   traplab run samples/atadisks/atadisks.elf --disk samples/atadisks/master.img \
 *       --disk2 samples/atadisks/slave.img
 * Under QEMU the same with -hda/-hdb.
 */
#include "../common/lib.h"

#define ATA_DATA   0x1F0
#define ATA_COUNT  0x1F2
#define ATA_LBA0   0x1F3
#define ATA_LBA1   0x1F4
#define ATA_LBA2   0x1F5
#define ATA_DEVICE 0x1F6
#define ATA_STATUS 0x1F7
#define ATA_CMD    0x1F7
#define ATA_CTRL   0x3F6   /* write: device control; read: alternate status */

#define ST_BSY 0x80
#define ST_DRQ 0x08
#define ST_ERR 0x01

static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static u16 words[256];

static void put_hex2(u8 v)
{
    const char *h = "0123456789abcdef";
    serial_putc(h[v >> 4]);
    serial_putc(h[v & 15]);
}

/* The 400 ns a device may take to show the status of the one just selected: four reads
 * of the alternate status (ATA-6 9.7, host rules). */
static void settle(void)
{
    for (int i = 0; i < 4; i++)
        inb(ATA_CTRL);
}

/* Waits for DRQ after a data-in command; 0 on success, -1 on ERR or time-out. */
static int wait_data(void)
{
    for (u32 i = 0; i < 1000000; i++) {
        u8 s = inb(ATA_STATUS);
        if (s & ST_BSY)
            continue;
        if (s & ST_ERR)
            return -1;
        if (s & ST_DRQ)
            return 0;
    }
    return -1;
}

static void read_block(void)
{
    for (int i = 0; i < 256; i++)
        words[i] = inw(ATA_DATA);
}

static void probe(int dev)
{
    serial_puts(dev ? "device 1 (slave): " : "device 0 (master): ");
    outb(ATA_DEVICE, 0xA0 | dev << 4);
    settle();
    u8 s = inb(ATA_STATUS);
    if (s == 0x00 || s == 0xFF) {
        serial_puts("none (status ");
        put_hex2(s);
        serial_puts(")\n");
        return;
    }
    serial_puts("status ");
    put_hex2(s);
    outb(ATA_CMD, 0xEC);                        /* IDENTIFY DEVICE */
    if (wait_data() < 0) {
        serial_puts(", IDENTIFY failed\n");
        return;
    }
    read_block();
    u32 sectors = words[60] | (u32)words[61] << 16;
    serial_puts(", ");
    serial_putu(sectors);
    serial_puts(" sectors\n");

    outb(ATA_DEVICE, 0xE0 | dev << 4);          /* LBA mode, LBA bits 27-24 = 0 */
    outb(ATA_COUNT, 1);
    outb(ATA_LBA0, 0);
    outb(ATA_LBA1, 0);
    outb(ATA_LBA2, 0);
    outb(ATA_CMD, 0x20);                        /* READ SECTORS */
    if (wait_data() < 0) {
        serial_puts("  READ SECTORS failed\n");
        return;
    }
    read_block();
    const char *text = (const char *)words;
    serial_puts("  sector 0: ");
    for (int i = 0; i < 64 && text[i] >= ' ' && text[i] < 127; i++)
        serial_putc(text[i]);
    serial_putc('\n');
}

int main(u32 magic, struct multiboot_info *mbi)
{
    (void)magic;
    (void)mbi;
    serial_init();
    serial_puts("atadisks: the primary ATA channel\n");
    outb(ATA_CTRL, 0x02);                       /* nIEN: no interrupts, we poll */
    probe(0);
    probe(1);
    return 0;   /* start.S writes it to port 0xF4 */
}
