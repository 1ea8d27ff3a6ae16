/*
 * libqos driver for blade-nic (see blade-nic.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "libqtest.h"
#include "qemu/module.h"
#include "hw/blade/blade-nic.h"
#include "blade-nic.h"

static QTestState *qblade_nic_qts(QBladeNic *nic)
{
    return nic->dev->bus->qts;
}

uint32_t qblade_nic_readl(QBladeNic *nic, uint64_t reg)
{
    nic->mmio_ops++;
    return qpci_io_readl(nic->dev, nic->bar0, reg);
}

void qblade_nic_writel(QBladeNic *nic, uint64_t reg, uint32_t val)
{
    nic->mmio_ops++;
    qpci_io_writel(nic->dev, nic->bar0, reg, val);
}

uint64_t qblade_nic_stat(QBladeNic *nic, unsigned i)
{
    uint64_t reg = BLADE_NIC_REG_STAT_BASE + 8 * i;
    uint64_t lo = qblade_nic_readl(nic, reg);

    return lo | (uint64_t)qblade_nic_readl(nic, reg + 4) << 32;
}

void qblade_nic_mac(QBladeNic *nic, uint8_t *mac)
{
    stl_le_p(mac, qblade_nic_readl(nic, BLADE_NIC_REG_MAC_LO));
    stw_le_p(mac + 4, qblade_nic_readl(nic, BLADE_NIC_REG_MAC_HI));
}

void qblade_nic_desc(QBladeNic *nic, uint64_t ring, uint32_t idx,
                     uint64_t addr, uint16_t len, uint16_t flags)
{
    uint8_t d[BLADE_NIC_DESC_SIZE] = { 0 };

    stq_le_p(d, addr);
    stw_le_p(d + BLADE_NIC_DESC_BUF_LEN, len);
    stw_le_p(d + BLADE_NIC_DESC_FLAGS, flags);
    qtest_memwrite(qblade_nic_qts(nic), ring + idx * BLADE_NIC_DESC_SIZE, d,
                   sizeof(d));
}

void qblade_nic_desc_wb(QBladeNic *nic, uint64_t ring, uint32_t idx,
                        uint16_t *len, uint16_t *status)
{
    uint8_t d[BLADE_NIC_DESC_SIZE];

    qtest_memread(qblade_nic_qts(nic), ring + idx * BLADE_NIC_DESC_SIZE, d,
                  sizeof(d));
    *len = lduw_le_p(d + BLADE_NIC_DESC_LEN);
    *status = lduw_le_p(d + BLADE_NIC_DESC_STATUS);
}

void qblade_nic_rings(QBladeNic *nic, uint32_t tx_size, uint32_t rx_size)
{
    uint32_t i;

    nic->tx_size = tx_size;
    nic->rx_size = rx_size;
    nic->tx_ring = guest_alloc(nic->alloc, tx_size * BLADE_NIC_DESC_SIZE);
    nic->rx_ring = guest_alloc(nic->alloc, rx_size * BLADE_NIC_DESC_SIZE);
    nic->tx_bufs = guest_alloc(nic->alloc, tx_size * QBLADE_NIC_BUF_SIZE);
    nic->rx_bufs = guest_alloc(nic->alloc, rx_size * QBLADE_NIC_BUF_SIZE);
    qtest_memset(qblade_nic_qts(nic), nic->tx_ring, 0,
                 tx_size * BLADE_NIC_DESC_SIZE);
    for (i = 0; i < rx_size; i++) {
        qblade_nic_desc(nic, nic->rx_ring, i,
                        nic->rx_bufs + i * QBLADE_NIC_BUF_SIZE,
                        QBLADE_NIC_BUF_SIZE, 0);
    }
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_BASE_LO, (uint32_t)nic->tx_ring);
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_BASE_HI, nic->tx_ring >> 32);
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_SIZE, tx_size);
    qblade_nic_writel(nic, BLADE_NIC_REG_RX_BASE_LO, (uint32_t)nic->rx_ring);
    qblade_nic_writel(nic, BLADE_NIC_REG_RX_BASE_HI, nic->rx_ring >> 32);
    qblade_nic_writel(nic, BLADE_NIC_REG_RX_SIZE, rx_size);
    qblade_nic_writel(nic, BLADE_NIC_REG_CTRL,
                      BLADE_NIC_CTRL_TXEN | BLADE_NIC_CTRL_RXEN);
    nic->tx_tail = 0;
    nic->rx_tail = rx_size - 1;
    qblade_nic_writel(nic, BLADE_NIC_REG_RX_TAIL, nic->rx_tail);
}

void qblade_nic_tx_queue(QBladeNic *nic, const uint8_t *frame, uint16_t len)
{
    uint64_t buf = nic->tx_bufs + nic->tx_tail * QBLADE_NIC_BUF_SIZE;

    g_assert_cmpuint(len, <=, QBLADE_NIC_BUF_SIZE);
    qtest_memwrite(qblade_nic_qts(nic), buf, frame, len);
    qblade_nic_desc(nic, nic->tx_ring, nic->tx_tail, buf, len,
                    BLADE_NIC_DFLAG_EOP);
    nic->tx_tail = (nic->tx_tail + 1) % nic->tx_size;
}

void qblade_nic_tx_kick(QBladeNic *nic)
{
    qblade_nic_writel(nic, BLADE_NIC_REG_TX_TAIL, nic->tx_tail);
}

static void qblade_nic_map(QBladeNic *nic, QGuestAllocator *alloc)
{
    uint64_t bar_size;

    qpci_device_enable(nic->dev);
    nic->bar0 = qpci_iomap(nic->dev, 0, &bar_size);
    g_assert_cmpuint(bar_size, ==, BLADE_NIC_BAR0_SIZE);
    nic->alloc = alloc;
}

void qblade_nic_init(QBladeNic *nic, QPCIBus *bus, int devfn,
                     QGuestAllocator *alloc)
{
    memset(nic, 0, sizeof(*nic));
    nic->dev = qpci_device_find(bus, devfn);
    g_assert_nonnull(nic->dev);
    qblade_nic_map(nic, alloc);
}

void qblade_nic_destroy(QBladeNic *nic)
{
    qpci_iounmap(nic->dev, nic->bar0);
    g_free(nic->dev);
    nic->dev = NULL;
}

/* ---- the qgraph node ----------------------------------------------------- */

static void qblade_nic_found(QPCIDevice *dev, int devfn, void *data)
{
    QBladeNic *nic = data;

    if (!nic->dev) {
        nic->dev = dev;
    } else {
        g_free(dev);
    }
}

static void qblade_nic_graph_destructor(QOSGraphObject *obj)
{
    qblade_nic_destroy((QBladeNic *)obj);
}

static void *qblade_nic_get_driver(void *obj, const char *interface)
{
    QBladeNic *nic = obj;

    if (!g_strcmp0(interface, "blade-nic")) {
        return nic;
    }
    if (!g_strcmp0(interface, "pci-device")) {
        return nic->dev;
    }
    fprintf(stderr, "%s not present in blade-nic\n", interface);
    g_assert_not_reached();
}

static void *qblade_nic_create(void *pci_bus, QGuestAllocator *alloc,
                               void *addr)
{
    QBladeNic *nic = g_new0(QBladeNic, 1);
    QPCIAddress *address = addr;

    qpci_device_foreach(pci_bus, address->vendor_id, address->device_id,
                        qblade_nic_found, nic);
    g_assert_nonnull(nic->dev);
    qblade_nic_map(nic, alloc);
    nic->obj.get_driver = qblade_nic_get_driver;
    nic->obj.destructor = qblade_nic_graph_destructor;
    return &nic->obj;
}

static void qblade_nic_register_nodes(void)
{
    QPCIAddress addr = {
        .vendor_id = BLADE_NIC_VENDOR_ID,
        .device_id = BLADE_NIC_DEVICE_ID,
    };
    QOSGraphEdgeOptions opts = { 0 };

    add_qpci_address(&opts, &addr);
    qos_node_create_driver("blade-nic", qblade_nic_create);
    qos_node_consumes("blade-nic", "pci-bus", &opts);
    qos_node_produces("blade-nic", "pci-device");
}

libqos_init(qblade_nic_register_nodes);
