/* cat.c - copies each FILE (or the standard input) to the standard output. */
#include "ulib.h"

static int copy(int fd, const char *name)
{
    char buf[512];
    int n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        if (write(1, buf, n) != n) return 1;
    if (n < 0) { printf("cat: %s: %s\n", name, strerror(n)); return 1; }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) return copy(0, "stdin");
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) { printf("cat: %s: %s\n", argv[i], strerror(fd)); bad = 1; continue; }
        bad |= copy(fd, argv[i]);
        close(fd);
    }
    return bad;
}
