/*
 * bladeplane switch blade: chain ports and the inter-chassis control
 * protocol (net/fabric.h): the fabric's callbacks, its timer, and the
 * remote blades it learns handed to the forwarding engine.
 * docs/topology.md describes chains; blade-switch-internal.h has the
 * layout of the device's files.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include "crypto/secret_common.h"
#include "blade-switch-internal.h"
#include "trace.h"

/* ---- chain ports and the inter-chassis control protocol ------------------ */

static void bsw_fab_send(void *opaque, unsigned fport, const uint8_t *frame,
                         size_t len)
{
    BladeSwitchState *s = opaque;

    bsw_port_send_control(s->fab_ports[fport], frame, len);
}

static void bsw_fab_port_state(void *opaque, unsigned fport, bool forwarding,
                               const char *why)
{
    BladeSwitchState *s = opaque;
    BswPort *p = s->fab_ports[fport];

    uint64_t now = blade_switch_now();
    unsigned i;

    trace_blade_switch_fabric_port(p->name, forwarding, why);
    swcore_port_set_blocked(s->core, p->index, !forwarding, now);
    /*
     * The tree changed: paths through the chain ports may have too, so
     * what was learned on them is relearned (remote blades' MACs at the
     * next sync).
     */
    for (i = 0; i < FAB_MAX_PORTS; i++) {
        if (s->fab_ports[i]) {
            swcore_mac_forget_port(s->core, s->fab_ports[i]->index);
        }
    }
    s->fab_dirty = true;
    bsw_schedule(s);
    bsw_core_rearm(s);
}

static void bsw_fab_remote_changed(void *opaque)
{
    BladeSwitchState *s = opaque;

    /* Read the table back outside the fabric's own call. */
    s->fab_dirty = true;
    bsw_schedule(s);
}

static const FabOps bsw_fab_ops = {
    .send = bsw_fab_send,
    .port_state = bsw_fab_port_state,
    .remote_changed = bsw_fab_remote_changed,
};

/*
 * Tell the fabric about this chassis's blades, and the forwarding engine
 * about the blades of the others (learning their MACs on the ports that
 * lead to them).
 */
void bsw_fabric_sync(BladeSwitchState *s, uint64_t now)
{
    g_autofree FabLocalBlade *local = g_new0(FabLocalBlade, SW_MAX_BLADES);
    g_autofree RemoteBlade *rb = g_new0(RemoteBlade, FAB_MAX_BLADES);
    unsigned i, n = 0, nr, k = 0;

    s->fab_dirty = false;
    for (i = 0; i < SW_MAX_BLADES; i++) {
        SwBladeInfo bi;

        if (!swcore_blade_info(s->core, i, now, &bi) || !bi.mac_known) {
            continue;
        }
        memcpy(local[n].mac, bi.mac, 6);
        local[n].slot = i;
        local[n].in_rotation = bi.in_rotation;
        local[n].cpu_pct = bi.cpu_pct;
        local[n].irq_pct = bi.irq_pct;
        local[n].age_ms = bi.reported ?
                          MIN(bi.report_age_ns / SCALE_MS, UINT32_MAX) :
                          UINT32_MAX;
        n++;
    }
    fab_set_local_at(s->fabric, local, n, now);
    nr = fab_remote_blades(s->fabric, now, rb, FAB_MAX_BLADES);
    /* In place: the fabric's port numbers become the switch's. */
    for (i = 0; i < nr && k < SW_MAX_REMOTE; i++) {
        BswPort *p;

        if (rb[i].port >= FAB_MAX_PORTS || !s->fab_ports[rb[i].port]) {
            continue;
        }
        p = s->fab_ports[rb[i].port];
        swcore_mac_learn(s->core, rb[i].mac, p->index, now);
        rb[k] = rb[i];
        rb[k].port = p->index;
        k++;
    }
    swcore_set_remote(s->core, rb, k, now);
    bsw_core_rearm(s);
    /* News for the fabric can bring its next advertisement forward. */
    bsw_fabric_rearm(s);
}

void bsw_fabric_rearm(BladeSwitchState *s)
{
    uint64_t dl;

    if (!s->fabric) {
        return;
    }
    dl = fab_deadline(s->fabric);
    if (dl == s->fabric_timer_at) {
        return;
    }
    s->fabric_timer_at = dl;
    if (dl == UINT64_MAX) {
        timer_del(s->fabric_timer);
    } else {
        timer_mod(s->fabric_timer, MIN(dl, INT64_MAX));
    }
}

static void bsw_fabric_timer(void *opaque)
{
    BladeSwitchState *s = opaque;
    uint64_t now = blade_switch_now();

    s->fabric_timer_at = UINT64_MAX;
    bsw_fabric_sync(s, now);
    fab_tick(s->fabric, now);
    bsw_fabric_sync(s, now);
    bsw_fabric_rearm(s);
}

/* The control protocol over the chain ports. */
bool bsw_open_fabric(BladeSwitchState *s, Error **errp)
{
    DeviceState *dev = DEVICE(s);
    FabConfig fc;
    unsigned i;

    fab_config_init(&fc);
    if (!s->chassis_id) {
        for (i = 0; i < 6; i++) {
            s->chassis_id = s->chassis_id << 8 | s->mac.a[i];
        }
    }
    fc.chassis_id = s->chassis_id;
    pstrcpy(fc.name, sizeof(fc.name), s->chassis_name ? s->chassis_name :
                                      dev->id ? dev->id : "chassis");
    memcpy(fc.mac, s->mac.a, 6);
    fc.priority = s->fabric_priority;
    fc.interval_ns = (uint64_t)s->fabric_interval_ms * SCALE_MS;
    if (s->fabric_key_secret) {
        g_autofree uint8_t *key = NULL;
        size_t len = 0;

        if (qcrypto_secret_lookup(s->fabric_key_secret, &key, &len,
                                  errp) < 0) {
            return false;
        }
        if (len == 0 || len > FAB_MAX_KEY) {
            error_setg(errp, "blade-switch: the fabric key must be 1 to %d "
                       "bytes, secret '%s' has %zu", FAB_MAX_KEY,
                       s->fabric_key_secret, len);
            return false;
        }
        memcpy(fc.key, key, len);
        fc.key_len = len;
    }
    s->fabric = fab_new(&fc, &bsw_fab_ops, s);
    memset(fc.key, 0, sizeof(fc.key));
    if (!s->fabric) {
        error_setg(errp, "blade-switch: cannot start the control protocol");
        return false;
    }
    s->fabric_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, bsw_fabric_timer, s);
    s->fabric_timer_at = UINT64_MAX;
    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];
        int fp;

        if (p->kind != SW_PORT_CHAIN) {
            continue;
        }
        fp = fab_add_port(s->fabric, p->name);
        if (fp < 0 || fp >= FAB_MAX_PORTS) {
            error_setg(errp, "blade-switch: too many chain ports");
            return false;
        }
        p->fab_port = fp;
        s->fab_ports[fp] = p;
    }
    return true;
}
