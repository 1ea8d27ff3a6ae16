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
/*
 * prequal: a probe and its answer on the wire, each a minimum Ethernet
 * frame (64 bytes) with its preamble and inter-frame gap (20).
 */
#define PROBE_WIRE_BYTES (2 * (64 + 20))
/* A blade's latency estimate for probes: by requests in system, 0..15+. */
#define LAT_BUCKETS      16

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
    EV_PROBE,       /* a prequal probe reaches a blade: a = blade */
    /* its answer reaches the switch: a = blade | rif << 16, b = latency */
    EV_PROBE_BACK,
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
    bool on_hog;            /* served on a core a CFS hog shares */
    bool alone;             /* the switch had nothing else in flight there */
    uint8_t rif_at;         /* requests in system it found (for probes) */
    bool second_half;
    uint8_t ramp_bin;
    double req_at;          /* when the current request reached the blade */
    double req_work;
} Flow;

typedef struct Snap {
    double t, busy, req, psi;
} Snap;

typedef struct Blade {
    unsigned cores;
    double speed;
    bool bg;                /* has background load */
    bool bg_on;
    unsigned hog_held;      /* cores the background load holds */
    unsigned hog_want;
    unsigned cfs_hogs;      /* CFS: hogs running (one a core) */
    unsigned busy_hog;      /* CFS: requests served on a hog's core */
    unsigned busy;          /* cores serving requests */
    uint32_t *q;            /* FIFO of flows waiting */
    size_t qhead, qlen, qcap;
    unsigned insys;         /* requests queued or in service */
    double t_last;
    double busy_int;        /* integral of (busy + hog_held) dt */
    double req_int;         /* integral of busy dt */
    double psi_int;         /* time some runnable task waited */
    double lat_rif[LAT_BUCKETS];    /* prequal: latency by requests found */
    Snap *snaps;            /* window starts not yet used by a sample */
    size_t shead, slen, scap;
    unsigned last_cpu, last_irq, last_psi;
    double busy_at_start;   /* busy_int when the measured part began */
    double busy_at_end;     /* and when it ended */
    unsigned insys_at_start; /* requests in it then */
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
    uint64_t probes;
    double cfs_rate;        /* CFS: a request's speed on a hog's core */
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
        unsigned idle_hog = b->cfs_hogs > b->busy_hog ?
                            b->cfs_hogs - b->busy_hog : 0;
        unsigned busy = b->busy + b->hog_held + idle_hog;

        b->busy_int += (busy > b->cores ? b->cores : busy) * dt;
        b->req_int += b->busy * dt;
        /*
         * PSI "some": a request queued, a hog waiting for a core it is
         * owed, or a request and a hog sharing a core (one of them waits)
         */
        if (b->qlen > 0 || b->hog_held < b->hog_want || b->busy_hog > 0) {
            b->psi_int += dt;
        }
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
                    unsigned *irq, unsigned *psi)
{
    double busy, req, wait;

    if (from && s->now > from->t) {
        double span = (s->now - from->t) * b->cores;

        busy = (b->busy_int - from->busy) / span;
        req = (b->req_int - from->req) / span;
        wait = (b->psi_int - from->psi) / (s->now - from->t);
    } else {
        unsigned idle_hog = b->cfs_hogs > b->busy_hog ?
                            b->cfs_hogs - b->busy_hog : 0;
        unsigned n = b->busy + b->hog_held + idle_hog;

        busy = (double)(n > b->cores ? b->cores : n) / b->cores;
        req = (double)b->busy / b->cores;
        wait = b->qlen > 0 || b->hog_held < b->hog_want || b->busy_hog > 0;
    }
    *psi = (unsigned)floor(wait * 1000 + 0.5);
    *psi = *psi > 1000 ? 1000 : *psi;
    /* rounded to whole percent, as the guest driver does */
    *cpu = (unsigned)floor(busy * 100 + 0.5);
    *irq = (unsigned)floor(req * s->c->irq_frac * 100 + 0.5);
}

/* Runnable tasks on blade @i now: its requests and its hogs. */
static unsigned runnable(const Sim *s, unsigned i)
{
    const Blade *b = &s->blade[i];

    return b->insys + b->hog_want + b->cfs_hogs;
}

static void deliver(Sim *s, unsigned i, unsigned cpu, unsigned irq,
                    unsigned psi)
{
    bal_report(&s->bb[i], cpu, irq, (uint64_t)s->now);
    if (s->c->contention) {
        bal_report_contention(&s->bb[i], psi, runnable(s, i));
    }
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
    unsigned cpu, irq, psi;

    if (s->c->report_ns > 0) {
        return;
    }
    figures(s, b, NULL, &cpu, &irq, &psi);
    deliver(s, i, b->last_cpu, b->last_irq, b->last_psi);
    if (cpu != b->last_cpu || irq != b->last_irq || psi != b->last_psi) {
        b->last_cpu = cpu;
        b->last_irq = irq;
        b->last_psi = psi;
        deliver(s, i, cpu, irq, psi);
    }
}

static void start_service(Sim *s, unsigned i, uint32_t f)
{
    Blade *b = &s->blade[i];
    Flow *fl = &s->flow[f];
    double rate = b->speed;

    /* CFS: a core of its own if there is one, else a hog's */
    fl->on_hog = b->busy - b->busy_hog >= b->cores - b->cfs_hogs;
    if (fl->on_hog) {
        b->busy_hog++;
        rate *= s->cfs_rate;
    }
    b->busy++;
    push(s, s->now + fl->req_work / rate, EV_DONE, i, f);
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
    fl->rif_at = b->insys >= LAT_BUCKETS ? LAT_BUCKETS - 1 : b->insys;
    if (s->c->see_requests) {
        fl->alone = s->bb[i].inflight == 0;
        bal_request(&s->bb[i]);
    }
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
    if (fl->on_hog) {
        b->busy_hog--;
        fl->on_hog = false;
    }
    b->insys--;
    core_freed(s, i);
    changed(s, i);
    if (s->c->see_requests) {
        bal_answered(&s->bb[i], (uint64_t)(s->now - fl->req_at), fl->alone);
    }
    /* the blade's own latency estimate, for prequal's probes */
    {
        double *l = &b->lat_rif[fl->rif_at];
        double took = s->now - fl->req_at;

        *l = *l == 0 ? took : *l + (took - *l) / 8;
    }
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
    if (c->bg_model == LB_BG_CFS) {
        /* runs beside the requests; those in service keep their rate */
        b->cfs_hogs = b->bg_on ? c->bg_cores : 0;
    } else if (b->bg_on) {
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
    if (!c->bg_always) {
        push(s, s->now + expo(&s->rng_bg,
                              b->bg_on ? c->bg_on_ns : c->bg_off_ns),
             EV_BG, i, 0);
    }
}

static void snap(Sim *s, unsigned i)
{
    Blade *b = &s->blade[i];

    advance(s, b);
    if (b->slen == b->scap) {
        abort();        /* sized for the window at setup */
    }
    b->snaps[(b->shead + b->slen++) % b->scap] =
        (Snap){ .t = s->now, .busy = b->busy_int, .req = b->req_int,
                .psi = b->psi_int };
    push(s, s->now + s->c->report_ns, EV_SNAP, i, 0);
}

static void sample(Sim *s, unsigned i)
{
    Blade *b = &s->blade[i];
    unsigned cpu, irq, psi;

    advance(s, b);
    if (s->window > 0 && b->slen > 0) {
        Snap from = b->snaps[b->shead];

        b->shead = (b->shead + 1) % b->scap;
        b->slen--;
        figures(s, b, &from, &cpu, &irq, &psi);
    } else {
        figures(s, b, NULL, &cpu, &irq, &psi);
    }
    if (s->c->report_delay_ns > 0) {
        /* the runnable count is taken at delivery: a simplification */
        push(s, s->now + s->c->report_delay_ns, EV_DELIVER, i,
             cpu | irq << 8 | psi << 16);
    } else {
        deliver(s, i, cpu, irq, psi);
    }
    push(s, s->now + s->c->report_ns, EV_SAMPLE, i, 0);
}

/* ---------------------------------------------------------------------- */
/* pickers                                                                 */

static double expected_delay(const Sim *s, const Blade *b)
{
    unsigned k = b->cores - (b->bg_on ? b->hog_want : 0);
    double speed = b->speed;

    if (k == 0) {
        k = 1;
    }
    if (b->cfs_hogs > 0) {
        /* CFS: its capacity in cores of speed 1 */
        speed *= (k - b->cfs_hogs + b->cfs_hogs * s->cfs_rate) / k;
    }
    if (b->insys < k) {
        return 1 / speed;
    }
    return (double)(b->insys - k + 1) / (k * speed) + 1 / speed;
}

/*
 * prequal's probes: to random blades, each answered with what the blade
 * sees when it arrives (requests in system, its latency estimate for that
 * many), back at the switch a round trip after it was sent.
 */
static void send_probes(Sim *s)
{
    uint16_t pos[BAL_MAX_MEMBERS];
    unsigned n = bal_prequal_probes(&s->bal, s->bb, s->members,
                                    s->c->blades, pos);

    for (unsigned j = 0; j < n; j++) {
        push(s, s->now + s->c->probe_rtt_ns / 2, EV_PROBE, pos[j], 0);
    }
    if (s->measuring) {
        s->probes += n;
    }
}

static void probe_at_blade(Sim *s, unsigned i)
{
    const Blade *b = &s->blade[i];
    unsigned rif = b->insys > 0xffff ? 0xffff : b->insys;
    unsigned k = rif >= LAT_BUCKETS ? LAT_BUCKETS - 1 : rif;
    double lat = 0;

    /* the estimate for this many requests, or the nearest known */
    for (unsigned d = 0; d < LAT_BUCKETS && lat == 0; d++) {
        if (k >= d && b->lat_rif[k - d] > 0) {
            lat = b->lat_rif[k - d];
        } else if (k + d < LAT_BUCKETS && b->lat_rif[k + d] > 0) {
            lat = b->lat_rif[k + d];
        }
    }
    push(s, s->now + s->c->probe_rtt_ns / 2, EV_PROBE_BACK,
         i | rif << 16, lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat);
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
            s->blade[j].insys_at_start = s->blade[j].insys;
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
    if (c->picker == LB_PICK_POLICY && c->policy == BAL_POLICY_PREQUAL) {
        send_probes(s);
    }
    if (s->measuring) {
        s->blade[i].flows_measured++;
    }
    arrive(s, i, f);

    if (k + 1 == s->total) {
        s->measuring = false;
        s->t_measure_end = s->now;
        for (unsigned j = 0; j < c->blades; j++) {
            Blade *b = &s->blade[j];
            double growth = (double)b->insys - b->insys_at_start;

            advance(s, b);
            b->busy_at_end = b->busy_int;
            if (j == 0 || growth > s->r->backlog_growth) {
                s->r->backlog_growth = growth;
            }
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
    c->bg_model = LB_BG_RESERVED;
    c->bg_nice = 0;
    lb_cfs_init(&c->cfs, c->cores);
    c->slow_speed = 0.5;
    c->contention = true;
    c->see_requests = true;
    c->probe_rtt_ns = 10e3;
    c->report_ns = 100e3;
    c->window_ns = -1;
    c->irq_frac = 0.1;
    c->picker = LB_PICK_POLICY;
    c->policy = BAL_POLICY_UTIL;
    bal_params_init(&c->params);
    c->params.pq_max_age_ns = 0;    /* lb_run(): 20 mean service times */
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
           (unsigned)c->bg_model < LB_BG__MAX &&
           c->bg_nice >= -20 && c->bg_nice <= 19 &&
           c->slow_speed > 0 && c->probe_rtt_ns >= 0 &&
           ((c->het != LB_HET_ONOFF && c->het != LB_HET_BOTH &&
             c->het != LB_HET_HOG) ||
            ((c->bg_model == LB_BG_CFS ? c->bg_cores <= c->cores :
                                         c->bg_cores < c->cores) &&
             (c->bg_always || (c->bg_on_ns > 0 && c->bg_off_ns > 0)))) &&
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
    return ((c->het == LB_HET_ONOFF || c->het == LB_HET_BOTH) &&
            i % 4 == 0) || (c->het == LB_HET_HOG && i == 0);
}

static double blade_speed(const LbConfig *c, unsigned i)
{
    if (c->het == LB_HET_SLOW && i == 0) {
        return c->slow_speed;
    }
    return blade_fast(c, i) ? c->speed_fast : 1;
}

/* CFS: a request's speed on a hog's core, for the blades' CPU count. */
static double cfs_rate_of(const LbConfig *c)
{
    LbCfs m = c->cfs;

    m.cpus = c->cores;
    return lb_cfs_rate(&m, lb_nice_weight(c->bg_nice), NULL);
}

/* Flows per ns at load 1: the capacity left to requests, in flows. */
static double rate_per_load(const LbConfig *c)
{
    double cap = 0;
    double lost = c->bg_model == LB_BG_CFS ? 1 - cfs_rate_of(c) : 1;
    double duty = c->bg_always ? 1 : c->bg_on_ns / (c->bg_on_ns + c->bg_off_ns);

    for (unsigned i = 0; i < c->blades; i++) {
        double speed = blade_speed(c, i);

        cap += c->cores * speed;
        if (blade_bg(c, i)) {
            cap -= c->bg_cores * lost * speed * duty;
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
        b->speed = blade_speed(c, i);
        b->bg = blade_bg(c, i);
        s->bb[i].eligible = true;
        s->members[i] = (uint16_t)i;
        if (b->bg) {
            double duty = c->bg_on_ns / (c->bg_on_ns + c->bg_off_ns);

            /* the event at 0 flips it: on with the stationary odds */
            b->bg_on = c->bg_always ? false : unif(&s->rng_bg) >= duty;
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
    BalParams params;
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
    params = c->params;
    params.pq_external = true;      /* probes: send_probes() */
    if (params.pq_max_age_ns == 0) {
        params.pq_max_age_ns = (uint64_t)(20 * lb_mean_service_ns(c));
    }
    bal_init(&s.bal, c->policy, &params, stream(c->seed, 4));
    s.cfs_rate = c->bg_model == LB_BG_CFS ? cfs_rate_of(c) : 1;
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
            deliver(&s, e.a, e.b & 0xff, (e.b >> 8) & 0xff, e.b >> 16);
            break;
        case EV_PROBE:
            probe_at_blade(&s, e.a);
            break;
        case EV_PROBE_BACK:
            bal_prequal_probe_result(&s.bal, (uint16_t)(e.a & 0xffff),
                                     e.a >> 16, e.b, (uint64_t)s.now);
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
    r->probes = s.probes;
    if (r->sim_ns > 0) {
        r->probe_bytes_per_s = (double)s.probes * PROBE_WIRE_BYTES /
                               (r->sim_ns / 1e9);
    }
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
    "equal", "speed", "onoff", "both", "hog", "slow",
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

/* ---------------------------------------------------------------------- */
/* CFS: one core, a request and a hog                                      */

void lb_cfs_init(LbCfs *m, unsigned cpus)
{
    m->cpus = cpus;
    m->latency_ns = 6e6;
    m->min_gran_ns = 0.75e6;
    m->wakeup_gran_ns = 1e6;
    m->tick_ns = 4e6;
    m->burst_ns = 1e6;
    m->sleep_ns = 1e6;
    m->sleeper_credit = true;
}

unsigned lb_nice_weight(int nice)
{
    /*
     * sched_prio_to_weight: 1024 at nice 0, each step about 1.25x; the
     * kernel's rounded values at the levels the benches use, the rule
     * elsewhere.
     */
    switch (nice) {
    case -10:
        return 9548;
    case -5:
        return 3121;
    case 0:
        return 1024;
    case 5:
        return 335;
    case 10:
        return 110;
    default:
        return (unsigned)floor(1024 * pow(1.25, -nice) + 0.5);
    }
}

/*
 * Two CFS entities on one runqueue: the hog (H, weight @w, always
 * runnable) and the request (R, weight 1024), which alternates CPU bursts
 * and sleeps.  What is modelled (kernel/sched/fair.c, Linux 6.1):
 *  - vruntime advances by the time run times 1024 / weight;
 *  - min_vruntime: the smallest vruntime of the runnable, never going
 *    back;
 *  - a waking R is placed at max(its vruntime, min_vruntime - latency / 2)
 *    (place_entity() with GENTLE_FAIR_SLEEPERS) and preempts H at once if
 *    H's vruntime is ahead of its own by more than the wake-up
 *    granularity (check_preempt_wakeup());
 *  - at each tick the running entity is switched out when it ran its
 *    slice, period * weight / total weight, or ran the minimum
 *    granularity and is ahead of the other by more than its slice
 *    (check_preempt_tick()); the other then runs.
 * Returns R's time alone over its time with H (see lb-sim.h).
 */
double lb_cfs_rate(const LbCfs *m, unsigned w, double *share)
{
    unsigned cpus = m->cpus < 1 ? 1 : m->cpus > 8 ? 8 : m->cpus;
    double f = 1 + floor(log2(cpus));
    double lat = m->latency_ns * f, min_gran = m->min_gran_ns * f;
    double wake_gran = m->wakeup_gran_ns * f;
    double vr_h = 0, vr_r = 0, min_vr = 0, t = 0, next_tick = m->tick_ns;
    double ran = 0;         /* the running entity's time since picked */
    double left, wake_at = 0, cpu = 0, slept = 0, runnable_t = 0;
    double since = 0;       /* when R last became runnable */
    bool r_runs, r_sleeps = false;
    uint64_t rng = 0x5eed;
    const unsigned bursts = 20000;
    unsigned done = 0;

    left = m->sleep_ns > 0 ? expo(&rng, m->burst_ns) : INFINITY;
    r_runs = true;          /* R starts awake, placed like H */
    while (done < bursts) {
        double dt, t_next;
        int ev;             /* 0 tick, 1 burst end, 2 wake */

        t_next = next_tick;
        ev = 0;
        if (r_runs && t + left <= t_next) {
            t_next = t + left;
            ev = 1;
        }
        if (r_sleeps && wake_at < t_next) {
            t_next = wake_at;
            ev = 2;
        }
        if (m->sleep_ns <= 0 && t_next > (double)bursts * m->tick_ns) {
            break;          /* a request that never sleeps: a long run */
        }
        dt = t_next - t;
        if (r_runs) {
            vr_r += dt;
            left = ev == 1 ? 0 : left - dt;    /* exact, whatever rounds */
            cpu += dt;
        } else {
            vr_h += dt * 1024 / w;
        }
        ran += dt;
        t = t_next;
        /* min_vruntime: the smaller of the runnable, monotonic */
        {
            double lo = r_sleeps ? vr_h : (vr_h < vr_r ? vr_h : vr_r);

            if (lo > min_vr) {
                min_vr = lo;
            }
        }
        switch (ev) {
        case 1:                 /* burst done: R sleeps, H runs */
            runnable_t += t - since;
            done++;
            r_runs = false;
            r_sleeps = true;
            wake_at = t + expo(&rng, m->sleep_ns);
            slept += wake_at - t;
            left = expo(&rng, m->burst_ns);
            ran = 0;
            break;
        case 2:                 /* R wakes */
            r_sleeps = false;
            since = t;
            if (m->sleeper_credit && vr_r < min_vr - lat / 2) {
                vr_r = min_vr - lat / 2;
            } else if (!m->sleeper_credit && vr_r < min_vr) {
                vr_r = min_vr;
            }
            if (vr_h - vr_r > wake_gran) {
                r_runs = true;
                ran = 0;
            }
            break;
        default: {              /* tick */
            double total = 1024.0 + (r_sleeps ? 0 : w);
            double slice_w = r_sleeps ? 0 : (r_runs ? 1024.0 : w);
            double slice = lat * slice_w / total;
            double lead = r_runs ? vr_r - vr_h : vr_h - vr_r;

            next_tick += m->tick_ns;
            if (r_sleeps) {
                break;          /* H alone */
            }
            if (ran > slice || (ran > min_gran && lead > slice)) {
                /* pick the smaller vruntime */
                bool r_next = vr_r < vr_h;

                if (r_next != r_runs) {
                    r_runs = r_next;
                    ran = 0;
                }
            }
            break;
        }
        }
    }
    if (m->sleep_ns <= 0) {
        /* never slept: its share of the core is its speed */
        if (share) {
            *share = t > 0 ? cpu / t : 1;
        }
        return t > 0 ? cpu / t : 1;
    }
    if (share) {
        *share = runnable_t > 0 ? cpu / runnable_t : 1;
    }
    return (cpu + slept) / (runnable_t + slept);
}
