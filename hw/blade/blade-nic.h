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
#define BLADE_NIC_MSIX_BAR          2
#define BLADE_NIC_MSIX_VECTORS      3
#define BLADE_NIC_VEC_RX            0
#define BLADE_NIC_VEC_TX            1
#define BLADE_NIC_VEC_MISC          2

/* BAR0 registers (32-bit, little endian). */
#define BLADE_NIC_REG_ID            0x000   /* RO: BLADE_NIC_ID_VALUE */
#define BLADE_NIC_REG_VERSION       0x004   /* RO: major << 16 | minor */
#define BLADE_NIC_REG_CTRL          0x008   /* RW */
#define BLADE_NIC_REG_SCRATCH       0x00c   /* RW, for driver sanity checks */
#define BLADE_NIC_REG_STATUS        0x010   /* RO */
#define BLADE_NIC_REG_SPEED         0x014   /* RO: Mb/s, 0 = unpaced */
#define BLADE_NIC_REG_ICR           0x020   /* W1C: interrupt causes */
#define BLADE_NIC_REG_IER           0x024   /* RW: interrupt enables */
#define BLADE_NIC_REG_ICS           0x028   /* WO: set causes */
#define BLADE_NIC_REG_ITR_RX        0x030   /* RW: min interval, us */
#define BLADE_NIC_REG_ITR_TX        0x034
#define BLADE_NIC_REG_ITR_MISC      0x038
#define BLADE_NIC_REG_MAC_LO        0x040   /* RW: octets 0-3 */
#define BLADE_NIC_REG_MAC_HI        0x044   /* RW: octets 4-5 */
#define BLADE_NIC_REG_MTA           0x060   /* RW x8: multicast hash */
#define BLADE_NIC_MTA_WORDS         8
#define BLADE_NIC_REG_TX_BASE_LO    0x100
#define BLADE_NIC_REG_TX_BASE_HI    0x104
#define BLADE_NIC_REG_TX_SIZE       0x108
#define BLADE_NIC_REG_TX_HEAD       0x10c   /* RO */
#define BLADE_NIC_REG_TX_TAIL       0x110   /* RW: doorbell */
#define BLADE_NIC_REG_RX_BASE_LO    0x120
#define BLADE_NIC_REG_RX_BASE_HI    0x124
#define BLADE_NIC_REG_RX_SIZE       0x128
#define BLADE_NIC_REG_RX_HEAD       0x12c   /* RO */
#define BLADE_NIC_REG_RX_TAIL       0x130   /* RW: doorbell */
#define BLADE_NIC_REG_UTIL          0x200   /* RW: guest figures */
#define BLADE_NIC_REG_UTIL_TX       0x204   /* RO: figures being sent */
#define BLADE_NIC_REG_UTIL_HOST     0x208   /* RO: host-measured */
#define BLADE_NIC_REG_UTIL_CFG      0x20c   /* RO: source, interval */
#define BLADE_NIC_REG_PEER_UTIL     0x210   /* RO: chassis's figures */
#define BLADE_NIC_REG_UTIL_CONT     0x214   /* RW: guest contention */
#define BLADE_NIC_REG_UTIL_CONT_TX  0x218   /* RO: contention being sent */
#define BLADE_NIC_REG_STAT_BASE     0x400   /* RO: 64-bit counters */

#define BLADE_NIC_ID_VALUE          0x424c4e43  /* "BLNC" */
#define BLADE_NIC_VERSION_VALUE     0x00010003  /* 1.3 */

#define BLADE_NIC_CTRL_RST          (1u << 0)   /* W1: device reset */
#define BLADE_NIC_CTRL_TXEN         (1u << 1)
#define BLADE_NIC_CTRL_RXEN         (1u << 2)
#define BLADE_NIC_CTRL_PROMISC      (1u << 3)
#define BLADE_NIC_CTRL_ALLMULTI     (1u << 4)
#define BLADE_NIC_CTRL_RXCSUM       (1u << 5)   /* 1.3: check L4 sums */
#define BLADE_NIC_CTRL_AUTOMASK     (1u << 6)   /* 1.3: 7.2.1 */
#define BLADE_NIC_CTRL_MASK         0x7eu

#define BLADE_NIC_STATUS_LINK_UP    (1u << 0)
#define BLADE_NIC_STATUS_CONNECTED  (1u << 1)
#define BLADE_NIC_STATUS_SYNC       (1u << 2)
#define BLADE_NIC_STATUS_LANE_CFG   (1u << 3)
#define BLADE_NIC_STATUS_PCS_RAW    (1u << 4)
#define BLADE_NIC_STATUS_FORCED_DOWN (1u << 5)
#define BLADE_NIC_STATUS_TX_HALT    (1u << 6)
#define BLADE_NIC_STATUS_RX_HALT    (1u << 7)

/* Interrupt causes (ICR, IER, ICS) and their vectors. */
#define BLADE_NIC_INT_RX_DONE       (1u << 0)   /* RX vector */
#define BLADE_NIC_INT_RX_NOBUF      (1u << 1)   /* RX vector */
#define BLADE_NIC_INT_TX_DONE       (1u << 2)   /* TX vector */
#define BLADE_NIC_INT_TX_ERR        (1u << 3)   /* TX vector */
#define BLADE_NIC_INT_LSC           (1u << 4)   /* misc vector */
#define BLADE_NIC_INT_DMA_ERR       (1u << 5)   /* misc vector */
#define BLADE_NIC_INT_PCS_ERR       (1u << 6)   /* misc vector */
#define BLADE_NIC_INT_SW            (1u << 7)   /* misc vector */
#define BLADE_NIC_INT_MASK          0xffu
#define BLADE_NIC_INT_RX_VEC        (BLADE_NIC_INT_RX_DONE | \
                                     BLADE_NIC_INT_RX_NOBUF)
#define BLADE_NIC_INT_TX_VEC        (BLADE_NIC_INT_TX_DONE | \
                                     BLADE_NIC_INT_TX_ERR)
#define BLADE_NIC_INT_MISC_VEC      (BLADE_NIC_INT_MASK & \
                                     ~(BLADE_NIC_INT_RX_VEC | \
                                       BLADE_NIC_INT_TX_VEC))

#define BLADE_NIC_ITR_MAX           65535       /* microseconds */

/* Rings */
#define BLADE_NIC_RING_MIN          8
#define BLADE_NIC_RING_MAX          4096
#define BLADE_NIC_RING_ALIGN        16
#define BLADE_NIC_DESC_SIZE         16
#define BLADE_NIC_MAX_FRAME         9018    /* octets without FCS */
/* 1.3: a TSO frame, the largest IPv6 datagram with an Ethernet header */
#define BLADE_NIC_TSO_MAX_FRAME     (14 + 40 + 65535)
#define BLADE_NIC_MIN_FRAME         14      /* shorter TX: error */
#define BLADE_NIC_TX_MAX_CHAIN      32      /* descriptors per frame */

/* Descriptor: u64 addr, u16 buf_len, u16 flags, u16 len, u16 status */
#define BLADE_NIC_DESC_ADDR         0
#define BLADE_NIC_DESC_BUF_LEN      8
#define BLADE_NIC_DESC_FLAGS        10
#define BLADE_NIC_DESC_LEN          12
#define BLADE_NIC_DESC_STATUS       14
#define BLADE_NIC_DFLAG_EOP         (1u << 0)   /* TX: last buffer */
#define BLADE_NIC_DFLAG_CTX         (1u << 1)   /* TX: context (1.3) */
#define BLADE_NIC_DFLAG_CSUM        (1u << 2)   /* TX context: checksum */
#define BLADE_NIC_DFLAG_TSO         (1u << 3)   /* TX context: segment */
/* TX context descriptor (1.3): octets 0-7 in place of ADDR */
#define BLADE_NIC_CTX_CSUM_START    0   /* u16: first octet summed */
#define BLADE_NIC_CTX_CSUM_OFFSET   2   /* u16: result, from CSUM_START */
#define BLADE_NIC_CTX_MSS           4   /* u16: with TSO, else 0 */
#define BLADE_NIC_CTX_HDR_LEN       6   /* u16: with TSO, else 0 */
#define BLADE_NIC_CTX_FLAGS_MASK    (BLADE_NIC_DFLAG_CTX | \
                                     BLADE_NIC_DFLAG_CSUM | \
                                     BLADE_NIC_DFLAG_TSO)
#define BLADE_NIC_DSTAT_DD          (1u << 0)   /* descriptor done */
#define BLADE_NIC_DSTAT_EOP         (1u << 1)
#define BLADE_NIC_DSTAT_ERR         (1u << 2)
#define BLADE_NIC_DSTAT_BCAST       (1u << 3)   /* RX */
#define BLADE_NIC_DSTAT_MCAST       (1u << 4)   /* RX */
#define BLADE_NIC_DSTAT_NOLINK      (1u << 5)   /* TX: not sent */
#define BLADE_NIC_DSTAT_L4CS        (1u << 6)   /* RX: L4 sum checked */
#define BLADE_NIC_DSTAT_L4ERR       (1u << 7)   /* RX: ... and wrong */

/* UTIL_CFG */
#define BLADE_NIC_UTIL_SRC_GUEST    0
#define BLADE_NIC_UTIL_SRC_HOST     1
#define BLADE_NIC_UTIL_SRC_AUTO     2
#define BLADE_NIC_UTIL_TX_HOST      (1u << 24)  /* UTIL_TX: from host */
#define BLADE_NIC_UTIL_TX_VALID     (1u << 31)
/* UTIL_CONT, UTIL_CONT_TX: pressure 9:0 (permille), runnable 25:16 */
#define BLADE_NIC_CONT_PSI_MASK     0x3ffu
#define BLADE_NIC_CONT_PSI_MAX      1000
#define BLADE_NIC_CONT_RUN_SHIFT    16
#define BLADE_NIC_CONT_RUN_MASK     (0x3ffu << BLADE_NIC_CONT_RUN_SHIFT)
#define BLADE_NIC_CONT_TX_HOST      (1u << 30)  /* UTIL_CONT_TX: host */
#define BLADE_NIC_CONT_TX_VALID     (1u << 31)  /* ... carries figures */

/* Statistics counters: index i at STAT_BASE + 8 * i (low, high). */
enum {
    BLADE_NIC_STAT_TX_FRAMES,
    BLADE_NIC_STAT_TX_OCTETS,
    BLADE_NIC_STAT_RX_FRAMES,
    BLADE_NIC_STAT_RX_OCTETS,
    BLADE_NIC_STAT_TX_NOLINK,
    BLADE_NIC_STAT_TX_ERRORS,
    BLADE_NIC_STAT_RX_NOBUF,
    BLADE_NIC_STAT_RX_FILTERED,
    BLADE_NIC_STAT_RX_LEN_ERRORS,
    BLADE_NIC_STAT_DMA_ERRORS,
    BLADE_NIC_STAT_RX_BCAST,
    BLADE_NIC_STAT_RX_MCAST,
    BLADE_NIC_STAT_PCS_CODE_ERRORS,
    BLADE_NIC_STAT_PCS_SYNC_LOSSES,
    BLADE_NIC_STAT_RX_FCS_ERRORS,
    BLADE_NIC_STAT_LINK_CHANGES,
    BLADE_NIC_STAT_UTIL_SETS_TX,
    BLADE_NIC_STAT_UTIL_SETS_RX,
    BLADE_NIC_STAT_IRQ_RX,
    BLADE_NIC_STAT_IRQ_TX,
    BLADE_NIC_STAT_IRQ_MISC,
    BLADE_NIC_STAT_REG_ERRORS,
    BLADE_NIC_STAT_TX_CG_INJECTED,
    /* datasheet 1.2: the lane's shared-memory rings */
    BLADE_NIC_STAT_SHM_ERRORS,
    BLADE_NIC_STAT_SHM_KICKS,
    /* datasheet 1.3: checksum offload */
    BLADE_NIC_STAT_TX_CSUM,
    BLADE_NIC_STAT_TX_CTX_ERRORS,
    BLADE_NIC_STAT_RX_CSUM_GOOD,
    BLADE_NIC_STAT_RX_CSUM_BAD,
    BLADE_NIC_STAT_TX_TSO,
    /* datasheet 1.3: frames by length with FCS, RMON's buckets (10.1) */
    BLADE_NIC_STAT_RX_HIST,
    BLADE_NIC_STAT_TX_HIST = BLADE_NIC_STAT_RX_HIST + 7,
    BLADE_NIC_STAT_COUNT = BLADE_NIC_STAT_TX_HIST + 7
};

/* Counters of datasheet 1.1, in the migration stream's main section. */
#define BLADE_NIC_STAT_COUNT_1_1    (BLADE_NIC_STAT_TX_CG_INJECTED + 1)
/* The buckets' upper bounds, octets with FCS (the last: the largest). */
#define BLADE_NIC_HIST_BUCKETS      7
#define BLADE_NIC_HIST_BOUNDS       { 64, 127, 255, 511, 1023, 1518, 9022 }
/* ... of 1.2, in its subsection */
#define BLADE_NIC_STAT_COUNT_1_2    (BLADE_NIC_STAT_SHM_KICKS + 1)

#endif
