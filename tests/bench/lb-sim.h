/*
 * Balancing simulator: a seeded, deterministic discrete-event model of a
 * switch blade spreading flows over N blades, each with c cores serving
 * requests first come first served.  The switch side runs net/balance.c,
 * the very code the switch blade runs; what the switch sees of a blade is
 * modelled as the blade would report it (busy fraction over an averaging
 * window, delivered once a report period, possibly late).
 *
 * Oracles that only a simulator can have (perfect join-shortest-queue,
 * shortest expected delay, power of two on exact queue lengths) are here,
 * named LB_ORACLE_*, never in net/.
 *
 * docs/balancing.md describes the model and what was measured with it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_LB_SIM_H
#define BLADEPLANE_LB_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "balance.h"

/* Service-time distributions (work at speed 1). */
typedef enum LbDist {
    LB_DIST_EXP,        /* exponential, mean mean_ns */
    LB_DIST_BIMODAL,    /* 99.5 % x 0.5 us, 0.5 % x 500 us (mean 2.9975 us) */
    LB_DIST_PARETO,     /* bounded Pareto, alpha 1.1, SCV pareto_scv */
    LB_DIST__MAX
} LbDist;

/* Blade heterogeneity. */
typedef enum LbHet {
    LB_HET_EQUAL,       /* all blades alike */
    LB_HET_SPEED,       /* odd-numbered blades (half) speed_fast x faster */
    LB_HET_ONOFF,       /* every fourth blade has on/off background load */
    LB_HET_BOTH,        /* both of the above */
    LB_HET_HOG,         /* blade 0 alone has background load */
    LB_HET_SLOW,        /* blade 0 alone runs at slow_speed */
    LB_HET__MAX
} LbHet;

/*
 * How background load shares a blade with the requests:
 *   RESERVED: it holds bg_cores cores while on, which requests cannot
 *             take (a reserved core, or a job at a priority requests
 *             never preempt; the model of the first simulator);
 *   CFS:      bg_cores CPU hogs at nice bg_nice under Linux's CFS: a
 *             request that runs on a hog's core gets the share of it
 *             lb_cfs_rate() predicts, a request on another core all of
 *             its core; the hogs take whatever the requests leave.
 */
typedef enum LbBgModel {
    LB_BG_RESERVED,
    LB_BG_CFS,
    LB_BG__MAX
} LbBgModel;

/*
 * The CFS model of one core shared by a request and a hog that is always
 * runnable (lb_cfs_rate()).  Scheduler constants as Linux 6.1 sets them
 * for a guest with @cpus CPUs (kernel/sched/fair.c: sysctl_sched_latency
 * 6 ms, sysctl_sched_min_granularity 0.75 ms, sysctl_sched_wakeup_
 * granularity 1 ms, each times 1 + ilog2(cpus) up to 8 CPUs; a tick at
 * HZ 250); the request's shape is an assumption: CPU bursts (exponential,
 * mean burst_ns) separated by sleeps (exponential, mean sleep_ns) in
 * which none of its tasks is runnable; sleep_ns 0: one burst, never
 * sleeping.
 */
typedef struct LbCfs {
    unsigned cpus;              /* the guest's CPUs (scales the constants) */
    double latency_ns;          /* sched_latency at one CPU: 6 ms */
    double min_gran_ns;         /* 0.75 ms */
    double wakeup_gran_ns;      /* 1 ms */
    double tick_ns;             /* 4 ms (HZ 250) */
    double burst_ns;            /* the request's CPU bursts: 1 ms */
    double sleep_ns;            /* its sleeps between them: 1 ms */
    /*
     * GENTLE_FAIR_SLEEPERS: a waking task is placed at no less than
     * min_vruntime - latency / 2, i.e. with up to half the latency of
     * credit against tasks that kept running (true, as Linux does).
     */
    bool sleeper_credit;
} LbCfs;

/* The Linux defaults above, for a guest of @cpus CPUs. */
void lb_cfs_init(LbCfs *m, unsigned cpus);
/* CFS weight of nice level @nice (-20..19), as sched_prio_to_weight. */
unsigned lb_nice_weight(int nice);
/*
 * The speed at which a request is served on a core shared with a hog of
 * CFS weight @hog_weight, over its speed alone: its time alone (bursts
 * and sleeps) over its time with the hog (bursts, the waits for the hog,
 * sleeps), from a deterministic simulation of the two tasks' vruntimes
 * over 20,000 bursts.  *@share, if not NULL: the share of the core the
 * request got while runnable.
 */
double lb_cfs_rate(const LbCfs *m, unsigned hog_weight, double *share);

/* Who picks the blade of a new flow. */
typedef enum LbPicker {
    LB_PICK_POLICY,     /* net/balance.c, config.policy */
    LB_ORACLE_JSQ,      /* fewest requests in system, exact and fresh */
    /* shortest expected delay: JSQ knowing speeds and background load */
    LB_ORACLE_SED,
    /* the one of two random blades with fewer requests in system, exact */
    LB_ORACLE_SQ2,
    LB_PICK__MAX
} LbPicker;

typedef struct LbConfig {
    unsigned blades;            /* N, 1..BAL_MAX_MEMBERS */
    unsigned cores;             /* c per blade */
    LbDist dist;
    double mean_ns;             /* exp and pareto: mean service time */
    double pareto_scv;          /* pareto: squared coefficient of variation */
    double reqs_per_flow;       /* mean requests per flow (geometric); 1 */
    double think_ns;            /* mean gap between a flow's requests */
    double load;                /* offered work / capacity */
    double load_end;            /* > 0: load ramps linearly to it */
    LbHet het;
    double speed_fast;          /* LB_HET_SPEED: 2 */
    double bg_on_ns, bg_off_ns; /* background load periods (exponential) */
    unsigned bg_cores;          /* cores the background load takes; c/2 */
    LbBgModel bg_model;         /* RESERVED (default) or CFS */
    int bg_nice;                /* CFS: the hogs' nice level (0) */
    LbCfs cfs;                  /* CFS: the model (lb_cfs_init, c cores) */
    bool bg_always;             /* background load never turns off */
    double slow_speed;          /* LB_HET_SLOW: blade 0's speed (0.5) */
    /*
     * The blades report contention figures (CPU pressure, runnable
     * tasks) with their CPU and IRQ figures (true); false: old blades.
     */
    bool contention;
    /*
     * The switch sees each request and its answer (bal_request(),
     * bal_answered()): true; false: only flows' starts and ends.
     */
    bool see_requests;
    /* prequal: a probe's round trip, switch to blade and back (10 us) */
    double probe_rtt_ns;
    double report_ns;           /* report period; 0: at every event */
    double window_ns;           /* CPU averaging window; < 0: the period */
    double report_delay_ns;     /* sample to delivery at the switch */
    double close_delay_ns;      /* last response to flow end at the switch */
    double irq_frac;            /* share of a request's CPU time in IRQ */
    LbPicker picker;
    BalPolicy policy;
    BalParams params;
    uint64_t seed;
    /*
     * Flows: warmup_flows first, then @flows more; the requests measured
     * are those that reach a blade while the latter arrive.
     */
    uint64_t flows;
    uint64_t warmup_flows;
} LbConfig;

#define LB_RAMP_BINS 32

typedef struct LbResult {
    uint64_t requests;          /* measured requests (flows x reqs/flow) */
    double mean_ns, p50_ns, p99_ns, p999_ns, max_ns;
    /* p99 of the requests of flows in the first and second half */
    double p99_first_ns, p99_second_ns;
    /* busy fraction (requests and background) of each blade, measured */
    double util_mean, util_max;
    /*
     * The largest growth of a blade's requests in system over the
     * measured span: a backlog that keeps growing (an overloaded blade)
     * shows as thousands, a stable queue as a few.
     */
    double backlog_growth;
    /* share of measured flows sent to the fast blades (LB_HET_SPEED) */
    double fast_share;
    uint64_t affinity_violations;   /* requests not on their flow's blade */
    uint64_t reports;               /* reports delivered, measured part */
    uint64_t report_frame_bytes;    /* frame bytes they took: the gap, 0 */
    /* prequal: probes sent in the measured part, and their wire bytes */
    uint64_t probes;
    double probe_bytes_per_s;
    double report_cg_per_s;         /* code groups per second per lane */
    double sim_ns;                  /* measured simulated time */
    uint64_t events;
    /* load ramp: p99 of the requests of flows started in each load bin */
    unsigned ramp_bins;
    double ramp_load[LB_RAMP_BINS];
    double ramp_p99_ns[LB_RAMP_BINS];
    uint64_t ramp_n[LB_RAMP_BINS];
} LbResult;

/*
 * The defaults: N 16, c 4, exponential, mean 2.9975 us, one request per
 * flow, load 0.9, equal blades, reports every 100 us over 100 us, util.
 */
void lb_config_init(LbConfig *c);

/* Mean service time of the configured distribution, ns (speed 1). */
double lb_mean_service_ns(const LbConfig *c);

/* Flows per nanosecond arriving at the configured load (the ramp's start). */
double lb_flow_rate(const LbConfig *c);

/* Run one simulation.  Returns 0, or -1 for an invalid configuration. */
int lb_run(const LbConfig *c, LbResult *r);

const char *lb_dist_name(LbDist d);
const char *lb_het_name(LbHet h);
const char *lb_picker_name(LbPicker p);
bool lb_dist_parse(const char *s, LbDist *d);
bool lb_het_parse(const char *s, LbHet *h);

/*
 * Queueing theory the simulator is checked against, in units of the mean
 * service time (service rate 1).
 */
/* M/M/k mean response time at utilization rho (Erlang C). */
double lb_erlang_c_mean(unsigned k, double rho);
/*
 * Supermarket model (N -> infinity, d choices, single servers): mean
 * response time at arrival rate lambda per server.
 */
double lb_supermarket_mean(double lambda, unsigned d);

#endif
