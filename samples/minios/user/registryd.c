/*
 * registryd.c - an image registry speaking the shape of the Docker Registry
 * HTTP API v2 (the OCI distribution spec), the role Docker Hub or
 * `docker run -d -p 5000:5000 registry:2` plays. dockerd pulls and pushes
 * images here over TCP, from another network namespace.
 *
 *   registryd            starts the server in the background in a new network
 *                        namespace (UTS too: hostname "registry") whose eth0 is
 *                        10.99.0.2/24 on bridge "registry"; port 5000
 * Like Docker's registry it is started by hand, not by init (the default boot
 * stays as it was). The starting namespace (the shell's and dockerd's) joins
 * the bridge as 10.99.0.1, so dockerd and curl reach the registry there.
 *
 * Endpoints (errors are {"errors":[{"code":...,"message":...}]} with 400/404/405):
 *   GET /v2/                              200 {} (the API version check)
 *   GET /v2/_catalog                      {"repositories":[...]}
 *   GET|HEAD /v2/NAME/manifests/TAG       the manifest, with Docker-Content-Digest
 *   GET|HEAD /v2/NAME/manifests/DIGEST    the same, by its digest
 *   GET|HEAD /v2/NAME/blobs/DIGEST        a config or layer (404 unless linked to NAME)
 *   POST /v2/NAME/blobs/uploads/          202, Location: /v2/NAME/blobs/uploads/N
 *   PUT /v2/NAME/blobs/uploads/N?digest=D the whole blob (a monolithic upload): kept only
 *                                         if its SHA-256 is D (else 400 DIGEST_INVALID)
 *   PUT /v2/NAME/manifests/TAG            201 once every blob it names is linked to NAME
 * The store, /var/lib/registry (laid out by the host builder, images/imgbuild.c):
 *   blobs/HEX24, repositories/NAME/TAG (the manifest's digest), repositories/NAME/_blobs/HEX24
 * (empty: the blob may be served as part of NAME). One client at a time; a
 * request that is not HTTP/1.x gets 400 and the connection is closed.
 */
#include "oci.c"

#define STORE "/var/lib/registry"
#define MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"

static char req[1024], body[2048];
static int uploads;

static void answer(int fd, int code, const char *type, const char *extra, const char *text, int len)
{
    const char *status = code == 200 ? "200 OK" : code == 201 ? "201 Created" : code == 202 ? "202 Accepted"
                       : code == 400 ? "400 Bad Request" : code == 404 ? "404 Not Found"
                       : code == 405 ? "405 Method Not Allowed" : "500 Internal Server Error";
    char head[384];
    struct sbuf h = { head, 0, sizeof(head), 0 };
    sfmt(&h, "HTTP/1.1 %s\r\nDocker-Distribution-API-Version: registry/2.0\r\nContent-Type: %s\r\n"
         "Content-Length: %d\r\n%sConnection: close\r\n\r\n", status, type, len, extra ? extra : "");
    send_all(fd, head, h.n);
    if (text) send_all(fd, text, (int)strlen(text));
}

static void fail(int fd, int code, const char *err, const char *msg)
{
    struct sbuf b = { body, 0, sizeof(body), 0 };
    sfmt(&b, "{\"errors\":[{\"code\":\"%s\",\"message\":\"%s\"}]}\n", err, msg);
    answer(fd, code, "application/json", 0, body, b.n);
}

/* STORE/repositories/NAME[/_blobs/HEX24 of digest]. */
static void repo_path(char *out, const char *name, const char *digest)
{
    struct sbuf b = { out, 0, PATH_MAX, 0 };
    sfmt(&b, STORE "/repositories/%s", name);
    if (digest) {
        sfmt(&b, "/_blobs/");
        for (int i = 0; i < 24; i++) sbuf_put(digest[7 + i], &b);
    }
}

static int linked(const char *name, const char *digest)
{
    char path[PATH_MAX];
    struct stat st;
    repo_path(path, name, digest);
    return stat(path, &st) == 0;
}

/* GET or HEAD of a blob file, with its digest in Docker-Content-Digest. */
static void send_blob(int fd, int head, const char *digest, const char *type)
{
    char path[PATH_MAX], extra[128];
    oci_blob_path(STORE "/blobs", digest, path);
    int size = oci_file_size(path);
    if (size < 0) { fail(fd, 404, "BLOB_UNKNOWN", "blob unknown to registry"); return; }
    struct sbuf e = { extra, 0, sizeof(extra), 0 };
    sfmt(&e, "Docker-Content-Digest: %s\r\n", digest);
    answer(fd, 200, type, extra, 0, size);
    if (!head) oci_send_file(fd, path);
}

static void get_manifest(int fd, int head, const char *name, const char *tag)
{
    char path[PATH_MAX], digest[80];
    struct sbuf b = { path, 0, sizeof(path), 0 };
    sfmt(&b, STORE "/repositories/%s/%s", name, tag);
    if (oci_read_file(path, digest, sizeof(digest)) < DIGEST_LEN) {
        fail(fd, 404, "MANIFEST_UNKNOWN", "manifest unknown");
        return;
    }
    digest[DIGEST_LEN] = 0;
    send_blob(fd, head, digest, MANIFEST_TYPE);
}

static void catalog(int fd)
{
    struct sbuf b = { body, 0, sizeof(body), 0 };
    struct dirent d;
    int dir = open(STORE "/repositories", O_RDONLY), n = 0;
    sfmt(&b, "{\"repositories\":[");
    while (dir >= 0 && readdir(dir, &d) == 1)
        if (d.type == S_IFDIR) sfmt(&b, "%s\"%s\"", n++ ? "," : "", d.name);
    if (dir >= 0) close(dir);
    sfmt(&b, "]}\n");
    answer(fd, 200, "application/json", 0, body, b.n);
}

static int make_repo(const char *name)
{
    char path[PATH_MAX];
    repo_path(path, name, 0);
    mkdir(path);
    struct sbuf b = { path, (int)strlen(path), sizeof(path), 0 };
    sfmt(&b, "/_blobs");
    mkdir(path);
    struct stat st;
    return stat(path, &st);
}

/* PUT of a whole blob: stored (if new) and linked only when its digest is the one named. */
static void put_blob(int fd, const char *name, const char *query, int len, int have)
{
    char want[80], got[72], path[PATH_MAX];
    const char *q = query ? strstr(query, "digest=") : 0;
    struct sbuf w = { want, 0, sizeof(want), 0 };
    for (q = q ? q + 7 : ""; *q && *q != '&'; q++)
        if (q[0] == '%' && q[1] == '3' && (q[2] | 32) == 'a') { sbuf_put(':', &w); q += 2; }
        else sbuf_put(*q, &w);
    if (!oci_digest_ok(want)) { fail(fd, 400, "DIGEST_INVALID", "the upload needs ?digest=sha256:..."); return; }
    if (len < 0) { fail(fd, 400, "SIZE_INVALID", "the upload needs a Content-Length"); return; }
    oci_blob_path(STORE "/blobs", want, path);
    int exists = oci_file_size(path) >= 0;
    int out = exists ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC);
    int r = oci_stream(fd, body, have, len, out, got);
    if (out >= 0) close(out);
    if (r < 0 || strcmp(got, want)) {
        if (!exists) unlink(path);
        fail(fd, 400, "DIGEST_INVALID", r < 0 ? "the upload was cut short" : "provided digest did not match uploaded content");
        return;
    }
    if (make_repo(name)) { fail(fd, 500, "UNKNOWN", "cannot create the repository"); return; }
    repo_path(path, name, want);
    oci_write_file(path, "", 0);
    char extra[160];
    struct sbuf e = { extra, 0, sizeof(extra), 0 };
    sfmt(&e, "Location: /v2/%s/blobs/%s\r\nDocker-Content-Digest: %s\r\n", name, want, want);
    answer(fd, 201, "text/plain", extra, 0, 0);
}

/* PUT of a manifest (in body, complete): every blob it names must be linked to the repository. */
static void put_manifest(int fd, const char *name, const char *tag, int len)
{
    char d[72], digest[72], path[PATH_MAX];
    if (!strstr(body, "\"schemaVersion\":2") || oci_nth_digest(body, 1, d)) {
        fail(fd, 400, "MANIFEST_INVALID", "not an image manifest (schemaVersion 2, a config, layers)");
        return;
    }
    for (int i = 0; !oci_nth_digest(body, i, d); i++)
        if (!linked(name, d)) { fail(fd, 400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry"); return; }
    struct sha256 s;
    sha256_init(&s);
    sha256_update(&s, body, (unsigned int)len);
    sha256_final(&s, digest);
    oci_blob_path(STORE "/blobs", digest, path);
    if (oci_write_file(path, body, len)) { fail(fd, 500, "UNKNOWN", "no space"); return; }
    repo_path(path, name, digest);
    oci_write_file(path, "", 0);
    struct sbuf b = { path, 0, sizeof(path), 0 };
    sfmt(&b, STORE "/repositories/%s/%s", name, tag);
    char line[80];
    struct sbuf l = { line, 0, sizeof(line), 0 };
    sfmt(&l, "%s\n", digest);
    oci_write_file(path, line, l.n);
    char extra[160];
    struct sbuf e = { extra, 0, sizeof(extra), 0 };
    sfmt(&e, "Location: /v2/%s/manifests/%s\r\nDocker-Content-Digest: %s\r\n", name, digest, digest);
    answer(fd, 201, "text/plain", extra, 0, 0);
}

/* One connection: one request. */
static void serve(int fd)
{
    int extra, head = oci_read_head(fd, req, sizeof(req), &extra);
    if (head < 0) { fail(fd, 400, "UNSUPPORTED", "no complete HTTP request head"); return; }
    int len = oci_content_length(req);
    memcpy(body, req + head, (unsigned int)extra);
    body[extra] = 0;
    req[head] = 0;
    char *method = req, *target = strchr(req, ' '), *version = target ? strchr(target + 1, ' ') : 0;
    if (!target || !version || strncmp(version + 1, "HTTP/1.", 7)) {
        fail(fd, 400, "UNSUPPORTED", "malformed request line");
        return;
    }
    *target++ = 0;
    *version = 0;
    char *query = strchr(target, '?');
    if (query) *query++ = 0;
    int get = !strcmp(method, "GET"), headm = !strcmp(method, "HEAD"), put = !strcmp(method, "PUT");
    if (!strcmp(target, "/v2/") || !strcmp(target, "/v2")) {
        answer(fd, 200, "application/json", 0, "{}\n", 3);
        return;
    }
    if (get && !strcmp(target, "/v2/_catalog")) { catalog(fd); return; }
    if (strncmp(target, "/v2/", 4)) { fail(fd, 404, "UNSUPPORTED", "not a /v2/ path"); return; }
    /* /v2/NAME/KIND/REST */
    char *name = target + 4, *kind = strchr(name, '/'), *rest = kind ? strchr(kind + 1, '/') : 0;
    if (!kind || !rest) { fail(fd, 404, "UNSUPPORTED", "unknown path"); return; }
    *kind++ = 0;
    *rest++ = 0;
    if (!oci_name_ok(name)) { fail(fd, 400, "NAME_INVALID", "invalid repository name"); return; }
    if (!strcmp(kind, "manifests")) {
        if (oci_digest_ok(rest) && (get || headm)) {      /* by digest: NAME@sha256:... */
            if (linked(name, rest)) send_blob(fd, headm, rest, MANIFEST_TYPE);
            else fail(fd, 404, "MANIFEST_UNKNOWN", "manifest unknown");
            return;
        }
        if (!oci_tag_ok(rest)) { fail(fd, 400, "TAG_INVALID", "invalid tag"); return; }
        if (get || headm) get_manifest(fd, headm, name, rest);
        else if (put) {
            if (len <= 0 || len >= (int)sizeof(body)) { fail(fd, 400, "MANIFEST_INVALID", "bad manifest size"); return; }
            int n = extra < len ? extra : len;
            for (int k = 1; n < len && k > 0; n += k > 0 ? k : 0) k = recv(fd, body + n, len - n);
            body[n] = 0;
            if (n < len) { fail(fd, 400, "MANIFEST_INVALID", "the manifest was cut short"); return; }
            put_manifest(fd, name, rest, len);
        } else fail(fd, 405, "UNSUPPORTED", "method not allowed");
    } else if (!strcmp(kind, "blobs") && !strncmp(rest, "uploads", 7)) {
        if (!strcmp(method, "POST") && (!strcmp(rest, "uploads/") || !strcmp(rest, "uploads"))) {
            char extra2[128];
            struct sbuf e = { extra2, 0, sizeof(extra2), 0 };
            uploads++;
            sfmt(&e, "Location: /v2/%s/blobs/uploads/%d\r\nDocker-Upload-UUID: %d\r\n", name, uploads, uploads);
            answer(fd, 202, "text/plain", extra2, 0, 0);
        } else if (put && rest[7] == '/') put_blob(fd, name, query, len, extra);
        else fail(fd, 405, "UNSUPPORTED", "method not allowed");
    } else if (!strcmp(kind, "blobs")) {
        if (!oci_digest_ok(rest)) { fail(fd, 400, "DIGEST_INVALID", "invalid digest"); return; }
        if (!get && !headm) { fail(fd, 405, "UNSUPPORTED", "method not allowed"); return; }
        if (!linked(name, rest)) { fail(fd, 404, "BLOB_UNKNOWN", "blob unknown to registry"); return; }
        send_blob(fd, headm, rest, "application/octet-stream");
    } else fail(fd, 404, "UNSUPPORTED", "unknown path");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--serve")) {
        struct isolate_args a;
        memset(&a, 0, sizeof(a));
        a.path = "/bin/registryd";
        a.args = "registryd --serve";
        a.flags = SPAWN_BACKGROUND;
        a.ns = CLONE_NEWNET | CLONE_NEWUTS;
        a.hostname = "registry";
        a.bridge = "registry";
        a.ip = 0x0a630002;                           /* 10.99.0.2 */
        a.prefix = 24;
        int r = netjoin("registry", 0x0a630001, 24);   /* this namespace: 10.99.0.1 on the bridge */
        if (r < 0 && r != -EEXIST) { eprintf("registryd: cannot join bridge registry: %s\n", strerror(r)); return 1; }
        int pid = isolate(&a);
        if (pid < 0) { eprintf("registryd: cannot start: %s\n", strerror(pid)); return 1; }
        /* Return once the server answers, as scripts poll /v2/ after `docker run -d registry`:
           otherwise the next command races its start (it lost under QEMU). At most 2 s. */
        struct sockaddr_in to;
        memset(&to, 0, sizeof(to));
        to.family = AF_INET;
        to.addr = 0x0a630002;
        to.port = 5000;
        for (int t = 0; t < 200; t++) {
            int c = socket(AF_INET, SOCK_STREAM), up = c >= 0 && connect(c, &to, sizeof(to)) == 0;
            if (up) {
                static const char ping[] = "GET /v2/ HTTP/1.0\r\n\r\n";
                char buf[64];
                send(c, ping, (int)sizeof(ping) - 1);
                while (recv(c, buf, sizeof(buf)) > 0) {}
            }
            if (c >= 0) close(c);
            if (up || c < 0) break;
            sleep(1);
        }
        printf("registryd: pid %d serves " STORE " on 10.99.0.2:5000 (bridge registry)\n", pid);
        return 0;
    }
    struct sockaddr_in in;
    memset(&in, 0, sizeof(in));
    in.family = AF_INET;
    in.port = 5000;
    int s = socket(AF_INET, SOCK_STREAM), r = s;
    if (r >= 0) r = bind(s, &in, sizeof(in));
    if (r >= 0) r = listen(s, 4);
    if (r < 0) { eprintf("registryd: cannot listen: %s\n", strerror(r)); return 1; }
    for (;;) {
        int c = accept(s, 0, 0);
        if (c < 0) continue;
        serve(c);
        close(c);
    }
}
