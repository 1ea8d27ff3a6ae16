/*
 * libFuzzer target: the PCS receiver and the bulk/scalar decoders on
 * arbitrary code groups (two input octets each, little endian).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz-target.h"
#include "pcs-rx.h"

/* Frames are summed into it so that ASan checks every octet. */
static volatile uint8_t sink;

static PcsRx rx;
static uint16_t cgs[4096];
static uint8_t octets[4096];

static void on_frame(void *opaque, const uint8_t *f, size_t len)
{
    /* touch every octet so ASan checks the bounds */
    for (size_t i = 0; i < len; i++) {
        sink += f[i];
    }
    if (len > ETH_MAX_FRAME) {
        abort();
    }
}

/* A sample the receiver delivers never claims impossible figures. */
static void on_util(void *opaque, const PcsUtil *u, PcsUtilForm form)
{
    if (u->cpu_pct > 100 || u->irq_pct > 100 ||
        (u->has_contention && (u->psi_permille > PCS_UTIL_MAX_PSI ||
                               u->runnable > PCS_UTIL_MAX_RUNNABLE))) {
        abort();
    }
    if (opaque) {
        *(PcsUtil *)opaque = *u;
    }
}

static const PcsRxOps ops = { .frame = on_frame, .util = on_util };

/*
 * The first eight input octets as a sample, in either form from either
 * disparity, or split across two frames' gaps: the receiver gives back the
 * same sample, figures clamped to what the set can carry.
 */
static void util_round_trip(const uint8_t *d)
{
    PcsUtil u = {
        .cpu_pct = d[0], .irq_pct = d[1], .seq = d[2],
        .has_contention = d[3] & 1,
        .psi_permille = (uint16_t)(d[4] | d[5] << 8),
        .runnable = (uint16_t)(d[6] | d[7] << 8),
    };
    PcsUtil got = { 0 };
    unsigned rd = PCS_RD_NEG;
    size_t n = 0;

    pcs_rx_init(&rx, &ops, &got);
    pcs_rx_gap(&rx);
    if ((d[3] & 8) && !(d[3] & 4) && u.has_contention) {
        /*
         * split across two gaps: the extension after one frame (of the
         * same octets), the set after the next
         */
        PcsUtil set = u;

        n = pcs_tx_frame(d, 4, cgs, &rd);
        n += pcs_tx_util_ext(&u, cgs + n, &rd);
        pcs_rx_input(&rx, cgs, n);
        pcs_rx_gap(&rx);
        rd = PCS_RD_NEG;
        set.has_contention = false;
        n = pcs_tx_frame(d, 8, cgs, &rd);
        n += pcs_tx_util(&set, PCS_UTIL_FORM_IDLE, cgs + n, &rd);
    } else {
        if (d[3] & 2) {
            /* reach RD+ first, as a /T/R/ may leave it */
            cgs[n++] = pcs_encode(PCS_K28_5, true, &rd);
            cgs[n++] = pcs_encode(PCS_D(5, 6), false, &rd);
        }
        n += pcs_tx_util(&u, d[3] & 4 ? PCS_UTIL_FORM_EXPANDED
                                      : PCS_UTIL_FORM_IDLE, cgs + n, &rd);
    }
    pcs_rx_input(&rx, cgs, n);
    pcs_rx_gap(&rx);
    if (rx.cnt.util_sets != 1 || rx.cnt.util_errors ||
        got.cpu_pct != (u.cpu_pct > 100 ? 100 : u.cpu_pct) ||
        got.irq_pct != (u.irq_pct > 100 ? 100 : u.irq_pct) ||
        got.seq != u.seq || got.has_contention != u.has_contention) {
        abort();
    }
    if (u.has_contention &&
        (got.psi_permille != (u.psi_permille > PCS_UTIL_MAX_PSI ?
                              PCS_UTIL_MAX_PSI : u.psi_permille) ||
         got.runnable != (u.runnable > PCS_UTIL_MAX_RUNNABLE ?
                          PCS_UTIL_MAX_RUNNABLE : u.runnable))) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t n = size / 2 > 4096 ? 4096 : size / 2;
    unsigned rd_bulk = PCS_RD_NEG, rd = PCS_RD_NEG;
    size_t k;

    for (size_t i = 0; i < n; i++) {
        cgs[i] = (uint16_t)(data[2 * i] | data[2 * i + 1] << 8);
    }
    /* every SIMD level the host has, picked by the input's length */
    pcs_codec_limit_simd(size % 3);
    /*
     * The bulk decoder agrees with the scalar one up to where it stops,
     * and stops exactly at the first non-data code group.
     */
    k = pcs_decode_data(cgs, n, octets, &rd_bulk);
    for (size_t i = 0; i < n; i++) {
        unsigned res = pcs_decode(cgs[i], &rd);

        if (i < k) {
            if ((res & ~PCS_CG_COMMA) != octets[i]) {
                abort();
            }
        } else {
            if (!(res & (PCS_CG_K | PCS_CG_INVALID | PCS_CG_DISPARITY))) {
                abort();
            }
            break;
        }
        if (i + 1 == k && rd != rd_bulk) {
            abort();
        }
    }

    /* The receiver, with a gap wherever a code group has bit 15 set. */
    pcs_rx_init(&rx, &ops, NULL);
    pcs_rx_gap(&rx);
    for (size_t i = 0, start = 0; i <= n; i++) {
        if (i == n || (cgs[i] & 0x8000)) {
            pcs_rx_input(&rx, cgs + start, i - start);
            pcs_rx_gap(&rx);
            start = i + 1;
        }
    }
    /* last: it reuses cgs[] */
    if (size >= 8) {
        util_round_trip(data);
    }
    return 0;
}
