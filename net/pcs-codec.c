/*
 * 8b/10b bulk encode and decode (IEEE 802.3 clause 36).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <string.h>

#include "pcs-codec.h"

/*
 * AVX2 bulk codec, chosen at run time on x86 hosts that have it: 32
 * octets per step, pshufb for the sub-block tables, a flip-bit prefix XOR
 * for running disparity.  Other hosts use the portable table code below
 * (an SSSE3 variant was no faster than that, and was dropped).
 */
#if defined(__x86_64__) || defined(__i386__)
#define PCS_SIMD_AVX2 1
#include <immintrin.h>
#endif

/*
 * The portable bulk codec.  One table look-up per octet or code group,
 * indexed by the data alone, gives the results for both disparity columns
 * and whether the code group flips RD.  RD lives in bit 5 of a shift
 * count s (6 at RD-, 38 at RD+; only bits 0-5 count) that picks the
 * right field; adding an entry to s steps RD (bits 0-4 of an entry are
 * clear, a carry out of bit 5 is never looked at), and table 0 places the
 * fields by the RD after the code group, so that the step comes first.
 *
 * Code groups go in pairs.  The second of a pair is looked up in table
 * 1, whose fields are placed by the RD before it, which is the RD after
 * the first: one count picks both.  Its fields sit one result higher
 * (16 bits, 8 for octets), so the XOR of the two entries holds both
 * results, and one shift and one store move two of them; the XOR also
 * holds the pair's flip, so RD steps once a pair.  Per pair that is two
 * loads, two look-ups, an XOR, two adds, a shift and a store (and an OR
 * of the decoder's stop bits): about as many instructions as two octets
 * took one at a time, but one store instead of two and one add on the
 * serial path instead of two XORs; those, not the instruction count,
 * bounded the loop of one at a time on a wide core ("Bulk codec" in
 * docs/link-layer.md).  Unrolled by hand: -O2 does not.
 */
#define PCS_BULK_S(rd) ((rd) ? 38 : 6)

/* True on a little-endian host: a constant once compiled. */
static inline bool host_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;

    memcpy(&first, &one, 1);
    return first;
}

/* Two results of a pair, in the first 32 bits of @v, to out[0..1]. */
static inline void store_cg_pair(uint16_t *out, uint64_t v)
{
    uint32_t w = (uint32_t)v;

    if (host_little_endian()) {
        memcpy(out, &w, sizeof(w));     /* one store */
    } else {
        out[0] = (uint16_t)w;
        out[1] = (uint16_t)(w >> 16);
    }
}

static inline void enc_pair(const uint8_t *in, uint16_t *out, size_t i,
                            uint64_t *s)
{
    uint64_t a = pcs_enc_bulk[0][in[i]], b = pcs_enc_bulk[1][in[i + 1]];
    uint64_t c = *s + a, m = a ^ b;

    *s += m;
    store_cg_pair(out + i, m >> (c & 63));
}

static inline void enc_step(const uint8_t *in, uint16_t *out, size_t i,
                            uint64_t *s)
{
    uint64_t e = pcs_enc_bulk[0][in[i]];

    *s += e;
    out[i] = (uint16_t)(e >> (*s & 63));
}

void pcs_encode_data_scalar(const uint8_t *in, size_t n, uint16_t *out,
                            unsigned *rd)
{
    uint64_t s = PCS_BULK_S(*rd);
    size_t i = 0;

    for (; i + 32 <= n; i += 32) {
        enc_pair(in, out, i, &s);
        enc_pair(in, out, i + 2, &s);
        enc_pair(in, out, i + 4, &s);
        enc_pair(in, out, i + 6, &s);
        enc_pair(in, out, i + 8, &s);
        enc_pair(in, out, i + 10, &s);
        enc_pair(in, out, i + 12, &s);
        enc_pair(in, out, i + 14, &s);
        enc_pair(in, out, i + 16, &s);
        enc_pair(in, out, i + 18, &s);
        enc_pair(in, out, i + 20, &s);
        enc_pair(in, out, i + 22, &s);
        enc_pair(in, out, i + 24, &s);
        enc_pair(in, out, i + 26, &s);
        enc_pair(in, out, i + 28, &s);
        enc_pair(in, out, i + 30, &s);
    }
    for (; i + 2 <= n; i += 2) {
        enc_pair(in, out, i, &s);
    }
    if (i < n) {
        enc_step(in, out, i, &s);
    }
    *rd = (s >> 5) & 1;
}

/* Two octets of a pair, in the first 16 bits of @v, to out[0..1]. */
static inline void store_octet_pair(uint8_t *out, uint64_t v)
{
    uint16_t w = (uint16_t)v;

    if (host_little_endian()) {
        memcpy(out, &w, sizeof(w));
    } else {
        out[0] = (uint8_t)w;
        out[1] = (uint8_t)(w >> 8);
    }
}

/*
 * Decode a pair of code groups in range; bits 16 and 17 of the result
 * are "stop here" for the first and the second.
 */
static inline uint64_t dec_pair(const uint16_t *in, uint8_t *out, size_t i,
                                uint64_t *s)
{
    uint64_t a = pcs_dec_bulk[0][in[i]], b = pcs_dec_bulk[1][in[i + 1]];
    uint64_t c = *s + a, m = a ^ b, v;

    *s += m;
    v = m >> (c & 63);
    store_octet_pair(out + i, v);
    return v;
}

/* Four code groups as one 64-bit word, for the range check. */
static inline uint64_t load4(const uint16_t *p)
{
    uint64_t w;

    memcpy(&w, p, sizeof(w));
    return w;
}

size_t pcs_decode_data_scalar(const uint16_t *in, size_t n, uint8_t *out,
                              unsigned *rd)
{
    const uint16_t *p = in, *end = in + n;
    uint8_t *o = out;
    uint64_t s = PCS_BULK_S(*rd);

    /*
     * Blocks of 32 code groups decoded without a check between them; a
     * block with anything to stop at is done again by the loop below,
     * which stops exactly there.  Code groups are in 0..0x3ff: checked
     * four at a time before they index the tables.
     */
    while (end - p >= 32) {
        uint64_t s0 = s, stop;

        if ((load4(p) | load4(p + 4) | load4(p + 8) | load4(p + 12) |
             load4(p + 16) | load4(p + 20) | load4(p + 24) |
             load4(p + 28)) & 0xfc00fc00fc00fc00ULL) {
            break;
        }
        /*
         * One statement a pair, here: as one expression, or eight pairs
         * in a helper, GCC 12 at -O2 kept every pair's result to the end
         * (spilled to the stack), and ran slower.
         */
        stop = dec_pair(p, o, 0, &s);
        stop |= dec_pair(p, o, 2, &s);
        stop |= dec_pair(p, o, 4, &s);
        stop |= dec_pair(p, o, 6, &s);
        stop |= dec_pair(p, o, 8, &s);
        stop |= dec_pair(p, o, 10, &s);
        stop |= dec_pair(p, o, 12, &s);
        stop |= dec_pair(p, o, 14, &s);
        stop |= dec_pair(p, o, 16, &s);
        stop |= dec_pair(p, o, 18, &s);
        stop |= dec_pair(p, o, 20, &s);
        stop |= dec_pair(p, o, 22, &s);
        stop |= dec_pair(p, o, 24, &s);
        stop |= dec_pair(p, o, 26, &s);
        stop |= dec_pair(p, o, 28, &s);
        stop |= dec_pair(p, o, 30, &s);
        if (stop & 0x30000) {
            s = s0;
            break;
        }
        p += 32;
        o += 32;
    }
    for (; p < end && *p <= 0x3ff; p++, o++) {
        uint64_t d = pcs_dec_bulk[0][*p];
        uint64_t v = d >> ((s + d) & 63);

        if (v & 0x10000) {
            break;
        }
        *o = (uint8_t)v;
        s += d;
    }
    *rd = (s >> 5) & 1;
    return p - in;
}

/*
 * A data code group flips RD exactly when it is unbalanced, whatever the
 * RD it is sent at, so RD after a run is RD before it XOR the parity of
 * its unbalanced code groups.  Four accumulators keep the XORs of
 * neighbouring octets independent.
 */
unsigned pcs_data_rd_scalar(const uint8_t *in, size_t n, unsigned rd)
{
    unsigned a = 0, b = 0, c = 0, d = 0;
    size_t i = 0;

    for (; i + 4 <= n; i += 4) {
        a ^= pcs_enc_data[0][in[i]];
        b ^= pcs_enc_data[0][in[i + 1]];
        c ^= pcs_enc_data[0][in[i + 2]];
        d ^= pcs_enc_data[0][in[i + 3]];
    }
    for (; i < n; i++) {
        a ^= pcs_enc_data[0][in[i]];
    }
    return rd ^ (((a ^ b ^ c ^ d) & PCS_ENC_FLIP) ? 1 : 0);
}

#ifdef PCS_SIMD_AVX2
#define AVX2_FN __attribute__((target("avx2")))
#define AVX2_INLINE __attribute__((target("avx2"), always_inline))

/*
 * The AVX2 kernels, 32 octets or code groups per step.
 *
 * Running disparity never waits for a look-up: each code group's
 * "unbalanced" bit comes from the tables whatever the RD (pcs_simd_* in
 * pcs-codec.h), movemask takes the 32 bits to a general register, and a
 * prefix XOR there gives the RD before each code group.  The encoder
 * turns those bits back into byte masks that pick the RD column; the
 * decoder needs them only in the general register, where it picks
 * "valid at RD-" or "valid at RD+" per code group.
 *
 * Each loop does the part that needs no RD for the next 32 (loads,
 * look-ups, the movemask) before the part that needs RD for the current
 * 32, so that the long chain through the general registers of one step
 * overlaps the work of the next.  All work is within 128-bit lanes but
 * the loads and stores: lane-crossing shuffles cost several times more on
 * some AMD cores (Zen 1 runs each 256-bit operation as two 128-bit
 * halves, vperm2i128 takes three cycles).
 *
 * The constants are hidden from the compiler (OPAQUE) once at the start:
 * it would otherwise rebuild them inside the loops with broadcasts that
 * cost as much as the work.
 *
 * Each kernel ends its 256-bit work with VZEROUPPER (LEAVE_AVX) before it
 * calls or returns to code built without AVX.  GCC emitted none in these
 * target("avx2") functions (one ended in a tail call), so the upper halves
 * stayed dirty into the CRC's legacy-SSE PCLMUL code.  AMD cores do not
 * mind; on this project's Intel host (family 6 model 167) every frame paid
 * two state switches: crc32_clmul() took 22 % of the switch's time on
 * 64-octet frames and data_rd_avx2() 21 %, most of it on its first
 * 256-bit instruction; with VZEROUPPER, 2 % and 3 % (docs/performance.md).
 */
#define LEAVE_AVX() _mm256_zeroupper()
#define OPAQUE(v) __asm__("" : "+x"(v))

static inline AVX2_INLINE __m256i tab16_avx2(const uint8_t *t)
{
    __m256i v = _mm256_broadcastsi128_si256(
        _mm_loadu_si128((const void *)t));

    OPAQUE(v);
    return v;
}

static inline AVX2_INLINE __m256i bcast8_avx2(int c)
{
    __m256i v = _mm256_set1_epi8((char)c);

    OPAQUE(v);
    return v;
}

/* A 32-entry look-up of x given ix = x + 0x70 and ixh = ix ^ 0x80 */
static inline AVX2_INLINE __m256i lut32_avx2(__m256i lo, __m256i hi, __m256i ix,
                                             __m256i ixh)
{
    /* bit 7 of ix is set for x >= 16, and pshufb gives 0 there */
    return _mm256_or_si256(_mm256_shuffle_epi8(lo, ix),
                           _mm256_shuffle_epi8(hi, ixh));
}

/*
 * RD before each of 32 code groups (bit i for code group i) given which
 * of them are unbalanced and *rdm, all ones at RD+; steps *rdm past them.
 */
static inline uint32_t rd_before32(uint32_t flips, uint32_t *rdm)
{
    uint32_t p = flips, before;

    p ^= p << 1;
    p ^= p << 2;
    p ^= p << 4;
    p ^= p << 8;
    p ^= p << 16;
    before = p ^ flips ^ *rdm;
    *rdm ^= (uint32_t)-(p >> 31);
    return before;
}

typedef struct EncK {
    __m256i e6[4], e4[2], x5, off, hib, y3, c09, c3f, c0f, spread, bit;
    __m256i weights;
} EncK;

static AVX2_FN void enc_consts_avx2(EncK *k)
{
    for (unsigned j = 0; j < 4; j++) {
        k->e6[j] = tab16_avx2(pcs_simd_enc6[j]);
    }
    k->e4[0] = tab16_avx2(pcs_simd_enc4[0]);
    k->e4[1] = tab16_avx2(pcs_simd_enc4[1]);
    k->x5 = bcast8_avx2(0x1f);
    k->off = bcast8_avx2(0x70);
    k->hib = bcast8_avx2(0x80);
    k->y3 = bcast8_avx2(7);
    k->c09 = bcast8_avx2(9);
    k->c3f = bcast8_avx2(0x3f);
    k->c0f = bcast8_avx2(0x0f);
    /* bytes 0-7 take bits 0-7 of a word, and so on */
    k->spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0,
                                 1, 1, 1, 1, 1, 1, 1, 1,
                                 2, 2, 2, 2, 2, 2, 2, 2,
                                 3, 3, 3, 3, 3, 3, 3, 3);
    k->bit = _mm256_set1_epi64x(0x8040201008040201LL);
    /* bytes (4b, 6b) to the 16-bit code group 4b + 16 * 6b */
    k->weights = _mm256_set1_epi16(0x1001);
    OPAQUE(k->spread);
    OPAQUE(k->bit);
    OPAQUE(k->weights);
}

/* The part of encoding 32 octets that needs no RD. */
typedef struct Enc32 {
    __m256i ix, ixh, y, c6n, c4n;
    uint32_t flips;
} Enc32;

static inline AVX2_INLINE void enc32_front_avx2(const uint8_t *in,
                                                const EncK *k, Enc32 *e)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)in);

    e->ix = _mm256_add_epi8(_mm256_and_si256(v, k->x5), k->off);
    e->ixh = _mm256_xor_si256(e->ix, k->hib);
    e->y = _mm256_and_si256(_mm256_srli_epi16(v, 5), k->y3);
    /* bit 7 of both: unbalanced */
    e->c6n = lut32_avx2(k->e6[0], k->e6[1], e->ix, e->ixh);
    e->c4n = _mm256_shuffle_epi8(k->e4[0], e->y);
    e->flips = _mm256_movemask_epi8(_mm256_xor_si256(e->c6n, e->c4n));
}

/* The rest of encoding 32 octets, given the RD before each (bit i). */
static inline AVX2_INLINE void enc32_back_avx2(const Enc32 *e, uint32_t before,
                                               const EncK *k, uint16_t *out)
{
    __m256i c6p, c4p, rm, c6, c4, a7, lo, hi;

    c6p = lut32_avx2(k->e6[2], k->e6[3], e->ix, e->ixh);
    c4p = _mm256_shuffle_epi8(k->e4[1], e->y);
    /* RD before each octet as byte masks, all ones at RD+ */
    rm = _mm256_shuffle_epi8(_mm256_set1_epi32((int)before), k->spread);
    rm = _mm256_cmpeq_epi8(_mm256_and_si256(rm, k->bit), k->bit);
    c6 = _mm256_blendv_epi8(e->c6n, c6p, rm);
    /* bit 7: RD after the 6b sub-block */
    c4 = _mm256_blendv_epi8(e->c4n, c4p, _mm256_xor_si256(rm, c6));
    /* bit 6 of both: the alternate D.x.7, moved to bit 7 */
    a7 = _mm256_and_si256(c6, c4);
    a7 = _mm256_add_epi8(a7, a7);
    c4 = _mm256_blendv_epi8(c4, _mm256_xor_si256(c4, k->c09), a7);
    c6 = _mm256_and_si256(c6, k->c3f);
    c4 = _mm256_and_si256(c4, k->c0f);
    /* code groups 0-7 and 16-23, then 8-15 and 24-31 */
    lo = _mm256_maddubs_epi16(_mm256_unpacklo_epi8(c4, c6), k->weights);
    hi = _mm256_maddubs_epi16(_mm256_unpackhi_epi8(c4, c6), k->weights);
    _mm_storeu_si128((__m128i *)out, _mm256_castsi256_si128(lo));
    _mm_storeu_si128((__m128i *)(out + 8), _mm256_castsi256_si128(hi));
    _mm_storeu_si128((__m128i *)(out + 16), _mm256_extracti128_si256(lo, 1));
    _mm_storeu_si128((__m128i *)(out + 24), _mm256_extracti128_si256(hi, 1));
}

static AVX2_FN void encode_avx2(const uint8_t *in, size_t n, uint16_t *out,
                                unsigned *rd)
{
    uint32_t rdm = -(uint32_t)*rd, before;
    size_t i = 0;
    Enc32 a, b;
    EncK k;

    if (n < 32) {
        pcs_encode_data_scalar(in, n, out, rd);
        return;
    }
    enc_consts_avx2(&k);
    /* two blocks a step, in turn a and b, so that neither is copied */
    enc32_front_avx2(in, &k, &a);
    for (; i + 64 <= n; i += 64) {
        before = rd_before32(a.flips, &rdm);
        enc32_front_avx2(in + i + 32, &k, &b);
        enc32_back_avx2(&a, before, &k, out + i);
        before = rd_before32(b.flips, &rdm);
        if (i + 96 <= n) {
            enc32_front_avx2(in + i + 64, &k, &a);
        }
        enc32_back_avx2(&b, before, &k, out + i + 32);
    }
    if (i + 32 <= n) {
        /* a holds the last block */
        enc32_back_avx2(&a, rd_before32(a.flips, &rdm), &k, out + i);
        i += 32;
    }
    LEAVE_AVX();
    *rd = rdm & 1;
    pcs_encode_data_scalar(in + i, n - i, out + i, rd);
}

/*
 * Which octets are unbalanced, as a 16 x 16 bit matrix: bit l of
 * rd_rows_lo[h] (l < 8) or rd_rows_hi[h] (l - 8) is set when octet
 * 16 h + l is.  Made from pcs_enc_data with the SIMD level.
 */
static uint8_t rd_rows_lo[16], rd_rows_hi[16];
static const uint8_t rd_bits[16] = {
    1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128,
};

static void rd_rows_init(void)
{
    for (unsigned x = 0; x < 256; x++) {
        if (pcs_enc_data[0][x] & PCS_ENC_FLIP) {
            (x & 8 ? rd_rows_hi : rd_rows_lo)[x >> 4] |= 1u << (x & 7);
        }
    }
}

/* Long runs: the encoder's front half, whose flips are what RD needs. */
static AVX2_FN unsigned data_rd_long_avx2(const uint8_t *in, size_t n,
                                          unsigned rd)
{
    uint32_t flips = 0;
    size_t i = 0;
    Enc32 e;
    EncK k;

    enc_consts_avx2(&k);
    for (; i + 32 <= n; i += 32) {
        enc32_front_avx2(in + i, &k, &e);
        flips ^= e.flips;
    }
    LEAVE_AVX();
    return pcs_data_rd_scalar(in + i, n - i,
                              rd ^ (__builtin_popcount(flips) & 1));
}

/*
 * The RD after a run, 32 octets a step: each octet's row by its high
 * nibble (two look-ups, one picked by bit 3), its bit by the low nibble,
 * and a per-byte XOR of "unbalanced" whose parity flips the RD.  A frame
 * takes this on every hop (data runs), and for a short one the encoder's
 * constants cost more than the work: 16 ns for 68 octets here, against
 * 26.  From 256 octets on the encoder's front half is faster (8.8 GB/s
 * against 10).
 */
static AVX2_FN unsigned data_rd_avx2(const uint8_t *in, size_t n,
                                     unsigned rd)
{
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;

    if (n >= 256) {
        return data_rd_long_avx2(in, n, rd);
    }
    if (n >= 32) {
        const __m256i lo = tab16_avx2(rd_rows_lo);
        const __m256i hi = tab16_avx2(rd_rows_hi);
        const __m256i bits = tab16_avx2(rd_bits);
        const __m256i c0f = bcast8_avx2(0x0f), one = bcast8_avx2(1);

        for (; i + 32 <= n; i += 32) {
            __m256i x = _mm256_loadu_si256((const void *)(in + i));
            __m256i h = _mm256_and_si256(_mm256_srli_epi16(x, 4), c0f);
            __m256i l = _mm256_and_si256(x, c0f);
            /* bit 7 of each byte of x << 4 is bit 3 of the octet */
            __m256i row = _mm256_blendv_epi8(_mm256_shuffle_epi8(lo, h),
                                             _mm256_shuffle_epi8(hi, h),
                                             _mm256_slli_epi16(x, 4));
            __m256i u = _mm256_and_si256(row, _mm256_shuffle_epi8(bits, l));

            acc = _mm256_xor_si256(acc, _mm256_min_epu8(u, one));
        }
        rd ^= __builtin_popcount(
            (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(acc, 7))) & 1;
        LEAVE_AVX();
    }
    return pcs_data_rd_scalar(in + i, n - i, rd);
}

typedef struct DecK {
    __m256i d6[4], d4[5], low4, x5, off, hib, c40;
} DecK;

/* The part of decoding 32 code groups that needs no RD. */
typedef struct Dec32 {
    uint32_t flips;     /* unbalanced */
    uint32_t ok_neg;    /* valid data at RD- */
    uint32_t ok_pos;    /* valid data at RD+ */
} Dec32;

/*
 * Decode 32 code groups to @out as if they were valid data, and find
 * which are valid at either RD (the 6b sub-block at that RD, the 4b one at
 * the RD after the 6b one in the context its "ei" bits give; see
 * pcs_simd_dec* in pcs-codec.h).
 */
static inline AVX2_INLINE void dec32_front_avx2(const uint16_t *in,
                                                uint8_t *out, const DecK *k,
                                                Dec32 *d)
{
    /*
     * Lanes hold code groups 0-7 and 16-23, then 8-15 and 24-31, so that
     * packing (per lane) puts them in order.
     */
    __m256i a = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)in)),
        _mm_loadu_si128((const __m128i *)(in + 16)), 1);
    __m256i b = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(in + 8))),
        _mm_loadu_si128((const __m128i *)(in + 24)), 1);
    __m256i s6, s4, ix, ixh, p, c4, t, ok;

    /* abcdei, and 64 or more (saturated) for values above 0x3ff */
    s6 = _mm256_packus_epi16(_mm256_srli_epi16(a, 4),
                             _mm256_srli_epi16(b, 4));
    s4 = _mm256_packus_epi16(_mm256_and_si256(a, k->low4),
                             _mm256_and_si256(b, k->low4));
    ix = _mm256_add_epi8(_mm256_and_si256(s6, k->x5), k->off);
    ixh = _mm256_xor_si256(ix, k->hib);
    /* 64 entries: bit 5 of abcdei, moved to bit 7, picks the half */
    p = _mm256_blendv_epi8(lut32_avx2(k->d6[0], k->d6[1], ix, ixh),
                           lut32_avx2(k->d6[2], k->d6[3], ix, ixh),
                           _mm256_slli_epi16(s6, 2));
    c4 = _mm256_shuffle_epi8(k->d4[1], s4);
    _mm256_storeu_si256((__m256i *)out, _mm256_or_si256(
        _mm256_and_si256(p, k->x5), _mm256_shuffle_epi8(k->d4[0], s4)));
    /* bit 7 of both: unbalanced */
    d->flips = _mm256_movemask_epi8(_mm256_xor_si256(p, c4));
    /*
     * The contexts the 4b sub-block is valid in and the 6b one gives; none
     * out of range (bit 7 of the index set: pshufb gives 0).
     */
    t = _mm256_and_si256(c4, _mm256_shuffle_epi8(
        k->d4[2], _mm256_adds_epu8(s6, k->c40)));
    /* bit 6 valid at RD-, bit 5 at RD+: unbalanced 6b swaps the columns */
    ok = _mm256_and_si256(p, _mm256_blendv_epi8(
        _mm256_shuffle_epi8(k->d4[3], t), _mm256_shuffle_epi8(k->d4[4], t),
        p));
    ok = _mm256_add_epi8(ok, ok);
    d->ok_neg = _mm256_movemask_epi8(ok);
    d->ok_pos = _mm256_movemask_epi8(_mm256_add_epi8(ok, ok));
}

static AVX2_FN size_t decode_avx2(const uint16_t *in, size_t n,
                                  uint8_t *out, unsigned *rd)
{
    uint32_t rdm = -(uint32_t)*rd;
    size_t i = 0;
    Dec32 d, next;
    DecK k;

    if (n < 32) {
        return pcs_decode_data_scalar(in, n, out, rd);
    }
    for (unsigned j = 0; j < 4; j++) {
        k.d6[j] = tab16_avx2(pcs_simd_dec6[j]);
    }
    for (unsigned j = 0; j < 5; j++) {
        k.d4[j] = tab16_avx2(pcs_simd_dec4[j]);
    }
    k.low4 = _mm256_set1_epi16(0xf);
    OPAQUE(k.low4);
    k.x5 = bcast8_avx2(0x1f);
    k.off = bcast8_avx2(0x70);
    k.hib = bcast8_avx2(0x80);
    k.c40 = bcast8_avx2(0x40);

    dec32_front_avx2(in, out, &k, &next);
    for (; i + 32 <= n; i += 32) {
        uint32_t before, bad;

        d = next;
        before = rd_before32(d.flips, &rdm);
        if (i + 64 <= n) {
            dec32_front_avx2(in + i + 32, out + i + 32, &k, &next);
        }
        bad = ~((d.ok_neg & ~before) | (d.ok_pos & before));
        if (bad) {
            unsigned j = __builtin_ctz(bad);

            *rd = (before >> j) & 1;
            LEAVE_AVX();
            return i + j;
        }
    }
    LEAVE_AVX();
    *rd = rdm & 1;
    return i + pcs_decode_data_scalar(in + i, n - i, out + i, rd);
}

static int simd_max = 2;

static int simd_level(void)
{
    static int level = -1;

    if (level < 0) {
        __builtin_cpu_init();
        level = __builtin_cpu_supports("avx2") ? 2 : 0;
        rd_rows_init();
    }
    return level <= simd_max ? level : 0;
}
#endif

int pcs_codec_limit_simd(int max_level)
{
#ifdef PCS_SIMD_AVX2
    simd_max = max_level;
    return simd_level();
#else
    return 0;
#endif
}

void pcs_encode_data(const uint8_t *in, size_t n, uint16_t *out,
                     unsigned *rd)
{
#ifdef PCS_SIMD_AVX2
    switch (simd_level()) {
    case 2:
        encode_avx2(in, n, out, rd);
        return;
    }
#endif
    pcs_encode_data_scalar(in, n, out, rd);
}

size_t pcs_decode_data(const uint16_t *in, size_t n, uint8_t *out,
                       unsigned *rd)
{
#ifdef PCS_SIMD_AVX2
    switch (simd_level()) {
    case 2:
        return decode_avx2(in, n, out, rd);
    }
#endif
    return pcs_decode_data_scalar(in, n, out, rd);
}

unsigned pcs_data_rd(const uint8_t *in, size_t n, unsigned rd)
{
#ifdef PCS_SIMD_AVX2
    switch (simd_level()) {
    case 2:
        return data_rd_avx2(in, n, rd);
    }
#endif
    return pcs_data_rd_scalar(in, n, rd);
}

bool pcs_is_valid_k(uint8_t octet)
{
    return pcs_enc_ctrl[0][octet] & PCS_ENC_VALID;
}

const char *pcs_cg_name(uint8_t octet, bool is_k, char buf[8])
{
    snprintf(buf, 8, "%c%u.%u", is_k ? 'K' : 'D', octet & 31u, octet >> 5);
    return buf;
}
