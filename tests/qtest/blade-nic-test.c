/*
 * qtest for blade-nic, following docs/blade-nic.md: PCI identity,
 * registers and access rules, reset, interrupts and moderation, rings,
 * TX and RX through the lane (the test is the chassis end), link state,
 * utilization, statistics, migration, fault injection, hostile input,
 * suspend to RAM, and a guest that unplugs the NIC with its own MSI-X.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "fcs.h"
#include "lane-ring.h"
#include "qemu/bswap.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "libqos/blade-nic-harness.h"

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t peer[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

/* ---- identity and registers ---------------------------------------------- */

static void test_pci_ids_overridable(void)
{
    NicHarness h;

    nh_start(&h, ",vendor-id=0x8086,device-id=0x1234,"
                 "subsystem-vendor-id=0x1af4,subsystem-id=0x4242");
    g_assert_cmphex(qpci_config_readw(h.nic.dev, PCI_VENDOR_ID), ==, 0x8086);
    g_assert_cmphex(qpci_config_readw(h.nic.dev, PCI_DEVICE_ID), ==, 0x1234);
    g_assert_cmphex(qpci_config_readw(h.nic.dev, PCI_SUBSYSTEM_ID), ==, 0x4242);
    nh_stop(&h);
}

/* ---- the lane over an explicit chardev ---------------------------------- */

/* The chassis end as a client of the NIC's chardev socket. */
static void chassis_connect(NicHarness *h)
{
    LaneConfig cfg;

    lane_config_init(&cfg, LANE_ROLE_CLIENT, h->path);
    cfg.speed_mbps = 0;
    cfg.util_interval_ns = 0;
    cfg.reconnect_ns = 10 * 1000 * 1000;
    h->srv = lane_new(&cfg, &nh_srv_ops, h, nh_now(h), NULL);
    g_assert_nonnull(h->srv);
}

/*
 * chardev=ID with -chardev socket,server=on,wait=off: the NIC waits for
 * its peer, which connects; frames flow both ways.  The peer goes away
 * (link down, the guest told) and comes back: the link comes back up and
 * frames flow again.
 */
static void test_chardev_server(void)
{
    g_autofree char *dir = g_dir_make_tmp("blade-nic-XXXXXX", NULL);
    g_autofree char *path = g_strdup_printf("%s/nic.sock", dir);
    g_autofree char *chr = g_strdup_printf("-chardev socket,id=lane0,"
                                           "path=%s,server=on,wait=off",
                                           path);
    NicHarness h;
    uint8_t f[200], mac[6];
    uint64_t want;
    int round;

    nh_start_full(&h, false, false, false, ",chardev=lane0,speed=0", chr);
    h.dir = g_strdup(dir);
    h.path = g_strdup(path);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_STATUS) &
                    BLADE_NIC_STATUS_LINK_UP, ==, 0);
    nh_rings(&h, 16, 16);
    nh_mac(&h, mac);
    for (round = 0; round < 2; round++) {
        chassis_connect(&h);
        nh_link_up(&h);
        nh_wr(&h, BLADE_NIC_REG_ICR, 0xff);

        nh_make_frame(f, sizeof(f), peer, mac, round);
        nh_tx_queue(&h, f, sizeof(f));
        nh_tx_kick(&h);
        want = 1;
        nh_wait(&h, nh_cond_frames, &want, 0, "TX frame");
        g_assert_cmpmem(h.frames[0], h.frame_len[0], f, sizeof(f));
        g_free(h.frames[0]);
        h.nframes = 0;

        nh_make_frame(f, sizeof(f), mac, peer, 9);
        nh_srv_send(&h, f, sizeof(f));
        want = round + 1;
        nh_wait(&h, nh_cond_rx_frames, &want, 0, "RX frame");

        /* the peer goes away */
        lane_free(h.srv);
        h.srv = NULL;
        nh_wait(&h, nh_cond_link_down, NULL, 0, "link down");
        g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) & BLADE_NIC_INT_LSC, ==,
                        BLADE_NIC_INT_LSC);
    }
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 2);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, 2);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_LINK_CHANGES), ==, 4);
    nh_stop(&h);
}

/* ---- properties ---------------------------------------------------------- */

static void expect_realize_error(const char *props, const char *msg)
{
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *dev = g_strdup_printf("blade-nic%s", props);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    const char *argv[] = { qemu, "-M", "q35", "-accel", "qtest", "-display",
                           "none", "-nodefaults", "-S", "-chardev",
                           "null,id=c0", "-device", dev, NULL };
    int status;

    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL,
                               G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &status, NULL));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    if (!strstr(err, msg)) {
        g_error("'%s': expected '%s' in: %s", props, msg, err);
    }
}

static void test_props_invalid(void)
{
    g_autofree char *longdir = g_strnfill(120, 'd');
    g_autofree char *lp = g_strdup_printf(",backplane=/%s,slot=1", longdir);

    expect_realize_error(",pcs=10b12b",
                         "Parameter 'pcs' does not accept value '10b12b'");
    expect_realize_error(",util-source=bios",
                         "Parameter 'util-source' does not accept value");
    expect_realize_error(",util-form=x",
                         "Parameter 'util-form' does not accept value");
    expect_realize_error(",timing=fast",
                         "Parameter 'timing' does not accept value");
    expect_realize_error(",slot=3", "slot=3 needs backplane=DIR");
    expect_realize_error(",backplane=/tmp", "needs slot=N");
    expect_realize_error(",backplane=/tmp,slot=64", "slot 64 is out of range");
    expect_realize_error(",lane=/tmp/x,backplane=/tmp,slot=1", "not both");
    expect_realize_error(",chardev=c0,backplane=/tmp,slot=1",
                         "give either chardev=ID or the shorthand");
    expect_realize_error(",chardev=c0,lane=/tmp/x",
                         "give either chardev=ID or the shorthand");
    expect_realize_error(",chardev=nosuch", "can't find value 'nosuch'");
    expect_realize_error(lp, "longer than a UNIX socket address allows");
    expect_realize_error(",speed=200000", "above the maximum");
    expect_realize_error(",tx-fifo=1048577", "tx-fifo 1048577 octets is above");
    expect_realize_error(",util-interval=70000", "above the maximum");
    expect_realize_error(",vtime-start-ns=1",
                         "vtime-start-ns needs timing=virtual");
    expect_realize_error(",timing=virtual,vtime-start-ns=4611686018427387905",
                         "vtime-start-ns 4611686018427387905 is past the "
                         "latest virtual time");
}

/* Chassis absent: link down and reconnect attempts, not an error. */
static void test_chassis_absent(void)
{
    NicHarness h;
    LaneConfig cfg;
    uint32_t st;

    nh_start_full(&h, true, false, false, ",speed=0", NULL);
    st = nh_rd(&h, BLADE_NIC_REG_STATUS);
    g_assert_cmphex(st, ==, BLADE_NIC_STATUS_LANE_CFG);
    nh_wr(&h, BLADE_NIC_REG_IER, BLADE_NIC_INT_LSC);
    /* the chassis comes up; the NIC retries every 100 ms */
    lane_config_init(&cfg, LANE_ROLE_SERVER, h.path);
    cfg.speed_mbps = 0;
    cfg.util_interval_ns = 0;
    h.srv = lane_new(&cfg, &nh_srv_ops, &h, nh_now(&h), NULL);
    g_assert_nonnull(h.srv);
    qtest_clock_step(h.qts, 100 * 1000 * 1000);
    nh_link_up(&h);
    st = nh_rd(&h, BLADE_NIC_REG_STATUS);
    g_assert_cmphex(st & 0xf, ==, 0xf);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR), ==, BLADE_NIC_INT_LSC);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_LINK_CHANGES), ==, 1);
    nh_stop(&h);
}

static void test_no_lane(void)
{
    NicHarness h;
    QDict *r;

    nh_start(&h, NULL);
    r = qtest_qmp(h.qts, "{'execute': 'qom-get', 'arguments': {"
                  "'path': '/machine/peripheral-anon/device[0]', "
                  "'property': 'link-state'}}");
    g_assert_cmpstr(qdict_get_str(r, "return"), ==,
                    "down: no lane configured");
    qobject_unref(r);
    nh_stop(&h);
}

/* ---- interrupts ---------------------------------------------------------- */

static void test_irq_moderation(void)
{
    NicHarness h;

    nh_start(&h, NULL);
    qpci_msix_enable(h.nic.dev);
    nh_wr(&h, BLADE_NIC_REG_IER, 0xff);
    /* no moderation: each event is a message */
    nh_wr(&h, BLADE_NIC_REG_ICS, BLADE_NIC_INT_RX_DONE);
    nh_wr(&h, BLADE_NIC_REG_ICS, BLADE_NIC_INT_RX_DONE);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 2);
    g_assert_true(qpci_msix_pending(h.nic.dev, BLADE_NIC_VEC_RX));
    g_assert_false(qpci_msix_pending(h.nic.dev, BLADE_NIC_VEC_TX));
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR), ==, BLADE_NIC_INT_RX_DONE);
    /* W1C */
    nh_wr(&h, BLADE_NIC_REG_ICR, BLADE_NIC_INT_RX_DONE);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR), ==, 0);

    /* vectors: TX and misc */
    nh_wr(&h, BLADE_NIC_REG_ICS, BLADE_NIC_INT_TX_ERR);
    nh_wr(&h, BLADE_NIC_REG_ICS, BLADE_NIC_INT_SW);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_TX), ==, 1);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_MISC), ==, 1);
    g_assert_true(qpci_msix_pending(h.nic.dev, BLADE_NIC_VEC_TX));
    g_assert_true(qpci_msix_pending(h.nic.dev, BLADE_NIC_VEC_MISC));
    nh_wr(&h, BLADE_NIC_REG_ICR, 0xff);

    /* 100 us moderation: the first goes at once, later ones wait */
    nh_wr(&h, BLADE_NIC_REG_ITR_RX, 100);
    qtest_clock_step(h.qts, 200 * 1000);
    nh_wr(&h, BLADE_NIC_REG_ICS, BLADE_NIC_INT_RX_DONE);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 3);
    nh_wr(&h, BLADE_NIC_REG_ICS, BLADE_NIC_INT_RX_DONE);
    nh_wr(&h, BLADE_NIC_REG_ICS, BLADE_NIC_INT_RX_NOBUF);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 3);
    qtest_clock_step(h.qts, 50 * 1000);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 3);
    qtest_clock_step(h.qts, 50 * 1000);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 4);
    /* a held interrupt whose causes were cleared is dropped */
    nh_wr(&h, BLADE_NIC_REG_ICS, BLADE_NIC_INT_RX_DONE);
    nh_wr(&h, BLADE_NIC_REG_ICR, 0xff);
    qtest_clock_step(h.qts, 200 * 1000);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 4);

    /* masked causes raise nothing; enabling a set cause does */
    nh_wr(&h, BLADE_NIC_REG_IER, 0);
    nh_wr(&h, BLADE_NIC_REG_ICS, BLADE_NIC_INT_SW);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_MISC), ==, 1);
    nh_wr(&h, BLADE_NIC_REG_IER, BLADE_NIC_INT_SW);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_MISC), ==, 2);
    nh_stop(&h);
}

/* An unmasked vector delivers its message: a write to guest memory. */
static void test_irq_msix_delivery(void)
{
    NicHarness h;
    uint64_t mailbox;
    uint8_t cap;

    nh_start(&h, NULL);
    qpci_msix_enable(h.nic.dev);
    cap = qpci_find_capability(h.nic.dev, PCI_CAP_ID_MSIX, 0);
    g_assert_cmpuint(cap, !=, 0);
    mailbox = guest_alloc(&h.alloc, 64);
    qtest_writel(h.qts, mailbox, 0);
    qpci_io_writel(h.nic.dev, h.nic.dev->msix_table_bar,
                   h.nic.dev->msix_table_off + 16 * BLADE_NIC_VEC_TX +
                   PCI_MSIX_ENTRY_LOWER_ADDR, (uint32_t)mailbox);
    qpci_io_writel(h.nic.dev, h.nic.dev->msix_table_bar,
                   h.nic.dev->msix_table_off + 16 * BLADE_NIC_VEC_TX +
                   PCI_MSIX_ENTRY_UPPER_ADDR, mailbox >> 32);
    qpci_io_writel(h.nic.dev, h.nic.dev->msix_table_bar,
                   h.nic.dev->msix_table_off + 16 * BLADE_NIC_VEC_TX +
                   PCI_MSIX_ENTRY_DATA, 0x4242);
    qpci_io_writel(h.nic.dev, h.nic.dev->msix_table_bar,
                   h.nic.dev->msix_table_off + 16 * BLADE_NIC_VEC_TX +
                   PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    nh_wr(&h, BLADE_NIC_REG_IER, BLADE_NIC_INT_TX_DONE);
    nh_wr(&h, BLADE_NIC_REG_ICS, BLADE_NIC_INT_TX_DONE);
    g_assert_cmphex(qtest_readl(h.qts, mailbox), ==, 0x4242);
    nh_stop(&h);
}

/* MSI-X disabled: causes still latch in ICR; nothing crashes (INTx). */
static void test_irq_msix_disabled(void)
{
    NicHarness h;

    nh_start(&h, NULL);
    nh_wr(&h, BLADE_NIC_REG_IER, 0xff);
    nh_wr(&h, BLADE_NIC_REG_ITR_MISC, 10);
    nh_wr(&h, BLADE_NIC_REG_ICS, 0xff);
    nh_wr(&h, BLADE_NIC_REG_ICS, 0xff);
    qtest_clock_step(h.qts, 100 * 1000);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR), ==, 0xff);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 0);
    nh_stop(&h);
}

/* ---- TX ------------------------------------------------------------------ */

/*
 * The NIC's lane up to the test's chassis end (@o: its options), rings of
 * 16, MSI-X and every interrupt enabled.
 */
static void lane_start_opts(NicHarness *h, NhOpts *o, unsigned speed,
                            const char *extra)
{
    g_autofree char *props = g_strdup_printf(",speed=%u,pcs=%s%s", speed,
                                             o->raw ? "raw" : "8b10b",
                                             extra ? extra : "");

    o->lane = o->server = true;
    o->dev = props;
    nh_start_opts(h, o);
    nh_link_up(h);
    nh_rings(h, 16, 16);
    qpci_msix_enable(h->nic.dev);
    nh_wr(h, BLADE_NIC_REG_IER, 0xff);
}

static void lane_start_speed(NicHarness *h, bool raw, unsigned speed,
                             const char *extra)
{
    NhOpts o = { .raw = raw };

    lane_start_opts(h, &o, speed, extra);
}

static void lane_start(NicHarness *h, bool raw, const char *extra)
{
    lane_start_speed(h, raw, 0, extra);
}

static void tx_single(bool raw)
{
    NicHarness h;
    uint8_t f[100], mac[6];
    uint64_t want = 1;
    uint16_t len, st;
    const LaneStats *ls;

    lane_start(&h, raw, NULL);
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), peer, mac, 1);
    nh_tx_queue(&h, f, sizeof(f));
    nh_tx_kick(&h);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX frame");
    g_assert_cmpuint(h.frame_len[0], ==, sizeof(f));
    g_assert_cmpmem(h.frames[0], sizeof(f), f, sizeof(f));
    /* the chassis's PCS decoded a clean symbol stream */
    ls = lane_stats(h.srv);
    g_assert_cmpuint(ls->pcs.invalid_cgs, ==, 0);
    g_assert_cmpuint(ls->pcs.disparity_errors, ==, 0);
    g_assert_cmpuint(ls->pcs.fcs_errors, ==, 0);
    g_assert_cmpuint(ls->pcs.frames, ==, 1);
    if (!raw) {
        g_assert_cmpuint(ls->pcs.code_groups, >=, PCS_PREAMBLE_SFD + 104);
    }
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, 1);
    nh_desc_wb(&h, h.nic.tx_ring, 0, &len, &st);
    g_assert_cmphex(st, ==, BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, 1);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_OCTETS), ==, 100);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) & BLADE_NIC_INT_TX_DONE, ==,
                    BLADE_NIC_INT_TX_DONE);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_TX), ==, 1);
    nh_stop(&h);
}

static void test_tx_single(void)
{
    tx_single(false);
}

static void test_tx_single_raw(void)
{
    tx_single(true);
}

static void test_tx_chained(void)
{
    NicHarness h;
    uint8_t f[1500], mac[6];
    uint64_t want = 2, buf;
    uint16_t len, st;
    unsigned i;

    lane_start(&h, false, NULL);
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), peer, mac, 2);
    buf = guest_alloc(&h.alloc, sizeof(f));
    qtest_memwrite(h.qts, buf, f, sizeof(f));
    /* 1500 octets in three buffers: 14 + 986 + 500 */
    nh_desc(&h, h.nic.tx_ring, 0, buf, 14, 0);
    nh_desc(&h, h.nic.tx_ring, 1, buf + 14, 986, 0);
    nh_desc(&h, h.nic.tx_ring, 2, buf + 1000, 500, BLADE_NIC_DFLAG_EOP);
    /* a chain is not sent before its EOP descriptor is posted */
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, 2);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, 0);
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, 3);
    /* and a short frame after it: padded to 60 octets on the lane */
    nh_desc(&h, h.nic.tx_ring, 3, buf, 20, BLADE_NIC_DFLAG_EOP);
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, 4);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX frames");
    g_assert_cmpuint(h.frame_len[0], ==, sizeof(f));
    g_assert_cmpmem(h.frames[0], sizeof(f), f, sizeof(f));
    g_assert_cmpuint(h.frame_len[1], ==, 60);
    g_assert_cmpmem(h.frames[1], 20, f, 20);
    for (i = 20; i < 60; i++) {
        g_assert_cmpuint(h.frames[1][i], ==, 0);
    }
    for (i = 0; i < 4; i++) {
        nh_desc_wb(&h, h.nic.tx_ring, i, &len, &st);
        g_assert_cmphex(st, ==, BLADE_NIC_DSTAT_DD |
                        (i >= 2 ? BLADE_NIC_DSTAT_EOP : 0));
    }
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, 2);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_OCTETS), ==, 1520);
    nh_stop(&h);
}

static void test_tx_malformed(void)
{
    NicHarness h;
    uint64_t buf, want = 1;
    uint16_t len, st;
    uint8_t f[64], mac[6];
    unsigned i;

    lane_start(&h, false, NULL);
    nh_wr(&h, BLADE_NIC_REG_CTRL, 0);
    nh_rings(&h, 64, 8);
    buf = guest_alloc(&h.alloc, 0x10000);
    /* 13 octets: too short */
    nh_desc(&h, h.nic.tx_ring, 0, buf, 13, BLADE_NIC_DFLAG_EOP);
    /* 9019 octets: too long */
    nh_desc(&h, h.nic.tx_ring, 1, buf, 9000, 0);
    nh_desc(&h, h.nic.tx_ring, 2, buf, 19, BLADE_NIC_DFLAG_EOP);
    /* a chain of 33 descriptors: the first 32 are one bad frame */
    for (i = 3; i < 3 + 33; i++) {
        nh_desc(&h, h.nic.tx_ring, i, buf, 16, 0);
    }
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), peer, mac, 3);
    qtest_memwrite(h.qts, buf, f, sizeof(f));
    nh_desc(&h, h.nic.tx_ring, 36, buf, 64, BLADE_NIC_DFLAG_EOP);
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, 37);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, 37);
    nh_desc_wb(&h, h.nic.tx_ring, 0, &len, &st);
    g_assert_cmphex(st, ==, BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP |
                    BLADE_NIC_DSTAT_ERR);
    nh_desc_wb(&h, h.nic.tx_ring, 1, &len, &st);
    g_assert_cmphex(st, ==, BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_ERR);
    nh_desc_wb(&h, h.nic.tx_ring, 34, &len, &st);
    g_assert_cmphex(st, ==, BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_ERR);
    /* the 33rd descriptor plus the 64-octet one make a 80-octet frame */
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_ERRORS), ==, 3);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, 1);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX frame");
    g_assert_cmpuint(h.frame_len[0], ==, 80);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) &
                    (BLADE_NIC_INT_TX_ERR | BLADE_NIC_INT_TX_DONE), ==,
                    BLADE_NIC_INT_TX_ERR | BLADE_NIC_INT_TX_DONE);
    nh_stop(&h);
}

/*
 * speed=1000 and tx-fifo=0: the lane paces frames on the virtual clock,
 * 20 us ahead at most; frames the lane cannot take yet stay with the
 * device (HEAD waits) and go out as time passes, in order.
 */
static void test_tx_paced(void)
{
    NicHarness h;
    uint8_t f[1514], mac[6];
    uint64_t want = 10;
    uint32_t head;
    unsigned i;
    uint16_t len, st;

    lane_start_speed(&h, false, 1000, ",tx-fifo=0");
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_SPEED), ==, 1000);
    nh_mac(&h, mac);
    for (i = 0; i < 10; i++) {
        nh_make_frame(f, sizeof(f), peer, mac, i);
        nh_tx_queue(&h, f, sizeof(f));
    }
    nh_tx_kick(&h);
    /* 1538 octet times = 12.3 us per frame; 20 us of burst allowed */
    head = nh_rd(&h, BLADE_NIC_REG_TX_HEAD);
    g_assert_cmpuint(head, >=, 1);
    g_assert_cmpuint(head, <=, 3);
    nh_desc_wb(&h, h.nic.tx_ring, head, &len, &st);
    g_assert_cmphex(st, ==, 0);
    qtest_clock_step(h.qts, 50 * 1000);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), >, head);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), <, 10);
    qtest_clock_step(h.qts, 1000 * 1000);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, 10);
    nh_wait(&h, nh_cond_frames, &want, 0, "paced frames");
    for (i = 0; i < 10; i++) {
        g_assert_cmpuint(h.frames[i][14], ==, (uint8_t)(i + 14 * 7));
    }
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, 10);
    nh_stop(&h);
}

/*
 * The transmit packet buffer (6.1, step 6; tx-fifo, 40 KiB by default):
 * the device takes frames while the line is busy for less than its line
 * time, 327.68 us at 1000 Mb/s, so 27 frames of 1518 octets (12.304 us
 * each with preamble and IPG) complete at once.  Held, it takes more only
 * when half has drained, about 13 at a time, and all go out in order.
 */
static void test_tx_paced_fifo(void)
{
    const unsigned count = 40;
    NicHarness h;
    uint8_t f[1514], mac[6];
    uint64_t want = count;
    uint32_t head;
    unsigned i;

    lane_start_speed(&h, false, 1000, NULL);
    nh_wr(&h, BLADE_NIC_REG_CTRL, 0);
    nh_rings(&h, 64, 16);
    nh_mac(&h, mac);
    for (i = 0; i < count; i++) {
        nh_make_frame(f, sizeof(f), peer, mac, i);
        nh_tx_queue(&h, f, sizeof(f));
    }
    nh_tx_kick(&h);
    head = nh_rd(&h, BLADE_NIC_REG_TX_HEAD);
    g_assert_cmpuint(head, ==, 27);
    /* 100 us later less than half the buffer has drained: still held */
    qtest_clock_step(h.qts, 100 * 1000);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, head);
    /* by 200 us it has, and the device took half a buffer more */
    qtest_clock_step(h.qts, 100 * 1000);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), >=, head + 13);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), <=, head + 14);
    qtest_clock_step(h.qts, 1000 * 1000);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, count);
    nh_wait(&h, nh_cond_frames, &want, 0, "paced frames");
    for (i = 0; i < count; i++) {
        g_assert_cmpuint(h.frames[i][14], ==, (uint8_t)(i + 14 * 7));
    }
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, count);
    /* qtest's clock runs each timer at its deadline: no line time lost */
    g_assert_cmpuint(nh_qom_u64(&h, "tx-fifo-late"), ==, 0);
    g_assert_cmpuint(nh_qom_u64(&h, "tx-fifo-late-ns"), ==, 0);
    nh_stop(&h);
}

/*
 * CTRL.AUTOMASK (7.2.1): the RX vector's message masks and clears the RX
 * causes; a frame meanwhile latches in ICR and sends nothing; enabling
 * the causes again sends its message (and masks them again).  The misc
 * vector is never masked that way.
 */
static void test_irq_automask(void)
{
    const uint32_t rx = BLADE_NIC_INT_RX_DONE | BLADE_NIC_INT_RX_NOBUF;
    NicHarness h;
    uint8_t f[100], mac[6];
    uint64_t want = 1;

    lane_start(&h, false, NULL);
    nh_wr(&h, BLADE_NIC_REG_CTRL, nh_rd(&h, BLADE_NIC_REG_CTRL) |
          BLADE_NIC_CTRL_AUTOMASK);
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), mac, peer, 1);
    nh_srv_send(&h, f, sizeof(f));
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "RX frame");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 1);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_IER), ==, 0xff & ~rx);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) & rx, ==, 0);

    /* masked: the next frame latches RX_DONE, no message */
    want = 2;
    nh_srv_send(&h, f, sizeof(f));
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "RX frame");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 1);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) & rx, ==,
                    BLADE_NIC_INT_RX_DONE);
    /* the driver's one write after its poll: the latched cause fires */
    nh_wr(&h, BLADE_NIC_REG_IER, 0xff);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 2);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_IER), ==, 0xff & ~rx);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) & rx, ==, 0);

    /* misc: neither masked nor cleared */
    nh_wr(&h, BLADE_NIC_REG_ICS, BLADE_NIC_INT_SW);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_MISC), >=, 1);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) & BLADE_NIC_INT_SW, ==,
                    BLADE_NIC_INT_SW);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_IER) & BLADE_NIC_INT_SW, ==,
                    BLADE_NIC_INT_SW);
    nh_stop(&h);
}

/* ---- RX ------------------------------------------------------------------ */

static void test_rx_basic(void)
{
    NicHarness h;
    uint8_t f[300], mac[6], got[300];
    uint64_t want = 1;
    uint16_t len, st;

    lane_start(&h, false, NULL);
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), mac, peer, 4);
    nh_srv_send(&h, f, sizeof(f));
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "RX frame");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 1);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_OCTETS), ==, 300);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_RX_HEAD), ==, 1);
    nh_desc_wb(&h, h.nic.rx_ring, 0, &len, &st);
    g_assert_cmpuint(len, ==, 300);
    g_assert_cmphex(st, ==, BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP);
    qtest_memread(h.qts, h.nic.rx_bufs, got, sizeof(got));
    g_assert_cmpmem(got, sizeof(got), f, sizeof(f));
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) & BLADE_NIC_INT_RX_DONE, ==,
                    BLADE_NIC_INT_RX_DONE);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 1);
    g_assert_true(qpci_msix_pending(h.nic.dev, BLADE_NIC_VEC_RX));
    nh_stop(&h);
}

/*
 * The NIC offers shared-memory rings to its chassis: taken, frames go
 * through them; refused (a chassis that does not take them), the lane
 * stays on the chardev's stream.  Either way the same frames and
 * counters.
 */
static void test_shm(gconstpointer data)
{
    bool accept = GPOINTER_TO_INT(data);
    NicHarness h;
    uint8_t f[300], g[200], mac[6], got[300];
    uint64_t want = 1;
    NhOpts o = { .srv_no_shm = !accept };

    lane_start_opts(&h, &o, 0, NULL);
    g_assert_cmpint(lane_on_rings(h.srv), ==, accept);
    g_assert_cmpuint(nh_qom_u64(&h, "shm-active"), ==, accept);
    g_assert_cmpuint(nh_qom_u64(&h, "shm-sessions"), ==, accept);
    g_assert_cmpuint(lane_stats(h.srv)->shm_refused, ==, !accept);
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), mac, peer, 4);
    nh_srv_send(&h, f, sizeof(f));
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "RX frame");
    qtest_memread(h.qts, h.nic.rx_bufs, got, sizeof(got));
    g_assert_cmpmem(got, sizeof(got), f, sizeof(f));
    nh_make_frame(g, sizeof(g), peer, mac, 5);
    nh_tx_queue(&h, g, sizeof(g));
    nh_tx_kick(&h);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX frame");
    g_assert_cmpmem(h.frames[0], h.frame_len[0], g, sizeof(g));
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 1);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_OCTETS), ==, 300);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, 1);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_OCTETS), ==, 200);
    g_assert_cmpuint(lane_stats(h.srv)->pcs.frames, ==, 1);
    g_assert_cmpuint(lane_stats(h.srv)->bad_records, ==, 0);
    g_assert_cmpuint(lane_stats(h.srv)->protocol_errors, ==, 0);
    g_assert_cmpuint(nh_qom_u64(&h, "shm-errors"), ==, 0);
    nh_stop(&h);
}

/* Where a hostile chassis scribbles what the NIC reads of the rings. */
enum {
    SHM_CORRUPT_RX_INDEX,   /* ring 1's producer index, then a kick */
    SHM_CORRUPT_RX_SIZE,    /* ring 1's size in the header, then a kick */
    SHM_CORRUPT_TX_INDEX,   /* ring 0's consumer index, then guest TX */
};

static bool cond_nic_shm_errors(NicHarness *h, void *arg)
{
    return nh_qom_u64(h, "shm-errors") >= 1;
}

static bool cond_nic_shm_again(NicHarness *h, void *arg)
{
    return nh_qom_u64(h, "shm-sessions") >= 2 &&
           nh_qom_u64(h, "shm-active") && lane_on_rings(h->srv);
}

/*
 * The chassis end attaches to the NIC's rings, then corrupts the shared
 * state the NIC reads: an index far past what the ring holds, or the
 * ring's size.  The NIC counts a ring error (shm-errors), drops the
 * connection rather than read or write outside the ring, reconnects,
 * takes the rings again, and frames pass both ways.
 */
static void test_shm_corrupt(gconstpointer data)
{
    int how = GPOINTER_TO_INT(data);
    NicHarness h;
    uint8_t f[300], g[200], mac[6], got[300];
    int fds[LANE_RING_NFDS];
    LaneRingHeader *hdr;
    uint64_t want = 1, kicks;
    struct stat sb;
    uint8_t *shm;

    lane_start(&h, false, NULL);
    g_assert_true(lane_on_rings(h.srv));
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_SHM_ERRORS), ==, 0);
    g_assert_cmpuint(nh_qom_u64(&h, "shm-sessions"), ==, 1);
    g_assert_cmpuint(nh_qom_u64(&h, "shm-errors"), ==, 0);
    nh_mac(&h, mac);

    lane_ring_peer_fds(lane_shm_ring(h.srv), fds);
    g_assert_cmpint(fstat(fds[LANE_RING_FD_MEM], &sb), ==, 0);
    shm = mmap(NULL, sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
               fds[LANE_RING_FD_MEM], 0);
    g_assert(shm != MAP_FAILED);
    hdr = (LaneRingHeader *)shm;
    if (how == SHM_CORRUPT_RX_INDEX) {
        LaneRingProd *p = (LaneRingProd *)(shm + hdr->ring[1].prod_off);

        p->prod += 0x40000000u;
    } else if (how == SHM_CORRUPT_RX_SIZE) {
        hdr->ring[1].size *= 2;
    } else {
        LaneRingCons *c = (LaneRingCons *)(shm + hdr->ring[0].cons_off);

        c->cons += 0x40000000u;
    }
    munmap(shm, sb.st_size);
    if (how == SHM_CORRUPT_TX_INDEX) {
        /* the NIC finds it when it writes the guest's frame */
        nh_make_frame(g, sizeof(g), peer, mac, 6);
        nh_tx_queue(&h, g, sizeof(g));
        nh_tx_kick(&h);
    } else {
        /* a kick on the NIC's wake-up socket: "records came" */
        g_assert_cmpint(lane_ring_kick(lane_shm_ring(h.srv)), ==, 0);
    }

    nh_wait(&h, cond_nic_shm_errors, NULL, 0, "NIC counts a ring error");
    g_assert_cmpuint(nh_qom_u64(&h, "shm-errors"), ==, 1);
    /* and so does the guest (section 10, 1.2) */
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_SHM_ERRORS), ==, 1);
    nh_wait(&h, cond_nic_shm_again, NULL, 1000000, "rings again");
    nh_link_up(&h);
    g_assert_cmpuint(nh_qom_u64(&h, "shm-errors"), ==, 1);
    g_assert_cmpuint(lane_stats(h.srv)->shm_errors, ==, 0);
    g_assert_cmpuint(lane_stats(h.srv)->protocol_errors, ==, 0);
    g_assert_cmpuint(lane_stats(h.srv)->disconnects, ==, 1);

    /* a frame each way, through the new rings */
    nh_make_frame(f, sizeof(f), mac, peer, 7);
    nh_srv_send(&h, f, sizeof(f));
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "RX frame after the error");
    qtest_memread(h.qts, h.nic.rx_bufs, got, sizeof(got));
    g_assert_cmpmem(got, sizeof(got), f, sizeof(f));
    want = h.nframes + 1;
    nh_make_frame(g, sizeof(g), peer, mac, 8);
    nh_tx_queue(&h, g, sizeof(g));
    nh_tx_kick(&h);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX frame after the error");
    g_assert_cmpmem(h.frames[want - 1], h.frame_len[want - 1], g, sizeof(g));
    /* the frames woke the sleeping chassis end: kicks, as QOM counts them */
    kicks = nh_qom_u64(&h, "shm-kicks");
    g_assert_cmpuint(kicks, >=, 1);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_SHM_KICKS), >=, kicks);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_SHM_ERRORS), ==, 1);
    nh_stop(&h);
}

/* An incoming VM runs once it has loaded the state (bounded wait). */
static void nh_wait_running(QTestState *qts)
{
    int i;

    for (i = 0; i < 200; i++) {
        QDict *r = qtest_qmp_assert_success_ref(qts,
                                                "{'execute': 'query-status'}");
        bool run = qdict_get_bool(r, "running");

        qobject_unref(r);
        if (run) {
            return;
        }
        g_usleep(10000);
    }
    g_assert_not_reached();
}

/*
 * Save the harness's VM to a file (migrate to file:), wait until that
 * completed (bounded), and return the file's path for -incoming.
 */
static char *nh_migrate_to_file(NicHarness *h)
{
    char *file = g_strdup_printf("%s/state", h->dir);
    g_autofree char *uri = g_strdup_printf("file:%s", file);
    int i;

    qtest_qmp_assert_success(h->qts, "{'execute': 'migrate', 'arguments': "
                             "{'uri': %s}}", uri);
    for (i = 0; i < 500; i++) {
        QDict *r = qtest_qmp_assert_success_ref(h->qts,
                                                "{'execute': 'query-migrate'}");
        const char *st = qdict_get_try_str(r, "status");
        bool done = st && !strcmp(st, "completed");

        g_assert_false(st && !strcmp(st, "failed"));
        qobject_unref(r);
        if (done) {
            return file;
        }
        g_usleep(10000);
    }
    g_assert_not_reached();
}

/* A second QEMU, without a lane, that loaded a state file; its NIC. */
typedef struct NhIncoming {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar bar;
} NhIncoming;

static void nh_incoming(NhIncoming *in, const char *file, const char *props)
{
    in->qts = qtest_initf("-M q35 -m 256M -device blade-nic,addr=04.0%s "
                          "-incoming file:%s", props ? props : "", file);
    in->bus = qpci_new_pc(in->qts, NULL);
    in->dev = qpci_device_find(in->bus, NIC_DEVFN);
    in->bar = qpci_iomap(in->dev, 0, NULL);
    nh_wait_running(in->qts);
}

static uint32_t nh_in_rd(NhIncoming *in, uint64_t reg)
{
    return qpci_io_readl(in->dev, in->bar, reg);
}

/* Counter @i, low half first (section 10). */
static uint64_t nh_in_stat(NhIncoming *in, unsigned i)
{
    uint64_t reg = BLADE_NIC_REG_STAT_BASE + 8 * i;
    uint64_t v = nh_in_rd(in, reg);

    return v | (uint64_t)nh_in_rd(in, reg + 4) << 32;
}

static void nh_incoming_end(NhIncoming *in, const char *file)
{
    g_free(in->dev);
    qpci_free_pc(in->bus);
    qtest_quit(in->qts);
    unlink(file);
}

/*
 * SHM_ERRORS and SHM_KICKS (1.2) survive migration, in the subsection
 * "blade-nic/shm-stats" (section 14): the NIC counts a ring error (the
 * chassis end scribbles ring 1's producer index and kicks) and kicks
 * (frames wake the sleeping chassis end), the state goes to a file and
 * into a second QEMU, which reads both registers back as the source
 * last showed them, high halves included.
 */
static void test_shm_stats_migration(void)
{
    NicHarness h;
    NhIncoming dst;
    g_autofree char *file = NULL;
    uint8_t f[300], mac[6];
    uint64_t errors, kicks, want = 1;
    int fds[LANE_RING_NFDS];
    LaneRingHeader *hdr;
    struct stat sb;
    uint8_t *shm;
    unsigned i;

    lane_start(&h, false, NULL);
    g_assert_true(lane_on_rings(h.srv));
    nh_mac(&h, mac);
    lane_ring_peer_fds(lane_shm_ring(h.srv), fds);
    g_assert_cmpint(fstat(fds[LANE_RING_FD_MEM], &sb), ==, 0);
    shm = mmap(NULL, sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
               fds[LANE_RING_FD_MEM], 0);
    g_assert(shm != MAP_FAILED);
    hdr = (LaneRingHeader *)shm;
    ((LaneRingProd *)(shm + hdr->ring[1].prod_off))->prod += 0x40000000u;
    munmap(shm, sb.st_size);
    g_assert_cmpint(lane_ring_kick(lane_shm_ring(h.srv)), ==, 0);
    nh_wait(&h, cond_nic_shm_errors, NULL, 0, "NIC counts a ring error");
    nh_wait(&h, cond_nic_shm_again, NULL, 1000000, "rings again");
    nh_link_up(&h);
    /* frames to the chassis end, which sleeps between them: kicks */
    nh_make_frame(f, sizeof(f), peer, mac, 12);
    for (i = 0; i < 3; i++) {
        want = h.nframes + 1;
        nh_tx_queue(&h, f, sizeof(f));
        nh_tx_kick(&h);
        nh_wait(&h, nh_cond_frames, &want, 0, "TX frame");
    }
    errors = nh_stat(&h, BLADE_NIC_STAT_SHM_ERRORS);
    kicks = nh_stat(&h, BLADE_NIC_STAT_SHM_KICKS);
    g_assert_cmpuint(errors, ==, 1);
    g_assert_cmpuint(kicks, >=, 1);

    file = nh_migrate_to_file(&h);
    /* the source counted nothing more while it saved */
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_SHM_KICKS), ==, kicks);

    /* the destination has no lane: its counters come from the stream */
    nh_incoming(&dst, file, NULL);
    g_assert_cmpuint(nh_in_stat(&dst, BLADE_NIC_STAT_SHM_ERRORS), ==,
                     errors);
    g_assert_cmpuint(nh_in_stat(&dst, BLADE_NIC_STAT_SHM_KICKS), ==, kicks);
    nh_incoming_end(&dst, file);
    nh_stop(&h);
}

/*
 * 10.1: every frame counted once in its RMON bucket by its length with
 * FCS, short frames as padded (64), each bound in the bucket it ends.
 */
static void test_stats_histogram(void)
{
    static const struct {
        uint16_t len;           /* without FCS */
        unsigned bucket;
    } rx[] = {
        { 14, 0 }, { 60, 0 }, { 61, 1 }, { 123, 1 }, { 124, 2 },
        { 251, 2 }, { 252, 3 }, { 1514, 5 }, { 1515, 6 },
    }, tx[] = {
        { 20, 0 }, { 507, 3 }, { 508, 4 }, { 1019, 4 }, { 1020, 5 },
        { 1514, 5 }, { 1515, 6 }, { 2000, 6 },
    };
    unsigned want_rx[BLADE_NIC_HIST_BUCKETS] = { 0 };
    unsigned want_tx[BLADE_NIC_HIST_BUCKETS] = { 0 };
    uint8_t f[2048], mac[6];
    uint64_t want;
    NicHarness h;
    unsigned i;

    lane_start(&h, false, NULL);
    nh_mac(&h, mac);
    for (i = 0; i < ARRAY_SIZE(rx); i++) {
        want = i + 1;
        nh_make_frame(f, rx[i].len, mac, peer, i);
        nh_srv_send(&h, f, rx[i].len);
        nh_wait(&h, nh_cond_rx_frames, &want, 0, "RX frame");
        want_rx[rx[i].bucket]++;
    }
    for (i = 0; i < ARRAY_SIZE(tx); i++) {
        nh_make_frame(f, tx[i].len, peer, mac, i);
        nh_tx_queue(&h, f, tx[i].len);
        want_tx[tx[i].bucket]++;
    }
    nh_tx_kick(&h);
    want = ARRAY_SIZE(tx);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX frames");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==,
                     ARRAY_SIZE(rx));
    for (i = 0; i < BLADE_NIC_HIST_BUCKETS; i++) {
        g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_HIST + i), ==,
                         want_rx[i]);
        g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_HIST + i), ==,
                         want_tx[i]);
    }
    nh_stop(&h);
}

/* ---- checksum offload (revision 1.3) ------------------------------------ */

/* The Internet checksum's ones' complement sum of big-endian words. */
static uint32_t ocsum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < n; i += 2) {
        sum += p[i] << 8 | p[i + 1];
    }
    if (n & 1) {
        sum += p[n - 1] << 8;
    }
    return sum;
}

static uint16_t ocsum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return sum;
}

/*
 * A TCP segment or a UDP datagram over IPv4 or IPv6, as Linux hands a
 * driver one with CHECKSUM_PARTIAL: the L4 checksum field holds the
 * pseudo-header's folded sum, start and offset say where summing starts
 * and where the result goes (the context of 6.1.1).  Up to a 64 KiB
 * segment, as TSO takes (6.1.2).
 */
typedef struct L4Frame {
    uint8_t f[BLADE_NIC_TSO_MAX_FRAME];
    size_t len;
    uint16_t start, offset;
    uint32_t psum;              /* the pseudo-header's sum */
} L4Frame;

static void l4_frame_proto(L4Frame *lf, const uint8_t *dst,
                           const uint8_t *src, bool v6, uint8_t proto,
                           size_t payload, uint8_t seed)
{
    uint8_t *f = lf->f, *ip = f + 14, *l4, pseudo[40];
    size_t hl = proto == 6 ? 20 : 8, l4len = hl + payload, i;

    memset(lf, 0, sizeof(*lf));
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    if (v6) {
        stw_be_p(f + 12, 0x86dd);
        ip[0] = 0x60;
        stw_be_p(ip + 4, l4len);
        ip[6] = proto;
        ip[7] = 64;
        ip[8] = ip[24] = 0xfd;                  /* fd00::1 to fd00::2 */
        ip[23] = 1;
        ip[39] = 2;
        l4 = ip + 40;
        memcpy(pseudo, ip + 8, 32);
        stl_be_p(pseudo + 32, l4len);
        stl_be_p(pseudo + 36, proto);
        lf->psum = ocsum_add(0, pseudo, 40);
    } else {
        stw_be_p(f + 12, 0x0800);
        ip[0] = 0x45;
        stw_be_p(ip + 2, 20 + l4len);
        stw_be_p(ip + 6, 0x4000);               /* DF */
        ip[8] = 64;
        ip[9] = proto;
        stl_be_p(ip + 12, 0x0a000001);
        stl_be_p(ip + 16, 0x0a000002);
        stw_be_p(ip + 10, ~ocsum_fold(ocsum_add(0, ip, 20)));
        l4 = ip + 20;
        memcpy(pseudo, ip + 12, 8);
        pseudo[8] = 0;
        pseudo[9] = proto;
        stw_be_p(pseudo + 10, l4len);
        lf->psum = ocsum_add(0, pseudo, 12);
    }
    if (proto == 6) {
        stw_be_p(l4, 5000);
        stw_be_p(l4 + 2, 80);
        stl_be_p(l4 + 4, 1);
        l4[12] = 5 << 4;
        l4[13] = 0x18;                          /* PSH ACK */
        stw_be_p(l4 + 14, 1024);
        lf->offset = 16;
    } else {
        stw_be_p(l4, 5000);
        stw_be_p(l4 + 2, 6000);
        stw_be_p(l4 + 4, l4len);
        lf->offset = 6;
    }
    for (i = hl; i < l4len; i++) {
        l4[i] = seed + i * 13;
    }
    lf->start = l4 - f;
    lf->len = lf->start + l4len;
    stw_be_p(l4 + lf->offset, ocsum_fold(lf->psum));
}

/* TCP over IPv4, or UDP over IPv6. */
static void l4_frame(L4Frame *lf, const uint8_t *dst, const uint8_t *src,
                     bool v6, size_t payload, uint8_t seed)
{
    l4_frame_proto(lf, dst, src, v6, v6 ? 17 : 6, payload, seed);
}

/* Is the L4 checksum in @f (a copy of @lf's frame) right? */
static bool l4_csum_ok(const L4Frame *lf, const uint8_t *f)
{
    return ocsum_fold(lf->psum + ocsum_add(0, f + lf->start,
                                           lf->len - lf->start)) == 0xffff;
}

/* Fill in the checksum, as a sender that does not offload would. */
static void l4_finish(L4Frame *lf)
{
    uint8_t *field = lf->f + lf->start + lf->offset;
    uint16_t c;

    stw_be_p(field, 0);
    c = ~ocsum_fold(lf->psum + ocsum_add(0, lf->f + lf->start,
                                         lf->len - lf->start));
    stw_be_p(field, c ? c : 0xffff);
}

/* A TX context descriptor (6.1.1) at @idx. */
static void nh_ctx(NicHarness *h, uint32_t idx, uint16_t start,
                   uint16_t offset, uint16_t flags)
{
    nh_desc(h, h->nic.tx_ring, idx, (uint64_t)offset << 16 | start, 0,
            BLADE_NIC_DFLAG_CTX | flags);
}

/*
 * A context before a frame asks for its checksum: over a TCP segment in
 * IPv4 whose headers and payload are in two buffers, and over a UDP
 * datagram in IPv6.  The frames leave with right checksums and are
 * otherwise unchanged; a context without CSUM changes nothing.
 */
static void test_offload_tx_csum(void)
{
    static const uint16_t want_st[] = {
        BLADE_NIC_DSTAT_DD, BLADE_NIC_DSTAT_DD,
        BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP,
        BLADE_NIC_DSTAT_DD, BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP,
        BLADE_NIC_DSTAT_DD, BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP,
    };
    L4Frame lf[3];
    NicHarness h;
    uint8_t mac[6];
    uint64_t buf, want = 3;
    uint16_t len, st;
    unsigned i, split;

    lane_start(&h, false, NULL);
    nh_mac(&h, mac);
    l4_frame(&lf[0], peer, mac, false, 1000, 1);
    l4_frame(&lf[1], peer, mac, true, 333, 2);
    l4_frame(&lf[2], peer, mac, false, 100, 3);
    buf = guest_alloc(&h.alloc, 3 * 2048);
    for (i = 0; i < 3; i++) {
        qtest_memwrite(h.qts, buf + i * 2048, lf[i].f, lf[i].len);
    }
    split = lf[0].start + 20;
    nh_ctx(&h, 0, lf[0].start, lf[0].offset, BLADE_NIC_DFLAG_CSUM);
    nh_desc(&h, h.nic.tx_ring, 1, buf, split, 0);
    nh_desc(&h, h.nic.tx_ring, 2, buf + split, lf[0].len - split,
            BLADE_NIC_DFLAG_EOP);
    nh_ctx(&h, 3, lf[1].start, lf[1].offset, BLADE_NIC_DFLAG_CSUM);
    nh_desc(&h, h.nic.tx_ring, 4, buf + 2048, lf[1].len, BLADE_NIC_DFLAG_EOP);
    nh_ctx(&h, 5, lf[2].start, lf[2].offset, 0);
    nh_desc(&h, h.nic.tx_ring, 6, buf + 4096, lf[2].len, BLADE_NIC_DFLAG_EOP);
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, 7);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX frames");

    for (i = 0; i < 3; i++) {
        size_t at = lf[i].start + lf[i].offset;

        g_assert_cmpuint(h.frame_len[i], ==, lf[i].len);
        g_assert_cmpmem(h.frames[i], at, lf[i].f, at);
        g_assert_cmpmem(h.frames[i] + at + 2, lf[i].len - at - 2,
                        lf[i].f + at + 2, lf[i].len - at - 2);
        g_assert_true(l4_csum_ok(&lf[i], h.frames[i]) == (i < 2));
    }
    g_assert_cmpmem(h.frames[2], lf[2].len, lf[2].f, lf[2].len);
    for (i = 0; i < ARRAY_SIZE(want_st); i++) {
        nh_desc_wb(&h, h.nic.tx_ring, i, &len, &st);
        g_assert_cmphex(st, ==, want_st[i]);
    }
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, 3);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_OCTETS), ==,
                     lf[0].len + lf[1].len + lf[2].len);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_CSUM), ==, 2);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_CTX_ERRORS), ==, 0);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_ERRORS), ==, 0);
    nh_stop(&h);
}

/*
 * Every context a hostile guest can write that breaks 6.1.1 makes its
 * frame malformed: not sent, its descriptors DD|ERR, counted in
 * TX_ERRORS and TX_CTX_ERRORS, TX_ERR raised; the ring goes on.  A
 * result that ends exactly at the frame's end is still in bounds.
 */
static void test_offload_tx_bad_context(void)
{
    NicHarness h;
    L4Frame lf;
    uint8_t mac[6];
    uint64_t buf, want = 2;
    uint16_t len, st, fit;
    uint32_t i = 0, bad = 0, bad_descs;

    lane_start(&h, false, NULL);
    nh_wr(&h, BLADE_NIC_REG_CTRL, 0);
    nh_rings(&h, 64, 8);
    nh_mac(&h, mac);
    l4_frame(&lf, peer, mac, false, 200, 4);
    buf = guest_alloc(&h.alloc, 2048);
    qtest_memwrite(h.qts, buf, lf.f, lf.len);
    fit = lf.len - lf.start - 2;

    /* the result's two octets end one past the frame */
    nh_ctx(&h, i++, lf.start, fit + 1, BLADE_NIC_DFLAG_CSUM);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    bad++;
    /* the largest start and offset: no overflow */
    nh_ctx(&h, i++, 0xffff, 0xffff, BLADE_NIC_DFLAG_CSUM);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    bad++;
    /* summing from inside the Ethernet header */
    nh_ctx(&h, i++, 13, 20, BLADE_NIC_DFLAG_CSUM);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    bad++;
    /* a context that is not the frame's first descriptor */
    nh_desc(&h, h.nic.tx_ring, i++, buf, 20, 0);
    nh_ctx(&h, i++, lf.start, lf.offset, BLADE_NIC_DFLAG_CSUM);
    nh_desc(&h, h.nic.tx_ring, i++, buf + 20, lf.len - 20, BLADE_NIC_DFLAG_EOP);
    bad++;
    /* a context that ends the frame (EOP): a frame of no data */
    nh_ctx(&h, i++, lf.start, lf.offset,
           BLADE_NIC_DFLAG_CSUM | BLADE_NIC_DFLAG_EOP);
    bad++;
    /* a context with a buffer length */
    nh_desc(&h, h.nic.tx_ring, i, (uint64_t)lf.offset << 16 | lf.start, 64,
            BLADE_NIC_DFLAG_CTX | BLADE_NIC_DFLAG_CSUM);
    i++;
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    bad++;
    /* reserved octets 4-7 set (an MSS, as segmentation would need) */
    nh_desc(&h, h.nic.tx_ring, i, 1460ull << 32 | (uint64_t)lf.offset << 16 |
            lf.start, 0, BLADE_NIC_DFLAG_CTX | BLADE_NIC_DFLAG_CSUM);
    i++;
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    bad++;
    /* a reserved flag, the lowest and the highest (bit 3 is TSO) */
    nh_ctx(&h, i++, lf.start, lf.offset, BLADE_NIC_DFLAG_CSUM | 1u << 4);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    bad++;
    nh_ctx(&h, i++, lf.start, lf.offset, BLADE_NIC_DFLAG_CSUM | 1u << 15);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    bad++;
    bad_descs = i;
    /* in bounds to the last octet: sent */
    nh_ctx(&h, i++, lf.start, fit, BLADE_NIC_DFLAG_CSUM);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    /* and a good one after all of it */
    nh_ctx(&h, i++, lf.start, lf.offset, BLADE_NIC_DFLAG_CSUM);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, i);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX frames");

    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, i);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_ERRORS), ==, bad);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_CTX_ERRORS), ==, bad);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, 2);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_CSUM), ==, 2);
    g_assert_cmpuint(h.nframes, ==, 2);
    g_assert_true(l4_csum_ok(&lf, h.frames[1]));
    for (; i > 0; i--) {
        nh_desc_wb(&h, h.nic.tx_ring, i - 1, &len, &st);
        g_assert_cmphex(st & BLADE_NIC_DSTAT_DD, ==, BLADE_NIC_DSTAT_DD);
        g_assert_cmphex(!!(st & BLADE_NIC_DSTAT_ERR), ==, i <= bad_descs);
    }
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) & BLADE_NIC_INT_TX_ERR, ==,
                    BLADE_NIC_INT_TX_ERR);
    nh_stop(&h);
}

/* ---- TCP segmentation offload (6.1.2) ------------------------------------ */

/* A TX context asking for TSO at @idx. */
static void nh_ctx_tso(NicHarness *h, uint32_t idx, uint16_t start,
                       uint16_t offset, uint16_t mss, uint16_t hdr_len,
                       uint16_t flags)
{
    nh_desc(h, h->nic.tx_ring, idx, (uint64_t)hdr_len << 48 |
            (uint64_t)mss << 32 | (uint64_t)offset << 16 | start, 0,
            BLADE_NIC_DFLAG_CTX | flags);
}

/*
 * The frames the chassis got from @first on are @lf cut at @mss, as a
 * receiver checks them: lengths, IPv4 length and header checksum, IPv6
 * payload length, TCP sequence, PSH on the last only, TCP checksum, the
 * payload in order.
 */
static void tso_check(NicHarness *h, uint64_t first, const L4Frame *lf,
                      bool v6, size_t mss)
{
    size_t hdr_len = lf->start + 20, payload = lf->len - hdr_len;
    size_t segs = (payload + mss - 1) / mss, got = 0, i;

    g_assert_cmpuint(h->nframes, >=, first + segs);
    for (i = 0; i < segs; i++) {
        const uint8_t *f = h->frames[first + i], *ip = f + 14;
        size_t plen = MIN(mss, payload - got), tcp_len = 20 + plen;
        uint8_t pseudo[40];
        uint32_t sum;

        g_assert_cmpuint(h->frame_len[first + i], ==,
                         MAX(hdr_len + plen, 60));
        if (v6) {
            g_assert_cmpuint(lduw_be_p(ip + 4), ==, tcp_len);
            memcpy(pseudo, ip + 8, 32);
            stl_be_p(pseudo + 32, tcp_len);
            stl_be_p(pseudo + 36, 6);
            sum = ocsum_add(0, pseudo, 40);
        } else {
            g_assert_cmpuint(lduw_be_p(ip + 2), ==, 20 + tcp_len);
            g_assert_cmphex(ocsum_fold(ocsum_add(0, ip, 20)), ==, 0xffff);
            memcpy(pseudo, ip + 12, 8);
            pseudo[8] = 0;
            pseudo[9] = 6;
            stw_be_p(pseudo + 10, tcp_len);
            sum = ocsum_add(0, pseudo, 12);
        }
        g_assert_cmphex(ocsum_fold(ocsum_add(sum, f + lf->start, tcp_len)),
                        ==, 0xffff);
        g_assert_cmpuint(ldl_be_p(f + lf->start + 4), ==, 1 + got);
        g_assert_cmphex(f[lf->start + 13], ==, i + 1 < segs ? 0x10 : 0x18);
        g_assert_cmpmem(f + hdr_len, plen, lf->f + hdr_len + got, plen);
        got += plen;
    }
}

/*
 * A TCP segment of 10000 octets over IPv4 in three buffers and one of
 * 5000 over IPv6, each after a context with TSO: the chassis gets them
 * cut at the MSS; write-back as for any frame; TX_TSO 2, TX_FRAMES and
 * TX_CSUM count the frames on the lane.
 */
static void test_offload_tso(void)
{
    static L4Frame lf[2];
    NicHarness h;
    uint8_t mac[6];
    uint64_t buf, want;
    uint16_t len, st;
    unsigned i;

    lane_start(&h, false, NULL);
    nh_mac(&h, mac);
    l4_frame_proto(&lf[0], peer, mac, false, 6, 10000, 1);
    l4_frame_proto(&lf[1], peer, mac, true, 6, 5000, 2);
    buf = guest_alloc(&h.alloc, 2 * 16384);
    qtest_memwrite(h.qts, buf, lf[0].f, lf[0].len);
    qtest_memwrite(h.qts, buf + 16384, lf[1].f, lf[1].len);
    nh_ctx_tso(&h, 0, lf[0].start, 16, 1448, lf[0].start + 20,
               BLADE_NIC_DFLAG_CSUM | BLADE_NIC_DFLAG_TSO);
    nh_desc(&h, h.nic.tx_ring, 1, buf, 54, 0);
    nh_desc(&h, h.nic.tx_ring, 2, buf + 54, 4000, 0);
    nh_desc(&h, h.nic.tx_ring, 3, buf + 4054, lf[0].len - 4054,
            BLADE_NIC_DFLAG_EOP);
    nh_ctx_tso(&h, 4, lf[1].start, 16, 1428, lf[1].start + 20,
               BLADE_NIC_DFLAG_CSUM | BLADE_NIC_DFLAG_TSO);
    nh_desc(&h, h.nic.tx_ring, 5, buf + 16384, lf[1].len, BLADE_NIC_DFLAG_EOP);
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, 6);
    want = 7 + 4;
    nh_wait(&h, nh_cond_frames, &want, 0, "TSO frames");

    g_assert_cmpuint(h.nframes, ==, 11);
    tso_check(&h, 0, &lf[0], false, 1448);
    tso_check(&h, 7, &lf[1], true, 1428);
    for (i = 0; i < 6; i++) {
        nh_desc_wb(&h, h.nic.tx_ring, i, &len, &st);
        g_assert_cmphex(st, ==, BLADE_NIC_DSTAT_DD |
                        (i == 3 || i == 5 ? BLADE_NIC_DSTAT_EOP : 0));
    }
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_TSO), ==, 2);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, 11);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_CSUM), ==, 11);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_OCTETS), ==,
                     10000 + 7 * 54 + 5000 + 4 * 74);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_ERRORS), ==, 0);
    nh_stop(&h);
}

/*
 * At speed=1000 the lane takes a 60000-octet segment's 42 frames only as
 * time passes: the NIC stops at back-pressure in the middle and goes on
 * from the frame where it stopped, each frame once, in order; HEAD moves
 * only when the last has gone.
 */
static void test_offload_tso_paced(void)
{
    static L4Frame lf;
    NicHarness h;
    uint8_t mac[6];
    uint64_t buf, want = 42;

    lane_start_speed(&h, false, 1000, NULL);
    nh_mac(&h, mac);
    l4_frame_proto(&lf, peer, mac, false, 6, 60000, 3);
    buf = guest_alloc(&h.alloc, lf.len);
    qtest_memwrite(h.qts, buf, lf.f, lf.len);
    nh_ctx_tso(&h, 0, lf.start, 16, 1448, lf.start + 20,
               BLADE_NIC_DFLAG_CSUM | BLADE_NIC_DFLAG_TSO);
    nh_desc(&h, h.nic.tx_ring, 1, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, 2);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, 0);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), <, 42);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), >, 0);
    nh_wait(&h, nh_cond_frames, &want, 100 * 1000, "paced TSO frames");
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, 2);
    nh_pump(&h, 10);
    tso_check(&h, 0, &lf, false, 1448);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_TSO), ==, 1);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, 42);
    nh_stop(&h);
}

/*
 * Every TSO context a hostile guest can write that does not hold up is
 * a malformed frame (TX_CTX_ERRORS): an MSS of 0 or below 64, frames
 * longer than 9018 octets, a header length that is not the TCP header's
 * end or lies past the chain, TSO without CSUM, CSUM_START or
 * CSUM_OFFSET not the TCP checksum's, a UDP datagram, an IPv4 fragment;
 * and more than a 64 KiB datagram is too long a frame (TX_ERRORS only).
 * The smallest MSS, the longest frames, and a good one after it all go.
 */
static void test_offload_tso_bad(void)
{
    static L4Frame lf, udp, frag;
    static const uint16_t mss[] = { 1448, 0, 63, 9018 - 54 + 1 };
    const uint16_t tso = BLADE_NIC_DFLAG_CSUM | BLADE_NIC_DFLAG_TSO;
    NicHarness h;
    uint8_t mac[6];
    uint64_t buf, want = 3;
    uint32_t i = 0, bad = 0;
    unsigned k;

    lane_start(&h, false, NULL);
    nh_wr(&h, BLADE_NIC_REG_CTRL, 0);
    nh_rings(&h, 64, 8);
    nh_mac(&h, mac);
    l4_frame_proto(&lf, peer, mac, false, 6, 3000, 4);
    l4_frame_proto(&udp, peer, mac, false, 17, 3000, 5);
    l4_frame_proto(&frag, peer, mac, false, 6, 3000, 6);
    stw_be_p(frag.f + 14 + 6, 0x2000);          /* MF */
    buf = guest_alloc(&h.alloc, 3 * 4096 + BLADE_NIC_TSO_MAX_FRAME + 1);
    qtest_memwrite(h.qts, buf, lf.f, lf.len);
    qtest_memwrite(h.qts, buf + 4096, udp.f, udp.len);
    qtest_memwrite(h.qts, buf + 8192, frag.f, frag.len);

    for (k = 1; k < ARRAY_SIZE(mss); k++) {
        nh_ctx_tso(&h, i++, 34, 16, mss[k], 54, tso);
        nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
        bad++;
    }
    /* header lengths: short of the TCP header, past it, past the chain */
    nh_ctx_tso(&h, i++, 34, 16, 1448, 53, tso);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    nh_ctx_tso(&h, i++, 34, 16, 1448, 58, tso);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    nh_ctx_tso(&h, i++, 34, 16, 1448, 54, tso);
    nh_desc(&h, h.nic.tx_ring, i++, buf, 50, BLADE_NIC_DFLAG_EOP);
    /* TSO without CSUM; the checksum elsewhere */
    nh_ctx_tso(&h, i++, 34, 16, 1448, 54, BLADE_NIC_DFLAG_TSO);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    nh_ctx_tso(&h, i++, 14, 16, 1448, 54, tso);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    nh_ctx_tso(&h, i++, 34, 6, 1448, 54, tso);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    /* not TCP; a fragment */
    nh_ctx_tso(&h, i++, 34, 6, 1448, 42, tso);
    nh_desc(&h, h.nic.tx_ring, i++, buf + 4096, udp.len, BLADE_NIC_DFLAG_EOP);
    nh_ctx_tso(&h, i++, 34, 16, 1448, 54, tso);
    nh_desc(&h, h.nic.tx_ring, i++, buf + 8192, frag.len, BLADE_NIC_DFLAG_EOP);
    bad += 8;
    /*
     * one octet more than the largest datagram, in three buffers: too
     * long a frame (6.1 step 3), not a bad context
     */
    nh_ctx_tso(&h, i++, 34, 16, 1448, 54, tso);
    nh_desc(&h, h.nic.tx_ring, i++, buf, 54, 0);
    nh_desc(&h, h.nic.tx_ring, i++, buf + 12288, 32768, 0);
    nh_desc(&h, h.nic.tx_ring, i++, buf + 12288 + 32768,
            BLADE_NIC_TSO_MAX_FRAME - 54 - 32768 + 1, BLADE_NIC_DFLAG_EOP);
    bad++;
    /* in bounds: MSS 64 and 9018-octet frames */
    nh_ctx_tso(&h, i++, 34, 16, 64, 54, tso);
    nh_desc(&h, h.nic.tx_ring, i++, buf, 54 + 64, BLADE_NIC_DFLAG_EOP);
    nh_ctx_tso(&h, i++, 34, 16, 9018 - 54, 54, tso);
    nh_desc(&h, h.nic.tx_ring, i++, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    /* and a plain one after it all */
    nh_ctx_tso(&h, i++, 34, 16, 1448, 54, tso);
    nh_desc(&h, h.nic.tx_ring, i++, buf, 54 + 1000, BLADE_NIC_DFLAG_EOP);
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, i);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX frames");

    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, i);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_ERRORS), ==, bad);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_CTX_ERRORS), ==, bad - 1);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_TSO), ==, 3);
    g_assert_cmpuint(h.nframes, ==, 3);
    g_assert_cmpuint(h.frame_len[0], ==, 54 + 64);
    g_assert_cmpuint(h.frame_len[1], ==, lf.len);
    g_assert_cmpuint(h.frame_len[2], ==, 54 + 1000);
    nh_stop(&h);
}

/* The chassis sends @f; the NIC's RX status bits for it, beyond DD|EOP. */
static uint16_t rx_csum_status(NicHarness *h, const uint8_t *f, size_t flen)
{
    uint64_t want = nh_stat(h, BLADE_NIC_STAT_RX_FRAMES) + 1;
    uint32_t idx = nh_rd(h, BLADE_NIC_REG_RX_HEAD);
    uint8_t got[1600];
    uint16_t len, st;

    nh_srv_send(h, f, flen);
    nh_wait(h, nh_cond_rx_frames, &want, 0, "RX frame");
    g_assert_cmpuint(nh_stat(h, BLADE_NIC_STAT_RX_FRAMES), ==, want);
    nh_desc_wb(h, h->nic.rx_ring, idx, &len, &st);
    g_assert_cmpuint(len, ==, MAX(flen, 60));
    qtest_memread(h->qts, h->nic.rx_bufs + idx * QBLADE_NIC_BUF_SIZE, got,
                  flen);
    g_assert_cmpmem(got, flen, f, flen);
    /* give a descriptor back, as a driver would */
    nh_desc(h, h->nic.rx_ring, h->nic.rx_tail,
            h->nic.rx_bufs + h->nic.rx_tail * QBLADE_NIC_BUF_SIZE,
            QBLADE_NIC_BUF_SIZE, 0);
    h->nic.rx_tail = (h->nic.rx_tail + 1) % h->nic.rx_size;
    nh_wr(h, BLADE_NIC_REG_RX_TAIL, h->nic.rx_tail);
    return st & ~(BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP);
}

/*
 * CTRL.RXCSUM: the NIC checks TCP and UDP checksums over IPv4 and IPv6
 * and says so in L4CS and L4ERR (6.2.1); frames it cannot check carry
 * neither, and every frame arrives unchanged.  Without RXCSUM nothing is
 * checked.
 */
static void test_offload_rx_csum(void)
{
    NicHarness h;
    L4Frame lf;
    uint8_t mac[6], f[300];
    uint32_t ctrl;

    lane_start(&h, false, NULL);
    nh_mac(&h, mac);
    ctrl = nh_rd(&h, BLADE_NIC_REG_CTRL);
    nh_wr(&h, BLADE_NIC_REG_CTRL, ctrl | BLADE_NIC_CTRL_RXCSUM);

    l4_frame(&lf, mac, peer, false, 700, 5);
    l4_finish(&lf);
    g_assert_cmphex(rx_csum_status(&h, lf.f, lf.len), ==,
                    BLADE_NIC_DSTAT_L4CS);
    lf.f[lf.len - 1] ^= 0x40;                   /* one bit off */
    g_assert_cmphex(rx_csum_status(&h, lf.f, lf.len), ==,
                    BLADE_NIC_DSTAT_L4CS | BLADE_NIC_DSTAT_L4ERR);
    l4_frame(&lf, mac, peer, true, 99, 6);
    l4_finish(&lf);
    g_assert_cmphex(rx_csum_status(&h, lf.f, lf.len), ==,
                    BLADE_NIC_DSTAT_L4CS);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_CSUM_GOOD), ==, 2);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_CSUM_BAD), ==, 1);

    /* not checked: an IPv4 fragment, a UDP datagram without a checksum */
    l4_frame(&lf, mac, peer, false, 300, 7);
    stw_be_p(lf.f + 14 + 6, 0x2000);            /* MF */
    g_assert_cmphex(rx_csum_status(&h, lf.f, lf.len), ==, 0);
    l4_frame(&lf, mac, peer, true, 40, 8);
    stw_be_p(lf.f + lf.start + lf.offset, 0);
    g_assert_cmphex(rx_csum_status(&h, lf.f, lf.len), ==, 0);
    /* ... nor what is not IP */
    nh_make_frame(f, sizeof(f), mac, peer, 9);
    g_assert_cmphex(rx_csum_status(&h, f, sizeof(f)), ==, 0);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_CSUM_GOOD), ==, 2);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_CSUM_BAD), ==, 1);

    /* lengths that lie: delivered unchanged, never read past the frame */
    l4_frame(&lf, mac, peer, false, 64, 10);
    stw_be_p(lf.f + 14 + 2, 0xffff);
    rx_csum_status(&h, lf.f, lf.len);
    l4_frame(&lf, mac, peer, true, 16, 11);
    stw_be_p(lf.f + lf.start + 4, 0xffff);
    rx_csum_status(&h, lf.f, lf.len);
    lf.len = 14 + 30;                           /* IPv6 header cut short */
    rx_csum_status(&h, lf.f, lf.len);

    /* RXCSUM off: a good segment, unchecked */
    nh_wr(&h, BLADE_NIC_REG_CTRL, ctrl);
    l4_frame(&lf, mac, peer, false, 700, 12);
    l4_finish(&lf);
    g_assert_cmphex(rx_csum_status(&h, lf.f, lf.len), ==, 0);
    nh_stop(&h);
}

/*
 * The 1.3 counters survive migration, in the subsection
 * "blade-nic/stats-1.3" (section 14), and so does CTRL.RXCSUM.
 */
static void test_stats_1_3_migration(void)
{
    static const unsigned stat[] = {
        BLADE_NIC_STAT_TX_CSUM, BLADE_NIC_STAT_TX_CTX_ERRORS,
        BLADE_NIC_STAT_RX_CSUM_GOOD, BLADE_NIC_STAT_RX_CSUM_BAD,
    };
    uint64_t before[BLADE_NIC_STAT_COUNT], want = 1;
    g_autofree char *file = NULL;
    NicHarness h;
    NhIncoming dst;
    L4Frame lf;
    uint8_t mac[6];
    uint64_t buf;
    unsigned i;

    lane_start(&h, false, NULL);
    nh_mac(&h, mac);
    nh_wr(&h, BLADE_NIC_REG_CTRL, nh_rd(&h, BLADE_NIC_REG_CTRL) |
          BLADE_NIC_CTRL_RXCSUM);
    l4_frame(&lf, peer, mac, false, 100, 13);
    buf = guest_alloc(&h.alloc, 2048);
    qtest_memwrite(h.qts, buf, lf.f, lf.len);
    nh_ctx(&h, 0, 13, 0, BLADE_NIC_DFLAG_CSUM);
    nh_desc(&h, h.nic.tx_ring, 1, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    nh_ctx(&h, 2, lf.start, lf.offset, BLADE_NIC_DFLAG_CSUM);
    nh_desc(&h, h.nic.tx_ring, 3, buf, lf.len, BLADE_NIC_DFLAG_EOP);
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, 4);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX frame");
    l4_frame(&lf, mac, peer, true, 50, 14);
    l4_finish(&lf);
    rx_csum_status(&h, lf.f, lf.len);
    lf.f[lf.len - 1]++;
    rx_csum_status(&h, lf.f, lf.len);
    rx_csum_status(&h, lf.f, lf.len);
    for (i = 0; i < ARRAY_SIZE(stat); i++) {
        g_assert_cmpuint(nh_stat(&h, stat[i]), ==, i == 3 ? 2 : 1);
    }
    for (i = BLADE_NIC_STAT_COUNT_1_2; i < BLADE_NIC_STAT_COUNT; i++) {
        before[i] = nh_stat(&h, i);
    }
    g_assert_cmpuint(before[BLADE_NIC_STAT_RX_HIST + 1], ==, 3);

    file = nh_migrate_to_file(&h);
    nh_incoming(&dst, file, NULL);
    for (i = BLADE_NIC_STAT_COUNT_1_2; i < BLADE_NIC_STAT_COUNT; i++) {
        g_assert_cmpuint(nh_in_stat(&dst, i), ==, before[i]);
    }
    g_assert_cmphex(nh_in_rd(&dst, BLADE_NIC_REG_CTRL) &
                    BLADE_NIC_CTRL_RXCSUM, ==, BLADE_NIC_CTRL_RXCSUM);
    nh_incoming_end(&dst, file);
    nh_stop(&h);
}

static void test_rx_filter(void)
{
    NicHarness h;
    uint8_t f[64], mac[6];
    const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 0x77 };
    const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
    uint64_t want = 0;
    uint16_t len, st;
    unsigned idx;

    lane_start(&h, false, NULL);
    nh_mac(&h, mac);
    /* other unicast: filtered; broadcast: in; multicast, no hash: out */
    nh_make_frame(f, sizeof(f), other, peer, 0);
    nh_srv_send(&h, f, sizeof(f));
    nh_make_frame(f, sizeof(f), bcast, peer, 0);
    nh_srv_send(&h, f, sizeof(f));
    nh_make_frame(f, sizeof(f), mcast, peer, 0);
    nh_srv_send(&h, f, sizeof(f));
    want = 3;
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "3 frames");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FILTERED), ==, 2);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_BCAST), ==, 1);
    nh_desc_wb(&h, h.nic.rx_ring, 0, &len, &st);
    g_assert_cmphex(st, ==, BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP |
                    BLADE_NIC_DSTAT_BCAST);
    /* the hash bit of 01:00:5e:00:00:01 (docs: CRC-32 bits 31:24) */
    idx = eth_crc32(0, mcast, 6) >> 24;
    nh_wr(&h, BLADE_NIC_REG_MTA + 4 * (idx / 32), 1u << (idx % 32));
    nh_srv_send(&h, f, sizeof(f));
    want = 4;
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "multicast");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_MCAST), ==, 1);
    nh_desc_wb(&h, h.nic.rx_ring, 1, &len, &st);
    g_assert_cmphex(st, ==, BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP |
                    BLADE_NIC_DSTAT_MCAST);
    /* promiscuous: other unicast comes in */
    nh_wr(&h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_TXEN | BLADE_NIC_CTRL_RXEN |
          BLADE_NIC_CTRL_PROMISC);
    nh_make_frame(f, sizeof(f), other, peer, 0);
    nh_srv_send(&h, f, sizeof(f));
    want = 5;
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "promiscuous");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 3);
    /* a new MAC address takes effect at once */
    nh_wr(&h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_TXEN | BLADE_NIC_CTRL_RXEN);
    nh_wr(&h, BLADE_NIC_REG_MAC_LO, ldl_le_p(other));
    nh_wr(&h, BLADE_NIC_REG_MAC_HI, lduw_le_p(other + 4));
    nh_srv_send(&h, f, sizeof(f));
    want = 6;
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "new MAC");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 4);
    nh_stop(&h);
}

/* ALLMULTI; a buffer too small for the frame: dropped, not consumed */
static void test_rx_allmulti_small_buffer(void)
{
    NicHarness h;
    uint8_t f[200], mac[6];
    const uint8_t mcast[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
    uint64_t want;
    uint16_t len, st;

    lane_start(&h, false, NULL);
    nh_mac(&h, mac);
    nh_wr(&h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_TXEN | BLADE_NIC_CTRL_RXEN |
          BLADE_NIC_CTRL_ALLMULTI);
    nh_make_frame(f, sizeof(f), mcast, peer, 15);
    nh_srv_send(&h, f, sizeof(f));
    want = 1;
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "multicast");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_MCAST), ==, 1);
    /* descriptor 1 gets a 100-octet buffer: a 200-octet frame is dropped */
    nh_desc(&h, h.nic.rx_ring, 1, h.nic.rx_bufs + QBLADE_NIC_BUF_SIZE, 100, 0);
    nh_make_frame(f, sizeof(f), mac, peer, 15);
    nh_srv_send(&h, f, sizeof(f));
    want = 2;
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "too long");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_LEN_ERRORS), ==, 1);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_RX_HEAD), ==, 1);
    nh_desc_wb(&h, h.nic.rx_ring, 1, &len, &st);
    g_assert_cmphex(st, ==, 0);
    /* a frame that fits uses it */
    nh_srv_send(&h, f, 100);
    want = 3;
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "fits");
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_RX_HEAD), ==, 2);
    nh_desc_wb(&h, h.nic.rx_ring, 1, &len, &st);
    g_assert_cmpuint(len, ==, 100);
    nh_stop(&h);
}

static void test_rx_moderation(void)
{
    NicHarness h;
    uint8_t f[64], mac[6];
    uint64_t want = 5;
    unsigned i;

    lane_start(&h, false, NULL);
    nh_wr(&h, BLADE_NIC_REG_ITR_RX, 1000);
    qtest_clock_step(h.qts, 2 * 1000 * 1000);
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), mac, peer, 5);
    for (i = 0; i < 5; i++) {
        nh_srv_send(&h, f, sizeof(f));
    }
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "5 frames");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 5);
    /* one message at once, the rest held for 1 ms */
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 1);
    qtest_clock_step(h.qts, 1000 * 1000);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 2);
    qtest_clock_step(h.qts, 5 * 1000 * 1000);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_RX), ==, 2);
    nh_stop(&h);
}

/* Ring full, empty and wrap, both directions. */
static void test_ring_wrap(void)
{
    NicHarness h;
    uint8_t f[64], mac[6];
    uint64_t want;
    unsigned i, round;
    uint16_t len, st;

    lane_start(&h, false, NULL);
    nh_wr(&h, BLADE_NIC_REG_CTRL, 0);
    nh_rings(&h, 8, 8);
    nh_mac(&h, mac);
    /* RX: 7 buffers posted (one slot stays empty); 10 frames: 3 lost */
    nh_make_frame(f, sizeof(f), mac, peer, 6);
    for (i = 0; i < 10; i++) {
        nh_srv_send(&h, f, sizeof(f));
    }
    want = 10;
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "10 frames");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 7);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_NOBUF), ==, 3);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_RX_HEAD), ==, 7);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) & BLADE_NIC_INT_RX_NOBUF,
                    ==, BLADE_NIC_INT_RX_NOBUF);
    /* give back 4 buffers: tail wraps to 3 */
    nh_wr(&h, BLADE_NIC_REG_RX_TAIL, 3);
    for (i = 0; i < 4; i++) {
        nh_srv_send(&h, f, sizeof(f));
    }
    want = 14;
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "4 more frames");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 11);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_RX_HEAD), ==, 3);
    nh_desc_wb(&h, h.nic.rx_ring, 0, &len, &st);
    g_assert_cmpuint(len, ==, 64);
    g_assert_cmphex(st & BLADE_NIC_DSTAT_DD, ==, BLADE_NIC_DSTAT_DD);

    /* TX: three rounds of 5 frames through an 8-entry ring */
    nh_make_frame(f, sizeof(f), peer, mac, 7);
    for (round = 0; round < 3; round++) {
        for (i = 0; i < 5; i++) {
            nh_tx_queue(&h, f, sizeof(f));
        }
        nh_tx_kick(&h);
        want = 5 * (round + 1);
        nh_wait(&h, nh_cond_frames, &want, 0, "TX round");
        g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, h.nic.tx_tail);
    }
    g_assert_cmpuint(h.nframes, ==, 15);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, 15);
    nh_stop(&h);
}

/* ---- link ---------------------------------------------------------------- */

static void test_link_down_up(void)
{
    NicHarness h;
    uint8_t f[64], mac[6];
    uint16_t len, st;

    lane_start(&h, false, NULL);
    nh_wr(&h, BLADE_NIC_REG_ICR, 0xff);
    /* the chassis turns its transmitter off */
    lane_set_tx_enabled(h.srv, false, nh_now(&h));
    lane_flush(h.srv, nh_now(&h));
    nh_wait(&h, nh_cond_link_down, NULL, 0, "link down");
    /* link change, and the receiver's loss of sync (a PCS event) */
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR), ==,
                    BLADE_NIC_INT_LSC | BLADE_NIC_INT_PCS_ERR);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_PCS_SYNC_LOSSES), ==, 1);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_MISC), >=, 2);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_STATUS) &
                    (BLADE_NIC_STATUS_LINK_UP | BLADE_NIC_STATUS_SYNC), ==,
                    0);
    /* TX while down: completed, not sent, NOLINK */
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), peer, mac, 8);
    nh_tx_queue(&h, f, sizeof(f));
    nh_tx_kick(&h);
    nh_desc_wb(&h, h.nic.tx_ring, 0, &len, &st);
    g_assert_cmphex(st, ==, BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP |
                    BLADE_NIC_DSTAT_NOLINK);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_NOLINK), ==, 1);
    /* back on: negotiation, link up, a second LSC */
    nh_wr(&h, BLADE_NIC_REG_ICR, 0xff);
    lane_set_tx_enabled(h.srv, true, nh_now(&h));
    lane_flush(h.srv, nh_now(&h));
    nh_wait(&h, nh_cond_link_up, NULL, 1000000, "link up again");
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) & BLADE_NIC_INT_LSC, ==,
                    BLADE_NIC_INT_LSC);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_LINK_CHANGES), ==, 3);
    /* the chassis goes away: down, and back when it returns */
    lane_free(h.srv);
    h.srv = NULL;
    while (nh_rd(&h, BLADE_NIC_REG_STATUS) & BLADE_NIC_STATUS_CONNECTED) {
        g_usleep(1000);
    }
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_STATUS) &
                    BLADE_NIC_STATUS_LINK_UP, ==, 0);
    nh_stop(&h);
}

/* ---- utilization --------------------------------------------------------- */

static bool cond_util(NicHarness *h, void *arg)
{
    return h->nutil >= *(uint64_t *)arg;
}

/* A utilization set with these figures (cpu | irq << 8) arrived. */
static bool cond_util_is(NicHarness *h, void *arg)
{
    uint32_t want = *(uint32_t *)arg;

    return h->nutil && h->util.cpu_pct == (want & 0xff) &&
           h->util.irq_pct == want >> 8;
}

static void test_util_guest(void)
{
    NicHarness h;
    uint64_t want, n;
    uint32_t fig = 42 | 17 << 8;

    lane_start(&h, false, ",util-source=guest,util-interval=10");
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CFG), ==,
                    BLADE_NIC_UTIL_SRC_GUEST | 10 << 16);
    nh_wr(&h, BLADE_NIC_REG_UTIL, 42 | 17 << 8);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL), ==, 42 | 17 << 8);
    /* one interval of a quiet link: a set with the figures */
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_wait(&h, cond_util_is, &fig, 0, "utilization set");
    /* one set per interval */
    n = h.nutil;
    for (want = 0; want < 5; want++) {
        qtest_clock_step(h.qts, 10 * 1000 * 1000);
    }
    want = n + 5;
    nh_wait(&h, cond_util, &want, 0, "five more sets");
    nh_pump(&h, 20);
    g_assert_cmpuint(h.nutil, ==, n + 5);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_TX), ==,
                    42 | 17 << 8 | BLADE_NIC_UTIL_TX_VALID);
    /* the next interval brings the next set; values above 100 clamp */
    nh_wr(&h, BLADE_NIC_REG_UTIL, 250 | 3 << 8);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_TX), ==, 100 | 3 << 8);
    fig = 100 | 3 << 8;
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_wait(&h, cond_util_is, &fig, 0, "second utilization set");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_UTIL_SETS_TX), ==,
                     lane_stats(h.srv)->rx_util_sets);
    /* nothing is sent before the interval elapses */
    want = h.nutil;
    qtest_clock_step(h.qts, 5 * 1000 * 1000);
    nh_pump(&h, 20);
    g_assert_cmpuint(h.nutil, ==, want);
    nh_stop(&h);
}

/* util-form=expanded: the set in its K28.0 ... K28.4 form */
static void test_util_expanded(void)
{
    NicHarness h;
    uint32_t fig = 66 | 11 << 8;

    lane_start(&h, false, ",util-source=guest,util-interval=10,"
               "util-form=expanded");
    nh_wr(&h, BLADE_NIC_REG_UTIL, fig);
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_wait(&h, cond_util_is, &fig, 0, "expanded set");
    g_assert_cmpint(h.util.form, ==, PCS_UTIL_FORM_EXPANDED);
    g_assert_cmpuint(lane_stats(h.srv)->pcs.util_errors, ==, 0);
    nh_stop(&h);
}

/* The chassis's own figures are readable in PEER_UTIL. */
static void test_util_peer(void)
{
    NicHarness h;
    uint32_t v;
    NhOpts o = { .srv_util_ns = 5 * 1000 * 1000 };

    lane_start_opts(&h, &o, 0, NULL);
    lane_set_util(h.srv, 9, 8, nh_now(&h));
    do {
        nh_pump(&h, 2);
        v = nh_rd(&h, BLADE_NIC_REG_PEER_UTIL);
    } while (v != (9 | 8 << 8 | BLADE_NIC_UTIL_TX_VALID));
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_UTIL_SETS_RX), >, 0);
    nh_stop(&h);
}

static void test_util_host(void)
{
    NicHarness h;
    uint64_t want;
    uint32_t v;

    lane_start(&h, false, ",util-source=host,util-interval=10");
    /* guest writes are kept but not sent */
    nh_wr(&h, BLADE_NIC_REG_UTIL, 77);
    want = h.nutil + 2;
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_pump(&h, 5);
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_wait(&h, cond_util, &want, 0, "host utilization");
    v = nh_rd(&h, BLADE_NIC_REG_UTIL_TX);
    g_assert_cmphex(v & BLADE_NIC_UTIL_TX_HOST, ==, BLADE_NIC_UTIL_TX_HOST);
    g_assert_cmpuint(v & 0xff, <=, 100);
    g_assert_cmpuint((v >> 8) & 0xff, ==, 0);
    g_assert_cmpuint(h.util.cpu_pct, ==, v & 0xff);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_UTIL_HOST), <=, 100);
    nh_stop(&h);
}

/*
 * The host measurement under TCG with a one-instruction firmware: a vCPU
 * spinning on "jmp $" reads busy, one stopped by "hlt" reads idle.
 */
static unsigned host_util_with_firmware(const uint8_t *code, size_t len)
{
    NicHarness h;
    g_autofree char *dir = g_dir_make_tmp("blade-nic-fw-XXXXXX", NULL);
    g_autofree char *fw = g_strdup_printf("%s/fw.bin", dir);
    g_autofree char *args = g_strdup_printf("-accel tcg -bios %s", fw);
    g_autofree uint8_t *img = g_malloc(65536);
    unsigned pct, i;

    memset(img, 0xf4, 65536);
    memcpy(img + 65536 - 16, code, len);
    g_assert_true(g_file_set_contents(fw, (char *)img, 65536, NULL));
    nh_start_full(&h, false, false, false,
                  ",util-source=host,util-interval=20", args);
    /* a few intervals of wall time (TCG: the virtual clock is real) */
    for (i = 0; i < 10; i++) {
        g_usleep(30 * 1000);
        nh_rd(&h, BLADE_NIC_REG_UTIL_HOST);
    }
    /*
     * What the NIC sends is its latest measurement.  A new interval may
     * end between two reads (20 ms of wall time): read the sent value on
     * both sides of the measurement, and compare when it did not move.
     */
    for (i = 0; i < 100; i++) {
        uint32_t before = nh_rd(&h, BLADE_NIC_REG_UTIL_TX);

        pct = nh_rd(&h, BLADE_NIC_REG_UTIL_HOST);
        if (nh_rd(&h, BLADE_NIC_REG_UTIL_TX) == before) {
            g_assert_cmphex(before, ==, pct | BLADE_NIC_UTIL_TX_HOST);
            break;
        }
    }
    g_assert_cmpuint(i, <, 100);
    nh_stop(&h);
    unlink(fw);
    rmdir(dir);
    return pct;
}

static void test_util_host_tcg(void)
{
    static const uint8_t spin[] = { 0xeb, 0xfe };   /* jmp $ */
    static const uint8_t halt[] = { 0xfa, 0xf4 };   /* cli; hlt */
    unsigned busy = host_util_with_firmware(spin, sizeof(spin));
    unsigned idle = host_util_with_firmware(halt, sizeof(halt));

    g_test_message("host-measured: spinning vCPU %u%%, halted vCPU %u%%",
                   busy, idle);
    g_assert_cmpuint(busy, >=, 25);
    g_assert_cmpuint(idle, <=, 10);
}

static void test_util_auto(void)
{
    NicHarness h;
    uint32_t fig = 55 | 5 << 8;

    lane_start(&h, false, ",util-interval=10");
    nh_wr(&h, BLADE_NIC_REG_UTIL, 55 | 5 << 8);
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_wait(&h, cond_util_is, &fig, 0, "guest figures");
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_TX) & 0x1ffffff, ==,
                    55 | 5 << 8);
    /* no guest write for three intervals: the host figure takes over */
    qtest_clock_step(h.qts, 31 * 1000 * 1000);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_TX) &
                    BLADE_NIC_UTIL_TX_HOST, ==, BLADE_NIC_UTIL_TX_HOST);
    /* and a fresh guest write takes it back */
    nh_wr(&h, BLADE_NIC_REG_UTIL, 60);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_TX) & 0x1ffffff, ==, 60);
    nh_stop(&h);
}

/* ---- contention figures (datasheet 1.1) ---------------------------------- */

/* A set with these figures arrived: cpu, and the contention or none. */
typedef struct ContWant {
    unsigned cpu;
    bool has;
    unsigned psi, runnable;
} ContWant;

static bool cond_util_cont(NicHarness *h, void *arg)
{
    ContWant *w = arg;

    return h->nutil && h->util.cpu_pct == w->cpu &&
           h->util.has_contention == w->has &&
           (!w->has || (h->util.psi_permille == w->psi &&
                        h->util.runnable == w->runnable));
}

/*
 * UTIL_CONT then UTIL sends the four figures as one sample; UTIL alone
 * sends one without contention figures, as revision 1.0 did.
 */
static void test_util_contention_guest(void)
{
    NicHarness h;
    ContWant w = { 42, true, 420, 17 };

    lane_start(&h, false, ",util-source=guest,util-interval=10");
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT), ==, 0);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT_TX), ==, 0);
    nh_wr(&h, BLADE_NIC_REG_UTIL_CONT, 420 | 17 << 16);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT), ==, 420 | 17 << 16);
    /* armed, not sent: nothing changes until the UTIL write */
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT_TX), ==, 0);
    nh_wr(&h, BLADE_NIC_REG_UTIL, 42 | 7 << 8);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT_TX), ==,
                    420 | 17 << 16 | BLADE_NIC_CONT_TX_VALID);
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_wait(&h, cond_util_cont, &w, 0, "a set with contention figures");
    g_assert_cmpuint(h.util.irq_pct, ==, 7);

    /* UTIL alone: a sample without them (the register keeps its value) */
    nh_wr(&h, BLADE_NIC_REG_UTIL, 43 | 7 << 8);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT_TX), ==, 0);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT), ==, 420 | 17 << 16);
    w = (ContWant){ 43, false, 0, 0 };
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_wait(&h, cond_util_cont, &w, 0, "a set without contention figures");

    /* armed again for the next sample */
    nh_wr(&h, BLADE_NIC_REG_UTIL_CONT, 0 | 1023 << 16);
    nh_wr(&h, BLADE_NIC_REG_UTIL, 44);
    w = (ContWant){ 44, true, 0, 1023 };
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_wait(&h, cond_util_cont, &w, 0, "pressure 0, 1023 runnable");
    g_assert_cmpuint(lane_stats(h.srv)->pcs.util_errors, ==, 0);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_REG_ERRORS), ==, 0);
    nh_stop(&h);
}

/* The same over a raw lane and with the expanded form. */
static void contention_other_form(bool raw, const char *extra)
{
    NicHarness h;
    ContWant w = { 9, true, 1000, 512 };

    lane_start(&h, raw, extra);
    nh_wr(&h, BLADE_NIC_REG_UTIL_CONT, 1000 | 512 << 16);
    nh_wr(&h, BLADE_NIC_REG_UTIL, 9);
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_wait(&h, cond_util_cont, &w, 0, "a set with contention figures");
    g_assert_cmpuint(lane_stats(h.srv)->pcs.util_errors, ==, 0);
    nh_stop(&h);
}

static void test_util_contention_raw(void)
{
    contention_other_form(true, ",util-source=guest,util-interval=10");
}

static void test_util_contention_expanded(void)
{
    contention_other_form(false, ",util-source=guest,util-interval=10,"
                          "util-form=expanded");
}

/*
 * A pressure above 1000 is stored as 1000 and counted as a register
 * error; bits outside the two fields read 0 (not an error).
 */
static void test_util_contention_clamp(void)
{
    NicHarness h;
    ContWant w = { 50, true, 1000, 1023 };
    uint64_t errors;

    lane_start(&h, false, ",util-source=guest,util-interval=10");
    errors = nh_stat(&h, BLADE_NIC_STAT_REG_ERRORS);
    nh_wr(&h, BLADE_NIC_REG_UTIL_CONT, 1000 | 3 << 16 | 1u << 31);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT), ==, 1000 | 3 << 16);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_REG_ERRORS), ==, errors);
    nh_wr(&h, BLADE_NIC_REG_UTIL_CONT, 0xffffffff);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT), ==,
                    1000 | 1023 << 16);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_REG_ERRORS), ==, errors + 1);
    nh_wr(&h, BLADE_NIC_REG_UTIL_CONT, 1001);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT), ==, 1000);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_REG_ERRORS), ==, errors + 2);
    nh_wr(&h, BLADE_NIC_REG_UTIL_CONT, 0xffffffff);
    nh_wr(&h, BLADE_NIC_REG_UTIL, 50);
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_wait(&h, cond_util_cont, &w, 0, "clamped figures");
    /* UTIL_CONT_TX is read-only */
    nh_wr(&h, BLADE_NIC_REG_UTIL_CONT_TX, 0);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_REG_ERRORS), ==, errors + 4);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT_TX), ==,
                    1000 | 1023 << 16 | BLADE_NIC_CONT_TX_VALID);
    /* CTRL.RST clears UTIL_CONT, not what is being sent */
    nh_wr(&h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_RST);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT), ==, 0);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT_TX), ==,
                    1000 | 1023 << 16 | BLADE_NIC_CONT_TX_VALID);
    /* and disarms it: the next UTIL goes without contention figures */
    nh_wr(&h, BLADE_NIC_REG_UTIL_CONT, 5);
    nh_wr(&h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_RST);
    nh_wr(&h, BLADE_NIC_REG_UTIL, 51);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_UTIL_CONT_TX), ==, 0);
    nh_stop(&h);
}

static void assert_host_contention(uint32_t v)
{
    g_assert_cmphex(v & ~(BLADE_NIC_CONT_PSI_MASK | BLADE_NIC_CONT_RUN_MASK),
                    ==, BLADE_NIC_CONT_TX_VALID | BLADE_NIC_CONT_TX_HOST);
    g_assert_cmpuint(v & BLADE_NIC_CONT_PSI_MASK, <=, 1000);
}

/* The latest set carries contention figures with this pressure. */
static bool cond_util_psi(NicHarness *h, void *arg)
{
    return h->nutil && h->util.has_contention &&
           h->util.psi_permille == *(uint32_t *)arg;
}

/*
 * util-source=host sends the host-side contention figures with the host
 * CPU figure: in range, and on the lane as in UTIL_CONT_TX.
 */
static void test_util_contention_host(void)
{
    NicHarness h;
    uint64_t want;
    uint32_t v, psi;

    lane_start(&h, false, ",util-source=host,util-interval=10");
    /* guest contention figures are not sent under host */
    nh_wr(&h, BLADE_NIC_REG_UTIL_CONT, 999);
    nh_wr(&h, BLADE_NIC_REG_UTIL, 77);
    /* the first interval has no previous sample to compare with */
    want = h.nutil + 3;
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_pump(&h, 5);
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_pump(&h, 5);
    qtest_clock_step(h.qts, 10 * 1000 * 1000);
    nh_wait(&h, cond_util, &want, 0, "host utilization");
    v = nh_rd(&h, BLADE_NIC_REG_UTIL_CONT_TX);
    assert_host_contention(v);
    /* a qtest vCPU never runs: nothing waits, nothing is runnable */
    g_assert_cmpuint(v >> BLADE_NIC_CONT_RUN_SHIFT & 0x3ff, ==, 0);
    /*
     * The lane carries what UTIL_CONT_TX shows.  The latest sample's set
     * may still be on its way (the host's pressure differs from sample
     * to sample on a busy host); the clock stands still, so no newer
     * sample follows it.
     */
    psi = v & BLADE_NIC_CONT_PSI_MASK;
    nh_wait(&h, cond_util_psi, &psi, 0, "the latest sample's set");
    g_assert_cmpuint(h.util.runnable, ==, 0);
    nh_stop(&h);
}

/*
 * Under TCG with one vCPU: spinning on "jmp $" it is a runnable thread
 * (state R) whenever the device samples; stopped by "cli; hlt" it sleeps.
 * The pressure depends on what else the host runs: only its range is
 * checked.  Returns the largest runnable count seen.
 */
static unsigned host_runnable_with_firmware(const uint8_t *code, size_t len)
{
    NicHarness h;
    g_autofree char *dir = g_dir_make_tmp("blade-nic-fw-XXXXXX", NULL);
    g_autofree char *fw = g_strdup_printf("%s/fw.bin", dir);
    g_autofree char *args = g_strdup_printf("-accel tcg -bios %s", fw);
    g_autofree uint8_t *img = g_malloc(65536);
    unsigned most = 0, i;

    memset(img, 0xf4, 65536);
    memcpy(img + 65536 - 16, code, len);
    g_assert_true(g_file_set_contents(fw, (char *)img, 65536, NULL));
    nh_start_full(&h, false, false, false,
                  ",util-source=host,util-interval=20", args);
    for (i = 0; i < 12; i++) {
        uint32_t v;

        g_usleep(30 * 1000);
        v = nh_rd(&h, BLADE_NIC_REG_UTIL_CONT_TX);
        if (i >= 2) {
            assert_host_contention(v);
            most = MAX(most, v >> BLADE_NIC_CONT_RUN_SHIFT & 0x3ff);
        }
    }
    nh_stop(&h);
    unlink(fw);
    rmdir(dir);
    return most;
}

static void test_util_contention_host_tcg(void)
{
    static const uint8_t spin[] = { 0xeb, 0xfe };   /* jmp $ */
    static const uint8_t halt[] = { 0xfa, 0xf4 };   /* cli; hlt */
    unsigned busy = host_runnable_with_firmware(spin, sizeof(spin));
    unsigned idle = host_runnable_with_firmware(halt, sizeof(halt));

    g_test_message("runnable vCPU threads: spinning %u, halted %u", busy,
                   idle);
    g_assert_cmpuint(busy, ==, 1);
    g_assert_cmpuint(idle, ==, 0);
}

/*
 * UTIL_CONT, its arming and UTIL_CONT_TX survive migration (in the
 * "blade-nic/util-cont" subsection; a stream without it, as revision 1.0
 * writes, loads with them at their reset values: the round-trip test).
 */
static void test_util_contention_migration(void)
{
    NicHarness h;
    NhIncoming dst;
    g_autofree char *file = NULL;

    lane_start(&h, false, ",util-source=guest");
    nh_wr(&h, BLADE_NIC_REG_UTIL_CONT, 300 | 4 << 16);
    nh_wr(&h, BLADE_NIC_REG_UTIL, 30);
    nh_wr(&h, BLADE_NIC_REG_UTIL_CONT, 301 | 5 << 16);     /* armed */
    file = nh_migrate_to_file(&h);
    nh_incoming(&dst, file, ",util-source=guest");
    g_assert_cmphex(nh_in_rd(&dst, BLADE_NIC_REG_UTIL_CONT), ==,
                    301 | 5 << 16);
    g_assert_cmphex(nh_in_rd(&dst, BLADE_NIC_REG_UTIL_CONT_TX), ==,
                    300 | 4 << 16 | BLADE_NIC_CONT_TX_VALID);
    /* still armed: the next UTIL carries the armed figures */
    qpci_io_writel(dst.dev, dst.bar, BLADE_NIC_REG_UTIL, 31);
    g_assert_cmphex(nh_in_rd(&dst, BLADE_NIC_REG_UTIL_CONT_TX), ==,
                    301 | 5 << 16 | BLADE_NIC_CONT_TX_VALID);
    nh_incoming_end(&dst, file);
    nh_stop(&h);
}

/* ---- reset mid-traffic, migration ---------------------------------------- */

static void test_reset_mid_traffic(void)
{
    NicHarness h;
    uint8_t f[1000], mac[6];
    unsigned i;
    uint64_t want;

    lane_start(&h, false, NULL);
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), peer, mac, 9);
    for (i = 0; i < 15; i++) {
        nh_tx_queue(&h, f, sizeof(f));
    }
    nh_make_frame(f, sizeof(f), mac, peer, 9);
    for (i = 0; i < 10; i++) {
        nh_srv_send(&h, f, sizeof(f));
    }
    nh_tx_kick(&h);
    nh_wr(&h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_RST);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_CTRL), ==, 0);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_SIZE), ==, 0);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_RX_HEAD), ==, 0);
    /* frames arriving after the reset are dropped: RX is off */
    nh_pump(&h, 20);
    /* the link stays up through a function reset; bring-up works again */
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_STATUS) &
                    BLADE_NIC_STATUS_LINK_UP, ==, BLADE_NIC_STATUS_LINK_UP);
    nh_rings(&h, 16, 16);
    want = h.nframes + 1;
    nh_make_frame(f, sizeof(f), peer, mac, 10);
    nh_tx_queue(&h, f, sizeof(f));
    nh_tx_kick(&h);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX after reset");
    nh_stop(&h);
}

static void test_migration(void)
{
    NicHarness h;
    NhIncoming dst;
    g_autofree char *file = NULL;
    uint8_t f[128], mac[6];
    uint64_t want = 3;
    unsigned i;
    uint32_t regs[] = {
        BLADE_NIC_REG_CTRL, BLADE_NIC_REG_SCRATCH, BLADE_NIC_REG_ICR,
        BLADE_NIC_REG_IER, BLADE_NIC_REG_ITR_RX, BLADE_NIC_REG_ITR_TX,
        BLADE_NIC_REG_MAC_LO, BLADE_NIC_REG_MAC_HI, BLADE_NIC_REG_MTA + 8,
        BLADE_NIC_REG_TX_BASE_LO, BLADE_NIC_REG_TX_SIZE,
        BLADE_NIC_REG_TX_HEAD, BLADE_NIC_REG_TX_TAIL,
        BLADE_NIC_REG_RX_BASE_LO, BLADE_NIC_REG_RX_SIZE,
        BLADE_NIC_REG_RX_HEAD, BLADE_NIC_REG_RX_TAIL, BLADE_NIC_REG_UTIL,
        BLADE_NIC_REG_STAT_BASE + 8 * BLADE_NIC_STAT_TX_FRAMES,
        BLADE_NIC_REG_STAT_BASE + 8 * BLADE_NIC_STAT_TX_OCTETS,
        BLADE_NIC_REG_STAT_BASE + 8 * BLADE_NIC_STAT_RX_FRAMES,
        BLADE_NIC_REG_STAT_BASE + 8 * BLADE_NIC_STAT_REG_ERRORS,
    };
    uint32_t before[G_N_ELEMENTS(regs)];

    lane_start(&h, false, NULL);
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), peer, mac, 11);
    for (i = 0; i < 3; i++) {
        nh_tx_queue(&h, f, sizeof(f));
    }
    nh_tx_kick(&h);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX");
    nh_make_frame(f, sizeof(f), mac, peer, 11);
    nh_srv_send(&h, f, sizeof(f));
    want = 1;
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "RX");
    nh_wr(&h, BLADE_NIC_REG_SCRATCH, 0xfeedf00d);
    nh_wr(&h, BLADE_NIC_REG_ITR_TX, 33);
    nh_wr(&h, BLADE_NIC_REG_MTA + 8, 0x80000001);
    nh_wr(&h, BLADE_NIC_REG_UTIL, 12 | 34 << 8);
    nh_wr(&h, 0xffc, 1);
    for (i = 0; i < G_N_ELEMENTS(regs); i++) {
        before[i] = nh_rd(&h, regs[i]);
    }
    file = nh_migrate_to_file(&h);
    /* the destination: same machine, no lane; state from the file */
    nh_incoming(&dst, file, NULL);
    for (i = 0; i < G_N_ELEMENTS(regs); i++) {
        uint32_t v = nh_in_rd(&dst, regs[i]);

        if (regs[i] == BLADE_NIC_REG_ICR) {
            /* the destination has no lane: link down adds LSC */
            v &= ~BLADE_NIC_INT_LSC;
            before[i] &= ~BLADE_NIC_INT_LSC;
        }
        g_assert_cmphex(v, ==, before[i]);
    }
    /* the destination shows its own link: down, and says so with LSC */
    g_assert_cmphex(nh_in_rd(&dst, BLADE_NIC_REG_STATUS) &
                    BLADE_NIC_STATUS_LINK_UP, ==, 0);
    g_assert_cmphex(nh_in_rd(&dst, BLADE_NIC_REG_ICR) &
                    BLADE_NIC_INT_LSC, ==, BLADE_NIC_INT_LSC);
    nh_incoming_end(&dst, file);
    nh_stop(&h);
}

/* ---- power: suspend to RAM (S3) ------------------------------------------ */

#define LPC_DEVFN       QPCI_DEVFN(0x1f, 0)
#define ICH9_PMBASE     0x40        /* LPC config: ACPI PM I/O base */
#define ICH9_ACPI_CTRL  0x44
#define ICH9_ACPI_EN    0x80
#define PM_BASE         0x600
#define PM1_CNT         (PM_BASE + 4)
#define PM1_SLP_TYP_S3  (1 << 10)   /* QEMU's ACPI tables: S3 is type 1 */
#define PM1_SLP_EN      (1 << 13)

/* What the firmware does on q35: give the ACPI PM registers an address. */
static void s3_setup(NicHarness *h)
{
    QPCIDevice *lpc = qpci_device_find(h->bus, LPC_DEVFN);

    g_assert_nonnull(lpc);
    qpci_config_writel(lpc, ICH9_PMBASE, PM_BASE | 1);
    qpci_config_writeb(lpc, ICH9_ACPI_CTRL, ICH9_ACPI_EN);
    g_free(lpc);
}

static bool cond_srv_link_down(NicHarness *h, void *arg)
{
    return !lane_is_link_up(h->srv);
}

/* Let QEMU's main loop run: virtual time passes, the chassis end pumps. */
static void run_for(NicHarness *h, int64_t ns)
{
    int64_t step = 10 * 1000 * 1000;

    for (int64_t t = 0; t < ns; t += step) {
        qtest_clock_step(h->qts, step);
        nh_pump(h, 1);
    }
}

/*
 * A chassis that ignores the link state: one FRAME record written on the
 * socket directly (pcs=raw), after whatever the lane had queued.
 */
static void srv_send_raw_record(NicHarness *h, const uint8_t *f, size_t len)
{
    uint8_t rec[LANE_REC_HDR + 128 + ETH_FCS_LEN];
    size_t plen = len + ETH_FCS_LEN;
    LaneFd fds[LANE_MAX_FDS];
    int n;

    g_assert_cmpuint(len, >=, 60);
    g_assert_cmpuint(len, <=, 128);
    lane_flush(h->srv, nh_now(h));
    n = lane_get_fds(h->srv, fds);
    g_assert_cmpint(n, >=, 2);
    g_assert_cmphex(fds[1].events & POLLOUT, ==, 0);
    rec[0] = LANE_TAG_FRAME;
    rec[1] = 0;
    rec[2] = plen & 0xff;
    rec[3] = plen >> 8;
    memcpy(rec + LANE_REC_HDR, f, len);
    eth_fcs_append(rec + LANE_REC_HDR, len);
    if (lane_on_rings(h->srv)) {
        /* the records travel in the shared-memory ring */
        g_assert_cmpint(lane_ring_write(lane_shm_ring(h->srv), rec,
                                        LANE_REC_HDR + plen), ==,
                        LANE_REC_HDR + plen);
        return;
    }
    g_assert_cmpint(write(fds[1].fd, rec, LANE_REC_HDR + plen), ==,
                    LANE_REC_HDR + plen);
}

/*
 * Section 8.3: the guest suspends to RAM.  The NIC has no wake-on-LAN:
 * the chassis sees the link go and no more load reports (the blade leaves
 * rotation) and cannot send; a frame a peer sends anyway is dropped, not
 * held.  At wake-up the platform resets the NIC, the link comes back, the
 * driver sets the NIC up again, and it receives (the new frame, not the
 * one sent while it was off) and reports load.  Before this was fixed the
 * link stayed up, the NIC kept reporting load, and the first frame that
 * arrived while suspended paused the lane for good.
 */
static void test_power_s3(void)
{
    NicHarness h;
    uint8_t mac[6], f[100], g[100], got[100];
    uint64_t want = 1, nutil;
    uint16_t len, st;

    lane_start(&h, true, NULL);
    s3_setup(&h);
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), mac, peer, 21);
    nh_make_frame(g, sizeof(g), mac, peer, 22);
    nh_srv_send(&h, f, sizeof(f));
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "RX before suspend");

    qtest_outw(h.qts, PM1_CNT, PM1_SLP_TYP_S3 | PM1_SLP_EN);
    qtest_qmp_eventwait(h.qts, "SUSPEND");
    nh_wait(&h, cond_srv_link_down, NULL, 1000 * 1000, "chassis link down");
    nutil = h.nutil;
    run_for(&h, 500 * 1000 * 1000);     /* five utilization intervals */
    g_assert_cmpuint(h.nutil, ==, nutil);
    g_assert_false(lane_is_link_up(h.srv));
    g_assert_cmpint(lane_send_frame(h.srv, f, sizeof(f), nh_now(&h)), ==,
                    -ENOLINK);
    srv_send_raw_record(&h, f, sizeof(f));
    run_for(&h, 50 * 1000 * 1000);

    qtest_qmp_assert_success(h.qts, "{'execute': 'system_wakeup'}");
    qtest_qmp_eventwait(h.qts, "WAKEUP");
    /* the wake-up reset cleared the function: bring-up again (16.1) */
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_CTRL), ==, 0);
    qpci_device_enable(h.nic.dev);
    h.nic.bar0 = qpci_iomap(h.nic.dev, 0, NULL);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 0);
    nh_rings(&h, 16, 16);
    qpci_msix_enable(h.nic.dev);
    nh_wr(&h, BLADE_NIC_REG_IER, 0xff);
    nh_link_up(&h);
    want = nutil + 1;
    nh_wait(&h, cond_util, &want, 1000 * 1000, "load reports");

    nh_srv_send(&h, g, sizeof(g));
    want = 1;
    nh_wait(&h, nh_cond_rx_frames, &want, 0, "RX after wake-up");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 1);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_RX_HEAD), ==, 1);
    nh_desc_wb(&h, h.nic.rx_ring, 0, &len, &st);
    g_assert_cmpuint(len, ==, sizeof(g));
    qtest_memread(h.qts, h.nic.rx_bufs, got, sizeof(got));
    g_assert_cmpmem(got, sizeof(got), g, sizeof(g));
    nh_stop(&h);
}

/* ---- hot-unplug from inside the NIC's own interrupt ---------------------- */

#define ROOT_PORT_DEVFN QPCI_DEVFN(5, 0)
#define NIC_BEHIND_PORT_DEVFN (1 << 8 | QPCI_DEVFN(0, 0))   /* bus 1 */
#define MMCFG_BASE      0xb0000000u
#define Q35_PCIEXBAR    0x60

/*
 * A guest points the NIC's RX vector at its root port's slot control,
 * through the PCIe configuration window (MMCONFIG), with "power off" as
 * the data: the message unplugs the NIC.  It is sent when a frame
 * arrives, i.e. from the lane's receive path.  That path (the lane, the
 * device's DMA and interrupt code) must not run on after the device is
 * gone.  Before the fix QEMU went on in freed PCI state and aborted
 * (pci_irq_handler's assertion; valgrind: invalid reads in blade-nic.c,
 * then lane-transport.c).  The qtest tier runs these tests once more
 * under valgrind (scripts/bladeplane_cli/testing.py), i.e.
 *   QTEST_QEMU_BINARY="valgrind -q --error-exitcode=99 ./qemu-system-x86_64"
 * so that an invalid access fails them.  Here: QEMU stays up and answers,
 * the NIC is gone from the bus, and the chassis sees the lane disconnect.
 *
 * With by_dma the RX buffer, not the vector, is aimed at the slot
 * control (the frame's first octets are "power off"): the frame's own DMA
 * unplugs the NIC, and its descriptor write-back must not follow.
 *
 * The set-up, for the chassis end taking the NIC's rings or not (@shm).
 */
static void unplug_setup(NicHarness *h, bool by_dma, LaneShm shm)
{
    QPCIDevice *host, *port;
    uint64_t sltctl;
    LaneConfig cfg;
    uint8_t exp;
    int err = 0;

    memset(h, 0, sizeof(*h));
    h->dir = g_dir_make_tmp("blade-nic-XXXXXX", NULL);
    h->path = g_strdup_printf("%s/slot0.sock", h->dir);
    lane_config_init(&cfg, LANE_ROLE_SERVER, h->path);
    cfg.speed_mbps = 0;
    cfg.util_interval_ns = 0;
    cfg.shm = shm;
    h->srv = lane_new(&cfg, &nh_srv_ops, h, nh_now(h), &err);
    g_assert_nonnull(h->srv);
    /* native PCIe hot-plug (the slot control), not ACPI's */
    h->qts = qtest_initf("-M q35 -m 256M -global ICH9-LPC."
                         "acpi-pci-hotplug-with-bridge-support=off "
                         "-device pcie-root-port,id=rp0,bus=pcie.0,"
                         "addr=05.0,chassis=1,slot=1 "
                         "-device blade-nic,id=nic0,bus=rp0,addr=00.0,"
                         "speed=0,backplane=%s,slot=0", h->dir);
    h->bus = qpci_new_pc(h->qts, NULL);
    pc_alloc_init(&h->alloc, h->qts, ALLOC_NO_FLAGS);

    /* firmware's part: MMCONFIG, and the port's bus numbers and window */
    host = qpci_device_find(h->bus, QPCI_DEVFN(0, 0));
    qpci_config_writel(host, Q35_PCIEXBAR + 4, 0);
    qpci_config_writel(host, Q35_PCIEXBAR, MMCFG_BASE | 1);
    port = qpci_device_find(h->bus, ROOT_PORT_DEVFN);
    g_assert_nonnull(port);
    qpci_config_writeb(port, PCI_PRIMARY_BUS, 0);
    qpci_config_writeb(port, PCI_SECONDARY_BUS, 1);
    qpci_config_writeb(port, PCI_SUBORDINATE_BUS, 1);
    qpci_config_writew(port, PCI_MEMORY_BASE, 0xe000);
    qpci_config_writew(port, PCI_MEMORY_LIMIT, 0xfff0);
    qpci_config_writew(port, PCI_PREF_MEMORY_BASE, 0xfff0);
    qpci_config_writew(port, PCI_PREF_MEMORY_LIMIT, 0);
    qpci_device_enable(port);
    exp = qpci_find_capability(port, PCI_CAP_ID_EXP, 0);
    g_assert_cmpuint(exp, !=, 0);
    g_assert_cmphex(qpci_config_readw(port, exp + PCI_EXP_SLTSTA) &
                    PCI_EXP_SLTSTA_PDS, ==, PCI_EXP_SLTSTA_PDS);
    sltctl = MMCFG_BASE + (ROOT_PORT_DEVFN << 12) + exp + PCI_EXP_SLTCTL;
    g_free(port);
    g_free(host);

    qblade_nic_init(&h->nic, h->bus, NIC_BEHIND_PORT_DEVFN, &h->alloc);
    g_assert_cmphex(nh_rd(h, BLADE_NIC_REG_ID), ==, BLADE_NIC_ID_VALUE);
    nh_link_up(h);
    nh_rings(h, 16, 16);

    if (by_dma) {
        /* MAC 00:07:00:00:00:00: a frame to it starts 0x0700 (LE) */
        nh_wr(h, BLADE_NIC_REG_MAC_LO,
              PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PWR_IND_OFF);
        nh_wr(h, BLADE_NIC_REG_MAC_HI, 0);
        nh_desc(h, h->nic.rx_ring, 0, sltctl, QBLADE_NIC_BUF_SIZE, 0);
    }
    /* the RX vector: "slot power off" written to the slot control */
    qpci_msix_enable(h->nic.dev);
    qpci_io_writel(h->nic.dev, h->nic.dev->msix_table_bar,
                   h->nic.dev->msix_table_off + 16 * BLADE_NIC_VEC_RX +
                   PCI_MSIX_ENTRY_LOWER_ADDR, (uint32_t)sltctl);
    qpci_io_writel(h->nic.dev, h->nic.dev->msix_table_bar,
                   h->nic.dev->msix_table_off + 16 * BLADE_NIC_VEC_RX +
                   PCI_MSIX_ENTRY_UPPER_ADDR, 0);
    qpci_io_writel(h->nic.dev, h->nic.dev->msix_table_bar,
                   h->nic.dev->msix_table_off + 16 * BLADE_NIC_VEC_RX +
                   PCI_MSIX_ENTRY_DATA,
                   PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PWR_IND_OFF);
    qpci_io_writel(h->nic.dev, h->nic.dev->msix_table_bar,
                   h->nic.dev->msix_table_off + 16 * BLADE_NIC_VEC_RX +
                   PCI_MSIX_ENTRY_VECTOR_CTRL, 0);
    nh_wr(h, BLADE_NIC_REG_IER, by_dma ? 0 : BLADE_NIC_INT_RX_DONE);
}

/* Several frames in one burst: the receive loop has more to do. */
static void unplug_send(NicHarness *h)
{
    uint8_t mac[6], f[100];

    nh_mac(h, mac);
    /*
     * In one write: a NIC whose VM is stopped stops reading after a frame
     * it cannot deliver yet, so frames written one by one are read one
     * by one or not at all, as the host schedules the two processes.
     */
    for (unsigned i = 0; i < 4; i++) {
        nh_make_frame(f, sizeof(f), mac, peer, 30 + i);
        g_assert_cmpint(lane_send_frame(h->srv, f, sizeof(f), nh_now(h)), ==,
                        0);
    }
    lane_flush(h->srv, nh_now(h));
}

/* The NIC is gone, QEMU answers, and the chassis saw the lane drop. */
static void unplug_check(NicHarness *h)
{
    QDict *r;

    nh_wait(h, cond_srv_link_down, NULL, 1000 * 1000, "NIC unplugged");
    g_assert_false(lane_is_connected(h->srv));
    r = qtest_qmp(h->qts, "{'execute': 'qom-get', 'arguments': "
                  "{'path': '/machine/peripheral/nic0', "
                  "'property': 'link-up'}}");
    g_assert_true(qdict_haskey(r, "error"));
    qobject_unref(r);
    g_assert_cmphex(qpci_config_readw(h->nic.dev, PCI_VENDOR_ID), ==, 0xffff);
    qtest_qmp_assert_success(h->qts, "{'execute': 'query-status'}");
}

static void test_unplug_from_msix(gconstpointer data)
{
    NicHarness h;

    unplug_setup(&h, GPOINTER_TO_INT(data), LANE_SHM_ACCEPT);
    unplug_send(&h);
    unplug_check(&h);
    nh_stop(&h);
}

/* Octets the chassis end wrote that the NIC has not read (or not yet). */
static bool cond_srv_all_read(NicHarness *h, void *arg)
{
    LaneFd lf[LANE_MAX_FDS];
    int n = lane_get_fds(h->srv, lf), i, listening, unread;
    socklen_t len = sizeof(listening);

    if (lane_want_write(h->srv)) {
        return false;
    }
    for (i = 0; i < n; i++) {
        g_assert_cmpint(getsockopt(lf[i].fd, SOL_SOCKET, SO_ACCEPTCONN,
                                   &listening, &len), ==, 0);
        if (!listening) {
            /* a UNIX stream socket: what the peer has not received */
            g_assert_cmpint(ioctl(lf[i].fd, SIOCOUTQ, &unread), ==, 0);
            return unread == 0;
        }
    }
    g_assert_not_reached();
}

/*
 * The unplug of unplug-from-rx-dma, from frames that came while the VM
 * was stopped.  The lane holds them (the NIC's can_receive() is false
 * while the VM is not running) and cont delivers them, from the VM state
 * change handler through blade_lane_rx_resume(): the first frame's DMA
 * unplugs the NIC there, the lane is freed inside its own resume (and
 * blade_lane_rx_resume() frees its BladeLane only when lane_rx_resume()
 * has returned), and the handler returns through a device that is gone.
 *
 * The chassis end takes no rings, so the frames travel on the socket,
 * where the octets the NIC has not read are seen (SIOCOUTQ): once it has
 * read them all, its lane holds them, and only then is cont sent.
 */
static void test_unplug_on_cont(void)
{
    NicHarness h;
    QDict *r;

    unplug_setup(&h, true, LANE_SHM_OFF);
    g_assert_false(lane_on_rings(h.srv));
    qtest_qmp_assert_success(h.qts, "{'execute': 'stop'}");
    r = qtest_qmp_assert_success_ref(h.qts, "{'execute': 'query-status'}");
    g_assert_false(qdict_get_bool(r, "running"));
    qobject_unref(r);

    unplug_send(&h);
    nh_wait(&h, cond_srv_all_read, NULL, 0, "the NIC reading the frames");
    /* held: none delivered, the NIC still there */
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 0);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_RX_HEAD), ==, 0);
    g_assert_cmphex(qpci_config_readw(h.nic.dev, PCI_VENDOR_ID), ==,
                    BLADE_NIC_VENDOR_ID);
    g_assert_true(lane_is_link_up(h.srv));

    qtest_qmp_assert_success(h.qts, "{'execute': 'cont'}");
    unplug_check(&h);
    nh_stop(&h);
}

/* ---- snapshots: loadvm sets the clock back ------------------------------- */

static void hmp_ok(QTestState *qts, const char *cmd)
{
    g_autofree char *out = qtest_hmp(qts, "%s", cmd);

    g_assert_cmpstr(out, ==, "");
}

/* A qcow2 node to hold the snapshots, made through QMP (no qemu-img). */
static void snapshot_store(QTestState *qts)
{
    QDict *r;
    int i;

    qtest_qmp_assert_success(qts, "{'execute': 'blockdev-create', "
                             "'arguments': {'job-id': 'mk', 'options': "
                             "{'driver': 'qcow2', 'file': 'snapfile', "
                             "'size': 4194304}}}");
    for (i = 0; i < 500; i++) {
        QList *jobs;
        QDict *job;
        bool done;

        r = qtest_qmp(qts, "{'execute': 'query-jobs'}");
        jobs = qdict_get_qlist(r, "return");
        g_assert_nonnull(jobs);
        job = qobject_to(QDict, qlist_peek(jobs));
        g_assert_nonnull(job);
        done = !strcmp(qdict_get_str(job, "status"), "concluded");
        qobject_unref(r);
        if (done) {
            break;
        }
        g_usleep(10000);
    }
    g_assert_cmpint(i, <, 500);
    qtest_qmp_assert_success(qts, "{'execute': 'job-dismiss', 'arguments': "
                             "{'id': 'mk'}}");
    qtest_qmp_assert_success(qts, "{'execute': 'blockdev-add', 'arguments': "
                             "{'driver': 'qcow2', 'node-name': 'snap', "
                             "'file': 'snapfile'}}");
}

/*
 * Section 14: loadvm of a snapshot 6 s old (TCG: the virtual clock runs
 * with real time, and the snapshot sets it back).  The NIC sent a frame
 * just before, so its lane's line was busy until a time 6 s after the
 * restored clock.  The first frame after loadvm and the utilization sets
 * must flow at once; before the fix both waited 6 s (the harness gives up
 * after 5 s).
 */
static void test_loadvm_old_snapshot(void)
{
    static const uint8_t halt[] = { 0xfa, 0xf4 };   /* cli; hlt */
    NicHarness h;
    g_autofree char *dir = g_dir_make_tmp("blade-nic-snap-XXXXXX", NULL);
    g_autofree char *fw = g_strdup_printf("%s/fw.bin", dir);
    g_autofree char *img = g_strdup_printf("%s/snap.qcow2", dir);
    g_autofree char *args = NULL;
    g_autofree uint8_t *bios = g_malloc(65536);
    uint8_t mac[6], f[200], g[200];
    uint64_t want;
    gint64 end;

    memset(bios, 0xf4, 65536);
    memcpy(bios + 65536 - 16, halt, sizeof(halt));
    g_assert_true(g_file_set_contents(fw, (char *)bios, 65536, NULL));
    g_assert_true(g_file_set_contents(img, "", 0, NULL));
    args = g_strdup_printf("-accel tcg -bios %s -blockdev driver=file,"
                           "filename=%s,node-name=snapfile", fw, img);
    nh_start_full(&h, true, true, false, ",speed=1000,util-interval=10",
                  args);
    snapshot_store(h.qts);
    nh_wait(&h, nh_cond_link_up, NULL, 0, "link up");
    nh_rings(&h, 16, 16);
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), peer, mac, 41);
    nh_make_frame(g, sizeof(g), peer, mac, 42);

    hmp_ok(h.qts, "savevm s1");
    /* 6 s of the VM's time: 600 utilization intervals (30 s at most) */
    want = h.nutil + 600;
    end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (h.nutil < want) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        nh_pump(&h, 50);
    }
    nh_tx_queue(&h, f, sizeof(f));
    nh_tx_kick(&h);
    want = 1;
    nh_wait(&h, nh_cond_frames, &want, 0, "TX before loadvm");

    hmp_ok(h.qts, "loadvm s1");
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_TAIL), ==, 0);
    h.nic.tx_tail = 0;
    nh_tx_queue(&h, g, sizeof(g));
    nh_tx_kick(&h);
    want = 2;
    nh_wait(&h, nh_cond_frames, &want, 0, "TX after loadvm");
    g_assert_cmpmem(h.frames[1], h.frame_len[1], g, sizeof(g));
    want = h.nutil + 10;
    nh_wait(&h, cond_util, &want, 0, "utilization after loadvm");
    nh_stop(&h);
    unlink(fw);
    unlink(img);
    rmdir(dir);
}

/* ---- fault injection ----------------------------------------------------- */

static void qom_set(NicHarness *h, const char *prop, const char *json)
{
    if (!strcmp(json, "true") || !strcmp(json, "false")) {
        qtest_qmp_assert_success(h->qts, "{'execute': 'qom-set', "
                                 "'arguments': {'path': "
                                 "'/machine/peripheral-anon/device[0]', "
                                 "'property': %s, 'value': %i}}", prop,
                                 !strcmp(json, "true"));
    } else {
        qtest_qmp_assert_success(h->qts, "{'execute': 'qom-set', "
                                 "'arguments': {'path': "
                                 "'/machine/peripheral-anon/device[0]', "
                                 "'property': %s, 'value': %d}}", prop,
                                 atoi(json));
    }
}

static void test_inject_link_down(void)
{
    NicHarness h;

    lane_start(&h, false, NULL);
    nh_wr(&h, BLADE_NIC_REG_ICR, 0xff);
    qom_set(&h, "inject-link-down", "true");
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_STATUS) &
                    (BLADE_NIC_STATUS_LINK_UP | BLADE_NIC_STATUS_FORCED_DOWN),
                    ==, BLADE_NIC_STATUS_FORCED_DOWN);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR), ==, BLADE_NIC_INT_LSC);
    /* the chassis sees the link drop too */
    while (lane_is_link_up(h.srv)) {
        nh_pump(&h, 5);
    }
    nh_wr(&h, BLADE_NIC_REG_ICR, 0xff);
    qom_set(&h, "inject-link-down", "false");
    nh_wait(&h, nh_cond_link_up, NULL, 1000000, "link up");
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR), ==, BLADE_NIC_INT_LSC);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_LINK_CHANGES), ==, 3);
    nh_stop(&h);
}

static bool cond_link_changes(NicHarness *h, void *arg)
{
    return nh_stat(h, BLADE_NIC_STAT_LINK_CHANGES) >= *(uint64_t *)arg &&
           nh_cond_link_up(h, NULL);
}

static void test_inject_sync_loss(void)
{
    NicHarness h;
    uint64_t want = 3;

    lane_start(&h, false, NULL);
    nh_wr(&h, BLADE_NIC_REG_ICR, 0xff);
    qom_set(&h, "inject-sync-loss", "true");
    /* the chassis loses sync, renegotiates: the guest sees down, up */
    nh_wait(&h, cond_link_changes, &want, 1000000, "link down and up");
    g_assert_cmpuint(lane_stats(h.srv)->pcs.sync_lost, ==, 1);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) & BLADE_NIC_INT_LSC, ==,
                    BLADE_NIC_INT_LSC);
    nh_stop(&h);
}

static bool cond_pcs_err(NicHarness *h, void *arg)
{
    nh_pump(h, 0);
    return nh_stat(h, BLADE_NIC_STAT_PCS_CODE_ERRORS) +
           nh_stat(h, BLADE_NIC_STAT_RX_FCS_ERRORS) > 0;
}

static void test_inject_code_errors(void)
{
    NicHarness h;
    uint8_t f[200], mac[6];
    const LaneStats *ls;

    lane_start(&h, false, NULL);
    nh_wr(&h, BLADE_NIC_REG_ICR, 0xff);
    nh_mac(&h, mac);
    /* NIC side: the next 3 code groups it sends are corrupted */
    qom_set(&h, "inject-code-errors", "3");
    nh_make_frame(f, sizeof(f), peer, mac, 12);
    nh_tx_queue(&h, f, sizeof(f));
    nh_tx_kick(&h);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_CG_INJECTED), ==, 3);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES), ==, 1);
    ls = lane_stats(h.srv);
    while (ls->pcs.code_groups < PCS_PREAMBLE_SFD + 200) {
        nh_pump(&h, 5);
        ls = lane_stats(h.srv);
    }
    /* the chassis got a damaged frame and dropped it */
    g_assert_cmpuint(h.nframes, ==, 0);
    /* chassis side: errors on the way in are counted by the guest */
    lane_inject_corrupt(h.srv, 3);
    nh_make_frame(f, sizeof(f), mac, peer, 12);
    nh_srv_send(&h, f, sizeof(f));
    nh_wait(&h, cond_pcs_err, NULL, 0, "PCS errors");
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES), ==, 0);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR) & BLADE_NIC_INT_PCS_ERR, ==,
                    BLADE_NIC_INT_PCS_ERR);
    nh_stop(&h);
}

static void test_inject_dma_error(void)
{
    NicHarness h;
    uint8_t f[64], mac[6];
    uint64_t want = 1;

    lane_start(&h, false, NULL);
    nh_wr(&h, BLADE_NIC_REG_ICR, 0xff);
    qom_set(&h, "inject-dma-error", "true");
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), peer, mac, 13);
    nh_tx_queue(&h, f, sizeof(f));
    nh_tx_kick(&h);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_STATUS) &
                    BLADE_NIC_STATUS_TX_HALT, ==, BLADE_NIC_STATUS_TX_HALT);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ICR), ==, BLADE_NIC_INT_DMA_ERR);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_DMA_ERRORS), ==, 1);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_TX_HEAD), ==, 0);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_IRQ_MISC), ==, 2);
    /* recovery: disable, re-enable, post again */
    nh_wr(&h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_RXEN);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_STATUS) &
                    BLADE_NIC_STATUS_TX_HALT, ==, 0);
    nh_wr(&h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_RXEN | BLADE_NIC_CTRL_TXEN);
    h.nic.tx_tail = 0;
    nh_tx_queue(&h, f, sizeof(f));
    nh_tx_kick(&h);
    nh_wait(&h, nh_cond_frames, &want, 0, "TX after recovery");
    /* RX side: the next RX descriptor fetch fails */
    qom_set(&h, "inject-dma-error", "true");
    nh_make_frame(f, sizeof(f), mac, peer, 13);
    nh_srv_send(&h, f, sizeof(f));
    while (!(nh_rd(&h, BLADE_NIC_REG_STATUS) & BLADE_NIC_STATUS_RX_HALT)) {
        nh_pump(&h, 2);
    }
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_DMA_ERRORS), ==, 2);
    nh_stop(&h);
}

/* ---- hostile guest ------------------------------------------------------- */

/* Rings and buffers aimed at the device's own BARs, or nowhere. */
static void test_dma_to_bar(void)
{
    NicHarness h;
    uint8_t f[64], mac[6];

    lane_start(&h, false, NULL);
    nh_mac(&h, mac);
    nh_make_frame(f, sizeof(f), peer, mac, 14);
    /* a TX buffer in BAR0: the read fails, the ring halts */
    nh_desc(&h, h.nic.tx_ring, 0, h.nic.bar0.addr + BLADE_NIC_REG_CTRL, 64,
            BLADE_NIC_DFLAG_EOP);
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, 1);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_STATUS) &
                    BLADE_NIC_STATUS_TX_HALT, ==, BLADE_NIC_STATUS_TX_HALT);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_CTRL), ==,
                    BLADE_NIC_CTRL_TXEN | BLADE_NIC_CTRL_RXEN);
    /* an RX buffer in BAR0 */
    nh_desc(&h, h.nic.rx_ring, 0, h.nic.bar0.addr, 2048, 0);
    nh_make_frame(f, sizeof(f), mac, peer, 14);
    f[14] = 1;  /* would be CTRL.RST if written into BAR0 at 0x8 */
    nh_srv_send(&h, f, sizeof(f));
    while (!(nh_rd(&h, BLADE_NIC_REG_STATUS) & BLADE_NIC_STATUS_RX_HALT)) {
        nh_pump(&h, 2);
    }
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_DMA_ERRORS), ==, 2);
    g_assert_cmpuint(nh_rd(&h, BLADE_NIC_REG_RX_SIZE), ==, 16);
    /* bus mastering off: every DMA fails */
    nh_wr(&h, BLADE_NIC_REG_CTRL, 0);
    nh_wr(&h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_TXEN);
    qpci_config_writew(h.nic.dev, PCI_COMMAND,
                       qpci_config_readw(h.nic.dev, PCI_COMMAND) &
                       ~PCI_COMMAND_MASTER);
    nh_desc(&h, h.nic.tx_ring, 0, h.nic.tx_bufs, 64, BLADE_NIC_DFLAG_EOP);
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, 1);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_STATUS) &
                    BLADE_NIC_STATUS_TX_HALT, ==, BLADE_NIC_STATUS_TX_HALT);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_DMA_ERRORS), ==, 3);
    qpci_config_writew(h.nic.dev, PCI_COMMAND,
                       qpci_config_readw(h.nic.dev, PCI_COMMAND) |
                       PCI_COMMAND_MASTER);
    /* a ring at the top of the address space */
    nh_wr(&h, BLADE_NIC_REG_CTRL, 0);
    nh_wr(&h, BLADE_NIC_REG_TX_BASE_LO, 0xfffffff0);
    nh_wr(&h, BLADE_NIC_REG_TX_BASE_HI, 0xffffffff);
    nh_wr(&h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_TXEN);
    nh_wr(&h, BLADE_NIC_REG_TX_TAIL, 5);
    g_assert_cmpuint(nh_stat(&h, BLADE_NIC_STAT_DMA_ERRORS), ==, 4);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ID), ==, BLADE_NIC_ID_VALUE);
    nh_stop(&h);
}

/*
 * Seeded random register writes and random descriptors, with frames
 * flowing both ways: the device must keep answering, deterministically.
 */
static void test_random_registers(void)
{
    NicHarness h;
    const char *seed_env = g_getenv("BLADE_NIC_RANDOM_SEED");
    const char *iters_env = g_getenv("BLADE_NIC_RANDOM_ITERS");
    guint32 seed = seed_env ? g_ascii_strtoull(seed_env, NULL, 0) : 0xb1ade;
    unsigned iters = iters_env ? g_ascii_strtoull(iters_env, NULL, 0) : 3000;
    GRand *rnd = g_rand_new_with_seed(seed);
    uint8_t f[256], mac[6], junk[BLADE_NIC_DESC_SIZE * 16];
    uint64_t area;
    unsigned i, j;

    lane_start(&h, false, ",util-interval=1");
    nh_wr(&h, BLADE_NIC_REG_ITR_RX, 3);
    area = guest_alloc(&h.alloc, 0x4000);
    nh_mac(&h, mac);
    g_test_message("seed 0x%x, %u iterations", seed, iters);
    for (i = 0; i < iters; i++) {
        uint32_t op = g_rand_int_range(rnd, 0, 10);
        uint32_t reg = g_rand_int_range(rnd, 0, BLADE_NIC_BAR0_SIZE / 4) * 4;
        uint32_t val = g_rand_int(rnd);

        if (op < 3) {
            /* aim at a defined register most of the time */
            static const uint32_t hot[] = {
                BLADE_NIC_REG_CTRL, BLADE_NIC_REG_TX_TAIL,
                BLADE_NIC_REG_RX_TAIL, BLADE_NIC_REG_TX_SIZE,
                BLADE_NIC_REG_RX_SIZE, BLADE_NIC_REG_TX_BASE_LO,
                BLADE_NIC_REG_RX_BASE_LO, BLADE_NIC_REG_IER,
                BLADE_NIC_REG_ICS, BLADE_NIC_REG_ITR_TX, BLADE_NIC_REG_UTIL,
            };

            reg = hot[g_rand_int_range(rnd, 0, G_N_ELEMENTS(hot))];
            if (reg == BLADE_NIC_REG_TX_SIZE || reg == BLADE_NIC_REG_RX_SIZE) {
                val = g_rand_int_range(rnd, 0, 8) ? 1u <<
                      g_rand_int_range(rnd, 2, 14) : val;
            } else if (reg == BLADE_NIC_REG_TX_TAIL ||
                       reg == BLADE_NIC_REG_RX_TAIL) {
                val %= g_rand_boolean(rnd) ? 16 : 4096;
            } else if (reg == BLADE_NIC_REG_TX_BASE_LO ||
                       reg == BLADE_NIC_REG_RX_BASE_LO) {
                val = g_rand_int_range(rnd, 0, 8) ? (uint32_t)area : val;
            } else if (reg == BLADE_NIC_REG_CTRL) {
                /* mostly both rings on; a reset now and then */
                val = g_rand_int_range(rnd, 0, 64) ? (val & 0x18) |
                      (g_rand_int_range(rnd, 0, 5) ? 0x6 : val & 0x6) : val;
            }
            nh_wr(&h, reg, val);
        } else if (op < 6) {
            nh_wr(&h, reg, val);
        } else if (op < 7) {
            nh_rd(&h, reg);
        } else if (op < 8) {
            /*
             * 16 descriptors: mostly plausible (buffer in the area, length
             * up to 2 KiB, EOP), sometimes anything at all.
             */
            for (j = 0; j < sizeof(junk); j++) {
                junk[j] = g_rand_int(rnd);
            }
            for (j = 0; j < 16 && g_rand_int_range(rnd, 0, 5); j++) {
                stq_le_p(junk + j * 16, area + 0x1000 +
                         g_rand_int_range(rnd, 0, 0x2800));
                stw_le_p(junk + j * 16 + 8, g_rand_int_range(rnd, 0, 2048));
                stw_le_p(junk + j * 16 + 10, g_rand_int_range(rnd, 0, 10) < 7);
            }
            qtest_memwrite(h.qts, area, junk, sizeof(junk));
        } else if (op < 9) {
            nh_make_frame(f, g_rand_int_range(rnd, 14, sizeof(f)),
                          g_rand_boolean(rnd) ? mac : bcast, peer, i);
            if (lane_is_link_up(h.srv)) {
                lane_send_frame(h.srv, f, sizeof(f), nh_now(&h));
            }
            nh_pump(&h, 0);
        } else {
            qtest_clock_step(h.qts, g_rand_int_range(rnd, 0, 2000000));
            nh_pump(&h, 0);
        }
    }
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_ID), ==, BLADE_NIC_ID_VALUE);
    g_test_message("tx %" PRIu64 " tx_err %" PRIu64 " rx %" PRIu64
                   " rx_nobuf %" PRIu64 " dma_err %" PRIu64 " reg_err %"
                   PRIu64 " irq %" PRIu64,
                   nh_stat(&h, BLADE_NIC_STAT_TX_FRAMES),
                   nh_stat(&h, BLADE_NIC_STAT_TX_ERRORS),
                   nh_stat(&h, BLADE_NIC_STAT_RX_FRAMES),
                   nh_stat(&h, BLADE_NIC_STAT_RX_NOBUF),
                   nh_stat(&h, BLADE_NIC_STAT_DMA_ERRORS),
                   nh_stat(&h, BLADE_NIC_STAT_REG_ERRORS),
                   nh_stat(&h, BLADE_NIC_STAT_IRQ_RX) +
                   nh_stat(&h, BLADE_NIC_STAT_IRQ_TX) +
                   nh_stat(&h, BLADE_NIC_STAT_IRQ_MISC));
    nh_wr(&h, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_RST);
    g_assert_cmphex(nh_rd(&h, BLADE_NIC_REG_CTRL), ==, 0);
    g_rand_free(rnd);
    nh_stop(&h);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/blade-nic/pci/ids-overridable", test_pci_ids_overridable);
    qtest_add_func("/blade-nic/props/invalid", test_props_invalid);
    qtest_add_func("/blade-nic/props/no-lane", test_no_lane);
    qtest_add_func("/blade-nic/chardev/server", test_chardev_server);
    qtest_add_func("/blade-nic/irq/moderation", test_irq_moderation);
    qtest_add_func("/blade-nic/irq/msix-delivery", test_irq_msix_delivery);
    qtest_add_func("/blade-nic/irq/msix-disabled", test_irq_msix_disabled);
    qtest_add_func("/blade-nic/irq/automask", test_irq_automask);
    qtest_add_func("/blade-nic/link/chassis-absent", test_chassis_absent);
    qtest_add_func("/blade-nic/link/down-up", test_link_down_up);
    qtest_add_data_func("/blade-nic/shm/rings", GINT_TO_POINTER(1),
                        test_shm);
    qtest_add_data_func("/blade-nic/shm/fallback", GINT_TO_POINTER(0),
                        test_shm);
    qtest_add_data_func("/blade-nic/shm/corrupt-rx-index",
                        GINT_TO_POINTER(SHM_CORRUPT_RX_INDEX),
                        test_shm_corrupt);
    qtest_add_data_func("/blade-nic/shm/corrupt-rx-size",
                        GINT_TO_POINTER(SHM_CORRUPT_RX_SIZE),
                        test_shm_corrupt);
    qtest_add_data_func("/blade-nic/shm/corrupt-tx-index",
                        GINT_TO_POINTER(SHM_CORRUPT_TX_INDEX),
                        test_shm_corrupt);
    qtest_add_func("/blade-nic/tx/single", test_tx_single);
    qtest_add_func("/blade-nic/tx/single-raw", test_tx_single_raw);
    qtest_add_func("/blade-nic/tx/chained", test_tx_chained);
    qtest_add_func("/blade-nic/tx/malformed", test_tx_malformed);
    qtest_add_func("/blade-nic/tx/paced", test_tx_paced);
    qtest_add_func("/blade-nic/tx/paced-fifo", test_tx_paced_fifo);
    qtest_add_func("/blade-nic/offload/tx-csum", test_offload_tx_csum);
    qtest_add_func("/blade-nic/offload/tx-bad-context",
                   test_offload_tx_bad_context);
    qtest_add_func("/blade-nic/offload/rx-csum", test_offload_rx_csum);
    qtest_add_func("/blade-nic/stats/histogram", test_stats_histogram);
    qtest_add_func("/blade-nic/offload/tso", test_offload_tso);
    qtest_add_func("/blade-nic/offload/tso-paced", test_offload_tso_paced);
    qtest_add_func("/blade-nic/offload/tso-bad", test_offload_tso_bad);
    qtest_add_func("/blade-nic/rx/basic", test_rx_basic);
    qtest_add_func("/blade-nic/rx/filter", test_rx_filter);
    qtest_add_func("/blade-nic/rx/allmulti-small-buffer",
                   test_rx_allmulti_small_buffer);
    qtest_add_func("/blade-nic/rx/moderation", test_rx_moderation);
    qtest_add_func("/blade-nic/ring/wrap-full-empty", test_ring_wrap);
    qtest_add_func("/blade-nic/util/guest", test_util_guest);
    qtest_add_func("/blade-nic/util/host", test_util_host);
    qtest_add_func("/blade-nic/util/peer", test_util_peer);
    qtest_add_func("/blade-nic/util/expanded", test_util_expanded);
    qtest_add_func("/blade-nic/util/host-tcg", test_util_host_tcg);
    qtest_add_func("/blade-nic/util/auto", test_util_auto);
    qtest_add_func("/blade-nic/util/contention/guest",
                   test_util_contention_guest);
    qtest_add_func("/blade-nic/util/contention/raw",
                   test_util_contention_raw);
    qtest_add_func("/blade-nic/util/contention/expanded",
                   test_util_contention_expanded);
    qtest_add_func("/blade-nic/util/contention/clamp",
                   test_util_contention_clamp);
    qtest_add_func("/blade-nic/util/contention/host",
                   test_util_contention_host);
    qtest_add_func("/blade-nic/util/contention/host-tcg",
                   test_util_contention_host_tcg);
    qtest_add_func("/blade-nic/util/contention/vmstate",
                   test_util_contention_migration);
    qtest_add_func("/blade-nic/reset/mid-traffic", test_reset_mid_traffic);
    qtest_add_func("/blade-nic/vmstate/round-trip", test_migration);
    qtest_add_func("/blade-nic/vmstate/shm-stats", test_shm_stats_migration);
    qtest_add_func("/blade-nic/vmstate/stats-1.3", test_stats_1_3_migration);
    qtest_add_func("/blade-nic/inject/link-down", test_inject_link_down);
    qtest_add_func("/blade-nic/inject/sync-loss", test_inject_sync_loss);
    qtest_add_func("/blade-nic/inject/code-errors", test_inject_code_errors);
    qtest_add_func("/blade-nic/inject/dma-error", test_inject_dma_error);
    qtest_add_func("/blade-nic/robust/dma-to-bar", test_dma_to_bar);
    qtest_add_func("/blade-nic/power/s3", test_power_s3);
    qtest_add_func("/blade-nic/vmstate/loadvm-old-snapshot",
                   test_loadvm_old_snapshot);
    qtest_add_data_func("/blade-nic/robust/unplug-from-msix",
                        GINT_TO_POINTER(false), test_unplug_from_msix);
    qtest_add_data_func("/blade-nic/robust/unplug-from-rx-dma",
                        GINT_TO_POINTER(true), test_unplug_from_msix);
    qtest_add_func("/blade-nic/robust/unplug-on-cont", test_unplug_on_cont);
    qtest_add_func("/blade-nic/robust/random-registers",
                   test_random_registers);
    return g_test_run();
}
