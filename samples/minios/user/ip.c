/*
 * ip.c - the interfaces of this process's network namespace, a small ip(8):
 *   ip                                   list them (ip addr)
 *   ip addr add A.B.C.D/N dev BRIDGE     plug a new interface of this namespace
 *                                        into BRIDGE with that address
 */
#include "ulib.h"

int main(int argc, char **argv)
{
    if (argc == 6 && !strcmp(argv[1], "addr") && !strcmp(argv[2], "add") && !strcmp(argv[4], "dev")) {
        unsigned int addr;
        int prefix, r;
        if (inet_parse(argv[3], &addr, &prefix)) { eprintf("ip: bad address %s\n", argv[3]); return 2; }
        if ((r = netjoin(argv[5], addr, prefix)) < 0) { eprintf("ip: %s\n", strerror(r)); return 1; }
        return 0;
    }
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "addr"))) {
        eprintf("usage: ip [addr] | ip addr add A.B.C.D/N dev BRIDGE\n");
        return 2;
    }
    struct netif nf;
    char a[16];
    for (int i = 0; netif(i, &nf) == 1; i++) {
        printf("%d: %-5s %s/%d", i + 1, nf.name, inet_format(nf.addr, a), nf.prefix);
        if (nf.bridge[0]) printf("  bridge %s", nf.bridge);
        printf("\n");
    }
    return 0;
}
