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
 * blade-nic-internal.h has the layout of the device's files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/module.h"
#include "qemu/main-loop.h"
#include "qemu/units.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "system/runstate.h"
#include "system/cpu-timers.h"
#include "system/qtest.h"
#include <sys/un.h>
#include "blade-nic-internal.h"
#include "trace.h"

#define BLADE_NIC_MAX_SLOT 63
#define BLADE_NIC_MAX_SPEED 100000
#define BLADE_NIC_MAX_UTIL_INTERVAL 60000

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

/*
 * The lane's counters: shm-sessions, shm-errors, shm-kicks (its rings);
 * tx-fifo-late, tx-fifo-late-ns (times the paced line ran dry before the
 * device was let go to refill its transmit packet buffer, and the line
 * time lost so: a host that gave QEMU the CPU late).
 */
static void blade_nic_get_lane_stat(Object *obj, Visitor *v,
                                    const char *name, void *opaque,
                                    Error **errp)
{
    BladeNicState *s = BLADE_NIC(obj);
    const LaneStats *ls = s->lane ? lane_stats(s->lane) : NULL;
    uint64_t val = 0;

    if (ls && !strcmp(name, "shm-sessions")) {
        val = ls->shm_up;
    } else if (ls && !strcmp(name, "shm-errors")) {
        val = ls->shm_errors;
    } else if (ls && !strcmp(name, "shm-kicks")) {
        val = ls->shm_kicks;
    } else if (ls && !strcmp(name, "tx-fifo-late")) {
        val = ls->tx_fifo_late;
    } else if (ls) {
        val = ls->tx_fifo_late_ns;
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
    } else if (!strcmp(name, "vtime-stamp-broke-quiet")) {
        val = ls->vtime.stamp_broke_quiet;
    } else if (!strcmp(name, "vtime-quiet-sent")) {
        val = ls->vtime.tx_quiet;
    } else if (!strcmp(name, "vtime-quiet-raised")) {
        val = ls->vtime.tx_quiet_raised;
    } else if (!strcmp(name, "vtime-promises-sent")) {
        val = ls->vtime.tx_promises;
    } else if (!strcmp(name, "vtime-promises-taken")) {
        val = ls->vtime.promises;
    } else if (!strcmp(name, "vtime-quiet-taken")) {
        val = ls->vtime.quiet;
    } else if (!strcmp(name, "vtime-too-late")) {
        val = ls->vtime.too_late;
    } else if (!strcmp(name, "vtime-stamps-raised")) {
        val = ls->vtime.tx_stamps_raised;
    } else if (!strcmp(name, "vtime-tx-waits")) {
        val = ls->tx_queue_full;
    } else if (!strcmp(name, "vtime-held")) {
        val = ls->vtime_held;
    } else if (!strcmp(name, "vtime-late")) {
        val = ls->vtime_late;
    }
    visit_type_uint64(v, name, &val, errp);
}

/*
 * vtime-rejoin-ns: where the clock of a chassis that takes the place of
 * this lane's peer must start, on the chassis's clock: the latest of
 * what the peer promised and stamped (a quiet promise too, while it
 * holds), and of this VM's clock less a latency (it ran on a quiet
 * promise that its own write then voided).  The new chassis's records
 * then take effect here no earlier than this VM's clock, and break no
 * promise.  0 with timing=real.
 */
static void blade_nic_get_vtime_rejoin(Object *obj, Visitor *v,
                                       const char *name, void *opaque,
                                       Error **errp)
{
    BladeNicState *s = BLADE_NIC(obj);
    const VtimeLink *l = s->lane && s->vtime ? lane_vtime_link(s->lane)
                                             : NULL;
    uint64_t val = 0;

    if (l) {
        uint64_t now = vnow();

        val = MAX(MAX(l->peer_promise, l->last_stamp), l->peer_quiet);
        val = MAX(val, now > l->latency_ns ? now - l->latency_ns : 0);
        val = vtime_add_sat(val, s->vtime_start_ns);
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
    /* as the UTIL_CFG register shows it (datasheet) */
    static const unsigned util_source[BLADE_UTIL_SOURCE__MAX] = {
        [BLADE_UTIL_SOURCE_AUTO] = BLADE_NIC_UTIL_SRC_AUTO,
        [BLADE_UTIL_SOURCE_GUEST] = BLADE_NIC_UTIL_SRC_GUEST,
        [BLADE_UTIL_SOURCE_HOST] = BLADE_NIC_UTIL_SRC_HOST,
    };
    struct sockaddr_un sa;

    s->pcs = s->pcs_prop == BLADE_LANE_PCS_RAW ? LANE_PCS_RAW
                                               : LANE_PCS_8B10B;
    s->util_source = util_source[s->util_source_prop];
    s->util_form = s->util_form_prop == BLADE_UTIL_FORM_EXPANDED ?
                   PCS_UTIL_FORM_EXPANDED : PCS_UTIL_FORM_IDLE;
    if (!blade_lane_check_timing("blade-nic", s->timing,
                                 s->vtime_latency_ns, &s->vtime, errp)) {
        return false;
    }
    if (s->vtime_start_ns && !s->vtime) {
        error_setg(errp, "blade-nic: vtime-start-ns needs timing=virtual");
        return false;
    }
    if (s->vtime_start_ns > VTIME_LATEST) {
        error_setg(errp, "blade-nic: vtime-start-ns %" PRIu64 " is past "
                   "the latest virtual time, %" PRIu64 " ns",
                   s->vtime_start_ns, (uint64_t)VTIME_LATEST);
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
    if (!blade_lane_check_tx_fifo("blade-nic", s->tx_fifo, errp)) {
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
    cfg.vtime_start_ns = s->vtime_start_ns;
    /* an icount clock moves an instruction at a time */
    cfg.vtime_tick_ns = icount_enabled() ? icount_to_ns(1) : 1;
    blade_lane_config_tx_fifo(&cfg, s->tx_fifo);
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
        /*
         * By default twice the lookahead: the gate promises at least that
         * often anyway (a computing guest reaches its horizon within two
         * latencies of its last promise), and promising between costs a
         * round of wake-ups that a host with fewer cores than processes
         * cannot hide (docs/virtual-time.md, "What it costs").
         */
        blade_lane_vtime_gate(s->bl, s->vtime_promise_ns ? s->vtime_promise_ns
                              : 2 * (uint64_t)s->vtime_latency_ns,
                              s->vtime_wait_ms, s->vtime_quiet);
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
                                 BLADE_NIC_STAT_COUNT_1_2 -
                                 BLADE_NIC_STAT_COUNT_1_1),
        VMSTATE_END_OF_LIST()
    },
};

/* Datasheet 1.3: only sent once one of its counters counted. */
static bool blade_nic_stats_1_3_needed(void *opaque)
{
    BladeNicState *s = opaque;
    unsigned i;

    for (i = BLADE_NIC_STAT_COUNT_1_2; i < BLADE_NIC_STAT_COUNT; i++) {
        if (s->stats[i]) {
            return true;
        }
    }
    return false;
}

static const VMStateDescription vmstate_blade_nic_stats_1_3 = {
    .name = "blade-nic/stats-1.3",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = blade_nic_stats_1_3_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT64_SUB_ARRAY(stats, BladeNicState,
                                 BLADE_NIC_STAT_COUNT_1_2,
                                 BLADE_NIC_STAT_COUNT -
                                 BLADE_NIC_STAT_COUNT_1_2),
        VMSTATE_END_OF_LIST()
    },
};

/* 1.3: a TSO frame part sent when the state was saved (6.1.2). */
static bool blade_nic_tso_needed(void *opaque)
{
    return ((BladeNicState *)opaque)->tso_sent;
}

static const VMStateDescription vmstate_blade_nic_tso = {
    .name = "blade-nic/tso",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = blade_nic_tso_needed,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32(tso_sent, BladeNicState),
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
        &vmstate_blade_nic_stats_1_3,
        &vmstate_blade_nic_tso,
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
    DEFINE_PROP_UINT32("tx-fifo", BladeNicState, tx_fifo, BLADE_LANE_TX_FIFO),
    DEFINE_PROP_BLADE_LANE_PCS("pcs", BladeNicState, pcs_prop),
    DEFINE_PROP_BLADE_UTIL_SOURCE("util-source", BladeNicState,
                                  util_source_prop),
    DEFINE_PROP_BLADE_TIMING("timing", BladeNicState, timing),
    DEFINE_PROP_UINT32("vtime-latency-ns", BladeNicState, vtime_latency_ns,
                       BLADE_VTIME_LATENCY_NS),
    DEFINE_PROP_UINT32("vtime-wait-ms", BladeNicState, vtime_wait_ms,
                       BLADE_VTIME_WAIT_MS),
    DEFINE_PROP_BOOL("vtime-quiet", BladeNicState, vtime_quiet, true),
    DEFINE_PROP_UINT32("vtime-promise-ns", BladeNicState, vtime_promise_ns, 0),
    DEFINE_PROP_UINT64("vtime-start-ns", BladeNicState, vtime_start_ns, 0),
    DEFINE_PROP_BLADE_UTIL_FORM("util-form", BladeNicState, util_form_prop),
    DEFINE_PROP_UINT32("util-interval", BladeNicState, util_interval_ms,
                       100),
};

static void blade_nic_class_init(ObjectClass *klass, void *data)
{
    static const char *const vtime_stats[] = {
        "vtime-cuts", "vtime-stamp-back", "vtime-stamp-broke-promise",
        "vtime-promise-back", "vtime-unstamped", "vtime-mismatch",
        "vtime-stamp-broke-quiet", "vtime-quiet-sent", "vtime-quiet-raised",
        "vtime-promises-sent", "vtime-promises-taken", "vtime-quiet-taken",
        "vtime-too-late", "vtime-stamps-raised", "vtime-tx-waits",
        "vtime-held", "vtime-late",
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
                              blade_nic_get_lane_stat, NULL, NULL, NULL);
    object_class_property_add(klass, "shm-errors", "uint64",
                              blade_nic_get_lane_stat, NULL, NULL, NULL);
    object_class_property_add(klass, "shm-kicks", "uint64",
                              blade_nic_get_lane_stat, NULL, NULL, NULL);
    object_class_property_add(klass, "tx-fifo-late", "uint64",
                              blade_nic_get_lane_stat, NULL, NULL, NULL);
    object_class_property_add(klass, "tx-fifo-late-ns", "uint64",
                              blade_nic_get_lane_stat, NULL, NULL, NULL);
    for (i = 0; i < ARRAY_SIZE(vtime_stats); i++) {
        object_class_property_add(klass, vtime_stats[i], "uint64",
                                  blade_nic_get_vtime_stat, NULL, NULL, NULL);
    }
    object_class_property_add(klass, "vtime-rejoin-ns", "uint64",
                              blade_nic_get_vtime_rejoin, NULL, NULL, NULL);
}

/*
 * The receive checksum parser lives as long as the object: an unplug can
 * run while a frame is on its way in (6.4), and realize may fail.
 */
static void blade_nic_instance_init(Object *obj)
{
    net_rx_pkt_init(&BLADE_NIC(obj)->rx_pkt);
}

static void blade_nic_instance_finalize(Object *obj)
{
    net_rx_pkt_uninit(BLADE_NIC(obj)->rx_pkt);
}

static const TypeInfo blade_nic_info = {
    .name          = TYPE_BLADE_NIC,
    .parent        = TYPE_PCI_DEVICE,
    .instance_size = sizeof(BladeNicState),
    .instance_init = blade_nic_instance_init,
    .instance_finalize = blade_nic_instance_finalize,
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
