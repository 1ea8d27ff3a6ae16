/*
 * 8b/10b codec against IEEE 802.3 clause 36 (Tables 36-1a..e and 36-2).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "pcs-codec.h"

static const uint8_t k_octets[12] = {
    0x1C, 0x3C, 0x5C, 0x7C, 0x9C, 0xBC, 0xDC, 0xFC, 0xF7, 0xFB, 0xFD, 0xFE
};

static unsigned ones(unsigned v)
{
    return __builtin_popcount(v);
}

static uint16_t enc(uint8_t octet, bool k, unsigned rd)
{
    return pcs_encode(octet, k, &rd);
}

static uint16_t bits(const char *s)
{
    uint16_t v = 0;

    for (; *s; s++) {
        if (*s != ' ') {
            v = (uint16_t)(v << 1 | (*s == '1'));
        }
    }
    return v;
}

/* Code groups as printed in the standard, "abcdei fghj". */
static void test_published_codes(void)
{
    g_assert_cmphex(enc(PCS_D(0, 0), false, 0), ==, bits("100111 0100"));
    g_assert_cmphex(enc(PCS_D(0, 0), false, 1), ==, bits("011000 1011"));
    g_assert_cmphex(enc(PCS_D(21, 5), false, 0), ==, bits("101010 1010"));
    g_assert_cmphex(enc(PCS_D(21, 5), false, 1), ==, bits("101010 1010"));
    g_assert_cmphex(enc(PCS_D(2, 2), false, 0), ==, bits("101101 0101"));
    g_assert_cmphex(enc(PCS_D(2, 2), false, 1), ==, bits("010010 0101"));
    g_assert_cmphex(enc(PCS_D(16, 2), false, 0), ==, bits("011011 0101"));
    g_assert_cmphex(enc(PCS_D(16, 2), false, 1), ==, bits("100100 0101"));
    g_assert_cmphex(enc(PCS_D(5, 6), false, 0), ==, bits("101001 0110"));
    g_assert_cmphex(enc(PCS_D(5, 6), false, 1), ==, bits("101001 0110"));
    g_assert_cmphex(enc(PCS_D(7, 3), false, 0), ==, bits("111000 1100"));
    g_assert_cmphex(enc(PCS_D(7, 3), false, 1), ==, bits("000111 0011"));
    /* D.x.7 alternate encodings */
    g_assert_cmphex(enc(PCS_D(17, 7), false, 0), ==, bits("100011 0111"));
    g_assert_cmphex(enc(PCS_D(17, 7), false, 1), ==, bits("100011 0001"));
    g_assert_cmphex(enc(PCS_D(11, 7), false, 0), ==, bits("110100 1110"));
    g_assert_cmphex(enc(PCS_D(11, 7), false, 1), ==, bits("110100 1000"));
    g_assert_cmphex(enc(PCS_D(31, 7), false, 0), ==, bits("101011 0001"));
    g_assert_cmphex(enc(PCS_K28_5, true, 0), ==, bits("001111 1010"));
    g_assert_cmphex(enc(PCS_K28_5, true, 1), ==, bits("110000 0101"));
    g_assert_cmphex(enc(PCS_K28_1, true, 0), ==, bits("001111 1001"));
    g_assert_cmphex(enc(PCS_K28_7, true, 0), ==, bits("001111 1000"));
    g_assert_cmphex(enc(PCS_K28_0, true, 0), ==, bits("001111 0100"));
    g_assert_cmphex(enc(PCS_K23_7, true, 0), ==, bits("111010 1000"));
    g_assert_cmphex(enc(PCS_K23_7, true, 1), ==, bits("000101 0111"));
    g_assert_cmphex(enc(PCS_K27_7, true, 0), ==, bits("110110 1000"));
    g_assert_cmphex(enc(PCS_K29_7, true, 0), ==, bits("101110 1000"));
    g_assert_cmphex(enc(PCS_K30_7, true, 0), ==, bits("011110 1000"));
}

/*
 * An independent derivation from the sub-block tables: 5b/6b (RD-
 * column, RD+ is the complement for unbalanced sub-blocks and D7) and
 * 3b/4b, with the RD of the 4b sub-block taken after the 6b one.
 */
static uint16_t derive(uint8_t octet, bool k, unsigned rd, unsigned *rd_out)
{
    static const char *const six[32] = {
        "100111", "011101", "101101", "110001", "110101", "101001",
        "011001", "111000", "111001", "100101", "010101", "110100",
        "001101", "101100", "011100", "010111", "011011", "100011",
        "010011", "110010", "001011", "101010", "011010", "111010",
        "110011", "100110", "010110", "110110", "001110", "101110",
        "011110", "101011",
    };
    static const char *const four_d[8][2] = {
        { "1011", "0100" }, { "1001", "1001" }, { "0101", "0101" },
        { "1100", "0011" }, { "1101", "0010" }, { "1010", "1010" },
        { "0110", "0110" }, { "1110", "0001" },
    };
    static const char *const four_k[8][2] = {
        { "1011", "0100" }, { "0110", "1001" }, { "1010", "0101" },
        { "1100", "0011" }, { "1101", "0010" }, { "0101", "1010" },
        { "1001", "0110" }, { "0111", "1000" },
    };
    unsigned x = octet & 31, y = octet >> 5, s6, s4, rd6;

    s6 = bits(k && x == 28 ? "001111" : six[x]);
    if (rd && (ones(s6) != 3 || s6 == bits("111000"))) {
        s6 ^= 0x3f;
    }
    rd6 = ones(s6) > 3 ? 1 : ones(s6) < 3 ? 0 :
          s6 == bits("000111") ? 1 : s6 == bits("111000") ? 0 : rd;
    if (k) {
        s4 = bits(four_k[y][rd6]);
    } else if (y == 7 && ((!rd6 && (x == 17 || x == 18 || x == 20)) ||
                          (rd6 && (x == 11 || x == 13 || x == 14)))) {
        s4 = bits(rd6 ? "1000" : "0111");
    } else {
        s4 = bits(four_d[y][rd6]);
    }
    *rd_out = ones(s4) > 2 ? 1 : ones(s4) < 2 ? 0 :
              s4 == bits("0011") ? 1 : s4 == bits("1100") ? 0 : rd6;
    return (uint16_t)(s6 << 4 | s4);
}

static void test_against_sub_blocks(void)
{
    for (unsigned rd = 0; rd < 2; rd++) {
        for (unsigned b = 0; b < 256; b++) {
            unsigned r = rd, want_rd;
            uint16_t want = derive(b, false, rd, &want_rd);

            g_assert_cmphex(pcs_encode(b, false, &r), ==, want);
            g_assert_cmpuint(r, ==, want_rd);
        }
        for (unsigned i = 0; i < 12; i++) {
            unsigned r = rd, want_rd;
            uint16_t want = derive(k_octets[i], true, rd, &want_rd);

            g_assert_cmphex(pcs_encode(k_octets[i], true, &r), ==, want);
            g_assert_cmpuint(r, ==, want_rd);
        }
    }
}

/*
 * Balanced or +-2 with the sign given by the RD column; RD flips exactly
 * on unbalanced code groups.
 */
static void test_balance_and_disparity(void)
{
    for (unsigned rd = 0; rd < 2; rd++) {
        for (unsigned i = 0; i < 256 + 12; i++) {
            bool k = i >= 256;
            uint8_t o = k ? k_octets[i - 256] : i;
            unsigned r = rd;
            uint16_t cg = pcs_encode(o, k, &r);
            unsigned n1 = ones(cg);

            g_assert_true(n1 == 4 || n1 == 5 || n1 == 6);
            if (n1 == 5) {
                g_assert_cmpuint(r, ==, rd);
            } else {
                g_assert_cmpuint(r, !=, rd);
                g_assert_cmpuint(n1, ==, rd ? 4 : 6);
            }
        }
    }
}

/* Exactly 268 valid code groups per column, all decoding back. */
static void test_round_trip_and_count(void)
{
    for (unsigned rd = 0; rd < 2; rd++) {
        unsigned valid = 0;

        for (unsigned cg = 0; cg < 1024; cg++) {
            unsigned r = rd;
            unsigned res = pcs_decode(cg, &r);

            if (!(res & (PCS_CG_INVALID | PCS_CG_DISPARITY))) {
                unsigned r2 = rd;

                valid++;
                g_assert_cmphex(pcs_encode(res & 0xff, res & PCS_CG_K, &r2),
                                ==, cg);
                g_assert_cmpuint(r2, ==, r);
            }
        }
        g_assert_cmpuint(valid, ==, 268);
        for (unsigned i = 0; i < 256 + 12; i++) {
            bool k = i >= 256;
            uint8_t o = k ? k_octets[i - 256] : i;
            unsigned r = rd, r2 = rd;
            unsigned res = pcs_decode(pcs_encode(o, k, &r), &r2);

            g_assert_cmphex(res & ~PCS_CG_COMMA, ==,
                            o | (k ? PCS_CG_K : 0));
            g_assert_cmpuint(r, ==, r2);
        }
    }
}

/* Comma 0011111 / 1100000 (bits abcdeif) only in K28.1, K28.5, K28.7. */
static void test_commas(void)
{
    for (unsigned rd = 0; rd < 2; rd++) {
        for (unsigned i = 0; i < 256 + 12; i++) {
            bool k = i >= 256;
            uint8_t o = k ? k_octets[i - 256] : i;
            uint16_t cg = enc(o, k, rd);
            unsigned top7 = cg >> 3;
            bool comma = top7 == 0x1f || top7 == 0x60;
            bool want = k && (o == PCS_K28_1 || o == PCS_K28_5 ||
                              o == PCS_K28_7);
            unsigned r = rd;

            g_assert_cmpint(comma, ==, want);
            g_assert_cmpint(!!(pcs_decode(cg, &r) & PCS_CG_COMMA), ==, want);
        }
    }
    g_assert_cmphex(enc(PCS_K28_5, true, 0) >> 3, ==, 0x1f);
    g_assert_cmphex(enc(PCS_K28_5, true, 1) >> 3, ==, 0x60);
}

/*
 * No run of more than five equal bits across any two consecutive valid
 * code groups, and no comma straddling them unless the first is K28.7
 * (whose singular commas 802.3 warns about).
 */
static void test_run_length(void)
{
    for (unsigned rd = 0; rd < 2; rd++) {
        for (unsigned i = 0; i < 268; i++) {
            bool ka = i >= 256;
            uint8_t a = ka ? k_octets[i - 256] : i;
            unsigned r = rd;
            uint16_t ca = pcs_encode(a, ka, &r);

            for (unsigned j = 0; j < 268; j++) {
                bool kb = j >= 256;
                uint8_t b = kb ? k_octets[j - 256] : j;
                unsigned r2 = r;
                uint32_t pair = (uint32_t)ca << 10 | pcs_encode(b, kb, &r2);
                unsigned run = 1, longest = 1;

                for (int bit = 18; bit >= 0; bit--) {
                    if (((pair >> bit) & 1) == ((pair >> (bit + 1)) & 1)) {
                        run++;
                        longest = run > longest ? run : longest;
                    } else {
                        run = 1;
                    }
                }
                g_assert_cmpuint(longest, <=, 5);
                if (a == PCS_K28_7 && ka) {
                    continue;
                }
                for (int s = 1; s < 10; s++) {
                    unsigned w = (pair >> (13 - s)) & 0x7f;

                    g_assert_false(w == 0x1f || w == 0x60);
                }
            }
        }
    }
}

static void test_invalid_and_disparity(void)
{
    unsigned rd = PCS_RD_NEG;
    unsigned res;

    /* D0.0 from the RD+ column received at RD-: a disparity error. */
    res = pcs_decode(bits("011000 1011"), &rd);
    g_assert_true(res & PCS_CG_DISPARITY);
    g_assert_false(res & PCS_CG_INVALID);
    g_assert_cmphex(res & 0xff, ==, 0);
    /* K28.5 RD+ at RD-: likewise. */
    rd = PCS_RD_NEG;
    res = pcs_decode(bits("110000 0101"), &rd);
    g_assert_true(res & PCS_CG_DISPARITY);
    g_assert_cmpuint(rd, ==, PCS_RD_NEG);
    /* All zeros, all ones, and 111111 0000 are in no column. */
    rd = PCS_RD_NEG;
    g_assert_true(pcs_decode(0x000, &rd) & PCS_CG_INVALID);
    g_assert_cmpuint(rd, ==, PCS_RD_NEG);
    g_assert_true(pcs_decode(0x3ff, &rd) & PCS_CG_INVALID);
    g_assert_cmpuint(rd, ==, PCS_RD_POS);
    g_assert_true(pcs_decode(bits("111111 0000"), &rd) & PCS_CG_INVALID);
    /* Out-of-range values are invalid. */
    g_assert_true(pcs_decode(0x8274, &rd) & PCS_CG_INVALID);
}

static void test_bulk_matches_scalar(void)
{
    GRand *rng = g_rand_new_with_seed(42);
    uint8_t in[1000], back[1000];
    uint16_t cgs[1000];

    for (unsigned trial = 0; trial < 200; trial++) {
        size_t n = g_rand_int_range(rng, 0, sizeof(in));
        unsigned rd0 = g_rand_int_range(rng, 0, 2), rd = rd0, rs = rd0;
        unsigned rdd = rd0;

        for (size_t i = 0; i < n; i++) {
            in[i] = g_rand_int_range(rng, 0, 256);
        }
        pcs_encode_data(in, n, cgs, &rd);
        for (size_t i = 0; i < n; i++) {
            g_assert_cmphex(cgs[i], ==, pcs_encode(in[i], false, &rs));
        }
        g_assert_cmpuint(rd, ==, rs);
        g_assert_cmpuint(pcs_decode_data(cgs, n, back, &rdd), ==, n);
        g_assert_cmpuint(rdd, ==, rd);
        g_assert_cmpmem(back, n, in, n);
    }
    g_rand_free(rng);
}

/*
 * The bulk decoder stops at the first special, invalid or wrong-column
 * code group, with RD as it stood before it.
 */
static void test_bulk_decode_stops(void)
{
    uint8_t in[40], out[40];
    uint16_t cgs[40];

    for (size_t stop = 0; stop < 40; stop++) {
        for (unsigned kind = 0; kind < 3; kind++) {
            unsigned rd = 0, rd_at_stop = 0, rdd = 0;

            memset(in, 0x00, sizeof(in));   /* D0.0 is unbalanced */
            pcs_encode_data(in, stop, cgs, &rd);
            rd_at_stop = rd;
            pcs_encode_data(in, sizeof(in) - stop, cgs + stop, &rd);
            if (kind == 0) {
                unsigned r = rd_at_stop;

                cgs[stop] = pcs_encode(PCS_K28_5, true, &r);
            } else if (kind == 1) {
                cgs[stop] = 0;
            } else {
                cgs[stop] ^= 0x3ff;     /* the other column */
            }
            g_assert_cmpuint(pcs_decode_data(cgs, 40, out, &rdd), ==, stop);
            g_assert_cmpuint(rdd, ==, rd_at_stop);
        }
    }
}

/*
 * The dispatched bulk functions (SIMD where the host has it) agree with
 * the portable ones, also on corrupted input: same stop, same RD.
 */
static void test_bulk_simd_matches_portable(gconstpointer data)
{
    int level = GPOINTER_TO_INT(data);
    GRand *rng = g_rand_new_with_seed(7);
    uint8_t in[700], o1[700], o2[700];
    uint16_t c1[700], c2[700];

    if (pcs_codec_limit_simd(level) != level) {
        g_test_skip("host lacks this SIMD level");
        pcs_codec_limit_simd(2);
        g_rand_free(rng);
        return;
    }

    for (unsigned trial = 0; trial < 3000; trial++) {
        size_t n = g_rand_int_range(rng, 0, sizeof(in));
        unsigned rd0 = g_rand_int_range(rng, 0, 2), ra = rd0, rb = rd0;
        size_t ka, kb;

        for (size_t i = 0; i < n; i++) {
            in[i] = g_rand_int_range(rng, 0, 256);
        }
        pcs_encode_data(in, n, c1, &ra);
        pcs_encode_data_scalar(in, n, c2, &rb);
        g_assert_cmpmem(c1, n * 2, c2, n * 2);
        g_assert_cmpuint(ra, ==, rb);
        if (n && trial % 2) {
            size_t at = g_rand_int_range(rng, 0, n);

            switch (trial % 6) {
            case 1:
                c1[at] ^= 1u << g_rand_int_range(rng, 0, 10);
                break;
            case 3:
                c1[at] = g_rand_int_range(rng, 0x400, 0x10000);
                break;
            default:
                c1[at] = pcs_enc_ctrl[g_rand_int_range(rng, 0, 2)][0xbc] &
                         0x3ff;
                break;
            }
        }
        ra = rb = rd0;
        ka = pcs_decode_data(c1, n, o1, &ra);
        kb = pcs_decode_data_scalar(c1, n, o2, &rb);
        g_assert_cmpuint(ka, ==, kb);
        g_assert_cmpuint(ra, ==, rb);
        g_assert_cmpmem(o1, ka, o2, kb);
    }
    pcs_codec_limit_simd(2);
    g_rand_free(rng);
}

/* One code group at a time: where pcs_decode_data() must stop, and RD. */
static size_t ref_decode(const uint16_t *cgs, size_t n, uint8_t *out,
                         unsigned *rd)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned r = *rd;
        unsigned res = pcs_decode(cgs[i], &r);

        if (res & (PCS_CG_K | PCS_CG_INVALID | PCS_CG_DISPARITY)) {
            break;
        }
        out[i] = res & 0xff;
        *rd = r;
    }
    return i;
}

/* Damage one code group the way a link can: the kinds a receiver sees. */
static void corrupt(GRand *rng, uint16_t *cgs, size_t n, unsigned rd_at)
{
    size_t at = g_rand_int_range(rng, 0, n);
    unsigned r = rd_at;

    switch (g_rand_int_range(rng, 0, 6)) {
    case 0:     /* a bit error: invalid, wrong column or another octet */
        cgs[at] ^= 1u << g_rand_int_range(rng, 0, 10);
        break;
    case 1:     /* the other column's code group: a disparity error */
        cgs[at] = pcs_enc_data[g_rand_int_range(rng, 0, 2)]
                              [g_rand_int_range(rng, 0, 256)] & 0x3ff;
        break;
    case 2:     /* any 10-bit value */
        cgs[at] = g_rand_int_range(rng, 0, 0x400);
        break;
    case 3:     /* out of range */
        cgs[at] = g_rand_int_range(rng, 0x400, 0x10000);
        break;
    case 4:     /* a special code group */
        cgs[at] = pcs_encode(k_octets[g_rand_int_range(rng, 0, 12)], true,
                             &r);
        break;
    default:    /* the complement of a valid one */
        cgs[at] ^= 0x3ff;
        break;
    }
}

/*
 * The bulk functions against pcs_encode()/pcs_decode() at every length
 * 0..130 and every alignment of input and output, from either RD, on
 * clean input and with one to three damaged code groups.
 */
static void check_bulk_exhaustive(GRand *rng)
{
    enum { MAXN = 130, PAD = 8 };
    uint8_t in[MAXN + PAD], o1[MAXN + PAD], o2[MAXN + PAD];
    uint16_t c1[MAXN + PAD], c2[MAXN + PAD];

    for (size_t n = 0; n <= MAXN; n++) {
        for (unsigned al = 0; al < PAD * 4; al++) {
            unsigned ai = al % PAD, ao = al / PAD * 2 + (al & 1);
            unsigned rd0 = g_rand_int_range(rng, 0, 2), ra = rd0, rs = rd0;
            size_t ka, ks;

            for (size_t i = 0; i < n; i++) {
                in[ai + i] = g_rand_int_range(rng, 0, 256);
            }
            pcs_encode_data(in + ai, n, c1 + ao, &ra);
            for (size_t i = 0; i < n; i++) {
                c2[i] = pcs_encode(in[ai + i], false, &rs);
            }
            g_assert_cmpmem(c1 + ao, n * 2, c2, n * 2);
            g_assert_cmpuint(ra, ==, rs);

            /* clean: decodes the full length back to the input */
            ra = rd0;
            g_assert_cmpuint(pcs_decode_data(c1 + ao, n, o1 + ai, &ra), ==,
                             n);
            g_assert_cmpuint(ra, ==, rs);
            g_assert_cmpmem(o1 + ai, n, in + ai, n);

            /* damaged: same stop, same RD, same octets before it */
            if (!n) {
                continue;
            }
            for (int k = g_rand_int_range(rng, 1, 4); k > 0; k--) {
                corrupt(rng, c1 + ao, n, rd0);
            }
            ra = rs = rd0;
            ka = pcs_decode_data(c1 + ao, n, o1, &ra);
            ks = ref_decode(c1 + ao, n, o2, &rs);
            g_assert_cmpuint(ka, ==, ks);
            g_assert_cmpuint(ra, ==, rs);
            g_assert_cmpmem(o1, ka, o2, ks);
        }
    }
}

static void test_bulk_exhaustive(gconstpointer data)
{
    int level = GPOINTER_TO_INT(data);
    GRand *rng = g_rand_new_with_seed(1000 + level);

    if (pcs_codec_limit_simd(level) != level) {
        g_test_skip("host lacks this SIMD level");
    } else {
        check_bulk_exhaustive(rng);
    }
    pcs_codec_limit_simd(2);
    g_rand_free(rng);
}

/*
 * Long random runs with damage anywhere, against the reference, so that
 * stops land at every offset within the bulk decoder's blocks.
 */
static void test_bulk_damaged_long(gconstpointer data)
{
    int level = GPOINTER_TO_INT(data);
    GRand *rng = g_rand_new_with_seed(2000 + level);
    uint8_t in[600], o1[600], o2[600];
    uint16_t cgs[600];

    if (pcs_codec_limit_simd(level) != level) {
        g_test_skip("host lacks this SIMD level");
        pcs_codec_limit_simd(2);
        g_rand_free(rng);
        return;
    }
    for (unsigned trial = 0; trial < 20000; trial++) {
        size_t n = g_rand_int_range(rng, 1, sizeof(in));
        unsigned rd0 = g_rand_int_range(rng, 0, 2), ra = rd0, rs = rd0;
        size_t ka, ks;

        for (size_t i = 0; i < n; i++) {
            in[i] = g_rand_int_range(rng, 0, 256);
        }
        pcs_encode_data(in, n, cgs, &ra);
        corrupt(rng, cgs, n, rd0);
        ra = rd0;
        ka = pcs_decode_data(cgs, n, o1, &ra);
        ks = ref_decode(cgs, n, o2, &rs);
        g_assert_cmpuint(ka, ==, ks);
        g_assert_cmpuint(ra, ==, rs);
        g_assert_cmpmem(o1, ka, o2, ks);
    }
    pcs_codec_limit_simd(2);
    g_rand_free(rng);
}

/*
 * Every 10-bit value and some out-of-range ones, valid data or not, at
 * every position of the bulk decoder's blocks (and across two of them),
 * after a run of valid data from either RD: same stop, RD and octets as
 * one code group at a time.
 */
static void test_bulk_every_code_group(gconstpointer data)
{
    enum { N = 100, POS = 70 };
    static const uint16_t out_of_range[] = { 0x400, 0x7ff, 0x8000, 0xffff };
    int level = GPOINTER_TO_INT(data);
    GRand *rng = g_rand_new_with_seed(3000 + level);
    uint8_t in[N], o1[N], o2[N];
    uint16_t clean[N], cgs[N];

    if (pcs_codec_limit_simd(level) != level) {
        g_test_skip("host lacks this SIMD level");
        pcs_codec_limit_simd(2);
        g_rand_free(rng);
        return;
    }
    for (unsigned v = 0; v < 1024 + G_N_ELEMENTS(out_of_range); v++) {
        uint16_t cg = v < 1024 ? v : out_of_range[v - 1024];

        for (unsigned rd0 = 0; rd0 < 2; rd0++) {
            unsigned rd = rd0;

            for (size_t i = 0; i < N; i++) {
                in[i] = g_rand_int_range(rng, 0, 256);
            }
            pcs_encode_data_scalar(in, N, clean, &rd);
            for (size_t at = 0; at < POS; at++) {
                unsigned ra = rd0, rs = rd0;
                size_t ka, ks;

                memcpy(cgs, clean, sizeof(cgs));
                cgs[at] = cg;
                ka = pcs_decode_data(cgs, N, o1, &ra);
                ks = ref_decode(cgs, N, o2, &rs);
                g_assert_cmpuint(ka, ==, ks);
                g_assert_cmpuint(ra, ==, rs);
                g_assert_cmpmem(o1, ka, o2, ks);
            }
        }
    }
    pcs_codec_limit_simd(2);
    g_rand_free(rng);
}

/*
 * The lazy path: data octets carried with the RD they start at, their
 * code groups made only later.  For random runs of every length from
 * either RD, pcs_data_rd() gives the RD the full encoder ends at, and a
 * stream cut into runs, chained by pcs_data_rd() alone and materialised
 * afterwards in any order, gives bit for bit the full encoder's code
 * groups.
 */
static void test_lazy_disparity(gconstpointer data)
{
    enum { MAXN = 600, STREAM = 3000 };
    int level = GPOINTER_TO_INT(data);
    GRand *rng = g_rand_new_with_seed(4000 + level);
    static uint8_t in[STREAM];
    static uint16_t full[STREAM], lazy[STREAM];

    if (pcs_codec_limit_simd(level) != level) {
        g_test_skip("host lacks this SIMD level");
        pcs_codec_limit_simd(2);
        g_rand_free(rng);
        return;
    }
    for (size_t n = 0; n <= MAXN; n++) {
        for (unsigned trial = 0; trial < 20; trial++) {
            unsigned rd0 = g_rand_int_range(rng, 0, 2), rd = rd0;
            unsigned skew = g_rand_int_range(rng, 0, 8);
            /* two runs of one octet: all unbalanced, all balanced */
            uint8_t same = trial == 0 ? PCS_D(3, 0) : PCS_D(21, 5);

            for (size_t i = 0; i < n; i++) {
                in[skew + i] = trial < 2 ? same :
                               (uint8_t)g_rand_int_range(rng, 0, 256);
            }
            for (size_t i = 0; i < n; i++) {
                full[i] = pcs_encode(in[skew + i], false, &rd);
            }
            g_assert_cmpuint(pcs_data_rd(in + skew, n, rd0), ==, rd);
            g_assert_cmpuint(pcs_data_rd_scalar(in + skew, n, rd0), ==, rd);
            rd = rd0;
            pcs_encode_data(in + skew, n, lazy, &rd);
            g_assert_cmpmem(lazy, n * 2, full, n * 2);
        }
    }

    for (unsigned trial = 0; trial < 50; trial++) {
        size_t start[STREAM / 8 + 2], nruns = 0;
        unsigned run_rd[STREAM / 8 + 2];
        unsigned rd0 = g_rand_int_range(rng, 0, 2), rd = rd0, carried = rd0;

        for (size_t i = 0; i < STREAM; i++) {
            in[i] = g_rand_int_range(rng, 0, 256);
            full[i] = pcs_encode(in[i], false, &rd);
        }
        /* cut into runs of 0 to 80 octets, chained without code groups */
        for (size_t at = 0; at < STREAM; nruns++) {
            size_t len = g_rand_int_range(rng, 0, 81);

            len = MIN(len, STREAM - at);

            start[nruns] = at;
            run_rd[nruns] = carried;
            carried = pcs_data_rd(in + at, len, carried);
            at += len;
        }
        start[nruns] = STREAM;
        g_assert_cmpuint(carried, ==, rd);
        /* materialised last run first */
        memset(lazy, 0, sizeof(lazy));
        for (size_t r = nruns; r-- > 0;) {
            unsigned r_rd = run_rd[r];

            pcs_encode_data(in + start[r], start[r + 1] - start[r],
                            lazy + start[r], &r_rd);
            g_assert_cmpuint(r_rd, ==, r + 1 < nruns ? run_rd[r + 1] : rd);
        }
        g_assert_cmpmem(lazy, sizeof(lazy), full, sizeof(full));
    }
    pcs_codec_limit_simd(2);
    g_rand_free(rng);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pcs-codec/published-codes", test_published_codes);
    g_test_add_func("/pcs-codec/against-sub-blocks", test_against_sub_blocks);
    g_test_add_func("/pcs-codec/balance-and-disparity",
                    test_balance_and_disparity);
    g_test_add_func("/pcs-codec/round-trip-and-count",
                    test_round_trip_and_count);
    g_test_add_func("/pcs-codec/commas", test_commas);
    g_test_add_func("/pcs-codec/run-length", test_run_length);
    g_test_add_func("/pcs-codec/invalid-and-disparity",
                    test_invalid_and_disparity);
    g_test_add_func("/pcs-codec/bulk-matches-scalar",
                    test_bulk_matches_scalar);
    g_test_add_func("/pcs-codec/bulk-decode-stops", test_bulk_decode_stops);
    g_test_add_data_func("/pcs-codec/bulk-matches-portable/avx2",
                         GINT_TO_POINTER(2), test_bulk_simd_matches_portable);
    for (unsigned i = 0; i < 2; i++) {
        static const char *const names[2] = { "portable", "avx2" };
        int level = i * 2;      /* pcs_codec_limit_simd() levels 0 and 2 */
        char path[64];

        snprintf(path, sizeof(path), "/pcs-codec/bulk-exhaustive/%s",
                 names[i]);
        g_test_add_data_func(path, GINT_TO_POINTER(level),
                             test_bulk_exhaustive);
        snprintf(path, sizeof(path), "/pcs-codec/bulk-damaged/%s", names[i]);
        g_test_add_data_func(path, GINT_TO_POINTER(level),
                             test_bulk_damaged_long);
        snprintf(path, sizeof(path), "/pcs-codec/bulk-every-code-group/%s",
                 names[i]);
        g_test_add_data_func(path, GINT_TO_POINTER(level),
                             test_bulk_every_code_group);
        snprintf(path, sizeof(path), "/pcs-codec/lazy-disparity/%s",
                 names[i]);
        g_test_add_data_func(path, GINT_TO_POINTER(level),
                             test_lazy_disparity);
    }
    return g_test_run();
}
