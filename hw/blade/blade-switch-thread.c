/*
 * bladeplane switch blade: slots whose lanes run on an iothread
 * (docs/switch-blade.md, "Threads").
 *
 * The lane thread does everything blade-lane does for the slot, PCS work
 * included, and writes the slot's capture and utilization log; the main
 * loop runs the forwarding engine.  Items cross in lock-free lists, taken
 * whole (QSLIST_INSERT_HEAD_ATOMIC and QSLIST_MOVE_ATOMIC, as QEMU's own
 * BH lists are), and are bounded by counters both sides read: the lane
 * thread stops taking input while the ingress is full (the lane's
 * back-pressure, as on the main loop), and the main loop drops, and
 * counts, what the egress has no room for.  A side is woken, with a BH,
 * only when the other handed it something.
 *
 * Per-flow order: a flow enters through one slot, whose items the lane
 * thread hands over in the order the lane received them, and the main
 * loop reads them in that order; it leaves through one port, whose frames
 * the main loop hands over in order to one thread.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/main-loop.h"
#include "qemu/memalign.h"
#include "block/aio.h"
#include "block/aio-wait.h"
#include "qapi/error.h"
#include "blade-switch-internal.h"
#include "trace.h"

/* ---- the lists between the threads ------------------------------------- */

static void bsw_chain_add(BswChain *c, BswFrame *f)
{
    f->xnext.sle_next = c->head;
    c->head = f;
    if (!c->tail) {
        c->tail = f;
    }
}

/* Hand @c over as a whole: one atomic operation for the batch. */
static void bsw_chain_hand_over(BswChain *c, BswFrameList *list)
{
    BswFrame *old;

    if (!c->head) {
        return;
    }
    do {
        old = qatomic_read(&list->slh_first);
        c->tail->xnext.sle_next = old;
    } while (qatomic_cmpxchg(&list->slh_first, old, c->head) != old);
    c->head = c->tail = NULL;
}

static void bsw_chain_free(BswChain *c)
{
    BswFrame *f;

    while ((f = c->head)) {
        c->head = f->xnext.sle_next;
        bsw_frame_free(f);
    }
    c->tail = NULL;
}

/* All that was handed over, appended to @q in the order it was given. */
static void bsw_take_over(BswFrameList *list, BswQueue *q)
{
    BswFrameList got, fifo = QSLIST_HEAD_INITIALIZER(fifo);
    BswFrame *f;

    QSLIST_MOVE_ATOMIC(&got, list);
    while ((f = QSLIST_FIRST(&got))) {
        QSLIST_REMOVE_HEAD(&got, xnext);
        QSLIST_INSERT_HEAD(&fifo, f, xnext);
    }
    while ((f = QSLIST_FIRST(&fifo))) {
        QSLIST_REMOVE_HEAD(&fifo, xnext);
        bsw_queue_append(q, f);
    }
}

static void bsw_free_list(BswFrameList *list)
{
    BswFrame *f;

    while ((f = QSLIST_FIRST(list))) {
        QSLIST_REMOVE_HEAD(list, xnext);
        bsw_frame_free(f);
    }
}

/* The ingress has room, counting what the lane thread has not handed. */
static bool bsw_th_room(BswLaneThread *th, int frames, int octets)
{
    return qatomic_read(&th->in_frames) + frames < BSW_INGRESS_FRAMES &&
           qatomic_read(&th->in_octets) + octets < BSW_INGRESS_OCTETS;
}

/* ---- the lane thread ---------------------------------------------------- */

/* A report or a link state, bounded apart from the frames. */
static void bsw_th_note(BswPort *p, BswFrame *f)
{
    p->th->chain_notes++;
    bsw_chain_add(&p->th->chain, f);
}

static bool bsw_th_note_room(BswLaneThread *th)
{
    return qatomic_read(&th->in_notes) + th->chain_notes < BSW_INGRESS_FRAMES;
}

static void bsw_th_hand_util(BswPort *p)
{
    BswLaneThread *th = p->th;
    BswFrame *f = bsw_note_new(BSW_ITEM_UTIL, &th->util, sizeof(th->util));

    th->util_held = false;
    bsw_th_note(p, f);
}

static void bsw_th_rx_frame(void *opaque, const uint8_t *frame, size_t len)
{
    BswPort *p = opaque;
    BswLaneThread *th = p->th;
    BswFrame *f = bsw_frame_new(frame, len);

    if (th->util_held) {
        /* the report came first; at most one a frame, so bounded */
        bsw_th_hand_util(p);
    }
    f->has_fcs = lane_rx_fcs(p->lane, &f->fcs);
    bsw_capture(p, frame, len);
    th->chain_frames++;
    th->chain_octets += len;
    bsw_chain_add(&th->chain, f);
}

/*
 * No room: say so before looking again, and the main loop, which makes
 * room before it looks at rx_held, cannot miss a lane that waits.
 */
static bool bsw_th_can_receive(void *opaque)
{
    BswPort *p = opaque;
    BswLaneThread *th = p->th;

    if (bsw_th_room(th, th->chain_frames, th->chain_octets)) {
        return true;
    }
    qatomic_set(&th->rx_held, true);
    smp_mb();   /* rx_held before the counters: pairs with bsw_thread_kick() */
    return bsw_th_room(th, th->chain_frames, th->chain_octets);
}

/*
 * A blade that floods reports while the main loop is behind has its
 * latest one held (the balancer wants the newest), not an unbounded list.
 */
static void bsw_th_rx_util(void *opaque, const LaneUtil *u)
{
    BswPort *p = opaque;
    BswLaneThread *th = p->th;

    bsw_log_util(p, u);
    if (!u->fresh) {
        return;
    }
    th->util = *u;
    th->util_held = true;
    if (bsw_th_note_room(th)) {
        bsw_th_hand_util(p);
    }
}

static void bsw_th_event(void *opaque, LaneEvent ev)
{
    BswPort *p = opaque;

    trace_blade_switch_lane_event(p->name, ev);
    bsw_symbols_event(p, ev);
}

/* The main loop's frames to the lane, as bsw_egress_lane() sends them. */
static void bsw_th_send(BswPort *p)
{
    BswLaneThread *th = p->th;
    uint64_t now = blade_switch_now();
    bool sent = false;
    BswFrame *f;

    bsw_take_over(&th->to_lane, &th->egress);
    while ((f = bsw_queue_peek(&th->egress))) {
        int r = f->has_fcs ?
                lane_send_frame_fcs(p->lane, f->data, f->len, f->fcs, now) :
                lane_send_frame(p->lane, f->data, f->len, now);

        if (r == -EAGAIN) {
            break;      /* tx_ready() resumes */
        }
        if (r < 0) {
            stat64_add(&th->tx_drops, 1);
            trace_blade_switch_drop(p->name, "lane refused", f->len);
        } else {
            bsw_capture(p, f->data, f->len);
            sent = true;
        }
        bsw_queue_pop(&th->egress);
        th->sent++;
    }
    if (sent) {
        blade_lane_flush(p->bl);
    }
}

static void bsw_th_tx_ready(void *opaque)
{
    bsw_th_send(opaque);
}

/*
 * After lane work: a link state that changed, a held report, and a wake-up
 * for the main loop if anything was handed over.  A link state that finds
 * no room waits for the next call (only the latest matters).
 */
static void bsw_th_publish(BswPort *p)
{
    BswLaneThread *th = p->th;
    bool sync = lane_is_sync_ok(p->lane);
    uint8_t link = (lane_is_connected(p->lane) ? BSW_LINK_CONNECTED : 0) |
                   (sync ? BSW_LINK_SYNC : 0) |
                   (lane_is_link_up(p->lane) && sync ? BSW_LINK_UP : 0);

    if (link != th->link_sent && bsw_th_note_room(th)) {
        BswFrame *f = bsw_note_new(BSW_ITEM_LINK, NULL, 0);

        f->link = link;
        th->link_sent = link;
        bsw_th_note(p, f);
    }
    if (th->util_held && bsw_th_note_room(th)) {
        bsw_th_hand_util(p);
    }
    if (p->pcap) {
        pcap_flush(p->pcap);
    }
    bsw_symbols_flush(p);
    if (th->sent) {
        qatomic_sub(&th->out_frames, th->sent);
        th->sent = 0;
    }
    if (th->chain.head) {
        /* counted before handed: the main loop subtracts what it reads */
        qatomic_add(&th->in_frames, th->chain_frames);
        qatomic_add(&th->in_octets, th->chain_octets);
        qatomic_add(&th->in_notes, th->chain_notes);
        th->chain_frames = th->chain_octets = th->chain_notes = 0;
        bsw_chain_hand_over(&th->chain, &th->to_core);
        qemu_bh_schedule(p->s->bh);
    }
}

static void bsw_th_changed(void *opaque)
{
    bsw_th_publish(opaque);
}

static const LaneOps bsw_th_lane_ops = {
    .rx_frame = bsw_th_rx_frame,
    .can_receive = bsw_th_can_receive,
    .rx_util = bsw_th_rx_util,
    .event = bsw_th_event,
    .tx_ready = bsw_th_tx_ready,
};

/* The main loop asked: input it has room for, frames it handed over. */
static void bsw_th_bh(void *opaque)
{
    BswPort *p = opaque;

    if (qatomic_xchg(&p->th->resume, false)) {
        blade_lane_rx_resume(p->bl);
    }
    bsw_th_send(p);
    bsw_th_publish(p);
}

/* ---- the main loop ------------------------------------------------------ */

void bsw_thread_collect(BswPort *p)
{
    bsw_take_over(&p->th->to_core, &p->ingress);
}

/* @f, taken from the ingress, is a note: read it and free it. */
bool bsw_thread_read_note(BswPort *p, BswFrame *f)
{
    LaneUtil u;

    switch (f->kind) {
    case BSW_ITEM_UTIL:
        memcpy(&u, f->data, sizeof(u));
        bsw_slot_report(p, &u);
        break;
    case BSW_ITEM_LINK:
        p->th->link = f->link;
        bsw_port_update_link(p);
        break;
    default:
        return false;
    }
    p->th->notes_read++;
    bsw_frame_free(f);
    return true;
}

/* Counted in bsw_thread_kick(), once a run of the forwarding BH. */
void bsw_thread_forwarded(BswPort *p, size_t len)
{
    p->th->forwarded++;
    p->th->forwarded_octets += len;
}

/* A frame for the lane: staged, and handed over by bsw_thread_kick(). */
void bsw_thread_output(BswPort *p, BswFrame *f)
{
    /*
     * Not at once: the engine may still read this frame for another
     * port's copy, and the lane thread frees it once sent.
     */
    bsw_queue_append(&p->egress, f);
    if (!p->s->in_bh) {
        bsw_schedule(p->s);     /* whose end kicks every port */
    }
}

/* Hand staged frames over, and let the lane take input if it waits. */
void bsw_thread_kick(BswPort *p)
{
    BswLaneThread *th = p->th;
    BswChain c = { NULL, NULL };
    bool wake = false;

    if (th->forwarded || th->notes_read) {
        qatomic_sub(&th->in_frames, th->forwarded);
        qatomic_sub(&th->in_octets, th->forwarded_octets);
        qatomic_sub(&th->in_notes, th->notes_read);
        th->forwarded = th->forwarded_octets = th->notes_read = 0;
    }
    if (p->egress.frames) {
        qatomic_add(&th->out_frames, p->egress.frames);
        while (p->egress.frames) {
            BswFrame *f = bsw_queue_take(&p->egress);

            /* a LIFO chain of a FIFO: the taker reverses it */
            bsw_chain_add(&c, f);
        }
        bsw_chain_hand_over(&c, &th->to_lane);
        wake = true;
    }
    smp_mb();   /* counters before rx_held: pairs with bsw_th_can_receive() */
    if (qatomic_read(&th->rx_held) && bsw_th_room(th, 0, 0) &&
        qatomic_xchg(&th->rx_held, false)) {
        qatomic_set(&th->resume, true);
        wake = true;
    }
    if (wake) {
        qemu_bh_schedule(th->bh);
    }
}

unsigned bsw_thread_queued(BswPort *p)
{
    return qatomic_read(&p->th->out_frames) + p->egress.frames;
}

uint64_t bsw_thread_tx_drops(BswPort *p)
{
    return p->th ? stat64_get(&p->th->tx_drops) : 0;
}

/* Run @fn where the port's lane runs, and wait for it. */
void bsw_thread_run(BswPort *p, QEMUBHFunc *fn, void *opaque)
{
    if (p->th) {
        aio_wait_bh_oneshot(p->th->ctx, fn, opaque);
    } else {
        fn(opaque);
    }
}

typedef struct BswLaneStatsCopy {
    BswPort *p;
    LaneStats ls;
    bool on_rings;
} BswLaneStatsCopy;

static void bsw_th_copy_stats(void *opaque)
{
    BswLaneStatsCopy *c = opaque;

    c->ls = *lane_stats(c->p->lane);
    c->on_rings = lane_on_rings(c->p->lane);
}

void bsw_thread_lane_stats(BswPort *p, LaneStats *ls, bool *on_rings)
{
    BswLaneStatsCopy c = { .p = p };

    bsw_thread_run(p, bsw_th_copy_stats, &c);
    *ls = c.ls;
    *on_rings = c.on_rings;
}

/* ---- life cycle --------------------------------------------------------- */

typedef struct BswLaneOpen {
    BswPort *p;
    IOThread *iothread;
    const LaneConfig *cfg;
    Error *err;
} BswLaneOpen;

static void bsw_th_open(void *opaque)
{
    BswLaneOpen *o = opaque;
    BswPort *p = o->p;
    BladeSwitchState *s = p->s;

    p->bl = blade_lane_new_in(o->iothread, &p->th->guard, DEVICE(s),
                              &s->slot_chr[p->slot], o->cfg,
                              &bsw_th_lane_ops, bsw_th_changed, p, &o->err);
    p->lane = p->bl ? blade_lane_lane(p->bl) : NULL;
}

/*
 * Open @p's lane on @iothread: the chardev's handlers are set there, as
 * QEMU's monitor sets its own on its iothread.
 */
bool bsw_thread_open_lane(BswPort *p, IOThread *iothread,
                          const LaneConfig *cfg, Error **errp)
{
    BswLaneThread *th = qemu_memalign(64, sizeof(*th));
    BswLaneOpen o = { .p = p, .iothread = iothread, .cfg = cfg };

    memset(th, 0, sizeof(*th));

    th->iothread = iothread;
    th->ctx = iothread_get_aio_context(iothread);
    bsw_queue_init(&th->egress, UINT_MAX, 0);
    th->bh = aio_bh_new_guarded(th->ctx, bsw_th_bh, p, &th->guard);
    p->th = th;
    aio_wait_bh_oneshot(th->ctx, bsw_th_open, &o);
    if (o.err) {
        error_propagate(errp, o.err);
        return false;
    }
    return true;
}

static void bsw_th_close(void *opaque)
{
    BswPort *p = opaque;

    blade_lane_free(p->bl);
    p->bl = NULL;
    p->lane = NULL;
    qemu_bh_delete(p->th->bh);
    p->th->bh = NULL;
    bsw_chain_free(&p->th->chain);
}

/* Close the lane in its thread; then nothing of the port runs there. */
void bsw_thread_free(BswPort *p)
{
    BswLaneThread *th = p->th;

    aio_wait_bh_oneshot(th->ctx, bsw_th_close, p);
    bsw_free_list(&th->to_core);
    bsw_free_list(&th->to_lane);
    bsw_queue_purge(&th->egress);
    qemu_vfree(th);
    p->th = NULL;
}
