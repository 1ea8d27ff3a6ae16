/*
 * Virtual time's synchronisation core (net/vtime.c): stamps and promises
 * taken in order, every violation counted and refused with the state
 * unchanged, the horizon of a link and of a process, what this side may
 * promise and stamp, quiet promises, and arithmetic at the end of the u64
 * range.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>

#include "vtime.h"

#define US 1000ULL

/* Everything of a link but its counters. */
static void assert_same_state(const VtimeLink *a, const VtimeLink *b)
{
    g_assert_cmpuint(a->latency_ns, ==, b->latency_ns);
    g_assert_cmpuint(a->peer_promise, ==, b->peer_promise);
    g_assert_cmpuint(a->last_stamp, ==, b->last_stamp);
    g_assert_cmpuint(a->tx_floor, ==, b->tx_floor);
}

static uint64_t violations(const VtimeLink *l)
{
    return l->cnt.stamp_back + l->cnt.stamp_broke_promise +
           l->cnt.promise_back + l->cnt.stamp_broke_quiet +
           l->cnt.too_late;
}

/* A well-behaved peer: stamps and promises that never go back. */
static void test_in_order(void)
{
    VtimeLink l;

    vtime_link_init(&l, 2 * US);
    /* before anything: the peer may still send at 0, arriving at L */
    g_assert_cmpuint(vtime_link_horizon(&l), ==, 2 * US);
    g_assert_cmpint(vtime_rx_stamp(&l, 0), ==, VTIME_OK);
    g_assert_cmpint(vtime_rx_stamp(&l, 5 * US), ==, VTIME_OK);
    /* equal stamps: several records at one instant */
    g_assert_cmpint(vtime_rx_stamp(&l, 5 * US), ==, VTIME_OK);
    /* a stamp promises as much as a promise of its time */
    g_assert_cmpuint(vtime_link_horizon(&l), ==, 7 * US);
    g_assert_cmpuint(vtime_deliver_at(&l, 5 * US), ==, 7 * US);
    g_assert_cmpint(vtime_rx_promise(&l, 10 * US), ==, VTIME_OK);
    g_assert_cmpuint(vtime_link_horizon(&l), ==, 12 * US);
    /* a repeat promise goes nowhere, but not back */
    g_assert_cmpint(vtime_rx_promise(&l, 10 * US), ==, VTIME_OK);
    /* a stamp exactly at the promise is kept */
    g_assert_cmpint(vtime_rx_stamp(&l, 10 * US), ==, VTIME_OK);
    g_assert_cmpint(vtime_rx_stamp(&l, 11 * US), ==, VTIME_OK);
    g_assert_cmpuint(vtime_link_horizon(&l), ==, 13 * US);
    g_assert_cmpuint(l.cnt.stamps, ==, 5);
    g_assert_cmpuint(l.cnt.promises, ==, 2);
    g_assert_cmpuint(violations(&l), ==, 0);
}

/* Each violation: counted by kind, refused, nothing of it taken. */
static void test_violations(void)
{
    VtimeLink l, before;

    vtime_link_init(&l, US);
    g_assert_cmpint(vtime_rx_stamp(&l, 100 * US), ==, VTIME_OK);
    g_assert_cmpint(vtime_rx_promise(&l, 200 * US), ==, VTIME_OK);
    before = l;

    /* a stamp earlier than the last stamp */
    g_assert_cmpint(vtime_rx_stamp(&l, 100 * US - 1), ==, VTIME_STAMP_BACK);
    g_assert_cmpuint(l.cnt.stamp_back, ==, 1);
    assert_same_state(&l, &before);

    /* a stamp after the last one but earlier than the promise */
    g_assert_cmpint(vtime_rx_stamp(&l, 200 * US - 1), ==,
                    VTIME_STAMP_BROKE_PROMISE);
    g_assert_cmpint(vtime_rx_stamp(&l, 150 * US), ==,
                    VTIME_STAMP_BROKE_PROMISE);
    g_assert_cmpuint(l.cnt.stamp_broke_promise, ==, 2);
    assert_same_state(&l, &before);

    /* a promise earlier than the last promise */
    g_assert_cmpint(vtime_rx_promise(&l, 200 * US - 1), ==,
                    VTIME_PROMISE_BACK);
    g_assert_cmpuint(l.cnt.promise_back, ==, 1);
    assert_same_state(&l, &before);

    /* a promise earlier than a stamp taken after the last promise */
    g_assert_cmpint(vtime_rx_stamp(&l, 300 * US), ==, VTIME_OK);
    before = l;
    g_assert_cmpint(vtime_rx_promise(&l, 250 * US), ==, VTIME_PROMISE_BACK);
    g_assert_cmpuint(l.cnt.promise_back, ==, 2);
    assert_same_state(&l, &before);

    /* the horizon did not move for any of them */
    g_assert_cmpuint(vtime_link_horizon(&l), ==, 301 * US);
    g_assert_cmpuint(l.cnt.stamps, ==, 2);
    g_assert_cmpuint(l.cnt.promises, ==, 1);
    g_assert_cmpuint(violations(&l), ==, 5);

    /* good input is taken again after a refusal */
    g_assert_cmpint(vtime_rx_promise(&l, 300 * US), ==, VTIME_OK);
    g_assert_cmpint(vtime_rx_stamp(&l, 300 * US), ==, VTIME_OK);
    g_assert_cmpuint(violations(&l), ==, 5);

    g_assert_cmpstr(vtime_verdict_str(VTIME_OK), ==, "ok");
    g_assert_cmpstr(vtime_verdict_str(VTIME_STAMP_BACK), !=,
                    vtime_verdict_str(VTIME_PROMISE_BACK));
}

/* Hostile values at the end of the range: saturate, never wrap. */
static void test_overflow(void)
{
    VtimeLink l;
    const uint64_t big = VTIME_NEVER - 10;

    g_assert_cmpuint(vtime_add_sat(1, 2), ==, 3);
    g_assert_cmpuint(vtime_add_sat(VTIME_NEVER - 1, 1), ==, VTIME_NEVER);
    g_assert_cmpuint(vtime_add_sat(VTIME_NEVER - 1, 2), ==, VTIME_NEVER);
    g_assert_cmpuint(vtime_add_sat(VTIME_NEVER, VTIME_NEVER), ==,
                     VTIME_NEVER);
    g_assert_cmpuint(vtime_add_sat(0, VTIME_NEVER), ==, VTIME_NEVER);

    /*
     * A peer may name no time past VTIME_LATEST: QEMU's clocks are
     * int64_t, and a delivery time that saturated to VTIME_NEVER would
     * read as "nothing held".  Counted, refused, nothing taken.
     */
    vtime_link_init(&l, 1000);
    g_assert_cmpint(vtime_rx_stamp(&l, big), ==, VTIME_TOO_LATE);
    g_assert_cmpint(vtime_rx_stamp(&l, VTIME_LATEST + 1), ==,
                    VTIME_TOO_LATE);
    g_assert_cmpint(vtime_rx_promise(&l, VTIME_NEVER), ==, VTIME_TOO_LATE);
    g_assert_cmpint(vtime_rx_promise(&l, VTIME_LATEST + 1), ==,
                    VTIME_TOO_LATE);
    g_assert_cmpuint(l.cnt.too_late, ==, 4);
    g_assert_cmpuint(l.last_stamp, ==, 0);
    g_assert_cmpuint(l.peer_promise, ==, 0);
    g_assert_cmpuint(vtime_link_horizon(&l), ==, 1000);
    /* up to it: taken, and delivered without saturating */
    g_assert_cmpint(vtime_rx_stamp(&l, VTIME_LATEST), ==, VTIME_OK);
    g_assert_cmpuint(vtime_deliver_at(&l, VTIME_LATEST), ==,
                     VTIME_LATEST + 1000);
    g_assert_cmpint(vtime_rx_promise(&l, VTIME_LATEST), ==, VTIME_OK);
    g_assert_cmpuint(vtime_link_horizon(&l), ==, VTIME_LATEST + 1000);
    /* the peer cannot come back from there */
    g_assert_cmpint(vtime_rx_stamp(&l, 5), ==, VTIME_STAMP_BACK);
    g_assert_cmpint(vtime_rx_promise(&l, 5), ==, VTIME_PROMISE_BACK);
    /* nor may its quiet promise's W go past it */
    vtime_rx_quiet(&l, VTIME_LATEST, VTIME_LATEST + 1, 0);
    g_assert_cmpuint(l.cnt.quiet_bad, ==, 1);
    g_assert_cmpuint(l.peer_quiet, ==, 0);

    /* the largest latency */
    vtime_link_init(&l, VTIME_NEVER);
    g_assert_cmpuint(vtime_link_horizon(&l), ==, VTIME_NEVER);
    g_assert_cmpuint(vtime_deliver_at(&l, 0), ==, VTIME_NEVER);

    g_assert_cmpuint(vtime_may_promise(big, 1000), ==, VTIME_NEVER);
    g_assert_cmpuint(vtime_may_promise(big, 10), ==, VTIME_NEVER);
    g_assert_cmpuint(vtime_may_promise(big, 9), ==, VTIME_NEVER - 1);
}

/* The process: the least of its links' horizons. */
static void test_horizon(void)
{
    VtimeLink a, b, c;
    const VtimeLink *links[] = { &a, NULL, &b, &c };

    g_assert_cmpuint(vtime_horizon(NULL, 0), ==, VTIME_NEVER);
    vtime_link_init(&a, 1 * US);
    vtime_link_init(&b, 5 * US);
    vtime_link_init(&c, 2 * US);
    g_assert_cmpuint(vtime_horizon(links, 4), ==, 1 * US);
    g_assert_cmpint(vtime_rx_promise(&a, 100 * US), ==, VTIME_OK);
    /* c (0 + 2 us) now holds everyone back */
    g_assert_cmpuint(vtime_horizon(links, 4), ==, 2 * US);
    g_assert_cmpint(vtime_rx_promise(&c, 10 * US), ==, VTIME_OK);
    g_assert_cmpuint(vtime_horizon(links, 4), ==, 5 * US);
    g_assert_cmpint(vtime_rx_stamp(&b, 50 * US), ==, VTIME_OK);
    g_assert_cmpuint(vtime_horizon(links, 4), ==, 12 * US);
    g_assert_cmpint(vtime_rx_promise(&c, VTIME_LATEST), ==, VTIME_OK);
    g_assert_cmpuint(vtime_horizon(links, 4), ==, 55 * US);
    /* a refused promise moves nothing */
    g_assert_cmpint(vtime_rx_promise(&b, 40 * US), ==, VTIME_PROMISE_BACK);
    g_assert_cmpuint(vtime_horizon(links, 4), ==, 55 * US);
    g_assert_cmpuint(vtime_horizon(links, 1), ==, 101 * US);
    g_assert_cmpuint(vtime_horizon(links + 1, 1), ==, VTIME_NEVER);
}

/* This side: stamps never below what it sent, promises only forward. */
static void test_tx(void)
{
    VtimeLink l;

    vtime_link_init(&l, US);
    g_assert_cmpuint(vtime_may_promise(7 * US, 0), ==, 7 * US);
    g_assert_cmpuint(vtime_may_promise(7 * US, 3 * US), ==, 10 * US);

    /* nothing new: 0 is what the peer assumes anyway */
    g_assert_false(vtime_tx_promise(&l, 0));
    g_assert_cmpuint(vtime_tx_stamp(&l, 1 * US), ==, 1 * US);
    g_assert_cmpuint(vtime_tx_stamp(&l, 1 * US), ==, 1 * US);
    g_assert_false(vtime_tx_promise(&l, 1 * US));
    g_assert_true(vtime_tx_promise(&l, 10 * US));
    g_assert_false(vtime_tx_promise(&l, 10 * US));
    g_assert_false(vtime_tx_promise(&l, 9 * US));
    /* the clock is below what was promised: the stamp is raised */
    g_assert_cmpuint(vtime_tx_stamp(&l, 4 * US), ==, 10 * US);
    g_assert_cmpuint(l.cnt.tx_stamps_raised, ==, 1);
    g_assert_cmpuint(vtime_tx_stamp(&l, 12 * US), ==, 12 * US);
    /* a clock that went back (a bad caller) is raised too */
    g_assert_cmpuint(vtime_tx_stamp(&l, 11 * US), ==, 12 * US);
    g_assert_false(vtime_tx_promise(&l, 11 * US));
    g_assert_true(vtime_tx_promise(&l, VTIME_NEVER));
    g_assert_cmpuint(vtime_tx_stamp(&l, 13 * US), ==, VTIME_NEVER);
    g_assert_cmpuint(l.cnt.tx_stamps, ==, 6);
    g_assert_cmpuint(l.cnt.tx_promises, ==, 2);
    g_assert_cmpuint(l.cnt.tx_stamps_raised, ==, 3);
}

/*
 * What one side sends, the other takes without a violation, whatever
 * the sender's clock does (here: random steps back and forth, promises
 * with random lookahead, near the latest time a peer may name too).
 */
static void test_tx_rx_agree(void)
{
    for (int base = 0; base < 2; base++) {
        GRand *r = g_rand_new_with_seed(14 + base);
        VtimeLink tx, rx;
        /* at most 2 * 10^8 ns forward: never past VTIME_LATEST */
        uint64_t clock = base ? VTIME_LATEST - 200000000 : 0;
        uint64_t last = 0;

        vtime_link_init(&tx, 0);
        vtime_link_init(&rx, 3 * US);
        for (int i = 0; i < 100000; i++) {
            uint64_t step = g_rand_int_range(r, 0, 2000);

            if (g_rand_int_range(r, 0, 8) == 0) {
                clock = clock > step ? clock - step : 0;
            } else {
                clock = vtime_add_sat(clock, step);
            }
            if (g_rand_boolean(r)) {
                uint64_t s = vtime_tx_stamp(&tx, clock);

                g_assert_cmpint(vtime_rx_stamp(&rx, s), ==, VTIME_OK);
                g_assert_cmpuint(s, >=, clock);
            } else {
                uint64_t t = vtime_may_promise(clock,
                                               g_rand_int_range(r, 0, 500));

                if (vtime_tx_promise(&tx, t)) {
                    g_assert_cmpint(vtime_rx_promise(&rx, t), ==, VTIME_OK);
                }
            }
            g_assert_cmpuint(vtime_link_horizon(&rx), >=, last);
            last = vtime_link_horizon(&rx);
        }
        g_assert_cmpuint(violations(&rx), ==, 0);
        g_rand_free(r);
    }
}

/*
 * A quiet promise: the receiver's horizon goes to W while neither side
 * writes; a write either way ends it; one sent before a record of ours
 * was read is dropped; the sender's stamps are raised to W until it
 * reads something.
 */
static void test_quiet(void)
{
    VtimeLink blade, chassis, before;

    vtime_link_init(&blade, 2 * US);
    vtime_link_init(&chassis, 2 * US);
    g_assert_true(vtime_tx_promise(&blade, 10 * US));
    g_assert_true(vtime_tx_quiet(&blade, 10 * US, 500 * US));
    g_assert_cmpint(vtime_rx_promise(&chassis, 10 * US), ==, VTIME_OK);
    vtime_rx_quiet(&chassis, 10 * US, 500 * US, blade.rx_records);
    g_assert_cmpuint(chassis.cnt.quiet, ==, 1);
    g_assert_cmpuint(vtime_link_horizon(&chassis), ==, 502 * US);

    /* a W at or below one that holds tells nothing, and is not sent */
    g_assert_false(vtime_tx_quiet(&blade, 10 * US, 400 * US));
    g_assert_false(vtime_tx_quiet(&blade, 10 * US, 500 * US));
    g_assert_false(vtime_tx_quiet(&blade, 20 * US, 20 * US));

    /* woken by nothing the chassis sent: raised to W, which holds */
    g_assert_cmpuint(vtime_tx_stamp(&blade, 30 * US), ==, 500 * US);
    g_assert_cmpuint(blade.cnt.tx_quiet_raised, ==, 1);
    /* below W while it holds: broken, refused, nothing taken */
    before = chassis;
    g_assert_cmpint(vtime_rx_stamp(&chassis, 30 * US), ==,
                    VTIME_STAMP_BROKE_QUIET);
    g_assert_cmpuint(chassis.cnt.stamp_broke_quiet, ==, 1);
    g_assert_cmpuint(chassis.peer_quiet, ==, before.peer_quiet);
    g_assert_cmpuint(chassis.last_stamp, ==, before.last_stamp);
    /* at W: taken, and the blade is awake */
    g_assert_cmpint(vtime_rx_stamp(&chassis, 500 * US), ==, VTIME_OK);
    g_assert_cmpuint(chassis.peer_quiet, ==, 0);
    g_assert_cmpuint(vtime_link_horizon(&chassis), ==, 502 * US);

    /* quiet again; the chassis writes first: its horizon goes back */
    g_assert_true(vtime_tx_promise(&blade, 600 * US));
    g_assert_true(vtime_tx_quiet(&blade, 600 * US, 900 * US));
    g_assert_cmpint(vtime_rx_promise(&chassis, 600 * US), ==, VTIME_OK);
    vtime_rx_quiet(&chassis, 600 * US, 900 * US, blade.rx_records);
    g_assert_cmpuint(vtime_link_horizon(&chassis), ==, 902 * US);
    g_assert_cmpuint(vtime_tx_stamp(&chassis, 700 * US), ==, 700 * US);
    g_assert_cmpuint(vtime_link_horizon(&chassis), ==, 602 * US);
    /* the blade, quiet again before it read that: stale, dropped */
    g_assert_true(vtime_tx_promise(&blade, 610 * US));
    g_assert_true(vtime_tx_quiet(&blade, 610 * US, 1000 * US));
    g_assert_cmpint(vtime_rx_promise(&chassis, 610 * US), ==, VTIME_OK);
    vtime_rx_quiet(&chassis, 610 * US, 1000 * US, blade.rx_records);
    g_assert_cmpuint(chassis.cnt.quiet_stale, ==, 1);
    g_assert_cmpuint(vtime_link_horizon(&chassis), ==, 612 * US);
    /* it reads it: its own W is over, it answers at the time it should */
    g_assert_cmpint(vtime_rx_stamp(&blade, 700 * US), ==, VTIME_OK);
    g_assert_cmpuint(blade.tx_quiet, ==, 0);
    g_assert_cmpuint(vtime_tx_stamp(&blade, 702 * US), ==, 702 * US);
    g_assert_cmpint(vtime_rx_stamp(&chassis, 702 * US), ==, VTIME_OK);

    /*
     * A lower W while one holds takes nothing back: the horizon goes
     * back only when this side writes.
     */
    g_assert_true(vtime_tx_promise(&blade, 703 * US));
    g_assert_true(vtime_tx_quiet(&blade, 703 * US, 790 * US));
    g_assert_cmpint(vtime_rx_promise(&chassis, 703 * US), ==, VTIME_OK);
    vtime_rx_quiet(&chassis, 703 * US, 790 * US, blade.rx_records);
    vtime_rx_quiet(&chassis, 703 * US, 704 * US, blade.rx_records);
    g_assert_cmpuint(vtime_link_horizon(&chassis), ==, 792 * US);
    before = chassis;
    g_assert_cmpint(vtime_rx_stamp(&chassis, 705 * US), ==,
                    VTIME_STAMP_BROKE_QUIET);
    g_assert_cmpuint(chassis.peer_quiet, ==, before.peer_quiet);
    g_assert_cmpint(vtime_rx_stamp(&chassis, 790 * US), ==, VTIME_OK);

    /* W below T: dropped, counted, no violation */
    g_assert_cmpint(vtime_rx_promise(&chassis, 800 * US), ==, VTIME_OK);
    vtime_rx_quiet(&chassis, 800 * US, 799 * US, blade.rx_records);
    g_assert_cmpuint(chassis.cnt.quiet_bad, ==, 1);
    g_assert_cmpuint(vtime_link_horizon(&chassis), ==, 802 * US);

    /* a plain promise past W says as much: W is done with */
    vtime_rx_quiet(&chassis, 800 * US, 850 * US, blade.rx_records);
    g_assert_cmpuint(vtime_link_horizon(&chassis), ==, 852 * US);
    g_assert_cmpint(vtime_rx_promise(&chassis, 860 * US), ==, VTIME_OK);
    g_assert_cmpuint(chassis.peer_quiet, ==, 0);

    /* a new connection counts from zero; a W that holds outlives it */
    g_assert_true(vtime_tx_quiet(&blade, 860 * US, 2000 * US));
    vtime_link_connected(&blade);
    vtime_link_connected(&chassis);
    g_assert_cmpuint(blade.rx_records, ==, 0);
    g_assert_cmpuint(chassis.tx_records, ==, 0);
    g_assert_cmpuint(blade.tx_quiet, ==, 2000 * US);
    g_assert_cmpuint(violations(&chassis), ==, 2);
    g_assert_cmpuint(violations(&blade), ==, 0);
}

/*
 * Both ways at once, with records in flight towards the quiet side: the
 * quiet side's stamps, raised as they must be, never break a quiet
 * promise the other side took, and the other side never takes one that
 * a record in flight voids.
 */
static void test_quiet_agree(void)
{
    GRand *r = g_rand_new_with_seed(15);
    VtimeLink blade, chassis;
    uint64_t flight[64];
    unsigned head = 0, n = 0;
    uint64_t clock = 0, cclock = 0;

    vtime_link_init(&blade, US);
    vtime_link_init(&chassis, US);
    for (int i = 0; i < 200000; i++) {
        uint64_t step = g_rand_int_range(r, 0, 2000);

        switch (g_rand_int_range(r, 0, 5)) {
        case 0:         /* the blade writes */
            clock += step;
            g_assert_cmpint(vtime_rx_stamp(&chassis,
                                           vtime_tx_stamp(&blade, clock)),
                            ==, VTIME_OK);
            break;
        case 1: {       /* the blade is quiet for a while */
            uint64_t t;

            clock += step;
            t = clock > blade.tx_floor ? clock : blade.tx_floor;
            if (vtime_tx_quiet(&blade, t, t + g_rand_int_range(r, 1, 9000))) {
                vtime_tx_promise(&blade, t);
                g_assert_cmpint(vtime_rx_promise(&chassis, t), ==, VTIME_OK);
                vtime_rx_quiet(&chassis, t, blade.tx_quiet, blade.rx_records);
            }
            break;
        }
        case 2:         /* the chassis writes; it is in flight */
            if (n < G_N_ELEMENTS(flight)) {
                cclock += step;
                flight[(head + n++) % G_N_ELEMENTS(flight)] =
                    vtime_tx_stamp(&chassis, cclock);
                g_assert_cmpuint(chassis.peer_quiet, ==, 0);
            }
            break;
        default:        /* the blade reads one */
            if (n) {
                uint64_t s = flight[head];

                head = (head + 1) % G_N_ELEMENTS(flight);
                n--;
                g_assert_cmpint(vtime_rx_stamp(&blade, s), ==, VTIME_OK);
                clock = MAX(clock, s);
            }
            break;
        }
        /* what the chassis takes as quiet, nothing in flight can void */
        g_assert_true(!chassis.peer_quiet || !n);
    }
    g_assert_cmpuint(chassis.cnt.quiet, >, 1000);
    g_assert_cmpuint(chassis.cnt.quiet_stale, >, 100);
    g_assert_cmpuint(violations(&chassis), ==, 0);
    g_assert_cmpuint(violations(&blade), ==, 0);
    g_rand_free(r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vtime/in-order", test_in_order);
    g_test_add_func("/vtime/violations", test_violations);
    g_test_add_func("/vtime/overflow", test_overflow);
    g_test_add_func("/vtime/horizon", test_horizon);
    g_test_add_func("/vtime/tx", test_tx);
    g_test_add_func("/vtime/tx-rx-agree", test_tx_rx_agree);
    g_test_add_func("/vtime/quiet", test_quiet);
    g_test_add_func("/vtime/quiet-agree", test_quiet_agree);
    return g_test_run();
}
