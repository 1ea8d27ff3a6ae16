/*
 * lane-patch: a patch cable between two backplane lanes.
 *
 * Listens on two lane sockets, as a chassis slot would, and passes what
 * arrives on one to the other: frames, the utilization carried in the
 * gap, and loss of signal.  Two blades whose NICs connect to the two ends
 * are wired back to back without a chassis.  With --log it prints one
 * line per link event and per utilization sample, for tests and for
 * people watching.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE             /* ppoll() */
#include <errno.h>
#include <getopt.h>
#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lane-transport.h"

typedef struct PatchEnd {
    const char *name;
    Lane *lane;
    struct PatchEnd *peer;
    /*
     * A frame from this end that the peer's lane had no room for: it is
     * held (and this end stops reading) until the peer's tx_ready.
     */
    uint8_t held[ETH_MAX_FRAME];
    size_t held_len;
} PatchEnd;

static bool log_lines;
static volatile sig_atomic_t stop;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void on_signal(int sig)
{
    stop = 1;
}

static bool end_can_receive(void *opaque)
{
    PatchEnd *e = opaque;

    return e->held_len == 0;
}

static void end_rx_frame(void *opaque, const uint8_t *frame, size_t len)
{
    PatchEnd *e = opaque;

    /*
     * A full queue on the far side stops reading on this side, so the
     * sender feels the back-pressure and no frame is lost here.
     */
    if (lane_send_frame(e->peer->lane, frame, len, now_ns()) == -EAGAIN &&
        len <= sizeof(e->held)) {
        memcpy(e->held, frame, len);
        e->held_len = len;
    }
}

static void end_tx_ready(void *opaque)
{
    PatchEnd *e = opaque;
    PatchEnd *from = e->peer;

    if (from->held_len == 0 ||
        lane_send_frame(e->lane, from->held, from->held_len,
                        now_ns()) == -EAGAIN) {
        return;
    }
    from->held_len = 0;
    lane_rx_resume(from->lane, now_ns());
}

static void end_rx_util(void *opaque, const LaneUtil *u)
{
    PatchEnd *e = opaque;

    if (!u->fresh) {
        return;
    }
    if (u->has_contention) {
        lane_set_util_contention(e->peer->lane, u->cpu_pct, u->irq_pct,
                                 u->psi_permille, u->runnable, now_ns());
    } else {
        lane_set_util(e->peer->lane, u->cpu_pct, u->irq_pct, now_ns());
    }
    if (log_lines && u->has_contention) {
        printf("util %s cpu=%u irq=%u seq=%u pressure=%u runnable=%u\n",
               e->name, u->cpu_pct, u->irq_pct, u->seq, u->psi_permille,
               u->runnable);
    } else if (log_lines) {
        printf("util %s cpu=%u irq=%u seq=%u\n", e->name, u->cpu_pct,
               u->irq_pct, u->seq);
    }
}

static void end_event(void *opaque, LaneEvent ev)
{
    static const char *const names[] = {
        [LANE_EV_CONNECTED] = "connected",
        [LANE_EV_DISCONNECTED] = "disconnected",
        [LANE_EV_SYNC_ACQUIRED] = "sync-acquired",
        [LANE_EV_SYNC_LOST] = "sync-lost",
        [LANE_EV_LINK_UP] = "link-up",
        [LANE_EV_LINK_DOWN] = "link-down",
    };
    PatchEnd *e = opaque;

    if (log_lines) {
        printf("event %s %s\n", e->name, names[ev]);
    }
    /*
     * Like a cable, pass loss of signal through, one direction at a time:
     * the far end transmits only while this end receives.  Following sync
     * rather than link state keeps the two directions independent, so a
     * blade that comes back always finds the other end's signal.
     */
    switch (ev) {
    case LANE_EV_SYNC_ACQUIRED:
        lane_set_tx_enabled(e->peer->lane, true, now_ns());
        break;
    case LANE_EV_SYNC_LOST:
    case LANE_EV_DISCONNECTED:
        lane_set_tx_enabled(e->peer->lane, false, now_ns());
        break;
    default:
        break;
    }
}

static const LaneOps patch_ops = {
    .rx_frame = end_rx_frame,
    .can_receive = end_can_receive,
    .rx_util = end_rx_util,
    .event = end_event,
    .tx_ready = end_tx_ready,
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lane-patch [--pcs 8b10b|raw] [--speed MBPS] [--log] "
            "A.sock B.sock\n"
            "Listen on two lane sockets and pass frames and utilization "
            "between them.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "pcs", required_argument, NULL, 'p' },
        { "speed", required_argument, NULL, 's' },
        { "log", no_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    PatchEnd ends[2] = { { .name = "a" }, { .name = "b" } };
    LanePcs pcs = LANE_PCS_8B10B;
    guint64 speed = 1000;
    int opt, i;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;

        switch (opt) {
        case 'p':
            if (!strcmp(optarg, "8b10b")) {
                pcs = LANE_PCS_8B10B;
            } else if (!strcmp(optarg, "raw")) {
                pcs = LANE_PCS_RAW;
            } else {
                fprintf(stderr, "lane-patch: --pcs must be 8b10b or raw\n");
                return 2;
            }
            break;
        case 's':
            errno = 0;
            speed = g_ascii_strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg || speed > 400000) {
                fprintf(stderr, "lane-patch: --speed takes Mb/s, "
                        "0 (unpaced) to 400000\n");
                return 2;
            }
            break;
        case 'l':
            log_lines = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigaction(SIGINT, &(struct sigaction) { .sa_handler = on_signal }, NULL);
    sigaction(SIGTERM, &(struct sigaction) { .sa_handler = on_signal }, NULL);
    sigaction(SIGPIPE, &(struct sigaction) { .sa_handler = SIG_IGN }, NULL);

    ends[0].peer = &ends[1];
    ends[1].peer = &ends[0];
    for (i = 0; i < 2; i++) {
        LaneConfig cfg;
        int err;

        lane_config_init(&cfg, LANE_ROLE_SERVER, argv[optind + i]);
        cfg.pcs = pcs;
        cfg.speed_mbps = (uint32_t)speed;
        ends[i].lane = lane_new(&cfg, &patch_ops, &ends[i], now_ns(), &err);
        if (!ends[i].lane) {
            fprintf(stderr, "lane-patch: cannot listen on %s: %s\n",
                    argv[optind + i], strerror(-err));
            return 1;
        }
        /* No signal on either end until the other end has one. */
        lane_set_tx_enabled(ends[i].lane, false, now_ns());
    }
    if (log_lines) {
        printf("listening %s %s\n", argv[optind], argv[optind + 1]);
    }

    while (!stop) {
        struct pollfd pfd[2 * LANE_MAX_FDS];
        Lane *owner[2 * LANE_MAX_FDS];
        uint64_t now = now_ns(), deadline = LANE_NO_DEADLINE;
        struct timespec wait, *waitp = NULL;
        int n = 0, k;

        for (i = 0; i < 2; i++) {
            LaneFd fds[LANE_MAX_FDS];
            int m = lane_get_fds(ends[i].lane, fds);
            uint64_t d = lane_deadline(ends[i].lane);

            for (k = 0; k < m; k++) {
                pfd[n] = (struct pollfd) { .fd = fds[k].fd,
                                           .events = fds[k].events };
                owner[n++] = ends[i].lane;
            }
            deadline = d < deadline ? d : deadline;
        }
        /*
         * To the nanosecond: a paced lane's next slot is microseconds
         * away, and poll()'s milliseconds held a 1 Gb/s lane to a sixth
         * of that.
         */
        if (deadline != LANE_NO_DEADLINE) {
            uint64_t left = deadline <= now ? 0 : deadline - now;

            wait.tv_sec = left / 1000000000ull;
            wait.tv_nsec = left % 1000000000ull;
            waitp = &wait;
        }
        if (ppoll(pfd, n, waitp, NULL) < 0 && errno != EINTR) {
            perror("lane-patch: poll");
            break;
        }
        for (k = 0; k < n; k++) {
            if (pfd[k].revents) {
                lane_handle_io(owner[k], pfd[k].fd, pfd[k].revents, now_ns());
            }
        }
        for (i = 0; i < 2; i++) {
            if (lane_deadline(ends[i].lane) <= now_ns()) {
                lane_handle_timer(ends[i].lane, now_ns());
            }
        }
    }
    for (i = 0; i < 2; i++) {
        lane_free(ends[i].lane);
        unlink(argv[optind + i]);
    }
    return 0;
}
