/*
 * blade-switch-flood-bench: a chassis under floods, and what its other
 * ports keep forwarding meanwhile.  Prints 'name: value' lines
 * (scripts/bladeplane bench flood; docs/security.md states the bounds).
 *
 * The test process is every blade and the far end of a chain port.  Blade
 * 0 sends 64-octet frames to blade 1 at a fixed offered rate throughout;
 * each phase measures the rate blade 1 receives them at, and the ratio to
 * the rate without a flood is what the other ports keep.  The floods, each
 * as fast as the test process can make it:
 *
 *   mac        blade 2 sends to blade 3 with a random source MAC each frame
 *   lane-loop  a process connects to slot 4's socket and closes, in a loop
 *              (and how many QMP events the switch sent meanwhile)
 *   ctrl       a neighbour on the chain port sends fresh control frames
 *              (a real net/fabric.c speaker announcing 64 blades, whose
 *              latest round, echoing the switch's challenge, goes again
 *              and again, each copy a new frame number: one new
 *              advertisement per frame), the switch without a key
 *   ctrl-key   the same with a key on the switch and a wrong one at the
 *              neighbour (each frame costs the switch an HMAC)
 *   ctrl-keyed then the neighbour restarted with the switch's key: fresh,
 *              authenticated frames, each verified and taken (or refused
 *              and counted, should the switch refuse some)
 *
 * The virtual clock follows wall time, so the switch's timers run as in a
 * live chassis.  The figures are CPU-bound on a shared machine: the test
 * process generating the floods competes with the chassis for the cores.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include <arpa/inet.h>
#include "qemu/bswap.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "libqos/blade-switch-harness.h"
#include <sys/un.h>
#include "qemu/cutils.h"
#include "hw/blade/net/fabric.h"

#define PHASE_S         2.0
#define OFFERED_FPS     20000
#define SLOTS           5
#define CTRL_BLADES     64

static double now_s(void)
{
    return g_get_monotonic_time() / 1e6;
}


/* ---- the chain port's far end: a fabric neighbour ------------------------ */

/*
 * docs/fabric-protocol.md: offsets in a control frame's payload (after the
 * Ethernet header), and its HMAC-SHA256 trailer.
 */
#define NB_ETH_HLEN     14
#define NB_O_LENGTH     8
#define NB_O_PARTS      11
#define NB_O_SEQ        28
#define NB_HMAC_LEN     32

/*
 * A real net/fabric.c speaker at the wall clock, announcing CTRL_BLADES
 * blades, hears the switch and takes part in the handshake: its rounds
 * echo the switch's latest challenge it heard.  The flood is its latest
 * round sent again and again, each copy numbered as a new frame and
 * signed again with the neighbour's key (if it has one), as a chassis
 * holding the key (or any, without one) can: fresh frames, each a new
 * advertisement to the switch.
 */
typedef struct Neighbour {
    int fd;                     /* the socket netdev's other end */
    uint8_t rx[65536];
    size_t rx_have;
    uint8_t tx[4 + FAB_MAX_FRAME];
    size_t tx_len, tx_off;      /* one record being written */
    bool writing;               /* tx holds a record not all written */
    uint8_t round[FAB_MAX_FRAME];   /* the fabric's latest frame */
    size_t round_len;           /* 0: none yet */
    Fabric *fab;
    GHmac *hmac;                /* keyed with its key; NULL: none */
    uint64_t seq;               /* the flood's frame numbers */
    uint64_t sent;
} Neighbour;

static void nb_send(void *opaque, unsigned port, const uint8_t *frame,
                    size_t len)
{
    Neighbour *nb = opaque;

    g_assert_cmpuint(len, <=, FAB_MAX_FRAME);
    /* a round of 64 blades is one frame */
    g_assert_cmpuint(frame[NB_ETH_HLEN + NB_O_PARTS], ==, 1);
    memcpy(nb->round, frame, len);
    nb->round_len = len;
}

static void nb_port_state(void *opaque, unsigned port, bool forwarding,
                          const char *why)
{
}

static const FabOps nb_ops = {
    .send = nb_send,
    .port_state = nb_port_state,
};

/* The neighbour's clock: the host's, as the switch's in real time. */
static uint64_t nb_now(void)
{
    return g_get_monotonic_time() * 1000;
}

/* Its Fabric, a new boot (a new nonce). */
static void nb_fab_new(Neighbour *nb, const char *key)
{
    FabLocalBlade blades[CTRL_BLADES];
    FabConfig fc;
    unsigned i;

    fab_config_init(&fc);
    fc.chassis_id = 99;
    pstrcpy(fc.name, sizeof(fc.name), "flood");
    memcpy(fc.mac, (const uint8_t[]){ 0x52, 0x54, 0x00, 0xee, 0, 99 }, 6);
    if (key) {
        fc.key_len = strlen(key);
        memcpy(fc.key, key, fc.key_len);
        nb->hmac = g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)key,
                              fc.key_len);
    }
    nb->fab = fab_new(&fc, &nb_ops, nb);
    g_assert_nonnull(nb->fab);
    g_assert_cmpint(fab_add_port(nb->fab, "p0"), ==, 0);
    fab_port_link(nb->fab, 0, true, nb_now());
    for (i = 0; i < CTRL_BLADES; i++) {
        memcpy(blades[i].mac, (const uint8_t[]){ 0x52, 0x54, 0x00, 0xee,
                                                 1, i }, 6);
        blades[i].slot = i;
        blades[i].in_rotation = true;
        blades[i].cpu_pct = 1;
        blades[i].irq_pct = 0;
        blades[i].age_ms = 0;
    }
    fab_set_local_at(nb->fab, blades, CTRL_BLADES, nb_now());
}

static void nb_free(Neighbour *nb)
{
    if (nb->fab) {
        fab_free(nb->fab);
        nb->fab = NULL;
    }
    if (nb->hmac) {
        g_hmac_unref(nb->hmac);
        nb->hmac = NULL;
    }
    nb->round_len = 0;
}

static void nb_init(Neighbour *nb, int fd, const char *key)
{
    memset(nb, 0, sizeof(*nb));
    nb->fd = fd;
    nb_fab_new(nb, key);
}

/*
 * The neighbour restarts with another key on the same link.  The stream
 * stays whole: a record it has begun to write is finished (signed with
 * the previous key); what it has read is kept.
 */
static void nb_rekey(Neighbour *nb, const char *key)
{
    nb_free(nb);
    nb_fab_new(nb, key);
}

/* Read what the chassis sent: control frames go to the neighbour. */
static void nb_read(Neighbour *nb)
{
    for (;;) {
        ssize_t n = read(nb->fd, nb->rx + nb->rx_have,
                         sizeof(nb->rx) - nb->rx_have);
        size_t off = 0, len;

        if (n <= 0) {
            return;
        }
        nb->rx_have += n;
        while (nb->rx_have - off >= 4) {
            len = ldl_be_p(nb->rx + off);
            g_assert_cmpuint(len, <=, sizeof(nb->rx) - 4);
            if (nb->rx_have - off < 4 + len) {
                break;
            }
            if (nb->fab && len >= 14 &&
                lduw_be_p(nb->rx + off + 4 + 12) == FAB_ETHERTYPE) {
                fab_input(nb->fab, 0, nb->rx + off + 4, len, nb_now());
            }
            off += 4 + len;
        }
        memmove(nb->rx, nb->rx + off, nb->rx_have - off);
        nb->rx_have -= off;
    }
}

/* The next flood frame in tx: the latest round, a new number, signed. */
static void nb_next_frame(Neighbour *nb)
{
    uint8_t *p = nb->tx + 4 + NB_ETH_HLEN;
    size_t plen;

    stl_be_p(nb->tx, nb->round_len);
    memcpy(nb->tx + 4, nb->round, nb->round_len);
    plen = lduw_be_p(p + NB_O_LENGTH);
    stq_be_p(p + NB_O_SEQ, ++nb->seq);
    if (nb->hmac) {
        GHmac *h = g_hmac_copy(nb->hmac);
        gsize dl = NB_HMAC_LEN;

        g_assert_cmpuint(NB_ETH_HLEN + plen + NB_HMAC_LEN, ==,
                         nb->round_len);
        g_hmac_update(h, p, plen);
        g_hmac_get_digest(h, p + plen, &dl);
        g_hmac_unref(h);
    }
    nb->tx_len = 4 + nb->round_len;
    nb->tx_off = 0;
    nb->writing = true;
}

/* Send flood frames while the socket takes them, up to @budget. */
static void nb_flood(Neighbour *nb, unsigned budget)
{
    if (nb_now() >= fab_deadline(nb->fab)) {
        fab_tick(nb->fab, nb_now());    /* its rounds, at its interval */
    }
    while (budget) {
        ssize_t n;

        if (!nb->writing) {
            if (!nb->round_len) {
                return;                 /* no round to send again yet */
            }
            nb_next_frame(nb);
        }
        n = write(nb->fd, nb->tx + nb->tx_off, nb->tx_len - nb->tx_off);
        if (n <= 0) {
            return;
        }
        nb->tx_off += n;
        if (nb->tx_off == nb->tx_len) {
            nb->writing = false;
            nb->sent++;
            budget--;
        }
    }
}

/* ---- the chassis --------------------------------------------------------- */

typedef struct Bench {
    SwHarness h;
    Neighbour nb;
    uint64_t vclock_wall_ns;    /* wall time the virtual clock was set to */
    uint64_t legit_sent;
    uint64_t legit_rx;          /* blade 1: frames from blade 0 */
    uint64_t qmp_events;        /* BLADE_SWITCH_* events received */
} Bench;

static bool bench_count_event(QTestState *qts, const char *name,
                              QDict *event, void *opaque)
{
    Bench *b = opaque;

    if (g_str_has_prefix(name, "BLADE_SWITCH_")) {
        b->qmp_events++;
    }
    return true;
}

/*
 * Count what blade 1 got from blade 0.  Floods reach it too once its MAC
 * or the flood's destination is evicted (then frames are flooded).
 */
static void bench_count_legit(Bench *b)
{
    ShFrame *f;

    while ((f = sh_pop(&b->h.blades[1].rx))) {
        if (!memcmp(f->data + 6, b->h.blades[0].mac, 6)) {
            b->legit_rx++;
        }
        g_free(f);
    }
}

static void bench_start(Bench *b, bool key)
{
    g_autofree char *args = NULL, *json = NULL;
    ShOpts o = { .slots = SLOTS };
    int sv[2];
    unsigned i;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_assert_cmpint(fcntl(sv[0], F_SETFL, O_NONBLOCK), ==, 0);
    args = g_strdup_printf("-netdev socket,id=c0,fd=%d%s", sv[1],
                           key ? " -object secret,id=fk,data=chassis-key"
                               : "");
    json = g_strdup_printf("\"chain\": [\"c0\"], \"chassis\": \"c1\", "
                           "\"chassis-id\": 1, \"chain-speed\": 0%s",
                           key ? ", \"fabric-key-secret\": \"fk\"" : "");
    o.args = args;
    o.json = json;
    memset(b, 0, sizeof(*b));
    sh_start_opts(&b->h, &o);
    qtest_qmp_set_event_callback(b->h.qts, bench_count_event, b);
    close(sv[1]);
    b->nb.fd = sv[0];
    for (i = 0; i < 4; i++) {
        uint8_t f[64] = { 0 };

        sh_blade_up(&b->h, i, false);
        /* Known MACs: blade 0's frames go to blade 1 only. */
        sh_eth(f, sh_bcast, b->h.blades[i].mac, 0x88b6);
        sh_blade_send(&b->h, i, f, sizeof(f));
        b->h.blades[i].count_only = i != 1;
    }
    sh_settle(&b->h);
    bench_count_legit(b);
    b->vclock_wall_ns = sh_now(&b->h);
}

static void bench_stop(Bench *b)
{
    sh_stop(&b->h);
    close(b->nb.fd);
    nb_free(&b->nb);
}

static QDict *bench_fabric_stats(Bench *b)
{
    QDict *st = sh_state(&b->h);
    QDict *fs = qdict_get_qdict(qdict_get_qdict(st, "fabric"), "stats");

    qobject_ref(fs);
    qobject_unref(st);
    return fs;
}

/* The rx-* counters of the switch's fabric: frames it did not take. */
static uint64_t bench_fabric_refused(QDict *fs)
{
    return sh_u64(fs, "rx-no-echo") + sh_u64(fs, "rx-replayed") +
           sh_u64(fs, "rx-bad-auth") + sh_u64(fs, "rx-unauthenticated") +
           sh_u64(fs, "rx-malformed");
}

typedef enum Flood {
    FLOOD_NONE,
    FLOOD_MAC,
    FLOOD_LANE_LOOP,
    FLOOD_CTRL,
} Flood;

typedef struct Phase {
    double legit_fps;           /* what blade 1 received, per second */
    double sent_fps;            /* what blade 0 could send, per second */
    double flood_per_s;         /* frames or connect/close cycles */
    uint64_t qmp_events;        /* the switch's QMP events meanwhile */
    uint64_t slot1_drops;       /* egress drops at blade 1's port */
} Phase;

static void flood_mac(Bench *b)
{
    uint8_t f[64] = { 0 };
    unsigned i;

    sh_eth(f, b->h.blades[3].mac, b->h.blades[2].mac, 0x88b6);
    for (i = 0; i < 64; i++) {
        uint32_t r = g_random_int();

        /* A locally administered unicast source, new each frame. */
        f[6] = 0x02;
        f[7] = 0xf1;
        stl_be_p(f + 8, r);
        if (lane_send_frame(b->h.blades[2].lane, f, sizeof(f),
                            sh_now(&b->h)) < 0) {
            break;
        }
    }
}

static bool flood_lane_cycle(Bench *b)
{
    g_autofree char *path = g_strdup_printf("%s/slot4.sock", b->h.dir);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    bool ok;

    g_assert_cmpint(fd, >=, 0);
    pstrcpy(sa.sun_path, sizeof(sa.sun_path), path);
    ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

/* Keep the virtual clock with wall time (every 5 ms). */
static void bench_clock(Bench *b)
{
    uint64_t now = sh_now(&b->h);

    if (now - b->vclock_wall_ns >= 5 * 1000 * 1000) {
        qtest_clock_step(b->h.qts, now - b->vclock_wall_ns);
        b->vclock_wall_ns = now;
    }
}

/*
 * Until the switch has taken a frame of the neighbour's: the handshake
 * (it hears the switch's challenge and echoes it) before a measurement.
 */
static void bench_heard(Bench *b)
{
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    QDict *fs = bench_fabric_stats(b);
    uint64_t adverts0 = sh_u64(fs, "rx-adverts"), adverts;

    qobject_unref(fs);
    do {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        nb_flood(&b->nb, 1);
        sh_pump(&b->h, 1);
        nb_read(&b->nb);
        bench_clock(b);
        fs = bench_fabric_stats(b);
        adverts = sh_u64(fs, "rx-adverts");
        qobject_unref(fs);
    } while (adverts == adverts0);
}

static Phase bench_phase(Bench *b, Flood flood)
{
    uint8_t f[64] = { 0 };
    double t0 = now_s(), t;
    uint64_t rx0 = b->legit_rx, sink0 = b->h.blades[3].nrx;
    uint64_t sent0 = b->nb.sent, floods = 0;
    uint64_t drops0 = sh_port_stat(&b->h, 1, "tx-drops");
    uint64_t events0 = b->qmp_events;
    Phase ph;

    sh_eth(f, b->h.blades[1].mac, b->h.blades[0].mac, 0x88b6);
    b->legit_sent = 0;
    while ((t = now_s()) - t0 < PHASE_S) {
        uint64_t due = (t - t0) * OFFERED_FPS;

        while (b->legit_sent < due &&
               lane_send_frame(b->h.blades[0].lane, f, sizeof(f),
                               sh_now(&b->h)) == 0) {
            b->legit_sent++;
        }
        switch (flood) {
        case FLOOD_MAC:
            flood_mac(b);
            floods = b->h.blades[3].nrx - sink0;
            break;
        case FLOOD_LANE_LOOP:
            floods += flood_lane_cycle(b);
            break;
        case FLOOD_CTRL:
            nb_flood(&b->nb, 16);
            floods = b->nb.sent - sent0;
            break;
        case FLOOD_NONE:
            break;
        }
        sh_pump(&b->h, 0);
        bench_count_legit(b);
        nb_read(&b->nb);
        bench_clock(b);
    }
    ph.legit_fps = (b->legit_rx - rx0) / (t - t0);
    ph.sent_fps = b->legit_sent / (t - t0);
    ph.flood_per_s = floods / (t - t0);
    /* Let the queues drain before the next phase. */
    sh_settle(&b->h);
    bench_count_legit(b);
    nb_read(&b->nb);
    ph.slot1_drops = sh_port_stat(&b->h, 1, "tx-drops") - drops0;
    ph.qmp_events = b->qmp_events - events0;
    return ph;
}

static long queue_bound_kib(Bench *b)
{
    QDict *st = sh_state(&b->h);
    uint64_t tables = sh_u64(qdict_get_qdict(st, "mac-table"), "memory") +
                      sh_u64(qdict_get_qdict(st, "flows"), "memory");
    /* docs/security.md: frames in flight per port, default queue-frames */
    uint64_t slot = 32 * 9212 + 256 * 9018 + 160 * 1024;
    uint64_t chain = 32 * 69632 + 256 * 9018 + 64 * 1514;

    qobject_unref(st);
    return (tables + SLOTS * slot + chain) / 1024;
}

int main(int argc, char **argv)
{
    Phase base, mac, loop, ctrl, base_key, ctrl_key, keyed;
    long rss0, rss1, bound, rss_key0, rss_key1, bound_key;
    uint64_t adverts0, bad0, full, refused0;
    double worst;
    QDict *fs, *st;
    Bench b;

    g_test_init(&argc, &argv, NULL);
    if (!g_getenv("QTEST_QEMU_BINARY")) {
        g_setenv("QTEST_QEMU_BINARY", "./qemu-system-x86_64", true);
    }

    /* Without a key: the MAC, lane and control floods. */
    bench_start(&b, false);
    nb_init(&b.nb, b.nb.fd, NULL);
    /* The neighbour is heard once before the measurements. */
    bench_heard(&b);
    rss0 = sh_rss_kib(b.h.qts);
    base = bench_phase(&b, FLOOD_NONE);
    mac = bench_phase(&b, FLOOD_MAC);
    loop = bench_phase(&b, FLOOD_LANE_LOOP);
    /* and again: silent since, it may be forgotten */
    bench_heard(&b);
    fs = bench_fabric_stats(&b);
    adverts0 = sh_u64(fs, "rx-adverts");
    refused0 = bench_fabric_refused(fs);
    qobject_unref(fs);
    ctrl = bench_phase(&b, FLOOD_CTRL);
    fs = bench_fabric_stats(&b);
    printf("flood_ctrl_accepted_per_s: %.0f\n",
           (sh_u64(fs, "rx-adverts") - adverts0) / PHASE_S);
    printf("flood_ctrl_refused_per_s: %.0f\n",
           (bench_fabric_refused(fs) - refused0) / PHASE_S);
    qobject_unref(fs);
    rss1 = sh_rss_kib(b.h.qts);
    bound = queue_bound_kib(&b);
    st = sh_state(&b.h);
    full = sh_u64(qdict_get_qdict(st, "mac-table"), "full");
    qobject_unref(st);
    bench_stop(&b);

    /* With a key, and a neighbour with a wrong one, then the right one. */
    bench_start(&b, true);
    nb_init(&b.nb, b.nb.fd, "not-the-key");
    rss_key0 = sh_rss_kib(b.h.qts);
    base_key = bench_phase(&b, FLOOD_NONE);
    fs = bench_fabric_stats(&b);
    bad0 = sh_u64(fs, "rx-bad-auth");
    qobject_unref(fs);
    ctrl_key = bench_phase(&b, FLOOD_CTRL);
    fs = bench_fabric_stats(&b);
    printf("flood_ctrl_key_refused_per_s: %.0f\n",
           (sh_u64(fs, "rx-bad-auth") - bad0) / PHASE_S);
    qobject_unref(fs);
    nb_rekey(&b.nb, "chassis-key");
    bench_heard(&b);
    fs = bench_fabric_stats(&b);
    adverts0 = sh_u64(fs, "rx-adverts");
    refused0 = bench_fabric_refused(fs);
    qobject_unref(fs);
    keyed = bench_phase(&b, FLOOD_CTRL);
    fs = bench_fabric_stats(&b);
    printf("flood_ctrl_keyed_accepted_per_s: %.0f\n",
           (sh_u64(fs, "rx-adverts") - adverts0) / PHASE_S);
    printf("flood_ctrl_keyed_refused_per_s: %.0f\n",
           (bench_fabric_refused(fs) - refused0) / PHASE_S);
    qobject_unref(fs);
    rss_key1 = sh_rss_kib(b.h.qts);
    bound_key = queue_bound_kib(&b);
    bench_stop(&b);

    printf("flood_offered_fps: %d\n", OFFERED_FPS);
    printf("flood_baseline_fps: %.0f\n", base.legit_fps);
    printf("flood_mac_sources_per_s: %.0f\n", mac.flood_per_s);
    printf("flood_mac_table_evictions: %" PRIu64 "\n", full);
    printf("flood_mac_rate_ratio: %.3f\n", mac.legit_fps / base.legit_fps);
    printf("flood_mac_sent_fps: %.0f\n", mac.sent_fps);
    printf("flood_mac_slot1_tx_drops: %" PRIu64 "\n", mac.slot1_drops);
    printf("flood_lane_cycles_per_s: %.0f\n", loop.flood_per_s);
    printf("flood_lane_rate_ratio: %.3f\n", loop.legit_fps / base.legit_fps);
    printf("flood_lane_qmp_events: %" PRIu64 "\n", loop.qmp_events);
    printf("flood_ctrl_sent_per_s: %.0f\n", ctrl.flood_per_s);
    printf("flood_ctrl_rate_ratio: %.3f\n", ctrl.legit_fps / base.legit_fps);
    printf("flood_ctrl_key_sent_per_s: %.0f\n", ctrl_key.flood_per_s);
    printf("flood_ctrl_key_rate_ratio: %.3f\n",
           ctrl_key.legit_fps / base_key.legit_fps);
    printf("flood_ctrl_keyed_sent_per_s: %.0f\n", keyed.flood_per_s);
    printf("flood_ctrl_keyed_rate_ratio: %.3f\n",
           keyed.legit_fps / base_key.legit_fps);
    worst = MIN(MIN(mac.legit_fps, loop.legit_fps), ctrl.legit_fps) /
            base.legit_fps;
    worst = MIN(worst, MIN(ctrl_key.legit_fps, keyed.legit_fps) /
                       base_key.legit_fps);
    printf("flood_other_ports_rate_ratio: %.3f\n", worst);
    /* the larger growth of the two chassis, against the smaller bound */
    printf("flood_rss_growth_key_kib: %ld\n", rss_key1 - rss_key0);
    printf("flood_rss_growth_kib: %ld\n",
           MAX(rss1 - rss0, rss_key1 - rss_key0));
    printf("flood_rss_bound_kib: %ld\n", MIN(bound, bound_key));
    return 0;
}
