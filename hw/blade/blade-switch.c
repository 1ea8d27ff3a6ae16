/*
 * bladeplane switch blade: the chassis's switch and blade server manager.
 *
 * Ports: one backplane lane server per slot (net/lane-transport.h, a
 * socket BACKPLANE/slotN.sock) and an uplink on a QEMU netdev.  Frames
 * that arrive are queued per ingress port and served in deficit round
 * robin by a bottom half, through the forwarding engine
 * (net/switch-core.h), into bounded per-port egress queues.  A full
 * ingress queue stops reading its port (back-pressure); a full egress
 * queue drops and counts.  docs/switch-blade.md is the contract.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/notify.h"
#include "system/system.h"
#include "system/qtest.h"
#include "system/runstate.h"
#include "qemu/queue.h"
#include "qemu/timer.h"
#include "qemu/module.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "migration/vmstate.h"
#include "net/net.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-events-blade.h"
#include "qobject/qbool.h"
#include "qobject/qlist.h"
#include "qobject/qnull.h"
#include "qobject/qnum.h"
#include "qobject/qstring.h"
#include <arpa/inet.h>
#include <sys/un.h>
#include "crypto/secret_common.h"
#include "fabric.h"
#include "lane-transport.h"
#include "blade-lane.h"
#include "pcap.h"
#include "pcs-tx.h"
#include "blade-switch.h"
#include "trace.h"

#define BSW_MAX_SPEED       400000      /* Mb/s */
/*
 * Ingress, per port, before back-pressure: this many frames, but no more
 * octets than 32 frames of 1518 take (full from then on, so at most one
 * frame beyond).  A deeper queue of small frames means fewer main-loop
 * iterations per frame (each refill of the queue is one): 32 frames
 * forwarded 0.49 Gb/s of 64-octet frames lane to lane, 128 frames 0.73;
 * but 128 frames of 1518 octets forwarded less than 32 (3.0 to 3.7 Gb/s
 * against 4.4 to 7.0: more data in flight than the caches hold).
 */
#define BSW_INGRESS_FRAMES  128
#define BSW_INGRESS_OCTETS  (32 * 1518)
#define BSW_MAX_QUEUE       65536       /* queue-frames upper bound */
#define BSW_QUANTUM         1522        /* DRR: octets per port per round */
#define BSW_BH_BUDGET       256         /* frames per bottom-half run */
/* Per-frame overhead on the wire: preamble, SFD, FCS, inter-frame gap. */
#define BSW_WIRE_OVERHEAD   24
#define BSW_POLL_NS         (100 * SCALE_MS)   /* netdev link polling */
/* QMP events: one per port or slot per period (docs/switch-blade.md). */
#define BSW_EVENT_PERIOD_NS NANOSECONDS_PER_SECOND
#define BSW_REASON_LEN      48

/*
 * QMP events are coalesced as QEMU throttles its own guest-triggerable
 * events (monitor/monitor.c), but for each port and each slot apart, and
 * on the chassis clock: a change after a quiet period is sent at once and
 * opens a period; changes within it update the state that is sent when
 * it ends (and that opens another).  The last state always gets through.
 * QEMU's table of throttled events is its own, keyed by event name.
 */
typedef struct BswEventGate {
    int64_t period_end;         /* changes before this are held */
    bool held;                  /* one is: send the latest at period_end */
} BswEventGate;

/* The latest rotation state of a slot's blade, for BLADE_SWITCH_BLADE. */
typedef struct BswBladeEvent {
    BswEventGate gate;
    bool in_rotation;
    char reason[BSW_REASON_LEN];
} BswBladeEvent;

typedef struct BswFrame {
    QSIMPLEQ_ENTRY(BswFrame) next;
    size_t len;
    bool has_fcs;               /* fcs is the FCS of data, padded */
    uint32_t fcs;
    uint8_t data[];
} BswFrame;

typedef struct BswQueue {
    QSIMPLEQ_HEAD(, BswFrame) head;
    unsigned frames;
    unsigned limit;
    size_t octets;
    size_t octet_limit;         /* full from this many on; 0: none */
} BswQueue;

typedef struct BswPort BswPort;

struct BswPort {
    BladeSwitchState *s;
    unsigned index;             /* the core's port number */
    SwPortKind kind;
    char name[SW_NAME_LEN];
    unsigned slot;
    uint32_t speed;             /* Mb/s, 0 = unpaced */

    /* slots: the lane, over s->slot_chr[slot] */
    BladeLane *bl;
    Lane *lane;                 /* bl's */
    bool chr_made;              /* the backplane shorthand's: ours */
    bool in_lane;

    /* netdev ports */
    int fab_port;               /* chain ports: the fabric's number, or -1 */
    uint64_t ctrl_refused;      /* control frames where none may come */
    NICState *nic;
    NICConf conf;
    bool tx_busy;               /* waiting for the netdev's sent callback */
    bool rx_held;               /* receive() said "later": flush on room */
    int64_t next_tx_ns;         /* pacing */
    QEMUTimer *pace_timer;

    BswQueue ingress;
    BswQueue egress;
    BswQueue control;           /* chain ports: control frames, sent first */
    int32_t deficit;

    /* what the core and management last heard */
    bool link;
    bool connected;
    bool sync;
    BswEventGate link_gate;     /* BLADE_SWITCH_PORT_LINK */

    /* device-level counters (the core counts its own) */
    uint64_t tx_drops;          /* egress queue full, link down, refused */
    uint64_t rx_errors;         /* frames the lane refused (FCS, length) */

    PcapFile *pcap;
    FILE *util_log;
};

struct BladeSwitchState {
    DeviceState parent_obj;

    SwitchCore *core;
    BswPort *ports;
    unsigned nports;
    QEMUBH *bh;
    bool bh_pending;            /* scheduled, not yet run */
    bool in_bh;                 /* bsw_bh() on the stack ... */
    bool bh_again;              /* ... and asked to run again */
    /*
     * The ingress frame swcore_input() has: its first output takes it
     * rather than a copy (outputs never change the frame).  Its octets
     * and FCS, for the outputs that copy it: an output of them that the
     * engine did not rewrite keeps the FCS the frame came with.
     */
    BswFrame *in_frame;
    const uint8_t *in_data;
    size_t in_len;
    bool in_has_fcs;
    uint32_t in_fcs;
    unsigned rr_next;
    QEMUTimer *core_timer;
    uint64_t core_timer_at;
    /* QMP events held back (BswEventGate) */
    QEMUTimer *event_timer;
    BswBladeEvent blade_events[SW_MAX_BLADES];
    bool backplane_made;        /* the directory is ours to remove */
    Notifier exit;
    /* netdev ports: link polled (stream netdevs do not tell their peer) */
    QEMUTimer *poll_timer;
    /* the inter-chassis control protocol, with chain ports */
    Fabric *fabric;
    bool fab_dirty;             /* the remote table changed: re-read it */
    BswPort *fab_ports[FAB_MAX_PORTS];
    QEMUTimer *fabric_timer;
    uint64_t fabric_timer_at;
    /* virtual time (docs/virtual-time.md): the chassis drives its clock */
    bool vtime;
    QEMUBH *vtime_bh;           /* move the clock to the safe horizon */
    QEMUTimer *vtime_fwd_timer; /* forwarding, at the time frames arrive */
    QEMUTimer *vtime_wall_timer; /* bounds a wait for a silent blade */

    /* properties */
    uint32_t slots;
    char *backplane;
    CharBackend slot_chr[BLADE_SWITCH_MAX_SLOTS];  /* chardevN */
    uint32_t slot_speed;
    char *pcs_str;
    NICConf uplink_conf;
    uint32_t uplink_speed;
    MACAddr mac;
    uint32_t mac_aging_s;
    uint32_t mac_table_size;
    uint32_t mac_limit;             /* per slot port; 0: none */
    uint32_t flow_idle_s;
    uint32_t flow_table_size;
    uint32_t util_stale_ms;
    uint32_t queue_frames;
    uint64_t seed;
    char *capture_dir;
    uint32_t nchain;
    NICPeers *chain_peers;
    uint32_t chain_speed;
    char *chassis_name;
    uint64_t chassis_id;
    uint16_t fabric_priority;
    uint32_t fabric_interval_ms;
    char *fabric_key_secret;
    uint32_t hop_cost;
    char *util_estimator_str;
    char *timing_str;
    uint32_t vtime_latency_ns;
    uint32_t vtime_wait_ms;
    uint32_t vtime_slots;
    LanePcs pcs;
    unsigned util_estimator;
};

uint64_t blade_switch_now(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

SwitchCore *blade_switch_core(BladeSwitchState *s)
{
    return s->core;
}

/* ---- queues -------------------------------------------------------------- */

static void queue_init(BswQueue *q, unsigned limit, size_t octet_limit)
{
    QSIMPLEQ_INIT(&q->head);
    q->frames = 0;
    q->limit = limit;
    q->octets = 0;
    q->octet_limit = octet_limit;
}

static bool queue_full(const BswQueue *q)
{
    return q->frames >= q->limit ||
           (q->octet_limit && q->octets >= q->octet_limit);
}

static void queue_append(BswQueue *q, BswFrame *f)
{
    QSIMPLEQ_INSERT_TAIL(&q->head, f, next);
    q->frames++;
    q->octets += f->len;
}

static BswFrame *queue_push(BswQueue *q, const uint8_t *data, size_t len)
{
    BswFrame *f = g_malloc(sizeof(*f) + len);

    f->len = len;
    f->has_fcs = false;
    memcpy(f->data, data, len);
    queue_append(q, f);
    return f;
}

static BswFrame *queue_peek(BswQueue *q)
{
    return QSIMPLEQ_FIRST(&q->head);
}

/* The first frame, out of the queue: the caller's to free. */
static BswFrame *queue_take(BswQueue *q)
{
    BswFrame *f = QSIMPLEQ_FIRST(&q->head);

    QSIMPLEQ_REMOVE_HEAD(&q->head, next);
    q->frames--;
    q->octets -= f->len;
    return f;
}

static void queue_pop(BswQueue *q)
{
    g_free(queue_take(q));
}

static void queue_purge(BswQueue *q)
{
    while (q->frames) {
        queue_pop(q);
    }
}

/* ---- capture ------------------------------------------------------------- */

static void bsw_capture(BswPort *p, const uint8_t *frame, size_t len)
{
    if (p->pcap && pcap_write(p->pcap, p->s->vtime ? blade_switch_now() :
                              qemu_clock_get_ns(QEMU_CLOCK_HOST),
                              frame, len) < 0) {
        warn_report("blade-switch: capture on %s failed; stopped it",
                    p->name);
        pcap_close(p->pcap);
        p->pcap = NULL;
    }
}

/* One line per utilization ordered set, with its code groups. */
static void bsw_log_util(BswPort *p, const LaneUtil *u)
{
    PcsUtil pu = { .cpu_pct = u->cpu_pct, .irq_pct = u->irq_pct,
                   .seq = u->seq, .has_contention = u->has_contention,
                   .psi_permille = u->psi_permille,
                   .runnable = u->runnable };
    uint16_t cgs[PCS_UTIL_MAX_CGS];
    unsigned rd = 0, drd = 0;
    size_t n, i;
    GString *line;

    if (!p->util_log) {
        return;
    }
    n = pcs_tx_util(&pu, u->form, cgs, &rd);
    line = g_string_new(NULL);
    g_string_append_printf(line, "%" PRIu64 ".%09" PRIu64 " %s cpu=%u irq=%u "
                           "seq=%u",
                           u->rx_time_ns / 1000000000u,
                           u->rx_time_ns % 1000000000u, p->name,
                           u->cpu_pct, u->irq_pct, u->seq);
    if (u->has_contention) {
        g_string_append_printf(line, " pressure=%u runnable=%u",
                               u->psi_permille, u->runnable);
    }
    g_string_append_printf(line, " form=%s %s",
                           u->form == PCS_UTIL_FORM_EXPANDED ? "expanded"
                                                             : "idle",
                           u->fresh ? "new" : "repeat");
    g_string_append(line, " cg:");
    for (i = 0; i < n; i++) {
        unsigned d = pcs_decode(cgs[i], &drd);
        char name[8];

        g_string_append_c(line, ' ');
        g_string_append(line, pcs_cg_name(d & 0xff, d & PCS_CG_K, name));
    }
    g_string_append_c(line, '\n');
    if (fputs(line->str, p->util_log) < 0 || fflush(p->util_log)) {
        warn_report("blade-switch: utilization log of %s failed; stopped it",
                    p->name);
        fclose(p->util_log);
        p->util_log = NULL;
    }
    g_string_free(line, true);
}

static BswPort *bsw_port_by_name(BladeSwitchState *s, const char *name)
{
    unsigned i;

    for (i = 0; i < s->nports; i++) {
        if (!strcmp(s->ports[i].name, name)) {
            return &s->ports[i];
        }
    }
    return NULL;
}

bool blade_switch_capture(BladeSwitchState *s, const char *port,
                          const char *pcap, const char *util_log,
                          Error **errp)
{
    BswPort *p = bsw_port_by_name(s, port);
    PcapFile *pf = NULL;
    FILE *uf = NULL;

    if (!p) {
        error_setg(errp, "blade-switch has no port '%s'", port);
        return false;
    }
    if (util_log && p->kind != SW_PORT_SLOT) {
        error_setg(errp, "port '%s' is not a slot: it has no utilization "
                   "log", port);
        return false;
    }
    if (pcap) {
        pf = pcap_open(pcap);
        if (!pf) {
            error_setg_errno(errp, errno, "cannot create capture file '%s'",
                             pcap);
            return false;
        }
    }
    if (util_log) {
        uf = fopen(util_log, "w");
        if (!uf) {
            error_setg_errno(errp, errno, "cannot create utilization log "
                             "'%s'", util_log);
            pcap_close(pf);
            return false;
        }
    }
    pcap_close(p->pcap);
    p->pcap = pf;
    if (p->util_log) {
        fclose(p->util_log);
    }
    p->util_log = uf;
    trace_blade_switch_capture(p->name, pcap ? pcap : "",
                               util_log ? util_log : "");
    return true;
}

/* ---- QMP events ---------------------------------------------------------- */

/*
 * Whether a change may be sent now.  If not, it is held: the event timer
 * sends the latest state when the gate's period ends.
 */
static bool bsw_event_pass(BladeSwitchState *s, BswEventGate *g)
{
    int64_t now = blade_switch_now();

    if (now >= g->period_end) {
        g->period_end = now + BSW_EVENT_PERIOD_NS;
        g->held = false;
        return true;
    }
    g->held = true;
    timer_mod_anticipate(s->event_timer, g->period_end);
    return false;
}

/* Whether @g holds a change whose period has ended (then open the next). */
static bool bsw_event_release(BswEventGate *g, int64_t now, int64_t *next)
{
    if (!g->held) {
        return false;
    }
    if (now < g->period_end) {
        *next = MIN(*next, g->period_end);
        return false;
    }
    g->held = false;
    g->period_end = now + BSW_EVENT_PERIOD_NS;
    return true;
}

static void bsw_send_port_link(BladeSwitchState *s, BswPort *p, bool up)
{
    g_autofree char *path = object_get_canonical_path(OBJECT(s));

    qapi_event_send_blade_switch_port_link(path, p->name, up, p->connected,
                                           p->sync);
}

static void bsw_send_blade(BladeSwitchState *s, unsigned slot)
{
    g_autofree char *path = object_get_canonical_path(OBJECT(s));
    BswBladeEvent *e = &s->blade_events[slot];

    qapi_event_send_blade_switch_blade(path, slot, e->in_rotation,
                                       e->reason);
}

static void bsw_event_timer(void *opaque)
{
    BladeSwitchState *s = opaque;
    int64_t now = blade_switch_now(), next = INT64_MAX;
    unsigned i;

    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];

        if (bsw_event_release(&p->link_gate, now, &next)) {
            bsw_send_port_link(s, p, p->link);
        }
    }
    for (i = 0; i < SW_MAX_BLADES; i++) {
        if (bsw_event_release(&s->blade_events[i].gate, now, &next)) {
            bsw_send_blade(s, i);
        }
    }
    if (next != INT64_MAX) {
        timer_mod(s->event_timer, next);
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
static void bsw_schedule(BladeSwitchState *s)
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

static void bsw_fabric_rearm(BladeSwitchState *s);
static void bsw_fabric_sync(BladeSwitchState *s, uint64_t now);

static void bsw_core_output(void *opaque, unsigned port, const uint8_t *frame,
                            size_t len)
{
    BladeSwitchState *s = opaque;
    BswPort *p = &s->ports[port];
    BswFrame *f;
    bool same;

    if (queue_full(&p->egress)) {
        p->tx_drops++;
        trace_blade_switch_drop(p->name, "egress queue full", len);
        return;
    }
    trace_blade_switch_forward(p->name, len);
    same = frame == s->in_data && len == s->in_len;
    if (same && s->in_frame) {
        f = s->in_frame;
        queue_append(&p->egress, f);
        s->in_frame = NULL;
    } else {
        f = queue_push(&p->egress, frame, len);
    }
    f->has_fcs = same && s->in_has_fcs && !swcore_frame_rewritten(s->core);
    f->fcs = s->in_fcs;
    bsw_schedule(s);
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
    trace_blade_switch_decision(d->rule, d->blade, bal_policy_name(d->policy),
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

static const SwOps bsw_core_ops = {
    .output = bsw_core_output,
    .blade_state = bsw_core_blade_state,
    .decision = bsw_core_decision,
    .fabric_frame = bsw_core_fabric_frame,
};

static void bsw_core_rearm(BladeSwitchState *s)
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

static void bsw_core_timer(void *opaque)
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

static void bsw_port_update_link(BswPort *p)
{
    BladeSwitchState *s = p->s;
    bool connected, sync, up;

    if (p->kind == SW_PORT_SLOT) {
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
            /* What waits for a port that went down is stale: drop it. */
            p->tx_drops += p->egress.frames + p->control.frames;
            queue_purge(&p->egress);
            queue_purge(&p->control);
        }
        bsw_core_rearm(s);
    }
}

/* ---- slots: lanes -------------------------------------------------------- */

/* After any call into a lane: follow its link (blade-lane its I/O). */
static void bsw_lane_sync(BswPort *p)
{
    if (p->in_lane) {
        return;
    }
    bsw_port_update_link(p);
}

/* blade-lane did lane work of its own (input, timers, output, events). */
static void bsw_vtime_kick(BladeSwitchState *s);

static void bsw_lane_changed(void *opaque)
{
    BswPort *p = opaque;

    bsw_lane_sync(p);
    bsw_vtime_kick(p->s);       /* a promise or a stamp may have come */
}

static void bsw_lane_rx_frame(void *opaque, const uint8_t *frame, size_t len)
{
    BswPort *p = opaque;
    BswFrame *f;

    /* can_receive() keeps the queue from overflowing. */
    f = queue_push(&p->ingress, frame, len);
    f->has_fcs = lane_rx_fcs(p->lane, &f->fcs);
    bsw_capture(p, frame, len);
    bsw_schedule(p->s);
}

static bool bsw_lane_can_receive(void *opaque)
{
    BswPort *p = opaque;

    return !queue_full(&p->ingress);
}

static void bsw_lane_rx_util(void *opaque, const LaneUtil *u)
{
    BswPort *p = opaque;

    bsw_log_util(p, u);
    if (!u->fresh) {
        return;
    }
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

static bool bsw_nic_can_receive(NetClientState *nc)
{
    BswPort *p = qemu_get_nic_opaque(nc);

    if (queue_full(&p->ingress)) {
        /* The net layer now queues for us: flush when there is room. */
        p->rx_held = true;
        return false;
    }
    return true;
}

static ssize_t bsw_nic_receive(NetClientState *nc, const uint8_t *buf,
                               size_t size)
{
    BswPort *p = qemu_get_nic_opaque(nc);

    if (queue_full(&p->ingress)) {
        /* QEMU's queue holds it; qemu_flush_queued_packets() later. */
        p->rx_held = true;
        return 0;
    }
    queue_push(&p->ingress, buf, size);
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
    .can_receive = bsw_nic_can_receive,
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

/* ---- egress -------------------------------------------------------------- */

static void bsw_egress_lane(BswPort *p)
{
    int64_t now = blade_switch_now();
    bool sent = false;
    BswFrame *f;

    while ((f = queue_peek(&p->egress))) {
        /* a frame forwarded unchanged keeps its FCS: not computed again */
        int r = f->has_fcs ?
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
        queue_pop(&p->egress);
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

        f = queue_peek(q);
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
        queue_pop(q);
    }
}

static void bsw_egress_kick(BswPort *p)
{
    if (p->kind == SW_PORT_SLOT) {
        bsw_egress_lane(p);
        bsw_lane_sync(p);
    } else {
        bsw_egress_nic(p);
    }
}

/* A chain port's control frame (the fabric's), queued ahead of data. */
static void bsw_port_send_control(BswPort *p, const uint8_t *frame,
                                  size_t len)
{
    /* Ahead of data, so that a busy link does not starve the protocol. */
    if (queue_full(&p->control)) {
        p->tx_drops++;
        trace_blade_switch_drop(p->name, "control queue full", len);
        return;
    }
    queue_push(&p->control, frame, len);
    bsw_schedule(p->s);
}

/* ---- the scheduler ------------------------------------------------------- */

/* Resume a port whose ingress queue was full and has room again. */
static void bsw_ingress_resume(BswPort *p)
{
    if (queue_full(&p->ingress)) {
        return;
    }
    if (p->kind == SW_PORT_SLOT) {
        blade_lane_rx_resume(p->bl);
        bsw_lane_sync(p);
    } else if (p->rx_held) {
        p->rx_held = false;
        qemu_flush_queued_packets(qemu_get_queue(p->nic));
    }
}

/*
 * Deficit round robin over the ingress queues: each port in turn may send
 * up to BSW_QUANTUM octets per round into the forwarding engine, so a busy
 * port cannot starve the others.  Bounded per run; a run that ends with
 * work left schedules the next.
 */
static void bsw_bh(void *opaque)
{
    BladeSwitchState *s = opaque;
    unsigned budget = BSW_BH_BUDGET, i, idle = 0;
    uint64_t now = blade_switch_now();

    s->bh_pending = false;
    s->in_bh = true;
    s->bh_again = false;
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
        while (budget && (f = queue_peek(&p->ingress)) &&
               (int32_t)f->len <= p->deficit) {
            p->deficit -= f->len;
            /* The frame is ours: the engine may rewrite it in place. */
            queue_take(&p->ingress);
            s->in_frame = f;
            s->in_data = f->data;
            s->in_len = f->len;
            s->in_has_fcs = f->has_fcs;
            s->in_fcs = f->fcs;
            swcore_input(s->core, p->index, f->data, f->len, now);
            s->in_data = NULL;
            if (s->in_frame) {
                g_free(f);      /* no output took it */
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
        if (p->pcap) {
            pcap_flush(p->pcap);
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

/* ---- virtual time ------------------------------------------------------ */

/*
 * The chassis has no CPU: its clock (QEMU_CLOCK_VIRTUAL of the qtest
 * accelerator, which moves only when told) goes straight to the safe
 * horizon, the earliest time a blade could still send something that
 * takes effect here, running the switch's timers in order on the way.
 * Then it promises each blade that time.  Slots with no blade connected
 * set no bound; until vtime-slots blades are connected the clock waits.
 */
static void bsw_vtime_advance(void *opaque)
{
    BladeSwitchState *s = opaque;
    uint64_t now = blade_switch_now(), h = VTIME_NEVER;
    unsigned i, active = 0;

    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];

        if (p->lane && lane_vtime_active(p->lane)) {
            active++;
            h = MIN(h, lane_vtime_horizon(p->lane));
        }
    }
    if (!active || active < s->vtime_slots) {
        return;
    }
    if (h > now) {
        trace_blade_switch_vtime_advance(now, h);
        qemu_clock_advance_virtual_time(MIN(h, INT64_MAX));
        now = blade_switch_now();
        timer_del(s->vtime_wall_timer);
    } else if (s->vtime_wait_ms && !timer_pending(s->vtime_wall_timer)) {
        timer_mod(s->vtime_wall_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + s->vtime_wait_ms);
    }
    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];

        if (p->lane && lane_vtime_active(p->lane)) {
            lane_vtime_promise(p->lane, now, now);
        }
    }
}

static void bsw_vtime_kick(BladeSwitchState *s)
{
    if (s->vtime) {
        qemu_bh_schedule(s->vtime_bh);
    }
}

/* A guarded BH's work, at a virtual time. */
static void bsw_vtime_fwd_timer(void *opaque)
{
    BladeSwitchState *s = opaque;
    MemReentrancyGuard *g = &DEVICE(s)->mem_reentrancy_guard;
    bool was = g->engaged_in_io;

    g->engaged_in_io = true;
    bsw_bh(s);
    g->engaged_in_io = was;
}

/* A blade that holds the clock back for too long: name it and stop. */
static void bsw_vtime_wall_timer(void *opaque)
{
    BladeSwitchState *s = opaque;
    uint64_t now = blade_switch_now();
    unsigned i;

    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];

        if (p->lane && lane_vtime_active(p->lane) &&
            lane_vtime_horizon(p->lane) <= now) {
            error_report("blade-switch: virtual time: no promise from slot "
                         "%u (chardev '%s') for %u ms at %" PRIu64 " ns (is "
                         "its blade paused, or stuck?); shutting down",
                         p->slot,
                         qemu_chr_fe_get_driver(&s->slot_chr[p->slot]) ?
                         qemu_chr_fe_get_driver(&s->slot_chr[p->slot])->label
                         : p->name, s->vtime_wait_ms, now);
            qemu_system_shutdown_request(SHUTDOWN_CAUSE_HOST_ERROR);
            return;
        }
    }
}

/* ---- chain ports and the inter-chassis control protocol ------------------ */

static void bsw_fab_send(void *opaque, unsigned fport, const uint8_t *frame,
                         size_t len)
{
    BladeSwitchState *s = opaque;

    bsw_port_send_control(s->fab_ports[fport], frame, len);
}

static void bsw_fab_port_state(void *opaque, unsigned fport, bool forwarding,
                               const char *why)
{
    BladeSwitchState *s = opaque;
    BswPort *p = s->fab_ports[fport];

    uint64_t now = blade_switch_now();
    unsigned i;

    trace_blade_switch_fabric_port(p->name, forwarding, why);
    swcore_port_set_blocked(s->core, p->index, !forwarding, now);
    /*
     * The tree changed: paths through the chain ports may have too, so
     * what was learned on them is relearned (remote blades' MACs at the
     * next sync).
     */
    for (i = 0; i < FAB_MAX_PORTS; i++) {
        if (s->fab_ports[i]) {
            swcore_mac_forget_port(s->core, s->fab_ports[i]->index);
        }
    }
    s->fab_dirty = true;
    bsw_schedule(s);
    bsw_core_rearm(s);
}

static void bsw_fab_remote_changed(void *opaque)
{
    BladeSwitchState *s = opaque;

    /* Read the table back outside the fabric's own call. */
    s->fab_dirty = true;
    bsw_schedule(s);
}

static const FabOps bsw_fab_ops = {
    .send = bsw_fab_send,
    .port_state = bsw_fab_port_state,
    .remote_changed = bsw_fab_remote_changed,
};

/*
 * Tell the fabric about this chassis's blades, and the forwarding engine
 * about the blades of the others (learning their MACs on the ports that
 * lead to them).
 */
static void bsw_fabric_sync(BladeSwitchState *s, uint64_t now)
{
    g_autofree FabLocalBlade *local = g_new0(FabLocalBlade, SW_MAX_BLADES);
    g_autofree FabRemoteBlade *fr = g_new0(FabRemoteBlade, FAB_MAX_BLADES);
    g_autofree SwRemoteBlade *sr = g_new0(SwRemoteBlade, SW_MAX_REMOTE);
    unsigned i, n = 0, nr, k = 0;

    s->fab_dirty = false;
    for (i = 0; i < SW_MAX_BLADES; i++) {
        SwBladeInfo bi;

        if (!swcore_blade_info(s->core, i, now, &bi) || !bi.mac_known) {
            continue;
        }
        memcpy(local[n].mac, bi.mac, 6);
        local[n].slot = i;
        local[n].in_rotation = bi.in_rotation;
        local[n].cpu_pct = bi.cpu_pct;
        local[n].irq_pct = bi.irq_pct;
        local[n].age_ms = bi.reported ?
                          MIN(bi.report_age_ns / SCALE_MS, UINT32_MAX) :
                          UINT32_MAX;
        n++;
    }
    fab_set_local_at(s->fabric, local, n, now);
    nr = fab_remote_blades(s->fabric, now, fr, FAB_MAX_BLADES);
    for (i = 0; i < nr && k < SW_MAX_REMOTE; i++) {
        BswPort *p;

        if (fr[i].port >= FAB_MAX_PORTS || !s->fab_ports[fr[i].port]) {
            continue;
        }
        p = s->fab_ports[fr[i].port];
        sr[k].chassis_id = fr[i].chassis_id;
        pstrcpy(sr[k].chassis, sizeof(sr[k].chassis), fr[i].chassis);
        sr[k].slot = fr[i].slot;
        memcpy(sr[k].mac, fr[i].mac, 6);
        sr[k].port = p->index;
        sr[k].hops = fr[i].hops;
        sr[k].in_rotation = fr[i].in_rotation;
        sr[k].cpu_pct = fr[i].cpu_pct;
        sr[k].irq_pct = fr[i].irq_pct;
        sr[k].age_ns = fr[i].age_ns;
        swcore_mac_learn(s->core, fr[i].mac, p->index, now);
        k++;
    }
    swcore_set_remote(s->core, sr, k, now);
    bsw_core_rearm(s);
    /* News for the fabric can bring its next advertisement forward. */
    bsw_fabric_rearm(s);
}

static void bsw_fabric_rearm(BladeSwitchState *s)
{
    uint64_t dl;

    if (!s->fabric) {
        return;
    }
    dl = fab_deadline(s->fabric);
    if (dl == s->fabric_timer_at) {
        return;
    }
    s->fabric_timer_at = dl;
    if (dl == UINT64_MAX) {
        timer_del(s->fabric_timer);
    } else {
        timer_mod(s->fabric_timer, MIN(dl, INT64_MAX));
    }
}

static void bsw_fabric_timer(void *opaque)
{
    BladeSwitchState *s = opaque;
    uint64_t now = blade_switch_now();

    s->fabric_timer_at = UINT64_MAX;
    bsw_fabric_sync(s, now);
    fab_tick(s->fabric, now);
    bsw_fabric_sync(s, now);
    bsw_fabric_rearm(s);
}

/*
 * Netdev ports: stream and socket netdevs mark their own link down when
 * the far end goes away, without telling us: look every period.
 */
static void bsw_poll_timer(void *opaque)
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

/* ---- management ---------------------------------------------------------- */

static void put_u64(QDict *d, const char *key, uint64_t v)
{
    qdict_put(d, key, qnum_from_uint(v));
}

static void put_mac(QDict *d, const char *key, const uint8_t *m)
{
    g_autofree char *str = g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x",
                                           m[0], m[1], m[2], m[3], m[4],
                                           m[5]);

    qdict_put_str(d, key, str);
}

static void put_ip(QDict *d, const char *key, uint32_t ip)
{
    char buf[INET_ADDRSTRLEN];

    if (!ip) {
        qdict_put_null(d, key);
        return;
    }
    inet_ntop(AF_INET, &ip, buf, sizeof(buf));
    qdict_put_str(d, key, buf);
}

static const char *port_kind_name(SwPortKind k)
{
    return k == SW_PORT_SLOT ? "slot" : k == SW_PORT_UPLINK ? "uplink"
                                                             : "chain";
}

static QDict *bsw_port_dict(BladeSwitchState *s, BswPort *p)
{
    QDict *d = qdict_new();
    SwPortInfo pi;

    swcore_port_info(s->core, p->index, &pi);
    qdict_put_str(d, "name", p->name);
    qdict_put_str(d, "kind", port_kind_name(p->kind));
    if (p->kind == SW_PORT_SLOT) {
        qdict_put_int(d, "slot", p->slot);
    }
    qdict_put_bool(d, "link", p->link);
    qdict_put_bool(d, "connected", p->connected);
    qdict_put_bool(d, "sync", p->sync);
    qdict_put_bool(d, "blocked", pi.blocked);
    qdict_put_int(d, "speed_mbps", p->speed);
    put_u64(d, "rx_frames", pi.rx_frames);
    put_u64(d, "rx_bytes", pi.rx_bytes);
    /* The core hands frames to the egress queue; some never leave. */
    put_u64(d, "tx_frames", pi.tx_frames - MIN(pi.tx_frames, p->tx_drops));
    put_u64(d, "tx_bytes", pi.tx_bytes);
    put_u64(d, "rx_drops", pi.drops);
    put_u64(d, "tx_drops", p->tx_drops);
    put_u64(d, "link_changes", pi.link_changes);
    qdict_put_int(d, "macs", pi.macs);
    qdict_put_int(d, "mac_limit", pi.mac_limit);
    put_u64(d, "mac_over_limit", pi.mac_over_limit);
    qdict_put_int(d, "queue", p->egress.frames);
    if (p->kind == SW_PORT_SLOT) {
        const LaneStats *ls = lane_stats(p->lane);
        QDict *pcs = qdict_new();
        QDict *shm = qdict_new();
        uint64_t code = ls->pcs.invalid_cgs + ls->pcs.disparity_errors;

        put_u64(pcs, "code_errors", code);
        put_u64(pcs, "sync_losses", ls->pcs.sync_lost);
        put_u64(pcs, "fcs_errors", ls->pcs.fcs_errors);
        put_u64(pcs, "util_sets", ls->rx_util_sets);
        /* frames as data runs: without code groups, or materialised */
        put_u64(pcs, "data_runs_rx", ls->rx_data_runs);
        put_u64(pcs, "data_runs_materialised", ls->rx_data_materialised);
        put_u64(pcs, "data_runs_tx", ls->tx_data_runs);
        qdict_put(d, "pcs", pcs);
        /* the shared-memory rings: in use, connections on them, errors */
        qdict_put_bool(shm, "active", lane_on_rings(p->lane));
        put_u64(shm, "sessions", ls->shm_up);
        put_u64(shm, "errors", ls->shm_errors);
        put_u64(shm, "hangups", ls->shm_hangups);
        put_u64(shm, "kicks", ls->shm_kicks);
        qdict_put(d, "shm", shm);
        put_u64(d, "errors", code + ls->pcs.fcs_errors + ls->bad_records +
                             ls->protocol_errors + ls->shm_errors +
                             p->ctrl_refused);
    } else {
        put_u64(d, "errors", p->ctrl_refused);
    }
    return d;
}

/*
 * util's score is a time (ns) with the estimators that learn what a flow
 * or request costs, a load (hundredths of a percent) with the others.
 */
static bool bsw_score_in_ms(BladeSwitchState *s)
{
    return s->util_estimator == BAL_UTIL_WAIT ||
           s->util_estimator == BAL_UTIL_BACKLOG;
}

static QDict *bsw_blade_dict(BladeSwitchState *s, unsigned slot,
                             uint64_t now)
{
    QDict *d = qdict_new();
    SwBladeInfo bi;

    swcore_blade_info(s->core, slot, now, &bi);
    qdict_put_int(d, "slot", bi.slot);
    qdict_put_str(d, "port", s->ports[bi.port].name);
    if (bi.remote) {
        qdict_put_bool(d, "remote", true);
        qdict_put_str(d, "chassis", bi.chassis);
        put_u64(d, "chassis_id", bi.chassis_id);
        qdict_put_int(d, "hops", bi.hops);
    }
    if (bi.mac_known) {
        put_mac(d, "mac", bi.mac);
    } else {
        qdict_put_null(d, "mac");
    }
    qdict_put_bool(d, "in_rotation", bi.in_rotation);
    qdict_put_str(d, "reason", bi.reason);
    if (bi.reported) {
        qdict_put_int(d, "cpu", bi.cpu_pct);
        qdict_put_int(d, "irq", bi.irq_pct);
        put_u64(d, "report_age_ms", bi.report_age_ns / SCALE_MS);
    } else {
        qdict_put_null(d, "cpu");
        qdict_put_null(d, "irq");
        qdict_put_null(d, "report_age_ms");
    }
    /* null: the latest report had no contention figures (or none yet) */
    if (bi.has_contention) {
        qdict_put_int(d, "pressure", bi.psi_permille);
        qdict_put_int(d, "runnable", bi.runnable);
    } else {
        qdict_put_null(d, "pressure");
        qdict_put_null(d, "runnable");
    }
    put_u64(d, "reports", bi.reports);
    put_u64(d, "active_flows", bi.active_flows);
    put_u64(d, "new_flows", bi.new_flows);
    put_u64(d, "moved_flows", bi.moved_flows);
    qdict_put(d, "score", qnum_from_double(bsw_score_in_ms(s) ?
                                           bi.score / 1e6 : bi.score / 100.0));
    put_u64(d, "requests_in_flight", bi.requests_in_flight);
    put_u64(d, "requests_answered", bi.requests_answered);
    put_u64(d, "request_latency_us", bi.request_latency_ns / SCALE_US);
    put_u64(d, "request_cost_us", bi.request_cost_ns / SCALE_US);
    return d;
}

static QDict *bsw_share(const SwRuleInfo *ri, unsigned blade, unsigned slot)
{
    uint64_t n = ri->blade_new_flows[blade];
    QDict *e = qdict_new();

    qdict_put_int(e, "slot", slot);
    put_u64(e, "new_flows", n);
    qdict_put(e, "share", qnum_from_double(ri->new_flows ?
                                           (double)n / ri->new_flows : 0.0));
    return e;
}

static QDict *bsw_rule_dict(BladeSwitchState *s, const SwRuleInfo *ri,
                            uint64_t now)
{
    const SwRuleSpec *sp = &ri->spec;
    QDict *d = qdict_new();
    QList *blades = qlist_new(), *share = qlist_new();
    unsigned i;

    qdict_put_str(d, "name", sp->name);
    qdict_put_str(d, "kind", sp->kind == SW_RULE_SERVICE ? "service"
                                                         : "steering");
    put_ip(d, "vip", sp->vip);
    qdict_put_str(d, "protocol", sp->proto == SW_PROTO_TCP ? "tcp" : "udp");
    qdict_put_int(d, "port_min", sp->port_min);
    qdict_put_int(d, "port_max", sp->port_max);
    qdict_put_str(d, "policy", bal_policy_name(sp->policy));
    for (i = 0; i < sp->nblades; i++) {
        qlist_append_int(blades, sp->blades[i]);
        qlist_append(share, bsw_share(ri, sp->blades[i], sp->blades[i]));
    }
    /* Blades of other chassis that got flows of this rule. */
    for (i = SW_MAX_BLADES; sp->remote && i < SW_BLADES_ALL; i++) {
        SwBladeInfo bi;
        QDict *e;

        if (!ri->blade_new_flows[i] ||
            !swcore_blade_info(s->core, i, now, &bi)) {
            continue;
        }
        e = bsw_share(ri, i, bi.slot);
        qdict_put_str(e, "chassis", bi.chassis);
        qlist_append(share, e);
    }
    qdict_put(d, "blades", blades);
    qdict_put_bool(d, "remote", sp->remote);
    put_u64(d, "new_flows", ri->new_flows);
    put_u64(d, "no_blade", ri->no_blade);
    qdict_put(d, "share", share);
    return d;
}

static QDict *bsw_fabric_dict(BladeSwitchState *s, uint64_t now)
{
    QDict *d = qdict_new(), *st = qdict_new();
    QList *ports = qlist_new();
    FabStats fs;
    unsigned i;

    qdict_put_str(d, "chassis", s->chassis_name ? s->chassis_name : "");
    put_u64(d, "chassis_id", s->chassis_id);
    put_u64(d, "root_id", fab_root_id(s->fabric));
    for (i = 0; i < FAB_MAX_PORTS; i++) {
        FabPortInfo pi;
        QDict *e;

        if (!s->fab_ports[i] || !fab_port_info(s->fabric, i, now, &pi)) {
            continue;
        }
        e = qdict_new();
        qdict_put_str(e, "name", s->fab_ports[i]->name);
        qdict_put_bool(e, "link", pi.link);
        qdict_put_bool(e, "forwarding", pi.forwarding);
        qdict_put_str(e, "state", pi.state ? pi.state : "");
        qdict_put_str(e, "role", pi.role ? pi.role : "");
        qdict_put_int(e, "neighbours", pi.neighbours);
        if (pi.neighbour) {
            qdict_put_str(e, "neighbour", pi.neighbour_name);
            put_u64(e, "neighbour_id", pi.neighbour_id);
            put_u64(e, "heard_age_ms", pi.heard_age_ns / SCALE_MS);
        } else {
            qdict_put_null(e, "neighbour");
        }
        put_u64(e, "rx_adverts", pi.rx_adverts);
        put_u64(e, "tx_adverts", pi.tx_adverts);
        qlist_append(ports, e);
    }
    qdict_put(d, "ports", ports);
    fab_stats(s->fabric, &fs);
    put_u64(st, "tx_adverts", fs.tx_adverts);
    put_u64(st, "rx_adverts", fs.rx_adverts);
    put_u64(st, "rx_malformed", fs.rx_malformed);
    put_u64(st, "rx_bad_version", fs.rx_bad_version);
    put_u64(st, "rx_unauthenticated", fs.rx_unauthenticated);
    put_u64(st, "rx_bad_auth", fs.rx_bad_auth);
    put_u64(st, "rx_replayed", fs.rx_replayed);
    put_u64(st, "rx_no_echo", fs.rx_no_echo);
    put_u64(st, "rx_own", fs.rx_own);
    put_u64(st, "topology_changes", fs.topology_changes);
    put_u64(st, "route_computations", fs.route_computations);
    qdict_put(d, "stats", st);
    return d;
}

QDict *blade_switch_state(BladeSwitchState *s)
{
    uint64_t now = blade_switch_now();
    QDict *top = qdict_new(), *sw = qdict_new(), *d;
    QList *ports = qlist_new(), *blades = qlist_new(), *rules = qlist_new();
    SwFlowStats fs;
    SwMacStats ms;
    SwRuleInfo *ri = g_new(SwRuleInfo, 1);
    unsigned i;

    put_mac(sw, "mac", s->mac.a);
    qdict_put_int(sw, "slots", s->slots);
    /* Without slots the switch needs no backplane, and makes none. */
    if (s->backplane) {
        qdict_put_str(sw, "backplane", s->backplane);
    } else {
        qdict_put_null(sw, "backplane");
    }
    put_u64(sw, "now_ms", now / SCALE_MS);
    qdict_put(top, "switch", sw);

    for (i = 0; i < s->nports; i++) {
        qlist_append(ports, bsw_port_dict(s, &s->ports[i]));
        if (s->ports[i].kind == SW_PORT_SLOT) {
            qlist_append(blades, bsw_blade_dict(s, s->ports[i].slot, now));
        }
    }
    for (i = SW_MAX_BLADES; i < SW_BLADES_ALL; i++) {
        SwBladeInfo bi;

        if (swcore_blade_info(s->core, i, now, &bi)) {
            qlist_append(blades, bsw_blade_dict(s, i, now));
        }
    }
    qdict_put(top, "ports", ports);
    qdict_put(top, "blades", blades);
    qdict_put_str(top, "score_unit", bsw_score_in_ms(s) ? "ms" : "%");
    if (s->fabric) {
        qdict_put(top, "fabric", bsw_fabric_dict(s, now));
    }

    for (i = 0; swcore_rule_info(s->core, i, ri); i++) {
        qlist_append(rules, bsw_rule_dict(s, ri, now));
    }
    g_free(ri);
    qdict_put(top, "services", rules);

    swcore_flow_stats(s->core, &fs);
    d = qdict_new();
    put_u64(d, "count", fs.count);
    put_u64(d, "capacity", fs.capacity);
    put_u64(d, "created", fs.created);
    put_u64(d, "closed", fs.closed);
    put_u64(d, "expired", fs.expired);
    put_u64(d, "evicted", fs.evicted);
    put_u64(d, "moved", fs.moved);
    put_u64(d, "memory", fs.memory);
    qdict_put(top, "flows", d);

    swcore_mac_stats(s->core, &ms);
    d = qdict_new();
    put_u64(d, "count", ms.count);
    put_u64(d, "capacity", ms.capacity);
    put_u64(d, "learned", ms.learned);
    put_u64(d, "moved", ms.moved);
    put_u64(d, "aged", ms.aged);
    put_u64(d, "full", ms.full);
    put_u64(d, "memory", ms.memory);
    qdict_put(top, "mac_table", d);

    d = qdict_new();
    for (i = 0; i < SW_DROP__MAX; i++) {
        put_u64(d, swcore_drop_name(i), swcore_drops(s->core, i));
    }
    qdict_put(top, "drops", d);
    return top;
}

static void bsw_get_state(Object *obj, Visitor *v, const char *name,
                          void *opaque, Error **errp)
{
    QObject *state = QOBJECT(blade_switch_state(BLADE_SWITCH(obj)));

    visit_type_any(v, name, &state, errp);
    qobject_unref(state);
}

BladeSwitchState *blade_switch_find(const char *id, Error **errp)
{
    bool ambiguous = false;
    Object *obj;

    if (id) {
        obj = object_resolve_path_type(id, TYPE_BLADE_SWITCH, &ambiguous);
        if (!obj) {
            error_setg(errp, ambiguous ? "'%s' names several blade-switches"
                                       : "there is no blade-switch '%s'", id);
            return NULL;
        }
    } else {
        obj = object_resolve_path_type("", TYPE_BLADE_SWITCH, &ambiguous);
        if (!obj) {
            error_setg(errp, ambiguous ? "there are several blade-switches: "
                                         "say which with 'switch'"
                                       : "there is no blade-switch");
            return NULL;
        }
    }
    return BLADE_SWITCH(obj);
}

/* ---- life cycle ---------------------------------------------------------- */

/*
 * The backplane directory: private to this user, since whoever can enter
 * it can take a slot.  Created (0700) if missing.
 */
static bool bsw_backplane_dir(BladeSwitchState *s, Error **errp)
{
    struct stat st;

    if (!s->backplane) {
        const char *base = g_getenv("XDG_RUNTIME_DIR");
        g_autofree char *tmpl = g_build_filename(base ? base :
                                                 g_get_tmp_dir(),
                                                 "bladeplane-XXXXXX", NULL);

        /* g_mkdtemp_full() fills the template in, or leaves it ours. */
        if (!g_mkdtemp_full(tmpl, 0700)) {
            error_setg_errno(errp, errno, "blade-switch: cannot create a "
                             "backplane directory");
            return false;
        }
        s->backplane = g_steal_pointer(&tmpl);
        s->backplane_made = true;
        return true;
    }
    if (!*s->backplane) {
        error_setg(errp, "blade-switch: backplane is empty");
        return false;
    }
    if (mkdir(s->backplane, 0700) == 0) {
        s->backplane_made = true;
        return true;
    }
    if (errno != EEXIST) {
        error_setg_errno(errp, errno, "blade-switch: cannot create backplane "
                         "directory '%s'", s->backplane);
        return false;
    }
    if (stat(s->backplane, &st) < 0 || !S_ISDIR(st.st_mode)) {
        error_setg(errp, "blade-switch: backplane '%s' is not a directory",
                   s->backplane);
        return false;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077)) {
        error_setg(errp, "blade-switch: backplane directory '%s' must be "
                   "private (owned by this user, mode 0700, not %04o)",
                   s->backplane, (unsigned)(st.st_mode & 07777));
        return false;
    }
    return true;
}

static bool bsw_check_props(BladeSwitchState *s, Error **errp)
{
    static const char *const estimators[BAL_UTIL__MAX] = {
        [BAL_UTIL_WAIT] = "wait",
        [BAL_UTIL_BACKLOG] = "backlog",
        [BAL_UTIL_NET] = "net",
        [BAL_UTIL_REPORTED] = "reported",
    };
    const char *pcs = s->pcs_str ? s->pcs_str : "8b10b";
    unsigned i;

    s->util_estimator = BAL_UTIL_WAIT;
    if (s->util_estimator_str) {
        for (i = 0; i < BAL_UTIL__MAX; i++) {
            if (!strcmp(s->util_estimator_str, estimators[i])) {
                break;
            }
        }
        if (i == BAL_UTIL__MAX) {
            error_setg(errp, "blade-switch: util-estimator must be "
                       "'wait', 'backlog', 'net' or 'reported', not '%s'",
                       s->util_estimator_str);
            return false;
        }
        s->util_estimator = i;
    }

    if (!strcmp(pcs, "8b10b")) {
        s->pcs = LANE_PCS_8B10B;
    } else if (!strcmp(pcs, "raw")) {
        s->pcs = LANE_PCS_RAW;
    } else {
        error_setg(errp, "blade-switch: pcs must be '8b10b' or 'raw', not "
                   "'%s'", pcs);
        return false;
    }
    if (s->slots > BLADE_SWITCH_MAX_SLOTS) {
        error_setg(errp, "blade-switch: slots must be 0 to %u, not %u",
                   BLADE_SWITCH_MAX_SLOTS, s->slots);
        return false;
    }
    if (!blade_lane_parse_timing("blade-switch", s->timing_str,
                                 s->vtime_latency_ns, &s->vtime, errp)) {
        return false;
    }
    if (s->vtime && !qtest_enabled()) {
        error_setg(errp, "blade-switch: timing=virtual drives the chassis's "
                   "own clock: start it with -accel qtest (no CPU, a clock "
                   "that moves only when told)");
        return false;
    }
    if (s->vtime && (s->uplink_conf.peers.ncs[0] || s->nchain)) {
        error_setg(errp, "blade-switch: timing=virtual: the uplink and "
                   "chain ports are netdevs that run in real time; virtual "
                   "time covers the slots only");
        return false;
    }
    if (s->vtime_slots > s->slots) {
        error_setg(errp, "blade-switch: vtime-slots %u is above slots %u",
                   s->vtime_slots, s->slots);
        return false;
    }
    if (s->slot_speed > BSW_MAX_SPEED || s->uplink_speed > BSW_MAX_SPEED) {
        error_setg(errp, "blade-switch: speeds are 0 (unpaced) to %u Mb/s",
                   BSW_MAX_SPEED);
        return false;
    }
    if (!s->mac_aging_s || s->mac_aging_s > 1000000) {
        error_setg(errp, "blade-switch: mac-aging must be 1 to 1000000 s");
        return false;
    }
    if (!s->flow_idle_s || s->flow_idle_s > 1000000) {
        error_setg(errp, "blade-switch: flow-idle must be 1 to 1000000 s");
        return false;
    }
    if (!s->util_stale_ms || s->util_stale_ms > 3600000) {
        error_setg(errp, "blade-switch: util-stale must be 1 to 3600000 ms");
        return false;
    }
    if (s->mac_table_size < 16 || s->mac_table_size > (1u << 20)) {
        error_setg(errp, "blade-switch: mac-table-size must be 16 to %u",
                   1u << 20);
        return false;
    }
    if (s->mac_limit > s->mac_table_size) {
        error_setg(errp, "blade-switch: mac-limit must be 0 (none) to "
                   "mac-table-size (%u)", s->mac_table_size);
        return false;
    }
    if (s->flow_table_size < 16 || s->flow_table_size > (1u << 22)) {
        error_setg(errp, "blade-switch: flow-table-size must be 16 to %u",
                   1u << 22);
        return false;
    }
    if (s->nchain > FAB_MAX_PORTS) {
        error_setg(errp, "blade-switch: %u chain ports, at most %d",
                   s->nchain, FAB_MAX_PORTS);
        return false;
    }
    if (s->chain_speed > BSW_MAX_SPEED) {
        error_setg(errp, "blade-switch: speeds are 0 (unpaced) to %u Mb/s",
                   BSW_MAX_SPEED);
        return false;
    }
    if (s->fabric_interval_ms < 10 || s->fabric_interval_ms > 60000) {
        error_setg(errp, "blade-switch: fabric-interval must be 10 to 60000 "
                   "ms");
        return false;
    }
    if (s->hop_cost > 100) {
        error_setg(errp, "blade-switch: hop-cost must be 0 to 100 %%");
        return false;
    }
    if (s->chassis_name && (!*s->chassis_name ||
                            strlen(s->chassis_name) >= FAB_NAME_LEN)) {
        error_setg(errp, "blade-switch: chassis must be 1 to %d characters",
                   FAB_NAME_LEN - 1);
        return false;
    }
    if (!s->queue_frames || s->queue_frames > BSW_MAX_QUEUE) {
        error_setg(errp, "blade-switch: queue-frames must be 1 to %u",
                   BSW_MAX_QUEUE);
        return false;
    }
    return true;
}

static void bsw_port_init(BladeSwitchState *s, BswPort *p, SwPortKind kind,
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
    queue_init(&p->ingress, BSW_INGRESS_FRAMES, BSW_INGRESS_OCTETS);
    queue_init(&p->egress, s->queue_frames, 0);
    /* A round of advertisements is at most 16 frames. */
    queue_init(&p->control, 64, 0);
}

static void bsw_netdev_port(BladeSwitchState *s, BswPort *p, SwPortKind kind,
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

/* The control protocol over the chain ports. */
static bool bsw_open_fabric(BladeSwitchState *s, Error **errp)
{
    DeviceState *dev = DEVICE(s);
    FabConfig fc;
    unsigned i;

    fab_config_init(&fc);
    if (!s->chassis_id) {
        for (i = 0; i < 6; i++) {
            s->chassis_id = s->chassis_id << 8 | s->mac.a[i];
        }
    }
    fc.chassis_id = s->chassis_id;
    pstrcpy(fc.name, sizeof(fc.name), s->chassis_name ? s->chassis_name :
                                      dev->id ? dev->id : "chassis");
    memcpy(fc.mac, s->mac.a, 6);
    fc.priority = s->fabric_priority;
    fc.interval_ns = (uint64_t)s->fabric_interval_ms * SCALE_MS;
    if (s->fabric_key_secret) {
        g_autofree uint8_t *key = NULL;
        size_t len = 0;

        if (qcrypto_secret_lookup(s->fabric_key_secret, &key, &len,
                                  errp) < 0) {
            return false;
        }
        if (len == 0 || len > FAB_MAX_KEY) {
            error_setg(errp, "blade-switch: the fabric key must be 1 to %d "
                       "bytes, secret '%s' has %zu", FAB_MAX_KEY,
                       s->fabric_key_secret, len);
            return false;
        }
        memcpy(fc.key, key, len);
        fc.key_len = len;
    }
    s->fabric = fab_new(&fc, &bsw_fab_ops, s);
    memset(fc.key, 0, sizeof(fc.key));
    if (!s->fabric) {
        error_setg(errp, "blade-switch: cannot start the control protocol");
        return false;
    }
    s->fabric_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, bsw_fabric_timer, s);
    s->fabric_timer_at = UINT64_MAX;
    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];
        int fp;

        if (p->kind != SW_PORT_CHAIN) {
            continue;
        }
        fp = fab_add_port(s->fabric, p->name);
        if (fp < 0 || fp >= FAB_MAX_PORTS) {
            error_setg(errp, "blade-switch: too many chain ports");
            return false;
        }
        p->fab_port = fp;
        s->fab_ports[fp] = p;
    }
    return true;
}

/* Whether the slots come as chardevN=ID rather than backplane=DIR. */
static bool bsw_slot_chardevs(BladeSwitchState *s)
{
    unsigned i;

    for (i = 0; i < BLADE_SWITCH_MAX_SLOTS; i++) {
        if (qemu_chr_fe_backend_connected(&s->slot_chr[i])) {
            return true;
        }
    }
    return false;
}

static bool bsw_check_slot_chardevs(BladeSwitchState *s, Error **errp)
{
    unsigned i;

    if (!bsw_slot_chardevs(s)) {
        return true;
    }
    if (s->backplane) {
        error_setg(errp, "blade-switch: give either backplane=DIR or "
                   "chardev0..chardev%u, not both", s->slots ? s->slots - 1
                                                             : 0);
        return false;
    }
    for (i = 0; i < BLADE_SWITCH_MAX_SLOTS; i++) {
        bool has = qemu_chr_fe_backend_connected(&s->slot_chr[i]);

        if (i < s->slots && !has) {
            error_setg(errp, "blade-switch: slot %u has no chardev%u (with "
                       "chardevs, every one of the %u slots needs one)",
                       i, i, s->slots);
            return false;
        }
        if (i >= s->slots && has) {
            error_setg(errp, "blade-switch: chardev%u is for slot %u, but "
                       "there are only %u slots", i, i, s->slots);
            return false;
        }
    }
    return true;
}

/*
 * A slot's lane, over its chardevN or over the socket chardev the
 * backplane shorthand makes: a server at DIR/slotN.sock that does not
 * wait for its blade.
 */
static bool bsw_open_lane(BladeSwitchState *s, BswPort *p, Error **errp)
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
    lane_config_init(&cfg, LANE_ROLE_STREAM, NULL);
    cfg.pcs = s->pcs;
    cfg.speed_mbps = s->slot_speed;
    /* The chassis reports no load of its own on the backplane. */
    cfg.util_interval_ns = 0;
    /* a slot attaches to the rings its blade offers; see blade-lane.h */
    cfg.shm = LANE_SHM_ACCEPT;
    cfg.vtime = s->vtime;
    cfg.vtime_latency_ns = s->vtime_latency_ns;
    p->speed = s->slot_speed;
    p->bl = blade_lane_new(DEVICE(s), be, &cfg, &bsw_lane_ops,
                           bsw_lane_changed, p, errp);
    if (!p->bl) {
        error_prepend(errp, "blade-switch: slot %u: ", p->slot);
        return false;
    }
    p->lane = blade_lane_lane(p->bl);
    trace_blade_switch_slot_open(p->slot, path ? path :
                                 qemu_chr_fe_get_driver(be)->label);
    return true;
}

static bool bsw_open_capture(BladeSwitchState *s, Error **errp)
{
    unsigned i;

    if (!s->capture_dir) {
        return true;
    }
    if (g_mkdir_with_parents(s->capture_dir, 0700) < 0) {
        error_setg_errno(errp, errno, "blade-switch: cannot create "
                         "capture-dir '%s'", s->capture_dir);
        return false;
    }
    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];
        g_autofree char *pcap = g_strdup_printf("%s/%s.pcap", s->capture_dir,
                                                p->name);
        g_autofree char *log = p->kind == SW_PORT_SLOT ?
            g_strdup_printf("%s/%s.util.log", s->capture_dir, p->name) :
            NULL;

        if (!blade_switch_capture(s, p->name, pcap, log, errp)) {
            return false;
        }
    }
    return true;
}

/* Undo what bsw_port_init() and the bsw_open_*() of the port did. */
static void bsw_port_free(BswPort *p)
{
    BladeSwitchState *s = p->s;

    if (p->bl) {
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
    queue_purge(&p->ingress);
    queue_purge(&p->egress);
    queue_purge(&p->control);
}

/*
 * Every chassis is its own QEMU process, where QEMU's default MAC would be
 * the same for all: derive one from the backplane directory instead
 * (stable across restarts of the same chassis), random without one.
 */
static void bsw_default_mac(BladeSwitchState *s)
{
    static const MACAddr zero;
    uint32_t h;

    if (memcmp(&s->mac, &zero, sizeof(zero))) {
        return;
    }
    h = s->backplane ? g_str_hash(s->backplane) : g_random_int();
    s->mac.a[0] = 0x52;
    s->mac.a[1] = 0x54;
    s->mac.a[2] = 0x00;
    s->mac.a[3] = h >> 16;
    s->mac.a[4] = h >> 8;
    s->mac.a[5] = h;
}

/*
 * QEMU does not unrealize devices when it exits: take the slot sockets
 * (and the backplane directory, if the switch made it) away then.
 */
static void bsw_exit_notify(Notifier *n, void *data)
{
    BladeSwitchState *s = container_of(n, BladeSwitchState, exit);
    unsigned i;

    for (i = 0; s->backplane && i < s->nports; i++) {
        if (s->ports[i].kind == SW_PORT_SLOT) {
            g_autofree char *path = g_strdup_printf("%s/slot%u.sock",
                                                    s->backplane,
                                                    s->ports[i].slot);

            unlink(path);
        }
    }
    if (s->backplane_made) {
        rmdir(s->backplane);
    }
}

static void bsw_unrealize(DeviceState *dev);

static void bsw_realize(DeviceState *dev, Error **errp)
{
    BladeSwitchState *s = BLADE_SWITCH(dev);
    SwConfig cfg;
    unsigned i;

    if (!bsw_check_props(s, errp)) {
        return;
    }
    if (!bsw_check_slot_chardevs(s, errp)) {
        return;
    }
    if (s->slots && !bsw_slot_chardevs(s) && !bsw_backplane_dir(s, errp)) {
        return;
    }
    bsw_default_mac(s);
    swcore_config_init(&cfg);
    memcpy(cfg.mac, s->mac.a, 6);
    cfg.mac_table_size = s->mac_table_size;
    cfg.mac_aging_ns = (uint64_t)s->mac_aging_s * NANOSECONDS_PER_SECOND;
    cfg.flow_table_size = s->flow_table_size;
    cfg.flow_idle_ns = (uint64_t)s->flow_idle_s * NANOSECONDS_PER_SECOND;
    cfg.util_stale_ns = (uint64_t)s->util_stale_ms * SCALE_MS;
    cfg.seed = s->seed ? s->seed : g_random_int() | (uint64_t)g_random_int()
                                                    << 32;
    cfg.hop_cost_pct = s->hop_cost;
    cfg.bal.util_estimator = s->util_estimator;
    s->core = swcore_new(&cfg, &bsw_core_ops, s);
    if (!s->core) {
        error_setg(errp, "blade-switch: cannot allocate the MAC and flow "
                   "tables");
        return;
    }
    s->core_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, bsw_core_timer, s);
    s->core_timer_at = UINT64_MAX;
    s->event_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, bsw_event_timer, s);
    memset(s->blade_events, 0, sizeof(s->blade_events));
    s->bh = qemu_bh_new_guarded(bsw_bh, s, &dev->mem_reentrancy_guard);
    if (s->vtime) {
        s->vtime_bh = qemu_bh_new_guarded(bsw_vtime_advance, s,
                                          &dev->mem_reentrancy_guard);
        s->vtime_fwd_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL,
                                          bsw_vtime_fwd_timer, s);
        s->vtime_wall_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                           bsw_vtime_wall_timer, s);
    }

    s->ports = g_new0(BswPort, s->slots + 1 + s->nchain);
    for (i = 0; i < s->slots; i++) {
        g_autofree char *name = g_strdup_printf("slot%u", i);

        bsw_port_init(s, &s->ports[s->nports++], SW_PORT_SLOT, name, i);
    }
    if (s->uplink_conf.peers.ncs[0]) {
        bsw_netdev_port(s, &s->ports[s->nports++], SW_PORT_UPLINK, "uplink",
                        &s->uplink_conf.peers, s->uplink_speed);
    }
    for (i = 0; i < s->nchain; i++) {
        g_autofree char *name = g_strdup_printf("chain%u", i);

        if (!s->chain_peers[i].ncs[0]) {
            error_setg(errp, "blade-switch: chain[%u] names no netdev", i);
            bsw_unrealize(dev);
            return;
        }
        bsw_netdev_port(s, &s->ports[s->nports++], SW_PORT_CHAIN, name,
                        &s->chain_peers[i], s->chain_speed);
    }
    if (s->nchain && !bsw_open_fabric(s, errp)) {
        bsw_unrealize(dev);
        return;
    }
    for (i = 0; i < s->nports; i++) {
        if (s->ports[i].kind == SW_PORT_SLOT &&
            !bsw_open_lane(s, &s->ports[i], errp)) {
            bsw_unrealize(dev);
            return;
        }
    }
    if (!bsw_open_capture(s, errp)) {
        bsw_unrealize(dev);
        return;
    }
    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];

        if (p->kind == SW_PORT_SLOT) {
            bsw_lane_sync(p);
        } else if (qemu_get_queue(p->nic)->peer->info->type !=
                   NET_CLIENT_DRIVER_STREAM) {
            bsw_port_update_link(p);
        }
        /*
         * A stream netdev says its link is up before it has a socket (it
         * starts listening or connecting from the main loop), and QEMU
         * 10.0 crashes if a frame reaches it then: its link is first
         * looked at by the poll timer.
         */
    }
    s->exit.notify = bsw_exit_notify;
    qemu_add_exit_notifier(&s->exit);
    if (s->nports > s->slots) {
        s->poll_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, bsw_poll_timer, s);
        timer_mod(s->poll_timer, blade_switch_now() + BSW_POLL_NS);
    }
    bsw_fabric_rearm(s);
}

static void bsw_unrealize(DeviceState *dev)
{
    BladeSwitchState *s = BLADE_SWITCH(dev);
    unsigned i;

    for (i = 0; i < s->nports; i++) {
        bsw_port_free(&s->ports[i]);
    }
    if (s->exit.notify) {
        qemu_remove_exit_notifier(&s->exit);
        s->exit.notify = NULL;
    }
    if (s->poll_timer) {
        timer_free(s->poll_timer);
        s->poll_timer = NULL;
    }
    if (s->fabric_timer) {
        timer_free(s->fabric_timer);
        s->fabric_timer = NULL;
    }
    fab_free(s->fabric);
    s->fabric = NULL;
    memset(s->fab_ports, 0, sizeof(s->fab_ports));
    g_free(s->ports);
    s->ports = NULL;
    s->nports = 0;
    if (s->backplane_made) {
        rmdir(s->backplane);
        s->backplane_made = false;
    }
    if (s->bh) {
        qemu_bh_delete(s->bh);
        s->bh = NULL;
    }
    if (s->core_timer) {
        timer_free(s->core_timer);
        s->core_timer = NULL;
    }
    if (s->event_timer) {
        timer_free(s->event_timer);
        s->event_timer = NULL;
    }
    if (s->vtime_bh) {
        qemu_bh_delete(s->vtime_bh);
        s->vtime_bh = NULL;
    }
    timer_free(s->vtime_fwd_timer);
    timer_free(s->vtime_wall_timer);
    s->vtime_fwd_timer = s->vtime_wall_timer = NULL;
    swcore_free(s->core);
    s->core = NULL;
}

/*
 * The switch's state is its live connections (lanes, netdevs) and what it
 * learned from them: a snapshot could not bring those back.  Say so
 * rather than lose them quietly.
 */
static const VMStateDescription vmstate_blade_switch = {
    .name = TYPE_BLADE_SWITCH,
    .unmigratable = 1,
};

/*
 * chardev0 .. chardev63: one per slot, as rocker has one netdev per port.
 * Separate properties rather than an array: they work in -device's
 * key=value form as well as in JSON, and name the slot they are for.
 */
QEMU_BUILD_BUG_ON(BLADE_SWITCH_MAX_SLOTS != 64);

static const Property bsw_properties[] = {
    DEFINE_PROP_UINT32("slots", BladeSwitchState, slots, 4),
    DEFINE_PROP_STRING("timing", BladeSwitchState, timing_str),
    DEFINE_PROP_UINT32("vtime-latency-ns", BladeSwitchState, vtime_latency_ns,
                       BLADE_VTIME_LATENCY_NS),
    DEFINE_PROP_UINT32("vtime-wait-ms", BladeSwitchState, vtime_wait_ms,
                       BLADE_VTIME_WAIT_MS),
    DEFINE_PROP_UINT32("vtime-slots", BladeSwitchState, vtime_slots, 0),
    DEFINE_PROP_STRING("backplane", BladeSwitchState, backplane),
    DEFINE_PROP_CHR("chardev0", BladeSwitchState, slot_chr[0]),
    DEFINE_PROP_CHR("chardev1", BladeSwitchState, slot_chr[1]),
    DEFINE_PROP_CHR("chardev2", BladeSwitchState, slot_chr[2]),
    DEFINE_PROP_CHR("chardev3", BladeSwitchState, slot_chr[3]),
    DEFINE_PROP_CHR("chardev4", BladeSwitchState, slot_chr[4]),
    DEFINE_PROP_CHR("chardev5", BladeSwitchState, slot_chr[5]),
    DEFINE_PROP_CHR("chardev6", BladeSwitchState, slot_chr[6]),
    DEFINE_PROP_CHR("chardev7", BladeSwitchState, slot_chr[7]),
    DEFINE_PROP_CHR("chardev8", BladeSwitchState, slot_chr[8]),
    DEFINE_PROP_CHR("chardev9", BladeSwitchState, slot_chr[9]),
    DEFINE_PROP_CHR("chardev10", BladeSwitchState, slot_chr[10]),
    DEFINE_PROP_CHR("chardev11", BladeSwitchState, slot_chr[11]),
    DEFINE_PROP_CHR("chardev12", BladeSwitchState, slot_chr[12]),
    DEFINE_PROP_CHR("chardev13", BladeSwitchState, slot_chr[13]),
    DEFINE_PROP_CHR("chardev14", BladeSwitchState, slot_chr[14]),
    DEFINE_PROP_CHR("chardev15", BladeSwitchState, slot_chr[15]),
    DEFINE_PROP_CHR("chardev16", BladeSwitchState, slot_chr[16]),
    DEFINE_PROP_CHR("chardev17", BladeSwitchState, slot_chr[17]),
    DEFINE_PROP_CHR("chardev18", BladeSwitchState, slot_chr[18]),
    DEFINE_PROP_CHR("chardev19", BladeSwitchState, slot_chr[19]),
    DEFINE_PROP_CHR("chardev20", BladeSwitchState, slot_chr[20]),
    DEFINE_PROP_CHR("chardev21", BladeSwitchState, slot_chr[21]),
    DEFINE_PROP_CHR("chardev22", BladeSwitchState, slot_chr[22]),
    DEFINE_PROP_CHR("chardev23", BladeSwitchState, slot_chr[23]),
    DEFINE_PROP_CHR("chardev24", BladeSwitchState, slot_chr[24]),
    DEFINE_PROP_CHR("chardev25", BladeSwitchState, slot_chr[25]),
    DEFINE_PROP_CHR("chardev26", BladeSwitchState, slot_chr[26]),
    DEFINE_PROP_CHR("chardev27", BladeSwitchState, slot_chr[27]),
    DEFINE_PROP_CHR("chardev28", BladeSwitchState, slot_chr[28]),
    DEFINE_PROP_CHR("chardev29", BladeSwitchState, slot_chr[29]),
    DEFINE_PROP_CHR("chardev30", BladeSwitchState, slot_chr[30]),
    DEFINE_PROP_CHR("chardev31", BladeSwitchState, slot_chr[31]),
    DEFINE_PROP_CHR("chardev32", BladeSwitchState, slot_chr[32]),
    DEFINE_PROP_CHR("chardev33", BladeSwitchState, slot_chr[33]),
    DEFINE_PROP_CHR("chardev34", BladeSwitchState, slot_chr[34]),
    DEFINE_PROP_CHR("chardev35", BladeSwitchState, slot_chr[35]),
    DEFINE_PROP_CHR("chardev36", BladeSwitchState, slot_chr[36]),
    DEFINE_PROP_CHR("chardev37", BladeSwitchState, slot_chr[37]),
    DEFINE_PROP_CHR("chardev38", BladeSwitchState, slot_chr[38]),
    DEFINE_PROP_CHR("chardev39", BladeSwitchState, slot_chr[39]),
    DEFINE_PROP_CHR("chardev40", BladeSwitchState, slot_chr[40]),
    DEFINE_PROP_CHR("chardev41", BladeSwitchState, slot_chr[41]),
    DEFINE_PROP_CHR("chardev42", BladeSwitchState, slot_chr[42]),
    DEFINE_PROP_CHR("chardev43", BladeSwitchState, slot_chr[43]),
    DEFINE_PROP_CHR("chardev44", BladeSwitchState, slot_chr[44]),
    DEFINE_PROP_CHR("chardev45", BladeSwitchState, slot_chr[45]),
    DEFINE_PROP_CHR("chardev46", BladeSwitchState, slot_chr[46]),
    DEFINE_PROP_CHR("chardev47", BladeSwitchState, slot_chr[47]),
    DEFINE_PROP_CHR("chardev48", BladeSwitchState, slot_chr[48]),
    DEFINE_PROP_CHR("chardev49", BladeSwitchState, slot_chr[49]),
    DEFINE_PROP_CHR("chardev50", BladeSwitchState, slot_chr[50]),
    DEFINE_PROP_CHR("chardev51", BladeSwitchState, slot_chr[51]),
    DEFINE_PROP_CHR("chardev52", BladeSwitchState, slot_chr[52]),
    DEFINE_PROP_CHR("chardev53", BladeSwitchState, slot_chr[53]),
    DEFINE_PROP_CHR("chardev54", BladeSwitchState, slot_chr[54]),
    DEFINE_PROP_CHR("chardev55", BladeSwitchState, slot_chr[55]),
    DEFINE_PROP_CHR("chardev56", BladeSwitchState, slot_chr[56]),
    DEFINE_PROP_CHR("chardev57", BladeSwitchState, slot_chr[57]),
    DEFINE_PROP_CHR("chardev58", BladeSwitchState, slot_chr[58]),
    DEFINE_PROP_CHR("chardev59", BladeSwitchState, slot_chr[59]),
    DEFINE_PROP_CHR("chardev60", BladeSwitchState, slot_chr[60]),
    DEFINE_PROP_CHR("chardev61", BladeSwitchState, slot_chr[61]),
    DEFINE_PROP_CHR("chardev62", BladeSwitchState, slot_chr[62]),
    DEFINE_PROP_CHR("chardev63", BladeSwitchState, slot_chr[63]),
    DEFINE_PROP_UINT32("slot-speed", BladeSwitchState, slot_speed, 1000),
    DEFINE_PROP_STRING("pcs", BladeSwitchState, pcs_str),
    DEFINE_PROP_NETDEV("uplink", BladeSwitchState, uplink_conf.peers),
    DEFINE_PROP_UINT32("uplink-speed", BladeSwitchState, uplink_speed,
                       10000),
    DEFINE_PROP_MACADDR("mac", BladeSwitchState, mac),
    DEFINE_PROP_UINT32("mac-aging", BladeSwitchState, mac_aging_s, 300),
    DEFINE_PROP_UINT32("mac-limit", BladeSwitchState, mac_limit,
                       SW_SLOT_MAC_LIMIT),
    DEFINE_PROP_UINT32("mac-table-size", BladeSwitchState, mac_table_size,
                       4096),
    DEFINE_PROP_UINT32("flow-idle", BladeSwitchState, flow_idle_s, 60),
    DEFINE_PROP_UINT32("flow-table-size", BladeSwitchState, flow_table_size,
                       65536),
    DEFINE_PROP_UINT32("util-stale", BladeSwitchState, util_stale_ms, 1000),
    DEFINE_PROP_UINT32("queue-frames", BladeSwitchState, queue_frames, 256),
    DEFINE_PROP_UINT64("seed", BladeSwitchState, seed, 0),
    DEFINE_PROP_STRING("capture-dir", BladeSwitchState, capture_dir),
    DEFINE_PROP_ARRAY("chain", BladeSwitchState, nchain, chain_peers,
                      qdev_prop_netdev, NICPeers),
    DEFINE_PROP_UINT32("chain-speed", BladeSwitchState, chain_speed, 10000),
    DEFINE_PROP_STRING("chassis", BladeSwitchState, chassis_name),
    DEFINE_PROP_UINT64("chassis-id", BladeSwitchState, chassis_id, 0),
    DEFINE_PROP_UINT16("fabric-priority", BladeSwitchState, fabric_priority,
                       32768),
    DEFINE_PROP_UINT32("fabric-interval", BladeSwitchState,
                       fabric_interval_ms, 100),
    DEFINE_PROP_STRING("fabric-key-secret", BladeSwitchState,
                       fabric_key_secret),
    DEFINE_PROP_UINT32("hop-cost", BladeSwitchState, hop_cost, 10),
    DEFINE_PROP_STRING("util-estimator", BladeSwitchState,
                       util_estimator_str),
};

static void bsw_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);

    dc->realize = bsw_realize;
    dc->unrealize = bsw_unrealize;
    dc->desc = "bladeplane switch blade: backplane slots, uplink, L2 "
               "switching and load balancing by the blades' reported "
               "utilization";
    dc->user_creatable = true;
    dc->vmsd = &vmstate_blade_switch;
    device_class_set_props(dc, bsw_properties);
    set_bit(DEVICE_CATEGORY_NETWORK, dc->categories);
    object_class_property_add(klass, "state", "any", bsw_get_state, NULL,
                              NULL, NULL);
}

static const TypeInfo bsw_info = {
    .name = TYPE_BLADE_SWITCH,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(BladeSwitchState),
    .class_init = bsw_class_init,
};

static void bsw_register_types(void)
{
    type_register_static(&bsw_info);
}

type_init(bsw_register_types)
