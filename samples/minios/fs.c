/*
 * fs.c - the in-memory file system: directories and regular files kept in
 * RAM only, like Linux's ramfs/tmpfs (mm/shmem.c, fs/ramfs/). Nothing is ever
 * written to a disk; at boot initramfs.c fills it from a ustar archive.
 *
 * Owns: the inode table and the file data. An inode is a directory or a
 * regular file; it also holds its own name and its parent's inode number (one
 * name per inode: no hard links), so a directory's entries are the inodes
 * whose parent it is, in creation order. Inode 0 is "/" and is its own parent.
 * A file's bytes live in up to FILE_PAGES page frames from paging.c, allocated
 * when first written (a page never written reads as zeros).
 *
 * Path walking takes the starting directory (the process's cwd) and the
 * process's root: ".." at that root stays there, as it does in Linux after
 * chroot(2) or pivot_root(2). The cgroup files (/sys/fs/cgroup/NAME/...)
 * are inodes marked `special`: cgroup.c makes their text on every read and
 * takes their writes, like Linux's kernfs. Bind mounts (mount.c) are crossed
 * during the walk. This file does not know about processes,
 * descriptors or user memory: file.c checks the user's pointers and copies
 * paths into the kernel before calling in here.
 */
#include "kernel.h"

struct inode {
    u8   used, type;                   /* S_IFREG or S_IFDIR */
    u16  opens;                        /* open files and working directories using it */
    int  special;                      /* > 0: a cgroup file, its text made by cgroup.c */
    int  lower;                        /* overlay.c: the lower directory this one merges (0 = none) */
    int  parent;
    char name[NAME_MAX + 1];
    u32  size;
    u32  pages[FILE_PAGES];            /* physical frames, 0 = not written yet */
};
static struct inode inodes[NINODE];
static int ino_top = 1;                /* every used inode is below it: lookups stop there */

void fs_init(void)
{
    memset(inodes, 0, sizeof(inodes));
    inodes[0].used = 1;
    inodes[0].type = S_IFDIR;
    inodes[0].parent = 0;
    ino_top = 1;
}

int fs_rootdir(void) { return 0; }

static int valid(int ino) { return ino >= 0 && ino < NINODE && inodes[ino].used; }

int fs_type(int ino) { return valid(ino) ? inodes[ino].type : 0; }

u32 fs_size(int ino)
{
    char tmp[64];
    if (valid(ino) && inodes[ino].special) return (u32)cgroup_show(inodes[ino].special, tmp, sizeof(tmp));
    return valid(ino) ? inodes[ino].size : 0;
}

int fs_create_special(int dir, const char *name, int special)
{
    int ino = fs_create(dir, name, S_IFREG);
    if (ino >= 0) inodes[ino].special = special;
    return ino;
}

void fs_ref(int ino, int delta)
{
    if (valid(ino)) inodes[ino].opens = (u16)(inodes[ino].opens + delta);
}

/* Copies the next path component into name; 0 at the end of the path. */
static int next_name(const char **pp, char *name)
{
    const char *p = *pp;
    while (*p == '/') p++;
    int n = 0;
    while (p[n] && p[n] != '/') {
        if (n == NAME_MAX) return -ENAMETOOLONG;
        name[n] = p[n];
        n++;
    }
    name[n] = 0;
    *pp = p + n;
    return n;
}

static int find_child(int dir, const char *name)
{
    for (int i = 1; i < ino_top; i++)
        if (inodes[i].used && inodes[i].parent == dir && !strcmp(inodes[i].name, name)) return i;
    return -ENOENT;
}

/* One step of a walk. Under a layered root (overlay.c) a directory of the
 * upper layer may merge a lower one: a name found in the upper one wins (a
 * whiteout, type S_IFCHR, hides the lower name), else the lower one answers
 * with its own, read-only inode. Only a process whose root is layered sees
 * the merge: from outside, /overlays/NAME is the plain upper layer (its
 * whiteouts are entries that can be removed: dockerd's build does). */
static int step(int cur, int root, const char *name)
{
    if (inodes[cur].type != S_IFDIR) return -ENOTDIR;
    if (!strcmp(name, ".")) return cur;
    if (!strcmp(name, "..")) {
        if (cur == root) return cur;
        int point = mnt_leave(root, cur);             /* the top of a bind mount (mount.c) */
        if (point >= 0) cur = point;
        int up = inodes[cur].parent;
        return up == inodes[root].lower ? root : up;  /* the lower layer's top is the root */
    }
    int c = find_child(cur, name), low = inodes[root].lower ? inodes[cur].lower : 0;
    if (c >= 0 && inodes[c].type == S_IFCHR && inodes[root].lower) return -ENOENT;   /* whiteout */
    int l = low ? find_child(low, name) : -ENOENT;
    if (c >= 0) {
        if (inodes[c].type == S_IFDIR && !inodes[c].lower && l >= 0 && inodes[l].type == S_IFDIR)
            inodes[c].lower = l;                      /* a merged directory */
        return mnt_enter(root, c);
    }
    return l;
}

int  fs_raw_child(int dir, const char *name) { return valid(dir) ? find_child(dir, name) : -ENOENT; }
int  fs_parent_of(int ino) { return valid(ino) ? inodes[ino].parent : -ENOENT; }
int  fs_lower(int ino) { return valid(ino) ? inodes[ino].lower : 0; }
void fs_set_lower(int ino, int lower) { if (valid(ino)) inodes[ino].lower = lower; }

/* Walks `path`. With `last` set, stops before the final component, copies it
 * to last ("" when the path has none, e.g. "/") and returns its directory. */
static int walk(int start, int root, const char *path, char *last)
{
    if (!valid(start) || !valid(root)) return -ENOENT;
    if (!*path) return -ENOENT;
    int cur = *path == '/' ? root : start;
    char name[NAME_MAX + 1];
    if (last) last[0] = 0;
    for (;;) {
        int n = next_name(&path, name);
        if (n < 0) return n;
        if (n == 0) return cur;
        const char *rest = path;
        while (*rest == '/') rest++;
        if (!*rest && last) {
            if (inodes[cur].type != S_IFDIR) return -ENOTDIR;
            memcpy(last, name, (u32)n + 1);
            return cur;
        }
        cur = step(cur, root, name);
        if (cur < 0) return cur;
    }
}

int fs_lookup(int start, int root, const char *path) { return walk(start, root, path, 0); }
int fs_parent(int start, int root, const char *path, char *last) { return walk(start, root, path, last); }

int fs_create(int dir, const char *name, int type)
{
    if (!valid(dir) || inodes[dir].type != S_IFDIR) return -ENOTDIR;
    if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) return -EEXIST;
    if (strlen(name) > NAME_MAX) return -ENAMETOOLONG;
    if (find_child(dir, name) >= 0) return -EEXIST;
    for (int i = 1; i < NINODE; i++) {
        if (inodes[i].used) continue;
        memset(&inodes[i], 0, sizeof(inodes[i]));
        if (i >= ino_top) ino_top = i + 1;
        inodes[i].used = 1;
        inodes[i].type = (u8)type;
        inodes[i].parent = dir;
        memcpy(inodes[i].name, name, strlen(name) + 1);
        return i;
    }
    return -ENOSPC;
}

int fs_truncate(int ino)
{
    if (!valid(ino)) return -ENOENT;
    if (inodes[ino].type != S_IFREG) return -EISDIR;
    if (inodes[ino].special) return 0;              /* `echo N > cpu.weight` truncates first */
    for (int i = 0; i < FILE_PAGES; i++)
        if (inodes[ino].pages[i]) { frame_free(inodes[ino].pages[i]); inodes[ino].pages[i] = 0; }
    inodes[ino].size = 0;
    return 0;
}

/* Removes a file (unlink) or an empty directory (rmdir); the caller checked
 * which one was asked for. In use (open, someone's cwd or root) = -EBUSY:
 * unlike Linux, an open file cannot outlive its name here. */
int fs_remove(int ino)
{
    if (!valid(ino) || ino == 0) return ino == 0 ? -EBUSY : -ENOENT;
    if (inodes[ino].opens || mnt_busy(ino)) return -EBUSY;   /* in use, or mounted (mount.c) */
    if (inodes[ino].special) return -EPERM;
    if (inodes[ino].type == S_IFDIR) {
        for (int i = 1; i < NINODE; i++)
            if (inodes[i].used && inodes[i].parent == ino) return -ENOTEMPTY;
    } else {
        fs_truncate(ino);
    }
    inodes[ino].used = 0;
    return 0;
}

int fs_read(int ino, u32 off, void *buf, u32 len)
{
    if (!valid(ino)) return -ENOENT;
    struct inode *n = &inodes[ino];
    if (n->type != S_IFREG) return -EISDIR;
    if (n->special) {                               /* made fresh on every read */
        char tmp[64];
        u32 k = (u32)cgroup_show(n->special, tmp, sizeof(tmp));
        if (off >= k) return 0;
        if (len > k - off) len = k - off;
        memcpy(buf, tmp + off, len);
        return (int)len;
    }
    if (off >= n->size) return 0;
    if (len > n->size - off) len = n->size - off;
    u8 *dst = buf;
    for (u32 done = 0; done < len; ) {
        u32 pos = off + done, in = pos & (PAGE_SIZE - 1), k = PAGE_SIZE - in;
        if (k > len - done) k = len - done;
        u32 pa = n->pages[pos / PAGE_SIZE];
        if (pa) memcpy(dst + done, (const u8 *)pa + in, k);
        else memset(dst + done, 0, k);
        done += k;
    }
    return (int)len;
}

int fs_write(int ino, u32 off, const void *buf, u32 len)
{
    if (!valid(ino)) return -ENOENT;
    struct inode *n = &inodes[ino];
    if (n->type != S_IFREG) return -EISDIR;
    if (n->special) return cgroup_store(n->special, buf, len);
    const u32 max = FILE_PAGES * PAGE_SIZE;
    if (off >= max) return len ? -EFBIG : 0;
    if (len > max - off) len = max - off;
    const u8 *src = buf;
    u32 done = 0;
    while (done < len) {
        u32 pos = off + done, in = pos & (PAGE_SIZE - 1), k = PAGE_SIZE - in;
        if (k > len - done) k = len - done;
        u32 *pa = &n->pages[pos / PAGE_SIZE];
        if (!*pa && !(*pa = frame_alloc())) break;       /* out of memory: a short write */
        memcpy((u8 *)*pa + in, src + done, k);
        done += k;
    }
    if (done && off + done > n->size) n->size = off + done;
    return done || !len ? (int)done : -ENOSPC;
}

/* The next entry of `dir` after the cursor `after` (0 = from the start):
 * its inode in *ino, its name; returns the new cursor, or -1 at the end.
 * Cursors below NINODE walk the directory itself (whiteouts left out when merged),
 * NINODE + i the lower directory it merges when `merged` (names the upper
 * one has or has whited out left out). */
int fs_child(int dir, int after, char *name, int *ino, int merged)
{
    if (!valid(dir) || inodes[dir].type != S_IFDIR) return -ENOTDIR;
    if (after < NINODE) {
        for (int i = after + 1; i < NINODE; i++) {
            if (!inodes[i].used || inodes[i].parent != dir || i == dir) continue;
            if (merged && inodes[i].type == S_IFCHR) continue;    /* a whiteout */
            memcpy(name, inodes[i].name, NAME_MAX + 1);
            *ino = i;
            return i;
        }
        after = NINODE;
    }
    int low = merged ? inodes[dir].lower : 0;
    if (!low) return -1;
    for (int i = after - NINODE + 1; i < NINODE; i++) {
        if (!inodes[i].used || inodes[i].parent != low || i == low) continue;
        if (find_child(dir, inodes[i].name) >= 0) continue;
        memcpy(name, inodes[i].name, NAME_MAX + 1);
        *ino = i;
        return NINODE + i;
    }
    return -1;
}

int fs_name(int ino, char *name)
{
    if (!valid(ino)) return -ENOENT;
    memcpy(name, inodes[ino].name, NAME_MAX + 1);
    return 0;
}

/* The absolute path of `ino` as seen from `root`, in buf; its length or -errno. */
int fs_path(int ino, int root, char *buf, int len)
{
    if (!valid(ino) || len < 2) return -EINVAL;
    int chain[NINODE], depth = 0, low = inodes[root].lower;
    for (int i = ino; depth < NINODE; i = inodes[i].parent) {
        int point = mnt_leave(root, i);               /* a bind mount's top: its mountpoint */
        if (point >= 0) i = point;
        if (i == root || i == 0 || (low && i == low)) break;
        chain[depth++] = i;
    }
    int n = 0;
    if (!depth) buf[n++] = '/';
    while (depth--) {
        u32 k = strlen(inodes[chain[depth]].name);
        if (n + 1 + (int)k >= len) return -ERANGE;
        buf[n++] = '/';
        memcpy(buf + n, inodes[chain[depth]].name, k);
        n += (int)k;
    }
    buf[n] = 0;
    return n;
}
