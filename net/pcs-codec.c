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
 * indexed by the data alone, gives the fields for both disparity columns
 * and whether the code group flips RD.  RD lives in bit 4 of a shift count
 * s that picks the right field; XOR-ing each entry into s steps RD (only
 * bits 0-5 of s are used as the count), and the fields are placed by the
 * RD after the code group so that the step comes first and the entry is
 * not needed after the shift.  The one serial dependency from one octet to
 * the next is that single XOR, so look-ups, shifts and stores of
 * neighbouring octets all overlap.  Unrolled by hand: -O2 does not.
 */
static inline void enc_step(const uint8_t *in, uint16_t *out, size_t i,
                            uint64_t *s)
{
    uint64_t e = pcs_enc_bulk[in[i]];

    *s ^= e;
    out[i] = (uint16_t)(e >> (*s & 63));
}

void pcs_encode_data_scalar(const uint8_t *in, size_t n, uint16_t *out,
                            unsigned *rd)
{
    uint64_t s = *rd ? 22 : 6;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        enc_step(in, out, i, &s);
        enc_step(in, out, i + 1, &s);
        enc_step(in, out, i + 2, &s);
        enc_step(in, out, i + 3, &s);
        enc_step(in, out, i + 4, &s);
        enc_step(in, out, i + 5, &s);
        enc_step(in, out, i + 6, &s);
        enc_step(in, out, i + 7, &s);
    }
    for (; i < n; i++) {
        enc_step(in, out, i, &s);
    }
    *rd = (s >> 4) & 1;
}

/* Decode one code group in range; bit 8 of the result is "stop here". */
static inline uint64_t dec_step(const uint16_t *in, uint8_t *out, size_t i,
                                uint64_t *s)
{
    uint64_t d = pcs_dec_bulk[in[i]];

    *s ^= d;
    d >>= *s & 63;
    out[i] = (uint8_t)d;
    return d;
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
    uint64_t s = *rd ? 24 : 8;

    /*
     * Blocks of 32 code groups decoded without a check between them; a
     * block with anything to stop at is done again by the loop below,
     * which stops exactly there.  Code groups are in 0..0x3ff: checked
     * four at a time before they index the table.
     */
    while (end - p >= 32) {
        uint64_t s0 = s, stop;

        if ((load4(p) | load4(p + 4) | load4(p + 8) | load4(p + 12) |
             load4(p + 16) | load4(p + 20) | load4(p + 24) |
             load4(p + 28)) & 0xfc00fc00fc00fc00ULL) {
            break;
        }
        stop = 0;
        for (unsigned j = 0; j < 32; j += 8) {
            stop |= dec_step(p, o, j, &s) | dec_step(p, o, j + 1, &s) |
                    dec_step(p, o, j + 2, &s) | dec_step(p, o, j + 3, &s) |
                    dec_step(p, o, j + 4, &s) | dec_step(p, o, j + 5, &s) |
                    dec_step(p, o, j + 6, &s) | dec_step(p, o, j + 7, &s);
        }
        if (stop & 0x100) {
            s = s0;
            break;
        }
        p += 32;
        o += 32;
    }
    for (; p < end && *p <= 0x3ff; p++, o++) {
        uint64_t d = pcs_dec_bulk[*p];
        uint64_t v = d >> ((s ^ d) & 63);

        if (v & 0x100) {
            break;
        }
        *o = (uint8_t)v;
        s ^= d;
    }
    *rd = (s >> 4) & 1;
    return p - in;
}

#ifdef PCS_SIMD_AVX2
#define AVX2_FN __attribute__((target("avx2")))
#define B2(v) _mm256_broadcastsi128_si256(v)

/* 32-entry look-up of x in 0..31; @sel4 has bit 4 of x in bit 7 */
static inline AVX2_FN __m256i lut32_avx2(__m256i lo, __m256i hi, __m256i x,
                                         __m256i sel4)
{
    return _mm256_blendv_epi8(_mm256_shuffle_epi8(lo, x),
                              _mm256_shuffle_epi8(hi, x), sel4);
}

/*
 * Encode 32 data octets at running disparity @rd into their 6b and 4b
 * sub-blocks; returns RD after them.  *prefix gets, per octet in bit 4,
 * the parity of the flips up to and including it (the decoder needs it to
 * find RD at a mismatch).  Byte shifts are per 128-bit lane in AVX2, so
 * the low lane's total flip parity is carried into the high lane.
 */
static inline AVX2_FN __attribute__((always_inline))
unsigned enc32(__m256i v, __m256i *c6_out, __m256i *c4_out, unsigned rd,
               __m256i *prefix)
{
    const __m256i c6lo = B2(_mm_setr_epi8(0x27, 0x1d, 0x2d, 0x31, 0x35,
                                          0x29, 0x19, 0x38, 0x39, 0x25,
                                          0x15, 0x34, 0x0d, 0x2c, 0x1c,
                                          0x17));
    const __m256i c6hi = B2(_mm_setr_epi8(0x1b, 0x23, 0x13, 0x32, 0x0b,
                                          0x2a, 0x1a, 0x3a, 0x33, 0x26,
                                          0x16, 0x36, 0x0e, 0x2e, 0x1e,
                                          0x2b));
    /*
     * 5b/6b flags laid out for blendv and masks: 0x80 complement at RD+,
     * 0x10 unbalanced, 0x02 A7 at RD-, 0x04 A7 at RD+.
     */
    const __m256i f6lo = B2(_mm_setr_epi8(-112, -112, -112, 0, -112, 0, 0,
                                          -128, -112, 0, 0, 4, 0, 4, 4,
                                          -112));
    const __m256i f6hi = B2(_mm_setr_epi8(-112, 2, 2, 0, 2, 0, 0, -112,
                                          -112, 0, 0, -112, 0, -112, -112,
                                          -112));
    const __m256i c4t = B2(_mm_setr_epi8(0xb, 0x9, 0x5, 0xc, 0xd, 0xa, 0x6,
                                         0xe, 0, 0, 0, 0, 0, 0, 0, 0));
    /* 3b/4b flags: 0x0f complement at RD+, 0x10 unbalanced, 0x80 y = 7 */
    const __m256i f4t = B2(_mm_setr_epi8(0x1f, 0, 0, 0x0f, 0x1f, 0, 0,
                                         -97, 0, 0, 0, 0, 0, 0, 0, 0));
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    __m256i x = _mm256_and_si256(v, _mm256_set1_epi8(0x1f));
    __m256i y = _mm256_and_si256(_mm256_srli_epi16(v, 5),
                                 _mm256_set1_epi8(7));
    __m256i sel4 = _mm256_slli_epi16(x, 3);
    __m256i c6 = lut32_avx2(c6lo, c6hi, x, sel4);
    __m256i f6 = lut32_avx2(f6lo, f6hi, x, sel4);
    __m256i c4 = _mm256_shuffle_epi8(c4t, y);
    __m256i f4 = _mm256_shuffle_epi8(f4t, y);
    __m256i p = _mm256_and_si256(_mm256_xor_si256(f6, f4), bit4);
    __m256i carry, before, rdm, rd6m, a7;

    /* inclusive prefix XOR of the flips (bit 4 of each octet) */
    p = _mm256_xor_si256(p, _mm256_slli_si256(p, 1));
    p = _mm256_xor_si256(p, _mm256_slli_si256(p, 2));
    p = _mm256_xor_si256(p, _mm256_slli_si256(p, 4));
    p = _mm256_xor_si256(p, _mm256_slli_si256(p, 8));
    carry = _mm256_permute2x128_si256(p, p, 0x08);  /* [0, low lane] */
    p = _mm256_xor_si256(p, _mm256_shuffle_epi8(carry,
                                                _mm256_set1_epi8(15)));
    *prefix = p;
    carry = _mm256_permute2x128_si256(p, p, 0x08);
    before = _mm256_xor_si256(_mm256_alignr_epi8(p, carry, 15),
                              _mm256_set1_epi8(rd << 4));
    rdm = _mm256_cmpeq_epi8(before, bit4);
    c6 = _mm256_blendv_epi8(c6, _mm256_xor_si256(c6, _mm256_set1_epi8(0x3f)),
                            _mm256_and_si256(f6, rdm));
    rd6m = _mm256_cmpeq_epi8(_mm256_xor_si256(before,
                                              _mm256_and_si256(f6, bit4)),
                             bit4);
    a7 = _mm256_and_si256(f6, _mm256_blendv_epi8(_mm256_set1_epi8(2),
                                                 _mm256_set1_epi8(4), rd6m));
    a7 = _mm256_and_si256(_mm256_cmpgt_epi8(a7, _mm256_setzero_si256()), f4);
    c4 = _mm256_blendv_epi8(c4, _mm256_set1_epi8(0x7), a7);
    c4 = _mm256_xor_si256(c4, _mm256_and_si256(
             _mm256_and_si256(f4, rd6m), _mm256_set1_epi8(0xf)));
    *c6_out = c6;
    *c4_out = c4;
    return rd ^ ((unsigned)_mm256_movemask_epi8(_mm256_slli_epi16(p, 3)) >>
                 31);
}

static AVX2_FN void encode_avx2(const uint8_t *in, size_t n, uint16_t *out,
                                unsigned *rd)
{
    size_t i = 0;
    unsigned r = *rd;
    __m256i p, c6, c4, lo, hi, l8;

    for (; i + 32 <= n; i += 32) {
        r = enc32(_mm256_loadu_si256((const __m256i *)(in + i)), &c6, &c4,
                  r, &p);
        lo = _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi16(c6, 4),
                                              _mm256_set1_epi8((char)0xf0)),
                             c4);
        hi = _mm256_and_si256(_mm256_srli_epi16(c6, 4), _mm256_set1_epi8(3));
        l8 = _mm256_unpacklo_epi8(lo, hi);      /* 0-7, 16-23 */
        hi = _mm256_unpackhi_epi8(lo, hi);      /* 8-15, 24-31 */
        _mm256_storeu_si256((__m256i *)(out + i),
                            _mm256_permute2x128_si256(l8, hi, 0x20));
        _mm256_storeu_si256((__m256i *)(out + i + 16),
                            _mm256_permute2x128_si256(l8, hi, 0x31));
    }
    *rd = r;
    pcs_encode_data_scalar(in + i, n - i, out + i, rd);
}

/*
 * Decode 32 code groups by looking up their sub-blocks as if they were
 * valid data, then re-encoding: where the result differs, the code group
 * was special, invalid or in the wrong disparity column.
 */
static AVX2_FN size_t decode_avx2(const uint16_t *in, size_t n,
                                  uint8_t *out, unsigned *rd)
{
    const __m256i d6[4] = {
        B2(_mm_setr_epi8(0, 0, 0, 0, 0, 23, 8, 7, 0, 27, 4, 20, 24, 12, 28,
                         0)),
        B2(_mm_setr_epi8(0, 29, 2, 18, 31, 10, 26, 15, 0, 6, 22, 16, 14, 1,
                         30, 0)),
        B2(_mm_setr_epi8(0, 30, 1, 17, 16, 9, 25, 0, 15, 5, 21, 31, 13, 2,
                         29, 0)),
        B2(_mm_setr_epi8(0, 3, 19, 24, 11, 4, 27, 0, 7, 8, 23, 0, 0, 0, 0,
                         0)),
    };
    const __m256i d4 = B2(_mm_setr_epi8(0, 7, 4, 3, 0, 2, 6, 7, 7, 1, 5, 0,
                                        3, 4, 7, 0));
    const __m256i low4 = _mm256_set1_epi16(0xf);
    unsigned r = *rd;
    size_t i = 0;

    for (; i + 32 <= n; i += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(in + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(in + i + 16));
        /* packus interleaves the lanes: 0xD8 puts the octets in order */
        __m256i s6r = _mm256_permute4x64_epi64(
            _mm256_packus_epi16(_mm256_srli_epi16(a, 4),
                                _mm256_srli_epi16(b, 4)), 0xD8);
        __m256i s4 = _mm256_permute4x64_epi64(
            _mm256_packus_epi16(_mm256_and_si256(a, low4),
                                _mm256_and_si256(b, low4)), 0xD8);
        __m256i s6 = _mm256_and_si256(s6r, _mm256_set1_epi8(0x3f));
        __m256i sel4 = _mm256_slli_epi16(s6, 3);    /* bit 4 -> bit 7 */
        __m256i sel5 = _mm256_slli_epi16(s6, 2);    /* bit 5 -> bit 7 */
        __m256i x, octets, p, eq, c6, c4;
        unsigned r2, mask;

        /* 64 entries: four 16-entry tables picked by bits 4 and 5 */
        x = _mm256_blendv_epi8(
            _mm256_blendv_epi8(_mm256_shuffle_epi8(d6[0], s6),
                               _mm256_shuffle_epi8(d6[1], s6), sel4),
            _mm256_blendv_epi8(_mm256_shuffle_epi8(d6[2], s6),
                               _mm256_shuffle_epi8(d6[3], s6), sel4),
            sel5);
        octets = _mm256_or_si256(x, _mm256_and_si256(
                     _mm256_slli_epi16(_mm256_shuffle_epi8(d4, s4), 5),
                     _mm256_set1_epi8((char)0xe0)));
        _mm256_storeu_si256((__m256i *)(out + i), octets);
        r2 = enc32(octets, &c6, &c4, r, &p);
        /* s6r is >= 64 where the input was out of range: no match */
        eq = _mm256_and_si256(_mm256_cmpeq_epi8(s6r, c6),
                              _mm256_cmpeq_epi8(s4, c4));
        mask = ~(unsigned)_mm256_movemask_epi8(eq);
        if (mask) {
            uint8_t pre[32];
            unsigned k = __builtin_ctz(mask);

            _mm256_storeu_si256((__m256i *)pre, p);
            *rd = k ? r ^ (pre[k - 1] >> 4) : r;
            return i + k;
        }
        r = r2;
    }
    *rd = r;
    return i + pcs_decode_data_scalar(in + i, n - i, out + i, rd);
}

static int simd_max = 2;

static int simd_level(void)
{
    static int level = -1;

    if (level < 0) {
        __builtin_cpu_init();
        level = __builtin_cpu_supports("avx2") ? 2 : 0;
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

bool pcs_is_valid_k(uint8_t octet)
{
    return pcs_enc_ctrl[0][octet] & PCS_ENC_VALID;
}

const char *pcs_cg_name(uint8_t octet, bool is_k, char buf[8])
{
    snprintf(buf, 8, "%c%u.%u", is_k ? 'K' : 'D', octet & 31u, octet >> 5);
    return buf;
}
