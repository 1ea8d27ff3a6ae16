/*
 * Test harness for blade-nic: QEMU under qtest with one blade-nic, the
 * test process as the chassis end of the lane (a lane server on a UNIX
 * socket in a temporary directory, driven with poll()), and helpers for
 * registers, rings and counters.  Used by blade-nic-test and
 * blade-nic-bench.
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
#include "hw/pci/pci_regs.h"
#include "hw/blade/blade-nic.h"
#include "hw/blade/net/lane-transport.h"

#define NIC_DEVFN QPCI_DEVFN(4, 0)
#define NH_MAX_FRAMES 64
#define NH_BUF_SIZE 2048

typedef struct NicHarness {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar bar0;
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
    /* rings in guest memory */
    uint64_t tx_ring, rx_ring, tx_bufs, rx_bufs;
    uint32_t tx_size, rx_size, tx_tail, rx_tail;
    uint64_t mmio_ops;
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
    h->mmio_ops++;
    return qpci_io_readl(h->dev, h->bar0, reg);
}

static inline void nh_wr(NicHarness *h, uint64_t reg, uint32_t val)
{
    h->mmio_ops++;
    qpci_io_writel(h->dev, h->bar0, reg, val);
}

static inline uint64_t nh_stat(NicHarness *h, unsigned i)
{
    uint64_t lo = nh_rd(h, BLADE_NIC_REG_STAT_BASE + 8 * i);

    return lo | (uint64_t)nh_rd(h, BLADE_NIC_REG_STAT_BASE + 8 * i + 4) << 32;
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
    uint64_t bar_size;

    h->qts = qtest_initf("-M q35 -m 256M -device blade-nic,addr=04.0%s %s",
                         dev ? dev : "", qemu_extra ? qemu_extra : "");
    h->bus = qpci_new_pc(h->qts, NULL);
    h->dev = qpci_device_find(h->bus, NIC_DEVFN);
    g_assert_nonnull(h->dev);
    qpci_device_enable(h->dev);
    h->bar0 = qpci_iomap(h->dev, 0, &bar_size);
    g_assert_cmpuint(bar_size, ==, BLADE_NIC_BAR0_SIZE);
    pc_alloc_init(&h->alloc, h->qts, ALLOC_NO_FLAGS);
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

    alloc_destroy(&h->alloc);
    g_free(h->dev);
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

/* Descriptor helpers */
static inline void nh_desc(NicHarness *h, uint64_t ring, uint32_t idx,
                           uint64_t addr, uint16_t len, uint16_t flags)
{
    uint8_t d[BLADE_NIC_DESC_SIZE] = { 0 };

    stq_le_p(d, addr);
    stw_le_p(d + BLADE_NIC_DESC_BUF_LEN, len);
    stw_le_p(d + BLADE_NIC_DESC_FLAGS, flags);
    qtest_memwrite(h->qts, ring + idx * BLADE_NIC_DESC_SIZE, d, sizeof(d));
}

static inline void nh_desc_wb(NicHarness *h, uint64_t ring, uint32_t idx,
                              uint16_t *len, uint16_t *status)
{
    uint8_t d[BLADE_NIC_DESC_SIZE];

    qtest_memread(h->qts, ring + idx * BLADE_NIC_DESC_SIZE, d, sizeof(d));
    *len = lduw_le_p(d + BLADE_NIC_DESC_LEN);
    *status = lduw_le_p(d + BLADE_NIC_DESC_STATUS);
}

/* Allocate and program both rings (buffers of NH_BUF_SIZE), enable. */
static inline void nh_rings(NicHarness *h, uint32_t tx_size, uint32_t rx_size)
{
    uint32_t i;

    h->tx_size = tx_size;
    h->rx_size = rx_size;
    h->tx_ring = guest_alloc(&h->alloc, tx_size * BLADE_NIC_DESC_SIZE);
    h->rx_ring = guest_alloc(&h->alloc, rx_size * BLADE_NIC_DESC_SIZE);
    h->tx_bufs = guest_alloc(&h->alloc, tx_size * NH_BUF_SIZE);
    h->rx_bufs = guest_alloc(&h->alloc, rx_size * NH_BUF_SIZE);
    qtest_memset(h->qts, h->tx_ring, 0, tx_size * BLADE_NIC_DESC_SIZE);
    for (i = 0; i < rx_size; i++) {
        nh_desc(h, h->rx_ring, i, h->rx_bufs + i * NH_BUF_SIZE, NH_BUF_SIZE,
                0);
    }
    nh_wr(h, BLADE_NIC_REG_TX_BASE_LO, (uint32_t)h->tx_ring);
    nh_wr(h, BLADE_NIC_REG_TX_BASE_HI, h->tx_ring >> 32);
    nh_wr(h, BLADE_NIC_REG_TX_SIZE, tx_size);
    nh_wr(h, BLADE_NIC_REG_RX_BASE_LO, (uint32_t)h->rx_ring);
    nh_wr(h, BLADE_NIC_REG_RX_BASE_HI, h->rx_ring >> 32);
    nh_wr(h, BLADE_NIC_REG_RX_SIZE, rx_size);
    nh_wr(h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_TXEN | BLADE_NIC_CTRL_RXEN);
    h->tx_tail = 0;
    h->rx_tail = rx_size - 1;
    nh_wr(h, BLADE_NIC_REG_RX_TAIL, h->rx_tail);
}

/* Queue one frame in one TX descriptor (buffer of that slot); no kick. */
static inline void nh_tx_queue(NicHarness *h, const uint8_t *frame,
                               uint16_t len)
{
    uint64_t buf = h->tx_bufs + h->tx_tail * NH_BUF_SIZE;

    g_assert_cmpuint(len, <=, NH_BUF_SIZE);
    qtest_memwrite(h->qts, buf, frame, len);
    nh_desc(h, h->tx_ring, h->tx_tail, buf, len, BLADE_NIC_DFLAG_EOP);
    h->tx_tail = (h->tx_tail + 1) % h->tx_size;
}

static inline void nh_tx_kick(NicHarness *h)
{
    nh_wr(h, BLADE_NIC_REG_TX_TAIL, h->tx_tail);
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
    uint32_t lo = nh_rd(h, BLADE_NIC_REG_MAC_LO);
    uint32_t hi = nh_rd(h, BLADE_NIC_REG_MAC_HI);

    stl_le_p(mac, lo);
    stw_le_p(mac + 4, hi);
}

#endif
