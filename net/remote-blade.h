/*
 * A blade of another chassis: one record for the fabric (net/fabric.h),
 * which finds it and its best route, and the forwarding engine
 * (net/switch-core.h), which balances to it.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_REMOTE_BLADE_H
#define BLADEPLANE_NET_REMOTE_BLADE_H

#include <stdint.h>
#include <stdbool.h>

#define REMOTE_BLADE_NAME_LEN 32        /* chassis names, NUL included */

typedef struct RemoteBlade {
    uint64_t chassis_id;
    char chassis[REMOTE_BLADE_NAME_LEN];
    uint8_t slot;               /* in its chassis */
    uint8_t mac[6];
    /*
     * The port it is reached through: the fabric's port number from
     * fab_remote_blades(), the switch's for swcore_set_remote().
     */
    unsigned port;
    uint8_t hops;               /* chassis crossed: 1 = the next one */
    bool in_rotation;           /* in its own chassis */
    uint8_t cpu_pct, irq_pct;
    /*
     * Age of the figures now: their age when the holding chassis sent
     * them, plus the time they took to get here.
     */
    uint64_t age_ns;
} RemoteBlade;

#endif
