/*
 * 8b/10b code groups of the 1000BASE-X PCS (IEEE 802.3 clause 36).
 *
 * A code group is a uint16_t holding the ten bits "abcdei fghj" with 'a'
 * (the first bit on the wire) in bit 9 and 'j' in bit 0, so that printing
 * it in binary reads like the standard's tables.  Running disparity (RD)
 * is 0 for negative and 1 for positive; links start at RD-.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_PCS_CODEC_H
#define BLADEPLANE_NET_PCS_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define PCS_RD_NEG 0
#define PCS_RD_POS 1

/* Octet values of the special code groups, Kx.y = (y << 5) | x. */
#define PCS_K28_0 0x1C
#define PCS_K28_1 0x3C
#define PCS_K28_2 0x5C
#define PCS_K28_3 0x7C
#define PCS_K28_4 0x9C
#define PCS_K28_5 0xBC
#define PCS_K28_6 0xDC
#define PCS_K28_7 0xFC
#define PCS_K23_7 0xF7  /* /R/ carrier extend */
#define PCS_K27_7 0xFB  /* /S/ start of packet */
#define PCS_K29_7 0xFD  /* /T/ end of packet */
#define PCS_K30_7 0xFE  /* /V/ error propagation */

/* Data octets named after their code group, Dx.y. */
#define PCS_D(x, y) ((uint8_t)(((y) << 5) | (x)))

/*
 * Generated tables (pcs-tables.c).  pcs_enc_data[rd][octet] and
 * pcs_enc_ctrl[rd][octet]: bits 0-9 the code group, bit 15 set if it is
 * unbalanced (flips RD); pcs_enc_ctrl has bit 14 set on the 12 valid
 * special code groups and is 0 elsewhere.
 */
#define PCS_ENC_FLIP  0x8000u
#define PCS_ENC_VALID 0x4000u
extern const uint16_t pcs_enc_data[2][256];
extern const uint16_t pcs_enc_ctrl[2][256];

/* pcs_dec_tab[code group] layout. */
#define PCS_DEC_OCTET    0x00ffu
#define PCS_DEC_K        0x0100u  /* a special code group */
#define PCS_DEC_OK_NEG   0x0200u  /* valid in the RD- column */
#define PCS_DEC_OK_POS   0x0400u  /* valid in the RD+ column */
#define PCS_DEC_FLIP     0x0800u  /* unbalanced */
#define PCS_DEC_RDO_NEG  0x1000u  /* RD after it, entered at RD- */
#define PCS_DEC_RDO_POS  0x2000u  /* RD after it, entered at RD+ */
#define PCS_DEC_COMMA    0x4000u  /* holds a comma in bits abcdeif */
extern const uint16_t pcs_dec_tab[1024];

/*
 * Tables of the portable bulk functions, laid out for a shift count s that
 * holds the running disparity in bit 5 (only bits 0-5 of s count): 6 at
 * RD-, 38 at RD+.  Bit 5 of an entry is set if the code group is
 * unbalanced (flips RD) and bits 0-4 are clear, so that s += entry steps
 * RD past the code group (a carry out of bit 5 is never looked at).  Each
 * entry has two fields, the one at bit 6 picked by s = 6, the one at bit
 * 38 by s = 38.
 *
 * In table 0 the fields are placed by the RD after the code group:
 * s += e, then e >> (s & 63) holds the result for the RD before it.  In
 * table 1 they are placed by the RD before it and one result higher, for
 * the second of a pair: with a from table 0 for the first and b from
 * table 1 for the second, (a ^ b) >> ((s + a) & 63) holds both results
 * and s += a ^ b steps RD past both.
 *
 * pcs_enc_bulk[t][octet]: the code group in bits 0-9 of each field (table
 * 1: bits 16-25), all else clear.
 *
 * pcs_dec_bulk[t][code group]: the data octet in bits 0-7 of each field,
 * bit 16 set if it is not a valid data code group at the RD before it
 * (table 1: the octet in bits 8-15, that bit in bit 17), so that a
 * shifted entry or pair holds the octets and their "stop here" bits.
 * Specials and invalid code groups have the stop bit set in both fields
 * and octet 0.
 */
extern const uint64_t pcs_enc_bulk[2][256];
extern const uint64_t pcs_dec_bulk[2][1024];

/*
 * 16-entry byte tables of the AVX2 kernels, one pshufb look-up each (x is
 * an octet's low five bits, y its high three; a code group is abcdei fghj,
 * its 6b sub-block abcdei with 'a' in bit 5, its 4b sub-block fghj).
 *
 * pcs_simd_enc6[rd * 2 + x / 16][x % 16]: the 6b sub-block at RD @rd in
 * bits 0-5, bit 6 set if the 4b sub-block takes the alternate D.x.7 when
 * y is 7, bit 7 set if the 6b sub-block is unbalanced.
 * pcs_simd_enc4[rd6][y]: the 4b sub-block at RD @rd6 (after the 6b one)
 * in bits 0-3 (primary D.x.7; the alternate is that XOR 9), bit 6 set if
 * y is 7, bit 7 set if unbalanced.
 *
 * pcs_simd_dec6[abcdei / 16][abcdei % 16]: x in bits 0-4, bit 6 set if it
 * is a data 6b sub-block at RD-, bit 5 at RD+, bit 7 set if unbalanced.
 * pcs_simd_dec4[0][fghj]: y << 5.  pcs_simd_dec4[1][fghj]: bit 7 set if
 * unbalanced, bits 0-3 the contexts it is valid in: bit 0 at RD- after the
 * 6b sub-block unless ei is 11, bit 1 at RD- if ei is 11, bit 2 at RD+
 * unless ei is 00, bit 3 at RD+ if ei is 00 (the alternate D.x.7 avoids
 * runs of five equal bits across "ei fghj").  pcs_simd_dec4[2][cdei]: the
 * contexts a 6b sub-block ending in those bits selects, one for each RD
 * after it, in the same layout.  pcs_simd_dec4[3][t], t the AND of the
 * two: bit 6 set if the 4b sub-block is valid at RD- after the 6b one,
 * bit 5 at RD+; pcs_simd_dec4[4][t] the same with RD- and RD+ swapped (for
 * unbalanced 6b sub-blocks, which end at the other RD than they start).
 */
extern const uint8_t pcs_simd_enc6[4][16];
extern const uint8_t pcs_simd_enc4[2][16];
extern const uint8_t pcs_simd_dec6[4][16];
extern const uint8_t pcs_simd_dec4[5][16];

/* Result flags of pcs_decode(). */
#define PCS_CG_K         0x0100u  /* special code group */
#define PCS_CG_INVALID   0x0200u  /* in neither column */
#define PCS_CG_DISPARITY 0x0400u  /* valid only in the other column */
#define PCS_CG_COMMA     0x0800u

/*
 * Encode one octet (data, or special if @is_k) at *rd, updating *rd.
 * A special octet that is not one of the 12 gives /V/ (K30.7).
 */
static inline uint16_t pcs_encode(uint8_t octet, bool is_k, unsigned *rd)
{
    uint16_t e;

    if (is_k) {
        e = pcs_enc_ctrl[*rd][octet];
        if (!(e & PCS_ENC_VALID)) {
            e = pcs_enc_ctrl[*rd][PCS_K30_7];
        }
    } else {
        e = pcs_enc_data[*rd][octet];
    }
    *rd ^= (e >> 15);
    return e & 0x3ff;
}

/*
 * Decode one code group received at *rd and update *rd by the sub-block
 * rules of 36.2.4.4 (also for invalid code groups).  Returns the octet in
 * bits 0-7 plus PCS_CG_* flags; an invalid code group decodes as octet 0.
 */
static inline unsigned pcs_decode(uint16_t cg, unsigned *rd)
{
    unsigned d = pcs_dec_tab[cg & 0x3ff];
    unsigned ok = *rd ? PCS_DEC_OK_POS : PCS_DEC_OK_NEG;
    unsigned res = d & (PCS_DEC_OCTET | PCS_DEC_K);

    if (d & PCS_DEC_COMMA) {
        res |= PCS_CG_COMMA;
    }
    if (cg > 0x3ff || !(d & (PCS_DEC_OK_NEG | PCS_DEC_OK_POS))) {
        res = (res & PCS_CG_COMMA) | PCS_CG_INVALID;
    } else if (!(d & ok)) {
        res |= PCS_CG_DISPARITY;
    }
    *rd = (d >> (*rd ? 13 : 12)) & 1;
    return res;
}

/*
 * Bulk data encode: @n octets to code groups starting at *rd, updating
 * *rd.  Running disparity never feeds a table look-up: in the portable
 * code each octet's one look-up gives both columns' code groups and
 * whether it flips RD, and RD only picks one by a shift count (see
 * pcs_enc_bulk); the AVX2 kernels resolve it 32 octets at a time from
 * the per-octet "flips RD" bits (a prefix XOR).
 */
void pcs_encode_data(const uint8_t *in, size_t n, uint16_t *out,
                     unsigned *rd);

/*
 * Bulk data decode: decodes code groups from @in while they are valid data
 * code groups in the correct disparity column, at most @n.  Returns how
 * many were decoded (octets stored to @out, *rd updated); the code group
 * at the returned index, if < n, is special, invalid or a disparity error
 * and must be handled with pcs_decode().  @out past the returned count,
 * up to @n, may have been written.
 */
size_t pcs_decode_data(const uint16_t *in, size_t n, uint8_t *out,
                       unsigned *rd);

/*
 * Running disparity after @n data octets encoded from @rd, computed
 * without producing their code groups: what pcs_encode_data() would leave
 * in *rd.  With it, a run of data octets can be carried with the RD it
 * starts at and the RD after it, and its code groups materialised only
 * when something observes them: pcs_encode_data() from the starting RD
 * gives, bit for bit, the code groups the full encoder would have sent.
 */
unsigned pcs_data_rd(const uint8_t *in, size_t n, unsigned rd);

/* The portable implementations of the three above (for tests). */
void pcs_encode_data_scalar(const uint8_t *in, size_t n, uint16_t *out,
                            unsigned *rd);
size_t pcs_decode_data_scalar(const uint16_t *in, size_t n, uint8_t *out,
                              unsigned *rd);
unsigned pcs_data_rd_scalar(const uint8_t *in, size_t n, unsigned rd);

/*
 * Use at most this SIMD level in the bulk functions (0 portable, 2 AVX2;
 * 1, formerly SSSE3, now means portable; the default is the best the host
 * has).  Returns the level now in use.  For tests and benchmarks.
 */
int pcs_codec_limit_simd(int max_level);

/* True if @octet is one of the 12 special code groups of clause 36. */
bool pcs_is_valid_k(uint8_t octet);

/* Name of a code group's octet, "D21.5" or "K28.5", into buf[8]. */
const char *pcs_cg_name(uint8_t octet, bool is_k, char buf[8]);

#endif
