/* lib.h - tiny freestanding helpers shared by hello and the benchmarks. */
#ifndef LIB_H
#define LIB_H
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* Multiboot v1 information structure (only the fields we use). */
struct multiboot_info {
    u32 flags;          /* bit 0: mem_lower/upper valid, bit 2: cmdline valid, bit 6: mmap valid */
    u32 mem_lower;      /* KiB below 1 MiB */
    u32 mem_upper;      /* KiB above 1 MiB (up to the first hole) */
    u32 boot_device;
    u32 cmdline;        /* physical address of a NUL-terminated string */
    u32 mods_count, mods_addr;
    u32 syms[4];
    u32 mmap_length, mmap_addr;
};

void serial_init(void);
void serial_putc(char c);
void vga_clear(void);
void vga_putc(char c);
void puts_both(const char *s);          /* serial + VGA */
void serial_puts(const char *s);
void serial_putu(u32 v);                /* decimal */
void serial_puthex(u32 v);              /* 8 hex digits */
char *utoa(u32 v, char *buf);           /* decimal, returns buf */
/* Returns the value of "key=N" (decimal) in the multiboot cmdline, or def. */
u32 cmdline_uint(struct multiboot_info *mbi, const char *key, u32 def);
void *memset(void *d, int c, u32 n);
#endif
