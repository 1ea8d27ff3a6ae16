/*
 * The lane's shared-memory rings (net/lane-ring.c): round trips with
 * wrap-around (of the ring and of the 32-bit indices), random record
 * streams compared byte for byte, full and empty edges, the wake-up rule
 * in one process and between two processes through a real memfd and
 * wake-up sockets passed with SCM_RIGHTS, a peer that makes the wake-up
 * sockets block or hangs them up, every kind of corruption detected and
 * counted, and regions or fds refused at attach.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lane-ring.h"
#include "lane-transport.h"

/*
 * A creator and an attacher in this process, and a third mapping of the
 * region through which the tests play the hostile peer.
 */
typedef struct Pair {
    LaneRing *c, *a;
    uint8_t *shm;
    size_t shm_len;
} Pair;

static void dup_fds(const int in[LANE_RING_NFDS], int out[LANE_RING_NFDS])
{
    for (int i = 0; i < LANE_RING_NFDS; i++) {
        out[i] = fcntl(in[i], F_DUPFD_CLOEXEC, 0);
        g_assert_cmpint(out[i], >=, 0);
    }
}

static void pair_init(Pair *p, uint32_t size)
{
    int fds[LANE_RING_NFDS], mine[LANE_RING_NFDS], err = 0;
    struct stat st;

    p->c = lane_ring_create(size, &err);
    g_assert_nonnull(p->c);
    lane_ring_peer_fds(p->c, fds);
    g_assert_cmpint(fstat(fds[LANE_RING_FD_MEM], &st), ==, 0);
    p->shm_len = st.st_size;
    p->shm = mmap(NULL, p->shm_len, PROT_READ | PROT_WRITE, MAP_SHARED,
                  fds[LANE_RING_FD_MEM], 0);
    g_assert(p->shm != MAP_FAILED);
    dup_fds(fds, mine);
    p->a = lane_ring_attach(mine, &err);
    g_assert_cmpint(err, ==, 0);
    g_assert_nonnull(p->a);
}

static void pair_free(Pair *p)
{
    lane_ring_free(p->a);
    lane_ring_free(p->c);
    munmap(p->shm, p->shm_len);
}

static LaneRingHeader *hdr(Pair *p)
{
    return (LaneRingHeader *)p->shm;
}

static LaneRingProd *prod_line(Pair *p, int ring)
{
    return (LaneRingProd *)(p->shm + hdr(p)->ring[ring].prod_off);
}

static LaneRingCons *cons_line(Pair *p, int ring)
{
    return (LaneRingCons *)(p->shm + hdr(p)->ring[ring].cons_off);
}

static void fill(uint8_t *b, size_t n, uint32_t *seed)
{
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        b[i] = *seed >> 16;
    }
}

static void test_create(void)
{
    static const uint32_t bad[] = { 1, 4095, 4097, 6000, 1u << 31 };
    Pair p;
    int err;

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        err = 0;
        g_assert_null(lane_ring_create(bad[i], &err));
        g_assert_cmpint(err, ==, -EINVAL);
    }
    pair_init(&p, 0);
    g_assert_true(lane_ring_is_creator(p.c));
    g_assert_false(lane_ring_is_creator(p.a));
    g_assert_cmpuint(hdr(&p)->magic, ==, LANE_RING_MAGIC);
    g_assert_cmpuint(hdr(&p)->ring[0].size, ==, LANE_RING_DEFAULT_SIZE);
    g_assert_cmpuint(hdr(&p)->ring[1].size, ==, LANE_RING_DEFAULT_SIZE);
    g_assert_cmpuint(hdr(&p)->region_size, ==, p.shm_len);
    g_assert_cmpint(lane_ring_tx_space(p.c), ==, LANE_RING_DEFAULT_SIZE);
    g_assert_cmpint(lane_ring_tx_space(p.a), ==, LANE_RING_DEFAULT_SIZE);
    /* The region cannot be shrunk or grown under the attacher. */
    {
        int fds[LANE_RING_NFDS];

        lane_ring_peer_fds(p.c, fds);
        g_assert_cmpint(ftruncate(fds[LANE_RING_FD_MEM], 4096), ==, -1);
        g_assert_cmpint(errno, ==, EPERM);
        g_assert_cmpint(ftruncate(fds[LANE_RING_FD_MEM], 1 << 24), ==, -1);
        g_assert_cmpint(errno, ==, EPERM);
    }
    pair_free(&p);
}

/*
 * Both directions, chunks of every size from 1 to more than the ring,
 * so that the ring wraps at every offset.
 */
static void test_round_trip(void)
{
    enum { SIZE = 4096 };
    static uint8_t out[3 * SIZE], in[3 * SIZE];
    uint32_t seed = 1;
    Pair p;

    pair_init(&p, SIZE);
    for (int dir = 0; dir < 2; dir++) {
        LaneRing *tx = dir ? p.a : p.c, *rx = dir ? p.c : p.a;
        uint64_t total = 0;

        for (size_t len = 1; len <= SIZE + 300; len += 7) {
            size_t done = 0, got = 0;

            fill(out, len, &seed);
            /* Write what fits, drain in two unequal reads, until all. */
            while (got < len) {
                ssize_t w = lane_ring_write(tx, out + done, len - done);
                ssize_t r1, r2;

                g_assert_cmpint(w, >=, 0);
                done += w;
                r1 = lane_ring_read(rx, in + got, (len - got) / 3 + 1);
                g_assert_cmpint(r1, >, 0);
                got += r1;
                r2 = lane_ring_read(rx, in + got, len - got);
                g_assert_cmpint(r2, >=, 0);
                got += r2;
            }
            g_assert_cmpuint(done, ==, len);
            g_assert_cmpmem(in, len, out, len);
            total += len;
            g_assert_cmpint(lane_ring_read(rx, in, 1), ==, 0);
        }
        g_assert_cmpuint(lane_ring_stats(tx)->tx_octets, ==, total);
        g_assert_cmpuint(lane_ring_stats(rx)->rx_octets, ==, total);
        g_assert_cmpuint(total, >, 100 * SIZE);
    }
    g_assert_cmpuint(lane_ring_stats(p.c)->corruptions, ==, 0);
    g_assert_cmpuint(lane_ring_stats(p.a)->corruptions, ==, 0);
    /* No one slept, so no one was kicked. */
    g_assert_cmpuint(lane_ring_stats(p.c)->kicks, ==, 0);
    g_assert_cmpuint(lane_ring_stats(p.a)->kicks, ==, 0);
    pair_free(&p);
}

/* More than 2^32 octets: the free-running indices wrap, nothing breaks. */
static void test_index_wrap(void)
{
    enum { SIZE = 1 << 16 };
    static uint8_t buf[SIZE];
    uint64_t total = (1ull << 32) + 3 * SIZE + 12345;
    uint64_t sent = 0, got = 0;
    Pair p;

    pair_init(&p, SIZE);
    while (got < total) {
        size_t n = total - sent < SIZE - 5 ? total - sent : SIZE - 5;
        ssize_t w, r;

        /* Every chunk starts with the octet count so far. */
        memcpy(buf, &sent, sizeof(sent));
        w = lane_ring_write(p.c, buf, n);
        g_assert_cmpint(w, ==, n);
        sent += w;
        r = lane_ring_read(p.a, buf, SIZE);
        g_assert_cmpint(r, ==, w);
        if (r >= (ssize_t)sizeof(got)) {
            uint64_t v;

            memcpy(&v, buf, sizeof(v));
            g_assert_cmpuint(v, ==, got);
        }
        got += r;
    }
    g_assert_cmpuint(prod_line(&p, 0)->prod, ==, (uint32_t)total);
    g_assert_cmpuint(prod_line(&p, 0)->prod, <, total);
    g_assert_cmpuint(cons_line(&p, 0)->cons, ==, (uint32_t)total);
    g_assert_false(lane_ring_is_broken(p.a));
    g_assert_false(lane_ring_is_broken(p.c));
    pair_free(&p);
}

/* A random lane record stream, as lane-transport.c writes it. */
static size_t make_records(uint8_t *buf, size_t cap, GRand *rng)
{
    size_t n = 0;

    for (;;) {
        uint32_t len;
        uint8_t tag;

        switch (g_rand_int_range(rng, 0, 10)) {
        case 0:
            len = g_rand_int_range(rng, 0, LANE_MAX_PAYLOAD + 1);
            tag = LANE_TAG_CG;
            break;
        case 1:
            len = g_rand_int_range(rng, 0, 9);
            tag = LANE_TAG_UTIL;
            break;
        default:
            len = g_rand_int_range(rng, 64, 1519);
            tag = LANE_TAG_FRAME;
            break;
        }
        if (n + LANE_REC_HDR + len > cap) {
            return n;
        }
        buf[n] = tag;
        buf[n + 1] = 0;
        buf[n + 2] = len & 0xff;
        buf[n + 3] = len >> 8;
        for (uint32_t i = 0; i < len; i++) {
            buf[n + LANE_REC_HDR + i] = g_rand_int(rng);
        }
        n += LANE_REC_HDR + len;
    }
}

/* Parse the records back: same boundaries, so the stream is intact. */
static unsigned count_records(const uint8_t *buf, size_t len)
{
    unsigned n = 0;
    size_t i = 0;

    while (i < len) {
        g_assert_cmpuint(len - i, >=, LANE_REC_HDR);
        g_assert(buf[i] == LANE_TAG_CG || buf[i] == LANE_TAG_UTIL ||
                 buf[i] == LANE_TAG_FRAME);
        i += LANE_REC_HDR + (buf[i + 2] | buf[i + 3] << 8);
        n++;
    }
    g_assert_cmpuint(i, ==, len);
    return n;
}

static void test_records(void)
{
    enum { STREAM = 4 << 20 };
    uint8_t *out = g_malloc(STREAM), *in = g_malloc(STREAM);
    GRand *rng = g_rand_new_with_seed(15);

    for (int round = 0; round < 8; round++) {
        uint32_t size = LANE_RING_MIN_SIZE << (round % 4);
        size_t len = make_records(out, STREAM, rng);
        size_t done = 0, got = 0;
        bool zero_copy = round & 1;
        Pair p;

        pair_init(&p, size);
        while (got < len) {
            size_t chunk = g_rand_int_range(rng, 1, 3 * size);
            ssize_t n;

            if (done < len) {
                n = lane_ring_write(p.c, out + done, MIN(chunk, len - done));
                g_assert_cmpint(n, >=, 0);
                done += n;
            }
            chunk = g_rand_int_range(rng, 1, 3 * size);
            if (zero_copy) {
                const uint8_t *q;

                n = lane_ring_peek(p.a, &q);
                g_assert_cmpint(n, >=, 0);
                n = MIN((size_t)n, chunk);
                memcpy(in + got, q, n);
                g_assert_cmpint(lane_ring_consume(p.a, n), ==, 0);
            } else {
                n = lane_ring_read(p.a, in + got, chunk);
                g_assert_cmpint(n, >=, 0);
            }
            got += n;
        }
        g_assert_cmpuint(got, ==, len);
        g_assert_cmpmem(in, len, out, len);
        g_assert_cmpuint(count_records(in, len), >, 100);
        g_assert_cmpuint(lane_ring_stats(p.c)->tx_full, >, 0);
        pair_free(&p);
    }
    g_rand_free(rng);
    g_free(out);
    g_free(in);
}

static void test_full_empty(void)
{
    enum { SIZE = 4096 };
    static uint8_t buf[2 * SIZE];
    const uint8_t *q;
    Pair p;

    pair_init(&p, SIZE);
    /* Empty. */
    g_assert_cmpint(lane_ring_read(p.a, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(lane_ring_peek(p.a, &q), ==, 0);
    g_assert_cmpint(lane_ring_consume(p.a, 1), ==, -EINVAL);
    g_assert_cmpint(lane_ring_consume(p.a, 0), ==, 0);
    g_assert_cmpint(lane_ring_write(p.c, buf, 0), ==, 0);
    /* Exactly full. */
    memset(buf, 0xa5, SIZE);
    g_assert_cmpint(lane_ring_write(p.c, buf, SIZE), ==, SIZE);
    g_assert_cmpint(lane_ring_tx_space(p.c), ==, 0);
    g_assert_cmpuint(lane_ring_stats(p.c)->tx_full, ==, 0);
    g_assert_cmpint(lane_ring_write(p.c, buf, 1), ==, 0);
    g_assert_cmpuint(lane_ring_stats(p.c)->tx_full, ==, 1);
    /* One out, one in (at the wrap), and only one. */
    g_assert_cmpint(lane_ring_read(p.a, buf, 1), ==, 1);
    g_assert_cmpint(lane_ring_tx_space(p.c), ==, 1);
    buf[0] = 0x5a;
    buf[1] = 0x77;
    g_assert_cmpint(lane_ring_write(p.c, buf, 2), ==, 1);
    g_assert_cmpuint(lane_ring_stats(p.c)->tx_full, ==, 2);
    /* Peek stops at the wrap; consume no more than peeked. */
    g_assert_cmpint(lane_ring_peek(p.a, &q), ==, SIZE - 1);
    g_assert_cmpint(lane_ring_consume(p.a, SIZE), ==, -EINVAL);
    g_assert_cmpint(lane_ring_consume(p.a, SIZE - 2), ==, 0);
    g_assert_cmpint(lane_ring_consume(p.a, 2), ==, -EINVAL);
    g_assert_cmpint(lane_ring_consume(p.a, 1), ==, 0);
    g_assert_cmpint(lane_ring_peek(p.a, &q), ==, 1);
    g_assert_cmpuint(q[0], ==, 0x5a);
    g_assert_cmpint(lane_ring_read(p.a, buf, sizeof(buf)), ==, 1);
    g_assert_cmpint(lane_ring_read(p.a, buf, sizeof(buf)), ==, 0);
    g_assert_cmpint(lane_ring_tx_space(p.c), ==, SIZE);
    g_assert_cmpuint(lane_ring_stats(p.a)->rx_octets, ==, SIZE + 1);
    pair_free(&p);
}

static bool readable(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    return poll(&pfd, 1, 0) == 1;
}

/* The wake-up rule step by step, in one process. */
static void test_wakeup(void)
{
    enum { SIZE = 4096 };
    static uint8_t buf[SIZE];
    Pair p;

    pair_init(&p, SIZE);
    /* A consumer that sleeps is kicked once, by the next write. */
    g_assert_cmpint(lane_ring_rx_prepare_sleep(p.a), ==, 1);
    g_assert_cmpuint(cons_line(&p, 0)->cons_sleeping, ==, 1);
    g_assert_false(readable(lane_ring_wait_fd(p.a)));
    g_assert_cmpint(lane_ring_write(p.c, buf, 10), ==, 10);
    g_assert_cmpuint(lane_ring_stats(p.c)->kicks, ==, 1);
    g_assert_true(readable(lane_ring_wait_fd(p.a)));
    g_assert_cmpint(lane_ring_write(p.c, buf, 10), ==, 10);
    g_assert_cmpuint(lane_ring_stats(p.c)->kicks, ==, 1);
    g_assert_true(lane_ring_handle_wakeup(p.a));
    g_assert_false(lane_ring_handle_wakeup(p.a));
    g_assert_cmpuint(lane_ring_stats(p.a)->wakeups, ==, 1);
    g_assert_false(readable(lane_ring_wait_fd(p.a)));
    /* Data already there: the sleep is cancelled, no kick follows. */
    g_assert_cmpint(lane_ring_rx_prepare_sleep(p.a), ==, 0);
    g_assert_cmpuint(cons_line(&p, 0)->cons_sleeping, ==, 0);
    g_assert_cmpint(lane_ring_write(p.c, buf, 10), ==, 10);
    g_assert_cmpuint(lane_ring_stats(p.c)->kicks, ==, 1);
    g_assert_cmpint(lane_ring_read(p.a, buf, SIZE), ==, 30);
    /* An awake consumer is never kicked. */
    for (int i = 0; i < 100; i++) {
        g_assert_cmpint(lane_ring_write(p.c, buf, 40), ==, 40);
        g_assert_cmpint(lane_ring_read(p.a, buf, SIZE), ==, 40);
    }
    g_assert_cmpuint(lane_ring_stats(p.c)->kicks, ==, 1);
    g_assert_cmpuint(lane_ring_stats(p.a)->kicks, ==, 0);

    /* A producer waiting for 1000 free octets on a full ring. */
    g_assert_cmpint(lane_ring_write(p.c, buf, SIZE), ==, SIZE);
    g_assert_cmpint(lane_ring_tx_prepare_sleep(p.c, 1000), ==, 1);
    g_assert_cmpuint(prod_line(&p, 0)->prod_need, ==, 1000);
    g_assert_cmpint(lane_ring_read(p.a, buf, 999), ==, 999);
    g_assert_cmpuint(lane_ring_stats(p.a)->kicks, ==, 0);
    g_assert_false(readable(lane_ring_wait_fd(p.c)));
    g_assert_cmpint(lane_ring_read(p.a, buf, 1), ==, 1);
    g_assert_cmpuint(lane_ring_stats(p.a)->kicks, ==, 1);
    g_assert_true(readable(lane_ring_wait_fd(p.c)));
    g_assert_cmpint(lane_ring_read(p.a, buf, 1), ==, 1);
    g_assert_cmpuint(lane_ring_stats(p.a)->kicks, ==, 1);
    g_assert_true(lane_ring_handle_wakeup(p.c));
    /* Room already there: cancelled. */
    g_assert_cmpint(lane_ring_tx_prepare_sleep(p.c, 1000), ==, 0);
    g_assert_cmpuint(prod_line(&p, 0)->prod_need, ==, 0);
    /* More than the ring is a request for an empty ring. */
    g_assert_cmpint(lane_ring_tx_prepare_sleep(p.c, 1 << 20), ==, 1);
    g_assert_cmpuint(prod_line(&p, 0)->prod_need, ==, SIZE);
    g_assert_cmpint(lane_ring_read(p.a, buf, SIZE), ==, SIZE - 1001);
    g_assert_cmpuint(lane_ring_stats(p.a)->kicks, ==, 2);
    g_assert_cmpuint(lane_ring_stats(p.c)->tx_sleeps, ==, 2);
    g_assert_cmpuint(lane_ring_stats(p.a)->rx_sleeps, ==, 1);
    g_assert_cmpuint(lane_ring_stats(p.a)->sleeps_cancelled, ==, 1);
    g_assert_cmpuint(lane_ring_stats(p.c)->sleeps_cancelled, ==, 1);
    pair_free(&p);
}

/* ---- two processes ---- */

static void send_fds(int sock, const int fds[LANE_RING_NFDS])
{
    char c = 'R';
    struct iovec iov = { .iov_base = &c, .iov_len = 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int) * LANE_RING_NFDS)];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = u.buf, .msg_controllen = sizeof(u.buf),
    };
    struct cmsghdr *cm;

    memset(&u, 0, sizeof(u));
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * LANE_RING_NFDS);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * LANE_RING_NFDS);
    g_assert_cmpint(sendmsg(sock, &msg, 0), ==, 1);
}

static bool recv_fds(int sock, int fds[LANE_RING_NFDS])
{
    char c;
    struct iovec iov = { .iov_base = &c, .iov_len = 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int) * LANE_RING_NFDS)];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = u.buf, .msg_controllen = sizeof(u.buf),
    };
    struct cmsghdr *cm;

    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) {
        return false;
    }
    cm = CMSG_FIRSTHDR(&msg);
    if (!cm || cm->cmsg_type != SCM_RIGHTS ||
        cm->cmsg_len != CMSG_LEN(sizeof(int) * LANE_RING_NFDS)) {
        return false;
    }
    memcpy(fds, CMSG_DATA(cm), sizeof(int) * LANE_RING_NFDS);
    return true;
}

enum { STREAM_RECORDS = 30000, STREAM_WAIT_MS = 30000 };

typedef struct StreamResult {
    bool ok;
    char why[80];
    LaneRingStats stats;
} StreamResult;

/* Record k's length and octets, the same in both processes. */
static size_t stream_record(uint8_t *rec, uint32_t k, uint32_t dir)
{
    uint32_t seed = k * 2654435761u ^ dir;
    size_t len = 1 + (seed % 1522);

    rec[0] = LANE_TAG_FRAME;
    rec[1] = 0;
    rec[2] = len & 0xff;
    rec[3] = len >> 8;
    fill(rec + LANE_REC_HDR, len, &seed);
    return LANE_REC_HDR + len;
}

/*
 * Send @n_tx records on @r while receiving @n_rx from the peer and
 * checking them, sleeping on the wake-up socket whenever neither can make
 * progress.  A lost wake-up leaves both asleep: poll() times out.
 */
static void stream(LaneRing *r, uint32_t dir, uint32_t n_tx, uint32_t n_rx,
                   StreamResult *res)
{
    uint8_t out[LANE_REC_HDR + 1522], want[LANE_REC_HDR + 1522];
    uint8_t in[8192];
    uint32_t tx_k = 0, rx_k = 0;
    size_t out_len = 0, out_done = 0, want_len = 0, want_got = 0;

    out_len = stream_record(out, 0, dir);
    want_len = stream_record(want, 0, dir ^ 1);
    res->ok = false;
    while (tx_k < n_tx || rx_k < n_rx) {
        bool progress = false;
        ssize_t n;
        int s, sleep_rx = 0, sleep_tx = 0;

        while (tx_k < n_tx) {
            n = lane_ring_write(r, out + out_done, out_len - out_done);
            if (n < 0) {
                snprintf(res->why, sizeof(res->why), "write %zd", n);
                return;
            }
            if (!n) {
                break;
            }
            progress = true;
            out_done += n;
            if (out_done == out_len && ++tx_k < n_tx) {
                out_len = stream_record(out, tx_k, dir);
                out_done = 0;
            }
        }
        while (rx_k < n_rx &&
               (n = lane_ring_read(r, in, sizeof(in))) != 0) {
            if (n < 0) {
                snprintf(res->why, sizeof(res->why), "read %zd", n);
                return;
            }
            progress = true;
            for (ssize_t i = 0; i < n; i++) {
                if (rx_k >= n_rx || in[i] != want[want_got]) {
                    snprintf(res->why, sizeof(res->why),
                             "record %u octet %zu differs", rx_k, want_got);
                    return;
                }
                if (++want_got == want_len) {
                    want_len = stream_record(want, ++rx_k, dir ^ 1);
                    want_got = 0;
                }
            }
        }
        if (progress) {
            continue;
        }
        /* Nothing moved: sleep on what we wait for, re-checked. */
        if (rx_k < n_rx) {
            sleep_rx = lane_ring_rx_prepare_sleep(r);
        }
        if (tx_k < n_tx) {
            sleep_tx = lane_ring_tx_prepare_sleep(r, out_len - out_done);
        }
        if (sleep_rx < 0 || sleep_tx < 0) {
            snprintf(res->why, sizeof(res->why), "corrupt");
            return;
        }
        if ((rx_k < n_rx && !sleep_rx) ||
            (tx_k < n_tx && !sleep_tx)) {
            lane_ring_handle_wakeup(r);
            continue;
        }
        {
            struct pollfd pfd = { .fd = lane_ring_wait_fd(r),
                                  .events = POLLIN };

            s = poll(&pfd, 1, STREAM_WAIT_MS);
        }
        if (s != 1) {
            snprintf(res->why, sizeof(res->why),
                     "lost wake-up: asleep %d s (rx %u tx %u)",
                     STREAM_WAIT_MS / 1000, rx_k, tx_k);
            return;
        }
        lane_ring_handle_wakeup(r);
    }
    res->ok = true;
}

/*
 * Which way records go: both at once, or one way only (each side then
 * waits for one thing: data, or space).
 */
typedef enum StreamMode { BOTH_WAYS, TO_ATTACHER, TO_CREATOR } StreamMode;

static void test_two_processes(gconstpointer data)
{
    StreamMode mode = GPOINTER_TO_INT(data);
    uint32_t c_tx = mode == TO_CREATOR ? 0 : STREAM_RECORDS;
    uint32_t a_tx = mode == TO_ATTACHER ? 0 : STREAM_RECORDS;
    StreamResult mine = { 0 }, child = { 0 };
    int sv[2], fds[LANE_RING_NFDS], err = 0, status;
    const LaneRingStats *cs;
    LaneRing *r;
    pid_t pid;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        close(sv[0]);
        if (!recv_fds(sv[1], fds)) {
            _exit(2);
        }
        r = lane_ring_attach(fds, &err);
        if (!r) {
            _exit(3);
        }
        stream(r, 1, a_tx, c_tx, &child);
        child.stats = *lane_ring_stats(r);
        if (write(sv[1], &child, sizeof(child)) != sizeof(child)) {
            _exit(4);
        }
        lane_ring_free(r);
        _exit(0);
    }
    close(sv[1]);
    r = lane_ring_create(LANE_RING_MIN_SIZE, &err);
    g_assert_nonnull(r);
    lane_ring_peer_fds(r, fds);
    send_fds(sv[0], fds);
    stream(r, 0, c_tx, a_tx, &mine);
    g_assert_cmpint(read(sv[0], &child, sizeof(child)), ==, sizeof(child));
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status));
    g_assert_cmpint(WEXITSTATUS(status), ==, 0);
    if (!mine.ok || !child.ok) {
        g_error("creator: %s; attacher: %s", mine.ok ? "ok" : mine.why,
                child.ok ? "ok" : child.why);
    }
    cs = lane_ring_stats(r);
    g_test_message("creator: %" G_GUINT64_FORMAT " kicks, %" G_GUINT64_FORMAT
                   " sleeps; attacher: %" G_GUINT64_FORMAT " kicks, %"
                   G_GUINT64_FORMAT " sleeps", cs->kicks,
                   cs->rx_sleeps + cs->tx_sleeps, child.stats.kicks,
                   child.stats.rx_sleeps + child.stats.tx_sleeps);
    /* Same octets both ways; each kick answered one published sleep. */
    g_assert_cmpuint(cs->tx_octets, ==, child.stats.rx_octets);
    g_assert_cmpuint(cs->rx_octets, ==, child.stats.tx_octets);
    g_assert_cmpuint(cs->kicks, <=, child.stats.rx_sleeps +
                     child.stats.tx_sleeps + child.stats.sleeps_cancelled);
    g_assert_cmpuint(child.stats.kicks, <=, cs->rx_sleeps + cs->tx_sleeps +
                     cs->sleeps_cancelled);
    g_assert_cmpuint(cs->corruptions + child.stats.corruptions, ==, 0);
    lane_ring_free(r);
    close(sv[0]);
}

/* ---- corruption ---- */

static void assert_broken(LaneRing *r)
{
    uint8_t b[16];
    const uint8_t *q;

    g_assert_true(lane_ring_is_broken(r));
    g_assert_cmpuint(lane_ring_stats(r)->corruptions, ==, 1);
    g_assert_cmpint(lane_ring_write(r, b, 1), ==, -EPROTO);
    g_assert_cmpint(lane_ring_read(r, b, 1), ==, -EPROTO);
    g_assert_cmpint(lane_ring_peek(r, &q), ==, -EPROTO);
    g_assert_cmpint(lane_ring_consume(r, 0), ==, -EPROTO);
    g_assert_cmpint(lane_ring_tx_space(r), ==, -EPROTO);
    g_assert_cmpint(lane_ring_rx_prepare_sleep(r), ==, -EPROTO);
    g_assert_cmpint(lane_ring_tx_prepare_sleep(r, 1), ==, -EPROTO);
    /* Counted once, however often it is seen again. */
    g_assert_cmpuint(lane_ring_stats(r)->corruptions, ==, 1);
}

typedef enum Corruption {
    PROD_BEYOND,        /* producer more than a ring ahead of consumer */
    PROD_BEHIND,        /* producer index behind the consumer's */
    CONS_PAST_PROD,     /* consumer past producer */
    CONS_BEHIND,        /* consumer more than a ring behind */
    HDR_SIZE,           /* header's ring size changed */
} Corruption;

/*
 * Which operation first sees it: read, peek, rx sleep (consumer) or
 * write, space, tx sleep (producer).
 */
static void test_corruption(gconstpointer data)
{
    Corruption what = GPOINTER_TO_INT(data);
    static uint8_t buf[8192];

    for (int op = 0; op < 3; op++) {
        const uint8_t *q;
        Pair p;
        int ring = op & 1;      /* try both directions */
        LaneRing *tx, *rx, *victim;
        ssize_t ret;

        pair_init(&p, 4096);
        tx = ring ? p.a : p.c;
        rx = ring ? p.c : p.a;
        g_assert_cmpint(lane_ring_write(tx, buf, 100), ==, 100);
        g_assert_cmpint(lane_ring_read(rx, buf, 40), ==, 40);
        switch (what) {
        case PROD_BEYOND:
            prod_line(&p, ring)->prod = 40 + 4097;
            victim = rx;
            break;
        case PROD_BEHIND:
            prod_line(&p, ring)->prod = 39;
            victim = rx;
            break;
        case CONS_PAST_PROD:
            cons_line(&p, ring)->cons = 101;
            victim = tx;
            break;
        case CONS_BEHIND:
            cons_line(&p, ring)->cons = 100 - 4097;
            victim = tx;
            break;
        default:
            hdr(&p)->ring[ring].size = 8192;
            victim = op == 2 ? tx : rx;
            break;
        }
        if (victim == rx) {
            ret = op == 0 ? lane_ring_read(rx, buf, sizeof(buf))
                : op == 1 ? lane_ring_peek(rx, &q)
                : lane_ring_rx_prepare_sleep(rx);
        } else {
            ret = op == 0 ? lane_ring_write(tx, buf, 10)
                : op == 1 ? lane_ring_tx_space(tx)
                : lane_ring_tx_prepare_sleep(tx, 10);
        }
        g_assert_cmpint(ret, ==, -EPROTO);
        assert_broken(victim);
        pair_free(&p);
    }
}

/* Nonsense in the wake-up words costs at most a kick, never an error. */
static void test_hostile_flags(void)
{
    static uint8_t buf[4096];
    Pair p;

    pair_init(&p, 4096);
    for (int i = 0; i < 50; i++) {
        cons_line(&p, 0)->cons_sleeping = 0xdeadbeef;
        prod_line(&p, 0)->prod_need = i & 1 ? 0xffffffff : 0x80000000;
        g_assert_cmpint(lane_ring_write(p.c, buf, 4096), ==, 4096);
        g_assert_cmpint(lane_ring_read(p.a, buf, 4096), ==, 4096);
    }
    g_assert_cmpuint(lane_ring_stats(p.c)->kicks, ==, 50);
    g_assert_cmpuint(lane_ring_stats(p.a)->kicks, ==, 50);
    g_assert_false(lane_ring_is_broken(p.c));
    g_assert_false(lane_ring_is_broken(p.a));
    pair_free(&p);
}

/*
 * A hostile peer on the wake-up channel.  SCM_RIGHTS passes open file
 * descriptions, so a creator keeps the very sockets the attacher uses and
 * can clear their O_NONBLOCK, fill the queue the attacher kicks into or
 * drain the one it waits on, at any moment.
 */

/*
 * Set by a test: the peer tampers with this fd right after the ring
 * polls any fd for POLLOUT (the ring's own fd number for the same socket
 * or eventfd is another: SCM_RIGHTS, or here a dup, makes a new one).
 */
static int race_fd = -1;

/*
 * Make the next write or send to @fd block, as a peer can: fill it (a
 * socket: messages until its peer's queue is full; an eventfd, as the
 * wake-ups were before they were sockets: its counter) and clear
 * O_NONBLOCK on the file description.
 */
static void peer_fill_and_block(int fd)
{
    static const uint8_t one = 1;
    uint64_t full = 0xfffffffffffffffeull, v;
    int type;
    socklen_t len = sizeof(type);

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0) {
        for (int i = 0; i < 100000; i++) {
            if (send(fd, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) {
                break;
            }
        }
    } else {
        g_assert_cmpint(fcntl(fd, F_SETFL, O_NONBLOCK), ==, 0);
        if (read(fd, &v, sizeof(v)) < 0) {
            v = 0;
        }
        g_assert_cmpint(write(fd, &full, sizeof(full)), ==, sizeof(full));
    }
    g_assert_cmpint(fcntl(fd, F_SETFL, 0), ==, 0);
}

/*
 * The peer wins any race against a readiness check: this poll() (which
 * the ring library, linked into this program, calls instead of libc's)
 * lets the peer fill and block race_fd between the check and the call
 * that follows it.  Only the ring polls while race_fd is set.  The ring
 * from before the sockets checked O_NONBLOCK and poll()ed before each
 * eventfd write, and its kick then blocked here.
 */
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    struct timespec ts = { timeout / 1000, (timeout % 1000) * 1000000L };
    int r = ppoll(fds, n, timeout < 0 ? NULL : &ts, NULL);

    for (nfds_t i = 0; r >= 0 && i < n; i++) {
        if (race_fd >= 0 && (fds[i].events & POLLOUT)) {
            peer_fill_and_block(race_fd);
            race_fd = -1;
        }
    }
    return r;
}

/* SIGALRM: a call blocked.  Fail the test rather than hang the suite. */
static void blocked(int sig)
{
    static const char m[] = "a ring call blocked for 10 s\n";

    if (write(STDERR_FILENO, m, sizeof(m) - 1) < 0) {
        _exit(1);
    }
    abort();
}

static void watchdog(unsigned sec)
{
    struct sigaction sa = { .sa_handler = blocked };

    sigaction(SIGALRM, &sa, NULL);
    alarm(sec);
}

static bool wake_readable(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    return ppoll(&pfd, 1, &(struct timespec){ 0, 0 }, NULL) == 1;
}

/*
 * The peer makes the attacher's kick block: in the window between any
 * check and the send (the race the eventfds left open), and before it.
 * The kick must neither block nor break the ring: a full queue means
 * the peer has wake-ups waiting already.  The same for the creator's
 * kick, whose socket the attacher never holds, and for the wait ends:
 * made blocking and empty, a wake-up returns at once.
 */
static void test_blocking_peer(void)
{
    static uint8_t buf[64];
    int fds[LANE_RING_NFDS];
    uint64_t kicks;
    Pair p;

    pair_init(&p, 4096);
    lane_ring_peer_fds(p.c, fds);
    watchdog(10);

    /* the creator sleeps; the peer strikes between check and send */
    cons_line(&p, 1)->cons_sleeping = 1;
    race_fd = fds[LANE_RING_FD_WAKE_C];
    g_assert_cmpint(lane_ring_write(p.a, buf, 10), ==, 10);
    race_fd = -1;
    g_assert_false(lane_ring_is_broken(p.a));

    /* the same, done before: the queue is full, the socket blocking */
    peer_fill_and_block(fds[LANE_RING_FD_WAKE_C]);
    kicks = lane_ring_stats(p.a)->kicks;
    cons_line(&p, 1)->cons_sleeping = 1;
    g_assert_cmpint(lane_ring_write(p.a, buf, 10), ==, 10);
    g_assert_false(lane_ring_is_broken(p.a));
    g_assert_cmpuint(lane_ring_stats(p.a)->kicks, ==, kicks);
    /* the creator is awake anyway: its wake-up socket is full */
    g_assert_true(wake_readable(lane_ring_wait_fd(p.c)));

    /* the attacher's wait end: blocking and empty */
    g_assert_cmpint(fcntl(fds[LANE_RING_FD_WAKE_A], F_SETFL, 0), ==, 0);
    g_assert_false(lane_ring_handle_wakeup(p.a));
    g_assert_false(lane_ring_is_broken(p.a));

    /* and both directions still work */
    g_assert_cmpint(lane_ring_read(p.c, buf, sizeof(buf)), ==, 20);
    g_assert_cmpint(lane_ring_rx_prepare_sleep(p.a), ==, 1);
    g_assert_cmpint(lane_ring_write(p.c, buf, 5), ==, 5);
    g_assert_true(lane_ring_handle_wakeup(p.a));
    g_assert_cmpint(lane_ring_read(p.a, buf, sizeof(buf)), ==, 5);
    alarm(0);
    g_assert_cmpuint(lane_ring_stats(p.a)->corruptions, ==, 0);
    g_assert_cmpuint(lane_ring_stats(p.c)->corruptions, ==, 0);
    pair_free(&p);
}

/*
 * A peer that kicks as fast as it can costs a bounded drain per wake-up:
 * what is left keeps the socket readable for the next round of the
 * caller's loop.
 */
static void test_kick_flood(void)
{
    static uint8_t buf[1];
    int rounds = 0;
    Pair p;

    pair_init(&p, 4096);
    for (int i = 0; i < 150; i++) {
        cons_line(&p, 0)->cons_sleeping = 1;
        g_assert_cmpint(lane_ring_write(p.c, buf, 1), ==, 1);
    }
    g_assert_cmpuint(lane_ring_stats(p.c)->kicks, ==, 150);
    while (wake_readable(lane_ring_wait_fd(p.a))) {
        g_assert_true(lane_ring_handle_wakeup(p.a));
        rounds++;
    }
    g_assert_cmpint(rounds, ==, 3);     /* 64 messages a wake-up at most */
    g_assert_false(lane_ring_is_broken(p.a));
    pair_free(&p);
}

/*
 * A wake-up reads as many kicks as the flags we raised, and no more:
 * the recv() that would only find the socket empty is not made.  Kicks
 * the peer sends on its own are still drained, by the next round.
 */
static void test_owed_kicks(void)
{
    static uint8_t buf[1];
    Pair p;

    pair_init(&p, 4096);
    g_assert_cmpint(lane_ring_rx_prepare_sleep(p.a), ==, 1);
    g_assert_cmpint(lane_ring_write(p.c, buf, 1), ==, 1);
    g_assert_true(lane_ring_handle_wakeup(p.a));
    g_assert_false(wake_readable(lane_ring_wait_fd(p.a)));

    /* Two kicks the consumer never asked for, after the one it did. */
    g_assert_cmpint(lane_ring_rx_prepare_sleep(p.a), ==, 0);    /* data */
    g_assert_cmpint(lane_ring_read(p.a, buf, 1), ==, 1);
    g_assert_cmpint(lane_ring_rx_prepare_sleep(p.a), ==, 1);
    g_assert_cmpint(lane_ring_write(p.c, buf, 1), ==, 1);
    for (int i = 0; i < 2; i++) {
        cons_line(&p, 0)->cons_sleeping = 1;
        g_assert_cmpint(lane_ring_write(p.c, buf, 1), ==, 1);
    }
    g_assert_cmpuint(lane_ring_stats(p.c)->kicks, ==, 4);
    /* Two raised flags (one cancelled, as a peer may still act on it). */
    g_assert_true(lane_ring_handle_wakeup(p.a));
    g_assert_true(wake_readable(lane_ring_wait_fd(p.a)));
    g_assert_true(lane_ring_handle_wakeup(p.a));
    g_assert_false(wake_readable(lane_ring_wait_fd(p.a)));
    g_assert_cmpuint(lane_ring_stats(p.a)->wakeups, ==, 3);
    g_assert_false(lane_ring_is_broken(p.a));
    pair_free(&p);
}

/*
 * The peer closes or shuts down its end: the ring hangs up (every call
 * then fails, the lane disconnects), counted as no corruption, and no
 * SIGPIPE for a kick into a shut-down socket.
 */
static void test_hang_up(void)
{
    static uint8_t buf[8];
    int fds[LANE_RING_NFDS];
    Pair p;

    signal(SIGPIPE, SIG_DFL);
    /* the attacher's wait end, shut down by the peer: EOF */
    pair_init(&p, 4096);
    lane_ring_peer_fds(p.c, fds);
    g_assert_cmpint(shutdown(fds[LANE_RING_FD_WAKE_A], SHUT_RDWR), ==, 0);
    g_assert_true(wake_readable(lane_ring_wait_fd(p.a)));
    g_assert_false(lane_ring_handle_wakeup(p.a));
    g_assert_true(lane_ring_is_hung_up(p.a));
    g_assert_true(lane_ring_is_broken(p.a));
    g_assert_cmpint(lane_ring_read(p.a, buf, sizeof(buf)), ==, -EPROTO);
    g_assert_cmpuint(lane_ring_stats(p.a)->corruptions, ==, 0);
    pair_free(&p);

    /* the attacher kicks into a socket the peer shut down: EPIPE */
    pair_init(&p, 4096);
    lane_ring_peer_fds(p.c, fds);
    g_assert_cmpint(shutdown(fds[LANE_RING_FD_WAKE_C], SHUT_RDWR), ==, 0);
    cons_line(&p, 1)->cons_sleeping = 1;
    g_assert_cmpint(lane_ring_write(p.a, buf, 8), ==, -EPROTO);
    g_assert_true(lane_ring_is_hung_up(p.a));
    g_assert_cmpuint(lane_ring_stats(p.a)->corruptions, ==, 0);
    pair_free(&p);

    /* corruption first: not a hang-up afterwards */
    pair_init(&p, 4096);
    lane_ring_peer_fds(p.c, fds);
    prod_line(&p, 0)->prod = 8192;
    g_assert_cmpint(lane_ring_read(p.a, buf, sizeof(buf)), ==, -EPROTO);
    g_assert_cmpint(shutdown(fds[LANE_RING_FD_WAKE_A], SHUT_RDWR), ==, 0);
    lane_ring_handle_wakeup(p.a);
    g_assert_false(lane_ring_is_hung_up(p.a));
    g_assert_cmpuint(lane_ring_stats(p.a)->corruptions, ==, 1);
    pair_free(&p);
}

/* ---- attach refused ---- */

static int memfd_with(const void *data, size_t len, size_t size, int seals)
{
    int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    g_assert_cmpint(pwrite(fd, data, MIN(len, size), 0), ==, MIN(len, size));
    if (seals) {
        g_assert_cmpint(fcntl(fd, F_ADD_SEALS, seals), ==, 0);
    }
    return fd;
}

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/*
 * One end of a fresh AF_UNIX socketpair of @type (the other end closed:
 * still a connected socket, which is all attach checks).
 */
static int sock_end(int type)
{
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), ==, 0);
    close(sv[1]);
    return sv[0];
}

static int wake_end(void)
{
    return sock_end(SOCK_SEQPACKET);
}

/*
 * Attach with @mem and two fresh wake-up sockets; expect @err and every
 * fd closed.
 */
static void refuse(int mem, int err_want)
{
    int fds[LANE_RING_NFDS] = { mem, wake_end(), wake_end() };
    int err = 0;

    g_assert_null(lane_ring_attach(fds, &err));
    g_assert_cmpint(err, ==, err_want);
    for (int i = 0; i < LANE_RING_NFDS; i++) {
        g_assert_false(fd_open(fds[i]));
    }
}

static void test_attach_refused(void)
{
    const int all = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
    LaneRingHeader good, h;
    uint64_t size;
    int fds[LANE_RING_NFDS], err, pfd[2];
    uint8_t *region;
    Pair p;

    pair_init(&p, 4096);
    good = *hdr(&p);
    size = good.region_size;
    region = g_memdup2(p.shm, size);
    pair_free(&p);

    /* The copy itself is accepted, so what follows tests one thing. */
    {
        LaneRing *r;

        fds[0] = memfd_with(region, size, size, all);
        fds[1] = wake_end();
        fds[2] = wake_end();
        r = lane_ring_attach(fds, &err);
        g_assert_nonnull(r);
        lane_ring_free(r);
    }
    /* A peer that could truncate: no seals, or not all of them. */
    refuse(memfd_with(region, size, size, 0), -EPERM);
    refuse(memfd_with(region, size, size, F_SEAL_SHRINK), -EPERM);
    refuse(memfd_with(region, size, size, F_SEAL_GROW | F_SEAL_SEAL),
           -EPERM);
    /* Not a memfd at all: a pipe, a regular file. */
    g_assert_cmpint(pipe(pfd), ==, 0);
    close(pfd[1]);
    refuse(pfd[0], -EPERM);
    {
        FILE *f = tmpfile();
        int fd;

        g_assert_nonnull(f);
        fd = dup(fileno(f));
        fclose(f);
        g_assert_cmpint(write(fd, region, size), ==, size);
        refuse(fd, -EPERM);
    }
    /* Truncated before sealing: smaller than its header says. */
    refuse(memfd_with(region, size, size - 4096, all), -EINVAL);
    refuse(memfd_with(region, size, 16, all), -EINVAL);
    /* Grown before sealing: the header's size is not the file's. */
    refuse(memfd_with(region, size, size + 4096, all), -EINVAL);

    /* Bad headers. */
    for (int c = 0; c < 16; c++) {
        h = good;
        switch (c) {
        case 0:
            h.magic ^= 1;
            break;
        case 1:
            h.version = 2;
            break;
        case 2:
            h.header_size = sizeof(h) + 8;
            break;
        case 3:
            h.region_size = size - 4096;
            break;
        case 4: /* not 2^n */
            h.ring[0].size = 6144;
            break;
        case 5: /* too small */
            h.ring[1].size = 2048;
            break;
        case 6: /* past the end */
            h.ring[1].size = 8192;
            break;
        case 7:
            h.ring[0].data_off = size - 100;
            break;
        case 8:
            h.ring[0].data_off = UINT64_MAX - 10;
            break;
        case 9:
            h.ring[1].prod_off = size;
            break;
        case 10:
            h.ring[1].cons_off = h.ring[1].prod_off;
            break;
        case 11:
            h.ring[0].prod_off = h.ring[0].data_off + 64;
            break;
        case 12: /* on the header */
            h.ring[0].cons_off = 0;
            break;
        case 13: /* misaligned */
            h.ring[0].cons_off += 4;
            break;
        case 14:
            h.ring[1].data_off = h.ring[0].data_off + 2048;
            break;
        default:
            h.ring[1].size = 0;
            break;
        }
        memcpy(region, &h, sizeof(h));
        refuse(memfd_with(region, size, size, all), -EINVAL);
    }
    memcpy(region, &good, sizeof(good));

    /*
     * Wake fds that are not connected SEQPACKET sockets: a pipe, an
     * eventfd, a stream or datagram socket, a listening or an unbound
     * one; or the same socket twice, under two fd numbers as SCM_RIGHTS
     * gives them.
     */
    for (int c = 0; c < 8; c++) {
        int other = wake_end();

        switch (c) {
        case 0:
            g_assert_cmpint(pipe2(pfd, O_CLOEXEC), ==, 0);
            close(pfd[1]);
            other = pfd[0];
            break;
        case 1:
            other = eventfd(0, EFD_CLOEXEC);
            break;
        case 2:
            other = sock_end(SOCK_STREAM);
            break;
        case 3:
            other = sock_end(SOCK_DGRAM);
            break;
        case 4: {
            struct sockaddr_un sa = { .sun_family = AF_UNIX };

            other = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
            g_assert_cmpint(other, >=, 0);
            /* autobind: an abstract address, nothing on disk */
            g_assert_cmpint(bind(other, (struct sockaddr *)&sa,
                                 sizeof(sa_family_t)), ==, 0);
            g_assert_cmpint(listen(other, 1), ==, 0);
            break;
        }
        case 5:
            other = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
            break;
        case 6:
            other = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            break;
        default:
            break;
        }
        g_assert_cmpint(other, >=, 0);
        fds[0] = memfd_with(region, size, size, all);
        fds[1 + c % 2] = other;
        fds[2 - c % 2] = c == 7 ? dup(other) : wake_end();
        g_assert_null(lane_ring_attach(fds, &err));
        g_assert_cmpint(err, ==, -EBADF);
        for (int i = 0; i < LANE_RING_NFDS; i++) {
            g_assert_false(fd_open(fds[i]));
        }
    }
    g_free(region);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/lane-ring/create", test_create);
    g_test_add_func("/lane-ring/round-trip", test_round_trip);
    g_test_add_func("/lane-ring/index-wrap", test_index_wrap);
    g_test_add_func("/lane-ring/records", test_records);
    g_test_add_func("/lane-ring/full-empty", test_full_empty);
    g_test_add_func("/lane-ring/wakeup", test_wakeup);
    g_test_add_func("/lane-ring/blocking-peer", test_blocking_peer);
    g_test_add_func("/lane-ring/kick-flood", test_kick_flood);
    g_test_add_func("/lane-ring/owed-kicks", test_owed_kicks);
    g_test_add_func("/lane-ring/hang-up", test_hang_up);
    g_test_add_data_func("/lane-ring/two-processes/both-ways",
                         GINT_TO_POINTER(BOTH_WAYS), test_two_processes);
    g_test_add_data_func("/lane-ring/two-processes/to-attacher",
                         GINT_TO_POINTER(TO_ATTACHER), test_two_processes);
    g_test_add_data_func("/lane-ring/two-processes/to-creator",
                         GINT_TO_POINTER(TO_CREATOR), test_two_processes);
    g_test_add_data_func("/lane-ring/corrupt/prod-beyond",
                         GINT_TO_POINTER(PROD_BEYOND), test_corruption);
    g_test_add_data_func("/lane-ring/corrupt/prod-behind",
                         GINT_TO_POINTER(PROD_BEHIND), test_corruption);
    g_test_add_data_func("/lane-ring/corrupt/cons-past-prod",
                         GINT_TO_POINTER(CONS_PAST_PROD), test_corruption);
    g_test_add_data_func("/lane-ring/corrupt/cons-behind",
                         GINT_TO_POINTER(CONS_BEHIND), test_corruption);
    g_test_add_data_func("/lane-ring/corrupt/header-size",
                         GINT_TO_POINTER(HDR_SIZE), test_corruption);
    g_test_add_func("/lane-ring/hostile-flags", test_hostile_flags);
    g_test_add_func("/lane-ring/attach-refused", test_attach_refused);
    return g_test_run();
}
