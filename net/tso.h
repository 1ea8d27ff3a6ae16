/*
 * TCP segmentation offload: one large TCP segment over IPv4 or IPv6, as
 * a driver hands it to a NIC, cut into frames of at most MSS octets of
 * payload, each with its own headers and checksums, as Linux's GSO would
 * have cut it (docs/blade-nic.md 6.1.2).
 *
 * The frame is hostile guest input: tso_prepare() checks everything it
 * relies on, and tso_segment() then never reads or writes outside the
 * frame or the output.  Plain C, no QEMU headers.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_TSO_H
#define BLADEPLANE_NET_TSO_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* The smallest MSS taken: it bounds a 64 KiB frame to 1024 segments. */
#define TSO_MIN_MSS 64

typedef enum TsoError {
    TSO_OK = 0,
    TSO_NOT_TCP,        /* not TCP over IPv4 or IPv6 (extension headers) */
    TSO_BAD_HEADERS,    /* an IP or TCP header that does not hold up */
    TSO_BAD_HDR_LEN,    /* HDR_LEN is not where the TCP header ends */
    TSO_BAD_MSS,        /* below TSO_MIN_MSS, or segments too long */
    TSO_NO_PAYLOAD,     /* nothing after the headers */
} TsoError;

/* A frame checked by tso_prepare(), ready to be cut. */
typedef struct Tso {
    const uint8_t *frame;
    size_t len;
    size_t l3_off;          /* the IP header */
    size_t l4_off;          /* the TCP header */
    size_t hdr_len;         /* headers: l4_off + the TCP header */
    size_t mss;
    size_t segs;            /* frames it makes */
    bool ipv6;
} Tso;

/*
 * Check @frame (@len octets, from the Ethernet header) for cutting at
 * @mss with headers of @hdr_len octets, as the driver said, into frames
 * of at most @max_frame octets.  TSO_OK, or why not (nothing is cut).
 */
TsoError tso_prepare(Tso *t, const uint8_t *frame, size_t len,
                     size_t hdr_len, size_t mss, size_t max_frame);

/*
 * Frame @i (0 .. segs - 1) into @out, which holds hdr_len + mss octets;
 * returns its length.  IPv4: total length, identification + i, header
 * checksum.  IPv6: payload length.  TCP: sequence number + i * mss, FIN
 * and PSH on the last frame only, CWR on the first only, checksum.
 */
size_t tso_segment(const Tso *t, size_t i, uint8_t *out);

const char *tso_error_str(TsoError e);

#endif
