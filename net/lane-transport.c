/*
 * Backplane lane transport over a byte stream: the caller's (a QEMU
 * chardev) or a UNIX stream socket of the lane's own.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "byteorder.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fcs.h"
#include "lane-ring.h"
#include "lane-transport.h"

#define DEFAULT_TXQ        (64 * 1024)
#define CTRL_RESERVE       512      /* queue room kept for control records */
#define SIGNAL_RESERVE     64       /* ... of which kept for SIGNAL records */
#define RXBUF_SIZE         (LANE_REC_HDR + LANE_MAX_PAYLOAD + 64 * 1024)
#define READ_BUDGET        (256 * 1024)  /* per lane_handle_io() */
#define PACING_BURST_NS    20000    /* the least run-ahead of a paced lane */
#define IPG_OCTETS         12       /* minimum inter-packet gap */
#define CONFIG_SETS        4        /* /C1/ /C2/ /C1/ /C2/ per burst */
#define MAX_BURST_CGS      LANE_MAX_BURST_CGS
/* A frame and the contention form: one record, or two if too long. */
#define TX_SCRATCH_CGS     (PCS_FRAME_MAX_CGS(ETH_MAX_FRAME) + \
                            PCS_UTIL_MAX_CGS)

enum { AN_OFF, AN_ABILITY, AN_ACK, AN_LINK_OK };

/* What the gap after a frame carries of the utilization. */
typedef enum GapUtil {
    GAP_NONE,
    GAP_WHOLE,      /* the set, with its extension if it has one */
    GAP_EXT,        /* the contention extension alone */
    GAP_SET_LEFT,   /* the set whose extension went in an earlier gap */
} GapUtil;

struct Lane {
    LaneConfig cfg;
    char *path;
    const LaneOps *ops;
    void *opaque;
    LaneStats stats;

    int listen_fd;
    int fd;
    bool connected;         /* transport up (fd or lane_feed()) */
    bool hello_rx;
    bool rx_signal;         /* peer's transmitter on */
    bool rx_paused;
    uint64_t reconnect_at;

    /* transmit */
    uint8_t *txq;
    size_t txq_cap, txq_head, txq_len;
    bool tx_blocked;        /* owe the sender a tx_ready */
    bool tx_paced;          /* ... and pacing, not room, held it last */
    bool tx_full;           /* LANE_ROLE_STREAM: wait for lane_writable() */
    bool tx_enabled;
    uint64_t line_free_at;
    unsigned tx_rd;
    uint64_t prng;
    uint64_t ber_threshold;
    unsigned corrupt_next;

    /* receive */
    uint8_t *rxb;
    size_t rxb_len;
    uint64_t now;           /* of the entry point running */
    PcsRx *pcs;

    /* auto-negotiation */
    int an;
    uint16_t partner_ability;
    uint64_t an_retry_at;

    /* utilization, and its ordered set encoded from either RD */
    PcsUtil util;
    uint64_t util_next_at;
    uint16_t util_cgs[2][PCS_UTIL_MAX_CGS];
    size_t util_ncgs[2];
    bool util_cgs_ok;
    bool util_unsent;           /* lane_set_util() since the last set sent */
    /*
     * The set of a sample whose contention extension went alone in a
     * frame's gap: it goes in the next frame's gap, or on its own at
     * util_next_at, when the line falls quiet.
     */
    PcsUtil util_left;
    bool util_set_left;
    LaneUtil peer_util;
    bool peer_util_valid;

    /* shared-memory rings (see docs/link-layer.md) */
    LaneRing *ring;
    bool ring_offered;      /* offerer: the answer is still to come */
    bool ring_rx;           /* the peer's records come from the ring */
    bool ring_tx;           /* ours go into it */
    bool ring_switch;       /* ring_tx once stream_left octets are out */
    size_t stream_left;
    bool fds_to_send;       /* socket roles: the offer's fds, next send */
    bool ring_busy;         /* ring work left over: deadline now */
    bool rx_from_ring;      /* rxb holds ring octets being parsed */
    int rx_fds[LANE_RING_NFDS];
    int rx_nfds;            /* fds received for an awaited offer */
    uint64_t shm_kicks_base, shm_wakeups_base;
    uint16_t peer_caps;

    /* code-group capture (lane_capture_cgs()) */
    LaneCgCapture *cap_fn;
    void *cap_opaque;
    bool cap_tx, cap_rx;
    bool cap_gaps;          /* lane_capture_gaps() */
    /* virtual time (net/vtime.h): kept across reconnects */
    VtimeLink vt;
    bool vt_session;        /* both ends advertised it: stamps checked */
    bool vt_known;          /* the link had a session: not new any more */
    bool vt_refused;        /* the peer's capability differs: no link */
    bool rx_fcs_valid;      /* in rx_frame(): the frame's FCS ... */
    uint32_t rx_fcs;        /* ... this one */
    bool rx_stamped;        /* the record being handled carried ... */
    uint64_t rx_stamp;      /* ... this stamp */
    /*
     * Input held until the clock reaches rx_hold_at, the delivery time of
     * the stamped record at its head (VTIME_NEVER: none held); its stamp
     * was checked and taken when it was held.
     */
    uint64_t rx_hold_at;
    bool rx_hold_taken;

    /* what io_changed last reported */
    LaneFd io_fds[LANE_MAX_FDS];
    int io_nfds;
    uint64_t io_deadline;
    bool io_want_write;

    /* entry points running (callbacks may call some of them again) */
    unsigned depth;
    bool freed;                 /* lane_free() ran inside a callback */

    uint16_t cgs[TX_SCRATCH_CGS];      /* transmit scratch */
    uint16_t rx_cgs[MAX_BURST_CGS];    /* receive scratch */
};

/* What a lane calls once lane_free() ran in one of its callbacks. */
static const LaneOps no_ops;

void lane_config_init(LaneConfig *cfg, LaneRole role, const char *path)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->role = role;
    cfg->path = path;
    cfg->pcs = LANE_PCS_8B10B;
    cfg->speed_mbps = 1000;
    cfg->util_interval_ns = 100 * 1000 * 1000;
    cfg->util_form = PCS_UTIL_FORM_IDLE;
    cfg->shm = role == LANE_ROLE_CLIENT ? LANE_SHM_OFFER :
               role == LANE_ROLE_SERVER ? LANE_SHM_ACCEPT : LANE_SHM_OFF;
    cfg->data_runs = true;
}

/*
 * Field by field: this runs as every entry point leaves, once a frame or
 * more, and a memcmp() call of a variable length was 4 % of a switch's
 * time at 5 Mpps (docs/performance.md, "Issue 15's targets on a Zen 4
 * host").
 */
static bool fds_equal(const LaneFd *a, const LaneFd *b, int n)
{
    for (int i = 0; i < n; i++) {
        if (a[i].fd != b[i].fd || a[i].events != b[i].events) {
            return false;
        }
    }
    return true;
}

/* Note what the caller must watch; tell it if that changed and @notify. */
static void io_update(Lane *lane, bool notify)
{
    LaneFd fds[LANE_MAX_FDS];
    int n = lane_get_fds(lane, fds);
    uint64_t dl = lane_deadline(lane);
    bool ww = lane_want_write(lane);

    if (n != lane->io_nfds || dl != lane->io_deadline ||
        ww != lane->io_want_write || !fds_equal(fds, lane->io_fds, n)) {
        memcpy(lane->io_fds, fds, sizeof(fds));
        lane->io_nfds = n;
        lane->io_deadline = dl;
        lane->io_want_write = ww;
        if (notify && lane->ops->io_changed) {
            lane->ops->io_changed(lane->opaque);
        }
    }
}

static void io_check(Lane *lane)
{
    io_update(lane, true);
}

/* ---- the caller's clock ------------------------------------------------ */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    /* LANE_NO_DEADLINE (UINT64_MAX) stays reserved for "none" */
    const uint64_t max = LANE_NO_DEADLINE - 1;

    return a >= max || b >= max - a ? max : a + b;
}

/* How far a paced transmitter may run ahead of @now: its FIFO. */
static uint64_t pacing_ahead_ns(const Lane *lane)
{
    return lane->cfg.tx_fifo_ns > PACING_BURST_NS ? lane->cfg.tx_fifo_ns
                                                  : PACING_BURST_NS;
}

/*
 * Once pacing holds it, how far ahead it is let go again: half its FIFO
 * drained, so that a wake-up sends several frames, not one.
 */
static uint64_t pacing_resume_ns(const Lane *lane)
{
    return lane->cfg.tx_fifo_ns / 2 > PACING_BURST_NS ?
           lane->cfg.tx_fifo_ns / 2 : PACING_BURST_NS;
}

/* Line time of the largest burst a frame makes: the most pacing can owe. */
static uint64_t max_frame_line_ns(const Lane *lane)
{
    return (uint64_t)(PCS_PREAMBLE_SFD + ETH_MAX_FRAME + IPG_OCTETS) * 8000 /
           lane->cfg.speed_mbps;
}

/*
 * A wait that was due at @at, seen at lane->now, counted again from @now:
 * what was left of it, but never more than @bound, the interval it stands
 * for.
 */
static uint64_t rebase_at(const Lane *lane, uint64_t at, uint64_t now,
                          uint64_t bound)
{
    uint64_t left = at > lane->now ? at - lane->now : 0;

    return add_sat(now, left < bound ? left : bound);
}

/*
 * Move every absolute time the lane keeps from lane->now's clock to @now's:
 * pending waits keep what was left of them (bounded by their interval),
 * the peer's utilization keeps its age.
 */
static void clock_rebase(Lane *lane, uint64_t now)
{
    uint64_t age;

    lane->reconnect_at = rebase_at(lane, lane->reconnect_at, now,
                                   lane->cfg.reconnect_ns);
    lane->an_retry_at = rebase_at(lane, lane->an_retry_at, now,
                                  lane->cfg.an_retry_ns);
    lane->util_next_at = rebase_at(lane, lane->util_next_at, now,
                                   lane->cfg.util_interval_ns);
    if (lane->cfg.speed_mbps) {
        lane->line_free_at = rebase_at(lane, lane->line_free_at, now,
                                       pacing_ahead_ns(lane) +
                                       max_frame_line_ns(lane));
    } else {
        lane->line_free_at = now;
    }
    if (lane->peer_util_valid) {
        age = lane->now > lane->peer_util.rx_time_ns ?
              lane->now - lane->peer_util.rx_time_ns : 0;
        lane->peer_util.rx_time_ns = now > age ? now - age : 0;
    }
    lane->now = now;
}

/*
 * Every entry point takes the caller's time here.  The clock should not go
 * back, but a restored snapshot without lane_clock_rebase(), or a buggy
 * caller, may move it back: absolute deadlines would then stall the lane
 * for as long as the clock went back.  Rebasing bounds every wait by the
 * interval it stands for instead.
 */
static void set_now(Lane *lane, uint64_t now)
{
    if (now < lane->now) {
        clock_rebase(lane, now);
    }
    lane->now = now;
}

/*
 * Entry points that may make callbacks run between lane_enter() and
 * lane_leave().  A callback may lane_free() the lane: the lane then makes
 * no more callbacks, its loops stop, and the outermost lane_leave() frees
 * it.  Entry points that must not run inside a callback (they would
 * re-enter the receive or write path) check lane_nested() first.
 */
static void lane_enter(Lane *lane, uint64_t now)
{
    lane->depth++;
    set_now(lane, now);
}

static void lane_destroy(Lane *lane);

static void lane_leave(Lane *lane)
{
    if (!lane->freed) {
        io_check(lane);
    }
    if (--lane->depth == 0 && lane->freed) {
        lane_destroy(lane);
    }
}

static bool lane_nested(const Lane *lane)
{
    return lane->depth > 0;
}

static void emit(Lane *lane, LaneEvent ev)
{
    if (lane->ops->event) {
        lane->ops->event(lane->opaque, ev);
    }
}

/* xorshift64*: error injection only. */
static uint64_t prng_next(Lane *lane)
{
    uint64_t x = lane->prng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    lane->prng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* The wire is little endian; on such hosts bursts are copied as is. */
static inline bool host_is_le(void)
{
    const uint16_t one = 1;

    return *(const uint8_t *)&one == 1;
}

/* ---- transmit queue ---------------------------------------------------- */

static size_t txq_room(Lane *lane)
{
    return lane->txq_cap - lane->txq_len;
}

/*
 * Reserve @n contiguous bytes at the tail; caller checked txq_room.  The
 * buffer is twice the queue's capacity, so the queue is moved back to the
 * start only once its head went at least a capacity's worth, less @n,
 * along: a sender that keeps the queue full (the peer slower) would
 * otherwise move the whole queue for every record it adds, about 40 times
 * the octets it sends (docs/performance.md, "Where the time goes").
 */
static uint8_t *txq_tail(Lane *lane, size_t n)
{
    if (lane->txq_head + lane->txq_len + n > 2 * lane->txq_cap) {
        memmove(lane->txq, lane->txq + lane->txq_head, lane->txq_len);
        lane->txq_head = 0;
    }
    return lane->txq + lane->txq_head + lane->txq_len;
}

/*
 * A lane in virtual time stamps every record but these: the hello (its
 * capability says whether the rest is stamped), the rings' handshake
 * and promises (which carry their own time).
 */
static bool rec_stamped(const Lane *lane, uint8_t tag)
{
    return lane->cfg.vtime && tag != LANE_TAG_HELLO &&
           tag != LANE_TAG_RING && tag != LANE_TAG_PROMISE;
}

/* Header (and stamp) octets in front of a record's payload. */
static size_t rec_hdr_len(const Lane *lane, uint8_t tag)
{
    return LANE_REC_HDR + (rec_stamped(lane, tag) ? LANE_VTIME_LEN : 0);
}

/*
 * Virtual times on the wire are the peer's: ours plus vtime_start_ns.
 * One from the peer before our start is our 0 (saturating, so its order
 * is kept and no rule of net/vtime.h breaks); one past VTIME_LATEST
 * stays as it is, for vtime_rx_*() to refuse.
 */
static uint64_t vt_to_wire(const Lane *lane, uint64_t t)
{
    return vtime_add_sat(t, lane->cfg.vtime_start_ns);
}

static uint64_t vt_from_wire(const Lane *lane, uint64_t t)
{
    uint64_t start = lane->cfg.vtime_start_ns;

    if (t > VTIME_LATEST) {
        return t;
    }
    return t > start ? t - start : 0;
}

/*
 * Write a record's header for a payload of @len octets at @p (room for
 * rec_hdr_len() + @len checked), stamped with the lane's clock if the
 * lane stamps this tag; returns where the payload goes.
 */
static uint8_t *put_hdr(Lane *lane, uint8_t *p, uint8_t tag, size_t len)
{
    bool stamped = rec_stamped(lane, tag);

    if (stamped) {
        len += LANE_VTIME_LEN;
    }
    p[0] = tag;
    p[1] = stamped ? LANE_REC_F_VTIME : 0;
    stw_le_p(p + 2, len);
    if (!stamped) {
        return p + LANE_REC_HDR;
    }
    stq_le_p(p + LANE_REC_HDR,
             vt_to_wire(lane, vtime_tx_stamp(&lane->vt, lane->now)));
    return p + LANE_REC_HDR + LANE_VTIME_LEN;
}

/* Queue a record; control records may use the reserve, frames not. */
static bool txq_put(Lane *lane, uint8_t tag, const void *payload,
                    size_t len, bool control)
{
    /* SIGNAL is never retried: only it may take the last SIGNAL_RESERVE */
    size_t hdr = rec_hdr_len(lane, tag);
    size_t need = hdr + len +
                  (tag == LANE_TAG_SIGNAL ? 0 :
                   control ? SIGNAL_RESERVE : CTRL_RESERVE);
    uint8_t *p;

    if (!lane->connected || txq_room(lane) < need) {
        if (control) {
            lane->stats.tx_ctrl_dropped++;
        }
        return false;
    }
    p = txq_tail(lane, hdr + len);
    memcpy(put_hdr(lane, p, tag, len), payload, len);
    lane->txq_len += hdr + len;
    return true;
}

/*
 * Queue a burst of code groups from lane->cgs, applying injected errors.
 * After it the implied idle returns RD to negative at both ends.
 */
static bool txq_put_cgs(Lane *lane, size_t n, bool control)
{
    size_t len = n * 2;
    size_t hdr = rec_hdr_len(lane, LANE_TAG_CG);
    size_t need = hdr + len +
                  (control ? SIGNAL_RESERVE : CTRL_RESERVE);
    uint8_t *p;

    lane->tx_rd = PCS_RD_NEG;
    if (!lane->connected || txq_room(lane) < need) {
        if (control) {
            lane->stats.tx_ctrl_dropped++;
        }
        return false;
    }
    if (lane->corrupt_next || lane->ber_threshold) {
        for (size_t i = 0; i < n; i++) {
            bool hit = false;

            if (lane->corrupt_next) {
                lane->corrupt_next--;
                hit = true;
            } else if (lane->ber_threshold) {
                hit = prng_next(lane) < lane->ber_threshold;
            }
            if (hit) {
                lane->cgs[i] ^= 1u << (prng_next(lane) % 10);
                lane->stats.injected_cg_errors++;
            }
        }
    }
    if (lane->cap_fn && lane->cap_tx) {
        lane->cap_fn(lane->cap_opaque, false, lane->cgs, n);
    }
    p = put_hdr(lane, txq_tail(lane, hdr + len), LANE_TAG_CG, len);
    if (host_is_le()) {
        memcpy(p, lane->cgs, len);
    } else {
        for (size_t i = 0; i < n; i++) {
            stw_le_p(p + 2 * i, lane->cgs[i]);
        }
    }
    lane->txq_len += hdr + len;
    return true;
}

static void send_hello(Lane *lane)
{
    uint8_t h[12] = { 'B', 'P', 'L', 'N', LANE_VERSION, lane->cfg.pcs,
                      lane->cfg.vtime ? LANE_HELLO_CAP_VTIME : 0 };
    uint32_t s = lane->cfg.speed_mbps;

    if (lane->cfg.data_runs) {
        h[6] |= LANE_HELLO_CAP_DATA;
    }
    if (lane->cfg.vtime && !lane->vt_known) {
        h[6] |= LANE_HELLO_CAP_VTIME_NEW;
    }
    stl_le_p(h + 8, s);
    txq_put(lane, LANE_TAG_HELLO, h, sizeof(h), true);
}

static void send_signal(Lane *lane, bool on)
{
    uint8_t v = on;

    txq_put(lane, LANE_TAG_SIGNAL, &v, 1, true);
}

static void send_config(Lane *lane)
{
    uint16_t reg = lane->cfg.ability;

    if (!lane->tx_enabled) {
        return;
    }
    if (lane->an == AN_ACK || lane->an == AN_LINK_OK) {
        reg |= PCS_CFG_ACK;
    }
    lane->stats.tx_config_bursts++;
    if (lane->cfg.pcs == LANE_PCS_RAW) {
        uint8_t r[2] = { reg & 0xff, reg >> 8 };

        txq_put(lane, LANE_TAG_CONFIG, r, 2, true);
    } else {
        unsigned rd = lane->tx_rd;
        size_t n = 0;

        for (unsigned i = 0; i < CONFIG_SETS; i++) {
            n += pcs_tx_config(reg, i & 1, lane->cgs + n, &rd);
        }
        txq_put_cgs(lane, n, true);
    }
}

/* Append the utilization set to lane->cgs[n..] after a burst at *rd. */
static size_t put_util_cgs(Lane *lane, size_t n, unsigned *rd)
{
    unsigned r = *rd;

    if (!lane->util_cgs_ok) {
        for (unsigned from = 0; from < 2; from++) {
            unsigned t = from;

            lane->util_ncgs[from] = pcs_tx_util(&lane->util,
                                                lane->cfg.util_form,
                                                lane->util_cgs[from], &t);
        }
        lane->util_cgs_ok = true;
    }
    memcpy(lane->cgs + n, lane->util_cgs[r],
           lane->util_ncgs[r] * sizeof(lane->cgs[0]));
    *rd = PCS_RD_NEG;   /* both forms end at RD- */
    return n + lane->util_ncgs[r];
}

/*
 * Whether a frame sent now carries the utilization set in its gap: only
 * if the receiver would otherwise hold stale information, i.e. the sample
 * changed since the last set sent, or that set is util_interval_ns old
 * (the timer would send one now).  Otherwise the frame goes alone and the
 * timer keeps the interval.
 */
static bool util_due_after_frame(Lane *lane)
{
    return lane->cfg.util_interval_ns &&
           (lane->util_unsent || lane->now >= lane->util_next_at);
}

/*
 * What the gap after a frame sent now carries.  On a paced lane that gap
 * may be the minimum, which holds one six-set: the idle contention form
 * (two) then goes split, its extension in this gap and its set in the
 * next frame's, which carries nothing else (docs/link-layer.md, "Split
 * across two gaps").  An unpaced lane has no line time to keep.
 */
static GapUtil util_in_gap(Lane *lane)
{
    if (lane->util_set_left) {
        return GAP_SET_LEFT;
    }
    if (!util_due_after_frame(lane)) {
        return GAP_NONE;
    }
    if (lane->cfg.pcs == LANE_PCS_8B10B && lane->cfg.speed_mbps &&
        lane->cfg.util_form == PCS_UTIL_FORM_IDLE &&
        lane->util.has_contention) {
        return GAP_EXT;
    }
    return GAP_WHOLE;
}

/* The set whose extension went earlier, appended to lane->cgs[n..]. */
static size_t put_set_left_cgs(Lane *lane, size_t n, unsigned *rd)
{
    PcsUtil set = lane->util_left;

    set.has_contention = false;
    return n + pcs_tx_util(&set, PCS_UTIL_FORM_IDLE, lane->cgs + n, rd);
}

/*
 * Book a sample as sent (stand-alone or in a frame's gap): the interval
 * restarts.  A split sample counts once, when its extension goes.
 */
static void util_sent(Lane *lane)
{
    lane->util_next_at = add_sat(lane->now, lane->cfg.util_interval_ns);
    lane->util_unsent = false;
    lane->stats.tx_util_sets++;
}

/* The set left by a split sample went: the interval restarts. */
static void util_set_left_sent(Lane *lane)
{
    lane->util_set_left = false;
    lane->util_next_at = lane->now + lane->cfg.util_interval_ns;
}

static void send_util(Lane *lane)
{
    if (lane->util_set_left) {
        /* the line fell quiet before a frame could carry it */
        unsigned rd = lane->tx_rd;

        util_set_left_sent(lane);
        txq_put_cgs(lane, put_set_left_cgs(lane, 0, &rd), true);
        return;
    }
    util_sent(lane);
    if (lane->cfg.pcs == LANE_PCS_RAW) {
        /* receivers before the contention form read the first four */
        uint8_t u[8] = { lane->util.cpu_pct, lane->util.irq_pct,
                         lane->util.seq, lane->cfg.util_form,
                         lane->util.psi_permille & 0xff,
                         lane->util.psi_permille >> 8,
                         lane->util.runnable & 0xff,
                         lane->util.runnable >> 8 };

        txq_put(lane, LANE_TAG_UTIL, u,
                lane->util.has_contention ? 8 : 4, true);
    } else {
        unsigned rd = lane->tx_rd;

        txq_put_cgs(lane, put_util_cgs(lane, 0, &rd), true);
    }
}

/* ---- link state ---------------------------------------------------------- */

static void set_link(Lane *lane, bool up)
{
    bool was = lane->an == AN_LINK_OK;

    if (up == was) {
        return;
    }
    if (up) {
        lane->an = AN_LINK_OK;
        lane->stats.link_ups++;
        lane->peer_util_valid = false;
        lane->util_next_at = lane->now;
        emit(lane, LANE_EV_LINK_UP);
    } else {
        lane->an = AN_ABILITY;
        lane->stats.link_downs++;
        lane->util_set_left = false;    /* its extension is dropped too */
        if (lane->pcs) {
            pcs_rx_link_down(lane->pcs);
        }
        emit(lane, LANE_EV_LINK_DOWN);
    }
}

static void an_restart(Lane *lane)
{
    set_link(lane, false);
    lane->stats.an_restarts++;
    if (lane->vt_refused) {
        lane->an = AN_OFF;      /* no link with a peer in the other time */
        return;
    }
    lane->an = AN_ABILITY;
    lane->an_retry_at = add_sat(lane->now, lane->cfg.an_retry_ns);
    send_config(lane);
}

/*
 * Ability match on a received configuration register (clause 37,
 * reduced to: both ends saw the other's ability, then its acknowledge).
 */
static void an_rx_config(Lane *lane, uint16_t reg)
{
    bool ack = reg & PCS_CFG_ACK;

    if (!lane->tx_enabled || lane->an == AN_OFF) {
        return;
    }
    lane->partner_ability = reg & ~PCS_CFG_ACK;
    switch (lane->an) {
    case AN_ABILITY:
        lane->an = AN_ACK;
        lane->an_retry_at = add_sat(lane->now, lane->cfg.an_retry_ns);
        send_config(lane);
        if (ack) {
            set_link(lane, true);
        }
        break;
    case AN_ACK:
        if (ack) {
            set_link(lane, true);
        } else {
            send_config(lane);
        }
        break;
    case AN_LINK_OK:
        if (!ack) {
            /* The partner restarted negotiation. */
            set_link(lane, false);
            lane->stats.an_restarts++;
            lane->an = AN_ACK;
            lane->an_retry_at = add_sat(lane->now, lane->cfg.an_retry_ns);
            send_config(lane);
        }
        break;
    }
}

/* ---- receive ------------------------------------------------------------- */

static void deliver_frame(Lane *lane, const uint8_t *f, size_t len)
{
    if (lane->an != AN_LINK_OK) {
        lane->stats.rx_dropped_link_down++;
        return;
    }
    lane->stats.rx_frames++;
    lane->stats.rx_octets += len;
    if (lane->ops->rx_frame) {
        /* every caller checked the FCS that follows the frame */
        lane->rx_fcs = ldl_le_p(f + len);
        lane->rx_fcs_valid = true;
        lane->ops->rx_frame(lane->opaque, f, len);
        if (!lane->freed) {
            lane->rx_fcs_valid = false;
        }
    }
}

static void deliver_util(Lane *lane, const PcsUtil *u, PcsUtilForm form)
{
    LaneUtil lu = {
        .cpu_pct = u->cpu_pct, .irq_pct = u->irq_pct, .seq = u->seq,
        .has_contention = u->has_contention,
        .psi_permille = u->has_contention ? u->psi_permille : 0,
        .runnable = u->has_contention ? u->runnable : 0,
        .form = form, .rx_time_ns = lane->now,
    };

    /*
     * A repeat that brings the contention figures a damaged extension hid
     * (see docs/link-layer.md) counts as new too.
     */
    lu.fresh = !lane->peer_util_valid || u->seq != lane->peer_util.seq ||
               u->has_contention != lane->peer_util.has_contention;
    lane->peer_util = lu;
    lane->peer_util_valid = true;
    lane->stats.rx_util_sets++;
    if (lane->ops->rx_util) {
        lane->ops->rx_util(lane->opaque, &lu);
    }
}

static void pcs_frame_cb(void *opaque, const uint8_t *f, size_t len)
{
    deliver_frame(opaque, f, len);
}

static void pcs_util_cb(void *opaque, const PcsUtil *u, PcsUtilForm form)
{
    deliver_util(opaque, u, form);
}

static void pcs_config_cb(void *opaque, uint16_t reg)
{
    an_rx_config(opaque, reg);
}

static void pcs_sync_cb(void *opaque, bool ok)
{
    Lane *lane = opaque;

    emit(lane, ok ? LANE_EV_SYNC_ACQUIRED : LANE_EV_SYNC_LOST);
    if (!ok && lane->an != AN_OFF) {
        an_restart(lane);
    } else if (ok && lane->an == AN_ABILITY) {
        send_config(lane);
    }
}

static const PcsRxOps lane_pcs_ops = {
    .frame = pcs_frame_cb,
    .util = pcs_util_cb,
    .config = pcs_config_cb,
    .sync = pcs_sync_cb,
};

static void disconnect(Lane *lane);

static void protocol_error(Lane *lane)
{
    bool was = lane->connected;

    lane->stats.protocol_errors++;
    disconnect(lane);
    /* the caller's channel: it must drop the peer, as a closed socket */
    if (was && lane->cfg.role == LANE_ROLE_STREAM && lane->ops->close) {
        lane->ops->close(lane->opaque);
    }
}

/* ---- virtual time -------------------------------------------------------- */

/*
 * A peer that broke the rules of virtual time (a stamp or promise that
 * goes back, a record without its stamp): it is not trusted with
 * anything more on this connection.
 */
static void vtime_cut(Lane *lane)
{
    bool was = lane->connected;

    lane->stats.vtime_cuts++;
    disconnect(lane);
    if (was && lane->cfg.role == LANE_ROLE_STREAM && lane->ops->close) {
        lane->ops->close(lane->opaque);
    }
}

/*
 * A peer new on this link (LANE_HELLO_CAP_VTIME_NEW: a blade restarted in
 * the middle of a run) never heard what this side said on it before.
 * Quiet promises either way are void (vtime_link_new_peer()); this side's
 * plain promise goes again, since our stamps stay at or above it and only
 * a later promise is ever sent (vtime_tx_promise()): without it the new
 * peer would wait for a promise that does not come.
 */
static void vtime_new_peer(Lane *lane)
{
    uint8_t v[LANE_VTIME_LEN];

    vtime_link_new_peer(&lane->vt);
    lane->stats.vtime_new_peers++;
    if (!lane->vt.tx_floor) {
        return;
    }
    stq_le_p(v, vt_to_wire(lane, lane->vt.tx_floor));
    txq_put(lane, LANE_TAG_PROMISE, v, sizeof(v), true);
}

/*
 * The peer's hello: whether this connection runs in virtual time.  Ends
 * that differ get no link (negotiation stays off at the end configured
 * for virtual time; the other one never sees its /C/): frames stamped
 * in one time and taken in the other would mix silently.
 */
static void vtime_hello(Lane *lane)
{
    bool peer = lane->peer_caps & LANE_HELLO_CAP_VTIME;

    lane->vt_session = lane->cfg.vtime && peer;
    if (lane->vt_session) {
        if ((lane->peer_caps & LANE_HELLO_CAP_VTIME_NEW) && lane->vt_known) {
            vtime_new_peer(lane);
        }
        lane->vt_known = true;
    }
    if (lane->cfg.vtime != peer) {
        lane->stats.vtime_mismatch++;
        if (lane->cfg.vtime) {
            lane->vt_refused = true;
            lane->an = AN_OFF;
        }
    }
}

/* Input waits for the clock (rx_hold()). */
static bool rx_held(const Lane *lane)
{
    return lane->rx_hold_at != VTIME_NEVER;
}

/*
 * A record due at @due, taken now: late if our clock is a step or more
 * past it (vtime_tick_ns).
 */
static bool rx_late(const Lane *lane, uint64_t due)
{
    uint64_t tick = lane->cfg.vtime_tick_ns ? lane->cfg.vtime_tick_ns : 1;

    return lane->now > due && lane->now - due >= tick;
}

/*
 * Before a record is handled: its stamp, if it has one, is checked and
 * taken (false: the peer was cut, drop the record).  In a virtual-time
 * connection every record the peer stamps must carry one.
 */
static bool rx_stamp_check(Lane *lane, uint8_t tag, bool stamped,
                           uint64_t stamp)
{
    lane->rx_stamped = false;
    if (!lane->vt_session) {
        if (stamped) {
            lane->stats.vtime_ignored++;
        }
        return true;
    }
    if (!stamped) {
        switch (tag) {
        case LANE_TAG_CG:
        case LANE_TAG_DATA:
        case LANE_TAG_FRAME:
        case LANE_TAG_UTIL:
        case LANE_TAG_CONFIG:
        case LANE_TAG_SIGNAL:
            lane->stats.vtime_unstamped++;
            vtime_cut(lane);
            return false;
        default:
            return true;
        }
    }
    if (lane->rx_hold_taken) {
        lane->rx_hold_taken = false;    /* taken when it was held */
    } else if (vtime_rx_stamp(&lane->vt, stamp) != VTIME_OK) {
        vtime_cut(lane);
        return false;
    } else if (rx_late(lane, vtime_deliver_at(&lane->vt, stamp))) {
        lane->stats.vtime_late++;
    }
    lane->rx_stamped = true;
    lane->rx_stamp = stamp;
    return true;
}

/*
 * PROMISE: T u64, then optionally W u64 and READ u64 (a quiet promise,
 * net/vtime.h); octets after them are left for later versions.
 */
static void rx_promise(Lane *lane, const uint8_t *p, size_t len)
{
    uint64_t t;

    if (len < LANE_VTIME_LEN) {
        lane->stats.bad_records++;
        return;
    }
    if (!lane->vt_session) {
        lane->stats.vtime_ignored++;
        return;
    }
    t = vt_from_wire(lane, ldq_le_p(p));
    if (vtime_rx_promise(&lane->vt, t) != VTIME_OK) {
        vtime_cut(lane);
        return;
    }
    if (len >= LANE_PROMISE_QUIET_LEN) {
        vtime_rx_quiet(&lane->vt, t,
                       vt_from_wire(lane, ldq_le_p(p + LANE_VTIME_LEN)),
                       ldq_le_p(p + 2 * LANE_VTIME_LEN));
    }
    if (lane->ops->rx_promise) {
        lane->ops->rx_promise(lane->opaque, t);
    }
}

/* ---- shared-memory rings ------------------------------------------------- */

static void rx_process_buffer(Lane *lane);
static void do_write(Lane *lane);

static void close_rx_fds(Lane *lane)
{
    for (int i = 0; i < lane->rx_nfds; i++) {
        close(lane->rx_fds[i]);
    }
    lane->stats.unasked_fds += lane->rx_nfds;
    lane->rx_nfds = 0;
}

/* Back to the stream: the rings, their fds and any fds received go. */
static void ring_reset(Lane *lane)
{
    if (lane->ring) {
        const LaneRingStats *rs = lane_ring_stats(lane->ring);

        lane->shm_kicks_base += rs->kicks;
        lane->shm_wakeups_base += rs->wakeups;
        lane_ring_free(lane->ring);
        lane->ring = NULL;
    }
    lane->ring_offered = lane->ring_rx = lane->ring_tx = false;
    lane->ring_switch = lane->fds_to_send = lane->ring_busy = false;
    lane->stream_left = 0;
    close_rx_fds(lane);
}

/* Fds received: kept only by an accepting end awaiting an offer. */
static void take_fds(Lane *lane, const int *fds, int n)
{
    if (n <= 0) {
        return;
    }
    if (!lane->connected || lane->cfg.shm != LANE_SHM_ACCEPT ||
        lane->ring || lane->rx_nfds || n != LANE_RING_NFDS) {
        for (int i = 0; i < n; i++) {
            close(fds[i]);
        }
        lane->stats.unasked_fds += n;
        return;
    }
    memcpy(lane->rx_fds, fds, n * sizeof(fds[0]));
    lane->rx_nfds = n;
}

static bool send_ring(Lane *lane, uint8_t op, uint32_t v)
{
    uint8_t r[LANE_RING_REC_LEN] = {
        op, 0, 0, 0, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24
    };

    return txq_put(lane, LANE_TAG_RING, r, sizeof(r), true);
}

/* What is queued now goes on the stream; everything after, in the ring. */
static void ring_switch_after_queue(Lane *lane)
{
    lane->ring_switch = true;
    lane->stream_left = lane->txq_len;
}

/*
 * The rings broke: corrupted (counted in shm_errors), or hung up, the
 * peer's wake-up end closed (shm_hangups; a peer that exits does this,
 * and its stream closes too).  Either way the connection ends.
 */
static void ring_error(Lane *lane)
{
    bool was = lane->connected;

    if (lane->ring && lane_ring_is_hung_up(lane->ring)) {
        lane->stats.shm_hangups++;
    } else {
        lane->stats.shm_errors++;
    }
    disconnect(lane);
    if (was && lane->cfg.role == LANE_ROLE_STREAM && lane->ops->close) {
        lane->ops->close(lane->opaque);
    }
}

/* After the hello: the offering end makes the rings and offers them. */
static void ring_offer(Lane *lane)
{
    int fds[LANE_RING_NFDS];
    int err;

    if (lane->cfg.shm != LANE_SHM_OFFER ||
        (lane->cfg.role == LANE_ROLE_STREAM && !lane->ops->send_fds)) {
        return;
    }
    lane->ring = lane_ring_create(lane->cfg.shm_ring_size, &err);
    if (!lane->ring) {
        return;     /* the stream it is */
    }
    lane_ring_peer_fds(lane->ring, fds);
    if (lane->cfg.role == LANE_ROLE_STREAM) {
        if (lane->ops->send_fds(lane->opaque, fds, LANE_RING_NFDS) < 0) {
            ring_reset(lane);   /* e.g. a TCP chardev */
            return;
        }
    } else {
        lane->fds_to_send = true;
    }
    if (!send_ring(lane, LANE_RING_OP_OFFER, LANE_RING_VERSION)) {
        ring_reset(lane);
        return;
    }
    lane->ring_offered = true;
    lane->stats.shm_offers++;
}

/* The accepting end: attach, or refuse (the offerer stays on the stream). */
static void rx_offer(Lane *lane, uint32_t version)
{
    LaneRing *r = NULL;
    int err = 0;

    if (lane->ring || lane->ring_offered) {
        err = EALREADY;
    } else if (lane->cfg.shm != LANE_SHM_ACCEPT) {
        err = EOPNOTSUPP;
    } else if (version != LANE_RING_VERSION) {
        err = EPROTONOSUPPORT;
    } else if (lane->rx_nfds != LANE_RING_NFDS) {
        err = EBADF;
    } else {
        lane->rx_nfds = 0;      /* lane_ring_attach() owns them now */
        r = lane_ring_attach(lane->rx_fds, &err);
        err = -err;
    }
    if (!r) {
        close_rx_fds(lane);
        lane->stats.shm_refused++;
        send_ring(lane, LANE_RING_OP_REFUSE, err);
        return;
    }
    lane->ring = r;
    if (!send_ring(lane, LANE_RING_OP_ACCEPT, 0)) {
        ring_reset(lane);
        lane->stats.shm_refused++;
        return;
    }
    lane->stats.shm_up++;
    ring_switch_after_queue(lane);
}

static void rx_ring(Lane *lane, const uint8_t *p, size_t len)
{
    uint32_t v;

    if (len < LANE_RING_REC_LEN) {
        lane->stats.bad_records++;
        return;
    }
    v = ldl_le_p(p + 4);
    switch (p[0]) {
    case LANE_RING_OP_OFFER:
        rx_offer(lane, v);
        break;
    case LANE_RING_OP_ACCEPT:
        if (!lane->ring_offered) {
            protocol_error(lane);   /* its records would go nowhere */
            break;
        }
        lane->ring_offered = false;
        lane->ring_rx = true;
        lane->stats.shm_up++;
        lane_ring_peer_attached(lane->ring);
        if (send_ring(lane, LANE_RING_OP_SWITCH, 0)) {
            ring_switch_after_queue(lane);
        }
        break;
    case LANE_RING_OP_REFUSE:
        if (!lane->ring_offered) {
            lane->stats.bad_records++;
            break;
        }
        lane->stats.shm_refused++;
        ring_reset(lane);
        break;
    case LANE_RING_OP_SWITCH:
        if (!lane->ring || lane_ring_is_creator(lane->ring) ||
            lane->ring_rx) {
            protocol_error(lane);
            break;
        }
        lane->ring_rx = true;
        break;
    default:
        lane->stats.bad_records++;
        break;
    }
}

/* Drain the peer's ring into the parser; sleep by the ring's rule. */
static void ring_read(Lane *lane)
{
    size_t budget = READ_BUDGET;

    while (lane->ring_rx && lane->connected && !lane->rx_paused &&
           !rx_held(lane) && !lane->freed) {
        ssize_t r;
        int rc;

        if (!budget) {
            lane->ring_busy = true;     /* more next time round */
            return;
        }
        r = lane_ring_read(lane->ring, lane->rxb + lane->rxb_len,
                           RXBUF_SIZE - lane->rxb_len);
        if (r < 0) {
            ring_error(lane);
            return;
        }
        if (r == 0 && lane->rxb_len == RXBUF_SIZE) {
            /*
             * A full buffer that the parser took nothing from, with
             * nothing held: no record is that long, so the peer wrote
             * what cannot be parsed.  Reading on would spin.
             */
            ring_error(lane);
            return;
        }
        if (r == 0) {
            rc = lane_ring_rx_prepare_sleep(lane->ring);
            if (rc < 0) {
                ring_error(lane);
                return;
            }
            if (rc > 0) {
                return;         /* the peer kicks when it writes */
            }
            continue;
        }
        lane->rxb_len += r;
        budget = budget > (size_t)r ? budget - r : 0;
        lane->rx_from_ring = true;
        rx_process_buffer(lane);
        lane->rx_from_ring = false;
    }
}

/* The queued records, in one ring write per try. */
static void ring_write(Lane *lane)
{
    for (int i = 0; i < 4; i++) {
        ssize_t w = lane_ring_write(lane->ring, lane->txq + lane->txq_head,
                                    lane->txq_len);
        size_t need;
        int rc;

        if (w < 0) {
            ring_error(lane);
            return;
        }
        lane->txq_head += w;
        lane->txq_len -= w;
        if (!lane->txq_len) {
            return;
        }
        /* full: wait for room for the rest (at most any ring's size) */
        need = lane->txq_len < LANE_RING_MIN_SIZE ? lane->txq_len :
               LANE_RING_MIN_SIZE;
        rc = lane_ring_tx_prepare_sleep(lane->ring, need);
        if (rc < 0) {
            ring_error(lane);
            return;
        }
        if (rc > 0) {
            lane->tx_full = true;       /* until the peer kicks */
            return;
        }
    }
    lane->ring_busy = true;
}

/* The rings' wake-up socket polled readable, or work was left over. */
static void ring_service(Lane *lane)
{
    if (!lane->ring || !lane->connected) {
        return;
    }
    lane->ring_busy = false;
    lane_ring_handle_wakeup(lane->ring);
    if (lane_ring_is_broken(lane->ring)) {
        ring_error(lane);       /* hung up: else it would poll ready again */
        return;
    }
    if (lane->ring_rx) {
        ring_read(lane);
    }
    if (lane->ring_tx && !lane->freed) {
        lane->tx_full = false;
        do_write(lane);
    }
}

static void rx_raw_frame(Lane *lane, const uint8_t *p, size_t len)
{
    PcsRxCounters *c = &lane->pcs->cnt;

    if (len < ETH_MIN_FRAME) {
        c->runts++;
    } else if (len > ETH_MAX_FRAME) {
        c->oversize++;
    } else if (!eth_fcs_ok(p, len)) {
        c->fcs_errors++;
    } else {
        c->frames++;
        deliver_frame(lane, p, len - ETH_FCS_LEN);
    }
}

/*
 * cpu, irq, seq, form; from 8 octets on also pressure and runnable (u16
 * each).  Octets after those are left for later versions.
 */
static void rx_raw_util(Lane *lane, const uint8_t *p, size_t len)
{
    PcsUtil u = { 0 };

    if (len < 4 || p[0] > 100 || p[1] > 100 || p[3] > 1) {
        lane->pcs->cnt.util_errors++;
        return;
    }
    u.cpu_pct = p[0];
    u.irq_pct = p[1];
    u.seq = p[2];
    if (len >= 8) {
        u.has_contention = true;
        u.psi_permille = lduw_le_p(p + 4);
        u.runnable = lduw_le_p(p + 6);
        if (u.psi_permille > PCS_UTIL_MAX_PSI ||
            u.runnable > PCS_UTIL_MAX_RUNNABLE) {
            lane->pcs->cnt.util_errors++;
            return;
        }
    }
    lane->pcs->cnt.util_sets++;
    deliver_util(lane, &u, p[3]);
}

static void rx_cgs(Lane *lane, const uint8_t *p, size_t len)
{
    size_t n = len / 2;

    if (host_is_le()) {
        memcpy(lane->rx_cgs, p, n * 2);
    } else {
        for (size_t i = 0; i < n; i++) {
            lane->rx_cgs[i] = lduw_le_p(p + 2 * i);
        }
    }
    if (lane->cap_fn && lane->cap_rx) {
        lane->cap_fn(lane->cap_opaque, true, lane->rx_cgs, n);
    }
    pcs_rx_input(lane->pcs, lane->rx_cgs, n);
}

/*
 * A data run (LANE_TAG_DATA): taken without its code groups when the
 * receiver says that gives what they would (pcs_rx_frame_octets()) and
 * nobody captures them; else its code groups are materialised, from the
 * RD it carries, and received as a CG record's.  The tail's code groups
 * are received as such either way.
 */
static void rx_data(Lane *lane, const uint8_t *p, size_t len)
{
    bool cap = lane->cap_fn && lane->cap_rx;
    const uint8_t *octets = p + LANE_DATA_HDR;
    const uint8_t *t;
    size_t tail, n, burst = 0;

    if (len < LANE_DATA_HDR || p[0] > PCS_RD_POS ||
        len < LANE_DATA_HDR + 2 * (size_t)p[1]) {
        lane->stats.bad_records++;
        return;
    }
    tail = p[1];
    n = len - LANE_DATA_HDR - 2 * tail;
    if (n < ETH_MIN_FRAME || n > ETH_MAX_FRAME ||
        PCS_FRAME_OCTETS_CGS(n) + tail > MAX_BURST_CGS) {
        lane->stats.bad_records++;
        return;
    }
    if (!cap && pcs_rx_frame_octets(lane->pcs, p[0], octets, n)) {
        lane->stats.rx_data_runs++;
    } else {
        unsigned rd = p[0];

        burst = pcs_tx_frame_octets(octets, n, lane->rx_cgs, &rd);
        lane->stats.rx_data_materialised++;
    }
    t = octets + n;
    for (size_t i = 0; i < tail; i++) {
        lane->rx_cgs[burst + i] = lduw_le_p(t + 2 * i);
    }
    if (!burst && !tail) {
        return;
    }
    if (cap) {
        lane->cap_fn(lane->cap_opaque, true, lane->rx_cgs, burst + tail);
    }
    pcs_rx_input(lane->pcs, lane->rx_cgs, burst + tail);
}

/* The implied idle: to the receiver, and to a capture that asked. */
static void rx_gap(Lane *lane)
{
    if (lane->cap_fn && lane->cap_rx && lane->cap_gaps) {
        lane->cap_fn(lane->cap_opaque, true, NULL, 0);
    }
    pcs_rx_gap(lane->pcs);
}

/* One complete record; the idle gap follows it. */
static void rx_record(Lane *lane, uint8_t tag, const uint8_t *p, size_t len)
{
    if (!lane->hello_rx) {
        if (tag != LANE_TAG_HELLO || len < 12 || memcmp(p, "BPLN", 4) ||
            p[4] != LANE_VERSION) {
            protocol_error(lane);
            return;
        }
        lane->hello_rx = true;
        lane->peer_caps = lduw_le_p(p + 6);
        vtime_hello(lane);
        lane->rx_signal = true;
        rx_gap(lane);
        return;
    }
    if (tag == LANE_TAG_RING) {
        rx_ring(lane, p, len);
        return;
    }
    if (tag == LANE_TAG_PROMISE) {
        rx_promise(lane, p, len);
        return;
    }
    if (tag == LANE_TAG_SIGNAL) {
        if (len < 1) {
            lane->stats.bad_records++;
        } else if (!p[0]) {
            lane->rx_signal = false;
            pcs_rx_signal_lost(lane->pcs);
        } else if (!lane->rx_signal) {
            lane->rx_signal = true;
            rx_gap(lane);
        }
        return;
    }
    if (!lane->rx_signal) {
        lane->stats.rx_no_signal++;
        return;
    }
    switch (tag) {
    case LANE_TAG_CG:
        if (len == 0 || len % 2 || len / 2 > MAX_BURST_CGS) {
            lane->stats.bad_records++;
            return;
        }
        rx_cgs(lane, p, len);
        break;
    case LANE_TAG_DATA:
        rx_data(lane, p, len);
        break;
    case LANE_TAG_FRAME:
        rx_raw_frame(lane, p, len);
        break;
    case LANE_TAG_UTIL:
        rx_raw_util(lane, p, len);
        break;
    case LANE_TAG_CONFIG:
        if (len < 2) {
            lane->stats.bad_records++;
            return;
        }
        lane->pcs->cnt.config_sets++;
        an_rx_config(lane, lduw_le_p(p));
        break;
    default:
        lane->stats.bad_records++;   /* HELLO again, or unknown */
        return;
    }
    if (lane->connected) {
        rx_gap(lane);
    }
}

/*
 * In a virtual-time connection a stamped record takes effect at its
 * stamp plus the latency: until the clock gets there, it and everything
 * after it wait (true).  Its stamp is checked and taken now, so that the
 * horizon covers it; a bad one cuts the peer (true as well: stop).
 */
static bool rx_hold(Lane *lane, const uint8_t *h, size_t plen)
{
    uint64_t stamp, due;

    if (!lane->vt_session || !(h[1] & LANE_REC_F_VTIME) ||
        plen < LANE_VTIME_LEN || lane->rx_hold_taken) {
        return false;
    }
    stamp = vt_from_wire(lane, ldq_le_p(h + LANE_REC_HDR));
    due = vtime_deliver_at(&lane->vt, stamp);
    if (due <= lane->now) {
        return false;
    }
    if (vtime_rx_stamp(&lane->vt, stamp) != VTIME_OK) {
        vtime_cut(lane);
        return true;
    }
    lane->rx_hold_taken = true;
    lane->rx_hold_at = due;
    lane->stats.vtime_held++;
    return true;
}

/* Parse complete records from @buf; returns the bytes consumed. */
static size_t rx_parse(Lane *lane, const uint8_t *buf, size_t len)
{
    size_t off = 0;

    while (lane->connected && !lane->rx_paused && !rx_held(lane) &&
           !lane->freed && len - off >= LANE_REC_HDR) {
        const uint8_t *h = buf + off;
        size_t plen = lduw_le_p(h + 2);
        bool was_ring;

        if (plen > LANE_MAX_PAYLOAD) {
            protocol_error(lane);
            break;
        }
        if (len - off < LANE_REC_HDR + plen) {
            break;
        }
        if ((h[0] == LANE_TAG_CG || h[0] == LANE_TAG_FRAME ||
             h[0] == LANE_TAG_DATA) &&
            lane->ops->can_receive && lane->an == AN_LINK_OK &&
            !lane->ops->can_receive(lane->opaque)) {
            lane->rx_paused = true;
            break;
        }
        if (rx_hold(lane, h, plen)) {
            break;
        }
        off += LANE_REC_HDR + plen;
        was_ring = lane->ring_rx;
        if (!(h[1] & LANE_REC_F_VTIME)) {
            if (rx_stamp_check(lane, h[0], false, 0)) {
                rx_record(lane, h[0], h + LANE_REC_HDR, plen);
            }
        } else if (plen < LANE_VTIME_LEN) {
            lane->stats.bad_records++;
        } else if (rx_stamp_check(lane, h[0], true,
                                  vt_from_wire(lane,
                                               ldq_le_p(h + LANE_REC_HDR)))) {
            rx_record(lane, h[0], h + LANE_REC_HDR + LANE_VTIME_LEN,
                      plen - LANE_VTIME_LEN);
        }
        if (!was_ring && lane->ring_rx && off < len && lane->connected) {
            /* nothing may follow the peer's switch on the stream */
            protocol_error(lane);
            break;
        }
    }
    return off;
}

static void rx_process_buffer(Lane *lane)
{
    size_t used = rx_parse(lane, lane->rxb, lane->rxb_len);

    if (!lane->connected) {
        lane->rxb_len = 0;
        return;
    }
    memmove(lane->rxb, lane->rxb + used, lane->rxb_len - used);
    lane->rxb_len -= used;
    if (lane->ring_rx && !lane->rx_from_ring && !lane->freed) {
        /* the ring after the buffer (the peer switched, or a resume) */
        ring_read(lane);
    }
}

/* ---- connection ---------------------------------------------------------- */

/* A fresh receiver, keeping the counters. */
static void pcs_reset(Lane *lane)
{
    PcsRxCounters cnt = lane->pcs->cnt;

    pcs_rx_init(lane->pcs, &lane_pcs_ops, lane);
    lane->pcs->cnt = cnt;
}

static void on_connect(Lane *lane)
{
    lane->connected = true;
    lane->tx_full = false;
    lane->hello_rx = false;
    lane->vt_session = lane->vt_refused = false;
    lane->rx_stamped = false;
    lane->rx_hold_at = VTIME_NEVER;
    lane->rx_hold_taken = false;
    lane->rx_signal = false;
    lane->rx_paused = false;
    lane->rxb_len = 0;
    lane->txq_head = lane->txq_len = 0;
    vtime_link_connected(&lane->vt);
    lane->tx_rd = PCS_RD_NEG;
    lane->line_free_at = lane->now;
    pcs_reset(lane);
    lane->stats.connects++;
    emit(lane, LANE_EV_CONNECTED);
    send_hello(lane);
    ring_offer(lane);
    if (!lane->tx_enabled) {
        send_signal(lane, false);
        lane->an = AN_OFF;
        return;
    }
    /* /C/ bursts start when the peer's hello brings sync. */
    lane->an = AN_ABILITY;
    lane->an_retry_at = add_sat(lane->now, lane->cfg.an_retry_ns);
}

static void disconnect(Lane *lane)
{
    bool sync = lane->pcs && pcs_rx_sync_ok(lane->pcs);

    if (!lane->connected) {
        return;
    }
    if (lane->fd >= 0) {
        close(lane->fd);
        lane->fd = -1;
    }
    lane->connected = false;
    lane->tx_full = false;
    ring_reset(lane);
    lane->stats.disconnects++;
    lane->stats.tx_dropped_disconnect += lane->txq_len;
    lane->txq_len = 0;
    lane->rxb_len = 0;
    lane->rx_hold_at = VTIME_NEVER;
    lane->rx_hold_taken = false;
    set_link(lane, false);
    lane->an = AN_OFF;
    if (sync) {
        emit(lane, LANE_EV_SYNC_LOST);
    }
    pcs_reset(lane);
    emit(lane, LANE_EV_DISCONNECTED);
    if (lane->cfg.role == LANE_ROLE_CLIENT) {
        lane->reconnect_at = add_sat(lane->now, lane->cfg.reconnect_ns);
    }
    if (lane->tx_blocked) {
        lane->tx_blocked = false;
        if (lane->ops->tx_ready) {
            lane->ops->tx_ready(lane->opaque);
        }
    }
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return -errno;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return 0;
}

static int fill_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        return -ENAMETOOLONG;
    }
    strcpy(sa->sun_path, path);
    return 0;
}

static void try_connect(Lane *lane)
{
    struct sockaddr_un sa;
    int fd;

    lane->reconnect_at = add_sat(lane->now, lane->cfg.reconnect_ns);
    if (fill_addr(lane->path, &sa) < 0) {
        return;
    }
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return;
    }
    if (set_nonblock(fd) < 0 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        /* Chassis absent (ENOENT, ECONNREFUSED) or busy: link down. */
        lane->stats.connect_failures++;
        close(fd);
        return;
    }
    lane->fd = fd;
    on_connect(lane);
}

static void do_accept(Lane *lane)
{
    int fd = accept(lane->listen_fd, NULL, NULL);

    if (fd < 0) {
        return;
    }
    if (lane->connected || set_nonblock(fd) < 0) {
        /* One peer per slot. */
        lane->stats.rejected_peers++;
        close(fd);
        return;
    }
    lane->fd = fd;
    on_connect(lane);
}

static void maybe_tx_ready(Lane *lane)
{
    if (!lane->tx_blocked) {
        return;
    }
    if (lane->cfg.speed_mbps &&
        lane->line_free_at > add_sat(lane->now, pacing_resume_ns(lane))) {
        return;
    }
    if (txq_room(lane) < lane->txq_cap / 2) {
        lane->tx_paced = false;     /* the queue holds it now */
        return;
    }
    lane->tx_blocked = false;
    /*
     * Let go only after the line ran dry: the caller's timer came late
     * (the host ran it late), and the line sat idle with a frame waiting,
     * which a NIC whose DMA refills its FIFO by itself would not.
     */
    if (lane->tx_paced && lane->cfg.tx_fifo_ns > PACING_BURST_NS &&
        lane->line_free_at < lane->now) {
        lane->stats.tx_fifo_late++;
        lane->stats.tx_fifo_late_ns += lane->now - lane->line_free_at;
    }
    if (lane->ops->tx_ready) {
        lane->ops->tx_ready(lane->opaque);
    }
}

/* Queued octets that still go on the stream (before a switch). */
static size_t stream_quota(const Lane *lane)
{
    if (lane->ring_tx) {
        return 0;
    }
    return lane->ring_switch ? lane->stream_left : lane->txq_len;
}

static void stream_wrote(Lane *lane, size_t w)
{
    lane->txq_head += w;
    lane->txq_len -= w;
    if (lane->ring_switch) {
        lane->stream_left -= w;
        if (!lane->stream_left) {
            lane->ring_switch = false;
            lane->ring_tx = true;
        }
    }
}

/* LANE_ROLE_STREAM: hand queued octets to the caller's channel. */
static void do_write_stream(Lane *lane)
{
    size_t q;

    while (lane->connected && !lane->tx_full && !lane->freed &&
           (q = stream_quota(lane)) > 0) {
        size_t w = lane->ops->write ?
                   lane->ops->write(lane->opaque, lane->txq + lane->txq_head,
                                    q) : 0;

        if (w < q) {
            lane->tx_full = true;   /* until lane_writable() */
        }
        stream_wrote(lane, w < q ? w : q);
    }
}

/* send(), with the offer's fds on the first octets after the connect. */
static ssize_t sock_send(Lane *lane, size_t len)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * LANE_RING_NFDS)];
        struct cmsghdr align;
    } cm;
    struct iovec iov = { lane->txq + lane->txq_head, len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *c;
    ssize_t w;

    if (!lane->fds_to_send || !lane->ring) {
        return send(lane->fd, iov.iov_base, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    memset(&cm, 0, sizeof(cm));
    msg.msg_control = cm.buf;
    msg.msg_controllen = sizeof(cm.buf);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * LANE_RING_NFDS);
    lane_ring_peer_fds(lane->ring, (int *)CMSG_DATA(c));
    w = sendmsg(lane->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
        lane->fds_to_send = false;
    }
    return w;
}

static void do_write(Lane *lane)
{
    size_t q;

    if (lane->cfg.role == LANE_ROLE_STREAM) {
        do_write_stream(lane);
    }
    while (lane->fd >= 0 && (q = stream_quota(lane)) > 0) {
        ssize_t w = sock_send(lane, q);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                disconnect(lane);
            }
            break;
        }
        stream_wrote(lane, w);
    }
    if (lane->ring_tx && lane->connected && !lane->freed && !lane->tx_full &&
        lane->txq_len > 0) {
        ring_write(lane);
    }
    if (lane->txq_len == 0) {
        lane->txq_head = 0;
    }
    maybe_tx_ready(lane);
}

static void do_read(Lane *lane)
{
    size_t budget = READ_BUDGET;

    while (lane->fd >= 0 && !lane->rx_paused && !lane->freed && budget > 0 &&
           lane->rxb_len < RXBUF_SIZE) {
        union {
            char buf[CMSG_SPACE(sizeof(int) * LANE_RING_NFDS)];
            struct cmsghdr align;
        } cm;
        struct iovec iov = { lane->rxb + lane->rxb_len,
                             RXBUF_SIZE - lane->rxb_len };
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1,
            .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf),
        };
        struct cmsghdr *c;
        ssize_t r = recvmsg(lane->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

        for (c = r >= 0 ? CMSG_FIRSTHDR(&msg) : NULL; c;
             c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
                c->cmsg_len >= CMSG_LEN(0)) {
                int fds[LANE_RING_NFDS + 1];
                int n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

                /* at most LANE_RING_NFDS fit the buffer (MSG_CTRUNC) */
                n = n > LANE_RING_NFDS ? LANE_RING_NFDS : n;
                memcpy(fds, CMSG_DATA(c), n * sizeof(int));
                take_fds(lane, fds, n);
            }
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                disconnect(lane);
            }
            break;
        }
        if (r == 0) {
            disconnect(lane);
            break;
        }
        if (lane->ring_rx) {
            protocol_error(lane);   /* the stream after the peer's switch */
            break;
        }
        lane->rxb_len += r;
        budget = budget > (size_t)r ? budget - r : 0;
        rx_process_buffer(lane);
    }
}

/* ---- public entry points ------------------------------------------------- */

Lane *lane_new(const LaneConfig *cfg, const LaneOps *ops, void *opaque,
               uint64_t now, int *err)
{
    Lane *lane = calloc(1, sizeof(*lane));
    int e = -ENOMEM;

    if (!lane) {
        goto fail;
    }
    lane->cfg = *cfg;
    lane->ops = ops ? ops : &no_ops;
    lane->opaque = opaque;
    lane->fd = lane->listen_fd = -1;
    if (cfg->vtime_start_ns > VTIME_LATEST) {
        e = -EINVAL;
        goto fail;
    }
    lane->now = now;
    lane->tx_enabled = true;
    lane->io_deadline = LANE_NO_DEADLINE;
    lane->prng = 0x9E3779B97F4A7C15ULL;
    vtime_link_init(&lane->vt, cfg->vtime_latency_ns);
    lane->rx_hold_at = VTIME_NEVER;
    if (!lane->cfg.reconnect_ns) {
        lane->cfg.reconnect_ns = 100 * 1000 * 1000;
    }
    if (!lane->cfg.an_retry_ns) {
        lane->cfg.an_retry_ns = 10 * 1000 * 1000;
    }
    if (!lane->cfg.ability) {
        lane->cfg.ability = PCS_CFG_FD | PCS_CFG_PS1;
    }
    lane->cfg.ability &= ~PCS_CFG_ACK;
    lane->txq_cap = cfg->tx_queue_bytes ? cfg->tx_queue_bytes : DEFAULT_TXQ;
    if (lane->txq_cap < 2 * (LANE_REC_HDR + LANE_VTIME_LEN +
                             2 * MAX_BURST_CGS) + CTRL_RESERVE) {
        /* At least two of the largest (stamped) bursts must fit. */
        lane->txq_cap = 2 * (LANE_REC_HDR + LANE_VTIME_LEN +
                             2 * MAX_BURST_CGS) + CTRL_RESERVE;
    }
    lane->txq = malloc(2 * lane->txq_cap);     /* see txq_tail() */
    lane->rxb = malloc(RXBUF_SIZE);
    lane->pcs = calloc(1, sizeof(*lane->pcs));
    lane->path = cfg->path ? strdup(cfg->path) : NULL;
    if (!lane->txq || !lane->rxb || !lane->pcs ||
        (cfg->path && !lane->path)) {
        goto fail;
    }
    lane->cfg.path = lane->path;
    pcs_rx_init(lane->pcs, &lane_pcs_ops, lane);

    if (cfg->role == LANE_ROLE_SERVER) {
        struct sockaddr_un sa;

        e = cfg->path ? fill_addr(cfg->path, &sa) : -EINVAL;
        if (e < 0) {
            goto fail;
        }
        lane->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (lane->listen_fd < 0) {
            e = -errno;
            goto fail;
        }
        unlink(cfg->path);
        if (bind(lane->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(lane->listen_fd, 2) < 0) {
            e = -errno;
            goto fail;
        }
        e = set_nonblock(lane->listen_fd);
        if (e < 0) {
            goto fail;
        }
    } else if (cfg->role == LANE_ROLE_CLIENT) {
        if (!cfg->path) {
            e = -EINVAL;
            goto fail;
        }
        try_connect(lane);
    }
    /* The caller has no lane pointer yet: it reads fds and deadline. */
    io_update(lane, false);
    return lane;

fail:
    if (err) {
        *err = e;
    }
    lane_free(lane);
    return NULL;
}

static void lane_destroy(Lane *lane)
{
    if (lane->fd >= 0) {
        close(lane->fd);
    }
    if (lane->listen_fd >= 0) {
        close(lane->listen_fd);
        if (lane->path) {
            unlink(lane->path);
        }
    }
    ring_reset(lane);
    free(lane->txq);
    free(lane->rxb);
    free(lane->pcs);
    free(lane->path);
    free(lane);
}

void lane_free(Lane *lane)
{
    if (!lane) {
        return;
    }
    if (lane_nested(lane)) {
        /* From a callback: the entry points on the stack still use it. */
        lane->freed = true;
        lane->ops = &no_ops;
        lane->opaque = NULL;
        return;
    }
    lane_destroy(lane);
}

void lane_attach_fd(Lane *lane, int fd, uint64_t now)
{
    if (lane_nested(lane)) {
        close(fd);
        return;
    }
    lane_enter(lane, now);
    disconnect(lane);
    if (lane->freed || set_nonblock(fd) < 0) {
        close(fd);
    } else {
        lane->fd = fd;
        on_connect(lane);
    }
    lane_leave(lane);
}

int lane_get_fds(Lane *lane, LaneFd fds[LANE_MAX_FDS])
{
    int n = 0;

    memset(fds, 0, LANE_MAX_FDS * sizeof(fds[0]));
    if (lane->listen_fd >= 0) {
        fds[n].fd = lane->listen_fd;
        fds[n++].events = POLLIN;
    }
    if (lane->fd >= 0) {
        fds[n].fd = lane->fd;
        fds[n].events = (lane->rx_paused ? 0 : POLLIN) |
                        (stream_quota(lane) ? POLLOUT : 0);
        n++;
    }
    if (lane->ring && (lane->ring_rx || lane->ring_tx)) {
        /*
         * POLLOUT: the wake-up socket is writable at once (nothing is
         * ever sent on it); it stands for "queued records go into the
         * ring".
         */
        fds[n].fd = lane_ring_wait_fd(lane->ring);
        fds[n++].events = POLLIN |
            (lane->ring_tx && !lane->tx_full && lane->txq_len &&
             lane->cfg.role != LANE_ROLE_STREAM ? POLLOUT : 0);
    }
    return n;
}

uint64_t lane_deadline(Lane *lane)
{
    uint64_t d = LANE_NO_DEADLINE;

    if (!lane->connected) {
        if (lane->cfg.role == LANE_ROLE_CLIENT) {
            d = lane->reconnect_at;
        }
        return d;
    }
    if (lane->ring_busy) {
        return lane->now;       /* ring work was left over: go on now */
    }
    if (rx_held(lane)) {
        d = lane->rx_hold_at;
    }
    if ((lane->an == AN_ABILITY || lane->an == AN_ACK) &&
        lane->an_retry_at < d) {
        d = lane->an_retry_at;
    }
    if (lane->an == AN_LINK_OK && lane->cfg.util_interval_ns &&
        lane->util_next_at < d) {
        d = lane->util_next_at;
    }
    /*
     * Pacing sets a deadline only while pacing is what holds the sender
     * back.  With the queue still over half full, the socket holds it and
     * writability ends the wait (maybe_tx_ready() after a write); a pacing
     * deadline then would lie in the past and fire without progress.
     */
    if (lane->tx_blocked && lane->cfg.speed_mbps &&
        txq_room(lane) >= lane->txq_cap / 2 &&
        lane->line_free_at > pacing_resume_ns(lane) &&
        lane->line_free_at - pacing_resume_ns(lane) < d) {
        d = lane->line_free_at - pacing_resume_ns(lane);
    }
    return d;
}

void lane_handle_io(Lane *lane, int fd, short revents, uint64_t now)
{
    if (lane_nested(lane)) {
        return;
    }
    lane_enter(lane, now);
    if (fd == lane->listen_fd && lane->listen_fd >= 0) {
        if (revents & POLLIN) {
            do_accept(lane);
        }
    } else if (lane->ring && fd == lane_ring_wait_fd(lane->ring)) {
        if (revents & (POLLIN | POLLHUP | POLLERR)) {
            ring_service(lane);
        }
        if (lane->ring_tx && !lane->freed && !lane->tx_full &&
            (revents & POLLOUT)) {
            do_write(lane);
        }
    } else if (fd == lane->fd && lane->fd >= 0) {
        if (revents & (POLLIN | POLLHUP | POLLERR)) {
            do_read(lane);
        }
        if (lane->fd >= 0 && !lane->freed && (revents & POLLOUT)) {
            do_write(lane);
        }
    }
    lane_leave(lane);
}

void lane_handle_timer(Lane *lane, uint64_t now)
{
    if (lane_nested(lane)) {
        return;
    }
    lane_enter(lane, now);
    if (!lane->connected) {
        if (lane->cfg.role == LANE_ROLE_CLIENT && now >= lane->reconnect_at) {
            try_connect(lane);
        }
    } else {
        if (rx_held(lane) && now >= lane->rx_hold_at) {
            if (rx_late(lane, lane->rx_hold_at)) {
                lane->stats.vtime_late++;
            }
            lane->rx_hold_at = VTIME_NEVER;
            rx_process_buffer(lane);    /* and what is left in the ring */
        }
        if (lane->ring_busy && lane->connected && !lane->freed) {
            ring_service(lane);
        }
        if (!lane->connected || lane->freed) {
            lane_leave(lane);
            return;
        }
        if ((lane->an == AN_ABILITY || lane->an == AN_ACK) &&
            now >= lane->an_retry_at) {
            lane->an_retry_at = add_sat(now, lane->cfg.an_retry_ns);
            send_config(lane);
        }
        if (lane->an == AN_LINK_OK && lane->cfg.util_interval_ns &&
            now >= lane->util_next_at) {
            send_util(lane);
        }
        maybe_tx_ready(lane);
    }
    lane_leave(lane);
}

/*
 * Whether a frame goes as a data run: the peer takes them and nothing
 * here must see its code groups (injected errors, tx capture).
 */
static bool data_run_tx(Lane *lane)
{
    return lane->cfg.data_runs && (lane->peer_caps & LANE_HELLO_CAP_DATA) &&
           !lane->corrupt_next && !lane->ber_threshold &&
           !(lane->cap_fn && lane->cap_tx);
}

/*
 * Queue @frame as a data run with what the gap carries of the
 * utilization (*gap) as its tail: the code groups the CG record would
 * carry, but the frame's as its octets.  Returns 0 or -EAGAIN (nothing
 * queued, *gap then GAP_NONE); a tail that would make the burst longer
 * than receivers take goes in a burst of its own, as lane_send_frame()
 * does it (*gap then GAP_NONE: booked by send_util()).
 */
static void put_fcs(uint8_t *p, size_t len, const uint32_t *fcs);

static int send_data_run(Lane *lane, const uint8_t *frame, size_t len,
                         size_t padded, const uint32_t *fcs, GapUtil *gap)
{
    size_t hdr = rec_hdr_len(lane, LANE_TAG_DATA);
    size_t octets = padded + ETH_FCS_LEN;
    size_t most = hdr + LANE_DATA_HDR + octets + 2 * PCS_UTIL_MAX_CGS;
    size_t tail = 0, plen;
    bool apart = false;
    uint8_t *p, *q;

    if (!lane->connected || txq_room(lane) < most + CTRL_RESERVE) {
        *gap = GAP_NONE;
        return -EAGAIN;
    }
    /* the payload first (the tail needs the frame's RD), then its header */
    p = txq_tail(lane, most);
    q = p + hdr;
    q[0] = lane->tx_rd;
    memcpy(q + LANE_DATA_HDR, frame, len);
    memset(q + LANE_DATA_HDR + len, 0, padded - len);
    put_fcs(q + LANE_DATA_HDR, padded, fcs);
    if (*gap != GAP_NONE) {
        unsigned rd = lane->tx_rd;

        pcs_tx_frame_octets_rd(q + LANE_DATA_HDR, octets, &rd);
        if (*gap == GAP_WHOLE) {
            tail = put_util_cgs(lane, 0, &rd);
        } else if (*gap == GAP_EXT) {
            tail = pcs_tx_util_ext(&lane->util, lane->cgs, &rd);
        } else {
            tail = put_set_left_cgs(lane, 0, &rd);
        }
        if (PCS_FRAME_OCTETS_CGS(octets) + tail > MAX_BURST_CGS) {
            apart = true;
            tail = 0;
        }
    }
    q[1] = tail;
    for (size_t i = 0; i < tail; i++) {
        stw_le_p(q + LANE_DATA_HDR + octets + 2 * i, lane->cgs[i]);
    }
    plen = LANE_DATA_HDR + octets + 2 * tail;
    put_hdr(lane, p, LANE_TAG_DATA, plen);
    lane->txq_len += hdr + plen;
    lane->tx_rd = PCS_RD_NEG;
    lane->stats.tx_data_runs++;
    if (apart) {
        send_util(lane);
        *gap = GAP_NONE;
    }
    return 0;
}

/* The FCS of frame[0..len) at @p, or @fcs where the caller gave it. */
static void put_fcs(uint8_t *p, size_t len, const uint32_t *fcs)
{
    if (!fcs) {
        eth_fcs_append(p, len);
        return;
    }
    stl_le_p(p + len, *fcs);
}

static int send_frame(Lane *lane, const uint8_t *frame, size_t len,
                      const uint32_t *fcs, uint64_t now)
{
    size_t padded = len < 60 ? 60 : len;
    GapUtil gap;
    bool paced;
    int ret = 0;

    if (len > ETH_MAX_FRAME - ETH_FCS_LEN) {
        lane->stats.tx_dropped_oversize++;
        return -EMSGSIZE;
    }
    if (lane->an != AN_LINK_OK) {
        lane->stats.tx_dropped_link_down++;
        return -ENOLINK;
    }
    lane_enter(lane, now);
    gap = util_in_gap(lane);
    /*
     * The line is busy for longer than the FIFO holds, or the sender is
     * held and the FIFO has not drained to half yet: pacing holds the
     * frame.
     */
    paced = lane->cfg.speed_mbps &&
            (lane->line_free_at > add_sat(now, pacing_ahead_ns(lane)) ||
             (lane->tx_blocked &&
              lane->line_free_at > add_sat(now, pacing_resume_ns(lane))));
    if (paced) {
        ret = -EAGAIN;
    } else if (lane->cfg.pcs == LANE_PCS_RAW) {
        uint8_t *p;
        size_t hdr = rec_hdr_len(lane, LANE_TAG_FRAME);
        size_t need = 2 * hdr + padded + ETH_FCS_LEN + 4 + CTRL_RESERVE;

        if (txq_room(lane) < need) {
            ret = -EAGAIN;
        } else {
            p = txq_tail(lane, hdr + padded + ETH_FCS_LEN);
            p = put_hdr(lane, p, LANE_TAG_FRAME, padded + ETH_FCS_LEN);
            memcpy(p, frame, len);
            memset(p + len, 0, padded - len);
            put_fcs(p, padded, fcs);
            lane->txq_len += hdr + padded + ETH_FCS_LEN;
            if (gap == GAP_WHOLE) {
                send_util(lane);
            }
            gap = GAP_NONE;     /* booked by send_util() */
        }
    } else if (data_run_tx(lane)) {
        ret = send_data_run(lane, frame, len, padded, fcs, &gap);
    } else {
        size_t n = pcs_tx_frame(frame, len, lane->cgs, &lane->tx_rd);
        size_t with_util = n;
        bool apart;

        if (gap == GAP_WHOLE) {
            with_util = put_util_cgs(lane, n, &lane->tx_rd);
        } else if (gap == GAP_EXT) {
            with_util = n + pcs_tx_util_ext(&lane->util, lane->cgs + n,
                                            &lane->tx_rd);
        } else if (gap == GAP_SET_LEFT) {
            with_util = put_set_left_cgs(lane, n, &lane->tx_rd);
        }
        /*
         * A jumbo frame with the whole contention form in its gap (an
         * unpaced lane) would be a record longer than receivers before
         * that form take: the set then follows in a burst of its own, in
         * the same gap.
         */
        apart = with_util > MAX_BURST_CGS;
        if (!txq_put_cgs(lane, apart ? n : with_util, false)) {
            ret = -EAGAIN;
            gap = GAP_NONE;
        } else if (apart) {
            send_util(lane);
            gap = GAP_NONE;
        }
    }
    if (ret == -EAGAIN) {
        lane->stats.tx_eagain++;
        if (!paced) {
            lane->stats.tx_queue_full++;
        }
        lane->tx_blocked = true;
        lane->tx_paced = paced;
    } else {
        lane->stats.tx_frames++;
        lane->stats.tx_octets += len;
        if (lane->cfg.speed_mbps) {
            /*
             * preamble + frame + FCS + minimum IPG, in octet times; what
             * the gap carries of the utilization rides in the IPG
             */
            uint64_t octets = PCS_PREAMBLE_SFD + padded + ETH_FCS_LEN +
                              IPG_OCTETS;
            uint64_t start = lane->line_free_at > now ? lane->line_free_at
                                                      : now;

            lane->line_free_at = add_sat(start, octets * 8000 /
                                                lane->cfg.speed_mbps);
        }
        if (gap == GAP_WHOLE) {
            util_sent(lane);
        } else if (gap == GAP_EXT) {
            /*
             * Its set goes with the next frame, or on its own once this
             * frame's gap is over and the line is quiet.
             */
            util_sent(lane);
            lane->util_left = lane->util;
            lane->util_set_left = true;
            lane->util_next_at = lane->line_free_at;
        } else if (gap == GAP_SET_LEFT) {
            util_set_left_sent(lane);
        }
    }
    lane_leave(lane);
    return ret;
}

int lane_send_frame(Lane *lane, const uint8_t *frame, size_t len,
                    uint64_t now)
{
    return send_frame(lane, frame, len, NULL, now);
}

int lane_send_frame_fcs(Lane *lane, const uint8_t *frame, size_t len,
                        uint32_t fcs, uint64_t now)
{
    return send_frame(lane, frame, len, &fcs, now);
}

void lane_flush(Lane *lane, uint64_t now)
{
    if (lane_nested(lane)) {
        return;
    }
    lane_enter(lane, now);
    do_write(lane);
    lane_leave(lane);
}

void lane_set_util(Lane *lane, unsigned cpu_pct, unsigned irq_pct,
                   uint64_t now)
{
    lane_set_util_contention(lane, cpu_pct, irq_pct, 0, 0, now);
    lane->util.has_contention = false;
}

void lane_set_util_contention(Lane *lane, unsigned cpu_pct,
                              unsigned irq_pct, unsigned psi_permille,
                              unsigned runnable, uint64_t now)
{
    set_now(lane, now);
    lane->util.cpu_pct = cpu_pct > 100 ? 100 : cpu_pct;
    lane->util.irq_pct = irq_pct > 100 ? 100 : irq_pct;
    lane->util.has_contention = true;
    lane->util.psi_permille = psi_permille > PCS_UTIL_MAX_PSI ?
                              PCS_UTIL_MAX_PSI : psi_permille;
    lane->util.runnable = runnable > PCS_UTIL_MAX_RUNNABLE ?
                          PCS_UTIL_MAX_RUNNABLE : runnable;
    lane->util.seq++;
    lane->util_cgs_ok = false;
    lane->util_unsent = true;
}

bool lane_peer_util(Lane *lane, LaneUtil *u, uint64_t *age_ns, uint64_t now)
{
    if (!lane->peer_util_valid) {
        return false;
    }
    *u = lane->peer_util;
    if (age_ns) {
        *age_ns = now >= u->rx_time_ns ? now - u->rx_time_ns : 0;
    }
    return true;
}

void lane_rx_resume(Lane *lane, uint64_t now)
{
    if (lane_nested(lane)) {
        return;
    }
    lane_enter(lane, now);
    if (lane->rx_paused) {
        lane->rx_paused = false;
        rx_process_buffer(lane);    /* and what is left in the ring */
    }
    lane_leave(lane);
}

void lane_clock_rebase(Lane *lane, uint64_t now)
{
    clock_rebase(lane, now);
    io_check(lane);
}

bool lane_vtime_active(const Lane *lane)
{
    return lane->connected && lane->vt_session;
}

uint64_t lane_vtime_horizon(const Lane *lane)
{
    return lane->cfg.vtime ? vtime_link_horizon(&lane->vt) : VTIME_NEVER;
}

const VtimeLink *lane_vtime_link(const Lane *lane)
{
    return lane->cfg.vtime ? &lane->vt : NULL;
}

bool lane_vtime_promise(Lane *lane, uint64_t t, uint64_t now)
{
    uint8_t v[LANE_VTIME_LEN];
    bool sent = false;

    lane_enter(lane, now);
    /* room first: a promise booked but not sent would stall the peer */
    if (lane_vtime_active(lane) &&
        txq_room(lane) >= LANE_REC_HDR + sizeof(v) + SIGNAL_RESERVE &&
        vtime_tx_promise(&lane->vt, t)) {
        stq_le_p(v, vt_to_wire(lane, t));
        sent = txq_put(lane, LANE_TAG_PROMISE, v, sizeof(v), true);
    }
    lane_leave(lane);
    return sent;
}

bool lane_vtime_promise_quiet(Lane *lane, uint64_t w, uint64_t now)
{
    uint8_t v[LANE_PROMISE_QUIET_LEN];
    uint64_t t;
    bool sent = false;

    lane_enter(lane, now);
    t = now > lane->vt.tx_floor ? now : lane->vt.tx_floor;
    if (lane_vtime_active(lane) &&
        txq_room(lane) >= LANE_REC_HDR + sizeof(v) + SIGNAL_RESERVE &&
        vtime_tx_quiet(&lane->vt, t, w)) {
        vtime_tx_promise(&lane->vt, t);     /* false if t was sent before */
        stq_le_p(v, vt_to_wire(lane, t));
        stq_le_p(v + LANE_VTIME_LEN, vt_to_wire(lane, w));
        stq_le_p(v + 2 * LANE_VTIME_LEN, lane->vt.rx_records);
        sent = txq_put(lane, LANE_TAG_PROMISE, v, sizeof(v), true);
    }
    lane_leave(lane);
    return sent;
}

uint64_t lane_vtime_quiet(const Lane *lane)
{
    return lane->vt.tx_quiet;
}

bool lane_rx_fcs(const Lane *lane, uint32_t *fcs)
{
    if (lane->rx_fcs_valid && fcs) {
        *fcs = lane->rx_fcs;
    }
    return lane->rx_fcs_valid;
}

bool lane_rx_stamp(const Lane *lane, uint64_t *stamp)
{
    if (lane->rx_stamped && stamp) {
        *stamp = lane->rx_stamp;
    }
    return lane->rx_stamped;
}

bool lane_is_connected(const Lane *lane)
{
    return lane->connected;
}

bool lane_is_link_up(const Lane *lane)
{
    return lane->an == AN_LINK_OK;
}

bool lane_is_sync_ok(const Lane *lane)
{
    return lane->connected && pcs_rx_sync_ok(lane->pcs);
}

const LaneStats *lane_stats(Lane *lane)
{
    lane->stats.pcs = lane->pcs->cnt;
    lane->stats.vtime = lane->vt.cnt;
    lane->stats.shm_kicks = lane->shm_kicks_base;
    lane->stats.shm_wakeups = lane->shm_wakeups_base;
    if (lane->ring) {
        lane->stats.shm_kicks += lane_ring_stats(lane->ring)->kicks;
        lane->stats.shm_wakeups += lane_ring_stats(lane->ring)->wakeups;
    }
    return &lane->stats;
}

void lane_capture_cgs(Lane *lane, LaneCgCapture *fn, void *opaque,
                      bool tx, bool rx)
{
    lane->cap_fn = fn;
    lane->cap_opaque = opaque;
    lane->cap_tx = tx;
    lane->cap_rx = rx;
}

void lane_capture_gaps(Lane *lane, bool on)
{
    lane->cap_gaps = on;
}

void lane_inject_ber(Lane *lane, double ber)
{
    /* Probability that one of a code group's ten bits is hit. */
    double p = ber * 10.0;

    if (p <= 0) {
        lane->ber_threshold = 0;
    } else if (p >= 1) {
        lane->ber_threshold = UINT64_MAX;
    } else {
        lane->ber_threshold = (uint64_t)(p * 18446744073709551616.0);
    }
}

void lane_inject_corrupt(Lane *lane, unsigned n_cgs)
{
    lane->corrupt_next = n_cgs;
}

void lane_inject_sync_loss(Lane *lane, uint64_t now)
{
    lane_enter(lane, now);
    if (lane->cfg.pcs == LANE_PCS_RAW) {
        send_signal(lane, false);
        send_signal(lane, true);
    } else {
        memset(lane->cgs, 0, 4 * sizeof(lane->cgs[0]));
        txq_put_cgs(lane, 4, true);
    }
    lane_leave(lane);
}

void lane_set_tx_enabled(Lane *lane, bool on, uint64_t now)
{
    if (on == lane->tx_enabled) {
        set_now(lane, now);
        return;
    }
    lane_enter(lane, now);
    lane->tx_enabled = on;
    if (lane->connected) {
        send_signal(lane, on);
        if (on) {
            lane->stats.an_restarts--;  /* counted by an_restart() */
            an_restart(lane);
        } else {
            set_link(lane, false);
            lane->an = AN_OFF;
        }
    }
    lane_leave(lane);
}

size_t lane_feed(Lane *lane, const uint8_t *buf, size_t len, uint64_t now)
{
    size_t taken = 0;

    if (lane_nested(lane)) {
        return 0;
    }
    lane_enter(lane, now);
    if (!lane->connected && lane->cfg.role != LANE_ROLE_STREAM) {
        on_connect(lane);
    }
    if (lane->ring_rx && len) {
        protocol_error(lane);       /* the stream after the peer's switch */
    }
    while (taken < len && lane->connected && !lane->rx_paused &&
           !lane->freed) {
        size_t n = RXBUF_SIZE - lane->rxb_len;

        n = n < len - taken ? n : len - taken;
        memcpy(lane->rxb + lane->rxb_len, buf + taken, n);
        lane->rxb_len += n;
        taken += n;
        rx_process_buffer(lane);
        if (lane->rxb_len == RXBUF_SIZE) {
            break;  /* cannot happen: a full buffer holds a record */
        }
    }
    if (!lane->connected || lane->freed) {
        taken = len;    /* the connection ended: the rest is dropped */
    }
    /* Nobody reads the queue of a fed socket lane: keep it bounded. */
    if (lane->fd < 0 && lane->cfg.role != LANE_ROLE_STREAM) {
        lane->txq_head = lane->txq_len = 0;
    }
    lane_leave(lane);
    return taken;
}

size_t lane_rx_room(const Lane *lane)
{
    if (!lane->connected || lane->rx_paused || rx_held(lane)) {
        return 0;
    }
    return RXBUF_SIZE - lane->rxb_len;
}

void lane_connected(Lane *lane, uint64_t now)
{
    if (lane_nested(lane)) {
        return;
    }
    lane_enter(lane, now);
    disconnect(lane);
    if (!lane->freed) {
        on_connect(lane);
    }
    lane_leave(lane);
}

void lane_closed(Lane *lane, uint64_t now)
{
    if (lane_nested(lane)) {
        return;
    }
    lane_enter(lane, now);
    disconnect(lane);
    lane_leave(lane);
}

void lane_writable(Lane *lane, uint64_t now)
{
    lane->tx_full = false;
    if (lane_nested(lane)) {
        /* lane_want_write() now says so: the caller flushes later */
        return;
    }
    lane_enter(lane, now);
    do_write(lane);
    lane_leave(lane);
}

bool lane_want_write(const Lane *lane)
{
    return lane->cfg.role == LANE_ROLE_STREAM && lane->connected &&
           !lane->tx_full && lane->txq_len > 0;
}

void lane_give_fds(Lane *lane, const int *fds, int n)
{
    take_fds(lane, fds, n);
}

bool lane_tx_held_for_room(const Lane *lane)
{
    return lane->tx_blocked && !lane->tx_paced;
}

bool lane_on_rings(const Lane *lane)
{
    return lane->ring_rx && lane->ring_tx;
}

struct LaneRing *lane_shm_ring(Lane *lane)
{
    return lane->ring;
}
