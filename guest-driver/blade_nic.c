// SPDX-License-Identifier: GPL-2.0
/*
 * blade_nic: Linux driver for the bladeplane blade-nic PCI network controller.
 *
 * Written against docs/blade-nic.md (datasheet revision 1.3) only.  Section
 * numbers in comments ("6.2", "16.1 step 7") refer to that document.
 *
 * One TX ring and one RX ring of 16-octet descriptors, one NAPI context
 * serving both, three MSI-X vectors (RX, TX, link/misc) or one INTx line,
 * and a utilization reporter that writes the blade's CPU % and interrupt %
 * to the NIC's UTIL register while the interface is up, with the CPU
 * pressure and runnable tasks that user space hands over through two devlink
 * runtime parameters.  From revision 1.3 the device inserts TX checksums
 * (NETIF_F_HW_CSUM), cuts large TCP segments (NETIF_F_TSO, NETIF_F_TSO6)
 * and checks RX checksums (NETIF_F_RXCSUM).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitfield.h>
#include <linux/cpu.h>
#include <linux/crc32.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/interrupt.h>
#include <linux/ipv6.h>
#include <linux/kernel_stat.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/rtnetlink.h>
#include <linux/tcp.h>
#include <linux/tick.h>
#include <linux/u64_stats_sync.h>
#include <linux/workqueue.h>
#include <net/devlink.h>
#ifdef BN_PAGE_POOL_HELPERS
#include <net/page_pool/helpers.h>
#else
#include <net/page_pool.h>
#endif

#include "blade_nic.h"

#define BN_DRV_NAME		"blade_nic"
#define BN_DEFAULT_TX_RING	256
/*
 * A blade's vCPU can be off the host CPU for several ms while its NIC
 * still receives: 256 buffers are 3 ms of a 1 Gb/s line, and TCP lost
 * hundreds of frames a second to RX_NOBUF (docs/performance.md).
 */
#define BN_DEFAULT_RX_RING	1024
#define BN_TX_TIMEOUT		(5 * HZ)
/* Free TX descriptors at which a stopped queue is woken (hysteresis). */
#define BN_TX_WAKE_DESCS	(2 * (MAX_SKB_FRAGS + 2))
/* ITR_MISC: at most one link/misc message per this many us (PCS_ERR). */
#define BN_ITR_MISC_US		1000
/* Contention figures older than this many report intervals are not sent. */
#define BN_CONT_FRESH_PERIODS	3

/* Kernels before 6.8 spell PCI_IRQ_INTX as PCI_IRQ_LEGACY. */
#ifndef PCI_IRQ_INTX
#define PCI_IRQ_INTX		PCI_IRQ_LEGACY
#endif

/*
 * No module parameters (netdev): ring sizes with ethtool -G, interrupt
 * moderation with ethtool -C; INTx where MSI-X cannot be had (boot with
 * pci=nomsi to try it).  Moderation starts at 50 us a vector.
 */
#define BN_DEFAULT_ITR_US	50

/* Room before a received frame, for the stack's headers and alignment. */
#define BN_RX_HEADROOM		(NET_SKB_PAD + NET_IP_ALIGN)
/* An RX buffer for a standard frame, whatever the page size (igb's). */
#define BN_RX_FRAG		2048

/*
 * A descriptor's buffer.  TX: mapped (@len non-zero) with
 * dma_map_single(), or dma_map_page() for a fragment (@page); a frame's
 * skb sits with its last descriptor, a context descriptor has neither.
 * RX: @rx_truesize octets at @rx_off in a page of the ring set's page
 * pool (@rx_page), mapped by the pool; @dma and @len are the part given
 * to the device, after the headroom.
 */
struct bn_buf {
	struct sk_buff *skb;
	struct page *rx_page;
	dma_addr_t dma;
	u32 len;
	u32 rx_off;
	bool page;
};

/**
 * struct bn_rings - the TX and RX rings with their buffers
 * @tx_ring: TX descriptors (coherent DMA)
 * @tx_ring_dma: bus address of @tx_ring
 * @tx_buf: software state of each TX descriptor
 * @tx_size: TX ring size (power of two)
 * @rx_ring: RX descriptors (coherent DMA)
 * @rx_ring_dma: bus address of @rx_ring
 * @rx_buf: software state of each RX descriptor
 * @rx_size: RX ring size (power of two)
 * @rx_buf_len: size of each RX buffer (MTU + 18)
 * @rx_pool: the RX buffers' page pool
 * @rx_truesize: octets of the pool an RX buffer takes: headroom, MTU + 18
 *	and the skb_shared_info that napi_build_skb() puts after them,
 *	rounded up to BN_RX_FRAG (2 KiB) or to a power of two of pages
 *
 * A set is allocated whole before it replaces the running one, so that a
 * reconfiguration that cannot get memory leaves the device as it was.
 */
struct bn_rings {
	struct bn_desc *tx_ring;
	dma_addr_t tx_ring_dma;
	struct bn_buf *tx_buf;
	u32 tx_size;
	struct bn_desc *rx_ring;
	dma_addr_t rx_ring_dma;
	struct bn_buf *rx_buf;
	u32 rx_size;
	u32 rx_buf_len;
	struct page_pool *rx_pool;
	unsigned int rx_truesize;
};

/* Counters updated in NAPI context (TX completion and RX). */
struct bn_napi_stats {
	u64 rx_packets;
	u64 rx_bytes;
	u64 rx_dropped;
	u64 rx_len_errors;
	u64 tx_packets;
	u64 tx_bytes;
	u64 tx_err_frames;
	u64 tx_nolink_frames;
	struct u64_stats_sync syncp;
};

/* Counters updated in ndo_start_xmit (under the TX queue lock). */
struct bn_xmit_stats {
	u64 tx_dropped;
	u64 tx_map_errors;
	struct u64_stats_sync syncp;
};

/**
 * struct bn_cont_figure - one contention figure handed over by user space
 * @value: the figure, validated by the devlink parameter
 * @set_at: jiffies of the last set
 * @set: it has been set at least once
 *
 * Written by the devlink parameter set callback (devlink instance lock),
 * read by the utilization reporter: each field is accessed once, with
 * READ_ONCE()/WRITE_ONCE(); a figure read half-updated is at worst sent
 * one interval late or not at all.
 */
struct bn_cont_figure {
	u16 value;
	bool set;
	unsigned long set_at;
};

/**
 * struct bn_priv - per-device driver state
 * @netdev: the network device
 * @pdev: the PCI function
 * @regs: BAR0 mapping
 * @version: VERSION register read at probe
 * @napi: the one NAPI context (TX completion and RX)
 * @up: rings, buffers and IRQs are set up (written under RTNL; read
 *	by NAPI, which must not wake the TX queue once it is false)
 * @msix: MSI-X is in use (else one INTx line)
 * @automask: the device masks and clears the data causes when it sends
 *	their message (CTRL.AUTOMASK, 7.2.1: MSI-X on revision 1.3)
 * @irq_names: names for request_irq
 * @rings: both rings and their buffers
 * @tx_next: next TX descriptor the driver will fill (producer)
 * @tx_clean: next TX descriptor to reclaim (consumer)
 * @tx_unkicked: descriptors were queued without a TX_TAIL write (an
 *	xmit_more batch in progress; TX queue lock)
 * @rx_clean: next RX descriptor the driver expects the device to fill
 * @itr_rx: ITR_RX value, microseconds (RTNL)
 * @itr_tx: ITR_TX value, microseconds (RTNL)
 * @ier_lock: protects @ier and IER writes
 * @ier: cached IER value
 * @ctrl_lock: protects @ctrl_en, @ctrl_rx and CTRL writes
 * @ctrl_en: TXEN/RXEN/RXCSUM/AUTOMASK bits of CTRL
 * @ctrl_rx: PROMISC/ALLMULTI bits of CTRL
 * @hw_lock: serializes statistics reads (low/high latch) with CTRL.RST
 * @hw_base: counter values folded in before each CTRL.RST
 * @rx_nobuf_down: RX_NOBUF when RXEN was last cleared (@hw_lock)
 * @rx_nobuf_idle: RX_NOBUF counted while RXEN was clear, left out of
 *	rx_missed_errors: frames nobody asked for (@hw_lock)
 * @rx_off: RXEN is clear: rx_missed_errors stays at @rx_nobuf_down
 * @nstats: NAPI-context counters
 * @xstats: xmit-path counters
 * @tx_timeouts: ndo_tx_timeout calls
 * @resets: full resets done by @reset_work
 * @irq_lsc: LSC causes handled
 * @irq_dma_err: DMA_ERR causes handled
 * @irq_pcs_err: PCS_ERR causes handled
 * @irq_sw: SW causes handled
 * @reset_work: TX timeout / DMA error recovery
 * @devlink: the devlink instance of the PCI function
 * @util_work: utilization reporter (runs while @up)
 * @util_period: report interval in ms, UTIL_CFG bits 31:16 read at bring-up
 *	(0: the device sends no utilization, the reporter is off)
 * @has_cont: the device has UTIL_CONT (datasheet 1.1 or later)
 * @num_hw_stats: statistics counters the device has (1.2 added two)
 * @cont_psi: CPU pressure, permille (devlink parameter cpu_pressure)
 * @cont_runnable: runnable tasks (devlink parameter runnable_tasks)
 * @util_valid: @util_prev_* hold a sample
 * @util_prev_total: previous sample, total CPU time in ns
 * @util_prev_busy: previous sample, busy CPU time in ns
 * @util_prev_irq: previous sample, irq + softirq time in ns
 * @util_cpu: last CPU % written to UTIL
 * @util_irq: last IRQ % written to UTIL
 * @util_writes: UTIL writes done
 * @util_cont_writes: UTIL_CONT writes done (each followed by a UTIL write)
 */
struct bn_priv {
	struct net_device *netdev;
	struct pci_dev *pdev;
	void __iomem *regs;
	u32 version;

	struct napi_struct napi;
	bool up;
	bool msix;
	bool automask;
	char irq_names[BN_NUM_VECTORS][IFNAMSIZ + 8];

	struct bn_rings rings;
	u32 tx_next;
	u32 tx_clean;
	bool tx_unkicked;
	u32 rx_clean;

	u32 itr_rx;
	u32 itr_tx;

	spinlock_t ier_lock;		/* protects ier and IER writes */
	u32 ier;
	spinlock_t ctrl_lock;		/* protects ctrl_en, ctrl_rx, CTRL */
	u32 ctrl_en;
	u32 ctrl_rx;

	spinlock_t hw_lock;		/* hw_base, stats reads, CTRL.RST */
	u64 hw_base[BN_NUM_HW_STATS];
	u64 rx_nobuf_down;
	u64 rx_nobuf_idle;
	bool rx_off;

	struct bn_napi_stats nstats;
	struct bn_xmit_stats xstats;
	atomic64_t tx_timeouts;
	atomic64_t resets;
	atomic64_t irq_lsc;
	atomic64_t irq_dma_err;
	atomic64_t irq_pcs_err;
	atomic64_t irq_sw;

	struct work_struct reset_work;

	struct devlink *devlink;
	struct delayed_work util_work;
	unsigned int util_period;
	bool has_cont;
	unsigned int num_hw_stats;
	struct bn_cont_figure cont_psi;
	struct bn_cont_figure cont_runnable;
	bool util_valid;
	u64 util_prev_total;
	u64 util_prev_busy;
	u64 util_prev_irq;
	u8 util_cpu;
	u8 util_irq;
	atomic64_t util_writes;
	atomic64_t util_cont_writes;
};

/* The devlink instance's private area: the way back to the netdev's. */
struct bn_devlink {
	struct bn_priv *priv;
};

static inline u32 bn_rd(struct bn_priv *priv, u32 reg)
{
	return readl(priv->regs + reg);
}

static inline void bn_wr(struct bn_priv *priv, u32 reg, u32 val)
{
	writel(val, priv->regs + reg);
}

/* ---------------------------------------------------------------------- */
/* Interrupt enable and CTRL bookkeeping                                   */

/**
 * bn_ier_update() - change the interrupt enable register
 * @priv: device
 * @set: causes to enable
 * @clear: causes to disable
 *
 * IER is shared by the hard IRQ handlers (which mask the data-path causes)
 * and NAPI (which unmasks them), so it is cached and written under a lock.
 * Enabling a cause whose ICR bit is already set requests an interrupt
 * (7.2), so unmasking after NAPI completes loses no event.
 */
static void bn_ier_update(struct bn_priv *priv, u32 set, u32 clear)
{
	unsigned long flags;

	spin_lock_irqsave(&priv->ier_lock, flags);
	WRITE_ONCE(priv->ier, (priv->ier & ~clear) | set);
	bn_wr(priv, BN_REG_IER, priv->ier);
	spin_unlock_irqrestore(&priv->ier_lock, flags);
}

static void bn_ctrl_write(struct bn_priv *priv, u32 en, u32 en_mask,
			  u32 rx, u32 rx_mask)
{
	spin_lock_bh(&priv->ctrl_lock);
	priv->ctrl_en = (priv->ctrl_en & ~en_mask) | en;
	priv->ctrl_rx = (priv->ctrl_rx & ~rx_mask) | rx;
	bn_wr(priv, BN_REG_CTRL, priv->ctrl_en | priv->ctrl_rx);
	spin_unlock_bh(&priv->ctrl_lock);
}

/* ---------------------------------------------------------------------- */
/* Statistics                                                              */

static u64 bn_hw_stat_locked(struct bn_priv *priv, unsigned int n)
{
	u32 lo, hi;

	/* 10: reading the low half latches the high half: low, then high. */
	lo = bn_rd(priv, BN_REG_STAT_LO(n));
	hi = bn_rd(priv, BN_REG_STAT_HI(n));
	return (((u64)hi << 32) | lo) + priv->hw_base[n];
}

static void bn_hw_stats_read(struct bn_priv *priv, u64 *out)
{
	unsigned long flags;
	unsigned int n;

	spin_lock_irqsave(&priv->hw_lock, flags);
	for (n = 0; n < BN_NUM_HW_STATS; n++)
		out[n] = n < priv->num_hw_stats ?
			 bn_hw_stat_locked(priv, n) : 0;
	spin_unlock_irqrestore(&priv->hw_lock, flags);
}

/**
 * bn_hw_reset() - write CTRL.RST
 * @priv: device
 * @keep_stats: fold the device counters into the driver's base first, so
 *	that the counters the driver reports do not go back to 0
 *
 * CTRL.RST returns every BAR0 register to its reset value (section 12):
 * rings disabled, IER/ICR/ITR 0, MAC from the property, MTA, UTIL and the
 * statistics 0.  Descriptors the device owned are abandoned.  MSI-X
 * settings survive.
 */
static void bn_hw_reset(struct bn_priv *priv, bool keep_stats)
{
	unsigned long flags;
	unsigned int n;

	spin_lock_irqsave(&priv->hw_lock, flags);
	for (n = 0; n < priv->num_hw_stats; n++)
		priv->hw_base[n] = keep_stats ? bn_hw_stat_locked(priv, n) : 0;
	bn_wr(priv, BN_REG_CTRL, BN_CTRL_RST);
	spin_unlock_irqrestore(&priv->hw_lock, flags);

	spin_lock_irqsave(&priv->ier_lock, flags);
	WRITE_ONCE(priv->ier, 0);
	spin_unlock_irqrestore(&priv->ier_lock, flags);

	spin_lock_bh(&priv->ctrl_lock);
	priv->ctrl_en = 0;
	priv->ctrl_rx = 0;
	spin_unlock_bh(&priv->ctrl_lock);
}

static void bn_get_stats64(struct net_device *dev,
			   struct rtnl_link_stats64 *s)
{
	struct bn_priv *priv = netdev_priv(dev);
	const struct bn_napi_stats *ns;
	const struct bn_xmit_stats *xs;
	u64 nobuf, len_err, fcs, mcast;
	unsigned long flags;
	unsigned int start;

	ns = &priv->nstats;
	xs = &priv->xstats;
	do {
		start = u64_stats_fetch_begin(&ns->syncp);
		s->rx_packets = ns->rx_packets;
		s->rx_bytes = ns->rx_bytes;
		s->rx_dropped = ns->rx_dropped;
		s->tx_packets = ns->tx_packets;
		s->tx_bytes = ns->tx_bytes;
		s->tx_errors = ns->tx_err_frames + ns->tx_nolink_frames;
		s->tx_carrier_errors = ns->tx_nolink_frames;
		s->rx_length_errors = ns->rx_len_errors;
	} while (u64_stats_fetch_retry(&ns->syncp, start));

	do {
		start = u64_stats_fetch_begin(&xs->syncp);
		s->tx_dropped = xs->tx_dropped;
	} while (u64_stats_fetch_retry(&xs->syncp, start));

	/* Drops only the device sees (6.2, 10). */
	spin_lock_irqsave(&priv->hw_lock, flags);
	nobuf = bn_hw_stat_locked(priv, BN_STAT_RX_NOBUF);
	len_err = bn_hw_stat_locked(priv, BN_STAT_RX_LEN_ERRORS);
	fcs = bn_hw_stat_locked(priv, BN_STAT_RX_FCS_ERRORS);
	mcast = bn_hw_stat_locked(priv, BN_STAT_RX_MCAST);
	/* Not the frames that came while RXEN was clear. */
	if (priv->rx_off)
		nobuf = priv->rx_nobuf_down;
	nobuf -= priv->rx_nobuf_idle;
	spin_unlock_irqrestore(&priv->hw_lock, flags);

	s->rx_missed_errors = nobuf;
	s->rx_length_errors += len_err;
	s->rx_crc_errors = fcs;
	s->multicast = mcast;
	s->rx_errors = s->rx_length_errors + fcs;
}

/* ---------------------------------------------------------------------- */
/* Link                                                                    */

static void bn_update_carrier(struct bn_priv *priv)
{
	u32 status = bn_rd(priv, BN_REG_STATUS);
	struct net_device *dev = priv->netdev;

	if (status & BN_STATUS_LINK_UP) {
		if (!netif_carrier_ok(dev)) {
			const char *pcs = status & BN_STATUS_PCS_RAW ?
					  "raw" : "8b/10b";
			u32 speed = bn_rd(priv, BN_REG_SPEED);

			/* 4: SPEED 0 means an unpaced lane */
			if (speed)
				netdev_info(dev, "link up, %u Mb/s, %s PCS\n",
					    speed, pcs);
			else
				netdev_info(dev, "link up, unpaced lane, %s PCS\n",
					    pcs);
			netif_carrier_on(dev);
		}
	} else if (netif_carrier_ok(dev)) {
		netdev_info(dev, "link down (status %#x)\n", status);
		netif_carrier_off(dev);
	}
}

/* ---------------------------------------------------------------------- */
/* Rings                                                                   */

static u32 bn_tx_free(struct bn_priv *priv)
{
	/* 16.2 step 1: (HEAD - TAIL - 1) mod SIZE, HEAD tracked by DD bits */
	return (READ_ONCE(priv->tx_clean) - priv->tx_next - 1) &
	       (priv->rings.tx_size - 1);
}

/*
 * The most TX descriptors a frame may take: a context, the head and one
 * per fragment, at most 32 (6.5) and at most half a small ring; a frame
 * that would take more is linearized.
 */
static u32 bn_tx_frame_descs(struct bn_priv *priv)
{
	return min_t(u32, min(MAX_SKB_FRAGS + 2, BN_TX_MAX_DESCS),
		     priv->rings.tx_size / 2);
}

static void bn_unmap(struct device *dmadev, struct bn_buf *buf,
		     enum dma_data_direction dir)
{
	if (!buf->len)
		return;
	if (buf->page)
		dma_unmap_page(dmadev, buf->dma, buf->len, dir);
	else
		dma_unmap_single(dmadev, buf->dma, buf->len, dir);
	buf->len = 0;
}

/*
 * Free descriptors at which a stopped TX queue is woken: a few frames'
 * worth, not one slot, so that a full ring does not stop and wake the
 * queue on every completion; at most a quarter of a small ring.
 */
static u32 bn_tx_wake_thresh(struct bn_priv *priv)
{
	return max(bn_tx_frame_descs(priv),
		   min_t(u32, BN_TX_WAKE_DESCS, priv->rings.tx_size / 4));
}

static void bn_rx_post(struct bn_desc *desc, const struct bn_buf *buf)
{
	desc->addr = cpu_to_le64(buf->dma);
	desc->buf_len = cpu_to_le16(buf->len);
	desc->flags = 0;
	desc->len = 0;
	/* 5.1: STATUS cleared before the descriptor is given (we poll DD). */
	WRITE_ONCE(desc->status, 0);
}

/*
 * An RX buffer of @r's pool: 2 KiB of a page where a frame fits (the
 * stack charges a socket the whole buffer, and a page per 1500-octet
 * frame made TCP collapse its receive queue), else whole pages.
 */
static struct page *bn_rx_page_get(struct bn_rings *r, unsigned int *off,
				   gfp_t gfp)
{
	if (r->rx_truesize < PAGE_SIZE)
		return page_pool_alloc_frag(r->rx_pool, off, r->rx_truesize,
					    gfp | __GFP_NOWARN);
	*off = 0;
	return page_pool_alloc_pages(r->rx_pool, gfp | __GFP_NOWARN);
}

/* Point @buf at the buffer at @off in @page. */
static void bn_rx_set_buf(struct bn_buf *buf, struct page *page,
			  unsigned int off)
{
	buf->rx_page = page;
	buf->rx_off = off;
	buf->dma = page_pool_get_dma_addr(page) + off + BN_RX_HEADROOM;
}

/* Take a buffer of @r's pool for @buf and give it to the device at @desc. */
static int bn_rx_alloc_buf(struct bn_rings *r, struct bn_desc *desc,
			   struct bn_buf *buf, gfp_t gfp)
{
	struct page *page;
	unsigned int off;

	page = bn_rx_page_get(r, &off, gfp);
	if (!page)
		return -ENOMEM;
	bn_rx_set_buf(buf, page, off);
	buf->len = r->rx_buf_len;
	bn_rx_post(desc, buf);
	return 0;
}

/* Unmap and free the skbs still held in the TX buffer array. */
static void bn_free_tx_bufs(struct device *dmadev, struct bn_rings *r)
{
	u32 i;

	if (!r->tx_buf)
		return;
	for (i = 0; i < r->tx_size; i++) {
		struct bn_buf *buf = &r->tx_buf[i];

		bn_unmap(dmadev, buf, DMA_TO_DEVICE);
		if (buf->skb)
			dev_kfree_skb_any(buf->skb);
		buf->skb = NULL;
	}
	kfree(r->tx_buf);
	r->tx_buf = NULL;
}

/*
 * Return the RX buffers' pages to their pool and release it; pages still
 * in skbs up the stack go back to the page allocator when those are freed.
 */
static void bn_free_rx_bufs(struct bn_rings *r)
{
	u32 i;

	if (r->rx_buf) {
		for (i = 0; i < r->rx_size; i++)
			if (r->rx_buf[i].rx_page)
				page_pool_put_full_page(r->rx_pool,
							r->rx_buf[i].rx_page,
							false);
		kfree(r->rx_buf);
		r->rx_buf = NULL;
	}
	if (r->rx_pool)
		page_pool_destroy(r->rx_pool);
	r->rx_pool = NULL;
}

/* Free one ring's descriptor memory. */
static void bn_free_desc(struct device *dmadev, struct bn_desc **ring,
			 dma_addr_t ring_dma, u32 size)
{
	if (!*ring)
		return;
	dma_free_coherent(dmadev, size * sizeof(struct bn_desc), *ring,
			  ring_dma);
	*ring = NULL;
}

/**
 * bn_rings_free() - release a ring set, its buffers and pending skbs
 * @priv: device
 * @r: the set, not given to the device or with its rings disabled in
 *	CTRL (the device no longer reads or writes any descriptor or buffer)
 */
static void bn_rings_free(struct bn_priv *priv, struct bn_rings *r)
{
	struct device *dmadev = &priv->pdev->dev;

	bn_free_tx_bufs(dmadev, r);
	bn_free_desc(dmadev, &r->tx_ring, r->tx_ring_dma, r->tx_size);
	bn_free_rx_bufs(r);
	bn_free_desc(dmadev, &r->rx_ring, r->rx_ring_dma, r->rx_size);
}

/**
 * bn_rings_alloc() - allocate a ring set and fill every RX descriptor
 * @priv: device
 * @r: the set to fill; @r->tx_size, @r->rx_size and @r->rx_buf_len give
 *	its geometry, the rest is written
 *
 * Every RX descriptor gets a buffer of MTU + 18 octets (6.2) from a page
 * pool of its own (2 KiB up to an MTU of about 1640, then on 4 KiB pages
 * order 0 up to about 3600, order 2 at 9000); SIZE - 1 of them are given
 * to the device at bring-up, the last one is the slot the driver keeps
 * empty (5.1) and is given as the ring turns.  Process context: the
 * pages are allocated with GFP_KERNEL.
 *
 * Return: 0 or -ENOMEM (nothing left allocated).
 */
static int bn_rings_alloc(struct bn_priv *priv, struct bn_rings *r)
{
	struct device *dmadev = &priv->pdev->dev;
	struct page_pool_params pp = {
		/* The pool maps, and syncs for the device what it gets back. */
		.flags = PP_FLAG_DMA_MAP | PP_FLAG_DMA_SYNC_DEV,
		.nid = dev_to_node(dmadev),
		.dev = dmadev,
		.dma_dir = DMA_FROM_DEVICE,
		.offset = BN_RX_HEADROOM,
	};
	unsigned int need;
	u32 i;

	/* Coherent allocations are page aligned: more than the 16 needed. */
	r->tx_ring = dma_alloc_coherent(dmadev,
					r->tx_size * sizeof(struct bn_desc),
					&r->tx_ring_dma, GFP_KERNEL);
	r->tx_buf = kcalloc(r->tx_size, sizeof(*r->tx_buf), GFP_KERNEL);
	r->rx_ring = dma_alloc_coherent(dmadev,
					r->rx_size * sizeof(struct bn_desc),
					&r->rx_ring_dma, GFP_KERNEL);
	r->rx_buf = kcalloc(r->rx_size, sizeof(*r->rx_buf), GFP_KERNEL);
	if (!r->tx_ring || !r->tx_buf || !r->rx_ring || !r->rx_buf)
		goto err;

	need = SKB_DATA_ALIGN(BN_RX_HEADROOM + r->rx_buf_len) +
	       SKB_DATA_ALIGN(sizeof(struct skb_shared_info));
	if (need <= BN_RX_FRAG && BN_RX_FRAG < PAGE_SIZE) {
		/* Pieces of a page: the pool syncs all of it back. */
		r->rx_truesize = BN_RX_FRAG;
		pp.offset = 0;
		pp.max_len = PAGE_SIZE;
#ifdef PP_FLAG_PAGE_FRAG	/* before 6.7, pools split pages on request */
		pp.flags |= PP_FLAG_PAGE_FRAG;
#endif
	} else {
		pp.order = get_order(need);
		r->rx_truesize = PAGE_SIZE << pp.order;
		pp.max_len = r->rx_buf_len;
	}
	pp.pool_size = r->rx_size;
	r->rx_pool = page_pool_create(&pp);
	if (IS_ERR(r->rx_pool)) {
		r->rx_pool = NULL;
		goto err;
	}
	for (i = 0; i < r->rx_size; i++)
		if (bn_rx_alloc_buf(r, &r->rx_ring[i], &r->rx_buf[i],
				    GFP_KERNEL))
			goto err;
	return 0;

err:
	bn_rings_free(priv, r);
	return -ENOMEM;
}

/**
 * bn_clean_tx() - reclaim TX descriptors the device has completed
 * @priv: device
 * @budget: NAPI budget (0 from netpoll)
 *
 * Walks from the next-to-clean index while DD is set, never past the
 * driver's own producer index, so nothing the device writes can send the
 * driver outside the descriptors it handed out.
 */
static void bn_clean_tx(struct bn_priv *priv, int budget)
{
	struct netdev_queue *txq = netdev_get_tx_queue(priv->netdev, 0);
	unsigned int pkts = 0, bytes = 0, sent = 0, sent_bytes = 0;
	struct device *dmadev = &priv->pdev->dev;
	struct bn_napi_stats *ns = &priv->nstats;
	unsigned int err = 0, nolink = 0;
	u32 mask = priv->rings.tx_size - 1;
	u32 i = priv->tx_clean, next;

	next = READ_ONCE(priv->tx_next);
	smp_rmb();	/* pairs with the wmb() in bn_start_xmit */

	while (i != next) {
		struct bn_desc *desc = &priv->rings.tx_ring[i];
		struct bn_buf *buf = &priv->rings.tx_buf[i];
		u16 status;

		status = le16_to_cpu(READ_ONCE(desc->status));
		if (!(status & BN_DESC_STS_DD))
			break;
		/* Read nothing else of the descriptor before DD was seen. */
		dma_rmb();

		/*
		 * The device wrote a frame's descriptors back once it had read
		 * all of them; its skb is with the last.  A context (6.1.1)
		 * has neither buffer nor skb.
		 */
		bn_unmap(dmadev, buf, DMA_TO_DEVICE);
		i = (i + 1) & mask;
		if (!buf->skb)
			continue;
		if (status & BN_DESC_STS_ERR) {
			err++;
		} else if (status & BN_DESC_STS_NOLINK) {
			nolink++;
		} else {
			sent++;
			sent_bytes += buf->skb->len;
		}
		pkts++;
		bytes += buf->skb->len;
		napi_consume_skb(buf->skb, budget);
		buf->skb = NULL;
	}

	if (!pkts)
		return;

	u64_stats_update_begin(&ns->syncp);
	ns->tx_packets += sent;
	ns->tx_bytes += sent_bytes;
	ns->tx_err_frames += err;
	ns->tx_nolink_frames += nolink;
	u64_stats_update_end(&ns->syncp);

	WRITE_ONCE(priv->tx_clean, i);
	netdev_tx_completed_queue(txq, pkts, bytes);
	/*
	 * tx_clean before the queue state: pairs with the barrier in
	 * bn_tx_maybe_stop(), so that either it sees the room made here or
	 * this sees its stop.  No wake once bn_down() has begun: the rings
	 * may be about to go.
	 */
	smp_mb();
	if (unlikely(netif_tx_queue_stopped(txq)) && READ_ONCE(priv->up) &&
	    bn_tx_free(priv) >= bn_tx_wake_thresh(priv))
		netif_tx_wake_queue(txq);
}

/**
 * bn_clean_rx() - pass received frames up and give the buffers back
 * @priv: device
 * @budget: most frames to process
 *
 * A frame's buffer is replaced before the frame goes up; if no replacement
 * can be had the frame is dropped and its buffer given back.  LEN is not
 * trusted: a frame shorter than 14 octets or longer than the buffer is
 * dropped.
 *
 * Return: descriptors processed.
 */
static int bn_clean_rx(struct bn_priv *priv, int budget)
{
	unsigned int pkts = 0, bytes = 0, dropped = 0, len_err = 0;
	unsigned int truesize = priv->rings.rx_truesize;
	struct page_pool *pool = priv->rings.rx_pool;
	struct device *dmadev = &priv->pdev->dev;
	struct bn_napi_stats *ns = &priv->nstats;
	struct net_device *dev = priv->netdev;
	u32 mask = priv->rings.rx_size - 1;
	u32 i = priv->rx_clean;
	int done = 0;

	while (done < budget) {
		struct bn_desc *desc = &priv->rings.rx_ring[i];
		struct bn_buf *buf = &priv->rings.rx_buf[i];
		struct sk_buff *skb;
		struct page *page;
		unsigned int off;
		u16 status, len;

		status = le16_to_cpu(READ_ONCE(desc->status));
		if (!(status & BN_DESC_STS_DD))
			break;
		dma_rmb();	/* LEN is valid only once DD is seen */
		len = le16_to_cpu(READ_ONCE(desc->len));

		if (unlikely(len < BN_FRAME_MIN || len > buf->len)) {
			len_err++;
			goto repost;
		}

		/* A new buffer first: without one the frame is dropped. */
		page = bn_rx_page_get(&priv->rings, &off, GFP_ATOMIC);
		if (unlikely(!page)) {
			dropped++;
			goto repost;
		}
		dma_sync_single_for_cpu(dmadev, buf->dma, len,
					DMA_FROM_DEVICE);
		skb = napi_build_skb(page_address(buf->rx_page) + buf->rx_off,
				     truesize);
		if (unlikely(!skb)) {
			page_pool_recycle_direct(pool, page);
			dropped++;
			goto repost;
		}
		skb_mark_for_recycle(skb);
		skb_reserve(skb, BN_RX_HEADROOM);
		bn_rx_set_buf(buf, page, off);

		skb_put(skb, len);
		/* 6.2.1: a TCP or UDP checksum the device found right */
		if ((status & (BN_DESC_STS_L4CS | BN_DESC_STS_L4ERR)) ==
		    BN_DESC_STS_L4CS && (dev->features & NETIF_F_RXCSUM))
			skb->ip_summed = CHECKSUM_UNNECESSARY;
		skb->protocol = eth_type_trans(skb, dev);
		pkts++;
		bytes += len;
		napi_gro_receive(&priv->napi, skb);
repost:
		bn_rx_post(desc, buf);
		i = (i + 1) & mask;
		done++;
	}

	if (done) {
		priv->rx_clean = i;
		/*
		 * 5.1: descriptors are written before TAIL moves; TAIL stays
		 * one behind the next descriptor to clean, keeping one slot
		 * empty.
		 */
		wmb();
		writel_relaxed((i + priv->rings.rx_size - 1) & mask,
			       priv->regs + BN_REG_RX_TAIL);

		u64_stats_update_begin(&ns->syncp);
		ns->rx_packets += pkts;
		ns->rx_bytes += bytes;
		ns->rx_dropped += dropped;
		ns->rx_len_errors += len_err;
		u64_stats_update_end(&ns->syncp);
	}
	return done;
}

static int bn_poll(struct napi_struct *napi, int budget)
{
	struct bn_priv *priv = container_of(napi, struct bn_priv, napi);
	int done;

	/*
	 * 16.2 step 3 / 16.3 step 1: clear the data causes, then work (with
	 * CTRL.AUTOMASK the message cleared them, 7.2.1).
	 */
	if (!priv->automask)
		bn_wr(priv, BN_REG_ICR, BN_INT_DATA);
	bn_clean_tx(priv, budget);
	done = bn_clean_rx(priv, budget);

	if (done < budget && napi_complete_done(napi, done))
		bn_ier_update(priv, BN_INT_DATA, 0);
	return done;
}

/* ---------------------------------------------------------------------- */
/* Interrupts                                                              */

static void bn_handle_misc(struct bn_priv *priv, u32 icr)
{
	bn_wr(priv, BN_REG_ICR, icr);

	if (icr & BN_INT_LSC) {
		atomic64_inc(&priv->irq_lsc);
		bn_update_carrier(priv);
		/*
		 * 6.1 does not say that a pass completing only NOLINK frames
		 * raises TX_DONE: reclaim now rather than wait for the next
		 * TX interrupt (a no-op while NAPI is disabled).
		 */
		napi_schedule(&priv->napi);
	}
	if (icr & BN_INT_DMA_ERR) {
		atomic64_inc(&priv->irq_dma_err);
		netdev_err(priv->netdev,
			   "DMA error, ring halted (status %#x): resetting\n",
			   bn_rd(priv, BN_REG_STATUS));
		schedule_work(&priv->reset_work);
	}
	if (icr & BN_INT_PCS_ERR)
		atomic64_inc(&priv->irq_pcs_err);
	if (icr & BN_INT_SW)
		atomic64_inc(&priv->irq_sw);
}

static void bn_handle_data(struct bn_priv *priv)
{
	/*
	 * Masked until NAPI completes; see bn_ier_update().  With
	 * CTRL.AUTOMASK the device masked them when it sent the message.
	 */
	if (!priv->automask)
		bn_ier_update(priv, 0, BN_INT_DATA);
	napi_schedule(&priv->napi);
}

static irqreturn_t bn_msix_data(int irq, void *data)
{
	bn_handle_data(data);
	return IRQ_HANDLED;
}

static irqreturn_t bn_msix_misc(int irq, void *data)
{
	struct bn_priv *priv = data;
	u32 icr;

	icr = bn_rd(priv, BN_REG_ICR) & BN_INT_MISC;
	if (icr)
		bn_handle_misc(priv, icr);
	return IRQ_HANDLED;
}

static irqreturn_t bn_intx(int irq, void *data)
{
	struct bn_priv *priv = data;
	u32 icr;

	/* 7.3: INTA# is asserted while ICR & IER is non-zero. */
	icr = bn_rd(priv, BN_REG_ICR) & READ_ONCE(priv->ier);
	if (!icr)
		return IRQ_NONE;
	if (icr & BN_INT_DATA)
		bn_handle_data(priv);
	if (icr & BN_INT_MISC)
		bn_handle_misc(priv, icr & BN_INT_MISC);
	return IRQ_HANDLED;
}

static void bn_free_irqs(struct bn_priv *priv)
{
	struct pci_dev *pdev = priv->pdev;

	if (priv->msix) {
		free_irq(pci_irq_vector(pdev, BN_VEC_RX), priv);
		free_irq(pci_irq_vector(pdev, BN_VEC_TX), priv);
		free_irq(pci_irq_vector(pdev, BN_VEC_MISC), priv);
	} else {
		free_irq(pci_irq_vector(pdev, 0), priv);
	}
}

static int bn_request_irqs(struct bn_priv *priv)
{
	const char *name = priv->netdev->name;
	struct pci_dev *pdev = priv->pdev;
	int err;

	if (!priv->msix) {
		snprintf(priv->irq_names[0], sizeof(priv->irq_names[0]), "%s",
			 name);
		return request_irq(pci_irq_vector(pdev, 0), bn_intx,
				   IRQF_SHARED, priv->irq_names[0], priv);
	}

	snprintf(priv->irq_names[BN_VEC_RX], sizeof(priv->irq_names[0]),
		 "%s-rx", name);
	snprintf(priv->irq_names[BN_VEC_TX], sizeof(priv->irq_names[0]),
		 "%s-tx", name);
	snprintf(priv->irq_names[BN_VEC_MISC], sizeof(priv->irq_names[0]),
		 "%s-misc", name);

	err = request_irq(pci_irq_vector(pdev, BN_VEC_RX), bn_msix_data, 0,
			  priv->irq_names[BN_VEC_RX], priv);
	if (err)
		return err;
	err = request_irq(pci_irq_vector(pdev, BN_VEC_TX), bn_msix_data, 0,
			  priv->irq_names[BN_VEC_TX], priv);
	if (err)
		goto err_rx;
	err = request_irq(pci_irq_vector(pdev, BN_VEC_MISC), bn_msix_misc, 0,
			  priv->irq_names[BN_VEC_MISC], priv);
	if (err)
		goto err_tx;
	return 0;

err_tx:
	free_irq(pci_irq_vector(pdev, BN_VEC_TX), priv);
err_rx:
	free_irq(pci_irq_vector(pdev, BN_VEC_RX), priv);
	return err;
}

/* ---------------------------------------------------------------------- */
/* Utilization reporter (9, 16.6)                                          */

/**
 * bn_util_sample() - sum CPU time over the online CPUs
 * @total: all time, ns
 * @busy: total minus idle and iowait, ns
 * @irq: hard and soft interrupt time, ns
 *
 * Like /proc/stat: on a NO_HZ kernel the idle and iowait times in kcpustat
 * are not kept up to date while a CPU sleeps, so they come from the tick
 * code when it has them.
 */
static void bn_util_sample(u64 *total, u64 *busy, u64 *irq)
{
	u64 t = 0, b = 0, q = 0;
	int cpu;

	cpus_read_lock();
	for_each_online_cpu(cpu) {
		struct kernel_cpustat kcs;
		u64 idle, iowait, us, sum;
		u64 *cs = kcs.cpustat;

		kcpustat_cpu_fetch(&kcs, cpu);
		us = get_cpu_idle_time_us(cpu, NULL);
		idle = us == (u64)-1 ? cs[CPUTIME_IDLE] : us * NSEC_PER_USEC;
		us = get_cpu_iowait_time_us(cpu, NULL);
		iowait = us == (u64)-1 ? cs[CPUTIME_IOWAIT] :
					 us * NSEC_PER_USEC;

		/* guest time is already part of user/nice */
		sum = cs[CPUTIME_USER] + cs[CPUTIME_NICE] +
		      cs[CPUTIME_SYSTEM] + cs[CPUTIME_IRQ] +
		      cs[CPUTIME_SOFTIRQ] + cs[CPUTIME_STEAL];
		t += sum + idle + iowait;
		b += sum;
		q += cs[CPUTIME_IRQ] + cs[CPUTIME_SOFTIRQ];
	}
	cpus_read_unlock();
	*total = t;
	*busy = b;
	*irq = q;
}

static u8 bn_pct(u64 part, u64 whole)
{
	u64 p = div64_u64(part * 100 + whole / 2, whole);

	return min_t(u64, p, 100);
}

/* A figure counts if it was set within the last BN_CONT_FRESH_PERIODS. */
static bool bn_cont_fresh(const struct bn_cont_figure *f, unsigned long window)
{
	return READ_ONCE(f->set) &&
	       time_before(jiffies, READ_ONCE(f->set_at) + window);
}

/**
 * bn_util_cont() - the UTIL_CONT value to send with the next UTIL write
 * @priv: device
 * @cont: the value, if there is one
 *
 * The contention figures go out only on a device that has UTIL_CONT, and
 * only while both were set by user space within the last
 * %BN_CONT_FRESH_PERIODS report intervals: an agent that stopped must not
 * leave the chassis with figures that look current.
 *
 * Return: true if @cont is to be written.
 */
static bool bn_util_cont(struct bn_priv *priv, u32 *cont)
{
	unsigned long window;

	if (!priv->has_cont)
		return false;
	window = BN_CONT_FRESH_PERIODS * msecs_to_jiffies(priv->util_period);
	if (!bn_cont_fresh(&priv->cont_psi, window) ||
	    !bn_cont_fresh(&priv->cont_runnable, window))
		return false;
	*cont = FIELD_PREP(BN_UTIL_CONT_PSI_MASK,
			   READ_ONCE(priv->cont_psi.value)) |
		FIELD_PREP(BN_UTIL_CONT_RUN_MASK,
			   READ_ONCE(priv->cont_runnable.value));
	return true;
}

static void bn_util_work(struct work_struct *work)
{
	struct bn_priv *priv = container_of(to_delayed_work(work),
					    struct bn_priv, util_work);
	u64 total, busy, irq;
	u32 cont;

	bn_util_sample(&total, &busy, &irq);

	/*
	 * Skip a sample whose deltas make no sense (CPUs went offline and
	 * took their time with them); the next one starts afresh.
	 */
	if (priv->util_valid && total > priv->util_prev_total &&
	    busy >= priv->util_prev_busy && irq >= priv->util_prev_irq) {
		u64 dt = total - priv->util_prev_total;
		u8 cpu, irqp;

		cpu = bn_pct(busy - priv->util_prev_busy, dt);
		irqp = bn_pct(irq - priv->util_prev_irq, dt);

		/* 9: UTIL_CONT arms the figures for the UTIL write after it. */
		if (bn_util_cont(priv, &cont)) {
			bn_wr(priv, BN_REG_UTIL_CONT, cont);
			atomic64_inc(&priv->util_cont_writes);
		}
		bn_wr(priv, BN_REG_UTIL, cpu | (u32)irqp << BN_UTIL_IRQ_SHIFT);
		WRITE_ONCE(priv->util_cpu, cpu);
		WRITE_ONCE(priv->util_irq, irqp);
		atomic64_inc(&priv->util_writes);
	}
	priv->util_prev_total = total;
	priv->util_prev_busy = busy;
	priv->util_prev_irq = irq;
	priv->util_valid = true;

	schedule_delayed_work(&priv->util_work,
			      msecs_to_jiffies(priv->util_period));
}

/**
 * bn_util_start() - start the reporter at the device's interval (16.6)
 * @priv: device, being brought up
 *
 * The interval is the device's (UTIL_CFG bits 31:16): reporting more
 * slowly would let an `auto` device fall back to its own figures between
 * two writes, more quickly would only cost exits.  An interval below one
 * jiffy is rounded up to one.  The first run only takes the baseline
 * sample; the first UTIL write follows one interval later.
 *
 * Context: RTNL held.
 */
static void bn_util_start(struct bn_priv *priv)
{
	priv->util_period = BN_UTIL_CFG_INTERVAL(bn_rd(priv, BN_REG_UTIL_CFG));
	priv->util_valid = false;
	if (priv->util_period)
		schedule_delayed_work(&priv->util_work, 0);
}

/* Context: RTNL held; the work item does not take it. */
static void bn_util_stop(struct bn_priv *priv)
{
	cancel_delayed_work_sync(&priv->util_work);
}

/* ---------------------------------------------------------------------- */
/* devlink                                                                 */

enum bn_devlink_param_id {
	BN_DEVLINK_PARAM_ID_BASE = DEVLINK_PARAM_GENERIC_ID_MAX,
	BN_DEVLINK_PARAM_ID_CPU_PRESSURE,
	BN_DEVLINK_PARAM_ID_RUNNABLE_TASKS,
};

static struct bn_cont_figure *bn_devlink_figure(struct devlink *devlink,
						u32 id)
{
	struct bn_devlink *dl = devlink_priv(devlink);

	if (id == BN_DEVLINK_PARAM_ID_CPU_PRESSURE)
		return &dl->priv->cont_psi;
	return &dl->priv->cont_runnable;
}

static int bn_devlink_cont_get(struct devlink *devlink, u32 id,
			       struct devlink_param_gset_ctx *ctx)
{
	ctx->val.vu16 = READ_ONCE(bn_devlink_figure(devlink, id)->value);
	return 0;
}

/* The devlink core calls the validate callback before this one. */
static int bn_devlink_cont_do_set(struct devlink *devlink, u32 id,
				  struct devlink_param_gset_ctx *ctx)
{
	struct bn_cont_figure *f = bn_devlink_figure(devlink, id);

	WRITE_ONCE(f->value, ctx->val.vu16);
	WRITE_ONCE(f->set_at, jiffies);
	WRITE_ONCE(f->set, true);
	return 0;
}

/*
 * The set callback gained an extack argument in Linux 6.10; Kbuild
 * defines BN_DEVLINK_SET_EXTACK for such trees.
 */
#ifdef BN_DEVLINK_SET_EXTACK
static int bn_devlink_cont_set(struct devlink *devlink, u32 id,
			       struct devlink_param_gset_ctx *ctx,
			       struct netlink_ext_ack *extack)
{
	return bn_devlink_cont_do_set(devlink, id, ctx);
}
#else
static int bn_devlink_cont_set(struct devlink *devlink, u32 id,
			       struct devlink_param_gset_ctx *ctx)
{
	return bn_devlink_cont_do_set(devlink, id, ctx);
}
#endif

static int bn_devlink_psi_validate(struct devlink *devlink, u32 id,
				   union devlink_param_value val,
				   struct netlink_ext_ack *extack)
{
	if (val.vu16 > BN_UTIL_CONT_PSI_MAX) {
		NL_SET_ERR_MSG_MOD(extack,
				   "cpu_pressure is a permille: 0 to 1000");
		return -ERANGE;
	}
	return 0;
}

static int bn_devlink_runnable_validate(struct devlink *devlink, u32 id,
					union devlink_param_value val,
					struct netlink_ext_ack *extack)
{
	if (val.vu16 > BN_UTIL_CONT_RUN_MAX) {
		NL_SET_ERR_MSG_MOD(extack,
				   "runnable_tasks is 0 to 1023 (saturate larger counts)");
		return -ERANGE;
	}
	return 0;
}

static const struct devlink_param bn_devlink_params[] = {
	DEVLINK_PARAM_DRIVER(BN_DEVLINK_PARAM_ID_CPU_PRESSURE, "cpu_pressure",
			     DEVLINK_PARAM_TYPE_U16,
			     BIT(DEVLINK_PARAM_CMODE_RUNTIME),
			     bn_devlink_cont_get, bn_devlink_cont_set,
			     bn_devlink_psi_validate),
	DEVLINK_PARAM_DRIVER(BN_DEVLINK_PARAM_ID_RUNNABLE_TASKS,
			     "runnable_tasks", DEVLINK_PARAM_TYPE_U16,
			     BIT(DEVLINK_PARAM_CMODE_RUNTIME),
			     bn_devlink_cont_get, bn_devlink_cont_set,
			     bn_devlink_runnable_validate),
};

/* devlink dev info: the datasheet revision (VERSION) as asic.rev. */
static int bn_devlink_info_get(struct devlink *devlink,
			       struct devlink_info_req *req,
			       struct netlink_ext_ack *extack)
{
	struct bn_devlink *dl = devlink_priv(devlink);
	u32 version = dl->priv->version;
	char rev[16];

	snprintf(rev, sizeof(rev), "%u.%u", BN_VERSION_MAJOR(version),
		 BN_VERSION_MINOR(version));
	return devlink_info_version_fixed_put(req,
			DEVLINK_INFO_VERSION_GENERIC_ASIC_REV, rev);
}

static const struct devlink_ops bn_devlink_ops = {
	.info_get	= bn_devlink_info_get,
};

/**
 * bn_devlink_alloc() - the PCI function's devlink instance and parameters
 * @priv: device
 *
 * The parameters are registered before the instance is: Linux 6.1 refuses
 * them on a registered instance, later kernels accept either order.  The
 * instance itself is registered last in probe (devlink_register()), once
 * everything it exposes works.
 *
 * Return: 0 or a negative errno.
 */
static int bn_devlink_alloc(struct bn_priv *priv)
{
	struct devlink *devlink;
	struct bn_devlink *dl;
	int err;

	devlink = devlink_alloc(&bn_devlink_ops, sizeof(*dl), &priv->pdev->dev);
	if (!devlink)
		return -ENOMEM;
	dl = devlink_priv(devlink);
	dl->priv = priv;
	err = devlink_params_register(devlink, bn_devlink_params,
				      ARRAY_SIZE(bn_devlink_params));
	if (err) {
		devlink_free(devlink);
		return err;
	}
	priv->devlink = devlink;
	return 0;
}

/* The reverse of bn_devlink_alloc(), on an unregistered instance. */
static void bn_devlink_free(struct bn_priv *priv)
{
	devlink_params_unregister(priv->devlink, bn_devlink_params,
				  ARRAY_SIZE(bn_devlink_params));
	devlink_free(priv->devlink);
}

/* ---------------------------------------------------------------------- */
/* Bring-up and tear-down                                                  */

static void bn_write_mac(struct bn_priv *priv, const u8 *a)
{
	bn_wr(priv, BN_REG_MAC_LO,
	      a[0] | a[1] << 8 | a[2] << 16 | (u32)a[3] << 24);
	bn_wr(priv, BN_REG_MAC_HI, a[4] | a[5] << 8);
}

static void bn_set_rx_mode(struct net_device *dev)
{
	struct bn_priv *priv = netdev_priv(dev);
	u32 mta[BN_MTA_WORDS] = { };
	struct netdev_hw_addr *ha;
	unsigned int n;
	u32 flags = 0;

	if (dev->flags & IFF_PROMISC)
		flags |= BN_CTRL_PROMISC;
	if (dev->flags & IFF_ALLMULTI) {
		flags |= BN_CTRL_ALLMULTI;
	} else {
		/* 6.3: h = bits 31:24 of zlib's crc32 of the address */
		netdev_for_each_mc_addr(ha, dev) {
			u32 h = ~ether_crc_le(ETH_ALEN, ha->addr) >> 24;

			mta[h / 32] |= BIT(h % 32);
		}
	}
	for (n = 0; n < BN_MTA_WORDS; n++)
		bn_wr(priv, BN_REG_MTA(n), mta[n]);
	bn_ctrl_write(priv, 0, 0, flags, BN_CTRL_PROMISC | BN_CTRL_ALLMULTI);
}

/**
 * bn_rx_nobuf_mark() - note RX_NOBUF as RXEN is cleared or set
 * @priv: device
 * @off: RXEN was just cleared (else it is about to be set)
 *
 * While RXEN is clear the device counts every frame from the lane in
 * RX_NOBUF (6.2).  Those are frames nobody asked for, not frames the
 * driver missed: rx_missed_errors leaves them out.
 */
static void bn_rx_nobuf_mark(struct bn_priv *priv, bool off)
{
	unsigned long flags;
	u64 v;

	spin_lock_irqsave(&priv->hw_lock, flags);
	v = bn_hw_stat_locked(priv, BN_STAT_RX_NOBUF);
	if (off)
		priv->rx_nobuf_down = v;
	else
		priv->rx_nobuf_idle += v - priv->rx_nobuf_down;
	priv->rx_off = off;
	spin_unlock_irqrestore(&priv->hw_lock, flags);
}

/**
 * bn_start() - request IRQs and start the device on its rings (16.1 4-11)
 * @priv: device, after CTRL.RST or with its rings disabled, with
 *	@priv->rings allocated
 *
 * Context: process context, RTNL held.
 * Return: 0 or a negative errno (the rings are left to the caller).
 */
static int bn_start(struct bn_priv *priv)
{
	struct net_device *dev = priv->netdev;
	u32 ier = BN_INT_ALL;
	int err;

	err = bn_request_irqs(priv);
	if (err)
		return err;

	priv->tx_next = 0;
	priv->tx_clean = 0;
	priv->tx_unkicked = false;
	priv->rx_clean = 0;

	bn_write_mac(priv, dev->dev_addr);
	netif_addr_lock_bh(dev);
	bn_set_rx_mode(dev);
	netif_addr_unlock_bh(dev);

	bn_wr(priv, BN_REG_TX_BASE_LO, lower_32_bits(priv->rings.tx_ring_dma));
	bn_wr(priv, BN_REG_TX_BASE_HI, upper_32_bits(priv->rings.tx_ring_dma));
	bn_wr(priv, BN_REG_TX_SIZE, priv->rings.tx_size);
	bn_wr(priv, BN_REG_RX_BASE_LO, lower_32_bits(priv->rings.rx_ring_dma));
	bn_wr(priv, BN_REG_RX_BASE_HI, upper_32_bits(priv->rings.rx_ring_dma));
	bn_wr(priv, BN_REG_RX_SIZE, priv->rings.rx_size);

	bn_wr(priv, BN_REG_ITR_RX, priv->itr_rx);
	bn_wr(priv, BN_REG_ITR_TX, priv->itr_tx);
	/*
	 * A lane full of bad code groups raises PCS_ERR as fast as frames
	 * arrive: moderate the misc vector (LSC waits at most as long).
	 * INTx has no moderation (7.3): PCS_ERR stays masked there; the PCS
	 * counters are in ethtool -S either way.
	 */
	bn_wr(priv, BN_REG_ITR_MISC, BN_ITR_MISC_US);
	if (!priv->msix)
		ier &= ~BN_INT_PCS_ERR;

	netdev_reset_queue(dev);
	napi_enable(&priv->napi);

	/* Clear stale causes first, so that enabling raises only news. */
	bn_wr(priv, BN_REG_ICR, BN_INT_ALL);
	bn_ier_update(priv, ier, 0);

	bn_rx_nobuf_mark(priv, false);
	bn_ctrl_write(priv, BN_CTRL_TXEN | BN_CTRL_RXEN |
		      (dev->features & NETIF_F_RXCSUM ? BN_CTRL_RXCSUM : 0) |
		      (priv->automask ? BN_CTRL_AUTOMASK : 0),
		      BN_CTRL_TXEN | BN_CTRL_RXEN | BN_CTRL_RXCSUM |
		      BN_CTRL_AUTOMASK, 0, 0);
	/* 16.1 step 10: the RX descriptors were written before this. */
	wmb();
	writel_relaxed(priv->rings.rx_size - 1, priv->regs + BN_REG_RX_TAIL);

	WRITE_ONCE(priv->up, true);
	bn_update_carrier(priv);
	netif_start_queue(dev);
	bn_util_start(priv);
	return 0;
}

/**
 * bn_up() - allocate rings and start the device
 * @priv: device, after CTRL.RST or with its rings disabled
 *
 * Context: process context, RTNL held.
 * Return: 0 or a negative errno (nothing left allocated).
 */
static int bn_up(struct bn_priv *priv)
{
	int err;

	priv->rings.rx_buf_len = priv->netdev->mtu + BN_RX_BUF_EXTRA;
	err = bn_rings_alloc(priv, &priv->rings);
	if (err)
		return err;
	err = bn_start(priv);
	if (err)
		bn_rings_free(priv, &priv->rings);
	return err;
}

/**
 * bn_quiesce() - stop the device and release what bn_start() took
 * @priv: device, up
 *
 * NAPI goes first: once napi_disable() returns no poll runs, so nothing
 * can wake the TX queue (bn_clean_tx() also checks @priv->up) after
 * netif_tx_disable() has stopped it and waited for bn_start_xmit().  The
 * rings stay allocated, and are the driver's again (4.1: clearing
 * TXEN/RXEN sets HEAD = TAIL = 0, so by 5.1 every descriptor is).
 *
 * Context: process context, RTNL held.
 */
static void bn_quiesce(struct bn_priv *priv)
{
	struct net_device *dev = priv->netdev;

	WRITE_ONCE(priv->up, false);
	bn_util_stop(priv);
	napi_disable(&priv->napi);
	netif_tx_disable(dev);
	bn_ier_update(priv, 0, BN_INT_ALL);
	bn_ctrl_write(priv, 0, BN_CTRL_TXEN | BN_CTRL_RXEN, 0, 0);
	bn_rd(priv, BN_REG_STATUS);	/* flush posted writes */
	bn_rx_nobuf_mark(priv, true);
	bn_free_irqs(priv);
	netif_carrier_off(dev);
}

/**
 * bn_down() - stop the device and free its rings
 * @priv: device
 *
 * Context: process context, RTNL held.
 */
static void bn_down(struct bn_priv *priv)
{
	if (!priv->up)
		return;
	bn_quiesce(priv);
	bn_rings_free(priv, &priv->rings);
}

static int bn_open(struct net_device *dev)
{
	struct bn_priv *priv = netdev_priv(dev);

	netif_carrier_off(dev);
	return bn_up(priv);
}

static int bn_stop(struct net_device *dev)
{
	bn_down(netdev_priv(dev));
	return 0;
}

/**
 * bn_restart() - move a running device to new rings
 * @priv: device, up
 * @mtu: MTU for the new RX buffers
 * @tx_size: new TX ring size
 * @rx_size: new RX ring size
 * @reset: write CTRL.RST between stopping and starting (16.5)
 *
 * The new rings and all their RX buffers are allocated first, with the
 * device still running on the old ones: if memory is short, nothing
 * changes.  Frames pending in the old TX ring are dropped.
 *
 * Context: process context, RTNL held.
 * Return: 0; -ENOMEM with the device still running as before; or another
 * negative errno with the device stopped (@priv->up false).
 */
static int bn_restart(struct bn_priv *priv, unsigned int mtu, u32 tx_size,
		      u32 rx_size, bool reset)
{
	struct net_device *dev = priv->netdev;
	struct bn_rings r = {
		.tx_size = tx_size,
		.rx_size = rx_size,
		.rx_buf_len = mtu + BN_RX_BUF_EXTRA,
	};
	int err;

	err = bn_rings_alloc(priv, &r);
	if (err) {
		netdev_err(dev, "no memory for rings of %u/%u at MTU %u: keeping the current ones\n",
			   tx_size, rx_size, mtu);
		return err;
	}
	bn_quiesce(priv);
	if (reset) {
		bn_hw_reset(priv, true);
		atomic64_inc(&priv->resets);
	}
	swap(priv->rings, r);
	bn_rings_free(priv, &r);
	WRITE_ONCE(dev->mtu, mtu);
	err = bn_start(priv);
	if (err) {
		bn_rings_free(priv, &priv->rings);
		netdev_err(dev, "cannot restart (%d): bring the interface down and up\n",
			   err);
	}
	return err;
}

/**
 * bn_reconfigure() - apply a new MTU or new ring sizes
 * @priv: device
 * @mtu: new MTU
 * @tx_size: new TX ring size
 * @rx_size: new RX ring size
 *
 * On a running device, through bn_restart(): if the new rings cannot be
 * had, the old ones keep running and the settings do not change.
 *
 * Context: RTNL held.
 * Return: 0 or a negative errno.
 */
static int bn_reconfigure(struct bn_priv *priv, unsigned int mtu,
			  u32 tx_size, u32 rx_size)
{
	struct net_device *dev = priv->netdev;

	if (netif_running(dev) && priv->up)
		return bn_restart(priv, mtu, tx_size, rx_size, false);
	WRITE_ONCE(dev->mtu, mtu);
	priv->rings.tx_size = tx_size;
	priv->rings.rx_size = rx_size;
	return 0;
}

static int bn_change_mtu(struct net_device *dev, int new_mtu)
{
	struct bn_priv *priv = netdev_priv(dev);

	/* min_mtu/max_mtu are checked by the core. */
	return bn_reconfigure(priv, new_mtu, priv->rings.tx_size,
			      priv->rings.rx_size);
}

static int bn_set_mac_address(struct net_device *dev, void *p)
{
	struct bn_priv *priv = netdev_priv(dev);
	int err;

	err = eth_prepare_mac_addr_change(dev, p);
	if (err)
		return err;
	eth_commit_mac_addr_change(dev, p);
	if (priv->up)
		bn_write_mac(priv, dev->dev_addr);
	return 0;
}

/* Ring the TX doorbell for everything queued so far (TX queue lock). */
static void bn_tx_kick(struct bn_priv *priv)
{
	/*
	 * 5.1: descriptors before TAIL.  writel() orders the descriptor
	 * writes of this call and, through the queue lock, of earlier calls
	 * of the batch on other CPUs.
	 */
	writel(priv->tx_next, priv->regs + BN_REG_TX_TAIL);
	priv->tx_unkicked = false;
}

/**
 * bn_tx_maybe_stop() - stop the TX queue when a frame may not fit
 * @priv: device
 * @txq: its TX queue
 *
 * The stop, a full barrier, then a second look at the ring: either this
 * sees the room a concurrent bn_clean_tx() made, or bn_clean_tx() sees
 * the stop and wakes the queue once bn_tx_wake_thresh() descriptors are
 * free.  If the second look finds that much room already, the queue goes
 * on.
 *
 * Return: 0 if a frame fits now, -EBUSY if not (the queue is stopped).
 */
static int bn_tx_maybe_stop(struct bn_priv *priv, struct netdev_queue *txq)
{
	u32 need = bn_tx_frame_descs(priv);

	if (likely(bn_tx_free(priv) >= need))
		return 0;
	netif_tx_stop_queue(txq);
	/* The stop before tx_clean: pairs with bn_clean_tx(). */
	smp_mb();
	if (bn_tx_free(priv) < bn_tx_wake_thresh(priv))
		return bn_tx_free(priv) >= need ? 0 : -EBUSY;
	netif_tx_start_queue(txq);
	return 0;
}

/*
 * 6.1.1: the device sums from CSUM_START (past the Ethernet header) and
 * stores the result inside the frame.
 */
static bool bn_csum_fits(const struct sk_buff *skb)
{
	int start = skb_checksum_start_offset(skb);

	return start >= ETH_HLEN && start <= U16_MAX &&
	       start + skb->csum_offset + sizeof(__sum16) <= skb->len;
}

/*
 * Write the context descriptor that asks for @skb's checksum at @i, and
 * for cutting it at its MSS if it is a large TCP segment (6.1.2).
 */
static void bn_tx_csum_ctx(struct bn_priv *priv, u32 i,
			   const struct sk_buff *skb)
{
	struct bn_ctx_desc *ctx = (struct bn_ctx_desc *)&priv->rings.tx_ring[i];
	u16 flags = BN_DESC_FLAG_CTX | BN_DESC_FLAG_CSUM;
	struct bn_buf *buf = &priv->rings.tx_buf[i];
	u16 mss = 0, hdr_len = 0;

	if (skb_is_gso(skb)) {
		flags |= BN_DESC_FLAG_TSO;
		mss = skb_shinfo(skb)->gso_size;
		hdr_len = skb_tcp_all_headers(skb);
	}
	buf->skb = NULL;
	buf->len = 0;
	buf->page = false;
	ctx->csum_start = cpu_to_le16(skb_checksum_start_offset(skb));
	ctx->csum_offset = cpu_to_le16(skb->csum_offset);
	ctx->mss = cpu_to_le16(mss);
	ctx->hdr_len = cpu_to_le16(hdr_len);
	ctx->buf_len = 0;
	ctx->flags = cpu_to_le16(flags);
	ctx->len = 0;
	WRITE_ONCE(ctx->status, 0);
}

/* Give the device buffer @i: @dma, @len octets, EOP if @eop. */
static void bn_tx_buf(struct bn_priv *priv, u32 i, dma_addr_t dma, u32 len,
		      bool page, bool eop)
{
	struct bn_desc *desc = &priv->rings.tx_ring[i];
	struct bn_buf *buf = &priv->rings.tx_buf[i];

	buf->skb = NULL;
	buf->dma = dma;
	buf->len = len;
	buf->page = page;
	desc->addr = cpu_to_le64(dma);
	desc->buf_len = cpu_to_le16(len);
	desc->flags = cpu_to_le16(eop ? BN_DESC_FLAG_EOP : 0);
	desc->len = 0;
	WRITE_ONCE(desc->status, 0);
}

/*
 * Map @skb's head and fragments into descriptors from @i on (6.1 step
 * 1); the index of the last, or -ENOMEM with nothing left mapped.
 */
static int bn_tx_map(struct bn_priv *priv, struct sk_buff *skb, u32 i)
{
	unsigned int nfrags = skb_shinfo(skb)->nr_frags, f;
	struct device *dmadev = &priv->pdev->dev;
	u32 mask = priv->rings.tx_size - 1;
	dma_addr_t dma;
	u32 first = i;

	dma = dma_map_single(dmadev, skb->data, skb_headlen(skb),
			     DMA_TO_DEVICE);
	if (dma_mapping_error(dmadev, dma))
		return -ENOMEM;
	bn_tx_buf(priv, i, dma, skb_headlen(skb), false, !nfrags);
	for (f = 0; f < nfrags; f++) {
		const skb_frag_t *frag = &skb_shinfo(skb)->frags[f];

		dma = skb_frag_dma_map(dmadev, frag, 0, skb_frag_size(frag),
				       DMA_TO_DEVICE);
		if (dma_mapping_error(dmadev, dma))
			goto unmap;
		i = (i + 1) & mask;
		bn_tx_buf(priv, i, dma, skb_frag_size(frag), true,
			  f == nfrags - 1);
	}
	return i;

unmap:
	for (;;) {
		bn_unmap(dmadev, &priv->rings.tx_buf[first], DMA_TO_DEVICE);
		if (first == i)
			return -ENOMEM;
		first = (first + 1) & mask;
	}
}

static netdev_tx_t bn_start_xmit(struct sk_buff *skb, struct net_device *dev)
{
	struct netdev_queue *txq = netdev_get_tx_queue(dev, 0);
	struct bn_priv *priv = netdev_priv(dev);
	unsigned int len, descs;
	int last;
	u32 i;

	if (unlikely(skb->len < BN_FRAME_MIN ||
		     skb->len > (skb_is_gso(skb) ? BN_TSO_FRAME_MAX :
						   BN_FRAME_MAX)))
		goto drop;
	/* More pieces than a frame may take descriptors: one piece. */
	descs = 2 + skb_shinfo(skb)->nr_frags;
	if (unlikely(descs > bn_tx_frame_descs(priv) && skb_linearize(skb)))
		goto drop;
	/* A checksum the device could not place (6.1.1): do it here. */
	if (skb->ip_summed == CHECKSUM_PARTIAL && !bn_csum_fits(skb) &&
	    skb_checksum_help(skb))
		goto drop;

	/*
	 * Not reached while the queue is stopped in time (below); should
	 * it be, hand the frame back, and give the device what the batch
	 * queued before it.
	 */
	if (unlikely(bn_tx_maybe_stop(priv, txq))) {
		if (priv->tx_unkicked)
			bn_tx_kick(priv);
		return NETDEV_TX_BUSY;
	}

	len = skb->len;
	i = priv->tx_next;
	if (skb->ip_summed == CHECKSUM_PARTIAL) {
		bn_tx_csum_ctx(priv, i, skb);
		i = (i + 1) & (priv->rings.tx_size - 1);
	}
	last = bn_tx_map(priv, skb, i);
	if (unlikely(last < 0)) {
		u64_stats_update_begin(&priv->xstats.syncp);
		priv->xstats.tx_map_errors++;
		u64_stats_update_end(&priv->xstats.syncp);
		goto drop;
	}
	priv->rings.tx_buf[last].skb = skb;

	skb_tx_timestamp(skb);

	/* Descriptors before producer index (for bn_clean_tx). */
	wmb();
	WRITE_ONCE(priv->tx_next, (last + 1) & (priv->rings.tx_size - 1));
	priv->tx_unkicked = true;

	/* Room for the next frame, or stop now. */
	bn_tx_maybe_stop(priv, txq);

	if (__netdev_tx_sent_queue(txq, len, netdev_xmit_more()) ||
	    netif_xmit_stopped(txq))
		bn_tx_kick(priv);
	return NETDEV_TX_OK;

drop:
	dev_kfree_skb_any(skb);
	u64_stats_update_begin(&priv->xstats.syncp);
	priv->xstats.tx_dropped++;
	u64_stats_update_end(&priv->xstats.syncp);
	/* The last frame of a batch dropped: the ones before it still go. */
	if (priv->tx_unkicked &&
	    (!netdev_xmit_more() || netif_xmit_stopped(txq)))
		bn_tx_kick(priv);
	return NETDEV_TX_OK;
}

/**
 * bn_tx_timeout() - the TX queue has been stopped for BN_TX_TIMEOUT
 * @dev: network device
 * @txqueue: the queue (there is one)
 *
 * Resets only when the device says the TX ring halted (STATUS.TX_HALT,
 * 6.4; DMA_ERR normally got there first).  Otherwise the ring is waiting
 * for the lane (6.1 step 6: a far end that does not read, a paused
 * chassis): back-pressure, which a reset would not cure.  That is
 * counted in tx_timeouts and left alone; NAPI is scheduled in case a
 * completion interrupt went missing.
 */
static void bn_tx_timeout(struct net_device *dev, unsigned int txqueue)
{
	struct bn_priv *priv = netdev_priv(dev);
	u32 status = bn_rd(priv, BN_REG_STATUS);

	atomic64_inc(&priv->tx_timeouts);
	if (status & BN_STATUS_TX_HALT) {
		netdev_warn(dev,
			    "TX timeout, ring halted: head %u tail %u next %u clean %u status %#x: resetting\n",
			    bn_rd(priv, BN_REG_TX_HEAD),
			    bn_rd(priv, BN_REG_TX_TAIL), priv->tx_next,
			    priv->tx_clean, status);
		schedule_work(&priv->reset_work);
		return;
	}
	if (net_ratelimit())
		netdev_info(dev,
			    "TX stalled, ring not halted (the lane is not taking frames): head %u tail %u next %u clean %u status %#x: waiting\n",
			    bn_rd(priv, BN_REG_TX_HEAD),
			    bn_rd(priv, BN_REG_TX_TAIL), priv->tx_next,
			    priv->tx_clean, status);
	napi_schedule(&priv->napi);
}

/**
 * bn_reset_task() - full reset and re-initialisation (16.5)
 * @work: &bn_priv.reset_work
 *
 * Scheduled by a DMA error or a TX timeout on a halted ring.  The netdev
 * is detached meanwhile (no transmit, no ethtool).  New rings are
 * allocated first; then CTRL.RST and bring-up from step 4 (MSI-X settings
 * survive CTRL.RST).  Frames pending in the TX ring are dropped.  If the
 * device cannot be brought back, the interface is closed.
 */
static void bn_reset_task(struct work_struct *work)
{
	struct bn_priv *priv = container_of(work, struct bn_priv, reset_work);
	struct net_device *dev = priv->netdev;
	int err;

	rtnl_lock();
	if (!netif_running(dev) || !priv->up)
		goto out;

	netif_device_detach(dev);
	err = bn_restart(priv, dev->mtu, priv->rings.tx_size,
			 priv->rings.rx_size, true);
	if (err) {
		netdev_err(dev, "re-initialisation after reset failed: %d\n",
			   err);
		dev_close(dev);
	}
	netif_device_attach(dev);
out:
	rtnl_unlock();
}

/*
 * 6.1.2: what the device cannot cut is cut by the stack: an MSS below 64,
 * IPv6 extension headers.
 */
static netdev_features_t bn_features_check(struct sk_buff *skb,
					   struct net_device *dev,
					   netdev_features_t features)
{
	if (skb_is_gso(skb) &&
	    (skb_shinfo(skb)->gso_size < BN_TSO_MIN_MSS ||
	     (skb->protocol == htons(ETH_P_IPV6) &&
	      ipv6_hdr(skb)->nexthdr != IPPROTO_TCP)))
		features &= ~NETIF_F_GSO_MASK;
	return features;
}

/* 6.2.1: CTRL.RXCSUM follows NETIF_F_RXCSUM; TX needs no register. */
static int bn_set_features(struct net_device *dev, netdev_features_t features)
{
	struct bn_priv *priv = netdev_priv(dev);

	if (((dev->features ^ features) & NETIF_F_RXCSUM) && priv->up)
		bn_ctrl_write(priv,
			      features & NETIF_F_RXCSUM ? BN_CTRL_RXCSUM : 0,
			      BN_CTRL_RXCSUM, 0, 0);
	return 0;
}

static const struct net_device_ops bn_netdev_ops = {
	.ndo_open		= bn_open,
	.ndo_stop		= bn_stop,
	.ndo_start_xmit		= bn_start_xmit,
	.ndo_get_stats64	= bn_get_stats64,
	.ndo_set_rx_mode	= bn_set_rx_mode,
	.ndo_set_mac_address	= bn_set_mac_address,
	.ndo_validate_addr	= eth_validate_addr,
	.ndo_change_mtu		= bn_change_mtu,
	.ndo_tx_timeout		= bn_tx_timeout,
	.ndo_set_features	= bn_set_features,
	.ndo_features_check	= bn_features_check,
};

/* ---------------------------------------------------------------------- */
/* ethtool                                                                 */

/*
 * The device's counters that have no standard uAPI
 * (Documentation/networking/statistics.rst): frames, octets, FCS errors,
 * broadcasts and multicasts received are in the eth-mac group, code
 * errors in eth-phy (bn_get_eth_mac_stats(), bn_get_eth_phy_stats()),
 * TX_NOLINK, TX_ERRORS, RX_NOBUF and RX_LEN_ERRORS in rtnl_link_stats64
 * (bn_get_stats64()).
 */
static const struct {
	u8 stat;
	char name[ETH_GSTRING_LEN];
} bn_hw_stat_strings[] = {
	{ BN_STAT_RX_FILTERED, "hw_rx_filtered" },
	{ BN_STAT_DMA_ERRORS, "hw_dma_errors" },
	{ BN_STAT_PCS_SYNC_LOSSES, "hw_pcs_sync_losses" },
	{ BN_STAT_LINK_CHANGES, "hw_link_changes" },
	{ BN_STAT_UTIL_SETS_TX, "hw_util_sets_tx" },
	{ BN_STAT_UTIL_SETS_RX, "hw_util_sets_rx" },
	{ BN_STAT_IRQ_RX, "hw_irq_rx" },
	{ BN_STAT_IRQ_TX, "hw_irq_tx" },
	{ BN_STAT_IRQ_MISC, "hw_irq_misc" },
	{ BN_STAT_REG_ERRORS, "hw_reg_errors" },
	{ BN_STAT_TX_CG_INJECTED, "hw_tx_cg_injected" },
	{ BN_STAT_SHM_ERRORS, "hw_shm_errors" },
	{ BN_STAT_SHM_KICKS, "hw_shm_kicks" },
	{ BN_STAT_TX_CSUM, "hw_tx_csum" },
	{ BN_STAT_TX_CTX_ERRORS, "hw_tx_ctx_errors" },
	{ BN_STAT_RX_CSUM_GOOD, "hw_rx_csum_good" },
	{ BN_STAT_RX_CSUM_BAD, "hw_rx_csum_bad" },
	{ BN_STAT_TX_TSO, "hw_tx_tso" },
};

static const char bn_util_stat_names[][ETH_GSTRING_LEN] = {
	"util_cpu_pct", "util_irq_pct", "util_writes",
	"util_tx_cpu_pct", "util_tx_irq_pct", "util_tx_host", "util_tx_valid",
	"util_host_cpu_pct", "util_cfg_source", "util_cfg_interval_ms",
	"peer_util_cpu_pct", "peer_util_irq_pct", "peer_util_valid",
	"util_cont_writes", "util_cont_tx_pressure", "util_cont_tx_runnable",
	"util_cont_tx_host", "util_cont_tx_valid",
};

/*
 * Not those in rtnl_link_stats64 (bn_get_stats64()): packets, bytes,
 * drops, and errors (tx_errors less tx_carrier_errors is the malformed
 * frames).
 */
static const char bn_sw_stat_names[][ETH_GSTRING_LEN] = {
	"tx_dma_map_errors", "tx_timeouts", "resets",
	"irq_lsc", "irq_dma_err", "irq_pcs_err", "irq_sw",
};

#define BN_NUM_HW_STRINGS	ARRAY_SIZE(bn_hw_stat_strings)
#define BN_NUM_UTIL_STATS	ARRAY_SIZE(bn_util_stat_names)
#define BN_NUM_SW_STATS		ARRAY_SIZE(bn_sw_stat_names)
#define BN_NUM_STATS		(BN_NUM_HW_STRINGS + BN_NUM_UTIL_STATS + \
				 BN_NUM_SW_STATS)

static const char bn_test_names[][ETH_GSTRING_LEN] = {
	"register test (online)", "link test (online)",
};

#define BN_NUM_TESTS		ARRAY_SIZE(bn_test_names)

static int bn_get_sset_count(struct net_device *dev, int sset)
{
	switch (sset) {
	case ETH_SS_STATS:
		return BN_NUM_STATS;
	case ETH_SS_TEST:
		return BN_NUM_TESTS;
	default:
		return -EOPNOTSUPP;
	}
}

static void bn_get_strings(struct net_device *dev, u32 sset, u8 *data)
{
	unsigned int i;

	if (sset == ETH_SS_TEST) {
		memcpy(data, bn_test_names, sizeof(bn_test_names));
		return;
	}
	if (sset != ETH_SS_STATS)
		return;
	for (i = 0; i < BN_NUM_HW_STRINGS; i++) {
		memcpy(data, bn_hw_stat_strings[i].name, ETH_GSTRING_LEN);
		data += ETH_GSTRING_LEN;
	}
	memcpy(data, bn_util_stat_names, sizeof(bn_util_stat_names));
	data += sizeof(bn_util_stat_names);
	memcpy(data, bn_sw_stat_names, sizeof(bn_sw_stat_names));
}

static void bn_get_ethtool_stats(struct net_device *dev,
				 struct ethtool_stats *stats, u64 *data)
{
	u32 util_tx, util_host, util_cfg, peer, cont_tx = 0;
	struct bn_priv *priv = netdev_priv(dev);
	const struct bn_xmit_stats *xs;
	u64 hw[BN_NUM_HW_STATS];
	unsigned int start, i;
	u64 *p = data;

	xs = &priv->xstats;
	bn_hw_stats_read(priv, hw);
	for (i = 0; i < BN_NUM_HW_STRINGS; i++)
		*p++ = hw[bn_hw_stat_strings[i].stat];

	util_tx = bn_rd(priv, BN_REG_UTIL_TX);
	util_host = bn_rd(priv, BN_REG_UTIL_HOST);
	util_cfg = bn_rd(priv, BN_REG_UTIL_CFG);
	peer = bn_rd(priv, BN_REG_PEER_UTIL);
	if (priv->has_cont)
		cont_tx = bn_rd(priv, BN_REG_UTIL_CONT_TX);
	*p++ = READ_ONCE(priv->util_cpu);
	*p++ = READ_ONCE(priv->util_irq);
	*p++ = atomic64_read(&priv->util_writes);
	*p++ = util_tx & BN_UTIL_CPU_MASK;
	*p++ = (util_tx & BN_UTIL_IRQ_MASK) >> BN_UTIL_IRQ_SHIFT;
	*p++ = !!(util_tx & BN_UTIL_TX_HOST);
	*p++ = !!(util_tx & BN_UTIL_VALID);
	*p++ = util_host & BN_UTIL_CPU_MASK;
	*p++ = BN_UTIL_CFG_SOURCE(util_cfg);
	*p++ = BN_UTIL_CFG_INTERVAL(util_cfg);
	*p++ = peer & BN_UTIL_CPU_MASK;
	*p++ = (peer & BN_UTIL_IRQ_MASK) >> BN_UTIL_IRQ_SHIFT;
	*p++ = !!(peer & BN_UTIL_VALID);
	*p++ = atomic64_read(&priv->util_cont_writes);
	*p++ = FIELD_GET(BN_UTIL_CONT_PSI_MASK, cont_tx);
	*p++ = FIELD_GET(BN_UTIL_CONT_RUN_MASK, cont_tx);
	*p++ = !!(cont_tx & BN_UTIL_CONT_TX_HOST);
	*p++ = !!(cont_tx & BN_UTIL_CONT_TX_VALID);

	do {
		start = u64_stats_fetch_begin(&xs->syncp);
		p[0] = xs->tx_map_errors;
	} while (u64_stats_fetch_retry(&xs->syncp, start));
	p[1] = atomic64_read(&priv->tx_timeouts);
	p[2] = atomic64_read(&priv->resets);
	p[3] = atomic64_read(&priv->irq_lsc);
	p[4] = atomic64_read(&priv->irq_dma_err);
	p[5] = atomic64_read(&priv->irq_pcs_err);
	p[6] = atomic64_read(&priv->irq_sw);
	BUILD_BUG_ON(BN_NUM_SW_STATS != 7);
}

/* 10.1: the device's buckets, frame lengths with FCS */
static const struct ethtool_rmon_hist_range bn_rmon_ranges[] = {
	{    0,   64 },
	{   65,  127 },
	{  128,  255 },
	{  256,  511 },
	{  512, 1023 },
	{ 1024, 1518 },
	{ 1519, 9022 },
	{}
};

/* RFC 2819 etherStatsPkts*Octets, both ways, from revision 1.3. */
static void bn_get_rmon_stats(struct net_device *dev,
			      struct ethtool_rmon_stats *rmon,
			      const struct ethtool_rmon_hist_range **ranges)
{
	struct bn_priv *priv = netdev_priv(dev);
	u64 hw[BN_NUM_HW_STATS];
	unsigned int i;

	if (priv->num_hw_stats < BN_NUM_HW_STATS)
		return;
	bn_hw_stats_read(priv, hw);
	for (i = 0; i < ARRAY_SIZE(bn_rmon_ranges) - 1; i++) {
		rmon->hist[i] = hw[BN_STAT_RX_HIST + i];
		rmon->hist_tx[i] = hw[BN_STAT_TX_HIST + i];
	}
	*ranges = bn_rmon_ranges;
}

/* IEEE 802.3 30.3.1.1 from the device's counters (datasheet 10). */
static void bn_get_eth_mac_stats(struct net_device *dev,
				 struct ethtool_eth_mac_stats *mac)
{
	struct bn_priv *priv = netdev_priv(dev);
	u64 hw[BN_NUM_HW_STATS];

	bn_hw_stats_read(priv, hw);
	mac->FramesTransmittedOK = hw[BN_STAT_TX_FRAMES];
	mac->OctetsTransmittedOK = hw[BN_STAT_TX_OCTETS];
	mac->FramesReceivedOK = hw[BN_STAT_RX_FRAMES];
	mac->OctetsReceivedOK = hw[BN_STAT_RX_OCTETS];
	mac->FrameCheckSequenceErrors = hw[BN_STAT_RX_FCS_ERRORS];
	mac->MulticastFramesReceivedOK = hw[BN_STAT_RX_MCAST];
	mac->BroadcastFramesReceivedOK = hw[BN_STAT_RX_BCAST];
}

/* 30.3.2.1.5: code groups received in error while in sync. */
static void bn_get_eth_phy_stats(struct net_device *dev,
				 struct ethtool_eth_phy_stats *phy)
{
	struct bn_priv *priv = netdev_priv(dev);
	u64 hw[BN_NUM_HW_STATS];

	bn_hw_stats_read(priv, hw);
	phy->SymbolErrorDuringCarrier = hw[BN_STAT_PCS_CODE_ERRORS];
}

static void bn_get_drvinfo(struct net_device *dev,
			   struct ethtool_drvinfo *info)
{
	struct bn_priv *priv = netdev_priv(dev);

	strscpy(info->driver, BN_DRV_NAME, sizeof(info->driver));
	strscpy(info->bus_info, pci_name(priv->pdev), sizeof(info->bus_info));
	/*
	 * The device runs no firmware: fw_version stays empty.  The
	 * datasheet revision is the hardware's, in devlink info (asic.rev).
	 */
}

static void bn_get_ringparam(struct net_device *dev,
			     struct ethtool_ringparam *ring,
			     struct kernel_ethtool_ringparam *kring,
			     struct netlink_ext_ack *extack)
{
	struct bn_priv *priv = netdev_priv(dev);

	ring->rx_max_pending = BN_RING_MAX;
	ring->tx_max_pending = BN_RING_MAX;
	ring->rx_pending = priv->rings.rx_size;
	ring->tx_pending = priv->rings.tx_size;
}

static int bn_set_ringparam(struct net_device *dev,
			    struct ethtool_ringparam *ring,
			    struct kernel_ethtool_ringparam *kring,
			    struct netlink_ext_ack *extack)
{
	struct bn_priv *priv = netdev_priv(dev);

	if (ring->rx_mini_pending || ring->rx_jumbo_pending)
		return -EINVAL;
	/* 4.3: a power of two from 8 to 4096 */
	if (ring->rx_pending < BN_RING_MIN || ring->tx_pending < BN_RING_MIN ||
	    !is_power_of_2(ring->rx_pending) ||
	    !is_power_of_2(ring->tx_pending)) {
		NL_SET_ERR_MSG_MOD(extack,
				   "ring sizes must be powers of two from 8 to 4096");
		return -EINVAL;
	}
	if (ring->rx_pending == priv->rings.rx_size &&
	    ring->tx_pending == priv->rings.tx_size)
		return 0;
	return bn_reconfigure(priv, dev->mtu, ring->tx_pending,
			      ring->rx_pending);
}

static int bn_get_link_ksettings(struct net_device *dev,
				 struct ethtool_link_ksettings *cmd)
{
	struct bn_priv *priv = netdev_priv(dev);
	u32 speed = bn_rd(priv, BN_REG_SPEED);

	ethtool_link_ksettings_zero_link_mode(cmd, supported);
	ethtool_link_ksettings_zero_link_mode(cmd, advertising);
	cmd->base.port = PORT_OTHER;
	cmd->base.autoneg = AUTONEG_DISABLE;
	/* SPEED 0 means an unpaced lane: no meaningful speed. */
	if (netif_carrier_ok(dev)) {
		cmd->base.speed = speed ? speed : SPEED_UNKNOWN;
		cmd->base.duplex = DUPLEX_FULL;
	} else {
		cmd->base.speed = SPEED_UNKNOWN;
		cmd->base.duplex = DUPLEX_UNKNOWN;
	}
	return 0;
}

static int bn_get_coalesce(struct net_device *dev,
			   struct ethtool_coalesce *ec,
			   struct kernel_ethtool_coalesce *kec,
			   struct netlink_ext_ack *extack)
{
	struct bn_priv *priv = netdev_priv(dev);

	ec->rx_coalesce_usecs = priv->itr_rx;
	ec->tx_coalesce_usecs = priv->itr_tx;
	return 0;
}

static int bn_set_coalesce(struct net_device *dev,
			   struct ethtool_coalesce *ec,
			   struct kernel_ethtool_coalesce *kec,
			   struct netlink_ext_ack *extack)
{
	struct bn_priv *priv = netdev_priv(dev);

	/* 7.3: ITR does not apply to INTx. */
	if (!priv->msix) {
		NL_SET_ERR_MSG_MOD(extack,
				   "interrupt moderation needs MSI-X; this device uses INTx");
		return -EOPNOTSUPP;
	}
	/* 4: ITR is 0..65535 us (a larger write would be a register error) */
	if (ec->rx_coalesce_usecs > BN_ITR_MAX ||
	    ec->tx_coalesce_usecs > BN_ITR_MAX) {
		NL_SET_ERR_MSG_MOD(extack, "at most 65535 microseconds");
		return -EINVAL;
	}
	priv->itr_rx = ec->rx_coalesce_usecs;
	priv->itr_tx = ec->tx_coalesce_usecs;
	if (priv->up) {
		bn_wr(priv, BN_REG_ITR_RX, priv->itr_rx);
		bn_wr(priv, BN_REG_ITR_TX, priv->itr_tx);
	}
	return 0;
}

/*
 * ethtool -d: BAR0 as the datasheet lays it out (section 4), one u32 per
 * register at its offset.  Only registers this revision defines are read:
 * reading any other offset counts a register error (REG_ERRORS), and ICS
 * is write-only.  The statistics are the device's own (low, then high
 * half, under hw_lock as every reader of them), without the driver's
 * base from before a reset.
 */
static const struct bn_reg_span {
	u16 first;
	u16 last;
} bn_reg_spans[] = {
	{ BN_REG_ID, BN_REG_SPEED },
	{ BN_REG_ICR, BN_REG_IER },
	{ BN_REG_ITR_RX, BN_REG_ITR_MISC },
	{ BN_REG_MAC_LO, BN_REG_MAC_HI },
	{ BN_REG_MTA(0), BN_REG_MTA(BN_MTA_WORDS - 1) },
	{ BN_REG_TX_BASE_LO, BN_REG_TX_TAIL },
	{ BN_REG_RX_BASE_LO, BN_REG_RX_TAIL },
	{ BN_REG_UTIL, BN_REG_PEER_UTIL },
};

static int bn_get_regs_len(struct net_device *dev)
{
	return BN_REG_STAT_LO(BN_NUM_HW_STATS);
}

static void bn_get_regs(struct net_device *dev, struct ethtool_regs *regs,
			void *buf)
{
	struct bn_priv *priv = netdev_priv(dev);
	unsigned long flags;
	unsigned int i, n;
	u32 *words = buf;
	u32 off;

	memset(buf, 0, bn_get_regs_len(dev));
	regs->version = priv->version;
	for (i = 0; i < ARRAY_SIZE(bn_reg_spans); i++)
		for (off = bn_reg_spans[i].first; off <= bn_reg_spans[i].last;
		     off += 4)
			words[off / 4] = bn_rd(priv, off);
	if (priv->has_cont) {
		words[BN_REG_UTIL_CONT / 4] = bn_rd(priv, BN_REG_UTIL_CONT);
		words[BN_REG_UTIL_CONT_TX / 4] = bn_rd(priv,
						       BN_REG_UTIL_CONT_TX);
	}
	spin_lock_irqsave(&priv->hw_lock, flags);
	for (n = 0; n < priv->num_hw_stats; n++) {
		words[BN_REG_STAT_LO(n) / 4] = bn_rd(priv, BN_REG_STAT_LO(n));
		words[BN_REG_STAT_HI(n) / 4] = bn_rd(priv, BN_REG_STAT_HI(n));
	}
	spin_unlock_irqrestore(&priv->hw_lock, flags);
}

/*
 * ethtool -t: both tests run online (neither disturbs traffic), so an
 * offline request runs the same.  The register test writes patterns to
 * SCRATCH (free for the driver, datasheet 4) and puts its value back.
 */
static void bn_self_test(struct net_device *dev, struct ethtool_test *test,
			 u64 *data)
{
	static const u32 patterns[] = {
		0x00000000, 0xffffffff, 0x5a5a5a5a, 0xa5a5a5a5, 0x01234567,
	};
	struct bn_priv *priv = netdev_priv(dev);
	unsigned int i;
	u32 saved;

	saved = bn_rd(priv, BN_REG_SCRATCH);
	data[0] = 0;
	for (i = 0; i < ARRAY_SIZE(patterns); i++) {
		bn_wr(priv, BN_REG_SCRATCH, patterns[i]);
		if (bn_rd(priv, BN_REG_SCRATCH) != patterns[i])
			data[0] = 1;
	}
	bn_wr(priv, BN_REG_SCRATCH, saved);
	data[1] = bn_rd(priv, BN_REG_STATUS) & BN_STATUS_LINK_UP ? 0 : 1;
	if (data[0] || data[1])
		test->flags |= ETH_TEST_FL_FAILED;
}

static const struct ethtool_ops bn_ethtool_ops = {
	.supported_coalesce_params = ETHTOOL_COALESCE_USECS,
	.get_coalesce		= bn_get_coalesce,
	.set_coalesce		= bn_set_coalesce,
	.get_drvinfo		= bn_get_drvinfo,
	.get_link		= ethtool_op_get_link,
	.get_ringparam		= bn_get_ringparam,
	.set_ringparam		= bn_set_ringparam,
	.get_link_ksettings	= bn_get_link_ksettings,
	.get_sset_count		= bn_get_sset_count,
	.get_strings		= bn_get_strings,
	.get_ethtool_stats	= bn_get_ethtool_stats,
	.get_eth_mac_stats	= bn_get_eth_mac_stats,
	.get_eth_phy_stats	= bn_get_eth_phy_stats,
	.get_rmon_stats		= bn_get_rmon_stats,
	.get_regs_len		= bn_get_regs_len,
	.get_regs		= bn_get_regs,
	.self_test		= bn_self_test,
};

/* ---------------------------------------------------------------------- */
/* PCI                                                                     */

static int bn_setup_irqs(struct bn_priv *priv)
{
	struct pci_dev *pdev = priv->pdev;
	int n;

	n = pci_alloc_irq_vectors(pdev, BN_NUM_VECTORS, BN_NUM_VECTORS,
				  PCI_IRQ_MSIX);
	if (n == BN_NUM_VECTORS) {
		priv->msix = true;
		return 0;
	}
	dev_warn(&pdev->dev,
		 "MSI-X unavailable (%d): using INTx, one shared line without interrupt moderation (datasheet 7.3)\n",
		 n);
	n = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_INTX);
	if (n < 0)
		return n;
	priv->msix = false;
	return 0;
}

/* BAR0 requested and mapped for as long as the driver is bound (pcim). */
static void __iomem *bn_map_regs(struct pci_dev *pdev)
{
#ifdef BN_PCIM_IOMAP_REGION
	return pcim_iomap_region(pdev, BN_BAR_REGS, BN_DRV_NAME);
#else
	int err;

	err = pcim_iomap_regions(pdev, BIT(BN_BAR_REGS), BN_DRV_NAME);
	if (err)
		return IOMEM_ERR_PTR(err);
	return pcim_iomap_table(pdev)[BN_BAR_REGS];
#endif
}

static int bn_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct device *d = &pdev->dev;
	struct net_device *dev;
	u32 reg, lo, hi, cfg;
	struct bn_priv *priv;
	void __iomem *regs;
	u8 mac[ETH_ALEN];
	int err;

	err = pcim_enable_device(pdev);
	if (err)
		return dev_err_probe(d, err, "cannot enable PCI device\n");
	regs = bn_map_regs(pdev);
	if (IS_ERR(regs))
		return dev_err_probe(d, PTR_ERR(regs), "cannot map BAR0\n");
	/* A 64-bit mask fails only where no smaller one would work. */
	err = dma_set_mask_and_coherent(d, DMA_BIT_MASK(64));
	if (err)
		return dev_err_probe(d, err, "no usable DMA mask\n");
	/* 2: bus mastering before any ring is enabled */
	pci_set_master(pdev);

	dev = alloc_etherdev(sizeof(*priv));
	if (!dev)
		return -ENOMEM;
	SET_NETDEV_DEV(dev, d);
	priv = netdev_priv(dev);
	priv->netdev = dev;
	priv->pdev = pdev;
	priv->regs = regs;
	spin_lock_init(&priv->ier_lock);
	spin_lock_init(&priv->ctrl_lock);
	spin_lock_init(&priv->hw_lock);
	priv->rx_off = true;
	u64_stats_init(&priv->nstats.syncp);
	u64_stats_init(&priv->xstats.syncp);
	INIT_WORK(&priv->reset_work, bn_reset_task);
	INIT_DELAYED_WORK(&priv->util_work, bn_util_work);
	priv->rings.tx_size = BN_DEFAULT_TX_RING;
	priv->rings.rx_size = BN_DEFAULT_RX_RING;
	priv->itr_rx = BN_DEFAULT_ITR_US;
	priv->itr_tx = BN_DEFAULT_ITR_US;

	/* 16.1 step 2 */
	reg = bn_rd(priv, BN_REG_ID);
	if (reg != BN_ID_VALUE) {
		err = dev_err_probe(d, -ENODEV, "bad ID register %#x\n", reg);
		goto err_free;
	}
	priv->version = bn_rd(priv, BN_REG_VERSION);
	if (BN_VERSION_MAJOR(priv->version) != BN_SUPPORTED_MAJOR) {
		err = dev_err_probe(d, -ENODEV,
				    "unsupported datasheet revision %u.%u\n",
				    BN_VERSION_MAJOR(priv->version),
				    BN_VERSION_MINOR(priv->version));
		goto err_free;
	}
	/*
	 * 10: SHM_ERRORS and SHM_KICKS are new in 1.2, the checksum
	 * counters in 1.3; they read 0 before.
	 */
	if (BN_VERSION_MINOR(priv->version) >= BN_CSUM_MINOR)
		priv->num_hw_stats = BN_NUM_HW_STATS;
	else if (BN_VERSION_MINOR(priv->version) >= BN_SHM_MINOR)
		priv->num_hw_stats = BN_STAT_TX_CSUM;
	else
		priv->num_hw_stats = BN_STAT_SHM_ERRORS;

	/* 16.1 steps 3 and 4 */
	bn_hw_reset(priv, false);
	lo = bn_rd(priv, BN_REG_MAC_LO);
	hi = bn_rd(priv, BN_REG_MAC_HI);
	mac[0] = lo;
	mac[1] = lo >> 8;
	mac[2] = lo >> 16;
	mac[3] = lo >> 24;
	mac[4] = hi;
	mac[5] = hi >> 8;
	if (is_valid_ether_addr(mac)) {
		eth_hw_addr_set(dev, mac);
	} else {
		eth_hw_addr_random(dev);
		dev_warn(d, "invalid MAC %pM in MAC_LO/HI, using random %pM\n",
			 mac, dev->dev_addr);
	}

	/* 16.1 step 5 */
	err = bn_setup_irqs(priv);
	if (err) {
		dev_err_probe(d, err, "no interrupt available\n");
		goto err_free;
	}

	dev->netdev_ops = &bn_netdev_ops;
	dev->ethtool_ops = &bn_ethtool_ops;
	dev->watchdog_timeo = BN_TX_TIMEOUT;
	dev->min_mtu = ETH_MIN_MTU;
	dev->max_mtu = BN_MAX_MTU;
	/* 6.3: a MAC_LO/HI write applies to the next frame. */
	dev->priv_flags |= IFF_LIVE_ADDR_CHANGE;
	/*
	 * 6.1.1, 6.1.2 and 6.2.1: checksum offload both ways and TSO, from
	 * revision 1.3; with them, scatter-gather (6.1: a frame in up to 32
	 * buffers).
	 */
	if (BN_VERSION_MINOR(priv->version) >= BN_CSUM_MINOR) {
		netdev_features_t f = NETIF_F_HW_CSUM | NETIF_F_RXCSUM |
				      NETIF_F_SG | NETIF_F_TSO | NETIF_F_TSO6;

		dev->hw_features |= f;
		dev->features |= f;
		/*
		 * A frame of more pieces than a frame may take is linearized
		 * into one buffer, whose length must fit BUF_LEN; the stack
		 * cuts anything larger (a forwarded GRO frame) itself.
		 */
		netif_set_tso_max_size(dev, BN_BUF_LEN_MAX);
	}
	priv->automask = priv->msix &&
			 BN_VERSION_MINOR(priv->version) >= BN_CSUM_MINOR;
	netif_napi_add(dev, &priv->napi, bn_poll);
	netif_carrier_off(dev);

	/* 9: UTIL_CONT is new in revision 1.1; 1.0 counts it as an error. */
	priv->has_cont = BN_VERSION_MINOR(priv->version) >= BN_CONT_MINOR;
	err = bn_devlink_alloc(priv);
	if (err) {
		dev_err_probe(d, err, "cannot set up devlink\n");
		goto err_irqs;
	}

	err = register_netdev(dev);
	if (err) {
		dev_err_probe(d, err, "cannot register netdev\n");
		goto err_devlink;
	}
	pci_set_drvdata(pdev, priv);
	devlink_register(priv->devlink);

	cfg = bn_rd(priv, BN_REG_UTIL_CFG);
	netdev_info(dev,
		    "blade-nic %s: MAC %pM, datasheet %u.%u, %s, rings %u/%u, util every %u ms%s%s\n",
		    pci_name(pdev), dev->dev_addr,
		    BN_VERSION_MAJOR(priv->version),
		    BN_VERSION_MINOR(priv->version),
		    priv->msix ? "MSI-X" : "INTx", priv->rings.tx_size,
		    priv->rings.rx_size,
		    BN_UTIL_CFG_INTERVAL(cfg),
		    BN_UTIL_CFG_INTERVAL(cfg) ? " while up" : " (off)",
		    priv->has_cont ? ", with contention figures" : "");
	return 0;

err_devlink:
	bn_devlink_free(priv);
err_irqs:
	netif_napi_del(&priv->napi);
	pci_free_irq_vectors(pdev);
err_free:
	free_netdev(dev);
	return err;
}

static void bn_remove(struct pci_dev *pdev)
{
	struct bn_priv *priv = pci_get_drvdata(pdev);
	struct net_device *dev = priv->netdev;

	devlink_unregister(priv->devlink);
	/* Stops the reporter with the interface (bn_down()). */
	unregister_netdev(dev);
	/* The interface is down: a queued reset finds nothing to do. */
	cancel_work_sync(&priv->reset_work);
	bn_hw_reset(priv, false);
	pci_free_irq_vectors(pdev);
	bn_devlink_free(priv);
	free_netdev(dev);
}

/* ---------------------------------------------------------------------- */
/* Power management                                                        */

/**
 * bn_power_down() - stop the device before the system sleeps or stops
 * @priv: device
 *
 * The rings are freed as by ifdown, and the device counters folded into
 * the driver's base before CTRL.RST, so that what the driver reports never
 * goes back, whether or not the platform resets the NIC meanwhile (8.3:
 * waking from S3 does).
 *
 * Context: process context; takes RTNL.
 */
static void bn_power_down(struct bn_priv *priv)
{
	struct net_device *dev = priv->netdev;

	rtnl_lock();
	netif_device_detach(dev);
	bn_down(priv);
	bn_hw_reset(priv, true);
	rtnl_unlock();
	/* bn_down() cleared priv->up: a reset still queued does nothing. */
	cancel_work_sync(&priv->reset_work);
}

static int bn_suspend(struct device *d)
{
	bn_power_down(dev_get_drvdata(d));
	return 0;
}

/*
 * 8.3: after S3 the NIC is at its reset values, its configuration space
 * and MSI-X table restored by the PCI core; bring-up is redone from 16.1
 * step 4.  The interface stays registered if that fails, closed.
 */
static int bn_resume(struct device *d)
{
	struct bn_priv *priv = dev_get_drvdata(d);
	struct net_device *dev = priv->netdev;
	int err;

	rtnl_lock();
	bn_hw_reset(priv, true);
	if (netif_running(dev)) {
		err = bn_up(priv);
		if (err) {
			netdev_err(dev, "cannot restart after resume (%d): closing\n",
				   err);
			dev_close(dev);
		}
	}
	netif_device_attach(dev);
	rtnl_unlock();
	return 0;
}

static DEFINE_SIMPLE_DEV_PM_OPS(bn_pm_ops, bn_suspend, bn_resume);

/* Reboot, power-off and kexec: no DMA may outlive the kernel. */
static void bn_shutdown(struct pci_dev *pdev)
{
	bn_power_down(pci_get_drvdata(pdev));
	pci_clear_master(pdev);
}

static const struct pci_device_id bn_pci_ids[] = {
	{ PCI_DEVICE(BN_PCI_VENDOR_ID, BN_PCI_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, bn_pci_ids);

static struct pci_driver bn_pci_driver = {
	.name		= BN_DRV_NAME,
	.id_table	= bn_pci_ids,
	.probe		= bn_probe,
	.remove		= bn_remove,
	.shutdown	= bn_shutdown,
	.driver.pm	= pm_sleep_ptr(&bn_pm_ops),
};
module_pci_driver(bn_pci_driver);

MODULE_DESCRIPTION("bladeplane blade-nic network driver");
MODULE_AUTHOR("bladeplane");
MODULE_LICENSE("GPL");
