/*
 * blade-nic through libqos's qgraph (libqos/blade-nic.c): the tests run
 * on every machine with a PCI bus that the QEMU binary has, with the
 * device wherever that machine puts it.  The test process is the
 * chassis end of the lane, as in blade-nic-test.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "libqtest-single.h"
#include "libqos/qgraph.h"
#include "blade-nic-harness.h"

static const uint8_t peer[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

static void test_identity(void *obj, void *data, QGuestAllocator *alloc)
{
    QBladeNic *nic = obj;
    uint8_t mac[6];

    g_assert_cmphex(qpci_config_readw(nic->dev, PCI_VENDOR_ID), ==,
                    BLADE_NIC_VENDOR_ID);
    g_assert_cmphex(qpci_config_readw(nic->dev, PCI_CLASS_DEVICE), ==,
                    0x0200);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_ID), ==, 0x424c4e43);
    g_assert_cmpuint(qpci_msix_table_size(nic->dev), ==, 3);
    /* no lane: the link is down, and the MAC is the property's */
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_STATUS) &
                    BLADE_NIC_STATUS_LINK_UP, ==, 0);
    qblade_nic_mac(nic, mac);
    g_assert_cmpmem(mac, 6, ((uint8_t[]){ 0x52, 0x54, 0x00, 0xb1, 0xad, 0xe0 }),
                    6);
}

/* ---- with a lane: the test process is the chassis end ------------------- */

static void lane_cleanup(void *opaque)
{
    NicHarness *h = opaque;
    unsigned i;

    lane_free(h->srv);
    for (i = 0; i < MIN(h->nframes, NH_MAX_FRAMES); i++) {
        g_free(h->frames[i]);
    }
    unlink(h->path);
    rmdir(h->dir);
    g_free(h->path);
    g_free(h->dir);
    g_free(h);
}

/* Before QEMU starts: the lane server, and the NIC's lane to it. */
static void *lane_before(GString *cmd_line, void *arg)
{
    NicHarness *h = g_new0(NicHarness, 1);

    nh_lane_dir(h);
    nh_srv_start(h, false);
    g_string_append_printf(cmd_line, " -global blade-nic.lane=%s ", h->path);
    g_test_queue_destroy(lane_cleanup, h);
    return h;
}

/* The harness's view of the node QEMU was started with. */
static NicHarness *lane_harness(QBladeNic *nic, void *data)
{
    NicHarness *h = data;

    h->qts = nic->dev->bus->qts;
    h->nic = *nic;
    return h;
}

/* A frame each way over the lane, through the rings. */
static void test_lane_frames(void *obj, void *data, QGuestAllocator *alloc)
{
    NicHarness *h = lane_harness(obj, data);
    uint8_t f[200], mac[6], got[200];
    uint64_t want = 1;
    uint16_t len, st;

    nh_link_up(h);
    nh_rings(h, 8, 8);
    nh_mac(h, mac);

    nh_make_frame(f, sizeof(f), peer, mac, 3);
    nh_tx_queue(h, f, sizeof(f));
    nh_tx_kick(h);
    nh_wait(h, nh_cond_frames, &want, 0, "TX frame");
    g_assert_cmpmem(h->frames[0], h->frame_len[0], f, sizeof(f));
    g_assert_cmpuint(nh_stat(h, BLADE_NIC_STAT_TX_FRAMES), ==, 1);

    nh_make_frame(f, sizeof(f), mac, peer, 5);
    nh_srv_send(h, f, sizeof(f));
    nh_wait(h, nh_cond_rx_frames, &want, 0, "RX frame");
    g_assert_cmpuint(nh_stat(h, BLADE_NIC_STAT_RX_FRAMES), ==, 1);
    nh_desc_wb(h, h->nic.rx_ring, 0, &len, &st);
    g_assert_cmphex(st & (BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP), ==,
                    BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP);
    g_assert_cmpuint(len, ==, sizeof(f));
    qtest_memread(h->qts, h->nic.rx_bufs, got, sizeof(got));
    g_assert_cmpmem(got, sizeof(got), f, sizeof(f));
}

static void register_blade_nic_tests(void)
{
    QOSGraphTestOptions lane = { .before = lane_before };
    QOSGraphTestOptions mac = {
        .edge.extra_device_opts = "mac=52:54:00:b1:ad:e0",
    };

    qos_add_test("identity", "blade-nic", test_identity, &mac);
    qos_add_test("lane-frames", "blade-nic", test_lane_frames, &lane);
}

libqos_init(register_blade_nic_tests);
