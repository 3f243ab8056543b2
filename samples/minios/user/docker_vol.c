/*
 * docker_vol.c - the client's volume commands (included by docker.c):
 *   docker volume create [NAME] | ls | rm NAME | inspect NAME
 * each one request of the Engine API's /volumes paths (dockerd_vol.c).
 */

static int volume(int argc, char **argv)
{
    const char *c = argc > 2 ? argv[2] : "";
    char target[96], body[64];
    struct sbuf t = { target, 0, sizeof(target), 0 }, b = { body, 0, sizeof(body), 0 };
    if (!strcmp(c, "create") && argc <= 4) {
        sfmt(&b, "{\"Name\":\"%s\"}", argc == 4 ? argv[3] : "");
        if (b.full || call("POST", "/volumes/create", body) < 0) return 1;
        char name[NAME_MAX + 1];
        json_str(http_body(resp), "Name", name, sizeof(name));
        printf("%s\n", name);
        return 0;
    }
    if (!strcmp(c, "ls") && argc == 3) {
        if (call("GET", "/volumes", 0) < 0) return 1;
        printf("DRIVER    VOLUME NAME\n");
        for (const char *o = strstr(http_body(resp), "{\"Name\""); o; o = strstr(o + 1, "{\"Name\"")) {
            char name[NAME_MAX + 1], driver[16];
            json_str(o, "Name", name, sizeof(name));
            json_str(o, "Driver", driver, sizeof(driver));
            printf("%-8s  %s\n", driver, name);
        }
        return 0;
    }
    if ((!strcmp(c, "rm") || !strcmp(c, "inspect")) && argc == 4) {
        sfmt(&t, "/volumes/%s", argv[3]);
        if (t.full || call(c[0] == 'r' ? "DELETE" : "GET", target, 0) < 0) return 1;
        if (c[0] == 'r') printf("%s\n", argv[3]); else puts(http_body(resp));
        return 0;
    }
    eprintf("usage: docker volume create [NAME] | ls | rm NAME | inspect NAME\n");
    return 2;
}
