/*
 * Unit tests of net/tdm-bus.c, the TDM backplane bus's controller: the
 * schedules slot by slot, fairness and weights, on demand, frames cut
 * over slots, utilization sets in spare capacity, the next event, the
 * refused schedules.  Time is the test's: nanoseconds it chooses.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <errno.h>
#include <string.h>

#include "tdm-bus.h"

#define MAXO TDM_MAX_OWNERS

typedef struct Rec {
    unsigned frames[MAXO];
    uint64_t last_done_ns[MAXO];
    unsigned reports[MAXO];
    uint64_t report_ns[MAXO];
    bool report_in_gap[MAXO];
    unsigned events;            /* frames and sets, any owner */
    unsigned grants_traced;
    int last_grant_owner;
    uint64_t idle_slots;
} Rec;

static void rec_frame(void *opaque, unsigned o, uint64_t t, uint64_t delay)
{
    Rec *r = opaque;

    r->frames[o]++;
    r->last_done_ns[o] = t;
    r->events++;
}

static void rec_report(void *opaque, unsigned o, uint64_t t, uint64_t delay,
                       bool in_gap)
{
    Rec *r = opaque;

    r->reports[o]++;
    r->report_ns[o] = t;
    r->report_in_gap[o] = in_gap;
    r->events++;
}

static void rec_grant(void *opaque, uint64_t slot, int o, uint64_t t,
                      uint32_t octets)
{
    Rec *r = opaque;

    r->grants_traced++;
    r->last_grant_owner = o;
}

static void rec_idle(void *opaque, uint64_t slot, uint64_t n)
{
    Rec *r = opaque;

    r->idle_slots += n;
}

static const TdmOps rec_ops = {
    .frame_done = rec_frame,
    .report_done = rec_report,
    .grant = rec_grant,
    .idle = rec_idle,
};

static TdmBus *bus_new(const TdmConfig *cfg, Rec *rec)
{
    char err[160] = "";
    TdmBus *b;

    memset(rec, 0, sizeof(*rec));
    if (!tdm_config_check(cfg, err, sizeof(err))) {
        g_error("config refused: %s", err);
    }
    b = tdm_bus_new(cfg, &rec_ops, rec, 0);
    g_assert_nonnull(b);
    return b;
}

/* Keep @n frames of @len queued for each owner in @mask at @now. */
static void keep_full(TdmBus *b, uint64_t mask, unsigned n, size_t len,
                      uint64_t now)
{
    unsigned o;

    for (o = 0; o < tdm_bus_config(b)->owners; o++) {
        TdmOwnerStats st;

        if (!(mask >> o & 1)) {
            continue;
        }
        tdm_bus_owner_stats(b, o, &st);
        while (st.queued < n) {
            g_assert_cmpint(tdm_bus_enqueue(b, o, len, now), ==, 0);
            tdm_bus_owner_stats(b, o, &st);
        }
    }
}

/*
 * Run to @end in steps of @step ns, topping every owner of @mask up to 32
 * frames of @len before each step (more than a step takes): saturated
 * owners.
 */
static void run_saturated(TdmBus *b, uint64_t mask, size_t len,
                          uint64_t from, uint64_t end, uint64_t step)
{
    uint64_t t;

    for (t = from; t < end; t += step) {
        keep_full(b, mask, 32, len, t);
        tdm_bus_advance(b, MIN(t + step, end));
    }
}

static uint64_t octets(TdmBus *b, unsigned o)
{
    TdmOwnerStats st;

    tdm_bus_owner_stats(b, o, &st);
    return st.octets;
}

static TdmOwnerStats ostats(TdmBus *b, unsigned o)
{
    TdmOwnerStats st;

    tdm_bus_owner_stats(b, o, &st);
    return st;
}

static double jain(const double *x, unsigned n)
{
    double s = 0, s2 = 0;
    unsigned i;

    for (i = 0; i < n; i++) {
        s += x[i];
        s2 += x[i] * x[i];
    }
    return s * s / (n * s2);
}

/* ---- configuration ------------------------------------------------------- */

static void expect_refused(const TdmConfig *cfg, const char *what)
{
    char err[160] = "";

    g_assert_false(tdm_config_check(cfg, err, sizeof(err)));
    if (!strstr(err, what)) {
        g_error("expected '%s' in '%s'", what, err);
    }
    g_assert_null(tdm_bus_new(cfg, &rec_ops, NULL, 0));
}

static void test_config_errors(void)
{
    TdmConfig c;
    char err[160];

    tdm_config_init(&c, 5);
    g_assert_true(tdm_config_check(&c, err, sizeof(err)));

    c.slot_octets = 0;
    expect_refused(&c, "zero-length TDM frames");
    c.slot_octets = 32;
    expect_refused(&c, "a slot is 64 to 16384 octets, not 32");
    c.slot_octets = 512;

    c.speed_mbps = 0;
    expect_refused(&c, "1 to 400000 Mb/s, not 0");
    c.speed_mbps = 10000;

    /* a slot shorter than the controller runs: 256 octets at 10 Gb/s */
    c.speed_mbps = 10241;
    c.slot_octets = 256;
    expect_refused(&c, "slots of 256 octets at 10241 Mb/s last under 200 "
                   "ns, the shortest the controller runs: at that rate, "
                   "slots of at least 257 octets");
    c.slot_octets = 257;
    g_assert_true(tdm_config_check(&c, err, sizeof(err)));
    c.slot_octets = 512;
    c.speed_mbps = 10000;

    c.schedule = TDM_WEIGHTED;
    memset(c.weight, 0, sizeof(c.weight));
    expect_refused(&c, "the weights sum to zero");
    c.weight[0] = 3;
    c.weight[1] = 2;
    expect_refused(&c, "weighted, every transceiver needs a slot (1 and "
                   "up): transceiver 2 has 0");
    c.weight[2] = c.weight[3] = c.weight[4] = 1;
    c.frame_slots = 7;
    expect_refused(&c, "8 slots asked for, more than the frame holds (7)");
    c.frame_slots = 8;
    g_assert_true(tdm_config_check(&c, err, sizeof(err)));

    c.schedule = TDM_EQUAL;
    c.frame_slots = 4;
    expect_refused(&c, "one slot for each transceiver: 5 slots asked for, "
                   "more than the frame holds (4)");
    c.frame_slots = TDM_MAX_FRAME_SLOTS + 1;
    expect_refused(&c, "at most 4096 slots");
    c.frame_slots = 0;

    c.schedule = TDM_ON_DEMAND;
    c.weight[2] = 0;
    expect_refused(&c, "transceiver 2 has 0");
    tdm_config_init(&c, 5);
    c.schedule = TDM_ON_DEMAND;
    g_assert_true(tdm_config_check(&c, err, sizeof(err)));

    c.owners = 0;
    expect_refused(&c, "1 to 65 transceivers");
    c.owners = TDM_MAX_OWNERS + 1;
    expect_refused(&c, "1 to 65 transceivers");

    /* A weight sum past the largest frame, with the frame left to size. */
    tdm_config_init(&c, 2);
    c.schedule = TDM_WEIGHTED;
    c.weight[0] = 4000;
    c.weight[1] = 97;
    expect_refused(&c, "4097 slots asked for, more than the frame holds "
                   "(4096)");
}

/* ---- time ---------------------------------------------------------------- */

/*
 * A 1518-octet frame costs 1542 octets: at 10 Gb/s 1233.6 ns, alone on an
 * equal bus of two transceivers it takes slots 0, 2, 4 and 6 octets of
 * slot 6 (512-octet slots): its last octet at 3078 x 0.8 = 2462.4 ns,
 * rounded up.
 */
static void test_segmentation(void)
{
    TdmConfig c;
    Rec rec;
    TdmBus *b;

    tdm_config_init(&c, 2);
    b = bus_new(&c, &rec);
    g_assert_cmpuint(tdm_frame_octets(1518), ==, 1542);
    g_assert_cmpuint(tdm_frame_octets(20), ==, 84);
    g_assert_cmpint(tdm_bus_enqueue(b, 0, 1518, 0), ==, 0);
    g_assert_cmpuint(tdm_bus_next_event(b), ==, 2463);
    tdm_bus_advance(b, 2462);
    g_assert_cmpuint(rec.frames[0], ==, 0);
    tdm_bus_advance(b, 2463);
    g_assert_cmpuint(rec.frames[0], ==, 1);
    g_assert_cmpuint(rec.last_done_ns[0], ==, 2463);
    g_assert_cmpuint(ostats(b, 0).delay_ns, ==, 2463);
    g_assert_cmpuint(ostats(b, 0).octets, ==, 1542);
    /* owner 1 had slots 1, 3 and 5 and sent nothing in them */
    g_assert_cmpuint(ostats(b, 1).wasted, ==, 3);
    g_assert_cmpuint(ostats(b, 0).wasted, ==, 0);
    g_assert_cmpfloat(tdm_bus_octets_ns(b, 512), ==, 409.6);
    tdm_bus_free(b);
}

/*
 * A frame queued in the middle of its owner's slot goes at once, in the
 * rest of that slot.
 */
static void test_mid_slot_arrival(void)
{
    TdmConfig c;
    Rec rec;
    TdmBus *b;

    tdm_config_init(&c, 2);
    b = bus_new(&c, &rec);
    /* slot 2 (owner 0) spans 819.2 .. 1228.8 ns; 900 ns is octet 1125 */
    tdm_bus_enqueue(b, 0, 60, 900);
    /* 84 octets from 1125: 1209 x 0.8 = 967.2 */
    g_assert_cmpuint(tdm_bus_next_event(b), ==, 968);
    tdm_bus_advance(b, 968);
    g_assert_cmpuint(rec.frames[0], ==, 1);
    g_assert_cmpuint(ostats(b, 0).delay_ns, ==, 68);
    /* queued in owner 1's slot, owner 0 waits for its next one */
    tdm_bus_enqueue(b, 0, 60, 1300);
    g_assert_cmpuint(tdm_bus_next_event(b), ==, (2048 + 84) * 8 / 10 + 1);
    tdm_bus_free(b);
}

/* ---- the schedules ------------------------------------------------------- */

/*
 * Equal: five transceivers, one slot each a frame, in turn.  Four of them
 * saturated for 1000 frames: each sent 1000 slots' octets exactly, the
 * fifth wasted its 1000 slots, and the bus was busy 4/5 of the time.
 */
static void test_equal_exact(void)
{
    enum { FRAMES = 1000, F = 5 };
    TdmConfig c;
    Rec rec;
    TdmBus *b;
    TdmStats st;
    unsigned o;
    /* 5 slots of 500 octets at 10 Gb/s: a frame every 2 us */
    uint64_t end = FRAMES * 2000;

    tdm_config_init(&c, F);
    c.slot_octets = 500;
    b = bus_new(&c, &rec);
    for (o = 0; o < F; o++) {
        g_assert_cmpint(tdm_bus_map(b, o), ==, o);
    }
    run_saturated(b, 0xf, 1518, 0, end, 10000);
    for (o = 0; o < 4; o++) {
        g_assert_cmpuint(ostats(b, o).grants, ==, FRAMES);
        g_assert_cmpuint(ostats(b, o).wasted, ==, 0);
        g_assert_cmpuint(ostats(b, o).octets, ==, FRAMES * 500);
        g_assert_cmpuint(ostats(b, o).frame_slots, ==, 1);
    }
    g_assert_cmpuint(ostats(b, 4).grants, ==, FRAMES);
    g_assert_cmpuint(ostats(b, 4).wasted, ==, FRAMES);
    g_assert_cmpuint(ostats(b, 4).octets, ==, 0);
    tdm_bus_stats(b, &st);
    g_assert_cmpuint(st.slots, ==, FRAMES * F);
    g_assert_cmpuint(st.idle_slots, ==, 0);
    g_assert_cmpuint(st.elapsed_octets, ==, FRAMES * F * 500);
    g_assert_cmpuint(st.busy_octets * 5, ==, st.elapsed_octets * 4);
    g_assert_cmpuint(rec.grants_traced, ==, FRAMES * F);
    tdm_bus_free(b);
}

/*
 * Weighted 1:2:3:4 in a frame of 10: each owner's octets are its weight's
 * share exactly, its slots spread (no owner holds slots j and j + 1 but
 * the heaviest, which holds 4 of 10).
 */
static void test_weighted_shares(void)
{
    static const uint32_t w[] = { 1, 2, 3, 4 };
    TdmConfig c;
    Rec rec;
    TdmBus *b;
    double share[4];
    uint64_t total = 0;
    unsigned o, j, held[4] = { 0 };

    tdm_config_init(&c, 4);
    c.schedule = TDM_WEIGHTED;
    c.slot_octets = 250;
    memcpy(c.weight, w, sizeof(w));
    b = bus_new(&c, &rec);
    for (j = 0; j < 10; j++) {
        int m = tdm_bus_map(b, j);

        g_assert_cmpint(m, >=, 0);
        g_assert_cmpint(m, <, 4);
        held[m & 3]++;
        if (m < 3) {
            g_assert_cmpint(tdm_bus_map(b, (j + 1) % 10), !=, m);
        }
    }
    for (o = 0; o < 4; o++) {
        g_assert_cmpuint(held[o], ==, w[o]);
    }
    /* 2000 frames of 10 slots of 200 ns */
    run_saturated(b, 0xf, 1000, 0, 2000 * 2000, 5000);
    for (o = 0; o < 4; o++) {
        total += octets(b, o);
    }
    for (o = 0; o < 4; o++) {
        share[o] = (double)octets(b, o) / total;
        g_assert_cmpuint(octets(b, o), ==, 2000 * w[o] * 250);
        g_assert_cmpfloat(share[o], ==, w[o] / 10.0);
    }
    tdm_bus_free(b);
}

/* A frame longer than the weights: the slots beyond are no one's. */
static void test_weighted_spare_slots(void)
{
    TdmConfig c;
    Rec rec;
    TdmBus *b;
    TdmStats st;
    unsigned j, none = 0;

    tdm_config_init(&c, 2);
    c.schedule = TDM_WEIGHTED;
    c.weight[0] = 3;
    c.weight[1] = 1;
    c.frame_slots = 6;
    b = bus_new(&c, &rec);
    for (j = 0; j < 6; j++) {
        none += tdm_bus_map(b, j) < 0;
    }
    g_assert_cmpuint(none, ==, 2);
    run_saturated(b, 0x3, 1518, 0, 6 * 100 * 4096 / 10, 10000);
    tdm_bus_stats(b, &st);
    g_assert_cmpuint(st.slots, ==, 600);
    g_assert_cmpuint(st.idle_slots, ==, 200);
    g_assert_cmpuint(ostats(b, 0).grants, ==, 300);
    g_assert_cmpuint(ostats(b, 1).grants, ==, 100);
    tdm_bus_free(b);
}

/*
 * On demand: of four transceivers two are busy and share every slot
 * equally; the idle two are granted none and waste none.  When one of
 * the busy two stops, the other takes all.
 */
static void test_on_demand(void)
{
    TdmConfig c;
    Rec rec;
    TdmBus *b;
    TdmStats st;
    uint64_t before, before2;

    tdm_config_init(&c, 4);
    c.schedule = TDM_ON_DEMAND;
    c.slot_octets = 500;
    b = bus_new(&c, &rec);
    run_saturated(b, 0x5, 1518, 0, 4000000, 10000);
    g_assert_cmpuint(octets(b, 0), ==, octets(b, 2));
    g_assert_cmpuint(octets(b, 0) + octets(b, 2), ==, 4000000 * 10 / 8);
    g_assert_cmpuint(ostats(b, 1).grants, ==, 0);
    g_assert_cmpuint(ostats(b, 3).grants, ==, 0);
    g_assert_cmpuint(ostats(b, 0).wasted + ostats(b, 2).wasted, ==, 0);
    tdm_bus_stats(b, &st);
    g_assert_cmpuint(st.busy_octets, ==, st.elapsed_octets);

    /*
     * owner 2 stops queueing: once its last frames are through, owner 0
     * has the whole bus (but for the rest of the slot owner 2's last frame
     * ended in: a slot is one owner's)
     */
    before = octets(b, 0);
    before2 = octets(b, 2);
    run_saturated(b, 0x1, 1518, 4000000, 5000000, 10000);
    g_assert_cmpuint(octets(b, 2) - before2, <=, 32 * 1542);
    g_assert_cmpuint(octets(b, 0) - before + octets(b, 2) - before2, >,
                     1000000 * 10 / 8 - 500);
    tdm_bus_free(b);
}

/* On demand with weights 1 and 3: a quarter and three quarters. */
static void test_on_demand_weights(void)
{
    TdmConfig c;
    Rec rec;
    TdmBus *b;

    tdm_config_init(&c, 3);
    c.schedule = TDM_ON_DEMAND;
    c.slot_octets = 500;
    c.weight[0] = 1;
    c.weight[1] = 3;
    c.weight[2] = 5;
    b = bus_new(&c, &rec);
    /* 4 slots of 400 ns: 1000 rounds of 1:3 */
    run_saturated(b, 0x3, 1518, 0, 1600000, 8000);
    g_assert_cmpuint(octets(b, 0), ==, 1000 * 500);
    g_assert_cmpuint(octets(b, 1), ==, 3000 * 500);
    g_assert_cmpuint(ostats(b, 2).grants, ==, 0);
    tdm_bus_free(b);
}

/*
 * Fairness: eight saturated transceivers of equal weight, frames of
 * mixed lengths: Jain's index of their octets is 1, to rounding, under
 * each schedule.
 */
static void test_fairness(void)
{
    static const TdmSchedule sched[] = { TDM_EQUAL, TDM_WEIGHTED,
                                         TDM_ON_DEMAND };
    unsigned i, o, k;

    for (i = 0; i < G_N_ELEMENTS(sched); i++) {
        TdmConfig c;
        Rec rec;
        TdmBus *b;
        double x[8];
        uint64_t t;

        tdm_config_init(&c, 8);
        c.schedule = sched[i];
        b = bus_new(&c, &rec);
        for (t = 0, k = 0; t < 20000000; t += 10000, k++) {
            for (o = 0; o < 8; o++) {
                TdmOwnerStats st = ostats(b, o);

                while (st.queued < 8) {
                    tdm_bus_enqueue(b, o, 60 + (k * 7 + o * 131 +
                                                st.queued * 977) % 1459, t);
                    st = ostats(b, o);
                }
            }
            tdm_bus_advance(b, t + 10000);
        }
        for (o = 0; o < 8; o++) {
            x[o] = octets(b, o);
        }
        g_assert_cmpfloat(jain(x, 8), >=, 0.99999);
        tdm_bus_free(b);
    }
}

/*
 * A transceiver that floods gets its share and no more: under equal
 * slots a fifth of the bus whatever it queues, and the others' frames
 * still cross within a few frames; on demand, its share of what the
 * others leave.
 */
static void test_flood_held(void)
{
    TdmConfig c;
    Rec rec;
    TdmBus *b;
    uint64_t t;
    unsigned o;

    tdm_config_init(&c, 5);
    c.slot_octets = 500;
    b = bus_new(&c, &rec);
    for (t = 0; t < 2000000; t += 2000) {
        keep_full(b, 0x1, 4000, 1518, t);      /* a deep flood */
        for (o = 1; o < 5; o++) {
            if (t % 20000 == 0) {
                tdm_bus_enqueue(b, o, 200, t);  /* light, steady */
            }
        }
        tdm_bus_advance(b, t + 2000);
    }
    g_assert_cmpuint(octets(b, 0), <=, 1000 * 500);
    for (o = 1; o < 5; o++) {
        /* 100 frames each, none waited more than its next slot or two */
        g_assert_cmpuint(ostats(b, o).frames, ==, 100);
        g_assert_cmpuint(ostats(b, o).delay_max_ns, <=, 2 * 2000);
    }
    tdm_bus_free(b);

    tdm_config_init(&c, 5);
    c.schedule = TDM_ON_DEMAND;
    c.slot_octets = 500;
    b = bus_new(&c, &rec);
    run_saturated(b, 0x1f, 1518, 0, 1000000, 5000);
    for (t = 1000000; t < 3000000; t += 5000) {
        keep_full(b, 0x1, 4000, 1518, t);
        keep_full(b, 0x1e, 8, 1518, t);
        tdm_bus_advance(b, t + 5000);
    }
    for (o = 1; o < 5; o++) {
        g_assert_cmpuint(octets(b, 0), <=, octets(b, o) + 500);
    }
    tdm_bus_free(b);
}

/* ---- utilization sets ---------------------------------------------------- */

/*
 * On an empty bus a set crosses in the first 12 unused octets; on a bus
 * saturated on demand, in the gap of the next frame: the frames' octets
 * are the same with and without sets.
 */
static void test_reports(void)
{
    TdmConfig c;
    Rec rec;
    TdmBus *b;
    uint64_t with = 0, without = 0;
    unsigned run;

    tdm_config_init(&c, 3);
    b = bus_new(&c, &rec);
    tdm_bus_report(b, 2, 1000);
    /* octet 1250 + 12 = 1262: 1009.6 ns */
    g_assert_cmpuint(tdm_bus_next_event(b), ==, 1010);
    tdm_bus_advance(b, 1010);
    g_assert_cmpuint(rec.reports[2], ==, 1);
    g_assert_false(rec.report_in_gap[2]);
    g_assert_cmpuint(ostats(b, 2).report_delay_ns, ==, 10);
    tdm_bus_free(b);

    for (run = 0; run < 2; run++) {
        uint64_t t;

        tdm_config_init(&c, 3);
        c.schedule = TDM_ON_DEMAND;
        b = bus_new(&c, &rec);
        for (t = 0; t < 1000000; t += 5000) {
            keep_full(b, 0x3, 8, 1518, t);
            if (run && t % 50000 == 0) {
                tdm_bus_report(b, 2, t);    /* the idle one reports */
            }
            tdm_bus_advance(b, t + 5000);
        }
        if (run) {
            with = octets(b, 0) + octets(b, 1);
            g_assert_cmpuint(rec.reports[2], ==, 20);
            g_assert_true(rec.report_in_gap[2]);
            /* within a frame of 1542 octets */
            g_assert_cmpuint(ostats(b, 2).report_delay_ns, <=, 20 * 1234);
        } else {
            without = octets(b, 0) + octets(b, 1);
        }
        tdm_bus_free(b);
    }
    g_assert_cmpuint(with, ==, without);
}

/* A later set replaces a waiting one, which keeps its place. */
static void test_report_replaced(void)
{
    TdmConfig c;
    Rec rec;
    TdmBus *b;

    tdm_config_init(&c, 2);
    b = bus_new(&c, &rec);
    keep_full(b, 0x3, 4, 1518, 0);
    tdm_bus_report(b, 0, 0);
    tdm_bus_report(b, 0, 100);
    tdm_bus_advance(b, 20000);
    g_assert_cmpuint(rec.reports[0], ==, 1);
    tdm_bus_free(b);
}

/* ---- the next event and the idle shortcut -------------------------------- */

/*
 * Random schedules and arrivals: nothing crosses before the next event
 * the bus announces, and something crosses at it.
 */
static void test_next_event(void)
{
    GRand *rnd = g_rand_new_with_seed(19);
    unsigned round;

    for (round = 0; round < 300; round++) {
        TdmConfig c;
        Rec rec;
        TdmBus *b;
        uint64_t t = 0;
        unsigned o, step;

        tdm_config_init(&c, g_rand_int_range(rnd, 1, 9));
        c.schedule = g_rand_int_range(rnd, 0, 3);
        c.speed_mbps = g_rand_int_range(rnd, 1, 5) * 2500 + 7;
        /* from the shortest slot the controller runs at that speed */
        c.slot_octets = g_rand_int_range(rnd, c.speed_mbps / 40 + 1, 2000);
        for (o = 0; o < c.owners; o++) {
            c.weight[o] = g_rand_int_range(rnd, c.schedule != TDM_EQUAL, 4);
        }
        c.weight[0] = MAX(c.weight[0], 1);
        b = bus_new(&c, &rec);
        for (step = 0; step < 200; step++) {
            uint64_t next, before;

            t += g_rand_int_range(rnd, 0, 3000);
            tdm_bus_advance(b, t);
            if (g_rand_boolean(rnd)) {
                tdm_bus_enqueue(b, g_rand_int_range(rnd, 0, c.owners),
                                g_rand_int_range(rnd, 14, 9019), t);
            }
            if (g_rand_int_range(rnd, 0, 8) == 0) {
                tdm_bus_report(b, g_rand_int_range(rnd, 0, c.owners), t);
            }
            next = tdm_bus_next_event(b);
            if (next == TDM_NEVER) {
                continue;
            }
            g_assert_cmpuint(next, >=, t);
            before = rec.events;
            if (next > t) {
                tdm_bus_advance(b, next - 1);
                g_assert_cmpuint(rec.events, ==, before);
            }
            tdm_bus_advance(b, next);
            g_assert_cmpuint(rec.events, >, before);
            t = next;
        }
        tdm_bus_free(b);
    }
    g_rand_free(rnd);
}

/*
 * A long idle spell is counted in one go: the same grants and waste as
 * slot by slot, and reported once.
 */
static void test_idle_shortcut(void)
{
    TdmConfig c;
    Rec rec, rec2;
    TdmBus *b, *b2;
    TdmStats st, st2;
    uint64_t t;
    unsigned o;

    /* three of five slots owned, two held by no one */
    tdm_config_init(&c, 2);
    c.schedule = TDM_WEIGHTED;
    c.weight[0] = 2;
    c.weight[1] = 1;
    c.frame_slots = 5;
    b = bus_new(&c, &rec);
    b2 = bus_new(&c, &rec2);
    tdm_bus_advance(b, 1000000000);     /* a second at once */
    for (t = 0; t <= 1000000000; t += 333) {
        tdm_bus_advance(b2, t);         /* in small steps */
    }
    tdm_bus_advance(b2, 1000000000);
    tdm_bus_stats(b, &st);
    tdm_bus_stats(b2, &st2);
    g_assert_cmpuint(st.slots, ==, st2.slots);
    g_assert_cmpuint(st.idle_slots, ==, st2.idle_slots);
    for (o = 0; o < 2; o++) {
        g_assert_cmpuint(ostats(b, o).grants, ==, ostats(b2, o).grants);
        g_assert_cmpuint(ostats(b, o).wasted, ==, ostats(b2, o).grants);
    }
    g_assert_cmpuint(ostats(b, 0).grants + ostats(b, 1).grants, <,
                     st.slots);
    g_assert_cmpuint(rec.grants_traced, ==, 0);
    g_assert_cmpuint(rec.idle_slots, ==, st.slots);
    tdm_bus_free(b);
    tdm_bus_free(b2);
}

/* ---- changes ------------------------------------------------------------- */

static void test_set_schedule(void)
{
    TdmConfig c, w;
    Rec rec;
    TdmBus *b;
    char err[160];
    uint64_t a0, a1;

    tdm_config_init(&c, 2);
    c.slot_octets = 500;
    b = bus_new(&c, &rec);
    run_saturated(b, 0x3, 1518, 0, 400000, 4000);
    g_assert_cmpuint(octets(b, 0), ==, octets(b, 1));
    w = c;
    w.schedule = TDM_WEIGHTED;
    w.weight[0] = 3;
    w.weight[1] = 1;
    w.frame_slots = 2;
    g_assert_false(tdm_bus_set_schedule(b, &w, 400000, err, sizeof(err)));
    g_assert_nonnull(strstr(err, "more than the frame holds (2)"));
    w.frame_slots = 0;
    w.slot_octets = 256;
    g_assert_false(tdm_bus_set_schedule(b, &w, 400000, err, sizeof(err)));
    w.slot_octets = 500;
    g_assert_true(tdm_bus_set_schedule(b, &w, 400000, err, sizeof(err)));
    a0 = octets(b, 0);
    a1 = octets(b, 1);
    run_saturated(b, 0x3, 1518, 400000, 800000, 4000);
    g_assert_cmpuint(octets(b, 0) - a0, ==, 3 * (octets(b, 1) - a1));
    tdm_bus_free(b);
}

/* A transceiver whose link went down: its frames are dropped unsent. */
static void test_purge(void)
{
    TdmConfig c;
    Rec rec;
    TdmBus *b;

    tdm_config_init(&c, 2);
    b = bus_new(&c, &rec);
    keep_full(b, 0x1, 5, 1518, 0);
    tdm_bus_report(b, 0, 0);
    tdm_bus_advance(b, 500);
    g_assert_cmpuint(tdm_bus_purge(b, 0, 500), ==, 5);
    g_assert_cmpuint(ostats(b, 0).dropped, ==, 5);
    g_assert_cmpuint(ostats(b, 0).queued, ==, 0);
    g_assert_cmpuint(tdm_bus_next_event(b), ==, TDM_NEVER);
    tdm_bus_advance(b, 100000);
    g_assert_cmpuint(rec.frames[0], ==, 0);
    g_assert_cmpint(tdm_bus_enqueue(b, 2, 60, 100000), ==, -EINVAL);
    g_assert_cmpint(tdm_bus_enqueue(b, 1, TDM_MAX_FRAME + 1, 100000), ==,
                    -EMSGSIZE);
    tdm_bus_free(b);
}

/*
 * Times from far out neither wrap nor go back: a bus runs 2^62 octets of
 * its time (117 years at 10 Gb/s), then nothing more crosses.
 */
static void test_far_times(void)
{
    TdmConfig c;
    Rec rec;
    TdmBus *b;

    tdm_config_init(&c, 2);
    b = bus_new(&c, &rec);
    tdm_bus_enqueue(b, 0, 60, UINT64_C(1) << 61);
    g_assert_cmpuint(tdm_bus_next_event(b), >, UINT64_C(1) << 61);
    tdm_bus_advance(b, 5);      /* back: taken as the latest time */
    tdm_bus_advance(b, UINT64_MAX);
    g_assert_cmpuint(rec.frames[0], ==, 1);
    tdm_bus_free(b);

    /* 400 Gb/s (slots as short as it runs): 2^62 ns is past its end */
    c.speed_mbps = TDM_MAX_SPEED_MBPS;
    c.slot_octets = 10000;
    b = bus_new(&c, &rec);
    tdm_bus_enqueue(b, 0, 60, UINT64_C(1) << 62);
    g_assert_cmpuint(tdm_bus_next_event(b), ==, TDM_NEVER);
    tdm_bus_advance(b, UINT64_MAX);
    g_assert_cmpuint(rec.frames[0], ==, 0);
    tdm_bus_free(b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tdm-bus/config/errors", test_config_errors);
    g_test_add_func("/tdm-bus/segmentation", test_segmentation);
    g_test_add_func("/tdm-bus/mid-slot-arrival", test_mid_slot_arrival);
    g_test_add_func("/tdm-bus/equal/exact", test_equal_exact);
    g_test_add_func("/tdm-bus/weighted/shares", test_weighted_shares);
    g_test_add_func("/tdm-bus/weighted/spare-slots",
                    test_weighted_spare_slots);
    g_test_add_func("/tdm-bus/on-demand/busy-take-all", test_on_demand);
    g_test_add_func("/tdm-bus/on-demand/weights", test_on_demand_weights);
    g_test_add_func("/tdm-bus/fairness", test_fairness);
    g_test_add_func("/tdm-bus/flood-held", test_flood_held);
    g_test_add_func("/tdm-bus/reports", test_reports);
    g_test_add_func("/tdm-bus/report-replaced", test_report_replaced);
    g_test_add_func("/tdm-bus/next-event", test_next_event);
    g_test_add_func("/tdm-bus/idle-shortcut", test_idle_shortcut);
    g_test_add_func("/tdm-bus/set-schedule", test_set_schedule);
    g_test_add_func("/tdm-bus/purge", test_purge);
    g_test_add_func("/tdm-bus/far-times", test_far_times);
    return g_test_run();
}
