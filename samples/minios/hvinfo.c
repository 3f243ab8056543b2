/*
 * hvinfo.c - the `hv` shell command (system call SYS_HVINFO): does minios run
 * on bare metal or in a virtual machine, and whose? It follows the ABI of
 * ../common/hvabi.h: CPUID leaf 1 ECX bit 31 says a hypervisor is present
 * (AMD64 APM vol. 3, CPUID), leaf 0x40000000 gives its signature, and only
 * then is it safe to ask with VMMCALL (which raises #UD without a hypervisor:
 * APM vol. 3, VMMCALL).
 */
#include "kernel.h"
#include "../common/hvabi.h"

#ifdef PARAVIRT
/* The paravirtual build talks to tevmm through its own hypercalls (tevmm/hypercall.h), and
 * under tevmm its kernel pages must not outgrow the native kernel's (tests/tevmm.rs compares
 * their free-frame counts): no `hv` there. */
int hvinfo(u32 ubuf, u32 len)
{
    (void)ubuf, (void)len;
    return -ENOSYS;
}
#else

static void cpuid(u32 leaf, u32 r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(0));
}

struct sbuf { char *p; u32 n, len; };

static void put(char c, void *ctx)
{
    struct sbuf *b = ctx;
    if (b->n + 1 < b->len) b->p[b->n++] = c;
    b->p[b->n] = 0;
}

static void bprintf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vformat(put, b, fmt, ap);
    va_end(ap);
}

/* Writes "native", "virtualized by NAME (type T), vm N" or "virtualized by an unknown
 * hypervisor" into the user's buffer; returns its length or -EFAULT. */
int hvinfo(u32 ubuf, u32 len)
{
    if (!len || !user_ok(current->pd, ubuf, len)) return -EFAULT;
    struct sbuf b = {(char *)ubuf, 0, len};
    u32 r[4], sig[4] = {0};
    cpuid(1, r);
    if (!(r[2] & HVABI_CPUID_HV_BIT)) {
        bprintf(&b, "native");
        return (int)b.n;
    }
    cpuid(HVABI_CPUID_BASE, r);
    sig[0] = r[1], sig[1] = r[2], sig[2] = r[3];
    u32 a = HVABI_WHOAMI, name[4] = {0, 0, 0, 0}, vm = 0, type = 0;
    if (r[0] >= HVABI_CPUID_VERSION && !strncmp((char *)sig, HVABI_SIG_PREFIX, 8))
        __asm__ volatile("vmmcall"
                         : "+a"(a), "+b"(name[0]), "+c"(name[1]), "+d"(name[2]), "+S"(vm), "+D"(type));
    if (a == HVABI_OK)
        bprintf(&b, "virtualized by %s (type %u), vm %u", (char *)name, type, vm);
    else
        bprintf(&b, "virtualized by an unknown hypervisor");
    return (int)b.n;
}
#endif
