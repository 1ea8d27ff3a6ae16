/*
 * Test harness for blade-switch: QEMU under qtest running a blade-chassis
 * with one blade-switch, the test process acting as the blades (lane
 * clients on the slot sockets, driven with poll()) and as the uplink's
 * network (the other end of a `-netdev socket,fd=` stream).  Used by the
 * switch's and the fabric's qtests and benchmarks.
 *
 * The chassis's timers run on QEMU's virtual clock, which only moves when
 * the test steps it: every wait steps it 1 ms per round, and tests that
 * need time to pass (aging, staleness) step it explicitly.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef LIBQOS_BLADE_SWITCH_HARNESS_H
#define LIBQOS_BLADE_SWITCH_HARNESS_H

#include "libqtest.h"
#include "qobject/qdict.h"
#include "hw/blade/net/lane-transport.h"

#define SH_MAX_SLOTS 8
#define SH_MAX_FRAME 9018

typedef struct ShFrame {
    uint64_t stamp;             /* virtual time: its record's stamp, or 0 */
    size_t len;
    uint8_t data[];
} ShFrame;

typedef struct ShBlade {
    struct SwHarness *h;
    unsigned slot;
    Lane *lane;
    uint8_t mac[6];
    GQueue rx;                  /* ShFrame *, received from the switch */
    uint64_t nrx;
    bool count_only;            /* count received frames, keep none */
    bool rx_held;               /* take nothing (a blade that lags) */
} ShBlade;

typedef struct SwHarness {
    QTestState *qts;
    char *dir;
    unsigned slots;
    unsigned chassis;           /* several chassis: MACs differ by this */
    ShBlade blades[SH_MAX_SLOTS];
    int up_fd;                  /* the uplink's network end, or -1 */
    uint8_t up_buf[65536];
    size_t up_have;
    GQueue up_rx;               /* ShFrame *, from the switch's uplink */
    uint64_t up_nrx;
    bool up_count_only;         /* count uplink frames, keep none */
    /*
     * Virtual time (docs/virtual-time.md): the latency into the test's
     * blade ends, or 0 for blades in real time.  In virtual time the
     * blades' clock is @vclock, which only the test moves (the chassis
     * moves its own).
     */
    uint32_t vtime_ns;
    uint64_t vclock;
} SwHarness;

extern const uint8_t sh_bcast[6];
/* The switch's MAC in every test (property mac). */
extern const uint8_t sh_switch_mac[6];
/* A client on the uplink side. */
extern const uint8_t sh_client_mac[6];

/*
 * Lanes on iothreads (docs/switch-blade.md, "Threads"): every switch
 * started from now on gets @n of them (at most one a slot), for the tests
 * run again that way; 0, the default: none.
 */
void sh_run_on_iothreads(unsigned n);
/* The test's blades' clock: virtual (h->vclock) or the host's. */
uint64_t sh_now(SwHarness *h);

/* ---- start and stop ------------------------------------------------------ */

typedef struct ShOpts {
    unsigned slots;
    bool uplink;                /* a socket netdev whose far end is the test */
    const char *props;          /* extra properties, key=value,... */
    /* Several chassis: */
    unsigned chassis;           /* switch and blade MACs differ by this */
    const char *args;           /* extra QEMU arguments (netdevs) */
    const char *json;           /* extra members: the device given as JSON */
    /*
     * Explicit chardevs (-chardev socket,server=on,wait=off per slot, at
     * the paths the backplane shorthand uses) rather than backplane=DIR.
     */
    bool chardevs;
    /*
     * With chardevs: the last this many of the test's ends are the far
     * ends of chain lanes (chain-chardevN), not blades; the switch has
     * that many slots fewer.
     */
    unsigned chain_lanes;
    /* The test's blade ends in virtual time: SwHarness.vtime_ns. */
    uint32_t vtime_ns;
} ShOpts;

void sh_start_opts(SwHarness *h, const ShOpts *o);
/*
 * Start the chassis with @slots slots and (with @uplink) a socket netdev
 * whose other end is the test; @props are extra blade-switch properties.
 */
void sh_start(SwHarness *h, unsigned slots, bool uplink, const char *props);
void sh_stop(SwHarness *h);

/* ---- the test's ends: blades and the uplink network ---------------------- */

/* Connect a blade to its slot (8b10b unless @raw), unpaced. */
void sh_blade_plug(SwHarness *h, unsigned slot, bool raw);
void sh_blade_unplug(ShBlade *b);
/* Plug a blade in and wait until both ends see the link up. */
void sh_blade_up(SwHarness *h, unsigned slot, bool raw);
/*
 * Poll the test's ends of @n chassis at once (their lanes and uplink
 * sockets) for up to @ns nanoseconds, and run what is due.
 */
void sh_pump_set_ns(SwHarness *const *hs, unsigned n, int64_t ns);
/* ... for up to @ms milliseconds. */
void sh_pump_set(SwHarness *const *hs, unsigned n, int ms);
/* Poll the test's ends for up to @ms milliseconds. */
void sh_pump(SwHarness *h, int ms);
/* ... for up to @ns nanoseconds. */
void sh_pump_ns(SwHarness *h, int64_t ns);

typedef bool (*ShCond)(SwHarness *h, void *arg);

/*
 * Pump until @cond holds, stepping the chassis's clock 1 ms per round.
 * Fails the test after 10 s of real time.
 */
void sh_wait(SwHarness *h, ShCond cond, void *arg, const char *what);
/* The same with the chassis's clock standing still (pacing's counts). */
void sh_wait_still(SwHarness *h, ShCond cond, void *arg, const char *what);
/* Let frames in flight arrive: pump a few rounds without a condition. */
void sh_settle(SwHarness *h);
/* Wait until @q holds at least @n frames. */
void sh_wait_frames(SwHarness *h, GQueue *q, unsigned n);

/* A queue and a count (sh_wait_frames()'s, or a test's own condition). */
typedef struct ShCount {
    GQueue *q;
    unsigned n;
} ShCount;

/* The switch has taken @reports reports from @slot's blade. */
typedef struct ShReportArg {
    unsigned slot;
    uint64_t reports;
} ShReportArg;
bool sh_cond_reports(SwHarness *h, void *arg);
bool sh_cond_port_up(SwHarness *h, void *arg);
bool sh_cond_port_down(SwHarness *h, void *arg);

void sh_blade_send(SwHarness *h, unsigned slot, const uint8_t *frame,
                   size_t len);
/*
 * Raw bytes on a blade's lane, behind the lane's back: in the ring when
 * the lane runs on the shared-memory rings, else on its socket.
 */
void sh_blade_send_raw(SwHarness *h, unsigned slot, const void *buf,
                       size_t len);
void sh_uplink_send(SwHarness *h, const uint8_t *frame, size_t len);
/* The blade reports @cpu and @irq; wait until the switch has it. */
void sh_report(SwHarness *h, unsigned slot, unsigned cpu, unsigned irq);
ShFrame *sh_pop(GQueue *q);
void sh_free_frames(GQueue *q);

/* ---- the switch's state, through QMP ------------------------------------- */

/* query-blade-switch's answer; the caller unrefs it. */
QDict *sh_state(SwHarness *h);
/* Element @i of list @key of @d. */
QDict *sh_item(QDict *d, const char *key, unsigned i);
uint64_t sh_u64(QDict *d, const char *key);
/* A counter of port @port (its position: slots first, then the uplink). */
uint64_t sh_port_stat(SwHarness *h, unsigned port, const char *key);
uint64_t sh_blade_stat(SwHarness *h, unsigned slot, const char *key);
bool sh_blade_in_rotation(SwHarness *h, unsigned slot);
uint64_t sh_drops(SwHarness *h, const char *why);
/* The switch's state on the test's log, to tell why a wait failed. */
void sh_dump(SwHarness *h);
/* The switch's QEMU's resident memory, KiB (the benches' memory figures). */
long sh_rss_kib(QTestState *qts);

/* ---- QMP events ---------------------------------------------------------- */

/*
 * The switch sends a port's or a slot's first change at once, holds the
 * later ones for up to this long on the chassis clock and then sends the
 * latest (docs/switch-blade.md).
 */
#define SH_EVENT_PERIOD_NS (1000 * 1000 * 1000ll)

/*
 * The next event @name the switch has sent by now, or NULL.  A command's
 * round trip first: QMP sends events and replies in order.  Events of
 * other names before it are dropped.
 */
QDict *sh_event_sent(SwHarness *h, const char *name);
/* The data of event @ev. */
QDict *sh_event_data(QDict *ev);

/* ---- frames -------------------------------------------------------------- */

#define SH_TCP_FIN 0x01
#define SH_TCP_SYN 0x02
#define SH_TCP_RST 0x04
#define SH_TCP_ACK 0x10

size_t sh_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src,
              uint16_t type);
size_t sh_arp_request(uint8_t *f, const uint8_t *sha, const char *spa,
                      const char *tpa);
/* IPv4 + TCP (proto 6) or UDP (17) to @dst_mac; returns the length. */
size_t sh_ip_l4(uint8_t *f, const uint8_t *dst_mac, const uint8_t *src_mac,
                uint8_t proto, const char *src, uint16_t sport,
                const char *dst, uint16_t dport, uint8_t tcp_flags,
                size_t payload);
/* A TCP segment from the client to the VIP through the switch's MAC. */
size_t sh_tcp_to_vip(uint8_t *f, uint16_t sport, uint8_t flags);

#endif
