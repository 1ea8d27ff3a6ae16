/*
 * libFuzzer target: the lane record parser and everything behind it
 * (PCS receiver, raw records, auto-negotiation), fed as a peer would.
 * The first input octet picks the chunk size the stream is cut into;
 * its bit 0 raw mode, its bit 3 code-group capture.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>

#include "fuzz-target.h"
#include "lane-transport.h"

/* Frames are summed into it so that ASan checks every octet. */
static volatile uint8_t sink;

static void on_frame(void *opaque, const uint8_t *f, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        sink += f[i];
    }
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
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    LaneConfig cfg;
    Lane *lane;
    size_t chunk;
    uint64_t now = 0;

    if (size < 1) {
        return 0;
    }
    chunk = data[0] ? data[0] : 4096;
    data++;
    size--;
    lane_config_init(&cfg, LANE_ROLE_FD, NULL);
    cfg.pcs = chunk & 1 ? LANE_PCS_RAW : LANE_PCS_8B10B;
    lane = lane_new(&cfg, &ops, NULL, now, NULL);
    if (!lane) {
        abort();
    }
    if (chunk & 8) {
        /* data runs are then materialised, frames sent as code groups */
        lane_capture_cgs(lane, on_cgs, NULL, true, true);
    }
    while (size > 0) {
        size_t n = size < chunk ? size : chunk;

        lane_feed(lane, data, n, now);
        data += n;
        size -= n;
        now += 1000000;
        if (lane_deadline(lane) <= now) {
            lane_handle_timer(lane, now);
        }
        lane_send_frame(lane, data - n, n > 1514 ? 1514 : n, now);
    }
    lane_free(lane);
    return 0;
}
