/*
 * Test harness for blade-nic: QEMU under qtest with one blade-nic, driven
 * through its libqos driver (libqos/blade-nic.c), and the test process as
 * the chassis end of the lane (a lane server on a UNIX socket in a
 * temporary directory, driven with poll()).  Used by blade-nic-test,
 * blade-nic-vtime-test, blade-nic-bench and, for the lane alone,
 * blade-nic-qos-test.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADE_NIC_HARNESS_H
#define BLADE_NIC_HARNESS_H

#include "qemu/osdep.h"
#include <poll.h>
#include "qemu/bswap.h"
#include "qobject/qdict.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "libqos/malloc-pc.h"
#include "libqos/blade-nic.h"
#include "hw/pci/pci_regs.h"
#include "hw/blade/blade-nic.h"
#include "hw/blade/net/lane-transport.h"

#define NIC_DEVFN QPCI_DEVFN(4, 0)
#define NH_MAX_FRAMES 64

typedef struct NicHarness {
    QTestState *qts;
    QPCIBus *bus;
    QBladeNic nic;
    QGuestAllocator alloc;
    /* chassis end of the lane */
    Lane *srv;
    char *dir;
    char *path;
    bool srv_raw;
    /* frames the chassis received (the first NH_MAX_FRAMES kept) */
    uint8_t *frames[NH_MAX_FRAMES];
    size_t frame_len[NH_MAX_FRAMES];
    uint64_t frame_stamp[NH_MAX_FRAMES];    /* virtual time: their stamps */
    uint64_t nframes;
    uint64_t nbytes;
    LaneUtil util;
    uint64_t nutil;
} NicHarness;

/* Utilization period of the chassis end (0: it sends none). */
static uint64_t nh_srv_util_ns;
/* does the chassis end take the NIC's shared-memory rings? */
static LaneShm nh_srv_shm = LANE_SHM_ACCEPT;
/*
 * Virtual time (docs/virtual-time.md): the latency of the chassis end's
 * lane, as the NIC's vtime-latency-ns; 0: the chassis end in real time.
 * In virtual time the chassis end's clock is nh_vclock, which moves only
 * with QEMU's virtual clock (nh_vstep()), so that both ends see the same
 * time.
 */
static uint64_t nh_srv_vtime_ns;
static uint64_t nh_vclock;

/* The chassis end's clock: the host's, or in virtual time nh_vclock. */
static inline uint64_t nh_now(void)
{
    return nh_srv_vtime_ns ? nh_vclock : g_get_monotonic_time() * 1000;
}

static inline void nh_srv_frame(void *opaque, const uint8_t *f, size_t len)
{
    NicHarness *h = opaque;

    if (h->nframes < NH_MAX_FRAMES) {
        h->frames[h->nframes] = g_memdup2(f, len);
        h->frame_len[h->nframes] = len;
        h->frame_stamp[h->nframes] = 0;
        lane_rx_stamp(h->srv, &h->frame_stamp[h->nframes]);
    }
    h->nframes++;
    h->nbytes += len;
}

static inline void nh_srv_util(void *opaque, const LaneUtil *u)
{
    NicHarness *h = opaque;

    h->util = *u;
    h->nutil++;
}

static const LaneOps nh_srv_ops = {
    .rx_frame = nh_srv_frame,
    .rx_util = nh_srv_util,
};

/* Run the chassis end for up to @ms milliseconds of poll(). */
static inline void nh_pump(NicHarness *h, int ms)
{
    LaneFd lf[LANE_MAX_FDS];
    struct pollfd pfd[LANE_MAX_FDS];
    uint64_t dl;
    int n, i, r;

    if (!h->srv) {
        return;
    }
    n = lane_get_fds(h->srv, lf);
    for (i = 0; i < n; i++) {
        pfd[i].fd = lf[i].fd;
        pfd[i].events = lf[i].events;
        pfd[i].revents = 0;
    }
    dl = lane_deadline(h->srv);
    if (dl != LANE_NO_DEADLINE) {
        uint64_t now = nh_now();
        int wait = dl > now ? (dl - now) / 1000000 : 0;

        ms = MIN(ms, wait);
    }
    r = poll(pfd, n, ms);
    for (i = 0; r > 0 && i < n; i++) {
        if (pfd[i].revents) {
            lane_handle_io(h->srv, pfd[i].fd, pfd[i].revents, nh_now());
        }
    }
    if (lane_deadline(h->srv) <= nh_now()) {
        lane_handle_timer(h->srv, nh_now());
    }
}

static inline uint32_t nh_rd(NicHarness *h, uint64_t reg)
{
    return qblade_nic_readl(&h->nic, reg);
}

static inline void nh_wr(NicHarness *h, uint64_t reg, uint32_t val)
{
    qblade_nic_writel(&h->nic, reg, val);
}

static inline uint64_t nh_stat(NicHarness *h, unsigned i)
{
    return qblade_nic_stat(&h->nic, i);
}

/* A temporary directory for the lane's socket, h->path (slot0.sock). */
static inline void nh_lane_dir(NicHarness *h)
{
    h->dir = g_dir_make_tmp("blade-nic-XXXXXX", NULL);
    g_assert_nonnull(h->dir);
    h->path = g_strdup_printf("%s/slot0.sock", h->dir);
}

/* The chassis end: a lane server on h->path, in virtual time if set. */
static inline void nh_srv_start(NicHarness *h, bool raw)
{
    LaneConfig cfg;
    int err = 0;

    h->srv_raw = raw;
    lane_config_init(&cfg, LANE_ROLE_SERVER, h->path);
    cfg.pcs = raw ? LANE_PCS_RAW : LANE_PCS_8B10B;
    cfg.speed_mbps = 0;
    cfg.util_interval_ns = nh_srv_util_ns;
    cfg.shm = nh_srv_shm;
    cfg.vtime = nh_srv_vtime_ns != 0;
    cfg.vtime_latency_ns = nh_srv_vtime_ns;
    nh_vclock = 0;
    h->srv = lane_new(&cfg, &nh_srv_ops, h, nh_now(), &err);
    g_assert_nonnull(h->srv);
}

/*
 * QEMU with "-device blade-nic,addr=04.0@dev @qemu_extra" (both may be
 * NULL), and the harness's view of its PCI function.
 */
static inline void nh_qemu_start(NicHarness *h, const char *dev,
                                 const char *qemu_extra)
{
    h->qts = qtest_initf("-M q35 -m 256M -device blade-nic,addr=04.0%s %s",
                         dev ? dev : "", qemu_extra ? qemu_extra : "");
    h->bus = qpci_new_pc(h->qts, NULL);
    pc_alloc_init(&h->alloc, h->qts, ALLOC_NO_FLAGS);
    qblade_nic_init(&h->nic, h->bus, NIC_DEVFN, &h->alloc);
}

/*
 * Start the lane server (if @server) and QEMU with a blade-nic whose lane
 * is the server's socket (if @lane).  @extra is appended to the -device
 * option.
 */
static inline void nh_start_full(NicHarness *h, bool lane, bool server,
                                 bool raw, const char *extra,
                                 const char *qemu_extra)
{
    g_autofree char *dev = NULL;

    memset(h, 0, sizeof(*h));
    h->srv_raw = raw;
    if (lane) {
        nh_lane_dir(h);
    }
    if (server) {
        nh_srv_start(h, raw);
    }
    dev = g_strdup_printf("%s%s%s%s", lane ? ",backplane=" : "",
                          lane ? h->dir : "", lane ? ",slot=0" : "",
                          extra ? extra : "");
    nh_qemu_start(h, dev, qemu_extra);
}

static inline void nh_start(NicHarness *h, const char *extra)
{
    nh_start_full(h, false, false, false, extra, NULL);
}

static inline void nh_stop(NicHarness *h)
{
    unsigned i;

    qblade_nic_destroy(&h->nic);
    alloc_destroy(&h->alloc);
    qpci_free_pc(h->bus);
    qtest_quit(h->qts);
    lane_free(h->srv);
    for (i = 0; i < MIN(h->nframes, NH_MAX_FRAMES); i++) {
        g_free(h->frames[i]);
    }
    if (h->path) {
        unlink(h->path);
        rmdir(h->dir);
    }
    g_free(h->path);
    g_free(h->dir);
    nh_srv_vtime_ns = 0;
}

/*
 * Virtual time: move QEMU's virtual clock and the chassis end's by @ns,
 * together.
 *
 * The NIC's gate (blade_lane_vtime_gate()) holds QEMU's clock at the
 * lane's horizon, the chassis end's latest promise or stamp plus the
 * latency: a clock_step that reaches it runs the gate's timer, which
 * blocks QEMU's main loop (and so this qtest command) in poll() until
 * the chassis promises more, or vtime-wait-ms runs out and QEMU shuts
 * down.  This process is the chassis and answers only after the step.
 * So the chassis end first promises what puts the horizon just past the
 * target, now + @ns - latency + 1 (nothing it sends later is stamped
 * earlier: its clock is the target by then), and flushes it into the
 * shared-memory rings, where the gate reads it itself, whether or not
 * QEMU's main loop has polled the rings' wake-up socket.  On the
 * chardev's stream the gate could not read it: it would wait on the
 * rings, or without them stop the VM, and the clock would jump to the
 * target without running the device's timers.  So step only once the
 * chassis end has accepted the NIC's rings (LaneStats.shm_up): what it
 * sends goes into them from then on.  Then QEMU's clock steps, the
 * chassis end's clock follows, and it takes the NIC's records due by
 * then.  A chassis that steps without promising is a silent peer.
 */
static inline void nh_vstep(NicHarness *h, uint64_t ns)
{
    uint64_t target = nh_vclock + ns;

    g_assert_cmpuint(nh_srv_vtime_ns, >, 0);
    g_assert_nonnull(lane_shm_ring(h->srv));
    if (target + 1 > nh_srv_vtime_ns) {
        lane_vtime_promise(h->srv, target + 1 - nh_srv_vtime_ns, nh_vclock);
    }
    lane_flush(h->srv, nh_vclock);
    g_assert_cmpint(qtest_clock_step(h->qts, ns), ==, target);
    nh_vclock = target;
    nh_pump(h, 0);
}

/* Step QEMU's virtual clock, in virtual time with the chassis end's. */
static inline void nh_clock_step(NicHarness *h, int64_t ns)
{
    if (nh_srv_vtime_ns) {
        nh_vstep(h, ns);
    } else {
        qtest_clock_step(h->qts, ns);
    }
}

typedef bool (*NhCond)(NicHarness *h, void *arg);

/*
 * Pump the chassis end until @cond holds; each round also steps QEMU's
 * virtual clock by @step_ns (0: not at all; nh_clock_step()).  Fails the
 * test after 5 s.
 */
static inline void nh_wait(NicHarness *h, NhCond cond, void *arg,
                           int64_t step_ns, const char *what)
{
    gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (!cond(h, arg)) {
        if (g_get_monotonic_time() > end) {
            g_error("timed out waiting for %s", what);
        }
        nh_pump(h, 2);
        if (step_ns) {
            nh_clock_step(h, step_ns);
        }
    }
}

static inline bool nh_cond_link_up(NicHarness *h, void *arg)
{
    return lane_is_link_up(h->srv) &&
           (nh_rd(h, BLADE_NIC_REG_STATUS) & BLADE_NIC_STATUS_LINK_UP);
}

static inline bool nh_cond_link_down(NicHarness *h, void *arg)
{
    return !(nh_rd(h, BLADE_NIC_REG_STATUS) & BLADE_NIC_STATUS_LINK_UP);
}

static inline bool nh_cond_frames(NicHarness *h, void *arg)
{
    return h->nframes >= *(uint64_t *)arg;
}

static inline bool nh_cond_rx_frames(NicHarness *h, void *arg)
{
    nh_pump(h, 0);
    return nh_stat(h, BLADE_NIC_STAT_RX_FRAMES) +
           nh_stat(h, BLADE_NIC_STAT_RX_NOBUF) +
           nh_stat(h, BLADE_NIC_STAT_RX_FILTERED) +
           nh_stat(h, BLADE_NIC_STAT_RX_LEN_ERRORS) >= *(uint64_t *)arg;
}

static inline void nh_link_up(NicHarness *h)
{
    nh_wait(h, nh_cond_link_up, NULL, 1000000, "link up");
}

/* A bool or integer QOM property of the NIC (QMP qom-get). */
static inline uint64_t nic_qom_u64(NicHarness *h, const char *prop)
{
    QDict *r = qtest_qmp(h->qts, "{'execute': 'qom-get', 'arguments': {"
                         "'path': '/machine/peripheral-anon/device[0]', "
                         "'property': %s}}", prop);
    uint64_t v;

    g_assert(qdict_haskey(r, "return"));
    v = qobject_type(qdict_get(r, "return")) == QTYPE_QBOOL ?
        qdict_get_bool(r, "return") : qdict_get_int(r, "return");
    qobject_unref(r);
    return v;
}

static inline void nh_desc(NicHarness *h, uint64_t ring, uint32_t idx,
                           uint64_t addr, uint16_t len, uint16_t flags)
{
    qblade_nic_desc(&h->nic, ring, idx, addr, len, flags);
}

static inline void nh_desc_wb(NicHarness *h, uint64_t ring, uint32_t idx,
                              uint16_t *len, uint16_t *status)
{
    qblade_nic_desc_wb(&h->nic, ring, idx, len, status);
}

static inline void nh_rings(NicHarness *h, uint32_t tx_size, uint32_t rx_size)
{
    qblade_nic_rings(&h->nic, tx_size, rx_size);
}

static inline void nh_tx_queue(NicHarness *h, const uint8_t *frame,
                               uint16_t len)
{
    qblade_nic_tx_queue(&h->nic, frame, len);
}

static inline void nh_tx_kick(NicHarness *h)
{
    qblade_nic_tx_kick(&h->nic);
}

static inline void nh_make_frame(uint8_t *f, size_t len, const uint8_t *dst,
                                 const uint8_t *src, uint8_t seed)
{
    size_t i;

    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = 0x88;
    f[13] = 0xb5;
    for (i = 14; i < len; i++) {
        f[i] = (uint8_t)(seed + i * 7);
    }
}

/* The chassis sends a frame to the NIC and flushes it. */
static inline void nh_srv_send(NicHarness *h, const uint8_t *f, size_t len)
{
    int r;

    while ((r = lane_send_frame(h->srv, f, len, nh_now())) == -EAGAIN) {
        nh_pump(h, 1);
    }
    g_assert_cmpint(r, ==, 0);
    lane_flush(h->srv, nh_now());
}

static inline void nh_mac(NicHarness *h, uint8_t *mac)
{
    qblade_nic_mac(&h->nic, mac);
}

#endif
