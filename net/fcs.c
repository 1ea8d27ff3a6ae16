/*
 * Ethernet frame check sequence.  zlib's crc32() is the same CRC-32
 * (reflected polynomial 0xEDB88320, preset and inverted) and is well tuned,
 * so the link layer uses it rather than a table of its own.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <zlib.h>

#include "fcs.h"

uint32_t eth_crc32(uint32_t crc, const uint8_t *buf, size_t len)
{
    /* zlib takes uInt lengths; feed very large buffers in pieces. */
    while (len > 0) {
        uInt chunk = len > 0x40000000u ? 0x40000000u : (uInt)len;

        crc = (uint32_t)crc32(crc, buf, chunk);
        buf += chunk;
        len -= chunk;
    }
    return crc;
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
