/*
 * bladeplane switch blade: virtual time.  The chassis has no CPU: its
 * clock moves to the safe horizon, the earliest time a lane peer could
 * still send it something (docs/virtual-time.md), and it promises its
 * peers how far it has got.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "system/runstate.h"
#include "blade-switch-internal.h"
#include "trace.h"

/* timers one time may chain for itself before a snapshot is taken */
#define BSW_SNAPSHOT_ROUNDS 1024
/* switch timers run in one go before the main loop gets a turn */
#define BSW_VTIME_ROUNDS 4096

/*
 * The switch's state at vtime-snapshot-ns, taken once the safe horizon is
 * past it: every record that takes effect by then has arrived, so the snapshot
 * holds every event up to that time, on every run.  The clock goes there,
 * and the timers the last of them armed for that very time (a frame
 * forwarded as it arrives) run too, within a bound.
 */
static void bsw_vtime_snapshot(BladeSwitchState *s)
{
    int64_t at = s->vtime_snapshot_ns;
    unsigned rounds = 0;

    if (qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) < at) {
        qemu_clock_advance_virtual_time(at);
    }
    while (qemu_clock_deadline_ns_all(QEMU_CLOCK_VIRTUAL,
                                      QEMU_TIMER_ATTR_ALL) == 0 &&
           rounds++ < BSW_SNAPSHOT_ROUNDS) {
        qemu_clock_run_timers(QEMU_CLOCK_VIRTUAL);
    }
    s->vtime_snapshot = blade_switch_info(s);
    trace_blade_switch_vtime_snapshot(at);
}

/*
 * Whether @p's lane bounds the chassis's clock: a slot's while its blade
 * is connected (a blade that left has nothing more to say); a chain
 * lane's always, connected or not, since the chassis at its other end is
 * part of the run: before it connects the clock waits one latency in,
 * and a chassis that went away holds the clock where it left it.
 */
static bool bsw_vtime_bounds(BswPort *p)
{
    return p->lane && (p->kind == SW_PORT_CHAIN ||
                       lane_vtime_active(p->lane));
}

/*
 * The horizons of the lanes that bound the clock: the least, whose it is,
 * and the least of the others (so that the least of all lanes but one is
 * at hand for each), and how many slots have a blade connected.
 */
typedef struct BswHorizons {
    uint64_t least;
    BswPort *least_of;
    uint64_t next;
    unsigned active;
} BswHorizons;

static void bsw_vtime_horizons(BladeSwitchState *s, BswHorizons *hz)
{
    unsigned i;

    hz->least = hz->next = VTIME_NEVER;
    hz->least_of = NULL;
    hz->active = 0;
    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];
        uint64_t h;

        if (!bsw_vtime_bounds(p)) {
            continue;
        }
        if (p->kind == SW_PORT_SLOT) {
            hz->active++;
        }
        h = lane_vtime_horizon(p->lane);
        if (h < hz->least) {
            hz->next = hz->least;
            hz->least = h;
            hz->least_of = p;
        } else if (h < hz->next) {
            hz->next = h;
        }
    }
}

static uint64_t bsw_vtime_horizon(BladeSwitchState *s, unsigned *active)
{
    BswHorizons hz;

    bsw_vtime_horizons(s, &hz);
    if (active) {
        *active = hz.active;
    }
    return hz.least;
}

/*
 * Whether input at @now is settled: no lane can still bring in anything
 * that takes effect by then.  A lane whose ingress queue is full brings
 * in nothing until forwarding makes room (can_receive() stops reading
 * it), so it does not count, whatever its horizon: that lane's promise
 * is behind the frames it cannot deliver, and waiting for it would wait
 * for ever.  Which frames a full queue holds is no accident of the host:
 * the first ones the lane's records deliver by @now, as many as fit.
 */
static bool bsw_vtime_input_settled(BladeSwitchState *s, uint64_t now)
{
    unsigned i;

    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];

        if (bsw_vtime_bounds(p) && lane_vtime_horizon(p->lane) <= now &&
            !bsw_queue_full(&p->ingress) && !bsw_bus_full(p)) {
            return false;
        }
    }
    return true;
}

/*
 * A lane, a slot's or a chain's, with no room for the frames waiting to
 * go out on it (its reader, a blade or the chassis beyond, has not read
 * that far yet, a fact of the host): the clock and forwarding wait for
 * the room, so that those frames, and all forwarding does after them,
 * keep their virtual time whatever the host did.  The reader takes them
 * once its clock reaches their delivery time, which the chassis's
 * promise of its clock lets it reach; unless it waits in turn for room
 * on its own lane to this chassis, full of frames not due here yet
 * (docs/virtual-time.md, "Back-pressure").
 */
static BswPort *bsw_vtime_egress_held(BladeSwitchState *s)
{
    unsigned i;

    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];

        if (p->bl && (p->egress.frames || p->control.frames) &&
            lane_tx_held_for_room(p->lane)) {
            return p;
        }
    }
    return NULL;
}

/*
 * A quiet promise to the peer of lane @c (a blade, or the chassis beyond
 * a chain lane): until what this chassis does next on its own (its next
 * timer), or what one of its other lanes could bring in (their
 * horizons), it sends @c nothing unless @c writes first.  Chassis idle
 * between two events then go straight to the next, as an idle blade's
 * quiet does for its slot; promising the clock alone moves a chain one
 * latency per exchange.  A blade may run on to what another lane could
 * send it (the NIC's gate comes back when its own write ends the quiet).
 * Bounded like a blade's, for what management input could make it send.
 * The clock alone while frames wait to go out on @c (they leave at a
 * time of their own), or forwarding waits for the horizon (what it
 * sends leaves now).
 */
static void bsw_vtime_promise_quiet(BswPort *c, const BswHorizons *hz,
                                    uint64_t now)
{
    int64_t next = qemu_clock_deadline_ns_all(QEMU_CLOCK_VIRTUAL,
                                              QEMU_TIMER_ATTR_ALL);
    uint64_t w = now - now % BLADE_VTIME_QUIET_MAX_NS +
                 BLADE_VTIME_QUIET_MAX_NS;

    if (next >= 0 && (uint64_t)next < w - now) {
        w = now + next;
    }
    w = MIN(w, c == hz->least_of ? hz->next : hz->least);
    if (w <= now || c->egress.frames || c->control.frames ||
        c->s->vtime_fwd_deferred ||
        !lane_vtime_promise_quiet(c->lane, w, now)) {
        lane_vtime_promise(c->lane, now, now);
    }
}

/*
 * Move the clock towards @h one timer of the switch at a time: a timer
 * that writes to a blade that promised quiet (a frame forwarded, say)
 * ends that promise, and the horizon comes back to where the blade's
 * answer could arrive; running on to the old horizon would pass it.
 */
static void bsw_vtime_run_to(BladeSwitchState *s, uint64_t to)
{
    uint64_t now = blade_switch_now();
    uint64_t h = MIN(to, bsw_vtime_horizon(s, NULL));
    unsigned rounds = 0;

    while (h > now && !bsw_vtime_egress_held(s)) {
        int64_t next = qemu_clock_deadline_ns_all(QEMU_CLOCK_VIRTUAL,
                                                  QEMU_TIMER_ATTR_ALL);

        if (next == 0) {
            /* due now: run them here, where advancing would not */
            qemu_clock_run_timers(QEMU_CLOCK_VIRTUAL);
            timerlist_run_timers(
                qemu_get_aio_context()->tlg.tl[QEMU_CLOCK_VIRTUAL]);
        } else {
            qemu_clock_advance_virtual_time(
                MIN(next > 0 ? MIN(h, now + next) : h, INT64_MAX));
        }
        now = blade_switch_now();
        h = MIN(to, bsw_vtime_horizon(s, NULL));
        if (++rounds >= BSW_VTIME_ROUNDS) {
            qemu_bh_schedule(s->vtime_bh);  /* let the main loop in */
            break;
        }
    }
}

/* A guarded BH's work, at a virtual time. */
static void bsw_vtime_forward(BladeSwitchState *s)
{
    MemReentrancyGuard *g = &DEVICE(s)->mem_reentrancy_guard;
    bool was = g->engaged_in_io;

    s->vtime_fwd_deferred = false;
    g->engaged_in_io = true;
    bsw_bh(s);
    g->engaged_in_io = was;
}

/*
 * The chassis has no CPU: its clock (QEMU_CLOCK_VIRTUAL of the qtest
 * accelerator, which moves only when told) goes straight to the safe
 * horizon, the earliest time a blade could still send something that
 * takes effect here, running the switch's timers in order on the way.
 * Then it promises each blade that time.  Slots with no blade connected
 * set no bound; until vtime-slots blades are connected the clock waits.
 */
void bsw_vtime_advance(void *opaque)
{
    BladeSwitchState *s = opaque;
    uint64_t now = blade_switch_now(), h;
    unsigned i, active;
    BswHorizons hz;
    BswPort *held;

    if (s->vtime_fwd_deferred && !bsw_vtime_egress_held(s) &&
        bsw_vtime_input_settled(s, now)) {
        /* settled at this time: forward what it brought, in one round */
        bsw_vtime_forward(s);
    }
    h = bsw_vtime_horizon(s, &active);     /* forwarding may have written */
    if (h == VTIME_NEVER || active < s->vtime_slots) {
        return;     /* no lane to wait for, or not every blade yet */
    }
    if (s->vtime_snapshot_ns && !s->vtime_snapshot &&
        h > s->vtime_snapshot_ns && now <= s->vtime_snapshot_ns) {
        /* there first: the horizon may come back on the way */
        bsw_vtime_run_to(s, s->vtime_snapshot_ns);
        now = blade_switch_now();
        h = bsw_vtime_horizon(s, NULL);
        if (now == s->vtime_snapshot_ns && h > now) {
            bsw_vtime_snapshot(s);
        }
    }
    held = bsw_vtime_egress_held(s);
    if (held && h > now) {
        trace_blade_switch_vtime_egress_hold(held->name, now);
    }
    if (h > now && !held) {
        trace_blade_switch_vtime_advance(now, h);
        bsw_vtime_run_to(s, h);
        now = blade_switch_now();
        timer_del(s->vtime_wall_timer);
    } else if (s->vtime_wait_ms && !timer_pending(s->vtime_wall_timer)) {
        timer_mod(s->vtime_wall_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + s->vtime_wait_ms);
    }
    /* promises never lower a horizon: take them once, the safer figures */
    bsw_vtime_horizons(s, &hz);
    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];

        if (!p->lane || !lane_vtime_active(p->lane)) {
            continue;
        }
        bsw_vtime_promise_quiet(p, &hz, now);
    }
}

void bsw_vtime_kick(BladeSwitchState *s)
{
    if (s->vtime) {
        qemu_bh_schedule(s->vtime_bh);
    }
}

/*
 * Input is forwarded at the clock's time T only once no lane can still
 * bring in anything that takes effect at T.  A horizon of T lets a
 * record due at T come; read late, it would be taken in a round of its
 * own, after what the other lanes brought at T, where a run that read it
 * in time takes them all in one round, in port order.  Two frames due at
 * the same nanosecond would leave in either order, and a report could
 * come after the placement it should have informed.  Until the horizon
 * passes T the input waits, the clock with it (bsw_vtime_advance() runs
 * it); promises meanwhile say T.  Output alone (a timer's) goes at once:
 * it does not depend on what may still come.
 */
void bsw_vtime_fwd_timer(void *opaque)
{
    BladeSwitchState *s = opaque;
    bool input = false;
    unsigned i;

    for (i = 0; i < s->nports && !input; i++) {
        input = s->ports[i].ingress.frames;
    }
    if (bsw_vtime_egress_held(s) ||
        (input && !bsw_vtime_input_settled(s, blade_switch_now()))) {
        s->vtime_fwd_deferred = true;
        return;
    }
    bsw_vtime_forward(s);
}

/* A peer that holds the clock back for too long: name it and stop. */
void bsw_vtime_wall_timer(void *opaque)
{
    BladeSwitchState *s = opaque;
    uint64_t now = blade_switch_now();
    BswPort *held = bsw_vtime_egress_held(s);
    unsigned i;

    if (held) {
        Chardev *chr = qemu_chr_fe_get_driver(held->be);

        error_report("blade-switch: virtual time: no room for frames to %s "
                     "(chardev '%s') for %u ms at %" PRIu64 " ns (is its "
                     "%s paused, or stuck?); shutting down", held->name,
                     chr ? chr->label : "", s->vtime_wait_ms, now,
                     held->kind == SW_PORT_CHAIN ? "chassis" : "blade");
        qemu_system_shutdown_request(SHUTDOWN_CAUSE_HOST_ERROR);
        return;
    }
    for (i = 0; i < s->nports; i++) {
        BswPort *p = &s->ports[i];
        Chardev *chr;

        if (!bsw_vtime_bounds(p) || lane_vtime_horizon(p->lane) > now) {
            continue;
        }
        chr = qemu_chr_fe_get_driver(p->be);
        error_report("blade-switch: virtual time: no promise from %s "
                     "(chardev '%s') for %u ms at %" PRIu64 " ns (is its %s "
                     "paused, or stuck?); shutting down", p->name,
                     chr ? chr->label : "", s->vtime_wait_ms, now,
                     p->kind == SW_PORT_CHAIN ? "chassis" : "blade");
        qemu_system_shutdown_request(SHUTDOWN_CAUSE_HOST_ERROR);
        return;
    }
}
