/*
 * Lane transport over shared-memory rings: the negotiation after the
 * hello (offer and accept, refuse, a peer that ignores the offer), the
 * data path against the stream, ring corruption, a peer that makes the
 * wake-up sockets block or hangs them up, and the fds on every path.
 * Both ends are the library's socket roles, driven with poll() and a
 * fake clock.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lane-pump.h"
#include "lane-ring.h"
#include "lane-transport.h"

#define MS 1000000ULL

typedef struct End {
    Lane *lane;
    unsigned frames;
    uint32_t next_seq;
    uint32_t tx_seq;
    unsigned out_of_order;
    uint64_t octets;
    uint32_t digest;        /* of every frame received, in order */
} End;

static void on_frame(void *opaque, const uint8_t *f, size_t len)
{
    End *e = opaque;
    uint32_t seq;

    memcpy(&seq, f + 14, 4);
    e->out_of_order += seq != e->next_seq;
    e->next_seq = seq + 1;
    e->frames++;
    e->octets += len;
    for (size_t i = 0; i < len; i++) {
        e->digest = e->digest * 31 + f[i];
    }
}

static const LaneOps ops = { .rx_frame = on_frame };

/*
 * Between the two ends: nothing (they share a socket), or a relay that
 * plays a peer of before the rings: it drops RING records and fds.
 */
typedef struct Relay {
    int fd[2];              /* to end a, to end b */
    uint8_t buf[2][128 * 1024];
    size_t len[2];
    unsigned ring_records;  /* dropped */
} Relay;

typedef struct Pair {
    char *dir, *path;
    End a, b;               /* a: server (switch), b: client (NIC) */
    Relay *relay;
} Pair;

static unsigned open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned n = 0;

    g_assert_nonnull(d);
    while (readdir(d)) {
        n++;
    }
    closedir(d);
    return n;
}

/* Whole records from @from's stream to @to's, without RING records. */
static bool relay_move(Relay *r, int from)
{
    int to = !from;
    bool moved = false;
    ssize_t n = recv(r->fd[from], r->buf[from] + r->len[from],
                     sizeof(r->buf[from]) - r->len[from], MSG_DONTWAIT);
    size_t off = 0;

    if (n > 0) {
        r->len[from] += n;
        moved = true;
    }
    while (r->len[from] - off >= LANE_REC_HDR) {
        const uint8_t *h = r->buf[from] + off;
        size_t plen = h[2] | (size_t)h[3] << 8;

        if (r->len[from] - off < LANE_REC_HDR + plen) {
            break;
        }
        if (h[0] == LANE_TAG_RING) {
            r->ring_records++;
        } else {
            g_assert_cmpint(send(r->fd[to], h, LANE_REC_HDR + plen,
                                 MSG_NOSIGNAL), ==, LANE_REC_HDR + plen);
        }
        off += LANE_REC_HDR + plen;
    }
    memmove(r->buf[from], r->buf[from] + off, r->len[from] - off);
    r->len[from] -= off;
    return moved;
}

static void pump(Pair *p, uint64_t now)
{
    for (int iter = 0; iter < 100000; iter++) {
        Lane *lanes[2] = { p->a.lane, p->b.lane };
        int busy = lane_pump_round(lanes, 2, now);

        if (p->relay) {
            busy += relay_move(p->relay, 0);
            busy += relay_move(p->relay, 1);
        }
        if (!busy) {
            return;
        }
    }
    g_assert_not_reached();
}

static void make_frame(uint8_t *f, size_t len, uint32_t seq)
{
    memset(f, 0xff, 6);
    memset(f + 6, 0x02, 6);
    f[12] = 0x88;
    f[13] = 0xb5;
    memcpy(f + 14, &seq, 4);
    for (size_t i = 18; i < len; i++) {
        f[i] = (uint8_t)(i * 7 + seq);
    }
}

static void pair_init_ops(Pair *p, LaneShm shm_a, LaneShm shm_b,
                          const LaneOps *ops_a)
{
    LaneConfig ca, cb;
    int err = 0;

    memset(p, 0, sizeof(*p));
    p->dir = g_dir_make_tmp("lane-shm-XXXXXX", NULL);
    p->path = g_build_filename(p->dir, "slot1", NULL);
    lane_config_init(&ca, LANE_ROLE_SERVER, p->path);
    lane_config_init(&cb, LANE_ROLE_CLIENT, p->path);
    g_assert_cmpint(ca.shm, ==, LANE_SHM_ACCEPT);   /* the defaults */
    g_assert_cmpint(cb.shm, ==, LANE_SHM_OFFER);
    ca.shm = shm_a;
    cb.shm = shm_b;
    ca.speed_mbps = cb.speed_mbps = 0;
    p->a.lane = lane_new(&ca, ops_a, &p->a, 0, &err);
    g_assert_nonnull(p->a.lane);
    p->b.lane = lane_new(&cb, &ops, &p->b, 0, &err);
    g_assert_nonnull(p->b.lane);
}

static void pair_init(Pair *p, LaneShm shm_a, LaneShm shm_b)
{
    pair_init_ops(p, shm_a, shm_b, &ops);
}

/* Both ends attached to socketpairs through a relay of an old peer. */
static void pair_init_relay(Pair *p)
{
    LaneConfig ca, cb;
    int sa[2], sb[2];

    memset(p, 0, sizeof(*p));
    p->relay = g_new0(Relay, 1);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sa), ==, 0);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sb), ==, 0);
    p->relay->fd[0] = sa[1];
    p->relay->fd[1] = sb[1];
    lane_config_init(&ca, LANE_ROLE_FD, NULL);
    lane_config_init(&cb, LANE_ROLE_FD, NULL);
    ca.shm = LANE_SHM_ACCEPT;
    cb.shm = LANE_SHM_OFFER;
    ca.speed_mbps = cb.speed_mbps = 0;
    p->a.lane = lane_new(&ca, &ops, &p->a, 0, NULL);
    p->b.lane = lane_new(&cb, &ops, &p->b, 0, NULL);
    lane_attach_fd(p->a.lane, sa[0], 0);
    lane_attach_fd(p->b.lane, sb[0], 0);
}

static void pair_free(Pair *p)
{
    lane_free(p->a.lane);
    lane_free(p->b.lane);
    if (p->relay) {
        close(p->relay->fd[0]);
        close(p->relay->fd[1]);
        g_free(p->relay);
    }
    if (p->dir) {
        g_rmdir(p->dir);
    }
    g_free(p->path);
    g_free(p->dir);
}

/* @count frames each way of each size, pumped in batches of 16. */
static void traffic(Pair *p, unsigned count, uint64_t now)
{
    static const size_t sizes[] = { 60, 1514, 333 };
    uint8_t f[1514];
    unsigned a0 = p->a.frames, b0 = p->b.frames;

    for (unsigned i = 0; i < count; i++) {
        size_t len = sizes[i % 3];

        make_frame(f, len, p->b.tx_seq++);
        g_assert_cmpint(lane_send_frame(p->b.lane, f, len, now), ==, 0);
        make_frame(f, len, p->a.tx_seq++);
        g_assert_cmpint(lane_send_frame(p->a.lane, f, len, now), ==, 0);
        if (i % 16 == 15) {
            pump(p, now);
        }
    }
    pump(p, now);
    g_assert_cmpuint(p->a.frames - a0, ==, count);
    g_assert_cmpuint(p->b.frames - b0, ==, count);
    g_assert_cmpuint(p->a.out_of_order + p->b.out_of_order, ==, 0);
}

static void assert_no_errors(Lane *l)
{
    const LaneStats *st = lane_stats(l);

    g_assert_cmpuint(st->protocol_errors, ==, 0);
    g_assert_cmpuint(st->bad_records, ==, 0);
    g_assert_cmpuint(st->shm_errors, ==, 0);
    g_assert_cmpuint(st->unasked_fds, ==, 0);
}

/*
 * Offer and accept: both directions move to the rings and carry exactly
 * what the stream carries (same frames, octets and counters).
 */
static void test_offer_accept(void)
{
    unsigned fds0 = open_fds();
    Pair p, s;
    const LaneStats *sa, *sb, *ta;

    pair_init(&p, LANE_SHM_ACCEPT, LANE_SHM_OFFER);
    pump(&p, 0);
    g_assert_true(lane_is_link_up(p.a.lane));
    g_assert_true(lane_on_rings(p.a.lane));
    g_assert_true(lane_on_rings(p.b.lane));
    traffic(&p, 600, 0);

    pair_init(&s, LANE_SHM_OFF, LANE_SHM_OFF);
    pump(&s, 0);
    g_assert_true(lane_is_link_up(s.a.lane));
    g_assert_false(lane_on_rings(s.a.lane));
    traffic(&s, 600, 0);

    g_assert_cmpuint(p.a.octets, ==, s.a.octets);
    g_assert_cmpuint(p.a.digest, ==, s.a.digest);
    g_assert_cmpuint(p.b.digest, ==, s.b.digest);
    sa = lane_stats(p.a.lane);
    sb = lane_stats(p.b.lane);
    ta = lane_stats(s.a.lane);
    g_assert_cmpuint(sa->rx_frames, ==, ta->rx_frames);
    g_assert_cmpuint(sa->pcs.frames, ==, ta->pcs.frames);
    g_assert_cmpuint(sa->pcs.code_groups, ==, ta->pcs.code_groups);
    g_assert_cmpuint(sa->pcs.invalid_cgs + sa->pcs.disparity_errors, ==, 0);
    g_assert_cmpuint(sb->shm_offers, ==, 1);
    g_assert_cmpuint(sa->shm_offers, ==, 0);
    g_assert_cmpuint(sa->shm_up, ==, 1);
    g_assert_cmpuint(sb->shm_up, ==, 1);
    /* kicks only when the other end slept, far fewer than frames */
    g_assert_cmpuint(sa->shm_kicks + sb->shm_kicks, >, 0);
    g_assert_cmpuint(sa->shm_kicks + sb->shm_kicks, <, 600);
    assert_no_errors(p.a.lane);
    assert_no_errors(p.b.lane);
    pair_free(&p);
    pair_free(&s);
    g_assert_cmpuint(open_fds(), ==, fds0);
}

/* An end that does not take rings refuses: both stay on the stream. */
static void test_refuse(void)
{
    unsigned fds0 = open_fds();
    Pair p;

    pair_init(&p, LANE_SHM_OFF, LANE_SHM_OFFER);
    pump(&p, 0);
    g_assert_true(lane_is_link_up(p.a.lane));
    g_assert_false(lane_on_rings(p.a.lane));
    g_assert_false(lane_on_rings(p.b.lane));
    g_assert_null(lane_shm_ring(p.b.lane));     /* freed on the refusal */
    g_assert_cmpuint(lane_stats(p.a.lane)->shm_refused, ==, 1);
    g_assert_cmpuint(lane_stats(p.b.lane)->shm_refused, ==, 1);
    /* the fds it did not ask for are closed */
    g_assert_cmpuint(lane_stats(p.a.lane)->unasked_fds, ==, 3);
    traffic(&p, 100, 0);
    pair_free(&p);
    g_assert_cmpuint(open_fds(), ==, fds0);
}

/* Two offering ends refuse each other's offers. */
static void test_both_offer(void)
{
    unsigned fds0 = open_fds();
    Pair p;

    pair_init(&p, LANE_SHM_OFFER, LANE_SHM_OFFER);
    pump(&p, 0);
    g_assert_true(lane_is_link_up(p.a.lane));
    g_assert_false(lane_on_rings(p.a.lane));
    g_assert_cmpuint(lane_stats(p.a.lane)->shm_refused, ==, 2);
    traffic(&p, 50, 0);
    pair_free(&p);
    g_assert_cmpuint(open_fds(), ==, fds0);
}

/*
 * A peer from before the rings skips the RING record it does not know
 * (and its fds are lost in its read()): the lane stays on the stream.
 */
static void test_old_peer(void)
{
    unsigned fds0 = open_fds();
    Pair p;

    pair_init_relay(&p);
    pump(&p, 0);
    g_assert_cmpuint(p.relay->ring_records, ==, 1);
    g_assert_true(lane_is_link_up(p.a.lane));
    g_assert_true(lane_is_link_up(p.b.lane));
    g_assert_false(lane_on_rings(p.b.lane));
    traffic(&p, 100, 0);
    assert_no_errors(p.a.lane);
    assert_no_errors(p.b.lane);
    pair_free(&p);
    g_assert_cmpuint(open_fds(), ==, fds0);
}

/*
 * The attacher scribbles its consumer index (past the producer's): the
 * offering end's next write finds it, counts it and disconnects; the
 * client reconnects and negotiates the rings again.
 */
static void test_corrupt(void)
{
    unsigned fds0 = open_fds();
    int fds[LANE_RING_NFDS];
    LaneRingHeader *h;
    LaneRingCons *cons;
    struct stat st;
    uint8_t f[1514];
    uint8_t *shm;
    Pair p;

    pair_init(&p, LANE_SHM_ACCEPT, LANE_SHM_OFFER);
    pump(&p, 0);
    g_assert_true(lane_on_rings(p.b.lane));
    traffic(&p, 20, 0);
    lane_ring_peer_fds(lane_shm_ring(p.b.lane), fds);
    g_assert_cmpint(fstat(fds[LANE_RING_FD_MEM], &st), ==, 0);
    shm = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
               fds[LANE_RING_FD_MEM], 0);
    g_assert(shm != MAP_FAILED);
    h = (LaneRingHeader *)shm;
    cons = (LaneRingCons *)(shm + h->ring[0].cons_off);
    cons->cons += 100000;
    munmap(shm, st.st_size);

    make_frame(f, 100, 0);
    g_assert_cmpint(lane_send_frame(p.b.lane, f, 100, 0), ==, 0);
    pump(&p, 0);
    g_assert_cmpuint(lane_stats(p.b.lane)->shm_errors, ==, 1);
    g_assert_false(lane_is_connected(p.b.lane));
    g_assert_false(lane_is_connected(p.a.lane));
    g_assert_cmpuint(lane_stats(p.a.lane)->disconnects, ==, 1);

    pump(&p, 200 * MS);             /* the client's reconnect */
    g_assert_true(lane_is_link_up(p.a.lane));
    g_assert_true(lane_on_rings(p.a.lane));
    g_assert_cmpuint(lane_stats(p.b.lane)->shm_up, ==, 2);
    p.a.next_seq = p.b.tx_seq;      /* the frame lost with the rings */
    traffic(&p, 50, 200 * MS);
    g_assert_cmpuint(lane_stats(p.a.lane)->shm_errors, ==, 0);
    pair_free(&p);
    g_assert_cmpuint(open_fds(), ==, fds0);
}

/* SIGALRM: a lane call blocked.  Fail rather than hang the suite. */
static void blocked(int sig)
{
    static const char m[] = "a lane call blocked for 20 s\n";

    if (write(STDERR_FILENO, m, sizeof(m) - 1) < 0) {
        _exit(1);
    }
    abort();
}

/*
 * The offering end's side is hostile.  It made the accepting end's
 * wake-up sockets (SCM_RIGHTS passes the file descriptions) and may keep
 * copies, so it can fill the queue the accepting end kicks into and
 * clear O_NONBLOCK on both (here, on the accepting end's own fds: the
 * same file descriptions).  The accepting end must go on without
 * blocking, error or disconnect: a kick into a full queue is not needed
 * (the peer has wake-ups waiting), and no call depends on O_NONBLOCK.
 * With the eventfds of before, the flag cleared was a ring error and a
 * disconnect (and a peer quick enough between that check and the write
 * blocked the lane for good: /lane-ring/blocking-peer).
 */
static void test_blocking_peer(void)
{
    struct sigaction sa = { .sa_handler = blocked };
    static const uint8_t one = 1;
    unsigned fds0 = open_fds();
    int fds[LANE_RING_NFDS];
    unsigned sent = 0;
    Pair p;

    pair_init(&p, LANE_SHM_ACCEPT, LANE_SHM_OFFER);
    pump(&p, 0);
    g_assert_true(lane_on_rings(p.a.lane));
    lane_ring_peer_fds(lane_shm_ring(p.a.lane), fds);
    while (send(fds[LANE_RING_FD_WAKE_C], &one, 1,
                MSG_DONTWAIT | MSG_NOSIGNAL) == 1) {
        sent++;
    }
    g_assert_cmpuint(sent, >, 0);
    g_assert_cmpint(fcntl(fds[LANE_RING_FD_WAKE_A], F_SETFL, 0), ==, 0);
    g_assert_cmpint(fcntl(fds[LANE_RING_FD_WAKE_C], F_SETFL, 0), ==, 0);

    sigaction(SIGALRM, &sa, NULL);
    alarm(20);
    traffic(&p, 600, 0);
    alarm(0);
    g_assert_true(lane_on_rings(p.a.lane));
    g_assert_true(lane_on_rings(p.b.lane));
    g_assert_cmpuint(lane_stats(p.a.lane)->disconnects, ==, 0);
    g_assert_cmpuint(lane_stats(p.a.lane)->shm_kicks, >, 0);
    assert_no_errors(p.a.lane);
    assert_no_errors(p.b.lane);
    pair_free(&p);
    g_assert_cmpuint(open_fds(), ==, fds0);
}

/*
 * The peer shuts its wake-up end down (as closing it, or exiting, does):
 * the accepting end hangs up, counted in shm_hangups and not as an error,
 * instead of polling a socket that stays ready; the client reconnects on
 * rings.
 */
static void test_hang_up(void)
{
    unsigned fds0 = open_fds();
    Pair p;

    pair_init(&p, LANE_SHM_ACCEPT, LANE_SHM_OFFER);
    pump(&p, 0);
    g_assert_true(lane_on_rings(p.a.lane));
    traffic(&p, 20, 0);
    /* the wake-up socket the offering end kicks, shut down */
    g_assert_cmpint(shutdown(lane_ring_wait_fd(lane_shm_ring(p.a.lane)),
                             SHUT_RDWR), ==, 0);
    pump(&p, 0);
    g_assert_cmpuint(lane_stats(p.a.lane)->shm_hangups, ==, 1);
    g_assert_cmpuint(lane_stats(p.a.lane)->disconnects, ==, 1);
    g_assert_false(lane_is_connected(p.b.lane));

    pump(&p, 200 * MS);             /* the client's reconnect */
    g_assert_true(lane_is_link_up(p.a.lane));
    g_assert_true(lane_on_rings(p.a.lane));
    traffic(&p, 50, 200 * MS);
    g_assert_cmpuint(lane_stats(p.a.lane)->shm_hangups, ==, 1);
    assert_no_errors(p.a.lane);
    assert_no_errors(p.b.lane);
    pair_free(&p);
    g_assert_cmpuint(open_fds(), ==, fds0);
}

/*
 * The accepting end's process goes: the offering end, which made the
 * rings, keeps no copy of the other end's wake-up sockets once they were
 * accepted, so its own wake-up socket hangs up.  An end that polls that
 * socket alone (a blade's gate in virtual time, which blocks its main
 * loop and so its stream) sees its peer go: counted in shm_hangups, not
 * as an error, and disconnected.
 */
static void test_creator_sees_the_attacher_go(void)
{
    unsigned fds0 = open_fds();
    struct pollfd pfd;
    LaneRing *r;
    Pair p;

    pair_init(&p, LANE_SHM_ACCEPT, LANE_SHM_OFFER);
    pump(&p, 0);
    g_assert_true(lane_on_rings(p.b.lane));
    traffic(&p, 20, 0);
    r = lane_shm_ring(p.b.lane);
    g_assert_true(lane_ring_is_creator(r));
    g_assert_cmpuint(lane_ring_fds_held(r), ==, LANE_RING_NFDS);

    lane_free(p.a.lane);
    p.a.lane = NULL;
    pfd = (struct pollfd) { .fd = lane_ring_wait_fd(r), .events = POLLIN };
    g_assert_cmpint(poll(&pfd, 1, 0), ==, 1);
    lane_handle_io(p.b.lane, pfd.fd, pfd.revents, 0);
    g_assert_cmpuint(lane_stats(p.b.lane)->shm_hangups, ==, 1);
    g_assert_cmpuint(lane_stats(p.b.lane)->shm_errors, ==, 0);
    g_assert_false(lane_is_connected(p.b.lane));
    pair_free(&p);
    g_assert_cmpuint(open_fds(), ==, fds0);
}

/* Back-pressure leaves records in the ring; resuming delivers them all. */
static bool refuse_rx;

static bool can_rx(void *opaque)
{
    return !refuse_rx;
}

static void test_back_pressure(void)
{
    static const LaneOps bp_ops = { .rx_frame = on_frame,
                                    .can_receive = can_rx };
    uint8_t f[1514];
    unsigned sent = 0;
    Pair p;

    pair_init_ops(&p, LANE_SHM_ACCEPT, LANE_SHM_OFFER, &bp_ops);
    pump(&p, 200 * MS);
    g_assert_true(lane_on_rings(p.a.lane));
    refuse_rx = true;
    while (sent < 100000) {
        make_frame(f, sizeof(f), sent);
        if (lane_send_frame(p.b.lane, f, sizeof(f), 200 * MS) < 0) {
            pump(&p, 200 * MS);
            make_frame(f, sizeof(f), sent);
            if (lane_send_frame(p.b.lane, f, sizeof(f), 200 * MS) < 0) {
                break;
            }
        }
        sent++;
    }
    g_assert_cmpuint(sent, <, 100000);
    g_assert_cmpuint(sent, >, 100);     /* the ring held the rest */
    g_assert_cmpuint(p.a.frames, ==, 0);
    refuse_rx = false;
    lane_rx_resume(p.a.lane, 200 * MS);
    pump(&p, 200 * MS);
    g_assert_cmpuint(p.a.frames, ==, sent);
    g_assert_cmpuint(p.a.out_of_order, ==, 0);
    pair_free(&p);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/lane-shm/offer-accept", test_offer_accept);
    g_test_add_func("/lane-shm/refuse", test_refuse);
    g_test_add_func("/lane-shm/both-offer", test_both_offer);
    g_test_add_func("/lane-shm/old-peer", test_old_peer);
    g_test_add_func("/lane-shm/corrupt", test_corrupt);
    g_test_add_func("/lane-shm/back-pressure", test_back_pressure);
    g_test_add_func("/lane-shm/blocking-peer", test_blocking_peer);
    g_test_add_func("/lane-shm/hang-up", test_hang_up);
    g_test_add_func("/lane-shm/creator-sees-the-attacher-go",
                    test_creator_sees_the_attacher_go);
    return g_test_run();
}
