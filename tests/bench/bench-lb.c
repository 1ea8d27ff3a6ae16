/*
 * Balancing quality benchmark: runs the simulator of lb-sim.c, which
 * links net/balance.c, on one cell (N blades, workload, load, blades'
 * heterogeneity, report period) for each picker, and prints "name: value"
 * lines (or CSV with --csv, for tests/bench/lb-report.py).
 *
 * With no options it runs the headline cell of docs/balancing.md:
 * 16 blades of 4 cores, half of them 2x faster, exponential service
 * (mean 2.9975 us), one request per flow, load 0.9, reports every 100 us
 * averaged over 100 us, seed 1.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blade-enum-names.h"
#include "lb-sim.h"

#define DEFAULT_PICKERS "jsq,sed,sq2," BLADE_POLICY_NAMES_CSV
#define MAX_PICKERS 16

typedef struct Run {
    char name[32];
    LbResult r;
} Run;

static void usage(FILE *f)
{
    fprintf(f,
"usage: bench-lb [options]\n"
"  --blades N        blades (16)            --cores C       cores each (4)\n"
"  --dist D          exp|bimodal|pareto     --mean-us X     mean service\n"
"  --scv X           pareto SCV (50)        --reqs M        requests/flow\n"
"  --think-us X      gap between a flow's requests (10 x mean service)\n"
"  --load X          offered load (0.9)     --load-end X    ramp to X\n"
"  --het H           equal|speed|onoff|both|hog|slow (speed)\n"
"  --speed X         fast blades' speed (2) --bg-cores K    (c/2)\n"
"  --slow-speed X    het slow: blade 0's speed (0.5)\n"
"  --bg-model M      reserved|cfs: background holds cores, or CPU hogs\n"
"                    sharing them by CFS weight (reserved)\n"
"  --nice N          cfs: the hogs' nice level (0)\n"
"  --bg-always       background load never turns off\n"
"  --cfs-burst-us X --cfs-sleep-us X  cfs: a request's CPU bursts and\n"
"                    the sleeps between them (1000, 1000)\n"
"  --cfs-rates       print the CFS model's predicted service rates and exit\n"
"  --no-contention   blades report CPU and IRQ only (old drivers)\n"
"  --no-requests     the switch sees flows only, not requests and answers\n"
"  --bg-on-us X      --bg-off-us X          background periods (10000)\n"
"  --report-us X     report period (100; 0: at every event, at once)\n"
"  --window-us X     CPU averaging window (the period)\n"
"  --delay-us X      report delivery delay (0)\n"
"  --close-delay-us X  flow end seen late by the switch (0)\n"
"  --irq-frac X      share of request CPU time in IRQ (0.1)\n"
"  --choices D --flow-cost C --irq-weight W --wrr-refresh-us X\n"
"  --estimator E     wait|backlog|net|reported   BalParams (util)\n"
"  --hot-quantile Q  util (wait) and prequal: hot-cold quantile, %% (80)\n"
"  --probes D --reuse B --probe-age-us X --probe-rtt-us X  prequal's probes\n"
"                    per flow (2), uses (2), age limit (20 x mean service),\n"
"                    round trip (10)\n"
"  --flows N (1000000) --warmup N (100000) --seed S (1)\n"
"  --periods K       util and wrr-cpu measure >= K report periods (5)\n"
"  --wrr-warmup-periods K  wrr-cpu warms up >= K refresh periods (10)\n"
"  --pickers LIST    of " DEFAULT_PICKERS "\n"
"  --csv             CSV rows instead of name: value lines\n");
}

static double num(const char *opt, const char *s)
{
    char *end;
    double v = strtod(s, &end);

    if (*s == '\0' || *end != '\0') {
        fprintf(stderr, "bench-lb: bad number for --%s: %s\n", opt, s);
        exit(2);
    }
    return v;
}

/*
 * The names QEMU takes (hw/blade/blade.json), in the order of net/'s
 * enums (tests/scripts/test_schema.py checks it).
 */
static const char *const policies[] = { BLADE_POLICY_NAMES };
static const char *const estimators[] = { BLADE_UTIL_ESTIMATOR_NAMES };
_Static_assert(sizeof(policies) / sizeof(policies[0]) == BAL_POLICY__MAX,
               "BladePolicy and BalPolicy differ");
_Static_assert(sizeof(estimators) / sizeof(estimators[0]) == BAL_UTIL__MAX,
               "BladeUtilEstimator and BalUtilEstimator differ");

static bool parse_name(const char *const *names, unsigned n, const char *s,
                       unsigned *i)
{
    for (unsigned k = 0; k < n; k++) {
        if (strcmp(s, names[k]) == 0) {
            *i = k;
            return true;
        }
    }
    return false;
}

static bool parse_estimator(const char *s, unsigned *e)
{
    return parse_name(estimators, BAL_UTIL__MAX, s, e);
}

static bool set_picker(LbConfig *c, const char *name)
{
    unsigned p;

    if (strcmp(name, "jsq") == 0) {
        c->picker = LB_ORACLE_JSQ;
    } else if (strcmp(name, "sed") == 0) {
        c->picker = LB_ORACLE_SED;
    } else if (strcmp(name, "sq2") == 0) {
        c->picker = LB_ORACLE_SQ2;
    } else if (parse_name(policies, BAL_POLICY__MAX, name, &p)) {
        c->policy = (BalPolicy)p;
        c->picker = LB_PICK_POLICY;
    } else {
        return false;
    }
    return true;
}

/*
 * Pickers that read the blades' reports (util, wrr-cpu) need time to
 * learn: their warm-up lasts at least three report periods (plus delay),
 * and for wrr-cpu @wrr_periods weight refresh periods: its first period
 * has no weights, so it is round robin, which overloads slower blades;
 * the backlog then takes seconds to drain (docs/balancing.md).  What they
 * measure spans at least @periods report periods.  The others are
 * unaffected.
 */
static void stretch(LbConfig *c, double periods, double wrr_periods)
{
    double rate = lb_flow_rate(c), warm = 0, span = 0;

    if (c->picker != LB_PICK_POLICY ||
        (c->policy != BAL_POLICY_UTIL && c->policy != BAL_POLICY_WRR_CPU)) {
        return;
    }
    if (c->report_ns > 0) {
        warm = 3 * (c->report_ns + c->report_delay_ns);
        span = periods * c->report_ns;
    }
    if (c->policy == BAL_POLICY_WRR_CPU &&
        warm < wrr_periods * c->params.wrr_refresh_ns) {
        warm = wrr_periods * c->params.wrr_refresh_ns;
    }
    if (warm * rate > c->warmup_flows) {
        c->warmup_flows = (uint64_t)(warm * rate);
    }
    if (span * rate > c->flows) {
        c->flows = (uint64_t)(span * rate);
    }
}

static void key(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s", name);
    for (char *p = out; *p; p++) {
        if (*p == '-') {
            *p = '_';
        }
    }
}

static const Run *find(const Run *runs, unsigned n, const char *name)
{
    for (unsigned i = 0; i < n; i++) {
        if (strcmp(runs[i].name, name) == 0) {
            return &runs[i];
        }
    }
    return NULL;
}

static void ratio(const Run *runs, unsigned n, const char *num_name,
                  const char *den_name)
{
    const Run *a = find(runs, n, num_name), *b = find(runs, n, den_name);
    char ka[32], kb[32];

    if (!a || !b || b->r.p99_ns <= 0) {
        return;
    }
    key(ka, sizeof(ka), num_name);
    key(kb, sizeof(kb), den_name);
    printf("p99_%s_over_%s: %.3f\n", ka, kb, a->r.p99_ns / b->r.p99_ns);
}

/*
 * The targets: p99(a) / p99(b) <= @limit, or >= -@limit when
 * @limit is negative.  Prints "target_NAME: 1" (met) or 0.
 */
static void target(const Run *runs, unsigned n, const char *a_name,
                   const char *b_name, double limit, const char *name)
{
    const Run *a = find(runs, n, a_name), *b = find(runs, n, b_name);
    double r;

    if (!a || !b || b->r.p99_ns <= 0) {
        return;
    }
    r = a->r.p99_ns / b->r.p99_ns;
    printf("target_%s: %d\n", name, limit > 0 ? r <= limit : r >= -limit);
}

static void print_csv_header(void)
{
    printf("picker,blades,cores,dist,reqs,het,load,report_us,window_us,"
           "delay_us,estimator,choices,flow_cost,irq_weight,seed,requests,"
           "mean_us,"
           "p50_us,p99_us,p999_us,max_us,p99_first_us,p99_second_us,"
           "util_mean,util_max,fast_share,affinity_violations,reports,"
           "report_frame_bytes,report_cg_per_s,sim_ms,events,flows,"
           "warmup_flows,backlog_growth,probes,probe_bytes_per_s\n");
}

static void print_csv(const LbConfig *c, const Run *run, double window)
{
    const LbResult *r = &run->r;

    printf("%s,%u,%u,%s,%g,%s,%g,%g,%g,%g,%s,%u,%u,%u,%" PRIu64 ",%" PRIu64
           ",%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%" PRIu64
           ",%" PRIu64 ",%" PRIu64 ",%.1f,%.3f,%" PRIu64 ",%" PRIu64
           ",%" PRIu64 ",%.0f,%" PRIu64 ",%.0f\n",
           run->name, c->blades, c->cores, lb_dist_name(c->dist),
           c->reqs_per_flow, lb_het_name(c->het), c->load,
           c->report_ns / 1e3, window / 1e3, c->report_delay_ns / 1e3,
           estimators[c->params.util_estimator], c->params.choices,
           c->params.flow_cost_centipct,
           c->params.irq_weight_pct, c->seed, r->requests,
           r->mean_ns / 1e3, r->p50_ns / 1e3, r->p99_ns / 1e3,
           r->p999_ns / 1e3, r->max_ns / 1e3, r->p99_first_ns / 1e3,
           r->p99_second_ns / 1e3, r->util_mean, r->util_max, r->fast_share,
           r->affinity_violations, r->reports, r->report_frame_bytes,
           r->report_cg_per_s, r->sim_ns / 1e6, r->events, c->flows,
           c->warmup_flows, r->backlog_growth, r->probes,
           r->probe_bytes_per_s);
    for (unsigned i = 0; i < r->ramp_bins; i++) {
        printf("ramp,%s,%.3f,%.4f,%" PRIu64 "\n", run->name,
               r->ramp_load[i], r->ramp_p99_ns[i] / 1e3, r->ramp_n[i]);
    }
}

static void print_values(const LbConfig *c, const Run *run)
{
    const LbResult *r = &run->r;
    char k[32];

    key(k, sizeof(k), run->name);
    printf("%s_mean_us: %.3f\n", k, r->mean_ns / 1e3);
    printf("%s_p99_us: %.3f\n", k, r->p99_ns / 1e3);
    printf("%s_p999_us: %.3f\n", k, r->p999_ns / 1e3);
    printf("%s_util_max_over_mean: %.3f\n", k,
           r->util_mean > 0 ? r->util_max / r->util_mean : 0);
    if (c->het == LB_HET_SPEED || c->het == LB_HET_BOTH) {
        printf("%s_fast_share: %.3f\n", k, r->fast_share);
    }
    /* p99 of the second half of the run over the first */
    printf("%s_p99_growth: %.2f\n", k,
           r->p99_first_ns > 0 ? r->p99_second_ns / r->p99_first_ns : 0);
    /* a blade's backlog growth over the run: thousands means unstable */
    printf("%s_backlog_growth: %.0f\n", k, r->backlog_growth);
    printf("%s_affinity_violations: %" PRIu64 "\n", k,
           r->affinity_violations);
    printf("%s_flows: %" PRIu64 "\n", k, c->flows);
    if (c->picker == LB_PICK_POLICY && c->policy == BAL_POLICY_PREQUAL) {
        /* what its probes cost: per flow, and on the wire */
        printf("%s_probes_per_flow: %.2f\n", k,
               (double)r->probes / (double)c->flows);
        printf("%s_probe_bytes_per_s: %.0f\n", k, r->probe_bytes_per_s);
    }
    printf("%s_warmup_flows: %" PRIu64 "\n", k, c->warmup_flows);
}

/*
 * The CFS model's predictions (lb_cfs_rate()) for a request on a core
 * with no hog, a nice 0 hog and a nice -10 hog: the service-rate ratios
 * the emulator measures on booted blades, and the share of the core the
 * request gets while runnable.
 */
static void print_cfs_rates(const LbCfs *m)
{
    static const int nices[] = { 0, -10 };
    LbCfs pure = *m;

    printf("cfs_cpus: %u\n", m->cpus);
    printf("cfs_burst_us: %.0f\n", m->burst_ns / 1e3);
    printf("cfs_sleep_us: %.0f\n", m->sleep_ns / 1e3);
    printf("sim_rate_none: 1.000\n");
    for (unsigned i = 0; i < sizeof(nices) / sizeof(nices[0]); i++) {
        unsigned w = lb_nice_weight(nices[i]);
        double share, rate = lb_cfs_rate(m, w, &share);

        printf("sim_rate_nice%d_over_none: %.3f\n", nices[i], rate);
        printf("sim_share_nice%d_runnable: %.3f\n", nices[i], share);
        /* without the sleeper's credit: weights alone */
        pure.sleeper_credit = false;
        printf("sim_rate_nice%d_over_none_no_credit: %.3f\n", nices[i],
               lb_cfs_rate(&pure, w, NULL));
        printf("sim_rate_nice%d_weights_only: %.3f\n", nices[i],
               1024.0 / (1024.0 + w));
    }
}

/* Policies (not oracles) by p99, best first, and util's place. */
static void print_rank(const LbConfig *c, const Run *runs, unsigned n,
                       char **names)
{
    unsigned order[MAX_PICKERS], k = 0;

    for (unsigned i = 0; i < n; i++) {
        LbConfig probe = *c;

        set_picker(&probe, names[i]);
        if (probe.picker == LB_PICK_POLICY) {
            unsigned j = k++;

            while (j > 0 && runs[order[j - 1]].r.p99_ns > runs[i].r.p99_ns) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = i;
        }
    }
    printf("p99_rank:");
    for (unsigned j = 0; j < k; j++) {
        printf("%s%s", j ? "," : " ", runs[order[j]].name);
    }
    printf("\n");
    for (unsigned j = 0; j < k; j++) {
        if (!strcmp(runs[order[j]].name, "util")) {
            printf("util_rank: %u\n", j + 1);
        }
    }
}

int main(int argc, char **argv)
{
    enum {
        O_BLADES = 256, O_CORES, O_DIST, O_MEAN, O_SCV, O_REQS, O_THINK,
        O_LOAD, O_LOAD_END, O_HET, O_SPEED, O_BG_CORES, O_BG_ON, O_BG_OFF,
        O_REPORT, O_WINDOW, O_DELAY, O_CLOSE_DELAY, O_IRQ_FRAC, O_CHOICES,
        O_FLOW_COST, O_IRQ_WEIGHT, O_WRR, O_FLOWS, O_WARMUP, O_SEED,
        O_PICKERS, O_CSV, O_ESTIMATOR, O_PERIODS, O_WRR_PERIODS,
        O_SLOW_SPEED, O_BG_MODEL, O_NICE, O_BG_ALWAYS, O_CFS_BURST,
        O_CFS_SLEEP, O_CFS_RATES, O_NO_CONTENTION, O_NO_REQUESTS,
        O_HOT_QUANTILE, O_PROBES, O_REUSE, O_PROBE_AGE, O_PROBE_RTT, O_HELP,
    };
    static const struct option opts[] = {
        { "blades", required_argument, NULL, O_BLADES },
        { "cores", required_argument, NULL, O_CORES },
        { "dist", required_argument, NULL, O_DIST },
        { "mean-us", required_argument, NULL, O_MEAN },
        { "scv", required_argument, NULL, O_SCV },
        { "reqs", required_argument, NULL, O_REQS },
        { "think-us", required_argument, NULL, O_THINK },
        { "load", required_argument, NULL, O_LOAD },
        { "load-end", required_argument, NULL, O_LOAD_END },
        { "het", required_argument, NULL, O_HET },
        { "speed", required_argument, NULL, O_SPEED },
        { "bg-cores", required_argument, NULL, O_BG_CORES },
        { "bg-on-us", required_argument, NULL, O_BG_ON },
        { "bg-off-us", required_argument, NULL, O_BG_OFF },
        { "report-us", required_argument, NULL, O_REPORT },
        { "window-us", required_argument, NULL, O_WINDOW },
        { "delay-us", required_argument, NULL, O_DELAY },
        { "close-delay-us", required_argument, NULL, O_CLOSE_DELAY },
        { "irq-frac", required_argument, NULL, O_IRQ_FRAC },
        { "choices", required_argument, NULL, O_CHOICES },
        { "flow-cost", required_argument, NULL, O_FLOW_COST },
        { "irq-weight", required_argument, NULL, O_IRQ_WEIGHT },
        { "wrr-refresh-us", required_argument, NULL, O_WRR },
        { "flows", required_argument, NULL, O_FLOWS },
        { "warmup", required_argument, NULL, O_WARMUP },
        { "seed", required_argument, NULL, O_SEED },
        { "pickers", required_argument, NULL, O_PICKERS },
        { "csv", no_argument, NULL, O_CSV },
        { "estimator", required_argument, NULL, O_ESTIMATOR },
        { "periods", required_argument, NULL, O_PERIODS },
        { "wrr-warmup-periods", required_argument, NULL, O_WRR_PERIODS },
        { "slow-speed", required_argument, NULL, O_SLOW_SPEED },
        { "bg-model", required_argument, NULL, O_BG_MODEL },
        { "nice", required_argument, NULL, O_NICE },
        { "bg-always", no_argument, NULL, O_BG_ALWAYS },
        { "cfs-burst-us", required_argument, NULL, O_CFS_BURST },
        { "cfs-sleep-us", required_argument, NULL, O_CFS_SLEEP },
        { "cfs-rates", no_argument, NULL, O_CFS_RATES },
        { "no-contention", no_argument, NULL, O_NO_CONTENTION },
        { "no-requests", no_argument, NULL, O_NO_REQUESTS },
        { "hot-quantile", required_argument, NULL, O_HOT_QUANTILE },
        { "probes", required_argument, NULL, O_PROBES },
        { "reuse", required_argument, NULL, O_REUSE },
        { "probe-age-us", required_argument, NULL, O_PROBE_AGE },
        { "probe-rtt-us", required_argument, NULL, O_PROBE_RTT },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    LbConfig c;
    Run *runs;
    char pickers[512] = DEFAULT_PICKERS;
    char *names[MAX_PICKERS];
    unsigned npick = 0;
    bool csv = false, think_set = false, bg_cores_set = false;
    bool cfs_rates = false;
    double window, periods = 5, wrr_periods = 10;
    int o;

    lb_config_init(&c);
    c.het = LB_HET_SPEED;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        const char *n = opts[o >= O_BLADES && o <= O_HELP ?
                             o - O_BLADES : 0].name;

        switch (o) {
        case O_BLADES:
            c.blades = (unsigned)num(n, optarg);
            break;
        case O_CORES:
            c.cores = (unsigned)num(n, optarg);
            break;
        case O_DIST:
            if (!lb_dist_parse(optarg, &c.dist)) {
                fprintf(stderr, "bench-lb: unknown --dist %s\n", optarg);
                return 2;
            }
            break;
        case O_MEAN:
            c.mean_ns = num(n, optarg) * 1e3;
            break;
        case O_SCV:
            c.pareto_scv = num(n, optarg);
            break;
        case O_REQS:
            c.reqs_per_flow = num(n, optarg);
            break;
        case O_THINK:
            c.think_ns = num(n, optarg) * 1e3;
            think_set = true;
            break;
        case O_LOAD:
            c.load = num(n, optarg);
            break;
        case O_LOAD_END:
            c.load_end = num(n, optarg);
            break;
        case O_HET:
            if (!lb_het_parse(optarg, &c.het)) {
                fprintf(stderr, "bench-lb: unknown --het %s\n", optarg);
                return 2;
            }
            break;
        case O_SPEED:
            c.speed_fast = num(n, optarg);
            break;
        case O_BG_CORES:
            c.bg_cores = (unsigned)num(n, optarg);
            bg_cores_set = true;
            break;
        case O_BG_ON:
            c.bg_on_ns = num(n, optarg) * 1e3;
            break;
        case O_BG_OFF:
            c.bg_off_ns = num(n, optarg) * 1e3;
            break;
        case O_REPORT:
            c.report_ns = num(n, optarg) * 1e3;
            break;
        case O_WINDOW:
            c.window_ns = num(n, optarg) * 1e3;
            break;
        case O_DELAY:
            c.report_delay_ns = num(n, optarg) * 1e3;
            break;
        case O_CLOSE_DELAY:
            c.close_delay_ns = num(n, optarg) * 1e3;
            break;
        case O_IRQ_FRAC:
            c.irq_frac = num(n, optarg);
            break;
        case O_CHOICES:
            c.params.choices = (unsigned)num(n, optarg);
            break;
        case O_FLOW_COST:
            c.params.flow_cost_centipct = (unsigned)num(n, optarg);
            break;
        case O_IRQ_WEIGHT:
            c.params.irq_weight_pct = (unsigned)num(n, optarg);
            break;
        case O_ESTIMATOR:
            if (!parse_estimator(optarg, &c.params.util_estimator)) {
                fprintf(stderr, "bench-lb: unknown --estimator %s\n",
                        optarg);
                return 2;
            }
            break;
        case O_PERIODS:
            periods = num(n, optarg);
            break;
        case O_WRR_PERIODS:
            wrr_periods = num(n, optarg);
            break;
        case O_WRR:
            c.params.wrr_refresh_ns = (uint64_t)(num(n, optarg) * 1e3);
            break;
        case O_FLOWS:
            c.flows = (uint64_t)num(n, optarg);
            break;
        case O_WARMUP:
            c.warmup_flows = (uint64_t)num(n, optarg);
            break;
        case O_SEED:
            c.seed = (uint64_t)num(n, optarg);
            break;
        case O_PICKERS:
            snprintf(pickers, sizeof(pickers), "%s", optarg);
            break;
        case O_CSV:
            csv = true;
            break;
        case O_SLOW_SPEED:
            c.slow_speed = num(n, optarg);
            break;
        case O_BG_MODEL:
            if (!strcmp(optarg, "reserved")) {
                c.bg_model = LB_BG_RESERVED;
            } else if (!strcmp(optarg, "cfs")) {
                c.bg_model = LB_BG_CFS;
            } else {
                fprintf(stderr, "bench-lb: unknown --bg-model %s\n", optarg);
                return 2;
            }
            break;
        case O_NICE:
            c.bg_nice = (int)num(n, optarg);
            break;
        case O_BG_ALWAYS:
            c.bg_always = true;
            break;
        case O_CFS_BURST:
            c.cfs.burst_ns = num(n, optarg) * 1e3;
            break;
        case O_CFS_SLEEP:
            c.cfs.sleep_ns = num(n, optarg) * 1e3;
            break;
        case O_CFS_RATES:
            cfs_rates = true;
            break;
        case O_NO_CONTENTION:
            c.contention = false;
            break;
        case O_NO_REQUESTS:
            c.see_requests = false;
            break;
        case O_HOT_QUANTILE:
            c.params.hot_quantile_pct = (unsigned)num(n, optarg);
            break;
        case O_PROBES:
            c.params.pq_probes = (unsigned)num(n, optarg);
            break;
        case O_REUSE:
            c.params.pq_reuse = (unsigned)num(n, optarg);
            break;
        case O_PROBE_AGE:
            c.params.pq_max_age_ns = (uint64_t)(num(n, optarg) * 1e3);
            break;
        case O_PROBE_RTT:
            c.probe_rtt_ns = num(n, optarg) * 1e3;
            break;
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (!think_set) {
        c.think_ns = 10 * lb_mean_service_ns(&c);
    }
    if (!bg_cores_set) {
        c.bg_cores = c.cores / 2;
    }
    c.cfs.cpus = c.cores;
    if (cfs_rates) {
        print_cfs_rates(&c.cfs);
        return 0;
    }
    for (char *save = NULL, *t = strtok_r(pickers, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        LbConfig probe = c;

        if (npick == MAX_PICKERS || !set_picker(&probe, t)) {
            fprintf(stderr, "bench-lb: bad picker %s\n", t);
            return 2;
        }
        names[npick++] = t;
    }
    runs = calloc(npick, sizeof(*runs));
    if (!runs) {
        return 1;
    }
    window = c.report_ns > 0 ? (c.window_ns < 0 ? c.report_ns : c.window_ns)
                             : 0;
    if (csv) {
        print_csv_header();
    } else {
        printf("cell: blades=%u cores=%u dist=%s reqs_per_flow=%g het=%s "
               "load=%g report_us=%g window_us=%g delay_us=%g\n",
               c.blades, c.cores, lb_dist_name(c.dist), c.reqs_per_flow,
               lb_het_name(c.het), c.load, c.report_ns / 1e3, window / 1e3,
               c.report_delay_ns / 1e3);
        printf("seed: %" PRIu64 "\n", c.seed);
        printf("flows_measured: %" PRIu64 "\n", c.flows);
        printf("mean_service_us: %.4f\n", lb_mean_service_ns(&c) / 1e3);
    }
    for (unsigned i = 0; i < npick; i++) {
        LbConfig pc;

        set_picker(&c, names[i]);
        pc = c;
        stretch(&pc, periods, wrr_periods);
        snprintf(runs[i].name, sizeof(runs[i].name), "%s", names[i]);
        if (lb_run(&pc, &runs[i].r) < 0) {
            fprintf(stderr, "bench-lb: invalid configuration\n");
            return 2;
        }
        if (csv) {
            print_csv(&pc, &runs[i], window);
        } else {
            print_values(&pc, &runs[i]);
        }
        fflush(stdout);
    }
    if (!csv) {
        const Run *u = find(runs, npick, "util");

        ratio(runs, npick, "util", "jsq");
        ratio(runs, npick, "util", "sed");
        ratio(runs, npick, "leastconn", "util");
        ratio(runs, npick, "rr", "util");
        ratio(runs, npick, "p2c-conn", "util");
        ratio(runs, npick, "wrr-cpu", "util");
        ratio(runs, npick, "random", "util");
        ratio(runs, npick, "prequal", "util");
        print_rank(&c, runs, npick, names);
        target(runs, npick, "util", "jsq", 1.3, "util_within_1.3x_jsq");
        target(runs, npick, "leastconn", "util", -2,
               "util_2x_better_than_leastconn");
        target(runs, npick, "rr", "util", -2, "util_2x_better_than_rr");
        if (u) {
            printf("report_frame_bytes: %" PRIu64 "\n",
                   u->r.report_frame_bytes);
            printf("report_gap_codegroups_per_s_per_lane: %.0f\n",
                   u->r.report_cg_per_s);
        }
    }
    free(runs);
    return 0;
}
