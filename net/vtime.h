/*
 * Virtual time: the conservative synchronisation core one process keeps
 * per link (docs/virtual-time.md).
 *
 * Times are virtual nanoseconds (u64).  A stamp is the sender's clock
 * when it sent a record; a promise T is "nothing stamped earlier than T
 * follows".  The link latency L is the lookahead of one direction and is
 * added once, by the receiver: a record stamped s takes effect at s + L,
 * and the receiver may run up to (peer's promise + L) before it could
 * still receive something it has to act on.  So the receiver's own
 * setting of L is all that causality needs; a peer cannot shrink it.
 *
 * The peer is hostile: a stamp earlier than the last stamp or than the
 * peer's promise, or a promise earlier than an earlier promise or stamp,
 * is a violation.  It is counted and reported to the caller, which cuts
 * the link; nothing of the offending value is taken.
 *
 * A quiet promise (T, W) adds a condition: "and unless you write to me
 * first, nothing earlier than W either".  A side whose guest is idle
 * sends it with W its next timer, so that an idle chassis moves from
 * event to event rather than a lookahead at a time.  It holds only while
 * neither side writes a stamped record to the other: the receiver takes
 * W only if the sender had read every stamped record sent to it on this
 * connection (the sender says how many it read), drops it when it writes
 * one itself, and the sender raises its own stamps to W (counted) until
 * it reads one.  A stamp below a W that still holds breaks the promise.
 *
 * All arithmetic saturates at VTIME_NEVER (UINT64_MAX): a value near it
 * never wraps to a small time.
 *
 * Plain C, no QEMU headers; no clock is read here.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_VTIME_H
#define BLADEPLANE_NET_VTIME_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* "No bound": a horizon with no link, a time beyond every clock. */
#define VTIME_NEVER UINT64_MAX

/*
 * The latest time a peer may stamp or promise: 2^62 ns, about 146 years.
 * Far below where QEMU's int64_t clocks, and the "now + period" sums of
 * the timers that follow them, overflow; and a delivery time (stamp plus
 * a 32-bit latency) never saturates to VTIME_NEVER.
 */
#define VTIME_LATEST (UINT64_C(1) << 62)

typedef enum VtimeVerdict {
    VTIME_OK = 0,
    VTIME_STAMP_BACK,           /* stamp earlier than the last stamp */
    VTIME_STAMP_BROKE_PROMISE,  /* stamp earlier than the peer's promise */
    VTIME_PROMISE_BACK,         /* promise earlier than a promise or stamp */
    VTIME_STAMP_BROKE_QUIET,    /* stamp earlier than a quiet promise's W */
    VTIME_TOO_LATE,             /* stamp or promise past VTIME_LATEST */
} VtimeVerdict;

typedef struct VtimeCounters {
    uint64_t stamps;            /* stamps accepted */
    uint64_t promises;          /* promises accepted */
    uint64_t stamp_back;        /* violations, by kind */
    uint64_t stamp_broke_promise;
    uint64_t promise_back;
    uint64_t tx_stamps;         /* stamps this side sent */
    uint64_t tx_promises;       /* promises this side sent */
    uint64_t tx_stamps_raised;  /* stamps raised to a promise already made */
    uint64_t quiet;             /* quiet promises taken */
    uint64_t quiet_stale;       /* ... dropped: sent before a record of ours */
    uint64_t quiet_bad;         /* ... dropped: W earlier than T */
    uint64_t stamp_broke_quiet; /* a violation: see VTIME_STAMP_BROKE_QUIET */
    uint64_t tx_quiet;          /* quiet promises this side sent */
    uint64_t tx_quiet_raised;   /* stamps raised to this side's W */
    uint64_t too_late;          /* a violation: see VTIME_TOO_LATE */
} VtimeCounters;

/*
 * One link, both directions: what the peer promised and stamped (checked
 * against), and what this side sent (kept monotonic).  The state lasts
 * as long as the link, across reconnects: a peer that comes back must go
 * on from where it was (a peer restarted at time 0 is cut).
 */
typedef struct VtimeLink {
    uint64_t latency_ns;        /* lookahead of the direction into us */
    /* receive side: the peer's */
    uint64_t peer_promise;      /* latest promise, 0 before any */
    uint64_t last_stamp;        /* latest stamp, 0 before any */
    /* send side: this side's */
    uint64_t tx_floor;          /* latest stamp or promise sent */
    /* quiet promises: until a write voids them, or vtime_link_new_peer() */
    uint64_t peer_quiet;        /* the peer's W while it holds, else 0 */
    uint64_t tx_quiet;          /* this side's W while it holds, else 0 */
    uint64_t rx_records;        /* stamped records read */
    uint64_t tx_records;        /* stamped records written */
    VtimeCounters cnt;
} VtimeLink;

void vtime_link_init(VtimeLink *l, uint64_t latency_ns);

/*
 * A new connection: stamped records are counted from zero on it.  Quiet
 * promises outlive it, as promises do: the peer may have run on the
 * strength of ours, and ours holds until the peer writes to us.
 */
void vtime_link_connected(VtimeLink *l);
/*
 * The peer is a new process on this link: quiet promises either way are
 * void (it never heard ours; it made none).  What it promised and
 * stamped before stays: a new process starts where the old one left.
 */
void vtime_link_new_peer(VtimeLink *l);

/* a + b, or VTIME_NEVER if that does not fit. */
uint64_t vtime_add_sat(uint64_t a, uint64_t b);

/*
 * A record stamped @stamp arrived.  VTIME_OK: taken (it takes effect at
 * vtime_deliver_at()); otherwise counted, state unchanged: cut the link.
 */
VtimeVerdict vtime_rx_stamp(VtimeLink *l, uint64_t stamp);
/* A promise @t arrived.  VTIME_OK: taken; otherwise as above. */
VtimeVerdict vtime_rx_promise(VtimeLink *l, uint64_t t);
/*
 * The promise @t just taken was quiet until @w, sent when the peer had
 * read @peer_read stamped records of ours.  Taken if that is all we
 * wrote and @w is neither below @t nor past VTIME_LATEST; otherwise
 * dropped and counted (a quiet promise is worth nothing then, but breaks
 * no rule).  A W below one that still holds takes nothing back.
 */
void vtime_rx_quiet(VtimeLink *l, uint64_t t, uint64_t w, uint64_t peer_read);

/* When a record stamped @stamp takes effect here: stamp + latency. */
uint64_t vtime_deliver_at(const VtimeLink *l, uint64_t stamp);

/*
 * How far this side may run on this link's account: the peer can still
 * send nothing stamped earlier than its promise (or its last stamp, or
 * its quiet promise's W while that holds: the largest), which takes
 * effect a latency later.
 */
uint64_t vtime_link_horizon(const VtimeLink *l);

/*
 * The safe horizon of a process: the minimum of its links' horizons
 * (VTIME_NEVER with no link).  NULL entries are skipped.
 */
uint64_t vtime_horizon(const VtimeLink *const *links, size_t n);

/*
 * What this side may promise at clock @clock when nothing it sends can
 * leave earlier than @out_lookahead after it (0 when anything may go at
 * once): clock + out_lookahead, saturating.
 */
uint64_t vtime_may_promise(uint64_t clock, uint64_t out_lookahead);

/*
 * This side sends a record at clock @clock: the stamp to put on it.  It
 * is @clock, raised to the latest stamp or promise already sent if
 * @clock is below it (counted), so that what the peer sees never goes
 * back; and raised to this side's quiet W while that holds (counted:
 * something the peer did not cause woke this side, a user's console
 * input for example).  It voids the peer's quiet promise.
 */
uint64_t vtime_tx_stamp(VtimeLink *l, uint64_t clock);

/*
 * This side would promise @t: true if that tells the peer something new
 * (above everything sent so far), and it is then booked as sent; false
 * if it must not be sent (it would not advance, or would go back).
 */
bool vtime_tx_promise(VtimeLink *l, uint64_t t);

/*
 * This side, at clock @t, will be quiet until @w unless the peer writes
 * to it first: true if that tells the peer something new (@w above @t
 * and above a W of ours that still holds), and W then holds for this
 * side's stamps.  The record carries @t (booked with vtime_tx_promise()
 * if new) and l->rx_records as what this side read.
 */
bool vtime_tx_quiet(VtimeLink *l, uint64_t t, uint64_t w);

/* The name of a verdict, for messages and traces. */
const char *vtime_verdict_str(VtimeVerdict v);

#endif
