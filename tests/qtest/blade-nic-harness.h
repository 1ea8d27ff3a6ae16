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

static inline uint64_t nh_now(void)
{
    return g_get_monotonic_time() * 1000;
}

static inline void nh_srv_frame(void *opaque, const uint8_t *f, size_t len)
{
    NicHarness *h = opaque;

    if (h->nframes < NH_MAX_FRAMES) {
        h->frames[h->nframes] = g_memdup2(f, len);
        h->frame_len[h->nframes] = len;
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

/*
 * Start the lane server (unless @no_server) and QEMU with a blade-nic
 * whose lane is the server's socket (unless @no_lane).  @extra is
 * appended to the -device option.
 */
static inline void nh_start_full(NicHarness *h, bool lane, bool server,
                                 bool raw, const char *extra,
                                 const char *qemu_extra)
{
    uint64_t bar_size;

    memset(h, 0, sizeof(*h));
    h->srv_raw = raw;
    if (lane) {
        h->dir = g_dir_make_tmp("blade-nic-XXXXXX", NULL);
        g_assert_nonnull(h->dir);
        h->path = g_strdup_printf("%s/slot0.sock", h->dir);
    }
    if (server) {
        LaneConfig cfg;
        int err = 0;

        lane_config_init(&cfg, LANE_ROLE_SERVER, h->path);
        cfg.pcs = raw ? LANE_PCS_RAW : LANE_PCS_8B10B;
        cfg.speed_mbps = 0;
        cfg.util_interval_ns = nh_srv_util_ns;
        cfg.shm = nh_srv_shm;
        h->srv = lane_new(&cfg, &nh_srv_ops, h, nh_now(), &err);
        g_assert_nonnull(h->srv);
    }
    h->qts = qtest_initf("-M q35 -m 256M -device blade-nic,addr=04.0%s%s%s%s "
                         "%s",
                         lane ? ",backplane=" : "", lane ? h->dir : "",
                         lane ? ",slot=0" : "",
                         extra ? extra : "", qemu_extra ? qemu_extra : "");
    h->bus = qpci_new_pc(h->qts, NULL);
    h->dev = qpci_device_find(h->bus, NIC_DEVFN);
    g_assert_nonnull(h->dev);
    qpci_device_enable(h->dev);
    h->bar0 = qpci_iomap(h->dev, 0, &bar_size);
    g_assert_cmpuint(bar_size, ==, BLADE_NIC_BAR0_SIZE);
    pc_alloc_init(&h->alloc, h->qts, ALLOC_NO_FLAGS);
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
}

typedef bool (*NhCond)(NicHarness *h, void *arg);

/*
 * Pump the chassis end until @cond holds; each round also steps QEMU's
 * virtual clock by @step_ns (0: not at all).  Fails the test after 5 s.
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
            qtest_clock_step(h->qts, step_ns);
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
