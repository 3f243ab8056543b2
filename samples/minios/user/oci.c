/*
 * oci.c - what registryd and dockerd's image store share (included by both,
 * like http.h): names and digests as the OCI distribution spec writes them,
 * blob files named by their digest, and HTTP messages whose bodies are too
 * big for one buffer (blobs are streamed between a socket and a file while
 * SHA-256 runs over them; see sha256.c).
 *
 * A digest is "sha256:" + 64 lowercase hex digits. minios file names hold at
 * most NAME_MAX (27) characters, so a blob's file is named by the first 24 hex
 * digits (96 bits); the name only finds the file: whoever fetches a blob
 * checks all 256 bits of its content (dockerd on pull, registryd on push).
 */
#include "http.h"
#include "sha256.c"

#define DIGEST_LEN 71                       /* "sha256:" + 64 */

/* A repository name: 1-27 of a-z 0-9 . _ -, starting with a letter or digit. */
static int oci_name_ok(const char *s)
{
    int n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (n && (c == '.' || c == '_' || c == '-'))))
            return 0;
    }
    return n > 0 && n <= NAME_MAX;
}

/* A tag: 1-27 of A-Z a-z 0-9 . _ -, not starting with "." or "_" (those are the store's). */
static int oci_tag_ok(const char *s)
{
    int n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || (n && (c == '.' || c == '_' || c == '-'))))
            return 0;
    }
    return n > 0 && n <= NAME_MAX;
}

static int oci_digest_ok(const char *d)
{
    if (strncmp(d, "sha256:", 7)) return 0;
    int n = 0;
    for (d += 7; d[n]; n++)
        if (!((d[n] >= '0' && d[n] <= '9') || (d[n] >= 'a' && d[n] <= 'f'))) return 0;
    return n == 64;
}

/* The first 12 hex digits of a digest (Docker's short ID), for messages. */
__attribute__((unused)) static char *oci_short(const char *digest, char out[13])
{
    for (int i = 0; i < 12; i++) out[i] = digest[7 + i];
    out[12] = 0;
    return out;
}

/* DIR/HEX24: where the blob of a (valid) digest lives in a store. */
static void oci_blob_path(const char *dir, const char *digest, char *out)
{
    struct sbuf b = { out, 0, PATH_MAX, 0 };
    sfmt(&b, "%s/", dir);
    for (int i = 0; i < 24; i++) sbuf_put(digest[7 + i], &b);
}

/* Reads an HTTP head (up to the blank line) into buf; *extra = bytes of the body
 * already read after it (they follow the head in buf). Head length or -errno. */
static int oci_read_head(int fd, char *buf, int cap, int *extra)
{
    int n = 0;
    for (;;) {
        buf[n] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            int head = (int)(end - buf) + 4;
            *extra = n - head;
            return head;
        }
        if (n == cap - 1) return -E2BIG;
        int k = recv(fd, buf + n, cap - 1 - n);
        if (k <= 0) return k < 0 ? k : -EPIPE;
        n += k;
    }
}

/* The value of header `name` ("Content-Length") in a head, cut at cap - 1; 0 or -1. */
static int oci_header(const char *head, const char *name, char *out, int cap)
{
    int k = (int)strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
        int i = 0;
        while (i < k && (p[2 + i] | 32) == (name[i] | 32)) i++;
        if (i < k || p[2 + k] != ':') continue;
        const char *v = p + 3 + k;
        while (*v == ' ') v++;
        int n = 0;
        while (*v && *v != '\r' && n < cap - 1) out[n++] = *v++;
        out[n] = 0;
        return 0;
    }
    return -1;
}

static int oci_content_length(const char *head)
{
    char v[16];
    if (oci_header(head, "Content-Length", v, sizeof(v))) return -1;
    int n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || n > 10000000) return -1;
        n = n * 10 + (*p - '0');
    }
    return n;
}

/* Moves a body of len bytes (the first `have` already in pre) from socket `from`
 * to file `to` (-1: nowhere), hashing it into digest. 0 or -errno. */
static int oci_stream(int from, const char *pre, int have, int len, int to, char digest[72])
{
    struct sha256 s;
    char buf[512];
    sha256_init(&s);
    if (have > len) have = len;
    sha256_update(&s, pre, (unsigned int)have);
    if (to >= 0 && have && write(to, pre, have) != have) return -ENOSPC;
    for (int n = have; n < len;) {
        int k = recv(from, buf, len - n < (int)sizeof(buf) ? len - n : (int)sizeof(buf));
        if (k <= 0) return -EPIPE;
        sha256_update(&s, buf, (unsigned int)k);
        if (to >= 0 && write(to, buf, k) != k) return -ENOSPC;
        n += k;
    }
    sha256_final(&s, digest);
    return 0;
}

/* Sends a file's bytes to a socket. 0 or -errno. */
static int oci_send_file(int sock, const char *path)
{
    char buf[512];
    int fd = open(path, O_RDONLY), k;
    if (fd < 0) return fd;
    while ((k = read(fd, buf, sizeof(buf))) > 0)
        if (send_all(sock, buf, k)) { close(fd); return -EPIPE; }
    close(fd);
    return k;
}

static int oci_file_size(const char *path)
{
    struct stat st;
    int r = stat(path, &st);
    return r < 0 ? r : (int)st.size;
}

/* Reads a small file into buf (NUL-terminated, cut at cap - 1): its length or -errno. */
static int oci_read_file(const char *path, char *buf, int cap)
{
    int fd = open(path, O_RDONLY), n = 0, k;
    if (fd < 0) return fd;
    while (n < cap - 1 && (k = read(fd, buf + n, cap - 1 - n)) > 0) n += k;
    close(fd);
    buf[n] = 0;
    return n;
}

static int oci_write_file(const char *path, const char *buf, int len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC);
    if (fd < 0) return fd;
    int w = len ? write(fd, buf, len) : 0;
    close(fd);
    return w == len ? 0 : -ENOSPC;
}

/* The n-th (0 = first) "digest":"..." of a manifest (the config's, then the layers'). */
static int oci_nth_digest(const char *manifest, int n, char out[72])
{
    const char *p = manifest;
    for (int i = 0; (p = strstr(p, "\"digest\"")); i++, p += 8)
        if (i == n) return json_str(p, "digest", out, 72) || !oci_digest_ok(out) ? -1 : 0;
    return -1;
}
