/*
 * bladeplane switch blade: QMP commands and the HMP "info blade-switch".
 * docs/switch-blade.md describes them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-blade.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include <arpa/inet.h>
#include "blade-switch.h"

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
