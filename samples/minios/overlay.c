/*
 * overlay.c - layered roots, like Linux's overlayfs (fs/overlayfs/,
 * Documentation/filesystems/overlayfs.rst): one read-only lower directory
 * (an image) under one writable upper directory; a process whose root is the
 * upper directory sees the two merged.
 *
 * Owns the write side of the merge: copy-up (the first write to a lower file,
 * or a file created in a lower directory, first copies the file and the
 * directories above it into the upper layer) and whiteouts (removing a lower
 * name leaves a character-device entry of that name in the upper layer, as
 * overlayfs does with a 0/0 device). fs.c owns the read side: lookups that
 * fall through to the lower layer and merged directory listings. isolate()
 * (ns.c) creates the upper directory as /overlays/NAME. Limits: one lower
 * layer; no opaque directories (a directory holding whiteouts cannot be
 * removed: -ENOTEMPTY); the lower layer must not change while in use.
 */
#include "kernel.h"

/* 1 if `ino` lies in the lower layer of the process root `root`. */
int ovl_is_lower(int ino, int root)
{
    int low = fs_lower(root);
    if (!low) return 0;
    for (int i = ino, n = 0; n < NINODE; i = fs_parent_of(i), n++) {
        if (i == low) return 1;
        if (i == root || i <= 0) return 0;
    }
    return 0;
}

/* The upper-layer inode for `ino`, copying it (and its directories) up if it
 * is a lower one; -errno on failure. */
int ovl_copy_up(int ino, int root)
{
    if (!ovl_is_lower(ino, root)) return ino;
    int low = fs_lower(root), chain[32], n = 0;
    for (int i = ino; i != low; i = fs_parent_of(i)) {
        if (n == 32) return -ENAMETOOLONG;
        chain[n++] = i;
    }
    int up = root;
    while (n--) {
        int l = chain[n], type = fs_type(l);
        char name[NAME_MAX + 1];
        fs_name(l, name);
        int c = fs_raw_child(up, name);
        if (c < 0) {
            if ((c = fs_create(up, name, type)) < 0) return c;
            if (type == S_IFDIR) fs_set_lower(c, l);
            else {
                u8 buf[256];
                for (u32 off = 0; off < fs_size(l); ) {
                    int k = fs_read(l, off, buf, sizeof(buf));
                    if (k <= 0) break;
                    int w = fs_write(c, off, buf, (u32)k);
                    if (w != k) { fs_remove(c); return w < 0 ? w : -ENOSPC; }
                    off += (u32)k;
                }
            }
        }
        up = c;
    }
    return up;
}

/* Before creating `name` in `dir`: the directory's upper inode, with a
 * whiteout of that name taken away. */
int ovl_prepare_create(int dir, int root, const char *name)
{
    dir = ovl_copy_up(dir, root);
    if (dir < 0) return dir;
    int w = fs_raw_child(dir, name);
    if (w >= 0 && fs_type(w) == S_IFCHR) fs_remove(w);
    return dir;
}

/* unlink/rmdir of `ino` (named `name` in directory `dir`) under an overlay root. */
int ovl_remove(int ino, int dir, int root, const char *name)
{
    int lower_only = ovl_is_lower(ino, root);
    char tmp[NAME_MAX + 1];
    int cur = 0;
    if (fs_type(ino) == S_IFDIR && fs_child(ino, 0, tmp, &cur, 1) >= 0) return -ENOTEMPTY;
    int updir = ovl_copy_up(dir, root);
    if (updir < 0) return updir;
    int low = fs_lower(updir), also_lower = low && fs_raw_child(low, name) >= 0;
    if (!lower_only) {
        int r = fs_remove(ino);
        if (r < 0 || !also_lower) return r;
    }
    int w = fs_create(updir, name, S_IFCHR);            /* the whiteout */
    return w < 0 ? w : 0;
}
