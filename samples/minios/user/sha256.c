/* sha256.c - SHA-256 as FIPS 180-4 sections 4.1.2, 4.2.2, 5.1.1, 6.2 describe it (see sha256.h). */
#include "sha256.h"

static const unsigned int K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static unsigned int ror(unsigned int x, int n) { return (x >> n) | (x << (32 - n)); }

static void block(struct sha256 *s, const unsigned char *p)
{
    unsigned int w[64], v[8];
    for (int t = 0; t < 16; t++)
        w[t] = (unsigned int)p[4 * t] << 24 | (unsigned int)p[4 * t + 1] << 16
             | (unsigned int)p[4 * t + 2] << 8 | p[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        unsigned int s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
        unsigned int s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    for (int i = 0; i < 8; i++) v[i] = s->h[i];
    for (int t = 0; t < 64; t++) {
        unsigned int e = v[4], a = v[0];
        unsigned int t1 = v[7] + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & v[5]) ^ (~e & v[6])) + K[t] + w[t];
        unsigned int t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));
        for (int i = 7; i > 0; i--) v[i] = v[i - 1];
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) s->h[i] += v[i];
}

void sha256_init(struct sha256 *s)
{
    static const unsigned int h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    for (int i = 0; i < 8; i++) s->h[i] = h0[i];
    s->lo = s->hi = s->nbuf = 0;
}

void sha256_update(struct sha256 *s, const void *data, unsigned int len)
{
    const unsigned char *p = data;
    if (s->lo + len < s->lo) s->hi++;
    s->lo += len;
    while (len--) {
        s->buf[s->nbuf++] = *p++;
        if (s->nbuf == 64) { block(s, s->buf); s->nbuf = 0; }
    }
}

void sha256_final(struct sha256 *s, char out[72])
{
    static const char hex[] = "0123456789abcdef";
    unsigned int hi = s->hi << 3 | s->lo >> 29, lo = s->lo << 3;   /* the length in bits */
    s->buf[s->nbuf++] = 0x80;
    if (s->nbuf > 56) {
        while (s->nbuf < 64) s->buf[s->nbuf++] = 0;
        block(s, s->buf);
        s->nbuf = 0;
    }
    while (s->nbuf < 56) s->buf[s->nbuf++] = 0;
    for (int i = 0; i < 4; i++) {
        s->buf[56 + i] = (unsigned char)(hi >> (24 - 8 * i));
        s->buf[60 + i] = (unsigned char)(lo >> (24 - 8 * i));
    }
    block(s, s->buf);
    const char *pre = "sha256:";
    for (int i = 0; i < 7; i++) out[i] = pre[i];
    for (int i = 0; i < 32; i++) {
        unsigned char b = (unsigned char)(s->h[i / 4] >> (24 - 8 * (i % 4)));
        out[7 + 2 * i] = hex[b >> 4];
        out[8 + 2 * i] = hex[b & 15];
    }
    out[71] = 0;
}
