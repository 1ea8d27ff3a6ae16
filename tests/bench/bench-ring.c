/*
 * Lane shared-memory rings (net/lane-ring.c) against a UNIX stream socket
 * pair: two processes, one streaming lane FRAME records of 64 or 1518
 * octets for a fixed time, the other reading and checking them, as a lane
 * would.  Prints 'name: value' lines; scripts/bladeplane bench ring runs it.
 *
 * Ring: the producer writes each record straight into the ring (no
 * syscall) or, for the ring_gather_ lines, gathers records in a 64 KiB
 * queue first as the socket producer does; when the ring is full it
 * sleeps until half of it is free.  The consumer copies out up to 64 KiB
 * at a time and sleeps when empty.
 * Socket: the producer gathers records in a 64 KiB queue and writes it
 * with one send() (the socket lane's batching); the consumer reads up to
 * 96 KiB at a time (the socket lane's receive buffer).
 *
 * Rates are over wall time on the consumer, from the first octet to the
 * end record: both processes run at once, so the figures depend on what
 * else the machine runs.  Each figure is the median of RUNS runs.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lane-ring.h"
#include "lane-transport.h"

#define RUNS        3
#define RUN_NS      1000000000ull
#define TAG_END     0xff
#define RX_CHUNK    (64 * 1024)
#define SOCK_TXQ    (64 * 1024)
#define SOCK_RXBUF  (96 * 1024)
#define WAIT_MS     10000

typedef struct Result {
    uint64_t records;
    uint64_t ns;
    uint64_t kicks;         /* both ends */
    int ok;
} Result;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static size_t make_record(uint8_t *rec, size_t frame_len, uint32_t seq)
{
    rec[0] = LANE_TAG_FRAME;
    rec[1] = 0;
    rec[2] = frame_len & 0xff;
    rec[3] = frame_len >> 8;
    memcpy(rec + LANE_REC_HDR, &seq, sizeof(seq));
    return LANE_REC_HDR + frame_len;
}

/* Record parser of the consumers: checks tags and sequence numbers. */
typedef struct Parser {
    uint8_t hdr[LANE_REC_HDR + 4];
    size_t have;            /* octets of the current record seen */
    size_t len;             /* its payload length, once known */
    uint32_t next_seq;
    uint64_t records;
    bool end, bad;
} Parser;

static void parse(Parser *p, const uint8_t *buf, size_t n)
{
    while (n && !p->end && !p->bad) {
        /* header, then the sequence number, then the rest */
        size_t stop = p->have < LANE_REC_HDR ? LANE_REC_HDR
                    : p->have < sizeof(p->hdr) ? sizeof(p->hdr)
                    : LANE_REC_HDR + p->len;
        size_t take = stop - p->have < n ? stop - p->have : n;

        if (stop <= sizeof(p->hdr)) {
            memcpy(p->hdr + p->have, buf, take);
        }
        p->have += take;
        buf += take;
        n -= take;
        if (p->have != stop) {
            break;
        }
        if (stop == LANE_REC_HDR) {
            p->len = p->hdr[2] | p->hdr[3] << 8;
            p->end = p->hdr[0] == TAG_END;
            p->bad = !p->end && (p->hdr[0] != LANE_TAG_FRAME || p->len < 4);
            continue;
        }
        if (stop == sizeof(p->hdr)) {
            uint32_t seq;

            memcpy(&seq, p->hdr + LANE_REC_HDR, sizeof(seq));
            p->bad = seq != p->next_seq++;
        }
        if (p->have == LANE_REC_HDR + p->len) {
            p->records++;
            p->have = 0;
        }
    }
}

static bool wait_fd(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    return poll(&pfd, 1, WAIT_MS) == 1;
}

/* ---- ring ---- */

/* Write all of @buf, sleeping while the ring is full. */
static bool ring_put(LaneRing *r, const uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t n = lane_ring_write(r, buf, len);

        if (n < 0) {
            return false;
        }
        buf += n;
        len -= n;
        if (!len) {
            break;
        }
        if (n == 0) {
            int s = lane_ring_tx_prepare_sleep(r, LANE_RING_DEFAULT_SIZE / 2);

            if (s < 0 || (s == 1 && !wait_fd(lane_ring_wait_fd(r)))) {
                return false;
            }
            lane_ring_handle_wakeup(r);
        }
    }
    return true;
}

/*
 * @gather: gather records in a 64 KiB queue and write the queue when the
 * next record does not fit (as the socket producer sends it), instead of
 * one write per record.
 */
static void ring_producer(int sock, size_t frame_len, bool gather)
{
    static uint8_t q[SOCK_TXQ];
    int fds[LANE_RING_NFDS], err;
    uint64_t end, kicks;
    uint32_t seq = 0;
    size_t qlen = 0;
    LaneRing *r;
    char c;
    struct iovec iov = { .iov_base = &c, .iov_len = 1 };
    union {
        char buf[CMSG_SPACE(sizeof(fds))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = u.buf, .msg_controllen = sizeof(u.buf),
    };
    struct cmsghdr *cm;

    if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) {
        _exit(2);
    }
    cm = CMSG_FIRSTHDR(&msg);
    if (!cm || cm->cmsg_type != SCM_RIGHTS ||
        cm->cmsg_len != CMSG_LEN(sizeof(fds))) {
        _exit(2);
    }
    memcpy(fds, CMSG_DATA(cm), sizeof(fds));
    r = lane_ring_attach(fds, &err);
    if (!r) {
        _exit(3);
    }
    memset(q, 0x5a, sizeof(q));
    end = now_ns() + RUN_NS;
    for (;;) {
        if (qlen + LANE_REC_HDR + frame_len > sizeof(q) - LANE_REC_HDR) {
            if (!ring_put(r, q, qlen)) {
                _exit(4);
            }
            qlen = 0;
        }
        qlen += make_record(q + qlen, frame_len, seq++);
        if (!gather) {
            if (!ring_put(r, q, qlen)) {
                _exit(4);
            }
            qlen = 0;
        }
        if (!(seq & 255) && now_ns() >= end) {
            break;
        }
    }
    q[qlen] = TAG_END;
    q[qlen + 1] = q[qlen + 2] = q[qlen + 3] = 0;
    if (!ring_put(r, q, qlen + LANE_REC_HDR)) {
        _exit(4);
    }
    kicks = lane_ring_stats(r)->kicks;
    if (write(sock, &kicks, sizeof(kicks)) != sizeof(kicks)) {
        _exit(5);
    }
    lane_ring_free(r);
    _exit(0);
}

static Result run_ring(size_t frame_len, bool gather)
{
    static uint8_t buf[RX_CHUNK];
    Result res = { 0 };
    Parser p = { 0 };
    int sv[2], fds[LANE_RING_NFDS], err, status;
    uint64_t t0 = 0, peer_kicks = 0;
    LaneRing *r;
    pid_t pid;
    char c = 'R';
    struct iovec iov = { .iov_base = &c, .iov_len = 1 };
    union {
        char buf[CMSG_SPACE(sizeof(fds))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = u.buf, .msg_controllen = sizeof(u.buf),
    };
    struct cmsghdr *cm;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return res;
    }
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        ring_producer(sv[1], frame_len, gather);
    }
    close(sv[1]);
    r = lane_ring_create(LANE_RING_DEFAULT_SIZE, &err);
    if (!r || pid < 0) {
        goto out;
    }
    lane_ring_peer_fds(r, fds);
    memset(&u, 0, sizeof(u));
    cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(fds));
    memcpy(CMSG_DATA(cm), fds, sizeof(fds));
    if (sendmsg(sv[0], &msg, 0) != 1) {
        goto out;
    }
    while (!p.end && !p.bad) {
        ssize_t n = lane_ring_read(r, buf, sizeof(buf));

        if (n < 0) {
            goto out;
        }
        if (n > 0) {
            if (!t0) {
                t0 = now_ns();
            }
            parse(&p, buf, n);
            continue;
        }
        n = lane_ring_rx_prepare_sleep(r);
        if (n < 0 || (n == 1 && !wait_fd(lane_ring_wait_fd(r)))) {
            goto out;
        }
        lane_ring_handle_wakeup(r);
    }
    res.ns = now_ns() - t0;
    res.records = p.records;
    if (read(sv[0], &peer_kicks, sizeof(peer_kicks)) == sizeof(peer_kicks)) {
        res.kicks = peer_kicks + lane_ring_stats(r)->kicks;
        res.ok = !p.bad;
    }
out:
    if (pid > 0) {
        if (!res.ok) {
            kill(pid, SIGKILL);
        }
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status)) {
            res.ok = 0;
        }
    }
    lane_ring_free(r);
    close(sv[0]);
    return res;
}

/* ---- socket ---- */

static void sock_producer(int fd, size_t frame_len)
{
    static uint8_t q[SOCK_TXQ];
    size_t qlen = 0;
    uint64_t end = now_ns() + RUN_NS;
    uint32_t seq = 0;
    bool last = false;

    memset(q, 0x5a, sizeof(q));
    while (!last) {
        if (qlen + LANE_REC_HDR + frame_len > sizeof(q)) {
            if (send(fd, q, qlen, MSG_NOSIGNAL) != (ssize_t)qlen) {
                _exit(4);
            }
            qlen = 0;
        }
        qlen += make_record(q + qlen, frame_len, seq++);
        if (!(seq & 255) && now_ns() >= end) {
            q[qlen] = TAG_END;
            q[qlen + 1] = q[qlen + 2] = q[qlen + 3] = 0;
            qlen += LANE_REC_HDR;
            last = true;
        }
    }
    if (send(fd, q, qlen, MSG_NOSIGNAL) != (ssize_t)qlen) {
        _exit(4);
    }
    _exit(0);
}

static Result run_socket(size_t frame_len)
{
    static uint8_t buf[SOCK_RXBUF];
    Result res = { 0 };
    Parser p = { 0 };
    uint64_t t0 = 0;
    int sv[2], status;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        return res;
    }
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        sock_producer(sv[1], frame_len);
    }
    close(sv[1]);
    while (pid > 0 && !p.end && !p.bad) {
        ssize_t n = recv(sv[0], buf, sizeof(buf), 0);

        if (n <= 0) {
            break;
        }
        if (!t0) {
            t0 = now_ns();
        }
        parse(&p, buf, n);
    }
    res.ns = now_ns() - t0;
    res.records = p.records;
    res.ok = p.end && !p.bad;
    if (pid > 0) {
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status)) {
            res.ok = 0;
        }
    }
    close(sv[0]);
    return res;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

typedef enum Kind { RING, RING_GATHER, SOCKET } Kind;

static const char *const kind_name[] = { "ring", "gathering ring", "socket" };

/* Median records/s and kicks per 1000 records of RUNS runs. */
static bool measure(Kind kind, size_t frame_len, double *rate,
                    double *kicks)
{
    double r[RUNS], k[RUNS];

    for (int i = 0; i < RUNS; i++) {
        Result res = kind == SOCKET ? run_socket(frame_len)
                                    : run_ring(frame_len, kind == RING_GATHER);

        if (!res.ok || !res.records || !res.ns) {
            fprintf(stderr, "bench-ring: %s run with %zu-octet frames "
                    "failed\n", kind_name[kind], frame_len);
            return false;
        }
        r[i] = res.records * 1e9 / res.ns;
        k[i] = res.kicks * 1000.0 / res.records;
    }
    qsort(r, RUNS, sizeof(double), cmp_double);
    qsort(k, RUNS, sizeof(double), cmp_double);
    *rate = r[RUNS / 2];
    *kicks = k[RUNS / 2];
    return true;
}

int main(void)
{
    double r1518, r64, g1518, g64, s1518, s64, k1518, k64, gk64, unused;

    printf("bench-ring: two processes stream lane FRAME records through "
           "net/lane-ring (%u KiB rings; one write per record, or "
           "gathered in 64 KiB) or a UNIX stream socket pair (gathered in "
           "64 KiB), %.1f s a run, median of %d; wall time on a shared "
           "machine\n", LANE_RING_DEFAULT_SIZE / 1024, RUN_NS / 1e9, RUNS);
    fflush(stdout);
    if (!measure(RING, 1518, &r1518, &k1518) ||
        !measure(RING, 64, &r64, &k64) ||
        !measure(RING_GATHER, 1518, &g1518, &unused) ||
        !measure(RING_GATHER, 64, &g64, &gk64) ||
        !measure(SOCKET, 1518, &s1518, &unused) ||
        !measure(SOCKET, 64, &s64, &unused)) {
        return 1;
    }
    printf("ring_1518_gbps: %.2f\n", r1518 * 1518 * 8 / 1e9);
    printf("ring_1518_kpps: %.1f\n", r1518 / 1e3);
    printf("ring_64_mpps: %.3f\n", r64 / 1e6);
    printf("ring_64_gbps: %.2f\n", r64 * 64 * 8 / 1e9);
    printf("ring_kicks_per_1000_records: %.2f\n", k1518);
    printf("ring_kicks_per_1000_records_64: %.3f\n", k64);
    printf("ring_gather_1518_gbps: %.2f\n", g1518 * 1518 * 8 / 1e9);
    printf("ring_gather_64_mpps: %.3f\n", g64 / 1e6);
    printf("ring_gather_kicks_per_1000_records_64: %.3f\n", gk64);
    printf("socket_1518_gbps: %.2f\n", s1518 * 1518 * 8 / 1e9);
    printf("socket_64_mpps: %.3f\n", s64 / 1e6);
    printf("ring_over_socket_1518: %.2f\n", r1518 / s1518);
    printf("ring_over_socket_64: %.2f\n", r64 / s64);
    printf("ring_gather_over_socket_1518: %.2f\n", g1518 / s1518);
    printf("ring_gather_over_socket_64: %.2f\n", g64 / s64);
    return 0;
}
