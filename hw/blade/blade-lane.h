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

#include "chardev/char-fe.h"
#include "lane-transport.h"

typedef struct BladeLane BladeLane;

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
 */
void blade_lane_flush(BladeLane *bl);

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
