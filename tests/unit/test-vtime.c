/*
 * Virtual time's synchronisation core (net/vtime.c): stamps and promises
 * taken in order, every violation counted and refused with the state
 * unchanged, the horizon of a link and of a process, what this side may
 * promise and stamp, and arithmetic at the end of the u64 range.
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
           l->cnt.promise_back;
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

    vtime_link_init(&l, 1000);
    g_assert_cmpint(vtime_rx_stamp(&l, big), ==, VTIME_OK);
    g_assert_cmpuint(vtime_deliver_at(&l, big), ==, VTIME_NEVER);
    g_assert_cmpuint(vtime_link_horizon(&l), ==, VTIME_NEVER);
    /* the peer cannot come back from there */
    g_assert_cmpint(vtime_rx_stamp(&l, 5), ==, VTIME_STAMP_BACK);
    g_assert_cmpint(vtime_rx_promise(&l, 5), ==, VTIME_PROMISE_BACK);
    g_assert_cmpint(vtime_rx_promise(&l, VTIME_NEVER), ==, VTIME_OK);
    g_assert_cmpint(vtime_rx_stamp(&l, VTIME_NEVER - 1), ==,
                    VTIME_STAMP_BROKE_PROMISE);
    g_assert_cmpint(vtime_rx_stamp(&l, VTIME_NEVER), ==, VTIME_OK);
    g_assert_cmpuint(vtime_link_horizon(&l), ==, VTIME_NEVER);

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
    g_assert_cmpint(vtime_rx_promise(&c, VTIME_NEVER), ==, VTIME_OK);
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
 * with random lookahead, near the end of the range too).
 */
static void test_tx_rx_agree(void)
{
    for (int base = 0; base < 2; base++) {
        GRand *r = g_rand_new_with_seed(14 + base);
        VtimeLink tx, rx;
        uint64_t clock = base ? VTIME_NEVER - 1000000 : 0;
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

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/vtime/in-order", test_in_order);
    g_test_add_func("/vtime/violations", test_violations);
    g_test_add_func("/vtime/overflow", test_overflow);
    g_test_add_func("/vtime/horizon", test_horizon);
    g_test_add_func("/vtime/tx", test_tx);
    g_test_add_func("/vtime/tx-rx-agree", test_tx_rx_agree);
    return g_test_run();
}
