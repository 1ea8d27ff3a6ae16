/*
 * qtest for blade-switch on a TDM bus backplane (backplane-kind=tdm-bus,
 * docs/backplane.md): the test is the blades (their NICs are the bus's
 * transceivers) and the uplink's network.  The chassis runs under qtest,
 * whose clock moves only when the test steps it: the test fills the
 * slots' bus queues with the clock still, then steps it, so each count
 * (slots granted, octets sent, slots wasted) is exact.  Checked: each
 * schedule slot by slot, fairness, weights, on demand, a flooding blade
 * held to its share, utilization carried in spare capacity, what the
 * switch sends the blades taking bus time, balancing and steering, chain
 * and central links, the refused schedules, and the bus in virtual time.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qobject/qdict.h"
#include "qobject/qjson.h"
#include "qobject/qlist.h"
#include "qapi/error.h"
#include "libqos/blade-fabric-harness.h"

#define VIP "10.0.2.100"
/* 250-octet slots at 10 Gb/s: 200 ns each, integral times everywhere. */
#define KIND "\"backplane-kind\": \"tdm-bus\""
#define BUS KIND ", \"bus-slot-bytes\": 250"
#define SLOT_NS 200
#define LEN 1000            /* the saturating frames: 1024 octets on the bus */
/*
 * A slot's bus queue is as deep as a lane's ingress queue: full from 32 x
 * 1518 octets on, so with 49 frames of LEN.
 */
#define QUEUE_FULL 49

static void start(SwHarness *h, unsigned slots, bool uplink,
                  const char *json)
{
    ShOpts o = { .slots = slots, .uplink = uplink, .json = json };
    unsigned i;

    sh_start_opts(h, &o);
    for (i = 0; i < slots; i++) {
        sh_blade_up(h, i, true);
    }
}

static QDict *bus_of(QDict *st)
{
    QDict *bus = qdict_get_qdict(st, "bus");

    g_assert_nonnull(bus);
    return bus;
}

static QDict *xcvr(QDict *st, unsigned i)
{
    return sh_item(bus_of(st), "transceivers", i);
}

/* The bus's counters, per transceiver (the slots, then the switch). */
typedef struct Snap {
    uint64_t grants[SH_MAX_SLOTS + 1], wasted[SH_MAX_SLOTS + 1];
    uint64_t bytes[SH_MAX_SLOTS + 1], frames[SH_MAX_SLOTS + 1];
    uint64_t carried[SH_MAX_SLOTS + 1];
    uint64_t elapsed_ns, busy_ns, idle_slots, in_gaps, in_idle;
} Snap;

static void snap(SwHarness *h, Snap *s)
{
    QDict *st = sh_state(h), *bus = bus_of(st);
    unsigned i;

    for (i = 0; i <= h->slots; i++) {
        QDict *x = xcvr(st, i);

        s->grants[i] = sh_u64(x, "grants");
        s->wasted[i] = sh_u64(x, "wasted");
        s->bytes[i] = sh_u64(x, "bytes");
        s->frames[i] = sh_u64(x, "frames");
        s->carried[i] = i < h->slots ? sh_u64(x, "util-carried") : 0;
    }
    s->elapsed_ns = sh_u64(bus, "elapsed-ns");
    s->busy_ns = sh_u64(bus, "busy-ns");
    s->idle_slots = sh_u64(bus, "idle-slots");
    s->in_gaps = sh_u64(bus, "util-in-gaps");
    s->in_idle = sh_u64(bus, "util-in-idle");
    qobject_unref(st);
}

/*
 * The chassis clock to the next multiple of @ns (a TDM frame's start);
 * a step of 1 ns first reads it (qtest steps by more than 0).
 */
static void align(SwHarness *h, int64_t ns)
{
    int64_t now = qtest_clock_step(h->qts, 1);

    if (now % ns) {
        qtest_clock_step(h->qts, ns - now % ns);
    }
}

/*
 * Blade @slot's frames to itself: they cross the bus in its slots and
 * the engine drops them (destination on the ingress port), so that only
 * the bus is measured.  Queued on its lane until the lane pushes back;
 * returns how many.
 */
static unsigned offer(SwHarness *h, unsigned slot, size_t len)
{
    uint8_t f[1518] = { 0 };
    Lane *lane = h->blades[slot].lane;
    unsigned n = 0;

    sh_eth(f, h->blades[slot].mac, h->blades[slot].mac, 0x88b6);
    while (lane_send_frame(lane, f, len, sh_now(h)) == 0) {
        n++;
    }
    lane_flush(lane, sh_now(h));
    return n;
}

/*
 * With the clock still, offer frames of @len[i] from every blade of @mask
 * until the switch holds @want in each of their bus queues: saturated
 * transceivers for the next step.  Returns the frames offered.
 */
static unsigned fill(SwHarness *h, uint64_t mask, const size_t *len,
                     unsigned *want)
{
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    unsigned i, offered = 0;

    for (;;) {
        bool full = true;
        QDict *st;

        for (i = 0; i < h->slots; i++) {
            if (mask >> i & 1) {
                offered += offer(h, i, len[i]);
            }
        }
        sh_pump(h, 1);
        st = sh_state(h);
        for (i = 0; i < h->slots; i++) {
            if (mask >> i & 1 && sh_u64(xcvr(st, i), "queue") < want[i]) {
                full = false;
            }
        }
        qobject_unref(st);
        if (full) {
            return offered;
        }
        if (g_get_monotonic_time() > end) {
            sh_dump(h);
            g_error("the bus queues did not fill");
        }
    }
}

static unsigned fill_same(SwHarness *h, uint64_t mask)
{
    size_t len[SH_MAX_SLOTS];
    unsigned want[SH_MAX_SLOTS], i;

    for (i = 0; i < SH_MAX_SLOTS; i++) {
        len[i] = LEN;
        want[i] = QUEUE_FULL;
    }
    return fill(h, mask, len, want);
}

/* Fill, then step the clock @ns: the deltas of the bus's counters. */
static void saturated_step(SwHarness *h, uint64_t mask, int64_t ns, Snap *d)
{
    Snap a, b;
    unsigned i;

    fill_same(h, mask);
    snap(h, &a);
    qtest_clock_step(h->qts, ns);
    snap(h, &b);
    for (i = 0; i <= h->slots; i++) {
        d->grants[i] = b.grants[i] - a.grants[i];
        d->wasted[i] = b.wasted[i] - a.wasted[i];
        d->bytes[i] = b.bytes[i] - a.bytes[i];
        d->frames[i] = b.frames[i] - a.frames[i];
        d->carried[i] = b.carried[i] - a.carried[i];
    }
    d->elapsed_ns = b.elapsed_ns - a.elapsed_ns;
    d->busy_ns = b.busy_ns - a.busy_ns;
    d->idle_slots = b.idle_slots - a.idle_slots;
    d->in_gaps = b.in_gaps - a.in_gaps;
    d->in_idle = b.in_idle - a.in_idle;
}

static double jain(const uint64_t *x, unsigned n)
{
    double s = 0, s2 = 0;
    unsigned i;

    for (i = 0; i < n; i++) {
        s += x[i];
        s2 += (double)x[i] * x[i];
    }
    return s * s / (n * s2);
}

/* ---- the schedules ------------------------------------------------------- */

/*
 * Equal slots: four blades and the switch's transceiver, a slot each, a
 * TDM frame every microsecond.  Over 100 frames with the four saturated:
 * 100 slots and 25000 octets each, exactly; the switch, with nothing to
 * send, wasted its 100; the bus was busy 4/5 of the time.
 */
static void test_equal(void)
{
    SwHarness h;
    QDict *st, *bus;
    Snap d;
    unsigned i;

    start(&h, 4, false, BUS);
    st = sh_state(&h);
    bus = bus_of(st);
    g_assert_cmpstr(qdict_get_str(bus, "schedule"), ==, "equal");
    g_assert_cmpuint(sh_u64(bus, "speed-mbps"), ==, 10000);
    g_assert_cmpuint(sh_u64(bus, "frame-slots"), ==, 5);
    g_assert_cmpfloat(qdict_get_double(bus, "slot-ns"), ==, SLOT_NS);
    g_assert_cmpstr(qdict_get_str(xcvr(st, 4), "name"), ==, "switch");
    g_assert_false(qdict_haskey(xcvr(st, 4), "slot"));
    qobject_unref(st);

    align(&h, 5 * SLOT_NS);
    saturated_step(&h, 0xf, 100 * 5 * SLOT_NS, &d);
    for (i = 0; i < 4; i++) {
        g_assert_cmpuint(d.grants[i], ==, 100);
        g_assert_cmpuint(d.wasted[i], ==, 0);
        g_assert_cmpuint(d.bytes[i], ==, 100 * 250);
    }
    g_assert_cmpuint(d.grants[4], ==, 100);
    g_assert_cmpuint(d.wasted[4], ==, 100);
    g_assert_cmpuint(d.bytes[4], ==, 0);
    g_assert_cmpuint(d.elapsed_ns, ==, 100000);
    g_assert_cmpuint(d.busy_ns, ==, 80000);
    /* what crossed met the engine: frames to their own sender, dropped */
    g_assert_cmpuint(sh_drops(&h, "same-port"), >=, 4 * 24);
    sh_stop(&h);
}

/*
 * Weighted slots 1:2:3:4 and 2 for the switch, a frame of 12 slots: over
 * 40 frames (all a full bus queue of the heaviest takes) each blade sent
 * its weight in slots, exactly, and its share of what the blades sent is
 * its weight's.
 */
static void test_weighted(void)
{
    static const unsigned w[4] = { 1, 2, 3, 4 };
    SwHarness h;
    QDict *st;
    Snap d;
    unsigned i;

    start(&h, 4, false, BUS ", \"bus-schedule\": \"weighted\", "
          "\"bus-weights\": [1, 2, 3, 4], \"bus-switch-weight\": 2");
    st = sh_state(&h);
    g_assert_cmpuint(sh_u64(bus_of(st), "frame-slots"), ==, 12);
    for (i = 0; i < 4; i++) {
        g_assert_cmpuint(sh_u64(xcvr(st, i), "weight"), ==, w[i]);
        g_assert_cmpuint(sh_u64(xcvr(st, i), "frame-slots"), ==, w[i]);
    }
    qobject_unref(st);
    align(&h, 12 * SLOT_NS);
    saturated_step(&h, 0xf, 40 * 12 * SLOT_NS, &d);
    for (i = 0; i < 4; i++) {
        g_assert_cmpuint(d.grants[i], ==, 40 * w[i]);
        g_assert_cmpuint(d.bytes[i], ==, 40 * w[i] * 250);
        g_assert_cmpfloat(d.bytes[i] / (10.0 * 40 * 250), ==, w[i] / 10.0);
    }
    g_assert_cmpuint(d.wasted[4], ==, 80);
    sh_stop(&h);
}

/*
 * On demand: blades 0 and 2 busy, 1 and 3 and the switch idle.  The busy
 * two share every slot, the idle ones are granted none: the bus is busy
 * all the time.
 */
static void test_on_demand(void)
{
    SwHarness h;
    Snap d;

    start(&h, 4, false, BUS ", \"bus-schedule\": \"on-demand\"");
    saturated_step(&h, 0x5, 60000, &d);
    g_assert_cmpuint(d.bytes[0] + d.bytes[2], ==, 75000);
    g_assert_cmpint(labs((long)d.bytes[0] - (long)d.bytes[2]), <=, 250);
    g_assert_cmpuint(d.grants[1] + d.grants[3] + d.grants[4], ==, 0);
    g_assert_cmpuint(d.idle_slots, ==, 0);
    g_assert_cmpuint(d.busy_ns, ==, d.elapsed_ns);
    sh_stop(&h);
}

/*
 * Fairness with equal weights: four saturated blades whose frames differ
 * in length (200 to 1400 octets) still get the bus equally, under equal
 * slots and on demand: Jain's index of their octets is 1.
 */
static void test_fairness(void)
{
    static const char *const sched[] = { "equal", "on-demand" };
    size_t len[SH_MAX_SLOTS] = { 200, 600, 1000, 1400 };
    unsigned want[SH_MAX_SLOTS] = { 128, 72, QUEUE_FULL, 35 };
    unsigned k, i;

    for (k = 0; k < G_N_ELEMENTS(sched); k++) {
        g_autofree char *json = g_strdup_printf(BUS ", \"bus-schedule\": "
                                                "\"%s\"", sched[k]);
        SwHarness h;
        Snap a, b;
        uint64_t x[4];

        start(&h, 4, false, json);
        align(&h, 5 * SLOT_NS);
        fill(&h, 0xf, len, want);
        snap(&h, &a);
        qtest_clock_step(h.qts, 20 * 5 * SLOT_NS);
        snap(&h, &b);
        for (i = 0; i < 4; i++) {
            x[i] = b.bytes[i] - a.bytes[i];
        }
        g_test_message("%s: %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64,
                       sched[k], x[0], x[1], x[2], x[3]);
        g_assert_cmpfloat(jain(x, 4), >=, 0.9999);
        sh_stop(&h);
    }
}

/* Frames waiting in the bus queues of the blades of @mask. */
static unsigned queued(SwHarness *h, uint64_t mask)
{
    QDict *st = sh_state(h);
    unsigned i, n = 0;

    for (i = 0; i < h->slots; i++) {
        if (mask >> i & 1) {
            n += sh_u64(xcvr(st, i), "queue");
        }
    }
    qobject_unref(st);
    return n;
}

/*
 * A blade that floods the bus gets its share and no more: blade 0 offers
 * all its lane takes, the others a frame each every 20 us.  Over 1000
 * frames blade 0 sent no more than its 1000 slots; the others' frames all
 * crossed, none waiting longer than a TDM frame and a bit; the switch
 * held at most its queue of blade 0's frames and stopped reading its
 * lane (the test's end of it found the lane full).
 */
static void test_flood_held(void)
{
    uint8_t f[256] = { 0 };
    SwHarness h;
    Snap a, b;
    QDict *st;
    unsigned round, i, offered = 0;
    uint64_t eagain0;

    start(&h, 4, false, BUS);
    align(&h, 5 * SLOT_NS);
    snap(&h, &a);
    eagain0 = lane_stats(h.blades[0].lane)->tx_eagain;
    for (round = 0; round < 50; round++) {
        offered += offer(&h, 0, LEN);
        for (i = 1; i < 4; i++) {
            sh_eth(f, h.blades[i].mac, h.blades[i].mac, 0x88b6);
            sh_blade_send(&h, i, f, 200);
        }
        /* the switch has them all before the clock moves */
        while (queued(&h, 0xe) < 3) {
            sh_pump(&h, 1);
        }
        qtest_clock_step(h.qts, 20000);
    }
    snap(&h, &b);
    st = sh_state(&h);
    g_assert_cmpuint(b.bytes[0] - a.bytes[0], <=,
                     (b.elapsed_ns - a.elapsed_ns) / 1000 * 250);
    for (i = 1; i < 4; i++) {
        g_assert_cmpuint(b.frames[i] - a.frames[i], ==, 50);
        g_assert_cmpuint(sh_u64(xcvr(st, i), "delay-max-ns"), <=, 2000);
    }
    g_assert_cmpuint(sh_u64(xcvr(st, 0), "queue"), <=, QUEUE_FULL);
    /* what blade 0 offered and did not send waits in its lane, or here */
    g_assert_cmpuint(offered - (b.frames[0] - a.frames[0]), >=, QUEUE_FULL);
    g_assert_cmpuint(lane_stats(h.blades[0].lane)->tx_eagain, >, eagain0);
    qobject_unref(st);
    sh_stop(&h);
}

/* ---- utilization in spare capacity --------------------------------------- */

/* Every blade's first set (at link up) crossed, and none waits. */
static bool cond_sets_crossed(SwHarness *h, void *arg)
{
    QDict *st = sh_state(h);
    bool done = true;
    unsigned i;

    for (i = 0; i < h->slots; i++) {
        done &= sh_u64(xcvr(st, i), "util-carried") >= 1 &&
                !qdict_get_bool(xcvr(st, i), "util-waiting");
    }
    qobject_unref(st);
    return done;
}

/*
 * Blade @slot sets new figures; with the clock still, wait until the
 * switch has them from the lane and they wait for the bus (the test's
 * lane sends a new set within its 100 ms interval of wall time).  Only a
 * fresh set waits: nothing else may (cond_sets_crossed() first).
 */
static void util_to_bus(SwHarness *h, unsigned slot, unsigned cpu)
{
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    lane_set_util(h->blades[slot].lane, cpu, 0, sh_now(h));
    lane_flush(h->blades[slot].lane, sh_now(h));
    for (;;) {
        QDict *st = sh_state(h);
        bool waiting = qdict_get_bool(xcvr(st, slot), "util-waiting");

        qobject_unref(st);
        if (waiting) {
            return;
        }
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        sh_pump(h, 1);
    }
}

static uint64_t blade_cpu(SwHarness *h, unsigned slot)
{
    QDict *st = sh_state(h), *b = sh_item(st, "blades", slot);
    uint64_t cpu = qdict_haskey(b, "cpu") ? sh_u64(b, "cpu") : 0;

    qobject_unref(st);
    return cpu;
}

/*
 * Blade 2's utilization set reaches the balancer only once the bus has
 * carried it: on a bus blades 0 and 1 saturate on demand, in the gap of
 * the next frame, and they still send a full bus's octets; on an idle
 * bus, in unused octets of a slot.
 */
static void test_util_carried(void)
{
    SwHarness h;
    Snap a, b;

    start(&h, 3, false, BUS ", \"bus-schedule\": \"on-demand\"");
    sh_wait(&h, cond_sets_crossed, NULL, "the first sets across");

    /* an idle bus: in the first unused octets, 12 octets' time later */
    snap(&h, &a);
    util_to_bus(&h, 2, 17);
    qtest_clock_step(h.qts, 10);
    snap(&h, &b);
    g_assert_cmpuint(blade_cpu(&h, 2), ==, 17);
    g_assert_cmpuint(b.in_idle - a.in_idle, ==, 1);

    /* saturated: in a gap, and the data still fill the bus */
    align(&h, SLOT_NS);
    fill_same(&h, 0x3);
    snap(&h, &a);
    util_to_bus(&h, 2, 42);
    /* on the switch's side of the lane, not across the bus yet */
    g_assert_cmpuint(blade_cpu(&h, 2), ==, 17);
    qtest_clock_step(h.qts, 10000);
    snap(&h, &b);
    g_assert_cmpuint(blade_cpu(&h, 2), ==, 42);
    g_assert_cmpuint(b.carried[2] - a.carried[2], ==, 1);
    g_assert_cmpuint(b.in_gaps - a.in_gaps, ==, 1);
    g_assert_cmpuint(b.bytes[0] - a.bytes[0] + b.bytes[1] - a.bytes[1], ==,
                     12500);
    g_assert_cmpuint(b.busy_ns - a.busy_ns, ==, 10000);
    sh_stop(&h);
}

/* ---- the switch's transceiver -------------------------------------------- */

static void learn(SwHarness *h, unsigned n)
{
    uint8_t f[64] = { 0 };
    unsigned i;

    for (i = 0; i < n; i++) {
        sh_eth(f, sh_bcast, h->blades[i].mac, 0x88b6);
        sh_blade_send(h, i, f, sizeof(f));
    }
    sh_settle(h);
    for (i = 0; i < n; i++) {
        sh_free_frames(&h->blades[i].rx);
    }
    sh_free_frames(&h->up_rx);
}

/*
 * What the switch sends the blades from its uplink crosses the bus in its
 * own transceiver's slots: a frame to blade 0 once, a broadcast once for
 * both blades.  Blade to blade: once, in the sender's slots.
 */
static void test_switch_to_blades(void)
{
    uint8_t f[128] = { 0 };
    SwHarness h;
    Snap a, b;
    unsigned i;

    start(&h, 2, true, BUS);
    learn(&h, 2);
    snap(&h, &a);
    for (i = 0; i < 10; i++) {
        sh_eth(f, h.blades[0].mac, sh_client_mac, 0x88b6);
        sh_uplink_send(&h, f, 100);
    }
    sh_wait_frames(&h, &h.blades[0].rx, 10);
    sh_eth(f, sh_bcast, sh_client_mac, 0x88b6);
    sh_uplink_send(&h, f, 100);
    sh_wait_frames(&h, &h.blades[0].rx, 11);
    sh_wait_frames(&h, &h.blades[1].rx, 1);
    snap(&h, &b);
    g_assert_cmpuint(b.frames[2] - a.frames[2], ==, 11);
    g_assert_cmpuint(b.bytes[2] - a.bytes[2], ==, 11 * (100 + 24));
    g_assert_cmpuint(g_queue_get_length(&h.blades[1].rx), ==, 1);

    sh_eth(f, h.blades[1].mac, h.blades[0].mac, 0x88b6);
    sh_blade_send(&h, 0, f, 100);
    sh_wait_frames(&h, &h.blades[1].rx, 2);
    snap(&h, &a);
    g_assert_cmpuint(a.frames[0] - b.frames[0], ==, 1);
    g_assert_cmpuint(a.frames[2] - b.frames[2], ==, 0);
    sh_stop(&h);
}

/* ---- balancing, steering ------------------------------------------------- */

static void qmp_ok(SwHarness *h, QDict *r)
{
    if (!qdict_haskey(r, "return")) {
        g_autoptr(GString) js = qobject_to_json(QOBJECT(r));

        g_error("QMP: %s", js->str);
    }
    qobject_unref(r);
}

static void add_service(SwHarness *h, const char *policy)
{
    qmp_ok(h, qtest_qmp(h->qts, "{ 'execute': 'blade-switch-add-service', "
                        "'arguments': { 'name': 'web', 'vip': %s, "
                        "'protocol': 'tcp', 'port': 80, 'policy': %s, "
                        "'blades': [ 0, 1, 2 ] } }", VIP, policy));
}

typedef struct Flows {
    unsigned n, want;
} Flows;

static unsigned total_rx(SwHarness *h, unsigned n)
{
    unsigned i, t = 0;

    for (i = 0; i < n; i++) {
        t += g_queue_get_length(&h->blades[i].rx);
    }
    return t;
}

static bool cond_flows(SwHarness *h, void *arg)
{
    Flows *f = arg;

    return total_rx(h, f->n) >= f->want;
}

/* @count new flows from the uplink from port @first: tally the blades. */
static void new_flows(SwHarness *h, unsigned n, uint16_t first,
                      unsigned count, unsigned *got)
{
    uint8_t f[128];
    Flows c = { n, count };
    unsigned i;

    for (i = 0; i < count; i++) {
        sh_uplink_send(h, f, sh_tcp_to_vip(f, first + i, SH_TCP_SYN));
    }
    sh_wait(h, cond_flows, &c, "flows at the blades");
    for (i = 0; i < n; i++) {
        got[i] += g_queue_get_length(&h->blades[i].rx);
        sh_free_frames(&h->blades[i].rx);
    }
}

/*
 * Balancing by the reports the bus carried: the busy blade gets few new
 * flows, and when the load moves, so do they; a steering rule sends its
 * traffic to its blade.  Every flow's frames crossed in the switch's
 * slots.
 */
static void test_balancing(void)
{
    unsigned got[3] = { 0 };
    SwHarness h;
    Snap a, b;

    start(&h, 3, true, BUS);
    learn(&h, 3);
    sh_report(&h, 0, 95, 0);
    sh_report(&h, 1, 10, 0);
    sh_report(&h, 2, 10, 0);
    add_service(&h, "util");
    snap(&h, &a);
    new_flows(&h, 3, 1000, 30, got);
    snap(&h, &b);
    g_assert_cmpuint(got[0] + got[1] + got[2], ==, 30);
    g_assert_cmpuint(got[0], <=, 3);
    g_assert_cmpuint(b.frames[3] - a.frames[3], ==, 30);

    sh_report(&h, 0, 5, 0);
    sh_report(&h, 1, 95, 0);
    sh_report(&h, 2, 95, 0);
    memset(got, 0, sizeof(got));
    new_flows(&h, 3, 2000, 10, got);
    g_assert_cmpuint(got[0], >=, 8);

    qmp_ok(&h, qtest_qmp(h.qts, "{ 'execute': 'blade-switch-add-steering', "
                         "'arguments': { 'name': 'dns', 'protocol': 'tcp', "
                         "'port-min': 80, 'port-max': 80, "
                         "'blades': [ 2 ] } }"));
    memset(got, 0, sizeof(got));
    new_flows(&h, 3, 3000, 10, got);
    g_assert_cmpuint(got[2], ==, 10);
    sh_stop(&h);
}

/* ---- chain and central links --------------------------------------------- */

static bool cond_blade_rx(FabHarness *f, void *arg)
{
    unsigned c = GPOINTER_TO_UINT(arg);

    return g_queue_get_length(&f->h[c].blades[0].rx) >= 1;
}

/* Chassis 1's uplink got the frame that starts as @arg's 14 octets. */
static bool cond_uplink_got(FabHarness *f, void *arg)
{
    ShFrame *got;

    while ((got = sh_pop(&f->h[0].up_rx))) {
        bool it = got->len >= 14 && !memcmp(got->data, arg, 14);

        g_free(got);
        if (it) {
            return true;
        }
    }
    return false;
}

/*
 * A new flow from chassis 1's uplink placed on the blade of chassis
 * @target (a remote service, only that blade in rotation to take it), and
 * its answer back: across both chassis's buses and the links.
 */
static void flow_across(FabHarness *f, unsigned target)
{
    SwHarness *h1 = &f->h[0], *ht = &f->h[target];
    uint8_t fr[128];
    size_t len;
    Snap a, b;

    snap(ht, &a);
    qmp_ok(h1, qtest_qmp(h1->qts, "{ 'execute': 'blade-switch-add-service', "
                         "'arguments': { 'name': 'web', 'vip': %s, "
                         "'protocol': 'tcp', 'port': 80, 'policy': 'util', "
                         "'blades': [ ], 'remote': true } }", VIP));
    sh_uplink_send(h1, fr, sh_tcp_to_vip(fr, 4242, SH_TCP_SYN));
    fh_wait(f, cond_blade_rx, GUINT_TO_POINTER(target), "the SYN");
    len = sh_ip_l4(fr, sh_client_mac, ht->blades[0].mac, 6, VIP, 80,
                   "10.0.2.2", 4242, SH_TCP_SYN | SH_TCP_ACK, 0);
    sh_blade_send(ht, 0, fr, len);
    fh_wait(f, cond_uplink_got, fr, "the answer at the uplink");
    snap(ht, &b);
    /* in from the link: the switch's slots; the answer: the blade's */
    g_assert_cmpuint(b.frames[1] - a.frames[1], >=, 1);
    g_assert_cmpuint(b.frames[0] - a.frames[0], >=, 1);
}

/* Two bus chassis in a chain, c1 with the uplink. */
static void test_chain(void)
{
    g_autoptr(GString) a1 = g_string_new(""), a2 = g_string_new("");
    FabHarness f;

    fh_init(&f, 2, 20);
    fh_netdev(a1, &f, "c0", 0, true);
    fh_netdev(a2, &f, "c0", 0, false);
    fh_start_chassis(&f, 1, a1->str, "[\"c0\"]", 1, BUS);
    fh_start_chassis(&f, 2, a2->str, "[\"c0\"]", 1, BUS);
    fh_blade_ready(&f, 1, 99);
    fh_blade_ready(&f, 2, 10);
    fh_wait(&f, fh_cond_remote, GUINT_TO_POINTER(1), "c2's blade");
    flow_across(&f, 1);
    fh_stop(&f);
}

/* Two bus chassis through a central switch (lanes: it has no slots). */
static void test_central(void)
{
    g_autoptr(GString) hub = g_string_new(""), a1 = g_string_new("");
    g_autoptr(GString) a2 = g_string_new("");
    FabHarness f;

    fh_init(&f, 3, 20);
    fh_netdev(hub, &f, "c0", 0, true);
    fh_netdev(hub, &f, "c1", 1, true);
    fh_netdev(a1, &f, "c0", 0, false);
    fh_netdev(a2, &f, "c0", 1, false);
    fh_start_chassis(&f, 1, a1->str, "[\"c0\"]", 1, BUS);
    fh_start_chassis(&f, 2, a2->str, "[\"c0\"]", 1, BUS);
    fh_start_chassis(&f, 3, hub->str, "[\"c0\", \"c1\"]", 0,
                     "\"fabric-priority\": 4096");
    fh_blade_ready(&f, 1, 99);
    fh_blade_ready(&f, 2, 10);
    fh_wait(&f, fh_cond_remote, GUINT_TO_POINTER(1), "c2's blade");
    flow_across(&f, 1);
    fh_stop(&f);
}

/* ---- refused schedules --------------------------------------------------- */

static void expect_refused(const char *json, const char *args,
                           const char *what)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *dir = g_dir_make_tmp("blade-bus-XXXXXX", NULL);
    g_autofree char *dev = g_strdup_printf("{\"driver\": \"blade-switch\", "
                                           "\"slots\": 4, \"backplane\": "
                                           "\"%s\", %s}", dir, json);
    g_autofree char *err = NULL;
    g_auto(GStrv) extra = g_strsplit(args ? args : "", " ", -1);
    GPtrArray *argv = g_ptr_array_new();
    int status;
    unsigned i;

    g_ptr_array_add(argv, (char *)qemu);
    for (i = 0; extra[i]; i++) {
        if (*extra[i]) {
            g_ptr_array_add(argv, extra[i]);
        }
    }
    g_ptr_array_add(argv, (char *)"-M");
    g_ptr_array_add(argv, (char *)"blade-chassis");
    g_ptr_array_add(argv, (char *)"-display");
    g_ptr_array_add(argv, (char *)"none");
    g_ptr_array_add(argv, (char *)"-nodefaults");
    g_ptr_array_add(argv, (char *)"-device");
    g_ptr_array_add(argv, dev);
    g_ptr_array_add(argv, NULL);
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL,
                               G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                               &err, &status, NULL));
    g_ptr_array_free(argv, true);
    rmdir(dir);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    if (!strstr(err, what)) {
        g_error("%s: expected '%s' in: %s", json, what, err);
    }
}

static void expect_qmp_error(SwHarness *h, const char *args, const char *what)
{
    QDict *r = qtest_qmp(h->qts, "{ 'execute': "
                         "'blade-switch-set-bus-schedule', 'arguments': %p }",
                         qobject_from_json(args, &error_abort));
    const char *desc;

    g_assert(qdict_haskey(r, "error"));
    desc = qdict_get_str(qdict_get_qdict(r, "error"), "desc");
    if (!strstr(desc, what)) {
        g_error("%s: expected '%s' in '%s'", args, what, desc);
    }
    qobject_unref(r);
}

/*
 * Impossible schedules are refused with one line, at realize and in QMP;
 * a good one is taken, from the next slot.
 */
static void test_refused(void)
{
    SwHarness h;
    QDict *st;
    Snap d;

    expect_refused(KIND ", \"bus-slot-bytes\": 0", NULL,
                   "zero-length TDM frames");
    expect_refused(KIND ", \"bus-schedule\": \"weighted\", "
                   "\"bus-weights\": [0, 0, 0, 0], \"bus-switch-weight\": 0",
                   NULL, "the weights sum to zero");
    expect_refused(KIND ", \"bus-schedule\": \"weighted\", "
                   "\"bus-weights\": [3, 3, 3, 3], \"bus-frame-slots\": 8",
                   NULL, "the weights: 13 slots asked for, more than the "
                   "frame holds (8)");
    expect_refused(KIND ", \"bus-frame-slots\": 3", NULL,
                   "one slot for each transceiver: 5 slots asked for, "
                   "more than the frame holds (3)");
    expect_refused(KIND ", \"bus-speed\": 0", NULL, "1 to 400000 Mb/s");
    expect_refused(KIND ", \"bus-slot-bytes\": 64", NULL,
                   "slots of 64 octets at 10000 Mb/s last under 200 ns");
    expect_refused(KIND ", \"bus-schedule\": \"weighted\", "
                   "\"bus-weights\": [1, 0, 1, 1]", NULL,
                   "every transceiver needs a slot");
    expect_refused(KIND ", \"bus-switch-weight\": 5000", NULL,
                   "bus weights are 0 to 4096, not 5000");
    expect_refused(KIND ", \"bus-schedule\": \"on-demand\", "
                   "\"bus-switch-weight\": 0", NULL, "the switch has 0");
    expect_refused(KIND ", \"bus-weights\": [1, 2]", NULL,
                   "are for the weighted and on-demand schedules");
    expect_refused(KIND ", \"bus-schedule\": \"weighted\", "
                   "\"bus-weights\": [1, 1, 1, 1, 1]", NULL,
                   "5 of them for 4 slots");
    expect_refused("\"bus-speed\": 1000", NULL,
                   "bus-* properties are for backplane-kind=tdm-bus");
    expect_refused("\"backplane-kind\": \"ring\"", NULL, "ring");
    expect_refused(KIND ", \"iothreads\": [\"io0\"]",
                   "-object iothread,id=io0", "no iothreads");

    start(&h, 4, false, BUS);
    expect_qmp_error(&h, "{ 'schedule': 'weighted', 'weights': [0, 0, 0, 0],"
                     " 'switch-weight': 0 }", "the weights sum to zero");
    expect_qmp_error(&h, "{ 'schedule': 'weighted', 'weights': [2, 2],"
                     " 'frame-slots': 5 }", "more than the frame holds (5)");
    expect_qmp_error(&h, "{ 'schedule': 'equal', 'frame-slots': 0 }",
                     "zero length");
    expect_qmp_error(&h, "{ 'schedule': 'on-demand', 'weights': [1, 0] }",
                     "slot1 has 0");
    expect_qmp_error(&h, "{ 'schedule': 'weighted', "
                     "'weights': [1, 1, 1, 1, 1] }", "more of them than");
    st = sh_state(&h);
    g_assert_cmpstr(qdict_get_str(bus_of(st), "schedule"), ==, "equal");
    g_assert_cmpuint(sh_u64(bus_of(st), "schedule-changes"), ==, 0);
    qobject_unref(st);

    /* taken: blade 0 now has 3 slots of a frame of 8 */
    qmp_ok(&h, qtest_qmp(h.qts, "{ 'execute': "
                         "'blade-switch-set-bus-schedule', 'arguments': { "
                         "'schedule': 'weighted', 'weights': [3, 1, 1, 1], "
                         "'frame-slots': 8 } }"));
    align(&h, 8 * SLOT_NS);
    saturated_step(&h, 0xf, 10 * 8 * SLOT_NS, &d);
    g_assert_cmpuint(d.bytes[0], ==, 10 * 3 * 250);
    g_assert_cmpuint(d.bytes[1], ==, 10 * 250);
    g_assert_cmpuint(d.idle_slots, ==, 10);
    sh_stop(&h);

    /* a chassis of lanes has no bus to schedule */
    sh_start(&h, 1, false, NULL);
    expect_qmp_error(&h, "{ 'schedule': 'equal' }", "backplane is lanes");
    st = sh_state(&h);
    g_assert_false(qdict_haskey(st, "bus"));
    qobject_unref(st);
    sh_stop(&h);
}

/* ---- virtual time -------------------------------------------------------- */

/*
 * Virtual time (timing=virtual): the bus runs on the chassis's virtual
 * clock, and a frame leaves the bus at the time its schedule says, on
 * every run.  Blade 0 sends a broadcast at T0; it reaches the switch a
 * lane latency L later, waits for blade 0's next slot (equal, three
 * transceivers, 200 ns slots), crosses in 84 octets (67.2 ns, rounded
 * up), and reaches blade 1 its lane latency LB after the switch sent it.
 * On a chassis of lanes the same frame goes on at once.
 */
static uint64_t vt_arrival(bool bus)
{
    enum { L = 1000, LB = 500 };
    const uint64_t t0 = 999100;
    g_autofree char *json = g_strdup_printf(
        "%s\"timing\": \"virtual\", \"vtime-latency-ns\": %d, "
        "\"vtime-slots\": 2", bus ? BUS ", " : "", L);
    ShOpts o = {
        .slots = 2, .chardevs = true, .json = json, .args = "-accel qtest ",
        .vtime_ns = LB,
    };
    gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    uint8_t f[64] = { 0 };
    SwHarness h;
    uint64_t arrival;
    unsigned i;

    sh_start_opts(&h, &o);
    for (i = 0; i < 2; i++) {
        sh_blade_plug(&h, i, true);
    }
    for (i = 0; i < 2; i++) {
        while (!lane_vtime_active(h.blades[i].lane)) {
            g_assert_cmpint(g_get_monotonic_time(), <, end);
            sh_pump(&h, 1);
        }
    }
    /* both blades to T0, where blade 0 sends */
    for (i = 0; i < 2; i++) {
        g_assert_true(lane_vtime_promise(h.blades[i].lane, t0, h.vclock));
        lane_flush(h.blades[i].lane, h.vclock);
    }
    /* the blades run to T0 as the chassis lets them: the links come up */
    while (h.vclock < t0 || !lane_is_link_up(h.blades[0].lane) ||
           !lane_is_link_up(h.blades[1].lane)) {
        uint64_t t = t0;

        g_assert_cmpint(g_get_monotonic_time(), <, end);
        for (i = 0; i < 2; i++) {
            t = MIN(t, lane_vtime_horizon(h.blades[i].lane));
        }
        h.vclock = MAX(h.vclock, t);
        sh_pump(&h, 1);
    }
    sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6);
    g_assert_cmpint(lane_send_frame(h.blades[0].lane, f, 60, h.vclock), ==,
                    0);
    for (i = 0; i < 2; i++) {
        g_assert_true(lane_vtime_promise(h.blades[i].lane, t0 + 2000000,
                                         h.vclock));
        lane_flush(h.blades[i].lane, h.vclock);
    }
    /*
     * The chassis runs on and sends blade 1 the frame, stamped with the
     * time it left the switch: blade 1 holds it until a latency later,
     * not a nanosecond earlier.
     */
    while (lane_vtime_link(h.blades[1].lane)->last_stamp <= t0) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        sh_pump(&h, 1);
    }
    h.vclock = lane_vtime_link(h.blades[1].lane)->last_stamp + LB - 1;
    for (i = 0; i < 5; i++) {
        sh_pump(&h, 1);
    }
    g_assert_true(g_queue_is_empty(&h.blades[1].rx));
    h.vclock++;
    while (g_queue_is_empty(&h.blades[1].rx)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        sh_pump(&h, 1);
    }
    arrival = h.vclock;
    sh_stop(&h);
    return arrival;
}

static void test_vtime(void)
{
    /*
     * At the switch at 1000100 ns: octet 1250125, slot 5000, the switch's
     * (5000 mod 3 = 2); blade 0's next is slot 5001, from 1000200 ns.
     */
    g_assert_cmpuint(vt_arrival(true), ==, 1000200 + 68 + 500);
    g_assert_cmpuint(vt_arrival(false), ==, 999100 + 1000 + 500);
}

/* HMP shows the bus too. */
static void test_hmp(void)
{
    SwHarness h;
    g_autofree char *out = NULL;

    start(&h, 2, false, BUS);
    out = qtest_hmp(h.qts, "info blade-switch");
    g_assert_nonnull(strstr(out, "TDM bus: 10000 Mb/s, equal, 3 slots"));
    g_assert_nonnull(strstr(out, "switch"));
    sh_stop(&h);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/blade-switch/bus/equal", test_equal);
    qtest_add_func("/blade-switch/bus/weighted", test_weighted);
    qtest_add_func("/blade-switch/bus/on-demand", test_on_demand);
    qtest_add_func("/blade-switch/bus/fairness", test_fairness);
    qtest_add_func("/blade-switch/bus/flood-held", test_flood_held);
    qtest_add_func("/blade-switch/bus/util-carried", test_util_carried);
    qtest_add_func("/blade-switch/bus/switch-to-blades",
                   test_switch_to_blades);
    qtest_add_func("/blade-switch/bus/balancing", test_balancing);
    qtest_add_func("/blade-switch/bus/chain", test_chain);
    qtest_add_func("/blade-switch/bus/central", test_central);
    qtest_add_func("/blade-switch/bus/refused", test_refused);
    qtest_add_func("/blade-switch/bus/hmp", test_hmp);
    qtest_add_func("/blade-switch/bus/vtime", test_vtime);
    return g_test_run();
}
