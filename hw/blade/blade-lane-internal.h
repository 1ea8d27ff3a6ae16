/*
 * bladeplane: what blade-lane.c (the lane over a chardev) and
 * blade-lane-vtime.c (its gate at the virtual-time horizon) share.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_BLADE_LANE_INTERNAL_H
#define HW_BLADE_LANE_INTERNAL_H

#include "qemu/timer.h"
#include "chardev/char-fe.h"
#include "system/runstate.h"
#include "blade-lane.h"

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
    uint64_t vtime_start_ns;    /* the peer's time at ours 0 (LaneConfig) */
    uint32_t gate_wait_ms;      /* 0: wait for ever */
    bool gate_quiet;            /* an idle guest sends quiet promises */
    bool gate_stopped;          /* the gate stopped the VM */
    bool gate_restart;          /* ... and it may go on: start it */
    bool gate_startup;          /* the first horizon not yet reached */
    bool tx_hold;               /* the lane has no room: the clock waits */
    QEMUBH *gate_start_bh;
    VMChangeStateEntry *gate_vmse;
    bool in_gate;

    bool in_bh;                 /* lane work on the stack: defer the free */
    bool read_held;             /* can_read said 0: poke it when room */
    bool dead;                  /* blade_lane_free() ran inside the BH */

    size_t stage_len;
    uint8_t stage[BLADE_LANE_STAGE];
};

static inline uint64_t bl_now(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
}

/*
 * qemu_bh_schedule() notifies the AioContext on every call, and that is
 * an eventfd write whenever the main loop found work ready before it
 * polled (the frames of a busy lane): schedule once until the BH runs.
 */

/* blade-lane.c */
void blade_lane_schedule(BladeLane *bl);
void blade_lane_rearm(BladeLane *bl);
void blade_lane_run_guarded(BladeLane *bl, const uint8_t *in, size_t len);

/* blade-lane-vtime.c */
bool blade_lane_quiet_now(BladeLane *bl);
int64_t blade_lane_next_promise(BladeLane *bl, uint64_t now);
void blade_lane_gate_arm(BladeLane *bl);
void blade_lane_gate_check_resume(BladeLane *bl);
void blade_lane_vtime_free(BladeLane *bl);

#endif
