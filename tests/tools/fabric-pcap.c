/*
 * fabric-pcap: a capture of the inter-chassis control protocol
 * (docs/fabric-protocol.md), its frames made by the real speaker of
 * net/fabric.c, for the Wireshark dissector
 * scripts/wireshark/bladeplane-fabric.lua, its test
 * (tests/scripts/test_wireshark.py) and people learning the protocol.
 *
 * Three chassis in a chain, c1 -- c2 -- c3, with 1, 2 and 100 blades, run
 * on a simulated clock (1 us links) with the reproducible "random" numbers
 * of tests/unit/test-fabric.c: once without a key, once with the key
 * "secret".  From each run a few of the frames sent are written:
 *
 *   first         c1's first frame (the worked example of the docs)
 *   blades        c1's first frame with its blade, a neighbour echoed
 *   relay         c2 to c3: its blades and c1's (a chassis table)
 *   round         c3's first round of two parts (its 100 blades)
 *   relay-round   c2 passing c3's blades on to c1, two parts
 *
 * Then hostile variants of those frames (truncated at several points,
 * lengths and counts that do not add up, unknown version, type, flags,
 * fields out of range), which the dissector must flag without failing.
 * Everything is fixed: the file is the same on every run.
 *
 * Usage: fabric-pcap FILE
 * Writes FILE and prints, for each frame, one line of JSON: its number
 * (from 1, as tshark counts), its kind, and for the speaker's frames the
 * fields as written (read back at the offsets of the docs) and the HMAC
 * computed here with glib.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <glib.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fabric.h"
#include "pcap.h"

#define ETH         14
#define HDR         77          /* the header, payload octets */
#define HMAC_LEN    32
#define LATENCY     1000        /* ns, per link */
#define RUN_NS      (600 * 1000 * 1000ULL)
#define EPOCH_NS    (1767225600ULL * 1000000000ULL)    /* 2026-01-01 UTC */
#define KEY         "secret"
#define N_NODES     3
#define MAX_FRAME   2048        /* room for the oversized variant */

/* Payload offsets of docs/fabric-protocol.md, "Header". */
enum {
    P_MAGIC = 0, P_VERSION = 4, P_TYPE = 5, P_FLAGS = 6, P_TTL = 7,
    P_LENGTH = 8, P_PART = 10, P_PARTS = 11, P_ID = 12, P_NONCE = 20,
    P_SEQ = 28, P_PRIO = 36, P_PORT = 38, P_NAMELEN = 39, P_ROOTPRIO = 40,
    P_ROOTID = 42, P_ROOTCOST = 50, P_ROOTSEQ = 52, P_INTERVAL = 56,
    P_NCHASSIS = 58, P_NBLADES = 59, P_ROOTNONCE = 60, P_CHALLENGE = 68,
    P_NECHO = 76, P_NAME = 77,
};

typedef struct Frame {
    int node;                   /* the sender's index; -1: made here */
    unsigned port;
    uint64_t at;
    size_t len;
    uint8_t f[MAX_FRAME];
} Frame;

typedef struct Node {
    Fabric *fab;
    FabConfig cfg;
    unsigned draws;
    int peer[FAB_MAX_PORTS];    /* node at the other end of each port */
    unsigned peer_port[FAB_MAX_PORTS];
} Node;

typedef struct Sim {
    uint64_t now;
    Node node[N_NODES];
    GQueue q;                   /* Frames in flight, in arrival order */
    GPtrArray *sent;            /* every Frame sent, in order */
} Sim;

static Sim sim;
static PcapFile *out;
static unsigned n_written;
static uint64_t out_ns;

static uint64_t get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = n; i-- > 0; v >>= 8) {
        p[i] = (uint8_t)v;
    }
}

/* The k-th value chassis i draws (from 1): 0xc0ffee0000000000 + i << 16 + k */
static void on_random(void *opaque, void *buf, size_t len)
{
    Node *nd = opaque;
    uint64_t v = 0xc0ffee0000000000ULL | nd->cfg.chassis_id << 16 |
                 ++nd->draws;

    g_assert(len == sizeof(v));
    memcpy(buf, &v, sizeof(v));
}

static void on_send(void *opaque, unsigned port, const uint8_t *frame,
                    size_t len)
{
    Node *nd = opaque;
    Frame *s = g_new0(Frame, 1);
    Frame *m;

    g_assert(len <= FAB_MAX_FRAME);
    s->node = (int)(nd - sim.node);
    s->port = port;
    s->at = sim.now;
    s->len = len;
    memcpy(s->f, frame, len);
    g_ptr_array_add(sim.sent, s);

    if (nd->peer[port] < 0) {
        return;
    }
    m = g_memdup2(s, sizeof(*s));
    m->node = nd->peer[port];
    m->port = nd->peer_port[port];
    m->at = sim.now + LATENCY;
    g_queue_push_tail(&sim.q, m);
}

static void on_state(void *opaque, unsigned port, bool fwd, const char *why)
{
}

static const FabOps ops = {
    .send = on_send, .port_state = on_state, .random = on_random,
};

/* Chassis @id ("cID", nonce 0x1000 + id) with @n blades (test-fabric.c's) */
static void node_init(Node *nd, uint64_t id, unsigned n, bool keyed)
{
    FabLocalBlade b[FAB_MAX_BLADES];

    memset(nd, 0, sizeof(*nd));
    fab_config_init(&nd->cfg);
    nd->cfg.chassis_id = id;
    snprintf(nd->cfg.name, sizeof(nd->cfg.name), "c%u", (unsigned)id);
    nd->cfg.mac[0] = 0x02;
    nd->cfg.mac[5] = (uint8_t)id;
    nd->cfg.nonce = 0x1000 + id;
    if (keyed) {
        nd->cfg.key_len = strlen(KEY);
        memcpy(nd->cfg.key, KEY, nd->cfg.key_len);
    }
    for (unsigned p = 0; p < FAB_MAX_PORTS; p++) {
        nd->peer[p] = -1;
    }
    nd->fab = fab_new(&nd->cfg, &ops, nd);
    g_assert(nd->fab);
    /* blade s: MAC 02:00:00:ID:ID:s, slot s, in rotation, 5 ms old */
    for (unsigned s = 0; s < n; s++) {
        memset(&b[s], 0, sizeof(b[s]));
        b[s].mac[0] = 0x02;
        b[s].mac[3] = (uint8_t)(id >> 8);
        b[s].mac[4] = (uint8_t)id;
        b[s].mac[5] = (uint8_t)s;
        b[s].slot = (uint8_t)s;
        b[s].in_rotation = true;
        b[s].cpu_pct = (uint8_t)(10 + s % 90);
        b[s].irq_pct = (uint8_t)(1 + s % 100);
        b[s].age_ms = 5;
    }
    fab_set_local_at(nd->fab, b, n, 0);
}

static void link_nodes(int a, int b)
{
    Node *na = &sim.node[a], *nb = &sim.node[b];
    char name[16];
    int pa, pb;

    snprintf(name, sizeof(name), "to-c%d", b + 1);
    pa = fab_add_port(na->fab, name);
    snprintf(name, sizeof(name), "to-c%d", a + 1);
    pb = fab_add_port(nb->fab, name);
    g_assert(pa >= 0 && pb >= 0);
    na->peer[pa] = b;
    na->peer_port[pa] = (unsigned)pb;
    nb->peer[pb] = a;
    nb->peer_port[pb] = (unsigned)pa;
    fab_port_link(na->fab, (unsigned)pa, true, 0);
    fab_port_link(nb->fab, (unsigned)pb, true, 0);
}

/* Run the chain c1 -- c2 -- c3 for RUN_NS; sim.sent has every frame. */
static void sim_run(bool keyed)
{
    static const unsigned blades[N_NODES] = { 1, 2, 100 };
    Frame *m;

    memset(&sim, 0, sizeof(sim));
    g_queue_init(&sim.q);
    sim.sent = g_ptr_array_new_with_free_func(g_free);
    for (unsigned i = 0; i < N_NODES; i++) {
        node_init(&sim.node[i], i + 1, blades[i], keyed);
    }
    link_nodes(0, 1);
    link_nodes(1, 2);
    for (;;) {
        uint64_t next = UINT64_MAX;

        m = g_queue_peek_head(&sim.q);
        if (m) {
            next = m->at;
        }
        for (unsigned i = 0; i < N_NODES; i++) {
            next = MIN(next, fab_deadline(sim.node[i].fab));
        }
        if (next > RUN_NS) {
            break;
        }
        sim.now = MAX(sim.now, next);
        while ((m = g_queue_peek_head(&sim.q)) && m->at <= sim.now) {
            g_queue_pop_head(&sim.q);
            fab_input(sim.node[m->node].fab, m->port, m->f, m->len,
                      sim.now);
            g_free(m);
        }
        for (unsigned i = 0; i < N_NODES; i++) {
            if (fab_deadline(sim.node[i].fab) <= sim.now) {
                fab_tick(sim.node[i].fab, sim.now);
            }
        }
    }
    while ((m = g_queue_pop_head(&sim.q))) {
        g_free(m);
    }
}

static void sim_free(void)
{
    for (unsigned i = 0; i < N_NODES; i++) {
        fab_free(sim.node[i].fab);
    }
    g_ptr_array_free(sim.sent, true);
}

static const Frame *sent(unsigned i)
{
    return g_ptr_array_index(sim.sent, i);
}

/*
 * The first frame chassis @node sends on @port with at least @chassis
 * entries in its chassis table, at least @blades blades, in a round of
 * at least @parts parts, part 0: its index in sim.sent.
 */
static unsigned find(int node, unsigned port, unsigned chassis,
                     unsigned blades, unsigned parts)
{
    for (unsigned i = 0; i < sim.sent->len; i++) {
        const Frame *s = sent(i);
        const uint8_t *p = s->f + ETH;

        if (s->node == node && s->port == port &&
            p[P_NCHASSIS] >= chassis && p[P_NBLADES] >= blades &&
            p[P_PARTS] >= parts && p[P_PART] == 0) {
            return i;
        }
    }
    fprintf(stderr, "fabric-pcap: no frame of c%d on port %u with %u "
            "chassis, %u blades, %u parts\n", node + 1, port, chassis,
            blades, parts);
    exit(1);
}

static void write_frame(const uint8_t *f, size_t len)
{
    int err = pcap_write(out, EPOCH_NS + out_ns, f, len);

    if (err) {
        fprintf(stderr, "fabric-pcap: writing: %s\n", g_strerror(-err));
        exit(1);
    }
    n_written++;
}

static void print_hex(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("%02x", p[i]);
    }
}

/*
 * Write a frame of the speaker and print its fields as written: those
 * of the header, the tables' ids, the blades' MACs and chassis, and the
 * HMAC, which is checked here against glib's.
 */
static void emit(const char *kind, const Frame *s, bool keyed)
{
    const uint8_t *p = s->f + ETH, *q;
    unsigned length = (unsigned)get(p + P_LENGTH, 2);
    unsigned nl = p[P_NAMELEN], ne = p[P_NECHO];
    unsigned nc = p[P_NCHASSIS], nb = p[P_NBLADES];

    out_ns = (keyed ? 1000000000ULL : 0) + s->at;
    write_frame(s->f, s->len);
    g_assert(s->len == ETH + length + (keyed ? HMAC_LEN : 0));
    printf("{\"frame\": %u, \"kind\": \"%s\", \"valid\": true, "
           "\"key\": %s, \"sender\": %d, \"port\": %u, \"len\": %zu, "
           "\"version\": %u, \"type\": %u, \"flags\": %u, \"ttl\": %u, "
           "\"length\": %u, \"part\": %u, \"parts\": %u, ",
           n_written, kind, keyed ? "\"" KEY "\"" : "null", s->node + 1,
           s->port, s->len, p[P_VERSION], p[P_TYPE], p[P_FLAGS], p[P_TTL],
           length, p[P_PART], p[P_PARTS]);
    printf("\"chassis_id\": %" PRIu64 ", \"nonce\": %" PRIu64 ", "
           "\"seq\": %" PRIu64 ", \"priority\": %u, \"sender_port\": %u, "
           "\"name_len\": %u, ",
           get(p + P_ID, 8), get(p + P_NONCE, 8), get(p + P_SEQ, 8),
           (unsigned)get(p + P_PRIO, 2), p[P_PORT], nl);
    printf("\"root_priority\": %u, \"root_id\": %" PRIu64 ", "
           "\"root_cost\": %u, \"root_seq\": %u, \"interval\": %u, "
           "\"chassis_count\": %u, \"blade_count\": %u, "
           "\"root_nonce\": %" PRIu64 ", \"challenge\": %" PRIu64 ", "
           "\"echo_count\": %u, \"name\": \"%.*s\", ",
           (unsigned)get(p + P_ROOTPRIO, 2), get(p + P_ROOTID, 8),
           (unsigned)get(p + P_ROOTCOST, 2),
           (unsigned)get(p + P_ROOTSEQ, 4),
           (unsigned)get(p + P_INTERVAL, 2), nc, nb,
           get(p + P_ROOTNONCE, 8), get(p + P_CHALLENGE, 8), ne,
           (int)nl, (const char *)p + P_NAME);
    q = p + P_NAME + nl;
    printf("\"echoes\": [");
    for (unsigned i = 0; i < ne; i++, q += 16) {
        printf("%s[%" PRIu64 ", %" PRIu64 "]", i ? ", " : "", get(q, 8),
               get(q + 8, 8));
    }
    printf("], \"chassis\": [");
    for (unsigned i = 0; i < nc; i++) {
        printf("%s[%" PRIu64 ", \"%.*s\"]", i ? ", " : "", get(q, 8),
               (int)q[8], (const char *)q + 9);
        q += 9 + q[8];
    }
    printf("], \"blades\": [");
    for (unsigned i = 0; i < nb; i++, q += 16) {
        printf("%s{\"mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\", "
               "\"slot\": %u, \"flags\": %u, \"cpu\": %u, \"irq\": %u, "
               "\"hops\": %u, \"chassis\": %u, \"age\": %u}",
               i ? ", " : "", q[0], q[1], q[2], q[3], q[4], q[5], q[6],
               q[7], q[8], q[9], q[10], q[11], (unsigned)get(q + 12, 4));
    }
    printf("], \"hmac\": ");
    g_assert(q == p + length);
    if (keyed) {
        GHmac *h = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)KEY,
                              strlen(KEY));
        uint8_t mac[HMAC_LEN];
        gsize ml = sizeof(mac);

        g_hmac_update(h, p, length);
        g_hmac_get_digest(h, mac, &ml);
        g_hmac_unref(h);
        if (memcmp(mac, q, HMAC_LEN)) {
            fprintf(stderr, "fabric-pcap: frame %u: the speaker's HMAC is "
                    "not glib's\n", n_written);
            exit(1);
        }
        printf("\"");
        print_hex(mac, sizeof(mac));
        printf("\"");
    } else {
        printf("null");
    }
    printf("}\n");
}

/* A round: @first and the parts after it that chassis sends on the port */
static void emit_round(const char *kind, unsigned first, bool keyed)
{
    const Frame *s0 = sent(first);
    unsigned parts = s0->f[ETH + P_PARTS], part = 0;

    for (unsigned i = first; i < sim.sent->len && part < parts; i++) {
        const Frame *s = sent(i);

        if (s->node == s0->node && s->port == s0->port) {
            g_assert(s->f[ETH + P_PART] == part);
            emit(kind, s, keyed);
            part++;
        }
    }
    g_assert(part == parts);
}

/* A hostile variant: written, and told as kind and what it is. */
static void emit_bad(const char *kind, const char *what, const Frame *v)
{
    out_ns = 2000000000ULL + n_written * 1000000ULL;
    write_frame(v->f, v->len);
    printf("{\"frame\": %u, \"kind\": \"%s\", \"valid\": false, "
           "\"len\": %zu, \"what\": \"%s\"}\n", n_written, kind, v->len,
           what);
}

static void cut(Frame *v, const Frame *s, size_t payload)
{
    *v = *s;
    v->len = ETH + payload;
}

/* Offset of the chassis table in the payload of @s. */
static size_t chassis_at(const Frame *s)
{
    const uint8_t *p = s->f + ETH;

    return P_NAME + p[P_NAMELEN] + 16 * p[P_NECHO];
}

static void hostile(const Frame *r, const Frame *k)
{
    const uint8_t *rp = r->f + ETH;
    size_t rlen = get(rp + P_LENGTH, 2);
    size_t klen = get(k->f + ETH + P_LENGTH, 2);
    size_t blades = rlen - 16 * rp[P_NBLADES];
    Frame v;
    uint8_t *p = v.f + ETH;

    cut(&v, r, 0);
    emit_bad("empty", "no payload at all", &v);
    cut(&v, r, 2);
    emit_bad("truncated-magic", "ends inside the magic", &v);
    cut(&v, r, 9);
    emit_bad("truncated-length", "ends inside the length field", &v);
    cut(&v, r, 40);
    emit_bad("truncated-header", "ends inside the header (40 of 77)", &v);
    cut(&v, r, P_NAME + rp[P_NAMELEN] + 8);
    emit_bad("truncated-echo", "ends inside the echo table", &v);
    cut(&v, r, chassis_at(r) + 5);
    emit_bad("truncated-chassis", "ends inside the chassis table", &v);
    cut(&v, r, rlen - 5);
    emit_bad("truncated-blade", "ends inside the last blade entry", &v);
    cut(&v, k, klen + HMAC_LEN / 2);
    emit_bad("truncated-hmac", "keyed, ends inside the HMAC", &v);

    cut(&v, r, rlen);
    put(p + P_LENGTH, rlen + 16, 2);
    emit_bad("length-long", "length field 16 over the frame", &v);
    cut(&v, r, rlen);
    put(p + P_LENGTH, 50, 2);
    emit_bad("length-short", "length field 50, under the header", &v);
    cut(&v, r, rlen);
    put(p + P_LENGTH, rlen - 16, 2);
    emit_bad("length-inside", "length field 16 short of the frame", &v);
    cut(&v, r, rlen);
    p[P_FLAGS] |= 0x01;
    emit_bad("auth-no-trailer", "AUTH flag, no HMAC", &v);

    cut(&v, r, rlen);
    p[P_TYPE] = 9;
    emit_bad("type-unknown", "message type 9", &v);
    cut(&v, r, rlen);
    p[P_VERSION] = 3;
    emit_bad("version-unknown", "version 3", &v);
    cut(&v, r, rlen);
    p[P_VERSION] = 1;
    emit_bad("version-1", "version 1", &v);
    cut(&v, r, rlen);
    p[P_FLAGS] |= 0x80;
    emit_bad("flags-unknown", "flag bit 7", &v);
    cut(&v, r, rlen);
    p[P_MAGIC + 3] = 'X';
    emit_bad("magic-bad", "magic BPFX", &v);
    cut(&v, r, rlen);
    memset(v.f, 0xff, 6);
    emit_bad("destination", "sent to the broadcast address", &v);

    cut(&v, r, rlen);
    p[P_NBLADES] = 200;
    emit_bad("count-overrun", "blade count 200, 3 in the frame", &v);
    cut(&v, r, rlen);
    p[P_NAMELEN] = 200;
    emit_bad("name-overrun", "name length 200", &v);
    cut(&v, r, rlen);
    p[P_TTL] = 2;
    p[P_PART] = 5;
    p[blades + 8] = 150;        /* cpu of the first blade */
    p[blades + 10] = 255;       /* hops of the first blade */
    emit_bad("fields-range", "ttl 2, part 5 of 1, cpu 150, hops 255", &v);

    /* 95 blades: consistent, but 1626 payload octets */
    cut(&v, r, rlen);
    for (unsigned i = rp[P_NBLADES]; i < 95; i++) {
        memcpy(p + blades + 16 * i, rp + blades, 16);
    }
    p[P_NBLADES] = 95;
    put(p + P_LENGTH, blades + 16 * 95, 2);
    v.len = ETH + blades + 16 * 95;
    g_assert(v.len <= MAX_FRAME);
    emit_bad("oversize", "1626 payload octets, over 1500", &v);
}

int main(int argc, char **argv)
{
    Frame relay, keyed_blades;
    int err;

    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: fabric-pcap FILE\n"
                "Writes a capture of the fabric control protocol: frames "
                "of net/fabric.c and hostile variants; prints each "
                "frame's fields as JSON.\n");
        return 2;
    }
    out = pcap_open(argv[1]);
    if (!out) {
        fprintf(stderr, "fabric-pcap: %s: %s\n", argv[1], g_strerror(errno));
        return 1;
    }
    for (int keyed = 0; keyed < 2; keyed++) {
        unsigned idx[5];

        sim_run(keyed);
        /* c1's port 0 is to c2; c2's 0 to c1, 1 to c3; c3's 0 to c2 */
        idx[0] = find(0, 0, 0, 0, 0);
        idx[1] = find(0, 0, 0, 1, 0);
        idx[2] = find(1, 1, 1, 1, 0);
        idx[3] = find(2, 0, 0, 1, 2);
        idx[4] = find(1, 0, 1, 1, 2);
        /* in the order sent */
        for (unsigned i = 0; i < sim.sent->len; i++) {
            if (i == idx[0]) {
                emit("first", sent(i), keyed);
            }
            if (i == idx[1]) {
                emit("blades", sent(i), keyed);
                if (keyed) {
                    keyed_blades = *sent(i);
                }
            }
            if (i == idx[2]) {
                emit("relay", sent(i), keyed);
                if (!keyed) {
                    relay = *sent(i);
                }
            }
            if (i == idx[3]) {
                emit_round("round", i, keyed);
            }
            if (i == idx[4]) {
                emit_round("relay-round", i, keyed);
            }
        }
        sim_free();
    }
    hostile(&relay, &keyed_blades);
    err = pcap_close(out);
    if (err) {
        fprintf(stderr, "fabric-pcap: %s: %s\n", argv[1], g_strerror(-err));
        return 1;
    }
    return 0;
}
