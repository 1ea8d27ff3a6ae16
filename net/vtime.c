/*
 * Virtual time: the conservative synchronisation core (see vtime.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include "vtime.h"

void vtime_link_init(VtimeLink *l, uint64_t latency_ns)
{
    memset(l, 0, sizeof(*l));
    l->latency_ns = latency_ns;
}

void vtime_link_connected(VtimeLink *l)
{
    l->rx_records = l->tx_records = 0;
}

void vtime_link_new_peer(VtimeLink *l)
{
    l->peer_quiet = l->tx_quiet = 0;
}

uint64_t vtime_add_sat(uint64_t a, uint64_t b)
{
    return b > VTIME_NEVER - a ? VTIME_NEVER : a + b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* Nothing the peer sends from now on may be stamped earlier than this. */
static uint64_t peer_floor(const VtimeLink *l)
{
    return max_u64(l->peer_promise, l->last_stamp);
}

VtimeVerdict vtime_rx_stamp(VtimeLink *l, uint64_t stamp)
{
    if (stamp > VTIME_LATEST) {
        l->cnt.too_late++;
        return VTIME_TOO_LATE;
    }
    if (stamp < l->last_stamp) {
        l->cnt.stamp_back++;
        return VTIME_STAMP_BACK;
    }
    if (stamp < l->peer_promise) {
        l->cnt.stamp_broke_promise++;
        return VTIME_STAMP_BROKE_PROMISE;
    }
    if (stamp < l->peer_quiet) {
        l->cnt.stamp_broke_quiet++;
        return VTIME_STAMP_BROKE_QUIET;
    }
    l->last_stamp = stamp;
    l->cnt.stamps++;
    l->rx_records++;
    /* the peer is awake (at W or later), and we were written to */
    l->peer_quiet = 0;
    l->tx_quiet = 0;
    return VTIME_OK;
}

VtimeVerdict vtime_rx_promise(VtimeLink *l, uint64_t t)
{
    if (t > VTIME_LATEST) {
        l->cnt.too_late++;
        return VTIME_TOO_LATE;
    }
    /* a stamp promised as much: a later promise below it goes back */
    if (t < peer_floor(l)) {
        l->cnt.promise_back++;
        return VTIME_PROMISE_BACK;
    }
    l->peer_promise = t;
    l->cnt.promises++;
    if (l->peer_quiet && t >= l->peer_quiet) {
        l->peer_quiet = 0;      /* the plain promise says as much */
    }
    return VTIME_OK;
}

void vtime_rx_quiet(VtimeLink *l, uint64_t t, uint64_t w, uint64_t peer_read)
{
    if (w < t || w > VTIME_LATEST) {
        l->cnt.quiet_bad++;
        return;
    }
    if (peer_read != l->tx_records) {
        /* a record of ours was on its way: it will wake the peer */
        l->cnt.quiet_stale++;
        return;
    }
    /* the horizon goes back only when this side writes (vtime_tx_stamp) */
    l->peer_quiet = max_u64(l->peer_quiet, w);
    l->cnt.quiet++;
}

uint64_t vtime_deliver_at(const VtimeLink *l, uint64_t stamp)
{
    return vtime_add_sat(stamp, l->latency_ns);
}

uint64_t vtime_link_horizon(const VtimeLink *l)
{
    return vtime_add_sat(max_u64(peer_floor(l), l->peer_quiet),
                         l->latency_ns);
}

uint64_t vtime_horizon(const VtimeLink *const *links, size_t n)
{
    uint64_t h = VTIME_NEVER;

    for (size_t i = 0; i < n; i++) {
        if (links[i]) {
            uint64_t lh = vtime_link_horizon(links[i]);

            h = lh < h ? lh : h;
        }
    }
    return h;
}

uint64_t vtime_may_promise(uint64_t clock, uint64_t out_lookahead)
{
    return vtime_add_sat(clock, out_lookahead);
}

uint64_t vtime_tx_stamp(VtimeLink *l, uint64_t clock)
{
    l->cnt.tx_stamps++;
    l->tx_records++;
    l->peer_quiet = 0;
    if (clock < l->tx_quiet) {
        l->cnt.tx_quiet_raised++;
        clock = l->tx_quiet;
    }
    if (clock < l->tx_floor) {
        l->cnt.tx_stamps_raised++;
        return l->tx_floor;
    }
    l->tx_floor = clock;
    return clock;
}

bool vtime_tx_promise(VtimeLink *l, uint64_t t)
{
    if (t <= l->tx_floor) {
        return false;
    }
    l->tx_floor = t;
    l->cnt.tx_promises++;
    return true;
}

bool vtime_tx_quiet(VtimeLink *l, uint64_t t, uint64_t w)
{
    /* a W that holds was relied on: a lower one cannot take it back */
    if (w <= t || w <= l->tx_quiet) {
        return false;
    }
    l->tx_quiet = w;
    l->cnt.tx_quiet++;
    return true;
}

const char *vtime_verdict_str(VtimeVerdict v)
{
    switch (v) {
    case VTIME_OK:
        return "ok";
    case VTIME_STAMP_BACK:
        return "stamp earlier than the last stamp";
    case VTIME_STAMP_BROKE_PROMISE:
        return "stamp earlier than the peer's promise";
    case VTIME_PROMISE_BACK:
        return "promise earlier than an earlier promise or stamp";
    case VTIME_STAMP_BROKE_QUIET:
        return "stamp earlier than the peer's quiet promise";
    case VTIME_TOO_LATE:
        return "stamp or promise past the latest time (2^62 ns)";
    }
    return "?";
}
