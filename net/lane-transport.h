/*
 * Backplane lane transport: one full-duplex 1000BASE-KX-like lane per
 * backplane slot, carried over a byte stream.
 *
 * The stream is the caller's (LANE_ROLE_STREAM: QEMU's devices run it
 * over a chardev, hw/blade/blade-lane.c) or the library's own UNIX
 * socket (the other roles: test peers, tools, benchmarks): a server
 * listens on a path, a client connects and reconnects while the server
 * is absent, or the caller attaches a connected socket.  Both run the
 * same state machine.
 * Each direction carries tagged records: bursts of 8b/10b code groups
 * (pcs=8b10b) or frames and ordered sets as such (pcs=raw).  The idle
 * between bursts is implied; see docs/link-layer.md.
 *
 * Main-loop contract (QEMU or poll()):
 *  - Everything is non-blocking and single-threaded; the library never
 *    reads a clock: every entry point takes @now in nanoseconds from the
 *    caller's clock (e.g. QEMU_CLOCK_VIRTUAL).  When that clock is set
 *    back or forward (a restored snapshot), call lane_clock_rebase().  A
 *    clock that goes back without it does not stall the lane: each wait
 *    is then bounded by the interval it stands for.
 *  - Socket roles: lane_get_fds() lists the file descriptors and the
 *    poll events the lane wants; call lane_handle_io() when one is ready.
 *  - LANE_ROLE_STREAM: no fds but the shared-memory rings' wake-up socket
 *    while the lane uses them (watch it for POLLIN, call lane_handle_io()).
 *    Call lane_connected() and lane_closed()
 *    when the channel comes and goes, lane_feed() with the octets it
 *    brings (as many as lane_rx_room() allows), lane_flush() when
 *    lane_want_write() says there is output, and lane_writable() when a
 *    channel that was full (ops->write() took less than offered) takes
 *    octets again.
 *  - lane_deadline() is when lane_handle_timer() must next be called
 *    (LANE_NO_DEADLINE if never); arm a timer for it.
 *  - ops->io_changed() is called, at the end of an entry point, whenever
 *    the fds, the wanted events or the deadline changed: re-read them
 *    there.  Callers that re-read them after every call may pass NULL.
 *    lane_new() does not call it (the caller has no lane yet): read the
 *    fds and deadline once after it returns.
 *  - Callbacks may call lane_send_frame(), lane_set_util(),
 *    lane_set_tx_enabled(), lane_clock_rebase(), the injection hooks and
 *    the getters.  They may call lane_free(): the lane then makes no
 *    more callbacks and is freed when the entry point that made the
 *    callback returns.  lane_handle_io(), lane_handle_timer(),
 *    lane_flush(), lane_rx_resume(), lane_feed(), lane_writable(),
 *    lane_connected(), lane_closed() and lane_attach_fd() called from a
 *    callback of the same lane do nothing (lane_feed() takes no octets,
 *    lane_attach_fd() closes the fd): they would re-enter the read or
 *    write path.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef BLADEPLANE_NET_LANE_TRANSPORT_H
#define BLADEPLANE_NET_LANE_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "pcs-rx.h"
#include "vtime.h"

#define LANE_NO_DEADLINE UINT64_MAX
#define LANE_MAX_FDS     3     /* listener, socket, ring wake-up */

/* Wire format (little endian): 4-byte header, then the payload. */
#define LANE_REC_HDR        4        /* tag u8, flags u8, len u16 */
#define LANE_MAX_PAYLOAD    32768    /* larger: protocol error */
/* "BPLN", version u8, pcs u8, reserved u16, speed u32 */
#define LANE_TAG_HELLO      0x01
#define LANE_TAG_CG         0x02     /* code groups, u16 each */
#define LANE_TAG_FRAME      0x03     /* raw: frame with FCS */
/* raw: cpu, irq, seq, form [, pressure u16, runnable u16] */
#define LANE_TAG_UTIL       0x04
#define LANE_TAG_CONFIG     0x05     /* raw: config register u16 */
#define LANE_TAG_SIGNAL     0x06     /* u8: 1 transmitter on, 0 off */
/*
 * Shared-memory rings (net/lane-ring.h): op u8, 3 reserved, value u32.
 * The offer carries the ring's three fds (SCM_RIGHTS) with the octets of
 * the write that starts with the hello; see docs/link-layer.md.
 */
#define LANE_TAG_RING       0x07
#define LANE_RING_OP_OFFER  1        /* value: LANE_RING_VERSION */
#define LANE_RING_OP_ACCEPT 2        /* attacher: my records now in ring */
#define LANE_RING_OP_REFUSE 3        /* value: errno of the refusal */
#define LANE_RING_OP_SWITCH 4        /* offerer: my records now in ring */
#define LANE_RING_REC_LEN   8
/*
 * Virtual time (net/vtime.h, docs/virtual-time.md): a promise "nothing
 * stamped earlier than T follows" (T u64, ns), a header flag "an 8-octet
 * stamp (u64, ns) precedes the payload, counted in len", and a hello
 * capability bit (the hello's reserved u16) saying the sender stamps its
 * records and sends promises.  A lane not configured for virtual time
 * skips stamps and promises and counts them (vtime_ignored).
 */
#define LANE_TAG_PROMISE    0x08
#define LANE_REC_F_VTIME    0x01
#define LANE_VTIME_LEN      8
#define LANE_PROMISE_QUIET_LEN (3 * LANE_VTIME_LEN)   /* T, W, READ */
#define LANE_HELLO_CAP_VTIME 0x0001
/*
 * 8b10b: a frame's burst as a data run, its code groups implied:
 * rd u8 (the RD its /S/ is sent at, 0 or 1), tail u8 (code groups after
 * its /T/R/, e.g. the gap's utilization set), the frame's octets, padded
 * and with FCS (64 to 9216), then the tail's code groups (u16 each).
 * Sent only to a peer whose hello carries LANE_HELLO_CAP_DATA.
 */
#define LANE_TAG_DATA       0x09
#define LANE_DATA_HDR       2
#define LANE_HELLO_CAP_DATA 0x0002
/*
 * Virtual time: this end has had no session on this link yet (a first
 * connection, or a process started in the middle of a run, such as a
 * restarted blade).  An end that had one with an earlier peer forgets
 * the quiet promises of that link and says its promise again.
 */
#define LANE_HELLO_CAP_VTIME_NEW 0x0004
#define LANE_VERSION        1
/*
 * Longest CG record (code groups) that a receiver takes: a largest frame
 * and a utilization set without contention figures in its gap, plus
 * slack.  Receivers of version 1 before the contention form allow no
 * more, so a sender never sends more (see lane_send_frame()).
 */
#define LANE_MAX_BURST_CGS  (PCS_FRAME_MAX_CGS(ETH_MAX_FRAME) + 16)

typedef enum LaneRole {
    LANE_ROLE_SERVER,   /* switch slot: listen on path */
    LANE_ROLE_CLIENT,   /* NIC: connect to path, reconnect */
    LANE_ROLE_FD,       /* no path: lane_attach_fd() (tests, tools) */
    LANE_ROLE_STREAM,   /* the caller's channel: ops->write, lane_feed() */
} LaneRole;

typedef enum LanePcs {
    LANE_PCS_8B10B,
    LANE_PCS_RAW,
} LanePcs;

typedef enum LaneEvent {
    LANE_EV_CONNECTED,      /* transport connected (not yet link) */
    LANE_EV_DISCONNECTED,   /* peer gone; client will reconnect */
    LANE_EV_SYNC_ACQUIRED,
    LANE_EV_SYNC_LOST,
    LANE_EV_LINK_UP,        /* auto-negotiation complete: frames flow */
    LANE_EV_LINK_DOWN,
} LaneEvent;

/* Shared-memory rings: which end makes and offers them after the hello. */
typedef enum LaneShm {
    LANE_SHM_OFF,       /* stream only; offers are refused */
    LANE_SHM_OFFER,     /* make the rings and offer them (the NIC side) */
    LANE_SHM_ACCEPT,    /* attach to offered rings (the switch side) */
} LaneShm;

typedef struct LaneConfig {
    LaneRole role;
    const char *path;           /* socket path (copied) */
    LanePcs pcs;                /* what this end transmits */
    uint32_t speed_mbps;        /* transmit pacing; 0 = unpaced */
    /*
     * Paced: how far the transmitter may run ahead of its line, the line
     * time of a NIC's transmit packet buffer.  Once held, it is let go
     * when the line is within half of that.  Below 20 us (0 included):
     * 20 us, let go at once.
     */
    uint64_t tx_fifo_ns;
    /* utilization period on a quiet link; 0 = no reporting at all */
    uint64_t util_interval_ns;
    PcsUtilForm util_form;
    uint64_t reconnect_ns;      /* client retry period; 0 = 100 ms */
    uint64_t an_retry_ns;       /* /C/ resend period; 0 = 10 ms */
    uint16_t ability;           /* clause 37 register; 0 = FD | PS1 */
    size_t tx_queue_bytes;      /* 0 = 64 KiB */
    LaneShm shm;
    uint32_t shm_ring_size;     /* each direction; 0 = the ring default */
    /*
     * 8b10b: offer data runs in the hello and send them to a peer that
     * offers them too (lane_config_init(): on).  Off: CG records only.
     */
    bool data_runs;
    /*
     * Virtual time: stamp every record but HELLO, RING and PROMISE with
     * @now, advertise LANE_HELLO_CAP_VTIME, and take the peer's stamps
     * and promises (checked; a violation cuts the connection).  A peer
     * that does not advertise it gets no link (vtime_mismatch).
     */
    bool vtime;
    uint64_t vtime_latency_ns;  /* lookahead of the direction into us */
    /*
     * Our virtual time 0 is the peer's @vtime_start_ns: a process that
     * takes the place of one that left in the middle of a run starts
     * where the peer's link with it stands (docs/virtual-time.md,
     * "Restarts").  Stamps and promises on the wire are ours plus it;
     * the peer's, less it, and those from before our start are our 0.
     * At most VTIME_LATEST.
     */
    uint64_t vtime_start_ns;
    /*
     * Our clock moves in steps of this many ns (an icount guest's: one
     * instruction); 0 is 1.  A record taken less than a step after its
     * delivery time was taken at the first time our clock could show:
     * on time, not late (vtime_late).
     */
    uint64_t vtime_tick_ns;
} LaneConfig;

/*
 * Defaults: 1000 Mb/s, 8b10b, utilization every 100 ms, idle form; a
 * client offers rings, a server accepts them, the other roles do not use
 * them (LANE_ROLE_STREAM: the caller knows if its channel passes fds).
 */
void lane_config_init(LaneConfig *cfg, LaneRole role, const char *path);

typedef struct LaneUtil {
    uint8_t cpu_pct;
    uint8_t irq_pct;
    uint8_t seq;
    /* the contention form: CPU pressure 0..1000 and runnable 0..1023 */
    bool has_contention;
    uint16_t psi_permille;
    uint16_t runnable;
    bool fresh;             /* seq differs from the previous report */
    PcsUtilForm form;
    uint64_t rx_time_ns;    /* @now when it was received */
} LaneUtil;

typedef struct LaneOps {
    /* A received frame, FCS checked and stripped.  Only while link up. */
    void (*rx_frame)(void *opaque, const uint8_t *frame, size_t len);
    /*
     * May the lane deliver a frame now?  If false the lane stops reading
     * (back-pressure reaches the peer) until lane_rx_resume().  NULL:
     * always.
     */
    bool (*can_receive)(void *opaque);
    /* Every utilization set received (u->fresh: a new sample). */
    void (*rx_util)(void *opaque, const LaneUtil *u);
    /* Connection, sync and link changes, in the order they happen. */
    void (*event)(void *opaque, LaneEvent ev);
    /* lane_send_frame() returned -EAGAIN earlier and now has room. */
    void (*tx_ready)(void *opaque);
    /*
     * lane_get_fds(), lane_want_write() or lane_deadline() would now
     * answer differently.
     */
    void (*io_changed)(void *opaque);
    /*
     * LANE_ROLE_STREAM: write up to @len octets to the channel without
     * blocking; return how many it took, 0 when it is full (or failing:
     * the caller reports the end with lane_closed() later).  After a
     * short write the lane writes no more until lane_writable().
     */
    size_t (*write)(void *opaque, const uint8_t *buf, size_t len);
    /*
     * LANE_ROLE_STREAM: the lane dropped the connection (a protocol
     * error; it is already disconnected): close the channel, so that the
     * peer sees it go and connects again.  Wait for the channel to
     * connect before lane_connected().
     */
    void (*close)(void *opaque);
    /*
     * LANE_ROLE_STREAM with cfg.shm == LANE_SHM_OFFER: pass @fds (still
     * the lane's; keep them open until written) with the next octets
     * written.  Return 0, or negative when the channel cannot pass fds
     * (then the lane stays on the stream and offers nothing).  NULL: no.
     */
    int (*send_fds)(void *opaque, const int *fds, int n);
    /*
     * Virtual time: the peer promised @t (checked; lane_vtime_horizon()
     * moved on).  NULL: not told.
     */
    void (*rx_promise)(void *opaque, uint64_t t);
} LaneOps;

typedef struct LaneFd {
    int fd;
    short events;           /* POLLIN and/or POLLOUT */
} LaneFd;

typedef struct LaneStats {
    uint64_t connects, disconnects, connect_failures, rejected_peers;
    /* bad hello or oversized record: the connection was dropped */
    uint64_t protocol_errors;
    uint64_t bad_records;       /* unknown tag or malformed: skipped */
    uint64_t rx_no_signal;      /* records while the peer's signal off */
    uint64_t tx_frames, tx_octets, tx_eagain, tx_dropped_link_down;
    uint64_t tx_queue_full;     /* of tx_eagain: no room, not pacing */
    /*
     * With a FIFO (tx_fifo_ns): times the sender, held by pacing, was let
     * go only after its line had run dry (the caller's timer came late),
     * and the line time lost so.
     */
    uint64_t tx_fifo_late, tx_fifo_late_ns;
    uint64_t tx_dropped_disconnect; /* queued bytes lost on disconnect */
    uint64_t tx_dropped_oversize;
    /* samples sent; one split across two gaps counts when it starts */
    uint64_t tx_util_sets, tx_config_bursts, tx_ctrl_dropped;
    uint64_t rx_frames, rx_octets, rx_dropped_link_down;
    uint64_t rx_util_sets;
    uint64_t link_ups, link_downs, an_restarts;
    uint64_t injected_cg_errors;
    /* shared-memory rings */
    uint64_t shm_offers;        /* offers sent */
    uint64_t shm_up;            /* connections that moved to the rings */
    uint64_t shm_refused;       /* offers refused (by either end) */
    uint64_t shm_errors;        /* ring corruption: disconnected */
    /* the peer closed its ring wake-up end (e.g. it exited): disconnected */
    uint64_t shm_hangups;
    uint64_t shm_kicks, shm_wakeups;
    uint64_t unasked_fds;       /* fds received and closed unused */
    /* stamps and promises received by a lane not in virtual time */
    uint64_t vtime_ignored;
    /*
     * data runs sent; received and taken without code groups; received
     * and materialised (something needed the code groups)
     */
    uint64_t tx_data_runs, rx_data_runs, rx_data_materialised;
    /*
     * Virtual time: the peer's stamps and promises (accepted, and
     * violations by kind), this end's; a record that should have carried
     * a stamp and did not; a hello whose virtual-time capability differs
     * from this end's (no link); connections cut for any of these.
     */
    VtimeCounters vtime;
    uint64_t vtime_unstamped;
    uint64_t vtime_mismatch;
    uint64_t vtime_cuts;
    /* records that waited for their delivery time (stamp + latency) */
    uint64_t vtime_held;
    /*
     * records taken after their delivery time: input that back-pressure
     * or a busy ring kept waiting, or a peer that joined behind this
     * end's clock
     */
    uint64_t vtime_late;
    /*
     * peers new on the link after a session with another: the quiet
     * promises forgotten, this end's latest promise said again
     */
    uint64_t vtime_new_peers;
    PcsRxCounters pcs;          /* receive counters, both pcs modes */
} LaneStats;

typedef struct Lane Lane;

/*
 * Create a lane.  A server binds and listens on cfg->path (an existing
 * socket file there is replaced; the directory is the caller's); a client
 * tries to connect at once and then every reconnect_ns.  Returns NULL
 * with *err set to a negative errno.
 */
Lane *lane_new(const LaneConfig *cfg, const LaneOps *ops, void *opaque,
               uint64_t now, int *err);
void lane_free(Lane *lane);

/*
 * LANE_ROLE_FD: use the connected stream socket @fd (made non-blocking;
 * the lane closes it).
 */
void lane_attach_fd(Lane *lane, int fd, uint64_t now);

/*
 * LANE_ROLE_STREAM: the channel connected (a fresh peer: hello, then
 * negotiation), or closed (as a socket's disconnect: link down, queued
 * octets dropped and counted in tx_dropped_disconnect).  A connect while
 * connected first closes the old connection.
 */
void lane_connected(Lane *lane, uint64_t now);
void lane_closed(Lane *lane, uint64_t now);
/* LANE_ROLE_STREAM: the channel takes octets again; write what waits. */
void lane_writable(Lane *lane, uint64_t now);
/*
 * LANE_ROLE_STREAM: output waits and the channel was not full at the
 * last write: call lane_flush() (io_changed tells when this changes).
 */
bool lane_want_write(const Lane *lane);
/*
 * How many octets lane_feed() takes now: 0 while not connected
 * (LANE_ROLE_STREAM) or while can_receive() holds reading back.
 */
size_t lane_rx_room(const Lane *lane);

/*
 * LANE_ROLE_STREAM: fds that came with the octets about to be fed (the
 * chardev's msgfds).  The lane takes ownership: it keeps them for a ring
 * offer it awaits, or closes them (counted in unasked_fds).
 */
void lane_give_fds(Lane *lane, const int *fds, int n);
/* Records travel in the shared-memory rings (both directions). */
bool lane_on_rings(const Lane *lane);
/*
 * Tests and tools: the rings offered or in use (net/lane-ring.h), NULL
 * if none.  They go with the connection.
 */
struct LaneRing *lane_shm_ring(Lane *lane);

/*
 * The fds to poll: the socket roles' sockets, and in every role the
 * rings' wake-up socket while they are in use.
 */
int lane_get_fds(Lane *lane, LaneFd fds[LANE_MAX_FDS]);
void lane_handle_io(Lane *lane, int fd, short revents, uint64_t now);
uint64_t lane_deadline(Lane *lane);
void lane_handle_timer(Lane *lane, uint64_t now);

/*
 * Queue a frame (no FCS; padded to 60 octets, FCS added).  Returns 0,
 * -EAGAIN (queue full or pacing: nothing queued, retry after tx_ready),
 * -ENOLINK (link down: frame dropped and counted) or -EMSGSIZE.
 */
int lane_send_frame(Lane *lane, const uint8_t *frame, size_t len,
                    uint64_t now);
/*
 * lane_send_frame() for a frame whose FCS the caller already has: @fcs,
 * the FCS of @frame padded with zeros to 60 octets, least significant
 * octet first on the wire (as lane_rx_fcs() gives it).  Raw frames and
 * data runs carry it as it is rather than computing it again; a frame
 * sent as code groups is encoded whole, FCS computed, as before.  For a
 * switch forwarding a frame it did not change.
 */
int lane_send_frame_fcs(Lane *lane, const uint8_t *frame, size_t len,
                        uint32_t fcs, uint64_t now);
/* Write queued records now rather than at the next writable event. */
void lane_flush(Lane *lane, uint64_t now);
/*
 * The sender is held (an -EAGAIN owes it a tx_ready) for want of room in
 * the queue, not by pacing: how long that lasts is up to the reader.
 */
bool lane_tx_held_for_room(const Lane *lane);

/*
 * Set this end's utilization (a new sample: the sequence number steps).
 * It goes without contention figures, as before the contention form.
 */
void lane_set_util(Lane *lane, unsigned cpu_pct, unsigned irq_pct,
                   uint64_t now);
/*
 * The same with the contention figures of the sample: CPU pressure in
 * permille (above 1000 is sent as 1000) and runnable tasks (above 1023 is
 * sent as 1023).  It goes in the contention form of the utilization set.
 */
void lane_set_util_contention(Lane *lane, unsigned cpu_pct,
                              unsigned irq_pct, unsigned psi_permille,
                              unsigned runnable, uint64_t now);
/*
 * The peer's latest utilization and its age; false if none since the
 * link came up.
 */
bool lane_peer_util(Lane *lane, LaneUtil *u, uint64_t *age_ns,
                    uint64_t now);

/* Resume reading after can_receive() said no. */
void lane_rx_resume(Lane *lane, uint64_t now);

/*
 * The caller's clock jumped (e.g. a snapshot was loaded): it now reads
 * @now where the lane last saw the time given to its latest entry point.
 * Every pending wait (pacing, utilization interval, negotiation retry,
 * reconnect) keeps what was left of it, counted from @now, and the peer's
 * utilization keeps its age.  Re-read lane_deadline() afterwards (it calls
 * io_changed if it changed).
 */
void lane_clock_rebase(Lane *lane, uint64_t now);

/*
 * Virtual time.  lane_vtime_active(): this connection carries stamps and
 * promises both ways (both ends advertised it).
 */
bool lane_vtime_active(const Lane *lane);
/*
 * How far the caller may run on this lane's account: the peer's promise
 * (or its last stamp, or its quiet promise's W while that holds: the
 * latest) plus the latency; VTIME_NEVER on a lane not configured for
 * virtual time.  It goes back only when this end writes to a quiet peer
 * (the peer's answer comes a latency after that write at the earliest);
 * across reconnects it holds where it was.
 */
uint64_t lane_vtime_horizon(const Lane *lane);
/* The lane's synchronisation state, for vtime_horizon() over lanes. */
const VtimeLink *lane_vtime_link(const Lane *lane);
/*
 * Promise the peer that nothing this end sends from now on is stamped
 * earlier than @t (queued as a PROMISE record; flush it).  Later stamps
 * are raised to @t if the clock is below it.  Returns false, and sends
 * and books nothing, if virtual time is not active, @t is not above
 * everything sent so far, or the queue has no room.
 */
bool lane_vtime_promise(Lane *lane, uint64_t t, uint64_t now);
/*
 * A quiet promise (net/vtime.h): at @now (or the last promise, if that
 * is later) this end will send nothing earlier than @w unless the peer
 * writes to it first.  Stamps are raised to @w until then.  Returns
 * false, and sends and books nothing, if virtual time is not active, @w
 * tells the peer nothing new, or the queue has no room.
 */
bool lane_vtime_promise_quiet(Lane *lane, uint64_t w, uint64_t now);
/* This end's quiet W while it holds (the peer has not written), else 0. */
uint64_t lane_vtime_quiet(const Lane *lane);
/*
 * In rx_frame() and rx_util(): the stamp of the record that carried
 * what is being delivered (true), or false if it carried none.
 */
bool lane_rx_stamp(const Lane *lane, uint64_t *stamp);
/*
 * In rx_frame(): the FCS the frame being delivered arrived with (checked
 * good), as lane_send_frame_fcs() takes it; false elsewhere.
 */
bool lane_rx_fcs(const Lane *lane, uint32_t *fcs);

bool lane_is_connected(const Lane *lane);
bool lane_is_link_up(const Lane *lane);
bool lane_is_sync_ok(const Lane *lane);
const LaneStats *lane_stats(Lane *lane);

/*
 * Code-group capture: @fn gets each burst's code groups as this end sends
 * them (@rx false; injected errors included) and as its receiver takes
 * them (@rx true; data runs materialised), while @tx or @rx is on.  The
 * implied idle between bursts is not passed.  NULL @fn: off.  Sending
 * with tx capture on, or receiving with rx capture on, costs the full
 * encode or decode of every frame (docs/link-layer.md, "Data runs").
 */
typedef void LaneCgCapture(void *opaque, bool rx, const uint16_t *cgs,
                           size_t n);
void lane_capture_cgs(Lane *lane, LaneCgCapture *fn, void *opaque,
                      bool tx, bool rx);
/*
 * With @on, an rx capture also gets each implied idle the receiver
 * applies (after every record, when the connection starts and when the
 * peer's transmitter comes back on), as @fn(opaque, true, NULL, 0), in
 * order with the bursts and the events it causes: a burst's sync loss is
 * reported before the idle after it, sync regained in that idle after
 * it.  Off by default.
 */
void lane_capture_gaps(Lane *lane, bool on);

/* Error injection on this end's transmit direction. */
void lane_inject_ber(Lane *lane, double bit_error_rate); /* 8b10b only */
void lane_inject_corrupt(Lane *lane, unsigned n_cgs);   /* 8b10b only */
/*
 * Peer loses sync: 8b10b sends four invalid code groups, raw a signal
 * drop; either way the next gap regains sync.
 */
void lane_inject_sync_loss(Lane *lane, uint64_t now);
/* Transmitter off (link down at both ends) or on (restart negotiation). */
void lane_set_tx_enabled(Lane *lane, bool on, uint64_t now);

/*
 * Feed received octets: LANE_ROLE_STREAM's input, or as if read from the
 * socket (fuzzing, tools: a lane of another role that is not connected
 * connects first, and its output is discarded).  Returns how many octets
 * it took: fewer than @len only when reading is held back (can_receive()
 * said no: lane_rx_resume(); a closed or freed lane takes all and drops
 * them) or when called from a callback (none).
 */
size_t lane_feed(Lane *lane, const uint8_t *buf, size_t len, uint64_t now);

#endif
