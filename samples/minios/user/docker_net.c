/*
 * docker_net.c - the client's network commands (included by docker.c):
 *   docker network create NAME | ls | rm NAME | inspect NAME | connect NET CONTAINER
 * each one request of the Engine API's /networks paths (dockerd_net.c).
 */

static int network(int argc, char **argv)
{
    const char *c = argc > 2 ? argv[2] : "";
    char target[96], body[96];
    struct sbuf t = { target, 0, sizeof(target), 0 }, b = { body, 0, sizeof(body), 0 };
    if (!strcmp(c, "create") && argc == 4) {
        sfmt(&b, "{\"Name\":\"%s\"}", argv[3]);
        if (b.full || call("POST", "/networks/create", body) < 0) return 1;
        char id[16];
        json_str(http_body(resp), "Id", id, sizeof(id));
        printf("%s\n", id);
        return 0;
    }
    if (!strcmp(c, "ls") && argc == 3) {
        if (call("GET", "/networks", 0) < 0) return 1;
        printf("NETWORK ID  NAME      DRIVER  SCOPE\n");
        for (const char *o = strstr(http_body(resp), "{\"Name\""); o; o = strstr(o + 1, "{\"Name\"")) {
            char name[32], id[16], driver[16];
            if (o[-1] == ':') continue;                /* a container inside a network */
            json_str(o, "Name", name, sizeof(name));
            json_str(o, "Id", id, sizeof(id));
            json_str(o, "Driver", driver, sizeof(driver));
            printf("%-10s  %-8s  %-6s  local\n", id, name, driver);
        }
        return 0;
    }
    if ((!strcmp(c, "rm") || !strcmp(c, "inspect")) && argc == 4) {
        sfmt(&t, "/networks/%s", argv[3]);
        if (t.full || call(c[0] == 'r' ? "DELETE" : "GET", target, 0) < 0) return 1;
        if (c[0] == 'r') printf("%s\n", argv[3]); else puts(http_body(resp));
        return 0;
    }
    if (!strcmp(c, "connect") && argc == 5) {
        sfmt(&t, "/networks/%s/connect", argv[3]);
        sfmt(&b, "{\"Container\":\"%s\"}", argv[4]);
        if (t.full || b.full || call("POST", target, body) < 0) return 1;
        return 0;
    }
    eprintf("usage: docker network create NAME | ls | rm NAME | inspect NAME | connect NET CONTAINER\n");
    return 2;
}
