/*
 * file.c - open files, descriptors and the file system calls, the part of a
 * Unix kernel that Linux calls the VFS (struct file, the fd table, fs/open.c,
 * fs/read_write.c, fs/namei.c).
 *
 * Owns: the open-file table (an offset, an access mode and what the file is:
 * a regular file or directory of fs.c, a pipe end of pipe.c, a socket of
 * socket.c, or the console)
 * and each process's descriptor table (descriptors are inherited at spawn and
 * may share one open file, like after fork(2) or dup2(2)); every user pointer
 * and path these calls receive is checked here (bad ones get -EFAULT or
 * -ENAMETOOLONG, never a kernel fault). poll(2) is here too: it asks each
 * kind of file whether it is ready and on which wait channels that can
 * change, then sleeps until a wakeup() of one of them or its timeout. It does not store file
 * data (fs.c) nor block on its own (pipe.c, socket.c and the console input
 * do, through sched.c).
 */
#include "kernel.h"

#define NFILE 64

struct file {
    int refs, type, mode, ino;         /* type: S_IFREG, S_IFDIR, S_IFCHR, S_IFIFO, S_IFSOCK */
    u32 off;                           /* regular files; directories: last inode listed */
    struct pipe *pipe;
    struct sock *sock;
};
static struct file files[NFILE];

#define ARG1 r->ebx
#define ARG2 r->ecx
#define ARG3 r->edx

static struct file *file_alloc(int type, int mode)
{
    for (int i = 0; i < NFILE; i++)
        if (!files[i].refs) {
            memset(&files[i], 0, sizeof(files[i]));
            files[i].refs = 1;
            files[i].type = type;
            files[i].mode = mode;
            return &files[i];
        }
    return 0;
}

static void file_put(struct file *f)
{
    if (--f->refs) return;
    if (f->type == S_IFREG || f->type == S_IFDIR) fs_ref(f->ino, -1);
    if (f->type == S_IFIFO) pipe_close(f->pipe, f->mode == O_WRONLY);
    if (f->type == S_IFSOCK) sock_close(f->sock);
}

static int fd_alloc(struct file *f)
{
    for (int i = 0; i < NFD; i++)
        if (!current->fd[i]) { current->fd[i] = f; return i; }
    return -EMFILE;
}

static struct file *fd_get(u32 fd) { return fd < NFD ? current->fd[fd] : 0; }

struct sock *fd_sock(u32 fd, int *err)
{
    struct file *f = fd_get(fd);
    *err = !f ? -EBADF : f->type != S_IFSOCK ? -ENOTSOCK : 0;
    return *err ? 0 : f->sock;
}

int fd_install_sock(struct sock *s)
{
    struct file *f = file_alloc(S_IFSOCK, O_RDWR);
    if (!f) return -ENFILE;
    int fd = fd_alloc(f);
    if (fd < 0) { f->refs = 0; return fd; }
    f->sock = s;
    return fd;
}

void file_init(struct proc *first)
{
    struct file *con = file_alloc(S_IFCHR, O_RDWR);
    con->refs = 3;
    first->fd[0] = first->fd[1] = first->fd[2] = con;
    first->cwd = first->root = fs_rootdir();
    fs_ref(first->cwd, 2);
}

/* A child gets descriptors 0, 1 and 2 only (as if every other one were
 * close-on-exec in Linux), the working directory and the root. */
void file_inherit(struct proc *child, struct proc *parent)
{
    for (int i = 0; i < 3; i++)
        if ((child->fd[i] = parent->fd[i])) child->fd[i]->refs++;
    child->cwd = parent->cwd;
    child->root = parent->root;
    fs_ref(child->cwd, 1);
    fs_ref(child->root, 1);
}

void file_close_all(struct proc *p)
{
    for (int i = 0; i < NFD; i++)
        if (p->fd[i]) { file_put(p->fd[i]); p->fd[i] = 0; }
    fs_ref(p->cwd, -1);
    fs_ref(p->root, -1);
}

/* Copies a NUL-terminated string from user space: 0, -EFAULT or -ENAMETOOLONG. */
int user_string(char *dst, u32 src, int max)
{
    for (int i = 0; i < max; i++) {
        if (!user_ok(current->pd, src + (u32)i, 1)) return -EFAULT;
        dst[i] = *(const char *)(src + (u32)i);
        if (!dst[i]) return 0;
    }
    return -ENAMETOOLONG;
}

static int console_read(u8 *buf, u32 len)
{
    for (;;) {
        input_poll();
        u32 n = 0;
        int c;
        while (n < len && (c = input_getc()) >= 0) buf[n++] = (u8)c;
        if (n) return (int)n;
        current->state = PROC_BLOCKED;   /* wait for a key or a serial byte */
        current->chan = CHAN_INPUT;
        schedule();
    }
}

static int sys_read(u32 fd, u32 buf, u32 len)
{
    struct file *f = fd_get(fd);
    if (!f) return -EBADF;
    if (f->mode == O_WRONLY) return -EBADF;
    if (!user_ok(current->pd, buf, len)) return -EFAULT;
    if (!len) return 0;
    switch (f->type) {
    case S_IFCHR: return console_read((u8 *)buf, len);
    case S_IFIFO: return pipe_read(f->pipe, (u8 *)buf, len);
    case S_IFSOCK: return sock_recv(f->sock, (u8 *)buf, len);
    case S_IFDIR: return -EISDIR;
    default: {
        int n = fs_read(f->ino, f->off, (void *)buf, len);
        if (n > 0) f->off += (u32)n;
        return n;
    }
    }
}

static int sys_write(u32 fd, u32 buf, u32 len)
{
    struct file *f = fd_get(fd);
    if (!f || f->mode == O_RDONLY) return -EBADF;
    if (!user_ok(current->pd, buf, len)) return -EFAULT;
    switch (f->type) {
    case S_IFCHR:
        for (u32 i = 0; i < len; i++) kputc(((const char *)buf)[i]);
        return (int)len;
    case S_IFIFO: return pipe_write(f->pipe, (const u8 *)buf, len);
    case S_IFSOCK: return sock_send(f->sock, (const u8 *)buf, len);
    default: {
        if (f->type != S_IFREG) return -EISDIR;
        int n = fs_write(f->ino, f->off, (const void *)buf, len);
        if (n > 0) f->off += (u32)n;
        return n;
    }
    }
}

static int sys_open(u32 upath, u32 flags)
{
    char path[PATH_MAX], last[NAME_MAX + 1];
    int e = user_string(path, upath, PATH_MAX), mode = (int)(flags & O_ACCMODE);
    if (e) return e;
    if (mode == O_ACCMODE || (flags & ~(u32)(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND))) return -EINVAL;
    int ino = fs_lookup(current->cwd, current->root, path);
    if (ino == -ENOENT && (flags & O_CREAT)) {
        int dir = fs_parent(current->cwd, current->root, path, last);
        if (dir >= 0) dir = ovl_prepare_create(dir, current->root, last);   /* layered root */
        if (dir < 0) return dir;
        ino = fs_create(dir, last, S_IFREG);
    }
    if (ino < 0) return ino;
    int type = fs_type(ino);
    if (type == S_IFDIR && mode != O_RDONLY) return -EISDIR;
    if (mode != O_RDONLY && (ino = ovl_copy_up(ino, current->root)) < 0) return ino;
    struct file *f = file_alloc(type, mode);
    if (!f) return -ENFILE;
    int fd = fd_alloc(f);
    if (fd < 0) { f->refs = 0; return fd; }
    f->ino = ino;
    fs_ref(ino, 1);
    if (type == S_IFREG && mode != O_RDONLY && (flags & O_TRUNC)) fs_truncate(ino);
    if (flags & O_APPEND) f->off = fs_size(ino);
    return fd;
}

static int sys_lseek(u32 fd, int off, u32 whence)
{
    struct file *f = fd_get(fd);
    if (!f) return -EBADF;
    if (f->type != S_IFREG) return -ESPIPE;
    int base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int)f->off
             : whence == SEEK_END ? (int)fs_size(f->ino) : -1;
    if (base < 0) return -EINVAL;
    int pos = base + off;
    if (pos < 0 || (u32)pos > FILE_PAGES * PAGE_SIZE) return -EINVAL;
    f->off = (u32)pos;
    return pos;
}

static int sys_stat(u32 upath, u32 out)
{
    char path[PATH_MAX];
    int e = user_string(path, upath, PATH_MAX);
    if (e) return e;
    if (!user_ok(current->pd, out, sizeof(struct stat))) return -EFAULT;
    int ino = fs_lookup(current->cwd, current->root, path);
    if (ino < 0) return ino;
    struct stat *st = (struct stat *)out;
    st->ino = (u32)ino;
    st->type = (u32)fs_type(ino);
    st->size = fs_size(ino);
    return 0;
}

static int sys_readdir(u32 fd, u32 out)
{
    struct file *f = fd_get(fd);
    if (!f) return -EBADF;
    if (f->type != S_IFDIR) return -ENOTDIR;
    if (!user_ok(current->pd, out, sizeof(struct dirent))) return -EFAULT;
    char name[NAME_MAX + 1];
    int child = 0, cursor = fs_child(f->ino, (int)f->off, name, &child,
                                          fs_lower(current->root) != 0);
    if (cursor < 0) return 0;
    f->off = (u32)cursor;
    struct dirent *d = (struct dirent *)out;
    d->ino = (u32)child;
    d->type = (u32)fs_type(child);
    d->size = fs_size(child);
    memcpy(d->name, name, NAME_MAX + 1);
    return 1;
}

/* mkdir, unlink, rmdir, chdir: one path argument each. */
static int path_call(int nr, u32 upath)
{
    char path[PATH_MAX], last[NAME_MAX + 1];
    int e = user_string(path, upath, PATH_MAX);
    if (e) return e;
    if (nr == SYS_MKDIR) {
        int dir = fs_parent(current->cwd, current->root, path, last);
        if (dir < 0) return dir;
        if (fs_lookup(current->cwd, current->root, path) >= 0) return -EEXIST;   /* maybe lower */
        if ((dir = ovl_prepare_create(dir, current->root, last)) < 0) return dir;
        int ino = fs_create(dir, last, S_IFDIR);
        return ino < 0 ? ino : 0;
    }
    int ino = fs_lookup(current->cwd, current->root, path);
    if (ino < 0) return ino;
    int type = fs_type(ino);
    int layered = nr != SYS_CHDIR && fs_lower(current->root) && ino != current->root;
    if (layered && (nr == SYS_UNLINK) == (type != S_IFDIR)) {
        int dir = fs_parent(current->cwd, current->root, path, last);
        return dir < 0 ? dir : ovl_remove(ino, dir, current->root, last);
    }
    if (nr == SYS_UNLINK) return type == S_IFDIR ? -EISDIR : fs_remove(ino);
    if (type != S_IFDIR) return -ENOTDIR;
    if (nr == SYS_RMDIR) return ino == current->root ? -EBUSY : fs_remove(ino);
    fs_ref(ino, 1);                                    /* SYS_CHDIR */
    fs_ref(current->cwd, -1);
    current->cwd = ino;
    return 0;
}

static int sys_getcwd(u32 buf, u32 len)
{
    char path[PATH_MAX];
    if (!len || !user_ok(current->pd, buf, len)) return -EFAULT;
    int n = fs_path(current->cwd, current->root, path, sizeof(path));
    if (n < 0) return n;
    if ((u32)n + 1 > len) return -ERANGE;
    memcpy((void *)buf, path, (u32)n + 1);
    return n;
}

static int sys_dup2(u32 old, u32 new)
{
    struct file *f = fd_get(old);
    if (!f || new >= NFD) return -EBADF;
    if (old == new) return (int)new;
    if (current->fd[new]) file_put(current->fd[new]);
    current->fd[new] = f;
    f->refs++;
    return (int)new;
}

static int sys_pipe(u32 out)
{
    if (!user_ok(current->pd, out, 8)) return -EFAULT;
    struct pipe *p = pipe_alloc();
    if (!p) return -ENFILE;
    struct file *rd = file_alloc(S_IFIFO, O_RDONLY), *wr = rd ? file_alloc(S_IFIFO, O_WRONLY) : 0;
    int fr = wr ? fd_alloc(rd) : -ENFILE, fw = fr >= 0 ? fd_alloc(wr) : fr;
    if (fw < 0) {                                      /* undo what was taken */
        if (fr >= 0) current->fd[fr] = 0;
        if (rd) rd->refs = 0;
        if (wr) wr->refs = 0;
        pipe_open(p, 0);
        pipe_close(p, 0);                              /* frees the pipe */
        return fw == -EMFILE ? -EMFILE : -ENFILE;
    }
    rd->pipe = wr->pipe = p;
    pipe_open(p, 0);
    pipe_open(p, 1);
    ((int *)out)[0] = fr;
    ((int *)out)[1] = fw;
    return 0;
}

/* The poll bits of f; ch[0], ch[1] get the channels that announce a change. */
static int file_ready(struct file *f, int *ch)
{
    ch[0] = ch[1] = CHAN_NONE;
    switch (f->type) {
    case S_IFSOCK: return sock_ready(f->sock, ch);
    case S_IFIFO: return pipe_ready(f->pipe, f->mode == O_WRONLY, ch);
    case S_IFCHR:
        ch[0] = CHAN_INPUT;
        input_poll();
        return (input_pending() ? POLLIN : 0) | POLLOUT;
    default: return POLLIN | POLLOUT;          /* files never block */
    }
}

/* poll(fds, n, timeout): timeout in ticks, 0 = just look, -1 = until one is ready. */
static int sys_poll(u32 ufds, u32 n, int timeout)
{
    if (n > NFD) return -EINVAL;
    if (n && !user_ok(current->pd, ufds, n * sizeof(struct pollfd))) return -EFAULT;
    struct pollfd *fds = (struct pollfd *)ufds;
    u32 until = ticks + (u32)timeout;
    for (;;) {
        int ready = 0;
        current->npoll = 0;
        for (u32 i = 0; i < n; i++) {
            struct file *f = fd_get((u32)fds[i].fd);
            int *ch = &current->pollch[current->npoll];
            int got = f ? file_ready(f, ch) & (fds[i].events | POLLHUP) : POLLNVAL;
            fds[i].revents = (short)got;
            ready += got != 0;
            if (f) current->npoll += 2;
        }
        if (ready || !timeout || (timeout > 0 && (int)(ticks - until) >= 0)) return ready;
        current->state = PROC_BLOCKED;
        current->chan = CHAN_POLL;
        current->wake_tick = timeout > 0 ? until | 1 : 0;    /* 0: no timeout (sched.c) */
        schedule();
    }
}

int file_syscall(struct regs *r)
{
    int ret;
    switch (r->eax) {
    case SYS_READ:    ret = sys_read(ARG1, ARG2, ARG3); break;
    case SYS_WRITE:   ret = sys_write(ARG1, ARG2, ARG3); break;
    case SYS_OPEN:    ret = sys_open(ARG1, ARG2); break;
    case SYS_CLOSE: {
        struct file *f = fd_get(ARG1);
        if (!f) { ret = -EBADF; break; }
        current->fd[ARG1] = 0;
        file_put(f);
        ret = 0;
        break;
    }
    case SYS_LSEEK:   ret = sys_lseek(ARG1, (int)ARG2, ARG3); break;
    case SYS_STAT:    ret = sys_stat(ARG1, ARG2); break;
    case SYS_READDIR: ret = sys_readdir(ARG1, ARG2); break;
    case SYS_MKDIR: case SYS_UNLINK: case SYS_RMDIR: case SYS_CHDIR:
        ret = path_call((int)r->eax, ARG1); break;
    case SYS_GETCWD:  ret = sys_getcwd(ARG1, ARG2); break;
    case SYS_DUP2:    ret = sys_dup2(ARG1, ARG2); break;
    case SYS_PIPE:    ret = sys_pipe(ARG1); break;
    case SYS_POLL:    ret = sys_poll(ARG1, ARG2, (int)ARG3); break;
    default: return 0;
    }
    r->eax = (u32)ret;
    return 1;
}
