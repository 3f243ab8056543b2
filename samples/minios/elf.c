/*
 * elf.c - loads a user program from an ELF32 executable file, like Linux's
 * binfmt_elf (fs/binfmt_elf.c), and lays out its arguments on the new stack
 * the way the System V i386 ABI starts a process (argc, then argv).
 *
 * Owns: checking the file's ELF header and program headers (a file from the
 * archive or written by a user may be anything: every field is checked
 * against the file size and the user address space) and copying each
 * PT_LOAD segment into fresh frames of the new page directory (the rest of
 * the segment, its bss, stays zero). It does not create the process
 * (sched.c does) and reads the file only through fs.c.
 */
#include "kernel.h"

struct elf_header {
    u8  ident[16];                     /* 0x7F 'E' 'L' 'F', class, data, version */
    u16 type, machine;
    u32 version, entry, phoff, shoff, flags;
    u16 ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf_phdr {
    u32 type, offset, vaddr, paddr, filesz, memsz, flags, align;
};

#define ET_EXEC  2
#define EM_386   3
#define PT_LOAD  1
#define MAX_PHDR 16

/* Copies len bytes of the file at `off` to user address va of directory pd. */
static int copy_in(int ino, u32 off, u32 pd, u32 va, u32 len)
{
    while (len) {
        u32 in = va & (PAGE_SIZE - 1), k = PAGE_SIZE - in;
        if (k > len) k = len;
        u32 pa = map_user_page(pd, va & ~(PAGE_SIZE - 1));
        if (!pa) return -ENOMEM;
        if (fs_read(ino, off, (u8 *)pa + in, k) != (int)k) return -ENOEXEC;
        va += k; off += k; len -= k;
    }
    return 0;
}

int elf_load(int ino, u32 pd, u32 *entry, u32 *brk)
{
    struct elf_header h;
    u32 size = fs_size(ino);
    if (fs_read(ino, 0, &h, sizeof(h)) != (int)sizeof(h)) return -ENOEXEC;
    if (memcmp(h.ident, "\177ELF\1\1\1", 7) || h.type != ET_EXEC || h.machine != EM_386
        || h.phentsize != sizeof(struct elf_phdr) || !h.phnum || h.phnum > MAX_PHDR
        || h.phoff > size || h.phnum * sizeof(struct elf_phdr) > size - h.phoff
        || h.entry < USER_BASE || h.entry >= USER_HEAP_LIMIT)
        return -ENOEXEC;
    u32 end = 0;
    for (u32 i = 0; i < h.phnum; i++) {
        struct elf_phdr ph;
        fs_read(ino, h.phoff + i * sizeof(ph), &ph, sizeof(ph));
        if (ph.type != PT_LOAD) continue;
        if (ph.filesz > ph.memsz || ph.offset > size || ph.filesz > size - ph.offset
            || ph.vaddr < USER_BASE || ph.vaddr >= USER_HEAP_LIMIT
            || ph.memsz > USER_HEAP_LIMIT - ph.vaddr)
            return -ENOEXEC;
        for (u32 va = ph.vaddr & ~(PAGE_SIZE - 1); va < ph.vaddr + ph.memsz; va += PAGE_SIZE)
            if (!map_user_page(pd, va)) return -ENOMEM;   /* zeroed: the bss */
        int e = copy_in(ino, ph.offset, pd, ph.vaddr, ph.filesz);
        if (e) return e;
        if (ph.vaddr + ph.memsz > end) end = ph.vaddr + ph.memsz;
    }
    if (!end) return -ENOEXEC;
    *entry = h.entry;
    *brk = (end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    return 0;
}

/* Writes the environment and the argument words to the top of the (mapped)
 * stack: the strings, the envp and argv arrays (each ends with a NULL), then
 * envp, argv and argc (the first three words _start finds, crt0.S); returns
 * the user ESP. `args` is split at spaces, `env` ("K=V" entries) at newlines. */
u32 user_args(u32 pd, const char *args, const char *env)
{
    u32 top_page = USER_STACK_TOP - PAGE_SIZE;
    u8 *page = (u8 *)map_user_page(pd, top_page);
    u32 len = strlen(args) + 1, elen = strlen(env) + 1;
    if (!page || len > ARGS_MAX || elen > ENV_MAX) return 0;
    u32 estr = USER_STACK_TOP - ((elen + 3) & ~3u), str = estr - ((len + 3) & ~3u);
    char *e = (char *)(page + (estr - top_page)), *s = (char *)(page + (str - top_page));
    memcpy(e, env, elen);
    memcpy(s, args, len);
    u32 words[ARGS_MAX / 2 + ENV_MAX / 2 + 2];
    int argc = 0, n = 0;
    for (u32 i = 0; i < len; i++) {
        if (s[i] == ' ') { s[i] = 0; continue; }
        if (s[i] && (i == 0 || !s[i - 1])) words[n++] = str + i;
    }
    argc = n;
    words[n++] = 0;
    for (u32 i = 0; i < elen; i++) {
        if (e[i] == '\n') { e[i] = 0; continue; }
        if (e[i] && (i == 0 || !e[i - 1])) words[n++] = estr + i;
    }
    words[n++] = 0;
    u32 av = str - 4 * (u32)n;
    memcpy(page + (av - top_page), words, 4 * (u32)n);
    u32 sp = av - 12;
    ((u32 *)(page + (sp - top_page)))[0] = (u32)argc;
    ((u32 *)(page + (sp - top_page)))[1] = av;
    ((u32 *)(page + (sp - top_page)))[2] = av + 4 * (u32)(argc + 1);
    return sp;
}
