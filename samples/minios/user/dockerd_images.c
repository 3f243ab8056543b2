/*
 * dockerd_images.c - dockerd's image store and its registry client (included
 * by dockerd.c, after reply()/error() and the container table). Docker Engine
 * API endpoints:
 *   GET /images/json                         tags with their digests and sizes
 *   POST /images/create?fromImage=NAME[:TAG][&tag=TAG]   pull from registryd
 *   POST /images/NAME[:TAG]/push             push to registryd
 *   POST /images/NAME[:TAG]/tag?repo=R[&tag=T]           a second name, same image
 *   DELETE /images/NAME[:TAG]                untag (layers stay as a cache)
 * A pull is a client-server exchange with registryd at 10.99.0.2:5000 (its own
 * network namespace; dockerd's namespace joins bridge "registry" as 10.99.0.1
 * the first time): the manifest, then each blob it names that is not here yet.
 * Every blob is hashed (SHA-256) while it arrives and kept only if the digest
 * is the one the manifest names; the manifest's own digest is checked against
 * the registry's Docker-Content-Digest. A push asks (HEAD) for each blob,
 * uploads the missing ones (POST, then PUT ?digest=) and puts the manifest.
 *
 * The store, /var/lib/docker:
 *   blobs/HEX24          manifests, configs and layer archives (ustar), as pulled
 *   tags/NAME:TAG        the digest of the tag's manifest
 *   rootfs/HEX24         the image's files: its layers unpacked in order into one
 *                        directory (named by the config's digest, Docker's image ID)
 * Layers are flattened at pull time because minios's overlay (overlay.c) has
 * one lower layer: a container's root is /overlays/NAME over rootfs/HEX24.
 * Whiteouts (.wh.NAME) remove NAME while flattening. Directories of /images
 * (box) are images built into the root file system: no layers, no digests.
 */
#include "oci.c"

#define DSTORE "/var/lib/docker"
#define REGISTRY_IP 0x0a630002              /* 10.99.0.2, registryd */
#define REGISTRY_ME 0x0a630001              /* 10.99.0.1, dockerd on bridge "registry" */

static char mbuf[2048], hbuf[1024], progress[1536];
static int joined;

/* NAME[:TAG] (default latest) -> "NAME:TAG", checked; 0 or -1. */
static int split_ref(const char *ref, const char *tag, char *name, char *full)
{
    int n = 0;
    while (ref[n] && ref[n] != ':' && n < NAME_MAX) { name[n] = ref[n]; n++; }
    name[n] = 0;
    if (ref[n] == ':') tag = ref + n + 1;
    else if (ref[n]) return -1;
    if (!tag || !*tag) tag = "latest";
    if (!oci_name_ok(name) || !oci_tag_ok(tag) || n + 1 + (int)strlen(tag) > NAME_MAX) return -1;
    struct sbuf b = { full, 0, NAME_MAX + 1, 0 };
    sfmt(&b, "%s:%s", name, tag);
    return 0;
}

/* The value of `key=` in a query string, cut at cap - 1 ("" when absent). */
static void query_arg(const char *query, const char *key, char *out, int cap)
{
    int k = (int)strlen(key), n = 0;
    const char *p = query;
    while (p && (p = strstr(p, key)) && !((p == query || p[-1] == '&') && p[k] == '=')) p += k;
    if (p) for (p += k + 1; *p && *p != '&' && n < cap - 1; p++) out[n++] = *p;
    out[n] = 0;
}

static void store_dirs(void)
{
    mkdir("/var");
    mkdir("/var/lib");
    mkdir(DSTORE);
    mkdir(DSTORE "/blobs");
    mkdir(DSTORE "/tags");
    mkdir(DSTORE "/rootfs");
}

/* The manifest of a local NAME:TAG into mbuf, its digest into digest; 0 or -1. */
static int local_manifest(const char *full, char digest[80])
{
    char path[PATH_MAX];
    struct sbuf b = { path, 0, sizeof(path), 0 };
    sfmt(&b, DSTORE "/tags/%s", full);
    if (oci_read_file(path, digest, 80) < DIGEST_LEN) return -1;
    digest[DIGEST_LEN] = 0;
    oci_blob_path(DSTORE "/blobs", digest, path);
    return oci_read_file(path, mbuf, sizeof(mbuf)) > 0 ? 0 : -1;
}

/* Where a container of image `ref` finds its files (root, PATH_MAX) and its
 * default command (cmd, cap bytes: the config's Cmd joined by spaces, "" if none). */
static int image_lookup(const char *ref, char *root, char *cmd, int cap)
{
    char name[NAME_MAX + 1], full[NAME_MAX + 1], digest[80], config[72], path[PATH_MAX];
    struct sbuf r = { root, 0, PATH_MAX, 0 };
    struct stat st;
    cmd[0] = 0;
    if (split_ref(ref, 0, name, full)) return -1;
    if (local_manifest(full, digest) || oci_nth_digest(mbuf, 0, config)) {
        sfmt(&r, "/images/%s", name);                /* built into the root file system */
        return strchr(ref, ':') || stat(root, &st) || st.type != S_IFDIR ? -1 : 0;
    }
    oci_blob_path(DSTORE "/rootfs", config, root);
    oci_blob_path(DSTORE "/blobs", config, path);
    if (oci_read_file(path, mbuf, sizeof(mbuf)) <= 0) return -1;
    const char *p = strstr(mbuf, "\"Cmd\":[");
    struct sbuf c = { cmd, 0, cap, 0 };
    for (p = p ? p + 7 : ""; *p && *p != ']'; p++) {
        if (*p != '"') continue;
        if (c.n) sbuf_put(' ', &c);
        for (p++; *p && *p != '"'; p++) sbuf_put(*p, &c);
        if (!*p) break;
    }
    return 0;
}

static void list_images(struct conn *c)
{
    struct sbuf b = { resp, 0, sizeof(resp), 0 };
    struct dirent d;
    char digest[80], config[72];
    int first = 1, fd = open(DSTORE "/tags", O_RDONLY);
    sfmt(&b, "[");
    while (fd >= 0 && readdir(fd, &d) == 1) {
        if (local_manifest(d.name, digest) || oci_nth_digest(mbuf, 0, config)) continue;
        int size = 0;
        for (const char *p = strstr(mbuf, "\"layers\""); p && (p = strstr(p, "\"size\":")); p += 7)
            size += json_num(p, "size");
        char name[NAME_MAX + 1];
        int n = 0;
        while (d.name[n] != ':') { name[n] = d.name[n]; n++; }
        name[n] = 0;
        sfmt(&b, "%s{\"Id\":\"%s\",\"RepoTags\":[\"%s\"],\"RepoDigests\":[\"%s@%s\"],\"Size\":%d}",
             first ? "" : ",", config, d.name, name, digest, size);
        first = 0;
    }
    if (fd >= 0) close(fd);
    fd = open("/images", O_RDONLY);
    while (fd >= 0 && readdir(fd, &d) == 1)
        if (d.type == S_IFDIR) {
            sfmt(&b, "%s{\"Id\":\"%s\",\"RepoTags\":[\"%s:latest\"],\"RepoDigests\":[],\"Size\":0}",
                 first ? "" : ",", d.name, d.name);
            first = 0;
        }
    if (fd >= 0) close(fd);
    sfmt(&b, "]\n");
    if (b.full) { error(c, 500, "too many images to list"); return; }
    reply(c, 200, "application/json", resp);
}

/* ---- the registry client ------------------------------------------------ */

/* Sends a request head to registryd; the connected socket or -errno. */
static int reg_open(const char *method, const char *target, int len)
{
    if (!joined) {
        int r = netjoin("registry", REGISTRY_ME, 24);    /* registryd's launcher may have done it */
        if (r < 0 && r != -EEXIST) return r;
        joined = 1;
    }
    int fd = http_connect(0, REGISTRY_IP, 5000, 0);
    if (fd < 0) return fd;
    char head[256];
    struct sbuf h = { head, 0, sizeof(head), 0 };
    sfmt(&h, "%s %s HTTP/1.1\r\nHost: 10.99.0.2:5000\r\nConnection: close\r\n", method, target);
    if (len >= 0) sfmt(&h, "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n", len);
    sfmt(&h, "\r\n");
    if (h.full || send_all(fd, head, h.n)) { close(fd); return -EPIPE; }
    return fd;
}

/* Reads the answer's head into hbuf: the status code (or -errno); *extra body bytes follow it. */
static int reg_status(int fd, int *head, int *extra)
{
    *head = oci_read_head(fd, hbuf, sizeof(hbuf), extra);
    if (*head < 0) return *head;
    return http_status(hbuf);
}

static void pull_fail(struct conn *c, int code, const char *what, const char *detail)
{
    struct sbuf b = { progress, 0, sizeof(progress), 0 };
    sfmt(&b, "%s%s", what, detail);
    error(c, code, progress);
}

/* Why a pull failed (pull_image), for the answer. */
static char perr[160];
static int pfail(int code, const char *what, const char *detail)
{
    struct sbuf b = { perr, 0, sizeof(perr), 0 };
    sfmt(&b, "%s%s", what, detail);
    return code;
}

/* Fetches one blob into the store, checking its digest. 0, or an HTTP code (perr says why). */
static int fetch_blob(const char *name, const char *digest)
{
    char target[160], path[PATH_MAX], got[72];
    struct sbuf t = { target, 0, sizeof(target), 0 };
    sfmt(&t, "/v2/%s/blobs/%s", name, digest);
    int head, extra, fd = reg_open("GET", target, -1), code = fd < 0 ? fd : reg_status(fd, &head, &extra);
    int len = code == 200 ? oci_content_length(hbuf) : -1;
    if (code != 200 || len < 0) {
        if (fd >= 0) close(fd);
        return pfail(500, "the registry did not send blob ", digest);
    }
    oci_blob_path(DSTORE "/blobs", digest, path);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC);
    int r = out < 0 ? out : oci_stream(fd, hbuf + head, extra, len, out, got);
    if (out >= 0) close(out);
    close(fd);
    if (r < 0 || strcmp(got, digest)) {
        unlink(path);
        return pfail(500, r < 0 ? "blob download cut short: " : "filesystem layer verification failed for digest ", digest);
    }
    return 0;
}

/* Unpacks one layer archive (ustar) over root. 0 or -1. */
static int unpack(const char *layer, const char *root)
{
    static char blk[512];
    char path[PATH_MAX];
    int fd = open(layer, O_RDONLY), ok = fd >= 0;
    while (ok && read(fd, blk, 512) == 512 && blk[0]) {
        int size = 0;
        for (int i = 124; i < 136 && blk[i] >= '0' && blk[i] <= '7'; i++) size = size * 8 + (blk[i] - '0');
        blk[100] = 0;
        const char *name = blk;
        if (name[0] == '/' || strstr(name, "..")) { ok = 0; break; }   /* stays inside the root */
        struct sbuf p = { path, 0, sizeof(path), 0 };
        sfmt(&p, "%s/%s", root, name);
        if (p.n > 1 && path[p.n - 1] == '/') path[--p.n] = 0;
        if (p.full) { ok = 0; break; }
        char *leaf = path;
        for (char *q = path; *q; q++) if (*q == '/') leaf = q + 1;
        if (!strncmp(leaf, ".wh.", 4)) {                          /* a whiteout: NAME goes */
            for (char *q = leaf; (*q = q[4]); q++) {}
            if (unlink(path) < 0) rmdir(path);
        } else if (blk[156] == '5') mkdir(path);
        else if (blk[156] == '0' || blk[156] == 0) {
            int out = open(path, O_WRONLY | O_CREAT | O_TRUNC);
            if (out < 0) { ok = 0; break; }
            for (int left = size; left > 0; left -= 512) {
                if (read(fd, blk, 512) != 512) { ok = 0; break; }
                int k = left < 512 ? left : 512;
                if (write(out, blk, k) != k) { ok = 0; break; }
            }
            close(out);
            continue;
        }
        for (int left = size; left > 0; left -= 512) read(fd, blk, 512);   /* skipped */
    }
    if (fd >= 0) close(fd);
    return ok ? 0 : -1;
}

/* Pulls NAME:TAG (full) from registryd into the store; progress lines into pb.
 * 0, or an HTTP code for the answer (perr says why). Used by pull and by FROM. */
static int pull_image(const char *name, const char *full, struct sbuf *pb)
{
    char digest[72], d[72], path[PATH_MAX], sent[80], target[96];
    sfmt(pb, "{\"status\":\"Pulling from %s\",\"id\":\"%s\"}\n", name, strchr(full, ':') + 1);
    struct sbuf t = { target, 0, sizeof(target), 0 };
    sfmt(&t, "/v2/%s/manifests/%s", name, strchr(full, ':') + 1);
    int head, extra, fd = reg_open("GET", target, -1), code = fd < 0 ? fd : reg_status(fd, &head, &extra);
    if (code < 0) {
        if (fd >= 0) close(fd);
        return pfail(500, "cannot reach the registry at 10.99.0.2:5000 (is registryd running?): ", strerror(code));
    }
    int len = oci_content_length(hbuf);
    if (code == 404) { close(fd); return pfail(404, "manifest unknown: ", full); }
    if (code != 200 || len <= 0 || len >= (int)sizeof(mbuf)) {
        close(fd);
        return pfail(500, "the registry sent no manifest", "");
    }
    if (oci_header(hbuf, "Docker-Content-Digest", sent, sizeof(sent))) sent[0] = 0;
    int n = extra < len ? extra : len;
    memcpy(mbuf, hbuf + head, (unsigned int)n);
    for (int k = 1; n < len && k > 0; n += k > 0 ? k : 0) k = recv(fd, mbuf + n, len - n);
    close(fd);
    mbuf[n] = 0;
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, mbuf, (unsigned int)n);
    sha256_final(&s, digest);
    if (n < len || (sent[0] && strcmp(sent, digest))) return pfail(500, "manifest verification failed: ", digest);
    for (int i = 0; !oci_nth_digest(mbuf, i, d); i++) {
        oci_blob_path(DSTORE "/blobs", d, path);
        int have = oci_file_size(path) >= 0;
        if (!have && (code = fetch_blob(name, d))) return code;
        char id[13];
        sfmt(pb, "{\"status\":\"%s\",\"id\":\"%s\"}\n", have ? "Already exists" : i ? "Pull complete"
             : "Config downloaded", oci_short(d, id));
    }
    oci_blob_path(DSTORE "/blobs", digest, path);
    oci_write_file(path, mbuf, len);
    char config[72], root[PATH_MAX];
    oci_nth_digest(mbuf, 0, config);
    oci_blob_path(DSTORE "/rootfs", config, root);
    struct stat st;
    if (stat(root, &st) < 0) {                          /* flatten: the layers in order, one directory */
        mkdir(root);
        for (int i = 1; !oci_nth_digest(mbuf, i, d); i++) {
            oci_blob_path(DSTORE "/blobs", d, path);
            if (unpack(path, root)) return pfail(500, "cannot unpack layer ", d);
        }
    }
    struct sbuf tp = { path, 0, sizeof(path), 0 };
    sfmt(&tp, DSTORE "/tags/%s", full);
    char line[80];
    struct sbuf l = { line, 0, sizeof(line), 0 };
    sfmt(&l, "%s\n", digest);
    oci_write_file(path, line, l.n);
    sfmt(pb, "{\"status\":\"Digest: %s\"}\n{\"status\":\"Status: Downloaded image for %s\"}\n", digest, full);
    return 0;
}

static void pull(struct conn *c, const char *query)
{
    char ref[64], tag[32], name[NAME_MAX + 1], full[NAME_MAX + 1];
    query_arg(query, "fromImage", ref, sizeof(ref));
    query_arg(query, "tag", tag, sizeof(tag));
    if (split_ref(ref, tag, name, full)) { error(c, 400, "invalid reference format"); return; }
    store_dirs();
    struct sbuf pb = { progress, 0, sizeof(progress), 0 };
    int code = pull_image(name, full, &pb);
    if (code) error(c, code, perr);
    else reply(c, 200, "application/json", progress);
}

/* Uploads one blob the registry does not have under `name`. 1 pushed, 0 there already, -1 answered. */
static int push_blob(struct conn *c, const char *name, const char *digest)
{
    char target[160], path[PATH_MAX], loc[96];
    struct sbuf t = { target, 0, sizeof(target), 0 };
    sfmt(&t, "/v2/%s/blobs/%s", name, digest);
    int head, extra, fd = reg_open("HEAD", target, -1), code = fd < 0 ? fd : reg_status(fd, &head, &extra);
    if (fd >= 0) close(fd);
    if (code == 200) return 0;
    if (code != 404) { pull_fail(c, 500, "cannot reach the registry at 10.99.0.2:5000 (is registryd running?): ",
                                 code < 0 ? strerror(code) : "bad answer"); return -1; }
    t.n = 0;
    sfmt(&t, "/v2/%s/blobs/uploads/", name);
    fd = reg_open("POST", target, 0);
    code = fd < 0 ? fd : reg_status(fd, &head, &extra);
    if (fd >= 0) close(fd);
    if (code != 202 || oci_header(hbuf, "Location", loc, sizeof(loc))) { error(c, 500, "the registry refused an upload"); return -1; }
    oci_blob_path(DSTORE "/blobs", digest, path);
    int size = oci_file_size(path);
    t.n = 0;
    sfmt(&t, "%s?digest=%s", loc, digest);
    fd = size < 0 || t.full ? -ENOENT : reg_open("PUT", target, size);
    if (fd >= 0 && oci_send_file(fd, path) < 0) { close(fd); fd = -EPIPE; }
    code = fd < 0 ? fd : reg_status(fd, &head, &extra);
    if (fd >= 0) close(fd);
    if (code != 201) { pull_fail(c, 500, "the registry refused blob ", digest); return -1; }
    return 1;
}

static void push(struct conn *c, const char *ref, const char *query)
{
    char tag[32], name[NAME_MAX + 1], full[NAME_MAX + 1], digest[80], d[72], target[96];
    query_arg(query, "tag", tag, sizeof(tag));
    if (split_ref(ref, tag, name, full)) { error(c, 400, "invalid reference format"); return; }
    if (local_manifest(full, digest)) { pull_fail(c, 404, "no such image with layers: ", full); return; }
    const char *t = strchr(full, ':') + 1;
    struct sbuf pb = { progress, 0, sizeof(progress), 0 };
    sfmt(&pb, "{\"status\":\"The push refers to repository [10.99.0.2:5000/%s]\"}\n", name);
    static char manifest[2048];
    memcpy(manifest, mbuf, sizeof(manifest));
    for (int i = 0; !oci_nth_digest(manifest, i, d); i++) {
        int r = push_blob(c, name, d);
        if (r < 0) return;
        char id[13];
        sfmt(&pb, "{\"status\":\"%s\",\"id\":\"%s\"}\n", r ? "Pushed" : "Layer already exists", oci_short(d, id));
    }
    struct sbuf tb = { target, 0, sizeof(target), 0 };
    sfmt(&tb, "/v2/%s/manifests/%s", name, t);
    int len = (int)strlen(manifest), head, extra;
    int fd = reg_open("PUT", target, len);
    if (fd >= 0 && send_all(fd, manifest, len)) { close(fd); fd = -EPIPE; }
    int code = fd < 0 ? fd : reg_status(fd, &head, &extra);
    if (fd >= 0) close(fd);
    if (code != 201) { error(c, 500, "the registry refused the manifest"); return; }
    sfmt(&pb, "{\"status\":\"%s: digest: %s size: %d\"}\n", t, digest, len);
    reply(c, 200, "application/json", progress);
}

static void tag_image(struct conn *c, const char *ref, const char *query)
{
    char repo[40], tag[32], name[NAME_MAX + 1], full[NAME_MAX + 1], full2[NAME_MAX + 1], digest[80], path[PATH_MAX];
    query_arg(query, "repo", repo, sizeof(repo));
    query_arg(query, "tag", tag, sizeof(tag));
    if (split_ref(ref, 0, name, full) || split_ref(repo, tag, name, full2)) {
        error(c, 400, "invalid reference format");
        return;
    }
    if (local_manifest(full, digest)) { pull_fail(c, 404, "no such image with layers: ", full); return; }
    struct sbuf p = { path, 0, sizeof(path), 0 }, l = { hbuf, 0, sizeof(hbuf), 0 };
    sfmt(&p, DSTORE "/tags/%s", full2);
    sfmt(&l, "%s\n", digest);
    oci_write_file(path, hbuf, l.n);
    reply(c, 201, "text/plain", "");
}

static void untag(struct conn *c, const char *ref)
{
    char name[NAME_MAX + 1], full[NAME_MAX + 1], path[PATH_MAX];
    if (split_ref(ref, 0, name, full)) { error(c, 400, "invalid reference format"); return; }
    for (int i = 0; i < NCONT; i++)
        if (conts[i].used && (!strcmp(conts[i].image, full) || (!strcmp(conts[i].image, name)
                                                                && !strcmp(strchr(full, ':'), ":latest")))) {
            error(c, 409, "the image is used by a container");
            return;
        }
    struct sbuf p = { path, 0, sizeof(path), 0 };
    sfmt(&p, DSTORE "/tags/%s", full);
    if (unlink(path) < 0) { pull_fail(c, 404, "no such image: ", full); return; }
    struct sbuf b = { progress, 0, sizeof(progress), 0 };
    sfmt(&b, "[{\"Untagged\":\"%s\"}]\n", full);
    reply(c, 200, "application/json", progress);
}

/* /images/... after GET /images/json and POST /images/create. */
static void route_images(struct conn *c, const char *method, char *path, const char *query)
{
    char *op = strchr(path, '/');
    if (op) *op++ = 0;
    if (!strcmp(method, "POST") && op && !strcmp(op, "push")) push(c, path, query);
    else if (!strcmp(method, "POST") && op && !strcmp(op, "tag")) tag_image(c, path, query);
    else if (!strcmp(method, "DELETE") && !op) untag(c, path);
    else error(c, 404, "page not found");
}
