/*
 * sha256.h - SHA-256 (FIPS 180-4), the hash of the engine's content digests
 * ("sha256:<64 hex digits>", as in the OCI image spec and Docker's registry).
 * sha256.c is compiled twice: into dockerd and registryd for minios, and into
 * the host image builder (samples/minios/images/imgbuild.c); it needs no libc.
 * tests/images.rs checks the committed digests against the host's sha256sum.
 */
#ifndef MINIOS_SHA256_H
#define MINIOS_SHA256_H

struct sha256 {
    unsigned int h[8], lo, hi;        /* the state; the length in bytes (64 bits as lo + hi) */
    unsigned char buf[64];
    unsigned int nbuf;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, unsigned int len);
/* Ends the hash: out gets "sha256:" and 64 lowercase hex digits and a NUL (72 bytes). */
void sha256_final(struct sha256 *s, char out[72]);
#endif
