/*
 * bladeplane switch blade: management.  The state tree (the "state"
 * property), the QMP events, the QMP commands and the HMP "info
 * blade-switch".  docs/switch-blade.md describes them.
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
#include "qobject/qbool.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnull.h"
#include "qobject/qnum.h"
#include "qobject/qstring.h"
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
    put_u64(d, "tx_frames", pi.tx_frames - MIN(pi.tx_frames, p->tx_drops +
                                               bsw_thread_tx_drops(p)));
    put_u64(d, "tx_bytes", pi.tx_bytes);
    put_u64(d, "rx_drops", pi.drops);
    put_u64(d, "tx_drops", p->tx_drops + bsw_thread_tx_drops(p));
    put_u64(d, "link_changes", pi.link_changes);
    qdict_put_int(d, "macs", pi.macs);
    qdict_put_int(d, "mac_limit", pi.mac_limit);
    put_u64(d, "mac_over_limit", pi.mac_over_limit);
    qdict_put_int(d, "queue", p->th ? bsw_thread_queued(p) :
                                      p->egress.frames);
    if (p->th) {
        qdict_put_str(d, "iothread",
                      object_get_canonical_path_component(
                          OBJECT(p->th->iothread)));
    }
    if (p->lane) {
        LaneStats stats;
        const LaneStats *ls = &stats;
        QDict *pcs = qdict_new();
        QDict *shm = qdict_new();
        uint64_t code;
        bool on_rings;

        /* a copy, made where the lane runs */
        bsw_thread_lane_stats(p, &stats, &on_rings);
        code = ls->pcs.invalid_cgs + ls->pcs.disparity_errors;

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
        qdict_put_bool(shm, "active", on_rings);
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

static const BalPolicy policy_of[BLADE_POLICY__MAX] = {
    [BLADE_POLICY_UTIL] = BAL_POLICY_UTIL,
    [BLADE_POLICY_RANDOM] = BAL_POLICY_RANDOM,
    [BLADE_POLICY_RR] = BAL_POLICY_RR,
    [BLADE_POLICY_LEASTCONN] = BAL_POLICY_LEASTCONN,
    [BLADE_POLICY_P2C_CONN] = BAL_POLICY_P2C_CONN,
    [BLADE_POLICY_WRR_CPU] = BAL_POLICY_WRR_CPU,
    [BLADE_POLICY_PREQUAL] = BAL_POLICY_PREQUAL,
};

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
                              Error **errp)
{
    BladeSwitchState *s = blade_switch_find(sw, errp);

    if (s) {
        blade_switch_capture(s, port, pcap, util_log, errp);
    }
}

/* ---- HMP ----------------------------------------------------------------- */

static uint64_t u64(QDict *d, const char *key)
{
    QNum *n = qobject_to(QNum, qdict_get(d, key));
    uint64_t v = 0;

    if (n) {
        qnum_get_try_uint(n, &v);
    }
    return v;
}

static int64_t num(QDict *d, const char *key)
{
    return qdict_haskey(d, key) && qobject_type(qdict_get(d, key)) ==
           QTYPE_QNUM ? qdict_get_int(d, key) : -1;
}

void hmp_info_blade_switch(Monitor *mon, const QDict *qdict)
{
    const char *id = qdict_get_try_str(qdict, "switch");
    Error *err = NULL;
    BladeSwitchState *s = blade_switch_find(id, &err);
    g_autoptr(QDict) st = NULL;
    g_autofree char *path = NULL;
    QDict *sw;
    QListEntry *e;

    if (!s) {
        hmp_handle_error(mon, err);
        return;
    }
    st = blade_switch_state(s);
    sw = qdict_get_qdict(st, "switch");
    path = object_get_canonical_path(OBJECT(s));
    monitor_printf(mon, "blade-switch %s: MAC %s, %" PRId64 " slots, "
                   "backplane %s\n", path,
                   qdict_get_str(sw, "mac"), num(sw, "slots"),
                   qdict_get_try_str(sw, "backplane") ?: "-");

    monitor_printf(mon, "\n%-8s %-4s %-5s %12s %12s %8s %8s %8s\n", "port",
                   "link", "sync", "rx frames", "tx frames", "rx drop",
                   "tx drop", "errors");
    QLIST_FOREACH_ENTRY(qdict_get_qlist(st, "ports"), e) {
        QDict *p = qobject_to(QDict, qlist_entry_obj(e));

        monitor_printf(mon, "%-8s %-4s %-5s %12" PRIu64 " %12" PRIu64
                       " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
                       qdict_get_str(p, "name"),
                       qdict_get_bool(p, "link") ? "up" : "down",
                       qdict_get_bool(p, "sync") ? "yes" : "no",
                       u64(p, "rx_frames"),
                       u64(p, "tx_frames"),
                       u64(p, "rx_drops"),
                       u64(p, "tx_drops"),
                       u64(p, "errors"));
    }

    monitor_printf(mon, "\n%-4s %-17s %4s %4s %5s %4s %8s %7s %9s  %s\n",
                   "slot", "MAC", "cpu%", "irq%", "psi", "run", "age ms",
                   "flows", "new flows", "rotation");
    QLIST_FOREACH_ENTRY(qdict_get_qlist(st, "blades"), e) {
        QDict *b = qobject_to(QDict, qlist_entry_obj(e));
        g_autofree char *cpu = NULL, *irq = NULL, *age = NULL;
        g_autofree char *psi = NULL, *run = NULL;

        cpu = num(b, "cpu") < 0 ? g_strdup("-") :
              g_strdup_printf("%" PRId64, num(b, "cpu"));
        irq = num(b, "irq") < 0 ? g_strdup("-") :
              g_strdup_printf("%" PRId64, num(b, "irq"));
        psi = num(b, "pressure") < 0 ? g_strdup("-") :
              g_strdup_printf("%" PRId64, num(b, "pressure"));
        run = num(b, "runnable") < 0 ? g_strdup("-") :
              g_strdup_printf("%" PRId64, num(b, "runnable"));
        age = num(b, "report_age_ms") < 0 ? g_strdup("-") :
              g_strdup_printf("%" PRId64, num(b, "report_age_ms"));
        monitor_printf(mon, "%-4" PRId64 " %-17s %4s %4s %5s %4s %8s %7"
                       PRIu64 " %9" PRIu64 "  %s\n", num(b, "slot"),
                       qdict_get_try_str(b, "mac") ?: "-", cpu, irq, psi,
                       run, age, u64(b, "active_flows"),
                       u64(b, "new_flows"),
                       qdict_get_str(b, "reason"));
    }

    monitor_printf(mon, "\n%-16s %-8s %-15s %-5s %-11s %-9s %9s\n", "service",
                   "kind", "VIP", "proto", "ports", "policy", "new flows");
    QLIST_FOREACH_ENTRY(qdict_get_qlist(st, "services"), e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));
        g_autofree char *ports = g_strdup_printf("%" PRId64 "-%" PRId64,
                                                 num(r, "port_min"),
                                                 num(r, "port_max"));

        monitor_printf(mon, "%-16s %-8s %-15s %-5s %-11s %-9s %9" PRIu64 "\n",
                       qdict_get_str(r, "name"), qdict_get_str(r, "kind"),
                       qdict_get_try_str(r, "vip") ?: "any",
                       qdict_get_str(r, "protocol"), ports,
                       qdict_get_str(r, "policy"),
                       u64(r, "new_flows"));
    }
    sw = qdict_get_qdict(st, "flows");
    monitor_printf(mon, "\nflows: %" PRIu64 " of %" PRIu64 " (created %"
                   PRIu64 ", closed %" PRIu64 ", expired %" PRIu64
                   ", evicted %" PRIu64 ", moved %" PRIu64 ")\n",
                   u64(sw, "count"), u64(sw, "capacity"),
                   u64(sw, "created"), u64(sw, "closed"),
                   u64(sw, "expired"),
                   u64(sw, "evicted"), u64(sw, "moved"));
}
