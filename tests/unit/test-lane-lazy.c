/*
 * Data runs (LANE_TAG_DATA, the lazy path): two lane pairs driven in
 * lockstep by one seeded script, one pair with data runs and one
 * without, must show the same code groups (captured at both ends),
 * the same counters, frames, utilization sets and events, through random
 * traffic, injected code-group errors, sync losses, transmitter off and
 * on, and captures switched on and off mid-stream.  And hostile data
 * runs: counted and dropped, or taken as their code groups would be.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <string.h>

#include "fcs.h"
#include "lane-transport.h"

#define US 1000ULL

/*
 * One end over a caller's channel (LANE_ROLE_STREAM): what it writes
 * waits in @out until the test moves it to the peer; everything it
 * observes goes, in order, into @trace.
 */
typedef struct End {
    Lane *lane;
    GByteArray *out;
    GByteArray *trace;
} End;

typedef struct Pair {
    End e[2];
} Pair;

static void trace_put(End *e, char tag, const void *p, size_t n)
{
    uint32_t len = n;

    g_byte_array_append(e->trace, (const guint8 *)&tag, 1);
    g_byte_array_append(e->trace, (const guint8 *)&len, sizeof(len));
    g_byte_array_append(e->trace, p, n);
}

static void on_frame(void *opaque, const uint8_t *f, size_t len)
{
    trace_put(opaque, 'F', f, len);
}

static void on_util(void *opaque, const LaneUtil *u)
{
    uint64_t v[] = { u->cpu_pct, u->irq_pct, u->seq, u->has_contention,
                     u->psi_permille, u->runnable, u->fresh, u->form,
                     u->rx_time_ns };

    trace_put(opaque, 'U', v, sizeof(v));
}

static void on_event(void *opaque, LaneEvent ev)
{
    uint8_t b = ev;

    trace_put(opaque, 'E', &b, 1);
}

static void on_cgs(void *opaque, bool rx, const uint16_t *cgs, size_t n)
{
    trace_put(opaque, rx ? 'R' : 'T', cgs, n * sizeof(*cgs));
}

static size_t chan_write(void *opaque, const uint8_t *buf, size_t len)
{
    End *e = opaque;

    g_byte_array_append(e->out, buf, len);
    return len;
}

static const LaneOps ops = {
    .rx_frame = on_frame, .rx_util = on_util, .event = on_event,
    .write = chan_write,
};

static void pair_init(Pair *p, bool data_runs, uint32_t speed,
                      PcsUtilForm form)
{
    for (int i = 0; i < 2; i++) {
        End *e = &p->e[i];
        LaneConfig c;

        lane_config_init(&c, LANE_ROLE_STREAM, NULL);
        c.speed_mbps = speed;
        c.util_form = form;
        c.util_interval_ns = 200 * US;
        c.data_runs = data_runs;
        e->out = g_byte_array_new();
        e->trace = g_byte_array_new();
        e->lane = lane_new(&c, &ops, e, 0, NULL);
        g_assert_nonnull(e->lane);
    }
}

static void pair_free(Pair *p)
{
    for (int i = 0; i < 2; i++) {
        lane_free(p->e[i].lane);
        g_byte_array_unref(p->e[i].out);
        g_byte_array_unref(p->e[i].trace);
    }
}

/*
 * Move what each end wrote to the other until nothing is left.  No timer
 * runs in here: the order in which the two directions are moved differs
 * between the pairs (their records differ in size), and each end's
 * output depends only on its own input and the script's calls.
 */
static void pair_pump(Pair *p, uint64_t now)
{
    for (int iter = 0; iter < 1000; iter++) {
        bool moved = false;

        for (int i = 0; i < 2; i++) {
            End *from = &p->e[i], *to = &p->e[!i];

            if (lane_want_write(from->lane)) {
                lane_flush(from->lane, now);
            }
            if (from->out->len) {
                size_t n = from->out->len;
                size_t took = lane_feed(to->lane, from->out->data, n, now);

                g_assert_cmpuint(took, ==, n);
                g_byte_array_remove_range(from->out, 0, n);
                moved = true;
            }
        }
        if (!moved) {
            return;
        }
    }
    g_assert_not_reached();
}

static void pair_timers(Pair *p, uint64_t now)
{
    for (int i = 0; i < 2; i++) {
        if (lane_deadline(p->e[i].lane) <= now) {
            lane_handle_timer(p->e[i].lane, now);
        }
    }
}

/* The statistics both pairs must agree on: all but the data-run counts. */
static LaneStats comparable(Lane *lane)
{
    LaneStats s = *lane_stats(lane);

    s.tx_data_runs = s.rx_data_runs = s.rx_data_materialised = 0;
    return s;
}

static void check_same(Pair *lazy, Pair *full, unsigned step)
{
    for (int i = 0; i < 2; i++) {
        End *a = &lazy->e[i], *b = &full->e[i];
        LaneStats sa = comparable(a->lane), sb = comparable(b->lane);
        size_t n = MIN(a->trace->len, b->trace->len);
        size_t at = 0;

        while (at < n && a->trace->data[at] == b->trace->data[at]) {
            at++;
        }
        if (at < n || a->trace->len != b->trace->len) {
            g_test_message("step %u, end %d: traces differ at octet %zu "
                           "(lengths %u, %u)", step, i, at,
                           a->trace->len, b->trace->len);
        }
        g_assert_cmpuint(a->trace->len, ==, b->trace->len);
        g_assert_cmpmem(a->trace->data, a->trace->len,
                        b->trace->data, b->trace->len);
        g_assert_cmpmem(&sa.pcs, sizeof(sa.pcs), &sb.pcs, sizeof(sb.pcs));
        g_assert_cmpmem(&sa, sizeof(sa), &sb, sizeof(sb));
        g_assert_cmpint(lane_is_sync_ok(a->lane), ==,
                        lane_is_sync_ok(b->lane));
        g_assert_cmpint(lane_is_link_up(a->lane), ==,
                        lane_is_link_up(b->lane));
        /* a step's traces are checked: start the next ones afresh */
        g_byte_array_set_size(a->trace, 0);
        g_byte_array_set_size(b->trace, 0);
    }
}

/*
 * What the script does to one end, to both pairs alike: mostly frames;
 * utilization samples; errors (corrupt code groups, BER on or off, sync
 * loss); the transmitter off (back on a few steps later); tx capture at
 * one end, rx capture at the other, switched on or off.
 */
static void script_step(GRand *r, Pair *pairs[2], uint64_t now,
                        bool *cap_tx, bool *cap_rx, bool *tx_on)
{
    int who = g_rand_int_range(r, 0, 2);
    int what = g_rand_int_range(r, 0, 100);
    uint8_t frame[ETH_MAX_FRAME - ETH_FCS_LEN];
    size_t len = 0;
    unsigned n = 0, cpu = 0, irq = 0, psi = 0, runnable = 0;
    double ber = 0;

    if (!tx_on[who] && g_rand_int_range(r, 0, 4) == 0) {
        what = 86;      /* back on */
    }
    if (what < 72) {
        int sz = g_rand_int_range(r, 0, 20);

        len = sz == 0 ? (size_t)g_rand_int_range(r, 1515, sizeof(frame) + 1)
            : sz < 8 ? (size_t)g_rand_int_range(r, 0, 70)
            : (size_t)g_rand_int_range(r, 0, 1515);
        for (size_t i = 0; i < len; i++) {
            frame[i] = g_rand_int(r);
        }
    } else if (what < 80) {
        cpu = g_rand_int_range(r, 0, 101);
        irq = g_rand_int_range(r, 0, 101);
        psi = g_rand_int_range(r, 0, 1001);
        runnable = g_rand_int_range(r, 0, 1024);
    } else if (what < 83) {
        n = g_rand_int_range(r, 1, 4);
    } else if (what < 85) {
        ber = g_rand_int_range(r, 0, 2) ? 0.00001 : 0;
    }
    for (int k = 0; k < 2; k++) {
        Lane *lane = pairs[k]->e[who].lane;
        Lane *peer = pairs[k]->e[!who].lane;
        End *end = &pairs[k]->e[who];

        if (what < 72) {
            int ret = lane_send_frame(lane, frame, len, now);
            uint8_t b = -ret;

            /* the sender's answer is part of what must not change */
            trace_put(end, 'S', &b, 1);
        } else if (what < 78) {
            lane_set_util_contention(lane, cpu, irq, psi, runnable, now);
        } else if (what < 80) {
            lane_set_util(lane, cpu, irq, now);
        } else if (what < 83) {
            lane_inject_corrupt(lane, n);
        } else if (what < 85) {
            lane_inject_ber(lane, ber);
        } else if (what == 85) {
            lane_inject_sync_loss(lane, now);
        } else if (what == 86) {
            lane_set_tx_enabled(lane, !tx_on[who], now);
        } else if (what < 89) {
            lane_capture_cgs(lane, on_cgs, end, !cap_tx[who], cap_rx[who]);
        } else if (what < 91) {
            lane_capture_cgs(peer, on_cgs, &pairs[k]->e[!who],
                             cap_tx[!who], !cap_rx[!who]);
        }
    }
    if (what == 86) {
        tx_on[who] = !tx_on[who];
    } else if (what > 86 && what < 89) {
        cap_tx[who] = !cap_tx[who];
    } else if (what >= 89 && what < 91) {
        cap_rx[!who] = !cap_rx[!who];
    }
}

typedef struct LazyCase {
    uint32_t seed;
    uint32_t speed;
    PcsUtilForm form;
} LazyCase;

static void test_same_as_full(gconstpointer data)
{
    const LazyCase *c = data;
    GRand *r = g_rand_new_with_seed(c->seed);
    Pair lazy, full;
    Pair *pairs[2] = { &lazy, &full };
    bool cap_tx[2] = { false, false }, cap_rx[2] = { false, false };
    bool tx_on[2] = { true, true };
    uint64_t now = 0;
    const LaneStats *s;

    pair_init(&lazy, true, c->speed, c->form);
    pair_init(&full, false, c->speed, c->form);
    for (int k = 0; k < 2; k++) {
        lane_connected(pairs[k]->e[0].lane, now);
        lane_connected(pairs[k]->e[1].lane, now);
        pair_pump(pairs[k], now);
    }
    for (unsigned step = 0; step < 20000; step++) {
        /* BER and captures last a while: all off every 100 steps */
        if (step % 100 == 99) {
            for (int k = 0; k < 4; k++) {
                Lane *lane = pairs[k / 2]->e[k % 2].lane;

                lane_inject_ber(lane, 0);
                lane_capture_cgs(lane, NULL, NULL, false, false);
            }
            memset(cap_tx, 0, sizeof(cap_tx));
            memset(cap_rx, 0, sizeof(cap_rx));
        }
        now += g_rand_int_range(r, 0, 40) * US;
        for (int k = 0; k < 2; k++) {
            pair_timers(pairs[k], now);
            pair_pump(pairs[k], now);
        }
        script_step(r, pairs, now, cap_tx, cap_rx, tx_on);
        for (int k = 0; k < 2; k++) {
            pair_pump(pairs[k], now);
        }
        check_same(&lazy, &full, step);
    }

    /*
     * The lazy pair took most frames without code groups and
     * materialised some; the full pair never saw a data run.
     */
    for (int i = 0; i < 2; i++) {
        s = lane_stats(lazy.e[i].lane);
        g_test_message("end %d: %" G_GUINT64_FORMAT " frames, data runs "
                       "sent %" G_GUINT64_FORMAT ", taken %" G_GUINT64_FORMAT
                       ", materialised %" G_GUINT64_FORMAT, i,
                       s->pcs.frames, s->tx_data_runs, s->rx_data_runs,
                       s->rx_data_materialised);
        g_assert_cmpuint(s->rx_data_runs, >, s->pcs.frames / 4);
        g_assert_cmpuint(s->rx_data_materialised, >, 0);
        g_assert_cmpuint(s->pcs.fcs_errors + s->pcs.frame_cg_errors +
                         s->pcs.disparity_errors + s->pcs.invalid_cgs, >, 0);
        g_assert_cmpuint(s->pcs.sync_lost, >, 0);
        g_assert_cmpuint(s->pcs.util_sets, >, 0);
        s = lane_stats(full.e[i].lane);
        g_assert_cmpuint(s->tx_data_runs + s->rx_data_runs +
                         s->rx_data_materialised, ==, 0);
    }
    pair_free(&lazy);
    pair_free(&full);
    g_rand_free(r);
}

/* ---- hostile data runs ------------------------------------------------- */

static size_t put_rec(uint8_t *b, uint8_t tag, const uint8_t *p, size_t n)
{
    b[0] = tag;
    b[1] = 0;
    b[2] = n & 0xff;
    b[3] = n >> 8;
    memmove(b + 4, p, n);
    return 4 + n;
}

/* A lane that has taken a peer's hello and is in sync. */
static Lane *fed_lane(End *e)
{
    static const uint8_t hello[12] = { 'B', 'P', 'L', 'N', LANE_VERSION };
    LaneConfig c;
    uint8_t b[16];

    lane_config_init(&c, LANE_ROLE_FD, NULL);
    e->trace = g_byte_array_new();
    e->lane = lane_new(&c, &ops, e, 0, NULL);
    g_assert_nonnull(e->lane);
    lane_feed(e->lane, b, put_rec(b, LANE_TAG_HELLO, hello, 12), 0);
    g_assert_true(lane_is_sync_ok(e->lane));
    return e->lane;
}

/*
 * Malformed runs are counted and dropped; well-formed ones, whatever
 * their RD, octets or tail, give what their code groups in a CG record
 * give (materialised here with pcs_tx_frame() where it can say it).
 */
static void test_hostile(void)
{
    static uint8_t b[LANE_REC_HDR + LANE_MAX_PAYLOAD];
    static uint8_t p[LANE_MAX_PAYLOAD];
    static uint16_t cg[LANE_MAX_BURST_CGS + 64];
    End d, f;
    Lane *ld = fed_lane(&d), *lf = fed_lane(&f);
    GRand *r = g_rand_new_with_seed(15);
    uint64_t bad = 0;
    struct {
        size_t octets, tail;
        uint8_t rd;
    } bads[] = {
        { 100, 0, 2 }, { 100, 0, 0xff }, { 63, 0, 0 }, { 9217, 0, 0 },
        { 9216, 30, 0 }, { 0, 0, 0 },
    };

    /* too short for its header or its tail */
    lane_feed(ld, b, put_rec(b, LANE_TAG_DATA, p, 1), 0);
    p[1] = 5;
    lane_feed(ld, b, put_rec(b, LANE_TAG_DATA, p, 11), 0);
    bad += 2;
    g_assert_cmpuint(lane_stats(ld)->bad_records, ==, bad);
    for (size_t i = 0; i < G_N_ELEMENTS(bads); i++) {
        size_t n = LANE_DATA_HDR + bads[i].octets + 2 * bads[i].tail;

        memset(p, 0x55, n);
        p[0] = bads[i].rd;
        p[1] = bads[i].tail;
        lane_feed(ld, b, put_rec(b, LANE_TAG_DATA, p, n), 0);
        g_assert_cmpuint(lane_stats(ld)->bad_records, ==, ++bad);
    }
    g_assert_cmpuint(lane_stats(ld)->pcs.code_groups, ==, 0);

    /* random well-formed runs against their code groups */
    for (unsigned i = 0; i < 3000; i++) {
        size_t len = g_rand_int_range(r, 60, 1600);
        size_t tail = g_rand_int_range(r, 0, 8) ? 0
                      : g_rand_int_range(r, 0, 30);
        unsigned rd = g_rand_int_range(r, 0, 8) ? PCS_RD_NEG : PCS_RD_POS;
        unsigned rd2 = rd;
        size_t k;

        for (size_t j = 0; j < len; j++) {
            p[LANE_DATA_HDR + j] = g_rand_int(r);
        }
        if (g_rand_int_range(r, 0, 4)) {
            eth_fcs_append(p + LANE_DATA_HDR, len);
        } else {
            memset(p + LANE_DATA_HDR + len, g_rand_int(r), 4);
        }
        p[0] = rd;
        p[1] = tail;
        k = pcs_tx_frame_octets(p + LANE_DATA_HDR, len + 4, cg, &rd2);
        for (size_t j = 0; j < tail; j++) {
            /* a tail of anything: code groups, idles, out of range */
            uint16_t v = g_rand_int_range(r, 0, 3) ? 0x0fa
                         : g_rand_int_range(r, 0, 0x1000);

            cg[k + j] = v;
            p[LANE_DATA_HDR + len + 4 + 2 * j] = v & 0xff;
            p[LANE_DATA_HDR + len + 4 + 2 * j + 1] = v >> 8;
        }
        lane_feed(ld, b, put_rec(b, LANE_TAG_DATA, p,
                                 LANE_DATA_HDR + len + 4 + 2 * tail), 0);
        for (size_t j = 0; j < k + tail; j++) {
            p[2 * j] = cg[j] & 0xff;
            p[2 * j + 1] = cg[j] >> 8;
        }
        lane_feed(lf, b, put_rec(b, LANE_TAG_CG, p, 2 * (k + tail)), 0);
        g_assert_cmpmem(&lane_stats(ld)->pcs, sizeof(PcsRxCounters),
                        &lane_stats(lf)->pcs, sizeof(PcsRxCounters));
        g_assert_cmpuint(lane_stats(ld)->rx_dropped_link_down, ==,
                         lane_stats(lf)->rx_dropped_link_down);
        g_assert_cmpmem(d.trace->data, d.trace->len,
                        f.trace->data, f.trace->len);
        g_assert_cmpuint(lane_is_sync_ok(ld), ==, lane_is_sync_ok(lf));
    }
    g_assert_cmpuint(lane_stats(ld)->bad_records, ==, bad);
    g_assert_cmpuint(lane_stats(ld)->rx_data_runs, >, 0);
    g_assert_cmpuint(lane_stats(ld)->rx_data_materialised, >, 0);
    g_assert_cmpuint(lane_stats(ld)->pcs.fcs_errors, >, 0);
    g_assert_cmpuint(lane_stats(ld)->pcs.disparity_errors, >, 0);
    lane_free(ld);
    lane_free(lf);
    g_byte_array_unref(d.trace);
    g_byte_array_unref(f.trace);
    g_rand_free(r);
}

/*
 * pcs_tx_frame_octets() is pcs_tx_frame() for octets already padded and
 * with FCS, and pcs_tx_frame_octets_rd() its RD.
 */
static void test_frame_octets(void)
{
    static uint16_t a[PCS_FRAME_MAX_CGS(ETH_MAX_FRAME)];
    static uint16_t b[PCS_FRAME_MAX_CGS(ETH_MAX_FRAME)];
    static uint8_t f[ETH_MAX_FRAME];
    GRand *r = g_rand_new_with_seed(3);

    for (size_t len = 0; len <= ETH_MAX_FRAME - 4;
         len += len < 200 ? 1 : g_rand_int_range(r, 1, 400)) {
        for (unsigned rd0 = 0; rd0 < 2; rd0++) {
            unsigned ra = rd0, rb = rd0, rc = rd0;
            size_t padded = MAX(len, 60), na, nb;

            for (size_t i = 0; i < len; i++) {
                f[i] = g_rand_int(r);
            }
            na = pcs_tx_frame(f, len, a, &ra);
            memset(f + len, 0, padded - len);
            eth_fcs_append(f, padded);
            nb = pcs_tx_frame_octets(f, padded + 4, b, &rb);
            pcs_tx_frame_octets_rd(f, padded + 4, &rc);
            g_assert_cmpuint(na, ==, nb);
            g_assert_cmpuint(nb, ==, PCS_FRAME_OCTETS_CGS(padded + 4));
            g_assert_cmpmem(a, na * 2, b, nb * 2);
            g_assert_cmpuint(ra, ==, rb);
            g_assert_cmpuint(rb, ==, rc);
        }
    }
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    static const LazyCase configs[] = {
        { 1, 1000, PCS_UTIL_FORM_IDLE },
        { 2, 0, PCS_UTIL_FORM_IDLE },
        { 3, 1000, PCS_UTIL_FORM_EXPANDED },
        { 4, 0, PCS_UTIL_FORM_EXPANDED },
    };

    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/lane-lazy/frame-octets", test_frame_octets);
    for (size_t i = 0; i < G_N_ELEMENTS(configs); i++) {
        g_autofree char *name = g_strdup_printf(
            "/lane-lazy/same-as-full/%s-%s",
            configs[i].speed ? "paced" : "unpaced",
            configs[i].form == PCS_UTIL_FORM_IDLE ? "idle" : "expanded");

        g_test_add_data_func(name, &configs[i], test_same_as_full);
    }
    g_test_add_func("/lane-lazy/hostile", test_hostile);
    return g_test_run();
}
