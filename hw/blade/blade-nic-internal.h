/*
 * bladeplane blade NIC: the device's state and what its files share.
 *
 *   blade-nic.c            QOM, properties, realize and unrealize, power
 *                          (S3) and run state, vmstate, and the QOM
 *                          properties for fault injection and link state
 *   blade-nic-datapath.c   interrupts (moderation, the MSI-X bottom half),
 *                          DMA, the lane glue, transmit and receive
 *   blade-nic-util.c       utilization: the guest's figures and the
 *                          host's, and what goes on the lane
 *   blade-nic-regs.c       the register decode of BAR0
 *
 * blade-nic.h is the register map, the guest's (and the qtests') view;
 * docs/blade-nic.md is the contract.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_BLADE_NIC_INTERNAL_H
#define HW_BLADE_NIC_INTERNAL_H

#include "qemu/notify.h"
#include "qemu/timer.h"
#include "hw/pci/pci_device.h"
#include "chardev/char-fe.h"
#include "net/net.h"
#include "hw/net/net_rx_pkt.h"
#include "lane-transport.h"
#include "blade-lane.h"
#include "blade-props.h"
#include "blade-nic.h"

OBJECT_DECLARE_SIMPLE_TYPE(BladeNicState, BLADE_NIC)

#define NVEC BLADE_NIC_MSIX_VECTORS

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
    uint8_t txbuf[BLADE_NIC_TSO_MAX_FRAME];
    uint8_t segbuf[BLADE_NIC_MAX_FRAME];    /* one frame of a TSO frame */
    uint32_t tso_sent;          /* ... of the one at TX_HEAD, on the lane */
    struct NetRxPkt *rx_pkt;    /* parses frames for CTRL.RXCSUM */

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
    uint32_t tx_fifo;           /* transmit packet buffer, octets */
    BladeLanePcs pcs_prop;
    BladeUtilSource util_source_prop;
    BladeTiming timing;
    uint32_t vtime_latency_ns;
    uint32_t vtime_wait_ms;
    /* the chassis's virtual time at this VM's 0: a blade restarted */
    uint64_t vtime_start_ns;
    bool vtime_quiet;           /* an idle guest promises quiet */
    uint32_t vtime_promise_ns;  /* a computing guest's promise period */
    bool vtime;                 /* timing=virtual */
    QEMUTimer *irq_timer;       /* irq_bh's work at a virtual time */
    BladeUtilForm util_form_prop;
    uint32_t util_interval_ms;
    /* parsed */
    LanePcs pcs;
    unsigned util_source;
    PcsUtilForm util_form;
    char *sock_path;
};

static inline int64_t vnow(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

/*
 * Every entry point that can DMA or raise interrupts (timers, fd
 * handlers) engages the device's re-entrancy guard, as MMIO dispatch and
 * guarded BHs do: a DMA or MSI-X message aimed at the device's own BARs
 * then fails (and is reported as a DMA error) instead of recursing.
 */
static inline bool guard_enter(BladeNicState *s)
{
    MemReentrancyGuard *g = &DEVICE(s)->mem_reentrancy_guard;
    bool was = g->engaged_in_io;

    g->engaged_in_io = true;
    return was;
}

static inline void guard_leave(BladeNicState *s, bool was)
{
    DEVICE(s)->mem_reentrancy_guard.engaged_in_io = was;
}

/* blade-nic-datapath.c */
extern const uint32_t blade_nic_vec_causes[NVEC];
extern const LaneOps blade_nic_lane_ops;

bool blade_nic_take_due(BladeNicState *s);
void blade_nic_update_intx(BladeNicState *s);
bool blade_nic_irq_owed(BladeNicState *s);
void blade_nic_irq_bh(void *opaque);
void blade_nic_irq_timer(void *opaque);
void blade_nic_irq_kick(BladeNicState *s);
void blade_nic_request_irq(BladeNicState *s, unsigned v);
void blade_nic_set_cause(BladeNicState *s, uint32_t bits);
void blade_nic_itr_rx(void *opaque);
void blade_nic_itr_tx(void *opaque);
void blade_nic_itr_misc(void *opaque);
void blade_nic_update_link(BladeNicState *s);
void blade_nic_pull_lane_stats(BladeNicState *s);
void blade_nic_lane_sync(BladeNicState *s);
void blade_nic_lane_changed(void *opaque);
void blade_nic_tx_process(BladeNicState *s);

/* blade-nic-util.c */
void blade_nic_util_tick(void *opaque);
void blade_nic_util_write(BladeNicState *s, uint32_t val);
void blade_nic_util_cont_write(BladeNicState *s, hwaddr addr,
                               uint32_t val);
uint32_t blade_nic_util_tx_read(BladeNicState *s);

/* blade-nic-regs.c */
extern const MemoryRegionOps blade_nic_mmio_ops;

void blade_nic_reset_registers(BladeNicState *s, const char *why);
bool blade_nic_ring_size_ok(uint32_t v);
void blade_nic_bad(BladeNicState *s, const char *what, hwaddr addr,
                   uint64_t val);

#endif
