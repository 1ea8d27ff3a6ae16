/*
 * bladeplane blade NIC: its data path.  Interrupt causes and their
 * moderation, and the guarded bottom half that sends the MSI-X
 * messages; DMA to and from guest memory; the glue that folds the
 * lane's link state and counters into the device's; the TX ring's
 * descriptors to the lane, and frames from the lane to the RX ring.
 * blade-nic-internal.h has the layout of the device's files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "hw/pci/msix.h"
#include "system/runstate.h"
#include "net/checksum.h"
#include "net/eth.h"
#include "fcs.h"
#include "tso.h"
#include "blade-nic-internal.h"
#include "trace.h"

const uint32_t blade_nic_vec_causes[NVEC] = {
    BLADE_NIC_INT_RX_VEC, BLADE_NIC_INT_TX_VEC, BLADE_NIC_INT_MISC_VEC,
};

/* ---- interrupts ---------------------------------------------------------- */

/*
 * A DMA write may land on another device's registers, e.g. a slot control
 * that unplugs this NIC; PCI state is gone then and nothing may touch it.
 */
static bool blade_nic_gone(BladeNicState *s)
{
    return !qdev_is_realized(DEVICE(s));
}

/*
 * In virtual time, at the top of the NIC's own timers: the lane's input
 * due by now first (blade_lane_vtime_take_due()).  False if that
 * unplugged the NIC.
 */
bool blade_nic_take_due(BladeNicState *s)
{
    bool there;

    if (!s->vtime || !s->bl) {
        return true;
    }
    object_ref(s);
    blade_lane_vtime_take_due(s->bl);
    there = !blade_nic_gone(s);
    object_unref(s);
    return there;
}

void blade_nic_update_intx(BladeNicState *s)
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
static void blade_nic_fire(BladeNicState *s, unsigned v)
{
    s->irq_pending[v] = false;
    s->last_irq_ns[v] = vnow();
    if (s->powered && msix_enabled(PCI_DEVICE(s))) {
        /*
         * 7.2.1: a data vector's message masks and clears its causes, so
         * that the driver's poll needs one IER write instead of four.
         */
        if ((s->ctrl & BLADE_NIC_CTRL_AUTOMASK) && v != BLADE_NIC_VEC_MISC) {
            s->ier &= ~blade_nic_vec_causes[v];
            s->icr &= ~blade_nic_vec_causes[v];
        }
        /* one message per request, as when they were sent inline */
        s->irq_send[v] += s->irq_send[v] < UINT32_MAX;
        blade_nic_irq_kick(s);
    }
}

bool blade_nic_irq_owed(BladeNicState *s)
{
    unsigned v;

    for (v = 0; v < NVEC; v++) {
        if (s->irq_send[v]) {
            return true;
        }
    }
    return false;
}

void blade_nic_irq_bh(void *opaque)
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
void blade_nic_irq_timer(void *opaque)
{
    BladeNicState *s = opaque;
    MemReentrancyGuard *g = &DEVICE(s)->mem_reentrancy_guard;

    if (!g->engaged_in_io && !blade_nic_take_due(s)) {
        return;
    }
    if (g->engaged_in_io) {
        /* inside our own MMIO or DMA: as a guarded BH would, defer */
        qemu_bh_schedule(s->irq_bh);
        return;
    }
    g->engaged_in_io = true;
    blade_nic_irq_bh(s);
    g->engaged_in_io = false;
}

void blade_nic_irq_kick(BladeNicState *s)
{
    if (s->vtime) {
        timer_mod(s->irq_timer, vnow());
    } else {
        qemu_bh_schedule(s->irq_bh);
    }
}

void blade_nic_request_irq(BladeNicState *s, unsigned v)
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

void blade_nic_set_cause(BladeNicState *s, uint32_t bits)
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
    bool was;

    if (!blade_nic_take_due(s)) {
        return;
    }
    was = guard_enter(s);

    if (s->irq_pending[v]) {
        if (s->icr & s->ier & blade_nic_vec_causes[v]) {
            blade_nic_fire(s, v);
        } else {
            s->irq_pending[v] = false;
        }
    }
    guard_leave(s, was);
}

void blade_nic_itr_rx(void *opaque)
{
    blade_nic_itr_expired(opaque, BLADE_NIC_VEC_RX);
}

void blade_nic_itr_tx(void *opaque)
{
    blade_nic_itr_expired(opaque, BLADE_NIC_VEC_TX);
}

void blade_nic_itr_misc(void *opaque)
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

void blade_nic_update_link(BladeNicState *s)
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
void blade_nic_pull_lane_stats(BladeNicState *s)
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
void blade_nic_lane_sync(BladeNicState *s)
{
    if (!s->lane || s->in_lane) {
        return;
    }
    blade_nic_pull_lane_stats(s);
    blade_nic_update_link(s);
}

/* blade-lane did lane work of its own (input, timers, output, events). */
void blade_nic_lane_changed(void *opaque)
{
    blade_nic_lane_sync(opaque);
}

/* Count a frame of @len octets (no FCS) in its RMON bucket (10.1). */
static void blade_nic_hist(BladeNicState *s, unsigned base, size_t len)
{
    static const uint32_t bound[BLADE_NIC_HIST_BUCKETS] =
        BLADE_NIC_HIST_BOUNDS;
    size_t octets = MAX(len, 60) + 4;
    unsigned b = 0;

    while (b + 1 < BLADE_NIC_HIST_BUCKETS && octets > bound[b]) {
        b++;
    }
    s->stats[base + b]++;
}

/* ---- transmit ------------------------------------------------------------ */

/* A frame's context (6.1.1): what the device does to it before it goes. */
typedef struct BladeNicTxCtx {
    bool csum;
    bool tso;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t mss;
    uint16_t hdr_len;
    Tso cut;                    /* tso: the frame, checked */
} BladeNicTxCtx;

/*
 * Read a context descriptor; false if it breaks a rule of 6.1.1 (then
 * the frame is malformed).  Only the first descriptor of a frame may be
 * one; MSS and HDR_LEN are 0 unless it asks for TSO, which needs CSUM.
 */
static bool blade_nic_tx_ctx(const uint8_t *d, uint32_t nd, BladeNicTxCtx *c)
{
    uint16_t flags = lduw_le_p(d + BLADE_NIC_DESC_FLAGS);

    c->csum = flags & BLADE_NIC_DFLAG_CSUM;
    c->tso = flags & BLADE_NIC_DFLAG_TSO;
    c->csum_start = lduw_le_p(d + BLADE_NIC_CTX_CSUM_START);
    c->csum_offset = lduw_le_p(d + BLADE_NIC_CTX_CSUM_OFFSET);
    c->mss = lduw_le_p(d + BLADE_NIC_CTX_MSS);
    c->hdr_len = lduw_le_p(d + BLADE_NIC_CTX_HDR_LEN);
    return nd == 1 && !(flags & ~BLADE_NIC_CTX_FLAGS_MASK) &&
           !lduw_le_p(d + BLADE_NIC_DESC_BUF_LEN) &&
           (c->tso ? c->csum : !c->mss && !c->hdr_len);
}

/*
 * Apply the context to the gathered frame; false if it does not fit the
 * frame.  The checksum is Linux's CHECKSUM_PARTIAL: the ones' complement
 * sum from CSUM_START to the end of the frame (the field holds the
 * pseudo-header's sum), stored complemented; 0 goes as 0xffff, which UDP
 * requires and TCP takes as the same value.
 */
static bool blade_nic_tx_apply_ctx(BladeNicState *s, BladeNicTxCtx *c,
                                   uint32_t total)
{
    uint32_t at = (uint32_t)c->csum_start + c->csum_offset;

    if (c->tso) {
        /*
         * 6.1.2: each frame's checksum is the device's; the context
         * must still say where the TCP header is and the field goes.
         */
        return tso_prepare(&c->cut, s->txbuf, total, c->hdr_len, c->mss,
                           BLADE_NIC_MAX_FRAME) == TSO_OK &&
               c->csum_start == c->cut.l4_off && c->csum_offset == 16;
    }
    if (!c->csum) {
        return true;
    }
    if (c->csum_start < ETH_HLEN || at + 2 > total) {
        return false;
    }
    stw_be_p(s->txbuf + at,
             net_checksum_finish_nozero(
                 net_checksum_add(total - c->csum_start,
                                  s->txbuf + c->csum_start)));
    return true;
}

/*
 * Send the frame gathered in txbuf (@total octets): 0, -EAGAIN (the
 * lane is full: a TSO frame goes on later from where it stopped), or
 * another error (the lane refused it).
 */
static int blade_nic_tx_send(BladeNicState *s, const BladeNicTxCtx *c,
                             uint32_t total)
{
    uint32_t was_sent = s->tso_sent;
    int ret = 0;

    if (!c->tso) {
        ret = lane_send_frame(s->lane, s->txbuf, total, vnow());
        if (ret >= 0) {
            s->stats[BLADE_NIC_STAT_TX_FRAMES]++;
            s->stats[BLADE_NIC_STAT_TX_OCTETS] += total;
            blade_nic_hist(s, BLADE_NIC_STAT_TX_HIST, total);
            s->stats[BLADE_NIC_STAT_TX_CSUM] += c->csum;
        }
    }
    while (c->tso && s->tso_sent < c->cut.segs) {
        size_t n = tso_segment(&c->cut, s->tso_sent, s->segbuf);

        ret = lane_send_frame(s->lane, s->segbuf, n, vnow());
        if (ret < 0) {
            break;
        }
        s->tso_sent++;
        s->stats[BLADE_NIC_STAT_TX_FRAMES]++;
        s->stats[BLADE_NIC_STAT_TX_OCTETS] += n;
        blade_nic_hist(s, BLADE_NIC_STAT_TX_HIST, n);
        s->stats[BLADE_NIC_STAT_TX_CSUM]++;
    }
    if (c->tso && ret >= 0) {
        s->stats[BLADE_NIC_STAT_TX_TSO]++;
    }
    /* in virtual time what went on the lane leaves at once (stamped) */
    if (s->vtime && (ret >= 0 || s->tso_sent != was_sent)) {
        blade_lane_flush(s->bl);
    }
    return ret;
}

/*
 * Send the frames the driver queued in [head, tail).  Bounded: each pass
 * handles at most one ring's worth of descriptors, and the loop ends at
 * tail, at an incomplete chain, on lane back-pressure or on a DMA error.
 */
void blade_nic_tx_process(BladeNicState *s)
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
        bool bad = false, bad_ctx = false, eop = false;
        BladeNicTxCtx ctx = { 0 };
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
            if (lduw_le_p(d + BLADE_NIC_DESC_FLAGS) & BLADE_NIC_DFLAG_CTX) {
                if (!blade_nic_tx_ctx(d, nd, &ctx)) {
                    bad = bad_ctx = true;
                }
            } else if (total + blen > (ctx.tso ? BLADE_NIC_TSO_MAX_FRAME :
                                               BLADE_NIC_MAX_FRAME)) {
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
        } else if (!bad && !blade_nic_tx_apply_ctx(s, &ctx, total)) {
            bad = bad_ctx = true;
        }
        st = BLADE_NIC_DSTAT_DD;
        if (bad) {
            st |= BLADE_NIC_DSTAT_ERR;
            s->stats[BLADE_NIC_STAT_TX_ERRORS]++;
            s->stats[BLADE_NIC_STAT_TX_CTX_ERRORS] += bad_ctx;
            trace_blade_nic_tx_drop(bad_ctx ? "bad context" : "malformed frame",
                                    r->head, total, nd);
            err = true;
        } else if (!s->link_up) {
            st |= BLADE_NIC_DSTAT_NOLINK;
            s->stats[BLADE_NIC_STAT_TX_NOLINK]++;
            trace_blade_nic_tx_drop("link down", r->head, total, nd);
        } else {
            ret = blade_nic_tx_send(s, &ctx, total);
            if (ret == -EAGAIN) {
                /* tx_ready() resumes; the descriptors stay the device's */
                trace_blade_nic_tx_wait(vnow(), r->head);
                if (s->vtime) {
                    blade_lane_vtime_hold_tx(s->bl);
                }
                goto out;
            } else if (ret < 0) {
                st |= BLADE_NIC_DSTAT_NOLINK;
                s->stats[BLADE_NIC_STAT_TX_NOLINK]++;
                trace_blade_nic_tx_drop("lane refused", r->head, total, nd);
            } else {
                trace_blade_nic_tx_frame(vnow(), r->head, total, nd);
            }
        }
        /* Write back every descriptor of the frame, EOP on the last. */
        s->tso_sent = 0;
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

/*
 * CTRL.RXCSUM (6.2.1): check the TCP or UDP checksum of an IPv4 or IPv6
 * frame, as e1000e and igb do.  Not checked: other protocols, IPv4
 * fragments, UDP without a checksum; the driver's stack checks those.
 */
static void blade_nic_rx_csum(BladeNicState *s, const uint8_t *buf,
                              size_t len, uint16_t *st)
{
    bool hasip4, hasip6, valid;
    EthL4HdrProto l4;

    net_rx_pkt_attach_data(s->rx_pkt, buf, len, false);
    net_rx_pkt_get_protocols(s->rx_pkt, &hasip4, &hasip6, &l4);
    if ((!hasip4 && !hasip6) ||
        (l4 != ETH_L4_HDR_PROTO_TCP && l4 != ETH_L4_HDR_PROTO_UDP) ||
        !net_rx_pkt_validate_l4_csum(s->rx_pkt, &valid)) {
        return;
    }
    *st |= BLADE_NIC_DSTAT_L4CS | (valid ? 0 : BLADE_NIC_DSTAT_L4ERR);
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
    if (s->ctrl & BLADE_NIC_CTRL_RXCSUM) {
        blade_nic_rx_csum(s, buf, len, &st);
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
    blade_nic_hist(s, BLADE_NIC_STAT_RX_HIST, len);
    if (st & BLADE_NIC_DSTAT_BCAST) {
        s->stats[BLADE_NIC_STAT_RX_BCAST]++;
    } else if (st & BLADE_NIC_DSTAT_MCAST) {
        s->stats[BLADE_NIC_STAT_RX_MCAST]++;
    }
    if (st & BLADE_NIC_DSTAT_L4ERR) {
        s->stats[BLADE_NIC_STAT_RX_CSUM_BAD]++;
    } else if (st & BLADE_NIC_DSTAT_L4CS) {
        s->stats[BLADE_NIC_STAT_RX_CSUM_GOOD]++;
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

const LaneOps blade_nic_lane_ops = {
    .rx_frame = blade_nic_rx_frame,
    .can_receive = blade_nic_can_receive,
    .event = blade_nic_lane_event,
    .tx_ready = blade_nic_tx_ready,
};
