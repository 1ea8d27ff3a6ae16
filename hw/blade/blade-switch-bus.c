/*
 * bladeplane switch blade: the TDM bus backplane (fig. 4 of issue 19,
 * docs/backplane.md).  Every slot shares one time-division multiplexed
 * bus whose controller is in the switch blade: net/tdm-bus.h grants its
 * slots, this file holds the frames that wait for them.
 *
 * The lanes stay what joins the processes: a blade's NIC is its bus
 * transceiver, and what its lane brings waits in the slot's bus queue
 * for the slot's grants (full: the lane is not read, back-pressure to
 * the NIC).  Once across, a frame goes to the slot's ingress queue and
 * through the forwarding engine as on a chassis of lanes.  What the
 * switch sends to the blades from outside the bus (the uplink, chain
 * ports, its own answers) waits in its own transceiver's queue and
 * crosses in its slots, once for every blade it goes to: the bus is a
 * shared medium.  A frame from blade to blade crosses once, in the
 * sender's slots.  Utilization sets wait for spare bus capacity (a
 * frame's gap, or unused octets of a slot) before the balancer sees them.
 *
 * The bus runs on the chassis clock (QEMU_CLOCK_VIRTUAL): a timer at the
 * next crossing, in real and virtual time alike.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-blade.h"
#include "tdm-bus.h"
#include "blade-switch-internal.h"
#include "trace.h"

#define BSW_BUS_NAME_LEN 16

/* A frame from the switch to blades: one crossing reaches all in @mask. */
typedef struct BswBusOut {
    QSIMPLEQ_ENTRY(BswBusOut) next;
    BswFrame *f;
    uint64_t mask;              /* slots */
} BswBusOut;

struct BswBus {
    BladeSwitchState *s;
    TdmBus *tdm;
    unsigned owners;            /* the slots, then the switch's own */
    unsigned sw;                /* the switch's transceiver: owners - 1 */
    BswQueue *slot_q;           /* per slot: from its lane, for the bus */
    QSIMPLEQ_HEAD(, BswBusOut) sw_q;
    unsigned sw_frames;
    uint64_t sw_dropped;        /* the queue to the blades was full */
    /*
     * The entry the forwarding engine's current input made: its other
     * outputs to blades, unchanged, ride the same crossing (a flood).
     */
    BswBusOut *merge;
    LaneUtil *util;             /* per slot: the set waiting to cross */
    uint64_t *util_carried;
    QEMUTimer *timer;
    uint64_t timer_at;
    char (*names)[BSW_BUS_NAME_LEN];
};

/* ---- properties ---------------------------------------------------------- */

/* The bus's configuration from the properties (or a QMP command's). */
static bool bsw_bus_config(BladeSwitchState *s, TdmConfig *cfg,
                           BladeBusSchedule schedule, const uint32_t *w,
                           unsigned nw, uint32_t switch_weight,
                           uint32_t frame_slots, Error **errp)
{
    static const TdmSchedule sched[BLADE_BUS_SCHEDULE__MAX] = {
        [BLADE_BUS_SCHEDULE_EQUAL] = TDM_EQUAL,
        [BLADE_BUS_SCHEDULE_WEIGHTED] = TDM_WEIGHTED,
        [BLADE_BUS_SCHEDULE_ON_DEMAND] = TDM_ON_DEMAND,
    };
    char err[160];
    unsigned i;

    tdm_config_init(cfg, s->slots + 1);
    cfg->speed_mbps = s->bus_speed;
    cfg->slot_octets = s->bus_slot_bytes;
    cfg->frame_slots = frame_slots;
    cfg->schedule = sched[schedule];
    if (nw > s->slots) {
        error_setg(errp, "bus weights: %u of them for %u slots", nw,
                   s->slots);
        return false;
    }
    if (nw && schedule == BLADE_BUS_SCHEDULE_EQUAL) {
        error_setg(errp, "bus weights are for the weighted and on-demand "
                   "schedules, not equal");
        return false;
    }
    for (i = 0; i < s->slots; i++) {
        cfg->weight[i] = i < nw ? w[i] : 1;
    }
    cfg->weight[s->slots] = switch_weight;
    for (i = 0; i <= s->slots; i++) {
        if (cfg->weight[i] > TDM_MAX_FRAME_SLOTS) {
            error_setg(errp, "bus weights are 0 to %d, not %u",
                       TDM_MAX_FRAME_SLOTS, cfg->weight[i]);
            return false;
        }
    }
    for (i = 0; schedule == BLADE_BUS_SCHEDULE_ON_DEMAND && i <= s->slots;
         i++) {
        if (!cfg->weight[i]) {
            g_autofree char *who = i < s->slots ?
                g_strdup_printf("slot%u", i) : g_strdup("the switch");

            error_setg(errp, "bus weights: on demand a weight is a share, "
                       "1 and up: %s has 0", who);
            return false;
        }
    }
    if (!tdm_config_check(cfg, err, sizeof(err))) {
        error_setg(errp, "bus: %s", err);
        return false;
    }
    return true;
}

bool bsw_bus_check_props(BladeSwitchState *s, Error **errp)
{
    TdmConfig cfg;

    if (s->backplane_kind != BLADE_BACKPLANE_KIND_TDM_BUS) {
        if (s->nbus_weights || s->bus_speed != BSW_BUS_SPEED ||
            s->bus_slot_bytes != BSW_BUS_SLOT_BYTES || s->bus_frame_slots ||
            s->bus_schedule != BLADE_BUS_SCHEDULE_EQUAL ||
            s->bus_switch_weight != 1) {
            error_setg(errp, "blade-switch: bus-* properties are for "
                       "backplane-kind=tdm-bus");
            return false;
        }
        return true;
    }
    if (s->niothreads) {
        error_setg(errp, "blade-switch: backplane-kind=tdm-bus: the bus "
                   "runs in the main loop, where its controller sees every "
                   "slot's frames; no iothreads");
        return false;
    }
    if (!bsw_bus_config(s, &cfg, s->bus_schedule, s->bus_weights,
                        s->nbus_weights, s->bus_switch_weight,
                        s->bus_frame_slots, errp)) {
        error_prepend(errp, "blade-switch: ");
        return false;
    }
    return true;
}

/* ---- the bus's timer ----------------------------------------------------- */

static void bsw_bus_trace_schedule(BswBus *bus)
{
    TdmStats st;

    tdm_bus_stats(bus->tdm, &st);
    trace_blade_switch_bus_schedule(
        tdm_schedule_name(tdm_bus_config(bus->tdm)->schedule),
        st.frame_slots);
}

static const char *bsw_bus_name(BswBus *bus, int owner)
{
    return owner < 0 ? "-" : bus->names[owner];
}

static void bsw_bus_rearm(BswBus *bus)
{
    uint64_t t = tdm_bus_next_event(bus->tdm);

    if (t == bus->timer_at) {
        return;
    }
    bus->timer_at = t;
    if (t == TDM_NEVER) {
        timer_del(bus->timer);
    } else {
        timer_mod(bus->timer, MIN(t, INT64_MAX));
    }
}

static void bsw_bus_timer(void *opaque)
{
    BswBus *bus = opaque;

    bus->timer_at = TDM_NEVER;
    tdm_bus_advance(bus->tdm, blade_switch_now());
    bsw_bus_rearm(bus);
}

/* ---- what crosses -------------------------------------------------------- */

/* A switch frame across: to each blade it is for, as their egress. */
static void bsw_bus_deliver(BswBus *bus, BswBusOut *o)
{
    BladeSwitchState *s = bus->s;
    BswFrame *f = o->f;
    unsigned slot;

    if (bus->merge == o) {
        bus->merge = NULL;
    }
    for (slot = 0; slot < s->slots; slot++) {
        BswPort *p = &s->ports[slot];
        BswFrame *copy;

        if (!(o->mask >> slot & 1)) {
            continue;
        }
        if (!p->link || bsw_queue_full(&p->egress)) {
            p->tx_drops++;
            trace_blade_switch_drop(p->name, p->link ? "egress queue full"
                                                     : "link down", f->len);
            continue;
        }
        trace_blade_switch_forward(p->name, f->len);
        o->mask &= ~(UINT64_C(1) << slot);
        if (o->mask) {
            copy = bsw_frame_new(f->data, f->len);
            copy->has_fcs = f->has_fcs;
            copy->fcs = f->fcs;
        } else {
            copy = f;
            f = NULL;
        }
        bsw_queue_append(&p->egress, copy);
    }
    bsw_frame_free(f);
    g_free(o);
}

static void bsw_bus_frame_done(void *opaque, unsigned owner, uint64_t t_ns,
                               uint64_t delay_ns)
{
    BswBus *bus = opaque;
    BladeSwitchState *s = bus->s;

    trace_blade_switch_bus_frame(bus->names[owner], t_ns, delay_ns);
    if (owner == bus->sw) {
        BswBusOut *o = QSIMPLEQ_FIRST(&bus->sw_q);

        QSIMPLEQ_REMOVE_HEAD(&bus->sw_q, next);
        bus->sw_frames--;
        bsw_bus_deliver(bus, o);
    } else {
        /* across: to the engine, as a frame from a lane would go */
        bsw_queue_append(&s->ports[owner].ingress,
                         bsw_queue_take(&bus->slot_q[owner]));
    }
    bsw_schedule(s);
}

static void bsw_bus_report_done(void *opaque, unsigned owner, uint64_t t_ns,
                                uint64_t delay_ns, bool in_gap)
{
    BswBus *bus = opaque;

    trace_blade_switch_bus_util(owner, delay_ns, in_gap);
    if (owner < bus->sw) {
        bus->util_carried[owner]++;
        bsw_slot_report(&bus->s->ports[owner], &bus->util[owner]);
    }
}

static void bsw_bus_grant(void *opaque, uint64_t slot_no, int owner,
                          uint64_t t_ns, uint32_t octets)
{
    BswBus *bus = opaque;

    trace_blade_switch_bus_grant(slot_no, bsw_bus_name(bus, owner), t_ns,
                                 octets);
}

static void bsw_bus_idle(void *opaque, uint64_t slot_no, uint64_t slots)
{
    trace_blade_switch_bus_idle(slot_no, slots);
}

static const TdmOps bsw_bus_ops = {
    .frame_done = bsw_bus_frame_done,
    .report_done = bsw_bus_report_done,
    .grant = bsw_bus_grant,
    .idle = bsw_bus_idle,
};

/* ---- what waits for the bus ---------------------------------------------- */

/*
 * The slot's frames waiting for the bus and those that crossed and wait
 * for the engine share the ingress queue's bound: its lane is not read
 * while they fill it.  A frame that crosses moves from one queue to the
 * other, so ingress never holds more than its bound.
 */
bool bsw_bus_full(BswPort *p)
{
    BswBus *bus = p->s->bus;
    const BswQueue *q;

    if (!bus || p->kind != SW_PORT_SLOT) {
        return false;
    }
    q = &bus->slot_q[p->slot];
    return q->frames + p->ingress.frames >= p->ingress.limit ||
           q->octets + p->ingress.octets >= p->ingress.octet_limit;
}

/* A frame from a slot's lane: it waits for the slot's grants. */
bool bsw_bus_from_slot(BswPort *p, BswFrame *f)
{
    BswBus *bus = p->s->bus;

    if (!bus || p->kind != SW_PORT_SLOT) {
        return false;
    }
    if (tdm_bus_enqueue(bus->tdm, p->slot, f->len, blade_switch_now()) < 0) {
        p->rx_errors++;
        trace_blade_switch_drop(p->name, "bus queue refused it", f->len);
        bsw_frame_free(f);
        return true;
    }
    bsw_queue_append(&bus->slot_q[p->slot], f);
    bsw_bus_rearm(bus);
    return true;
}

/*
 * An output of the engine to blade @p from outside the bus (an input not
 * from a slot, or the switch's own): it crosses in the switch's slots.
 * False: not the bus's to carry.
 */
bool bsw_bus_output(BladeSwitchState *s, BswPort *p, const uint8_t *frame,
                    size_t len)
{
    BswBus *bus = s->bus;
    bool same = frame == s->in_data && len == s->in_len &&
                !swcore_frame_rewritten(s->core);
    BswBusOut *o;

    if (!bus || p->kind != SW_PORT_SLOT ||
        (s->in_port && s->in_port->kind == SW_PORT_SLOT)) {
        return false;
    }
    if (same && bus->merge && bus->merge->f->data == s->in_data) {
        bus->merge->mask |= UINT64_C(1) << p->slot;
        return true;
    }
    if (bus->sw_frames >= s->queue_frames ||
        tdm_bus_enqueue(bus->tdm, bus->sw, len, blade_switch_now()) < 0) {
        bus->sw_dropped++;
        p->tx_drops++;
        trace_blade_switch_drop(p->name, "bus queue to the blades full", len);
        return true;
    }
    o = g_new(BswBusOut, 1);
    o->f = bsw_output_frame(s, frame, len);
    o->mask = UINT64_C(1) << p->slot;
    QSIMPLEQ_INSERT_TAIL(&bus->sw_q, o, next);
    bus->sw_frames++;
    /* only the input's own frame: its octets stay put while it waits */
    bus->merge = same && o->f->data == s->in_data ? o : NULL;
    bsw_bus_rearm(bus);
    return true;
}

/* A blade's fresh utilization set: to the balancer once it crossed. */
bool bsw_bus_util(BswPort *p, const LaneUtil *u)
{
    BswBus *bus = p->s->bus;

    if (!bus || p->kind != SW_PORT_SLOT) {
        return false;
    }
    bus->util[p->slot] = *u;
    tdm_bus_report(bus->tdm, p->slot, blade_switch_now());
    bsw_bus_rearm(bus);
    return true;
}

/* The slot's blade is gone: so are its transceiver's frames. */
void bsw_bus_port_down(BswPort *p)
{
    BswBus *bus = p->s->bus;
    unsigned n;

    if (!bus || p->kind != SW_PORT_SLOT) {
        return;
    }
    n = tdm_bus_purge(bus->tdm, p->slot, blade_switch_now());
    g_assert(n == bus->slot_q[p->slot].frames);
    bsw_queue_purge(&bus->slot_q[p->slot]);
    bsw_bus_rearm(bus);
}

/* ---- life cycle ---------------------------------------------------------- */

bool bsw_bus_open(BladeSwitchState *s, Error **errp)
{
    BswBus *bus;
    TdmConfig cfg;
    unsigned i;

    if (!bsw_bus_config(s, &cfg, s->bus_schedule, s->bus_weights,
                        s->nbus_weights, s->bus_switch_weight,
                        s->bus_frame_slots, errp)) {
        return false;
    }
    bus = g_new0(BswBus, 1);
    bus->s = s;
    bus->owners = s->slots + 1;
    bus->sw = s->slots;
    bus->tdm = tdm_bus_new(&cfg, &bsw_bus_ops, bus, blade_switch_now());
    if (!bus->tdm) {
        g_free(bus);
        error_setg(errp, "blade-switch: cannot make the bus");
        return false;
    }
    bus->slot_q = g_new0(BswQueue, s->slots);
    bus->util = g_new0(LaneUtil, s->slots);
    bus->util_carried = g_new0(uint64_t, s->slots);
    bus->names = g_malloc0(bus->owners * BSW_BUS_NAME_LEN);
    for (i = 0; i < s->slots; i++) {
        /* bounded with the slot's ingress queue: bsw_bus_full() */
        bsw_queue_init(&bus->slot_q[i], BSW_INGRESS_FRAMES,
                       BSW_INGRESS_OCTETS);
        snprintf(bus->names[i], BSW_BUS_NAME_LEN, "slot%u", i);
    }
    pstrcpy(bus->names[bus->sw], BSW_BUS_NAME_LEN, "switch");
    QSIMPLEQ_INIT(&bus->sw_q);
    bus->timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, bsw_bus_timer, bus);
    bus->timer_at = TDM_NEVER;
    s->bus = bus;
    bsw_bus_trace_schedule(bus);
    return true;
}

void bsw_bus_free(BladeSwitchState *s)
{
    BswBus *bus = s->bus;
    BswBusOut *o;
    unsigned i;

    if (!bus) {
        return;
    }
    s->bus = NULL;
    while ((o = QSIMPLEQ_FIRST(&bus->sw_q))) {
        QSIMPLEQ_REMOVE_HEAD(&bus->sw_q, next);
        bsw_frame_free(o->f);
        g_free(o);
    }
    for (i = 0; i < s->slots; i++) {
        bsw_queue_purge(&bus->slot_q[i]);
    }
    timer_free(bus->timer);
    tdm_bus_free(bus->tdm);
    g_free(bus->slot_q);
    g_free(bus->util);
    g_free(bus->util_carried);
    g_free(bus->names);
    g_free(bus);
}

/* ---- management ---------------------------------------------------------- */

static BladeBusSchedule bsw_bus_schedule(TdmSchedule t)
{
    return t == TDM_WEIGHTED ? BLADE_BUS_SCHEDULE_WEIGHTED :
           t == TDM_ON_DEMAND ? BLADE_BUS_SCHEDULE_ON_DEMAND :
                                BLADE_BUS_SCHEDULE_EQUAL;
}

BladeBusInfo *bsw_bus_info(BladeSwitchState *s)
{
    BswBus *bus = s->bus;
    BladeBusInfo *info;
    BladeBusTransceiverInfoList **tail;
    const TdmConfig *cfg;
    uint64_t all = 0;
    TdmStats st;
    unsigned i;

    if (!bus) {
        return NULL;
    }
    /* the figures as of now, not of the last crossing */
    tdm_bus_advance(bus->tdm, blade_switch_now());
    bsw_bus_rearm(bus);
    cfg = tdm_bus_config(bus->tdm);
    tdm_bus_stats(bus->tdm, &st);
    info = g_new0(BladeBusInfo, 1);
    info->speed_mbps = cfg->speed_mbps;
    info->schedule = bsw_bus_schedule(cfg->schedule);
    info->slot_bytes = cfg->slot_octets;
    info->slot_ns = tdm_bus_octets_ns(bus->tdm, cfg->slot_octets);
    info->frame_slots = st.frame_slots;
    info->elapsed_ns = tdm_bus_octets_ns(bus->tdm, st.elapsed_octets);
    info->busy_ns = tdm_bus_octets_ns(bus->tdm, st.busy_octets);
    info->utilization = st.elapsed_octets ?
        (double)st.busy_octets / st.elapsed_octets : 0;
    info->slots = st.slots;
    info->idle_slots = st.idle_slots;
    info->util_in_gaps = st.reports_in_gaps;
    info->util_in_idle = st.reports_in_idle;
    info->schedule_changes = st.schedule_changes;
    for (i = 0; i < bus->owners; i++) {
        TdmOwnerStats os;

        tdm_bus_owner_stats(bus->tdm, i, &os);
        all += os.octets;
    }
    tail = &info->transceivers;
    for (i = 0; i < bus->owners; i++) {
        BladeBusTransceiverInfo *t = g_new0(BladeBusTransceiverInfo, 1);
        TdmOwnerStats os;

        tdm_bus_owner_stats(bus->tdm, i, &os);
        t->name = g_strdup(bus->names[i]);
        if (i < bus->sw) {
            t->has_slot = true;
            t->slot = i;
            t->util_carried = bus->util_carried[i];
        }
        t->weight = cfg->schedule == TDM_EQUAL ? 1 : cfg->weight[i];
        t->frame_slots = os.frame_slots;
        t->grants = os.grants;
        t->wasted = os.wasted;
        t->bytes = os.octets;
        t->frames = os.frames;
        t->share = all ? (double)os.octets / all : 0;
        t->queue = os.queued;
        t->queue_bytes = os.queued_octets;
        t->delay_ns = os.delay_ns;
        t->delay_max_ns = os.delay_max_ns;
        t->dropped = os.dropped + (i == bus->sw ? bus->sw_dropped : 0);
        t->util_waiting = os.report_waiting;
        QAPI_LIST_APPEND(tail, t);
    }
    return info;
}

void bsw_bus_hmp(Monitor *mon, const BladeBusInfo *bus)
{
    BladeBusTransceiverInfoList *l;

    monitor_printf(mon, "\nTDM bus: %" PRIu32 " Mb/s, %s, %" PRIu32
                   " slots of %" PRIu32 " octets a frame, utilization "
                   "%.1f%%\n", bus->speed_mbps,
                   BladeBusSchedule_str(bus->schedule), bus->frame_slots,
                   bus->slot_bytes, bus->utilization * 100);
    monitor_printf(mon, "%-8s %6s %12s %10s %14s %8s %6s %10s\n",
                   "xcvr", "weight", "grants", "wasted", "bytes", "share",
                   "queue", "mean us");
    for (l = bus->transceivers; l; l = l->next) {
        BladeBusTransceiverInfo *t = l->value;

        monitor_printf(mon, "%-8s %6" PRIu32 " %12" PRIu64 " %10" PRIu64
                       " %14" PRIu64 " %7.1f%% %6" PRIu32 " %10.1f\n",
                       t->name, t->weight, t->grants, t->wasted, t->bytes,
                       t->share * 100, t->queue,
                       t->frames ? t->delay_ns / 1000.0 / t->frames : 0);
    }
}

void qmp_blade_switch_set_bus_schedule(const char *sw,
                                       BladeBusSchedule schedule,
                                       bool has_weights, uint32List *weights,
                                       bool has_switch_weight,
                                       uint32_t switch_weight,
                                       bool has_frame_slots,
                                       uint32_t frame_slots, Error **errp)
{
    BladeSwitchState *s = blade_switch_find(sw, errp);
    g_autofree uint32_t *w = NULL;
    unsigned nw = 0;
    uint32List *l;
    TdmConfig cfg;
    char err[160];

    if (!s) {
        return;
    }
    if (!s->bus) {
        error_setg(errp, "the switch's backplane is lanes, not a bus");
        return;
    }
    for (l = weights; l; l = l->next) {
        if (nw == s->slots) {
            error_setg(errp, "bus weights: more of them than the %u slots",
                       s->slots);
            return;
        }
        w = g_renew(uint32_t, w, nw + 1);
        w[nw++] = l->value;
    }
    if (has_frame_slots && !frame_slots) {
        error_setg(errp, "a TDM frame of 0 slots has zero length");
        return;
    }
    if (!bsw_bus_config(s, &cfg, schedule, w, nw,
                        has_switch_weight ? switch_weight : 1,
                        has_frame_slots ? frame_slots : 0, errp)) {
        return;
    }
    if (!tdm_bus_set_schedule(s->bus->tdm, &cfg, blade_switch_now(), err,
                              sizeof(err))) {
        error_setg(errp, "bus: %s", err);
        return;
    }
    bsw_bus_trace_schedule(s->bus);
    bsw_bus_rearm(s->bus);
}
