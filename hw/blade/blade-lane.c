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
#include "blade-lane-internal.h"
#include "trace.h"
void blade_lane_schedule(BladeLane *bl)
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


void blade_lane_rearm(BladeLane *bl)
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

bool blade_lane_check_tx_fifo(const char *dev, uint32_t octets,
                              Error **errp)
{
    if (octets > BLADE_LANE_MAX_TX_FIFO) {
        error_setg(errp, "%s: tx-fifo %u octets is above the maximum %u",
                   dev, octets, (unsigned)BLADE_LANE_MAX_TX_FIFO);
        return false;
    }
    return true;
}

void blade_lane_config_tx_fifo(LaneConfig *cfg, uint32_t octets)
{
    /*
     * The sender fills the FIFO at memory speed and the line drains it:
     * frames leave in batches of half a FIFO, one wake-up each, not one
     * wake-up a frame.  In virtual time a record is stamped when it is
     * sent, so a FIFO deeper than the lane's least run-ahead would deliver
     * frames before the line could: there the lane keeps that.
     */
    cfg->tx_fifo_ns = cfg->speed_mbps && !cfg->vtime ?
                      (uint64_t)octets * 8000 / cfg->speed_mbps : 0;
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

    /* room: the device takes it now, and holds the clock again if it must */
    bl->tx_hold = false;
    bl->dev_ops->tx_ready(bl->opaque);
}

/* ---- all lane work: from the guarded BH, the timer or the input -------- */


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
void blade_lane_run_guarded(BladeLane *bl, const uint8_t *in,
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
    bl->vtime_start_ns = cfg->vtime_start_ns;
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
    blade_lane_vtime_free(bl);
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

/*
 * Nothing for blade_lane_bh() to do: no input, events, output or timer.
 * In virtual time the BH also carries the gate's work: always let it run.
 */
static bool blade_lane_idle(BladeLane *bl)
{
    return !bl->gate_timer && !bl->stage_len && !bl->ring_ready &&
           !bl->close_pending && !bl->open_pending && !bl->writable_pending &&
           !lane_want_write(bl->lane) && lane_deadline(bl->lane) > bl_now();
}

void blade_lane_flush(BladeLane *bl)
{
    if (lane_want_write(bl->lane)) {
        lane_flush(bl->lane, bl_now());
        /*
         * Queuing the output scheduled the BH (io_changed); if this
         * flush left it nothing to do, it would cost the frame a round
         * of the main loop.
         */
        if (bl->bh_pending && !bl->in_bh && blade_lane_idle(bl)) {
            qemu_bh_cancel(bl->bh);
            bl->bh_pending = false;
        }
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
