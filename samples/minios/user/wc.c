/* wc.c - counts the lines, words and bytes of FILE (or the standard input). */
#include "ulib.h"

int main(int argc, char **argv)
{
    int fd = 0;
    if (argc > 1 && (fd = open(argv[1], O_RDONLY)) < 0) {
        printf("wc: %s: %s\n", argv[1], strerror(fd));
        return 1;
    }
    char buf[512];
    unsigned int lines = 0, words = 0, bytes = 0;
    int n, inword = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        bytes += (unsigned int)n;
        for (int i = 0; i < n; i++) {
            char c = buf[i];
            if (c == '\n') lines++;
            int space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
            if (!space && !inword) words++;
            inword = !space;
        }
    }
    printf("%7u %7u %7u%s%s\n", lines, words, bytes, argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
    return 0;
}
