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
    LB_HET__MAX
} LbHet;

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
    /* share of measured flows sent to the fast blades (LB_HET_SPEED) */
    double fast_share;
    uint64_t affinity_violations;   /* requests not on their flow's blade */
    uint64_t reports;               /* reports delivered, measured part */
    uint64_t report_frame_bytes;    /* frame bytes they took: the gap, 0 */
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
