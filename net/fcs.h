/*
 * Ethernet frame check sequence (IEEE 802.3 clause 3.2.9): CRC-32.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_FCS_H
#define BLADEPLANE_NET_FCS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define ETH_FCS_LEN 4

/* Slicing-by-8 tables (generated into pcs-tables.c). */
extern const uint32_t eth_crc32_tab[8][256];

/* CRC-32 of @len bytes, continuing from @crc (0 to start). */
uint32_t eth_crc32(uint32_t crc, const uint8_t *buf, size_t len);

/*
 * Whether eth_crc32() may fold with PCLMULQDQ where the host has it (the
 * default), or must use the tables (tests, benches); returns whether it
 * now uses PCLMULQDQ.
 */
bool eth_crc32_allow_clmul(bool allow);

/*
 * Append the FCS of frame[0..len) at frame[len..len+4), least significant
 * byte first, as it goes on the wire.
 */
void eth_fcs_append(uint8_t *frame, size_t len);

/* True if the last four bytes of frame[0..len) are its correct FCS. */
bool eth_fcs_ok(const uint8_t *frame, size_t len);

#endif
