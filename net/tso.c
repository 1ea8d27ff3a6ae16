/*
 * TCP segmentation offload (see tso.h).
 *
 * QEMU's net_tx_pkt segments in software too, but clears FIN and PSH in
 * every segment it makes: a FIN that Linux put on a large segment would
 * never reach the peer, which then waits for the retransmission.  A NIC
 * (and Linux's GSO) keeps them on the last segment; this does.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "byteorder.h"

#include <string.h>

#include "tso.h"

#define ETH_HLEN        14
#define ETHERTYPE_IPV4  0x0800
#define ETHERTYPE_IPV6  0x86dd
#define IPV4_HLEN       20
#define IPV6_HLEN       40
#define IPPROTO_TCP_NUM 6
#define TCP_HLEN        20
#define TCP_FIN         0x01
#define TCP_PSH         0x08
#define TCP_CWR         0x80





/* The Internet checksum's sum of big-endian words, not yet folded. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < n; i += 2) {
        sum += lduw_be_p(p + i);
    }
    if (n & 1) {
        sum += p[n - 1] << 8;
    }
    return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

/* Where the TCP header starts, or 0 with *err set. */
static size_t tso_l4_off(Tso *t, TsoError *err)
{
    const uint8_t *ip = t->frame + ETH_HLEN;
    size_t ihl;

    *err = TSO_NOT_TCP;
    switch (lduw_be_p(t->frame + 12)) {
    case ETHERTYPE_IPV4:
        if (t->len < ETH_HLEN + IPV4_HLEN) {
            *err = TSO_BAD_HEADERS;
            return 0;
        }
        ihl = (ip[0] & 0xf) * 4;
        if (ip[0] >> 4 != 4 || ihl < IPV4_HLEN ||
            (lduw_be_p(ip + 6) & 0x3fff)) {          /* MF, or an offset */
            *err = TSO_BAD_HEADERS;
            return 0;
        }
        if (ip[9] != IPPROTO_TCP_NUM) {
            return 0;
        }
        return ETH_HLEN + ihl;
    case ETHERTYPE_IPV6:
        if (t->len < ETH_HLEN + IPV6_HLEN) {
            *err = TSO_BAD_HEADERS;
            return 0;
        }
        if (ip[0] >> 4 != 6) {
            *err = TSO_BAD_HEADERS;
            return 0;
        }
        if (ip[6] != IPPROTO_TCP_NUM) {
            return 0;                           /* extension headers too */
        }
        t->ipv6 = true;
        return ETH_HLEN + IPV6_HLEN;
    default:
        return 0;
    }
}

TsoError tso_prepare(Tso *t, const uint8_t *frame, size_t len,
                     size_t hdr_len, size_t mss, size_t max_frame)
{
    TsoError err;

    memset(t, 0, sizeof(*t));
    t->frame = frame;
    t->len = len;
    t->l3_off = ETH_HLEN;
    if (len < ETH_HLEN) {
        return TSO_BAD_HEADERS;
    }
    t->l4_off = tso_l4_off(t, &err);
    if (!t->l4_off) {
        return err;
    }
    if (t->l4_off + TCP_HLEN > len ||
        frame[t->l4_off + 12] >> 4 < TCP_HLEN / 4) {
        return TSO_BAD_HEADERS;
    }
    if (hdr_len != t->l4_off + (frame[t->l4_off + 12] >> 4) * 4 ||
        hdr_len > len) {
        return TSO_BAD_HDR_LEN;
    }
    if (hdr_len == len) {
        return TSO_NO_PAYLOAD;
    }
    if (mss < TSO_MIN_MSS || mss > max_frame - hdr_len ||
        hdr_len > max_frame) {
        return TSO_BAD_MSS;
    }
    t->hdr_len = hdr_len;
    t->mss = mss;
    t->segs = (len - hdr_len + mss - 1) / mss;
    return TSO_OK;
}

size_t tso_segment(const Tso *t, size_t i, uint8_t *out)
{
    size_t off = t->hdr_len + i * t->mss;
    size_t plen = t->len - off < t->mss ? t->len - off : t->mss;
    size_t tcp_len = t->hdr_len - t->l4_off + plen;
    uint8_t *ip = out + t->l3_off, *th = out + t->l4_off;
    uint8_t pseudo[40];
    uint64_t sum;

    memcpy(out, t->frame, t->hdr_len);
    memcpy(out + t->hdr_len, t->frame + off, plen);
    if (t->ipv6) {
        stw_be_p(ip + 4, tcp_len);
        memcpy(pseudo, ip + 8, 32);
        stl_be_p(pseudo + 32, tcp_len);
        stl_be_p(pseudo + 36, IPPROTO_TCP_NUM);
        sum = csum_add(0, pseudo, 40);
    } else {
        size_t ihl = t->l4_off - t->l3_off;

        stw_be_p(ip + 2, ihl + tcp_len);
        stw_be_p(ip + 4, lduw_be_p(ip + 4) + i);
        stw_be_p(ip + 10, 0);
        stw_be_p(ip + 10, ~csum_fold(csum_add(0, ip, ihl)));
        memcpy(pseudo, ip + 12, 8);
        pseudo[8] = 0;
        pseudo[9] = IPPROTO_TCP_NUM;
        stw_be_p(pseudo + 10, tcp_len);
        sum = csum_add(0, pseudo, 12);
    }
    stl_be_p(th + 4, (uint32_t)ldl_be_p(th + 4) + (uint32_t)(i * t->mss));
    if (i + 1 < t->segs) {
        th[13] &= ~(TCP_FIN | TCP_PSH);
    }
    if (i) {
        th[13] &= ~TCP_CWR;
    }
    stw_be_p(th + 16, 0);
    stw_be_p(th + 16, ~csum_fold(csum_add(sum, th, tcp_len)));
    return t->hdr_len + plen;
}

const char *tso_error_str(TsoError e)
{
    switch (e) {
    case TSO_OK:
        return "ok";
    case TSO_NOT_TCP:
        return "not TCP over IPv4 or IPv6";
    case TSO_BAD_HEADERS:
        return "bad IP or TCP header";
    case TSO_BAD_HDR_LEN:
        return "HDR_LEN is not the end of the TCP header";
    case TSO_BAD_MSS:
        return "MSS too small, or segments too long";
    case TSO_NO_PAYLOAD:
        return "no payload";
    }
    return "?";
}
