/*
 * The switch blade's forwarding engine and blade server manager (see
 * switch-core.h).  Every frame is untrusted: lengths and headers are
 * checked before they are read, and anything malformed is dropped and
 * counted by reason.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "byteorder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lru-table.h"
#include "switch-core.h"

#define ETH_HLEN        14
#define ETHERTYPE_IPV4  0x0800
#define ETHERTYPE_ARP   0x0806
#define IP_PROTO_ICMP   1
#define TCP_FIN         0x01
#define TCP_SYN         0x02
#define TCP_RST         0x04
#define TCP_ACK         0x10
/* Entries looked at per swcore_tick() in each table. */
#define SW_TICK_BUDGET  1024

typedef struct SwPort {
    SwPortInfo info;
} SwPort;

typedef struct SwBlade {
    bool present;
    bool remote;
    uint64_t chassis_id;        /* remote blades: where, how far */
    char chassis[SW_NAME_LEN];
    uint8_t remote_slot;
    unsigned hops;
    bool remote_in_rotation;    /* as its own chassis says */
    uint8_t remote_cpu, remote_irq; /* as reported, before age weighting */
    unsigned port;
    bool mac_known;
    uint8_t mac[6];
    bool in_rotation;
    const char *reason;
    uint64_t reports;
    uint64_t new_flows;
    uint64_t moved_flows;
} SwBlade;

typedef struct SwRule {
    SwRuleInfo info;
    uint32_t id;                /* flows refer to rules by id */
    uint16_t members[SW_MAX_BLADES];
    BalState bal;
} SwRule;

typedef struct MacEntry {
    uint64_t last_seen;
    uint32_t port;
    uint32_t port_older, port_newer;    /* the port's list, or LRU_NONE */
} MacEntry;

/*
 * The addresses learned on a port, least recently seen first, so that a
 * full table can forget the oldest of the port holding the most.
 */
typedef struct SwPortMacs {
    uint32_t oldest, newest;    /* MAC table indices, or LRU_NONE */
    uint32_t count;
    uint32_t limit;             /* 0: none */
    uint64_t over_limit;
} SwPortMacs;

typedef struct FlowKey {
    uint8_t proto;
    uint8_t pad[3];
    uint32_t src_ip, dst_ip;
    uint16_t src_port, dst_port;
} FlowKey;

typedef struct FlowEntry {
    uint64_t last_seen;
    uint64_t linger_until;      /* closing flows: when they end */
    uint64_t packets, bytes;
    uint64_t request_ns;        /* awaiting: when the request was seen */
    uint32_t rule_id;
    uint8_t slot;
    bool closing;
    /*
     * Requests in flight (bal_request()): the client sent a segment with
     * payload and the blade has not answered with one yet.  alone: the
     * blade had no other request in flight then.
     */
    bool awaiting;
    bool alone;
} FlowEntry;

struct SwitchCore {
    SwConfig cfg;
    SwOps ops;
    void *opaque;
    bool rewritten;             /* swcore_input()'s frame was changed */
    SwPort ports[SW_MAX_PORTS];
    unsigned nports;
    SwBlade blades[SW_BLADES_ALL];
    BalBlade bal[SW_BLADES_ALL];    /* what the policies read */
    /*
     * Bit i: blades[i].in_rotation.  swcore_deadline() runs after every
     * forwarding round and needs only these; walking all SW_BLADES_ALL
     * entries cost about 0.6 us of a one-frame round trip (L1 misses).
     */
    uint64_t rotation[(SW_BLADES_ALL + 63) / 64];
    SwRule *rules[SW_MAX_RULES];
    unsigned nrules;
    uint32_t next_rule_id;
    LruTable *macs;
    SwPortMacs port_macs[SW_MAX_PORTS];
    LruTable *flows;
    SwMacStats mac_stats;
    SwFlowStats flow_stats;
    uint64_t drops[SW_DROP__MAX];
    bool tick_more;             /* the last tick ran out of budget */
};

void swcore_config_init(SwConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mac[0] = 0x52;
    cfg->mac[1] = 0x54;
    cfg->mac[5] = 0xfe;
    cfg->mac_table_size = 4096;
    cfg->mac_aging_ns = 300 * 1000000000ull;
    cfg->flow_table_size = 65536;
    cfg->flow_idle_ns = 60 * 1000000000ull;
    cfg->flow_linger_ns = 2 * 1000000000ull;
    cfg->util_stale_ns = 1000000000ull;
    cfg->seed = 1;
    cfg->hop_cost_pct = 10;
    bal_params_init(&cfg->bal);
}



static bool mac_is_zero(const uint8_t *m)
{
    return !(m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

static void drop(SwitchCore *sw, unsigned port, SwDrop why)
{
    sw->drops[why]++;
    sw->ports[port].info.drops++;
}

static void output(SwitchCore *sw, unsigned port, const uint8_t *frame,
                   size_t len)
{
    SwPortInfo *pi = &sw->ports[port].info;

    pi->tx_frames++;
    pi->tx_bytes += len;
    sw->ops.output(sw->opaque, port, frame, len);
}

/* ---- blades and rotation ------------------------------------------------ */

/*
 * The age of @bb's latest report at @now.  A report at time 0 is kept as
 * 1 (bal_report() takes 0 as "never"): at time 0 its age is 0.
 */
static uint64_t report_age(const BalBlade *bb, uint64_t now)
{
    return now > bb->report_ns ? now - bb->report_ns : 0;
}

static bool blade_rotation(const SwitchCore *sw, unsigned slot, uint64_t now,
                           const char **why)
{
    const SwBlade *b = &sw->blades[slot];
    const BalBlade *bb = &sw->bal[slot];

    if (!b->present) {
        *why = "gone";
    } else if (!sw->ports[b->port].info.up) {
        *why = "link down";
    } else if (sw->ports[b->port].info.blocked) {
        *why = "port blocked";
    } else if (b->remote && !b->remote_in_rotation) {
        *why = "out of rotation in its chassis";
    } else if (!b->mac_known) {
        *why = "no MAC learned yet";
    } else if (!bb->report_ns) {
        *why = "no utilization report yet";
    } else if (report_age(bb, now) >= sw->cfg.util_stale_ns) {
        *why = "utilization reports stale";
    } else {
        *why = "in rotation";
        return true;
    }
    return false;
}

static void blade_update(SwitchCore *sw, unsigned slot, uint64_t now)
{
    SwBlade *b = &sw->blades[slot];
    const char *why;
    bool in = blade_rotation(sw, slot, now, &why);

    if (in == b->in_rotation && why == b->reason) {
        return;
    }
    b->reason = why;
    if (in != b->in_rotation) {
        b->in_rotation = in;
        if (in) {
            sw->rotation[slot / 64] |= 1ULL << (slot % 64);
        } else {
            sw->rotation[slot / 64] &= ~(1ULL << (slot % 64));
        }
        sw->bal[slot].eligible = in;
        if (sw->ops.blade_state) {
            sw->ops.blade_state(sw->opaque, slot, in, why);
        }
    }
}

static void blade_report(SwitchCore *sw, unsigned slot, unsigned cpu_pct,
                         unsigned irq_pct, bool contention,
                         unsigned psi_permille, unsigned runnable,
                         uint64_t now)
{
    if (slot >= SW_MAX_BLADES || !sw->blades[slot].present) {
        return;
    }
    /* bal_report() treats 0 as "never": a report at time 0 counts as 1. */
    bal_report(&sw->bal[slot], cpu_pct, irq_pct, now ? now : 1);
    if (contention) {
        bal_report_contention(&sw->bal[slot], psi_permille, runnable);
    }
    sw->blades[slot].reports++;
    blade_update(sw, slot, now);
}

void swcore_blade_report(SwitchCore *sw, unsigned slot, unsigned cpu_pct,
                         unsigned irq_pct, uint64_t now)
{
    blade_report(sw, slot, cpu_pct, irq_pct, false, 0, 0, now);
}

void swcore_blade_report_contention(SwitchCore *sw, unsigned slot,
                                    unsigned cpu_pct, unsigned irq_pct,
                                    unsigned psi_permille, unsigned runnable,
                                    uint64_t now)
{
    blade_report(sw, slot, cpu_pct, irq_pct, true, psi_permille, runnable,
                 now);
}

/* ---- MAC table ----------------------------------------------------------- */

static MacEntry *mac_entry(SwitchCore *sw, uint32_t idx)
{
    return lru_val(sw->macs, idx);
}

/* Append entry @idx to its port's list, as the newest. */
static void mac_port_add(SwitchCore *sw, uint32_t idx)
{
    MacEntry *e = mac_entry(sw, idx);
    SwPortMacs *pm = &sw->port_macs[e->port];

    e->port_older = pm->newest;
    e->port_newer = LRU_NONE;
    if (pm->newest != LRU_NONE) {
        mac_entry(sw, pm->newest)->port_newer = idx;
    } else {
        pm->oldest = idx;
    }
    pm->newest = idx;
    pm->count++;
}

static void mac_port_del(SwitchCore *sw, uint32_t idx)
{
    MacEntry *e = mac_entry(sw, idx);
    SwPortMacs *pm = &sw->port_macs[e->port];

    if (e->port_older != LRU_NONE) {
        mac_entry(sw, e->port_older)->port_newer = e->port_newer;
    } else {
        pm->oldest = e->port_newer;
    }
    if (e->port_newer != LRU_NONE) {
        mac_entry(sw, e->port_newer)->port_older = e->port_older;
    } else {
        pm->newest = e->port_older;
    }
    pm->count--;
}

static void mac_remove(SwitchCore *sw, uint32_t idx)
{
    mac_port_del(sw, idx);
    lru_remove(sw->macs, idx);
}

/* Only if lru_insert() found the table full, which learn() prevents. */
static void mac_evicted(void *opaque, uint32_t idx)
{
    SwitchCore *sw = opaque;

    mac_port_del(sw, idx);
    sw->mac_stats.full++;
}

/*
 * The table is full and @port brings a new address: forget the oldest
 * address of the port holding the most (@port itself on a tie), so that a
 * port flooding new source addresses recycles its own entries.
 */
static void mac_make_room(SwitchCore *sw, unsigned port)
{
    unsigned victim = port, i;

    for (i = 0; i < sw->nports; i++) {
        if (sw->port_macs[i].count > sw->port_macs[victim].count) {
            victim = i;
        }
    }
    if (sw->port_macs[victim].oldest != LRU_NONE) {
        mac_remove(sw, sw->port_macs[victim].oldest);
        sw->mac_stats.full++;
    }
}

static void learn(SwitchCore *sw, const uint8_t *src, unsigned port,
                  uint64_t now)
{
    SwPortMacs *pm = &sw->port_macs[port];
    uint32_t idx = lru_find(sw->macs, src);
    const SwPortInfo *pi = &sw->ports[port].info;
    MacEntry *e;
    bool created;

    if (idx != LRU_NONE && mac_entry(sw, idx)->port == port) {
        /* Seen again where it is: the newest of the table and the port. */
        lru_touch(sw->macs, idx);
        mac_port_del(sw, idx);
        mac_port_add(sw, idx);
    } else if (pm->limit && pm->count >= pm->limit) {
        pm->over_limit++;
        return;
    } else {
        if (idx == LRU_NONE && lru_count(sw->macs) == lru_capacity(sw->macs)) {
            mac_make_room(sw, port);
        }
        idx = lru_insert(sw->macs, src, &created);
        e = mac_entry(sw, idx);
        if (created) {
            sw->mac_stats.learned++;
        } else {
            sw->mac_stats.moved++;
            mac_port_del(sw, idx);
        }
        e->port = port;
        mac_port_add(sw, idx);
    }
    mac_entry(sw, idx)->last_seen = now;
    if (pi->kind == SW_PORT_SLOT) {
        SwBlade *b = &sw->blades[pi->slot];

        if (!b->mac_known || memcmp(b->mac, src, 6)) {
            memcpy(b->mac, src, 6);
            b->mac_known = true;
            blade_update(sw, pi->slot, now);
        }
    }
}

int swcore_mac_lookup(const SwitchCore *sw, const uint8_t *mac, uint64_t now)
{
    uint32_t idx = lru_find(sw->macs, mac);
    const MacEntry *e;

    if (idx == LRU_NONE) {
        return -1;
    }
    e = lru_val(sw->macs, idx);
    if (now - e->last_seen >= sw->cfg.mac_aging_ns) {
        return -1;
    }
    return e->port;
}

static void mac_forget_port(SwitchCore *sw, unsigned port)
{
    while (sw->port_macs[port].oldest != LRU_NONE) {
        mac_remove(sw, sw->port_macs[port].oldest);
    }
}

static void mac_port_init(SwitchCore *sw, unsigned port, SwPortKind kind)
{
    SwPortMacs *pm = &sw->port_macs[port];

    memset(pm, 0, sizeof(*pm));
    pm->oldest = pm->newest = LRU_NONE;
    pm->limit = kind == SW_PORT_SLOT ? SW_SLOT_MAC_LIMIT : 0;
}

void swcore_port_set_mac_limit(SwitchCore *sw, unsigned port, uint32_t limit)
{
    SwPortMacs *pm;

    if (port >= sw->nports) {
        return;
    }
    pm = &sw->port_macs[port];
    pm->limit = limit;
    while (limit && pm->count > limit) {
        mac_remove(sw, pm->oldest);
    }
}

/* ---- flow table ---------------------------------------------------------- */

/* A request of @f went unanswered: the flow ended or left its blade. */
static void flow_unanswered(SwitchCore *sw, FlowEntry *f)
{
    if (f->awaiting) {
        f->awaiting = false;
        bal_request_dropped(&sw->bal[f->slot]);
    }
}

static void flow_end(SwitchCore *sw, FlowEntry *f)
{
    flow_unanswered(sw, f);
    if (!f->closing) {
        bal_closed(&sw->bal[f->slot]);
    }
}

static void flow_evicted(void *opaque, uint32_t idx)
{
    SwitchCore *sw = opaque;

    flow_end(sw, lru_val(sw->flows, idx));
    sw->flow_stats.evicted++;
}

static SwRule *rule_by_id(SwitchCore *sw, uint32_t id)
{
    unsigned i;

    for (i = 0; i < sw->nrules; i++) {
        if (sw->rules[i]->id == id) {
            return sw->rules[i];
        }
    }
    return NULL;
}

/* ---- lifecycle ----------------------------------------------------------- */

SwitchCore *swcore_new(const SwConfig *cfg, const SwOps *ops, void *opaque)
{
    SwitchCore *sw = calloc(1, sizeof(*sw));
    SwConfig def;
    unsigned i;

    if (!sw) {
        return NULL;
    }
    swcore_config_init(&def);
    sw->cfg = *cfg;
    if (!sw->cfg.mac_table_size) {
        sw->cfg.mac_table_size = def.mac_table_size;
    }
    if (!sw->cfg.mac_aging_ns) {
        sw->cfg.mac_aging_ns = def.mac_aging_ns;
    }
    if (!sw->cfg.flow_table_size) {
        sw->cfg.flow_table_size = def.flow_table_size;
    }
    if (!sw->cfg.flow_idle_ns) {
        sw->cfg.flow_idle_ns = def.flow_idle_ns;
    }
    if (!sw->cfg.flow_linger_ns) {
        sw->cfg.flow_linger_ns = def.flow_linger_ns;
    }
    if (!sw->cfg.util_stale_ns) {
        sw->cfg.util_stale_ns = def.util_stale_ns;
    }
    sw->ops = *ops;
    sw->opaque = opaque;
    sw->macs = lru_new(sw->cfg.mac_table_size, 6, sizeof(MacEntry),
                       sw->cfg.seed ^ 0x6d6163, mac_evicted, sw);
    sw->flows = lru_new(sw->cfg.flow_table_size, sizeof(FlowKey),
                        sizeof(FlowEntry), sw->cfg.seed ^ 0x666c6f77,
                        flow_evicted, sw);
    if (!sw->macs || !sw->flows) {
        swcore_free(sw);
        return NULL;
    }
    for (i = 0; i < SW_BLADES_ALL; i++) {
        sw->blades[i].reason = i < SW_MAX_BLADES ? "link down" : "gone";
    }
    sw->next_rule_id = 1;
    return sw;
}

void swcore_free(SwitchCore *sw)
{
    unsigned i;

    if (!sw) {
        return;
    }
    for (i = 0; i < sw->nrules; i++) {
        free(sw->rules[i]);
    }
    lru_free(sw->macs);
    lru_free(sw->flows);
    free(sw);
}

int swcore_add_port(SwitchCore *sw, SwPortKind kind, const char *name,
                    unsigned slot)
{
    SwPort *p;

    if (sw->nports == SW_MAX_PORTS) {
        return -1;
    }
    if (kind == SW_PORT_SLOT &&
        (slot >= SW_MAX_BLADES || sw->blades[slot].present)) {
        return -1;
    }
    p = &sw->ports[sw->nports];
    memset(p, 0, sizeof(*p));
    p->info.kind = kind;
    snprintf(p->info.name, sizeof(p->info.name), "%s", name ? name : "");
    p->info.slot = kind == SW_PORT_SLOT ? slot : 0;
    mac_port_init(sw, sw->nports, kind);
    if (kind == SW_PORT_SLOT) {
        sw->blades[slot].present = true;
        sw->blades[slot].port = sw->nports;
    }
    return sw->nports++;
}

unsigned swcore_port_count(const SwitchCore *sw)
{
    return sw->nports;
}

/* The blades reached through @port see its state change. */
static void blades_on_port_update(SwitchCore *sw, unsigned port, uint64_t now)
{
    unsigned i;

    for (i = 0; i < SW_BLADES_ALL; i++) {
        if (sw->blades[i].present && sw->blades[i].port == port) {
            blade_update(sw, i, now);
        }
    }
}

void swcore_port_link(SwitchCore *sw, unsigned port, bool up, uint64_t now)
{
    SwPortInfo *pi;

    if (port >= sw->nports || sw->ports[port].info.up == up) {
        return;
    }
    pi = &sw->ports[port].info;
    pi->up = up;
    pi->link_changes++;
    if (!up) {
        mac_forget_port(sw, port);
        if (pi->kind == SW_PORT_SLOT) {
            /* Whatever comes back on this slot is heard from first. */
            sw->blades[pi->slot].mac_known = false;
        }
    }
    blades_on_port_update(sw, port, now);
}

void swcore_port_set_blocked(SwitchCore *sw, unsigned port, bool blocked,
                             uint64_t now)
{
    SwPortInfo *pi;

    if (port >= sw->nports || sw->ports[port].info.blocked == blocked) {
        return;
    }
    pi = &sw->ports[port].info;
    pi->blocked = blocked;
    if (blocked) {
        mac_forget_port(sw, port);
    }
    blades_on_port_update(sw, port, now);
}

void swcore_mac_forget_port(SwitchCore *sw, unsigned port)
{
    if (port < sw->nports) {
        mac_forget_port(sw, port);
    }
}

void swcore_mac_learn(SwitchCore *sw, const uint8_t *mac, unsigned port,
                      uint64_t now)
{
    if (port < sw->nports && !(mac[0] & 1) && !mac_is_zero(mac) &&
        memcmp(mac, sw->cfg.mac, 6)) {
        learn(sw, mac, port, now);
    }
}

/*
 * Remote figures weigh less as they age: from what was reported towards
 * an uninformed 50 % when they reach the staleness limit.
 */
static uint8_t age_weighted(const SwitchCore *sw, unsigned pct,
                            uint64_t age_ns)
{
    uint64_t lim = sw->cfg.util_stale_ns;
    uint64_t a = age_ns < lim ? age_ns : lim;

    pct = pct > 100 ? 100 : pct;
    return (uint8_t)((pct * (lim - a) + 50 * a + lim / 2) / lim);
}

static int remote_index(const SwitchCore *sw, uint64_t chassis, unsigned slot)
{
    unsigned i;

    for (i = SW_MAX_BLADES; i < SW_BLADES_ALL; i++) {
        const SwBlade *b = &sw->blades[i];

        if (b->remote && b->chassis_id == chassis &&
            b->remote_slot == slot) {
            return i;
        }
    }
    return -1;
}

unsigned swcore_set_remote(SwitchCore *sw, const RemoteBlade *rb,
                           unsigned n, uint64_t now)
{
    bool keep[SW_BLADES_ALL] = { false };
    unsigned i, taken = 0;

    for (i = 0; i < n; i++) {
        const RemoteBlade *r = &rb[i];
        int idx = remote_index(sw, r->chassis_id, r->slot);
        SwBlade *b;
        BalBlade *bb;
        uint64_t t;

        if (r->port >= sw->nports || r->slot >= SW_MAX_BLADES) {
            continue;
        }
        if (idx < 0) {
            unsigned k;

            for (k = SW_MAX_BLADES; k < SW_BLADES_ALL; k++) {
                if (!sw->blades[k].remote && !sw->bal[k].active) {
                    break;
                }
            }
            if (k == SW_BLADES_ALL) {
                continue;
            }
            idx = k;
            b = &sw->blades[idx];
            memset(b, 0, sizeof(*b));
            memset(&sw->bal[idx], 0, sizeof(sw->bal[idx]));
            b->remote = true;
            b->chassis_id = r->chassis_id;
            b->remote_slot = r->slot;
            b->reason = "gone";
        }
        b = &sw->blades[idx];
        bb = &sw->bal[idx];
        keep[idx] = true;
        taken++;
        b->present = true;
        snprintf(b->chassis, sizeof(b->chassis), "%s", r->chassis);
        b->port = r->port;
        b->hops = r->hops;
        b->remote_in_rotation = r->in_rotation;
        memcpy(b->mac, r->mac, 6);
        b->mac_known = true;
        b->reports++;
        b->remote_cpu = r->cpu_pct > 100 ? 100 : r->cpu_pct;
        b->remote_irq = r->irq_pct > 100 ? 100 : r->irq_pct;
        /*
         * Figures newer than those held are a report, made when the
         * blade's chassis heard it: what the policies learn from.
         */
        t = now > r->age_ns ? now - r->age_ns : 1;
        if (t > bb->report_ns) {
            bal_report(bb, b->remote_cpu, b->remote_irq, t);
        }
        /* For the scores, they count for less as they age. */
        bb->cpu_pct = age_weighted(sw, r->cpu_pct, r->age_ns);
        bb->irq_pct = age_weighted(sw, r->irq_pct, r->age_ns);
        bb->cost_pct = r->hops * sw->cfg.hop_cost_pct;
    }
    for (i = SW_MAX_BLADES; i < SW_BLADES_ALL; i++) {
        if (sw->blades[i].remote && !keep[i]) {
            sw->blades[i].present = false;
            /* Its index is free once no open flow refers to it. */
            if (!sw->bal[i].active) {
                sw->blades[i].remote = false;
            }
        }
        if (sw->blades[i].remote || sw->blades[i].in_rotation) {
            blade_update(sw, i, now);
        }
    }
    return taken;
}

/* ---- rules --------------------------------------------------------------- */

static bool rule_matches(const SwitchCore *sw, const SwRule *r,
                         uint8_t proto, uint32_t dst, uint16_t dport)
{
    const SwRuleSpec *s = &r->info.spec;

    return s->proto == proto && dport >= s->port_min &&
           dport <= s->port_max && (s->vip == dst || s->vip == 0);
}

static bool is_vip(const SwitchCore *sw, uint32_t ip)
{
    unsigned i;

    if (!ip) {
        return false;   /* a steering rule's "any VIP" */
    }
    for (i = 0; i < sw->nrules; i++) {
        if (sw->rules[i]->info.spec.vip == ip) {
            return true;
        }
    }
    return false;
}

/*
 * The rule for a new flow to VIP @dst: the first steering rule that
 * matches, else the matching service with the narrowest port range.
 */
static SwRule *rule_lookup(SwitchCore *sw, uint8_t proto, uint32_t dst,
                           uint16_t dport)
{
    SwRule *best = NULL;
    unsigned i;

    for (i = 0; i < sw->nrules; i++) {
        SwRule *r = sw->rules[i];

        if (r->info.spec.kind == SW_RULE_STEERING &&
            rule_matches(sw, r, proto, dst, dport)) {
            return r;
        }
    }
    for (i = 0; i < sw->nrules; i++) {
        SwRule *r = sw->rules[i];
        const SwRuleSpec *s = &r->info.spec;

        if (s->kind == SW_RULE_SERVICE && s->vip == dst &&
            rule_matches(sw, r, proto, dst, dport) &&
            (!best || s->port_max - s->port_min <
                      best->info.spec.port_max - best->info.spec.port_min)) {
            best = r;
        }
    }
    return best;
}

int swcore_rule_find(const SwitchCore *sw, const char *name)
{
    unsigned i;

    for (i = 0; i < sw->nrules; i++) {
        if (!strncmp(sw->rules[i]->info.spec.name, name, SW_NAME_LEN)) {
            return i;
        }
    }
    return -1;
}

int swcore_rule_add(SwitchCore *sw, const SwRuleSpec *spec, char *err,
                    size_t errlen)
{
    bool seen[SW_MAX_BLADES] = { false };
    SwRule *r;
    unsigned i;

    if (!memchr(spec->name, 0, SW_NAME_LEN) || !spec->name[0]) {
        snprintf(err, errlen, "a rule needs a name of 1 to %d characters",
                 SW_NAME_LEN - 1);
        return -1;
    }
    if (swcore_rule_find(sw, spec->name) >= 0) {
        snprintf(err, errlen, "a rule named '%s' exists already",
                 spec->name);
        return -1;
    }
    if (sw->nrules == SW_MAX_RULES) {
        snprintf(err, errlen, "the switch holds %d rules at most",
                 SW_MAX_RULES);
        return -1;
    }
    if (spec->kind != SW_RULE_SERVICE && spec->kind != SW_RULE_STEERING) {
        snprintf(err, errlen, "unknown rule kind");
        return -1;
    }
    if (spec->proto != SW_PROTO_TCP && spec->proto != SW_PROTO_UDP) {
        snprintf(err, errlen, "the protocol must be TCP or UDP");
        return -1;
    }
    if (spec->kind == SW_RULE_SERVICE && !spec->vip) {
        snprintf(err, errlen, "a service needs a VIP");
        return -1;
    }
    if (spec->vip && ((const uint8_t *)&spec->vip)[0] >= 224) {
        snprintf(err, errlen, "a VIP must be a unicast IPv4 address");
        return -1;
    }
    if (spec->port_min > spec->port_max) {
        snprintf(err, errlen, "port range %u-%u is empty", spec->port_min,
                 spec->port_max);
        return -1;
    }
    if ((unsigned)spec->policy >= BAL_POLICY__MAX) {
        snprintf(err, errlen, "unknown policy");
        return -1;
    }
    if ((spec->nblades == 0 && !spec->remote) ||
        spec->nblades > SW_MAX_BLADES) {
        snprintf(err, errlen, "a rule needs 1 to %d blades (or the blades "
                 "of other chassis)", SW_MAX_BLADES);
        return -1;
    }
    for (i = 0; i < spec->nblades; i++) {
        unsigned s = spec->blades[i];

        if (s >= SW_MAX_BLADES || !sw->blades[s].present) {
            snprintf(err, errlen, "there is no slot %u", s);
            return -1;
        }
        if (seen[s]) {
            snprintf(err, errlen, "slot %u is listed twice", s);
            return -1;
        }
        seen[s] = true;
    }
    r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->info.spec = *spec;
    r->id = sw->next_rule_id++;
    for (i = 0; i < spec->nblades; i++) {
        r->members[i] = spec->blades[i];
    }
    bal_init(&r->bal, spec->policy, &sw->cfg.bal, sw->cfg.seed + r->id);
    sw->rules[sw->nrules++] = r;
    return 0;
}

int swcore_rule_del(SwitchCore *sw, const char *name)
{
    int pos = swcore_rule_find(sw, name);
    SwRule *r;
    uint32_t idx;

    if (pos < 0) {
        return -1;
    }
    r = sw->rules[pos];
    idx = lru_oldest(sw->flows);
    while (idx != LRU_NONE) {
        uint32_t next = lru_newer(sw->flows, idx);
        FlowEntry *f = lru_val(sw->flows, idx);

        if (f->rule_id == r->id) {
            flow_end(sw, f);
            lru_remove(sw->flows, idx);
        }
        idx = next;
    }
    memmove(&sw->rules[pos], &sw->rules[pos + 1],
            (sw->nrules - pos - 1) * sizeof(sw->rules[0]));
    sw->nrules--;
    free(r);
    return 0;
}

int swcore_rule_set_policy(SwitchCore *sw, const char *name, BalPolicy p)
{
    int pos = swcore_rule_find(sw, name);

    if (pos < 0 || (unsigned)p >= BAL_POLICY__MAX) {
        return -1;
    }
    sw->rules[pos]->info.spec.policy = p;
    bal_set_policy(&sw->rules[pos]->bal, p);
    return 0;
}

/* ---- the data path ------------------------------------------------------- */

/* Choose a blade of @r for a flow; -1 if none is in rotation. */
static int place(SwitchCore *sw, SwRule *r, bool moved, uint64_t now)
{
    const SwRuleSpec *s = &r->info.spec;
    uint16_t all[SW_BLADES_ALL];
    const uint16_t *members = r->members;
    unsigned n = s->nblades, i;
    int pos, slot;

    if (s->remote) {
        memcpy(all, r->members, n * sizeof(all[0]));
        for (i = SW_MAX_BLADES; i < SW_BLADES_ALL; i++) {
            if (sw->blades[i].remote && sw->blades[i].present) {
                all[n++] = i;
            }
        }
        members = all;
    }
    pos = bal_pick(&r->bal, sw->bal, members, n, now);
    slot = pos < 0 ? -1 : members[pos];

    if (sw->ops.decision) {
        SwDecision d = {
            .rule = (unsigned)swcore_rule_find(sw, s->name),
            .blade = slot,
            .moved = moved,
            .policy = s->policy,
        };

        if (slot >= 0) {
            const BalBlade *bb = &sw->bal[slot];

            d.cpu_pct = bb->cpu_pct;
            d.irq_pct = bb->irq_pct;
            d.report_age_ns = report_age(bb, now);
            d.score = bal_util_score(&sw->cfg.bal, bb);
            d.active = bb->active;
        }
        sw->ops.decision(sw->opaque, &d);
    }
    return slot;
}

static void flow_assign(SwitchCore *sw, SwRule *r, FlowEntry *f, int slot)
{
    f->slot = slot;
    f->rule_id = r->id;
    f->closing = false;
    f->awaiting = false;
    bal_dispatched(&sw->bal[slot]);
    sw->blades[slot].new_flows++;
    r->info.new_flows++;
    r->info.blade_new_flows[slot]++;
}

/*
 * Whether the blade in @slot, out of rotation, still serves its flows:
 * one whose only fault is late reports does (its host stalled for a
 * moment, or its chassis waits for a peer), since an established TCP
 * connection moved to a blade with no socket for it is reset.  One that
 * is gone, unreachable, or out in its own chassis does not.
 */
static bool blade_keeps_flows(const SwitchCore *sw, unsigned slot)
{
    const SwBlade *b = &sw->blades[slot];
    const SwPortInfo *p = &sw->ports[b->port].info;

    return b->present && p->up && !p->blocked && b->mac_known &&
           (!b->remote || b->remote_in_rotation);
}

/*
 * The blade of flow @f cannot serve it any more: move the flow to another
 * blade of its rule.  False if none is in rotation.
 */
static bool flow_move(SwitchCore *sw, FlowEntry *f, uint64_t now)
{
    SwRule *r = rule_by_id(sw, f->rule_id);
    bool closing = f->closing;
    int slot = r ? place(sw, r, true, now) : -1;

    if (slot < 0) {
        if (r) {
            r->info.no_blade++;
        }
        return false;
    }
    flow_end(sw, f);
    sw->blades[f->slot].moved_flows++;
    sw->flow_stats.moved++;
    flow_assign(sw, r, f, slot);
    if (closing) {
        /* It stays closing, and does not count as open on its new blade. */
        f->closing = true;
        bal_closed(&sw->bal[slot]);
    }
    return true;
}

/* ICMP echo request to a VIP: answer it in place, back out of @port. */
static void icmp_echo(SwitchCore *sw, unsigned port, uint8_t *frame,
                      size_t len, uint8_t *ip, size_t ihl, size_t ip_len)
{
    uint8_t *icmp = ip + ihl;
    uint8_t tmp[4];
    uint32_t sum;

    if (ip_len - ihl < 8 || icmp[0] != 8 || icmp[1] != 0) {
        drop(sw, port, SW_DROP_NO_SERVICE);
        return;
    }
    sw->rewritten = true;
    memcpy(frame, frame + 6, 6);
    memcpy(frame + 6, sw->cfg.mac, 6);
    memcpy(tmp, ip + 12, 4);
    memcpy(ip + 12, ip + 16, 4);
    memcpy(ip + 16, tmp, 4);
    icmp[0] = 0;
    /* Type 8 -> 0: add 0x0800 to the one's complement checksum. */
    sum = (uint32_t)lduw_be_p(icmp + 2) + 0x0800;
    sum = (sum & 0xffff) + (sum >> 16);
    stw_be_p(icmp + 2, sum);
    output(sw, port, frame, len);
}

/*
 * Bytes of TCP or UDP payload in the IPv4 packet @ip (header @ihl bytes,
 * @ip_len in all, at least a minimal L4 header, as the callers check); 0
 * for a bad TCP data offset.
 */
static size_t l4_payload(uint8_t proto, const uint8_t *ip, size_t ihl,
                         size_t ip_len)
{
    size_t l4 = ip_len - ihl, hdr = 8;

    if (proto == SW_PROTO_TCP) {
        hdr = (ip[ihl + 12] >> 4) * 4u;
        if (hdr < 20) {
            return 0;
        }
    }
    return l4 > hdr ? l4 - hdr : 0;
}

/*
 * A frame from blade port @port on its way out (direct server return): if
 * it is an IPv4 TCP or UDP segment with payload from a VIP, the answer to
 * the request its flow awaits, if that flow is on the blade of this port:
 * bal_answered() with the request's latency.  Anything else is left
 * alone; nothing is dropped here.
 */
static void note_answer(SwitchCore *sw, unsigned port, const uint8_t *frame,
                        size_t len, uint64_t now)
{
    const uint8_t *ip = frame + ETH_HLEN;
    size_t avail = len - ETH_HLEN, ihl, ip_len;
    FlowKey key;
    FlowEntry *f;
    uint32_t idx;
    uint8_t proto;

    if (avail < 20 || (ip[0] >> 4) != 4) {
        return;
    }
    ihl = (ip[0] & 0xf) * 4u;
    ip_len = lduw_be_p(ip + 2);
    proto = ip[9];
    if (ihl < 20 || ip_len < ihl || ip_len > avail ||
        (lduw_be_p(ip + 6) & 0x3fff) ||
        (proto != SW_PROTO_TCP && proto != SW_PROTO_UDP) ||
        ip_len - ihl < (proto == SW_PROTO_TCP ? 20u : 8u) ||
        !is_vip(sw, ldl_he_p(ip + 12)) ||
        l4_payload(proto, ip, ihl, ip_len) == 0) {
        return;
    }
    memset(&key, 0, sizeof(key));
    key.proto = proto;
    key.src_ip = ldl_he_p(ip + 16);
    key.dst_ip = ldl_he_p(ip + 12);
    key.src_port = lduw_be_p(ip + ihl + 2);
    key.dst_port = lduw_be_p(ip + ihl);
    idx = lru_find(sw->flows, &key);
    if (idx == LRU_NONE) {
        return;
    }
    f = lru_val(sw->flows, idx);
    if (!f->awaiting || sw->blades[f->slot].remote ||
        sw->blades[f->slot].port != port) {
        return;
    }
    f->awaiting = false;
    bal_answered(&sw->bal[f->slot],
                 now > f->request_ns ? now - f->request_ns : 0, f->alone);
}

static void to_vip(SwitchCore *sw, unsigned port, uint8_t *frame,
                   size_t len, uint64_t now)
{
    uint8_t *ip = frame + ETH_HLEN;
    size_t avail = len - ETH_HLEN, ihl, ip_len;
    uint16_t sport, dport;
    uint8_t proto, tcp_flags = 0;
    size_t payload;
    FlowKey key;
    FlowEntry *f;
    SwRule *r;
    uint32_t idx;
    bool created;
    int slot;

    if (avail < 20 || (ip[0] >> 4) != 4) {
        drop(sw, port, SW_DROP_BAD_IP);
        return;
    }
    ihl = (ip[0] & 0xf) * 4u;
    ip_len = lduw_be_p(ip + 2);
    if (ihl < 20 || ip_len < ihl || ip_len > avail) {
        drop(sw, port, SW_DROP_BAD_IP);
        return;
    }
    if (!is_vip(sw, ldl_he_p(ip + 16))) {
        drop(sw, port, SW_DROP_TO_SWITCH);
        return;
    }
    if (lduw_be_p(ip + 6) & 0x3fff) {
        drop(sw, port, SW_DROP_FRAGMENT);
        return;
    }
    proto = ip[9];
    if (proto == IP_PROTO_ICMP) {
        icmp_echo(sw, port, frame, len, ip, ihl, ip_len);
        return;
    }
    if (proto != SW_PROTO_TCP && proto != SW_PROTO_UDP) {
        drop(sw, port, SW_DROP_NO_SERVICE);
        return;
    }
    if (ip_len - ihl < (proto == SW_PROTO_TCP ? 20u : 8u)) {
        drop(sw, port, SW_DROP_BAD_IP);
        return;
    }
    sport = lduw_be_p(ip + ihl);
    dport = lduw_be_p(ip + ihl + 2);
    payload = l4_payload(proto, ip, ihl, ip_len);
    if (proto == SW_PROTO_TCP) {
        tcp_flags = ip[ihl + 13];
    }

    memset(&key, 0, sizeof(key));
    key.proto = proto;
    key.src_ip = ldl_he_p(ip + 12);
    key.dst_ip = ldl_he_p(ip + 16);
    key.src_port = sport;
    key.dst_port = dport;

    idx = lru_find(sw->flows, &key);
    if (idx != LRU_NONE) {
        f = lru_val(sw->flows, idx);
        /*
         * A closing flow whose linger is over, or a new connection (a
         * bare SYN) reusing a closing flow's ports, starts afresh.
         */
        if (f->closing && (now >= f->linger_until ||
                           (tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)) {
            lru_remove(sw->flows, idx);
            idx = LRU_NONE;
        }
    }
    if (idx == LRU_NONE) {
        r = rule_lookup(sw, proto, key.dst_ip, dport);
        if (!r) {
            drop(sw, port, SW_DROP_NO_SERVICE);
            return;
        }
        slot = place(sw, r, false, now);
        if (slot < 0) {
            r->info.no_blade++;
            drop(sw, port, SW_DROP_NO_BLADE);
            return;
        }
        idx = lru_insert(sw->flows, &key, &created);
        f = lru_val(sw->flows, idx);
        flow_assign(sw, r, f, slot);
        sw->flow_stats.created++;
    } else {
        f = lru_val(sw->flows, idx);
        /* Seen now, even if dropped: the LRU order is last_seen's. */
        lru_touch(sw->flows, idx);
        f->last_seen = now;
        if (!sw->blades[f->slot].in_rotation &&
            !blade_keeps_flows(sw, f->slot) && !flow_move(sw, f, now)) {
            drop(sw, port, SW_DROP_NO_BLADE);
            return;
        }
    }
    f->last_seen = now;
    f->packets++;
    f->bytes += len;
    if ((tcp_flags & (TCP_FIN | TCP_RST)) && !f->closing) {
        f->closing = true;
        f->linger_until = now + sw->cfg.flow_linger_ns;
        flow_unanswered(sw, f);
        bal_closed(&sw->bal[f->slot]);
        sw->flow_stats.closed++;
    } else if (payload && !f->closing && !f->awaiting) {
        /* a request: in flight until the blade's answer (note_answer()) */
        f->awaiting = true;
        f->alone = sw->bal[f->slot].inflight == 0;
        f->request_ns = now;
        bal_request(&sw->bal[f->slot]);
    }
    sw->rewritten = true;
    memcpy(frame, sw->blades[f->slot].mac, 6);
    output(sw, sw->blades[f->slot].port, frame, len);
}

/* An ARP request for a VIP: answer for it.  False if not for a VIP. */
static bool arp_for_vip(SwitchCore *sw, unsigned port, uint8_t *frame,
                        size_t len)
{
    uint8_t *arp = frame + ETH_HLEN;
    uint8_t sha[6], spa[4], tpa[4];

    if (len < ETH_HLEN + 28 || lduw_be_p(arp) != 1 ||
        lduw_be_p(arp + 2) != ETHERTYPE_IPV4 || arp[4] != 6 || arp[5] != 4 ||
        lduw_be_p(arp + 6) != 1) {
        return false;
    }
    memcpy(tpa, arp + 24, 4);
    if (!is_vip(sw, ldl_he_p(tpa))) {
        return false;
    }
    memcpy(sha, arp + 8, 6);
    memcpy(spa, arp + 14, 4);
    sw->rewritten = true;
    memcpy(frame, frame + 6, 6);
    memcpy(frame + 6, sw->cfg.mac, 6);
    arp[7] = 2;
    memcpy(arp + 8, sw->cfg.mac, 6);
    memcpy(arp + 14, tpa, 4);
    memcpy(arp + 18, sha, 6);
    memcpy(arp + 24, spa, 4);
    output(sw, port, frame, len);
    return true;
}

static void flood(SwitchCore *sw, unsigned in, const uint8_t *frame,
                  size_t len)
{
    unsigned p;

    for (p = 0; p < sw->nports; p++) {
        if (p != in && sw->ports[p].info.up && !sw->ports[p].info.blocked) {
            output(sw, p, frame, len);
        }
    }
}

void swcore_input(SwitchCore *sw, unsigned port, uint8_t *frame, size_t len,
                  uint64_t now)
{
    SwPortInfo *pi;
    const uint8_t *dst = frame, *src = frame + 6;
    uint16_t type;
    int out;

    sw->rewritten = false;
    if (port >= sw->nports) {
        return;
    }
    pi = &sw->ports[port].info;
    pi->rx_frames++;
    pi->rx_bytes += len;
    if (!pi->up) {
        drop(sw, port, SW_DROP_PORT_DOWN);
        return;
    }
    if (len < SW_MIN_FRAME) {
        drop(sw, port, SW_DROP_RUNT);
        return;
    }
    if (len > SW_MAX_FRAME) {
        drop(sw, port, SW_DROP_OVERSIZE);
        return;
    }
    if ((src[0] & 1) || mac_is_zero(src) || !memcmp(src, sw->cfg.mac, 6)) {
        drop(sw, port, SW_DROP_BAD_SOURCE);
        return;
    }
    type = lduw_be_p(frame + 12);
    if (type == SW_ETHERTYPE_FABRIC && sw->ops.fabric_frame) {
        sw->ops.fabric_frame(sw->opaque, port, frame, len);
        return;
    }
    if (pi->blocked) {
        drop(sw, port, SW_DROP_BLOCKED);
        return;
    }
    learn(sw, src, port, now);
    if (type == ETHERTYPE_IPV4 && sw->ports[port].info.kind == SW_PORT_SLOT) {
        note_answer(sw, port, frame, len, now);
    }
    if (!memcmp(dst, sw->cfg.mac, 6)) {
        if (type == ETHERTYPE_IPV4) {
            to_vip(sw, port, frame, len, now);
        } else if (!(type == ETHERTYPE_ARP &&
                     arp_for_vip(sw, port, frame, len))) {
            drop(sw, port, SW_DROP_TO_SWITCH);
        }
        return;
    }
    if (dst[0] & 1) {
        if (!(type == ETHERTYPE_ARP && arp_for_vip(sw, port, frame, len))) {
            flood(sw, port, frame, len);
        }
        return;
    }
    out = swcore_mac_lookup(sw, dst, now);
    if (out < 0) {
        flood(sw, port, frame, len);
    } else if ((unsigned)out == port) {
        drop(sw, port, SW_DROP_SAME_PORT);
    } else if (!sw->ports[out].info.up) {
        drop(sw, port, SW_DROP_PORT_DOWN);
    } else if (sw->ports[out].info.blocked) {
        drop(sw, port, SW_DROP_BLOCKED);
    } else {
        output(sw, out, frame, len);
    }
}

bool swcore_frame_rewritten(const SwitchCore *sw)
{
    return sw->rewritten;
}

/* ---- time ---------------------------------------------------------------- */

void swcore_tick(SwitchCore *sw, uint64_t now)
{
    unsigned budget = SW_TICK_BUDGET, slot;
    uint32_t idx;

    sw->tick_more = false;
    while ((idx = lru_oldest(sw->macs)) != LRU_NONE) {
        MacEntry *e = lru_val(sw->macs, idx);

        if (now - e->last_seen < sw->cfg.mac_aging_ns) {
            break;
        }
        if (!budget--) {
            sw->tick_more = true;
            break;
        }
        mac_remove(sw, idx);
        sw->mac_stats.aged++;
    }
    budget = SW_TICK_BUDGET;
    while ((idx = lru_oldest(sw->flows)) != LRU_NONE) {
        FlowEntry *f = lru_val(sw->flows, idx);

        if (now - f->last_seen < sw->cfg.flow_idle_ns) {
            break;
        }
        if (!budget--) {
            sw->tick_more = true;
            break;
        }
        flow_end(sw, f);
        lru_remove(sw->flows, idx);
        sw->flow_stats.expired++;
    }
    for (slot = 0; slot < SW_BLADES_ALL; slot++) {
        if (sw->blades[slot].present) {
            blade_update(sw, slot, now);
        }
    }
}

uint64_t swcore_deadline(const SwitchCore *sw)
{
    uint64_t dl = UINT64_MAX;
    uint32_t idx;
    unsigned word;

    if (sw->tick_more) {
        return 0;
    }
    idx = lru_oldest(sw->macs);
    if (idx != LRU_NONE) {
        const MacEntry *e = lru_val(sw->macs, idx);

        dl = e->last_seen + sw->cfg.mac_aging_ns;
    }
    idx = lru_oldest(sw->flows);
    if (idx != LRU_NONE) {
        const FlowEntry *f = lru_val(sw->flows, idx);
        uint64_t t = f->last_seen + sw->cfg.flow_idle_ns;

        dl = t < dl ? t : dl;
    }
    for (word = 0; word < sizeof(sw->rotation) / sizeof(sw->rotation[0]);
         word++) {
        for (uint64_t bits = sw->rotation[word]; bits; bits &= bits - 1) {
            unsigned slot = word * 64 + __builtin_ctzll(bits);
            uint64_t t = sw->bal[slot].report_ns + sw->cfg.util_stale_ns;

            dl = t < dl ? t : dl;
        }
    }
    return dl;
}

/* ---- introspection ------------------------------------------------------- */

bool swcore_port_info(const SwitchCore *sw, unsigned port, SwPortInfo *pi)
{
    if (port >= sw->nports) {
        return false;
    }
    *pi = sw->ports[port].info;
    pi->macs = sw->port_macs[port].count;
    pi->mac_limit = sw->port_macs[port].limit;
    pi->mac_over_limit = sw->port_macs[port].over_limit;
    return true;
}

bool swcore_blade_info(const SwitchCore *sw, unsigned slot, uint64_t now,
                       SwBladeInfo *bi)
{
    const SwBlade *b;
    const BalBlade *bb;

    memset(bi, 0, sizeof(*bi));
    if (slot >= SW_BLADES_ALL || !sw->blades[slot].present) {
        return false;
    }
    b = &sw->blades[slot];
    bb = &sw->bal[slot];
    bi->present = true;
    bi->remote = b->remote;
    bi->slot = b->remote ? b->remote_slot : slot;
    bi->hops = b->hops;
    bi->chassis_id = b->chassis_id;
    memcpy(bi->chassis, b->chassis, sizeof(bi->chassis));
    bi->port = b->port;
    bi->mac_known = b->mac_known;
    memcpy(bi->mac, b->mac, 6);
    bi->in_rotation = b->in_rotation;
    bi->reason = b->reason;
    bi->reported = bb->report_ns != 0;
    bi->cpu_pct = b->remote ? b->remote_cpu : bb->cpu_pct;
    bi->irq_pct = b->remote ? b->remote_irq : bb->irq_pct;
    bi->has_contention = bb->has_contention;
    bi->psi_permille = bb->has_contention ? bb->psi_permille : 0;
    bi->runnable = bb->has_contention ? bb->runnable : 0;
    bi->report_age_ns = bi->reported ? report_age(bb, now) : 0;
    bi->reports = b->reports;
    bi->active_flows = bb->active;
    bi->new_flows = b->new_flows;
    bi->moved_flows = b->moved_flows;
    bi->score = bal_util_score(&sw->cfg.bal, bb);
    bi->requests_in_flight = bb->inflight;
    bi->requests_answered = bb->answered;
    bi->request_latency_ns = bb->lat_ns;
    bi->request_cost_ns = bal_request_cost_ns(bb);
    return true;
}

unsigned swcore_rule_count(const SwitchCore *sw)
{
    return sw->nrules;
}

bool swcore_rule_info(const SwitchCore *sw, unsigned i, SwRuleInfo *ri)
{
    if (i >= sw->nrules) {
        return false;
    }
    *ri = sw->rules[i]->info;
    return true;
}

void swcore_flow_stats(const SwitchCore *sw, SwFlowStats *fs)
{
    *fs = sw->flow_stats;
    fs->count = lru_count(sw->flows);
    fs->capacity = lru_capacity(sw->flows);
    fs->memory = lru_memory(sw->flows);
}

void swcore_mac_stats(const SwitchCore *sw, SwMacStats *ms)
{
    *ms = sw->mac_stats;
    ms->count = lru_count(sw->macs);
    ms->capacity = lru_capacity(sw->macs);
    ms->memory = lru_memory(sw->macs);
}

uint64_t swcore_drops(const SwitchCore *sw, SwDrop d)
{
    return d < SW_DROP__MAX ? sw->drops[d] : 0;
}

unsigned swcore_flows(const SwitchCore *sw, uint64_t now, SwFlowInfo *out,
                      unsigned max)
{
    const LruTable *t = sw->flows;
    uint32_t idx = lru_oldest(t);
    unsigned n = 0, total = lru_count(t), skip;

    /* The newest @max: skip the older ones (the list runs oldest first). */
    skip = total > max ? total - max : 0;
    for (; idx != LRU_NONE; idx = lru_newer(t, idx)) {
        const FlowKey *k = lru_key(t, idx);
        const FlowEntry *f = lru_val((LruTable *)t, idx);
        const SwRule *r = NULL;
        unsigned i;

        if (skip) {
            skip--;
            continue;
        }
        for (i = 0; i < sw->nrules; i++) {
            if (sw->rules[i]->id == f->rule_id) {
                r = sw->rules[i];
            }
        }
        out[n] = (SwFlowInfo) {
            .proto = k->proto, .src_ip = k->src_ip, .dst_ip = k->dst_ip,
            .src_port = k->src_port, .dst_port = k->dst_port,
            .rule = r ? (unsigned)swcore_rule_find(sw, r->info.spec.name) : 0,
            .slot = f->slot, .closing = f->closing,
            .idle_ns = now - f->last_seen,
            .packets = f->packets, .bytes = f->bytes,
        };
        n++;
    }
    return n;
}
