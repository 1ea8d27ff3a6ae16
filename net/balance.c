/*
 * Balancing policies of the blade server manager (see balance.h and
 * docs/balancing.md).
 *
 * Randomness comes from a private splitmix64 generator in BalState, so a
 * seed gives the same choices on every host; nothing here calls rand().
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include "balance.h"

#define BAL_MAX_CHOICES 8
/* wrr-cpu: the largest weight after a refresh (the others scale to it). */
#define BAL_WRR_SCALE 1000

void bal_params_init(BalParams *p)
{
    p->choices = 2;
    p->flow_cost_centipct = 500;
    p->irq_weight_pct = 50;
    p->wrr_refresh_ns = 1000000000ULL;
    p->util_estimator = BAL_UTIL_WAIT;
    p->hot_quantile_pct = 80;
    p->pq_probes = 2;
    p->pq_reuse = 2;
    p->pq_max_age_ns = 1000000000ULL;
    p->pq_external = false;
}

/* splitmix64 (Steele, Lea and Flood): one 64-bit word of state. */
static uint64_t bal_rand(BalState *st)
{
    uint64_t z = (st->rng += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/*
 * Uniform in [0, n), n >= 1: the high 32 bits scaled by n.  The bias is
 * below n / 2^32, far under anything a test or a switch could see.
 */
static unsigned bal_below(BalState *st, unsigned n)
{
    return (unsigned)(((bal_rand(st) >> 32) * (uint64_t)n) >> 32);
}

void bal_set_policy(BalState *st, BalPolicy policy)
{
    if ((unsigned)policy >= BAL_POLICY__MAX) {
        policy = BAL_POLICY_UTIL;
    }
    st->policy = policy;
    st->rr_next = 0;
    st->wrr_refresh_at = 0;
    st->wrr_primed = false;
    st->pq_n = 0;
    memset(st->wrr_weight, 0, sizeof(st->wrr_weight));
    memset(st->wrr_current, 0, sizeof(st->wrr_current));
    memset(st->wrr_closed, 0, sizeof(st->wrr_closed));
    memset(st->wrr_busy, 0, sizeof(st->wrr_busy));
}

void bal_init(BalState *st, BalPolicy policy, const BalParams *params,
              uint64_t seed)
{
    memset(st, 0, sizeof(*st));
    if (params) {
        st->params = *params;
    } else {
        bal_params_init(&st->params);
    }
    if (st->params.choices < 1) {
        st->params.choices = 1;
    } else if (st->params.choices > BAL_MAX_CHOICES) {
        st->params.choices = BAL_MAX_CHOICES;
    }
    if (st->params.util_estimator >= BAL_UTIL__MAX) {
        st->params.util_estimator = BAL_UTIL_WAIT;
    }
    if (st->params.hot_quantile_pct > 100) {
        st->params.hot_quantile_pct = 100;
    }
    if (st->params.pq_probes > BAL_MAX_CHOICES) {
        st->params.pq_probes = BAL_MAX_CHOICES;
    }
    if (st->params.pq_reuse < 1) {
        st->params.pq_reuse = 1;
    }
    st->rng = seed;
    bal_set_policy(st, policy);
}

static unsigned bal_clamp_pct(unsigned v)
{
    return v > 100 ? 100 : v;
}

/*
 * The score of @b.  BACKLOG: @mean_ns, the members' mean flow_ns (0: do
 * not know), stands in for a flow_ns not learned yet and bounds the
 * others to [mean / BAL_FLOW_NS_SPAN, mean * BAL_FLOW_NS_SPAN], so a blade
 * whose reports are wrong (a stuck 0 %) cannot draw every flow.
 */
#define BAL_FLOW_NS_SPAN 8

/* a * b, or UINT64_MAX if that overflows */
static uint64_t bal_mul_sat(uint64_t a, uint64_t b)
{
    if (a != 0 && b > UINT64_MAX / a) {
        return UINT64_MAX;
    }
    return a * b;
}

static uint64_t bal_score(const BalParams *params, const BalBlade *b,
                          uint64_t mean_ns)
{
    uint64_t s, since;

    if (params->util_estimator == BAL_UTIL_BACKLOG) {
        uint64_t pct = 100 + (uint64_t)b->cost_pct +
                       (uint64_t)bal_clamp_pct(b->irq_pct) *
                       params->irq_weight_pct / 100;
        uint64_t per = b->flow_ns;

        if (mean_ns) {
            if (per == 0) {
                /*
                 * Nothing learned here yet: the members' mean, raised
                 * by the load the blade reports, since a flow there
                 * shares the CPU with whatever keeps it busy (up to 2x
                 * the mean for a blade reporting 100 %).
                 */
                per = bal_mul_sat(mean_ns,
                                  100 + bal_clamp_pct(b->cpu_pct)) / 100;
            } else if (per < mean_ns / BAL_FLOW_NS_SPAN) {
                per = mean_ns / BAL_FLOW_NS_SPAN;
            } else if (per / BAL_FLOW_NS_SPAN > mean_ns) {
                per = mean_ns * BAL_FLOW_NS_SPAN;
            }
        }
        if (per == 0) {
            per = 1;
        }
        /* (active + 1) * per * pct / 100 */
        s = bal_mul_sat(per, pct);
        s = s == UINT64_MAX ? s : s / 100;
        return bal_mul_sat(s, (uint64_t)b->active + 1);
    }
    s = (uint64_t)bal_clamp_pct(b->cpu_pct) * 100 +
        (uint64_t)bal_clamp_pct(b->irq_pct) * params->irq_weight_pct +
        (uint64_t)b->cost_pct * 100;
    if (params->util_estimator == BAL_UTIL_NET) {
        /* flows that ended since the report take their load away */
        if (b->active >= b->active_at_report) {
            s += (uint64_t)(b->active - b->active_at_report) *
                 params->flow_cost_centipct;
        } else {
            since = (uint64_t)(b->active_at_report - b->active) *
                    params->flow_cost_centipct;
            s = since >= s ? 0 : s - since;
        }
    } else {
        s += (uint64_t)b->since_report * params->flow_cost_centipct;
    }
    return s;
}

/*
 * Positions in @members of the eligible blades, in order; their count.
 */
static unsigned bal_eligible(const BalBlade *blades, const uint16_t *members,
                             unsigned n, uint16_t *pos)
{
    unsigned k = 0;

    for (unsigned i = 0; i < n; i++) {
        if (blades[members[i]].eligible) {
            pos[k++] = (uint16_t)i;
        }
    }
    return k;
}

/*
 * Move @d distinct random entries of pos[0..k) to its front (a partial
 * Fisher-Yates shuffle); all of them if d >= k.  Returns how many.
 */
static unsigned bal_sample(BalState *st, uint16_t *pos, unsigned k,
                           unsigned d)
{
    if (d >= k) {
        return k;
    }
    for (unsigned i = 0; i < d; i++) {
        unsigned j = i + bal_below(st, k - i);
        uint16_t t = pos[i];

        pos[i] = pos[j];
        pos[j] = t;
    }
    return d;
}

/*
 * The candidate with the lowest (key, active), ties broken uniformly at
 * random (reservoir sampling over the tied candidates).
 */
static int bal_min_of(BalState *st, const BalBlade *blades,
                      const uint16_t *members, const uint16_t *pos,
                      unsigned k, bool by_score, uint64_t flow_ns)
{
    int best = -1;
    uint64_t best_key = 0;
    uint32_t best_active = 0;
    unsigned ties = 0;

    for (unsigned i = 0; i < k; i++) {
        const BalBlade *b = &blades[members[pos[i]]];
        uint64_t key = by_score ? bal_score(&st->params, b, flow_ns) : 0;

        if (best < 0 || key < best_key ||
            (key == best_key && b->active < best_active)) {
            best = pos[i];
            best_key = key;
            best_active = b->active;
            ties = 1;
        } else if (key == best_key && b->active == best_active) {
            ties++;
            if (bal_below(st, ties) == 0) {
                best = pos[i];
            }
        }
    }
    return best;
}

/* util, BACKLOG: the mean flow_ns of the members that have one, or 0. */
static uint64_t bal_mean_flow_ns(const BalBlade *blades,
                                 const uint16_t *members,
                                 const uint16_t *pos, unsigned k)
{
    uint64_t sum = 0;
    unsigned with = 0;

    for (unsigned i = 0; i < k; i++) {
        uint64_t f = blades[members[pos[i]]].flow_ns;

        if (f) {
            sum += f;
            with++;
        }
    }
    return with ? sum / with : 0;
}

/*
 * util, WAIT: what the blade's queue is counted in (requests in flight
 * where the switch sees its answers, else open flows) and the time one
 * of them takes there (0: nothing learned).
 */
static uint32_t bal_wait_n(const BalBlade *b)
{
    return b->answered ? b->inflight : b->active;
}

/*
 * The load WAIT counts: requests in flight, and the open flows that await
 * none now by the share of the time such a flow does (they will send
 * more: a keep-alive connection between requests); all open flows where
 * answers are not seen.
 */
static double bal_wait_load(const BalBlade *b)
{
    double idle;

    if (!b->answered) {
        return b->active;
    }
    idle = b->active > b->inflight ? b->active - b->inflight : 0;
    return b->inflight + idle * (b->duty16 ? b->duty16 / 16000.0 : 1);
}

static uint64_t bal_wait_per(const BalBlade *b)
{
    uint64_t cpu = b->answered ? b->req_ns : b->flow_ns;

    /*
     * The CPU figure is blade time, over all its cores; lat_ns is one
     * request's wall time, as much or more (as much on one core): an
     * upper bound.  But where other tasks compete for the CPU (more
     * runnable than the switch's requests), the CPU figure counts their
     * time too and, the CPU being full, says only how many requests the
     * switch sent there: lat_ns is then the estimate.
     */
    if (b->lat_ns && cpu &&
        (b->lat_ns < cpu || (b->has_contention && b->others_runnable))) {
        return b->lat_ns;
    }
    return cpu;
}

/*
 * The expected wait of a new flow on @b, in nanoseconds (see
 * BalUtilEstimator, WAIT).  @mean_per: the mean per of the candidates
 * that have one (0: none has).
 */
static double bal_wait(const BalParams *params, const BalBlade *b,
                       uint64_t mean_per)
{
    double per = (double)bal_wait_per(b);
    double pct = 100 + (double)b->cost_pct +
                 (double)bal_clamp_pct(b->irq_pct) * params->irq_weight_pct /
                 100;

    if (mean_per) {
        if (per == 0) {
            /* nothing learned here: the others' mean, raised by its load */
            per = (double)mean_per *
                  (b->has_contention ? (1000.0 + b->psi_permille) / 1000 :
                   (100.0 + bal_clamp_pct(b->cpu_pct)) / 100);
            if (b->lat_ns && (double)b->lat_ns < per) {
                per = (double)b->lat_ns;
            }
        } else if (per < (double)mean_per / BAL_FLOW_NS_SPAN) {
            per = (double)mean_per / BAL_FLOW_NS_SPAN;
        } else if (per > (double)mean_per * BAL_FLOW_NS_SPAN) {
            per = (double)mean_per * BAL_FLOW_NS_SPAN;
        }
    } else {
        /* nothing learned anywhere (bal_util_score() only) */
        per = b->has_contention ? (1000.0 + b->psi_permille) / 1000 :
              (100.0 + bal_clamp_pct(b->cpu_pct)) / 100;
    }
    if (b->has_contention && b->psi_primed && b->others_runnable &&
        (uint32_t)b->psi_permille * 16 > b->psi_avg16) {
        per *= (1000.0 + b->psi_permille) * 16 / (16000.0 + b->psi_avg16);
    }
    return (bal_wait_load(b) + 1) * per * pct / 100;
}

static uint64_t bal_wait_mean_per(const BalBlade *blades,
                                  const uint16_t *members,
                                  const uint16_t *pos, unsigned k)
{
    uint64_t sum = 0;
    unsigned with = 0;

    for (unsigned i = 0; i < k; i++) {
        uint64_t f = bal_wait_per(&blades[members[pos[i]]]);

        if (f) {
            sum += f;
            with++;
        }
    }
    return with ? sum / with : 0;
}

/*
 * The hot-cold rule's threshold: the @pct quantile of @v[0..k) (k >= 1),
 * i.e. the value at rank ceil(k * pct / 100) in ascending order.  A value
 * above it is hot.  Sorts a copy (k is at most BAL_MAX_MEMBERS).
 */
static uint32_t bal_hot_threshold(const uint32_t *v, unsigned k, unsigned pct)
{
    uint32_t s[BAL_MAX_MEMBERS];
    unsigned rank = (k * pct + 99) / 100;

    memcpy(s, v, k * sizeof(*s));
    for (unsigned i = 1; i < k; i++) {
        uint32_t x = s[i];
        unsigned j = i;

        while (j > 0 && s[j - 1] > x) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = x;
    }
    return s[rank == 0 ? 0 : rank - 1];
}

/*
 * Prequal's hot-cold lexicographic choice among @k candidates with loads
 * @n (requests in flight) and latencies @lat: if the hot-cold rule is on,
 * the lowest latency among the cold (n at most the quantile: those above
 * it are hot); if none is cold, the lowest n, then the lowest latency;
 * with the rule off, the lowest latency, then n.  Ties at random.  Returns
 * the index in 0..k.
 */
static unsigned bal_hot_cold(BalState *st, const uint32_t *n,
                             const double *lat, unsigned k)
{
    uint32_t thr = st->params.hot_quantile_pct ?
                   bal_hot_threshold(n, k, st->params.hot_quantile_pct) : 0;
    bool any_cold = false;
    unsigned best = 0, ties = 0;

    if (st->params.hot_quantile_pct) {
        for (unsigned i = 0; i < k; i++) {
            any_cold |= n[i] <= thr;
        }
    }
    for (unsigned i = 0; i < k; i++) {
        int c;

        if (any_cold) {
            if (n[i] > thr) {
                continue;
            }
            c = ties == 0 ? -1 : lat[i] < lat[best] ? -1 :
                lat[i] > lat[best] ? 1 : n[i] < n[best] ? -1 :
                n[i] > n[best] ? 1 : 0;
        } else if (st->params.hot_quantile_pct) {
            c = ties == 0 ? -1 : n[i] < n[best] ? -1 : n[i] > n[best] ? 1 :
                lat[i] < lat[best] ? -1 : lat[i] > lat[best] ? 1 : 0;
        } else {
            /* rule off: the lowest latency, then n */
            c = ties == 0 ? -1 : lat[i] < lat[best] ? -1 :
                lat[i] > lat[best] ? 1 : n[i] < n[best] ? -1 :
                n[i] > n[best] ? 1 : 0;
        }
        if (c < 0) {
            best = i;
            ties = 1;
        } else if (c == 0 && bal_below(st, ++ties) == 0) {
            best = i;
        }
    }
    return best;
}

/* util, WAIT: idle blades whose waits are within this factor are alike */
#define BAL_IDLE_NEAR 1.25

static int bal_pick_wait(BalState *st, const BalBlade *blades,
                         const uint16_t *members, const uint16_t *pos,
                         unsigned k)
{
    uint32_t n[BAL_MAX_MEMBERS];
    double w[BAL_MAX_MEMBERS];
    uint64_t mean = bal_wait_mean_per(blades, members, pos, k);
    int r;

    if (mean == 0) {
        /*
         * Cold start, as BACKLOG's: no member has learned what a request
         * costs there, so place by the load the blades report (NET, which
         * moves with every flow too, so it does not herd).
         */
        st->params.util_estimator = BAL_UTIL_NET;
        r = bal_min_of(st, blades, members, pos, k, true, 0);
        st->params.util_estimator = BAL_UTIL_WAIT;
        return r;
    }
    unsigned best, near = 0;
    double load[BAL_MAX_MEMBERS];

    for (unsigned i = 0; i < k; i++) {
        const BalBlade *b = &blades[members[pos[i]]];

        n[i] = bal_wait_n(b);
        w[i] = bal_wait(&st->params, b, mean);
        load[i] = bal_wait_load(b);
    }
    best = bal_hot_cold(st, n, w, k);
    if (load[best] > 0) {
        return pos[best];
    }
    /*
     * An idle blade won: its wait is one request's time, and idle blades
     * within BAL_IDLE_NEAR of it differ by the noise of what was learned.
     * One of them at random, so that at one request at a time equal
     * blades share the flows (and keep learning) instead of the one whose
     * figure is lowest by chance taking them all.
     */
    for (unsigned i = 0; i < k; i++) {
        if (load[i] == 0 && w[i] <= w[best] * BAL_IDLE_NEAR &&
            bal_below(st, ++near) == 0) {
            best = i;
        }
    }
    return pos[best];
}

uint64_t bal_request_cost_ns(const BalBlade *b)
{
    return bal_wait_per(b);
}

uint32_t bal_util_score(const BalParams *params, const BalBlade *b)
{
    uint64_t s;

    if (params->util_estimator == BAL_UTIL_WAIT) {
        double w = bal_wait(params, b, bal_wait_per(b));

        return w >= UINT32_MAX ? UINT32_MAX : (uint32_t)w;
    }
    s = bal_score(params, b, 0);

    return s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

/* ---- prequal -------------------------------------------------------- */

unsigned bal_prequal_probes(BalState *st, const BalBlade *blades,
                            const uint16_t *members, unsigned n,
                            uint16_t *pos)
{
    uint16_t all[BAL_MAX_MEMBERS];
    unsigned k;

    if (!st || !blades || !members || !pos || n == 0 ||
        n > BAL_MAX_MEMBERS) {
        return 0;
    }
    k = bal_eligible(blades, members, n, all);
    k = bal_sample(st, all, k, st->params.pq_probes);
    memcpy(pos, all, k * sizeof(*pos));
    return k;
}

static void bal_pq_remove(BalState *st, unsigned i)
{
    st->pq_pool[i] = st->pq_pool[--st->pq_n];
}

void bal_prequal_probe_result(BalState *st, uint16_t pos, uint32_t rif,
                              uint64_t lat_ns, uint64_t now)
{
    if (st->pq_n == BAL_PQ_POOL) {
        unsigned oldest = 0;

        for (unsigned i = 1; i < st->pq_n; i++) {
            if (st->pq_pool[i].at_ns < st->pq_pool[oldest].at_ns) {
                oldest = i;
            }
        }
        bal_pq_remove(st, oldest);
    }
    st->pq_pool[st->pq_n++] = (BalProbe) {
        .pos = pos, .rif = rif, .lat_ns = lat_ns, .at_ns = now,
    };
}

static int bal_pick_prequal(BalState *st, const BalBlade *blades,
                            const uint16_t *members, unsigned n,
                            const uint16_t *pos, unsigned k, uint64_t now)
{
    uint32_t rif[BAL_PQ_POOL];
    double lat[BAL_PQ_POOL];
    unsigned i, best, worst;
    int chosen;

    if (!st->params.pq_external) {
        /* the switch answers its own probes, at once, from BalBlade */
        uint16_t probe[BAL_MAX_CHOICES];
        unsigned np = bal_prequal_probes(st, blades, members, n, probe);

        for (i = 0; i < np; i++) {
            const BalBlade *b = &blades[members[probe[i]]];

            bal_prequal_probe_result(st, probe[i], bal_wait_n(b),
                                     b->lat_ns, now);
        }
    }
    /* too old, or no longer an eligible member: out */
    for (i = 0; i < st->pq_n;) {
        const BalProbe *p = &st->pq_pool[i];

        if (p->pos >= n || !blades[members[p->pos]].eligible ||
            (now > p->at_ns && now - p->at_ns > st->params.pq_max_age_ns)) {
            bal_pq_remove(st, i);
        } else {
            i++;
        }
    }
    if (st->pq_n == 0) {
        return pos[bal_below(st, k)];
    }
    for (i = 0; i < st->pq_n; i++) {
        rif[i] = st->pq_pool[i].rif;
        lat[i] = (double)st->pq_pool[i].lat_ns;
    }
    best = bal_hot_cold(st, rif, lat, st->pq_n);
    chosen = st->pq_pool[best].pos;
    /* the flow just sent is one more request in flight there */
    st->pq_pool[best].rif++;
    if (++st->pq_pool[best].uses >= st->params.pq_reuse) {
        bal_pq_remove(st, best);
    }
    /* drop the worst: the hottest, or with none hot the slowest */
    if (st->pq_n >= 2) {
        worst = 0;
        for (i = 1; i < st->pq_n; i++) {
            const BalProbe *p = &st->pq_pool[i], *w = &st->pq_pool[worst];

            if (p->rif > w->rif ||
                (p->rif == w->rif && p->lat_ns > w->lat_ns)) {
                worst = i;
            }
        }
        bal_pq_remove(st, worst);
    }
    return chosen;
}

static int bal_pick_rr(BalState *st, const BalBlade *blades,
                       const uint16_t *members, unsigned n)
{
    unsigned start = st->rr_next % n;

    for (unsigned i = 0; i < n; i++) {
        unsigned p = (start + i) % n;

        if (blades[members[p]].eligible) {
            st->rr_next = (p + 1) % n;
            return (int)p;
        }
    }
    return -1;
}

/*
 * wrr-cpu weights, as gRPC's weighted round robin computes them from
 * backend metrics: weight = qps / utilization over the period since the
 * last refresh.  qps is the flows that ended on the blade (BalBlade.closed,
 * switch-local), utilization the blade time its reports say it was busy
 * (BalBlade.busy_ns), plus cost_pct of the period: the weight is the
 * flows the blade completes per unit of CPU, an estimate of its capacity.
 * A member with no such data (no flow ended, no busy time) gets the mean
 * weight of the others; with none, all weigh the same.  Weights are
 * scaled so the largest is BAL_WRR_SCALE, none below 1.
 */
static void bal_wrr_refresh(BalState *st, const BalBlade *blades,
                            const uint16_t *members, unsigned n,
                            uint64_t now)
{
    double raw[BAL_MAX_MEMBERS];
    double sum = 0, top = 0;
    uint64_t last = st->wrr_refresh_at - st->params.wrr_refresh_ns;
    double period = st->wrr_primed && now > last ? (double)(now - last) : 0;
    unsigned with = 0;

    for (unsigned i = 0; i < n; i++) {
        const BalBlade *b = &blades[members[i]];
        double busy = (double)(b->busy_ns - st->wrr_busy[i]) +
                      period * b->cost_pct / 100;

        raw[i] = 0;
        if (st->wrr_primed && b->closed > st->wrr_closed[i] && busy > 0) {
            raw[i] = (double)(b->closed - st->wrr_closed[i]) / busy;
            sum += raw[i];
            with++;
        }
        st->wrr_closed[i] = b->closed;
        st->wrr_busy[i] = b->busy_ns;
    }
    st->wrr_primed = true;
    for (unsigned i = 0; i < n; i++) {
        if (raw[i] == 0) {
            raw[i] = with ? sum / with : 1;
        }
        if (raw[i] > top) {
            top = raw[i];
        }
    }
    for (unsigned i = 0; i < n; i++) {
        int32_t w = (int32_t)(raw[i] / top * BAL_WRR_SCALE + 0.5);

        st->wrr_weight[i] = w < 1 ? 1 : w;
        st->wrr_current[i] = 0;
    }
}

/* Smooth weighted round robin (as in nginx) over the eligible members. */
static int bal_pick_wrr(BalState *st, const BalBlade *blades,
                        const uint16_t *members, unsigned n, uint64_t now)
{
    int64_t total = 0;
    int best = -1;

    if (!st->wrr_primed || now >= st->wrr_refresh_at) {
        bal_wrr_refresh(st, blades, members, n, now);
        st->wrr_refresh_at = now + st->params.wrr_refresh_ns;
    }
    for (unsigned i = 0; i < n; i++) {
        if (!blades[members[i]].eligible) {
            continue;
        }
        if (st->wrr_weight[i] < 1) {
            st->wrr_weight[i] = 1;      /* joined since the refresh */
        }
        st->wrr_current[i] += st->wrr_weight[i];
        total += st->wrr_weight[i];
        if (best < 0 || st->wrr_current[i] > st->wrr_current[best]) {
            best = (int)i;
        }
    }
    if (best >= 0) {
        st->wrr_current[best] -= (int32_t)total;
    }
    return best;
}

int bal_pick(BalState *st, const BalBlade *blades, const uint16_t *members,
             unsigned n, uint64_t now)
{
    uint16_t pos[BAL_MAX_MEMBERS];
    uint64_t flow_ns;
    unsigned k;

    if (!st || !blades || !members || n == 0 || n > BAL_MAX_MEMBERS) {
        return -1;
    }
    switch (st->policy) {
    case BAL_POLICY_RR:
        return bal_pick_rr(st, blades, members, n);
    case BAL_POLICY_WRR_CPU:
        return bal_pick_wrr(st, blades, members, n, now);
    default:
        break;
    }
    k = bal_eligible(blades, members, n, pos);
    if (k == 0) {
        return -1;
    }
    switch (st->policy) {
    case BAL_POLICY_RANDOM:
        return pos[bal_below(st, k)];
    case BAL_POLICY_LEASTCONN:
        return bal_min_of(st, blades, members, pos, k, false, 0);
    case BAL_POLICY_P2C_CONN:
        k = bal_sample(st, pos, k, st->params.choices);
        return bal_min_of(st, blades, members, pos, k, false, 0);
    case BAL_POLICY_PREQUAL:
        return bal_pick_prequal(st, blades, members, n, pos, k, now);
    case BAL_POLICY_UTIL:
    default:
        if (st->params.util_estimator == BAL_UTIL_WAIT) {
            return bal_pick_wait(st, blades, members, pos, k);
        }
        /*
         * BACKLOG's score moves with every flow dispatched or ended, so
         * it does not herd: every eligible member is a candidate.  The
         * others move once a report: a few random candidates.
         */
        if (st->params.util_estimator == BAL_UTIL_BACKLOG) {
            flow_ns = bal_mean_flow_ns(blades, members, pos, k);
            if (flow_ns == 0) {
                int r;

                /*
                 * Cold start: no member has finished enough flows for
                 * the cost of one to be known.  Until then, place by
                 * the load the blades report (NET, whose score moves
                 * with every flow too, so it does not herd either).
                 */
                st->params.util_estimator = BAL_UTIL_NET;
                r = bal_min_of(st, blades, members, pos, k, true, 0);
                st->params.util_estimator = BAL_UTIL_BACKLOG;
                return r;
            }
        } else {
            flow_ns = 0;
            k = bal_sample(st, pos, k, st->params.choices);
        }
        return bal_min_of(st, blades, members, pos, k, true, flow_ns);
    }
}

void bal_dispatched(BalBlade *b)
{
    if (b->since_report < UINT32_MAX) {
        b->since_report++;
    }
    if (b->active < UINT32_MAX) {
        b->active++;
    }
    b->dispatched++;
}

void bal_closed(BalBlade *b)
{
    if (b->active > 0) {
        b->active--;
    }
    b->closed++;
}

void bal_request(BalBlade *b)
{
    if (b->inflight < UINT32_MAX) {
        b->inflight++;
    }
    b->requests++;
}

/* new = old + (sample - old) / 8, in either direction; 0 is "none yet" */
static uint64_t bal_ewma8(uint64_t old, uint64_t sample)
{
    if (sample == 0) {
        sample = 1;
    }
    if (old == 0) {
        return sample;
    }
    return sample > old ? old + (sample - old + 7) / 8
                        : old - (old - sample) / 8;
}

void bal_answered(BalBlade *b, uint64_t latency_ns, bool alone)
{
    if (b->inflight > 0) {
        b->inflight--;
    }
    b->answered++;
    if (alone) {
        b->lat_ns = bal_ewma8(b->lat_ns, latency_ns);
    }
}

void bal_request_dropped(BalBlade *b)
{
    if (b->inflight > 0) {
        b->inflight--;
    }
}

/*
 * util, BACKLOG: learn the blade time a flow takes, flow_ns, from the CPU
 * the blade reports busy since its previous report and the flows that
 * ended meanwhile.  The sums go on until BAL_EST_FLOWS flows have ended,
 * or BAL_EST_MIN_FLOWS over at least BAL_EST_SPAN_NS (flows that come a
 * few a second must not take half a minute to show that a blade slowed
 * down), so a slow trickle of flows still gives a sound figure; each
 * such sample then moves flow_ns a quarter of the way.
 */
#define BAL_EST_FLOWS 32
#define BAL_EST_MIN_FLOWS 4
#define BAL_EST_SPAN_NS 1000000000ull
#define BAL_IDLE_REPORTS 8
/* no flow of ours, yet this busy: busy with something else */
#define BAL_BUSY_ELSEWHERE_PCT 50

/* new = old + (sample - old) / 4; 0 is "none yet" */
static uint64_t bal_ewma4(uint64_t old, uint64_t sample)
{
    if (sample == 0) {
        sample = 1;
    }
    if (old == 0) {
        return sample;
    }
    return sample > old ? old + (sample - old + 3) / 4
                        : old - (old - sample) / 4;
}

static void bal_learn(BalBlade *b, unsigned cpu_pct, uint64_t now)
{
    uint64_t ended = b->closed - b->closed_at_report;
    uint64_t answers;

    if (b->report_ns == 0 || now <= b->report_ns) {
        return;
    }
    if (b->active == 0 && b->active_at_report == 0 && ended == 0) {
        /*
         * No flow on the blade all along: what kept it busy is no
         * flow's cost, so the interval does not count (the sums go on
         * after it: when flows come less often than reports, gaps are
         * common).  A blade with no flow for BAL_IDLE_REPORTS reports
         * in a row is being passed over, not just between flows: its
         * cost fades, an eighth a report, since one that got no flows
         * while it was busy with something else must not keep that
         * cost for ever, or it would get no flows to learn another.
         * Fading sooner would forget, on every gap, how fast the blade
         * is (docs/balancing.md measures both).  But while the blade
         * reports itself busy with no flow of ours, what made it slow
         * is still there: the cost stands (a truly slow blade whose
         * cost faded looked fast again within seconds and took a burst
         * of flows, each to wait behind the others there).  It still
         * gets flows once the other blades' queues cost more, and
         * learns from them.
         */
        if (b->idle_reports < BAL_IDLE_REPORTS) {
            b->idle_reports++;
        } else if (cpu_pct < BAL_BUSY_ELSEWHERE_PCT) {
            b->flow_ns -= b->flow_ns / 8;
            b->req_ns -= b->req_ns / 8;
            b->lat_ns -= b->lat_ns / 8;
        }
        return;
    }
    b->idle_reports = 0;
    if (b->est_closed == 0 && b->est_busy_ns == 0) {
        b->est_since_ns = b->report_ns;
    }
    b->est_busy_ns += (now - b->report_ns) * cpu_pct / 100;
    b->est_closed += ended > UINT32_MAX - b->est_closed ?
                     UINT32_MAX - b->est_closed : (uint32_t)ended;
    answers = b->answered - b->answered_at_report;
    b->est_answered += answers > UINT32_MAX - b->est_answered ?
                       UINT32_MAX - b->est_answered : (uint32_t)answers;
    if (b->est_closed < BAL_EST_FLOWS &&
        (b->est_closed < BAL_EST_MIN_FLOWS ||
         now - b->est_since_ns < BAL_EST_SPAN_NS)) {
        return;
    }
    b->flow_ns = bal_ewma4(b->flow_ns, b->est_busy_ns / b->est_closed);
    if (b->est_answered) {
        b->req_ns = bal_ewma4(b->req_ns, b->est_busy_ns / b->est_answered);
    }
    b->est_busy_ns = 0;
    b->est_closed = 0;
    b->est_answered = 0;
}

void bal_report(BalBlade *b, unsigned cpu_pct, unsigned irq_pct,
                uint64_t now)
{
    cpu_pct = bal_clamp_pct(cpu_pct);
    if (b->report_ns != 0 && now > b->report_ns) {
        b->busy_ns += (now - b->report_ns) * cpu_pct / 100;
    }
    bal_learn(b, cpu_pct, now);
    b->cpu_pct = (uint8_t)cpu_pct;
    b->irq_pct = (uint8_t)bal_clamp_pct(irq_pct);
    b->report_ns = now;
    b->since_report = 0;
    b->active_at_report = b->active;
    b->closed_at_report = b->closed;
    b->answered_at_report = b->answered;
    b->has_contention = false;
    if (b->answered && b->active) {
        uint32_t d = (b->inflight >= b->active ? 1000 :
                      b->inflight * 1000 / b->active) * 16;

        b->duty16 = b->duty16 ? b->duty16 - b->duty16 / 16 + d / 16 : d;
        if (b->duty16 == 0) {
            b->duty16 = 1;
        }
    }
}

void bal_report_contention(BalBlade *b, unsigned psi_permille,
                           unsigned runnable)
{
    b->has_contention = true;
    b->psi_permille = psi_permille > 1000 ? 1000 : psi_permille;
    b->runnable = runnable > BAL_MAX_RUNNABLE ? BAL_MAX_RUNNABLE : runnable;
    b->others_runnable = b->runnable > bal_wait_n(b);
    /* the recent mean, a sixteenth a report: WAIT's reference */
    if (!b->psi_primed) {
        b->psi_avg16 = b->psi_permille * 16u;
        b->psi_primed = true;
    } else {
        b->psi_avg16 = b->psi_avg16 - b->psi_avg16 / 16 + b->psi_permille;
    }
}
