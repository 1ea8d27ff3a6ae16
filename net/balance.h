/*
 * Balancing policies of the blade server manager: which blade of a group
 * gets a new flow.
 *
 * Plain C with no clock and no I/O of its own: the switch blade (hw/blade),
 * the balancing simulator (tests/bench) and the unit tests call the very
 * same code.  Time is the caller's, in nanoseconds, never going back.
 *
 * The caller keeps one BalBlade per blade (what the switch knows of it)
 * and one BalState per service (the policy and its cursors).  To place a
 * flow it calls bal_pick() on the service's members, then
 * bal_dispatched() on the chosen blade; bal_closed() when a flow on it
 * ends; bal_report() whenever the blade reports new figures.
 *
 * Policies (docs/balancing.md measures them):
 *   util      load from the blades' reports (CPU and interrupt %) and the
 *             switch's own flow counts (default).  By default (BACKLOG,
 *             see BalUtilEstimator) each blade's open flows times the CPU
 *             time a flow takes there, learned from its reports, over all
 *             eligible members; the first design (REPORTED: reported load
 *             corrected for the flows dispatched since the report, among
 *             a few random candidates so bursts between reports do not
 *             herd) and a step between (NET) remain as options
 *   random    uniform over the eligible members
 *   rr        round robin over the eligible members
 *   leastconn fewest open flows (switch-local, always fresh)
 *   p2c-conn  two random candidates, the one with fewer open flows
 *   wrr-cpu   smooth weighted round robin, weights from the reported CPU
 *             load, refreshed once a period (1 s), as gRPC's weighted
 *             round robin does with its backend metrics: weight =
 *             qps / utilization over the last period, i.e. the flows
 *             that ended on the blade over the blade time its reports
 *             say it was busy (cpu_pct times the time between reports,
 *             plus cost_pct of the period): the flows it completes per
 *             unit of CPU.  A member without data (no flow ended, or no
 *             busy time reported) gets the mean weight of the others
 *
 * util's score is described at BalUtilEstimator (bal_util_score()); util
 * and p2c-conn break ties by fewer open flows, then at random, and so does
 * leastconn.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_BALANCE_H
#define BLADEPLANE_NET_BALANCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Members of one group (a service's blades) at most. */
#define BAL_MAX_MEMBERS 256

typedef enum BalPolicy {
    BAL_POLICY_UTIL,
    BAL_POLICY_RANDOM,
    BAL_POLICY_RR,
    BAL_POLICY_LEASTCONN,
    BAL_POLICY_P2C_CONN,
    BAL_POLICY_WRR_CPU,
    BAL_POLICY__MAX
} BalPolicy;

/* "util", "random", ...; NULL for an invalid value. */
const char *bal_policy_name(BalPolicy p);
/* Parse a policy name; false (and *p untouched) if unknown. */
bool bal_policy_parse(const char *name, BalPolicy *p);

/* What the switch knows of one blade. */
typedef struct BalBlade {
    /*
     * In rotation: the caller decides (link up and in sync, MAC known,
     * latest report younger than the staleness limit).  Policies never
     * pick a blade that is not eligible.
     */
    bool eligible;
    uint8_t cpu_pct;            /* latest report, 0..100 */
    uint8_t irq_pct;            /* latest report, 0..100 */
    uint64_t report_ns;         /* when it arrived; 0: never */
    uint32_t since_report;      /* flows dispatched to it since then */
    uint32_t active;            /* flows open on it (switch-local) */
    /*
     * Extra load, in percent, added to the blade's score by the
     * load-aware policies (util, wrr-cpu): 0 for a blade in this chassis,
     * a per-hop cost for blades reached through other chassis.
     */
    uint32_t cost_pct;
    /*
     * Added (all maintained by bal_dispatched/closed/report; zero them
     * with the rest).  Flows ever dispatched to it and ended on it
     * (wrr-cpu's rate); the blade time its reports say it was busy, in
     * all (cpu_pct times the time between reports); open and ended flows
     * when the last report came; the util estimate of the blade time one
     * flow takes (0: not learned yet) and its running sums.
     */
    uint64_t dispatched;
    uint64_t closed;
    uint64_t busy_ns;
    uint32_t active_at_report;
    uint64_t closed_at_report;
    uint64_t flow_ns;
    uint64_t est_busy_ns;
    uint32_t est_closed;
    /* Added: reports in a row with no flow on the blade (BACKLOG). */
    uint32_t idle_reports;
    /* Added: when the current est_ sums began (BACKLOG). */
    uint64_t est_since_ns;
    /*
     * Contention figures of the latest report, set by
     * bal_report_contention() after bal_report(); a report without them
     * (a blade that sends only CPU and interrupt %) clears has_contention.
     */
    bool has_contention;
    uint16_t psi_permille;      /* CPU pressure "some", 0..1000 */
    uint16_t runnable;          /* runnable tasks when it was taken */
} BalBlade;

typedef struct BalParams {
    /*
     * p2c-conn, and util with the REPORTED or NET estimator: candidates
     * sampled per decision (1..8, default 2)
     */
    unsigned choices;
    /*
     * util, REPORTED and NET: load one flow dispatched since the last
     * report is assumed to add, in hundredths of a percent (default 500,
     * i.e. 5 %).
     */
    unsigned flow_cost_centipct;
    /* util: weight of the interrupt figure against CPU, percent (50) */
    unsigned irq_weight_pct;
    /* wrr-cpu: weight refresh period (default 1 s) */
    uint64_t wrr_refresh_ns;
    /* util: how a blade's load is estimated (added; BalUtilEstimator) */
    unsigned util_estimator;
} BalParams;

/*
 * util's estimators, in the order they were designed (docs/balancing.md
 * measures each step):
 *   REPORTED: 100 * cpu_pct + irq_weight_pct * irq_pct + flow_cost *
 *             since_report + 100 * cost_pct, in hundredths of a percent
 *             (the first design).
 *   NET:      the same with (active - active_at_report), i.e. flows
 *             dispatched minus flows ended since the report, in place of
 *             since_report (so it can lower the score; floored at 0).
 *   BACKLOG:  (active + 1) * flow_ns * (100 + cost_pct + irq_pct *
 *             irq_weight_pct / 100) / 100, in nanoseconds: the blade time
 *             its open flows and one more would take.  flow_ns is learned
 *             from the reports: CPU busy time between reports (cpu_pct *
 *             interval) over the flows that ended meanwhile, summed over
 *             at least 32 flows (or 4 over at least a second), then
 *             averaged (new samples weigh 1/4).
 *             A blade with nothing learned yet counts, in bal_pick(), at
 *             the mean flow_ns of the members that have one times
 *             (100 + cpu_pct) / 100; while no member has one (a cold
 *             start), bal_pick() places by NET.
 *             The default.
 */
typedef enum BalUtilEstimator {
    BAL_UTIL_BACKLOG,
    BAL_UTIL_NET,
    BAL_UTIL_REPORTED,
    BAL_UTIL__MAX
} BalUtilEstimator;

/* The defaults above. */
void bal_params_init(BalParams *p);

/* Per-service policy state.  Plain data: copy or zero it freely. */
typedef struct BalState {
    BalPolicy policy;
    BalParams params;
    uint64_t rng;               /* private PRNG state (seeded) */
    uint32_t rr_next;
    /* wrr-cpu */
    uint64_t wrr_refresh_at;
    int32_t wrr_weight[BAL_MAX_MEMBERS];
    int32_t wrr_current[BAL_MAX_MEMBERS];
    /* Added: each member's BalBlade.closed and busy_ns at the refresh. */
    bool wrr_primed;
    uint64_t wrr_closed[BAL_MAX_MEMBERS];
    uint64_t wrr_busy[BAL_MAX_MEMBERS];
} BalState;

/*
 * @seed makes every random choice reproducible.  @params NULL: the
 * defaults; choices is clamped to 1..8, an invalid policy is taken as util.
 */
void bal_init(BalState *st, BalPolicy policy, const BalParams *params,
              uint64_t seed);
/* Change the policy at run time (cursors restart; the PRNG goes on). */
void bal_set_policy(BalState *st, BalPolicy policy);

/*
 * Choose a blade for a new flow among members[0..n) (indices into
 * @blades; n <= BAL_MAX_MEMBERS).  Returns the position in @members of
 * the chosen blade, or -1 if none of them is eligible (or n is 0 or above
 * BAL_MAX_MEMBERS).  Only the policy
 * state changes: the caller then calls bal_dispatched() on the blade.
 */
int bal_pick(BalState *st, const BalBlade *blades, const uint16_t *members,
             unsigned n, uint64_t now);

/* A new flow went to @b. */
void bal_dispatched(BalBlade *b);
/* A flow on @b ended. */
void bal_closed(BalBlade *b);
/* @b reported new figures (values above 100 are taken as 100). */
void bal_report(BalBlade *b, unsigned cpu_pct, unsigned irq_pct,
                uint64_t now);

/*
 * The report just given to bal_report() also carried contention figures:
 * @psi_permille, the share of the report interval in which runnable tasks
 * waited for a CPU (Linux PSI "some", 0..1000; above is taken as 1000),
 * and @runnable, the runnable tasks (above BAL_MAX_RUNNABLE is taken as
 * that).
 */
#define BAL_MAX_RUNNABLE 1023
void bal_report_contention(BalBlade *b, unsigned psi_permille,
                           unsigned runnable);

/*
 * The util policy's score of @b (lower is better): what the policy
 * believes the blade's load is, in the unit of params->util_estimator
 * (see BalUtilEstimator: nanoseconds for the default, BACKLOG, where a
 * blade whose flow_ns is not learned yet counts 1 ns per flow; hundredths
 * of a percent for the others).  Exposed for management output, traces
 * and tests.
 */
uint32_t bal_util_score(const BalParams *params, const BalBlade *b);

#endif
