/*
 * Unit tests: drive library lanes (sockets or rings) by hand, the way a
 * device's main loop would, without waiting.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TESTS_UNIT_LANE_PUMP_H
#define TESTS_UNIT_LANE_PUMP_H

#include <poll.h>

#include "lane-transport.h"

#define LANE_PUMP_MAX_LANES 4

/*
 * One round at time @now: the timers that are due, then whatever the
 * lanes' fds have ready (poll without waiting).  NULL lanes are skipped.
 * Returns how many timers and fd events were handled: 0 when the lanes
 * have nothing left to do at @now.
 */
static inline int lane_pump_round(Lane *const *lanes, int nlanes,
                                  uint64_t now)
{
    struct pollfd pfd[LANE_PUMP_MAX_LANES * LANE_MAX_FDS];
    Lane *owner[LANE_PUMP_MAX_LANES * LANE_MAX_FDS];
    int n = 0, busy = 0;

    g_assert(nlanes <= LANE_PUMP_MAX_LANES);
    for (int i = 0; i < nlanes; i++) {
        LaneFd fds[LANE_MAX_FDS];
        int k;

        if (!lanes[i]) {
            continue;
        }
        if (lane_deadline(lanes[i]) <= now) {
            lane_handle_timer(lanes[i], now);
            busy++;
        }
        k = lane_get_fds(lanes[i], fds);
        for (int j = 0; j < k; j++) {
            pfd[n].fd = fds[j].fd;
            pfd[n].events = fds[j].events;
            owner[n++] = lanes[i];
        }
    }
    if (n > 0 && poll(pfd, n, 0) > 0) {
        for (int j = 0; j < n; j++) {
            if (pfd[j].revents) {
                lane_handle_io(owner[j], pfd[j].fd, pfd[j].revents, now);
                busy++;
            }
        }
    }
    return busy;
}

#endif
