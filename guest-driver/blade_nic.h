/* SPDX-License-Identifier: GPL-2.0 */
/*
 * blade-nic register and descriptor definitions.
 *
 * Derived from docs/blade-nic.md (datasheet revision 1.1) and nothing else.
 * Section numbers in the comments refer to that document.  Registers new in
 * revision 1.1 are marked as such: a 1.0 device counts any access to them
 * as a register error.
 */
#ifndef BLADE_NIC_H
#define BLADE_NIC_H

#include <linux/bits.h>
#include <linux/limits.h>
#include <linux/types.h>

/* Section 1: PCI identity */
#define BN_PCI_VENDOR_ID	0x1af4
#define BN_PCI_DEVICE_ID	0x10f0
#define BN_PCI_SUBVENDOR_ID	0x1af4
#define BN_PCI_SUBDEVICE_ID	0x0001

/* Section 2: BARs */
#define BN_BAR_REGS		0
#define BN_BAR_MSIX		2

/* Section 4: register map (BAR0, 32-bit little-endian registers) */
#define BN_REG_ID		0x000
#define BN_REG_VERSION		0x004
#define BN_REG_CTRL		0x008
#define BN_REG_SCRATCH		0x00c
#define BN_REG_STATUS		0x010
#define BN_REG_SPEED		0x014
#define BN_REG_ICR		0x020
#define BN_REG_IER		0x024
#define BN_REG_ICS		0x028
#define BN_REG_ITR_RX		0x030
#define BN_REG_ITR_TX		0x034
#define BN_REG_ITR_MISC		0x038
#define BN_REG_MAC_LO		0x040
#define BN_REG_MAC_HI		0x044
#define BN_REG_MTA(n)		(0x060 + 4 * (n))
#define BN_MTA_WORDS		8
#define BN_REG_TX_BASE_LO	0x100
#define BN_REG_TX_BASE_HI	0x104
#define BN_REG_TX_SIZE		0x108
#define BN_REG_TX_HEAD		0x10c
#define BN_REG_TX_TAIL		0x110
#define BN_REG_RX_BASE_LO	0x120
#define BN_REG_RX_BASE_HI	0x124
#define BN_REG_RX_SIZE		0x128
#define BN_REG_RX_HEAD		0x12c
#define BN_REG_RX_TAIL		0x130
#define BN_REG_UTIL		0x200
#define BN_REG_UTIL_TX		0x204
#define BN_REG_UTIL_HOST	0x208
#define BN_REG_UTIL_CFG		0x20c
#define BN_REG_PEER_UTIL	0x210
#define BN_REG_UTIL_CONT	0x214	/* revision 1.1 */
#define BN_REG_UTIL_CONT_TX	0x218	/* revision 1.1 */
#define BN_REG_STAT_LO(n)	(0x400 + 8 * (n))
#define BN_REG_STAT_HI(n)	(0x404 + 8 * (n))

#define BN_ID_VALUE		0x424c4e43	/* "BLNC" */
#define BN_VERSION_MAJOR(v)	((v) >> 16)
#define BN_VERSION_MINOR(v)	((v) & 0xffff)
#define BN_SUPPORTED_MAJOR	1
#define BN_CONT_MINOR		1	/* first revision with UTIL_CONT */
#define BN_SHM_MINOR		2	/* first with the SHM_* counters */
#define BN_CSUM_MINOR		3	/* first with checksum offload */

/* 4.1 CTRL */
#define BN_CTRL_RST		BIT(0)
#define BN_CTRL_TXEN		BIT(1)
#define BN_CTRL_RXEN		BIT(2)
#define BN_CTRL_PROMISC		BIT(3)
#define BN_CTRL_ALLMULTI	BIT(4)
#define BN_CTRL_RXCSUM		BIT(5)	/* revision 1.3 */
#define BN_CTRL_AUTOMASK	BIT(6)	/* revision 1.3 */

/* 4.2 STATUS */
#define BN_STATUS_LINK_UP	BIT(0)
#define BN_STATUS_CONNECTED	BIT(1)
#define BN_STATUS_SYNC		BIT(2)
#define BN_STATUS_LANE_CFG	BIT(3)
#define BN_STATUS_PCS_RAW	BIT(4)
#define BN_STATUS_FORCED_DOWN	BIT(5)
#define BN_STATUS_TX_HALT	BIT(6)
#define BN_STATUS_RX_HALT	BIT(7)

/* 7.1 interrupt causes (ICR, IER, ICS) */
#define BN_INT_RX_DONE		BIT(0)
#define BN_INT_RX_NOBUF		BIT(1)
#define BN_INT_TX_DONE		BIT(2)
#define BN_INT_TX_ERR		BIT(3)
#define BN_INT_LSC		BIT(4)
#define BN_INT_DMA_ERR		BIT(5)
#define BN_INT_PCS_ERR		BIT(6)
#define BN_INT_SW		BIT(7)
#define BN_INT_ALL		0xff

#define BN_INT_RX		(BN_INT_RX_DONE | BN_INT_RX_NOBUF)
#define BN_INT_TX		(BN_INT_TX_DONE | BN_INT_TX_ERR)
#define BN_INT_DATA		(BN_INT_RX | BN_INT_TX)
#define BN_INT_MISC		(BN_INT_LSC | BN_INT_DMA_ERR | \
				 BN_INT_PCS_ERR | BN_INT_SW)

/* 7.2 MSI-X vectors */
#define BN_VEC_RX		0
#define BN_VEC_TX		1
#define BN_VEC_MISC		2
#define BN_NUM_VECTORS		3

#define BN_ITR_MAX		65535

/* 4.3 / 6.5 ring geometry and frame limits */
#define BN_RING_MIN		8
#define BN_RING_MAX		4096
#define BN_RING_ALIGN		16
#define BN_FRAME_MIN		14
#define BN_FRAME_MAX		9018
#define BN_TSO_FRAME_MAX	(14 + 40 + 65535)	/* 6.1.2 */
#define BN_TSO_MIN_MSS		64			/* 6.1.2 */
#define BN_MAX_MTU		9000
#define BN_RX_BUF_EXTRA		18	/* 6.2: buffers hold MTU + 18 */
#define BN_TX_MAX_DESCS		32
#define BN_BUF_LEN_MAX		U16_MAX		/* 5: BUF_LEN */

/* Section 5: descriptor (16 octets, little endian) */
struct bn_desc {
	__le64 addr;
	__le16 buf_len;
	__le16 flags;
	__le16 len;
	__le16 status;
};

/* 6.1.1 and 6.1.2: a TX context descriptor (revision 1.3) */
struct bn_ctx_desc {
	__le16 csum_start;
	__le16 csum_offset;
	__le16 mss;
	__le16 hdr_len;
	__le16 buf_len;
	__le16 flags;
	__le16 len;
	__le16 status;
};

#define BN_DESC_FLAG_EOP	BIT(0)
#define BN_DESC_FLAG_CTX	BIT(1)	/* 1.3 */
#define BN_DESC_FLAG_CSUM	BIT(2)	/* 1.3, in a context */
#define BN_DESC_FLAG_TSO	BIT(3)	/* 1.3, in a context */

#define BN_DESC_STS_DD		BIT(0)
#define BN_DESC_STS_EOP		BIT(1)
#define BN_DESC_STS_ERR		BIT(2)
#define BN_DESC_STS_BCAST	BIT(3)
#define BN_DESC_STS_MCAST	BIT(4)
#define BN_DESC_STS_NOLINK	BIT(5)
#define BN_DESC_STS_L4CS	BIT(6)	/* 1.3, RX */
#define BN_DESC_STS_L4ERR	BIT(7)	/* 1.3, RX */

/* Section 9: utilization */
#define BN_UTIL_CPU_MASK	0x000000ff
#define BN_UTIL_IRQ_SHIFT	8
#define BN_UTIL_IRQ_MASK	0x0000ff00
#define BN_UTIL_TX_HOST		BIT(24)
#define BN_UTIL_VALID		BIT(31)
#define BN_UTIL_CFG_SOURCE(v)	((v) & 0x3)
#define BN_UTIL_CFG_INTERVAL(v)	((v) >> 16)

/* Section 9: contention figures (revision 1.1) */
#define BN_UTIL_CONT_PSI_MASK	GENMASK(9, 0)	/* CPU pressure, permille */
#define BN_UTIL_CONT_RUN_MASK	GENMASK(25, 16)	/* runnable tasks */
#define BN_UTIL_CONT_PSI_MAX	1000
#define BN_UTIL_CONT_RUN_MAX	1023
#define BN_UTIL_CONT_TX_HOST	BIT(30)
#define BN_UTIL_CONT_TX_VALID	BIT(31)

/* Section 10: statistics */
enum bn_hw_stat {
	BN_STAT_TX_FRAMES,
	BN_STAT_TX_OCTETS,
	BN_STAT_RX_FRAMES,
	BN_STAT_RX_OCTETS,
	BN_STAT_TX_NOLINK,
	BN_STAT_TX_ERRORS,
	BN_STAT_RX_NOBUF,
	BN_STAT_RX_FILTERED,
	BN_STAT_RX_LEN_ERRORS,
	BN_STAT_DMA_ERRORS,
	BN_STAT_RX_BCAST,
	BN_STAT_RX_MCAST,
	BN_STAT_PCS_CODE_ERRORS,
	BN_STAT_PCS_SYNC_LOSSES,
	BN_STAT_RX_FCS_ERRORS,
	BN_STAT_LINK_CHANGES,
	BN_STAT_UTIL_SETS_TX,
	BN_STAT_UTIL_SETS_RX,
	BN_STAT_IRQ_RX,
	BN_STAT_IRQ_TX,
	BN_STAT_IRQ_MISC,
	BN_STAT_REG_ERRORS,
	BN_STAT_TX_CG_INJECTED,
	BN_STAT_SHM_ERRORS,		/* 1.2 */
	BN_STAT_SHM_KICKS,		/* 1.2 */
	BN_STAT_TX_CSUM,		/* 1.3 */
	BN_STAT_TX_CTX_ERRORS,		/* 1.3 */
	BN_STAT_RX_CSUM_GOOD,		/* 1.3 */
	BN_STAT_RX_CSUM_BAD,		/* 1.3 */
	BN_STAT_TX_TSO,			/* 1.3 */
	BN_STAT_RX_HIST,		/* 1.3: 10.1, 7 buckets */
	BN_STAT_TX_HIST = BN_STAT_RX_HIST + 7,
	BN_NUM_HW_STATS = BN_STAT_TX_HIST + 7
};

#endif /* BLADE_NIC_H */
