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

#include "remote-blade.h"

#define FAB_ETHERTYPE       0x88B5
#define FAB_MAX_PORTS       16
#define FAB_MAX_BLADES      256     /* local and remote, in one fabric */
#define FAB_NAME_LEN        32      /* chassis names, NUL included */
#define FAB_MAX_KEY         64      /* shared key, bytes */
#define FAB_VERSION         2       /* of the frames sent and accepted */
#define FAB_MAX_FRAME       1514    /* a control frame, Ethernet header in */
#define FAB_MAX_HOPS        32      /* most max_hops may be */
#define FAB_MAX_DEAD        100     /* most dead_intervals may be */

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
                                /* (1 ms .. 10 s) */
    unsigned dead_intervals;    /* neighbour lost after; 0: 3 (2 .. 100) */
    unsigned max_hops;          /* blades further away are not used; 0: 8 */
                                /* (.. FAB_MAX_HOPS) */
    /* HMAC-SHA256 shared key; key_len 0: frames are not authenticated */
    uint8_t key[FAB_MAX_KEY];
    size_t key_len;
    /*
     * Boot nonce, sent in every frame: it names this boot of the chassis
     * (the root's liveness is followed per boot; our own frames are told
     * from a namesake's).  Freshness rests on challenges, not on it.  0:
     * fab_new() draws one (ops->random, else getrandom()).
     */
    uint64_t nonce;
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

typedef struct FabOps {
    /* Send a control frame (Ethernet header included, no FCS). */
    void (*send)(void *opaque, unsigned port, const uint8_t *frame,
                 size_t len);
    /*
     * A port's state changed (link down, listening, forwarding, blocked):
     * it starts or stops forwarding data frames, or stays off for another
     * reason.  @why says which ("forwarding (root port)", "blocked (loop)",
     * ...).  Control frames flow on every port whose link is up.
     */
    void (*port_state)(void *opaque, unsigned port, bool forwarding,
                       const char *why);
    /* The remote blade table changed (optional): not for ages alone. */
    void (*remote_changed)(void *opaque);
    /*
     * Fill @buf with unpredictable octets (optional; NULL: the kernel's
     * getrandom()).  Challenges and the boot nonce come from it.  Tests
     * and fuzzers give a reproducible one.  Must not call fab_*().
     */
    void (*random)(void *opaque, void *buf, size_t len);
} FabOps;
/*
 * The callbacks are called from fab_input(), fab_tick() and
 * fab_port_link(); they may use the query functions, but calls that change
 * the Fabric (input, tick, link, set_local) are ignored while they run.
 */

typedef struct FabStats {
    uint64_t tx_adverts, rx_adverts;
    uint64_t rx_malformed;          /* too short, bad lengths, bad fields */
    uint64_t rx_bad_version;
    uint64_t rx_unauthenticated;    /* no MAC while a key is set */
    uint64_t rx_bad_auth;           /* MAC does not verify */
    /*
     * Echoes one of our recent challenges, but an earlier session of its
     * sender, or not a higher sequence number; or our own frame, sent
     * before the previous round.
     */
    uint64_t rx_replayed;
    /*
     * Echoes no recent challenge of ours: a neighbour that has not heard
     * us yet (at start, after a restart or a silence), or a frame recorded
     * earlier.
     */
    uint64_t rx_no_echo;
    uint64_t rx_own;                /* our own frames came back */
    uint64_t topology_changes;      /* a port started or stopped forwarding */
    uint64_t rx_id_conflict;        /* our chassis id with another nonce */
    uint64_t rx_no_room;            /* too many chassis on one port */
    uint64_t rx_too_many_blades;    /* beyond FAB_MAX_BLADES, not taken */
    uint64_t tx_truncated;          /* blades left out of advertisements */
    /*
     * The remote blade table recomputed: when a neighbour's table changed
     * (a complete round that says something new, a neighbour or a port
     * lost), never for frames that change nothing.
     */
    uint64_t route_computations;
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
    /*
     * "root", "designated", "alternate", "backup" (a loop to itself),
     * "edge" (no neighbour), "silent" (neighbours late), "disabled"
     */
    const char *role;
    unsigned neighbours;            /* chassis heard on it (shown: the best) */
} FabPortInfo;

typedef struct Fabric Fabric;

/*
 * NULL if @cfg is invalid (chassis_id 0, key too long, a name that is not
 * printable ASCII or not NUL-terminated, a multicast MAC, values out of
 * the ranges above) or @ops lacks send or port_state.
 */
Fabric *fab_new(const FabConfig *cfg, const FabOps *ops, void *opaque);
void fab_free(Fabric *fab);

/* A new port, link down and not forwarding.  -1 when full. */
int fab_add_port(Fabric *fab, const char *name);
void fab_port_link(Fabric *fab, unsigned port, bool up, uint64_t now);

/*
 * The blades of this chassis, as the next advertisements will carry.
 * Their age_ms are taken as of @now (fab_set_local_at()), or of the
 * latest time given to any fab_*() call (fab_set_local()).  At most
 * FAB_MAX_BLADES; entries with a multicast or zero MAC are left out.
 */
void fab_set_local(Fabric *fab, const FabLocalBlade *blades, unsigned n);
void fab_set_local_at(Fabric *fab, const FabLocalBlade *blades, unsigned n,
                      uint64_t now);

/* A received control frame (Ethernet header included, no FCS). */
void fab_input(Fabric *fab, unsigned port, const uint8_t *frame, size_t len,
               uint64_t now);

/*
 * Advertise, forget silent neighbours, recompute the tree.  After
 * fab_tick(now), fab_deadline() > now.  fab_input(), fab_port_link() and
 * fab_set_local*() may bring the deadline forward (to send news early):
 * re-arm the timer after them too.
 */
void fab_tick(Fabric *fab, uint64_t now);
uint64_t fab_deadline(const Fabric *fab);

bool fab_port_forwarding(const Fabric *fab, unsigned port);
bool fab_port_info(const Fabric *fab, unsigned port, uint64_t now,
                   FabPortInfo *pi);
/*
 * Remote blades, best route each (fewest hops, then freshest), sorted by
 * hops, chassis id, slot.  Returns how many were written to @out (at most
 * @max; there are never more than FAB_MAX_BLADES).
 */
unsigned fab_remote_blades(const Fabric *fab, uint64_t now,
                           RemoteBlade *out, unsigned max);
void fab_stats(const Fabric *fab, FabStats *st);
/* The root of the spanning tree as this chassis sees it. */
uint64_t fab_root_id(const Fabric *fab);
/* The boot nonce this Fabric sends. */
uint64_t fab_nonce(const Fabric *fab);

#endif
