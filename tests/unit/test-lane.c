/*
 * Lane transport: link start-up, frames both ways in both pcs modes,
 * reconnect, back-pressure, pacing, utilization, error injection,
 * hostile input, a clock that jumps, and a lane freed by its own
 * callbacks.  Driven with poll() and a fake clock; no sleeping.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fcs.h"
#include "lane-pump.h"
#include "lane-transport.h"

#define MS 1000000ULL

/* lane_free() from inside a callback, as a device unplugged there */
typedef enum FreeIn {
    FREE_NEVER, FREE_IN_FRAME, FREE_IN_UTIL, FREE_IN_LINK_UP
} FreeIn;

typedef struct End {
    Lane *lane;
    const char *name;
    unsigned frames;
    uint32_t next_seq;      /* frames carry a sequence number */
    unsigned out_of_order;
    bool last_fcs_ok;       /* lane_rx_fcs() in the last rx_frame() */
    uint32_t last_fcs;
    size_t last_len;
    uint8_t last[ETH_MAX_FRAME];
    bool accept;
    unsigned tx_ready;
    unsigned utils;
    LaneUtil util;
    /* if set: the sample sent with each sequence number, to check */
    const LaneUtil *expect;
    unsigned util_mismatches;
    unsigned ev[LANE_EV_LINK_DOWN + 1];
    unsigned io_changes;
    FreeIn free_in;
    unsigned callbacks_after_free;
} End;

/* The callback frees its own lane if the test says so. */
static void maybe_free(End *e, FreeIn where)
{
    if (!e->lane) {
        e->callbacks_after_free++;
    } else if (e->free_in == where) {
        lane_free(e->lane);
        e->lane = NULL;
    }
}

static void on_frame(void *opaque, const uint8_t *f, size_t len)
{
    End *e = opaque;
    uint32_t seq;

    g_assert_cmpuint(len, >=, 60);
    memcpy(&seq, f + 14, 4);
    if (seq != e->next_seq) {
        e->out_of_order++;
    }
    e->next_seq = seq + 1;
    e->frames++;
    e->last_fcs_ok = e->lane && lane_rx_fcs(e->lane, &e->last_fcs);
    e->last_len = len;
    memcpy(e->last, f, len);
    maybe_free(e, FREE_IN_FRAME);
}

static bool on_can_receive(void *opaque)
{
    End *e = opaque;

    return e->accept;
}

static void on_util(void *opaque, const LaneUtil *u)
{
    End *e = opaque;

    e->utils++;
    e->util = *u;
    if (e->expect) {
        const LaneUtil *w = &e->expect[u->seq];

        if (u->cpu_pct != w->cpu_pct || u->irq_pct != w->irq_pct ||
            u->has_contention != w->has_contention ||
            u->psi_permille != w->psi_permille ||
            u->runnable != w->runnable) {
            e->util_mismatches++;
        }
    }
    maybe_free(e, FREE_IN_UTIL);
}

static void on_event(void *opaque, LaneEvent ev)
{
    End *e = opaque;

    e->ev[ev]++;
    if (ev == LANE_EV_LINK_UP) {
        maybe_free(e, FREE_IN_LINK_UP);
    }
}

static void on_tx_ready(void *opaque)
{
    End *e = opaque;

    e->tx_ready++;
    if (!e->lane) {
        e->callbacks_after_free++;
    }
}

static void on_io_changed(void *opaque)
{
    End *e = opaque;

    e->io_changes++;
    if (!e->lane) {
        e->callbacks_after_free++;
    }
}

static const LaneOps ops = {
    .rx_frame = on_frame, .can_receive = on_can_receive,
    .rx_util = on_util, .event = on_event, .tx_ready = on_tx_ready,
    .io_changed = on_io_changed,
};

/* Run both ends until nothing is left to do at time @now. */
static void pump(End *a, End *b, uint64_t now)
{
    for (int iter = 0; iter < 10000; iter++) {
        Lane *lanes[2] = { a ? a->lane : NULL, b ? b->lane : NULL };

        if (!lane_pump_round(lanes, 2, now)) {
            return;
        }
    }
    g_assert_not_reached();
}

static void make_frame(uint8_t *f, size_t len, uint32_t seq)
{
    memset(f, 0, len);
    memset(f, 0xff, 6);                 /* broadcast */
    f[6] = 0x02;                        /* locally administered source */
    f[12] = 0x88;
    f[13] = 0xb5;                       /* local experimental EtherType */
    memcpy(f + 14, &seq, 4);
    for (size_t i = 18; i < len; i++) {
        f[i] = (uint8_t)(i + seq);
    }
}

typedef struct Pair {
    char *dir, *path;
    End a, b;                           /* a: server (switch), b: NIC */
} Pair;

static void pair_init_fifo(Pair *p, LanePcs pcs_a, LanePcs pcs_b,
                           uint32_t speed, PcsUtilForm form,
                           uint64_t tx_fifo_ns)
{
    LaneConfig ca, cb;
    int err = 0;

    memset(p, 0, sizeof(*p));
    p->dir = g_dir_make_tmp("lane-XXXXXX", NULL);
    g_assert_nonnull(p->dir);
    p->path = g_build_filename(p->dir, "slot1", NULL);
    p->a.name = "switch";
    p->b.name = "nic";
    p->a.accept = p->b.accept = true;
    lane_config_init(&ca, LANE_ROLE_SERVER, p->path);
    ca.pcs = pcs_a;
    ca.speed_mbps = speed;
    lane_config_init(&cb, LANE_ROLE_CLIENT, p->path);
    cb.pcs = pcs_b;
    cb.speed_mbps = speed;
    ca.util_form = cb.util_form = form;
    ca.tx_fifo_ns = cb.tx_fifo_ns = tx_fifo_ns;
    p->a.lane = lane_new(&ca, &ops, &p->a, 0, &err);
    g_assert_cmpint(err, ==, 0);
    p->b.lane = lane_new(&cb, &ops, &p->b, 0, &err);
    g_assert_cmpint(err, ==, 0);
}

static void pair_init_form(Pair *p, LanePcs pcs_a, LanePcs pcs_b,
                           uint32_t speed, PcsUtilForm form)
{
    pair_init_fifo(p, pcs_a, pcs_b, speed, form, 0);
}

static void pair_init(Pair *p, LanePcs pcs_a, LanePcs pcs_b, uint32_t speed)
{
    pair_init_form(p, pcs_a, pcs_b, speed, PCS_UTIL_FORM_IDLE);
}

static void pair_free(Pair *p)
{
    lane_free(p->a.lane);
    lane_free(p->b.lane);
    g_rmdir(p->dir);
    g_free(p->path);
    g_free(p->dir);
}

static void exchange(Pair *p, unsigned count, size_t len, uint64_t now)
{
    uint8_t f[1514];
    unsigned base_a = p->a.frames, base_b = p->b.frames;
    uint32_t seq_a = p->a.next_seq, seq_b = p->b.next_seq;

    for (unsigned i = 0; i < count; i++) {
        make_frame(f, len, seq_b + i);
        g_assert_cmpint(lane_send_frame(p->a.lane, f, len, now), ==, 0);
        make_frame(f, len, seq_a + i);
        g_assert_cmpint(lane_send_frame(p->b.lane, f, len, now), ==, 0);
        pump(&p->a, &p->b, now);
    }
    g_assert_cmpuint(p->a.frames - base_a, ==, count);
    g_assert_cmpuint(p->b.frames - base_b, ==, count);
    g_assert_cmpuint(p->a.out_of_order + p->b.out_of_order, ==, 0);
    make_frame(f, len, p->a.next_seq - 1);
    g_assert_cmpmem(p->a.last, len, f, len);
}

static void test_link_up_and_frames(gconstpointer data)
{
    unsigned modes = GPOINTER_TO_UINT(data);
    Pair p;

    pair_init(&p, modes & 1, (modes >> 1) & 1, 0);
    g_assert_true(lane_is_connected(p.b.lane));
    g_assert_false(lane_is_link_up(p.b.lane));
    pump(&p.a, &p.b, 0);
    g_assert_true(lane_is_link_up(p.a.lane));
    g_assert_true(lane_is_link_up(p.b.lane));
    g_assert_cmpuint(p.a.ev[LANE_EV_CONNECTED], ==, 1);
    g_assert_cmpuint(p.b.ev[LANE_EV_SYNC_ACQUIRED], ==, 1);
    g_assert_cmpuint(p.a.ev[LANE_EV_LINK_UP], ==, 1);
    g_assert_cmpuint(p.b.ev[LANE_EV_LINK_UP], ==, 1);
    exchange(&p, 50, 60, 0);
    exchange(&p, 20, 1514, 0);
    exchange(&p, 5, 61, 0);
    g_assert_cmpuint(lane_stats(p.a.lane)->pcs.fcs_errors, ==, 0);
    g_assert_cmpuint(lane_stats(p.b.lane)->bad_records, ==, 0);
    pair_free(&p);
}

/* The FCS of @f padded to 60 octets, as a frame of @len goes out. */
static uint32_t padded_fcs(const uint8_t *f, size_t len)
{
    uint8_t buf[1514] = { 0 };

    memcpy(buf, f, len);
    return eth_crc32(0, buf, len < 60 ? 60 : len);
}

/*
 * A frame sent with the FCS its sender already has (a switch forwarding
 * it unchanged) goes out with that FCS: the receiver gets the frame and
 * lane_rx_fcs() gives the same FCS, whatever the length (padded or
 * not); and it is really the one given, not one computed again, where
 * the lane only copies it (raw frames, data runs): a wrong one arrives
 * as an FCS error.
 */
static void test_send_fcs(gconstpointer data)
{
    static const size_t lens[] = { 20, 59, 60, 61, 100, 1000, 1514 };
    LanePcs pcs = GPOINTER_TO_UINT(data);
    uint8_t f[1514];
    uint32_t fcs;
    Pair p;

    pair_init(&p, pcs, pcs, 0);
    pump(&p.a, &p.b, 0);
    g_assert_true(lane_is_link_up(p.a.lane));
    g_assert_false(lane_rx_fcs(p.b.lane, &fcs));
    for (size_t i = 0; i < G_N_ELEMENTS(lens); i++) {
        unsigned frames = p.b.frames;

        make_frame(f, lens[i], p.b.next_seq);
        g_assert_cmpint(lane_send_frame_fcs(p.a.lane, f, lens[i],
                                            padded_fcs(f, lens[i]), 0),
                        ==, 0);
        pump(&p.a, &p.b, 0);
        g_assert_cmpuint(p.b.frames, ==, frames + 1);
        g_assert_true(p.b.last_fcs_ok);
        g_assert_cmphex(p.b.last_fcs, ==, padded_fcs(f, lens[i]));
        g_assert_cmpmem(p.b.last, lens[i], f, lens[i]);
        /* the same frame as lane_send_frame() sends it: the same FCS */
        make_frame(f, lens[i], p.b.next_seq);
        g_assert_cmpint(lane_send_frame(p.a.lane, f, lens[i], 0), ==, 0);
        pump(&p.a, &p.b, 0);
        g_assert_cmpuint(p.b.frames, ==, frames + 2);
        g_assert_cmphex(p.b.last_fcs, ==, padded_fcs(f, lens[i]));
    }
    g_assert_false(lane_rx_fcs(p.b.lane, &fcs));
    g_assert_cmpuint(lane_stats(p.b.lane)->pcs.fcs_errors, ==, 0);
    make_frame(f, 100, p.b.next_seq);
    g_assert_cmpint(lane_send_frame_fcs(p.a.lane, f, 100,
                                        padded_fcs(f, 100) ^ 1, 0), ==, 0);
    pump(&p.a, &p.b, 0);
    g_assert_cmpuint(lane_stats(p.b.lane)->pcs.fcs_errors, ==, 1);
    pair_free(&p);
}

/* The NIC starts before the chassis, and the chassis restarts. */
static void test_reconnect(void)
{
    char *dir = g_dir_make_tmp("lane-XXXXXX", NULL);
    char *path = g_build_filename(dir, "slot3", NULL);
    LaneConfig ca, cb;
    End a = { .accept = true }, b = { .accept = true };
    uint64_t now = 0;
    int err = 0;

    lane_config_init(&cb, LANE_ROLE_CLIENT, path);
    lane_config_init(&ca, LANE_ROLE_SERVER, path);
    b.lane = lane_new(&cb, &ops, &b, now, &err);
    g_assert_nonnull(b.lane);
    g_assert_false(lane_is_connected(b.lane));
    g_assert_cmpuint(lane_deadline(b.lane), ==, 100 * MS);
    pump(NULL, &b, now);
    g_assert_cmpuint(lane_stats(b.lane)->connect_failures, ==, 1);

    now = 100 * MS;
    pump(NULL, &b, now);    /* still absent: retried, link down, no error */
    g_assert_cmpuint(lane_stats(b.lane)->connect_failures, ==, 2);
    g_assert_cmpuint(b.ev[LANE_EV_DISCONNECTED], ==, 0);

    a.lane = lane_new(&ca, &ops, &a, now, &err);
    g_assert_nonnull(a.lane);
    pump(&a, &b, now + 1);  /* not yet due */
    g_assert_false(lane_is_connected(b.lane));
    now = 200 * MS;
    pump(&a, &b, now);
    g_assert_true(lane_is_link_up(b.lane));
    g_assert_true(lane_is_link_up(a.lane));

    /* chassis restart */
    lane_free(a.lane);
    a.lane = NULL;
    pump(&a, &b, now);
    g_assert_false(lane_is_connected(b.lane));
    g_assert_cmpuint(b.ev[LANE_EV_DISCONNECTED], ==, 1);
    g_assert_cmpuint(b.ev[LANE_EV_LINK_DOWN], ==, 1);
    g_assert_cmpint(lane_send_frame(b.lane, (const uint8_t *)"x", 1, now),
                    ==, -ENOLINK);
    a.lane = lane_new(&ca, &ops, &a, now, &err);
    now += 100 * MS;
    pump(&a, &b, now);
    g_assert_true(lane_is_link_up(b.lane));
    g_assert_cmpuint(b.ev[LANE_EV_LINK_UP], ==, 2);
    g_assert_cmpuint(lane_stats(b.lane)->connects, ==, 2);

    /* a second NIC on the same slot is turned away */
    {
        End c = { .accept = true };

        c.lane = lane_new(&cb, &ops, &c, now, &err);
        pump(&a, &c, now);
        g_assert_cmpuint(lane_stats(a.lane)->rejected_peers, ==, 1);
        g_assert_true(lane_is_link_up(b.lane));
        lane_free(c.lane);
    }
    lane_free(a.lane);
    lane_free(b.lane);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

/*
 * The receiver stops accepting: the sender's queue and the socket fill,
 * lane_send_frame() says -EAGAIN after a bounded number of frames, and
 * when the receiver resumes, tx_ready fires and every frame arrives.
 */
static void test_back_pressure(gconstpointer data)
{
    LanePcs pcs = GPOINTER_TO_UINT(data);
    uint8_t f[1514];
    unsigned sent = 0, ready;
    Pair p;
    int r;

    pair_init(&p, pcs, pcs, 0);
    pump(&p.a, &p.b, 0);
    g_assert_true(lane_is_link_up(p.a.lane));
    p.b.accept = false;
    for (;;) {
        make_frame(f, sizeof(f), sent);
        r = lane_send_frame(p.a.lane, f, sizeof(f), 0);
        if (r == -EAGAIN) {
            pump(&p.a, &p.b, 0);
            make_frame(f, sizeof(f), sent);
            r = lane_send_frame(p.a.lane, f, sizeof(f), 0);
            if (r == -EAGAIN) {
                break;
            }
        }
        g_assert_cmpint(r, ==, 0);
        sent++;
        g_assert_cmpuint(sent, <, 100000);
    }
    ready = p.a.tx_ready;
    g_test_message("%u frames accepted before back-pressure", sent);
    g_assert_cmpuint(p.b.frames, ==, 0);
    pump(&p.a, &p.b, 0);
    g_assert_cmpuint(p.b.frames, ==, 0);
    g_assert_cmpuint(p.a.tx_ready, ==, ready);

    p.b.accept = true;
    lane_rx_resume(p.b.lane, 0);
    pump(&p.a, &p.b, 0);
    g_assert_cmpuint(p.a.tx_ready, ==, ready + 1);
    g_assert_cmpuint(p.b.frames, ==, sent);
    g_assert_cmpuint(p.b.out_of_order, ==, 0);
    g_assert_cmpuint(lane_stats(p.a.lane)->tx_eagain, >=, 1);
    /* no pacing here: every wait was for room */
    g_assert_cmpuint(lane_stats(p.a.lane)->tx_queue_full, ==,
                     lane_stats(p.a.lane)->tx_eagain);
    pair_free(&p);
}

/*
 * A paced lane whose peer stops reading: once the queue, not pacing, is
 * what holds the sender back, its deadline must not stay in the past.  A
 * caller's timer would fire again and again without progress (QEMU's main
 * loop spun on it); pump() fails on such a busy loop.
 */
static void test_back_pressure_paced(void)
{
    uint8_t f[1514];
    uint64_t now = 0;
    unsigned sent = 0;
    Pair p;
    int r;

    pair_init(&p, LANE_PCS_8B10B, LANE_PCS_8B10B, 1000);
    pump(&p.a, &p.b, 0);
    g_assert_true(lane_is_link_up(p.a.lane));
    p.b.accept = false;
    for (;;) {
        make_frame(f, sizeof(f), sent);
        r = lane_send_frame(p.a.lane, f, sizeof(f), now);
        if (r == -EAGAIN) {
            /* 1 ms later pacing alone would take many more frames. */
            now += 1000000;
            pump(&p.a, &p.b, now);
            r = lane_send_frame(p.a.lane, f, sizeof(f), now);
            if (r == -EAGAIN) {
                break;
            }
        }
        g_assert_cmpint(r, ==, 0);
        sent++;
        g_assert_cmpuint(sent, <, 100000);
    }
    g_assert_cmpuint(lane_deadline(p.a.lane), >, now);
    now += 1000000;
    pump(&p.a, &p.b, now);

    p.b.accept = true;
    lane_rx_resume(p.b.lane, now);
    pump(&p.a, &p.b, now);
    g_assert_cmpuint(p.b.frames, ==, sent);
    g_assert_cmpuint(p.b.out_of_order, ==, 0);
    pair_free(&p);
}

/*
 * 1518-octet frames (1514 + FCS) at 1000 Mb/s take 12.304 us each with
 * preamble and IPG; the lane accepts them at that rate of the caller's
 * clock, plus a 20 us burst allowance.
 */
static void test_pacing(void)
{
    uint8_t f[1514];
    uint64_t now = 0;
    unsigned sent = 0, eagain = 0;
    Pair p;

    pair_init(&p, LANE_PCS_8B10B, LANE_PCS_8B10B, 1000);
    pump(&p.a, &p.b, 0);
    make_frame(f, sizeof(f), 0);
    g_assert_cmpint(lane_send_frame(p.a.lane, f, sizeof(f), 0), ==, 0);
    make_frame(f, sizeof(f), 1);
    g_assert_cmpint(lane_send_frame(p.a.lane, f, sizeof(f), 0), ==, 0);
    g_assert_cmpint(lane_send_frame(p.a.lane, f, sizeof(f), 0), ==,
                    -EAGAIN);
    g_assert_cmpuint(lane_deadline(p.a.lane), ==, 2 * 12304 - 20000);
    sent = 2;
    while (now < 1000000) {
        now = lane_deadline(p.a.lane);
        pump(&p.a, &p.b, now);
        g_assert_cmpuint(p.a.tx_ready, ==, eagain + 1);
        eagain++;
        for (;;) {
            make_frame(f, sizeof(f), sent);
            if (lane_send_frame(p.a.lane, f, sizeof(f), now) != 0) {
                break;
            }
            sent++;
        }
    }
    /* 1 ms of line time holds 81.3 such frames */
    g_assert_cmpuint(sent, >=, 81);
    g_assert_cmpuint(sent, <=, 84);
    pump(&p.a, &p.b, now);
    g_assert_cmpuint(p.b.frames, ==, sent);
    /* pacing held every frame back, never a full queue */
    g_assert_cmpuint(lane_stats(p.a.lane)->tx_eagain, >=, eagain);
    g_assert_cmpuint(lane_stats(p.a.lane)->tx_queue_full, ==, 0);
    pair_free(&p);
}

/*
 * 1514-octet frames from a to b at @now, numbered from *@sent on, until
 * the lane holds one back; returns how many it took.
 */
static unsigned send_until_held(Pair *p, uint64_t now, unsigned *sent)
{
    uint8_t f[1514];
    unsigned n = 0;

    for (;;) {
        make_frame(f, sizeof(f), *sent);
        if (lane_send_frame(p->a.lane, f, sizeof(f), now) != 0) {
            return n;
        }
        (*sent)++;
        n++;
    }
}

/*
 * A transmitter with a FIFO (tx_fifo_ns: a NIC's transmit packet buffer)
 * runs that far ahead of its line.  Once held, it is let go when half the
 * FIFO has drained, and sends half a FIFO's worth of frames at each
 * wake-up; over time the line still carries no more than its rate.  A
 * wake-up that comes after the line ran dry is counted, with the time
 * lost.
 */
static void test_pacing_fifo(void)
{
    const uint64_t fifo_ns = 327680;    /* 40 KiB at 1000 Mb/s */
    const uint64_t frame_ns = 12304;    /* 1518 octets + preamble + IPG */
    uint8_t f[1514];
    uint64_t now = 0, wakeups = 0;
    unsigned sent = 0, burst;
    Pair p;

    pair_init_fifo(&p, LANE_PCS_8B10B, LANE_PCS_8B10B, 1000,
                   PCS_UTIL_FORM_IDLE, fifo_ns);
    pump(&p.a, &p.b, 0);
    g_assert_true(lane_is_link_up(p.a.lane));
    /* at 0, frames until the line is busy for longer than the FIFO */
    g_assert_cmpuint(send_until_held(&p, now, &sent), ==,
                     fifo_ns / frame_ns + 1);
    g_assert_false(lane_tx_held_for_room(p.a.lane));    /* pacing's hold */
    pump(&p.a, &p.b, now);
    /* held: let go once the line is within half the FIFO */
    g_assert_cmpuint(lane_deadline(p.a.lane), ==,
                     sent * frame_ns - fifo_ns / 2);
    /* a try before then, as a doorbell would make, is still held */
    now = lane_deadline(p.a.lane) - 1;
    make_frame(f, sizeof(f), sent);
    g_assert_cmpint(lane_send_frame(p.a.lane, f, sizeof(f), now), ==,
                    -EAGAIN);
    g_assert_cmpuint(p.a.tx_ready, ==, 0);
    while (now < 10000000) {
        now = lane_deadline(p.a.lane);
        pump(&p.a, &p.b, now);
        g_assert_cmpuint(p.a.tx_ready, ==, wakeups + 1);
        wakeups++;
        burst = send_until_held(&p, now, &sent);
        /* half a FIFO a wake-up, give or take the frame at either end */
        g_assert_cmpuint(burst, >=, fifo_ns / 2 / frame_ns);
        g_assert_cmpuint(burst, <=, fifo_ns / 2 / frame_ns + 1);
    }
    /* 10 ms of line time, plus the FIFO the sender may be ahead by */
    g_assert_cmpuint(sent, >=, (now + fifo_ns / 2) / frame_ns);
    g_assert_cmpuint(sent, <=, (now + fifo_ns) / frame_ns + 1);
    g_assert_cmpuint(lane_stats(p.a.lane)->tx_fifo_late, ==, 0);

    /*
     * The caller's timer comes 100 us after the line ran dry: counted,
     * with the line time lost; the sender gets a FIFO, no more.
     */
    now = lane_deadline(p.a.lane) + fifo_ns / 2 + 100000;
    pump(&p.a, &p.b, now);
    g_assert_cmpuint(lane_stats(p.a.lane)->tx_fifo_late, ==, 1);
    g_assert_cmpuint(lane_stats(p.a.lane)->tx_fifo_late_ns, ==, 100000);
    burst = send_until_held(&p, now, &sent);
    g_assert_cmpuint(burst, ==, fifo_ns / frame_ns + 1);
    pump(&p.a, &p.b, now);
    g_assert_cmpuint(p.b.frames, ==, sent);
    g_assert_cmpuint(p.b.out_of_order, ==, 0);
    g_assert_cmpuint(lane_stats(p.a.lane)->tx_queue_full, ==, 0);
    pair_free(&p);
}

/*
 * A FIFO lane whose peer stops reading: the queue, not pacing, holds the
 * sender, and the line running dry meanwhile is the peer's doing, not a
 * late timer's: tx_fifo_late stays 0.
 */
static void test_pacing_fifo_back_pressure(void)
{
    uint64_t now = 0;
    unsigned sent = 0;
    Pair p;

    pair_init_fifo(&p, LANE_PCS_8B10B, LANE_PCS_8B10B, 1000,
                   PCS_UTIL_FORM_IDLE, 327680);
    pump(&p.a, &p.b, 0);
    p.b.accept = false;
    /* the sender's timer on time, until the queue holds it */
    send_until_held(&p, now, &sent);
    while (!lane_stats(p.a.lane)->tx_queue_full) {
        now = lane_deadline(p.a.lane);
        pump(&p.a, &p.b, now);
        send_until_held(&p, now, &sent);
        g_assert_cmpuint(sent, <, 100000);
    }
    g_assert_true(lane_tx_held_for_room(p.a.lane));
    now += 1000000;
    pump(&p.a, &p.b, now);
    p.b.accept = true;
    lane_rx_resume(p.b.lane, now);
    pump(&p.a, &p.b, now);
    g_assert_cmpuint(p.a.tx_ready, >=, 1);
    g_assert_false(lane_tx_held_for_room(p.a.lane));
    g_assert_cmpuint(p.b.frames, ==, sent);
    g_assert_cmpuint(lane_stats(p.a.lane)->tx_fifo_late, ==, 0);
    pair_free(&p);
}

static void test_utilization(gconstpointer data)
{
    LanePcs pcs = GPOINTER_TO_UINT(data) & 1;
    PcsUtilForm form = GPOINTER_TO_UINT(data) >> 1;
    uint8_t f[100];
    LaneUtil u;
    uint64_t age;
    unsigned seq;
    Pair p;

    pair_init_form(&p, pcs, pcs, 0, form);
    g_assert_false(lane_peer_util(p.a.lane, &u, &age, 0));
    lane_set_util(p.b.lane, 37, 5, 0);
    pump(&p.a, &p.b, 0);     /* link up: utilization at once */
    g_assert_cmpuint(p.a.utils, ==, 1);
    g_assert_cmpuint(p.a.util.cpu_pct, ==, 37);
    g_assert_cmpuint(p.a.util.irq_pct, ==, 5);
    g_assert_true(p.a.util.fresh);

    /* after a frame, in its gap */
    lane_set_util(p.b.lane, 80, 12, 1000);
    make_frame(f, sizeof(f), 0);
    g_assert_cmpint(lane_send_frame(p.b.lane, f, sizeof(f), 1000), ==, 0);
    pump(&p.a, &p.b, 1000);
    g_assert_cmpuint(p.a.frames, ==, 1);
    g_assert_cmpuint(p.a.utils, ==, 2);
    g_assert_cmpuint(p.a.util.cpu_pct, ==, 80);
    g_assert_true(p.a.util.fresh);
    g_assert_cmpint(p.a.util.form, ==, form);
    g_assert_true(lane_peer_util(p.a.lane, &u, &age, 5000));
    g_assert_cmpuint(age, ==, 4000);
    g_assert_cmpuint(u.irq_pct, ==, 12);

    /* a frame with nothing new for the receiver goes without a set */
    g_assert_cmpint(lane_send_frame(p.b.lane, f, sizeof(f), 2000), ==, 0);
    pump(&p.a, &p.b, 2000);
    g_assert_cmpuint(p.a.frames, ==, 2);
    g_assert_cmpuint(p.a.utils, ==, 2);
    /* a new sample goes with the next frame */
    lane_set_util(p.b.lane, 81, 12, 3000);
    g_assert_cmpint(lane_send_frame(p.b.lane, f, sizeof(f), 3000), ==, 0);
    pump(&p.a, &p.b, 3000);
    g_assert_cmpuint(p.a.frames, ==, 3);
    g_assert_cmpuint(p.a.utils, ==, 3);
    g_assert_cmpuint(p.a.util.cpu_pct, ==, 81);
    g_assert_true(p.a.util.fresh);
    seq = p.a.util.seq;

    /* quiet link: repeated every util-interval, not fresh */
    pump(&p.a, &p.b, 100 * MS);
    g_assert_cmpuint(p.a.utils, ==, 3);
    pump(&p.a, &p.b, 100 * MS + 3000);
    g_assert_cmpuint(p.a.utils, ==, 4);
    g_assert_false(p.a.util.fresh);
    g_assert_cmpuint(p.a.util.seq, ==, seq);
    g_assert_true(lane_peer_util(p.a.lane, &u, &age, 150 * MS));
    g_assert_cmpuint(age, ==, 50 * MS - 3000);

    /*
     * Busy link, same sample: frames go alone until the last set is an
     * interval old; then the next frame carries it (not fresh) and the
     * interval restarts from there, so the age stays within an interval.
     */
    g_assert_cmpint(lane_send_frame(p.b.lane, f, sizeof(f), 150 * MS), ==,
                    0);
    pump(&p.a, &p.b, 150 * MS);
    g_assert_cmpuint(p.a.frames, ==, 4);
    g_assert_cmpuint(p.a.utils, ==, 4);
    g_assert_cmpint(lane_send_frame(p.b.lane, f, sizeof(f),
                                    200 * MS + 3000), ==, 0);
    g_assert_cmpuint(lane_deadline(p.b.lane), ==, 300 * MS + 3000);
    pump(&p.a, &p.b, 200 * MS + 3000);
    g_assert_cmpuint(p.a.frames, ==, 5);
    g_assert_cmpuint(p.a.utils, ==, 5);
    g_assert_false(p.a.util.fresh);
    g_assert_cmpuint(p.a.util.cpu_pct, ==, 81);
    g_assert_true(lane_peer_util(p.a.lane, &u, &age, 200 * MS + 4000));
    g_assert_cmpuint(age, ==, 1000);
    g_assert_cmpuint(lane_stats(p.b.lane)->tx_util_sets, ==, 5);
    g_assert_cmpuint(lane_stats(p.a.lane)->rx_util_sets, ==, 5);
    g_assert_cmpuint(lane_stats(p.a.lane)->pcs.util_errors, ==, 0);
    pair_free(&p);
}

/*
 * Contention figures ride with the sample that carries them, in every pcs
 * mode and form; a sample set without them goes without them.
 */
static void test_util_contention(gconstpointer data)
{
    LanePcs pcs = GPOINTER_TO_UINT(data) & 1;
    PcsUtilForm form = GPOINTER_TO_UINT(data) >> 1;
    static uint8_t f[ETH_MAX_FRAME - 4];   /* the largest, without FCS */
    Pair p;

    pair_init_form(&p, pcs, pcs, 0, form);
    lane_set_util_contention(p.b.lane, 37, 5, 420, 17, 0);
    pump(&p.a, &p.b, 0);
    g_assert_cmpuint(p.a.utils, ==, 1);
    g_assert_cmpuint(p.a.util.cpu_pct, ==, 37);
    g_assert_cmpuint(p.a.util.irq_pct, ==, 5);
    g_assert_true(p.a.util.has_contention);
    g_assert_cmpuint(p.a.util.psi_permille, ==, 420);
    g_assert_cmpuint(p.a.util.runnable, ==, 17);
    g_assert_true(p.a.util.fresh);

    /* in a frame's gap; figures out of range go as the largest */
    lane_set_util_contention(p.b.lane, 150, 3, 5000, 70000, 1000);
    make_frame(f, 100, 0);
    g_assert_cmpint(lane_send_frame(p.b.lane, f, 100, 1000), ==, 0);
    pump(&p.a, &p.b, 1000);
    g_assert_cmpuint(p.a.frames, ==, 1);
    g_assert_cmpuint(p.a.utils, ==, 2);
    g_assert_cmpuint(p.a.util.cpu_pct, ==, 100);
    g_assert_true(p.a.util.has_contention);
    g_assert_cmpuint(p.a.util.psi_permille, ==, 1000);
    g_assert_cmpuint(p.a.util.runnable, ==, 1023);

    /* a sample without them: the receiver sees none */
    lane_set_util(p.b.lane, 20, 1, 2000);
    g_assert_cmpint(lane_send_frame(p.b.lane, f, 100, 2000), ==, 0);
    pump(&p.a, &p.b, 2000);
    g_assert_cmpuint(p.a.utils, ==, 3);
    g_assert_cmpuint(p.a.util.cpu_pct, ==, 20);
    g_assert_false(p.a.util.has_contention);
    g_assert_cmpuint(p.a.util.psi_permille, ==, 0);
    g_assert_cmpuint(p.a.util.runnable, ==, 0);

    /*
     * the largest frame with the contention form: the set goes in a burst
     * of its own, so no record is longer than LANE_MAX_BURST_CGS
     */
    lane_set_util_contention(p.b.lane, 50, 2, 999, 1, 3000);
    make_frame(f, sizeof(f), 1);
    g_assert_cmpint(lane_send_frame(p.b.lane, f, sizeof(f), 3000), ==, 0);
    pump(&p.a, &p.b, 3000);
    g_assert_cmpuint(p.a.frames, ==, 3);
    g_assert_cmpuint(p.a.last_len, ==, sizeof(f));
    g_assert_cmpuint(p.a.utils, ==, 4);
    g_assert_cmpuint(p.a.util.psi_permille, ==, 999);
    g_assert_cmpuint(lane_stats(p.a.lane)->bad_records, ==, 0);
    g_assert_cmpuint(lane_stats(p.a.lane)->pcs.util_errors, ==, 0);
    g_assert_cmpuint(lane_stats(p.b.lane)->tx_util_sets, ==, 4);
    pair_free(&p);
}

/*
 * A sender that keeps a paced lane saturated: @count frames of @len
 * octets, queued until pacing holds them back and again at each deadline,
 * then more at the last instant until pacing holds them back.  With
 * @every, a new sample with contention figures before every @every-th
 * frame.  Returns the frames sent; *line_end is when the line is free
 * after them (the pacing deadline is 20 us before it).  The receiver
 * checks every sample against the one set with its sequence number and
 * gets, after the line falls quiet, the last one.
 */
static unsigned saturated_run(unsigned every, size_t len, unsigned count,
                              uint64_t *line_end, unsigned *delivered)
{
    static uint8_t f[1514];
    static LaneUtil want[256];
    uint64_t now = 1 * MS;
    unsigned sent = 0, next_sample = 0, base;
    LaneUtil last = { 0 };
    Pair p;

    pair_init(&p, LANE_PCS_8B10B, LANE_PCS_8B10B, 1000);
    memset(want, 0, sizeof(want));
    p.a.expect = want;
    pump(&p.a, &p.b, 0);                /* link up, the first sample */
    base = p.a.utils;
    g_assert_cmpuint(base, ==, 1);
    for (;;) {
        int r;

        if (every && sent == next_sample && sent < count) {
            last = (LaneUtil) {
                .cpu_pct = sent % 101, .irq_pct = sent % 7,
                .seq = (uint8_t)(sent / every + 1), .has_contention = true,
                .psi_permille = (sent * 37) % 1001,
                .runnable = (sent * 11) % 1024,
            };
            want[last.seq] = last;
            lane_set_util_contention(p.b.lane, last.cpu_pct, last.irq_pct,
                                     last.psi_permille, last.runnable, now);
            next_sample += every;
        }
        make_frame(f, len, sent);
        r = lane_send_frame(p.b.lane, f, len, now);
        if (r == 0) {
            sent++;
            continue;
        }
        g_assert_cmpint(r, ==, -EAGAIN);
        if (sent >= count) {
            break;
        }
        now = lane_deadline(p.b.lane);
        pump(&p.a, &p.b, now);
    }
    *line_end = lane_deadline(p.b.lane) + 20000;
    pump(&p.a, &p.b, now);
    g_assert_cmpuint(p.a.frames, ==, sent);
    g_assert_cmpuint(p.a.out_of_order, ==, 0);
    /*
     * the line falls quiet: a set still left goes on its own, a sample
     * still waiting at the interval
     */
    pump(&p.a, &p.b, *line_end);
    *delivered = p.a.utils - base;
    pump(&p.a, &p.b, now + 100 * MS);
    g_assert_cmpuint(p.a.util_mismatches, ==, 0);
    g_assert_cmpuint(lane_stats(p.a.lane)->pcs.util_errors, ==, 0);
    g_assert_cmpuint(lane_stats(p.a.lane)->pcs.util_ext_dropped, ==, 0);
    if (every) {
        g_assert_cmpuint(p.a.util.seq, ==, last.seq);
        g_assert_true(p.a.util.has_contention);
    }
    pair_free(&p);
    return sent;
}

/*
 * On a saturated paced link the contention figures cost no line time:
 * with a new sample every frame or every fourth, the frames take exactly
 * the line time they take without reporting (preamble, frame, FCS and the
 * minimum gap each), and every sample that goes arrives intact.
 */
static void test_util_contention_line_time(gconstpointer data)
{
    size_t len = GPOINTER_TO_UINT(data);
    uint64_t slot = (PCS_PREAMBLE_SFD + len + 4 + 12) * 8;     /* ns */
    uint64_t end_none, end;
    unsigned sent_none, sent, delivered;

    sent_none = saturated_run(0, len, 200, &end_none, &delivered);
    g_assert_cmpuint(delivered, ==, 0);
    g_assert_cmpuint(end_none, ==, 1 * MS + sent_none * slot);

    /* every frame: a sample's halves take two gaps, so every other goes */
    sent = saturated_run(1, len, 200, &end, &delivered);
    g_assert_cmpuint(sent, ==, sent_none);
    g_assert_cmpuint(end, ==, end_none);
    g_assert_cmpuint(delivered, >=, 100);

    sent = saturated_run(4, len, 200, &end, &delivered);
    g_assert_cmpuint(sent, ==, sent_none);
    g_assert_cmpuint(end, ==, end_none);
    g_assert_cmpuint(delivered, ==, 50);
}

/*
 * A frame on a quiet paced link: its gap carries the extension alone, and
 * the set follows on its own once that gap is over (the utilization
 * deadline), costing nothing.  The largest frame carries the extension in
 * the same record.
 */
static void test_util_contention_split_quiet(void)
{
    static uint8_t f[ETH_MAX_FRAME - 4];
    uint64_t t = 1 * MS;
    Pair p;

    pair_init(&p, LANE_PCS_8B10B, LANE_PCS_8B10B, 1000);
    pump(&p.a, &p.b, 0);
    g_assert_cmpuint(p.a.utils, ==, 1);
    for (unsigned i = 0; i < 2; i++) {
        size_t len = i ? sizeof(f) : 60;

        lane_set_util_contention(p.b.lane, 10 + i, 1, 300 + i, 2, t);
        make_frame(f, len, i);
        g_assert_cmpint(lane_send_frame(p.b.lane, f, len, t), ==, 0);
        pump(&p.a, &p.b, t);
        g_assert_cmpuint(p.a.frames, ==, i + 1);
        g_assert_cmpuint(p.a.utils, ==, i + 1);     /* not yet */
        g_assert_cmpuint(lane_deadline(p.b.lane), ==,
                         t + (PCS_PREAMBLE_SFD + len + 4 + 12) * 8);
        t = lane_deadline(p.b.lane);
        pump(&p.a, &p.b, t);
        g_assert_cmpuint(p.a.utils, ==, i + 2);
        g_assert_true(p.a.util.fresh);
        g_assert_true(p.a.util.has_contention);
        g_assert_cmpuint(p.a.util.cpu_pct, ==, 10 + i);
        g_assert_cmpuint(p.a.util.psi_permille, ==, 300 + i);
        g_assert_cmpuint(p.a.util.runnable, ==, 2);
        /* the interval restarts from the set */
        g_assert_cmpuint(lane_deadline(p.b.lane), ==, t + 100 * MS);
        t += 1 * MS;
    }
    g_assert_cmpuint(lane_stats(p.b.lane)->tx_util_sets, ==, 3);
    g_assert_cmpuint(lane_stats(p.a.lane)->bad_records, ==, 0);
    g_assert_cmpuint(lane_stats(p.a.lane)->pcs.util_errors, ==, 0);
    g_assert_cmpuint(lane_stats(p.a.lane)->pcs.util_ext_dropped, ==, 0);

    /*
     * loss of sync between the halves: the receiver drops the extension;
     * the link comes back and brings the sample whole
     */
    lane_set_util_contention(p.b.lane, 50, 5, 777, 9, t);
    make_frame(f, 60, 2);
    g_assert_cmpint(lane_send_frame(p.b.lane, f, 60, t), ==, 0);
    lane_inject_sync_loss(p.b.lane, t);
    pump(&p.a, &p.b, t);
    g_assert_cmpuint(lane_stats(p.a.lane)->pcs.util_ext_dropped, ==, 1);
    g_assert_true(lane_is_link_up(p.a.lane));
    g_assert_true(p.a.util.has_contention);
    g_assert_cmpuint(p.a.util.cpu_pct, ==, 50);
    g_assert_cmpuint(p.a.util.psi_permille, ==, 777);
    g_assert_cmpuint(p.a.util.runnable, ==, 9);
    g_assert_cmpuint(lane_stats(p.a.lane)->pcs.util_errors, ==, 0);
    pair_free(&p);
}

/* Raw UTIL records: four octets or eight; impossible figures counted. */
static void test_util_raw_records(void)
{
    static const uint8_t hello[16] = {
        LANE_TAG_HELLO, 0, 12, 0, 'B', 'P', 'L', 'N', LANE_VERSION, 1,
        0, 0, 0xe8, 0x03, 0, 0
    };
    static const struct {
        uint8_t rec[14];
        size_t len;
        bool ok, cont;
        unsigned psi, runnable;
    } cases[] = {
        /* cpu irq seq form: as before */
        { { LANE_TAG_UTIL, 0, 4, 0, 10, 2, 1, 0 }, 8, true, false, 0, 0 },
        /* + pressure 1000, runnable 1023 */
        { { LANE_TAG_UTIL, 0, 8, 0, 10, 2, 2, 0, 0xe8, 3, 0xff, 3 }, 12,
          true, true, 1000, 1023 },
        /* longer: octets after the eighth are left for later versions */
        { { LANE_TAG_UTIL, 0, 10, 0, 10, 2, 3, 0, 7, 0, 9, 0, 1, 1 }, 14,
          true, true, 7, 9 },
        /* pressure 1001 */
        { { LANE_TAG_UTIL, 0, 8, 0, 10, 2, 4, 0, 0xe9, 3, 0, 0 }, 12,
          false, false, 0, 0 },
        /* runnable 1024 */
        { { LANE_TAG_UTIL, 0, 8, 0, 10, 2, 5, 0, 0, 0, 0, 4 }, 12,
          false, false, 0, 0 },
        /* cpu 101 with figures */
        { { LANE_TAG_UTIL, 0, 8, 0, 101, 2, 6, 0, 0, 0, 0, 0 }, 12,
          false, false, 0, 0 },
    };
    LaneConfig c;
    End e = { .accept = true };
    uint64_t errors = 0;
    unsigned utils = 0;

    lane_config_init(&c, LANE_ROLE_FD, NULL);
    e.lane = lane_new(&c, &ops, &e, 0, NULL);
    lane_feed(e.lane, hello, sizeof(hello), 0);
    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        lane_feed(e.lane, cases[i].rec, cases[i].len, 0);
        if (cases[i].ok) {
            utils++;
            g_assert_cmpuint(e.util.seq, ==, cases[i].rec[6]);
            g_assert_cmpint(e.util.has_contention, ==, cases[i].cont);
            g_assert_cmpuint(e.util.psi_permille, ==, cases[i].psi);
            g_assert_cmpuint(e.util.runnable, ==, cases[i].runnable);
        } else {
            errors++;
        }
        g_assert_cmpuint(e.utils, ==, utils);
        g_assert_cmpuint(lane_stats(e.lane)->pcs.util_errors, ==, errors);
    }
    g_assert_cmpuint(lane_stats(e.lane)->bad_records, ==, 0);

    /*
     * A repeat that brings contention figures the previous delivery of the
     * same sample lacked (a damaged extension hides them) is new.
     */
    lane_feed(e.lane, (const uint8_t *)"\x04\0\x04\0\x0a\x02\x09\0", 8, 0);
    g_assert_true(e.util.fresh);
    g_assert_false(e.util.has_contention);
    lane_feed(e.lane, (const uint8_t *)"\x04\0\x08\0\x0a\x02\x09\0"
              "\x07\0\x09\0", 12, 0);
    g_assert_true(e.util.fresh);
    g_assert_true(e.util.has_contention);
    lane_feed(e.lane, (const uint8_t *)"\x04\0\x08\0\x0a\x02\x09\0"
              "\x07\0\x09\0", 12, 0);
    g_assert_false(e.util.fresh);
    lane_free(e.lane);
}

/* Symbol errors, sync loss and link down/up, and recovery after each. */
static void test_error_injection(void)
{
    uint8_t f[200];
    const LaneStats *st;
    uint64_t now = 0;
    Pair p;

    pair_init(&p, LANE_PCS_8B10B, LANE_PCS_8B10B, 0);
    pump(&p.a, &p.b, now);

    /* one corrupted code group costs one frame */
    lane_inject_corrupt(p.a.lane, 1);
    make_frame(f, sizeof(f), 0);
    lane_send_frame(p.a.lane, f, sizeof(f), now);
    pump(&p.a, &p.b, now);
    st = lane_stats(p.b.lane);
    g_assert_cmpuint(p.b.frames, ==, 0);
    g_assert_cmpuint(st->pcs.invalid_cgs + st->pcs.disparity_errors +
                     st->pcs.fcs_errors + st->pcs.bad_preamble +
                     st->pcs.false_carriers + st->pcs.rx_invalid, >=, 1);
    g_assert_cmpuint(lane_stats(p.a.lane)->injected_cg_errors, ==, 1);
    p.b.next_seq = 1;
    exchange(&p, 3, 200, now);

    /* forced loss of sync: link drops and comes back by itself */
    lane_inject_sync_loss(p.a.lane, now);
    pump(&p.a, &p.b, now);
    g_assert_cmpuint(p.b.ev[LANE_EV_SYNC_LOST], ==, 1);
    g_assert_cmpuint(p.b.ev[LANE_EV_LINK_DOWN], ==, 1);
    g_assert_cmpuint(p.a.ev[LANE_EV_LINK_DOWN], ==, 1);
    g_assert_true(lane_is_link_up(p.b.lane));
    g_assert_true(lane_is_link_up(p.a.lane));
    exchange(&p, 3, 200, now);

    /* transmitter off: both ends down until it is back on */
    lane_set_tx_enabled(p.b.lane, false, now);
    pump(&p.a, &p.b, now);
    g_assert_false(lane_is_link_up(p.a.lane));
    g_assert_false(lane_is_link_up(p.b.lane));
    now += 50 * MS;
    pump(&p.a, &p.b, now);
    g_assert_false(lane_is_link_up(p.a.lane));
    lane_set_tx_enabled(p.b.lane, true, now);
    pump(&p.a, &p.b, now);
    g_assert_true(lane_is_link_up(p.a.lane));
    g_assert_true(lane_is_link_up(p.b.lane));
    exchange(&p, 3, 200, now);

    /*
     * a bit error rate of 1e-4: frames are lost and counted, the link
     * survives or recovers
     */
    lane_inject_ber(p.a.lane, 0.0001);
    for (unsigned i = 0; i < 2000; i++) {
        make_frame(f, sizeof(f), i);
        lane_send_frame(p.a.lane, f, sizeof(f), now);
        pump(&p.a, &p.b, now);
        now += 1 * MS;
        pump(&p.a, &p.b, now);
    }
    lane_inject_ber(p.a.lane, 0);
    st = lane_stats(p.b.lane);
    g_test_message("ber 1e-4: %u of 2000 frames, %" PRIu64 " invalid, %"
                   PRIu64 " disparity, %" PRIu64 " fcs, %" PRIu64
                   " sync lost", p.b.frames - 9, st->pcs.invalid_cgs,
                   st->pcs.disparity_errors, st->pcs.fcs_errors,
                   st->pcs.sync_lost);
    g_assert_cmpuint(st->pcs.invalid_cgs + st->pcs.disparity_errors, >, 0);
    g_assert_cmpuint(st->pcs.fcs_errors + st->pcs.frame_cg_errors, >, 0);
    now += 20 * MS;
    pump(&p.a, &p.b, now);
    now += 20 * MS;
    pump(&p.a, &p.b, now);
    g_assert_true(lane_is_link_up(p.b.lane));
    p.b.next_seq = 0;
    p.b.out_of_order = p.a.out_of_order = 0;
    p.a.next_seq = 0;
    exchange(&p, 3, 200, now);
    pair_free(&p);
}

/* What a receive capture saw: each burst or gap, and the sync events. */
typedef struct GapTrace {
    End *e;
    GString *seen;
} GapTrace;

static void on_capture(void *opaque, bool rx, const uint16_t *cgs, size_t n)
{
    GapTrace *g = opaque;

    g_assert_true(rx);
    g_assert_true(cgs ? n > 0 : n == 0);
    g_string_append_printf(g->seen, "%c%u%u ", cgs ? 'B' : 'G',
                           g->e->ev[LANE_EV_SYNC_LOST],
                           g->e->ev[LANE_EV_SYNC_ACQUIRED]);
}

/*
 * lane_capture_gaps(): the implied idle after each burst reaches the
 * capture, after the burst's sync loss and before sync regained in it;
 * without it, only bursts.
 */
static void test_capture_gaps(void)
{
    GapTrace g = { .seen = g_string_new(NULL) };
    uint8_t f[64];
    Pair p;

    pair_init(&p, LANE_PCS_8B10B, LANE_PCS_8B10B, 0);
    g.e = &p.b;
    pump(&p.a, &p.b, 0);
    lane_capture_cgs(p.b.lane, on_capture, &g, false, true);
    make_frame(f, sizeof(f), 0);
    lane_send_frame(p.a.lane, f, sizeof(f), 0);
    pump(&p.a, &p.b, 0);
    g_assert_cmpstr(g.seen->str, ==, "B01 ");

    g_string_truncate(g.seen, 0);
    lane_capture_gaps(p.b.lane, true);
    lane_send_frame(p.a.lane, f, sizeof(f), 0);
    pump(&p.a, &p.b, 0);
    g_assert_cmpstr(g.seen->str, ==, "B01 G01 ");

    /* four invalid code groups: sync lost in the burst, back in the gap */
    g_string_truncate(g.seen, 0);
    lane_inject_sync_loss(p.a.lane, 0);
    pump(&p.a, &p.b, 0);
    g_assert_true(g_str_has_prefix(g.seen->str, "B01 G11 "));
    g_assert_cmpuint(p.b.ev[LANE_EV_SYNC_ACQUIRED], ==, 2);
    g_assert_true(lane_is_link_up(p.b.lane));

    g_string_truncate(g.seen, 0);
    lane_capture_gaps(p.b.lane, false);
    lane_send_frame(p.a.lane, f, sizeof(f), 0);
    pump(&p.a, &p.b, 0);
    g_assert_cmpstr(g.seen->str, ==, "B12 ");
    lane_capture_cgs(p.b.lane, NULL, NULL, false, false);
    g_string_free(g.seen, true);
    pair_free(&p);
}

static short wanted(Lane *lane, int fd)
{
    LaneFd fds[LANE_MAX_FDS];
    int n = lane_get_fds(lane, fds);

    for (int i = 0; i < n; i++) {
        if (fds[i].fd == fd) {
            return fds[i].events;
        }
    }
    return -1;
}

#define SEC (1000 * MS)
#define FRAME_1518_NS 12304     /* 1538 octet times at 1000 Mb/s */

/* Two 1518-octet frames at @now: the line is busy 24.6 us from @now. */
static void fill_line(Lane *lane, uint64_t now)
{
    uint8_t f[1514];

    make_frame(f, sizeof(f), 0);
    g_assert_cmpint(lane_send_frame(lane, f, sizeof(f), now), ==, 0);
    g_assert_cmpint(lane_send_frame(lane, f, sizeof(f), now), ==, 0);
    g_assert_cmpint(lane_send_frame(lane, f, sizeof(f), now), ==, -EAGAIN);
    g_assert_cmpuint(lane_deadline(lane), ==,
                     now + 2 * FRAME_1518_NS - 20000);
}

/*
 * The caller's clock goes back (a snapshot loaded without telling the
 * lane, or a buggy caller).  No wait may last longer than the interval it
 * stands for: pacing, the utilization interval, the negotiation retry and
 * the reconnect each resume within their own interval of the new time,
 * not as long after it as the clock went back.  The times are absolute
 * and each is earlier than the one before: computed ones could wrap
 * below 0 and turn a step back into a jump forward.
 */
static void test_clock_back(void)
{
    const uint64_t t = 20 * SEC;        /* link up, the line busy */
    const uint64_t t_tx = 14 * SEC;     /* 6 s back: pacing, utilization */
    const uint64_t t_an = 11 * SEC;     /* 3 s back: negotiation retry */
    const uint64_t t_rc = 9 * SEC;      /* 2 s back: reconnect */
    uint8_t f[1514];
    unsigned utils, ready;
    LaneConfig ca;
    Pair p;
    int err = 0;

    pair_init(&p, LANE_PCS_8B10B, LANE_PCS_8B10B, 1000);
    pump(&p.a, &p.b, t);
    g_assert_true(lane_is_link_up(p.b.lane));

    /*
     * pacing: the line is busy; the clock goes back; the frame waits for
     * what was left of the line time, counted from the new time
     */
    fill_line(p.b.lane, t);
    ready = p.b.tx_ready;
    make_frame(f, sizeof(f), 2);
    g_assert_cmpint(lane_send_frame(p.b.lane, f, sizeof(f), t_tx), ==,
                    -EAGAIN);
    g_assert_cmpuint(lane_deadline(p.b.lane), ==,
                     t_tx + 2 * FRAME_1518_NS - 20000);
    pump(&p.a, &p.b, t_tx + 2 * FRAME_1518_NS - 20000);
    g_assert_cmpuint(p.b.tx_ready, ==, ready + 1);
    g_assert_cmpint(lane_send_frame(p.b.lane, f, sizeof(f),
                                    t_tx + 2 * FRAME_1518_NS - 20000), ==, 0);

    /* the utilization interval (the last set went at t) */
    pump(&p.a, &p.b, t_tx + 2 * FRAME_1518_NS);
    g_assert_cmpuint(lane_deadline(p.b.lane), ==, t_tx + 100 * MS);
    utils = p.a.utils;
    pump(&p.a, &p.b, t_tx + 100 * MS);
    g_assert_cmpuint(p.a.utils, ==, utils + 1);

    /*
     * the negotiation retry: the chassis's transmitter goes off; the
     * clock goes back; the retry fires 10 ms after the new time (and is
     * due again 10 ms later)
     */
    lane_set_tx_enabled(p.a.lane, false, t_tx + 100 * MS);
    pump(&p.a, &p.b, t_tx + 100 * MS);
    g_assert_false(lane_is_link_up(p.b.lane));
    g_assert_cmpuint(lane_deadline(p.b.lane), ==, t_tx + 110 * MS);
    lane_handle_timer(p.b.lane, t_an);
    g_assert_cmpuint(lane_deadline(p.b.lane), ==, t_an + 10 * MS);
    lane_handle_timer(p.b.lane, t_an + 10 * MS);
    g_assert_cmpuint(lane_deadline(p.b.lane), ==, t_an + 20 * MS);

    /*
     * the reconnect: the chassis goes; the clock goes back again; the
     * NIC is connected again 100 ms after the new time
     */
    lane_free(p.a.lane);
    p.a.lane = NULL;
    pump(&p.a, &p.b, t_an + 10 * MS);
    g_assert_false(lane_is_connected(p.b.lane));
    g_assert_cmpuint(lane_deadline(p.b.lane), ==, t_an + 110 * MS);
    lane_handle_timer(p.b.lane, t_rc);
    g_assert_false(lane_is_connected(p.b.lane));
    g_assert_cmpuint(lane_deadline(p.b.lane), ==, t_rc + 100 * MS);
    lane_config_init(&ca, LANE_ROLE_SERVER, p.path);
    ca.speed_mbps = 1000;
    p.a.lane = lane_new(&ca, &ops, &p.a, t_rc, &err);
    g_assert_nonnull(p.a.lane);
    pump(&p.a, &p.b, t_rc + 100 * MS);
    g_assert_true(lane_is_link_up(p.b.lane));
    pair_free(&p);
}

/*
 * lane_clock_rebase(): the clock was set to another time (a snapshot
 * loaded); waits keep exactly what was left of them and the peer's
 * utilization its age, whichever way the clock moved.  A hostile time
 * near the end of the range saturates instead of wrapping.
 */
static void test_clock_rebase(void)
{
    uint64_t t = 10 * SEC, t2 = 2 * SEC, t3 = 100 * SEC;
    uint8_t f[1514];
    uint64_t age;
    LaneUtil u;
    Pair p;

    pair_init(&p, LANE_PCS_8B10B, LANE_PCS_8B10B, 1000);
    pump(&p.a, &p.b, t);
    g_assert_true(lane_is_link_up(p.b.lane));
    fill_line(p.b.lane, t);

    /* the chassis's view of the NIC's figures keeps its age */
    g_assert_true(lane_peer_util(p.a.lane, &u, &age, t + 5000));
    g_assert_cmpuint(age, ==, 5000);
    lane_clock_rebase(p.a.lane, t2);
    g_assert_true(lane_peer_util(p.a.lane, &u, &age, t2 + 5000));
    g_assert_cmpuint(age, ==, 5000);

    lane_clock_rebase(p.b.lane, t2);
    g_assert_cmpuint(lane_deadline(p.b.lane), ==,
                     t2 + 2 * FRAME_1518_NS - 20000);
    lane_clock_rebase(p.b.lane, t3);
    g_assert_cmpuint(lane_deadline(p.b.lane), ==,
                     t3 + 2 * FRAME_1518_NS - 20000);
    pump(&p.a, &p.b, t3 + 2 * FRAME_1518_NS - 20000);
    g_assert_cmpuint(p.b.tx_ready, ==, 1);
    /* then the utilization interval, from the set sent at t */
    g_assert_cmpuint(lane_deadline(p.b.lane), ==, t3 + 100 * MS);


    /* the end of the clock's range: saturated, and back again */
    lane_handle_timer(p.b.lane, UINT64_MAX - 1000);
    g_assert_cmpuint(lane_deadline(p.b.lane), <, LANE_NO_DEADLINE);
    g_assert_cmpuint(lane_deadline(p.b.lane), >, UINT64_MAX - 1000);
    lane_handle_timer(p.b.lane, t3);
    g_assert_cmpuint(lane_deadline(p.b.lane), <=, t3 + 100 * MS);
    g_assert_cmpuint(lane_deadline(p.b.lane), >, t3);
    lane_handle_timer(p.b.lane, UINT64_MAX);
    g_assert_cmpuint(lane_deadline(p.b.lane), ==, LANE_NO_DEADLINE - 1);
    make_frame(f, sizeof(f), 9);
    lane_send_frame(p.b.lane, f, sizeof(f), UINT64_MAX);
    g_assert_cmpuint(lane_deadline(p.b.lane), <, LANE_NO_DEADLINE);
    lane_handle_timer(p.b.lane, t3);
    g_assert_cmpuint(lane_deadline(p.b.lane), <=, t3 + 100 * MS);
    pair_free(&p);
}

/*
 * A callback frees its own lane (a device unplugged by the interrupt its
 * receive raised): no callback after that, no access to freed memory
 * (run under valgrind or ASan to see the latter), and the peer sees the
 * connection close.
 */
static void test_free_in_callback(gconstpointer data)
{
    FreeIn where = GPOINTER_TO_INT(data);
    unsigned frames, utils;
    uint8_t f[100];
    Pair p;

    pair_init(&p, LANE_PCS_8B10B, LANE_PCS_8B10B, 0);
    if (where == FREE_IN_LINK_UP) {
        p.b.free_in = where;
    }
    pump(&p.a, &p.b, 0);
    frames = p.b.frames;
    utils = p.b.utils;
    if (where != FREE_IN_LINK_UP) {
        g_assert_nonnull(p.b.lane);
        p.b.free_in = where;
        /* eight frames, each with a new sample in its gap, in one read */
        for (unsigned i = 0; i < 8; i++) {
            lane_set_util(p.a.lane, 10 + i, 1, 0);
            make_frame(f, sizeof(f), i);
            g_assert_cmpint(lane_send_frame(p.a.lane, f, sizeof(f), 0), ==,
                            0);
        }
        pump(&p.a, &p.b, 0);
    }
    g_assert_null(p.b.lane);
    g_assert_cmpuint(p.b.callbacks_after_free, ==, 0);
    if (where == FREE_IN_FRAME) {
        g_assert_cmpuint(p.b.frames, ==, frames + 1);
        g_assert_cmpuint(p.b.utils, ==, utils);
    } else if (where == FREE_IN_UTIL) {
        g_assert_cmpuint(p.b.frames, ==, frames + 1);
        g_assert_cmpuint(p.b.utils, ==, utils + 1);
    } else {
        g_assert_cmpuint(p.b.ev[LANE_EV_LINK_UP], ==, 1);
    }
    pump(&p.a, &p.b, 0);
    g_assert_false(lane_is_connected(p.a.lane));
    pair_free(&p);
}

/*
 * Entry points that would re-enter the read or write path do nothing
 * when a callback of the same lane calls them.
 */
static void on_frame_reenter(void *opaque, const uint8_t *f, size_t len)
{
    End *e = opaque;

    e->frames++;
    lane_handle_timer(e->lane, 0);
    lane_flush(e->lane, 0);
    lane_rx_resume(e->lane, 0);
    lane_feed(e->lane, f, len, 0);
    lane_handle_io(e->lane, -1, POLLIN, 0);
}

static void test_reenter_from_callback(void)
{
    static const LaneOps reenter_ops = {
        .rx_frame = on_frame_reenter,
    };
    LaneConfig c;
    End a = { .accept = true }, b = { .accept = true };
    uint8_t f[100];
    int sv[2];

    lane_config_init(&c, LANE_ROLE_FD, NULL);
    c.speed_mbps = 0;
    a.lane = lane_new(&c, &ops, &a, 0, NULL);
    b.lane = lane_new(&c, &reenter_ops, &b, 0, NULL);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    lane_attach_fd(a.lane, sv[0], 0);
    lane_attach_fd(b.lane, sv[1], 0);
    pump(&a, &b, 0);
    g_assert_true(lane_is_link_up(b.lane));
    for (unsigned i = 0; i < 4; i++) {
        make_frame(f, sizeof(f), i);
        g_assert_cmpint(lane_send_frame(a.lane, f, sizeof(f), 0), ==, 0);
    }
    pump(&a, &b, 0);
    g_assert_cmpuint(b.frames, ==, 4);
    g_assert_cmpuint(lane_stats(b.lane)->bad_records, ==, 0);
    g_assert_cmpuint(lane_stats(b.lane)->protocol_errors, ==, 0);
    g_assert_true(lane_is_link_up(b.lane));
    lane_free(a.lane);
    lane_free(b.lane);
}

/* io_changed tells the main loop whenever the events it must watch change. */
static void test_io_changed(void)
{
    End a = { .accept = true }, b = { .accept = true };
    uint8_t f[100];
    LaneConfig c;
    unsigned before;
    int sv[2];

    lane_config_init(&c, LANE_ROLE_FD, NULL);
    c.speed_mbps = 0;
    a.lane = lane_new(&c, &ops, &a, 0, NULL);
    b.lane = lane_new(&c, &ops, &b, 0, NULL);
    g_assert_cmpuint(a.io_changes, ==, 0);     /* not from lane_new() */
    g_assert_cmpint(wanted(a.lane, 0), ==, -1);    /* no fds yet */
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    lane_attach_fd(a.lane, sv[0], 0);
    lane_attach_fd(b.lane, sv[1], 0);
    g_assert_cmpuint(a.io_changes, ==, 1);     /* new fd, hello queued */
    g_assert_cmpint(wanted(a.lane, sv[0]), ==, POLLIN | POLLOUT);
    pump(&a, &b, 0);
    g_assert_true(lane_is_link_up(a.lane));
    g_assert_cmpint(wanted(a.lane, sv[0]), ==, POLLIN);

    before = a.io_changes;
    make_frame(f, sizeof(f), 0);
    g_assert_cmpint(lane_send_frame(a.lane, f, sizeof(f), 0), ==, 0);
    g_assert_cmpuint(a.io_changes, ==, before + 1);
    g_assert_cmpint(wanted(a.lane, sv[0]), ==, POLLIN | POLLOUT);
    g_assert_cmpint(lane_send_frame(a.lane, f, sizeof(f), 0), ==, 0);
    g_assert_cmpuint(a.io_changes, ==, before + 1);     /* no change */
    pump(&a, &b, 0);
    g_assert_cmpuint(a.io_changes, ==, before + 2);
    g_assert_cmpint(wanted(a.lane, sv[0]), ==, POLLIN);
    g_assert_cmpuint(b.frames, ==, 2);
    lane_free(a.lane);
    lane_free(b.lane);
}

/* Hostile bytes on the socket: counted, never fatal to the process. */
static void test_bad_records(void)
{
    static const uint8_t hello[16] = {
        LANE_TAG_HELLO, 0, 12, 0, 'B', 'P', 'L', 'N', LANE_VERSION, 0,
        0, 0, 0xe8, 0x03, 0, 0
    };
    static const uint8_t unknown[6] = { 0x7f, 0, 2, 0, 1, 2 };
    static const uint8_t odd_cg[7] = { LANE_TAG_CG, 0, 3, 0, 1, 2, 3 };
    static const uint8_t bad_cgs[8] = { LANE_TAG_CG, 0, 4, 0,
                                        0xff, 0xff, 0x00, 0x00 };
    static const uint8_t huge[4] = { LANE_TAG_CG, 0, 0xff, 0xff };
    LaneConfig c;
    End e = { .accept = true };
    uint8_t junk[64];
    int sv[2];

    lane_config_init(&c, LANE_ROLE_FD, NULL);
    e.lane = lane_new(&c, &ops, &e, 0, NULL);

    /* no hello first: dropped */
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    lane_attach_fd(e.lane, sv[0], 0);
    g_assert_cmpint(write(sv[1], unknown, sizeof(unknown)), ==,
                    sizeof(unknown));
    pump(&e, NULL, 0);
    g_assert_cmpuint(lane_stats(e.lane)->protocol_errors, ==, 1);
    g_assert_false(lane_is_connected(e.lane));
    close(sv[1]);

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    lane_attach_fd(e.lane, sv[0], 0);
    g_assert_cmpint(write(sv[1], hello, sizeof(hello)), ==, sizeof(hello));
    g_assert_cmpint(write(sv[1], unknown, sizeof(unknown)), ==,
                    sizeof(unknown));
    g_assert_cmpint(write(sv[1], odd_cg, sizeof(odd_cg)), ==,
                    sizeof(odd_cg));
    g_assert_cmpint(write(sv[1], bad_cgs, sizeof(bad_cgs)), ==,
                    sizeof(bad_cgs));
    pump(&e, NULL, 0);
    g_assert_true(lane_is_connected(e.lane));
    g_assert_cmpuint(lane_stats(e.lane)->bad_records, ==, 2);
    g_assert_cmpuint(lane_stats(e.lane)->pcs.invalid_cgs, ==, 2);
    g_assert_cmpint(write(sv[1], huge, sizeof(huge)), ==, sizeof(huge));
    pump(&e, NULL, 0);
    g_assert_cmpuint(lane_stats(e.lane)->protocol_errors, ==, 2);
    g_assert_false(lane_is_connected(e.lane));
    /* what the lane sent: a hello first */
    g_assert_cmpint(read(sv[1], junk, sizeof(junk)), >=, 16);
    g_assert_cmpuint(junk[0], ==, LANE_TAG_HELLO);
    g_assert_cmpmem(junk + 4, 4, "BPLN", 4);
    close(sv[1]);
    lane_free(e.lane);
}

/* ---- LANE_ROLE_STREAM: the caller's channel ----------------------------- */

/*
 * One direction of a caller's channel: a bounded buffer, as a socket's
 * send buffer is, that the test moves into the other end with lane_feed().
 */
typedef struct Chan {
    uint8_t buf[4096];
    size_t len;
    unsigned full;          /* write() took less than offered */
} Chan;

typedef struct StreamEnd {
    End e;                  /* first: the callbacks take it as End */
    Chan out;
    unsigned closes;        /* the lane asked to close the channel */
} StreamEnd;

static void chan_close(void *opaque)
{
    StreamEnd *se = opaque;

    se->closes++;
}

static size_t chan_write(void *opaque, const uint8_t *buf, size_t len)
{
    StreamEnd *se = opaque;
    size_t n = MIN(len, sizeof(se->out.buf) - se->out.len);

    memcpy(se->out.buf + se->out.len, buf, n);
    se->out.len += n;
    se->out.full += n < len;
    return n;
}

static const LaneOps stream_ops = {
    .rx_frame = on_frame, .can_receive = on_can_receive,
    .rx_util = on_util, .event = on_event, .tx_ready = on_tx_ready,
    .io_changed = on_io_changed, .write = chan_write, .close = chan_close,
};

static void stream_init(StreamEnd *se, LanePcs pcs)
{
    LaneConfig c;

    memset(se, 0, sizeof(*se));
    se->e.accept = true;
    lane_config_init(&c, LANE_ROLE_STREAM, NULL);
    c.pcs = pcs;
    c.speed_mbps = 0;
    se->e.lane = lane_new(&c, &stream_ops, se, 0, NULL);
    g_assert_nonnull(se->e.lane);
    g_assert_false(lane_is_connected(se->e.lane));
}

/*
 * Move what @from's channel holds into @to as far as @to takes it; the
 * channel that drained is writable again.  Returns the octets moved.
 */
static size_t stream_move(StreamEnd *from, StreamEnd *to, uint64_t now)
{
    size_t n = MIN(from->out.len, lane_rx_room(to->e.lane));
    size_t took;

    if (lane_want_write(from->e.lane)) {
        lane_flush(from->e.lane, now);
        n = MIN(from->out.len, lane_rx_room(to->e.lane));
    }
    if (!n) {
        return 0;
    }
    took = lane_feed(to->e.lane, from->out.buf, n, now);
    g_assert_cmpuint(took, ==, n);      /* never more than the room */
    memmove(from->out.buf, from->out.buf + took, from->out.len - took);
    from->out.len -= took;
    lane_writable(from->e.lane, now);
    return took;
}

static void stream_pump(StreamEnd *a, StreamEnd *b, uint64_t now)
{
    for (int iter = 0; iter < 100000; iter++) {
        size_t moved = stream_move(a, b, now) + stream_move(b, a, now);

        if (lane_deadline(a->e.lane) <= now) {
            lane_handle_timer(a->e.lane, now);
            moved++;
        }
        if (lane_deadline(b->e.lane) <= now) {
            lane_handle_timer(b->e.lane, now);
            moved++;
        }
        if (!moved && !lane_want_write(a->e.lane) &&
            !lane_want_write(b->e.lane)) {
            return;
        }
    }
    g_assert_not_reached();
}

/*
 * Two lanes over a caller's channel that fills up: the link comes up,
 * and every frame arrives, in order, through a channel much smaller than
 * what is sent.
 */
static void test_stream_frames(gconstpointer data)
{
    LanePcs pcs = GPOINTER_TO_UINT(data);
    StreamEnd a, b;
    uint8_t f[ETH_MAX_FRAME - 4];    /* the longest, before its FCS */
    unsigned sent = 0;
    uint64_t now = 0;

    stream_init(&a, pcs);
    stream_init(&b, pcs);
    g_assert_cmpuint(lane_rx_room(b.e.lane), ==, 0);   /* not connected */
    lane_connected(a.e.lane, now);
    lane_connected(b.e.lane, now);
    g_assert_true(lane_want_write(a.e.lane));         /* the hello */
    g_assert_cmpuint(a.e.ev[LANE_EV_CONNECTED], ==, 1);
    stream_pump(&a, &b, now);
    g_assert_true(lane_is_link_up(a.e.lane));
    g_assert_true(lane_is_link_up(b.e.lane));

    while (sent < 200) {
        make_frame(f, sizeof(f), sent);
        if (lane_send_frame(a.e.lane, f, sizeof(f), now) == 0) {
            sent++;
        } else {
            stream_pump(&a, &b, now);
        }
    }
    stream_pump(&a, &b, now);
    g_assert_cmpuint(a.out.full, >, 0);     /* the channel did fill */
    g_assert_cmpuint(b.e.frames, ==, 200);
    g_assert_cmpuint(b.e.out_of_order, ==, 0);
    g_assert_cmpuint(lane_stats(b.e.lane)->bad_records, ==, 0);
    g_assert_cmpuint(lane_stats(b.e.lane)->protocol_errors, ==, 0);
    lane_free(a.e.lane);
    lane_free(b.e.lane);
}

/*
 * The channel closes with octets queued: link down, the octets dropped
 * and counted, input ignored until it connects again; then a new peer
 * brings the link back up.
 */
static void test_stream_close_reconnect(void)
{
    StreamEnd a, b;
    uint8_t f[1000];
    uint64_t now = 0;
    const LaneStats *st;
    unsigned queued = 0;

    stream_init(&a, LANE_PCS_8B10B);
    stream_init(&b, LANE_PCS_8B10B);
    lane_connected(a.e.lane, now);
    lane_connected(b.e.lane, now);
    stream_pump(&a, &b, now);
    g_assert_true(lane_is_link_up(a.e.lane));

    /* fill a's channel and queue: nobody drains it */
    for (unsigned i = 0; i < 100; i++) {
        make_frame(f, sizeof(f), i);
        if (lane_send_frame(a.e.lane, f, sizeof(f), now) == 0) {
            queued++;
        }
        if (lane_want_write(a.e.lane)) {
            lane_flush(a.e.lane, now);
        }
    }
    g_assert_cmpuint(queued, >, 0);
    g_assert_false(lane_want_write(a.e.lane));  /* full: wait for it */
    lane_closed(a.e.lane, now);
    lane_closed(b.e.lane, now);
    st = lane_stats(a.e.lane);
    g_assert_false(lane_is_connected(a.e.lane));
    g_assert_false(lane_is_link_up(a.e.lane));
    g_assert_cmpuint(a.e.ev[LANE_EV_LINK_DOWN], ==, 1);
    g_assert_cmpuint(a.e.ev[LANE_EV_DISCONNECTED], ==, 1);
    g_assert_cmpuint(st->disconnects, ==, 1);
    g_assert_cmpuint(st->tx_dropped_disconnect, >, 0);
    g_assert_cmpint(lane_send_frame(a.e.lane, f, sizeof(f), now), ==,
                    -ENOLINK);
    g_assert_false(lane_want_write(a.e.lane));
    g_assert_cmpuint(lane_deadline(a.e.lane), ==, LANE_NO_DEADLINE);

    /* what the old channel still held goes nowhere */
    g_assert_cmpuint(lane_rx_room(b.e.lane), ==, 0);
    g_assert_cmpuint(lane_feed(b.e.lane, a.out.buf, a.out.len, now), ==,
                     a.out.len);
    g_assert_false(lane_is_connected(b.e.lane));
    g_assert_cmpuint(lane_stats(b.e.lane)->rx_frames, ==, 0);
    a.out.len = b.out.len = 0;

    now += 5 * MS;
    lane_connected(a.e.lane, now);
    lane_connected(b.e.lane, now);
    stream_pump(&a, &b, now);
    g_assert_true(lane_is_link_up(a.e.lane));
    g_assert_true(lane_is_link_up(b.e.lane));
    g_assert_cmpuint(a.e.ev[LANE_EV_LINK_UP], ==, 2);
    g_assert_cmpuint(lane_stats(a.e.lane)->connects, ==, 2);
    b.e.next_seq = 7;
    make_frame(f, sizeof(f), 7);
    g_assert_cmpint(lane_send_frame(a.e.lane, f, sizeof(f), now), ==, 0);
    stream_pump(&a, &b, now);
    g_assert_cmpuint(b.e.frames, ==, 1);
    g_assert_cmpuint(b.e.out_of_order, ==, 0);
    lane_free(a.e.lane);
    lane_free(b.e.lane);
}

/*
 * A receiver that holds frames back takes no more octets (the channel
 * keeps them: back-pressure reaches the peer) and takes the rest after
 * lane_rx_resume().
 */
static void test_stream_back_pressure(void)
{
    StreamEnd a, b;
    uint8_t f[200];
    uint64_t now = 0;
    size_t took;

    stream_init(&a, LANE_PCS_RAW);
    stream_init(&b, LANE_PCS_RAW);
    lane_connected(a.e.lane, now);
    lane_connected(b.e.lane, now);
    stream_pump(&a, &b, now);
    g_assert_true(lane_is_link_up(b.e.lane));

    for (unsigned i = 0; i < 10; i++) {
        make_frame(f, sizeof(f), i);
        g_assert_cmpint(lane_send_frame(a.e.lane, f, sizeof(f), now), ==, 0);
    }
    lane_flush(a.e.lane, now);
    g_assert_cmpuint(a.out.len, >, 10 * sizeof(f));
    b.e.accept = false;
    took = lane_feed(b.e.lane, a.out.buf, a.out.len, now);
    g_assert_cmpuint(b.e.frames, ==, 0);
    g_assert_cmpuint(lane_rx_room(b.e.lane), ==, 0);
    /* what it took is held in the lane, not lost */
    g_assert_cmpuint(lane_feed(b.e.lane, a.out.buf + took, a.out.len - took,
                               now), ==, 0);
    b.e.accept = true;
    lane_rx_resume(b.e.lane, now);
    g_assert_cmpuint(lane_rx_room(b.e.lane), >, 0);
    g_assert_cmpuint(lane_feed(b.e.lane, a.out.buf + took, a.out.len - took,
                               now), ==, a.out.len - took);
    g_assert_cmpuint(b.e.frames, ==, 10);
    g_assert_cmpuint(b.e.out_of_order, ==, 0);
    lane_free(a.e.lane);
    lane_free(b.e.lane);
}

/*
 * A peer that breaks the protocol on the caller's channel: the lane
 * disconnects, counts it and asks the caller to close the channel (the
 * peer must see it go); input after it is dropped.  A new connection
 * starts clean.
 */
static void test_stream_protocol_error(void)
{
    static const uint8_t no_hello[6] = { 0x7f, 0, 2, 0, 1, 2 };
    StreamEnd a, b;

    stream_init(&a, LANE_PCS_8B10B);
    lane_connected(a.e.lane, 0);
    g_assert_cmpuint(lane_feed(a.e.lane, no_hello, sizeof(no_hello), 0), ==,
                     sizeof(no_hello));
    g_assert_cmpuint(a.closes, ==, 1);
    g_assert_cmpuint(lane_stats(a.e.lane)->protocol_errors, ==, 1);
    g_assert_false(lane_is_connected(a.e.lane));
    g_assert_cmpuint(lane_feed(a.e.lane, no_hello, sizeof(no_hello), 0), ==,
                     sizeof(no_hello));
    g_assert_cmpuint(a.closes, ==, 1);      /* nothing more to close */
    lane_closed(a.e.lane, 0);               /* the channel's close event */
    g_assert_cmpuint(lane_stats(a.e.lane)->disconnects, ==, 1);

    stream_init(&b, LANE_PCS_8B10B);
    lane_connected(a.e.lane, MS);
    lane_connected(b.e.lane, MS);
    stream_pump(&a, &b, MS);
    g_assert_true(lane_is_link_up(a.e.lane));
    g_assert_cmpuint(lane_stats(a.e.lane)->protocol_errors, ==, 1);
    lane_free(a.e.lane);
    lane_free(b.e.lane);
}

/*
 * The forms reserved for virtual time are skipped by today's receivers,
 * counted, and the rest of the record is not misparsed: a hello with the
 * capability bit, a CONFIG record carrying a stamp, a PROMISE; a stamp
 * flag on a record too short for a stamp is a bad record.  So is a RING
 * record of an unknown operation.
 */
static void test_vtime_reserved(void)
{
    static const uint8_t in[] = {
        /* hello, pcs raw, capabilities: virtual-time stamps */
        LANE_TAG_HELLO, 0, 12, 0, 'B', 'P', 'L', 'N', LANE_VERSION, 1,
        LANE_HELLO_CAP_VTIME, 0, 0xe8, 0x03, 0, 0,
        /* CONFIG 0x0020 (FD) with a stamp */
        LANE_TAG_CONFIG, LANE_REC_F_VTIME, 10, 0,
        1, 2, 3, 4, 5, 6, 7, 8, 0x20, 0x00,
        /* PROMISE: nothing earlier than 2^32 ns */
        LANE_TAG_PROMISE, 0, 8, 0, 0, 0, 0, 0, 1, 0, 0, 0,
        /* a stamp flag on 4 octets */
        LANE_TAG_CONFIG, LANE_REC_F_VTIME, 4, 0, 0x20, 0, 0, 0,
        /* RING, operation 99 */
        LANE_TAG_RING, 0, 8, 0, 99, 0, 0, 0, 0, 0, 0, 0,
    };
    const LaneStats *st;
    StreamEnd a;

    stream_init(&a, LANE_PCS_RAW);
    lane_connected(a.e.lane, 0);
    g_assert_cmpuint(lane_feed(a.e.lane, in, sizeof(in), 0), ==, sizeof(in));
    g_assert_true(lane_is_connected(a.e.lane));
    st = lane_stats(a.e.lane);
    g_assert_cmpuint(st->protocol_errors, ==, 0);
    g_assert_cmpuint(st->pcs.config_sets, ==, 1);
    g_assert_cmpuint(st->vtime_ignored, ==, 2);
    g_assert_cmpuint(st->bad_records, ==, 2);
    lane_free(a.e.lane);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/lane/frames/8b10b", GUINT_TO_POINTER(0),
                         test_link_up_and_frames);
    g_test_add_data_func("/lane/frames/raw", GUINT_TO_POINTER(3),
                         test_link_up_and_frames);
    g_test_add_data_func("/lane/frames/mixed", GUINT_TO_POINTER(1),
                         test_link_up_and_frames);
    g_test_add_data_func("/lane/send-fcs/8b10b",
                         GUINT_TO_POINTER(LANE_PCS_8B10B), test_send_fcs);
    g_test_add_data_func("/lane/send-fcs/raw",
                         GUINT_TO_POINTER(LANE_PCS_RAW), test_send_fcs);
    g_test_add_func("/lane/reconnect", test_reconnect);
    g_test_add_data_func("/lane/back-pressure/8b10b",
                         GUINT_TO_POINTER(LANE_PCS_8B10B),
                         test_back_pressure);
    g_test_add_data_func("/lane/back-pressure/raw",
                         GUINT_TO_POINTER(LANE_PCS_RAW), test_back_pressure);
    g_test_add_func("/lane/back-pressure/paced", test_back_pressure_paced);
    g_test_add_func("/lane/pacing", test_pacing);
    g_test_add_func("/lane/pacing/fifo", test_pacing_fifo);
    g_test_add_func("/lane/pacing/fifo-back-pressure",
                    test_pacing_fifo_back_pressure);
    g_test_add_data_func("/lane/utilization/8b10b",
                         GUINT_TO_POINTER(LANE_PCS_8B10B), test_utilization);
    g_test_add_data_func("/lane/utilization/raw",
                         GUINT_TO_POINTER(LANE_PCS_RAW), test_utilization);
    g_test_add_data_func("/lane/utilization/8b10b-expanded",
                         GUINT_TO_POINTER(LANE_PCS_8B10B |
                                          PCS_UTIL_FORM_EXPANDED << 1),
                         test_utilization);
    g_test_add_data_func("/lane/utilization/contention/8b10b",
                         GUINT_TO_POINTER(LANE_PCS_8B10B),
                         test_util_contention);
    g_test_add_data_func("/lane/utilization/contention/raw",
                         GUINT_TO_POINTER(LANE_PCS_RAW),
                         test_util_contention);
    g_test_add_data_func("/lane/utilization/contention/8b10b-expanded",
                         GUINT_TO_POINTER(LANE_PCS_8B10B |
                                          PCS_UTIL_FORM_EXPANDED << 1),
                         test_util_contention);
    g_test_add_data_func("/lane/utilization/contention/line-time/64",
                         GUINT_TO_POINTER(60),
                         test_util_contention_line_time);
    g_test_add_data_func("/lane/utilization/contention/line-time/1518",
                         GUINT_TO_POINTER(1514),
                         test_util_contention_line_time);
    g_test_add_func("/lane/utilization/contention/split-quiet",
                    test_util_contention_split_quiet);
    g_test_add_func("/lane/utilization/contention/raw-records",
                    test_util_raw_records);
    g_test_add_func("/lane/error-injection", test_error_injection);
    g_test_add_func("/lane/capture-gaps", test_capture_gaps);
    g_test_add_func("/lane/bad-records", test_bad_records);
    g_test_add_func("/lane/io-changed", test_io_changed);
    g_test_add_data_func("/lane/stream/frames/8b10b",
                         GUINT_TO_POINTER(LANE_PCS_8B10B),
                         test_stream_frames);
    g_test_add_data_func("/lane/stream/frames/raw",
                         GUINT_TO_POINTER(LANE_PCS_RAW), test_stream_frames);
    g_test_add_func("/lane/stream/close-reconnect",
                    test_stream_close_reconnect);
    g_test_add_func("/lane/stream/back-pressure", test_stream_back_pressure);
    g_test_add_func("/lane/stream/protocol-error", test_stream_protocol_error);
    g_test_add_func("/lane/vtime-reserved", test_vtime_reserved);
    g_test_add_func("/lane/clock/back", test_clock_back);
    g_test_add_func("/lane/clock/rebase", test_clock_rebase);
    g_test_add_data_func("/lane/free-in-callback/rx-frame",
                         GINT_TO_POINTER(FREE_IN_FRAME),
                         test_free_in_callback);
    g_test_add_data_func("/lane/free-in-callback/rx-util",
                         GINT_TO_POINTER(FREE_IN_UTIL),
                         test_free_in_callback);
    g_test_add_data_func("/lane/free-in-callback/link-up-event",
                         GINT_TO_POINTER(FREE_IN_LINK_UP),
                         test_free_in_callback);
    g_test_add_func("/lane/reenter-from-callback",
                    test_reenter_from_callback);
    return g_test_run();
}
