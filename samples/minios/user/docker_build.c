/*
 * docker_build.c - the client's `docker build -t NAME[:TAG] DIR` (included by
 * docker.c): POST /build?t=NAME:TAG&remote=DIR, the Docker Engine API's build
 * endpoint. Docker's client packs DIR (the build context) into a tar and sends
 * it as the body; here DIR is a path in minios's file system that dockerd reads
 * itself (a relative DIR is made absolute with the working directory).
 * dockerd runs the steps (dockerd_build.c) and answers with Docker's stream of
 * JSON lines: {"stream":TEXT} is printed as it is, {"error":MSG} ends the build
 * with exit status 1, as docker(1) does.
 */

/* Prints the stream's texts (unescaping \n \" \\); 0, or 1 after an error line. */
static int build_stream(const char *body)
{
    for (const char *o = strchr(body, '{'); o; o = strchr(o, '{')) {
        int err = !strncmp(o, "{\"error\":\"", 10), text = err || !strncmp(o, "{\"stream\":\"", 11);
        const char *p = o + (err ? 10 : 11);
        if (!text) { o++; continue; }
        if (err) eprintf("docker: ");
        char c;
        for (; *p && *p != '"'; p++) {
            c = *p;
            if (c == '\\' && p[1]) c = *++p == 'n' ? '\n' : *p;
            if (err) eprintf("%c", c); else printf("%c", c);
        }
        if (err) { eprintf("\n"); return 1; }
        o = p;
    }
    return 0;
}

static int build_command(int argc, char **argv)
{
    if (argc != 5 || strcmp(argv[2], "-t")) {
        eprintf("usage: docker build -t NAME[:TAG] DIR   (DIR holds a Dockerfile)\n");
        return 2;
    }
    char name[64], tag[32], dir[PATH_MAX], target[256];
    split_tag(argv[3], name, tag);
    struct sbuf d = { dir, 0, sizeof(dir), 0 }, t = { target, 0, sizeof(target), 0 };
    if (argv[4][0] != '/') {
        if (getcwd(dir, sizeof(dir)) < 0) dir[0] = 0;
        d.n = (int)strlen(dir);
        if (d.n > 1) sbuf_put('/', &d);
    }
    sfmt(&d, "%s", argv[4]);
    sfmt(&t, "/build?t=%s:%s&remote=%s", name, tag[0] ? tag : "latest", dir);
    if (d.full || t.full) { eprintf("docker build: arguments too long\n"); return 2; }
    if (call("POST", target, 0) < 0) return 1;
    return build_stream(http_body(resp));
}
