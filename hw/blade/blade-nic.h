/*
 * bladeplane blade NIC: register map shared by the device model and its
 * qtests.  docs/blade-nic.md is the contract; keep the two in step.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_BLADE_NIC_H
#define HW_BLADE_NIC_H

#define TYPE_BLADE_NIC "blade-nic"

/* PCI identity: 1af4:10f0 is in the range QEMU keeps for experiments. */
#define BLADE_NIC_VENDOR_ID         0x1af4
#define BLADE_NIC_DEVICE_ID         0x10f0
#define BLADE_NIC_SUBSYS_VENDOR_ID  0x1af4
#define BLADE_NIC_SUBSYS_ID         0x0001
#define BLADE_NIC_REVISION          0x01

#define BLADE_NIC_BAR0_SIZE         0x1000

/* BAR0 registers (32-bit, little endian). */
#define BLADE_NIC_REG_ID            0x000   /* RO: BLADE_NIC_ID_VALUE */
#define BLADE_NIC_REG_VERSION       0x004   /* RO: major << 16 | minor */
#define BLADE_NIC_REG_CTRL          0x008   /* RW */
#define BLADE_NIC_REG_SCRATCH       0x00c   /* RW, for driver sanity checks */

#define BLADE_NIC_ID_VALUE          0x424c4e43  /* "BLNC" */
#define BLADE_NIC_VERSION_VALUE     0x00000001  /* 0.1 */

#define BLADE_NIC_CTRL_RST          (1u << 0)   /* W1: device reset */

#endif
