/*
 * libFuzzer target: TCP segmentation offload (net/tso.c) on what a
 * hostile guest hands its NIC.
 *
 * Input: HDR_LEN (2 octets, little endian), MSS (2 octets), then the
 * frame.  Checks: no crash; if tso_prepare() takes it, every frame
 * tso_segment() makes fits a buffer of exactly HDR_LEN + MSS octets
 * (ASan catches one octet more), and their payloads add up to the
 * frame's.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>

#include "fuzz-target.h"
#include "tso.h"

#define MAX_FRAME 9018

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t hdr_len, mss, total = 0;
    uint8_t *out;
    Tso t;

    if (size < 4) {
        return 0;
    }
    hdr_len = data[0] | data[1] << 8;
    mss = data[2] | data[3] << 8;
    if (tso_prepare(&t, data + 4, size - 4, hdr_len, mss, MAX_FRAME) !=
        TSO_OK) {
        return 0;
    }
    out = malloc(hdr_len + mss);
    for (size_t i = 0; i < t.segs; i++) {
        size_t n = tso_segment(&t, i, out);

        if (n < hdr_len || n > hdr_len + mss) {
            abort();
        }
        total += n - hdr_len;
    }
    free(out);
    if (total != size - 4 - hdr_len) {
        abort();
    }
    return 0;
}
