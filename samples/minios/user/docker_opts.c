/*
 * docker_opts.c - the client's conversions of docker run's options (included by docker.c):
 *   --cpus C  ->  HostConfig.NanoCpus = C * 10^9, as the Docker CLI sends it.
 */

/* "0.5" -> 500000000; -1 if it is not a decimal number of at most 4 CPUs. */
static int nano_cpus(const char *s)
{
    unsigned int whole = 0, frac = 0, scale = 1000000000u;
    int digits = 0;
    for (; *s >= '0' && *s <= '9' && whole < 5; s++, digits++) whole = whole * 10 + (unsigned int)(*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++, digits++)
            if (scale > 1) { scale /= 10; frac += (unsigned int)(*s - '0') * scale; }
    if (*s || !digits || whole > 4 || (whole == 4 && frac)) return -1;
    return (int)(whole * 1000000000u + frac);
}
