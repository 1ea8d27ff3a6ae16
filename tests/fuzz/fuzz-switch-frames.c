/*
 * libFuzzer target: the switch blade's forwarding engine and blade server
 * manager (net/switch-core.c), one SwitchCore per input with an uplink,
 * four slots and a chain port, a few services and a steering rule, fed a
 * sequence of records:
 *
 *   octet 0        configuration: table sizes, fabric callback, seed
 *   then records, each [op][a][dt] and more; op & 7 picks:
 *   0..3 a frame:  [len lo][len hi] and the frame, on port a (len's top
 *                  bit: no octets, len zeros); op bits 3-5 write a
 *                  destination MAC from a palette over it, bits 6-7 a
 *                  source MAC (0: as it is)
 *   4    a packet to the switch's MAC that the harness builds from
 *        [client][vip][proto][sport][dport][flags][payload][corrupt]
 *   5    link of port a, up if op bit 3
 *   6    utilization report of slot a: [cpu][irq]
 *   7    management, by a & 7: rule add, rule delete, policy, tick,
 *        tick at the deadline, an ARP request, an ICMP echo request
 *
 * dt advances the clock by dt^2 ms before the record (0 to 65 s).  The
 * output callback and checks after every record abort on a broken
 * invariant: outputs only from swcore_input(), to a port that exists and
 * is up, of the input's length; a frame back out of its ingress port only
 * as the switch's own ARP or ICMP answer (with a valid checksum when the
 * request had one); anything else forwarded with at most its destination
 * MAC changed, to the blade whose MAC it now carries; a flood to every
 * other port that is up, once each; at most one drop per frame and then
 * no output; blade_state callbacks only on a change and matching
 * swcore_blade_info(); the blades' open flow counts equal to what the
 * flow table holds; after a tick, a deadline in the future, and nothing
 * changing until it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-target.h"
#include "switch-core.h"

#define NSLOTS 4
#define NPORTS (NSLOTS + 2)
#define PORT_UPLINK 0
#define PORT_CHAIN (NSLOTS + 1)
#define MS 1000000ull

#define CHECK(cond) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, \
                    __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };

typedef struct Ctx {
    SwitchCore *sw;
    uint8_t mac[6];
    /* the frame being input, as it was before the core saw it */
    bool in_input;
    unsigned in_port;
    uint8_t orig[SW_MAX_FRAME + 64];
    size_t in_len;
    unsigned outs;
    bool reply;
    bool rewritten;
    bool fabric;
    bool sent[NPORTS];
    bool in_rotation[SW_MAX_BLADES];
    uint64_t flow_idle_ns, util_stale_ns;
} Ctx;

/* Octets are summed into it so that ASan checks every one. */
static volatile uint8_t sink;

static void touch(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        sink += p[i];
    }
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* One's complement sum of @len octets, folded (0xffff: all verifies). */
static uint16_t csum_sum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;

    for (size_t i = 0; i + 1 < len; i += 2) {
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    }
    if (len & 1) {
        s += (uint32_t)p[len - 1] << 8;
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return (uint16_t)s;
}

static bool port_up(const Ctx *c, unsigned port)
{
    SwPortInfo pi;

    CHECK(swcore_port_info(c->sw, port, &pi));
    return pi.up;
}

static int port_slot(const Ctx *c, unsigned port)
{
    SwPortInfo pi;

    CHECK(swcore_port_info(c->sw, port, &pi));
    return pi.kind == SW_PORT_SLOT ? (int)pi.slot : -1;
}

/* The switch answering a request itself: ARP or ICMP echo. */
static void check_reply(Ctx *c, const uint8_t *f, size_t len)
{
    const uint8_t *o = c->orig;
    uint16_t type = rd16(f + 12);

    CHECK(!memcmp(f, o + 6, 6));
    CHECK(!memcmp(o, c->mac, 6) || (o[0] & 1));
    if (type == 0x0806) {
        const uint8_t *a = f + 14, *oa = o + 14;

        CHECK(len >= 14 + 28);
        CHECK(rd16(a + 6) == 2 && rd16(oa + 6) == 1);
        CHECK(!memcmp(a + 8, c->mac, 6));
        CHECK(!memcmp(a + 14, oa + 24, 4));
        CHECK(!memcmp(a + 18, oa + 8, 6));
        CHECK(!memcmp(a + 24, oa + 14, 4));
    } else {
        const uint8_t *ip = f + 14, *oip = o + 14;
        size_t ihl, ip_len;

        CHECK(type == 0x0800);
        CHECK(!memcmp(o, c->mac, 6));
        ihl = (ip[0] & 0xf) * 4u;
        ip_len = rd16(ip + 2);
        CHECK(ip[9] == 1 && ihl >= 20 && ip_len >= ihl + 8);
        CHECK(ip_len <= len - 14);
        CHECK(!memcmp(ip + 12, oip + 16, 4) && !memcmp(ip + 16, oip + 12, 4));
        CHECK(ip[ihl] == 0 && ip[ihl + 1] == 0 && oip[ihl] == 8);
        CHECK(!memcmp(ip + ihl + 4, oip + ihl + 4, ip_len - ihl - 4));
        /* a request that verified gives a reply that verifies */
        if (csum_sum(oip + ihl, ip_len - ihl) == 0xffff) {
            CHECK(csum_sum(ip + ihl, ip_len - ihl) == 0xffff);
        }
    }
}

static void on_output(void *opaque, unsigned port, const uint8_t *f,
                      size_t len)
{
    Ctx *c = opaque;

    touch(f, len);
    CHECK(c->in_input);
    CHECK(port < NPORTS && port < swcore_port_count(c->sw));
    CHECK(port_up(c, port));
    CHECK(len == c->in_len);
    CHECK(len >= SW_MIN_FRAME && len <= SW_MAX_FRAME);
    CHECK(!c->reply && !c->rewritten);
    CHECK(memcmp(f, c->mac, 6));
    if (!memcmp(f + 6, c->mac, 6)) {
        /* the switch's own answer, back where the request came from */
        CHECK(port == c->in_port);
        CHECK(c->outs == 0);
        c->reply = true;
        check_reply(c, f, len);
    } else {
        CHECK(!c->sent[port]);
        CHECK(!memcmp(f + 6, c->orig + 6, len - 6));
        if (memcmp(f, c->orig, 6)) {
            /*
             * A VIP's flow: to a blade in rotation, or to one that keeps
             * its flows while only its reports are late, by its MAC
             * (which may be on the ingress port: a blade as a client of
             * its own service).
             */
            int slot = port_slot(c, port);
            SwBladeInfo bi;

            CHECK(c->outs == 0);
            CHECK(!memcmp(c->orig, c->mac, 6));
            CHECK(slot >= 0);
            CHECK(swcore_blade_info(c->sw, slot, 0, &bi));
            CHECK(bi.mac_known);
            CHECK(bi.in_rotation ||
                  !strcmp(bi.reason, "utilization reports stale") ||
                  !strcmp(bi.reason, "no utilization report yet"));
            CHECK(!memcmp(f, bi.mac, 6));
            c->rewritten = true;
        } else {
            /* switched: never back where it came from */
            CHECK(port != c->in_port);
        }
    }
    c->sent[port] = true;
    c->outs++;
}

static void on_blade_state(void *opaque, unsigned slot, bool in,
                           const char *reason)
{
    Ctx *c = opaque;

    CHECK(slot < NSLOTS);
    CHECK(in != c->in_rotation[slot]);
    CHECK(in == !strcmp(reason, "in rotation"));
    c->in_rotation[slot] = in;
}

static void on_decision(void *opaque, const SwDecision *d)
{
    Ctx *c = opaque;
    SwRuleInfo ri;

    CHECK(c->in_input);
    CHECK(swcore_rule_info(c->sw, d->rule, &ri));
    CHECK(d->blade >= -1 && d->blade < NSLOTS);
    CHECK((unsigned)d->policy < BAL_POLICY__MAX);
    if (d->blade >= 0) {
        bool member = false;

        for (unsigned i = 0; i < ri.spec.nblades; i++) {
            member |= ri.spec.blades[i] == d->blade;
        }
        CHECK(member);
        CHECK(c->in_rotation[d->blade]);
    }
}

static void on_fabric(void *opaque, unsigned port, const uint8_t *f,
                      size_t len)
{
    Ctx *c = opaque;

    touch(f, len);
    CHECK(c->in_input && !c->fabric && c->outs == 0);
    CHECK(port == c->in_port && len == c->in_len);
    CHECK(rd16(f + 12) == SW_ETHERTYPE_FABRIC);
    c->fabric = true;
}

static uint64_t drops_total(const Ctx *c)
{
    uint64_t n = 0;

    for (unsigned d = 0; d < SW_DROP__MAX; d++) {
        n += swcore_drops(c->sw, d);
    }
    return n;
}

/* Feed @f (len octets, writable) from @port at @now, checking it. */
static void input(Ctx *c, unsigned port, uint8_t *f, size_t len,
                  uint64_t now)
{
    uint64_t drops = drops_total(c);
    SwPortInfo p0, p1;
    bool known = port < NPORTS;

    if (known) {
        CHECK(swcore_port_info(c->sw, port, &p0));
    }
    memcpy(c->orig, f, len);
    memset(c->sent, 0, sizeof(c->sent));
    c->in_port = port;
    c->in_len = len;
    c->outs = 0;
    c->reply = c->rewritten = c->fabric = false;
    c->in_input = true;
    swcore_input(c->sw, port, f, len, now);
    c->in_input = false;

    if (!known) {
        CHECK(c->outs == 0 && drops_total(c) == drops);
        return;
    }
    CHECK(swcore_port_info(c->sw, port, &p1));
    CHECK(p1.rx_frames == p0.rx_frames + 1);
    CHECK(drops_total(c) <= drops + 1);
    CHECK(p1.drops - p0.drops == drops_total(c) - drops);
    if (drops_total(c) != drops) {
        CHECK(c->outs == 0 && !c->fabric);
    }
    if (c->outs > 1 || (len >= 14 && (c->orig[0] & 1) && !c->reply &&
                        !c->fabric && drops_total(c) == drops)) {
        /* a flood: every other port that is up, once */
        for (unsigned p = 0; p < NPORTS; p++) {
            CHECK(c->sent[p] == (p != port && port_up(c, p)));
        }
    }
}

/* The blades' open flows are what the table holds. */
static void check_state(Ctx *c, uint64_t now)
{
    static SwFlowInfo fl[64];
    unsigned open[NSLOTS] = { 0 }, n, nrules = swcore_rule_count(c->sw);
    uint64_t drops = 0;
    SwFlowStats fs;
    SwMacStats ms;

    swcore_flow_stats(c->sw, &fs);
    swcore_mac_stats(c->sw, &ms);
    CHECK(fs.count <= fs.capacity && fs.capacity <= 64);
    CHECK(ms.count <= ms.capacity);
    n = swcore_flows(c->sw, now, fl, 64);
    CHECK(n == fs.count);
    for (unsigned i = 0; i < n; i++) {
        SwRuleInfo ri;
        bool member = false;

        CHECK(fl[i].slot < NSLOTS);
        CHECK(fl[i].rule < nrules);
        CHECK(swcore_rule_info(c->sw, fl[i].rule, &ri));
        for (unsigned j = 0; j < ri.spec.nblades; j++) {
            member |= ri.spec.blades[j] == fl[i].slot;
        }
        CHECK(member);
        CHECK(fl[i].proto == ri.spec.proto);
        CHECK(fl[i].dst_port >= ri.spec.port_min &&
              fl[i].dst_port <= ri.spec.port_max);
        CHECK(!ri.spec.vip || fl[i].dst_ip == ri.spec.vip);
        if (!fl[i].closing) {
            open[fl[i].slot]++;
        }
    }
    for (unsigned p = 0; p < NPORTS; p++) {
        SwPortInfo pi;

        CHECK(swcore_port_info(c->sw, p, &pi));
        drops += pi.drops;
    }
    CHECK(drops == drops_total(c));
    for (unsigned s = 0; s < NSLOTS; s++) {
        SwBladeInfo bi;

        CHECK(swcore_blade_info(c->sw, s, now, &bi));
        CHECK(bi.active_flows == open[s]);
        CHECK(bi.in_rotation == c->in_rotation[s]);
        CHECK(bi.in_rotation == !strcmp(bi.reason, "in rotation"));
    }
}

/*
 * Right after swcore_tick(@now): nothing left that was due, so the next
 * deadline is in the future.
 */
static void check_ticked(Ctx *c, uint64_t now)
{
    static SwFlowInfo fl[64];
    unsigned n = swcore_flows(c->sw, now, fl, 64);
    uint64_t dl = swcore_deadline(c->sw);

    CHECK(dl == 0 || dl > now);
    for (unsigned i = 0; i < n; i++) {
        CHECK(fl[i].idle_ns < c->flow_idle_ns);
    }
    for (unsigned s = 0; s < NSLOTS; s++) {
        SwBladeInfo bi;

        CHECK(swcore_blade_info(c->sw, s, now, &bi));
        CHECK(!bi.in_rotation || bi.report_age_ns < c->util_stale_ns);
    }
}

/* What a tick may change. */
typedef struct Snap {
    uint64_t macs, aged, flows, expired;
    bool in[NSLOTS];
    const char *reason[NSLOTS];
} Snap;

static void snap(const Ctx *c, Snap *s)
{
    SwFlowStats fs;
    SwMacStats ms;

    memset(s, 0, sizeof(*s));
    swcore_flow_stats(c->sw, &fs);
    swcore_mac_stats(c->sw, &ms);
    s->macs = ms.count;
    s->aged = ms.aged;
    s->flows = fs.count;
    s->expired = fs.expired;
    for (unsigned i = 0; i < NSLOTS; i++) {
        SwBladeInfo bi;

        CHECK(swcore_blade_info(c->sw, i, 0, &bi));
        s->in[i] = bi.in_rotation;
        s->reason[i] = bi.reason;
    }
}

/* ---- palettes ------------------------------------------------------------ */

static uint32_t ipn(unsigned a, unsigned b, unsigned c, unsigned d)
{
    uint8_t o[4] = { a, b, c, d };
    uint32_t v;

    memcpy(&v, o, 4);
    return v;
}

static uint32_t pal_ip(uint8_t i)
{
    switch (i % 8) {
    case 0:
        return ipn(198, 51, 100, 1);
    case 1:
        return ipn(198, 51, 100, 2);
    case 2:
        return ipn(198, 51, 100, 3);
    case 3:
        return 0;
    case 4:
        return ipn(192, 0, 2, 10 + (i >> 3));
    case 5:
        return ipn(224, 0, 0, 251);
    case 6:
        return ipn(198, 51, 100, 9);
    default:
        return ipn(255, 255, 255, 255);
    }
}

static uint16_t pal_port(uint8_t i)
{
    static const uint16_t ports[8] = { 80, 22, 53, 443, 8080, 0, 65535, 1 };

    return i < 8 ? ports[i] : i;
}

static void client_mac(uint8_t *m, unsigned i)
{
    static const uint8_t base[6] = { 0x02, 0, 0, 0, 0x0c, 0 };

    memcpy(m, base, 6);
    m[5] = (uint8_t)i;
}

static void blade_mac(uint8_t *m, unsigned slot)
{
    client_mac(m, 0xb0 + slot);
}

/* A destination MAC from the palette; false: keep the frame's. */
static bool pal_dst(const Ctx *c, unsigned i, uint8_t *m)
{
    switch (i & 7) {
    case 0:
        return false;
    case 1:
        memcpy(m, c->mac, 6);
        break;
    case 2:
        memcpy(m, bcast, 6);
        break;
    case 3:
        memcpy(m, mcast, 6);
        break;
    case 4:
    case 5:
        client_mac(m, i & 1);
        break;
    default:
        blade_mac(m, i & 3);
        break;
    }
    return true;
}

/* A source MAC: a client, the blade of the port's slot, the switch's. */
static bool pal_src(const Ctx *c, unsigned i, unsigned port, uint8_t *m)
{
    switch (i & 3) {
    case 0:
        return false;
    case 1:
        client_mac(m, port);
        break;
    case 2:
        blade_mac(m, port >= 1 && port <= NSLOTS ? NSLOTS - port : 7);
        break;
    default:
        memcpy(m, c->mac, 6);
        break;
    }
    return true;
}

static void source_for(unsigned port, unsigned client, uint8_t *m)
{
    if (port >= 1 && port <= NSLOTS) {
        blade_mac(m, NSLOTS - port);
    } else {
        client_mac(m, client & 3);
    }
}

/* ---- records ------------------------------------------------------------- */

typedef struct Input {
    const uint8_t *p;
    size_t left;
} Input;

static bool take(Input *in, size_t n, const uint8_t **out)
{
    if (in->left < n) {
        return false;
    }
    *out = in->p;
    in->p += n;
    in->left -= n;
    return true;
}

static void set_csum(uint8_t *p, size_t len, uint8_t *at)
{
    uint16_t s;

    at[0] = at[1] = 0;
    s = (uint16_t)~csum_sum(p, len);
    at[0] = s >> 8;
    at[1] = s & 0xff;
}

/*
 * An IPv4 packet to the switch's MAC from @port: a = [client][vip][proto]
 * [sport][dport][flags][payload][corrupt].
 */
static size_t build_ip(const Ctx *c, uint8_t *f, unsigned port,
                       const uint8_t *a)
{
    static const uint8_t protos[4] = { 6, 17, 1, 47 };
    uint8_t *ip = f + 14, *l4;
    size_t ihl = a[7] & 0x40 ? 24 : 20, l4len;
    uint8_t proto = protos[a[2] & 3];
    uint32_t sip = ipn(192, 0, 2, 10 + (a[0] & 3)), dip = pal_ip(a[1]);

    memcpy(f, c->mac, 6);
    source_for(port, a[0], f + 6);
    f[12] = 0x08;
    f[13] = 0x00;
    memset(ip, 0, ihl);
    ip[0] = 0x40 | (uint8_t)(ihl / 4);
    ip[8] = 64;
    ip[9] = proto;
    if (a[2] & 0x04) {
        ip[6] = 0x20;                   /* more fragments */
    }
    if (a[2] & 0x08) {
        ip[7] = a[2];                   /* an offset */
    }
    memcpy(ip + 12, &sip, 4);
    memcpy(ip + 16, &dip, 4);
    l4 = ip + ihl;
    l4len = (proto == 6 ? 20 : 8) + a[6];
    memset(l4, 0, l4len);
    for (size_t i = 8; i < l4len; i++) {
        l4[i] = (uint8_t)(i * 7 + a[6]);
    }
    if (proto == 1) {
        l4[0] = a[5] & 0x80 ? a[5] & 0x7f : 8;
        l4[1] = a[3] & 0x80 ? 1 : 0;
        l4[4] = a[3];
        l4[6] = a[4];
        set_csum(l4, l4len, l4 + 2);
    } else {
        unsigned sport = 1000 + (a[3] & 7), dport = pal_port(a[4]);

        l4[0] = sport >> 8;
        l4[1] = sport & 0xff;
        l4[2] = dport >> 8;
        l4[3] = dport & 0xff;
        if (proto == 6) {
            l4[12] = 0x50;
            l4[13] = a[5];
        }
    }
    ip[2] = (ihl + l4len) >> 8;
    ip[3] = (ihl + l4len) & 0xff;
    set_csum(ip, ihl, ip + 10);
    /* and, sometimes, something wrong with it */
    switch (a[7] & 7) {
    case 1:
        ip[0] = (uint8_t)(0x40 | (a[7] >> 4));
        break;
    case 2:
        ip[2] = a[7];
        break;
    case 3:
        ip[3] ^= a[7];
        break;
    case 4:
        ip[0] = (uint8_t)(a[7] & 0xf0) | 5;
        break;
    }
    return 14 + ihl + l4len;
}

static size_t build_arp(const Ctx *c, uint8_t *f, unsigned port,
                        const uint8_t *a)
{
    uint8_t *p = f + 14;
    uint32_t spa = ipn(192, 0, 2, 10 + (a[0] & 3)), tpa = pal_ip(a[1]);

    memset(f, 0, 60);
    memcpy(f, a[0] & 0x80 ? c->mac : bcast, 6);
    source_for(port, a[0], f + 6);
    f[12] = 0x08;
    f[13] = 0x06;
    p[1] = 1;
    p[2] = 0x08;
    p[4] = 6;
    p[5] = 4;
    p[7] = a[0] & 0x40 ? 2 : 1;
    memcpy(p + 8, f + 6, 6);
    memcpy(p + 14, &spa, 4);
    memcpy(p + 24, &tpa, 4);
    return a[0] & 0x20 ? 14 + 27 : 60;
}

static void rule_add(Ctx *c, const uint8_t *a, size_t n)
{
    static const char *const names[4] = { "web", "dns", "ssh", "all" };
    SwRuleSpec s;
    char err[64];
    int ret;

    memset(&s, 0, sizeof(s));
    s.kind = a[0] & 0x80 ? (SwRuleKind)(a[0] & 0x7f) :
             (SwRuleKind)(a[0] & 1);
    if (a[1] & 0x80) {
        memset(s.name, 'x', sizeof(s.name));
    } else if (!(a[1] & 0x40)) {
        snprintf(s.name, sizeof(s.name), "%s", names[a[1] & 3]);
    }
    s.vip = pal_ip(a[2]);
    s.proto = a[3] & 0x80 ? (SwProto)a[3] :
              a[3] & 1 ? SW_PROTO_UDP : SW_PROTO_TCP;
    s.port_min = pal_port(a[4] & 0x0f);
    s.port_max = a[4] & 0x80 ? UINT16_MAX : pal_port(a[4] >> 4);
    s.policy = (BalPolicy)(a[5] % (BAL_POLICY__MAX + 1));
    s.nblades = a[6] % 6;
    for (size_t i = 0; i < s.nblades && 7 + i < n; i++) {
        s.blades[i] = a[7 + i] % 8;
    }
    memset(err, 0x55, sizeof(err));
    ret = swcore_rule_add(c->sw, &s, err, sizeof(err));
    if (ret == 0) {
        CHECK(swcore_rule_find(c->sw, s.name) >= 0);
    } else {
        CHECK(ret == -1 && memchr(err, 0, sizeof(err)) && err[0]);
    }
}

static void manage(Ctx *c, uint8_t sub, Input *in, uint64_t *now)
{
    static const char *const names[4] = { "web", "dns", "ssh", "all" };
    static uint8_t f[400];
    const uint8_t *a;
    uint64_t dl;
    size_t len;

    switch (sub & 7) {
    case 0:
        if (take(in, 12, &a)) {
            rule_add(c, a, 12);
        }
        break;
    case 1:
        if (take(in, 1, &a)) {
            unsigned n = swcore_rule_count(c->sw);
            int ret = swcore_rule_del(c->sw, names[a[0] & 3]);

            CHECK(swcore_rule_count(c->sw) == n - (ret == 0));
        }
        break;
    case 2:
        if (take(in, 1, &a)) {
            swcore_rule_set_policy(c->sw, names[a[0] & 3],
                                   (BalPolicy)((a[0] >> 2) %
                                               (BAL_POLICY__MAX + 1)));
        }
        break;
    case 3:
        swcore_tick(c->sw, *now);
        check_ticked(c, *now);
        break;
    case 4:
        /*
         * To the deadline: a tick a nanosecond before it changes
         * nothing, a tick at it changes something.
         */
        swcore_tick(c->sw, *now);
        check_ticked(c, *now);
        dl = swcore_deadline(c->sw);
        if (dl != 0 && dl != UINT64_MAX && dl - *now < 1000 * 1000 * MS) {
            Snap s0, s1;

            snap(c, &s0);
            swcore_tick(c->sw, dl - 1);
            snap(c, &s1);
            CHECK(!memcmp(&s0, &s1, sizeof(s0)));
            CHECK(swcore_deadline(c->sw) == dl);
            *now = dl;
            swcore_tick(c->sw, *now);
            snap(c, &s1);
            CHECK(memcmp(&s0, &s1, sizeof(s0)));
            check_ticked(c, *now);
        }
        break;
    case 5:
        if (take(in, 3, &a)) {
            unsigned port = a[0] % (NPORTS + 1);

            len = build_arp(c, f, port, a + 1);
            input(c, port, f, len, *now);
        }
        break;
    default:
        if (take(in, 9, &a)) {
            uint8_t b[8];
            unsigned port = a[0] % (NPORTS + 1);

            memcpy(b, a + 1, 8);
            b[2] = (b[2] & ~3) | 2;     /* ICMP */
            len = build_ip(c, f, port, b);
            input(c, port, f, len, *now);
        }
        break;
    }
}

static void setup_rules(Ctx *c)
{
    static const struct {
        SwRuleKind kind;
        const char *name;
        unsigned vip;
        SwProto proto;
        uint16_t pmin, pmax;
        BalPolicy policy;
        const char *slots;
    } rules[] = {
        { SW_RULE_SERVICE, "web", 0, SW_PROTO_TCP, 80, 80, BAL_POLICY_UTIL,
          "012" },
        { SW_RULE_SERVICE, "dns", 0, SW_PROTO_UDP, 53, 53, BAL_POLICY_RR,
          "01" },
        { SW_RULE_STEERING, "ssh", 3, SW_PROTO_TCP, 22, 22,
          BAL_POLICY_LEASTCONN, "3" },
        { SW_RULE_SERVICE, "all", 1, SW_PROTO_TCP, 0, 65535,
          BAL_POLICY_P2C_CONN, "3210" },
    };
    char err[64];

    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        SwRuleSpec s;

        memset(&s, 0, sizeof(s));
        s.kind = rules[i].kind;
        snprintf(s.name, sizeof(s.name), "%s", rules[i].name);
        s.vip = pal_ip(rules[i].vip);
        s.proto = rules[i].proto;
        s.port_min = rules[i].pmin;
        s.port_max = rules[i].pmax;
        s.policy = rules[i].policy;
        for (const char *p = rules[i].slots; *p; p++) {
            s.blades[s.nblades++] = (uint8_t)(*p - '0');
        }
        CHECK(swcore_rule_add(c->sw, &s, err, sizeof(err)) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static Ctx ctx;
    static uint8_t frame[SW_MAX_FRAME + 64];
    Ctx *c = &ctx;
    SwConfig cfg;
    SwOps ops = {
        .output = on_output, .blade_state = on_blade_state,
        .decision = on_decision,
    };
    Input in = { data, size };
    const uint8_t *h, *a;
    uint64_t now = 0;

    if (!take(&in, 1, &h)) {
        return 0;
    }
    memset(c, 0, sizeof(*c));
    swcore_config_init(&cfg);
    cfg.flow_table_size = 1 + (h[0] & 15);
    cfg.mac_table_size = 2 + ((h[0] >> 4) & 7);
    cfg.mac_aging_ns = 20000 * MS;
    cfg.flow_idle_ns = 10000 * MS;
    cfg.flow_linger_ns = 1000 * MS;
    cfg.util_stale_ns = 2000 * MS;
    cfg.seed = h[0];
    if (h[0] & 0x80) {
        ops.fabric_frame = on_fabric;
    }
    memcpy(c->mac, cfg.mac, 6);
    c->flow_idle_ns = cfg.flow_idle_ns;
    c->util_stale_ns = cfg.util_stale_ns;
    c->sw = swcore_new(&cfg, &ops, c);
    CHECK(c->sw);
    /* uplink 0, slots 3..0 as ports 1..4, chain 5: all up */
    CHECK(swcore_add_port(c->sw, SW_PORT_UPLINK, "uplink", 0) ==
          PORT_UPLINK);
    for (unsigned s = NSLOTS; s-- > 0;) {
        CHECK(swcore_add_port(c->sw, SW_PORT_SLOT, "slot", s) ==
              (int)(NSLOTS - s));
    }
    CHECK(swcore_add_port(c->sw, SW_PORT_CHAIN, "chain", 0) == PORT_CHAIN);
    for (unsigned p = 0; p < NPORTS; p++) {
        swcore_port_link(c->sw, p, true, now);
    }
    setup_rules(c);
    check_state(c, now);

    while (take(&in, 3, &h)) {
        uint8_t op = h[0], arg = h[1];
        unsigned port = arg % (NPORTS + 1);
        size_t len;

        now += (uint64_t)h[2] * h[2] * MS;
        switch (op & 7) {
        case 0:
        case 1:
        case 2:
        case 3:
            if (!take(&in, 2, &a)) {
                break;
            }
            len = a[0] | (size_t)(a[1] & 0x7f) << 8;
            len = len < sizeof(frame) ? len : sizeof(frame);
            if (a[1] & 0x80) {
                /* the length's top bit: zeros, for long frames */
                memset(frame, 0, len);
            } else {
                len = len < in.left ? len : in.left;
                memcpy(frame, in.p, len);
                in.p += len;
                in.left -= len;
            }
            if (len >= 14) {
                uint8_t m[6];

                if (pal_dst(c, op >> 3, m)) {
                    memcpy(frame, m, 6);
                }
                if (pal_src(c, op >> 6, port, m)) {
                    memcpy(frame + 6, m, 6);
                }
            }
            input(c, port, frame, len, now);
            break;
        case 4:
            if (take(&in, 8, &a)) {
                len = build_ip(c, frame, port, a);
                input(c, port, frame, len, now);
            }
            break;
        case 5:
            swcore_port_link(c->sw, port, op & 8, now);
            break;
        case 6:
            if (take(&in, 2, &a)) {
                unsigned slot = arg % (NSLOTS + 1);
                SwBladeInfo bi;

                /* op bit 3: with contention figures, from the same octets */
                if (op & 8) {
                    swcore_blade_report_contention(c->sw, slot, a[0], a[1],
                                                   a[0] * 5u, a[1] * 5u, now);
                } else {
                    swcore_blade_report(c->sw, slot, a[0], a[1], now);
                }
                /* a fresh report: in if the link is up and MAC known */
                if (swcore_blade_info(c->sw, slot, now, &bi)) {
                    CHECK(bi.in_rotation ==
                          (port_up(c, bi.port) && bi.mac_known));
                    CHECK(bi.report_age_ns == 0);
                    CHECK(bi.cpu_pct == (a[0] > 100 ? 100 : a[0]));
                    CHECK(bi.has_contention == !!(op & 8));
                    CHECK(bi.psi_permille <= 1000 &&
                          bi.runnable <= BAL_MAX_RUNNABLE);
                }
            }
            break;
        default:
            manage(c, arg, &in, &now);
            break;
        }
        check_state(c, now);
    }
    swcore_free(c->sw);
    c->sw = NULL;
    return 0;
}
