/*
 * The inter-chassis control protocol of the switch blades (EtherType
 * 0x88B5, IEEE local experimental; docs/fabric-protocol.md): switch blades
 * joined by chain or fabric ports tell each other which blades they hold
 * and how loaded those are, so that the chassis whose uplink receives a
 * new flow can place it on a blade in any chassis; and they agree on a
 * loop-free set of forwarding links (a small spanning tree), so that a
 * ring of chassis cannot make a broadcast storm.
 *
 * Plain C (and glib's GHmac for the optional authentication), no clock
 * and no I/O of its own: the caller feeds received control frames to
 * fab_input(), calls fab_tick() at fab_deadline(), and sends what
 * ops->send() hands it.  Time is the caller's, in nanoseconds, never
 * going back.  Every received byte is untrusted: malformed frames, unknown
 * versions, failed authentication and replays are counted and ignored.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_FABRIC_H
#define BLADEPLANE_NET_FABRIC_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define FAB_ETHERTYPE       0x88B5
#define FAB_MAX_PORTS       16
#define FAB_MAX_BLADES      256     /* local and remote, in one fabric */
#define FAB_NAME_LEN        32      /* chassis names, NUL included */
#define FAB_MAX_KEY         64      /* shared key, bytes */

/* Where control frames go: a locally administered group address. */
extern const uint8_t fab_group_mac[6];

typedef struct FabConfig {
    uint64_t chassis_id;        /* unique in the fabric, not 0 */
    char name[FAB_NAME_LEN];    /* for people: "c1" */
    uint8_t mac[6];             /* source of the control frames */
    /*
     * Spanning tree: the chassis with the lowest (priority, chassis_id)
     * is the root.  Default 32768; a central switch takes a lower one.
     */
    uint16_t priority;
    uint64_t interval_ns;       /* advertisement period; 0: 100 ms */
    unsigned dead_intervals;    /* neighbour lost after; 0: 3 */
    unsigned max_hops;          /* blades further away are not used; 0: 8 */
    /* HMAC-SHA256 shared key; key_len 0: frames are not authenticated */
    uint8_t key[FAB_MAX_KEY];
    size_t key_len;
} FabConfig;

void fab_config_init(FabConfig *cfg);

/* One blade as this chassis holds it (for fab_set_local()). */
typedef struct FabLocalBlade {
    uint8_t mac[6];
    uint8_t slot;
    bool in_rotation;
    uint8_t cpu_pct, irq_pct;
    uint32_t age_ms;            /* age of the figures now */
} FabLocalBlade;

/* A blade of another chassis, by its best route. */
typedef struct FabRemoteBlade {
    uint8_t mac[6];
    uint8_t slot;
    bool in_rotation;
    uint8_t cpu_pct, irq_pct;
    /*
     * Age of the figures now: their age when the holding chassis sent
     * them, plus the time they took to get here.
     */
    uint64_t age_ns;
    uint8_t hops;               /* chassis crossed to reach it: 1 = next */
    unsigned port;              /* the fabric port it is reached through */
    uint64_t chassis_id;
    char chassis[FAB_NAME_LEN];
} FabRemoteBlade;

typedef struct FabOps {
    /* Send a control frame (Ethernet header included, no FCS). */
    void (*send)(void *opaque, unsigned port, const uint8_t *frame,
                 size_t len);
    /*
     * A port starts or stops forwarding data frames (spanning tree, or
     * link).  Control frames flow on every port whose link is up.
     */
    void (*port_state)(void *opaque, unsigned port, bool forwarding,
                       const char *why);
    /* The remote blade table changed (optional). */
    void (*remote_changed)(void *opaque);
} FabOps;

typedef struct FabStats {
    uint64_t tx_adverts, rx_adverts;
    uint64_t rx_malformed;          /* too short, bad lengths, bad fields */
    uint64_t rx_bad_version;
    uint64_t rx_unauthenticated;    /* no MAC while a key is set */
    uint64_t rx_bad_auth;           /* MAC does not verify */
    uint64_t rx_replayed;           /* old sequence number */
    uint64_t rx_own;                /* our own frames came back */
    uint64_t topology_changes;
} FabStats;

typedef struct FabPortInfo {
    char name[FAB_NAME_LEN];
    bool link;
    bool forwarding;
    const char *state;              /* "forwarding", "blocked (loop)", ... */
    bool neighbour;                 /* a neighbour is heard on it */
    uint64_t neighbour_id;
    char neighbour_name[FAB_NAME_LEN];
    uint64_t heard_age_ns;          /* since the last valid frame */
    uint64_t rx_adverts, tx_adverts;
} FabPortInfo;

typedef struct Fabric Fabric;

/* NULL if @cfg is invalid (chassis_id 0, key too long). */
Fabric *fab_new(const FabConfig *cfg, const FabOps *ops, void *opaque);
void fab_free(Fabric *fab);

/* A new port, link down and not forwarding.  -1 when full. */
int fab_add_port(Fabric *fab, const char *name);
void fab_port_link(Fabric *fab, unsigned port, bool up, uint64_t now);

/* The blades of this chassis, as the next advertisements will carry. */
void fab_set_local(Fabric *fab, const FabLocalBlade *blades, unsigned n);

/* A received control frame (Ethernet header included, no FCS). */
void fab_input(Fabric *fab, unsigned port, const uint8_t *frame, size_t len,
               uint64_t now);

/* Advertise, forget silent neighbours, recompute the tree. */
void fab_tick(Fabric *fab, uint64_t now);
uint64_t fab_deadline(const Fabric *fab);

bool fab_port_forwarding(const Fabric *fab, unsigned port);
bool fab_port_info(const Fabric *fab, unsigned port, uint64_t now,
                   FabPortInfo *pi);
/* Remote blades, best route each (fewest hops, then freshest). */
unsigned fab_remote_blades(const Fabric *fab, uint64_t now,
                           FabRemoteBlade *out, unsigned max);
void fab_stats(const Fabric *fab, FabStats *st);
/* The root of the spanning tree as this chassis sees it. */
uint64_t fab_root_id(const Fabric *fab);

#endif
