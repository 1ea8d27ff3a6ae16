/*
 * bladeplane switch blade: its ports.  Bounded queues; the slots' lanes
 * and the netdev ports (uplink, chain); the forwarding engine's
 * callbacks; the bottom half that serves the ingress queues in deficit
 * round robin into the engine, and from it into the egress queues.
 * blade-switch-internal.h has the layout of the device's files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include <sys/un.h>
#include "pcs-tx.h"
#include "blade-switch-internal.h"
#include "trace.h"

#define BSW_QUANTUM         1522        /* DRR: octets per port per round */
#define BSW_BH_BUDGET       512     /* frames a bottom-half run: one ingress */
#define BSW_FORWARD_NOW     2           /* see bsw_lane_changed() */
/* Per-frame overhead on the wire: preamble, SFD, FCS, inter-frame gap. */
#define BSW_WIRE_OVERHEAD   24

/* ---- queues -------------------------------------------------------------- */

void bsw_queue_init(BswQueue *q, unsigned limit, size_t octet_limit)
{
    QSIMPLEQ_INIT(&q->head);
    q->frames = 0;
    q->limit = limit;
    q->octets = 0;
    q->octet_limit = octet_limit;
}

bool bsw_queue_full(const BswQueue *q)
{
    return q->frames >= q->limit ||
           (q->octet_limit && q->octets >= q->octet_limit);
}

void bsw_queue_append(BswQueue *q, BswFrame *f)
{
    QSIMPLEQ_INSERT_TAIL(&q->head, f, next);
    q->frames++;
    q->octets += f->len;
}

/*
 * Every item (frames, and the threads' notes) is made here.  Frames of up
 * to BSW_CACHED_LEN octets are made with room for that many, and freed
 * ones are kept, per thread, for the next: a frame is made and
 * freed for every hop, and malloc() and free() were 6 % of the switch's
 * time at 5 Mpps of small frames (docs/performance.md, "Issue 15's
 * targets on a Zen 4 host").  A port's ingress holds up to 512 before any
 * is freed, more than glibc's per-thread cache keeps of one size.
 * A frame's length never grows, so one of at most BSW_CACHED_LEN octets
 * always has that room.
 */
#define BSW_CACHED_LEN      256
#define BSW_CACHED_FRAMES   BSW_BH_BUDGET

typedef struct BswFrameCache {
    QSLIST_HEAD(, BswFrame) frames;
    unsigned count;
    bool hooked;                /* exit_notifier is on the thread's list */
    Notifier exit_notifier;
} BswFrameCache;

static __thread BswFrameCache bsw_frame_cache;

static void bsw_frame_cache_drop(Notifier *n, void *unused)
{
    BswFrameCache *c = container_of(n, BswFrameCache, exit_notifier);
    BswFrame *f;

    while ((f = QSLIST_FIRST(&c->frames))) {
        QSLIST_REMOVE_HEAD(&c->frames, xnext);
        g_free(f);
    }
    c->count = 0;
}

void bsw_frame_free(BswFrame *f)
{
    BswFrameCache *c = &bsw_frame_cache;

    if (!f) {
        return;
    }
    if (f->len > BSW_CACHED_LEN || c->count >= BSW_CACHED_FRAMES) {
        g_free(f);
        return;
    }
    if (!c->hooked) {
        c->exit_notifier.notify = bsw_frame_cache_drop;
        qemu_thread_atexit_add(&c->exit_notifier);
        c->hooked = true;
    }
    QSLIST_INSERT_HEAD(&c->frames, f, xnext);
    c->count++;
}

BswFrame *bsw_frame_new(const uint8_t *data, size_t len)
{
    BswFrameCache *c = &bsw_frame_cache;
    BswFrame *f;

    if (len <= BSW_CACHED_LEN && c->count) {
        f = QSLIST_FIRST(&c->frames);
        QSLIST_REMOVE_HEAD(&c->frames, xnext);
        c->count--;
    } else {
        f = g_malloc(sizeof(*f) + MAX(len, BSW_CACHED_LEN));
    }
    f->kind = BSW_ITEM_FRAME;
    f->link = 0;
    f->len = len;
    f->has_fcs = false;
    if (len) {
        memcpy(f->data, data, len);
    }
    return f;
}

/* A note between threads: not a frame, so no octets to count (len 0). */
BswFrame *bsw_note_new(BswItemKind kind, const void *data, size_t len)
{
    BswFrame *f = bsw_frame_new(data, len);

    f->kind = kind;
    f->len = 0;
    return f;
}

static BswFrame *bsw_queue_push(BswQueue *q, const uint8_t *data, size_t len)
{
    BswFrame *f = bsw_frame_new(data, len);

    bsw_queue_append(q, f);
    return f;
}

BswFrame *bsw_queue_peek(BswQueue *q)
{
    return QSIMPLEQ_FIRST(&q->head);
}

/* The first frame, out of the queue: the caller's to free. */
BswFrame *bsw_queue_take(BswQueue *q)
{
    BswFrame *f = QSIMPLEQ_FIRST(&q->head);

    QSIMPLEQ_REMOVE_HEAD(&q->head, next);
    q->frames--;
    q->octets -= f->len;
    return f;
}

void bsw_queue_pop(BswQueue *q)
{
    bsw_frame_free(bsw_queue_take(q));
}

void bsw_queue_purge(BswQueue *q)
{
    while (q->frames) {
        bsw_queue_pop(q);
    }
}

/* ---- the forwarding engine's callbacks ----------------------------------- */

/*
 * qemu_bh_schedule() notifies the AioContext on every call, and that is
 * an eventfd write whenever the main loop found work ready before it
 * polled, as it does under load: a frame forwarded or received would
 * cost a syscall.  So the BH is scheduled once until it runs, and a
 * request while it runs schedules it once when it returns.
 */
void bsw_schedule(BladeSwitchState *s)
{
    if (s->vtime) {
        /* at this virtual time, not after the clock moved on */
        timer_mod(s->vtime_fwd_timer, blade_switch_now());
    } else if (s->in_bh) {
        s->bh_again = true;
    } else if (!s->bh_pending) {
        s->bh_pending = true;
        qemu_bh_schedule(s->bh);
    }
}

/*
 * An output of the engine as a frame to queue: the ingress frame itself
 * for its first output, else a copy; unchanged, it keeps its FCS.
 */
BswFrame *bsw_output_frame(BladeSwitchState *s, const uint8_t *frame,
                           size_t len)
{
    bool same = frame == s->in_data && len == s->in_len;
    BswFrame *f;

    if (same && s->in_frame) {
        f = s->in_frame;
        s->in_frame = NULL;
    } else {
        f = bsw_frame_new(frame, len);
    }
    f->has_fcs = same && s->in_has_fcs && !swcore_frame_rewritten(s->core);
    f->fcs = s->in_fcs;
    return f;
}

static void bsw_core_output(void *opaque, unsigned port, const uint8_t *frame,
                            size_t len)
{
    BladeSwitchState *s = opaque;
    BswPort *p = &s->ports[port];
    BswFrame *f;

    if (bsw_bus_output(s, p, frame, len)) {
        return;     /* to a blade over the bus, from the switch's slots */
    }
    if (p->th ? bsw_thread_queued(p) >= s->queue_frames :
                bsw_queue_full(&p->egress)) {
        p->tx_drops++;
        trace_blade_switch_drop(p->name, "egress queue full", len);
        return;
    }
    trace_blade_switch_forward(p->name, len);
    f = bsw_output_frame(s, frame, len);
    if (p->th) {
        bsw_thread_output(p, f);
        return;
    }
    bsw_queue_append(&p->egress, f);
    if (!s->in_bh || s->vtime) {
        /*
         * In the BH, its egress loop after forwarding sends this: asking
         * for another run would cost every frame a main-loop iteration.
         */
        bsw_schedule(s);
    }
}

static void bsw_core_blade_state(void *opaque, unsigned slot, bool in,
                                 const char *reason)
{
    BladeSwitchState *s = opaque;

    trace_blade_switch_blade(slot, in, reason);
    /* Blades of other chassis are their own chassis's to announce. */
    if (slot < SW_MAX_BLADES) {
        BswBladeEvent *e = &s->blade_events[slot];

        e->in_rotation = in;
        pstrcpy(e->reason, sizeof(e->reason), reason);
        if (bsw_event_pass(s, &e->gate)) {
            bsw_send_blade(s, slot);
        } else {
            trace_blade_switch_blade_event_held(slot);
        }
    }
}

static void bsw_core_decision(void *opaque, const SwDecision *d)
{
    trace_blade_switch_decision(d->rule, d->blade, bsw_policy_name(d->policy),
                                d->moved, d->cpu_pct, d->irq_pct,
                                d->report_age_ns / SCALE_US, d->score,
                                d->active);
}

static void bsw_core_fabric_frame(void *opaque, unsigned port,
                                  const uint8_t *frame, size_t len)
{
    BladeSwitchState *s = opaque;
    BswPort *p = &s->ports[port];

    if (p->fab_port < 0 || !s->fabric) {
        /* Only chain ports speak the control protocol: no blade may. */
        p->ctrl_refused++;
        trace_blade_switch_drop(p->name, "control frame on a non-chain port",
                                len);
        return;
    }
    fab_input(s->fabric, p->fab_port, frame, len, blade_switch_now());
    bsw_fabric_rearm(s);
}

const SwOps bsw_core_ops = {
    .output = bsw_core_output,
    .blade_state = bsw_core_blade_state,
    .decision = bsw_core_decision,
    .fabric_frame = bsw_core_fabric_frame,
};

void bsw_core_rearm(BladeSwitchState *s)
{
    uint64_t dl = swcore_deadline(s->core);

    if (dl == s->core_timer_at) {
        return;
    }
    s->core_timer_at = dl;
    if (dl == UINT64_MAX) {
        timer_del(s->core_timer);
    } else {
        timer_mod(s->core_timer, MIN(dl, INT64_MAX));
    }
}

void bsw_core_timer(void *opaque)
{
    BladeSwitchState *s = opaque;

    s->core_timer_at = UINT64_MAX;
    swcore_tick(s->core, blade_switch_now());
    bsw_core_rearm(s);
    bsw_schedule(s);
}

void blade_switch_changed(BladeSwitchState *s)
{
    bsw_core_rearm(s);
    bsw_schedule(s);
}

/* ---- port link ----------------------------------------------------------- */

void bsw_port_update_link(BswPort *p)
{
    BladeSwitchState *s = p->s;
    bool connected, sync, up;

    if (p->th) {
        /* as the lane thread last said */
        unsigned state = p->th->link;

        connected = state & BSW_LINK_CONNECTED;
        sync = state & BSW_LINK_SYNC;
        up = state & BSW_LINK_UP;
    } else if (p->lane) {
        connected = lane_is_connected(p->lane);
        sync = lane_is_sync_ok(p->lane);
        up = lane_is_link_up(p->lane) && sync;
    } else {
        NetClientState *nc = qemu_get_queue(p->nic);

        up = nc->peer && !nc->link_down && !nc->peer->link_down;
        connected = up;
        sync = up;
    }
    if (up == p->link && connected == p->connected && sync == p->sync) {
        return;
    }
    p->connected = connected;
    p->sync = sync;
    trace_blade_switch_port_link(p->name, up, connected, sync);
    if (bsw_event_pass(s, &p->link_gate)) {
        bsw_send_port_link(s, p, up);
    } else {
        trace_blade_switch_link_event_held(p->name);
    }
    if (up != p->link) {
        p->link = up;
        swcore_port_link(s->core, p->index, up, blade_switch_now());
        if (p->fab_port >= 0 && s->fabric) {
            fab_port_link(s->fabric, p->fab_port, up, blade_switch_now());
            bsw_fabric_rearm(s);
        }
        if (!up) {
            /*
             * What waits for a port that went down is stale: drop it.  (A
             * lane thread drops its own: the lane refuses them.)
             */
            p->tx_drops += p->egress.frames + p->control.frames;
            bsw_queue_purge(&p->egress);
            bsw_queue_purge(&p->control);
            bsw_bus_port_down(p);
        }
        bsw_core_rearm(s);
    }
}

/* ---- slots: lanes -------------------------------------------------------- */

/* After any call into a lane: follow its link (blade-lane its I/O). */
void bsw_lane_sync(BswPort *p)
{
    if (p->in_lane) {
        return;
    }
    bsw_port_update_link(p);
}

/* blade-lane did lane work of its own (input, timers, output, events). */
static void bsw_lane_changed(void *opaque)
{
    BswPort *p = opaque;
    BladeSwitchState *s = p->s;

    bsw_symbols_flush(p);
    bsw_lane_sync(p);
    bsw_vtime_kick(s);          /* a promise or a stamp may have come */
    if (s->bh_pending && !s->in_bh && p->ingress.frames &&
        p->ingress.frames <= BSW_FORWARD_NOW) {
        /*
         * A frame or two, as a request or its answer: on now, not a
         * main-loop iteration later.  More wait for the BH, which takes
         * them with the other ports' in one run.
         */
        qemu_bh_cancel(s->bh);
        bsw_bh(s);
    }
}

static void bsw_lane_rx_frame(void *opaque, const uint8_t *frame, size_t len)
{
    BswPort *p = opaque;
    BswFrame *f;

    /* can_receive() keeps the queues from overflowing. */
    f = bsw_frame_new(frame, len);
    f->has_fcs = lane_rx_fcs(p->lane, &f->fcs);
    bsw_capture(p, frame, len);
    if (bsw_bus_from_slot(p, f)) {
        return;     /* it waits for the slot's grants on the bus */
    }
    bsw_queue_append(&p->ingress, f);
    bsw_schedule(p->s);
}

static bool bsw_lane_can_receive(void *opaque)
{
    BswPort *p = opaque;

    return !bsw_queue_full(&p->ingress) && !bsw_bus_full(p);
}

static void bsw_lane_rx_util(void *opaque, const LaneUtil *u)
{
    BswPort *p = opaque;

    bsw_log_util(p, u);
    /* a chain port's peer is a chassis: it reports no load of its own */
    if (u->fresh && p->kind == SW_PORT_SLOT && !bsw_bus_util(p, u)) {
        bsw_slot_report(p, u);
    }
}

/* A fresh utilization report of the slot's blade, to the balancer. */
void bsw_slot_report(BswPort *p, const LaneUtil *u)
{
    trace_blade_switch_util(p->slot, u->cpu_pct, u->irq_pct, u->seq);
    if (u->has_contention) {
        trace_blade_switch_util_contention(p->slot, u->psi_permille,
                                           u->runnable);
        swcore_blade_report_contention(p->s->core, p->slot, u->cpu_pct,
                                       u->irq_pct, u->psi_permille,
                                       u->runnable, blade_switch_now());
    } else {
        swcore_blade_report(p->s->core, p->slot, u->cpu_pct, u->irq_pct,
                            blade_switch_now());
    }
    bsw_core_rearm(p->s);
}

static void bsw_lane_event(void *opaque, LaneEvent ev)
{
    BswPort *p = opaque;

    trace_blade_switch_lane_event(p->name, ev);
    bsw_symbols_event(p, ev);
}

static void bsw_egress_kick(BswPort *p);

static void bsw_lane_tx_ready(void *opaque)
{
    bsw_egress_kick(opaque);
}

static const LaneOps bsw_lane_ops = {
    .rx_frame = bsw_lane_rx_frame,
    .can_receive = bsw_lane_can_receive,
    .rx_util = bsw_lane_rx_util,
    .event = bsw_lane_event,
    .tx_ready = bsw_lane_tx_ready,
};

/* ---- netdev ports -------------------------------------------------------- */

/*
 * A netdev port takes every frame, and drops it when its ingress queue is
 * full, as a switch's full ingress buffer does.  It never says "later":
 * QEMU's net layer would then hold the sender's frames itself, and for
 * the stream and socket backends (chain links, a test's uplink) with no
 * bound (net/queue.c appends without a limit when the sender passed a
 * completion callback, and the backend reads on after each one), so a
 * peer flooding faster than the switch forwards could grow this process
 * without limit.
 */
static ssize_t bsw_nic_receive(NetClientState *nc, const uint8_t *buf,
                               size_t size)
{
    BswPort *p = qemu_get_nic_opaque(nc);

    if (bsw_queue_full(&p->ingress)) {
        p->rx_overflow++;
        return size;
    }
    bsw_queue_push(&p->ingress, buf, size);
    bsw_capture(p, buf, size);
    bsw_schedule(p->s);
    return size;
}

static void bsw_nic_link_changed(NetClientState *nc)
{
    bsw_port_update_link(qemu_get_nic_opaque(nc));
}

static NetClientInfo bsw_nic_info = {
    .type = NET_CLIENT_DRIVER_NIC,
    .size = sizeof(NICState),
    .receive = bsw_nic_receive,
    .link_status_changed = bsw_nic_link_changed,
};

static void bsw_nic_sent(NetClientState *nc, ssize_t len)
{
    BswPort *p = qemu_get_nic_opaque(nc);

    p->tx_busy = false;
    bsw_egress_kick(p);
}

static void bsw_pace_timer(void *opaque)
{
    bsw_egress_kick(opaque);
}

/*
 * Netdev ports: stream and socket netdevs mark their own link down when
 * the far end goes away, without telling us: look every period.
 */
void bsw_poll_timer(void *opaque)
{
    BladeSwitchState *s = opaque;
    unsigned i;

    for (i = 0; i < s->nports; i++) {
        if (s->ports[i].nic) {
            bsw_port_update_link(&s->ports[i]);
        }
    }
    timer_mod(s->poll_timer, blade_switch_now() + BSW_POLL_NS);
}

/* ---- egress -------------------------------------------------------------- */

static void bsw_egress_lane(BswPort *p)
{
    int64_t now = blade_switch_now();
    bool sent = false;
    BswFrame *f;

    for (;;) {
        /* a chain port's control frames first, as on a netdev */
        BswQueue *q = p->control.frames ? &p->control : &p->egress;
        int r;

        f = bsw_queue_peek(q);
        if (!f) {
            break;
        }
        /* a frame forwarded unchanged keeps its FCS: not computed again */
        r = f->has_fcs ?
            lane_send_frame_fcs(p->lane, f->data, f->len, f->fcs, now) :
            lane_send_frame(p->lane, f->data, f->len, now);

        if (r == -EAGAIN) {
            break;      /* tx_ready() resumes */
        }
        if (r < 0) {
            p->tx_drops++;
            trace_blade_switch_drop(p->name, "lane refused", f->len);
        } else {
            bsw_capture(p, f->data, f->len);
            sent = true;
            if (p->s->vtime) {
                blade_lane_flush(p->bl);    /* see blade_lane_flush() */
            }
        }
        bsw_queue_pop(q);
    }
    if (sent) {
        /* to the blade now, not a main-loop iteration later */
        blade_lane_flush(p->bl);
    }
}

static void bsw_egress_nic(BswPort *p)
{
    NetClientState *nc = qemu_get_queue(p->nic);
    BswFrame *f;

    for (;;) {
        BswQueue *q = p->control.frames ? &p->control : &p->egress;

        f = bsw_queue_peek(q);
        if (p->tx_busy || !f) {
            break;
        }
        int64_t now = blade_switch_now();

        if (p->speed && now < p->next_tx_ns) {
            timer_mod(p->pace_timer, p->next_tx_ns);
            return;
        }
        if (!p->link) {
            p->tx_drops++;
            trace_blade_switch_drop(p->name, "link down", f->len);
        } else {
            bsw_capture(p, f->data, f->len);
            if (p->speed) {
                p->next_tx_ns = MAX(now, p->next_tx_ns) +
                                (int64_t)(f->len + BSW_WIRE_OVERHEAD) * 8000 /
                                p->speed;
            }
            if (qemu_send_packet_async(nc, f->data, f->len,
                                       bsw_nic_sent) == 0) {
                /* Queued in QEMU's net layer: wait for bsw_nic_sent(). */
                p->tx_busy = true;
            }
        }
        bsw_queue_pop(q);
    }
}

static void bsw_egress_kick(BswPort *p)
{
    if (p->th) {
        bsw_thread_kick(p);
    } else if (p->bl) {
        bsw_egress_lane(p);
        bsw_lane_sync(p);
    } else {
        bsw_egress_nic(p);
    }
}

/* A chain port's control frame (the fabric's), queued ahead of data. */
void bsw_port_send_control(BswPort *p, const uint8_t *frame,
                           size_t len)
{
    /* Ahead of data, so that a busy link does not starve the protocol. */
    if (bsw_queue_full(&p->control)) {
        p->tx_drops++;
        trace_blade_switch_drop(p->name, "control queue full", len);
        return;
    }
    bsw_queue_push(&p->control, frame, len);
    bsw_schedule(p->s);
}

/* ---- the scheduler ------------------------------------------------------- */

/* Resume a port whose ingress queue was full and has room again. */
static void bsw_ingress_resume(BswPort *p)
{
    if (p->th) {
        bsw_thread_kick(p);     /* it takes input when there is room */
        return;
    }
    if (bsw_queue_full(&p->ingress) || bsw_bus_full(p)) {
        return;
    }
    if (p->bl) {
        uint64_t h = lane_vtime_horizon(p->lane);

        blade_lane_rx_resume(p->bl);
        bsw_lane_sync(p);
        if (lane_vtime_horizon(p->lane) != h) {
            /*
             * It read a promise that waited behind the frames it could
             * not take: the clock may move.  Nothing else says so when
             * a virtual-time forward made the room (bsw_vtime_fwd_timer()
             * from the main loop).
             */
            bsw_vtime_kick(p->s);
        }
    }
}

/*
 * Deficit round robin over the ingress queues: each port in turn may send
 * up to BSW_QUANTUM octets per round into the forwarding engine, so a busy
 * port cannot starve the others.  Bounded per run; a run that ends with
 * work left schedules the next.
 */
void bsw_bh(void *opaque)
{
    BladeSwitchState *s = opaque;
    unsigned budget = BSW_BH_BUDGET, i, idle = 0;
    uint64_t now = blade_switch_now();

    s->bh_pending = false;
    s->in_bh = true;
    s->bh_again = false;
    for (i = 0; i < s->nports; i++) {
        if (s->ports[i].th) {
            bsw_thread_collect(&s->ports[i]);
        }
    }
    while (budget && idle < s->nports) {
        BswPort *p = &s->ports[s->rr_next];
        BswFrame *f;

        s->rr_next = (s->rr_next + 1) % s->nports;
        if (!p->ingress.frames) {
            p->deficit = 0;
            idle++;
            continue;
        }
        idle = 0;
        p->deficit += BSW_QUANTUM;
        while (budget && (f = bsw_queue_peek(&p->ingress)) &&
               (int32_t)f->len <= p->deficit) {
            p->deficit -= f->len;
            /* The frame is ours: the engine may rewrite it in place. */
            bsw_queue_take(&p->ingress);
            if (p->th && bsw_thread_read_note(p, f)) {
                continue;       /* a report or link state, in its place */
            }
            s->in_frame = f;
            s->in_data = f->data;
            s->in_len = f->len;
            s->in_has_fcs = f->has_fcs;
            s->in_fcs = f->fcs;
            s->in_port = p;
            swcore_input(s->core, p->index, f->data, f->len, now);
            s->in_port = NULL;
            s->in_data = NULL;
            if (p->th) {
                /* not f->len: an output may have handed f to a thread */
                bsw_thread_forwarded(p, s->in_len);
            }
            if (s->in_frame) {
                bsw_frame_free(f);  /* no output took it */
                s->in_frame = NULL;
            }
            budget--;
        }
        if (!p->ingress.frames) {
            p->deficit = 0;
        }
    }
    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];

        bsw_ingress_resume(p);
        if (p->egress.frames || p->control.frames) {
            bsw_egress_kick(p);
        }
        if (p->pcap && !p->th) {
            pcap_flush(p->pcap);    /* a lane thread flushes its own */
        }
    }
    if (s->fab_dirty) {
        bsw_fabric_sync(s, now);
    }
    bsw_core_rearm(s);
    s->in_bh = false;
    for (i = 0; i < s->nports; i++) {
        if (s->ports[i].ingress.frames) {
            s->bh_again = true;
            break;
        }
    }
    if (s->bh_again) {
        bsw_schedule(s);
    }
}

/* ---- life cycle ---------------------------------------------------------- */

void bsw_port_init(BladeSwitchState *s, BswPort *p, SwPortKind kind,
                   const char *name, unsigned slot)
{
    p->s = s;
    p->kind = kind;
    p->slot = slot;
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->index = swcore_add_port(s->core, kind, name, slot);
    if (kind == SW_PORT_SLOT) {
        swcore_port_set_mac_limit(s->core, p->index, s->mac_limit);
    }
    p->fab_port = -1;
    bsw_queue_init(&p->ingress, BSW_INGRESS_FRAMES, BSW_INGRESS_OCTETS);
    bsw_queue_init(&p->egress, s->queue_frames, 0);
    /* A round of advertisements is at most 16 frames. */
    bsw_queue_init(&p->control, 64, 0);
}

void bsw_netdev_port(BladeSwitchState *s, BswPort *p, SwPortKind kind,
                     const char *name, NICPeers *peers, uint32_t speed)
{
    DeviceState *dev = DEVICE(s);
    g_autofree char *nc_name = g_strdup_printf("%s.%s",
                                               dev->id ? dev->id : "switch",
                                               name);

    bsw_port_init(s, p, kind, name, 0);
    p->speed = speed;
    p->conf.peers = *peers;
    memcpy(p->conf.macaddr.a, s->mac.a, 6);
    p->pace_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, bsw_pace_timer, p);
    p->nic = qemu_new_nic(&bsw_nic_info, &p->conf,
                          object_get_typename(OBJECT(s)), nc_name,
                          &dev->mem_reentrancy_guard, p);
    qemu_format_nic_info_str(qemu_get_queue(p->nic), s->mac.a);
}

/*
 * Virtual time: the latency of the lane into the switch from @slot (from
 * chain lane @slot with @chain).
 */
static uint32_t bsw_lane_latency_ns(BladeSwitchState *s, unsigned slot,
                                    bool chain)
{
    uint32_t n = chain ? s->nchain_latency : s->nslot_latency;
    uint32_t *ns = chain ? s->chain_latency_ns : s->slot_latency_ns;

    if (slot < n && ns[slot]) {
        return ns[slot];
    }
    return s->vtime_latency_ns;
}

/* What a slot's lane and a chain port's have in common. */
static void bsw_lane_config(BladeSwitchState *s, LaneConfig *cfg,
                            uint32_t speed, uint32_t latency_ns)
{
    lane_config_init(cfg, LANE_ROLE_STREAM, NULL);
    cfg->pcs = s->pcs;
    cfg->speed_mbps = speed;
    /* The chassis reports no load of its own, to a blade or a chassis. */
    cfg->util_interval_ns = 0;
    cfg->vtime = s->vtime;
    cfg->vtime_latency_ns = latency_ns;
    /* the port's MAC FIFO; its egress queue stays in front of it */
    blade_lane_config_tx_fifo(cfg, s->tx_fifo);
}

/*
 * A slot's lane, over its chardevN or over the socket chardev the
 * backplane shorthand makes: a server at DIR/slotN.sock that does not
 * wait for its blade.
 */
bool bsw_open_lane(BladeSwitchState *s, BswPort *p, Error **errp)
{
    CharBackend *be = &s->slot_chr[p->slot];
    g_autofree char *path = NULL;
    LaneConfig cfg;

    if (s->backplane) {
        struct sockaddr_un sa;
        Chardev *chr;

        path = g_strdup_printf("%s/slot%u.sock", s->backplane, p->slot);
        if (strlen(path) >= sizeof(sa.sun_path)) {
            error_setg(errp, "blade-switch: slot socket path '%s' is longer "
                       "than a UNIX socket address allows (%zu)", path,
                       sizeof(sa.sun_path) - 1);
            return false;
        }
        chr = blade_lane_socket_chardev(path, true, errp);
        if (!chr) {
            error_prepend(errp, "blade-switch: slot %u: ", p->slot);
            return false;
        }
        if (!qemu_chr_fe_init(be, chr, errp)) {
            object_unparent(OBJECT(chr));
            return false;
        }
        p->chr_made = true;
    }
    bsw_lane_config(s, &cfg, s->slot_speed,
                    bsw_lane_latency_ns(s, p->slot, false));
    /* a slot attaches to the rings its blade offers; see blade-lane.h */
    cfg.shm = LANE_SHM_ACCEPT;
    p->speed = s->slot_speed;
    p->be = be;
    if (s->niothreads) {
        /* slots in contiguous groups, a group to each iothread */
        IOThread *io = iothread_by_id(s->iothread_ids[p->slot *
                                                      s->niothreads /
                                                      s->slots]);

        bsw_thread_open_lane(p, io, &cfg, errp);
    } else {
        p->bl = blade_lane_new(DEVICE(s), be, &cfg, &bsw_lane_ops,
                               bsw_lane_changed, p, errp);
    }
    if (!p->bl) {
        error_prepend(errp, "blade-switch: slot %u: ", p->slot);
        return false;
    }
    p->lane = blade_lane_lane(p->bl);
    trace_blade_switch_slot_open(p->slot, path ? path :
                                 qemu_chr_fe_get_driver(be)->label);
    return true;
}

/*
 * A chain port over chain-chardevN: a lane to another chassis's switch,
 * which carries virtual time where a netdev cannot.  Two switches offer
 * each other no rings (neither end knows it is the one to make them):
 * the lane runs on the stream, as a chain netdev does.
 */
bool bsw_open_chain_lane(BladeSwitchState *s, BswPort *p, CharBackend *be,
                         Error **errp)
{
    LaneConfig cfg;

    bsw_lane_config(s, &cfg, s->chain_speed,
                    bsw_lane_latency_ns(s, p->slot, true));
    cfg.shm = LANE_SHM_OFF;
    p->speed = s->chain_speed;
    p->be = be;
    p->bl = blade_lane_new(DEVICE(s), be, &cfg, &bsw_lane_ops,
                           bsw_lane_changed, p, errp);
    if (!p->bl) {
        error_prepend(errp, "blade-switch: %s: ", p->name);
        return false;
    }
    p->lane = blade_lane_lane(p->bl);
    trace_blade_switch_chain_open(p->name, qemu_chr_fe_get_driver(be)->label);
    return true;
}

/* Undo what bsw_port_init() and the bsw_open_*() of the port did. */
void bsw_port_free(BswPort *p)
{
    BladeSwitchState *s = p->s;

    bsw_symbols_stop(p);        /* while its lane is there */
    if (p->th) {
        bsw_thread_free(p);
    } else if (p->bl) {
        blade_lane_free(p->bl);
        p->bl = NULL;
        p->lane = NULL;
    }
    if (p->chr_made) {
        g_autofree char *path = g_strdup_printf("%s/slot%u.sock",
                                                s->backplane, p->slot);

        qemu_chr_fe_deinit(&s->slot_chr[p->slot], true);
        p->chr_made = false;
        unlink(path);
    }
    if (p->nic) {
        qemu_del_nic(p->nic);
    }
    if (p->pace_timer) {
        timer_free(p->pace_timer);
    }
    pcap_close(p->pcap);
    if (p->util_log) {
        fclose(p->util_log);
    }
    bsw_queue_purge(&p->ingress);
    bsw_queue_purge(&p->egress);
    bsw_queue_purge(&p->control);
}
