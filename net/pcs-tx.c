/*
 * 1000BASE-X PCS transmit: frame encapsulation and ordered sets.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "byteorder.h"

#include <string.h>

#include "fcs.h"
#include "pcs-tx.h"

/* after /S/ (which stands for the first preamble octet): 6 x 0x55, SFD */
static const uint8_t pcs_preamble[PCS_PREAMBLE_SFD - 1] = {
    0x55, 0x55, 0x55, 0x55, 0x55, 0x55, PCS_SFD
};

/* /S/ and the rest of the preamble with the SFD; returns code groups */
static size_t put_frame_start(uint16_t *out, unsigned *rd)
{
    out[0] = pcs_encode(PCS_K27_7, true, rd);
    pcs_encode_data(pcs_preamble, sizeof(pcs_preamble), out + 1, rd);
    return 1 + sizeof(pcs_preamble);
}

/* /T/R/, and a second /R/ so that the burst ends at an even position */
static size_t put_frame_end(uint16_t *out, size_t n, unsigned *rd)
{
    out[n++] = pcs_encode(PCS_K29_7, true, rd);
    out[n++] = pcs_encode(PCS_K23_7, true, rd);
    if (n & 1) {
        out[n++] = pcs_encode(PCS_K23_7, true, rd);
    }
    return n;
}

size_t pcs_tx_frame(const uint8_t *frame, size_t len, uint16_t *out,
                    unsigned *rd)
{
    static const uint8_t zeros[60];
    uint8_t fcs[4];
    uint32_t crc;
    size_t n = put_frame_start(out, rd);

    pcs_encode_data(frame, len, out + n, rd);
    n += len;
    crc = eth_crc32(0, frame, len);
    if (len < 60) {
        pcs_encode_data(zeros, 60 - len, out + n, rd);
        n += 60 - len;
        crc = eth_crc32(crc, zeros, 60 - len);
    }
    stl_le_p(fcs, crc);
    pcs_encode_data(fcs, 4, out + n, rd);
    return put_frame_end(out, n + 4, rd);
}

size_t pcs_tx_frame_octets(const uint8_t *octets, size_t n, uint16_t *out,
                           unsigned *rd)
{
    size_t k = put_frame_start(out, rd);

    pcs_encode_data(octets, n, out + k, rd);
    return put_frame_end(out, k + n, rd);
}

void pcs_tx_frame_octets_rd(const uint8_t *octets, size_t n, unsigned *rd)
{
    unsigned r = *rd;

    pcs_encode(PCS_K27_7, true, &r);
    r = pcs_data_rd(pcs_preamble, sizeof(pcs_preamble), r);
    r = pcs_data_rd(octets, n, r);
    pcs_encode(PCS_K29_7, true, &r);
    pcs_encode(PCS_K23_7, true, &r);
    if ((PCS_PREAMBLE_SFD + n + 2) & 1) {   /* a second /R/ */
        pcs_encode(PCS_K23_7, true, &r);
    }
    *rd = r;
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

/* CRC-8, polynomial x^8+x^2+x+1, initial value 0, MSB first. */
static uint8_t util_crc8(const uint8_t *b, size_t n)
{
    uint8_t crc = 0;

    for (size_t i = 0; i < n; i++) {
        crc ^= b[i];
        for (unsigned k = 0; k < 8; k++) {
            crc = crc & 0x80 ? (uint8_t)(crc << 1) ^ 0x07 : crc << 1;
        }
    }
    return crc;
}

uint8_t pcs_util_check(const PcsUtil *u)
{
    const uint8_t b[3] = { u->cpu_pct, u->irq_pct, u->seq };

    return util_crc8(b, sizeof(b));
}

/* The octets the contention check covers, as the expanded form sends them. */
static void util_cont_octets(const PcsUtil *u, uint8_t b[7])
{
    b[0] = u->cpu_pct;
    b[1] = u->irq_pct;
    b[2] = u->seq;
    stw_be_p(b + 3, u->psi_permille);
    stw_be_p(b + 5, u->runnable);
}

uint8_t pcs_util_cont_check(const PcsUtil *u)
{
    uint8_t b[7];

    util_cont_octets(u, b);
    return util_crc8(b, sizeof(b));
}

/* Six K28.5 Dx.y sets from RD-: marker, then five six-bit symbols of @bits. */
static size_t put_idle_sets(uint8_t marker, uint32_t bits, uint16_t *out,
                            unsigned *rd)
{
    size_t n = 0;

    out[n++] = pcs_encode(PCS_K28_5, true, rd);
    out[n++] = pcs_encode(marker, false, rd);
    for (unsigned i = 0; i < 5; i++) {
        /* K28.5 at RD- then an unbalanced octet: RD is back to -. */
        out[n++] = pcs_encode(PCS_K28_5, true, rd);
        out[n++] = pcs_encode(pcs_util_alphabet[(bits >> (24 - 6 * i)) & 63],
                              false, rd);
    }
    return n;
}

/* @u as sent: figures above what a set carries go as the largest. */
static PcsUtil util_clamped(const PcsUtil *u)
{
    PcsUtil s = *u;

    s.cpu_pct = s.cpu_pct > 100 ? 100 : s.cpu_pct;
    s.irq_pct = s.irq_pct > 100 ? 100 : s.irq_pct;
    if (s.has_contention) {
        s.psi_permille = s.psi_permille > PCS_UTIL_MAX_PSI ?
                         PCS_UTIL_MAX_PSI : s.psi_permille;
        s.runnable = s.runnable > PCS_UTIL_MAX_RUNNABLE ?
                     PCS_UTIL_MAX_RUNNABLE : s.runnable;
    }
    return s;
}

/* The extension's six sets from RD- (@s clamped, with contention). */
static size_t put_ext_sets(const PcsUtil *s, uint16_t *out, unsigned *rd)
{
    /* 30 bits, most significant first: psi:10 run:10 00 check:8 */
    return put_idle_sets(pcs_util_cont_marker,
                         (uint32_t)s->psi_permille << 20 |
                         (uint32_t)s->runnable << 10 |
                         pcs_util_cont_check(s), out, rd);
}

size_t pcs_tx_util_ext(const PcsUtil *u, uint16_t *out, unsigned *rd)
{
    PcsUtil s = *u;
    size_t n = 0;

    s.has_contention = true;
    s = util_clamped(&s);
    if (*rd == PCS_RD_POS) {
        n += pcs_tx_idle(out + n, rd);
    }
    return n + put_ext_sets(&s, out + n, rd);
}

size_t pcs_tx_util(const PcsUtil *u, PcsUtilForm form, uint16_t *out,
                   unsigned *rd)
{
    PcsUtil s = util_clamped(u);
    size_t n = 0;

    if (form == PCS_UTIL_FORM_EXPANDED) {
        uint8_t b[7];
        unsigned nb = 3;

        util_cont_octets(&s, b);
        if (s.has_contention) {
            out[n++] = pcs_encode(PCS_K28_2, true, rd);
            nb = 7;
        } else {
            out[n++] = pcs_encode(PCS_K28_0, true, rd);
        }
        for (unsigned i = 0; i < nb; i++) {
            out[n++] = pcs_encode(b[i], false, rd);
        }
        out[n++] = pcs_encode(s.has_contention ? pcs_util_cont_check(&s)
                                               : pcs_util_check(&s),
                              false, rd);
        out[n++] = pcs_encode(PCS_K28_4, true, rd);
        if (*rd == PCS_RD_POS) {
            n += pcs_tx_idle(out + n, rd);
        }
    } else {
        if (*rd == PCS_RD_POS) {
            n += pcs_tx_idle(out + n, rd);
        }
        if (s.has_contention) {
            n += put_ext_sets(&s, out + n, rd);
        }
        /* 30 bits: cpu:7 irq:7 seq:8 00, then the check value's low six */
        n += put_idle_sets(pcs_util_marker,
                           (uint32_t)s.cpu_pct << 23 |
                           (uint32_t)s.irq_pct << 16 |
                           (uint32_t)s.seq << 8 |
                           (pcs_util_check(&s) & 63), out + n, rd);
    }
    return n;
}
