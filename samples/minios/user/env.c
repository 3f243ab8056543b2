/*
 * env.c - prints the environment, one "K=V" a line, as env(1) without
 * arguments: what `docker run -e K=V` (or the image's ENV) gave a container.
 * `env NAME` prints only NAME's value (as printenv(1)); status 1 if unset.
 */
#include "ulib.h"

int main(int argc, char **argv)
{
    if (argc > 1) {
        const char *v = getenv(argv[1]);
        if (v) printf("%s\n", v);
        return v ? 0 : 1;
    }
    for (char **e = environ; e && *e; e++) printf("%s\n", *e);
    return 0;
}
