/*
 * docker_images.c - the client's image commands (included by docker.c):
 *   docker images                 GET /images/json: REPOSITORY TAG IMAGE ID SIZE DIGEST
 *   docker pull NAME[:TAG]        POST /images/create?fromImage=NAME&tag=TAG
 *   docker push NAME[:TAG]        POST /images/NAME/push?tag=TAG
 *   docker tag SRC[:T] DST[:T]    POST /images/SRC/tag?repo=DST&tag=T
 *   docker rmi NAME[:TAG]         DELETE /images/NAME[:TAG]
 * pull and push print dockerd's progress lines ({"status":..., "id":...}, one a
 * line, as the Engine API streams them) the way docker(1) does.
 */

static void images_table(void)
{
    printf("REPOSITORY  TAG       IMAGE ID      SIZE    DIGEST\n");
    for (const char *o = strchr(http_body(resp), '{'); o; o = strchr(o + 1, '{')) {
        char id[80], tags[64], dig[96];
        if (json_str(o, "Id", id, sizeof(id))) id[0] = 0;
        if (!strncmp(id, "sha256:", 7)) {                /* the short ID: 12 hex digits */
            memcpy(id, id + 7, 12);
            id[12] = 0;
        }
        const char *t = strstr(o, "\"RepoTags\":[\"");
        int n = 0;
        for (t = t ? t + 13 : ""; *t && *t != '"' && n < 63; t++) tags[n++] = *t;
        tags[n] = 0;
        char *colon = strchr(tags, ':');
        if (colon) *colon++ = 0;
        const char *d = strstr(o, "\"RepoDigests\":[\"");
        n = 0;
        for (d = d ? d + 16 : ""; *d && *d != '"' && n < 95; d++) dig[n++] = *d;
        dig[n] = 0;
        const char *at = strchr(dig, '@');
        int size = json_num(o, "Size");
        printf("%-10s  %-8s  %-12s  %-6d  %s\n", tags, colon ? colon : "", id, size, at ? at + 1 : "<none>");
    }
}

/* Prints progress lines: "ID: STATUS" or "STATUS". */
static void progress_lines(void)
{
    for (const char *o = strchr(http_body(resp), '{'); o; o = strchr(o + 1, '{')) {
        char obj[192], st[128], id[32];
        int n = 0;
        while (o[n] && o[n] != '}' && n < (int)sizeof(obj) - 1) { obj[n] = o[n]; n++; }   /* this object only */
        obj[n] = 0;
        if (json_str(obj, "status", st, sizeof(st))) continue;
        if (json_str(obj, "id", id, sizeof(id))) printf("%s\n", st);
        else printf("%s: %s\n", id, st);
    }
}

/* "NAME[:TAG]" -> name and tag (tag "" when absent). */
static void split_tag(const char *ref, char *name, char *tag)
{
    int n = 0;
    while (ref[n] && ref[n] != ':' && n < 63) { name[n] = ref[n]; n++; }
    name[n] = 0;
    const char *t = ref[n] == ':' ? ref + n + 1 : "";
    memcpy(tag, t, strlen(t) < 31 ? strlen(t) + 1 : 32);
    tag[31] = 0;
}

/* docker pull|push|tag|rmi|images; -1 when argv is not one of them. */
static int image_command(int argc, char **argv)
{
    const char *c = argv[1];
    char target[160], name[64], tag[32];
    struct sbuf t = { target, 0, sizeof(target), 0 };
    if (!strcmp(c, "images") && argc == 2) {
        if (call("GET", "/images/json", 0) < 0) return 1;
        images_table();
        return 0;
    }
    if ((!strcmp(c, "pull") || !strcmp(c, "push")) && argc == 3) {
        split_tag(argv[2], name, tag);
        if (c[1] == 'u' && c[2] == 'l') sfmt(&t, "/images/create?fromImage=%s&tag=%s", name, tag[0] ? tag : "latest");
        else sfmt(&t, "/images/%s/push?tag=%s", name, tag[0] ? tag : "latest");
        if (t.full || call("POST", target, 0) < 0) return 1;
        progress_lines();
        if (c[1] == 'u' && c[2] == 'l') printf("%s:%s\n", name, tag[0] ? tag : "latest");
        return 0;
    }
    if (!strcmp(c, "tag") && argc == 4) {
        split_tag(argv[3], name, tag);
        sfmt(&t, "/images/%s/tag?repo=%s&tag=%s", argv[2], name, tag[0] ? tag : "latest");
        if (t.full || call("POST", target, 0) < 0) return 1;
        return 0;
    }
    if (!strcmp(c, "rmi") && argc == 3) {
        sfmt(&t, "/images/%s", argv[2]);
        if (t.full || call("DELETE", target, 0) < 0) return 1;
        char u[64];
        if (!json_str(http_body(resp), "Untagged", u, sizeof(u))) printf("Untagged: %s\n", u);
        return 0;
    }
    return -1;
}
