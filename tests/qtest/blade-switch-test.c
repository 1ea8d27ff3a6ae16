/*
 * qtest for blade-switch: the test acts as the blades (lane clients on
 * the slot sockets) and as the uplink's network (a socket netdev peer),
 * and checks what docs/switch-blade.md promises: port link, learning,
 * aging and flooding, counters, ARP for the VIPs, flows placed by the
 * blades' reported utilization and kept on their blade, staleness and
 * link-down failover, the policies, steering, bad input counted and not
 * fatal, reconnection, bounded queues and capture.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include <arpa/inet.h>
#include "qemu/bswap.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "hw/blade/net/fabric.h"
#include "hw/blade/net/lane-ring.h"
#include "libqos/blade-switch-harness.h"
#include "qapi/error.h"
#include "qobject/qjson.h"
#include "qobject/qnull.h"

#define VIP "10.0.2.100"

static void add_service(SwHarness *h, const char *name, const char *policy,
                        const char *blades)
{
    QDict *r = qtest_qmp(h->qts, "{ 'execute': 'blade-switch-add-service', "
                         "'arguments': { 'name': %s, 'vip': %s, "
                         "'protocol': 'tcp', 'port': 80, 'policy': %s, "
                         "'blades': %p } }", name, VIP, policy,
                         qobject_from_json(blades, &error_abort));

    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
}

static void set_policy(SwHarness *h, const char *name, const char *policy)
{
    QDict *r = qtest_qmp(h->qts, "{ 'execute': 'blade-switch-set-policy', "
                         "'arguments': { 'name': %s, 'policy': %s } }", name,
                         policy);

    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
}

/* Bring blades 0..n-1 up, each known by its MAC and reporting @cpu[i]. */
static void blades_ready(SwHarness *h, unsigned n, const unsigned *cpu)
{
    uint8_t f[64];
    unsigned i;

    for (i = 0; i < n; i++) {
        if (!h->blades[i].lane) {
            sh_blade_plug(h, i, i % 2);
        }
        sh_wait(h, sh_cond_port_up, GUINT_TO_POINTER(i), "slot link up");
        /* A gratuitous broadcast teaches the switch the blade's MAC. */
        memset(f, 0, sizeof(f));
        sh_eth(f, sh_bcast, h->blades[i].mac, 0x88b6);
        sh_blade_send(h, i, f, sizeof(f));
        sh_report(h, i, cpu ? cpu[i] : 10, 0);
        g_assert_true(sh_blade_in_rotation(h, i));
    }
    sh_settle(h);
    for (i = 0; i < n; i++) {
        sh_free_frames(&h->blades[i].rx);
    }
    sh_free_frames(&h->up_rx);
}

/* Which blade received the frames since the last call: counts in @got. */
static void collect(SwHarness *h, unsigned n, unsigned *got, uint16_t *sport)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        ShFrame *f;

        while ((f = sh_pop(&h->blades[i].rx))) {
            /* Direct server return: only the destination MAC changed. */
            g_assert_cmpmem(f->data, 6, h->blades[i].mac, 6);
            g_assert_cmpmem(f->data + 6, 6, sh_client_mac, 6);
            g_assert_cmphex(lduw_be_p(f->data + 12), ==, 0x0800);
            if (sport) {
                *sport = lduw_be_p(f->data + 34);
            }
            got[i]++;
            g_free(f);
        }
    }
}

static unsigned total_rx(SwHarness *h, unsigned n)
{
    unsigned i, t = 0;

    for (i = 0; i < n; i++) {
        t += g_queue_get_length(&h->blades[i].rx);
    }
    return t;
}

static bool cond_total(SwHarness *h, void *arg)
{
    ShCount *c = arg;

    return total_rx(h, c->n >> 16) >= (c->n & 0xffff);
}

/* Open @count new flows (SYNs from ports @first...); tally the blades. */
static void new_flows(SwHarness *h, unsigned n, uint16_t first,
                      unsigned count, unsigned *got)
{
    uint8_t f[128];
    ShCount c = { NULL, n << 16 | count };
    unsigned i;

    for (i = 0; i < count; i++) {
        sh_uplink_send(h, f, sh_tcp_to_vip(f, first + i, SH_TCP_SYN));
    }
    if (g_test_verbose()) {
        g_test_message("new flows from port %u", first);
    }
    sh_wait(h, cond_total, &c, "flows at the blades");
    collect(h, n, got, NULL);
}

/* The blade that gets the next segment of flow @sport. */
static int flow_blade(SwHarness *h, unsigned n, uint16_t sport,
                      uint8_t flags)
{
    uint8_t f[128];
    unsigned got[SH_MAX_SLOTS] = { 0 };
    ShCount c = { NULL, n << 16 | 1 };
    unsigned i;

    sh_uplink_send(h, f, sh_tcp_to_vip(f, sport, flags));
    sh_wait(h, cond_total, &c, "a segment at a blade");
    collect(h, n, got, NULL);
    for (i = 0; i < n; i++) {
        if (got[i]) {
            return i;
        }
    }
    return -1;
}

/* ---- ports and links ----------------------------------------------------- */

static void test_ports(void)
{
    SwHarness h;
    QDict *st, *sw;
    struct stat sb;
    unsigned i;

    sh_start(&h, 3, true, NULL);
    st = sh_state(&h);
    sw = qdict_get_qdict(st, "switch");
    g_assert_cmpstr(qdict_get_str(sw, "mac"), ==, "52:54:00:aa:00:01");
    g_assert_cmpstr(qdict_get_str(sw, "backplane"), ==, h.dir);
    g_assert_cmpuint(qlist_size(qdict_get_qlist(st, "ports")), ==, 4);
    for (i = 0; i < 3; i++) {
        QDict *p = sh_item(st, "ports", i);
        g_autofree char *name = g_strdup_printf("slot%u", i);
        g_autofree char *sock = g_strdup_printf("%s/slot%u.sock", h.dir, i);

        g_assert_cmpstr(qdict_get_str(p, "name"), ==, name);
        g_assert_cmpstr(qdict_get_str(p, "kind"), ==, "slot");
        g_assert_false(qdict_get_bool(p, "link"));
        g_assert_false(qdict_get_bool(sh_item(st, "blades", i),
                                      "in-rotation"));
        g_assert_cmpstr(qdict_get_str(sh_item(st, "blades", i), "reason"),
                        ==, "link down");
        g_assert_cmpint(stat(sock, &sb), ==, 0);
        g_assert_true(S_ISSOCK(sb.st_mode));
    }
    g_assert_cmpstr(qdict_get_str(sh_item(st, "ports", 3), "name"), ==,
                    "uplink");
    g_assert_true(qdict_get_bool(sh_item(st, "ports", 3), "link"));
    qobject_unref(st);
    g_assert_cmpint(stat(h.dir, &sb), ==, 0);
    g_assert_cmpuint(sb.st_mode & 0777, ==, 0700);
    sh_stop(&h);
}

/* Wrong properties and a backplane others may enter are refused. */
static void test_bad_properties(void)
{
    static const char *const bad[] = {
        "slots=65", "pcs=10b8b", "slot-speed=500000", "util-stale=0",
        "mac-table-size=1", "queue-frames=0", "backplane=",
        "mac-table-size=64,mac-limit=65", "util-estimator=guess",
        "timing=fast", "tx-fifo=1048577",
    };
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *open_dir = g_dir_make_tmp("blade-switch-XXXXXX", NULL);
    g_autofree char *open_arg = g_strdup_printf("backplane=%s", open_dir);
    unsigned i;

    g_assert_cmpint(chmod(open_dir, 0755), ==, 0);
    for (i = 0; i <= G_N_ELEMENTS(bad); i++) {
        const char *prop = i < G_N_ELEMENTS(bad) ? bad[i] : open_arg;
        g_autofree char *dev = g_strdup_printf("blade-switch,%s", prop);
        g_autofree char *err = NULL;
        const char *argv[] = { qemu, "-M", "blade-chassis", "-display",
                               "none", "-nodefaults", "-device", dev, NULL };
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                                   G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                   NULL, &err, &status, NULL));
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
        g_assert_nonnull(strstr(err, "blade-switch"));
    }
    rmdir(open_dir);
}

static void test_link_events(void)
{
    SwHarness h;
    QDict *ev, *data;

    sh_start(&h, 2, false, NULL);
    sh_blade_up(&h, 1, false);
    /* The first change is sent at once. */
    ev = sh_event_sent(&h, "BLADE_SWITCH_PORT_LINK");
    g_assert_nonnull(ev);
    data = sh_event_data(ev);
    g_assert_cmpstr(qdict_get_str(data, "port"), ==, "slot1");
    g_assert_true(qdict_get_bool(data, "connected"));
    /*
     * Up only with sync and negotiation: if that came later, the latest
     * state follows when the period ends.
     */
    if (!qdict_get_bool(data, "up")) {
        qobject_unref(ev);
        qtest_clock_step(h.qts, SH_EVENT_PERIOD_NS);
        ev = sh_event_sent(&h, "BLADE_SWITCH_PORT_LINK");
        g_assert_nonnull(ev);
        data = sh_event_data(ev);
        g_assert_cmpstr(qdict_get_str(data, "port"), ==, "slot1");
        g_assert_true(qdict_get_bool(data, "up"));
        g_assert_true(qdict_get_bool(data, "connected"));
        g_assert_true(qdict_get_bool(data, "sync"));
    }
    qobject_unref(ev);

    sh_blade_unplug(&h.blades[1]);
    sh_wait(&h, sh_cond_port_down, GUINT_TO_POINTER(1), "slot down");
    qtest_clock_step(h.qts, SH_EVENT_PERIOD_NS);
    ev = sh_event_sent(&h, "BLADE_SWITCH_PORT_LINK");
    g_assert_nonnull(ev);
    g_assert_false(qdict_get_bool(sh_event_data(ev), "up"));
    g_assert_false(qdict_get_bool(sh_event_data(ev), "connected"));
    qobject_unref(ev);
    g_assert_null(sh_event_sent(&h, "BLADE_SWITCH_PORT_LINK"));
    g_assert_cmpuint(sh_port_stat(&h, 1, "link-changes"), ==, 2);
    sh_stop(&h);
}

static bool record_event(QTestState *qts, const char *name, QDict *ev,
                         void *opaque)
{
    g_queue_push_tail(opaque, qobject_ref(ev));
    return true;
}

static void free_event(gpointer ev)
{
    qobject_unref((QDict *)ev);
}

/* Events in @q named @name about @port (a string) or @slot (a number). */
static unsigned count_events(GQueue *q, const char *name, const char *port,
                             int64_t slot, QDict **last)
{
    unsigned n = 0;
    GList *l;

    for (l = q->head; l; l = l->next) {
        QDict *data = sh_event_data(l->data);

        if (strcmp(qdict_get_str(l->data, "event"), name) ||
            (port && strcmp(qdict_get_str(data, "port"), port)) ||
            (!port && qdict_get_int(data, "slot") != slot)) {
            continue;
        }
        n++;
        *last = data;
    }
    return n;
}

static uint64_t chassis_ms(SwHarness *h)
{
    QDict *st = sh_state(h);
    uint64_t ms = sh_u64(qdict_get_qdict(st, "switch"), "now-ms");

    qobject_unref(st);
    return ms;
}

/*
 * A blade that connects, enters the rotation and goes away, over and over,
 * costs a QMP client at most one port-link and one rotation event per
 * period (a second), and the last state still arrives.  Unthrottled, each
 * cycle sent three or more port-link events and two rotation events.
 */
static void test_event_coalescing(void)
{
    GQueue events = G_QUEUE_INIT;
    uint64_t start, elapsed_ms;
    unsigned i, bound, n;
    uint8_t f[64] = { 0 };
    QDict *last = NULL;
    SwHarness h;

    sh_start(&h, 2, false, NULL);
    qtest_qmp_set_event_callback(h.qts, record_event, &events);
    start = chassis_ms(&h);
    for (i = 0; i < 20; i++) {
        sh_blade_up(&h, 0, i % 2);
        sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6);
        sh_blade_send(&h, 0, f, sizeof(f));
        sh_report(&h, 0, 10, 0);
        g_assert_true(sh_blade_in_rotation(&h, 0));
        sh_blade_unplug(&h.blades[0]);
        sh_wait(&h, sh_cond_port_down, GUINT_TO_POINTER(0), "slot down");
        g_assert_false(sh_blade_in_rotation(&h, 0));
    }
    elapsed_ms = chassis_ms(&h) - start;
    g_assert_cmpuint(sh_port_stat(&h, 0, "link-changes"), ==, 40);

    /* One at once, then at most one per period. */
    bound = 1 + elapsed_ms / (SH_EVENT_PERIOD_NS / 1000000);
    n = count_events(&events, "BLADE_SWITCH_PORT_LINK", "slot0", 0, &last);
    g_test_message("%u cycles in %" PRIu64 " ms: %u port-link events", i,
                   elapsed_ms, n);
    g_assert_cmpuint(n, >=, 1);
    g_assert_cmpuint(n, <=, bound);
    n = count_events(&events, "BLADE_SWITCH_BLADE", NULL, 0, &last);
    g_test_message("%u rotation events", n);
    g_assert_cmpuint(n, >=, 1);
    g_assert_cmpuint(n, <=, bound);

    /* A period later, the last state has arrived. */
    qtest_clock_step(h.qts, SH_EVENT_PERIOD_NS);
    qobject_unref(qtest_qmp(h.qts, "{ 'execute': 'query-status' }"));
    count_events(&events, "BLADE_SWITCH_PORT_LINK", "slot0", 0, &last);
    g_assert_false(qdict_get_bool(last, "up"));
    g_assert_false(qdict_get_bool(last, "connected"));
    count_events(&events, "BLADE_SWITCH_BLADE", NULL, 0, &last);
    g_assert_false(qdict_get_bool(last, "in-rotation"));
    g_assert_cmpstr(qdict_get_str(last, "reason"), ==, "link down");
    /* Nothing about the quiet slot. */
    g_assert_cmpuint(count_events(&events, "BLADE_SWITCH_PORT_LINK", "slot1",
                                  0, &last), ==, 0);
    g_assert_cmpuint(count_events(&events, "BLADE_SWITCH_BLADE", NULL, 1,
                                  &last), ==, 0);
    g_queue_clear_full(&events, free_event);
    sh_stop(&h);
}

/* A blade that goes away and comes back gets its port back. */
static void test_reconnect(void)
{
    SwHarness h;
    uint8_t f[64] = { 0 };
    int round;

    sh_start(&h, 2, false, NULL);
    sh_blade_up(&h, 1, false);
    for (round = 0; round < 3; round++) {
        sh_blade_up(&h, 0, round % 2);
        sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6);
        sh_blade_send(&h, 0, f, sizeof(f));
        sh_wait_frames(&h, &h.blades[1].rx, round + 1);
        sh_blade_unplug(&h.blades[0]);
        sh_wait(&h, sh_cond_port_down, GUINT_TO_POINTER(0), "slot down");
    }
    g_assert_cmpuint(sh_port_stat(&h, 0, "link-changes"), ==, 6);
    sh_stop(&h);
}

/* ---- slots over explicit chardevs ---------------------------------------- */

/*
 * chardev0..chardevN-1 instead of backplane=DIR (in -device's key=value
 * form, or as JSON): blades on the chardevs' sockets come up, frames go
 * slot to slot and slot to uplink, and a blade that goes away and comes
 * back brings its link back up.
 */
static void test_slot_chardevs(gconstpointer data)
{
    bool json = GPOINTER_TO_UINT(data);
    ShOpts o = { .slots = 2, .uplink = true, .chardevs = true,
                 .json = json ? "" : NULL };
    SwHarness h;
    uint8_t f[100] = { 0 };
    QDict *st;
    size_t len;
    int round;

    sh_start_opts(&h, &o);
    st = sh_state(&h);
    g_assert_false(qdict_haskey(qdict_get_qdict(st, "switch"), "backplane"));
    qobject_unref(st);
    sh_blade_up(&h, 0, false);
    sh_blade_up(&h, 1, true);
    len = sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6) + 50;
    sh_blade_send(&h, 0, f, len);
    sh_wait_frames(&h, &h.blades[1].rx, 1);
    sh_wait_frames(&h, &h.up_rx, 1);

    for (round = 0; round < 2; round++) {
        sh_blade_unplug(&h.blades[1]);
        sh_wait(&h, sh_cond_port_down, GUINT_TO_POINTER(1), "slot 1 down");
        sh_blade_up(&h, 1, round % 2);
        sh_eth(f, h.blades[0].mac, h.blades[1].mac, 0x88b6);
        sh_blade_send(&h, 1, f, len);
        sh_wait_frames(&h, &h.blades[0].rx, round + 1);
    }
    g_assert_cmpuint(sh_port_stat(&h, 1, "link-changes"), ==, 5);
    sh_stop(&h);
}

/* A slot chardev with the shorthand, a missing one, one past the slots. */
static void test_slot_chardev_errors(void)
{
    static const struct {
        const char *props, *msg;
    } bad[] = {
        { "slots=2,backplane=/tmp,chardev0=c0,chardev1=c1",
          "give either backplane=DIR or chardev0..chardev1, not both" },
        { "slots=2,chardev0=c0", "slot 1 has no chardev1" },
        { "slots=1,chardev0=c0,chardev1=c1",
          "chardev1 is for slot 1, but there are only 1 slots" },
    };
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *dev = g_strdup_printf("blade-switch,%s",
                                               bad[i].props);
        g_autofree char *err = NULL;
        const char *argv[] = { qemu, "-M", "blade-chassis", "-display",
                               "none", "-nodefaults", "-chardev",
                               "null,id=c0", "-chardev", "null,id=c1",
                               "-device", dev, NULL };
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                                   G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                   NULL, &err, &status, NULL));
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
        if (!strstr(err, bad[i].msg)) {
            g_error("'%s': expected '%s' in: %s", bad[i].props, bad[i].msg,
                    err);
        }
    }
}

/* ---- L2 switching -------------------------------------------------------- */

static void test_learning_flooding(void)
{
    SwHarness h;
    uint8_t f[100];
    ShFrame *fr;
    size_t len;

    sh_start(&h, 3, true, NULL);
    sh_blade_up(&h, 0, false);
    sh_blade_up(&h, 1, true);
    sh_blade_up(&h, 2, false);

    /* Broadcast from slot 0: everyone else, not slot 0. */
    memset(f, 0, sizeof(f));
    len = sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6) + 50;
    sh_blade_send(&h, 0, f, len);
    sh_wait_frames(&h, &h.blades[1].rx, 1);
    sh_wait_frames(&h, &h.blades[2].rx, 1);
    sh_wait_frames(&h, &h.up_rx, 1);
    fr = sh_pop(&h.up_rx);
    g_assert_cmpuint(fr->len, ==, 64);
    g_assert_cmpmem(fr->data, len, f, len);
    g_free(fr);

    /* Slot 1 to slot 0's MAC: learned, so slot 0 only. */
    sh_free_frames(&h.blades[2].rx);
    len = sh_eth(f, h.blades[0].mac, h.blades[1].mac, 0x88b6) + 50;
    sh_blade_send(&h, 1, f, len);
    sh_wait_frames(&h, &h.blades[0].rx, 1);
    sh_settle(&h);
    g_assert_cmpuint(g_queue_get_length(&h.blades[2].rx), ==, 0);
    g_assert_cmpuint(g_queue_get_length(&h.up_rx), ==, 0);

    /* Unknown unicast from the uplink: flooded to the slots. */
    len = sh_eth(f, (const uint8_t[]){ 2, 0, 0, 0, 0, 9 }, sh_client_mac,
                 0x88b6) + 50;
    sh_uplink_send(&h, f, len);
    sh_wait_frames(&h, &h.blades[0].rx, 2);
    sh_wait_frames(&h, &h.blades[1].rx, 2);
    sh_wait_frames(&h, &h.blades[2].rx, 1);

    /* Now the client's MAC is known: slot 2 to it goes to the uplink. */
    len = sh_eth(f, sh_client_mac, h.blades[2].mac, 0x88b6) + 50;
    sh_blade_send(&h, 2, f, len);
    sh_wait_frames(&h, &h.up_rx, 1);

    g_assert_cmpuint(sh_port_stat(&h, 0, "rx-frames"), ==, 1);
    g_assert_cmpuint(sh_port_stat(&h, 1, "rx-frames"), ==, 1);
    g_assert_cmpuint(sh_port_stat(&h, 3, "rx-frames"), ==, 1);
    g_assert_cmpuint(sh_port_stat(&h, 0, "tx-frames"), ==, 2);
    g_assert_cmpuint(sh_port_stat(&h, 3, "tx-frames"), ==, 2);
    g_assert_cmpuint(sh_port_stat(&h, 0, "rx-bytes"), ==, 64);
    sh_stop(&h);
}

static bool cond_mac_aged(SwHarness *h, void *arg)
{
    QDict *st = sh_state(h);
    uint64_t aged = sh_u64(qdict_get_qdict(st, "mac-table"), "aged");

    qobject_unref(st);
    return aged >= 1;
}

static void test_aging(void)
{
    SwHarness h;
    uint8_t f[64] = { 0 };

    sh_start(&h, 2, true, "mac-aging=2");
    sh_blade_up(&h, 0, false);
    sh_blade_up(&h, 1, false);
    sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6);
    sh_blade_send(&h, 0, f, sizeof(f));
    sh_wait_frames(&h, &h.up_rx, 1);
    sh_free_frames(&h.up_rx);

    /* Learned: to slot 0 only. */
    sh_eth(f, h.blades[0].mac, h.blades[1].mac, 0x88b6);
    sh_blade_send(&h, 1, f, sizeof(f));
    sh_wait_frames(&h, &h.blades[0].rx, 1);
    sh_settle(&h);
    g_assert_cmpuint(g_queue_get_length(&h.up_rx), ==, 0);

    /* Two seconds without a frame from slot 0: forgotten, so flooded. */
    qtest_clock_step(h.qts, 2100 * 1000 * 1000ll);
    sh_wait(&h, cond_mac_aged, NULL, "MAC aging");
    sh_eth(f, h.blades[0].mac, h.blades[1].mac, 0x88b6);
    sh_blade_send(&h, 1, f, sizeof(f));
    sh_wait_frames(&h, &h.up_rx, 1);
    sh_wait_frames(&h, &h.blades[0].rx, 2);
    sh_stop(&h);
}

/*
 * A slot learns at most mac-limit source addresses: frames from more are
 * still switched, counted in the port's state, and replies to them are
 * flooded.
 */
static void test_mac_limit(void)
{
    SwHarness h;
    uint8_t f[64] = { 0 };
    QDict *st;
    unsigned i;

    sh_start(&h, 2, true, "mac-limit=2");
    sh_blade_up(&h, 0, false);
    sh_blade_up(&h, 1, false);
    sh_eth(f, sh_bcast, h.blades[1].mac, 0x88b6);
    sh_blade_send(&h, 1, f, sizeof(f));
    sh_wait_frames(&h, &h.up_rx, 1);
    sh_free_frames(&h.up_rx);

    /* Slot 0 sends to slot 1 from three addresses: all arrive. */
    for (i = 0; i < 3; i++) {
        sh_eth(f, h.blades[1].mac, (const uint8_t[]){ 2, 0, 0, 0, 0xa, i },
               0x88b6);
        sh_blade_send(&h, 0, f, sizeof(f));
    }
    sh_wait_frames(&h, &h.blades[1].rx, 3);
    st = sh_state(&h);
    g_assert_cmpuint(sh_u64(sh_item(st, "ports", 0), "macs"), ==, 2);
    g_assert_cmpuint(sh_u64(sh_item(st, "ports", 0), "mac-limit"), ==, 2);
    g_assert_cmpuint(sh_u64(sh_item(st, "ports", 0), "mac-over-limit"), ==,
                     1);
    g_assert_cmpuint(sh_u64(sh_item(st, "ports", 1), "mac-over-limit"), ==,
                     0);
    g_assert_cmpuint(sh_u64(sh_item(st, "ports", 2), "mac-limit"), ==, 0);
    qobject_unref(st);

    /* The third was not learned: the uplink's reply to it is flooded. */
    sh_eth(f, (const uint8_t[]){ 2, 0, 0, 0, 0xa, 2 }, sh_client_mac,
           0x88b6);
    sh_uplink_send(&h, f, sizeof(f));
    sh_wait_frames(&h, &h.blades[0].rx, 1);
    sh_wait_frames(&h, &h.blades[1].rx, 4);
    sh_stop(&h);
}

/* ---- the blade server manager -------------------------------------------- */

static void test_vip_arp(void)
{
    SwHarness h;
    uint8_t f[64];
    ShFrame *r;
    size_t len;

    sh_start(&h, 2, true, NULL);
    sh_blade_up(&h, 0, false);
    add_service(&h, "web", "util", "[0, 1]");

    len = sh_arp_request(f, sh_client_mac, "10.0.2.2", VIP);
    sh_uplink_send(&h, f, len);
    sh_wait_frames(&h, &h.up_rx, 1);
    r = sh_pop(&h.up_rx);
    g_assert_cmpmem(r->data, 6, sh_client_mac, 6);
    g_assert_cmpmem(r->data + 6, 6, sh_switch_mac, 6);
    g_assert_cmphex(lduw_be_p(r->data + 12), ==, 0x0806);
    g_assert_cmphex(lduw_be_p(r->data + 20), ==, 2);        /* reply */
    g_assert_cmpmem(r->data + 22, 6, sh_switch_mac, 6);     /* sha */
    g_assert_cmpmem(r->data + 28, 4, f + 38, 4);            /* spa: VIP */
    g_assert_cmpmem(r->data + 32, 6, sh_client_mac, 6);     /* tha */
    g_assert_cmpmem(r->data + 38, 4, f + 28, 4);            /* tpa */
    g_free(r);
    /* Answered, not flooded. */
    sh_settle(&h);
    g_assert_cmpuint(g_queue_get_length(&h.blades[0].rx), ==, 0);

    /* ARP for another address is the blades' business: flooded. */
    len = sh_arp_request(f, sh_client_mac, "10.0.2.2", "10.0.2.11");
    sh_uplink_send(&h, f, len);
    sh_wait_frames(&h, &h.blades[0].rx, 1);
    g_assert_cmpuint(g_queue_get_length(&h.up_rx), ==, 0);
    sh_stop(&h);
}

/* New flows follow the reported load: a busy blade gets few. */
static void test_flows_follow_util(void)
{
    static const unsigned cpu[3] = { 95, 10, 10 };
    unsigned got[3] = { 0 };
    SwHarness h;
    QDict *st, *svc;

    sh_start(&h, 3, true, NULL);
    blades_ready(&h, 3, cpu);
    add_service(&h, "web", "util", "[0, 1, 2]");
    new_flows(&h, 3, 1000, 30, got);
    g_assert_cmpuint(got[0] + got[1] + got[2], ==, 30);
    g_assert_cmpuint(got[0], <=, 3);
    g_assert_cmpuint(got[1], >=, 9);
    g_assert_cmpuint(got[2], >=, 9);

    /* The switch's own account agrees with what the blades saw. */
    st = sh_state(&h);
    svc = sh_item(st, "services", 0);
    g_assert_cmpuint(sh_u64(svc, "new-flows"), ==, 30);
    g_assert_cmpuint(sh_u64(sh_item(svc, "share", 1), "new-flows"), ==,
                     got[1]);
    g_assert_cmpuint(sh_u64(sh_item(st, "blades", 2), "active-flows"), ==,
                     got[2]);
    g_assert_cmpuint(sh_u64(qdict_get_qdict(st, "flows"), "count"), ==, 30);
    qobject_unref(st);

    /* The load moves: blade 0 idle, the others busy. */
    sh_report(&h, 0, 5, 0);
    sh_report(&h, 1, 95, 0);
    sh_report(&h, 2, 95, 0);
    memset(got, 0, sizeof(got));
    new_flows(&h, 3, 2000, 10, got);
    g_assert_cmpuint(got[0], >=, 8);
    sh_stop(&h);
}

static bool cond_answered(SwHarness *h, void *arg)
{
    return sh_blade_stat(h, 0, "requests-answered") >= 1;
}

/*
 * A request (client payload) is in flight on its blade until the blade's
 * answer (payload from the VIP, direct server return) passes the switch;
 * the state tree shows both counts and the latency learned, and util's
 * score as an expected wait in ms.
 */
static void test_requests_in_flight(void)
{
    uint8_t f[256];
    SwHarness h;
    QDict *st;

    sh_start(&h, 1, true, NULL);
    blades_ready(&h, 1, NULL);
    add_service(&h, "web", "util", "[0]");
    sh_uplink_send(&h, f, sh_ip_l4(f, sh_switch_mac, sh_client_mac, 6,
                                   "10.0.2.2", 9000, VIP, 80, SH_TCP_ACK,
                                   100));
    sh_wait_frames(&h, &h.blades[0].rx, 1);
    g_assert_cmpuint(sh_blade_stat(&h, 0, "requests-in-flight"), ==, 1);
    g_assert_cmpuint(sh_blade_stat(&h, 0, "requests-answered"), ==, 0);
    g_assert_cmpuint(sh_blade_stat(&h, 0, "request-latency-us"), ==, 0);

    /* a pure ACK from the blade is no answer */
    sh_blade_send(&h, 0, f, sh_ip_l4(f, sh_client_mac, h.blades[0].mac, 6,
                                     VIP, 80, "10.0.2.2", 9000, SH_TCP_ACK,
                                     0));
    sh_settle(&h);
    g_assert_cmpuint(sh_blade_stat(&h, 0, "requests-in-flight"), ==, 1);
    sh_blade_send(&h, 0, f, sh_ip_l4(f, sh_client_mac, h.blades[0].mac, 6,
                                     VIP, 80, "10.0.2.2", 9000, SH_TCP_ACK,
                                     60));
    sh_wait(&h, cond_answered, NULL, "the answer");
    g_assert_cmpuint(sh_blade_stat(&h, 0, "requests-in-flight"), ==, 0);
    g_assert_cmpuint(sh_blade_stat(&h, 0, "request-latency-us"), >, 0);
    st = sh_state(&h);
    g_assert_cmpstr(qdict_get_str(st, "score-unit"), ==, "ms");
    qobject_unref(st);
    sh_stop(&h);
}

/* A flow stays on its blade whatever the blade reports later. */
static void test_flow_affinity(void)
{
    SwHarness h;
    int first, i;

    sh_start(&h, 3, true, NULL);
    blades_ready(&h, 3, NULL);
    add_service(&h, "web", "util", "[0, 1, 2]");
    first = flow_blade(&h, 3, 4000, SH_TCP_SYN);
    g_assert_cmpint(first, >=, 0);
    sh_report(&h, first, 100, 100);
    for (i = 0; i < 10; i++) {
        g_assert_cmpint(flow_blade(&h, 3, 4000, SH_TCP_ACK), ==, first);
    }
    /* A bare SYN after a FIN is a new connection: placed afresh. */
    g_assert_cmpint(flow_blade(&h, 3, 4000, SH_TCP_FIN | SH_TCP_ACK), ==,
                    first);
    g_assert_cmpuint(sh_blade_stat(&h, first, "active-flows"), ==, 0);
    g_assert_cmpint(flow_blade(&h, 3, 4000, SH_TCP_SYN), !=, first);
    sh_stop(&h);
}

static bool cond_out_of_rotation(SwHarness *h, void *arg)
{
    return !sh_blade_in_rotation(h, GPOINTER_TO_UINT(arg));
}

/*
 * A blade whose reports stop leaves the rotation: no new flows, but its
 * flows stay (a stalled host, not a dead blade; moving an established
 * TCP connection resets it).  Flows leave a blade whose link goes down
 * (test_link_down_failover).
 */
static void test_staleness(void)
{
    SwHarness h;
    QDict *ev, *data = NULL;
    uint16_t sport;
    int b, i;

    sh_start(&h, 2, true, "util-stale=500");
    blades_ready(&h, 2, NULL);
    add_service(&h, "web", "rr", "[0, 1]");
    /* Find a flow on blade 0. */
    for (sport = 5000; (b = flow_blade(&h, 2, sport, SH_TCP_SYN)) != 0;
         sport++) {
        g_assert_cmpint(b, ==, 1);
    }
    /* Blade 1 keeps reporting, blade 0 says nothing for 0.5 s. */
    qtest_clock_step(h.qts, 300 * 1000 * 1000ll);
    sh_report(&h, 1, 20, 0);
    qtest_clock_step(h.qts, 250 * 1000 * 1000ll);
    sh_wait(&h, cond_out_of_rotation, GUINT_TO_POINTER(0), "staleness");
    g_assert_true(sh_blade_in_rotation(&h, 1));
    /*
     * Blade 0 entered the rotation less than a period ago: the event
     * saying it left is sent when that period ends.  Blade 1 keeps
     * reporting meanwhile.
     */
    for (i = 0; i < 5; i++) {
        qtest_clock_step(h.qts, SH_EVENT_PERIOD_NS / 5);
        sh_report(&h, 1, 20, 0);
    }
    while ((ev = sh_event_sent(&h, "BLADE_SWITCH_BLADE"))) {
        data = sh_event_data(ev);
        if (!qdict_get_bool(data, "in-rotation")) {
            break;
        }
        qobject_unref(ev);
    }
    g_assert_nonnull(ev);
    g_assert_cmpuint(qdict_get_int(data, "slot"), ==, 0);
    g_assert_cmpstr(qdict_get_str(data, "reason"), ==,
                    "utilization reports stale");
    qobject_unref(ev);

    /* Its flow stays; new flows go to blade 1. */
    g_assert_cmpint(flow_blade(&h, 2, sport, SH_TCP_ACK), ==, 0);
    g_assert_cmpuint(sh_blade_stat(&h, 0, "moved-flows"), ==, 0);
    g_assert_cmpint(flow_blade(&h, 2, 6000, SH_TCP_SYN), ==, 1);
    g_assert_cmpint(flow_blade(&h, 2, 6001, SH_TCP_SYN), ==, 1);

    /* A fresh report brings it back. */
    sh_report(&h, 0, 20, 0);
    g_assert_true(sh_blade_in_rotation(&h, 0));
    sh_stop(&h);
}

/* A blade whose link goes down: flows move; with none left, counted. */
static void test_link_down_failover(void)
{
    SwHarness h;
    uint8_t f[128];
    int b;

    sh_start(&h, 2, true, NULL);
    blades_ready(&h, 2, NULL);
    add_service(&h, "web", "rr", "[0, 1]");
    b = flow_blade(&h, 2, 7000, SH_TCP_SYN);
    g_assert_cmpint(b, >=, 0);
    sh_blade_unplug(&h.blades[b]);
    sh_wait(&h, sh_cond_port_down, GUINT_TO_POINTER(b), "slot down");
    g_assert_false(sh_blade_in_rotation(&h, b));
    g_assert_cmpint(flow_blade(&h, 2, 7000, SH_TCP_ACK), ==, !b);
    g_assert_cmpuint(sh_blade_stat(&h, b, "moved-flows"), ==, 1);

    sh_blade_unplug(&h.blades[!b]);
    sh_wait(&h, sh_cond_port_down, GUINT_TO_POINTER(!b), "slot down");
    sh_uplink_send(&h, f, sh_tcp_to_vip(f, 7001, SH_TCP_SYN));
    sh_uplink_send(&h, f, sh_tcp_to_vip(f, 7000, SH_TCP_ACK));
    sh_settle(&h);
    g_assert_cmpuint(sh_drops(&h, "no-blade"), ==, 2);
    sh_stop(&h);
}

/* Each policy's distribution over four equal blades. */
static void test_policies(void)
{
    static const unsigned cpu[4] = { 10, 10, 10, 10 };
    static const unsigned wrr_cpu[4] = { 10, 50, 50, 90 };
    SwHarness h;
    unsigned got[4], i, j;
    uint16_t port = 10000, sports[8];
    uint8_t f[128];
    ShCount c;

    sh_start(&h, 4, true, NULL);
    blades_ready(&h, 4, cpu);
    add_service(&h, "web", "rr", "[0, 1, 2, 3]");

    /* rr: exactly even. */
    memset(got, 0, sizeof(got));
    new_flows(&h, 4, port, 12, got);
    port += 12;
    for (i = 0; i < 4; i++) {
        g_assert_cmpuint(got[i], ==, 3);
    }

    /* random and p2c-conn: every blade used, none twice its share. */
    set_policy(&h, "web", "random");
    memset(got, 0, sizeof(got));
    new_flows(&h, 4, port, 40, got);
    port += 40;
    for (i = 0; i < 4; i++) {
        g_assert_cmpuint(got[i], >=, 1);
        g_assert_cmpuint(got[i], <=, 20);
    }
    set_policy(&h, "web", "p2c-conn");
    memset(got, 0, sizeof(got));
    new_flows(&h, 4, port, 40, got);
    port += 40;
    for (i = 0; i < 4; i++) {
        g_assert_cmpuint(got[i], >=, 5);
        g_assert_cmpuint(got[i], <=, 15);
    }

    /*
     * leastconn: blade 2's flows all close (RST from the client), so the
     * next new flows all go to blade 2 until it catches up.
     */
    set_policy(&h, "web", "leastconn");
    for (i = 10000; i < port; i++) {
        memset(got, 0, sizeof(got));
        sh_uplink_send(&h, f, sh_tcp_to_vip(f, i, SH_TCP_ACK));
        c = (ShCount) { NULL, 4 << 16 | 1 };
        sh_wait(&h, cond_total, &c, "segment");
        collect(&h, 4, got, NULL);
        if (got[2]) {
            sh_uplink_send(&h, f, sh_tcp_to_vip(f, i, SH_TCP_RST));
            sh_wait(&h, cond_total, &c, "segment");
            collect(&h, 4, got, NULL);
        }
    }
    g_assert_cmpuint(sh_blade_stat(&h, 2, "active-flows"), ==, 0);
    memset(got, 0, sizeof(got));
    new_flows(&h, 4, port, 5, got);
    port += 5;
    g_assert_cmpuint(got[2], ==, 5);

    /*
     * wrr-cpu, as gRPC's weighted round robin: weight = flows completed
     * per unit of the CPU time the blade reports it spent.  Two flows
     * end on every blade, and for a second the blades report 10, 50, 50
     * and 90 % CPU: after the next weight refresh blade 0 gets the most,
     * blade 3 the least.
     */
    set_policy(&h, "web", "rr");
    for (i = 0; i < 8; i++) {
        sports[i] = port + i;
        g_assert_cmpint(flow_blade(&h, 4, sports[i], SH_TCP_SYN), ==, i % 4);
    }
    port += 8;
    set_policy(&h, "web", "wrr-cpu");
    for (i = 0; i < 4; i++) {
        sh_report(&h, i, wrr_cpu[i], 0);
    }
    /* The first decision starts the count; the next refresh uses it. */
    g_assert_cmpint(flow_blade(&h, 4, port++, SH_TCP_SYN), >=, 0);
    for (i = 0; i < 8; i++) {
        g_assert_cmpint(flow_blade(&h, 4, sports[i], SH_TCP_RST), ==, i % 4);
    }
    /* A second of reports: the busy time each blade says it spent. */
    for (j = 0; j < 4; j++) {
        qtest_clock_step(h.qts, 300 * 1000 * 1000ll);
        for (i = 0; i < 4; i++) {
            sh_report(&h, i, wrr_cpu[i], 0);
        }
    }
    memset(got, 0, sizeof(got));
    new_flows(&h, 4, port, 40, got);
    g_assert_cmpuint(got[0], >, got[1]);
    g_assert_cmpuint(got[1], >, got[3]);
    g_assert_cmpuint(got[2], >, got[3]);
    sh_stop(&h);
}

/* Steering: a traffic type goes to its dedicated blades. */
static void test_steering(void)
{
    SwHarness h;
    uint8_t f[128];
    unsigned got[3] = { 0 }, i;
    QDict *r;
    ShCount c = { NULL, 3 << 16 | 10 };

    sh_start(&h, 3, true, NULL);
    blades_ready(&h, 3, NULL);
    add_service(&h, "web", "rr", "[0, 1, 2]");
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-add-steering', "
                  "'arguments': { 'name': 'dns', 'protocol': 'tcp', "
                  "'port-min': 80, 'port-max': 80, 'blades': [ 2 ] } }");
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    for (i = 0; i < 10; i++) {
        sh_uplink_send(&h, f, sh_tcp_to_vip(f, 8000 + i, SH_TCP_SYN));
    }
    sh_wait(&h, cond_total, &c, "steered flows");
    collect(&h, 3, got, NULL);
    g_assert_cmpuint(got[2], ==, 10);

    /* Deleting the rule: the service's own group again. */
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-del-rule', "
                  "'arguments': { 'name': 'dns' } }");
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    memset(got, 0, sizeof(got));
    new_flows(&h, 3, 9000, 9, got);
    g_assert_cmpuint(got[0], ==, 3);

    /* Bad requests are refused with a message, and change nothing. */
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-add-service', "
                  "'arguments': { 'name': 'x', 'vip': 'not-an-ip', "
                  "'protocol': 'udp', 'blades': [ 0 ] } }");
    g_assert(qdict_haskey(r, "error"));
    qobject_unref(r);
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-add-service', "
                  "'arguments': { 'name': 'x', 'vip': '10.0.2.101', "
                  "'protocol': 'udp', 'blades': [ 7 ] } }");
    g_assert(qdict_haskey(r, "error"));
    qobject_unref(r);
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-add-steering', "
                  "'arguments': { 'name': 'y', 'protocol': 'udp', "
                  "'port-min': 9, 'port-max': 8, 'blades': [ 0 ] } }");
    g_assert(qdict_haskey(r, "error"));
    qobject_unref(r);
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-del-rule', "
                  "'arguments': { 'name': 'nope' } }");
    g_assert(qdict_haskey(r, "error"));
    qobject_unref(r);
    r = sh_state(&h);
    g_assert_cmpuint(qlist_size(qdict_get_qlist(r, "services")), ==, 1);
    qobject_unref(r);
    sh_stop(&h);
}

/* ---- bad input ----------------------------------------------------------- */

static bool cond_port_errors(SwHarness *h, void *arg)
{
    return sh_port_stat(h, 0, "errors") >= GPOINTER_TO_UINT(arg);
}

static void test_garbage(void)
{
    SwHarness h;
    uint8_t f[128], junk[256];
    size_t len;
    int b;

    sh_start(&h, 2, true, NULL);
    blades_ready(&h, 2, NULL);
    add_service(&h, "web", "rr", "[0, 1]");

    /*
     * From the uplink: a runt, a multicast source, non-IP to the switch,
     * a truncated IP header, a fragment, a VIP port nobody serves.
     */
    sh_uplink_send(&h, f, 10);
    len = sh_eth(f, sh_bcast, (const uint8_t[]){ 1, 2, 3, 4, 5, 6 },
                 0x88b6) + 40;
    sh_uplink_send(&h, f, len);
    len = sh_eth(f, sh_switch_mac, sh_client_mac, 0x86dd) + 40;
    sh_uplink_send(&h, f, len);
    len = sh_tcp_to_vip(f, 1, SH_TCP_SYN);
    f[14] = 0x4f;       /* IHL 60 octets: longer than the datagram */
    sh_uplink_send(&h, f, len);
    len = sh_tcp_to_vip(f, 2, SH_TCP_SYN);
    f[14 + 6] = 0x20;   /* more fragments */
    sh_uplink_send(&h, f, len);
    len = sh_ip_l4(f, sh_switch_mac, sh_client_mac, 6, "10.0.2.2", 3, VIP,
                   81, SH_TCP_SYN, 0);
    sh_uplink_send(&h, f, len);
    sh_settle(&h);
    g_assert_cmpuint(sh_drops(&h, "runt"), ==, 1);
    g_assert_cmpuint(sh_drops(&h, "bad-source"), ==, 1);
    g_assert_cmpuint(sh_drops(&h, "to-switch"), ==, 1);
    g_assert_cmpuint(sh_drops(&h, "bad-ip"), ==, 1);
    g_assert_cmpuint(sh_drops(&h, "fragment"), ==, 1);
    g_assert_cmpuint(sh_drops(&h, "no-service"), ==, 1);

    /*
     * Bad bytes on a blade's lane socket: a record of an unknown tag
     * (skipped and counted), then one longer than the protocol allows
     * (the connection is dropped and counted; the blade reconnects).
     * The chassis lives on.
     */
    memset(junk, 0x5a, sizeof(junk));
    junk[0] = 0x7f;
    junk[1] = 0;
    stw_le_p(junk + 2, 4);
    junk[8] = LANE_TAG_FRAME;
    junk[9] = 0;
    stw_le_p(junk + 10, 0xffff);
    sh_blade_send_raw(&h, 0, junk, sizeof(junk));
    sh_wait(&h, cond_port_errors, GUINT_TO_POINTER(2), "lane errors");
    sh_wait(&h, sh_cond_port_up, GUINT_TO_POINTER(0), "slot 0 back");

    /* Still switching and balancing. */
    b = flow_blade(&h, 2, 42, SH_TCP_SYN);
    g_assert_cmpint(b, >=, 0);
    sh_stop(&h);
}

/* Slot 0's shared-memory ring counters in the state tree. */
static uint64_t shm_stat(SwHarness *h, const char *key)
{
    QDict *st = sh_state(h);
    QDict *shm = qdict_get_qdict(sh_item(st, "ports", 0), "shm");
    uint64_t v;

    g_assert_nonnull(shm);
    v = !strcmp(key, "active") ? qdict_get_bool(shm, key) :
        sh_u64(shm, key);
    qobject_unref(st);
    return v;
}

static bool cond_shm_errors(SwHarness *h, void *arg)
{
    return shm_stat(h, "errors") >= 1;
}

static bool cond_shm_sessions_2(SwHarness *h, void *arg)
{
    return shm_stat(h, "sessions") >= 2 && shm_stat(h, "active");
}

/* The shared region of a blade's rings, as its peer (the slot) maps it. */
static uint8_t *map_peer_shm(Lane *lane, int fds[LANE_RING_NFDS],
                             struct stat *sb)
{
    uint8_t *shm;

    lane_ring_peer_fds(lane_shm_ring(lane), fds);
    g_assert_cmpint(fstat(fds[LANE_RING_FD_MEM], sb), ==, 0);
    shm = mmap(NULL, sb->st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
               fds[LANE_RING_FD_MEM], 0);
    g_assert(shm != MAP_FAILED);
    return shm;
}

/*
 * The blade ends (the library's client role) offer shared-memory rings
 * and the slots take them: frames go through the rings.  A blade that
 * scribbles the ring's shared producer index (far past what the ring
 * holds) and kicks: the slot counts a ring error and disconnects, never
 * reading outside the ring; the blade reconnects, the rings are
 * negotiated again and forwarding goes on.
 */
static void test_shm_rings(void)
{
    SwHarness h;
    int fds[LANE_RING_NFDS];
    LaneRingHeader *hdr;
    LaneRingProd *prod;
    struct stat sb;
    uint8_t *shm;
    Lane *lane;
    int b;

    sh_start(&h, 2, true, NULL);
    blades_ready(&h, 2, NULL);
    add_service(&h, "web", "rr", "[0, 1]");
    b = flow_blade(&h, 2, 40, SH_TCP_SYN);
    g_assert_cmpint(b, >=, 0);
    lane = h.blades[0].lane;
    g_assert_true(lane_on_rings(lane));
    g_assert_true(shm_stat(&h, "active"));
    g_assert_cmpuint(shm_stat(&h, "sessions"), ==, 1);
    g_assert_cmpuint(shm_stat(&h, "errors"), ==, 0);
    g_assert_cmpuint(sh_port_stat(&h, 0, "errors"), ==, 0);

    shm = map_peer_shm(lane, fds, &sb);
    hdr = (LaneRingHeader *)shm;
    prod = (LaneRingProd *)(shm + hdr->ring[0].prod_off);
    prod->prod += 0x40000000u;
    munmap(shm, sb.st_size);
    g_assert_cmpint(lane_ring_kick(lane_shm_ring(lane)), ==, 0);

    sh_wait(&h, cond_shm_errors, NULL, "ring error counted");
    g_assert_cmpuint(shm_stat(&h, "errors"), ==, 1);
    sh_wait(&h, cond_shm_sessions_2, NULL, "rings again");
    sh_wait(&h, sh_cond_port_up, GUINT_TO_POINTER(0), "slot 0 back");
    g_assert_cmpuint(shm_stat(&h, "errors"), ==, 1);
    b = flow_blade(&h, 2, 41, SH_TCP_SYN);
    g_assert_cmpint(b, >=, 0);
    sh_stop(&h);
}

static uint64_t pcs_stat(SwHarness *h, unsigned port, const char *key)
{
    QDict *st = sh_state(h);
    uint64_t v = sh_u64(qdict_get_qdict(sh_item(st, "ports", port), "pcs"),
                        key);

    qobject_unref(st);
    return v;
}

/*
 * Lane to lane between ends that both take data runs, nothing observing
 * code groups: the switch receives each frame as a run without its code
 * groups and sends it on as one; a frame the blade sends with a code
 * group corrupted goes as code groups and is counted as before.
 */
static void test_data_runs(void)
{
    SwHarness h;
    uint8_t f[1000];
    size_t len;
    const LaneStats *ls;

    sh_start(&h, 2, false, NULL);
    sh_blade_up(&h, 0, false);
    sh_blade_up(&h, 1, false);
    memset(f, 0xa5, sizeof(f));
    len = sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6) + 900;
    for (unsigned i = 0; i < 20; i++) {
        sh_blade_send(&h, 0, f, len);
    }
    sh_wait_frames(&h, &h.blades[1].rx, 20);
    g_assert_cmpuint(pcs_stat(&h, 0, "data-runs-rx"), ==, 20);
    g_assert_cmpuint(pcs_stat(&h, 0, "data-runs-materialised"), ==, 0);
    g_assert_cmpuint(pcs_stat(&h, 1, "data-runs-tx"), ==, 20);
    ls = lane_stats(h.blades[1].lane);
    g_assert_cmpuint(ls->rx_data_runs, ==, 20);
    g_assert_cmpuint(ls->pcs.frames, ==, 20);

    /*
     * its /S/ corrupted, the frame goes as code groups and is lost; the
     * next one is a data run again
     */
    lane_inject_corrupt(h.blades[0].lane, 1);
    sh_blade_send(&h, 0, f, len);
    sh_blade_send(&h, 0, f, len);
    sh_wait_frames(&h, &h.blades[1].rx, 21);
    sh_settle(&h);
    g_assert_cmpuint(g_queue_get_length(&h.blades[1].rx), ==, 21);
    g_assert_cmpuint(pcs_stat(&h, 0, "data-runs-rx"), ==, 21);
    g_assert_cmpuint(sh_port_stat(&h, 0, "rx-frames"), ==, 21);
    g_assert_cmpuint(lane_stats(h.blades[0].lane)->injected_cg_errors, ==,
                     1);
    sh_stop(&h);
}

/*
 * Plug blade @slot as a hostile blade would: it keeps copies of the
 * slot's ends of the wake-up sockets it made and passed (an honest one
 * closes them once the slot accepted).  Taken in the round after the
 * lane made the rings, before the slot's acceptance can have been read;
 * a round that read both tries again.
 */
static void plug_keeping_ring_fds(SwHarness *h, unsigned slot,
                                  int kept[LANE_RING_NFDS])
{
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    int fds[LANE_RING_NFDS];
    LaneRing *r;

    sh_blade_plug(h, slot, slot % 2);
    for (;;) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        sh_pump(h, 1);
        r = lane_shm_ring(h->blades[slot].lane);
        if (r && lane_ring_fds_held(r) == LANE_RING_CREATOR_FDS) {
            break;
        }
        if (r && lane_ring_fds_held(r) < LANE_RING_CREATOR_FDS) {
            sh_blade_unplug(&h->blades[slot]);     /* accepted already */
            sh_blade_plug(h, slot, slot % 2);
        }
    }
    lane_ring_peer_fds(r, fds);
    for (int i = 0; i < LANE_RING_NFDS; i++) {
        kept[i] = dup(fds[i]);
        g_assert_cmpint(kept[i], >=, 0);
    }
}

/*
 * A blade that would make the slot's kick block: it kept copies of the
 * slot's wake-up sockets (plug_keeping_ring_fds()), sets its sleep flag
 * on the ring the slot writes, fills the queue of the wake-up socket the
 * slot kicks into and clears O_NONBLOCK on the slot's wake-up sockets
 * (the flag belongs to the file description, which both processes
 * share).  With the eventfds of before, the slot's kick then blocked
 * QEMU's main loop for good (QMP never answered again) until the slot
 * checked the flag first, and even then a blade quick enough between
 * that check and the write could block it.  Now every send and recv is
 * MSG_DONTWAIT: the kick finds the queue full (the blade has wake-ups
 * waiting anyway), QMP answers, nothing is counted as an error, and the
 * blade, woken by its full queue, reads the frame from the ring.
 */
static void test_shm_blocking_peer(void)
{
    static const uint8_t sha[6] = { 0x02, 0, 0, 0, 0, 0x55 };
    static const uint8_t one = 1;
    int fds[LANE_RING_NFDS];
    LaneRingHeader *hdr;
    struct stat sb;
    uint8_t *shm, f[64];
    unsigned filled = 0;
    SwHarness h;
    Lane *lane;
    int b;

    sh_start(&h, 2, true, NULL);
    plug_keeping_ring_fds(&h, 0, fds);
    blades_ready(&h, 2, NULL);
    add_service(&h, "web", "rr", "[0, 1]");
    lane = h.blades[0].lane;
    g_assert_true(lane_on_rings(lane));
    sh_free_frames(&h.blades[0].rx);

    g_assert_cmpint(fstat(fds[LANE_RING_FD_MEM], &sb), ==, 0);
    shm = mmap(NULL, sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
               fds[LANE_RING_FD_MEM], 0);
    g_assert(shm != MAP_FAILED);
    hdr = (LaneRingHeader *)shm;
    ((LaneRingCons *)(shm + hdr->ring[1].cons_off))->cons_sleeping = 1;
    munmap(shm, sb.st_size);
    /* the slot kicks on WAKE_C: fill the queue behind it, block both */
    while (send(fds[LANE_RING_FD_WAKE_C], &one, 1,
                MSG_DONTWAIT | MSG_NOSIGNAL) == 1) {
        filled++;
    }
    g_assert_cmpuint(filled, >, 0);
    g_assert_cmpint(fcntl(fds[LANE_RING_FD_WAKE_A], F_SETFL, 0), ==, 0);
    g_assert_cmpint(fcntl(fds[LANE_RING_FD_WAKE_C], F_SETFL, 0), ==, 0);

    /*
     * A broadcast from the uplink, which slot 0 writes into the ring.
     * QMP answers after it (shm_stat() asks): the main loop did not
     * block.  No sh_wait() before: it would run blade 0's lane, which
     * drains its wake-up socket.
     */
    sh_uplink_send(&h, f, sh_arp_request(f, sha, "10.0.0.9", "10.0.0.1"));
    sh_wait_frames(&h, &h.blades[0].rx, 1);
    /* flooded: blade 1 gets it too (before the flow below is looked at) */
    sh_wait_frames(&h, &h.blades[1].rx, 1);
    g_assert_cmpuint(shm_stat(&h, "errors"), ==, 0);
    g_assert_cmpuint(shm_stat(&h, "hangups"), ==, 0);
    g_assert_cmpuint(shm_stat(&h, "sessions"), ==, 1);
    g_assert_true(shm_stat(&h, "active"));
    g_assert_cmpuint(sh_port_stat(&h, 0, "errors"), ==, 0);
    sh_free_frames(&h.blades[0].rx);
    sh_free_frames(&h.blades[1].rx);
    b = flow_blade(&h, 2, 41, SH_TCP_SYN);
    g_assert_cmpint(b, >=, 0);
    sh_stop(&h);
    for (b = 0; b < LANE_RING_NFDS; b++) {
        close(fds[b]);
    }
}

/*
 * Four blades sending at once, each in turn to the other three and to the
 * uplink, frames of 64 and 1514 octets mixed: every frame arrives, once,
 * and each receiver sees each sender's frames in the order sent (the
 * switch moves ingress entries to egress and batches its work; neither
 * may reorder or lose a frame).
 */
#define ORDER_SLOTS     4
#define ORDER_FRAMES    200     /* per sender */

static bool cond_order_all(SwHarness *h, void *arg)
{
    unsigned i, want = ORDER_FRAMES / ORDER_SLOTS;

    for (i = 0; i < ORDER_SLOTS; i++) {
        if (g_queue_get_length(&h->blades[i].rx) < want * (ORDER_SLOTS - 1)) {
            return false;
        }
    }
    return g_queue_get_length(&h->up_rx) >= want * ORDER_SLOTS;
}

/* Each sender's frames in @q in sequence; counts them per sender. */
static void check_order(GQueue *q, unsigned *per_sender)
{
    int last[ORDER_SLOTS] = { -1, -1, -1, -1 };
    ShFrame *f;

    while ((f = sh_pop(q))) {
        unsigned from;
        int seq;

        g_assert_cmpuint(f->len, >=, 64 - 4);
        from = f->data[18];
        seq = ldl_be_p(f->data + 14);
        g_assert_cmpuint(from, <, ORDER_SLOTS);
        g_assert_cmpint(seq, >, last[from]);
        last[from] = seq;
        per_sender[from]++;
        g_free(f);
    }
}

static void test_order_many_senders(void)
{
    static uint8_t f[ORDER_SLOTS][1514];
    unsigned want = ORDER_FRAMES / ORDER_SLOTS, i, j, k;
    unsigned got[ORDER_SLOTS + 1][ORDER_SLOTS] = { { 0 } };
    SwHarness h;
    QDict *st;

    sh_start(&h, ORDER_SLOTS, true, "queue-frames=1024");
    for (i = 0; i < ORDER_SLOTS; i++) {
        sh_blade_up(&h, i, false);
        sh_eth(f[i], sh_bcast, h.blades[i].mac, 0x88b6);
        sh_blade_send(&h, i, f[i], 64);
    }
    sh_eth(f[0], sh_bcast, sh_client_mac, 0x88b6);
    sh_uplink_send(&h, f[0], 64);
    sh_settle(&h);
    for (i = 0; i < ORDER_SLOTS; i++) {
        sh_free_frames(&h.blades[i].rx);
    }
    sh_free_frames(&h.up_rx);

    for (k = 0; k < ORDER_FRAMES; k++) {
        for (i = 0; i < ORDER_SLOTS; i++) {
            /* to blade k % 4, or the client when that is the sender */
            j = k % ORDER_SLOTS;
            sh_eth(f[i], j == i ? sh_client_mac : h.blades[j].mac,
                   h.blades[i].mac, 0x88b6);
            stl_be_p(f[i] + 14, k);
            f[i][18] = i;
            sh_blade_send(&h, i, f[i], k % 3 ? 64 : sizeof(f[i]));
        }
    }
    sh_wait(&h, cond_order_all, NULL, "every frame");
    sh_settle(&h);
    for (i = 0; i < ORDER_SLOTS; i++) {
        check_order(&h.blades[i].rx, got[i]);
    }
    check_order(&h.up_rx, got[ORDER_SLOTS]);
    for (i = 0; i <= ORDER_SLOTS; i++) {
        for (j = 0; j < ORDER_SLOTS; j++) {
            /* blade i gets from every other blade, the uplink from all */
            g_assert_cmpuint(got[i][j], ==, i == j ? 0 : want);
        }
    }
    st = sh_state(&h);
    for (i = 0; i <= ORDER_SLOTS; i++) {
        g_assert_cmpuint(sh_u64(sh_item(st, "ports", i), "tx-drops"), ==, 0);
    }
    qobject_unref(st);
    sh_stop(&h);
}

/*
 * All GPOINTER_TO_UINT(@arg) frames from slot 0 are in slot 1's egress
 * queue or at blade 1.
 */
static bool cond_slot1_has_all(SwHarness *h, void *arg)
{
    return sh_port_stat(h, 1, "queue") +
           g_queue_get_length(&h->blades[1].rx) >= GPOINTER_TO_UINT(arg);
}

/*
 * A paced slot's lane has a MAC FIFO (tx-fifo, 40 KiB by default, as
 * blade-nic's): the switch puts frames on it while the line is busy for
 * less than its line time, 327.68 us at 1000 Mb/s, so 27 frames of 1518
 * octets (12.304 us each with preamble and IPG) leave its egress queue at
 * once, the rest wait there, and it takes more only when half the FIFO
 * has drained: one wake-up for about 13 frames, not one a frame.  With
 * tx-fifo=0 it runs 20 us ahead, two frames.  The chassis's clock moves
 * only when the test steps it, so the counts are exact.
 */
static void test_egress_paced_fifo(gconstpointer data)
{
    const bool fifo = GPOINTER_TO_INT(data);
    const unsigned count = 60, first = fifo ? 27 : 2;
    uint8_t f[1514] = { 0 };
    ShFrame *fr;
    SwHarness h;
    unsigned i;

    sh_start(&h, 2, false, fifo ? "slot-speed=1000" :
             "slot-speed=1000,tx-fifo=0");
    sh_blade_up(&h, 0, false);
    sh_blade_up(&h, 1, false);
    /* the switch learns blade 1's MAC */
    sh_eth(f, sh_bcast, h.blades[1].mac, 0x88b6);
    sh_blade_send(&h, 1, f, 64);
    sh_settle(&h);
    sh_free_frames(&h.blades[0].rx);

    sh_eth(f, h.blades[1].mac, h.blades[0].mac, 0x88b6);
    for (i = 0; i < count; i++) {
        stl_be_p(f + 14, i);
        sh_blade_send(&h, 0, f, sizeof(f));
    }
    sh_wait_still(&h, cond_slot1_has_all, GUINT_TO_POINTER(count),
                  "slot 0's frames queued or delivered");
    g_assert_cmpuint(g_queue_get_length(&h.blades[1].rx), ==, first);
    g_assert_cmpuint(sh_port_stat(&h, 1, "queue"), ==, count - first);
    if (fifo) {
        /* 100 us later less than half the FIFO has drained: still held */
        qtest_clock_step(h.qts, 100 * 1000);
        g_assert_cmpuint(sh_port_stat(&h, 1, "queue"), ==, count - first);
        /* by 200 us it has, and the lane took half a FIFO more */
        qtest_clock_step(h.qts, 100 * 1000);
        g_assert_cmpuint(sh_port_stat(&h, 1, "queue"), >=,
                         count - first - 14);
        g_assert_cmpuint(sh_port_stat(&h, 1, "queue"), <=,
                         count - first - 13);
    } else {
        /* one or two frames a wake-up, 12.304 us apart */
        qtest_clock_step(h.qts, 100 * 1000);
        g_assert_cmpuint(sh_port_stat(&h, 1, "queue"), >=,
                         count - first - 9);
        g_assert_cmpuint(sh_port_stat(&h, 1, "queue"), <=,
                         count - first - 7);
    }
    qtest_clock_step(h.qts, 1000 * 1000);
    g_assert_cmpuint(sh_port_stat(&h, 1, "queue"), ==, 0);
    sh_wait_frames(&h, &h.blades[1].rx, count);
    for (i = 0; i < count; i++) {
        fr = sh_pop(&h.blades[1].rx);
        g_assert_cmpuint(fr->len, ==, sizeof(f));
        g_assert_cmpuint(ldl_be_p(fr->data + 14), ==, i);
        g_free(fr);
    }
    g_assert_cmpuint(sh_port_stat(&h, 1, "tx-drops"), ==, 0);
    sh_stop(&h);
}

/* An uplink peer that does not read: bounded queue, drops counted. */
static void test_bounded_queue(void)
{
    SwHarness h;
    uint8_t f[1514] = { 0 };
    QDict *st, *up;
    unsigned i;

    sh_start(&h, 1, true, "queue-frames=16");
    sh_blade_up(&h, 0, true);
    /* Unknown unicast: flooded to the uplink, whose peer never reads. */
    sh_eth(f, (const uint8_t[]){ 2, 0, 0, 0, 0, 9 }, h.blades[0].mac,
           0x88b6);
    for (i = 0; i < 2000; i++) {
        sh_blade_send(&h, 0, f, sizeof(f));
        lane_handle_timer(h.blades[0].lane, sh_now(&h));
    }
    sh_settle(&h);
    st = sh_state(&h);
    up = sh_item(st, "ports", 1);
    g_assert_cmpuint(sh_u64(up, "queue"), <=, 16);
    g_assert_cmpuint(sh_u64(up, "tx-drops"), >, 0);
    g_assert_cmpuint(sh_u64(sh_item(st, "ports", 0), "rx-frames"), ==, 2000);
    qobject_unref(st);
    sh_stop(&h);
}

/*
 * A flood into the uplink, a netdev port, faster than the switch forwards:
 * what does not fit its ingress queue is dropped and counted, never left
 * to QEMU's net layer (which would hold it without bound).  The chassis
 * is stopped while the burst is written, so QEMU reads one chunk of it
 * into its queue and hands it over all at once on `cont`.
 */
static void test_uplink_overflow(void)
{
    enum { FRAMES = 1500, LEN = 64 };
    g_autofree uint8_t *burst = g_malloc0(FRAMES * (4 + LEN));
    uint8_t *q = burst;
    SwHarness h;
    QDict *st, *up;
    uint64_t rx, over;
    gint64 end;
    unsigned i;

    sh_start(&h, 1, true, NULL);
    for (i = 0; i < FRAMES; i++, q += 4 + LEN) {
        stl_be_p(q, LEN);
        sh_eth(q + 4, (const uint8_t[]){ 2, 0, 0, 0, 0, 9 }, sh_client_mac,
               0x88b6);
    }
    qobject_unref(qtest_qmp(h.qts, "{ 'execute': 'stop' }"));
    g_assert_cmpint(write(h.up_fd, burst, FRAMES * (4 + LEN)), ==,
                    FRAMES * (4 + LEN));
    qobject_unref(qtest_qmp(h.qts, "{ 'execute': 'cont' }"));
    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    do {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        sh_pump(&h, 1);
        st = sh_state(&h);
        up = sh_item(st, "ports", 1);
        rx = sh_u64(up, "rx-frames");
        over = sh_u64(up, "rx-overflow");
        qobject_unref(st);
    } while (rx + over < FRAMES);
    /* every frame accounted for: in the switch, or counted out */
    g_assert_cmpuint(rx + over, ==, FRAMES);
    g_assert_cmpuint(over, >, 0);
    g_assert_cmpuint(sh_port_stat(&h, 1, "rx-drops"), >=, over);
    sh_stop(&h);
}

/* ---- uplink link and capture --------------------------------------------- */

static void test_uplink_link(void)
{
    SwHarness h;
    QDict *r, *ev;
    uint8_t f[64] = { 0 };

    sh_start(&h, 1, true, NULL);
    sh_blade_up(&h, 0, false);
    r = qtest_qmp(h.qts, "{ 'execute': 'set_link', 'arguments': "
                  "{ 'name': 'up', 'up': false } }");
    qobject_unref(r);
    /* Its link came up at start, less than a period ago. */
    qtest_clock_step(h.qts, SH_EVENT_PERIOD_NS);
    while ((ev = sh_event_sent(&h, "BLADE_SWITCH_PORT_LINK")) &&
           strcmp(qdict_get_str(sh_event_data(ev), "port"), "uplink")) {
        qobject_unref(ev);
    }
    g_assert_nonnull(ev);
    g_assert_false(qdict_get_bool(sh_event_data(ev), "up"));
    qobject_unref(ev);
    /* Flooding skips a port that is down. */
    sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6);
    sh_blade_send(&h, 0, f, sizeof(f));
    sh_settle(&h);
    g_assert_cmpuint(sh_port_stat(&h, 1, "tx-frames"), ==, 0);
    r = qtest_qmp(h.qts, "{ 'execute': 'set_link', 'arguments': "
                  "{ 'name': 'up', 'up': true } }");
    qobject_unref(r);
    sh_blade_send(&h, 0, f, sizeof(f));
    sh_wait_frames(&h, &h.up_rx, 1);
    sh_stop(&h);
}

static void test_capture(void)
{
    SwHarness h;
    g_autofree char *pcap = g_strdup_printf("%s/slot0-%d.pcap",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *log = g_strdup_printf("%s/slot0-%d.util", g_get_tmp_dir(),
                                           getpid());
    g_autofree char *data = NULL, *text = NULL;
    uint8_t f[64] = { 0 };
    size_t len;
    QDict *r;

    sh_start(&h, 2, false, NULL);
    sh_blade_up(&h, 0, false);
    sh_blade_up(&h, 1, false);
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-capture', 'arguments': "
                  "{ 'port': 'slot0', 'pcap': %s, 'util-log': %s } }", pcap,
                  log);
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6);
    sh_blade_send(&h, 0, f, sizeof(f));
    sh_eth(f, sh_bcast, h.blades[1].mac, 0x88b6);
    sh_blade_send(&h, 1, f, sizeof(f));
    sh_wait_frames(&h, &h.blades[0].rx, 1);
    sh_report(&h, 0, 42, 7);
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-capture', 'arguments': "
                  "{ 'port': 'slot0' } }");
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);

    /* Header and two records (one in, one out) of 64-octet frames. */
    g_assert_true(g_file_get_contents(pcap, &data, &len, NULL));
    g_assert_cmpuint(len, ==, 24 + 2 * (16 + 64));
    g_assert_cmphex((uint32_t)ldl_le_p(data), ==, 0xa1b23c4d);
    g_assert_cmpuint(ldl_le_p(data + 20), ==, 1);
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    g_assert_nonnull(strstr(text, "slot0 cpu=42 irq=7"));
    g_assert_nonnull(strstr(text, "K28.5"));

    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-capture', 'arguments': "
                  "{ 'port': 'nope', 'pcap': %s } }", pcap);
    g_assert(qdict_haskey(r, "error"));
    qobject_unref(r);
    unlink(pcap);
    unlink(log);
    sh_stop(&h);
}

static bool sync_lost_and_back(SwHarness *h, void *arg)
{
    QDict *st = sh_state(h);
    QDict *port = sh_item(st, "ports", 0);
    bool done = sh_u64(qdict_get_qdict(port, "pcs"), "sync-losses") >= 1 &&
                qdict_get_bool(port, "link");

    qobject_unref(st);
    return done && lane_is_link_up(h->blades[0].lane);
}

/* Where @needle is in @text after @from, or fail. */
static const char *find_after(const char *text, const char *from,
                              const char *needle)
{
    const char *at = strstr(from, needle);

    if (!at) {
        g_test_message("symbol capture: %s", text);
        g_error("'%s' is not in the symbol capture where expected", needle);
    }
    return at;
}

/* The frame's line at @at ends with /T/ /R/ and then @note. */
static void check_frame_end(const char *text, const char *at,
                            const char *note)
{
    g_autofree char *line = g_strndup(at, strchrnul(at, '\n') - at);
    const char *t = strstr(line, " K29.7");

    /* " K29.7+ K23.7- # ...": /T/, /R/, the note */
    if (!t || !g_str_has_prefix(t + 7, " K23.7") ||
        strcmp(t + 14, note)) {
        g_test_message("symbol capture: %s", text);
        g_error("the frame '%s' does not end with /T/ /R/ and '%s'", line,
                note);
    }
}

/*
 * A symbol capture of a slot (blade-switch-capture's symbols member,
 * docs/link-layer.md, "Symbol capture"): the blade's frame from /S/ to
 * /T/R/ with its FCS checked, the implied idles, the utilization set's
 * code groups, the frame the switch sends the blade, then the four
 * invalid code groups of a loss of sync the blade injects, sync lost and
 * regained, in that order; query-blade-switch shows the capture, a limit
 * bounds its file, and ports without code groups refuse one.
 */
static void test_capture_symbols(void)
{
    SwHarness h;
    g_autofree char *path = g_strdup_printf("%s/slot0-%d.sym",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *text = NULL, *small = NULL;
    g_autofree char *src0 = NULL, *src1 = NULL;
    char *src[2];
    const char *at, *lost;
    uint8_t f[64] = { 0 };
    QDict *r, *st, *sym;
    unsigned i;

    sh_start(&h, 2, true, NULL);
    sh_blade_up(&h, 0, false);
    sh_blade_up(&h, 1, false);
    for (i = 0; i < 2; i++) {
        const uint8_t *m = h.blades[i].mac;

        /* 64 octets and the FCS: /T/ at RD- or RD+, then /R/ */
        src[i] = g_strdup_printf(" # 68 octets, dst ff:ff:ff:ff:ff:ff src "
                                 "%02x:%02x:%02x:%02x:%02x:%02x type 0x88b6,"
                                 " FCS ok", m[0], m[1], m[2], m[3], m[4],
                                 m[5]);
    }
    src0 = src[0];
    src1 = src[1];
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-capture', 'arguments': "
                  "{ 'port': 'slot0', 'symbols': %s } }", path);
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6);
    sh_blade_send(&h, 0, f, sizeof(f));
    sh_eth(f, sh_bcast, h.blades[1].mac, 0x88b6);
    sh_blade_send(&h, 1, f, sizeof(f));
    sh_wait_frames(&h, &h.blades[0].rx, 1);
    sh_report(&h, 0, 42, 7);
    lane_inject_sync_loss(h.blades[0].lane, sh_now(&h));
    lane_flush(h.blades[0].lane, sh_now(&h));
    sh_wait(&h, sync_lost_and_back, NULL, "sync lost and regained");

    st = sh_state(&h);
    sym = qdict_get_qdict(sh_item(st, "ports", 0), "symbols");
    g_assert_nonnull(sym);
    g_assert_cmpstr(qdict_get_str(sym, "file"), ==, path);
    g_assert_cmpuint(sh_u64(sym, "lines"), >, 10);
    g_assert_cmpuint(sh_u64(sym, "limit"), ==, 64 * 1024 * 1024);
    g_assert_cmpuint(sh_u64(sym, "dropped"), ==, 0);
    g_assert_false(qdict_haskey(sh_item(st, "ports", 1), "symbols"));
    qobject_unref(st);
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-capture', 'arguments': "
                  "{ 'port': 'slot0' } }");
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    st = sh_state(&h);
    g_assert_false(qdict_haskey(sh_item(st, "ports", 0), "symbols"));
    qobject_unref(st);

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_assert_true(g_str_has_prefix(text, "# bladeplane symbol capture 1: "
                                         "slot0, both directions"));
    /* the blade's frame: /S/, preamble, SFD, ..., FCS, /T/ /R/ */
    at = find_after(text, text, " rx frame 78 K27.7- D21.2- D21.2- D21.2- "
                    "D21.2- D21.2- D21.2- D21.6- ..64.. ");
    check_frame_end(text, at, src[0]);
    /* the implied idle after it */
    find_after(text, at, " rx idle 12 K28.5- D16.2+ ..8.. K28.5- D16.2+ # "
               "/I2/ x6, implied gap\n");
    /* blade 1's frame, flooded to blade 0 */
    at = find_after(text, text, " tx frame 78 K27.7- D21.2- ");
    check_frame_end(text, at, src[1]);
    /* the utilization set, 42 % and 7 % */
    /* cpu 42 = 0101010, irq 7 = 0000111: symbols 010101 000001 11.... */
    at = find_after(text, text, " rx util 12 K28.5- D13.4+ K28.5- D2.1+ "
                    "K28.5- D5.0+ K28.5- ");
    find_after(text, at, ": cpu=42 irq=7 seq=");
    /* the injected loss of sync: invalid code groups, lost, regained */
    at = find_after(text, text, " rx other 4 !?-=0000000000 ");
    lost = find_after(text, at, " rx event sync-lost\n");
    find_after(text, lost, " rx idle 12 ");
    at = find_after(text, lost, " rx event sync-acquired\n");
    find_after(text, at, " rx config 4 K28.5- D21.5+ ");
    find_after(text, at, " -- event link-up\n");
    find_after(text, at, "# end: ");
    g_assert_nonnull(strstr(text, " bursts, gaps and events not written "
                                  "(limit 67108864 octets)\n"));
    g_assert_null(strstr(text, "limit of"));

    /* a limit: the header fits, the first burst does not */
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-capture', 'arguments': "
                  "{ 'port': 'slot0', 'symbols': %s, 'symbols-full': true, "
                  "'symbols-bits': true, 'symbols-limit': 300 } }", path);
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6);
    sh_blade_send(&h, 0, f, sizeof(f));
    sh_wait_frames(&h, &h.blades[1].rx, 2);
    st = sh_state(&h);
    sym = qdict_get_qdict(sh_item(st, "ports", 0), "symbols");
    g_assert_cmpuint(sh_u64(sym, "limit"), ==, 300);
    g_assert_cmpuint(sh_u64(sym, "lines"), ==, 2);
    g_assert_cmpuint(sh_u64(sym, "octets"), <=, 300);
    g_assert_cmpuint(sh_u64(sym, "dropped"), >=, 2);
    qobject_unref(st);
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-capture', 'arguments': "
                  "{ 'port': 'slot0' } }");
    qobject_unref(r);
    g_assert_true(g_file_get_contents(path, &small, NULL, NULL));
    g_assert_nonnull(strstr(small, "\n# limit of 300 octets reached: what "
                                   "follows is counted, not written\n"
                                   "# end: 2 lines, "));
    g_assert_null(strstr(small, " rx "));

    /* no code groups on the uplink; no file in a missing directory */
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-capture', 'arguments': "
                  "{ 'port': 'uplink', 'symbols': %s } }", path);
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(r, "error"), "desc"), ==,
                    "port 'uplink' is not a lane: it has no code groups to "
                    "capture");
    qobject_unref(r);
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-capture', 'arguments': "
                  "{ 'port': 'slot1', 'symbols': '/nonexistent/x.sym' } }");
    g_assert(qdict_haskey(r, "error"));
    qobject_unref(r);
    unlink(path);
    sh_stop(&h);
}

/* The blade sends a sample with contention figures; wait for the switch. */
static void report_contention(SwHarness *h, unsigned slot, unsigned cpu,
                              unsigned psi, unsigned runnable)
{
    ShReportArg a = { slot, sh_blade_stat(h, slot, "reports") + 1 };

    lane_set_util_contention(h->blades[slot].lane, cpu, 0, psi, runnable,
                             sh_now(h));
    sh_wait(h, sh_cond_reports, &a, "utilization report");
}

static bool blade_lacks(SwHarness *h, unsigned slot, const char *key)
{
    QDict *st = sh_state(h);
    bool lacks = !qdict_haskey(sh_item(st, "blades", slot), key);

    qobject_unref(st);
    return lacks;
}

/*
 * Blades that send the contention form (slot 0 over 8b10b, slot 1 raw)
 * show their figures in the state tree, in HMP and in the utilization
 * log; the switch's balancing inputs are what the state tree shows.  A
 * blade that sends the older form (slot 2) has none (null) and is still
 * balanced.
 */
static void test_contention(void)
{
    SwHarness h;
    g_autofree char *log = g_strdup_printf("%s/slot0-cont-%d.util",
                                           g_get_tmp_dir(), getpid());
    g_autofree char *text = NULL, *out = NULL;
    unsigned got[3] = { 0 };
    QDict *st, *b, *r;

    sh_start(&h, 3, true, NULL);
    blades_ready(&h, 3, NULL);
    add_service(&h, "web", "util", "[0, 1, 2]");
    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-capture', 'arguments': "
                  "{ 'port': 'slot0', 'util-log': %s } }", log);
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    g_assert_true(blade_lacks(&h, 0, "pressure"));
    report_contention(&h, 0, 30, 420, 6);
    report_contention(&h, 1, 20, 1000, 1023);

    st = sh_state(&h);
    b = sh_item(st, "blades", 0);
    g_assert_cmpuint(sh_u64(b, "cpu"), ==, 30);
    g_assert_cmpuint(sh_u64(b, "pressure"), ==, 420);
    g_assert_cmpuint(sh_u64(b, "runnable"), ==, 6);
    b = sh_item(st, "blades", 1);
    g_assert_cmpuint(sh_u64(b, "pressure"), ==, 1000);
    g_assert_cmpuint(sh_u64(b, "runnable"), ==, 1023);
    b = sh_item(st, "blades", 2);
    g_assert_false(qdict_haskey(b, "pressure"));
    g_assert_false(qdict_haskey(b, "runnable"));
    g_assert_true(qdict_get_bool(b, "in-rotation"));
    qobject_unref(st);

    out = qtest_hmp(h.qts, "info blade-switch");
    g_assert_nonnull(strstr(out, " psi "));
    g_assert_nonnull(strstr(out, " 420 "));

    /* every blade is balanced, the one with the older form too */
    new_flows(&h, 3, 1000, 30, got);
    g_assert_cmpuint(got[0] + got[1] + got[2], ==, 30);
    g_assert_cmpuint(got[2], >, 0);

    /* a later sample without them: null again */
    sh_report(&h, 0, 30, 0);
    g_assert_true(blade_lacks(&h, 0, "pressure"));
    g_assert_true(blade_lacks(&h, 0, "runnable"));

    r = qtest_qmp(h.qts, "{ 'execute': 'blade-switch-capture', 'arguments': "
                  "{ 'port': 'slot0' } }");
    qobject_unref(r);
    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    g_assert_nonnull(strstr(text, "slot0 cpu=30 irq=0 seq="));
    g_assert_nonnull(strstr(text, " pressure=420 runnable=6 form=idle new"));
    g_assert_nonnull(strstr(text, "K28.5 D14.4"));
    unlink(log);
    sh_stop(&h);
}

static void test_hmp(void)
{
    SwHarness h;
    g_autofree char *out = NULL;

    sh_start(&h, 2, true, NULL);
    add_service(&h, "web", "util", "[0, 1]");
    out = qtest_hmp(h.qts, "info blade-switch");
    g_assert_nonnull(strstr(out, "slot1"));
    g_assert_nonnull(strstr(out, "uplink"));
    g_assert_nonnull(strstr(out, "web"));
    g_assert_nonnull(strstr(out, VIP));
    sh_stop(&h);
}

/*
 * A switch without slots needs no backplane: a central switch (chain
 * ports only), one with just an uplink, one with no ports at all.  Its
 * state, HMP and rules work without one (the state said "backplane" with a
 * NULL string, and crashed).
 */
static void test_no_slots(void)
{
    /* Port properties (JSON), and the netdevs (socket pairs) they use. */
    static const struct {
        const char *props;
        unsigned netdevs;
    } cases[] = {
        { "", 0 },
        { ", \"uplink\": \"n0\"", 1 },
        { ", \"chain\": [\"n0\", \"n1\"]", 2 },
    };
    unsigned i, k;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GString) args = g_string_new("-M blade-chassis");
        g_autofree char *out = NULL;
        int sv[2][2];
        QTestState *qts;
        QDict *r, *st, *sw;

        for (k = 0; k < cases[i].netdevs; k++) {
            g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[k]), ==,
                            0);
            g_string_append_printf(args, " -netdev socket,id=n%u,fd=%d", k,
                                   sv[k][1]);
        }
        qts = qtest_initf("%s -device '{\"driver\": \"blade-switch\", "
                          "\"id\": \"switch\", \"slots\": 0%s}'",
                          args->str, cases[i].props);
        for (k = 0; k < cases[i].netdevs; k++) {
            close(sv[k][1]);
        }

        st = sh_state(&(SwHarness){ .qts = qts });
        sw = qdict_get_qdict(st, "switch");
        g_assert_cmpint(qdict_get_int(sw, "slots"), ==, 0);
        g_assert_false(qdict_haskey(sw, "backplane"));
        g_assert_cmpuint(qlist_size(qdict_get_qlist(st, "ports")), ==,
                         cases[i].netdevs);
        qobject_unref(st);

        /* A rule may name no slot it lacks, but may use remote blades. */
        r = qtest_qmp(qts, "{ 'execute': 'blade-switch-add-service', "
                      "'arguments': { 'name': 'web', 'vip': %s, "
                      "'protocol': 'tcp', 'blades': [0] } }", VIP);
        g_assert(qdict_haskey(r, "error"));
        qobject_unref(r);
        r = qtest_qmp(qts, "{ 'execute': 'blade-switch-add-service', "
                      "'arguments': { 'name': 'web', 'vip': %s, "
                      "'protocol': 'tcp', 'blades': [], 'remote': true } }",
                      VIP);
        g_assert(qdict_haskey(r, "return"));
        qobject_unref(r);
        /* Timers and the scheduler run with no slot to look at. */
        qtest_clock_step(qts, 200 * 1000 * 1000ll);

        out = qtest_hmp(qts, "info blade-switch");
        g_assert_nonnull(strstr(out, "0 slots, backplane -"));
        g_assert_nonnull(strstr(out, "web"));
        qtest_quit(qts);
        for (k = 0; k < cases[i].netdevs; k++) {
            close(sv[k][0]);
        }
    }
}

/*
 * What the switch allocates for its QMP events, its state and its HMP
 * command is freed again.  QEMU runs with LeakSanitizer preloaded (GCC's
 * runtime, liblsan.so.0, installed with gcc): at exit it lists every block
 * that nothing points to any more, with the stack that allocated it.  No
 * such block may come from blade-switch code.  Each connect/close cycle
 * makes port-link and rotation events; before the fix each one leaked the
 * switch's QOM path.  (Preloaded into a binary built without it, the
 * runtime warns on QEMU's stderr that it cannot intercept sigaction();
 * leak checking does not need that.)
 */
static void test_no_leaks(void)
{
    g_autofree char *dir = g_dir_make_tmp("blade-switch-lsan-XXXXXX", NULL);
    g_autofree char *opts = g_strdup_printf(
        "log_path=%s/lsan:exitcode=0:fast_unwind_on_malloc=0:"
        "malloc_context_size=40", dir);
    g_autofree char *old_preload = g_strdup(g_getenv("LD_PRELOAD"));
    g_autofree char *old_opts = g_strdup(g_getenv("LSAN_OPTIONS"));
    g_autofree char *maps_path = NULL, *maps = NULL, *log_path = NULL;
    g_autofree char *report = NULL, *out = NULL;
    g_auto(GStrv) blocks = NULL;
    unsigned i, leaks = 0, ours = 0;
    uint8_t f[64] = { 0 };
    SwHarness h;
    pid_t pid;

    g_setenv("LD_PRELOAD", "liblsan.so.0", true);
    g_setenv("LSAN_OPTIONS", opts, true);
    sh_start(&h, 2, false, NULL);
    if (old_preload) {
        g_setenv("LD_PRELOAD", old_preload, true);
    } else {
        g_unsetenv("LD_PRELOAD");
    }
    if (old_opts) {
        g_setenv("LSAN_OPTIONS", old_opts, true);
    } else {
        g_unsetenv("LSAN_OPTIONS");
    }
    pid = qtest_pid(h.qts);
    maps_path = g_strdup_printf("/proc/%d/maps", (int)pid);
    g_assert_true(g_file_get_contents(maps_path, &maps, NULL, NULL));
    if (!strstr(maps, "liblsan")) {
        sh_stop(&h);
        rmdir(dir);
        g_test_skip("LeakSanitizer (liblsan.so.0, from gcc) cannot be "
                    "preloaded");
        return;
    }

    for (i = 0; i < 8; i++) {
        sh_blade_up(&h, 0, i % 2);
        sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6);
        sh_blade_send(&h, 0, f, sizeof(f));
        sh_report(&h, 0, 10, 0);
        sh_blade_unplug(&h.blades[0]);
        sh_wait(&h, sh_cond_port_down, GUINT_TO_POINTER(0), "slot down");
    }
    out = qtest_hmp(h.qts, "info blade-switch");
    g_assert_nonnull(strstr(out, "slot0"));
    qobject_unref(sh_state(&h));
    sh_stop(&h);

    /* Nothing leaked at all writes no report. */
    log_path = g_strdup_printf("%s/lsan.%d", dir, (int)pid);
    if (g_file_get_contents(log_path, &report, NULL, NULL)) {
        if (strstr(report, "LeakSanitizer has encountered a fatal error")) {
            /* E.g. no ptrace() for its stop-the-world: nothing checked. */
            g_test_message("%s", report);
            unlink(log_path);
            rmdir(dir);
            g_test_skip("LeakSanitizer could not run its leak check here");
            return;
        }
        blocks = g_strsplit(report, "\n\n", -1);
        for (i = 0; blocks[i]; i++) {
            if (!strstr(blocks[i], " leak of ")) {
                continue;
            }
            leaks++;
            if (strstr(blocks[i], "blade-switch") ||
                strstr(blocks[i], "blade_switch") ||
                strstr(blocks[i], " bsw_")) {
                g_test_message("%s", blocks[i]);
                ours++;
            }
        }
        unlink(log_path);
    }
    rmdir(dir);
    g_test_message("LeakSanitizer: %u leaks, %u from blade-switch", leaks,
                   ours);
    g_assert_cmpuint(ours, ==, 0);
}

/* ---- virtual time -------------------------------------------------------- */

typedef struct VtSlots {
    unsigned n;
    uint64_t promised[SH_MAX_SLOTS];    /* what each blade promised */
} VtSlots;

/*
 * The test's blades run (h->vclock) as far as their horizons and their
 * own promises allow, so what the chassis sent them is taken, but
 * nothing they send is stamped past what they promised.
 */
static void vt_pump(SwHarness *h, const VtSlots *v)
{
    uint64_t t = UINT64_MAX;
    unsigned i;

    for (i = 0; i < v->n; i++) {
        t = MIN(t, MIN(v->promised[i],
                       lane_vtime_horizon(h->blades[i].lane)));
    }
    h->vclock = MAX(h->vclock, t == VTIME_NEVER ? 0 : t);
    sh_pump(h, 1);
}

/* Wait until every blade's lane carries virtual time, within 10 s. */
static void vt_wait_active(SwHarness *h, const VtSlots *v)
{
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    unsigned i;

    for (i = 0; i < v->n; i++) {
        while (!lane_vtime_active(h->blades[i].lane)) {
            if (g_get_monotonic_time() > end) {
                g_error("slot %u: no virtual time on the lane in 10 s", i);
            }
            vt_pump(h, v);
        }
    }
}

static void vt_promise(SwHarness *h, VtSlots *v, unsigned slot, uint64_t t)
{
    g_assert_true(lane_vtime_promise(h->blades[slot].lane, t, h->vclock));
    lane_flush(h->blades[slot].lane, h->vclock);
    v->promised[slot] = t;
}

/*
 * How far the chassis has promised a blade its clock (its quiet promise,
 * a W beyond, is apart: lane_vtime_horizon() takes both).
 */
static uint64_t vt_chassis_clock(Lane *l)
{
    const VtimeLink *vl = lane_vtime_link(l);

    return MAX(vl->peer_promise, vl->last_stamp);
}

/*
 * The chassis moves its clock to its safe horizon and promises every
 * blade that time: wait until it has promised @clock to blade @slot,
 * within 10 s, and check that it promised no more.
 */
static void vt_wait_promised(SwHarness *h, const VtSlots *v, unsigned slot,
                             uint64_t clock)
{
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    Lane *l = h->blades[slot].lane;

    while (vt_chassis_clock(l) < clock) {
        if (g_get_monotonic_time() > end) {
            g_error("slot %u: promised %" PRIu64 ", waited for %" PRIu64,
                    slot, vt_chassis_clock(l), clock);
        }
        vt_pump(h, v);
    }
    g_assert_cmpuint(vt_chassis_clock(l), ==, clock);
}

/* The same, to every blade. */
static void vt_wait_chassis(SwHarness *h, const VtSlots *v, uint64_t clock)
{
    unsigned i;

    for (i = 0; i < v->n; i++) {
        vt_wait_promised(h, v, i, clock);
    }
}

/*
 * A chassis in virtual time (@json: the switch's properties beyond the
 * harness's) with a test blade in each of its two slots, whose lanes
 * have latency @lb into the blades; returns once both carry virtual time.
 */
static void vt_start_n(SwHarness *h, VtSlots *v, unsigned n,
                       const char *json, uint32_t lb)
{
    ShOpts o = {
        .slots = n, .chardevs = true, .json = json, .args = "-accel qtest ",
        .vtime_ns = lb,
    };
    unsigned i;

    *v = (VtSlots) { .n = n };
    sh_start_opts(h, &o);
    for (i = 0; i < n; i++) {
        sh_blade_plug(h, i, true);
    }
    vt_wait_active(h, v);
}

static void vt_start(SwHarness *h, VtSlots *v, const char *json, uint32_t lb)
{
    vt_start_n(h, v, 2, json, lb);
}

/*
 * Per-slot latency (vtime-slot-latency-ns): the chassis runs to the least
 * of its slots' horizons, each the blade's promise plus that slot's own
 * latency.  Slot 0 takes the switch's vtime-latency-ns (its entry is 0),
 * slot 1 its own 30 us.
 */
static void test_vtime_slot_latency(void)
{
    enum { L0 = 10000, L1 = 30000, LB = 5000 };
    VtSlots v;
    SwHarness h;
    unsigned i;

    vt_start(&h, &v, "\"timing\": \"virtual\", \"vtime-latency-ns\": "
             "10000, \"vtime-slots\": 2, \"vtime-slot-latency-ns\": "
             "[0, 30000]", LB);
    /* Nothing promised yet: the chassis can be at L0 at most. */
    for (i = 0; i < 2; i++) {
        g_assert_cmpuint(vt_chassis_clock(h.blades[i].lane), <=, L0);
    }
    /* Both blades at 100 us: slot 0 bounds the clock, 10 us later. */
    vt_promise(&h, &v, 0, 100000);
    vt_promise(&h, &v, 1, 100000);
    vt_wait_chassis(&h, &v, 100000 + L0);
    /*
     * And each blade hears quiet until the other could send it something
     * through the chassis: blade 0 until slot 1's horizon, 100 + 30 us.
     */
    while (lane_vtime_horizon(h.blades[0].lane) < 100000 + L1 + LB) {
        vt_pump(&h, &v);
    }
    g_assert_cmpuint(lane_vtime_horizon(h.blades[0].lane), ==,
                     100000 + L1 + LB);
    /* Slot 0 runs ahead: now slot 1's longer latency bounds it. */
    vt_promise(&h, &v, 0, 200000);
    vt_wait_chassis(&h, &v, 100000 + L1);
    /* Slot 1 too: slot 0 again. */
    vt_promise(&h, &v, 1, 200000);
    vt_wait_chassis(&h, &v, 200000 + L0);
    sh_stop(&h);
}

/*
 * A chain lane (chain-chardev0) in virtual time; the test is a blade in
 * slot 0 and the chassis at the far end of the chain (its end 1).  The
 * far chassis bounds the clock as a blade does, with the link's own
 * latency (vtime-chain-latency-ns), and this chassis promises it quiet
 * (nothing until its own next event) rather than its clock.  Once the far
 * chassis is gone, the clock holds where its last promise left it, and
 * after vtime-wait-ms the switch shuts down with a line naming the chain
 * port and its chardev.
 */
static void test_vtime_chain_lane(void)
{
    /* QUIET_MAX: BLADE_VTIME_QUIET_MAX_NS, how far a quiet promise reaches */
    enum { L = 10000, LC = 30000, LB = 5000, WAIT_MS = 2000,
           QUIET_MAX = 10000000 };
    g_autofree char *log_path = g_strdup_printf("%s/bsw-chain-%d.err",
                                                g_get_tmp_dir(), getpid());
    g_autofree char *args = g_strdup_printf("-accel qtest -no-shutdown "
                                            "2>%s ", log_path);
    g_autofree char *log = NULL, *want = NULL;
    ShOpts o = {
        .slots = 2, .chain_lanes = 1, .chardevs = true, .args = args,
        .json = "\"timing\": \"virtual\", \"vtime-latency-ns\": 10000, "
                "\"vtime-slots\": 1, \"vtime-chain-latency-ns\": [30000], "
                "\"vtime-wait-ms\": 2000, \"chassis\": \"a\", "
                "\"chassis-id\": 1",
        .vtime_ns = LB,
    };
    Lane *chain;
    QDict *ev = NULL;
    VtSlots v = { .n = 2 };
    SwHarness h;
    uint64_t held;
    gint64 end;

    sh_start_opts(&h, &o);
    sh_blade_plug(&h, 0, true);
    sh_blade_plug(&h, 1, true);
    chain = h.blades[1].lane;
    vt_wait_active(&h, &v);
    g_assert_cmpuint(vt_chassis_clock(h.blades[0].lane), <=, L);

    /* The blade far ahead: the chain bounds the clock, LC past its end. */
    vt_promise(&h, &v, 0, 1000000000);
    vt_promise(&h, &v, 1, 100000);
    vt_wait_promised(&h, &v, 0, 100000 + LC);
    /* its end hears quiet past that clock (the next event is later) */
    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (lane_vtime_horizon(chain) <= 100000 + LC + LB) {
        if (g_get_monotonic_time() > end) {
            g_error("no quiet promise on the chain lane in 10 s (horizon "
                    "%" PRIu64 ")", lane_vtime_horizon(chain));
        }
        vt_pump(&h, &v);
    }
    g_assert_cmpuint(lane_vtime_horizon(chain), <=,
                     QUIET_MAX + LB);
    g_assert_cmpuint(lane_vtime_link(chain)->cnt.quiet, >, 0);

    /* It promises more: the clock follows, a latency behind. */
    vt_promise(&h, &v, 1, 5000000);
    vt_wait_promised(&h, &v, 0, 5000000 + LC);

    /* Gone: however far the blade promises, the clock stays. */
    sh_blade_unplug(&h.blades[1]);
    v.n = 1;
    vt_promise(&h, &v, 0, 2000000000);
    held = vt_chassis_clock(h.blades[0].lane);
    g_assert_cmpuint(held, ==, 5000000 + LC);
    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!(ev = qtest_qmp_event_ref(h.qts, "SHUTDOWN"))) {
        QDict *r;

        if (g_get_monotonic_time() > end) {
            g_error("no SHUTDOWN event 10 s after the chain's end left, "
                    "with vtime-wait-ms=%d", WAIT_MS);
        }
        vt_pump(&h, &v);
        g_assert_cmpuint(vt_chassis_clock(h.blades[0].lane), ==, held);
        /* a command's answer brings the events before it */
        r = qtest_qmp(h.qts, "{'execute': 'query-status'}");
        qobject_unref(r);
    }
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(ev, "data"), "reason"), ==,
                    "host-error");
    qobject_unref(ev);
    g_assert_true(g_file_get_contents(log_path, &log, NULL, NULL));
    want = g_strdup_printf("blade-switch: virtual time: no promise from "
                           "chain0 (chardev 'lane1') for %d ms at %u ns (is "
                           "its chassis paused, or stuck?); shutting down\n",
                           WAIT_MS, 5000000 + LC);
    g_assert_nonnull(strstr(log, want));
    unlink(log_path);
    sh_stop(&h);
}

static uint64_t vt_port_figure(SwHarness *h, unsigned port,
                               const char *key);

/*
 * Blade 0 sends @f (@len octets, numbered from 0 at octet 14) at the
 * test's clock until its lane has no room because port @port's has none
 * (its tx-waits), within 20 s; then it promises @promise.  How many it
 * sent.
 */
static uint32_t vt_send_until_held(SwHarness *h, VtSlots *v, unsigned port,
                                   uint8_t *f, size_t len, uint64_t promise)
{
    enum { MAX_FRAMES = 4000 };
    gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    uint32_t sent = 0;

    while (sent < MAX_FRAMES) {
        int r;

        stl_be_p(f + 14, sent);
        r = lane_send_frame(h->blades[0].lane, f, len, h->vclock);
        if (r == -EAGAIN) {
            /* blade 0's lane full, because port @port's is: enough */
            if (vt_port_figure(h, port, "tx-waits")) {
                break;
            }
            if (g_get_monotonic_time() > end) {
                g_error("blade 0's lane full for 20 s, port %u's not", port);
            }
            sh_pump(h, 1);
            continue;
        }
        g_assert_cmpint(r, ==, 0);
        lane_flush(h->blades[0].lane, h->vclock);
        sent++;
    }
    g_assert_cmpuint(sent, <, MAX_FRAMES);
    vt_promise(h, v, 0, promise);
    return sent;
}

/* For @ms of wall time the chassis's clock stays at @clock. */
static void vt_assert_clock_stays(SwHarness *h, uint64_t clock, int ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < end) {
        sh_pump(h, 10);
    }
    g_assert_cmpuint(vt_chassis_clock(h->blades[0].lane), ==, clock);
}

/*
 * The chassis beyond a chain lane, for a test: net/fabric.c speaks for it
 * on that lane (h->blades[end]), at the test's clock, so that the chain
 * port opens for data (it forwards only once a chassis is heard on it).
 */
typedef struct VtNeighbour {
    SwHarness *h;
    unsigned end;
    Fabric *fab;
} VtNeighbour;

static void vt_nb_send(void *opaque, unsigned port, const uint8_t *frame,
                       size_t len)
{
    VtNeighbour *nb = opaque;
    Lane *l = nb->h->blades[nb->end].lane;
    int r = lane_send_frame(l, frame, len, nb->h->vclock);

    /* before the link is up, lost, as on the wire; the next round goes */
    g_assert_true(r == 0 || r == -ENOLINK);
    lane_flush(l, nb->h->vclock);
}

static void vt_nb_port_state(void *opaque, unsigned port, bool forwarding,
                             const char *why)
{
}

static const FabOps vt_nb_ops = {
    .send = vt_nb_send,
    .port_state = vt_nb_port_state,
};

/* Chassis 99 on one port, its link up now. */
static void vt_nb_init(VtNeighbour *nb, SwHarness *h, unsigned end)
{
    FabConfig fc;

    nb->h = h;
    nb->end = end;
    fab_config_init(&fc);
    fc.chassis_id = 99;
    fc.interval_ns = 10 * 1000 * 1000;
    g_strlcpy(fc.name, "beyond", sizeof(fc.name));
    memcpy(fc.mac, (const uint8_t[]){ 0x52, 0x54, 0x00, 0xee, 0, 99 }, 6);
    nb->fab = fab_new(&fc, &vt_nb_ops, nb);
    g_assert_nonnull(nb->fab);
    g_assert_cmpint(fab_add_port(nb->fab, "p0"), ==, 0);
    fab_port_link(nb->fab, 0, true, h->vclock);
}

/* Pump; the fabric's frames the chain end got go to it, others away. */
static void vt_nb_pump(VtNeighbour *nb, const VtSlots *v)
{
    ShFrame *f;

    vt_pump(nb->h, v);
    while ((f = sh_pop(&nb->h->blades[nb->end].rx))) {
        if (f->len >= 14 && lduw_be_p(f->data + 12) == FAB_ETHERTYPE) {
            fab_input(nb->fab, 0, f->data, f->len, nb->h->vclock);
        }
        g_free(f);
    }
    if (nb->h->vclock >= fab_deadline(nb->fab)) {
        fab_tick(nb->fab, nb->h->vclock);
    }
}

/* Where the switch lists port @name (query-blade-switch's ports). */
static unsigned vt_port_index(SwHarness *h, const char *name)
{
    QDict *st = sh_state(h);
    unsigned i;

    for (i = 0; ; i++) {
        if (!strcmp(qdict_get_str(sh_item(st, "ports", i), "name"), name)) {
            qobject_unref(st);
            return i;
        }
    }
}

static bool vt_chain0_forwarding(SwHarness *h)
{
    QDict *st = sh_state(h);
    QDict *fab = qdict_get_qdict(st, "fabric");
    bool fwd = qdict_get_bool(sh_item(fab, "ports", 0), "forwarding");

    qobject_unref(st);
    return fwd;
}

/*
 * A chain lane with no room, as test_vtime_egress_hold()'s slot: the
 * chassis beyond (net/fabric.c at the test's end, so that the chain port
 * forwards) takes nothing for a while, and the blade in slot 0 floods
 * frames at one time S until its own lane has no room.  The chassis
 * forwards them at S + L until the chain lane (unpaced: all at once) has
 * no room; then its clock must wait at S + L, however far the blade and
 * the chassis beyond promise.  Once the chassis beyond reads, every frame
 * reaches it, in order, stamped S + L.  Before, a chain lane waited as
 * in real time: the clock ran on to the promises, and the frames the
 * lane refused left stamped with whatever time the chassis had when the
 * far one's process read.
 */
static void test_vtime_chain_egress_hold(void)
{
    enum { L = 10000, LB = 5000, STEP = 1000000, LEN = 1514,
           WAIT_MS = 300 };
    ShOpts o = {
        .slots = 2, .chain_lanes = 1, .chardevs = true,
        .args = "-accel qtest ",
        .json = "\"timing\": \"virtual\", \"vtime-latency-ns\": 10000, "
                "\"vtime-slots\": 1, \"vtime-chain-latency-ns\": [10000], "
                "\"vtime-wait-ms\": 10000, \"chain-speed\": 0, "
                "\"fabric-interval\": 10, \"chassis\": \"a\", "
                "\"chassis-id\": 1",
        .vtime_ns = LB,
    };
    uint8_t f[LEN] = { 0 };
    uint32_t sent, want = 0;
    VtSlots v = { .n = 2 };
    VtNeighbour nb;
    unsigned chain;
    uint64_t t, s;
    SwHarness h;
    ShFrame *got;
    gint64 end;

    sh_start_opts(&h, &o);
    sh_blade_plug(&h, 0, true);
    sh_blade_plug(&h, 1, true);
    vt_wait_active(&h, &v);
    vt_nb_init(&nb, &h, 1);
    chain = vt_port_index(&h, "chain0");

    /* a millisecond at a time, until the chain port forwards */
    end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    for (t = STEP; !vt_chain0_forwarding(&h); t += STEP) {
        vt_promise(&h, &v, 0, t);
        vt_promise(&h, &v, 1, t);
        while (vt_chassis_clock(h.blades[0].lane) < t + L) {
            if (g_get_monotonic_time() > end) {
                g_error("the chain port did not open in 30 s (at %" PRIu64
                        " ns)", t);
            }
            vt_nb_pump(&nb, &v);
        }
    }

    h.blades[1].rx_held = true;
    s = t;
    vt_promise(&h, &v, 1, 10 * s);
    sh_eth(f, (const uint8_t[]){ 0x52, 0x54, 0x00, 0xee, 9, 9 },
           h.blades[0].mac, 0x88b6);
    h.vclock = s;
    sent = vt_send_until_held(&h, &v, chain, f, sizeof(f), 10 * s);

    /* the chassis beyond still takes nothing: the clock stays */
    vt_assert_clock_stays(&h, s + L, WAIT_MS);

    h.blades[1].rx_held = false;
    lane_rx_resume(h.blades[1].lane, h.vclock);
    end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    while (want < sent) {
        while ((got = sh_pop(&h.blades[1].rx))) {
            if (lduw_be_p(got->data + 12) == 0x88b6) {
                g_assert_cmpuint(ldl_be_p(got->data + 14), ==, want);
                g_assert_cmpuint(got->stamp, ==, s + L);
                want++;
            }
            g_free(got);
        }
        if (g_get_monotonic_time() > end) {
            g_error("the chassis beyond got %u of the %u frames in 20 s",
                    want, sent);
        }
        vt_pump(&h, &v);
    }
    g_assert_cmpuint(vt_port_figure(&h, chain, "tx-waits"), >=, 1);
    g_assert_cmpuint(vt_port_figure(&h, chain, "late"), ==, 0);
    g_assert_cmpuint(sh_port_stat(&h, chain, "tx-drops"), ==, 0);
    fab_free(nb.fab);
    sh_stop(&h);
}

/*
 * Chain lanes: numbered from 0, not beside chain netdevs, latencies for
 * as many at most and in virtual time only.
 */
static void test_chain_lanes_refused(void)
{
    static const struct {
        const char *dev, *err;
    } bad[] = {
        { "{\"driver\": \"blade-switch\", \"slots\": 0, "
          "\"chain-chardev1\": \"c0\"}",
          "chain-chardev1 is given but chain-chardev0 is not" },
        { "{\"driver\": \"blade-switch\", \"slots\": 0, "
          "\"chain-chardev0\": \"c0\", \"chain\": [\"n0\"]}",
          "netdevs (chain) or lanes (chain-chardevN), not both" },
        { "{\"driver\": \"blade-switch\", \"slots\": 0, "
          "\"chain-chardev0\": \"c0\", \"vtime-chain-latency-ns\": [1]}",
          "vtime-chain-latency-ns is for timing=virtual" },
        { "{\"driver\": \"blade-switch\", \"slots\": 0, \"timing\": "
          "\"virtual\", \"chain-chardev0\": \"c0\", "
          "\"vtime-chain-latency-ns\": [1, 2]}",
          "has 2 entries for 1 chain lanes" },
        { "{\"driver\": \"blade-switch\", \"slots\": 0, \"timing\": "
          "\"virtual\", \"chain\": [\"n0\"]}",
          "join chassis in virtual time with chain-chardevN" },
    };
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *err = NULL;
        const char *argv[] = {
            qemu, "-M", "blade-chassis", "-accel", "qtest", "-display",
            "none", "-nodefaults", "-chardev", "null,id=c0", "-netdev",
            "hubport,id=n0,hubid=0", "-device", bad[i].dev, NULL,
        };
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                                   G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                   NULL, &err, &status, NULL));
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
        if (!strstr(err, bad[i].err)) {
            g_error("%s: wanted '%s', got: %s", bad[i].dev, bad[i].err, err);
        }
    }
}

/*
 * The switch's vtime-snapshot property: the state then, or NULL when the
 * switch says it has none yet.
 */
static QDict *vt_snapshot(SwHarness *h)
{
    QDict *resp = qtest_qmp(h->qts, "{ 'execute': 'qom-get', 'arguments': "
                            "{ 'path': 'switch', "
                            "'property': 'vtime-snapshot' } }");
    QDict *snap = qdict_get_qdict(resp, "return");

    if (snap) {
        qobject_ref(snap);
    } else {
        g_assert_cmpstr(qdict_get_str(qdict_get_qdict(resp, "error"), "desc"),
                        ==, "no snapshot: vtime-snapshot-ns is 0, or the "
                        "chassis clock has not passed it yet");
    }
    qobject_unref(resp);
    return snap;
}

/* A broadcast frame from blade @slot at the blades' clock, @at. */
static void vt_send_at(SwHarness *h, unsigned slot, uint64_t at)
{
    uint8_t f[60] = { 0 };

    sh_eth(f, sh_bcast, h->blades[slot].mac, 0x88b6);
    g_assert_cmpuint(at, <=, lane_vtime_horizon(h->blades[slot].lane));
    h->vclock = at;
    sh_blade_send(h, slot, f, sizeof(f));
}

/*
 * Blade @slot receives @n frames numbered 0 to @n - 1 (at octet 14), in
 * order, within 20 s, each stamped @stamp unless that is 0.
 */
static void vt_take_numbered(SwHarness *h, const VtSlots *v, unsigned slot,
                             uint32_t n, uint64_t stamp)
{
    gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    uint32_t want = 0;
    ShFrame *got;

    while (want < n) {
        while ((got = sh_pop(&h->blades[slot].rx))) {
            g_assert_cmpuint(got->len, >=, 18);
            g_assert_cmpuint(ldl_be_p(got->data + 14), ==, want);
            if (stamp) {
                g_assert_cmpuint(got->stamp, ==, stamp);
            }
            want++;
            g_free(got);
        }
        if (g_get_monotonic_time() > end) {
            g_error("blade %u got %u of the %u frames in 20 s (the chassis "
                    "promised %" PRIu64 ")", slot, want, n,
                    vt_chassis_clock(h->blades[slot].lane));
        }
        vt_pump(h, v);
    }
}

/*
 * A blade sends more at one time than a slot's ingress queue holds (a
 * TSO burst on an unpaced lane), then promises beyond it.  The chassis
 * stops reading that lane while the queue is full, so the promise stays
 * behind the frames it cannot take yet; forwarding at that time must
 * not wait for that lane's horizon, or nothing moves again.  Every frame
 * reaches blade 1, in order, and the clock goes on past the burst.
 */
static void test_vtime_full_ingress(void)
{
    enum { L = 10000, LB = 50000, S = 150000, N = 200, LEN = 1514 };
    uint8_t f[LEN] = { 0 };
    VtSlots v;
    SwHarness h;

    vt_start(&h, &v, "\"timing\": \"virtual\", \"vtime-latency-ns\": "
             "10000, \"vtime-slots\": 2, \"queue-frames\": 1024, "
             "\"vtime-wait-ms\": 10000", LB);
    vt_promise(&h, &v, 0, 100000);
    vt_promise(&h, &v, 1, 100000);
    vt_wait_chassis(&h, &v, 100000 + L);
    vt_promise(&h, &v, 1, 10 * S);
    sh_eth(f, sh_bcast, h.blades[0].mac, 0x88b6);
    h.vclock = S;
    v.promised[0] = S;
    for (uint32_t i = 0; i < N; i++) {
        stl_be_p(f + 14, i);
        sh_blade_send(&h, 0, f, sizeof(f));
    }
    vt_promise(&h, &v, 0, 10 * S);
    vt_take_numbered(&h, &v, 1, N, 0);
    vt_wait_promised(&h, &v, 1, 10 * S + L);
    g_assert_cmpuint(lane_stats(h.blades[1].lane)->vtime_late, ==, 0);
    sh_stop(&h);
}

/*
 * Blade 1 takes nothing for a while (its process lags), and blade 0
 * sends it frames at one time S until its own lane has no room: the
 * chassis forwards them at S + L until blade 1's lane has no room.  The
 * chassis's clock must then wait at S + L, however far both blades
 * promise, for as long as blade 1 takes nothing (the wait under test,
 * well inside vtime-wait-ms).  Once blade 1 reads, every frame reaches
 * it, in order, stamped S + L, as if the room had been there; the lane
 * did run out of room (the port's tx-waits); and the clock goes on.
 * Without the wait the clock ran on to the blades' promises, and the
 * frames the lane refused left stamped with whatever time the clock had
 * when blade 1's process read, a time the host decided.
 */
static void test_vtime_egress_hold(void)
{
    enum { L = 10000, LB = 50000, S = 150000, LEN = 1514, WAIT_MS = 300 };
    uint8_t f[LEN] = { 0 };
    uint32_t sent;
    VtSlots v;
    SwHarness h;

    vt_start(&h, &v, "\"timing\": \"virtual\", \"vtime-latency-ns\": "
             "10000, \"vtime-slots\": 2, \"vtime-wait-ms\": 10000", LB);
    vt_promise(&h, &v, 0, 100000);
    vt_promise(&h, &v, 1, 100000);
    vt_wait_chassis(&h, &v, 100000 + L);
    h.blades[1].rx_held = true;
    vt_promise(&h, &v, 1, 10 * S);
    sh_eth(f, h.blades[1].mac, h.blades[0].mac, 0x88b6);
    h.vclock = S;
    v.promised[0] = S;
    sent = vt_send_until_held(&h, &v, 1, f, sizeof(f), 10 * S);

    /* blade 1 still takes nothing: the clock stays where it forwarded */
    vt_assert_clock_stays(&h, S + L, WAIT_MS);

    h.blades[1].rx_held = false;
    lane_rx_resume(h.blades[1].lane, h.vclock);
    vt_take_numbered(&h, &v, 1, sent, S + L);
    vt_wait_promised(&h, &v, 1, 10 * S + L);
    g_assert_cmpuint(vt_port_figure(&h, 1, "tx-waits"), >=, 1);
    g_assert_cmpuint(vt_port_figure(&h, 1, "late"), ==, 0);
    g_assert_cmpuint(lane_stats(h.blades[1].lane)->vtime_late, ==, 0);
    g_assert_cmpuint(sh_port_stat(&h, 1, "tx-drops"), ==, 0);
    sh_stop(&h);
}

/*
 * vtime-snapshot-ns: the state tree as it was at that virtual time, taken
 * once the chassis is sure nothing more can take effect by then.  Blade
 * 0 sends a frame that takes effect before the snapshot's time and one
 * that takes effect after it: the snapshot counts the first only, while
 * the state goes on to count both; before the chassis's horizon passes
 * the time there is no snapshot.
 */
static void test_vtime_snapshot(void)
{
    enum { L = 10000, LB = 50000, T = 150000 };
    QDict *snap, *port, *state, *vt;
    VtSlots v;
    SwHarness h;

    vt_start(&h, &v, "\"timing\": \"virtual\", \"vtime-latency-ns\": "
             "10000, \"vtime-slots\": 2, \"vtime-snapshot-ns\": 150000",
             LB);
    vt_promise(&h, &v, 0, 100000);
    vt_promise(&h, &v, 1, 100000);
    vt_wait_chassis(&h, &v, 100000 + L);
    g_assert_null(vt_snapshot(&h));
    /* takes effect at T - 10 us, and at T + 5 us */
    vt_send_at(&h, 0, T - 2 * L);
    vt_send_at(&h, 0, T - L / 2);
    vt_promise(&h, &v, 0, 250000);
    vt_promise(&h, &v, 1, 250000);
    vt_wait_chassis(&h, &v, 250000 + L);

    snap = vt_snapshot(&h);
    g_assert_nonnull(snap);
    port = sh_item(snap, "ports", 0);
    g_assert_cmpuint(sh_u64(port, "rx-frames"), ==, 1);
    g_assert_cmpuint(sh_u64(sh_item(snap, "ports", 1), "tx-frames"), ==, 1);
    qobject_unref(snap);
    g_assert_cmpuint(sh_port_stat(&h, 0, "rx-frames"), ==, 2);
    g_assert_cmpuint(sh_port_stat(&h, 1, "tx-frames"), ==, 2);

    /*
     * The lanes' virtual time: blade 0's records (its two frames among
     * them) were held to their delivery time, and the frames went out to
     * blade 1 at the time the model says (no stamp raised, no frame
     * waiting for room).
     */
    state = sh_state(&h);
    vt = qdict_get_qdict(sh_item(state, "ports", 0), "vtime");
    g_assert_nonnull(vt);
    g_assert_cmpuint(sh_u64(vt, "held"), >=, 2);
    g_assert_cmpuint(sh_u64(vt, "stamps"), >=, 2);
    g_assert_cmpuint(sh_u64(vt, "promises"), >, 0);
    g_assert_cmpuint(sh_u64(vt, "cuts"), ==, 0);
    vt = qdict_get_qdict(sh_item(state, "ports", 1), "vtime");
    g_assert_nonnull(vt);
    g_assert_cmpuint(sh_u64(vt, "promises-sent") + sh_u64(vt, "quiet-sent"),
                     >, 0);
    g_assert_cmpuint(sh_u64(vt, "stamps-raised"), ==, 0);
    g_assert_cmpuint(sh_u64(vt, "quiet-raised"), ==, 0);
    g_assert_cmpuint(sh_u64(vt, "tx-waits"), ==, 0);
    qobject_unref(state);
    sh_stop(&h);
}

/*
 * Blades 0 and 1 each broadcast a frame stamped S, so both are due at the
 * chassis at S + L; blade 2 is far ahead.  With @late 0 or 1 that blade
 * writes its frame only once the chassis stands at S + L (its promise of
 * S lets a record stamped S still come); with @late 2 both are in before
 * the clock gets there.  Returns the order blade 2 got them in, as the
 * senders' slots.
 */
static unsigned vt_tie_order(unsigned late)
{
    enum { L = 10000, LB = 50000, S = 150000 };
    unsigned order = 0, b, got = 0;
    gint64 end;
    VtSlots v;
    SwHarness h;
    ShFrame *f;

    vt_start_n(&h, &v, 3, "\"timing\": \"virtual\", \"vtime-latency-ns\": "
               "10000, \"vtime-slots\": 3", LB);
    /*
     * The chassis at 110 us, every link up: the blades may write at S.
     * Then blade 2 runs ahead (not before: its link's records would be
     * stamped no earlier than its promise).
     */
    for (b = 0; b < 3; b++) {
        vt_promise(&h, &v, b, 100000);
    }
    vt_wait_chassis(&h, &v, 100000 + L);
    for (b = 0; b < 3; b++) {
        g_assert_true(sh_cond_port_up(&h, GUINT_TO_POINTER(b)));
    }
    vt_promise(&h, &v, 2, 10 * S);
    for (b = 0; b < 2; b++) {
        if (b != late) {
            vt_send_at(&h, b, S);       /* its stamp promises S too */
            v.promised[b] = S;
        } else {
            vt_promise(&h, &v, b, S);
        }
    }
    vt_wait_promised(&h, &v, 2, S + L);
    if (late < 2) {
        vt_send_at(&h, late, S);
    }
    vt_promise(&h, &v, 0, 2 * S);
    vt_promise(&h, &v, 1, 2 * S);
    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (got < 2) {
        while (got < 2 && (f = sh_pop(&h.blades[2].rx))) {
            /* the source MAC tells the sender */
            b = memcmp(f->data + 6, h.blades[0].mac, 6) ? 1 : 0;
            g_assert_cmpmem(f->data + 6, 6, h.blades[b].mac, 6);
            order = order * 10 + b + 1;
            got++;
            g_free(f);
        }
        if (g_get_monotonic_time() > end) {
            g_error("blade 2 got %u of the 2 frames in 10 s", got);
        }
        vt_pump(&h, &v);
    }
    sh_stop(&h);
    return order;
}

/*
 * Two frames due at the chassis at the same nanosecond leave in the same
 * order whether the chassis read them in time or one of them only once
 * its clock stood at that time: forwarding at a time waits until no lane
 * can still bring anything in at it (bsw_vtime_fwd_timer()).
 */
static void test_vtime_tie(void)
{
    unsigned in_time = vt_tie_order(2);

    g_test_message("in time: %u (senders' slots + 1, in order)", in_time);
    g_assert_true(in_time == 12 || in_time == 21);
    g_assert_cmpuint(vt_tie_order(0), ==, in_time);
    g_assert_cmpuint(vt_tie_order(1), ==, in_time);
}

/* A lane port's vtime figure @key, from the state tree. */
static uint64_t vt_port_figure(SwHarness *h, unsigned port, const char *key)
{
    QDict *st = sh_state(h);
    QDict *vt = qdict_get_qdict(sh_item(st, "ports", port), "vtime");
    uint64_t v;

    g_assert_nonnull(vt);
    v = sh_u64(vt, key);
    qobject_unref(st);
    return v;
}

static bool vt_cond_disconnected(SwHarness *h, void *arg)
{
    QDict *st = sh_state(h);
    bool gone = !qdict_get_bool(sh_item(st, "ports", GPOINTER_TO_UINT(arg)),
                                "connected");

    qobject_unref(st);
    return gone;
}

/* Slot 0's lane has been cut *@arg times for breaking virtual time. */
static bool vt_cond_port_cuts(SwHarness *h, void *arg)
{
    return vt_port_figure(h, 0, "cuts") >= *(uint64_t *)arg;
}

/*
 * A slot's blade goes in the middle of a run.  With vtime-slots (as `up`
 * sets it) the chassis's clock waits for a blade in its place, and
 * rejoin-ns says where that blade's clock must start: the later of the
 * chassis's clock and how far the blade that left had given its word.
 * A new blade that starts over from 0 is cut; one whose clock starts at
 * rejoin-ns (as blade-nic's vtime-start-ns makes a restarted blade's)
 * is taken, the clock goes on, and its frame goes through.
 */
static void test_vtime_rejoin(void)
{
    enum { L = 10000, LB = 50000, P = 300000, P2 = 400000, P3 = 500000 };
    VtSlots v;
    SwHarness h;
    uint64_t want = 1, t;

    vt_start(&h, &v, "\"timing\": \"virtual\", \"vtime-latency-ns\": "
             "10000, \"vtime-slots\": 2", LB);
    vt_promise(&h, &v, 0, P);
    vt_promise(&h, &v, 1, P2);
    vt_wait_chassis(&h, &v, P + L);
    g_assert_cmpuint(vt_port_figure(&h, 0, "rejoin-ns"), ==, P + L);

    /* the clock stays where it was: slot 1's promise does not move it */
    sh_blade_unplug(&h.blades[0]);
    sh_wait_still(&h, vt_cond_disconnected, GUINT_TO_POINTER(0),
            "slot 0 to see its blade gone");
    vt_promise(&h, &v, 1, P3);
    sh_pump(&h, 100);
    g_assert_cmpuint(vt_port_figure(&h, 0, "rejoin-ns"), ==, P + L);
    g_assert_cmpuint(vt_chassis_clock(h.blades[1].lane), ==, P + L);

    /* from 0: its first stamp goes back */
    h.vclock = 0;
    sh_blade_plug(&h, 0, true);
    sh_wait_still(&h, vt_cond_port_cuts, &want, "the blade from 0 to be cut");
    sh_blade_unplug(&h.blades[0]);
    sh_wait_still(&h, vt_cond_disconnected, GUINT_TO_POINTER(0),
            "slot 0 to see that blade gone");

    /* from rejoin-ns: taken */
    h.vclock = P + L;
    v.promised[0] = P + L;
    sh_blade_plug(&h, 0, true);
    vt_wait_active(&h, &v);
    /* auto-negotiation, in 100 us steps of both clocks */
    for (t = P3 + 100000; !lane_is_link_up(h.blades[0].lane); t += 100000) {
        g_assert_cmpuint(t, <, P3 + 100 * 1000 * 1000);
        vt_promise(&h, &v, 0, t);
        vt_promise(&h, &v, 1, t);
        vt_wait_chassis(&h, &v, t + L);
    }
    t -= 100000;                        /* the last time promised */
    vt_send_at(&h, 0, t);
    vt_promise(&h, &v, 0, t + 100000);
    vt_promise(&h, &v, 1, t + 100000);
    vt_wait_chassis(&h, &v, t + 100000 + L);
    sh_wait_frames(&h, &h.blades[1].rx, 1);
    g_assert_cmpuint(vt_port_figure(&h, 0, "cuts"), ==, 1);
    /* both blades that came after the first were new on the link */
    g_assert_cmpuint(vt_port_figure(&h, 0, "new-peers"), ==, 2);
    g_assert_cmpuint(vt_port_figure(&h, 1, "new-peers"), ==, 0);
    sh_stop(&h);
}

/*
 * A chassis that takes the place of one that left in the middle of a
 * run (vtime-start-ns, bladeplane restart CHASSIS): its clock starts at
 * S, where its blades stand.  Nothing it sends them is stamped earlier
 * (they would take it late: auto-negotiation's records at 0, with S
 * 0); it runs from there to its horizons exactly, forwards a frame with
 * nothing late or cut, and its ports' rejoin-ns are on that clock.
 */
static void test_vtime_start(void)
{
    enum { L = 10000, LB = 50000 };
    const uint64_t S = 7000000123ULL;
    ShOpts o = {
        .slots = 2, .chardevs = true, .args = "-accel qtest ",
        .vtime_ns = LB,
        .json = "\"timing\": \"virtual\", \"vtime-latency-ns\": 10000, "
                "\"vtime-slots\": 2, \"vtime-start-ns\": 7000000123",
    };
    VtSlots v = { .n = 2 };
    SwHarness h;
    unsigned i;

    sh_start_opts(&h, &o);
    h.vclock = S;
    for (i = 0; i < 2; i++) {
        sh_blade_plug(&h, i, true);
    }
    vt_wait_active(&h, &v);
    vt_promise(&h, &v, 0, S + 100000);
    vt_promise(&h, &v, 1, S + 100000);
    vt_wait_chassis(&h, &v, S + 100000 + L);
    g_assert_cmpuint(vt_port_figure(&h, 0, "rejoin-ns"), ==, S + 100000 + L);
    vt_send_at(&h, 0, S + 130007);
    vt_promise(&h, &v, 0, S + 250000);
    vt_promise(&h, &v, 1, S + 250000);
    vt_wait_chassis(&h, &v, S + 250000 + L);
    sh_wait_frames(&h, &h.blades[1].rx, 1);
    for (i = 0; i < 2; i++) {
        g_assert_cmpuint(vt_port_figure(&h, i, "cuts"), ==, 0);
        g_assert_cmpuint(vt_port_figure(&h, i, "late"), ==, 0);
        g_assert_cmpuint(lane_stats(h.blades[i].lane)->vtime_cuts, ==, 0);
        g_assert_cmpuint(lane_stats(h.blades[i].lane)->vtime_late, ==, 0);
    }
    sh_stop(&h);
}

/*
 * Per-slot latencies outside virtual time, or for slots it lacks; a
 * snapshot or start time outside virtual time; a start past the latest
 * virtual time.
 */
static void test_vtime_refused(void)
{
    static const char *const bad[] = {
        "{\"driver\": \"blade-switch\", \"slots\": 2, "
        "\"vtime-slot-latency-ns\": [1000, 2000]}",
        "{\"driver\": \"blade-switch\", \"slots\": 1, \"timing\": "
        "\"virtual\", \"vtime-slot-latency-ns\": [1000, 2000]}",
        "{\"driver\": \"blade-switch\", \"slots\": 1, "
        "\"vtime-snapshot-ns\": 1000}",
        "{\"driver\": \"blade-switch\", \"slots\": 1, "
        "\"vtime-start-ns\": 1000}",
        "{\"driver\": \"blade-switch\", \"slots\": 1, \"timing\": "
        "\"virtual\", \"vtime-start-ns\": 4611686018427387905}",
    };
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *err = NULL;
        const char *argv[] = { qemu, "-M", "blade-chassis", "-accel", "qtest",
                               "-display", "none", "-nodefaults", "-device",
                               bad[i], NULL };
        int status;

        g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                                   G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                   NULL, &err, &status, NULL));
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
        g_assert_true(strstr(err, "is for timing=virtual") ||
                      strstr(err, "entries for 1 slots") ||
                      strstr(err, "is past the latest virtual time"));
    }
}

/* What the switch says to iothreads it cannot use, and it does not start. */
static void test_iothreads_refused(void)
{
    static const struct {
        const char *args, *dev, *err;
    } bad[] = {
        { "", "{\"driver\": \"blade-switch\", \"slots\": 2, "
          "\"iothreads\": [\"nope\"]}", "no iothread 'nope'" },
        { "-object iothread,id=a -object iothread,id=b",
          "{\"driver\": \"blade-switch\", \"slots\": 1, "
          "\"iothreads\": [\"a\", \"b\"]}", "2 iothreads for 1 slots" },
        { "-object iothread,id=a",
          "{\"driver\": \"blade-switch\", \"slots\": 1, \"timing\": "
          "\"virtual\", \"iothreads\": [\"a\"]}",
          "iothreads are for timing=real" },
    };
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *cmd = g_strdup_printf("%s -M blade-chassis -accel "
                                               "qtest -display none "
                                               "-nodefaults %s -device '%s'",
                                               qemu, bad[i].args, bad[i].dev);
        g_autofree char *err = NULL;
        int status;

        g_assert_true(g_spawn_command_line_sync(cmd, NULL, &err, &status,
                                                NULL));
        g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
        if (!strstr(err, bad[i].err)) {
            g_error("'%s' said '%s', not '%s'", bad[i].dev, err, bad[i].err);
        }
    }
}

/*
 * The tests of the data path, run again with the slots' lanes on two
 * iothreads: everything they check holds there as on the main loop.
 */
typedef struct ShThreadedTest {
    const char *name;
    void (*fn)(void);
} ShThreadedTest;

static const ShThreadedTest threaded_tests[] = {
    { "link-events", test_link_events },
    { "reconnect", test_reconnect },
    { "learning-flooding", test_learning_flooding },
    { "mac-limit", test_mac_limit },
    { "flows-follow-util", test_flows_follow_util },
    { "flow-affinity", test_flow_affinity },
    { "staleness", test_staleness },
    { "link-down-failover", test_link_down_failover },
    { "policies", test_policies },
    { "garbage", test_garbage },
    { "shm-rings", test_shm_rings },
    { "shm-blocking-peer", test_shm_blocking_peer },
    { "bounded-queue", test_bounded_queue },
    { "order-many-senders", test_order_many_senders },
    { "capture", test_capture },
    { "capture-symbols", test_capture_symbols },
    { "data-runs", test_data_runs },
    { "contention", test_contention },
    { "hmp", test_hmp },
    { "no-leaks", test_no_leaks },
};

static void run_threaded(gconstpointer data)
{
    const ShThreadedTest *t = data;

    sh_run_on_iothreads(2);
    t->fn();
    sh_run_on_iothreads(0);
}

int main(int argc, char **argv)
{
    unsigned i;

    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/blade-switch/ports", test_ports);
    qtest_add_func("/blade-switch/bad-properties", test_bad_properties);
    qtest_add_data_func("/blade-switch/slot-chardevs/key-value",
                        GUINT_TO_POINTER(0), test_slot_chardevs);
    qtest_add_data_func("/blade-switch/slot-chardevs/json",
                        GUINT_TO_POINTER(1), test_slot_chardevs);
    qtest_add_func("/blade-switch/slot-chardev-errors",
                   test_slot_chardev_errors);
    qtest_add_func("/blade-switch/link-events", test_link_events);
    qtest_add_func("/blade-switch/event-coalescing", test_event_coalescing);
    qtest_add_func("/blade-switch/reconnect", test_reconnect);
    qtest_add_func("/blade-switch/learning-flooding", test_learning_flooding);
    qtest_add_func("/blade-switch/aging", test_aging);
    qtest_add_func("/blade-switch/mac-limit", test_mac_limit);
    qtest_add_func("/blade-switch/vip-arp", test_vip_arp);
    qtest_add_func("/blade-switch/requests-in-flight",
                   test_requests_in_flight);
    qtest_add_func("/blade-switch/flows-follow-util", test_flows_follow_util);
    qtest_add_func("/blade-switch/flow-affinity", test_flow_affinity);
    qtest_add_func("/blade-switch/staleness", test_staleness);
    qtest_add_func("/blade-switch/link-down-failover",
                   test_link_down_failover);
    qtest_add_func("/blade-switch/policies", test_policies);
    qtest_add_func("/blade-switch/steering", test_steering);
    qtest_add_func("/blade-switch/garbage", test_garbage);
    qtest_add_func("/blade-switch/shm-rings", test_shm_rings);
    qtest_add_func("/blade-switch/shm-blocking-peer",
                   test_shm_blocking_peer);
    qtest_add_func("/blade-switch/bounded-queue", test_bounded_queue);
    qtest_add_data_func("/blade-switch/egress/paced-fifo",
                        GINT_TO_POINTER(true), test_egress_paced_fifo);
    qtest_add_data_func("/blade-switch/egress/paced",
                        GINT_TO_POINTER(false), test_egress_paced_fifo);
    qtest_add_func("/blade-switch/uplink-overflow", test_uplink_overflow);
    qtest_add_func("/blade-switch/order-many-senders",
                   test_order_many_senders);
    qtest_add_func("/blade-switch/uplink-link", test_uplink_link);
    qtest_add_func("/blade-switch/capture", test_capture);
    qtest_add_func("/blade-switch/capture-symbols", test_capture_symbols);
    qtest_add_func("/blade-switch/data-runs", test_data_runs);
    qtest_add_func("/blade-switch/hmp", test_hmp);
    qtest_add_func("/blade-switch/no-slots", test_no_slots);
    qtest_add_func("/blade-switch/no-leaks", test_no_leaks);
    qtest_add_func("/blade-switch/contention", test_contention);
    qtest_add_func("/blade-switch/vtime/slot-latency",
                   test_vtime_slot_latency);
    qtest_add_func("/blade-switch/vtime/refused",
                   test_vtime_refused);
    qtest_add_func("/blade-switch/vtime/snapshot", test_vtime_snapshot);
    qtest_add_func("/blade-switch/vtime/tie", test_vtime_tie);
    qtest_add_func("/blade-switch/vtime/full-ingress",
                   test_vtime_full_ingress);
    qtest_add_func("/blade-switch/vtime/egress-hold",
                   test_vtime_egress_hold);
    qtest_add_func("/blade-switch/vtime/rejoin", test_vtime_rejoin);
    qtest_add_func("/blade-switch/vtime/start", test_vtime_start);
    qtest_add_func("/blade-switch/vtime/chain-lane", test_vtime_chain_lane);
    qtest_add_func("/blade-switch/vtime/chain-egress-hold",
                   test_vtime_chain_egress_hold);
    qtest_add_func("/blade-switch/chain-lanes/refused",
                   test_chain_lanes_refused);
    qtest_add_func("/blade-switch/iothreads/refused",
                   test_iothreads_refused);
    for (i = 0; i < G_N_ELEMENTS(threaded_tests); i++) {
        g_autofree char *path = g_strdup_printf("/blade-switch/iothreads/%s",
                                                threaded_tests[i].name);

        qtest_add_data_func(path, &threaded_tests[i], run_threaded);
    }
    return g_test_run();
}
