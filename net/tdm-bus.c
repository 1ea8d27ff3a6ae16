/*
 * The TDM backplane bus's controller: schedules, grants, accounting.
 * net/tdm-bus.h is the contract; docs/backplane.md the model.
 *
 * The bus's time is counted in octets from its start (its position): at
 * R Mb/s an octet takes 8000 / R ns, slot k spans octets [k S, (k+1) S),
 * and all arithmetic is on those integers, so that no rounding drifts.
 * Nanoseconds are converted at the edges only.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tdm-bus.h"

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
/*
 * Where the bus stops: 2^62 octets of its time, 117 years at 10 Gb/s and
 * 2.9 at 400 Gb/s.  Nothing crosses later (the positions would wrap).
 */
#define TDM_POS_MAX (UINT64_C(1) << 62)

/* A frame waiting: its cost on the bus and when it was queued. */
typedef struct TdmDesc {
    uint64_t arrival_ns;
    uint32_t octets;
} TdmDesc;

typedef struct TdmQueue {
    TdmDesc *d;
    uint32_t cap, head, n;
    uint64_t octets;
} TdmQueue;

/*
 * What running the bus changes: the committed state, or a scratch copy
 * that finds the next event (tdm_run()'s dry mode).
 */
typedef struct TdmRun {
    uint64_t pos;               /* bus octets decided since the start */
    uint64_t slot_no;           /* the slot pos is in, when slot_open */
    bool slot_open;             /* its owner is decided */
    int slot_owner;
    uint32_t slot_used;         /* octets of frames sent in it */
    int report_owner;           /* a set crossing idle octets, or -1 ... */
    uint64_t report_end;        /* ... until here (pos) */
    int64_t credit[TDM_MAX_OWNERS];     /* on demand */
    uint64_t head_done[TDM_MAX_OWNERS]; /* octets of each head frame sent */
} TdmRun;

struct TdmBus {
    TdmConfig cfg;
    TdmOps ops;
    void *opaque;
    uint64_t epoch_ns;
    uint64_t last_now;
    TdmRun run;
    /* the fixed map (equal, weighted); on demand: nominal shares only */
    uint32_t frame_slots;
    int16_t *map;
    uint32_t count[TDM_MAX_OWNERS];
    uint64_t frame_base;        /* the slot where the map's frame 0 starts */
    TdmQueue q[TDM_MAX_OWNERS];
    uint32_t queued;
    uint64_t report_since[TDM_MAX_OWNERS];  /* ns; TDM_NEVER: none */
    unsigned reports_pending;
    bool next_valid;
    uint64_t next_ns;
    TdmOwnerStats st[TDM_MAX_OWNERS];
    TdmStats total;
};

void tdm_config_init(TdmConfig *cfg, unsigned owners)
{
    unsigned i;

    memset(cfg, 0, sizeof(*cfg));
    cfg->speed_mbps = 10000;
    cfg->slot_octets = 512;
    cfg->schedule = TDM_EQUAL;
    cfg->owners = owners;
    for (i = 0; i < TDM_MAX_OWNERS; i++) {
        cfg->weight[i] = 1;
    }
}

const char *tdm_schedule_name(TdmSchedule s)
{
    switch (s) {
    case TDM_EQUAL:
        return "equal";
    case TDM_WEIGHTED:
        return "weighted";
    case TDM_ON_DEMAND:
        return "on-demand";
    }
    return "?";
}

uint32_t tdm_frame_octets(size_t len)
{
    if (len > TDM_MAX_FRAME) {
        len = TDM_MAX_FRAME;
    }
    return (len < TDM_MIN_FRAME ? TDM_MIN_FRAME : len) + TDM_FRAME_OVERHEAD;
}

/* The slots a frame of @cfg asks for: the weights' sum, or one each. */
static uint64_t tdm_asked(const TdmConfig *cfg)
{
    uint64_t sum = 0;
    unsigned i;

    if (cfg->schedule == TDM_EQUAL) {
        return cfg->owners;
    }
    for (i = 0; i < cfg->owners; i++) {
        sum += cfg->weight[i];
    }
    return sum;
}

bool tdm_config_check(const TdmConfig *cfg, char *err, size_t errlen)
{
    uint64_t asked;
    unsigned i;

    if (!cfg->owners || cfg->owners > TDM_MAX_OWNERS) {
        snprintf(err, errlen, "a bus has 1 to %d transceivers, not %u",
                 TDM_MAX_OWNERS, cfg->owners);
        return false;
    }
    if (!cfg->speed_mbps || cfg->speed_mbps > TDM_MAX_SPEED_MBPS) {
        snprintf(err, errlen, "the bus runs at 1 to %d Mb/s, not %u",
                 TDM_MAX_SPEED_MBPS, cfg->speed_mbps);
        return false;
    }
    if (!cfg->slot_octets) {
        snprintf(err, errlen, "slots of 0 octets make zero-length TDM "
                 "frames: a slot is %d to %d octets", TDM_MIN_SLOT_OCTETS,
                 TDM_MAX_SLOT_OCTETS);
        return false;
    }
    if (cfg->slot_octets < TDM_MIN_SLOT_OCTETS ||
        cfg->slot_octets > TDM_MAX_SLOT_OCTETS) {
        snprintf(err, errlen, "a slot is %d to %d octets, not %u",
                 TDM_MIN_SLOT_OCTETS, TDM_MAX_SLOT_OCTETS, cfg->slot_octets);
        return false;
    }
    if ((uint64_t)cfg->slot_octets * 8000 <
        (uint64_t)TDM_MIN_SLOT_NS * cfg->speed_mbps) {
        snprintf(err, errlen, "slots of %u octets at %u Mb/s last under "
                 "%d ns, the shortest the controller runs: at that rate, "
                 "slots of at least %llu octets", cfg->slot_octets,
                 cfg->speed_mbps, TDM_MIN_SLOT_NS,
                 (unsigned long long)(((uint64_t)TDM_MIN_SLOT_NS *
                                       cfg->speed_mbps + 7999) / 8000));
        return false;
    }
    if (cfg->schedule != TDM_EQUAL && cfg->schedule != TDM_WEIGHTED &&
        cfg->schedule != TDM_ON_DEMAND) {
        snprintf(err, errlen, "no schedule %d", (int)cfg->schedule);
        return false;
    }
    if (cfg->frame_slots > TDM_MAX_FRAME_SLOTS) {
        snprintf(err, errlen, "a TDM frame holds at most %d slots, not %u",
                 TDM_MAX_FRAME_SLOTS, cfg->frame_slots);
        return false;
    }
    for (i = 0; cfg->schedule == TDM_ON_DEMAND && i < cfg->owners; i++) {
        if (!cfg->weight[i]) {
            snprintf(err, errlen, "on demand, weights are shares (1 and "
                     "up): transceiver %u has 0", i);
            return false;
        }
    }
    asked = tdm_asked(cfg);
    if (!asked) {
        snprintf(err, errlen, "the weights sum to zero: no transceiver "
                 "would get a slot");
        return false;
    }
    /* a transceiver with no slot could never send what it queues */
    for (i = 0; cfg->schedule == TDM_WEIGHTED && i < cfg->owners; i++) {
        if (!cfg->weight[i]) {
            snprintf(err, errlen, "weighted, every transceiver needs a "
                     "slot (1 and up): transceiver %u has 0, and what it "
                     "queued would never cross", i);
            return false;
        }
    }
    if (asked > (cfg->frame_slots ? cfg->frame_slots : TDM_MAX_FRAME_SLOTS)) {
        snprintf(err, errlen, "%s: %llu slots asked for, more than the "
                 "frame holds (%u)", cfg->schedule == TDM_EQUAL ?
                 "one slot for each transceiver" : "the weights",
                 (unsigned long long)asked, cfg->frame_slots ?
                 cfg->frame_slots : TDM_MAX_FRAME_SLOTS);
        return false;
    }
    return true;
}

/* ---- time ---------------------------------------------------------------- */

/* Octets of bus time that have fully gone by at @t (ns). */
static uint64_t tdm_pos_of(const TdmBus *b, uint64_t t)
{
    uint64_t r = b->cfg.speed_mbps, d, q;

    if (t <= b->epoch_ns) {
        return 0;
    }
    d = t - b->epoch_ns;
    q = d / 8000;
    if (q >= TDM_POS_MAX / r) {
        return TDM_POS_MAX;
    }
    return MIN(q * r + (d % 8000) * r / 8000, TDM_POS_MAX);
}

/* The time at which octet @pos of bus time has gone by (ns, rounded up). */
static uint64_t tdm_time_of(const TdmBus *b, uint64_t pos)
{
    uint64_t r = b->cfg.speed_mbps, q = pos / r, ns;

    if (q > UINT64_MAX / 2 / 8000) {
        return TDM_NEVER;
    }
    ns = q * 8000 + ((pos % r) * 8000 + r - 1) / r;
    return ns > TDM_NEVER - b->epoch_ns ? TDM_NEVER : b->epoch_ns + ns;
}

double tdm_bus_octets_ns(const TdmBus *b, uint64_t octets)
{
    return (double)octets * 8000.0 / b->cfg.speed_mbps;
}

/* ---- the map ------------------------------------------------------------- */

/*
 * Lay the fixed map out: each owner's slots (and the slots no one holds)
 * spread evenly over the frame by smooth weighted round robin, so that a
 * transceiver waits about a frame over its count between slots.
 */
static bool tdm_build_map(TdmBus *b)
{
    const TdmConfig *cfg = &b->cfg;
    uint64_t asked = tdm_asked(cfg);
    uint32_t f = cfg->frame_slots ? cfg->frame_slots : (uint32_t)asked;
    int64_t cur[TDM_MAX_OWNERS + 1] = { 0 };
    uint32_t cnt[TDM_MAX_OWNERS + 1];
    unsigned n = cfg->owners, i, j;
    int16_t *map = malloc(f * sizeof(*map));

    if (!map) {
        return false;
    }
    for (i = 0; i < n; i++) {
        cnt[i] = cfg->schedule == TDM_EQUAL ? f / n : cfg->weight[i];
    }
    cnt[n] = f;
    for (i = 0; i < n; i++) {
        cnt[n] -= cnt[i];       /* held by no one */
    }
    for (j = 0; j < f; j++) {
        unsigned best = 0;

        for (i = 0; i <= n; i++) {
            cur[i] += cnt[i];
            if (cur[i] > cur[best]) {
                best = i;
            }
        }
        cur[best] -= f;
        map[j] = best == n ? TDM_NO_OWNER : (int16_t)best;
    }
    free(b->map);
    b->map = map;
    b->frame_slots = f;
    for (i = 0; i < n; i++) {
        b->count[i] = cfg->schedule == TDM_ON_DEMAND ? 0 : cnt[i];
        b->st[i].frame_slots = b->count[i];
    }
    b->total.frame_slots = f;
    return true;
}

int tdm_bus_map(const TdmBus *b, unsigned i)
{
    return i < b->frame_slots ? b->map[i] : TDM_NO_OWNER;
}

/* ---- queues -------------------------------------------------------------- */

static TdmDesc *tdm_head(TdmBus *b, unsigned o)
{
    TdmQueue *q = &b->q[o];

    return &q->d[q->head];
}

static int tdm_push(TdmQueue *q, uint32_t octets, uint64_t now)
{
    if (q->n == q->cap) {
        uint32_t cap = q->cap ? q->cap * 2 : 16, i;
        TdmDesc *d;

        if (q->n >= TDM_MAX_QUEUE) {
            return -ENOBUFS;
        }
        d = malloc(cap * sizeof(*d));
        if (!d) {
            return -ENOBUFS;
        }
        for (i = 0; i < q->n; i++) {
            d[i] = q->d[(q->head + i) % q->cap];
        }
        free(q->d);
        q->d = d;
        q->cap = cap;
        q->head = 0;
    }
    q->d[(q->head + q->n) % q->cap] = (TdmDesc) { now, octets };
    q->n++;
    q->octets += octets;
    return 0;
}

static void tdm_pop(TdmQueue *q)
{
    q->octets -= q->d[q->head].octets;
    q->head = (q->head + 1) % q->cap;
    q->n--;
}

/* ---- running the bus ----------------------------------------------------- */

/*
 * On demand: the slot goes to a transceiver with frames queued, by smooth
 * weighted round robin among them (exact shares among those that stay
 * busy); one with nothing queued banks no credit.
 */
static int tdm_pick(TdmBus *b, TdmRun *r)
{
    int64_t total = 0;
    int best = TDM_NO_OWNER;
    unsigned i;

    for (i = 0; i < b->cfg.owners; i++) {
        if (!b->q[i].n) {
            r->credit[i] = 0;
            continue;
        }
        r->credit[i] += b->cfg.weight[i];
        total += b->cfg.weight[i];
        if (best < 0 || r->credit[i] > r->credit[best]) {
            best = i;
        }
    }
    if (best >= 0) {
        r->credit[best] -= total;
    }
    return best;
}

static void tdm_open_slot(TdmBus *b, TdmRun *r, uint64_t k, bool dry)
{
    int o;

    if (b->cfg.schedule == TDM_ON_DEMAND) {
        o = tdm_pick(b, r);
    } else {
        o = b->map[(k - b->frame_base) % b->frame_slots];
    }
    r->slot_no = k;
    r->slot_open = true;
    r->slot_owner = o;
    r->slot_used = 0;
    if (!dry && o >= 0) {
        b->st[o].grants++;
    }
}

static void tdm_close_slot(TdmBus *b, TdmRun *r, bool dry)
{
    int o = r->slot_owner;

    r->slot_open = false;
    if (dry) {
        return;
    }
    b->total.slots++;
    if (o < 0) {
        b->total.idle_slots++;
    } else if (!r->slot_used) {
        b->st[o].wasted++;
    }
    if (b->ops.grant) {
        b->ops.grant(b->opaque, r->slot_no, o,
                     tdm_time_of(b, r->slot_no * b->cfg.slot_octets),
                     r->slot_used);
    }
}

/*
 * @n whole slots from slot @k with nothing queued anywhere: granted all
 * the same under a fixed map (and so wasted), counted without going
 * through them one by one.
 */
static void tdm_idle_slots(TdmBus *b, uint64_t k, uint64_t n)
{
    uint64_t full = n / b->frame_slots, rem = n % b->frame_slots, off, i;
    unsigned o;

    b->total.slots += n;
    if (b->cfg.schedule == TDM_ON_DEMAND) {
        b->total.idle_slots += n;
    } else {
        uint64_t held = 0;

        for (o = 0; o < b->cfg.owners; o++) {
            b->st[o].grants += full * b->count[o];
            b->st[o].wasted += full * b->count[o];
            held += b->count[o];
        }
        b->total.idle_slots += full * (b->frame_slots - held);
        off = (k - b->frame_base) % b->frame_slots;
        for (i = 0; i < rem; i++) {
            int m = b->map[(off + i) % b->frame_slots];

            if (m < 0) {
                b->total.idle_slots++;
            } else {
                b->st[m].grants++;
                b->st[m].wasted++;
            }
        }
    }
    if (b->ops.idle) {
        b->ops.idle(b->opaque, k, n);
    }
}

/* The oldest waiting utilization set: its owner. */
static int tdm_oldest_report(const TdmBus *b)
{
    int best = TDM_NO_OWNER;
    unsigned i;

    for (i = 0; i < b->cfg.owners; i++) {
        if (b->report_since[i] != TDM_NEVER &&
            (best < 0 || b->report_since[i] < b->report_since[best])) {
            best = i;
        }
    }
    return best;
}

static void tdm_report_done(TdmBus *b, int o, uint64_t pos, bool in_gap)
{
    uint64_t t = tdm_time_of(b, pos);
    uint64_t delay = t > b->report_since[o] ? t - b->report_since[o] : 0;

    b->report_since[o] = TDM_NEVER;
    b->reports_pending--;
    b->st[o].reports++;
    b->st[o].report_delay_ns += delay;
    if (in_gap) {
        b->total.reports_in_gaps++;
    } else {
        b->total.reports_in_idle++;
    }
    b->next_valid = false;
    if (b->ops.report_done) {
        b->ops.report_done(b->opaque, o, t, delay, in_gap);
    }
}

static void tdm_frame_done(TdmBus *b, TdmRun *r, unsigned o)
{
    TdmDesc d = *tdm_head(b, o);
    uint64_t t = tdm_time_of(b, r->pos);
    uint64_t delay = t > d.arrival_ns ? t - d.arrival_ns : 0;
    TdmOwnerStats *st = &b->st[o];
    int rep;

    tdm_pop(&b->q[o]);
    b->queued--;
    r->head_done[o] = 0;
    st->frames++;
    st->delay_ns += delay;
    if (delay > st->delay_max_ns) {
        st->delay_max_ns = delay;
    }
    b->next_valid = false;
    b->ops.frame_done(b->opaque, o, t, delay);
    /* the frame's gap, idle octets it paid for, carries one waiting set */
    rep = tdm_oldest_report(b);
    if (rep >= 0) {
        tdm_report_done(b, rep, r->pos, true);
    }
}

/*
 * Run the bus from r->pos to @target (octets).  Committed (@dry false):
 * frames and sets cross, slots are counted and traced.  @dry: on a
 * scratch copy, up to the first thing that would cross; returns its
 * position (TDM_NEVER: none before @target).
 */
static uint64_t tdm_run(TdmBus *b, TdmRun *r, uint64_t target, bool dry)
{
    const uint64_t s = b->cfg.slot_octets;

    for (;;) {
        uint64_t k, slot_end, end;
        int o;

        if (r->report_owner >= 0) {
            /* a set on the bus in idle octets: it crosses at its end */
            if (r->report_end > target) {
                return TDM_NEVER;
            }
            if (dry) {
                return r->report_end;
            }
            o = r->report_owner;
            r->report_owner = TDM_NO_OWNER;
            tdm_report_done(b, o, r->report_end, false);
        }
        if (r->pos >= target) {
            return TDM_NEVER;
        }
        k = r->pos / s;
        if (!r->slot_open) {
            if (!dry && !b->queued && !b->reports_pending && !(r->pos % s) &&
                target / s > k) {
                uint64_t n = target / s - k;

                tdm_idle_slots(b, k, n);
                r->pos = (k + n) * s;
                continue;
            }
            tdm_open_slot(b, r, k, dry);
        }
        slot_end = (r->slot_no + 1) * s;
        end = slot_end < target ? slot_end : target;
        o = r->slot_owner;
        if (o >= 0 && b->q[o].n) {
            uint64_t left = tdm_head(b, o)->octets - r->head_done[o];
            uint64_t take = left < end - r->pos ? left : end - r->pos;

            r->pos += take;
            r->head_done[o] += take;
            r->slot_used += take;
            if (!dry) {
                b->st[o].octets += take;
                b->total.busy_octets += take;
            }
            if (take == left) {
                if (dry) {
                    return r->pos;
                }
                tdm_frame_done(b, r, o);
            }
        } else if (b->reports_pending &&
                   slot_end - r->pos >= TDM_REPORT_OCTETS) {
            /* unused octets of the slot: the oldest set goes in them */
            r->report_owner = tdm_oldest_report(b);
            r->pos += TDM_REPORT_OCTETS;
            r->report_end = r->pos;
        } else {
            r->pos = end;
        }
        if (r->pos >= slot_end) {
            tdm_close_slot(b, r, dry);
        }
    }
}

void tdm_bus_advance(TdmBus *b, uint64_t now)
{
    uint64_t target;

    if (now < b->last_now) {
        now = b->last_now;
    }
    b->last_now = now;
    target = tdm_pos_of(b, now);
    tdm_run(b, &b->run, target, false);
    if (b->run.pos > b->total.elapsed_octets) {
        b->total.elapsed_octets = b->run.pos;
    }
}

/*
 * Whether some queued frame can ever cross under the fixed map: not if
 * every transceiver with frames has no slot in it.
 */
static bool tdm_frames_can_cross(const TdmBus *b)
{
    unsigned i;

    if (b->cfg.schedule == TDM_ON_DEMAND) {
        return b->queued > 0;
    }
    for (i = 0; i < b->cfg.owners; i++) {
        if (b->q[i].n && b->count[i]) {
            return true;
        }
    }
    return false;
}

uint64_t tdm_bus_next_event(TdmBus *b)
{
    uint64_t longest = 0, span, pos;
    TdmRun r;
    unsigned i, n = b->cfg.owners;

    if (b->next_valid) {
        return b->next_ns;
    }
    b->next_valid = true;
    b->next_ns = TDM_NEVER;
    if (!b->reports_pending && b->run.report_owner < 0 &&
        !tdm_frames_can_cross(b)) {
        return TDM_NEVER;
    }
    /* a scratch copy of what running changes (only the owners there are) */
    r.pos = b->run.pos;
    r.slot_no = b->run.slot_no;
    r.slot_open = b->run.slot_open;
    r.slot_owner = b->run.slot_owner;
    r.slot_used = b->run.slot_used;
    r.report_owner = b->run.report_owner;
    r.report_end = b->run.report_end;
    memcpy(r.credit, b->run.credit, n * sizeof(r.credit[0]));
    memcpy(r.head_done, b->run.head_done, n * sizeof(r.head_done[0]));
    /*
     * Every owner with frames and slots finishes its head within a frame
     * per slot it needs (on demand too: a frame's weights' worth of slots
     * serves every busy owner its weight), and a waiting set crosses in
     * the first gap or unused slot: so much bus time bounds the search.
     */
    for (i = 0; i < n; i++) {
        if (b->q[i].n && tdm_head(b, i)->octets > longest) {
            longest = tdm_head(b, i)->octets;
        }
    }
    span = ((longest + b->cfg.slot_octets - 1) / b->cfg.slot_octets + 2) *
           (uint64_t)b->frame_slots * b->cfg.slot_octets;
    pos = tdm_run(b, &r, MIN(r.pos + span, TDM_POS_MAX), true);
    b->next_ns = pos == TDM_NEVER ? TDM_NEVER : tdm_time_of(b, pos);
    return b->next_ns;
}

/* ---- the transceivers' side ---------------------------------------------- */

int tdm_bus_enqueue(TdmBus *b, unsigned owner, size_t len, uint64_t now)
{
    uint32_t octets = tdm_frame_octets(len);
    int r;

    if (owner >= b->cfg.owners) {
        return -EINVAL;
    }
    if (len > TDM_MAX_FRAME) {
        return -EMSGSIZE;
    }
    tdm_bus_advance(b, now);
    r = tdm_push(&b->q[owner], octets, b->last_now);
    if (r < 0) {
        return r;
    }
    b->queued++;
    /*
     * Behind a frame already waiting, nothing that crosses first changes;
     * a transceiver that had none may now cross first, or on demand take
     * slots from the others.
     */
    if (b->q[owner].n == 1) {
        b->next_valid = false;
    }
    return 0;
}

void tdm_bus_report(TdmBus *b, unsigned owner, uint64_t now)
{
    if (owner >= b->cfg.owners) {
        return;
    }
    tdm_bus_advance(b, now);
    if (b->report_since[owner] == TDM_NEVER) {
        b->report_since[owner] = b->last_now;
        /* the first waiting set may cross sooner than anything queued */
        if (!b->reports_pending++) {
            b->next_valid = false;
        }
    }
}

unsigned tdm_bus_purge(TdmBus *b, unsigned owner, uint64_t now)
{
    TdmQueue *q;
    unsigned n;

    if (owner >= b->cfg.owners) {
        return 0;
    }
    tdm_bus_advance(b, now);
    q = &b->q[owner];
    n = q->n;
    b->queued -= n;
    b->st[owner].dropped += n;
    q->n = q->head = 0;
    q->octets = 0;
    b->run.head_done[owner] = 0;
    if (b->report_since[owner] != TDM_NEVER &&
        b->run.report_owner != (int)owner) {
        b->report_since[owner] = TDM_NEVER;
        b->reports_pending--;
    }
    b->next_valid = false;
    return n;
}

/* ---- life cycle ---------------------------------------------------------- */

TdmBus *tdm_bus_new(const TdmConfig *cfg, const TdmOps *ops, void *opaque,
                    uint64_t now)
{
    char err[160];
    TdmBus *b;
    unsigned i;

    if (!ops || !ops->frame_done || !tdm_config_check(cfg, err, sizeof(err))) {
        return NULL;
    }
    b = calloc(1, sizeof(*b));
    if (!b) {
        return NULL;
    }
    b->cfg = *cfg;
    b->ops = *ops;
    b->opaque = opaque;
    b->epoch_ns = now;
    b->last_now = now;
    b->run.report_owner = TDM_NO_OWNER;
    for (i = 0; i < TDM_MAX_OWNERS; i++) {
        b->report_since[i] = TDM_NEVER;
    }
    if (!tdm_build_map(b)) {
        free(b);
        return NULL;
    }
    return b;
}

void tdm_bus_free(TdmBus *b)
{
    unsigned i;

    if (!b) {
        return;
    }
    for (i = 0; i < TDM_MAX_OWNERS; i++) {
        free(b->q[i].d);
    }
    free(b->map);
    free(b);
}

const TdmConfig *tdm_bus_config(const TdmBus *b)
{
    return &b->cfg;
}

bool tdm_bus_set_schedule(TdmBus *b, const TdmConfig *cfg, uint64_t now,
                          char *err, size_t errlen)
{
    TdmConfig old = b->cfg;
    unsigned i;

    if (!tdm_config_check(cfg, err, errlen)) {
        return false;
    }
    if (cfg->owners != b->cfg.owners || cfg->speed_mbps != b->cfg.speed_mbps ||
        cfg->slot_octets != b->cfg.slot_octets) {
        snprintf(err, errlen, "a new schedule keeps the bus's transceivers, "
                 "speed and slots");
        return false;
    }
    tdm_bus_advance(b, now);
    b->cfg = *cfg;
    if (!tdm_build_map(b)) {
        b->cfg = old;
        snprintf(err, errlen, "out of memory");
        return false;
    }
    /* the slot in progress keeps its owner; the new frame starts after */
    b->frame_base = b->run.slot_open ? b->run.slot_no + 1
                                     : b->run.pos / b->cfg.slot_octets;
    for (i = 0; i < TDM_MAX_OWNERS; i++) {
        b->run.credit[i] = 0;
    }
    b->total.schedule_changes++;
    b->next_valid = false;
    return true;
}

void tdm_bus_stats(const TdmBus *b, TdmStats *st)
{
    *st = b->total;
}

void tdm_bus_owner_stats(const TdmBus *b, unsigned owner, TdmOwnerStats *st)
{
    if (owner >= b->cfg.owners) {
        memset(st, 0, sizeof(*st));
        return;
    }
    *st = b->st[owner];
    st->queued = b->q[owner].n;
    st->queued_octets = b->q[owner].octets;
    st->report_waiting = b->report_since[owner] != TDM_NEVER;
}
