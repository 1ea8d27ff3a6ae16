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
 * Where the switch sees a flow's requests and answers it also calls
 * bal_request() when a request goes to the blade and bal_answered() when
 * its answer comes back (bal_request_dropped() when the flow ends with a
 * request unanswered): the blade's requests in flight.
 *
 * Policies (docs/balancing.md measures them):
 *   util      the wait a new flow would see on each blade (default).  By
 *             default (WAIT, see BalUtilEstimator) its requests in flight
 *             (or open flows) plus one, times the time one takes there
 *             (learned from its reports and from the answers the switch
 *             sees), scaled by the CPU pressure it reports, with
 *             Prequal's hot-cold rule over all eligible members; before
 *             it BACKLOG (open flows times the CPU time a flow takes),
 *             the first design (REPORTED: reported load corrected for
 *             the flows dispatched since the report, among a few random
 *             candidates so bursts between reports do not herd) and a
 *             step between (NET) remain as options
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
 *   prequal   Prequal (Wydrowski et al., NSDI 2024) as a baseline: a pool
 *             of probes, each a blade's requests in flight (RIF) and
 *             latency, refilled by BalParams.pq_probes probes to random
 *             members per flow, aged out after pq_max_age_ns, each used
 *             at most pq_reuse times (its RIF counted up by one a use),
 *             the worst one removed after every pick; the hot-cold rule
 *             picks among the pool.  Probes are answered by the caller:
 *             with pq_external false (the switch) bal_pick() answers them
 *             itself, at once, from BalBlade (inflight or active, lat_ns)
 *             in place of asking the blade; with pq_external true (the
 *             simulator) the caller sends them (bal_prequal_probes()) and
 *             hands back what comes back (bal_prequal_probe_result())
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

/*
 * The policies, in the order of BladePolicy in hw/blade/blade.json, which
 * holds their names (tests/scripts/test_schema.py checks the order).
 */
typedef enum BalPolicy {
    BAL_POLICY_UTIL,
    BAL_POLICY_RANDOM,
    BAL_POLICY_RR,
    BAL_POLICY_LEASTCONN,
    BAL_POLICY_P2C_CONN,
    BAL_POLICY_WRR_CPU,
    BAL_POLICY_PREQUAL,
    BAL_POLICY__MAX
} BalPolicy;

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
    /*
     * Added: requests in flight, as the switch sees them (bal_request(),
     * bal_answered(), bal_request_dropped()): requests sent and not yet
     * answered (at most one per flow: a flow awaits an answer or not),
     * requests ever sent and answered.  answered > 0 means the switch
     * does see this blade's answers, and util counts inflight in place of
     * active.
     */
    uint32_t inflight;
    uint64_t requests;
    uint64_t answered;
    /*
     * Added (WAIT): the learned latency of a request sent while nothing
     * else was in flight on the blade (0: none yet), i.e. its service
     * time under whatever else the blade runs; the learned CPU time per
     * answered request (0: not learned) and its running sum; the mean
     * CPU pressure of the recent reports, permille x 16.
     */
    uint64_t lat_ns;
    uint64_t req_ns;
    uint32_t est_answered;
    uint64_t answered_at_report;
    uint32_t psi_avg16;
    bool psi_primed;            /* psi_avg16 holds a figure */
    /*
     * Added (WAIT): the share of its open flows that await an answer, as
     * sampled at each report (inflight / active), permille x 16; 0 until
     * the first sample.
     */
    uint32_t duty16;
    /*
     * Added (WAIT): the latest report counted more runnable tasks than
     * the switch has requests (or, without answers, flows) on the blade:
     * something else competes for its CPU.
     */
    bool others_runnable;
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
    /*
     * util (WAIT) and prequal: the hot-cold rule's quantile, percent
     * (default 80): a candidate is hot when its requests in flight are
     * above that quantile of the candidates' (so with 4 candidates at 80
     * none is: the rule takes effect from 5); 0 turns the rule off.
     */
    unsigned hot_quantile_pct;
    /* prequal: probes sent per flow placed (0..8, default 2) */
    unsigned pq_probes;
    /* prequal: uses of one probe at most (default 2) */
    unsigned pq_reuse;
    /* prequal: probes older than this are dropped (default 1 s) */
    uint64_t pq_max_age_ns;
    /*
     * prequal: the caller sends the probes and hands their results back
     * (the simulator); false: bal_pick() answers them from BalBlade
     * (the switch, which knows these figures itself).
     */
    bool pq_external;
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
 *   WAIT:     the default: the wait a new flow would see, in nanoseconds,
 *             (load + 1) * per * pressure * (100 + cost_pct + irq_pct *
 *             irq_weight_pct / 100) / 100, with:
 *             load: where the switch sees the blade's answers (answered
 *                  > 0), its requests in flight plus its open flows that
 *                  await no answer now, each counted by the share of the
 *                  time its flows await one (duty16, sampled at each
 *                  report: a keep-alive connection between requests will
 *                  send more); else its open flows (active);
 *             per: the time one request takes there: the learned CPU
 *                  time per request (req_ns, learned as flow_ns but over
 *                  answers; flow_ns where answers are not seen), but the
 *                  learned latency of a request sent alone (lat_ns, the
 *                  switch's own measurement) where that is lower (a
 *                  request takes no more blade time than its own wall
 *                  time) or where the latest report counted more
 *                  runnable tasks than the switch has requests there
 *                  (others_runnable: then the CPU figure is full of
 *                  their time and says only how many requests the switch
 *                  sent; lat_ns is how fast a request is served beside
 *                  them: a normal-priority hog that yields to requests
 *                  shows as a little slower, one at nice -10 as much
 *                  slower).  A blade with no CPU time learned counts at
 *                  the members' mean per times (1000 + psi) / 1000 (with
 *                  contention figures) or (100 + cpu_pct) / 100 (without),
 *                  at most its lat_ns; while no member has learned
 *                  anything (a cold start), bal_pick() places by NET, as
 *                  BACKLOG does;
 *             pressure: (1000 + psi_permille) / (1000 + the mean psi of
 *                  the recent reports, psi_avg16 / 16) when the latest
 *                  report carried contention figures, counted other
 *                  runnable tasks and shows more pressure than the mean;
 *                  else 1: background load that just started raises the
 *                  wait before answers or CPU figures can show it;
 *                  steady pressure is already in per; a blade whose own
 *                  requests make the pressure is counted by its load.
 *             Then Prequal's hot-cold rule (hot_quantile_pct): the
 *             candidates whose n (requests in flight, or open flows) is
 *             above the quantile are hot, the lowest wait among the
 *             others wins; if that blade is idle (load 0), one of the
 *             idle blades whose wait is within 1.25x of it, at random
 *             (their waits differ by the noise of what was learned).
 *             Missing or stale figures: a blade whose report carried no
 *             contention figures (an old driver, or a guest agent that
 *             stopped: the driver then sends CPU and IRQ alone) gets
 *             pressure 1, keeps its recent mean, and its per is the CPU
 *             figure bounded by lat_ns; a blade whose reports stopped is
 *             out of rotation (the caller's staleness limit, as for every
 *             policy); a blade whose answers the switch does not see (UDP
 *             without replies, or replies that take another path) is
 *             counted by open flows and learns per from its reports
 *             only; the runnable count is used only to tell whether
 *             something besides the switch's requests competes.
 */
/* In the order of BladeUtilEstimator (blade.json), as BalPolicy. */
typedef enum BalUtilEstimator {
    BAL_UTIL_WAIT,
    BAL_UTIL_BACKLOG,
    BAL_UTIL_NET,
    BAL_UTIL_REPORTED,
    BAL_UTIL__MAX
} BalUtilEstimator;

/* The defaults above. */
void bal_params_init(BalParams *p);

/*
 * prequal: one probe's answer in the pool: which member, its requests in
 * flight (counted up by one each time the probe is used), its latency,
 * when it arrived, how often it was used.  The pool holds BAL_PQ_POOL.
 */
#define BAL_PQ_POOL 16
typedef struct BalProbe {
    uint16_t pos;
    uint16_t uses;
    uint32_t rif;
    uint64_t lat_ns;
    uint64_t at_ns;
} BalProbe;

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
    /* Added: prequal's probe pool (see BAL_PQ_POOL). */
    unsigned pq_n;
    BalProbe pq_pool[BAL_PQ_POOL];
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
/* A request went to @b (its flow now awaits an answer). */
void bal_request(BalBlade *b);
/*
 * @b answered a request, @latency_ns after it was sent; @alone: nothing
 * else was in flight on @b when it was sent.
 */
void bal_answered(BalBlade *b, uint64_t latency_ns, bool alone);
/* A flow on @b ended (or moved) while awaiting an answer. */
void bal_request_dropped(BalBlade *b);
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
/*
 * What util (WAIT) takes one request (or, where answers are not seen, one
 * flow) to cost on @b, in nanoseconds, before it is bounded against the
 * other candidates' (0: nothing learned).  For management output.
 */
uint64_t bal_request_cost_ns(const BalBlade *b);

/*
 * prequal with pq_external: the members (positions in @members) to probe
 * now, at most BalParams.pq_probes of them, written to @pos; their count.
 * The caller sends each a probe and, when its answer comes back, calls
 * bal_prequal_probe_result() with the figures the blade had.
 */
unsigned bal_prequal_probes(BalState *st, const BalBlade *blades,
                            const uint16_t *members, unsigned n,
                            uint16_t *pos);
/*
 * A probe's answer: member position @pos had @rif requests in flight and
 * an estimated latency of @lat_ns; it arrives at @now.  A full pool drops
 * its oldest probe.
 */
void bal_prequal_probe_result(BalState *st, uint16_t pos, uint32_t rif,
                              uint64_t lat_ns, uint64_t now);

#endif
