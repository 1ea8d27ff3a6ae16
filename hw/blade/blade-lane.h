/*
 * bladeplane: a backplane lane (net/lane-transport.h) over a QEMU
 * chardev, shared by blade-nic and blade-switch.
 *
 * The lane runs in LANE_ROLE_STREAM: the chardev's open and close events
 * connect and disconnect it, its input is fed to the lane and the lane's
 * output is written to it.  All lane work that can call back into the
 * device (frames, link changes, transmit room) runs under the device's
 * re-entrancy guard, as the device's own guarded BHs do.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_BLADE_LANE_H
#define HW_BLADE_LANE_H

#include "qemu/units.h"
#include "chardev/char-fe.h"
#include "system/iothread.h"
#include "qapi/qapi-types-blade.h"
#include "lane-transport.h"

typedef struct BladeLane BladeLane;

/*
 * Virtual time's defaults (docs/virtual-time.md): a lane's latency, the
 * lookahead of each direction (a minimum frame's serialisation at 1 Gb/s,
 * 0.67 us, plus PHY transmit and receive, about 1 us, plus propagation,
 * rounded up), and how long a process waits for a silent peer.
 */
#define BLADE_VTIME_LATENCY_NS  2000
#define BLADE_VTIME_WAIT_MS     30000
/*
 * The furthest a quiet promise reaches.  What makes an idle guest or an
 * idle chassis send from outside the run (console input, QMP) can reach
 * the lane only at the quiet's end, so this bounds how late that goes;
 * 10 ms keeps most of the idle speed-up (measured against 1 s and 1 ms:
 * docs/virtual-time.md).
 */
#define BLADE_VTIME_QUIET_MAX_NS (10 * 1000 * 1000)

/*
 * A paced lane's transmit FIFO in octets (LaneConfig.tx_fifo_ns), the
 * same setting for blade-nic and blade-switch: by default the reset value
 * of the 82576's TXPBS (QEMU's igb), 327.68 us at 1000 Mb/s.
 */
#define BLADE_LANE_TX_FIFO      (40 * KiB)
#define BLADE_LANE_MAX_TX_FIFO  (1 * MiB)

/* A device's tx-fifo property; false with @errp set, naming @dev, if not. */
bool blade_lane_check_tx_fifo(const char *dev, uint32_t octets,
                              Error **errp);
/*
 * Give @cfg, whose speed and timing are set, a transmit FIFO of @octets
 * at its line rate.
 */
void blade_lane_config_tx_fifo(LaneConfig *cfg, uint32_t octets);

/*
 * Run a lane of configuration @cfg (its role and path are ignored) over
 * the chardev @be is attached to.  @ops are the device's callbacks (not
 * write or io_changed: those are blade-lane's).  After each piece of lane
 * work blade-lane did on its own (input, timers, output, the chardev's
 * events), @changed is called at the top level, outside lane callbacks:
 * the device folds counters and link state there.  @dev's re-entrancy
 * guard and reference keep the device safe while the lane calls it; the
 * device may blade_lane_free() from a lane callback.
 */
BladeLane *blade_lane_new(DeviceState *dev, CharBackend *be,
                          const LaneConfig *cfg, const LaneOps *ops,
                          void (*changed)(void *opaque), void *opaque,
                          Error **errp);
/*
 * The same on @iothread (NULL: the main loop), for a device that moves
 * its lanes' work off the main loop: the chardev's handlers, the lane's
 * BH, timer and ring fd all run there, under @guard (NULL: the device's
 * re-entrancy guard; give a thread's lanes their own, as that flag is not
 * shared between threads), and so do @ops and @changed.  Call it, and
 * every other blade_lane_*() of the lane, in @iothread (for example with
 * aio_wait_bh_oneshot()).  Not with virtual time.
 */
BladeLane *blade_lane_new_in(IOThread *iothread, MemReentrancyGuard *guard,
                             DeviceState *dev, CharBackend *be,
                             const LaneConfig *cfg, const LaneOps *ops,
                             void (*changed)(void *opaque), void *opaque,
                             Error **errp);
/* Detach from the chardev and free (later, if its BH is running). */
void blade_lane_free(BladeLane *bl);
/* The lane, for the device's own calls (send, statistics, injection). */
Lane *blade_lane_lane(BladeLane *bl);
/* lane_rx_resume() and let the chardev's input in again. */
void blade_lane_rx_resume(BladeLane *bl);

/*
 * Output the device queued goes to the peer now rather than from the
 * lane's next BH run (a main-loop iteration later).  Not from inside a
 * lane callback: there it does nothing, and the BH flushes.
 *
 * In virtual time a sender calls it after each frame as well: whether the
 * next frame finds room in the lane's queue must not depend on when the
 * main loop gets to the flush (it would be sent at a different virtual
 * time on every run).
 */
void blade_lane_flush(BladeLane *bl);

/*
 * Virtual time on an icount guest (docs/virtual-time.md): the lane's
 * configuration has vtime set.  The guest never runs past the lane's
 * horizon: a virtual-clock timer there promises the clock and blocks on
 * the rings' wake-up fd until the peer moves the horizon (or, with no
 * rings yet, stops the VM until it does).  A promise of the clock goes
 * every @promise_ns as well.  A peer that does not move the horizon for
 * @wait_ms of wall time (0: no bound) ends the run with an error naming
 * the chardev.  With @quiet, a guest found idle at the horizon promises
 * quiet until its next timer (net/vtime.h), so that an idle chassis
 * moves from event to event.
 */
void blade_lane_vtime_gate(BladeLane *bl, uint64_t promise_ns,
                           uint32_t wait_ms, bool quiet);
/*
 * A device's timing property: virtual time needs a latency above 0 (the
 * lookahead).  Sets *@vtime; false with @errp set, naming @dev, if not.
 */
bool blade_lane_check_timing(const char *dev, BladeTiming timing,
                             uint32_t latency_ns, bool *vtime, Error **errp);
/* The gate has the VM stopped, waiting for the peer. */
bool blade_lane_vtime_waiting(BladeLane *bl);
/*
 * The device's frame found no room in the lane (lane_tx_held_for_room()):
 * in virtual time on the rings, the guest's clock waits here for the room
 * instead of running on, so that the frames leave at this time on every
 * run, however far the peer's process has got.  The lane's tx_ready ends
 * the wait.  Elsewhere (real time, or a lane on the stream) nothing.
 */
void blade_lane_vtime_hold_tx(BladeLane *bl);
/*
 * In virtual time, from a device's own timer: the lane's work due by now
 * (input whose delivery time has come, above all) first.  Timers due at
 * the same nanosecond run in the order they were armed, and the lane
 * arms its own when its process reads the record, a moment the host
 * decides: a frame due when the device's interrupt moderation ends would
 * be in that interrupt on one run and in the next on another.  Taken
 * first, it always is.  At the horizon, where such a frame may not have
 * been sent yet, the gate waits for the peer first.  Elsewhere nothing.
 */
void blade_lane_vtime_take_due(BladeLane *bl);

/*
 * A UNIX socket chardev for the backplane-directory shorthand: a server
 * at @path that does not wait for its peer (the switch slot), or a client
 * that connects to @path and reconnects every 100 ms (the NIC).  Returns
 * NULL with @errp set if it cannot be made.  The caller owns it: detach
 * with qemu_chr_fe_deinit(be, true).
 */
Chardev *blade_lane_socket_chardev(const char *path, bool server,
                                   Error **errp);

#endif
