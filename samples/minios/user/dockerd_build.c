/*
 * dockerd_build.c - `docker build` inside the daemon (included by dockerd.c
 * after dockerd_images.c): POST /build?t=NAME[:TAG]&remote=DIR, the Docker
 * Engine API's build endpoint with one departure: the build context is a
 * directory of minios's file system named by `remote` (Docker: a tar archive
 * of the context in the request body, or a URL in remote), so nothing is
 * uploaded. DIR/Dockerfile holds the tiny subset imgbuild.c reads on the host
 * (Dockerfile reference), one instruction a line, # comments:
 *   FROM scratch | NAME[:TAG]   a local image, pulled from registryd when missing
 *   COPY SRC... DST             files or directories of DIR, else of minios's root
 *                               (as imgbuild's ROOTDIR: COPY bin/hello /bin/). A layer.
 *   RUN PROG [ARGS]             runs /bin/PROG in a container, as `docker run` starts one
 *                               (isolate(): new PID, mount, UTS, IPC and network
 *                               namespaces): its root is the layers so far, flattened into
 *                               DSTORE/build, under a fresh writable layer /overlays/build.
 *                               What it wrote there (whiteouts too) becomes the layer. The
 *                               words are the program and its arguments (Docker's shell form
 *                               would add /bin/sh -c; write sh -c yourself). A layer.
 *   ENV KEY=VALUE, CMD ["PROG","ARG",...] or CMD PROG ARG   the config only
 * Layers are ustar archives written as imgbuild writes them (entries sorted by
 * name, times and owners 0, mode 0755 for directories and ELF files, 0644
 * otherwise, a whiteout as an empty ".wh.NAME" file), and the config and the
 * manifest have its format, so the same files give the same SHA-256 digests.
 * Each archive is generated twice: once to hash it, once into blobs/HEX24.
 * The answer is Docker's stream of JSON lines: {"stream":"Step 2/4 : ..."},
 * and on a failure {"error":"..."} (still a 200, as in Docker's stream).
 * While a build runs the daemon answers nobody else (RUN waits for its program).
 */
#include "ustar.h"                  /* the header block, shared with imgbuild */

#define BMAXL   8                           /* layers per image */
#define BUILDDIR DSTORE "/build"
#define UPPER   "/overlays/build"

static char bout[3072], bdf[1024], bcfg[2048], bman[2048];
static struct sbuf bo;
static struct {
    char layer[BMAXL][72], env[256], cmd[128], hist[1024];
    int size[BMAXL], n;
} bi;

/* One {"stream":TEXT} (or {"error":TEXT}) line of the answer, TEXT JSON-escaped. */
static void say_as(const char *key, const char *text)
{
    sfmt(&bo, "{\"%s\":\"", key);
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\') sbuf_put('\\', &bo);
        if (*p == '\n') sfmt(&bo, "\\n");
        else if ((unsigned char)*p >= ' ') sbuf_put(*p, &bo);
    }
    sfmt(&bo, "\"}\n");
}

static void say(const char *text) { say_as("stream", text); }

/* A message naming what failed (returned by a step; build() sends it as the error). */
static char emsg[192];
static const char *fail(const char *a, const char *b, const char *c, const char *d)
{
    struct sbuf m = { emsg, 0, sizeof(emsg), 0 };
    sfmt(&m, "%s%s%s%s", a, b, c, d);
    return emsg;
}

/* ---- layer archives (ustar), as imgbuild.c writes them -------------------- */
static struct { int fd, size, nseen; struct sha256 s; char seen[16][64]; } tw;

static int tw_put(const void *p, int n)
{
    sha256_update(&tw.s, p, (unsigned int)n);
    tw.size += n;
    return tw.fd < 0 || write(tw.fd, p, n) == n ? 0 : -ENOSPC;
}

/* One entry: a directory (src 0, dir 1) or the file src (len bytes) stored as name. */
static int tw_entry(const char *name, int dir, const char *src, int len)
{
    static char h[512];
    int nl = (int)strlen(name), fd = -1;
    if (nl > 99) return -ENAMETOOLONG;
    memset(h, 0, 512);
    if (src && (fd = open(src, O_RDONLY)) < 0) return fd;
    int exec = fd >= 0 && read(fd, h, 4) == 4 && !memcmp(h, "\177ELF", 4);
    if (fd >= 0) lseek(fd, 0, 0);
    ustar_header(h, name, dir, exec, dir ? 0 : (unsigned int)len);
    int r = tw_put(h, 512);
    for (int left = dir ? 0 : len; !r && left > 0; left -= 512) {
        memset(h, 0, 512);
        int k = read(fd, h, left < 512 ? left : 512);
        r = k <= 0 ? -EPIPE : tw_put(h, 512);
    }
    if (fd >= 0) close(fd);
    return r;
}

/* Entries for the directories above path ("a/b/c" -> "a/", "a/b/"), once per layer. */
static int tw_parents(const char *path)
{
    char d[64];
    for (const char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
        int n = (int)(p - path) + 1, k = 0;
        if (n >= (int)sizeof(d)) return -ENAMETOOLONG;
        memcpy(d, path, (unsigned int)n);
        d[n] = 0;
        while (k < tw.nseen && strcmp(tw.seen[k], d)) k++;
        if (k < tw.nseen) continue;
        if (tw.nseen < 16) memcpy(tw.seen[tw.nseen++], d, (unsigned int)n + 1);
        int r = tw_entry(d, 1, 0, 0);
        if (r) return r;
    }
    return 0;
}

/* The entries of directory dir sorted by name (at most 24). Their number. */
static int sorted(const char *dir, char names[][NAME_MAX + 1], int *types)
{
    struct dirent d;
    int n = 0, fd = open(dir, O_RDONLY);
    while (fd >= 0 && n < 24 && readdir(fd, &d) == 1) {
        int i = n++;
        for (; i > 0 && strcmp(names[i - 1], d.name) > 0; i--) {
            memcpy(names[i], names[i - 1], NAME_MAX + 1);
            types[i] = types[i - 1];
        }
        memcpy(names[i], d.name, NAME_MAX + 1);
        types[i] = (int)d.type;
    }
    if (fd >= 0) close(fd);
    return n;
}

/* COPY: the file or directory src as dst (no leading "/"), like imgbuild's tar_add. */
static int tw_copy(const char *src, const char *dst)
{
    struct stat st;
    int r = stat(src, &st);
    if (r < 0) return r;
    if (st.type != S_IFDIR) return (r = tw_parents(dst)) ? r : tw_entry(dst, 0, src, (int)st.size);
    char names[24][NAME_MAX + 1], s[PATH_MAX], t[PATH_MAX];
    int types[24], n = sorted(src, names, types);
    for (int i = 0; i < n && !r; i++) {
        struct sbuf sb = { s, 0, sizeof(s), 0 }, tb = { t, 0, sizeof(t), 0 };
        sfmt(&sb, "%s/%s", src, names[i]);
        sfmt(&tb, "%s%s%s", dst, *dst && dst[strlen(dst) - 1] != '/' ? "/" : "", names[i]);
        r = sb.full || tb.full ? -ENAMETOOLONG : tw_copy(s, t);
    }
    return r;
}

/* RUN: everything in the writable layer dir, as prefix (every directory as an
 * entry, so that an empty one the program made is kept; whiteouts as .wh.NAME). */
static int tw_upper(const char *dir, const char *prefix)
{
    char names[24][NAME_MAX + 1], s[PATH_MAX], t[PATH_MAX];
    int types[24], n = sorted(dir, names, types), r = 0;
    for (int i = 0; i < n && !r; i++) {
        struct sbuf sb = { s, 0, sizeof(s), 0 }, tb = { t, 0, sizeof(t), 0 };
        sfmt(&sb, "%s/%s", dir, names[i]);
        sfmt(&tb, "%s%s%s%s", prefix, types[i] == S_IFCHR ? ".wh." : "", names[i], types[i] == S_IFDIR ? "/" : "");
        struct stat st;
        if (sb.full || tb.full) r = -ENAMETOOLONG;
        else if (types[i] == S_IFDIR) r = (r = tw_entry(t, 1, 0, 0)) ? r : tw_upper(s, t);
        else if (types[i] == S_IFCHR) r = tw_entry(t, 0, 0, 0);
        else r = (r = stat(s, &st)) < 0 ? r : tw_entry(t, 0, s, (int)st.size);
    }
    return r;
}

static char csrc[8][PATH_MAX], cdst[8][PATH_MAX];
static int ncopy;

/* One pass over the layer's files (to fd, or only hashed when fd < 0). */
static int tw_pass(int fd, int run, char digest[72])
{
    memset(&tw, 0, sizeof(tw));
    tw.fd = fd;
    sha256_init(&tw.s);
    int r = 0;
    if (run) r = tw_upper(UPPER, "");
    for (int i = 0; !run && i < ncopy && !r; i++) r = tw_copy(csrc[i], cdst[i]);
    static char zero[512];
    for (int i = 0; i < 2 && !r; i++) r = tw_put(zero, 512);   /* the end: two zero blocks */
    sha256_final(&tw.s, digest);
    return r;
}

/* Writes the layer (COPY's sources, or RUN's writable layer) into the store and adds it. */
static const char *add_layer(int run)
{
    char path[PATH_MAX];
    if (bi.n == BMAXL) return "too many layers";
    char *d = bi.layer[bi.n];
    if (tw_pass(-1, run, d) < 0) return "cannot read the layer's files";
    oci_blob_path(DSTORE "/blobs", d, path);
    int size = tw.size;
    if (oci_file_size(path) != size) {
        char again[72];
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC);
        int r = fd < 0 ? fd : tw_pass(fd, run, again);
        if (fd >= 0) close(fd);
        if (r < 0 || strcmp(again, d)) { unlink(path); return "cannot write the layer"; }
    }
    bi.size[bi.n++] = size;
    sfmt(&bo, "{\"stream\":\" ---> %s\\n\"}\n", d);
    return 0;
}

/* ---- the steps ------------------------------------------------------------ */

/* Removes a directory tree (from the daemon's root: no overlay merging). 0 or -errno. */
static int rm_tree(const char *path)
{
    struct dirent d;
    char sub[PATH_MAX];
    for (;;) {
        int fd = open(path, O_RDONLY), more = fd >= 0 && readdir(fd, &d) == 1, r;
        if (fd >= 0) close(fd);
        if (!more) break;
        struct sbuf b = { sub, 0, sizeof(sub), 0 };
        sfmt(&b, "%s/%s", path, d.name);
        if ((r = d.type == S_IFDIR ? rm_tree(sub) : unlink(sub)) < 0) return r;
    }
    struct stat st;
    return stat(path, &st) < 0 ? 0 : rmdir(path);
}

/* Unpacks the layers so far, in order, into root (a new directory). */
static int flatten(const char *root)
{
    char path[PATH_MAX];
    if (mkdir(root) < 0) return -1;
    for (int i = 0; i < bi.n; i++) {
        oci_blob_path(DSTORE "/blobs", bi.layer[i], path);
        if (unpack(path, root)) return -1;
    }
    return 0;
}

/* The JSON array after "key":[ in json (without its brackets) into out. 0 or -1. */
static int frag(const char *json, const char *key, char *out, int cap)
{
    char k[24];
    struct sbuf kb = { k, 0, sizeof(k), 0 };
    sfmt(&kb, "\"%s\":[", key);
    const char *p = strstr(json, k);
    if (!p) return -1;
    int depth = 0, str = 0, n = 0;
    for (p += kb.n; *p && n < cap - 2; p++) {
        if (str && *p == '\\' && p[1]) out[n++] = *p++;
        else if (str && *p == '"') str = 0;
        else if (!str && *p == '"') str = 1;
        else if (!str && (*p == '[' || *p == '{')) depth++;
        else if (!str && (*p == ']' || *p == '}') && !depth--) break;
        out[n++] = *p;
    }
    out[n] = 0;
    return *p == ']' ? 0 : -1;
}

/* FROM NAME[:TAG]: its layers and config (pulled first if it is not here). */
static const char *from_image(const char *ref)
{
    char name[NAME_MAX + 1], full[NAME_MAX + 1], digest[80], d[72], path[PATH_MAX];
    if (!strcmp(ref, "scratch")) {
        sfmt(&bo, "{\"stream\":\" ---> scratch: no layers\\n\"}\n");
        return 0;
    }
    if (split_ref(ref, 0, name, full)) return "FROM: invalid reference format";
    if (local_manifest(full, digest)) {
        struct sbuf pb = { progress, 0, sizeof(progress), 0 };
        sfmt(&bo, "{\"stream\":\"Pulling %s from the registry (10.99.0.2:5000)\\n\"}\n", full);
        if (pull_image(name, full, &pb)) return perr;
        if (local_manifest(full, digest)) return "FROM: the pulled image is not in the store";
    }
    for (int i = 1; !oci_nth_digest(mbuf, i, d); i++) {
        if (bi.n == BMAXL) return "too many layers";
        memcpy(bi.layer[bi.n], d, 72);
        oci_blob_path(DSTORE "/blobs", d, path);
        bi.size[bi.n++] = oci_file_size(path);
    }
    if (oci_nth_digest(mbuf, 0, d)) return "FROM: the image has no config";
    oci_blob_path(DSTORE "/blobs", d, path);
    if (oci_read_file(path, bcfg, sizeof(bcfg)) <= 0 || frag(bcfg, "Env", bi.env, sizeof(bi.env))
        || frag(bcfg, "Cmd", bi.cmd, sizeof(bi.cmd)) || frag(bcfg, "history", bi.hist, sizeof(bi.hist)))
        return "FROM: cannot read the image's config";
    char id[13];
    sfmt(&bo, "{\"stream\":\" ---> %s\\n\"}\n", oci_short(d, id));
    return 0;
}

/* COPY SRC... DST: the sources resolved (the context, then minios's root), then a layer. */
static const char *copy_step(char *arg, const char *ctx)
{
    char *w[9];
    int n = 0;
    for (char *p = arg; *p && n < 9;) {
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        while (*p == ' ' || *p == '\t') *p++ = 0;
    }
    if (n < 2) return "COPY needs a source and a destination";
    const char *dst = w[n - 1];
    int slash = dst[strlen(dst) - 1] == '/';
    if (dst[0] != '/') return "COPY: the destination must be an absolute path";
    if (n > 2 && !slash) return "COPY: several sources need a DST/";
    ncopy = n - 1;
    for (int i = 0; i < ncopy; i++) {
        struct sbuf s = { csrc[i], 0, PATH_MAX, 0 }, t = { cdst[i], 0, PATH_MAX, 0 };
        struct stat st;
        sfmt(&s, "%s/%s", ctx, w[i]);
        if (stat(csrc[i], &st) < 0) { s.n = 0; sfmt(&s, "/%s", w[i]); }
        if (s.full || strstr(w[i], "..") || stat(csrc[i], &st) < 0)
            return fail("COPY failed: file not found in build context: ", w[i], "", "");
        const char *leaf = w[i];
        for (const char *p = w[i]; *p; p++) if (*p == '/' && p[1]) leaf = p + 1;
        if (slash) sfmt(&t, "%s%s", dst + 1, leaf);
        else sfmt(&t, "%s", dst + 1);
        if (t.full) return "COPY: a destination is too long";
    }
    return add_layer(0);
}

/* RUN PROG ARGS: a container over the layers so far; its writable layer becomes one more. */
static const char *run_step(const char *arg)
{
    char args[ARGS_MAX], path[PATH_MAX], env[ENV_MAX], out[512];
    struct sbuf a = { args, 0, sizeof(args), 0 }, p = { path, 0, sizeof(path), 0 }, e = { env, 0, sizeof(env), 0 };
    if (*arg == '[') {                               /* exec form ["sh","-c","..."]: the words */
        for (const char *q = arg; *q; q++)
            if (*q == '"') {
                if (a.n) sbuf_put(' ', &a);
                for (q++; *q && *q != '"'; q++) sbuf_put(*q, &a);
                if (!*q) break;
            }
    } else sfmt(&a, "%s", arg);
    int w = 0;
    while (args[w] && args[w] != ' ') w++;
    if (!a.n || a.full) return "RUN needs a program (and its arguments, up to 127 characters)";
    int abs = 0;
    for (int i = 0; i < w; i++) abs |= args[i] == '/';
    sfmt(&p, "%s", abs ? "" : "/bin/");
    for (int i = 0; i < w; i++) sbuf_put(args[i], &p);
    for (const char *q = bi.env; *q; q++)            /* "A=1","B=2" -> A=1\nB=2 */
        if (*q != '"') sbuf_put(*q == ',' && q[-1] == '"' && q[1] == '"' ? '\n' : *q, &e);
    if (e.full) return "RUN: the image's environment is too long";
    rm_tree(UPPER);                                  /* left by a build that failed */
    rm_tree(BUILDDIR);
    if (flatten(BUILDDIR)) return "RUN: cannot unpack the layers so far";
    sfmt(&bo, "{\"stream\":\" ---> Running in build (root: " UPPER " over " BUILDDIR ")\\n\"}\n");
    struct isolate_args ia;
    memset(&ia, 0, sizeof(ia));
    ia.path = path;
    ia.args = args;
    ia.ns = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;
    ia.lower = BUILDDIR;
    ia.layer = ia.hostname = "build";
    ia.env = env;
    int fds[2], r = pipe(fds), status = 0, n = 0, k;
    if (r < 0) return "RUN: no pipe";
    dup2(fds[1], 1);                                 /* its 1 and 2: the pipe, as in start() */
    dup2(fds[1], 2);
    close(fds[1]);
    int pid = isolate(&ia);
    dup2(0, 1);
    dup2(0, 2);
    while (pid >= 0 && (k = read(fds[0], out + n, (int)sizeof(out) - 1 - n)) > 0)
        if ((n += k) == (int)sizeof(out) - 1) {      /* its output, as stream lines */
            out[n] = 0;
            say(out);
            n = 0;
        }
    close(fds[0]);
    out[n] = 0;
    if (n) say(out);
    const char *bad = 0;
    char code[12];
    struct sbuf cb = { code, 0, sizeof(code), 0 };
    if (pid < 0) {
        bad = fail("The command '", args, "' could not start: ", path);
        struct sbuf m = { emsg, (int)strlen(emsg), sizeof(emsg), 0 };
        sfmt(&m, ": %s", strerror(pid));
    } else if (wait(pid, &status) < 0 || status) {
        sfmt(&cb, "%d", status);
        bad = fail("The command '", args, "' returned a non-zero code: ", code);
    }
    if (!bad) bad = add_layer(1);
    rm_tree(UPPER);
    rm_tree(BUILDDIR);
    return bad;
}

static void add_history(const char *line, int empty)
{
    struct sbuf h = { bi.hist, (int)strlen(bi.hist), sizeof(bi.hist), 0 };
    sfmt(&h, "%s{\"created_by\":\"", h.n ? "," : "");
    for (const char *p = line; *p; p++) {
        if (*p == '"' || *p == '\\') sbuf_put('\\', &h);
        sbuf_put(*p, &h);
    }
    sfmt(&h, "\"%s}", empty ? ",\"empty_layer\":true" : "");
}

/* One instruction (p: its keyword, arg: the rest). 0, or why the build stops. */
static const char *step(char *p, char *arg, const char *ctx, int first)
{
    char hist[160];
    struct sbuf hb = { hist, 0, sizeof(hist), 0 };
    sfmt(&hb, "%s %s", p, arg);
    if (first != !strcmp(p, "FROM")) return first ? "the first instruction must be FROM" : "one FROM per Dockerfile";
    const char *bad = 0;
    int layer = !strcmp(p, "COPY") || !strcmp(p, "RUN");
    if (!strcmp(p, "FROM")) {                       /* in the history too, as imgbuild does */
        if ((bad = from_image(arg))) return bad;
        add_history(hist, 1);
        return 0;
    } else if (!strcmp(p, "COPY")) bad = copy_step(arg, ctx);
    else if (!strcmp(p, "RUN")) bad = run_step(arg);
    else if (!strcmp(p, "ENV")) {
        char *eq = strchr(arg, '='), *sp = arg;
        while (*sp && *sp != ' ' && *sp != '\t') sp++;
        if (!eq && *sp) { *sp = '='; eq = sp; }      /* ENV KEY VALUE */
        if (!eq || eq == arg || strchr(arg, '"') || strchr(arg, '\\')) return "ENV KEY=VALUE";
        struct sbuf e = { bi.env, (int)strlen(bi.env), sizeof(bi.env), 0 };
        sfmt(&e, "%s\"%s\"", e.n ? "," : "", arg);
        if (e.full) return "ENV: too many variables";
    } else if (!strcmp(p, "CMD")) {
        struct sbuf c = { bi.cmd, 0, sizeof(bi.cmd), 0 };
        bi.cmd[0] = 0;
        if (*arg == '[') {                           /* ["a","b"]: copied as it is */
            char *end = arg + strlen(arg) - 1;
            if (*end != ']') return "CMD [\"PROG\",\"ARG\",...]";
            *end = 0;
            sfmt(&c, "%s", arg + 1);
        } else
            for (char *w = arg; *w;) {
                char *e = w;
                while (*e && *e != ' ' && *e != '\t') e++;
                int more = *e != 0;
                *e = 0;
                sfmt(&c, "%s\"%s\"", c.n ? "," : "", w);
                for (w = e + more; *w == ' ' || *w == '\t'; w++) {}
            }
        if (c.full) return "CMD: too long";
    } else return fail("unknown instruction: ", p, " (FROM, COPY, RUN, ENV, CMD)", "");
    if (bad) return bad;
    if (!layer) sfmt(&bo, "{\"stream\":\" ---> no layer (config only)\\n\"}\n");
    add_history(hist, !layer);
    return 0;
}

/* The config and the manifest (imgbuild's format), the tag, and the image's flattened root. */
static const char *commit_image(const char *full, char config[72])
{
    struct sbuf c = { bcfg, 0, sizeof(bcfg), 0 }, m = { bman, 0, sizeof(bman), 0 };
    char digest[72], path[PATH_MAX], root[PATH_MAX], line[80];
    sfmt(&c, "{\"architecture\":\"386\",\"os\":\"minios\",\"config\":{\"Env\":[%s],\"Cmd\":[%s]},"
         "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[", bi.env, bi.cmd);
    for (int i = 0; i < bi.n; i++) sfmt(&c, "%s\"%s\"", i ? "," : "", bi.layer[i]);
    sfmt(&c, "]},\"history\":[%s]}\n", bi.hist);
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, bcfg, (unsigned int)c.n);
    sha256_final(&s, config);
    sfmt(&m, "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
         "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":%d,"
         "\"digest\":\"%s\"},\"layers\":[", c.n, config);
    for (int i = 0; i < bi.n; i++)
        sfmt(&m, "%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"size\":%d,\"digest\":\"%s\"}",
             i ? "," : "", bi.size[i], bi.layer[i]);
    sfmt(&m, "]}\n");
    if (c.full || m.full) return "the image's config is too big";
    sha256_init(&s);
    sha256_update(&s, bman, (unsigned int)m.n);
    sha256_final(&s, digest);
    oci_blob_path(DSTORE "/blobs", config, path);
    if (oci_write_file(path, bcfg, c.n)) return "cannot write the config";
    oci_blob_path(DSTORE "/blobs", digest, path);
    if (oci_write_file(path, bman, m.n)) return "cannot write the manifest";
    oci_blob_path(DSTORE "/rootfs", config, root);
    struct stat st;
    if (stat(root, &st) < 0 && flatten(root)) { rm_tree(root); return "cannot unpack the image"; }
    struct sbuf tp = { path, 0, sizeof(path), 0 }, l = { line, 0, sizeof(line), 0 };
    sfmt(&tp, DSTORE "/tags/%s", full);
    sfmt(&l, "%s\n", digest);
    return oci_write_file(path, line, l.n) ? "cannot write the tag" : 0;
}

static void build(struct conn *c, const char *query)
{
    char ref[64], ctx[PATH_MAX], name[NAME_MAX + 1], full[NAME_MAX + 1], path[PATH_MAX];
    query_arg(query, "t", ref, sizeof(ref));
    query_arg(query, "remote", ctx, sizeof(ctx));
    if (split_ref(ref, 0, name, full)) { error(c, 400, "invalid reference format (t=NAME[:TAG])"); return; }
    struct sbuf pb = { path, 0, sizeof(path), 0 };
    sfmt(&pb, "%s/Dockerfile", ctx);
    if (ctx[0] != '/' || pb.full || oci_read_file(path, bdf, sizeof(bdf)) < 0) {
        error(c, 400, "Cannot locate specified Dockerfile (remote=DIR: a directory of minios holding a Dockerfile)");
        return;
    }
    store_dirs();
    memset(&bi, 0, sizeof(bi));
    bo = (struct sbuf){ bout, 0, sizeof(bout), 0 };
    int total = 0, no = 0;
    for (char *p = bdf; *p; p++) {                   /* count the instructions: Step N/total */
        while (*p == ' ' || *p == '\t') p++;
        if (*p && *p != '#' && *p != '\n') total++;
        while (*p && *p != '\n') p++;
        if (!*p) break;
    }
    const char *bad = 0;
    for (char *line = bdf, *next; line && !bad; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        char *p = line, *arg;
        while (*p == ' ' || *p == '\t') p++;
        for (char *e = p + strlen(p); e > p && (e[-1] == ' ' || e[-1] == '\r'); ) *--e = 0;
        if (!*p || *p == '#') continue;
        for (arg = p; *arg && *arg != ' ' && *arg != '\t'; arg++) {}
        if (*arg) *arg++ = 0;
        while (*arg == ' ' || *arg == '\t') arg++;
        char head[96];
        struct sbuf h = { head, 0, sizeof(head), 0 };
        sfmt(&h, "Step %d/%d : %s %s\n", ++no, total, p, arg);
        say(head);
        bad = step(p, arg, ctx, no == 1);
    }
    char config[72], id[13];
    if (!bad && !total) bad = "the Dockerfile has no instructions";
    if (!bad) bad = commit_image(full, config);
    if (!bad) {
        sfmt(&bo, "{\"stream\":\"Successfully built %s\\n\"}\n", oci_short(config, id));
        sfmt(&bo, "{\"stream\":\"Successfully tagged %s\\n\"}\n", full);
    } else say_as("error", bad);
    if (bo.full) { error(c, 500, "the build's output is too long"); return; }
    reply(c, 200, "application/json", bout);
}
