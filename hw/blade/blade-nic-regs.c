/*
 * bladeplane blade NIC: BAR0's register decode (docs/blade-nic.md has
 * the map).  blade-nic-internal.h has the layout of the device's
 * files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/host-utils.h"
#include "blade-nic-internal.h"
#include "trace.h"

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

void blade_nic_reset_registers(BladeNicState *s, const char *why)
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
    s->tso_sent = 0;
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

bool blade_nic_ring_size_ok(uint32_t v)
{
    return v >= BLADE_NIC_RING_MIN && v <= BLADE_NIC_RING_MAX &&
           is_power_of_2(v);
}

void blade_nic_bad(BladeNicState *s, const char *what, hwaddr addr,
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
        s->tso_sent = 0;
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

const MemoryRegionOps blade_nic_mmio_ops = {
    .read = blade_nic_mmio_read,
    .write = blade_nic_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /* Registers are 32 bits wide; other sizes are not decoded. */
    .valid = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};
