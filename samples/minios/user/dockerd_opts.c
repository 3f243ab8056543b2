/*
 * dockerd_opts.c - dockerd's per-container run options that are neither
 * volumes nor networks (included by dockerd.c):
 *   Config.Env ["K=V", ...] (docker run -e): the container's environment, handed to
 *   the kernel in isolate_args.env (the envp of execve(2); `env` prints it).
 *   HostConfig.NanoCpus (docker run --cpus C: C * 10^9): the group's cpu.max, a hard
 *   cap of C * 100000 microseconds of CPU per 100000 (cgroup.c), 0.1 to 1 CPU here (one
 *   CPU, and the kernel counts CPU time in 10 ms ticks).
 */

struct opts { char env[ENV_MAX]; int cpu_max; };
static struct opts opts[NCONT];

/* create(): Env into opts[k]; 0, or the message of a 400. */
static const char *opts_parse(struct container *k, const char *body)
{
    struct opts *o = &opts[k - conts];
    memset(o, 0, sizeof(*o));
    const char *p = strstr(body, "\"Env\"");
    p = p ? strchr(p, '[') : 0;
    int n = 0;
    while (p && *p && *p != ']') {
        if (*p++ != '"') continue;
        int start = n;
        if (n) o->env[n++] = '\n';
        while (*p && *p != '"' && *p != '\n' && n < ENV_MAX - 1) {
            if (*p == '\\' && p[1]) p++;
            o->env[n++] = *p++;
        }
        if (*p++ != '"') return "invalid or too long environment";
        o->env[n] = 0;
        const char *eq = strchr(o->env + start + (start > 0), '=');
        if (!eq || eq == o->env + start + (start > 0)) return "invalid environment variable (want K=V)";
    }
    p = strstr(body, "\"NanoCpus\"");                   /* json_num stops at 10^8: read it here */
    unsigned int nano = 0;
    for (p = p ? p + 11 : ""; *p == ' ' || *p == ':'; p++) {}
    for (; *p >= '0' && *p <= '9' && nano < 400000000u; p++) nano = nano * 10 + (unsigned int)(*p - '0');
    if (*p >= '0' && *p <= '9') return "range of CPUs is from 0.10 to 1.00";
    o->cpu_max = (int)(nano / 10000);                     /* microseconds per 100000 */
    if (o->cpu_max && (o->cpu_max < 10000 || o->cpu_max > 100000)) return "range of CPUs is from 0.10 to 1.00";
    return 0;
}

/* start(): the isolate() arguments these options set. */
static void opts_apply(struct container *k, struct isolate_args *a)
{
    a->env = opts[k - conts].env;
    a->cpu_max = opts[k - conts].cpu_max;
}

/* inspect: ,"Env":[...] at the end of Config. */
static void opts_inspect(struct sbuf *out, struct container *k)
{
    const char *e = opts[k - conts].env;
    sfmt(out, ",\"Env\":[");
    for (int first = 1; *e; first = 0) {
        sfmt(out, "%s\"", first ? "" : ",");
        while (*e && *e != '\n') sbuf_put(*e++, out);
        sfmt(out, "\"");
        if (*e) e++;
    }
    sfmt(out, "]");
}
