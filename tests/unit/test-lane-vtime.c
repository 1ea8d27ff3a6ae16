/*
 * Lane transport in virtual time: stamped records and promises between
 * two library lanes, over the caller's stream, over sockets and over the
 * shared-memory rings; quiet promises on the wire; a lane whose peer is
 * in the other time (no link); and a hostile peer (each violation
 * counted and cut, never taken, and still refused after it reconnects).
 * Fake clocks; no sleeping.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <string.h>

#include "lane-pump.h"
#include "lane-transport.h"
#include "lane-ring.h"

#define US 1000ULL
#define MS 1000000ULL
#define LATENCY (5 * US)

/* One end: what it received, with the stamps it came with. */
typedef struct End {
    Lane *lane;
    unsigned frames;
    unsigned bad_stamps;        /* frame stamp not what the sender put */
    unsigned unstamped;
    uint64_t last_stamp;
    unsigned utils, utils_stamped;
    unsigned promises;
    uint64_t last_promise;
    /* the caller's channel (LANE_ROLE_STREAM) */
    uint8_t out[8192];
    size_t out_len;
    unsigned closes;
    uint64_t tick;              /* its clock's step (vtime_tick_ns) */
} End;

/*
 * Frames carry the time they were sent at (octets 14..21): the stamp
 * must be that, or the promise it was raised to.
 */
static uint64_t frame_time(const uint8_t *f)
{
    uint64_t t;

    memcpy(&t, f + 14, sizeof(t));
    return t;
}

static void on_frame(void *opaque, const uint8_t *f, size_t len)
{
    End *e = opaque;
    uint64_t s;

    e->frames++;
    if (!lane_rx_stamp(e->lane, &s)) {
        e->unstamped++;
        return;
    }
    /*
     * the sender's clock (which never goes back in these tests), raised
     * to its last promise if below it
     */
    if (s != MAX(frame_time(f), e->last_promise) || s < e->last_stamp) {
        e->bad_stamps++;
    }
    e->last_stamp = s;
}

static void on_util(void *opaque, const LaneUtil *u)
{
    End *e = opaque;

    e->utils++;
    e->utils_stamped += lane_rx_stamp(e->lane, NULL);
}

static void on_promise(void *opaque, uint64_t t)
{
    End *e = opaque;

    e->promises++;
    e->last_promise = t;
}

static size_t chan_write(void *opaque, const uint8_t *buf, size_t len)
{
    End *e = opaque;
    size_t n = MIN(len, sizeof(e->out) - e->out_len);

    memcpy(e->out + e->out_len, buf, n);
    e->out_len += n;
    return n;
}

static void chan_close(void *opaque)
{
    End *e = opaque;

    e->closes++;
}

static const LaneOps ops = {
    .rx_frame = on_frame, .rx_util = on_util, .rx_promise = on_promise,
    .write = chan_write, .close = chan_close,
};

static void make_frame(uint8_t *f, size_t len, uint64_t t)
{
    memset(f, 0, len);
    memset(f, 0xff, 6);
    f[6] = 0x02;
    f[12] = 0x88;
    f[13] = 0xb5;
    memcpy(f + 14, &t, sizeof(t));
}

/* ---- the caller's stream ---------------------------------------------- */

static Lane *stream_lane(End *e, LanePcs pcs, bool vtime)
{
    LaneConfig c;

    lane_config_init(&c, LANE_ROLE_STREAM, NULL);
    c.pcs = pcs;
    c.speed_mbps = 0;
    c.vtime = vtime;
    c.vtime_latency_ns = LATENCY;
    c.vtime_tick_ns = e->tick;
    e->lane = lane_new(&c, &ops, e, 0, NULL);
    g_assert_nonnull(e->lane);
    return e->lane;
}

/* What @from wrote, at its clock @now_from, to @to at its clock @now_to. */
static size_t move(End *from, uint64_t now_from, End *to, uint64_t now_to)
{
    size_t n;

    if (lane_want_write(from->lane)) {
        lane_flush(from->lane, now_from);
    }
    n = MIN(from->out_len, lane_rx_room(to->lane));
    if (!n) {
        return 0;
    }
    g_assert_cmpuint(lane_feed(to->lane, from->out, n, now_to), ==, n);
    memmove(from->out, from->out + n, from->out_len - n);
    from->out_len -= n;
    lane_writable(from->lane, now_from);
    return n;
}

/* Both ends until nothing moves, each at its own clock. */
static void stream_pump_at(End *a, uint64_t now_a, End *b, uint64_t now_b)
{
    for (int i = 0; i < 100000; i++) {
        size_t moved = move(a, now_a, b, now_b) + move(b, now_b, a, now_a);

        if (lane_deadline(a->lane) <= now_a) {
            lane_handle_timer(a->lane, now_a);
            moved++;
        }
        if (lane_deadline(b->lane) <= now_b) {
            lane_handle_timer(b->lane, now_b);
            moved++;
        }
        if (!moved) {
            return;
        }
    }
    g_assert_not_reached();
}

static void stream_pump(End *a, End *b, uint64_t now)
{
    stream_pump_at(a, now, b, now);
}

/* Run both ends for @ms of their clock, 1 ms at a time. */
static uint64_t stream_run(End *a, End *b, uint64_t now, unsigned ms)
{
    for (unsigned i = 0; i < ms; i++) {
        stream_pump(a, b, now);
        now += MS;
    }
    stream_pump(a, b, now);
    return now;
}

static void assert_clean(Lane *l)
{
    const LaneStats *st = lane_stats(l);

    g_assert_cmpuint(st->vtime.stamp_back, ==, 0);
    g_assert_cmpuint(st->vtime.stamp_broke_promise, ==, 0);
    g_assert_cmpuint(st->vtime.promise_back, ==, 0);
    g_assert_cmpuint(st->vtime.stamp_broke_quiet, ==, 0);
    g_assert_cmpuint(st->vtime_unstamped, ==, 0);
    g_assert_cmpuint(st->vtime_mismatch, ==, 0);
    g_assert_cmpuint(st->vtime_cuts, ==, 0);
    g_assert_cmpuint(st->vtime_ignored, ==, 0);
    g_assert_cmpuint(st->protocol_errors, ==, 0);
    g_assert_cmpuint(st->bad_records, ==, 0);
}

/*
 * Frames both ways between two virtual-time ends, with promises: every
 * record arrives stamped with its sender's clock, every promise is
 * taken, and the receiver's horizon is the promise plus its latency.
 */
static void exchange(End *a, End *b, uint64_t now,
                     void (*pump)(End *, End *, uint64_t))
{
    uint8_t f[300];

    for (unsigned i = 0; i < 200; i++) {
        now += 7 * US + i;
        make_frame(f, 60 + i, now);
        g_assert_cmpint(lane_send_frame(a->lane, f, 60 + i, now), ==, 0);
        make_frame(f, 200 - i / 2, now);
        g_assert_cmpint(lane_send_frame(b->lane, f, 200 - i / 2, now), ==, 0);
        if (i % 10 == 9) {
            g_assert_true(lane_vtime_promise(a->lane, now + 2 * US, now));
            g_assert_true(lane_vtime_promise(b->lane, now + 3 * US, now));
            /* no second promise of the same time */
            g_assert_false(lane_vtime_promise(b->lane, now + 3 * US, now));
            /* a frame sent below a's promise goes stamped with it */
            make_frame(f, 64, now);
            g_assert_cmpint(lane_send_frame(a->lane, f, 64, now), ==, 0);
        }
        /* records take effect a latency after their stamp */
        pump(a, b, now + LATENCY);
        if (i % 10 == 9) {
            g_assert_cmpuint(b->last_promise, ==, now + 2 * US);
            g_assert_cmpuint(lane_vtime_horizon(b->lane), ==,
                             now + 2 * US + LATENCY);
            g_assert_cmpuint(lane_vtime_horizon(a->lane), ==,
                             now + 3 * US + LATENCY);
        }
    }
    /* the last frame raised to a's promise is due a latency after it */
    g_assert_cmpuint(b->frames, ==, 219);
    pump(a, b, now + 2 * US + LATENCY);
    g_assert_cmpuint(a->frames, ==, 200);
    g_assert_cmpuint(b->frames, ==, 220);
    for (End *e = a; e; e = e == a ? b : NULL) {
        const LaneStats *st = lane_stats(e->lane);

        g_assert_true(lane_vtime_active(e->lane));
        g_assert_cmpuint(e->bad_stamps + e->unstamped, ==, 0);
        g_assert_cmpuint(e->promises, ==, 20);
        g_assert_cmpuint(st->vtime.promises, ==, 20);
        g_assert_cmpuint(st->vtime.tx_promises, ==, 20);
        /* frames and negotiation at least, all stamped */
        g_assert_cmpuint(st->vtime.stamps, >, 200);
        assert_clean(e->lane);
    }
    /* a's frames after its promises were raised to them */
    g_assert_cmpuint(lane_stats(a->lane)->vtime.tx_stamps_raised, >=, 20);
}

static void test_stream(gconstpointer data)
{
    LanePcs pcs = GPOINTER_TO_UINT(data);
    End a = { 0 }, b = { 0 };
    uint64_t now = 0;

    stream_lane(&a, pcs, true);
    stream_lane(&b, pcs, true);
    lane_connected(a.lane, now);
    lane_connected(b.lane, now);
    now = stream_run(&a, &b, now, 50);
    g_assert_true(lane_is_link_up(a.lane));
    g_assert_true(lane_is_link_up(b.lane));
    g_assert_true(lane_vtime_active(a.lane));
    /* utilization sets went at link-up, stamped */
    g_assert_cmpuint(a.utils, >, 0);
    g_assert_cmpuint(a.utils_stamped, ==, a.utils);
    exchange(&a, &b, now, stream_pump);
    lane_free(a.lane);
    lane_free(b.lane);
}

/*
 * Quiet promises on the wire (PROMISE with W and READ): the receiver's
 * horizon goes to W; its own record voids it; one that crossed a record
 * on its way is stale; a frame the quiet end sends before W without
 * having read anything goes stamped W.
 */
static void test_quiet(void)
{
    End a = { 0 }, b = { 0 };
    uint64_t now = 0, w;
    uint8_t f[64];

    stream_lane(&a, LANE_PCS_RAW, true);
    stream_lane(&b, LANE_PCS_RAW, true);
    lane_connected(a.lane, now);
    lane_connected(b.lane, now);
    now = stream_run(&a, &b, now, 20);
    g_assert_true(lane_is_link_up(b.lane));

    w = now + 500 * US;
    g_assert_true(lane_vtime_promise_quiet(a.lane, w, now));
    g_assert_false(lane_vtime_promise_quiet(a.lane, w - US, now));
    g_assert_cmpuint(lane_vtime_quiet(a.lane), ==, w);
    stream_pump(&a, &b, now);
    g_assert_cmpuint(lane_stats(b.lane)->vtime.quiet, ==, 1);
    g_assert_cmpuint(lane_vtime_horizon(b.lane), ==, w + LATENCY);
    /* b writes: the quiet is void, a's answer may come a latency later */
    make_frame(f, sizeof(f), now);
    g_assert_cmpint(lane_send_frame(b.lane, f, sizeof(f), now), ==, 0);
    g_assert_cmpuint(lane_vtime_horizon(b.lane), ==, now + LATENCY);
    /* a, quiet again before it read the frame: stale on arrival */
    g_assert_true(lane_vtime_promise_quiet(a.lane, w + US, now));
    stream_pump(&a, &b, now + LATENCY);
    g_assert_cmpuint(a.frames, ==, 1);
    g_assert_cmpuint(lane_stats(b.lane)->vtime.quiet_stale, ==, 1);
    g_assert_cmpuint(lane_vtime_horizon(b.lane), <, w);
    /* reading it ended a's quiet: its answer goes at its own time */
    g_assert_cmpuint(lane_vtime_quiet(a.lane), ==, 0);
    now += LATENCY;

    /* quiet, then woken by something b did not send: stamped W */
    w = now + 300 * US;
    g_assert_true(lane_vtime_promise_quiet(a.lane, w, now));
    make_frame(f, sizeof(f), now + US);
    g_assert_cmpint(lane_send_frame(a.lane, f, sizeof(f), now + US), ==, 0);
    stream_pump(&a, &b, w + LATENCY);
    g_assert_cmpuint(b.frames, ==, 1);
    g_assert_cmpuint(b.last_stamp, ==, w);
    g_assert_cmpuint(b.bad_stamps, ==, 1);    /* its time is below W */
    g_assert_cmpuint(lane_stats(a.lane)->vtime.tx_quiet_raised, ==, 1);
    g_assert_cmpuint(lane_stats(a.lane)->vtime.tx_quiet, ==, 3);
    g_assert_cmpuint(lane_stats(b.lane)->vtime.stamp_broke_quiet, ==, 0);
    assert_clean(a.lane);
    assert_clean(b.lane);
    lane_free(a.lane);
    lane_free(b.lane);
}

/*
 * A lane that starts late (vtime_start_ns): it takes the place of a peer
 * that left at F, as a restarted blade does.  Started at 0 it is cut
 * (its stamps go back); started at F its clock's 0 is F on the wire: its
 * stamps and promises arrive plus F, the other end's less F (a record
 * from before its start at its 0), and nothing is cut.  Its hello says
 * it is new on the link: the other end says its promise again (the new
 * end never heard it, and nothing below it would be sent), and forgets
 * the quiet it promised the old peer (its records are not raised to it).
 */
static void test_start(void)
{
    End chassis = { 0 }, old = { 0 }, late = { 0 };
    uint64_t now = 0, f, g, start;
    LaneConfig c;
    uint8_t fr[64];

    stream_lane(&chassis, LANE_PCS_RAW, true);
    stream_lane(&old, LANE_PCS_RAW, true);
    lane_connected(chassis.lane, now);
    lane_connected(old.lane, now);
    now = stream_run(&chassis, &old, now, 20);
    g_assert_true(lane_is_link_up(chassis.lane));
    f = now + MS;
    g = f + 2 * MS;
    g_assert_true(lane_vtime_promise(old.lane, f, now));
    g_assert_true(lane_vtime_promise(chassis.lane, g, now));
    g_assert_true(lane_vtime_promise_quiet(chassis.lane, f + 40 * MS, now));
    stream_pump(&chassis, &old, now);
    g_assert_cmpuint(lane_vtime_horizon(chassis.lane), ==, f + LATENCY);
    g_assert_cmpuint(lane_vtime_horizon(old.lane), ==, f + 40 * MS + LATENCY);
    lane_free(old.lane);
    lane_closed(chassis.lane, now);

    /* a new process from 0: its first stamp goes back */
    memset(&old, 0, sizeof(old));
    stream_lane(&old, LANE_PCS_RAW, true);
    lane_connected(chassis.lane, now);
    lane_connected(old.lane, 0);
    stream_pump_at(&old, 0, &chassis, now);
    g_assert_cmpuint(lane_stats(chassis.lane)->vtime_cuts, ==, 1);
    g_assert_cmpuint(lane_stats(chassis.lane)->vtime.stamp_back, ==, 1);
    lane_free(old.lane);
    lane_closed(chassis.lane, now);

    /* from F: the chassis, still at now (< F), writes first */
    start = f;
    lane_config_init(&c, LANE_ROLE_STREAM, NULL);
    c.pcs = LANE_PCS_RAW;
    c.speed_mbps = 0;
    c.vtime = true;
    c.vtime_latency_ns = LATENCY;
    c.vtime_start_ns = start;
    late.lane = lane_new(&c, &ops, &late, 0, NULL);
    g_assert_nonnull(late.lane);
    lane_connected(chassis.lane, now);
    lane_connected(late.lane, 0);
    /*
     * What the chassis sends below F reaches the late end at its 0; its
     * promise to the old peer comes again, its quiet does not.
     */
    stream_pump_at(&late, 0, &chassis, now);
    g_assert_cmpuint(lane_stats(late.lane)->vtime.stamps, >, 0);
    g_assert_cmpuint(late.last_promise, ==, g - start);
    g_assert_cmpuint(lane_vtime_horizon(late.lane), ==, g - start + LATENCY);
    /* told twice: the peer from 0 was new on the link too */
    g_assert_cmpuint(lane_stats(chassis.lane)->vtime_new_peers, ==, 2);
    /* the link comes up over 20 ms of the late end's clock */
    for (uint64_t t = 0; t <= 20 * MS; t += MS) {
        stream_pump_at(&late, t, &chassis, MAX(now, start + t));
    }
    now = start + 20 * MS;
    g_assert_true(lane_is_link_up(late.lane));
    g_assert_true(lane_is_link_up(chassis.lane));

    /* the late end's frame and promise: its times plus the start */
    make_frame(fr, sizeof(fr), start + 25 * MS);
    g_assert_cmpint(lane_send_frame(late.lane, fr, sizeof(fr), 25 * MS), ==,
                    0);
    g_assert_true(lane_vtime_promise(late.lane, 26 * MS, 25 * MS));
    stream_pump_at(&late, 25 * MS, &chassis, start + 25 * MS + LATENCY);
    g_assert_cmpuint(chassis.frames, ==, 1);
    g_assert_cmpuint(chassis.last_stamp, ==, start + 25 * MS);
    g_assert_cmpuint(chassis.last_promise, ==, start + 26 * MS);
    g_assert_cmpuint(lane_vtime_horizon(chassis.lane), ==,
                     start + 26 * MS + LATENCY);
    /* and the chassis's, less it */
    make_frame(fr, sizeof(fr), 27 * MS);
    g_assert_cmpint(lane_send_frame(chassis.lane, fr, sizeof(fr),
                                    start + 27 * MS), ==, 0);
    g_assert_true(lane_vtime_promise(chassis.lane, start + 28 * MS,
                                     start + 27 * MS));
    stream_pump_at(&late, 27 * MS + LATENCY, &chassis, start + 27 * MS);
    g_assert_cmpuint(late.frames, ==, 1);
    g_assert_cmpuint(late.last_stamp, ==, 27 * MS);
    g_assert_cmpuint(late.last_promise, ==, 28 * MS);
    g_assert_cmpuint(lane_vtime_horizon(late.lane), ==, 28 * MS + LATENCY);
    g_assert_cmpuint(late.bad_stamps + chassis.bad_stamps, ==, 0);
    /* below the quiet promised to the old peer, and not raised to it */
    g_assert_cmpuint(lane_stats(chassis.lane)->vtime.tx_quiet_raised, ==, 0);
    assert_clean(late.lane);
    g_assert_cmpuint(lane_stats(chassis.lane)->vtime_cuts, ==, 1);
    lane_free(late.lane);
    lane_free(chassis.lane);

    /* a start past VTIME_LATEST is refused */
    c.vtime_start_ns = VTIME_LATEST + 1;
    g_assert_null(lane_new(&c, &ops, &late, 0, NULL));
}

/* ---- the library's sockets, and the rings ----------------------------- */

static void sock_pump(End *a, End *b, uint64_t now)
{
    for (int iter = 0; iter < 10000; iter++) {
        Lane *lanes[2] = { a->lane, b->lane };

        if (!lane_pump_round(lanes, 2, now)) {
            return;
        }
    }
    g_assert_not_reached();
}

/*
 * Two ends in virtual time over the library's sockets in @path, a
 * server (@pcs_a) and a client (raw), on the rings if @rings; linked up.
 * Returns their clock.
 */
static uint64_t sock_pair(End *a, End *b, const char *path, LanePcs pcs_a,
                          bool rings)
{
    LaneConfig ca, cb;
    uint64_t now = 0;
    int err = 0;

    lane_config_init(&ca, LANE_ROLE_SERVER, path);
    lane_config_init(&cb, LANE_ROLE_CLIENT, path);
    ca.pcs = pcs_a;
    cb.pcs = LANE_PCS_RAW;
    ca.vtime = cb.vtime = true;
    ca.vtime_latency_ns = cb.vtime_latency_ns = LATENCY;
    ca.speed_mbps = cb.speed_mbps = 0;
    if (!rings) {
        cb.shm = LANE_SHM_OFF;
    }
    a->lane = lane_new(&ca, &ops, a, now, &err);
    g_assert_cmpint(err, ==, 0);
    b->lane = lane_new(&cb, &ops, b, now, &err);
    g_assert_cmpint(err, ==, 0);
    for (unsigned i = 0; i < 50; i++) {
        sock_pump(a, b, now);
        now += MS;
    }
    g_assert_true(lane_on_rings(a->lane) == rings);
    return now;
}

static void test_sockets(gconstpointer data)
{
    bool rings = GPOINTER_TO_UINT(data);
    g_autofree char *dir = g_dir_make_tmp("lane-vtime-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "slot1", NULL);
    End a = { 0 }, b = { 0 };
    uint64_t now = sock_pair(&a, &b, path, LANE_PCS_8B10B, rings);

    g_assert_true(lane_is_link_up(a.lane));
    g_assert_true(lane_is_link_up(b.lane));
    g_assert_true(lane_on_rings(b.lane) == rings);
    exchange(&a, &b, now, sock_pump);
    lane_free(a.lane);
    lane_free(b.lane);
    g_rmdir(dir);
}

/* ---- one end in virtual time, the other not --------------------------- */

static void test_mismatch(gconstpointer data)
{
    LanePcs pcs = GPOINTER_TO_UINT(data);
    End a = { 0 }, b = { 0 };
    uint8_t f[60];
    uint64_t now = 0;

    stream_lane(&a, pcs, true);
    stream_lane(&b, pcs, false);
    lane_connected(a.lane, now);
    lane_connected(b.lane, now);
    now = stream_run(&a, &b, now, 200);
    /* both stay connected and say why; neither links up */
    for (End *e = &a; e; e = e == &a ? &b : NULL) {
        g_assert_true(lane_is_connected(e->lane));
        g_assert_false(lane_is_link_up(e->lane));
        g_assert_false(lane_vtime_active(e->lane));
        g_assert_cmpuint(lane_stats(e->lane)->vtime_mismatch, ==, 1);
        g_assert_cmpuint(lane_stats(e->lane)->link_ups, ==, 0);
        make_frame(f, sizeof(f), now);
        g_assert_cmpint(lane_send_frame(e->lane, f, sizeof(f), now), ==,
                        -ENOLINK);
        g_assert_false(lane_vtime_promise(e->lane, now + MS, now));
    }
    /* the virtual-time end sent no /C/ at all */
    g_assert_cmpuint(lane_stats(a.lane)->tx_config_bursts, ==, 0);
    g_assert_cmpuint(lane_vtime_horizon(b.lane), ==, VTIME_NEVER);
    /* a transmitter turned off and on again does not bring it up */
    lane_set_tx_enabled(a.lane, false, now);
    lane_set_tx_enabled(a.lane, true, now);
    now = stream_run(&a, &b, now, 50);
    g_assert_false(lane_is_link_up(a.lane));
    g_assert_false(lane_is_link_up(b.lane));
    g_assert_cmpuint(lane_stats(a.lane)->tx_config_bursts, ==, 0);
    /* the real-time end skipped the stamps of the two SIGNAL records */
    g_assert_cmpuint(lane_stats(b.lane)->vtime_ignored, ==, 2);
    lane_free(a.lane);
    lane_free(b.lane);
}

/* ---- a hostile peer ---------------------------------------------------- */

static size_t rec(uint8_t *p, uint8_t tag, bool stamped, uint64_t stamp,
                  const void *payload, size_t len)
{
    size_t n = LANE_REC_HDR;
    size_t plen = len + (stamped ? LANE_VTIME_LEN : 0);

    p[0] = tag;
    p[1] = stamped ? LANE_REC_F_VTIME : 0;
    p[2] = plen & 0xff;
    p[3] = plen >> 8;
    if (stamped) {
        for (int i = 0; i < 8; i++) {
            p[n++] = stamp >> (8 * i);
        }
    }
    memcpy(p + n, payload, len);
    return n + len;
}

static size_t hello(uint8_t *p, uint16_t caps)
{
    const uint8_t h[12] = { 'B', 'P', 'L', 'N', LANE_VERSION, LANE_PCS_RAW,
                            caps & 0xff, caps >> 8, 0xe8, 0x03, 0, 0 };

    return rec(p, LANE_TAG_HELLO, false, 0, h, sizeof(h));
}

static size_t promise(uint8_t *p, uint64_t t)
{
    uint8_t v[8];

    for (int i = 0; i < 8; i++) {
        v[i] = t >> (8 * i);
    }
    return rec(p, LANE_TAG_PROMISE, false, 0, v, sizeof(v));
}

typedef enum Hostile {
    H_STAMP_BACK,
    H_STAMP_BROKE_PROMISE,
    H_PROMISE_BACK,
    H_PROMISE_BELOW_STAMP,
    H_UNSTAMPED_CONFIG,
    H_UNSTAMPED_SIGNAL,
    H_STAMP_TOO_LATE,       /* past VTIME_LATEST */
    H_PROMISE_TOO_LATE,
    H_PROMISE_SHORT,        /* a bad record, not a violation */
    H_COUNT
} Hostile;

/*
 * A virtual-time lane fed by a peer that stamps 100 us and promises
 * 200 us, then breaks a rule: counted, the connection cut (the channel
 * closed), the horizon where the good records left it; and after a new
 * connection the peer must still go on from there.
 */
static void test_hostile(gconstpointer data)
{
    Hostile h = GPOINTER_TO_UINT(data);
    static const uint8_t cfg[2] = { 0xa0, 0x01 };
    uint8_t in[256];
    size_t n = 0, bad;
    End a = { 0 };
    const LaneStats *st;
    uint64_t now = MS;      /* every stamp below is due: none waits */
    bool cut = h != H_PROMISE_SHORT;

    stream_lane(&a, LANE_PCS_RAW, true);
    lane_connected(a.lane, now);
    n += hello(in + n, LANE_HELLO_CAP_VTIME);
    n += rec(in + n, LANE_TAG_CONFIG, true, 100 * US, cfg, 2);
    n += promise(in + n, 200 * US);
    g_assert_cmpuint(lane_feed(a.lane, in, n, now), ==, n);
    g_assert_true(lane_vtime_active(a.lane));
    g_assert_cmpuint(lane_vtime_horizon(a.lane), ==, 200 * US + LATENCY);
    g_assert_cmpuint(a.promises, ==, 1);

    bad = n;
    switch (h) {
    case H_STAMP_BACK:
        n += rec(in + n, LANE_TAG_CONFIG, true, 100 * US - 1, cfg, 2);
        break;
    case H_STAMP_BROKE_PROMISE:
        n += rec(in + n, LANE_TAG_CONFIG, true, 150 * US, cfg, 2);
        break;
    case H_PROMISE_BACK:
        n += promise(in + n, 199 * US);
        break;
    case H_PROMISE_BELOW_STAMP:
        n += rec(in + n, LANE_TAG_CONFIG, true, 300 * US, cfg, 2);
        n += promise(in + n, 250 * US);
        break;
    case H_UNSTAMPED_CONFIG:
        n += rec(in + n, LANE_TAG_CONFIG, false, 0, cfg, 2);
        break;
    case H_UNSTAMPED_SIGNAL:
        n += rec(in + n, LANE_TAG_SIGNAL, false, 0, "\1", 1);
        break;
    case H_STAMP_TOO_LATE:
        /* its delivery time would saturate: held for ever, not cut */
        n += rec(in + n, LANE_TAG_CONFIG, true, UINT64_MAX - 1, cfg, 2);
        break;
    case H_PROMISE_TOO_LATE:
        n += promise(in + n, VTIME_LATEST + 1);
        break;
    case H_PROMISE_SHORT:
        n += rec(in + n, LANE_TAG_PROMISE, false, 0, "\1\2\3\4", 4);
        break;
    default:
        g_assert_not_reached();
    }
    /* a good promise after it: never taken if the peer was cut */
    n += promise(in + n, 400 * US);
    g_assert_cmpuint(lane_feed(a.lane, in + bad, n - bad, now), ==, n - bad);
    st = lane_stats(a.lane);
    g_assert_cmpuint(st->vtime_cuts, ==, cut);
    g_assert_cmpuint(a.closes, ==, cut);
    g_assert_true(lane_is_connected(a.lane) == !cut);
    g_assert_cmpuint(st->vtime.stamp_back, ==, h == H_STAMP_BACK);
    g_assert_cmpuint(st->vtime.stamp_broke_promise, ==,
                     h == H_STAMP_BROKE_PROMISE);
    g_assert_cmpuint(st->vtime.promise_back, ==,
                     h == H_PROMISE_BACK || h == H_PROMISE_BELOW_STAMP);
    g_assert_cmpuint(st->vtime_unstamped, ==,
                     h == H_UNSTAMPED_CONFIG || h == H_UNSTAMPED_SIGNAL);
    g_assert_cmpuint(st->vtime.too_late, ==,
                     h == H_STAMP_TOO_LATE || h == H_PROMISE_TOO_LATE);
    g_assert_cmpuint(st->bad_records, ==, h == H_PROMISE_SHORT);
    g_assert_cmpuint(st->protocol_errors, ==, 0);
    if (!cut) {
        g_assert_cmpuint(lane_vtime_horizon(a.lane), ==, 400 * US + LATENCY);
        lane_free(a.lane);
        return;
    }
    g_assert_cmpuint(lane_vtime_horizon(a.lane), ==,
                     (h == H_PROMISE_BELOW_STAMP ? 300 * US : 200 * US) +
                     LATENCY);

    /* the peer comes back: it may not start over from 0 */
    lane_connected(a.lane, now);
    n = hello(in, LANE_HELLO_CAP_VTIME);
    n += rec(in + n, LANE_TAG_CONFIG, true, 0, cfg, 2);
    g_assert_cmpuint(lane_feed(a.lane, in, n, now), ==, n);
    g_assert_cmpuint(lane_stats(a.lane)->vtime_cuts, ==, 2);
    g_assert_false(lane_is_connected(a.lane));
    /* but from where it was, it may */
    lane_connected(a.lane, now);
    n = hello(in, LANE_HELLO_CAP_VTIME);
    n += rec(in + n, LANE_TAG_CONFIG, true, 300 * US, cfg, 2);
    n += promise(in + n, 500 * US);
    g_assert_cmpuint(lane_feed(a.lane, in, n, now), ==, n);
    g_assert_true(lane_is_connected(a.lane));
    g_assert_cmpuint(lane_stats(a.lane)->vtime_cuts, ==, 2);
    g_assert_cmpuint(lane_vtime_horizon(a.lane), ==, 500 * US + LATENCY);
    lane_free(a.lane);
}

/*
 * A record takes effect a latency after its stamp, never earlier: the
 * frame waits in the receiver until its clock gets there, the receiver's
 * deadline is that time, and what follows it (a promise) waits behind it.
 * One let go a step of the receiver's clock or more after its time, or
 * read after it, is counted late.
 */
static void test_hold(gconstpointer data)
{
    LanePcs pcs = GPOINTER_TO_UINT(data);
    End a = { 0 }, b = { 0 };
    uint64_t now = 0, sent, late;
    uint8_t f[100];

    b.tick = 2;
    stream_lane(&a, pcs, true);
    stream_lane(&b, pcs, true);
    lane_connected(a.lane, now);
    lane_connected(b.lane, now);
    now = stream_run(&a, &b, now, 50);
    g_assert_true(lane_is_link_up(b.lane));
    /* what the 1 ms steps of the start-up took late */
    late = lane_stats(b.lane)->vtime_late;

    sent = now;
    make_frame(f, sizeof(f), sent);
    g_assert_cmpint(lane_send_frame(a.lane, f, sizeof(f), sent), ==, 0);
    g_assert_true(lane_vtime_promise(a.lane, sent + US, sent));
    /* everything reaches b at once, one nanosecond before it is due */
    stream_pump(&a, &b, sent + LATENCY - 1);
    g_assert_cmpuint(b.frames, ==, 0);
    g_assert_cmpuint(b.last_promise, <, sent + US);
    g_assert_cmpuint(lane_deadline(b.lane), <=, sent + LATENCY);
    g_assert_cmpuint(lane_stats(b.lane)->vtime_held, >, 0);
    /* the frame's stamp counts for the horizon while it waits */
    g_assert_cmpuint(lane_vtime_horizon(b.lane), >=, sent + LATENCY);
    stream_pump(&a, &b, sent + LATENCY);
    g_assert_cmpuint(b.frames, ==, 1);
    g_assert_cmpuint(b.last_stamp, ==, sent);
    g_assert_cmpuint(b.last_promise, ==, sent + US);
    g_assert_cmpuint(lane_vtime_horizon(b.lane), ==, sent + US + LATENCY);
    g_assert_cmpuint(lane_stats(b.lane)->vtime_late, ==, late);

    /*
     * Held, and let go once b's clock is past its time: within b's step
     * of 2 ns, the first time b's clock could show, on time; a step or
     * more after it, late.
     */
    sent += 2 * US;
    make_frame(f, sizeof(f), sent);
    g_assert_cmpint(lane_send_frame(a.lane, f, sizeof(f), sent), ==, 0);
    stream_pump(&a, &b, sent + 1);
    g_assert_cmpuint(b.frames, ==, 1);
    stream_pump(&a, &b, sent + LATENCY + 1);
    g_assert_cmpuint(b.frames, ==, 2);
    g_assert_cmpuint(lane_stats(b.lane)->vtime_late, ==, late);
    sent += 2 * US;
    make_frame(f, sizeof(f), sent);
    g_assert_cmpint(lane_send_frame(a.lane, f, sizeof(f), sent), ==, 0);
    stream_pump(&a, &b, sent + 1);
    stream_pump(&a, &b, sent + LATENCY + 2);
    g_assert_cmpuint(b.frames, ==, 3);
    g_assert_cmpuint(lane_stats(b.lane)->vtime_late, ==, late + 1);
    /* read only after its time: late too */
    sent += 2 * LATENCY;
    make_frame(f, sizeof(f), sent);
    g_assert_cmpint(lane_send_frame(a.lane, f, sizeof(f), sent), ==, 0);
    stream_pump(&a, &b, sent + 2 * LATENCY);
    g_assert_cmpuint(b.frames, ==, 4);
    g_assert_cmpuint(b.last_stamp, ==, sent);
    g_assert_cmpuint(lane_stats(b.lane)->vtime_late, ==, late + 2);
    assert_clean(b.lane);
    lane_free(a.lane);
    lane_free(b.lane);
}

/*
 * On the rings, a peer stamps a record so late that its delivery time
 * would saturate, and fills the ring behind it.  The receiver used to
 * hold it "until never", read that as nothing held, and spin on a full
 * buffer; it must cut the peer and return.
 */
static void test_rings_too_late(void)
{
    static const uint8_t cfg[2] = { 0xa0, 0x01 };
    g_autofree char *dir = g_dir_make_tmp("lane-vtime-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "slot1", NULL);
    g_autofree uint8_t *junk = g_malloc(128 * 1024);
    End a = { 0 }, b = { 0 };
    uint64_t now = sock_pair(&a, &b, path, LANE_PCS_RAW, true);
    uint64_t stamps = lane_stats(a.lane)->vtime.stamps;
    size_t n = 0, off = 0;

    while (n + 16 < 128 * 1024) {
        n += rec(junk + n, LANE_TAG_CONFIG, true, UINT64_MAX - 1, cfg, 2);
    }
    for (int i = 0; i < 1000 && off < n; i++) {
        ssize_t w = lane_ring_write(lane_shm_ring(b.lane), junk + off,
                                    n - off);

        g_assert_cmpint(w, >=, 0);
        off += w;
        g_assert_cmpint(lane_ring_kick(lane_shm_ring(b.lane)), >=, 0);
        sock_pump(&a, &b, now);
    }
    g_assert_cmpuint(lane_stats(a.lane)->vtime.too_late, ==, 1);
    g_assert_cmpuint(lane_stats(a.lane)->vtime_cuts, >=, 1);
    g_assert_cmpuint(lane_stats(a.lane)->vtime.stamps, ==, stamps);
    lane_free(a.lane);
    lane_free(b.lane);
    g_rmdir(dir);
}

/* A stamp on a record whose header is too short for it: a bad record. */
static void test_short_stamp(void)
{
    uint8_t in[64];
    End a = { 0 };
    size_t n;

    stream_lane(&a, LANE_PCS_RAW, true);
    lane_connected(a.lane, 0);
    n = hello(in, LANE_HELLO_CAP_VTIME);
    n += rec(in + n, LANE_TAG_CONFIG, false, 0, "\xa0\x01\0\0", 4);
    in[n - 8 + 1] = LANE_REC_F_VTIME;     /* 4 octets, flagged */
    g_assert_cmpuint(lane_feed(a.lane, in, n, 0), ==, n);
    g_assert_cmpuint(lane_stats(a.lane)->bad_records, ==, 1);
    g_assert_true(lane_is_connected(a.lane));
    g_assert_cmpuint(lane_vtime_horizon(a.lane), ==, LATENCY);
    lane_free(a.lane);
}

int main(int argc, char **argv)
{
    static const char *const hostile[H_COUNT] = {
        "stamp-back", "stamp-broke-promise", "promise-back",
        "promise-below-stamp", "unstamped-config", "unstamped-signal",
        "stamp-too-late", "promise-too-late", "promise-short",
    };

    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/lane-vtime/stream/8b10b",
                         GUINT_TO_POINTER(LANE_PCS_8B10B), test_stream);
    g_test_add_data_func("/lane-vtime/stream/raw",
                         GUINT_TO_POINTER(LANE_PCS_RAW), test_stream);
    g_test_add_data_func("/lane-vtime/sockets", GUINT_TO_POINTER(0),
                         test_sockets);
    g_test_add_data_func("/lane-vtime/rings", GUINT_TO_POINTER(1),
                         test_sockets);
    g_test_add_data_func("/lane-vtime/mismatch/8b10b",
                         GUINT_TO_POINTER(LANE_PCS_8B10B), test_mismatch);
    g_test_add_data_func("/lane-vtime/mismatch/raw",
                         GUINT_TO_POINTER(LANE_PCS_RAW), test_mismatch);
    for (unsigned i = 0; i < H_COUNT; i++) {
        g_autofree char *name = g_strdup_printf("/lane-vtime/hostile/%s",
                                                hostile[i]);

        g_test_add_data_func(name, GUINT_TO_POINTER(i), test_hostile);
    }
    g_test_add_func("/lane-vtime/short-stamp", test_short_stamp);
    g_test_add_func("/lane-vtime/rings/stamp-too-late", test_rings_too_late);
    g_test_add_func("/lane-vtime/quiet", test_quiet);
    g_test_add_func("/lane-vtime/start", test_start);
    g_test_add_data_func("/lane-vtime/hold/8b10b",
                         GUINT_TO_POINTER(LANE_PCS_8B10B), test_hold);
    g_test_add_data_func("/lane-vtime/hold/raw",
                         GUINT_TO_POINTER(LANE_PCS_RAW), test_hold);
    return g_test_run();
}
