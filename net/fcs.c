/*
 * Ethernet frame check sequence: CRC-32 (reflected polynomial 0xEDB88320,
 * preset and inverted), the same as zlib's crc32().  It is computed here
 * with slicing-by-8 tables because zlib's costs about 150 ns even for a
 * 60-octet frame, which was a third of the lane's per-frame time; on x86
 * hosts with PCLMULQDQ, whole 16-octet blocks are folded with carry-less
 * multiplications instead (the tables took about 1 us for a 1518-octet
 * frame, half the switch's time per frame: docs/performance.md, "Where
 * the time goes").
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include "fcs.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define FCS_CLMUL 1
#include <immintrin.h>
#endif

/* The slicing-by-8 tables, on the CRC register (not inverted). */
static uint32_t crc32_tables(uint32_t crc, const uint8_t *buf, size_t len)
{
    const uint32_t (*t)[256] = eth_crc32_tab;

    while (len > 0 && ((uintptr_t)buf & 7)) {
        crc = t[0][(crc ^ *buf++) & 0xff] ^ (crc >> 8);
        len--;
    }
    while (len >= 8) {
        uint32_t lo, hi;

        /* The table order assumes the octets in wire (address) order. */
        lo = crc ^ (buf[0] | buf[1] << 8 | buf[2] << 16 |
                    (uint32_t)buf[3] << 24);
        hi = buf[4] | buf[5] << 8 | buf[6] << 16 | (uint32_t)buf[7] << 24;
        crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^
              t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
              t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
              t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
        buf += 8;
        len -= 8;
    }
    while (len > 0) {
        crc = t[0][(crc ^ *buf++) & 0xff] ^ (crc >> 8);
        len--;
    }
    return crc;
}

#ifdef FCS_CLMUL
/*
 * Folding by carry-less multiplication, for a bit-reflected CRC (Gopal et
 * al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
 * Instruction", Intel, 2009).  The register, XORed into the first block,
 * is a 128-bit remainder; each step multiplies its two halves by
 * x^(128+32) and x^(128-32) mod P and adds the next block, which moves
 * the remainder 128 bits along without changing it mod P.  At the end it
 * is folded to 64 bits (x^(128-32) mod P), then 32 (x^64 mod P), and
 * Barrett reduction (P and floor(x^64 / P)) leaves the CRC.  The
 * constants are those values, bit-reflected and shifted left by one (a
 * product of two reflected operands comes out one bit short).  test-fcs
 * checks the result against zlib at every length and alignment.
 */
#define CLMUL_K128_HI   0x1751997d0ull  /* x^(128+32) mod P */
#define CLMUL_K128_LO   0x0ccaa009eull  /* x^(128-32) mod P */
#define CLMUL_K64       0x163cd6124ull  /* x^64 mod P */
#define CLMUL_P         0x1db710641ull  /* P */
#define CLMUL_MU        0x1f7011641ull  /* floor(x^64 / P) */

#define CLMUL_K512_HI   0x154442bd4ull  /* x^(512+32) mod P */
#define CLMUL_K512_LO   0x1c6e41596ull  /* x^(512-32) mod P */

/* @x moved @k's distance along, plus @y. */
__attribute__((target("pclmul,sse4.1"), always_inline))
static inline __m128i clmul_move(__m128i x, __m128i k, __m128i y)
{
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);

    return _mm_xor_si128(_mm_xor_si128(lo, hi), y);
}

/* ... plus the 16 octets at @p. */
__attribute__((target("pclmul,sse4.1"), always_inline))
static inline __m128i clmul_fold(__m128i x, __m128i k, const uint8_t *p)
{
    return clmul_move(x, k, _mm_loadu_si128((const __m128i *)p));
}

/* @len: a multiple of 16, at least 16.  The register in and out. */
__attribute__((target("pclmul,sse4.1")))
static uint32_t crc32_clmul(uint32_t crc, const uint8_t *buf, size_t len)
{
    const __m128i k128 = _mm_set_epi64x(CLMUL_K128_LO, CLMUL_K128_HI);
    const __m128i k64 = _mm_set_epi64x(0, CLMUL_K64);
    const __m128i pmu = _mm_set_epi64x(CLMUL_MU, CLMUL_P);
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    __m128i x, t;

    x = _mm_xor_si128(_mm_loadu_si128((const __m128i *)buf),
                      _mm_cvtsi32_si128(crc));
    if (len >= 128) {
        /*
         * Four remainders 64 octets apart, each moved 512 bits per step:
         * the multiplications of one step do not wait for each other.
         */
        const __m128i k512 = _mm_set_epi64x(CLMUL_K512_LO, CLMUL_K512_HI);
        __m128i x1 = _mm_loadu_si128((const __m128i *)(buf + 16));
        __m128i x2 = _mm_loadu_si128((const __m128i *)(buf + 32));
        __m128i x3 = _mm_loadu_si128((const __m128i *)(buf + 48));

        for (buf += 64, len -= 64; len >= 64; buf += 64, len -= 64) {
            x = clmul_fold(x, k512, buf);
            x1 = clmul_fold(x1, k512, buf + 16);
            x2 = clmul_fold(x2, k512, buf + 32);
            x3 = clmul_fold(x3, k512, buf + 48);
        }
        /* the four into one: each moved 128 bits onto the next */
        x = clmul_move(x, k128, x1);
        x = clmul_move(x, k128, x2);
        x = clmul_move(x, k128, x3);
    } else {
        buf += 16;
        len -= 16;
    }
    for (; len; buf += 16, len -= 16) {
        x = clmul_fold(x, k128, buf);
    }
    /* 128 bits to 64 */
    t = _mm_clmulepi64_si128(x, k128, 0x10);
    x = _mm_xor_si128(_mm_srli_si128(x, 8), t);
    /* 64 to 32 */
    t = _mm_srli_si128(x, 4);
    x = _mm_clmulepi64_si128(_mm_and_si128(x, mask32), k64, 0x00);
    x = _mm_xor_si128(x, t);
    /* Barrett reduction */
    t = x;
    x = _mm_clmulepi64_si128(_mm_and_si128(x, mask32), pmu, 0x10);
    x = _mm_clmulepi64_si128(_mm_and_si128(x, mask32), pmu, 0x00);
    x = _mm_xor_si128(x, t);
    return (uint32_t)_mm_extract_epi32(x, 1);
}

/* -1: not probed yet; 0: the tables; 1: PCLMULQDQ. */
static int clmul_level = -1;
static bool clmul_allowed = true;

static bool use_clmul(void)
{
    if (clmul_level < 0) {
        __builtin_cpu_init();
        clmul_level = __builtin_cpu_supports("pclmul") &&
                      __builtin_cpu_supports("sse4.1");
    }
    return clmul_level && clmul_allowed;
}
#endif

bool eth_crc32_allow_clmul(bool allow)
{
#ifdef FCS_CLMUL
    clmul_allowed = allow;
    return use_clmul();
#else
    return false;
#endif
}

uint32_t eth_crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
    crc = ~crc;
#ifdef FCS_CLMUL
    /* below about 32 octets, the tables cost less than the reductions */
    if (len >= 32 && use_clmul()) {
        size_t blocks = len & ~(size_t)15;

        crc = crc32_clmul(crc, buf, blocks);
        buf += blocks;
        len -= blocks;
    }
#endif
    return ~crc32_tables(crc, buf, len);
}

void eth_fcs_append(uint8_t *frame, size_t len)
{
    uint32_t crc = eth_crc32(0, frame, len);

    frame[len] = crc & 0xff;
    frame[len + 1] = (crc >> 8) & 0xff;
    frame[len + 2] = (crc >> 16) & 0xff;
    frame[len + 3] = (crc >> 24) & 0xff;
}

bool eth_fcs_ok(const uint8_t *frame, size_t len)
{
    uint32_t crc;

    if (len < ETH_FCS_LEN) {
        return false;
    }
    crc = eth_crc32(0, frame, len - ETH_FCS_LEN);
    return frame[len - 4] == (crc & 0xff) &&
           frame[len - 3] == ((crc >> 8) & 0xff) &&
           frame[len - 2] == ((crc >> 16) & 0xff) &&
           frame[len - 1] == ((crc >> 24) & 0xff);
}
