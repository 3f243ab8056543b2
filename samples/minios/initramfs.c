/*
 * initramfs.c - fills the in-memory file system at boot from an archive, as
 * Linux unpacks its initramfs into a ramfs/tmpfs (init/initramfs.c). Linux
 * uses the cpio "newc" format; minios reads POSIX ustar (the tar format), so
 * the archive is made with any tar.
 *
 * Owns: parsing the archive (512-byte headers with octal fields and a
 * checksum, data padded to 512 bytes, two zero blocks at the end) and
 * creating its directories and regular files. Other entry types (links,
 * devices) are skipped with a message. It must not trust the archive: a
 * multiboot module may be anything, so every field is checked.
 */
#include "kernel.h"

static u32 octal(const u8 *f, int n, int *ok)
{
    u32 v = 0;
    int i = 0;
    while (i < n && f[i] == ' ') i++;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 29) { *ok = 0; return 0; }
        v = v * 8 + (u32)(f[i] - '0');
    }
    if (i < n && f[i] != 0 && f[i] != ' ') *ok = 0;
    return v;
}

/* The directory of the previous entry: the archive is sorted, so most
 * entries share it and need no walk from the root. */
static char prev_dir[256];
static int prev_ino = -1;

/* Creates every missing directory of `path` ("a/b/c": a and a/b) and returns
 * the inode of its parent directory, the last name in `last`. */
static int make_parents(char *path, char *last)
{
    int dir = fs_rootdir();
    char *s = path, *slash = 0;
    for (char *c = path; *c; c++) if (*c == '/') slash = c;
    if (slash && prev_ino >= 0 && (u32)(slash - path) == strlen(prev_dir)
        && !memcmp(path, prev_dir, (u32)(slash - path)) && strlen(slash + 1) <= NAME_MAX) {
        memcpy(last, slash + 1, strlen(slash + 1) + 1);
        return prev_ino;
    }
    for (;;) {
        while (*s == '/') s++;
        char *e = s;
        while (*e && *e != '/') e++;
        const char *rest = e;
        while (*rest == '/') rest++;
        if ((u32)(e - s) > NAME_MAX) return -ENAMETOOLONG;
        char name[NAME_MAX + 1];
        memcpy(name, s, (u32)(e - s));
        name[e - s] = 0;
        if (!*rest) {
            memcpy(last, name, (u32)(e - s) + 1);
            if ((u32)(s - path) < sizeof(prev_dir)) {      /* remember "a/b" for the next entry */
                u32 k = s > path ? (u32)(s - path) - 1 : 0;
                memcpy(prev_dir, path, k);
                prev_dir[k] = 0;
                prev_ino = k ? dir : -1;
            }
            return dir;
        }
        int next = fs_lookup(dir, fs_rootdir(), name);
        if (next < 0) next = fs_create(dir, name, S_IFDIR);
        if (next < 0 || fs_type(next) != S_IFDIR) return next < 0 ? next : -ENOTDIR;
        dir = next;
        s = e;
    }
}

void initramfs_load(const u8 *a, u32 len, const char *from)
{
    int files = 0, dirs = 0;
    u32 bytes = 0, off = 0;
    prev_ino = -1;
    while (off + 512 <= len && a[off]) {
        const u8 *h = a + off;
        int ok = 1;
        u32 size = octal(h + 124, 12, &ok), sum = octal(h + 148, 8, &ok), mine = 0;
        const u32 *w = (const u32 *)h;                /* the byte sum, two bytes a lane */
        u32 lanes = 0;
        for (int i = 0; i < 128; i++) lanes += (w[i] & 0x00ff00ffu) + ((w[i] >> 8) & 0x00ff00ffu);
        mine = (lanes & 0xffff) + (lanes >> 16);
        for (int i = 148; i < 156; i++) mine += (u32)' ' - h[i];  /* the checksum field counts as spaces */
        if (!ok || sum != mine || memcmp(h + 257, "ustar", 5)) {
            kprintf("  fs: %s archive: bad header at offset %u, rest ignored\n", from, off);
            break;
        }
        u32 data = off + 512;
        if (size > len - data) {
            kprintf("  fs: %s archive: entry at offset %u runs past the end\n", from, off);
            break;
        }
        char path[256 + 2];
        u32 n = 0;
        for (int i = 0; i < 155 && h[345 + i]; i++) path[n++] = (char)h[345 + i];
        if (n) path[n++] = '/';
        for (int i = 0; i < 100 && h[i]; i++) path[n++] = (char)h[i];
        path[n] = 0;
        char *p = path;
        if (p[0] == '.' && (p[1] == '/' || !p[1])) p++;
        while (n > 1 && path[n - 1] == '/') path[--n] = 0;    /* "bin/" -> "bin" */
        char last[NAME_MAX + 1];
        int type = h[156], r = 0;
        while (*p == '/') p++;
        if (!*p) {
            /* "./" itself: the root */
        } else if ((r = make_parents(p, last)) < 0) {
            kprintf("  fs: %s: cannot create (error %d)\n", p, r);
        } else if (type == '5') {
            int d = fs_lookup(r, fs_rootdir(), last);
            if (d < 0 && (d = fs_create(r, last, S_IFDIR)) < 0) kprintf("  fs: %s: error %d\n", p, d);
            else dirs++;
        } else if (type == '0' || type == 0) {
            int f = fs_create(r, last, S_IFREG);
            int w = f < 0 ? f : fs_write(f, 0, a + data, size);
            if (w < 0 || (u32)w != size) kprintf("  fs: %s: cannot store %u bytes (error %d)\n", p, size, w);
            else { files++; bytes += size; }
        } else {
            kprintf("  fs: %s: entry type '%c' skipped\n", p, type);
        }
        off = data + ((size + 511) & ~511u);
    }
    kprintf("  fs: %d files, %d directories, %u bytes from the %s archive\n", files, dirs, bytes, from);
}
