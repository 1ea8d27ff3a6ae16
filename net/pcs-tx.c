/*
 * 1000BASE-X PCS transmit: frame encapsulation and ordered sets.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include "fcs.h"
#include "pcs-tx.h"

size_t pcs_tx_frame(const uint8_t *frame, size_t len, uint16_t *out,
                    unsigned *rd)
{
    static const uint8_t preamble[7] = {
        0x55, 0x55, 0x55, 0x55, 0x55, 0x55, PCS_SFD
    };
    static const uint8_t zeros[60];
    uint8_t fcs[4];
    uint32_t crc;
    size_t n = 0;

    out[n++] = pcs_encode(PCS_K27_7, true, rd);
    pcs_encode_data(preamble, sizeof(preamble), out + n, rd);
    n += sizeof(preamble);
    pcs_encode_data(frame, len, out + n, rd);
    n += len;
    crc = eth_crc32(0, frame, len);
    if (len < 60) {
        pcs_encode_data(zeros, 60 - len, out + n, rd);
        n += 60 - len;
        crc = eth_crc32(crc, zeros, 60 - len);
    }
    fcs[0] = crc & 0xff;
    fcs[1] = (crc >> 8) & 0xff;
    fcs[2] = (crc >> 16) & 0xff;
    fcs[3] = crc >> 24;
    pcs_encode_data(fcs, 4, out + n, rd);
    n += 4;
    out[n++] = pcs_encode(PCS_K29_7, true, rd);
    out[n++] = pcs_encode(PCS_K23_7, true, rd);
    if (n & 1) {
        out[n++] = pcs_encode(PCS_K23_7, true, rd);
    }
    return n;
}

size_t pcs_tx_idle(uint16_t *out, unsigned *rd)
{
    bool i1 = *rd == PCS_RD_POS;

    out[0] = pcs_encode(PCS_K28_5, true, rd);
    out[1] = pcs_encode(i1 ? PCS_D(5, 6) : PCS_D(16, 2), false, rd);
    return 2;
}

size_t pcs_tx_config(uint16_t reg, bool c2, uint16_t *out, unsigned *rd)
{
    out[0] = pcs_encode(PCS_K28_5, true, rd);
    out[1] = pcs_encode(c2 ? PCS_D(2, 2) : PCS_D(21, 5), false, rd);
    out[2] = pcs_encode(reg & 0xff, false, rd);
    out[3] = pcs_encode(reg >> 8, false, rd);
    return 4;
}

uint8_t pcs_util_check(const PcsUtil *u)
{
    const uint8_t b[3] = { u->cpu_pct, u->irq_pct, u->seq };
    uint8_t crc = 0;

    for (unsigned i = 0; i < 3; i++) {
        crc ^= b[i];
        for (unsigned k = 0; k < 8; k++) {
            crc = crc & 0x80 ? (uint8_t)(crc << 1) ^ 0x07 : crc << 1;
        }
    }
    return crc;
}

size_t pcs_tx_util(const PcsUtil *u, PcsUtilForm form, uint16_t *out,
                   unsigned *rd)
{
    PcsUtil s = *u;
    size_t n = 0;

    s.cpu_pct = s.cpu_pct > 100 ? 100 : s.cpu_pct;
    s.irq_pct = s.irq_pct > 100 ? 100 : s.irq_pct;
    if (form == PCS_UTIL_FORM_EXPANDED) {
        out[n++] = pcs_encode(PCS_K28_0, true, rd);
        out[n++] = pcs_encode(s.cpu_pct, false, rd);
        out[n++] = pcs_encode(s.irq_pct, false, rd);
        out[n++] = pcs_encode(s.seq, false, rd);
        out[n++] = pcs_encode(pcs_util_check(&s), false, rd);
        out[n++] = pcs_encode(PCS_K28_4, true, rd);
        if (*rd == PCS_RD_POS) {
            n += pcs_tx_idle(out + n, rd);
        }
    } else {
        /* 24 payload bits, most significant first: cpu:7 irq:7 seq:8 00 */
        uint32_t bits = (uint32_t)s.cpu_pct << 17 |
                        (uint32_t)s.irq_pct << 10 | (uint32_t)s.seq << 2;
        uint8_t sym[6];

        sym[0] = pcs_util_marker;
        for (unsigned i = 0; i < 4; i++) {
            sym[1 + i] = pcs_util_alphabet[(bits >> (18 - 6 * i)) & 63];
        }
        sym[5] = pcs_util_alphabet[pcs_util_check(&s) & 63];
        if (*rd == PCS_RD_POS) {
            n += pcs_tx_idle(out + n, rd);
        }
        for (unsigned i = 0; i < 6; i++) {
            /* K28.5 at RD- then an unbalanced octet: RD is back to -. */
            out[n++] = pcs_encode(PCS_K28_5, true, rd);
            out[n++] = pcs_encode(sym[i], false, rd);
        }
    }
    return n;
}
