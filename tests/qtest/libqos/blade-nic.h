/*
 * libqos driver for blade-nic (docs/blade-nic.md): the qgraph node
 * "blade-nic" on any PCI bus, and what a test needs to drive the
 * device: registers, statistics, descriptors and the two rings.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef QOS_BLADE_NIC_H
#define QOS_BLADE_NIC_H

#include "libqos/qgraph.h"
#include "libqos/pci.h"
#include "libqos/libqos-malloc.h"

#define QBLADE_NIC_BUF_SIZE 2048        /* each ring buffer */

typedef struct QBladeNic {
    QOSGraphObject obj;
    QPCIDevice *dev;
    QPCIBar bar0;
    QGuestAllocator *alloc;
    uint64_t mmio_ops;          /* register reads and writes */
    /* rings in guest memory (qblade_nic_rings()) */
    uint64_t tx_ring, rx_ring, tx_bufs, rx_bufs;
    uint32_t tx_size, rx_size, tx_tail, rx_tail;
} QBladeNic;

/*
 * For a test that starts QEMU itself: the blade-nic at @devfn of @bus,
 * enabled, BAR0 mapped.
 */
void qblade_nic_init(QBladeNic *nic, QPCIBus *bus, int devfn,
                     QGuestAllocator *alloc);
void qblade_nic_destroy(QBladeNic *nic);

uint32_t qblade_nic_readl(QBladeNic *nic, uint64_t reg);
void qblade_nic_writel(QBladeNic *nic, uint64_t reg, uint32_t val);
/* Statistics counter @i (BLADE_NIC_STAT_*). */
uint64_t qblade_nic_stat(QBladeNic *nic, unsigned i);
/* The MAC address in MAC_LO/MAC_HI. */
void qblade_nic_mac(QBladeNic *nic, uint8_t *mac);

/* Write descriptor @idx of @ring. */
void qblade_nic_desc(QBladeNic *nic, uint64_t ring, uint32_t idx,
                     uint64_t addr, uint16_t len, uint16_t flags);
/* Read back what the device wrote in descriptor @idx of @ring. */
void qblade_nic_desc_wb(QBladeNic *nic, uint64_t ring, uint32_t idx,
                        uint16_t *len, uint16_t *status);
/*
 * Allocate and program both rings (buffers of QBLADE_NIC_BUF_SIZE), give
 * the device every RX buffer but one, and enable TX and RX.
 */
void qblade_nic_rings(QBladeNic *nic, uint32_t tx_size, uint32_t rx_size);
/* One frame in the next TX descriptor (that slot's buffer); no kick. */
void qblade_nic_tx_queue(QBladeNic *nic, const uint8_t *frame, uint16_t len);
void qblade_nic_tx_kick(QBladeNic *nic);

#endif
