/*
 * qtest for blade-nic in virtual time (timing=virtual, docs/virtual-time.md,
 * docs/blade-nic.md section 13) under the qtest accelerator.  The test
 * process is both the chassis end of the lane (a lane server in virtual
 * time with the same latency) and the clock: it promises ahead before it
 * steps QEMU's virtual clock (nh_vstep() in libqos/blade-nic-harness.c).
 *
 * Covered: a frame takes effect exactly at its stamp plus the latency,
 * and the guest's frames carry QEMU's clock; a chassis that stamps in the
 * past or promises backwards is counted and cut, and what it sent is
 * never taken (a chassis that breaks a quiet promise too); the guest
 * never sees SHM_KICKS; a computing guest promises on a grid of
 * vtime-promise-ns; a NIC restarted in the middle of a run
 * (vtime-start-ns) keeps the exact times, shifted; a new chassis that
 * starts at the NIC's vtime-rejoin-ns does too, and one that starts
 * earlier is cut; a chassis that stops
 * promising makes QEMU shut down within vtime-wait-ms, with a line naming
 * the chardev.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include "qobject/qdict.h"
#include "fcs.h"
#include "lane-ring.h"
#include "qemu/bswap.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "libqos/blade-nic-harness.h"

/* vtime-latency-ns of the NIC, and the chassis end's latency */
#define VT_L 50000u

static const uint8_t peer[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

static bool vm_running(NicHarness *h)
{
    QDict *r = qtest_qmp(h->qts, "{'execute': 'query-status'}");
    bool running = qdict_get_bool(qdict_get_qdict(r, "return"), "running");

    qobject_unref(r);
    return running;
}

/*
 * The lane is in virtual time at both ends, the chassis end took the
 * NIC's shared-memory rings (so that what it sends from then on, the
 * promises of nh_vstep() among it, goes where the NIC's gate reads it),
 * and the gate has let the VM run: QEMU's clock may step.  The rest of
 * the switch to the rings waits for the clock: each end holds the
 * other's first stamped records, and what came after them (the
 * acceptance, the switch) until their delivery time, a latency after
 * the connection.  At that time the NIC's gate meets the rings for the
 * first time and reads the chassis's promise there.  @arg: the ring
 * sessions the chassis end must have accepted.
 */
static bool cond_vt_ready(NicHarness *h, void *arg)
{
    return lane_vtime_active(h->srv) &&
           lane_stats(h->srv)->shm_up >= *(uint64_t *)arg &&
           vm_running(h);
}

/*
 * QEMU has read all the chassis end sent: its acceptance of the rings
 * waits for its delivery time in the lane, where a clock_step finds it.
 * Still in the chassis end's queue or the socket, QEMU could read it only
 * after a step had passed that time, and the lane would come onto its
 * rings late (a gate at the horizon would stop the VM instead of waiting
 * on the rings).  SIOCOUTQ on a UNIX stream socket: the octets the peer
 * has not read yet.
 */
static bool cond_vt_all_read(NicHarness *h, void *arg)
{
    LaneFd lf[LANE_MAX_FDS];
    int n = lane_get_fds(h->srv, lf);

    for (int i = 0; i < n; i++) {
        int unread = 0;

        if (ioctl(lf[i].fd, SIOCOUTQ, &unread) == 0 && unread > 0) {
            return false;
        }
    }
    return true;
}

/*
 * QEMU with a blade-nic in virtual time (pcs=raw, unpaced) on an explicit
 * chardev 'lane0', the chassis end in virtual time with the same
 * latency; returns once QEMU's clock may step (still at 0).  With
 * @err_log, QEMU runs with -no-shutdown and its stderr goes to
 * VT_ERR_LOG in the harness's directory.
 */
#define VT_ERR_LOG "qemu.err"

static void vt_boot_at(NicHarness *h, const char *dev_extra, bool err_log,
                       uint64_t start)
{
    g_autofree char *dev = NULL;
    g_autofree char *qemu = NULL;
    uint64_t sessions = 1;

    memset(h, 0, sizeof(*h));
    h->srv_vtime_ns = VT_L;
    h->vstart = start;
    nh_lane_dir(h);
    nh_srv_start(h, true);
    dev = g_strdup_printf(",chardev=lane0,pcs=raw,speed=0,timing=virtual,"
                          "vtime-latency-ns=%u,vtime-start-ns=%" PRIu64 "%s",
                          VT_L, start, dev_extra ? dev_extra : "");
    qemu = g_strdup_printf("-chardev socket,id=lane0,path=%s,"
                           "reconnect-ms=100%s%s%s", h->path,
                           err_log ? " -no-shutdown 2>" : "",
                           err_log ? h->dir : "",
                           err_log ? "/" VT_ERR_LOG : "");
    nh_qemu_start(h, dev, qemu);
    nh_wait(h, cond_vt_ready, &sessions, 0,
            "the lane in virtual time, rings accepted, the VM running");
    lane_flush(h->srv, h->vclock);
    nh_wait(h, cond_vt_all_read, NULL, 0,
            "QEMU to read what the chassis end sent");
}

static void vt_boot(NicHarness *h, const char *dev_extra, bool err_log)
{
    vt_boot_at(h, dev_extra, err_log, 0);
}

/*
 * ... and the link up (1 ms steps), rings, MSI-X and all causes; the
 * chassis end's clock at @start when QEMU's is at 0.
 */
static void vt_start_at(NicHarness *h, uint64_t start)
{
    vt_boot_at(h, NULL, false, start);
    nh_link_up(h);
    nh_rings(h, 16, 16);
    qpci_msix_enable(h->nic.dev);
    nh_wr(h, BLADE_NIC_REG_IER, 0xff);
}

static void vt_start(NicHarness *h)
{
    vt_start_at(h, 0);
}

/* The guest's RX ring is as nh_rings() left it: nothing written. */
static void assert_rx_empty(NicHarness *h)
{
    uint16_t len, st;

    g_assert_cmpuint(nh_stat(h, BLADE_NIC_STAT_RX_FRAMES), ==, 0);
    g_assert_cmpuint(nh_rd(h, BLADE_NIC_REG_RX_HEAD), ==, 0);
    nh_desc_wb(h, h->nic.rx_ring, 0, &len, &st);
    g_assert_cmphex(st, ==, 0);
    g_assert_cmphex(nh_rd(h, BLADE_NIC_REG_ICR) & BLADE_NIC_INT_RX_DONE, ==,
                    0);
}

/* The guest received @f, and only it, in descriptor 0. */
static void assert_rx_one(NicHarness *h, const uint8_t *f, size_t len)
{
    g_autofree uint8_t *got = g_malloc(len);
    uint16_t wlen, st;

    g_assert_cmpuint(nh_stat(h, BLADE_NIC_STAT_RX_FRAMES), ==, 1);
    g_assert_cmpuint(nh_rd(h, BLADE_NIC_REG_RX_HEAD), ==, 1);
    nh_desc_wb(h, h->nic.rx_ring, 0, &wlen, &st);
    g_assert_cmpuint(wlen, ==, len);
    g_assert_cmphex(st, ==, BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP);
    qtest_memread(h->qts, h->nic.rx_bufs, got, len);
    g_assert_cmpmem(got, len, f, len);
}

/*
 * A frame the chassis sends at its clock T reaches the guest exactly at
 * T + L: not a nanosecond earlier (RX ring untouched at T + L - 1), not
 * later (written, counted and its interrupt raised at T + L).  A frame
 * the guest sends reaches the chassis stamped with QEMU's virtual clock
 * when the guest wrote the doorbell.
 */
static void vt_delivery_on(NicHarness *h)
{
    uint8_t f[200], g[150], mac[6];
    uint64_t want = 1, t, c;

    nh_mac(h, mac);
    nh_make_frame(f, sizeof(f), mac, peer, 1);
    nh_vstep(h, 3 * VT_L + 17);         /* any time, not a round one */
    t = h->vclock;
    nh_srv_send(h, f, sizeof(f));       /* stamped t */
    nh_vstep(h, VT_L - 1);
    assert_rx_empty(h);
    nh_vstep(h, 1);
    g_assert_cmpuint(h->vclock, ==, t + VT_L);
    assert_rx_one(h, f, sizeof(f));
    g_assert_cmphex(nh_rd(h, BLADE_NIC_REG_ICR) & BLADE_NIC_INT_RX_DONE, ==,
                    BLADE_NIC_INT_RX_DONE);
    g_assert_cmpuint(nh_stat(h, BLADE_NIC_STAT_IRQ_RX), ==, 1);

    nh_vstep(h, 1234);
    c = h->vclock;
    nh_make_frame(g, sizeof(g), peer, mac, 2);
    nh_tx_queue(h, g, sizeof(g));
    nh_tx_kick(h);
    nh_vstep(h, VT_L);
    nh_wait(h, nh_cond_frames, &want, 0, "the guest's frame at the chassis");
    g_assert_cmpmem(h->frames[0], h->frame_len[0], g, sizeof(g));
    g_assert_cmpuint(h->frame_stamp[0], ==, c);
    g_assert_cmpuint(nh_stat(h, BLADE_NIC_STAT_TX_FRAMES), ==, 1);
    /*
     * Neither end had anything to complain about, and the NIC took
     * nothing late.  (The chassis end reads only once a step is over,
     * so it takes late what the NIC sent more than a latency before.)
     */
    g_assert_cmpuint(nh_qom_u64(h, "vtime-cuts"), ==, 0);
    g_assert_cmpuint(nh_qom_u64(h, "vtime-late"), ==, 0);
    g_assert_cmpuint(lane_stats(h->srv)->vtime_cuts, ==, 0);
}

static void vt_delivery(uint64_t start)
{
    NicHarness h;

    vt_start_at(&h, start);
    vt_delivery_on(&h);
    nh_stop(&h);
}

static void test_vt_delivery(void)
{
    vt_delivery(0);
}

/*
 * A blade restarted in the middle of a run (vtime-start-ns=S): QEMU's
 * clock starts at 0 while the chassis's stands at S.  The same exact
 * delivery, the chassis's times being QEMU's plus S (nh_vstep() checks
 * QEMU's clock against the chassis end's less S at every step): a frame
 * the chassis sends at T reaches the guest at QEMU's T + L - S, and the
 * guest's reaches the chassis stamped QEMU's doorbell time plus S.
 */
static void test_vt_start(void)
{
    vt_delivery(7000000123);
}

/* One record as the chassis end would put it on the lane. */
static size_t vt_rec(uint8_t *p, uint8_t tag, bool stamped, uint64_t stamp,
                     const void *payload, size_t len)
{
    size_t plen = (stamped ? LANE_VTIME_LEN : 0) + len;

    p[0] = tag;
    p[1] = stamped ? LANE_REC_F_VTIME : 0;
    p[2] = plen & 0xff;
    p[3] = plen >> 8;
    if (stamped) {
        stq_le_p(p + LANE_REC_HDR, stamp);
    }
    memcpy(p + LANE_REC_HDR + plen - len, payload, len);
    return LANE_REC_HDR + plen;
}

/* A stamped FRAME record (pcs=raw: the frame and its FCS). */
static size_t vt_frame_rec(uint8_t *p, uint64_t stamp, const uint8_t *f,
                           size_t len)
{
    uint8_t fb[QBLADE_NIC_BUF_SIZE];

    memcpy(fb, f, len);
    eth_fcs_append(fb, len);
    return vt_rec(p, LANE_TAG_FRAME, true, stamp, fb, len + ETH_FCS_LEN);
}

/*
 * Hostile records written into the shared-memory ring behind the chassis
 * end's lane (after what it had queued), and a kick: the NIC reads them.
 * A NIC that polled its ring meanwhile may have read them, cut the
 * connection and closed its end already: then the kick finds it hung up
 * (-EPROTO), which is what the test waits for anyway.
 */
static void vt_ring_write_hostile(NicHarness *h, const uint8_t *rec,
                                  size_t len)
{
    int r;

    lane_flush(h->srv, nh_now(h));
    g_assert_true(lane_on_rings(h->srv));
    g_assert_cmpint(lane_ring_write(lane_shm_ring(h->srv), rec, len), ==,
                    len);
    r = lane_ring_kick(lane_shm_ring(h->srv));
    g_assert_true(r == 0 || r == -EPROTO);
}

static bool cond_nic_cut(NicHarness *h, void *arg)
{
    return nh_qom_u64(h, "vtime-cuts") >= 1;
}

static bool cond_srv_disconnected(NicHarness *h, void *arg)
{
    return lane_stats(h->srv)->disconnects >= 1;
}

static char *nic_link_state(NicHarness *h)
{
    QDict *r = qtest_qmp(h->qts, "{'execute': 'qom-get', 'arguments': {"
                         "'path': '/machine/peripheral-anon/device[0]', "
                         "'property': 'link-state'}}");
    char *state = g_strdup(qdict_get_str(r, "return"));

    qobject_unref(r);
    return state;
}

static bool cond_chassis_absent(NicHarness *h, void *arg)
{
    g_autofree char *state = nic_link_state(h);

    return !strcmp(state, "down: chassis absent");
}

/*
 * A new chassis takes the place of the one that left (bladeplane restart
 * CHASSIS): the chassis end's process goes, and a new one, which never
 * had a session on the link, starts at a clock of @below ns short of the
 * NIC's vtime-rejoin-ns.  The NIC's rejoin figure is how far the old
 * chassis had promised (its clock less a latency being lower).  A new
 * chassis that starts there goes on with the exact times, nothing cut
 * and nothing late at either end; one that starts a nanosecond earlier
 * breaks the old one's promise and is cut.
 */
static void test_vt_new_chassis(gconstpointer data)
{
    uint64_t below = GPOINTER_TO_UINT(data), sessions = 1, rejoin, qemu_now;
    NicHarness h;

    vt_start(&h);
    nh_vstep(&h, 5 * VT_L + 29);
    qemu_now = h.vclock;
    g_assert_cmpuint(nh_qom_u64(&h, "vtime-rejoin-ns"), ==,
                     qemu_now + 1 - VT_L);

    lane_free(h.srv);
    h.srv = NULL;
    nh_wait(&h, cond_chassis_absent, NULL, 0, "the NIC to see the chassis go");
    rejoin = nh_qom_u64(&h, "vtime-rejoin-ns");
    g_assert_cmpuint(rejoin, ==, qemu_now + 1 - VT_L);

    h.vstart = rejoin - below;
    nh_srv_start(&h, true);
    nh_wait(&h, cond_vt_ready, &sessions, 0,
            "the new chassis end in virtual time, rings accepted");
    if (below) {
        nh_wait(&h, cond_nic_cut, NULL, 0, "the NIC to cut the new chassis");
        g_assert_cmpuint(nh_qom_u64(&h, "vtime-stamp-broke-promise"), ==, 1);
        nh_stop(&h);
        return;
    }
    /* the chassis's clock runs on to QEMU's (the NIC promised that) */
    h.vstart = 0;
    h.vclock = qemu_now;
    lane_flush(h.srv, h.vclock);
    nh_wait(&h, cond_vt_all_read, NULL, 0,
            "QEMU to read what the new chassis end sent");
    nh_link_up(&h);
    vt_delivery_on(&h);
    g_assert_cmpuint(nh_qom_u64(&h, "vtime-cuts"), ==, 0);
    nh_stop(&h);
}

enum {
    VT_STAMP_PAST,      /* a frame stamped before the chassis's promise */
    VT_PROMISE_BACK,    /* a promise below the last one, then a frame */
    VT_QUIET_BROKEN,    /* quiet until W, then a frame before W */
};

/*
 * A hostile chassis: it promised P, then sends a frame stamped P - 1, or
 * a promise of P - 1 and a frame stamped P, or a quiet promise (P, W,
 * all the NIC wrote read) and a frame stamped P + 1.  The NIC counts the
 * violation
 * (the QOM counter of its kind, vtime-cuts) and cuts the connection; the
 * frame never reaches the guest, not even once the NIC has reconnected,
 * the link is up again and QEMU's clock is past the frame's delivery
 * time.  A frame the chassis then sends properly is received: the cut
 * was of the connection, and the chassis goes on from where it was.
 */
static void test_vt_hostile(gconstpointer data)
{
    int how = GPOINTER_TO_INT(data);
    NicHarness h;
    uint8_t f[100], g[120], mac[6], rec[2 * QBLADE_NIC_BUF_SIZE], v[24];
    uint64_t p, sessions = 2, want = 1;
    size_t n = 0;

    vt_start(&h);
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), mac, peer, 3);
    nh_make_frame(g, sizeof(g), mac, peer, 4);
    nh_vstep(&h, 4 * VT_L);
    /* what the chassis promised last, all the NIC may rely on */
    p = lane_vtime_link(h.srv)->tx_floor;
    g_assert_cmpuint(p, ==, h.vclock + 1 - VT_L);
    g_assert_cmpuint(lane_vtime_link(h.srv)->cnt.tx_promises, >=, 1);
    if (how == VT_STAMP_PAST) {
        n += vt_frame_rec(rec + n, p - 1, f, sizeof(f));
    } else if (how == VT_PROMISE_BACK) {
        stq_le_p(v, p - 1);
        n += vt_rec(rec + n, LANE_TAG_PROMISE, false, 0, v, 8);
        n += vt_frame_rec(rec + n, p, f, sizeof(f));
    } else {
        stq_le_p(v, p);
        stq_le_p(v + 8, p + 10 * VT_L);
        stq_le_p(v + 16, lane_vtime_link(h.srv)->rx_records);
        n += vt_rec(rec + n, LANE_TAG_PROMISE, false, 0, v, sizeof(v));
        n += vt_frame_rec(rec + n, p + 1, f, sizeof(f));
    }
    vt_ring_write_hostile(&h, rec, n);

    nh_wait(&h, cond_nic_cut, NULL, 0, "the NIC cuts the chassis");
    g_assert_cmpuint(nh_qom_u64(&h, "vtime-cuts"), ==, 1);
    g_assert_cmpuint(nh_qom_u64(&h, "vtime-stamp-broke-promise"), ==,
                     how == VT_STAMP_PAST);
    g_assert_cmpuint(nh_qom_u64(&h, "vtime-promise-back"), ==,
                     how == VT_PROMISE_BACK);
    g_assert_cmpuint(nh_qom_u64(&h, "vtime-stamp-broke-quiet"), ==,
                     how == VT_QUIET_BROKEN);
    g_assert_cmpuint(nh_qom_u64(&h, "vtime-stamp-back"), ==, 0);
    g_assert_cmpuint(nh_qom_u64(&h, "vtime-unstamped"), ==, 0);
    nh_wait(&h, cond_srv_disconnected, NULL, 0, "the chassis end cut off");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 0);

    /* the NIC reconnects (reconnect-ms=100) and the link comes back */
    nh_wait(&h, cond_vt_ready, &sessions, 0, "the NIC back on its rings");
    nh_link_up(&h);
    nh_vstep(&h, 2 * VT_L);     /* well past p - 1 + L and p + L */
    assert_rx_empty(&h);

    nh_srv_send(&h, g, sizeof(g));
    nh_vstep(&h, VT_L);
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "the good frame");
    assert_rx_one(&h, g, sizeof(g));
    g_assert_cmpuint(nh_qom_u64(&h, "vtime-cuts"), ==, 1);
    g_assert_cmpuint(lane_stats(h.srv)->protocol_errors, ==, 0);
    nh_stop(&h);
}

static bool cond_kicks(NicHarness *h, void *arg)
{
    return nh_qom_u64(h, "shm-kicks") >= 3;
}

/*
 * A kick goes to a chassis end that said it sleeps, which is the host's
 * scheduling: in virtual time the guest never sees one (SHM_KICKS stays
 * 0, also across the probe-time read of every counter a driver does),
 * while the QOM property shm-kicks counts them.  The kicks come from the
 * guest's frames and the NIC's promises, written while the chassis end
 * sleeps between its polls.
 */
static void test_vt_shm_kicks(void)
{
    NicHarness h;
    uint8_t g[100], mac[6];
    unsigned i;

    vt_start(&h);
    nh_mac(&h, mac);
    for (i = 0; !cond_kicks(&h, NULL); i++) {
        uint64_t want = i + 1;

        g_assert_cmpuint(i, <, NH_MAX_FRAMES);
        g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_SHM_KICKS), ==, 0);
        nh_make_frame(g, sizeof(g), peer, mac, i);
        nh_tx_queue(&h, g, sizeof(g));
        nh_tx_kick(&h);
        nh_vstep(&h, VT_L);
        nh_wait(&h, nh_cond_frames, &want, 0, "a guest frame");
    }
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_SHM_KICKS), ==, 0);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_SHM_ERRORS), ==, 0);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, i);
    nh_stop(&h);
}

/* One clock_step, in a thread: the gate may hold it. */
typedef struct VtStep {
    QTestState *qts;
    int64_t ns;
    int64_t clock;              /* where the step ended */
    GMutex lock;
    GCond cond;
    bool done;
} VtStep;

static gpointer vt_step_thread(gpointer opaque)
{
    VtStep *s = opaque;

    int64_t clock = qtest_clock_step(s->qts, s->ns);

    g_mutex_lock(&s->lock);
    s->clock = clock;
    s->done = true;
    g_cond_signal(&s->cond);
    g_mutex_unlock(&s->lock);
    return NULL;
}

/* Wait for @th's step to end, within 30 s (else fail: @what), and join. */
static void vt_step_end(VtStep *step, GThread *th, const char *what)
{
    gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    g_mutex_lock(&step->lock);
    while (!step->done) {
        if (!g_cond_wait_until(&step->cond, &step->lock, end)) {
            g_error("the step did not end within 30 s %s", what);
        }
    }
    g_mutex_unlock(&step->lock);
    g_thread_join(th);
    g_mutex_clear(&step->lock);
    g_cond_clear(&step->cond);
}

#define VT_SILENT_WAIT_MS 2000

/*
 * A silent chassis: it connects and says hello in virtual time, then
 * never promises.  A clock_step past the horizon (0 + L) meets the gate,
 * which waits vtime-wait-ms of wall time and gives up: one line naming
 * the chardev and the virtual time it stopped at, and a shutdown
 * (SHUTDOWN, reason host-error; -no-shutdown keeps QEMU up to be asked).
 * The test's own waits are bounded: 30 s for the step to come back, 10 s
 * for the event.  (vtime-wait-ms is 2000, not less: the same bound runs
 * from realize until the chassis's hello, which includes QEMU's start-up
 * on a loaded host.)
 */
static void test_vt_silent_peer(void)
{
    NicHarness h;
    VtStep step = { 0 };
    g_autofree char *log_path = NULL;
    g_autofree char *log = NULL;
    g_autofree char *want = NULL;
    QDict *ev = NULL, *data;
    GThread *th;
    gint64 end;

    vt_boot(&h, ",vtime-wait-ms=" G_STRINGIFY(VT_SILENT_WAIT_MS), true);
    log_path = g_strdup_printf("%s/" VT_ERR_LOG, h.dir);

    step.qts = h.qts;
    step.ns = 10 * VT_L;
    g_mutex_init(&step.lock);
    g_cond_init(&step.cond);
    th = g_thread_new("clock-step", vt_step_thread, &step);
    vt_step_end(&step, th, "(the gate held QEMU's clock, with "
                "vtime-wait-ms=" G_STRINGIFY(VT_SILENT_WAIT_MS) ")");

    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!(ev = qtest_qmp_event_ref(h.qts, "SHUTDOWN"))) {
        QDict *r;

        if (g_get_monotonic_time() > end) {
            g_error("no SHUTDOWN event 10 s after the gate gave up");
        }
        /* a command's answer brings the events before it */
        r = qtest_qmp(h.qts, "{'execute': 'query-status'}");
        qobject_unref(r);
    }
    data = qdict_get_qdict(ev, "data");
    g_assert_cmpstr(qdict_get_str(data, "reason"), ==, "host-error");
    g_assert_false(qdict_get_bool(data, "guest"));
    qobject_unref(ev);
    g_assert_false(vm_running(&h));

    /* the one line, naming the chardev and the horizon it stopped at */
    g_assert_true(g_file_get_contents(log_path, &log, NULL, NULL));
    want = g_strdup_printf("blade-lane: virtual time: no promise from the "
                           "peer of chardev 'lane0' for %d ms at %u ns (is "
                           "it paused, or gone?); shutting down\n",
                           VT_SILENT_WAIT_MS, VT_L);
    g_assert_nonnull(strstr(log, want));
    unlink(log_path);
    nh_stop(&h);
}

/* How far the NIC has promised the chassis end. */
static uint64_t nic_promised(NicHarness *h)
{
    const VtimeLink *l = lane_vtime_link(h->srv);

    return MAX(l->peer_promise, l->last_stamp);
}

#define VT_SLOW_WAIT_MS 10000
#define VT_SLOW_PROMISE_MS 300

/*
 * A slow chassis: it promises, but only some wall time after the NIC's
 * gate has started to wait for it.  The gate blocks at the horizon (the
 * NIC has promised that time to the chassis end just before, which is
 * how the test knows it got there), and once the promise comes the step
 * goes on to its end: the clock exactly where asked, the VM running, no
 * shutdown.  Slow is not silent: only vtime-wait-ms without a promise
 * ends the run.
 */
static void test_vt_slow_peer(void)
{
    NicHarness h;
    VtStep step = { 0 };
    uint64_t target = 10 * VT_L;
    QDict *ev;
    GThread *th;
    gint64 end;

    vt_boot(&h, ",vtime-wait-ms=" G_STRINGIFY(VT_SLOW_WAIT_MS), false);
    step.qts = h.qts;
    step.ns = target;
    g_mutex_init(&step.lock);
    g_cond_init(&step.cond);
    th = g_thread_new("clock-step", vt_step_thread, &step);

    /*
     * The gate is at the horizon, 0 + L, and waits.  The chassis end runs
     * to its own horizon (the NIC said hello at 0), L, to take what the
     * NIC sent up to then: the promise comes behind the NIC's stamped
     * records, held until their delivery time.
     */
    h.vclock = VT_L;
    end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (nic_promised(&h) < VT_L) {
        if (g_get_monotonic_time() > end) {
            g_error("the NIC did not get to its horizon in 30 s");
        }
        nh_pump(&h, 1);
    }
    g_assert_cmpuint(nic_promised(&h), ==, VT_L);
    /*
     * The slowness under test, well inside vtime-wait-ms: the gate must
     * still be waiting when it ends (nothing else can let it go on).
     */
    g_usleep(VT_SLOW_PROMISE_MS * 1000);
    g_mutex_lock(&step.lock);
    g_assert_false(step.done);
    g_mutex_unlock(&step.lock);
    g_assert_true(lane_vtime_promise(h.srv, target + 1 - VT_L, h.vclock));
    lane_flush(h.srv, h.vclock);

    vt_step_end(&step, th, "after the promise");
    h.vclock = target;
    nh_pump(&h, 0);

    g_assert_cmpint(step.clock, ==, target);
    g_assert_true(vm_running(&h));
    ev = qtest_qmp_event_ref(h.qts, "SHUTDOWN");
    g_assert_null(ev);
    /* and it goes on as usual (nh_vstep() checks the clock) */
    nh_vstep(&h, VT_L);
    nh_stop(&h);
}

/* Step in a thread; true if the step ended within @ms of wall time. */
static bool vt_step_within(VtStep *step, NicHarness *h, int64_t ns, int ms,
                           GThread **th)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;
    bool done;

    step->qts = h->qts;
    step->ns = ns;
    step->done = false;
    *th = g_thread_new("clock-step", vt_step_thread, step);
    g_mutex_lock(&step->lock);
    while (!step->done && g_cond_wait_until(&step->cond, &step->lock, end)) {
        /* woken: look again */
    }
    done = step->done;
    g_mutex_unlock(&step->lock);
    return done;
}

#define VT_ITR_NS 100000u

/*
 * A frame due at the very nanosecond the RX interrupt moderation ends
 * is in that interrupt.  Frame A raises an interrupt at T1; frame B, due
 * a latency (50 us) later, waits for the interval to end at T1 + 100 us
 * (the ITR timer armed then); frame C, read afterwards, is due exactly
 * at T1 + 100 us.  Two timers due at one time run in the order they were armed,
 * and a lane arms its own when its process reads a record, a moment the
 * host decides: taken after the moderation's, C waited another interval
 * for an interrupt of its own (3 at T1 + 200 us).  The NIC takes its
 * lane's due input first at each of its timers: 2, on every run.
 */
/*
 * RX moderation of VT_ITR_NS; frame A (@f, @len octets) interrupts at
 * the time returned, T1; frame B, due a latency later, waits for the
 * interval to end.
 */
static uint64_t vt_itr_a_and_b(NicHarness *h, uint8_t *f, size_t len)
{
    uint8_t mac[6];
    uint64_t t1;

    vt_start(h);
    nh_wr(h, BLADE_NIC_REG_ITR_RX, VT_ITR_NS / 1000);
    nh_mac(h, mac);
    nh_make_frame(f, len, mac, peer, 1);
    nh_vstep(h, 3 * VT_L);
    nh_srv_send(h, f, len);                         /* A */
    nh_vstep(h, VT_L);
    t1 = h->vclock;
    g_assert_cmpuint(nh_stat(h, BLADE_NIC_STAT_IRQ_RX), ==, 1);

    nh_srv_send(h, f, len);                         /* B, due t1 + L */
    nh_vstep(h, VT_L);
    g_assert_cmpuint(nh_stat(h, BLADE_NIC_STAT_RX_FRAMES), ==, 2);
    g_assert_cmpuint(nh_stat(h, BLADE_NIC_STAT_IRQ_RX), ==, 1);
    return t1;
}

static void test_vt_itr_tie(void)
{
    uint8_t f[200];
    NicHarness h;
    uint64_t t1 = vt_itr_a_and_b(&h, f, sizeof(f));

    /* the interval is two latencies: C's stamp is now */
    g_assert_cmpuint(h.vclock, ==, t1 + VT_ITR_NS - VT_L);
    nh_srv_send(&h, f, sizeof(f));                  /* C, due t1 + 100 us */
    nh_vstep(&h, VT_L);
    g_assert_cmpuint(h.vclock, ==, t1 + VT_ITR_NS);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 3);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 2);
    nh_vstep(&h, VT_ITR_NS + 1);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 2);
    nh_stop(&h);
}

/*
 * The same tie at the horizon, where the frame due when the moderation
 * ends has not even been sent: the chassis end promised only that time
 * minus the latency (a promise of T lets a record stamped T follow).
 * The clock gets there, the NIC's gate waits for the chassis end, and
 * only then does C come.  The moderation's timer, due at that time too,
 * must not send its interrupt before the gate has taken what is due
 * then: it was armed first, so it ran first, and C waited another
 * interval for a third interrupt.  The gate now waits before it acts.
 */
static void test_vt_itr_horizon(void)
{
    uint8_t f[200];
    VtStep step = { 0 };
    NicHarness h;
    uint64_t t1 = vt_itr_a_and_b(&h, f, sizeof(f)), end_at;
    GThread *th;
    gint64 end;

    /* the horizon: exactly where the moderation ends */
    end_at = t1 + VT_ITR_NS;
    g_assert_true(lane_vtime_promise(h.srv, end_at - VT_L, h.vclock));
    lane_flush(h.srv, h.vclock);
    g_mutex_init(&step.lock);
    g_cond_init(&step.cond);
    step.qts = h.qts;
    step.ns = end_at - h.vclock;
    th = g_thread_new("clock-step", vt_step_thread, &step);
    end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (nic_promised(&h) < end_at) {
        if (g_get_monotonic_time() > end) {
            g_error("the NIC did not get to its horizon in 30 s");
        }
        nh_pump(&h, 1);
    }
    h.vclock = end_at - VT_L;
    nh_srv_send(&h, f, sizeof(f));                  /* C, due end_at */
    g_assert_true(lane_vtime_promise(h.srv, end_at - VT_L + 1, h.vclock));
    lane_flush(h.srv, h.vclock);
    vt_step_end(&step, th, "after C and the promise");
    g_assert_cmpint(step.clock, ==, end_at - h.vstart);
    h.vclock = end_at;
    nh_pump(&h, 0);

    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 3);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 2);
    nh_vstep(&h, VT_ITR_NS + 1);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 2);
    nh_stop(&h);
}

#define VT_HOLD_FRAMES 255
#define VT_HOLD_WAIT_MS 300

/*
 * Back-pressure in virtual time.  The guest queues more than the lane's
 * shared-memory ring and queue hold, all at one time t, and the chassis
 * end does not read yet.  The NIC runs out of room part-way, and QEMU's
 * clock must wait at t for it: a step started meanwhile does not end
 * while the room is missing (the wait under test, well inside
 * vtime-wait-ms).  Once the chassis end reads, every frame arrives,
 * stamped t, as if the room had been there; then the step ends where it
 * was asked to.  Without the wait the clock ran on and the frames the
 * lane refused left whenever the chassis end's process had read, a time
 * the host decided.
 */
static void test_vt_tx_hold(void)
{
    g_autofree uint8_t *f = g_malloc(1514);
    uint8_t mac[6];
    NicHarness h;
    VtStep step = { 0 };
    GThread *th;
    uint64_t t;
    gint64 end;

    vt_boot(&h, ",vtime-wait-ms=" G_STRINGIFY(VT_SLOW_WAIT_MS), false);
    nh_link_up(&h);
    nh_rings(&h, VT_HOLD_FRAMES + 1, 16);
    nh_mac(&h, mac);
    nh_vstep(&h, 3 * VT_L + 17);
    t = h.vclock;
    for (unsigned i = 0; i < VT_HOLD_FRAMES; i++) {
        nh_make_frame(f, 1514, peer, mac, i);
        nh_tx_queue(&h, f, 1514);
    }
    /* the step's promise, as nh_vstep() makes it, before the doorbell */
    g_assert_true(lane_vtime_promise(h.srv, t + 1, h.vclock));
    lane_flush(h.srv, h.vclock);
    nh_tx_kick(&h);

    g_mutex_init(&step.lock);
    g_cond_init(&step.cond);
    g_assert_false(vt_step_within(&step, &h, VT_L, VT_HOLD_WAIT_MS, &th));

    /* the chassis end gets to t + L, when the frames stamped t are due */
    h.vclock = t + VT_L;
    end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (h.nframes < VT_HOLD_FRAMES) {
        if (g_get_monotonic_time() > end) {
            g_error("%" PRIu64 " of %u frames at the chassis end in 30 s",
                    h.nframes, VT_HOLD_FRAMES);
        }
        nh_pump(&h, 1);
    }
    vt_step_end(&step, th, "once the frames were read");

    g_assert_cmpint(step.clock, ==, t + VT_L - h.vstart);
    g_assert_cmpuint(h.nframes, ==, VT_HOLD_FRAMES);
    g_assert_cmpuint(h.frame_stamp[0], ==, t);
    g_assert_cmpuint(h.last_stamp, ==, t);
    /* the lane did run out of room: what the test is about happened */
    g_assert_cmpuint(nh_qom_u64(&h, "vtime-tx-waits"), >=, 1);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==,
                     VT_HOLD_FRAMES);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, VT_HOLD_FRAMES);
    g_assert_cmpuint(nh_qom_u64(&h, "vtime-cuts"), ==, 0);
    g_assert_true(vm_running(&h));
    /* and it goes on as usual (nh_vstep() checks the clock) */
    nh_vstep(&h, VT_L);
    nh_stop(&h);
}

static bool cond_quiet_taken(NicHarness *h, void *arg)
{
    return nh_qom_u64(h, "vtime-quiet-taken") >= 1;
}

/*
 * A chassis that promised quiet (nothing before W unless the NIC writes
 * first): the gate lets the clock run to W plus the latency with no more
 * promises.  Then the guest sends a frame.  That write voids the W (the
 * chassis's answer can come a latency after the frame), so the gate
 * comes back to the chassis's last promise of its clock, which is behind
 * the clock now: the next step waits for the chassis (300 ms of wall
 * time show it), and goes on once it promises.
 */
static void test_vt_write_voids_quiet(void)
{
    NicHarness h;
    VtStep step = { 0 };
    GThread *th;
    uint8_t g[150], mac[6];
    uint64_t c, t1, want = 1;

    vt_start(&h);
    nh_mac(&h, mac);
    nh_vstep(&h, VT_L);
    c = h.vclock;
    nh_pump(&h, 10);            /* read all the NIC wrote */
    g_assert_true(lane_vtime_promise_quiet(h.srv, c + 20 * VT_L, c));
    lane_flush(h.srv, c);
    nh_wait(&h, cond_quiet_taken, NULL, 0, "the NIC to take the quiet");
    g_mutex_init(&step.lock);
    g_cond_init(&step.cond);

    /* quiet: ten lookaheads on without a promise */
    g_assert_true(vt_step_within(&step, &h, 10 * VT_L, 10000, &th));
    g_thread_join(th);
    t1 = c + 10 * VT_L;
    g_assert_cmpint(step.clock, ==, t1);

    /* the guest writes: the gate is back at c + 1, behind the clock */
    nh_make_frame(g, sizeof(g), peer, mac, 1);
    nh_tx_queue(&h, g, sizeof(g));
    nh_tx_kick(&h);
    h.vclock = t1 + VT_L;      /* the chassis end, to take the frame */
    nh_wait(&h, nh_cond_frames, &want, 0, "the guest's frame");
    g_assert_cmpuint(h.frame_stamp[0], ==, t1);
    g_assert_false(vt_step_within(&step, &h, 1, 300, &th));
    g_assert_true(lane_vtime_promise(h.srv, t1 + 2 - VT_L, h.vclock));
    lane_flush(h.srv, h.vclock);
    g_mutex_lock(&step.lock);
    while (!step.done) {
        g_assert_true(g_cond_wait_until(&step.cond, &step.lock,
                                        g_get_monotonic_time() +
                                        30 * G_USEC_PER_SEC));
    }
    g_mutex_unlock(&step.lock);
    g_thread_join(th);
    g_assert_cmpint(step.clock, ==, t1 + 1);
    g_mutex_clear(&step.lock);
    g_cond_clear(&step.cond);
    g_assert_cmpuint(nh_qom_u64(&h, "vtime-cuts"), ==, 0);
    nh_stop(&h);
}

#define VT_GRID_STEP 23000u     /* a multiple of neither period below */
#define VT_GRID_STEPS 24

/*
 * A guest that computes (here: the clock steps and the NIC's gate never
 * meets its horizon, the chassis end having promised far ahead) promises
 * its clock on a grid of vtime-promise-ns from virtual time 0, twice the
 * latency by default: every promise the chassis end takes after the
 * start-up is a multiple of the period (none between), and one comes for
 * every period passed.  The grid is the chassis's: a NIC restarted at
 * @vstart (vtime-start-ns, a multiple of no period here) keeps to it.
 */
static void vt_promise_grid(uint64_t period, uint64_t vstart)
{
    g_autofree char *extra = NULL;
    const VtimeLink *l;
    uint64_t start, last = 0, seen = 0;
    NicHarness h;
    unsigned i;

    if (period) {
        extra = g_strdup_printf(",vtime-promise-ns=%" PRIu64, period);
    }
    vt_boot_at(&h, extra, false, vstart);
    /*
     * Promise far ahead (nh_vstep()'s promises are below it from then on,
     * and not sent), and step past the horizon the gate was armed for
     * before: it promises its clock there, off the grid, and not again.
     */
    g_assert_true(lane_vtime_promise(h.srv, h.vclock + 2 * VT_GRID_STEP *
                                     VT_GRID_STEPS, h.vclock));
    nh_vstep(&h, 3 * VT_L);
    nh_pump(&h, 1);
    l = lane_vtime_link(h.srv);
    start = l->peer_promise;
    period = period ? period : 2 * VT_L;
    for (i = 0; i < VT_GRID_STEPS; i++) {
        nh_vstep(&h, VT_GRID_STEP);
        nh_pump(&h, 1);
        if (l->peer_promise != start && l->peer_promise != last) {
            g_assert_cmpuint(l->peer_promise % period, ==, 0);
            last = l->peer_promise;
            seen++;
        }
    }
    /* one for each period passed, give or take the ends */
    g_assert_cmpuint(seen + 2, >=, VT_GRID_STEP * VT_GRID_STEPS / period);
    nh_stop(&h);
}

static void test_vt_promise_grid(gconstpointer data)
{
    vt_promise_grid((uintptr_t)data, 0);
}

static void test_vt_promise_grid_started(void)
{
    vt_promise_grid(0, 7000000123);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/blade-nic/vtime/delivery", test_vt_delivery);
    qtest_add_data_func("/blade-nic/vtime/stamp-in-the-past",
                        GINT_TO_POINTER(VT_STAMP_PAST), test_vt_hostile);
    qtest_add_data_func("/blade-nic/vtime/promise-back",
                        GINT_TO_POINTER(VT_PROMISE_BACK), test_vt_hostile);
    qtest_add_data_func("/blade-nic/vtime/quiet-broken",
                        GINT_TO_POINTER(VT_QUIET_BROKEN), test_vt_hostile);
    qtest_add_func("/blade-nic/vtime/shm-kicks", test_vt_shm_kicks);
    qtest_add_func("/blade-nic/vtime/silent-peer", test_vt_silent_peer);
    qtest_add_func("/blade-nic/vtime/start", test_vt_start);
    qtest_add_data_func("/blade-nic/vtime/new-chassis", GUINT_TO_POINTER(0),
                        test_vt_new_chassis);
    qtest_add_data_func("/blade-nic/vtime/new-chassis-early",
                        GUINT_TO_POINTER(1), test_vt_new_chassis);
    qtest_add_func("/blade-nic/vtime/slow-peer", test_vt_slow_peer);
    qtest_add_func("/blade-nic/vtime/tx-hold", test_vt_tx_hold);
    qtest_add_func("/blade-nic/vtime/itr-tie", test_vt_itr_tie);
    qtest_add_func("/blade-nic/vtime/itr-horizon", test_vt_itr_horizon);
    qtest_add_func("/blade-nic/vtime/write-voids-quiet",
                   test_vt_write_voids_quiet);
    qtest_add_data_func("/blade-nic/vtime/promise-grid",
                        (gconstpointer)(uintptr_t)30000, test_vt_promise_grid);
    qtest_add_data_func("/blade-nic/vtime/promise-grid-default",
                        (gconstpointer)(uintptr_t)0, test_vt_promise_grid);
    qtest_add_func("/blade-nic/vtime/promise-grid-started",
                   test_vt_promise_grid_started);
    return g_test_run();
}
