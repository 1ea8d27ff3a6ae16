/*
 * blade-nic through libqos's qgraph (libqos/blade-nic.c): the tests run
 * on every machine with a PCI bus that the QEMU binary has, with the
 * device wherever that machine puts it.  Identity and registers
 * (datasheet sections 1, 3, 4 and 12), and a frame each way over a lane
 * whose chassis end is the test process, as in blade-nic-test.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "libqtest-single.h"
#include "libqos/qgraph.h"
#include "hw/pci/pci_regs.h"
#include "libqos/blade-nic-harness.h"

static const uint8_t peer[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

/* ---- identity and registers ---------------------------------------------- */

static void test_pci_identity(void *obj, void *data, QGuestAllocator *alloc)
{
    QBladeNic *nic = obj;

    g_assert_cmphex(qpci_config_readw(nic->dev, PCI_VENDOR_ID), ==, 0x1af4);
    g_assert_cmphex(qpci_config_readw(nic->dev, PCI_DEVICE_ID), ==, 0x10f0);
    g_assert_cmphex(qpci_config_readw(nic->dev, PCI_SUBSYSTEM_VENDOR_ID), ==,
                    0x1af4);
    g_assert_cmphex(qpci_config_readw(nic->dev, PCI_SUBSYSTEM_ID), ==, 0x0001);
    g_assert_cmphex(qpci_config_readw(nic->dev, PCI_CLASS_DEVICE), ==,
                    0x0200);   /* Ethernet controller */
    g_assert_cmphex(qpci_config_readb(nic->dev, PCI_REVISION_ID), ==, 0x01);
    /* MSI-X with three vectors */
    g_assert_cmpuint(qpci_msix_table_size(nic->dev), ==, 3);
}

static void test_id_and_version(void *obj, void *data, QGuestAllocator *alloc)
{
    QBladeNic *nic = obj;

    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_ID), ==, 0x424c4e43);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_VERSION), ==,
                    0x00010003);
}

static void test_reset_values(void *obj, void *data, QGuestAllocator *alloc)
{
    QBladeNic *nic = obj;
    unsigned i;

    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_CTRL), ==, 0);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_SCRATCH), ==, 0);
    /* no lane configured: everything down, nothing configured */
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_STATUS), ==, 0);
    g_assert_cmpuint(qblade_nic_readl(nic, BLADE_NIC_REG_SPEED), ==, 1000);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_ICR), ==, 0);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_IER), ==, 0);
    for (i = 0; i < 3; i++) {
        g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_ITR_RX + 4 * i), ==,
                        0);
    }
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_MAC_LO), ==,
                    0xaa005452);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_MAC_HI), ==, 0xccbb);
    for (i = 0; i < BLADE_NIC_MTA_WORDS; i++) {
        g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_MTA + 4 * i), ==,
                        0);
    }
    for (i = 0; i < 5; i++) {
        g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_TX_BASE_LO + 4 * i),
                        ==, 0);
        g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_RX_BASE_LO + 4 * i),
                        ==, 0);
    }
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_UTIL), ==, 0);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_UTIL_TX), ==, 0);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_UTIL_CFG), ==,
                    BLADE_NIC_UTIL_SRC_AUTO | 100 << 16);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_PEER_UTIL), ==, 0);
    for (i = 0; i < BLADE_NIC_STAT_COUNT; i++) {
        g_assert_cmpuint(qblade_nic_stat(nic, i), ==, 0);
    }
}

/*
 * RO registers ignore writes; unknown offsets read 0 and ignore writes;
 * accesses other than 32 bits are not decoded; each is counted.
 */
static void test_access_rules(void *obj, void *data, QGuestAllocator *alloc)
{
    QBladeNic *nic = obj;

    qblade_nic_writel(nic, BLADE_NIC_REG_ID, 0xdeadbeef);
    qblade_nic_writel(nic, BLADE_NIC_REG_VERSION, 0xdeadbeef);
    qblade_nic_writel(nic, BLADE_NIC_REG_STATUS, 0xffffffff);
    qblade_nic_writel(nic, BLADE_NIC_REG_STAT_BASE, 0x1234);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_ID), ==, 0x424c4e43);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_VERSION), ==,
                    0x00010003);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_STATUS), ==, 0);

    qblade_nic_writel(nic, 0xffc, 0x12345678);
    g_assert_cmphex(qblade_nic_readl(nic, 0xffc), ==, 0);
    g_assert_cmpuint(qblade_nic_stat(nic, BLADE_NIC_STAT_REG_ERRORS), ==, 6);

    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_SCRATCH), ==, 0);
    qblade_nic_writel(nic, BLADE_NIC_REG_SCRATCH, 0xa5a55a5a);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_SCRATCH), ==,
                    0xa5a55a5a);

    /* Only 32-bit accesses are decoded: others read 0, writes drop. */
    g_assert_cmphex(qpci_io_readb(nic->dev, nic->bar0, BLADE_NIC_REG_ID), ==,
                    0);
    g_assert_cmphex(qpci_io_readw(nic->dev, nic->bar0, BLADE_NIC_REG_ID), ==,
                    0);
    qpci_io_writeb(nic->dev, nic->bar0, BLADE_NIC_REG_SCRATCH, 0x11);
    qpci_io_writew(nic->dev, nic->bar0, BLADE_NIC_REG_SCRATCH, 0x2222);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_SCRATCH), ==,
                    0xa5a55a5a);
    /* 64-bit accesses are split in two 32-bit ones, low dword first */
    qpci_io_writeq(nic->dev, nic->bar0, BLADE_NIC_REG_MAC_LO,
                   0x0000bbaa04030201ULL);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_MAC_LO), ==,
                    0x04030201);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_MAC_HI), ==, 0xbbaa);

    /* CTRL: reserved bits read 0 */
    qblade_nic_writel(nic, BLADE_NIC_REG_CTRL,
                      0xffffff80 | BLADE_NIC_CTRL_PROMISC |
                      BLADE_NIC_CTRL_RXCSUM | BLADE_NIC_CTRL_AUTOMASK);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_CTRL), ==,
                    BLADE_NIC_CTRL_PROMISC | BLADE_NIC_CTRL_RXCSUM |
                    BLADE_NIC_CTRL_AUTOMASK);
    /* ITR clamps to 65535 */
    qblade_nic_writel(nic, BLADE_NIC_REG_ITR_TX, 100000);
    g_assert_cmpuint(qblade_nic_readl(nic, BLADE_NIC_REG_ITR_TX), ==, 65535);
    /* IER keeps the defined cause bits */
    qblade_nic_writel(nic, BLADE_NIC_REG_IER, 0xffffffff);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_IER), ==, 0xff);
}

static void test_ring_registers(void *obj, void *data, QGuestAllocator *alloc)
{
    QBladeNic *nic = obj;
    uint64_t errs;

    /* sizes: power of two 8..4096, else ignored */
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_SIZE, 7);
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_SIZE, 12);
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_SIZE, 8192);
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_SIZE, 0xffffffff);
    g_assert_cmpuint(qblade_nic_readl(nic, BLADE_NIC_REG_TX_SIZE), ==, 0);
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_SIZE, 64);
    g_assert_cmpuint(qblade_nic_readl(nic, BLADE_NIC_REG_TX_SIZE), ==, 64);
    /* base: low four bits dropped */
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_BASE_LO, 0x12345678);
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_BASE_HI, 0x9);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_TX_BASE_LO), ==,
                    0x12345670);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_TX_BASE_HI), ==, 0x9);
    /* tail: < size, else ignored; head read-only */
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_TAIL, 64);
    g_assert_cmpuint(qblade_nic_readl(nic, BLADE_NIC_REG_TX_TAIL), ==, 0);
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_HEAD, 5);
    g_assert_cmpuint(qblade_nic_readl(nic, BLADE_NIC_REG_TX_HEAD), ==, 0);
    qblade_nic_writel(nic, BLADE_NIC_REG_RX_SIZE, 4096);
    qblade_nic_writel(nic, BLADE_NIC_REG_RX_TAIL, 4095);
    g_assert_cmpuint(qblade_nic_readl(nic, BLADE_NIC_REG_RX_TAIL), ==, 4095);
    /* geometry is frozen while the ring is enabled */
    qblade_nic_writel(nic, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_RXEN);
    qblade_nic_writel(nic, BLADE_NIC_REG_RX_SIZE, 8);
    qblade_nic_writel(nic, BLADE_NIC_REG_RX_BASE_LO, 0x1000);
    g_assert_cmpuint(qblade_nic_readl(nic, BLADE_NIC_REG_RX_SIZE), ==, 4096);
    g_assert_cmpuint(qblade_nic_readl(nic, BLADE_NIC_REG_RX_BASE_LO), ==, 0);
    /* disabling resets head and tail */
    qblade_nic_writel(nic, BLADE_NIC_REG_CTRL, 0);
    g_assert_cmpuint(qblade_nic_readl(nic, BLADE_NIC_REG_RX_TAIL), ==, 0);
    errs = qblade_nic_stat(nic, BLADE_NIC_STAT_REG_ERRORS);
    g_assert_cmpuint(errs, ==, 9);
}

static void test_mac(void *obj, void *data, QGuestAllocator *alloc)
{
    QBladeNic *nic = obj;
    uint8_t mac[6];

    qblade_nic_mac(nic, mac);
    g_assert_cmpmem(mac, 6, "\x02\x11\x22\x33\x44\x55", 6);
    qblade_nic_writel(nic, BLADE_NIC_REG_MAC_LO, 0x04030206);
    qblade_nic_writel(nic, BLADE_NIC_REG_MAC_HI, 0xffff0605);
    qblade_nic_mac(nic, mac);
    g_assert_cmpmem(mac, 6, "\x06\x02\x03\x04\x05\x06", 6);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_MAC_HI), ==, 0x0605);
    /* reset restores the property's address */
    qblade_nic_writel(nic, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_RST);
    qblade_nic_mac(nic, mac);
    g_assert_cmpmem(mac, 6, "\x02\x11\x22\x33\x44\x55", 6);
}

static void test_system_reset(void *obj, void *data, QGuestAllocator *alloc)
{
    QBladeNic *nic = obj;

    qblade_nic_writel(nic, BLADE_NIC_REG_SCRATCH, 0x11223344);
    qblade_nic_writel(nic, BLADE_NIC_REG_ITR_RX, 5);
    qtest_system_reset(nic->dev->bus->qts);
    /* Firmware is absent under qtest: re-enable decoding after reset. */
    qpci_device_enable(nic->dev);
    nic->bar0 = qpci_iomap(nic->dev, 0, NULL);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_SCRATCH), ==, 0);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_ITR_RX), ==, 0);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_ID), ==, 0x424c4e43);
}

static void test_ctrl_reset(void *obj, void *data, QGuestAllocator *alloc)
{
    QBladeNic *nic = obj;

    qblade_nic_writel(nic, BLADE_NIC_REG_SCRATCH, 0x55aa55aa);
    qblade_nic_writel(nic, BLADE_NIC_REG_IER, 0xff);
    qblade_nic_writel(nic, BLADE_NIC_REG_CTRL,
                      BLADE_NIC_CTRL_RST | BLADE_NIC_CTRL_TXEN);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_CTRL), ==, 0);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_SCRATCH), ==, 0);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_IER), ==, 0);
    /* Writing 0 to CTRL has no effect on other registers. */
    qblade_nic_writel(nic, BLADE_NIC_REG_SCRATCH, 0x55aa55aa);
    qblade_nic_writel(nic, BLADE_NIC_REG_CTRL, 0);
    g_assert_cmphex(qblade_nic_readl(nic, BLADE_NIC_REG_SCRATCH), ==,
                    0x55aa55aa);
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
    QOSGraphTestOptions mac_aabbcc = {
        .edge.extra_device_opts = "mac=52:54:00:aa:bb:cc",
    };
    QOSGraphTestOptions mac_02 = {
        .edge.extra_device_opts = "mac=02:11:22:33:44:55",
    };

    qos_add_test("pci-identity", "blade-nic", test_pci_identity, NULL);
    qos_add_test("regs-id-and-version", "blade-nic", test_id_and_version,
                 NULL);
    qos_add_test("regs-reset-values", "blade-nic", test_reset_values,
                 &mac_aabbcc);
    qos_add_test("regs-access-rules", "blade-nic", test_access_rules, NULL);
    qos_add_test("regs-ring-registers", "blade-nic", test_ring_registers,
                 NULL);
    qos_add_test("regs-mac", "blade-nic", test_mac, &mac_02);
    qos_add_test("reset-system", "blade-nic", test_system_reset, NULL);
    qos_add_test("reset-ctrl-rst", "blade-nic", test_ctrl_reset, NULL);
    qos_add_test("lane-frames", "blade-nic", test_lane_frames, &lane);
}

libqos_init(register_blade_nic_tests);
