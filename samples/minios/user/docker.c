/*
 * docker.c - the engine's client, a small docker(1): it turns each command
 * into HTTP requests to dockerd on /var/run/docker.sock (the Engine API's
 * paths) and prints the answers. It never calls isolate() itself.
 *
 *   docker version | images | ps [-a] | logs NAME | stop NAME | rm NAME | inspect NAME
 *   docker run [-d] [--name NAME] [--memory BYTES] [--cpus C] [--network NET] [-v VOL:/PATH] [-e K=V]
 *              IMAGE [CMD [ARGS]]
 *   docker pull | push | rmi NAME[:TAG], docker tag SRC DST (docker_images.c)
 *   docker build -t NAME[:TAG] DIR   (docker_build.c; DIR/Dockerfile, built by dockerd)
 *   docker volume create [NAME] | ls | rm NAME | inspect NAME   (docker_vol.c)
 *   docker network create NAME | ls | rm NAME | inspect NAME | connect NET CONTAINER   (docker_net.c)
 * Without CMD, run uses the image's (its config's Cmd). Without --network a container is on
 * the default network, "bridge".
 * run = POST /containers/create, POST .../start, then (without -d)
 * POST .../wait and GET .../logs; the exit status is the container's.
 * It waits up to a second for the daemon to appear (dockerd & just before).
 */
#include "http.h"

#define SOCK "/var/run/docker.sock"
#define NBIND_MAX 2                 /* -v per container (dockerd_vol.c) */
#define NENV_MAX 8                  /* -e per container */

static char resp[4096];                /* a build's steps fill it */

/* One request; the status code, or -1 after saying why. */
static int call(const char *method, const char *target, const char *body)
{
    int fd = http_connect(SOCK, 0, 0, 100);
    if (fd < 0) { eprintf("docker: cannot reach the daemon at %s: %s\n", SOCK, strerror(fd)); return -1; }
    int n = http_do(fd, method, target, body, resp, sizeof(resp));
    close(fd);
    int code = n < 0 ? -1 : http_status(resp);
    if (code < 0) { eprintf("docker: no answer from the daemon\n"); return -1; }
    if (code >= 400) {
        char msg[128];
        if (json_str(http_body(resp), "message", msg, sizeof(msg))) memcpy(msg, "?", 2);
        eprintf("docker: Error response from daemon: %s\n", msg);
        return -1;
    }
    return code;
}

#include "docker_vol.c"             /* docker volume ... */
#include "docker_net.c"             /* docker network ... */
#include "docker_opts.c"            /* --cpus */

/* Prints one line per object of the JSON array in resp's body. */
static void table(int containers)
{
    const char *p = http_body(resp);
    if (containers) printf("CONTAINER ID  IMAGE   COMMAND          STATUS      NAMES\n");
    for (const char *o = strchr(p, '{'); o; o = strchr(o + 1, '{')) {
        char a[64], b[64], cmd[64], state[16], name[32];
        json_str(o, "Id", a, sizeof(a));
        json_str(o, "Image", b, sizeof(b));
        json_str(o, "Command", cmd, sizeof(cmd));
        json_str(o, "State", state, sizeof(state));
        const char *nm = strstr(o, "\"Names\":[\"/");
        int n = 0;
        for (nm = nm ? nm + 11 : ""; *nm && *nm != '"' && n < 31; nm++) name[n++] = *nm;
        name[n] = 0;
        if (!strcmp(state, "exited")) {
            struct sbuf sb = { state, 0, sizeof(state), 0 };
            sfmt(&sb, "exited (%d)", json_num(o, "ExitCode"));
        }
        printf("%-12s  %-6s  %-15s  %-10s  %s\n", a, b, cmd, state, name);
    }
}

#include "docker_images.c"
#include "docker_build.c"

static int run(int argc, char **argv)
{
    int detach = 0, i = 2;
    const char *name = 0, *mem = 0, *net = 0, *vols[NBIND_MAX];
    int nvol = 0, nenv = 0, cpus = 0;
    const char *envs[NENV_MAX];
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-d")) detach = 1;
        else if (!strcmp(argv[i], "-v") && i + 1 < argc && nvol < NBIND_MAX) vols[nvol++] = argv[++i];
        else if (!strcmp(argv[i], "-e") && i + 1 < argc && nenv < NENV_MAX) envs[nenv++] = argv[++i];
        else if (!strcmp(argv[i], "--cpus") && i + 1 < argc && (cpus = nano_cpus(argv[++i])) >= 0) continue;
        else if (!strcmp(argv[i], "--name") && i + 1 < argc) name = argv[++i];
        else if (!strcmp(argv[i], "--memory") && i + 1 < argc) mem = argv[++i];
        else if (!strcmp(argv[i], "--network") && i + 1 < argc) net = argv[++i];
        else { eprintf("docker run: unknown option %s\n", argv[i]); return 2; }
    }
    if (argc - i < 1) {
        eprintf("usage: docker run [-d] [--name N] [--memory BYTES] [--cpus C] [--network NET] [-v VOL:/PATH]"
                " [-e K=V] IMAGE [CMD [ARGS]]\n");
        return 2;
    }
    char body[768], target[96];
    struct sbuf b = { body, 0, sizeof(body), 0 }, t = { target, 0, sizeof(target), 0 };
    sfmt(&b, "{\"Image\":\"%s\",\"Env\":[", argv[i]);
    for (int k = 0; k < nenv; k++) sfmt(&b, "%s\"%s\"", k ? "," : "", envs[k]);
    sfmt(&b, "],\"Cmd\":[");
    for (int k = i + 1; k < argc; k++) sfmt(&b, "%s\"%s\"", k > i + 1 ? "," : "", argv[k]);
    sfmt(&b, "],\"HostConfig\":{\"Memory\":%s,\"NanoCpus\":%d,\"NetworkMode\":\"%s\",\"Binds\":[", mem ? mem : "0",
         cpus, net ? net : "default");
    for (int k = 0; k < nvol; k++) sfmt(&b, "%s\"%s\"", k ? "," : "", vols[k]);
    sfmt(&b, "]}}");
    sfmt(&t, "/containers/create%s%s", name ? "?name=" : "", name ? name : "");
    if (b.full || t.full) { eprintf("docker run: arguments too long\n"); return 2; }
    if (call("POST", target, body) < 0) return 125;
    char id[16];
    if (json_str(http_body(resp), "Id", id, sizeof(id))) return 125;
    t.n = 0;
    sfmt(&t, "/containers/%s/start", id);
    if (call("POST", target, 0) < 0) return 125;
    if (detach) { printf("%s\n", id); return 0; }
    t.n = 0;
    sfmt(&t, "/containers/%s/wait", id);
    if (call("POST", target, 0) < 0) return 125;
    int status = json_num(http_body(resp), "StatusCode");
    t.n = 0;
    sfmt(&t, "/containers/%s/logs", id);
    if (call("GET", target, 0) < 0) return 125;
    puts(http_body(resp));
    return status;
}

int main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "";
    char target[96];
    struct sbuf t = { target, 0, sizeof(target), 0 };
    if (!strcmp(c, "version") && argc == 2) {
        if (call("GET", "/version", 0) < 0) return 1;
        char v[32], api[16], os[16];
        json_str(http_body(resp), "Version", v, sizeof(v));
        json_str(http_body(resp), "ApiVersion", api, sizeof(api));
        json_str(http_body(resp), "Os", os, sizeof(os));
        printf("Server: dockerd %s (API %s, %s) at %s\n", v, api, os, SOCK);
        return 0;
    }
    if (argc > 1) {
        int r = image_command(argc, argv);           /* images, pull, push, tag, rmi */
        if (r >= 0) return r;
    }
    if (!strcmp(c, "ps") && (argc == 2 || (argc == 3 && !strcmp(argv[2], "-a")))) {
        if (call("GET", argc == 3 ? "/containers/json?all=1" : "/containers/json", 0) < 0) return 1;
        table(1);
        return 0;
    }
    if ((!strcmp(c, "logs") || !strcmp(c, "rm") || !strcmp(c, "inspect") || !strcmp(c, "stop")) && argc == 3) {
        int rm = c[0] == 'r', stop = c[0] == 's';
        sfmt(&t, "/containers/%s%s", argv[2], rm ? "" : stop ? "/stop" : c[0] == 'l' ? "/logs" : "/json");
        if (t.full || call(rm ? "DELETE" : stop ? "POST" : "GET", target, 0) < 0) return 1;
        if (rm || stop) printf("%s\n", argv[2]); else puts(http_body(resp));
        return 0;
    }
    if (!strcmp(c, "run")) return run(argc, argv);
    if (!strcmp(c, "build")) return build_command(argc, argv);
    if (!strcmp(c, "volume")) return volume(argc, argv);
    if (!strcmp(c, "network")) return network(argc, argv);
    eprintf("usage: docker version | images | pull | push | tag | rmi | build | ps [-a] | run ... | logs NAME | stop NAME"
            " | rm NAME | inspect NAME | volume ... | network ...\n");
    return 2;
}
