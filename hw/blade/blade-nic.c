/*
 * bladeplane blade NIC: the PCI NIC in each blade VM.
 *
 * BAR0 holds the registers, BAR2 the MSI-X table and PBA.  TX and RX
 * descriptor rings live in guest memory.  The backplane side is a lane
 * to the chassis slot (net/lane-transport.h): frames leave as 8b/10b
 * symbol streams (or raw records) and the blade's utilization rides in
 * the gap.  docs/blade-nic.md is the contract for everything here.
 *
 * Everything the guest controls is untrusted: ring geometry, indices,
 * descriptor fields and DMA addresses are checked, work per doorbell is
 * bounded by the ring size, and a failed DMA is reported to the guest.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/module.h"
#include "qemu/timer.h"
#include "qemu/main-loop.h"
#include "qemu/cutils.h"
#include "qemu/host-utils.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "hw/core/cpu.h"
#include "migration/vmstate.h"
#include "net/net.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "system/runstate.h"
#include "system/cpu-timers.h"
#include "system/qtest.h"
#include <sys/un.h>
#include "fcs.h"
#include "lane-transport.h"
#include "blade-lane.h"
#include "blade-nic.h"
#include "trace.h"

OBJECT_DECLARE_SIMPLE_TYPE(BladeNicState, BLADE_NIC)

#define NVEC BLADE_NIC_MSIX_VECTORS
#define BLADE_NIC_MAX_SLOT 63
#define BLADE_NIC_MAX_SPEED 100000
#define BLADE_NIC_MAX_UTIL_INTERVAL 60000
/* Guest figures count as fresh for this many utilization intervals. */
#define BLADE_NIC_UTIL_FRESH_INTERVALS 3
#define BLADE_NIC_HOST_MAX_THREADS 64

typedef struct BladeNicRing {
    uint64_t base;
    uint32_t size;
    uint32_t head;
    uint32_t tail;
    bool halted;
} BladeNicRing;

struct BladeNicState {
    PCIDevice parent_obj;

    MemoryRegion bar0;

    /* Guest-visible registers */
    uint32_t ctrl;
    uint32_t scratch;
    uint32_t icr;
    uint32_t ier;
    uint32_t itr[NVEC];
    uint8_t mac[6];
    uint32_t mta[BLADE_NIC_MTA_WORDS];
    BladeNicRing tx;
    BladeNicRing rx;
    uint32_t util_reg;          /* last UTIL write */
    int64_t util_written_ns;    /* QEMU_CLOCK_VIRTUAL, -1: never */
    uint32_t util_tx;           /* UTIL_TX without VALID */
    uint32_t util_host;
    uint32_t util_cont;         /* last UTIL_CONT write (clamped) */
    bool util_cont_armed;       /* UTIL_CONT written since the last UTIL */
    uint32_t util_cont_tx;      /* UTIL_CONT_TX */
    uint64_t stats[BLADE_NIC_STAT_COUNT];
    uint32_t stat_latch;
    bool link_up;               /* as last shown to the guest */

    /* Interrupt moderation */
    int64_t last_irq_ns[NVEC];
    bool irq_pending[NVEC];
    QEMUTimer *itr_timer[NVEC];
    /* messages irq_bh owes each vector (moderation passed) */
    uint32_t irq_send[NVEC];
    QEMUBH *irq_bh;

    /* Power: off while the VM is suspended to RAM (S3); no wake-on-LAN */
    bool powered;
    Notifier suspend_notifier;
    Notifier wakeup_notifier;

    /* Lane, over the chardev */
    BladeLane *bl;
    Lane *lane;                 /* bl's */
    bool chr_made;              /* the shorthand's chardev: ours */
    bool in_lane;               /* inside a lane entry point */
    uint64_t util_sets_at_set;  /* lane tx_util_sets when figures set */
    /* lane counters already added to stats[] */
    uint64_t seen_code_errors, seen_sync_lost, seen_fcs, seen_util_tx;
    uint64_t seen_util_rx, seen_injected, seen_shm_errors, seen_shm_kicks;
    QEMUTimer *util_timer;
    int64_t host_last_real_ns;
    int64_t host_last_cpu_ns;
    int64_t host_last_wait_real_ns;
    uint64_t host_last_wait_ns;
    VMChangeStateEntry *vmse;
    uint8_t txbuf[BLADE_NIC_MAX_FRAME];

    /* Fault injection (QOM, run time) */
    bool inj_link_down;
    bool inj_dma_error;

    /* Properties */
    uint16_t vendor_id;
    uint16_t device_id;
    uint16_t subsys_vendor_id;
    uint16_t subsys_id;
    MACAddr macaddr;
    char *backplane;
    uint32_t slot;
    char *lane_path;
    CharBackend chr;
    uint32_t speed;
    char *pcs_str;
    char *util_source_str;
    char *timing_str;
    uint32_t vtime_latency_ns;
    uint32_t vtime_wait_ms;
    bool vtime;                 /* timing=virtual */
    QEMUTimer *irq_timer;       /* irq_bh's work at a virtual time */
    char *util_form_str;
    uint32_t util_interval_ms;
    /* parsed */
    LanePcs pcs;
    unsigned util_source;
    PcsUtilForm util_form;
    char *sock_path;
};

static const uint32_t blade_nic_vec_causes[NVEC] = {
    BLADE_NIC_INT_RX_VEC, BLADE_NIC_INT_TX_VEC, BLADE_NIC_INT_MISC_VEC,
};

static int64_t vnow(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

/*
 * Every entry point that can DMA or raise interrupts (timers, fd
 * handlers) engages the device's re-entrancy guard, as MMIO dispatch and
 * guarded BHs do: a DMA or MSI-X message aimed at the device's own BARs
 * then fails (and is reported as a DMA error) instead of recursing.
 */
static bool guard_enter(BladeNicState *s)
{
    MemReentrancyGuard *g = &DEVICE(s)->mem_reentrancy_guard;
    bool was = g->engaged_in_io;

    g->engaged_in_io = true;
    return was;
}

static void guard_leave(BladeNicState *s, bool was)
{
    DEVICE(s)->mem_reentrancy_guard.engaged_in_io = was;
}

/* ---- interrupts ---------------------------------------------------------- */

/*
 * A DMA write may land on another device's registers, e.g. a slot control
 * that unplugs this NIC; PCI state is gone then and nothing may touch it.
 */
static bool blade_nic_gone(BladeNicState *s)
{
    return !qdev_is_realized(DEVICE(s));
}

static void blade_nic_update_intx(BladeNicState *s)
{
    PCIDevice *d = PCI_DEVICE(s);

    if (blade_nic_gone(s)) {
        return;
    }
    pci_set_irq(d, !msix_enabled(d) && (s->icr & s->ier));
}

/*
 * A guest may aim an MSI-X vector anywhere, e.g. at its root port's slot
 * control, where the write unplugs this NIC.  So messages leave from a
 * guarded bottom half, never from the code that raised the cause: no DMA
 * loop, lane receive path or MMIO dispatch is on the stack when the
 * device goes, and the re-entrancy guard refuses a message aimed at our
 * own BARs.
 */
static void blade_nic_irq_kick(BladeNicState *s);

static void blade_nic_fire(BladeNicState *s, unsigned v)
{
    s->irq_pending[v] = false;
    s->last_irq_ns[v] = vnow();
    if (s->powered && msix_enabled(PCI_DEVICE(s))) {
        /* one message per request, as when they were sent inline */
        s->irq_send[v] += s->irq_send[v] < UINT32_MAX;
        blade_nic_irq_kick(s);
    }
}

static bool blade_nic_irq_owed(BladeNicState *s)
{
    unsigned v;

    for (v = 0; v < NVEC; v++) {
        if (s->irq_send[v]) {
            return true;
        }
    }
    return false;
}

static void blade_nic_irq_bh(void *opaque)
{
    BladeNicState *s = opaque;
    PCIDevice *d = PCI_DEVICE(s);
    unsigned v;

    object_ref(s);
    for (v = 0; v < NVEC; v++) {
        while (s->irq_send[v]) {
            /* the previous message may have unplugged us */
            if (blade_nic_gone(s)) {
                goto out;
            }
            if (!msix_enabled(d)) {
                /* disabled since: INTA# carries the causes (7.3) */
                memset(s->irq_send, 0, sizeof(s->irq_send));
                goto out;
            }
            s->irq_send[v]--;
            trace_blade_nic_irq(vnow(), v, s->icr);
            s->stats[BLADE_NIC_STAT_IRQ_RX + v]++;
            msix_notify(d, v);
        }
    }
out:
    object_unref(s);
}

/*
 * In virtual time the message goes at this virtual time, in the vCPU's
 * order of events (a timer due now), not whenever the main loop runs a
 * BH: that would land it at a different instruction on every run.
 */
static void blade_nic_irq_timer(void *opaque)
{
    BladeNicState *s = opaque;
    MemReentrancyGuard *g = &DEVICE(s)->mem_reentrancy_guard;

    if (g->engaged_in_io) {
        /* inside our own MMIO or DMA: as a guarded BH would, defer */
        qemu_bh_schedule(s->irq_bh);
        return;
    }
    g->engaged_in_io = true;
    blade_nic_irq_bh(s);
    g->engaged_in_io = false;
}

static void blade_nic_irq_kick(BladeNicState *s)
{
    if (s->vtime) {
        timer_mod(s->irq_timer, vnow());
    } else {
        qemu_bh_schedule(s->irq_bh);
    }
}

static void blade_nic_request_irq(BladeNicState *s, unsigned v)
{
    int64_t now = vnow();
    int64_t next = s->last_irq_ns[v] + (int64_t)s->itr[v] * SCALE_US;

    if (s->itr[v] == 0 || now >= next) {
        blade_nic_fire(s, v);
    } else if (!s->irq_pending[v]) {
        s->irq_pending[v] = true;
        trace_blade_nic_irq_moderated(v, next - now);
        timer_mod(s->itr_timer[v], next);
    }
}

static void blade_nic_set_cause(BladeNicState *s, uint32_t bits)
{
    unsigned v;

    /* Powered off (S3) or unplugged: no interrupt, no state to keep. */
    if (!s->powered || blade_nic_gone(s)) {
        return;
    }
    s->icr |= bits;
    for (v = 0; v < NVEC; v++) {
        if (bits & s->ier & blade_nic_vec_causes[v]) {
            blade_nic_request_irq(s, v);
        }
    }
    blade_nic_update_intx(s);
}

static void blade_nic_itr_expired(BladeNicState *s, unsigned v)
{
    bool was = guard_enter(s);

    if (s->irq_pending[v]) {
        if (s->icr & s->ier & blade_nic_vec_causes[v]) {
            blade_nic_fire(s, v);
        } else {
            s->irq_pending[v] = false;
        }
    }
    guard_leave(s, was);
}

static void blade_nic_itr_rx(void *opaque)
{
    blade_nic_itr_expired(opaque, BLADE_NIC_VEC_RX);
}

static void blade_nic_itr_tx(void *opaque)
{
    blade_nic_itr_expired(opaque, BLADE_NIC_VEC_TX);
}

static void blade_nic_itr_misc(void *opaque)
{
    blade_nic_itr_expired(opaque, BLADE_NIC_VEC_MISC);
}

/* ---- DMA ----------------------------------------------------------------- */

static bool blade_nic_dma(BladeNicState *s, uint64_t addr, void *buf,
                          size_t len, bool write, const char *what)
{
    MemTxResult r;

    if (blade_nic_gone(s)) {
        return false;
    }
    if (addr + len < addr) {
        r = MEMTX_DECODE_ERROR;
    } else if (write) {
        r = pci_dma_write(PCI_DEVICE(s), addr, buf, len);
    } else {
        r = pci_dma_read(PCI_DEVICE(s), addr, buf, len);
    }
    if (r != MEMTX_OK) {
        qemu_log_mask(LOG_GUEST_ERROR, "blade-nic: DMA %s error at 0x%"
                      PRIx64 " len %zu\n", what, addr, len);
        trace_blade_nic_dma_error(what, addr, len);
        return false;
    }
    return !blade_nic_gone(s);
}

/* Read descriptor @idx of @ring; false (ring halted) on a DMA error. */
static bool blade_nic_read_desc(BladeNicState *s, BladeNicRing *ring,
                                uint32_t idx, uint8_t *d, const char *what)
{
    if (s->inj_dma_error) {
        s->inj_dma_error = false;
        trace_blade_nic_dma_error("injected", ring->base, 0);
        return false;
    }
    return blade_nic_dma(s, ring->base + (uint64_t)idx * BLADE_NIC_DESC_SIZE,
                         d, BLADE_NIC_DESC_SIZE, false, what);
}

static bool blade_nic_write_status(BladeNicState *s, BladeNicRing *ring,
                                   uint32_t idx, uint16_t len, uint16_t st)
{
    uint8_t wb[4];

    stw_le_p(wb, len);
    stw_le_p(wb + 2, st);
    return blade_nic_dma(s, ring->base + (uint64_t)idx * BLADE_NIC_DESC_SIZE +
                         BLADE_NIC_DESC_LEN, wb, sizeof(wb), true,
                         "descriptor write-back");
}

static void blade_nic_halt(BladeNicState *s, BladeNicRing *ring,
                           const char *which)
{
    if (blade_nic_gone(s)) {
        return;
    }
    ring->halted = true;
    s->stats[BLADE_NIC_STAT_DMA_ERRORS]++;
    trace_blade_nic_ring_halt(which, ring->head);
    blade_nic_set_cause(s, BLADE_NIC_INT_DMA_ERR);
}

static uint32_t ring_next(const BladeNicRing *r, uint32_t i)
{
    return i + 1 == r->size ? 0 : i + 1;
}

/* ---- lane glue ----------------------------------------------------------- */

static void blade_nic_lane_sync(BladeNicState *s);

static void blade_nic_update_link(BladeNicState *s)
{
    bool up = s->lane && !s->inj_link_down && lane_is_link_up(s->lane) &&
              lane_is_sync_ok(s->lane);

    if (up != s->link_up) {
        s->link_up = up;
        s->stats[BLADE_NIC_STAT_LINK_CHANGES]++;
        trace_blade_nic_link(vnow(), up, s->lane && lane_is_connected(s->lane),
                             s->lane && lane_is_sync_ok(s->lane));
        blade_nic_set_cause(s, BLADE_NIC_INT_LSC);
    }
}

/* Fold the lane's counters into the device's; raise PCS_ERR on errors. */
static void blade_nic_pull_lane_stats(BladeNicState *s)
{
    const LaneStats *ls;
    uint64_t code, sync, fcs;
    bool err = false;

    if (!s->lane) {
        return;
    }
    ls = lane_stats(s->lane);
    code = ls->pcs.invalid_cgs + ls->pcs.disparity_errors;
    sync = ls->pcs.sync_lost;
    fcs = ls->pcs.fcs_errors;
    if (code != s->seen_code_errors || sync != s->seen_sync_lost ||
        fcs != s->seen_fcs) {
        err = true;
    }
    s->stats[BLADE_NIC_STAT_PCS_CODE_ERRORS] += code - s->seen_code_errors;
    s->stats[BLADE_NIC_STAT_PCS_SYNC_LOSSES] += sync - s->seen_sync_lost;
    s->stats[BLADE_NIC_STAT_RX_FCS_ERRORS] += fcs - s->seen_fcs;
    s->stats[BLADE_NIC_STAT_UTIL_SETS_TX] += ls->tx_util_sets -
                                             s->seen_util_tx;
    s->stats[BLADE_NIC_STAT_UTIL_SETS_RX] += ls->rx_util_sets -
                                             s->seen_util_rx;
    s->stats[BLADE_NIC_STAT_TX_CG_INJECTED] += ls->injected_cg_errors -
                                               s->seen_injected;
    s->seen_code_errors = code;
    s->seen_sync_lost = sync;
    s->seen_fcs = fcs;
    s->seen_util_tx = ls->tx_util_sets;
    s->seen_util_rx = ls->rx_util_sets;
    s->seen_injected = ls->injected_cg_errors;
    s->stats[BLADE_NIC_STAT_SHM_ERRORS] += ls->shm_errors -
                                           s->seen_shm_errors;
    /*
     * A wake-up goes only to a chassis end that slept, which is the
     * host's scheduling: in virtual time the guest must not see it, or
     * no two runs would be the same (shm-kicks still counts).
     */
    if (!s->vtime) {
        s->stats[BLADE_NIC_STAT_SHM_KICKS] += ls->shm_kicks -
                                              s->seen_shm_kicks;
    }
    s->seen_shm_errors = ls->shm_errors;
    s->seen_shm_kicks = ls->shm_kicks;
    if (err) {
        blade_nic_set_cause(s, BLADE_NIC_INT_PCS_ERR);
    }
}

/*
 * After any call into the lane: update the guest-visible link state and
 * counters.  blade-lane follows the lane's deadline and output itself.
 */
static void blade_nic_lane_sync(BladeNicState *s)
{
    if (!s->lane || s->in_lane) {
        return;
    }
    blade_nic_pull_lane_stats(s);
    blade_nic_update_link(s);
}

/* blade-lane did lane work of its own (input, timers, output, events). */
static void blade_nic_lane_changed(void *opaque)
{
    blade_nic_lane_sync(opaque);
}

/* ---- transmit ------------------------------------------------------------ */

/*
 * Send the frames the driver queued in [head, tail).  Bounded: each pass
 * handles at most one ring's worth of descriptors, and the loop ends at
 * tail, at an incomplete chain, on lane back-pressure or on a DMA error.
 */
static void blade_nic_tx_process(BladeNicState *s)
{
    BladeNicRing *r = &s->tx;
    uint32_t budget = r->size;
    bool done = false, err = false;

    if (!(s->ctrl & BLADE_NIC_CTRL_TXEN) || r->halted || !r->size ||
        !runstate_is_running()) {
        return;
    }
    while (r->head != r->tail && budget > 0) {
        uint32_t idx = r->head, nd = 0, total = 0;
        bool bad = false, eop = false;
        uint16_t st;
        int ret;

        while (!eop) {
            uint8_t d[BLADE_NIC_DESC_SIZE];
            uint64_t addr;
            uint16_t blen;

            if (idx == r->tail) {
                /* The driver has not posted the rest of the chain yet. */
                goto out;
            }
            if (!blade_nic_read_desc(s, r, idx, d, "TX descriptor read")) {
                blade_nic_halt(s, r, "tx");
                goto out;
            }
            addr = ldq_le_p(d + BLADE_NIC_DESC_ADDR);
            blen = lduw_le_p(d + BLADE_NIC_DESC_BUF_LEN);
            eop = lduw_le_p(d + BLADE_NIC_DESC_FLAGS) & BLADE_NIC_DFLAG_EOP;
            nd++;
            if (total + blen > BLADE_NIC_MAX_FRAME) {
                bad = true;
            } else if (!bad && blen) {
                if (!blade_nic_dma(s, addr, s->txbuf + total, blen, false,
                                   "TX buffer read")) {
                    blade_nic_halt(s, r, "tx");
                    goto out;
                }
                total += blen;
            }
            if (!eop && nd == BLADE_NIC_TX_MAX_CHAIN) {
                bad = true;
                break;
            }
            idx = ring_next(r, idx);
        }
        if (total < BLADE_NIC_MIN_FRAME) {
            bad = true;
        }
        st = BLADE_NIC_DSTAT_DD;
        if (bad) {
            st |= BLADE_NIC_DSTAT_ERR;
            s->stats[BLADE_NIC_STAT_TX_ERRORS]++;
            trace_blade_nic_tx_drop("malformed frame", r->head, total, nd);
            err = true;
        } else if (!s->link_up) {
            st |= BLADE_NIC_DSTAT_NOLINK;
            s->stats[BLADE_NIC_STAT_TX_NOLINK]++;
            trace_blade_nic_tx_drop("link down", r->head, total, nd);
        } else {
            ret = lane_send_frame(s->lane, s->txbuf, total, vnow());
            if (s->vtime && ret >= 0) {
                blade_lane_flush(s->bl);
            }
            if (ret == -EAGAIN) {
                /* tx_ready() resumes; the descriptors stay the device's */
                trace_blade_nic_tx_wait(r->head);
                goto out;
            } else if (ret < 0) {
                st |= BLADE_NIC_DSTAT_NOLINK;
                s->stats[BLADE_NIC_STAT_TX_NOLINK]++;
                trace_blade_nic_tx_drop("lane refused", r->head, total, nd);
            } else {
                s->stats[BLADE_NIC_STAT_TX_FRAMES]++;
                s->stats[BLADE_NIC_STAT_TX_OCTETS] += total;
                trace_blade_nic_tx_frame(vnow(), r->head, total, nd);
            }
        }
        /* Write back every descriptor of the frame, EOP on the last. */
        idx = r->head;
        while (nd > 0) {
            uint16_t dst = st | (nd == 1 && eop ? BLADE_NIC_DSTAT_EOP : 0);

            if (!blade_nic_write_status(s, r, idx, 0, dst)) {
                blade_nic_halt(s, r, "tx");
                goto out;
            }
            idx = ring_next(r, idx);
            r->head = idx;
            nd--;
            budget = budget ? budget - 1 : 0;
        }
        done = true;
    }
out:
    if (done) {
        blade_nic_set_cause(s, BLADE_NIC_INT_TX_DONE);
    }
    if (err) {
        blade_nic_set_cause(s, BLADE_NIC_INT_TX_ERR);
    }
}

static void blade_nic_tx_ready(void *opaque)
{
    blade_nic_tx_process(opaque);
}

/* ---- receive ------------------------------------------------------------- */

static unsigned blade_nic_mta_index(const uint8_t *mac)
{
    /* The datasheet's hash: bits 31:24 of the Ethernet CRC-32. */
    return eth_crc32(0, mac, 6) >> 24;
}

static bool blade_nic_rx_filter(BladeNicState *s, const uint8_t *buf,
                                uint16_t *st)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    unsigned h;

    if (!memcmp(buf, bcast, 6)) {
        *st |= BLADE_NIC_DSTAT_BCAST;
        return true;
    }
    if (buf[0] & 1) {
        *st |= BLADE_NIC_DSTAT_MCAST;
        if (s->ctrl & (BLADE_NIC_CTRL_PROMISC | BLADE_NIC_CTRL_ALLMULTI)) {
            return true;
        }
        h = blade_nic_mta_index(buf);
        return s->mta[h / 32] & (1u << (h % 32));
    }
    return (s->ctrl & BLADE_NIC_CTRL_PROMISC) || !memcmp(buf, s->mac, 6);
}

static void blade_nic_rx_drop(BladeNicState *s, unsigned stat,
                              const char *why, size_t len)
{
    s->stats[stat]++;
    trace_blade_nic_rx_drop(why, len);
}

static void blade_nic_rx_frame(void *opaque, const uint8_t *buf, size_t len)
{
    BladeNicState *s = opaque;
    BladeNicRing *r = &s->rx;
    uint8_t d[BLADE_NIC_DESC_SIZE];
    uint16_t st = BLADE_NIC_DSTAT_DD | BLADE_NIC_DSTAT_EOP;
    uint64_t addr;

    if (!s->powered) {
        /* the lane holds the link down while we are off; never DMA then */
        trace_blade_nic_rx_drop("powered off", len);
        return;
    }
    if (len < BLADE_NIC_MIN_FRAME || len > BLADE_NIC_MAX_FRAME) {
        blade_nic_rx_drop(s, BLADE_NIC_STAT_RX_LEN_ERRORS, "length", len);
        return;
    }
    if (!blade_nic_rx_filter(s, buf, &st)) {
        blade_nic_rx_drop(s, BLADE_NIC_STAT_RX_FILTERED, "filtered", len);
        return;
    }
    if (!(s->ctrl & BLADE_NIC_CTRL_RXEN) || r->halted || !r->size) {
        blade_nic_rx_drop(s, BLADE_NIC_STAT_RX_NOBUF, "rx off", len);
        return;
    }
    if (r->head == r->tail) {
        blade_nic_rx_drop(s, BLADE_NIC_STAT_RX_NOBUF, "no descriptor", len);
        blade_nic_set_cause(s, BLADE_NIC_INT_RX_NOBUF);
        return;
    }
    if (!blade_nic_read_desc(s, r, r->head, d, "RX descriptor read")) {
        blade_nic_halt(s, r, "rx");
        return;
    }
    addr = ldq_le_p(d + BLADE_NIC_DESC_ADDR);
    if (lduw_le_p(d + BLADE_NIC_DESC_BUF_LEN) < len) {
        blade_nic_rx_drop(s, BLADE_NIC_STAT_RX_LEN_ERRORS, "buffer too small",
                          len);
        return;
    }
    if (!blade_nic_dma(s, addr, (void *)buf, len, true, "RX buffer write") ||
        !blade_nic_write_status(s, r, r->head, len, st)) {
        blade_nic_halt(s, r, "rx");
        return;
    }
    trace_blade_nic_rx_frame(vnow(), r->head, len, st);
    r->head = ring_next(r, r->head);
    s->stats[BLADE_NIC_STAT_RX_FRAMES]++;
    s->stats[BLADE_NIC_STAT_RX_OCTETS] += len;
    if (st & BLADE_NIC_DSTAT_BCAST) {
        s->stats[BLADE_NIC_STAT_RX_BCAST]++;
    } else if (st & BLADE_NIC_DSTAT_MCAST) {
        s->stats[BLADE_NIC_STAT_RX_MCAST]++;
    }
    blade_nic_set_cause(s, BLADE_NIC_INT_RX_DONE);
}

/*
 * Frames wait in the lane (back-pressure) while the VM is stopped.  Not
 * while it is suspended: the NIC is off then, its link down, and the lane
 * drops (and counts) what still arrives rather than hold it until a wake
 * that need not come.
 */
static bool blade_nic_can_receive(void *opaque)
{
    BladeNicState *s = opaque;

    return runstate_is_running() || !s->powered;
}

static void blade_nic_lane_event(void *opaque, LaneEvent ev)
{
    trace_blade_nic_lane_event(ev);
}

static const LaneOps blade_nic_lane_ops = {
    .rx_frame = blade_nic_rx_frame,
    .can_receive = blade_nic_can_receive,
    .event = blade_nic_lane_event,
    .tx_ready = blade_nic_tx_ready,
};

/* ---- utilization --------------------------------------------------------- */

static void blade_nic_bad(BladeNicState *s, const char *what, hwaddr addr,
                          uint64_t val);

/*
 * A new sample: @cont is its UTIL_CONT-format contention figures with
 * BLADE_NIC_CONT_TX_VALID, or 0 for a sample without them.
 */
static void blade_nic_send_util(BladeNicState *s, unsigned cpu, unsigned irq,
                                uint32_t cont, bool host)
{
    unsigned psi = cont & BLADE_NIC_CONT_PSI_MASK;
    unsigned runnable = (cont & BLADE_NIC_CONT_RUN_MASK) >>
                        BLADE_NIC_CONT_RUN_SHIFT;

    cpu = MIN(cpu, 100);
    irq = MIN(irq, 100);
    s->util_tx = cpu | irq << 8 | (host ? BLADE_NIC_UTIL_TX_HOST : 0);
    s->util_cont_tx = 0;
    trace_blade_nic_util_set(cpu, irq, host);
    if (cont & BLADE_NIC_CONT_TX_VALID) {
        psi = MIN(psi, BLADE_NIC_CONT_PSI_MAX);
        s->util_cont_tx = psi | runnable << BLADE_NIC_CONT_RUN_SHIFT |
                          BLADE_NIC_CONT_TX_VALID |
                          (host ? BLADE_NIC_CONT_TX_HOST : 0);
        trace_blade_nic_util_contention(psi, runnable, host);
    }
    if (!s->lane) {
        return;
    }
    if (cont & BLADE_NIC_CONT_TX_VALID) {
        lane_set_util_contention(s->lane, cpu, irq, psi, runnable, vnow());
    } else {
        lane_set_util(s->lane, cpu, irq, vnow());
    }
    s->util_sets_at_set = lane_stats(s->lane)->tx_util_sets;
}

/*
 * The host-side contention figures of the VM's vCPU threads since the
 * previous call, in UTIL_CONT format with BLADE_NIC_CONT_TX_VALID (0 if
 * /proc cannot tell, or on the first call): pressure is the run-queue
 * wait (schedstat's second field) over the elapsed time, per vCPU thread,
 * in permille, at most 1000; runnable counts vCPU threads in state R.
 */
static uint32_t blade_nic_host_contention(BladeNicState *s)
{
    int seen[BLADE_NIC_HOST_MAX_THREADS];
    int nseen = 0, i;
    unsigned running = 0;
    uint64_t wait_ns = 0;
    int64_t real_ns;
    uint32_t v = 0;
    bool ok = true;
    CPUState *cpu;

    CPU_FOREACH(cpu) {
        g_autofree char *path = NULL, *text = NULL;
        const char *end;
        uint64_t cpu_ns, wait;
        bool dup = false;

        if (!cpu->created || cpu->thread_id <= 0) {
            continue;
        }
        for (i = 0; i < nseen; i++) {
            dup |= seen[i] == cpu->thread_id;
        }
        if (dup || nseen == BLADE_NIC_HOST_MAX_THREADS) {
            continue;
        }
        seen[nseen++] = cpu->thread_id;
        path = g_strdup_printf("/proc/self/task/%d/schedstat", cpu->thread_id);
        if (!g_file_get_contents(path, &text, NULL, NULL) ||
            qemu_strtou64(text, &end, 10, &cpu_ns) < 0 ||
            qemu_strtou64(end, &end, 10, &wait) < 0) {
            ok = false;
            break;
        }
        wait_ns += wait;
        g_clear_pointer(&text, g_free);
        g_clear_pointer(&path, g_free);
        /* the state follows the command name, which may hold spaces */
        path = g_strdup_printf("/proc/self/task/%d/stat", cpu->thread_id);
        if (g_file_get_contents(path, &text, NULL, NULL)) {
            end = strrchr(text, ')');
            if (end && end[1] == ' ' && end[2] == 'R') {
                running++;
            }
        }
    }
    real_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    if (ok && nseen && s->host_last_wait_real_ns &&
        real_ns > s->host_last_wait_real_ns &&
        wait_ns >= s->host_last_wait_ns) {
        uint64_t permille = (wait_ns - s->host_last_wait_ns) * 1000 /
                            (uint64_t)(real_ns - s->host_last_wait_real_ns) /
                            nseen;

        v = MIN(permille, BLADE_NIC_CONT_PSI_MAX) |
            MIN(running, 1023) << BLADE_NIC_CONT_RUN_SHIFT |
            BLADE_NIC_CONT_TX_VALID;
    }
    s->host_last_wait_ns = ok ? wait_ns : 0;
    s->host_last_wait_real_ns = ok ? real_ns : 0;
    return v;
}

/*
 * Busy fraction of the VM's vCPU threads since the previous sample, from
 * their thread CPU clocks (a halted vCPU sleeps and does not count).
 */
static unsigned blade_nic_host_cpu_pct(BladeNicState *s)
{
    pthread_t seen[BLADE_NIC_HOST_MAX_THREADS];
    int nseen = 0, ncpus = 0, i;
    int64_t cpu_ns = 0, real_ns, dcpu, dreal;
    CPUState *cpu;
    unsigned pct = 0;

    CPU_FOREACH(cpu) {
        clockid_t cid;
        struct timespec ts;
        bool dup = false;

        ncpus++;
        if (!cpu->thread) {
            continue;
        }
        for (i = 0; i < nseen; i++) {
            if (pthread_equal(seen[i], cpu->thread->thread)) {
                dup = true;
            }
        }
        if (dup || nseen == BLADE_NIC_HOST_MAX_THREADS) {
            continue;
        }
        seen[nseen++] = cpu->thread->thread;
        if (pthread_getcpuclockid(cpu->thread->thread, &cid) == 0 &&
            clock_gettime(cid, &ts) == 0) {
            cpu_ns += ts.tv_sec * NANOSECONDS_PER_SECOND + ts.tv_nsec;
        }
    }
    real_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    dcpu = cpu_ns - s->host_last_cpu_ns;
    dreal = real_ns - s->host_last_real_ns;
    if (s->host_last_real_ns && dreal > 0 && dcpu > 0 && ncpus > 0) {
        pct = MIN(100, dcpu * 100 / dreal / ncpus);
    }
    s->host_last_cpu_ns = cpu_ns;
    s->host_last_real_ns = real_ns;
    return pct;
}

static bool blade_nic_guest_util_fresh(BladeNicState *s)
{
    int64_t window = (int64_t)s->util_interval_ms * SCALE_MS *
                     BLADE_NIC_UTIL_FRESH_INTERVALS;

    return s->util_written_ns >= 0 && vnow() - s->util_written_ns < window;
}

static void blade_nic_util_tick(void *opaque)
{
    BladeNicState *s = opaque;
    unsigned pct = blade_nic_host_cpu_pct(s);
    uint32_t cont = blade_nic_host_contention(s);
    bool was = guard_enter(s);

    s->util_host = pct;
    trace_blade_nic_util_host(pct);
    if (s->util_source == BLADE_NIC_UTIL_SRC_HOST ||
        (s->util_source == BLADE_NIC_UTIL_SRC_AUTO &&
         !blade_nic_guest_util_fresh(s))) {
        blade_nic_send_util(s, pct, 0, cont, true);
        blade_nic_lane_sync(s);
    }
    timer_mod(s->util_timer, vnow() + (int64_t)s->util_interval_ms * SCALE_MS);
    guard_leave(s, was);
}

static void blade_nic_util_write(BladeNicState *s, uint32_t val)
{
    uint32_t cont = s->util_cont_armed ?
                    s->util_cont | BLADE_NIC_CONT_TX_VALID : 0;

    s->util_reg = MIN(val & 0xff, 100) | MIN((val >> 8) & 0xff, 100) << 8;
    s->util_written_ns = vnow();
    /* UTIL_CONT arms its figures for this one sample only */
    s->util_cont_armed = false;
    if (s->util_source != BLADE_NIC_UTIL_SRC_HOST) {
        blade_nic_send_util(s, s->util_reg & 0xff, s->util_reg >> 8, cont,
                            false);
    }
}

static void blade_nic_util_cont_write(BladeNicState *s, hwaddr addr,
                                      uint32_t val)
{
    unsigned psi = val & BLADE_NIC_CONT_PSI_MASK;

    if (psi > BLADE_NIC_CONT_PSI_MAX) {
        blade_nic_bad(s, "CPU pressure above 1000 permille (clamped)", addr,
                      val);
        psi = BLADE_NIC_CONT_PSI_MAX;
    }
    s->util_cont = psi | (val & BLADE_NIC_CONT_RUN_MASK);
    s->util_cont_armed = true;
}

static uint32_t blade_nic_util_tx_read(BladeNicState *s)
{
    uint32_t v = s->util_tx;

    if (s->lane &&
        lane_stats(s->lane)->tx_util_sets > s->util_sets_at_set) {
        v |= BLADE_NIC_UTIL_TX_VALID;
    }
    return v;
}

/* ---- registers ----------------------------------------------------------- */

static uint32_t blade_nic_status(BladeNicState *s)
{
    uint32_t v = 0;

    if (s->link_up) {
        v |= BLADE_NIC_STATUS_LINK_UP;
    }
    if (s->lane) {
        v |= BLADE_NIC_STATUS_LANE_CFG;
        if (lane_is_connected(s->lane)) {
            v |= BLADE_NIC_STATUS_CONNECTED;
        }
        if (lane_is_sync_ok(s->lane)) {
            v |= BLADE_NIC_STATUS_SYNC;
        }
    }
    if (s->pcs == LANE_PCS_RAW) {
        v |= BLADE_NIC_STATUS_PCS_RAW;
    }
    if (s->inj_link_down) {
        v |= BLADE_NIC_STATUS_FORCED_DOWN;
    }
    if (s->tx.halted) {
        v |= BLADE_NIC_STATUS_TX_HALT;
    }
    if (s->rx.halted) {
        v |= BLADE_NIC_STATUS_RX_HALT;
    }
    return v;
}

static void blade_nic_reset_registers(BladeNicState *s, const char *why)
{
    unsigned v;

    trace_blade_nic_reset(why);
    s->ctrl = 0;
    s->scratch = 0;
    s->icr = 0;
    s->ier = 0;
    memcpy(s->mac, s->macaddr.a, 6);
    memset(s->mta, 0, sizeof(s->mta));
    memset(&s->tx, 0, sizeof(s->tx));
    memset(&s->rx, 0, sizeof(s->rx));
    s->util_reg = 0;
    s->util_written_ns = -1;
    s->util_cont = 0;
    s->util_cont_armed = false;
    memset(s->stats, 0, sizeof(s->stats));
    s->stat_latch = 0;
    for (v = 0; v < NVEC; v++) {
        s->itr[v] = 0;
        s->irq_pending[v] = false;
        s->last_irq_ns[v] = 0;
        if (s->itr_timer[v]) {
            timer_del(s->itr_timer[v]);
        }
    }
    memset(s->irq_send, 0, sizeof(s->irq_send));
    blade_nic_update_intx(s);
}

static bool blade_nic_ring_size_ok(uint32_t v)
{
    return v >= BLADE_NIC_RING_MIN && v <= BLADE_NIC_RING_MAX &&
           is_power_of_2(v);
}

static void blade_nic_bad(BladeNicState *s, const char *what, hwaddr addr,
                          uint64_t val)
{
    qemu_log_mask(LOG_GUEST_ERROR, "blade-nic: %s at 0x%" HWADDR_PRIx
                  " (value 0x%" PRIx64 ")\n", what, addr, val);
    trace_blade_nic_mmio_bad_access(what, addr);
    s->stats[BLADE_NIC_STAT_REG_ERRORS]++;
}

/* Ring registers at 0x100 (TX) and 0x120 (RX), relative offsets */
static uint64_t blade_nic_ring_read(BladeNicRing *r, hwaddr off)
{
    switch (off) {
    case 0x0:
        return (uint32_t)r->base;
    case 0x4:
        return r->base >> 32;
    case 0x8:
        return r->size;
    case 0xc:
        return r->head;
    case 0x10:
        return r->tail;
    }
    return 0;
}

static bool blade_nic_ring_write(BladeNicState *s, BladeNicRing *r,
                                 bool enabled, hwaddr addr, hwaddr off,
                                 uint32_t val)
{
    if (off <= 0x8 && enabled) {
        blade_nic_bad(s, "ring geometry write while enabled", addr, val);
        return false;
    }
    switch (off) {
    case 0x0:
        if (val & (BLADE_NIC_RING_ALIGN - 1)) {
            blade_nic_bad(s, "unaligned ring base (low bits dropped)", addr,
                          val);
        }
        r->base = (r->base & ~0xffffffffULL) |
                  (val & ~(uint32_t)(BLADE_NIC_RING_ALIGN - 1));
        return false;
    case 0x4:
        r->base = (r->base & 0xffffffffULL) | (uint64_t)val << 32;
        return false;
    case 0x8:
        if (!blade_nic_ring_size_ok(val)) {
            blade_nic_bad(s, "invalid ring size (ignored)", addr, val);
            return false;
        }
        r->size = val;
        r->head = r->tail = 0;
        return false;
    case 0x10:
        if (val >= r->size) {
            blade_nic_bad(s, "tail out of range (ignored)", addr, val);
            return false;
        }
        r->tail = val;
        return true;
    }
    blade_nic_bad(s, "write to read-only register", addr, val);
    return false;
}

static void blade_nic_ctrl_write(BladeNicState *s, uint32_t val)
{
    uint32_t old = s->ctrl;

    if (val & BLADE_NIC_CTRL_RST) {
        blade_nic_reset_registers(s, "CTRL.RST");
        return;
    }
    if (val & ~(BLADE_NIC_CTRL_MASK | BLADE_NIC_CTRL_RST)) {
        blade_nic_bad(s, "reserved CTRL bits set", BLADE_NIC_REG_CTRL, val);
    }
    s->ctrl = val & BLADE_NIC_CTRL_MASK;
    /* Disabling a ring resets its indices and clears its halt. */
    if ((old & BLADE_NIC_CTRL_TXEN) && !(s->ctrl & BLADE_NIC_CTRL_TXEN)) {
        s->tx.head = s->tx.tail = 0;
        s->tx.halted = false;
    }
    if ((old & BLADE_NIC_CTRL_RXEN) && !(s->ctrl & BLADE_NIC_CTRL_RXEN)) {
        s->rx.head = s->rx.tail = 0;
        s->rx.halted = false;
    }
    trace_blade_nic_ring_ctrl(s->ctrl, s->tx.size, s->rx.size);
    if (s->ctrl & BLADE_NIC_CTRL_TXEN) {
        blade_nic_tx_process(s);
    }
}

static uint64_t blade_nic_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    BladeNicState *s = opaque;
    uint64_t val = 0;

    switch (addr) {
    case BLADE_NIC_REG_ID:
        val = BLADE_NIC_ID_VALUE;
        break;
    case BLADE_NIC_REG_VERSION:
        val = BLADE_NIC_VERSION_VALUE;
        break;
    case BLADE_NIC_REG_CTRL:
        val = s->ctrl;
        break;
    case BLADE_NIC_REG_SCRATCH:
        val = s->scratch;
        break;
    case BLADE_NIC_REG_STATUS:
        val = blade_nic_status(s);
        break;
    case BLADE_NIC_REG_SPEED:
        val = s->speed;
        break;
    case BLADE_NIC_REG_ICR:
        val = s->icr;
        break;
    case BLADE_NIC_REG_IER:
        val = s->ier;
        break;
    case BLADE_NIC_REG_ITR_RX:
    case BLADE_NIC_REG_ITR_TX:
    case BLADE_NIC_REG_ITR_MISC:
        val = s->itr[(addr - BLADE_NIC_REG_ITR_RX) / 4];
        break;
    case BLADE_NIC_REG_MAC_LO:
        val = ldl_le_p(s->mac);
        break;
    case BLADE_NIC_REG_MAC_HI:
        val = lduw_le_p(s->mac + 4);
        break;
    case BLADE_NIC_REG_MTA ... BLADE_NIC_REG_MTA + 4 * BLADE_NIC_MTA_WORDS - 1:
        val = s->mta[(addr - BLADE_NIC_REG_MTA) / 4];
        break;
    case BLADE_NIC_REG_TX_BASE_LO ... BLADE_NIC_REG_TX_TAIL:
        val = blade_nic_ring_read(&s->tx, addr - BLADE_NIC_REG_TX_BASE_LO);
        break;
    case BLADE_NIC_REG_RX_BASE_LO ... BLADE_NIC_REG_RX_TAIL:
        val = blade_nic_ring_read(&s->rx, addr - BLADE_NIC_REG_RX_BASE_LO);
        break;
    case BLADE_NIC_REG_UTIL:
        val = s->util_reg;
        break;
    case BLADE_NIC_REG_UTIL_TX:
        val = blade_nic_util_tx_read(s);
        break;
    case BLADE_NIC_REG_UTIL_HOST:
        val = s->util_host;
        break;
    case BLADE_NIC_REG_UTIL_CFG:
        val = s->util_source | (uint32_t)s->util_interval_ms << 16;
        break;
    case BLADE_NIC_REG_UTIL_CONT:
        val = s->util_cont;
        break;
    case BLADE_NIC_REG_UTIL_CONT_TX:
        val = s->util_cont_tx;
        break;
    case BLADE_NIC_REG_PEER_UTIL: {
        LaneUtil u;

        if (s->lane && lane_peer_util(s->lane, &u, NULL, vnow())) {
            val = u.cpu_pct | u.irq_pct << 8 | BLADE_NIC_UTIL_TX_VALID;
        }
        break;
    }
    case BLADE_NIC_REG_STAT_BASE ...
         BLADE_NIC_REG_STAT_BASE + 8 * BLADE_NIC_STAT_COUNT - 1: {
        unsigned i = (addr - BLADE_NIC_REG_STAT_BASE) / 8;

        if (addr & 4) {
            val = s->stat_latch;
        } else {
            blade_nic_pull_lane_stats(s);
            val = (uint32_t)s->stats[i];
            s->stat_latch = s->stats[i] >> 32;
        }
        break;
    }
    default:
        blade_nic_bad(s, "read of unknown register", addr, 0);
        break;
    }
    trace_blade_nic_mmio_read(addr, val);
    return val;
}

static void blade_nic_mmio_write(void *opaque, hwaddr addr, uint64_t val64,
                                 unsigned size)
{
    BladeNicState *s = opaque;
    uint32_t val = val64;

    trace_blade_nic_mmio_write(addr, val);
    switch (addr) {
    case BLADE_NIC_REG_CTRL:
        blade_nic_ctrl_write(s, val);
        break;
    case BLADE_NIC_REG_SCRATCH:
        s->scratch = val;
        break;
    case BLADE_NIC_REG_ICR:
        s->icr &= ~val;
        blade_nic_update_intx(s);
        break;
    case BLADE_NIC_REG_IER: {
        uint32_t newly = val & ~s->ier & BLADE_NIC_INT_MASK;
        unsigned v;

        s->ier = val & BLADE_NIC_INT_MASK;
        for (v = 0; v < NVEC; v++) {
            if (newly & s->icr & blade_nic_vec_causes[v]) {
                blade_nic_request_irq(s, v);
            }
        }
        blade_nic_update_intx(s);
        break;
    }
    case BLADE_NIC_REG_ICS:
        blade_nic_set_cause(s, val & BLADE_NIC_INT_MASK);
        break;
    case BLADE_NIC_REG_ITR_RX:
    case BLADE_NIC_REG_ITR_TX:
    case BLADE_NIC_REG_ITR_MISC:
        if (val > BLADE_NIC_ITR_MAX) {
            blade_nic_bad(s, "ITR above maximum (clamped)", addr, val);
            val = BLADE_NIC_ITR_MAX;
        }
        s->itr[(addr - BLADE_NIC_REG_ITR_RX) / 4] = val;
        break;
    case BLADE_NIC_REG_MAC_LO:
        stl_le_p(s->mac, val);
        break;
    case BLADE_NIC_REG_MAC_HI:
        stw_le_p(s->mac + 4, val);
        break;
    case BLADE_NIC_REG_MTA ... BLADE_NIC_REG_MTA + 4 * BLADE_NIC_MTA_WORDS - 1:
        s->mta[(addr - BLADE_NIC_REG_MTA) / 4] = val;
        break;
    case BLADE_NIC_REG_TX_BASE_LO ... BLADE_NIC_REG_TX_TAIL:
        if (blade_nic_ring_write(s, &s->tx, s->ctrl & BLADE_NIC_CTRL_TXEN,
                                 addr, addr - BLADE_NIC_REG_TX_BASE_LO,
                                 val)) {
            trace_blade_nic_tx_doorbell(s->tx.head, s->tx.tail);
            blade_nic_tx_process(s);
        }
        break;
    case BLADE_NIC_REG_RX_BASE_LO ... BLADE_NIC_REG_RX_TAIL:
        if (blade_nic_ring_write(s, &s->rx, s->ctrl & BLADE_NIC_CTRL_RXEN,
                                 addr, addr - BLADE_NIC_REG_RX_BASE_LO,
                                 val)) {
            trace_blade_nic_rx_doorbell(s->rx.head, s->rx.tail);
        }
        break;
    case BLADE_NIC_REG_UTIL:
        blade_nic_util_write(s, val);
        break;
    case BLADE_NIC_REG_UTIL_CONT:
        blade_nic_util_cont_write(s, addr, val);
        break;
    default:
        if (addr < BLADE_NIC_BAR0_SIZE &&
            (addr <= BLADE_NIC_REG_VERSION || addr == BLADE_NIC_REG_STATUS ||
             addr == BLADE_NIC_REG_SPEED ||
             (addr >= BLADE_NIC_REG_UTIL_TX &&
              addr <= BLADE_NIC_REG_PEER_UTIL) ||
             addr == BLADE_NIC_REG_UTIL_CONT_TX ||
             (addr >= BLADE_NIC_REG_STAT_BASE &&
              addr < BLADE_NIC_REG_STAT_BASE + 8 * BLADE_NIC_STAT_COUNT))) {
            blade_nic_bad(s, "write to read-only register", addr, val);
        } else {
            blade_nic_bad(s, "write to unknown register", addr, val);
        }
        break;
    }
    blade_nic_lane_sync(s);
}

static const MemoryRegionOps blade_nic_mmio_ops = {
    .read = blade_nic_mmio_read,
    .write = blade_nic_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /* Registers are 32 bits wide; other sizes are not decoded. */
    .valid = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

/* ---- fault injection (QOM properties, settable at run time) ------------- */

static bool blade_nic_get_inj_link_down(Object *obj, Error **errp)
{
    return BLADE_NIC(obj)->inj_link_down;
}

static void blade_nic_set_inj_link_down(Object *obj, bool on, Error **errp)
{
    BladeNicState *s = BLADE_NIC(obj);
    bool was = guard_enter(s);

    s->inj_link_down = on;
    trace_blade_nic_inject("link-down", on);
    if (s->lane) {
        lane_set_tx_enabled(s->lane, !on && s->powered, vnow());
    }
    blade_nic_lane_sync(s);
    if (DEVICE(s)->realized) {
        blade_nic_update_link(s);
    }
    guard_leave(s, was);
}

static bool blade_nic_get_inj_sync_loss(Object *obj, Error **errp)
{
    return false;
}

static void blade_nic_set_inj_sync_loss(Object *obj, bool on, Error **errp)
{
    BladeNicState *s = BLADE_NIC(obj);
    bool was;

    if (!on) {
        return;
    }
    if (!s->lane) {
        error_setg(errp, "blade-nic: no lane configured");
        return;
    }
    was = guard_enter(s);
    trace_blade_nic_inject("sync-loss", 1);
    lane_inject_sync_loss(s->lane, vnow());
    blade_nic_lane_sync(s);
    guard_leave(s, was);
}

static void blade_nic_get_inj_code_errors(Object *obj, Visitor *v,
                                          const char *name, void *opaque,
                                          Error **errp)
{
    uint32_t n = 0;

    visit_type_uint32(v, name, &n, errp);
}

static void blade_nic_set_inj_code_errors(Object *obj, Visitor *v,
                                          const char *name, void *opaque,
                                          Error **errp)
{
    BladeNicState *s = BLADE_NIC(obj);
    uint32_t n;

    if (!visit_type_uint32(v, name, &n, errp)) {
        return;
    }
    if (!s->lane || s->pcs != LANE_PCS_8B10B) {
        error_setg(errp, "blade-nic: code-group errors need a lane with "
                   "pcs=8b10b");
        return;
    }
    if (n > 1000000) {
        error_setg(errp, "blade-nic: at most 1000000 code groups");
        return;
    }
    trace_blade_nic_inject("code-errors", n);
    lane_inject_corrupt(s->lane, n);
}

static bool blade_nic_get_inj_dma_error(Object *obj, Error **errp)
{
    return BLADE_NIC(obj)->inj_dma_error;
}

static void blade_nic_set_inj_dma_error(Object *obj, bool on, Error **errp)
{
    trace_blade_nic_inject("dma-error", on);
    BLADE_NIC(obj)->inj_dma_error = on;
}

static bool blade_nic_get_link_up(Object *obj, Error **errp)
{
    return BLADE_NIC(obj)->link_up;
}

/* The lane runs on the shared-memory rings (see docs/link-layer.md). */
static bool blade_nic_get_shm_active(Object *obj, Error **errp)
{
    BladeNicState *s = BLADE_NIC(obj);

    return s->lane && lane_on_rings(s->lane);
}

/* shm-sessions, shm-errors, shm-kicks: the lane's ring counters */
static void blade_nic_get_shm_stat(Object *obj, Visitor *v, const char *name,
                                   void *opaque, Error **errp)
{
    BladeNicState *s = BLADE_NIC(obj);
    const LaneStats *ls = s->lane ? lane_stats(s->lane) : NULL;
    uint64_t val = 0;

    if (ls && !strcmp(name, "shm-sessions")) {
        val = ls->shm_up;
    } else if (ls && !strcmp(name, "shm-errors")) {
        val = ls->shm_errors;
    } else if (ls) {
        val = ls->shm_kicks;
    }
    visit_type_uint64(v, name, &val, errp);
}

/*
 * vtime-*: the lane's virtual-time counters (docs/virtual-time.md), how
 * a peer that broke the rules was counted and cut; 0 with timing=real.
 */
static void blade_nic_get_vtime_stat(Object *obj, Visitor *v,
                                     const char *name, void *opaque,
                                     Error **errp)
{
    BladeNicState *s = BLADE_NIC(obj);
    const LaneStats *ls = s->lane ? lane_stats(s->lane) : NULL;
    uint64_t val = 0;

    if (!ls) {
        /* no lane: nothing counted */
    } else if (!strcmp(name, "vtime-cuts")) {
        val = ls->vtime_cuts;
    } else if (!strcmp(name, "vtime-stamp-back")) {
        val = ls->vtime.stamp_back;
    } else if (!strcmp(name, "vtime-stamp-broke-promise")) {
        val = ls->vtime.stamp_broke_promise;
    } else if (!strcmp(name, "vtime-promise-back")) {
        val = ls->vtime.promise_back;
    } else if (!strcmp(name, "vtime-unstamped")) {
        val = ls->vtime_unstamped;
    } else if (!strcmp(name, "vtime-mismatch")) {
        val = ls->vtime_mismatch;
    }
    visit_type_uint64(v, name, &val, errp);
}

static char *blade_nic_get_link_state(Object *obj, Error **errp)
{
    BladeNicState *s = BLADE_NIC(obj);

    if (s->link_up) {
        return g_strdup("up");
    } else if (!s->lane) {
        return g_strdup("down: no lane configured");
    } else if (s->inj_link_down) {
        return g_strdup("down: forced (inject-link-down)");
    } else if (!lane_is_connected(s->lane)) {
        return g_strdup("down: chassis absent");
    } else if (!lane_is_sync_ok(s->lane)) {
        return g_strdup("down: no PCS sync");
    }
    return g_strdup("down: negotiating");
}

/* ---- life cycle ---------------------------------------------------------- */

/*
 * Suspend to RAM (S3) takes the NIC's power, and it has no wake-on-LAN:
 * its transmitter goes off, so the chassis sees the link drop and takes
 * the blade out of rotation; no utilization is sent; frames that still
 * arrive are dropped by the lane.  Power returns at wake-up, after the
 * platform reset of the wake: the transmitter comes back and negotiates.
 */
static void blade_nic_set_power(BladeNicState *s, bool on)
{
    bool was;

    if (on == s->powered) {
        return;
    }
    s->powered = on;
    if (!on) {
        /* a NIC without power sends nothing */
        memset(s->irq_send, 0, sizeof(s->irq_send));
    }
    trace_blade_nic_power(on, s->lane ?
                          lane_stats(s->lane)->rx_dropped_link_down : 0);
    if (!s->lane) {
        return;
    }
    was = guard_enter(s);
    object_ref(s);
    lane_set_tx_enabled(s->lane, on && !s->inj_link_down, vnow());
    if (on) {
        s->in_lane = true;
        blade_lane_rx_resume(s->bl);
        s->in_lane = false;
    }
    blade_nic_lane_sync(s);
    guard_leave(s, was);
    object_unref(s);
}

static void blade_nic_suspend(Notifier *n, void *data)
{
    blade_nic_set_power(container_of(n, BladeNicState, suspend_notifier),
                        false);
}

static void blade_nic_wakeup(Notifier *n, void *data)
{
    blade_nic_set_power(container_of(n, BladeNicState, wakeup_notifier),
                        true);
}

static void blade_nic_vm_state(void *opaque, bool running, RunState state)
{
    BladeNicState *s = opaque;
    bool was;

    if (!running) {
        return;
    }
    /*
     * Started suspended (an incoming migration or a cont of a guest that
     * was suspended when stopped): no notifier told us.
     */
    blade_nic_set_power(s, state != RUN_STATE_SUSPENDED);
    was = guard_enter(s);
    if (blade_nic_irq_owed(s)) {
        /* messages the source had not sent when it saved them */
        blade_nic_irq_kick(s);
    }
    if (s->lane) {
        s->in_lane = true;
        blade_lane_rx_resume(s->bl);
        s->in_lane = false;
        blade_nic_lane_sync(s);
    }
    /* After an incoming migration: this side's link, queued TX. */
    blade_nic_update_link(s);
    blade_nic_tx_process(s);
    blade_nic_lane_sync(s);
    guard_leave(s, was);
}

static bool blade_nic_parse_props(BladeNicState *s, Error **errp)
{
    const char *pcs = s->pcs_str ? s->pcs_str : "8b10b";
    const char *src = s->util_source_str ? s->util_source_str : "auto";
    const char *form = s->util_form_str ? s->util_form_str : "idle";
    struct sockaddr_un sa;

    if (!strcmp(pcs, "8b10b")) {
        s->pcs = LANE_PCS_8B10B;
    } else if (!strcmp(pcs, "raw")) {
        s->pcs = LANE_PCS_RAW;
    } else {
        error_setg(errp, "blade-nic: pcs must be '8b10b' or 'raw', not '%s'",
                   pcs);
        return false;
    }
    if (!strcmp(src, "guest")) {
        s->util_source = BLADE_NIC_UTIL_SRC_GUEST;
    } else if (!strcmp(src, "host")) {
        s->util_source = BLADE_NIC_UTIL_SRC_HOST;
    } else if (!strcmp(src, "auto")) {
        s->util_source = BLADE_NIC_UTIL_SRC_AUTO;
    } else {
        error_setg(errp, "blade-nic: util-source must be 'guest', 'host' or "
                   "'auto', not '%s'", src);
        return false;
    }
    if (!strcmp(form, "idle")) {
        s->util_form = PCS_UTIL_FORM_IDLE;
    } else if (!strcmp(form, "expanded")) {
        s->util_form = PCS_UTIL_FORM_EXPANDED;
    } else {
        error_setg(errp, "blade-nic: util-form must be 'idle' or "
                   "'expanded', not '%s'", form);
        return false;
    }
    if (!blade_lane_parse_timing("blade-nic", s->timing_str,
                                 s->vtime_latency_ns, &s->vtime, errp)) {
        return false;
    }
    if (s->vtime && !icount_enabled() && !qtest_enabled()) {
        error_setg(errp, "blade-nic: timing=virtual needs a guest that "
                   "counts instructions: add -icount shift=N,sleep=off");
        return false;
    }
    if (s->vtime && s->util_source == BLADE_NIC_UTIL_SRC_HOST) {
        error_setg(errp, "blade-nic: timing=virtual takes utilization from "
                   "the guest only: the host's CPU time differs on every "
                   "run (util-source=guest)");
        return false;
    }
    if (s->vtime) {
        s->util_source = BLADE_NIC_UTIL_SRC_GUEST;
    }
    if (s->speed > BLADE_NIC_MAX_SPEED) {
        error_setg(errp, "blade-nic: speed %u Mb/s is above the maximum "
                   "%u (0 = unpaced)", s->speed, BLADE_NIC_MAX_SPEED);
        return false;
    }
    if (s->util_interval_ms > BLADE_NIC_MAX_UTIL_INTERVAL) {
        error_setg(errp, "blade-nic: util-interval %u ms is above the "
                   "maximum %u", s->util_interval_ms,
                   BLADE_NIC_MAX_UTIL_INTERVAL);
        return false;
    }
    if (qemu_chr_fe_backend_connected(&s->chr) &&
        (s->lane_path || s->backplane || s->slot != UINT32_MAX)) {
        error_setg(errp, "blade-nic: give either chardev=ID or the "
                   "shorthand (backplane=DIR,slot=N or lane=PATH), not both");
        return false;
    }
    if (s->lane_path && (s->backplane || s->slot != UINT32_MAX)) {
        error_setg(errp, "blade-nic: give either lane=PATH or "
                   "backplane=DIR,slot=N, not both");
        return false;
    }
    if (s->backplane && s->slot == UINT32_MAX) {
        error_setg(errp, "blade-nic: backplane=%s needs slot=N",
                   s->backplane);
        return false;
    }
    if (!s->backplane && s->slot != UINT32_MAX) {
        error_setg(errp, "blade-nic: slot=%u needs backplane=DIR", s->slot);
        return false;
    }
    if (s->slot != UINT32_MAX && s->slot > BLADE_NIC_MAX_SLOT) {
        error_setg(errp, "blade-nic: slot %u is out of range 0..%u",
                   s->slot, BLADE_NIC_MAX_SLOT);
        return false;
    }
    if (s->backplane && !*s->backplane) {
        error_setg(errp, "blade-nic: backplane is empty");
        return false;
    }
    if (s->lane_path && !*s->lane_path) {
        error_setg(errp, "blade-nic: lane is empty");
        return false;
    }
    if (s->backplane) {
        s->sock_path = g_strdup_printf("%s/slot%u.sock", s->backplane,
                                       s->slot);
    } else if (s->lane_path) {
        s->sock_path = g_strdup(s->lane_path);
    }
    if (s->sock_path && strlen(s->sock_path) >= sizeof(sa.sun_path)) {
        error_setg(errp, "blade-nic: lane socket path '%s' is longer than "
                   "a UNIX socket address allows (%zu)", s->sock_path,
                   sizeof(sa.sun_path) - 1);
        g_free(s->sock_path);
        s->sock_path = NULL;
        return false;
    }
    return true;
}

/*
 * The lane, over chardev=ID or over the socket chardev the shorthand
 * (backplane=DIR,slot=N or lane=PATH) makes: a client that reconnects.
 */
static bool blade_nic_lane_init(BladeNicState *s, Error **errp)
{
    LaneConfig cfg;

    if (s->sock_path) {
        Chardev *chr = blade_lane_socket_chardev(s->sock_path, false, errp);

        if (!chr) {
            error_prepend(errp, "blade-nic: lane to %s: ", s->sock_path);
            return false;
        }
        if (!qemu_chr_fe_init(&s->chr, chr, errp)) {
            object_unparent(OBJECT(chr));
            return false;
        }
        s->chr_made = true;
    }
    if (!qemu_chr_fe_backend_connected(&s->chr)) {
        if (s->vtime) {
            error_setg(errp, "blade-nic: timing=virtual needs a lane "
                       "(chardev=ID, or backplane=DIR,slot=N)");
            return false;
        }
        return true;    /* no lane: the link stays down */
    }
    lane_config_init(&cfg, LANE_ROLE_STREAM, NULL);
    cfg.pcs = s->pcs;
    cfg.speed_mbps = s->speed;
    cfg.util_interval_ns = (uint64_t)s->util_interval_ms * SCALE_MS;
    cfg.util_form = s->util_form;
    cfg.vtime = s->vtime;
    cfg.vtime_latency_ns = s->vtime_latency_ns;
    /* the NIC makes and offers the shared-memory rings; see blade-lane.h */
    cfg.shm = LANE_SHM_OFFER;
    s->bl = blade_lane_new(DEVICE(s), &s->chr, &cfg, &blade_nic_lane_ops,
                           blade_nic_lane_changed, s, errp);
    if (!s->bl) {
        error_prepend(errp, "blade-nic: ");
        if (s->chr_made) {
            qemu_chr_fe_deinit(&s->chr, true);
            s->chr_made = false;
        }
        return false;
    }
    s->lane = blade_lane_lane(s->bl);
    if (s->vtime) {
        /* promise as often as the lookahead: the peer never waits long */
        blade_lane_vtime_gate(s->bl, s->vtime_latency_ns, s->vtime_wait_ms);
    }
    trace_blade_nic_lane_open(s->sock_path ? s->sock_path :
                              qemu_chr_fe_get_driver(&s->chr)->label,
                              s->pcs == LANE_PCS_RAW, s->speed);
    if (s->inj_link_down) {
        lane_set_tx_enabled(s->lane, false, vnow());
    }
    blade_nic_lane_sync(s);
    return true;
}

static void blade_nic_realize(PCIDevice *pci_dev, Error **errp)
{
    BladeNicState *s = BLADE_NIC(pci_dev);
    uint8_t *conf = pci_dev->config;
    unsigned v;

    if (!blade_nic_parse_props(s, errp)) {
        return;
    }

    /* The IDs are properties so that a lab can pose as other hardware. */
    pci_set_word(conf + PCI_VENDOR_ID, s->vendor_id);
    pci_set_word(conf + PCI_DEVICE_ID, s->device_id);
    pci_set_word(conf + PCI_SUBSYSTEM_VENDOR_ID, s->subsys_vendor_id);
    pci_set_word(conf + PCI_SUBSYSTEM_ID, s->subsys_id);
    conf[PCI_INTERRUPT_PIN] = 1;

    memory_region_init_io(&s->bar0, OBJECT(s), &blade_nic_mmio_ops, s,
                          "blade-nic.bar0", BLADE_NIC_BAR0_SIZE);
    pci_register_bar(pci_dev, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->bar0);

    if (msix_init_exclusive_bar(pci_dev, NVEC, BLADE_NIC_MSIX_BAR, errp)) {
        g_free(s->sock_path);
        s->sock_path = NULL;
        return;
    }
    for (v = 0; v < NVEC; v++) {
        msix_vector_use(pci_dev, v);
    }
    s->itr_timer[0] = timer_new_ns(QEMU_CLOCK_VIRTUAL, blade_nic_itr_rx, s);
    s->itr_timer[1] = timer_new_ns(QEMU_CLOCK_VIRTUAL, blade_nic_itr_tx, s);
    s->itr_timer[2] = timer_new_ns(QEMU_CLOCK_VIRTUAL, blade_nic_itr_misc,
                                   s);

    s->irq_bh = qemu_bh_new_guarded(blade_nic_irq_bh, s,
                                    &DEVICE(s)->mem_reentrancy_guard);
    s->irq_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, blade_nic_irq_timer, s);
    s->powered = true;

    qemu_macaddr_default_if_unset(&s->macaddr);
    memcpy(s->mac, s->macaddr.a, 6);
    s->util_written_ns = -1;

    if (!blade_nic_lane_init(s, errp)) {
        for (v = 0; v < NVEC; v++) {
            timer_free(s->itr_timer[v]);
            s->itr_timer[v] = NULL;
        }
        qemu_bh_delete(s->irq_bh);
        s->irq_bh = NULL;
        timer_free(s->irq_timer);
        s->irq_timer = NULL;
        g_free(s->sock_path);
        s->sock_path = NULL;
        msix_uninit_exclusive_bar(pci_dev);
        return;
    }
    s->vmse = qemu_add_vm_change_state_handler(blade_nic_vm_state, s);
    s->suspend_notifier.notify = blade_nic_suspend;
    qemu_register_suspend_notifier(&s->suspend_notifier);
    s->wakeup_notifier.notify = blade_nic_wakeup;
    qemu_register_wakeup_notifier(&s->wakeup_notifier);
    s->util_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, blade_nic_util_tick, s);
    if (s->util_interval_ms && s->util_source != BLADE_NIC_UTIL_SRC_GUEST) {
        timer_mod(s->util_timer,
                  vnow() + (int64_t)s->util_interval_ms * SCALE_MS);
    }
}

static void blade_nic_exit(PCIDevice *pci_dev)
{
    BladeNicState *s = BLADE_NIC(pci_dev);
    unsigned v;

    if (s->vmse) {
        qemu_del_vm_change_state_handler(s->vmse);
        s->vmse = NULL;
    }
    notifier_remove(&s->suspend_notifier);
    notifier_remove(&s->wakeup_notifier);
    /* may run inside irq_bh (its message unplugged us): QEMU allows it */
    qemu_bh_delete(s->irq_bh);
    s->irq_bh = NULL;
    timer_free(s->irq_timer);
    s->irq_timer = NULL;
    if (s->bl) {
        /* may run inside a lane callback: the lane frees itself later */
        blade_lane_free(s->bl);
        s->bl = NULL;
        s->lane = NULL;
    }
    if (s->chr_made) {
        qemu_chr_fe_deinit(&s->chr, true);
        s->chr_made = false;
    }
    timer_free(s->util_timer);
    s->util_timer = NULL;
    for (v = 0; v < NVEC; v++) {
        timer_free(s->itr_timer[v]);
        s->itr_timer[v] = NULL;
    }
    g_free(s->sock_path);
    s->sock_path = NULL;
    msix_uninit_exclusive_bar(pci_dev);
}

/* Enabling or disabling MSI-X moves the interrupt between INTA# and MSI-X. */
static void blade_nic_write_config(PCIDevice *d, uint32_t addr, uint32_t val,
                                   int len)
{
    pci_default_write_config(d, addr, val, len);
    blade_nic_update_intx(BLADE_NIC(d));
}

static void blade_nic_reset_hold(Object *obj, ResetType type)
{
    blade_nic_reset_registers(BLADE_NIC(obj), "device reset");
}

static int blade_nic_pre_save(void *opaque)
{
    blade_nic_pull_lane_stats(opaque);
    return 0;
}

static int blade_nic_post_load(void *opaque, int version_id)
{
    BladeNicState *s = opaque;
    unsigned v;

    if ((s->tx.size && !blade_nic_ring_size_ok(s->tx.size)) ||
        (s->rx.size && !blade_nic_ring_size_ok(s->rx.size)) ||
        s->tx.head >= MAX(s->tx.size, 1) || s->tx.tail >= MAX(s->tx.size, 1)
        || s->rx.head >= MAX(s->rx.size, 1) ||
        s->rx.tail >= MAX(s->rx.size, 1)) {
        return -EINVAL;
    }
    for (v = 0; v < NVEC; v++) {
        s->itr[v] = MIN(s->itr[v], BLADE_NIC_ITR_MAX);
    }
    s->ctrl &= BLADE_NIC_CTRL_MASK;
    s->ier &= BLADE_NIC_INT_MASK;
    s->icr &= BLADE_NIC_INT_MASK;
    s->util_reg &= 0xffff;
    s->util_cont &= BLADE_NIC_CONT_PSI_MASK | BLADE_NIC_CONT_RUN_MASK;
    s->util_cont_tx &= BLADE_NIC_CONT_PSI_MASK | BLADE_NIC_CONT_RUN_MASK |
                       BLADE_NIC_CONT_TX_HOST | BLADE_NIC_CONT_TX_VALID;
    if ((s->util_cont & BLADE_NIC_CONT_PSI_MASK) > BLADE_NIC_CONT_PSI_MAX ||
        (s->util_cont_tx & BLADE_NIC_CONT_PSI_MASK) >
        BLADE_NIC_CONT_PSI_MAX) {
        return -EINVAL;
    }
    /*
     * The virtual clock now reads the saved time, which may lie before
     * the lane's last (loadvm of an older snapshot): move the lane's
     * deadlines and our own timers that are not part of the state to it,
     * or TX, utilization sets and reconnects would wait for as long as
     * the snapshot is old.
     */
    if (s->util_timer && timer_pending(s->util_timer)) {
        timer_mod(s->util_timer,
                  vnow() + (int64_t)s->util_interval_ms * SCALE_MS);
    }
    if (s->lane) {
        lane_clock_rebase(s->lane, vnow());
    }
    /*
     * The lane is this process's own: re-send the figures on it.  Link
     * state differences and queued TX are handled when the VM runs.
     */
    if (s->lane && (s->util_tx || s->util_written_ns >= 0)) {
        uint32_t c = s->util_cont_tx;

        if (c & BLADE_NIC_CONT_TX_VALID) {
            lane_set_util_contention(s->lane, s->util_tx & 0xff,
                                     (s->util_tx >> 8) & 0xff,
                                     c & BLADE_NIC_CONT_PSI_MASK,
                                     (c & BLADE_NIC_CONT_RUN_MASK) >>
                                     BLADE_NIC_CONT_RUN_SHIFT, vnow());
        } else {
            lane_set_util(s->lane, s->util_tx & 0xff,
                          (s->util_tx >> 8) & 0xff, vnow());
        }
    }
    return 0;
}

static bool blade_nic_irq_send_needed(void *opaque)
{
    BladeNicState *s = opaque;

    return blade_nic_irq_owed(s);
}

/* MSI-X messages decided but not yet sent by irq_bh when saved. */
static const VMStateDescription vmstate_blade_nic_irq_send = {
    .name = "blade-nic/irq-send",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = blade_nic_irq_send_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_ARRAY(irq_send, BladeNicState, NVEC),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_blade_nic_ring = {
    .name = "blade-nic/ring",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64(base, BladeNicRing),
        VMSTATE_UINT32(size, BladeNicRing),
        VMSTATE_UINT32(head, BladeNicRing),
        VMSTATE_UINT32(tail, BladeNicRing),
        VMSTATE_BOOL(halted, BladeNicRing),
        VMSTATE_END_OF_LIST()
    },
};

/* Datasheet 1.1: only sent once the guest or the host used them. */
static bool blade_nic_util_cont_needed(void *opaque)
{
    BladeNicState *s = opaque;

    return s->util_cont || s->util_cont_armed || s->util_cont_tx;
}

static const VMStateDescription vmstate_blade_nic_util_cont = {
    .name = "blade-nic/util-cont",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = blade_nic_util_cont_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(util_cont, BladeNicState),
        VMSTATE_BOOL(util_cont_armed, BladeNicState),
        VMSTATE_UINT32(util_cont_tx, BladeNicState),
        VMSTATE_END_OF_LIST()
    },
};

/* Datasheet 1.2: only sent once the rings counted something. */
static bool blade_nic_shm_stats_needed(void *opaque)
{
    BladeNicState *s = opaque;

    return s->stats[BLADE_NIC_STAT_SHM_ERRORS] ||
           s->stats[BLADE_NIC_STAT_SHM_KICKS];
}

static const VMStateDescription vmstate_blade_nic_shm_stats = {
    .name = "blade-nic/shm-stats",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = blade_nic_shm_stats_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64_SUB_ARRAY(stats, BladeNicState,
                                 BLADE_NIC_STAT_COUNT_1_1,
                                 BLADE_NIC_STAT_COUNT -
                                 BLADE_NIC_STAT_COUNT_1_1),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_blade_nic = {
    .name = TYPE_BLADE_NIC,
    .version_id = 2,
    .minimum_version_id = 2,
    .pre_save = blade_nic_pre_save,
    .post_load = blade_nic_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, BladeNicState),
        VMSTATE_MSIX(parent_obj, BladeNicState),
        VMSTATE_UINT32(ctrl, BladeNicState),
        VMSTATE_UINT32(scratch, BladeNicState),
        VMSTATE_UINT32(icr, BladeNicState),
        VMSTATE_UINT32(ier, BladeNicState),
        VMSTATE_UINT32_ARRAY(itr, BladeNicState, NVEC),
        VMSTATE_UINT8_ARRAY(mac, BladeNicState, 6),
        VMSTATE_UINT32_ARRAY(mta, BladeNicState, BLADE_NIC_MTA_WORDS),
        VMSTATE_STRUCT(tx, BladeNicState, 1, vmstate_blade_nic_ring,
                       BladeNicRing),
        VMSTATE_STRUCT(rx, BladeNicState, 1, vmstate_blade_nic_ring,
                       BladeNicRing),
        VMSTATE_UINT32(util_reg, BladeNicState),
        VMSTATE_INT64(util_written_ns, BladeNicState),
        VMSTATE_UINT32(util_tx, BladeNicState),
        VMSTATE_UINT32(util_host, BladeNicState),
        VMSTATE_UINT64_SUB_ARRAY(stats, BladeNicState, 0,
                                 BLADE_NIC_STAT_COUNT_1_1),
        VMSTATE_UINT32(stat_latch, BladeNicState),
        VMSTATE_BOOL(link_up, BladeNicState),
        VMSTATE_INT64_ARRAY(last_irq_ns, BladeNicState, NVEC),
        VMSTATE_BOOL_ARRAY(irq_pending, BladeNicState, NVEC),
        VMSTATE_TIMER_PTR_ARRAY(itr_timer, BladeNicState, NVEC),
        VMSTATE_END_OF_LIST()
    },
    .subsections = (const VMStateDescription * const []) {
        &vmstate_blade_nic_util_cont,
        &vmstate_blade_nic_irq_send,
        &vmstate_blade_nic_shm_stats,
        NULL
    },
};

static const Property blade_nic_properties[] = {
    DEFINE_PROP_UINT16("vendor-id", BladeNicState, vendor_id,
                       BLADE_NIC_VENDOR_ID),
    DEFINE_PROP_UINT16("device-id", BladeNicState, device_id,
                       BLADE_NIC_DEVICE_ID),
    DEFINE_PROP_UINT16("subsystem-vendor-id", BladeNicState,
                       subsys_vendor_id, BLADE_NIC_SUBSYS_VENDOR_ID),
    DEFINE_PROP_UINT16("subsystem-id", BladeNicState, subsys_id,
                       BLADE_NIC_SUBSYS_ID),
    DEFINE_PROP_MACADDR("mac", BladeNicState, macaddr),
    DEFINE_PROP_STRING("backplane", BladeNicState, backplane),
    DEFINE_PROP_UINT32("slot", BladeNicState, slot, UINT32_MAX),
    DEFINE_PROP_STRING("lane", BladeNicState, lane_path),
    DEFINE_PROP_CHR("chardev", BladeNicState, chr),
    DEFINE_PROP_UINT32("speed", BladeNicState, speed, 1000),
    DEFINE_PROP_STRING("pcs", BladeNicState, pcs_str),
    DEFINE_PROP_STRING("util-source", BladeNicState, util_source_str),
    DEFINE_PROP_STRING("timing", BladeNicState, timing_str),
    DEFINE_PROP_UINT32("vtime-latency-ns", BladeNicState, vtime_latency_ns,
                       BLADE_VTIME_LATENCY_NS),
    DEFINE_PROP_UINT32("vtime-wait-ms", BladeNicState, vtime_wait_ms,
                       BLADE_VTIME_WAIT_MS),
    DEFINE_PROP_STRING("util-form", BladeNicState, util_form_str),
    DEFINE_PROP_UINT32("util-interval", BladeNicState, util_interval_ms,
                       100),
};

static void blade_nic_class_init(ObjectClass *klass, void *data)
{
    static const char *const vtime_stats[] = {
        "vtime-cuts", "vtime-stamp-back", "vtime-stamp-broke-promise",
        "vtime-promise-back", "vtime-unstamped", "vtime-mismatch",
    };
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);
    size_t i;

    k->realize = blade_nic_realize;
    k->exit = blade_nic_exit;
    k->config_write = blade_nic_write_config;
    k->vendor_id = BLADE_NIC_VENDOR_ID;
    k->device_id = BLADE_NIC_DEVICE_ID;
    k->subsystem_vendor_id = BLADE_NIC_SUBSYS_VENDOR_ID;
    k->subsystem_id = BLADE_NIC_SUBSYS_ID;
    k->revision = BLADE_NIC_REVISION;
    k->class_id = PCI_CLASS_NETWORK_ETHERNET;

    rc->phases.hold = blade_nic_reset_hold;

    dc->desc = "bladeplane blade server NIC (backplane lane to the chassis)";
    dc->vmsd = &vmstate_blade_nic;
    device_class_set_props(dc, blade_nic_properties);
    set_bit(DEVICE_CATEGORY_NETWORK, dc->categories);

    object_class_property_add_bool(klass, "inject-link-down",
                                   blade_nic_get_inj_link_down,
                                   blade_nic_set_inj_link_down);
    object_class_property_add_bool(klass, "inject-sync-loss",
                                   blade_nic_get_inj_sync_loss,
                                   blade_nic_set_inj_sync_loss);
    object_class_property_add(klass, "inject-code-errors", "uint32",
                              blade_nic_get_inj_code_errors,
                              blade_nic_set_inj_code_errors, NULL, NULL);
    object_class_property_add_bool(klass, "inject-dma-error",
                                   blade_nic_get_inj_dma_error,
                                   blade_nic_set_inj_dma_error);
    object_class_property_add_bool(klass, "link-up", blade_nic_get_link_up,
                                   NULL);
    object_class_property_add_str(klass, "link-state",
                                  blade_nic_get_link_state, NULL);
    object_class_property_add_bool(klass, "shm-active",
                                   blade_nic_get_shm_active, NULL);
    object_class_property_add(klass, "shm-sessions", "uint64",
                              blade_nic_get_shm_stat, NULL, NULL, NULL);
    object_class_property_add(klass, "shm-errors", "uint64",
                              blade_nic_get_shm_stat, NULL, NULL, NULL);
    object_class_property_add(klass, "shm-kicks", "uint64",
                              blade_nic_get_shm_stat, NULL, NULL, NULL);
    for (i = 0; i < ARRAY_SIZE(vtime_stats); i++) {
        object_class_property_add(klass, vtime_stats[i], "uint64",
                                  blade_nic_get_vtime_stat, NULL, NULL, NULL);
    }
}

static const TypeInfo blade_nic_info = {
    .name          = TYPE_BLADE_NIC,
    .parent        = TYPE_PCI_DEVICE,
    .instance_size = sizeof(BladeNicState),
    .class_init    = blade_nic_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { }
    },
};

static void blade_nic_register_types(void)
{
    type_register_static(&blade_nic_info);
}

type_init(blade_nic_register_types)
