/*
 * mount.c - bind mounts, like Linux's `mount --bind SRC DST` (mount(2) with
 * MS_BIND, fs/namespace.c): after one, the directory DST shows the contents
 * of the directory SRC, and whatever is written under DST lands in SRC. It is
 * how Docker gives a container a volume (`docker run -v VOL:/path`: runc binds
 * /var/lib/docker/volumes/VOL/_data onto /path of the container's root).
 *
 * Owns the mount table. minios's "mount namespace" is a process's root
 * directory (ns.c): a mount belongs to one root, and only the processes whose
 * root that is see it (the others see the plain directory DST). fs.c asks
 * here at each step of a path walk: a mountpoint is crossed into its source
 * (mnt_enter), ".." at the top of a source leads back to the mountpoint's
 * directory (mnt_leave), so the source's own parents stay out of reach, as
 * a volume's /var/lib/docker/volumes stays out of a container's reach.
 * Limits: directories only, one mount per mountpoint, no recursive binds;
 * a source may not contain its mountpoint (Linux allows it); a mountpoint or a
 * mounted source cannot be removed (-EBUSY); mounts stay until unmounted
 * (dockerd unmounts when it removes the container).
 *
 *   bindmount(src, dst, root): in the namespace whose root is the directory
 *   `root` (NULL: the caller's own), make dst show src. Every path is looked
 *   up as the caller sees it; dst must lie under root. src NULL unmounts dst.
 *   Errors: -EFAULT/-ENAMETOOLONG (bad strings), -ENOENT, -ENOTDIR, -EINVAL
 *   (dst outside root, dst is that root, src contains dst), -EBUSY (already a
 *   mountpoint), -ENOSPC (table full).
 */
#include "kernel.h"

#define NMOUNT 8
static struct mnt { int used, root, point, target; } mnts[NMOUNT];

int mnt_enter(int root, int ino)
{
    for (int i = 0; i < NMOUNT; i++)
        if (mnts[i].used && mnts[i].root == root && mnts[i].point == ino) return mnts[i].target;
    return ino;
}

int mnt_leave(int root, int ino)
{
    for (int i = 0; i < NMOUNT; i++)
        if (mnts[i].used && mnts[i].root == root && mnts[i].target == ino) return mnts[i].point;
    return -1;
}

int mnt_busy(int ino)
{
    for (int i = 0; i < NMOUNT; i++)
        if (mnts[i].used && (mnts[i].point == ino || mnts[i].target == ino)) return 1;
    return 0;
}

/* 1 if `ino` is `dir` or lies under it (plain parents, no mounts). */
static int under(int ino, int dir)
{
    for (int i = ino, n = 0; n < NINODE; i = fs_parent_of(i), n++) {
        if (i == dir) return 1;
        if (i <= 0) return 0;
    }
    return 0;
}

static int lookup_dir(const char *path, int *ino)
{
    int i = fs_lookup(current->cwd, current->root, path);
    if (i < 0) return i;
    if (fs_type(i) != S_IFDIR) return -ENOTDIR;
    *ino = i;
    return 0;
}

static int sys_bindmount(u32 usrc, u32 udst, u32 uroot)
{
    char src[PATH_MAX], dst[PATH_MAX], root[PATH_MAX];
    int e, s = -1, d, r = current->root;
    if ((e = user_string(dst, udst, PATH_MAX))
        || (usrc && (e = user_string(src, usrc, PATH_MAX)))
        || (uroot && (e = user_string(root, uroot, PATH_MAX))))
        return e;
    if ((uroot && (e = lookup_dir(root, &r))) || (usrc && (e = lookup_dir(src, &s)))
        || (e = lookup_dir(dst, &d)))
        return e;
    if (!usrc) {                                    /* umount dst */
        for (int i = 0; i < NMOUNT; i++)
            if (mnts[i].used && mnts[i].root == r && (mnts[i].target == d || mnts[i].point == d)) {
                mnts[i].used = 0;
                return 0;
            }
        return -EINVAL;                             /* not a mountpoint (umount(2) says so too) */
    }
    if (d == r || !under(d, r) || under(d, s)) return -EINVAL;
    int free = -1;
    for (int i = 0; i < NMOUNT; i++) {
        if (mnts[i].used && mnts[i].root == r && (mnts[i].point == d || mnts[i].target == d))
            return -EBUSY;
        if (!mnts[i].used && free < 0) free = i;
    }
    if (free < 0) return -ENOSPC;
    mnts[free].used = 1;
    mnts[free].root = r;
    mnts[free].point = d;
    mnts[free].target = s;
    return 0;
}

int mnt_syscall(struct regs *r)
{
    if (r->eax != SYS_BINDMOUNT) return 0;
    r->eax = (u32)sys_bindmount(r->ebx, r->ecx, r->edx);
    return 1;
}
