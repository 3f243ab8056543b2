/*
 * ustar.h - the header block of a POSIX ustar archive entry (POSIX.1-1988
 * "ustar Interchange Format", the tar format of Docker's image layers): the
 * one way the engine writes it, shared by dockerd's `docker build`
 * (dockerd_build.c, inside minios) and the host image builder
 * (samples/minios/images/imgbuild.c), so that the same files give the same
 * layer bytes and digests on both sides. Header-only and libc-free: it is
 * compiled into a minios program and a host program.
 */
#ifndef MINIOS_USTAR_H
#define MINIOS_USTAR_H

/* v in octal, zero-padded, in width - 1 digits and a NUL. */
static void ustar_octal(char *f, int width, unsigned int v)
{
    f[width - 1] = 0;
    for (int i = width - 2; i >= 0; i--, v >>= 3) f[i] = (char)('0' + (v & 7));
}

/* Fills the 512-byte header h of an entry named `name` (at most 99 bytes,
 * checked by the caller): a directory (dir) or a regular file of len bytes,
 * mode 0755 for directories and programs (exec), else 0644; uid, gid and
 * mtime 0, so an archive depends only on the files. */
static void ustar_header(char *h, const char *name, int dir, int exec, unsigned int len)
{
    for (int i = 0; i < 512; i++) h[i] = 0;
    for (int i = 0; name[i] && i < 99; i++) h[i] = name[i];
    ustar_octal(h + 100, 8, dir || exec ? 0755 : 0644);
    ustar_octal(h + 108, 8, 0);
    ustar_octal(h + 116, 8, 0);
    ustar_octal(h + 124, 12, dir ? 0 : len);
    ustar_octal(h + 136, 12, 0);                      /* mtime */
    h[156] = dir ? '5' : '0';
    for (int i = 0; i < 5; i++) h[257 + i] = "ustar"[i];   /* magic "ustar\0", version "00" */
    h[263] = h[264] = '0';
    for (int i = 148; i < 156; i++) h[i] = ' ';      /* the checksum counts its field as spaces */
    unsigned int sum = 0;
    for (int i = 0; i < 512; i++) sum += (unsigned char)h[i];
    ustar_octal(h + 148, 7, sum);                     /* six digits, NUL, the space stays */
}
#endif
