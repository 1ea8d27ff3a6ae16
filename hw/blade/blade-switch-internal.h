/*
 * bladeplane switch blade: the device's state and what its files share.
 *
 *   blade-switch.c          QOM, properties, realize and unrealize
 *   blade-switch-vtime.c    the chassis's virtual-time clock
 *   blade-switch-port.c     queues, the slots' lanes and the netdev ports,
 *                           the forwarding engine's callbacks, the
 *                           round-robin bottom half
 *   blade-switch-capture.c  pcap and utilization-log capture
 *   blade-switch-thread.c   slots whose lanes run on an iothread: the
 *                           queues between that thread and the main loop
 *   blade-switch-bus.c      the TDM bus backplane: the slots' frames wait
 *                           for their grants (net/tdm-bus.h)
 *   blade-switch-fabric.c   chain ports and the inter-chassis control
 *                           protocol (net/fabric.h)
 *   blade-switch-qmp.c      management: query-blade-switch, QMP events, QMP
 *                           commands and HMP
 *
 * blade-switch.h is what the rest of QEMU may use.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_BLADE_SWITCH_INTERNAL_H
#define HW_BLADE_SWITCH_INTERNAL_H

#include "qemu/queue.h"
#include "qemu/notify.h"
#include "qemu/timer.h"
#include "qemu/stats64.h"
#include "hw/qdev-core.h"
#include "net/net.h"
#include "fabric.h"
#include "blade-lane.h"
#include "blade-props.h"
#include "pcap.h"
#include "blade-switch.h"

#define BSW_POLL_NS         (100 * SCALE_MS)   /* netdev link polling */
#define BSW_REASON_LEN      48

/*
 * Ingress, per port, before back-pressure: this many frames, but no more
 * octets than 32 frames of 1518 take (full from then on, so at most one
 * frame beyond).  A deeper queue of small frames means fewer main-loop
 * iterations per frame (each refill of the queue is one, and so is the
 * wake-up of the peer the frames go to): 32 frames forwarded 0.49 Gb/s of
 * 64-octet frames lane to lane, 128 frames 0.73 (an older host); on the Zen
 * 4 host, raw lanes, 128 frames 3.5 to 3.8 Gb/s and 512 frames 4.4 to
 * 4.5.  But 128 frames of 1518 octets forwarded less than 32 (3.0 to 3.7
 * Gb/s against 4.4 to 7.0: more data in flight than the caches hold).
 */
#define BSW_INGRESS_FRAMES  512
#define BSW_INGRESS_OCTETS  (32 * 1518)

/* The TDM bus's defaults (docs/backplane.md): 10 Gb/s, 512-octet slots. */
#define BSW_BUS_SPEED       10000
#define BSW_BUS_SLOT_BYTES  512

/*
 * QMP events are coalesced as QEMU throttles its own guest-triggerable
 * events (monitor/monitor.c), but for each port and each slot apart, and
 * on the chassis clock: a change after a quiet period is sent at once and
 * opens a period; changes within it update the state that is sent when
 * it ends (and that opens another).  The last state always gets through.
 * QEMU's table of throttled events is its own, keyed by event name.
 */
typedef struct BswEventGate {
    int64_t period_end;         /* changes before this are held */
    bool held;                  /* one is: send the latest at period_end */
} BswEventGate;

/* The latest rotation state of a slot's blade, for BLADE_SWITCH_BLADE. */
typedef struct BswBladeEvent {
    BswEventGate gate;
    bool in_rotation;
    char reason[BSW_REASON_LEN];
} BswBladeEvent;

/*
 * A frame; between a lane thread and the main loop, also a utilization
 * report or a link state, in the order the lane received them.
 */
typedef enum BswItemKind {
    BSW_ITEM_FRAME,
    BSW_ITEM_UTIL,              /* data holds a LaneUtil; len is 0 */
    BSW_ITEM_LINK,              /* link holds BSW_LINK_* */
} BswItemKind;

#define BSW_LINK_CONNECTED  1
#define BSW_LINK_SYNC       2
#define BSW_LINK_UP         4

typedef struct BswFrame {
    QSIMPLEQ_ENTRY(BswFrame) next;
    QSLIST_ENTRY(BswFrame) xnext;   /* crossing threads */
    uint8_t kind;               /* BswItemKind */
    uint8_t link;
    size_t len;
    bool has_fcs;               /* fcs is the FCS of data, padded */
    uint32_t fcs;
    uint8_t data[];
} BswFrame;

typedef struct BswQueue {
    QSIMPLEQ_HEAD(, BswFrame) head;
    unsigned frames;
    unsigned limit;
    size_t octets;
    size_t octet_limit;         /* full from this many on; 0: none */
} BswQueue;

/* Items one thread hands another: a lock-free LIFO, taken whole. */
typedef QSLIST_HEAD(BswFrameList, BswFrame) BswFrameList;

/* Items one thread gathers and hands over at once: a LIFO chain. */
typedef struct BswChain {
    BswFrame *head, *tail;
} BswChain;

/*
 * A slot whose lane runs on an iothread (docs/switch-blade.md,
 * "Threads").  The lane thread owns the lane, its capture and utilization
 * log, and the egress frames it took; the main loop owns the forwarding
 * engine and the port's ingress queue.  Between them, two lists and
 * counters, updated once a batch, not once a frame (an atomic operation
 * on a line the other core wrote costs as much as forwarding a frame);
 * a side is woken by a BH only when it has work.  What each side writes
 * is on cache lines of its own.
 */
typedef struct BswLaneThread {
    IOThread *iothread;
    AioContext *ctx;
    QEMUBH *bh;                 /* in ctx: resume input, send, publish */

    /* shared: written by both (atomics) */
    BswFrameList to_core QEMU_ALIGNED(64);
    BswFrameList to_lane;
    int in_frames;              /* handed over, not yet forwarded */
    int in_octets;
    int in_notes;               /* reports and link states, not yet read */
    int out_frames;             /* handed over, not yet sent or dropped */
    bool rx_held;               /* the lane was told "no room" */
    bool resume;                /* the main loop made room: take input */
    Stat64 tx_drops;            /* the lane refused them */

    /* the lane thread's own */
    MemReentrancyGuard guard QEMU_ALIGNED(64);  /* its lane's and BH's */
    BswChain chain;             /* for the main loop, not yet handed */
    int chain_frames;
    int chain_octets;
    int chain_notes;
    int sent;                   /* taken from out_frames, not yet counted */
    BswQueue egress;
    uint8_t link_sent;          /* the last link state handed over */
    bool util_held;             /* too many notes in flight: the latest */
    LaneUtil util;

    /* the main loop's own */
    uint8_t link QEMU_ALIGNED(64);  /* the latest link state it read */
    int forwarded;              /* taken from in_frames, not yet counted */
    int forwarded_octets;
    int notes_read;
} BswLaneThread;

typedef struct BswPort BswPort;
typedef struct BswBus BswBus;

struct BswPort {
    BladeSwitchState *s;
    unsigned index;             /* the core's port number */
    SwPortKind kind;
    char name[SW_NAME_LEN];
    unsigned slot;              /* a chain lane: N of its chain-chardevN */
    uint32_t speed;             /* Mb/s, 0 = unpaced */

    /* slots, and chain ports over chardevs: the lane, over be */
    CharBackend *be;
    BladeLane *bl;
    Lane *lane;                 /* bl's */
    BswLaneThread *th;          /* the lane runs on an iothread: NULL */
    bool chr_made;              /* the backplane shorthand's: ours */
    bool in_lane;

    /* netdev ports */
    int fab_port;               /* chain ports: the fabric's number, or -1 */
    uint64_t ctrl_refused;      /* control frames where none may come */
    NICState *nic;
    NICConf conf;
    bool tx_busy;               /* waiting for the netdev's sent callback */
    int64_t next_tx_ns;         /* pacing */
    QEMUTimer *pace_timer;

    BswQueue ingress;
    BswQueue egress;
    BswQueue control;           /* chain ports: control frames, sent first */
    int32_t deficit;

    /* what the core and management last heard */
    bool link;
    bool connected;
    bool sync;
    BswEventGate link_gate;     /* BLADE_SWITCH_PORT_LINK */

    /* device-level counters (the core counts its own) */
    uint64_t tx_drops;          /* egress queue full, link down, refused */
    uint64_t rx_errors;         /* frames the lane refused (FCS, length) */
    uint64_t rx_overflow;       /* netdevs: frames in while ingress full */

    PcapFile *pcap;
    FILE *util_log;
    /* the lane's code groups to a text file (blade-switch-capture.c) */
    struct BswSymbols *sym;
};

struct BladeSwitchState {
    DeviceState parent_obj;

    SwitchCore *core;
    BswPort *ports;
    unsigned nports;
    QEMUBH *bh;
    bool bh_pending;            /* scheduled, not yet run */
    bool in_bh;                 /* bsw_bh() on the stack ... */
    bool bh_again;              /* ... and asked to run again */
    /*
     * The ingress frame swcore_input() has: its first output takes it
     * rather than a copy (outputs never change the frame).  Its octets
     * and FCS, for the outputs that copy it: an output of them that the
     * engine did not rewrite keeps the FCS the frame came with.
     */
    BswFrame *in_frame;
    const uint8_t *in_data;
    size_t in_len;
    bool in_has_fcs;
    uint32_t in_fcs;
    unsigned rr_next;
    QEMUTimer *core_timer;
    uint64_t core_timer_at;
    /* QMP events held back (BswEventGate) */
    QEMUTimer *event_timer;
    BswBladeEvent blade_events[SW_MAX_BLADES];
    bool backplane_made;        /* the directory is ours to remove */
    Notifier exit;
    /* netdev ports: link polled (stream netdevs do not tell their peer) */
    QEMUTimer *poll_timer;
    /* the inter-chassis control protocol, with chain ports */
    Fabric *fabric;
    bool fab_dirty;             /* the remote table changed: re-read it */
    BswPort *fab_ports[FAB_MAX_PORTS];
    QEMUTimer *fabric_timer;
    uint64_t fabric_timer_at;
    /* virtual time (docs/virtual-time.md): the chassis drives its clock */
    bool vtime;
    QEMUBH *vtime_bh;           /* move the clock to the safe horizon */
    QEMUTimer *vtime_fwd_timer; /* forwarding, at the time frames arrive */
    bool vtime_fwd_deferred;    /* it waits for the horizon to pass now */
    QEMUTimer *vtime_wall_timer; /* bounds a wait for a silent peer */

    /* properties */
    uint32_t slots;
    char *backplane;
    CharBackend slot_chr[BLADE_SWITCH_MAX_SLOTS];  /* chardevN */
    uint32_t slot_speed;
    uint32_t tx_fifo;               /* each paced lane's, octets */
    BladeLanePcs pcs_prop;
    NICConf uplink_conf;
    uint32_t uplink_speed;
    MACAddr mac;
    uint32_t mac_aging_s;
    uint32_t mac_table_size;
    uint32_t mac_limit;             /* per slot port; 0: none */
    uint32_t flow_idle_s;
    uint32_t flow_table_size;
    uint32_t util_stale_ms;
    uint32_t queue_frames;
    uint64_t seed;
    char *capture_dir;
    uint32_t nchain;
    NICPeers *chain_peers;
    CharBackend chain_chr[FAB_MAX_PORTS];   /* chain-chardevN: lanes */
    unsigned nchain_lanes;                  /* the ones given */
    uint32_t chain_speed;
    char *chassis_name;
    uint64_t chassis_id;
    uint16_t fabric_priority;
    uint32_t fabric_interval_ms;
    char *fabric_key_secret;
    uint32_t hop_cost;
    BladeUtilEstimator util_estimator_prop;
    BladeTiming timing;
    uint32_t vtime_latency_ns;
    uint32_t vtime_wait_ms;
    uint32_t vtime_slots;
    uint64_t vtime_snapshot_ns; /* 0: none */
    uint64_t vtime_start_ns;    /* where the clock starts */
    BladeSwitchInfo *vtime_snapshot; /* the state then, once taken */
    uint32_t nslot_latency;     /* per slot, 0: vtime_latency_ns */
    uint32_t *slot_latency_ns;
    uint32_t nchain_latency;    /* per chain lane, 0: vtime_latency_ns */
    uint32_t *chain_latency_ns;
    uint32_t niothreads;        /* slots' lanes in groups on these */
    char **iothread_ids;
    LanePcs pcs;
    unsigned util_estimator;
    /* the TDM bus backplane (blade-switch-bus.c); NULL with lanes */
    BswBus *bus;
    BswPort *in_port;           /* the port of the frame being forwarded */
    BladeBackplaneKind backplane_kind;
    uint32_t bus_speed;
    uint32_t bus_slot_bytes;
    uint32_t bus_frame_slots;   /* 0: just enough */
    BladeBusSchedule bus_schedule;
    uint32_t nbus_weights;
    uint32_t *bus_weights;
    uint32_t bus_switch_weight;
};

/* blade-switch-vtime.c */
void bsw_vtime_kick(BladeSwitchState *s);
void bsw_vtime_advance(void *opaque);
void bsw_vtime_fwd_timer(void *opaque);
void bsw_vtime_wall_timer(void *opaque);

/* blade-switch-port.c */
extern const SwOps bsw_core_ops;
void bsw_queue_init(BswQueue *q, unsigned limit, size_t octet_limit);
bool bsw_queue_full(const BswQueue *q);
void bsw_queue_append(BswQueue *q, BswFrame *f);
BswFrame *bsw_queue_peek(BswQueue *q);
BswFrame *bsw_queue_take(BswQueue *q);
void bsw_queue_pop(BswQueue *q);
void bsw_queue_purge(BswQueue *q);
BswFrame *bsw_frame_new(const uint8_t *data, size_t len);
void bsw_frame_free(BswFrame *f);
BswFrame *bsw_note_new(BswItemKind kind, const void *data, size_t len);
BswFrame *bsw_output_frame(BladeSwitchState *s, const uint8_t *frame,
                           size_t len);
void bsw_slot_report(BswPort *p, const LaneUtil *u);
void bsw_schedule(BladeSwitchState *s);
void bsw_bh(void *opaque);
void bsw_core_rearm(BladeSwitchState *s);
void bsw_core_timer(void *opaque);
void bsw_poll_timer(void *opaque);
void bsw_port_update_link(BswPort *p);
void bsw_lane_sync(BswPort *p);
void bsw_port_send_control(BswPort *p, const uint8_t *frame, size_t len);
void bsw_port_init(BladeSwitchState *s, BswPort *p, SwPortKind kind,
                   const char *name, unsigned slot);
void bsw_netdev_port(BladeSwitchState *s, BswPort *p, SwPortKind kind,
                     const char *name, NICPeers *peers, uint32_t speed);
bool bsw_open_lane(BladeSwitchState *s, BswPort *p, Error **errp);
bool bsw_open_chain_lane(BladeSwitchState *s, BswPort *p, CharBackend *be,
                         Error **errp);
void bsw_port_free(BswPort *p);

/* blade-switch-capture.c */
void bsw_capture(BswPort *p, const uint8_t *frame, size_t len);
void bsw_log_util(BswPort *p, const LaneUtil *u);
bool bsw_open_capture(BladeSwitchState *s, Error **errp);
/* In the lane's thread: a lane event, and after lane work (flush). */
void bsw_symbols_event(BswPort *p, LaneEvent ev);
void bsw_symbols_flush(BswPort *p);
/* The symbol capture in progress, for query-blade-switch, or NULL. */
BladeSymbolCaptureInfo *bsw_symbols_info(BswPort *p);
/* Stop the symbol capture (before the lane goes). */
void bsw_symbols_stop(BswPort *p);

/* blade-switch-thread.c: a slot port whose lane runs on @iothread */
bool bsw_thread_open_lane(BswPort *p, IOThread *iothread,
                          const LaneConfig *cfg, Error **errp);
void bsw_thread_free(BswPort *p);
void bsw_thread_collect(BswPort *p);
bool bsw_thread_read_note(BswPort *p, BswFrame *f);
void bsw_thread_forwarded(BswPort *p, size_t len);
void bsw_thread_output(BswPort *p, BswFrame *f);
void bsw_thread_kick(BswPort *p);
unsigned bsw_thread_queued(BswPort *p);
uint64_t bsw_thread_tx_drops(BswPort *p);
void bsw_thread_lane_stats(BswPort *p, LaneStats *ls, bool *on_rings);
void bsw_thread_run(BswPort *p, QEMUBHFunc *fn, void *opaque);

/* blade-switch-bus.c: the TDM bus backplane (docs/backplane.md) */
bool bsw_bus_check_props(BladeSwitchState *s, Error **errp);
bool bsw_bus_open(BladeSwitchState *s, Error **errp);
void bsw_bus_free(BladeSwitchState *s);
bool bsw_bus_full(BswPort *p);
bool bsw_bus_from_slot(BswPort *p, BswFrame *f);
bool bsw_bus_util(BswPort *p, const LaneUtil *u);
bool bsw_bus_output(BladeSwitchState *s, BswPort *p, const uint8_t *frame,
                    size_t len);
void bsw_bus_port_down(BswPort *p);
BladeBusInfo *bsw_bus_info(BladeSwitchState *s);
void bsw_bus_hmp(Monitor *mon, const BladeBusInfo *bus);

/* blade-switch-fabric.c */
bool bsw_open_fabric(BladeSwitchState *s, Error **errp);
void bsw_fabric_sync(BladeSwitchState *s, uint64_t now);
void bsw_fabric_rearm(BladeSwitchState *s);

/* blade-switch-qmp.c: QMP events, at most one per port or slot a period */
bool bsw_event_pass(BladeSwitchState *s, BswEventGate *g);
void bsw_event_timer(void *opaque);
void bsw_send_port_link(BladeSwitchState *s, BswPort *p, bool up);
void bsw_send_blade(BladeSwitchState *s, unsigned slot);
/* A policy's name, as QMP spells it (BladePolicy in blade.json). */
const char *bsw_policy_name(BalPolicy p);

#endif
