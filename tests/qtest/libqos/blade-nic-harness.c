/*
 * Test harness for blade-nic (blade-nic-harness.h says what it is).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "blade-nic-harness.h"

uint64_t nh_now(NicHarness *h)
{
    return h->srv_vtime_ns ? h->vclock : g_get_monotonic_time() * 1000;
}

static void nh_srv_frame(void *opaque, const uint8_t *f, size_t len)
{
    NicHarness *h = opaque;
    uint64_t stamp;

    if (lane_rx_stamp(h->srv, &stamp)) {
        h->last_stamp = MAX(h->last_stamp, stamp);
    }
    if (h->nframes < NH_MAX_FRAMES) {
        h->frames[h->nframes] = g_memdup2(f, len);
        h->frame_len[h->nframes] = len;
        h->frame_stamp[h->nframes] = 0;
        lane_rx_stamp(h->srv, &h->frame_stamp[h->nframes]);
    }
    h->nframes++;
    h->nbytes += len;
}

static void nh_srv_util(void *opaque, const LaneUtil *u)
{
    NicHarness *h = opaque;

    h->util = *u;
    h->nutil++;
}

const LaneOps nh_srv_ops = {
    .rx_frame = nh_srv_frame,
    .rx_util = nh_srv_util,
};

void nh_pump(NicHarness *h, int ms)
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
        uint64_t now = nh_now(h);
        int wait = dl > now ? (dl - now) / 1000000 : 0;

        ms = MIN(ms, wait);
    }
    r = poll(pfd, n, ms);
    for (i = 0; r > 0 && i < n; i++) {
        if (pfd[i].revents) {
            lane_handle_io(h->srv, pfd[i].fd, pfd[i].revents, nh_now(h));
        }
    }
    if (lane_deadline(h->srv) <= nh_now(h)) {
        lane_handle_timer(h->srv, nh_now(h));
    }
}

uint32_t nh_rd(NicHarness *h, uint64_t reg)
{
    return qblade_nic_readl(&h->nic, reg);
}

void nh_wr(NicHarness *h, uint64_t reg, uint32_t val)
{
    qblade_nic_writel(&h->nic, reg, val);
}

uint64_t nh_stat(NicHarness *h, unsigned i)
{
    return qblade_nic_stat(&h->nic, i);
}

void nh_lane_dir(NicHarness *h)
{
    h->dir = g_dir_make_tmp("blade-nic-XXXXXX", NULL);
    g_assert_nonnull(h->dir);
    h->path = g_strdup_printf("%s/slot0.sock", h->dir);
}

void nh_srv_start(NicHarness *h, bool raw)
{
    LaneConfig cfg;
    int err = 0;

    h->srv_raw = raw;
    lane_config_init(&cfg, LANE_ROLE_SERVER, h->path);
    cfg.pcs = raw ? LANE_PCS_RAW : LANE_PCS_8B10B;
    cfg.speed_mbps = 0;
    cfg.util_interval_ns = h->srv_util_ns;
    cfg.shm = h->srv_no_shm ? LANE_SHM_OFF : LANE_SHM_ACCEPT;
    cfg.vtime = h->srv_vtime_ns != 0;
    cfg.vtime_latency_ns = h->srv_vtime_ns;
    h->vclock = h->vstart;
    h->srv = lane_new(&cfg, &nh_srv_ops, h, nh_now(h), &err);
    g_assert_nonnull(h->srv);
}

void nh_qemu_start(NicHarness *h, const char *dev, const char *qemu_extra)
{
    h->qts = qtest_initf("-M q35 -m 256M -device blade-nic,addr=04.0%s %s",
                         dev ? dev : "", qemu_extra ? qemu_extra : "");
    h->bus = qpci_new_pc(h->qts, NULL);
    pc_alloc_init(&h->alloc, h->qts, ALLOC_NO_FLAGS);
    qblade_nic_init(&h->nic, h->bus, NIC_DEVFN, &h->alloc);
}

void nh_start_opts(NicHarness *h, const NhOpts *o)
{
    g_autofree char *dev = NULL;

    memset(h, 0, sizeof(*h));
    h->srv_raw = o->raw;
    h->srv_util_ns = o->srv_util_ns;
    h->srv_no_shm = o->srv_no_shm;
    if (o->lane) {
        nh_lane_dir(h);
    }
    if (o->server) {
        nh_srv_start(h, o->raw);
    }
    dev = g_strdup_printf("%s%s%s%s", o->lane ? ",backplane=" : "",
                          o->lane ? h->dir : "", o->lane ? ",slot=0" : "",
                          o->dev ? o->dev : "");
    nh_qemu_start(h, dev, o->qemu);
}

void nh_start_full(NicHarness *h, bool lane, bool server, bool raw,
                   const char *extra, const char *qemu_extra)
{
    NhOpts o = { .lane = lane, .server = server, .raw = raw, .dev = extra,
                 .qemu = qemu_extra };

    nh_start_opts(h, &o);
}

void nh_start(NicHarness *h, const char *extra)
{
    nh_start_full(h, false, false, false, extra, NULL);
}

void nh_stop(NicHarness *h)
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
}

/*
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
void nh_vstep(NicHarness *h, uint64_t ns)
{
    uint64_t target = h->vclock + ns;

    g_assert_cmpuint(h->srv_vtime_ns, >, 0);
    g_assert_nonnull(lane_shm_ring(h->srv));
    if (target + 1 > h->srv_vtime_ns) {
        lane_vtime_promise(h->srv, target + 1 - h->srv_vtime_ns, h->vclock);
    }
    lane_flush(h->srv, h->vclock);
    g_assert_cmpint(qtest_clock_step(h->qts, ns), ==, target - h->vstart);
    h->vclock = target;
    nh_pump(h, 0);
}

void nh_clock_step(NicHarness *h, int64_t ns)
{
    if (h->srv_vtime_ns) {
        nh_vstep(h, ns);
    } else {
        qtest_clock_step(h->qts, ns);
    }
}

typedef bool (*NhCond)(NicHarness *h, void *arg);

void nh_wait(NicHarness *h, NhCond cond, void *arg, int64_t step_ns,
             const char *what)
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

bool nh_cond_link_up(NicHarness *h, void *arg)
{
    return lane_is_link_up(h->srv) &&
           (nh_rd(h, BLADE_NIC_REG_STATUS) & BLADE_NIC_STATUS_LINK_UP);
}

bool nh_cond_link_down(NicHarness *h, void *arg)
{
    return !(nh_rd(h, BLADE_NIC_REG_STATUS) & BLADE_NIC_STATUS_LINK_UP);
}

bool nh_cond_frames(NicHarness *h, void *arg)
{
    return h->nframes >= *(uint64_t *)arg;
}

bool nh_cond_rx_frames(NicHarness *h, void *arg)
{
    nh_pump(h, 0);
    return nh_stat(h, BLADE_NIC_STAT_RX_FRAMES) +
           nh_stat(h, BLADE_NIC_STAT_RX_NOBUF) +
           nh_stat(h, BLADE_NIC_STAT_RX_FILTERED) +
           nh_stat(h, BLADE_NIC_STAT_RX_LEN_ERRORS) >= *(uint64_t *)arg;
}

void nh_link_up(NicHarness *h)
{
    nh_wait(h, nh_cond_link_up, NULL, 1000000, "link up");
}

uint64_t nh_qom_u64(NicHarness *h, const char *prop)
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

void nh_desc(NicHarness *h, uint64_t ring, uint32_t idx, uint64_t addr,
             uint16_t len, uint16_t flags)
{
    qblade_nic_desc(&h->nic, ring, idx, addr, len, flags);
}

void nh_desc_wb(NicHarness *h, uint64_t ring, uint32_t idx, uint16_t *len,
                uint16_t *status)
{
    qblade_nic_desc_wb(&h->nic, ring, idx, len, status);
}

void nh_rings(NicHarness *h, uint32_t tx_size, uint32_t rx_size)
{
    qblade_nic_rings(&h->nic, tx_size, rx_size);
}

void nh_tx_queue(NicHarness *h, const uint8_t *frame, uint16_t len)
{
    qblade_nic_tx_queue(&h->nic, frame, len);
}

void nh_tx_kick(NicHarness *h)
{
    qblade_nic_tx_kick(&h->nic);
}

void nh_make_frame(uint8_t *f, size_t len, const uint8_t *dst,
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

void nh_srv_send(NicHarness *h, const uint8_t *f, size_t len)
{
    int r;

    while ((r = lane_send_frame(h->srv, f, len, nh_now(h))) == -EAGAIN) {
        nh_pump(h, 1);
    }
    g_assert_cmpint(r, ==, 0);
    lane_flush(h->srv, nh_now(h));
}

void nh_mac(NicHarness *h, uint8_t *mac)
{
    qblade_nic_mac(&h->nic, mac);
}

