/*
 * Balancing simulator (see lb-sim.h and docs/balancing.md).
 *
 * Time is a double in nanoseconds.  Events live in a binary heap ordered
 * by (time, sequence number), so equal times resolve in scheduling order
 * and a seed gives the same run on every host.  Random numbers come from
 * splitmix64 streams: one for arrivals, one for the oracles, one for the
 * background load, and one per flow (its size, requests and think times),
 * so that every picker sees the same workload for a seed.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lb-sim.h"

#define BIMODAL_SHORT_NS 500.0
#define BIMODAL_LONG_NS  500000.0
#define BIMODAL_P_LONG   0.005
#define PARETO_ALPHA     1.1
/* An utilization ordered set in the gap: six /K28.5 Dx.y/ pairs. */
#define UTIL_SET_CGS     12

/* Histogram of response times: log bins, HIST_PER_DECADE a decade. */
#define HIST_PER_DECADE  1000
#define HIST_DECADES     13         /* 1 ns .. 10000 s */
#define HIST_BINS        (HIST_PER_DECADE * HIST_DECADES)
#define RAMP_PER_DECADE  100
#define RAMP_HIST_BINS   (RAMP_PER_DECADE * HIST_DECADES)

enum {
    EV_FLOW,        /* a new flow reaches the switch */
    EV_REQ,         /* a flow's next request reaches its blade: a = flow */
    EV_DONE,        /* a request ends: a = blade, b = flow */
    EV_CLOSE,       /* the switch sees a flow end: a = flow */
    EV_SNAP,        /* a report window starts: a = blade */
    EV_SAMPLE,      /* a blade samples its figures: a = blade */
    EV_DELIVER,     /* a report reaches the switch: a = blade, b = figs */
    EV_BG,          /* background load turns on or off: a = blade */
};

typedef struct Event {
    double t;
    uint64_t seq;
    uint32_t type;
    uint32_t a;
    uint32_t b;
} Event;

typedef struct Heap {
    Event *ev;
    size_t n, cap;
    uint64_t seq;
} Heap;

typedef struct Flow {
    uint64_t rng;
    uint32_t blade;
    uint32_t left;          /* requests still to come, the current one too */
    uint32_t next_free;
    bool measured;          /* the current request arrived while measuring */
    bool second_half;
    uint8_t ramp_bin;
    double req_at;          /* when the current request reached the blade */
    double req_work;
} Flow;

typedef struct Snap {
    double t, busy, req;
} Snap;

typedef struct Blade {
    unsigned cores;
    double speed;
    bool bg;                /* has background load */
    bool bg_on;
    unsigned hog_held;      /* cores the background load holds */
    unsigned hog_want;
    unsigned busy;          /* cores serving requests */
    uint32_t *q;            /* FIFO of flows waiting */
    size_t qhead, qlen, qcap;
    unsigned insys;         /* requests queued or in service */
    double t_last;
    double busy_int;        /* integral of (busy + hog_held) dt */
    double req_int;         /* integral of busy dt */
    Snap *snaps;            /* window starts not yet used by a sample */
    size_t shead, slen, scap;
    unsigned last_cpu, last_irq;
    double busy_at_start;   /* busy_int when the measured part began */
    double busy_at_end;     /* and when it ended */
    uint64_t flows_measured;
} Blade;

typedef struct Hist {
    uint64_t *bins;
    unsigned nbins, per_decade;
    uint64_t n;
} Hist;

typedef struct Sim {
    const LbConfig *c;
    LbResult *r;
    Heap heap;
    Blade *blade;
    BalBlade *bb;
    uint16_t *members;
    BalState bal;
    Flow *flow;
    uint32_t nflow, capflow, free_flow;
    uint64_t rng_arrival, rng_oracle, rng_bg;
    double now;
    double mean_work;
    double pareto_lo, pareto_hi;
    double rate_per_load;   /* flows per ns at load 1 */
    uint64_t started, total;
    uint64_t measured_left; /* measured requests not done yet */
    double t_measure_start, t_measure_end;
    bool measuring;
    double window;
    Hist all, first, second;
    Hist ramp[LB_RAMP_BINS];
    double sum_ns, max_ns;
    uint64_t reports;
    uint64_t fast_flows;
} Sim;

/* ---------------------------------------------------------------------- */
/* random numbers                                                          */

static uint64_t sm64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double unif(uint64_t *s)
{
    return (double)(sm64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static double expo(uint64_t *s, double mean)
{
    return -mean * log1p(-unif(s));
}

static unsigned below(uint64_t *s, unsigned n)
{
    return (unsigned)(((sm64(s) >> 32) * (uint64_t)n) >> 32);
}

/* A seed for stream @k of the run seeded @seed. */
static uint64_t stream(uint64_t seed, uint64_t k)
{
    uint64_t s = seed ^ (k * 0xD1B54A32D192ED03ULL);

    return sm64(&s);
}

/* ---------------------------------------------------------------------- */
/* event heap                                                              */

static bool ev_before(const Event *x, const Event *y)
{
    return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static void push(Sim *s, double t, uint32_t type, uint32_t a, uint32_t b)
{
    Heap *h = &s->heap;
    size_t i;

    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 1024;
        h->ev = realloc(h->ev, h->cap * sizeof(*h->ev));
        if (!h->ev) {
            abort();
        }
    }
    i = h->n++;
    h->ev[i] = (Event){ .t = t, .seq = h->seq++, .type = type,
                        .a = a, .b = b };
    while (i > 0) {
        size_t p = (i - 1) / 2;
        Event tmp;

        if (!ev_before(&h->ev[i], &h->ev[p])) {
            break;
        }
        tmp = h->ev[i];
        h->ev[i] = h->ev[p];
        h->ev[p] = tmp;
        i = p;
    }
}

static Event pop(Sim *s)
{
    Heap *h = &s->heap;
    Event top = h->ev[0];
    size_t i = 0;

    h->ev[0] = h->ev[--h->n];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        Event tmp;

        if (l < h->n && ev_before(&h->ev[l], &h->ev[m])) {
            m = l;
        }
        if (l + 1 < h->n && ev_before(&h->ev[l + 1], &h->ev[m])) {
            m = l + 1;
        }
        if (m == i) {
            break;
        }
        tmp = h->ev[i];
        h->ev[i] = h->ev[m];
        h->ev[m] = tmp;
        i = m;
    }
    return top;
}

/* ---------------------------------------------------------------------- */
/* histograms                                                              */

static void hist_init(Hist *h, unsigned per_decade)
{
    h->per_decade = per_decade;
    h->nbins = per_decade * HIST_DECADES;
    h->bins = calloc(h->nbins, sizeof(*h->bins));
    h->n = 0;
    if (!h->bins) {
        abort();
    }
}

static void hist_add(Hist *h, double ns)
{
    double x = ns < 1 ? 0 : log10(ns) * h->per_decade;
    unsigned i = x >= h->nbins ? h->nbins - 1 : (unsigned)x;

    h->bins[i]++;
    h->n++;
}

/* The q-quantile, the geometric middle of its bin (0 if empty). */
static double hist_quantile(const Hist *h, double q)
{
    uint64_t want, seen = 0;

    if (h->n == 0) {
        return 0;
    }
    want = (uint64_t)ceil(q * (double)h->n);
    if (want < 1) {
        want = 1;
    }
    for (unsigned i = 0; i < h->nbins; i++) {
        seen += h->bins[i];
        if (seen >= want) {
            return pow(10, (i + 0.5) / h->per_decade);
        }
    }
    return pow(10, (double)HIST_DECADES);
}

/* ---------------------------------------------------------------------- */
/* workload                                                                */

static double pareto_mean(double lo, double hi)
{
    double a = PARETO_ALPHA, r = pow(lo / hi, a);

    return a * pow(lo, a) / (1 - r) * (pow(hi, 1 - a) - pow(lo, 1 - a)) /
           (1 - a);
}

static double pareto_m2(double lo, double hi)
{
    double a = PARETO_ALPHA, r = pow(lo / hi, a);

    return a * pow(lo, a) / (1 - r) * (pow(hi, 2 - a) - pow(lo, 2 - a)) /
           (2 - a);
}

/* Bounds of the Pareto with the configured mean and SCV (bisection). */
static void pareto_setup(Sim *s)
{
    double lo = 1, hi = 1e12;

    for (int i = 0; i < 200; i++) {
        double mid = sqrt(lo * hi);
        double m = pareto_mean(1, mid), scv = pareto_m2(1, mid) / (m * m) - 1;

        if (scv < s->c->pareto_scv) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    s->pareto_lo = s->c->mean_ns / pareto_mean(1, lo);
    s->pareto_hi = s->pareto_lo * lo;
}

double lb_mean_service_ns(const LbConfig *c)
{
    if (c->dist == LB_DIST_BIMODAL) {
        return (1 - BIMODAL_P_LONG) * BIMODAL_SHORT_NS +
               BIMODAL_P_LONG * BIMODAL_LONG_NS;
    }
    return c->mean_ns;
}

static double draw_work(Sim *s, uint64_t *rng)
{
    double u;

    switch (s->c->dist) {
    case LB_DIST_BIMODAL:
        return unif(rng) < BIMODAL_P_LONG ? BIMODAL_LONG_NS :
                                            BIMODAL_SHORT_NS;
    case LB_DIST_PARETO:
        u = unif(rng);
        return s->pareto_lo *
               pow(1 - u * (1 - pow(s->pareto_lo / s->pareto_hi,
                                    PARETO_ALPHA)), -1 / PARETO_ALPHA);
    case LB_DIST_EXP:
    default:
        return expo(rng, s->c->mean_ns);
    }
}

static uint32_t draw_requests(Sim *s, uint64_t *rng)
{
    double m = s->c->reqs_per_flow;
    double k;

    if (m <= 1) {
        return 1;
    }
    /* geometric on 1, 2, ... with mean m */
    k = 1 + floor(log1p(-unif(rng)) / log1p(-1 / m));
    return k > 1e6 ? 1000000 : (uint32_t)k;
}

/* Offered load at flow number k (the ramp goes by flow count). */
static double load_at(Sim *s, uint64_t k)
{
    const LbConfig *c = s->c;

    if (c->load_end <= 0 || s->total <= 1) {
        return c->load;
    }
    return c->load + (c->load_end - c->load) * (double)k /
           (double)(s->total - 1);
}

/* ---------------------------------------------------------------------- */
/* blades                                                                  */

static void advance(Sim *s, Blade *b)
{
    double dt = s->now - b->t_last;

    if (dt > 0) {
        b->busy_int += (b->busy + b->hog_held) * dt;
        b->req_int += b->busy * dt;
        b->t_last = s->now;
    }
}

static void q_push(Blade *b, uint32_t f)
{
    if (b->qlen == b->qcap) {
        size_t ncap = b->qcap ? 2 * b->qcap : 64;
        uint32_t *nq = malloc(ncap * sizeof(*nq));

        if (!nq) {
            abort();
        }
        for (size_t i = 0; i < b->qlen; i++) {
            nq[i] = b->q[(b->qhead + i) % b->qcap];
        }
        free(b->q);
        b->q = nq;
        b->qcap = ncap;
        b->qhead = 0;
    }
    b->q[(b->qhead + b->qlen++) % b->qcap] = f;
}

static uint32_t q_pop(Blade *b)
{
    uint32_t f = b->q[b->qhead];

    b->qhead = (b->qhead + 1) % b->qcap;
    b->qlen--;
    return f;
}

/* The blade's figures now: over the window, or instantaneous. */
static void figures(Sim *s, Blade *b, const Snap *from, unsigned *cpu,
                    unsigned *irq)
{
    double busy, req;

    if (from && s->now > from->t) {
        double span = (s->now - from->t) * b->cores;

        busy = (b->busy_int - from->busy) / span;
        req = (b->req_int - from->req) / span;
    } else {
        busy = (double)(b->busy + b->hog_held) / b->cores;
        req = (double)b->busy / b->cores;
    }
    /* rounded to whole percent, as the guest driver does */
    *cpu = (unsigned)floor(busy * 100 + 0.5);
    *irq = (unsigned)floor(req * s->c->irq_frac * 100 + 0.5);
}

static void deliver(Sim *s, unsigned i, unsigned cpu, unsigned irq)
{
    bal_report(&s->bb[i], cpu, irq, (uint64_t)s->now);
    if (s->measuring) {
        s->reports++;
    }
}

/*
 * Report period 0: the switch knows the blade's figures at every instant,
 * an ideal no lane could carry.  A report stands for the time since the
 * previous one (bal_report() sums busy time so), so every event of the
 * blade sends the figure of the span that just ended and, if the event
 * changed it, the new one at the same instant.
 */
static void changed(Sim *s, unsigned i)
{
    Blade *b = &s->blade[i];
    unsigned cpu, irq;

    if (s->c->report_ns > 0) {
        return;
    }
    figures(s, b, NULL, &cpu, &irq);
    deliver(s, i, b->last_cpu, b->last_irq);
    if (cpu != b->last_cpu || irq != b->last_irq) {
        b->last_cpu = cpu;
        b->last_irq = irq;
        deliver(s, i, cpu, irq);
    }
}

static void start_service(Sim *s, unsigned i, uint32_t f)
{
    Blade *b = &s->blade[i];

    b->busy++;
    push(s, s->now + s->flow[f].req_work / b->speed, EV_DONE, i, f);
}

/* A request of flow @f reaches blade @i. */
static void arrive(Sim *s, unsigned i, uint32_t f)
{
    Blade *b = &s->blade[i];
    Flow *fl = &s->flow[f];

    if (fl->blade != i) {
        s->r->affinity_violations++;
    }
    advance(s, b);
    fl->req_at = s->now;
    fl->req_work = draw_work(s, &fl->rng);
    fl->measured = s->measuring;
    if (fl->measured) {
        s->measured_left++;
    }
    b->insys++;
    if (b->busy + b->hog_held < b->cores) {
        start_service(s, i, f);
    } else {
        q_push(b, f);
    }
    changed(s, i);
}

/* A core of blade @i is free: to the background load, or the queue. */
static void core_freed(Sim *s, unsigned i)
{
    Blade *b = &s->blade[i];

    if (b->hog_held < b->hog_want) {
        b->hog_held++;
    } else if (b->qlen > 0) {
        start_service(s, i, q_pop(b));
    }
}

static uint32_t flow_new(Sim *s)
{
    uint32_t f;

    if (s->free_flow != UINT32_MAX) {
        f = s->free_flow;
        s->free_flow = s->flow[f].next_free;
        return f;
    }
    if (s->nflow == s->capflow) {
        s->capflow = s->capflow ? 2 * s->capflow : 4096;
        s->flow = realloc(s->flow, s->capflow * sizeof(*s->flow));
        if (!s->flow) {
            abort();
        }
    }
    return s->nflow++;
}

static void flow_free(Sim *s, uint32_t f)
{
    s->flow[f].next_free = s->free_flow;
    s->free_flow = f;
}

static void flow_end(Sim *s, uint32_t f)
{
    bal_closed(&s->bb[s->flow[f].blade]);
    flow_free(s, f);
}

static void record(Sim *s, const Flow *fl, double rt)
{
    hist_add(&s->all, rt);
    hist_add(fl->second_half ? &s->second : &s->first, rt);
    if (s->c->load_end > 0) {
        hist_add(&s->ramp[fl->ramp_bin], rt);
    }
    s->sum_ns += rt;
    if (rt > s->max_ns) {
        s->max_ns = rt;
    }
    s->r->requests++;
}

static void done(Sim *s, unsigned i, uint32_t f)
{
    Blade *b = &s->blade[i];
    Flow *fl = &s->flow[f];

    advance(s, b);
    b->busy--;
    b->insys--;
    core_freed(s, i);
    changed(s, i);
    if (fl->measured) {
        record(s, fl, s->now - fl->req_at);
        s->measured_left--;
    }
    if (--fl->left > 0) {
        push(s, s->now + expo(&fl->rng, s->c->think_ns), EV_REQ, f, 0);
        return;
    }
    if (s->c->close_delay_ns > 0) {
        push(s, s->now + s->c->close_delay_ns, EV_CLOSE, f, 0);
    } else {
        flow_end(s, f);
    }
}

static void background(Sim *s, unsigned i)
{
    Blade *b = &s->blade[i];
    const LbConfig *c = s->c;

    advance(s, b);
    b->bg_on = !b->bg_on;
    if (b->bg_on) {
        /* takes the idle cores now, the others as they come free */
        b->hog_want = c->bg_cores;
        while (b->hog_held < b->hog_want &&
               b->busy + b->hog_held < b->cores) {
            b->hog_held++;
        }
    } else {
        b->hog_want = 0;
        b->hog_held = 0;
        while (b->qlen > 0 && b->busy < b->cores) {
            start_service(s, i, q_pop(b));
        }
    }
    changed(s, i);
    push(s, s->now + expo(&s->rng_bg, b->bg_on ? c->bg_on_ns : c->bg_off_ns),
         EV_BG, i, 0);
}

static void snap(Sim *s, unsigned i)
{
    Blade *b = &s->blade[i];

    advance(s, b);
    if (b->slen == b->scap) {
        abort();        /* sized for the window at setup */
    }
    b->snaps[(b->shead + b->slen++) % b->scap] =
        (Snap){ .t = s->now, .busy = b->busy_int, .req = b->req_int };
    push(s, s->now + s->c->report_ns, EV_SNAP, i, 0);
}

static void sample(Sim *s, unsigned i)
{
    Blade *b = &s->blade[i];
    unsigned cpu, irq;

    advance(s, b);
    if (s->window > 0 && b->slen > 0) {
        Snap from = b->snaps[b->shead];

        b->shead = (b->shead + 1) % b->scap;
        b->slen--;
        figures(s, b, &from, &cpu, &irq);
    } else {
        figures(s, b, NULL, &cpu, &irq);
    }
    if (s->c->report_delay_ns > 0) {
        push(s, s->now + s->c->report_delay_ns, EV_DELIVER, i,
             cpu | irq << 8);
    } else {
        deliver(s, i, cpu, irq);
    }
    push(s, s->now + s->c->report_ns, EV_SAMPLE, i, 0);
}

/* ---------------------------------------------------------------------- */
/* pickers                                                                 */

static double expected_delay(const Sim *s, const Blade *b)
{
    unsigned k = b->cores - (b->bg_on ? b->hog_want : 0);

    if (k == 0) {
        k = 1;
    }
    if (b->insys < k) {
        return 1 / b->speed;
    }
    return (double)(b->insys - k + 1) / (k * b->speed) + 1 / b->speed;
}

static unsigned pick_oracle(Sim *s)
{
    unsigned n = s->c->blades, best = 0, ties = 0;
    double best_key = 0;

    if (s->c->picker == LB_ORACLE_SQ2 && n >= 2) {
        unsigned x = below(&s->rng_oracle, n);
        unsigned y = below(&s->rng_oracle, n - 1);

        y += y >= x;
        if (s->blade[x].insys != s->blade[y].insys) {
            return s->blade[x].insys < s->blade[y].insys ? x : y;
        }
        return below(&s->rng_oracle, 2) ? x : y;
    }
    for (unsigned i = 0; i < n; i++) {
        double key = s->c->picker == LB_ORACLE_SED ?
                     expected_delay(s, &s->blade[i]) : s->blade[i].insys;

        if (i == 0 || key < best_key) {
            best = i;
            best_key = key;
            ties = 1;
        } else if (key == best_key && below(&s->rng_oracle, ++ties) == 0) {
            best = i;
        }
    }
    return best;
}

static void new_flow(Sim *s)
{
    const LbConfig *c = s->c;
    uint64_t k = s->started++;
    uint32_t f = flow_new(s);
    Flow *fl = &s->flow[f];
    unsigned i;
    int p;

    fl->rng = stream(c->seed, 1000 + k);
    fl->left = draw_requests(s, &fl->rng);
    fl->second_half = k >= c->warmup_flows + c->flows / 2;
    fl->ramp_bin = 0;
    if (c->load_end > 0) {
        double x = (double)k / (double)(s->total > 1 ? s->total - 1 : 1);
        unsigned bin = (unsigned)(x * s->r->ramp_bins);

        fl->ramp_bin = bin >= s->r->ramp_bins ? s->r->ramp_bins - 1 : bin;
    }
    if (k == c->warmup_flows) {
        s->measuring = true;
        s->t_measure_start = s->now;
        for (unsigned j = 0; j < c->blades; j++) {
            advance(s, &s->blade[j]);
            s->blade[j].busy_at_start = s->blade[j].busy_int;
        }
    }
    if (c->picker == LB_PICK_POLICY) {
        p = bal_pick(&s->bal, s->bb, s->members, c->blades,
                     (uint64_t)s->now);
        if (p < 0) {
            abort();    /* every blade is eligible */
        }
        i = s->members[p];
    } else {
        i = pick_oracle(s);
    }
    bal_dispatched(&s->bb[i]);
    fl->blade = i;
    if (s->measuring) {
        s->blade[i].flows_measured++;
    }
    arrive(s, i, f);

    if (k + 1 == s->total) {
        s->measuring = false;
        s->t_measure_end = s->now;
        for (unsigned j = 0; j < c->blades; j++) {
            advance(s, &s->blade[j]);
            s->blade[j].busy_at_end = s->blade[j].busy_int;
        }
    }
    /*
     * The measured requests are those that reach a blade from the first
     * measured flow's arrival to the last one's.  New flows stop there:
     * first come first served, nothing that comes later delays them.
     */
    if (k + 1 < s->total) {
        double rate = s->rate_per_load * load_at(s, k + 1);

        push(s, s->now + expo(&s->rng_arrival, 1 / rate), EV_FLOW, 0, 0);
    }
}

/* ---------------------------------------------------------------------- */
/* set-up and run                                                          */

void lb_config_init(LbConfig *c)
{
    memset(c, 0, sizeof(*c));
    c->blades = 16;
    c->cores = 4;
    c->dist = LB_DIST_EXP;
    c->mean_ns = (1 - BIMODAL_P_LONG) * BIMODAL_SHORT_NS +
                 BIMODAL_P_LONG * BIMODAL_LONG_NS;
    c->pareto_scv = 50;
    c->reqs_per_flow = 1;
    c->think_ns = 10 * c->mean_ns;
    c->load = 0.9;
    c->het = LB_HET_EQUAL;
    c->speed_fast = 2;
    c->bg_on_ns = 10e6;
    c->bg_off_ns = 10e6;
    c->bg_cores = 2;
    c->report_ns = 100e3;
    c->window_ns = -1;
    c->irq_frac = 0.1;
    c->picker = LB_PICK_POLICY;
    c->policy = BAL_POLICY_UTIL;
    bal_params_init(&c->params);
    c->seed = 1;
    c->flows = 1000000;
    c->warmup_flows = 100000;
}

static bool valid(const LbConfig *c)
{
    return c->blades >= 1 && c->blades <= BAL_MAX_MEMBERS &&
           c->cores >= 1 && (unsigned)c->dist < LB_DIST__MAX &&
           (unsigned)c->het < LB_HET__MAX &&
           (unsigned)c->picker < LB_PICK__MAX && c->mean_ns > 0 &&
           c->load > 0 && c->load_end >= 0 && c->speed_fast > 0 &&
           ((c->het != LB_HET_ONOFF && c->het != LB_HET_BOTH) ||
            (c->bg_cores < c->cores && c->bg_on_ns > 0 &&
             c->bg_off_ns > 0)) &&
           c->report_ns >= 0 && c->report_delay_ns >= 0 &&
           c->close_delay_ns >= 0 && c->irq_frac >= 0 && c->irq_frac <= 1 &&
           c->flows >= 1 && (c->dist != LB_DIST_PARETO || c->pareto_scv > 0);
}

static bool blade_fast(const LbConfig *c, unsigned i)
{
    return (c->het == LB_HET_SPEED || c->het == LB_HET_BOTH) && i % 2 == 1;
}

static bool blade_bg(const LbConfig *c, unsigned i)
{
    return (c->het == LB_HET_ONOFF || c->het == LB_HET_BOTH) && i % 4 == 0;
}

/* Flows per ns at load 1: the capacity left to requests, in flows. */
static double rate_per_load(const LbConfig *c)
{
    double cap = 0;

    for (unsigned i = 0; i < c->blades; i++) {
        double speed = blade_fast(c, i) ? c->speed_fast : 1;

        cap += c->cores * speed;
        if (blade_bg(c, i)) {
            cap -= c->bg_cores * speed * c->bg_on_ns /
                   (c->bg_on_ns + c->bg_off_ns);
        }
    }
    return cap / (lb_mean_service_ns(c) *
                  (c->reqs_per_flow > 1 ? c->reqs_per_flow : 1));
}

double lb_flow_rate(const LbConfig *c)
{
    return rate_per_load(c) * c->load;
}

static void setup_blades(Sim *s)
{
    const LbConfig *c = s->c;
    uint64_t rng_phase = stream(c->seed, 3);

    s->window = c->report_ns > 0 ?
                (c->window_ns < 0 ? c->report_ns : c->window_ns) : 0;
    for (unsigned i = 0; i < c->blades; i++) {
        Blade *b = &s->blade[i];

        b->cores = c->cores;
        b->speed = blade_fast(c, i) ? c->speed_fast : 1;
        b->bg = blade_bg(c, i);
        s->bb[i].eligible = true;
        s->members[i] = (uint16_t)i;
        if (b->bg) {
            double duty = c->bg_on_ns / (c->bg_on_ns + c->bg_off_ns);

            /* the event at 0 flips it: on with the stationary odds */
            b->bg_on = unif(&s->rng_bg) >= duty;
            push(s, 0, EV_BG, i, 0);
        }
        if (c->report_ns > 0) {
            double phase = unif(&rng_phase) * c->report_ns;
            double first_snap;

            b->scap = (size_t)ceil(s->window / c->report_ns) + 2;
            b->snaps = calloc(b->scap, sizeof(*b->snaps));
            if (!b->snaps) {
                abort();
            }
            if (s->window > 0) {
                /* samples whose window starts before 0 start at 0 */
                first_snap = phase - s->window;
                while (first_snap < 0) {
                    b->snaps[b->slen++] = (Snap){ 0 };
                    first_snap += c->report_ns;
                }
                if (b->slen > b->scap) {
                    abort();
                }
                push(s, first_snap, EV_SNAP, i, 0);
            }
            push(s, phase, EV_SAMPLE, i, 0);
        }
    }
    s->rate_per_load = rate_per_load(c);
}

int lb_run(const LbConfig *c, LbResult *r)
{
    Sim s;
    double util_sum = 0;

    memset(r, 0, sizeof(*r));
    if (!valid(c)) {
        return -1;
    }
    memset(&s, 0, sizeof(s));
    s.c = c;
    s.r = r;
    s.blade = calloc(c->blades, sizeof(*s.blade));
    s.bb = calloc(c->blades, sizeof(*s.bb));
    s.members = calloc(c->blades, sizeof(*s.members));
    if (!s.blade || !s.bb || !s.members) {
        abort();
    }
    s.free_flow = UINT32_MAX;
    s.rng_arrival = stream(c->seed, 0);
    s.rng_oracle = stream(c->seed, 1);
    s.rng_bg = stream(c->seed, 2);
    bal_init(&s.bal, c->policy, &c->params, stream(c->seed, 4));
    s.total = c->warmup_flows + c->flows;
    if (c->dist == LB_DIST_PARETO) {
        pareto_setup(&s);
    }
    hist_init(&s.all, HIST_PER_DECADE);
    hist_init(&s.first, HIST_PER_DECADE);
    hist_init(&s.second, HIST_PER_DECADE);
    if (c->load_end > 0) {
        double span = fabs(c->load_end - c->load);

        r->ramp_bins = (unsigned)ceil(span * 20 - 0.000001);
        r->ramp_bins = r->ramp_bins < 1 ? 1 :
                       r->ramp_bins > LB_RAMP_BINS ? LB_RAMP_BINS :
                       r->ramp_bins;
        for (unsigned i = 0; i < r->ramp_bins; i++) {
            hist_init(&s.ramp[i], RAMP_PER_DECADE);
        }
    }
    setup_blades(&s);
    if (c->warmup_flows == 0) {
        s.measuring = true;
    }
    push(&s, 0, EV_FLOW, 0, 0);

    while (s.heap.n > 0 && (s.started < s.total || s.measured_left > 0)) {
        Event e = pop(&s);

        s.now = e.t;
        r->events++;
        switch (e.type) {
        case EV_FLOW:
            new_flow(&s);
            break;
        case EV_REQ:
            arrive(&s, s.flow[e.a].blade, e.a);
            break;
        case EV_DONE:
            done(&s, e.a, e.b);
            break;
        case EV_CLOSE:
            flow_end(&s, e.a);
            break;
        case EV_SNAP:
            snap(&s, e.a);
            break;
        case EV_SAMPLE:
            sample(&s, e.a);
            break;
        case EV_DELIVER:
            deliver(&s, e.a, e.b & 0xff, e.b >> 8);
            break;
        case EV_BG:
            background(&s, e.a);
            break;
        }
    }

    r->sim_ns = s.t_measure_end - s.t_measure_start;
    r->mean_ns = r->requests ? s.sum_ns / r->requests : 0;
    r->p50_ns = hist_quantile(&s.all, 0.5);
    r->p99_ns = hist_quantile(&s.all, 0.99);
    r->p999_ns = hist_quantile(&s.all, 0.999);
    r->max_ns = s.max_ns;
    r->p99_first_ns = hist_quantile(&s.first, 0.99);
    r->p99_second_ns = hist_quantile(&s.second, 0.99);
    for (unsigned i = 0; i < c->blades; i++) {
        Blade *b = &s.blade[i];
        double u = 0;

        if (r->sim_ns > 0) {
            u = (b->busy_at_end - b->busy_at_start) / (b->cores * r->sim_ns);
        }
        util_sum += u;
        if (u > r->util_max) {
            r->util_max = u;
        }
        if (b->speed > 1) {
            r->fast_share += (double)b->flows_measured / c->flows;
        }
        free(b->q);
        free(b->snaps);
    }
    r->util_mean = util_sum / c->blades;
    r->reports = s.reports;
    r->report_frame_bytes = 0;      /* the sets ride in the idle gap */
    if (r->sim_ns > 0) {
        r->report_cg_per_s = (double)s.reports * UTIL_SET_CGS /
                             (r->sim_ns / 1e9) / c->blades;
    }
    for (unsigned i = 0; i < r->ramp_bins; i++) {
        r->ramp_load[i] = c->load + (c->load_end - c->load) * (i + 0.5) /
                          r->ramp_bins;
        r->ramp_p99_ns[i] = hist_quantile(&s.ramp[i], 0.99);
        r->ramp_n[i] = s.ramp[i].n;
        free(s.ramp[i].bins);
    }
    free(s.all.bins);
    free(s.first.bins);
    free(s.second.bins);
    free(s.heap.ev);
    free(s.flow);
    free(s.blade);
    free(s.bb);
    free(s.members);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* names and theory                                                        */

static const char *const dist_names[LB_DIST__MAX] = {
    "exp", "bimodal", "pareto",
};
static const char *const het_names[LB_HET__MAX] = {
    "equal", "speed", "onoff", "both",
};
static const char *const picker_names[LB_PICK__MAX] = {
    "policy", "jsq", "sed", "sq2",
};

const char *lb_dist_name(LbDist d)
{
    return (unsigned)d < LB_DIST__MAX ? dist_names[d] : NULL;
}

const char *lb_het_name(LbHet h)
{
    return (unsigned)h < LB_HET__MAX ? het_names[h] : NULL;
}

const char *lb_picker_name(LbPicker p)
{
    return (unsigned)p < LB_PICK__MAX ? picker_names[p] : NULL;
}

bool lb_dist_parse(const char *str, LbDist *d)
{
    for (unsigned i = 0; i < LB_DIST__MAX; i++) {
        if (strcmp(str, dist_names[i]) == 0) {
            *d = (LbDist)i;
            return true;
        }
    }
    return false;
}

bool lb_het_parse(const char *str, LbHet *h)
{
    for (unsigned i = 0; i < LB_HET__MAX; i++) {
        if (strcmp(str, het_names[i]) == 0) {
            *h = (LbHet)i;
            return true;
        }
    }
    return false;
}

double lb_erlang_c_mean(unsigned k, double rho)
{
    double a = rho * k, term = 1, sum = 0, pk, wait;

    /* sum_{j<k} a^j / j!, then a^k / k! */
    for (unsigned j = 0; j < k; j++) {
        sum += term;
        term *= a / (j + 1);
    }
    pk = term / (1 - rho);
    wait = pk / (sum + pk) / (k - a);
    return wait + 1;
}

double lb_supermarket_mean(double lambda, unsigned d)
{
    double t = 0;

    if (d < 2) {
        return 1 / (1 - lambda);
    }
    for (unsigned i = 1; i < 64; i++) {
        double e = (pow(d, i) - d) / (d - 1);
        double x = pow(lambda, e);

        t += x;
        if (x * 1e15 < 1) {
            break;
        }
    }
    return t;
}
