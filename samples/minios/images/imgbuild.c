/*
 * imgbuild.c - the engine's image builder, a host tool `make -C samples`
 * compiles and runs (like `docker build` followed by `docker push`): it reads
 * recipe files in a tiny Dockerfile subset and writes the images into a
 * directory laid out as registryd's store (samples/minios/registry, committed,
 * copied into minios's root as /var/lib/registry).
 *
 *   imgbuild OUTDIR ROOTDIR RECIPE...     (each RECIPE is images/NAME/Recipe; tag "latest")
 *
 * Recipe instructions (Dockerfile reference, one per line, # comments):
 *   FROM scratch | FROM NAME     start empty, or from an image built earlier in this run
 *   COPY SRC... DST              files or directories from the recipe's directory, else from
 *                                ROOTDIR (minios's root as built: bin/hello ...); several
 *                                SRCs need a DST ending in "/". Adds one layer.
 *   ENV KEY=VALUE                recorded in the config's Env (no layer)
 *   CMD ["PROG","ARG",...]       the default command (exec form; a plain "PROG ARG" is split
 *                                at spaces: minios has no sh -c). No layer.
 *   RUN ...                      refused: see below (`docker build` in minios runs it).
 * Each layer is an uncompressed ustar archive (OCI media type
 * application/vnd.oci.image.layer.v1.tar); each image has a config (Env, Cmd,
 * the layers' diff_ids and a history line per instruction) and a manifest
 * naming the config and the layers by size and digest. Digests are SHA-256
 * (../user/sha256.c, the same code dockerd uses to verify a pull).
 *
 * Why on the host: the images are committed files that .ci/run rebuilds with
 * `make -B -C samples` and compares byte for byte, so the build must be
 * deterministic and must not need the emulator (which is built after the
 * samples). The archives have fixed times (0), owners (0) and modes (0755
 * for directories and executables, 0644 otherwise) and sorted entries.
 * RUN needs minios itself to run the program (inside a container whose
 * overlay upper directory becomes the layer); the host builder cannot do
 * that, so it stops with a clear error pointing at `docker build`, which
 * dockerd runs inside minios (../user/dockerd_build.c) with the same layer
 * format, config and manifest, so the same files give the same digests.
 *
 * Store layout (NAME_MAX in minios is 27, so a blob file is named by the
 * first 24 hex digits of its digest; whoever reads it checks the whole digest):
 *   OUTDIR/blobs/HEX24               layers, configs and manifests
 *   OUTDIR/repositories/NAME/TAG     "sha256:...\n": the digest of the tag's manifest
 *   OUTDIR/repositories/NAME/_blobs/HEX24   (empty) the blobs this repository may serve,
 *                                    as the Docker registry links blobs to repositories
 *   OUTDIR/catalog                   (written by the Makefile) NAME:TAG DIGEST, one a line
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "../user/sha256.h"
#include "../user/ustar.h"

#define MAXIMG   8
#define MAXLAYER 8
#define MAXLINE  512
#define BIG      (1 << 20)

struct blob { char digest[72]; long size; };
struct image {
    char name[32];
    struct blob layers[MAXLAYER];
    int nlayers;
    char env[512], cmd[256], history[2048];   /* JSON fragments: "a","b" / {...},{...} */
};
static struct image images[MAXIMG];
static int nimages;
static const char *outdir, *rootdir;

static void die(const char *file, int line, const char *msg)
{
    fprintf(stderr, "imgbuild: %s:%d: %s\n", file, line, msg);
    exit(1);
}

/* Writes data into OUTDIR/blobs under its digest; fills b. */
static void put_blob(const void *data, long len, struct blob *b)
{
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, data, (unsigned int)len);
    sha256_final(&s, b->digest);
    b->size = len;
    char path[4096];
    snprintf(path, sizeof(path), "%s/blobs/%.24s", outdir, b->digest + 7);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, (size_t)len, f) != (size_t)len || fclose(f)) {
        fprintf(stderr, "imgbuild: cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* ---- ustar archives ----------------------------------------------------- */
static unsigned char *tar;
static long ntar;

static void tar_entry(const char *name, int dir, const unsigned char *data, long len, int exec)
{
    if (strlen(name) > 99) { fprintf(stderr, "imgbuild: name too long: %s\n", name); exit(1); }
    if (ntar + 512 + len + 1024 > BIG) { fprintf(stderr, "imgbuild: layer too big\n"); exit(1); }
    ustar_header((char *)tar + ntar, name, dir, exec, (unsigned int)len);
    ntar += 512;
    if (!dir) {
        long padded = (len + 511) / 512 * 512;
        memset(tar + ntar, 0, (size_t)padded);
        memcpy(tar + ntar, data, (size_t)len);
        ntar += padded;
    }
}

/* Entries for the directories above path ("a/b/c" -> "a/", "a/b/"), once per layer. */
static char seen[64][128];
static int nseen;
static void tar_parents(const char *path)
{
    char d[128];
    for (const char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
        snprintf(d, sizeof(d), "%.*s/", (int)(p - path), path);
        int k = 0;
        while (k < nseen && strcmp(seen[k], d)) k++;
        if (k < nseen) continue;
        if (nseen < 64) strcpy(seen[nseen++], d);
        tar_entry(d, 1, 0, 0, 0);
    }
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Adds the file or directory at src as dst (no leading "/"). */
static void tar_add(const char *src, const char *dst, const char *rf, int line)
{
    struct stat st;
    if (stat(src, &st)) die(rf, line, "COPY: a source does not exist");
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(src);
        char *names[256];
        int n = 0;
        struct dirent *e;
        while (d && (e = readdir(d)))
            if (e->d_name[0] != '.' && n < 256) names[n++] = strdup(e->d_name);
        if (d) closedir(d);
        qsort(names, (size_t)n, sizeof(names[0]), cmp);
        for (int i = 0; i < n; i++) {
            char s[4096], t[256];
            snprintf(s, sizeof(s), "%s/%s", src, names[i]);
            snprintf(t, sizeof(t), "%s%s%s", dst, *dst && dst[strlen(dst) - 1] != '/' ? "/" : "", names[i]);
            tar_add(s, t, rf, line);
            free(names[i]);
        }
        return;
    }
    static unsigned char data[BIG];
    FILE *f = fopen(src, "rb");
    long len = f ? (long)fread(data, 1, sizeof(data), f) : -1;
    if (f) fclose(f);
    if (len < 0 || len == (long)sizeof(data)) die(rf, line, "COPY: cannot read a source (or it is over 1 MiB)");
    tar_parents(dst);
    tar_entry(dst, 0, data, len, (st.st_mode & 0111) != 0);
}

/* ---- recipes ------------------------------------------------------------ */
static void add_history(struct image *im, const char *line, int empty)
{
    size_t n = strlen(im->history);
    char esc[MAXLINE * 2];
    int k = 0;
    for (const char *p = line; *p; p++) {
        if (*p == '"' || *p == '\\') esc[k++] = '\\';
        esc[k++] = *p;
    }
    esc[k] = 0;
    snprintf(im->history + n, sizeof(im->history) - n, "%s{\"created_by\":\"%s\"%s}",
             n ? "," : "", esc, empty ? ",\"empty_layer\":true" : "");
}

static void build(const char *recipe)
{
    if (nimages == MAXIMG) { fprintf(stderr, "imgbuild: too many images\n"); exit(1); }
    struct image *im = &images[nimages];
    char ctx[4096];
    snprintf(ctx, sizeof(ctx), "%s", recipe);
    char *slash = strrchr(ctx, '/');
    if (!slash) { fprintf(stderr, "imgbuild: %s: expected DIR/NAME/Recipe\n", recipe); exit(1); }
    *slash = 0;
    const char *base = strrchr(ctx, '/') ? strrchr(ctx, '/') + 1 : ctx;
    snprintf(im->name, sizeof(im->name), "%.31s", base);
    FILE *f = fopen(recipe, "r");
    if (!f) { fprintf(stderr, "imgbuild: cannot open %s: %s\n", recipe, strerror(errno)); exit(1); }
    char line[MAXLINE];
    int ln = 0, from = 0;
    while (fgets(line, sizeof(line), f)) {
        ln++;
        line[strcspn(line, "\r\n")] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p || *p == '#') continue;
        char *arg = p + strcspn(p, " \t");
        if (*arg) *arg++ = 0;
        while (*arg == ' ' || *arg == '\t') arg++;
        char hist[MAXLINE + 8];
        snprintf(hist, sizeof(hist), "%s %s", p, arg);
        if (!from && strcmp(p, "FROM")) die(recipe, ln, "the first instruction must be FROM");
        if (!strcmp(p, "FROM")) {
            if (from) die(recipe, ln, "one FROM per recipe");
            from = 1;
            if (strcmp(arg, "scratch")) {
                int i = 0;
                while (i < nimages && strcmp(images[i].name, arg)) i++;
                if (i == nimages) die(recipe, ln, "FROM: no such image built before this one");
                char name[32];
                memcpy(name, im->name, sizeof(name));
                *im = images[i];
                memcpy(im->name, name, sizeof(name));
            }
        } else if (!strcmp(p, "COPY")) {
            char *words[16];
            int n = 0;
            for (char *w = strtok(arg, " \t"); w && n < 16; w = strtok(0, " \t")) words[n++] = w;
            if (n < 2) die(recipe, ln, "COPY needs a source and a destination");
            const char *dst = words[n - 1];
            if (dst[0] != '/') die(recipe, ln, "COPY: the destination must be an absolute path");
            if (n > 2 && dst[strlen(dst) - 1] != '/') die(recipe, ln, "COPY: several sources need a DST/");
            if (im->nlayers == MAXLAYER) die(recipe, ln, "too many layers");
            ntar = nseen = 0;
            for (int i = 0; i < n - 1; i++) {
                char src[8300], t[256];
                struct stat st;
                snprintf(src, sizeof(src), "%s/%s", ctx, words[i]);
                if (stat(src, &st)) snprintf(src, sizeof(src), "%s/%s", rootdir, words[i]);
                const char *leaf = strrchr(words[i], '/') ? strrchr(words[i], '/') + 1 : words[i];
                if (dst[strlen(dst) - 1] == '/' && *leaf) snprintf(t, sizeof(t), "%s%s", dst + 1, leaf);
                else snprintf(t, sizeof(t), "%s", dst + 1);
                tar_add(src, t, recipe, ln);
            }
            memset(tar + ntar, 0, 1024);            /* the end: two zero blocks */
            ntar += 1024;
            put_blob(tar, ntar, &im->layers[im->nlayers++]);
            add_history(im, hist, 0);
            continue;
        } else if (!strcmp(p, "ENV")) {
            char *eq = strchr(arg, '='), *sp = arg + strcspn(arg, " \t");
            if (!eq && *sp) { *sp = '='; eq = sp; }       /* ENV KEY VALUE */
            if (!eq || eq == arg || strchr(arg, '"') || strchr(arg, '\\')) die(recipe, ln, "ENV KEY=VALUE");
            size_t n = strlen(im->env);
            snprintf(im->env + n, sizeof(im->env) - n, "%s\"%s\"", n ? "," : "", arg);
        } else if (!strcmp(p, "CMD")) {
            im->cmd[0] = 0;
            size_t n = 0;
            if (*arg == '[') {                               /* ["a","b"]: copied as it is */
                char *end = strrchr(arg, ']');
                if (!end || end[1]) die(recipe, ln, "CMD [\"PROG\",\"ARG\",...]");
                *end = 0;
                snprintf(im->cmd, sizeof(im->cmd), "%s", arg + 1);
            } else
                for (char *w = strtok(arg, " \t"); w; w = strtok(0, " \t")) {
                    snprintf(im->cmd + n, sizeof(im->cmd) - n, "%s\"%s\"", n ? "," : "", w);
                    n = strlen(im->cmd);
                }
        } else if (!strcmp(p, "RUN"))
            die(recipe, ln, "RUN needs minios to run the program: put the recipe in minios's file system "
                "as DIR/Dockerfile and run `docker build -t NAME DIR` there (dockerd_build.c)");
        else die(recipe, ln, "unknown instruction (FROM, COPY, ENV, CMD)");
        add_history(im, hist, 1);
    }
    fclose(f);
    if (!from) die(recipe, ln, "no FROM");
    nimages++;

    static char config[8192], manifest[4096];
    int n = snprintf(config, sizeof(config), "{\"architecture\":\"386\",\"os\":\"minios\",\"config\":"
                     "{\"Env\":[%s],\"Cmd\":[%s]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[",
                     im->env, im->cmd);
    for (int i = 0; i < im->nlayers; i++)
        n += snprintf(config + n, sizeof(config) - (size_t)n, "%s\"%s\"", i ? "," : "", im->layers[i].digest);
    n += snprintf(config + n, sizeof(config) - (size_t)n, "]},\"history\":[%s]}\n", im->history);
    struct blob cb, mb;
    put_blob(config, n, &cb);
    n = snprintf(manifest, sizeof(manifest), "{\"schemaVersion\":2,\"mediaType\":"
                 "\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
                 "\"application/vnd.oci.image.config.v1+json\",\"size\":%ld,\"digest\":\"%s\"},"
                 "\"layers\":[", cb.size, cb.digest);
    for (int i = 0; i < im->nlayers; i++)
        n += snprintf(manifest + n, sizeof(manifest) - (size_t)n, "%s{\"mediaType\":"
                      "\"application/vnd.oci.image.layer.v1.tar\",\"size\":%ld,\"digest\":\"%s\"}",
                      i ? "," : "", im->layers[i].size, im->layers[i].digest);
    n += snprintf(manifest + n, sizeof(manifest) - (size_t)n, "]}\n");
    put_blob(manifest, n, &mb);
    char path[4096];
    snprintf(path, sizeof(path), "%s/repositories/%s", outdir, im->name);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/repositories/%s/_blobs", outdir, im->name);
    mkdir(path, 0755);
    for (int i = -2; i < im->nlayers; i++) {        /* the repository's links: manifest, config, layers */
        const char *d = i == -2 ? mb.digest : i == -1 ? cb.digest : im->layers[i].digest;
        snprintf(path, sizeof(path), "%s/repositories/%s/_blobs/%.24s", outdir, im->name, d + 7);
        if (!(f = fopen(path, "w")) || fclose(f)) { fprintf(stderr, "imgbuild: cannot write %s\n", path); exit(1); }
    }
    snprintf(path, sizeof(path), "%s/repositories/%s/latest", outdir, im->name);
    f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", mb.digest) < 0 || fclose(f)) {
        fprintf(stderr, "imgbuild: cannot write %s\n", path);
        exit(1);
    }
    printf("%s:latest %s %d layers\n", im->name, mb.digest, im->nlayers);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: imgbuild OUTDIR ROOTDIR images/NAME/Recipe...\n");
        return 2;
    }
    outdir = argv[1];
    rootdir = argv[2];
    tar = malloc(BIG);
    char path[4096];
    snprintf(path, sizeof(path), "%s/blobs", outdir);
    mkdir(outdir, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/repositories", outdir);
    mkdir(path, 0755);
    for (int i = 3; i < argc; i++) build(argv[i]);
    return 0;
}
