/*
 * TCP segmentation offload (net/tso.c): the frames a large segment is cut
 * into carry its payload in order, with headers and checksums a receiver
 * takes (checked here independently), the flags where Linux's GSO puts
 * them; every malformed frame a guest can hand over is refused.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <string.h>

#include "tso.h"

#define MAX_FRAME 9018

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += p[i] << 8 | p[i + 1];
    }
    if (n & 1) {
        sum += p[n - 1] << 8;
    }
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

static uint16_t be16(const uint8_t *p)
{
    return p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)be16(p) << 16 | be16(p + 2);
}

/*
 * A TCP segment of @payload octets over IPv4 (IHL 5) or IPv6, with a
 * 32-octet TCP header (options), FIN, PSH and CWR set; returns its
 * length, the header length in *hdr_len.
 */
static size_t big_frame(uint8_t *f, bool v6, size_t payload, size_t *hdr_len)
{
    uint8_t *ip = f + 14, *th;
    size_t l4 = v6 ? 54 : 34;

    memset(f, 0, l4 + 32);
    f[12] = v6 ? 0x86 : 0x08;
    f[13] = v6 ? 0xdd : 0x00;
    if (v6) {
        ip[0] = 0x60;
        ip[6] = 6;
        ip[7] = 64;
        ip[8] = ip[24] = 0xfd;
        ip[23] = 1;
        ip[39] = 2;
    } else {
        ip[0] = 0x45;
        ip[4] = 0xff;               /* identification 0xfffe: it wraps */
        ip[5] = 0xfe;
        ip[6] = 0x40;               /* DF */
        ip[8] = 64;
        ip[9] = 6;
        ip[12] = 10;
        ip[15] = 1;
        ip[16] = 10;
        ip[19] = 2;
    }
    th = f + l4;
    th[0] = 0x13;
    th[1] = 0x88;
    th[3] = 80;
    th[4] = 0xff;                   /* the sequence number wraps too */
    th[5] = 0xff;
    th[6] = 0xf0;
    th[12] = 8 << 4;                /* 32 octets: 12 of options */
    th[13] = 0x80 | 0x10 | 0x08 | 0x01;    /* CWR ACK PSH FIN */
    th[20] = 1;                     /* NOP */
    for (size_t i = 0; i < payload; i++) {
        f[l4 + 32 + i] = (uint8_t)(i * 7 + i / 251);
    }
    *hdr_len = l4 + 32;
    return l4 + 32 + payload;
}

/* A receiver's checks of one frame; returns its TCP payload length. */
static size_t check_frame(const uint8_t *s, size_t len, bool v6,
                          size_t hdr_len)
{
    const uint8_t *ip = s + 14;
    size_t l4 = v6 ? 54 : 34, tcp_len = len - l4;
    uint8_t pseudo[40];
    uint32_t sum;

    if (v6) {
        g_assert_cmpuint(be16(ip + 4), ==, tcp_len);
        memcpy(pseudo, ip + 8, 32);
        memset(pseudo + 32, 0, 8);
        pseudo[34] = tcp_len >> 8;
        pseudo[35] = tcp_len;
        pseudo[39] = 6;
        sum = sum16(0, pseudo, 40);
    } else {
        g_assert_cmpuint(be16(ip + 2), ==, len - 14);
        g_assert_cmphex(fold(sum16(0, ip, 20)), ==, 0xffff);
        memcpy(pseudo, ip + 12, 8);
        pseudo[8] = 0;
        pseudo[9] = 6;
        pseudo[10] = tcp_len >> 8;
        pseudo[11] = tcp_len;
        sum = sum16(0, pseudo, 12);
    }
    g_assert_cmphex(fold(sum16(sum, s + l4, tcp_len)), ==, 0xffff);
    return len - hdr_len;
}

static void cut(bool v6, size_t payload, size_t mss)
{
    g_autofree uint8_t *f = g_malloc(65600);
    g_autofree uint8_t *again = g_malloc(payload);
    uint8_t out[MAX_FRAME];
    size_t len, hdr_len, got = 0;
    Tso t;

    len = big_frame(f, v6, payload, &hdr_len);
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, mss, MAX_FRAME), ==,
                    TSO_OK);
    g_assert_cmpuint(t.segs, ==, (payload + mss - 1) / mss);
    for (size_t i = 0; i < t.segs; i++) {
        size_t n = tso_segment(&t, i, out);
        size_t plen = check_frame(out, n, v6, hdr_len);
        const uint8_t *th = out + (v6 ? 54 : 34);
        uint8_t flags = th[13];

        g_assert_cmpuint(plen, ==, i + 1 < t.segs ? mss : payload - got);
        g_assert_cmpuint(be32(th + 4), ==, (uint32_t)(0xfffff000u + got));
        if (!v6) {
            g_assert_cmpuint(be16(out + 18), ==, (uint16_t)(0xfffe + i));
        }
        g_assert_cmphex(flags & 0x10, ==, 0x10);
        g_assert_cmphex(flags & 0x80, ==, i == 0 ? 0x80 : 0);
        g_assert_cmphex(flags & 0x09, ==, i + 1 == t.segs ? 0x09 : 0);
        /* options and everything else of the headers unchanged */
        g_assert_cmpmem(th + 20, 12, f + (v6 ? 54 : 34) + 20, 12);
        memcpy(again + got, out + hdr_len, plen);
        got += plen;
    }
    g_assert_cmpuint(got, ==, payload);
    g_assert_cmpmem(again, payload, f + hdr_len, payload);
}

static void test_ipv4(void)
{
    cut(false, 10000, 1448);
    cut(false, 2 * 1448, 1448);     /* the last frame full */
    cut(false, 100, 1448);          /* one frame: all flags stay */
    cut(false, 65535 - 20 - 32, 1448);
    cut(false, 20000, MAX_FRAME - 66);  /* jumbo frames */
    cut(false, 1000, TSO_MIN_MSS);
}

static void test_ipv6(void)
{
    cut(true, 10000, 1428);
    cut(true, 65535 - 32, 1428);
    cut(true, 7, 1428);
}

/* Everything a guest can get wrong: refused, and why. */
static void test_refused(void)
{
    uint8_t f[2048];
    size_t len, hdr_len;
    Tso t;

    len = big_frame(f, false, 1000, &hdr_len);
    /* the driver's header length is not the parsed one */
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len - 12, 1448, MAX_FRAME),
                    ==, TSO_BAD_HDR_LEN);
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len + 1, 1448, MAX_FRAME),
                    ==, TSO_BAD_HDR_LEN);
    /* headers past the frame */
    g_assert_cmpint(tso_prepare(&t, f, hdr_len - 1, hdr_len, 1448,
                                MAX_FRAME), ==, TSO_BAD_HDR_LEN);
    g_assert_cmpint(tso_prepare(&t, f, 40, hdr_len, 1448, MAX_FRAME), ==,
                    TSO_BAD_HEADERS);
    g_assert_cmpint(tso_prepare(&t, f, 20, hdr_len, 1448, MAX_FRAME), ==,
                    TSO_BAD_HEADERS);
    g_assert_cmpint(tso_prepare(&t, f, 0, hdr_len, 1448, MAX_FRAME), ==,
                    TSO_BAD_HEADERS);
    /* no payload */
    g_assert_cmpint(tso_prepare(&t, f, hdr_len, hdr_len, 1448, MAX_FRAME),
                    ==, TSO_NO_PAYLOAD);
    /* an MSS of 0, or too small, or frames longer than the maximum */
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, 0, MAX_FRAME), ==,
                    TSO_BAD_MSS);
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, TSO_MIN_MSS - 1,
                                MAX_FRAME), ==, TSO_BAD_MSS);
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, MAX_FRAME - hdr_len + 1,
                                MAX_FRAME), ==, TSO_BAD_MSS);
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, SIZE_MAX, MAX_FRAME),
                    ==, TSO_BAD_MSS);
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, 1448, hdr_len - 1), ==,
                    TSO_BAD_MSS);
    /* a TCP data offset below 5 */
    f[34 + 12] = 4 << 4;
    g_assert_cmpint(tso_prepare(&t, f, len, 34 + 16, 1448, MAX_FRAME), ==,
                    TSO_BAD_HEADERS);
    f[34 + 12] = 8 << 4;
    /* UDP, a fragment, an IHL below 5, version 6 in an IPv4 frame */
    f[14 + 9] = 17;
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, 1448, MAX_FRAME), ==,
                    TSO_NOT_TCP);
    f[14 + 9] = 6;
    f[14 + 6] = 0x20;
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, 1448, MAX_FRAME), ==,
                    TSO_BAD_HEADERS);
    f[14 + 6] = 0x40;
    f[14 + 7] = 1;
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, 1448, MAX_FRAME), ==,
                    TSO_BAD_HEADERS);
    f[14 + 7] = 0;
    f[14] = 0x44;
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, 1448, MAX_FRAME), ==,
                    TSO_BAD_HEADERS);
    f[14] = 0x65;
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, 1448, MAX_FRAME), ==,
                    TSO_BAD_HEADERS);
    f[14] = 0x45;
    /* not IP */
    f[12] = 0x88;
    f[13] = 0xb5;
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, 1448, MAX_FRAME), ==,
                    TSO_NOT_TCP);
    f[12] = 0x08;
    f[13] = 0x00;
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, 1448, MAX_FRAME), ==,
                    TSO_OK);

    /* IPv6: extension headers, or a short header */
    len = big_frame(f, true, 1000, &hdr_len);
    f[14 + 6] = 0;                  /* hop-by-hop options */
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, 1428, MAX_FRAME), ==,
                    TSO_NOT_TCP);
    f[14 + 6] = 6;
    g_assert_cmpint(tso_prepare(&t, f, 50, hdr_len, 1428, MAX_FRAME), ==,
                    TSO_BAD_HEADERS);
    g_assert_cmpint(tso_prepare(&t, f, len, hdr_len, 1428, MAX_FRAME), ==,
                    TSO_OK);
    g_assert_cmpstr(tso_error_str(TSO_BAD_MSS), ==,
                    "MSS too small, or segments too long");
}

/*
 * Random bytes, lengths and MSS: refused, or cut into frames that stay in
 * the output (the output is exactly hdr_len + mss octets: ASan or
 * valgrind catch a byte more) and add up to the payload.
 */
static void test_random(void)
{
    GRand *r = g_rand_new_with_seed(16);
    uint8_t f[600];
    unsigned ok = 0;

    for (int n = 0; n < 20000; n++) {
        size_t len = g_rand_int_range(r, 0, sizeof(f) + 1);
        size_t hdr_len = g_rand_int_range(r, 0, 120);
        size_t mss = g_rand_int_range(r, 0, 300);
        size_t total = 0;
        Tso t;

        for (size_t i = 0; i < sizeof(f); i++) {
            f[i] = g_rand_int(r);
        }
        if (g_rand_boolean(r)) {
            size_t h;

            big_frame(f, g_rand_boolean(r), sizeof(f) - 90, &h);
            hdr_len = g_rand_boolean(r) ? h : hdr_len;
        }
        if (tso_prepare(&t, f, len, hdr_len, mss, 400) != TSO_OK) {
            continue;
        }
        ok++;
        for (size_t i = 0; i < t.segs; i++) {
            g_autofree uint8_t *out = g_malloc(hdr_len + mss);

            total += tso_segment(&t, i, out) - hdr_len;
        }
        g_assert_cmpuint(total, ==, len - hdr_len);
    }
    g_assert_cmpuint(ok, >, 100);
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tso/ipv4", test_ipv4);
    g_test_add_func("/tso/ipv6", test_ipv6);
    g_test_add_func("/tso/refused", test_refused);
    g_test_add_func("/tso/random", test_random);
    return g_test_run();
}
