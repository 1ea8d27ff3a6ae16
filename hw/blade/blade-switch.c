/*
 * bladeplane switch blade: the chassis's switch and blade server manager.
 *
 * Ports: one backplane lane server per slot (net/lane-transport.h, a
 * socket BACKPLANE/slotN.sock) and an uplink on a QEMU netdev.  Frames
 * that arrive are queued per ingress port and served in deficit round
 * robin by a bottom half, through the forwarding engine
 * (net/switch-core.h), into bounded per-port egress queues.  A full
 * ingress queue stops reading its port (back-pressure); a full egress
 * queue drops and counts.  docs/switch-blade.md is the contract;
 * blade-switch-internal.h has the layout of the device's files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "system/system.h"
#include "system/qtest.h"
#include "system/runstate.h"
#include "system/iothread.h"
#include "qemu/module.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-visit-blade.h"
#include "blade-switch-internal.h"
#include "trace.h"

#define BSW_MAX_SPEED       400000      /* Mb/s */
#define BSW_MAX_QUEUE       65536       /* queue-frames upper bound */

uint64_t blade_switch_now(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

SwitchCore *blade_switch_core(BladeSwitchState *s)
{
    return s->core;
}

/* ---- life cycle ---------------------------------------------------------- */

/*
 * The backplane directory: private to this user, since whoever can enter
 * it can take a slot.  Created (0700) if missing.
 */
static bool bsw_backplane_dir(BladeSwitchState *s, Error **errp)
{
    struct stat st;

    if (!s->backplane) {
        const char *base = g_getenv("XDG_RUNTIME_DIR");
        g_autofree char *tmpl = g_build_filename(base ? base :
                                                 g_get_tmp_dir(),
                                                 "bladeplane-XXXXXX", NULL);

        /* g_mkdtemp_full() fills the template in, or leaves it ours. */
        if (!g_mkdtemp_full(tmpl, 0700)) {
            error_setg_errno(errp, errno, "blade-switch: cannot create a "
                             "backplane directory");
            return false;
        }
        s->backplane = g_steal_pointer(&tmpl);
        s->backplane_made = true;
        return true;
    }
    if (!*s->backplane) {
        error_setg(errp, "blade-switch: backplane is empty");
        return false;
    }
    if (mkdir(s->backplane, 0700) == 0) {
        s->backplane_made = true;
        return true;
    }
    if (errno != EEXIST) {
        error_setg_errno(errp, errno, "blade-switch: cannot create backplane "
                         "directory '%s'", s->backplane);
        return false;
    }
    if (stat(s->backplane, &st) < 0 || !S_ISDIR(st.st_mode)) {
        error_setg(errp, "blade-switch: backplane '%s' is not a directory",
                   s->backplane);
        return false;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077)) {
        error_setg(errp, "blade-switch: backplane directory '%s' must be "
                   "private (owned by this user, mode 0700, not %04o)",
                   s->backplane, (unsigned)(st.st_mode & 07777));
        return false;
    }
    return true;
}

/*
 * chain-chardevN: given from 0 with no gap, not next to chain netdevs;
 * vtime-chain-latency-ns for as many of them at most, in virtual time.
 */
static bool bsw_check_chain_lanes(BladeSwitchState *s, Error **errp)
{
    unsigned i;

    s->nchain_lanes = 0;
    for (i = 0; i < FAB_MAX_PORTS; i++) {
        if (!qemu_chr_fe_backend_connected(&s->chain_chr[i])) {
            continue;
        }
        if (i != s->nchain_lanes) {
            error_setg(errp, "blade-switch: chain-chardev%u is given but "
                       "chain-chardev%u is not: number them from 0", i,
                       s->nchain_lanes);
            return false;
        }
        s->nchain_lanes++;
    }
    if (s->nchain_lanes && s->nchain) {
        error_setg(errp, "blade-switch: chain ports are netdevs (chain) or "
                   "lanes (chain-chardevN), not both");
        return false;
    }
    if (s->nchain_latency && !s->vtime) {
        error_setg(errp, "blade-switch: vtime-chain-latency-ns is for "
                   "timing=virtual");
        return false;
    }
    if (s->nchain_latency > s->nchain_lanes) {
        error_setg(errp, "blade-switch: vtime-chain-latency-ns has %u "
                   "entries for %u chain lanes", s->nchain_latency,
                   s->nchain_lanes);
        return false;
    }
    return true;
}

/* iothreads: each one exists; not in virtual time; not more than slots. */
static bool bsw_check_iothreads(BladeSwitchState *s, Error **errp)
{
    unsigned i;

    if (s->vtime) {
        error_setg(errp, "blade-switch: iothreads are for timing=real: in "
                   "virtual time the chassis's clock steps the lanes");
        return false;
    }
    if (s->niothreads > MAX(s->slots, 1)) {
        error_setg(errp, "blade-switch: %u iothreads for %u slots: a slot's "
                   "lane runs on one thread", s->niothreads, s->slots);
        return false;
    }
    for (i = 0; i < s->niothreads; i++) {
        if (!s->iothread_ids[i] || !iothread_by_id(s->iothread_ids[i])) {
            error_setg(errp, "blade-switch: iothreads: no iothread '%s' "
                       "(-object iothread,id=...)",
                       s->iothread_ids[i] ? s->iothread_ids[i] : "");
            return false;
        }
    }
    return true;
}

static bool bsw_check_props(BladeSwitchState *s, Error **errp)
{
    static const unsigned estimator[BLADE_UTIL_ESTIMATOR__MAX] = {
        [BLADE_UTIL_ESTIMATOR_WAIT] = BAL_UTIL_WAIT,
        [BLADE_UTIL_ESTIMATOR_BACKLOG] = BAL_UTIL_BACKLOG,
        [BLADE_UTIL_ESTIMATOR_NET] = BAL_UTIL_NET,
        [BLADE_UTIL_ESTIMATOR_REPORTED] = BAL_UTIL_REPORTED,
    };

    s->util_estimator = estimator[s->util_estimator_prop];
    s->pcs = s->pcs_prop == BLADE_LANE_PCS_RAW ? LANE_PCS_RAW
                                               : LANE_PCS_8B10B;

    if (s->slots > BLADE_SWITCH_MAX_SLOTS) {
        error_setg(errp, "blade-switch: slots must be 0 to %u, not %u",
                   BLADE_SWITCH_MAX_SLOTS, s->slots);
        return false;
    }
    if (!blade_lane_check_timing("blade-switch", s->timing,
                                 s->vtime_latency_ns, &s->vtime, errp)) {
        return false;
    }
    if (s->vtime && !qtest_enabled()) {
        error_setg(errp, "blade-switch: timing=virtual drives the chassis's "
                   "own clock: start it with -accel qtest (no CPU, a clock "
                   "that moves only when told)");
        return false;
    }
    if (!bsw_check_chain_lanes(s, errp)) {
        return false;
    }
    if (s->vtime && (s->uplink_conf.peers.ncs[0] || s->nchain)) {
        error_setg(errp, "blade-switch: timing=virtual: the uplink and "
                   "chain netdevs run in real time; join chassis in virtual "
                   "time with chain-chardevN (lanes)");
        return false;
    }
    if (s->vtime_snapshot_ns && !s->vtime) {
        error_setg(errp, "blade-switch: vtime-snapshot-ns is for "
                   "timing=virtual");
        return false;
    }
    if (s->vtime_snapshot_ns > INT64_MAX) {
        error_setg(errp, "blade-switch: vtime-snapshot-ns must be at most "
                   "%" PRId64, INT64_MAX);
        return false;
    }
    if (s->vtime_start_ns && !s->vtime) {
        error_setg(errp, "blade-switch: vtime-start-ns is for "
                   "timing=virtual");
        return false;
    }
    if (s->vtime_start_ns > VTIME_LATEST) {
        error_setg(errp, "blade-switch: vtime-start-ns %" PRIu64 " is past "
                   "the latest virtual time, %" PRIu64 " ns",
                   s->vtime_start_ns, (uint64_t)VTIME_LATEST);
        return false;
    }
    if (s->nslot_latency && !s->vtime) {
        error_setg(errp, "blade-switch: vtime-slot-latency-ns is for "
                   "timing=virtual");
        return false;
    }
    if (s->nslot_latency > s->slots) {
        error_setg(errp, "blade-switch: vtime-slot-latency-ns has %u "
                   "entries for %u slots", s->nslot_latency, s->slots);
        return false;
    }
    if (s->niothreads && !bsw_check_iothreads(s, errp)) {
        return false;
    }
    if (s->vtime_slots > s->slots) {
        error_setg(errp, "blade-switch: vtime-slots %u is above slots %u",
                   s->vtime_slots, s->slots);
        return false;
    }
    if (s->slot_speed > BSW_MAX_SPEED || s->uplink_speed > BSW_MAX_SPEED) {
        error_setg(errp, "blade-switch: speeds are 0 (unpaced) to %u Mb/s",
                   BSW_MAX_SPEED);
        return false;
    }
    if (!blade_lane_check_tx_fifo("blade-switch", s->tx_fifo, errp)) {
        return false;
    }
    if (!s->mac_aging_s || s->mac_aging_s > 1000000) {
        error_setg(errp, "blade-switch: mac-aging must be 1 to 1000000 s");
        return false;
    }
    if (!s->flow_idle_s || s->flow_idle_s > 1000000) {
        error_setg(errp, "blade-switch: flow-idle must be 1 to 1000000 s");
        return false;
    }
    if (!s->util_stale_ms || s->util_stale_ms > 3600000) {
        error_setg(errp, "blade-switch: util-stale must be 1 to 3600000 ms");
        return false;
    }
    if (s->mac_table_size < 16 || s->mac_table_size > (1u << 20)) {
        error_setg(errp, "blade-switch: mac-table-size must be 16 to %u",
                   1u << 20);
        return false;
    }
    if (s->mac_limit > s->mac_table_size) {
        error_setg(errp, "blade-switch: mac-limit must be 0 (none) to "
                   "mac-table-size (%u)", s->mac_table_size);
        return false;
    }
    if (s->flow_table_size < 16 || s->flow_table_size > (1u << 22)) {
        error_setg(errp, "blade-switch: flow-table-size must be 16 to %u",
                   1u << 22);
        return false;
    }
    if (s->nchain > FAB_MAX_PORTS) {
        error_setg(errp, "blade-switch: %u chain ports, at most %d",
                   s->nchain, FAB_MAX_PORTS);
        return false;
    }
    if (s->chain_speed > BSW_MAX_SPEED) {
        error_setg(errp, "blade-switch: speeds are 0 (unpaced) to %u Mb/s",
                   BSW_MAX_SPEED);
        return false;
    }
    if (s->fabric_interval_ms < 10 || s->fabric_interval_ms > 60000) {
        error_setg(errp, "blade-switch: fabric-interval must be 10 to 60000 "
                   "ms");
        return false;
    }
    if (s->hop_cost > 100) {
        error_setg(errp, "blade-switch: hop-cost must be 0 to 100 %%");
        return false;
    }
    if (s->chassis_name && (!*s->chassis_name ||
                            strlen(s->chassis_name) >= FAB_NAME_LEN)) {
        error_setg(errp, "blade-switch: chassis must be 1 to %d characters",
                   FAB_NAME_LEN - 1);
        return false;
    }
    if (!s->queue_frames || s->queue_frames > BSW_MAX_QUEUE) {
        error_setg(errp, "blade-switch: queue-frames must be 1 to %u",
                   BSW_MAX_QUEUE);
        return false;
    }
    return bsw_bus_check_props(s, errp);
}

/* Whether the slots come as chardevN=ID rather than backplane=DIR. */
static bool bsw_slot_chardevs(BladeSwitchState *s)
{
    unsigned i;

    for (i = 0; i < BLADE_SWITCH_MAX_SLOTS; i++) {
        if (qemu_chr_fe_backend_connected(&s->slot_chr[i])) {
            return true;
        }
    }
    return false;
}

static bool bsw_check_slot_chardevs(BladeSwitchState *s, Error **errp)
{
    unsigned i;

    if (!bsw_slot_chardevs(s)) {
        return true;
    }
    if (s->backplane) {
        error_setg(errp, "blade-switch: give either backplane=DIR or "
                   "chardev0..chardev%u, not both", s->slots ? s->slots - 1
                                                             : 0);
        return false;
    }
    for (i = 0; i < BLADE_SWITCH_MAX_SLOTS; i++) {
        bool has = qemu_chr_fe_backend_connected(&s->slot_chr[i]);

        if (i < s->slots && !has) {
            error_setg(errp, "blade-switch: slot %u has no chardev%u (with "
                       "chardevs, every one of the %u slots needs one)",
                       i, i, s->slots);
            return false;
        }
        if (i >= s->slots && has) {
            error_setg(errp, "blade-switch: chardev%u is for slot %u, but "
                       "there are only %u slots", i, i, s->slots);
            return false;
        }
    }
    return true;
}

/*
 * Every chassis is its own QEMU process, where QEMU's default MAC would be
 * the same for all: derive one from the backplane directory instead
 * (stable across restarts of the same chassis), random without one.
 */
static void bsw_default_mac(BladeSwitchState *s)
{
    static const MACAddr zero;
    uint32_t h;

    if (memcmp(&s->mac, &zero, sizeof(zero))) {
        return;
    }
    h = s->backplane ? g_str_hash(s->backplane) : g_random_int();
    s->mac.a[0] = 0x52;
    s->mac.a[1] = 0x54;
    s->mac.a[2] = 0x00;
    s->mac.a[3] = h >> 16;
    s->mac.a[4] = h >> 8;
    s->mac.a[5] = h;
}

/*
 * QEMU does not unrealize devices when it exits: take the slot sockets
 * (and the backplane directory, if the switch made it) away then.
 */
static void bsw_exit_notify(Notifier *n, void *data)
{
    BladeSwitchState *s = container_of(n, BladeSwitchState, exit);
    unsigned i;

    for (i = 0; s->backplane && i < s->nports; i++) {
        if (s->ports[i].kind == SW_PORT_SLOT) {
            g_autofree char *path = g_strdup_printf("%s/slot%u.sock",
                                                    s->backplane,
                                                    s->ports[i].slot);

            unlink(path);
        }
    }
    if (s->backplane_made) {
        rmdir(s->backplane);
    }
}

static void bsw_unrealize(DeviceState *dev);

static void bsw_realize(DeviceState *dev, Error **errp)
{
    BladeSwitchState *s = BLADE_SWITCH(dev);
    SwConfig cfg;
    unsigned i;

    if (!bsw_check_props(s, errp)) {
        return;
    }
    if (!bsw_check_slot_chardevs(s, errp)) {
        return;
    }
    if (s->slots && !bsw_slot_chardevs(s) && !bsw_backplane_dir(s, errp)) {
        return;
    }
    if (s->vtime_start_ns > blade_switch_now()) {
        /* a chassis that takes the place of one that left in mid-run */
        qemu_clock_advance_virtual_time(s->vtime_start_ns);
    }
    bsw_default_mac(s);
    swcore_config_init(&cfg);
    memcpy(cfg.mac, s->mac.a, 6);
    cfg.mac_table_size = s->mac_table_size;
    cfg.mac_aging_ns = (uint64_t)s->mac_aging_s * NANOSECONDS_PER_SECOND;
    cfg.flow_table_size = s->flow_table_size;
    cfg.flow_idle_ns = (uint64_t)s->flow_idle_s * NANOSECONDS_PER_SECOND;
    cfg.util_stale_ns = (uint64_t)s->util_stale_ms * SCALE_MS;
    cfg.seed = s->seed ? s->seed : g_random_int() | (uint64_t)g_random_int()
                                                    << 32;
    cfg.hop_cost_pct = s->hop_cost;
    cfg.bal.util_estimator = s->util_estimator;
    s->core = swcore_new(&cfg, &bsw_core_ops, s);
    if (!s->core) {
        error_setg(errp, "blade-switch: cannot allocate the MAC and flow "
                   "tables");
        return;
    }
    s->core_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, bsw_core_timer, s);
    s->core_timer_at = UINT64_MAX;
    s->event_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, bsw_event_timer, s);
    memset(s->blade_events, 0, sizeof(s->blade_events));
    s->bh = qemu_bh_new_guarded(bsw_bh, s, &dev->mem_reentrancy_guard);
    if (s->vtime) {
        s->vtime_bh = qemu_bh_new_guarded(bsw_vtime_advance, s,
                                          &dev->mem_reentrancy_guard);
        s->vtime_fwd_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL,
                                          bsw_vtime_fwd_timer, s);
        s->vtime_wall_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                           bsw_vtime_wall_timer, s);
    }

    s->ports = g_new0(BswPort, s->slots + 1 + s->nchain + s->nchain_lanes);
    for (i = 0; i < s->slots; i++) {
        g_autofree char *name = g_strdup_printf("slot%u", i);

        bsw_port_init(s, &s->ports[s->nports++], SW_PORT_SLOT, name, i);
    }
    if (s->uplink_conf.peers.ncs[0]) {
        bsw_netdev_port(s, &s->ports[s->nports++], SW_PORT_UPLINK, "uplink",
                        &s->uplink_conf.peers, s->uplink_speed);
    }
    for (i = 0; i < s->nchain; i++) {
        g_autofree char *name = g_strdup_printf("chain%u", i);

        if (!s->chain_peers[i].ncs[0]) {
            error_setg(errp, "blade-switch: chain[%u] names no netdev", i);
            bsw_unrealize(dev);
            return;
        }
        bsw_netdev_port(s, &s->ports[s->nports++], SW_PORT_CHAIN, name,
                        &s->chain_peers[i], s->chain_speed);
    }
    for (i = 0; i < s->nchain_lanes; i++) {
        g_autofree char *name = g_strdup_printf("chain%u", i);

        bsw_port_init(s, &s->ports[s->nports++], SW_PORT_CHAIN, name, i);
    }
    if ((s->nchain || s->nchain_lanes) && !bsw_open_fabric(s, errp)) {
        bsw_unrealize(dev);
        return;
    }
    if (s->backplane_kind == BLADE_BACKPLANE_KIND_TDM_BUS &&
        !bsw_bus_open(s, errp)) {
        bsw_unrealize(dev);
        return;
    }
    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];
        bool ok = true;

        if (p->kind == SW_PORT_SLOT) {
            ok = bsw_open_lane(s, p, errp);
        } else if (p->kind == SW_PORT_CHAIN && !p->nic) {
            ok = bsw_open_chain_lane(s, p, &s->chain_chr[p->slot], errp);
        }
        if (!ok) {
            bsw_unrealize(dev);
            return;
        }
    }
    if (!bsw_open_capture(s, errp)) {
        bsw_unrealize(dev);
        return;
    }
    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];

        if (p->bl) {
            bsw_lane_sync(p);
        } else if (qemu_get_queue(p->nic)->peer->info->type !=
                   NET_CLIENT_DRIVER_STREAM) {
            bsw_port_update_link(p);
        }
        /*
         * A stream netdev says its link is up before it has a socket (it
         * starts listening or connecting from the main loop), and QEMU
         * 10.0 crashes if a frame reaches it then: its link is first
         * looked at by the poll timer.
         */
    }
    s->exit.notify = bsw_exit_notify;
    qemu_add_exit_notifier(&s->exit);
    if (s->nports > s->slots) {
        s->poll_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, bsw_poll_timer, s);
        timer_mod(s->poll_timer, blade_switch_now() + BSW_POLL_NS);
    }
    bsw_fabric_rearm(s);
}

static void bsw_unrealize(DeviceState *dev)
{
    BladeSwitchState *s = BLADE_SWITCH(dev);
    unsigned i;

    for (i = 0; i < s->nports; i++) {
        bsw_port_free(&s->ports[i]);
    }
    bsw_bus_free(s);
    if (s->exit.notify) {
        qemu_remove_exit_notifier(&s->exit);
        s->exit.notify = NULL;
    }
    if (s->poll_timer) {
        timer_free(s->poll_timer);
        s->poll_timer = NULL;
    }
    if (s->fabric_timer) {
        timer_free(s->fabric_timer);
        s->fabric_timer = NULL;
    }
    fab_free(s->fabric);
    s->fabric = NULL;
    memset(s->fab_ports, 0, sizeof(s->fab_ports));
    g_free(s->ports);
    s->ports = NULL;
    s->nports = 0;
    if (s->backplane_made) {
        rmdir(s->backplane);
        s->backplane_made = false;
    }
    if (s->bh) {
        qemu_bh_delete(s->bh);
        s->bh = NULL;
    }
    if (s->core_timer) {
        timer_free(s->core_timer);
        s->core_timer = NULL;
    }
    if (s->event_timer) {
        timer_free(s->event_timer);
        s->event_timer = NULL;
    }
    if (s->vtime_bh) {
        qemu_bh_delete(s->vtime_bh);
        s->vtime_bh = NULL;
    }
    qapi_free_BladeSwitchInfo(s->vtime_snapshot);
    s->vtime_snapshot = NULL;
    timer_free(s->vtime_fwd_timer);
    timer_free(s->vtime_wall_timer);
    s->vtime_fwd_timer = s->vtime_wall_timer = NULL;
    swcore_free(s->core);
    s->core = NULL;
}

/*
 * The switch's state is its live connections (lanes, netdevs) and what it
 * learned from them: a snapshot could not bring those back.  Say so
 * rather than lose them quietly.
 */
static const VMStateDescription vmstate_blade_switch = {
    .name = TYPE_BLADE_SWITCH,
    .unmigratable = 1,
};

/*
 * chardev0 .. chardev63: one per slot, as rocker has one netdev per port.
 * Separate properties rather than an array: they work in -device's
 * key=value form as well as in JSON, and name the slot they are for.
 */
QEMU_BUILD_BUG_ON(BLADE_SWITCH_MAX_SLOTS != 64);

static const Property bsw_properties[] = {
    DEFINE_PROP_UINT32("slots", BladeSwitchState, slots, 4),
    DEFINE_PROP_BLADE_TIMING("timing", BladeSwitchState, timing),
    DEFINE_PROP_UINT32("vtime-latency-ns", BladeSwitchState, vtime_latency_ns,
                       BLADE_VTIME_LATENCY_NS),
    DEFINE_PROP_UINT32("vtime-wait-ms", BladeSwitchState, vtime_wait_ms,
                       BLADE_VTIME_WAIT_MS),
    DEFINE_PROP_UINT32("vtime-slots", BladeSwitchState, vtime_slots, 0),
    DEFINE_PROP_UINT64("vtime-snapshot-ns", BladeSwitchState,
                       vtime_snapshot_ns, 0),
    DEFINE_PROP_UINT64("vtime-start-ns", BladeSwitchState, vtime_start_ns,
                       0),
    DEFINE_PROP_ARRAY("vtime-slot-latency-ns", BladeSwitchState,
                      nslot_latency, slot_latency_ns, qdev_prop_uint32,
                      uint32_t),
    DEFINE_PROP_ARRAY("vtime-chain-latency-ns", BladeSwitchState,
                      nchain_latency, chain_latency_ns, qdev_prop_uint32,
                      uint32_t),
    DEFINE_PROP_ARRAY("iothreads", BladeSwitchState, niothreads,
                      iothread_ids, qdev_prop_string, char *),
    DEFINE_PROP_STRING("backplane", BladeSwitchState, backplane),
    DEFINE_PROP_CHR("chardev0", BladeSwitchState, slot_chr[0]),
    DEFINE_PROP_CHR("chardev1", BladeSwitchState, slot_chr[1]),
    DEFINE_PROP_CHR("chardev2", BladeSwitchState, slot_chr[2]),
    DEFINE_PROP_CHR("chardev3", BladeSwitchState, slot_chr[3]),
    DEFINE_PROP_CHR("chardev4", BladeSwitchState, slot_chr[4]),
    DEFINE_PROP_CHR("chardev5", BladeSwitchState, slot_chr[5]),
    DEFINE_PROP_CHR("chardev6", BladeSwitchState, slot_chr[6]),
    DEFINE_PROP_CHR("chardev7", BladeSwitchState, slot_chr[7]),
    DEFINE_PROP_CHR("chardev8", BladeSwitchState, slot_chr[8]),
    DEFINE_PROP_CHR("chardev9", BladeSwitchState, slot_chr[9]),
    DEFINE_PROP_CHR("chardev10", BladeSwitchState, slot_chr[10]),
    DEFINE_PROP_CHR("chardev11", BladeSwitchState, slot_chr[11]),
    DEFINE_PROP_CHR("chardev12", BladeSwitchState, slot_chr[12]),
    DEFINE_PROP_CHR("chardev13", BladeSwitchState, slot_chr[13]),
    DEFINE_PROP_CHR("chardev14", BladeSwitchState, slot_chr[14]),
    DEFINE_PROP_CHR("chardev15", BladeSwitchState, slot_chr[15]),
    DEFINE_PROP_CHR("chardev16", BladeSwitchState, slot_chr[16]),
    DEFINE_PROP_CHR("chardev17", BladeSwitchState, slot_chr[17]),
    DEFINE_PROP_CHR("chardev18", BladeSwitchState, slot_chr[18]),
    DEFINE_PROP_CHR("chardev19", BladeSwitchState, slot_chr[19]),
    DEFINE_PROP_CHR("chardev20", BladeSwitchState, slot_chr[20]),
    DEFINE_PROP_CHR("chardev21", BladeSwitchState, slot_chr[21]),
    DEFINE_PROP_CHR("chardev22", BladeSwitchState, slot_chr[22]),
    DEFINE_PROP_CHR("chardev23", BladeSwitchState, slot_chr[23]),
    DEFINE_PROP_CHR("chardev24", BladeSwitchState, slot_chr[24]),
    DEFINE_PROP_CHR("chardev25", BladeSwitchState, slot_chr[25]),
    DEFINE_PROP_CHR("chardev26", BladeSwitchState, slot_chr[26]),
    DEFINE_PROP_CHR("chardev27", BladeSwitchState, slot_chr[27]),
    DEFINE_PROP_CHR("chardev28", BladeSwitchState, slot_chr[28]),
    DEFINE_PROP_CHR("chardev29", BladeSwitchState, slot_chr[29]),
    DEFINE_PROP_CHR("chardev30", BladeSwitchState, slot_chr[30]),
    DEFINE_PROP_CHR("chardev31", BladeSwitchState, slot_chr[31]),
    DEFINE_PROP_CHR("chardev32", BladeSwitchState, slot_chr[32]),
    DEFINE_PROP_CHR("chardev33", BladeSwitchState, slot_chr[33]),
    DEFINE_PROP_CHR("chardev34", BladeSwitchState, slot_chr[34]),
    DEFINE_PROP_CHR("chardev35", BladeSwitchState, slot_chr[35]),
    DEFINE_PROP_CHR("chardev36", BladeSwitchState, slot_chr[36]),
    DEFINE_PROP_CHR("chardev37", BladeSwitchState, slot_chr[37]),
    DEFINE_PROP_CHR("chardev38", BladeSwitchState, slot_chr[38]),
    DEFINE_PROP_CHR("chardev39", BladeSwitchState, slot_chr[39]),
    DEFINE_PROP_CHR("chardev40", BladeSwitchState, slot_chr[40]),
    DEFINE_PROP_CHR("chardev41", BladeSwitchState, slot_chr[41]),
    DEFINE_PROP_CHR("chardev42", BladeSwitchState, slot_chr[42]),
    DEFINE_PROP_CHR("chardev43", BladeSwitchState, slot_chr[43]),
    DEFINE_PROP_CHR("chardev44", BladeSwitchState, slot_chr[44]),
    DEFINE_PROP_CHR("chardev45", BladeSwitchState, slot_chr[45]),
    DEFINE_PROP_CHR("chardev46", BladeSwitchState, slot_chr[46]),
    DEFINE_PROP_CHR("chardev47", BladeSwitchState, slot_chr[47]),
    DEFINE_PROP_CHR("chardev48", BladeSwitchState, slot_chr[48]),
    DEFINE_PROP_CHR("chardev49", BladeSwitchState, slot_chr[49]),
    DEFINE_PROP_CHR("chardev50", BladeSwitchState, slot_chr[50]),
    DEFINE_PROP_CHR("chardev51", BladeSwitchState, slot_chr[51]),
    DEFINE_PROP_CHR("chardev52", BladeSwitchState, slot_chr[52]),
    DEFINE_PROP_CHR("chardev53", BladeSwitchState, slot_chr[53]),
    DEFINE_PROP_CHR("chardev54", BladeSwitchState, slot_chr[54]),
    DEFINE_PROP_CHR("chardev55", BladeSwitchState, slot_chr[55]),
    DEFINE_PROP_CHR("chardev56", BladeSwitchState, slot_chr[56]),
    DEFINE_PROP_CHR("chardev57", BladeSwitchState, slot_chr[57]),
    DEFINE_PROP_CHR("chardev58", BladeSwitchState, slot_chr[58]),
    DEFINE_PROP_CHR("chardev59", BladeSwitchState, slot_chr[59]),
    DEFINE_PROP_CHR("chardev60", BladeSwitchState, slot_chr[60]),
    DEFINE_PROP_CHR("chardev61", BladeSwitchState, slot_chr[61]),
    DEFINE_PROP_CHR("chardev62", BladeSwitchState, slot_chr[62]),
    DEFINE_PROP_CHR("chardev63", BladeSwitchState, slot_chr[63]),
    DEFINE_PROP_UINT32("slot-speed", BladeSwitchState, slot_speed, 1000),
    DEFINE_PROP_UINT32("tx-fifo", BladeSwitchState, tx_fifo,
                       BLADE_LANE_TX_FIFO),
    DEFINE_PROP_BLADE_LANE_PCS("pcs", BladeSwitchState, pcs_prop),
    DEFINE_PROP_NETDEV("uplink", BladeSwitchState, uplink_conf.peers),
    DEFINE_PROP_UINT32("uplink-speed", BladeSwitchState, uplink_speed,
                       10000),
    DEFINE_PROP_MACADDR("mac", BladeSwitchState, mac),
    DEFINE_PROP_UINT32("mac-aging", BladeSwitchState, mac_aging_s, 300),
    DEFINE_PROP_UINT32("mac-limit", BladeSwitchState, mac_limit,
                       SW_SLOT_MAC_LIMIT),
    DEFINE_PROP_UINT32("mac-table-size", BladeSwitchState, mac_table_size,
                       4096),
    DEFINE_PROP_UINT32("flow-idle", BladeSwitchState, flow_idle_s, 60),
    DEFINE_PROP_UINT32("flow-table-size", BladeSwitchState, flow_table_size,
                       65536),
    DEFINE_PROP_UINT32("util-stale", BladeSwitchState, util_stale_ms, 1000),
    DEFINE_PROP_UINT32("queue-frames", BladeSwitchState, queue_frames, 256),
    DEFINE_PROP_UINT64("seed", BladeSwitchState, seed, 0),
    DEFINE_PROP_STRING("capture-dir", BladeSwitchState, capture_dir),
    DEFINE_PROP_ARRAY("chain", BladeSwitchState, nchain, chain_peers,
                      qdev_prop_netdev, NICPeers),
    DEFINE_PROP_CHR("chain-chardev0", BladeSwitchState, chain_chr[0]),
    DEFINE_PROP_CHR("chain-chardev1", BladeSwitchState, chain_chr[1]),
    DEFINE_PROP_CHR("chain-chardev2", BladeSwitchState, chain_chr[2]),
    DEFINE_PROP_CHR("chain-chardev3", BladeSwitchState, chain_chr[3]),
    DEFINE_PROP_CHR("chain-chardev4", BladeSwitchState, chain_chr[4]),
    DEFINE_PROP_CHR("chain-chardev5", BladeSwitchState, chain_chr[5]),
    DEFINE_PROP_CHR("chain-chardev6", BladeSwitchState, chain_chr[6]),
    DEFINE_PROP_CHR("chain-chardev7", BladeSwitchState, chain_chr[7]),
    DEFINE_PROP_CHR("chain-chardev8", BladeSwitchState, chain_chr[8]),
    DEFINE_PROP_CHR("chain-chardev9", BladeSwitchState, chain_chr[9]),
    DEFINE_PROP_CHR("chain-chardev10", BladeSwitchState, chain_chr[10]),
    DEFINE_PROP_CHR("chain-chardev11", BladeSwitchState, chain_chr[11]),
    DEFINE_PROP_CHR("chain-chardev12", BladeSwitchState, chain_chr[12]),
    DEFINE_PROP_CHR("chain-chardev13", BladeSwitchState, chain_chr[13]),
    DEFINE_PROP_CHR("chain-chardev14", BladeSwitchState, chain_chr[14]),
    DEFINE_PROP_CHR("chain-chardev15", BladeSwitchState, chain_chr[15]),
    DEFINE_PROP_UINT32("chain-speed", BladeSwitchState, chain_speed, 10000),
    DEFINE_PROP_STRING("chassis", BladeSwitchState, chassis_name),
    DEFINE_PROP_UINT64("chassis-id", BladeSwitchState, chassis_id, 0),
    DEFINE_PROP_UINT16("fabric-priority", BladeSwitchState, fabric_priority,
                       32768),
    DEFINE_PROP_UINT32("fabric-interval", BladeSwitchState,
                       fabric_interval_ms, 100),
    DEFINE_PROP_STRING("fabric-key-secret", BladeSwitchState,
                       fabric_key_secret),
    DEFINE_PROP_UINT32("hop-cost", BladeSwitchState, hop_cost, 10),
    DEFINE_PROP_BLADE_UTIL_ESTIMATOR("util-estimator", BladeSwitchState,
                                     util_estimator_prop),
    /* the TDM bus backplane (blade-switch-bus.c, docs/backplane.md) */
    DEFINE_PROP_BLADE_BACKPLANE_KIND("backplane-kind", BladeSwitchState,
                                     backplane_kind),
    DEFINE_PROP_UINT32("bus-speed", BladeSwitchState, bus_speed,
                       BSW_BUS_SPEED),
    DEFINE_PROP_BLADE_BUS_SCHEDULE("bus-schedule", BladeSwitchState,
                                   bus_schedule),
    DEFINE_PROP_ARRAY("bus-weights", BladeSwitchState, nbus_weights,
                      bus_weights, qdev_prop_uint32, uint32_t),
    DEFINE_PROP_UINT32("bus-switch-weight", BladeSwitchState,
                       bus_switch_weight, 1),
    DEFINE_PROP_UINT32("bus-slot-bytes", BladeSwitchState, bus_slot_bytes,
                       BSW_BUS_SLOT_BYTES),
    DEFINE_PROP_UINT32("bus-frame-slots", BladeSwitchState, bus_frame_slots,
                       0),
};

/*
 * The switch's state at vtime-snapshot-ns, once the chassis clock has
 * passed it (docs/virtual-time.md).
 */
static void bsw_get_vtime_snapshot(Object *obj, Visitor *v, const char *name,
                                   void *opaque, Error **errp)
{
    BladeSwitchState *s = BLADE_SWITCH(obj);

    if (!s->vtime_snapshot) {
        error_setg(errp, "no snapshot: vtime-snapshot-ns is 0, or the "
                   "chassis clock has not passed it yet");
        return;
    }
    visit_type_BladeSwitchInfo(v, name, &s->vtime_snapshot, errp);
}

static void bsw_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);

    dc->realize = bsw_realize;
    dc->unrealize = bsw_unrealize;
    dc->desc = "bladeplane switch blade: backplane slots, uplink, L2 "
               "switching and load balancing by the blades' reported "
               "utilization";
    dc->user_creatable = true;
    dc->vmsd = &vmstate_blade_switch;
    device_class_set_props(dc, bsw_properties);
    set_bit(DEVICE_CATEGORY_NETWORK, dc->categories);
    object_class_property_add(klass, "vtime-snapshot", "BladeSwitchInfo",
                              bsw_get_vtime_snapshot, NULL, NULL, NULL);
}

static const TypeInfo bsw_info = {
    .name = TYPE_BLADE_SWITCH,
    .parent = TYPE_DEVICE,
    .instance_size = sizeof(BladeSwitchState),
    .class_init = bsw_class_init,
};

static void bsw_register_types(void)
{
    type_register_static(&bsw_info);
}

type_init(bsw_register_types)
