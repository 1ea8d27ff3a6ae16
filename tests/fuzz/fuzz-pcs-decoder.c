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

static const PcsRxOps ops = { .frame = on_frame };

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
    return 0;
}
