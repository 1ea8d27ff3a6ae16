/*
 * bladeplane: a lane's gate at the virtual-time horizon (see
 * blade_lane_vtime_gate() in blade-lane.h and docs/virtual-time.md).
 * An icount guest runs up to the earliest time its peer could still
 * send it something and waits there, with the VM stopped, for the peer's
 * promise; the lane promises its own clock every promise_ns, or quiet
 * while the guest sleeps.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include <poll.h>
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "system/qtest.h"
#include "system/cpus.h"
#include "system/runstate.h"
#include "hw/core/cpu.h"
#include "blade-lane-internal.h"
#include "trace.h"

/*
 * blade_lane_vtime_hold_tx() holds the clock, and the lane is still on
 * its rings and still without room (a disconnection ends the hold).
 */
static bool blade_lane_tx_holding(BladeLane *bl)
{
    return bl->tx_hold && lane_on_rings(bl->lane) &&
           lane_tx_held_for_room(bl->lane);
}

/*
 * Every vCPU halted with nothing to do, in a running VM: until its next
 * timer, or an interrupt from outside, the guest does nothing.
 */
static bool blade_lane_guest_idle(BladeLane *bl)
{
    return bl->gate_quiet && !bl->gate_stopped &&
           !blade_lane_tx_holding(bl) && runstate_is_running() &&
           all_cpu_threads_idle();
}

/*
 * A quiet promise holds and the guest still sleeps: the promise timer
 * waits for the quiet's end.  A guest woken early (by the peer, or by
 * something outside the chassis) computes again, and is promised for as
 * it goes.
 */
bool blade_lane_quiet_now(BladeLane *bl)
{
    return lane_vtime_quiet(bl->lane) > bl_now() && blade_lane_guest_idle(bl);
}

/*
 * The next periodic promise after @now, on a grid of promise_ns from
 * the peer's virtual time 0 (ours, unless this VM started late:
 * vtime_start_ns).  Not @now + promise_ns: a promise timer moved by a
 * quiet spell would fall out of step with the gate (whose horizons come
 * from the peer's promises, on the same grid when the latency is a
 * multiple of it), and every lookahead would cost two promises instead
 * of one, with a round of wake-ups through the chassis for each.
 */
int64_t blade_lane_next_promise(BladeLane *bl, uint64_t now)
{
    uint64_t peer_now = vtime_add_sat(now, bl->vtime_start_ns);
    uint64_t next = vtime_add_sat(peer_now - peer_now % bl->promise_ns,
                                  bl->promise_ns);

    return MIN(next - bl->vtime_start_ns, INT64_MAX);
}

static const char *blade_lane_label(BladeLane *bl)
{
    Chardev *chr = qemu_chr_fe_get_driver(bl->be);

    return chr ? chr->label : "(none)";
}

void blade_lane_gate_arm(BladeLane *bl)
{
    uint64_t h = lane_vtime_horizon(bl->lane);

    if (h == VTIME_NEVER) {
        timer_del(bl->gate_timer);
    } else {
        timer_mod(bl->gate_timer, MIN(h, INT64_MAX));
    }
}

/*
 * The peer did not move the horizon within the bound: the run cannot go
 * on without it, and going on past the horizon would not be the same run.
 */
static void blade_lane_gate_give_up(BladeLane *bl)
{
    error_report("blade-lane: virtual time: %s the peer of chardev '%s' "
                 "for %u ms at %" PRIu64 " ns (is it paused, or gone?); "
                 "shutting down",
                 blade_lane_tx_holding(bl) ? "no room for our frames from"
                                           : "no promise from",
                 blade_lane_label(bl), bl->gate_wait_ms, bl_now());
    qemu_system_shutdown_request(SHUTDOWN_CAUSE_HOST_ERROR);
}

static void blade_lane_gate_wall_cb(void *opaque)
{
    BladeLane *bl = opaque;

    if (bl->gate_stopped) {
        blade_lane_gate_give_up(bl);
    }
}

/*
 * Nothing to block on (the lane is not on its rings yet, or lost them):
 * stop the VM here, so that it cannot run past the horizon, and start it
 * again from the main loop when the horizon moves.  vm_stop() in the vCPU
 * thread stops the CPU at once (cpu_stop_current()).  In the main loop,
 * which runs this timer under qtest (and under icount whenever it finds
 * the timer due before the vCPU does), vm_stop() would disable the
 * virtual clock and so wait for its timers to finish, this one among
 * them: it never returns.  There the stop is asked for, and the main loop
 * makes it as soon as this round of timers is over.
 */
static void blade_lane_gate_stop(BladeLane *bl)
{
    trace_blade_lane_gate_stop(bl, bl_now());
    bl->gate_stopped = true;
    if (bl->hold_timer) {
        /*
         * The stop takes effect in the main loop, which may first find
         * every vCPU idle and warp the clock to the next timer: a deadline
         * at this very time, on a timer list nobody runs, keeps icount
         * from moving it until the VM runs again.
         */
        timer_mod(bl->hold_timer, MIN(bl_now(), INT64_MAX));
    }
    if (qemu_in_vcpu_thread()) {
        vm_stop(RUN_STATE_PAUSED);
    } else {
        CPUState *cpu;

        /*
         * Not one instruction more: the vCPU thread may run before the
         * main loop gets to the stop (it waits for the lock right after
         * the slice that brought the clock here).
         */
        CPU_FOREACH(cpu) {
            cpu_pause(cpu);
        }
        qemu_system_vmstop_request_prepare();
        qemu_system_vmstop_request(RUN_STATE_PAUSED);
    }
    if (bl->gate_wait_ms) {
        timer_mod(bl->gate_wall_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + bl->gate_wait_ms);
    }
}

/*
 * The VM is to end: SIGTERM, SIGINT or SIGHUP (QEMU's handler requests
 * the shutdown from whichever thread took the signal, while the main loop
 * that would act on it waits for this one), or a request made before the
 * wait.  The wait ends (the VM stops, and the main loop then shuts it
 * down), so that a blade stopped by its user, or whose chassis went
 * first, never waits out the bound.  A signal blocked in every thread is
 * still pending: it counts too.
 */
static bool blade_lane_gate_ending(void)
{
    sigset_t pending;

    if (qemu_shutdown_requested_get() != SHUTDOWN_CAUSE_NONE) {
        return true;
    }
    return !sigpending(&pending) &&
           (sigismember(&pending, SIGTERM) == 1 ||
            sigismember(&pending, SIGINT) == 1 ||
            sigismember(&pending, SIGHUP) == 1);
}

/*
 * Past time 0 the guest runs only with the lane on its rings, if it
 * offered them: the handshake finishes a latency after the connection
 * (it waits behind the peer's first stamped records), in the main loop,
 * and a gate that found it done or not would take two different paths
 * (wait on the rings, or stop the VM) on two runs.  A lane whose offer
 * was refused stays on the stream.  So does, until its rings are back,
 * a lane that has seen a peer new to the link (a chassis restarted in
 * the middle of the run): the handshake waits for this VM's clock to
 * move, and a run with a restart is not repeatable anyway.
 */
static bool blade_lane_on_rings(BladeLane *bl)
{
    return !lane_shm_ring(bl->lane) || lane_on_rings(bl->lane) ||
           lane_stats(bl->lane)->vtime_new_peers;
}

/*
 * The guest may go on: the peer is there in virtual time (before its
 * hello, the horizon the link starts with means nothing) and has let it.
 */
static bool blade_lane_gate_open(BladeLane *bl)
{
    return !blade_lane_tx_holding(bl) && lane_vtime_active(bl->lane) &&
           lane_vtime_horizon(bl->lane) > bl_now() &&
           (!bl_now() || blade_lane_on_rings(bl));
}

void blade_lane_gate_check_resume(BladeLane *bl)
{
    if (!blade_lane_gate_open(bl)) {
        return;
    }
    bl->gate_stopped = false;
    timer_del(bl->gate_wall_timer);
    trace_blade_lane_gate_resume(bl, bl_now());
    blade_lane_gate_arm(bl);
    /*
     * Start it again once it has stopped: a stop asked for from the vCPU
     * thread takes effect in the main loop, maybe after this.
     */
    bl->gate_restart = true;
    if (runstate_check(RUN_STATE_PAUSED) ||
        runstate_check(RUN_STATE_PRELAUNCH)) {
        qemu_bh_schedule(bl->gate_start_bh);
    }
}

static void blade_lane_gate_start_bh(void *opaque)
{
    BladeLane *bl = opaque;

    if (bl->gate_restart && !bl->gate_stopped &&
        (runstate_check(RUN_STATE_PAUSED) ||
         runstate_check(RUN_STATE_PRELAUNCH))) {
        bl->gate_restart = false;
        vm_start();
    }
}

/* Our stop took effect: if the gate opened meanwhile, start again. */
static void blade_lane_gate_vm_state(void *opaque, bool running,
                                     RunState state)
{
    BladeLane *bl = opaque;

    if (running) {
        bl->gate_restart = false;       /* whoever started it */
        if (bl->hold_timer) {
            timer_del(bl->hold_timer);
        }
        if (bl->gate_stopped) {
            /*
             * Started while the gate is closed: a stop asked for before
             * the VM was first started is lost, or the user said cont.
             * Before the guest's next instruction it meets the gate again.
             */
            timer_mod(bl->gate_timer, MIN(bl_now(), INT64_MAX));
        }
    } else if (state == RUN_STATE_PAUSED && bl->gate_restart) {
        qemu_bh_schedule(bl->gate_start_bh);
    }
}

/*
 * An idle guest at the horizon: promise the peer quiet until this VM's
 * next virtual-clock timer (the guest's, the NIC's and the lane's, as
 * icount's warp takes them), so that it need not step a lookahead at a
 * time while nothing happens here.  The promise timer is not an event
 * of the guest's: it waits for the quiet's end.  A record from the peer
 * ends the quiet early (lane_vtime_quiet(), blade_lane_rearm()).
 */
static bool blade_lane_gate_quiet(BladeLane *bl, uint64_t now)
{
    uint64_t w, quiet;
    int64_t next;
    bool sent;

    timer_del(bl->promise_timer);
    next = qemu_clock_deadline_ns_all(QEMU_CLOCK_VIRTUAL,
                                      ~QEMU_TIMER_ATTR_EXTERNAL);
    /*
     * Bounded at the next multiple of the bound, not at now plus it: a
     * bound that moved with the clock grew at every wake-up, each time a
     * new promise and a new round through the chassis, and every blade's
     * ended somewhere else.  On the grid, idle blades end their quiet
     * together and send a new one only when they pass a multiple.
     */
    w = now - now % BLADE_VTIME_QUIET_MAX_NS + BLADE_VTIME_QUIET_MAX_NS;
    if (next >= 0 && (uint64_t)next < w - now) {
        w = now + next;
    }
    sent = lane_vtime_promise_quiet(bl->lane, w, now);
    quiet = lane_vtime_quiet(bl->lane);
    timer_mod(bl->promise_timer, quiet > now ? MIN(quiet, INT64_MAX) :
                                 blade_lane_next_promise(bl, now));
    if (sent) {
        trace_blade_lane_gate_quiet(bl, now, w);
    }
    return sent;
}

/*
 * The guest reached the horizon: no record the peer may still send can
 * take effect earlier, and none may take effect later than it should.
 * Promise the clock (the peer may be waiting for it), then block on the
 * rings' wake-up fd until the peer's records or promise move the
 * horizon.  Under icount this runs with the vCPU stopped exactly at the
 * horizon; the main loop waits too, which is the point: nothing of this
 * VM moves until the peer has.  An idle guest promises quiet meanwhile
 * if @may_quiet.
 */
static void blade_lane_gate_wait(BladeLane *bl, bool may_quiet)
{
    int64_t give_up_at = bl->gate_wait_ms ?
        qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + bl->gate_wait_ms : 0;
    bool waited = false;

    bl->in_gate = true;
    if (bl->gate_startup && bl->hold_timer && bl_now()) {
        /*
         * The first horizon under icount: whatever the host did
         * meanwhile, stop here and go on from the main loop once the
         * start-up handshake is over, so that every run passes it the
         * same way.  (Under qtest the test steps the clock.)
         */
        bl->gate_startup = false;
        lane_vtime_promise(bl->lane, bl_now(), bl_now());
        blade_lane_gate_stop(bl);
        blade_lane_schedule(bl);
        bl->in_gate = false;
        return;
    }
    for (;;) {
        uint64_t now = bl_now();
        struct pollfd pfd;
        int64_t left = -1;

        lane_vtime_promise(bl->lane, now, now);
        /*
         * Read the rings whether or not a kick came: the peer kicks only
         * a reader that said it sleeps, which reading to the end does.
         */
        bl->ring_ready = bl->ring_fd >= 0;
        blade_lane_run_guarded(bl, NULL, 0);    /* due input, and flush */
        if (bl->dead) {
            break;
        }
        if (blade_lane_gate_open(bl)) {
            if (bl->gate_stopped) {
                /* open before the VM was stopped (or at the start) */
                bl->gate_stopped = false;
                timer_del(bl->gate_wall_timer);
            }
            if (waited) {
                trace_blade_lane_gate_pass(bl, now,
                                           lane_vtime_horizon(bl->lane));
            }
            blade_lane_gate_arm(bl);
            break;
        }
        if (bl->ring_fd < 0 || !blade_lane_on_rings(bl) ||
            blade_lane_gate_ending()) {
            blade_lane_gate_stop(bl);
            break;
        }
        if (may_quiet && blade_lane_guest_idle(bl) &&
            blade_lane_gate_quiet(bl, now)) {
            blade_lane_run_guarded(bl, NULL, 0);    /* out with it */
            if (bl->dead) {
                break;
            }
            continue;
        }
        if (give_up_at) {
            left = give_up_at - qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
            if (left <= 0) {
                blade_lane_gate_give_up(bl);
                timer_del(bl->gate_timer);
                break;
            }
        }
        waited = true;
        pfd.fd = bl->ring_fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        /* a bounded slice: a signal does not wake a poll it is blocked in */
        left = left < 0 ? BLADE_LANE_GATE_SLICE_MS :
                          MIN(left, BLADE_LANE_GATE_SLICE_MS);
        if (poll(&pfd, 1, (int)left) > 0) {
            bl->ring_ready = true;
        }
    }
    bl->in_gate = false;
    if (bl->dead) {
        g_free(bl);
    }
}

static void blade_lane_gate_cb(void *opaque)
{
    blade_lane_gate_wait(opaque, true);
}

static void blade_lane_promise_cb(void *opaque)
{
    BladeLane *bl = opaque;
    uint64_t now = bl_now();

    if (blade_lane_quiet_now(bl)) {
        /* quiet: nothing to promise before its end */
        timer_mod(bl->promise_timer, MIN(lane_vtime_quiet(bl->lane),
                                         INT64_MAX));
        return;
    }
    if (blade_lane_guest_idle(bl) && lane_vtime_active(bl->lane)) {
        /* idle short of the horizon (the peer promised quiet) */
        if (blade_lane_gate_quiet(bl, now)) {
            qemu_bh_schedule(bl->bh);
            return;
        }
    }
    /* a guest that computes lets its peer run on meanwhile */
    if (lane_vtime_promise(bl->lane, now, now)) {
        qemu_bh_schedule(bl->bh);       /* out with it */
    }
    timer_mod(bl->promise_timer, blade_lane_next_promise(bl, now));
}

static void blade_lane_hold_cb(void *opaque)
{
    /* never runs: its list is in no timer list group that QEMU runs */
}

static void blade_lane_hold_notify(void *opaque, QEMUClockType type)
{
    /*
     * Nobody to wake: without a callback the list would notify the main
     * loop, whose icount hook notifies every list of the clock again.
     */
}

void blade_lane_vtime_gate(BladeLane *bl, uint64_t promise_ns,
                           uint32_t wait_ms, bool quiet)
{
    bl->promise_ns = MAX(promise_ns, 1);
    bl->gate_wait_ms = wait_ms;
    /* under qtest no guest runs: the test's writes come at any time */
    bl->gate_quiet = quiet && !qtest_enabled();
    bl->gate_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, blade_lane_gate_cb, bl);
    bl->promise_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL,
                                     blade_lane_promise_cb, bl);
    bl->gate_wall_timer = timer_new_ms(QEMU_CLOCK_REALTIME,
                                       blade_lane_gate_wall_cb, bl);
    bl->gate_start_bh = qemu_bh_new(blade_lane_gate_start_bh, bl);
    if (!qtest_enabled()) {
        /*
         * icount (what blade-nic requires without qtest).  Under qtest a
         * due timer nobody runs would stall clock_step.
         */
        timerlistgroup_init(&bl->hold_tlg, blade_lane_hold_notify, bl);
        bl->hold_timer = timer_new_full(&bl->hold_tlg, QEMU_CLOCK_VIRTUAL,
                                        SCALE_NS, 0, blade_lane_hold_cb, bl);
    }
    bl->gate_vmse = qemu_add_vm_change_state_handler(blade_lane_gate_vm_state,
                                                     bl);
    /*
     * Closed until the peer is there: the guest does not run at all
     * before, so what the lane says first (its hello's answer, the first
     * negotiation) goes at the same time on every run.  Started with -S,
     * the VM stays in prelaunch until then and the gate starts it (a stop
     * asked for as QEMU starts the VM can be lost); without -S the gate
     * stops it before its first instruction.
     */
    bl->gate_stopped = true;
    bl->gate_startup = true;
    if (wait_ms) {
        timer_mod(bl->gate_wall_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + wait_ms);
    }
    timer_mod(bl->gate_timer, bl_now());
    timer_mod(bl->promise_timer, blade_lane_next_promise(bl, bl_now()));
}

bool blade_lane_check_timing(const char *dev, BladeTiming timing,
                             uint32_t latency_ns, bool *vtime, Error **errp)
{
    if (timing == BLADE_TIMING_REAL) {
        *vtime = false;
        return true;
    }
    if (!latency_ns) {
        error_setg(errp, "%s: vtime-latency-ns must be above 0: it is the "
                   "lookahead that lets the two ends run at once", dev);
        return false;
    }
    *vtime = true;
    return true;
}

bool blade_lane_vtime_waiting(BladeLane *bl)
{
    return bl->gate_stopped;
}

void blade_lane_vtime_take_due(BladeLane *bl)
{
    if (!bl->gate_timer || bl->in_bh || bl->in_gate) {
        return;
    }
    if (timer_pending(bl->gate_timer) &&
        timer_expire_time_ns(bl->gate_timer) <= (int64_t)bl_now()) {
        /*
         * The horizon is now: a record due now may still come (a promise
         * of T lets a record stamped T follow).  The gate, due at this
         * very time, waits for it and takes it, as it would have once
         * this timer was done.  Without promising quiet: the guest may
         * be idle, but what this timer does next (an interrupt) is not
         * among the timers a quiet promise counts, and would wake it.
         */
        timer_del(bl->gate_timer);
        blade_lane_gate_wait(bl, false);
    } else if (lane_deadline(bl->lane) <= bl_now()) {
        blade_lane_run_guarded(bl, NULL, 0);
    }
}

/*
 * Only on the rings: the gate waits there in the thread that runs the
 * clock, reading them, and a tx_ready that comes while it waits sends at
 * this very time.  On the stream the gate would stop the VM, and a
 * stopped NIC sends nothing.  The peer takes our frames once its clock
 * gets to their delivery time, which our promise of this time lets it
 * reach: the wait ends unless the peer waits for us too (both lanes full
 * of frames not due yet: docs/virtual-time.md, "Back-pressure").
 */
void blade_lane_vtime_hold_tx(BladeLane *bl)
{
    if (!bl->gate_timer || bl->ring_fd < 0 || !lane_on_rings(bl->lane) ||
        !lane_tx_held_for_room(bl->lane)) {
        return;
    }
    bl->tx_hold = true;
    trace_blade_lane_gate_tx_hold(bl, bl_now());
    timer_mod(bl->gate_timer, MIN(bl_now(), INT64_MAX));
}

/* Undo blade_lane_vtime_gate(), from blade_lane_free(). */
void blade_lane_vtime_free(BladeLane *bl)
{
    timer_free(bl->gate_timer);
    timer_free(bl->promise_timer);
    timer_free(bl->gate_wall_timer);
    bl->gate_timer = bl->promise_timer = bl->gate_wall_timer = NULL;
    if (bl->hold_timer) {
        timer_free(bl->hold_timer);
        bl->hold_timer = NULL;
        timerlistgroup_deinit(&bl->hold_tlg);
    }
    if (bl->gate_start_bh) {
        qemu_bh_delete(bl->gate_start_bh);
        bl->gate_start_bh = NULL;
    }
    if (bl->gate_vmse) {
        qemu_del_vm_change_state_handler(bl->gate_vmse);
        bl->gate_vmse = NULL;
    }
}
