/*
 * Ethernet FCS against published CRC-32 vectors.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <string.h>
#include <zlib.h>

#include "fcs.h"

/* CRC-32/ISO-HDLC (the Ethernet CRC) check values from the CRC catalogue. */
static void test_check_values(void)
{
    const char *nine = "123456789";
    const char *fox = "The quick brown fox jumps over the lazy dog";

    g_assert_cmphex(eth_crc32(0, NULL, 0), ==, 0);
    g_assert_cmphex(eth_crc32(0, (const uint8_t *)nine, 9), ==, 0xCBF43926);
    g_assert_cmphex(eth_crc32(0, (const uint8_t *)fox, strlen(fox)), ==,
                    0x414FA339);
}

/* Feeding a buffer in pieces gives the same CRC as in one go. */
static void test_incremental(void)
{
    const uint8_t *nine = (const uint8_t *)"123456789";
    uint32_t crc = eth_crc32(0, nine, 4);

    g_assert_cmphex(eth_crc32(crc, nine + 4, 5), ==, 0xCBF43926);
}

/*
 * A frame followed by its own FCS leaves the fixed CRC-32 residue
 * 0x2144DF1C (0xDEBB20E3 before the final inversion): the property a
 * receiver's FCS check relies on.
 */
static void test_append_and_residue(void)
{
    uint8_t frame[64 + ETH_FCS_LEN];

    for (size_t i = 0; i < 64; i++) {
        frame[i] = (uint8_t)(i * 37 + 11);
    }
    eth_fcs_append(frame, 64);
    g_assert_true(eth_fcs_ok(frame, sizeof(frame)));
    g_assert_cmphex(eth_crc32(0, frame, sizeof(frame)), ==, 0x2144DF1C);
}

/* Any single flipped bit, in data or FCS, is caught. */
static void test_single_bit_errors(void)
{
    uint8_t frame[60 + ETH_FCS_LEN];

    memset(frame, 0xA5, 60);
    eth_fcs_append(frame, 60);
    for (size_t bit = 0; bit < sizeof(frame) * 8; bit++) {
        frame[bit / 8] ^= 1u << (bit % 8);
        g_assert_false(eth_fcs_ok(frame, sizeof(frame)));
        frame[bit / 8] ^= 1u << (bit % 8);
    }
    g_assert_true(eth_fcs_ok(frame, sizeof(frame)));
}

/*
 * Same as zlib's crc32() at every length and alignment, in pieces too,
 * with the code this host uses (PCLMULQDQ where it has it) and with the
 * tables alone.
 */
static void check_matches_zlib(void)
{
    static uint8_t buf[2100];

    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    }
    for (size_t off = 0; off < 9; off++) {
        for (size_t len = 0; len < 2000; len++) {
            uint32_t want = crc32(0, buf + off, len);
            size_t cut = len / 3;

            g_assert_cmphex(eth_crc32(0, buf + off, len), ==, want);
            g_assert_cmphex(eth_crc32(eth_crc32(0, buf + off, cut),
                                      buf + off + cut, len - cut), ==, want);
        }
    }
}

static void test_matches_zlib(void)
{
    g_test_message("PCLMULQDQ: %s", eth_crc32_allow_clmul(true) ? "yes" : "no");
    check_matches_zlib();
    g_assert_false(eth_crc32_allow_clmul(false));
    check_matches_zlib();
    eth_crc32_allow_clmul(true);
}

static void test_too_short(void)
{
    const uint8_t three[3] = { 0, 0, 0 };

    g_assert_false(eth_fcs_ok(three, sizeof(three)));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/fcs/check-values", test_check_values);
    g_test_add_func("/fcs/incremental", test_incremental);
    g_test_add_func("/fcs/append-and-residue", test_append_and_residue);
    g_test_add_func("/fcs/single-bit-errors", test_single_bit_errors);
    g_test_add_func("/fcs/too-short", test_too_short);
    g_test_add_func("/fcs/matches-zlib", test_matches_zlib);
    return g_test_run();
}
