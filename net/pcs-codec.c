/*
 * 8b/10b bulk encode and decode (IEEE 802.3 clause 36).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>

#include "pcs-codec.h"

/*
 * Running disparity before each of eight octets, given RD before the
 * first (@rd) and a mask with bit i set if octet i is unbalanced: RD
 * before octet i is rd XOR the parity of mask bits 0..i-1.
 */
static inline unsigned rd_before_each(unsigned flips, unsigned rd)
{
    unsigned p = flips << 1;

    p ^= p << 1;
    p ^= p << 2;
    p ^= p << 4;
    return rd ? ~p : p;
}

void pcs_encode_data(const uint8_t *in, size_t n, uint16_t *out,
                     unsigned *rd)
{
    const uint16_t *neg = pcs_enc_data[0];
    const uint16_t *both = &pcs_enc_data[0][0];
    unsigned r = *rd;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint16_t e[8];
        unsigned flips = 0, before;

        for (unsigned j = 0; j < 8; j++) {
            e[j] = neg[in[i + j]];
            flips |= (unsigned)(e[j] >> 15) << j;
        }
        before = rd_before_each(flips, r);
        for (unsigned j = 0; j < 8; j++) {
            /* Indexing by RD, not branching on it: RD is data dependent. */
            out[i + j] = both[((before >> j) & 1) << 8 | in[i + j]] & 0x3ff;
        }
        r ^= __builtin_parity(flips);
    }
    for (; i < n; i++) {
        out[i] = pcs_encode(in[i], false, &r);
    }
    *rd = r;
}

size_t pcs_decode_data(const uint16_t *in, size_t n, uint8_t *out,
                       unsigned *rd)
{
    unsigned r = *rd;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        unsigned flips = 0, okneg = 0, okpos = 0, before, bad;
        uint16_t d[8];

        for (unsigned j = 0; j < 8; j++) {
            uint16_t cg = in[i + j];

            /* Out-of-range values index entry 0, which is invalid. */
            d[j] = pcs_dec_tab[cg < 1024 ? cg : 0];
            flips |= ((d[j] >> 11) & 1u) << j;
            okneg |= ((d[j] >> 9) & 1u) << j;
            okpos |= ((d[j] >> 10) & 1u) << j;
            out[i + j] = d[j] & 0xff;
        }
        before = rd_before_each(flips, r) & 0xff;
        /* Bad: specials, or not valid in the column of its own RD. */
        bad = (before & ~okpos) | (~before & ~okneg);
        for (unsigned j = 0; j < 8; j++) {
            bad |= ((d[j] >> 8) & 1u) << j;
        }
        bad &= 0xff;
        if (bad) {
            unsigned k = __builtin_ctz(bad);

            *rd = r ^ __builtin_parity(flips & ((1u << k) - 1));
            return i + k;
        }
        r ^= __builtin_parity(flips);
    }
    for (; i < n; i++) {
        unsigned t = r;
        unsigned res = pcs_decode(in[i], &t);

        if (res & (PCS_CG_K | PCS_CG_INVALID | PCS_CG_DISPARITY)) {
            break;
        }
        out[i] = res & 0xff;
        r = t;
    }
    *rd = r;
    return i;
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
