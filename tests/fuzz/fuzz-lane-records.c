/*
 * libFuzzer target: the lane record parser and everything behind it
 * (PCS receiver, raw records, auto-negotiation, virtual-time stamps and
 * promises), fed as a peer would.  The first input octet picks the chunk
 * size the stream is cut into; its low bits also pick the lane's pcs
 * (bit 0: raw), virtual time (bit 1) and, in virtual time, a latency at
 * the end of the u64 range (bit 2); bit 3 code-group capture; bit 4 a
 * late start near the end of the range (vtime_start_ns: a restarted
 * blade's); bit 5 a second connection half-way (its peer's hello may say
 * it is new on the link).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>

#include "fuzz-target.h"
#include "lane-transport.h"

/* Frames are summed into it so that ASan checks every octet. */
static volatile uint8_t sink;

static Lane *cur;
static uint64_t last_stamp, last_horizon, new_peers;

/*
 * The horizon never goes back, but for a peer new on the link after a
 * session with another: the quiet promises of that link are forgotten.
 */
static void check_horizon(uint64_t h)
{
    uint64_t n = lane_stats(cur)->vtime_new_peers;

    if (n != new_peers) {
        new_peers = n;
        last_horizon = h;
    }
    if (h < last_horizon) {
        abort();
    }
    last_horizon = h;
}

/*
 * Virtual time: what is delivered carries a stamp taken by the core, so
 * the stamps handed up never go back, never below what the peer
 * promised, and the horizon covers them.
 */
static void check_stamp(void)
{
    uint64_t s;

    if (!lane_vtime_active(cur)) {
        if (lane_rx_stamp(cur, &s)) {
            abort();        /* a stamp from a lane not in virtual time */
        }
        return;
    }
    if (!lane_rx_stamp(cur, &s) || s < last_stamp ||
        s < lane_vtime_link(cur)->peer_promise ||
        vtime_deliver_at(lane_vtime_link(cur), s) >
        lane_vtime_horizon(cur)) {
        abort();
    }
    last_stamp = s;
}

static void on_frame(void *opaque, const uint8_t *f, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        sink += f[i];
    }
    check_stamp();
}

/* Nothing impossible is delivered, and no figures without the form. */
static void on_util(void *opaque, const LaneUtil *u)
{
    if (u->cpu_pct > 100 || u->irq_pct > 100) {
        abort();
    }
    if (u->has_contention ? u->psi_permille > PCS_UTIL_MAX_PSI ||
                            u->runnable > PCS_UTIL_MAX_RUNNABLE
                          : u->psi_permille || u->runnable) {
        abort();
    }
    check_stamp();
}

/* The horizon only moves forward, and only by a promise or a stamp. */
static void on_promise(void *opaque, uint64_t t)
{
    uint64_t h = lane_vtime_horizon(cur);

    if (h < t || t < lane_vtime_link(cur)->last_stamp) {
        abort();
    }
    check_horizon(h);
}

/* Code groups captured, materialised data runs among them. */
static void on_cgs(void *opaque, bool rx, const uint16_t *cgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sink += cgs[i];
    }
}

static bool can_receive(void *opaque)
{
    return true;
}

static const LaneOps ops = {
    .rx_frame = on_frame, .rx_util = on_util, .can_receive = can_receive,
    .rx_promise = on_promise,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    LaneConfig cfg;
    Lane *lane;
    size_t chunk, half;
    uint64_t now = 0;

    if (size < 1) {
        return 0;
    }
    chunk = data[0] ? data[0] : 4096;
    data++;
    size--;
    lane_config_init(&cfg, LANE_ROLE_FD, NULL);
    cfg.pcs = chunk & 1 ? LANE_PCS_RAW : LANE_PCS_8B10B;
    cfg.vtime = chunk & 2;
    cfg.vtime_latency_ns = chunk & 4 ? VTIME_NEVER - 3 : 1000;
    cfg.vtime_start_ns = chunk & 16 ? VTIME_LATEST - 1000 : 0;
    lane = lane_new(&cfg, &ops, NULL, now, NULL);
    if (!lane) {
        abort();
    }
    if (chunk & 8) {
        /* data runs are then materialised, frames sent as code groups */
        lane_capture_cgs(lane, on_cgs, NULL, true, true);
    }
    cur = lane;
    last_stamp = last_horizon = new_peers = 0;
    half = chunk & 32 ? size / 2 : 0;
    while (size > 0) {
        size_t n = size < chunk ? size : chunk;
        uint64_t h;

        if (half && size <= half) {
            lane_connected(lane, now);      /* the same link, again */
            half = 0;
        }
        lane_feed(lane, data, n, now);
        h = lane_vtime_horizon(lane);
        if (!cfg.vtime && h != VTIME_NEVER) {
            abort();
        }
        check_horizon(h);
        data += n;
        size -= n;
        now += 1000000;
        if (lane_deadline(lane) <= now) {
            lane_handle_timer(lane, now);
        }
        lane_send_frame(lane, data - n, n > 1514 ? 1514 : n, now);
        /* this end's promises, from the input: never back, never twice */
        if (n >= 2 && lane_vtime_promise(lane, now + data[-1] * 1000ULL,
                                         now) &&
            lane_vtime_promise(lane, now + data[-1] * 1000ULL, now)) {
            abort();
        }
    }
    lane_free(lane);
    return 0;
}
