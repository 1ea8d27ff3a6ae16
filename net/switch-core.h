/*
 * The switch blade's forwarding engine and blade server manager, as plain
 * C: an L2 learning switch over numbered ports, virtual services (ARP for
 * the VIPs, flows placed on blades by a balancing policy, direct server
 * return by MAC rewrite), steering rules, blade rotation by link state
 * and report age.
 *
 * It owns no sockets, queues or timers.  The caller (hw/blade's
 * blade-switch, the unit tests, benchmarks) feeds it frames with the port
 * they came from, tells it about links and utilization reports, calls
 * swcore_tick() at swcore_deadline(), and gets every frame to send through
 * ops->output(), synchronously.  Time is the caller's, in nanoseconds,
 * never going back.
 *
 * Blades: blade i < SW_MAX_BLADES is the blade in slot i, reached through
 * the port that swcore_add_port() created for that slot.  Blades of other
 * chassis (swcore_set_remote(), from the inter-chassis control protocol)
 * take indices from SW_MAX_BLADES up.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_SWITCH_CORE_H
#define BLADEPLANE_NET_SWITCH_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "balance.h"
#include "remote-blade.h"

#define SW_MAX_PORTS        128
#define SW_MAX_BLADES       64      /* slots */
#define SW_MAX_REMOTE       192     /* blades of other chassis */
#define SW_BLADES_ALL       (SW_MAX_BLADES + SW_MAX_REMOTE)
#define SW_MAX_RULES        64
#define SW_NAME_LEN         32      /* names, NUL included */
#define SW_MIN_FRAME        14
#define SW_MAX_FRAME        9018    /* octets without FCS */
#define SW_ETHERTYPE_FABRIC 0x88B5  /* IEEE local experimental */
#define SW_SLOT_MAC_LIMIT   64      /* a slot port's default mac limit */

typedef enum SwPortKind {
    SW_PORT_SLOT,
    SW_PORT_UPLINK,
    SW_PORT_CHAIN,
} SwPortKind;

typedef enum SwProto {
    SW_PROTO_TCP = 6,
    SW_PROTO_UDP = 17,
} SwProto;

/* Frames the switch itself drops, by reason. */
typedef enum SwDrop {
    SW_DROP_RUNT,           /* shorter than an Ethernet header */
    SW_DROP_OVERSIZE,
    SW_DROP_BAD_SOURCE,     /* multicast or zero source MAC */
    SW_DROP_SAME_PORT,      /* destination learned on the ingress port */
    SW_DROP_PORT_DOWN,      /* ingress or egress port down or blocked */
    SW_DROP_TO_SWITCH,      /* to the switch's MAC, not for a VIP */
    SW_DROP_NO_SERVICE,     /* to a VIP, no service or rule matches */
    SW_DROP_NO_BLADE,       /* new flow, no blade of the group eligible */
    SW_DROP_FRAGMENT,       /* fragmented datagram to a VIP */
    SW_DROP_BAD_IP,         /* malformed IPv4 or L4 header */
    SW_DROP_BLOCKED,        /* ingress or egress port blocked (loop) */
    SW_DROP__MAX
} SwDrop;

typedef struct SwConfig {
    uint8_t mac[6];             /* the switch's own MAC */
    uint32_t mac_table_size;    /* 0: 4096 */
    uint64_t mac_aging_ns;      /* 0: 300 s */
    uint32_t flow_table_size;   /* 0: 65536 */
    uint64_t flow_idle_ns;      /* 0: 60 s */
    uint64_t flow_linger_ns;    /* after FIN/RST from the client; 0: 2 s */
    uint64_t util_stale_ns;     /* 0: 1 s */
    uint64_t seed;              /* hash and policy seed */
    uint32_t hop_cost_pct;      /* load added per chassis hop; 0: none */
    BalParams bal;              /* policy parameters */
} SwConfig;

void swcore_config_init(SwConfig *cfg);

/* A balancing decision, for traces and tests. */
typedef struct SwDecision {
    unsigned rule;
    int blade;                  /* -1: none eligible */
    bool moved;                 /* the flow's old blade left the rotation */
    BalPolicy policy;
    uint8_t cpu_pct, irq_pct;   /* the chosen blade's figures */
    uint64_t report_age_ns;
    uint32_t score;             /* bal_util_score(), centi-percent */
    uint32_t active;
} SwDecision;

typedef struct SwOps {
    /* Send @frame on @port.  The core does not keep the pointer. */
    void (*output)(void *opaque, unsigned port, const uint8_t *frame,
                   size_t len);
    /* Blade @blade entered or left the rotation (optional). */
    void (*blade_state)(void *opaque, unsigned blade, bool in_rotation,
                        const char *reason);
    /* Every balancing decision (optional). */
    void (*decision)(void *opaque, const SwDecision *d);
    /*
     * A frame with EtherType SW_ETHERTYPE_FABRIC, for the inter-chassis
     * control protocol (optional: else such frames are switched).
     */
    void (*fabric_frame)(void *opaque, unsigned port, const uint8_t *frame,
                         size_t len);
} SwOps;

typedef struct SwitchCore SwitchCore;

SwitchCore *swcore_new(const SwConfig *cfg, const SwOps *ops, void *opaque);
void swcore_free(SwitchCore *sw);

/*
 * A new port, down.  @slot: the blade slot for SW_PORT_SLOT (0 ..
 * SW_MAX_BLADES - 1, each once), ignored otherwise.  Returns the port
 * number, or -1 (too many ports, a slot out of range or used twice).
 */
int swcore_add_port(SwitchCore *sw, SwPortKind kind, const char *name,
                    unsigned slot);
unsigned swcore_port_count(const SwitchCore *sw);
/* Port link: frames flow only while up.  Down forgets its MACs. */
void swcore_port_link(SwitchCore *sw, unsigned port, bool up, uint64_t now);
/*
 * A blocked port (a link the spanning tree keeps out of use) neither
 * takes nor gets data frames; control frames still reach
 * ops->fabric_frame.  Blocking forgets its MACs.
 */
void swcore_port_set_blocked(SwitchCore *sw, unsigned port, bool blocked,
                             uint64_t now);
/* Forget what was learned on @port (a topology change behind it). */
void swcore_mac_forget_port(SwitchCore *sw, unsigned port);
/* Learn @mac on @port as if a frame from it had arrived there. */
void swcore_mac_learn(SwitchCore *sw, const uint8_t *mac, unsigned port,
                      uint64_t now);
/*
 * At most @limit addresses learned on @port (0: no limit).  Slot ports
 * start at SW_SLOT_MAC_LIMIT, other ports at none.  A source address new
 * to a port at its limit is not learned (nor moved there) and the frame
 * is counted in mac_over_limit, then switched as any other: replies to it
 * are flooded.  Lowering the limit forgets the port's oldest addresses
 * beyond it.  Whatever the limits, a full table makes room by forgetting
 * the oldest address of the port holding the most, so one port's new
 * addresses never push out another's while it holds more than they do.
 */
void swcore_port_set_mac_limit(SwitchCore *sw, unsigned port,
                               uint32_t limit);

/*
 * The blades of other chassis now, replacing the previous set.  A blade
 * keeps its index while it stays (same chassis and slot), so its flows
 * stay; one that is gone leaves the rotation and its flows move.  The
 * figures weigh less as they age (towards 50 % at util_stale_ns), and
 * each hop adds hop_cost_pct.  Returns how many were taken (at most
 * SW_MAX_REMOTE).
 */
unsigned swcore_set_remote(SwitchCore *sw, const RemoteBlade *rb,
                           unsigned n, uint64_t now);

/*
 * A frame from @port (destination MAC first, no FCS).  The core may
 * rewrite it in place before passing it on: @frame must be writable.
 */
void swcore_input(SwitchCore *sw, unsigned port, uint8_t *frame, size_t len,
                  uint64_t now);
/*
 * In output(), during swcore_input(): whether the core changed the frame
 * before passing it on (an answer for a VIP, a flow's blade MAC).  If
 * not, the frame is the input's octets, and an FCS it came with is still
 * its FCS.
 */
bool swcore_frame_rewritten(const SwitchCore *sw);

/* A new utilization sample from the blade in @slot. */
void swcore_blade_report(SwitchCore *sw, unsigned slot, unsigned cpu_pct,
                         unsigned irq_pct, uint64_t now);
/*
 * A new sample that also carries contention figures (the contention form
 * of the utilization set): CPU pressure in permille (0..1000) and
 * runnable tasks (0..1023); larger figures are taken as the largest.  A
 * sample given to swcore_blade_report() clears them.
 */
void swcore_blade_report_contention(SwitchCore *sw, unsigned slot,
                                    unsigned cpu_pct, unsigned irq_pct,
                                    unsigned psi_permille, unsigned runnable,
                                    uint64_t now);

/* Age MACs, end idle flows, re-check report ages.  Bounded work. */
void swcore_tick(SwitchCore *sw, uint64_t now);
/* When swcore_tick() must next run (UINT64_MAX: nothing pending). */
uint64_t swcore_deadline(const SwitchCore *sw);

/* ---- services and steering rules ---------------------------------------- */

typedef enum SwRuleKind {
    SW_RULE_SERVICE,    /* VIP + protocol + port (0: all) */
    SW_RULE_STEERING,   /* protocol + port range [+ VIP]: looked at first */
} SwRuleKind;

typedef struct SwRuleSpec {
    SwRuleKind kind;
    char name[SW_NAME_LEN];
    uint32_t vip;               /* network order; 0: any (steering only) */
    SwProto proto;
    uint16_t port_min, port_max;
    uint16_t nblades;
    uint8_t blades[SW_MAX_BLADES];  /* slots */
    bool remote;                /* also every blade of other chassis */
    BalPolicy policy;
} SwRuleSpec;

/*
 * Add a rule.  Returns 0, or -1 with a message in @err (@errlen bytes):
 * duplicate name, no blades, a slot without a port, a bad range...
 */
int swcore_rule_add(SwitchCore *sw, const SwRuleSpec *spec, char *err,
                    size_t errlen);
/* Delete by name: its flows end.  -1 if there is no such rule. */
int swcore_rule_del(SwitchCore *sw, const char *name);
int swcore_rule_set_policy(SwitchCore *sw, const char *name, BalPolicy p);

/* ---- introspection ------------------------------------------------------- */

typedef struct SwPortInfo {
    SwPortKind kind;
    char name[SW_NAME_LEN];
    unsigned slot;
    bool up;
    bool blocked;
    uint64_t rx_frames, rx_bytes;   /* into the core */
    uint64_t tx_frames, tx_bytes;   /* passed to ops->output */
    uint64_t drops;                 /* the core's drops of its frames */
    uint64_t link_changes;
    uint32_t macs;                  /* addresses learned on it now */
    uint32_t mac_limit;             /* 0: none */
    uint64_t mac_over_limit;        /* frames from sources not learned */
} SwPortInfo;

typedef struct SwBladeInfo {
    bool present;               /* a port exists for this slot */
    bool remote;                /* in another chassis: */
    uint64_t chassis_id;
    char chassis[SW_NAME_LEN];
    unsigned slot;              /* its slot there (or here) */
    unsigned hops;
    unsigned port;
    bool mac_known;
    uint8_t mac[6];
    bool in_rotation;
    const char *reason;         /* "in rotation" or why not */
    bool reported;
    uint8_t cpu_pct, irq_pct;   /* as reported (score: as weighed) */
    /* the latest report's contention figures; none from remote blades */
    bool has_contention;
    uint16_t psi_permille;
    uint16_t runnable;
    uint64_t report_age_ns;
    uint64_t reports;
    uint32_t active_flows;
    uint64_t new_flows;
    uint64_t moved_flows;       /* moved away from this blade */
    uint32_t score;             /* bal_util_score(), centi-percent */
    /*
     * Requests in flight: flows whose client sent payload the blade has
     * not answered with payload yet (its answers pass this switch: direct
     * server return); requests answered; the learned latency of one sent
     * while no other was in flight (0: none yet).
     */
    uint32_t requests_in_flight;
    uint64_t requests_answered;
    uint64_t request_latency_ns;
    uint64_t request_cost_ns;   /* bal_request_cost_ns() */
} SwBladeInfo;

typedef struct SwRuleInfo {
    SwRuleSpec spec;
    uint64_t new_flows;
    uint64_t no_blade;
    uint64_t blade_new_flows[SW_BLADES_ALL];    /* per blade index */
} SwRuleInfo;

typedef struct SwFlowStats {
    uint32_t count, capacity;
    uint64_t created, closed, expired, evicted, moved;
    size_t memory;
} SwFlowStats;

typedef struct SwMacStats {
    uint32_t count, capacity;
    uint64_t learned, moved, aged, full;
    size_t memory;
} SwMacStats;

typedef struct SwFlowInfo {
    uint8_t proto;
    uint32_t src_ip, dst_ip;    /* network order */
    uint16_t src_port, dst_port;
    unsigned rule;
    unsigned slot;              /* the blade index */
    bool closing;
    uint64_t idle_ns;
    uint64_t packets, bytes;
} SwFlowInfo;

bool swcore_port_info(const SwitchCore *sw, unsigned port, SwPortInfo *pi);
/* Blade @blade (0 .. SW_BLADES_ALL - 1); false if there is none. */
bool swcore_blade_info(const SwitchCore *sw, unsigned blade, uint64_t now,
                       SwBladeInfo *bi);
/* Rules by position 0..swcore_rule_count()-1, in lookup order. */
unsigned swcore_rule_count(const SwitchCore *sw);
bool swcore_rule_info(const SwitchCore *sw, unsigned i, SwRuleInfo *ri);
/* The rule's position, or -1. */
int swcore_rule_find(const SwitchCore *sw, const char *name);
void swcore_flow_stats(const SwitchCore *sw, SwFlowStats *fs);
void swcore_mac_stats(const SwitchCore *sw, SwMacStats *ms);
uint64_t swcore_drops(const SwitchCore *sw, SwDrop d);
/* The port @mac was learned on, or -1. */
int swcore_mac_lookup(const SwitchCore *sw, const uint8_t *mac,
                      uint64_t now);
/* The @max most recently used flows, oldest first.  Returns the count. */
unsigned swcore_flows(const SwitchCore *sw, uint64_t now, SwFlowInfo *out,
                      unsigned max);

#endif
