/*
 * The switch blade's forwarding engine and blade server manager
 * (net/switch-core.c), driven as hw/blade's blade-switch drives it: frames
 * in with their port, every frame out recorded through ops->output, links,
 * utilization reports and ticks at explicit times.  What is checked is
 * docs/switch-blade.md and net/switch-core.h: learning and flooding,
 * aging, every drop reason, ARP and ICMP for the VIPs, flows and their
 * placement, closing, expiry and eviction, rules, the rotation, and
 * swcore_deadline().  No clock, no sleeps: time is what the test says.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <glib.h>
#include <string.h>

#include "lru-table.h"
#include "switch-core.h"

#define MS 1000000ull
#define SEC 1000000000ull
/* Tests start here, well away from 0. */
#define T0 (1000 * SEC)

#define ETH_ARP 0x0806
#define ETH_IP 0x0800
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
/* swcore_config_init()'s MAC for the switch, which every test keeps. */
static const uint8_t swmac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0xfe };

/* ---- addresses ----------------------------------------------------------- */

static uint32_t ipn(unsigned a, unsigned b, unsigned c, unsigned d)
{
    uint8_t o[4] = { a, b, c, d };
    uint32_t v;

    memcpy(&v, o, 4);
    return v;
}

#define VIP1 ipn(198, 51, 100, 1)
#define VIP2 ipn(198, 51, 100, 2)
#define VIP3 ipn(198, 51, 100, 3)
#define NOT_VIP ipn(198, 51, 100, 99)

static uint32_t client_ip(unsigned c)
{
    return ipn(192, 0, 2, 10 + c);
}

static uint32_t blade_ip(unsigned s)
{
    return ipn(192, 0, 2, 100 + s);
}

typedef struct Mac {
    uint8_t a[6];
} Mac;

static Mac client_mac(unsigned c)
{
    return (Mac){ { 0x02, 0, 0, 0, 0x0c, (uint8_t)c } };
}

static Mac blade_mac(unsigned s)
{
    return (Mac){ { 0x02, 0, 0, 0, 0x0b, (uint8_t)s } };
}

/* ---- frames -------------------------------------------------------------- */

static size_t eth_hdr(uint8_t *f, const uint8_t *dst, const uint8_t *src,
                      uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = type >> 8;
    f[13] = type & 0xff;
    return 14;
}

/* An ARP packet, padded to 60 octets. */
static size_t arp_frame(uint8_t *f, const uint8_t *dst, const uint8_t *sha,
                        uint16_t op, uint32_t spa, uint32_t tpa)
{
    uint8_t *a = f + 14;

    memset(f, 0, 60);
    eth_hdr(f, dst, sha, ETH_ARP);
    a[1] = 1;               /* Ethernet */
    a[2] = 0x08;            /* IPv4 */
    a[4] = 6;
    a[5] = 4;
    a[6] = op >> 8;
    a[7] = op & 0xff;
    memcpy(a + 8, sha, 6);
    memcpy(a + 14, &spa, 4);
    memcpy(a + 24, &tpa, 4);
    return 60;
}

/* The Internet checksum of @len octets: the value to store. */
static uint16_t inet_csum(const uint8_t *p, size_t len)
{
    uint32_t s = 0;
    size_t i;

    for (i = 0; i + 1 < len; i += 2) {
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    }
    if (len & 1) {
        s += (uint32_t)p[len - 1] << 8;
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return (uint16_t)~s;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v & 0xff;
}

/*
 * An IPv4 packet in an Ethernet frame, header checksum set, padded to 60
 * octets.  @frag: the flags and fragment offset field.
 */
static size_t ip_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src,
                       uint8_t proto, uint32_t sip, uint32_t dip,
                       uint16_t frag, const uint8_t *l4, size_t l4len)
{
    uint8_t *ip = f + 14;
    size_t len = 14 + 20 + l4len;

    memset(f, 0, MAX(len, 60));
    eth_hdr(f, dst, src, ETH_IP);
    ip[0] = 0x45;
    wr16(ip + 2, 20 + l4len);
    wr16(ip + 4, 0x1234);
    wr16(ip + 6, frag);
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, &sip, 4);
    memcpy(ip + 16, &dip, 4);
    wr16(ip + 10, inet_csum(ip, 20));
    memcpy(ip + 20, l4, l4len);
    return MAX(len, 60);
}

/* A TCP header (and @payload octets) from @sport to @dport. */
static size_t tcp_hdr(uint8_t *l4, uint16_t sport, uint16_t dport,
                      uint8_t flags, size_t payload)
{
    size_t i;

    memset(l4, 0, 20);
    wr16(l4, sport);
    wr16(l4 + 2, dport);
    l4[4] = 0x11;
    l4[7] = 0x44;
    l4[12] = 0x50;
    l4[13] = flags;
    wr16(l4 + 14, 64240);
    wr16(l4 + 16, 0xbeef);  /* not checked by the switch */
    for (i = 0; i < payload; i++) {
        l4[20 + i] = (uint8_t)(i * 13 + sport);
    }
    return 20 + payload;
}

/* TCP from client @c to @vip, to the switch's MAC. */
static size_t tcp_to(uint8_t *f, unsigned c, uint32_t vip, uint16_t sport,
                     uint16_t dport, uint8_t flags)
{
    uint8_t l4[100];
    Mac m = client_mac(c);
    size_t n = tcp_hdr(l4, sport, dport, flags, flags & TCP_SYN ? 0 : 40);

    return ip_frame(f, swmac, m.a, 6, client_ip(c), vip, 0x4000, l4, n);
}

static size_t udp_to(uint8_t *f, unsigned c, uint32_t vip, uint16_t sport,
                     uint16_t dport)
{
    uint8_t l4[8 + 30];
    Mac m = client_mac(c);
    unsigned i;

    wr16(l4, sport);
    wr16(l4 + 2, dport);
    wr16(l4 + 4, sizeof(l4));
    wr16(l4 + 6, 0);
    for (i = 8; i < sizeof(l4); i++) {
        l4[i] = (uint8_t)i;
    }
    return ip_frame(f, swmac, m.a, 17, client_ip(c), vip, 0, l4,
                    sizeof(l4));
}

/* ---- the bench: a switch with recording callbacks ------------------------ */

typedef struct Out {
    unsigned port;
    size_t len;
    uint8_t *data;
} Out;

typedef struct StateEv {
    unsigned slot;
    bool in;
    const char *reason;
} StateEv;

typedef struct Bench {
    SwitchCore *sw;
    SwConfig cfg;
    GArray *out;                /* Out, since the last input() */
    GArray *states;             /* StateEv */
    GArray *decisions;          /* SwDecision */
    GArray *fabric;             /* Out */
    unsigned nslots;
    unsigned uplink, chain;     /* port numbers */
    unsigned slot_port[SW_MAX_BLADES];
    uint64_t now;
    const uint8_t *in;          /* input()'s frame, while it runs */
    size_t in_len;
} Bench;

static void out_clear(gpointer p)
{
    g_free(((Out *)p)->data);
}

static void rec_output(void *opaque, unsigned port, const uint8_t *frame,
                       size_t len)
{
    Bench *b = opaque;
    Out o = { port, len, g_memdup2(frame, len) };

    g_assert_cmpuint(port, <, swcore_port_count(b->sw));
    /* a frame not marked rewritten is the input's, octet for octet */
    if (b->in && !swcore_frame_rewritten(b->sw)) {
        g_assert_cmpmem(frame, len, b->in, b->in_len);
    }
    g_array_append_val(b->out, o);
}

static void rec_state(void *opaque, unsigned slot, bool in,
                      const char *reason)
{
    Bench *b = opaque;
    StateEv e = { slot, in, reason };

    g_array_append_val(b->states, e);
}

static void rec_decision(void *opaque, const SwDecision *d)
{
    Bench *b = opaque;

    g_array_append_val(b->decisions, *d);
}

static void rec_fabric(void *opaque, unsigned port, const uint8_t *frame,
                       size_t len)
{
    Bench *b = opaque;
    Out o = { port, len, g_memdup2(frame, len) };

    g_array_append_val(b->fabric, o);
}

/*
 * A switch with @nslots slots.  The ports are numbered in an order unlike
 * the slots', so that a mix-up of the two shows: the uplink is port 0, the
 * slots follow from the last to the first, then a chain port.
 */
static Bench *bench_new_cfg(unsigned nslots, const SwConfig *cfg,
                            bool fabric)
{
    Bench *b = g_new0(Bench, 1);
    SwOps ops = {
        .output = rec_output, .blade_state = rec_state,
        .decision = rec_decision, .fabric_frame = fabric ? rec_fabric : NULL,
    };
    unsigned i;
    int p;

    if (cfg) {
        b->cfg = *cfg;
    } else {
        swcore_config_init(&b->cfg);
    }
    g_assert_cmpmem(b->cfg.mac, 6, swmac, 6);
    b->out = g_array_new(false, false, sizeof(Out));
    g_array_set_clear_func(b->out, out_clear);
    b->fabric = g_array_new(false, false, sizeof(Out));
    g_array_set_clear_func(b->fabric, out_clear);
    b->states = g_array_new(false, false, sizeof(StateEv));
    b->decisions = g_array_new(false, false, sizeof(SwDecision));
    b->sw = swcore_new(&b->cfg, &ops, b);
    g_assert_nonnull(b->sw);
    b->nslots = nslots;
    b->now = T0;
    p = swcore_add_port(b->sw, SW_PORT_UPLINK, "uplink", 0);
    g_assert_cmpint(p, ==, 0);
    b->uplink = p;
    for (i = nslots; i-- > 0;) {
        g_autofree char *name = g_strdup_printf("slot%u", i);

        p = swcore_add_port(b->sw, SW_PORT_SLOT, name, i);
        g_assert_cmpint(p, ==, 1 + nslots - 1 - i);
        b->slot_port[i] = p;
    }
    p = swcore_add_port(b->sw, SW_PORT_CHAIN, "chain", 0);
    g_assert_cmpint(p, ==, 1 + nslots);
    b->chain = p;
    g_assert_cmpuint(swcore_port_count(b->sw), ==, nslots + 2);
    return b;
}

static Bench *bench_new(unsigned nslots)
{
    return bench_new_cfg(nslots, NULL, false);
}

static void bench_free(Bench *b)
{
    swcore_free(b->sw);
    g_array_free(b->out, true);
    g_array_free(b->fabric, true);
    g_array_free(b->states, true);
    g_array_free(b->decisions, true);
    g_free(b);
}

static unsigned sp(const Bench *b, unsigned slot)
{
    return b->slot_port[slot];
}

static void set_link(Bench *b, unsigned port, bool up)
{
    swcore_port_link(b->sw, port, up, b->now);
}

static void tick(Bench *b)
{
    swcore_tick(b->sw, b->now);
}

static const Out *out_at(const Bench *b, unsigned i)
{
    g_assert_cmpuint(i, <, b->out->len);
    return &g_array_index(b->out, Out, i);
}

/*
 * Feed a copy of @f (the core may rewrite it) to @port at b->now.  The
 * outputs are in b->out; returns their count.
 */
static unsigned input(Bench *b, unsigned port, const uint8_t *f, size_t len)
{
    g_autofree uint8_t *copy = g_memdup2(f, len ? len : 1);

    g_array_set_size(b->out, 0);
    b->in = f;
    b->in_len = len;
    swcore_input(b->sw, port, copy, len, b->now);
    b->in = NULL;
    return b->out->len;
}

/*
 * @f went out unchanged, once to every port that is up except @in, in
 * port order.
 */
static void assert_flooded(const Bench *b, unsigned in, const uint8_t *f,
                           size_t len)
{
    unsigned p, n = 0;

    for (p = 0; p < swcore_port_count(b->sw); p++) {
        SwPortInfo pi;

        g_assert_true(swcore_port_info(b->sw, p, &pi));
        if (p == in || !pi.up) {
            continue;
        }
        g_assert_cmpuint(out_at(b, n)->port, ==, p);
        g_assert_cmpmem(out_at(b, n)->data, out_at(b, n)->len, f, len);
        n++;
    }
    g_assert_cmpuint(b->out->len, ==, n);
}

/* A frame from blade @slot that teaches the switch its MAC. */
static void blade_hello(Bench *b, unsigned slot)
{
    uint8_t f[60];
    Mac m = blade_mac(slot);

    arp_frame(f, bcast, m.a, 1, blade_ip(slot), blade_ip(slot));
    input(b, sp(b, slot), f, sizeof(f));
}

static void report(Bench *b, unsigned slot, unsigned cpu, unsigned irq)
{
    swcore_blade_report(b->sw, slot, cpu, irq, b->now);
}

static bool in_rotation(const Bench *b, unsigned slot)
{
    SwBladeInfo bi;

    g_assert_true(swcore_blade_info(b->sw, slot, b->now, &bi));
    return bi.in_rotation;
}

static const char *reason(const Bench *b, unsigned slot)
{
    SwBladeInfo bi;

    g_assert_true(swcore_blade_info(b->sw, slot, b->now, &bi));
    g_assert_cmpint(bi.in_rotation, ==, !strcmp(bi.reason, "in rotation"));
    return bi.reason;
}

/* Blade @slot up, its MAC learned, reporting @cpu: in rotation. */
static void blade_ready(Bench *b, unsigned slot, unsigned cpu)
{
    set_link(b, sp(b, slot), true);
    blade_hello(b, slot);
    report(b, slot, cpu, 0);
    g_assert_true(in_rotation(b, slot));
    g_array_set_size(b->out, 0);
    g_array_set_size(b->states, 0);
}

static SwRuleSpec rule_spec(SwRuleKind kind, const char *name, uint32_t vip,
                            SwProto proto, uint16_t pmin, uint16_t pmax,
                            BalPolicy policy, const char *slots)
{
    SwRuleSpec s;
    const char *c;

    memset(&s, 0, sizeof(s));
    s.kind = kind;
    g_strlcpy(s.name, name, sizeof(s.name));
    s.vip = vip;
    s.proto = proto;
    s.port_min = pmin;
    s.port_max = pmax;
    s.policy = policy;
    /* @slots: one digit per slot, "013" */
    for (c = slots; *c; c++) {
        s.blades[s.nblades++] = (uint8_t)(*c - '0');
    }
    return s;
}

static void add_rule(Bench *b, SwRuleKind kind, const char *name,
                     uint32_t vip, SwProto proto, uint16_t pmin,
                     uint16_t pmax, BalPolicy policy, const char *slots)
{
    SwRuleSpec s = rule_spec(kind, name, vip, proto, pmin, pmax, policy,
                             slots);
    char err[128] = "";

    g_assert_cmpint(swcore_rule_add(b->sw, &s, err, sizeof(err)), ==, 0);
    g_assert_cmpint(swcore_rule_find(b->sw, name), >=, 0);
}

/* A service: VIP, protocol, port (0: all). */
static void add_service(Bench *b, const char *name, uint32_t vip,
                        SwProto proto, uint16_t port, BalPolicy policy,
                        const char *slots)
{
    add_rule(b, SW_RULE_SERVICE, name, vip, proto, port,
             port ? port : UINT16_MAX, policy, slots);
}

static int port_slot(const Bench *b, unsigned port)
{
    SwPortInfo pi;

    g_assert_true(swcore_port_info(b->sw, port, &pi));
    return pi.kind == SW_PORT_SLOT ? (int)pi.slot : -1;
}

/*
 * A frame of a flow from the uplink: it goes to one blade, the frame
 * unchanged but for the destination MAC, now the blade's.  Returns the
 * blade's slot, or -1 if the frame went nowhere.
 */
static int flow_send(Bench *b, const uint8_t *f, size_t len)
{
    const Out *o;
    Mac m;
    int slot;

    if (input(b, b->uplink, f, len) == 0) {
        return -1;
    }
    g_assert_cmpuint(b->out->len, ==, 1);
    o = out_at(b, 0);
    slot = port_slot(b, o->port);
    g_assert_cmpint(slot, >=, 0);
    m = blade_mac(slot);
    g_assert_cmpuint(o->len, ==, len);
    g_assert_cmpmem(o->data, 6, m.a, 6);
    g_assert_cmpmem(o->data + 6, len - 6, f + 6, len - 6);
    return slot;
}

/* TCP from client @c to @vip:@dport from @sport: the blade, or -1. */
static int tcp_send(Bench *b, unsigned c, uint32_t vip, uint16_t sport,
                    uint16_t dport, uint8_t flags)
{
    uint8_t f[200];
    size_t len = tcp_to(f, c, vip, sport, dport, flags);

    return flow_send(b, f, len);
}

static uint32_t active(const Bench *b, unsigned slot)
{
    SwBladeInfo bi;

    g_assert_true(swcore_blade_info(b->sw, slot, b->now, &bi));
    return bi.active_flows;
}

static SwFlowStats flow_stats(const Bench *b)
{
    SwFlowStats fs;

    swcore_flow_stats(b->sw, &fs);
    return fs;
}

static SwBladeInfo blade_info(const Bench *b, unsigned slot)
{
    SwBladeInfo bi;

    g_assert_true(swcore_blade_info(b->sw, slot, b->now, &bi));
    return bi;
}

/*
 * The blades' open flow counts are what the flow table holds: per slot,
 * its flows that are not closing.
 */
static void assert_active_consistent(const Bench *b)
{
    SwFlowStats fs = flow_stats(b);
    g_autofree SwFlowInfo *fl = g_new0(SwFlowInfo, fs.count + 1);
    unsigned n = swcore_flows(b->sw, b->now, fl, fs.count + 1);
    unsigned open[SW_BLADES_ALL] = { 0 }, i;

    g_assert_cmpuint(n, ==, fs.count);
    g_assert_cmpuint(fs.count, <=, fs.capacity);
    for (i = 0; i < n; i++) {
        if (!fl[i].closing) {
            open[fl[i].slot]++;
        }
    }
    for (i = 0; i < b->nslots; i++) {
        g_assert_cmpuint(active(b, i), ==, open[i]);
    }
}

static uint64_t drops_total(const Bench *b)
{
    uint64_t n = 0;
    unsigned d;

    for (d = 0; d < SW_DROP__MAX; d++) {
        n += swcore_drops(b->sw, d);
    }
    return n;
}

/*
 * @f from @port is dropped for @why: that counter and the port's drops
 * go up by one, no other counter moves, nothing goes out.
 */
static void assert_drop(Bench *b, unsigned port, const uint8_t *f,
                        size_t len, SwDrop why)
{
    uint64_t before[SW_DROP__MAX];
    SwPortInfo p0, p1;
    unsigned d;

    for (d = 0; d < SW_DROP__MAX; d++) {
        before[d] = swcore_drops(b->sw, d);
    }
    g_assert_true(swcore_port_info(b->sw, port, &p0));
    g_assert_cmpuint(input(b, port, f, len), ==, 0);
    for (d = 0; d < SW_DROP__MAX; d++) {
        if (swcore_drops(b->sw, d) != before[d] + (d == why)) {
            g_error("expected a drop for reason %u, reason %u went from %"
                    G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT, why, d,
                    before[d], swcore_drops(b->sw, d));
        }
    }
    g_assert_true(swcore_port_info(b->sw, port, &p1));
    g_assert_cmpuint(p1.drops, ==, p0.drops + 1);
    g_assert_cmpuint(p1.rx_frames, ==, p0.rx_frames + 1);
    g_assert_cmpuint(p1.rx_bytes, ==, p0.rx_bytes + len);
    g_assert_cmpuint(p1.tx_frames, ==, p0.tx_frames);
}

/* ---- configuration and ports --------------------------------------------- */

static void test_config(void)
{
    SwConfig cfg;
    SwOps ops = { .output = rec_output };
    SwitchCore *sw;
    SwFlowStats fs;
    SwMacStats ms;

    swcore_config_init(&cfg);
    g_assert_cmpmem(cfg.mac, 6, swmac, 6);
    g_assert_cmpuint(cfg.mac_table_size, ==, 4096);
    g_assert_cmpuint(cfg.mac_aging_ns, ==, 300 * SEC);
    g_assert_cmpuint(cfg.flow_table_size, ==, 65536);
    g_assert_cmpuint(cfg.flow_idle_ns, ==, 60 * SEC);
    g_assert_cmpuint(cfg.flow_linger_ns, ==, 2 * SEC);
    g_assert_cmpuint(cfg.util_stale_ns, ==, 1 * SEC);

    /* Zeros in the configuration take the defaults. */
    memset(&cfg, 0, sizeof(cfg));
    sw = swcore_new(&cfg, &ops, NULL);
    g_assert_nonnull(sw);
    swcore_flow_stats(sw, &fs);
    swcore_mac_stats(sw, &ms);
    g_assert_cmpuint(fs.capacity, ==, 65536);
    g_assert_cmpuint(fs.count, ==, 0);
    g_assert_cmpuint(fs.memory, >, 0);
    g_assert_cmpuint(ms.capacity, ==, 4096);
    g_assert_cmpuint(ms.count, ==, 0);
    g_assert_cmpuint(swcore_port_count(sw), ==, 0);
    g_assert_cmpuint(swcore_rule_count(sw), ==, 0);
    g_assert_cmpuint(swcore_deadline(sw), ==, UINT64_MAX);
    swcore_free(sw);
    swcore_free(NULL);

    /* A table size lru_new refuses: no switch. */
    swcore_config_init(&cfg);
    cfg.flow_table_size = LRU_MAX_CAPACITY + 1;
    g_assert_null(swcore_new(&cfg, &ops, NULL));
}

static void test_ports(void)
{
    Bench *b = bench_new(3);
    SwPortInfo pi;
    unsigned i, n;

    g_assert_true(swcore_port_info(b->sw, b->uplink, &pi));
    g_assert_cmpint(pi.kind, ==, SW_PORT_UPLINK);
    g_assert_cmpstr(pi.name, ==, "uplink");
    g_assert_false(pi.up);
    g_assert_true(swcore_port_info(b->sw, sp(b, 2), &pi));
    g_assert_cmpint(pi.kind, ==, SW_PORT_SLOT);
    g_assert_cmpuint(pi.slot, ==, 2);
    g_assert_cmpstr(pi.name, ==, "slot2");
    g_assert_true(swcore_port_info(b->sw, b->chain, &pi));
    g_assert_cmpint(pi.kind, ==, SW_PORT_CHAIN);
    g_assert_false(swcore_port_info(b->sw, b->chain + 1, &pi));

    /* A slot twice, or out of range: refused. */
    g_assert_cmpint(swcore_add_port(b->sw, SW_PORT_SLOT, "again", 1), ==, -1);
    g_assert_cmpint(swcore_add_port(b->sw, SW_PORT_SLOT, "big",
                                    SW_MAX_BLADES), ==, -1);
    g_assert_cmpuint(swcore_port_count(b->sw), ==, 5);

    /* A long name is cut, NULL is "". */
    g_assert_cmpint(swcore_add_port(b->sw, SW_PORT_UPLINK,
                                    "a-name-much-longer-than-thirty-one",
                                    0), ==, 5);
    g_assert_true(swcore_port_info(b->sw, 5, &pi));
    g_assert_cmpstr(pi.name, ==, "a-name-much-longer-than-thirty-");
    g_assert_cmpint(swcore_add_port(b->sw, SW_PORT_CHAIN, NULL, 0), ==, 6);
    g_assert_true(swcore_port_info(b->sw, 6, &pi));
    g_assert_cmpstr(pi.name, ==, "");

    /* Up to SW_MAX_PORTS. */
    for (n = swcore_port_count(b->sw); n < SW_MAX_PORTS; n++) {
        g_assert_cmpint(swcore_add_port(b->sw, SW_PORT_CHAIN, "c", 0), ==,
                        n);
    }
    g_assert_cmpint(swcore_add_port(b->sw, SW_PORT_CHAIN, "c", 0), ==, -1);
    g_assert_cmpint(swcore_add_port(b->sw, SW_PORT_SLOT, "s", 5), ==, -1);
    g_assert_cmpuint(swcore_port_count(b->sw), ==, SW_MAX_PORTS);

    /* Links: changes counted, a repeat is no change. */
    set_link(b, b->uplink, true);
    set_link(b, b->uplink, true);
    set_link(b, b->uplink, false);
    set_link(b, b->uplink, true);
    set_link(b, SW_MAX_PORTS, true);
    g_assert_true(swcore_port_info(b->sw, b->uplink, &pi));
    g_assert_true(pi.up);
    g_assert_cmpuint(pi.link_changes, ==, 3);
    for (i = 0; i < 3; i++) {
        g_assert_cmpstr(reason(b, i), ==, "link down");
    }
    g_assert_cmpuint(b->states->len, ==, 0);
    bench_free(b);
}

/* ---- L2 switching -------------------------------------------------------- */

static void test_flooding(void)
{
    Bench *b = bench_new(3);
    Mac c0 = client_mac(0), c1 = client_mac(1), b0 = blade_mac(0);
    uint8_t f[100];
    unsigned i;
    SwMacStats ms;

    set_link(b, b->uplink, true);
    set_link(b, sp(b, 0), true);
    set_link(b, sp(b, 1), true);
    set_link(b, b->chain, true);
    /* slot 2 stays down */

    memset(f, 0x5a, sizeof(f));
    /* Broadcast, multicast, unknown unicast: all other up ports. */
    eth_hdr(f, bcast, c0.a, 0x88b6);
    g_assert_cmpuint(input(b, b->uplink, f, sizeof(f)), ==, 3);
    assert_flooded(b, b->uplink, f, sizeof(f));
    eth_hdr(f, mcast, b0.a, 0x88b6);
    g_assert_cmpuint(input(b, sp(b, 0), f, sizeof(f)), ==, 3);
    assert_flooded(b, sp(b, 0), f, sizeof(f));
    eth_hdr(f, c1.a, b0.a, 0x0800);
    input(b, sp(b, 0), f, sizeof(f));
    assert_flooded(b, sp(b, 0), f, sizeof(f));
    for (i = 0; i < b->out->len; i++) {
        g_assert_cmpuint(out_at(b, i)->port, !=, sp(b, 2));
    }

    /* Both sources are learned: unicast to them goes to one port. */
    g_assert_cmpint(swcore_mac_lookup(b->sw, c0.a, b->now), ==, b->uplink);
    g_assert_cmpint(swcore_mac_lookup(b->sw, b0.a, b->now), ==, sp(b, 0));
    g_assert_cmpint(swcore_mac_lookup(b->sw, c1.a, b->now), ==, -1);
    eth_hdr(f, b0.a, c0.a, 0x0800);
    g_assert_cmpuint(input(b, b->uplink, f, sizeof(f)), ==, 1);
    g_assert_cmpuint(out_at(b, 0)->port, ==, sp(b, 0));
    g_assert_cmpmem(out_at(b, 0)->data, out_at(b, 0)->len, f, sizeof(f));
    eth_hdr(f, c0.a, b0.a, 0x0800);
    g_assert_cmpuint(input(b, sp(b, 0), f, sizeof(f)), ==, 1);
    g_assert_cmpuint(out_at(b, 0)->port, ==, b->uplink);

    /* Broadcast still floods, whatever is known. */
    eth_hdr(f, bcast, b0.a, 0x88b6);
    input(b, sp(b, 0), f, sizeof(f));
    assert_flooded(b, sp(b, 0), f, sizeof(f));

    /* With no other port up, a flood goes nowhere (and is no drop). */
    set_link(b, b->uplink, false);
    set_link(b, sp(b, 1), false);
    set_link(b, b->chain, false);
    eth_hdr(f, bcast, b0.a, 0x88b6);
    g_assert_cmpuint(input(b, sp(b, 0), f, sizeof(f)), ==, 0);
    g_assert_cmpuint(drops_total(b), ==, 0);

    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.learned, ==, 2);
    g_assert_cmpuint(ms.moved, ==, 0);
    bench_free(b);
}

static void test_mac_move(void)
{
    Bench *b = bench_new(2);
    Mac c0 = client_mac(0), b1 = blade_mac(1);
    uint8_t f[60] = { 0 };
    SwMacStats ms;

    set_link(b, b->uplink, true);
    set_link(b, sp(b, 0), true);
    set_link(b, sp(b, 1), true);
    eth_hdr(f, bcast, c0.a, 0x88b6);
    input(b, b->uplink, f, sizeof(f));
    eth_hdr(f, bcast, b1.a, 0x88b6);
    input(b, sp(b, 1), f, sizeof(f));
    g_assert_cmpint(swcore_mac_lookup(b->sw, c0.a, b->now), ==, b->uplink);

    /* c0 now talks from slot 0: it moved, frames follow it. */
    b->now += SEC;
    eth_hdr(f, bcast, c0.a, 0x88b6);
    input(b, sp(b, 0), f, sizeof(f));
    g_assert_cmpint(swcore_mac_lookup(b->sw, c0.a, b->now), ==, sp(b, 0));
    eth_hdr(f, c0.a, b1.a, 0x0800);
    g_assert_cmpuint(input(b, sp(b, 1), f, sizeof(f)), ==, 1);
    g_assert_cmpuint(out_at(b, 0)->port, ==, sp(b, 0));
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.learned, ==, 2);
    g_assert_cmpuint(ms.moved, ==, 1);
    g_assert_cmpuint(ms.count, ==, 2);

    /* Seen again where it is: no move. */
    eth_hdr(f, bcast, c0.a, 0x88b6);
    input(b, sp(b, 0), f, sizeof(f));
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.moved, ==, 1);
    bench_free(b);
}

static void test_aging(void)
{
    SwConfig cfg;
    Bench *b;
    Mac c0 = client_mac(0), c1 = client_mac(1), b0 = blade_mac(0);
    uint8_t f[60] = { 0 };
    uint64_t t;
    SwMacStats ms;

    swcore_config_init(&cfg);
    cfg.mac_aging_ns = 10 * SEC;
    b = bench_new_cfg(1, &cfg, false);
    set_link(b, b->uplink, true);
    set_link(b, sp(b, 0), true);
    eth_hdr(f, bcast, c0.a, 0x88b6);
    input(b, b->uplink, f, sizeof(f));
    t = b->now;
    b->now += 4 * SEC;
    eth_hdr(f, bcast, c1.a, 0x88b6);
    input(b, b->uplink, f, sizeof(f));

    /* Up to the last nanosecond it is known, then stale at once. */
    eth_hdr(f, c0.a, b0.a, 0x0800);
    b->now = t + 10 * SEC - 1;
    g_assert_cmpint(swcore_mac_lookup(b->sw, c0.a, b->now), ==, b->uplink);
    g_assert_cmpuint(input(b, sp(b, 0), f, sizeof(f)), ==, 1);
    b->now = t + 10 * SEC;
    g_assert_cmpint(swcore_mac_lookup(b->sw, c0.a, b->now), ==, -1);
    g_assert_cmpint(swcore_mac_lookup(b->sw, c1.a, b->now), ==, b->uplink);
    /* A stale entry is not used, even before the tick removes it. */
    g_assert_cmpuint(input(b, sp(b, 0), f, sizeof(f)), ==, 1);
    assert_flooded(b, sp(b, 0), f, sizeof(f));
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.count, ==, 3);
    g_assert_cmpuint(ms.aged, ==, 0);

    /* The tick removes c0 only (b0 was seen just now). */
    tick(b);
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.count, ==, 2);
    g_assert_cmpuint(ms.aged, ==, 1);

    /* A frame from c1 refreshes it. */
    b->now = t + 13 * SEC;
    eth_hdr(f, bcast, c1.a, 0x88b6);
    input(b, b->uplink, f, sizeof(f));
    b->now = t + 20 * SEC;
    tick(b);
    g_assert_cmpint(swcore_mac_lookup(b->sw, c1.a, b->now), ==, b->uplink);
    g_assert_cmpint(swcore_mac_lookup(b->sw, b0.a, b->now), ==, -1);
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.count, ==, 1);
    g_assert_cmpuint(ms.aged, ==, 2);
    b->now = t + 23 * SEC;
    tick(b);
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.count, ==, 0);
    g_assert_cmpuint(ms.aged, ==, 3);
    bench_free(b);
}

static void test_port_down_forgets(void)
{
    Bench *b = bench_new(2);
    uint8_t f[60] = { 0 };
    SwMacStats ms;
    unsigned i;

    set_link(b, b->uplink, true);
    set_link(b, sp(b, 0), true);
    set_link(b, sp(b, 1), true);
    for (i = 0; i < 3; i++) {
        Mac c = client_mac(i), d = client_mac(10 + i);

        eth_hdr(f, bcast, c.a, 0x88b6);
        input(b, sp(b, 0), f, sizeof(f));
        eth_hdr(f, bcast, d.a, 0x88b6);
        input(b, sp(b, 1), f, sizeof(f));
    }
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.count, ==, 6);

    set_link(b, sp(b, 0), false);
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.count, ==, 3);
    for (i = 0; i < 3; i++) {
        Mac c = client_mac(i), d = client_mac(10 + i);

        g_assert_cmpint(swcore_mac_lookup(b->sw, c.a, b->now), ==, -1);
        g_assert_cmpint(swcore_mac_lookup(b->sw, d.a, b->now), ==,
                        sp(b, 1));
    }
    /* What was learned there is flooded to the ports still up. */
    {
        Mac c = client_mac(0), u = client_mac(20);

        eth_hdr(f, c.a, u.a, 0x0800);
        g_assert_cmpuint(input(b, b->uplink, f, sizeof(f)), ==, 1);
        g_assert_cmpuint(out_at(b, 0)->port, ==, sp(b, 1));
    }
    bench_free(b);
}

/* A full MAC table forgets its least recently seen entry. */
static void test_mac_table_full(void)
{
    SwConfig cfg;
    Bench *b;
    uint8_t f[60] = { 0 };
    SwMacStats ms;
    unsigned i;

    swcore_config_init(&cfg);
    cfg.mac_table_size = 4;
    b = bench_new_cfg(1, &cfg, false);
    set_link(b, b->uplink, true);
    set_link(b, sp(b, 0), true);
    for (i = 0; i < 4; i++) {
        Mac c = client_mac(i);

        eth_hdr(f, bcast, c.a, 0x88b6);
        input(b, b->uplink, f, sizeof(f));
        b->now += MS;
    }
    /* Client 0 is seen again: client 1 is now the oldest. */
    {
        Mac c = client_mac(0);

        eth_hdr(f, bcast, c.a, 0x88b6);
        input(b, b->uplink, f, sizeof(f));
    }
    for (i = 4; i < 6; i++) {
        Mac c = client_mac(i);

        eth_hdr(f, bcast, c.a, 0x88b6);
        input(b, b->uplink, f, sizeof(f));
        swcore_mac_stats(b->sw, &ms);
        g_assert_cmpuint(ms.count, ==, 4);
        g_assert_cmpuint(ms.full, ==, i - 3);
    }
    for (i = 0; i < 6; i++) {
        Mac c = client_mac(i);

        g_assert_cmpint(swcore_mac_lookup(b->sw, c.a, b->now), ==,
                        i == 1 || i == 2 ? -1 : (int)b->uplink);
    }
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.learned, ==, 6);
    g_assert_cmpuint(ms.capacity, ==, 4);
    bench_free(b);
}

/* A distinct unicast source address for flood frame @i. */
static Mac flood_mac(unsigned i)
{
    return (Mac){ { 0x0a, 0xf1, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                    (uint8_t)i } };
}

/*
 * A blade flooding new source addresses into a full table recycles its own
 * entries: the addresses learned on other ports stay, and unicast to them
 * is still switched to one port, not flooded.
 */
static void test_mac_flood_keeps_others(void)
{
    SwConfig cfg;
    Bench *b;
    Mac c0 = client_mac(0), b1 = blade_mac(1);
    uint8_t f[60] = { 0 };
    SwMacStats ms;
    SwPortInfo pi;
    unsigned i;

    swcore_config_init(&cfg);
    cfg.mac_table_size = 16;    /* below the slot limit: the table fills */
    b = bench_new_cfg(3, &cfg, false);
    set_link(b, b->uplink, true);
    for (i = 0; i < 3; i++) {
        set_link(b, sp(b, i), true);
    }
    eth_hdr(f, bcast, c0.a, 0x88b6);
    input(b, b->uplink, f, sizeof(f));
    eth_hdr(f, bcast, b1.a, 0x88b6);
    input(b, sp(b, 1), f, sizeof(f));

    /* Slot 0 sends to b1 from 1000 new addresses, each newer than c0, b1. */
    for (i = 0; i < 1000; i++) {
        Mac m = flood_mac(i);

        b->now += MS;
        eth_hdr(f, b1.a, m.a, 0x0800);
        g_assert_cmpuint(input(b, sp(b, 0), f, sizeof(f)), ==, 1);
        g_assert_cmpuint(out_at(b, 0)->port, ==, sp(b, 1));
    }
    g_assert_cmpint(swcore_mac_lookup(b->sw, c0.a, b->now), ==, b->uplink);
    g_assert_cmpint(swcore_mac_lookup(b->sw, b1.a, b->now), ==, sp(b, 1));
    /* Its newest addresses are the ones it keeps. */
    g_assert_cmpint(swcore_mac_lookup(b->sw, flood_mac(999).a, b->now), ==,
                    sp(b, 0));
    g_assert_cmpint(swcore_mac_lookup(b->sw, flood_mac(986).a, b->now), ==,
                    sp(b, 0));
    g_assert_cmpint(swcore_mac_lookup(b->sw, flood_mac(985).a, b->now), ==,
                    -1);
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.count, ==, 16);
    g_assert_cmpuint(ms.learned, ==, 1002);
    g_assert_cmpuint(ms.full, ==, 1002 - 16);

    /* Unicast from the uplink to b1 goes to slot 1 alone. */
    eth_hdr(f, b1.a, c0.a, 0x0800);
    g_assert_cmpuint(input(b, b->uplink, f, sizeof(f)), ==, 1);
    g_assert_cmpuint(out_at(b, 0)->port, ==, sp(b, 1));
    g_assert_true(swcore_port_info(b->sw, sp(b, 0), &pi));
    g_assert_cmpuint(pi.macs, ==, 14);
    g_assert_cmpuint(pi.mac_over_limit, ==, 0);

    /*
     * A new port fills the table too: the port holding the most gives way,
     * the flooder first, until they hold as many (then the newcomer's own).
     */
    for (i = 0; i < 20; i++) {
        Mac m = flood_mac(5000 + i);

        b->now += MS;
        eth_hdr(f, bcast, m.a, 0x88b6);
        input(b, sp(b, 2), f, sizeof(f));
    }
    g_assert_true(swcore_port_info(b->sw, sp(b, 0), &pi));
    g_assert_cmpuint(pi.macs, ==, 7);
    g_assert_true(swcore_port_info(b->sw, sp(b, 2), &pi));
    g_assert_cmpuint(pi.macs, ==, 7);
    g_assert_cmpint(swcore_mac_lookup(b->sw, c0.a, b->now), ==, b->uplink);
    g_assert_cmpint(swcore_mac_lookup(b->sw, b1.a, b->now), ==, sp(b, 1));
    bench_free(b);
}

/*
 * A slot learns at most its mac limit of addresses; frames from more are
 * switched but their sources not learned, and counted on the port.
 */
static void test_mac_limit(void)
{
    Bench *b = bench_new(2);
    Mac c0 = client_mac(0);
    uint8_t f[60] = { 0 };
    SwPortInfo pi;
    SwBladeInfo bi;
    SwMacStats ms;
    unsigned i;

    set_link(b, b->uplink, true);
    set_link(b, sp(b, 0), true);
    set_link(b, sp(b, 1), true);
    g_assert_true(swcore_port_info(b->sw, sp(b, 0), &pi));
    g_assert_cmpuint(pi.mac_limit, ==, SW_SLOT_MAC_LIMIT);
    g_assert_true(swcore_port_info(b->sw, b->uplink, &pi));
    g_assert_cmpuint(pi.mac_limit, ==, 0);
    eth_hdr(f, bcast, c0.a, 0x88b6);
    input(b, b->uplink, f, sizeof(f));

    for (i = 0; i < SW_SLOT_MAC_LIMIT + 36; i++) {
        Mac m = flood_mac(i);

        b->now += MS;
        eth_hdr(f, c0.a, m.a, 0x0800);
        /* Learned or not, the frame reaches its destination. */
        g_assert_cmpuint(input(b, sp(b, 0), f, sizeof(f)), ==, 1);
        g_assert_cmpuint(out_at(b, 0)->port, ==, b->uplink);
    }
    g_assert_true(swcore_port_info(b->sw, sp(b, 0), &pi));
    g_assert_cmpuint(pi.macs, ==, SW_SLOT_MAC_LIMIT);
    g_assert_cmpuint(pi.mac_over_limit, ==, 36);
    g_assert_cmpint(swcore_mac_lookup(b->sw,
                                      flood_mac(SW_SLOT_MAC_LIMIT - 1).a,
                                      b->now), ==, sp(b, 0));
    g_assert_cmpint(swcore_mac_lookup(b->sw, flood_mac(SW_SLOT_MAC_LIMIT).a,
                                      b->now), ==, -1);
    /* The blade's MAC is the last source learned, not one refused. */
    g_assert_true(swcore_blade_info(b->sw, 0, b->now, &bi));
    g_assert_cmpmem(bi.mac, 6, flood_mac(SW_SLOT_MAC_LIMIT - 1).a, 6);

    /* An address it holds is refreshed, not refused. */
    eth_hdr(f, bcast, flood_mac(0).a, 0x88b6);
    input(b, sp(b, 0), f, sizeof(f));
    g_assert_true(swcore_port_info(b->sw, sp(b, 0), &pi));
    g_assert_cmpuint(pi.mac_over_limit, ==, 36);
    /* Replies to a refused address are flooded. */
    eth_hdr(f, flood_mac(SW_SLOT_MAC_LIMIT).a, c0.a, 0x0800);
    input(b, b->uplink, f, sizeof(f));
    assert_flooded(b, b->uplink, f, sizeof(f));

    /* Nor does an address move onto a port at its limit. */
    eth_hdr(f, bcast, c0.a, 0x88b6);
    input(b, sp(b, 0), f, sizeof(f));
    g_assert_cmpint(swcore_mac_lookup(b->sw, c0.a, b->now), ==, b->uplink);
    g_assert_true(swcore_port_info(b->sw, sp(b, 0), &pi));
    g_assert_cmpuint(pi.mac_over_limit, ==, 37);

    /* The uplink has no limit; other slots keep their own count. */
    for (i = 0; i < 200; i++) {
        Mac m = flood_mac(1000 + i);

        eth_hdr(f, bcast, m.a, 0x88b6);
        input(b, b->uplink, f, sizeof(f));
    }
    g_assert_true(swcore_port_info(b->sw, b->uplink, &pi));
    g_assert_cmpuint(pi.macs, ==, 201);
    g_assert_cmpuint(pi.mac_over_limit, ==, 0);
    g_assert_true(swcore_port_info(b->sw, sp(b, 1), &pi));
    g_assert_cmpuint(pi.macs, ==, 0);
    g_assert_cmpuint(pi.mac_over_limit, ==, 0);

    /* Lowering the limit forgets the oldest: flood_mac(0) was refreshed. */
    swcore_port_set_mac_limit(b->sw, sp(b, 0), 4);
    g_assert_true(swcore_port_info(b->sw, sp(b, 0), &pi));
    g_assert_cmpuint(pi.macs, ==, 4);
    g_assert_cmpuint(pi.mac_limit, ==, 4);
    g_assert_cmpint(swcore_mac_lookup(b->sw, flood_mac(0).a, b->now), ==,
                    sp(b, 0));
    for (i = 0; i < SW_SLOT_MAC_LIMIT; i++) {
        bool kept = i == 0 || i >= SW_SLOT_MAC_LIMIT - 3;

        g_assert_cmpint(swcore_mac_lookup(b->sw, flood_mac(i).a, b->now), ==,
                        kept ? (int)sp(b, 0) : -1);
    }
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.count, ==, 201 + 4);

    /* No limit: it learns again; link down forgets all of it. */
    swcore_port_set_mac_limit(b->sw, sp(b, 0), 0);
    eth_hdr(f, bcast, flood_mac(7).a, 0x88b6);
    input(b, sp(b, 0), f, sizeof(f));
    g_assert_true(swcore_port_info(b->sw, sp(b, 0), &pi));
    g_assert_cmpuint(pi.macs, ==, 5);
    set_link(b, sp(b, 0), false);
    g_assert_true(swcore_port_info(b->sw, sp(b, 0), &pi));
    g_assert_cmpuint(pi.macs, ==, 0);
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.count, ==, 201);
    /* Out-of-range ports are ignored. */
    swcore_port_set_mac_limit(b->sw, SW_MAX_PORTS, 1);
    bench_free(b);
}

static void test_counters(void)
{
    Bench *b = bench_new(2);
    Mac c0 = client_mac(0), b0 = blade_mac(0);
    uint8_t f[300] = { 0 };
    SwPortInfo up, s0, s1;

    set_link(b, b->uplink, true);
    set_link(b, sp(b, 0), true);
    set_link(b, sp(b, 1), true);
    eth_hdr(f, bcast, c0.a, 0x88b6);
    input(b, b->uplink, f, 100);            /* flooded to 2 ports */
    eth_hdr(f, c0.a, b0.a, 0x0800);
    input(b, sp(b, 0), f, 300);             /* to the uplink */
    input(b, sp(b, 0), f, 10);              /* runt */
    eth_hdr(f, c0.a, c0.a, 0x0800);
    input(b, b->uplink, f, 64);             /* same port */

    g_assert_true(swcore_port_info(b->sw, b->uplink, &up));
    g_assert_true(swcore_port_info(b->sw, sp(b, 0), &s0));
    g_assert_true(swcore_port_info(b->sw, sp(b, 1), &s1));
    g_assert_cmpuint(up.rx_frames, ==, 2);
    g_assert_cmpuint(up.rx_bytes, ==, 164);
    g_assert_cmpuint(up.tx_frames, ==, 1);
    g_assert_cmpuint(up.tx_bytes, ==, 300);
    g_assert_cmpuint(up.drops, ==, 1);
    g_assert_cmpuint(s0.rx_frames, ==, 2);
    g_assert_cmpuint(s0.rx_bytes, ==, 310);
    g_assert_cmpuint(s0.tx_frames, ==, 1);
    g_assert_cmpuint(s0.tx_bytes, ==, 100);
    g_assert_cmpuint(s0.drops, ==, 1);
    g_assert_cmpuint(s1.rx_frames, ==, 0);
    g_assert_cmpuint(s1.tx_frames, ==, 1);
    g_assert_cmpuint(s1.tx_bytes, ==, 100);
    g_assert_cmpuint(s1.drops, ==, 0);
    g_assert_cmpuint(s1.link_changes, ==, 1);
    /* A frame on a port that does not exist is ignored. */
    input(b, SW_MAX_PORTS + 1, f, 64);
    g_assert_cmpuint(drops_total(b), ==, 2);
    bench_free(b);
}

/* ---- drops --------------------------------------------------------------- */

static void test_drops(void)
{
    Bench *b = bench_new(3);
    Mac c0 = client_mac(0), b0 = blade_mac(0);
    static const uint8_t zero[6];
    static uint8_t big[SW_MAX_FRAME + 2];
    uint8_t f[200], l4[64];
    size_t len;
    SwRuleInfo ri;
    unsigned i;
    uint64_t total;

    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    blade_ready(b, 1, 10);
    /* slot 2: a port, down */
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "01");
    add_service(b, "spare", VIP2, SW_PROTO_TCP, 0, BAL_POLICY_RR, "2");

    /* runt: shorter than an Ethernet header */
    memset(f, 0, sizeof(f));
    eth_hdr(f, bcast, c0.a, 0x88b6);
    assert_drop(b, b->uplink, f, SW_MIN_FRAME - 1, SW_DROP_RUNT);
    assert_drop(b, b->uplink, f, 0, SW_DROP_RUNT);
    g_assert_cmpuint(input(b, b->uplink, f, SW_MIN_FRAME), ==, 2);

    /* oversize: longer than SW_MAX_FRAME; SW_MAX_FRAME itself passes */
    eth_hdr(big, bcast, c0.a, 0x88b6);
    assert_drop(b, b->uplink, big, SW_MAX_FRAME + 1, SW_DROP_OVERSIZE);
    g_assert_cmpuint(input(b, b->uplink, big, SW_MAX_FRAME), ==, 2);

    /* bad source: multicast, broadcast, zero, the switch's own MAC */
    eth_hdr(f, bcast, mcast, 0x88b6);
    assert_drop(b, b->uplink, f, 60, SW_DROP_BAD_SOURCE);
    eth_hdr(f, bcast, bcast, 0x88b6);
    assert_drop(b, b->uplink, f, 60, SW_DROP_BAD_SOURCE);
    eth_hdr(f, bcast, zero, 0x88b6);
    assert_drop(b, b->uplink, f, 60, SW_DROP_BAD_SOURCE);
    eth_hdr(f, bcast, swmac, 0x88b6);
    assert_drop(b, sp(b, 0), f, 60, SW_DROP_BAD_SOURCE);
    /* none of them was learned */
    g_assert_cmpint(swcore_mac_lookup(b->sw, swmac, b->now), ==, -1);
    g_assert_cmpint(swcore_mac_lookup(b->sw, mcast, b->now), ==, -1);

    /* same port: the destination was learned where the frame came from */
    eth_hdr(f, c0.a, c0.a, 0x0800);
    assert_drop(b, b->uplink, f, 60, SW_DROP_SAME_PORT);
    eth_hdr(f, b0.a, b0.a, 0x0800);
    assert_drop(b, sp(b, 0), f, 60, SW_DROP_SAME_PORT);

    /* port down: the ingress port is down (before any other check) */
    eth_hdr(f, bcast, c0.a, 0x88b6);
    assert_drop(b, sp(b, 2), f, 60, SW_DROP_PORT_DOWN);
    assert_drop(b, sp(b, 2), f, 3, SW_DROP_PORT_DOWN);
    assert_drop(b, b->chain, f, 60, SW_DROP_PORT_DOWN);

    /* to_switch: to the switch's MAC and not for a VIP */
    eth_hdr(f, swmac, c0.a, 0x86dd);
    assert_drop(b, b->uplink, f, 60, SW_DROP_TO_SWITCH);
    len = tcp_to(f, 0, NOT_VIP, 1000, 80, TCP_SYN);
    assert_drop(b, b->uplink, f, len, SW_DROP_TO_SWITCH);
    len = arp_frame(f, swmac, c0.a, 1, client_ip(0), NOT_VIP);
    assert_drop(b, b->uplink, f, len, SW_DROP_TO_SWITCH);
    len = arp_frame(f, swmac, c0.a, 2, client_ip(0), VIP1);
    assert_drop(b, b->uplink, f, len, SW_DROP_TO_SWITCH);

    /* no_service: to a VIP, nothing matches */
    len = udp_to(f, 0, VIP1, 1000, 80);
    assert_drop(b, b->uplink, f, len, SW_DROP_NO_SERVICE);
    len = tcp_to(f, 0, VIP1, 1000, 81, TCP_SYN);
    assert_drop(b, b->uplink, f, len, SW_DROP_NO_SERVICE);
    memset(l4, 0, sizeof(l4));
    len = ip_frame(f, swmac, c0.a, 47, client_ip(0), VIP1, 0, l4, 24);
    assert_drop(b, b->uplink, f, len, SW_DROP_NO_SERVICE);
    l4[0] = 13;     /* ICMP timestamp request: not an echo */
    len = ip_frame(f, swmac, c0.a, 1, client_ip(0), VIP1, 0, l4, 20);
    assert_drop(b, b->uplink, f, len, SW_DROP_NO_SERVICE);
    l4[0] = 8;      /* echo request with a code */
    l4[1] = 1;
    len = ip_frame(f, swmac, c0.a, 1, client_ip(0), VIP1, 0, l4, 20);
    assert_drop(b, b->uplink, f, len, SW_DROP_NO_SERVICE);
    l4[1] = 0;      /* echo request shorter than an ICMP header */
    len = ip_frame(f, swmac, c0.a, 1, client_ip(0), VIP1, 0, l4, 7);
    assert_drop(b, b->uplink, f, len, SW_DROP_NO_SERVICE);

    /* no_blade: a new flow, no blade of the group in rotation */
    len = tcp_to(f, 0, VIP2, 1000, 443, TCP_SYN);
    assert_drop(b, b->uplink, f, len, SW_DROP_NO_BLADE);
    g_assert_true(swcore_rule_info(b->sw, 1, &ri));
    g_assert_cmpuint(ri.no_blade, ==, 1);
    g_assert_cmpuint(ri.new_flows, ==, 0);

    /* fragment: more fragments, or an offset; DF alone is fine */
    len = tcp_to(f, 0, VIP1, 1000, 80, TCP_SYN);
    wr16(f + 14 + 6, 0x2000);
    assert_drop(b, b->uplink, f, len, SW_DROP_FRAGMENT);
    wr16(f + 14 + 6, 0x0001);
    assert_drop(b, b->uplink, f, len, SW_DROP_FRAGMENT);
    wr16(f + 14 + 6, 0x1fff);
    assert_drop(b, b->uplink, f, len, SW_DROP_FRAGMENT);
    len = udp_to(f, 0, VIP1, 1000, 80);
    wr16(f + 14 + 6, 0x2000);
    assert_drop(b, b->uplink, f, len, SW_DROP_FRAGMENT);
    g_assert_cmpuint(flow_stats(b).created, ==, 0);

    /* bad_ip: malformed IPv4 or L4 headers to the switch's MAC */
    len = tcp_to(f, 0, VIP1, 1000, 80, TCP_SYN);
    assert_drop(b, b->uplink, f, 14 + 19, SW_DROP_BAD_IP);
    assert_drop(b, b->uplink, f, 14, SW_DROP_BAD_IP);
    f[14] = 0x65;                           /* version 6 */
    assert_drop(b, b->uplink, f, len, SW_DROP_BAD_IP);
    f[14] = 0x44;                           /* header of 16 octets */
    assert_drop(b, b->uplink, f, len, SW_DROP_BAD_IP);
    f[14] = 0x4f;                           /* 60, more than it has */
    assert_drop(b, b->uplink, f, len, SW_DROP_BAD_IP);
    f[14] = 0x45;
    wr16(f + 16, len - 14 + 1);             /* total length too long */
    assert_drop(b, b->uplink, f, len, SW_DROP_BAD_IP);
    wr16(f + 16, 19);                       /* total below the header */
    assert_drop(b, b->uplink, f, len, SW_DROP_BAD_IP);
    wr16(f + 16, 20 + 19);                  /* TCP header cut short */
    assert_drop(b, b->uplink, f, len, SW_DROP_BAD_IP);
    len = udp_to(f, 0, VIP1, 1000, 80);
    wr16(f + 16, 20 + 7);                   /* UDP header cut short */
    assert_drop(b, b->uplink, f, len, SW_DROP_BAD_IP);
    len = tcp_to(f, 0, NOT_VIP, 1000, 80, TCP_SYN);
    f[14] = 0x75;                           /* bad, and not to a VIP */
    assert_drop(b, b->uplink, f, len, SW_DROP_BAD_IP);

    /* The total length counts, not the padding after it. */
    len = tcp_to(f, 0, VIP1, 1000, 80, TCP_SYN);
    g_assert_cmpuint(len, ==, 60);
    g_assert_cmpint(flow_send(b, f, len), >=, 0);

    /* Every drop counted once, by reason and by port. */
    total = 0;
    for (i = 0; i < swcore_port_count(b->sw); i++) {
        SwPortInfo pi;

        g_assert_true(swcore_port_info(b->sw, i, &pi));
        total += pi.drops;
    }
    g_assert_cmpuint(total, ==, drops_total(b));
    g_assert_cmpuint(swcore_drops(b->sw, SW_DROP_RUNT), ==, 2);
    g_assert_cmpuint(swcore_drops(b->sw, SW_DROP_BAD_IP), ==, 10);
    g_assert_cmpuint(swcore_drops(b->sw, SW_DROP__MAX), ==, 0);
    bench_free(b);
}

/* Options in the IPv4 header: the ports are after them. */
static void test_ip_options(void)
{
    Bench *b = bench_new(2);
    uint8_t f[200], l4[40], opt[64];
    size_t len, n;
    int s1, s2;

    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    blade_ready(b, 1, 10);
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "01");
    add_service(b, "alt", VIP1, SW_PROTO_TCP, 8080, BAL_POLICY_RR, "1");
    /* An IPv4 header of 24 octets (one NOP option word). */
    n = tcp_hdr(l4, 1234, 8080, TCP_SYN, 0);
    memset(opt, 1, 4);
    memcpy(opt + 4, l4, n);
    len = ip_frame(f, swmac, client_mac(0).a, 6, client_ip(0), VIP1, 0,
                   opt, n + 4);
    f[14] = 0x46;
    wr16(f + 24, 0);
    wr16(f + 24, inet_csum(f + 14, 24));
    s1 = flow_send(b, f, len);
    g_assert_cmpint(s1, ==, 1);
    /* The same flow: the next frame goes to the same blade. */
    s2 = flow_send(b, f, len);
    g_assert_cmpint(s2, ==, 1);
    g_assert_cmpuint(flow_stats(b).created, ==, 1);
    bench_free(b);
}

/* ---- ARP and ICMP for the VIPs ------------------------------------------- */

/* Out 0 is the switch's ARP answer to client @c for @vip, on @port. */
static void assert_arp_reply(const Bench *b, unsigned port, unsigned c,
                             uint32_t vip)
{
    const Out *o;
    Mac cm = client_mac(c);
    uint32_t ip = client_ip(c);
    const uint8_t *a;

    g_assert_cmpuint(b->out->len, ==, 1);
    o = out_at(b, 0);
    g_assert_cmpuint(o->port, ==, port);
    g_assert_cmpuint(o->len, ==, 60);
    a = o->data + 14;
    g_assert_cmpmem(o->data, 6, cm.a, 6);
    g_assert_cmpmem(o->data + 6, 6, swmac, 6);
    g_assert_cmpuint(rd16(o->data + 12), ==, ETH_ARP);
    g_assert_cmpuint(rd16(a), ==, 1);
    g_assert_cmpuint(rd16(a + 2), ==, ETH_IP);
    g_assert_cmpuint(a[4], ==, 6);
    g_assert_cmpuint(a[5], ==, 4);
    g_assert_cmpuint(rd16(a + 6), ==, 2);
    g_assert_cmpmem(a + 8, 6, swmac, 6);
    g_assert_cmpmem(a + 14, 4, &vip, 4);
    g_assert_cmpmem(a + 18, 6, cm.a, 6);
    g_assert_cmpmem(a + 24, 4, &ip, 4);
}

static void test_arp(void)
{
    Bench *b = bench_new(2);
    Mac c0 = client_mac(0), c1 = client_mac(1), b0 = blade_mac(0);
    uint8_t f[60];

    set_link(b, b->uplink, true);
    set_link(b, sp(b, 0), true);
    set_link(b, sp(b, 1), true);
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "01");
    add_rule(b, SW_RULE_STEERING, "ssh", VIP2, SW_PROTO_TCP, 22, 22,
             BAL_POLICY_RR, "1");

    /* A broadcast request for a VIP: answered, back where it came from. */
    arp_frame(f, bcast, c0.a, 1, client_ip(0), VIP1);
    g_assert_cmpuint(input(b, b->uplink, f, sizeof(f)), ==, 1);
    assert_arp_reply(b, b->uplink, 0, VIP1);
    /* Unicast to the switch, for a steering rule's VIP, from a slot. */
    arp_frame(f, swmac, c1.a, 1, client_ip(1), VIP2);
    g_assert_cmpuint(input(b, sp(b, 1), f, sizeof(f)), ==, 1);
    assert_arp_reply(b, sp(b, 1), 1, VIP2);

    /* For anything else: a plain broadcast, flooded unchanged. */
    arp_frame(f, bcast, c0.a, 1, client_ip(0), blade_ip(0));
    g_assert_cmpuint(input(b, b->uplink, f, sizeof(f)), ==, 2);
    assert_flooded(b, b->uplink, f, sizeof(f));
    arp_frame(f, bcast, b0.a, 1, blade_ip(0), blade_ip(0));
    input(b, sp(b, 0), f, sizeof(f));
    assert_flooded(b, sp(b, 0), f, sizeof(f));
    arp_frame(f, bcast, c0.a, 1, client_ip(0), NOT_VIP);
    input(b, b->uplink, f, sizeof(f));
    assert_flooded(b, b->uplink, f, sizeof(f));
    /* A reply or a non-Ethernet ARP for a VIP is not a request for it. */
    arp_frame(f, bcast, c0.a, 2, client_ip(0), VIP1);
    input(b, b->uplink, f, sizeof(f));
    assert_flooded(b, b->uplink, f, sizeof(f));
    arp_frame(f, bcast, c0.a, 1, client_ip(0), VIP1);
    f[15] = 6;
    input(b, b->uplink, f, sizeof(f));
    assert_flooded(b, b->uplink, f, sizeof(f));
    /* A request cut short is no request either. */
    arp_frame(f, bcast, c0.a, 1, client_ip(0), VIP1);
    input(b, b->uplink, f, 14 + 27);
    assert_flooded(b, b->uplink, f, 14 + 27);

    /* A VIP whose last rule is gone is a VIP no more. */
    g_assert_cmpint(swcore_rule_del(b->sw, "web"), ==, 0);
    arp_frame(f, bcast, c0.a, 1, client_ip(0), VIP1);
    input(b, b->uplink, f, sizeof(f));
    assert_flooded(b, b->uplink, f, sizeof(f));
    g_assert_cmpuint(drops_total(b), ==, 0);
    bench_free(b);
}

/*
 * A steering rule for any VIP makes no address a VIP by itself: not
 * even 0.0.0.0, which its "any" is written as.
 */
static void test_arp_any_vip(void)
{
    Bench *b = bench_new(1);
    Mac c0 = client_mac(0);
    uint8_t f[60];
    size_t len;

    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    add_rule(b, SW_RULE_STEERING, "any", 0, SW_PROTO_TCP, 0, UINT16_MAX,
             BAL_POLICY_RR, "0");
    arp_frame(f, bcast, c0.a, 1, client_ip(0), 0);
    g_assert_cmpuint(input(b, b->uplink, f, sizeof(f)), ==, 1);
    assert_flooded(b, b->uplink, f, sizeof(f));
    arp_frame(f, bcast, c0.a, 1, client_ip(0), VIP1);
    input(b, b->uplink, f, sizeof(f));
    assert_flooded(b, b->uplink, f, sizeof(f));
    len = tcp_to(f, 0, 0, 1000, 80, TCP_SYN);
    assert_drop(b, b->uplink, f, len, SW_DROP_TO_SWITCH);

    /* With a service on VIP1, the steering rule takes its traffic. */
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "0");
    arp_frame(f, bcast, c0.a, 1, client_ip(0), VIP1);
    input(b, b->uplink, f, sizeof(f));
    assert_arp_reply(b, b->uplink, 0, VIP1);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_SYN), ==, 0);
    g_assert_cmpuint(b->decisions->len, ==, 1);
    g_assert_cmpuint(g_array_index(b->decisions, SwDecision, 0).rule, ==,
                     0);
    bench_free(b);
}

/* An echo request to @vip from client @c with @id, @seq and @payload. */
static size_t echo_frame(uint8_t *f, unsigned c, uint32_t vip, uint16_t id,
                         uint16_t seq, size_t payload)
{
    uint8_t icmp[1500];
    size_t i;

    memset(icmp, 0, 8);
    icmp[0] = 8;
    wr16(icmp + 4, id);
    wr16(icmp + 6, seq);
    for (i = 0; i < payload; i++) {
        icmp[8 + i] = (uint8_t)(i * 3 + id);
    }
    wr16(icmp + 2, inet_csum(icmp, 8 + payload));
    return ip_frame(f, swmac, client_mac(c).a, 1, client_ip(c), vip, 0,
                    icmp, 8 + payload);
}

/* Out 0 is the echo reply to request @req: check every octet. */
static void assert_echo_reply(const Bench *b, const uint8_t *req,
                              size_t len, unsigned port)
{
    const Out *o;
    const uint8_t *ip, *rip;
    size_t ip_len;
    uint16_t fresh;
    g_autofree uint8_t *icmp = NULL;

    g_assert_cmpuint(b->out->len, ==, 1);
    o = out_at(b, 0);
    g_assert_cmpuint(o->port, ==, port);
    g_assert_cmpuint(o->len, ==, len);
    /* Ethernet: back to the sender, from the switch. */
    g_assert_cmpmem(o->data, 6, req + 6, 6);
    g_assert_cmpmem(o->data + 6, 6, swmac, 6);
    g_assert_cmpmem(o->data + 12, 2, req + 12, 2);
    /* IPv4: addresses swapped, all else as it was, checksum valid. */
    ip = o->data + 14;
    rip = req + 14;
    g_assert_cmpmem(ip, 12, rip, 12);
    g_assert_cmpmem(ip + 12, 4, rip + 16, 4);
    g_assert_cmpmem(ip + 16, 4, rip + 12, 4);
    g_assert_cmpuint(inet_csum(ip, 20), ==, 0);
    /* ICMP: an echo reply, its checksum what a fresh one would be. */
    ip_len = rd16(ip + 2);
    icmp = g_memdup2(ip + 20, ip_len - 20);
    g_assert_cmpuint(icmp[0], ==, 0);
    g_assert_cmpuint(icmp[1], ==, 0);
    g_assert_cmpmem(icmp + 4, ip_len - 24, rip + 24, ip_len - 24);
    wr16(icmp + 2, 0);
    fresh = inet_csum(icmp, ip_len - 20);
    /*
     * An incremental update (RFC 1624) may give 0xffff where a fresh
     * computation gives 0x0000, the same value in one's complement; and
     * the sum over the reply must verify.
     */
    if (fresh == 0 && rd16(ip + 22) == 0xffff) {
        fresh = 0xffff;
    }
    g_assert_cmphex(rd16(ip + 22), ==, fresh);
    g_assert_cmpuint(inet_csum(ip + 20, ip_len - 20), ==, 0);
    /* Padding after the datagram goes back as it came. */
    g_assert_cmpmem(o->data + 14 + ip_len, len - 14 - ip_len,
                    req + 14 + ip_len, len - 14 - ip_len);
}

static void test_icmp_echo(void)
{
    static const size_t payloads[] = { 0, 1, 7, 56, 1472 };
    Bench *b = bench_new(1);
    uint8_t f[1600];
    size_t len;
    unsigned i, wraps[2] = { 0, 0 };
    uint16_t id;

    set_link(b, b->uplink, true);
    set_link(b, sp(b, 0), true);
    /* Answered with no blade in rotation: the switch answers itself. */
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "0");
    g_assert_false(in_rotation(b, 0));

    for (i = 0; i < G_N_ELEMENTS(payloads); i++) {
        len = echo_frame(f, 0, VIP1, 0x1234 + i, i, payloads[i]);
        g_assert_cmpuint(input(b, b->uplink, f, len), ==, 1);
        assert_echo_reply(b, f, len, b->uplink);
    }
    /* All zero but the type. */
    len = echo_frame(f, 0, VIP1, 0, 0, 0);
    input(b, b->uplink, f, len);
    assert_echo_reply(b, f, len, b->uplink);
    /* From a slot, too. */
    len = echo_frame(f, 3, VIP1, 77, 1, 32);
    input(b, sp(b, 0), f, len);
    assert_echo_reply(b, f, len, sp(b, 0));

    /*
     * Every checksum the request may carry, among them the ones where
     * the reply's sum wraps (0xf7ff .. 0xffff): vary the identifier.
     */
    for (id = 0; id < 0xffff; id += 61) {
        len = echo_frame(f, 1, VIP1, id, 0, 20);
        input(b, b->uplink, f, len);
        assert_echo_reply(b, f, len, b->uplink);
    }
    for (id = 0; id < 0xffff; id++) {
        len = echo_frame(f, 1, VIP1, id, 0, 20);
        if (rd16(f + 36) == 0xf7ff) {
            wraps[0]++;
        } else if (rd16(f + 36) == 0xf800) {
            wraps[1]++;
        } else {
            continue;
        }
        input(b, b->uplink, f, len);
        assert_echo_reply(b, f, len, b->uplink);
    }
    g_assert_cmpuint(wraps[0], >, 0);
    g_assert_cmpuint(wraps[1], >, 0);
    g_assert_cmpuint(drops_total(b), ==, 0);
    g_assert_cmpuint(flow_stats(b).created, ==, 0);
    bench_free(b);
}

/* ---- flows --------------------------------------------------------------- */

static const SwDecision *decision(const Bench *b, unsigned i)
{
    g_assert_cmpuint(i, <, b->decisions->len);
    return &g_array_index(b->decisions, SwDecision, i);
}

static void test_flow_placement(void)
{
    Bench *b = bench_new(3);
    SwRuleInfo ri;
    SwBladeInfo bi;
    unsigned i;

    set_link(b, b->uplink, true);
    for (i = 0; i < 3; i++) {
        blade_ready(b, i, 10 + i);
    }
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "012");

    /* New flows: where the rule's policy (round robin) says. */
    for (i = 0; i < 6; i++) {
        const SwDecision *d;

        g_assert_cmpint(tcp_send(b, 0, VIP1, 1000 + i, 80, TCP_SYN), ==,
                        i % 3);
        g_assert_cmpuint(b->decisions->len, ==, i + 1);
        d = decision(b, i);
        g_assert_cmpuint(d->rule, ==, 0);
        g_assert_cmpint(d->blade, ==, i % 3);
        g_assert_false(d->moved);
        g_assert_cmpint(d->policy, ==, BAL_POLICY_RR);
        g_assert_cmpuint(d->cpu_pct, ==, 10 + i % 3);
        g_assert_cmpuint(d->active, ==, i / 3);
    }
    /* Affinity: the rest of each flow, in any order, no new decision. */
    for (i = 6; i-- > 0;) {
        g_assert_cmpint(tcp_send(b, 0, VIP1, 1000 + i, 80,
                                 TCP_ACK | TCP_PSH), ==, i % 3);
        g_assert_cmpint(tcp_send(b, 0, VIP1, 1000 + i, 80, TCP_ACK), ==,
                        i % 3);
    }
    g_assert_cmpuint(b->decisions->len, ==, 6);
    /* The same source port from another client is another flow. */
    g_assert_cmpint(tcp_send(b, 1, VIP1, 1000, 80, TCP_SYN), ==, 0);
    g_assert_cmpuint(flow_stats(b).created, ==, 7);
    g_assert_cmpuint(flow_stats(b).count, ==, 7);

    for (i = 0; i < 3; i++) {
        bi = blade_info(b, i);
        g_assert_cmpuint(bi.new_flows, ==, i ? 2 : 3);
        g_assert_cmpuint(bi.active_flows, ==, i ? 2 : 3);
    }
    g_assert_true(swcore_rule_info(b->sw, 0, &ri));
    g_assert_cmpuint(ri.new_flows, ==, 7);
    g_assert_cmpuint(ri.blade_new_flows[0], ==, 3);
    g_assert_cmpuint(ri.blade_new_flows[1], ==, 2);
    g_assert_cmpuint(ri.blade_new_flows[2], ==, 2);
    g_assert_cmpuint(ri.no_blade, ==, 0);

    /* Members in the rule's order, whatever the slot numbers. */
    add_service(b, "alt", VIP1, SW_PROTO_TCP, 8080, BAL_POLICY_RR, "20");
    g_assert_cmpint(tcp_send(b, 0, VIP1, 5000, 8080, TCP_SYN), ==, 2);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 5001, 8080, TCP_SYN), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 5002, 8080, TCP_SYN), ==, 2);
    g_assert_cmpuint(decision(b, 7)->rule, ==, 1);
    assert_active_consistent(b);
    bench_free(b);
}

static void test_flow_policy(void)
{
    SwConfig cfg;
    Bench *b;
    const SwDecision *d;
    SwRuleInfo ri;
    unsigned i;

    /* util's first design (net/balance.h), whose scores are simple. */
    swcore_config_init(&cfg);
    cfg.bal.util_estimator = BAL_UTIL_REPORTED;
    b = bench_new_cfg(2, &cfg, false);

    set_link(b, b->uplink, true);
    blade_ready(b, 0, 80);
    blade_ready(b, 1, 10);
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_UTIL, "01");

    /* util: the less loaded blade, with the figures it used. */
    b->now += 100 * MS;
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_SYN), ==, 1);
    d = decision(b, 0);
    g_assert_cmpint(d->policy, ==, BAL_POLICY_UTIL);
    g_assert_cmpuint(d->cpu_pct, ==, 10);
    g_assert_cmpuint(d->irq_pct, ==, 0);
    g_assert_cmpuint(d->report_age_ns, ==, 100 * MS);
    g_assert_cmpuint(d->score, ==, 10 * 100);
    /*
     * Each flow sent since the report adds flow_cost_centipct (5 %) to
     * the blade's estimate: blade 1 (10 %) gets flows while its estimate
     * stays under blade 0's 80 %, 14 in all; at a tie the blade with
     * fewer open flows wins.
     */
    for (i = 1; i < 14; i++) {
        g_assert_cmpint(tcp_send(b, 0, VIP1, 1000 + i, 80, TCP_SYN), ==, 1);
        g_assert_cmpuint(decision(b, i)->score, ==, 1000 + 500 * i);
    }
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1014, 80, TCP_SYN), ==, 0);
    g_assert_cmpuint(blade_info(b, 1).score, ==, 1000 + 500 * 14);
    /* A new report is a new estimate. */
    report(b, 1, 10, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1015, 80, TCP_SYN), ==, 1);

    /* leastconn: blade 0 has 1 flow open, blade 1 has 15. */
    g_assert_cmpint(swcore_rule_set_policy(b->sw, "web",
                                           BAL_POLICY_LEASTCONN), ==, 0);
    for (i = 0; i < 14; i++) {
        g_assert_cmpint(tcp_send(b, 0, VIP1, 2000 + i, 80, TCP_SYN), ==, 0);
    }
    g_assert_cmpint(decision(b, b->decisions->len - 1)->policy, ==,
                    BAL_POLICY_LEASTCONN);
    g_assert_cmpuint(active(b, 0), ==, 15);
    g_assert_cmpuint(active(b, 1), ==, 15);

    /* rr after a change of policy: from the first member on. */
    g_assert_cmpint(swcore_rule_set_policy(b->sw, "web", BAL_POLICY_RR),
                    ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 3000, 80, TCP_SYN), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 3001, 80, TCP_SYN), ==, 1);
    g_assert_true(swcore_rule_info(b->sw, 0, &ri));
    g_assert_cmpint(ri.spec.policy, ==, BAL_POLICY_RR);

    g_assert_cmpint(swcore_rule_set_policy(b->sw, "nope", BAL_POLICY_RR),
                    ==, -1);
    g_assert_cmpint(swcore_rule_set_policy(b->sw, "web", BAL_POLICY__MAX),
                    ==, -1);
    g_assert_true(swcore_rule_info(b->sw, 0, &ri));
    g_assert_cmpint(ri.spec.policy, ==, BAL_POLICY_RR);
    assert_active_consistent(b);
    bench_free(b);
}

static void test_flow_close(void)
{
    Bench *b = bench_new(2);
    SwFlowInfo fl[8];
    uint64_t t;

    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    blade_ready(b, 1, 10);
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "01");

    /* FIN from the client: closed, no longer open on its blade... */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_SYN), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_ACK), ==, 0);
    g_assert_cmpuint(active(b, 0), ==, 1);
    b->now += SEC;
    t = b->now;
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_FIN | TCP_ACK), ==,
                    0);
    g_assert_cmpuint(flow_stats(b).closed, ==, 1);
    g_assert_cmpuint(active(b, 0), ==, 0);
    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 8), ==, 1);
    g_assert_true(fl[0].closing);
    g_assert_cmpuint(fl[0].packets, ==, 3);

    /* ...but its last segments still reach it during the linger. */
    b->now = t + 2 * SEC - 1;
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_ACK), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_FIN | TCP_ACK), ==,
                    0);
    g_assert_cmpuint(flow_stats(b).closed, ==, 1);
    g_assert_cmpuint(flow_stats(b).created, ==, 1);
    g_assert_cmpuint(b->decisions->len, ==, 1);
    g_assert_cmpuint(active(b, 0), ==, 0);

    /* After the linger, a frame starts a new flow, placed anew. */
    b->now = t + 2 * SEC;
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_ACK), ==, 1);
    g_assert_cmpuint(flow_stats(b).created, ==, 2);
    g_assert_cmpuint(flow_stats(b).count, ==, 1);
    g_assert_cmpuint(active(b, 1), ==, 1);
    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 8), ==, 1);
    g_assert_false(fl[0].closing);
    g_assert_cmpuint(fl[0].packets, ==, 1);

    /* RST closes too. */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 2000, 80, TCP_SYN), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 2000, 80, TCP_RST), ==, 0);
    g_assert_cmpuint(flow_stats(b).closed, ==, 2);
    g_assert_cmpuint(active(b, 0), ==, 0);

    /* A bare SYN on a closing flow's ports is a new connection, now. */
    b->now += 100 * MS;
    g_assert_cmpint(tcp_send(b, 0, VIP1, 2000, 80, TCP_SYN), ==, 1);
    g_assert_cmpuint(flow_stats(b).created, ==, 4);
    g_assert_cmpuint(flow_stats(b).count, ==, 2);
    g_assert_cmpuint(active(b, 1), ==, 2);
    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 8), ==, 2);
    g_assert_false(fl[1].closing);
    g_assert_cmpuint(fl[1].src_port, ==, 2000);

    /* SYN with ACK is not a new connection. */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 3000, 80, TCP_SYN), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 3000, 80, TCP_FIN), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 3000, 80, TCP_SYN | TCP_ACK), ==,
                    0);
    g_assert_cmpuint(flow_stats(b).created, ==, 5);
    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 8), ==, 3);
    g_assert_true(fl[2].closing);
    assert_active_consistent(b);
    bench_free(b);
}

/* UDP has no FIN: octets where TCP's flags would be do not close it. */
static void test_flow_udp(void)
{
    Bench *b = bench_new(2);
    uint8_t f[200];
    size_t len;
    int s;

    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    blade_ready(b, 1, 10);
    add_service(b, "dns", VIP1, SW_PROTO_UDP, 53, BAL_POLICY_RR, "01");
    len = udp_to(f, 0, VIP1, 5353, 53);
    /* octet 13 of the UDP datagram has FIN and RST's bits */
    g_assert_cmpuint(f[34 + 13] & (TCP_FIN | TCP_RST), ==,
                     TCP_FIN | TCP_RST);
    s = flow_send(b, f, len);
    g_assert_cmpint(s, ==, 0);
    g_assert_cmpint(flow_send(b, f, len), ==, 0);
    g_assert_cmpuint(flow_stats(b).closed, ==, 0);
    g_assert_cmpuint(active(b, 0), ==, 1);
    len = udp_to(f, 0, VIP1, 5354, 53);
    g_assert_cmpint(flow_send(b, f, len), ==, 1);
    /* A TCP flow to the same VIP and port is no flow of this rule. */
    len = tcp_to(f, 0, VIP1, 5353, 53, TCP_SYN);
    assert_drop(b, b->uplink, f, len, SW_DROP_NO_SERVICE);
    assert_active_consistent(b);
    bench_free(b);
}

static void test_flow_idle(void)
{
    SwConfig cfg;
    Bench *b;
    SwBladeInfo bi;

    swcore_config_init(&cfg);
    cfg.flow_idle_ns = 10 * SEC;
    cfg.mac_aging_ns = 3600 * SEC;
    cfg.util_stale_ns = 3600 * SEC;
    b = bench_new_cfg(2, &cfg, false);
    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    blade_ready(b, 1, 10);
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "01");

    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_SYN), ==, 0);
    b->now = T0 + SEC;
    g_assert_cmpint(tcp_send(b, 0, VIP1, 2000, 80, TCP_SYN), ==, 1);
    b->now = T0 + 4 * SEC;
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_ACK), ==, 0);

    /* B (last seen at +1 s) ends at +11 s, not a nanosecond earlier. */
    b->now = T0 + 11 * SEC - 1;
    tick(b);
    g_assert_cmpuint(flow_stats(b).count, ==, 2);
    g_assert_cmpuint(flow_stats(b).expired, ==, 0);
    b->now = T0 + 11 * SEC;
    tick(b);
    g_assert_cmpuint(flow_stats(b).count, ==, 1);
    g_assert_cmpuint(flow_stats(b).expired, ==, 1);
    g_assert_cmpuint(active(b, 1), ==, 0);
    g_assert_cmpuint(active(b, 0), ==, 1);
    b->now = T0 + 14 * SEC;
    tick(b);
    g_assert_cmpuint(flow_stats(b).count, ==, 0);
    g_assert_cmpuint(flow_stats(b).expired, ==, 2);
    g_assert_cmpuint(active(b, 0), ==, 0);
    bi = blade_info(b, 0);
    g_assert_cmpuint(bi.new_flows, ==, 1);

    /* Its ports again: a new flow. */
    b->now = T0 + 15 * SEC;
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_ACK), ==, 0);
    g_assert_cmpuint(flow_stats(b).created, ==, 3);

    /* A closing flow ends by idleness too, closed once, expired once. */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_FIN), ==, 0);
    b->now = T0 + 25 * SEC;
    tick(b);
    g_assert_cmpuint(flow_stats(b).count, ==, 0);
    g_assert_cmpuint(flow_stats(b).expired, ==, 3);
    g_assert_cmpuint(flow_stats(b).closed, ==, 1);
    g_assert_cmpuint(active(b, 0), ==, 0);
    g_assert_cmpuint(active(b, 1), ==, 0);
    bench_free(b);
}

static void test_flow_evict(void)
{
    SwConfig cfg;
    Bench *b;
    SwFlowInfo fl[8];
    unsigned i;

    swcore_config_init(&cfg);
    cfg.flow_table_size = 4;
    b = bench_new_cfg(2, &cfg, false);
    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    blade_ready(b, 1, 10);
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "01");

    for (i = 0; i < 4; i++) {
        g_assert_cmpint(tcp_send(b, 0, VIP1, 1000 + i, 80, TCP_SYN), ==,
                        i % 2);
        b->now += MS;
    }
    /* Flow 0 is used again: flow 1 is now the least recently used. */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_ACK), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1004, 80, TCP_SYN), ==, 0);
    g_assert_cmpuint(flow_stats(b).evicted, ==, 1);
    g_assert_cmpuint(flow_stats(b).count, ==, 4);
    g_assert_cmpuint(active(b, 0), ==, 3);
    g_assert_cmpuint(active(b, 1), ==, 1);
    assert_active_consistent(b);
    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 8), ==, 4);
    g_assert_cmpuint(fl[0].src_port, ==, 1002);
    g_assert_cmpuint(fl[1].src_port, ==, 1003);
    g_assert_cmpuint(fl[2].src_port, ==, 1000);
    g_assert_cmpuint(fl[3].src_port, ==, 1004);

    /* A closing flow evicted is not closed twice on its blade. */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1002, 80, TCP_FIN), ==, 0);
    g_assert_cmpuint(active(b, 0), ==, 2);
    for (i = 0; i < 3; i++) {
        static const uint16_t sport[3] = { 1003, 1000, 1004 };

        tcp_send(b, 0, VIP1, sport[i], 80, TCP_ACK);
    }
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1005, 80, TCP_SYN), ==, 1);
    g_assert_cmpuint(flow_stats(b).evicted, ==, 2);
    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 8), ==, 4);
    g_assert_cmpuint(fl[0].src_port, ==, 1003);
    assert_active_consistent(b);

    /* The evicted flow's next frame is a new flow. */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1001, 80, TCP_ACK), ==, 0);
    g_assert_cmpuint(flow_stats(b).evicted, ==, 3);
    g_assert_cmpuint(flow_stats(b).created, ==, 7);
    g_assert_cmpuint(flow_stats(b).count, ==, 4);
    assert_active_consistent(b);

    /* Many more: never over the capacity, the counts right. */
    for (i = 0; i < 50; i++) {
        tcp_send(b, i % 3, VIP1, 4000 + i, 80, i % 5 ? TCP_SYN : TCP_RST);
        g_assert_cmpuint(flow_stats(b).count, <=, 4);
        assert_active_consistent(b);
    }
    g_assert_cmpuint(flow_stats(b).evicted, ==, 53);
    bench_free(b);
}

/* ---- rules --------------------------------------------------------------- */

/* @s is refused with a message containing @msg; nothing changes. */
static void assert_rule_refused(Bench *b, const SwRuleSpec *s,
                                const char *msg)
{
    unsigned n = swcore_rule_count(b->sw);
    char err[128];

    memset(err, 'x', sizeof(err));
    g_assert_cmpint(swcore_rule_add(b->sw, s, err, sizeof(err)), ==, -1);
    g_assert_nonnull(memchr(err, 0, sizeof(err)));
    if (!strstr(err, msg)) {
        g_error("rule refused with '%s', expected '%s'", err, msg);
    }
    g_assert_cmpuint(swcore_rule_count(b->sw), ==, n);
}

static void test_rule_validation(void)
{
    Bench *b = bench_new(3);
    SwRuleSpec ok = rule_spec(SW_RULE_SERVICE, "web", VIP1, SW_PROTO_TCP,
                              80, 80, BAL_POLICY_UTIL, "012");
    SwRuleSpec s;
    SwRuleInfo ri;
    char err[128], small[8];
    unsigned i;

    s = ok;
    s.name[0] = 0;
    assert_rule_refused(b, &s, "a rule needs a name of 1 to 31 characters");
    memset(s.name, 'n', sizeof(s.name));
    assert_rule_refused(b, &s, "a rule needs a name of 1 to 31 characters");
    s = ok;
    s.kind = (SwRuleKind)7;
    assert_rule_refused(b, &s, "unknown rule kind");
    s = ok;
    s.proto = (SwProto)1;
    assert_rule_refused(b, &s, "the protocol must be TCP or UDP");
    s = ok;
    s.vip = 0;
    assert_rule_refused(b, &s, "a service needs a VIP");
    s.vip = ipn(224, 0, 0, 1);
    assert_rule_refused(b, &s, "a VIP must be a unicast IPv4 address");
    s.vip = ipn(255, 255, 255, 255);
    assert_rule_refused(b, &s, "a VIP must be a unicast IPv4 address");
    s.kind = SW_RULE_STEERING;
    s.vip = ipn(239, 1, 2, 3);
    assert_rule_refused(b, &s, "a VIP must be a unicast IPv4 address");
    s = ok;
    s.port_min = 90;
    s.port_max = 80;
    assert_rule_refused(b, &s, "port range 90-80 is empty");
    s = ok;
    s.policy = BAL_POLICY__MAX;
    assert_rule_refused(b, &s, "unknown policy");
    s = ok;
    s.nblades = 0;
    assert_rule_refused(b, &s, "a rule needs 1 to 64 blades");
    s.nblades = SW_MAX_BLADES + 1;
    assert_rule_refused(b, &s, "a rule needs 1 to 64 blades");
    s = ok;
    s.blades[1] = 3;
    assert_rule_refused(b, &s, "there is no slot 3");
    s.blades[1] = 200;
    assert_rule_refused(b, &s, "there is no slot 200");
    s = ok;
    s.blades[2] = 0;
    assert_rule_refused(b, &s, "slot 0 is listed twice");
    g_assert_cmpint(swcore_rule_find(b->sw, "web"), ==, -1);

    /* The good one, then its name again. */
    g_assert_cmpint(swcore_rule_add(b->sw, &ok, err, sizeof(err)), ==, 0);
    g_assert_cmpint(swcore_rule_find(b->sw, "web"), ==, 0);
    g_assert_true(swcore_rule_info(b->sw, 0, &ri));
    g_assert_cmpmem(&ri.spec, sizeof(ri.spec), &ok, sizeof(ok));
    g_assert_false(swcore_rule_info(b->sw, 1, &ri));
    assert_rule_refused(b, &ok, "a rule named 'web' exists already");
    /* A name of 31 characters is fine; a steering rule needs no VIP. */
    s = rule_spec(SW_RULE_STEERING, "", 0, SW_PROTO_UDP, 0, UINT16_MAX,
                  BAL_POLICY_RR, "2");
    memset(s.name, 'a', SW_NAME_LEN - 1);
    g_assert_cmpint(swcore_rule_add(b->sw, &s, err, sizeof(err)), ==, 0);
    g_assert_cmpint(swcore_rule_find(b->sw, s.name), ==, 1);

    /* Up to SW_MAX_RULES. */
    for (i = 2; i < SW_MAX_RULES; i++) {
        s = ok;
        g_snprintf(s.name, sizeof(s.name), "rule%u", i);
        g_assert_cmpint(swcore_rule_add(b->sw, &s, err, sizeof(err)), ==, 0);
        g_assert_cmpint(swcore_rule_find(b->sw, s.name), ==, i);
    }
    s = ok;
    g_strlcpy(s.name, "one-too-many", sizeof(s.name));
    assert_rule_refused(b, &s, "the switch holds 64 rules at most");
    /* The message is cut to the buffer, always terminated. */
    memset(small, 'x', sizeof(small));
    g_assert_cmpint(swcore_rule_add(b->sw, &s, small, sizeof(small)), ==,
                    -1);
    g_assert_cmpstr(small, ==, "the swi");

    g_assert_cmpint(swcore_rule_del(b->sw, "nope"), ==, -1);
    g_assert_cmpint(swcore_rule_del(b->sw, "rule7"), ==, 0);
    g_assert_cmpint(swcore_rule_del(b->sw, "rule7"), ==, -1);
    g_assert_cmpint(swcore_rule_find(b->sw, "rule8"), ==, 7);
    g_assert_cmpint(swcore_rule_add(b->sw, &s, err, sizeof(err)), ==, 0);
    g_assert_cmpint(swcore_rule_find(b->sw, "one-too-many"), ==,
                    SW_MAX_RULES - 1);
    bench_free(b);
}

static void test_rule_del(void)
{
    Bench *b = bench_new(2);
    uint8_t f[200];
    size_t len;
    unsigned i;
    SwRuleInfo ri;

    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    blade_ready(b, 1, 10);
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "01");
    add_service(b, "dns", VIP1, SW_PROTO_UDP, 53, BAL_POLICY_RR, "01");
    for (i = 0; i < 4; i++) {
        g_assert_cmpint(tcp_send(b, 0, VIP1, 1000 + i, 80, TCP_SYN), ==,
                        i % 2);
        len = udp_to(f, 0, VIP1, 2000 + i, 53);
        g_assert_cmpint(flow_send(b, f, len), ==, i % 2);
    }
    /* one of web's flows is closing */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_FIN), ==, 0);
    g_assert_cmpuint(flow_stats(b).count, ==, 8);
    g_assert_cmpuint(active(b, 0), ==, 3);

    /* Deleting web ends its flows, and only its flows. */
    g_assert_cmpint(swcore_rule_del(b->sw, "web"), ==, 0);
    g_assert_cmpuint(swcore_rule_count(b->sw), ==, 1);
    g_assert_cmpint(swcore_rule_find(b->sw, "web"), ==, -1);
    g_assert_cmpint(swcore_rule_find(b->sw, "dns"), ==, 0);
    g_assert_true(swcore_rule_info(b->sw, 0, &ri));
    g_assert_cmpstr(ri.spec.name, ==, "dns");
    g_assert_cmpuint(flow_stats(b).count, ==, 4);
    g_assert_cmpuint(active(b, 0), ==, 2);
    g_assert_cmpuint(active(b, 1), ==, 2);
    assert_active_consistent(b);

    /* web's flows are gone with it; dns's go on where they were. */
    len = tcp_to(f, 0, VIP1, 1001, 80, TCP_ACK);
    assert_drop(b, b->uplink, f, len, SW_DROP_NO_SERVICE);
    for (i = 0; i < 4; i++) {
        len = udp_to(f, 0, VIP1, 2000 + i, 53);
        g_assert_cmpint(flow_send(b, f, len), ==, i % 2);
    }
    g_assert_cmpuint(b->decisions->len, ==, 8);

    /* A rule of the same name again: a new rule, flows start afresh. */
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "1");
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1001, 80, TCP_ACK), ==, 1);
    g_assert_true(swcore_rule_info(b->sw, 1, &ri));
    g_assert_cmpuint(ri.new_flows, ==, 1);
    g_assert_cmpint(swcore_rule_del(b->sw, "dns"), ==, 0);
    g_assert_cmpint(swcore_rule_del(b->sw, "web"), ==, 0);
    g_assert_cmpuint(flow_stats(b).count, ==, 0);
    g_assert_cmpuint(active(b, 0), ==, 0);
    g_assert_cmpuint(active(b, 1), ==, 0);
    bench_free(b);
}

static void test_rule_lookup(void)
{
    Bench *b = bench_new(4);
    uint8_t f[200];
    size_t len;
    unsigned i;
    SwRuleInfo ri;

    set_link(b, b->uplink, true);
    for (i = 0; i < 4; i++) {
        blade_ready(b, i, 10);
    }
    /* VIP1: the catch-all first, then the specific service. */
    add_service(b, "all1", VIP1, SW_PROTO_TCP, 0, BAL_POLICY_RR, "0");
    add_service(b, "web1", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "1");
    /* VIP2: the other way round. */
    add_service(b, "web2", VIP2, SW_PROTO_TCP, 80, BAL_POLICY_RR, "1");
    add_service(b, "all2", VIP2, SW_PROTO_TCP, 0, BAL_POLICY_RR, "0");
    /* A range in between on VIP2. */
    add_service(b, "mid2", VIP2, SW_PROTO_TCP, 0, BAL_POLICY_RR, "3");
    g_assert_cmpint(swcore_rule_del(b->sw, "mid2"), ==, 0);
    add_rule(b, SW_RULE_SERVICE, "mid2", VIP2, SW_PROTO_TCP, 70, 90,
             BAL_POLICY_RR, "3");

    /* The most specific service wins, whatever the order. */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_SYN), ==, 1);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1001, 81, TCP_SYN), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1002, 1, TCP_SYN), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP2, 1003, 80, TCP_SYN), ==, 1);
    g_assert_cmpint(tcp_send(b, 0, VIP2, 1004, 81, TCP_SYN), ==, 3);
    g_assert_cmpint(tcp_send(b, 0, VIP2, 1005, 443, TCP_SYN), ==, 0);

    /* Steering rules come first, in the order they were added. */
    add_rule(b, SW_RULE_STEERING, "bulk", 0, SW_PROTO_TCP, 8000, 8999,
             BAL_POLICY_RR, "2");
    add_rule(b, SW_RULE_STEERING, "bulk-lo", 0, SW_PROTO_TCP, 8000, 8100,
             BAL_POLICY_RR, "3");
    add_rule(b, SW_RULE_STEERING, "ssh2", VIP2, SW_PROTO_TCP, 22, 22,
             BAL_POLICY_RR, "3");
    add_rule(b, SW_RULE_STEERING, "web-all", 0, SW_PROTO_TCP, 80, 80,
             BAL_POLICY_RR, "3");
    g_assert_cmpint(tcp_send(b, 0, VIP1, 2000, 8080, TCP_SYN), ==, 2);
    g_assert_cmpint(tcp_send(b, 0, VIP2, 2001, 8999, TCP_SYN), ==, 2);
    g_assert_cmpint(tcp_send(b, 0, VIP2, 2002, 8000, TCP_SYN), ==, 2);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 2003, 9000, TCP_SYN), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 2004, 7999, TCP_SYN), ==, 0);
    /* a steering rule with a VIP: only that VIP */
    g_assert_cmpint(tcp_send(b, 0, VIP2, 2005, 22, TCP_SYN), ==, 3);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 2006, 22, TCP_SYN), ==, 0);
    /* over the most specific service */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 2007, 80, TCP_SYN), ==, 3);
    /* existing flows stay where they are */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_ACK), ==, 1);
    /* another protocol matches none of them */
    len = udp_to(f, 0, VIP1, 2000, 8080);
    assert_drop(b, b->uplink, f, len, SW_DROP_NO_SERVICE);
    /* a steering rule's VIP is a VIP: ARP is answered for it */
    add_rule(b, SW_RULE_STEERING, "v3", VIP3, SW_PROTO_UDP, 1, 10,
             BAL_POLICY_RR, "3");
    arp_frame(f, bcast, client_mac(0).a, 1, client_ip(0), VIP3);
    input(b, b->uplink, f, 60);
    assert_arp_reply(b, b->uplink, 0, VIP3);
    len = udp_to(f, 0, VIP3, 1, 10);
    g_assert_cmpint(flow_send(b, f, len), ==, 3);
    len = udp_to(f, 0, VIP3, 1, 11);
    assert_drop(b, b->uplink, f, len, SW_DROP_NO_SERVICE);

    /* The decisions name each rule by its position. */
    g_assert_cmpuint(decision(b, 0)->rule, ==,
                     swcore_rule_find(b->sw, "web1"));
    g_assert_cmpuint(decision(b, 6)->rule, ==,
                     swcore_rule_find(b->sw, "bulk"));
    g_assert_true(swcore_rule_info(b->sw, swcore_rule_find(b->sw, "bulk"),
                                   &ri));
    g_assert_cmpuint(ri.new_flows, ==, 3);
    g_assert_cmpuint(ri.blade_new_flows[2], ==, 3);
    g_assert_true(swcore_rule_info(b->sw,
                                   swcore_rule_find(b->sw, "bulk-lo"), &ri));
    g_assert_cmpuint(ri.new_flows, ==, 0);
    bench_free(b);
}

/* ---- the rotation -------------------------------------------------------- */

static void assert_states(Bench *b, const StateEv *want, unsigned n)
{
    unsigned i;

    g_assert_cmpuint(b->states->len, ==, n);
    for (i = 0; i < n; i++) {
        const StateEv *e = &g_array_index(b->states, StateEv, i);

        g_assert_cmpuint(e->slot, ==, want[i].slot);
        g_assert_cmpint(e->in, ==, want[i].in);
        g_assert_cmpstr(e->reason, ==, want[i].reason);
    }
    g_array_set_size(b->states, 0);
}

static void test_rotation(void)
{
    SwConfig cfg;
    Bench *b;
    SwBladeInfo bi;
    Mac m0 = blade_mac(0);
    uint64_t t;

    swcore_config_init(&cfg);
    cfg.util_stale_ns = 500 * MS;
    b = bench_new_cfg(2, &cfg, false);
    g_assert_false(swcore_blade_info(b->sw, 2, b->now, &bi));
    g_assert_false(bi.present);
    g_assert_false(swcore_blade_info(b->sw, SW_MAX_BLADES, b->now, &bi));

    bi = blade_info(b, 0);
    g_assert_true(bi.present);
    g_assert_cmpuint(bi.port, ==, sp(b, 0));
    g_assert_false(bi.mac_known);
    g_assert_false(bi.reported);
    g_assert_cmpstr(reason(b, 0), ==, "link down");

    /* Each condition in turn; out of rotation all along, no callback. */
    set_link(b, sp(b, 0), true);
    g_assert_cmpstr(reason(b, 0), ==, "no MAC learned yet");
    blade_hello(b, 0);
    g_assert_cmpstr(reason(b, 0), ==, "no utilization report yet");
    bi = blade_info(b, 0);
    g_assert_true(bi.mac_known);
    g_assert_cmpmem(bi.mac, 6, m0.a, 6);
    g_assert_cmpuint(b->states->len, ==, 0);

    /* The first report: in rotation, the callback says so. */
    b->now += 10 * MS;
    t = b->now;
    report(b, 0, 30, 150);
    g_assert_cmpstr(reason(b, 0), ==, "in rotation");
    assert_states(b, (StateEv[]){ { 0, true, "in rotation" } }, 1);
    b->now += 100 * MS;
    bi = blade_info(b, 0);
    g_assert_true(bi.reported);
    g_assert_cmpuint(bi.cpu_pct, ==, 30);
    g_assert_cmpuint(bi.irq_pct, ==, 100);
    g_assert_cmpuint(bi.reports, ==, 1);
    g_assert_cmpuint(bi.report_age_ns, ==, 100 * MS);

    /* Stale after util_stale_ns exactly, noticed by the tick. */
    b->now = t + 500 * MS - 1;
    tick(b);
    g_assert_true(in_rotation(b, 0));
    g_assert_cmpuint(b->states->len, ==, 0);
    b->now = t + 500 * MS;
    tick(b);
    g_assert_cmpstr(reason(b, 0), ==, "utilization reports stale");
    assert_states(b, (StateEv[]){ { 0, false, "utilization reports stale" } },
                  1);
    tick(b);
    g_assert_cmpuint(b->states->len, ==, 0);

    /* A report brings it back; slot 1 comes in too. */
    b->now += MS;
    report(b, 0, 20, 0);
    set_link(b, sp(b, 1), true);
    blade_hello(b, 1);
    report(b, 1, 20, 0);
    assert_states(b, (StateEv[]){ { 0, true, "in rotation" },
                                  { 1, true, "in rotation" } }, 2);

    /* Link down: out, and its MAC is forgotten with the port's. */
    set_link(b, sp(b, 0), false);
    assert_states(b, (StateEv[]){ { 0, false, "link down" } }, 1);
    g_assert_cmpstr(reason(b, 0), ==, "link down");
    g_assert_true(in_rotation(b, 1));
    /* Back up, reports fresh: not before the blade is heard from. */
    b->now += MS;
    set_link(b, sp(b, 0), true);
    report(b, 0, 20, 0);
    g_assert_cmpstr(reason(b, 0), ==, "no MAC learned yet");
    g_assert_false(blade_info(b, 0).mac_known);
    g_assert_cmpuint(b->states->len, ==, 0);
    blade_hello(b, 0);
    assert_states(b, (StateEv[]){ { 0, true, "in rotation" } }, 1);

    /* Reports go on: it stays in, no callback. */
    b->now += 400 * MS;
    report(b, 0, 20, 0);
    report(b, 1, 20, 0);
    b->now += 400 * MS;
    tick(b);
    g_assert_true(in_rotation(b, 0));
    g_assert_cmpuint(b->states->len, ==, 0);
    g_assert_cmpuint(blade_info(b, 0).reports, ==, 4);

    /* Reports for a slot without a port change nothing. */
    swcore_blade_report(b->sw, 5, 10, 10, b->now);
    swcore_blade_report(b->sw, SW_MAX_BLADES, 10, 10, b->now);
    g_assert_cmpuint(b->states->len, ==, 0);
    bench_free(b);
}

/*
 * Contention figures reach the blade's balancing inputs with the report
 * that carries them; a report without them (a blade that predates them)
 * clears them and is balanced on CPU and interrupt figures as before.
 */
static void test_report_contention(void)
{
    Bench *b = bench_new(2);
    SwBladeInfo bi;

    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    blade_ready(b, 1, 10);
    bi = blade_info(b, 0);
    g_assert_false(bi.has_contention);

    swcore_blade_report_contention(b->sw, 0, 30, 5, 450, 7, b->now);
    bi = blade_info(b, 0);
    g_assert_true(bi.in_rotation);
    g_assert_cmpuint(bi.cpu_pct, ==, 30);
    g_assert_cmpuint(bi.irq_pct, ==, 5);
    g_assert_true(bi.has_contention);
    g_assert_cmpuint(bi.psi_permille, ==, 450);
    g_assert_cmpuint(bi.runnable, ==, 7);
    g_assert_cmpuint(bi.reports, ==, 2);
    g_assert_false(blade_info(b, 1).has_contention);

    /* out of range: the largest (the lane never delivers such) */
    swcore_blade_report_contention(b->sw, 0, 30, 5, 4000, 9999, b->now);
    bi = blade_info(b, 0);
    g_assert_cmpuint(bi.psi_permille, ==, 1000);
    g_assert_cmpuint(bi.runnable, ==, BAL_MAX_RUNNABLE);

    /* the next report without them clears them; still in rotation */
    b->now += MS;
    report(b, 0, 40, 0);
    bi = blade_info(b, 0);
    g_assert_true(bi.in_rotation);
    g_assert_cmpuint(bi.cpu_pct, ==, 40);
    g_assert_false(bi.has_contention);
    g_assert_cmpuint(bi.psi_permille, ==, 0);
    g_assert_cmpuint(bi.runnable, ==, 0);

    /* a slot without a port: nothing */
    swcore_blade_report_contention(b->sw, 5, 10, 10, 10, 10, b->now);
    swcore_blade_report_contention(b->sw, SW_MAX_BLADES, 10, 10, 10, 10,
                                   b->now);
    bench_free(b);
}

/* A report at time 0 is a report: the blade is in rotation at once. */
static void test_rotation_time_zero(void)
{
    Bench *b = bench_new(1);
    SwBladeInfo bi;

    b->now = 0;
    set_link(b, b->uplink, true);
    set_link(b, sp(b, 0), true);
    blade_hello(b, 0);
    report(b, 0, 10, 0);
    g_assert_cmpstr(reason(b, 0), ==, "in rotation");
    bi = blade_info(b, 0);
    g_assert_true(bi.reported);
    g_assert_cmpuint(bi.report_age_ns, ==, 0);
    tick(b);
    g_assert_true(in_rotation(b, 0));
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "0");
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_SYN), ==, 0);
    g_assert_cmpuint(decision(b, 0)->report_age_ns, ==, 0);
    /* Stale a second later (the default), give or take a nanosecond. */
    g_assert_cmpuint(swcore_deadline(b->sw), <=, SEC + 1);
    b->now = SEC + 1;
    tick(b);
    g_assert_cmpstr(reason(b, 0), ==, "utilization reports stale");
    bench_free(b);
}

/* Flows whose blade leaves the rotation move on their next frame. */
static void test_flow_move(void)
{
    Bench *b = bench_new(3);
    SwBladeInfo bi;
    uint64_t t;
    const SwDecision *d;
    unsigned nd;
    int s;

    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    blade_ready(b, 1, 10);
    blade_ready(b, 2, 10);
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "012");
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_SYN), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1001, 80, TCP_SYN), ==, 1);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1002, 80, TCP_SYN), ==, 2);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1003, 80, TCP_SYN), ==, 0);
    /* 1003 is closing when its blade goes */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1003, 80, TCP_FIN), ==, 0);

    /* Blade 0's reports stop; the others' go on. */
    t = b->now;
    b->now = t + 600 * MS;
    report(b, 1, 10, 0);
    report(b, 2, 10, 0);
    b->now = t + SEC;
    tick(b);
    g_assert_false(in_rotation(b, 0));
    assert_states(b, (StateEv[]){ { 0, false,
                                    "utilization reports stale" } }, 1);
    /*
     * Late reports say its host stalled, not that it died: its flows stay
     * (a TCP connection moved to a blade with no socket for it is reset).
     */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_ACK), ==, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1003, 80, TCP_ACK), ==, 0);
    g_assert_cmpuint(flow_stats(b).moved, ==, 0);

    /* Its link goes down; nothing moves before a frame comes. */
    set_link(b, sp(b, 0), false);
    g_assert_cmpstr(reason(b, 0), ==, "link down");
    g_assert_cmpuint(flow_stats(b).moved, ==, 0);
    g_assert_cmpuint(active(b, 0), ==, 1);

    nd = b->decisions->len;
    s = tcp_send(b, 0, VIP1, 1000, 80, TCP_ACK);
    g_assert_true(s == 1 || s == 2);
    g_assert_cmpuint(b->decisions->len, ==, nd + 1);
    d = decision(b, nd);
    g_assert_true(d->moved);
    g_assert_cmpint(d->blade, ==, s);
    g_assert_cmpuint(flow_stats(b).moved, ==, 1);
    bi = blade_info(b, 0);
    g_assert_cmpuint(bi.moved_flows, ==, 1);
    g_assert_cmpuint(bi.active_flows, ==, 0);
    g_assert_cmpuint(blade_info(b, s).new_flows, ==, 2);
    g_assert_cmpuint(active(b, s), ==, 2);
    /* It stays on its new blade; the others never moved. */
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_ACK), ==, s);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1001, 80, TCP_ACK), ==, 1);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1002, 80, TCP_ACK), ==, 2);
    g_assert_cmpuint(b->decisions->len, ==, nd + 1);

    /* A closing flow moves, and stays closing: not open on its blade. */
    s = tcp_send(b, 0, VIP1, 1003, 80, TCP_ACK);
    g_assert_true(s == 1 || s == 2);
    g_assert_cmpuint(flow_stats(b).moved, ==, 2);
    g_assert_cmpuint(blade_info(b, 0).moved_flows, ==, 2);
    g_assert_cmpuint(flow_stats(b).closed, ==, 1);
    assert_active_consistent(b);

    /* No blade left: the frame is dropped, the flow kept, counted. */
    set_link(b, sp(b, 1), false);
    set_link(b, sp(b, 2), false);
    assert_states(b, (StateEv[]){ { 1, false, "link down" },
                                  { 2, false, "link down" } }, 2);
    {
        uint8_t f[200];
        size_t len = tcp_to(f, 0, VIP1, 1001, 80, TCP_ACK);
        SwRuleInfo ri;

        assert_drop(b, b->uplink, f, len, SW_DROP_NO_BLADE);
        len = tcp_to(f, 0, VIP1, 1009, 80, TCP_SYN);
        assert_drop(b, b->uplink, f, len, SW_DROP_NO_BLADE);
        g_assert_true(swcore_rule_info(b->sw, 0, &ri));
        g_assert_cmpuint(ri.no_blade, ==, 2);
    }
    g_assert_cmpuint(flow_stats(b).moved, ==, 2);
    g_assert_cmpuint(flow_stats(b).count, ==, 4);
    assert_active_consistent(b);

    /* Blade 1 back: 1001 stays there; 1002 moves to it. */
    set_link(b, sp(b, 1), true);
    blade_hello(b, 1);
    report(b, 1, 10, 0);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1001, 80, TCP_ACK), ==, 1);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1002, 80, TCP_ACK), ==, 1);
    g_assert_cmpuint(blade_info(b, 2).moved_flows, ==, 1);
    g_assert_cmpuint(flow_stats(b).moved, ==, 3);
    assert_active_consistent(b);
    bench_free(b);
}

/* ---- time: swcore_deadline() -------------------------------------------- */

/* What a tick may change. */
typedef struct Snap {
    SwMacStats ms;
    SwFlowStats fs;
    bool in[SW_MAX_BLADES];
    const char *reason[SW_MAX_BLADES];
    unsigned states;
} Snap;

static void snap(const Bench *b, Snap *s)
{
    unsigned i;

    memset(s, 0, sizeof(*s));
    swcore_mac_stats(b->sw, &s->ms);
    swcore_flow_stats(b->sw, &s->fs);
    for (i = 0; i < b->nslots; i++) {
        SwBladeInfo bi = blade_info(b, i);

        s->in[i] = bi.in_rotation;
        s->reason[i] = bi.reason;
    }
    s->states = b->states->len;
}

static bool snap_equal(const Snap *a, const Snap *b)
{
    return !memcmp(a, b, sizeof(*a));
}

/*
 * Tick at the deadline less a nanosecond: nothing changes and the
 * deadline stays; tick at the deadline: something changes and the
 * deadline moves on.  Returns the deadline.
 */
static uint64_t step_deadline(Bench *b)
{
    uint64_t dl = swcore_deadline(b->sw);
    Snap s0, s1;

    g_assert_cmpuint(dl, >, b->now);
    g_assert_cmpuint(dl, <, UINT64_MAX);
    snap(b, &s0);
    b->now = dl - 1;
    tick(b);
    snap(b, &s1);
    g_assert_true(snap_equal(&s0, &s1));
    g_assert_cmpuint(swcore_deadline(b->sw), ==, dl);
    b->now = dl;
    tick(b);
    snap(b, &s1);
    g_assert_false(snap_equal(&s0, &s1));
    g_assert_cmpuint(swcore_deadline(b->sw), >, dl);
    return dl;
}

static void test_deadline(void)
{
    SwConfig cfg;
    Bench *b;
    uint64_t t;

    swcore_config_init(&cfg);
    cfg.mac_aging_ns = 30 * SEC;
    cfg.flow_idle_ns = 20 * SEC;
    cfg.util_stale_ns = 5 * SEC;
    b = bench_new_cfg(1, &cfg, false);
    g_assert_cmpuint(swcore_deadline(b->sw), ==, UINT64_MAX);
    set_link(b, b->uplink, true);
    set_link(b, sp(b, 0), true);
    g_assert_cmpuint(swcore_deadline(b->sw), ==, UINT64_MAX);
    tick(b);
    g_assert_cmpuint(swcore_deadline(b->sw), ==, UINT64_MAX);

    t = b->now;
    blade_hello(b, 0);                          /* MAC at t */
    g_assert_cmpuint(swcore_deadline(b->sw), ==, t + 30 * SEC);
    b->now = t + SEC;
    report(b, 0, 10, 0);                        /* stale at t + 6 */
    g_assert_cmpuint(swcore_deadline(b->sw), ==, t + 6 * SEC);
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "0");
    b->now = t + 2 * SEC;
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_SYN), ==, 0);
    /* client MAC at t + 2 (ages at t + 32), flow at t + 2 (ends t + 22) */
    g_assert_cmpuint(swcore_deadline(b->sw), ==, t + 6 * SEC);
    b->now = t + 3 * SEC;
    report(b, 0, 10, 0);                        /* stale at t + 8 */
    g_assert_cmpuint(swcore_deadline(b->sw), ==, t + 8 * SEC);

    g_assert_cmpuint(step_deadline(b), ==, t + 8 * SEC);
    g_assert_false(in_rotation(b, 0));
    /* out of rotation: its reports no longer set a deadline */
    g_assert_cmpuint(step_deadline(b), ==, t + 22 * SEC);
    g_assert_cmpuint(flow_stats(b).count, ==, 0);
    g_assert_cmpuint(step_deadline(b), ==, t + 30 * SEC);
    g_assert_cmpint(swcore_mac_lookup(b->sw, blade_mac(0).a, b->now), ==,
                    -1);
    g_assert_cmpuint(step_deadline(b), ==, t + 32 * SEC);
    g_assert_cmpuint(swcore_deadline(b->sw), ==, UINT64_MAX);
    bench_free(b);
}

/*
 * A frame of a flow that finds no blade keeps the flow alive like any
 * other frame: the flow ends flow_idle_ns after it, and the deadline
 * says so.
 */
static void test_deadline_no_blade(void)
{
    SwConfig cfg;
    Bench *b;
    SwFlowInfo fl[4];
    uint8_t f[200];
    size_t len;

    swcore_config_init(&cfg);
    cfg.flow_idle_ns = 10 * SEC;
    cfg.mac_aging_ns = 3600 * SEC;
    cfg.util_stale_ns = 3600 * SEC;
    b = bench_new_cfg(1, &cfg, false);
    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "0");
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_SYN), ==, 0);
    b->now = T0 + 2 * SEC;
    g_assert_cmpint(tcp_send(b, 0, VIP1, 2000, 80, TCP_SYN), ==, 0);
    b->now = T0 + 4 * SEC;
    set_link(b, sp(b, 0), false);
    len = tcp_to(f, 0, VIP1, 1000, 80, TCP_ACK);
    assert_drop(b, b->uplink, f, len, SW_DROP_NO_BLADE);

    /* 2000 is now the least recently seen, and ends first. */
    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 4), ==, 2);
    g_assert_cmpuint(fl[0].src_port, ==, 2000);
    g_assert_cmpuint(fl[0].idle_ns, ==, 2 * SEC);
    g_assert_cmpuint(fl[1].src_port, ==, 1000);
    g_assert_cmpuint(fl[1].idle_ns, ==, 0);
    g_assert_cmpuint(swcore_deadline(b->sw), ==, T0 + 12 * SEC);
    b->now = T0 + 12 * SEC;
    tick(b);
    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 4), ==, 1);
    g_assert_cmpuint(fl[0].src_port, ==, 1000);
    g_assert_cmpuint(swcore_deadline(b->sw), ==, T0 + 14 * SEC);
    b->now = T0 + 14 * SEC;
    tick(b);
    g_assert_cmpuint(flow_stats(b).count, ==, 0);
    g_assert_cmpuint(flow_stats(b).expired, ==, 2);
    bench_free(b);
}

/* More entries due than a tick handles: the deadline says "now". */
static void test_deadline_budget(void)
{
    SwConfig cfg;
    Bench *b;
    uint8_t f[60] = { 0 };
    SwMacStats ms;
    unsigned i, ticks = 0;

    swcore_config_init(&cfg);
    cfg.mac_aging_ns = 10 * SEC;
    b = bench_new_cfg(1, &cfg, false);
    set_link(b, b->uplink, true);
    for (i = 0; i < 3000; i++) {
        uint8_t src[6] = { 0x02, 0x10, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };

        eth_hdr(f, bcast, src, 0x88b6);
        input(b, b->uplink, f, sizeof(f));
    }
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.count, ==, 3000);
    g_assert_cmpuint(swcore_deadline(b->sw), ==, T0 + 10 * SEC);
    b->now = T0 + 10 * SEC;
    while (swcore_deadline(b->sw) <= b->now) {
        tick(b);
        ticks++;
        g_assert_cmpuint(ticks, <=, 3);
    }
    swcore_mac_stats(b->sw, &ms);
    g_assert_cmpuint(ms.count, ==, 0);
    g_assert_cmpuint(ms.aged, ==, 3000);
    g_assert_cmpuint(ticks, ==, 3);
    g_assert_cmpuint(swcore_deadline(b->sw), ==, UINT64_MAX);
    bench_free(b);
}

/* ---- introspection ------------------------------------------------------- */

static void test_flows_listing(void)
{
    Bench *b = bench_new(2);
    SwFlowInfo fl[8];
    uint8_t f[200];
    size_t len;
    unsigned i;

    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    blade_ready(b, 1, 10);
    add_service(b, "dns", VIP2, SW_PROTO_UDP, 53, BAL_POLICY_RR, "1");
    add_service(b, "web", VIP1, SW_PROTO_TCP, 80, BAL_POLICY_RR, "01");
    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 8), ==, 0);
    for (i = 0; i < 5; i++) {
        g_assert_cmpint(tcp_send(b, i, VIP1, 1000 + i, 80, TCP_SYN), ==,
                        i % 2);
        b->now += SEC;
    }
    len = udp_to(f, 3, VIP2, 5353, 53);
    g_assert_cmpint(flow_send(b, f, len), ==, 1);
    g_assert_cmpint(tcp_send(b, 0, VIP1, 1000, 80, TCP_ACK), ==, 0);
    b->now += SEC;

    /* The three most recently used, oldest first. */
    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 3), ==, 3);
    g_assert_cmpuint(fl[0].src_port, ==, 1004);
    g_assert_cmpuint(fl[1].src_port, ==, 5353);
    g_assert_cmpuint(fl[2].src_port, ==, 1000);

    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 8), ==, 6);
    for (i = 0; i < 4; i++) {
        g_assert_cmpuint(fl[i].proto, ==, SW_PROTO_TCP);
        g_assert_cmpuint(fl[i].src_port, ==, 1001 + i);
        g_assert_cmpuint(fl[i].dst_port, ==, 80);
        g_assert_cmpuint(fl[i].src_ip, ==, client_ip(1 + i));
        g_assert_cmpuint(fl[i].dst_ip, ==, VIP1);
        g_assert_cmpuint(fl[i].slot, ==, (1 + i) % 2);
        g_assert_cmpuint(fl[i].rule, ==, 1);
        g_assert_false(fl[i].closing);
        g_assert_cmpuint(fl[i].idle_ns, ==, (5 - i) * SEC);
        g_assert_cmpuint(fl[i].packets, ==, 1);
        g_assert_cmpuint(fl[i].bytes, ==, 60);
    }
    g_assert_cmpuint(fl[4].proto, ==, SW_PROTO_UDP);
    g_assert_cmpuint(fl[4].dst_ip, ==, VIP2);
    g_assert_cmpuint(fl[4].dst_port, ==, 53);
    g_assert_cmpuint(fl[4].rule, ==, 0);
    g_assert_cmpuint(fl[4].bytes, ==, len);
    g_assert_cmpuint(fl[5].src_port, ==, 1000);
    g_assert_cmpuint(fl[5].packets, ==, 2);
    g_assert_cmpuint(fl[5].bytes, ==, 60 + 14 + 20 + 20 + 40);
    g_assert_cmpuint(fl[5].idle_ns, ==, SEC);

    /* Rule positions follow deletions. */
    g_assert_cmpint(swcore_rule_del(b->sw, "dns"), ==, 0);
    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 8), ==, 5);
    for (i = 0; i < 5; i++) {
        g_assert_cmpuint(fl[i].rule, ==, 0);
    }
    g_assert_cmpuint(swcore_flows(b->sw, b->now, fl, 0), ==, 0);
    bench_free(b);
}

static void test_fabric(void)
{
    Bench *b = bench_new_cfg(1, NULL, true);
    Bench *nb = bench_new(1);
    Mac c0 = client_mac(0);
    uint8_t f[80];
    const Out *o;

    memset(f, 0x33, sizeof(f));
    eth_hdr(f, bcast, c0.a, SW_ETHERTYPE_FABRIC);
    /* With a fabric_frame callback: to it, not switched. */
    set_link(b, b->chain, true);
    set_link(b, b->uplink, true);
    g_assert_cmpuint(input(b, b->chain, f, sizeof(f)), ==, 0);
    g_assert_cmpuint(b->fabric->len, ==, 1);
    o = &g_array_index(b->fabric, Out, 0);
    g_assert_cmpuint(o->port, ==, b->chain);
    g_assert_cmpmem(o->data, o->len, f, sizeof(f));
    /*
     * Control frames are the fabric's, not switched: their source is not
     * learned (a blocked port must not attract unicast).
     */
    g_assert_cmpint(swcore_mac_lookup(b->sw, c0.a, b->now), ==, -1);
    /* Even to the switch's own MAC. */
    eth_hdr(f, swmac, c0.a, SW_ETHERTYPE_FABRIC);
    g_assert_cmpuint(input(b, b->chain, f, sizeof(f)), ==, 0);
    g_assert_cmpuint(b->fabric->len, ==, 2);
    g_assert_cmpuint(drops_total(b), ==, 0);
    /* Without: switched like any other frame. */
    eth_hdr(f, bcast, c0.a, SW_ETHERTYPE_FABRIC);
    set_link(nb, nb->chain, true);
    set_link(nb, nb->uplink, true);
    g_assert_cmpuint(input(nb, nb->chain, f, sizeof(f)), ==, 1);
    assert_flooded(nb, nb->chain, f, sizeof(f));
    bench_free(b);
    bench_free(nb);
}

/* A blocked port (the spanning tree's) neither takes nor gets data. */
static void test_blocked_port(void)
{
    Bench *b = bench_new_cfg(2, NULL, true);
    Mac far = client_mac(7), c0 = client_mac(0);
    uint8_t f[60];
    unsigned i;
    SwPortInfo pi;

    set_link(b, b->uplink, true);
    set_link(b, b->chain, true);
    for (i = 0; i < 2; i++) {
        set_link(b, sp(b, i), true);
    }
    /* Learned on the chain, then the chain is blocked: forgotten. */
    memset(f, 0, sizeof(f));
    eth_hdr(f, bcast, far.a, 0x88b6);
    g_assert_cmpuint(input(b, b->chain, f, sizeof(f)), ==, 3);
    g_assert_cmpint(swcore_mac_lookup(b->sw, far.a, b->now), ==, b->chain);
    swcore_port_set_blocked(b->sw, b->chain, true, b->now);
    g_assert_true(swcore_port_info(b->sw, b->chain, &pi));
    g_assert_true(pi.blocked);
    g_assert_true(pi.up);
    g_assert_cmpint(swcore_mac_lookup(b->sw, far.a, b->now), ==, -1);

    /* Flooding skips it; unicast to it floods elsewhere, never to it. */
    eth_hdr(f, bcast, c0.a, 0x88b6);
    g_assert_cmpuint(input(b, b->uplink, f, sizeof(f)), ==, 2);
    for (i = 0; i < 2; i++) {
        g_assert_cmpuint(out_at(b, i)->port, !=, b->chain);
    }
    /* Data from it: dropped, counted, not learned. */
    eth_hdr(f, c0.a, far.a, 0x88b6);
    g_assert_cmpuint(input(b, b->chain, f, sizeof(f)), ==, 0);
    g_assert_cmpuint(swcore_drops(b->sw, SW_DROP_BLOCKED), ==, 1);
    g_assert_cmpint(swcore_mac_lookup(b->sw, far.a, b->now), ==, -1);
    /* Control frames still reach the fabric. */
    eth_hdr(f, bcast, far.a, SW_ETHERTYPE_FABRIC);
    g_assert_cmpuint(input(b, b->chain, f, sizeof(f)), ==, 0);
    g_assert_cmpuint(b->fabric->len, ==, 1);

    /* Unblocked: a port like the others again. */
    swcore_port_set_blocked(b->sw, b->chain, false, b->now);
    eth_hdr(f, bcast, c0.a, 0x88b6);
    g_assert_cmpuint(input(b, b->uplink, f, sizeof(f)), ==, 3);
    g_assert_cmpuint(out_at(b, 2)->port, ==, b->chain);
    bench_free(b);
}

static RemoteBlade remote(uint64_t chassis, unsigned slot, unsigned hops,
                            unsigned cpu, uint64_t age_ns, unsigned port)
{
    RemoteBlade r;

    memset(&r, 0, sizeof(r));
    r.chassis_id = chassis;
    g_snprintf(r.chassis, sizeof(r.chassis), "c%u", (unsigned)chassis);
    r.slot = slot;
    r.mac[0] = 0x02;
    r.mac[4] = (uint8_t)chassis;
    r.mac[5] = (uint8_t)slot;
    r.port = port;
    r.hops = hops;
    r.in_rotation = true;
    r.cpu_pct = cpu;
    r.age_ns = age_ns;
    return r;
}

/* The index of the remote blade of @chassis/@slot, or -1. */
static int remote_idx(const Bench *b, uint64_t chassis, unsigned slot)
{
    unsigned i;

    for (i = SW_MAX_BLADES; i < SW_BLADES_ALL; i++) {
        SwBladeInfo bi;

        if (swcore_blade_info(b->sw, i, b->now, &bi) && bi.remote &&
            bi.chassis_id == chassis && bi.slot == slot) {
            return i;
        }
    }
    return -1;
}

/* Blades of other chassis: placed on like local ones, through the chain. */
static void test_remote_blades(void)
{
    SwConfig cfg;
    Bench *b;
    RemoteBlade rb[2];
    SwRuleSpec spec;
    SwBladeInfo b2, b3;
    char err[128];
    int i2, i3;
    unsigned i, got[3] = { 0 };
    uint8_t f[200];
    size_t len;

    /* util's first design: its score shows the figures directly. */
    swcore_config_init(&cfg);
    cfg.bal.util_estimator = BAL_UTIL_REPORTED;
    b = bench_new_cfg(1, &cfg, true);
    set_link(b, b->uplink, true);
    set_link(b, b->chain, true);
    blade_ready(b, 0, 10);
    rb[0] = remote(2, 0, 1, 20, 100 * MS, b->chain);
    rb[1] = remote(3, 0, 2, 20, 600 * MS, b->chain);
    g_assert_cmpuint(swcore_set_remote(b->sw, rb, 2, b->now), ==, 2);
    i2 = remote_idx(b, 2, 0);
    i3 = remote_idx(b, 3, 0);
    g_assert_cmpint(i2, >=, SW_MAX_BLADES);
    g_assert_cmpint(i3, >=, SW_MAX_BLADES);
    b2 = blade_info(b, i2);
    b3 = blade_info(b, i3);
    g_assert_true(b2.in_rotation);
    g_assert_cmpstr(b2.chassis, ==, "c2");
    g_assert_cmpuint(b2.hops, ==, 1);
    g_assert_cmpuint(b2.port, ==, b->chain);
    g_assert_cmpuint(b2.cpu_pct, ==, 20);
    g_assert_cmpuint(b2.report_age_ns, ==, 100 * MS);
    /* The fabric carries no contention figures (yet). */
    g_assert_false(b2.has_contention);
    /* Same figures, but older and further away: a worse score. */
    g_assert_cmpuint(b3.score, >, b2.score);

    /* A service with remote blades: rr over slot 0, then c2, c3. */
    spec = rule_spec(SW_RULE_SERVICE, "web", VIP1, SW_PROTO_TCP, 80, 80,
                     BAL_POLICY_RR, "0");
    spec.remote = true;
    g_assert_cmpint(swcore_rule_add(b->sw, &spec, err, sizeof(err)), ==, 0);
    for (i = 0; i < 6; i++) {
        len = tcp_to(f, 0, VIP1, 2000 + i, 80, TCP_SYN);
        g_assert_cmpuint(input(b, b->uplink, f, len), ==, 1);
        if (out_at(b, 0)->port == sp(b, 0)) {
            got[0]++;
        } else {
            g_assert_cmpuint(out_at(b, 0)->port, ==, b->chain);
            /* Only the destination MAC changes: the remote blade's. */
            g_assert_cmpmem(out_at(b, 0)->data + 6, len - 6, f + 6,
                            len - 6);
            got[out_at(b, 0)->data[4] == 2 ? 1 : 2]++;
        }
    }
    g_assert_cmpuint(got[0], ==, 2);
    g_assert_cmpuint(got[1], ==, 2);
    g_assert_cmpuint(got[2], ==, 2);
    g_assert_cmpuint(blade_info(b, i3).active_flows, ==, 2);

    /* The same set again: the same indices, so flows stay. */
    g_assert_cmpuint(swcore_set_remote(b->sw, rb, 2, b->now), ==, 2);
    g_assert_cmpint(remote_idx(b, 3, 0), ==, i3);

    /* Chassis 3 is gone: out of rotation, its flows move on. */
    g_assert_cmpuint(swcore_set_remote(b->sw, rb, 1, b->now), ==, 1);
    g_assert_true(blade_info(b, i2).in_rotation);
    g_assert_cmpint(remote_idx(b, 3, 0), ==, -1);
    for (i = 0; i < 6; i++) {
        len = tcp_to(f, 0, VIP1, 2000 + i, 80, TCP_ACK);
        g_assert_cmpuint(input(b, b->uplink, f, len), ==, 1);
        g_assert_false(out_at(b, 0)->port == b->chain &&
                       out_at(b, 0)->data[4] == 3);
    }
    g_assert_cmpuint(flow_stats(b).moved, ==, 2);

    /* The same figures a staleness limit later: out of rotation. */
    b->now += b->cfg.util_stale_ns;
    rb[0].age_ns += b->cfg.util_stale_ns;
    swcore_set_remote(b->sw, rb, 1, b->now);
    g_assert_cmpstr(blade_info(b, i2).reason, ==,
                    "utilization reports stale");
    /* Fresh ones: back. */
    rb[0].age_ns = 0;
    swcore_set_remote(b->sw, rb, 1, b->now);
    g_assert_true(blade_info(b, i2).in_rotation);
    g_assert_cmpuint(blade_info(b, i2).report_age_ns, ==, 0);
    /* Out of rotation in its own chassis, or behind a blocked port. */
    rb[0].in_rotation = false;
    swcore_set_remote(b->sw, rb, 1, b->now);
    g_assert_cmpstr(blade_info(b, i2).reason, ==,
                    "out of rotation in its chassis");
    rb[0].in_rotation = true;
    swcore_set_remote(b->sw, rb, 1, b->now);
    swcore_port_set_blocked(b->sw, b->chain, true, b->now);
    g_assert_cmpstr(blade_info(b, i2).reason, ==, "port blocked");

    /* A rule without remote blades never uses them. */
    swcore_port_set_blocked(b->sw, b->chain, false, b->now);
    add_service(b, "local", VIP2, SW_PROTO_TCP, 80, BAL_POLICY_RR, "0");
    for (i = 0; i < 4; i++) {
        g_assert_cmpint(tcp_send(b, 0, VIP2, 3000 + i, 80, TCP_SYN), ==, 0);
    }
    /* Bad entries are skipped: a port or slot out of range. */
    rb[1] = remote(4, SW_MAX_BLADES, 1, 0, 0, b->chain);
    rb[0].port = 99;
    g_assert_cmpuint(swcore_set_remote(b->sw, rb, 2, b->now), ==, 0);
    assert_active_consistent(b);
    bench_free(b);
}

/* A blade's answer to client @c (direct server return: from the VIP). */
static size_t tcp_answer(uint8_t *f, unsigned slot, unsigned c, uint32_t vip,
                         uint16_t sport, uint16_t dport, size_t payload)
{
    uint8_t l4[100];
    Mac bm = blade_mac(slot), cm = client_mac(c);
    size_t n = tcp_hdr(l4, sport, dport, TCP_ACK, payload);

    return ip_frame(f, cm.a, bm.a, 6, vip, client_ip(c), 0x4000, l4, n);
}

/*
 * Requests in flight: a client segment with payload starts one, the
 * blade's next segment with payload answers it (with its latency); bare
 * ACKs do neither; an answer from another blade's port, or to a flow
 * that awaits none, counts for nothing; a flow that ends unanswered takes
 * its request with it.
 */
static void test_requests_in_flight(void)
{
    Bench *b = bench_new(2);
    uint32_t vip = VIP1;
    uint8_t f[200];
    size_t len;
    SwBladeInfo bi;
    int s, other;

    set_link(b, b->uplink, true);
    blade_ready(b, 0, 10);
    blade_ready(b, 1, 10);
    add_service(b, "web", vip, SW_PROTO_TCP, 80, BAL_POLICY_LEASTCONN, "01");
    s = tcp_send(b, 1, vip, 40000, 80, TCP_SYN);
    g_assert_cmpint(s, >=, 0);
    other = 1 - s;
    g_assert_cmpuint(blade_info(b, s).requests_in_flight, ==, 0);
    /* the request: 40 octets of payload */
    b->now += 1000;
    g_assert_cmpint(tcp_send(b, 1, vip, 40000, 80, TCP_ACK | TCP_PSH), ==, s);
    g_assert_cmpuint(blade_info(b, s).requests_in_flight, ==, 1);
    /* a second segment of it: still one */
    g_assert_cmpint(tcp_send(b, 1, vip, 40000, 80, TCP_ACK | TCP_PSH), ==, s);
    g_assert_cmpuint(blade_info(b, s).requests_in_flight, ==, 1);
    /* a bare ACK from the blade: no answer */
    b->now += 5000;
    len = tcp_answer(f, s, 1, vip, 80, 40000, 0);
    input(b, sp(b, s), f, len);
    g_assert_cmpuint(blade_info(b, s).requests_in_flight, ==, 1);
    /* the same answer from the other blade's port: not its flow */
    len = tcp_answer(f, other, 1, vip, 80, 40000, 100);
    input(b, sp(b, other), f, len);
    g_assert_cmpuint(blade_info(b, s).requests_in_flight, ==, 1);
    g_assert_cmpuint(blade_info(b, other).requests_answered, ==, 0);
    /* the answer: 5 us after the request, which was alone */
    len = tcp_answer(f, s, 1, vip, 80, 40000, 100);
    input(b, sp(b, s), f, len);
    bi = blade_info(b, s);
    g_assert_cmpuint(bi.requests_in_flight, ==, 0);
    g_assert_cmpuint(bi.requests_answered, ==, 1);
    g_assert_cmpuint(bi.request_latency_ns, ==, 5000);
    /* more answer segments: nothing awaits them */
    input(b, sp(b, s), f, len);
    g_assert_cmpuint(blade_info(b, s).requests_answered, ==, 1);
    /* another request, then the client closes before the answer */
    g_assert_cmpint(tcp_send(b, 1, vip, 40000, 80, TCP_ACK | TCP_PSH), ==, s);
    g_assert_cmpuint(blade_info(b, s).requests_in_flight, ==, 1);
    g_assert_cmpint(tcp_send(b, 1, vip, 40000, 80, TCP_ACK | TCP_FIN), ==, s);
    bi = blade_info(b, s);
    g_assert_cmpuint(bi.requests_in_flight, ==, 0);
    g_assert_cmpuint(bi.requests_answered, ==, 1);
    /* a short or lying IP header from a blade: ignored, still forwarded */
    len = tcp_answer(f, s, 1, vip, 80, 40000, 100);
    f[14] = 0x4f;
    input(b, sp(b, s), f, len);
    f[14] = 0x45;
    wr16(f + 16, 2000);
    input(b, sp(b, s), f, len);
    g_assert_cmpuint(blade_info(b, s).requests_answered, ==, 1);
    bench_free(b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/switch/config", test_config);
    g_test_add_func("/switch/ports", test_ports);
    g_test_add_func("/switch/l2/flooding", test_flooding);
    g_test_add_func("/switch/l2/mac-move", test_mac_move);
    g_test_add_func("/switch/l2/aging", test_aging);
    g_test_add_func("/switch/l2/port-down-forgets", test_port_down_forgets);
    g_test_add_func("/switch/l2/mac-table-full", test_mac_table_full);
    g_test_add_func("/switch/l2/mac-flood-keeps-others",
                    test_mac_flood_keeps_others);
    g_test_add_func("/switch/l2/mac-limit", test_mac_limit);
    g_test_add_func("/switch/counters", test_counters);
    g_test_add_func("/switch/drops", test_drops);
    g_test_add_func("/switch/ip-options", test_ip_options);
    g_test_add_func("/switch/arp", test_arp);
    g_test_add_func("/switch/arp/any-vip", test_arp_any_vip);
    g_test_add_func("/switch/icmp-echo", test_icmp_echo);
    g_test_add_func("/switch/flow/placement", test_flow_placement);
    g_test_add_func("/switch/flow/policy", test_flow_policy);
    g_test_add_func("/switch/flow/close", test_flow_close);
    g_test_add_func("/switch/flow/udp", test_flow_udp);
    g_test_add_func("/switch/flow/idle", test_flow_idle);
    g_test_add_func("/switch/flow/evict", test_flow_evict);
    g_test_add_func("/switch/flow/move", test_flow_move);
    g_test_add_func("/switch/rule/validation", test_rule_validation);
    g_test_add_func("/switch/rule/del", test_rule_del);
    g_test_add_func("/switch/rule/lookup", test_rule_lookup);
    g_test_add_func("/switch/rotation", test_rotation);
    g_test_add_func("/switch/rotation/time-zero", test_rotation_time_zero);
    g_test_add_func("/switch/deadline", test_deadline);
    g_test_add_func("/switch/deadline/no-blade", test_deadline_no_blade);
    g_test_add_func("/switch/deadline/budget", test_deadline_budget);
    g_test_add_func("/switch/flows", test_flows_listing);
    g_test_add_func("/switch/fabric", test_fabric);
    g_test_add_func("/switch/fabric/blocked-port", test_blocked_port);
    g_test_add_func("/switch/fabric/remote-blades", test_remote_blades);
    g_test_add_func("/switch/blades/report-contention",
                    test_report_contention);
    g_test_add_func("/switch/blades/requests-in-flight",
                    test_requests_in_flight);
    return g_test_run();
}
