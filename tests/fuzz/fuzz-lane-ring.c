/*
 * libFuzzer target: the lane's shared-memory rings (net/lane-ring.c) with
 * a hostile peer.  A creator and an attacher share a real sealed memfd;
 * the input is a list of operations on both ends, among them scribbles
 * into the shared header, index lines and data between the reads.  The
 * ends are mapped between guard pages, so a stray access faults.
 *
 * Checks: no crash; a result never larger than asked; a broken end stays
 * broken; and while no scribble has touched the header or an index, both
 * directions behave exactly like a FIFO model (counts, no error, and the
 * octets themselves while that direction's data is untouched).
 *
 * Input: operations, each an opcode octet (taken modulo OPS) and its
 * arguments; len octets mean len * 32 octets:
 *   0 len        creator writes (ring 0)
 *   1 len        attacher reads
 *   2 len        attacher peeks and consumes up to len
 *   3 off v0-v3  four octets at off * 4 into the first KiB (header,
 *                lines and padding)
 *   4 lo hi v    one octet anywhere in the region
 *   5 len        attacher prepares to sleep on data, creator writes, the
 *                attacher handles the wake-up
 *   6 len        creator prepares to sleep for len free, attacher reads
 *                everything, creator handles the wake-up
 *   7 len        attacher writes (ring 1)
 *   8 len        creator reads
 *   9 len        attach a third end to a sealed copy of the region as it
 *                is now (header included); if it is accepted, read up to
 *                len and write len on it
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* memfd_create() */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz-target.h"
#include "lane-ring.h"

#define OPS         10
#define RING_SIZE   4096

typedef struct Dir {
    LaneRing *tx, *rx;
    uint64_t sent, got;     /* octets, for the model */
    bool data_touched;
} Dir;

static uint8_t pattern(uint64_t k, int dir)
{
    return (uint8_t)(k * 131 + (k >> 8) * 7 + dir * 85);
}

static const uint8_t *in;
static size_t in_left;

static unsigned next(void)
{
    if (!in_left) {
        return 0;
    }
    in_left--;
    return *in++;
}

static void do_write(Dir *d, int dir, size_t len, bool exact)
{
    uint8_t *buf = malloc(len + 1);
    uint64_t inflight = d->sent - d->got;
    bool was_broken = lane_ring_is_broken(d->tx);
    ssize_t n;

    for (size_t i = 0; i < len; i++) {
        buf[i] = pattern(d->sent + i, dir);
    }
    n = lane_ring_write(d->tx, buf, len);
    free(buf);
    if (n > (ssize_t)len || (was_broken && n != -EPROTO)) {
        abort();
    }
    if (exact) {
        size_t want = RING_SIZE - inflight < len ? RING_SIZE - inflight : len;

        if (n != (ssize_t)want) {
            abort();
        }
    }
    if (n > 0) {
        d->sent += n;
    }
}

static void check_read(Dir *d, int dir, const uint8_t *buf, ssize_t n,
                       size_t len, bool was_broken, bool exact)
{
    uint64_t inflight = d->sent - d->got;

    if (n > (ssize_t)len || (was_broken && n != -EPROTO)) {
        abort();
    }
    if (exact) {
        if (n != (ssize_t)(inflight < len ? inflight : len)) {
            abort();
        }
        for (ssize_t i = 0; !d->data_touched && i < n; i++) {
            if (buf[i] != pattern(d->got + i, dir)) {
                abort();
            }
        }
    }
    if (n > 0) {
        d->got += n;
    }
}

static void do_read(Dir *d, int dir, size_t len, bool exact)
{
    uint8_t *buf = malloc(len + 1);
    bool was_broken = lane_ring_is_broken(d->rx);
    ssize_t n = lane_ring_read(d->rx, buf, len);

    check_read(d, dir, buf, n, len, was_broken, exact);
    free(buf);
}

static void do_peek(Dir *d, int dir, size_t len, bool exact)
{
    bool was_broken = lane_ring_is_broken(d->rx);
    uint64_t inflight = d->sent - d->got;
    uint64_t to_wrap = RING_SIZE - d->got % RING_SIZE;
    const uint8_t *p = NULL;
    ssize_t n = lane_ring_peek(d->rx, &p), peeked;
    uint8_t *buf;

    if (was_broken && n != -EPROTO) {
        abort();
    }
    if (exact && n != (ssize_t)(inflight < to_wrap ? inflight : to_wrap)) {
        abort();
    }
    if (n < 0) {
        return;
    }
    peeked = n;
    if ((size_t)n > len) {
        n = len;
    }
    /* Copy it (through ASan's eyes: every octet is read). */
    buf = malloc(n + 1);
    memcpy(buf, p, n);
    if (lane_ring_consume(d->rx, n) < 0) {
        abort();
    }
    /* Consuming more than was peeked is refused. */
    if (n == peeked && lane_ring_consume(d->rx, 1) != -EINVAL) {
        abort();
    }
    for (ssize_t i = 0; exact && !d->data_touched && i < n; i++) {
        if (buf[i] != pattern(d->got + i, dir)) {
            abort();
        }
    }
    d->got += n;
    free(buf);
}

/*
 * The attacher's checks on whatever the region holds now: a copy in a
 * sealed memfd is refused (only if the header was touched), or accepted
 * and then safe to use.
 */
static void attach_copy(const uint8_t *shm, size_t region, size_t len,
                        bool header_intact)
{
    int fds[LANE_RING_NFDS], other[2];
    uint8_t *buf;
    LaneRing *r;
    int err;

    fds[0] = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fds[0] < 0 || ftruncate(fds[0], region) < 0 ||
        pwrite(fds[0], shm, region, 0) != (ssize_t)region ||
        fcntl(fds[0], F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        abort();
    }
    /* wake-up sockets whose other ends this function holds */
    for (int i = 0; i < 2; i++) {
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
            abort();
        }
        fds[1 + i] = sv[0];
        other[i] = sv[1];
    }
    r = lane_ring_attach(fds, &err);
    if (!r) {
        close(other[0]);
        close(other[1]);
        if (err != -EINVAL || header_intact) {
            abort();
        }
        return;
    }
    buf = calloc(1, len + 1);
    if (lane_ring_read(r, buf, len) > (ssize_t)len ||
        lane_ring_write(r, buf, len) > (ssize_t)len) {
        abort();
    }
    lane_ring_rx_prepare_sleep(r);
    lane_ring_tx_prepare_sleep(r, len);
    free(buf);
    lane_ring_free(r);
    close(other[0]);
    close(other[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fds[LANE_RING_NFDS], mine[LANE_RING_NFDS], err = 0;
    LaneRing *c, *a;
    uint8_t *shm;
    LaneRingHeader h;
    size_t region;
    Dir d[2];
    bool idx_touched = false;

    c = lane_ring_create(RING_SIZE, &err);
    if (!c) {
        abort();
    }
    lane_ring_peer_fds(c, fds);
    for (int i = 0; i < LANE_RING_NFDS; i++) {
        mine[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
    }
    a = lane_ring_attach(mine, &err);
    if (!a) {
        abort();
    }
    region = 4096 + 2 * RING_SIZE;
    shm = mmap(NULL, region, PROT_READ | PROT_WRITE, MAP_SHARED,
               fds[LANE_RING_FD_MEM], 0);
    if (shm == MAP_FAILED) {
        abort();
    }
    memcpy(&h, shm, sizeof(h));
    memset(d, 0, sizeof(d));
    d[0].tx = c;
    d[0].rx = a;
    d[1].tx = a;
    d[1].rx = c;

    in = data;
    in_left = size;
    while (in_left) {
        unsigned op = next() % OPS;
        bool exact = !idx_touched;
        size_t len;

        switch (op) {
        case 0:
            do_write(&d[0], 0, next() * 32, exact);
            break;
        case 1:
            do_read(&d[0], 0, next() * 32, exact);
            break;
        case 2:
            do_peek(&d[0], 0, next() * 32, exact);
            break;
        case 3: {
            size_t off = next() * 4;
            uint8_t v[4] = { next(), next(), next(), next() };

            if (memcmp(shm + off, v, 4)) {
                /* the header or an index (flags are allowed to change) */
                if (off < sizeof(h)) {
                    idx_touched = true;
                }
                for (int r = 0; r < 2; r++) {
                    if (off == h.ring[r].prod_off ||
                        off == h.ring[r].cons_off) {
                        idx_touched = true;
                    }
                }
                memcpy(shm + off, v, 4);
            }
            break;
        }
        case 4: {
            size_t off = (next() | next() << 8) % region;
            uint8_t v = next();

            if (shm[off] != v) {
                for (int r = 0; r < 2; r++) {
                    if (off >= h.ring[r].data_off &&
                        off < h.ring[r].data_off + h.ring[r].size) {
                        d[r].data_touched = true;
                    }
                    if (off < h.ring[r].prod_off + 4 &&
                        off >= h.ring[r].prod_off) {
                        idx_touched = true;
                    }
                    if (off < h.ring[r].cons_off + 4 &&
                        off >= h.ring[r].cons_off) {
                        idx_touched = true;
                    }
                }
                if (off < sizeof(h)) {
                    idx_touched = true;
                }
                shm[off] = v;
            }
            break;
        }
        case 5: {
            int s = lane_ring_rx_prepare_sleep(a);
            uint64_t kicks = lane_ring_stats(c)->kicks;
            uint64_t before = d[0].sent;

            if (exact && s != (d[0].sent == d[0].got)) {
                abort();
            }
            do_write(&d[0], 0, next() * 32, exact);
            /* a sleeper is kicked by the write that brings data */
            if (exact && s == 1 && d[0].sent > before &&
                lane_ring_stats(c)->kicks != kicks + 1) {
                abort();
            }
            lane_ring_handle_wakeup(a);
            break;
        }
        case 6: {
            int s;

            len = next() * 32;
            s = lane_ring_tx_prepare_sleep(c, len);
            if (exact && len && len <= RING_SIZE &&
                s != (RING_SIZE - (d[0].sent - d[0].got) < len)) {
                abort();
            }
            do_read(&d[0], 0, RING_SIZE, exact);
            lane_ring_handle_wakeup(c);
            break;
        }
        case 7:
            do_write(&d[1], 1, next() * 32, exact);
            break;
        case 9:
            attach_copy(shm, region, next() * 32, exact);
            break;
        default:
            do_read(&d[1], 1, next() * 32, exact);
            break;
        }
        if (exact && (lane_ring_is_broken(a) || lane_ring_is_broken(c))) {
            abort();        /* nothing was wrong */
        }
    }
    munmap(shm, region);
    lane_ring_free(a);
    lane_ring_free(c);
    return 0;
}
