/*
 * Balancing policies (net/balance.c): each policy's choices on known
 * sequences, eligibility, seeding, and bad input.  No clock: time is
 * whatever the test passes as @now.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "balance.h"

#define MS 1000000ULL
#define NB 8

typedef struct Group {
    BalState st;
    BalBlade b[NB];
    uint16_t m[NB];
    unsigned n;
    unsigned count[NB];     /* picks per member position */
} Group;

static void group_init(Group *g, BalPolicy policy, const BalParams *params,
                       unsigned n, uint64_t seed)
{
    memset(g, 0, sizeof(*g));
    bal_init(&g->st, policy, params, seed);
    g->n = n;
    for (unsigned i = 0; i < n; i++) {
        g->b[i].eligible = true;
        g->m[i] = (uint16_t)i;
    }
}

/* Pick, check the result is an eligible member, dispatch to it. */
static int group_pick(Group *g, uint64_t now, bool dispatch)
{
    int p = bal_pick(&g->st, g->b, g->m, g->n, now);

    g_assert_cmpint(p, >=, 0);
    g_assert_cmpint(p, <, (int)g->n);
    g_assert_true(g->b[g->m[p]].eligible);
    g->count[p]++;
    if (dispatch) {
        bal_dispatched(&g->b[g->m[p]]);
    }
    return p;
}

static void test_params(void)
{
    BalParams p;
    BalState st;

    bal_params_init(&p);
    g_assert_cmpuint(p.choices, ==, 2);
    g_assert_cmpuint(p.flow_cost_centipct, ==, 500);
    g_assert_cmpuint(p.irq_weight_pct, ==, 50);
    g_assert_cmpuint(p.wrr_refresh_ns, ==, 1000 * MS);
    g_assert_cmpuint(p.util_estimator, ==, BAL_UTIL_WAIT);
    g_assert_cmpuint(p.hot_quantile_pct, ==, 80);
    g_assert_cmpuint(p.pq_probes, ==, 2);
    g_assert_cmpuint(p.pq_reuse, ==, 2);
    g_assert_false(p.pq_external);

    bal_init(&st, BAL_POLICY_LEASTCONN, NULL, 1);
    g_assert_cmpint(st.policy, ==, BAL_POLICY_LEASTCONN);
    g_assert_cmpmem(&st.params, sizeof(p), &p, sizeof(p));

    p.choices = 0;
    bal_init(&st, BAL_POLICY__MAX, &p, 1);
    g_assert_cmpuint(st.params.choices, ==, 1);
    g_assert_cmpint(st.policy, ==, BAL_POLICY_UTIL);
    p.choices = 100;
    p.hot_quantile_pct = 1000;
    p.pq_probes = 1000;
    p.pq_reuse = 0;
    p.util_estimator = BAL_UTIL__MAX;
    bal_init(&st, BAL_POLICY_UTIL, &p, 1);
    g_assert_cmpuint(st.params.choices, ==, 8);
    g_assert_cmpuint(st.params.hot_quantile_pct, ==, 100);
    g_assert_cmpuint(st.params.pq_probes, ==, 8);
    g_assert_cmpuint(st.params.pq_reuse, ==, 1);
    g_assert_cmpuint(st.params.util_estimator, ==, BAL_UTIL_WAIT);
}

/* util with the BACKLOG estimator (the default before WAIT). */
static const BalParams *backlog(void)
{
    static BalParams p;

    bal_params_init(&p);
    p.util_estimator = BAL_UTIL_BACKLOG;
    return &p;
}

/* rr: exact cycle, skipping ineligible members, restarting on a change. */
static void test_rr(void)
{
    Group g;

    group_init(&g, BAL_POLICY_RR, NULL, 4, 1);
    for (unsigned i = 0; i < 12; i++) {
        g_assert_cmpint(group_pick(&g, 0, true), ==, i % 4);
    }
    g.b[1].eligible = false;
    for (unsigned i = 0; i < 9; i++) {
        static const int want[] = { 0, 2, 3 };

        g_assert_cmpint(group_pick(&g, 0, true), ==, want[i % 3]);
    }
    g.b[1].eligible = true;
    g_assert_cmpint(group_pick(&g, 0, true), ==, 0);
    g_assert_cmpint(group_pick(&g, 0, true), ==, 1);
    bal_set_policy(&g.st, BAL_POLICY_RR);
    g_assert_cmpint(group_pick(&g, 0, true), ==, 0);
    /* load figures do not matter to rr */
    bal_report(&g.b[1], 100, 100, 1);
    g_assert_cmpint(group_pick(&g, 1, true), ==, 1);
}

/* random: close to uniform over the eligible members, never the others. */
static void test_random(void)
{
    Group g;
    const unsigned picks = 70000;

    group_init(&g, BAL_POLICY_RANDOM, NULL, 8, 42);
    g.b[3].eligible = false;
    for (unsigned i = 0; i < picks; i++) {
        group_pick(&g, 0, false);
    }
    g_assert_cmpuint(g.count[3], ==, 0);
    for (unsigned i = 0; i < 8; i++) {
        if (i == 3) {
            continue;
        }
        /* expected 10000, standard deviation 93: 6 sigma */
        g_assert_cmpuint(g.count[i], >, 9440);
        g_assert_cmpuint(g.count[i], <, 10560);
    }
}

/* leastconn: always a member with the fewest open flows. */
static void test_leastconn(void)
{
    Group g;
    static const uint32_t active[] = { 5, 3, 7, 3, 9, 4 };

    group_init(&g, BAL_POLICY_LEASTCONN, NULL, 6, 7);
    for (unsigned i = 0; i < 6; i++) {
        g.b[i].active = active[i];
        /* reports must not matter */
        bal_report(&g.b[i], i == 1 ? 100 : 0, 0, 1);
    }
    /* 1 and 3 tie at 3: both are chosen, at random */
    for (unsigned i = 0; i < 2000; i++) {
        int p = group_pick(&g, 0, false);

        g_assert_true(p == 1 || p == 3);
    }
    g_assert_cmpuint(g.count[1], >, 850);
    g_assert_cmpuint(g.count[3], >, 850);

    /* dispatching fills the least loaded up, in order */
    for (unsigned i = 0; i < 20; i++) {
        uint32_t min = UINT32_MAX;
        int p;

        for (unsigned j = 0; j < 6; j++) {
            min = MIN(min, g.b[j].active);
        }
        p = group_pick(&g, 0, false);
        g_assert_cmpuint(g.b[p].active, ==, min);
        bal_dispatched(&g.b[p]);
    }
    /* 31 open flows + 20: all at 8 or 9 */
    for (unsigned j = 0; j < 6; j++) {
        g_assert_cmpuint(g.b[j].active, >=, 8);
        g_assert_cmpuint(g.b[j].active, <=, 9);
    }
    g.b[4].active = 9;
    bal_closed(&g.b[4]);
    g_assert_cmpuint(g.b[4].active, ==, 8);
}

/*
 * p2c-conn: of two distinct random members, the one with fewer open
 * flows.  With distinct counts the k-th least loaded of n wins with
 * probability (n - 1 - k) / C(n, 2); the most loaded never does.
 */
static void test_p2c_conn(void)
{
    Group g;
    const unsigned picks = 60000, n = 4;

    group_init(&g, BAL_POLICY_P2C_CONN, NULL, n, 9);
    for (unsigned i = 0; i < n; i++) {
        g.b[i].active = 10 * (i + 1);
    }
    for (unsigned i = 0; i < picks; i++) {
        group_pick(&g, 0, false);
    }
    /* 3/6, 2/6, 1/6, 0 of 60000; standard deviation at most 123 */
    g_assert_cmpuint(g.count[0], >, 30000 - 750);
    g_assert_cmpuint(g.count[0], <, 30000 + 750);
    g_assert_cmpuint(g.count[1], >, 20000 - 750);
    g_assert_cmpuint(g.count[1], <, 20000 + 750);
    g_assert_cmpuint(g.count[2], >, 10000 - 750);
    g_assert_cmpuint(g.count[2], <, 10000 + 750);
    g_assert_cmpuint(g.count[3], ==, 0);
}

/*
 * The first design, kept as BAL_UTIL_REPORTED: reported load plus the
 * flows dispatched since the report; term by term, and its clamping.
 */
static void reported_params(BalParams *p)
{
    bal_params_init(p);
    p->util_estimator = BAL_UTIL_REPORTED;
}

static void test_reported_score(void)
{
    BalParams p;
    BalBlade b = { 0 };

    reported_params(&p);
    bal_report(&b, 40, 20, 5);
    g_assert_cmpuint(b.cpu_pct, ==, 40);
    g_assert_cmpuint(b.report_ns, ==, 5);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 4000 + 1000);
    bal_dispatched(&b);
    bal_dispatched(&b);
    g_assert_cmpuint(b.since_report, ==, 2);
    g_assert_cmpuint(b.active, ==, 2);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 5000 + 2 * 500);
    b.cost_pct = 7;
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 6000 + 700);
    /* a report restarts the dispatch count; open flows stay */
    bal_report(&b, 250, 1000, 9);
    g_assert_cmpuint(b.cpu_pct, ==, 100);
    g_assert_cmpuint(b.irq_pct, ==, 100);
    g_assert_cmpuint(b.since_report, ==, 0);
    g_assert_cmpuint(b.active, ==, 2);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 10000 + 5000 + 700);
    /* out-of-range fields set by hand count as 100 */
    b.cpu_pct = 200;
    b.irq_pct = 255;
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 10000 + 5000 + 700);
    /* saturates instead of wrapping */
    b.since_report = UINT32_MAX;
    b.cost_pct = UINT32_MAX;
    g_assert_cmpuint(bal_util_score(&p, &b), ==, UINT32_MAX);
    bal_dispatched(&b);
    g_assert_cmpuint(b.since_report, ==, UINT32_MAX);
    /* closing more than was opened stops at zero */
    bal_closed(&b);
    bal_closed(&b);
    bal_closed(&b);
    bal_closed(&b);
    g_assert_cmpuint(b.active, ==, 0);
    g_assert_cmpuint(b.closed, ==, 4);
}

/* REPORTED keeps away from a blade at 95 % while others have room. */
static void test_reported_avoids_busy(void)
{
    Group g;
    BalParams p;

    reported_params(&p);
    group_init(&g, BAL_POLICY_UTIL, &p, 4, 3);
    for (unsigned i = 0; i < 4; i++) {
        bal_report(&g.b[i], i == 2 ? 95 : 20, 0, 1);
    }
    for (unsigned i = 0; i < 5000; i++) {
        group_pick(&g, 2, false);
    }
    g_assert_cmpuint(g.count[2], ==, 0);
    for (unsigned i = 0; i < 4; i++) {
        if (i != 2) {
            g_assert_cmpuint(g.count[i], >, 1400);
        }
    }
    /* interrupt load counts at irq_weight_pct: 50 + 40 / 2 > 60 */
    bal_report(&g.b[0], 50, 40, 3);
    bal_report(&g.b[1], 60, 0, 3);
    g.b[2].eligible = false;
    g.b[3].eligible = false;
    for (unsigned i = 0; i < 100; i++) {
        g_assert_cmpint(group_pick(&g, 3, false), ==, 1);
    }
    /* so does the hop cost */
    g.b[1].cost_pct = 11;
    for (unsigned i = 0; i < 100; i++) {
        g_assert_cmpint(group_pick(&g, 3, false), ==, 0);
    }
}

/*
 * Between reports, REPORTED counts the flows it dispatched: with two
 * blades at 10 % and 60 %, the first ten flows go to the idle one
 * (10 + 5k < 60), then they share.  NET counts flows that ended too.
 */
static void test_reported_dispatch_counting(void)
{
    Group g;
    BalParams p;

    reported_params(&p);
    group_init(&g, BAL_POLICY_UTIL, &p, 2, 5);
    bal_report(&g.b[0], 10, 0, 1);
    bal_report(&g.b[1], 60, 0, 1);
    for (unsigned i = 0; i < 10; i++) {
        g_assert_cmpint(group_pick(&g, 2, true), ==, 0);
    }
    /* 60 against 60: the one with fewer open flows */
    g_assert_cmpint(group_pick(&g, 2, true), ==, 1);
    for (unsigned i = 0; i < 100; i++) {
        group_pick(&g, 2, true);
    }
    g_assert_cmpint(abs((int)g.b[0].since_report - 10 -
                        (int)g.b[1].since_report), <=, 1);

    /* NET: ten flows ended on 0 since the report make room for ten */
    p.util_estimator = BAL_UTIL_NET;
    group_init(&g, BAL_POLICY_UTIL, &p, 2, 5);
    g.b[0].active = 30;
    bal_report(&g.b[0], 60, 0, 1);
    bal_report(&g.b[1], 60, 0, 1);
    g_assert_cmpuint(g.b[0].active_at_report, ==, 30);
    for (unsigned i = 0; i < 10; i++) {
        bal_closed(&g.b[0]);
    }
    g_assert_cmpuint(bal_util_score(&p, &g.b[0]), ==, 6000 - 10 * 500);
    bal_dispatched(&g.b[1]);
    g_assert_cmpuint(bal_util_score(&p, &g.b[1]), ==, 6500);
    for (unsigned i = 0; i < 11; i++) {
        g_assert_cmpint(group_pick(&g, 2, true), ==, 0);
    }
    g_assert_cmpuint(g.b[0].active, ==, 31);
    g_assert_cmpuint(bal_util_score(&p, &g.b[0]), ==, 6500);
    /* 6500 each: the one with fewer open flows */
    g_assert_cmpint(group_pick(&g, 2, true), ==, 1);
    /* never below zero */
    g.b[0].active = 0;
    g_assert_cmpuint(bal_util_score(&p, &g.b[0]), ==, 0);
}

/*
 * A burst of flows between two reports spreads over equally loaded
 * blades instead of herding onto the one that looked best; without the
 * dispatch count and with every member a candidate, it herds.
 */
static void test_reported_burst(void)
{
    Group g;
    BalParams p;

    reported_params(&p);
    group_init(&g, BAL_POLICY_UTIL, &p, 8, 11);
    for (unsigned i = 0; i < 8; i++) {
        bal_report(&g.b[i], i == 5 ? 30 : 31, 0, 1);
    }
    for (unsigned i = 0; i < 400; i++) {
        group_pick(&g, 2, true);
    }
    for (unsigned i = 0; i < 8; i++) {
        g_assert_cmpuint(g.count[i], >=, 45);
        g_assert_cmpuint(g.count[i], <=, 55);
    }

    p.flow_cost_centipct = 0;
    p.choices = 8;
    group_init(&g, BAL_POLICY_UTIL, &p, 8, 11);
    for (unsigned i = 0; i < 8; i++) {
        bal_report(&g.b[i], i == 5 ? 30 : 31, 0, 1);
    }
    for (unsigned i = 0; i < 400; i++) {
        group_pick(&g, 2, true);
    }
    g_assert_cmpuint(g.count[5], ==, 400);
}

/* REPORTED ties: fewer open flows first, then at random. */
static void test_reported_ties(void)
{
    Group g;
    BalParams p;

    reported_params(&p);
    p.choices = 3;
    group_init(&g, BAL_POLICY_UTIL, &p, 3, 13);
    for (unsigned i = 0; i < 3; i++) {
        bal_report(&g.b[i], 50, 10, 1);
        g.b[i].active = i == 0 ? 4 : 2;
    }
    for (unsigned i = 0; i < 3000; i++) {
        int k = group_pick(&g, 2, false);

        g_assert_cmpint(k, !=, 0);
    }
    g_assert_cmpuint(g.count[1], >, 1300);
    g_assert_cmpuint(g.count[2], >, 1300);
}

/*
 * Let blade @b learn flow_ns: reports @interval apart, @closed flows
 * ending between them, at @cpu %.
 */
static void learn(BalBlade *b, uint64_t *now, uint64_t interval,
                  unsigned closed, unsigned cpu, unsigned reports)
{
    for (unsigned r = 0; r < reports; r++) {
        for (unsigned i = 0; i < closed; i++) {
            bal_dispatched(b);
            bal_closed(b);
        }
        *now += interval;
        bal_report(b, cpu, 0, *now);
    }
}

/*
 * BACKLOG (the default before WAIT): flow_ns is CPU busy time between
 * reports over the flows that ended meanwhile, summed until 32 have,
 * then averaged in a quarter at a time; the score is (open flows + 1) *
 * flow_ns, scaled up by the hop cost and the weighted interrupt load.
 */
static void test_backlog_score(void)
{
    BalParams p;
    BalBlade b = { 0 };
    uint64_t now = 1000;

    p = *backlog();
    /* nothing learned: 1 ns a flow */
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 1);
    bal_report(&b, 50, 0, now);         /* the first report: a start */
    g_assert_cmpuint(b.flow_ns, ==, 0);
    /* 20 flows in 100 us at 50 %: not enough flows yet */
    learn(&b, &now, 100000, 20, 50, 1);
    g_assert_cmpuint(b.flow_ns, ==, 0);
    g_assert_cmpuint(b.est_closed, ==, 20);
    /* 20 more: 100 us busy over 40 flows */
    learn(&b, &now, 100000, 20, 50, 1);
    g_assert_cmpuint(b.flow_ns, ==, 2500);
    g_assert_cmpuint(b.est_closed, ==, 0);
    /* a sample of 100 us at 100 % over 40 = 2500 again */
    learn(&b, &now, 100000, 40, 100, 1);
    g_assert_cmpuint(b.flow_ns, ==, 2500);
    /* 200 us at 100 % over 2 x 20: 5000, a quarter of the way */
    learn(&b, &now, 100000, 20, 100, 2);
    g_assert_cmpuint(b.flow_ns, ==, 2500 + 2500 / 4);
    /* and down: 25 us over 40 */
    learn(&b, &now, 100000, 40, 25, 1);
    g_assert_cmpuint(b.flow_ns, ==, 3125 - (3125 - 625) / 4);

    b.flow_ns = 1000;
    b.active = 4;
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 5 * 1000);
    b.cost_pct = 10;
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 5 * 1100);
    b.irq_pct = 40;                     /* weighs 50 %: +20 % */
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 5 * 1300);
    p.irq_weight_pct = 0;
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 5 * 1100);
    /* saturates */
    b.active = UINT32_MAX;
    g_assert_cmpuint(bal_util_score(&p, &b), ==, UINT32_MAX);
    b.active = 1;
    b.flow_ns = UINT64_MAX / 2;
    g_assert_cmpuint(bal_util_score(&p, &b), ==, UINT32_MAX);
}

/* Scores beyond 32 bits (slow flows, seconds each) still order. */
static void test_backlog_large(void)
{
    Group g;

    group_init(&g, BAL_POLICY_UTIL, backlog(), 2, 4);
    g.b[0].flow_ns = 6000000000ULL;
    g.b[1].flow_ns = 5000000000ULL;
    g_assert_cmpuint(bal_util_score(&g.st.params, &g.b[0]), ==, UINT32_MAX);
    g_assert_cmpuint(bal_util_score(&g.st.params, &g.b[1]), ==, UINT32_MAX);
    for (unsigned i = 0; i < 100; i++) {
        g_assert_cmpint(group_pick(&g, 1, false), ==, 1);
    }
}

/*
 * A blade that reports 95 % for the flows others serve at 20 % costs
 * 4.75 times as much a flow: a burst between reports goes to the others
 * in that ratio, the cheap ones first.
 */
static void test_backlog_avoids_busy(void)
{
    Group g;
    uint64_t now = 1;

    group_init(&g, BAL_POLICY_UTIL, backlog(), 4, 3);
    for (unsigned i = 0; i < 4; i++) {
        bal_report(&g.b[i], 0, 0, now);
        learn(&g.b[i], &now, 1000000, 100, i == 2 ? 95 : 20, 1);
    }
    g_assert_cmpuint(g.b[2].flow_ns, ==, 9500);
    g_assert_cmpuint(g.b[0].flow_ns, ==, 2000);
    for (unsigned i = 0; i < 12; i++) {
        g_assert_cmpint(group_pick(&g, now, true), !=, 2);
    }
    for (unsigned i = 12; i < 400; i++) {
        group_pick(&g, now, true);
    }
    /* 400 / (3 / 2000 + 1 / 9500) / 9500 = 26.2 */
    g_assert_cmpuint(g.count[2], >=, 25);
    g_assert_cmpuint(g.count[2], <=, 27);
    for (unsigned i = 0; i < 4; i++) {
        if (i != 2) {
            g_assert_cmpuint(g.count[i], >=, 124);
            g_assert_cmpuint(g.count[i], <=, 125);
        }
    }
}

/*
 * With nothing learned, or the same cost everywhere, BACKLOG fills the
 * blades with the fewest open flows: a burst spreads exactly.  A blade
 * not learned yet counts at the mean of the others; one whose figure is
 * absurdly low (a stuck 0 %) counts at no less than an eighth of it.
 */
static void test_backlog_burst(void)
{
    Group g;

    group_init(&g, BAL_POLICY_UTIL, backlog(), 8, 11);
    for (unsigned i = 0; i < 400; i++) {
        group_pick(&g, 2, true);
    }
    for (unsigned i = 0; i < 8; i++) {
        g_assert_cmpuint(g.count[i], ==, 50);
    }

    group_init(&g, BAL_POLICY_UTIL, backlog(), 3, 12);
    g.b[0].flow_ns = 1000;
    g.b[1].flow_ns = 3000;
    /* b[2] at the mean, 2000: shares 1/1000 : 1/3000 : 1/2000 */
    for (unsigned i = 0; i < 1100; i++) {
        group_pick(&g, 2, true);
    }
    g_assert_cmpint(abs((int)g.count[0] - 600), <=, 1);
    g_assert_cmpint(abs((int)g.count[1] - 200), <=, 1);
    g_assert_cmpint(abs((int)g.count[2] - 300), <=, 1);

    group_init(&g, BAL_POLICY_UTIL, backlog(), 3, 13);
    g.b[0].flow_ns = 8000;
    g.b[1].flow_ns = 8000;
    g.b[2].flow_ns = 1;
    g.b[0].active = 10;
    g.b[1].active = 10;
    /*
     * At 1 ns it would take the next 88000 flows; at 5333 / 8 = 666 it
     * takes 131, then 12 for every one of the others: 190 of 200.
     */
    for (unsigned i = 0; i < 200; i++) {
        group_pick(&g, 2, true);
    }
    g_assert_cmpuint(g.count[2], >=, 186);
    g_assert_cmpuint(g.count[2], <=, 194);
    g_assert_cmpuint(g.count[0], >=, 3);
    g_assert_cmpuint(g.count[1], >=, 3);
}

/* BACKLOG ties: every member is a candidate; then at random. */
static void test_backlog_ties(void)
{
    Group g;

    group_init(&g, BAL_POLICY_UTIL, backlog(), 3, 13);
    for (unsigned i = 0; i < 3; i++) {
        g.b[i].flow_ns = 700;
        g.b[i].active = i == 0 ? 4 : 2;
    }
    for (unsigned i = 0; i < 3000; i++) {
        int k = group_pick(&g, 2, false);

        g_assert_cmpint(k, !=, 0);
    }
    g_assert_cmpuint(g.count[1], >, 1300);
    g_assert_cmpuint(g.count[2], >, 1300);
}

/*
 * wrr-cpu: smooth weighted round robin, weights = flows ended per unit of
 * reported busy time over the period, recomputed only once
 * wrr_refresh_ns has passed.
 */
static void test_wrr_cpu(void)
{
    Group g;
    const uint64_t T = 1000 * MS;
    static const int smooth[] = { 0, 0, 1, 0, 0 };   /* weights 4:1 */

    group_init(&g, BAL_POLICY_WRR_CPU, NULL, 2, 17);
    bal_report(&g.b[0], 50, 0, 1);
    bal_report(&g.b[1], 50, 0, 1);
    /* first refresh at the first pick: no data yet, equal weights */
    for (unsigned i = 0; i < 100; i++) {
        g_assert_cmpint(group_pick(&g, 10, false), ==, i % 2);
    }
    /* 400 flows ended on 0 and 100 on 1, both busy half the time */
    g.b[0].closed += 400;
    g.b[1].closed += 100;
    bal_report(&g.b[0], 50, 0, T - 5);
    bal_report(&g.b[1], 50, 0, T - 5);
    g_assert_cmpuint(g.b[0].busy_ns, ==, (T - 6) / 2);
    memset(g.count, 0, sizeof(g.count));
    for (unsigned i = 0; i < 100; i++) {
        group_pick(&g, 10 + T - 1, false);
    }
    g_assert_cmpuint(g.count[0], ==, 50);
    g_assert_cmpuint(g.count[1], ==, 50);
    /* a period after the last refresh: the new weights, smoothly */
    for (unsigned i = 0; i < 500; i++) {
        g_assert_cmpint(group_pick(&g, 10 + T, false), ==, smooth[i % 5]);
    }
    g_assert_cmpint(g.st.wrr_weight[0], ==, 4 * g.st.wrr_weight[1]);
    /* the same rate, but 1 reports a quarter of 0's CPU: it weighs more */
    g.b[0].closed += 300;
    g.b[1].closed += 300;
    bal_report(&g.b[0], 80, 0, 2 * T);
    bal_report(&g.b[1], 20, 0, 2 * T);
    memset(g.count, 0, sizeof(g.count));
    for (unsigned i = 0; i < 500; i++) {
        group_pick(&g, 10 + 2 * T, false);
    }
    g_assert_cmpuint(g.count[0], ==, 100);
    g_assert_cmpuint(g.count[1], ==, 400);
    /* no flow ended on 1 in the period: the mean weight of the others */
    g.b[0].closed += 300;
    bal_report(&g.b[0], 80, 0, 3 * T);
    bal_report(&g.b[1], 20, 0, 3 * T);
    memset(g.count, 0, sizeof(g.count));
    for (unsigned i = 0; i < 400; i++) {
        group_pick(&g, 10 + 3 * T, false);
    }
    g_assert_cmpuint(g.count[0], ==, 200);
    /* a hop cost counts as busy time: 1 at 20 % + 60 % weighs as 0 */
    g.b[0].closed += 300;
    g.b[1].closed += 300;
    g.b[1].cost_pct = 60;
    bal_report(&g.b[0], 80, 0, 4 * T);
    bal_report(&g.b[1], 20, 0, 4 * T);
    memset(g.count, 0, sizeof(g.count));
    for (unsigned i = 0; i < 400; i++) {
        group_pick(&g, 10 + 4 * T, false);
    }
    g_assert_cmpuint(g.count[0], ==, 200);
    /* an ineligible member is skipped */
    g.b[1].eligible = false;
    for (unsigned i = 0; i < 50; i++) {
        g_assert_cmpint(group_pick(&g, 10 + 4 * T, false), ==, 0);
    }
}

/* No policy ever picks an ineligible member; none eligible gives -1. */
static void test_eligibility(void)
{
    for (unsigned pol = 0; pol < BAL_POLICY__MAX; pol++) {
        Group g;
        uint64_t now = 0;

        group_init(&g, (BalPolicy)pol, NULL, 8, pol + 100);
        for (unsigned i = 0; i < 8; i++) {
            /* make the ineligible ones the most attractive */
            g.b[i].eligible = i % 3 == 1;
            bal_report(&g.b[i], g.b[i].eligible ? 90 : 0, 0, 1);
            g.b[i].active = g.b[i].eligible ? 50 : 0;
            g.b[i].closed = g.b[i].eligible ? 10 : 1000;
        }
        for (unsigned i = 0; i < 3000; i++) {
            now += 7 * MS;
            group_pick(&g, now, true);
        }
        for (unsigned i = 0; i < 8; i++) {
            if (i % 3 != 1) {
                g_assert_cmpuint(g.count[i], ==, 0);
            } else {
                g_assert_cmpuint(g.count[i], >, 0);
            }
        }
        for (unsigned i = 0; i < 8; i++) {
            g.b[i].eligible = false;
        }
        g_assert_cmpint(bal_pick(&g.st, g.b, g.m, 8, now), ==, -1);
        g_assert_cmpint(bal_pick(&g.st, g.b, g.m, 0, now), ==, -1);
        g.b[0].eligible = true;
        g_assert_cmpint(bal_pick(&g.st, g.b, g.m, 1, now), ==, 0);
        g_assert_cmpint(bal_pick(&g.st, g.b, g.m, BAL_MAX_MEMBERS + 1,
                                 now), ==, -1);
        g_assert_cmpint(bal_pick(&g.st, g.b, NULL, 1, now), ==, -1);
    }
}

/* members[] maps positions to blades: the result is a position. */
static void test_members_indirection(void)
{
    BalState st;
    BalBlade b[10] = { 0 };
    uint16_t m[3] = { 9, 2, 5 };

    for (unsigned i = 0; i < 10; i++) {
        b[i].eligible = true;
        b[i].active = 100;
    }
    b[5].active = 1;
    bal_init(&st, BAL_POLICY_LEASTCONN, NULL, 1);
    g_assert_cmpint(bal_pick(&st, b, m, 3, 0), ==, 2);
    b[9].active = 0;
    g_assert_cmpint(bal_pick(&st, b, m, 3, 0), ==, 0);
    b[9].eligible = false;
    g_assert_cmpint(bal_pick(&st, b, m, 3, 0), ==, 2);
}

/* The same seed gives the same choices; another seed, others. */
static void test_seeded(void)
{
    static const BalPolicy pols[] = {
        BAL_POLICY_UTIL, BAL_POLICY_RANDOM, BAL_POLICY_P2C_CONN,
        BAL_POLICY_LEASTCONN,
    };

    for (unsigned k = 0; k < G_N_ELEMENTS(pols); k++) {
        int seq[3][500];

        for (unsigned run = 0; run < 3; run++) {
            Group g;

            group_init(&g, pols[k], NULL, 8, run == 2 ? 1235 : 1234);
            for (unsigned i = 0; i < 8; i++) {
                bal_report(&g.b[i], 50, 0, 1);
            }
            for (unsigned i = 0; i < 500; i++) {
                seq[run][i] = group_pick(&g, 2, true);
                if (i % 3 == 0) {
                    bal_closed(&g.b[seq[run][i / 2]]);
                }
            }
        }
        g_assert_cmpmem(seq[0], sizeof(seq[0]), seq[1], sizeof(seq[1]));
        g_assert_true(memcmp(seq[0], seq[2], sizeof(seq[0])) != 0);
    }
}

/* Changing the policy at run time restarts the cursors only. */
static void test_set_policy(void)
{
    Group g;
    uint64_t rng;

    group_init(&g, BAL_POLICY_RR, NULL, 3, 21);
    group_pick(&g, 0, true);
    group_pick(&g, 0, true);
    bal_set_policy(&g.st, BAL_POLICY_RANDOM);
    g_assert_cmpint(g.st.policy, ==, BAL_POLICY_RANDOM);
    g_assert_cmpuint(g.st.rr_next, ==, 0);
    group_pick(&g, 0, true);
    rng = g.st.rng;
    bal_set_policy(&g.st, BAL_POLICY_RR);
    g_assert_cmpuint(g.st.rng, ==, rng);
    g_assert_cmpint(group_pick(&g, 0, true), ==, 0);
    bal_set_policy(&g.st, (BalPolicy)77);
    g_assert_cmpint(g.st.policy, ==, BAL_POLICY_UTIL);
}

/*
 * A blade with nothing learned yet counts at the members' mean raised by
 * the load it reports: at 100 %, twice the mean.  One flow at a time
 * never goes there while the others are idle; a burst gives it half the
 * share of each of the others.
 */
static void unlearned_busy_group(Group *g)
{
    group_init(g, BAL_POLICY_UTIL, backlog(), 3, 17);
    g->b[0].flow_ns = 2000;
    g->b[1].flow_ns = 2000;
    bal_report(&g->b[2], 100, 0, 1);
}

static void test_backlog_unlearned_busy(void)
{
    Group g;

    unlearned_busy_group(&g);
    for (unsigned i = 0; i < 100; i++) {
        int k = group_pick(&g, 2, false);

        g_assert_cmpint(k, !=, 2);
    }
    unlearned_busy_group(&g);
    for (unsigned i = 0; i < 500; i++) {
        group_pick(&g, 2, true);
    }
    g_assert_cmpint(abs((int)g.count[0] - 200), <=, 1);
    g_assert_cmpint(abs((int)g.count[1] - 200), <=, 1);
    g_assert_cmpint(abs((int)g.count[2] - 100), <=, 1);
}

/*
 * A blade that learned a high cost (busy with something else) and then
 * gets no flows: once it has reported eight times in a row with no flow
 * on it, the cost fades, so it gets flows again and learns anew.
 */
static void test_backlog_recovers(void)
{
    Group g;
    uint64_t now = 1, before;
    unsigned i, r;

    group_init(&g, BAL_POLICY_UTIL, backlog(), 2, 5);
    for (i = 0; i < 2; i++) {
        bal_report(&g.b[i], 0, 0, now);
        learn(&g.b[i], &now, 1000000, 100, i ? 95 : 5, 1);
    }
    before = g.b[1].flow_ns;
    g_assert_cmpuint(before, >, 8 * g.b[0].flow_ns);
    /* A burst: all to blade 0, which finishes all but one. */
    for (i = 0; i < 8; i++) {
        g_assert_cmpint(group_pick(&g, now, true), ==, 0);
    }
    for (i = 0; i < 7; i++) {
        bal_closed(&g.b[0]);
    }
    /* Blade 1 idles for thirty reports; blade 0, a flow open, does not fade. */
    for (r = 0; r < 30; r++) {
        now += 100000000;
        bal_report(&g.b[1], 0, 0, now);
        bal_report(&g.b[0], 5, 0, now);
    }
    g_assert_cmpuint(g.b[1].flow_ns, <, before / 8);
    g_assert_cmpuint(g.b[0].flow_ns, >=, before / 19);
    for (i = 0; i < 8; i++) {
        group_pick(&g, now, true);
    }
    g_assert_cmpuint(g.count[1], >, 0);
}

/*
 * Flows rarer than reports (the emulator's case: reports every 100 ms, a
 * few flows a second): a report interval with no flow on the blade
 * neither ends the sums nor fades the cost, so a trickle still teaches
 * how long a flow takes, in samples of a second once four flows ended;
 * only a long run of intervals without flows fades it.
 */
static void test_backlog_trickle(void)
{
    BalBlade b = { 0 };
    uint64_t now = 1, learned;
    unsigned i, r;

    bal_report(&b, 0, 0, now);
    for (i = 0; i < 40; i++) {
        /* one flow, the blade half busy; then an interval without */
        bal_dispatched(&b);
        bal_closed(&b);
        now += 100000000;
        bal_report(&b, 50, 0, now);
        now += 100000000;
        bal_report(&b, 0, 0, now);
        /* the sixth flow ends 1.1 s after the sums began */
        if (i < 5) {
            g_assert_cmpuint(b.flow_ns, ==, 0);
        } else {
            g_assert_cmpuint(b.flow_ns, ==, 50000000);
        }
    }
    g_assert_cmpuint(b.flow_ns, ==, 50000000);
    learned = b.flow_ns;
    for (r = 0; r < 7; r++) {
        now += 100000000;
        bal_report(&b, 0, 0, now);
    }
    g_assert_cmpuint(b.flow_ns, ==, learned);
    for (r = 0; r < 8; r++) {
        now += 100000000;
        bal_report(&b, 0, 0, now);
    }
    g_assert_cmpuint(b.flow_ns, <, learned);
}

/*
 * A truly slow blade (a nice -10 hog: it reports 100 % busy with no flow
 * of ours) that gets no flows keeps the cost it learned, however long it
 * is passed over, so it does not look fast again and take a burst of
 * flows (booted blades, cell b of bench lb-emu); once it reports idle,
 * what made it slow has gone, and its cost fades as before.
 */
static void test_wait_busy_elsewhere_keeps_cost(void)
{
    Group g;
    uint64_t now = 1, slow;
    unsigned i, r;

    group_init(&g, BAL_POLICY_UTIL, NULL, 2, 3);
    for (i = 0; i < 2; i++) {
        g.b[i].answered = 1;
        g.b[i].req_ns = i ? 200000000 : 20000000;
        g.b[i].lat_ns = g.b[i].req_ns;
        bal_report(&g.b[i], i ? 100 : 0, 0, now);
    }
    slow = g.b[1].req_ns;
    for (r = 0; r < 30; r++) {
        now += 100000000;
        bal_report(&g.b[0], 0, 0, now);
        bal_report(&g.b[1], 100, 0, now);
        /* a flow now and then, to the fast blade, which ends it */
        i = group_pick(&g, now, true);
        g_assert_cmpint(i, ==, 0);
        bal_closed(&g.b[0]);
    }
    g_assert_cmpuint(g.b[1].req_ns, ==, slow);
    g_assert_cmpuint(g.b[1].lat_ns, ==, slow);
    for (r = 0; r < 30; r++) {
        now += 100000000;
        bal_report(&g.b[1], 0, 0, now);
    }
    g_assert_cmpuint(g.b[1].req_ns, <, slow / 8);
    g_assert_cmpuint(g.b[1].lat_ns, <, slow / 8);
}

/*
 * util, WAIT: a blade with per learned (CPU time per answered request),
 * reporting at @now.
 */
static void wait_blade(BalBlade *b, uint64_t req_ns, uint64_t now)
{
    memset(b, 0, sizeof(*b));
    b->eligible = true;
    b->answered = 1;
    b->req_ns = req_ns;
    bal_report(b, 50, 0, now);
}

/* The score is (load + 1) x per, in ns; in-flight requests are the load. */
static void test_wait_score(void)
{
    BalParams p;
    BalBlade b;

    bal_params_init(&p);
    wait_blade(&b, 1000, 1);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 1000);
    bal_dispatched(&b);
    bal_request(&b);
    bal_dispatched(&b);
    bal_request(&b);
    g_assert_cmpuint(b.inflight, ==, 2);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 3000);
    /* answered: the flow stays open, no longer in flight */
    bal_answered(&b, 5000, false);
    g_assert_cmpuint(b.inflight, ==, 1);
    g_assert_cmpuint(b.lat_ns, ==, 0);  /* not alone: no latency sample */
    /* an idle open flow counts fully until its duty is sampled */
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 3000);
    /* a report samples the duty: 1 of 2 flows in flight, 500 permille */
    bal_report(&b, 50, 0, 2);
    g_assert_cmpuint(b.duty16 / 16, ==, 500);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 2500);
    /* a dropped request (flow ended unanswered) leaves the count */
    bal_request_dropped(&b);
    bal_closed(&b);
    g_assert_cmpuint(b.inflight, ==, 0);
    bal_request_dropped(&b);            /* never below 0 */
    g_assert_cmpuint(b.inflight, ==, 0);
    /* a blade whose answers the switch never saw: open flows */
    b.answered = 0;
    g_assert_cmpuint(b.active, ==, 1);
    b.flow_ns = 4000;
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 8000);
}

/*
 * A request's latency alone bounds the CPU figure, and replaces it where
 * other tasks compete (a hog keeps the CPU figure full): the blade costs
 * what its requests take, not what its CPU shows.
 */
static void test_wait_latency(void)
{
    BalParams p;
    BalBlade b;

    bal_params_init(&p);
    wait_blade(&b, 10000, 1);
    bal_request(&b);
    bal_answered(&b, 4000, true);       /* alone: first sample taken */
    g_assert_cmpuint(b.lat_ns, ==, 4000);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 4000);
    /* later samples move it an eighth of the way */
    bal_request(&b);
    bal_answered(&b, 12000, true);
    g_assert_cmpuint(b.lat_ns, ==, 5000);
    /* above the CPU figure: the CPU figure, unless others compete */
    b.req_ns = 2000;
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 2000);
    bal_report(&b, 100, 0, 2);
    bal_report_contention(&b, 0, 1);    /* a task, no request in flight */
    g_assert_true(b.others_runnable);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 5000);
    /* the same runnable count with one request in flight: its own task */
    bal_request(&b);
    bal_report(&b, 100, 0, 3);
    bal_report_contention(&b, 0, 1);
    g_assert_false(b.others_runnable);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 2 * 2000);
}

/*
 * Pressure: above its recent mean, with other tasks runnable, it raises
 * the wait at once; steady, or below the mean, or missing (an old blade,
 * a report without the figures), it changes nothing.
 */
static void test_wait_pressure(void)
{
    BalParams p;
    BalBlade b;
    uint64_t now = 1;

    bal_params_init(&p);
    wait_blade(&b, 1000, now);
    bal_dispatched(&b);     /* an open flow, idle: the blade is not */
    /* a steady 200 permille with a background task: the mean */
    for (unsigned i = 0; i < 64; i++) {
        bal_report(&b, 50, 0, ++now);
        bal_report_contention(&b, 200, 1);
    }
    g_assert_cmpuint(b.psi_avg16 / 16, ==, 200);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 1000);
    /* a jump to 800: (1000 + 800) / (1000 + mean), the mean barely moved */
    bal_report(&b, 50, 0, ++now);
    bal_report_contention(&b, 800, 1);
    g_assert_cmpuint(b.psi_avg16 / 16, ==, 237);
    g_assert_cmpuint(bal_util_score(&p, &b), ==,
                     (uint32_t)(1000.0 * 1800 * 16 / (16000 + b.psi_avg16)));
    g_assert_cmpuint(bal_util_score(&p, &b), >, 1400);
    /* the next report carries no contention figures: pressure 1 */
    bal_report(&b, 50, 0, ++now);
    g_assert_false(b.has_contention);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 1000);
    /* pressure, but no task besides the switch's requests: its own load */
    bal_request(&b);
    bal_report(&b, 50, 0, ++now);
    bal_report_contention(&b, 800, 1);
    g_assert_false(b.others_runnable);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 2000);
    /* below the mean: never lower than what was learned */
    bal_report(&b, 50, 0, ++now);
    bal_report_contention(&b, 0, 5);
    g_assert_cmpuint(bal_util_score(&p, &b), ==, 2000);
}

/*
 * The pick: the lowest wait, with a blade that has nothing learned costed
 * at the members' mean raised by its pressure (with contention figures)
 * or its CPU figure (without); on a cold start, the least loaded.
 */
static void test_wait_pick(void)
{
    Group g;

    group_init(&g, BAL_POLICY_UTIL, NULL, 3, 21);
    /* cold start: nothing learned anywhere, by the reported load (NET) */
    for (unsigned i = 0; i < 3; i++) {
        g.b[i].answered = 1;
        bal_report(&g.b[i], i == 1 ? 10 : 95, 0, 1);
    }
    bal_request(&g.b[0]);
    bal_request(&g.b[2]);
    g_assert_cmpint(group_pick(&g, 2, false), ==, 1);
    for (unsigned i = 0; i < 3; i++) {
        bal_report(&g.b[i], 0, 0, 2);
    }
    /* 0 learned 1000, 1 learned 3000: 0 with one in flight is 2000 */
    g.b[0].req_ns = 1000;
    g.b[1].req_ns = 3000;
    g_assert_cmpint(group_pick(&g, 2, false), ==, 0);
    /* 2, unlearned, counts at the mean 2000, x 2 for its one in flight */
    bal_request_dropped(&g.b[2]);       /* 2000 = 0's: fewer in flight */
    g_assert_cmpint(group_pick(&g, 2, false), ==, 2);
    bal_request(&g.b[0]);               /* 0: 3000, 2: 2000 */
    g_assert_cmpint(group_pick(&g, 2, false), ==, 2);
    bal_report(&g.b[2], 0, 0, 3);
    bal_report_contention(&g.b[2], 600, 1);     /* 2000 x 1.6 = 3200 */
    /* 0 and 1 wait 3000; 1 has fewer in flight */
    g_assert_cmpint(group_pick(&g, 3, false), ==, 1);
    bal_report(&g.b[2], 0, 0, 4);
    bal_report_contention(&g.b[2], 400, 1);     /* 2000 x 1.4 = 2800 */
    g_assert_cmpint(group_pick(&g, 4, false), ==, 2);
    bal_report(&g.b[2], 80, 0, 5);     /* no contention: 2000 x 1.8 */
    /* 1 and 2 idle, 3000 and 3600: alike (within 1.25x), either */
    g_assert_cmpint(group_pick(&g, 5, false), >=, 1);

    /*
     * Idle blades whose waits are within 1.25x share the flows; one
     * further off gets none; a busy blade is not among the alike.
     */
    group_init(&g, BAL_POLICY_UTIL, NULL, 3, 25);
    for (unsigned i = 0; i < 3; i++) {
        g.b[i].answered = 1;
        g.b[i].req_ns = i == 0 ? 1000 : i == 1 ? 1200 : 2000;
        bal_report(&g.b[i], 0, 0, 1);
    }
    for (unsigned i = 0; i < 200; i++) {
        group_pick(&g, 2, false);
    }
    g_assert_cmpuint(g.count[0], >, 60);
    g_assert_cmpuint(g.count[1], >, 60);
    g_assert_cmpuint(g.count[2], ==, 0);
    memset(g.count, 0, sizeof(g.count));
    g.b[0].req_ns = 400;
    bal_request(&g.b[0]);               /* 0: 800, busy; 1: 1200, idle */
    for (unsigned i = 0; i < 50; i++) {
        g_assert_cmpint(group_pick(&g, 2, false), ==, 0);
    }
}

/*
 * Prequal's hot-cold rule: a blade whose requests in flight are above
 * the quantile is hot and passed over even with the lowest wait; with
 * the rule off (0), the lowest wait wins.
 */
static void test_wait_hot_cold(void)
{
    BalParams p;
    Group g;

    bal_params_init(&p);
    group_init(&g, BAL_POLICY_UTIL, &p, 5, 22);
    for (unsigned i = 0; i < 5; i++) {
        g.b[i].answered = 1;
        g.b[i].req_ns = 1000;
        bal_report(&g.b[i], 0, 0, 1);
        bal_request(&g.b[i]);
        bal_request(&g.b[i]);
    }
    /* blade 4 is ten times as fast but has 6 in flight: wait 700 */
    g.b[4].req_ns = 100;
    for (unsigned i = 0; i < 4; i++) {
        bal_request(&g.b[4]);
    }
    /* blade 3 a little faster than 0..2: 3 x 900 */
    g.b[3].req_ns = 900;
    /* at 80 %, the 4th of 5 in-flight counts (2) is the quantile: 4 hot */
    g_assert_cmpint(group_pick(&g, 2, false), ==, 3);
    p.hot_quantile_pct = 0;
    group_init(&g, BAL_POLICY_UTIL, &p, 5, 22);
    for (unsigned i = 0; i < 5; i++) {
        g.b[i].answered = 1;
        g.b[i].req_ns = i == 4 ? 100 : i == 3 ? 900 : 1000;
        g.b[i].inflight = i == 4 ? 6 : 2;
        bal_report(&g.b[i], 0, 0, 1);
    }
    g_assert_cmpint(group_pick(&g, 2, false), ==, 4);
}

/*
 * prequal, with probes sent by the caller: a pick takes the pool's
 * coldest-then-fastest probe, counts the flow on it (RIF + 1), drops it
 * after pq_reuse uses and the worst probe after every pick; probes age
 * out; with an empty pool, a random eligible member.
 */
static void test_prequal_pool(void)
{
    BalParams p;
    Group g;
    uint16_t pos[8];
    unsigned n;

    bal_params_init(&p);
    p.pq_external = true;
    p.pq_probes = 3;
    p.pq_reuse = 2;
    p.pq_max_age_ns = 10 * MS;
    group_init(&g, BAL_POLICY_PREQUAL, &p, 6, 23);
    n = bal_prequal_probes(&g.st, g.b, g.m, g.n, pos);
    g_assert_cmpuint(n, ==, 3);
    g_assert_cmpuint(pos[0], !=, pos[1]);
    g_assert_cmpuint(pos[1], !=, pos[2]);
    g_assert_cmpuint(pos[0], !=, pos[2]);
    /* probes: 0, 1, 2, 4 with rif 0 and 6, 5, 3, 4 ms; 3: rif 9, 1 ms */
    bal_prequal_probe_result(&g.st, 0, 0, 6 * MS, 0);
    bal_prequal_probe_result(&g.st, 1, 0, 5 * MS, 0);
    bal_prequal_probe_result(&g.st, 2, 0, 3 * MS, 0);
    bal_prequal_probe_result(&g.st, 3, 9, 1 * MS, 0);
    bal_prequal_probe_result(&g.st, 4, 0, 4 * MS, 0);
    g_assert_cmpuint(g.st.pq_n, ==, 5);
    /* 3 is hot (rif 9 above the 80 % quantile, 0); of the cold, 2 */
    g_assert_cmpint(group_pick(&g, 1 * MS, false), ==, 2);
    /* 2's probe used once (rif now 1), the worst (3, hot) removed */
    g_assert_cmpuint(g.st.pq_n, ==, 4);
    for (unsigned i = 0; i < g.st.pq_n; i++) {
        g_assert_cmpuint(g.st.pq_pool[i].pos, !=, 3);
        if (g.st.pq_pool[i].pos == 2) {
            g_assert_cmpuint(g.st.pq_pool[i].rif, ==, 1);
            g_assert_cmpuint(g.st.pq_pool[i].uses, ==, 1);
        }
    }
    /* the quantile of (0, 0, 0, 1) is 1: none hot, 2 the fastest again */
    g_assert_cmpint(group_pick(&g, 2 * MS, false), ==, 2);
    /* 2 spent its reuse budget; then the worst, the slowest (0), went */
    g_assert_cmpuint(g.st.pq_n, ==, 2);
    for (unsigned i = 0; i < g.st.pq_n; i++) {
        g_assert_true(g.st.pq_pool[i].pos == 1 || g.st.pq_pool[i].pos == 4);
    }
    /* at 11 ms the probes are older than 10 ms: gone, a random pick */
    g_assert_cmpint(group_pick(&g, 11 * MS, false), >=, 0);
    g_assert_cmpuint(g.st.pq_n, ==, 0);
    /* a full pool drops its oldest */
    for (unsigned i = 0; i < BAL_PQ_POOL + 1; i++) {
        bal_prequal_probe_result(&g.st, i % 6, 0, MS, 20 * MS + i);
    }
    g_assert_cmpuint(g.st.pq_n, ==, BAL_PQ_POOL);
    for (unsigned i = 0; i < g.st.pq_n; i++) {
        g_assert_cmpuint(g.st.pq_pool[i].at_ns, >, 20 * MS);
    }
    /* a probe of a member no longer eligible is never used */
    g.st.pq_n = 0;
    bal_prequal_probe_result(&g.st, 5, 0, 1, 30 * MS);
    g.b[5].eligible = false;
    g_assert_cmpint(group_pick(&g, 30 * MS, false), !=, 5);
    g_assert_cmpuint(g.st.pq_n, ==, 0);
}

/* prequal in the switch: it answers its own probes from BalBlade. */
static void test_prequal_switch(void)
{
    Group g;

    group_init(&g, BAL_POLICY_PREQUAL, NULL, 2, 24);
    g.b[0].answered = g.b[1].answered = 1;
    for (unsigned i = 0; i < 5; i++) {
        bal_request(&g.b[0]);
    }
    /* two probes a pick, two members: both in the pool, 1 is colder */
    for (unsigned i = 0; i < 20; i++) {
        g_assert_cmpint(group_pick(&g, i, false), ==, 1);
        g.st.pq_n = 0;      /* fresh probes every time */
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/balance/params", test_params);
    g_test_add_func("/balance/rr", test_rr);
    g_test_add_func("/balance/random", test_random);
    g_test_add_func("/balance/leastconn", test_leastconn);
    g_test_add_func("/balance/p2c-conn", test_p2c_conn);
    g_test_add_func("/balance/util/backlog/score", test_backlog_score);
    g_test_add_func("/balance/util/backlog/large", test_backlog_large);
    g_test_add_func("/balance/util/backlog/avoids-busy",
                    test_backlog_avoids_busy);
    g_test_add_func("/balance/util/backlog/burst", test_backlog_burst);
    g_test_add_func("/balance/util/backlog/ties", test_backlog_ties);
    g_test_add_func("/balance/util/reported/score", test_reported_score);
    g_test_add_func("/balance/util/reported/avoids-busy",
                    test_reported_avoids_busy);
    g_test_add_func("/balance/util/reported/dispatch-counting",
                    test_reported_dispatch_counting);
    g_test_add_func("/balance/util/reported/burst", test_reported_burst);
    g_test_add_func("/balance/util/reported/ties", test_reported_ties);
    g_test_add_func("/balance/wrr-cpu", test_wrr_cpu);
    g_test_add_func("/balance/eligibility", test_eligibility);
    g_test_add_func("/balance/members", test_members_indirection);
    g_test_add_func("/balance/seeded", test_seeded);
    g_test_add_func("/balance/set-policy", test_set_policy);
    g_test_add_func("/balance/backlog/unlearned-busy",
                    test_backlog_unlearned_busy);
    g_test_add_func("/balance/backlog/recovers", test_backlog_recovers);
    g_test_add_func("/balance/backlog/trickle", test_backlog_trickle);
    g_test_add_func("/balance/util/wait/busy-elsewhere",
                    test_wait_busy_elsewhere_keeps_cost);
    g_test_add_func("/balance/util/wait/score", test_wait_score);
    g_test_add_func("/balance/util/wait/latency", test_wait_latency);
    g_test_add_func("/balance/util/wait/pressure", test_wait_pressure);
    g_test_add_func("/balance/util/wait/pick", test_wait_pick);
    g_test_add_func("/balance/util/wait/hot-cold", test_wait_hot_cold);
    g_test_add_func("/balance/prequal/pool", test_prequal_pool);
    g_test_add_func("/balance/prequal/switch", test_prequal_switch);
    return g_test_run();
}
