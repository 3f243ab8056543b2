/* grep.c - prints the lines of FILE (or the standard input) that contain PATTERN
 * (a plain substring, no regular expressions); exit status 0 if any did, 1 if not. */
#include "ulib.h"

static char buf[512], text[256];

int main(int argc, char **argv)
{
    if (argc < 2) { printf("usage: grep PATTERN [FILE]\n"); return 2; }
    int fd = 0;
    if (argc > 2 && (fd = open(argv[2], O_RDONLY)) < 0) {
        printf("grep: %s: %s\n", argv[2], strerror(fd));
        return 2;
    }
    int n, len = 0, found = 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0 || len) {
        if (n <= 0) buf[n = 0] = '\n', n = 1;          /* a last line without '\n' */
        for (int i = 0; i < n; i++) {
            if (buf[i] != '\n') {
                if (len < (int)sizeof(text) - 1) text[len++] = buf[i];   /* too long: cut */
                continue;
            }
            text[len] = 0;
            if (strstr(text, argv[1])) { printf("%s\n", text); found = 1; }
            len = 0;
        }
    }
    return found ? 0 : 1;
}
