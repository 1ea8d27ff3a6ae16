/*
 * Test harness for blade-switch (blade-switch-harness.h says what it is).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include <arpa/inet.h>
#include "qemu/bswap.h"
#include "qemu/cutils.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "qobject/qjson.h"
#include "hw/blade/net/lane-ring.h"
#include "blade-switch-harness.h"

const uint8_t sh_bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
const uint8_t sh_switch_mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0x00, 0x01 };
const uint8_t sh_client_mac[6] = { 0x52, 0x54, 0x00, 0xcc, 0x00, 0x01 };

/* sh_run_on_iothreads() */
static unsigned sh_iothreads;

void sh_run_on_iothreads(unsigned n)
{
    sh_iothreads = n;
}

uint64_t sh_now(SwHarness *h)
{
    return h->vtime_ns ? h->vclock : g_get_monotonic_time() * 1000;
}

static void sh_blade_mac(unsigned chassis, unsigned slot, uint8_t *mac)
{
    static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0xbb, 0x00, 0x00 };

    memcpy(mac, base, 6);
    mac[4] = chassis;
    mac[5] = slot + 1;
}

/* ---- start and stop ------------------------------------------------------ */

/*
 * key=value,... as JSON members (numbers, on/off, strings), for a device
 * that needs its JSON form: an array property.
 */
static void sh_props_json(GString *js, const char *props)
{
    g_auto(GStrv) kv = g_strsplit(props ? props : "", ",", -1);
    unsigned i;

    for (i = 0; kv[i]; i++) {
        char *eq = strchr(kv[i], '=');
        const char *v;

        if (!eq) {
            continue;
        }
        *eq = 0;
        v = eq + 1;
        g_string_append_printf(js, "%s\"%s\": ", js->len ? ", " : "",
                               kv[i]);
        if (*v && strspn(v, "0123456789") == strlen(v)) {
            g_string_append(js, v);
        } else if (!strcmp(v, "on") || !strcmp(v, "off")) {
            g_string_append(js, !strcmp(v, "on") ? "true" : "false");
        } else {
            g_string_append_printf(js, "\"%s\"", v);
        }
    }
}

/* Each slot's lane is on its group's iothread: the switch says so. */
static void sh_check_iothreads(SwHarness *h, unsigned n)
{
    QDict *st = sh_state(h);
    unsigned i;

    for (i = 0; i < h->slots; i++) {
        g_autofree char *want = g_strdup_printf("sh-io%u", i * n / h->slots);

        g_assert_cmpstr(qdict_get_try_str(sh_item(st, "ports", i),
                                          "iothread"), ==, want);
    }
    qobject_unref(st);
}

void sh_start_opts(SwHarness *h, const ShOpts *o)
{
    int sv[2] = { -1, -1 };
    g_autofree char *up = NULL, *dev = NULL, *where = NULL;
    g_autoptr(GString) io_json = g_string_new("");
    g_autoptr(GString) io_args = g_string_new("");
    const char *json = o->json;
    GString *chr = g_string_new("");
    GString *slot_props = g_string_new("");
    GString *slot_json = g_string_new("");
    unsigned i;

    g_assert_cmpuint(o->slots, <=, SH_MAX_SLOTS);
    g_assert_true(!o->chain_lanes || (o->chardevs && o->json &&
                                      o->chain_lanes <= o->slots));
    memset(h, 0, sizeof(*h));
    h->slots = o->slots;
    h->vtime_ns = o->vtime_ns;
    h->chassis = o->chassis;
    h->up_fd = -1;
    g_queue_init(&h->up_rx);
    /* A private directory (0700), as the switch wants its backplane. */
    h->dir = g_dir_make_tmp("blade-switch-XXXXXX", NULL);
    g_assert_nonnull(h->dir);
    if (o->uplink) {
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
        h->up_fd = sv[0];
        g_assert_cmpint(fcntl(h->up_fd, F_SETFL, O_NONBLOCK), ==, 0);
        up = g_strdup_printf("-netdev socket,id=up,fd=%d ", sv[1]);
    }
    /*
     * Test blades report only when told to, while every wait moves the
     * chassis's clock: reports go stale only in the tests that say so.
     */
    for (i = 0; o->chardevs && i < o->slots; i++) {
        unsigned nslots = o->slots - o->chain_lanes;

        g_string_append_printf(chr, "-chardev socket,id=lane%u,path=%s/"
                               "slot%u.sock,server=on,wait=off ", i, h->dir,
                               i);
        g_string_append_printf(slot_props, ",chardev%u=lane%u", i, i);
        if (i < nslots) {
            g_string_append_printf(slot_json, "\"chardev%u\": \"lane%u\", ",
                                   i, i);
        } else {
            g_string_append_printf(slot_json, "\"chain-chardev%u\": "
                                   "\"lane%u\", ", i - nslots, i);
        }
    }
    if (sh_iothreads && o->slots) {
        unsigned n = MIN(sh_iothreads, o->slots);

        g_assert_null(o->json);
        sh_props_json(io_json, o->props);
        g_string_append_printf(io_json, "%s\"iothreads\": [",
                               io_json->len ? ", " : "");
        for (i = 0; i < n; i++) {
            g_string_append_printf(io_args, "-object iothread,id=sh-io%u ",
                                   i);
            g_string_append_printf(io_json, "%s\"sh-io%u\"", i ? ", " : "",
                                   i);
        }
        g_string_append(io_json, "]");
        json = io_json->str;
    }
    if (json) {
        where = o->chardevs ? g_strdup(slot_json->str) :
                g_strdup_printf("\"backplane\": \"%s\", ", h->dir);
        dev = g_strdup_printf("'{\"driver\": \"blade-switch\", "
                              "\"id\": \"switch\", \"slots\": %u, %s"
                              "\"slot-speed\": 0, \"seed\": 7, "
                              "\"mac\": \"52:54:00:aa:%02x:01\"%s%s%s%s}'",
                              o->slots - o->chain_lanes, where, o->chassis,
                              strstr(json, "\"util-stale\"") ? "" :
                              ", \"util-stale\": 3600000",
                              o->uplink ? ", \"uplink\": \"up\"" : "",
                              *json ? ", " : "", json);
    } else {
        where = o->chardevs ? g_strdup(slot_props->str) :
                g_strdup_printf(",backplane=%s", h->dir);
        dev = g_strdup_printf("blade-switch,id=switch,slots=%u%s,"
                              "slot-speed=0,seed=7,mac=52:54:00:aa:%02x:01"
                              "%s%s%s%s", o->slots, where, o->chassis,
                              o->uplink ? ",uplink=up" : "",
                              o->props && strstr(o->props, "util-stale=") ?
                              "" : ",util-stale=3600000",
                              o->props && *o->props ? "," : "",
                              o->props ? o->props : "");
    }
    h->qts = qtest_initf("-M blade-chassis %s%s%s%s -device %s",
                         up ? up : "", chr->str, io_args->str,
                         o->args ? o->args : "", dev);
    g_string_free(chr, true);
    g_string_free(slot_props, true);
    g_string_free(slot_json, true);
    if (sv[1] >= 0) {
        close(sv[1]);
    }
    for (i = 0; i < o->slots; i++) {
        h->blades[i].h = h;
        h->blades[i].slot = i;
        sh_blade_mac(o->chassis, i, h->blades[i].mac);
        g_queue_init(&h->blades[i].rx);
    }
    if (sh_iothreads && o->slots) {
        sh_check_iothreads(h, MIN(sh_iothreads, o->slots));
    }
}

void sh_start(SwHarness *h, unsigned slots, bool uplink, const char *props)
{
    ShOpts o = { .slots = slots, .uplink = uplink, .props = props };

    sh_start_opts(h, &o);
}

void sh_free_frames(GQueue *q)
{
    g_queue_clear_full(q, g_free);
}

void sh_blade_unplug(ShBlade *b)
{
    lane_free(b->lane);
    b->lane = NULL;
}

void sh_stop(SwHarness *h)
{
    unsigned i;

    qtest_quit(h->qts);
    for (i = 0; i < h->slots; i++) {
        sh_blade_unplug(&h->blades[i]);
        sh_free_frames(&h->blades[i].rx);
    }
    sh_free_frames(&h->up_rx);
    if (h->up_fd >= 0) {
        close(h->up_fd);
    }
    /* The chassis leaves its sockets behind when killed: remove them. */
    for (i = 0; i < h->slots; i++) {
        g_autofree char *p = g_strdup_printf("%s/slot%u.sock", h->dir, i);

        unlink(p);
    }
    rmdir(h->dir);
    g_free(h->dir);
}

/* ---- the test's ends: blades and the uplink network ---------------------- */

static void sh_blade_rx(void *opaque, const uint8_t *frame, size_t len)
{
    ShBlade *b = opaque;
    ShFrame *f;

    if (b->count_only) {
        b->nrx++;
        return;
    }
    f = g_malloc(sizeof(*f) + len);
    f->len = len;
    f->stamp = 0;
    lane_rx_stamp(b->lane, &f->stamp);
    memcpy(f->data, frame, len);
    g_queue_push_tail(&b->rx, f);
    b->nrx++;
}

static bool sh_blade_can_receive(void *opaque)
{
    ShBlade *b = opaque;

    return !b->rx_held;
}

static const LaneOps sh_blade_ops = {
    .rx_frame = sh_blade_rx,
    .can_receive = sh_blade_can_receive,
};

void sh_blade_plug(SwHarness *h, unsigned slot, bool raw)
{
    ShBlade *b = &h->blades[slot];
    g_autofree char *path = g_strdup_printf("%s/slot%u.sock", h->dir, slot);
    LaneConfig cfg;
    int err = 0;

    lane_config_init(&cfg, LANE_ROLE_CLIENT, path);
    cfg.pcs = raw ? LANE_PCS_RAW : LANE_PCS_8B10B;
    cfg.speed_mbps = 0;
    cfg.reconnect_ns = 10 * 1000 * 1000;
    /* blades offer rings; BLADEPLANE_LANE_SHM=off: the stream (benches) */
    if (!g_strcmp0(g_getenv("BLADEPLANE_LANE_SHM"), "off")) {
        cfg.shm = LANE_SHM_OFF;
    }
    /* BLADEPLANE_LANE_DATA_RUNS=off: code groups both ways (benches) */
    if (!g_strcmp0(g_getenv("BLADEPLANE_LANE_DATA_RUNS"), "off")) {
        cfg.data_runs = false;
    }
    if (h->vtime_ns) {
        cfg.vtime = true;
        cfg.vtime_latency_ns = h->vtime_ns;
        /* the switch's side of the rings' handshake waits for its clock */
        cfg.shm = LANE_SHM_OFF;
    }
    b->lane = lane_new(&cfg, &sh_blade_ops, b, sh_now(h), &err);
    g_assert_nonnull(b->lane);
}

static void sh_up_read(SwHarness *h)
{
    for (;;) {
        ssize_t n = read(h->up_fd, h->up_buf + h->up_have,
                         sizeof(h->up_buf) - h->up_have);
        size_t off = 0, len;

        if (n <= 0) {
            return;
        }
        h->up_have += n;
        while (h->up_have - off >= 4) {
            ShFrame *f;

            len = ldl_be_p(h->up_buf + off);
            g_assert_cmpuint(len, <=, SH_MAX_FRAME);
            if (h->up_have - off < 4 + len) {
                break;
            }
            h->up_nrx++;
            if (!h->up_count_only) {
                f = g_malloc(sizeof(*f) + len);
                f->stamp = 0;
                f->len = len;
                memcpy(f->data, h->up_buf + off + 4, len);
                g_queue_push_tail(&h->up_rx, f);
            }
            off += 4 + len;
        }
        memmove(h->up_buf, h->up_buf + off, h->up_have - off);
        h->up_have -= off;
    }
}

void sh_pump_set_ns(SwHarness *const *hs, unsigned n, int64_t ns)
{
    struct pollfd pfd[4 * (SH_MAX_SLOTS * LANE_MAX_FDS + 1)];
    Lane *lane[G_N_ELEMENTS(pfd)];
    SwHarness *owner[G_N_ELEMENTS(pfd)];
    struct timespec ts;
    int np = 0, i, k;
    unsigned c, s;

    g_assert_cmpuint(n, <=, 4);
    for (c = 0; c < n; c++) {
        SwHarness *h = hs[c];
        uint64_t now = sh_now(h);

        for (s = 0; s < h->slots; s++) {
            LaneFd lf[LANE_MAX_FDS];
            Lane *l = h->blades[s].lane;
            uint64_t dl;

            if (!l) {
                continue;
            }
            k = lane_get_fds(l, lf);
            for (i = 0; i < k; i++) {
                pfd[np] = (struct pollfd) { .fd = lf[i].fd,
                                            .events = lf[i].events };
                lane[np] = l;
                owner[np++] = h;
            }
            dl = lane_deadline(l);
            if (dl != LANE_NO_DEADLINE) {
                ns = MIN(ns, dl > now ? (int64_t)(dl - now) : 0);
            }
        }
        if (h->up_fd >= 0) {
            pfd[np] = (struct pollfd) { .fd = h->up_fd, .events = POLLIN };
            lane[np] = NULL;
            owner[np++] = h;
        }
    }
    ts.tv_sec = ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    if (ppoll(pfd, np, &ts, NULL) > 0) {
        for (i = 0; i < np; i++) {
            if (!pfd[i].revents) {
                continue;
            }
            if (lane[i]) {
                lane_handle_io(lane[i], pfd[i].fd, pfd[i].revents,
                               sh_now(owner[i]));
            } else {
                sh_up_read(owner[i]);
            }
        }
    }
    for (c = 0; c < n; c++) {
        uint64_t now = sh_now(hs[c]);

        for (s = 0; s < hs[c]->slots; s++) {
            Lane *l = hs[c]->blades[s].lane;

            if (l && lane_deadline(l) <= now) {
                lane_handle_timer(l, now);
            }
        }
    }
}

void sh_pump_set(SwHarness *const *hs, unsigned n, int ms)
{
    sh_pump_set_ns(hs, n, ms * (int64_t)1000000);
}

void sh_pump(SwHarness *h, int ms)
{
    sh_pump_set(&h, 1, ms);
}

void sh_pump_ns(SwHarness *h, int64_t ns)
{
    sh_pump_set_ns(&h, 1, ns);
}

void sh_dump(SwHarness *h)
{
    QDict *st = sh_state(h);
    GString *js = qobject_to_json_pretty(QOBJECT(st), true);

    g_test_message("switch state: %s", js->str);
    g_string_free(js, true);
    qobject_unref(st);
}

static void sh_wait_stepping(SwHarness *h, ShCond cond, void *arg,
                             const char *what, int64_t step_ns)
{
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (!cond(h, arg)) {
        if (g_get_monotonic_time() > end) {
            sh_dump(h);
            g_error("timed out waiting for %s", what);
        }
        sh_pump(h, 1);
        if (step_ns) {
            qtest_clock_step(h->qts, step_ns);
        }
    }
}

void sh_wait(SwHarness *h, ShCond cond, void *arg, const char *what)
{
    sh_wait_stepping(h, cond, arg, what, 1000000);
}

void sh_wait_still(SwHarness *h, ShCond cond, void *arg, const char *what)
{
    sh_wait_stepping(h, cond, arg, what, 0);
}

void sh_settle(SwHarness *h)
{
    int i;

    for (i = 0; i < 20; i++) {
        sh_pump(h, 1);
        qtest_clock_step(h->qts, 1000000);
    }
}

void sh_blade_send(SwHarness *h, unsigned slot, const uint8_t *frame,
                   size_t len)
{
    ShBlade *b = &h->blades[slot];
    int r;

    while ((r = lane_send_frame(b->lane, frame, len, sh_now(h))) == -EAGAIN) {
        sh_pump(h, 1);
    }
    g_assert_cmpint(r, ==, 0);
    lane_flush(b->lane, sh_now(h));
}

void sh_uplink_send(SwHarness *h, const uint8_t *frame, size_t len)
{
    uint8_t hdr[4];

    stl_be_p(hdr, len);
    g_assert_cmpint(write(h->up_fd, hdr, 4), ==, 4);
    g_assert_cmpint(write(h->up_fd, frame, len), ==, (ssize_t)len);
}

void sh_blade_send_raw(SwHarness *h, unsigned slot, const void *buf, size_t len)
{
    Lane *lane = h->blades[slot].lane;
    LaneFd lf[LANE_MAX_FDS];
    int n = lane_get_fds(lane, lf);

    if (lane_on_rings(lane)) {
        g_assert_cmpint(lane_ring_write(lane_shm_ring(lane), buf, len), ==,
                        (ssize_t)len);
        return;
    }
    g_assert_cmpint(n, >=, 1);
    g_assert_cmpint(write(lf[0].fd, buf, len), ==, (ssize_t)len);
}

ShFrame *sh_pop(GQueue *q)
{
    return g_queue_pop_head(q);
}

/* ---- the switch's state, through QMP ------------------------------------- */

QDict *sh_state(SwHarness *h)
{
    QDict *resp = qtest_qmp(h->qts, "{ 'execute': 'query-blade-switch', "
                            "'arguments': { 'switch': 'switch' } }");
    QDict *st;

    g_assert(qdict_haskey(resp, "return"));
    st = qdict_get_qdict(resp, "return");
    qobject_ref(st);
    qobject_unref(resp);
    return st;
}

QDict *sh_item(QDict *d, const char *key, unsigned i)
{
    QList *l = qdict_get_qlist(d, key);
    QListEntry *e;

    g_assert_nonnull(l);
    QLIST_FOREACH_ENTRY(l, e) {
        if (i-- == 0) {
            return qobject_to(QDict, qlist_entry_obj(e));
        }
    }
    g_error("%s has no element %u", key, i);
}

uint64_t sh_u64(QDict *d, const char *key)
{
    QNum *n = qobject_to(QNum, qdict_get(d, key));
    uint64_t v = 0;

    g_assert_nonnull(n);
    g_assert_true(qnum_get_try_uint(n, &v));
    return v;
}

uint64_t sh_port_stat(SwHarness *h, unsigned port, const char *key)
{
    QDict *st = sh_state(h);
    uint64_t v = sh_u64(sh_item(st, "ports", port), key);

    qobject_unref(st);
    return v;
}

uint64_t sh_blade_stat(SwHarness *h, unsigned slot, const char *key)
{
    QDict *st = sh_state(h);
    uint64_t v = sh_u64(sh_item(st, "blades", slot), key);

    qobject_unref(st);
    return v;
}

bool sh_blade_in_rotation(SwHarness *h, unsigned slot)
{
    QDict *st = sh_state(h);
    bool v = qdict_get_bool(sh_item(st, "blades", slot), "in-rotation");

    qobject_unref(st);
    return v;
}

uint64_t sh_drops(SwHarness *h, const char *why)
{
    QDict *st = sh_state(h);
    uint64_t v = sh_u64(qdict_get_qdict(st, "drops"), why);

    qobject_unref(st);
    return v;
}

bool sh_cond_port_up(SwHarness *h, void *arg)
{
    unsigned slot = GPOINTER_TO_UINT(arg);
    QDict *st;
    bool up;

    if (!lane_is_link_up(h->blades[slot].lane)) {
        return false;
    }
    st = sh_state(h);
    up = qdict_get_bool(sh_item(st, "ports", slot), "link");
    qobject_unref(st);
    return up;
}

bool sh_cond_port_down(SwHarness *h, void *arg)
{
    unsigned slot = GPOINTER_TO_UINT(arg);
    QDict *st = sh_state(h);
    bool up = qdict_get_bool(sh_item(st, "ports", slot), "link");

    qobject_unref(st);
    return !up;
}

void sh_blade_up(SwHarness *h, unsigned slot, bool raw)
{
    sh_blade_plug(h, slot, raw);
    sh_wait(h, sh_cond_port_up, GUINT_TO_POINTER(slot), "slot link up");
}

bool sh_cond_reports(SwHarness *h, void *arg)
{
    ShReportArg *a = arg;

    return sh_blade_stat(h, a->slot, "reports") >= a->reports;
}

void sh_report(SwHarness *h, unsigned slot, unsigned cpu, unsigned irq)
{
    ShReportArg a = { slot, sh_blade_stat(h, slot, "reports") + 1 };

    lane_set_util(h->blades[slot].lane, cpu, irq, sh_now(h));
    sh_wait(h, sh_cond_reports, &a, "utilization report");
}

/* ---- QMP events ---------------------------------------------------------- */

QDict *sh_event_sent(SwHarness *h, const char *name)
{
    qobject_unref(qtest_qmp(h->qts, "{ 'execute': 'query-status' }"));
    return qtest_qmp_event_ref(h->qts, name);
}

QDict *sh_event_data(QDict *ev)
{
    return qdict_get_qdict(ev, "data");
}

/* ---- frames -------------------------------------------------------------- */

size_t sh_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    stw_be_p(f + 12, type);
    return 14;
}

size_t sh_arp_request(uint8_t *f, const uint8_t *sha, const char *spa,
                      const char *tpa)
{
    uint8_t *a = f + sh_eth(f, sh_bcast, sha, 0x0806);

    stw_be_p(a, 1);
    stw_be_p(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    stw_be_p(a + 6, 1);
    memcpy(a + 8, sha, 6);
    g_assert_cmpint(inet_pton(AF_INET, spa, a + 14), ==, 1);
    memset(a + 18, 0, 6);
    g_assert_cmpint(inet_pton(AF_INET, tpa, a + 24), ==, 1);
    return 42;
}

size_t sh_ip_l4(uint8_t *f, const uint8_t *dst_mac, const uint8_t *src_mac,
                uint8_t proto, const char *src, uint16_t sport, const char *dst,
                uint16_t dport, uint8_t tcp_flags, size_t payload)
{
    uint8_t *ip = f + sh_eth(f, dst_mac, src_mac, 0x0800);
    size_t l4 = proto == 6 ? 20 : 8;
    size_t total = 20 + l4 + payload;

    memset(ip, 0, total);
    ip[0] = 0x45;
    stw_be_p(ip + 2, total);
    ip[8] = 64;
    ip[9] = proto;
    g_assert_cmpint(inet_pton(AF_INET, src, ip + 12), ==, 1);
    g_assert_cmpint(inet_pton(AF_INET, dst, ip + 16), ==, 1);
    stw_be_p(ip + 20, sport);
    stw_be_p(ip + 22, dport);
    if (proto == 6) {
        ip[20 + 12] = 5 << 4;
        ip[20 + 13] = tcp_flags;
    } else {
        stw_be_p(ip + 24, 8 + payload);
    }
    return 14 + total;
}

size_t sh_tcp_to_vip(uint8_t *f, uint16_t sport, uint8_t flags)
{
    return sh_ip_l4(f, sh_switch_mac, sh_client_mac, 6, "10.0.2.2", sport,
                    "10.0.2.100", 80, flags, 0);
}

static bool sh_cond_queue(SwHarness *h, void *arg)
{
    ShCount *c = arg;

    return g_queue_get_length(c->q) >= c->n;
}

void sh_wait_frames(SwHarness *h, GQueue *q, unsigned n)
{
    ShCount c = { q, n };

    sh_wait(h, sh_cond_queue, &c, "frames");
}

long sh_rss_kib(QTestState *qts)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status",
                                            (int)qtest_pid(qts));
    g_autofree char *text = NULL;
    const char *p, *end;
    long kib;

    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    p = strstr(text, "VmRSS:");
    g_assert_nonnull(p);
    g_assert_cmpint(qemu_strtol(p + 6, &end, 10, &kib), ==, 0);
    return kib;
}

