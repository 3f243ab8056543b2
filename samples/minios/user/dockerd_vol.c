/*
 * dockerd_vol.c - dockerd's volumes (included by dockerd.c: one program, one
 * compilation unit). A named volume is a directory /volumes/NAME of the
 * daemon's file system, outside every container's layers (Docker keeps them
 * in /var/lib/docker/volumes/NAME/_data): removing a container leaves it, and
 * the next container that mounts it sees what the last one wrote.
 *
 *   GET /volumes                 {"Volumes":[{"Name":...,"Driver":"local","Mountpoint":...}],"Warnings":[]}
 *   POST /volumes/create         {"Name":"data"} (no name: a generated one) -> 201 the volume
 *   GET /volumes/NAME            the volume (inspect)
 *   DELETE /volumes/NAME         204; 409 while a container (even a stopped one) uses it
 * A container's mounts come from HostConfig.Binds, ["VOL:/path", "/dir:/path"]
 * (docker run -v): VOL is a named volume (created if missing, as Docker does),
 * /dir a directory of the daemon's own file system (a "bind mount"). At start
 * the daemon makes /path in the container's writable layer and asks the
 * kernel to bind the volume there, in the container's mount namespace only
 * (bindmount(), mount.c); DELETE /containers/ID unmounts them.
 */

#define NBIND 2                           /* -v per container */

struct bind { char src[NAME_MAX + 9], dst[64]; };   /* src: "/volumes/" + name, or a /dir */
static struct bind binds[NCONT][NBIND];

static int vol_name_ok(const char *s)
{
    int n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')
              || (n && (s[n] == '_' || s[n] == '.' || s[n] == '-'))))
            return 0;
    return n > 0 && n <= NAME_MAX;
}

static void vol_json(struct sbuf *b, const char *name)
{
    sfmt(b, "{\"Name\":\"%s\",\"Driver\":\"local\",\"Mountpoint\":\"/volumes/%s\",\"Scope\":\"local\"}",
         name, name);
}

/* The container using volume `name`, or 0. */
static struct container *vol_user(const char *name)
{
    for (int i = 0; i < NCONT; i++)
        for (int j = 0; conts[i].used && j < NBIND; j++)
            if (!strncmp(binds[i][j].src, "/volumes/", 9) && !strcmp(binds[i][j].src + 9, name))
                return &conts[i];
    return 0;
}

/* mkdir /volumes/NAME (and /volumes): 0, or -errno (-EEXIST when it was there). */
static int vol_make(const char *name)
{
    char path[PATH_MAX];
    struct sbuf b = { path, 0, sizeof(path), 0 };
    sfmt(&b, "/volumes/%s", name);
    mkdir("/volumes");
    return mkdir(path);
}

/* rm -r of a directory's contents, then the directory (a volume holds what containers made). */
static int remove_tree(char *path, int len)
{
    struct dirent d;
    for (;;) {
        int fd = open(path, O_RDONLY), r = fd;
        if (fd < 0) return fd;
        r = readdir(fd, &d);
        close(fd);
        if (r <= 0) break;
        int n = (int)strlen(d.name);
        if (len + 1 + n >= PATH_MAX) return -ENAMETOOLONG;
        path[len] = '/';
        memcpy(path + len + 1, d.name, (unsigned int)n + 1);
        r = d.type == S_IFDIR ? remove_tree(path, len + 1 + n) : unlink(path);
        path[len] = 0;
        if (r < 0) return r;
    }
    return rmdir(path);
}

static void volumes(struct conn *c, const char *method, const char *ref, const char *body)
{
    struct sbuf b = { resp, 0, sizeof(resp), 0 };
    char name[NAME_MAX + 1], path[PATH_MAX];
    struct stat st;
    if (!strcmp(method, "GET") && !*ref) {                       /* GET /volumes */
        struct dirent d;
        int fd = open("/volumes", O_RDONLY), first = 1;
        sfmt(&b, "{\"Volumes\":[");
        while (fd >= 0 && readdir(fd, &d) == 1)
            if (d.type == S_IFDIR) { sfmt(&b, first ? "" : ","); vol_json(&b, d.name); first = 0; }
        if (fd >= 0) close(fd);
        sfmt(&b, "],\"Warnings\":[]}\n");
        reply(c, 200, "application/json", resp);
        return;
    }
    if (!strcmp(method, "POST") && !strcmp(ref, "create")) {      /* POST /volumes/create */
        if (json_str(body, "Name", name, sizeof(name)) || !name[0]) {
            static unsigned int anonymous;                          /* no name: a generated one */
            struct sbuf nb = { name, 0, sizeof(name), 0 };
            sfmt(&nb, "%08x", ++anonymous * 2654435761u);
        }
        if (!vol_name_ok(name)) { error(c, 400, "invalid volume name"); return; }
        int r = vol_make(name);
        if (r < 0 && r != -EEXIST) { error(c, 500, strerror(r)); return; }   /* exists: Docker answers it */
        vol_json(&b, name);
        sfmt(&b, "\n");
        reply(c, 201, "application/json", resp);
        return;
    }
    struct sbuf pb = { path, 0, sizeof(path), 0 };
    sfmt(&pb, "/volumes/%s", ref);
    if (!vol_name_ok(ref) || stat(path, &st) || st.type != S_IFDIR) { error(c, 404, "no such volume"); return; }
    if (!strcmp(method, "GET")) {
        vol_json(&b, ref);
        sfmt(&b, "\n");
        reply(c, 200, "application/json", resp);
    } else if (!strcmp(method, "DELETE")) {
        struct container *k = vol_user(ref);
        if (k) {
            char msg[64];
            struct sbuf mb = { msg, 0, sizeof(msg), 0 };
            sfmt(&mb, "volume is in use - [%s]", k->id);
            error(c, 409, msg);
            return;
        }
        int r = remove_tree(path, (int)strlen(path));
        if (r < 0) { error(c, 500, strerror(r)); return; }
        reply(c, 204, "text/plain", "");
    } else error(c, 404, "page not found");
}

/* create(): HostConfig.Binds of the body into binds[k]; 0, or the message of a 400. */
static const char *vol_parse(struct container *k, const char *body)
{
    struct bind *bs = binds[k - conts];
    memset(bs, 0, sizeof(binds[0]));
    const char *p = strstr(body, "\"Binds\"");
    p = p ? strchr(p, '[') : 0;
    for (int n = 0; p && *p && *p != ']';) {
        if (*p++ != '"') continue;
        char spec[96];
        int len = 0;
        while (*p && *p != '"' && len < (int)sizeof(spec) - 1) spec[len++] = *p++;
        spec[len] = 0;
        if (*p++ != '"') return "invalid volume specification";
        char *colon = strchr(spec, ':');
        if (n == NBIND) return "too many volumes (2 at most)";
        if (!colon || colon[1] != '/' || !colon[2] || strlen(colon + 1) >= sizeof(bs[n].dst))
            return "invalid volume specification";
        *colon = 0;
        struct sbuf s = { bs[n].src, 0, sizeof(bs[n].src), 0 };
        struct stat st;
        if (spec[0] == '/') {
            if (stat(spec, &st) || st.type != S_IFDIR) return "bind source path does not exist";
            sfmt(&s, "%s", spec);
        } else if (!vol_name_ok(spec)) {
            return "invalid volume name";
        } else sfmt(&s, "/volumes/%s", spec);
        if (s.full) return "invalid volume specification";
        memcpy(bs[n].dst, colon + 1, strlen(colon + 1) + 1);
        n++;
    }
    return 0;
}

/* start(): each bind's mountpoint in /overlays/NAME, then bindmount(). 0 or -errno. */
static int vol_mount(struct container *k)
{
    char root[PATH_MAX], dst[PATH_MAX];
    struct sbuf rb = { root, 0, sizeof(root), 0 };
    sfmt(&rb, "/overlays/%s", k->name);
    mkdir("/overlays");
    mkdir(root);
    for (int i = 0; i < NBIND; i++) {
        struct bind *b = &binds[k - conts][i];
        if (!b->src[0]) continue;
        if (!strncmp(b->src, "/volumes/", 9)) vol_make(b->src + 9);
        struct sbuf db = { dst, 0, sizeof(dst), 0 };
        sfmt(&db, "%s%s", root, b->dst);
        for (int j = rb.n + 1; j <= db.n; j++)                    /* mkdir -p in the upper layer */
            if (dst[j] == '/' || !dst[j]) {
                char c = dst[j];
                dst[j] = 0;
                mkdir(dst);
                dst[j] = c;
            }
        int r = bindmount(b->src, dst, root);
        if (r == -EBUSY) r = 0;                                    /* still there from before */
        if (r < 0) return r;
    }
    return 0;
}

/* DELETE /containers/ID: its binds go (the volumes stay). */
static void vol_unmount(struct container *k)
{
    char dst[PATH_MAX], root[PATH_MAX];
    struct sbuf rb = { root, 0, sizeof(root), 0 };
    sfmt(&rb, "/overlays/%s", k->name);
    for (int i = 0; i < NBIND; i++) {
        struct bind *b = &binds[k - conts][i];
        struct sbuf db = { dst, 0, sizeof(dst), 0 };
        sfmt(&db, "%s%s", root, b->dst);
        if (b->src[0]) bindmount(0, dst, root);
        b->src[0] = 0;
    }
}

/* inspect: "Mounts":[...], */
static void vol_inspect(struct sbuf *out, struct container *k)
{
    sfmt(out, "\"Mounts\":[");
    for (int i = 0, first = 1; i < NBIND; i++) {
        struct bind *b = &binds[k - conts][i];
        if (!b->src[0]) continue;
        int vol = !strncmp(b->src, "/volumes/", 9);
        sfmt(out, "%s{\"Type\":\"%s\",", first ? "" : ",", vol ? "volume" : "bind");
        if (vol) sfmt(out, "\"Name\":\"%s\",", b->src + 9);
        sfmt(out, "\"Source\":\"%s\",\"Destination\":\"%s\"}", b->src, b->dst);
        first = 0;
    }
    sfmt(out, "],");
}
