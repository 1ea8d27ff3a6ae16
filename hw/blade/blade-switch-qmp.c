/*
 * bladeplane switch blade: management.  The switch's state as QAPI's
 * BladeSwitchInfo (query-blade-switch), the QMP events, the QMP commands
 * and the HMP "info blade-switch", which prints the same struct.
 * blade.json and docs/switch-blade.md describe them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-blade.h"
#include "qapi/qapi-events-blade.h"
#include "qobject/qdict.h"
#include <arpa/inet.h>
#include "blade-switch-internal.h"

/* QMP events: one per port or slot per period (docs/switch-blade.md). */
#define BSW_EVENT_PERIOD_NS NANOSECONDS_PER_SECOND

/* ---- QMP events ---------------------------------------------------------- */

/*
 * Whether a change may be sent now.  If not, it is held: the event timer
 * sends the latest state when the gate's period ends.
 */
bool bsw_event_pass(BladeSwitchState *s, BswEventGate *g)
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

void bsw_send_port_link(BladeSwitchState *s, BswPort *p, bool up)
{
    g_autofree char *path = object_get_canonical_path(OBJECT(s));

    qapi_event_send_blade_switch_port_link(path, p->name, up, p->connected,
                                           p->sync);
}

void bsw_send_blade(BladeSwitchState *s, unsigned slot)
{
    g_autofree char *path = object_get_canonical_path(OBJECT(s));
    BswBladeEvent *e = &s->blade_events[slot];

    qapi_event_send_blade_switch_blade(path, slot, e->in_rotation,
                                       e->reason);
}

void bsw_event_timer(void *opaque)
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

/* ---- management ---------------------------------------------------------- */

static char *bsw_mac_str(const uint8_t *m)
{
    return g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x",
                           m[0], m[1], m[2], m[3], m[4], m[5]);
}

static char *bsw_ip_str(uint32_t ip)
{
    char buf[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &ip, buf, sizeof(buf));
    return g_strdup(buf);
}

static BladeSwitchPortKind bsw_port_kind(SwPortKind k)
{
    return k == SW_PORT_SLOT ? BLADE_SWITCH_PORT_KIND_SLOT :
           k == SW_PORT_UPLINK ? BLADE_SWITCH_PORT_KIND_UPLINK :
                                 BLADE_SWITCH_PORT_KIND_CHAIN;
}

static BladeLaneVtimeStats *bsw_lane_vtime_info(const LaneStats *ls,
                                                 const Lane *lane)
{
    BladeLaneVtimeStats *vt = g_new0(BladeLaneVtimeStats, 1);
    const VtimeLink *l = lane_vtime_link(lane);

    vt->stamps_raised = ls->vtime.tx_stamps_raised;
    vt->quiet_raised = ls->vtime.tx_quiet_raised;
    vt->tx_waits = ls->tx_queue_full;
    vt->late = ls->vtime_late;
    vt->stamps = ls->vtime.stamps;
    vt->held = ls->vtime_held;
    vt->promises = ls->vtime.promises;
    vt->promises_sent = ls->vtime.tx_promises;
    vt->quiet_sent = ls->vtime.tx_quiet;
    vt->quiet_stale = ls->vtime.quiet_stale;
    vt->cuts = ls->vtime_cuts;
    vt->new_peers = ls->vtime_new_peers;
    if (l) {
        /* the horizon less the latency (promises, stamps, quiet), or now */
        vt->rejoin_ns = MAX(MAX(l->peer_promise, l->last_stamp),
                            MAX(l->peer_quiet, blade_switch_now()));
    }
    return vt;
}

static BladeSwitchPortInfo *bsw_port_info(BladeSwitchState *s, BswPort *p)
{
    BladeSwitchPortInfo *info = g_new0(BladeSwitchPortInfo, 1);
    uint64_t tx_drops = p->tx_drops + bsw_thread_tx_drops(p);
    SwPortInfo pi;

    swcore_port_info(s->core, p->index, &pi);
    info->name = g_strdup(p->name);
    info->kind = bsw_port_kind(p->kind);
    if (p->kind == SW_PORT_SLOT) {
        info->has_slot = true;
        info->slot = p->slot;
    }
    info->link = p->link;
    info->connected = p->connected;
    info->sync = p->sync;
    info->blocked = pi.blocked;
    info->speed_mbps = p->speed;
    info->rx_frames = pi.rx_frames;
    info->rx_bytes = pi.rx_bytes;
    /* The core hands frames to the egress queue; some never leave. */
    info->tx_frames = pi.tx_frames - MIN(pi.tx_frames, tx_drops);
    info->tx_bytes = pi.tx_bytes;
    info->rx_drops = pi.drops + p->rx_overflow;
    info->rx_overflow = p->rx_overflow;
    info->tx_drops = tx_drops;
    info->link_changes = pi.link_changes;
    info->macs = pi.macs;
    info->mac_limit = pi.mac_limit;
    info->mac_over_limit = pi.mac_over_limit;
    info->queue = p->th ? bsw_thread_queued(p) : p->egress.frames;
    if (p->th) {
        info->iothread = g_strdup(object_get_canonical_path_component(
                                      OBJECT(p->th->iothread)));
    }
    info->errors = p->ctrl_refused;
    if (p->lane) {
        BladeLanePcsStats *pcs = g_new0(BladeLanePcsStats, 1);
        BladeLaneShmStats *shm = g_new0(BladeLaneShmStats, 1);
        LaneStats ls;
        bool on_rings;

        /* a copy, made where the lane runs */
        bsw_thread_lane_stats(p, &ls, &on_rings);
        pcs->code_errors = ls.pcs.invalid_cgs + ls.pcs.disparity_errors;
        pcs->sync_losses = ls.pcs.sync_lost;
        pcs->fcs_errors = ls.pcs.fcs_errors;
        pcs->util_sets = ls.rx_util_sets;
        /* frames as data runs: without code groups, or materialised */
        pcs->data_runs_rx = ls.rx_data_runs;
        pcs->data_runs_materialised = ls.rx_data_materialised;
        pcs->data_runs_tx = ls.tx_data_runs;
        shm->active = on_rings;
        shm->sessions = ls.shm_up;
        shm->errors = ls.shm_errors;
        shm->hangups = ls.shm_hangups;
        shm->kicks = ls.shm_kicks;
        info->errors += pcs->code_errors + pcs->fcs_errors + ls.bad_records +
                        ls.protocol_errors + ls.shm_errors;
        info->pcs = pcs;
        info->shm = shm;
        if (p->s->vtime) {
            info->vtime = bsw_lane_vtime_info(&ls, p->lane);
        }
        info->symbols = bsw_symbols_info(p);
    }
    return info;
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

static BladeSwitchBladeInfo *bsw_blade_info(BladeSwitchState *s,
                                            unsigned slot, uint64_t now)
{
    BladeSwitchBladeInfo *info = g_new0(BladeSwitchBladeInfo, 1);
    SwBladeInfo bi;

    swcore_blade_info(s->core, slot, now, &bi);
    info->slot = bi.slot;
    info->port = g_strdup(s->ports[bi.port].name);
    info->remote = bi.remote;
    if (bi.remote) {
        info->chassis = g_strdup(bi.chassis);
        info->has_chassis_id = info->has_hops = true;
        info->chassis_id = bi.chassis_id;
        info->hops = bi.hops;
    }
    if (bi.mac_known) {
        info->mac = bsw_mac_str(bi.mac);
    }
    info->in_rotation = bi.in_rotation;
    info->reason = g_strdup(bi.reason);
    if (bi.reported) {
        info->has_cpu = info->has_irq = info->has_report_age_ms = true;
        info->cpu = bi.cpu_pct;
        info->irq = bi.irq_pct;
        info->report_age_ms = bi.report_age_ns / SCALE_MS;
    }
    /* absent: the latest report had no contention figures (or none yet) */
    if (bi.has_contention) {
        info->has_pressure = info->has_runnable = true;
        info->pressure = bi.psi_permille;
        info->runnable = bi.runnable;
    }
    info->reports = bi.reports;
    info->active_flows = bi.active_flows;
    info->new_flows = bi.new_flows;
    info->moved_flows = bi.moved_flows;
    info->score = bsw_score_in_ms(s) ? bi.score / 1e6 : bi.score / 100.0;
    info->requests_in_flight = bi.requests_in_flight;
    info->requests_answered = bi.requests_answered;
    info->request_latency_us = bi.request_latency_ns / SCALE_US;
    info->request_cost_us = bi.request_cost_ns / SCALE_US;
    return info;
}

static const BalPolicy policy_of[BLADE_POLICY__MAX] = {
    [BLADE_POLICY_UTIL] = BAL_POLICY_UTIL,
    [BLADE_POLICY_RANDOM] = BAL_POLICY_RANDOM,
    [BLADE_POLICY_RR] = BAL_POLICY_RR,
    [BLADE_POLICY_LEASTCONN] = BAL_POLICY_LEASTCONN,
    [BLADE_POLICY_P2C_CONN] = BAL_POLICY_P2C_CONN,
    [BLADE_POLICY_WRR_CPU] = BAL_POLICY_WRR_CPU,
    [BLADE_POLICY_PREQUAL] = BAL_POLICY_PREQUAL,
};

static BladePolicy blade_policy(BalPolicy p)
{
    BladePolicy i;

    for (i = 0; i < BLADE_POLICY__MAX; i++) {
        if (policy_of[i] == p) {
            return i;
        }
    }
    g_assert_not_reached();     /* every policy a rule can have is above */
}

const char *bsw_policy_name(BalPolicy p)
{
    return BladePolicy_str(blade_policy(p));
}

static BladeRuleShare *bsw_share(const SwRuleInfo *ri, unsigned blade,
                                 unsigned slot)
{
    BladeRuleShare *e = g_new0(BladeRuleShare, 1);

    e->slot = slot;
    e->new_flows = ri->blade_new_flows[blade];
    e->share = ri->new_flows ? (double)e->new_flows / ri->new_flows : 0.0;
    return e;
}

static BladeRuleInfo *bsw_rule_info(BladeSwitchState *s, const SwRuleInfo *ri,
                                    uint64_t now)
{
    const SwRuleSpec *sp = &ri->spec;
    BladeRuleInfo *info = g_new0(BladeRuleInfo, 1);
    uint32List **blades = &info->blades;
    BladeRuleShareList **share = &info->share;
    unsigned i;

    info->name = g_strdup(sp->name);
    info->kind = sp->kind == SW_RULE_SERVICE ? BLADE_RULE_KIND_SERVICE
                                             : BLADE_RULE_KIND_STEERING;
    if (sp->vip) {
        info->vip = bsw_ip_str(sp->vip);
    }
    info->protocol = sp->proto == SW_PROTO_TCP ? BLADE_PROTOCOL_TCP
                                               : BLADE_PROTOCOL_UDP;
    info->port_min = sp->port_min;
    info->port_max = sp->port_max;
    info->policy = blade_policy(sp->policy);
    for (i = 0; i < sp->nblades; i++) {
        QAPI_LIST_APPEND(blades, sp->blades[i]);
        QAPI_LIST_APPEND(share, bsw_share(ri, sp->blades[i], sp->blades[i]));
    }
    /* Blades of other chassis that got flows of this rule. */
    for (i = SW_MAX_BLADES; sp->remote && i < SW_BLADES_ALL; i++) {
        BladeRuleShare *e;
        SwBladeInfo bi;

        if (!ri->blade_new_flows[i] ||
            !swcore_blade_info(s->core, i, now, &bi)) {
            continue;
        }
        e = bsw_share(ri, i, bi.slot);
        e->chassis = g_strdup(bi.chassis);
        QAPI_LIST_APPEND(share, e);
    }
    info->remote = sp->remote;
    info->new_flows = ri->new_flows;
    info->no_blade = ri->no_blade;
    return info;
}

static BladeFabricInfo *bsw_fabric_info(BladeSwitchState *s, uint64_t now)
{
    BladeFabricInfo *info = g_new0(BladeFabricInfo, 1);
    BladeFabricPortInfoList **ports = &info->ports;
    BladeFabricStats *st = g_new0(BladeFabricStats, 1);
    FabStats fs;
    unsigned i;

    info->chassis = g_strdup(s->chassis_name ? s->chassis_name : "");
    info->chassis_id = s->chassis_id;
    info->root_id = fab_root_id(s->fabric);
    for (i = 0; i < FAB_MAX_PORTS; i++) {
        BladeFabricPortInfo *e;
        FabPortInfo pi;

        if (!s->fab_ports[i] || !fab_port_info(s->fabric, i, now, &pi)) {
            continue;
        }
        e = g_new0(BladeFabricPortInfo, 1);
        e->name = g_strdup(s->fab_ports[i]->name);
        e->link = pi.link;
        e->forwarding = pi.forwarding;
        e->state = g_strdup(pi.state ? pi.state : "");
        e->role = g_strdup(pi.role ? pi.role : "");
        e->neighbours = pi.neighbours;
        if (pi.neighbour) {
            e->neighbour = g_strdup(pi.neighbour_name);
            e->has_neighbour_id = e->has_heard_age_ms = true;
            e->neighbour_id = pi.neighbour_id;
            e->heard_age_ms = pi.heard_age_ns / SCALE_MS;
        }
        e->rx_adverts = pi.rx_adverts;
        e->tx_adverts = pi.tx_adverts;
        QAPI_LIST_APPEND(ports, e);
    }
    fab_stats(s->fabric, &fs);
    st->tx_adverts = fs.tx_adverts;
    st->rx_adverts = fs.rx_adverts;
    st->rx_malformed = fs.rx_malformed;
    st->rx_bad_version = fs.rx_bad_version;
    st->rx_unauthenticated = fs.rx_unauthenticated;
    st->rx_bad_auth = fs.rx_bad_auth;
    st->rx_replayed = fs.rx_replayed;
    st->rx_no_echo = fs.rx_no_echo;
    st->rx_own = fs.rx_own;
    st->topology_changes = fs.topology_changes;
    st->route_computations = fs.route_computations;
    info->stats = st;
    return info;
}

static BladeFlowTableInfo *bsw_flow_table_info(SwitchCore *core)
{
    BladeFlowTableInfo *info = g_new0(BladeFlowTableInfo, 1);
    SwFlowStats fs;

    swcore_flow_stats(core, &fs);
    info->count = fs.count;
    info->capacity = fs.capacity;
    info->created = fs.created;
    info->closed = fs.closed;
    info->expired = fs.expired;
    info->evicted = fs.evicted;
    info->moved = fs.moved;
    info->memory = fs.memory;
    return info;
}

static BladeMacTableInfo *bsw_mac_table_info(SwitchCore *core)
{
    BladeMacTableInfo *info = g_new0(BladeMacTableInfo, 1);
    SwMacStats ms;

    swcore_mac_stats(core, &ms);
    info->count = ms.count;
    info->capacity = ms.capacity;
    info->learned = ms.learned;
    info->moved = ms.moved;
    info->aged = ms.aged;
    info->full = ms.full;
    info->memory = ms.memory;
    return info;
}

static BladeSwitchDrops *bsw_drops(SwitchCore *core)
{
    BladeSwitchDrops *d = g_new0(BladeSwitchDrops, 1);

    /* a new reason in the core needs its member here and in blade.json */
    QEMU_BUILD_BUG_ON(SW_DROP__MAX != 11);
    d->runt = swcore_drops(core, SW_DROP_RUNT);
    d->oversize = swcore_drops(core, SW_DROP_OVERSIZE);
    d->bad_source = swcore_drops(core, SW_DROP_BAD_SOURCE);
    d->same_port = swcore_drops(core, SW_DROP_SAME_PORT);
    d->port_down = swcore_drops(core, SW_DROP_PORT_DOWN);
    d->to_switch = swcore_drops(core, SW_DROP_TO_SWITCH);
    d->no_service = swcore_drops(core, SW_DROP_NO_SERVICE);
    d->no_blade = swcore_drops(core, SW_DROP_NO_BLADE);
    d->fragment = swcore_drops(core, SW_DROP_FRAGMENT);
    d->bad_ip = swcore_drops(core, SW_DROP_BAD_IP);
    d->blocked = swcore_drops(core, SW_DROP_BLOCKED);
    return d;
}

BladeSwitchInfo *blade_switch_info(BladeSwitchState *s)
{
    uint64_t now = blade_switch_now();
    BladeSwitchInfo *info = g_new0(BladeSwitchInfo, 1);
    BladeSwitchSummary *sw = g_new0(BladeSwitchSummary, 1);
    BladeSwitchPortInfoList **ports = &info->ports;
    BladeSwitchBladeInfoList **blades = &info->blades;
    BladeRuleInfoList **rules = &info->services;
    g_autofree SwRuleInfo *ri = g_new(SwRuleInfo, 1);
    unsigned i;

    sw->mac = bsw_mac_str(s->mac.a);
    sw->slots = s->slots;
    /* Without slots the switch needs no backplane, and makes none. */
    sw->backplane = g_strdup(s->backplane);
    sw->now_ms = now / SCALE_MS;
    info->q_switch = sw;

    for (i = 0; i < s->nports; i++) {
        QAPI_LIST_APPEND(ports, bsw_port_info(s, &s->ports[i]));
        if (s->ports[i].kind == SW_PORT_SLOT) {
            QAPI_LIST_APPEND(blades,
                             bsw_blade_info(s, s->ports[i].slot, now));
        }
    }
    for (i = SW_MAX_BLADES; i < SW_BLADES_ALL; i++) {
        SwBladeInfo bi;

        if (swcore_blade_info(s->core, i, now, &bi)) {
            QAPI_LIST_APPEND(blades, bsw_blade_info(s, i, now));
        }
    }
    info->score_unit = g_strdup(bsw_score_in_ms(s) ? "ms" : "%");
    if (s->fabric) {
        info->fabric = bsw_fabric_info(s, now);
    }
    for (i = 0; swcore_rule_info(s->core, i, ri); i++) {
        QAPI_LIST_APPEND(rules, bsw_rule_info(s, ri, now));
    }
    info->flows = bsw_flow_table_info(s->core);
    info->mac_table = bsw_mac_table_info(s->core);
    info->drops = bsw_drops(s->core);
    info->bus = bsw_bus_info(s);
    return info;
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

/* ---- QMP commands -------------------------------------------------------- */

static bool parse_vip(const char *str, uint32_t *ip, Error **errp)
{
    struct in_addr a;

    if (inet_pton(AF_INET, str, &a) != 1) {
        error_setg(errp, "'%s' is not an IPv4 address", str);
        return false;
    }
    *ip = a.s_addr;
    return true;
}

static bool fill_blades(SwRuleSpec *spec, uint32List *blades, Error **errp)
{
    uint32List *b;

    for (b = blades; b; b = b->next) {
        if (spec->nblades == SW_MAX_BLADES) {
            error_setg(errp, "a rule takes %d blades at most", SW_MAX_BLADES);
            return false;
        }
        if (b->value >= SW_MAX_BLADES) {
            error_setg(errp, "there is no slot %u", b->value);
            return false;
        }
        spec->blades[spec->nblades++] = b->value;
    }
    return true;
}

static void add_rule(const char *id, SwRuleSpec *spec, const char *name,
                     uint32List *blades, bool has_policy, BladePolicy policy,
                     Error **errp)
{
    BladeSwitchState *s = blade_switch_find(id, errp);
    char err[128];

    if (!s) {
        return;
    }
    if (strlen(name) >= SW_NAME_LEN) {
        error_setg(errp, "rule name '%s' is longer than %d characters", name,
                   SW_NAME_LEN - 1);
        return;
    }
    pstrcpy(spec->name, sizeof(spec->name), name);
    spec->policy = has_policy ? policy_of[policy] : BAL_POLICY_UTIL;
    if (!fill_blades(spec, blades, errp)) {
        return;
    }
    if (swcore_rule_add(blade_switch_core(s), spec, err, sizeof(err)) < 0) {
        error_setg(errp, "%s", err);
        return;
    }
    blade_switch_changed(s);
}

void qmp_blade_switch_add_service(const char *sw, const char *name,
                                  const char *vip, BladeProtocol protocol,
                                  bool has_port, uint16_t port,
                                  uint32List *blades, bool has_remote,
                                  bool remote, bool has_policy,
                                  BladePolicy policy, Error **errp)
{
    SwRuleSpec spec = {
        .kind = SW_RULE_SERVICE,
        .proto = protocol == BLADE_PROTOCOL_TCP ? SW_PROTO_TCP : SW_PROTO_UDP,
        .port_min = has_port && port ? port : 0,
        .port_max = has_port && port ? port : UINT16_MAX,
        .remote = has_remote && remote,
    };

    if (parse_vip(vip, &spec.vip, errp)) {
        add_rule(sw, &spec, name, blades, has_policy, policy, errp);
    }
}

void qmp_blade_switch_add_steering(const char *sw, const char *name,
                                   BladeProtocol protocol, bool has_port_min,
                                   uint16_t port_min, bool has_port_max,
                                   uint16_t port_max, const char *vip,
                                   uint32List *blades, bool has_remote,
                                   bool remote, bool has_policy,
                                   BladePolicy policy, Error **errp)
{
    SwRuleSpec spec = {
        .kind = SW_RULE_STEERING,
        .proto = protocol == BLADE_PROTOCOL_TCP ? SW_PROTO_TCP : SW_PROTO_UDP,
        .port_min = has_port_min ? port_min : 0,
        .port_max = has_port_max ? port_max : UINT16_MAX,
        .remote = has_remote && remote,
    };

    if (!vip || parse_vip(vip, &spec.vip, errp)) {
        add_rule(sw, &spec, name, blades, has_policy, policy, errp);
    }
}

void qmp_blade_switch_del_rule(const char *sw, const char *name,
                               Error **errp)
{
    BladeSwitchState *s = blade_switch_find(sw, errp);

    if (!s) {
        return;
    }
    if (swcore_rule_del(blade_switch_core(s), name) < 0) {
        error_setg(errp, "there is no service or steering rule '%s'", name);
        return;
    }
    blade_switch_changed(s);
}

void qmp_blade_switch_set_policy(const char *sw, const char *name,
                                 BladePolicy policy, Error **errp)
{
    BladeSwitchState *s = blade_switch_find(sw, errp);

    if (!s) {
        return;
    }
    if (swcore_rule_set_policy(blade_switch_core(s), name,
                               policy_of[policy]) < 0) {
        error_setg(errp, "there is no service or steering rule '%s'", name);
    }
}

void qmp_blade_switch_capture(const char *sw, const char *port,
                              const char *pcap, const char *util_log,
                              const char *symbols, bool has_symbols_full,
                              bool symbols_full, bool has_symbols_bits,
                              bool symbols_bits, bool has_symbols_limit,
                              uint64_t symbols_limit, Error **errp)
{
    BladeSwitchState *s = blade_switch_find(sw, errp);
    BladeSwitchSymbols sym = {
        .path = symbols,
        .full = has_symbols_full && symbols_full,
        .bits = has_symbols_bits && symbols_bits,
        .limit = has_symbols_limit ? symbols_limit : 0,
    };

    if (s) {
        blade_switch_capture(s, port, pcap, util_log, &sym, errp);
    }
}

BladeSwitchInfo *qmp_query_blade_switch(const char *sw, Error **errp)
{
    BladeSwitchState *s = blade_switch_find(sw, errp);

    return s ? blade_switch_info(s) : NULL;
}

/* ---- HMP ----------------------------------------------------------------- */

/* A figure, or "-" when the blade has not reported it. */
static char *hmp_figure(bool has, uint64_t v)
{
    return has ? g_strdup_printf("%" PRIu64, v) : g_strdup("-");
}

void hmp_info_blade_switch(Monitor *mon, const QDict *qdict)
{
    const char *id = qdict_get_try_str(qdict, "switch");
    Error *err = NULL;
    BladeSwitchState *s = blade_switch_find(id, &err);
    g_autoptr(BladeSwitchInfo) info = NULL;
    g_autofree char *path = NULL;
    BladeSwitchPortInfoList *p;
    BladeSwitchBladeInfoList *b;
    BladeRuleInfoList *r;
    BladeFlowTableInfo *fl;

    if (!s) {
        hmp_handle_error(mon, err);
        return;
    }
    info = blade_switch_info(s);
    path = object_get_canonical_path(OBJECT(s));
    monitor_printf(mon, "blade-switch %s: MAC %s, %" PRIu32 " slots, "
                   "backplane %s\n", path, info->q_switch->mac,
                   info->q_switch->slots, info->q_switch->backplane ?: "-");

    monitor_printf(mon, "\n%-8s %-4s %-5s %12s %12s %8s %8s %8s\n", "port",
                   "link", "sync", "rx frames", "tx frames", "rx drop",
                   "tx drop", "errors");
    for (p = info->ports; p; p = p->next) {
        BladeSwitchPortInfo *e = p->value;

        monitor_printf(mon, "%-8s %-4s %-5s %12" PRIu64 " %12" PRIu64
                       " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
                       e->name, e->link ? "up" : "down",
                       e->sync ? "yes" : "no", e->rx_frames, e->tx_frames,
                       e->rx_drops, e->tx_drops, e->errors);
    }

    monitor_printf(mon, "\n%-4s %-17s %4s %4s %5s %4s %8s %7s %9s  %s\n",
                   "slot", "MAC", "cpu%", "irq%", "psi", "run", "age ms",
                   "flows", "new flows", "rotation");
    for (b = info->blades; b; b = b->next) {
        BladeSwitchBladeInfo *e = b->value;
        g_autofree char *cpu = hmp_figure(e->has_cpu, e->cpu);
        g_autofree char *irq = hmp_figure(e->has_irq, e->irq);
        g_autofree char *psi = hmp_figure(e->has_pressure, e->pressure);
        g_autofree char *run = hmp_figure(e->has_runnable, e->runnable);
        g_autofree char *age = hmp_figure(e->has_report_age_ms,
                                          e->report_age_ms);

        monitor_printf(mon, "%-4" PRIu32 " %-17s %4s %4s %5s %4s %8s %7"
                       PRIu64 " %9" PRIu64 "  %s\n", e->slot,
                       e->mac ?: "-", cpu, irq, psi, run, age,
                       e->active_flows, e->new_flows, e->reason);
    }

    monitor_printf(mon, "\n%-16s %-8s %-15s %-5s %-11s %-9s %9s\n", "service",
                   "kind", "VIP", "proto", "ports", "policy", "new flows");
    for (r = info->services; r; r = r->next) {
        BladeRuleInfo *e = r->value;
        g_autofree char *ports = g_strdup_printf("%u-%u", e->port_min,
                                                 e->port_max);

        monitor_printf(mon, "%-16s %-8s %-15s %-5s %-11s %-9s %9" PRIu64 "\n",
                       e->name, BladeRuleKind_str(e->kind), e->vip ?: "any",
                       BladeProtocol_str(e->protocol), ports,
                       BladePolicy_str(e->policy), e->new_flows);
    }
    fl = info->flows;
    monitor_printf(mon, "\nflows: %" PRIu64 " of %" PRIu64 " (created %"
                   PRIu64 ", closed %" PRIu64 ", expired %" PRIu64
                   ", evicted %" PRIu64 ", moved %" PRIu64 ")\n",
                   fl->count, fl->capacity, fl->created, fl->closed,
                   fl->expired, fl->evicted, fl->moved);
    if (info->bus) {
        bsw_bus_hmp(mon, info->bus);
    }
}
