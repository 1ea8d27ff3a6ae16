/*
 * qtest for several chassis joined by chain ports (stream netdevs between
 * QEMU processes): a daisy chain and a central switch carry a new flow
 * from chassis 1's uplink to a blade in chassis 3 and its answer back;
 * the front chassis's view of remote load follows the reports; a middle
 * chassis that restarts heals the chain; a ring ends with one link
 * blocked and no storm; bad and unauthenticated control frames are
 * counted and ignored.  The test is every chassis's blades (lanes) and
 * chassis 1's uplink network.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include <arpa/inet.h>
#include "qemu/bswap.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "libqos/blade-fabric-harness.h"
#include "qobject/qjson.h"
#include "qemu/cutils.h"
#include "hw/blade/net/fabric.h"

#define VIP "10.0.2.100"
/* Advertisement period of every chassis here (virtual time). */
#define INTERVAL_MS 20

static void add_remote_service(SwHarness *h, const char *policy)
{
    QDict *r = qtest_qmp(h->qts, "{ 'execute': 'blade-switch-add-service', "
                         "'arguments': { 'name': 'web', 'vip': %s, "
                         "'protocol': 'tcp', 'port': 80, 'policy': %s, "
                         "'blades': [ 0 ], 'remote': true } }", VIP, policy);

    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
}

typedef struct Seen {
    unsigned chassis;           /* 1-based */
    size_t n;
} Seen;

static bool cond_blade_frames(FabHarness *f, void *arg)
{
    Seen *s = arg;

    return g_queue_get_length(&f->h[s->chassis - 1].blades[0].rx) >= s->n;
}

static bool cond_uplink_frames(FabHarness *f, void *arg)
{
    return g_queue_get_length(&f->h[0].up_rx) >= GPOINTER_TO_UINT(arg);
}

/* The chassis (1-based) whose blade holds the SYN from @sport, or 0. */
static unsigned syn_at(FabHarness *f, uint16_t sport)
{
    unsigned c;

    for (c = 0; c < f->n; c++) {
        GList *l;

        if (!f->h[c].qts || !f->h[c].slots) {
            continue;
        }
        for (l = f->h[c].blades[0].rx.head; l; l = l->next) {
            ShFrame *fr = l->data;

            if (fr->len >= 38 && lduw_be_p(fr->data + 12) == 0x0800 &&
                lduw_be_p(fr->data + 34) == sport) {
                return c + 1;
            }
        }
    }
    return 0;
}

static bool cond_syn(FabHarness *f, void *arg)
{
    return syn_at(f, GPOINTER_TO_UINT(arg)) != 0;
}

/*
 * New flows from chassis 1's uplink until one lands in chassis @target;
 * its blade answers the client, and the answer leaves chassis 1's uplink.
 */
static void flow_to_chassis(FabHarness *f, unsigned target)
{
    SwHarness *h1 = &f->h[0], *ht = &f->h[target - 1];
    uint8_t fr[128];
    uint16_t sport;
    ShFrame *got;
    size_t len;
    unsigned c;

    for (sport = 1000; sport < 1100; sport++) {
        for (c = 0; c < f->n; c++) {
            if (f->h[c].qts && f->h[c].slots) {
                sh_free_frames(&f->h[c].blades[0].rx);
            }
        }
        sh_uplink_send(h1, fr, sh_tcp_to_vip(fr, sport, SH_TCP_SYN));
        fh_wait(f, cond_syn, GUINT_TO_POINTER(sport), "the SYN at a blade");
        if (syn_at(f, sport) == target) {
            break;
        }
    }
    g_assert_cmpuint(sport, <, 1100);
    while ((got = sh_pop(&ht->blades[0].rx)) &&
           !(lduw_be_p(got->data + 12) == 0x0800 &&
             lduw_be_p(got->data + 34) == sport)) {
        g_free(got);
    }
    /* It crossed the chain with only its destination MAC rewritten. */
    g_assert_cmpmem(got->data, 6, ht->blades[0].mac, 6);
    g_assert_cmpmem(got->data + 6, 6, sh_client_mac, 6);
    g_free(got);

    /* The blade answers the client directly, from the VIP. */
    sh_free_frames(&h1->up_rx);
    len = sh_ip_l4(fr, sh_client_mac, ht->blades[0].mac, 6, VIP, 80,
                   "10.0.2.2", sport, SH_TCP_SYN | SH_TCP_ACK, 0);
    sh_blade_send(ht, 0, fr, len);
    fh_wait(f, cond_uplink_frames, GUINT_TO_POINTER(1), "the answer");
    while ((got = sh_pop(&h1->up_rx)) && memcmp(got->data, fr, 14)) {
        g_free(got);
    }
    g_assert_nonnull(got);
    g_assert_cmpuint(got->len, >=, len);
    g_assert_cmpmem(got->data, len, fr, len);
    g_free(got);
}

/* c1 (uplink) -- c2 -- c3: figures 3 and 5 of the patent. */
static void start_chain3(FabHarness *f)
{
    g_autoptr(GString) a1 = g_string_new(""), a2 = g_string_new("");
    g_autoptr(GString) a3 = g_string_new("");

    fh_init(f, 3, INTERVAL_MS);
    fh_netdev(a1, f, "c0", 0, true);
    fh_netdev(a2, f, "c0", 0, false);
    fh_netdev(a2, f, "c1", 1, true);
    fh_netdev(a3, f, "c0", 1, false);
    fh_start_chassis(f, 1, a1->str, "[\"c0\"]", 1, NULL);
    fh_start_chassis(f, 2, a2->str, "[\"c0\", \"c1\"]", 1, NULL);
    fh_start_chassis(f, 3, a3->str, "[\"c0\"]", 1, NULL);
    fh_blade_ready(f, 1, 10);
    fh_blade_ready(f, 2, 10);
    fh_blade_ready(f, 3, 10);
}

static void test_chain(void)
{
    FabHarness f;
    QDict *st, *b3;

    start_chain3(&f);
    fh_wait(&f, fh_cond_remote, GUINT_TO_POINTER(2), "c2's and c3's blades");
    st = sh_state(&f.h[0]);
    b3 = fh_remote_blade(st, "c3");
    g_assert_nonnull(b3);
    g_assert_cmpint(qdict_get_int(b3, "hops"), ==, 2);
    g_assert_cmpint(qdict_get_int(fh_remote_blade(st, "c2"), "hops"), ==, 1);
    g_assert_cmpstr(qdict_get_str(b3, "port"), ==, "chain0");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(st, "fabric"), "chassis"),
                    ==, "c1");
    qobject_unref(st);

    add_remote_service(&f.h[0], "rr");
    flow_to_chassis(&f, 3);
    flow_to_chassis(&f, 2);
    fh_stop(&f);
}

typedef struct CpuSeen {
    const char *chassis;
    int64_t cpu;
} CpuSeen;

static bool cond_remote_cpu(FabHarness *f, void *arg)
{
    CpuSeen *c = arg;
    QDict *st = sh_state(&f->h[0]);
    QDict *b = fh_remote_blade(st, c->chassis);
    bool ok = b && qobject_type(qdict_get(b, "cpu")) == QTYPE_QNUM &&
              qdict_get_int(b, "cpu") == c->cpu;

    qobject_unref(st);
    return ok;
}

/*
 * A blade three chassis away reports new figures: chassis 1 sees them
 * within a bounded number of advertisement periods.
 */
static void test_remote_view(void)
{
    FabHarness f;
    CpuSeen want = { "c3", 77 };
    uint64_t t0, t1;
    QDict *r;

    start_chain3(&f);
    fh_wait(&f, fh_cond_remote, GUINT_TO_POINTER(2), "c2's and c3's blades");
    sh_report(&f.h[2], 0, 77, 5);
    r = qtest_qmp(f.h[0].qts, "{ 'execute': 'query-blade-switch', "
                  "'arguments': { 'switch': 'switch' } }");
    t0 = qdict_get_int(qdict_get_qdict(qdict_get_qdict(r, "return"),
                                       "switch"), "now-ms");
    qobject_unref(r);
    fh_wait(&f, cond_remote_cpu, &want, "c3's new figures at c1");
    r = qtest_qmp(f.h[0].qts, "{ 'execute': 'query-blade-switch', "
                  "'arguments': { 'switch': 'switch' } }");
    t1 = qdict_get_int(qdict_get_qdict(qdict_get_qdict(r, "return"),
                                       "switch"), "now-ms");
    qobject_unref(r);
    /* Two hops: at most two periods each, and a little slack. */
    g_assert_cmpuint(t1 - t0, <=, 5 * INTERVAL_MS);
    fh_stop(&f);
}

/* c1, c2, c3 each joined to a central switch: figures 6 and 7. */
static void test_central(void)
{
    g_autoptr(GString) a1 = g_string_new(""), a2 = g_string_new("");
    g_autoptr(GString) a3 = g_string_new(""), hub = g_string_new("");
    FabHarness f;
    QDict *st;

    fh_init(&f, 4, INTERVAL_MS);
    fh_netdev(hub, &f, "c0", 0, true);
    fh_netdev(hub, &f, "c1", 1, true);
    fh_netdev(hub, &f, "c2", 2, true);
    fh_netdev(a1, &f, "c0", 0, false);
    fh_netdev(a2, &f, "c0", 1, false);
    fh_netdev(a3, &f, "c0", 2, false);
    fh_start_chassis(&f, 1, a1->str, "[\"c0\"]", 1, NULL);
    fh_start_chassis(&f, 2, a2->str, "[\"c0\"]", 1, NULL);
    fh_start_chassis(&f, 3, a3->str, "[\"c0\"]", 1, NULL);
    fh_start_chassis(&f, 4, hub->str, "[\"c0\", \"c1\", \"c2\"]", 0,
                  "\"fabric-priority\": 4096");
    fh_blade_ready(&f, 1, 10);
    fh_blade_ready(&f, 2, 10);
    fh_blade_ready(&f, 3, 10);
    fh_wait(&f, fh_cond_remote, GUINT_TO_POINTER(2), "c2's and c3's blades");
    st = sh_state(&f.h[0]);
    g_assert_cmpint(qdict_get_int(qdict_get_qdict(st, "fabric"), "root-id"),
                    ==, 4);
    g_assert_cmpint(qdict_get_int(fh_remote_blade(st, "c3"), "hops"), ==, 2);
    qobject_unref(st);
    add_remote_service(&f.h[0], "rr");
    flow_to_chassis(&f, 3);
    fh_stop(&f);
}

/* The middle chassis of a chain goes away and comes back. */
static void test_middle_restart(void)
{
    g_autoptr(GString) a2 = g_string_new("");
    FabHarness f;

    start_chain3(&f);
    fh_wait(&f, fh_cond_remote, GUINT_TO_POINTER(2), "c2's and c3's blades");
    add_remote_service(&f.h[0], "rr");

    sh_stop(&f.h[1]);
    f.h[1].qts = NULL;
    fh_wait(&f, fh_cond_remote, GUINT_TO_POINTER(0), "c2 and c3 gone at c1");

    fh_netdev(a2, &f, "c0", 0, false);
    fh_netdev(a2, &f, "c1", 1, true);
    fh_start_chassis(&f, 2, a2->str, "[\"c0\", \"c1\"]", 1, NULL);
    fh_blade_ready(&f, 2, 10);
    fh_wait(&f, fh_cond_remote, GUINT_TO_POINTER(2), "the chain healed");
    flow_to_chassis(&f, 3);
    fh_stop(&f);
}

static unsigned blocked_ports(FabHarness *f)
{
    unsigned c, n = 0;

    for (c = 0; c < f->n; c++) {
        QDict *st = sh_state(&f->h[c]);
        QListEntry *e;

        QLIST_FOREACH_ENTRY(qdict_get_qlist(st, "ports"), e) {
            QDict *p = qobject_to(QDict, qlist_entry_obj(e));

            if (qdict_get_bool(p, "blocked")) {
                n++;
            }
        }
        qobject_unref(st);
    }
    return n;
}

static bool cond_ring_settled(FabHarness *f, void *arg)
{
    return blocked_ports(f) == 1 && fh_remote_in_rotation(&f->h[0]) == 2;
}

/* A ring of three: one link blocked, a broadcast reaches each once. */
static void test_ring(void)
{
    g_autoptr(GString) a1 = g_string_new(""), a2 = g_string_new("");
    g_autoptr(GString) a3 = g_string_new("");
    uint8_t fr[64] = { 0 };
    Seen s2 = { 2, 1 }, s3 = { 3, 1 };
    FabHarness f;
    unsigned c;

    fh_init(&f, 3, INTERVAL_MS);
    fh_netdev(a1, &f, "c0", 0, true);
    fh_netdev(a2, &f, "c0", 0, false);
    fh_netdev(a2, &f, "c1", 1, true);
    fh_netdev(a3, &f, "c0", 1, false);
    fh_netdev(a3, &f, "c1", 2, true);
    fh_netdev(a1, &f, "c1", 2, false);
    fh_start_chassis(&f, 1, a1->str, "[\"c0\", \"c1\"]", 1, NULL);
    fh_start_chassis(&f, 2, a2->str, "[\"c0\", \"c1\"]", 1, NULL);
    fh_start_chassis(&f, 3, a3->str, "[\"c0\", \"c1\"]", 1, NULL);
    for (c = 1; c <= 3; c++) {
        fh_blade_ready(&f, c, 10);
    }
    fh_wait(&f, cond_ring_settled, NULL, "one blocked link in the ring");
    for (c = 0; c < 3; c++) {
        sh_free_frames(&f.h[c].blades[0].rx);
    }
    sh_eth(fr, sh_bcast, f.h[0].blades[0].mac, 0x88b6);
    sh_blade_send(&f.h[0], 0, fr, sizeof(fr));
    fh_wait(&f, cond_blade_frames, &s2, "the broadcast at c2");
    fh_wait(&f, cond_blade_frames, &s3, "the broadcast at c3");
    /* Many more periods: nothing more arrives (no storm). */
    for (c = 0; c < 40; c++) {
        unsigned i;

        for (i = 0; i < f.n; i++) {
            sh_pump(&f.h[i], 1);
            qtest_clock_step(f.h[i].qts, 5 * 1000 * 1000);
        }
    }
    g_assert_cmpuint(g_queue_get_length(&f.h[1].blades[0].rx), ==, 1);
    g_assert_cmpuint(g_queue_get_length(&f.h[2].blades[0].rx), ==, 1);
    g_assert_cmpuint(g_queue_get_length(&f.h[0].blades[0].rx), ==, 0);
    fh_stop(&f);
}

/* ---- the test as a rogue chassis on a chain port ------------------------- */

typedef struct Rogue {
    int fd;
    uint64_t sent;
} Rogue;

static void rogue_send(void *opaque, unsigned port, const uint8_t *frame,
                       size_t len)
{
    Rogue *r = opaque;
    uint8_t hdr[4];

    stl_be_p(hdr, len);
    g_assert_cmpint(write(r->fd, hdr, 4), ==, 4);
    g_assert_cmpint(write(r->fd, frame, len), ==, (ssize_t)len);
    r->sent++;
}

static void rogue_port_state(void *opaque, unsigned port, bool fwd,
                             const char *why)
{
}

static const FabOps rogue_ops = {
    .send = rogue_send,
    .port_state = rogue_port_state,
};

static uint64_t fabric_stat(SwHarness *h, const char *key)
{
    QDict *st = sh_state(h);
    uint64_t v = sh_u64(qdict_get_qdict(qdict_get_qdict(st, "fabric"),
                                        "stats"), key);

    qobject_unref(st);
    return v;
}

static void rogue_round(SwHarness *h, Fabric *fab, uint64_t *now)
{
    *now += INTERVAL_MS * 1000000ull;
    fab_tick(fab, *now);
    sh_settle(h);
}

/*
 * Chassis 1 has a key; the test speaks the protocol on its chain port
 * without it, with a wrong one, and with garbage: all counted, none of
 * the rogue's blades taken.
 */
static void test_rogue(void)
{
    static const char *const junk[] = {
        "short", "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e",
    };
    FabConfig cfg;
    FabLocalBlade lb = { .mac = { 0x52, 0x54, 0, 0xdd, 0, 1 },
                         .in_rotation = true, .cpu_pct = 1 };
    Rogue rogue = { 0 };
    uint64_t now = 1;
    Fabric *fab;
    SwHarness h;
    uint8_t fr[200];
    int sv[2];
    unsigned i;
    g_autofree char *args = NULL;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    rogue.fd = sv[0];
    args = g_strdup_printf(" -object secret,id=fk,data=the-right-key "
                           "-netdev socket,id=c0,fd=%d", sv[1]);
    {
        ShOpts o = { .slots = 1, .uplink = true, .chassis = 0,
                     .args = args,
                     .json = "\"chain\": [\"c0\"], \"chassis\": \"c1\", "
                             "\"chassis-id\": 1, \"fabric-key-secret\": "
                             "\"fk\", \"fabric-interval\": 20" };

        sh_start_opts(&h, &o);
    }
    close(sv[1]);

    for (i = 0; i < 2; i++) {
        fab_config_init(&cfg);
        cfg.chassis_id = 66;
        pstrcpy(cfg.name, sizeof(cfg.name), "rogue");
        cfg.mac[0] = 0x02;
        cfg.mac[5] = 0x66;
        cfg.interval_ns = INTERVAL_MS * 1000000ull;
        if (i) {
            memcpy(cfg.key, "a-wrong-key", 11);
            cfg.key_len = 11;
        }
        fab = fab_new(&cfg, &rogue_ops, &rogue);
        g_assert_nonnull(fab);
        g_assert_cmpint(fab_add_port(fab, "x"), ==, 0);
        fab_port_link(fab, 0, true, now);
        fab_set_local(fab, &lb, 1);
        rogue_round(&h, fab, &now);
        rogue_round(&h, fab, &now);
        fab_free(fab);
    }
    g_assert_cmpuint(rogue.sent, >=, 4);
    g_assert_cmpuint(fabric_stat(&h, "rx-unauthenticated"), >=, 2);
    g_assert_cmpuint(fabric_stat(&h, "rx-bad-auth"), >=, 2);

    /* Garbage with the control EtherType: malformed. */
    for (i = 0; i < G_N_ELEMENTS(junk); i++) {
        size_t len = sh_eth(fr, fab_group_mac, (const uint8_t[]){ 2, 0, 0,
                            0, 0, 0x66 }, FAB_ETHERTYPE);

        memcpy(fr + len, junk[i], strlen(junk[i]));
        rogue_send(&rogue, 0, fr, MAX(60, len + strlen(junk[i])));
    }
    sh_settle(&h);
    g_assert_cmpuint(fabric_stat(&h, "rx-malformed"), >=, 2);
    g_assert_cmpuint(fh_remote_in_rotation(&h), ==, 0);

    /* Control frames from a blade are refused too. */
    sh_blade_up(&h, 0, false);
    sh_eth(fr, fab_group_mac, h.blades[0].mac, FAB_ETHERTYPE);
    memset(fr + 14, 0, 46);
    sh_blade_send(&h, 0, fr, 60);
    sh_settle(&h);
    g_assert_cmpuint(sh_port_stat(&h, 0, "errors"), ==, 1);
    g_assert_cmpuint(fh_remote_in_rotation(&h), ==, 0);
    close(rogue.fd);
    sh_stop(&h);
}

/*
 * A chain port whose stream netdev is a server that never listens (its
 * socket's directory does not exist: the listen fails in QEMU's worker
 * thread, as a slow one would still be running): the switch's
 * advertisements must find the link down.  QEMU used to hand them to the
 * stream, which wrote them to its NULL channel and crashed
 * (object_get_class(NULL)); a loaded host hit the same window at every
 * chassis start, before the listen completed.
 */
static void test_unlistened_chain(void)
{
    g_autofree char *dir = g_dir_make_tmp("blade-fabric-XXXXXX", NULL);
    QTestState *qts;
    QDict *r;
    int i;

    qts = qtest_initf("-M blade-chassis -netdev stream,id=c0,server=on,"
                      "addr.type=unix,addr.path=%s/missing/link0.sock "
                      "-device '{\"driver\": \"blade-switch\", \"id\": "
                      "\"switch\", \"slots\": 0, \"chain\": [\"c0\"], "
                      "\"chassis\": \"c1\", \"chassis-id\": 1, "
                      "\"fabric-interval\": 100}'", dir);
    for (i = 0; i < 10; i++) {
        qtest_clock_step(qts, 100 * 1000 * 1000);
    }
    r = qtest_qmp(qts, "{'execute': 'query-status'}");
    g_assert_true(qdict_haskey(r, "return"));
    qobject_unref(r);
    qtest_quit(qts);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/blade-fabric/chain", test_chain);
    qtest_add_func("/blade-fabric/remote-view", test_remote_view);
    qtest_add_func("/blade-fabric/central", test_central);
    qtest_add_func("/blade-fabric/middle-restart", test_middle_restart);
    qtest_add_func("/blade-fabric/ring", test_ring);
    qtest_add_func("/blade-fabric/rogue", test_rogue);
    qtest_add_func("/blade-fabric/unlistened-chain", test_unlistened_chain);
    return g_test_run();
}
