/*
 * qtest for blade-nic: PCI identity, BAR0 identification and control
 * registers, access rules and reset, as docs/blade-nic.md specifies them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/pci-pc.h"
#include "hw/pci/pci_regs.h"
#include "hw/blade/blade-nic.h"

#define NIC_DEVFN QPCI_DEVFN(4, 0)

typedef struct {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar bar0;
} NicFixture;

static void nic_start(NicFixture *f, const char *extra_props)
{
    uint64_t bar_size;

    f->qts = qtest_initf("-M q35 -device blade-nic,addr=04.0%s",
                         extra_props ? extra_props : "");
    f->bus = qpci_new_pc(f->qts, NULL);
    f->dev = qpci_device_find(f->bus, NIC_DEVFN);
    g_assert_nonnull(f->dev);
    qpci_device_enable(f->dev);
    f->bar0 = qpci_iomap(f->dev, 0, &bar_size);
    g_assert_cmpuint(bar_size, ==, BLADE_NIC_BAR0_SIZE);
}

static void nic_stop(NicFixture *f)
{
    g_free(f->dev);
    qpci_free_pc(f->bus);
    qtest_quit(f->qts);
}

static uint32_t nic_rd(NicFixture *f, uint64_t reg)
{
    return qpci_io_readl(f->dev, f->bar0, reg);
}

static void nic_wr(NicFixture *f, uint64_t reg, uint32_t val)
{
    qpci_io_writel(f->dev, f->bar0, reg, val);
}

static void test_pci_identity(void)
{
    NicFixture f;

    nic_start(&f, NULL);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_VENDOR_ID), ==, 0x1af4);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_DEVICE_ID), ==, 0x10f0);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_SUBSYSTEM_VENDOR_ID), ==,
                    0x1af4);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_SUBSYSTEM_ID), ==, 0x0001);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_CLASS_DEVICE), ==,
                    0x0200);   /* Ethernet controller */
    g_assert_cmphex(qpci_config_readb(f.dev, PCI_REVISION_ID), ==, 0x01);
    nic_stop(&f);
}

static void test_pci_ids_overridable(void)
{
    NicFixture f;

    nic_start(&f, ",vendor-id=0x8086,device-id=0x1234,"
                  "subsystem-vendor-id=0x1af4,subsystem-id=0x4242");
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_VENDOR_ID), ==, 0x8086);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_DEVICE_ID), ==, 0x1234);
    g_assert_cmphex(qpci_config_readw(f.dev, PCI_SUBSYSTEM_ID), ==, 0x4242);
    nic_stop(&f);
}

static void test_id_and_version(void)
{
    NicFixture f;

    nic_start(&f, NULL);
    g_assert_cmphex(nic_rd(&f, BLADE_NIC_REG_ID), ==, 0x424c4e43);
    g_assert_cmphex(nic_rd(&f, BLADE_NIC_REG_VERSION), ==, 0x00000001);
    nic_stop(&f);
}

/*
 * RO registers ignore writes; unknown offsets read 0 and ignore writes;
 * accesses other than 32 bits are not decoded.
 */
static void test_access_rules(void)
{
    NicFixture f;

    nic_start(&f, NULL);
    nic_wr(&f, BLADE_NIC_REG_ID, 0xdeadbeef);
    nic_wr(&f, BLADE_NIC_REG_VERSION, 0xdeadbeef);
    g_assert_cmphex(nic_rd(&f, BLADE_NIC_REG_ID), ==, 0x424c4e43);
    g_assert_cmphex(nic_rd(&f, BLADE_NIC_REG_VERSION), ==, 0x00000001);

    nic_wr(&f, 0xffc, 0x12345678);
    g_assert_cmphex(nic_rd(&f, 0xffc), ==, 0);

    g_assert_cmphex(nic_rd(&f, BLADE_NIC_REG_SCRATCH), ==, 0);
    nic_wr(&f, BLADE_NIC_REG_SCRATCH, 0xa5a55a5a);
    g_assert_cmphex(nic_rd(&f, BLADE_NIC_REG_SCRATCH), ==, 0xa5a55a5a);

    /* Only 32-bit accesses are decoded: others read 0, writes drop. */
    g_assert_cmphex(qpci_io_readb(f.dev, f.bar0, BLADE_NIC_REG_ID), ==, 0);
    g_assert_cmphex(qpci_io_readw(f.dev, f.bar0, BLADE_NIC_REG_ID), ==, 0);
    qpci_io_writeb(f.dev, f.bar0, BLADE_NIC_REG_SCRATCH, 0x11);
    qpci_io_writew(f.dev, f.bar0, BLADE_NIC_REG_SCRATCH, 0x2222);
    g_assert_cmphex(nic_rd(&f, BLADE_NIC_REG_SCRATCH), ==, 0xa5a55a5a);
    nic_stop(&f);
}

/* A system reset returns every register to its reset value. */
static void test_system_reset(void)
{
    NicFixture f;

    nic_start(&f, NULL);
    nic_wr(&f, BLADE_NIC_REG_SCRATCH, 0x11223344);
    qtest_system_reset(f.qts);
    /* Firmware is absent under qtest: re-enable decoding after reset. */
    qpci_device_enable(f.dev);
    f.bar0 = qpci_iomap(f.dev, 0, NULL);
    g_assert_cmphex(nic_rd(&f, BLADE_NIC_REG_SCRATCH), ==, 0);
    g_assert_cmphex(nic_rd(&f, BLADE_NIC_REG_ID), ==, 0x424c4e43);
    nic_stop(&f);
}

/* CTRL.RST resets the function and reads back as 0 (self-clearing). */
static void test_ctrl_reset(void)
{
    NicFixture f;

    nic_start(&f, NULL);
    nic_wr(&f, BLADE_NIC_REG_SCRATCH, 0x55aa55aa);
    nic_wr(&f, BLADE_NIC_REG_CTRL, BLADE_NIC_CTRL_RST);
    g_assert_cmphex(nic_rd(&f, BLADE_NIC_REG_CTRL), ==, 0);
    g_assert_cmphex(nic_rd(&f, BLADE_NIC_REG_SCRATCH), ==, 0);
    /* Writing 0 to CTRL has no effect. */
    nic_wr(&f, BLADE_NIC_REG_SCRATCH, 0x55aa55aa);
    nic_wr(&f, BLADE_NIC_REG_CTRL, 0);
    g_assert_cmphex(nic_rd(&f, BLADE_NIC_REG_SCRATCH), ==, 0x55aa55aa);
    nic_stop(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/blade-nic/pci/identity", test_pci_identity);
    qtest_add_func("/blade-nic/pci/ids-overridable", test_pci_ids_overridable);
    qtest_add_func("/blade-nic/regs/id-and-version", test_id_and_version);
    qtest_add_func("/blade-nic/regs/access-rules", test_access_rules);
    qtest_add_func("/blade-nic/reset/system", test_system_reset);
    qtest_add_func("/blade-nic/reset/ctrl-rst", test_ctrl_reset);
    return g_test_run();
}
