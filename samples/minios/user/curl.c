/*
 * curl.c - a small HTTP client, curl(1)'s few options that talk to a REST API
 * by hand:
 *   curl [-i] [-X METHOD] [-d BODY] [--unix-socket PATH] http://HOST[:PORT]/PATH
 * HOST is an address, localhost or a name of /etc/hosts (resolve(): no DNS).
 * With --unix-socket the host part is not used (write http://localhost/...).
 * Prints the answer's body (-i: with the status line and headers). Exit
 * status 0, or 7 when it cannot connect (curl's number), 22 for an HTTP
 * error (what curl -f gives).
 */
#include "http.h"

static char resp[4096];

int main(int argc, char **argv)
{
    const char *method = 0, *body = 0, *sock = 0, *url = 0;
    int headers = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-i")) headers = 1;
        else if (!strcmp(argv[i], "-X") && i + 1 < argc) method = argv[++i];
        else if (!strcmp(argv[i], "-d") && i + 1 < argc) body = argv[++i];
        else if (!strcmp(argv[i], "--unix-socket") && i + 1 < argc) sock = argv[++i];
        else if (!url && argv[i][0] != '-') url = argv[i];
        else url = 0, i = argc;
    }
    if (!url || strncmp(url, "http://", 7)) {
        eprintf("usage: curl [-i] [-X METHOD] [-d BODY] [--unix-socket PATH] http://HOST[:PORT]/PATH\n");
        return 2;
    }
    const char *host = url + 7, *path = strchr(host, '/');
    if (!path) path = "/";
    char h[32];
    int n = 0, port = 80;
    while (host[n] && host[n] != '/' && host[n] != ':' && n < 31) { h[n] = host[n]; n++; }
    h[n] = 0;
    if (host[n] == ':') {
        port = 0;
        for (const char *p = host + n + 1; *p >= '0' && *p <= '9'; p++) port = port * 10 + (*p - '0');
    }
    unsigned int ip = 0;
    if (!sock && resolve(h, &ip)) {                 /* minios has no DNS: /etc/hosts only */
        eprintf("curl: (6) Could not resolve host: %s\n", h);
        return 6;
    }
    int fd = http_connect(sock, ip, port, 0);
    if (fd < 0) { eprintf("curl: (7) cannot connect: %s\n", strerror(fd)); return 7; }
    n = http_do(fd, method ? method : body ? "POST" : "GET", path, body, resp, sizeof(resp));
    close(fd);
    if (n < 0) { eprintf("curl: (56) %s\n", strerror(n)); return 56; }
    puts(headers ? resp : http_body(resp));
    return http_status(resp) >= 400 ? 22 : 0;
}
