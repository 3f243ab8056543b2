/* hog.c - grows its heap one page at a time (writing each page) until sbrk()
 * fails, then says how much it got: under a group's memory.max the kernel
 * refuses the page that would go over the limit. `hog [MAXPAGES]`. */
#include "ulib.h"

int main(int argc, char **argv)
{
    unsigned int max = 256, pages = 0;
    if (argc > 1) { max = 0; for (char *s = argv[1]; *s >= '0' && *s <= '9'; s++) max = max * 10 + (unsigned int)(*s - '0'); }
    while (pages < max) {
        char *p = sbrk(4096);
        if (p == (char *)-1) break;
        for (int i = 0; i < 4096; i += 512) p[i] = (char)i;
        pages++;
    }
    printf("hog: got %u heap pages (%u KiB)%s\n", pages, pages * 4,
           pages < max ? ", then sbrk failed" : "");
    return 0;
}
