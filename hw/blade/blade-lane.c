/*
 * bladeplane: a backplane lane over a QEMU chardev (see blade-lane.h).
 *
 * The data path is two functions: blade_lane_write() takes the lane's
 * output to the chardev, blade_lane_feed() gives the chardev's input to
 * the lane.  Lane work runs in blade_lane_run(): from a bottom half
 * guarded by the device's re-entrancy guard (the chardev's events, output
 * the device queued, a writable chardev), or under that same guard from
 * the lane timer and the chardev's read handler.  So a frame the lane
 * delivers (DMA, interrupts) never runs without the guard.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include <poll.h>
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "system/qtest.h"
#include "system/cpus.h"
#include "system/runstate.h"
#include "qapi/error.h"
#include "qapi/qapi-types-char.h"
#include "chardev/char.h"
#include "chardev/char-fe.h"
#include "hw/core/cpu.h"
#include "hw/qdev-core.h"
#include "block/aio.h"
#include "blade-lane.h"
#include "trace.h"

/*
 * Input the chardev handed over that the lane has not taken yet (it was
 * held back in the middle of a read): one read's worth, as much as a
 * chardev reads at a time.
 */
#define BLADE_LANE_STAGE    CHR_READ_BUF_LEN
#define BLADE_LANE_RECONNECT_MS 100
#define BLADE_LANE_GATE_SLICE_MS 100

struct BladeLane {
    DeviceState *dev;
    MemReentrancyGuard *guard; /* the device's, or the iothread user's */
    AioContext *ctx;            /* an iothread's, or NULL: the main loop */
    GMainContext *gctx;         /* the chardev's sources: ctx's, or NULL */
    CharBackend *be;
    Lane *lane;
    const LaneOps *dev_ops;
    LaneOps ops;                /* the lane's: forward to dev_ops */
    void (*changed)(void *opaque);
    void *opaque;

    QEMUBH *bh;
    bool bh_pending;            /* scheduled, not yet run */
    QEMUTimer *timer;
    uint64_t timer_at;
    guint watch;                /* chardev writable again */

    /* the chardev's events, in order: a close before an open */
    bool close_pending;
    bool open_pending;
    bool writable_pending;

    int ring_fd;                /* rings' wake-up socket we watch, or -1 */
    bool ring_ready;            /* it polled readable */

    /* virtual time on an icount guest (blade_lane_vtime_gate()) */
    QEMUTimer *gate_timer;      /* at the horizon: wait there */
    QEMUTimer *promise_timer;   /* promise the clock every promise_ns */
    QEMUTimer *gate_wall_timer; /* bounds a wait with the VM stopped */
    QEMUTimerListGroup hold_tlg;    /* ... that nobody runs */
    QEMUTimer *hold_timer;          /* the gate stopped the VM here */
    uint64_t promise_ns;
    uint32_t gate_wait_ms;      /* 0: wait for ever */
    bool gate_quiet;            /* an idle guest sends quiet promises */
    bool gate_stopped;          /* the gate stopped the VM */
    bool gate_restart;          /* ... and it may go on: start it */
    bool gate_startup;          /* the first horizon not yet reached */
    QEMUBH *gate_start_bh;
    VMChangeStateEntry *gate_vmse;
    bool in_gate;

    bool in_bh;                 /* lane work on the stack: defer the free */
    bool read_held;             /* can_read said 0: poke it when room */
    bool dead;                  /* blade_lane_free() ran inside the BH */

    size_t stage_len;
    uint8_t stage[BLADE_LANE_STAGE];
};

static uint64_t bl_now(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

/*
 * qemu_bh_schedule() notifies the AioContext on every call, and that is
 * an eventfd write whenever the main loop found work ready before it
 * polled (the frames of a busy lane): schedule once until the BH runs.
 */
static void blade_lane_schedule(BladeLane *bl)
{
    if (!bl->bh_pending) {
        bl->bh_pending = true;
        qemu_bh_schedule(bl->bh);
    }
}

/* ---- the data path --------------------------------------------------- */

static gboolean blade_lane_watch_cb(void *do_not_use, GIOCondition cond,
                                    void *opaque)
{
    BladeLane *bl = opaque;

    bl->watch = 0;
    bl->writable_pending = true;
    blade_lane_schedule(bl);
    return G_SOURCE_REMOVE;
}

/* Octets out: as many as the chardev takes now, without blocking. */
static size_t blade_lane_write(void *opaque, const uint8_t *buf, size_t len)
{
    BladeLane *bl = opaque;
    int r = qemu_chr_fe_write(bl->be, buf, MIN(len, INT_MAX));

    r = MAX(r, 0);
    if ((size_t)r < len && !bl->watch) {
        /*
         * Full (or closing: its CLOSED event follows).  G_IO_HUP too, so
         * a peer that goes away ends the wait.
         */
        bl->watch = qemu_chr_fe_add_watch(bl->be, G_IO_OUT | G_IO_HUP,
                                          blade_lane_watch_cb, bl);
    }
    return r;
}

/* The ring offer's fds go with the next write (the hello and offer). */
static int blade_lane_send_fds(void *opaque, const int *fds, int n)
{
    BladeLane *bl = opaque;

    /* -1 when the chardev cannot pass fds (TCP): the lane stays put */
    return qemu_chr_fe_set_msgfds(bl->be, (int *)fds, n);
}

/* The lane dropped the peer (protocol error): so does the chardev. */
static void blade_lane_close(void *opaque)
{
    BladeLane *bl = opaque;

    /* runs inside lane_feed(): it returns the staged input as taken */
    qemu_chr_fe_disconnect(bl->be);
}

/*
 * Octets in: what is staged, then @in (the chardev's, in its read
 * handler), as far as the lane takes them; the rest of @in is staged.
 */
static void blade_lane_feed(BladeLane *bl, const uint8_t *in, size_t len)
{
    size_t took;

    if (bl->stage_len) {
        took = lane_feed(bl->lane, bl->stage, bl->stage_len, bl_now());
        if (bl->dead) {
            return;
        }
        took = MIN(took, bl->stage_len);
        memmove(bl->stage, bl->stage + took, bl->stage_len - took);
        bl->stage_len -= took;
    }
    if (len && !bl->stage_len) {
        took = MIN(lane_feed(bl->lane, in, len, bl_now()), len);
        if (bl->dead) {
            return;
        }
        in += took;
        len -= took;
    }
    /* can_read allowed no more than the stage holds */
    len = MIN(len, BLADE_LANE_STAGE - bl->stage_len);
    memcpy(bl->stage + bl->stage_len, in, len);
    bl->stage_len += len;
}

/* ---- following the lane ---------------------------------------------- */

/*
 * Every vCPU halted with nothing to do, in a running VM: until its next
 * timer, or an interrupt from outside, the guest does nothing.
 */
static bool blade_lane_guest_idle(BladeLane *bl)
{
    return bl->gate_quiet && !bl->gate_stopped && runstate_is_running() &&
           all_cpu_threads_idle();
}

/*
 * A quiet promise holds and the guest still sleeps: the promise timer
 * waits for the quiet's end.  A guest woken early (by the peer, or by
 * something outside the chassis) computes again, and is promised for as
 * it goes.
 */
static bool blade_lane_quiet_now(BladeLane *bl)
{
    return lane_vtime_quiet(bl->lane) > bl_now() && blade_lane_guest_idle(bl);
}

/*
 * The next periodic promise after @now, on a grid of promise_ns from
 * virtual time 0.  Not @now + promise_ns: a promise timer moved by a
 * quiet spell would fall out of step with the gate (whose horizons come
 * from the peer's promises, on the same grid when the latency is a
 * multiple of it), and every lookahead would cost two promises instead
 * of one, with a round of wake-ups through the chassis for each.
 */
static int64_t blade_lane_next_promise(BladeLane *bl, uint64_t now)
{
    uint64_t next = now - now % bl->promise_ns;

    return MIN(vtime_add_sat(next, bl->promise_ns), INT64_MAX);
}

static void blade_lane_gate_arm(BladeLane *bl);

static void blade_lane_rearm(BladeLane *bl)
{
    uint64_t dl = lane_deadline(bl->lane);

    if (bl->promise_timer && !blade_lane_quiet_now(bl) &&
        timer_expire_time_ns(bl->promise_timer) >
            blade_lane_next_promise(bl, bl_now())) {
        /* a quiet guest woke: promise as it computes again */
        timer_mod(bl->promise_timer, blade_lane_next_promise(bl, bl_now()));
    }

    if (bl->gate_timer && timer_pending(bl->gate_timer) &&
        lane_vtime_horizon(bl->lane) <
            (uint64_t)timer_expire_time_ns(bl->gate_timer)) {
        /*
         * A record of ours voided the peer's quiet promise: the horizon
         * came back to its promise of its clock, and the guest must not
         * run past it (a record it sends in answer is due from there on).
         */
        blade_lane_gate_arm(bl);
    }

    if (dl <= bl_now() && lane_is_connected(bl->lane)) {
        /*
         * Work due now (ring input beyond one round's budget): the BH
         * runs it at once, where a virtual-clock timer waits for the
         * clock (stopped under qtest, or while the VM is paused).
         */
        blade_lane_schedule(bl);
    }

    if (dl != bl->timer_at) {
        bl->timer_at = dl;
        if (dl == LANE_NO_DEADLINE) {
            timer_del(bl->timer);
        } else {
            timer_mod(bl->timer, MIN(dl, INT64_MAX));
        }
    }
}

static void blade_lane_ring_fd_cb(void *opaque);

static void blade_lane_set_fd_handler(BladeLane *bl, int fd, IOHandler *cb)
{
    if (bl->ctx) {
        aio_set_fd_handler(bl->ctx, fd, cb, NULL, NULL, NULL, cb ? bl : NULL);
    } else {
        qemu_set_fd_handler(fd, cb, NULL, cb ? bl : NULL);
    }
}

/* Watch the rings' wake-up socket while the lane uses rings. */
static void blade_lane_sync_fds(BladeLane *bl)
{
    LaneFd fds[LANE_MAX_FDS];
    int fd = lane_get_fds(bl->lane, fds) > 0 ? fds[0].fd : -1;

    if (fd != bl->ring_fd) {
        if (bl->ring_fd >= 0) {
            blade_lane_set_fd_handler(bl, bl->ring_fd, NULL);
        }
        bl->ring_fd = fd;
        bl->ring_ready = false;
        if (fd >= 0) {
            blade_lane_set_fd_handler(bl, fd, blade_lane_ring_fd_cb);
        }
    }
}

/* From the lane, in any context: its fds, deadline or output changed. */
static void blade_lane_io_changed(void *opaque)
{
    BladeLane *bl = opaque;

    blade_lane_sync_fds(bl);
    blade_lane_rearm(bl);
    if (lane_want_write(bl->lane)) {
        blade_lane_schedule(bl);
    }
}

/* The device's callbacks, and blade-lane's own. */
static void fwd_rx_frame(void *opaque, const uint8_t *f, size_t len)
{
    BladeLane *bl = opaque;

    bl->dev_ops->rx_frame(bl->opaque, f, len);
}

static bool fwd_can_receive(void *opaque)
{
    BladeLane *bl = opaque;

    return bl->dev_ops->can_receive(bl->opaque);
}

static void fwd_rx_util(void *opaque, const LaneUtil *u)
{
    BladeLane *bl = opaque;

    bl->dev_ops->rx_util(bl->opaque, u);
}

static void fwd_event(void *opaque, LaneEvent ev)
{
    BladeLane *bl = opaque;

    bl->dev_ops->event(bl->opaque, ev);
}

static void fwd_tx_ready(void *opaque)
{
    BladeLane *bl = opaque;

    bl->dev_ops->tx_ready(bl->opaque);
}

/* ---- all lane work: from the guarded BH, the timer or the input -------- */

static void blade_lane_gate_check_resume(BladeLane *bl);

static void blade_lane_run(BladeLane *bl, const uint8_t *in, size_t len)
{
    Object *dev = OBJECT(bl->dev);

    object_ref(dev);        /* a frame's DMA may unplug the device */
    bl->in_bh = true;
    if (lane_is_connected(bl->lane)) {
        blade_lane_feed(bl, in, len);
    }
    if (!bl->dead && bl->ring_ready) {
        /* the peer kicked: its records, or room for ours */
        bl->ring_ready = false;
        lane_handle_io(bl->lane, bl->ring_fd, G_IO_IN, bl_now());
    }
    if (!bl->dead && bl->close_pending) {
        bl->close_pending = false;
        bl->stage_len = 0;
        lane_closed(bl->lane, bl_now());
    }
    if (!bl->dead && bl->open_pending) {
        bl->open_pending = false;
        bl->stage_len = 0;
        lane_connected(bl->lane, bl_now());
    }
    if (!bl->dead && lane_deadline(bl->lane) <= bl_now()) {
        lane_handle_timer(bl->lane, bl_now());
    }
    if (!bl->dead && bl->writable_pending) {
        bl->writable_pending = false;
        lane_writable(bl->lane, bl_now());
    }
    if (!bl->dead && lane_want_write(bl->lane)) {
        lane_flush(bl->lane, bl_now());
    }
    if (!bl->dead) {
        blade_lane_rearm(bl);
        if (lane_want_write(bl->lane)) {
            /*
             * The flush made room and tx_ready() queued more: io_changed
             * does not fire (output was waiting before too), so flush
             * again next round.
             */
            blade_lane_schedule(bl);
        }
        if (bl->stage_len && lane_rx_room(bl->lane)) {
            blade_lane_schedule(bl);   /* staged input the lane can take */
        }
        bl->changed(bl->opaque);
    }
    if (!bl->dead && bl->gate_stopped) {
        blade_lane_gate_check_resume(bl);
    }
    if (!bl->dead && bl->read_held && lane_rx_room(bl->lane) &&
        !bl->stage_len) {
        /* the chardev may read again: poll it */
        bl->read_held = false;
        qemu_chr_fe_accept_input(bl->be);
    }
    bl->in_bh = false;
    if (bl->dead && !bl->in_gate) {
        g_free(bl);
    }
    object_unref(dev);
}

static void blade_lane_bh(void *opaque)
{
    BladeLane *bl = opaque;

    bl->bh_pending = false;
    blade_lane_run(bl, NULL, 0);
}

/*
 * The lane work, from the timer or the chardev's read handler, under the
 * device's re-entrancy guard exactly as aio_bh_call() runs a guarded BH.
 * The timer: the lane's clock is the virtual clock, and its deadlines
 * (pacing, negotiation, utilization) are handled when the clock reaches
 * them, not in a BH after the clock moved on (qtest and icount step the
 * clock through several deadlines at once).  The input: a BH hop per
 * read would cost a main-loop iteration for every 4 KiB a socket chardev
 * reads.
 */
static void blade_lane_run_guarded(BladeLane *bl, const uint8_t *in,
                                   size_t len)
{
    DeviceState *dev = bl->dev;
    MemReentrancyGuard *g = bl->guard;
    bool was = g->engaged_in_io;

    object_ref(OBJECT(dev));
    g->engaged_in_io = true;
    blade_lane_run(bl, in, len);
    g->engaged_in_io = was;
    object_unref(OBJECT(dev));
}

static void blade_lane_ring_fd_cb(void *opaque)
{
    BladeLane *bl = opaque;

    bl->ring_ready = true;
    blade_lane_run_guarded(bl, NULL, 0);
}

static void blade_lane_timer_cb(void *opaque)
{
    BladeLane *bl = opaque;

    bl->timer_at = LANE_NO_DEADLINE;
    blade_lane_run_guarded(bl, NULL, 0);
}

/* ---- the chardev's handlers ------------------------------------------- */

static int blade_lane_can_read(void *opaque)
{
    BladeLane *bl = opaque;

    /* events first: their order with the input matters */
    if (bl->close_pending || bl->open_pending ||
        !lane_rx_room(bl->lane) || bl->stage_len) {
        bl->read_held = true;
        return 0;
    }
    return BLADE_LANE_STAGE;
}

static void blade_lane_read(void *opaque, const uint8_t *buf, int size)
{
    BladeLane *bl = opaque;
    int fds[LANE_MAX_FDS + 1];
    int n = qemu_chr_fe_get_msgfds(bl->be, fds, ARRAY_SIZE(fds));

    /* fds came with these octets: the lane keeps or closes them */
    lane_give_fds(bl->lane, fds, n);
    blade_lane_run_guarded(bl, buf, MAX(size, 0));
}

static void blade_lane_event(void *opaque, QEMUChrEvent event)
{
    BladeLane *bl = opaque;

    switch (event) {
    case CHR_EVENT_OPENED:
        bl->open_pending = true;
        break;
    case CHR_EVENT_CLOSED:
        /* an open not yet handled never happened for the lane */
        bl->open_pending = false;
        bl->close_pending = true;
        break;
    default:
        return;
    }
    trace_blade_lane_chr_event(bl, event);
    blade_lane_schedule(bl);
}

/* ---- virtual time: the gate at the horizon ---------------------------- */

static const char *blade_lane_label(BladeLane *bl)
{
    Chardev *chr = qemu_chr_fe_get_driver(bl->be);

    return chr ? chr->label : "(none)";
}

static void blade_lane_gate_arm(BladeLane *bl)
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
    error_report("blade-lane: virtual time: no promise from the peer of "
                 "chardev '%s' for %u ms at %" PRIu64 " ns (is it paused, "
                 "or gone?); shutting down",
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
 * QEMU takes SIGTERM, SIGINT and SIGHUP through a signalfd in the main
 * loop, which a wait here holds: one pending ends the wait (the VM stops,
 * and the main loop then handles it), so that a blade stopped by its
 * user never waits out the bound.
 */
static bool blade_lane_gate_signalled(void)
{
    sigset_t pending;

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
 * was refused stays on the stream.
 */
static bool blade_lane_on_rings(BladeLane *bl)
{
    return !lane_shm_ring(bl->lane) || lane_on_rings(bl->lane);
}

/*
 * The guest may go on: the peer is there in virtual time (before its
 * hello, the horizon the link starts with means nothing) and has let it.
 */
static bool blade_lane_gate_open(BladeLane *bl)
{
    return lane_vtime_active(bl->lane) &&
           lane_vtime_horizon(bl->lane) > bl_now() &&
           (!bl_now() || blade_lane_on_rings(bl));
}

static void blade_lane_gate_check_resume(BladeLane *bl)
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
 * VM moves until the peer has.
 */
static void blade_lane_gate_cb(void *opaque)
{
    BladeLane *bl = opaque;
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
            blade_lane_gate_signalled()) {
            blade_lane_gate_stop(bl);
            break;
        }
        if (blade_lane_guest_idle(bl) && blade_lane_gate_quiet(bl, now)) {
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

bool blade_lane_parse_timing(const char *dev, const char *timing,
                             uint32_t latency_ns, bool *vtime, Error **errp)
{
    if (!timing || !strcmp(timing, "real")) {
        *vtime = false;
        return true;
    }
    if (strcmp(timing, "virtual")) {
        error_setg(errp, "%s: timing must be 'real' or 'virtual', not '%s'",
                   dev, timing);
        return false;
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

/* ---- life cycle -------------------------------------------------------- */

BladeLane *blade_lane_new_in(IOThread *iothread, MemReentrancyGuard *guard,
                             DeviceState *dev, CharBackend *be,
                             const LaneConfig *cfg, const LaneOps *ops,
                             void (*changed)(void *opaque), void *opaque,
                             Error **errp)
{
    BladeLane *bl = g_new0(BladeLane, 1);
    LaneOps *lops = &bl->ops;
    LaneConfig c = *cfg;
    int err = 0;

    bl->dev = dev;
    bl->guard = guard ? guard : &dev->mem_reentrancy_guard;
    if (iothread) {
        bl->ctx = iothread_get_aio_context(iothread);
        bl->gctx = iothread_get_g_main_context(iothread);
    }
    bl->be = be;
    bl->dev_ops = ops;
    bl->changed = changed;
    bl->opaque = opaque;
    bl->timer_at = LANE_NO_DEADLINE;
    bl->ring_fd = -1;
    /* only the callbacks the device has: the lane checks for NULL */
    lops->rx_frame = ops->rx_frame ? fwd_rx_frame : NULL;
    lops->can_receive = ops->can_receive ? fwd_can_receive : NULL;
    lops->rx_util = ops->rx_util ? fwd_rx_util : NULL;
    lops->event = ops->event ? fwd_event : NULL;
    lops->tx_ready = ops->tx_ready ? fwd_tx_ready : NULL;
    lops->io_changed = blade_lane_io_changed;
    lops->write = blade_lane_write;
    lops->close = blade_lane_close;
    lops->send_fds = blade_lane_send_fds;
    c.role = LANE_ROLE_STREAM;
    c.path = NULL;
    bl->lane = lane_new(&c, lops, bl, bl_now(), &err);
    if (!bl->lane) {
        error_setg_errno(errp, -err, "cannot set up the lane");
        g_free(bl);
        return NULL;
    }
    if (bl->ctx) {
        bl->bh = aio_bh_new_guarded(bl->ctx, blade_lane_bh, bl, bl->guard);
        bl->timer = aio_timer_new(bl->ctx, QEMU_CLOCK_VIRTUAL, SCALE_NS,
                                  blade_lane_timer_cb, bl);
    } else {
        bl->bh = qemu_bh_new_guarded(blade_lane_bh, bl, bl->guard);
        bl->timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, blade_lane_timer_cb, bl);
    }
    qemu_chr_fe_set_handlers(be, blade_lane_can_read, blade_lane_read,
                             blade_lane_event, NULL, bl, bl->gctx, true);
    return bl;
}

BladeLane *blade_lane_new(DeviceState *dev, CharBackend *be,
                          const LaneConfig *cfg, const LaneOps *ops,
                          void (*changed)(void *opaque), void *opaque,
                          Error **errp)
{
    return blade_lane_new_in(NULL, NULL, dev, be, cfg, ops, changed, opaque,
                             errp);
}

void blade_lane_free(BladeLane *bl)
{
    if (!bl) {
        return;
    }
    qemu_chr_fe_set_handlers(bl->be, NULL, NULL, NULL, NULL, NULL, NULL,
                             true);
    if (bl->watch) {
        /* the chardev's context: g_source_remove() looks in the default */
        GSource *src = g_main_context_find_source_by_id(bl->gctx, bl->watch);

        if (src) {
            g_source_destroy(src);
        }
        bl->watch = 0;
    }
    if (bl->ring_fd >= 0) {
        /* in the context it was set in: an iothread's, or the main loop */
        blade_lane_set_fd_handler(bl, bl->ring_fd, NULL);
        bl->ring_fd = -1;
    }
    /* inside a lane callback: the lane frees itself when it returns */
    lane_free(bl->lane);
    bl->lane = NULL;
    timer_free(bl->timer);
    bl->timer = NULL;
    /* may run inside the BH: QEMU allows it */
    qemu_bh_delete(bl->bh);
    bl->bh = NULL;
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
    if (bl->in_bh || bl->in_gate) {
        bl->dead = true;        /* the BH frees it when it returns */
    } else {
        g_free(bl);
    }
}

Lane *blade_lane_lane(BladeLane *bl)
{
    return bl->lane;
}

void blade_lane_flush(BladeLane *bl)
{
    if (lane_want_write(bl->lane)) {
        lane_flush(bl->lane, bl_now());
    }
}

void blade_lane_rx_resume(BladeLane *bl)
{
    bool outer = !bl->in_bh;

    /* frames it delivers may unplug the device: free bl only after */
    bl->in_bh = true;
    lane_rx_resume(bl->lane, bl_now());
    if (outer) {
        bl->in_bh = false;
    }
    if (bl->dead) {
        if (outer) {
            g_free(bl);
        }
        return;
    }
    if (bl->stage_len) {
        blade_lane_schedule(bl);       /* staged input next */
    }
    if (bl->read_held) {
        bl->read_held = false;
        qemu_chr_fe_accept_input(bl->be);
    }
}

Chardev *blade_lane_socket_chardev(const char *path, bool server,
                                   Error **errp)
{
    ChardevBackend *backend = g_new0(ChardevBackend, 1);
    ChardevSocket *sock = g_new0(ChardevSocket, 1);
    SocketAddressLegacy *addr = g_new0(SocketAddressLegacy, 1);
    UnixSocketAddress *ua = g_new0(UnixSocketAddress, 1);
    Chardev *chr;

    ua->path = g_strdup(path);
    addr->type = SOCKET_ADDRESS_TYPE_UNIX;
    addr->u.q_unix.data = ua;
    sock->addr = addr;
    sock->has_server = true;
    sock->server = server;
    if (server) {
        sock->has_wait = true;
        sock->wait = false;
    } else {
        sock->has_reconnect_ms = true;
        sock->reconnect_ms = BLADE_LANE_RECONNECT_MS;
    }
    backend->type = CHARDEV_BACKEND_KIND_SOCKET;
    backend->u.socket.data = sock;
    chr = qemu_chardev_new(NULL, TYPE_CHARDEV_SOCKET, backend, NULL, errp);
    qapi_free_ChardevBackend(backend);
    return chr;
}
