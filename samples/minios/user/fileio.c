/* fileio.c - a file-heavy workload: ROUNDS times, creates a file, writes
 * 32 KiB in 512-byte writes, reads it back with lseek + read, checks the
 * bytes and unlinks it; `fileio [ROUNDS]` (default 10). Compare its cost in a
 * plain process and inside `isolate` (samples/README.md). */
#include "ulib.h"

static char buf[512];

int main(int argc, char **argv)
{
    int rounds = 10, calls = 0;
    if (argc > 1) { rounds = 0; for (char *s = argv[1]; *s >= '0' && *s <= '9'; s++) rounds = rounds * 10 + (*s - '0'); }
    for (int r = 0; r < rounds; r++) {
        int fd = open("fileio.tmp", O_RDWR | O_CREAT | O_TRUNC);
        if (fd < 0) { printf("fileio: open: %s\n", strerror(fd)); return 1; }
        for (int i = 0; i < 64; i++) {
            memset(buf, 'a' + (i + r) % 26, sizeof(buf));
            if (write(fd, buf, sizeof(buf)) != (int)sizeof(buf)) { printf("fileio: write failed\n"); return 1; }
        }
        lseek(fd, 0, SEEK_SET);
        for (int i = 0; i < 64; i++) {
            if (read(fd, buf, sizeof(buf)) != (int)sizeof(buf) || buf[511] != 'a' + (i + r) % 26) {
                printf("fileio: read back wrong data\n");
                return 1;
            }
        }
        close(fd);
        unlink("fileio.tmp");
        calls += 2 + 64 + 1 + 64 + 2;
    }
    printf("fileio: %d rounds, %d system calls, 32 KiB written and read back each\n", rounds, calls);
    return 0;
}
